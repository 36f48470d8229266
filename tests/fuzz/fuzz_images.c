/* fuzz_images.c - photos (images:DIR): JPEG (libjpeg-turbo) and PNG (libpng) decoding through
 * lucid's limits, then the resize, crop and normalization to a 3x16x16 sample and a 1x8x8 one.
 * The decoder is chosen by the bytes' signature, so one target covers both formats. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "lucid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load_as(const char *spec, int channels, int side)
{
    lucid_dataset_options opts = {.channels = channels, .height = side, .width = side};
    lucid_dataset_t *ds = NULL;
    lucid_error err = {0};
    if (lucid_dataset_open(spec, &opts, &ds, &err) != LUCID_STATUS_OK) {
        if (ds) abort();
        return;
    }
    float sample[3 * 16 * 16];
    int64_t label;
    (void)lucid_dataset_load(ds, 0, sample, &label, &err);
    lucid_dataset_destroy(ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_write("photo.jpg", data, size, path, sizeof path);
    char spec[600];
    snprintf(spec, sizeof spec, "images:%s", fuzz_scratch_dir());
    load_as(spec, 3, 16);
    load_as(spec, 1, 8);
    return 0;
}
