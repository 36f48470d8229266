/* vertical_fusion.c - Conv/Gemm/MatMul with the bias Add, residual Add and activation that
 * follow it merged into one FusedConv or FusedGemm engine layer; an inference
 * BatchNormalization with the activation after it into one FusedBatchNormalization. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/activation.h"
#include "ops/op.h"
#include "passes/node_edit.h"
#include "passes/pass.h"

/* Nodes one chain can absorb: bias Adds (any number), a residual Add, an activation (two
 * nodes for SiLU). */
#define VF_MAX_STEPS 16

typedef enum vf_anchor { VF_CONV, VF_GEMM, VF_MATMUL, VF_BN } vf_anchor;

typedef struct vf_chain {
    vf_anchor kind;
    int absorbed[VF_MAX_STEPS];
    int n_absorbed;
    int bias[VF_MAX_STEPS]; /* constant per-channel tensors added, in order */
    int n_bias;
    int residual;      /* tensor added elementwise (FusedConv's Z), or -1 */
    int residual_add;  /* the Add node that added it */
    const char *act;   /* activation attribute value, NULL if none absorbed */
    float alpha, beta; /* its parameters */
    bool has_alpha, has_beta;
    int out; /* the chain's final tensor */
} vf_chain;

static bool is_float_static(const lucid_ir_tensor *t)
{
    return t->dtype == LUCID_DTYPE_FLOAT && lucid_tensor_shape_known(t);
}

static bool same_shape(const lucid_ir_tensor *a, const lucid_ir_tensor *b)
{
    if (a->rank != b->rank) return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return false;
    return true;
}

/* A constant that, broadcast against out (N x C x ... or M x N), varies only along dim 1. */
static bool per_channel_const(const lucid_ir_tensor *c, const lucid_ir_tensor *out)
{
    if (!c->data || c->view_of >= 0 || !is_float_static(c) || c->rank > out->rank || out->rank < 2)
        return false;
    for (int j = 0; j < c->rank; j++) {
        int od = out->rank - c->rank + j;
        if (c->dims[j] != 1 && !(od == 1 && c->dims[j] == out->dims[1])) return false;
    }
    return true;
}

/* If node c is an activation FusedConv/FusedGemm can apply, fills the chain's activation (a
 * Clip's bounds must be known now). */
static bool take_activation(const lucid_graph *g, const lucid_node *c, vf_chain *ch)
{
    lucid_activation a;
    bool runtime_bounds;
    if (!lucid_activation_of_op(g, c, &a, &runtime_bounds) || runtime_bounds) return false;
    ch->act = lucid_act_name(a.kind);
    ch->alpha = a.alpha;
    ch->beta = a.beta;
    ch->has_alpha = lucid_act_param_count(a.kind) >= 1;
    ch->has_beta = lucid_act_param_count(a.kind) >= 2;
    return true;
}

/* Follows t's single-use chain from the anchor, filling ch; stops at the first node that
 * cannot be absorbed. */
