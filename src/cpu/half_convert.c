/* half_convert.c - whole-buffer float32 <-> 16-bit conversions, threaded in blocks, and the
 * Cast tactics cpu.cast.f32_f16.avx512 and cpu.cast.f32_bf16.avx512 built on them (both
 * directions each; the reference Cast serves every other pair). */
#include <stdio.h>
#include <stdlib.h>

#include "core/util.h"
#include "cpu/half_convert.h"
#include "ops/op.h"
#include "tactics/tactic.h"

/* 16 Ki values a block: 96 KiB read and written, enough to amortize a thread's wake-up */
#define CONVERT_GRAIN 16384

typedef struct convert_job {
    lucid_dtype dtype;
    const void *src;
    void *dst;
    bool avx512, widen;
} convert_job;

static void convert_range(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const convert_job *j = ctx;
    const int64_t n = (int64_t)(end - begin);
    const bool f16 = j->dtype == LUCID_DTYPE_FLOAT16;
    if (j->widen) {
        const uint16_t *s = (const uint16_t *)j->src + begin;
        float *d = (float *)j->dst + begin;
        if (!j->avx512)
            lucid_half_widen(j->dtype, s, d, n);
        else if (f16)
            lucid_avx512_f16_to_f32(s, d, n);
        else
            lucid_avx512_bf16_to_f32(s, d, n);
    } else {
        const float *s = (const float *)j->src + begin;
        uint16_t *d = (uint16_t *)j->dst + begin;
        if (!j->avx512)
            lucid_half_narrow(j->dtype, s, d, n);
        else if (f16)
            lucid_avx512_f32_to_f16(s, d, n);
        else
            lucid_avx512_f32_to_bf16(s, d, n);
    }
}

static void convert(lucid_dtype dtype, const void *src, void *dst, int64_t n, bool avx512,
                    bool widen, lucid_threadpool *pool)
{
    if (n <= 0) return;
    convert_job j = {dtype, src, dst, avx512, widen};
    if (n <= CONVERT_GRAIN || lucid_threadpool_size(pool) < 2)
        convert_range(&j, 0, (size_t)n, 0);
    else
        lucid_threadpool_run(pool, (size_t)n, CONVERT_GRAIN, convert_range, &j);
}

void lucid_half_to_f32_buffer(lucid_dtype dtype, const void *src, float *dst, int64_t n,
                              bool avx512, lucid_threadpool *pool)
{
    convert(dtype, src, dst, n, avx512, true, pool);
}

void lucid_f32_to_half_buffer(lucid_dtype dtype, const float *src, void *dst, int64_t n,
                              bool avx512, lucid_threadpool *pool)
{
    convert(dtype, src, dst, n, avx512, false, pool);
}

/* ---- the Cast tactics ---- */

typedef struct cast_state {
    lucid_dtype half; /* the 16-bit side */
    bool widen;       /* 16-bit -> float32 */
    int64_t count;
} cast_state;

static bool cast_resolve(const lucid_graph *g, const lucid_node *n, lucid_dtype half,
                         cast_state *s, char *why, size_t why_len)
{
    if (n->op != LUCID_OP_CAST) return false;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if (!x || !y || !lucid_tensor_shape_known(x)) {
        snprintf(why, why_len, "needs a static shape");
        return false;
    }
    if (x->dtype == LUCID_DTYPE_FLOAT && y->dtype == half)
        s->widen = false;
    else if (x->dtype == half && y->dtype == LUCID_DTYPE_FLOAT)
        s->widen = true;
    else {
        snprintf(why, why_len, "casts float32 <-> %s only", lucid_dtype_name(half));
        return false;
    }
    s->half = half;
    s->count = lucid_tensor_numel(x);
    return true;
}

static bool cast_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                          lucid_dtype half, char *why, size_t why_len)
{
    cast_state s;
    if (!cast_resolve(g, n, half, &s, why, why_len)) return false;
    if (!cpu->avx512f || !cpu->avx512bw || !cpu->f16c) {
        snprintf(why, why_len, "needs AVX-512F/BW and F16C");
        return false;
    }
    return true;
}

static bool cast_f16_supports(const lucid_graph *g, const lucid_node *n,
                              const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    return cast_supports(g, n, cpu, LUCID_DTYPE_FLOAT16, why, why_len);
}

static bool cast_bf16_supports(const lucid_graph *g, const lucid_node *n,
                               const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    return cast_supports(g, n, cpu, LUCID_DTYPE_BFLOAT16, why, why_len);
}

static lucid_status cast_prepare(const lucid_graph *g, const lucid_node *n, lucid_dtype half,
                                 void **state, lucid_error *err)
{
    char why[160] = "";
    cast_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!cast_resolve(g, n, half, s, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    *state = s;
    return LUCID_STATUS_OK;
}

static lucid_status cast_f16_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                     void **state, lucid_error *err)
{
    (void)max_threads;
    return cast_prepare(g, n, LUCID_DTYPE_FLOAT16, state, err);
}

static lucid_status cast_bf16_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                      void **state, lucid_error *err)
{
    (void)max_threads;
    return cast_prepare(g, n, LUCID_DTYPE_BFLOAT16, state, err);
}

static void cast_release(void *state)
{
    free(state);
}

static lucid_status cast_run(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)workspace;
    (void)err;
    const cast_state *s = state;
    if (s->widen)
        lucid_half_to_f32_buffer(s->half, in[0].data, out[0].data, s->count, true, pool);
    else
        lucid_f32_to_half_buffer(s->half, in[0].data, out[0].data, s->count, true, pool);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_cpu_cast_f32_f16_avx512 = {
    .name = "cpu.cast.f32_f16.avx512",
    .backend = "cpu",
    .preference = 100,
    .supports = cast_f16_supports,
    .prepare = cast_f16_prepare,
    .release = cast_release,
    .workspace = lucid_tactic_no_workspace,
    .run = cast_run,
};

const lucid_tactic lucid_tactic_cpu_cast_f32_bf16_avx512 = {
    .name = "cpu.cast.f32_bf16.avx512",
    .backend = "cpu",
    .preference = 100,
    .supports = cast_bf16_supports,
    .prepare = cast_bf16_prepare,
    .release = cast_release,
    .workspace = lucid_tactic_no_workspace,
    .run = cast_run,
};
