/* reduce.c - reductions over axes: ReduceMean, ReduceSum, ReduceMax, ReduceMin, and ArgMax. */
#include <math.h>
#include <string.h>

#include "core/util.h"
#include "ops/elementwise.h"

typedef enum reduce_kind { REDUCE_SUM, REDUCE_MEAN, REDUCE_MAX, REDUCE_MIN } reduce_kind;

typedef struct reduce_params {
    int64_t keepdims;
    int64_t noop_with_empty_axes;
    bool axes_from_input; /* opset 13+ for ReduceSum, 18+ for the others */
    size_t n_axes;        /* of the attribute */
    int64_t axes[LUCID_MAX_RANK];
} reduce_params;

/* Floats and the integers that int64 holds exactly (ordering of uint64 would need more). */
static const lucid_dtype reduce_dtypes[] = {
    LUCID_DTYPE_FLOAT, LUCID_DTYPE_DOUBLE, LUCID_DTYPE_FLOAT16, LUCID_DTYPE_BFLOAT16,
    LUCID_DTYPE_INT8,  LUCID_DTYPE_INT16,  LUCID_DTYPE_INT32,   LUCID_DTYPE_INT64,
    LUCID_DTYPE_UINT8, LUCID_DTYPE_UINT16, LUCID_DTYPE_UINT32,  LUCID_DTYPE_UNDEFINED};

static lucid_status reduce_parse_common(const lucid_node *n, reduce_params *p, int input_opset,
                                        lucid_error *err)
{
    lucid_status st = lucid_attr_int(n, "keepdims", 1, &p->keepdims, err);
    if (!st) st = lucid_attr_int(n, "noop_with_empty_axes", 0, &p->noop_with_empty_axes, err);
    if (st) return st;
    p->axes_from_input = n->opset >= input_opset;
    if (p->axes_from_input) {
        if (lucid_node_attr(n, "axes"))
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "axes is an input from opset %d, not an attribute",
                                     input_opset);
        return LUCID_STATUS_OK;
    }
    if (n->n_inputs > 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "has %d inputs; before opset %d axes is an attribute", n->n_inputs,
                                 input_opset);
    const int64_t *axes;
    size_t count;
    st = lucid_attr_ints(n, "axes", &axes, &count, err);
    if (st) return st;
    if (count > LUCID_MAX_RANK)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "has %zu axes (a tensor has at most %d dims)", count,
                                 LUCID_MAX_RANK);
    if (count) memcpy(p->axes, axes, sizeof(int64_t) * count);
    p->n_axes = count;
    return LUCID_STATUS_OK;
}

static lucid_status reduce_sum_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                     lucid_error *err)
{
    return reduce_parse_common(n, params, 13, err);
}

static lucid_status reduce_other_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                       lucid_error *err)
{
    return reduce_parse_common(n, params, 18, err);
}

/* Turns axes into a mask over rank dims; *identity when empty axes mean "do nothing".
 * Empty axes otherwise mean every axis. */
static lucid_status reduce_mask(const lucid_node *n, const reduce_params *p, const int64_t *axes,
                                size_t n_axes, int rank, bool *mask, bool *identity,
                                lucid_error *err)
{
    *identity = false;
    for (int i = 0; i < LUCID_MAX_RANK; i++)
        mask[i] = n_axes == 0;
    if (n_axes == 0) {
        *identity = p->noop_with_empty_axes != 0;
        if (*identity)
            for (int i = 0; i < LUCID_MAX_RANK; i++)
                mask[i] = false;
        return LUCID_STATUS_OK;
    }
    for (size_t k = 0; k < n_axes; k++) {
        int a;
        lucid_status st = lucid_op_axis(n, axes[k], rank, &a, err);
        if (st) return st;
        if (rank == 0) continue;
        if (mask[a])
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "axis %lld is given twice",
                                     (long long)axes[k]);
        mask[a] = true;
    }
    return LUCID_STATUS_OK;
}

