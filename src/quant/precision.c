/* precision.c - the precision pass: applies the build's compression (pruning, clustering)
 * and reduced precision (FP16, BF16, INT8) to the optimized graph, honouring per-layer
 * constraints, calibrating INT8 activations, and, in the automatic mixed-precision mode,
 * measuring on the calibration set what error each layer adds and keeping in float32 those
 * that add too much. Every decision goes to the optimizer's log and the job's records. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/strmap.h"
#include "core/util.h"
#include "ir/model.h"
#include "ops/op.h"
#include "passes/pass.h"
#include "quant/quant.h"

/* samples run through both graphs when the automatic mode measures layer errors */
#define ERROR_SAMPLES_MAX 32

bool lucid_precision_job_int8(const lucid_precision_job *job)
{
    return job && job->opts && job->opts->precision == LUCID_PRECISION_INT8;
}

void lucid_precision_job_free(lucid_precision_job *job)
{
    if (!job) return;
    if (job->compress_names)
        for (size_t i = 0; i < job->compress.n; i++)
            free(job->compress_names[i]);
    free(job->compress_names);
    job->compress_names = NULL;
    lucid_compress_report_free(&job->compress);
    for (size_t i = 0; i < job->n_records; i++) {
        free(job->records[i].name);
        free(job->records[i].op_type);
    }
    free(job->records);
    job->records = NULL;
    job->n_records = 0;
}

static lucid_status parse_precision(const char *s, lucid_precision *out)
{
    static const lucid_precision all[] = {LUCID_PRECISION_FP32, LUCID_PRECISION_FP16,
                                          LUCID_PRECISION_BF16, LUCID_PRECISION_INT8};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, lucid_precision_name(all[i])) == 0) {
            *out = all[i];
            return LUCID_STATUS_OK;
        }
    return LUCID_STATUS_INVALID_ARGUMENT;
}

/* Is `name` the node's name or one of the " + "-joined names of the nodes fused into it? */
static bool layer_matches(const char *node_name, const char *name)
{
    size_t len = strlen(name);
    if (!len) return false;
    for (const char *p = node_name; (p = strstr(p, name)) != NULL; p++) {
        bool start = p == node_name || (p - node_name >= 3 && strncmp(p - 3, " + ", 3) == 0);
        bool end = p[len] == 0 || strncmp(p + len, " + ", 3) == 0;
        if (start && end) return true;
    }
    return false;
}

/* Applies --layer-precision: keep[i] for layers pinned to float32, need[i] for layers that
 * must get the build's precision. */
static lucid_status apply_constraints(const lucid_graph *g, const lucid_build_options *o,
                                      bool *keep, bool *need, lucid_error *err)
{
    for (size_t c = 0; c < o->n_layer_precision; c++) {
        const char *spec = o->layer_precision[c];
        const char *eq = spec ? strrchr(spec, '=') : NULL;
        if (!eq || eq == spec)
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "layer precision '%s': expected NAME=PRECISION (fp32, fp16, bf16 "
                                "or int8)",
                                spec ? spec : "(null)");
        lucid_precision p;
        if (parse_precision(eq + 1, &p))
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "layer precision '%s': '%s' is not fp32, fp16, bf16 or int8", spec,
                                eq + 1);
        if (p != LUCID_PRECISION_FP32 && p != o->precision)
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "layer precision '%s': a layer runs in float32 or in the build's "
                                "precision (%s)",
                                spec, lucid_precision_name(o->precision));
        char name[512];
        size_t len = (size_t)(eq - spec);
        if (len >= sizeof name)
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "layer precision: name longer than %zu bytes", sizeof name - 1);
        memcpy(name, spec, len);
        name[len] = 0;
        int hits = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (layer_matches(g->nodes[i].name, name)) {
                hits++;
                if (p == LUCID_PRECISION_FP32)
                    keep[i] = true;
                else
                    need[i] = true;
            }
        if (!hits)
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "layer precision '%s': no layer of the optimized graph is or "
                                "contains a node named '%s' (lucid build --report lists them)",
                                spec, name);
    }
    return LUCID_STATUS_OK;
}

