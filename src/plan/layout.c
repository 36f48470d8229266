/* layout.c - the builder's layout choice. Tactics read and write a layout: plain NCHW,
 * channels-last NHWC, or NCHW16C (oneDNN's nChw16c: blocks of 16 channels, each stored
 * channels-last); neighbours that disagree need a Reorder between them, which costs a pass
 * over the tensor. Once every layer's candidates are timed, an assignment of layouts to layers
 * is searched, once with NHWC and once with NCHW16C as the alternative to plain, and the
 * cheaper kept: the plan's total is every layer's best median in its layout plus every reorder
 * the assignment needs (measured once per tensor and direction; a graph output needs one back
 * to plain). Three starting assignments (all plain, all alternative where possible, each
 * layer's faster layout) are improved by flipping single layers while the total drops, and the
 * cheapest is kept if it beats all plain by more than 2%. The chosen layouts are then made
 * real: Reorder nodes are inserted, each tensor converted at most once per layout.
 *
 * NCHW16C keeps the byte offsets of channel slices that are multiples of 16 channels, so a
 * Concat whose producers write straight into its output (concat_elision) or a Split whose
 * outputs are slices of its input (split_views) stays free: the producers writing one buffer
 * form a group whose layers always share a layout. Tensors an NCHW16C layer reads or writes
 * that cannot be blocked (channels not a multiple of 16, as an RGB input) stay plain. */
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

/* The cost the search gives the reference kernel (untimed) on a layer other tactics run, in
 * layouts this assignment may not give them: a last resort, so that groups whose members take
 * different layouts still have an assignment, never chosen where a timed tactic fits. */
#define REF_PENALTY_MS 1e6

/* The activation dtypes a channels-last layout holds: float32, the 16-bit floats of FP16/BF16
 * plans, and the int8/uint8 of quantized networks (QConv, MaxPool on int8), so that they stay
 * channels-last end to end. */
static bool nhwc_dtype(lucid_dtype t)
{
    return t == LUCID_DTYPE_FLOAT || t == LUCID_DTYPE_FLOAT16 || t == LUCID_DTYPE_BFLOAT16 ||
           t == LUCID_DTYPE_INT8 || t == LUCID_DTYPE_UINT8;
}

/* Is view v (of tensor p) a slice of whole channel blocks of p: both 4-D float32 tensors that
 * can be blocked, with the same batch of 1 and the same spatial size, at an offset of whole
 * blocks? Then its bytes are the same slice in plain NCHW and NCHW16C. */
static bool block_slice(const lucid_ir_tensor *v, const lucid_ir_tensor *p)
{
    if (!lucid_layout_blockable(v) || !lucid_layout_blockable(p)) return false;
    if (v->dims[0] != 1 || p->dims[0] != 1 || v->dims[2] != p->dims[2] ||
        v->dims[3] != p->dims[3])
        return false;
    size_t block = (size_t)(16 * v->dims[2] * v->dims[3]) * sizeof(float);
    return v->view_offset % block == 0;
}

/* Can tensor t (an output of a layer) be stored in `layout` given the views it is part of? */
static bool views_allow(const lucid_graph *g, int t, lucid_layout layout)
{
    const lucid_ir_tensor *x = &g->tensors[t];
    if (x->view_of >= 0 &&
        (layout != LUCID_LAYOUT_NCHW16C || !block_slice(x, &g->tensors[x->view_of])))
        return false;
    for (int v = 0; v < g->n_tensors; v++)
        if (g->tensors[v].view_of == t &&
            (layout != LUCID_LAYOUT_NCHW16C || !block_slice(&g->tensors[v], x)))
            return false;
    return true;
}