/* The axes in effect: the attribute's, or those of the optional input (array form). */
static lucid_status axes_of_array(const lucid_node *n, const reduce_params *p,
                                  const lucid_array *in, int n_in, int64_t *axes, size_t *n_axes,
                                  lucid_error *err)
{
    if (!p->axes_from_input) {
        memcpy(axes, p->axes, sizeof(int64_t) * p->n_axes);
        *n_axes = p->n_axes;
        return LUCID_STATUS_OK;
    }
    *n_axes = 0;
    if (n_in < 2 || !in[1].data) return LUCID_STATUS_OK;
    const lucid_array *a = &in[1];
    int64_t count = lucid_array_numel(a);
    if ((a->dtype != LUCID_DTYPE_INT64 && a->dtype != LUCID_DTYPE_INT32) || a->rank > 1 ||
        count > LUCID_MAX_RANK)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "axes must be a 1-D int64 tensor of at most %d values",
                                 LUCID_MAX_RANK);
    for (int64_t k = 0; k < count; k++)
        axes[k] = lucid_load_i64(a->dtype, a->data, k);
    *n_axes = (size_t)count;
    return LUCID_STATUS_OK;
}

static lucid_status reduce_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const reduce_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = lucid_op_check_dtype(g, n, 0, reduce_dtypes, err);
    if (st) return st;
    int64_t axes[LUCID_MAX_RANK];
    size_t n_axes = 0;
    if (!p->axes_from_input) {
        memcpy(axes, p->axes, sizeof(int64_t) * p->n_axes);
        n_axes = p->n_axes;
    } else if (lucid_op_input(g, n, 1)) {
        const lucid_ir_tensor *a;
        st = lucid_op_const_input(g, n, 1, &a, err);
        if (!st) st = lucid_op_read_ints(n, a, axes, LUCID_MAX_RANK, &n_axes, err);
        if (st) return st;
    }
    bool mask[LUCID_MAX_RANK], identity;
    st = reduce_mask(n, p, axes, n_axes, x->rank, mask, &identity, err);
    if (st) return st;
    int64_t dims[LUCID_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!mask[i])
            dims[r++] = x->dims[i];
        else if (p->keepdims)
            dims[r++] = 1;
    }
    return lucid_op_set_output(g, n, 0, x->dtype, r, dims, err);
}

/* The walk of a reduction: kept dims (the output's order) and reduced dims, each merged
 * where contiguous, with input strides. */
typedef struct reduce_plan {
    int nk, nr;
    int64_t kdims[LUCID_MAX_RANK], kstr[LUCID_MAX_RANK];
    int64_t rdims[LUCID_MAX_RANK], rstr[LUCID_MAX_RANK];
    int64_t count; /* elements per reduction */
} reduce_plan;

static void reduce_plan_init(reduce_plan *pl, int rank, const int64_t *dims, const bool *mask)
{
    int64_t str[LUCID_MAX_RANK];
    lucid_strides(rank, dims, str);
    memset(pl, 0, sizeof *pl);
    pl->count = 1;
    int last = -1; /* kind of the previous group: 0 kept, 1 reduced */
    for (int i = 0; i < rank; i++) {
        if (mask[i]) pl->count *= dims[i];
        if (dims[i] == 1) continue;
        int kind = mask[i] ? 1 : 0;
        int64_t *gd = kind ? pl->rdims : pl->kdims, *gs = kind ? pl->rstr : pl->kstr;
        int *ng = kind ? &pl->nr : &pl->nk;
        if (last == kind && gs[*ng - 1] == str[i] * dims[i]) {
            gd[*ng - 1] *= dims[i];
            gs[*ng - 1] = str[i];
        } else {
            gd[*ng] = dims[i];
            gs[*ng] = str[i];
            (*ng)++;
        }
        last = kind;
    }
}

/* Steps a counter over dims[0..n) with strides, moving *off; false after the last. */
static bool counter_next(int n, const int64_t *dims, const int64_t *str, int64_t *idx, int64_t *off)
{
    for (int d = n - 1; d >= 0; d--) {
        *off += str[d];
        if (++idx[d] < dims[d]) return true;
        idx[d] = 0;
        *off -= str[d] * dims[d];
    }
    return false;
}