static void vf_collect(const lucid_graph *g, const lucid_node *anchor, bool has_act, bool has_z,
                       bool bias_ok, vf_chain *ch)
{
    int cur = anchor->outputs[0];
    const lucid_ir_tensor *y = &g->tensors[cur];
    for (;;) {
        if (ch->n_absorbed + 2 > VF_MAX_STEPS || has_act) return;
        const lucid_ir_tensor *t = &g->tensors[cur];
        if (t->is_output) return; /* the intermediate must stay visible */
        int cons[2];
        int nc = lucid_tensor_live_consumers(g, cur, cons, 2);
        if (nc == 1) {
            const lucid_node *c = &g->nodes[cons[0]];
            int out = c->outputs[0];
            if (c->n_outputs != 1 || !is_float_static(&g->tensors[out]) ||
                !same_shape(&g->tensors[out], y))
                return;
            if (c->op == LUCID_OP_ADD && ch->kind != VF_BN) {
                if (c->n_inputs != 2 || c->inputs[0] == c->inputs[1]) return;
                int other = c->inputs[0] == cur ? c->inputs[1] : c->inputs[0];
                const lucid_ir_tensor *o = &g->tensors[other];
                /* legacy Adds (opset < 7) broadcast by attribute; only equal shapes are safe */
                bool legacy = c->opset < 7;
                if (o->data && bias_ok && !legacy && per_channel_const(o, y)) {
                    ch->bias[ch->n_bias++] = other;
                } else if (!o->data && ch->kind == VF_CONV && !has_z && is_float_static(o) &&
                           same_shape(o, y)) {
                    ch->residual = other;
                    ch->residual_add = cons[0];
                    has_z = true;
                } else {
                    return;
                }
            } else if (c->inputs[0] == cur && c->op != LUCID_OP_ADD &&
                       take_activation(g, c, ch)) {
                has_act = true;
            } else {
                return;
            }
            ch->absorbed[ch->n_absorbed++] = cons[0];
            ch->out = out;
            cur = out;
            continue;
        }
        if (nc != 2) return;
        /* SiLU: Mul(t, Sigmoid(t)), the Sigmoid's output read only by the Mul */
        int si = g->nodes[cons[0]].op == LUCID_OP_SIGMOID ? cons[0] : cons[1];
        int mi = si == cons[0] ? cons[1] : cons[0];
        const lucid_node *s = &g->nodes[si], *m = &g->nodes[mi];
        if (s->op != LUCID_OP_SIGMOID || m->op != LUCID_OP_MUL || m->n_inputs != 2) return;
        int so = s->outputs[0];
        bool pair = (m->inputs[0] == cur && m->inputs[1] == so) ||
                    (m->inputs[1] == cur && m->inputs[0] == so);
        int only[2];
        if (!pair || g->tensors[so].is_output ||
            lucid_tensor_live_consumers(g, so, only, 2) != 1)
            return;
        if (!is_float_static(&g->tensors[m->outputs[0]]) ||
            !same_shape(&g->tensors[m->outputs[0]], y))
            return;
        ch->act = lucid_act_name(LUCID_ACT_SILU);
        ch->has_alpha = ch->has_beta = false;
        ch->absorbed[ch->n_absorbed++] = si;
        ch->absorbed[ch->n_absorbed++] = mi;
        ch->out = m->outputs[0];
        return;
    }
}

/* Appends the names in s (a layer name "a + b" or one node's name) to list. */
static bool push_names(char ***list, size_t *count, const char *s)
{
    for (;;) {
        const char *sep = strstr(s, " + ");
        size_t len = sep ? (size_t)(sep - s) : strlen(s);
        char **nl = realloc(*list, sizeof *nl * (*count + 1));
        if (!nl) return false;
        *list = nl;
        char *name = malloc(len + 1);
        if (!name) return false;
        memcpy(name, s, len);
        name[len] = '\0';
        nl[(*count)++] = name;
        if (!sep) return true;
        s = sep + 3;
    }
}

static void free_names(char **list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(list[i]);
    free(list);
}

/* The anchor's bias (Conv B, or Gemm beta * C broadcast to its output) plus the chain's bias
 * constants, as a new initializer; -1 on error. */
