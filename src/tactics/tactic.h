/* tactic.h - a tactic is one way to run one engine layer: backend x algorithm x layout x
 * precision. The builder times every tactic that supports a layer and keeps one. */
#ifndef LUCID_TACTICS_TACTIC_H
#define LUCID_TACTICS_TACTIC_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/threadpool.h"
#include "ir/graph.h"
#include "lucid.h"

/* What the CPU offers, read once per build with cpuid (tactics check it in supports), less
 * what the process's instruction-set cap (lucid_cpu_cap, LUCID_CPU_ISA) hides. */
typedef struct lucid_cpu_features {
    char model[128];
    int cores;
    bool sse41, avx, avx2, fma, f16c;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512_vnni, avx512_bf16, avx512_fp16;
    bool avx_vnni, amx_tile, amx_bf16, amx_int8;
    /* native: the highest level the processor offers; level: the one in force, min(native,
     * cap); capped: the cap hides at least one feature the processor has, so libraries that
     * pick their own kernels from cpuid would not obey it */
    lucid_cpu_isa native, level;
    bool capped;
} lucid_cpu_features;

void lucid_cpu_features_detect(lucid_cpu_features *out);
/* INVALID_ARGUMENT, naming it, when LUCID_CPU_ISA is set to no level (plan builds and loads
 * call it; the cap is then not applied). */
lucid_status lucid_cpu_cap_env_check(lucid_error *err);

/* The features the processor has, with no cap applied (for reporting). */
void lucid_cpu_features_detect_native(lucid_cpu_features *out);

/* oneDNN's half of the cap (src/cpu/dnnl_common.c): limits oneDNN to the level, if it has
 * not dispatched yet; a no-op without oneDNN. */
void lucid_dnnl_cap(lucid_cpu_isa level);

/* Tactic properties that matter for reproducibility. */
enum {
    /* results may differ from run to run (reduction order depends on thread timing) */
    LUCID_TACTIC_NONDETERMINISTIC = 1u << 0,
    /* results are deterministic for a given thread count but change with it */
    LUCID_TACTIC_THREAD_DEPENDENT = 1u << 1,
    /* float32 storage with TensorFloat-32 tensor-core math: only in LUCID_PRECISION_TF32 builds */
    LUCID_TACTIC_TF32 = 1u << 2,
    /* FusedConv: the output may be the residual input's own memory (each output element
     * reads its residual before anything writes it), so the memory planner may place it
     * there when the residual dies at this layer */
    LUCID_TACTIC_RESIDUAL_INPLACE = 1u << 3,
};

/* Tensor layouts a tactic reads and writes. Plain is ONNX's row-major (NCHW for images). */
typedef enum lucid_layout {
    LUCID_LAYOUT_PLAIN = 0,
    LUCID_LAYOUT_NHWC = 1,
    LUCID_LAYOUT_NCHW16C = 2,
} lucid_layout;

/* the reason a supports() probe gives when it could not allocate */
#define LUCID_WHY_OOM "out of memory"
/* The status of a prepare() whose probe refused with `why`. */
static inline lucid_status lucid_why_status(const char *why)
{
    return strcmp(why, LUCID_WHY_OOM) == 0 ? LUCID_STATUS_OUT_OF_MEMORY
                                           : LUCID_STATUS_UNSUPPORTED;
}

typedef struct lucid_tactic {
    /* what it is, XNNPACK-style: "cpu.conv.f32.im2col_gemm.avx512" */
    const char *name;
    const char *backend; /* "ref", "cpu", "dnnl", "xnnpack", "blas" */
    unsigned flags;
    /* the builder's fixed preference order for deterministic builds: lower first */
    int preference;
    lucid_layout in_layout, out_layout;
    /* Can this tactic run node n (whose shapes are inferred, params parsed)? If not, a short
     * reason goes to why (for the build report); a probe that could not allocate answers no
     * with why exactly LUCID_WHY_OOM, which the builder reports as OUT_OF_MEMORY. */
    bool (*supports)(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                     char *why, size_t why_len);
    /* Builds the read-only state the tactic runs from (packed weights, chosen blocking), for
     * up to max_threads threads; shared by every context of a plan. */
    lucid_status (*prepare)(const lucid_graph *g, const lucid_node *n, int max_threads,
                            void **state, lucid_error *err);
    void (*release)(void *state);
    /* Scratch bytes one run needs with `threads` threads (each context has its own). */
    size_t (*workspace)(const void *state, int threads);
    /* Runs the layer: in/out as the reference kernels get them (plain layout unless the
     * tactic says otherwise), outputs already allocated. No allocation here. */
    lucid_status (*run)(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                        int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err);

    /* Optional, for tactics whose library needs handles that a context must not share with
     * another (oneDNN's memory objects and stream): bind makes one context's, empty, when the
     * context is created, and run_bound runs with them, making each on its first use and
     * reusing it afterwards, so that a context's later runs allocate nothing. unbind releases
     * them with the context. Such a tactic's run (bound NULL: the builder's timing, tests)
     * makes them for that one call. NULL for the others. */
    lucid_status (*bind)(const void *state, void **bound, lucid_error *err);
    void (*unbind)(void *bound);
    lucid_status (*run_bound)(const void *state, void *bound, const lucid_array *in, int n_in,
                              lucid_array *out, int n_out, void *workspace, lucid_threadpool *pool,
                              lucid_error *err);

    /* ---- device tactics (GPU). Zero for CPU tactics: device 0 is LUCID_DEVICE_CPU and the
     * hooks below stay NULL. A device tactic leaves prepare/run NULL and sets these. */
    lucid_device device;
    /* the storage precision of the float tensors it reads and writes (FP32, FP16, BF16) */
    lucid_precision precision;
    /* a member of a family of tactics sharing code (a cuDNN algorithm number) */
    int variant;
    /* Builds the tactic's state on the device `dev` (the backend's device handle: weights
     * uploaded in the tactic's precision and layout, library descriptors). Returns
     * LUCID_STATUS_UNSUPPORTED, with the reason in err, when the library refuses this layer
     * (a cuDNN algorithm that does not apply): the builder then skips the candidate. */
    lucid_status (*prepare_device)(const struct lucid_tactic *t, const lucid_graph *g,
                                   const lucid_node *n, void *dev, void **state,
                                   lucid_error *err);
    /* Enqueues the layer on `stream` (the backend's per-context stream and library handles):
     * in/out data are device pointers holding `precision` values for float tensors. Never
     * synchronizes or allocates, so the run can be captured into a CUDA graph. workspace
     * (device memory) has workspace(state, 1) bytes. */
    lucid_status (*run_device)(const void *state, const lucid_array *in, int n_in,
                               lucid_array *out, int n_out, void *workspace, void *stream,
                               lucid_error *err);
} lucid_tactic;

/* Every tactic compiled in, in preference order across backends. */
size_t lucid_tactic_count(void);
const lucid_tactic *lucid_tactic_at(size_t i);
const lucid_tactic *lucid_tactic_find(const char *name);

/* How a device plan built in precision p stores its float tensors, the precision its tactics
 * are declared in: float32 for tf32 (TensorFloat-32 is math, not storage), float16 for int8
 * (the float tensors between int8 layers), otherwise p. */
lucid_precision lucid_device_storage(lucid_precision p);

/* The workspace hook of a tactic that needs none: 0 bytes. */
size_t lucid_tactic_no_workspace(const void *state, int threads);

/* The reference tactic: the op's own reference kernel, for every op (the fallback that
 * always exists). */
extern const lucid_tactic lucid_tactic_reference;

#endif
