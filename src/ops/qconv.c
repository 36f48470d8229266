/* qconv.c - lucid's int8 engine layers (domain "lucid"), made by the qdq_fusion pass from
 * DequantizeLinear -> Conv/FusedConv/Gemm/MatMul -> QuantizeLinear groups:
 *
 * QConv  inputs: 0 X (int8 | uint8), 1 X_scale (float scalar), 2 X_zero_point (X's dtype,
 *        scalar, optional), 3 W (int8 constant, M x C/group x k...), 4 W_scale (float, scalar
 *        or one per output channel), 5 B (float32 [M], optional), 6 Z (residual, optional:
 *        int8 | uint8 with 7 Z_scale and optional 8 Z_zero_point, or float32 without them),
 *        9 Y_scale (float scalar, optional), 10 Y_zero_point (int8 | uint8 scalar, optional).
 *        Attributes: Conv's (auto_pad, dilations, group, kernel_shape, pads, strides) and the
 *        fused epilogue's (activation, activation_alpha, activation_beta, fused_nodes).
 * QGemm  inputs: 0 A (int8 | uint8, rank >= 2: rows x K), 1 A_scale, 2 A_zero_point
 *        (optional), 3 W (int8 constant, N x K: one row per output column), 4 W_scale (scalar
 *        or [N]), 5 B (float32 [N], optional), 6 Y_scale (optional), 7 Y_zero_point
 *        (optional). Output: A's leading dims x N. Attributes: the epilogue's.
 *
 * Both compute, per output element of channel m,
 *   acc = sum (x - x_zp) * w                     exactly, in integers
 *   v   = act(float(acc) * (x_scale * w_scale[m]) + B[m] + z)   in float32, z the residual
 *                                                (dequantized: (zq - z_zp) * z_scale)
 *   Y   = saturate(round_half_even(v / Y_scale) + Y_zp)  when Y_scale is given, else v.
 * which is DequantizeLinear -> float layer -> QuantizeLinear up to the float rounding of the
 * sum: the float layer adds the products one by one in float32, the int8 layer sums exactly
 * and scales once. Results differ by at most one unit in the last place of the quantized
 * output, where a value lies within float rounding of a rounding tie. Without Y_scale the
 * output is float32. Weights have no zero point (symmetric, as TensorRT and lucid's INT8
 * calibration make them). The reference accumulates in int64 (never overflows); tactics use
 * int32 as their libraries do, which is exact for K below 2^31 / (255 * 128). */
#include <math.h>
#include <string.h>

#include "core/util.h"
#include "ops/conv.h"
#include "ops/activation.h"
#include "ops/qlayers.h"
#include "ops/quant_util.h"

typedef lucid_qconv_params qconv_params;
typedef lucid_qgemm_params qgemm_params;

static bool is_q8(lucid_dtype t)
{
    return t == LUCID_DTYPE_INT8 || t == LUCID_DTYPE_UINT8;
}

/* A constant input that must hold one float32 value (a per-tensor scale). */
static lucid_status q_scalar_scale(const lucid_graph *g, const lucid_node *n, int i,
                                   const char *what, lucid_error *err)
{
    const lucid_ir_tensor *t;
    lucid_status st = lucid_op_const_input(g, n, i, &t, err);
    if (st) return st;
    if (t->dtype != LUCID_DTYPE_FLOAT || lucid_tensor_numel(t) != 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "%s '%s' must be one float32 value", what, t->name);
    return lucid_q_check_scales(n, what, t->dtype, t->data, 1, err);
}

/* An optional constant zero point of dtype want, one value. */
static lucid_status q_zero_point(const lucid_graph *g, const lucid_node *n, int i, lucid_dtype want,
                                 const char *what, lucid_error *err)
{
    if (!lucid_op_input(g, n, i)) return LUCID_STATUS_OK;
    const lucid_ir_tensor *t;
    lucid_status st = lucid_op_const_input(g, n, i, &t, err);
    if (st) return st;
    if (t->dtype != want || lucid_tensor_numel(t) != 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "%s '%s' must be one %s value (it is %s with %lld)", what,
                                 t->name, lucid_dtype_name(want), lucid_dtype_name(t->dtype),
                                 (long long)lucid_tensor_numel(t));
    return LUCID_STATUS_OK;
}

