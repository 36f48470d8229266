/* calibrate.c - INT8 calibration: activation ranges and |x| histograms over a calibration set
 * (run with a float32 plan of the model), and the calibrators that turn a histogram into a
 * clipping threshold (minmax, percentile, entropy). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "data/dataset.h"
#include "ops/op.h"
#include "quant/quant.h"

/* ---- the table ------------------------------------------------------------------- */

void lucid_calib_table_destroy(lucid_calib_table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->entries[i].name);
        free(t->entries[i].hist);
    }
    free(t->entries);
    free(t);
}

const lucid_calib_entry *lucid_calib_table_find(const lucid_calib_table *t, const char *name)
{
    if (!t || !name) return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->entries[i].name, name) == 0) return &t->entries[i];
    return NULL;
}

/* ---- calibrators ----------------------------------------------------------------- */

static uint64_t hist_total(const uint64_t *hist, size_t bins)
{
    uint64_t total = 0;
    for (size_t j = 0; j < bins; j++)
        total += hist[j];
    return total;
}

double lucid_calib_threshold_minmax(const uint64_t *hist, size_t bins, double amax)
{
    (void)hist;
    (void)bins;
    return amax;
}

double lucid_calib_threshold_percentile(const uint64_t *hist, size_t bins, double amax,
                                        double percentile)
{
    if (!hist || bins == 0 || !(amax > 0)) return amax;
    uint64_t total = hist_total(hist, bins);
    if (total == 0) return amax;
    double p = percentile > 100.0 ? 100.0 : percentile;
    if (!(p > 0.0)) p = 0.0; /* also NaN: bin 0 then reaches it */
    uint64_t cum = 0;
    for (size_t j = 0; j < bins; j++) {
        cum += hist[j];
        if ((double)cum * 100.0 >= p * (double)total) {
            double t = amax * (double)(j + 1) / (double)bins;
            return t < amax ? t : amax;
        }
    }
    return amax;
}

/* KL(P || Q) for keeping the first i bins (see quant.h for the definition), or a negative
 * value when Q is 0 where P is not. With c_j the counts of P (N in all) and q_j the normalized
 * Q, KL = sum c_j/N * log((c_j/N) / q_j) = (sum c_j log c_j - sum c_j log q_j) / N - log N; q
 * is constant over the non-zero bins of a group, so each group costs one log. clogc[j] is
 * hist[j] * log(hist[j]) (0 for empty bins), precomputed by the caller. */
static double entropy_divergence(const uint64_t *hist, const double *clogc, size_t i, uint64_t kept,
                                 uint64_t total)
{
    const size_t levels = LUCID_CALIB_ENTROPY_LEVELS;
    uint64_t outliers = total - kept;
    double acc = 0.0;
    for (size_t g = 0; g < levels; g++) {
        size_t lo = g * i / levels, hi = (g + 1) * i / levels;
        uint64_t mass = 0, pcount = 0;
        size_t nonzero = 0;
        double sum_clogc = 0.0;
        for (size_t j = lo; j < hi; j++) {
            mass += hist[j];
            uint64_t c = hist[j];
            double cl = clogc[j];
            if (j == i - 1 && outliers) {
                c += outliers;
                cl = (double)c * log((double)c);
            }
            if (!c) continue;
            nonzero++;
            pcount += c;
            sum_clogc += cl;
        }
        if (!nonzero) continue;
        if (!mass) return -1.0;
        double q = (double)mass / (double)nonzero / (double)kept;
        acc += sum_clogc - (double)pcount * log(q);
    }
    double kl = acc / (double)total - log((double)total);
    return kl > 0.0 ? kl : 0.0; /* rounding can leave a tiny negative for identical P and Q */
}