bool lucid_layout_eligible(const lucid_graph *g, const lucid_node *n, lucid_layout layout)
{
    if (layout == LUCID_LAYOUT_PLAIN) return true;
    if (n->elided || n->op == LUCID_OP_REORDER) return false;
    bool blocked_any = false;
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, k);
        if (!t || t->data) continue;
        if (t->rank != 4) return false;
        if (layout == LUCID_LAYOUT_NHWC && !nhwc_dtype(t->dtype)) return false;
        if (layout == LUCID_LAYOUT_NCHW16C && t->dtype != LUCID_DTYPE_FLOAT) return false;
        blocked_any |= lucid_layout_blockable(t);
    }
    for (int k = 0; k < n->n_outputs; k++) {
        int o = n->outputs[k];
        if (o < 0) continue;
        const lucid_ir_tensor *t = &g->tensors[o];
        if (t->rank != 4) return false;
        if (layout == LUCID_LAYOUT_NHWC && !nhwc_dtype(t->dtype)) return false;
        if (layout == LUCID_LAYOUT_NCHW16C && t->dtype != LUCID_DTYPE_FLOAT) return false;
        blocked_any |= lucid_layout_blockable(t);
        if (!views_allow(g, o, layout)) return false;
    }
    return layout != LUCID_LAYOUT_NCHW16C || blocked_any;
}

bool lucid_layout_nhwc_eligible(const lucid_graph *g, const lucid_node *n)
{
    return lucid_layout_eligible(g, n, LUCID_LAYOUT_NHWC);
}

/* Measured reorder costs per tensor and direction, computed on first use. */
typedef struct cost_table {
    double *ms; /* 2 per tensor: to the alternative, to plain; < -1.5 not measured yet */
} cost_table;

/* The search state: per node, its best median plain and in the alternative layout (INFINITY:
 * none there), and its group (the nodes that must share its layout). */
typedef struct layout_search {
    const lucid_graph *g;
    lucid_layout alt;
    double (*ms)[2];
    unsigned char *runs;
    int *group; /* per node: the group's first node */
    cost_table ct;
    lucid_threadpool *pool;
    bool oom; /* a reorder could not be measured for lack of memory: the search is void */
} layout_search;

static double reorder_cost(layout_search *ls, int t, bool to_alt)
{
    double *slot = &ls->ct.ms[2 * t + (to_alt ? 0 : 1)];
    if (*slot < -1.5) {
        const lucid_ir_tensor *x = &ls->g->tensors[t];
        int64_t spatial = 1;
        for (int d = 2; d < x->rank; d++) spatial *= x->dims[d];
        *slot = lucid_cpu_reorder_ms(x->dims[0], x->dims[1], spatial, lucid_dtype_size(x->dtype),
                                     ls->alt, to_alt, ls->pool, 5.0);
        if (*slot < -1.5) ls->oom = true;
        if (*slot < 0) *slot = INFINITY;
    }
    return *slot;
}

static lucid_layout node_layout(const layout_search *ls, const unsigned char *a, int i)
{
    return a[i] ? ls->alt : LUCID_LAYOUT_PLAIN;
}

/* The layout tensor t's bytes are written in under assignment a: its producer's, or for a
 * view that no layer writes (a Split's slice) its parent's, or for a buffer written only
 * through views (an elided Concat's output) that of the layers writing its slices. */
static lucid_layout written_layout(const layout_search *ls, const unsigned char *a, int t,
                                   int depth)
{
    const lucid_graph *g = ls->g;
    const lucid_ir_tensor *x = &g->tensors[t];
    if (x->producer >= 0 && ls->runs[x->producer])
        return lucid_layout_of_tensor(x, node_layout(ls, a, x->producer));
    if (depth > 8) return LUCID_LAYOUT_PLAIN;
    if (x->view_of >= 0) {
        lucid_layout l = written_layout(ls, a, x->view_of, depth + 1);
        return l == LUCID_LAYOUT_NCHW16C && !lucid_layout_blockable(x) ? LUCID_LAYOUT_PLAIN : l;
    }
    for (int v = 0; v < g->n_tensors; v++)
        if (g->tensors[v].view_of == t && g->tensors[v].producer >= 0 &&
            ls->runs[g->tensors[v].producer])
            return written_layout(ls, a, v, depth + 1);
    return LUCID_LAYOUT_PLAIN;
}

/* The whole plan's cost under assignment a (per node, 1 for the alternative layout): every
 * layer's best median in its layout, plus one reorder per tensor and layout its readers need
 * that is not the one it is written in, plus the reorder back of graph outputs. */
