/* builder.c - builds a plan: optimizes a copy of the model, times every supported tactic on
 * each layer's real shapes (or reads the timing cache), keeps one per layer by the fastest
 * or the deterministic rule, and plans memory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strmap.h"
#include "core/util.h"
#include "ops/op.h"
#include "plan/plan.h"
#include "passes/pass.h"
#include "quant/quant.h"
#include "plan/timing_cache.h"

void lucid_build_options_default(lucid_build_options *opts)
{
    memset(opts, 0, sizeof *opts);
    lucid_optimize_options_default(&opts->optimize);
}

static bool has_prefix(const char *name, const char *prefix)
{
    return strncmp(name, prefix, strlen(prefix)) == 0;
}

/* Is the tactic allowed by the include/exclude lists and the deterministic mode? *filtered:
 * refused by the include/exclude lists. */
static bool tactic_allowed(const lucid_tactic *t, const lucid_build_options *o, bool *filtered,
                           char *why, size_t len)
{
    *filtered = false;
    if (t->device != o->device) {
        snprintf(why, len, "runs on the %s, the plan on the %s", lucid_device_name(t->device),
                 lucid_device_name(o->device));
        return false;
    }
    if (t->device != LUCID_DEVICE_CPU) {
        /* the build's storage precision; TF32 math only where the build allows it */
        lucid_precision storage = lucid_device_storage(o->precision);
        if (t->precision != storage) {
            snprintf(why, len, "%s tactic, %s build", lucid_precision_name(t->precision),
                     lucid_precision_name(o->precision));
            return false;
        }
        if ((t->flags & LUCID_TACTIC_TF32) && o->precision != LUCID_PRECISION_TF32) {
            snprintf(why, len, "TF32 math, allowed only in tf32 builds");
            return false;
        }
    }
    if (t == &lucid_tactic_reference) return true;
    for (size_t i = 0; i < o->n_exclude_tactics; i++)
        if (has_prefix(t->name, o->exclude_tactics[i])) {
            snprintf(why, len, "excluded by --exclude-tactics %s", o->exclude_tactics[i]);
            *filtered = true;
            return false;
        }
    if (o->n_tactics) {
        bool ok = false;
        for (size_t i = 0; i < o->n_tactics && !ok; i++) ok = has_prefix(t->name, o->tactics[i]);
        if (!ok) {
            snprintf(why, len, "not in --tactics");
            *filtered = true;
            return false;
        }
    }
    if (o->deterministic && (t->flags & LUCID_TACTIC_NONDETERMINISTIC)) {
        snprintf(why, len, "not run-to-run deterministic (deterministic build)");
        return false;
    }
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Buffers to time one layer with: its inputs (constants as they are, others filled with
 * small deterministic values) and outputs. */
typedef struct layer_io {
    lucid_array in[64], out[64];
    void *owned[128];
    int n_owned;
} layer_io;

static void io_free(layer_io *io)
{
    for (int i = 0; i < io->n_owned; i++) free(io->owned[i]);
    io->n_owned = 0;
}

static lucid_status io_make(const lucid_graph *g, const lucid_node *n, layer_io *io,
                            lucid_error *err)
{
    memset(io, 0, sizeof *io);
    if (n->n_inputs > 64 || n->n_outputs > 64)
        return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                 "more than 64 inputs or outputs");
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, k);
        void *data = t ? t->data : NULL;
        if (t && !data) {
            size_t nb = lucid_tensor_nbytes(t);
            unsigned char *d = aligned_alloc(LUCID_PLAN_ALIGN, (nb + 63) / 64 * 64 + 64);
            if (!d) goto oom;
            /* values in [-1, 1) for floats, small non-negative integers otherwise: enough to
             * time with, and valid as indices for the ops that take them */
            int64_t ne = lucid_tensor_numel(t);
            for (int64_t i = 0; i < ne; i++) {
                bool fl = t->dtype == LUCID_DTYPE_FLOAT || t->dtype == LUCID_DTYPE_DOUBLE ||
                          t->dtype == LUCID_DTYPE_FLOAT16 || t->dtype == LUCID_DTYPE_BFLOAT16;
                bool q8 = t->dtype == LUCID_DTYPE_INT8 || t->dtype == LUCID_DTYPE_UINT8;
                double v = fl   ? (double)((i * 2654435761u) % 2000) / 1000.0 - 1.0
                           : q8 ? (double)((i * 2654435761u) % 100)
                                : 0.0;
                lucid_store_f64(t->dtype, d, i, v);
            }
            io->owned[io->n_owned++] = d;
            data = d;
        }
        lucid_tensor_array(t, data, &io->in[k]);
    }
    for (int k = 0; k < n->n_outputs; k++) {
        const lucid_ir_tensor *t = lucid_op_output(g, n, k);
        void *data = NULL;
        if (t) {
            size_t nb = lucid_tensor_nbytes(t);
            data = aligned_alloc(LUCID_PLAN_ALIGN, (nb + 63) / 64 * 64 + 64);
            if (!data) goto oom;
            io->owned[io->n_owned++] = data;
        }
        lucid_tensor_array(t, data, &io->out[k]);
    }
    return LUCID_STATUS_OK;
oom:
    io_free(io);
    return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory timing a layer");
}

/* One run of t, with the handles bound when it binds (as a context runs it). */
static lucid_status run_tactic(const lucid_tactic *t, const void *state, void *bound, layer_io *io,
                               const lucid_node *n, void *work, lucid_threadpool *pool,
                               lucid_error *err)
{
    return bound ? t->run_bound(state, bound, io->in, n->n_inputs, io->out, n->n_outputs, work,
                                pool, err)
                 : t->run(state, io->in, n->n_inputs, io->out, n->n_outputs, work, pool, err);
}

/* Median ms of one tactic on one layer: one warm-up run, then runs until the budget is spent
 * (at least 3, at most 50). A tactic that binds runs on handles bound for the timing, as a
 * context runs it. */
static lucid_status time_tactic(const lucid_tactic *t, const void *state, layer_io *io,
                                const lucid_node *n, void *work, lucid_threadpool *pool,
                                double budget_ms, double *median_ms, lucid_error *err)
{
    double samples[50];
    int count = 0;
    void *bound = NULL;
    lucid_status st = t->bind ? t->bind(state, &bound, err) : LUCID_STATUS_OK;
    if (!st) st = run_tactic(t, state, bound, io, n, work, pool, err);
    double start = lucid_time_now();
    while (!st && count < 50) {
        double t0 = lucid_time_now();
        st = run_tactic(t, state, bound, io, n, work, pool, err);
        if (st) break;
        samples[count++] = (lucid_time_now() - t0) * 1e3;
        if (count >= 3 && (lucid_time_now() - start) * 1e3 >= budget_ms) break;
    }
    if (bound) t->unbind(bound);
    if (st) return st;
    qsort(samples, (size_t)count, sizeof samples[0], cmp_double);
    *median_ms = count % 2 ? samples[count / 2]
                           : 0.5 * (samples[count / 2 - 1] + samples[count / 2]);
    return LUCID_STATUS_OK;
}

