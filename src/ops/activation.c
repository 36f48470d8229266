/* activation.c - activation functions: the ops (Relu, PRelu, Clip, Sigmoid, HardSwish, Elu,
 * Selu, ...) and the activation descriptor of lucid's fused layers (activation.h). */
#include <float.h>
#include <stdio.h>
#include <string.h>
#include <tgmath.h>

#include "core/util.h"
#include "ops/activation.h"
#include "ops/elementwise.h"

/* Scalar attributes of the parametrized activations (unused ones stay 0). */
typedef struct act_params {
    float alpha, beta, gamma;
} act_params;

/* Sigmoid and Softplus branch on the sign so that exp never overflows. */
LUCID_UNARY_FLOAT_KERNELS(relu, act_params, x < 0 ? (T)0 : x)
LUCID_UNARY_FLOAT_KERNELS(leaky_relu, act_params, x < 0 ? (T)p->alpha * x : x)
LUCID_UNARY_FLOAT_KERNELS(sigmoid, act_params,
                          x >= 0 ? (T)1 / ((T)1 + exp(-x)) : exp(x) / ((T)1 + exp(x)))
LUCID_UNARY_FLOAT_KERNELS(hard_sigmoid, act_params,
                          fmax((T)0, fmin((T)1, (T)p->alpha *x + (T)p->beta)))
LUCID_UNARY_FLOAT_KERNELS(hard_swish, act_params,
                          x *fmax((T)0, fmin((T)1, x *((T)1 / (T)6) + (T)0.5)))
LUCID_UNARY_FLOAT_KERNELS(tanh, act_params, tanh(x))
LUCID_UNARY_FLOAT_KERNELS(elu, act_params, x < 0 ? (T)p->alpha * expm1(x) : x)
LUCID_UNARY_FLOAT_KERNELS(selu, act_params,
                          x > 0 ? (T)p->gamma * x
                                : (T)p->gamma * ((T)p->alpha * exp(x) - (T)p->alpha))
LUCID_UNARY_FLOAT_KERNELS(softplus, act_params, x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)))

/* ---- attribute parsing -------------------------------------------------------------- */

static lucid_status parse_alpha(const lucid_node *n, act_params *p, float def, lucid_error *err)
{
    return lucid_attr_float(n, "alpha", def, &p->alpha, err);
}

static lucid_status leaky_relu_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                     lucid_error *err)
{
    return parse_alpha(n, params, 0.01f, err);
}

static lucid_status elu_parse(const lucid_graph *g, const lucid_node *n, void *params,
                              lucid_error *err)
{
    return parse_alpha(n, params, 1.0f, err);
}

static lucid_status hard_sigmoid_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                       lucid_error *err)
{
    act_params *p = params;
    lucid_status st = parse_alpha(n, p, 0.2f, err);
    if (!st) st = lucid_attr_float(n, "beta", 0.5f, &p->beta, err);
    return st;
}

static lucid_status selu_parse(const lucid_graph *g, const lucid_node *n, void *params,
                               lucid_error *err)
{
    act_params *p = params;
    lucid_status st = parse_alpha(n, p, 1.67326319217681884765625f, err);
    if (!st) st = lucid_attr_float(n, "gamma", 1.05070102214813232421875f, &p->gamma, err);
    return st;
}

/* ---- shared infer, run and cost ------------------------------------------------------- */

static lucid_status float_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    return lucid_ew_infer_same(g, n, lucid_dtypes_float, err);
}

#define FLOAT_RUN(NAME)                                                                            \
    static lucid_status NAME##_run(const lucid_node *n, const lucid_array *in, int n_in,           \
                                   lucid_array *out, int n_out, lucid_error *err)                  \
    {                                                                                              \
        return lucid_unary_float_run(n, &NAME##_kernels, &in[0], &out[0], n->params, err);         \
    }

FLOAT_RUN(leaky_relu)
FLOAT_RUN(sigmoid)
FLOAT_RUN(hard_sigmoid)
FLOAT_RUN(hard_swish)
FLOAT_RUN(tanh)
FLOAT_RUN(elu)
FLOAT_RUN(selu)
FLOAT_RUN(softplus)

static void transcendental_cost(const lucid_graph *g, const lucid_node *n, double *macs,
                                double *flops)
{
    *macs = 0;
    *flops = 4 * lucid_ew_out_numel(g, n);
}

static void affine_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    *macs = 0;
    *flops = 3 * lucid_ew_out_numel(g, n);
}

