/* eltwise_avx512.c - cpu.eltwise.f32.avx512 (Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid,
 * HardSwish, Tanh; Add/Sub/Mul of equal shapes, a scalar, or one value per row such as a
 * per-channel bias or a squeeze-excite scale; .nhwc and .nchw16c on those layouts, where a
 * broadcast must be one value per channel), cpu.softmax.f32.avx512 (the last axis) and
 * cpu.batchnorm.f32.avx512 (inference BatchNormalization with its fused activation; .nchw16c
 * on channel blocks of 16), threaded
 * over the flat range in fixed chunks. */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/eltwise_avx512.h"
#include "ops/activation.h"
#include "ops/layout.h"
#include "ops/op.h"
#include "tactics/tactic.h"

#define EW_GRAIN 4096 /* elements per chunk: large enough to amortize the hand-off */

typedef enum ew_kind { EW_UNARY, EW_ADD, EW_SUB, EW_MUL } ew_kind;

/* How a binary op's small operand lines up with the output: along the flat index (same
 * shape, a scalar, or plain NCHW's outer x mid x inner), or one value per channel of a
 * channels-last (NHWC) or NCHW16C output. */
typedef enum ew_bcast { EW_BCAST_FLAT, EW_BCAST_NHWC, EW_BCAST_BLOCKED } ew_bcast;

typedef struct ew_state {
    ew_kind kind;
    ew_bcast bcast;
    int64_t chan, pixels, sm_batch; /* per-channel forms: C, H*W, small's batch stride */
    lucid_activation act;   /* unary ops: the activation (and its alpha/beta) */
    bool clip_inputs;       /* Clip from opset 11: bounds from inputs 1 and 2 at run time */
    int full, small;        /* binary: which input has the output's shape, which broadcasts */
    int64_t total, outer, mid, inner; /* small has mid values; out is outer x mid x inner */
} ew_state;

static bool ew_refuse(char *why, size_t why_len, const char *msg)
{
    snprintf(why, why_len, "%s", msg);
    return false;
}

/* Classifies node n, its activations in `layout`, into s; false with a reason if these
 * kernels do not cover it. */