/* The quantized input (0), its scale (1) and zero point (2). */
static lucid_status q_check_input(const lucid_graph *g, const lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    if (!is_q8(x->dtype))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input '%s' is %s; it must be int8 or uint8", x->name,
                                 lucid_dtype_name(x->dtype));
    lucid_status st = q_scalar_scale(g, n, 1, "input scale", err);
    if (!st) st = q_zero_point(g, n, 2, x->dtype, "input zero point", err);
    return st;
}

/* The int8 weights (3) with M output channels along axis 0, their scales (4), the bias (5). */
static lucid_status q_check_weights(const lucid_graph *g, const lucid_node *n, int64_t m,
                                    lucid_error *err)
{
    const lucid_ir_tensor *w, *ws;
    lucid_status st = lucid_op_const_input(g, n, 3, &w, err);
    if (!st) st = lucid_op_const_input(g, n, 4, &ws, err);
    if (st) return st;
    if (w->dtype != LUCID_DTYPE_INT8)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "weight '%s' is %s; it must be int8", w->name,
                                 lucid_dtype_name(w->dtype));
    int64_t cnt = lucid_tensor_numel(ws);
    if (ws->dtype != LUCID_DTYPE_FLOAT || ws->rank > 1 || (cnt != 1 && cnt != m))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "weight scale '%s' must be float32 with 1 or %lld values", ws->name,
                                 (long long)m);
    if ((st = lucid_q_check_scales(n, "weight scale", ws->dtype, ws->data, cnt, err))) return st;
    const lucid_ir_tensor *b = lucid_op_input(g, n, 5);
    if (b && (b->dtype != LUCID_DTYPE_FLOAT || b->rank != 1 || b->dims[0] != m))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "bias '%s' must be float32 [%lld]", b->name, (long long)m);
    return LUCID_STATUS_OK;
}

/* The optional requantization (inputs ys, ys + 1): the output dtype. */
static lucid_status q_output_dtype(const lucid_graph *g, const lucid_node *n, int ys,
                                   lucid_dtype *out, lucid_error *err)
{
    const lucid_ir_tensor *s = lucid_op_input(g, n, ys), *z = lucid_op_input(g, n, ys + 1);
    *out = LUCID_DTYPE_FLOAT;
    if (!s) {
        if (z)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "an output zero point needs an output scale");
        return LUCID_STATUS_OK;
    }
    lucid_status st = q_scalar_scale(g, n, ys, "output scale", err);
    if (st) return st;
    *out = z ? z->dtype : LUCID_DTYPE_INT8;
    if (!is_q8(*out))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "output zero point '%s' is %s; it must be int8 or uint8", z->name,
                                 lucid_dtype_name(*out));
    return q_zero_point(g, n, ys + 1, *out, "output zero point", err);
}

/* ---- run-time helpers ---- */

static float arr_f(const lucid_array *a, int64_t i)
{
    return ((const float *)a->data)[i];
}

static int32_t arr_zp(const lucid_array *in, int n_in, int i)
{
    return n_in > i && in[i].data ? (int32_t)lucid_load_i64(in[i].dtype, in[i].data, 0) : 0;
}

/* The epilogue of one output element: scale, bias, residual, activation, requantization. */
typedef struct q_epilogue {
    const lucid_activation *act;
    float x_scale;
    const float *w_scale;
    int64_t w_scale_count;
    const float *bias;
    const lucid_array *z; /* residual or NULL */
    float z_scale;
    int32_t z_zp;
    bool quantized;
    float y_scale;
    int32_t y_zp, qmin, qmax;
    lucid_array *y;
} q_epilogue;

