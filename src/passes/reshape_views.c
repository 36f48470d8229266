/* reshape_views.c - Reshape, Flatten, Squeeze, Unsqueeze and Identity as views: their output
 * is their input's bytes under another shape, so it becomes a view of the input and the node
 * is elided (nothing is copied).
 *
 * Why this is safe: a view shares its storage, so it is only correct if nobody writes either
 * tensor after the other is read. Every executor writes a tensor once, by its producer, before
 * any reader runs (topological order), and readers never write their inputs; memory planners
 * that write outputs over dying inputs (in place) see the view's reads as reads of its storage
 * and skip storage that holds views. Graph inputs and constants cannot be storage (the user
 * rebinds inputs, constants live in the plan), and graph outputs stay real copies so that the
 * buffer a user reads an output from is the output's own. */
#include "ops/op.h"
#include "passes/pass.h"

static bool is_view_op(int op)
{
    return op == LUCID_OP_RESHAPE || op == LUCID_OP_FLATTEN || op == LUCID_OP_SQUEEZE ||
           op == LUCID_OP_UNSQUEEZE || op == LUCID_OP_IDENTITY;
}

/* Why n cannot become a view, or NULL when it can. */
static const char *refusal(const lucid_graph *g, const lucid_node *n)
{
    int in = n->inputs[0], out = n->outputs[0];
    const lucid_ir_tensor *x = &g->tensors[in], *y = &g->tensors[out];
    if (y->is_output) return "its output is a graph output (kept a copy of its own)";
    if (y->data || x->data) return NULL; /* constant: runs at build time, nothing to save */
    if (!lucid_tensor_shape_known(x) || !lucid_tensor_shape_known(y) || x->dtype != y->dtype ||
        lucid_tensor_nbytes(x) != lucid_tensor_nbytes(y))
        return "input and output sizes are not known to be equal";
    if (y->view_of >= 0) return "its output is already a view";
    for (int c = 0; c < n->n_outputs; c++)
        if (c > 0 && n->outputs[c] >= 0) return "it has a second output";
    const lucid_ir_tensor *s = &g->tensors[lucid_tensor_storage(g, in, NULL)];
    if (s->is_input) return "its input lives in a graph input";
    if (s->is_initializer || s->data) return "its input lives in a constant";
    if (s->producer < 0) return "its input has no producer";
    return "";
}

static lucid_status reshape_views_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    (void)err;
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        if (n->dead || n->elided || !is_view_op(n->op) || n->inputs[0] < 0) continue;
        const char *why = refusal(g, n);
        if (!why) continue;
        if (why[0]) {
            lucid_pass_refuse(ctx, n->name, "not a view: %s", why);
            continue;
        }
        int in = n->inputs[0], out = n->outputs[0];
        g->tensors[out].view_of = in;
        g->tensors[out].view_offset = 0;
        n->elided = true;
        lucid_pass_rewrite(
            ctx, n->name, n->name, "elided: '%s' is a view of '%s' (%zu bytes not copied)",
            g->tensors[out].name, g->tensors[in].name, lucid_tensor_nbytes(&g->tensors[out]));
    }
    return LUCID_STATUS_OK;
}

const lucid_pass_def lucid_pass_reshape_views = {
    .name = "reshape_views",
    .level = LUCID_PASS_MEMORY,
    .summary = "make Reshape, Flatten, Squeeze, Unsqueeze and Identity outputs views of their "
               "inputs (no copy)",
    .run = reshape_views_run,
};