static bool ew_resolve(const lucid_graph *g, const lucid_node *n, lucid_layout layout,
                       ew_state *s, char *why, size_t why_len)
{
    memset(s, 0, sizeof *s);
    const lucid_ir_tensor *y = lucid_op_output(g, n, 0);
    if (!y || y->dtype != LUCID_DTYPE_FLOAT || !lucid_tensor_shape_known(y))
        return ew_refuse(why, why_len, "only float32 with static shapes");
    s->total = lucid_tensor_numel(y);
    switch (n->op) {
    case LUCID_OP_RELU:
    case LUCID_OP_SIGMOID:
    case LUCID_OP_HARD_SWISH:
    case LUCID_OP_TANH:
    case LUCID_OP_LEAKY_RELU:
    case LUCID_OP_HARD_SIGMOID:
    case LUCID_OP_CLIP:
        if (!lucid_activation_of_op(g, n, &s->act, NULL))
            return ew_refuse(why, why_len, "parameters not parsed");
        /* Clip from opset 11: bounds from inputs 1 and 2, read at run time */
        s->clip_inputs = n->op == LUCID_OP_CLIP && n->opset >= 11;
        break;
    case LUCID_OP_ADD: s->kind = EW_ADD; break;
    case LUCID_OP_SUB: s->kind = EW_SUB; break;
    case LUCID_OP_MUL: s->kind = EW_MUL; break;
    default: return false; /* another op: nothing to report */
    }
    const lucid_ir_tensor *a = lucid_op_input(g, n, 0);
    if (!a || a->dtype != LUCID_DTYPE_FLOAT)
        return ew_refuse(why, why_len, "only float32");
    /* the output's layout: in an NCHW16C layer a tensor whose channels are not whole blocks
     * stays plain, and so do its inputs of the same shape */
    const lucid_layout yl = lucid_layout_of_tensor(y, layout);
    if (layout != LUCID_LAYOUT_PLAIN && y->rank != 4)
        return ew_refuse(why, why_len, "channels-last and NCHW16C hold 4-D tensors");
    if (layout != LUCID_LAYOUT_PLAIN && yl == LUCID_LAYOUT_PLAIN)
        return ew_refuse(why, why_len, "the output stays plain NCHW in this layout");
    if (s->kind == EW_UNARY) return true;
    const lucid_ir_tensor *b = lucid_op_input(g, n, 1);
    if (!b || b->dtype != LUCID_DTYPE_FLOAT) return ew_refuse(why, why_len, "only float32");
    s->full = lucid_tensor_numel(a) == s->total ? 0 : 1;
    s->small = 1 - s->full;
    const lucid_ir_tensor *f = s->full ? b : a, *sm = s->full ? a : b;
    if (f->rank != y->rank || lucid_tensor_numel(f) != s->total || sm->rank > y->rank)
        return ew_refuse(why, why_len, "neither input has the output's shape");
    const int64_t sn = lucid_tensor_numel(sm);
    if (yl != LUCID_LAYOUT_PLAIN && (f->data || (sm->data && sn == s->total && sn != 1)))
        return ew_refuse(why, why_len, "a constant operand of the output's size stays plain");
    if (yl != LUCID_LAYOUT_PLAIN && sn != 1 && sn != s->total) {
        /* channels-last or blocked: a small operand of one value per channel (and per image),
         * [C,1,1], [1,C,1,1] or [N,C,1,1]; its bytes are the same in every layout */
        const int off = y->rank - sm->rank;
        bool per_chan = y->rank == 4 && sm->rank >= 3;
        for (int i = 0; i < sm->rank && per_chan; i++) {
            const int d = i + off;
            per_chan = d == 1   ? sm->dims[i] == y->dims[1]
                       : d == 0 ? sm->dims[i] == 1 || sm->dims[i] == y->dims[0]
                                : sm->dims[i] == 1;
        }
        if (!per_chan)
            return ew_refuse(why, why_len, "channels-last and NCHW16C take only a per-channel "
                                           "broadcast");
        s->bcast = yl == LUCID_LAYOUT_NHWC ? EW_BCAST_NHWC : EW_BCAST_BLOCKED;
        s->chan = y->dims[1];
        s->pixels = y->dims[2] * y->dims[3];
        s->sm_batch = off == 0 && sm->dims[0] == y->dims[0] && y->dims[0] > 1 ? s->chan : 0;
        s->outer = y->dims[0];
        return true;
    }
    /* the small operand, right-aligned: 1s, then a span equal to the output's, then 1s */
    const int r = y->rank, off = r - sm->rank;
    int j0 = r, j1 = -1;
    for (int i = 0; i < sm->rank; i++)
        if (sm->dims[i] != 1) {
            if (j0 == r) j0 = i + off;
            j1 = i + off;
        }
    s->outer = s->mid = s->inner = 1;
    for (int i = 0; i < r; i++) {
        if (i < j0)
            s->outer *= y->dims[i];
        else if (i <= j1) {
            if (sm->dims[i - off] != y->dims[i])
                return ew_refuse(why, why_len, "broadcast pattern not covered");
            s->mid *= y->dims[i];
        } else
            s->inner *= y->dims[i];
    }
    if (j1 < 0) s->outer = 1, s->mid = 1, s->inner = s->total;
    return true;
}

static inline __m512 ew_binary(ew_kind k, __m512 a, __m512 b)
{
    return k == EW_ADD ? _mm512_add_ps(a, b) : k == EW_SUB ? _mm512_sub_ps(a, b)
                                                           : _mm512_mul_ps(a, b);
}