static double total_cost(layout_search *ls, const unsigned char *a)
{
    const lucid_graph *g = ls->g;
    double sum = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (ls->runs[i]) sum += ls->ms[i][a[i]];
    for (int t = 0; t < g->n_tensors; t++) {
        const lucid_ir_tensor *x = &g->tensors[t];
        if (x->data || x->rank < 3) continue;
        lucid_layout w = written_layout(ls, a, t, 0);
        bool need[2] = {false, false}; /* plain, alternative */
        for (int c = 0; c < x->n_consumers; c++) {
            int q = x->consumers[c];
            if (ls->runs[q]) need[lucid_layout_of_tensor(x, node_layout(ls, a, q)) != 0] = true;
        }
        if (x->is_output) need[0] = true;
        for (int l = 0; l < 2; l++)
            if (need[l] && (l != 0) != (w != LUCID_LAYOUT_PLAIN))
                sum += reorder_cost(ls, t, l == 1);
    }
    return sum;
}

/* Sets every node of i's group to layout bit v. */
static void set_group(const layout_search *ls, unsigned char *a, int i, unsigned char v)
{
    for (int j = 0; j < ls->g->n_nodes; j++)
        if (ls->group[j] == ls->group[i]) a[j] = v;
}

/* Flips single groups while that lowers the total, at most `sweeps` times over the graph. */
static double improve(layout_search *ls, unsigned char *a, double cost, int sweeps)
{
    const lucid_graph *g = ls->g;
    for (int s = 0; s < sweeps; s++) {
        bool changed = false;
        for (int i = 0; i < g->n_nodes; i++) {
            if (!ls->runs[i] || ls->group[i] != i) continue;
            unsigned char old = a[i];
            set_group(ls, a, i, old ^ 1);
            double c = total_cost(ls, a);
            if (c < cost - 1e-9) {
                cost = c;
                changed = true;
            } else {
                set_group(ls, a, i, old);
            }
        }
        if (!changed) break;
    }
    return cost;
}

static int find_root(int *parent, int i)
{
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
}

/* Groups: the running producers of the slices of one buffer (an elided Concat's inputs). Each
 * node's group is its lowest-index member, so that a group is flipped once, by that member. */
static void make_groups(layout_search *ls)
{
    const lucid_graph *g = ls->g;
    for (int i = 0; i < g->n_nodes; i++) ls->group[i] = i;
    for (int v = 0; v < g->n_tensors; v++) {
        const lucid_ir_tensor *x = &g->tensors[v];
        if (x->view_of < 0 || x->producer < 0 || !ls->runs[x->producer]) continue;
        for (int w = v + 1; w < g->n_tensors; w++) {
            const lucid_ir_tensor *y = &g->tensors[w];
            if (y->view_of != x->view_of || y->producer < 0 || !ls->runs[y->producer]) continue;
            int r1 = find_root(ls->group, x->producer), r2 = find_root(ls->group, y->producer);
            if (r1 != r2) ls->group[r1 > r2 ? r1 : r2] = r1 < r2 ? r1 : r2;
        }
        const lucid_ir_tensor *p = &g->tensors[x->view_of];
        if (p->producer >= 0 && ls->runs[p->producer]) {
            int r1 = find_root(ls->group, x->producer), r2 = find_root(ls->group, p->producer);
            if (r1 != r2) ls->group[r1 > r2 ? r1 : r2] = r1 < r2 ? r1 : r2;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) ls->group[i] = find_root(ls->group, i);
}

/* A starting assignment made consistent: a group takes the alternative layout when all its
 * members can and `want` says so for its members' summed medians (0 all plain, 1 all
 * alternative, 2 the faster sum), or one of them runs only in the alternative. */
static void start_assignment(const layout_search *ls, unsigned char *a, int want)
{
    const lucid_graph *g = ls->g;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!ls->runs[i] || ls->group[i] != i) continue;
        bool can_alt = true, must_alt = false;
        double sum[2] = {0, 0};
        for (int j = i; j < g->n_nodes; j++) {
            if (ls->group[j] != i || !ls->runs[j]) continue;
            can_alt &= isfinite(ls->ms[j][1]);
            must_alt |= ls->ms[j][0] >= REF_PENALTY_MS && isfinite(ls->ms[j][1]);
            sum[0] += ls->ms[j][0];
            sum[1] += ls->ms[j][1];
        }
        /* a group that cannot take the alternative stays plain, its members that need the
         * alternative on the reference kernel (REF_PENALTY_MS) */
        bool alt = can_alt && (must_alt || want == 1 || (want == 2 && sum[1] < sum[0]));
        set_group(ls, a, i, alt);
    }
}