/* The single image input of g, as a dataset shape; batch = its first dim. */
static lucid_status image_input(const lucid_graph *g, lucid_dataset_options *d, int64_t *batch,
                                lucid_error *err)
{
    if (g->n_inputs != 1)
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "calibration feeds one image input; the model has %d inputs",
                            g->n_inputs);
    const lucid_ir_tensor *t = &g->tensors[g->inputs[0]];
    if (t->dtype != LUCID_DTYPE_FLOAT || t->rank != 4 || !lucid_tensor_shape_known(t) ||
        t->dims[0] < 1 || t->dims[1] < 1 || t->dims[1] > 4096 || t->dims[2] > 65536 ||
        t->dims[3] > 65536) {
        char s[128];
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "calibration feeds images; input '%s' is %s %s, not float32 "
                            "[N, C, H, W]",
                            t->name, lucid_dtype_name(t->dtype),
                            lucid_shape_str(t->rank, t->dims, s, sizeof s));
    }
    memset(d, 0, sizeof *d);
    d->channels = (int)t->dims[1];
    d->height = (int)t->dims[2];
    d->width = (int)t->dims[3];
    *batch = t->dims[0];
    return LUCID_STATUS_OK;
}

static lucid_status open_calibration_set(const lucid_graph *g, const lucid_build_options *o,
                                         lucid_dataset_t **ds, lucid_error *err)
{
    lucid_dataset_options d;
    int64_t batch;
    lucid_status st = image_input(g, &d, &batch, err);
    if (st) return st;
    st = lucid_dataset_open(o->calibration_data, &d, ds, err);
    if (st) lucid_error_prefix(err, "calibration data: ");
    return st;
}

/* A model owning a finalized copy of g. */
static lucid_status wrap_copy(const lucid_graph *g, lucid_model_t **out, lucid_error *err)
{
    lucid_graph *c = lucid_graph_clone(g, lucid_op_params_size);
    if (!c) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    lucid_status st = lucid_model_wrap(c, out, err);
    if (st) lucid_graph_destroy(c);
    return st;
}

/* ---- per-layer error measurement --------------------------------------------------- */

/* A context running `m` fast and reproducibly (lucid_quant_measuring_options). */
static lucid_status fast_context(const lucid_model_t *m, lucid_plan_t **plan, lucid_context_t **ctx,
                                 lucid_error *err)
{
    lucid_build_options bo;
    lucid_quant_measuring_options(&bo);
    lucid_status st = lucid_plan_build(m, &bo, plan, err);
    if (!st) st = lucid_context_create_plan(*plan, NULL, ctx, err);
    return st;
}

typedef struct err_acc {
    const lucid_graph *ref;
    lucid_strmap by_node; /* node name -> index in ref */
    float **out;          /* per ref node: its first output on the current sample (float32) */
    int64_t *numel;
    double *diff2, *ref2; /* per ref node, summed over samples */
    bool collecting;      /* true: the float32 run (store); false: the reduced run (compare) */
    lucid_error fail;
} err_acc;