/* Visits every input offset of one reduction (in a fixed order) with VISIT(off). */
#define FOR_EACH_REDUCED(pl, base, VISIT)                                                          \
    do {                                                                                           \
        if ((pl)->count == 0) break;                                                               \
        if ((pl)->nr == 0) {                                                                       \
            int64_t off_ = (base);                                                                 \
            VISIT(off_);                                                                           \
            break;                                                                                 \
        }                                                                                          \
        int64_t ridx_[LUCID_MAX_RANK] = {0}, roff_ = (base);                                       \
        int64_t rin_ = (pl)->rdims[(pl)->nr - 1], rs_ = (pl)->rstr[(pl)->nr - 1];                  \
        do {                                                                                       \
            for (int64_t j_ = 0; j_ < rin_; j_++) {                                                \
                int64_t off_ = roff_ + j_ * rs_;                                                   \
                VISIT(off_);                                                                       \
            }                                                                                      \
        } while (counter_next((pl)->nr - 1, (pl)->rdims, (pl)->rstr, ridx_, &roff_));              \
    } while (0)

static int64_t int_lowest(lucid_dtype t)
{
    switch (t) {
    case LUCID_DTYPE_INT8:
        return INT8_MIN;
    case LUCID_DTYPE_INT16:
        return INT16_MIN;
    case LUCID_DTYPE_INT32:
        return INT32_MIN;
    case LUCID_DTYPE_INT64:
        return INT64_MIN;
    default:
        return 0; /* unsigned */
    }
}

static int64_t int_highest(lucid_dtype t)
{
    switch (t) {
    case LUCID_DTYPE_INT8:
        return INT8_MAX;
    case LUCID_DTYPE_INT16:
        return INT16_MAX;
    case LUCID_DTYPE_INT32:
        return INT32_MAX;
    case LUCID_DTYPE_UINT8:
        return UINT8_MAX;
    case LUCID_DTYPE_UINT16:
        return UINT16_MAX;
    case LUCID_DTYPE_UINT32:
        return UINT32_MAX;
    default:
        return INT64_MAX;
    }
}

/* Float reductions accumulate in double; NaN propagates through Max and Min. */
#define LOAD_F32(o_) ((double)xf[o_])
#define LOAD_ANY(o_) lucid_load_f64(t, x->data, o_)
#define V_SUM_F32(o_) (acc += LOAD_F32(o_))
#define V_SUM_ANY(o_) (acc += LOAD_ANY(o_))
#define V_MAX_F32(o_) (v = LOAD_F32(o_), acc = (v > acc || v != v) ? v : acc)
#define V_MAX_ANY(o_) (v = LOAD_ANY(o_), acc = (v > acc || v != v) ? v : acc)
#define V_MIN_F32(o_) (v = LOAD_F32(o_), acc = (v < acc || v != v) ? v : acc)
#define V_MIN_ANY(o_) (v = LOAD_ANY(o_), acc = (v < acc || v != v) ? v : acc)

static void reduce_float(const lucid_array *x, lucid_array *y, const reduce_plan *pl,
                         reduce_kind kind)
{
    lucid_dtype t = x->dtype;
    const float *xf = x->data;
    float *yf = y->data;
    bool f32 = t == LUCID_DTYPE_FLOAT;
    int64_t kidx[LUCID_MAX_RANK] = {0}, base = 0, o = 0;
    do {
        double acc = kind == REDUCE_MAX ? -INFINITY : kind == REDUCE_MIN ? INFINITY : 0, v;
        (void)v;
        if (kind == REDUCE_MAX) {
            if (f32)
                FOR_EACH_REDUCED(pl, base, V_MAX_F32);
            else
                FOR_EACH_REDUCED(pl, base, V_MAX_ANY);
        } else if (kind == REDUCE_MIN) {
            if (f32)
                FOR_EACH_REDUCED(pl, base, V_MIN_F32);
            else
                FOR_EACH_REDUCED(pl, base, V_MIN_ANY);
        } else {
            if (f32)
                FOR_EACH_REDUCED(pl, base, V_SUM_F32);
            else
                FOR_EACH_REDUCED(pl, base, V_SUM_ANY);
            if (kind == REDUCE_MEAN) acc /= (double)pl->count; /* 0/0 is NaN, as specified */
        }
        if (f32)
            yf[o] = (float)acc;
        else
            lucid_store_f64(t, y->data, o, acc);
        o++;
    } while (counter_next(pl->nk, pl->kdims, pl->kstr, kidx, &base));
}

