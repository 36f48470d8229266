/* dataset.c - opening a dataset by its command-line name and loading samples. */
#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

lucid_status lucid_dataset_open(const char *spec, const lucid_dataset_options *opts,
                                lucid_dataset_t **out, lucid_error *err)
{
    if (!spec || !opts || !out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "dataset_open: NULL argument");
    *out = NULL;
    if (opts->channels <= 0 || opts->height <= 0 || opts->width <= 0 || opts->channels > 4096 ||
        opts->height > 65536 || opts->width > 65536)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "dataset '%s': sample shape %dx%dx%d is not a valid image shape", spec,
                            opts->channels, opts->height, opts->width);
    lucid_dataset_t *ds = calloc(1, sizeof *ds);
    if (!ds) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    lucid_status st;
    if (strncmp(spec, "fashion-mnist", 13) == 0 && (spec[13] == '\0' || spec[13] == ':' ||
                                                    spec[13] == '@')) {
        st = lucid_dataset_open_idx(spec + 13, opts, ds, err);
    } else if (strncmp(spec, "images:", 7) == 0) {
        st = lucid_dataset_open_images(spec + 7, opts, ds, err);
    } else if (strncmp(spec, "npy:", 4) == 0) {
        st = lucid_dataset_open_npy(spec + 4, opts, ds, err);
    } else {
        st = lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                          "unknown dataset '%s' (expected fashion-mnist[:test|:train][@DIR], "
                          "images:DIR or npy:PATH)",
                          spec);
    }
    if (st) {
        lucid_dataset_destroy(ds);
        return st;
    }
    *out = ds;
    return LUCID_STATUS_OK;
}

void lucid_dataset_destroy(lucid_dataset_t *ds)
{
    if (!ds) return;
    if (ds->vt && ds->vt->destroy) ds->vt->destroy(ds->state);
    free(ds);
}

size_t lucid_dataset_size(const lucid_dataset_t *ds)
{
    return ds ? ds->count : 0;
}

int lucid_dataset_has_labels(const lucid_dataset_t *ds)
{
    return ds ? ds->has_labels : 0;
}

const char *lucid_dataset_describe(const lucid_dataset_t *ds)
{
    return ds ? ds->description : "";
}

lucid_status lucid_dataset_load(lucid_dataset_t *ds, size_t i, float *dst, int64_t *label,
                                lucid_error *err)
{
    if (!ds || !dst)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "dataset_load: NULL argument");
    if (i >= ds->count)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "sample %zu is out of range (the dataset has %zu)", i, ds->count);
    int64_t dummy;
    return ds->vt->load(ds->state, i, dst, label ? label : &dummy, err);
}
