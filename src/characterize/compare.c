/* compare.c - `lucid compare`: merges the results.json of `lucid characterize` runs from
 * several machines into one report keyed by (model, device): latency, throughput, energy and
 * accuracy per device, each optimization's speedup per device, per-layer times matched by
 * name, the anomaly finder (slower on more powerful hardware) and cross-device determinism;
 * writes compare.json, CSV tables, compare.html and a text summary. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "characterize/characterize.h"
#include "characterize/compare.h"
#include "core/error.h"

/* A results.json larger than this is refused (the largest committed one is a few MiB). */
#define CMP_MAX_FILE_BYTES ((size_t)1 << 30)

/* ---- the rules (compare.h) ---- */

void cmp_model_name(const char *path, char *out, size_t len)
{
    if (!len) return;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t start = n;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t end = n;
    for (size_t i = n; i > start + 1; i--)
        if (path[i - 1] == '.') {
            end = i - 1;
            break;
        }
    if (end - start == 5 && strncmp(path + start, "model", 5) == 0 && start > 1) {
        /* models/fashion/lenet5/model.onnx: the folder names the model */
        size_t pend = start - 1;
        size_t pstart = pend;
        while (pstart > 0 && path[pstart - 1] != '/')
            pstart--;
        if (pend > pstart) {
            start = pstart;
            end = pend;
        }
    }
    snprintf(out, len, "%.*s", (int)(end - start), path + start);
}

bool cmp_reduced_precision(const char *config)
{
    return config && (strstr(config, "fp16") || strstr(config, "bf16") || strstr(config, "int8"));
}

static bool positive(double v)
{
    return isfinite(v) && v > 0;
}

bool cmp_dominates(const cmp_peaks *a, const cmp_peaks *b, bool reduced, const char **basis)
{
    double pa = a->gflops_fp32, pb = b->gflops_fp32;
    const char *which = "fp32";
    if (reduced && positive(a->gflops_fp16) && positive(b->gflops_fp16)) {
        pa = a->gflops_fp16;
        pb = b->gflops_fp16;
        which = "fp16";
    }
    if (basis) *basis = which;
    if (!positive(pa) || !positive(pb) || !positive(a->bandwidth_gbs) ||
        !positive(b->bandwidth_gbs))
        return false;
    return pa > pb && a->bandwidth_gbs > b->bandwidth_gbs;
}

bool cmp_slower_beyond_noise(double a_median, double a_min, double b_median, double b_p90,
                             double margin)
{
    if (!isfinite(a_median) || !isfinite(b_median)) return false;
    if (!(a_median > b_median * (1 + margin))) return false;
    if (isfinite(a_min) && isfinite(b_p90) && !(a_min > b_p90)) return false;
    return true;
}

/* ---- what is read from each results.json ---- */

typedef struct cmp_layer {
    const char *name, *op, *tactic;
    double ms;
} cmp_layer;

typedef struct cmp_lout {
    const char *name, *digest;
    double l2;
} cmp_lout;

typedef struct cmp_cell {
    const char *engine, *config, *label, *status, *reason;
    bool ok; /* status ok with a median latency */
    double median, min, p90, mean, throughput, offline;
    double top1, agreement, max_abs;
    const ch_json *energy;
    cmp_layer *layers;
    size_t n_layers;
    cmp_lout *louts;
    size_t n_louts;
    bool has_louts;
    double *outs; /* outputs_sample: out_k samples x out_m values */
    size_t out_k, out_m;
    bool has_outs;
    char outs_note[200];
    const char *output_digest;
} cmp_cell;

typedef struct cmp_step {
    const char *step, *base, *adds, *source;
    double speedup;
} cmp_step;

typedef struct cmp_result {
    const char *arg;
    char path[1200];
    dev_t st_dev; /* the file's identity: the same input given twice is refused */
    ino_t st_ino;
    ch_json *doc;
    char model[256];
    const char *model_path;
    size_t device;
    const char *started;
    bool complete;
    cmp_cell *cells;
    size_t n_cells;
    cmp_step *steps;
    size_t n_steps;
} cmp_result;

typedef struct cmp_device {
    char name[320];
    char kind[16];
    cmp_peaks peaks;
    char source[400];
} cmp_device;

typedef struct cmp_key {
    const char *engine, *config, *label;
} cmp_key;

typedef struct cmp_ctx {
    cmp_result *res;
    size_t n_res;
    cmp_device *dev;
    size_t n_dev;
    char (*models)[256];
    size_t n_models;
    double margin;
    /* compare.json sections, CSV tables and the summary's parts */
    ch_buf j_cells, j_opt, j_layers, j_anom, j_det, j_find;
    ch_buf latency_csv, anomalies_csv, layers_csv;
    ch_buf s_latency, s_find, s_anom, s_det;
    size_t n_findings, n_anomalies, n_checked;
    size_t n_det_pairs, n_det_equal, n_det_unrecorded;
    bool oom;
} cmp_ctx;

/* ---- small helpers ---- */

static double num_of(const ch_json *o, const char *k)
{
    const ch_json *m = ch_json_get(o, k);
    return m && m->type == CH_JNUM ? m->num : NAN;
}

static const ch_json *obj_of(const ch_json *o, const char *k)
{
    const ch_json *m = ch_json_get(o, k);
    return m && m->type == CH_JOBJ ? m : NULL;
}

static const ch_json *arr_of(const ch_json *o, const char *k)
{
    const ch_json *m = ch_json_get(o, k);
    return m && m->type == CH_JARR ? m : NULL;
}

static size_t count_of(const ch_json *arr)
{
    size_t n = 0;
    for (const ch_json *e = arr ? arr->child : NULL; e; e = e->next)
        n++;
    return n;
}

static double peak_of(const ch_json *o, const char *k)
{
    double v = num_of(o, k);
    return positive(v) ? v : NAN;
}

/* A name -> index table (open addressing) for matching layers by name. */
typedef struct name_index {
    const char **names;
    size_t *slots; /* index + 1; 0 is empty */
    size_t cap;
} name_index;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static bool index_build(name_index *ix, const char *const *names, size_t n)
{
    ix->cap = 16;
    while (ix->cap < 2 * n + 1)
        ix->cap *= 2;
    ix->slots = calloc(ix->cap, sizeof *ix->slots);
    ix->names = (const char **)names;
    if (!ix->slots) return false;
    for (size_t i = 0; i < n; i++) {
        if (!names[i]) continue;
        size_t s = (size_t)(hash_str(names[i]) & (ix->cap - 1));
        bool dup = false;
        while (ix->slots[s]) {
            if (strcmp(names[ix->slots[s] - 1], names[i]) == 0) {
                dup = true; /* the first layer of a name is the one matched */
                break;
            }
            s = (s + 1) & (ix->cap - 1);
        }
        if (!dup) ix->slots[s] = i + 1;
    }
    return true;
}

static long index_find(const name_index *ix, const char *name)
{
    if (!ix->slots || !name) return -1;
    size_t s = (size_t)(hash_str(name) & (ix->cap - 1));
    while (ix->slots[s]) {
        if (strcmp(ix->names[ix->slots[s] - 1], name) == 0) return (long)ix->slots[s] - 1;
        s = (s + 1) & (ix->cap - 1);
    }
    return -1;
}

static void index_free(name_index *ix)
{
    free(ix->slots);
    memset(ix, 0, sizeof *ix);
}

/* ---- JSON writing: separators are placed by looking at what came last ---- */

static void sep(ch_buf *b)
{
    size_t i = b->len;
    while (i && (b->data[i - 1] == '\n' || b->data[i - 1] == ' '))
        i--;
    if (i && !strchr("{[,:", b->data[i - 1])) ch_puts(b, ",");
}

static void jkey(ch_buf *b, const char *k)
{
    sep(b);
    ch_json_str(b, k);
    ch_puts(b, ":");
}

static void jnum(ch_buf *b, const char *k, double v)
{
    jkey(b, k);
    ch_json_num(b, v);
}

static void jstr(ch_buf *b, const char *k, const char *v)
{
    jkey(b, k);
    ch_json_str(b, v);
}

static void jbool(ch_buf *b, const char *k, bool v)
{
    jkey(b, k);
    ch_puts(b, v ? "true" : "false");
}

static void jopen(ch_buf *b, const char *k, const char *bracket)
{
    if (k)
        jkey(b, k);
    else
        sep(b);
    ch_puts(b, bracket);
}

static void jvnum(ch_buf *b, double v)
{
    sep(b);
    ch_json_num(b, v);
}

static void jvstr(ch_buf *b, const char *s)
{
    sep(b);
    ch_json_str(b, s);
}

static void csv_num(ch_buf *b, double v)
{
    ch_puts(b, ",");
    if (isfinite(v)) ch_printf(b, "%.9g", v);
}

static void csv_s(ch_buf *b, const char *s)
{
    ch_puts(b, ",");
    ch_csv_str(b, s);
}

/* Numbers in sentences: 4 significant digits, whole numbers from 1000 on; "-" when not
 * recorded. */
static const char *g4(char *buf, size_t len, double v)
{
    if (isfinite(v) && fabs(v) >= 1000 && fabs(v) < 1e15)
        snprintf(buf, len, "%.0f", v);
    else if (isfinite(v))
        snprintf(buf, len, "%.4g", v);
    else
        snprintf(buf, len, "-");
    return buf;
}

/* "3.10x faster" / "1.25x slower" for a ratio old/new of times. */
static void faster_words(char *buf, size_t len, double speedup)
{
    if (speedup >= 1)
        snprintf(buf, len, "%.2fx faster", speedup);
    else
        snprintf(buf, len, "%.2fx slower", 1 / speedup);
}

/* ---- reading the inputs ---- */

static lucid_status read_text(const char *path, char **out, lucid_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot be read: %s", path,
                            strerror(errno));
    ch_buf b = {0};
    ch_puts(&b, "");
    char chunk[65536];
    size_t n;
    bool nul = false, big = false;
    while ((n = fread(chunk, 1, sizeof chunk - 1, f)) > 0) {
        if (memchr(chunk, '\0', n)) nul = true;
        chunk[n] = '\0';
        ch_puts(&b, chunk);
        if (b.len > CMP_MAX_FILE_BYTES) {
            big = true;
            break;
        }
        if (nul) break;
    }
    bool rerr = ferror(f) != 0;
    fclose(f);
    lucid_status st = LUCID_STATUS_OK;
    if (rerr)
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: read error", path);
    else if (b.oom)
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "%s: out of memory reading it", path);
    else if (big)
        st = lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED, "%s: larger than %zu MiB", path,
                          CMP_MAX_FILE_BYTES >> 20);
    else if (nul)
        st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                          "%s: not JSON (it holds a NUL byte: not a results.json)", path);
    if (st) {
        ch_buf_free(&b);
        return st;
    }
    *out = b.data;
    return LUCID_STATUS_OK;
}

/* The results.json an argument names: ARG/results.json for a folder, ARG for a file. */
static lucid_status locate(const char *arg, char *path, size_t len, lucid_error *err)
{
    struct stat st;
    if (!arg || !arg[0])
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "an empty input name (give a results folder)");
    if (stat(arg, &st) != 0)
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR,
                            "%s: no such folder or file (give a folder written by lucid "
                            "characterize, or its results.json)",
                            arg);
    if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(arg);
        snprintf(path, len, "%s%sresults.json", arg, n && arg[n - 1] == '/' ? "" : "/");
        if (stat(path, &st) != 0)
            return lucid_errorf(err, LUCID_STATUS_IO_ERROR,
                                "%s: no results.json in this folder (lucid characterize writes "
                                "one into its --out folder)",
                                arg);
    } else {
        snprintf(path, len, "%s", arg);
    }
    if (!S_ISREG(st.st_mode))
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: not a regular file", path);
    return LUCID_STATUS_OK;
}

