/* characterize.c - the study's driver: checks the options, loads the model and samples, lays
 * out the matrix of engine x config cells, measures them one by one with progress and
 * cancellation, and rewrites the output folder after every cell. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "characterize/characterize.h"
#include "core/error.h"

#ifndef LUCID_SOURCE_DIR
#define LUCID_SOURCE_DIR "."
#endif

#define CH_DEFAULT_ENGINES "lucid,onnxruntime,openvino,pytorch,tensorrt"
/* Samples kept in memory (and handed to peers) at most, in bytes. */
#define CH_MAX_SAMPLE_BYTES ((size_t)512 << 20)
/* Random samples when there is no dataset. */
#define CH_RANDOM_SAMPLES 16

static const char *const engine_names[] = {"lucid", "onnxruntime", "openvino", "pytorch",
                                            "tensorrt"};

void lucid_characterize_options_default(lucid_characterize_options *o)
{
    memset(o, 0, sizeof *o);
    o->device = "cpu";
    o->warmup_ms = 200;
    o->min_iterations = 10;
    o->min_duration_s = 1;
    o->runs = 20;
    o->builds = 3;
    o->batches = "1,8,32";
}

const char *ch_state_name(ch_state s)
{
    switch (s) {
    case CH_PENDING:
        return "pending";
    case CH_OK:
        return "ok";
    case CH_UNAVAILABLE:
        return "unavailable";
    case CH_FAILED:
        return "failed";
    case CH_SKIPPED:
        return "skipped";
    }
    return "?";
}

bool ch_cancelled(const lucid_characterization_t *c)
{
    return c->opts.cancel && *c->opts.cancel;
}

void ch_step(lucid_characterization_t *c, const ch_cell *cell, const char *step)
{
    if (c->steps_done < c->steps_total) c->steps_done++;
    if (!c->opts.progress) return;
    double el = lucid_time_now() - c->t0;
    size_t done = c->steps_done - 1;
    lucid_characterize_progress p = {
        .cell = cell ? cell->label : "setup",
        .step = step,
        .steps_done = done,
        .steps_total = c->steps_total,
        .elapsed_s = el,
        .eta_s = done > 0 ? el / (double)done * (double)(c->steps_total - done) : -1,
    };
    c->opts.progress(c->opts.progress_user, &p);
}

const ch_cell *ch_find_cell(const lucid_characterization_t *c, const char *engine,
                            const char *config)
{
    for (size_t i = 0; i < c->n_cells; i++)
        if (strcmp(c->cells[i].engine, engine) == 0 && strcmp(c->cells[i].config, config) == 0)
            return &c->cells[i];
    return NULL;
}

static void utc_now(char *out, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Is `name` one of the comma-separated items of list? */
static bool list_has(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

/* Every item of list must be one of the engines (or configs, of any device); reports the
 * first that is not. */
static lucid_status check_list(const char *what, const char *list, lucid_error *err)
{
    if (!list[0]) return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "empty %s list", what);
    char known[512] = "";
    bool engines = strcmp(what, "engine") == 0;
    size_t nk = engines ? sizeof engine_names / sizeof engine_names[0]
                        : lucid_characterize_config_count();
    for (size_t i = 0; i < nk; i++) {
        size_t len = strlen(known);
        snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "",
                 engines ? engine_names[i] : lucid_characterize_config_name(i));
    }
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        bool ok = false;
        for (size_t i = 0; i < nk && !ok; i++) {
            const char *k = engines ? engine_names[i] : lucid_characterize_config_name(i);
            ok = strlen(k) == len && strncmp(p, k, len) == 0;
        }
        if (!ok)
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "unknown %s '%.*s' (%ss: %s)",
                                what, (int)len, p, what, known);
        if (!e) break;
        p = e + 1;
    }
    return LUCID_STATUS_OK;
}

static lucid_status parse_batches(const char *s, int64_t *out, int *n, lucid_error *err)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 1 || v > 4096 || errno || (*end && *end != ','))
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "batches '%s': expected batch sizes 1 to 4096, e.g. 1,8,32", s);
        if (*n == CH_MAX_BATCHES)
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "batches '%s': at most %d sizes", s, CH_MAX_BATCHES);
        out[(*n)++] = v;
        p = *end ? end + 1 : end;
    }
    if (*n == 0) return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "batches: empty list");
    return LUCID_STATUS_OK;
}

