/* characterize.h - the characterization study's internal model: configs, cells, measured
 * records, the text/JSON writers and the hooks tests use to add tactics. */
#ifndef LUCID_CHARACTERIZE_CHARACTERIZE_H
#define LUCID_CHARACTERIZE_CHARACTERIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lucid.h"
#include "tactics/tactic.h"

#define CH_SCHEMA "lucid-characterize/1"
#define CH_MAX_BATCHES 8
#define CH_HIST_BINS 40
#define CH_MAX_BUILDS 64
#define CH_MAX_RUNS 10000

/* ---- a growing text buffer (JSON, CSV, HTML, the summary) ---- */

typedef struct ch_buf {
    char *data;
    size_t len, cap;
    bool oom;
} ch_buf;

void ch_buf_free(ch_buf *b);
void ch_puts(ch_buf *b, const char *s);
void ch_printf(ch_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal (quoted, escaped); NULL writes null. */
void ch_json_str(ch_buf *b, const char *s);
/* A JSON number; NaN and infinities write null. */
void ch_json_num(ch_buf *b, double v);
/* A CSV field (quoted when it holds a comma, quote or newline). */
void ch_csv_str(ch_buf *b, const char *s);
/* Writes the buffer to path atomically (path.tmp, then rename). */
lucid_status ch_buf_write(const ch_buf *b, const char *path, lucid_error *err);

/* ---- a small JSON reader (peer drivers' documents) ---- */

typedef enum { CH_JNULL, CH_JBOOL, CH_JNUM, CH_JSTR, CH_JARR, CH_JOBJ } ch_jtype;

typedef struct ch_json {
    ch_jtype type;
    double num;            /* numbers; bools as 0/1 */
    char *str;             /* strings */
    char *key;             /* member name inside an object */
    struct ch_json *child; /* first element or member */
    struct ch_json *next;
} ch_json;

/* Parses a whole document; NULL when it is not JSON. */
ch_json *ch_json_parse(const char *text);
void ch_json_free(ch_json *j);
/* A member of an object (NULL when absent or j is not an object). */
const ch_json *ch_json_get(const ch_json *j, const char *key);
/* A member's number, or fallback when absent or not a number. */
double ch_json_number(const ch_json *j, const char *key, double fallback);
/* A member's string, or NULL. */
const char *ch_json_string(const ch_json *j, const char *key);

/* ---- statistics helpers (stats.c) ---- */

/* Counts samples into `bins` equal bins over [lo, hi] (values outside clamp to the ends). */
void ch_histogram(const double *samples, size_t n, double lo, double hi, int bins, int64_t *counts);
/* Accuracy against reference outputs over n values: max |a-r|, max |a-r|/max(|r|, eps),
 * cosine similarity (1 when both are all zero). */
void ch_compare(const float *a, const float *r, size_t n, double *max_abs, double *max_rel,
                double *cosine);
/* The share of a step in a chain, log-based for speedups: log(step)/log(total); NaN when the
 * total is within 0.1% of 1 (no speedup to share). */
double ch_speedup_share(double step, double total);

/* ---- configs ---- */

typedef enum ch_kind {
    CH_KIND_REFERENCE, /* the reference executor on the (optimized) model */
    CH_KIND_PLAN,      /* a built plan */
} ch_kind;

/* The devices a config runs on (ch_config.devices). */
#define CH_DEV_CPU 1u
#define CH_DEV_CUDA 2u

typedef struct ch_config {
    const char *name;
    const char *summary;
    const char *base; /* the config this one adds one optimization to; NULL: the baseline */
    const char *adds; /* what it adds, for the attribution table */
    ch_kind kind;
    int opt_level;
    bool deterministic;
    unsigned devices;   /* CH_DEV_* bits */
    bool no_cuda_graph; /* GPU plans: launch layer by layer instead of replaying a CUDA graph */
    const char *missing; /* NULL when lucid has it; else why not (stays listed) */
    /* Plan kinds: sets what the config changes in the build options beyond opt_level and
     * deterministic (a precision, a calibration set, a pruning target); NULL for none.
     * Returns NULL, or why the config cannot run with these options (a missing calibration
     * set). */
    const char *(*configure)(const lucid_characterize_options *co, lucid_build_options *o);
} ch_config;

size_t ch_config_count(void);
const ch_config *ch_config_at(size_t i);
/* The config named `name` that runs on `device` (CH_DEV_CPU or CH_DEV_CUDA); NULL when none. */
const ch_config *ch_config_find(const char *name, unsigned device);
/* Is `name` a config of some device? */
bool ch_config_known(const char *name);

/* ---- measured records ---- */

typedef enum ch_state {
    CH_PENDING = 0,
    CH_OK,
    CH_UNAVAILABLE, /* cannot run on this machine / not implemented: reason says why */
    CH_FAILED,      /* tried and failed: reason has the message */
    CH_SKIPPED,     /* not reached (interrupted) */
} ch_state;

const char *ch_state_name(ch_state s);

typedef struct ch_latency {
    bool ok;
    lucid_stats ms;
    int64_t iterations, warmup_iterations;
    double warmup_s, total_s, throughput;
    bool capped;
    double hist_lo, hist_hi;
    int64_t hist[CH_HIST_BINS];
    /* GPU engines (trtexec's breakdown): mean ms per run, NaN when not measured */
    bool has_gpu;
    double h2d_ms, compute_ms, d2h_ms, enqueue_ms;
} ch_latency;

typedef struct ch_accuracy {
    bool ok;
    char note[256];
    int64_t samples;
    bool labelled;
    double top1, top5; /* percent; top5 NaN for < 5 classes */
    bool vs_ref;       /* the comparison with the reference outputs below is valid */
    double agreement;  /* percent of samples whose argmax equals the reference's */
    double max_abs, max_rel, cosine;
} ch_accuracy;

typedef struct ch_layer {
    char name[LUCID_MAX_NAME];
    char op[64];
    char tactic[96];
    double mean_ms, min_ms, max_ms;
    int64_t runs;
    double macs, flops;
    double bytes; /* activations read + written + weights */
    /* GPU layers: the kernels it launched (CUPTI): "name xL (T ms per run); ..." */
    char kernels[512];
    int n_kernels;
} ch_layer;

/* One layer's output on the first sample, for comparing devices and builds: its digest and
 * two numbers that survive small arithmetic differences. */
typedef struct ch_layer_sig {
    char name[LUCID_MAX_NAME];
    uint64_t digest;
    int64_t elements;
    double l2, max_abs;
} ch_layer_sig;

/* The GPU's clock, power and energy while the latency runs were timed (NVML). */
typedef struct ch_energy {
    bool readable;
    char note[200]; /* how it was read, or why not */
    double sm_clock_mhz, power_w, joules_per_inference;
} ch_energy;

typedef struct ch_nvml ch_nvml;
/* nvml.c: NULL with why ("not readable: ...") where NVML cannot be used. */
ch_nvml *ch_nvml_open(const char *pci_bus_id, int ordinal, char *why, size_t why_len);
void ch_nvml_close(ch_nvml *n);
/* Starts the energy reading and the sampler; end stops them and fills out (per inference). */
void ch_nvml_begin(ch_nvml *n);
void ch_nvml_end(ch_nvml *n, int64_t inferences, ch_energy *out);

typedef struct ch_divergence {
    bool found;
    char layer[LUCID_MAX_NAME]; /* the first layer (execution order) whose output differs */
    char op[64];
    char tactic[96];
    size_t index; /* its position in execution order */
    size_t layers_differing;
} ch_divergence;

typedef struct ch_run_to_run {
    bool ok;
    int runs;
    int distinct_outputs;
    char first_digest[32];
    ch_divergence div;
    char note[160];
} ch_run_to_run;

typedef struct ch_build_to_build {
    bool ok;
    char note[200];
    int builds;
    int distinct_plans, distinct_tactic_sets, distinct_outputs;
    double median_min_ms, median_max_ms; /* latency spread across builds */
    double spread;                       /* (max - min) / min */
    double build_s[CH_MAX_BUILDS];
    double median_ms[CH_MAX_BUILDS];
    char plan_digest[CH_MAX_BUILDS][32];
    char output_digest[CH_MAX_BUILDS][32];
    char tactic_digest[CH_MAX_BUILDS][32];
    char differing_tactics[4096]; /* layers whose tactic differs between builds */
    int tactic_layers_differing;  /* how many (layer, build) pairs differ from build 1 */
    ch_divergence div;
} ch_build_to_build;

typedef struct ch_offline {
    int n;
    int64_t batch[CH_MAX_BATCHES];
    double samples_per_s[CH_MAX_BATCHES];
    double p90_ms[CH_MAX_BATCHES];
    char note[256];
    int best; /* index of the best batch, -1 when none */
} ch_offline;

typedef struct ch_cell {
    char engine[32];
    char config[48];
    char label[96];       /* "lucid/tuned" */
    const ch_config *cfg; /* lucid configs only */
    ch_state state;
    char reason[600];
    char note[256]; /* what the engine chose that the config name does not say */
    char engine_version[64];
    double seconds; /* wall time spent on the cell */
    /* cost (lucid) */
    bool has_cost;
    double build_s;
    int64_t plan_bytes, arena_bytes, naive_bytes, workspace_bytes, weight_bytes;
    char plan_digest[32];
    int threads;
    size_t layers_total, layers_run;
    char tactics[1024]; /* "name x3, other x1" */
    ch_latency lat;
    ch_offline off;
    ch_accuracy acc;
    ch_layer *layers;
    size_t n_layers;
    double profile_total_ms;
    int profile_runs;
    ch_run_to_run r2r;
    ch_build_to_build b2b;
    char output_digest[32];
    /* GPU cells */
    ch_energy energy;
    int64_t device_bytes; /* device memory the engine took (cudaMemGetInfo before and after) */
    char kernels_note[200]; /* why the profile has no kernel names ("" when it has) */
    /* lucid cells: per-layer outputs on sample 0, and the first output of the first samples */
    ch_layer_sig *sigs;
    size_t n_sigs;
    float *out_sample;
    size_t out_sample_n;     /* samples kept */
    size_t out_sample_count; /* values kept (samples x elements per sample) */
} ch_cell;

/* Hooks for tests: extra tactics the builds may choose (never present in normal builds) and
 * a callback that may change the options of build k (0-based) of a config. */
typedef struct ch_hooks {
    const lucid_tactic *const *extra_tactics;
    size_t n_extra_tactics;
    void (*build_options)(void *user, const char *config, int build, lucid_build_options *o);
    void *user;
} ch_hooks;

struct lucid_characterization {
    lucid_characterize_options opts;
    char model_path[1024];
    char out_dir[1024];
    char started[32], finished[32];
    double t0, seconds;
    bool interrupted, complete;
    ch_cell *cells;
    size_t n_cells;
    /* model facts */
    char input_name[LUCID_MAX_NAME];
    int input_rank;
    int64_t input_dims[LUCID_MAX_RANK];
    bool batch_symbolic;
    size_t sample_elems; /* one sample's input elements */
    size_t out_elems;    /* one sample's first-output elements */
    double macs, flops;
    int64_t param_bytes;
    size_t n_nodes;
    /* data */
    char dataset_desc[512];
    char calib_spec[1100];  /* the calibration set chosen for the int8 config */
    size_t n_samples;
    float *samples;  /* n_samples x sample_elems */
    int64_t *labels; /* n_samples, or NULL */
    float *ref_out;  /* reference outputs: n_samples x out_elems, or NULL */
    char ref_note[256];
    char samples_npy[1100]; /* all samples stacked, for peers */
    char sample1_npy[1100]; /* the first sample, for peer latency */
    /* environment */
    char cpu_model[256], cpu_flags[1024], kernel[256], compiler[128];
    char governor[64], freq_mhz[64], gpu[256];
    char dnnl_version[64], blas_version[256];
    int cores, threads;
    double load_before[3], load_after[3];
    int64_t mem_total_kb;
    /* the GPU of a --device cuda study, and the CPU's derived peaks */
    bool has_gpu_info;
    lucid_gpu_info gpu_info;
    ch_nvml *nvml;
    char nvml_why[200];
    double cpu_peak_gflops, cpu_bandwidth_gbs;
    char cpu_peak_source[256];
    ch_buf summary;
    ch_hooks hooks;
    size_t steps_done, steps_total;
    const char *peers_dir, *python, *torch_python, *chartjs;
    char peers_dir_buf[1024];
    char python_buf[1100];
};

/* Internal entry: lucid_characterize with test hooks (NULL for none). */
lucid_status ch_characterize_run(const lucid_characterize_options *opts, const ch_hooks *hooks,
                                 lucid_characterization_t **out, lucid_error *err);

/* Cell lookup by engine and config ("lucid", "tuned"); NULL when absent. */
const ch_cell *ch_find_cell(const lucid_characterization_t *c, const char *engine,
                            const char *config);

/* ---- the parts, one file each ---- */

/* env.c: CPU, kernel, compiler, clocks, GPU, library versions, load. */
void ch_env_read(lucid_characterization_t *c);
void ch_env_load(double load[3]);
/* lucid_cell.c: loads the model with its input's batch set to `batch` (symbolic dims 1). */
lucid_status ch_open_model(const lucid_characterization_t *c, int64_t batch, lucid_model_t **out,
                           lucid_error *err);
/* lucid_cell.c: measures one lucid config cell. */
lucid_status ch_lucid_cell(lucid_characterization_t *c, ch_cell *cell, lucid_error *err);
/* Ground-truth outputs of the reference executor over the samples (c->ref_out). */
void ch_reference_outputs(lucid_characterization_t *c);
/* peers.c: measures one peer engine cell through its driver. */
void ch_peer_cell(lucid_characterization_t *c, ch_cell *cell);
/* report.c: results.json, CSV tables, report.html; summary text. */
lucid_status ch_write_results(lucid_characterization_t *c, lucid_error *err);
void ch_make_summary(lucid_characterization_t *c);

/* characterize.c: progress and cancellation for the parts. */
bool ch_cancelled(const lucid_characterization_t *c);
void ch_step(lucid_characterization_t *c, const ch_cell *cell, const char *step);
/* Accuracy of outputs (n x out_elems) against labels and the reference outputs. */
void ch_accuracy_of(const lucid_characterization_t *c, const float *out, size_t n,
                    ch_accuracy *acc);

#endif
