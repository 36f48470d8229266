/* noop_removal.c - removes nodes that copy their input unchanged: Identity, inference Dropout,
 * same-dtype Cast, shape-preserving Reshape/Flatten/Squeeze/Unsqueeze, identity Transpose,
 * zero Pad, whole-tensor Slice, single-input Concat, same-shape Expand and Tile. */
#include "ops/op.h"
#include "passes/bypass.h"
#include "passes/pass.h"

static bool same_layout(const lucid_ir_tensor *x, const lucid_ir_tensor *y)
{
    if (!lucid_tensor_shape_known(x) || !lucid_tensor_shape_known(y)) return false;
    if (x->dtype != y->dtype || x->dtype == LUCID_DTYPE_UNDEFINED || x->rank != y->rank)
        return false;
    for (int i = 0; i < x->rank; i++)
        if (x->dims[i] != y->dims[i]) return false;
    return true;
}

/* Every value of a constant integer tensor (or attribute) satisfies pred. */
static bool all_ints(const lucid_node *n, const lucid_ir_tensor *t, bool (*pred)(int64_t))
{
    if (!t || !t->data) return false;
    int64_t v[2 * LUCID_MAX_RANK];
    size_t count;
    lucid_error err;
    if (lucid_op_read_ints(n, t, v, 2 * LUCID_MAX_RANK, &count, &err)) return false;
    for (size_t i = 0; i < count; i++)
        if (!pred(v[i])) return false;
    return true;
}

static bool is_zero(int64_t v)
{
    return v == 0;
}

static bool is_positive(int64_t v)
{
    return v > 0;
}

/* A Transpose with equal input and output shapes moves no byte when the axes longer than 1
 * keep their order (moving axes of length 1 changes nothing in memory). */
static bool transpose_keeps_bytes(const lucid_graph *g, const lucid_node *n)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    const int64_t *perm;
    size_t count;
    lucid_error err;
    if (lucid_attr_ints(n, "perm", &perm, &count, &err)) return false;
    int r = x->rank, p[LUCID_MAX_RANK];
    if (count == 0) {
        for (int i = 0; i < r; i++)
            p[i] = r - 1 - i; /* the default reverses the axes */
    } else {
        if (count != (size_t)r) return false;
        for (int i = 0; i < r; i++)
            p[i] = (int)perm[i];
    }
    int last = -1;
    for (int i = 0; i < r; i++) {
        if (p[i] < 0 || p[i] >= r) return false;
        if (x->dims[p[i]] == 1) continue;
        if (p[i] < last) return false;
        last = p[i];
    }
    return true;
}

/* Is n a copy of its first input? Sets *what to a short description. */
static bool is_noop(const lucid_graph *g, const lucid_node *n, const char **what)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if (!x || !y) return false;
    bool same = same_layout(x, y);
    switch (n->op) {
    case LUCID_OP_IDENTITY:
        *what = "Identity";
        return true;
    case LUCID_OP_REORDER:
        /* a plan's layout conversion: in a graph every tensor is logical, so it copies */
        *what = "Reorder (a plan's layout conversion)";
        return true;
    case LUCID_OP_DROPOUT:
        /* inference Dropout (training mode is refused at inference) copies its input; the
         * optional mask must be unused */
        *what = "Dropout at inference";
        return same &&
               (n->n_outputs < 2 || n->outputs[1] < 0 || lucid_tensor_uses(g, n->outputs[1]) == 0);
    case LUCID_OP_CAST:
        *what = "Cast to the same dtype";
        return same;
    case LUCID_OP_RESHAPE:
    case LUCID_OP_FLATTEN:
    case LUCID_OP_SQUEEZE:
    case LUCID_OP_UNSQUEEZE:
        *what = "shape unchanged";
        return same;
    case LUCID_OP_TRANSPOSE:
        *what = "identity permutation";
        return same && transpose_keeps_bytes(g, n);
    case LUCID_OP_PAD: {
        /* equal shapes are not enough: pads (1, -1) shift the data */
        *what = "all pads zero";
        if (!same) return false;
        if (n->opset < 11) {
            const int64_t *pads;
            size_t count;
            lucid_error err;
            if (lucid_attr_ints(n, "pads", &pads, &count, &err)) return false;
            for (size_t i = 0; i < count; i++)
                if (pads[i] != 0) return false;
            return true;
        }
        return all_ints(n, lucid_op_input(g, n, 1), is_zero);
    }
    case LUCID_OP_SLICE:
        /* with positive steps, selecting as many elements as the axis has means start 0 and
         * step 1 (or a length-1 axis); a negative step of the same length reverses */
        *what = "slice of the whole tensor";
        if (!same) return false;
        if (n->opset < 10 || !lucid_op_input(g, n, 4)) return true;
        return all_ints(n, lucid_op_input(g, n, 4), is_positive);
    case LUCID_OP_CONCAT:
        *what = "Concat of one input";
        return n->n_inputs == 1 && same;
    case LUCID_OP_EXPAND:
        *what = "Expand to the same shape";
        return same;
    case LUCID_OP_TILE:
        *what = "Tile by ones";
        return same;
    default:
        return false;
    }
}

static lucid_status noop_removal_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    (void)err;
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        const char *what = "";
        if (n->dead || n->elided || n->n_inputs < 1 || n->inputs[0] < 0 || !is_noop(g, n, &what))
            continue;
        const char *why = "";
        int in = n->inputs[0], out = n->outputs[0];
        bool renamed = g->tensors[out].is_output;
        if (lucid_pass_bypass(g, i, in, out, &why)) {
            if (renamed)
                lucid_pass_rewrite(ctx, n->name, "", "removed (%s); '%s' now written by %s", what,
                                   g->tensors[out].name, g->nodes[g->tensors[out].producer].name);
            else
                lucid_pass_rewrite(ctx, n->name, "", "removed (%s)", what);
        } else {
            lucid_pass_refuse(ctx, n->name, "kept although a no-op (%s): %s", what, why);
        }
    }
    return LUCID_STATUS_OK;
}

const lucid_pass_def lucid_pass_noop_removal = {
    .name = "noop_removal",
    .level = LUCID_PASS_BASIC,
    .summary = "remove Identity, inference Dropout, and Cast/Reshape/Transpose/Pad/Slice/Concat/"
               "Expand nodes that copy their input unchanged",
    .run = noop_removal_run,
};
