/* bypass.c - removing a node whose output equals its input, keeping graph-output names. */
#include <stdlib.h>

#include "passes/bypass.h"
#include "passes/pass.h"

bool lucid_tensor_has_views(const lucid_graph *g, int t)
{
    if (g->tensors[t].view_of >= 0) return true;
    for (int v = 0; v < g->n_tensors; v++)
        if (g->tensors[v].view_of == t) return true;
    return false;
}

static void drop_consumer(lucid_ir_tensor *x, int node)
{
    int kept = 0;
    for (int c = 0; c < x->n_consumers; c++)
        if (x->consumers[c] != node) x->consumers[kept++] = x->consumers[c];
    x->n_consumers = kept;
}

/* Adds the consumers of `from` to `to`'s list (each node once). False on out of memory. */
static bool move_consumers(lucid_ir_tensor *to, lucid_ir_tensor *from)
{
    int *nc =
        realloc(to->consumers, sizeof(int) * (size_t)(to->n_consumers + from->n_consumers + 1));
    if (!nc) return false;
    to->consumers = nc;
    for (int c = 0; c < from->n_consumers; c++) {
        bool seen = false;
        for (int q = 0; q < to->n_consumers; q++)
            seen |= to->consumers[q] == from->consumers[c];
        if (!seen) to->consumers[to->n_consumers++] = from->consumers[c];
    }
    from->n_consumers = 0;
    return true;
}

bool lucid_pass_bypass(lucid_graph *g, int node, int in, int out, const char **why)
{
    lucid_node *n = &g->nodes[node];
    lucid_ir_tensor *x = &g->tensors[in], *y = &g->tensors[out];
    if (lucid_tensor_has_views(g, out)) {
        *why = "its output is a view or holds views";
        return false;
    }
    if (!y->is_output) {
        /* a view of `in` stays valid: readers of out now read in's bytes, unchanged */
        if (!move_consumers(x, y)) {
            *why = "out of memory";
            return false;
        }
        lucid_graph_replace_uses(g, out, in);
        drop_consumer(x, node);
        lucid_node_kill(n);
        return true;
    }
    /* out is a graph output: in's producer must write it under its name instead */
    if (x->producer < 0 || g->nodes[x->producer].dead || g->nodes[x->producer].elided) {
        *why = "its output is a graph output and its input is not computed by a node";
        return false;
    }
    if (x->is_output || x->is_input || x->is_initializer) {
        *why = "its output and its input are both graph inputs or outputs";
        return false;
    }
    if (lucid_tensor_uses(g, in) != 1) {
        *why = "its output is a graph output and its input has other readers";
        return false;
    }
    if (lucid_tensor_has_views(g, in)) {
        *why = "its output is a graph output and its input is a view or holds views";
        return false;
    }
    lucid_node *p = &g->nodes[x->producer];
    for (int k = 0; k < p->n_outputs; k++)
        if (p->outputs[k] == in) p->outputs[k] = out;
    y->producer = x->producer;
    x->producer = -1;
    drop_consumer(x, node);
    lucid_node_kill(n);
    return true;
}