/* ---- Relu: floats, and signed integers from opset 14 (accepted at every opset) ---------- */

static lucid_status relu_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    return lucid_ew_infer_same(g, n, lucid_dtypes_signed, err);
}

static lucid_status relu_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, lucid_error *err)
{
    if (lucid_dtype_is_float(in[0].dtype))
        return lucid_unary_float_run(n, &relu_kernels, &in[0], &out[0], n->params, err);
    int64_t numel = lucid_array_numel(&in[0]);
    for (int64_t i = 0; i < numel; i++) {
        int64_t v = lucid_load_i64(in[0].dtype, in[0].data, i);
        lucid_store_i64(out->dtype, out->data, i, v > 0 ? v : 0);
    }
    return LUCID_STATUS_OK;
}

/* ---- PRelu: slope broadcasts to X's shape (unidirectionally) -------------------------- */

static lucid_status prelu_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *s = lucid_op_input(g, n, 1);
    lucid_status st = lucid_op_check_dtype(g, n, 0, lucid_dtypes_float, err);
    if (st) return st;
    if (s->dtype != x->dtype)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "slope '%s' is %s but X is %s",
                                 s->name, lucid_dtype_name(s->dtype), lucid_dtype_name(x->dtype));
    int rank;
    int64_t dims[LUCID_MAX_RANK];
    st = lucid_ew_broadcast_shape(g, n, 0, 1, &rank, dims, err);
    if (st) return st;
    bool same = rank == x->rank;
    for (int i = 0; same && i < rank; i++)
        same = dims[i] == x->dims[i];
    if (!same) {
        char sx[128], ss[128];
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "slope shape %s does not broadcast to X's shape %s",
                                 lucid_shape_str(s->rank, s->dims, ss, sizeof ss),
                                 lucid_shape_str(x->rank, x->dims, sx, sizeof sx));
    }
    return lucid_op_set_output(g, n, 0, x->dtype, x->rank, x->dims, err);
}

static void prelu_row_f32(void *o_, const void *a_, int64_t sa, const void *b_, int64_t sb,
                          int64_t n)
{
    float *o = o_;
    const float *x = a_, *s = b_;
    if (sb) {
        for (int64_t i = 0; i < n; i++)
            o[i] = x[i] < 0 ? s[i] * x[i] : x[i];
    } else {
        float slope = s[0];
        for (int64_t i = 0; i < n; i++)
            o[i] = x[i] < 0 ? slope * x[i] : x[i];
    }
}

static void prelu_row_f64(void *o_, const void *a_, int64_t sa, const void *b_, int64_t sb,
                          int64_t n)
{
    double *o = o_;
    const double *x = a_, *s = b_;
    for (int64_t i = 0; i < n; i++)
        o[i] = x[i] < 0 ? s[i * sb] * x[i] : x[i];
}

#define PRELU_ROW_HALF(NAME, LD, ST)                                                               \
    static void NAME(void *o_, const void *a_, int64_t sa, const void *b_, int64_t sb, int64_t n)  \
    {                                                                                              \
        uint16_t *o = o_;                                                                          \
        const uint16_t *x = a_, *s = b_;                                                           \
        for (int64_t i = 0; i < n; i++) {                                                          \
            float v = LD(x[i]);                                                                    \
            o[i] = ST(v < 0 ? LD(s[i * sb]) * v : v);                                              \
        }                                                                                          \
    }
PRELU_ROW_HALF(prelu_row_f16, lucid_half_to_float, lucid_float_to_half)
PRELU_ROW_HALF(prelu_row_bf16, lucid_bf16_to_float, lucid_float_to_bf16)

static lucid_status prelu_run(const lucid_node *n, const lucid_array *in, int n_in,
                              lucid_array *out, int n_out, lucid_error *err)
{
    lucid_row2_fn fn;
    switch (in[0].dtype) {
    case LUCID_DTYPE_FLOAT:
        fn = prelu_row_f32;
        break;
    case LUCID_DTYPE_DOUBLE:
        fn = prelu_row_f64;
        break;
    case LUCID_DTYPE_FLOAT16:
        fn = prelu_row_f16;
        break;
    case LUCID_DTYPE_BFLOAT16:
        fn = prelu_row_bf16;
        break;
    default:
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "dtype %s is not supported",
                                 lucid_dtype_name(in[0].dtype));
    }
    lucid_bcast_apply2(out, &in[0], &in[1], fn);
    return LUCID_STATUS_OK;
}