static void layer_free(lucid_layer *l)
{
    if (l->tactic && l->state) l->tactic->release(l->state);
    free(l->cands);
    memset(l, 0, sizeof *l);
}

void lucid_plan_destroy(lucid_plan_t *plan)
{
    if (!plan) return;
    if (plan->layers && plan->model)
        for (int i = 0; i < plan->model->graph->n_nodes; i++) layer_free(&plan->layers[i]);
    if (plan->backend) {
        plan->backend->plan_release(plan);
        if (plan->dev) plan->backend->close(plan->dev);
    }
    free(plan->layers);
    free(plan->offsets);
    lucid_opt_report_destroy(plan->opt_report);
    lucid_model_destroy(plan->model);
    lucid_precision_job_free(plan->job);
    free(plan->job);
    free(plan);
}

/* Times the candidates of layer i and, when final, chooses and prepares its tactic. The
 * first pass (final false) times every candidate whatever its layout; the final pass keeps
 * only candidates of the layout the layer was given (lucid_plan_choose_layouts) and reads
 * their medians back from the cache. */
static lucid_status build_layer(lucid_plan_t *plan, int i, const lucid_build_options *o,
                                const lucid_cpu_features *cpu, lucid_threadpool *pool,
                                lucid_timing_cache *cache, const lucid_tactic *const *extra,
                                size_t n_extra, bool final, lucid_error *err)
{
    const lucid_graph *g = plan->model->graph;
    const lucid_node *n = &g->nodes[i];
    lucid_layer *l = &plan->layers[i];
    size_t nt = n_extra + lucid_tactic_count();
    l->cands = calloc(nt, sizeof *l->cands);
    if (!l->cands) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    int n_supported_fast = 0;
    for (size_t k = 0; k < nt; k++) {
        lucid_candidate *c = &l->cands[l->n_cands++];
        c->tactic = k < n_extra ? extra[k] : lucid_tactic_at(k - n_extra);
        c->median_ms = -1;
        if (!tactic_allowed(c->tactic, o, &c->filtered, c->why, sizeof c->why)) continue;
        const int layout = c->tactic->in_layout;
        if (layout != LUCID_LAYOUT_PLAIN && !lucid_layout_eligible(g, n, layout)) {
            snprintf(c->why, sizeof c->why,
                     layout == LUCID_LAYOUT_NHWC
                         ? "channels-last needs 4-D float32 activations whose outputs are not "
                           "views"
                         : "NCHW16C needs 4-D float32 activations, channels a multiple of 16 "
                           "and views only of whole channel blocks");
            continue;
        }
        if (final && n->op != LUCID_OP_REORDER && layout != n->layout) {
            snprintf(c->why, sizeof c->why, "the layer runs %s (layout chosen with reorders "
                                            "costed)",
                     n->layout == LUCID_LAYOUT_NHWC      ? "channels-last"
                     : n->layout == LUCID_LAYOUT_NCHW16C ? "NCHW16C"
                                                         : "plain NCHW");
            continue;
        }
        c->supported = c->tactic->supports(g, n, cpu, c->why, sizeof c->why);
        /* a probe without memory says nothing of the tactic: no choice is made without it */
        if (!c->supported && strcmp(c->why, LUCID_WHY_OOM) == 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY,
                                     "out of memory asking tactic %s", c->tactic->name);
        if (c->supported && c->tactic != &lucid_tactic_reference) n_supported_fast++;
    }
    double budget = o->time_ms > 0 ? o->time_ms : 20.0;
    layer_io io;
    bool io_ready = false;
    lucid_status st = LUCID_STATUS_OK;
    int best = -1;
    bool single = false; /* one candidate: chosen without a comparison */
    double best_ms = INFINITY;
    for (int k = 0; k < l->n_cands; k++) {
        lucid_candidate *c = &l->cands[k];
        if (!c->supported) continue;
        /* the reference kernel is the fallback: it is not timed against real tactics */
        if (c->tactic == &lucid_tactic_reference && n_supported_fast > 0) {
            snprintf(c->why, sizeof c->why, "fallback only");
            continue;
        }
        char key[512];
        lucid_timing_key(g, n, c->tactic, plan->threads, cpu, key, sizeof key);
        if (plan->dev) { /* the GPU, its driver and libraries are part of a device key, and
                          * the plan's activation layout; "/graph2": timed as CUDA-graph
                          * replays, long or many-launch tactics on the stream
                          * (src/cuda/backend.c), so that a cache written by an earlier method
                          * (every tactic as stream launches, or every one captured) is not
                          * mixed in */
            size_t kl = strlen(key);
            const char *desc = plan->backend->describe(plan->dev);
            snprintf(key + kl, sizeof key - kl, "@%016llx/graph2%s",
                     (unsigned long long)lucid_hash_fnv1a(desc, strlen(desc), 0),
                     plan->channels_last ? "/nhwc" : "");
        }
        double cached;
        if (n_supported_fast + (n_supported_fast == 0) == 1) {
            /* a single candidate: nothing to choose, nothing to time (a median the first pass
             * measured, when its layout left it alone here, is still reported) */
            if (cache && lucid_timing_cache_get(cache, key, &cached)) {
                c->median_ms = cached;
                c->timed = lucid_timing_cache_fresh(cache, key);
            }
            single = true;
            best = k;
            break;
        }
        if (cache && lucid_timing_cache_get(cache, key, &cached)) {
            c->median_ms = cached;
            c->timed = lucid_timing_cache_fresh(cache, key);
        } else if (c->tactic->device != LUCID_DEVICE_CPU) {
            lucid_error terr = {0};
            st = plan->backend->time_tactic(plan->dev, c->tactic, g, n, budget, &c->median_ms,
                                            &terr);
            if (st == LUCID_STATUS_UNSUPPORTED) { /* the library refused this layer */
                c->supported = false;
                c->median_ms = -1;
                snprintf(c->why, sizeof c->why, "%s", terr.message);
                st = LUCID_STATUS_OK;
                continue;
            }
            if (st) {
                if (err) *err = terr;
                lucid_error_prefix(err, "timing tactic %s: ", c->tactic->name);
                break;
            }
            c->timed = true;
            if (cache) lucid_timing_cache_put(cache, key, c->median_ms);
        } else {
            if (!io_ready) {
                st = io_make(g, n, &io, err);
                if (st) break;
                io_ready = true;
            }
            void *state = NULL;
            st = c->tactic->prepare(g, n, plan->threads, &state, err);
            if (st) break;
            size_t ws = c->tactic->workspace(state, plan->threads);
            void *work = ws ? aligned_alloc(LUCID_PLAN_ALIGN, (ws + 63) / 64 * 64) : NULL;
            if (ws && !work) {
                c->tactic->release(state);
                st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
                break;
            }
            st = time_tactic(c->tactic, state, &io, n, work, pool, budget, &c->median_ms, err);
            free(work);
            c->tactic->release(state);
            if (st) {
                lucid_error_prefix(err, "timing tactic %s: ", c->tactic->name);
                break;
            }
            c->timed = true;
            if (cache) lucid_timing_cache_put(cache, key, c->median_ms);
        }
        if (c->median_ms < best_ms) {
            best_ms = c->median_ms;
            best = k;
        }
    }
    if (io_ready) io_free(&io);
    if (st) return st;
    if (!final) return LUCID_STATUS_OK;
    if (best < 0 && plan->dev) {
        /* name the first refusal of a device tactic: the op or shape it lacks */
        /* tactics of other ops say "not a ..."; the reason of one made for this op tells more */
        const char *why = "no tactic of this device runs the op";
        bool specific = false;
        /* a tactic that would run the layer but the --tactics / --exclude-tactics filters
         * removed says the most */
        for (int k = 0; k < l->n_cands && !specific; k++) {
            const lucid_candidate *c = &l->cands[k];
            char tmp[160];
            if (c->tactic->device != plan->device || !c->filtered) continue;
            if (c->tactic->supports(g, n, cpu, tmp, sizeof tmp)) {
                why = c->why;
                specific = true;
            }
        }
        for (int k = 0; k < l->n_cands && !specific; k++) {
            const lucid_candidate *c = &l->cands[k];
            if (c->tactic->device != plan->device || !c->why[0]) continue;
            specific = strncmp(c->why, "not a", 5) != 0 && strstr(c->why, " build") == NULL;
            if (specific || strcmp(why, "no tactic of this device runs the op") == 0) why = c->why;
        }
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "no %s tactic can run this layer (%s %s): %s",
                                 lucid_device_name(plan->device), n->op_type,
                                 lucid_precision_name(plan->precision), why);
    }
    if (best < 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "no tactic can run this layer (the tactic filters excluded "
                                 "every candidate)");
    if (single || l->cands[best].median_ms < 0) {
        snprintf(l->reason, sizeof l->reason, "the only supported tactic%s",
                 !single                             ? ""
                 : n->layout == LUCID_LAYOUT_NHWC    ? " that runs channels-last"
                 : n->layout == LUCID_LAYOUT_NCHW16C ? " that runs NCHW16C"
                                                     : "");
    } else if (o->deterministic) {
        /* the documented rule: within the margin of the fastest, the first by preference */
        double margin = o->margin > 0 ? o->margin : 0.05;
        int pick = best;
        for (int k = 0; k < l->n_cands; k++) {
            const lucid_candidate *c = &l->cands[k];
            if (c->median_ms < 0 || c->median_ms > best_ms * (1 + margin)) continue;
            if (c->tactic->preference < l->cands[pick].tactic->preference ||
                (c->tactic->preference == l->cands[pick].tactic->preference && k < pick))
                pick = k;
        }
        if (pick == best)
            snprintf(l->reason, sizeof l->reason, "fastest (%.4f ms), first by preference within %.0f%%",
                     best_ms, margin * 100);
        else
            snprintf(l->reason, sizeof l->reason,
                     "within %.0f%% of the fastest (%s, %.4f ms) and first by preference",
                     margin * 100, l->cands[best].tactic->name, best_ms);
        best = pick;
    } else {
        snprintf(l->reason, sizeof l->reason, "fastest median of %d candidates%s",
                 n_supported_fast,
                 n->layout == LUCID_LAYOUT_NHWC      ? " that run channels-last"
                 : n->layout == LUCID_LAYOUT_NCHW16C ? " that run NCHW16C"
                                                     : "");
    }
    if (n->op == LUCID_OP_REORDER)
        snprintf(l->reason, sizeof l->reason,
                 "layout conversion inserted by the builder between layers that disagree");
    l->tactic = l->cands[best].tactic;
    st = l->tactic->device != LUCID_DEVICE_CPU
             ? l->tactic->prepare_device(l->tactic, g, n, plan->dev, &l->state, err)
             : l->tactic->prepare(g, n, plan->threads, &l->state, err);
    if (st) {
        l->tactic = NULL;
        return st;
    }
    l->workspace = l->tactic->workspace(l->state, l->tactic->device ? 1 : plan->threads);
    return LUCID_STATUS_OK;
}

