/* horizontal_fusion.c - sibling Conv/Gemm/MatMul layers reading the same tensor merged into one
 * wider layer whose Split hands the original tensors back to their consumers (Inception). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/conv.h"
#include "ops/op.h"
#include "passes/node_edit.h"
#include "passes/pass.h"

/* A Split has at most this many outputs (ops/movement.c), so no group is larger. */
#define HZ_MAX_GROUP 256

/* One sibling: the layer, and the activation merged along with it (-1 if none). */
typedef struct hz_member {
    int node;
    int act;
} hz_member;

/* ---- eligibility -------------------------------------------------------------------- */

/* A constant read at build time: an initializer (constant folding has turned computed
 * constants into initializers by the time this pass runs). */
static bool hz_is_constant(const lucid_graph *g, int t)
{
    return t >= 0 && g->tensors[t].is_initializer && g->tensors[t].data &&
           g->tensors[t].producer < 0 && lucid_tensor_shape_known(&g->tensors[t]);
}

static bool hz_is_activation(int op)
{
    switch (op) {
    case LUCID_OP_RELU:
    case LUCID_OP_CLIP:
    case LUCID_OP_LEAKY_RELU:
    case LUCID_OP_SIGMOID:
    case LUCID_OP_HARD_SIGMOID:
    case LUCID_OP_HARD_SWISH:
    case LUCID_OP_TANH: return true;
    default: return false;
    }
}

static bool hz_attr_equal(const lucid_attr *a, const lucid_attr *b)
{
    if (a->type != b->type || strcmp(a->name, b->name) != 0) return false;
    switch (a->type) {
    case LUCID_ATTR_INT: return a->i == b->i;
    case LUCID_ATTR_FLOAT: return memcmp(&a->f, &b->f, sizeof a->f) == 0;
    case LUCID_ATTR_STRING: return strcmp(a->s, b->s) == 0;
    case LUCID_ATTR_INTS:
        return a->count == b->count && memcmp(a->ints, b->ints, a->count * sizeof *a->ints) == 0;
    case LUCID_ATTR_FLOATS:
        return a->count == b->count &&
               memcmp(a->floats, b->floats, a->count * sizeof *a->floats) == 0;
    case LUCID_ATTR_STRINGS:
        if (a->count != b->count) return false;
        for (size_t i = 0; i < a->count; i++)
            if (strcmp(a->strings[i], b->strings[i]) != 0) return false;
        return true;
    default: return false; /* tensors and graphs: never compared equal, so never merged */
    }
}

/* Every attribute of a is in b with the same value and vice versa. */
static bool hz_attrs_equal(const lucid_node *a, const lucid_node *b)
{
    if (a->n_attrs != b->n_attrs) return false;
    for (int i = 0; i < a->n_attrs; i++) {
        const lucid_attr *other = lucid_node_attr(b, a->attrs[i].name);
        if (!other || !hz_attr_equal(&a->attrs[i], other)) return false;
    }
    return true;
}

/* Two constant tensors with the same dtype, shape and bytes. */
static bool hz_same_constant(const lucid_graph *g, int a, int b)
{
    if (a == b) return true;
    if (a < 0 || b < 0 || !hz_is_constant(g, a) || !hz_is_constant(g, b)) return false;
    const lucid_ir_tensor *x = &g->tensors[a], *y = &g->tensors[b];
    return x->dtype == y->dtype && x->rank == y->rank &&
           memcmp(x->dims, y->dims, sizeof(int64_t) * (size_t)x->rank) == 0 &&
           x->nbytes == y->nbytes && memcmp(x->data, y->data, x->nbytes) == 0;
}

/* Two activations computing the same function of their first input. */
static bool hz_same_activation(const lucid_graph *g, int a, int b)
{
    if (a < 0 || b < 0) return a == b;
    const lucid_node *x = &g->nodes[a], *y = &g->nodes[b];
    if (x->op != y->op || x->opset != y->opset || x->n_inputs != y->n_inputs ||
        !hz_attrs_equal(x, y))
        return false;
    for (int k = 1; k < x->n_inputs; k++) /* Clip's min and max */
        if (!hz_same_constant(g, x->inputs[k], y->inputs[k])) return false;
    return true;
}

