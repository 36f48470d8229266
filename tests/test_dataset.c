/* test_dataset.c - dataset readers on files the test makes (good and corrupt) and on the
 * installed Fashion-MNIST and darknet photos. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#ifdef LUCID_TEST_PNG
#include <png.h>
#endif

#include "test_util.h"
#include "lucid.h"

static char tmpdir[256];

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes a gzip IDX file: magic 0x0000080N, dims, then data (possibly fewer bytes). */
static void write_idx(const char *path, int ndims, const uint32_t *dims, const uint8_t *data,
                      size_t nbytes)
{
    gzFile f = gzopen(path, "wb");
    uint8_t hdr[16] = {0, 0, 8, (uint8_t)ndims};
    for (int i = 0; i < ndims; i++) put_be32(hdr + 4 + 4 * i, dims[i]);
    gzwrite(f, hdr, (unsigned)(4 + 4 * ndims));
    if (nbytes) gzwrite(f, data, (unsigned)nbytes);
    gzclose(f);
}

static lucid_dataset_options fashion_opts(void)
{
    lucid_dataset_options o;
    memset(&o, 0, sizeof o);
    o.channels = 1;
    o.height = 28;
    o.width = 28;
    return o;
}

static void make_fashion_dir(const char *dir, uint32_t n_images, uint32_t n_labels,
                             size_t image_bytes, uint8_t bad_label)
{
    mkdir(dir, 0755);
    char path[512];
    uint32_t idims[3] = {n_images, 28, 28}, ldims[1] = {n_labels};
    uint8_t *px = calloc((size_t)n_images * 784 + 1, 1);
    for (size_t i = 0; i < (size_t)n_images * 784; i++) px[i] = (uint8_t)(i * 7);
    uint8_t *lb = calloc(n_labels + 1, 1);
    for (uint32_t i = 0; i < n_labels; i++) lb[i] = (uint8_t)(i % 10);
    if (n_labels) lb[n_labels - 1] = bad_label ? bad_label : lb[n_labels - 1];
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    write_idx(path, 3, idims, px, image_bytes);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", dir);
    write_idx(path, 1, ldims, lb, n_labels);
    free(px);
    free(lb);
}

static void test_idx(void)
{
    char dir[512], spec[600];
    lucid_dataset_options o = fashion_opts();
    lucid_dataset_t *ds = NULL;
    lucid_error err;

    snprintf(dir, sizeof dir, "%s/good", tmpdir);
    make_fashion_dir(dir, 3, 3, 3 * 784, 0);
    snprintf(spec, sizeof spec, "fashion-mnist:test@%s", dir);
    lucid_status st = lucid_dataset_open(spec, &o, &ds, &err);
    CHECK(st == LUCID_STATUS_OK, "open good: %s", err.message);
    if (!st) {
        CHECK(lucid_dataset_size(ds) == 3 && lucid_dataset_has_labels(ds), "3 labelled images");
        float x[784];
        int64_t label;
        CHECK(lucid_dataset_load(ds, 2, x, &label, &err) == 0 && label == 2, "label of item 2");
        uint8_t p0 = (uint8_t)((2 * 784 + 5) * 7);
        float want = ((float)p0 / 255.0f - 0.2860f) / 0.3530f;
        CHECK(fabsf(x[5] - want) < 1e-6f, "pixel normalized: %f vs %f", x[5], want);
        CHECK(lucid_dataset_load(ds, 3, x, &label, &err) == LUCID_STATUS_INVALID_ARGUMENT,
              "out-of-range sample refused");
        lucid_dataset_destroy(ds);
    }

    snprintf(dir, sizeof dir, "%s/mismatch", tmpdir);
    make_fashion_dir(dir, 3, 2, 3 * 784, 0);
    snprintf(spec, sizeof spec, "fashion-mnist@%s", dir);
    st = lucid_dataset_open(spec, &o, &ds, &err);
    CHECK(st != LUCID_STATUS_OK && strstr(err.message, "2 labels for the 3 images"),
          "label count mismatch: %s", err.message);

    snprintf(dir, sizeof dir, "%s/truncated", tmpdir);
    make_fashion_dir(dir, 3, 3, 2 * 784 + 10, 0);
    snprintf(spec, sizeof spec, "fashion-mnist@%s", dir);
    st = lucid_dataset_open(spec, &o, &ds, &err);
    CHECK(st == LUCID_STATUS_INVALID_MODEL && strstr(err.message, "truncated") &&
              strstr(err.message, "t10k-images"),
          "truncated images: %s", err.message);

    snprintf(dir, sizeof dir, "%s/badlabel", tmpdir);
    make_fashion_dir(dir, 3, 3, 3 * 784, 42);
    snprintf(spec, sizeof spec, "fashion-mnist@%s", dir);
    st = lucid_dataset_open(spec, &o, &ds, &err);
    CHECK(st == LUCID_STATUS_INVALID_MODEL && strstr(err.message, "label 42"),
          "bad label: %s", err.message);

    snprintf(dir, sizeof dir, "%s/missing", tmpdir);
    snprintf(spec, sizeof spec, "fashion-mnist@%s", dir);
    st = lucid_dataset_open(spec, &o, &ds, &err);
    CHECK(st == LUCID_STATUS_IO_ERROR && strstr(err.message, "cannot open"), "missing: %s",
          err.message);

    snprintf(dir, sizeof dir, "%s/garbage", tmpdir);
    mkdir(dir, 0755);
    char path[600];
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    FILE *f = fopen(path, "wb");
    fputs("this is not gzip and not idx either, just text", f);
    fclose(f);
    snprintf(spec, sizeof spec, "fashion-mnist@%s", dir);
    st = lucid_dataset_open(spec, &o, &ds, &err);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "garbage file refused: %s", err.message);

    lucid_dataset_options wrong = fashion_opts();
    wrong.channels = 3;
    wrong.height = wrong.width = 224;
    snprintf(spec, sizeof spec, "fashion-mnist@%s/good", tmpdir);
    st = lucid_dataset_open(spec, &wrong, &ds, &err);
    CHECK(st == LUCID_STATUS_INVALID_ARGUMENT && strstr(err.message, "3x224x224"),
          "model shape mismatch: %s", err.message);
    st = lucid_dataset_open("fashion-mnist:valid", &o, &ds, &err);
    CHECK(st == LUCID_STATUS_INVALID_ARGUMENT && strstr(err.message, "valid"), "bad split: %s",
          err.message);
    st = lucid_dataset_open("imagenet:/x", &o, &ds, &err);
    CHECK(st == LUCID_STATUS_INVALID_ARGUMENT, "unknown kind: %s", err.message);
}

