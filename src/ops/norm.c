/* norm.c - BatchNormalization (inference), InstanceNormalization and LRN. */
#include <math.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"

static const lucid_dtype norm_types[] = {LUCID_DTYPE_FLOAT, LUCID_DTYPE_DOUBLE, LUCID_DTYPE_FLOAT16,
                                         LUCID_DTYPE_BFLOAT16, LUCID_DTYPE_UNDEFINED};

/* Element access with a direct path for float32, the dtype every real model uses. */
static inline double norm_load(lucid_dtype t, const void *p, int64_t i)
{
    return t == LUCID_DTYPE_FLOAT ? (double)((const float *)p)[i] : lucid_load_f64(t, p, i);
}

static inline void norm_store(lucid_dtype t, void *p, int64_t i, double v)
{
    if (t == LUCID_DTYPE_FLOAT)
        ((float *)p)[i] = (float)v;
    else
        lucid_store_f64(t, p, i, v);
}

/* Product of dims[from..rank). */
static int64_t norm_prod(int rank, const int64_t *dims, int from)
{
    int64_t p = 1;
    for (int i = from; i < rank; i++)
        p *= dims[i];
    return p;
}

static lucid_status norm_check_types(const lucid_graph *g, const lucid_node *n, int count,
                                     lucid_error *err)
{
    lucid_status st;
    for (int i = 0; i < count; i++)
        if ((st = lucid_op_check_dtype(g, n, i, norm_types, err))) return st;
    return LUCID_STATUS_OK;
}

/* ---- BatchNormalization ------------------------------------------------------------ */

typedef struct batch_norm_params {
    float epsilon;
    int64_t spatial; /* opset < 9: 0 means parameters per activation, not per channel */
} batch_norm_params;

static lucid_status batch_norm_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                     lucid_error *err)
{
    batch_norm_params *p = params;
    int64_t training = 0;
    lucid_status st;
    if ((st = lucid_attr_float(n, "epsilon", 1e-5f, &p->epsilon, err)) ||
        (st = lucid_attr_int(n, "spatial", 1, &p->spatial, err)) ||
        (st = lucid_attr_int(n, "training_mode", 0, &training, err)))
        return st;
    if (n->opset >= 9) p->spatial = 1; /* the attribute was removed in opset 9 */
    if (training != 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "training_mode=%lld (normalizing with batch statistics and "
                                 "updating running statistics) is not supported; lucid runs "
                                 "inference only",
                                 (long long)training);
    if (n->n_outputs > 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "has %d outputs: the mean, variance and saved statistics "
                                 "outputs exist only in training, which lucid does not run",
                                 n->n_outputs);
    if (!(p->epsilon >= 0.0f) || isinf(p->epsilon))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "epsilon %g must be finite and non-negative", (double)p->epsilon);
    return LUCID_STATUS_OK;
}

/* Parameters are per channel (C values), or with spatial=0 per activation (C x D1 x ...).
 * Returns the number of values each parameter has, or -1 if a shape does not fit. */
static int64_t batch_norm_param_count(const batch_norm_params *p, int xr, const int64_t *xd, int pr,
                                      const int64_t *pd)
{
    int64_t numel = norm_prod(pr, pd, 0);
    if (pr == 1 && numel == xd[1]) return numel;
    if (!p->spatial && numel == norm_prod(xr, xd, 1)) return numel;
    return -1;
}

static lucid_status batch_norm_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    static const char *const names[] = {"X", "scale", "B", "input_mean", "input_var"};
    const batch_norm_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = norm_check_types(g, n, 5, err);
    if (st) return st;
    char sx[128], sp[128];
    if (x->rank < 2)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input X %s must have rank 2 or more (N x C x ...)",
                                 lucid_shape_str(x->rank, x->dims, sx, sizeof sx));
    for (int i = 1; i < 5; i++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, i);
        if (batch_norm_param_count(p, x->rank, x->dims, t->rank, t->dims) < 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "%s has shape %s; input X %s needs %lld values (one per "
                                     "channel)%s",
                                     names[i], lucid_shape_str(t->rank, t->dims, sp, sizeof sp),
                                     lucid_shape_str(x->rank, x->dims, sx, sizeof sx),
                                     (long long)x->dims[1],
                                     p->spatial ? "" : " or one per activation");
    }
    return lucid_op_set_output(g, n, 0, x->dtype, x->rank, x->dims, err);
}

static void batch_norm_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    /* a subtraction and a multiply-add per element; the per-channel factors are negligible */
    *flops = 3.0 * (double)lucid_tensor_numel(lucid_op_input(g, n, 0));
}