lucid_status lucid_plan_build(const lucid_model_t *model, const lucid_build_options *opts,
                              lucid_plan_t **out, lucid_error *err)
{
    return lucid_plan_build_ex(model, opts, NULL, 0, out, err);
}

static lucid_status build_once(const lucid_model_t *model, const lucid_build_options *opts,
                               const lucid_tactic *const *extra, size_t n_extra,
                               int force_layout, lucid_timing_cache *cache, lucid_plan_t **out,
                               lucid_error *err);

/* The layout other than plain that plan's layers use (plain when none). */
static lucid_layout plan_alt_layout(const lucid_plan_t *plan)
{
    const lucid_graph *g = plan->model->graph;
    for (int i = 0; i < g->n_nodes; i++)
        if (plan->layers[i].tactic && g->nodes[i].op != LUCID_OP_REORDER &&
            plan->layers[i].tactic->in_layout != LUCID_LAYOUT_PLAIN)
            return plan->layers[i].tactic->in_layout;
    return LUCID_LAYOUT_PLAIN;
}

/* How many layers of plan run in another layout than plain. */
static int plan_alt_layers(const lucid_plan_t *plan)
{
    const lucid_graph *g = plan->model->graph;
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++)
        count += plan->layers[i].tactic && g->nodes[i].op != LUCID_OP_REORDER &&
                 plan->layers[i].tactic->in_layout != LUCID_LAYOUT_PLAIN;
    return count;
}

/* Runs the n plans interleaved (one run of each per round, after two warm-up runs each)
 * for at least 5 rounds and about budget_s; writes each plan's median ms. */
/* Runs contexts interleaved (two warm-up runs each, then at least 5 and at most 41 rounds
 * within about budget_s), the order rotated each round; their medians in ms. With `profile`,
 * per-layer profiling is turned on after the warm-up (lucid_context_layer_profile). */
