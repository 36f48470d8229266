/* qdq_insert.c - post-training INT8 quantization of a float32 graph in the explicit form:
 * QuantizeLinear -> DequantizeLinear pairs in front of the activations and weights of every
 * layer that may take INT8, with scales from the calibration table (activations, per tensor)
 * and from the weights themselves (symmetric, per output channel). The qdq_fusion pass then
 * turns each quantized layer into an int8 kernel; a model that arrives with Q/DQ takes the
 * same path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/gemm.h"
#include "ops/op.h"
#include "passes/node_edit.h"
#include "quant/quant.h"

/* Which input of n is its weight and along which axis its output channels run; false (with
 * the reason) when n is not a layer INT8 applies to. */
static bool quantizable(const lucid_graph *g, const lucid_node *n, int *w_axis, char *why,
                        size_t len)
{
    switch (n->op) {
    case LUCID_OP_CONV:
    case LUCID_OP_FUSED_CONV:
    case LUCID_OP_GEMM:
    case LUCID_OP_FUSED_GEMM:
    case LUCID_OP_MATMUL:
        break;
    default:
        snprintf(why, len, "no int8 kernel for %s", n->op_type);
        return false;
    }
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *w = lucid_op_input(g, n, 1);
    if (!x || x->dtype != LUCID_DTYPE_FLOAT || x->data) {
        snprintf(why, len, "its data input is not a float32 activation");
        return false;
    }
    if (!w || w->dtype != LUCID_DTYPE_FLOAT || !w->data) {
        snprintf(why, len, "its weights are not float32 constants");
        return false;
    }
    if (n->op == LUCID_OP_MATMUL) {
        if (w->rank != 2 || x->rank < 2) {
            snprintf(why, len, "MatMul with weights of rank %d (int8 takes 2-D weights)", w->rank);
            return false;
        }
        *w_axis = 1;
    } else if (n->op == LUCID_OP_GEMM || n->op == LUCID_OP_FUSED_GEMM) {
        const lucid_gemm_params *p = n->params; /* FusedGemm's params start with Gemm's */
        if (w->rank != 2) {
            snprintf(why, len, "Gemm weights of rank %d", w->rank);
            return false;
        }
        *w_axis = p->trans_b ? 0 : 1;
    } else {
        if (w->rank < 3) {
            snprintf(why, len, "Conv weights of rank %d", w->rank);
            return false;
        }
        *w_axis = 0;
    }
    return true;
}

static lucid_status scalar_const(lucid_graph *g, const char *base, lucid_dtype dt, double v,
                                 int *out, lucid_error *err)
{
    size_t sz = lucid_dtype_size(dt);
    void *d = calloc(1, sz);
    if (!d) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (dt == LUCID_DTYPE_FLOAT) *(float *)d = (float)v;
    *out = lucid_graph_add_constant(g, base, dt, 0, NULL, d, sz, err);
    return *out < 0 ? (err && err->status ? err->status : LUCID_STATUS_OUT_OF_MEMORY)
                    : LUCID_STATUS_OK;
}

/* Adds q = QuantizeLinear(t, scale, zp) and dq = DequantizeLinear(q, scale, zp); *out is dq.
 * scale and zp are tensors already in the graph; axis < 0 for per-tensor. */
static lucid_status add_qdq(lucid_graph *g, int t, int scale, int zp, int axis, int *out,
                            lucid_error *err)
{
    char base[512];
    snprintf(base, sizeof base, "%s_quantized", g->tensors[t].name);
    int q = lucid_graph_new_tensor(g, base, err);
    if (q < 0) return err && err->status ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    snprintf(base, sizeof base, "%s_dequantized", g->tensors[t].name);
    int dq = lucid_graph_new_tensor(g, base, err);
    if (dq < 0) return err && err->status ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    int in1[3] = {t, scale, zp};
    char name[512];
    snprintf(name, sizeof name, "%s QuantizeLinear", g->tensors[t].name);
    int a = lucid_graph_add_node(g, name, "QuantizeLinear", "", 13, in1, 3, &q, 1, err);
    if (a < 0) return err && err->status ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    int in2[3] = {q, scale, zp};
    snprintf(name, sizeof name, "%s DequantizeLinear", g->tensors[t].name);
    int b = lucid_graph_add_node(g, name, "DequantizeLinear", "", 13, in2, 3, &dq, 1, err);
    if (b < 0) return err && err->status ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    if (axis >= 0) {
        for (int k = 0; k < 2; k++) {
            lucid_attr at = {.name = lucid_strdup("axis"), .type = LUCID_ATTR_INT, .i = axis};
            if (!at.name) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            lucid_status st = lucid_node_add_attr(&g->nodes[k ? b : a], &at, err);
            if (st) return st;
        }
    }
    *out = dq;
    return LUCID_STATUS_OK;
}