static lucid_status batch_norm_run(const lucid_node *n, const lucid_array *in, int n_in,
                                   lucid_array *out, int n_out, lucid_error *err)
{
    const batch_norm_params *p = n->params;
    const lucid_array *x = &in[0];
    if (x->rank < 2) return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "bad rank");
    int64_t count = -1;
    for (int i = 1; i < 5; i++) {
        int64_t c = batch_norm_param_count(p, x->rank, x->dims, in[i].rank, in[i].dims);
        if (c < 0 || (count >= 0 && c != count))
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "parameter %d does not fit input X", i);
        count = c;
    }
    const int64_t batch = x->dims[0], chan = x->dims[1], inner = norm_prod(x->rank, x->dims, 2);
    const bool per_act = count != chan; /* with one value per element (spatial=0) */
    const lucid_dtype t = x->dtype;
    for (int64_t nb = 0; nb < batch; nb++)
        for (int64_t c = 0; c < chan; c++) {
            const int64_t base = (nb * chan + c) * inner;
            if (!per_act && t == LUCID_DTYPE_FLOAT) {
                /* the reference's form (x - mean) / sqrt(var + eps) * scale + B, with the
                 * per-channel factor folded once in double */
                const float mean = (float)lucid_load_f64(in[3].dtype, in[3].data, c);
                const float a =
                    (float)(lucid_load_f64(in[1].dtype, in[1].data, c) /
                            sqrt(lucid_load_f64(in[4].dtype, in[4].data, c) + (double)p->epsilon));
                const float b = (float)lucid_load_f64(in[2].dtype, in[2].data, c);
                const float *xs = (const float *)x->data + base;
                float *ys = (float *)out[0].data + base;
                for (int64_t i = 0; i < inner; i++)
                    ys[i] = (xs[i] - mean) * a + b;
                continue;
            }
            for (int64_t i = 0; i < inner; i++) {
                const int64_t k = per_act ? c * inner + i : c;
                double a = lucid_load_f64(in[1].dtype, in[1].data, k) /
                           sqrt(lucid_load_f64(in[4].dtype, in[4].data, k) + (double)p->epsilon);
                double v =
                    (norm_load(t, x->data, base + i) - lucid_load_f64(in[3].dtype, in[3].data, k)) *
                        a +
                    lucid_load_f64(in[2].dtype, in[2].data, k);
                norm_store(t, out[0].data, base + i, v);
            }
        }
    return LUCID_STATUS_OK;
}

/* ---- InstanceNormalization ------------------------------------------------------- */

typedef struct instance_norm_params {
    float epsilon;
} instance_norm_params;

static lucid_status instance_norm_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                        lucid_error *err)
{
    instance_norm_params *p = params;
    lucid_status st = lucid_attr_float(n, "epsilon", 1e-5f, &p->epsilon, err);
    if (st) return st;
    if (!(p->epsilon >= 0.0f) || isinf(p->epsilon))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "epsilon %g must be finite and non-negative", (double)p->epsilon);
    return LUCID_STATUS_OK;
}

static lucid_status instance_norm_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = norm_check_types(g, n, 3, err);
    if (st) return st;
    char sx[128], sp[128];
    if (x->rank < 3)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input X %s must have rank 3 or more (N x C x spatial dims)",
                                 lucid_shape_str(x->rank, x->dims, sx, sizeof sx));
    for (int i = 1; i < 3; i++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, i);
        if (t->rank != 1 || t->dims[0] != x->dims[1])
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "%s has shape %s; it must be 1-D with %lld values (the "
                                     "channels of X)",
                                     i == 1 ? "scale" : "B",
                                     lucid_shape_str(t->rank, t->dims, sp, sizeof sp),
                                     (long long)x->dims[1]);
    }
    return lucid_op_set_output(g, n, 0, x->dtype, x->rank, x->dims, err);
}

static void instance_norm_cost(const lucid_graph *g, const lucid_node *n, double *macs,
                               double *flops)
{
    /* mean, squared deviations, then subtract and multiply-add */
    *flops = 6.0 * (double)lucid_tensor_numel(lucid_op_input(g, n, 0));
}

static lucid_status instance_norm_run(const lucid_node *n, const lucid_array *in, int n_in,
                                      lucid_array *out, int n_out, lucid_error *err)
{
    const instance_norm_params *p = n->params;
    const lucid_array *x = &in[0];
    if (x->rank < 3 || in[1].rank != 1 || in[2].rank != 1 || in[1].dims[0] != x->dims[1] ||
        in[2].dims[0] != x->dims[1])
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "scale and B do not fit input X");
    const int64_t batch = x->dims[0], chan = x->dims[1], inner = norm_prod(x->rank, x->dims, 2);
    const lucid_dtype t = x->dtype;
    for (int64_t nb = 0; nb < batch; nb++)
        for (int64_t c = 0; c < chan; c++) {
            const int64_t base = (nb * chan + c) * inner;
            /* two passes in double: the one-pass formula loses precision when the mean is
             * large compared with the spread */
            double sum = 0.0;
            for (int64_t i = 0; i < inner; i++)
                sum += norm_load(t, x->data, base + i);
            const double mean = inner ? sum / (double)inner : 0.0;
            double sq = 0.0;
            for (int64_t i = 0; i < inner; i++) {
                double dv = norm_load(t, x->data, base + i) - mean;
                sq += dv * dv;
            }
            const double var = inner ? sq / (double)inner : 0.0;
            const double a =
                lucid_load_f64(in[1].dtype, in[1].data, c) / sqrt(var + (double)p->epsilon);
            const double b = lucid_load_f64(in[2].dtype, in[2].data, c);
            for (int64_t i = 0; i < inner; i++)
                norm_store(t, out[0].data, base + i,
                           (norm_load(t, x->data, base + i) - mean) * a + b);
        }
    return LUCID_STATUS_OK;
}