/* Conv geometry with ONNX defaults filled in, so that an absent attribute equals its default. */
typedef struct hz_conv_geom {
    int nsp;
    lucid_auto_pad auto_pad;
    int64_t kernel[LUCID_MAX_RANK], strides[LUCID_MAX_RANK], dilations[LUCID_MAX_RANK];
    int64_t pads[2 * LUCID_MAX_RANK];
} hz_conv_geom;

/* Fills the geometry of Conv n (weights w); false for forms this pass leaves alone: grouped
 * convolutions and attributes it does not know (which could change what the node computes). */
static bool hz_conv_geometry(const lucid_graph *g, const lucid_node *n, const lucid_ir_tensor *w,
                             hz_conv_geom *geo)
{
    static const char *const known[] = {"auto_pad", "dilations", "group",
                                        "kernel_shape", "pads", "strides"};
    for (int i = 0; i < n->n_attrs; i++) {
        bool ok = false;
        for (size_t k = 0; k < LUCID_ARRAY_LEN(known); k++)
            ok = ok || strcmp(n->attrs[i].name, known[k]) == 0;
        if (!ok) return false;
    }
    const lucid_conv_params *p = n->params;
    if (!p || p->group != 1 || w->rank < 3) return false;
    (void)g;
    memset(geo, 0, sizeof *geo);
    geo->nsp = w->rank - 2;
    const int nsp = geo->nsp;
    geo->auto_pad = p->auto_pad;
    /* shape inference checked kernel_shape, when present, against the weights */
    for (int i = 0; i < nsp; i++) {
        geo->kernel[i] = w->dims[2 + i];
        geo->strides[i] = p->n_strides ? p->strides[i] : 1;
        geo->dilations[i] = p->n_dilations ? p->dilations[i] : 1;
        geo->pads[i] = p->n_pads ? p->pads[i] : 0;
        geo->pads[nsp + i] = p->n_pads ? p->pads[nsp + i] : 0;
    }
    return true;
}

/* The tensor a sibling hands on to its consumers: its activation's output when one is merged
 * along, else its own. */
static int hz_member_output(const lucid_graph *g, const hz_member *m)
{
    return m->act >= 0 ? g->nodes[m->act].outputs[0] : g->nodes[m->node].outputs[0];
}

/* Decides whether node c (reading x as its first input) can be merged with siblings, and
 * which activation would go along. Returns NULL if it can, else why not (for the log). */
