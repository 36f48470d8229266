/* lucid_cell.c - measures one lucid config: cost of the build, latency, Offline batch sweep,
 * accuracy, a separate per-layer profiling run, and determinism (run-to-run with per-layer
 * digests, build-to-build over K independent builds). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "characterize/characterize.h"
#include "core/error.h"
#include "core/strmap.h"
#include "plan/plan.h"

/* One engine of a config at one batch size: the model (optimized for the reference kinds),
 * the plan (plan kinds) and a context. */
typedef struct engine {
    lucid_model_t *model;
    lucid_plan_t *plan;
    lucid_context_t *ctx;
    int64_t batch;
    double build_s;       /* plan build or graph optimization wall time */
    int64_t device_bytes; /* GPU plans: device memory taken by the plan and context; else -1 */
} engine;

static bool is_cuda(const lucid_characterization_t *c)
{
    return strcmp(c->opts.device, "cuda") == 0;
}

static void engine_free(engine *e)
{
    lucid_context_destroy(e->ctx);
    lucid_plan_destroy(e->plan);
    lucid_model_destroy(e->model);
    memset(e, 0, sizeof *e);
}

static const lucid_model_t *engine_model(const engine *e)
{
    return e->plan ? lucid_plan_model(e->plan) : e->model;
}

static lucid_status engine_make(const lucid_characterization_t *c, const ch_config *cfg,
                                int64_t batch, int build, engine *e, lucid_error *err)
{
    memset(e, 0, sizeof *e);
    e->batch = batch;
    bool cuda = is_cuda(c) && cfg->kind == CH_KIND_PLAN;
    lucid_gpu_info before;
    if (cuda && lucid_cuda_device_info(0, &before, NULL) != LUCID_STATUS_OK) before.free_bytes = -1;
    lucid_status st = ch_open_model(c, batch, &e->model, err);
    if (st) return st;
    double t0 = lucid_time_now();
    if (cfg->kind == CH_KIND_REFERENCE) {
        if (cfg->opt_level > 0) {
            lucid_optimize_options oo;
            lucid_optimize_options_default(&oo);
            oo.opt_level = cfg->opt_level;
            st = lucid_model_optimize(e->model, &oo, NULL, err);
        }
        e->build_s = lucid_time_now() - t0;
        if (!st) st = lucid_context_create(e->model, NULL, &e->ctx, err);
    } else {
        lucid_build_options bo;
        lucid_build_options_default(&bo);
        bo.optimize.opt_level = cfg->opt_level;
        bo.threads = c->opts.threads;
        bo.deterministic = cfg->deterministic;
        bo.time_ms = c->opts.tune_ms;
        if (cuda) bo.device = LUCID_DEVICE_CUDA;
        if (cfg->configure) cfg->configure(&c->opts, &bo);
        if (c->hooks.build_options) c->hooks.build_options(c->hooks.user, cfg->name, build, &bo);
        st = lucid_plan_build_ex(e->model, &bo, c->hooks.extra_tactics, c->hooks.n_extra_tactics,
                                 &e->plan, err);
        e->build_s = lucid_time_now() - t0;
        lucid_context_options co = {.no_cuda_graph = cfg->no_cuda_graph};
        if (!st) st = lucid_context_create_plan(e->plan, &co, &e->ctx, err);
    }
    if (st) {
        engine_free(e);
        return st;
    }
    /* what the plan and its context hold on the GPU (weights, arena, workspace, library
     * handles' memory), as the driver's free memory says */
    e->device_bytes = -1;
    lucid_gpu_info after;
    if (cuda && before.free_bytes >= 0 &&
        lucid_cuda_device_info(0, &after, NULL) == LUCID_STATUS_OK)
        e->device_bytes = before.free_bytes - after.free_bytes;
    return st;
}

/* Feeds samples [first, first + batch) (cycling) as the input. */
static lucid_status engine_feed(const lucid_characterization_t *c, engine *e, size_t first,
                                float *scratch)
{
    int64_t dims[LUCID_MAX_RANK];
    memcpy(dims, c->input_dims, sizeof dims);
    dims[0] = e->batch;
    const float *src = c->samples + first * c->sample_elems;
    if (e->batch > 1 || first >= c->n_samples) {
        for (int64_t b = 0; b < e->batch; b++)
            memcpy(scratch + (size_t)b * c->sample_elems,
                   c->samples + ((first + (size_t)b) % c->n_samples) * c->sample_elems,
                   c->sample_elems * sizeof(float));
        src = scratch;
    }
    return lucid_context_set_input(e->ctx, c->input_name, LUCID_DTYPE_FLOAT, c->input_rank, dims,
                                   src);
}

static lucid_status run_error(engine *e, lucid_status st, lucid_error *err)
{
    const char *m = lucid_context_error(e->ctx);
    return lucid_errorf(err, st, "%s", m[0] ? m : lucid_status_string(st));
}