static void free_result(cmp_result *r)
{
    for (size_t i = 0; i < r->n_cells; i++) {
        free(r->cells[i].layers);
        free(r->cells[i].louts);
        free(r->cells[i].outs);
    }
    free(r->cells);
    free(r->steps);
    ch_json_free(r->doc);
    memset(r, 0, sizeof *r);
}

static lucid_status oom(lucid_error *err, const char *path)
{
    return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "%s: out of memory", path);
}

static lucid_status read_cell(cmp_result *r, const ch_json *j, size_t index, cmp_cell *c,
                              lucid_error *err)
{
    if (j->type != CH_JOBJ)
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "%s: cells[%zu]: not an object",
                            r->path, index);
    c->engine = ch_json_string(j, "engine");
    c->config = ch_json_string(j, "config");
    if (!c->engine || !c->config)
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "%s: cells[%zu]: no engine or config (strings)", r->path, index);
    c->label = ch_json_string(j, "label");
    c->status = ch_json_string(j, "status");
    if (!c->status) c->status = "unknown";
    c->reason = ch_json_string(j, "reason");
    c->output_digest = ch_json_string(j, "output_digest");
    const ch_json *lat = obj_of(j, "latency");
    c->median = num_of(lat, "median");
    c->min = num_of(lat, "min");
    c->p90 = num_of(lat, "p90");
    c->mean = num_of(lat, "mean");
    c->throughput = num_of(lat, "throughput");
    c->ok = strcmp(c->status, "ok") == 0 && positive(c->median);
    const ch_json *sc = obj_of(j, "scenarios");
    c->offline = num_of(obj_of(sc, "offline"), "best_samples_per_s");
    const ch_json *acc = obj_of(j, "accuracy");
    c->top1 = num_of(acc, "top1");
    const ch_json *vs = obj_of(acc, "vs_reference");
    c->agreement = num_of(vs, "argmax_agreement");
    c->max_abs = num_of(vs, "max_abs_error");
    c->energy = obj_of(j, "energy");

    const ch_json *layers = arr_of(obj_of(j, "profile"), "layers");
    size_t nl = count_of(layers);
    if (nl) {
        c->layers = calloc(nl, sizeof *c->layers);
        if (!c->layers) return oom(err, r->path);
        for (const ch_json *e = layers->child; e; e = e->next) {
            const char *name = ch_json_string(e, "name");
            if (!name) continue; /* a layer without a name cannot be matched */
            cmp_layer *l = &c->layers[c->n_layers++];
            l->name = name;
            l->op = ch_json_string(e, "op");
            l->tactic = ch_json_string(e, "tactic");
            l->ms = num_of(e, "mean_ms");
        }
    }

    const ch_json *louts = arr_of(j, "layer_outputs");
    if (louts) {
        c->has_louts = true;
        size_t n = count_of(louts);
        c->louts = n ? calloc(n, sizeof *c->louts) : NULL;
        if (n && !c->louts) return oom(err, r->path);
        for (const ch_json *e = louts->child; e; e = e->next) {
            const char *name = ch_json_string(e, "name");
            if (!name) continue;
            cmp_lout *o = &c->louts[c->n_louts++];
            o->name = name;
            o->digest = ch_json_string(e, "digest");
            o->l2 = num_of(e, "l2");
        }
    }

    const ch_json *os = obj_of(j, "outputs_sample");
    if (os) {
        double k = num_of(os, "samples"), m = num_of(os, "elements_per_sample");
        const ch_json *vals = arr_of(os, "values");
        size_t nv = count_of(vals);
        if (!(k >= 1 && m >= 1 && k == floor(k) && m == floor(m) && k * m <= 1e9) || !vals) {
            snprintf(c->outs_note, sizeof c->outs_note,
                     "outputs_sample unreadable (samples, elements_per_sample or values missing)");
        } else if ((double)nv != k * m) {
            snprintf(c->outs_note, sizeof c->outs_note,
                     "outputs_sample inconsistent: %zu values for %.0f x %.0f", nv, k, m);
        } else {
            c->outs = malloc(nv * sizeof *c->outs);
            if (!c->outs) return oom(err, r->path);
            size_t i = 0;
            for (const ch_json *e = vals->child; e; e = e->next)
                c->outs[i++] = e->type == CH_JNUM ? e->num : NAN;
            c->out_k = (size_t)k;
            c->out_m = (size_t)m;
            c->has_outs = true;
        }
    }
    return LUCID_STATUS_OK;
}

static const cmp_cell *cell_of(const cmp_result *r, const char *engine, const char *config)
{
    if (!r) return NULL;
    for (size_t i = 0; i < r->n_cells; i++)
        if (strcmp(r->cells[i].engine, engine) == 0 && strcmp(r->cells[i].config, config) == 0)
            return &r->cells[i];
    return NULL;
}

static bool has_step(const cmp_result *r, const char *step, const char *base)
{
    for (size_t i = 0; i < r->n_steps; i++)
        if (strcmp(r->steps[i].step, step) == 0 && strcmp(r->steps[i].base, base) == 0) return true;
    return false;
}

/* Each optimization's step speedup: from the result's ablation rows, and for steps it lacks,
 * from the config chain (base median / config median of measured lucid cells). */
static lucid_status read_steps(cmp_result *r, lucid_error *err)
{
    const ch_json *abl = arr_of(r->doc, "ablation");
    const ch_json *cfgs = arr_of(r->doc, "configs");
    size_t cap = count_of(abl) + count_of(cfgs);
    if (!cap) return LUCID_STATUS_OK;
    r->steps = calloc(cap, sizeof *r->steps);
    if (!r->steps) return oom(err, r->path);
    for (const ch_json *e = abl ? abl->child : NULL; e; e = e->next) {
        const char *step = ch_json_string(e, "step"), *base = ch_json_string(e, "base");
        double s = num_of(e, "step_speedup");
        if (!step || !base || !positive(s) || has_step(r, step, base)) continue;
        cmp_step *x = &r->steps[r->n_steps++];
        x->step = step;
        x->base = base;
        x->adds = ch_json_string(e, "adds");
        x->speedup = s;
        x->source = "ablation";
    }
    for (const ch_json *e = cfgs ? cfgs->child : NULL; e; e = e->next) {
        const char *step = ch_json_string(e, "name"), *base = ch_json_string(e, "base");
        if (!step || !base || has_step(r, step, base)) continue;
        const cmp_cell *cs = cell_of(r, "lucid", step), *cb = cell_of(r, "lucid", base);
        if (!cs || !cb || !cs->ok || !cb->ok) continue;
        cmp_step *x = &r->steps[r->n_steps++];
        x->step = step;
        x->base = base;
        x->adds = ch_json_string(e, "adds");
        x->speedup = cb->median / cs->median;
        x->source = "config chain";
    }
    return LUCID_STATUS_OK;
}

static lucid_status bad_doc(lucid_error *err, const char *path, const char *what)
{
    return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "%s: %s", path, what);
}

/* Reads and checks one input; fills the device identity into name/kind/peaks. */
static lucid_status read_result(cmp_result *r, const char *arg, cmp_device *d, lucid_error *err)
{
    r->arg = arg;
    lucid_status st = locate(arg, r->path, sizeof r->path, err);
    if (st) return st;
    char *text = NULL;
    if ((st = read_text(r->path, &text, err))) return st;
    r->doc = ch_json_parse(text);
    free(text);
    if (!r->doc)
        return bad_doc(err, r->path,
                       "not JSON (a syntax error, or truncated): not a results.json of lucid "
                       "characterize");
    const ch_json *doc = r->doc;
    if (doc->type != CH_JOBJ) return bad_doc(err, r->path, "not a JSON object: not a results.json");
    const char *schema = ch_json_string(doc, "schema");
    if (!schema)
        return bad_doc(
            err, r->path,
            "no \"schema\" member: not a results.json of lucid characterize (schema " CH_SCHEMA
            ")");
    if (strcmp(schema, CH_SCHEMA) != 0)
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "%s: schema '%.200s', not " CH_SCHEMA
                            " (compare reads the results.json of lucid characterize)",
                            r->path, schema);
    const ch_json *model = obj_of(doc, "model");
    r->model_path = ch_json_string(model, "path");
    if (!r->model_path) return bad_doc(err, r->path, "model.path: missing (a string)");
    cmp_model_name(r->model_path, r->model, sizeof r->model);
    if (!r->model[0]) return bad_doc(err, r->path, "model.path: empty");
    const ch_json *env = obj_of(doc, "environment");
    if (!env) return bad_doc(err, r->path, "environment: missing (an object)");
    const ch_json *edev = obj_of(env, "device");
    const char *kind = ch_json_string(obj_of(doc, "settings"), "device");
    if (!kind) kind = ch_json_string(edev, "kind");
    if (!kind) return bad_doc(err, r->path, "settings.device: missing (cpu or cuda)");
    snprintf(d->kind, sizeof d->kind, "%s", kind);
    if (strcmp(kind, "cuda") == 0) {
        const char *name = ch_json_string(edev, "name");
        if (!name || !name[0]) name = ch_json_string(env, "gpu");
        if (!name || !name[0])
            return bad_doc(err, r->path,
                           "environment.device.name and environment.gpu: missing (a cuda "
                           "result names its GPU)");
        snprintf(d->name, sizeof d->name, "%s", name);
    } else {
        const char *cpu = ch_json_string(env, "cpu_model");
        if (!cpu || !cpu[0]) return bad_doc(err, r->path, "environment.cpu_model: missing");
        double cores = num_of(env, "cores");
        if (positive(cores))
            snprintf(d->name, sizeof d->name, "%s (%.0f cores)", cpu, cores);
        else
            snprintf(d->name, sizeof d->name, "%s", cpu);
    }
    d->peaks.gflops_fp32 = peak_of(edev, "peak_gflops_fp32");
    d->peaks.gflops_fp16 = peak_of(edev, "peak_gflops_fp16");
    d->peaks.bandwidth_gbs = peak_of(edev, "bandwidth_gbs");
    const char *source = ch_json_string(edev, "source");
    snprintf(d->source, sizeof d->source, "%s",
             source ? source
             : edev ? "environment.device (no source given)"
                    : "");
    r->started = ch_json_string(doc, "started");
    const ch_json *complete = ch_json_get(doc, "complete");
    r->complete = complete && complete->type == CH_JBOOL && complete->num != 0;
    const ch_json *cells = arr_of(doc, "cells");
    if (!cells) return bad_doc(err, r->path, "cells: missing (an array)");
    size_t n = count_of(cells);
    r->cells = n ? calloc(n, sizeof *r->cells) : NULL;
    if (n && !r->cells) return oom(err, r->path);
    size_t i = 0;
    for (const ch_json *e = cells->child; e; e = e->next, i++) {
        cmp_cell c = {0};
        st = read_cell(r, e, i, &c, err);
        if (st) {
            free(c.layers);
            free(c.louts);
            free(c.outs);
            return st;
        }
        if (cell_of(r, c.engine, c.config)) { /* a repeated cell: the first one counts */
            free(c.layers);
            free(c.louts);
            free(c.outs);
            continue;
        }
        r->cells[r->n_cells++] = c;
    }
    if ((st = read_steps(r, err))) return st;
    struct stat sb;
    if (stat(r->path, &sb) != 0)
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: %s", r->path, strerror(errno));
    r->st_dev = sb.st_dev;
    r->st_ino = sb.st_ino;
    return LUCID_STATUS_OK;
}

/* ---- the context's lookups ---- */

static const cmp_result *result_of(const cmp_ctx *x, const char *model, size_t dev)
{
    for (size_t i = 0; i < x->n_res; i++)
        if (x->res[i].device == dev && strcmp(x->res[i].model, model) == 0) return &x->res[i];
    return NULL;
}