/* Searches the assignment with `alt` as the alternative to plain; returns its estimate (and
 * that of all plain in *plain_ms), the assignment in best. */
static double search_layouts(layout_search *ls, const lucid_plan_t *plan, unsigned char *a,
                             unsigned char *best, bool widest, double *plain_ms)
{
    const lucid_graph *g = plan->model->graph;
    const size_t n = (size_t)g->n_nodes + 1;
    bool any_alt = false;
    for (int t = 0; t < 2 * g->n_tensors; t++) ls->ct.ms[t] = -2;
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_layer *l = &plan->layers[i];
        ls->ms[i][0] = ls->ms[i][1] = INFINITY;
        ls->runs[i] = lucid_plan_node_runs(g, i) && l->cands;
        if (!ls->runs[i]) continue;
        /* where other tactics run the layer the reference kernel is not timed: it costs
         * REF_PENALTY_MS, a last resort */
        bool has_fast = false;
        for (int k = 0; k < l->n_cands; k++)
            has_fast |= l->cands[k].supported && l->cands[k].tactic != &lucid_tactic_reference;
        for (int k = 0; k < l->n_cands; k++) {
            const lucid_candidate *c = &l->cands[k];
            if (!c->supported) continue;
            if (c->tactic == &lucid_tactic_reference && has_fast) {
                if (REF_PENALTY_MS < ls->ms[i][0]) ls->ms[i][0] = REF_PENALTY_MS;
                continue;
            }
            int lay;
            if (c->tactic->in_layout == LUCID_LAYOUT_PLAIN)
                lay = 0;
            else if (c->tactic->in_layout == ls->alt)
                lay = 1;
            else
                continue;
            double m = c->median_ms > 0 ? c->median_ms : 0; /* untimed: a single candidate */
            if (m < ls->ms[i][lay]) ls->ms[i][lay] = m;
        }
        if (!isfinite(ls->ms[i][0]) && !isfinite(ls->ms[i][1])) ls->ms[i][0] = 0;
        any_alt |= isfinite(ls->ms[i][1]);
    }
    make_groups(ls);
    start_assignment(ls, a, 0);
    *plain_ms = total_cost(ls, a);
    memcpy(best, a, n);
    if (!any_alt) return *plain_ms;
    if (widest) {
        /* every group that can take the alternative takes it, no search */
        start_assignment(ls, best, 1);
        return total_cost(ls, best);
    }
    /* three starting points, each improved by single flips: everything plain, everything in
     * the alternative layout that can be, and each group's faster layout ignoring reorders */
    double best_cost = INFINITY;
    for (int start = 0; start < 3; start++) {
        start_assignment(ls, a, start);
        double c = improve(ls, a, total_cost(ls, a), 8);
        if (c < best_cost) {
            best_cost = c;
            memcpy(best, a, n);
        }
    }
    if (best_cost > *plain_ms * (1 - LAYOUT_MIN_GAIN)) {
        /* not worth it: keep plain (what only runs in the alternative stays so) */
        start_assignment(ls, best, 0);
        best_cost = *plain_ms;
    }
    return best_cost;
}