static void digest_str(uint64_t h, char out[32])
{
    snprintf(out, 32, "fnv1a64:%016llx", (unsigned long long)h);
}

static uint64_t output_digest(const engine *e)
{
    uint64_t h = 0;
    size_t n = lucid_context_num_outputs(e->ctx);
    for (size_t i = 0; i < n; i++) {
        lucid_array a;
        if (lucid_context_output(e->ctx, i, &a)) continue;
        h = lucid_hash_fnv1a(a.data, a.nbytes, h);
    }
    return h;
}

/* The digest of a saved plan file and its size (the file is removed). */
static lucid_status plan_digest(const lucid_characterization_t *c, const lucid_plan_t *plan,
                                char digest[32], int64_t *bytes, lucid_error *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/.plan.tmp", c->out_dir);
    lucid_status st = lucid_plan_save(plan, path, err);
    if (st) return st;
    FILE *f = fopen(path, "rb");
    if (!f) return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot be read back", path);
    uint64_t h = 0;
    int64_t total = 0;
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        h = lucid_hash_fnv1a(buf, n, h);
        total += (int64_t)n;
    }
    fclose(f);
    remove(path);
    digest_str(h, digest);
    *bytes = total;
    return LUCID_STATUS_OK;
}

/* The tactic of executed node i ("ref" on the reference executor). */
static const char *node_tactic(const engine *e, size_t node)
{
    if (!e->plan) return "ref";
    lucid_layer_info li;
    if (lucid_plan_layer(e->plan, node, &li)) return "?";
    return li.tactic;
}

/* "a x3, b x1" in first-use order, and a digest of the per-layer tactic list. */
static uint64_t tactic_summary(const engine *e, char *out, size_t len)
{
    uint64_t h = 0;
    out[0] = '\0';
    if (!e->plan) {
        snprintf(out, len, "ref (reference executor)");
        return h;
    }
    lucid_plan_info pi;
    lucid_plan_get_info(e->plan, &pi);
    const char *names[256];
    int counts[256], n = 0;
    for (size_t i = 0; i < pi.num_layers; i++) {
        lucid_layer_info li;
        if (lucid_plan_layer(e->plan, i, &li) || !li.runs) continue;
        h = lucid_hash_fnv1a(li.name, strlen(li.name) + 1, h);
        h = lucid_hash_fnv1a(li.tactic, strlen(li.tactic) + 1, h);
        int k = 0;
        while (k < n && strcmp(names[k], li.tactic) != 0)
            k++;
        if (k == n && n < 256) {
            names[n] = li.tactic;
            counts[n++] = 0;
        }
        if (k < n) counts[k]++;
    }
    size_t pos = 0;
    for (int k = 0; k < n && pos < len; k++) {
        int w = snprintf(out + pos, len - pos, "%s%s x%d", k ? ", " : "", names[k], counts[k]);
        if (w > 0) pos += (size_t)w;
    }
    return h;
}

/* ---- per-layer digests through the layer observer ("mark all") ---- */

typedef struct observer {
    uint64_t *dig;  /* runs x cap: digest of the layer's outputs */
    uint64_t *name; /* runs x cap: digest of the layer's name (to match layers across builds) */
    size_t *node;   /* cap: executed node at each position (from the first run) */
    size_t *count;  /* runs: positions seen */
    size_t cap, pos, run, positions;
} observer;

static lucid_status observe(void *user, size_t node, const char *name, const lucid_array *outs,
                            size_t n_outs)
{
    observer *o = user;
    if (o->pos >= o->cap) return LUCID_STATUS_OK;
    uint64_t h = 0;
    for (size_t k = 0; k < n_outs; k++)
        if (outs[k].data) h = lucid_hash_fnv1a(outs[k].data, outs[k].nbytes, h);
    o->dig[o->run * o->cap + o->pos] = h;
    o->name[o->run * o->cap + o->pos] =
        lucid_hash_fnv1a(name ? name : "", name ? strlen(name) : 0, 0);
    if (o->run == 0) o->node[o->pos] = node;
    o->count[o->run] = o->pos + 1;
    o->pos++;
    if (o->pos > o->positions) o->positions = o->pos;
    return LUCID_STATUS_OK;
}

static lucid_status observer_init(observer *o, size_t runs, size_t cap, lucid_error *err)
{
    memset(o, 0, sizeof *o);
    o->cap = cap;
    o->dig = calloc(runs * cap, sizeof *o->dig);
    o->name = calloc(runs * cap, sizeof *o->name);
    o->node = calloc(cap, sizeof *o->node);
    o->count = calloc(runs, sizeof *o->count);
    if (!o->dig || !o->name || !o->node || !o->count) {
        free(o->dig);
        free(o->name);
        free(o->node);
        free(o->count);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory for layer digests");
    }
    return LUCID_STATUS_OK;
}

