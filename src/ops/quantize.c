/* quantize.c - QuantizeLinear and DequantizeLinear (opsets 10, 13 and later: per-tensor and
 * per-axis scales, int8/uint8 with zero points, round half to even, saturation), the explicit
 * quantization form lucid's INT8 path reads; QLinearConv and QLinearMatMul, the operators ONNX
 * Runtime's quantizer writes in its operator-oriented format, with integer reference kernels.
 *
 * Conventions shared with lucid's int8 layers (qconv.c):
 *   q = saturate(round_half_even(x / scale) + zero_point)     (x / scale in float32)
 *   x = (q - zero_point) * scale                               (in float32)
 * A scale must be positive and finite: a zero, negative, infinite or NaN scale is refused
 * (at inference when it is a constant, else when the kernel runs). NaN inputs quantize to the
 * zero point. */
#include <math.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"
#include "ops/quant_util.h"

/* ---- shared helpers (declared in quant_util.h) ------------------------------------------ */

int32_t lucid_q_round_half_even(float v)
{
    /* callers clamp first; here |v| < 2^31 is assumed, NaN gives 0 */
    if (!(v == v)) return 0;
    float f = floorf(v);
    float d = v - f;
    int64_t r = (int64_t)f;
    if (d > 0.5f || (d == 0.5f && (r & 1))) r++;
    return (int32_t)r;
}

int32_t lucid_q_quantize(float x, float scale, int32_t zero_point, int32_t qmin, int32_t qmax)
{
    float v = x / scale;
    if (!(v == v)) return zero_point;
    /* clamp in float first so that the conversion is defined for any magnitude: beyond
     * +-2^31 every target range saturates anyway */
    if (v > 2.0e9f) v = 2.0e9f;
    if (v < -2.0e9f) v = -2.0e9f;
    int64_t q = (int64_t)lucid_q_round_half_even(v) + zero_point;
    if (q < qmin) q = qmin;
    if (q > qmax) q = qmax;
    return (int32_t)q;
}

bool lucid_q_dtype_range(lucid_dtype t, int32_t *qmin, int32_t *qmax)
{
    switch (t) {
    case LUCID_DTYPE_INT8:
        *qmin = -128;
        *qmax = 127;
        return true;
    case LUCID_DTYPE_UINT8:
        *qmin = 0;
        *qmax = 255;
        return true;
    case LUCID_DTYPE_INT32:
        *qmin = INT32_MIN;
        *qmax = INT32_MAX;
        return true;
    default:
        return false;
    }
}

bool lucid_q_scale_ok(float s)
{
    return s > 0 && isfinite(s);
}

lucid_status lucid_q_check_scales(const lucid_node *n, const char *what, lucid_dtype dtype,
                                  const void *data, int64_t count, lucid_error *err)
{
    for (int64_t i = 0; i < count; i++) {
        float s = (float)lucid_load_f64(dtype, data, i);
        if (!lucid_q_scale_ok(s))
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "%s[%lld] is %g; a quantization scale must be positive and "
                                     "finite",
                                     what, (long long)i, (double)s);
    }
    return LUCID_STATUS_OK;
}

/* ---- QuantizeLinear / DequantizeLinear ------------------------------------------------ */

typedef struct qdq_params {
    int64_t axis;         /* as given (normalized against the rank at infer and run) */
    int64_t output_dtype; /* QuantizeLinear opset 21: 0 = from the zero point */
} qdq_params;

static lucid_status qdq_parse(const lucid_graph *g, const lucid_node *n, void *params,
                              lucid_error *err)
{
    (void)g;
    qdq_params *p = params;
    lucid_status st = lucid_attr_int(n, "axis", 1, &p->axis, err);
    if (st) return st;
    if (n->opset < 13 && lucid_node_attr(n, "axis"))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute 'axis' exists from opset 13 on");
    const lucid_attr *bs = lucid_node_attr(n, "block_size");
    if (bs && (bs->type != LUCID_ATTR_INT || bs->i != 0))
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "blocked quantization (block_size) is not supported");
    if ((st = lucid_attr_int(n, "output_dtype", 0, &p->output_dtype, err))) return st;
    if (p->output_dtype != 0 && p->output_dtype != LUCID_DTYPE_INT8 &&
        p->output_dtype != LUCID_DTYPE_UINT8)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "output_dtype %lld is not supported (int8 or uint8 only)",
                                 (long long)p->output_dtype);
    const lucid_attr *sat = lucid_node_attr(n, "saturate");
    if (sat && (sat->type != LUCID_ATTR_INT))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute 'saturate' must be an integer");
    /* saturate only concerns float8 outputs; integer outputs always saturate */
    return LUCID_STATUS_OK;
}