static void q_store(const q_epilogue *e, int64_t m, int64_t i, int64_t acc)
{
    const float mult = e->x_scale * e->w_scale[e->w_scale_count == 1 ? 0 : m];
    float v = (float)acc * mult;
    if (e->bias) v += e->bias[m];
    if (e->z) {
        if (e->z->dtype == LUCID_DTYPE_FLOAT)
            v += ((const float *)e->z->data)[i];
        else
            v += (float)(lucid_load_i64(e->z->dtype, e->z->data, i) - e->z_zp) * e->z_scale;
    }
    v = lucid_activation_apply(e->act, v);
    if (e->quantized)
        lucid_store_i64(e->y->dtype, e->y->data, i,
                        lucid_q_quantize(v, e->y_scale, e->y_zp, e->qmin, e->qmax));
    else
        ((float *)e->y->data)[i] = v;
}

static lucid_status q_epilogue_init(const lucid_node *n, const lucid_activation *act,
                                    const lucid_array *in, int n_in, int wsi, int zi, int ysi,
                                    lucid_array *y, q_epilogue *e, lucid_error *err)
{
    memset(e, 0, sizeof *e);
    e->act = act;
    e->x_scale = arr_f(&in[1], 0);
    e->w_scale = in[wsi].data;
    e->w_scale_count = lucid_array_numel(&in[wsi]);
    e->bias = n_in > wsi + 1 && in[wsi + 1].data ? in[wsi + 1].data : NULL;
    if (zi > 0 && n_in > zi && in[zi].data) {
        e->z = &in[zi];
        if (lucid_array_numel(e->z) != lucid_array_numel(y))
            return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "residual size at run time");
        if (e->z->dtype != LUCID_DTYPE_FLOAT) {
            if (n_in <= zi + 1 || !in[zi + 1].data)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "a quantized residual needs its scale");
            e->z_scale = arr_f(&in[zi + 1], 0);
            e->z_zp = arr_zp(in, n_in, zi + 2);
        }
    }
    e->quantized = n_in > ysi && in[ysi].data;
    if (e->quantized) {
        e->y_scale = arr_f(&in[ysi], 0);
        e->y_zp = arr_zp(in, n_in, ysi + 1);
        if (!lucid_q_dtype_range(y->dtype, &e->qmin, &e->qmax) || y->dtype == LUCID_DTYPE_INT32)
            return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "output dtype at run time");
    } else if (y->dtype != LUCID_DTYPE_FLOAT) {
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "output dtype at run time");
    }
    e->y = y;
    /* scales are checked at inference; a graph edited since must not divide by zero here */
    lucid_status st = lucid_q_check_scales(n, "input scale", LUCID_DTYPE_FLOAT, &e->x_scale, 1, err);
    if (!st)
        st = lucid_q_check_scales(n, "weight scale", LUCID_DTYPE_FLOAT, e->w_scale,
                                  e->w_scale_count, err);
    if (!st && e->z && e->z->dtype != LUCID_DTYPE_FLOAT)
        st = lucid_q_check_scales(n, "residual scale", LUCID_DTYPE_FLOAT, &e->z_scale, 1, err);
    if (!st && e->quantized)
        st = lucid_q_check_scales(n, "output scale", LUCID_DTYPE_FLOAT, &e->y_scale, 1, err);
    return st;
}

/* ---- QConv ---------------------------------------------------------------------------- */

static lucid_status qconv_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                lucid_error *err)
{
    qconv_params *p = params;
    lucid_status st = lucid_op_def_conv.parse(g, n, &p->conv, err);
    if (!st) st = lucid_activation_parse(n, &p->act, err);
    return st;
}