static void observer_free(observer *o)
{
    free(o->dig);
    free(o->name);
    free(o->node);
    free(o->count);
}

/* Does run r's layer at the position matching run 0's position p differ? Runs of one engine
 * match by position (by_name false); builds, whose graphs may differ (layout reorders), match
 * by layer name, and a layer that build r lacks does not count. */
static bool layer_differs(const observer *o, size_t r, size_t p, bool by_name)
{
    if (!by_name) return o->dig[r * o->cap + p] != o->dig[p];
    for (size_t q = 0; q < o->count[r]; q++)
        if (o->name[r * o->cap + q] == o->name[p]) return o->dig[r * o->cap + q] != o->dig[p];
    return false;
}

/* The first layer of run 0 (execution order) whose output differs in some other run, and how
 * many differ; names the layer from the engine that ran run 0. */
static void find_divergence(const observer *o, size_t runs, const engine *e, bool by_name,
                            ch_divergence *d)
{
    memset(d, 0, sizeof *d);
    for (size_t p = 0; p < o->count[0]; p++) {
        bool differs = false;
        for (size_t r = 1; r < runs && !differs; r++)
            differs = layer_differs(o, r, p, by_name);
        if (!differs) continue;
        d->layers_differing++;
        if (d->found) continue;
        d->found = true;
        d->index = p;
        lucid_node_info ni;
        if (lucid_model_node(engine_model(e), o->node[p], &ni) == LUCID_STATUS_OK) {
            snprintf(d->layer, sizeof d->layer, "%s", ni.name);
            snprintf(d->op, sizeof d->op, "%s", ni.op_type);
        }
        snprintf(d->tactic, sizeof d->tactic, "%s", node_tactic(e, o->node[p]));
    }
}

/* ---- the steps ---- */

static lucid_status measure_cost(const lucid_characterization_t *c, ch_cell *cell, const engine *e,
                                 lucid_error *err)
{
    cell->has_cost = true;
    cell->build_s = e->build_s;
    cell->plan_bytes = -1;
    cell->threads = e->plan ? 0 : 1;
    char tmp[sizeof cell->tactics];
    tactic_summary(e, tmp, sizeof tmp);
    snprintf(cell->tactics, sizeof cell->tactics, "%s", tmp);
    if (e->plan) {
        lucid_plan_info pi;
        lucid_plan_get_info(e->plan, &pi);
        cell->build_s = pi.build_seconds;
        cell->arena_bytes = (int64_t)pi.arena_bytes;
        cell->naive_bytes = (int64_t)pi.naive_bytes;
        cell->workspace_bytes = (int64_t)pi.workspace_bytes;
        cell->weight_bytes = (int64_t)pi.weight_bytes;
        cell->threads = pi.threads;
        cell->device_bytes = e->device_bytes;
        cell->layers_total = pi.num_layers;
        for (size_t i = 0; i < pi.num_layers; i++) {
            lucid_layer_info li;
            if (!lucid_plan_layer(e->plan, i, &li) && li.runs) cell->layers_run++;
        }
        return plan_digest(c, e->plan, cell->plan_digest, &cell->plan_bytes, err);
    }
    lucid_model_info mi;
    lucid_model_get_info(e->model, &mi);
    /* the reference executor gives every activation tensor its own memory */
    cell->arena_bytes = cell->naive_bytes = (int64_t)(mi.activation_bytes);
    cell->weight_bytes = (int64_t)mi.param_bytes;
    cell->layers_total = mi.num_nodes;
    cell->layers_run = lucid_context_num_layers(e->ctx);
    return LUCID_STATUS_OK;
}

static lucid_status measure_latency(const lucid_characterization_t *c, engine *e,
                                    const lucid_bench_options *bo, ch_latency *lat, float *scratch,
                                    lucid_error *err)
{
    lucid_status st = engine_feed(c, e, 0, scratch);
    if (!st) st = lucid_context_run(e->ctx);
    if (st) return run_error(e, st, err);
    double t0 = lucid_time_now();
    st = lucid_context_run(e->ctx);
    if (st) return run_error(e, st, err);
    double one = lucid_time_now() - t0;
    double want = (double)bo->min_iterations;
    if (one > 0 && bo->min_duration_s / one * 1.5 + 64 > want)
        want = bo->min_duration_s / one * 1.5 + 64;
    if (want > LUCID_BENCH_MAX_ITERATIONS) want = LUCID_BENCH_MAX_ITERATIONS;
    size_t cap = (size_t)want;
    double *samples = malloc(cap * sizeof *samples);
    if (!samples) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    lucid_bench_result r;
    st = lucid_bench_run(e->ctx, bo, samples, cap, &r);
    if (st) {
        free(samples);
        return run_error(e, st, err);
    }
    memset(lat, 0, sizeof *lat);
    lat->ok = true;
    lat->ms = r.latency_ms;
    lat->iterations = r.iterations;
    lat->warmup_iterations = r.warmup_iterations;
    lat->warmup_s = r.warmup_s;
    lat->total_s = r.total_s;
    lat->throughput = r.throughput;
    lat->capped = r.capped;
    /* up to p99, so a few outliers do not squash the distribution into one bin; the last
     * bin also counts everything above */
    lat->hist_lo = r.latency_ms.min;
    lat->hist_hi = r.latency_ms.p99;
    ch_histogram(samples, (size_t)r.iterations, lat->hist_lo, lat->hist_hi, CH_HIST_BINS,
                 lat->hist);
    free(samples);
    return LUCID_STATUS_OK;
}

