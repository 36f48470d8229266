/* npyset.c - NumPy datasets: one stacked array (plus optional labels), or a folder of
 * one-sample .npy files (plus optional labels.npy). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"
#include "data/dataset.h"
#include "ops/op.h"

#define NPY_MAX_FILES 1000000

typedef struct npy_state {
    lucid_array stacked; /* stacked form: N x sample */
    char **files;        /* folder form: one sample per file */
    size_t n_files;
    int64_t *labels;     /* N, or NULL */
    size_t sample_elems;
    int channels, height, width;
} npy_state;

static void npy_destroy(void *state)
{
    npy_state *s = state;
    if (!s) return;
    lucid_array_free(&s->stacked);
    for (size_t i = 0; i < s->n_files; i++) free(s->files[i]);
    free(s->files);
    free(s->labels);
    free(s);
}

/* Does shape (rank, dims) equal the sample shape, optionally after a leading 1? */
static bool fits_sample(const npy_state *s, int rank, const int64_t *dims)
{
    if (rank == 4 && dims[0] == 1) {
        rank = 3;
        dims++;
    }
    return rank == 3 && dims[0] == s->channels && dims[1] == s->height && dims[2] == s->width;
}

static lucid_status npy_load(void *state, size_t i, float *dst, int64_t *label, lucid_error *err)
{
    npy_state *s = state;
    *label = s->labels ? s->labels[i] : -1;
    if (s->stacked.data) {
        memcpy(dst, (const float *)s->stacked.data + i * s->sample_elems,
               s->sample_elems * sizeof(float));
        return LUCID_STATUS_OK;
    }
    lucid_array a;
    lucid_status st = lucid_array_load_npy(s->files[i], &a, err);
    if (st) return st;
    char got[160];
    if (a.dtype != LUCID_DTYPE_FLOAT || !fits_sample(s, a.rank, a.dims)) {
        st = lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                          "%s: holds %s %s, the model takes float32 %dx%dx%d", s->files[i],
                          lucid_dtype_name(a.dtype), lucid_shape_str(a.rank, a.dims, got, sizeof got),
                          s->channels, s->height, s->width);
    } else {
        memcpy(dst, a.data, s->sample_elems * sizeof(float));
    }
    lucid_array_free(&a);
    return st;
}

static const lucid_dataset_vtable npy_vtable = {"npy", npy_load, npy_destroy};

static lucid_status load_labels(npy_state *s, const char *path, size_t count, lucid_error *err)
{
    lucid_array a;
    lucid_status st = lucid_array_load_npy(path, &a, err);
    if (st) return st;
    if ((a.dtype != LUCID_DTYPE_INT64 && a.dtype != LUCID_DTYPE_INT32) || a.rank != 1) {
        lucid_array_free(&a);
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "%s: labels must be a 1-D int64 or int32 array", path);
    }
    if ((size_t)a.dims[0] != count) {
        long long got = (long long)a.dims[0];
        lucid_array_free(&a);
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "%s: %lld labels for %zu samples",
                            path, got, count);
    }
    s->labels = malloc(sizeof(int64_t) * (count ? count : 1));
    if (!s->labels) {
        lucid_array_free(&a);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        s->labels[i] = lucid_load_i64(a.dtype, a.data, (int64_t)i);
        if (s->labels[i] < 0) {
            lucid_array_free(&a);
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "%s: label %zu is negative (%lld)", path, i,
                                (long long)s->labels[i]);
        }
    }
    lucid_array_free(&a);
    return LUCID_STATUS_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static lucid_status open_folder(npy_state *s, const char *dir, lucid_error *err)
{
    DIR *d = opendir(dir);
    if (!d) return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot open folder", dir);
    size_t cap = 0;
    bool has_labels = false;
    lucid_status st = LUCID_STATUS_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".npy") != 0) continue;
        if (strcmp(e->d_name, "labels.npy") == 0) {
            has_labels = true;
            continue;
        }
        if (s->n_files >= NPY_MAX_FILES) {
            st = lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED, "%s: more than %d files", dir,
                              NPY_MAX_FILES);
            break;
        }
        if (s->n_files == cap) {
            cap = cap ? cap * 2 : 64;
            char **nf = realloc(s->files, cap * sizeof *nf);
            if (!nf) {
                st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
                break;
            }
            s->files = nf;
        }
        size_t plen = strlen(dir) + len + 2;
        char *p = malloc(plen);
        if (!p) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            break;
        }
        snprintf(p, plen, "%s/%s", dir, e->d_name);
        s->files[s->n_files++] = p;
    }
    closedir(d);
    if (st) return st;
    if (s->n_files == 0)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "%s: no .npy sample files", dir);
    qsort(s->files, s->n_files, sizeof *s->files, cmp_str);
    if (has_labels) {
        char lpath[4096];
        snprintf(lpath, sizeof lpath, "%s/labels.npy", dir);
        st = load_labels(s, lpath, s->n_files, err);
    }
    return st;
}

lucid_status lucid_dataset_open_npy(const char *arg, const lucid_dataset_options *opts,
                                    lucid_dataset_t *ds, lucid_error *err)
{
    npy_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    s->channels = opts->channels;
    s->height = opts->height;
    s->width = opts->width;
    s->sample_elems = (size_t)opts->channels * (size_t)opts->height * (size_t)opts->width;
    char path[4096], labels[4096] = "";
    snprintf(path, sizeof path, "%s", arg);
    char *comma = strchr(path, ',');
    if (comma) {
        *comma = '\0';
        snprintf(labels, sizeof labels, "%s", comma + 1);
    }
    lucid_status st = LUCID_STATUS_OK;
    size_t count = 0;
    struct stat sb;
    if (!path[0]) {
        st = lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "npy: needs a file or folder");
    } else if (stat(path, &sb) != 0) {
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: no such file or folder", path);
    } else if (S_ISDIR(sb.st_mode)) {
        st = open_folder(s, path, err);
        count = s->n_files;
    } else {
        st = lucid_array_load_npy(path, &s->stacked, err);
        const lucid_array *a = &s->stacked;
        char got[160];
        if (!st && (a->dtype != LUCID_DTYPE_FLOAT || a->rank != 4 || a->dims[1] != s->channels ||
                    a->dims[2] != s->height || a->dims[3] != s->width))
            st = lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                              "%s: holds %s %s, expected float32 Nx%dx%dx%d (N samples)", path,
                              lucid_dtype_name(a->dtype),
                              lucid_shape_str(a->rank, a->dims, got, sizeof got), s->channels,
                              s->height, s->width);
        if (!st) count = (size_t)a->dims[0];
        if (!st && labels[0]) st = load_labels(s, labels, count, err);
    }
    if (st) {
        npy_destroy(s);
        return st;
    }
    ds->vt = &npy_vtable;
    ds->state = s;
    ds->count = count;
    ds->has_labels = s->labels != NULL;
    ds->channels = opts->channels;
    ds->height = opts->height;
    ds->width = opts->width;
    snprintf(ds->description, sizeof ds->description, "npy:%s (%zu samples %dx%dx%d, %s)", arg,
             count, opts->channels, opts->height, opts->width,
             s->labels ? "labelled" : "unlabelled");
    return LUCID_STATUS_OK;
}
