/* memory.c - the activation memory plan: tensor lifetimes over the layer order, in-place
 * reuse for elementwise layers, then offsets in one arena assigned greedily by size.
 *
 * The heuristic (documented in docs/plan-format.md): every tensor that needs storage (not a
 * constant, not a view) lives from the step its first byte is written (its producer, or the
 * producer of any view into it; graph inputs from before the first layer) to its last read
 * (graph inputs and outputs to the end). Graph inputs and outputs come first in the arena, one
 * after another (the caller's data: nothing shares them); the other tensors are placed after
 * them, largest first, ties by first use then index, each at the lowest 64-byte-aligned offset
 * where it overlaps no placed tensor whose lifetime overlaps its own. A same-shape elementwise
 * layer whose input dies at that layer writes its output over the input (in place), as does a
 * FusedConv over its dying residual input when its tactic allows it
 * (LUCID_TACTIC_RESIDUAL_INPLACE). A graph input whose only reader is a
 * Reorder (CPU plans) is stored only converted, in that Reorder's output, for the whole run. */
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "ops/layout.h"
#include "plan/plan.h"

int lucid_plan_input_reorder(const lucid_graph *g, int t)
{
    const lucid_ir_tensor *x = &g->tensors[t];
    if (!x->is_input || x->is_output || x->data || x->view_of >= 0 || x->rank != 4 ||
        x->n_consumers != 1)
        return -1;
    const int q = x->consumers[0];
    const lucid_node *n = &g->nodes[q];
    lucid_layout from, to;
    if (n->op != LUCID_OP_REORDER || n->elided || !n->params || n->n_outputs != 1 ||
        n->outputs[0] < 0 || n->inputs[0] != t)
        return -1;
    lucid_reorder_layouts(n, &from, &to);
    if (from != LUCID_LAYOUT_PLAIN || to == LUCID_LAYOUT_PLAIN) return -1;
    const lucid_ir_tensor *y = &g->tensors[n->outputs[0]];
    if (y->is_output || y->view_of >= 0 || y->data || y->dtype != x->dtype) return -1;
    for (int v = 0; v < g->n_tensors; v++) /* nothing is a view of either */
        if (g->tensors[v].view_of == t || g->tensors[v].view_of == n->outputs[0]) return -1;
    return q;
}

typedef struct span {
    int tensor;
    int first, last;
    size_t size;
    size_t offset;
} span;

bool lucid_plan_node_runs(const lucid_graph *g, int i)
{
    const lucid_node *n = &g->nodes[i];
    if (n->elided) return false;
    for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0 && !g->tensors[n->outputs[k]].data) return true;
    return false;
}

static size_t align_up(size_t v)
{
    return (v + LUCID_PLAN_ALIGN - 1) / LUCID_PLAN_ALIGN * LUCID_PLAN_ALIGN;
}

static bool elementwise_inplace_op(int op)
{
    switch (op) {
    case LUCID_OP_RELU:
    case LUCID_OP_LEAKY_RELU:
    case LUCID_OP_SIGMOID:
    case LUCID_OP_HARD_SIGMOID:
    case LUCID_OP_HARD_SWISH:
    case LUCID_OP_TANH:
    case LUCID_OP_ELU:
    case LUCID_OP_SELU:
    case LUCID_OP_SOFTPLUS:
    case LUCID_OP_CLIP:
    case LUCID_OP_NEG:
    case LUCID_OP_ABS:
    case LUCID_OP_EXP:
    case LUCID_OP_SQRT:
    case LUCID_OP_ADD:
    case LUCID_OP_SUB:
    case LUCID_OP_MUL:
    case LUCID_OP_DIV: return true;
    default: return false;
    }
}

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    if (x->first != y->first) return x->first - y->first;
    return x->tensor - y->tensor;
}