static lucid_status measure_offline(lucid_characterization_t *c, ch_cell *cell, lucid_error *err)
{
    ch_offline *off = &cell->off;
    double best = -1;
    for (int i = 0; i < off->n; i++) {
        off->samples_per_s[i] = off->p90_ms[i] = NAN;
        int64_t b = off->batch[i];
        if (b == 1) {
            off->samples_per_s[i] = cell->lat.throughput;
            off->p90_ms[i] = cell->lat.ms.p90;
        } else if (!c->batch_symbolic) {
            snprintf(off->note, sizeof off->note,
                     "the model's batch dimension is fixed at %lld: batches other than it are "
                     "not measured",
                     (long long)c->input_dims[0]);
            continue;
        } else {
            if (ch_cancelled(c)) break;
            engine e;
            lucid_status st = engine_make(c, cell->cfg, b, 0, &e, err);
            if (st) return st;
            float *scratch = malloc((size_t)b * c->sample_elems * sizeof(float));
            if (!scratch) {
                engine_free(&e);
                return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            }
            lucid_bench_options bo = {.warmup_ms = fmin(c->opts.warmup_ms, 100),
                                      .min_iterations = 3,
                                      .min_duration_s = c->opts.min_duration_s / 2};
            ch_latency lat;
            st = measure_latency(c, &e, &bo, &lat, scratch, err);
            free(scratch);
            engine_free(&e);
            if (st) return st;
            off->samples_per_s[i] = lat.throughput * (double)b;
            off->p90_ms[i] = lat.ms.p90;
        }
        if (off->samples_per_s[i] > best) {
            best = off->samples_per_s[i];
            off->best = i;
        }
    }
    return LUCID_STATUS_OK;
}

/* Outputs of every sample, one run each (batch 1), into out (n x out_elems). */
static lucid_status run_samples(const lucid_characterization_t *c, engine *e, float *out,
                                lucid_error *err)
{
    for (size_t i = 0; i < c->n_samples; i++) {
        lucid_status st = engine_feed(c, e, i, NULL);
        if (!st) st = lucid_context_run(e->ctx);
        if (st) return run_error(e, st, err);
        lucid_array a;
        lucid_context_output(e->ctx, 0, &a);
        if (a.nbytes != c->out_elems * sizeof(float))
            return lucid_errorf(err, LUCID_STATUS_INTERNAL, "output 0 has %zu bytes, not %zu",
                                a.nbytes, c->out_elems * sizeof(float));
        memcpy(out + i * c->out_elems, a.data, a.nbytes);
        if (i % 64 == 63 && c->opts.cancel && *c->opts.cancel) break;
    }
    return LUCID_STATUS_OK;
}

void ch_reference_outputs(lucid_characterization_t *c)
{
    const ch_config *ref = ch_config_find("reference", CH_DEV_CPU);
    engine e;
    lucid_error err;
    float *out = malloc(c->n_samples * c->out_elems * sizeof(float));
    if (!out) {
        snprintf(c->ref_note, sizeof c->ref_note, "out of memory for the reference outputs");
        return;
    }
    lucid_status st = engine_make(c, ref, 1, 0, &e, &err);
    if (!st) {
        st = run_samples(c, &e, out, &err);
        engine_free(&e);
    }
    if (st) {
        snprintf(c->ref_note, sizeof c->ref_note, "the reference executor failed: %s", err.message);
        free(out);
        return;
    }
    c->ref_out = out;
    snprintf(c->ref_note, sizeof c->ref_note,
             "FP32 outputs of the reference executor on the model as loaded (no optimization)");
}

/* The first output of the first CH_OUTPUT_SAMPLES samples, kept for comparing devices
 * (lucid compare): at most CH_OUTPUT_VALUES values. */
#define CH_OUTPUT_SAMPLES 8
#define CH_OUTPUT_VALUES 8192

static void keep_outputs(const lucid_characterization_t *c, ch_cell *cell, const float *out)
{
    size_t k = c->n_samples < CH_OUTPUT_SAMPLES ? c->n_samples : CH_OUTPUT_SAMPLES;
    while (k > 1 && k * c->out_elems > CH_OUTPUT_VALUES)
        k--;
    if (k * c->out_elems > CH_OUTPUT_VALUES) return;
    free(cell->out_sample);
    cell->out_sample = malloc(k * c->out_elems * sizeof(float));
    if (!cell->out_sample) return;
    memcpy(cell->out_sample, out, k * c->out_elems * sizeof(float));
    cell->out_sample_n = k;
    cell->out_sample_count = k * c->out_elems;
}