static const char *hz_candidate(const lucid_graph *g, int c, int x, hz_member *m)
{
    const lucid_node *n = &g->nodes[c];
    m->node = c;
    m->act = -1;
    if (n->dead || n->elided || n->n_inputs < 2 || n->inputs[0] != x || n->n_outputs != 1)
        return "not a plain layer";
    if (n->op != LUCID_OP_CONV && n->op != LUCID_OP_GEMM && n->op != LUCID_OP_MATMUL)
        return "not a Conv, Gemm or MatMul";
    if (strcmp(n->domain, "") != 0 && strcmp(n->domain, "ai.onnx") != 0)
        return "not a default-domain op";
    if (n->opset < 2) return "opset 1 has no Split lucid runs";
    if (n->inputs[1] == x) return "reads the shared tensor as its weights";
    if (!hz_is_constant(g, n->inputs[1])) return "weights are not constant";
    if (n->n_inputs > 2 && n->inputs[2] >= 0 && !hz_is_constant(g, n->inputs[2]))
        return "bias is not constant";
    const lucid_ir_tensor *w = &g->tensors[n->inputs[1]];
    if (w->dtype != g->tensors[x].dtype) return "weights and input differ in dtype";
    if (n->n_inputs > 2 && n->inputs[2] >= 0 && g->tensors[n->inputs[2]].dtype != w->dtype)
        return "bias and weights differ in dtype";
    if (n->op == LUCID_OP_CONV) {
        hz_conv_geom geo;
        if (!hz_conv_geometry(g, n, w, &geo)) return "grouped or unusual convolution";
        if (n->n_inputs > 2 && n->inputs[2] >= 0 &&
            (g->tensors[n->inputs[2]].rank != 1 || g->tensors[n->inputs[2]].dims[0] != w->dims[0]))
            return "bias is not one value per output channel";
    } else if (n->op == LUCID_OP_GEMM) {
        if (n->opset < 7) return "Gemm before opset 7 (legacy broadcast)";
        if (w->rank != 2) return "weights are not a matrix";
        for (int i = 0; i < n->n_attrs; i++) {
            const char *an = n->attrs[i].name;
            if (strcmp(an, "alpha") && strcmp(an, "beta") && strcmp(an, "transA") &&
                strcmp(an, "transB"))
                return "unusual Gemm attribute";
        }
        if (n->n_inputs > 2 && n->inputs[2] >= 0) {
            /* C must be one value per output column (or one in all) to split along N */
            const lucid_ir_tensor *ct = &g->tensors[n->inputs[2]];
            int64_t numel = lucid_tensor_numel(ct);
            const lucid_attr *tb = lucid_node_attr(n, "transB");
            int64_t cols = tb && tb->type == LUCID_ATTR_INT && tb->i ? w->dims[0] : w->dims[1];
            bool row = (ct->rank == 1 || (ct->rank == 2 && ct->dims[0] == 1)) &&
                       ct->dims[ct->rank - 1] == cols;
            if (numel != 1 && !row) return "Gemm C is not per output column";
        }
    } else {
        const lucid_ir_tensor *a = &g->tensors[x];
        if (w->rank != 2) return "weights are not a matrix";
        if (a->rank < 2) return "input is not at least 2-D";
    }
    int y = n->outputs[0];
    if (y < 0) return "no output";
    if (g->tensors[y].is_output) return "its output is a graph output";
    const lucid_ir_tensor *yt = &g->tensors[y];
    for (int k = 0; k < yt->n_consumers; k++) {
        const lucid_node *u = &g->nodes[yt->consumers[k]];
        /* a residual Add or a SiLU Mul is fused into this layer by vertical fusion, which
         * saves more than merging it with its siblings would */
        if (!u->dead && (u->op == LUCID_OP_ADD || u->op == LUCID_OP_SUM || u->op == LUCID_OP_MUL))
            return "its output feeds an Add or Mul that vertical fusion takes";
    }
    if (yt->n_consumers == 1 && !yt->is_output) {
        int a = yt->consumers[0];
        const lucid_node *u = &g->nodes[a];
        if (!u->dead && !u->elided && hz_is_activation(u->op) && u->n_inputs >= 1 &&
            u->inputs[0] == y && u->n_outputs == 1 && u->outputs[0] >= 0)
            m->act = a;
    }
    return NULL;
}

/* Can b join a group led by a (same op, geometry, weight shape apart from the output width,
 * attributes and activation)? */