static lucid_status err_observer(void *user, size_t node, const char *name,
                                 const lucid_array *outputs, size_t n_outputs)
{
    (void)node;
    err_acc *a = user;
    int r = lucid_strmap_get(&a->by_node, name);
    if (r < 0 || n_outputs < 1) return LUCID_STATUS_OK;
    const lucid_array *y = &outputs[0];
    int64_t n = lucid_array_numel(y);
    if (y->dtype != LUCID_DTYPE_FLOAT && y->dtype != LUCID_DTYPE_FLOAT16 &&
        y->dtype != LUCID_DTYPE_BFLOAT16)
        return LUCID_STATUS_OK;
    if (a->collecting) {
        if (!a->out[r]) {
            a->out[r] = malloc((size_t)n * sizeof(float));
            if (!a->out[r])
                return lucid_errorf(&a->fail, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            a->numel[r] = n;
        }
        if (a->numel[r] != n) return LUCID_STATUS_OK;
        for (int64_t i = 0; i < n; i++)
            a->out[r][i] = (float)lucid_load_f64(y->dtype, y->data, i);
        return LUCID_STATUS_OK;
    }
    if (!a->out[r] || a->numel[r] != n) return LUCID_STATUS_OK;
    double d2 = 0, r2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double f = a->out[r][i], q = lucid_load_f64(y->dtype, y->data, i), d = q - f;
        d2 += d * d;
        r2 += f * f;
    }
    a->diff2[r] += d2;
    a->ref2[r] += r2;
    return LUCID_STATUS_OK;
}

/* Runs the float32 graph `ref` and its reduced version `low` (plans, fast_context) on the
 * first samples of ds; rel[i] is node i of ref's relative L2 output error, added[i] what it
 * adds over the largest error among the nodes feeding it (both -1 for nodes not compared). */
static lucid_status measure_errors(const lucid_graph *ref, const lucid_graph *low,
                                   lucid_dataset_t *ds, size_t samples, double *rel, double *added,
                                   size_t *ran, lucid_error *err)
{
    err_acc a = {.ref = ref};
    lucid_model_t *mr = NULL, *ml = NULL;
    lucid_plan_t *pr = NULL, *pl = NULL;
    lucid_context_t *cr = NULL, *cl = NULL;
    float *x = NULL;
    lucid_status st = LUCID_STATUS_OK;
    int n = ref->n_nodes;
    lucid_strmap_init(&a.by_node);
    a.out = calloc((size_t)n, sizeof *a.out);
    a.numel = calloc((size_t)n, sizeof *a.numel);
    a.diff2 = calloc((size_t)n, sizeof *a.diff2);
    a.ref2 = calloc((size_t)n, sizeof *a.ref2);
    if (!a.out || !a.numel || !a.diff2 || !a.ref2) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (!lucid_strmap_put(&a.by_node, ref->nodes[i].name, i)) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            goto done;
        }
    if ((st = wrap_copy(ref, &mr, err)) || (st = wrap_copy(low, &ml, err))) goto done;
    if ((st = fast_context(mr, &pr, &cr, err)) || (st = fast_context(ml, &pl, &cl, err))) {
        lucid_error_prefix(err, "measuring layer errors: ");
        goto done;
    }
    const lucid_ir_tensor *in = &ref->tensors[ref->inputs[0]];
    int64_t numel = lucid_tensor_numel(in), batch = in->dims[0], per = numel / batch;
    x = malloc((size_t)numel * sizeof *x);
    if (!x) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    size_t total = lucid_dataset_size(ds);
    if (samples > total) samples = total;
    size_t done_samples = 0;
    for (size_t s = 0; s < samples; s += (size_t)batch) {
        for (int64_t b = 0; b < batch; b++) {
            size_t idx = (s + (size_t)b) % total;
            if ((st = lucid_dataset_load(ds, idx, x + b * per, NULL, err))) goto done;
        }
        st = lucid_context_set_input(cr, in->name, LUCID_DTYPE_FLOAT, in->rank, in->dims, x);
        if (!st)
            st = lucid_context_set_input(cl, in->name, LUCID_DTYPE_FLOAT, in->rank, in->dims, x);
        if (st) {
            lucid_errorf(err, st, "measuring layer errors: %s", lucid_context_error(cr));
            goto done;
        }
        a.collecting = true;
        if (!st) st = lucid_context_set_observer(cr, err_observer, &a);
        if (!st) st = lucid_context_run(cr);
        if (!st) {
            a.collecting = false;
            st = lucid_context_set_observer(cl, err_observer, &a);
        }
        if (!st) st = lucid_context_run(cl);
        if (st) {
            if (a.fail.status)
                *err = a.fail;
            else
                lucid_errorf(err, st, "measuring layer errors: %s",
                             lucid_context_error(a.collecting ? cr : cl));
            goto done;
        }
        done_samples += (size_t)batch;
    }
    *ran = done_samples;
    for (int i = 0; i < n; i++) {
        rel[i] = a.ref2[i] > 0 ? sqrt(a.diff2[i] / a.ref2[i]) : a.diff2[i] > 0 ? INFINITY : -1;
        if (!a.out[i]) rel[i] = -1;
    }
    for (int i = 0; i < n; i++) {
        added[i] = -1;
        if (rel[i] < 0) continue;
        double in_err = 0;
        const lucid_node *nd = &ref->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++) {
            int t = nd->inputs[k];
            if (t < 0) continue;
            int p = ref->tensors[t].producer;
            if (p >= 0 && rel[p] > in_err) in_err = rel[p];
        }
        added[i] = rel[i] - in_err > 0 ? rel[i] - in_err : 0;
    }
