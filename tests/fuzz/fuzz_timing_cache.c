/* fuzz_timing_cache.c - the tactic timing cache reader (lucid_timing_cache_load), then lookups
 * and a save over the input file (which reads and merges it again, as concurrent builds do). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "plan/timing_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    fuzz_write("fuzz.timing", data, size, path, sizeof path);
    lucid_timing_cache *c = NULL;
    lucid_error err = {0};
    if (lucid_timing_cache_load(path, &c, &err) != LUCID_STATUS_OK) {
        if (c) abort();
        return 0;
    }
    double ms;
    (void)lucid_timing_cache_get(c, "0000000000000000/cpu.reference", &ms);
    (void)lucid_timing_cache_fresh(c, "0000000000000000/cpu.reference");
    lucid_timing_cache_put(c, "0000000000000000/cpu.reference", 1.0);
    /* saving merges with the file on disk under its lock, so this reads the input again */
    (void)lucid_timing_cache_save(c, path, &err);
    lucid_timing_cache_destroy(c);
    return 0;
}
