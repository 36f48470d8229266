/* qdq_fusion.c - explicit quantization (QuantizeLinear / DequantizeLinear pairs, from lucid's
 * INT8 calibration or from a model exported with them) turned into int8 engine layers, as
 * TensorRT does with Q/DQ networks:
 *   - Q(DQ(t)) with the same scale, zero point and dtype is t (round trips removed);
 *   - a Q after MaxPool, Reshape, Flatten, Squeeze, Unsqueeze or Identity (and after Relu when
 *     the zero point is 0) moves above it, so those run on the quantized values: quantization
 *     is monotone and elementwise, so it commutes with them exactly;
 *   - DQ(x) and DQ(int8 constant weights) into Conv/FusedConv (its residual too, quantized or
 *     float) become one QConv; into Gemm/FusedGemm/MatMul one QGemm; when every reader of the
 *     layer's float output quantizes it with one scale and zero point, that Q is folded in too
 *     and the layer writes int8/uint8 (requantization inside the layer);
 *   - DQ nodes of constant weights left over (read by float layers) are folded into float
 *     constants, and Q/DQ nodes nobody reads are removed.
 * Everything else stays float32 with its DQ/Q at the boundaries. Refusals (per-axis
 * activations, weights with zero points, scales that differ) are logged with the reason.
 *
 * It runs at the fusion level after vertical_fusion, and again on its own (lucid_model_optimize
 * with passes = {"qdq_fusion"}) on a graph that INT8 calibration has annotated with Q/DQ. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"
#include "ops/qlayers.h"
#include "ops/quant_util.h"
#include "passes/node_edit.h"
#include "passes/pass.h"

/* The parameters of one Q or DQ node. */
typedef struct qparam {
    int scale_t, zp_t;  /* tensors (zp_t -1 when absent) */
    lucid_dtype qtype;  /* the quantized side's dtype */
    int axis;           /* -1 per tensor, else the axis of per-axis scales */
    int64_t count;      /* scale values */
    const float *scale; /* the constant scales */
} qparam;

static bool is_q8(lucid_dtype t)
{
    return t == LUCID_DTYPE_INT8 || t == LUCID_DTYPE_UINT8;
}

/* Reads node n (QuantizeLinear or DequantizeLinear) into q: constant float scales (positive),
 * a constant zero point or none. False when anything is not known at build time. */
static bool read_qparam(const lucid_graph *g, const lucid_node *n, qparam *q)
{
    memset(q, 0, sizeof *q);
    if (n->n_inputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0) return false;
    const lucid_ir_tensor *x = &g->tensors[n->inputs[0]], *s = &g->tensors[n->inputs[1]];
    const lucid_ir_tensor *y = lucid_op_output(g, n, 0);
    if (!s->data || s->dtype != LUCID_DTYPE_FLOAT || !y) return false;
    q->scale_t = n->inputs[1];
    q->zp_t = n->n_inputs > 2 ? n->inputs[2] : -1;
    if (q->zp_t >= 0 && !g->tensors[q->zp_t].data) return false;
    q->qtype = n->op == LUCID_OP_QUANTIZE_LINEAR ? y->dtype : x->dtype;
    if (!is_q8(q->qtype)) return false;
    q->count = lucid_tensor_numel(s);
    q->scale = s->data;
    for (int64_t i = 0; i < q->count; i++)
        if (!lucid_q_scale_ok(q->scale[i])) return false;
    q->axis = -1;
    if (s->rank == 1 && q->count > 1) {
        int64_t axis;
        if (lucid_attr_int(n, "axis", 1, &axis, NULL)) return false;
        if (axis < 0) axis += x->rank;
        q->axis = (int)axis;
    }
    return true;
}

static int32_t qp_zp(const lucid_graph *g, const qparam *q, int64_t i)
{
    if (q->zp_t < 0) return 0;
    const lucid_ir_tensor *z = &g->tensors[q->zp_t];
    return (int32_t)lucid_load_i64(z->dtype, z->data, lucid_tensor_numel(z) == 1 ? 0 : i);
}

static bool qp_zero_zp(const lucid_graph *g, const qparam *q)
{
    for (int64_t i = 0; i < (q->zp_t < 0 ? 0 : lucid_tensor_numel(&g->tensors[q->zp_t])); i++)
        if (qp_zp(g, q, i) != 0) return false;
    return true;
}