typedef struct ew_task {
    const ew_state *s;
    lucid_activation act;
    const float *full, *small;
    float *y;
} ew_task;

static inline __mmask16 ew_mask(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* y[i] = full[i] op small[j] (or small op full for Sub with the small operand first). */
static inline void ew_span(const ew_state *s, const float *f, const float *sm, int64_t sm_step,
                           float *y, int64_t n)
{
    const bool swap = s->small == 0;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = ew_mask(n - i);
        const __m512 fv = _mm512_maskz_loadu_ps(m, f + i);
        const __m512 sv = sm_step ? _mm512_maskz_loadu_ps(m, sm + i) : _mm512_set1_ps(*sm);
        _mm512_mask_storeu_ps(y + i, m,
                              swap ? ew_binary(s->kind, sv, fv) : ew_binary(s->kind, fv, sv));
    }
}

static void ew_task_run(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const ew_task *t = ctx;
    const ew_state *s = t->s;
    const int64_t b = (int64_t)begin, e = (int64_t)end;
    if (s->kind == EW_UNARY) {
        for (int64_t i = b; i < e; i += 16) {
            const __mmask16 m = ew_mask(e - i);
            _mm512_mask_storeu_ps(t->y + i, m,
                                  lucid_avx512_act(&t->act, _mm512_maskz_loadu_ps(m, t->full + i)));
        }
        return;
    }
    if (s->inner == 1) {
        /* the small operand runs along the flat index modulo mid */
        for (int64_t i = b; i < e;) {
            const int64_t j = i % s->mid, n = (s->mid - j < e - i ? s->mid - j : e - i);
            ew_span(s, t->full + i, t->small + j, 1, t->y + i, n);
            i += n;
        }
        return;
    }
    if (s->bcast == EW_BCAST_NHWC) {
        /* pixel rows of C channels, each with the image's row of small values */
        for (int64_t row = b; row < e; row++)
            ew_span(s, t->full + row * s->chan, t->small + row / s->pixels * s->sm_batch, 1,
                    t->y + row * s->chan, s->chan);
        return;
    }
    if (s->bcast == EW_BCAST_BLOCKED) {
        /* rows of one image's block of 16 channels over all pixels, one small vector each */
        const int64_t blocks = s->chan / 16;
        for (int64_t row = b; row < e; row++) {
            const __m512 sv = _mm512_loadu_ps(t->small + row / blocks * s->sm_batch +
                                              row % blocks * 16);
            const float *f = t->full + row * s->pixels * 16;
            float *y = t->y + row * s->pixels * 16;
            const bool swap = s->small == 0;
            for (int64_t p = 0; p < s->pixels; p++) {
                const __m512 fv = _mm512_loadu_ps(f + p * 16);
                _mm512_storeu_ps(y + p * 16, swap ? ew_binary(s->kind, sv, fv)
                                                  : ew_binary(s->kind, fv, sv));
            }
        }
        return;
    }
    /* rows of inner elements, each with one small value */
    for (int64_t row = b; row < e; row++)
        ew_span(s, t->full + row * s->inner, t->small + row % s->mid, 0, t->y + row * s->inner,
                s->inner);
}

static bool ew_supports_layout(const lucid_graph *g, const lucid_node *n,
                               const lucid_cpu_features *cpu, lucid_layout layout, char *why,
                               size_t why_len)
{
    if (!cpu->avx512f) return ew_refuse(why, why_len, "needs AVX-512F");
    ew_state s;
    return ew_resolve(g, n, layout, &s, why, why_len);
}

static lucid_status ew_prepare_layout(const lucid_graph *g, const lucid_node *n,
                                      lucid_layout layout, void **state, lucid_error *err)
{
    char why[256] = "";
    ew_state *s = malloc(sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!ew_resolve(g, n, layout, s, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "eltwise: %s", why);
    }
    *state = s;
    return LUCID_STATUS_OK;
}

static void ew_release(void *state)
{
    free(state);
}

