/* layout.c - the builder's layout choice. Tactics read and write a layout (plain NCHW or
 * channels-last NHWC); neighbours that disagree need a Reorder between them, which costs a
 * pass over the tensor. Once every layer's candidates are timed, an assignment of layouts to
 * layers is searched: the plan's total is every layer's best median in its layout plus every
 * reorder the assignment needs (measured once per tensor and direction; a channels-last graph
 * output needs one back). Three starting assignments (all plain, all channels-last where
 * possible, each layer's faster layout) are improved by flipping single layers while the
 * total drops, and the cheapest is kept if it beats all plain by more than 2%. The chosen
 * layouts are then made real: Reorder nodes are inserted, each tensor converted at most once
 * per layout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/reorder.h"
#include "core/util.h"
#include "ops/layout.h"
#include "ops/op.h"
#include "passes/node_edit.h"
#include "plan/plan.h"

/* An assignment must beat all-plain by this share of its estimate to be kept: reorders timed
 * alone, on warm caches, are optimistic, and a marginal gain is within timing noise. */
#define LAYOUT_MIN_GAIN 0.02

/* The activation dtypes a channels-last layout holds: float32, the 16-bit floats of FP16/BF16
 * plans, and the int8/uint8 of quantized networks (QConv, MaxPool on int8), so that they stay
 * channels-last end to end. */
static bool nhwc_dtype(lucid_dtype t)
{
    return t == LUCID_DTYPE_FLOAT || t == LUCID_DTYPE_FLOAT16 || t == LUCID_DTYPE_BFLOAT16 ||
           t == LUCID_DTYPE_INT8 || t == LUCID_DTYPE_UINT8;
}

/* Can node n's activations be channels-last? Its non-constant inputs and its outputs must be
 * 4-D float32, 16-bit float, int8 or uint8, and its outputs neither views nor holding views (a
 * view's bytes are a plain slice of another tensor). */
bool lucid_layout_nhwc_eligible(const lucid_graph *g, const lucid_node *n)
{
    if (n->elided || n->op == LUCID_OP_REORDER) return false;
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, k);
        if (!t || t->data) continue;
        if (t->rank != 4 || !nhwc_dtype(t->dtype)) return false;
    }
    for (int k = 0; k < n->n_outputs; k++) {
        int o = n->outputs[k];
        if (o < 0) continue;
        const lucid_ir_tensor *t = &g->tensors[o];
        if (t->rank != 4 || !nhwc_dtype(t->dtype) || t->view_of >= 0) return false;
        for (int v = 0; v < g->n_tensors; v++)
            if (g->tensors[v].view_of == o) return false;
    }
    return true;
}

/* Measured reorder costs per tensor and direction, computed on first use. */
typedef struct cost_table {
    double *ms; /* 2 per tensor: to NHWC, to plain; < -1.5 not measured yet */
} cost_table;

static double reorder_cost(cost_table *ct, const lucid_graph *g, int t, bool to_nhwc,
                           lucid_threadpool *pool)
{
    double *slot = &ct->ms[2 * t + (to_nhwc ? 0 : 1)];
    if (*slot < -1.5) {
        const lucid_ir_tensor *x = &g->tensors[t];
        int64_t spatial = 1;
        for (int d = 2; d < x->rank; d++) spatial *= x->dims[d];
        *slot = lucid_cpu_reorder_ms(x->dims[0], x->dims[1], spatial,
                                     lucid_dtype_size(x->dtype), to_nhwc, pool, 5.0);
        if (*slot < 0) *slot = INFINITY;
    }
    return *slot;
}

/* The search state: per node, its best median in each layout (INFINITY: none there). */
typedef struct layout_search {
    const lucid_graph *g;
    double (*ms)[2];
    unsigned char *runs;
    cost_table ct;
    lucid_threadpool *pool;
} layout_search;

/* The whole plan's cost under assignment a (per node, 1 for channels-last): every layer's
 * best median in its layout, plus one reorder per tensor and layout its readers need that
 * its producer does not write, plus the reorder back of channels-last graph outputs. */