/* Is tensor t non-negative by construction (a ReLU's output, or pooled, reshaped or
 * concatenated from such outputs)? Decided from the graph alone, so that a build from a
 * calibration cache quantizes exactly as the build that wrote it. */
static bool nonneg_by_construction(const lucid_graph *g, int t, int depth)
{
    if (t < 0 || depth > 64) return false;
    int p = g->tensors[t].producer;
    if (p < 0) return false;
    const lucid_node *n = &g->nodes[p];
    switch (n->op) {
    case LUCID_OP_RELU:
        return true;
    case LUCID_OP_FUSED_CONV:
    case LUCID_OP_FUSED_GEMM:
    case LUCID_OP_FUSED_BATCH_NORM: {
        const char *act = "";
        if (lucid_attr_string(n, "activation", "", &act, NULL)) return false;
        if (strcmp(act, "Relu") == 0) return true;
        /* Clip(min >= 0): ReLU6 */
        float lo = -1;
        return strcmp(act, "Clip") == 0 &&
               !lucid_attr_float(n, "activation_alpha", -1, &lo, NULL) && lo >= 0;
    }
    case LUCID_OP_MAX_POOL:
    case LUCID_OP_AVERAGE_POOL:
    case LUCID_OP_GLOBAL_AVERAGE_POOL:
    case LUCID_OP_GLOBAL_MAX_POOL:
    case LUCID_OP_FLATTEN:
    case LUCID_OP_RESHAPE:
    case LUCID_OP_IDENTITY:
    case LUCID_OP_SQUEEZE:
    case LUCID_OP_UNSQUEEZE:
        return nonneg_by_construction(g, n->inputs[0], depth + 1);
    case LUCID_OP_CONCAT:
        for (int k = 0; k < n->n_inputs; k++)
            if (!nonneg_by_construction(g, n->inputs[k], depth + 1)) return false;
        return n->n_inputs > 0;
    default:
        return false;
    }
}

/* The activation t quantized per tensor with the calibrated threshold: uint8 (zero point 0)
 * when it is non-negative by construction (one more bit of resolution, and the form int8
 * dot-product instructions take natively) unless signed_only, int8 otherwise. */
static lucid_status quantize_activation(lucid_graph *g, int t, const lucid_calib_entry *e,
                                        bool signed_only, int *out, lucid_error *err)
{
    bool nonneg = !signed_only && nonneg_by_construction(g, t, 0);
    double thr = e->threshold > 0 && isfinite(e->threshold) ? e->threshold : 0;
    /* a tensor that was all zeros still needs a valid (positive) scale */
    double scale = thr > 0 ? thr / (nonneg ? 255.0 : 127.0) : 1.0;
    char base[512];
    snprintf(base, sizeof base, "%s_scale", g->tensors[t].name);
    int s = -1, z = -1;
    lucid_status st = scalar_const(g, base, LUCID_DTYPE_FLOAT, scale, &s, err);
    if (st) return st;
    snprintf(base, sizeof base, "%s_zero_point", g->tensors[t].name);
    st = scalar_const(g, base, nonneg ? LUCID_DTYPE_UINT8 : LUCID_DTYPE_INT8, 0, &z, err);
    if (st) return st;
    return add_qdq(g, t, s, z, -1, out, err);
}

/* The constant weight w as int8 with one symmetric scale per slice along axis; the int8
 * values become the constant, a DequantizeLinear restores float32 for the layer. */
