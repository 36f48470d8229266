/* test_characterize_stats.c - the study's arithmetic against known data: latency statistics
 * (nearest-rank percentiles, median, stddev, CV), histograms, output comparison, speedup
 * shares, and the JSON writer/reader the report and the peer drivers go through. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "characterize/characterize.h"
#include "test_util.h"

static bool near(double a, double b, double tol)
{
    return fabs(a - b) <= tol;
}

static void test_stats(void)
{
    /* 1..100 in a scrambled order: nearest rank p = the ceil(p/100*n)-th smallest */
    double s[100];
    for (int i = 0; i < 100; i++)
        s[i] = (double)((i * 37) % 100 + 1);
    lucid_stats st;
    CHECK(lucid_stats_compute(s, 100, &st) == LUCID_STATUS_OK, "stats of 1..100");
    CHECK(st.n == 100 && st.min == 1 && st.max == 100, "min %g max %g", st.min, st.max);
    CHECK(st.mean == 50.5 && st.median == 50.5, "mean %g median %g", st.mean, st.median);
    CHECK(st.p90 == 90 && st.p95 == 95 && st.p99 == 99, "p90 %g p95 %g p99 %g", st.p90, st.p95,
          st.p99);
    /* sample variance with n - 1: sum (i - 50.5)^2 / 99 = 841.666... */
    CHECK(near(st.stddev, sqrt(841.0 + 2.0 / 3.0), 1e-9), "stddev %.12g", st.stddev);
    CHECK(near(st.cv, st.stddev / 50.5, 1e-12), "cv %g", st.cv);

    /* 1..10: p90 is the 9th, p95 and p99 the 10th (ceil(9.5) = 10); even n: median 5.5 */
    double t[10] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    CHECK(lucid_stats_compute(t, 10, &st) == LUCID_STATUS_OK, "stats of 1..10");
    CHECK(st.p90 == 9 && st.p95 == 10 && st.p99 == 10 && st.median == 5.5,
          "p90 %g p95 %g p99 %g median %g", st.p90, st.p95, st.p99, st.median);

    /* odd n: the middle sample; p90 of 3 samples is the ceil(2.7) = 3rd */
    double u[3] = {3, 1, 2};
    CHECK(lucid_stats_compute(u, 3, &st) == LUCID_STATUS_OK && st.median == 2 && st.p90 == 3,
          "median %g p90 %g", st.median, st.p90);

    /* one sample: everything is it, no deviation */
    double one = 4.25;
    CHECK(lucid_stats_compute(&one, 1, &st) == LUCID_STATUS_OK && st.min == 4.25 &&
              st.p99 == 4.25 && st.stddev == 0 && st.cv == 0,
          "single sample");

    /* 200 samples, 10 of them slow: p95 must still be fast, p99 slow (the 198th) */
    double v[200];
    for (int i = 0; i < 200; i++)
        v[i] = i % 20 == 7 ? 5.0 : 1.0;
    CHECK(lucid_stats_compute(v, 200, &st) == LUCID_STATUS_OK && st.p90 == 1 && st.p95 == 1 &&
              st.p99 == 5,
          "p90 %g p95 %g p99 %g", st.p90, st.p95, st.p99);
    CHECK(lucid_stats_compute(v, 0, &st) == LUCID_STATUS_INVALID_ARGUMENT, "n = 0 refused");
}

static void test_histogram(void)
{
    double s[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -5, 50};
    int64_t h[5];
    ch_histogram(s, 12, 0, 10, 5, h);
    /* bins of width 2; -5 clamps into the first, 50 into the last */
    CHECK(h[0] == 3 && h[1] == 2 && h[2] == 2 && h[3] == 2 && h[4] == 3,
          "histogram %lld %lld %lld %lld %lld", (long long)h[0], (long long)h[1], (long long)h[2],
          (long long)h[3], (long long)h[4]);
    ch_histogram(s, 3, 1, 1, 5, h); /* a zero-width range counts everything in bin 0 */
    CHECK(h[0] == 3 && h[4] == 0, "zero-width histogram");
}