/* ---- Clip: bounds are attributes before opset 11, optional scalar inputs from 11 ------- */

typedef struct clip_params {
    float min, max; /* the attributes, before opset 11 */
} clip_params;

static lucid_status clip_parse(const lucid_graph *g, const lucid_node *n, void *params,
                               lucid_error *err)
{
    clip_params *p = params;
    if (n->opset >= 11) {
        if (lucid_node_attr(n, "min") || lucid_node_attr(n, "max"))
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "min and max are inputs from opset 11, not attributes");
        return LUCID_STATUS_OK;
    }
    if (n->n_inputs > 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "has %d inputs; before opset 11 min and max are attributes",
                                 n->n_inputs);
    lucid_status st = lucid_attr_float(n, "min", -FLT_MAX, &p->min, err);
    if (!st) st = lucid_attr_float(n, "max", FLT_MAX, &p->max, err);
    return st;
}

/* Clip's dtypes: floats and integers that fit int64 exactly. */
static const lucid_dtype clip_dtypes[] = {
    LUCID_DTYPE_FLOAT, LUCID_DTYPE_DOUBLE, LUCID_DTYPE_FLOAT16, LUCID_DTYPE_BFLOAT16,
    LUCID_DTYPE_INT8,  LUCID_DTYPE_INT16,  LUCID_DTYPE_INT32,   LUCID_DTYPE_INT64,
    LUCID_DTYPE_UINT8, LUCID_DTYPE_UINT16, LUCID_DTYPE_UINT32,  LUCID_DTYPE_UNDEFINED};

static lucid_status clip_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = lucid_op_check_dtype(g, n, 0, clip_dtypes, err);
    if (st) return st;
    if (n->opset < 11 && !lucid_dtype_is_float(x->dtype))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input '%s' is %s; before opset 11 Clip takes floats only",
                                 x->name, lucid_dtype_name(x->dtype));
    for (int i = 1; i < n->n_inputs; i++) {
        const lucid_ir_tensor *b = lucid_op_input(g, n, i);
        if (!b) continue;
        if (b->dtype != x->dtype)
            return lucid_node_errorf(
                n, err, LUCID_STATUS_INVALID_MODEL, "bound '%s' is %s but input '%s' is %s",
                b->name, lucid_dtype_name(b->dtype), x->name, lucid_dtype_name(x->dtype));
        if (lucid_tensor_numel(b) != 1)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "bound '%s' must be a scalar, it has %lld elements", b->name,
                                     (long long)lucid_tensor_numel(b));
    }
    return lucid_op_set_output(g, n, 0, x->dtype, x->rank, x->dims, err);
}

typedef struct clip_bounds {
    double lo, hi;
} clip_bounds;

/* max(x, lo) then min(., hi): when lo > hi every value becomes hi, as ONNX specifies; NaN
 * passes through. */
LUCID_UNARY_FLOAT_KERNELS(clip, clip_bounds,
                          (x < (T)p->lo ? (T)p->lo : x) > (T)p->hi ? (T)p->hi
                                                                   : (x < (T)p->lo ? (T)p->lo : x))

static lucid_status clip_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, lucid_error *err)
{
    const clip_params *p = n->params;
    const lucid_array *x = &in[0];
    const lucid_array *lo = n_in > 1 && in[1].data ? &in[1] : NULL;
    const lucid_array *hi = n_in > 2 && in[2].data ? &in[2] : NULL;
    if (lucid_dtype_is_float(x->dtype)) {
        clip_bounds b = {-INFINITY, INFINITY};
        if (n->opset < 11) {
            b.lo = p->min;
            b.hi = p->max;
        }
        if (lo) b.lo = lucid_load_f64(lo->dtype, lo->data, 0);
        if (hi) b.hi = lucid_load_f64(hi->dtype, hi->data, 0);
        return lucid_unary_float_run(n, &clip_kernels, x, &out[0], &b, err);
    }
    int64_t vlo = INT64_MIN, vhi = INT64_MAX;
    if (lo) vlo = lucid_load_i64(lo->dtype, lo->data, 0);
    if (hi) vhi = lucid_load_i64(hi->dtype, hi->data, 0);
    int64_t numel = lucid_array_numel(x);
    for (int64_t i = 0; i < numel; i++) {
        int64_t v = lucid_load_i64(x->dtype, x->data, i);
        v = v < vlo ? vlo : v;
        v = v > vhi ? vhi : v;
        lucid_store_i64(out->dtype, out->data, i, v);
    }
    return LUCID_STATUS_OK;
}