static lucid_status quantize_weight(lucid_graph *g, int w, int axis, int *out, lucid_error *err)
{
    const lucid_ir_tensor *t = &g->tensors[w];
    int64_t n = lucid_tensor_numel(t);
    int64_t ch = t->dims[axis], inner = 1;
    for (int d = axis + 1; d < t->rank; d++)
        inner *= t->dims[d];
    if (n <= 0 || ch <= 0) return lucid_errorf(err, LUCID_STATUS_INTERNAL, "empty weight");
    float *scales = malloc((size_t)ch * sizeof *scales);
    int8_t *q = malloc((size_t)n);
    int8_t *zp = calloc((size_t)ch, 1);
    if (!scales || !q || !zp) {
        free(scales), free(q), free(zp);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    const float *wd = t->data;
    for (int64_t c = 0; c < ch; c++)
        scales[c] = 0;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(wd[i]);
        if (a > scales[(i / inner) % ch]) scales[(i / inner) % ch] = a;
    }
    for (int64_t c = 0; c < ch; c++)
        scales[c] = scales[c] > 0 ? scales[c] / 127.0f : 1.0f;
    for (int64_t i = 0; i < n; i++) {
        float v = nearbyintf(wd[i] / scales[(i / inner) % ch]);
        q[i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
    char base[512];
    int rank = t->rank;
    int64_t dims[LUCID_MAX_RANK];
    memcpy(dims, t->dims, sizeof dims);
    snprintf(base, sizeof base, "%s_int8", t->name);
    int wq = lucid_graph_add_constant(g, base, LUCID_DTYPE_INT8, rank, dims, q, (size_t)n, err);
    snprintf(base, sizeof base, "%s_scales", g->tensors[w].name);
    int s = wq < 0 ? -1
                   : lucid_graph_add_constant(g, base, LUCID_DTYPE_FLOAT, 1, &ch, scales,
                                              (size_t)ch * sizeof *scales, err);
    snprintf(base, sizeof base, "%s_zero_points", g->tensors[w].name);
    int z = s < 0
                ? -1
                : lucid_graph_add_constant(g, base, LUCID_DTYPE_INT8, 1, &ch, zp, (size_t)ch, err);
    if (wq < 0 || s < 0 || z < 0) {
        if (wq < 0) free(scales);
        if (s < 0) free(zp);
        return err && err->status ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    }
    /* the int8 constant is what the DequantizeLinear reads: no QuantizeLinear at run time */
    snprintf(base, sizeof base, "%s_dequantized", g->tensors[w].name);
    int dq = lucid_graph_new_tensor(g, base, err);
    if (dq < 0) return err && err->status ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    int in[3] = {wq, s, z};
    char name[512];
    snprintf(name, sizeof name, "%s DequantizeLinear", g->tensors[w].name);
    int node = lucid_graph_add_node(g, name, "DequantizeLinear", "", 13, in, 3, &dq, 1, err);
    if (node < 0) return err && err->status ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    lucid_attr at = {.name = lucid_strdup("axis"), .type = LUCID_ATTR_INT, .i = axis};
    if (!at.name) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    lucid_status st = lucid_node_add_attr(&g->nodes[node], &at, err);
    if (st) return st;
    *out = dq;
    return LUCID_STATUS_OK;
}

lucid_status lucid_precision_insert_qdq(lucid_graph *g, const lucid_calib_table *t,
                                        const bool *keep, bool signed_only,
                                        lucid_layer_precision *out, lucid_error *err)
{
    const int n0 = g->n_nodes;
    /* per tensor: its dequantized twin once made (-1 none yet) */
    int *dq_of = malloc(((size_t)g->n_tensors + 1) * sizeof *dq_of);
    if (!dq_of) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    const int nt0 = g->n_tensors;
    for (int i = 0; i < nt0; i++)
        dq_of[i] = -1;
    lucid_status st = LUCID_STATUS_OK;
    for (int i = 0; i < n0 && !st; i++) {
        lucid_layer_precision *o = &out[i];
        o->precision = LUCID_PRECISION_FP32;
        o->error = -1;
        o->why[0] = 0;
        int axis = 0;
        if (!quantizable(g, &g->nodes[i], &axis, o->why, sizeof o->why)) continue;
        if (keep && keep[i]) {
            snprintf(o->why, sizeof o->why, "kept float32");
            continue;
        }
        /* data inputs: x, and FusedConv's residual z */
        int data_in[2] = {g->nodes[i].inputs[0],
                          g->nodes[i].op == LUCID_OP_FUSED_CONV && g->nodes[i].n_inputs > 3
                              ? g->nodes[i].inputs[3]
                              : -1};
        const lucid_calib_entry *ex = lucid_calib_table_find(t, g->tensors[data_in[0]].name);
        if (!ex) {
            snprintf(o->why, sizeof o->why, "no calibration threshold for its input '%.100s'",
                     g->tensors[data_in[0]].name);
            continue;
        }
        for (int k = 0; k < 2 && !st; k++) {
            int x = data_in[k];
            if (x < 0 || x >= nt0) continue;
            const lucid_calib_entry *e = lucid_calib_table_find(t, g->tensors[x].name);
            if (!e) continue; /* a residual without a threshold stays float32 */
            if (dq_of[x] < 0) st = quantize_activation(g, x, e, signed_only, &dq_of[x], err);
            if (!st) st = lucid_node_set_input(&g->nodes[i], k ? 3 : 0, dq_of[x], err);
        }
        if (st) break;
        int w = g->nodes[i].inputs[1];
        if (dq_of[w] < 0) st = quantize_weight(g, w, axis, &dq_of[w], err);
        if (!st) st = lucid_node_set_input(&g->nodes[i], 1, dq_of[w], err);
        if (!st) o->precision = LUCID_PRECISION_INT8;
    }
    free(dq_of);
    /* the caller finalizes (the float weights nobody reads any more go with compact's sweep
     * of unused tensors) */
    return st;
}