static lucid_status ew_run(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                           int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    (void)workspace;
    (void)err;
    const ew_state *s = state;
    ew_task t = {.s = s, .act = s->act, .y = out[0].data};
    if (s->kind == EW_UNARY) {
        t.full = in[0].data;
        if (s->clip_inputs) {
            if (n_in > 1 && in[1].data) t.act.alpha = *(const float *)in[1].data;
            if (n_in > 2 && in[2].data) t.act.beta = *(const float *)in[2].data;
        }
        lucid_threadpool_run(pool, (size_t)s->total, EW_GRAIN, ew_task_run, &t);
        return LUCID_STATUS_OK;
    }
    t.full = in[s->full].data;
    t.small = in[s->small].data;
    if (s->bcast == EW_BCAST_NHWC)
        lucid_threadpool_run(pool, (size_t)(s->outer * s->pixels),
                             (size_t)(EW_GRAIN / s->chan + 1), ew_task_run, &t);
    else if (s->bcast == EW_BCAST_BLOCKED)
        lucid_threadpool_run(pool, (size_t)(s->outer * s->chan / 16),
                             (size_t)(EW_GRAIN / (16 * s->pixels) + 1), ew_task_run, &t);
    else if (s->inner == 1)
        lucid_threadpool_run(pool, (size_t)s->total, EW_GRAIN, ew_task_run, &t);
    else
        lucid_threadpool_run(pool, (size_t)(s->outer * s->mid),
                             (size_t)(EW_GRAIN / s->inner + 1), ew_task_run, &t);
    return LUCID_STATUS_OK;
}

/* One tactic per layout: the activations' flat order is the layout's; only the per-channel
 * broadcast of a binary op depends on it. */
#define EW_TACTIC(SYM, NAME, PREF, LAYOUT)                                                     \
    static bool SYM##_supports(const lucid_graph *g, const lucid_node *n,                      \
                               const lucid_cpu_features *cpu, char *why, size_t why_len)       \
    {                                                                                          \
        return ew_supports_layout(g, n, cpu, LAYOUT, why, why_len);                            \
    }                                                                                          \
    static lucid_status SYM##_prepare(const lucid_graph *g, const lucid_node *n,               \
                                      int max_threads, void **state, lucid_error *err)         \
    {                                                                                          \
        (void)max_threads;                                                                     \
        return ew_prepare_layout(g, n, LAYOUT, state, err);                                    \
    }                                                                                          \
    const lucid_tactic lucid_tactic_##SYM = {                                                  \
        .name = NAME,                                                                          \
        .backend = "cpu",                                                                      \
        .preference = PREF,                                                                    \
        .in_layout = LAYOUT,                                                                   \
        .out_layout = LAYOUT,                                                                  \
        .supports = SYM##_supports,                                                            \
        .prepare = SYM##_prepare,                                                              \
        .release = ew_release,                                                                 \
        .workspace = lucid_tactic_no_workspace,                                                             \
        .run = ew_run,                                                                         \
    };

EW_TACTIC(cpu_eltwise_f32_avx512, "cpu.eltwise.f32.avx512", 400, LUCID_LAYOUT_PLAIN)
EW_TACTIC(cpu_eltwise_f32_avx512_nhwc, "cpu.eltwise.f32.avx512.nhwc", 401, LUCID_LAYOUT_NHWC)
EW_TACTIC(cpu_eltwise_f32_avx512_nchw16c, "cpu.eltwise.f32.avx512.nchw16c", 402,
          LUCID_LAYOUT_NCHW16C)

/* ---- Softmax over the last axis ---- */

typedef struct sm_state {
    int64_t rows, len;
} sm_state;

