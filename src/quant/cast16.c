/* cast16.c - the 16-bit rewrite: layers that have 16-bit kernels get float16 or bfloat16
 * activations and weights (float32 accumulation is the kernels' business), Cast nodes convert
 * where a 16-bit tensor meets a float32 layer and at the graph's inputs and outputs.
 *
 * Who decides a tensor's dtype: its writer. A layer that runs in 16 bits writes 16-bit
 * outputs; every reader of another precision reads a Cast of it (one per tensor and dtype,
 * shared by all such readers). Graph inputs are float32 (the engine boundary); a graph output
 * written by a 16-bit layer is renamed: the layer writes "<name>_fp16" and a Cast makes the
 * float32 output under the original name.
 *
 * Views: an elided Reshape, Flatten, Squeeze, Unsqueeze, Identity, Concat or Split computes
 * nothing; its tensors share one buffer (a storage group) with the tensors they view, and one
 * buffer holds one dtype. So every layer that writes into a group must agree: if one of them
 * stays float32 (no kernel, a constraint), all do, and the elided nodes report the group's
 * precision. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"
#include "passes/node_edit.h"
#include "quant/quant.h"

/* Ops whose 16-bit form has a kernel (reference kernels widen to float32 and round once on
 * store; fast tactics for the common ones). */
static bool op_has_16bit(int op)
{
    switch (op) {
    case LUCID_OP_CONV:
    case LUCID_OP_FUSED_CONV:
    case LUCID_OP_GEMM:
    case LUCID_OP_FUSED_GEMM:
    case LUCID_OP_MATMUL:
    case LUCID_OP_MAX_POOL:
    case LUCID_OP_AVERAGE_POOL:
    case LUCID_OP_GLOBAL_AVERAGE_POOL:
    case LUCID_OP_GLOBAL_MAX_POOL:
    case LUCID_OP_RELU:
    case LUCID_OP_CLIP:
    case LUCID_OP_LEAKY_RELU:
    case LUCID_OP_SIGMOID:
    case LUCID_OP_HARD_SIGMOID:
    case LUCID_OP_HARD_SWISH:
    case LUCID_OP_TANH:
    case LUCID_OP_ADD:
    case LUCID_OP_SUB:
    case LUCID_OP_MUL:
    case LUCID_OP_CONCAT:
    case LUCID_OP_SPLIT:
    case LUCID_OP_RESHAPE:
    case LUCID_OP_FLATTEN:
    case LUCID_OP_SQUEEZE:
    case LUCID_OP_UNSQUEEZE:
    case LUCID_OP_IDENTITY:
    case LUCID_OP_BATCH_NORMALIZATION:
    case LUCID_OP_FUSED_BATCH_NORM:
        return true;
    default:
        return false;
    }
}

static bool is_float_dtype(lucid_dtype t)
{
    return t == LUCID_DTYPE_FLOAT || t == LUCID_DTYPE_DOUBLE || t == LUCID_DTYPE_FLOAT16 ||
           t == LUCID_DTYPE_BFLOAT16;
}

/* A tensor computed at run time (not a constant or propagated value). */
static bool is_activation(const lucid_ir_tensor *t)
{
    return !t->data && (t->is_input || t->producer >= 0);
}

/* Does node n compute anything at run time? (Not dead, not elided, and some output not a
 * known constant.) */
static bool node_runs(const lucid_graph *g, const lucid_node *n)
{
    if (n->dead || n->elided) return false;
    for (int k = 0; k < n->n_outputs; k++) {
        int t = n->outputs[k];
        if (t >= 0 && !g->tensors[t].data) return true;
    }
    return false;
}