static lucid_status measure_contexts(lucid_context_t *const *ctx, int n, double budget_s,
                                     bool profile, double *median_ms, int *rounds_out,
                                     lucid_error *err)
{
    enum { MAX_ROUNDS = 41 };
    double *samples = malloc(sizeof(double) * MAX_ROUNDS * (size_t)n);
    lucid_status st = samples ? LUCID_STATUS_OK
                              : lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    for (int w = 0; w < 2 && !st; w++)
        for (int k = 0; k < n && !st; k++)
            if ((st = lucid_context_run(ctx[k])))
                lucid_errorf(err, st, "%s", lucid_context_error(ctx[k]));
    for (int k = 0; k < n && !st && profile; k++) st = lucid_context_set_profiling(ctx[k], 1);
    int rounds = 0;
    double start = lucid_time_now();
    while (!st && rounds < MAX_ROUNDS && (rounds < 5 || lucid_time_now() - start < budget_s)) {
        for (int k = 0; k < n && !st; k++) {
            /* rotate the order so that no plan always follows the same one */
            int q = (k + rounds) % n;
            double t0 = lucid_time_now();
            st = lucid_context_run(ctx[q]);
            samples[q * MAX_ROUNDS + rounds] = (lucid_time_now() - t0) * 1e3;
            if (st) lucid_errorf(err, st, "%s", lucid_context_error(ctx[q]));
        }
        rounds++;
    }
    for (int k = 0; k < n && !st; k++) {
        double *v = samples + k * MAX_ROUNDS;
        qsort(v, (size_t)rounds, sizeof *v, cmp_double);
        median_ms[k] = rounds % 2 ? v[rounds / 2] : 0.5 * (v[rounds / 2 - 1] + v[rounds / 2]);
    }
    *rounds_out = rounds;
    free(samples);
    return st;
}

static lucid_status measure_plans(lucid_plan_t *const *plans, int n, double budget_s,
                                  double *median_ms, int *rounds_out, lucid_error *err)
{
    lucid_context_t *ctx[4] = {NULL, NULL, NULL, NULL};
    lucid_status st = LUCID_STATUS_OK;
    for (int k = 0; k < n && !st; k++) st = lucid_context_create_plan(plans[k], NULL, &ctx[k], err);
    if (!st) st = measure_contexts(ctx, n, budget_s, false, median_ms, rounds_out, err);
    for (int k = 0; k < n; k++) lucid_context_destroy(ctx[k]);
    return st;
}

/* The tactic check. Layers timed alone (warm caches, their weights and input hot) misjudge
 * tactics whose cost inside a whole plan differs, such as Winograd's larger transformed
 * weights or a pool reading a tensor the layer before evicted from the caches. So each layer
 * whose runner-up (the fastest other timed tactic in its layout, within 1.5x of the chosen
 * one; a FusedConv written in place over its residual only by another tactic that allows it)
 * is tried in the plan itself: the plan as chosen (A) and with every runner-up (B) run
 * interleaved, profiled layer by layer; a runner-up is kept where its layer's mean in B is 3%
 * below the chosen tactic's in A; the result (C) is run interleaved against A as whole plans
 * and kept only if faster. States are prepared for the plan's threads like the build's. */
#define TACTIC_CHECK_FACTOR 1.5
#define TACTIC_CHECK_GAIN 0.03

/* Mean ms per node of a profiled context (nodes that did not run: -1). */
static void profile_means(const lucid_context_t *ctx, int n_nodes, double *mean)
{
    for (int i = 0; i < n_nodes; i++) mean[i] = -1;
    for (size_t k = 0; k < lucid_context_num_layers(ctx); k++) {
        lucid_layer_profile p;
        if (lucid_context_layer_profile(ctx, k, &p) == LUCID_STATUS_OK && p.runs > 0 &&
            (int)p.node < n_nodes)
            mean[p.node] = p.total_ms / (double)p.runs;
    }
}

static double candidate_ms(const lucid_layer *l, const lucid_tactic *t)
{
    for (int k = 0; k < l->n_cands; k++)
        if (l->cands[k].tactic == t) return l->cands[k].median_ms;
    return -1;
}