lucid_status lucid_plan_choose_layouts(lucid_plan_t *plan, const lucid_build_options *o,
                                       lucid_threadpool *pool, int force_layout, int *n_alt,
                                       lucid_error *err)
{
    lucid_graph *g = plan->model->graph;
    *n_alt = 0;
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i].layout = LUCID_LAYOUT_PLAIN;
    /* deterministic builds choose by a rule, never by timing (which noise could flip between
     * builds): a layer runs channels-last when only channels-last tactics (besides the
     * reference kernel) support it, as int8 convolutions; a layer that supports both follows
     * the layout of its first input's producer, so chains stay channels-last without
     * reorders; everything else stays plain NCHW (NCHW16C is never chosen by the rule) */
    if (force_layout == LUCID_LAYOUT_PLAIN) {
        /* all plain, except what runs only in another layout (as int8 convolutions; the
         * reference kernel counts only where nothing else runs the layer, as in the search) */
        for (int i = 0; i < g->n_nodes; i++) {
            const lucid_layer *l = &plan->layers[i];
            if (!lucid_plan_node_runs(g, i) || !l->cands) continue;
            bool plain = false;
            lucid_layout other = LUCID_LAYOUT_PLAIN;
            for (int k = 0; k < l->n_cands; k++) {
                const lucid_candidate *c = &l->cands[k];
                if (!c->supported || c->tactic == &lucid_tactic_reference) continue;
                if (c->tactic->in_layout == LUCID_LAYOUT_PLAIN)
                    plain = true;
                else
                    other = c->tactic->in_layout;
            }
            if (!plain && other != LUCID_LAYOUT_PLAIN) {
                g->nodes[i].layout = other;
                (*n_alt)++;
            }
        }
        return LUCID_STATUS_OK;
    }
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
                else if (c->tactic->in_layout == LUCID_LAYOUT_PLAIN)
                    plain = true;
            }
            bool follow = false;
            if (nhwc && plain && g->nodes[i].n_inputs > 0 && g->nodes[i].inputs[0] >= 0) {
                int p = g->tensors[g->nodes[i].inputs[0]].producer;
                follow = p >= 0 && g->nodes[p].layout == LUCID_LAYOUT_NHWC;
            }
            if (nhwc && (!plain || follow)) {
                g->nodes[i].layout = LUCID_LAYOUT_NHWC;
                (*n_alt)++;
            }
        }
        return LUCID_STATUS_OK;
    }
    const size_t n = (size_t)g->n_nodes + 1;
    layout_search ls = {.g = g, .pool = pool};
    ls.ms = malloc(sizeof *ls.ms * n);
    ls.runs = calloc(n, 1);
    ls.group = malloc(sizeof(int) * n);
    ls.ct.ms = malloc(sizeof(double) * 2 * ((size_t)g->n_tensors + 1));
    unsigned char *a = calloc(n, 1), *best = calloc(n, 1), *best16 = calloc(n, 1);
    lucid_status st = LUCID_STATUS_OK;
    if (!ls.ms || !ls.runs || !ls.group || !ls.ct.ms || !a || !best || !best16) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    const bool widest = force_layout >= 0 && (force_layout & LUCID_LAYOUT_WIDEST);
    const int only = force_layout < 0 ? -1 : force_layout & ~LUCID_LAYOUT_WIDEST;
    double plain_ms = 0, cost = INFINITY, cost16 = INFINITY;
    if (only != LUCID_LAYOUT_NCHW16C) {
        ls.alt = LUCID_LAYOUT_NHWC;
        cost = search_layouts(&ls, plan, a, best, widest, &plain_ms);
    }
    if (only != LUCID_LAYOUT_NHWC) {
        ls.alt = LUCID_LAYOUT_NCHW16C;
        cost16 = search_layouts(&ls, plan, a, best16, widest, &plain_ms);
    }
    if (ls.oom) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY,
                          "layout search: out of memory measuring a reorder");
        goto done;
    }
    if (!isfinite(cost) && !isfinite(cost16)) {
        st = lucid_errorf(err, LUCID_STATUS_INTERNAL,
                          "layout search: no assignment runs every layer in a layout one of "
                          "its tactics takes");
        goto done;
    }
    lucid_layout alt = LUCID_LAYOUT_NHWC;
    if (cost16 < cost) {
        alt = LUCID_LAYOUT_NCHW16C;
        cost = cost16;
        memcpy(best, best16, n);
    }
    bool any = false;
    for (int i = 0; i < g->n_nodes; i++)
        if (ls.runs[i] && best[i]) {
            g->nodes[i].layout = alt;
            (*n_alt)++;
            any = true;
        }
    if (any || cost < plain_ms) {
        plan->layout_est_ms = cost;
        plan->plain_est_ms = plain_ms;
    }
done:
    free(ls.ms);
    free(ls.runs);
    free(ls.group);
    free(ls.ct.ms);
    free(a);
    free(best);
    free(best16);
    return st;
}

/* Adds node Reorder(from) -> a new tensor (or `into`) converting layout lf to lt; returns
 * the output tensor or -1. */