static int vf_new_bias(lucid_graph *g, const lucid_node *n, const vf_chain *ch, lucid_error *err)
{
    const lucid_ir_tensor *y = &g->tensors[n->outputs[0]];
    const int64_t ch_count = y->dims[1];
    int old = n->n_inputs > 2 ? n->inputs[2] : -1;
    const lucid_ir_tensor *ot = old >= 0 ? &g->tensors[old] : NULL;
    /* Gemm's C may vary along rows: then so does the new one */
    bool rows = ch->kind != VF_CONV && ot && ot->rank == 2 && ot->dims[0] != 1;
    int64_t nrows = rows ? y->dims[0] : 1, count = nrows * ch_count;
    float scale = 1.0f;
    if (ch->kind == VF_GEMM && ot) {
        float beta;
        if (lucid_attr_float(n, "beta", 1.0f, &beta, err)) return -1;
        scale = beta;
    }
    float *v = malloc(sizeof(float) * (size_t)(count ? count : 1));
    if (!v) {
        lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    for (int64_t r = 0; r < nrows; r++)
        for (int64_t c = 0; c < ch_count; c++) {
            float acc = 0.0f;
            if (ot) {
                int64_t idx = c;
                if (ch->kind != VF_CONV) {
                    int64_t c0 = ot->rank == 2 ? ot->dims[0] : 1,
                            c1 = ot->rank >= 1 ? ot->dims[ot->rank - 1] : 1;
                    idx = (c0 == 1 ? 0 : r) * c1 + (c1 == 1 ? 0 : c);
                }
                acc = scale * (float)lucid_load_f64(ot->dtype, ot->data, idx);
            }
            for (int k = 0; k < ch->n_bias; k++) {
                const lucid_ir_tensor *bt = &g->tensors[ch->bias[k]];
                acc +=
                    (float)lucid_load_f64(bt->dtype, bt->data, lucid_tensor_numel(bt) == 1 ? 0 : c);
            }
            v[r * ch_count + c] = acc;
        }
    int64_t dims[2] = {y->dims[0], ch_count};
    return lucid_graph_add_constant(g, n->name, LUCID_DTYPE_FLOAT, rows ? 2 : 1,
                                    rows ? dims : dims + 1, v, sizeof(float) * (size_t)count, err);
}

/* Rewrites anchor node i and the chain into one fused node. */
static lucid_status vf_apply(lucid_pass_ctx *ctx, lucid_graph *g, int i, vf_chain *ch,
                             lucid_error *err)
{
    lucid_node *n = &g->nodes[i];
    lucid_status st = LUCID_STATUS_OK;
    char **names = NULL;
    size_t n_names = 0;
    char *log_nodes = NULL;
    /* the original names: a fused node's list, else its (possibly joined) name */
    const lucid_attr *fa = lucid_node_attr(n, "fused_nodes");
    bool ok = true;
    if (fa && fa->type == LUCID_ATTR_STRINGS)
        for (size_t k = 0; ok && k < fa->count; k++)
            ok = push_names(&names, &n_names, fa->strings[k]);
    else
        ok = push_names(&names, &n_names, n->name);
    for (int k = 0; ok && k < ch->n_absorbed; k++)
        ok = push_names(&names, &n_names, g->nodes[ch->absorbed[k]].name);
    size_t log_len = 1;
    for (size_t k = 0; ok && k < n_names; k++)
        log_len += strlen(names[k]) + 1;
    if (ok) log_nodes = calloc(1, log_len);
    if (!ok || !log_nodes) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < n_names; k++) {
        if (k) strcat(log_nodes, ",");
        strcat(log_nodes, names[k]);
    }

    if (ch->n_bias) {
        int nb = vf_new_bias(g, n, ch, err);
        n = &g->nodes[i];
        if (nb < 0) {
            st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
            goto done;
        }
        if ((st = lucid_node_set_input(n, 2, nb, err))) goto done;
        if (ch->kind == VF_GEMM && (st = lucid_node_set_float(n, "beta", 1.0f, err))) goto done;
    }
    if (ch->residual >= 0) {
        if ((st = lucid_node_set_input(n, 3, ch->residual, err))) goto done;
        lucid_tensor_consumer_replace(g, ch->residual, ch->residual_add, i);
    }
    if (ch->act) {
        if ((st = lucid_node_set_string(n, "activation", ch->act, err))) goto done;
        lucid_node_remove_attr(n, "activation_alpha");
        lucid_node_remove_attr(n, "activation_beta");
        if (ch->has_alpha && (st = lucid_node_set_float(n, "activation_alpha", ch->alpha, err)))
            goto done;
        if (ch->has_beta && (st = lucid_node_set_float(n, "activation_beta", ch->beta, err)))
            goto done;
    }
    if ((st = lucid_node_set_strings(n, "fused_nodes", names, n_names, err))) goto done;
    const char *from = n->op_type;
    char from_buf[32];
    snprintf(from_buf, sizeof from_buf, "%s", from);
    int op = ch->kind == VF_CONV  ? LUCID_OP_FUSED_CONV
             : ch->kind == VF_BN ? LUCID_OP_FUSED_BATCH_NORM
                                 : LUCID_OP_FUSED_GEMM;
    if ((st = lucid_node_set_op(g, n, op, 1, err))) goto done;
    for (int k = 0; k < ch->n_absorbed; k++)
        if ((st = lucid_node_rename_join(n, g->nodes[ch->absorbed[k]].name, false, err))) goto done;
    n->outputs[0] = ch->out;
    g->tensors[ch->out].producer = i;
    for (int k = 0; k < ch->n_absorbed; k++)
        lucid_node_kill(&g->nodes[ch->absorbed[k]]);
    for (int k = 0; k < ch->n_absorbed; k++)
        lucid_node_kill_orphan_constants(g, &g->nodes[ch->absorbed[k]]);
    lucid_pass_rewrite(ctx, log_nodes, n->name, "%s%s%s%s%s%s -> %s", from_buf,
                       ch->n_bias ? " + bias Add" : "", ch->residual >= 0 ? " + residual Add" : "",
                       ch->act ? " + " : "", ch->act ? ch->act : "",
                       ch->act && ch->has_alpha ? " (with parameters)" : "", n->op_type);
done:
    free_names(names, n_names);
    free(log_nodes);
    return st;
}