static lucid_status qconv_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const qconv_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *w = lucid_op_input(g, n, 3);
    lucid_status st = q_check_input(g, n, err);
    if (st) return st;
    if (!w) return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "weight W is missing");
    lucid_conv_geom geo;
    if ((st = lucid_conv_resolve_geometry(n, &p->conv, x->rank, x->dims, w->rank, w->dims, &geo,
                                          err)) ||
        (st = q_check_weights(g, n, geo.out_c, err)))
        return st;
    int64_t dims[LUCID_MAX_RANK] = {geo.batch, geo.out_c};
    for (int i = 0; i < geo.nsp; i++) dims[2 + i] = geo.out[i];
    const lucid_ir_tensor *z = lucid_op_input(g, n, 6);
    if (z) {
        bool same = z->rank == x->rank;
        for (int i = 0; same && i < z->rank; i++) same = z->dims[i] == dims[i];
        if (!same || (!is_q8(z->dtype) && z->dtype != LUCID_DTYPE_FLOAT))
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "residual Z '%s' must be int8, uint8 or float32 of the "
                                     "output's shape",
                                     z->name);
        if (is_q8(z->dtype)) {
            if ((st = q_scalar_scale(g, n, 7, "residual scale", err)) ||
                (st = q_zero_point(g, n, 8, z->dtype, "residual zero point", err)))
                return st;
        } else if (lucid_op_input(g, n, 7) || lucid_op_input(g, n, 8)) {
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "a float32 residual takes no scale or zero point");
        }
    } else if (lucid_op_input(g, n, 7) || lucid_op_input(g, n, 8)) {
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "residual scale without a residual");
    }
    lucid_dtype yt;
    if ((st = q_output_dtype(g, n, 9, &yt, err))) return st;
    return lucid_op_set_output(g, n, 0, yt, x->rank, dims, err);
}

static void qconv_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    const qconv_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *w = lucid_op_input(g, n, 3);
    lucid_conv_geom geo;
    if (!x || !w || lucid_conv_resolve_geometry(n, &p->conv, x->rank, x->dims, w->rank, w->dims,
                                                &geo, NULL))
        return;
    double count = (double)geo.batch * (double)geo.out_c * (double)geo.out_size;
    *macs = count * (double)(geo.in_c / geo.group) * (double)geo.k_size;
    *flops = count * (3 + (lucid_op_input(g, n, 6) ? 1 : 0) + lucid_activation_flops(&p->act));
}

/* Splits a flat position into coordinates over dims (row-major). */
static void unflatten(int nsp, const int64_t *dims, int64_t pos, int64_t *c)
{
    for (int j = nsp - 1; j >= 0; j--) {
        c[j] = pos % dims[j];
        pos /= dims[j];
    }
}

static lucid_status qconv_run(const lucid_node *n, const lucid_array *in, int n_in,
                              lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_out;
    const qconv_params *p = n->params;
    lucid_conv_geom g;
    lucid_status st = lucid_conv_resolve_geometry(n, &p->conv, in[0].rank, in[0].dims,
                                                  in[3].rank, in[3].dims, &g, err);
    if (st) return st;
    if (!is_q8(in[0].dtype) || in[3].dtype != LUCID_DTYPE_INT8 ||
        lucid_array_numel(&out[0]) != g.batch * g.out_c * g.out_size)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "arrays mismatch at run time");
    q_epilogue e;
    if ((st = q_epilogue_init(n, &p->act, in, n_in, 4, 6, 9, &out[0], &e, err))) return st;
    const int32_t xzp = arr_zp(in, n_in, 2);
    const lucid_dtype xt = in[0].dtype;
    const void *x = in[0].data;
    const int8_t *w = in[3].data;
    const int64_t cg = g.in_c / g.group, mg = g.out_c / g.group;
    for (int64_t nb = 0; nb < g.batch; nb++)
        for (int64_t m = 0; m < g.out_c; m++) {
            const int64_t grp = m / mg;
            for (int64_t o = 0; o < g.out_size; o++) {
                int64_t oc[LUCID_CONV_MAX_SPATIAL];
                unflatten(g.nsp, g.out, o, oc);
                int64_t acc = 0;
                for (int64_t icg = 0; icg < cg; icg++) {
                    const int64_t ic = grp * cg + icg;
                    for (int64_t kp = 0; kp < g.k_size; kp++) {
                        int64_t kc[LUCID_CONV_MAX_SPATIAL];
                        unflatten(g.nsp, g.k, kp, kc);
                        int64_t xi = nb * g.in_c + ic;
                        bool inside = true;
                        for (int j = 0; j < g.nsp && inside; j++) {
                            int64_t pos = oc[j] * g.s[j] - g.pb[j] + kc[j] * g.d[j];
                            inside = pos >= 0 && pos < g.in[j];
                            xi = xi * g.in[j] + pos;
                        }
                        /* padding holds the zero point: it contributes nothing */
                        if (!inside) continue;
                        int64_t xv = lucid_load_i64(xt, x, xi) - xzp;
                        acc += xv * w[(m * cg + icg) * g.k_size + kp];
                    }
                }
                q_store(&e, m, (nb * g.out_c + m) * g.out_size + o, acc);
            }
        }
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_qconv = {
    .name = "QConv",
    .domain = LUCID_DOMAIN,
    .min_inputs = 2, /* X_zero_point may be omitted: infer requires W and W_scale */
    .max_inputs = 11,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(qconv_params),
    .parse = qconv_parse,
    .infer = qconv_infer,
    .cost = qconv_cost,
    .run = qconv_run,
};