/* The (engine, config) cells of a model over all its results, in first-seen order. */
static size_t keys_of(cmp_ctx *x, const char *model, cmp_key **out)
{
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < x->n_res; i++)
        if (strcmp(x->res[i].model, model) == 0) cap += x->res[i].n_cells;
    cmp_key *k = cap ? calloc(cap, sizeof *k) : NULL;
    *out = k;
    if (!k) {
        if (cap) x->oom = true;
        return 0;
    }
    for (size_t i = 0; i < x->n_res; i++) {
        const cmp_result *r = &x->res[i];
        if (strcmp(r->model, model) != 0) continue;
        for (size_t c = 0; c < r->n_cells; c++) {
            bool seen = false;
            for (size_t j = 0; j < n && !seen; j++)
                seen = strcmp(k[j].engine, r->cells[c].engine) == 0 &&
                       strcmp(k[j].config, r->cells[c].config) == 0;
            if (seen) continue;
            k[n].engine = r->cells[c].engine;
            k[n].config = r->cells[c].config;
            k[n].label = r->cells[c].label;
            n++;
        }
    }
    return n;
}

static void label_of(const cmp_key *k, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", k->engine, k->config);
}

/* ---- findings: a sentence, and the chart that goes beside it ---- */

typedef struct chart_spec {
    const char *title, *unit;
    bool horizontal;
    size_t n_labels, n_series;
    const char *const *labels;
    const char *const *series;
    const double *values; /* n_series x n_labels */
} chart_spec;

static void add_finding(cmp_ctx *x, const char *kind, const char *model, const char *cell,
                        const char *text, const chart_spec *c)
{
    ch_buf *b = &x->j_find;
    jopen(b, NULL, "\n{");
    jstr(b, "kind", kind);
    jstr(b, "model", model);
    jstr(b, "cell", cell);
    jstr(b, "text", text);
    jkey(b, "chart");
    if (!c) {
        ch_puts(b, "null}");
    } else {
        ch_puts(b, "{");
        jstr(b, "title", c->title);
        jstr(b, "unit", c->unit);
        jbool(b, "horizontal", c->horizontal);
        jopen(b, "labels", "[");
        for (size_t i = 0; i < c->n_labels; i++)
            jvstr(b, c->labels[i]);
        ch_puts(b, "]");
        jopen(b, "series", "[");
        for (size_t s = 0; s < c->n_series; s++) {
            jopen(b, NULL, "{");
            jstr(b, "label", c->series[s]);
            jopen(b, "values", "[");
            for (size_t i = 0; i < c->n_labels; i++)
                jvnum(b, c->values[s * c->n_labels + i]);
            ch_puts(b, "]}");
        }
        ch_puts(b, "]}}");
    }
    ch_printf(&x->s_find, "  - %s\n", text);
    x->n_findings++;
}

/* ---- per (model, cell): each device's numbers; the device findings (energy included) ---- */

static void energy_json(ch_buf *b, const cmp_cell *c)
{
    jkey(b, "energy");
    if (!c->energy) {
        ch_puts(b, "{\"note\":\"not recorded\"}");
        return;
    }
    const ch_json *r = ch_json_get(c->energy, "readable");
    ch_puts(b, "{");
    jbool(b, "readable", r && r->type == CH_JBOOL && r->num != 0);
    jstr(b, "note", ch_json_string(c->energy, "note"));
    jnum(b, "sm_clock_mhz", num_of(c->energy, "sm_clock_mhz"));
    jnum(b, "power_w", num_of(c->energy, "power_w"));
    jnum(b, "joules_per_inference", num_of(c->energy, "joules_per_inference"));
    ch_puts(b, "}");
}

static double joules_of(const cmp_cell *c)
{
    if (!c || !c->energy) return NAN;
    const ch_json *r = ch_json_get(c->energy, "readable");
    if (!r || r->type != CH_JBOOL || r->num == 0) return NAN;
    double j = num_of(c->energy, "joules_per_inference");
    return positive(j) ? j : NAN;
}

static void cells_section(cmp_ctx *x)
{
    ch_puts(&x->latency_csv,
            "model,engine,config,device,status,reason,median_ms,p90_ms,min_ms,mean_ms,"
            "throughput_per_s,offline_samples_per_s,times_fastest_device,joules_per_inference,"
            "power_w,top1,argmax_agreement,max_abs_error\n");
    const char **labels = calloc(x->n_dev ? x->n_dev : 1, sizeof *labels);
    double *vals = calloc(x->n_dev ? x->n_dev : 1, sizeof *vals);
    if (!labels || !vals) {
        x->oom = true;
        goto done;
    }
    for (size_t m = 0; m < x->n_models; m++) {
        const char *model = x->models[m];
        cmp_key *keys = NULL;
        size_t nk = keys_of(x, model, &keys);
        size_t ndev = 0;
        for (size_t d = 0; d < x->n_dev; d++)
            if (result_of(x, model, d)) ndev++;
        ch_printf(&x->s_latency, "\n%s (%zu device%s)\n", model, ndev, ndev == 1 ? "" : "s");
        ch_buf *s = &x->s_latency;
        ch_printf(s, "  %-30s", "cell");
        for (size_t d = 0; d < x->n_dev; d++)
            if (result_of(x, model, d)) {
                char h[16];
                snprintf(h, sizeof h, "[%zu]", d + 1);
                ch_printf(s, " %12s", h);
            }
        ch_puts(s, "\n");
        for (size_t k = 0; k < nk; k++) {
            char label[200];
            label_of(&keys[k], label, sizeof label);
            double fastest = INFINITY, slowest = 0;
            size_t ifast = 0, islow = 0, nok = 0;
            for (size_t d = 0; d < x->n_dev; d++) {
                const cmp_cell *c = cell_of(result_of(x, model, d), keys[k].engine, keys[k].config);
                if (!c || !c->ok) continue;
                nok++;
                if (c->median < fastest) fastest = c->median, ifast = d;
                if (c->median > slowest) slowest = c->median, islow = d;
            }
            ch_buf *b = &x->j_cells;
            jopen(b, NULL, "\n{");
            jstr(b, "model", model);
            jstr(b, "engine", keys[k].engine);
            jstr(b, "config", keys[k].config);
            jstr(b, "label", label);
            ch_printf(s, "  %-30s", label);
            jopen(b, "devices", "[");
            for (size_t d = 0; d < x->n_dev; d++) {
                const cmp_result *r = result_of(x, model, d);
                if (!r) continue;
                const cmp_cell *c = cell_of(r, keys[k].engine, keys[k].config);
                jopen(b, NULL, "{");
                jstr(b, "device", x->dev[d].name);
                if (!c) {
                    jstr(b, "status", "absent");
                    jstr(b, "reason", "the result has no such cell");
                    ch_puts(b, "}");
                    ch_printf(s, " %12s", "absent");
                    continue;
                }
                jstr(b, "status", c->status);
                jstr(b, "reason", c->reason);
                jnum(b, "median_ms", c->ok ? c->median : NAN);
                jnum(b, "p90_ms", c->ok ? c->p90 : NAN);
                jnum(b, "min_ms", c->ok ? c->min : NAN);
                jnum(b, "mean_ms", c->ok ? c->mean : NAN);
                jnum(b, "throughput_per_s", c->ok ? c->throughput : NAN);
                jnum(b, "offline_samples_per_s", c->offline);
                jnum(b, "times_fastest_device", c->ok && nok > 1 ? c->median / fastest : NAN);
                jnum(b, "top1", c->top1);
                jnum(b, "argmax_agreement", c->agreement);
                jnum(b, "max_abs_error", c->max_abs);
                energy_json(b, c);
                ch_puts(b, "}");
                char v[32];
                if (c->ok)
                    ch_printf(s, " %12s", g4(v, sizeof v, c->median));
                else
                    ch_printf(s, " %12.12s", strcmp(c->status, "ok") ? c->status : "no median");
                ch_buf *t = &x->latency_csv;
                ch_csv_str(t, model);
                csv_s(t, keys[k].engine);
                csv_s(t, keys[k].config);
                csv_s(t, x->dev[d].name);
                csv_s(t, c->status);
                csv_s(t, c->reason);
                csv_num(t, c->ok ? c->median : NAN);
                csv_num(t, c->ok ? c->p90 : NAN);
                csv_num(t, c->ok ? c->min : NAN);
                csv_num(t, c->ok ? c->mean : NAN);
                csv_num(t, c->ok ? c->throughput : NAN);
                csv_num(t, c->offline);
                csv_num(t, c->ok && nok > 1 ? c->median / fastest : NAN);
                csv_num(t, joules_of(c));
                csv_num(t, c->energy ? num_of(c->energy, "power_w") : NAN);
                csv_num(t, c->top1);
                csv_num(t, c->agreement);
                csv_num(t, c->max_abs);
                ch_puts(t, "\n");
            }
            ch_puts(b, "]");
            jstr(b, "fastest_device", nok > 1 ? x->dev[ifast].name : NULL);
            jstr(b, "slowest_device", nok > 1 ? x->dev[islow].name : NULL);
            jnum(b, "fastest_over_slowest", nok > 1 ? slowest / fastest : NAN);
            ch_puts(b, "}");
            ch_puts(s, "\n");

            if (nok > 1) {
                const cmp_cell *cf =
                    cell_of(result_of(x, model, ifast), keys[k].engine, keys[k].config);
                const cmp_cell *cs =
                    cell_of(result_of(x, model, islow), keys[k].engine, keys[k].config);
                char text[2000], a[32], bb[32], off[300] = "", energy[700] = "";
                char oa[32], ob[32];
                if (positive(cf->offline) && positive(cs->offline))
                    snprintf(off, sizeof off, "; Offline %s against %s samples/s",
                             g4(oa, sizeof oa, cf->offline), g4(ob, sizeof ob, cs->offline));
                /* energy per inference, where two or more devices could read it */
                size_t ne = 0, imin = 0, imax = 0;
                double jmin = INFINITY, jmax = 0;
                for (size_t d = 0; d < x->n_dev; d++) {
                    double j =
                        joules_of(cell_of(result_of(x, model, d), keys[k].engine, keys[k].config));
                    if (!isfinite(j)) continue;
                    ne++;
                    if (j < jmin) jmin = j, imin = d;
                    if (j > jmax) jmax = j, imax = d;
                }
                if (ne > 1)
                    snprintf(energy, sizeof energy,
                             "; energy per inference is %.2fx lower on %s than on %s (%s J "
                             "against %s J)",
                             jmax / jmin, x->dev[imin].name, x->dev[imax].name,
                             g4(oa, sizeof oa, jmin), g4(ob, sizeof ob, jmax));
                if (slowest / fastest < 1.005)
                    snprintf(text, sizeof text,
                             "%s on %s runs equally fast on %zu devices (medians within 0.5%%, "
                             "%s ms to %s ms)%s.",
                             label, model, nok, g4(a, sizeof a, fastest),
                             g4(bb, sizeof bb, slowest), energy);
                else
                    snprintf(text, sizeof text,
                             "%s on %s is %.2fx faster on %s than on %s (median %s ms against %s "
                             "ms%s)%s.",
                             label, model, slowest / fastest, x->dev[ifast].name,
                             x->dev[islow].name, g4(a, sizeof a, fastest),
                             g4(bb, sizeof bb, slowest), off, energy);
                size_t nl = 0;
                for (size_t d = 0; d < x->n_dev; d++) {
                    const cmp_cell *c =
                        cell_of(result_of(x, model, d), keys[k].engine, keys[k].config);
                    if (!c || !c->ok) continue;
                    labels[nl] = x->dev[d].name;
                    vals[nl++] = c->median;
                }
                char title[300];
                snprintf(title, sizeof title, "%s on %s: median latency per device", label, model);
                const char *series[] = {"median ms"};
                chart_spec cs_ = {title, "ms", true, nl, 1, labels, series, vals};
                add_finding(x, "device", model, label, text, &cs_);
            }
        }
        free(keys);
    }
done:
    free(labels);
    free(vals);
}

/* ---- each optimization's speedup per device ---- */

