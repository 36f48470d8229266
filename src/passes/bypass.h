/* bypass.h - removing a node whose output equals its input, keeping graph-output names. */
#ifndef LUCID_PASSES_BYPASS_H
#define LUCID_PASSES_BYPASS_H

#include "ir/graph.h"

/* Removes node `node`, whose output tensor `out` holds exactly the bytes of tensor `in` (same
 * dtype and shape), and marks it dead. Consumers of out read in instead. When out is a graph
 * output its name must survive (users bind outputs by name), so in's producer is made to write
 * out instead - only when that is safe: in is produced by a live node, is not itself a graph
 * input, output or constant, is nobody's view or view storage, and this node is its only
 * reader. Consumer and producer lists are kept exact for the rest of the pass. Returns true
 * when the node was removed; otherwise *why says why it was kept and nothing changed. */
bool lucid_pass_bypass(lucid_graph *g, int node, int in, int out, const char **why);

/* Is t the storage of some view, or a view itself? */
bool lucid_tensor_has_views(const lucid_graph *g, int t);

#endif