static bool hz_compatible(const lucid_graph *g, const hz_member *a, const hz_member *b)
{
    const lucid_node *x = &g->nodes[a->node], *y = &g->nodes[b->node];
    if (x->op != y->op || x->opset != y->opset) return false;
    if (!hz_same_activation(g, a->act, b->act)) return false;
    const lucid_ir_tensor *wx = &g->tensors[x->inputs[1]], *wy = &g->tensors[y->inputs[1]];
    if (wx->dtype != wy->dtype || wx->rank != wy->rank) return false;
    if (x->op == LUCID_OP_CONV) {
        hz_conv_geom gx, gy;
        if (!hz_conv_geometry(g, x, wx, &gx) || !hz_conv_geometry(g, y, wy, &gy)) return false;
        if (memcmp(&gx, &gy, sizeof gx) != 0) return false;
        return memcmp(wx->dims + 1, wy->dims + 1, sizeof(int64_t) * (size_t)(wx->rank - 1)) == 0;
    }
    if (x->op == LUCID_OP_GEMM) {
        /* alpha, beta, transA, transB all equal (absent ones equal only absent ones, which is
         * stricter than needed and keeps the comparison exact) */
        if (!hz_attrs_equal(x, y)) return false;
        const lucid_attr *tb = lucid_node_attr(x, "transB");
        bool trans_b = tb && tb->type == LUCID_ATTR_INT && tb->i;
        return trans_b ? wx->dims[1] == wy->dims[1] : wx->dims[0] == wy->dims[0];
    }
    return x->n_attrs == 0 && y->n_attrs == 0 && wx->dims[0] == wy->dims[0];
}

/* ---- rewriting ---------------------------------------------------------------------- */

/* Names of the group's layers (acts false) or activations (acts true) joined with sep. */
static char *hz_join(const lucid_graph *g, const hz_member *m, int count, bool acts,
                     const char *sep)
{
    size_t len = 1;
    for (int i = 0; i < count; i++)
        len += strlen(g->nodes[acts ? m[i].act : m[i].node].name) + strlen(sep);
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = '\0';
    for (int i = 0; i < count; i++) {
        if (i) strcat(s, sep);
        strcat(s, g->nodes[acts ? m[i].act : m[i].node].name);
    }
    return s;
}

/* Output columns of a sibling: its weights' output-channel (Conv) or N (Gemm/MatMul) size. */
static int64_t hz_width(const lucid_graph *g, const lucid_node *n)
{
    const lucid_ir_tensor *w = &g->tensors[n->inputs[1]];
    if (n->op == LUCID_OP_CONV) return w->dims[0];
    if (n->op == LUCID_OP_GEMM) {
        const lucid_attr *tb = lucid_node_attr(n, "transB");
        return tb && tb->type == LUCID_ATTR_INT && tb->i ? w->dims[0] : w->dims[1];
    }
    return w->dims[1];
}

/* The merged weights: concatenated along the output channels (Conv, Gemm with transB: the
 * leading axis) or along N (Gemm, MatMul: the trailing axis of a K x N matrix). */
static int hz_merge_weights(lucid_graph *g, const hz_member *m, int count, int64_t total,
                            lucid_error *err)
{
    const lucid_node *n0 = &g->nodes[m[0].node];
    const lucid_ir_tensor *w0 = &g->tensors[n0->inputs[1]];
    size_t esz = lucid_dtype_size(w0->dtype);
    int64_t dims[LUCID_MAX_RANK];
    memcpy(dims, w0->dims, sizeof dims);
    const lucid_attr *tb = lucid_node_attr(n0, "transB");
    bool leading = n0->op == LUCID_OP_CONV ||
                   (n0->op == LUCID_OP_GEMM && tb && tb->type == LUCID_ATTR_INT && tb->i);
    int axis = leading ? 0 : 1;
    dims[axis] = total;
    size_t nbytes = 0;
    for (int i = 0; i < count; i++) nbytes += g->tensors[g->nodes[m[i].node].inputs[1]].nbytes;
    unsigned char *data = malloc(nbytes ? nbytes : 1);
    if (!data) {
        lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory merging weights");
        return -1;
    }
    if (leading) {
        size_t at = 0;
        for (int i = 0; i < count; i++) {
            const lucid_ir_tensor *w = &g->tensors[g->nodes[m[i].node].inputs[1]];
            memcpy(data + at, w->data, w->nbytes);
            at += w->nbytes;
        }
    } else {
        /* K rows of total columns: each sibling's row slice goes side by side */
        int64_t rows = w0->dims[0], col = 0;
        for (int i = 0; i < count; i++) {
            const lucid_ir_tensor *w = &g->tensors[g->nodes[m[i].node].inputs[1]];
            size_t width = (size_t)w->dims[1] * esz;
            for (int64_t r = 0; r < rows; r++)
                memcpy(data + ((size_t)r * (size_t)total + (size_t)col) * esz,
                       (const unsigned char *)w->data + (size_t)r * width, width);
            col += w->dims[1];
        }
    }
    char base[LUCID_MAX_NAME];
    snprintf(base, sizeof base, "%s_merged", w0->name);
    return lucid_graph_add_constant(g, base, w0->dtype, w0->rank, dims, data, nbytes, err);
}

