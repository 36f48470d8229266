/* dataset.h - datasets named on the command line, read in C: Fashion-MNIST IDX files,
 * photos (JPEG/PNG) with ImageNet preprocessing, and NumPy tensors. */
#ifndef LUCID_DATA_DATASET_H
#define LUCID_DATA_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "lucid.h"

/* Sources, each with its own reader (src/data/<kind>.c). */
typedef struct lucid_dataset_vtable {
    const char *kind;
    /* Loads sample i as float32 CHW (channels x height x width of the dataset) into dst and
     * its label (or -1). */
    lucid_status (*load)(void *state, size_t i, float *dst, int64_t *label, lucid_error *err);
    void (*destroy)(void *state);
} lucid_dataset_vtable;

struct lucid_dataset {
    const lucid_dataset_vtable *vt;
    void *state;
    size_t count;
    int has_labels;
    int num_classes; /* 0 if unknown */
    int channels, height, width;
    char description[512];
};

/* Readers: each validates the source fully enough that load() only fails on data it reads
 * lazily (photos), and checks the target sample shape in opts. */
lucid_status lucid_dataset_open_idx(const char *arg, const lucid_dataset_options *opts,
                                    lucid_dataset_t *ds, lucid_error *err);
lucid_status lucid_dataset_open_images(const char *arg, const lucid_dataset_options *opts,
                                       lucid_dataset_t *ds, lucid_error *err);
lucid_status lucid_dataset_open_npy(const char *arg, const lucid_dataset_options *opts,
                                    lucid_dataset_t *ds, lucid_error *err);

#endif