/* Why node n cannot run in 16 bits ("" if it can). */
static void refusal(const lucid_graph *g, const lucid_node *n, char *why, size_t len)
{
    why[0] = '\0';
    if (!op_has_16bit(n->op)) {
        snprintf(why, len, "no 16-bit kernel for %s", n->op_type);
        return;
    }
    bool any = false;
    for (int pass = 0; pass < 2; pass++) {
        const int *ts = pass ? n->outputs : n->inputs;
        int count = pass ? n->n_outputs : n->n_inputs;
        for (int k = 0; k < count; k++) {
            if (ts[k] < 0) continue;
            const lucid_ir_tensor *t = &g->tensors[ts[k]];
            if (!is_float_dtype(t->dtype)) continue;
            if (t->dtype != LUCID_DTYPE_FLOAT) {
                snprintf(why, len, "'%s' is %s, not float32", t->name, lucid_dtype_name(t->dtype));
                return;
            }
            if (is_activation(t)) any = true;
        }
    }
    if (!any) snprintf(why, len, "no float32 activations");
}

/* Union-find over tensors joined by views. */
static int find_root(int *parent, int t)
{
    while (parent[t] != t) {
        parent[t] = parent[parent[t]];
        t = parent[t];
    }
    return t;
}

/* Everything the rewrite decides before it edits the graph. */
typedef struct cast16_plan {
    int n_nodes, n_tensors;
    bool *half;       /* per node: runs in 16 bits */
    char (*why)[160]; /* per node: why not */
    int *group;       /* per tensor: its storage group's root */
    bool *group_f32;  /* per group root: must stay float32 */
    char (*group_why)[160];
} cast16_plan;

static void plan_free(cast16_plan *p)
{
    free(p->half);
    free(p->why);
    free(p->group);
    free(p->group_f32);
    free(p->group_why);
}

/* The precision each layer gets. */
static lucid_status plan_make(const lucid_graph *g, const bool *keep, cast16_plan *p,
                              lucid_error *err)
{
    memset(p, 0, sizeof *p);
    p->n_nodes = g->n_nodes;
    p->n_tensors = g->n_tensors;
    size_t nn = (size_t)(g->n_nodes ? g->n_nodes : 1),
           nt = (size_t)(g->n_tensors ? g->n_tensors : 1);
    p->half = calloc(nn, sizeof *p->half);
    p->why = calloc(nn, sizeof *p->why);
    p->group = malloc(nt * sizeof *p->group);
    p->group_f32 = calloc(nt, sizeof *p->group_f32);
    p->group_why = calloc(nt, sizeof *p->group_why);
    if (!p->half || !p->why || !p->group || !p->group_f32 || !p->group_why) {
        plan_free(p);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    for (int t = 0; t < g->n_tensors; t++)
        p->group[t] = t;
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t].view_of >= 0) {
            int a = find_root(p->group, t), b = find_root(p->group, g->tensors[t].view_of);
            if (a != b) p->group[a] = b;
        }
    for (int t = 0; t < g->n_tensors; t++)
        p->group[t] = find_root(p->group, t);

    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        if (n->dead) {
            snprintf(p->why[i], sizeof p->why[i], "removed");
        } else if (n->elided) {
            /* decided by its storage group below */
        } else if (keep && keep[i]) {
            snprintf(p->why[i], sizeof p->why[i], "kept by constraint");
        } else if (!node_runs(g, n)) {
            snprintf(p->why[i], sizeof p->why[i], "computed at build time");
        } else {
            refusal(g, n, p->why[i], sizeof p->why[i]);
            p->half[i] = p->why[i][0] == '\0';
        }
    }
    /* groups that must stay float32: they hold a graph input or a non-float32 tensor, or an
     * elided node in them is kept */
    bool any_view = false;
    for (int t = 0; t < g->n_tensors; t++) {
        const lucid_ir_tensor *x = &g->tensors[t];
        int r = p->group[t];
        if (r == t && x->view_of < 0) {
            bool member = false;
            for (int v = 0; v < g->n_tensors && !member; v++)
                member = v != t && p->group[v] == t;
            if (!member) continue;
        }
        any_view = true;
        if (p->group_f32[r]) continue;
        if (x->is_input || x->data || x->dtype != LUCID_DTYPE_FLOAT) {
            p->group_f32[r] = true;
            snprintf(p->group_why[r], sizeof p->group_why[r], "'%s' is %s", x->name,
                     x->is_input ? "a graph input"
                     : x->data   ? "a constant"
                                 : "not float32");
        }
    }
    if (any_view)
        for (int i = 0; i < g->n_nodes; i++) {
            const lucid_node *n = &g->nodes[i];
            if (!n->elided || n->dead || !(keep && keep[i])) continue;
            for (int k = 0; k < n->n_outputs; k++) {
                int t = n->outputs[k];
                if (t < 0 || p->group_f32[p->group[t]]) continue;
                p->group_f32[p->group[t]] = true;
                snprintf(p->group_why[p->group[t]], sizeof p->group_why[0],
                         "the view '%s' is kept by constraint", n->name);
            }
        }
    /* every layer writing into a group agrees with the others: one float32 writer keeps all
     * float32 (repeated, since a demoted layer may write into a second group) */
    for (bool changed = any_view; changed;) {
        changed = false;
        for (int i = 0; i < g->n_nodes; i++) {
            const lucid_node *n = &g->nodes[i];
            if (n->dead || n->elided || p->half[i]) continue;
            for (int k = 0; k < n->n_outputs; k++) {
                int t = n->outputs[k];
                if (t < 0 || p->group_f32[p->group[t]]) continue;
                int r = p->group[t];
                bool shared = r != t || g->tensors[t].view_of >= 0;
                for (int v = 0; v < g->n_tensors && !shared; v++)
                    shared = v != t && p->group[v] == r;
                if (!shared) continue;
                p->group_f32[r] = true;
                snprintf(p->group_why[r], sizeof p->group_why[r],
                         "layer '%s', which stays float32, writes into it", n->name);
                changed = true;
            }
        }
        for (int i = 0; i < g->n_nodes; i++) {
            const lucid_node *n = &g->nodes[i];
            if (!p->half[i]) continue;
            for (int k = 0; k < n->n_outputs; k++) {
                int t = n->outputs[k];
                if (t < 0 || !p->group_f32[p->group[t]]) continue;
                p->half[i] = false;
                snprintf(p->why[i], sizeof p->why[i],
                         "its output '%s' shares a buffer (a view) that stays float32: %s",
                         g->tensors[t].name, p->group_why[p->group[t]]);
                changed = true;
                break;
            }
        }
    }
    return LUCID_STATUS_OK;
}

