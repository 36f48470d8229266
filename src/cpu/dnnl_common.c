/* dnnl_common.c - oneDNN helpers shared by the dnnl tactics (see dnnl_common.h). */
#ifdef LUCID_HAVE_DNNL

#include "cpu/dnnl_common.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"

int lucid_dnnl_threads_set(int threads)
{
    int old = omp_get_max_threads();
    omp_set_num_threads(threads < 1 ? 1 : threads);
    return old;
}

int lucid_dnnl_act_steps(const lucid_activation *a, lucid_dnnl_eltwise steps[2])
{
    switch (a->kind) {
    case LUCID_ACT_NONE:
        return 0;
    case LUCID_ACT_RELU:
        steps[0] = (lucid_dnnl_eltwise){dnnl_eltwise_relu, 0, 0};
        return 1;
    case LUCID_ACT_LEAKY_RELU:
        /* oneDNN's relu with a negative slope alpha is LeakyRelu */
        steps[0] = (lucid_dnnl_eltwise){dnnl_eltwise_relu, a->alpha, 0};
        return 1;
    case LUCID_ACT_CLIP:
        /* clip with infinite bounds: oneDNN compares with them like Clip does */
        steps[0] = (lucid_dnnl_eltwise){dnnl_eltwise_clip, a->alpha, a->beta};
        return 1;
    case LUCID_ACT_SIGMOID:
        steps[0] = (lucid_dnnl_eltwise){dnnl_eltwise_logistic, 0, 0};
        return 1;
    case LUCID_ACT_HARD_SIGMOID:
        /* oneDNN 2.6 has no hardsigmoid: linear alpha*x + beta, then clip to [0, 1] */
        steps[0] = (lucid_dnnl_eltwise){dnnl_eltwise_linear, a->alpha, a->beta};
        steps[1] = (lucid_dnnl_eltwise){dnnl_eltwise_clip, 0.0f, 1.0f};
        return 2;
    case LUCID_ACT_HARD_SWISH:
        /* oneDNN 2.6's hardswish is x * relu6(x + 3) / 6, ONNX's HardSwish */
        steps[0] = (lucid_dnnl_eltwise){dnnl_eltwise_hardswish, 0, 0};
        return 1;
    case LUCID_ACT_SILU:
        /* swish is x * sigmoid(alpha * x) */
        steps[0] = (lucid_dnnl_eltwise){dnnl_eltwise_swish, 1.0f, 0};
        return 1;
    case LUCID_ACT_TANH:
        steps[0] = (lucid_dnnl_eltwise){dnnl_eltwise_tanh, 0, 0};
        return 1;
    default:
        return -1;
    }
}

bool lucid_dnnl_append_act(dnnl_post_ops_t po, const lucid_activation *a, char *why,
                           size_t why_len)
{
    lucid_dnnl_eltwise steps[2];
    const int n = lucid_dnnl_act_steps(a, steps);
    if (n < 0) {
        snprintf(why, why_len, "activation has no oneDNN eltwise post-op");
        return false;
    }
    for (int i = 0; i < n; i++) {
        dnnl_status_t ds =
            dnnl_post_ops_append_eltwise(po, 1.0f, steps[i].alg, steps[i].alpha, steps[i].beta);
        if (ds != dnnl_success) {
            snprintf(why, why_len, "oneDNN refused the activation post-op (status %d)", (int)ds);
            return false;
        }
    }
    return true;
}

dnnl_primitive_attr_t lucid_dnnl_attr_create(const_dnnl_post_ops_t po)
{
    dnnl_primitive_attr_t attr = NULL;
    if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
    if (dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success ||
        (po && dnnl_primitive_attr_set_post_ops(attr, po) != dnnl_success)) {
        dnnl_primitive_attr_destroy(attr);
        return NULL;
    }
    return attr;
}

size_t lucid_dnnl_scratchpad_size(const_dnnl_primitive_desc_t pd)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    return md ? dnnl_memory_desc_get_size(md) : 0;
}

lucid_status lucid_dnnl_bind(const void *state, void **bound, lucid_error *err)
{
    (void)state;
    *bound = calloc(1, sizeof(lucid_dnnl_handles));
    return *bound ? LUCID_STATUS_OK
                  : lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory (oneDNN handles)");
}

