/* device.h - the device backend vtable (as ggml-backend): what the builder, the plan loader and
 * execution contexts need from a GPU backend, so that they make no CUDA calls themselves.
 * src/cuda/ implements it; lucid_cuda_backend() is NULL in a build without LUCID_CUDA. */
#ifndef LUCID_TACTICS_DEVICE_H
#define LUCID_TACTICS_DEVICE_H

#include <stdbool.h>
#include <stddef.h>

#include "lucid.h"
#include "tactics/tactic.h"

struct lucid_plan;

typedef struct lucid_device_backend {
    const char *name; /* "cuda" */
    /* true when a GPU can be used; otherwise false with the reason in why */
    bool (*probe)(char *why, size_t why_len);
    /* Opens GPU `ordinal` for building or loading a plan (library handles for tactic
     * preparation and a stream and events for timing). */
    lucid_status (*open)(int ordinal, bool deterministic, void **dev, lucid_error *err);
    void (*close)(void *dev);
    /* One line naming the GPU, compute capability, driver, CUDA and library versions: the
     * timing cache key's device part and the plan's device_model. */
    const char *(*describe)(const void *dev);
    /* Chooses how the plan stores 4-D float activations, on the optimized graph g before any
     * tactic is timed or prepared; request is a lucid_gpu_layout (a loaded plan passes what
     * its file recorded). Channels-last needs every layer to run so; views that channels-last
     * storage would break (a Reshape between 4-D and other ranks, a Concat, Split or Slice
     * along channels) become copies again (g is changed then). Sets *nhwc, says why in why;
     * an error only when NHWC was requested and a layer cannot run so. */
    lucid_status (*plan_layout)(void *dev, lucid_graph *g, lucid_precision precision,
                                int request, bool *nhwc, char *why, size_t why_len,
                                lucid_error *err);
    /* Median ms of tactic t on node n (inputs filled with deterministic values on the
     * device, CUDA-event timing, two eager warm-up runs then samples until budget_ms, 3 to
     * 50: replays of a CUDA graph of 8 back-to-back runs, as a context replays its plan, or
     * single runs on the stream for a tactic of 1 ms or more or of many launches).
     * UNSUPPORTED when the tactic's prepare_device refuses the layer. */
    lucid_status (*time_tactic)(void *dev, const lucid_tactic *t, const lucid_graph *g,
                                const lucid_node *n, double budget_ms, double *median_ms,
                                lucid_error *err);
    /* Plan-wide device state once every layer is prepared: the constants layers read at
     * run time, uploaded in the plan's precision. Freed by plan_release. */
    lucid_status (*plan_finalize)(struct lucid_plan *plan, lucid_error *err);
    void (*plan_release)(struct lucid_plan *plan);
    /* An execution context's device half (src/cuda/executor.c): arena, stream, pinned
     * staging, CUDA graph. */
    lucid_status (*exec_create)(const struct lucid_plan *plan, const lucid_context_options *o,
                                void **exec, lucid_error *err);
    void (*exec_destroy)(void *exec);
    /* host staging buffer of graph input / output tensor t (float32 for float tensors) */
    void *(*exec_host_buffer)(void *exec, int tensor);
    /* Runs once. layer_ms, when not NULL, receives each running layer's ms (in order of
     * execution; a profiling run: no graph, an event pair per layer). */
    lucid_status (*exec_run)(void *exec, double *layer_ms, lucid_error *err);
    /* One eager run showing every layer's outputs to fn (float32, plain NCHW). */
    lucid_status (*exec_run_observed)(void *exec, lucid_layer_observer fn, void *user,
                                      lucid_error *err);
    lucid_status (*exec_timing)(const void *exec, lucid_device_timing *out);
    /* The GPU's facts and peaks (lucid_cuda_device_info). */
    lucid_status (*device_info)(int ordinal, lucid_gpu_info *out, lucid_error *err);
} lucid_device_backend;

/* The CUDA backend, or NULL when lucid was built without it. */
const lucid_device_backend *lucid_cuda_backend(void);

#endif