static bool qp_equal(const lucid_graph *g, const qparam *a, const qparam *b)
{
    if (a->qtype != b->qtype || a->count != b->count || a->axis != b->axis) return false;
    for (int64_t i = 0; i < a->count; i++)
        if (a->scale[i] != b->scale[i] || qp_zp(g, a, i) != qp_zp(g, b, i)) return false;
    return true;
}

#define QF_MAX_READERS 16

/* Are all readers of t (not a graph output) QuantizeLinear nodes with equal per-tensor
 * parameters? Fills them into qs and the parameters into q. */
static bool all_readers_quantize(const lucid_graph *g, int t, int *qs, int *nq, qparam *q)
{
    if (g->tensors[t].is_output) return false;
    int n = lucid_tensor_live_consumers(g, t, qs, QF_MAX_READERS);
    if (n <= 0) return false;
    int outputs = 0;
    for (int k = 0; k < n; k++) {
        /* a graph output keeps its name: it must be the Q output kept */
        if (g->nodes[qs[k]].n_outputs > 0 && g->nodes[qs[k]].outputs[0] >= 0 &&
            g->tensors[g->nodes[qs[k]].outputs[0]].is_output) {
            if (outputs++) return false;
            int tmp = qs[0];
            qs[0] = qs[k];
            qs[k] = tmp;
        }
    }
    for (int k = 0; k < n; k++) {
        const lucid_node *r = &g->nodes[qs[k]];
        qparam p;
        if (r->op != LUCID_OP_QUANTIZE_LINEAR || r->inputs[0] != t || !read_qparam(g, r, &p) ||
            p.axis >= 0)
            return false;
        if (k == 0)
            *q = p;
        else if (!qp_equal(g, q, &p))
            return false;
    }
    *nq = n;
    return true;
}

/* The first Q node's output becomes t2 for everyone; the other Q nodes die. */
static void merge_quantizers(lucid_graph *g, const int *qs, int nq, int keep_out)
{
    for (int k = 0; k < nq; k++) {
        int o = g->nodes[qs[k]].outputs[0];
        if (o != keep_out) lucid_graph_replace_uses(g, o, keep_out);
        lucid_node_kill(&g->nodes[qs[k]]);
    }
}

/* ---- round trips: Q(DQ(t)) with equal parameters is t ---------------------------------- */

static int fold_round_trips(lucid_pass_ctx *ctx, lucid_graph *g, bool log)
{
    int changed = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *q = &g->nodes[i];
        if (q->dead || q->op != LUCID_OP_QUANTIZE_LINEAR) continue;
        int d = g->tensors[q->inputs[0]].producer;
        if (d < 0 || g->nodes[d].dead || g->nodes[d].op != LUCID_OP_DEQUANTIZE_LINEAR) continue;
        const lucid_node *dq = &g->nodes[d];
        qparam a, b;
        if (!read_qparam(g, q, &a) || !read_qparam(g, dq, &b)) continue;
        if (g->tensors[q->outputs[0]].is_output) continue;
        if (!qp_equal(g, &a, &b)) {
            if (log)
                lucid_pass_refuse(ctx, q->name,
                              "%s -> %s kept: the scales or zero points differ (a requantization)",
                              dq->name, q->name);
            continue;
        }
        lucid_graph_replace_uses(g, q->outputs[0], dq->inputs[0]);
        lucid_node_kill(q);
        lucid_pass_rewrite(ctx, q->name, "", "%s -> %s round trip removed (same scale and zero "
                           "point): readers take '%s'",
                           dq->name, q->name, g->tensors[dq->inputs[0]].name);
        changed++;
    }
    return changed;
}

/* ---- Q moved above ops it commutes with ------------------------------------------------ */

static bool commutes_with_q(const lucid_graph *g, const lucid_node *p, const qparam *q)
{
    switch (p->op) {
    case LUCID_OP_MAX_POOL:
        /* the Indices output would change meaning if it had readers */
        return p->n_outputs == 1 || p->outputs[1] < 0;
    case LUCID_OP_GLOBAL_MAX_POOL:
    case LUCID_OP_RESHAPE:
    case LUCID_OP_FLATTEN:
    case LUCID_OP_SQUEEZE:
    case LUCID_OP_UNSQUEEZE:
    case LUCID_OP_IDENTITY:
        return true;
    case LUCID_OP_RELU:
        /* max(q, 0) = Q(max(x, 0)) only when 0 is the quantized zero; with uint8 and zero
         * point 0 the Relu is the quantization's own saturation and goes away */
        return qp_zero_zp(g, q);
    default:
        return false;
    }
}

