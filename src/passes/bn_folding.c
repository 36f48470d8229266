/* bn_folding.c - BatchNormalization folded into the Conv, ConvTranspose, Gemm or MatMul
 * before it, or exactly into an unpadded Conv after it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/conv.h"
#include "ops/gemm.h"
#include "passes/node_edit.h"
#include "passes/pass.h"

/* Inference BatchNormalization is y = s * x + t per channel, s = scale / sqrt(var + eps) and
 * t = B - mean * s, computed in double. */
typedef struct bn_affine {
    int64_t channels;
    double *s, *t;
} bn_affine;

/* A constant float tensor's value, or NULL. */
static const void *const_data(const lucid_graph *g, int t)
{
    if (t < 0) return NULL;
    const lucid_ir_tensor *x = &g->tensors[t];
    if (!x->data || x->view_of >= 0 || !lucid_tensor_shape_known(x)) return NULL;
    if (x->dtype != LUCID_DTYPE_FLOAT && x->dtype != LUCID_DTYPE_DOUBLE) return NULL;
    return x->data;
}

static double const_at(const lucid_graph *g, int t, int64_t i)
{
    return lucid_load_f64(g->tensors[t].dtype, g->tensors[t].data, i);
}

/* The live consumer of t when it has exactly one use (a graph output counts as one), or -1. */
static int sole_consumer(const lucid_graph *g, int t)
{
    const lucid_ir_tensor *x = &g->tensors[t];
    if (x->is_output || lucid_tensor_uses(g, t) != 1) return -1;
    for (int c = 0; c < x->n_consumers; c++)
        if (!g->nodes[x->consumers[c]].dead) return x->consumers[c];
    return -1;
}

/* Why bn cannot be folded (into anything), or NULL with a filled; a->s and a->t are
 * allocated on success (when they cannot be, *oom is set and the reason says so). */
static const char *bn_read(const lucid_graph *g, const lucid_node *bn, bn_affine *a, char *why,
                           size_t why_size, bool *oom)
{
    memset(a, 0, sizeof *a);
    *oom = false;
    const lucid_ir_tensor *x = &g->tensors[bn->inputs[0]];
    if (x->rank < 2 || !lucid_tensor_shape_known(x) || x->dtype != LUCID_DTYPE_FLOAT)
        return "its input is not a float32 tensor of static shape and rank 2 or more";
    int64_t c = x->dims[1];
    for (int i = 1; i < 5; i++) {
        int t = bn->inputs[i];
        if (!const_data(g, t)) return "scale, B, mean and var are not all constant";
        if (g->tensors[t].rank != 1 || g->tensors[t].dims[0] != c)
            return "its parameters are not one value per channel";
    }
    float eps;
    if (lucid_attr_float(bn, "epsilon", 1e-5f, &eps, NULL)) return "epsilon is not a float";
    a->channels = c;
    a->s = malloc(sizeof(double) * (size_t)(c ? c : 1));
    a->t = malloc(sizeof(double) * (size_t)(c ? c : 1));
    if (!a->s || !a->t) {
        *oom = true;
        return "out of memory";
    }
    for (int64_t i = 0; i < c; i++) {
        double var = const_at(g, bn->inputs[4], i), den = var + (double)eps;
        if (!(den > 0) || !isfinite(den)) {
            snprintf(why, why_size,
                     "channel %lld has var + epsilon = %g + %g, not positive and finite: "
                     "1/sqrt(var + epsilon) does not exist",
                     (long long)i, var, (double)eps);
            return why;
        }
        double s = const_at(g, bn->inputs[1], i) / sqrt(den);
        double t = const_at(g, bn->inputs[2], i) - const_at(g, bn->inputs[3], i) * s;
        if (!isfinite(s) || !isfinite(t)) {
            snprintf(why, why_size,
                     "channel %lld has a non-finite factor (scale %g / sqrt(%g)) or shift",
                     (long long)i, const_at(g, bn->inputs[1], i), den);
            return why;
        }
        a->s[i] = s;
        a->t[i] = t;
    }
    return NULL;
}

static void bn_free(bn_affine *a)
{
    free(a->s);
    free(a->t);
}