static lucid_status make_dirs(const char *path, lucid_error *err)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
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

lucid_status ch_open_model(const lucid_characterization_t *c, int64_t batch, lucid_model_t **out,
                           lucid_error *err)
{
    lucid_model_t *m = NULL;
    lucid_status st = lucid_model_load(c->model_path, &m, err);
    if (st) return st;
    lucid_tensor_desc d;
    lucid_model_input(m, 0, &d);
    int64_t dims[LUCID_MAX_RANK];
    bool change = false;
    for (int i = 0; i < d.rank; i++) {
        dims[i] = d.dims[i] < 0 ? 1 : d.dims[i];
        change |= d.dims[i] < 0;
    }
    if (d.rank > 0 && c->batch_symbolic) dims[0] = batch;
    if (change) st = lucid_model_set_input_shape(m, d.name, d.rank, dims, err);
    if (st) {
        lucid_model_destroy(m);
        return st;
    }
    *out = m;
    return LUCID_STATUS_OK;
}

/* splitmix64, lucid's generator for random inputs */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Model facts: the one float input, its shape, per-sample sizes, costs. */
static lucid_status inspect_model(lucid_characterization_t *c, lucid_error *err)
{
    lucid_model_t *m = NULL;
    lucid_status st = lucid_model_load(c->model_path, &m, err);
    if (st) return st;
    lucid_tensor_desc d;
    if (lucid_model_num_inputs(m) != 1 || lucid_model_num_outputs(m) < 1) {
        st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                          "%s: has %zu inputs and %zu outputs; characterize feeds models with "
                          "exactly one input",
                          c->model_path, lucid_model_num_inputs(m), lucid_model_num_outputs(m));
        goto done;
    }
    lucid_model_input(m, 0, &d);
    if (d.dtype != LUCID_DTYPE_FLOAT || d.rank < 1) {
        st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                          "%s: input '%s' is %s of rank %d; characterize needs a float32 input "
                          "with a batch dimension",
                          c->model_path, d.name, lucid_dtype_name(d.dtype), d.rank);
        goto done;
    }
    snprintf(c->input_name, sizeof c->input_name, "%s", d.name);
    c->input_rank = d.rank;
    c->batch_symbolic = d.dims[0] < 0;
    lucid_model_destroy(m);
    m = NULL;
    if ((st = ch_open_model(c, 1, &m, err))) return st;
    lucid_model_input(m, 0, &d);
    c->sample_elems = 1;
    for (int i = 0; i < d.rank; i++) {
        c->input_dims[i] = d.dims[i];
        if (i > 0) c->sample_elems *= (size_t)d.dims[i];
    }
    lucid_tensor_desc o;
    lucid_model_output(m, 0, &o);
    if (o.dtype != LUCID_DTYPE_FLOAT || o.rank < 1 || o.dims[0] != d.dims[0]) {
        st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                          "%s: output '%s' is not float32 with the input's batch dimension",
                          c->model_path, o.name ? o.name : "");
        goto done;
    }
    c->out_elems = 1;
    for (int i = 1; i < o.rank; i++)
        c->out_elems *= (size_t)o.dims[i];
    lucid_model_info info;
    lucid_model_get_info(m, &info);
    c->macs = info.macs;
    c->flops = info.flops;
    c->param_bytes = (int64_t)info.param_bytes;
    c->n_nodes = info.num_nodes;
done:
    lucid_model_destroy(m);
    return st;
}