/* The merged bias (Conv B, Gemm C): each sibling's values, zeros where it has none, a single
 * Gemm C value repeated over its columns. -2 when no sibling has one. */
static int hz_merge_bias(lucid_graph *g, const hz_member *m, int count, int64_t total,
                         lucid_error *err)
{
    bool any = false;
    for (int i = 0; i < count; i++) {
        const lucid_node *n = &g->nodes[m[i].node];
        any = any || (n->n_inputs > 2 && n->inputs[2] >= 0);
    }
    if (!any) return -2;
    const lucid_ir_tensor *w0 = &g->tensors[g->nodes[m[0].node].inputs[1]];
    size_t esz = lucid_dtype_size(w0->dtype);
    unsigned char *data = calloc((size_t)total ? (size_t)total : 1, esz);
    if (!data) {
        lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory merging biases");
        return -1;
    }
    const char *base_name = NULL;
    size_t at = 0;
    for (int i = 0; i < count; i++) {
        const lucid_node *n = &g->nodes[m[i].node];
        size_t width = (size_t)hz_width(g, n);
        if (n->n_inputs > 2 && n->inputs[2] >= 0) {
            const lucid_ir_tensor *b = &g->tensors[n->inputs[2]];
            if (!base_name) base_name = b->name;
            if (lucid_tensor_numel(b) == 1 && width != 1)
                for (size_t k = 0; k < width; k++)
                    memcpy(data + (at + k) * esz, b->data, esz);
            else
                memcpy(data + at * esz, b->data, width * esz);
        }
        at += width;
    }
    char base[LUCID_MAX_NAME];
    snprintf(base, sizeof base, "%s_merged", base_name);
    int64_t dims[1] = {total};
    return lucid_graph_add_constant(g, base, w0->dtype, 1, dims, data, (size_t)total * esz, err);
}