/* Integer reductions are exact; sums wrap like the dtype's arithmetic. */
static void reduce_int(const lucid_array *x, lucid_array *y, const reduce_plan *pl,
                       reduce_kind kind)
{
    lucid_dtype t = x->dtype;
    int64_t kidx[LUCID_MAX_RANK] = {0}, base = 0, o = 0;
    do {
        int64_t acc = kind == REDUCE_MAX ? int_lowest(t) : kind == REDUCE_MIN ? int_highest(t) : 0;
        uint64_t sum = 0;
#define V_SUM_I(off) (sum += (uint64_t)lucid_load_i64(t, x->data, off))
#define V_MAX_I(off)                                                                               \
    do {                                                                                           \
        int64_t v_ = lucid_load_i64(t, x->data, off);                                              \
        acc = v_ > acc ? v_ : acc;                                                                 \
    } while (0)
#define V_MIN_I(off)                                                                               \
    do {                                                                                           \
        int64_t v_ = lucid_load_i64(t, x->data, off);                                              \
        acc = v_ < acc ? v_ : acc;                                                                 \
    } while (0)
        if (kind == REDUCE_MAX)
            FOR_EACH_REDUCED(pl, base, V_MAX_I);
        else if (kind == REDUCE_MIN)
            FOR_EACH_REDUCED(pl, base, V_MIN_I);
        else {
            FOR_EACH_REDUCED(pl, base, V_SUM_I);
            acc = (int64_t)sum;
            if (kind == REDUCE_MEAN) acc = pl->count ? acc / pl->count : 0;
        }
        lucid_store_i64(t, y->data, o++, acc);
    } while (counter_next(pl->nk, pl->kdims, pl->kstr, kidx, &base));
}

static lucid_status reduce_run(const lucid_node *n, const lucid_array *in, int n_in,
                               lucid_array *out, reduce_kind kind, lucid_error *err)
{
    const reduce_params *p = n->params;
    const lucid_array *x = &in[0];
    int64_t axes[LUCID_MAX_RANK];
    size_t n_axes;
    lucid_status st = axes_of_array(n, p, in, n_in, axes, &n_axes, err);
    if (st) return st;
    bool mask[LUCID_MAX_RANK], identity;
    st = reduce_mask(n, p, axes, n_axes, x->rank, mask, &identity, err);
    if (st) return st;
    if (lucid_array_numel(out) == 0) return LUCID_STATUS_OK;
    reduce_plan pl;
    reduce_plan_init(&pl, x->rank, x->dims, mask);
    if (lucid_dtype_is_float(x->dtype))
        reduce_float(x, out, &pl, kind);
    else
        reduce_int(x, out, &pl, kind);
    return LUCID_STATUS_OK;
}

#define REDUCE_RUN(NAME, KIND)                                                                     \
    static lucid_status NAME##_run(const lucid_node *n, const lucid_array *in, int n_in,           \
                                   lucid_array *out, int n_out, lucid_error *err)                  \
    {                                                                                              \
        return reduce_run(n, in, n_in, out, KIND, err);                                            \
    }
REDUCE_RUN(reduce_sum, REDUCE_SUM)
REDUCE_RUN(reduce_mean, REDUCE_MEAN)
REDUCE_RUN(reduce_max, REDUCE_MAX)
REDUCE_RUN(reduce_min, REDUCE_MIN)

/* one operation per input element */
static void reduce_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    int64_t numel = x ? lucid_tensor_numel(x) : 0;
    *macs = 0;
    *flops = numel > 0 ? (double)numel : 0;
}

/* ---- ArgMax --------------------------------------------------------------------------- */

typedef struct arg_max_params {
    int64_t axis, keepdims, select_last_index;
} arg_max_params;