double lucid_calib_threshold_entropy(const uint64_t *hist, size_t bins, double amax)
{
    const size_t levels = LUCID_CALIB_ENTROPY_LEVELS;
    if (!hist || bins <= levels || !(amax > 0)) return amax;
    /* Bin 0 is left out of the search: it holds the exact zeros of ReLU outputs (half or more
     * of every value there), which int8 represents exactly at any threshold. Counted, their
     * spike dominates the divergence (Q smears it over group 0) and the search settles on the
     * candidate with the narrowest groups: on LeNet-5 every ReLU output got a tenth of its
     * amax and a 30-45% relative squared error, against 0.02% with bin 0 left out. */
    uint64_t *h = malloc(sizeof(uint64_t) * bins);
    double *clogc = malloc(sizeof(double) * bins);
    if (!h || !clogc) {
        free(h);
        free(clogc);
        return amax; /* out of memory: no clipping is the safe answer */
    }
    memcpy(h, hist, sizeof(uint64_t) * bins);
    h[0] = 0;
    uint64_t total = hist_total(h, bins);
    for (size_t j = 0; j < bins; j++)
        clogc[j] = h[j] ? (double)h[j] * log((double)h[j]) : 0.0;
    uint64_t kept = 0;
    for (size_t j = 0; j < levels; j++)
        kept += h[j];
    size_t best = bins;
    double best_kl = INFINITY;
    for (size_t i = levels; total && i <= bins; i++) {
        if (i > levels) kept += h[i - 1];
        if (!kept) continue;
        double kl = entropy_divergence(h, clogc, i, kept, total);
        if (kl >= 0.0 && kl < best_kl) {
            best_kl = kl;
            best = i;
        }
    }
    free(h);
    free(clogc);
    double t = ((double)best + 0.5) * amax / (double)bins;
    return t < amax ? t : amax;
}

static double apply_calibrator(lucid_calibrator c, const uint64_t *hist, double amax,
                               double percentile)
{
    switch (c) {
    case LUCID_CALIBRATOR_MINMAX:
        return lucid_calib_threshold_minmax(hist, LUCID_CALIB_BINS, amax);
    case LUCID_CALIBRATOR_PERCENTILE:
        return lucid_calib_threshold_percentile(hist, LUCID_CALIB_BINS, amax, percentile);
    case LUCID_CALIBRATOR_ENTROPY:
    default:
        return lucid_calib_threshold_entropy(hist, LUCID_CALIB_BINS, amax);
    }
}

/* ---- collecting ------------------------------------------------------------------ */

typedef struct collect_state {
    const lucid_graph *g;
    int *entry_of; /* per tensor: its entry, or -1 */
    lucid_calib_entry *entries;
    size_t n_entries;
    uint64_t *seen;      /* per entry: elements seen in the first pass */
    float *lo, *hi;      /* per entry: running min and max (first pass) */
    double *inv_width;   /* per entry: bins / amax (0 when amax is 0; second pass) */
    int pass;            /* 0: ranges, 1: histograms */
    size_t first_sample; /* the first sample of the batch being run, for messages */
    lucid_error err;     /* why the observer stopped a run */
    bool failed;
} collect_state;