static lucid_status measure_accuracy(const lucid_characterization_t *c, ch_cell *cell, engine *e,
                                     lucid_error *err)
{
    if (strcmp(cell->config, "reference") == 0 && c->ref_out) {
        /* the ground truth is this config's own outputs (computed once) */
        ch_accuracy_of(c, c->ref_out, c->n_samples, &cell->acc);
        snprintf(cell->acc.note, sizeof cell->acc.note, "the reference outputs themselves");
        keep_outputs(c, cell, c->ref_out);
        return LUCID_STATUS_OK;
    }
    float *out = malloc(c->n_samples * c->out_elems * sizeof(float));
    if (!out) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    lucid_status st = run_samples(c, e, out, err);
    if (!st) {
        ch_accuracy_of(c, out, c->n_samples, &cell->acc);
        keep_outputs(c, cell, out);
    }
    free(out);
    return st;
}

static lucid_status measure_profile(const lucid_characterization_t *c, ch_cell *cell, engine *e,
                                    lucid_error *err)
{
    lucid_status st = LUCID_STATUS_OK;
    /* as many runs as were timed, at least 3 (a slow reference model) and at most 200 */
    int runs = (int)(cell->lat.iterations < 3     ? 3
                     : cell->lat.iterations > 200 ? 200
                                                  : cell->lat.iterations);
    lucid_context_set_profiling(e->ctx, 1);
    for (int r = 0; r < runs && !st; r++) {
        st = engine_feed(c, e, 0, NULL);
        if (!st) st = lucid_context_run(e->ctx);
    }
    if (st) {
        lucid_context_set_profiling(e->ctx, 0);
        return run_error(e, st, err);
    }
    size_t n = lucid_context_num_layers(e->ctx);
    cell->layers = calloc(n ? n : 1, sizeof *cell->layers);
    if (!cell->layers) {
        lucid_context_set_profiling(e->ctx, 0);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    const lucid_model_t *m = engine_model(e);
    cell->profile_runs = runs;
    for (size_t i = 0; i < n; i++) {
        lucid_layer_profile p;
        if (lucid_context_layer_profile(e->ctx, i, &p)) continue;
        ch_layer *l = &cell->layers[cell->n_layers++];
        snprintf(l->name, sizeof l->name, "%s", p.name);
        snprintf(l->op, sizeof l->op, "%s", p.op_type);
        snprintf(l->tactic, sizeof l->tactic, "%s", p.tactic);
        l->runs = p.runs;
        l->mean_ms = p.runs ? p.total_ms / (double)p.runs : 0;
        l->min_ms = p.min_ms;
        l->max_ms = p.max_ms;
        lucid_node_info ni;
        if (lucid_model_node(m, p.node, &ni) == LUCID_STATUS_OK) {
            /* the engine layer's name ("conv1 + relu1"), as the plan and the build report
             * call it */
            snprintf(l->name, sizeof l->name, "%s", ni.name);
            l->macs = ni.macs;
            l->flops = ni.flops;
            l->bytes = (double)(ni.read_bytes + ni.write_bytes + ni.param_bytes);
        }
        cell->profile_total_ms += l->mean_ms;
        /* GPU layers: the kernels it launched, from CUPTI's traced runs */
        size_t nk = lucid_context_layer_num_kernels(e->ctx, i);
        size_t pos = 0;
        for (size_t j = 0; j < nk && pos < sizeof l->kernels; j++) {
            lucid_layer_kernel k;
            if (lucid_context_layer_kernel(e->ctx, i, j, &k)) continue;
            double per_run = k.runs ? (double)k.total_ns / 1e6 / (double)k.runs : 0;
            int w = snprintf(l->kernels + pos, sizeof l->kernels - pos, "%s%s x%lld (%.4f ms)",
                             pos ? "; " : "", k.name,
                             (long long)(k.runs ? k.launches / k.runs : k.launches), per_run);
            if (w > 0) pos += (size_t)w;
            l->n_kernels++;
        }
    }
    if (is_cuda(c) && e->plan) {
        const char *why = lucid_context_kernels_unavailable(e->ctx);
        if (why) snprintf(cell->kernels_note, sizeof cell->kernels_note, "%s", why);
    }
    lucid_context_set_profiling(e->ctx, 0);
    return LUCID_STATUS_OK;
}

static lucid_status measure_run_to_run(const lucid_characterization_t *c, ch_cell *cell, engine *e,
                                       lucid_error *err)
{
    size_t runs = (size_t)c->opts.runs;
    size_t cap = c->n_nodes * 4 + 64;
    const lucid_model_t *m = engine_model(e);
    lucid_model_info mi;
    if (lucid_model_get_info(m, &mi) == LUCID_STATUS_OK && mi.num_nodes + 1 > cap)
        cap = mi.num_nodes + 1;
    observer o;
    lucid_status st = observer_init(&o, runs, cap, err);
    if (st) return st;
    /* GPU plans: as many CUDA-graph replays again, whose outputs join the count */
    bool replays = is_cuda(c) && e->plan;
    size_t total = replays ? 2 * runs : runs;
    uint64_t *outs = calloc(total, sizeof *outs);
    if (!outs) {
        observer_free(&o);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    /* the input is set before every run: the memory plan may reuse the input's memory for
     * later layers once it is read, so a second run without it would see other data. On a
     * GPU context an observed run is eager, layer by layer (not the CUDA-graph replay the
     * latency measures); its outputs are the replay's (the same kernels in the same order) */
    lucid_context_set_observer(e->ctx, observe, &o);
    for (size_t r = 0; r < runs && !st; r++) {
        o.run = r;
        o.pos = 0;
        st = engine_feed(c, e, 0, NULL);
        if (!st) st = lucid_context_run(e->ctx);
        if (!st) outs[r] = output_digest(e);
    }
    lucid_context_set_observer(e->ctx, NULL, NULL);
    for (size_t r = runs; r < total && !st; r++) {
        st = engine_feed(c, e, 0, NULL);
        if (!st) st = lucid_context_run(e->ctx);
        if (!st) outs[r] = output_digest(e);
    }
    if (st) {
        st = run_error(e, st, err);
    } else {
        ch_run_to_run *rr = &cell->r2r;
        rr->ok = true;
        rr->runs = (int)total;
        if (replays)
            snprintf(rr->note, sizeof rr->note,
                     "%zu eager layer-by-layer runs with every layer's output digested, then %zu "
                     "runs as the cell runs (CUDA-graph replays where the config uses them)",
                     runs, runs);
        for (size_t r = 0; r < total; r++) {
            bool seen = false;
            for (size_t q = 0; q < r && !seen; q++)
                seen = outs[q] == outs[r];
            rr->distinct_outputs += !seen;
        }
        digest_str(outs[0], rr->first_digest);
        snprintf(cell->output_digest, sizeof cell->output_digest, "%s", rr->first_digest);
        find_divergence(&o, runs, e, false, &rr->div);
    }
    free(outs);
    observer_free(&o);
    return st;
}

static int count_distinct(char (*d)[32], int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(d[i], d[j]) == 0;
        k += !seen;
    }
    return k;
}

/* K independent builds (the cell's own is build 0): plan, tactic-set and output digests,
 * latency medians, the layers whose tactic differs, and the first layer whose output
 * differs from build 0's. */
static lucid_status measure_build_to_build(lucid_characterization_t *c, ch_cell *cell,
                                           engine *first, float *scratch, lucid_error *err)
{
    ch_build_to_build *bb = &cell->b2b;
    int builds = c->opts.builds;
    size_t cap = c->n_nodes * 4 + 64;
    lucid_model_info mi;
    if (lucid_model_get_info(engine_model(first), &mi) == LUCID_STATUS_OK && mi.num_nodes + 1 > cap)
        cap = mi.num_nodes + 1;
    observer o;
    lucid_status st = observer_init(&o, (size_t)builds, cap, err);
    if (st) return st;
    size_t n_layers = mi.num_nodes;
    const char **tactic0 = calloc(n_layers + 1, sizeof *tactic0);
    char(*names0)[LUCID_MAX_NAME] = calloc(n_layers + 1, sizeof *names0);
    char(*tactic0_buf)[96] = calloc(n_layers + 1, sizeof *tactic0_buf);
    if (!tactic0 || !names0 || !tactic0_buf) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    lucid_bench_options bo = {.warmup_ms = fmin(c->opts.warmup_ms, 100),
                              .min_iterations = 10,
                              .min_duration_s = c->opts.min_duration_s / 2};
    bool same_graph = true;
    size_t pos = 0;
    bb->differing_tactics[0] = '\0';
    for (int k = 0; k < builds; k++) {
        if (k > 0 && ch_cancelled(c)) break;
        engine local, *e = first;
        if (k > 0) {
            st = engine_make(c, cell->cfg, 1, k, &local, err);
            if (st) goto done;
            e = &local;
        }
        int64_t bytes;
        st = plan_digest(c, e->plan, bb->plan_digest[k], &bytes, err);
        char summary[64];
        uint64_t th = tactic_summary(e, summary, sizeof summary);
        digest_str(th, bb->tactic_digest[k]);
        lucid_plan_info pi;
        lucid_plan_get_info(e->plan, &pi);
        bb->build_s[k] = pi.build_seconds;
        if (pi.num_layers != n_layers) same_graph = false;
        /* layers match by name: builds that chose other layouts have other reorder layers */
        for (size_t i = 0; i < pi.num_layers && !st; i++) {
            lucid_layer_info li;
            lucid_plan_layer(e->plan, i, &li);
            if (k == 0) {
                if (i >= n_layers) break;
                snprintf(names0[i], sizeof names0[i], "%s", li.name);
                snprintf(tactic0_buf[i], sizeof tactic0_buf[i], "%s", li.tactic);
                tactic0[i] = tactic0_buf[i];
                continue;
            }
            size_t j = 0;
            while (j < n_layers && strcmp(names0[j], li.name) != 0)
                j++;
            if (j == n_layers) {
                same_graph = false;
                continue;
            }
            if (strcmp(tactic0[j], li.tactic) != 0 && ++bb->tactic_layers_differing > 0 &&
                pos < sizeof bb->differing_tactics) {
                int w = snprintf(bb->differing_tactics + pos, sizeof bb->differing_tactics - pos,
                                 "%s%s (build %d: %s, build 1: %s)", pos ? "; " : "", li.name,
                                 k + 1, li.tactic[0] ? li.tactic : "none",
                                 tactic0[j][0] ? tactic0[j] : "none");
                if (w > 0) pos += (size_t)w;
            }
        }
        if (!st) {
            ch_latency lat;
            o.run = (size_t)k;
            o.pos = 0;
            st = engine_feed(c, e, 0, scratch);
            lucid_context_set_observer(e->ctx, observe, &o);
            if (!st) st = lucid_context_run(e->ctx);
            lucid_context_set_observer(e->ctx, NULL, NULL);
            if (st) {
                st = run_error(e, st, err);
            } else {
                digest_str(output_digest(e), bb->output_digest[k]);
                st = measure_latency(c, e, &bo, &lat, scratch, err);
                if (!st) bb->median_ms[k] = lat.ms.median;
            }
        }
        if (k > 0) engine_free(&local);
        if (st) goto done;
        bb->builds = k + 1;
    }
    bb->ok = true;
    bb->distinct_plans = count_distinct(bb->plan_digest, bb->builds);
    bb->distinct_tactic_sets = count_distinct(bb->tactic_digest, bb->builds);
    bb->distinct_outputs = count_distinct(bb->output_digest, bb->builds);
    bb->median_min_ms = INFINITY;
    bb->median_max_ms = 0;
    for (int k = 0; k < bb->builds; k++) {
        bb->median_min_ms = fmin(bb->median_min_ms, bb->median_ms[k]);
        bb->median_max_ms = fmax(bb->median_max_ms, bb->median_ms[k]);
    }
    bb->spread =
        bb->median_min_ms > 0 ? (bb->median_max_ms - bb->median_min_ms) / bb->median_min_ms : NAN;
    find_divergence(&o, (size_t)bb->builds, first, true, &bb->div);
    if (!same_graph)
        snprintf(bb->note, sizeof bb->note,
                 "the builds' graphs differ (other layout reorders): layers were matched by name");
    if (bb->builds < builds)
        snprintf(bb->note, sizeof bb->note, "interrupted after %d of %d builds", bb->builds,
                 builds);
done:
    free(tactic0);
    free(names0);
    free(tactic0_buf);
    observer_free(&o);
    return st;
}

/* ---- per-layer signatures on sample 0 ---- */

typedef struct sig_observer {
    ch_layer_sig *sigs;
    size_t n, cap;
} sig_observer;

static lucid_status observe_sig(void *user, size_t node, const char *name,
                                const lucid_array *outs, size_t n_outs)
{
    (void)node;
    sig_observer *o = user;
    if (o->n >= o->cap) return LUCID_STATUS_OK;
    ch_layer_sig *g = &o->sigs[o->n++];
    snprintf(g->name, sizeof g->name, "%s", name ? name : "");
    double ss = 0, mx = 0;
    for (size_t k = 0; k < n_outs; k++) {
        if (!outs[k].data) continue;
        g->digest = lucid_hash_fnv1a(outs[k].data, outs[k].nbytes, g->digest);
        if (outs[k].dtype != LUCID_DTYPE_FLOAT) continue;
        const float *v = outs[k].data;
        size_t n = outs[k].nbytes / sizeof(float);
        for (size_t i = 0; i < n; i++) {
            ss += (double)v[i] * v[i];
            if (fabs(v[i]) > mx) mx = fabs(v[i]);
        }
        g->elements += (int64_t)n;
    }
    g->l2 = sqrt(ss);
    g->max_abs = mx;
    return LUCID_STATUS_OK;
}

static lucid_status measure_signatures(const lucid_characterization_t *c, ch_cell *cell,
                                       engine *e, float *scratch, lucid_error *err)
{
    size_t cap = lucid_context_num_layers(e->ctx) + 1;
    sig_observer o = {.sigs = calloc(cap, sizeof(ch_layer_sig)), .cap = cap};
    if (!o.sigs) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    lucid_status st = engine_feed(c, e, 0, scratch);
    lucid_context_set_observer(e->ctx, observe_sig, &o);
    if (!st) st = lucid_context_run(e->ctx);
    lucid_context_set_observer(e->ctx, NULL, NULL);
    if (st) {
        free(o.sigs);
        return run_error(e, st, err);
    }
    free(cell->sigs);
    cell->sigs = o.sigs;
    cell->n_sigs = o.n;
    return LUCID_STATUS_OK;
}

/* GPU contexts: trtexec's breakdown of host latency (H2D, compute, D2H, enqueue), means over
 * up to 200 runs (at most about half a second more). */
static lucid_status measure_breakdown(const lucid_characterization_t *c, engine *e,
                                      ch_latency *lat, float *scratch, lucid_error *err)
{
    double sum[4] = {0}, t0 = lucid_time_now();
    int n = 0;
    lucid_status st = engine_feed(c, e, 0, scratch);
    for (; !st && n < 200 && (n < 10 || lucid_time_now() - t0 < 0.5); n++) {
        lucid_device_timing dt;
        st = lucid_context_run(e->ctx);
        if (!st) st = lucid_context_device_timing(e->ctx, &dt);
        if (st) break;
        sum[0] += dt.h2d_ms;
        sum[1] += dt.compute_ms;
        sum[2] += dt.d2h_ms;
        sum[3] += dt.enqueue_ms;
    }
    if (st) return run_error(e, st, err);
    lat->has_gpu = true;
    lat->h2d_ms = sum[0] / n;
    lat->compute_ms = sum[1] / n;
    lat->d2h_ms = sum[2] / n;
    lat->enqueue_ms = sum[3] / n;
    return LUCID_STATUS_OK;
}

lucid_status ch_lucid_cell(lucid_characterization_t *c, ch_cell *cell, lucid_error *err)
{
    const ch_config *cfg = cell->cfg;
    engine e;
    float *scratch = NULL;
    ch_step(c, cell, cfg->kind == CH_KIND_PLAN ? "build" : "prepare");
    lucid_status st = engine_make(c, cfg, 1, 0, &e, err);
    if (st) return st;
    scratch = malloc(c->sample_elems * sizeof(float));
    if (!scratch) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    if ((st = measure_cost(c, cell, &e, err))) goto done;
    if (cfg->kind == CH_KIND_PLAN) ch_step(c, cell, "latency");
    lucid_bench_options bo = {.warmup_ms = c->opts.warmup_ms,
                              .min_iterations = c->opts.min_iterations,
                              .min_duration_s = c->opts.min_duration_s};
    bool gpu = is_cuda(c) && e.plan;
    if (gpu) ch_nvml_begin(c->nvml);
    st = measure_latency(c, &e, &bo, &cell->lat, scratch, err);
    if (gpu) {
        ch_nvml_end(c->nvml, cell->lat.iterations + cell->lat.warmup_iterations, &cell->energy);
        if (!c->nvml) snprintf(cell->energy.note, sizeof cell->energy.note, "%s", c->nvml_why);
        if (!st) st = measure_breakdown(c, &e, &cell->lat, scratch, err);
        if (strcmp(cfg->name, "pruned") == 0 || strcmp(cfg->name, "clustered") == 0)
            snprintf(cell->note, sizeof cell->note,
                     "speed: the GPU kernels run the %s weights densely (no kernel uses the "
                     "sparsity or the shared values); accuracy and size are what this cell "
                     "measures",
                     cfg->name);
    }
    if (st) goto done;
    if (ch_cancelled(c)) goto done;
    ch_step(c, cell, "offline");
    if ((st = measure_offline(c, cell, err))) goto done;
    if (ch_cancelled(c)) goto done;
    ch_step(c, cell, "accuracy");
    if ((st = measure_accuracy(c, cell, &e, err))) goto done;
    if (ch_cancelled(c)) goto done;
    ch_step(c, cell, "profile");
    if ((st = measure_profile(c, cell, &e, err))) goto done;
    if (ch_cancelled(c)) goto done;
    ch_step(c, cell, "run-to-run");
    if ((st = measure_run_to_run(c, cell, &e, err))) goto done;
    if ((st = measure_signatures(c, cell, &e, scratch, err))) goto done;
    if (ch_cancelled(c)) goto done;
    if (cfg->kind == CH_KIND_PLAN) {
        ch_step(c, cell, "build-to-build");
        st = measure_build_to_build(c, cell, &e, scratch, err);
    } else {
        snprintf(cell->b2b.note, sizeof cell->b2b.note,
                 "not applicable: the reference executor has one kernel per op, nothing to "
                 "choose between builds");
    }
done:
    free(scratch);
    engine_free(&e);
    return st;
}