/* ---- LRN ------------------------------------------------------------------------- */

typedef struct lrn_params {
    float alpha, beta, bias;
    int64_t size;
} lrn_params;

static lucid_status lrn_parse(const lucid_graph *g, const lucid_node *n, void *params,
                              lucid_error *err)
{
    lrn_params *p = params;
    lucid_status st;
    if ((st = lucid_attr_float(n, "alpha", 1e-4f, &p->alpha, err)) ||
        (st = lucid_attr_float(n, "beta", 0.75f, &p->beta, err)) ||
        (st = lucid_attr_float(n, "bias", 1.0f, &p->bias, err)) ||
        (st = lucid_attr_int(n, "size", 0, &p->size, err)))
        return st;
    if (!lucid_node_attr(n, "size"))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "the required attribute 'size' is missing");
    if (p->size < 1 || p->size > ((int64_t)1 << 30))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "size %lld must be positive",
                                 (long long)p->size);
    return LUCID_STATUS_OK;
}

static lucid_status lrn_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = norm_check_types(g, n, 1, err);
    if (st) return st;
    char sx[128];
    if (x->rank < 2)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input X %s must have rank 2 or more (N x C x ...)",
                                 lucid_shape_str(x->rank, x->dims, sx, sizeof sx));
    return lucid_op_set_output(g, n, 0, x->dtype, x->rank, x->dims, err);
}

static void lrn_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    const lrn_params *p = n->params;
    double numel = (double)lucid_tensor_numel(lucid_op_input(g, n, 0));
    *macs = numel * (double)p->size; /* the sum of squares over the channel window */
    *flops = 4.0 * numel;            /* scale, bias, power, divide */
}

static lucid_status lrn_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                            int n_out, lucid_error *err)
{
    const lrn_params *p = n->params;
    const lucid_array *x = &in[0];
    if (x->rank < 2) return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "bad rank");
    const int64_t batch = x->dims[0], chan = x->dims[1], inner = norm_prod(x->rank, x->dims, 2);
    /* the window over channels: [c - floor((size-1)/2), c + ceil((size-1)/2)] */
    const int64_t before = (p->size - 1) / 2, after = p->size - 1 - before;
    const double scale = (double)p->alpha / (double)p->size;
    const lucid_dtype t = x->dtype;
    for (int64_t nb = 0; nb < batch; nb++)
        for (int64_t c = 0; c < chan; c++) {
            const int64_t lo = c - before < 0 ? 0 : c - before;
            const int64_t hi = c + after >= chan ? chan - 1 : c + after;
            for (int64_t i = 0; i < inner; i++) {
                double sq = 0.0;
                for (int64_t q = lo; q <= hi; q++) {
                    double v = norm_load(t, x->data, (nb * chan + q) * inner + i);
                    sq += v * v;
                }
                const int64_t o = (nb * chan + c) * inner + i;
                norm_store(t, out[0].data, o,
                           norm_load(t, x->data, o) /
                               pow((double)p->bias + scale * sq, (double)p->beta));
            }
        }
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_batch_normalization = {
    .name = "BatchNormalization",
    .min_opset = 6,
    .min_inputs = 5,
    .max_inputs = 5,
    .min_outputs = 1,
    .max_outputs = 5,
    .params_size = sizeof(batch_norm_params),
    .parse = batch_norm_parse,
    .infer = batch_norm_infer,
    .cost = batch_norm_cost,
    .run = batch_norm_run,
};

const lucid_op_def lucid_op_def_instance_normalization = {
    .name = "InstanceNormalization",
    .min_inputs = 3,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(instance_norm_params),
    .parse = instance_norm_parse,
    .infer = instance_norm_infer,
    .cost = instance_norm_cost,
    .run = instance_norm_run,
};

const lucid_op_def lucid_op_def_lrn = {
    .name = "LRN",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(lrn_params),
    .parse = lrn_parse,
    .infer = lrn_infer,
    .cost = lrn_cost,
    .run = lrn_run,
};