static bool sm_resolve(const lucid_graph *g, const lucid_node *n, sm_state *s, char *why,
                       size_t why_len)
{
    if (n->op != LUCID_OP_SOFTMAX) return false; /* another op: nothing to report */
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    if (!x || x->dtype != LUCID_DTYPE_FLOAT || !lucid_tensor_shape_known(x) || x->rank < 1)
        return ew_refuse(why, why_len, "only float32 with static shapes");
    int64_t axis;
    if (lucid_attr_int(n, "axis", n->opset < 13 ? 1 : -1, &axis, NULL))
        return ew_refuse(why, why_len, "unreadable axis");
    if (axis < 0) axis += x->rank;
    /* before opset 13 every dim from axis on is one row, so it is always "last" */
    if (n->opset >= 13 && axis != x->rank - 1)
        return ew_refuse(why, why_len, "only the last axis");
    s->rows = 1;
    s->len = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < axis)
            s->rows *= x->dims[i];
        else
            s->len *= x->dims[i];
    }
    return s->len > 0;
}

typedef struct sm_task {
    const sm_state *s;
    const float *x;
    float *y;
} sm_task;

static void sm_task_run(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const sm_task *t = ctx;
    const int64_t len = t->s->len;
    for (size_t r = begin; r < end; r++) {
        const float *x = t->x + (int64_t)r * len;
        float *y = t->y + (int64_t)r * len;
        __m512 mv = _mm512_set1_ps(-INFINITY);
        for (int64_t i = 0; i < len; i += 16) {
            const __mmask16 m = ew_mask(len - i);
            mv = _mm512_mask_max_ps(mv, m, mv, _mm512_maskz_loadu_ps(m, x + i));
        }
        const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
        __m512 sv = _mm512_setzero_ps();
        for (int64_t i = 0; i < len; i += 16) {
            const __mmask16 m = ew_mask(len - i);
            const __m512 e = lucid_avx512_exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mx));
            sv = _mm512_mask_add_ps(sv, m, sv, e);
            _mm512_mask_storeu_ps(y + i, m, e);
        }
        const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sv));
        for (int64_t i = 0; i < len; i += 16) {
            const __mmask16 m = ew_mask(len - i);
            _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + i), inv));
        }
    }
}

static bool sm_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                        char *why, size_t why_len)
{
    if (!cpu->avx512f) return ew_refuse(why, why_len, "needs AVX-512F");
    sm_state s;
    return sm_resolve(g, n, &s, why, why_len);
}

static lucid_status sm_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                               void **state, lucid_error *err)
{
    (void)max_threads;
    char why[256] = "";
    sm_state *s = malloc(sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!sm_resolve(g, n, s, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "softmax: %s", why);
    }
    *state = s;
    return LUCID_STATUS_OK;
}

static lucid_status sm_run(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                           int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)workspace;
    (void)err;
    const sm_state *s = state;
    sm_task t = {s, in[0].data, out[0].data};
    lucid_threadpool_run(pool, (size_t)s->rows, (size_t)(EW_GRAIN / s->len + 1), sm_task_run, &t);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_cpu_softmax_f32_avx512 = {
    .name = "cpu.softmax.f32.avx512",
    .backend = "cpu",
    .preference = 400,
    .supports = sm_supports,
    .prepare = sm_prepare,
    .release = ew_release,
    .workspace = lucid_tactic_no_workspace,
    .run = sm_run,
};

/* ---- BatchNormalization (inference) and FusedBatchNormalization: a per-channel affine
 * transform plus activation, y = act((x - mean[c]) * a[c] + B[c]) with a[c] = scale[c] /
 * sqrt(var[c] + epsilon) folded once in double, as the reference does ---- */

typedef struct bn_state {
    int64_t rows, chan, inner; /* rows = N x C planes of inner values */
    bool blocked;              /* NCHW16C: rows = N x C/16 blocks of inner x 16 values */
    lucid_activation act;
    float *mean, *a, *b; /* per channel, owned */
} bn_state;

static void bn_free(bn_state *s)
{
    if (!s) return;
    free(s->mean);
    free(s->a);
    free(s->b);
    free(s);
}

