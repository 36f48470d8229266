/* fuzz_plan.c - plan files (lucid_plan_load): header, checksum, graph, tactics and memory plan;
 * a plan that loads gets a one-thread context and one run on zeroed inputs.
 *
 * The header's payload size and FNV-1a checksum are recomputed from the input before loading,
 * so that mutations reach the payload parser instead of stopping at the checksum (which the
 * unchanged input still tests when the fuzzer keeps the header as it is: set
 * LUCID_FUZZ_PLAN_RAW=1 to load the bytes exactly as given). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/strmap.h"
#include "fuzz_util.h"
#include "lucid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* docs/plan-format.md: a 64-byte header; payload size at byte 32, checksum at byte 40 */
#define HDR 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int raw = -1;
    if (raw < 0) raw = getenv("LUCID_FUZZ_PLAN_RAW") && atoi(getenv("LUCID_FUZZ_PLAN_RAW"));
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) abort();
    if (size) memcpy(copy, data, size);
    if (!raw && size >= HDR) {
        uint64_t payload = (uint64_t)(size - HDR);
        uint64_t sum = lucid_hash_fnv1a(copy + HDR, size - HDR, 0);
        memcpy(copy + 32, &payload, 8);
        memcpy(copy + 40, &sum, 8);
    }
    char path[512];
    fuzz_write("fuzz.plan", copy, size, path, sizeof path);
    free(copy);

    lucid_plan_t *plan = NULL;
    lucid_error err = {0};
    if (lucid_plan_load(path, &plan, &err) != LUCID_STATUS_OK) {
        if (plan) abort();
        return 0;
    }
    lucid_context_options opts = {.threads = 1};
    lucid_context_t *ctx = NULL;
    if (lucid_context_create_plan(plan, &opts, &ctx, &err) == LUCID_STATUS_OK) {
        (void)lucid_context_run(ctx);
        for (size_t i = 0; i < lucid_context_num_outputs(ctx); i++) {
            lucid_array o;
            (void)lucid_context_output(ctx, i, &o);
        }
        lucid_context_destroy(ctx);
    }
    lucid_plan_destroy(plan);
    return 0;
}
