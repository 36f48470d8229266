/* idx.c - Fashion-MNIST (and MNIST-format) IDX files, gzip-compressed, read with zlib. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/dataset.h"

#define IDX_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define IDX_MAX_ITEMS 10000000u

typedef struct idx_state {
    uint8_t *pixels; /* count x rows x cols */
    uint8_t *labels; /* count */
    size_t rows, cols;
    float mean, std;
} idx_state;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads exactly n bytes from a gzip stream; false on a short read or corrupt data. */
static bool gz_read_exact(gzFile f, void *dst, size_t n)
{
    uint8_t *p = dst;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(f, p, chunk);
        if (got <= 0) return false;
        p += got;
        n -= (size_t)got;
    }
    return true;
}

/* Opens an IDX file and checks its header: magic (type ubyte, ndims), dims. */
static lucid_status idx_read(const char *path, int ndims, uint32_t *dims, uint8_t **data,
                             lucid_error *err)
{
    *data = NULL;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot open: %s", path,
                            errno ? strerror(errno) : "gzopen failed");
    lucid_status st = LUCID_STATUS_OK;
    uint8_t hdr[16];
    size_t hlen = 4 + 4 * (size_t)ndims;
    if (!gz_read_exact(f, hdr, hlen)) {
        st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "%s: truncated or corrupt IDX header",
                          path);
        goto done;
    }
    if (hdr[0] != 0 || hdr[1] != 0 || hdr[2] != 0x08 || hdr[3] != ndims) {
        st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                          "%s: not an IDX file of unsigned bytes with %d dimensions (magic "
                          "%02x%02x%02x%02x)",
                          path, ndims, hdr[0], hdr[1], hdr[2], hdr[3]);
        goto done;
    }
    size_t total = 1;
    for (int i = 0; i < ndims; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        if (dims[i] == 0 || dims[i] > IDX_MAX_ITEMS || total > SIZE_MAX / dims[i]) {
            st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                              "%s: dimension %d of %u is out of range", path, i, dims[i]);
            goto done;
        }
        total *= dims[i];
    }
    if (total > (size_t)1 << 32) {
        st = lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED, "%s: %zu bytes of data is too much",
                          path, total);
        goto done;
    }
    /* The buffer grows with the data actually read (doubling from 1 MiB), so that a header
     * announcing gigabytes in a short file fails as truncated instead of allocating them
     * first (a 40-byte input once asked for 3.2 GB). */
    size_t cap = 0, got = 0;
    while (got < total) {
        if (got == cap) {
            size_t next = cap ? (cap > total / 2 ? total : cap * 2) : (size_t)1 << 20;
            if (next > total) next = total;
            uint8_t *grown = realloc(*data, next);
            if (!grown) {
                st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "%s: out of memory", path);
                break;
            }
            *data = grown;
            cap = next;
        }
        if (!gz_read_exact(f, *data + got, cap - got)) {
            st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                              "%s: truncated or corrupt: the header announces %zu bytes of data",
                              path, total);
            break;
        }
        got = cap;
    }
    if (st) {
        free(*data);
        *data = NULL;
    }
done:
    gzclose(f);
    return st;
}

static lucid_status idx_load(void *state, size_t i, float *dst, int64_t *label, lucid_error *err)
{
    (void)err;
    idx_state *s = state;
    size_t n = s->rows * s->cols;
    const uint8_t *p = s->pixels + i * n;
    for (size_t k = 0; k < n; k++) dst[k] = ((float)p[k] / 255.0f - s->mean) / s->std;
    *label = s->labels[i];
    return LUCID_STATUS_OK;
}

static void idx_destroy(void *state)
{
    idx_state *s = state;
    if (!s) return;
    free(s->pixels);
    free(s->labels);
    free(s);
}

static const lucid_dataset_vtable idx_vtable = {"fashion-mnist", idx_load, idx_destroy};

lucid_status lucid_dataset_open_idx(const char *arg, const lucid_dataset_options *opts,
                                    lucid_dataset_t *ds, lucid_error *err)
{
    const char *split = "test";
    char split_buf[16];
    const char *dir = IDX_DEFAULT_DIR;
    if (*arg == ':') {
        const char *at = strchr(arg, '@');
        size_t len = at ? (size_t)(at - arg - 1) : strlen(arg + 1);
        if (len >= sizeof split_buf) len = sizeof split_buf - 1;
        memcpy(split_buf, arg + 1, len);
        split_buf[len] = '\0';
        split = split_buf;
        arg = at ? at : "";
    }
    if (*arg == '@') dir = arg + 1;
    if (strcmp(split, "test") != 0 && strcmp(split, "train") != 0)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "fashion-mnist: unknown split '%s' (expected test or train)", split);
    if (opts->channels != 1 || opts->height != 28 || opts->width != 28)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "fashion-mnist samples are 1x28x28, the model takes %dx%dx%d",
                            opts->channels, opts->height, opts->width);
    const char *prefix = strcmp(split, "test") == 0 ? "t10k" : "train";
    char ipath[4096], lpath[4096];
    snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);

    idx_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    uint32_t idims[3] = {0}, ldims[1] = {0};
    lucid_status st = idx_read(ipath, 3, idims, &s->pixels, err);
    if (!st) st = idx_read(lpath, 1, ldims, &s->labels, err);
    if (!st && ldims[0] != idims[0])
        st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                          "%s: %u labels for the %u images of %s", lpath, ldims[0], idims[0],
                          ipath);
    if (!st && (idims[1] != 28 || idims[2] != 28))
        st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "%s: images are %ux%u, not 28x28",
                          ipath, idims[1], idims[2]);
    for (uint32_t i = 0; !st && i < ldims[0]; i++)
        if (s->labels[i] > 9)
            st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                              "%s: label %u of item %u is not a class 0-9", lpath, s->labels[i],
                              i);
    if (st) {
        idx_destroy(s);
        return st;
    }
    s->rows = idims[1];
    s->cols = idims[2];
    s->mean = opts->has_norm ? opts->mean[0] : 0.2860f;
    s->std = opts->has_norm ? opts->std[0] : 0.3530f;
    if (!(s->std > 0)) {
        idx_destroy(s);
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "normalization std must be positive");
    }
    ds->vt = &idx_vtable;
    ds->state = s;
    ds->count = idims[0];
    ds->has_labels = 1;
    ds->num_classes = 10;
    ds->channels = 1;
    ds->height = 28;
    ds->width = 28;
    snprintf(ds->description, sizeof ds->description,
             "fashion-mnist:%s (%zu images 1x28x28, 10 classes, from %s)", split, ds->count, dir);
    return LUCID_STATUS_OK;
}