static int add_reorder(lucid_graph *g, int from, int into, lucid_layout lf, lucid_layout lt,
                       lucid_error *err)
{
    char base[256];
    if (into < 0) {
        snprintf(base, sizeof base, "%s/%s", g->tensors[from].name,
                 lt == LUCID_LAYOUT_NHWC      ? "nhwc"
                 : lt == LUCID_LAYOUT_NCHW16C ? "nchw16c"
                                              : "nchw");
        into = lucid_graph_new_tensor(g, base, err);
        if (into < 0) return -1;
    }
    char name[320];
    snprintf(name, sizeof name, "Reformat %s to %s", g->tensors[from].name,
             lucid_layout_attr_name(lt));
    int node = lucid_graph_add_node(g, name, "Reorder", "lucid", 1, &from, 1, &into, 1, err);
    if (node < 0) return -1;
    if (lucid_node_set_string(&g->nodes[node], "to", lucid_layout_attr_name(lt), err)) return -1;
    /* the default `from` is NCHW towards another layout and NHWC back to NCHW */
    if (lt == LUCID_LAYOUT_PLAIN && lf != LUCID_LAYOUT_NHWC &&
        lucid_node_set_string(&g->nodes[node], "from", lucid_layout_attr_name(lf), err))
        return -1;
    g->nodes[node].layout = LUCID_LAYOUT_PLAIN;
    g->tensors[into].layout = (int)lt;
    return into;
}

/* The layout of the outputs of a node that does not run: an elided Split's slices are stored
 * as its input, an elided Concat's output as its inputs (its slices); plain otherwise.
 * *mixed is set when an elided Concat's inputs disagree. */
static lucid_layout elided_output_layout(const lucid_graph *g, const lucid_node *n, int t,
                                         bool *mixed)
{
    const lucid_ir_tensor *x = &g->tensors[t];
    if (!n->elided) return LUCID_LAYOUT_PLAIN;
    if (x->view_of >= 0)
        return lucid_layout_of_tensor(x, (lucid_layout)g->tensors[x->view_of].layout);
    int l = -1;
    for (int k = 0; k < n->n_inputs; k++) {
        int i = n->inputs[k];
        if (i < 0 || g->tensors[i].view_of != t) continue;
        if (l >= 0 && g->tensors[i].layout != l) *mixed = true;
        l = g->tensors[i].layout;
    }
    return l < 0 ? LUCID_LAYOUT_PLAIN : lucid_layout_of_tensor(x, (lucid_layout)l);
}