static void test_compare(void)
{
    float a[3] = {1, 2, 3}, r[3] = {1, 2, 4};
    double ma, mr, cs;
    ch_compare(a, r, 3, &ma, &mr, &cs);
    CHECK(ma == 1 && near(mr, 0.25, 1e-12), "max abs %g rel %g", ma, mr);
    CHECK(near(cs, 17.0 / (sqrt(14.0) * sqrt(21.0)), 1e-12), "cosine %.15g", cs);
    ch_compare(a, a, 3, &ma, &mr, &cs);
    CHECK(ma == 0 && mr == 0 && near(cs, 1, 1e-15), "identical outputs");
    float z[2] = {0, 0}, n[2] = {NAN, 0};
    ch_compare(z, z, 2, &ma, &mr, &cs);
    CHECK(cs == 1 && ma == 0, "zeros against zeros");
    ch_compare(n, z, 2, &ma, &mr, &cs);
    CHECK(isinf(ma), "a NaN output is an infinite error, not a silent 0 (%g)", ma);
}

static void test_share(void)
{
    /* steps 2x then 2x make 4x: each half of the (log) speedup */
    CHECK(near(ch_speedup_share(2, 4), 0.5, 1e-12), "share 2 of 4");
    CHECK(near(ch_speedup_share(0.5, 4), -0.5, 1e-12), "a slowdown has a negative share");
    CHECK(isnan(ch_speedup_share(1.5, 1.0)), "no total speedup: no share");
}

static void test_json(void)
{
    ch_buf b = {0};
    ch_puts(&b, "{");
    ch_json_str(&b, "k\"ey");
    ch_puts(&b, ":[");
    ch_json_num(&b, 1.5);
    ch_puts(&b, ",");
    ch_json_num(&b, NAN);
    ch_puts(&b, ",");
    ch_json_str(&b, "</script>\n\t\\");
    ch_puts(&b, "]}");
    CHECK(b.data && strcmp(b.data, "{\"k\\\"ey\":[1.5,null,\"\\u003c/script>\\n\\t\\\\\"]}") == 0,
          "writer: %s", b.data ? b.data : "(null)");
    ch_json *j = ch_json_parse(b.data);
    CHECK(j && j->type == CH_JOBJ, "reads back what it wrote");
    const ch_json *arr = ch_json_get(j, "k\"ey");
    CHECK(arr && arr->type == CH_JARR && arr->child && arr->child->num == 1.5 &&
              arr->child->next->type == CH_JNULL && arr->child->next->next->str &&
              strcmp(arr->child->next->next->str, "</script>\n\t\\") == 0,
          "values read back");
    ch_json_free(j);
    ch_buf_free(&b);

    j = ch_json_parse("{\"status\": \"ok\", \"latency_ms\": {\"p90\": 2.5e-3, \"n\": -4},"
                      " \"flag\": true, \"x\": NaN}");
    CHECK(j && near(ch_json_number(ch_json_get(j, "latency_ms"), "p90", 0), 0.0025, 1e-15) &&
              ch_json_number(ch_json_get(j, "latency_ms"), "n", 0) == -4 &&
              ch_json_number(j, "flag", 0) == 1 && isnan(ch_json_number(j, "x", 0)) &&
              strcmp(ch_json_string(j, "status"), "ok") == 0 && !ch_json_string(j, "nope"),
          "a driver-like document");
    ch_json_free(j);
    const char *bad[] = {"", "{", "{\"a\" 1}", "[1,]x", "{\"a\":tru}", "\"open", "[1] 2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = ch_json_parse(bad[i]);
        CHECK(!j, "malformed JSON '%s' refused", bad[i]);
        ch_json_free(j);
    }
    /* deep nesting is refused, not a stack overflow */
    char deep[400];
    memset(deep, '[', 300);
    deep[300] = '\0';
    CHECK(!ch_json_parse(deep), "deep nesting refused");

    ch_buf c = {0};
    ch_csv_str(&c, "plain");
    ch_puts(&c, ",");
    ch_csv_str(&c, "a,\"b\"");
    CHECK(c.data && strcmp(c.data, "plain,\"a,\"\"b\"\"\"") == 0, "csv: %s", c.data);
    ch_buf_free(&c);
}

int main(void)
{
    test_stats();
    test_histogram();
    test_compare();
    test_share();
    test_json();
    return test_summary();
}