/* Loads the samples (dataset or seeded random) and writes them as .npy for the peers. */
static lucid_status load_samples(lucid_characterization_t *c, lucid_error *err)
{
    const lucid_characterize_options *o = &c->opts;
    size_t cap = CH_MAX_SAMPLE_BYTES / (c->sample_elems * sizeof(float));
    if (cap < 1) cap = 1;
    lucid_dataset_t *ds = NULL;
    lucid_status st = LUCID_STATUS_OK;
    size_t n;
    if (o->dataset) {
        if (c->input_rank != 4)
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "--dataset needs a model with an image input (N, C, H, W); "
                                "input '%s' has rank %d",
                                c->input_name, c->input_rank);
        lucid_dataset_options dopt = {.channels = (int)c->input_dims[1],
                                      .height = (int)c->input_dims[2],
                                      .width = (int)c->input_dims[3]};
        st = lucid_dataset_open(o->dataset, &dopt, &ds, err);
        if (st) {
            lucid_error_prefix(err, "dataset '%s': ", o->dataset);
            return st == LUCID_STATUS_INVALID_MODEL ? st : LUCID_STATUS_INVALID_ARGUMENT;
        }
        n = lucid_dataset_size(ds);
        if (n == 0) {
            lucid_dataset_destroy(ds);
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "dataset '%s' is empty",
                                o->dataset);
        }
        snprintf(c->dataset_desc, sizeof c->dataset_desc, "%s", lucid_dataset_describe(ds));
    } else {
        n = CH_RANDOM_SAMPLES;
        snprintf(c->dataset_desc, sizeof c->dataset_desc,
                 "no dataset: %d seeded random inputs in [-1, 1) (seed %llu)", CH_RANDOM_SAMPLES,
                 (unsigned long long)o->seed);
    }
    if (o->limit > 0 && (uint64_t)o->limit < n) n = (size_t)o->limit;
    if (n > cap) n = cap;
    c->samples = malloc(n * c->sample_elems * sizeof(float));
    bool labelled = ds && lucid_dataset_has_labels(ds);
    c->labels = labelled ? malloc(n * sizeof *c->labels) : NULL;
    if (!c->samples || (labelled && !c->labels)) {
        lucid_dataset_destroy(ds);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory for %zu samples", n);
    }
    uint64_t s = o->seed ^ 0x6c75636964ull;
    for (size_t i = 0; i < n; i++) {
        float *dst = c->samples + i * c->sample_elems;
        if (ds) {
            int64_t label;
            st = lucid_dataset_load(ds, i, dst, &label, err);
            if (st) {
                lucid_dataset_destroy(ds);
                lucid_error_prefix(err, "dataset '%s': ", o->dataset);
                return st;
            }
            if (c->labels) c->labels[i] = label;
        } else {
            for (size_t k = 0; k < c->sample_elems; k++)
                dst[k] = (float)(splitmix(&s) >> 40) * (2.0f / 16777216.0f) - 1.0f;
        }
    }
    lucid_dataset_destroy(ds);
    c->n_samples = n;
    if (c->labels)
        for (size_t i = 0; i < n; i++)
            if (c->labels[i] < 0 || (size_t)c->labels[i] >= c->out_elems)
                return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                    "dataset '%s': sample %zu has label %lld, but the model has "
                                    "%zu outputs per sample",
                                    o->dataset, i, (long long)c->labels[i], c->out_elems);
    /* the peers read the same samples from files */
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/inputs", c->out_dir);
    if ((st = make_dirs(dir, err))) return st;
    lucid_array a = {.dtype = LUCID_DTYPE_FLOAT, .rank = c->input_rank};
    for (int i = 0; i < c->input_rank; i++)
        a.dims[i] = c->input_dims[i];
    a.dims[0] = 1;
    a.data = c->samples;
    a.nbytes = c->sample_elems * sizeof(float);
    snprintf(c->sample1_npy, sizeof c->sample1_npy, "%s/sample0.npy", dir);
    if ((st = lucid_array_save_npy(c->sample1_npy, &a, err))) return st;
    a.dims[0] = (int64_t)n;
    a.nbytes = n * c->sample_elems * sizeof(float);
    snprintf(c->samples_npy, sizeof c->samples_npy, "%s/samples.npy", dir);
    return lucid_array_save_npy(c->samples_npy, &a, err);
}

static int64_t rank_of_label(const float *s, size_t classes, int64_t label)
{
    int64_t r = 0;
    float v = s[label];
    for (size_t j = 0; j < classes; j++) {
        if ((int64_t)j == label) continue;
        bool nj = isnan(s[j]), nv = isnan(v);
        bool above = nj != nv ? nv : (!nj && s[j] != v ? s[j] > v : (int64_t)j < label);
        r += above;
    }
    return r;
}