/* ---- QGemm ---------------------------------------------------------------------------- */

static lucid_status qgemm_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                lucid_error *err)
{
    (void)g;
    qgemm_params *p = params;
    return lucid_activation_parse(n, &p->act, err);
}

static lucid_status qgemm_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *a = lucid_op_input(g, n, 0), *w = lucid_op_input(g, n, 3);
    lucid_status st = q_check_input(g, n, err);
    if (st) return st;
    if (!w || a->rank < 2 || w->rank != 2 || w->dims[1] != a->dims[a->rank - 1]) {
        char sa[128], sw[128];
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "A %s and W %s do not fit: A is rows x K (rank 2 or more), W is "
                                 "N x K",
                                 lucid_shape_str(a->rank, a->dims, sa, sizeof sa),
                                 w ? lucid_shape_str(w->rank, w->dims, sw, sizeof sw) : "missing");
    }
    if ((st = q_check_weights(g, n, w->dims[0], err))) return st;
    lucid_dtype yt;
    if ((st = q_output_dtype(g, n, 6, &yt, err))) return st;
    int64_t dims[LUCID_MAX_RANK];
    memcpy(dims, a->dims, sizeof(int64_t) * (size_t)a->rank);
    dims[a->rank - 1] = w->dims[0];
    return lucid_op_set_output(g, n, 0, yt, a->rank, dims, err);
}

static void qgemm_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    const qgemm_params *p = n->params;
    const lucid_ir_tensor *a = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    double count = (double)lucid_tensor_numel(y);
    if (!a || count < 0) return;
    *macs = count * (double)a->dims[a->rank - 1];
    *flops = count * (3 + lucid_activation_flops(&p->act));
}

static lucid_status qgemm_run(const lucid_node *n, const lucid_array *in, int n_in,
                              lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_out;
    const qgemm_params *p = n->params;
    const lucid_array *a = &in[0], *w = &in[3];
    if (!is_q8(a->dtype) || w->dtype != LUCID_DTYPE_INT8 || w->rank != 2 || a->rank < 2 ||
        a->dims[a->rank - 1] != w->dims[1])
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "arrays mismatch at run time");
    const int64_t k = w->dims[1], cols = w->dims[0];
    const int64_t rows = k ? lucid_array_numel(a) / k : 0;
    if (lucid_array_numel(&out[0]) != rows * cols)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "output size at run time");
    q_epilogue e;
    lucid_status st = q_epilogue_init(n, &p->act, in, n_in, 4, -1, 6, &out[0], &e, err);
    if (st) return st;
    const int32_t azp = arr_zp(in, n_in, 2);
    const int8_t *wd = w->data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t acc = 0;
            for (int64_t i = 0; i < k; i++)
                acc += (lucid_load_i64(a->dtype, a->data, r * k + i) - azp) * wd[c * k + i];
            q_store(&e, c, r * cols + c, acc);
        }
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_qgemm = {
    .name = "QGemm",
    .domain = LUCID_DOMAIN,
    .min_inputs = 2, /* as QConv */
    .max_inputs = 8,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(qgemm_params),
    .parse = qgemm_parse,
    .infer = qgemm_infer,
    .cost = qgemm_cost,
    .run = qgemm_run,
};