/* The precision tensor t is stored in: its group's (a group is 16-bit when it has a writer
 * and every writer is), else its producer's; graph inputs and constants are float32. */
static bool tensor_half(const lucid_graph *g, const cast16_plan *p, int t)
{
    const lucid_ir_tensor *x = &g->tensors[t];
    if (x->dtype != LUCID_DTYPE_FLOAT || !is_activation(x) || x->is_input) return false;
    int r = p->group[t];
    if (p->group_f32[r]) return false;
    bool writer = false;
    for (int v = 0; v < p->n_tensors; v++) {
        if (p->group[v] != r) continue;
        int pr = g->tensors[v].producer;
        if (pr < 0 || g->nodes[pr].elided || g->nodes[pr].dead) continue;
        if (!p->half[pr]) return false;
        writer = true;
    }
    return writer;
}

/* Does this reader care about the dtype of what it reads? Elided nodes are part of their
 * input's storage group; nodes computed at build time (Shape) read only shapes. */
static bool reader_counts(const lucid_graph *g, const lucid_node *n)
{
    return node_runs(g, n);
}

/* Adds "Cast(from) -> to" as a new node named name. */
static lucid_status add_cast(lucid_graph *g, const char *name, int from, int to, lucid_dtype dt,
                             lucid_error *err)
{
    int idx = lucid_graph_add_node(g, name, "Cast", "", g->opset > 13 ? (int)g->opset : 13, &from,
                                   1, &to, 1, err);
    if (idx < 0) return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    lucid_node *n = &g->nodes[idx];
    lucid_status st = lucid_node_set_int(n, "to", (int64_t)dt, err);
    if (!st) st = lucid_node_set_op(g, n, LUCID_OP_CAST, n->opset, err);
    if (st) return st;
    g->tensors[to].dtype = dt;
    g->tensors[to].rank = g->tensors[from].rank;
    memcpy(g->tensors[to].dims, g->tensors[from].dims, sizeof g->tensors[to].dims);
    return LUCID_STATUS_OK;
}