done:
    lucid_context_destroy(cr);
    lucid_context_destroy(cl);
    lucid_plan_destroy(pr);
    lucid_plan_destroy(pl);
    lucid_model_destroy(mr);
    lucid_model_destroy(ml);
    if (a.out)
        for (int i = 0; i < n; i++)
            free(a.out[i]);
    free(a.out);
    free(a.numel);
    free(a.diff2);
    free(a.ref2);
    free(x);
    lucid_strmap_free(&a.by_node);
    return st;
}

/* ---- the rewrite ---------------------------------------------------------------------- */

/* Q/DQ insertion (int8; GPU plans quantize every activation signed) or the 16-bit casts, and
 * the ops re-resolved; out per node of g */
static lucid_status insert_precision(lucid_graph *g, const lucid_build_options *o,
                                     const lucid_calib_table *table, const bool *keep,
                                     lucid_layer_precision *out, lucid_error *err)
{
    lucid_status st =
        o->precision == LUCID_PRECISION_INT8
            ? lucid_precision_insert_qdq(g, table, keep, o->device == LUCID_DEVICE_CUDA, out, err)
            : lucid_precision_cast16(g, o->precision, keep, out, err);
    return st ? st : lucid_graph_resolve_ops(g, err);
}

/* Rewrites g (a copy when measuring) into the job's precision; out per node of g. */
static lucid_status rewrite(lucid_graph *g, const lucid_build_options *o,
                            const lucid_calib_table *table, const bool *keep,
                            lucid_layer_precision *out, lucid_error *err)
{
    lucid_status st = insert_precision(g, o, table, keep, out, err);
    if (!st) st = lucid_graph_compact(g, err);
    return st;
}

static lucid_status get_table(const lucid_graph *g, lucid_precision_job *job, lucid_dataset_t *ds,
                              lucid_calib_table **table, lucid_error *err)
{
    const lucid_build_options *o = job->opts;
    if (o->calibration_cache && access(o->calibration_cache, F_OK) == 0) {
        lucid_status st = lucid_calib_cache_load(o->calibration_cache, table, err);
        if (st) return st;
        snprintf(job->calibration, sizeof job->calibration, "calibration cache %s (%s)",
                 o->calibration_cache, lucid_calibrator_name((*table)->calibrator));
        return LUCID_STATUS_OK;
    }
    if (!ds)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "an int8 build needs calibration data (a dataset spec, e.g. "
                            "fashion-mnist:train) or an existing calibration cache file%s%s",
                            o->calibration_cache ? "; not found: " : "",
                            o->calibration_cache ? o->calibration_cache : "");
    lucid_model_t *m = NULL;
    lucid_status st = wrap_copy(g, &m, err);
    if (st) return st;
    double t0 = lucid_time_now();
    size_t count = o->calibration_count ? o->calibration_count : 500;
    st = lucid_calib_collect(m, ds, count, o->calibrator, o->percentile, table, err);
    lucid_model_destroy(m);
    if (st) return st;
    job->calib_seconds = lucid_time_now() - t0;
    job->calib_samples = (*table)->samples;
    snprintf(job->calibration, sizeof job->calibration, "%s calibrator on %zu samples of %s",
             lucid_calibrator_name(o->calibrator), (*table)->samples, lucid_dataset_describe(ds));
    if (o->calibration_cache) {
        st = lucid_calib_cache_save(*table, o->calibration_cache, err);
        if (st) return st;
    }
    return LUCID_STATUS_OK;
}