static bool bn_resolve(const lucid_graph *g, const lucid_node *n, bn_state *s, char *why,
                       size_t why_len)
{
    memset(s, 0, sizeof *s);
    if (n->op != LUCID_OP_BATCH_NORMALIZATION && n->op != LUCID_OP_FUSED_BATCH_NORM) return false;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if (!x || !y || x->dtype != LUCID_DTYPE_FLOAT || !lucid_tensor_shape_known(x) || x->rank < 2)
        return ew_refuse(why, why_len, "only float32 N x C x ... with static shapes");
    if (n->n_inputs != 5) return ew_refuse(why, why_len, "needs scale, B, mean and var");
    for (int i = 1; i < 5; i++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, i);
        if (!t || !t->data || lucid_tensor_numel(t) != x->dims[1])
            return ew_refuse(why, why_len, "parameters must be constants, one per channel");
        if (t->dtype != LUCID_DTYPE_FLOAT && t->dtype != LUCID_DTYPE_DOUBLE &&
            t->dtype != LUCID_DTYPE_FLOAT16 && t->dtype != LUCID_DTYPE_BFLOAT16)
            return ew_refuse(why, why_len, "parameters must be floating point");
    }
    s->chan = x->dims[1];
    s->rows = x->dims[0] * x->dims[1];
    s->inner = s->rows ? lucid_tensor_numel(x) / s->rows : 0;
    if (n->op == LUCID_OP_FUSED_BATCH_NORM) {
        const lucid_activation *act = lucid_node_activation(n);
        if (!act) return ew_refuse(why, why_len, "activation not parsed");
        s->act = *act;
    }
    return true;
}

/* The NCHW16C form: 4-D, channels in whole blocks of 16. */
static bool bn_resolve_blocked(const lucid_graph *g, const lucid_node *n, bn_state *s, char *why,
                               size_t why_len)
{
    if (!bn_resolve(g, n, s, why, why_len)) return false;
    if (!lucid_layout_blockable(lucid_op_input(g, n, 0)))
        return ew_refuse(why, why_len, "NCHW16C needs 4-D input with channels in blocks of 16");
    s->blocked = true;
    s->rows /= 16;
    s->inner *= 16;
    return true;
}

static bool bn_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                        char *why, size_t why_len)
{
    if (!cpu->avx512f) return ew_refuse(why, why_len, "needs AVX-512F");
    bn_state s;
    return bn_resolve(g, n, &s, why, why_len);
}

static bool bn_blocked_supports(const lucid_graph *g, const lucid_node *n,
                                const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!cpu->avx512f) return ew_refuse(why, why_len, "needs AVX-512F");
    bn_state s;
    return bn_resolve_blocked(g, n, &s, why, why_len);
}

static lucid_status bn_prepare_layout(const lucid_graph *g, const lucid_node *n, bool blocked,
                                      void **state, lucid_error *err)
{
    char why[256] = "";
    bn_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!(blocked ? bn_resolve_blocked : bn_resolve)(g, n, s, why, sizeof why)) {
        bn_free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "batchnorm: %s", why);
    }
    float epsilon;
    if (lucid_attr_float(n, "epsilon", 1e-5f, &epsilon, err)) {
        bn_free(s);
        return err ? err->status : LUCID_STATUS_INVALID_MODEL;
    }
    size_t bytes = sizeof(float) * (size_t)(s->chan ? s->chan : 1);
    s->mean = malloc(bytes);
    s->a = malloc(bytes);
    s->b = malloc(bytes);
    if (!s->mean || !s->a || !s->b) {
        bn_free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    const lucid_ir_tensor *sc = lucid_op_input(g, n, 1), *bb = lucid_op_input(g, n, 2),
                          *mu = lucid_op_input(g, n, 3), *var = lucid_op_input(g, n, 4);
    for (int64_t c = 0; c < s->chan; c++) {
        s->mean[c] = (float)lucid_load_f64(mu->dtype, mu->data, c);
        s->a[c] = (float)(lucid_load_f64(sc->dtype, sc->data, c) /
                          sqrt(lucid_load_f64(var->dtype, var->data, c) + (double)epsilon));
        s->b[c] = (float)lucid_load_f64(bb->dtype, bb->data, c);
    }
    *state = s;
    return LUCID_STATUS_OK;
}