/* The quantization geometry of a Q or DQ node: per tensor (axis -1) or along one axis. */
typedef struct qdq_geom {
    int axis;          /* -1: per tensor */
    int64_t channels;  /* along axis (1 per tensor) */
    int64_t inner;     /* elements after axis */
} qdq_geom;

/* Checks scale (input 1) and zero point (input 2) shapes against x's rank and dims. */
static lucid_status qdq_check(const lucid_node *n, const qdq_params *p, int x_rank,
                              const int64_t *x_dims, int s_rank, const int64_t *s_dims,
                              int zp_rank, const int64_t *zp_dims, bool has_zp, qdq_geom *geo,
                              lucid_error *err)
{
    char ss[128], sz[128];
    int64_t s_numel = lucid_shape_numel(s_rank, s_dims);
    geo->axis = -1;
    geo->channels = 1;
    geo->inner = 1;
    if (s_rank == 0 || (s_rank == 1 && s_dims[0] == 1 && n->opset < 13) ||
        (s_rank == 1 && s_dims[0] == 1 && x_rank == 0)) {
        /* per tensor */
    } else if (s_rank == 1) {
        if (n->opset < 13)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "scale has shape %s; before opset 13 it must be a scalar",
                                     lucid_shape_str(s_rank, s_dims, ss, sizeof ss));
        int axis;
        lucid_status st = lucid_op_axis(n, p->axis, x_rank, &axis, err);
        if (st) return st;
        if (x_rank == 0 || s_dims[0] != x_dims[axis]) {
            if (s_numel == 1) {
                /* a one-element scale vector is per tensor too */
            } else {
                char sx[128];
                return lucid_node_errorf(
                    n, err, LUCID_STATUS_INVALID_MODEL,
                    "scale has shape %s; per-axis scales need one value per index of axis %d "
                    "of %s",
                    lucid_shape_str(s_rank, s_dims, ss, sizeof ss), axis,
                    lucid_shape_str(x_rank, x_dims, sx, sizeof sx));
            }
        } else {
            geo->axis = axis;
            geo->channels = x_dims[axis];
            for (int k = axis + 1; k < x_rank; k++) geo->inner *= x_dims[k];
        }
    } else {
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "scale has shape %s: only a scalar or a 1-D per-axis scale is "
                                 "supported (not blocked quantization)",
                                 lucid_shape_str(s_rank, s_dims, ss, sizeof ss));
    }
    if (has_zp) {
        int64_t z_numel = lucid_shape_numel(zp_rank, zp_dims);
        bool same = zp_rank == s_rank;
        for (int k = 0; same && k < s_rank; k++) same = zp_dims[k] == s_dims[k];
        if (!same && !(z_numel == 1 && s_numel == 1))
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "zero point has shape %s, scale %s: they must match",
                                     lucid_shape_str(zp_rank, zp_dims, sz, sizeof sz),
                                     lucid_shape_str(s_rank, s_dims, ss, sizeof ss));
    }
    return LUCID_STATUS_OK;
}

static const lucid_dtype qdq_scale_types[] = {LUCID_DTYPE_FLOAT, LUCID_DTYPE_UNDEFINED};

static lucid_status qdq_infer_common(lucid_graph *g, lucid_node *n, bool quantize,
                                     lucid_error *err)
{
    const qdq_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *s = lucid_op_input(g, n, 1),
                          *z = lucid_op_input(g, n, 2);
    lucid_status st = lucid_op_check_dtype(g, n, 1, qdq_scale_types, err);
    if (st) return st;
    if (quantize) {
        static const lucid_dtype xt[] = {LUCID_DTYPE_FLOAT, LUCID_DTYPE_INT32,
                                         LUCID_DTYPE_UNDEFINED};
        if ((st = lucid_op_check_dtype(g, n, 0, xt, err))) return st;
    } else {
        static const lucid_dtype xt[] = {LUCID_DTYPE_INT8, LUCID_DTYPE_UINT8, LUCID_DTYPE_INT32,
                                         LUCID_DTYPE_UNDEFINED};
        if ((st = lucid_op_check_dtype(g, n, 0, xt, err))) return st;
    }
    lucid_dtype qt = quantize ? (z ? z->dtype
                                   : p->output_dtype ? (lucid_dtype)p->output_dtype
                                                     : LUCID_DTYPE_UINT8)
                              : x->dtype;
    if (quantize && qt != LUCID_DTYPE_INT8 && qt != LUCID_DTYPE_UINT8)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "zero point '%s' has dtype %s; int8 and uint8 are supported",
                                 z->name, lucid_dtype_name(qt));
    if (quantize && z && p->output_dtype && p->output_dtype != (int64_t)z->dtype)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "output_dtype disagrees with the zero point's dtype");
    if (!quantize && z && z->dtype != x->dtype)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "zero point '%s' is %s, the input %s: they must agree", z->name,
                                 lucid_dtype_name(z->dtype), lucid_dtype_name(x->dtype));
    qdq_geom geo;
    if ((st = qdq_check(n, p, x->rank, x->dims, s->rank, s->dims, z ? z->rank : 0,
                        z ? z->dims : NULL, z != NULL, &geo, err)))
        return st;
    if (s->data &&
        (st = lucid_q_check_scales(n, "scale", s->dtype, s->data, lucid_tensor_numel(s), err)))
        return st;
    if (!quantize && x->dtype == LUCID_DTYPE_INT32 && z && z->data) {
        for (int64_t i = 0; i < lucid_tensor_numel(z); i++)
            if (lucid_load_i64(z->dtype, z->data, i) != 0)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "an int32 input needs zero points of 0");
    }
    return lucid_op_set_output(g, n, 0, quantize ? qt : LUCID_DTYPE_FLOAT, x->rank, x->dims, err);
}

