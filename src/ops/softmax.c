/* softmax.c - Softmax and LogSoftmax, with the axis semantics of opsets before and from 13. */
#include <math.h>

#include "core/util.h"
#include "ops/elementwise.h"

typedef struct softmax_params {
    int64_t axis;
} softmax_params;

/* Before opset 13 the input is coerced to 2-D at axis (default 1) and each row of the
 * flattened trailing dims is normalized; from 13 only the one axis (default -1) is. */
static lucid_status softmax_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                  lucid_error *err)
{
    softmax_params *p = params;
    return lucid_attr_int(n, "axis", n->opset < 13 ? 1 : -1, &p->axis, err);
}

static lucid_status softmax_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const softmax_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = lucid_op_check_dtype(g, n, 0, lucid_dtypes_float, err);
    if (st) return st;
    int axis;
    st = lucid_op_axis(n, p->axis, x->rank, &axis, err);
    if (st) return st;
    return lucid_op_set_output(g, n, 0, x->dtype, x->rank, x->dims, err);
}

/* The normalized groups: outer groups of len elements, inner apart. */
static void softmax_layout(const lucid_node *n, const lucid_array *x, int64_t *outer, int64_t *len,
                           int64_t *inner)
{
    const softmax_params *p = n->params;
    int r = x->rank;
    int axis = (int)(p->axis < 0 ? p->axis + r : p->axis);
    if (axis < 0) axis = 0; /* rank 0 */
    *outer = *len = *inner = 1;
    for (int i = 0; i < r; i++) {
        if (i < axis)
            *outer *= x->dims[i];
        else if (i == axis || n->opset < 13)
            *len *= x->dims[i];
        else
            *inner *= x->dims[i];
    }
}

static void softmax_f32(const float *x, float *y, int64_t outer, int64_t len, int64_t inner,
                        bool log_out)
{
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < inner; j++) {
            const float *xs = x + o * len * inner + j;
            float *ys = y + o * len * inner + j;
            float m = -INFINITY;
            for (int64_t k = 0; k < len; k++)
                m = xs[k * inner] > m ? xs[k * inner] : m;
            double sum = 0;
            for (int64_t k = 0; k < len; k++) {
                float e = expf(xs[k * inner] - m);
                sum += e;
                if (!log_out) ys[k * inner] = e;
            }
            if (log_out) {
                float ls = (float)log(sum);
                for (int64_t k = 0; k < len; k++)
                    ys[k * inner] = xs[k * inner] - m - ls;
            } else {
                float inv = (float)(1.0 / sum);
                for (int64_t k = 0; k < len; k++)
                    ys[k * inner] *= inv;
            }
        }
    }
}

/* float64, float16 and bfloat16 compute in double through the generic accessors. */
static void softmax_generic(const lucid_array *x, lucid_array *y, int64_t outer, int64_t len,
                            int64_t inner, bool log_out)
{
    lucid_dtype t = x->dtype;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * len * inner + j;
            double m = -INFINITY;
            for (int64_t k = 0; k < len; k++) {
                double v = lucid_load_f64(t, x->data, base + k * inner);
                m = v > m ? v : m;
            }
            double sum = 0;
            for (int64_t k = 0; k < len; k++)
                sum += exp(lucid_load_f64(t, x->data, base + k * inner) - m);
            double ls = log(sum);
            for (int64_t k = 0; k < len; k++) {
                int64_t i = base + k * inner;
                double v = lucid_load_f64(t, x->data, i) - m;
                lucid_store_f64(t, y->data, i, log_out ? v - ls : exp(v) / sum);
            }
        }
    }
}

static lucid_status run_common(const lucid_node *n, const lucid_array *in, lucid_array *out,
                               bool log_out)
{
    int64_t outer, len, inner;
    softmax_layout(n, &in[0], &outer, &len, &inner);
    if (in[0].dtype == LUCID_DTYPE_FLOAT)
        softmax_f32(in[0].data, out->data, outer, len, inner, log_out);
    else
        softmax_generic(&in[0], out, outer, len, inner, log_out);
    return LUCID_STATUS_OK;
}

static lucid_status softmax_run(const lucid_node *n, const lucid_array *in, int n_in,
                                lucid_array *out, int n_out, lucid_error *err)
{
    return run_common(n, in, out, false);
}

static lucid_status log_softmax_run(const lucid_node *n, const lucid_array *in, int n_in,
                                    lucid_array *out, int n_out, lucid_error *err)
{
    return run_common(n, in, out, true);
}

/* max, subtract, exp, add, divide (or subtract) per element */
static void softmax_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    *macs = 0;
    *flops = 8 * lucid_ew_out_numel(g, n);
}

const lucid_op_def lucid_op_def_softmax = {.name = "Softmax",
                                           .min_inputs = 1,
                                           .max_inputs = 1,
                                           .min_outputs = 1,
                                           .max_outputs = 1,
                                           .params_size = sizeof(softmax_params),
                                           .parse = softmax_parse,
                                           .infer = softmax_infer,
                                           .cost = softmax_cost,
                                           .run = softmax_run};

const lucid_op_def lucid_op_def_log_softmax = {.name = "LogSoftmax",
                                               .min_inputs = 1,
                                               .max_inputs = 1,
                                               .min_outputs = 1,
                                               .max_outputs = 1,
                                               .params_size = sizeof(softmax_params),
                                               .parse = softmax_parse,
                                               .infer = softmax_infer,
                                               .cost = softmax_cost,
                                               .run = log_softmax_run};