static int move_quantizers_up(lucid_pass_ctx *ctx, lucid_graph *g)
{
    int changed = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *p = &g->nodes[i];
        if (p->dead || p->n_outputs < 1 || p->outputs[0] < 0 || p->n_inputs < 1 ||
            p->inputs[0] < 0)
            continue;
        int v = p->outputs[0], u = p->inputs[0];
        if (g->tensors[u].dtype != LUCID_DTYPE_FLOAT || g->tensors[u].data) continue;
        int qs[QF_MAX_READERS], nq;
        qparam q;
        if (!all_readers_quantize(g, v, qs, &nq, &q) || !commutes_with_q(g, p, &q)) continue;
        /* Q0 now quantizes u; p reads its output and writes v (now quantized), which every
         * former reader of the Q outputs takes */
        lucid_node *q0 = &g->nodes[qs[0]];
        int tq = q0->outputs[0];
        char qname[256];
        snprintf(qname, sizeof qname, "%s", q0->name);
        for (int k = 0; k < nq; k++) {
            int o = g->nodes[qs[k]].outputs[0];
            lucid_graph_replace_uses(g, o, v);
            if (k) lucid_node_kill(&g->nodes[qs[k]]);
        }
        q0 = &g->nodes[qs[0]];
        q0->inputs[0] = u;
        p = &g->nodes[i];
        p->inputs[0] = tq;
        if (p->op == LUCID_OP_RELU && q.qtype == LUCID_DTYPE_UINT8) {
            lucid_graph_replace_uses(g, v, tq);
            lucid_node_kill(p);
            lucid_pass_rewrite(ctx, qname, qname,
                               "%s moved above %s, which it makes redundant (uint8 with zero "
                               "point 0 saturates negatives to 0)",
                               qname, p->name);
            changed++;
            continue;
        }
        lucid_pass_rewrite(ctx, qname, qname, "%s moved above %s (%s): it runs on %s values", qname,
                           p->name, p->op_type, lucid_dtype_name(q.qtype));
        changed++;
    }
    return changed;
}

/* ---- DQ -> Conv/Gemm (-> Q) into QConv/QGemm ------------------------------------------ */

/* A name list for the log: "a,b,c". */
typedef struct namelist {
    char buf[1024];
} namelist;

static void nl_add(namelist *l, const char *name)
{
    size_t len = strlen(l->buf);
    snprintf(l->buf + len, sizeof l->buf - len, "%s%s", len ? "," : "", name);
}

/* The activation input: the DQ producing t (per tensor), its quantized input and params. */
static bool quantized_activation(const lucid_graph *g, int t, int *dq, qparam *q)
{
    int p = t >= 0 ? g->tensors[t].producer : -1;
    if (p < 0 || g->nodes[p].dead || g->nodes[p].op != LUCID_OP_DEQUANTIZE_LINEAR) return false;
    if (!read_qparam(g, &g->nodes[p], q) || q->axis >= 0) return false;
    if (g->tensors[g->nodes[p].inputs[0]].data) return false; /* a constant: not an activation */
    *dq = p;
    return true;
}

/* The weight input: the DQ producing t from an int8 constant with zero points 0 and scales
 * per tensor or along axis `axis`. */
static bool quantized_weight(const lucid_graph *g, int t, int axis, int *dq, qparam *q,
                             const char **why)
{
    int p = t >= 0 ? g->tensors[t].producer : -1;
    *why = "the weights are not DequantizeLinear of an int8 constant";
    if (p < 0 || g->nodes[p].dead || g->nodes[p].op != LUCID_OP_DEQUANTIZE_LINEAR) return false;
    const lucid_node *d = &g->nodes[p];
    const lucid_ir_tensor *w = &g->tensors[d->inputs[0]];
    if (!w->data || w->dtype != LUCID_DTYPE_INT8 || !read_qparam(g, d, q)) return false;
    if (!qp_zero_zp(g, q)) {
        *why = "the weights have a nonzero zero point (only symmetric weights)";
        return false;
    }
    if (q->axis >= 0 && q->axis != axis) {
        *why = "the weight scales are not per output channel";
        return false;
    }
    *dq = p;
    return true;
}