static lucid_status observe(collect_state *s, size_t e, const float *x, size_t n, const char *where)
{
    if (n == 0) return LUCID_STATUS_OK;
    if (s->pass == 0) {
        float lo = s->lo[e], hi = s->hi[e];
        bool nan = false;
        for (size_t k = 0; k < n; k++) {
            float v = x[k];
            nan |= v != v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        if (nan || isinf(lo) || isinf(hi)) {
            s->failed = true;
            return lucid_errorf(&s->err, LUCID_STATUS_INVALID_MODEL,
                                "tensor '%s' (%s) is not finite (%s) on the batch starting at "
                                "calibration sample %zu: ranges cannot be calibrated",
                                s->entries[e].name, where, nan ? "NaN" : "infinite",
                                s->first_sample);
        }
        s->lo[e] = lo;
        s->hi[e] = hi;
        s->seen[e] += n;
        return LUCID_STATUS_OK;
    }
    uint64_t *hist = s->entries[e].hist;
    const double inv = s->inv_width[e], last = (double)(LUCID_CALIB_BINS - 1);
    for (size_t k = 0; k < n; k++) {
        double b = fabs((double)x[k]) * inv;
        /* the negated test also sends NaN to the last bin (the first pass refused them) */
        size_t j = b < last ? (size_t)b : LUCID_CALIB_BINS - 1;
        hist[j]++;
    }
    return LUCID_STATUS_OK;
}

static lucid_status on_layer(void *user, size_t node, const char *name, const lucid_array *outputs,
                             size_t n_outputs)
{
    collect_state *s = user;
    const lucid_node *nd = &s->g->nodes[node];
    for (size_t k = 0; k < n_outputs && k < (size_t)nd->n_outputs; k++) {
        int t = nd->outputs[k];
        if (t < 0 || s->entry_of[t] < 0) continue;
        const lucid_array *a = &outputs[k];
        if (a->dtype != LUCID_DTYPE_FLOAT || (!a->data && a->nbytes)) {
            s->failed = true;
            return lucid_errorf(&s->err, LUCID_STATUS_INTERNAL,
                                "node '%s' output %zu: the executor showed %s data for a "
                                "float32 tensor",
                                name, k, lucid_dtype_name(a->dtype));
        }
        char where[300];
        snprintf(where, sizeof where, "output %zu of node '%s'", k, name);
        lucid_status st =
            observe(s, (size_t)s->entry_of[t], a->data, a->nbytes / sizeof(float), where);
        if (st) return st;
    }
    return LUCID_STATUS_OK;
}

/* The model's one image input, checked against the dataset; its shape with unknown dims
 * filled in. */
static lucid_status check_input(const lucid_graph *g, const lucid_dataset_t *ds, int64_t dims[4],
                                lucid_error *err)
{
    const char *model = g->path && g->path[0] ? g->path : "the model";
    if (g->n_inputs != 1)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "%s has %d inputs; calibration feeds exactly one image input", model,
                            g->n_inputs);
    const lucid_ir_tensor *x = &g->tensors[g->inputs[0]];
    char shape[160];
    lucid_shape_str(x->rank, x->dims, shape, sizeof shape);
    if (x->dtype != LUCID_DTYPE_FLOAT)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "%s: input '%s' is %s; calibration feeds float32 images", model,
                            x->name, lucid_dtype_name(x->dtype));
    if (x->rank != 4)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "%s: input '%s' has shape %s; calibration feeds images as [batch, "
                            "channels, height, width]",
                            model, x->name, shape);
    const int64_t want[3] = {ds->channels, ds->height, ds->width};
    for (int d = 1; d < 4; d++)
        if (x->dims[d] >= 0 && x->dims[d] != want[d - 1])
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "calibration data '%s' has samples of %dx%dx%d, but input '%s' "
                                "of %s takes %s",
                                ds->description, ds->channels, ds->height, ds->width, x->name,
                                model, shape);
    if (x->dims[0] == 0 || x->dims[0] > 65536)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "%s: input '%s' has batch %lld (shape %s); calibration needs 1 to "
                            "65536",
                            model, x->name, (long long)x->dims[0], shape);
    dims[0] = x->dims[0] > 0 ? x->dims[0] : 1;
    for (int d = 1; d < 4; d++)
        dims[d] = want[d - 1];
    return LUCID_STATUS_OK;
}

/* A copy of the model that runs every node: views become copies again and unknown input
 * dimensions are fixed. */
static lucid_status runnable_copy(const lucid_model_t *model, const int64_t dims[4],
                                  lucid_model_t **out, lucid_error *err)
{
    *out = NULL;
    lucid_graph *g = lucid_graph_clone(model->graph, lucid_op_params_size);
    if (!g) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory copying the model");
    for (int i = 0; i < g->n_nodes; i++)
        g->nodes[i].elided = false;
    for (int t = 0; t < g->n_tensors; t++) {
        g->tensors[t].view_of = -1;
        g->tensors[t].view_offset = 0;
    }
    const lucid_ir_tensor *x = &g->tensors[g->inputs[0]];
    bool fix = false;
    for (int d = 0; d < 4; d++)
        fix |= x->dims[d] < 0;
    char *name = lucid_strdup(x->name);
    lucid_model_t *m = NULL;
    lucid_status st = name ? lucid_model_wrap(g, &m, err)
                           : lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (st) {
        lucid_graph_destroy(g);
        free(name);
        return st;
    }
    if (fix) st = lucid_model_set_input_shape(m, name, 4, dims, err);
    free(name);
    if (st) {
        lucid_model_destroy(m);
        return st;
    }
    *out = m;
    return LUCID_STATUS_OK;
}

/* Lists the activation tensors: the graph input, then every non-constant float32 node
 * output in node (topological) order. */