static lucid_status check_tactics(lucid_plan_t *plan, lucid_error *err)
{
    const lucid_graph *g = plan->model->graph;
    const int nn = g->n_nodes;
    typedef struct swap {
        const lucid_tactic *tactic;
        void *state;
        size_t workspace;
    } swap;
    swap *orig = calloc((size_t)nn + 1, sizeof *orig), *alt = calloc((size_t)nn + 1, sizeof *alt);
    double *ma = malloc(sizeof(double) * ((size_t)nn + 1));
    double *mb = malloc(sizeof(double) * ((size_t)nn + 1));
    lucid_context_t *ca = NULL, *cb = NULL;
    lucid_status st = LUCID_STATUS_OK;
    if (!orig || !alt || !ma || !mb) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    int tried = 0;
    const size_t ws_before = plan->workspace_size;
    for (int i = 0; i < nn; i++) {
        lucid_layer *l = &plan->layers[i];
        const lucid_node *n = &g->nodes[i];
        if (!lucid_plan_node_runs(g, i) || !l->tactic || n->op == LUCID_OP_REORDER) continue;
        const double chosen = candidate_ms(l, l->tactic);
        if (!(chosen > 0)) continue;
        const bool needs_inplace = (l->tactic->flags & LUCID_TACTIC_RESIDUAL_INPLACE) &&
                                   n->op == LUCID_OP_FUSED_CONV && n->n_inputs > 3;
        const lucid_tactic *best = NULL;
        double best_ms = chosen * TACTIC_CHECK_FACTOR;
        for (int k = 0; k < l->n_cands; k++) {
            const lucid_candidate *c = &l->cands[k];
            if (c->tactic == l->tactic || c->tactic == &lucid_tactic_reference ||
                !c->supported || !(c->median_ms > 0) || c->tactic->device != LUCID_DEVICE_CPU ||
                c->tactic->in_layout != l->tactic->in_layout ||
                (needs_inplace && !(c->tactic->flags & LUCID_TACTIC_RESIDUAL_INPLACE)))
                continue;
            if (c->median_ms <= best_ms) best_ms = c->median_ms, best = c->tactic;
        }
        if (!best) continue;
        lucid_error perr = {0};
        void *state = NULL;
        if (best->prepare(g, n, plan->threads, &state, &perr)) continue; /* not a candidate */
        alt[i] = (swap){best, state, best->workspace(state, plan->threads)};
        tried++;
    }
    if (!tried) goto done;
    st = lucid_context_create_plan(plan, NULL, &ca, err);
    for (int i = 0; i < nn && !st; i++) {
        if (!alt[i].tactic) continue;
        lucid_layer *l = &plan->layers[i];
        orig[i] = (swap){l->tactic, l->state, l->workspace};
        l->tactic = alt[i].tactic, l->state = alt[i].state, l->workspace = alt[i].workspace;
        if (l->workspace > plan->workspace_size) plan->workspace_size = l->workspace;
    }
    if (!st) st = lucid_context_create_plan(plan, NULL, &cb, err);
    double pm[2];
    int prounds = 0;
    lucid_context_t *pair[2] = {ca, cb};
    if (!st) st = measure_contexts(pair, 2, 0.6, true, pm, &prounds, err);
    int kept = 0;
    if (!st) {
        profile_means(ca, nn, ma);
        profile_means(cb, nn, mb);
        /* A runs again below, against C: unprofiled, as C is */
        st = lucid_context_set_profiling(ca, 0);
        for (int i = 0; i < nn; i++) {
            if (!alt[i].tactic) continue;
            lucid_layer *l = &plan->layers[i];
            if (ma[i] > 0 && mb[i] > 0 && mb[i] < ma[i] * (1 - TACTIC_CHECK_GAIN)) {
                kept++;
                snprintf(l->reason, sizeof l->reason,
                         "the tactic check: inside the whole plan %.4f ms against %.4f ms for "
                         "%s (alone %.4f against %.4f ms)",
                         mb[i], ma[i], orig[i].tactic->name, candidate_ms(l, alt[i].tactic),
                         candidate_ms(l, orig[i].tactic));
            } else { /* back to the chosen tactic */
                l->tactic = orig[i].tactic, l->state = orig[i].state;
                l->workspace = orig[i].workspace;
                orig[i].tactic = NULL; /* nothing to release: alt[i] is */
            }
        }
    }
    lucid_context_destroy(cb);
    cb = NULL;
    double ms[2] = {0, 0};
    int rounds = 0;
    if (!st && kept) {
        /* C against A as whole plans (A's context still holds the chosen states) */
        plan->workspace_size = ws_before;
        for (int i = 0; i < nn; i++)
            if (plan->layers[i].workspace > plan->workspace_size)
                plan->workspace_size = plan->layers[i].workspace;
        st = lucid_context_create_plan(plan, NULL, &cb, err);
        lucid_context_t *both[2] = {ca, cb};
        if (!st) st = measure_contexts(both, 2, 0.6, false, ms, &rounds, err);
        if (!st && !(ms[1] < ms[0])) {
            for (int i = 0; i < nn; i++) { /* the whole plan was not faster: all back */
                if (!orig[i].tactic) continue;
                lucid_layer *l = &plan->layers[i];
                l->tactic = orig[i].tactic, l->state = orig[i].state;
                l->workspace = orig[i].workspace;
                orig[i].tactic = NULL;
                snprintf(l->reason, sizeof l->reason, "fastest median; the tactic check's "
                                                      "runner-up was faster in its layer but "
                                                      "not as a whole plan");
            }
            ms[1] = ms[0];
            kept = 0;
        }
    } else if (!st) {
        lucid_context_t *one[1] = {ca};
        st = measure_contexts(one, 1, 0.2, false, ms, &rounds, err);
        ms[1] = ms[0];
    }
    lucid_context_destroy(ca);
    lucid_context_destroy(cb);
    ca = cb = NULL;
    if (st) { /* an optimization: a failure leaves the chosen tactics */
        for (int i = 0; i < nn; i++)
            if (orig[i].tactic) {
                lucid_layer *l = &plan->layers[i];
                l->tactic = orig[i].tactic, l->state = orig[i].state;
                l->workspace = orig[i].workspace;
                orig[i].tactic = NULL;
            }
        kept = 0;
        /* out of memory is reported, as in the layout check */
        if (st != LUCID_STATUS_OUT_OF_MEMORY) st = LUCID_STATUS_OK;
    } else {
        plan->tactic_check_tried = tried;
        plan->tactic_check_kept = kept;
        plan->tactic_check_rounds = rounds;
        plan->tactic_check_before_ms = ms[0];
        plan->tactic_check_after_ms = ms[1];
    }
    /* release whichever of each pair the plan does not hold */
    for (int i = 0; i < nn; i++) {
        if (!alt[i].tactic) continue;
        if (plan->layers[i].state == alt[i].state) {
            if (orig[i].tactic) orig[i].tactic->release(orig[i].state);
        } else {
            alt[i].tactic->release(alt[i].state);
        }
    }
    plan->workspace_size = 0;
    for (int i = 0; i < nn; i++)
        if (plan->layers[i].workspace > plan->workspace_size)
            plan->workspace_size = plan->layers[i].workspace;
done:
    lucid_context_destroy(ca);
    lucid_context_destroy(cb);
    free(orig);
    free(alt);
    free(ma);
    free(mb);
    return st;
}

/* The builder's check of its layout search: layers timed alone (warm caches, the same input
 * again and again) misjudge what a layout saves inside a whole plan, so when the search chose
 * layers in another layout than plain, the plans all plain and searched with the other
 * alternative are built as well (their layers' timings come from the cache: nothing is timed
 * twice) and the whole plans are run against each other; the fastest is kept. Only float32
 * CPU builds that are not deterministic are checked (a deterministic build chooses by rule). */