static double total_cost(layout_search *ls, const unsigned char *a)
{
    const lucid_graph *g = ls->g;
    double sum = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (ls->runs[i]) sum += ls->ms[i][a[i]];
    for (int t = 0; t < g->n_tensors; t++) {
        const lucid_ir_tensor *x = &g->tensors[t];
        if (x->data || x->rank < 3) continue;
        int p = x->producer >= 0 && ls->runs[x->producer] ? a[x->producer] : 0;
        bool need[2] = {false, false};
        for (int c = 0; c < x->n_consumers; c++) {
            int q = x->consumers[c];
            if (ls->runs[q]) need[a[q]] = true;
        }
        if (x->is_output) need[0] = true;
        for (int l = 0; l < 2; l++)
            if (need[l] && l != p) sum += reorder_cost(&ls->ct, g, t, l == 1, ls->pool);
    }
    return sum;
}

/* Flips single layers while that lowers the total, at most `sweeps` times over the graph. */
static double improve(layout_search *ls, unsigned char *a, double cost, int sweeps)
{
    const lucid_graph *g = ls->g;
    for (int s = 0; s < sweeps; s++) {
        bool changed = false;
        for (int i = 0; i < g->n_nodes; i++) {
            if (!ls->runs[i] || !isfinite(ls->ms[i][1 - a[i]])) continue;
            a[i] ^= 1;
            double c = total_cost(ls, a);
            if (c < cost - 1e-9) {
                cost = c;
                changed = true;
            } else {
                a[i] ^= 1;
            }
        }
        if (!changed) break;
    }
    return cost;
}

lucid_status lucid_plan_choose_layouts(lucid_plan_t *plan, const lucid_build_options *o,
                                       lucid_threadpool *pool, int *n_nhwc, lucid_error *err)
{
    lucid_graph *g = plan->model->graph;
    *n_nhwc = 0;
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i].layout = LUCID_LAYOUT_PLAIN;
    /* deterministic builds choose by a rule, never by timing (which noise could flip between
     * builds): a layer runs channels-last when only channels-last tactics (besides the
     * reference kernel) support it, as int8 convolutions; a layer that supports both follows
     * the layout of its first input's producer, so chains stay channels-last without
     * reorders; everything else stays plain NCHW */
    if (o->deterministic) {
        for (int i = 0; i < g->n_nodes; i++) {
            const lucid_layer *l = &plan->layers[i];
            if (!lucid_plan_node_runs(g, i) || !l->cands) continue;
            bool plain = false, nhwc = false;
            for (int k = 0; k < l->n_cands; k++) {
                const lucid_candidate *c = &l->cands[k];
                if (!c->supported || c->tactic == &lucid_tactic_reference) continue;
                if (c->tactic->in_layout == LUCID_LAYOUT_NHWC)
                    nhwc = true;
                else
                    plain = true;
            }
            bool follow = false;
            if (nhwc && plain && g->nodes[i].n_inputs > 0 && g->nodes[i].inputs[0] >= 0) {
                int p = g->tensors[g->nodes[i].inputs[0]].producer;
                follow = p >= 0 && g->nodes[p].layout == LUCID_LAYOUT_NHWC;
            }
            if (nhwc && (!plain || follow)) {
                g->nodes[i].layout = LUCID_LAYOUT_NHWC;
                (*n_nhwc)++;
            }
        }
        return LUCID_STATUS_OK;
    }
    const size_t n = (size_t)g->n_nodes + 1;
    layout_search ls = {.g = g, .pool = pool};
    ls.ms = malloc(sizeof *ls.ms * n);
    ls.runs = calloc(n, 1);
    ls.ct.ms = malloc(sizeof(double) * 2 * ((size_t)g->n_tensors + 1));
    unsigned char *a = calloc(n, 1), *best = calloc(n, 1);
    lucid_status st = LUCID_STATUS_OK;
    if (!ls.ms || !ls.runs || !ls.ct.ms || !a || !best) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int t = 0; t < 2 * g->n_tensors; t++) ls.ct.ms[t] = -2;
    bool any_nhwc = false;
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_layer *l = &plan->layers[i];
        ls.ms[i][0] = ls.ms[i][1] = INFINITY;
        if (!lucid_plan_node_runs(g, i) || !l->cands) continue;
        ls.runs[i] = 1;
        bool has_fast = false;
        for (int k = 0; k < l->n_cands; k++)
            has_fast |= l->cands[k].supported && l->cands[k].tactic != &lucid_tactic_reference;
        for (int k = 0; k < l->n_cands; k++) {
            const lucid_candidate *c = &l->cands[k];
            if (!c->supported || (c->tactic == &lucid_tactic_reference && has_fast)) continue;
            int lay = c->tactic->in_layout == LUCID_LAYOUT_NHWC ? 1 : 0;
            double m = c->median_ms > 0 ? c->median_ms : 0; /* untimed: a single candidate */
            if (m < ls.ms[i][lay]) ls.ms[i][lay] = m;
        }
        if (!isfinite(ls.ms[i][0]) && !isfinite(ls.ms[i][1])) ls.ms[i][0] = 0;
        if (!isfinite(ls.ms[i][0])) a[i] = 1; /* only channels-last runs it */
        any_nhwc |= isfinite(ls.ms[i][1]);
    }
    if (!any_nhwc) goto done;
    /* three starting points, each improved by single flips: everything plain, everything
     * channels-last that can be, and each layer's faster layout ignoring reorders */
    double best_cost = INFINITY;
    for (int i = 0; i < g->n_nodes; i++) a[i] = ls.runs[i] && !isfinite(ls.ms[i][0]);
    plan->plain_est_ms = total_cost(&ls, a);
    for (int start = 0; start < 3; start++) {
        for (int i = 0; i < g->n_nodes; i++) {
            if (!ls.runs[i]) continue;
            bool can[2] = {isfinite(ls.ms[i][0]), isfinite(ls.ms[i][1])};
            a[i] = start == 0 ? !can[0] : start == 1 ? can[1] : (ls.ms[i][1] < ls.ms[i][0]);
        }
        double c = improve(&ls, a, total_cost(&ls, a), 8);
        if (c < best_cost) {
            best_cost = c;
            memcpy(best, a, n);
        }
    }
    if (best_cost > plan->plain_est_ms * (1 - LAYOUT_MIN_GAIN)) {
        /* not worth it: keep plain (what only runs channels-last stays so) */
        for (int i = 0; i < g->n_nodes; i++) best[i] = ls.runs[i] && !isfinite(ls.ms[i][0]);
        best_cost = plan->plain_est_ms;
    }
    plan->layout_est_ms = best_cost;
    for (int i = 0; i < g->n_nodes; i++)
        if (ls.runs[i] && best[i]) {
            g->nodes[i].layout = LUCID_LAYOUT_NHWC;
            (*n_nhwc)++;
        }
