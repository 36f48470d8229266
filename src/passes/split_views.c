/* split_views.c - Split and Slice as views: when every dimension before the cut is 1, each
 * output is one contiguous run of the input's bytes, so it becomes a view at its offset and
 * the node is elided. This is what makes horizontally merged layers cost no copy (the merged
 * convolution writes one tensor and each branch reads its slice of it), and ShuffleNet's
 * channel halves. The safety argument is reshape_views.c's: every tensor is written once, by
 * its producer, before it is read. */
#include "ops/movement.h"
#include "ops/op.h"
#include "passes/pass.h"

static const char *storage_refusal(const lucid_graph *g, int t);

/* Why n cannot become views, or "" when it can. */
static const char *refusal(const lucid_graph *g, const lucid_node *n, int *axis_out)
{
    const lucid_ir_tensor *x = &g->tensors[n->inputs[0]];
    if (!lucid_tensor_shape_known(x) || x->data) return "its input is a constant";
    int64_t axis;
    if (lucid_attr_int(n, "axis", 0, &axis, NULL)) return "its axis attribute is malformed";
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis >= x->rank) return "its axis is out of range";
    for (int d = 0; d < axis; d++)
        if (x->dims[d] != 1) return "a dimension before the split axis is not 1 (not contiguous)";
    const char *storage = storage_refusal(g, n->inputs[0]);
    if (storage[0]) return storage;
    for (int k = 0; k < n->n_outputs; k++) {
        if (n->outputs[k] < 0) return "an output is omitted";
        const lucid_ir_tensor *y = &g->tensors[n->outputs[k]];
        if (y->is_output) return "an output is a graph output (kept a copy of its own)";
        if (y->view_of >= 0) return "an output is already a view";
        if (!lucid_tensor_shape_known(y) || y->dtype != x->dtype) return "an output's shape is unknown";
    }
    *axis_out = (int)axis;
    return "";
}

/* The byte offset of a Slice's output in its input when the output is one contiguous run of
 * the input (all dims before the sliced one are 1, the sliced one has step 1, the ones after it
 * are whole); -1 otherwise, with the reason. */
static int64_t slice_offset(const lucid_graph *g, const lucid_node *n, const char **why)
{
    const lucid_ir_tensor *x = &g->tensors[n->inputs[0]], *y = &g->tensors[n->outputs[0]];
    const lucid_slice_params *p = n->params;
    *why = "";
    if (!p || !lucid_tensor_shape_known(x) || !lucid_tensor_shape_known(y) || x->rank != y->rank) {
        *why = "shapes are not known";
        return -1;
    }
    int cut = -1;
    for (int d = 0; d < x->rank; d++)
        if (y->dims[d] != x->dims[d] || p->start[d] != 0) {
            cut = d;
            break;
        }
    if (cut < 0) cut = 0;
    for (int d = 0; d < cut; d++)
        if (x->dims[d] != 1) {
            *why = "a dimension before the cut is not 1 (not contiguous)";
            return -1;
        }
    if (y->dims[cut] > 1 && p->step[cut] != 1) {
        *why = "the cut has a step other than 1";
        return -1;
    }
    int64_t inner = 1;
    for (int d = cut + 1; d < x->rank; d++) {
        if (y->dims[d] != x->dims[d] || p->start[d] != 0 ||
            (x->dims[d] > 1 && p->step[d] != 1)) {
            *why = "more than one dimension is cut";
            return -1;
        }
        inner *= x->dims[d];
    }
    return p->start[cut] * inner * (int64_t)lucid_dtype_size(x->dtype);
}

/* Why a node-produced tensor t cannot be the storage of views, or "". */
static const char *storage_refusal(const lucid_graph *g, int t)
{
    const lucid_ir_tensor *s = &g->tensors[lucid_tensor_storage(g, t, NULL)];
    if (s->is_input) return "its input lives in a graph input";
    if (s->is_initializer || s->data || s->producer < 0) return "its input lives in a constant";
    return "";
}

static void slice_view(lucid_pass_ctx *ctx, lucid_graph *g, lucid_node *n)
{
    const lucid_ir_tensor *x = &g->tensors[n->inputs[0]];
    lucid_ir_tensor *y = &g->tensors[n->outputs[0]];
    const char *why;
    if (x->data || y->data) return; /* constants: computed at build time */
    int64_t offset = slice_offset(g, n, &why);
    if (!why[0]) why = storage_refusal(g, n->inputs[0]);
    if (!why[0] && y->is_output) why = "its output is a graph output (kept a copy of its own)";
    if (!why[0] && y->view_of >= 0) why = "its output is already a view";
    if (why[0]) {
        lucid_pass_refuse(ctx, n->name, "not a view: %s", why);
        return;
    }
    y->view_of = n->inputs[0];
    y->view_offset = (size_t)offset;
    n->elided = true;
    lucid_pass_rewrite(ctx, n->name, n->name,
                       "elided: '%s' is a view into '%s' at byte %lld (%zu bytes not copied)",
                       y->name, x->name, (long long)offset, lucid_tensor_nbytes(y));
}

static lucid_status split_views_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    (void)err;
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        if (n->dead || n->elided || n->inputs[0] < 0) continue;
        if (n->op == LUCID_OP_SLICE) {
            slice_view(ctx, g, n);
            continue;
        }
        if (n->op != LUCID_OP_SPLIT) continue;
        int axis = 0;
        const char *why = refusal(g, n, &axis);
        if (why[0]) {
            lucid_pass_refuse(ctx, n->name, "not views: %s", why);
            continue;
        }
        size_t offset = 0;
        for (int k = 0; k < n->n_outputs; k++) {
            lucid_ir_tensor *y = &g->tensors[n->outputs[k]];
            y->view_of = n->inputs[0];
            y->view_offset = offset;
            offset += lucid_tensor_nbytes(y);
        }
        n->elided = true;
        lucid_pass_rewrite(ctx, n->name, n->name,
                           "elided: its %d outputs are views into '%s' (%zu bytes not copied)",
                           n->n_outputs, g->tensors[n->inputs[0]].name, offset);
    }
    return LUCID_STATUS_OK;
}

const lucid_pass_def lucid_pass_split_views = {
    .name = "split_views",
    .level = LUCID_PASS_MEMORY,
    .summary = "make Split and Slice outputs views into their input when contiguous",
    .run = split_views_run,
};