/* A new float32 initializer of the given shape, holding v (count values), or -1. */
static int add_floats(lucid_graph *g, const char *base, int rank, const int64_t *dims,
                      const double *v, int64_t count, lucid_error *err)
{
    float *data = malloc(sizeof(float) * (size_t)(count ? count : 1));
    if (!data) {
        lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    for (int64_t i = 0; i < count; i++)
        data[i] = (float)v[i];
    return lucid_graph_add_constant(g, base, LUCID_DTYPE_FLOAT, rank, dims, data,
                                    sizeof(float) * (size_t)count, err);
}

/* A producer node p whose output x feeds only the BN and whose weights are constant. */
static bool foldable_before(const lucid_graph *g, const lucid_node *p, const lucid_ir_tensor *x,
                            int64_t channels)
{
    if (p->dead || p->n_outputs != 1) return false;
    int w = p->n_inputs > 1 ? p->inputs[1] : -1;
    int b = p->n_inputs > 2 ? p->inputs[2] : -1;
    if (!const_data(g, w) || (b >= 0 && !const_data(g, b))) return false;
    const lucid_ir_tensor *wt = &g->tensors[w];
    switch (p->op) {
    case LUCID_OP_CONV:
    case LUCID_OP_CONV_TRANSPOSE:
        return x->rank >= 3 && wt->rank == x->rank;
    case LUCID_OP_GEMM:
        return x->rank == 2 && wt->rank == 2 && x->dims[1] == channels;
    case LUCID_OP_MATMUL:
        return x->rank == 2 && wt->rank == 2 && g->tensors[p->inputs[0]].rank == 2;
    default:
        return false;
    }
}

/* Folds y = s * conv(x) + t: each output channel's weights and bias scaled. */
static lucid_status fold_into_conv_before(lucid_graph *g, lucid_node *p, const bn_affine *a,
                                          int *new_w, int *new_b, lucid_error *err)
{
    const lucid_ir_tensor *wt = &g->tensors[p->inputs[1]];
    int b = p->n_inputs > 2 ? p->inputs[2] : -1;
    int64_t numel = lucid_tensor_numel(wt), m = a->channels;
    double *w = malloc(sizeof(double) * (size_t)(numel ? numel : 1));
    double *bias = malloc(sizeof(double) * (size_t)(m ? m : 1));
    if (!w || !bias) {
        free(w);
        free(bias);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    const lucid_conv_params *cp = p->params;
    int64_t inner = wt->dims[0] ? numel / wt->dims[0] : 0; /* values per W[i] */
    for (int64_t i = 0; i < wt->dims[0]; i++) {
        for (int64_t k = 0; k < inner; k++) {
            int64_t oc = i;
            if (p->op == LUCID_OP_CONV_TRANSPOSE) {
                /* W is C x M/group x kernel: output channel = group * (M/group) + j */
                int64_t cg = wt->dims[0] / cp->group, mg = wt->dims[1];
                int64_t j = k / (inner / mg);
                oc = (i / cg) * mg + j;
            }
            w[i * inner + k] = const_at(g, p->inputs[1], i * inner + k) * a->s[oc];
        }
    }
    for (int64_t o = 0; o < m; o++)
        bias[o] = (b >= 0 ? const_at(g, b, o) : 0.0) * a->s[o] + a->t[o];
    lucid_status st = LUCID_STATUS_OK;
    *new_w = add_floats(g, wt->name, wt->rank, wt->dims, w, numel, err);
    int64_t bd[1] = {m};
    if (*new_w >= 0) *new_b = add_floats(g, p->name, 1, bd, bias, m, err);
    if (*new_w < 0 || *new_b < 0) st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    free(w);
    free(bias);
    return st;
}

/* Folds y = s * (alpha A B + beta C) + t into Gemm (or a 2-D MatMul, which becomes one):
 * B's output columns scaled and C' = s C + t / beta. */
static lucid_status fold_into_gemm_before(lucid_graph *g, lucid_node *p, const bn_affine *a,
                                          const char **why, lucid_error *err)
{
    const lucid_ir_tensor *x = &g->tensors[p->outputs[0]];
    const lucid_ir_tensor *bt = &g->tensors[p->inputs[1]];
    int c = p->op == LUCID_OP_GEMM && p->n_inputs > 2 ? p->inputs[2] : -1;
    const lucid_gemm_params *gp = p->op == LUCID_OP_GEMM ? p->params : NULL;
    bool trans_b = gp && gp->trans_b;
    double beta = gp ? gp->beta : 1.0;
    if (beta == 0 || !isfinite(beta)) {
        *why = "the Gemm's beta is 0: it has no bias term to take the shift";
        return LUCID_STATUS_OK;
    }
    const int64_t m = x->dims[0], n = x->dims[1];
    const lucid_ir_tensor *ct = c >= 0 ? &g->tensors[c] : NULL;
    /* C' keeps a row dimension only if C has one */
    bool rows = ct && ct->rank == 2 && ct->dims[0] != 1;
    int64_t cnum = rows ? m * n : n, numel = lucid_tensor_numel(bt);
    double *w = malloc(sizeof(double) * (size_t)(numel ? numel : 1));
    double *cv = malloc(sizeof(double) * (size_t)(cnum ? cnum : 1));
    if (!w || !cv) {
        free(w);
        free(cv);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    for (int64_t i = 0; i < bt->dims[0]; i++)
        for (int64_t j = 0; j < bt->dims[1]; j++) {
            int64_t col = trans_b ? i : j;
            w[i * bt->dims[1] + j] = const_at(g, p->inputs[1], i * bt->dims[1] + j) * a->s[col];
        }
    for (int64_t i = 0; i < (rows ? m : 1); i++)
        for (int64_t j = 0; j < n; j++) {
            double cval = 0;
            if (ct) {
                /* unidirectional broadcast of C to M x N */
                int64_t c0 = ct->rank == 2 ? ct->dims[0] : 1,
                        c1 = ct->rank >= 1 ? ct->dims[ct->rank - 1] : 1;
                int64_t idx = (c0 == 1 ? 0 : i) * c1 + (c1 == 1 ? 0 : j);
                cval = const_at(g, c, idx);
            }
            cv[i * n + j] = a->s[j] * cval + a->t[j] / beta;
        }
    int64_t cd[2] = {m, n};
    int nw = add_floats(g, bt->name, 2, bt->dims, w, numel, err);
    int nc = nw >= 0 ? add_floats(g, p->name, rows ? 2 : 1, rows ? cd : cd + 1, cv, cnum, err) : -1;
    free(w);
    free(cv);
    if (nw < 0 || nc < 0) return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    lucid_status st;
    p->inputs[1] = nw;
    if ((st = lucid_node_set_input(p, 2, nc, err))) return st;
    if (p->op == LUCID_OP_MATMUL) return lucid_node_set_op(g, p, LUCID_OP_GEMM, p->opset, err);
    return LUCID_STATUS_OK;
}

/* Folds conv(s * x + t) into an unpadded group-1 Conv: W'[o,i,k] = W[o,i,k] s[i] and
 * b'[o] = b[o] + sum_{i,k} W[o,i,k] t[i]. Exact only because no output position reads
 * padding (which would be zero, not t). */
static lucid_status fold_into_conv_after(lucid_graph *g, lucid_node *c, const bn_affine *a,
                                         int *new_w, int *new_b, lucid_error *err)
{
    const lucid_ir_tensor *wt = &g->tensors[c->inputs[1]];
    int b = c->n_inputs > 2 ? c->inputs[2] : -1;
    int64_t numel = lucid_tensor_numel(wt), m = wt->dims[0], ci = wt->dims[1];
    int64_t ks = m && ci ? numel / (m * ci) : 0;
    double *w = malloc(sizeof(double) * (size_t)(numel ? numel : 1));
    double *bias = malloc(sizeof(double) * (size_t)(m ? m : 1));
    if (!w || !bias) {
        free(w);
        free(bias);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    for (int64_t o = 0; o < m; o++) {
        double acc = b >= 0 ? const_at(g, b, o) : 0.0;
        for (int64_t i = 0; i < ci; i++)
            for (int64_t k = 0; k < ks; k++) {
                int64_t idx = (o * ci + i) * ks + k;
                double wv = const_at(g, c->inputs[1], idx);
                w[idx] = wv * a->s[i];
                acc += wv * a->t[i];
            }
        bias[o] = acc;
    }
    lucid_status st = LUCID_STATUS_OK;
    *new_w = add_floats(g, wt->name, wt->rank, wt->dims, w, numel, err);
    int64_t bd[1] = {m};
    if (*new_w >= 0) *new_b = add_floats(g, c->name, 1, bd, bias, m, err);
    if (*new_w < 0 || *new_b < 0) st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    free(w);
    free(bias);
    return st;
}

/* Why a Conv after the BN cannot take it exactly, or NULL. */
static const char *conv_after_refusal(const lucid_graph *g, const lucid_node *c, int64_t channels)
{
    const lucid_conv_params *cp = c->params;
    if (cp->group != 1) return "the following Conv is grouped (group != 1)";
    if (lucid_auto_pad_is_same(cp->auto_pad))
        return "the following Conv pads its input (auto_pad SAME): at the borders it would "
               "read zeros where the normalized input has the shift, so folding is not exact";
    if (cp->auto_pad == LUCID_AUTO_PAD_NOTSET)
        for (size_t i = 0; i < cp->n_pads; i++)
            if (cp->pads[i] != 0)
                return "the following Conv pads its input: at the borders it would read zeros "
                       "where the normalized input has the shift, so folding is not exact";
    if (g->tensors[c->inputs[1]].dims[1] != channels)
        return "the following Conv's weights do not match the BN's channels";
    return NULL;
}

static lucid_status bn_folding_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *bn = &g->nodes[i];
        if (bn->dead || bn->op != LUCID_OP_BATCH_NORMALIZATION || bn->n_outputs != 1) continue;
        int xt = bn->inputs[0], yt = bn->outputs[0];
        const lucid_ir_tensor *x = &g->tensors[xt];
        if (!lucid_tensor_shape_known(x) || x->rank < 2) continue;
        /* the neighbour to fold into: the producer if x feeds only the BN, else the sole
         * consumer of y if it is a Conv reading y as its data input */
        int pi = x->producer, ci = -1;
        if (pi >= 0 &&
            (sole_consumer(g, xt) != i || !foldable_before(g, &g->nodes[pi], x, x->dims[1])))
            pi = -1;
        if (pi < 0) {
            ci = sole_consumer(g, yt);
            if (ci >= 0) {
                const lucid_node *c = &g->nodes[ci];
                bool data_only = c->op == LUCID_OP_CONV && c->inputs[0] == yt &&
                                 c->inputs[1] != yt && (c->n_inputs < 3 || c->inputs[2] != yt);
                int b = c->n_inputs > 2 ? c->inputs[2] : -1;
                if (!data_only || !const_data(g, c->inputs[1]) || (b >= 0 && !const_data(g, b)) ||
                    g->tensors[c->inputs[1]].rank != x->rank)
                    ci = -1;
            }
        }
        if (pi < 0 && ci < 0) continue; /* a standalone BN stays as it is */
        lucid_node *nb = &g->nodes[pi >= 0 ? pi : ci];
        char names[2 * LUCID_MAX_NAME + 8];
        if (pi >= 0)
            snprintf(names, sizeof names, "%s,%s", nb->name, bn->name);
        else
            snprintf(names, sizeof names, "%s,%s", bn->name, nb->name);

        bn_affine a;
        char why_buf[256];
        bool oom;
        const char *why = bn_read(g, bn, &a, why_buf, sizeof why_buf, &oom);
        if (oom) {
            bn_free(&a);
            return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        }
        if (!why && ci >= 0) why = conv_after_refusal(g, nb, a.channels);
        if (why) {
            bn_free(&a);
            lucid_pass_refuse(ctx, names, "BatchNormalization '%s' not folded into %s '%s': %s",
                              bn->name, nb->op_type, nb->name, why);
            continue;
        }
        const char *op_before = nb->op_type;
        lucid_status st = LUCID_STATUS_OK;
        int new_w = -1, new_b = -1;
        if (pi >= 0 && (nb->op == LUCID_OP_GEMM || nb->op == LUCID_OP_MATMUL)) {
            const char *gemm_why = NULL;
            bool matmul = nb->op == LUCID_OP_MATMUL;
            st = fold_into_gemm_before(g, nb, &a, &gemm_why, err);
            if (!st && gemm_why) {
                bn_free(&a);
                lucid_pass_refuse(ctx, names, "BatchNormalization '%s' not folded into %s '%s': %s",
                                  bn->name, nb->op_type, nb->name, gemm_why);
                continue;
            }
            op_before = matmul ? "MatMul (now Gemm)" : "Gemm";
        } else if (pi >= 0) {
            st = fold_into_conv_before(g, nb, &a, &new_w, &new_b, err);
            if (!st) {
                nb->inputs[1] = new_w;
                st = lucid_node_set_input(nb, 2, new_b, err);
            }
        } else {
            st = fold_into_conv_after(g, nb, &a, &new_w, &new_b, err);
            if (!st) {
                nb->inputs[0] = xt;
                nb->inputs[1] = new_w;
                st = lucid_node_set_input(nb, 2, new_b, err);
                lucid_tensor_consumer_replace(g, xt, i, ci);
            }
        }
        bn_free(&a);
        if (st) return st;
        if (pi >= 0) {
            /* the producer now writes the BN's output, keeping its name (it may be a graph
             * output); x, read by nothing else, goes away */
            nb->outputs[0] = yt;
            g->tensors[yt].producer = pi;
        }
        if ((st = lucid_node_rename_join(nb, bn->name, ci >= 0, err))) return st;
        lucid_node_kill(bn);
        lucid_node_kill_orphan_constants(g, bn);
        lucid_pass_rewrite(ctx, names, nb->name,
                           "BatchNormalization folded into the %s %s it (new weights and bias)",
                           op_before, pi >= 0 ? "before" : "after");
    }
    return LUCID_STATUS_OK;
}

const lucid_pass_def lucid_pass_bn_folding = {
    .name = "bn_folding",
    .level = LUCID_PASS_FUSION,
    .summary = "fold BatchNormalization into the Conv/Gemm/MatMul before it, or into an "
               "unpadded Conv after it",
    .run = bn_folding_run,
};