static void test_real_fashion(void)
{
    if (access("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", R_OK) != 0) {
        printf("SKIP real Fashion-MNIST: dataset-fashion-mnist is not installed\n");
        return;
    }
    lucid_dataset_options o = fashion_opts();
    lucid_dataset_t *ds = NULL;
    lucid_error err;
    CHECK(lucid_dataset_open("fashion-mnist:test", &o, &ds, &err) == 0, "open test: %s",
          err.message);
    if (ds) {
        CHECK(lucid_dataset_size(ds) == 10000, "10000 test images");
        /* the first test labels of Fashion-MNIST: ankle boot, pullover, trouser, trouser */
        int64_t want[4] = {9, 2, 1, 1}, label;
        float x[784];
        for (int i = 0; i < 4; i++) {
            lucid_dataset_load(ds, (size_t)i, x, &label, &err);
            CHECK(label == want[i], "test label %d is %lld", i, (long long)label);
        }
        lucid_dataset_destroy(ds);
    }
    CHECK(lucid_dataset_open("fashion-mnist:train", &o, &ds, &err) == 0, "open train: %s",
          err.message);
    if (ds) {
        CHECK(lucid_dataset_size(ds) == 60000, "60000 train images");
        int64_t label;
        float x[784];
        lucid_dataset_load(ds, 0, x, &label, &err);
        CHECK(label == 9, "first train label is 9 (ankle boot), got %lld", (long long)label);
        lucid_dataset_destroy(ds);
    }
}

#ifdef LUCID_TEST_PNG
static void write_png(const char *path, int w, int h, const uint8_t *rgb)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)w;
    img.height = (png_uint_32)h;
    img.format = PNG_FORMAT_RGB;
    png_image_write_to_file(&img, path, 0, rgb, 0, NULL);
}
#endif