done:
    free(ls.ms);
    free(ls.runs);
    free(ls.ct.ms);
    free(a);
    free(best);
    return st;
}

/* Adds node Reorder(from) -> a new tensor in layout `to`; returns the new tensor or -1. */
static int add_reorder(lucid_graph *g, int from, int into, bool to_nhwc, lucid_error *err)
{
    char base[256];
    if (into < 0) {
        snprintf(base, sizeof base, "%s/%s", g->tensors[from].name, to_nhwc ? "nhwc" : "nchw");
        into = lucid_graph_new_tensor(g, base, err);
        if (into < 0) return -1;
    }
    char name[320];
    snprintf(name, sizeof name, "Reformat %s to %s", g->tensors[from].name,
             to_nhwc ? "NHWC" : "NCHW");
    int node = lucid_graph_add_node(g, name, "Reorder", "lucid", 1, &from, 1, &into, 1, err);
    if (node < 0) return -1;
    if (lucid_node_set_string(&g->nodes[node], "to", to_nhwc ? "NHWC" : "NCHW", err)) return -1;
    g->nodes[node].layout = LUCID_LAYOUT_PLAIN;
    g->tensors[into].layout = to_nhwc ? LUCID_LAYOUT_NHWC : LUCID_LAYOUT_PLAIN;
    return into;
}