static lucid_status bn_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                               void **state, lucid_error *err)
{
    (void)max_threads;
    return bn_prepare_layout(g, n, false, state, err);
}

static lucid_status bn_blocked_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                       void **state, lucid_error *err)
{
    (void)max_threads;
    return bn_prepare_layout(g, n, true, state, err);
}

static void bn_release(void *state)
{
    bn_free(state);
}

typedef struct bn_task {
    const bn_state *s;
    const float *x;
    float *y;
} bn_task;

static void bn_task_run(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const bn_task *t = ctx;
    const bn_state *s = t->s;
    const int64_t inner = s->inner;
    if (s->blocked) {
        /* each 16-float vector holds one position's 16 channels of the block */
        for (size_t r = begin; r < end; r++) {
            const int64_t c0 = ((int64_t)r % (s->chan / 16)) * 16;
            const __m512 mean = _mm512_loadu_ps(s->mean + c0), a = _mm512_loadu_ps(s->a + c0),
                         b = _mm512_loadu_ps(s->b + c0);
            const float *x = t->x + (int64_t)r * inner;
            float *y = t->y + (int64_t)r * inner;
            for (int64_t i = 0; i < inner; i += 16) {
                __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), mean), a);
                v = _mm512_add_ps(v, b);
                _mm512_storeu_ps(y + i, lucid_avx512_act(&s->act, v));
            }
        }
        return;
    }
    for (size_t r = begin; r < end; r++) {
        const int64_t c = (int64_t)r % s->chan;
        const __m512 mean = _mm512_set1_ps(s->mean[c]), a = _mm512_set1_ps(s->a[c]),
                     b = _mm512_set1_ps(s->b[c]);
        const float *x = t->x + (int64_t)r * inner;
        float *y = t->y + (int64_t)r * inner;
        for (int64_t i = 0; i < inner; i += 16) {
            const __mmask16 m = ew_mask(inner - i);
            /* multiply, then add, each rounded, as the reference's expression */
            __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mean), a);
            v = _mm512_add_ps(v, b);
            _mm512_mask_storeu_ps(y + i, m, lucid_avx512_act(&s->act, v));
        }
    }
}

static lucid_status bn_run(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                           int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)workspace;
    (void)err;
    const bn_state *s = state;
    bn_task t = {s, in[0].data, out[0].data};
    lucid_threadpool_run(pool, (size_t)s->rows, (size_t)(EW_GRAIN / (s->inner + 1) + 1),
                         bn_task_run, &t);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_cpu_batchnorm_f32_avx512 = {
    .name = "cpu.batchnorm.f32.avx512",
    .backend = "cpu",
    .preference = 400,
    .supports = bn_supports,
    .prepare = bn_prepare,
    .release = bn_release,
    .workspace = lucid_tactic_no_workspace,
    .run = bn_run,
};

const lucid_tactic lucid_tactic_cpu_batchnorm_f32_avx512_nchw16c = {
    .name = "cpu.batchnorm.f32.avx512.nchw16c",
    .backend = "cpu",
    .preference = 401,
    .in_layout = LUCID_LAYOUT_NCHW16C,
    .out_layout = LUCID_LAYOUT_NCHW16C,
    .supports = bn_blocked_supports,
    .prepare = bn_blocked_prepare,
    .release = bn_release,
    .workspace = lucid_tactic_no_workspace,
    .run = bn_run,
};
