/* test_npy.c - .npy round trips and hostile files, and lucid_stats_compute on known samples. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lucid.h"

static int failures, checks;
static char dir[64];

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        checks++;                                                                             \
        if (!(cond)) {                                                                        \
            failures++;                                                                       \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                       \
            printf(__VA_ARGS__);                                                              \
            printf("\n");                                                                     \
        }                                                                                     \
    } while (0)

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

/* ---- round trips ------------------------------------------------------------------------ */

static void round_trip(lucid_dtype dtype, int rank, const int64_t *dims)
{
    lucid_array a;
    memset(&a, 0, sizeof a);
    a.dtype = dtype;
    a.rank = rank;
    for (int i = 0; i < rank; i++) a.dims[i] = dims[i];
    int64_t n = lucid_array_numel(&a);
    a.nbytes = (size_t)n * lucid_dtype_size(dtype);
    unsigned char *data = malloc(a.nbytes + 1);
    for (size_t i = 0; i < a.nbytes; i++) data[i] = (unsigned char)(i * 37 + 11);
    if (dtype == LUCID_DTYPE_BOOL)
        for (size_t i = 0; i < a.nbytes; i++) data[i] &= 1;
    a.data = data;

    char path[128];
    path_of(path, sizeof path, "rt.npy");
    lucid_error err;
    lucid_status st = lucid_array_save_npy(path, &a, &err);
    CHECK(st == LUCID_STATUS_OK, "save %s rank %d: %s", lucid_dtype_name(dtype), rank,
          err.message);
    struct stat sb;
    CHECK(stat(path, &sb) == 0, "stat %s", path);
    /* the header (everything before the data) is a multiple of 64 bytes */
    CHECK(((size_t)sb.st_size - a.nbytes) % 64 == 0, "%s: header not padded to 64 bytes",
          lucid_dtype_name(dtype));

    lucid_array b;
    st = lucid_array_load_npy(path, &b, &err);
    CHECK(st == LUCID_STATUS_OK, "load %s rank %d: %s", lucid_dtype_name(dtype), rank,
          err.message);
    if (st == LUCID_STATUS_OK) {
        CHECK(b.dtype == dtype, "dtype %s != %s", lucid_dtype_name(b.dtype),
              lucid_dtype_name(dtype));
        CHECK(b.rank == rank, "rank %d != %d", b.rank, rank);
        for (int i = 0; i < rank && i < b.rank; i++) CHECK(b.dims[i] == dims[i], "dim %d", i);
        CHECK(b.nbytes == a.nbytes && memcmp(b.data, a.data, a.nbytes) == 0, "%s data differs",
              lucid_dtype_name(dtype));
        lucid_array_free(&b);
    }
    free(data);
}

static void test_round_trips(void)
{
    const lucid_dtype types[] = {LUCID_DTYPE_BOOL,   LUCID_DTYPE_INT8,   LUCID_DTYPE_INT16,
                                 LUCID_DTYPE_INT32,  LUCID_DTYPE_INT64,  LUCID_DTYPE_UINT8,
                                 LUCID_DTYPE_UINT16, LUCID_DTYPE_UINT32, LUCID_DTYPE_UINT64,
                                 LUCID_DTYPE_FLOAT16, LUCID_DTYPE_FLOAT, LUCID_DTYPE_DOUBLE};
    const int64_t d3[] = {2, 3, 5}, d1[] = {7}, d0[] = {0, 4}, d8[] = {1, 2, 1, 2, 1, 2, 1, 2};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        round_trip(types[i], 3, d3);
        round_trip(types[i], 1, d1);
        round_trip(types[i], 0, NULL);
        round_trip(types[i], 2, d0);
        round_trip(types[i], 8, d8);
    }
    /* bfloat16 has no NumPy dtype: saving it must be refused, not mislabeled */
    lucid_array a;
    memset(&a, 0, sizeof a);
    uint16_t v = 0;
    a.dtype = LUCID_DTYPE_BFLOAT16;
    a.rank = 0;
    a.data = &v;
    a.nbytes = 2;
    char path[128];
    path_of(path, sizeof path, "bf16.npy");
    lucid_error err;
    CHECK(lucid_array_save_npy(path, &a, &err) == LUCID_STATUS_UNSUPPORTED, "bf16 save refused");
}

