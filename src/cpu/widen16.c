/* widen16.c - 16-bit layers on float32 kernels: a widen16.<tactic> tactic runs a float16 or
 * bfloat16 layer with the float32 tactic <tactic>. At prepare the layer is copied into a
 * one-node float32 graph (its 16-bit constants widened, exactly), on which the float32 tactic
 * prepares as it always does; at run the 16-bit activation inputs are widened into the
 * workspace, the float32 tactic computes, and its float32 outputs are rounded once (to
 * nearest even) into the 16-bit outputs. Storage stays 16-bit between layers, arithmetic is
 * float32: the honest way to run FP16 on a processor without FP16 arithmetic (Zen 5 has no
 * AVX512-FP16, and oneDNN 2.6 no float16 convolution without it), and a fallback for BF16
 * layers that oneDNN's bf16 kernels do not take. Conversions use AVX-512 where present. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "cpu/half_convert.h"
#include "ops/op.h"
#include "tactics/tactic.h"

#define WIDEN_MAX_IO 8
#define WIDEN_ALIGN 64

static size_t widen_round(size_t b)
{
    return (b + WIDEN_ALIGN - 1) / WIDEN_ALIGN * WIDEN_ALIGN;
}

static bool refuse(char *why, size_t why_len, const char *msg)
{
    if (why && why_len) snprintf(why, why_len, "%s", msg);
    return false;
}

/* The 16-bit dtype of n's float operands, or UNDEFINED when it has none or mixes them. */
static lucid_dtype node_half_dtype(const lucid_graph *g, const lucid_node *n, bool *mixed)
{
    lucid_dtype d = LUCID_DTYPE_UNDEFINED;
    *mixed = false;
    for (int pass = 0; pass < 2; pass++) {
        const int *ts = pass ? n->outputs : n->inputs;
        int count = pass ? n->n_outputs : n->n_inputs;
        for (int k = 0; k < count; k++) {
            if (ts[k] < 0) continue;
            lucid_dtype t = g->tensors[ts[k]].dtype;
            if (!lucid_dtype_is_float16(t)) continue;
            if (d != LUCID_DTYPE_UNDEFINED && d != t) *mixed = true;
            d = t;
        }
    }
    return d;
}

static bool copy_attr(lucid_attr *d, const lucid_attr *s)
{
    memset(d, 0, sizeof *d);
    d->type = s->type;
    d->i = s->i;
    d->f = s->f;
    d->count = s->count;
    if (!(d->name = lucid_strdup(s->name))) return false;
    if (s->s && !(d->s = lucid_strdup(s->s))) return false;
    size_t c = s->count ? s->count : 1;
    if (s->ints) {
        if (!(d->ints = malloc(sizeof(int64_t) * c))) return false;
        memcpy(d->ints, s->ints, sizeof(int64_t) * s->count);
    }
    if (s->floats) {
        if (!(d->floats = malloc(sizeof(float) * c))) return false;
        memcpy(d->floats, s->floats, sizeof(float) * s->count);
    }
    if (s->strings) {
        if (!(d->strings = calloc(c, sizeof(char *)))) return false;
        for (size_t i = 0; i < s->count; i++)
            if (!(d->strings[i] = lucid_strdup(s->strings[i]))) return false;
    }
    return s->t == NULL; /* no layer the wrapped tactics run has tensor attributes */
}