/* A fresh tensor named base + suffix. */
static int new_tensor(lucid_graph *g, const char *base, const char *suffix, lucid_error *err)
{
    char name[LUCID_MAX_NAME + 32];
    snprintf(name, sizeof name, "%s%s", base, suffix);
    return lucid_graph_new_tensor(g, name, err);
}

lucid_status lucid_precision_cast16(lucid_graph *g, lucid_precision p, const bool *keep,
                                    lucid_layer_precision *out, lucid_error *err)
{
    if (!g || !out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "cast16: NULL argument");
    if (p != LUCID_PRECISION_FP16 && p != LUCID_PRECISION_BF16)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "cast16: precision %s is not fp16 or bf16", lucid_precision_name(p));
    const lucid_dtype dt = p == LUCID_PRECISION_FP16 ? LUCID_DTYPE_FLOAT16 : LUCID_DTYPE_BFLOAT16;
    const char *sfx = p == LUCID_PRECISION_FP16 ? "_fp16" : "_bf16";
    cast16_plan pl;
    lucid_status st = plan_make(g, keep, &pl, err);
    if (st) return st;
    const int n0 = g->n_nodes, t0 = g->n_tensors;
    bool *th = calloc((size_t)(t0 ? t0 : 1), sizeof *th);    /* per original tensor: 16-bit */
    int *to32 = malloc(sizeof(int) * (size_t)(t0 ? t0 : 1)); /* float32 Cast of a 16-bit one */
    int *to16 = malloc(sizeof(int) * (size_t)(t0 ? t0 : 1)); /* 16-bit Cast or copy */
    if (!th || !to32 || !to16) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int t = 0; t < t0; t++) {
        th[t] = tensor_half(g, &pl, t);
        to32[t] = to16[t] = -1;
    }
    /* what each layer gets (elided nodes: their storage group's precision) */
    for (int i = 0; i < n0; i++) {
        const lucid_node *n = &g->nodes[i];
        bool half = pl.half[i];
        const char *why = pl.why[i];
        if (n->elided && !n->dead) {
            int t = n->outputs[0];
            half = t >= 0 && th[t];
            why = "";
            if (!half && t >= 0 && pl.group_f32[pl.group[t]]) why = pl.group_why[pl.group[t]];
            if (!half && !why[0]) why = "a view of float32 data";
        }
        out[i].precision = half ? p : LUCID_PRECISION_FP32;
        out[i].error = -1;
        snprintf(out[i].why, sizeof out[i].why, "%s", half ? "" : why);
    }

    /* graph outputs stored in 16 bits: the writer writes "<name>_fp16", a Cast makes the
     * float32 output under the original name */
    for (int o = 0; o < g->n_outputs; o++) {
        int t = g->outputs[o];
        if (!th[t] || to32[t] >= 0) continue;
        int h = new_tensor(g, g->tensors[t].name, sfx, err);
        if (h < 0) {
            st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
            goto done;
        }
        lucid_ir_tensor *x = &g->tensors[t], *y = &g->tensors[h];
        y->dtype = dt;
        y->rank = x->rank;
        memcpy(y->dims, x->dims, sizeof y->dims);
        y->view_of = x->view_of;
        y->view_offset = x->view_offset / 2; /* bytes: 2 per value instead of 4 */
        x->view_of = -1;
        x->view_offset = 0;
        for (int v = 0; v < g->n_tensors; v++)
            if (g->tensors[v].view_of == t) g->tensors[v].view_of = h;
        lucid_node *w = &g->nodes[x->producer];
        for (int k = 0; k < w->n_outputs; k++)
            if (w->outputs[k] == t) w->outputs[k] = h;
        /* readers read the 16-bit tensor; float32 readers get the output itself below */
        for (int i = 0; i < n0; i++) {
            lucid_node *n = &g->nodes[i];
            if (n->dead) continue;
            for (int k = 0; k < n->n_inputs; k++)
                if (n->inputs[k] == t) n->inputs[k] = h;
        }
        char name[LUCID_MAX_NAME + 32];
        snprintf(name, sizeof name, "%s_to_fp32", g->tensors[h].name);
        if ((st = add_cast(g, name, h, t, LUCID_DTYPE_FLOAT, err))) goto done;
        to32[t] = t; /* the float32 version of (what is now) h */
        to16[t] = h;
    }

    /* readers of another precision than the tensor's read a Cast; 16-bit layers read
     * 16-bit copies of their float32 constants */
    for (int i = 0; i < n0; i++) {
        lucid_node *n = &g->nodes[i];
        if (!reader_counts(g, n)) continue;
        bool half = pl.half[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0) continue;
            int orig = t;
            /* a renamed graph output: t is the 16-bit tensor that replaced orig */
            for (int o = 0; o < t0 && t >= t0; o++)
                if (to16[o] == t) orig = o;
            if (orig >= t0) continue; /* a tensor this rewrite made */
            const lucid_ir_tensor *x = &g->tensors[orig];
            if (x->dtype != LUCID_DTYPE_FLOAT) continue;
            if (x->data) {
                if (!half) continue;
                if (to16[orig] < 0) {
                    int64_t count = lucid_tensor_numel(x);
                    uint16_t *d = malloc(sizeof(uint16_t) * (size_t)(count > 0 ? count : 1));
                    if (!d) {
                        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
                        goto done;
                    }
                    lucid_half_narrow(dt, x->data, d, count);
                    char base[LUCID_MAX_NAME + 32];
                    snprintf(base, sizeof base, "%s%s", x->name, sfx);
                    /* adding a tensor may move the tensor array: copy the shape first */
                    int rank = x->rank;
                    int64_t dims[LUCID_MAX_RANK];
                    memcpy(dims, x->dims, sizeof dims);
                    int c = lucid_graph_add_constant(g, base, dt, rank, dims, d,
                                                     sizeof(uint16_t) * (size_t)count, err);
                    if (c < 0) {
                        st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
                        goto done;
                    }
                    to16[orig] = c;
                }
                n = &g->nodes[i];
                n->inputs[k] = to16[orig];
                continue;
            }
            if (!is_activation(x) || th[orig] == half) continue;
            int *slot = half ? &to16[orig] : &to32[orig];
            if (*slot < 0) {
                int c = new_tensor(g, g->tensors[orig].name, half ? sfx : "_fp32", err);
                if (c < 0) {
                    st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
                    goto done;
                }
                char name[LUCID_MAX_NAME + 32];
                snprintf(name, sizeof name, "%s_to_%s", g->tensors[orig].name,
                         half ? sfx + 1 : "fp32");
                if ((st = add_cast(g, name, orig, c, half ? dt : LUCID_DTYPE_FLOAT, err)))
                    goto done;
                *slot = c;
            }
            n = &g->nodes[i];
            n->inputs[k] = *slot;
        }
    }
    /* 16-bit tensors take their dtype now (inference checks it); a view's byte offset in
     * its storage (a slice of an elided Concat, stored 16-bit as a whole) halves */
    for (int t = 0; t < t0; t++)
        if (th[t] && !g->tensors[t].is_output) {
            g->tensors[t].dtype = dt;
            g->tensors[t].view_offset /= 2;
        }
    st = lucid_graph_compact(g, err);
    if (st) lucid_error_prefix(err, "cast16: ");
done:
    free(th);
    free(to32);
    free(to16);
    plan_free(&pl);
    return st;
}
