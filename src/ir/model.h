/* model.h - the model object: an imported graph and its facts. */
#ifndef LUCID_IR_MODEL_H
#define LUCID_IR_MODEL_H

#include "ir/graph.h"

struct lucid_model {
    lucid_graph *graph;
};

/* Wraps a finalized graph in a model (taking ownership). */
lucid_status lucid_model_wrap(lucid_graph *g, lucid_model_t **out, lucid_error *err);

/* Are all input shapes fixed and every shape inferred? Otherwise an error saying what to do. */
lucid_status lucid_model_check_runnable(const lucid_model_t *model, lucid_error *err);

/* Bytes of a node's constant inputs, activation bytes read and written, MACs and flops. */
void lucid_node_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops,
                     uint64_t *param_bytes, uint64_t *read_bytes, uint64_t *write_bytes);

#endif
