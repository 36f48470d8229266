/* analysis.c - op resolution, topological sort, validation and shape/value inference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ir/graph.h"
#include "ops/op.h"

/* Values of at most this many elements are propagated at inference (shape arithmetic). */
#define LUCID_PROPAGATE_MAX_ELEMENTS 65536

lucid_status lucid_graph_resolve_ops(lucid_graph *g, lucid_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        bool lucid_domain = strcmp(n->domain, LUCID_DOMAIN) == 0;
        if (n->domain[0] && strcmp(n->domain, "ai.onnx") != 0 && !lucid_domain)
            return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                     "op domain '%s' is not supported (only the default ONNX "
                                     "domain and lucid's own are)",
                                     n->domain);
        if (lucid_domain && n->opset != 1)
            return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                     "opset %d of domain '%s' is not supported (only 1 is)",
                                     n->opset, LUCID_DOMAIN);
        if (!lucid_domain && (n->opset < LUCID_MIN_OPSET || n->opset > LUCID_MAX_OPSET))
            return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                     "opset %d is not supported (supported: %d to %d)", n->opset,
                                     LUCID_MIN_OPSET, LUCID_MAX_OPSET);
        int op = lucid_op_find(n->domain, n->op_type);
        if (op < 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "op '%s' is not supported",
                                     n->op_type);
        const lucid_op_def *def = lucid_op_get(op);
        if (n->opset < (def->min_opset ? def->min_opset : 1))
            return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                     "op '%s' is supported from opset %d (this is the form of an "
                                     "older opset)",
                                     n->op_type, def->min_opset);
        if (!def->infer || !def->run)
            return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                     "op '%s' has no reference kernel", n->op_type);
        if (n->n_inputs < def->min_inputs ||
            (def->max_inputs >= 0 && n->n_inputs > def->max_inputs))
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "has %d inputs (expected %d to %d)", n->n_inputs,
                                     def->min_inputs, def->max_inputs);
        if (n->n_outputs < def->min_outputs || n->n_outputs > def->max_outputs)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "has %d outputs (expected %d to %d)", n->n_outputs,
                                     def->min_outputs, def->max_outputs);
        for (int k = 0; k < def->min_inputs; k++)
            if (n->inputs[k] < 0)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "required input %d is missing", k);
        if (n->outputs[0] < 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "its first output has no name");
        free(n->params);
        n->params = NULL;
        n->op = op;
        if (def->params_size) {
            n->params = calloc(1, def->params_size);
            if (!n->params) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        }
        if (def->parse) {
            lucid_status st = def->parse(g, n, n->params, err);
            if (st) return st;
        }
    }
    return LUCID_STATUS_OK;
}

static lucid_status link_producers(lucid_graph *g, lucid_error *err)
{
    for (int t = 0; t < g->n_tensors; t++) {
        lucid_ir_tensor *x = &g->tensors[t];
        x->producer = -1;
        free(x->consumers);
        x->consumers = NULL;
        x->n_consumers = 0;
        if (x->is_input && x->is_initializer)
            x->is_input = false; /* IR < 4: an initializer listed as input is a constant */
    }
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            if (t < 0) continue;
            lucid_ir_tensor *x = &g->tensors[t];
            if (x->producer >= 0)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "output '%s' is also produced by node '%s'", x->name,
                                         g->nodes[x->producer].name);
            if (x->is_initializer || x->is_input)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "output '%s' is also a graph %s", x->name,
                                         x->is_input ? "input" : "initializer");
            x->producer = i;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0) continue;
            lucid_ir_tensor *x = &g->tensors[t];
            if (x->producer < 0 && !x->is_initializer && !x->is_input)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "input '%s' is not produced by any node, initializer or "
                                         "graph input",
                                         x->name);
            bool seen = false;
            for (int c = 0; c < x->n_consumers; c++) seen |= x->consumers[c] == i;
            if (seen) continue;
            int *nc = realloc(x->consumers, sizeof(int) * (size_t)(x->n_consumers + 1));
            if (!nc) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            nc[x->n_consumers++] = i;
            x->consumers = nc;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        lucid_ir_tensor *x = &g->tensors[g->outputs[i]];
        if (x->producer < 0 && !x->is_initializer && !x->is_input)
            return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                "graph output '%s' is not produced by any node", x->name);
    }
    return LUCID_STATUS_OK;
}