static lucid_status hz_merge(lucid_pass_ctx *ctx, lucid_graph *g, int x, const hz_member *m,
                             int count, lucid_error *err)
{
    lucid_status st = LUCID_STATUS_OK;
    char *layer = NULL, *act_name = NULL, *nodes = NULL, *acts = NULL;
    int64_t widths[HZ_MAX_GROUP], total = 0;
    int outs[HZ_MAX_GROUP];
    for (int i = 0; i < count; i++) {
        widths[i] = hz_width(g, &g->nodes[m[i].node]);
        total += widths[i];
        outs[i] = hz_member_output(g, &m[i]);
    }
    bool with_act = m[0].act >= 0;
    int split_axis = 1;
    if (g->nodes[m[0].node].op == LUCID_OP_MATMUL) split_axis = g->tensors[x].rank - 1;
    int opset = g->nodes[m[0].node].opset;

    layer = hz_join(g, m, count, false, " + ");
    nodes = hz_join(g, m, count, false, ",");
    if (with_act) {
        act_name = hz_join(g, m, count, true, " + ");
        acts = hz_join(g, m, count, true, ",");
    }
    if (!layer || !nodes || (with_act && (!act_name || !acts))) goto oom;

    int w = hz_merge_weights(g, m, count, total, err);
    if (w < 0) {
        st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
        goto done;
    }
    int b = hz_merge_bias(g, m, count, total, err);
    if (b == -1) {
        st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
        goto done;
    }
    char base[LUCID_MAX_NAME + 16];
    snprintf(base, sizeof base, "%s_merged", g->tensors[g->nodes[m[0].node].outputs[0]].name);
    int y = lucid_graph_new_tensor(g, base, err);
    int z = y;
    if (y >= 0 && with_act) {
        snprintf(base, sizeof base, "%s_merged", g->tensors[outs[0]].name);
        z = lucid_graph_new_tensor(g, base, err);
    }
    int sizes = -1;
    if (z >= 0 && opset >= 13) {
        int64_t *v = malloc(sizeof(int64_t) * (size_t)count);
        if (!v) goto oom;
        memcpy(v, widths, sizeof(int64_t) * (size_t)count);
        int64_t dims[1] = {count};
        snprintf(base, sizeof base, "%s_split", g->tensors[z].name);
        sizes = lucid_graph_add_constant(g, base, LUCID_DTYPE_INT64, 1, dims, v,
                                         sizeof(int64_t) * (size_t)count, err);
    }
    if (y < 0 || z < 0 || (opset >= 13 && sizes < 0)) {
        st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
        goto done;
    }

    /* the first sibling becomes the merged layer; its node keeps its parsed attributes, which
     * every sibling shares */
    lucid_node *n0 = &g->nodes[m[0].node];
    if (b >= 0 && n0->n_inputs < 3) {
        int *ins = realloc(n0->inputs, sizeof(int) * 3);
        if (!ins) goto oom;
        n0->inputs = ins;
        n0->inputs[2] = -1;
        n0->n_inputs = 3;
    }
    n0->inputs[1] = w;
    if (b >= 0) n0->inputs[2] = b;
    n0->outputs[0] = y;
    free(n0->name);
    n0->name = layer;
    layer = NULL;
    if (with_act) {
        lucid_node *a0 = &g->nodes[m[0].act];
        a0->inputs[0] = y;
        a0->outputs[0] = z;
        free(a0->name);
        a0->name = act_name;
        act_name = NULL;
    }
    for (int i = 1; i < count; i++) {
        lucid_node_kill(&g->nodes[m[i].node]);
        if (with_act) lucid_node_kill(&g->nodes[m[i].act]);
    }

    /* the Split gives every consumer back the tensor it read */
    int split_in[2] = {z, sizes};
    char split_name[LUCID_MAX_NAME + 16];
    snprintf(split_name, sizeof split_name, "%s (split)", g->nodes[m[0].node].name);
    int s = lucid_graph_add_node(g, split_name, "Split", "", opset, split_in, opset >= 13 ? 2 : 1,
                                 outs, count, err);
    if (s < 0) {
        st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
        goto done;
    }
    lucid_attr axis = {.type = LUCID_ATTR_INT, .i = split_axis};
    axis.name = lucid_strdup("axis");
    if (!axis.name) goto oom;
    st = lucid_node_add_attr(&g->nodes[s], &axis, err);
    if (st) {
        lucid_attr_free(&axis);
        goto done;
    }
    if (opset < 13) {
        lucid_attr split = {.type = LUCID_ATTR_INTS, .count = (size_t)count};
        split.name = lucid_strdup("split");
        split.ints = malloc(sizeof(int64_t) * (size_t)count);
        if (!split.name || !split.ints) {
            lucid_attr_free(&split);
            goto oom;
        }
        memcpy(split.ints, widths, sizeof(int64_t) * (size_t)count);
        st = lucid_node_add_attr(&g->nodes[s], &split, err);
        if (st) {
            lucid_attr_free(&split);
            goto done;
        }
    }
    st = lucid_node_set_op(g, &g->nodes[s], LUCID_OP_SPLIT, opset, err);
    if (st) goto done;

    char widths_text[256] = "";
    for (int i = 0; i < count; i++) {
        size_t len = strlen(widths_text);
        snprintf(widths_text + len, sizeof widths_text - len, "%s%lld", i ? "+" : "",
                 (long long)widths[i]);
    }
    const lucid_node *merged = &g->nodes[m[0].node];
    if (with_act) {
        const lucid_node *a0 = &g->nodes[m[0].act];
        /* the log's node list names every original node: the layers, then their activations */
        size_t len = strlen(nodes) + strlen(acts) + 2;
        char *all = malloc(len);
        if (!all) goto oom;
        snprintf(all, len, "%s,%s", nodes, acts);
        lucid_pass_rewrite(ctx, all, merged->name,
                           "%d sibling %s layers reading '%s' merged into one of %s = %lld "
                           "outputs, one %s '%s' after it, a Split on axis %d gives the "
                           "original tensors back",
                           count, merged->op_type, g->tensors[x].name, widths_text,
                           (long long)total, a0->op_type, a0->name, split_axis);
        free(all);
    } else {
        lucid_pass_rewrite(ctx, nodes, merged->name,
                           "%d sibling %s layers reading '%s' merged into one of %s = %lld "
                           "outputs, a Split on axis %d gives the original tensors back",
                           count, merged->op_type, g->tensors[x].name, widths_text,
                           (long long)total, split_axis);
    }
    goto done;
oom:
    st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory merging siblings");
done:
    free(layer);
    free(act_name);
    free(nodes);
    free(acts);
    return st;
}