static lucid_status build_checked(const lucid_model_t *model, const lucid_build_options *opts,
                                  const lucid_tactic *const *extra, size_t n_extra,
                                  lucid_plan_t **out, lucid_error *err)
{
    double t0 = lucid_time_now();
    lucid_timing_cache *cache = NULL;
    lucid_status st = LUCID_STATUS_OK;
    if (opts->timing_cache) {
        st = lucid_timing_cache_load(opts->timing_cache, &cache, err);
        if (st) return st;
    } else if (!(cache = lucid_timing_cache_create())) {
        /* without a cache file, one in memory carries the first pass's timings to the second */
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    lucid_plan_t *plans[4] = {NULL, NULL, NULL, NULL};
    /* what each plan is: the search's (its layout), all plain, the other layout's search, and
     * the search's layout on every layer that can take it */
    int kind[4] = {LUCID_LAYOUT_PLAIN, LUCID_LAYOUT_PLAIN, LUCID_LAYOUT_PLAIN, LUCID_LAYOUT_PLAIN};
    int n = 1;
    st = build_once(model, opts, extra, n_extra, -1, cache, &plans[0], err);
    const bool checked = !st && !opts->no_layout_check && opts->device == LUCID_DEVICE_CPU &&
                         !opts->deterministic && opts->precision == LUCID_PRECISION_FP32 &&
                         !plans[0]->job && plan_alt_layout(plans[0]) != LUCID_LAYOUT_PLAIN;
    if (checked) {
        const lucid_layout alt = plan_alt_layout(plans[0]);
        const lucid_layout other =
            alt == LUCID_LAYOUT_NHWC ? LUCID_LAYOUT_NCHW16C : LUCID_LAYOUT_NHWC;
        kind[0] = alt;
        st = build_once(model, opts, extra, n_extra, LUCID_LAYOUT_PLAIN, cache, &plans[n++], err);
        if (!st) {
            kind[n] = other;
            st = build_once(model, opts, extra, n_extra, other, cache, &plans[n++], err);
            if (!st && plan_alt_layout(plans[n - 1]) == LUCID_LAYOUT_PLAIN) {
                lucid_plan_destroy(plans[--n]); /* the other alternative found nothing */
                plans[n] = NULL;
            }
        }
        if (!st) {
            kind[n] = alt | LUCID_LAYOUT_WIDEST;
            st = build_once(model, opts, extra, n_extra, alt | LUCID_LAYOUT_WIDEST, cache,
                            &plans[n++], err);
            if (!st && plan_alt_layers(plans[n - 1]) == plan_alt_layers(plans[0])) {
                lucid_plan_destroy(plans[--n]); /* the search already took every layer */
                plans[n] = NULL;
            }
        }
        double ms[4] = {0, 0, 0, 0};
        int rounds = 0;
        if (!st) st = measure_plans(plans, n, 1.0, ms, &rounds, err);
        if (st) {
            /* the check is an optimization: an alternative that fails to build or run leaves
             * the search's plan, unchecked; running out of memory is no fault of an
             * alternative, and the build reports it rather than choose differently */
            for (int k = 1; k < 4; k++) {
                lucid_plan_destroy(plans[k]);
                plans[k] = NULL;
            }
            if (plans[0] && st != LUCID_STATUS_OUT_OF_MEMORY) st = LUCID_STATUS_OK;
        } else {
            int best = 0;
            for (int k = 1; k < n; k++)
                if (ms[k] < ms[best]) best = k;
            lucid_plan_t *keep = plans[best];
            for (int k = 0; k < n; k++) {
                if (kind[k] & LUCID_LAYOUT_WIDEST)
                    keep->layout_widest_ms = ms[k];
                else
                    keep->layout_measured_ms[kind[k]] = ms[k];
                if (k != best) lucid_plan_destroy(plans[k]);
                plans[k] = NULL;
            }
            keep->layout_measured_rounds = rounds;
            plans[0] = keep;
        }
    }
    if (!st && !opts->no_tactic_check && opts->device == LUCID_DEVICE_CPU &&
        !opts->deterministic && opts->precision == LUCID_PRECISION_FP32 && !plans[0]->job)
        st = check_tactics(plans[0], err);
    if (!st && opts->timing_cache) st = lucid_timing_cache_save(cache, opts->timing_cache, err);
    lucid_timing_cache_destroy(cache);
    if (st) {
        for (int k = 0; k < 4; k++) lucid_plan_destroy(plans[k]);
        return st;
    }
    plans[0]->build_seconds = lucid_time_now() - t0;
    *out = plans[0];
    return LUCID_STATUS_OK;
}

lucid_status lucid_plan_build_ex(const lucid_model_t *model, const lucid_build_options *opts,
                                 const lucid_tactic *const *extra, size_t n_extra,
                                 lucid_plan_t **out, lucid_error *err)
{
    if (!model || !out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "plan_build: NULL argument");
    *out = NULL;
    lucid_build_options defaults;
    if (!opts) {
        lucid_build_options_default(&defaults);
        opts = &defaults;
    }
    if (opts->threads < 0 || opts->threads > 1024)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "threads must be 0 (all cores) to 1024, not %d", opts->threads);
    lucid_status cst = lucid_cpu_cap_env_check(err);
    if (cst) return cst;
    if (opts->margin < 0 || opts->margin > 10 || opts->time_ms < 0 || opts->time_ms > 60000)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "margin must be 0 to 10 and time_ms 0 to 60000");
    if (opts->device != LUCID_DEVICE_CPU && opts->device != LUCID_DEVICE_CUDA)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "unknown device %d",
                            (int)opts->device);
    if (opts->precision < LUCID_PRECISION_FP32 || opts->precision > LUCID_PRECISION_INT8)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "unknown precision %d",
                            (int)opts->precision);
    if (opts->device == LUCID_DEVICE_CPU && opts->precision == LUCID_PRECISION_TF32)
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "precision tf32 is the GPU's TensorFloat-32 tensor-core math; CPU "
                            "plans take fp32, fp16, bf16 or int8");
    if (opts->device == LUCID_DEVICE_CUDA &&
        (opts->n_layer_precision || opts->auto_precision_threshold > 0))
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "per-layer and automatic mixed precision are CPU features; a GPU plan "
                            "runs every layer in its precision");
    if (!(opts->auto_precision_threshold >= 0 && opts->auto_precision_threshold < 1e6) ||
        !(opts->percentile == 0 || (opts->percentile > 0 && opts->percentile <= 100)) ||
        (int)opts->calibrator < 0 || (int)opts->calibrator > 2 ||
        opts->calibration_count > 10000000)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "bad precision options: the automatic threshold must be >= 0, the "
                            "percentile in (0, 100], the calibrator known, the calibration count "
                            "at most 10000000");
    if (!(opts->prune_sparsity >= 0 && opts->prune_sparsity < 1) ||
        (opts->cluster_bits != 0 && (opts->cluster_bits < 2 || opts->cluster_bits > 8)))
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "bad compression options: pruning sparsity must be in [0, 1) (got "
                            "%g) and cluster bits 0 (off) or 2 to 8 (got %d)",
                            opts->prune_sparsity, opts->cluster_bits);
    if (opts->device == LUCID_DEVICE_CUDA && !lucid_cuda_backend())
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "device cuda: this lucid was built without LUCID_CUDA");
    return build_checked(model, opts, extra, n_extra, out, err);
}

/* One build: optimization, tactic timing (through `cache`), layouts (force_layout -1: searched
 * with either alternative; LUCID_LAYOUT_PLAIN: none; NHWC or NCHW16C: searched with that one
 * only), reorders, memory plan. */