/* ---- hostile files ---------------------------------------------------------------------- */

/* A v1.0 file with the given dict, padded like NumPy does, then `data_bytes` data bytes. */
static void write_npy(const char *name, int major, const char *dict, size_t data_bytes,
                      unsigned char fill)
{
    char path[128];
    path_of(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    size_t pre = major == 1 ? 10 : 12;
    size_t hl = strlen(dict) + 1;
    size_t total = (pre + hl + 63) / 64 * 64;
    hl = total - pre;
    unsigned char p[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
    for (int i = 0; i < (major == 1 ? 2 : 4); i++) p[8 + i] = (unsigned char)(hl >> (8 * i));
    fwrite(p, 1, pre, f);
    fputs(dict, f);
    for (size_t i = strlen(dict); i + 1 < hl; i++) fputc(' ', f);
    fputc('\n', f);
    for (size_t i = 0; i < data_bytes; i++) fputc(fill, f);
    fclose(f);
}

static void write_raw(const char *name, const void *bytes, size_t n)
{
    char path[128];
    path_of(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    fwrite(bytes, 1, n, f);
    fclose(f);
}

static void expect_fail(const char *name, lucid_status want, const char *needle)
{
    char path[128];
    path_of(path, sizeof path, name);
    lucid_array a;
    memset(&a, 0, sizeof a);
    lucid_error err;
    memset(&err, 0, sizeof err);
    lucid_status st = lucid_array_load_npy(path, &a, &err);
    CHECK(st != LUCID_STATUS_OK, "%s: loaded, but should fail", name);
    CHECK(want == LUCID_STATUS_OK || st == want, "%s: status '%s', want '%s' (%s)", name,
          lucid_status_string(st), lucid_status_string(want), err.message);
    CHECK(strstr(err.message, path) != NULL, "%s: message does not name the file: %s", name,
          err.message);
    CHECK(!needle || strstr(err.message, needle), "%s: message lacks '%s': %s", name, needle,
          err.message);
    CHECK(a.data == NULL, "%s: data left allocated", name);
    if (st == LUCID_STATUS_OK) lucid_array_free(&a);
}

static void test_hostile(void)
{
    write_npy("ok.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, 0);
    char path[128];
    path_of(path, sizeof path, "ok.npy");
    lucid_array a;
    lucid_error err;
    CHECK(lucid_array_load_npy(path, &a, &err) == LUCID_STATUS_OK, "ok.npy: %s", err.message);
    lucid_array_free(&a);
    write_npy("v2.npy", 2, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,)}", 24, 0);
    path_of(path, sizeof path, "v2.npy");
    CHECK(lucid_array_load_npy(path, &a, &err) == LUCID_STATUS_OK, "v2.npy: %s", err.message);
    CHECK(a.rank == 1 && a.dims[0] == 3 && a.dtype == LUCID_DTYPE_INT64, "v2.npy contents");
    lucid_array_free(&a);
    write_npy("v3.npy", 3, "{\"shape\": (), \"fortran_order\": False, \"descr\": \"|u1\"}", 1, 7);
    path_of(path, sizeof path, "v3.npy");
    CHECK(lucid_array_load_npy(path, &a, &err) == LUCID_STATUS_OK, "v3.npy: %s", err.message);
    CHECK(a.rank == 0 && a.dtype == LUCID_DTYPE_UINT8 && ((unsigned char *)a.data)[0] == 7,
          "v3.npy contents");
    lucid_array_free(&a);

    write_raw("empty.npy", "", 0);
    expect_fail("empty.npy", LUCID_STATUS_INVALID_MODEL, NULL);
    write_raw("magic.npy", "\x93NUMPZ\x01\x00\x10\x00{}", 12);
    expect_fail("magic.npy", LUCID_STATUS_INVALID_MODEL, "magic");
    write_raw("trunc_header.npy", "\x93NUMPY\x01\x00\x40\x00{'descr': '<f4'", 24);
    expect_fail("trunc_header.npy", LUCID_STATUS_INVALID_MODEL, "past the end");
    write_raw("trunc_len.npy", "\x93NUMPY\x02\x00\x40", 9);
    expect_fail("trunc_len.npy", LUCID_STATUS_INVALID_MODEL, "header length");
    write_raw("huge_len.npy", "\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14);
    expect_fail("huge_len.npy", LUCID_STATUS_INVALID_MODEL, "past the end");
    write_raw("version.npy", "\x93NUMPY\x09\x00\x02\x00{}", 12);
    expect_fail("version.npy", LUCID_STATUS_UNSUPPORTED, "version");
    write_npy("overflow.npy", 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0,
              0);
    expect_fail("overflow.npy", LUCID_STATUS_LIMIT_EXCEEDED, NULL);
    write_npy("bigdim.npy", 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
              0, 0);
    expect_fail("bigdim.npy", LUCID_STATUS_LIMIT_EXCEEDED, NULL);
    write_npy("short.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 23,
              0);
    expect_fail("short.npy", LUCID_STATUS_INVALID_MODEL, "truncated");
    write_npy("long.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 25,
              0);
    expect_fail("long.npy", LUCID_STATUS_INVALID_MODEL, "trailing");
    write_npy("fortran.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24,
              0);
    expect_fail("fortran.npy", LUCID_STATUS_UNSUPPORTED, "Fortran");
    write_npy("bigendian.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
              24, 0);
    expect_fail("bigendian.npy", LUCID_STATUS_UNSUPPORTED, "big-endian");
    write_npy("descr.npy", 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, 0);
    expect_fail("descr.npy", LUCID_STATUS_UNSUPPORTED, "<c8");
    write_npy("object.npy", 1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, 0);
    expect_fail("object.npy", LUCID_STATUS_UNSUPPORTED, NULL);
    write_npy("rank9.npy", 1,
              "{'descr': '|u1', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 1, 0);
    expect_fail("rank9.npy", LUCID_STATUS_LIMIT_EXCEEDED, "dimensions");
    write_npy("nokey.npy", 1, "{'descr': '<f4', 'shape': (2,), }", 8, 0);
    expect_fail("nokey.npy", LUCID_STATUS_INVALID_MODEL, NULL);
    write_npy("extrakey.npy", 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, 0);
    expect_fail("extrakey.npy", LUCID_STATUS_INVALID_MODEL, "unknown key");
    write_npy("dupkey.npy", 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (2,)}", 8, 0);
    expect_fail("dupkey.npy", LUCID_STATUS_INVALID_MODEL, "duplicate");
    write_npy("negdim.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8,
              0);
    expect_fail("negdim.npy", LUCID_STATUS_INVALID_MODEL, NULL);
    write_npy("garbage.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 8,
              0);
    expect_fail("garbage.npy", LUCID_STATUS_INVALID_MODEL, NULL);
    write_npy("unterminated.npy", 1, "{'descr': '<f4", 0, 0);
    expect_fail("unterminated.npy", LUCID_STATUS_INVALID_MODEL, NULL);
    write_npy("bool.npy", 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", 2, 2);
    expect_fail("bool.npy", LUCID_STATUS_INVALID_MODEL, "bool");
    expect_fail("missing.npy", LUCID_STATUS_IO_ERROR, NULL);
    expect_fail("", LUCID_STATUS_IO_ERROR, "regular file"); /* the directory itself */

    path_of(path, sizeof path, "no/such/dir/out.npy");
    float f = 1;
    lucid_array w = {.dtype = LUCID_DTYPE_FLOAT, .rank = 0, .data = &f, .nbytes = 4};
    CHECK(lucid_array_save_npy(path, &w, &err) == LUCID_STATUS_IO_ERROR, "save into a missing "
                                                                         "dir");
    w.nbytes = 8;
    path_of(path, sizeof path, "bad.npy");
    CHECK(lucid_array_save_npy(path, &w, &err) == LUCID_STATUS_INVALID_ARGUMENT,
          "save with a wrong nbytes");
}

/* ---- statistics --------------------------------------------------------------------------- */

static bool near(double a, double b)
{
    return fabs(a - b) <= 1e-9 * (1 + fabs(b));
}

static void test_stats(void)
{
    lucid_stats s;
    double one[] = {5};
    CHECK(lucid_stats_compute(one, 1, &s) == LUCID_STATUS_OK, "n=1");
    CHECK(s.n == 1 && s.min == 5 && s.max == 5 && s.mean == 5 && s.median == 5 && s.p90 == 5 &&
              s.p95 == 5 && s.p99 == 5 && s.stddev == 0 && s.cv == 0,
          "n=1 values");

    /* 1..10 shuffled: nearest rank p90 = ceil(9) = 9th, p95 = ceil(9.5) = 10th, p99 = 10th */
    double ten[] = {7, 3, 10, 1, 9, 2, 8, 5, 4, 6};
    CHECK(lucid_stats_compute(ten, 10, &s) == LUCID_STATUS_OK, "n=10");
    CHECK(s.min == 1 && s.max == 10 && near(s.mean, 5.5) && near(s.median, 5.5), "n=10 basics");
    CHECK(s.p90 == 9 && s.p95 == 10 && s.p99 == 10, "n=10 percentiles %g %g %g", s.p90, s.p95,
          s.p99);
    /* sample deviation: sum of squares 82.5 over n - 1 = 9 */
    CHECK(near(s.stddev, sqrt(82.5 / 9)), "n=10 stddev %g", s.stddev);
    CHECK(near(s.cv, sqrt(82.5 / 9) / 5.5), "n=10 cv %g", s.cv);
    CHECK(ten[0] == 7 && ten[9] == 6, "the input is not reordered");

    /* 100..1 descending: p90 = 90, p95 = 95, p99 = 99, median (50 + 51) / 2 */
    double hundred[100];
    for (int i = 0; i < 100; i++) hundred[i] = 100 - i;
    CHECK(lucid_stats_compute(hundred, 100, &s) == LUCID_STATUS_OK, "n=100");
    CHECK(s.min == 1 && s.max == 100 && near(s.mean, 50.5) && near(s.median, 50.5),
          "n=100 basics");
    CHECK(s.p90 == 90 && s.p95 == 95 && s.p99 == 99, "n=100 percentiles %g %g %g", s.p90, s.p95,
          s.p99);
    CHECK(near(s.stddev, sqrt(100.0 * 101 / 12)), "n=100 stddev %g", s.stddev);

    double odd[] = {3, 1, 2};
    CHECK(lucid_stats_compute(odd, 3, &s) == LUCID_STATUS_OK && s.median == 2 && s.p90 == 3,
          "n=3 median and p90");
    CHECK(lucid_stats_compute(one, 0, &s) == LUCID_STATUS_INVALID_ARGUMENT, "n=0 refused");

    /* the benchmark loop validates before it runs anything */
    lucid_bench_result r;
    CHECK(lucid_bench_run(NULL, NULL, NULL, 0, &r) == LUCID_STATUS_INVALID_ARGUMENT,
          "bench without a context");
    lucid_bench_options o;
    lucid_bench_options_default(&o);
    CHECK(o.warmup_ms == 200 && o.min_iterations == 10 && o.min_duration_s == 3,
          "trtexec defaults");
}

static void cleanup(void)
{
    static const char *names[] = {
        "rt.npy", "bf16.npy", "ok.npy", "v2.npy", "v3.npy", "empty.npy", "magic.npy",
        "trunc_header.npy", "trunc_len.npy", "huge_len.npy", "version.npy", "overflow.npy",
        "bigdim.npy", "short.npy", "long.npy", "fortran.npy", "bigendian.npy", "descr.npy",
        "object.npy", "rank9.npy", "nokey.npy", "extrakey.npy", "dupkey.npy", "negdim.npy",
        "garbage.npy", "unterminated.npy", "bool.npy", "bad.npy"};
    char path[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        path_of(path, sizeof path, names[i]);
        remove(path);
    }
    rmdir(dir);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/lucid_test_npy_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trips();
    test_hostile();
    test_stats();
    cleanup();
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