static size_t argmax(const float *s, size_t n)
{
    size_t best = 0;
    for (size_t j = 1; j < n; j++)
        if (s[j] > s[best] || (isnan(s[best]) && !isnan(s[j]))) best = j;
    return best;
}

void ch_accuracy_of(const lucid_characterization_t *c, const float *out, size_t n, ch_accuracy *acc)
{
    acc->ok = true;
    acc->samples = (int64_t)n;
    acc->top1 = acc->top5 = acc->agreement = NAN;
    acc->max_abs = acc->max_rel = acc->cosine = NAN;
    acc->labelled = c->labels != NULL;
    if (c->labels) {
        int64_t t1 = 0, t5 = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t r = rank_of_label(out + i * c->out_elems, c->out_elems, c->labels[i]);
            t1 += r < 1;
            t5 += r < 5;
        }
        acc->top1 = 100.0 * (double)t1 / (double)n;
        if (c->out_elems >= 5) acc->top5 = 100.0 * (double)t5 / (double)n;
    }
    acc->vs_ref = c->ref_out != NULL;
    if (c->ref_out) {
        size_t agree = 0;
        for (size_t i = 0; i < n; i++)
            agree += argmax(out + i * c->out_elems, c->out_elems) ==
                     argmax(c->ref_out + i * c->out_elems, c->out_elems);
        acc->agreement = 100.0 * (double)agree / (double)n;
        ch_compare(out, c->ref_out, n * c->out_elems, &acc->max_abs, &acc->max_rel, &acc->cosine);
    }
}

static void add_cell(lucid_characterization_t *c, const char *engine, const char *config,
                     const ch_config *cfg)
{
    ch_cell *cell = &c->cells[c->n_cells++];
    memset(cell, 0, sizeof *cell);
    snprintf(cell->engine, sizeof cell->engine, "%s", engine);
    snprintf(cell->config, sizeof cell->config, "%s", config);
    snprintf(cell->label, sizeof cell->label, "%s/%s", engine, config);
    cell->cfg = cfg;
    cell->off.best = -1;
}

static bool on_path(const char *prog)
{
    if (strchr(prog, '/')) return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path) return false;
    char buf[1200];
    for (const char *p = path; *p;) {
        const char *e = strchr(p, ':');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)len, p, prog);
        if (access(buf, X_OK) == 0) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

static void set_unavailable(ch_cell *cell, const char *why)
{
    cell->state = CH_UNAVAILABLE;
    snprintf(cell->reason, sizeof cell->reason, "%s", why);
}

/* The PyTorch peer's cells: eager on the CPU; on the GPU eager and torch.compile
 * (reduce-overhead: CUDA graphs) in FP32 and FP16, and max-autotune when asked. */
static void add_pytorch_cells(lucid_characterization_t *c, bool cuda)
{
    if (!cuda) {
        add_cell(c, "pytorch", "eager-fp32", NULL);
        return;
    }
    static const char *const gpu[] = {"eager-fp32", "eager-fp16", "compile-fp32",
                                      "compile-fp16"};
    for (size_t i = 0; i < sizeof gpu / sizeof gpu[0]; i++)
        add_cell(c, "pytorch", gpu[i], NULL);
    if (c->opts.torch_max_autotune) add_cell(c, "pytorch", "max-autotune-fp16", NULL);
}

/* The matrix: rows of engines, lucid's configs of this device in table order; cells that
 * cannot run here are marked with the reason before anything runs. */
