/* concat_elision.c - concat elision: when each input of a Concat is one contiguous block of its
 * output, the producers write straight into their slices and the Concat copies nothing.
 *
 * Each input becomes a view into the output at its byte offset. That needs: every dimension
 * before the axis is 1 (otherwise an input is strided across the output), every input computed
 * by a node that runs (not a graph input, constant, or a view already - a tensor lives in one
 * place, so one that is an input of another elided Concat cannot join this one), and no input
 * twice (two slices cannot share one buffer). Graph outputs among the inputs keep their own
 * buffers. Other readers of an input simply read the slice: each tensor is written once, by its
 * producer, before it is read. */
#include <stdio.h>

#include "ops/op.h"
#include "passes/pass.h"

/* Why input k of Concat n cannot be a view into its output, or NULL. */
static const char *input_refusal(const lucid_graph *g, const lucid_node *n, int k)
{
    int t = n->inputs[k];
    if (t < 0) return "an input is omitted";
    const lucid_ir_tensor *x = &g->tensors[t];
    for (int q = 0; q < k; q++)
        if (n->inputs[q] == t) return "the same tensor is concatenated twice";
    if (x->is_input) return "an input is a graph input";
    if (x->is_initializer || x->data) return "an input is a constant";
    if (x->is_output) return "an input is a graph output";
    if (x->view_of >= 0) return "an input is already a view (of another Concat or a Reshape)";
    if (x->producer < 0) return "an input has no producer";
    const lucid_node *p = &g->nodes[x->producer];
    if (p->dead || p->elided) return "an input's producer does not run";
    for (int v = 0; v < g->n_tensors; v++)
        if (g->tensors[v].view_of == t && g->tensors[v].view_offset != 0)
            return "an input holds a view at an offset";
    return NULL;
}

static const char *refusal(const lucid_graph *g, const lucid_node *n, int axis)
{
    const lucid_ir_tensor *y = &g->tensors[n->outputs[0]];
    if (n->n_inputs < 2) return "it has a single input";
    if (!lucid_tensor_shape_known(y)) return "its shape is not known";
    if (y->data) return NULL; /* constant: computed at build time */
    if (y->view_of >= 0) return "its output is already a view";
    if (axis < 0 || axis >= y->rank) return "its axis is out of range";
    for (int d = 0; d < axis; d++)
        if (y->dims[d] != 1) return "a dimension before the axis is not 1: inputs are strided";
    for (int k = 0; k < n->n_inputs; k++) {
        const char *why = input_refusal(g, n, k);
        if (why) return why;
    }
    return "";
}

static lucid_status concat_elision_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        if (n->dead || n->elided || n->op != LUCID_OP_CONCAT) continue;
        int64_t axis_v;
        lucid_status st = lucid_attr_int(n, "axis", 0, &axis_v, err);
        if (st) return st;
        int rank = g->tensors[n->outputs[0]].rank;
        int axis = (int)(axis_v < 0 ? axis_v + rank : axis_v);
        if (axis_v < -rank || axis_v >= rank) axis = -1;
        const char *why = refusal(g, n, axis);
        if (!why) continue;
        if (why[0]) {
            lucid_pass_refuse(ctx, n->name, "not elided: %s", why);
            continue;
        }
        /* with only 1s before the axis, the output is the inputs one after another */
        size_t offset = 0;
        for (int k = 0; k < n->n_inputs; k++) {
            lucid_ir_tensor *x = &g->tensors[n->inputs[k]];
            x->view_of = n->outputs[0];
            x->view_offset = offset;
            offset += lucid_tensor_nbytes(x);
        }
        n->elided = true;
        lucid_pass_rewrite(ctx, n->name, n->name,
                           "elided: %d producers write into '%s' (%zu bytes not copied)",
                           n->n_inputs, g->tensors[n->outputs[0]].name, offset);
    }
    return LUCID_STATUS_OK;
}

const lucid_pass_def lucid_pass_concat_elision = {
    .name = "concat_elision",
    .level = LUCID_PASS_MEMORY,
    .summary = "let the producers of a Concat's inputs write straight into their slices of its "
               "output",
    .run = concat_elision_run,
};