/* A constant holding the zero point (0) of dtype t, for layers whose Q had none. */
static int zero_point_const(lucid_graph *g, const char *base, lucid_dtype t, lucid_error *err)
{
    unsigned char *z = calloc(1, 1);
    if (!z) {
        lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    return lucid_graph_add_constant(g, base, t, 0, NULL, z, 1, err);
}

/* Sets node n's inputs to exactly `count` tensors from list. */
static lucid_status set_inputs(lucid_node *n, const int *list, int count, lucid_error *err)
{
    for (int k = count - 1; k >= 0; k--) {
        lucid_status st = lucid_node_set_input(n, k, list[k], err);
        if (st) return st;
    }
    n->n_inputs = count;
    while (n->n_inputs > 0 && n->inputs[n->n_inputs - 1] < 0) n->n_inputs--;
    return LUCID_STATUS_OK;
}

/* The output side: when every reader quantizes, the layer writes their output. Fills
 * ys/yzp (inputs to set) and logs names. Returns false on OOM (err set). */
static bool fold_output_q(lucid_graph *g, lucid_node **np, int idx, int *ys, int *yzp,
                          namelist *nodes, char *qname, size_t qname_len, lucid_error *err)
{
    lucid_node *n = *np;
    int qs[QF_MAX_READERS], nq;
    qparam q;
    *ys = *yzp = -1;
    qname[0] = '\0';
    if (!all_readers_quantize(g, n->outputs[0], qs, &nq, &q)) return true;
    const lucid_node *q0 = &g->nodes[qs[0]];
    snprintf(qname, qname_len, "%s", q0->name);
    for (int k = 0; k < nq; k++) nl_add(nodes, g->nodes[qs[k]].name);
    int out = q0->outputs[0];
    *ys = q.scale_t;
    *yzp = q.zp_t;
    if (*yzp < 0) {
        *yzp = zero_point_const(g, qname, q.qtype, err);
        if (*yzp < 0) return false;
    }
    merge_quantizers(g, qs, nq, out);
    n = *np = &g->nodes[idx];
    n->outputs[0] = out;
    g->tensors[out].producer = idx;
    return true;
}

static lucid_status fuse_conv(lucid_pass_ctx *ctx, lucid_graph *g, int i, bool log, bool *done,
                              lucid_error *err)
{
    *done = false;
    lucid_node *n = &g->nodes[i];
    int dx, dw, dz = -1;
    qparam qx, qw, qz;
    const char *why;
    if (!quantized_activation(g, n->inputs[0], &dx, &qx)) return LUCID_STATUS_OK;
    if (!quantized_weight(g, n->inputs[1], 0, &dw, &qw, &why)) {
        if (log) lucid_pass_refuse(ctx, n->name, "not quantized: %s", why);
        return LUCID_STATUS_OK;
    }
    int bias = n->n_inputs > 2 ? n->inputs[2] : -1;
    if (bias >= 0 && (!g->tensors[bias].data || g->tensors[bias].dtype != LUCID_DTYPE_FLOAT)) {
        if (log) lucid_pass_refuse(ctx, n->name, "not quantized: the bias is not a float32 constant");
        return LUCID_STATUS_OK;
    }
    int z = n->op == LUCID_OP_FUSED_CONV && n->n_inputs > 3 ? n->inputs[3] : -1;
    bool zq = z >= 0 && quantized_activation(g, z, &dz, &qz);
    if (z >= 0 && !zq && g->tensors[z].dtype != LUCID_DTYPE_FLOAT) return LUCID_STATUS_OK;
    namelist nodes = {""};
    nl_add(&nodes, g->nodes[dx].name);
    nl_add(&nodes, g->nodes[dw].name);
    if (zq) nl_add(&nodes, g->nodes[dz].name);
    nl_add(&nodes, n->name);
    char from[32];
    snprintf(from, sizeof from, "%s", n->op_type);
    int ys, yzp;
    char qname[256];
    if (!fold_output_q(g, &n, i, &ys, &yzp, &nodes, qname, sizeof qname, err))
        return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    const lucid_node *Dx = &g->nodes[dx], *Dw = &g->nodes[dw];
    int in[LUCID_QCONV_INPUTS] = {
        Dx->inputs[0], qx.scale_t,  qx.zp_t, Dw->inputs[0], qw.scale_t, bias,
        zq ? g->nodes[dz].inputs[0] : z, zq ? qz.scale_t : -1, zq ? qz.zp_t : -1, ys, yzp};
    lucid_status st = set_inputs(n, in, LUCID_QCONV_INPUTS, err);
    if (!st) st = lucid_node_set_op(g, n, LUCID_OP_QCONV, 1, err);
    if (!st && qname[0]) st = lucid_node_rename_join(n, qname, false, err);
    if (st) return st;
    lucid_pass_rewrite(ctx, nodes.buf, n->name,
                       "%s on %s (scale %g) with int8 weights (%s scales)%s%s -> QConv, %s "
                       "output%s",
                       from, lucid_dtype_name(qx.qtype), (double)qx.scale[0],
                       qw.axis >= 0 ? "per-channel" : "per-tensor",
                       z >= 0 ? (zq ? ", quantized residual" : ", float residual") : "",
                       "", ys >= 0 ? lucid_dtype_name(g->tensors[n->outputs[0]].dtype) : "float32",
                       ys >= 0 ? " (requantized inside the layer)" : "");
    *done = true;
    return LUCID_STATUS_OK;
}

/* Gemm's form: C as a bias of N values, no transA; alpha into the weight scales. */
static lucid_status fuse_gemm(lucid_pass_ctx *ctx, lucid_graph *g, int i, bool log, bool *done,
                              lucid_error *err)
{
    *done = false;
    lucid_node *n = &g->nodes[i];
    int dx, dw;
    qparam qx, qw;
    const char *why;
    int64_t trans_a = 0, trans_b = 0;
    float alpha = 1, beta = 1;
    bool is_matmul = n->op == LUCID_OP_MATMUL;
    if (!is_matmul && (lucid_attr_int(n, "transA", 0, &trans_a, NULL) ||
                       lucid_attr_int(n, "transB", 0, &trans_b, NULL) ||
                       lucid_attr_float(n, "alpha", 1, &alpha, NULL) ||
                       lucid_attr_float(n, "beta", 1, &beta, NULL)))
        return LUCID_STATUS_OK;
    if (!quantized_activation(g, n->inputs[0], &dx, &qx)) return LUCID_STATUS_OK;
    if (trans_a) {
        if (log) lucid_pass_refuse(ctx, n->name, "not quantized: transA is not supported");
        return LUCID_STATUS_OK;
    }
    const lucid_ir_tensor *a = &g->tensors[n->inputs[0]], *wf = &g->tensors[n->inputs[1]];
    if (a->rank < 2 || wf->rank != 2 || (!is_matmul && a->rank != 2)) {
        if (log) lucid_pass_refuse(ctx, n->name, "not quantized: needs 2-D weights");
        return LUCID_STATUS_OK;
    }
    /* output channels: axis 0 of W when transposed (N x K), else axis 1 (K x N) */
    if (!quantized_weight(g, n->inputs[1], trans_b ? 0 : 1, &dw, &qw, &why)) {
        if (log) lucid_pass_refuse(ctx, n->name, "not quantized: %s", why);
        return LUCID_STATUS_OK;
    }
    const int64_t N = trans_b ? wf->dims[0] : wf->dims[1], K = trans_b ? wf->dims[1] : wf->dims[0];
    int c = !is_matmul && n->n_inputs > 2 ? n->inputs[2] : -1;
    if (c >= 0) {
        const lucid_ir_tensor *ct = &g->tensors[c];
        if (!ct->data || ct->dtype != LUCID_DTYPE_FLOAT || lucid_tensor_numel(ct) != N ||
            (ct->rank == 2 && ct->dims[0] != 1) || ct->rank > 2) {
            if (log)
                lucid_pass_refuse(ctx, n->name,
                              "not quantized: C is not a float32 constant of one value per "
                              "output column");
            return LUCID_STATUS_OK;
        }
    }
    /* new constants: W as N x K int8, scales times alpha, bias beta * C */
    const lucid_ir_tensor *wq = &g->tensors[g->nodes[dw].inputs[0]];
    int8_t *w = malloc((size_t)(N * K) + 1);
    float *ws = malloc(sizeof(float) * (size_t)N);
    float *b = c >= 0 ? malloc(sizeof(float) * (size_t)N) : NULL;
    if (!w || !ws || (c >= 0 && !b)) {
        free(w);
        free(ws);
        free(b);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    const int8_t *src = wq->data;
    for (int64_t r = 0; r < N; r++)
        for (int64_t k = 0; k < K; k++) w[r * K + k] = trans_b ? src[r * K + k] : src[k * N + r];
    for (int64_t r = 0; r < N; r++) ws[r] = alpha * qw.scale[qw.count == 1 ? 0 : r];
    if (b)
        for (int64_t r = 0; r < N; r++)
            b[r] = beta * (float)lucid_load_f64(g->tensors[c].dtype, g->tensors[c].data, r);
    char base[256];
    snprintf(base, sizeof base, "%s/w_int8", n->name);
    int64_t wd[2] = {N, K};
    int wt = lucid_graph_add_constant(g, base, LUCID_DTYPE_INT8, 2, wd, w, (size_t)(N * K), err);
    if (wt < 0) {
        free(ws);
        free(b);
        return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    }
    snprintf(base, sizeof base, "%s/w_scale", n->name);
    int st_ = lucid_graph_add_constant(g, base, LUCID_DTYPE_FLOAT, 1, &N, ws, sizeof(float) * (size_t)N,
                                       err);
    if (st_ < 0) {
        free(b);
        return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    }
    int bt = -1;
    if (b) {
        snprintf(base, sizeof base, "%s/bias", n->name);
        bt = lucid_graph_add_constant(g, base, LUCID_DTYPE_FLOAT, 1, &N, b, sizeof(float) * (size_t)N,
                                      err);
        if (bt < 0) return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    }
    n = &g->nodes[i];
    namelist nodes = {""};
    nl_add(&nodes, g->nodes[dx].name);
    nl_add(&nodes, g->nodes[dw].name);
    nl_add(&nodes, n->name);
    char from[32];
    snprintf(from, sizeof from, "%s", n->op_type);
    int ys, yzp;
    char qname[256];
    if (!fold_output_q(g, &n, i, &ys, &yzp, &nodes, qname, sizeof qname, err))
        return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    int in[LUCID_QGEMM_INPUTS] = {g->nodes[dx].inputs[0], qx.scale_t, qx.zp_t, wt, st_, bt,
                                  ys, yzp};
    lucid_status st = set_inputs(n, in, LUCID_QGEMM_INPUTS, err);
    if (!st) {
        lucid_node_remove_attr(n, "alpha");
        lucid_node_remove_attr(n, "beta");
        lucid_node_remove_attr(n, "transA");
        lucid_node_remove_attr(n, "transB");
        st = lucid_node_set_op(g, n, LUCID_OP_QGEMM, 1, err);
    }
    if (!st && qname[0]) st = lucid_node_rename_join(n, qname, false, err);
    if (st) return st;
    lucid_pass_rewrite(ctx, nodes.buf, n->name,
                       "%s on %s (scale %g) with int8 weights (%s scales) -> QGemm, %s output%s",
                       from, lucid_dtype_name(qx.qtype), (double)qx.scale[0],
                       qw.axis >= 0 ? "per-channel" : "per-tensor",
                       ys >= 0 ? lucid_dtype_name(g->tensors[n->outputs[0]].dtype) : "float32",
                       ys >= 0 ? " (requantized inside the layer)" : "");
    *done = true;
    return LUCID_STATUS_OK;
}

/* A QConv/QGemm made earlier with a float output whose readers now all quantize it (a Q moved
 * up to it since): the requantization goes into the layer. */
static lucid_status fold_late_output_q(lucid_pass_ctx *ctx, lucid_graph *g, int i, bool *done,
                                       lucid_error *err)
{
    *done = false;
    lucid_node *n = &g->nodes[i];
    const int ys_i = n->op == LUCID_OP_QCONV ? LUCID_QCONV_Y_SCALE : LUCID_QGEMM_Y_SCALE;
    if (n->n_inputs > ys_i && n->inputs[ys_i] >= 0) return LUCID_STATUS_OK;
    namelist nodes = {""};
    nl_add(&nodes, n->name);
    int ys, yzp;
    char qname[256];
    if (!fold_output_q(g, &n, i, &ys, &yzp, &nodes, qname, sizeof qname, err))
        return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    if (ys < 0) return LUCID_STATUS_OK;
    lucid_status st = lucid_node_set_input(n, ys_i + 1, yzp, err);
    if (!st) st = lucid_node_set_input(n, ys_i, ys, err);
    if (!st) st = lucid_node_reparse(g, n, err);
    if (!st) st = lucid_node_rename_join(n, qname, false, err);
    if (st) return st;
    lucid_pass_rewrite(ctx, nodes.buf, n->name, "%s output quantized inside the layer", n->op_type);
    *done = true;
    return LUCID_STATUS_OK;
}

static lucid_status fuse_layers(lucid_pass_ctx *ctx, lucid_graph *g, bool log, int *changed,
                                lucid_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        if (n->dead || n->n_outputs != 1 || n->outputs[0] < 0 || n->n_inputs < 2) continue;
        if (g->tensors[n->outputs[0]].dtype != LUCID_DTYPE_FLOAT) continue;
        bool done = false;
        lucid_status st = LUCID_STATUS_OK;
        switch (n->op) {
        case LUCID_OP_CONV:
        case LUCID_OP_FUSED_CONV:
            st = fuse_conv(ctx, g, i, log, &done, err);
            break;
        case LUCID_OP_GEMM:
        case LUCID_OP_FUSED_GEMM:
        case LUCID_OP_MATMUL:
            st = fuse_gemm(ctx, g, i, log, &done, err);
            break;
        case LUCID_OP_QCONV:
        case LUCID_OP_QGEMM:
            st = fold_late_output_q(ctx, g, i, &done, err);
            break;
        default:
            break;
        }
        if (st) return st;
        if (done) (*changed)++;
    }
    return LUCID_STATUS_OK;
}

/* ---- clean-up: unread Q/DQ, leftover weight DQ folded into float ------------------- */

static lucid_status clean_up(lucid_pass_ctx *ctx, lucid_graph *g, int *changed, lucid_error *err)
{
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        lucid_node *n = &g->nodes[i];
        if (n->dead ||
            (n->op != LUCID_OP_QUANTIZE_LINEAR && n->op != LUCID_OP_DEQUANTIZE_LINEAR))
            continue;
        int o = n->outputs[0];
        int r[1];
        if (!g->tensors[o].is_output && lucid_tensor_live_consumers(g, o, r, 1) == 0) {
            lucid_node_kill(n);
            (*changed)++;
            continue;
        }
        /* DQ of constant weights read by float layers: a float constant at build time */
        if (n->op == LUCID_OP_DEQUANTIZE_LINEAR && !g->tensors[o].is_output) {
            bool constant = true;
            for (int k = 0; k < n->n_inputs; k++)
                if (n->inputs[k] >= 0 && !g->tensors[n->inputs[k]].data) constant = false;
            if (!constant) continue;
            lucid_status st = lucid_node_evaluate(g, n, err);
            if (st) return st;
            lucid_ir_tensor *y = &g->tensors[o];
            y->is_initializer = true;
            y->producer = -1;
            lucid_node_kill(n);
            lucid_pass_rewrite(ctx, n->name, "",
                               "weights dequantized at build time into float32 constant '%s' "
                               "(read by float layers)",
                               y->name);
            (*changed)++;
        }
    }
    return LUCID_STATUS_OK;
}

