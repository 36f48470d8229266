/* fuzz_npy.c - NumPy .npy files: lucid_array_load_npy, and the same bytes as an npy dataset
 * (npy:FILE, N samples of 1x4x4 float32) with its first and last samples loaded. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "lucid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_write("fuzz.npy", data, size, path, sizeof path);
    lucid_array a;
    lucid_error err = {0};
    if (lucid_array_load_npy(path, &a, &err) == LUCID_STATUS_OK) {
        /* touch every byte, so that a size that disagrees with the buffer shows under ASan */
        volatile uint8_t acc = 0;
        for (size_t i = 0; i < a.nbytes; i++) acc ^= ((const uint8_t *)a.data)[i];
        (void)acc;
        lucid_array_free(&a);
    }

    char spec[600];
    snprintf(spec, sizeof spec, "npy:%s", path);
    lucid_dataset_options opts = {.channels = 1, .height = 4, .width = 4};
    lucid_dataset_t *ds = NULL;
    if (lucid_dataset_open(spec, &opts, &ds, &err) == LUCID_STATUS_OK) {
        float sample[16];
        int64_t label;
        size_t n = lucid_dataset_size(ds);
        if (n) {
            (void)lucid_dataset_load(ds, 0, sample, &label, &err);
            (void)lucid_dataset_load(ds, n - 1, sample, &label, &err);
        }
        lucid_dataset_destroy(ds);
    }
    return 0;
}