static void optimizations_section(cmp_ctx *x)
{
    size_t cap = x->n_dev ? x->n_dev : 1;
    const char **labels = calloc(cap, sizeof *labels);
    double *vals = calloc(cap, sizeof *vals);
    if (!labels || !vals) {
        x->oom = true;
        goto done;
    }
    for (size_t m = 0; m < x->n_models; m++) {
        const char *model = x->models[m];
        for (size_t d = 0; d < x->n_dev; d++) {
            const cmp_result *r = result_of(x, model, d);
            if (!r) continue;
            for (size_t i = 0; i < r->n_steps; i++) {
                const cmp_step *s = &r->steps[i];
                ch_buf *b = &x->j_opt;
                jopen(b, NULL, "\n{");
                jstr(b, "model", model);
                jstr(b, "device", x->dev[d].name);
                jstr(b, "step", s->step);
                jstr(b, "base", s->base);
                jstr(b, "adds", s->adds);
                jnum(b, "step_speedup", s->speedup);
                jstr(b, "source", s->source);
                ch_puts(b, "}");
            }
        }
        /* one finding per step, naming every device that measured it */
        for (size_t d0 = 0; d0 < x->n_dev; d0++) {
            const cmp_result *r0 = result_of(x, model, d0);
            if (!r0) continue;
            for (size_t i = 0; i < r0->n_steps; i++) {
                const cmp_step *s0 = &r0->steps[i];
                bool earlier = false;
                for (size_t e = 0; e < d0 && !earlier; e++) {
                    const cmp_result *re = result_of(x, model, e);
                    earlier = re && has_step(re, s0->step, s0->base);
                }
                if (earlier) continue;
                char text[2000], w[64];
                faster_words(w, sizeof w, s0->speedup);
                int pos = snprintf(
                    text, sizeof text, "Adding %s to lucid/%s (lucid/%s) makes %s %s on %s",
                    s0->adds ? s0->adds : s0->step, s0->base, s0->step, model, w, x->dev[d0].name);
                size_t nl = 0;
                labels[nl] = x->dev[d0].name;
                vals[nl++] = s0->speedup;
                for (size_t d = d0 + 1; d < x->n_dev; d++) {
                    const cmp_result *r = result_of(x, model, d);
                    if (!r) continue;
                    for (size_t j = 0; j < r->n_steps; j++) {
                        const cmp_step *s = &r->steps[j];
                        if (strcmp(s->step, s0->step) || strcmp(s->base, s0->base)) continue;
                        faster_words(w, sizeof w, s->speedup);
                        if (pos > 0 && (size_t)pos < sizeof text)
                            pos += snprintf(text + pos, sizeof text - (size_t)pos, ", %s on %s", w,
                                            x->dev[d].name);
                        labels[nl] = x->dev[d].name;
                        vals[nl++] = s->speedup;
                    }
                }
                if (pos > 0 && (size_t)pos < sizeof text - 2)
                    snprintf(text + pos, sizeof text - (size_t)pos, ".");
                char title[300], label[200];
                snprintf(title, sizeof title, "%s: speedup of lucid/%s over lucid/%s per device",
                         model, s0->step, s0->base);
                snprintf(label, sizeof label, "lucid/%s", s0->step);
                const char *series[] = {"step speedup (x)"};
                chart_spec cs = {title, "x", true, nl, 1, labels, series, vals};
                add_finding(x, "optimization", model, label, text, &cs);
            }
        }
    }
done:
    free(labels);
    free(vals);
}

/* ---- per-layer time per device, layers matched by name ---- */

static void layers_of_cell(cmp_ctx *x, const char *model, const cmp_key *key,
                           const cmp_cell **cells, name_index *ix, const char ***store)
{
    size_t total = 0;
    for (size_t d = 0; d < x->n_dev; d++) {
        const cmp_cell *c = cells[d];
        if (!c || !c->n_layers) continue;
        store[d] = calloc(c->n_layers, sizeof **store);
        if (!store[d]) {
            x->oom = true;
            return;
        }
        for (size_t i = 0; i < c->n_layers; i++)
            store[d][i] = c->layers[i].name;
        if (!index_build(&ix[d], store[d], c->n_layers)) {
            x->oom = true;
            return;
        }
        total += c->n_layers;
    }
    if (!total) return;
    /* every layer name over the devices: the first device's order, then names new on later
     * ones */
    const char **names = calloc(total, sizeof *names);
    if (!names) {
        x->oom = true;
        return;
    }
    size_t nn = 0;
    for (size_t d = 0; d < x->n_dev; d++) {
        const cmp_cell *c = cells[d];
        for (size_t i = 0; c && i < c->n_layers; i++) {
            const char *nm = c->layers[i].name;
            bool seen = index_find(&ix[d], nm) != (long)i; /* a repeated name on one device */
            for (size_t e = 0; e < d && !seen; e++)
                seen = index_find(&ix[e], nm) >= 0;
            if (!seen) names[nn++] = nm;
        }
    }
    char label[200];
    label_of(key, label, sizeof label);
    ch_buf *b = &x->j_layers;
    jopen(b, NULL, "\n{");
    jstr(b, "model", model);
    jstr(b, "engine", key->engine);
    jstr(b, "config", key->config);
    jstr(b, "label", label);
    jopen(b, "layers", "[");
    for (size_t i = 0; i < nn; i++) {
        size_t with = 0;
        for (size_t d = 0; d < x->n_dev; d++)
            with += index_find(&ix[d], names[i]) >= 0;
        jopen(b, NULL, "\n{");
        jstr(b, "name", names[i]);
        jnum(b, "devices_with_layer", (double)with);
        jopen(b, "times", "[");
        for (size_t d = 0; d < x->n_dev; d++) {
            long li = index_find(&ix[d], names[i]);
            if (li < 0) continue;
            const cmp_layer *l = &cells[d]->layers[li];
            jopen(b, NULL, "{");
            jstr(b, "device", x->dev[d].name);
            jstr(b, "op", l->op);
            jstr(b, "tactic", l->tactic);
            jnum(b, "mean_ms", l->ms);
            ch_puts(b, "}");
            ch_buf *t = &x->layers_csv;
            ch_csv_str(t, model);
            csv_s(t, key->engine);
            csv_s(t, key->config);
            csv_s(t, names[i]);
            csv_num(t, (double)i);
            csv_num(t, (double)with);
            csv_s(t, x->dev[d].name);
            csv_s(t, l->op);
            csv_s(t, l->tactic);
            csv_num(t, l->ms);
            ch_puts(t, "\n");
        }
        ch_puts(b, "]}");
    }
    ch_puts(b, "]}");
    free(names);
}

static void layers_section(cmp_ctx *x)
{
    ch_puts(&x->layers_csv, "model,engine,config,layer,index,devices_with_layer,device,op,tactic,"
                            "mean_ms\n");
    const cmp_cell **cells = calloc(x->n_dev, sizeof *cells);
    name_index *ix = calloc(x->n_dev, sizeof *ix);
    const char ***store = calloc(x->n_dev, sizeof *store);
    if (!cells || !ix || !store) x->oom = true;
    for (size_t m = 0; m < x->n_models && !x->oom; m++) {
        const char *model = x->models[m];
        cmp_key *keys = NULL;
        size_t nk = keys_of(x, model, &keys);
        for (size_t k = 0; k < nk && !x->oom; k++) {
            for (size_t d = 0; d < x->n_dev; d++)
                cells[d] = cell_of(result_of(x, model, d), keys[k].engine, keys[k].config);
            layers_of_cell(x, model, &keys[k], cells, ix, store);
            for (size_t d = 0; d < x->n_dev; d++) {
                index_free(&ix[d]);
                free(store[d]);
                store[d] = NULL;
            }
        }
        free(keys);
    }
    free(cells);
    free(ix);
    free(store);
}

/* ---- the anomaly finder ---- */

typedef struct gap_layer {
    const cmp_layer *a, *b;
    double gap;
} gap_layer;

static int by_gap_desc(const void *p, const void *q)
{
    double a = ((const gap_layer *)p)->gap, b = ((const gap_layer *)q)->gap;
    return a < b ? 1 : a > b ? -1 : 0;
}

static bool has_peaks(const cmp_device *d)
{
    return positive(d->peaks.gflops_fp32) && positive(d->peaks.bandwidth_gbs);
}