lucid_graph *lucid_half_shadow_create(const lucid_graph *g, const lucid_node *n, char *why,
                                      size_t why_len)
{
    lucid_graph *s = lucid_graph_create();
    lucid_error err = {0};
    int ins[WIDEN_MAX_IO], outs[WIDEN_MAX_IO];
    if (!s) goto oom;
    if (n->n_inputs > WIDEN_MAX_IO || n->n_outputs > WIDEN_MAX_IO) {
        refuse(why, why_len, "too many inputs or outputs");
        goto fail;
    }
    s->opset = g->opset;
    for (int pass = 0; pass < 2; pass++) {
        const int *ts = pass ? n->outputs : n->inputs;
        int count = pass ? n->n_outputs : n->n_inputs;
        int *dst = pass ? outs : ins;
        for (int k = 0; k < count; k++) {
            dst[k] = -1;
            if (ts[k] < 0) continue;
            const lucid_ir_tensor *x = &g->tensors[ts[k]];
            bool existed = lucid_graph_find(s, x->name) >= 0;
            int t = lucid_graph_tensor(s, x->name, &err);
            if (t < 0) goto oom;
            dst[k] = t;
            if (existed) continue;
            const bool half = lucid_dtype_is_float16(x->dtype);
            if (x->data && !pass) {
                int64_t count_v = lucid_tensor_numel(x);
                size_t nb = half ? sizeof(float) * (size_t)count_v : x->nbytes;
                void *d = malloc(nb ? nb : 1);
                if (!d) goto oom;
                if (half)
                    lucid_half_widen(x->dtype, x->data, d, count_v);
                else if (nb)
                    memcpy(d, x->data, nb);
                if (lucid_graph_set_initializer(s, t, half ? LUCID_DTYPE_FLOAT : x->dtype, x->rank,
                                                x->dims, d, nb, &err)) {
                    free(d);
                    goto oom;
                }
                continue;
            }
            lucid_ir_tensor *y = &s->tensors[t];
            y->dtype = half ? LUCID_DTYPE_FLOAT : x->dtype;
            y->rank = x->rank;
            memcpy(y->dims, x->dims, sizeof y->dims);
            if (!pass && lucid_graph_add_input(s, t, &err)) goto oom;
            if (pass && lucid_graph_add_output(s, t, &err)) goto oom;
        }
    }
    int idx = lucid_graph_add_node(s, n->name, n->op_type, n->domain, n->opset, ins, n->n_inputs,
                                   outs, n->n_outputs, &err);
    if (idx < 0) goto oom;
    lucid_node *d = &s->nodes[idx];
    for (int a = 0; a < n->n_attrs; a++) {
        lucid_attr at;
        if (!copy_attr(&at, &n->attrs[a])) {
            lucid_attr_free(&at);
            refuse(why, why_len, "attributes could not be copied");
            goto fail;
        }
        if (lucid_node_add_attr(d, &at, &err)) {
            lucid_attr_free(&at);
            goto oom;
        }
    }
    if (lucid_graph_finalize(s, &err)) {
        snprintf(why, why_len, "float32 copy: %s", err.message);
        goto fail;
    }
    return s;
oom:
    refuse(why, why_len, "out of memory copying the layer to float32");
fail:
    lucid_graph_destroy(s);
    return NULL;
}

typedef struct widen_state {
    const lucid_tactic *inner;
    lucid_graph *shadow;
    void *inner_state;
    lucid_dtype half;
    bool avx512;
    int n_in, n_out;
    bool convert[2][WIDEN_MAX_IO];  /* [0] inputs widened, [1] outputs narrowed */
    int64_t count[2][WIDEN_MAX_IO];
    size_t offset[2][WIDEN_MAX_IO]; /* in the workspace */
    size_t buffers;                 /* bytes of all float32 buffers */
} widen_state;

static bool widen_check(const lucid_graph *g, const lucid_node *n, char *why, size_t why_len)
{
    bool mixed;
    lucid_dtype d = node_half_dtype(g, n, &mixed);
    if (d == LUCID_DTYPE_UNDEFINED) return refuse(why, why_len, "no 16-bit operands");
    if (mixed) return refuse(why, why_len, "mixes float16 and bfloat16");
    for (int pass = 0; pass < 2; pass++) {
        const int *ts = pass ? n->outputs : n->inputs;
        int count = pass ? n->n_outputs : n->n_inputs;
        for (int k = 0; k < count; k++)
            if (ts[k] >= 0 && !lucid_tensor_shape_known(&g->tensors[ts[k]]))
                return refuse(why, why_len, "needs static shapes");
    }
    return true;
}

static bool widen_supports(const lucid_tactic *inner, const lucid_graph *g, const lucid_node *n,
                           const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!widen_check(g, n, why, why_len)) return false;
    lucid_graph *s = lucid_half_shadow_create(g, n, why, why_len);
    if (!s) return false;
    char iw[160] = "";
    bool ok = inner->supports(s, &s->nodes[0], cpu, iw, sizeof iw);
    if (!ok) snprintf(why, why_len, "%s: %s", inner->name, iw);
    lucid_graph_destroy(s);
    return ok;
}