static lucid_status build_once(const lucid_model_t *model, const lucid_build_options *opts,
                               const lucid_tactic *const *extra, size_t n_extra,
                               int force_layout, lucid_timing_cache *cache, lucid_plan_t **out,
                               lucid_error *err)
{
    double t0 = lucid_time_now();
    lucid_plan_t *plan = calloc(1, sizeof *plan);
    if (!plan) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    plan->device = opts->device;
    plan->precision = opts->precision;
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    snprintf(plan->cpu_model, sizeof plan->cpu_model, "%s", cpu.model);
    plan->threads = opts->threads ? opts->threads : cpu.cores;
    plan->deterministic = opts->deterministic != 0;
    plan->opt_level = opts->optimize.n_passes ? -1 : opts->optimize.opt_level;
    lucid_threadpool *pool = NULL;
    lucid_status st;
    if (plan->device != LUCID_DEVICE_CPU) {
        plan->backend = lucid_cuda_backend();
        st = plan->backend->open(opts->cuda_device, plan->deterministic, &plan->dev, err);
        if (st) goto fail;
        snprintf(plan->device_model, sizeof plan->device_model, "%s",
                 plan->backend->describe(plan->dev));
    }
    lucid_graph *copy = lucid_graph_clone(model->graph, lucid_op_params_size);
    if (!copy) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory copying the model");
        goto fail;
    }
    st = lucid_model_wrap(copy, &plan->model, err);
    if (st) {
        lucid_graph_destroy(copy);
        goto fail;
    }
    /* the precision pass applies compression anywhere, reduced precision on the CPU, and
     * INT8 quantization on either device (a GPU plan's 16-bit precision is its tactics';
     * an int8 GPU plan keeps its other float tensors in fp16) */
    bool compress = opts->prune_sparsity > 0 || opts->prune_2_4 || opts->cluster_bits;
    bool reduce = (plan->device == LUCID_DEVICE_CPU &&
                   (opts->precision != LUCID_PRECISION_FP32 || opts->n_layer_precision)) ||
                  opts->precision == LUCID_PRECISION_INT8;
    if (compress || reduce) {
        plan->job_opts = *opts;
        if (!reduce) {
            plan->job_opts.precision = LUCID_PRECISION_FP32;
            plan->job_opts.n_layer_precision = 0;
        }
        if (!(plan->job = calloc(1, sizeof *plan->job))) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            goto fail;
        }
        plan->job->opts = &plan->job_opts;
    }
    st = lucid_model_optimize_job(plan->model, &opts->optimize, plan->job, &plan->opt_report,
                                  err);
    if (st) goto fail;
    if (plan->job) plan->job->opts = NULL; /* the options are the caller's, not kept */
    if (opts->gpu_layout < LUCID_GPU_LAYOUT_AUTO || opts->gpu_layout > LUCID_GPU_LAYOUT_NHWC) {
        st = lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "unknown GPU layout %d",
                          (int)opts->gpu_layout);
        goto fail;
    }
    if (plan->backend) { /* the GPU's activation layout, before any tactic is timed */
        st = plan->backend->plan_layout(plan->dev, plan->model->graph, plan->precision,
                                        (int)opts->gpu_layout, &plan->channels_last,
                                        plan->layout_reason, sizeof plan->layout_reason, err);
        if (st) goto fail;
    }
    const lucid_graph *g = plan->model->graph;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == LUCID_OP_REORDER) {
            st = lucid_node_errorf(&g->nodes[i], err, LUCID_STATUS_UNSUPPORTED,
                                   "Reorder is the builder's own layout conversion; a model "
                                   "given to the builder cannot have one (optimization level "
                                   "1 or more removes it)");
            goto fail;
        }
    if (!g->shapes_known) {
        st = lucid_model_check_runnable(plan->model, err);
        if (!st) st = lucid_errorf(err, LUCID_STATUS_INTERNAL, "shapes unknown");
        goto fail;
    }
    plan->layers = calloc((size_t)g->n_nodes + 1, sizeof *plan->layers);
    if (!plan->layers) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    if (!plan->dev && plan->threads > 1 && !(pool = lucid_threadpool_create(plan->threads))) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "cannot start %d threads",
                          plan->threads);
        goto fail;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (!lucid_plan_node_runs(g, i)) continue;
        st = build_layer(plan, i, opts, &cpu, pool, cache, extra, n_extra, false, err);
        if (st) goto fail;
    }
    int n_nhwc = 0;
    st = lucid_plan_choose_layouts(plan, opts, pool, force_layout, &n_nhwc, err);
    if (st) goto fail;
    for (int i = 0; i < g->n_nodes; i++) layer_free(&plan->layers[i]);
    free(plan->layers);
    plan->layers = NULL;
    if (n_nhwc) {
        st = lucid_plan_insert_reorders(plan, err);
        if (st) goto fail;
        g = plan->model->graph;
    }
    plan->layers = calloc((size_t)g->n_nodes + 1, sizeof *plan->layers);
    if (!plan->layers) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (!lucid_plan_node_runs(g, i)) continue;
        st = build_layer(plan, i, opts, &cpu, pool, cache, extra, n_extra, true, err);
        if (st) goto fail;
        if (plan->layers[i].workspace > plan->workspace_size)
            plan->workspace_size = plan->layers[i].workspace;
    }
    /* the layouts the tactics read and write agree along every edge */
    st = lucid_plan_derive_layouts(plan, err);
    if (st) {
        lucid_error_prefix(err, "internal: ");
        goto fail;
    }
    {
        const lucid_tactic **tactics = calloc((size_t)g->n_nodes + 1, sizeof *tactics);
        if (!tactics) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            goto fail;
        }
        for (int i = 0; i < g->n_nodes; i++) tactics[i] = plan->layers[i].tactic;
        st = lucid_plan_memory(plan, tactics, err);
        free(tactics);
    }
    if (st) goto fail;
    if (plan->backend) {
        st = plan->backend->plan_finalize(plan, err);
        if (st) goto fail;
    }
    lucid_threadpool_destroy(pool);
    plan->build_seconds = lucid_time_now() - t0;
    *out = plan;
    return LUCID_STATUS_OK;
fail:
    lucid_threadpool_destroy(pool);
    lucid_plan_destroy(plan);
    return st;
}

lucid_status lucid_plan_prepare_layers(lucid_plan_t *plan, const char *const *tactic_names,
                                       lucid_error *err)
{
    const lucid_graph *g = plan->model->graph;
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_layer *l = &plan->layers[i];
        const char *name = tactic_names[i];
        if (!lucid_plan_node_runs(g, i)) {
            if (name && name[0])
                return lucid_node_errorf(&g->nodes[i], err, LUCID_STATUS_INVALID_MODEL,
                                         "the plan names tactic '%s' for a layer that does not "
                                         "run",
                                         name);
            continue;
        }
        const lucid_tactic *t = name ? lucid_tactic_find(name) : NULL;
        if (!t)
            return lucid_node_errorf(&g->nodes[i], err, LUCID_STATUS_UNSUPPORTED,
                                     "the plan's tactic '%s' is not in this build of lucid",
                                     name ? name : "");
        char why[160] = "";
        if (!t->supports(g, &g->nodes[i], &cpu, why, sizeof why))
            return lucid_node_errorf(&g->nodes[i], err,
                                     strcmp(why, LUCID_WHY_OOM) == 0 ? LUCID_STATUS_OUT_OF_MEMORY
                                                                     : LUCID_STATUS_UNSUPPORTED,
                                     "the plan's tactic '%s' cannot run here: %s", name, why);
        if (t->device != plan->device)
            return lucid_node_errorf(&g->nodes[i], err, LUCID_STATUS_INVALID_MODEL,
                                     "the plan's tactic '%s' runs on the %s, the plan on the %s",
                                     name, lucid_device_name(t->device),
                                     lucid_device_name(plan->device));
        lucid_status st = t->device != LUCID_DEVICE_CPU
                              ? t->prepare_device(t, g, &g->nodes[i], plan->dev, &l->state, err)
                              : t->prepare(g, &g->nodes[i], plan->threads, &l->state, err);
        if (st) return st;
        l->tactic = t;
        l->workspace = t->workspace(l->state, t->device ? 1 : plan->threads);
        snprintf(l->reason, sizeof l->reason, "as recorded in the plan file");
        if (l->workspace > plan->workspace_size) plan->workspace_size = l->workspace;
    }
    return LUCID_STATUS_OK;
}

const lucid_model_t *lucid_plan_model(const lucid_plan_t *plan)
{
    return plan ? plan->model : NULL;
}

const lucid_opt_report_t *lucid_plan_opt_report(const lucid_plan_t *plan)
{
    return plan ? plan->opt_report : NULL;
}

