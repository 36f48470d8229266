/* split_views.c - Split as views: when every dimension before the split axis is 1, each
 * output is one contiguous run of the input's bytes, so it becomes a view at its offset and
 * the node is elided. This is what makes horizontally merged layers cost no copy: the merged
 * convolution writes one tensor and each branch reads its slice of it. The safety argument is
 * reshape_views.c's: every tensor is written once, by its producer, before it is read. */
#include "ops/op.h"
#include "passes/pass.h"

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
    const lucid_ir_tensor *s = &g->tensors[lucid_tensor_storage(g, n->inputs[0], NULL)];
    if (s->is_input) return "its input lives in a graph input";
    if (s->is_initializer || s->data || s->producer < 0) return "its input lives in a constant";
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

static lucid_status split_views_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    (void)err;
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        if (n->dead || n->elided || n->op != LUCID_OP_SPLIT || n->inputs[0] < 0) continue;
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
    .summary = "make Split outputs views into their input when the slices are contiguous",
    .run = split_views_run,
};
