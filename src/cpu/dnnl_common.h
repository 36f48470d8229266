/* dnnl_common.h - what lucid's oneDNN tactics share: error mapping, the OpenMP thread count
 * around oneDNN calls, activations as post-ops, constant reorders at prepare, and running a
 * primitive on lucid's buffers.
 *
 * Threads: Debian's oneDNN runs on OpenMP, not on lucid's pool. oneDNN reads the OpenMP
 * thread count (omp_get_max_threads of the calling thread) both when it creates a primitive
 * (many implementations fix their work split then) and when it runs one, so the tactics set
 * it to the plan's thread count around both and restore it after. nthreads-var is per calling
 * thread in OpenMP, so contexts running on different threads do not disturb each other. The
 * work split fixed at prepare means a primitive built for 2 threads runs its 2-way split even
 * when a context asks for 1: the tactics are THREAD_DEPENDENT, and the builder (which times
 * with the plan's thread count) never sees that case. */
#ifndef LUCID_CPU_DNNL_COMMON_H
#define LUCID_CPU_DNNL_COMMON_H

#ifdef LUCID_HAVE_DNNL

#include <dnnl.h>
#include <stdbool.h>
#include <stddef.h>

#include "ops/activation.h"
#include "tactics/tactic.h"

/* Workspace slices are cut at this alignment (oneDNN's blocked kernels like 64 bytes). */
#define LUCID_DNNL_ALIGN 64
static inline size_t lucid_dnnl_round(size_t b)
{
    return (b + LUCID_DNNL_ALIGN - 1) / LUCID_DNNL_ALIGN * LUCID_DNNL_ALIGN;
}

/* Sets the OpenMP thread count of the calling thread; returns the previous one to restore. */
int lucid_dnnl_threads_set(int threads);

/* One oneDNN eltwise operation: algorithm and its alpha and beta. */
typedef struct lucid_dnnl_eltwise {
    dnnl_alg_kind_t alg;
    float alpha, beta;
} lucid_dnnl_eltwise;

/* a as oneDNN eltwise operations applied in order: their count (0 for none, at
 * most 2), or -1 if oneDNN cannot express it. */
int lucid_dnnl_act_steps(const lucid_activation *a, lucid_dnnl_eltwise steps[2]);

/* Appends activation a as eltwise post-ops. False, with a reason, if oneDNN cannot
 * express it. */
bool lucid_dnnl_append_act(dnnl_post_ops_t po, const lucid_activation *a, char *why,
                           size_t why_len);

/* An attribute with the user scratchpad (lucid's workspace holds it) and, when po is not
 * NULL, those post-ops. NULL on failure. */
dnnl_primitive_attr_t lucid_dnnl_attr_create(const_dnnl_post_ops_t po);

/* Copies constant data from layout `from` to a new 64-byte aligned buffer in layout `to`
 * with a oneDNN reorder; *out is freed with free(). */
dnnl_status_t lucid_dnnl_reorder_const(dnnl_engine_t eng, const dnnl_memory_desc_t *from,
                                       const void *src, const dnnl_memory_desc_t *to, void **out);

/* Bytes of a primitive's scratchpad (0 when none). */
size_t lucid_dnnl_scratchpad_size(const_dnnl_primitive_desc_t pd);

/* One primitive argument: oneDNN's arg id, the layout and lucid's buffer. */
typedef struct lucid_dnnl_arg {
    int id;
    const dnnl_memory_desc_t *md;
    void *data;
} lucid_dnnl_arg;

/* One context's oneDNN handles for one layer (the tactics' bind): a stream and a memory
 * object per argument slot, each made on its first use (the context's first run) and
 * afterwards only pointed at lucid's buffers with dnnl_memory_set_data_handle. Slots are
 * fixed per tactic (the same execution always uses the same slots with the same layouts). */
#define LUCID_DNNL_SLOTS 24
typedef struct lucid_dnnl_handles {
    dnnl_stream_t stream;
    dnnl_memory_t mem[LUCID_DNNL_SLOTS];
} lucid_dnnl_handles;

/* The tactics' bind and unbind hooks: empty handles, and their release. */
lucid_status lucid_dnnl_bind(const void *state, void **bound, lucid_error *err);
void lucid_dnnl_unbind(void *bound);

/* The stream of h (made on first use), or, when h is NULL, a new one in *made that the caller
 * destroys. */
dnnl_status_t lucid_dnnl_stream(dnnl_engine_t eng, lucid_dnnl_handles *h, dnnl_stream_t *s,
                                dnnl_stream_t *made);

/* Executes prim with args on stream s and waits for it. With handles h, args use the memory
 * objects of slots slot..slot+nargs-1; without (h NULL), memory objects are made for this
 * execution and destroyed after it. oneDNN's dnnl_primitive_execute itself still allocates on
 * every call (operator new under it, on the calling thread: its argument map; some kernels
 * allocate temporaries on the worker threads too): what is left on a bound run path, out of
 * lucid's reach (tests/test_noalloc.c counts it apart). */
dnnl_status_t lucid_dnnl_execute(dnnl_engine_t eng, dnnl_stream_t s, lucid_dnnl_handles *h,
                                 int slot, const_dnnl_primitive_t prim, const lucid_dnnl_arg *args,
                                 int nargs);

/* Runs one primitive (slots from 0) with `threads` OpenMP threads (the caller's count is
 * restored): what a single-primitive tactic's run is. h as for lucid_dnnl_execute. */
dnnl_status_t lucid_dnnl_run_one(dnnl_engine_t eng, lucid_dnnl_handles *h,
                                 const_dnnl_primitive_t prim, const lucid_dnnl_arg *args, int nargs,
                                 int threads);

/* The run hook of a tactic whose run_bound is `bound_run`: runs it without handles. */
#define LUCID_DNNL_UNBOUND_RUN(name, bound_run)                                                    \
    static lucid_status name(const void *state, const lucid_array *in, int n_in, lucid_array *out, \
                             int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err) \
    {                                                                                              \
        return bound_run(state, NULL, in, n_in, out, n_out, workspace, pool, err);                 \
    }

/* A lucid error from a oneDNN status. */
lucid_status lucid_dnnl_error(lucid_error *err, const char *what, dnnl_status_t ds);

/* False, with the reason, when an instruction-set cap is in force (cpu->capped) and oneDNN
 * runs code above it: it was capped too late. Every dnnl tactic's supports asks first. */
bool lucid_dnnl_cap_ok(const lucid_cpu_features *cpu, char *why, size_t why_len);

#endif
#endif