static void test_images(void)
{
    lucid_dataset_options o;
    memset(&o, 0, sizeof o);
    o.channels = 3;
    o.height = o.width = 16;
    lucid_dataset_t *ds = NULL;
    lucid_error err;
    char dir[512], spec[600], path[700];
#ifdef LUCID_TEST_PNG
    /* at scale 1 the filter is the identity: the crop returns the normalized pixels */
    snprintf(dir, sizeof dir, "%s/png", tmpdir);
    mkdir(dir, 0755);
    uint8_t rgb[16 * 16 * 3];
    srand(7);
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(rand() & 0xff);
    snprintf(path, sizeof path, "%s/a.png", dir);
    write_png(path, 16, 16, rgb);
    o.crop_fraction = 1.0f;
    snprintf(spec, sizeof spec, "images:%s", dir);
    lucid_status st = lucid_dataset_open(spec, &o, &ds, &err);
    CHECK(st == 0, "open png folder: %s", err.message);
    if (!st) {
        float x[3 * 256];
        int64_t label;
        st = lucid_dataset_load(ds, 0, x, &label, &err);
        CHECK(st == 0 && label == -1, "load png: %s", err.message);
        const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
        float worst = 0;
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 256; p++) {
                float want = (rgb[p * 3 + c] / 255.0f - mean[c]) / sd[c];
                float d = fabsf(x[c * 256 + p] - want);
                if (d > worst) worst = d;
            }
        CHECK(worst < 1e-5f, "identity resize keeps pixels (worst %g)", worst);
        lucid_dataset_destroy(ds);
    }
    /* a constant image stays constant through resize and crop */
    uint8_t flat[40 * 30 * 3];
    for (size_t i = 0; i < sizeof flat; i += 3) {
        flat[i] = 200;
        flat[i + 1] = 100;
        flat[i + 2] = 50;
    }
    snprintf(path, sizeof path, "%s/b.png", dir);
    write_png(path, 40, 30, flat);
    o.crop_fraction = 0;
    st = lucid_dataset_open(spec, &o, &ds, &err);
    if (!st) {
        float x[3 * 256];
        int64_t label;
        st = lucid_dataset_load(ds, 1, x, &label, &err);
        float want = (100 / 255.0f - 0.456f) / 0.224f;
        CHECK(st == 0 && fabsf(x[256 + 77] - want) < 1e-4f, "constant image: %f vs %f",
              x[256 + 77], want);
        lucid_dataset_destroy(ds);
    }
#endif
    /* undecodable files */
    snprintf(dir, sizeof dir, "%s/bad", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/noise.jpg", dir);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 500; i++) fputc((i * 37) & 0xff, f);
    fclose(f);
    snprintf(spec, sizeof spec, "images:%s", dir);
    o.crop_fraction = 0;
    CHECK(lucid_dataset_open(spec, &o, &ds, &err) == 0, "open bad folder");
    if (ds) {
        float *x = malloc(sizeof(float) * 3 * 256);
        lucid_status st2 = lucid_dataset_load(ds, 0, x, NULL, &err);
        CHECK(st2 == LUCID_STATUS_INVALID_MODEL && strstr(err.message, "noise.jpg"),
              "undecodable image: %s", err.message);
        free(x);
        lucid_dataset_destroy(ds);
    }
    {
        /* a decompression bomb: 241 bytes of progressive arithmetic-coded JPEG announcing
         * 4372x15106 pixels (found by fuzz_images; it took 2.3 s and 630 MB) is refused
         * before any pixel is decoded */
        const char *bomb = LUCID_SOURCE_DIR "/tests/fuzz/corpus/images/regress-jpeg-bomb-66mp";
        FILE *in = fopen(bomb, "rb");
        char buf[512];
        size_t n = in ? fread(buf, 1, sizeof buf, in) : 0;
        if (in) fclose(in);
        CHECK(n == 241, "%s: %zu bytes", bomb, n);
        snprintf(dir, sizeof dir, "%s/bomb", tmpdir);
        mkdir(dir, 0755);
        snprintf(path, sizeof path, "%s/bomb.jpg", dir);
        f = fopen(path, "wb");
        fwrite(buf, 1, n, f);
        fclose(f);
        snprintf(spec, sizeof spec, "images:%s", dir);
        lucid_dataset_options ob = o;
        ob.height = ob.width = 16;
        if (lucid_dataset_open(spec, &ob, &ds, &err) == 0) {
            float x[3 * 16 * 16];
            double t0 = lucid_time_now();
            lucid_status st4 = lucid_dataset_load(ds, 0, x, NULL, &err);
            CHECK(st4 == LUCID_STATUS_INVALID_MODEL && strstr(err.message, "decompression bomb"),
                  "JPEG bomb refused: %s", err.message);
            CHECK(lucid_time_now() - t0 < 0.5, "JPEG bomb refused in %.2f s",
                  lucid_time_now() - t0);
            lucid_dataset_destroy(ds);
        }
    }
    const char *dog = "/usr/share/darknet/data/dog.jpg";
    if (access(dog, R_OK) == 0) {
        /* a truncated JPEG is refused, not padded with gray */
        FILE *in = fopen(dog, "rb");
        char *buf = malloc(20000);
        size_t n = fread(buf, 1, 20000, in);
        fclose(in);
        snprintf(dir, sizeof dir, "%s/trunc", tmpdir);
        mkdir(dir, 0755);
        snprintf(path, sizeof path, "%s/dog_cut.jpg", dir);
        f = fopen(path, "wb");
        fwrite(buf, 1, n, f);
        fclose(f);
        free(buf);
        snprintf(spec, sizeof spec, "images:%s", dir);
        o.height = o.width = 224;
        if (lucid_dataset_open(spec, &o, &ds, &err) == 0) {
            float *x = malloc(sizeof(float) * 3 * 224 * 224);
            lucid_status st3 = lucid_dataset_load(ds, 0, x, NULL, &err);
            CHECK(st3 == LUCID_STATUS_INVALID_MODEL, "truncated JPEG refused: %s", err.message);
            free(x);
            lucid_dataset_destroy(ds);
        }
        /* the real photos decode, and their normalized values stay in range */
        CHECK(lucid_dataset_open("images:/usr/share/darknet/data", &o, &ds, &err) == 0,
              "darknet photos: %s", err.message);
        if (ds) {
            CHECK(lucid_dataset_size(ds) >= 5, "at least 5 photos, got %zu",
                  lucid_dataset_size(ds));
            float *x = malloc(sizeof(float) * 3 * 224 * 224);
            lucid_status st4 = lucid_dataset_load(ds, 0, x, NULL, &err);
            float lo = 1e9f, hi = -1e9f;
            for (int i = 0; i < 3 * 224 * 224; i++) {
                if (x[i] < lo) lo = x[i];
                if (x[i] > hi) hi = x[i];
            }
            CHECK(st4 == 0 && lo >= -2.2f && hi <= 2.7f && hi - lo > 1.0f,
                  "photo normalized into ImageNet range [%f, %f]: %s", lo, hi, err.message);
            free(x);
            lucid_dataset_destroy(ds);
        }
    } else {
        printf("SKIP darknet photos: the darknet package is not installed\n");
    }
}

