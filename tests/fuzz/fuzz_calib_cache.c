/* fuzz_calib_cache.c - the INT8 calibration cache reader (lucid_calib_cache_load) and lookups
 * in the table it returns.
 *
 * The cache ends with an FNV-1a checksum line; when the input has one, its 16 hex digits are
 * recomputed before loading so that mutations reach the line parser (LUCID_FUZZ_CALIB_RAW=1
 * loads the bytes as given). */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/strmap.h"
#include "fuzz_util.h"
#include "quant/quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char MARK[] = "checksum fnv1a64 ";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int raw = -1;
    if (raw < 0) raw = getenv("LUCID_FUZZ_CALIB_RAW") && atoi(getenv("LUCID_FUZZ_CALIB_RAW"));
    char *copy = malloc(size + 1);
    if (!copy) abort();
    if (size) memcpy(copy, data, size);
    copy[size] = '\0';
    size_t m = sizeof MARK - 1;
    if (!raw) {
        /* the last checksum line that starts a line and has room for its digits */
        for (size_t pos = size >= m + 16 ? size - m - 16 + 1 : 0; pos-- > 0;) {
            if ((pos == 0 || copy[pos - 1] == '\n') && memcmp(copy + pos, MARK, m) == 0) {
                char hex[17];
                snprintf(hex, sizeof hex, "%016" PRIx64, lucid_hash_fnv1a(copy, pos, 0));
                memcpy(copy + pos + m, hex, 16);
                break;
            }
        }
    }
    char path[512];
    fuzz_write("fuzz.calib", (const uint8_t *)copy, size, path, sizeof path);
    free(copy);

    lucid_calib_table *t = NULL;
    lucid_error err = {0};
    if (lucid_calib_cache_load(path, &t, &err) != LUCID_STATUS_OK) {
        if (t) abort();
        return 0;
    }
    for (size_t i = 0; i < t->n; i++)
        if (lucid_calib_table_find(t, t->entries[i].name) == NULL) abort();
    (void)lucid_calib_table_find(t, "");
    lucid_calib_table_destroy(t);
    return 0;
}