static void anomaly(cmp_ctx *x, const char *model, const cmp_key *key, size_t da, size_t db,
                    const cmp_cell *a, const cmp_cell *b, const char *basis)
{
    const cmp_device *A = &x->dev[da], *B = &x->dev[db];
    double pa = strcmp(basis, "fp16") == 0 ? A->peaks.gflops_fp16 : A->peaks.gflops_fp32;
    double pb = strcmp(basis, "fp16") == 0 ? B->peaks.gflops_fp16 : B->peaks.gflops_fp32;
    double total_gap = a->median - b->median;
    char label[200];
    label_of(key, label, sizeof label);

    /* the layers that account for the gap: matched by name, largest (time on A - on B) first */
    gap_layer *g = a->n_layers ? calloc(a->n_layers, sizeof *g) : NULL;
    size_t ng = 0, unmatched_a = 0, unmatched_b = 0;
    double unmatched_a_ms = 0, unmatched_b_ms = 0;
    name_index ib = {0};
    const char **bn = b->n_layers ? calloc(b->n_layers, sizeof *bn) : NULL;
    bool *used = b->n_layers ? calloc(b->n_layers, sizeof *used) : NULL;
    if ((a->n_layers && !g) || (b->n_layers && (!bn || !used))) {
        x->oom = true;
        goto done;
    }
    for (size_t i = 0; i < b->n_layers; i++)
        bn[i] = b->layers[i].name;
    if (b->n_layers && !index_build(&ib, bn, b->n_layers)) {
        x->oom = true;
        goto done;
    }
    for (size_t i = 0; i < a->n_layers; i++) {
        long j = index_find(&ib, a->layers[i].name);
        if (j < 0 || used[j]) {
            unmatched_a++;
            if (isfinite(a->layers[i].ms)) unmatched_a_ms += a->layers[i].ms;
            continue;
        }
        used[j] = true;
        if (!isfinite(a->layers[i].ms) || !isfinite(b->layers[j].ms)) continue;
        g[ng].a = &a->layers[i];
        g[ng].b = &b->layers[j];
        g[ng].gap = a->layers[i].ms - b->layers[j].ms;
        ng++;
    }
    for (size_t j = 0; j < b->n_layers; j++)
        if (!used[j]) {
            unmatched_b++;
            if (isfinite(b->layers[j].ms)) unmatched_b_ms += b->layers[j].ms;
        }
    if (ng > 1) qsort(g, ng, sizeof *g, by_gap_desc);
    /* shares are of the gap between the two profiles' sums, when both have a profile that
     * agrees with the latency on which side is slower; else of the median latency gap */
    double sum_a = 0, sum_b = 0;
    for (size_t i = 0; i < a->n_layers; i++)
        if (isfinite(a->layers[i].ms)) sum_a += a->layers[i].ms;
    for (size_t i = 0; i < b->n_layers; i++)
        if (isfinite(b->layers[i].ms)) sum_b += b->layers[i].ms;
    const char *gap_basis = "median latency";
    if (a->n_layers && b->n_layers && sum_a > sum_b) {
        total_gap = sum_a - sum_b;
        gap_basis = "per-layer profile sums";
    }
    size_t top = 0;
    while (top < ng && top < CMP_TOP_LAYERS && g[top].gap > 0)
        top++;

    char layers_note[300];
    if (!a->n_layers || !b->n_layers)
        snprintf(layers_note, sizeof layers_note, "no per-layer profile on %s",
                 !a->n_layers && !b->n_layers ? "either device"
                 : !a->n_layers               ? A->name
                                              : B->name);
    else if (!ng)
        snprintf(layers_note, sizeof layers_note, "no layer name matches across the two profiles");
    else if (!top)
        snprintf(layers_note, sizeof layers_note, "no matched layer is slower on %s", A->name);
    else
        layers_note[0] = '\0';

    ch_buf *j = &x->j_anom;
    jopen(j, NULL, "\n{");
    jstr(j, "model", model);
    jstr(j, "engine", key->engine);
    jstr(j, "config", key->config);
    jstr(j, "label", label);
    jstr(j, "slower_device", A->name);
    jstr(j, "faster_device", B->name);
    jstr(j, "compute_basis", basis);
    jnum(j, "slower_peak_gflops", pa);
    jnum(j, "faster_peak_gflops", pb);
    jnum(j, "slower_bandwidth_gbs", A->peaks.bandwidth_gbs);
    jnum(j, "faster_bandwidth_gbs", B->peaks.bandwidth_gbs);
    jnum(j, "slower_median_ms", a->median);
    jnum(j, "faster_median_ms", b->median);
    jnum(j, "slower_min_ms", a->min);
    jnum(j, "faster_p90_ms", b->p90);
    jnum(j, "ratio", a->median / b->median);
    jnum(j, "gap_ms", total_gap);
    jstr(j, "gap_basis", gap_basis);
    jbool(j, "noise_checked", isfinite(a->min) && isfinite(b->p90));
    jstr(j, "layers_note", layers_note[0] ? layers_note : NULL);
    jnum(j, "layers_matched", (double)ng);
    jnum(j, "unmatched_layers_slower", (double)unmatched_a);
    jnum(j, "unmatched_ms_slower", unmatched_a_ms);
    jnum(j, "unmatched_layers_faster", (double)unmatched_b);
    jnum(j, "unmatched_ms_faster", unmatched_b_ms);
    jopen(j, "layers", "[");
    for (size_t i = 0; i < top; i++) {
        jopen(j, NULL, "{");
        jstr(j, "name", g[i].a->name);
        jstr(j, "op_slower", g[i].a->op);
        jstr(j, "tactic_slower", g[i].a->tactic);
        jnum(j, "ms_slower", g[i].a->ms);
        jstr(j, "op_faster", g[i].b->op);
        jstr(j, "tactic_faster", g[i].b->tactic);
        jnum(j, "ms_faster", g[i].b->ms);
        jnum(j, "gap_ms", g[i].gap);
        jnum(j, "share_of_gap", g[i].gap / total_gap);
        ch_puts(j, "}");
    }
    ch_puts(j, "]}");

    ch_buf *t = &x->anomalies_csv;
    for (size_t i = 0; i < (top ? top : 1); i++) {
        ch_csv_str(t, model);
        csv_s(t, key->engine);
        csv_s(t, key->config);
        csv_s(t, A->name);
        csv_s(t, B->name);
        csv_num(t, a->median);
        csv_num(t, b->median);
        csv_num(t, a->median / b->median);
        csv_num(t, a->min);
        csv_num(t, b->p90);
        csv_s(t, basis);
        csv_num(t, pa);
        csv_num(t, pb);
        csv_num(t, A->peaks.bandwidth_gbs);
        csv_num(t, B->peaks.bandwidth_gbs);
        if (top) {
            csv_num(t, (double)(i + 1));
            csv_s(t, g[i].a->name);
            csv_s(t, g[i].a->op);
            csv_s(t, g[i].a->tactic);
            csv_s(t, g[i].b->op);
            csv_s(t, g[i].b->tactic);
            csv_num(t, g[i].a->ms);
            csv_num(t, g[i].b->ms);
            csv_num(t, g[i].gap);
            csv_num(t, g[i].gap / total_gap);
        } else {
            ch_puts(t, ",,");
            ch_csv_str(t, layers_note);
            ch_puts(t, ",,,,,,,");
        }
        ch_puts(t, "\n");
    }

    char text[2400], s1[32], s2[32], s3[32], s4[32], s5[32], s6[32];
    int pos = snprintf(
        text, sizeof text,
        "Anomaly: %s on %s is %.2fx slower on %s than on %s (median %s ms against "
        "%s ms), although %s has more peak compute (%s against %s GFLOP/s %s) and "
        "bandwidth (%s against %s GB/s)",
        label, model, a->median / b->median, A->name, B->name, g4(s1, sizeof s1, a->median),
        g4(s2, sizeof s2, b->median), A->name, g4(s3, sizeof s3, pa), g4(s4, sizeof s4, pb), basis,
        g4(s5, sizeof s5, A->peaks.bandwidth_gbs), g4(s6, sizeof s6, B->peaks.bandwidth_gbs));
    if (pos > 0 && (size_t)pos < sizeof text) {
        if (top)
            snprintf(text + pos, sizeof text - (size_t)pos,
                     "; layer %s (%s, %s on %s, %s on %s) accounts for %.0f%% of the gap.",
                     g[0].a->name, g[0].a->op ? g[0].a->op : "?",
                     g[0].a->tactic ? g[0].a->tactic : "?", A->name,
                     g[0].b->tactic ? g[0].b->tactic : "?", B->name, 100 * g[0].gap / total_gap);
        else
            snprintf(text + pos, sizeof text - (size_t)pos, "; %s.", layers_note);
    }
    ch_printf(&x->s_anom, "  %s\n", text);
    for (size_t i = 0; i < top; i++) {
        char m1[32], m2[32];
        ch_printf(&x->s_anom,
                  "    %zu. %s (%s): %s ms on %s [%s], %s ms on %s [%s]: %.0f%% of the gap\n",
                  i + 1, g[i].a->name, g[i].a->op ? g[i].a->op : "?", g4(m1, sizeof m1, g[i].a->ms),
                  A->name, g[i].a->tactic ? g[i].a->tactic : "?", g4(m2, sizeof m2, g[i].b->ms),
                  B->name, g[i].b->tactic ? g[i].b->tactic : "?", 100 * g[i].gap / total_gap);
    }
    if (top) {
        const char **labels = calloc(top, sizeof *labels);
        double *vals = calloc(2 * top, sizeof *vals);
        if (labels && vals) {
            for (size_t i = 0; i < top; i++) {
                labels[i] = g[i].a->name;
                vals[i] = g[i].a->ms;
                vals[top + i] = g[i].b->ms;
            }
            char title[400];
            snprintf(title, sizeof title, "%s on %s: the layers that account for the gap (ms)",
                     label, model);
            const char *series[] = {A->name, B->name};
            chart_spec cs = {title, "ms", true, top, 2, labels, series, vals};
            add_finding(x, "anomaly", model, label, text, &cs);
        } else {
            x->oom = true;
        }
        free(labels);
        free(vals);
    } else {
        const char *labels[] = {A->name, B->name};
        double vals[] = {a->median, b->median};
        char title[400];
        snprintf(title, sizeof title, "%s on %s: median latency (ms)", label, model);
        const char *series[] = {"median ms"};
        chart_spec cs = {title, "ms", true, 2, 1, labels, series, vals};
        add_finding(x, "anomaly", model, label, text, &cs);
    }
    x->n_anomalies++;
done:
    index_free(&ib);
    free(bn);
    free(used);
    free(g);
}

static void anomalies_section(cmp_ctx *x, ch_buf *check)
{
    ch_puts(&x->anomalies_csv,
            "model,engine,config,slower_device,faster_device,slower_median_ms,faster_median_ms,"
            "ratio,slower_min_ms,faster_p90_ms,compute_basis,slower_peak_gflops,"
            "faster_peak_gflops,slower_bandwidth_gbs,faster_bandwidth_gbs,rank,layer,op_slower,"
            "tactic_slower,op_faster,tactic_faster,ms_slower,ms_faster,gap_ms,share_of_gap\n");
    jstr(check, "rule",
         "device A dominates device B when A's peak compute (FP32; FP16 for fp16/bf16/int8 "
         "configs when both record it) and bandwidth are both higher; a (model, cell) measured "
         "ok on both is an anomaly when A.median > B.median x (1 + margin) and A.min > B.p90");
    jnum(check, "margin", x->margin);
    size_t with = 0;
    jopen(check, "skipped_devices", "[");
    for (size_t d = 0; d < x->n_dev; d++) {
        if (has_peaks(&x->dev[d])) {
            with++;
            continue;
        }
        jopen(check, NULL, "{");
        jstr(check, "device", x->dev[d].name);
        char why[300];
        snprintf(why, sizeof why,
                 "peaks not recorded (%s): not compared for anomalies; give --peak "
                 "\"%s=GFLOPS_FP32,GBS\"",
                 positive(x->dev[d].peaks.gflops_fp32)     ? "no bandwidth"
                 : positive(x->dev[d].peaks.bandwidth_gbs) ? "no FP32 peak"
                                                           : "no environment.device peaks",
                 x->dev[d].name);
        jstr(check, "reason", why);
        ch_puts(check, "}");
        ch_printf(&x->s_anom, "  %s: %s\n", x->dev[d].name, why);
    }
    ch_puts(check, "]");
    jopen(check, "dominating_pairs", "[");
    for (size_t a = 0; a < x->n_dev; a++)
        for (size_t b = 0; b < x->n_dev; b++) {
            if (a == b) continue;
            bool d32 = cmp_dominates(&x->dev[a].peaks, &x->dev[b].peaks, false, NULL);
            const char *basis = NULL;
            bool d16 = cmp_dominates(&x->dev[a].peaks, &x->dev[b].peaks, true, &basis) &&
                       strcmp(basis, "fp16") == 0;
            if (!d32 && !d16) continue;
            jopen(check, NULL, "{");
            jstr(check, "device", x->dev[a].name);
            jstr(check, "over", x->dev[b].name);
            jbool(check, "fp32", d32);
            jbool(check, "fp16", d16);
            ch_puts(check, "}");
        }
    ch_puts(check, "]");
    if (with < 2)
        ch_printf(&x->s_anom, "  fewer than two devices with peaks: no pair to compare\n");
    for (size_t m = 0; m < x->n_models; m++) {
        const char *model = x->models[m];
        cmp_key *keys = NULL;
        size_t nk = keys_of(x, model, &keys);
        for (size_t k = 0; k < nk; k++) {
            bool reduced = cmp_reduced_precision(keys[k].config);
            for (size_t da = 0; da < x->n_dev; da++)
                for (size_t db = 0; db < x->n_dev; db++) {
                    if (da == db) continue;
                    const cmp_cell *a =
                        cell_of(result_of(x, model, da), keys[k].engine, keys[k].config);
                    const cmp_cell *b =
                        cell_of(result_of(x, model, db), keys[k].engine, keys[k].config);
                    if (!a || !b || !a->ok || !b->ok) continue;
                    const char *basis = "fp32";
                    if (!cmp_dominates(&x->dev[da].peaks, &x->dev[db].peaks, reduced, &basis))
                        continue;
                    x->n_checked++;
                    if (cmp_slower_beyond_noise(a->median, a->min, b->median, b->p90, x->margin))
                        anomaly(x, model, &keys[k], da, db, a, b, basis);
                }
        }
        free(keys);
    }
    jnum(check, "cells_checked", (double)x->n_checked);
    jnum(check, "anomalies", (double)x->n_anomalies);
}

/* ---- cross-device determinism ---- */

