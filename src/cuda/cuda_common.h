/* cuda_common.h - what lucid's CUDA host code shares: the device opened for a plan, the
 * per-context stream with its library handles, checked calls, and tactic helpers. */
#ifndef LUCID_CUDA_CUDA_COMMON_H
#define LUCID_CUDA_CUDA_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "core/error.h"
#include "cuda/kernels.h"
#include "ir/graph.h"
#include "tactics/tactic.h"

/* A GPU opened by a plan (builder or loader): handles for preparing tactics, a stream and
 * events for timing them. */
typedef struct lucid_cuda_dev {
    int ordinal;
    bool deterministic; /* the plan's: tactics refuse what the library reports as not */
    cudnnHandle_t cudnn;
    cublasLtHandle_t lt;
    cudaStream_t stream;
    cudaEvent_t ev0, ev1;
    /* the plan stores every 4-D float tensor channels-last (NHWC): set by plan_layout
     * (layout.c) before any tactic is prepared; tactics read it in prepare_device */
    bool nhwc;
    int cc_major, cc_minor, sm_count;
    char name[128];
    char desc[256];
} lucid_cuda_dev;

/* What a device tactic's run gets: the context's stream and its own library handles. */
typedef struct lucid_cuda_stream {
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    cublasLtHandle_t lt;
} lucid_cuda_stream;

/* Checked calls: OK, or an error naming the call and the library's message. */
lucid_status lucid_cuda_check(cudaError_t e, lucid_error *err, const char *what);
lucid_status lucid_cudnn_check(cudnnStatus_t s, lucid_error *err, const char *what);
lucid_status lucid_cublas_check(cublasStatus_t s, lucid_error *err, const char *what);
/* A kernel launcher's status with its reason. */
lucid_status lucid_kernel_check(lucid_status st, const char *why, lucid_error *err,
                                const char *kernel);

/* The element type of a precision's float storage. */
lc_type lucid_cuda_type(lucid_precision p);
size_t lucid_cuda_type_size(lc_type t);
/* Uploads n float32 values converted to type t into new device memory *dst. */
lucid_status lucid_cuda_upload_floats(const float *src, int64_t n, lc_type t, void **dst,
                                      lucid_error *err);
/* Uploads raw bytes into new device memory. */
lucid_status lucid_cuda_upload(const void *src, size_t bytes, void **dst, lucid_error *err);

/* Is t stored channels-last on device d (a float tensor of rank 4 in an NHWC plan)? A 4-D
 * tensor with C == 1 or H * W == 1 has the same bytes either way. */
bool lucid_cuda_nhwc(const lucid_cuda_dev *d, const lucid_ir_tensor *t);
/* s[k]: the distance in elements between neighbours along logical dim k of t's storage */
void lucid_cuda_strides(const lucid_cuda_dev *d, const lucid_ir_tensor *t, int64_t *s);
/* Uploads constant float tensor t in type ft, channels-last where d stores it so. */
lucid_status lucid_cuda_upload_tensor(const lucid_cuda_dev *d, const lucid_ir_tensor *t,
                                      lc_type ft, void **dst, lucid_error *err);
/* NCHW -> NHWC of n images of c channels and hw positions (host, float32) */
void lucid_cuda_to_nhwc(const float *x, float *y, int64_t n, int64_t c, int64_t hw);

/* cupti.c: the kernels each layer of a context launches in traced runs (CUPTI activity
 * records, attributed by external correlation ids: the context's id and the layer) */
typedef struct lucid_cuda_layer_kernels {
    lucid_layer_kernel *k;
    int n, cap;
} lucid_cuda_layer_kernels;

typedef struct lucid_cuda_kprof {
    uint32_t id;                     /* unique in the process */
    int n_layers;                    /* running layers, in execution order */
    lucid_cuda_layer_kernels *layer; /* per running layer */
    bool on;                         /* CUPTI is collecting for this context's run */
    int64_t runs;                    /* traced runs gathered */
    char why[256];                   /* why the last profiling run has no names, or "" */
} lucid_cuda_kprof;