static lucid_status lay_out_cells(lucid_characterization_t *c, const char *engines,
                                  const char *configs, lucid_error *err)
{
    c->cells = calloc(ch_config_count() + 16, sizeof *c->cells);
    if (!c->cells) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    bool cuda = strcmp(c->opts.device, "cuda") == 0;
    unsigned dev = cuda ? CH_DEV_CUDA : CH_DEV_CPU;
    char cuda_why[256] = "";
    bool cuda_ok = cuda && lucid_cuda_available(cuda_why, sizeof cuda_why);
    for (size_t e = 0; e < sizeof engine_names / sizeof engine_names[0]; e++) {
        const char *en = engine_names[e];
        if (!list_has(engines, en)) continue;
        if (strcmp(en, "lucid") == 0) {
            for (size_t i = 0; i < ch_config_count(); i++) {
                const ch_config *cfg = ch_config_at(i);
                if (configs && !list_has(configs, cfg->name)) continue;
                if (!(cfg->devices & dev)) {
                    /* named explicitly but of the other device only: listed, with why */
                    if (!configs || ch_config_find(cfg->name, dev)) continue;
                    add_cell(c, en, cfg->name, cfg);
                    set_unavailable(&c->cells[c->n_cells - 1],
                                    cuda ? "this config runs on the CPU only (--device cpu)"
                                         : "this config runs on the GPU only (--device cuda)");
                    continue;
                }
                add_cell(c, en, cfg->name, cfg);
                ch_cell *cell = &c->cells[c->n_cells - 1];
                lucid_build_options probe;
                lucid_build_options_default(&probe);
                const char *why = cfg->configure ? cfg->configure(&c->opts, &probe) : NULL;
                if (cfg->missing || why)
                    set_unavailable(cell, cfg->missing ? cfg->missing : why);
                else if (cuda && !cuda_ok)
                    set_unavailable(cell, cuda_why);
            }
        } else if (strcmp(en, "onnxruntime") == 0) {
            add_cell(c, en, cuda ? "cuda" : "cpu-all-opts", NULL);
        } else if (strcmp(en, "openvino") == 0) {
            /* FP32 is the fair comparison; the default precision is what OpenVINO users get
             * (BF16 on CPUs with BF16 support) */
            add_cell(c, en, "cpu-fp32", NULL);
            add_cell(c, en, "cpu-default", NULL);
            for (size_t k = c->n_cells - 2; cuda && k < c->n_cells; k++)
                set_unavailable(&c->cells[k], "OpenVINO's NVIDIA plugin is not part of the "
                                              "study: the OpenVINO driver "
                                              "(bench/peers/openvino_driver.py) runs the CPU "
                                              "plugin only");
        } else if (strcmp(en, "pytorch") == 0) {
            add_pytorch_cells(c, cuda);
        } else {
            add_cell(c, en, "fp32", NULL);
            if (cuda) add_cell(c, en, "fp16", NULL);
            for (size_t k = c->n_cells - (cuda ? 2 : 1); k < c->n_cells; k++) {
                if (!cuda)
                    set_unavailable(&c->cells[k], "TensorRT runs on NVIDIA GPUs only (this study "
                                                  "is --device cpu)");
                else if (!on_path("trtexec"))
                    set_unavailable(&c->cells[k],
                                    "TensorRT is not installed: trtexec is not on PATH");
            }
        }
    }
    if (c->n_cells == 0)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "no cell to measure: --configs selects none of lucid's configs");
    return LUCID_STATUS_OK;
}

static size_t steps_of(const ch_cell *cell)
{
    if (cell->state != CH_PENDING) return 0;
    if (!cell->cfg) return 3; /* latency, offline, accuracy */
    /* build or prepare, (latency,) offline, accuracy, profile, run-to-run(, build-to-build) */
    return cell->cfg->kind == CH_KIND_PLAN ? 7 : 5;
}