lucid_status lucid_graph_sort(lucid_graph *g, lucid_error *err)
{
    lucid_status st = link_producers(g, err);
    if (st) return st;
    int n = g->n_nodes;
    if (n == 0) return LUCID_STATUS_OK;
    int *pending = calloc((size_t)n, sizeof(int)); /* unproduced inputs per node */
    int *order = malloc(sizeof(int) * (size_t)n);
    lucid_node *sorted = malloc(sizeof(lucid_node) * (size_t)n);
    int *remap = malloc(sizeof(int) * (size_t)n);
    if (!pending || !order || !sorted || !remap) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        lucid_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++) {
            int t = nd->inputs[k];
            if (t >= 0 && g->tensors[t].producer >= 0) pending[i]++;
        }
    }
    /* Kahn's algorithm, always taking the lowest-index ready node so that the original order
     * is kept when it is already topological. */
    int done_count = 0;
    char *placed = calloc((size_t)n, 1);
    if (!placed) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    int scan = 0;
    while (done_count < n) {
        int pick = -1;
        for (int i = scan; i < n; i++)
            if (!placed[i] && pending[i] == 0) {
                pick = i;
                break;
            }
        if (pick < 0)
            for (int i = 0; i < scan; i++)
                if (!placed[i] && pending[i] == 0) {
                    pick = i;
                    break;
                }
        if (pick < 0) {
            int culprit = 0;
            while (placed[culprit]) culprit++;
            st = lucid_node_errorf(&g->nodes[culprit], err, LUCID_STATUS_INVALID_MODEL,
                                   "the graph has a cycle through this node");
            free(placed);
            goto done;
        }
        placed[pick] = 1;
        order[done_count++] = pick;
        scan = pick;
        lucid_node *nd = &g->nodes[pick];
        for (int k = 0; k < nd->n_outputs; k++) {
            int t = nd->outputs[k];
            if (t < 0) continue;
            lucid_ir_tensor *x = &g->tensors[t];
            for (int c = 0; c < x->n_consumers; c++) {
                lucid_node *cn = &g->nodes[x->consumers[c]];
                for (int q = 0; q < cn->n_inputs; q++)
                    if (cn->inputs[q] == t) pending[x->consumers[c]]--;
            }
        }
    }
    free(placed);
    for (int i = 0; i < n; i++) {
        sorted[i] = g->nodes[order[i]];
        remap[order[i]] = i;
    }
    memcpy(g->nodes, sorted, sizeof(lucid_node) * (size_t)n);
    for (int t = 0; t < g->n_tensors; t++) {
        lucid_ir_tensor *x = &g->tensors[t];
        if (x->producer >= 0) x->producer = remap[x->producer];
        for (int c = 0; c < x->n_consumers; c++) x->consumers[c] = remap[x->consumers[c]];
    }
done:
    free(pending);
    free(order);
    free(sorted);
    free(remap);
    return st;
}

lucid_status lucid_graph_validate(const lucid_graph *g, lucid_error *err)
{
    for (int t = 0; t < g->n_tensors; t++) {
        const lucid_ir_tensor *x = &g->tensors[t];
        if (lucid_graph_find(g, x->name) != t)
            return lucid_errorf(err, LUCID_STATUS_INTERNAL, "tensor '%s' is not indexed",
                                x->name);
        if (x->rank > LUCID_MAX_RANK)
            return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                                "tensor '%s' has rank %d (at most %d)", x->name, x->rank,
                                LUCID_MAX_RANK);
        if (x->is_initializer && x->nbytes != lucid_tensor_nbytes(x))
            return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                "initializer '%s' holds %zu bytes, its shape needs %zu", x->name,
                                x->nbytes, lucid_tensor_nbytes(x));
        if (x->producer >= g->n_nodes)
            return lucid_errorf(err, LUCID_STATUS_INTERNAL, "tensor '%s' has a bad producer",
                                x->name);
        if (x->view_of >= g->n_tensors || x->view_of == t)
            return lucid_errorf(err, LUCID_STATUS_INTERNAL, "tensor '%s' is a bad view", x->name);
        if (x->view_of >= 0) {
            int hops = 0;
            for (int v = x->view_of; v >= 0; v = g->tensors[v].view_of)
                if (++hops > g->n_tensors || v == t)
                    return lucid_errorf(err, LUCID_STATUS_INTERNAL,
                                        "tensor '%s' is a view of itself", x->name);
            const lucid_ir_tensor *base = &g->tensors[x->view_of];
            if (x->is_input || x->is_initializer || base->is_initializer)
                return lucid_errorf(err, LUCID_STATUS_INTERNAL,
                                    "tensor '%s': inputs and constants cannot be views", x->name);
            if (lucid_tensor_shape_known(x) && lucid_tensor_shape_known(base) &&
                x->view_offset + lucid_tensor_nbytes(x) > lucid_tensor_nbytes(base))
                return lucid_errorf(err, LUCID_STATUS_INTERNAL,
                                    "view '%s' runs past the end of '%s'", x->name, base->name);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < -1 || t >= g->n_tensors)
                return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "bad input index");
            if (t >= 0 && g->tensors[t].producer >= i)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "input '%s' is produced later (not topological)",
                                         g->tensors[t].name);
        }
        if (n->elided && n->op == LUCID_OP_CONCAT)
            for (int k = 0; k < n->n_inputs; k++)
                if (n->inputs[k] >= 0 &&
                    lucid_tensor_storage(g, n->inputs[k], NULL) !=
                        lucid_tensor_storage(g, n->outputs[0], NULL))
                    return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL,
                                             "elided, but input '%s' is not in its output",
                                             g->tensors[n->inputs[k]].name);
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            if (t < -1 || t >= g->n_tensors)
                return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "bad output index");
            if (n->elided && t >= 0 && g->tensors[t].view_of < 0 &&
                g->tensors[t].n_consumers + g->tensors[t].is_output > 0 &&
                n->op != LUCID_OP_CONCAT)
                return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL,
                                         "elided, but output '%s' is not a view",
                                         g->tensors[t].name);
            if (t >= 0 && g->tensors[t].producer != i)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "output '%s' has another producer", g->tensors[t].name);
        }
    }
    for (int i = 0; i < g->n_inputs; i++)
        if (!g->tensors[g->inputs[i]].is_input)
            return lucid_errorf(err, LUCID_STATUS_INTERNAL, "input flag mismatch");
    return LUCID_STATUS_OK;
}

