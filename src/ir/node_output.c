/* node_output.c - the public description of a node's output tensors (for per-layer tables). */
#include <string.h>

#include "ir/model.h"

lucid_status lucid_model_node_output(const lucid_model_t *model, size_t i, size_t k,
                                     lucid_tensor_desc *out)
{
    if (!model || !out || i >= (size_t)model->graph->n_nodes) return LUCID_STATUS_INVALID_ARGUMENT;
    const lucid_graph *g = model->graph;
    const lucid_node *n = &g->nodes[i];
    if (k >= (size_t)n->n_outputs) return LUCID_STATUS_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    for (int d = 0; d < LUCID_MAX_RANK; d++) {
        out->dims[d] = -1;
        out->dim_params[d] = "";
    }
    int t = n->outputs[k];
    if (t < 0) {
        out->name = "";
        out->rank = -1;
        return LUCID_STATUS_OK;
    }
    const lucid_ir_tensor *x = &g->tensors[t];
    out->name = x->name;
    out->dtype = x->dtype;
    out->rank = x->rank;
    for (int d = 0; d < x->rank && d < LUCID_MAX_RANK; d++) {
        out->dims[d] = x->dims[d];
        if (x->dim_params[d]) out->dim_params[d] = x->dim_params[d];
    }
    return LUCID_STATUS_OK;
}