/* ---- definitions ---------------------------------------------------------------------- */

#define ACT_DEF(SYM, NAME, PARSE, INFER, COST) ACT_DEF_FROM(0, SYM, NAME, PARSE, INFER, COST)
/* an op lucid implements from opset SINCE on */
#define ACT_DEF_FROM(SINCE, SYM, NAME, PARSE, INFER, COST)                                         \
    const lucid_op_def lucid_op_def_##SYM = {.name = NAME,                                         \
                                             .min_opset = SINCE,                                   \
                                             .min_inputs = 1,                                      \
                                             .max_inputs = 1,                                      \
                                             .min_outputs = 1,                                     \
                                             .max_outputs = 1,                                     \
                                             .params_size = sizeof(act_params),                    \
                                             .parse = PARSE,                                       \
                                             .infer = INFER,                                       \
                                             .cost = COST,                                         \
                                             .run = SYM##_run};

ACT_DEF(relu, "Relu", NULL, relu_infer, NULL)
ACT_DEF(leaky_relu, "LeakyRelu", leaky_relu_parse, float_infer, NULL)
ACT_DEF(sigmoid, "Sigmoid", NULL, float_infer, transcendental_cost)
ACT_DEF(hard_sigmoid, "HardSigmoid", hard_sigmoid_parse, float_infer, affine_cost)
ACT_DEF_FROM(14, hard_swish, "HardSwish", NULL, float_infer, affine_cost)
ACT_DEF(tanh, "Tanh", NULL, float_infer, transcendental_cost)
ACT_DEF(elu, "Elu", elu_parse, float_infer, transcendental_cost)
ACT_DEF(selu, "Selu", selu_parse, float_infer, transcendental_cost)
ACT_DEF(softplus, "Softplus", NULL, float_infer, transcendental_cost)

const lucid_op_def lucid_op_def_prelu = {.name = "PRelu",
                                         .min_opset = 7,
                                         .min_inputs = 2,
                                         .max_inputs = 2,
                                         .min_outputs = 1,
                                         .max_outputs = 1,
                                         .infer = prelu_infer,
                                         .run = prelu_run};

const lucid_op_def lucid_op_def_clip = {.name = "Clip",
                                        .min_inputs = 1,
                                        .max_inputs = 3,
                                        .min_outputs = 1,
                                        .max_outputs = 1,
                                        .params_size = sizeof(clip_params),
                                        .parse = clip_parse,
                                        .infer = clip_infer,
                                        .cost = affine_cost,
                                        .run = clip_run};

/* ---- the activation of fused layers (activation.h) ----------------------------------- */

static const struct {
    const char *name, *approximate;
    int params;
    float alpha, beta; /* defaults */
    double flops;
} act_table[] = {
#define ACT_ROW(E, N, AP, NP, DA, DB, F, R) {N, AP, NP, DA, DB, F},
    LUCID_ACT_LIST(ACT_ROW)
#undef ACT_ROW
};
_Static_assert(sizeof act_table / sizeof act_table[0] == LUCID_ACT_COUNT, "one row per kind");

const char *lucid_act_name(lucid_act kind)
{
    return kind >= 0 && kind < LUCID_ACT_COUNT ? act_table[kind].name : "?";
}

int lucid_act_param_count(lucid_act kind)
{
    return kind >= 0 && kind < LUCID_ACT_COUNT ? act_table[kind].params : 0;
}