static int cmp_offset(const void *a, const void *b)
{
    const span *x = *(span *const *)a, *y = *(span *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->tensor - y->tensor;
}

lucid_status lucid_plan_memory(lucid_plan_t *plan, const lucid_tactic *const *tactics,
                               lucid_error *err)
{
    const lucid_graph *g = plan->model->graph;
    int nt = g->n_tensors, nn = g->n_nodes;
    lucid_status st = LUCID_STATUS_OK;
    int *first = malloc(sizeof(int) * ((size_t)nt + 1));
    int *last = malloc(sizeof(int) * ((size_t)nt + 1));
    int *alias = malloc(sizeof(int) * ((size_t)nt + 1)); /* in-place: storage shared with */
    bool *needs = calloc((size_t)nt + 1, sizeof(bool));
    span *spans = calloc((size_t)nt + 1, sizeof(span));
    span **placed = calloc((size_t)nt + 1, sizeof(span *));
    free(plan->offsets);
    plan->offsets = malloc(sizeof(size_t) * ((size_t)nt + 1));
    if (!first || !last || !alias || !needs || !spans || !placed || !plan->offsets) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory planning memory");
        goto done;
    }
    for (int t = 0; t < nt; t++) {
        const lucid_ir_tensor *x = &g->tensors[t];
        plan->offsets[t] = LUCID_OFFSET_NONE;
        alias[t] = -1;
        needs[t] = !x->data && x->view_of < 0 && (x->is_input || x->producer >= 0);
        first[t] = x->is_input ? -1 : (x->producer >= 0 ? x->producer : 0);
        /* graph inputs live to the end as outputs do: the caller sets an input once and may
         * run many times (lucid_bench_run does), so no layer may reuse its memory */
        last[t] = x->is_output || x->is_input ? nn : first[t];
        for (int c = 0; c < x->n_consumers; c++)
            if (x->consumers[c] > last[t]) last[t] = x->consumers[c];
    }
    /* an input its Reorder converts when it is set: stored once, converted, for the run */
    for (int k = 0; k < g->n_inputs && plan->device == LUCID_DEVICE_CPU; k++) {
        const int t = g->inputs[k], q = lucid_plan_input_reorder(g, t);
        if (q < 0) continue;
        const int y = g->nodes[q].outputs[0];
        needs[t] = false;
        first[y] = -1;
        last[y] = nn;
    }
    /* a view's writes and reads count for its storage */
    for (int t = 0; t < nt; t++) {
        if (g->tensors[t].view_of < 0) continue;
        int root = lucid_tensor_storage(g, t, NULL);
        if (first[t] < first[root]) first[root] = first[t];
        if (last[t] > last[root]) last[root] = last[t];
    }
    /* in place: the output of a same-shape elementwise layer over its dying input, and of a
     * FusedConv over its dying residual where the tactic allows it (oneDNN's sum post-op adds
     * what the output already holds: otherwise the residual is copied there first) */
    plan->inplace_count = 0;
    for (int i = 0; i < nn; i++) {
        const lucid_node *n = &g->nodes[i];
        const bool residual = n->op == LUCID_OP_FUSED_CONV && n->n_inputs > 3 && tactics &&
                              tactics[i] &&
                              (tactics[i]->flags & LUCID_TACTIC_RESIDUAL_INPLACE);
        if (!lucid_plan_node_runs(g, i) || !(elementwise_inplace_op(n->op) || residual) ||
            n->n_outputs != 1)
            continue;
        int y = n->outputs[0];
        if (y < 0 || !needs[y] || g->tensors[y].is_output) continue;
        for (int k = residual ? 3 : 0; k < (residual ? 4 : n->n_inputs); k++) {
            int x = n->inputs[k];
            if (x < 0 || (!needs[x] && alias[x] < 0)) continue;
            /* x may itself live in place in another tensor's storage (a chain of residual
             * blocks): that storage must be free after this layer too */
            int root = x;
            while (alias[root] >= 0) root = alias[root];
            if (g->tensors[x].is_input || g->tensors[x].is_output || last[x] != i ||
                last[root] > i ||
                lucid_tensor_nbytes(&g->tensors[x]) != lucid_tensor_nbytes(&g->tensors[y]) ||
                g->tensors[x].dtype != g->tensors[y].dtype)
                continue;
            bool other_view = false; /* some view lives in x: keep it simple, no reuse */
            for (int v = 0; v < nt && !other_view; v++)
                other_view = g->tensors[v].view_of >= 0 &&
                             lucid_tensor_storage(g, v, NULL) == root;
            if (other_view) continue;
            /* a residual that is also what the convolution reads (conv(x) + x): the kernel
             * still reads its window of x after writing earlier outputs, so the output cannot
             * take x's storage */
            bool read_by_conv = false;
            for (int j = 0; residual && j < n->n_inputs && !read_by_conv; j++) {
                if (j == k || n->inputs[j] < 0) continue;
                int other = lucid_tensor_storage(g, n->inputs[j], NULL);
                while (alias[other] >= 0) other = alias[other];
                read_by_conv = other == root || other == x;
            }
            if (read_by_conv) continue;
            alias[y] = x;
            needs[y] = false;
            last[x] = last[y];
            last[root] = last[y];
            plan->inplace_count++;
            break;
        }
    }
    /* graph inputs and outputs (and inputs stored converted) first, one after another: they
     * hold what the caller sets and reads, so nothing shares their bytes; the intermediate
     * tensors are planned after them */
    int ns = 0;
    size_t naive = 0, io = 0;
    for (int t = 0; t < nt; t++) {
        if (!needs[t]) continue;
        size_t sz = align_up(lucid_tensor_nbytes(&g->tensors[t]));
        naive += sz;
        if (g->tensors[t].is_input || g->tensors[t].is_output || first[t] < 0) {
            plan->offsets[t] = io;
            io += sz;
            continue;
        }
        spans[ns++] = (span){.tensor = t, .first = first[t], .last = last[t], .size = sz};
    }
    for (int t = 0; t < nt; t++) /* outputs written in place were tensors of their own */
        if (alias[t] >= 0) naive += align_up(lucid_tensor_nbytes(&g->tensors[t]));
    qsort(spans, (size_t)ns, sizeof *spans, cmp_span);
    size_t peak = 0;
    for (int s = 0; s < ns; s++) {
        span *cur = &spans[s];
        int np = 0;
        for (int p = 0; p < s; p++)
            if (!(spans[p].last < cur->first || cur->last < spans[p].first))
                placed[np++] = &spans[p];
        qsort(placed, (size_t)np, sizeof *placed, cmp_offset);
        size_t offset = 0;
        for (int p = 0; p < np; p++) {
            if (placed[p]->offset >= offset + cur->size) break; /* fits in the gap */
            size_t end = placed[p]->offset + placed[p]->size;
            if (end > offset) offset = end;
        }
        cur->offset = offset;
        if (offset + cur->size > peak) peak = offset + cur->size;
        plan->offsets[cur->tensor] = io + offset;
    }
    for (int t = 0; t < nt; t++) {
        int root = t;
        while (alias[root] >= 0) root = alias[root];
        if (root != t) plan->offsets[t] = plan->offsets[root];
    }
    plan->arena_size = io + peak;
    plan->io_size = io;
    plan->naive_size = naive;
done:
    free(first);
    free(last);
    free(alias);
    free(needs);
    free(spans);
    free(placed);
    return st;
}