static lucid_status qdq_fusion_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    bool any = false;
    for (int i = 0; i < g->n_nodes && !any; i++)
        any = g->nodes[i].op == LUCID_OP_QUANTIZE_LINEAR ||
              g->nodes[i].op == LUCID_OP_DEQUANTIZE_LINEAR;
    if (!any) return LUCID_STATUS_OK;
    /* each stage rewires readers without keeping consumer lists exact: the graph is compacted
     * (sorted, consumers rebuilt, shapes inferred) after each */
    for (int round = 0; round < 16; round++) {
        int changed = 0;
        lucid_status st;
        changed += fold_round_trips(ctx, g, round == 0);
        if ((st = lucid_graph_compact(g, err))) return st;
        changed += move_quantizers_up(ctx, g);
        if ((st = lucid_graph_compact(g, err))) return st;
        if ((st = fuse_layers(ctx, g, round == 0, &changed, err))) return st;
        if ((st = lucid_graph_compact(g, err))) return st;
        if ((st = clean_up(ctx, g, &changed, err))) return st;
        if ((st = lucid_graph_compact(g, err))) return st;
        if (!changed) break;
    }
    return LUCID_STATUS_OK;
}

const lucid_pass_def lucid_pass_qdq_fusion = {
    .name = "qdq_fusion",
    .level = LUCID_PASS_FUSION,
    .summary = "explicit quantization: DequantizeLinear -> Conv/Gemm/MatMul -> QuantizeLinear "
               "into int8 QConv/QGemm layers, Q moved above MaxPool/Reshape/Flatten, round "
               "trips removed",
    .run = qdq_fusion_run,
};
