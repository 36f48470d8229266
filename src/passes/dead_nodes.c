/* dead_nodes.c - dead-node elimination: nodes none of whose outputs is used. */
#include "passes/pass.h"

static lucid_status dead_nodes_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    (void)err;
    /* walk backwards so a chain of unused nodes goes in one pass */
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        lucid_node *n = &g->nodes[i];
        if (n->dead) continue;
        bool used = false;
        for (int k = 0; k < n->n_outputs && !used; k++)
            if (n->outputs[k] >= 0) used = lucid_tensor_uses(g, n->outputs[k]) > 0;
        if (used) continue;
        lucid_node_kill(n);
        lucid_pass_rewrite(ctx, n->name, "", "removed: none of its outputs is used");
    }
    return LUCID_STATUS_OK;
}

const lucid_pass_def lucid_pass_dead_nodes = {
    .name = "dead_nodes",
    .level = LUCID_PASS_BASIC,
    .summary = "remove nodes none of whose outputs is used",
    .run = dead_nodes_run,
};