lucid_status lucid_activation_parse(const lucid_node *n, lucid_activation *a, lucid_error *err)
{
    const char *name, *approximate = NULL;
    lucid_status st = lucid_attr_string(n, "activation", "", &name, err);
    if (st) return st;
    int kind = -1;
    for (int i = 0; i < LUCID_ACT_COUNT && kind < 0; i++) {
        if (strcmp(name, act_table[i].name) != 0) continue;
        if (act_table[i].approximate && !approximate &&
            (st = lucid_attr_string(n, "activation_approximate", "none", &approximate, err)))
            return st;
        if (!act_table[i].approximate || strcmp(approximate, act_table[i].approximate) == 0)
            kind = i;
    }
    if (kind < 0) {
        char known[256];
        size_t len = 0;
        known[0] = '\0';
        for (int i = 1; i < LUCID_ACT_COUNT && len < sizeof known; i++)
            if (strcmp(act_table[i].name, act_table[i - 1].name) != 0)
                len += (size_t)snprintf(known + len, sizeof known - len, "%s, ",
                                        act_table[i].name);
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "activation '%s'%s%s%s is not one of %sor \"\" for none", name,
                                 approximate ? " with activation_approximate '" : "",
                                 approximate ? approximate : "", approximate ? "'" : "", known);
    }
    a->kind = (lucid_act)kind;
    if ((st = lucid_attr_float(n, "activation_alpha", act_table[kind].alpha, &a->alpha, err)) ||
        (st = lucid_attr_float(n, "activation_beta", act_table[kind].beta, &a->beta, err)))
        return st;
    const lucid_attr *fn = lucid_node_attr(n, "fused_nodes");
    if (fn && fn->type != LUCID_ATTR_STRINGS)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute 'fused_nodes' must be a list of strings");
    return LUCID_STATUS_OK;
}

float lucid_activation_apply(const lucid_activation *a, float v)
{
    const float alpha = a->alpha, beta = a->beta;
    (void)alpha, (void)beta;
    switch (a->kind) {
#define ACT_CASE(E, N, AP, NP, DA, DB, F, R)                                                           \
    case LUCID_ACT_##E:                                                                            \
        return R;
        LUCID_ACT_LIST(ACT_CASE)
#undef ACT_CASE
    case LUCID_ACT_COUNT:
        break;
    }
    return v;
}

double lucid_activation_flops(const lucid_activation *a)
{
    return a->kind >= 0 && a->kind < LUCID_ACT_COUNT ? act_table[a->kind].flops : 0;
}

bool lucid_activation_is_piecewise_linear(const lucid_activation *a)
{
    return a->kind == LUCID_ACT_NONE || a->kind == LUCID_ACT_RELU || a->kind == LUCID_ACT_CLIP;
}

bool lucid_activation_of_op(const lucid_graph *g, const lucid_node *n, lucid_activation *a,
                            bool *runtime_bounds)
{
    const act_params *p = n->params;
    bool runtime = false;
    *a = (lucid_activation){LUCID_ACT_NONE, 0.0f, 0.0f};
    switch (n->op) {
    case LUCID_OP_RELU: a->kind = LUCID_ACT_RELU; break;
    case LUCID_OP_SIGMOID: a->kind = LUCID_ACT_SIGMOID; break;
    case LUCID_OP_HARD_SWISH: a->kind = LUCID_ACT_HARD_SWISH; break;
    case LUCID_OP_TANH: a->kind = LUCID_ACT_TANH; break;
    case LUCID_OP_LEAKY_RELU:
        if (!p) return false;
        a->kind = LUCID_ACT_LEAKY_RELU;
        a->alpha = p->alpha;
        break;
    case LUCID_OP_HARD_SIGMOID:
        if (!p) return false;
        a->kind = LUCID_ACT_HARD_SIGMOID;
        a->alpha = p->alpha;
        a->beta = p->beta;
        break;
    case LUCID_OP_CLIP: {
        const clip_params *c = n->params;
        if (!c) return false;
        a->kind = LUCID_ACT_CLIP;
        if (n->opset < 11) {
            a->alpha = c->min;
            a->beta = c->max;
            break;
        }
        a->alpha = -INFINITY;
        a->beta = INFINITY;
        for (int k = 1; k <= 2; k++) {
            const lucid_ir_tensor *b = lucid_op_input(g, n, k);
            if (!b) continue;
            if (!b->data || lucid_tensor_numel(b) != 1 ||
                (b->dtype != LUCID_DTYPE_FLOAT && b->dtype != LUCID_DTYPE_DOUBLE)) {
                runtime = true;
                continue;
            }
            *(k == 1 ? &a->alpha : &a->beta) = (float)lucid_load_f64(b->dtype, b->data, 0);
        }
        break;
    }
    default: return false;
    }
    if (runtime_bounds) *runtime_bounds = runtime;
    return true;
}
