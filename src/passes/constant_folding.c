/* constant_folding.c - constant folding: nodes whose outputs are known at build time (all
 * inputs constant, or shapes of static tensors) become initializers, so shape arithmetic
 * (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) leaves a Reshape with a constant shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"
#include "passes/pass.h"

/* Per output, the largest constant computed here (the reference kernel runs at build time). */
#define FOLD_MAX_ELEMENTS ((int64_t)64 << 20)
/* Outputs above this many elements that are larger than their inputs (ConstantOfShape,
 * Expand, Tile, Resize) are left to run: storing them would bloat the plan. */
#define FOLD_BLOAT_ELEMENTS ((int64_t)16 << 20)

static lucid_status constant_folding_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    /* nodes are in topological order and each folded output becomes an initializer at once,
     * so a chain of constant nodes folds in one walk */
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        if (n->dead || n->elided) continue;
        /* int8/uint8 weights behind a DequantizeLinear stay quantized: qdq_fusion gives them
         * to int8 layers as they are (it folds those float layers read) */
        if (n->op == LUCID_OP_DEQUANTIZE_LINEAR && n->inputs[0] >= 0) {
            lucid_dtype qt = g->tensors[n->inputs[0]].dtype;
            if (qt == LUCID_DTYPE_INT8 || qt == LUCID_DTYPE_UINT8) continue;
        }
        bool outputs_known = true, shapes_known = true, inputs_constant = true, is_output = false;
        int64_t out_elems = 0, max_elems = 0, in_elems = 0;
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            if (t < 0) continue;
            const lucid_ir_tensor *y = &g->tensors[t];
            if (!y->data) outputs_known = false;
            if (!lucid_tensor_shape_known(y)) shapes_known = false;
            if (y->is_output) is_output = true;
            if (y->view_of >= 0) outputs_known = shapes_known = false; /* lives elsewhere */
            int64_t e = lucid_tensor_numel(y);
            out_elems += e;
            if (e > max_elems) max_elems = e;
        }
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0) continue;
            if (!g->tensors[t].data) inputs_constant = false;
            in_elems += lucid_tensor_numel(&g->tensors[t]);
        }
        if (!outputs_known && (!inputs_constant || !shapes_known)) continue;
        if (is_output) {
            /* the user binds graph outputs by name to computed buffers; a constant output
             * would have no producer to write it, so the node stays (it runs once per call,
             * or is skipped by executors when its value was propagated) */
            lucid_pass_refuse(ctx, n->name, "not folded: its output is a graph output");
            continue;
        }
        if (!outputs_known) {
            if (max_elems > FOLD_MAX_ELEMENTS) {
                lucid_pass_refuse(ctx, n->name,
                                  "not folded: an output of %lld elements is over the %lld "
                                  "computed at build time",
                                  (long long)max_elems, (long long)FOLD_MAX_ELEMENTS);
                continue;
            }
            if (out_elems > FOLD_BLOAT_ELEMENTS && out_elems > in_elems) {
                lucid_pass_refuse(ctx, n->name,
                                  "not folded: %lld output elements from %lld input elements "
                                  "would bloat the plan",
                                  (long long)out_elems, (long long)in_elems);
                continue;
            }
            lucid_status st = lucid_node_evaluate(g, n, err);
            if (st) return st;
        }
        size_t bytes = 0;
        char shape[160] = "";
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            if (t < 0) continue;
            lucid_ir_tensor *y = &g->tensors[t];
            /* the tensor keeps its name and readers; only its origin changes */
            y->is_initializer = true;
            y->producer = -1;
            bytes += y->nbytes;
            if (!shape[0]) lucid_shape_str(y->rank, y->dims, shape, sizeof shape);
        }
        lucid_node_kill(n);
        lucid_pass_rewrite(ctx, n->name, "", "folded into constant '%s' (%s %s, %zu bytes)",
                           g->tensors[n->outputs[0]].name,
                           lucid_dtype_name(g->tensors[n->outputs[0]].dtype), shape, bytes);
    }
    return LUCID_STATUS_OK;
}

const lucid_pass_def lucid_pass_constant_folding = {
    .name = "constant_folding",
    .level = LUCID_PASS_BASIC,
    .summary = "compute nodes whose inputs are all constant (shape arithmetic included) at "
               "build time",
    .run = constant_folding_run,
};