static void widen_release(void *state)
{
    widen_state *s = state;
    if (!s) return;
    if (s->inner_state) s->inner->release(s->inner_state);
    lucid_graph_destroy(s->shadow);
    free(s);
}

static lucid_status widen_prepare(const lucid_tactic *inner, const lucid_graph *g,
                                  const lucid_node *n, int max_threads, void **state,
                                  lucid_error *err)
{
    char why[256] = "";
    if (!widen_check(g, n, why, sizeof why))
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    widen_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    bool mixed;
    s->inner = inner;
    s->half = node_half_dtype(g, n, &mixed);
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    s->avx512 = cpu.avx512f && cpu.avx512bw && cpu.f16c;
    s->n_in = n->n_inputs;
    s->n_out = n->n_outputs;
    if (!(s->shadow = lucid_half_shadow_create(g, n, why, sizeof why))) {
        widen_release(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    for (int pass = 0; pass < 2; pass++) {
        const int *ts = pass ? n->outputs : n->inputs;
        int count = pass ? n->n_outputs : n->n_inputs;
        for (int k = 0; k < count; k++) {
            if (ts[k] < 0) continue;
            const lucid_ir_tensor *x = &g->tensors[ts[k]];
            if (!lucid_dtype_is_float16(x->dtype) || (!pass && x->data)) continue;
            s->convert[pass][k] = true;
            s->count[pass][k] = lucid_tensor_numel(x);
            s->offset[pass][k] = s->buffers;
            s->buffers += widen_round(sizeof(float) * (size_t)s->count[pass][k]);
        }
    }
    lucid_status st = inner->prepare(s->shadow, &s->shadow->nodes[0], max_threads,
                                     &s->inner_state, err);
    if (st) {
        s->inner_state = NULL;
        widen_release(s);
        return st;
    }
    *state = s;
    return LUCID_STATUS_OK;
}

static size_t widen_workspace(const void *state, int threads)
{
    const widen_state *s = state;
    return s->buffers + widen_round(s->inner->workspace(s->inner_state, threads));
}

static lucid_status widen_run(const void *state, const lucid_array *in, int n_in,
                              lucid_array *out, int n_out, void *workspace,
                              lucid_threadpool *pool, lucid_error *err)
{
    const widen_state *s = state;
    const lucid_graph *sg = s->shadow;
    const lucid_node *sn = &sg->nodes[0];
    char *ws = workspace;
    lucid_array fin[WIDEN_MAX_IO], fout[WIDEN_MAX_IO];
    for (int k = 0; k < n_in && k < WIDEN_MAX_IO; k++) {
        fin[k] = in[k];
        const lucid_ir_tensor *x = lucid_op_input(sg, sn, k);
        if (x && x->data) { /* constants: the float32 copy the inner tactic prepared with */
            lucid_tensor_array(x, x->data, &fin[k]);
        } else if (s->convert[0][k]) {
            float *f = (float *)(ws + s->offset[0][k]);
            lucid_half_to_f32_buffer(s->half, in[k].data, f, s->count[0][k], s->avx512, pool);
            fin[k].dtype = LUCID_DTYPE_FLOAT;
            fin[k].data = f;
            fin[k].nbytes = sizeof(float) * (size_t)s->count[0][k];
        }
    }
    for (int k = 0; k < n_out && k < WIDEN_MAX_IO; k++) {
        fout[k] = out[k];
        if (!s->convert[1][k]) continue;
        fout[k].dtype = LUCID_DTYPE_FLOAT;
        fout[k].data = ws + s->offset[1][k];
        fout[k].nbytes = sizeof(float) * (size_t)s->count[1][k];
    }
    lucid_status st = s->inner->run(s->inner_state, fin, n_in, fout, n_out, ws + s->buffers,
                                    pool, err);
    if (st) return st;
    for (int k = 0; k < n_out && k < WIDEN_MAX_IO; k++)
        if (s->convert[1][k])
            lucid_f32_to_half_buffer(s->half, fout[k].data, out[k].data, s->count[1][k],
                                     s->avx512, pool);
    return LUCID_STATUS_OK;
}

/* One wrapper per float32 tactic worth wrapping (the layer kinds cast16 lets run in 16
 * bits), in the layout that tactic reads and writes. The same symbols, prefixed widen16_, are
 * listed in tactics/tactic_list.h. */
#define WIDEN16_TACTIC(SYM, NAME, LAYOUT)                                                       \
    extern const lucid_tactic lucid_tactic_##SYM;                                              \
    static bool widen_supports_##SYM(const lucid_graph *g, const lucid_node *n,                \
                                     const lucid_cpu_features *cpu, char *why, size_t len)    \
    {                                                                                          \
        return widen_supports(&lucid_tactic_##SYM, g, n, cpu, why, len);                       \
    }                                                                                          \
    static lucid_status widen_prepare_##SYM(const lucid_graph *g, const lucid_node *n,        \
                                            int threads, void **state, lucid_error *err)       \
    {                                                                                          \
        return widen_prepare(&lucid_tactic_##SYM, g, n, threads, state, err);                  \
    }                                                                                          \
    const lucid_tactic lucid_tactic_widen16_##SYM = {                                          \
        .name = "widen16." NAME,                                                               \
        .backend = "cpu",                                                                      \
        .flags = LUCID_TACTIC_THREAD_DEPENDENT,                                                \
        .preference = 2000,                                                                    \
        .in_layout = LAYOUT,                                                                   \
        .out_layout = LAYOUT,                                                                  \
        .supports = widen_supports_##SYM,                                                      \
        .prepare = widen_prepare_##SYM,                                                        \
        .release = widen_release,                                                              \
        .workspace = widen_workspace,                                                          \
        .run = widen_run,                                                                      \
    };

#define PLAIN LUCID_LAYOUT_PLAIN
WIDEN16_TACTIC(cpu_gemm_f32_avx512, "cpu.gemm.f32.avx512", PLAIN)
WIDEN16_TACTIC(cpu_conv_f32_pointwise_smallk_avx512, "cpu.conv.f32.pointwise_smallk.avx512", PLAIN)
WIDEN16_TACTIC(cpu_conv_f32_1x1_gemm_avx512, "cpu.conv.f32.1x1_gemm.avx512", PLAIN)
WIDEN16_TACTIC(cpu_conv_f32_depthwise_avx512, "cpu.conv.f32.depthwise.avx512", PLAIN)
WIDEN16_TACTIC(cpu_conv_f32_direct_avx512, "cpu.conv.f32.direct.avx512", PLAIN)
WIDEN16_TACTIC(cpu_conv_f32_winograd_f4x3_avx512, "cpu.conv.f32.winograd_f4x3.avx512", PLAIN)
WIDEN16_TACTIC(cpu_conv_f32_im2col_gemm_avx512, "cpu.conv.f32.im2col_gemm.avx512", PLAIN)
WIDEN16_TACTIC(cpu_pool_f32_max_avx512, "cpu.pool.f32.max.avx512", PLAIN)
WIDEN16_TACTIC(cpu_pool_f32_avg_avx512, "cpu.pool.f32.avg.avx512", PLAIN)
WIDEN16_TACTIC(cpu_batchnorm_f32_avx512, "cpu.batchnorm.f32.avx512", PLAIN)
WIDEN16_TACTIC(cpu_eltwise_f32_avx512, "cpu.eltwise.f32.avx512", PLAIN)
#ifdef LUCID_HAVE_DNNL
WIDEN16_TACTIC(dnnl_conv_f32_nchw, "dnnl.conv.f32.nchw", PLAIN)
WIDEN16_TACTIC(dnnl_conv_f32_blocked_reorder, "dnnl.conv.f32.blocked_reorder", PLAIN)
WIDEN16_TACTIC(dnnl_conv_f32_nhwc, "dnnl.conv.f32.nhwc", LUCID_LAYOUT_NHWC)
WIDEN16_TACTIC(dnnl_matmul_f32, "dnnl.matmul.f32", PLAIN)
WIDEN16_TACTIC(dnnl_pool_f32_nhwc, "dnnl.pool.f32.nhwc", LUCID_LAYOUT_NHWC)
#endif