lucid_status lucid_cuda_kprof_init(lucid_cuda_kprof *p, int n_layers, lucid_error *err);
void lucid_cuda_kprof_free(lucid_cuda_kprof *p);
/* Forgets what was gathered (lucid_context_set_profiling). */
void lucid_cuda_kprof_clear(lucid_cuda_kprof *p);
/* Before a traced run's launches: loads libcupti on first use and enables collection
 * (process-wide, counted: the first traced run in progress enables it). False, with the
 * reason in p->why, when CUPTI cannot collect. */
bool lucid_cuda_kprof_begin(lucid_cuda_kprof *p);
/* Around layer k's launches, on the launching thread (only after begin returned true). */
void lucid_cuda_kprof_enter(const lucid_cuda_kprof *p, int k);
void lucid_cuda_kprof_leave(void);
/* After the run's stream synchronized: flushes CUPTI's buffers, attributes the kernels to
 * their layers, and disables collection when no other traced run is in progress. */
void lucid_cuda_kprof_end(lucid_cuda_kprof *p);

/* cudaGraphInstantiate took an error node and a log buffer before CUDA 12 (Jetson's JetPack 5
 * ships CUDA 11.4), flags since */
static inline cudaError_t lucid_cuda_graph_instantiate(cudaGraphExec_t *exec, cudaGraph_t graph)
{
#if CUDART_VERSION >= 12000
    return cudaGraphInstantiate(exec, graph, 0);
#else
    return cudaGraphInstantiate(exec, graph, NULL, NULL, 0);
#endif
}

/* executor.c: the process-wide lock held around a context's first run and CUDA-graph
 * capture (lucid_cuda_exec_run says why); tactic timing captures under it too */
void lucid_cuda_first_run_lock(void);
void lucid_cuda_first_run_unlock(void);

/* executor.c: a context's kernels per running layer k (context.c declares them too) */
size_t lucid_cuda_exec_num_kernels(const void *exec, size_t k);
lucid_status lucid_cuda_exec_kernel(const void *exec, size_t k, size_t j, lucid_layer_kernel *out);
const char *lucid_cuda_exec_kernels_unavailable(const void *exec);
void lucid_cuda_exec_kernels_clear(void *exec);

/* layout.c: the backend's plan_layout hook */
lucid_status lucid_cuda_plan_layout(void *dev, lucid_graph *g, lucid_precision precision,
                                    int request, bool *nhwc, char *why, size_t why_len,
                                    lucid_error *err);

/* Is every float tensor of node n float32 (the only float dtype lucid's device plans store)? */
bool lucid_cuda_all_float(const lucid_graph *g, const lucid_node *n, char *why, size_t why_len);

/* Declares a device tactic struct. */
#define LUCID_CUDA_TACTIC(sym, tname, prec, flg, pref, var, sup, prep, rel, ws, runf)           \
    const lucid_tactic lucid_tactic_##sym = {                                                   \
        .name = tname,                                                                          \
        .backend = "cuda",                                                                      \
        .flags = flg,                                                                           \
        .preference = pref,                                                                     \
        .supports = sup,                                                                        \
        .release = rel,                                                                         \
        .workspace = ws,                                                                        \
        .device = LUCID_DEVICE_CUDA,                                                            \
        .precision = prec,                                                                      \
        .variant = var,                                                                         \
        .prepare_device = prep,                                                                 \
        .run_device = runf,                                                                     \
    };

/* The same with precision and flags as one argument ("LUCID_PRECISION_FP16, 0") */
#define LUCID_CUDA_TACTIC_EXPAND(m, args) m args
#define LUCID_CUDA_TACTIC_P(sym, tname, pf, pref, var, sup, prep, rel, ws, runf)                \
    LUCID_CUDA_TACTIC_EXPAND(LUCID_CUDA_TACTIC,                                                 \
                             (sym, tname, pf, pref, var, sup, prep, rel, ws, runf))

#endif
