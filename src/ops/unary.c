/* unary.c - elementwise unary math: Erf, Sqrt, Exp, Log, Neg, Abs, Reciprocal, Floor, Ceil, Not. */
#include <string.h>
#include <tgmath.h>

#include "core/util.h"
#include "ops/elementwise.h"

typedef struct unary_noparams {
    int unused;
} unary_noparams;

LUCID_UNARY_FLOAT_KERNELS(erf, unary_noparams, erf(x))
LUCID_UNARY_FLOAT_KERNELS(sqrt, unary_noparams, sqrt(x))
LUCID_UNARY_FLOAT_KERNELS(exp, unary_noparams, exp(x))
LUCID_UNARY_FLOAT_KERNELS(log, unary_noparams, log(x))
LUCID_UNARY_FLOAT_KERNELS(neg, unary_noparams, -x)
LUCID_UNARY_FLOAT_KERNELS(abs, unary_noparams, fabs(x))
LUCID_UNARY_FLOAT_KERNELS(reciprocal, unary_noparams, (T)1 / x)
LUCID_UNARY_FLOAT_KERNELS(floor, unary_noparams, floor(x))
LUCID_UNARY_FLOAT_KERNELS(ceil, unary_noparams, ceil(x))

static lucid_status float_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    return lucid_ew_infer_same(g, n, lucid_dtypes_float, err);
}

#define FLOAT_RUN(NAME)                                                                            \
    static lucid_status NAME##_run(const lucid_node *n, const lucid_array *in, int n_in,           \
                                   lucid_array *out, int n_out, lucid_error *err)                  \
    {                                                                                              \
        return lucid_unary_float_run(n, &NAME##_kernels, &in[0], &out[0], NULL, err);              \
    }

FLOAT_RUN(erf)
FLOAT_RUN(sqrt)
FLOAT_RUN(exp)
FLOAT_RUN(log)
FLOAT_RUN(reciprocal)
FLOAT_RUN(floor)
FLOAT_RUN(ceil)

/* Transcendental functions cost several flops per element. */
static void transcendental_cost(const lucid_graph *g, const lucid_node *n, double *macs,
                                double *flops)
{
    *macs = 0;
    *flops = 4 * lucid_ew_out_numel(g, n);
}

/* ---- Neg and Abs also take integers ---------------------------------------------------- */

static lucid_status neg_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    return lucid_ew_infer_same(g, n, lucid_dtypes_signed, err);
}

static lucid_status abs_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    return lucid_ew_infer_same(g, n, lucid_dtypes_numeric, err);
}

static lucid_status neg_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                            int n_out, lucid_error *err)
{
    if (lucid_dtype_is_float(in[0].dtype))
        return lucid_unary_float_run(n, &neg_kernels, &in[0], &out[0], NULL, err);
    int64_t numel = lucid_array_numel(&in[0]);
    /* negate through uint64 so the most negative value wraps instead of overflowing */
    for (int64_t i = 0; i < numel; i++)
        lucid_store_i64(out->dtype, out->data, i,
                        (int64_t)(0 - (uint64_t)lucid_load_i64(in[0].dtype, in[0].data, i)));
    return LUCID_STATUS_OK;
}

static lucid_status abs_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                            int n_out, lucid_error *err)
{
    lucid_dtype t = in[0].dtype;
    if (lucid_dtype_is_float(t))
        return lucid_unary_float_run(n, &abs_kernels, &in[0], &out[0], NULL, err);
    int64_t numel = lucid_array_numel(&in[0]);
    bool is_unsigned = t == LUCID_DTYPE_UINT8 || t == LUCID_DTYPE_UINT16 ||
                       t == LUCID_DTYPE_UINT32 || t == LUCID_DTYPE_UINT64;
    if (is_unsigned) {
        memcpy(out->data, in[0].data, out->nbytes);
        return LUCID_STATUS_OK;
    }
    for (int64_t i = 0; i < numel; i++) {
        int64_t v = lucid_load_i64(t, in[0].data, i);
        lucid_store_i64(t, out->data, i, v < 0 ? (int64_t)(0 - (uint64_t)v) : v);
    }
    return LUCID_STATUS_OK;
}

/* ---- Not ------------------------------------------------------------------------------ */

static lucid_status not_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    return lucid_ew_infer_same(g, n, lucid_dtypes_bool, err);
}

static lucid_status not_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                            int n_out, lucid_error *err)
{
    const uint8_t *x = in[0].data;
    uint8_t *y = out->data;
    int64_t numel = lucid_array_numel(&in[0]);
    for (int64_t i = 0; i < numel; i++)
        y[i] = x[i] == 0;
    return LUCID_STATUS_OK;
}

/* ---- definitions ---------------------------------------------------------------------- */

#define UNARY_DEF(SYM, NAME, INFER, COST) UNARY_DEF_FROM(0, SYM, NAME, INFER, COST)
/* an op lucid implements from opset SINCE on */
#define UNARY_DEF_FROM(SINCE, SYM, NAME, INFER, COST)                                              \
    const lucid_op_def lucid_op_def_##SYM = {.name = NAME,                                         \
                                             .min_opset = SINCE,                                   \
                                             .min_inputs = 1,                                      \
                                             .max_inputs = 1,                                      \
                                             .min_outputs = 1,                                     \
                                             .max_outputs = 1,                                     \
                                             .infer = INFER,                                       \
                                             .cost = COST,                                         \
                                             .run = SYM##_run};

UNARY_DEF_FROM(9, erf, "Erf", float_infer, transcendental_cost)
UNARY_DEF(sqrt, "Sqrt", float_infer, transcendental_cost)
UNARY_DEF(exp, "Exp", float_infer, transcendental_cost)
UNARY_DEF(log, "Log", float_infer, transcendental_cost)
UNARY_DEF(neg, "Neg", neg_infer, NULL)
UNARY_DEF(abs, "Abs", abs_infer, NULL)
UNARY_DEF(reciprocal, "Reciprocal", float_infer, NULL)
UNARY_DEF(floor, "Floor", float_infer, NULL)
UNARY_DEF(ceil, "Ceil", float_infer, NULL)
UNARY_DEF(not, "Not", not_infer, NULL)