static void determinism_pair(cmp_ctx *x, const char *model, const cmp_key *key, size_t da,
                             size_t db, const cmp_cell *a, const cmp_cell *b)
{
    char label[200];
    label_of(key, label, sizeof label);
    const char *A = x->dev[da].name, *B = x->dev[db].name;
    ch_buf *j = &x->j_det;
    jopen(j, NULL, "\n{");
    jstr(j, "model", model);
    jstr(j, "engine", key->engine);
    jstr(j, "config", key->config);
    jstr(j, "label", label);
    jstr(j, "device", A);
    jstr(j, "other_device", B);

    /* outputs */
    char out_text[700];
    const char *verdict;
    double max_abs = NAN, max_rel = NAN, agree = NAN;
    size_t ns = 0;
    if (a->has_outs && b->has_outs && a->out_m == b->out_m) {
        ns = a->out_k < b->out_k ? a->out_k : b->out_k;
        size_t m = a->out_m;
        bool equal = true;
        max_abs = 0;
        max_rel = 0;
        size_t agreeing = 0;
        for (size_t s = 0; s < ns; s++) {
            const double *va = a->outs + s * m, *vb = b->outs + s * m;
            size_t am = 0, bm = 0;
            for (size_t i = 0; i < m; i++) {
                double u = va[i], v = vb[i];
                if (memcmp(&u, &v, sizeof u) != 0 && !(isnan(u) && isnan(v))) equal = false;
                double d = fabs(u - v);
                if (isnan(u) != isnan(v)) d = INFINITY;
                if (isnan(u) && isnan(v)) d = 0;
                double r = d / fmax(fabs(v), 1e-12);
                if (d > max_abs) max_abs = d;
                if (r > max_rel) max_rel = r;
                if (va[i] > va[am]) am = i;
                if (vb[i] > vb[bm]) bm = i;
            }
            agreeing += am == bm;
        }
        agree = ns ? 100.0 * (double)agreeing / (double)ns : NAN;
        char s1[32], s2[32];
        if (equal) {
            verdict = "bitwise equal";
            snprintf(out_text, sizeof out_text, "outputs bitwise equal over %zu sample%s", ns,
                     ns == 1 ? "" : "s");
        } else {
            verdict = "differ";
            snprintf(out_text, sizeof out_text,
                     "outputs differ: max abs difference %s, max relative %s, argmax agreement "
                     "%.1f%% over %zu sample%s",
                     g4(s1, sizeof s1, max_abs), g4(s2, sizeof s2, max_rel), agree, ns,
                     ns == 1 ? "" : "s");
        }
    } else if (a->has_outs && b->has_outs) {
        verdict = "not comparable";
        snprintf(out_text, sizeof out_text,
                 "outputs_sample shapes differ (%zu values per sample against %zu)", a->out_m,
                 b->out_m);
    } else if (a->output_digest && b->output_digest) {
        bool eq = strcmp(a->output_digest, b->output_digest) == 0;
        verdict = eq ? "bitwise equal" : "differ";
        snprintf(out_text, sizeof out_text,
                 "first sample's output digests %s (outputs_sample not recorded%s%s)",
                 eq ? "equal" : "differ", a->outs_note[0] || b->outs_note[0] ? ": " : "",
                 a->outs_note[0] ? a->outs_note : b->outs_note);
    } else {
        verdict = "not recorded";
        bool on_b = a->output_digest || a->has_outs;
        const char *note = on_b ? b->outs_note : a->outs_note;
        snprintf(out_text, sizeof out_text, "outputs not recorded on %s%s%s", on_b ? B : A,
                 note[0] ? ": " : "", note);
    }
    jstr(j, "outputs", verdict);
    jnum(j, "samples", ns ? (double)ns : NAN);
    jnum(j, "max_abs_difference", max_abs);
    jnum(j, "max_rel_difference", max_rel);
    jnum(j, "argmax_agreement", agree);

    /* layers: from which layer on the two devices' layer outputs differ */
    char layer_text[900] = "";
    double *rel = NULL;
    const char **names = NULL;
    size_t nrel = 0;
    jkey(j, "layers");
    if (a->has_louts && b->has_louts) {
        name_index ib = {0};
        const char **bn = b->n_louts ? calloc(b->n_louts, sizeof *bn) : NULL;
        rel = a->n_louts ? calloc(a->n_louts, sizeof *rel) : NULL;
        names = a->n_louts ? calloc(a->n_louts, sizeof *names) : NULL;
        long first_digest = -1, first_l2 = -1;
        double first_l2_rel = NAN;
        size_t matched = 0, differing = 0, with_digest = 0;
        if ((b->n_louts && !bn) || (a->n_louts && (!rel || !names))) {
            x->oom = true;
        } else {
            for (size_t i = 0; i < b->n_louts; i++)
                bn[i] = b->louts[i].name;
            if (b->n_louts && !index_build(&ib, bn, b->n_louts)) x->oom = true;
            for (size_t i = 0; i < a->n_louts && !x->oom; i++) {
                long k = index_find(&ib, a->louts[i].name);
                if (k < 0) continue;
                matched++;
                const cmp_lout *u = &a->louts[i], *v = &b->louts[k];
                /* a digest missing on either side says nothing either way */
                bool dd = u->digest && v->digest && strcmp(u->digest, v->digest) != 0;
                if (u->digest && v->digest) with_digest++;
                if (dd) differing++;
                if (dd && first_digest < 0) first_digest = (long)i;
                double r = fabs(u->l2 - v->l2) / fmax(fabs(v->l2), 1e-30);
                if (isnan(u->l2) != isnan(v->l2)) r = INFINITY;
                if (isnan(u->l2) && isnan(v->l2)) r = 0;
                if (r > CMP_L2_TOLERANCE && first_l2 < 0) {
                    first_l2 = (long)i;
                    first_l2_rel = r;
                }
                names[nrel] = u->name;
                rel[nrel++] = r;
            }
        }
        ch_puts(j, "{");
        jnum(j, "matched", (double)matched);
        jnum(j, "differing", (double)differing);
        jkey(j, "first_digest_difference");
        if (first_digest >= 0) {
            ch_puts(j, "{");
            jstr(j, "name", a->louts[first_digest].name);
            jnum(j, "index", (double)first_digest);
            ch_puts(j, "}");
        } else {
            ch_puts(j, "null");
        }
        jkey(j, "first_l2_difference");
        if (first_l2 >= 0) {
            ch_puts(j, "{");
            jstr(j, "name", a->louts[first_l2].name);
            jnum(j, "index", (double)first_l2);
            jnum(j, "relative", first_l2_rel);
            ch_puts(j, "}");
        } else {
            ch_puts(j, "null");
        }
        ch_puts(j, "}");
        if (!matched)
            snprintf(layer_text, sizeof layer_text, "; no layer name matches across the two");
        else if (!with_digest && first_l2 < 0)
            snprintf(layer_text, sizeof layer_text,
                     "; %zu layers matched, without digests to compare", matched);
        else if (first_digest < 0 && first_l2 < 0)
            snprintf(layer_text, sizeof layer_text, "; all %zu matched layer outputs are equal",
                     with_digest);
        else if (first_digest < 0)
            snprintf(layer_text, sizeof layer_text, "; layer digests do not differ, ");
        else
            snprintf(layer_text, sizeof layer_text,
                     "; layer outputs first differ at %s (layer %ld of %s), %s",
                     a->louts[first_digest].name, first_digest + 1, A,
                     first_l2 >= 0 ? "" : "with no L2 norm beyond 1e-3 relative");
        if (first_l2 >= 0) {
            size_t l = strlen(layer_text);
            snprintf(layer_text + l, sizeof layer_text - l, "and beyond 1e-3 relative L2 at %s",
                     a->louts[first_l2].name);
        }
        index_free(&ib);
        free(bn);
    } else {
        ch_puts(j, "{\"note\":\"not recorded\"}");
        snprintf(layer_text, sizeof layer_text, "; layer outputs not recorded");
    }
    ch_puts(j, "}");

    char text[1800];
    snprintf(text, sizeof text, "%s on %s, %s against %s: %s%s.", label, model, A, B, out_text,
             layer_text);
    /* the findings and the summary name what says something; equal digests alone, and pairs
     * with nothing recorded, are counted (compare.json lists every pair) */
    bool plain_equal = strcmp(verdict, "bitwise equal") == 0 && !(a->has_louts && b->has_louts);
    bool nothing = strcmp(verdict, "not recorded") == 0 && !nrel;
    if (plain_equal)
        x->n_det_equal++;
    else if (nothing)
        x->n_det_unrecorded++;
    else
        ch_printf(&x->s_det, "  %s\n", text);
    if (!plain_equal && !nothing) {
        if (nrel) {
            char title[400];
            snprintf(title, sizeof title,
                     "%s on %s: relative difference of each layer's output L2 norm, %s against %s",
                     label, model, A, B);
            const char *series[] = {"|L2 A - L2 B| / L2 B"};
            chart_spec cs = {title, "relative", false, nrel, 1, names, series, rel};
            add_finding(x, "determinism", model, label, text, &cs);
        } else {
            add_finding(x, "determinism", model, label, text, NULL);
        }
    }
    free(rel);
    free(names);
}

static void determinism_section(cmp_ctx *x)
{
    for (size_t m = 0; m < x->n_models; m++) {
        const char *model = x->models[m];
        cmp_key *keys = NULL;
        size_t nk = keys_of(x, model, &keys);
        for (size_t k = 0; k < nk; k++)
            for (size_t da = 0; da < x->n_dev; da++)
                for (size_t db = da + 1; db < x->n_dev; db++) {
                    const cmp_cell *a =
                        cell_of(result_of(x, model, da), keys[k].engine, keys[k].config);
                    const cmp_cell *b =
                        cell_of(result_of(x, model, db), keys[k].engine, keys[k].config);
                    if (!a || !b || strcmp(a->status, "ok") || strcmp(b->status, "ok")) continue;
                    determinism_pair(x, model, &keys[k], da, db, a, b);
                    x->n_det_pairs++;
                }
        free(keys);
    }
}

/* ---- the page ---- */

static const char compare_css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;"
    "max-width:1280px;padding:1em 2em;color:#1b1f24}\n"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;"
    "border-bottom:1px solid #d0d7de;padding-bottom:.2em}h3{font-size:1.05em}\n"
    "table{border-collapse:collapse;margin:.6em 0;font-size:.86em}\n"
    "th,td{border:1px solid #d0d7de;padding:3px 7px;text-align:right;vertical-align:top}\n"
    "th{background:#f6f8fa}td.l,th.l{text-align:left}\n"
    ".note{color:#57606a;font-size:.9em}.bad{color:#b42318;font-weight:600}\n"
    ".finding{display:grid;grid-template-columns:2fr 3fr;gap:1.2em;align-items:center;"
    "border-top:1px solid #eaeef2;padding:.6em 0}\n"
    ".finding p{margin:0}.finding.anomaly p{color:#b42318;font-weight:600}\n"
    ".chart{position:relative;height:260px}\n#errors{color:#b42318}details{margin:.4em 0}\n";

