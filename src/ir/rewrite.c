/* rewrite.c - graph editing for passes: fresh names, new constants, use replacement, views,
 * and compaction after nodes are removed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ir/graph.h"

int lucid_graph_new_tensor(lucid_graph *g, const char *base, lucid_error *err)
{
    char name[LUCID_MAX_NAME + 32];
    snprintf(name, sizeof name, "%s", base);
    for (int k = 1; lucid_graph_find(g, name) >= 0; k++) {
        if (k > 1000000) {
            lucid_errorf(err, LUCID_STATUS_INTERNAL, "no fresh name for '%s'", base);
            return -1;
        }
        snprintf(name, sizeof name, "%s_%d", base, k);
    }
    return lucid_graph_tensor(g, name, err);
}

int lucid_graph_add_constant(lucid_graph *g, const char *base, lucid_dtype dtype, int rank,
                             const int64_t *dims, void *data, size_t nbytes, lucid_error *err)
{
    int t = lucid_graph_new_tensor(g, base, err);
    if (t < 0) {
        free(data);
        return -1;
    }
    if (lucid_graph_set_initializer(g, t, dtype, rank, dims, data, nbytes, err)) {
        free(data);
        return -1;
    }
    return t;
}

void lucid_graph_replace_uses(lucid_graph *g, int from, int to)
{
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == from) n->inputs[k] = to;
    }
}

int lucid_tensor_uses(const lucid_graph *g, int t)
{
    const lucid_ir_tensor *x = &g->tensors[t];
    int uses = x->is_output ? 1 : 0;
    for (int c = 0; c < x->n_consumers; c++)
        if (!g->nodes[x->consumers[c]].dead) uses++;
    return uses;
}

int lucid_tensor_storage(const lucid_graph *g, int t, size_t *offset)
{
    size_t off = 0;
    /* views form chains, never cycles (validated); the bound guards against a bad graph */
    for (int hops = 0; g->tensors[t].view_of >= 0 && hops <= g->n_tensors; hops++) {
        off += g->tensors[t].view_offset;
        t = g->tensors[t].view_of;
    }
    if (offset) *offset = off;
    return t;
}

lucid_status lucid_graph_compact(lucid_graph *g, lucid_error *err)
{
    /* drop dead nodes */
    int kept = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) {
            lucid_node_release(&g->nodes[i]);
            continue;
        }
        g->nodes[kept++] = g->nodes[i];
    }
    g->n_nodes = kept;

    /* keep tensors that something still refers to */
    int nt = g->n_tensors;
    bool *used = calloc((size_t)nt + 1, sizeof *used);
    int *remap = malloc(sizeof(int) * ((size_t)nt + 1));
    if (!used || !remap) {
        free(used);
        free(remap);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < g->n_inputs; i++) used[g->inputs[i]] = true;
    for (int i = 0; i < g->n_outputs; i++) used[g->outputs[i]] = true;
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) used[n->inputs[k]] = true;
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0) used[n->outputs[k]] = true;
    }
    /* a view keeps its storage alive */
    for (int t = 0; t < nt; t++) {
        int v = t;
        while (used[v] && g->tensors[v].view_of >= 0 && !used[g->tensors[v].view_of]) {
            used[g->tensors[v].view_of] = true;
            v = g->tensors[v].view_of;
        }
    }
    int count = 0;
    for (int t = 0; t < nt; t++) {
        if (!used[t]) {
            lucid_tensor_release(&g->tensors[t]);
            remap[t] = -1;
            continue;
        }
        remap[t] = count;
        if (count != t) g->tensors[count] = g->tensors[t];
        count++;
    }
    g->n_tensors = count;
    for (int t = 0; t < count; t++) {
        lucid_ir_tensor *x = &g->tensors[t];
        if (x->view_of >= 0) x->view_of = remap[x->view_of];
    }
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) n->inputs[k] = remap[n->inputs[k]];
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0) n->outputs[k] = remap[n->outputs[k]];
    }
    for (int i = 0; i < g->n_inputs; i++) g->inputs[i] = remap[g->inputs[i]];
    for (int i = 0; i < g->n_outputs; i++) g->outputs[i] = remap[g->outputs[i]];
    free(used);
    free(remap);

    /* the name index borrowed the names of tensors that moved or went away */
    lucid_strmap_free(&g->by_name);
    lucid_strmap_init(&g->by_name);
    for (int t = 0; t < g->n_tensors; t++)
        if (!lucid_strmap_put(&g->by_name, g->tensors[t].name, t))
            return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");

    lucid_status st = lucid_graph_sort(g, err);
    if (!st) st = lucid_graph_validate(g, err);
    if (!st) st = lucid_graph_infer(g, err);
    return st;
}