void lucid_dnnl_unbind(void *bound)
{
    lucid_dnnl_handles *h = bound;
    if (!h) return;
    for (int i = 0; i < LUCID_DNNL_SLOTS; i++)
        if (h->mem[i]) dnnl_memory_destroy(h->mem[i]);
    if (h->stream) dnnl_stream_destroy(h->stream);
    free(h);
}

dnnl_status_t lucid_dnnl_stream(dnnl_engine_t eng, lucid_dnnl_handles *h, dnnl_stream_t *s,
                                dnnl_stream_t *made)
{
    *made = NULL;
    if (h && h->stream) {
        *s = h->stream;
        return dnnl_success;
    }
    dnnl_status_t ds = dnnl_stream_create(s, eng, dnnl_stream_default_flags);
    if (ds != dnnl_success) return ds;
    if (h)
        h->stream = *s;
    else
        *made = *s;
    return dnnl_success;
}

dnnl_status_t lucid_dnnl_execute(dnnl_engine_t eng, dnnl_stream_t s, lucid_dnnl_handles *h,
                                 int slot, const_dnnl_primitive_t prim, const lucid_dnnl_arg *args,
                                 int nargs)
{
    enum { MAX_ARGS = 8 };
    dnnl_exec_arg_t ea[MAX_ARGS] = {{0}};
    dnnl_status_t ds = dnnl_success;
    int made = 0;
    if (nargs > MAX_ARGS || (h && (slot < 0 || slot + nargs > LUCID_DNNL_SLOTS)))
        return dnnl_invalid_arguments;
    for (int i = 0; i < nargs; i++) {
        ea[i].arg = args[i].id;
        if (h && h->mem[slot + i]) {
            ds = dnnl_memory_set_data_handle(h->mem[slot + i], args[i].data);
            ea[i].memory = h->mem[slot + i];
        } else {
            ds = dnnl_memory_create(&ea[i].memory, args[i].md, eng, args[i].data);
            if (ds == dnnl_success && h)
                h->mem[slot + i] = ea[i].memory;
            else if (ds == dnnl_success)
                made = i + 1;
        }
        if (ds != dnnl_success) goto done;
    }
    ds = dnnl_primitive_execute(prim, s, nargs, ea);
    if (ds == dnnl_success) ds = dnnl_stream_wait(s);
done:
    for (int i = 0; !h && i < made; i++)
        dnnl_memory_destroy(ea[i].memory);
    return ds;
}

dnnl_status_t lucid_dnnl_run_one(dnnl_engine_t eng, lucid_dnnl_handles *h,
                                 const_dnnl_primitive_t prim, const lucid_dnnl_arg *args, int nargs,
                                 int threads)
{
    int old = lucid_dnnl_threads_set(threads);
    dnnl_stream_t st = NULL, made = NULL;
    dnnl_status_t ds = lucid_dnnl_stream(eng, h, &st, &made);
    if (ds == dnnl_success) ds = lucid_dnnl_execute(eng, st, h, 0, prim, args, nargs);
    if (made) dnnl_stream_destroy(made);
    lucid_dnnl_threads_set(old);
    return ds;
}

