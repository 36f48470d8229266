/* node_edit.h - in-place node edits shared by the fusion passes: attributes, op changes,
 * renames, consumer lists, and constant producers left without users. */
#ifndef LUCID_PASSES_NODE_EDIT_H
#define LUCID_PASSES_NODE_EDIT_H

#include "ir/graph.h"

/* Set (replacing any attribute of that name) or remove an attribute. The op's params are not
 * updated: call lucid_node_reparse after the last edit. */
lucid_status lucid_node_set_float(lucid_node *n, const char *name, float v, lucid_error *err);
lucid_status lucid_node_set_string(lucid_node *n, const char *name, const char *v,
                                   lucid_error *err);
lucid_status lucid_node_set_strings(lucid_node *n, const char *name, char *const *v, size_t count,
                                    lucid_error *err);
lucid_status lucid_node_set_int(lucid_node *n, const char *name, int64_t v, lucid_error *err);
lucid_status lucid_node_set_ints(lucid_node *n, const char *name, const int64_t *v, size_t count,
                                 lucid_error *err);
void lucid_node_remove_attr(lucid_node *n, const char *name);

/* Parses n's attributes again into fresh params of its op. */
lucid_status lucid_node_reparse(const lucid_graph *g, lucid_node *n, lucid_error *err);
/* Makes n a node of op `op` (an index of the op table) at the given opset, keeping its
 * inputs, outputs and attributes, and parses its attributes as that op's. */
lucid_status lucid_node_set_op(const lucid_graph *g, lucid_node *n, int op, int opset,
                               lucid_error *err);
/* Sets input k to tensor t (-1: omitted), growing the input list with omitted inputs. */
lucid_status lucid_node_set_input(lucid_node *n, int k, int t, lucid_error *err);
/* Renames n to the engine-layer join "a + b" of its name and `then` (then runs after n),
 * or "then + n" when before is true. */
lucid_status lucid_node_rename_join(lucid_node *n, const char *other, bool before,
                                    lucid_error *err);

/* In t's consumer list, node `from` (now dead) is replaced by node `to`, which reads t in
 * its place; kept exact so that use counts stay right for the rest of a pass. */
void lucid_tensor_consumer_replace(lucid_graph *g, int t, int from, int to);
/* The live (not dead) consumers of tensor t, at most max of them, into out; returns their
 * count, or -1 when there are more than max. */
int lucid_tensor_live_consumers(const lucid_graph *g, int t, int *out, int max);
/* After node `dead` was removed: Constant nodes that fed it and whose outputs nobody uses
 * any more are removed too. */
void lucid_node_kill_orphan_constants(lucid_graph *g, const lucid_node *dead);

#endif