lucid_status lucid_node_evaluate(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    lucid_array in[n->n_inputs > 0 ? n->n_inputs : 1];
    lucid_array out[n->n_outputs];
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *x = lucid_op_input(g, n, k);
        lucid_tensor_array(x, x ? x->data : NULL, &in[k]);
    }
    lucid_status st = LUCID_STATUS_OK;
    for (int k = 0; k < n->n_outputs; k++) memset(&out[k], 0, sizeof out[k]);
    for (int k = 0; k < n->n_outputs; k++) {
        const lucid_ir_tensor *x = lucid_op_output(g, n, k);
        if (!x) continue;
        size_t nb = lucid_tensor_nbytes(x);
        void *d = calloc(nb ? nb : 1, 1);
        if (!d) {
            st = lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY,
                                   "out of memory computing a constant of %zu bytes", nb);
            goto fail;
        }
        lucid_tensor_array(x, d, &out[k]);
    }
    st = lucid_op_get(n->op)->run(n, in, n->n_inputs, out, n->n_outputs, err);
    if (st) goto fail;
    for (int k = 0; k < n->n_outputs; k++) {
        lucid_ir_tensor *x = lucid_op_output(g, n, k);
        if (!x) continue;
        free(x->data);
        x->data = out[k].data;
        x->nbytes = out[k].nbytes;
    }
    return LUCID_STATUS_OK;
fail:
    for (int k = 0; k < n->n_outputs; k++) free(out[k].data);
    return st;
}

/* Gives n's outputs their values when every input is known and the outputs are small (shape
 * arithmetic), so later shapes that depend on them can be inferred. */
static lucid_status propagate(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    int64_t total = 0;
    for (int k = 0; k < n->n_outputs; k++) {
        int t = n->outputs[k];
        if (t < 0) continue;
        if (g->tensors[t].data) return LUCID_STATUS_OK; /* set by infer */
        total += lucid_tensor_numel(&g->tensors[t]);
    }
    if (total > LUCID_PROPAGATE_MAX_ELEMENTS) return LUCID_STATUS_OK;
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && !g->tensors[n->inputs[k]].data) return LUCID_STATUS_OK;
    return lucid_node_evaluate(g, n, err);
}

lucid_status lucid_graph_infer(lucid_graph *g, lucid_error *err)
{
    for (int t = 0; t < g->n_tensors; t++) {
        lucid_ir_tensor *x = &g->tensors[t];
        if (x->is_initializer || x->is_input) continue;
        free(x->data);
        x->data = NULL;
        x->nbytes = 0;
        x->dtype = LUCID_DTYPE_UNDEFINED;
        x->rank = -1;
        for (int i = 0; i < LUCID_MAX_RANK; i++) x->dims[i] = -1;
    }
    g->shapes_known = true;
    g->deferred[0] = '\0';
    for (int t = 0; t < g->n_tensors; t++) {
        lucid_ir_tensor *x = &g->tensors[t];
        if (x->is_input && !lucid_tensor_shape_known(x)) g->shapes_known = false;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        bool known = true;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && !lucid_tensor_shape_known(&g->tensors[n->inputs[k]]))
                known = false;
        if (!known) {
            g->shapes_known = false;
            continue;
        }
        const lucid_op_def *def = lucid_op_get(n->op);
        lucid_status st = def->infer(g, n, err);
        if (st == LUCID_STATUS_DEFERRED) {
            /* a shape-determining value is still a graph input: leave the outputs unknown */
            if (!g->deferred[0] && err) snprintf(g->deferred, sizeof g->deferred, "%s", err->message);
            for (int k = 0; k < n->n_outputs; k++) {
                lucid_ir_tensor *o = lucid_op_output(g, n, k);
                if (!o) continue;
                o->dtype = LUCID_DTYPE_UNDEFINED;
                o->rank = -1;
            }
            g->shapes_known = false;
            lucid_error_clear(err);
            continue;
        }
        if (st) return st;
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            if (t >= 0 && !lucid_tensor_shape_known(&g->tensors[t]))
                return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL,
                                         "shape inference left output %d unset", k);
        }
        st = propagate(g, n, err);
        if (st) return st;
    }
    return LUCID_STATUS_OK;
}

lucid_status lucid_graph_finalize(lucid_graph *g, lucid_error *err)
{
    lucid_status st = lucid_graph_resolve_ops(g, err);
    if (!st) st = lucid_graph_sort(g, err);
    if (!st) st = lucid_graph_validate(g, err);
    if (!st) st = lucid_graph_infer(g, err);
    return st;
}
