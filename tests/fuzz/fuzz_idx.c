/* fuzz_idx.c - Fashion-MNIST IDX files (fashion-mnist:test@DIR): one input holds both files.
 *
 * Input layout: 2 bytes (little-endian) giving the image file's length n, then n bytes of
 * t10k-images-idx3-ubyte.gz, then the rest as t10k-labels-idx1-ubyte.gz. zlib reads files that
 * are not gzip as they are, so both plain and compressed IDX reach the parser. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "lucid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t n = (size_t)data[0] | (size_t)data[1] << 8;
    data += 2;
    size -= 2;
    if (n > size) n = size;
    char ipath[512], lpath[512];
    fuzz_write("t10k-images-idx3-ubyte.gz", data, n, ipath, sizeof ipath);
    fuzz_write("t10k-labels-idx1-ubyte.gz", data + n, size - n, lpath, sizeof lpath);

    char spec[600];
    snprintf(spec, sizeof spec, "fashion-mnist:test@%s", fuzz_scratch_dir());
    lucid_dataset_options opts = {.channels = 1, .height = 28, .width = 28};
    lucid_dataset_t *ds = NULL;
    lucid_error err = {0};
    if (lucid_dataset_open(spec, &opts, &ds, &err) != LUCID_STATUS_OK) {
        if (ds) abort();
        return 0;
    }
    float sample[28 * 28];
    int64_t label;
    size_t count = lucid_dataset_size(ds);
    if (count) {
        (void)lucid_dataset_load(ds, 0, sample, &label, &err);
        (void)lucid_dataset_load(ds, count - 1, sample, &label, &err);
    }
    lucid_dataset_destroy(ds);
    return 0;
}