static lucid_status list_entries(collect_state *s, lucid_error *err)
{
    const lucid_graph *g = s->g;
    size_t cap = 1;
    for (int i = 0; i < g->n_nodes; i++)
        cap += (size_t)g->nodes[i].n_outputs;
    s->entries = calloc(cap, sizeof *s->entries);
    s->entry_of = malloc(sizeof(int) * ((size_t)g->n_tensors + 1));
    if (!s->entries || !s->entry_of) goto oom;
    for (int t = 0; t < g->n_tensors; t++)
        s->entry_of[t] = -1;
    for (int pos = -1; pos < g->n_nodes; pos++) {
        int n_out = pos < 0 ? 1 : g->nodes[pos].n_outputs;
        for (int k = 0; k < n_out; k++) {
            int t = pos < 0 ? g->inputs[0] : g->nodes[pos].outputs[k];
            if (t < 0 || s->entry_of[t] >= 0) continue;
            const lucid_ir_tensor *x = &g->tensors[t];
            if (x->dtype != LUCID_DTYPE_FLOAT || x->data) continue;
            lucid_calib_entry *e = &s->entries[s->n_entries];
            e->name = lucid_strdup(x->name);
            e->hist = calloc(LUCID_CALIB_BINS, sizeof *e->hist);
            if (!e->name || !e->hist) {
                free(e->name);
                free(e->hist);
                e->name = NULL;
                e->hist = NULL;
                goto oom;
            }
            s->entry_of[t] = (int)s->n_entries++;
        }
    }
    size_t n = s->n_entries + 1;
    s->seen = calloc(n, sizeof *s->seen);
    s->lo = malloc(n * sizeof *s->lo);
    s->hi = malloc(n * sizeof *s->hi);
    s->inv_width = calloc(n, sizeof *s->inv_width);
    if (!s->seen || !s->lo || !s->hi || !s->inv_width) goto oom;
    for (size_t e = 0; e < n; e++) {
        s->lo[e] = INFINITY;
        s->hi[e] = -INFINITY;
    }
    return LUCID_STATUS_OK;
oom:
    return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY,
                        "out of memory for the calibration histograms");
}

static void state_free(collect_state *s)
{
    if (s->entries)
        for (size_t e = 0; e < s->n_entries; e++) {
            free(s->entries[e].name);
            free(s->entries[e].hist);
        }
    free(s->entries);
    free(s->entry_of);
    free(s->seen);
    free(s->lo);
    free(s->hi);
    free(s->inv_width);
}

void lucid_quant_measuring_options(lucid_build_options *bo)
{
    lucid_build_options_default(bo);
    bo->optimize.opt_level = 0;
    bo->deterministic = 1;
    bo->margin = 10; /* the first tactic by preference unless another is 11 times faster */
    bo->threads = 1;
    bo->time_ms = 1;
}