static const char compare_js[] =
    "(function () {\n"
    "  'use strict';\n"
    "  var R = JSON.parse(document.getElementById('compare').textContent);\n"
    "  var root = document.getElementById('report');\n"
    "  root.innerHTML = '';\n"
    "  var charts = 0, wanted = 0, hasChart = typeof Chart !== 'undefined';\n"
    "  if (hasChart) { Chart.defaults.animation = false; Chart.defaults.responsive = true;"
    " Chart.defaults.maintainAspectRatio = false; }\n"
    "  var palette = ['#0969da', '#cf222e', '#1a7f37', '#bf8700', '#8250df', '#1b7c83',"
    " '#953800', '#6e7781'];\n"
    "  function add(parent, tag, attrs, text) {\n"
    "    var e = document.createElement(tag);\n"
    "    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);\n"
    "    if (text !== undefined && text !== null) e.textContent = text;\n"
    "    parent.appendChild(e);\n"
    "    return e;\n"
    "  }\n"
    "  function fmt(v, d) {\n"
    "    if (v === null || v === undefined || (typeof v === 'number' && !isFinite(v)))"
    " return '-';\n"
    "    if (typeof v !== 'number') return String(v);\n"
    "    if (d === undefined) return Number(v.toPrecision(4)).toString();\n"
    "    return v.toFixed(d);\n"
    "  }\n"
    "  function table(parent, head, rows, left) {\n"
    "    var t = add(parent, 'table'), tr = add(t, 'tr');\n"
    "    head.forEach(function (h, i) { add(tr, 'th', i < left ? { 'class': 'l' } : null,"
    " h); });\n"
    "    rows.forEach(function (r) {\n"
    "      var row = add(t, 'tr');\n"
    "      r.forEach(function (c, i) { add(row, 'td', i < left ? { 'class': 'l' } : null,"
    " c); });\n"
    "    });\n"
    "    return t;\n"
    "  }\n"
    "  function chart(parent, spec) {\n"
    "    wanted++;\n"
    "    var box = add(parent, 'div', { 'class': 'chart' });\n"
    "    if (!hasChart) { add(box, 'p', { 'class': 'note' }, 'Chart not drawn: Chart.js was"
    " not available when the page was written (' + (window.__chartjs_missing || '') +"
    " ').'); return; }\n"
    "    var c = add(box, 'canvas');\n"
    "    var cfg = { type: 'bar', data: { labels: spec.labels, datasets:"
    " spec.series.map(function (s, i) {\n"
    "      return { label: s.label, data: s.values, backgroundColor: palette[i %"
    " palette.length] }; }) },\n"
    "      options: { indexAxis: spec.horizontal ? 'y' : 'x', scales: {}, plugins: { title:"
    " { display: true, text: spec.title }, legend: { display: spec.series.length > 1 } } }"
    " };\n"
    "    cfg.options.scales[spec.horizontal ? 'x' : 'y'] = { beginAtZero: true, title: {"
    " display: true, text: spec.unit } };\n"
    "    var ch = new Chart(c.getContext('2d'), cfg);\n"
    "    if (ch && ch.chartArea && ch.chartArea.width > 0) charts++;\n"
    "  }\n"
    "  function peak(v, unit) { return v ? fmt(v) + ' ' + unit : 'not recorded'; }\n"
    "\n"
    "  add(root, 'h1', null, 'lucid compare');\n"
    "  add(root, 'p', { 'class': 'note' }, R.inputs.length + ' results, ' + R.models.length"
    " + ' model(s), ' + R.devices.length + ' device(s). Schema ' + R.schema + '.');\n"
    "  add(root, 'h2', null, 'Devices');\n"
    "  table(root, ['#', 'device', 'kind', 'peak FP32', 'peak FP16', 'bandwidth', 'peaks'"
    " + ' from', 'anomaly check'], R.devices.map(function (d, i) {\n"
    "    return [String(i + 1), d.name, d.kind, peak(d.peak_gflops_fp32, 'GFLOP/s'),"
    " peak(d.peak_gflops_fp16, 'GFLOP/s'), peak(d.bandwidth_gbs, 'GB/s'), d.peaks_source ||"
    " '-', d.anomaly_check ? 'compared' : d.anomaly_check_reason];\n"
    "  }), 3);\n"
    "  add(root, 'h3', null, 'Inputs');\n"
    "  table(root, ['results', 'model', 'device', 'started', 'complete'],"
    " R.inputs.map(function (r) {\n"
    "    return [r.path, r.model, r.device, r.started || '-', r.complete ? 'yes' : 'no'];"
    " }), 3);\n"
    "\n"
    "  add(root, 'h2', null, 'Findings');\n"
    "  if (!R.findings.length) add(root, 'p', { 'class': 'note' }, 'Nothing to compare:"
    " every model was measured on one device, without optimization chains.');\n"
    "  R.findings.forEach(function (f) {\n"
    "    var box = add(root, 'div', { 'class': 'finding ' + f.kind });\n"
    "    add(box, 'p', { 'class': 'sentence' }, f.text);\n"
    "    if (f.chart) chart(box, f.chart); else add(box, 'p', { 'class': 'note' }, '');\n"
    "  });\n"
    "\n"
    "  add(root, 'h2', null, 'Latency per device');\n"
    "  R.models.forEach(function (m) {\n"
    "    add(root, 'h3', null, m);\n"
    "    var cells = R.cells.filter(function (c) { return c.model === m; });\n"
    "    var devs = R.devices.filter(function (d) { return cells.some(function (c) {"
    " return c.devices.some(function (x) { return x.device === d.name; }); }); });\n"
    "    var head = ['cell'];\n"
    "    devs.forEach(function (d) { head.push(d.name + ': median ms (p90)');"
    " head.push('offline/s'); head.push('top-1 %'); });\n"
    "    table(root, head, cells.map(function (c) {\n"
    "      var row = [c.label];\n"
    "      devs.forEach(function (d) {\n"
    "        var x = c.devices.filter(function (y) { return y.device === d.name; })[0];\n"
    "        if (!x) { row.push('-', '-', '-'); return; }\n"
    "        row.push(x.median_ms !== null && x.median_ms !== undefined ? fmt(x.median_ms) +"
    " ' (' + fmt(x.p90_ms) + ')' : x.status);\n"
    "        row.push(fmt(x.offline_samples_per_s, 1)); row.push(fmt(x.top1, 2));\n"
    "      });\n"
    "      return row;\n"
    "    }), 1);\n"
    "  });\n"
    "\n"
    "  add(root, 'h2', null, 'Anomalies: slower on more powerful hardware');\n"
    "  var A = R.anomaly_check;\n"
    "  add(root, 'p', { 'class': 'note' }, 'Rule: ' + A.rule + ' (margin ' + A.margin + ').'"
    " + ' Cells checked: ' + A.cells_checked + '.');\n"
    "  A.skipped_devices.forEach(function (s) { add(root, 'p', { 'class': 'note' }, s.device"
    " + ': ' + s.reason + '.'); });\n"
    "  if (!R.anomalies.length) add(root, 'p', null, 'No anomaly found.');\n"
    "  R.anomalies.forEach(function (a) {\n"
    "    add(root, 'h3', null, a.label + ' on ' + a.model + ': ' + fmt(a.ratio, 2) + 'x"
    " slower on ' + a.slower_device + ' than on ' + a.faster_device);\n"
    "    if (a.layers_note) add(root, 'p', { 'class': 'note' }, a.layers_note);\n"
    "    if (a.layers.length) table(root, ['layer', 'op', 'tactic on ' + a.slower_device,"
    " 'ms', 'tactic on ' + a.faster_device, 'ms', 'gap ms', 'share of gap'],"
    " a.layers.map(function (l) {\n"
    "      return [l.name, l.op_slower || '-', l.tactic_slower || '-', fmt(l.ms_slower),"
    " l.tactic_faster || '-', fmt(l.ms_faster), fmt(l.gap_ms), fmt(100 * l.share_of_gap, 1)"
    " + '%'];\n"
    "    }), 3);\n"
    "  });\n"
    "\n"
    "  add(root, 'h2', null, 'Optimizations per device');\n"
    "  if (!R.optimizations.length) add(root, 'p', { 'class': 'note' }, 'No optimization"
    " chain was measured.');\n"
    "  else table(root, ['model', 'device', 'step', 'base', 'adds', 'step speedup',"
    " 'from'], R.optimizations.map(function (o) {\n"
    "    return [o.model, o.device, o.step, o.base, o.adds || '-', fmt(o.step_speedup, 2) +"
    " 'x', o.source];\n"
    "  }), 5);\n"
    "\n"
    "  add(root, 'h2', null, 'Determinism across devices');\n"
    "  if (!R.determinism.length) add(root, 'p', { 'class': 'note' }, 'No cell was measured"
    " on two devices.');\n"
    "  else table(root, ['model', 'cell', 'device', 'other device', 'outputs', 'max abs"
    " diff', 'argmax agreement %', 'first layer differing', 'first beyond 1e-3 L2'],"
    " R.determinism.map(function (d) {\n"
    "    var L = d.layers || {};\n"
    "    return [d.model, d.label, d.device, d.other_device, d.outputs,"
    " fmt(d.max_abs_difference), fmt(d.argmax_agreement, 1), L.note ? L.note :"
    " (L.first_digest_difference ? L.first_digest_difference.name : 'none'), L.note ? '-' :"
    " (L.first_l2_difference ? L.first_l2_difference.name : 'none')];\n"
    "  }), 4);\n"
    "\n"
    "  add(root, 'h2', null, 'Layers per device');\n"
    "  R.layers.forEach(function (g) {\n"
    "    var det = add(root, 'details');\n"
    "    add(det, 'summary', null, g.model + ': ' + g.label + ' (' + g.layers.length + '"
    " layers)');\n"
    "    var devs = [];\n"
    "    g.layers.forEach(function (l) { l.times.forEach(function (t) { if"
    " (devs.indexOf(t.device) < 0) devs.push(t.device); }); });\n"
    "    var head = ['layer'];\n"
    "    devs.forEach(function (d) { head.push(d + ': op, tactic'); head.push('ms'); });\n"
    "    table(det, head, g.layers.map(function (l) {\n"
    "      var row = [l.name];\n"
    "      devs.forEach(function (d) {\n"
    "        var t = l.times.filter(function (x) { return x.device === d; })[0];\n"
    "        row.push(t ? (t.op || '-') + ', ' + (t.tactic || '-') : '-'); row.push(t ?"
    " fmt(t.mean_ms) : '-');\n"
    "      });\n"
    "      return row;\n"
    "    }), 2);\n"
    "  });\n"
    "  document.body.setAttribute('data-charts', String(charts));\n"
    "  document.body.setAttribute('data-charts-wanted', String(wanted));\n"
    "  if (document.body.getAttribute('data-status') === 'loading')"
    " document.body.setAttribute('data-status', 'ok');\n"
    "})();\n";

static void html(ch_buf *b, const ch_buf *json, const char *chartjs)
{
    ch_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<title>lucid compare</title>\n<style>");
    ch_puts(b, compare_css);
    ch_puts(b, "</style>\n</head>\n<body data-status=\"loading\">\n"
               "<div id=\"report\"><p>This page needs JavaScript.</p></div>\n"
               "<pre id=\"errors\"></pre>\n"
               "<script>window.__errors=[];window.addEventListener('error',function(e){"
               "window.__errors.push(String(e.message));"
               "document.getElementById('errors').textContent=window.__errors.join('\\n');"
               "document.body.setAttribute('data-status','error');});</script>\n"
               "<script id=\"compare\" type=\"application/json\">");
    ch_puts(b, json->data ? json->data : "{}");
    ch_puts(b, "</script>\n");
    FILE *f = chartjs ? fopen(chartjs, "rb") : NULL;
    if (f) {
        ch_puts(b, "<script>/* Chart.js, inlined from ");
        ch_puts(b, chartjs);
        ch_puts(b, " */\n");
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk - 1, f)) > 0) {
            chunk[n] = '\0';
            ch_puts(b, chunk);
        }
        fclose(f);
        ch_puts(b, "\n</script>\n");
    } else {
        ch_puts(b, "<script>window.__chartjs_missing=");
        ch_json_str(b, chartjs ? "not readable" : "none given");
        ch_puts(b, ";</script>\n");
    }
    ch_puts(b, "<script>");
    ch_puts(b, compare_js);
    ch_puts(b, "</script>\n</body></html>\n");
}

/* ---- the entry point ---- */

void lucid_compare_options_default(lucid_compare_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->margin = 0.05;
}

static lucid_status make_dir(const char *path, lucid_error *err)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "%s: output folder name too long",
                            path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) break;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot create the folder: %s", path,
                            strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: is not a folder", path);
    return LUCID_STATUS_OK;
}

static void free_ctx(cmp_ctx *x)
{
    for (size_t i = 0; i < x->n_res; i++)
        free_result(&x->res[i]);
    free(x->res);
    free(x->dev);
    free(x->models);
    ch_buf *bufs[] = {&x->j_cells,    &x->j_opt,     &x->j_layers,    &x->j_anom,
                      &x->j_det,      &x->j_find,    &x->latency_csv, &x->anomalies_csv,
                      &x->layers_csv, &x->s_latency, &x->s_find,      &x->s_anom,
                      &x->s_det};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        ch_buf_free(bufs[i]);
}