static void test_npy(void)
{
    char path[600], labels[600], spec[1300];
    lucid_error err;
    snprintf(path, sizeof path, "%s/stack.npy", tmpdir);
    snprintf(labels, sizeof labels, "%s/stack_labels.npy", tmpdir);
    float data[4 * 2 * 3 * 3];
    for (int i = 0; i < 72; i++) data[i] = (float)i;
    lucid_array a = {0};
    a.dtype = LUCID_DTYPE_FLOAT;
    a.rank = 4;
    a.dims[0] = 4;
    a.dims[1] = 2;
    a.dims[2] = 3;
    a.dims[3] = 3;
    a.data = data;
    a.nbytes = sizeof data;
    CHECK(lucid_array_save_npy(path, &a, &err) == 0, "save: %s", err.message);
    int64_t lab[3] = {1, 2, 3};
    lucid_array l = {0};
    l.dtype = LUCID_DTYPE_INT64;
    l.rank = 1;
    l.dims[0] = 3;
    l.data = lab;
    l.nbytes = sizeof lab;
    lucid_array_save_npy(labels, &l, &err);
    lucid_dataset_options o;
    memset(&o, 0, sizeof o);
    o.channels = 2;
    o.height = o.width = 3;
    lucid_dataset_t *ds = NULL;
    snprintf(spec, sizeof spec, "npy:%s,%s", path, labels);
    lucid_status st = lucid_dataset_open(spec, &o, &ds, &err);
    CHECK(st != 0 && strstr(err.message, "3 labels for 4 samples"), "label count: %s",
          err.message);
    snprintf(spec, sizeof spec, "npy:%s", path);
    st = lucid_dataset_open(spec, &o, &ds, &err);
    CHECK(st == 0 && lucid_dataset_size(ds) == 4 && !lucid_dataset_has_labels(ds), "stack: %s",
          err.message);
    if (ds) {
        float x[18];
        lucid_dataset_load(ds, 2, x, NULL, &err);
        CHECK(x[0] == 36.0f && x[17] == 53.0f, "sample 2 data");
        lucid_dataset_destroy(ds);
    }
    o.channels = 3;
    st = lucid_dataset_open(spec, &o, &ds, &err);
    CHECK(st == LUCID_STATUS_INVALID_ARGUMENT && strstr(err.message, "4x2x3x3"),
          "shape mismatch: %s", err.message);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lucid_test_dataset_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_idx();
    test_real_fashion();
    test_images();
    test_npy();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", tmpdir);
    return test_summary();
}