static lucid_status precision_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    lucid_precision_job *job = lucid_pass_job(ctx);
    if (!job) return LUCID_STATUS_OK;
    const lucid_build_options *o = job->opts;
    lucid_status st = LUCID_STATUS_OK;
    if (o->prune_sparsity != 0 || o->prune_2_4 || o->cluster_bits) {
        st = lucid_compress_weights(g, o, &job->compress, err);
        if (st) return st;
        job->compress_names = calloc(job->compress.n + 1, sizeof *job->compress_names);
        if (!job->compress_names)
            return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        for (size_t i = 0; i < job->compress.n; i++)
            if (!(job->compress_names[i] =
                      lucid_strdup(g->nodes[job->compress.layers[i].node].name)))
                return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        for (size_t i = 0; i < job->compress.n; i++) {
            const lucid_compress_layer *c = &job->compress.layers[i];
            const lucid_node *n = &g->nodes[c->node];
            char what[160] = "";
            if (c->zeros_after > c->zeros_before)
                snprintf(what, sizeof what, "%.1f%% zeros",
                         100.0 * (double)c->zeros_after / (double)(c->weights ? c->weights : 1));
            if (c->distinct_after)
                snprintf(what + strlen(what), sizeof what - strlen(what), "%s%d shared values",
                         what[0] ? ", " : "", c->distinct_after);
            lucid_pass_rewrite(ctx, n->name, n->name, "weights compressed: %s; %zu -> %zu bytes",
                               what, c->bytes_before, c->bytes_after);
        }
    }
    if (o->precision == LUCID_PRECISION_FP32) {
        if (o->n_layer_precision)
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "layer precision constraints need a reduced-precision build "
                                "(precision fp16, bf16 or int8)");
        return LUCID_STATUS_OK;
    }
    int n = g->n_nodes;
    bool *keep = calloc((size_t)n + 1, sizeof *keep);
    bool *need = calloc((size_t)n + 1, sizeof *need);
    lucid_layer_precision *dec = calloc((size_t)n + 1, sizeof *dec);
    double *rel = calloc((size_t)n + 1, sizeof *rel);
    double *added = calloc((size_t)n + 1, sizeof *added);
    lucid_calib_table *table = NULL;
    lucid_dataset_t *ds = NULL;
    lucid_graph *trial = NULL;
    if (!keep || !need || !dec || !rel || !added) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        rel[i] = added[i] = -1;
    if ((st = apply_constraints(g, o, keep, need, err))) goto done;
    bool measure = o->auto_precision_threshold > 0;
    if (o->calibration_data && (measure || o->precision == LUCID_PRECISION_INT8) &&
        (st = open_calibration_set(g, o, &ds, err)))
        goto done;
    if (measure && !ds) {
        st = lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                          "automatic mixed precision measures each layer's error on calibration "
                          "data: give a calibration dataset");
        goto done;
    }
    if (o->precision == LUCID_PRECISION_INT8 && (st = get_table(g, job, ds, &table, err)))
        goto done;
    if (measure) {
        /* every eligible layer reduced, then each one's own error on the calibration set */
        if (!(trial = lucid_graph_clone(g, lucid_op_params_size))) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            goto done;
        }
        if ((st = rewrite(trial, o, table, keep, dec, err))) goto done;
        double t0 = lucid_time_now();
        size_t count = o->calibration_count ? o->calibration_count : 500;
        if (count > ERROR_SAMPLES_MAX) count = ERROR_SAMPLES_MAX;
        st = measure_errors(g, trial, ds, count, rel, added, &job->error_samples, err);
        if (st) goto done;
        job->measure_seconds = lucid_time_now() - t0;
        for (int i = 0; i < n; i++)
            if (dec[i].precision == o->precision && added[i] > o->auto_precision_threshold &&
                !need[i])
                keep[i] = true;
    }
    /* the final rewrite, on g itself; decisions are reported against the layers as they
     * were before it (the indices of g's nodes now) */
    char **names = calloc((size_t)n + 1, sizeof *names);
    char **ops = calloc((size_t)n + 1, sizeof *ops);
    if (!names || !ops) {
        free(names);
        free(ops);
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        names[i] = lucid_strdup(g->nodes[i].name);
        ops[i] = lucid_strdup(g->nodes[i].op_type);
    }
    st = insert_precision(g, o, table, keep, dec, err); /* the manager sorts and infers after */
    size_t nrec = 0;
    for (int i = 0; i < n && !st; i++) {
        bool eligible =
            dec[i].precision == o->precision || keep[i] || strncmp(dec[i].why, "no ", 3) != 0;
        if (need[i] && dec[i].precision != o->precision) {
            st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                              "layer '%s' (%s) is constrained to %s but cannot take it: %s",
                              names[i], ops[i], lucid_precision_name(o->precision), dec[i].why);
            break;
        }
        if (keep[i] && measure && added[i] > o->auto_precision_threshold && !need[i])
            snprintf(dec[i].why, sizeof dec[i].why,
                     "adds %.3g relative error on the calibration set (threshold %.3g)", added[i],
                     o->auto_precision_threshold);
        else if (keep[i] && dec[i].precision != o->precision)
            snprintf(dec[i].why, sizeof dec[i].why, "kept float32 by a layer constraint");
        if (eligible) nrec++;
    }
    if (!st) {
        job->records = calloc(nrec + 1, sizeof *job->records);
        if (!job->records) st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < n && !st; i++) {
        bool eligible =
            dec[i].precision == o->precision || keep[i] || strncmp(dec[i].why, "no ", 3) != 0;
        if (!eligible) continue;
        lucid_precision_record *r = &job->records[job->n_records++];
        r->name = names[i];
        r->op_type = ops[i];
        names[i] = ops[i] = NULL;
        r->precision = dec[i].precision;
        r->error = rel[i];
        r->added_error = added[i];
        snprintf(r->why, sizeof r->why, "%s", dec[i].precision == o->precision ? "" : dec[i].why);
        if (r->precision == o->precision)
            lucid_pass_rewrite(ctx, r->name, r->name, "%s%s", lucid_precision_name(r->precision),
                               r->error >= 0 ? " (error measured on the calibration set)" : "");
        else
            lucid_pass_refuse(ctx, r->name, "stays fp32: %s", r->why);
    }
    for (int i = 0; i < n; i++) {
        free(names[i]);
        free(ops[i]);
    }
    free(names);
    free(ops);
done:
    lucid_graph_destroy(trial);
    lucid_dataset_destroy(ds);
    lucid_calib_table_destroy(table);
    free(keep);
    free(need);
    free(dec);
    free(rel);
    free(added);
    return st;
}

const lucid_pass_def lucid_pass_precision = {
    .name = "precision",
    .level = LUCID_PASS_FUSION,
    .summary = "reduced precision (FP16, BF16, INT8 with calibration) and weight compression, "
               "as the build asks; in a plain optimization it does nothing",
    .run = precision_run,
};