static lucid_status check_options(const char *const *dirs, size_t n, const lucid_compare_options *o,
                                  lucid_error *err)
{
    if (!dirs || n == 0)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "no results to compare (give one or more folders written by lucid "
                            "characterize)");
    if (!o || !o->out_dir || !o->out_dir[0])
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "no output folder given");
    if (!isfinite(o->margin) || o->margin < 0 || o->margin > 10)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "margin %g: must be a fraction from 0 to 10 (0.05 is 5%%)", o->margin);
    if (o->n_peaks && !o->peaks)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "n_peaks without peaks");
    for (size_t i = 0; i < o->n_peaks; i++) {
        const lucid_compare_peak *p = &o->peaks[i];
        if (!p->device || !p->device[0])
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "peak %zu: no device name",
                                i + 1);
        if (!positive(p->gflops_fp32) || !positive(p->bandwidth_gbs) ||
            !(p->gflops_fp16 == 0 || positive(p->gflops_fp16)))
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "peaks for '%s': GFLOP/s and GB/s must be positive numbers",
                                p->device);
    }
    return LUCID_STATUS_OK;
}

/* Reads every input and builds the device and model lists. */
static lucid_status load(cmp_ctx *x, const char *const *dirs, size_t n,
                         const lucid_compare_options *o, lucid_error *err)
{
    x->res = calloc(n, sizeof *x->res);
    x->dev = calloc(n, sizeof *x->dev);
    x->models = calloc(n, sizeof *x->models);
    if (!x->res || !x->dev || !x->models)
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++) {
        cmp_device d;
        memset(&d, 0, sizeof d);
        cmp_result *r = &x->res[x->n_res];
        lucid_status st = read_result(r, dirs[i], &d, err);
        x->n_res++; /* freed with the context, also when it failed */
        if (st) return st;
        for (size_t k = 0; k + 1 < x->n_res; k++)
            if (x->res[k].st_dev == r->st_dev && x->res[k].st_ino == r->st_ino)
                return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                    "%s: the same results as %s (an input given twice)", r->arg,
                                    x->res[k].arg);
        size_t di = 0;
        while (di < x->n_dev && strcmp(x->dev[di].name, d.name) != 0)
            di++;
        if (di == x->n_dev)
            x->dev[x->n_dev++] = d;
        else if (!has_peaks(&x->dev[di]) && has_peaks(&d))
            x->dev[di].peaks = d.peaks,
            snprintf(x->dev[di].source, sizeof x->dev[di].source, "%s", d.source);
        r->device = di;
        for (size_t k = 0; k + 1 < x->n_res; k++)
            if (x->res[k].device == di && strcmp(x->res[k].model, r->model) == 0)
                return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                    "%s: model %s on %s again (also in %s): give one result per "
                                    "model and device",
                                    r->arg, r->model, d.name, x->res[k].arg);
        size_t mi = 0;
        while (mi < x->n_models && strcmp(x->models[mi], r->model) != 0)
            mi++;
        if (mi == x->n_models)
            snprintf(x->models[x->n_models++], sizeof x->models[0], "%s", r->model);
    }
    for (size_t i = 0; i < o->n_peaks; i++) {
        const lucid_compare_peak *p = &o->peaks[i];
        size_t di = 0;
        while (di < x->n_dev && strcmp(x->dev[di].name, p->device) != 0)
            di++;
        if (di == x->n_dev) {
            ch_buf names = {0};
            for (size_t k = 0; k < x->n_dev; k++)
                ch_printf(&names, "%s'%s'", k ? ", " : "", x->dev[k].name);
            lucid_status st = lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                           "peaks for '%s': no result was measured on a device of "
                                           "that name (devices: %s)",
                                           p->device, names.data ? names.data : "");
            ch_buf_free(&names);
            return st;
        }
        cmp_device *d = &x->dev[di];
        d->peaks.gflops_fp32 = p->gflops_fp32;
        d->peaks.bandwidth_gbs = p->bandwidth_gbs;
        d->peaks.gflops_fp16 = p->gflops_fp16 > 0 ? p->gflops_fp16 : NAN;
        snprintf(d->source, sizeof d->source, "given to compare (--peak)");
    }
    return LUCID_STATUS_OK;
}

static void devices_json(ch_buf *b, const cmp_ctx *x)
{
    jopen(b, "devices", "[");
    for (size_t d = 0; d < x->n_dev; d++) {
        const cmp_device *v = &x->dev[d];
        jopen(b, NULL, "\n{");
        jstr(b, "name", v->name);
        jstr(b, "kind", v->kind);
        jnum(b, "peak_gflops_fp32", v->peaks.gflops_fp32);
        jnum(b, "peak_gflops_fp16", v->peaks.gflops_fp16);
        jnum(b, "bandwidth_gbs", v->peaks.bandwidth_gbs);
        jstr(b, "peaks_source", v->source[0] ? v->source : NULL);
        jbool(b, "anomaly_check", has_peaks(v));
        jstr(b, "anomaly_check_reason",
             has_peaks(v) ? NULL : "peaks not recorded: not compared for anomalies");
        ch_puts(b, "}");
    }
    ch_puts(b, "]");
}

static void summary_head(ch_buf *s, const cmp_ctx *x)
{
    ch_printf(s, "lucid compare: %zu result%s, %zu model%s, %zu device%s\n", x->n_res,
              x->n_res == 1 ? "" : "s", x->n_models, x->n_models == 1 ? "" : "s", x->n_dev,
              x->n_dev == 1 ? "" : "s");
    ch_puts(s, "\ndevices:\n");
    for (size_t d = 0; d < x->n_dev; d++) {
        const cmp_device *v = &x->dev[d];
        char a[32], b[64], c[32];
        if (isfinite(v->peaks.gflops_fp16))
            snprintf(b, sizeof b, "%s GFLOP/s FP16", g4(c, sizeof c, v->peaks.gflops_fp16));
        else
            snprintf(b, sizeof b, "FP16 peak not recorded");
        if (has_peaks(v))
            ch_printf(s, "  [%zu] %s (%s): peak %s GFLOP/s FP32, %s, %s GB/s (%s)\n", d + 1,
                      v->name, v->kind, g4(a, sizeof a, v->peaks.gflops_fp32), b,
                      g4(c, sizeof c, v->peaks.bandwidth_gbs), v->source);
        else
            ch_printf(s, "  [%zu] %s (%s): peaks not recorded\n", d + 1, v->name, v->kind);
    }
    ch_puts(s, "\ninputs:\n");
    for (size_t i = 0; i < x->n_res; i++)
        ch_printf(s, "  %s: %s on [%zu]%s\n", x->res[i].path, x->res[i].model, x->res[i].device + 1,
                  x->res[i].complete ? "" : " (incomplete)");
}

lucid_status lucid_compare(const char *const *dirs, size_t n, const lucid_compare_options *opts,
                           lucid_error *err)
{
    lucid_status st = check_options(dirs, n, opts, err);
    if (st) return st;
    if (opts->summary) *opts->summary = NULL;
    cmp_ctx x;
    memset(&x, 0, sizeof x);
    x.margin = opts->margin;
    ch_buf json = {0}, check = {0}, page = {0}, summary = {0};
    if ((st = load(&x, dirs, n, opts, err))) goto done;
    if ((st = make_dir(opts->out_dir, err))) goto done;

    anomalies_section(&x, &check);
    cells_section(&x);
    optimizations_section(&x);
    layers_section(&x);
    determinism_section(&x);
    if (x.oom) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory comparing the results");
        goto done;
    }

    ch_puts(&json, "{\n");
    jstr(&json, "schema", CMP_SCHEMA);
    jnum(&json, "margin", x.margin);
    jopen(&json, "inputs", "[");
    for (size_t i = 0; i < x.n_res; i++) {
        const cmp_result *r = &x.res[i];
        jopen(&json, NULL, "\n{");
        jstr(&json, "path", r->path);
        jstr(&json, "model", r->model);
        jstr(&json, "model_path", r->model_path);
        jstr(&json, "device", x.dev[r->device].name);
        jstr(&json, "started", r->started);
        jbool(&json, "complete", r->complete);
        ch_puts(&json, "}");
    }
    ch_puts(&json, "],\n");
    devices_json(&json, &x);
    ch_puts(&json, ",\n");
    jopen(&json, "models", "[");
    for (size_t m = 0; m < x.n_models; m++)
        jvstr(&json, x.models[m]);
    ch_puts(&json, "],\n");
    struct {
        const char *name;
        ch_buf *body;
        const char *open, *close;
    } parts[] = {
        {"findings", &x.j_find, "[", "]"},     {"anomaly_check", &check, "{", "}"},
        {"anomalies", &x.j_anom, "[", "]"},    {"cells", &x.j_cells, "[", "]"},
        {"optimizations", &x.j_opt, "[", "]"}, {"determinism", &x.j_det, "[", "]"},
        {"layers", &x.j_layers, "[", "]"},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        jkey(&json, parts[i].name);
        ch_puts(&json, parts[i].open);
        if (parts[i].body->data) ch_puts(&json, parts[i].body->data);
        ch_puts(&json, parts[i].close);
        ch_puts(&json, i + 1 < sizeof parts / sizeof parts[0] ? ",\n" : "\n");
    }
    ch_puts(&json, "}\n");

    const char *chartjs = opts->chartjs ? opts->chartjs : getenv("LUCID_CHARTJS");
    if (!chartjs) chartjs = "/usr/share/javascript/chart.js/chart.min.js";
    html(&page, &json, chartjs);

    summary_head(&summary, &x);
    ch_puts(&summary, "\nlatency (median ms; device numbers as above):");
    if (x.s_latency.data) ch_puts(&summary, x.s_latency.data);
    ch_printf(&summary, "\nfindings (%zu):\n", x.n_findings);
    if (x.s_find.data)
        ch_puts(&summary, x.s_find.data);
    else
        ch_puts(&summary, "  none: every model was measured on one device, without optimization "
                          "chains\n");
    ch_printf(&summary,
              "\nanomalies (a device with more peak compute and bandwidth, slower by "
              "more than %.0f%% and beyond the noise): %zu of %zu cells checked\n",
              100 * x.margin, x.n_anomalies, x.n_checked);
    if (x.s_anom.data) ch_puts(&summary, x.s_anom.data);
    ch_puts(&summary, "\ndeterminism across devices:\n");
    if (!x.n_det_pairs) ch_puts(&summary, "  no cell was measured ok on two devices\n");
    if (x.s_det.data) ch_puts(&summary, x.s_det.data);
    if (x.n_det_equal)
        ch_printf(&summary,
                  "  %zu cell%s compared on a pair of devices: equal output digests of the "
                  "first sample (nothing more recorded)\n",
                  x.n_det_equal, x.n_det_equal == 1 ? "" : "s");
    if (x.n_det_unrecorded)
        ch_printf(&summary, "  %zu cell%s compared on a pair of devices: outputs not recorded\n",
                  x.n_det_unrecorded, x.n_det_unrecorded == 1 ? "" : "s");
    FILE *cj = fopen(chartjs, "rb");
    if (cj)
        fclose(cj);
    else
        ch_printf(&summary,
                  "\nnote: Chart.js not readable at %s: the page's charts are not drawn\n",
                  chartjs);
    ch_printf(&summary,
              "\nreport: %s/compare.html (compare.json, latency.csv, anomalies.csv, "
              "layers.csv alongside)\n",
              opts->out_dir);

    struct {
        const char *name;
        const ch_buf *b;
    } files[] = {
        {"compare.json", &json},
        {"latency.csv", &x.latency_csv},
        {"anomalies.csv", &x.anomalies_csv},
        {"layers.csv", &x.layers_csv},
        {"compare.html", &page},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0] && !st; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", opts->out_dir, files[i].name);
        st = ch_buf_write(files[i].b, path, err);
    }
    if (!st && summary.oom)
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory writing the summary");
    if (!st && opts->summary) {
        *opts->summary = summary.data;
        summary.data = NULL;
    }
done:
    ch_buf_free(&json);
    ch_buf_free(&check);
    ch_buf_free(&page);
    ch_buf_free(&summary);
    free_ctx(&x);
    return st;
}