lucid_status lucid_plan_insert_reorders(lucid_plan_t *plan, lucid_error *err)
{
    lucid_graph *g = plan->model->graph;
    const int n_nodes = g->n_nodes, n_tensors = g->n_tensors;
    /* per original tensor: its converted copy (-1 none yet); a plan has one layout besides
     * plain, so a tensor is needed in at most two */
    int *other = malloc(sizeof(int) * ((size_t)n_tensors + 1));
    if (!other) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    for (int t = 0; t < n_tensors; t++) {
        other[t] = -1;
        g->tensors[t].layout = LUCID_LAYOUT_PLAIN;
    }
    lucid_status st = LUCID_STATUS_OK;
    /* outputs of layers stored in another layout are so (those that can be); a graph output
     * keeps its name and is written by a Reorder from a copy in that layout; in node order,
     * the slices of elided Splits and outputs of elided Concats as the buffer they share */
    for (int i = 0; i < n_nodes && !st; i++) {
        if (!lucid_plan_node_runs(g, i)) {
            bool mixed = false;
            for (int q = 0; q < g->nodes[i].n_outputs; q++) {
                int t = g->nodes[i].outputs[q];
                if (t >= 0) g->tensors[t].layout = elided_output_layout(g, &g->nodes[i], t, &mixed);
            }
            if (mixed)
                st = lucid_node_errorf(&g->nodes[i], err, LUCID_STATUS_INTERNAL,
                                       "the slices of this elided Concat disagree on layout");
            continue;
        }
        if (g->nodes[i].layout == LUCID_LAYOUT_PLAIN) continue;
        for (int q = 0; q < g->nodes[i].n_outputs && !st; q++) {
            lucid_node *n = &g->nodes[i]; /* adding nodes may move the array */
            int t = n->outputs[q];
            if (t < 0) continue;
            lucid_layout l = lucid_layout_of_tensor(&g->tensors[t], (lucid_layout)n->layout);
            if (!g->tensors[t].is_output || l == LUCID_LAYOUT_PLAIN) {
                g->tensors[t].layout = l;
                continue;
            }
            char base[256];
            snprintf(base, sizeof base, "%s/%s", g->tensors[t].name,
                     l == LUCID_LAYOUT_NHWC ? "nhwc" : "nchw16c");
            int t2 = lucid_graph_new_tensor(g, base, err);
            if (t2 < 0) {
                st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
                break;
            }
            n = &g->nodes[i]; /* the arrays may have moved */
            n->outputs[q] = t2;
            g->tensors[t2].layout = l;
            other[t] = t2;
            if (add_reorder(g, t2, t, l, LUCID_LAYOUT_PLAIN, err) < 0)
                st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
        }
    }
    /* every input in the layout its reader needs */
    for (int i = 0; i < n_nodes && !st; i++) {
        if (!lucid_plan_node_runs(g, i)) continue;
        for (int q = 0; q < g->nodes[i].n_inputs && !st; q++) {
            int t = g->nodes[i].inputs[q];
            if (t < 0 || t >= n_tensors || g->tensors[t].data || g->tensors[t].rank < 3) continue;
            const lucid_layout need =
                lucid_layout_of_tensor(&g->tensors[t], (lucid_layout)g->nodes[i].layout);
            const lucid_layout have = (lucid_layout)g->tensors[t].layout;
            if (have == need) continue;
            if (have != LUCID_LAYOUT_PLAIN && need != LUCID_LAYOUT_PLAIN) {
                st = lucid_node_errorf(&g->nodes[i], err, LUCID_STATUS_INTERNAL,
                                       "input '%s' is stored %s but read %s",
                                       g->tensors[t].name, lucid_layout_attr_name(have),
                                       lucid_layout_attr_name(need));
                break;
            }
            if (other[t] < 0) {
                int t2 = add_reorder(g, t, -1, have, need, err);
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
    return layout == LUCID_LAYOUT_NHWC      ? "NHWC"
           : layout == LUCID_LAYOUT_NCHW16C ? "NCHW16C"
                                            : "plain NCHW";
}

lucid_status lucid_plan_derive_layouts(lucid_plan_t *plan, lucid_error *err)
{
    lucid_graph *g = plan->model->graph;
    for (int t = 0; t < g->n_tensors; t++) g->tensors[t].layout = LUCID_LAYOUT_PLAIN;
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        const bool runs = lucid_plan_node_runs(g, i);
        const lucid_tactic *tac = plan->layers[i].tactic;
        lucid_layout in_l = LUCID_LAYOUT_PLAIN, out_l = LUCID_LAYOUT_PLAIN;
        const bool reorder = runs && n->op == LUCID_OP_REORDER;
        if (reorder) {
            lucid_reorder_layouts(n, &in_l, &out_l);
        } else if (runs && tac) {
            in_l = tac->in_layout;
            out_l = tac->out_layout;
        }
        n->layout = reorder ? LUCID_LAYOUT_PLAIN : in_l;
        if (!runs) {
            bool mixed = false;
            for (int k = 0; k < n->n_outputs; k++)
                if (n->outputs[k] >= 0)
                    g->tensors[n->outputs[k]].layout =
                        elided_output_layout(g, n, n->outputs[k], &mixed);
            if (mixed)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "the slices of this elided Concat disagree on layout");
            continue;
        }
        if (!reorder && in_l != LUCID_LAYOUT_PLAIN && !lucid_layout_eligible(g, n, in_l))
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "tactic '%s' runs %s, but the layer's tensors cannot be "
                                     "(not 4-D, a dtype the layout does not hold, or views it "
                                     "cannot keep)",
                                     tac ? tac->name : "", layout_name(in_l));
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0 || g->tensors[t].data) continue;
            lucid_layout want = reorder ? (g->tensors[t].rank >= 3 ? in_l : LUCID_LAYOUT_PLAIN)
                                        : lucid_layout_of_tensor(&g->tensors[t], in_l);
            if (g->tensors[t].layout != (int)want)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "input '%s' is stored %s, but %s reads %s",
                                         g->tensors[t].name, layout_name(g->tensors[t].layout),
                                         tac ? tac->name : "this layer", layout_name(want));
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            if (t < 0) continue;
            lucid_layout l = reorder ? out_l : lucid_layout_of_tensor(&g->tensors[t], out_l);
            if (l != LUCID_LAYOUT_PLAIN && g->tensors[t].is_output)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "graph output '%s' would be stored %s",
                                         g->tensors[t].name, layout_name(l));
            g->tensors[t].layout = l;
        }
    }
    return LUCID_STATUS_OK;
}