lucid_status lucid_plan_insert_reorders(lucid_plan_t *plan, lucid_error *err)
{
    lucid_graph *g = plan->model->graph;
    const int n_nodes = g->n_nodes, n_tensors = g->n_tensors;
    /* per original tensor: its converted copy (-1 none yet) */
    int *other = malloc(sizeof(int) * ((size_t)n_tensors + 1));
    if (!other) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    for (int t = 0; t < n_tensors; t++) {
        other[t] = -1;
        g->tensors[t].layout = LUCID_LAYOUT_PLAIN;
    }
    lucid_status st = LUCID_STATUS_OK;
    /* outputs of channels-last layers are channels-last; a graph output keeps its name and
     * is written by a Reorder from a channels-last copy */
    for (int i = 0; i < n_nodes && !st; i++) {
        lucid_node *n = &g->nodes[i];
        if (n->layout != LUCID_LAYOUT_NHWC) continue;
        for (int q = 0; q < g->nodes[i].n_outputs && !st; q++) {
            n = &g->nodes[i]; /* adding nodes may move the array */
            int t = n->outputs[q];
            if (t < 0) continue;
            if (!g->tensors[t].is_output) {
                g->tensors[t].layout = LUCID_LAYOUT_NHWC;
                continue;
            }
            char base[256];
            snprintf(base, sizeof base, "%s/nhwc", g->tensors[t].name);
            int t2 = lucid_graph_new_tensor(g, base, err);
            if (t2 < 0) {
                st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
                break;
            }
            n = &g->nodes[i]; /* the arrays may have moved */
            n->outputs[q] = t2;
            g->tensors[t2].layout = LUCID_LAYOUT_NHWC;
            other[t] = t2;
            if (add_reorder(g, t2, t, false, err) < 0) st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
        }
    }
    /* every input in the layout its reader needs */
    for (int i = 0; i < n_nodes && !st; i++) {
        if (!lucid_plan_node_runs(g, i)) continue;
        const int need = g->nodes[i].layout;
        for (int q = 0; q < g->nodes[i].n_inputs && !st; q++) {
            int t = g->nodes[i].inputs[q];
            if (t < 0 || t >= n_tensors || g->tensors[t].data || g->tensors[t].rank < 3) continue;
            if (g->tensors[t].layout == need) continue;
            if (other[t] < 0) {
                int t2 = add_reorder(g, t, -1, need == LUCID_LAYOUT_NHWC, err);
                if (t2 < 0) {
                    st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
                    break;
                }
                other[t] = t2;
            }
            g->nodes[i].inputs[q] = other[t];
        }
    }
    free(other);
    if (st) return st;
    /* producers, consumers and the order change; shapes are inferred again (a Reorder keeps
     * the logical shape) */
    return lucid_graph_finalize(g, err);
}

static const char *layout_name(int layout)
{
    return layout == LUCID_LAYOUT_NHWC ? "NHWC" : "plain NCHW";
}

lucid_status lucid_plan_derive_layouts(lucid_plan_t *plan, lucid_error *err)
{
    lucid_graph *g = plan->model->graph;
    for (int t = 0; t < g->n_tensors; t++) g->tensors[t].layout = LUCID_LAYOUT_PLAIN;
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        const bool runs = lucid_plan_node_runs(g, i);
        const lucid_tactic *tac = plan->layers[i].tactic;
        int in_l = LUCID_LAYOUT_PLAIN, out_l = LUCID_LAYOUT_PLAIN;
        if (runs && n->op == LUCID_OP_REORDER) {
            bool to = lucid_reorder_to_nhwc(n);
            in_l = to ? LUCID_LAYOUT_PLAIN : LUCID_LAYOUT_NHWC;
            out_l = to ? LUCID_LAYOUT_NHWC : LUCID_LAYOUT_PLAIN;
        } else if (runs && tac) {
            in_l = tac->in_layout;
            out_l = tac->out_layout;
        }
        n->layout = n->op == LUCID_OP_REORDER ? LUCID_LAYOUT_PLAIN : in_l;
        if (n->op != LUCID_OP_REORDER && in_l != LUCID_LAYOUT_PLAIN &&
            !lucid_layout_nhwc_eligible(g, n))
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "tactic '%s' runs channels-last, but the layer's tensors "
                                     "cannot be (not 4-D float32/int8/uint8, or views)",
                                     tac ? tac->name : "");
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0 || g->tensors[t].data) continue;
            int want = g->tensors[t].rank >= 3 ? in_l : LUCID_LAYOUT_PLAIN;
            if (g->tensors[t].layout != want)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "input '%s' is stored %s, but %s reads %s",
                                         g->tensors[t].name, layout_name(g->tensors[t].layout),
                                         runs && tac ? tac->name : "this layer",
                                         layout_name(want));
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            if (t < 0) continue;
            if (out_l != LUCID_LAYOUT_PLAIN && g->tensors[t].is_output)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "graph output '%s' would be stored %s",
                                         g->tensors[t].name, layout_name(out_l));
            g->tensors[t].layout = out_l;
        }
    }
    return LUCID_STATUS_OK;
}