lucid_status ch_characterize_run(const lucid_characterize_options *opts, const ch_hooks *hooks,
                                 lucid_characterization_t **out, lucid_error *err)
{
    if (!opts || !out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "characterize: NULL argument");
    *out = NULL;
    const lucid_characterize_options *o = opts;
    if (!o->model || !o->model[0])
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "characterize: no model given");
    if (!o->out_dir || !o->out_dir[0])
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "characterize: no output folder given");
    const char *device = o->device ? o->device : "cpu";
    if (strcmp(device, "cpu") != 0 && strcmp(device, "cuda") != 0)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "unknown device '%s' (devices: cpu, cuda)", device);
    const char *engines = o->engines ? o->engines : CH_DEFAULT_ENGINES;
    lucid_status st = check_list("engine", engines, err);
    if (!st && o->configs) st = check_list("config", o->configs, err);
    if (st) return st;
    if (o->runs < 1 || o->runs > CH_MAX_RUNS || o->builds < 1 || o->builds > CH_MAX_BUILDS)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "runs must be 1 to %d and builds 1 to %d", CH_MAX_RUNS, CH_MAX_BUILDS);
    if (o->threads < 0 || o->threads > 1024 || o->limit < 0 || !(o->warmup_ms >= 0) ||
        !(o->min_duration_s >= 0) || o->min_iterations < 1 ||
        o->min_iterations > LUCID_BENCH_MAX_ITERATIONS || !(o->tune_ms >= 0))
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "characterize: threads, limit, warm-up, iterations, duration or "
                            "tuning time out of range");
    int64_t batches[CH_MAX_BATCHES];
    int n_batches;
    if ((st = parse_batches(o->batches ? o->batches : "1", batches, &n_batches, err))) return st;

    lucid_characterization_t *c = calloc(1, sizeof *c);
    if (!c) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    c->opts = *o;
    c->opts.device = device;
    /* Fashion-MNIST's test split is evaluated: its training split calibrates */
    if (!o->calibration_data && o->dataset && strncmp(o->dataset, "fashion-mnist", 13) == 0) {
        const char *rest = o->dataset + 13, *at = strchr(rest, '@');
        bool test = strncmp(rest, ":test", 5) == 0 || rest[0] == 0 || rest[0] == '@';
        if (test) {
            snprintf(c->calib_spec, sizeof c->calib_spec, "fashion-mnist:train%s", at ? at : "");
            c->opts.calibration_data = c->calib_spec;
        }
    }
    c->opts.engines = engines;
    if (hooks) c->hooks = *hooks;
    c->t0 = lucid_time_now();
    utc_now(c->started, sizeof c->started);
    snprintf(c->model_path, sizeof c->model_path, "%s", o->model);
    snprintf(c->out_dir, sizeof c->out_dir, "%s", o->out_dir);
    const char *pd = o->peers_dir ? o->peers_dir : getenv("LUCID_PEERS_DIR");
    if (!pd) {
        snprintf(c->peers_dir_buf, sizeof c->peers_dir_buf, "%s/bench/peers", LUCID_SOURCE_DIR);
        pd = c->peers_dir_buf;
    }
    c->peers_dir = pd;
    /* One interpreter runs every Python peer: --python, else $LUCID_PEERS_PYTHON, else the
     * environment bench/setup_peers.sh makes in the source tree. Without any of them ONNX
     * Runtime and OpenVINO run under python3 on PATH and PyTorch under Debian's python3 (where
     * apt puts python3-torch); --torch-python overrides PyTorch's alone. */
    const char *py = o->python && o->python[0] ? o->python : getenv("LUCID_PEERS_PYTHON");
    if (!py || !py[0]) {
        snprintf(c->python_buf, sizeof c->python_buf, "%s/.venv-peers/bin/python3",
                 LUCID_SOURCE_DIR);
        py = access(c->python_buf, X_OK) == 0 ? c->python_buf : NULL;
    }
    c->python = py ? py : "python3";
    c->torch_python = o->torch_python && o->torch_python[0] ? o->torch_python
                      : py                                  ? py
                                                            : "/usr/bin/python3";
    c->chartjs = o->chartjs ? o->chartjs : getenv("LUCID_CHARTJS");
    if (!c->chartjs) c->chartjs = "/usr/share/javascript/chart.js/chart.min.js";
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    c->threads = o->threads ? o->threads : cpu.cores;

    if ((st = inspect_model(c, err))) goto fail;
    if ((st = make_dirs(c->out_dir, err))) goto fail;
    if ((st = load_samples(c, err))) goto fail;
    if ((st = lay_out_cells(c, engines, o->configs, err))) goto fail;
    for (size_t i = 0; i < c->n_cells; i++) {
        ch_cell *cell = &c->cells[i];
        cell->off.n = n_batches;
        memcpy(cell->off.batch, batches, sizeof batches);
        for (int k = 0; k < n_batches; k++)
            cell->off.samples_per_s[k] = cell->off.p90_ms[k] = NAN;
    }
    ch_env_read(c);
    if (strcmp(c->opts.device, "cuda") == 0) {
        /* the GPU's facts (this also creates the CUDA context before any cell measures the
         * device memory it takes) and NVML for clocks, power and energy */
        lucid_error gerr;
        c->has_gpu_info = lucid_cuda_device_info(0, &c->gpu_info, &gerr) == LUCID_STATUS_OK;
        if (c->has_gpu_info)
            c->nvml = ch_nvml_open(c->gpu_info.pci_bus_id, 0, c->nvml_why, sizeof c->nvml_why);
        else
            snprintf(c->nvml_why, sizeof c->nvml_why, "not readable: %s", gerr.message);
    }
    ch_env_load(c->load_before);
    c->steps_total = 1;
    for (size_t i = 0; i < c->n_cells; i++)
        c->steps_total += steps_of(&c->cells[i]);
    if ((st = ch_write_results(c, err))) goto fail;

    ch_step(c, NULL, "reference outputs");
    ch_reference_outputs(c);
    for (size_t i = 0; i < c->n_cells; i++) {
        ch_cell *cell = &c->cells[i];
        if (cell->state != CH_PENDING) continue;
        if (ch_cancelled(c)) {
            cell->state = CH_SKIPPED;
            snprintf(cell->reason, sizeof cell->reason, "interrupted before this cell");
            c->interrupted = true;
            continue;
        }
        double t = lucid_time_now();
        if (cell->cfg) {
            lucid_error cerr;
            lucid_status cst = ch_lucid_cell(c, cell, &cerr);
            if (cst && cell->state == CH_PENDING) {
                cell->state = CH_FAILED;
                snprintf(cell->reason, sizeof cell->reason, "%s", cerr.message);
            }
        } else {
            ch_peer_cell(c, cell);
        }
        if (cell->state == CH_PENDING) cell->state = CH_OK;
        if (ch_cancelled(c)) {
            /* a peer killed by the same Ctrl-C did not fail; a lucid cell stopped early keeps
             * what it measured and says so */
            c->interrupted = true;
            char was[sizeof cell->reason];
            snprintf(was, sizeof was, "%s", cell->reason);
            if (cell->state == CH_FAILED) cell->state = CH_SKIPPED;
            snprintf(cell->reason, sizeof cell->reason, "interrupted during this cell%s%s",
                     was[0] ? ": " : " (measured partially)", was);
        }
        cell->seconds = lucid_time_now() - t;
        c->seconds = lucid_time_now() - c->t0;
        utc_now(c->finished, sizeof c->finished);
        ch_env_load(c->load_after);
        if ((st = ch_write_results(c, err))) goto fail;
    }
    /* the samples were written for the peers only */
    remove(c->samples_npy);
    remove(c->sample1_npy);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/inputs", c->out_dir);
    rmdir(dir);
    c->complete = !c->interrupted;
    c->seconds = lucid_time_now() - c->t0;
    utc_now(c->finished, sizeof c->finished);
    ch_env_load(c->load_after);
    if ((st = ch_write_results(c, err))) goto fail;
    ch_make_summary(c);
    *out = c;
    return LUCID_STATUS_OK;
fail:
    lucid_characterization_destroy(c);
    return st;
}

lucid_status lucid_characterize(const lucid_characterize_options *opts,
                                lucid_characterization_t **out, lucid_error *err)
{
    return ch_characterize_run(opts, NULL, out, err);
}

const char *lucid_characterization_summary(const lucid_characterization_t *c)
{
    return c && c->summary.data ? c->summary.data : "";
}

int lucid_characterization_interrupted(const lucid_characterization_t *c)
{
    return c ? c->interrupted : 0;
}

void lucid_characterization_destroy(lucid_characterization_t *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n_cells; i++) {
        free(c->cells[i].layers);
        free(c->cells[i].sigs);
        free(c->cells[i].out_sample);
    }
    free(c->cells);
    ch_nvml_close(c->nvml);
    free(c->samples);
    free(c->labels);
    free(c->ref_out);
    ch_buf_free(&c->summary);
    free(c);
}