lucid_status lucid_calib_collect(const lucid_model_t *model, lucid_dataset_t *ds, size_t count,
                                 lucid_calibrator calibrator, double percentile,
                                 lucid_calib_table **out, lucid_error *err)
{
    if (!out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "calib_collect: NULL argument");
    *out = NULL;
    if (!model || !model->graph || !ds)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "calib_collect: NULL argument");
    if (calibrator != LUCID_CALIBRATOR_ENTROPY && calibrator != LUCID_CALIBRATOR_MINMAX &&
        calibrator != LUCID_CALIBRATOR_PERCENTILE)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "unknown calibrator %d (entropy, minmax or percentile)",
                            (int)calibrator);
    if (percentile == 0.0) percentile = LUCID_CALIB_DEFAULT_PERCENTILE;
    if (!(percentile > 0.0 && percentile <= 100.0))
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "calibration percentile %g is not in (0, 100]", percentile);
    size_t available = lucid_dataset_size(ds);
    if (available == 0)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "calibration data '%s' has no samples", ds->description);
    if (count > available)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "%zu calibration samples were asked for, but '%s' has only %zu", count,
                            ds->description, available);
    if (count == 0) count = LUCID_MIN((size_t)LUCID_CALIB_DEFAULT_COUNT, available);
    int64_t dims[4];
    lucid_status st = check_input(model->graph, ds, dims, err);
    if (st) return st;
    size_t batch = (size_t)dims[0], sample = (size_t)(dims[1] * dims[2] * dims[3]), elems;
    if (!lucid_mul_size(batch, sample, &elems) || elems > (size_t)LUCID_MAX_ELEMENTS)
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                            "a calibration batch of %zu samples of %zu values is too large", batch,
                            sample);

    lucid_model_t *m = NULL;
    lucid_plan_t *plan = NULL;
    lucid_context_t *ctx = NULL;
    lucid_calib_table *table = NULL;
    float *buf = NULL;
    collect_state s = {0};
    st = runnable_copy(model, dims, &m, err);
    if (st) goto fail;
    /* An FP32 plan of the copy runs the samples: the reference kernels would take minutes per
     * hundred images on ImageNet-sized models (its fast kernels sum in another order, so
     * ranges differ from the reference's in the last bits). No graph pass runs (the graph is
     * already optimized; the copy's views are real copies so that every tensor is seen), and the
     * deterministic rule keeps every layer plain NCHW, so the plan's graph is the copy's. */
    lucid_build_options bo;
    lucid_quant_measuring_options(&bo);
    st = lucid_plan_build(m, &bo, &plan, err);
    if (st) {
        lucid_error_prefix(err, "calibration: building the float32 plan: ");
        goto fail;
    }
    if (lucid_plan_model(plan)->graph->n_nodes == m->graph->n_nodes) {
        s.g = lucid_plan_model(plan)->graph;
        st = lucid_context_create_plan(plan, NULL, &ctx, err);
    } else {
        /* a layer only a channels-last tactic runs made the builder insert reorders: the
         * reference executor runs the copy as it is */
        s.g = m->graph;
        st = lucid_context_create(m, NULL, &ctx, err);
    }
    if (st) goto fail;
    st = list_entries(&s, err);
    if (st) goto fail;
    st = lucid_context_set_observer(ctx, on_layer, &s);
    if (st) {
        lucid_errorf(err, st, "%s", lucid_context_error(ctx));
        goto fail;
    }
    if (!(buf = malloc(elems * sizeof *buf))) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY,
                          "out of memory for a calibration batch of %zu values", elems);
        goto fail;
    }
    const lucid_ir_tensor *x = &s.g->tensors[s.g->inputs[0]];
    for (s.pass = 0; s.pass < 2; s.pass++) {
        if (s.pass == 1)
            for (size_t e = 0; e < s.n_entries; e++) {
                lucid_calib_entry *en = &s.entries[e];
                if (s.seen[e]) {
                    en->min = s.lo[e];
                    en->max = s.hi[e];
                }
                en->amax = LUCID_MAX(fabs(en->min), fabs(en->max));
                s.inv_width[e] = en->amax > 0 ? (double)LUCID_CALIB_BINS / en->amax : 0.0;
            }
        for (size_t first = 0; first < count; first += batch) {
            s.first_sample = first;
            for (size_t b = 0; b < batch; b++) {
                /* a fixed batch larger than what is left starts over at sample 0 */
                size_t i = (first + b) % count;
                st = lucid_dataset_load(ds, i, buf + b * sample, NULL, err);
                if (st) {
                    lucid_error_prefix(err, "calibration sample %zu of '%s': ", i, ds->description);
                    goto fail;
                }
            }
            st = observe(&s, 0, buf, elems, "the graph input");
            if (st) {
                lucid_errorf(err, st, "%s", s.err.message);
                goto fail;
            }
            st = lucid_context_set_input(ctx, x->name, LUCID_DTYPE_FLOAT, 4, dims, buf);
            if (!st) st = lucid_context_run(ctx);
            if (st) {
                if (s.failed)
                    lucid_errorf(err, st, "%s", s.err.message);
                else
                    lucid_errorf(err, st, "calibration run on samples %zu..: %s", first,
                                 lucid_context_error(ctx));
                goto fail;
            }
        }
    }

    table = calloc(1, sizeof *table);
    if (!table) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    for (size_t e = 0; e < s.n_entries; e++) {
        lucid_calib_entry *en = &s.entries[e];
        en->threshold = apply_calibrator(calibrator, en->hist, en->amax, percentile);
    }
    table->entries = s.entries;
    table->n = s.n_entries;
    s.entries = NULL;
    s.n_entries = 0;
    table->calibrator = calibrator;
    table->percentile = percentile;
    table->samples = count;
    snprintf(table->source, sizeof table->source, "%.*s", (int)sizeof table->source - 1,
             ds->description);
    *out = table;
    st = LUCID_STATUS_OK;
fail:
    free(buf);
    state_free(&s);
    lucid_context_destroy(ctx);
    lucid_plan_destroy(plan);
    lucid_model_destroy(m);
    return st;
}