lucid_status lucid_plan_get_info(const lucid_plan_t *plan, lucid_plan_info *out)
{
    if (!plan || !out) return LUCID_STATUS_INVALID_ARGUMENT;
    const lucid_graph *g = plan->model->graph;
    memset(out, 0, sizeof *out);
    out->threads = plan->threads;
    out->deterministic = plan->deterministic;
    out->opt_level = plan->opt_level;
    out->num_layers = (size_t)g->n_nodes;
    out->arena_bytes = plan->arena_size;
    out->naive_bytes = plan->naive_size;
    out->io_bytes = plan->io_size;
    out->workspace_bytes = plan->workspace_size;
    out->inplace_count = plan->inplace_count;
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t].is_initializer) out->weight_bytes += g->tensors[t].nbytes;
    out->build_seconds = plan->build_seconds;
    out->cpu_model = plan->cpu_model;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!plan->layers[i].tactic) continue;
        if (g->nodes[i].op == LUCID_OP_REORDER)
            out->reorder_layers++;
        else if (plan->layers[i].tactic->in_layout == LUCID_LAYOUT_NHWC)
            out->nhwc_layers++;
        else if (plan->layers[i].tactic->in_layout == LUCID_LAYOUT_NCHW16C)
            out->nchw16c_layers++;
    }
    out->layout_est_ms = plan->layout_est_ms;
    for (int k = 0; k < 3; k++) out->layout_measured_ms[k] = plan->layout_measured_ms[k];
    out->layout_widest_ms = plan->layout_widest_ms;
    out->layout_measured_rounds = plan->layout_measured_rounds;
    out->tactic_check_tried = plan->tactic_check_tried;
    out->tactic_check_kept = plan->tactic_check_kept;
    out->tactic_check_rounds = plan->tactic_check_rounds;
    out->tactic_check_before_ms = plan->tactic_check_before_ms;
    out->tactic_check_after_ms = plan->tactic_check_after_ms;
    out->plain_est_ms = plan->plain_est_ms;
    out->device = plan->device;
    out->precision = plan->precision;
    out->device_model = plan->device_model;
    out->calibration = plan->job ? plan->job->calibration : "";
    out->calibration_samples = plan->job ? plan->job->calib_samples : 0;
    out->error_samples = plan->job ? plan->job->error_samples : 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!plan->layers[i].tactic) continue;
        const char *p = lucid_node_precision_name(g, &g->nodes[i]);
        if (strcmp(p, "reformat") == 0)
            out->reformat_layers++;
        else if (strcmp(p, "fp32") != 0)
            out->reduced_layers++;
    }
    out->gpu_channels_last = plan->channels_last;
    out->gpu_layout_reason = plan->layout_reason;
    return LUCID_STATUS_OK;
}

lucid_status lucid_plan_layer(const lucid_plan_t *plan, size_t i, lucid_layer_info *out)
{
    if (!plan || !out || i >= (size_t)plan->model->graph->n_nodes)
        return LUCID_STATUS_INVALID_ARGUMENT;
    const lucid_node *n = &plan->model->graph->nodes[i];
    const lucid_layer *l = &plan->layers[i];
    out->name = n->name;
    out->op_type = n->op_type;
    out->runs = l->tactic != NULL;
    out->tactic = l->tactic ? l->tactic->name : "";
    out->reason = l->tactic ? l->reason : (n->elided ? "elided: its outputs are views" : "constant");
    out->num_candidates = (size_t)l->n_cands;
    out->precision = lucid_node_precision_name(plan->model->graph, n);
    return LUCID_STATUS_OK;
}

const char *lucid_node_precision_name(const lucid_graph *g, const lucid_node *n)
{
    if (n->op == LUCID_OP_CAST || n->op == LUCID_OP_REORDER ||
        strcmp(n->op_type, "QuantizeLinear") == 0 || strcmp(n->op_type, "DequantizeLinear") == 0)
        return "reformat";
    bool i8 = false, f16 = false, b16 = false;
    for (int pass = 0; pass < 2; pass++) {
        const int *ts = pass ? n->outputs : n->inputs;
        int cnt = pass ? n->n_outputs : n->n_inputs;
        for (int k = 0; k < cnt; k++) {
            if (ts[k] < 0) continue;
            const lucid_ir_tensor *t = &g->tensors[ts[k]];
            if (t->data && pass == 0 && k > 0) continue; /* weights, scales, shapes */
            i8 |= t->dtype == LUCID_DTYPE_INT8 || t->dtype == LUCID_DTYPE_UINT8;
            f16 |= t->dtype == LUCID_DTYPE_FLOAT16;
            b16 |= t->dtype == LUCID_DTYPE_BFLOAT16;
        }
    }
    return i8 ? "int8" : f16 ? "fp16" : b16 ? "bf16" : "fp32";
}

size_t lucid_plan_num_precision_records(const lucid_plan_t *plan)
{
    return plan && plan->job ? plan->job->n_records : 0;
}

lucid_status lucid_plan_precision_record(const lucid_plan_t *plan, size_t i,
                                         lucid_precision_record_info *out)
{
    if (!plan || !out || !plan->job || i >= plan->job->n_records)
        return LUCID_STATUS_INVALID_ARGUMENT;
    const lucid_precision_record *r = &plan->job->records[i];
    out->name = r->name;
    out->op_type = r->op_type;
    out->precision = r->precision;
    out->error = r->error;
    out->added_error = r->added_error;
    out->why = r->why;
    return LUCID_STATUS_OK;
}

size_t lucid_plan_num_compressed(const lucid_plan_t *plan)
{
    return plan && plan->job ? plan->job->compress.n : 0;
}

lucid_status lucid_plan_compressed(const lucid_plan_t *plan, size_t i,
                                   lucid_compressed_info *out)
{
    if (!plan || !out || !plan->job || i >= plan->job->compress.n)
        return LUCID_STATUS_INVALID_ARGUMENT;
    const lucid_compress_layer *c = &plan->job->compress.layers[i];
    out->layer = plan->job->compress_names ? plan->job->compress_names[i] : "";
    out->weights = c->weights;
    out->zeros_before = c->zeros_before;
    out->zeros_after = c->zeros_after;
    out->distinct_values = c->distinct_after;
    out->bytes_before = c->bytes_before;
    out->bytes_after = c->bytes_after;
    out->note = c->note;
    return LUCID_STATUS_OK;
}

lucid_status lucid_plan_candidate(const lucid_plan_t *plan, size_t layer, size_t k,
                                  lucid_candidate_info *out)
{
    if (!plan || !out || layer >= (size_t)plan->model->graph->n_nodes ||
        k >= (size_t)plan->layers[layer].n_cands)
        return LUCID_STATUS_INVALID_ARGUMENT;
    const lucid_candidate *c = &plan->layers[layer].cands[k];
    out->tactic = c->tactic->name;
    out->supported = c->supported;
    out->timed = c->timed;
    out->median_ms = c->median_ms;
    out->why = c->why;
    return LUCID_STATUS_OK;
}