static lucid_status vertical_fusion_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        if (n->dead || n->n_outputs != 1 || n->outputs[0] < 0) continue;
        const lucid_ir_tensor *y = &g->tensors[n->outputs[0]];
        if (!is_float_static(y)) continue;
        vf_chain ch = {.residual = -1, .residual_add = -1};
        bool has_act = false, has_z = false;
        switch (n->op) {
        case LUCID_OP_FUSED_CONV:
        case LUCID_OP_FUSED_GEMM: {
            const lucid_activation *act = lucid_node_activation(n);
            if (!act) continue;
            has_act = act->kind != LUCID_ACT_NONE;
            has_z = n->op == LUCID_OP_FUSED_CONV && n->n_inputs > 3 && n->inputs[3] >= 0;
            ch.kind = n->op == LUCID_OP_FUSED_CONV ? VF_CONV : VF_GEMM;
            break;
        }
        case LUCID_OP_CONV:
            ch.kind = VF_CONV;
            break;
        case LUCID_OP_BATCH_NORMALIZATION: {
            /* per-channel statistics only (spatial=1, always so from opset 9); the Add after
             * it is not absorbed (no bias or residual input) */
            int64_t spatial = 1;
            if (n->opset < 9 && lucid_attr_int(n, "spatial", 1, &spatial, NULL)) continue;
            if (spatial != 1 || n->n_inputs != 5) continue;
            ch.kind = VF_BN;
            break;
        }
        case LUCID_OP_FUSED_BATCH_NORM:
            continue; /* it already has its activation */
        case LUCID_OP_GEMM:
            ch.kind = VF_GEMM;
            break;
        case LUCID_OP_MATMUL:
            /* only the 2-D product is a Gemm */
            if (g->tensors[n->inputs[0]].rank != 2 || g->tensors[n->inputs[1]].rank != 2 ||
                g->tensors[n->inputs[1]].dtype != LUCID_DTYPE_FLOAT)
                continue;
            ch.kind = VF_MATMUL;
            break;
        default:
            continue;
        }
        /* bias Adds fold into the anchor's bias only when that is constant too */
        int old_bias = n->n_inputs > 2 ? n->inputs[2] : -1;
        bool bias_ok =
            old_bias < 0 || (g->tensors[old_bias].data != NULL && g->tensors[old_bias].view_of < 0);
        vf_collect(g, n, has_act, has_z, bias_ok, &ch);
        if (ch.n_absorbed == 0) continue;
        lucid_status st = vf_apply(ctx, g, i, &ch, err);
        if (st) return st;
    }
    return LUCID_STATUS_OK;
}

const lucid_pass_def lucid_pass_vertical_fusion = {
    .name = "vertical_fusion",
    .level = LUCID_PASS_FUSION,
    .summary = "merge Conv/Gemm/MatMul with the bias Add, residual Add and activation after it "
               "into one FusedConv/FusedGemm, and BatchNormalization with its activation into "
               "one FusedBatchNormalization",
    .run = vertical_fusion_run,
};