static lucid_status horizontal_fusion_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    int n_tensors = g->n_tensors; /* tensors added by merges are never shared inputs */
    lucid_status st = LUCID_STATUS_OK;
    hz_member *cand = NULL, *group = NULL;
    bool *taken = NULL;
    for (int x = 0; x < n_tensors && !st; x++) {
        /* consumers are copied: merging adds tensors and nodes, which moves both arrays */
        int nc = g->tensors[x].n_consumers;
        if (nc < 2 || g->tensors[x].data) continue;
        free(cand);
        free(group);
        free(taken);
        cand = malloc(sizeof *cand * (size_t)nc);
        group = malloc(sizeof *group * (size_t)nc);
        taken = calloc((size_t)nc, sizeof *taken);
        if (!cand || !group || !taken) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            break;
        }
        int n_cand = 0, n_kind = 0;
        const char *left_out = NULL;
        int left_out_node = -1;
        for (int k = 0; k < nc; k++) {
            hz_member m;
            int c = g->tensors[x].consumers[k];
            const lucid_node *u = &g->nodes[c];
            if (u->op == LUCID_OP_CONV || u->op == LUCID_OP_GEMM || u->op == LUCID_OP_MATMUL)
                n_kind++;
            const char *why = hz_candidate(g, c, x, &m);
            if (!why)
                cand[n_cand++] = m;
            else if (strcmp(why, "its output is a graph output") == 0) {
                left_out = why;
                left_out_node = c;
            }
        }
        if (left_out && n_kind >= 2 && n_cand >= 1)
            lucid_pass_refuse(ctx, g->nodes[left_out_node].name,
                              "not merged with its siblings reading '%s': %s", g->tensors[x].name,
                              left_out);
        for (int i = 0; i < n_cand && !st; i++) {
            if (taken[i]) continue;
            int count = 0;
            group[count++] = cand[i];
            taken[i] = true;
            for (int j = i + 1; j < n_cand && count < HZ_MAX_GROUP; j++)
                if (!taken[j] && hz_compatible(g, &cand[i], &cand[j])) {
                    group[count++] = cand[j];
                    taken[j] = true;
                }
            if (count >= 2) st = hz_merge(ctx, g, x, group, count, err);
        }
    }
    free(cand);
    free(group);
    free(taken);
    return st;
}

const lucid_pass_def lucid_pass_horizontal_fusion = {
    .name = "horizontal_fusion",
    .level = LUCID_PASS_FUSION,
    .summary = "merge sibling Conv/Gemm/MatMul layers reading the same tensor into one, "
               "outputs split",
    .run = horizontal_fusion_run,
};