dnnl_status_t lucid_dnnl_reorder_const(dnnl_engine_t eng, const dnnl_memory_desc_t *from,
                                       const void *src, const dnnl_memory_desc_t *to, void **out)
{
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_stream_t s = NULL;
    void *dst = NULL, *scratch = NULL;
    *out = NULL;
    /* a user scratchpad like every lucid primitive, here a plain temporary: this is prepare */
    dnnl_primitive_attr_t attr = lucid_dnnl_attr_create(NULL);
    dnnl_status_t ds = attr ? dnnl_success : dnnl_out_of_memory;
    if (ds == dnnl_success) ds = dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, attr);
    if (ds == dnnl_success) ds = dnnl_primitive_create(&prim, pd);
    if (ds == dnnl_success) ds = dnnl_stream_create(&s, eng, dnnl_stream_default_flags);
    size_t bytes = lucid_dnnl_round(dnnl_memory_desc_get_size(to));
    size_t sbytes = ds == dnnl_success ? lucid_dnnl_round(lucid_dnnl_scratchpad_size(pd)) : 0;
    if (ds == dnnl_success &&
        !(dst = aligned_alloc(LUCID_DNNL_ALIGN, bytes ? bytes : LUCID_DNNL_ALIGN)))
        ds = dnnl_out_of_memory;
    if (ds == dnnl_success && sbytes && !(scratch = aligned_alloc(LUCID_DNNL_ALIGN, sbytes)))
        ds = dnnl_out_of_memory;
    if (ds == dnnl_success) {
        const dnnl_memory_desc_t *smd =
            dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        lucid_dnnl_arg args[3] = {
            {DNNL_ARG_FROM, from, (void *)src},
            {DNNL_ARG_TO, to, dst},
            {DNNL_ARG_SCRATCHPAD, smd, scratch},
        };
        ds = lucid_dnnl_execute(eng, s, NULL, 0, prim, args, sbytes ? 3 : 2);
    }
    free(scratch);
    if (ds == dnnl_success)
        *out = dst;
    else
        free(dst);
    if (s) dnnl_stream_destroy(s);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return ds;
}

lucid_status lucid_dnnl_error(lucid_error *err, const char *what, dnnl_status_t ds)
{
    return lucid_errorf(
        err, ds == dnnl_out_of_memory ? LUCID_STATUS_OUT_OF_MEMORY : LUCID_STATUS_UNSUPPORTED,
        "oneDNN %s failed (dnnl status %d)", what, (int)ds);
}

/* oneDNN's ISA for each of lucid's levels (its values are bit sets: a level includes the ones
 * it contains) */
static dnnl_cpu_isa_t dnnl_isa_of(lucid_cpu_isa level)
{
    switch (level) {
    case LUCID_CPU_ISA_GENERIC:
        return dnnl_cpu_isa_sse41;
    case LUCID_CPU_ISA_AVX2:
        return dnnl_cpu_isa_avx2;
    case LUCID_CPU_ISA_AVX512:
        return dnnl_cpu_isa_avx512_core;
    case LUCID_CPU_ISA_AVX512_VNNI:
        return dnnl_cpu_isa_avx512_core_vnni;
    case LUCID_CPU_ISA_AVX512_BF16:
        return dnnl_cpu_isa_avx512_core_bf16;
    default:
        return dnnl_cpu_isa_all;
    }
}

void lucid_dnnl_cap(lucid_cpu_isa level)
{
    /* oneDNN takes this only before it first dispatches, and only once: a later call fails,
     * and lucid_dnnl_cap_ok then refuses the tactics if oneDNN runs above the cap */
    (void)dnnl_set_max_cpu_isa(dnnl_isa_of(level));
}

bool lucid_dnnl_cap_ok(const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    /* Below AVX2 oneDNN runs its SSE4.1 code, which lucid's tests found crashing: Debian's
     * oneDNN 2.6.3 limited to SSE4.1 (ONEDNN_MAX_CPU_ISA=SSE41, or the generic cap) took
     * a segmentation fault inside a JIT convolution kernel in test_tactics on a Zen 4. */
    if (cpu && !cpu->avx2) {
        snprintf(why, why_len,
                 "oneDNN is used on AVX2 processors and above (its SSE4.1 convolution crashed)");
        return false;
    }
    if (!cpu || !cpu->capped) return true;
    const unsigned eff = (unsigned)dnnl_get_effective_cpu_isa();
    const unsigned cap = (unsigned)dnnl_isa_of(cpu->level);
    if (cap == (unsigned)dnnl_cpu_isa_all || (eff & ~cap) == 0) return true;
    snprintf(why, why_len,
             "oneDNN already dispatches above the instruction-set cap %s (its ISA 0x%x; the cap "
             "must be set before oneDNN first runs)",
             lucid_cpu_isa_name(cpu->level), eff);
    return false;
}

#else

#include "tactics/tactic.h"

void lucid_dnnl_cap(lucid_cpu_isa level)
{
    (void)level;
}

#endif