static lucid_status quantize_linear_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    return qdq_infer_common(g, n, true, err);
}

static lucid_status dequantize_linear_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    return qdq_infer_common(g, n, false, err);
}

static lucid_status qdq_run_common(const lucid_node *n, const lucid_array *in, int n_in,
                                   lucid_array *out, bool quantize, lucid_error *err)
{
    const qdq_params *p = n->params;
    const lucid_array *x = &in[0], *s = &in[1];
    const lucid_array *z = n_in > 2 && in[2].data ? &in[2] : NULL;
    qdq_geom geo;
    lucid_status st = qdq_check(n, p, x->rank, x->dims, s->rank, s->dims, z ? z->rank : 0,
                                z ? z->dims : NULL, z != NULL, &geo, err);
    if (st) return st;
    if (s->dtype != LUCID_DTYPE_FLOAT)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "scale dtype mismatch at run time");
    const float *sc = s->data;
    if ((st = lucid_q_check_scales(n, "scale", s->dtype, sc, lucid_array_numel(s), err)))
        return st;
    const int64_t count = lucid_array_numel(x);
    if (quantize) {
        int32_t qmin, qmax;
        if (!lucid_q_dtype_range(out[0].dtype, &qmin, &qmax) || out[0].dtype == LUCID_DTYPE_INT32)
            return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "output dtype at run time");
        for (int64_t i = 0; i < count; i++) {
            int64_t c = geo.axis < 0 ? 0 : (i / geo.inner) % geo.channels;
            int32_t zp = z ? (int32_t)lucid_load_i64(z->dtype, z->data, c) : 0;
            float xv = x->dtype == LUCID_DTYPE_FLOAT ? ((const float *)x->data)[i]
                                                     : (float)lucid_load_i64(x->dtype, x->data, i);
            lucid_store_i64(out[0].dtype, out[0].data, i,
                            lucid_q_quantize(xv, sc[c], zp, qmin, qmax));
        }
    } else {
        float *y = out[0].data;
        for (int64_t i = 0; i < count; i++) {
            int64_t c = geo.axis < 0 ? 0 : (i / geo.inner) % geo.channels;
            int64_t zp = z ? lucid_load_i64(z->dtype, z->data, c) : 0;
            y[i] = (float)(lucid_load_i64(x->dtype, x->data, i) - zp) * sc[c];
        }
    }
    return LUCID_STATUS_OK;
}

static lucid_status quantize_linear_run(const lucid_node *n, const lucid_array *in, int n_in,
                                        lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_out;
    return qdq_run_common(n, in, n_in, out, true, err);
}

static lucid_status dequantize_linear_run(const lucid_node *n, const lucid_array *in, int n_in,
                                          lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_out;
    return qdq_run_common(n, in, n_in, out, false, err);
}

static void qdq_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    (void)macs;
    double count = (double)lucid_tensor_numel(lucid_op_output(g, n, 0));
    if (count > 0) *flops = 2 * count; /* a scale and a zero point per element */
}

const lucid_op_def lucid_op_def_quantize_linear = {
    .name = "QuantizeLinear",
    .min_inputs = 2,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 1,
    .min_opset = 10,
    .params_size = sizeof(qdq_params),
    .parse = qdq_parse,
    .infer = quantize_linear_infer,
    .cost = qdq_cost,
    .run = quantize_linear_run,
};

const lucid_op_def lucid_op_def_dequantize_linear = {
    .name = "DequantizeLinear",
    .min_inputs = 2,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 1,
    .min_opset = 10,
    .params_size = sizeof(qdq_params),
    .parse = qdq_parse,
    .infer = dequantize_linear_infer,
    .cost = qdq_cost,
    .run = dequantize_linear_run,
};