static lucid_status arg_max_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                  lucid_error *err)
{
    arg_max_params *p = params;
    lucid_status st = lucid_attr_int(n, "axis", 0, &p->axis, err);
    if (!st) st = lucid_attr_int(n, "keepdims", 1, &p->keepdims, err);
    if (!st) st = lucid_attr_int(n, "select_last_index", 0, &p->select_last_index, err);
    if (!st && p->select_last_index && n->opset < 12)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "select_last_index exists from opset 12");
    return st;
}

static lucid_status arg_max_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const arg_max_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = lucid_op_check_dtype(g, n, 0, reduce_dtypes, err);
    if (st) return st;
    if (x->rank == 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input '%s' is a scalar; ArgMax needs an axis", x->name);
    int axis;
    st = lucid_op_axis(n, p->axis, x->rank, &axis, err);
    if (st) return st;
    if (x->dims[axis] == 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "axis %d of input '%s' is empty; it has no maximum", axis,
                                 x->name);
    int64_t dims[LUCID_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (i != axis)
            dims[r++] = x->dims[i];
        else if (p->keepdims)
            dims[r++] = 1;
    }
    return lucid_op_set_output(g, n, 0, LUCID_DTYPE_INT64, r, dims, err);
}

static lucid_status arg_max_run(const lucid_node *n, const lucid_array *in, int n_in,
                                lucid_array *out, int n_out, lucid_error *err)
{
    const arg_max_params *p = n->params;
    const lucid_array *x = &in[0];
    int axis = (int)(p->axis < 0 ? p->axis + x->rank : p->axis);
    int64_t outer = 1, len = x->dims[axis], inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        inner *= x->dims[i];
    bool last = p->select_last_index != 0, is_float = lucid_dtype_is_float(x->dtype);
    int64_t *y = out->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * len * inner + j, best_k = 0;
            if (is_float) {
                /* the first NaN is the maximum, as in NumPy (the last one with
                 * select_last_index) */
                double best = lucid_load_f64(x->dtype, x->data, base);
                for (int64_t k = 1; k < len; k++) {
                    double v = lucid_load_f64(x->dtype, x->data, base + k * inner);
                    if (isnan(best)) {
                        if (last && isnan(v)) best_k = k;
                        continue;
                    }
                    if (isnan(v) || (last ? v >= best : v > best)) {
                        best = v;
                        best_k = k;
                    }
                }
            } else {
                int64_t best = lucid_load_i64(x->dtype, x->data, base);
                for (int64_t k = 1; k < len; k++) {
                    int64_t v = lucid_load_i64(x->dtype, x->data, base + k * inner);
                    if (last ? v >= best : v > best) {
                        best = v;
                        best_k = k;
                    }
                }
            }
            y[o * inner + j] = best_k;
        }
    }
    return LUCID_STATUS_OK;
}

/* ---- definitions ---------------------------------------------------------------------- */

#define REDUCE_DEF(SYM, NAME, PARSE)                                                               \
    const lucid_op_def lucid_op_def_##SYM = {.name = NAME,                                         \
                                             .min_inputs = 1,                                      \
                                             .max_inputs = 2,                                      \
                                             .min_outputs = 1,                                     \
                                             .max_outputs = 1,                                     \
                                             .params_size = sizeof(reduce_params),                 \
                                             .parse = PARSE,                                       \
                                             .infer = reduce_infer,                                \
                                             .cost = reduce_cost,                                  \
                                             .run = SYM##_run};

REDUCE_DEF(reduce_mean, "ReduceMean", reduce_other_parse)
REDUCE_DEF(reduce_sum, "ReduceSum", reduce_sum_parse)
REDUCE_DEF(reduce_max, "ReduceMax", reduce_other_parse)
REDUCE_DEF(reduce_min, "ReduceMin", reduce_other_parse)

const lucid_op_def lucid_op_def_arg_max = {.name = "ArgMax",
                                           .min_inputs = 1,
                                           .max_inputs = 1,
                                           .min_outputs = 1,
                                           .max_outputs = 1,
                                           .params_size = sizeof(arg_max_params),
                                           .parse = arg_max_parse,
                                           .infer = arg_max_infer,
                                           .cost = reduce_cost,
                                           .run = arg_max_run};
