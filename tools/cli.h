/* cli.h - shared pieces of the lucid command-line tool: arguments, exit codes, model setup. */
#ifndef LUCID_TOOLS_CLI_H
#define LUCID_TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "lucid.h"

/* Exit codes, documented in `lucid --help` and docs/cli.md. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 1,   /* bad or unknown flag, missing or malformed value, unknown command */
    CLI_EXIT_DATA = 2,    /* invalid or unsupported model or input data */
    CLI_EXIT_IO = 3,      /* a file could not be opened, read or written */
    CLI_EXIT_RUNTIME = 4, /* out of memory, a failed run, an internal error */
};

/* Which flags a command accepts. */
enum {
    CLI_F_SHAPE = 1 << 0,
    CLI_F_INPUT = 1 << 1,
    CLI_F_OUTPUT_DIR = 1 << 2,
    CLI_F_SEED = 1 << 3,
    CLI_F_JSON = 1 << 4,
    CLI_F_NODES = 1 << 5,
    CLI_F_WARMUP = 1 << 6,
    CLI_F_ITERATIONS = 1 << 7,
    CLI_F_DURATION = 1 << 8,
    CLI_F_THREADS = 1 << 9,
    CLI_F_DATASET = 1 << 10,
    CLI_F_LIMIT = 1 << 11,
    CLI_F_SAVE_LOGITS = 1 << 12,
    CLI_F_OPT = 1 << 13,         /* --opt-level, --disable-pass, --passes */
    CLI_F_OPTIMIZED = 1 << 14,   /* --optimized (info) */
    CLI_F_REPORT = 1 << 15,      /* --report (build) */
    CLI_F_EXPORT_ONNX = 1 << 16, /* --export-onnx FILE (build) */
    CLI_F_BUILDER = 1 << 17,     /* --deterministic, --margin, --timing-cache, --tactics,
                                    --exclude-tactics, --tune-ms */
    CLI_F_PLAN_OUT = 1 << 18,    /* -o FILE.plan (build) */
    CLI_F_REFERENCE = 1 << 19,   /* --reference (run, bench, eval) */
    CLI_F_PROFILE = 1 << 20,     /* --profile (bench) */
    CLI_F_CUDA_GRAPH = 1 << 21,  /* --no-cuda-graph (run, bench, eval) */
};

/* Flags that describe how to make an engine from an ONNX model: meaningless for a plan file,
 * which already is one. (--threads stays: with a plan it is the thread count to run with, at
 * most the plan's, as lucid_context_create_plan allows.) */
#define CLI_F_PLAN_REFUSED                                                                     \
    (CLI_F_SHAPE | CLI_F_OPT | CLI_F_OPTIMIZED | CLI_F_BUILDER | CLI_F_REFERENCE |            \
     CLI_F_NODES | CLI_F_EXPORT_ONNX | CLI_F_PLAN_OUT)

typedef struct cli_args {
    const char *command;
    const char *model;
    bool json, nodes, help;
    const char **shapes; /* raw NAME=DIMS values, in order */
    int n_shapes;
    const char **inputs; /* raw NAME=FILE values, in order */
    int n_inputs;
    const char *output_dir;
    uint64_t seed;
    double warmup_ms;
    int64_t iterations;
    double duration_s;
    int threads;
    bool threads_given;
    const char *dataset;     /* --dataset SPEC (eval) */
    int64_t limit;           /* --limit N, 0 when not given */
    const char *save_logits; /* --save-logits FILE.npy */
    int opt_level;           /* --opt-level N, when opt_level_given */
    bool opt_level_given;
    const char **disable;    /* --disable-pass NAME values, in order */
    int n_disable;
    const char *passes;      /* --passes a,b,c (raw) */
    bool optimized, report;  /* --optimized, --report */
    const char *export_onnx; /* --export-onnx FILE */
    bool defer_optimize;     /* set by a command that calls cli_session_optimize itself */
    /* builder flags (lucid_build_options) */
    bool deterministic;      /* --deterministic */
    double margin;           /* --margin F, 0 when not given (the library's 0.05) */
    const char *timing_cache; /* --timing-cache FILE */
    const char *tactics;     /* --tactics a,b (raw) */
    const char *exclude_tactics; /* --exclude-tactics a,b (raw) */
    double tune_ms;          /* --tune-ms MS, 0 when not given (the library's 20) */
    const char *plan_out;    /* -o FILE.plan (build) */
    lucid_device device;     /* --device cpu|cuda (builder flag) */
    lucid_precision precision; /* --precision fp32|tf32|fp16|bf16|int8 (builder flag) */
    /* reduced precision and compression (builder flags) */
    const char **layer_precision; /* --layer-precision NAME=P values, in order */
    int n_layer_precision;
    double auto_precision;   /* --auto-precision THRESHOLD, 0 when not given */
    lucid_calibrator calibrator; /* --calibrator entropy|minmax|percentile */
    double percentile;       /* --percentile P, 0 when not given (99.99) */
    const char *calibration_data;  /* --calibration-data SPEC */
    int64_t calibration_count;     /* --calibration-count N, 0 when not given (500) */
    const char *calibration_cache; /* --calibration-cache FILE */
    double prune;            /* --prune FRACTION */
    bool prune_2_4;          /* --prune-2-4 */
    bool no_layout_check;    /* --no-layout-check */
    bool no_tactic_check;    /* --no-tactic-check */
    int cluster_bits;        /* --cluster-bits B */
    lucid_gpu_layout gpu_layout; /* --gpu-layout auto|nchw|nhwc (builder flag) */
    bool no_cuda_graph;      /* --no-cuda-graph: GPU runs launch layer by layer */
    bool reference;          /* --reference: the reference executor, no plan */
    bool profile;            /* --profile: a separate per-layer profiling run (bench) */
    int given;               /* CLI_F_* bits of the flags given */
    const char *given_name[32]; /* per bit, the first flag given with it (for messages) */
} cli_args;

/* Parses argv[first..argc) for a command accepting `flags`. Prints one error line and returns
 * CLI_EXIT_USAGE on a bad command line, else CLI_EXIT_OK (a->help set for --help). */
int cli_args_parse(int argc, char **argv, int first, int flags, cli_args *a);
void cli_args_free(cli_args *a);
/* The index of a CLI_F_* bit, for cli_args.given_name. */
int cli_bit_index(int bit);

/* Prints "lucid: <subject>: <message>" as one line, without repeating the subject when the
 * message already starts with it (library messages often name the file themselves). */
void cli_fail(const char *subject, const char *message);
void cli_failf(const char *subject, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The exit code for a library status outside of a run. */
int cli_exit_for(lucid_status st);

/* One graph input as the CLI prepares it. */
typedef struct cli_input {
    char name[LUCID_MAX_NAME];
    lucid_dtype dtype;
    int declared_rank;                           /* as in the file, -1 if unknown */
    int64_t declared_dims[LUCID_MAX_RANK];       /* -1 where symbolic or unknown */
    char declared_params[LUCID_MAX_RANK][64];    /* symbolic names, "" if none */
    const char *file;                            /* the --input file, or NULL for random data */
    lucid_array data;                            /* owned: loaded or generated values */
} cli_input;

typedef struct cli_output_decl {
    int rank;
    int64_t dims[LUCID_MAX_RANK];
    char params[LUCID_MAX_RANK][64];
} cli_output_decl;

typedef struct cli_session {
    lucid_model_t *model;
    cli_input *inputs;
    size_t n_inputs;
    cli_output_decl *outputs; /* declared output shapes, before any shape was fixed */
    size_t n_outputs;
    int opt_level;               /* the level the model was optimized at (0: as loaded) */
    lucid_opt_report_t *report;  /* the optimizer's log, or NULL when no pass ran */
    /* The engine: a plan loaded from MODEL (is_plan_file) or built from the ONNX model, or
     * NULL for the reference executor. A loaded plan has no `model`: its own (optimized)
     * model, lucid_plan_model(plan), describes the inputs and outputs. */
    lucid_plan_t *plan;
    bool is_plan_file;
    double build_s;              /* wall time of the build, < 0 when no plan was built */
} cli_session;

/* The threads a context of the session runs on: see cli_engine_context; 1 for the reference
 * executor, which runs on one thread whatever is requested. */
int cli_session_threads(const cli_session *s, const cli_args *a);

/* The model the session's inputs and outputs belong to: the ONNX model, or a plan's. */
const lucid_model_t *cli_session_model(const cli_session *s);

/* Loads the model, applies --shape and --input, defaults the remaining symbolic dimensions to
 * 1 (with a note on stderr), optimizes the graph (unless a->defer_optimize) and, when
 * want_data is set, fills every input without a file with seeded random values. Returns an
 * exit code; on failure one error line has been printed. */
int cli_session_open(const cli_args *a, bool want_data, cli_session *s);
/* Runs the graph passes --opt-level/--disable-pass/--passes select. Without --opt-level the
 * level is 3 (run, bench, eval and build use the optimized engine, as TensorRT does), except
 * for info, which shows the model as loaded unless --optimized is given. */
int cli_session_optimize(const cli_args *a, cli_session *s);
void cli_session_close(cli_session *s);

/* Loads MODEL for run, bench and eval: a plan file (by its magic) is loaded as it is (flags
 * that shape an engine are refused), an ONNX model is prepared as by cli_session_open and
 * then built into a plan, or, with --reference, optimized for the reference executor. */
int cli_session_open_engine(const cli_args *a, bool want_data, cli_session *s);
/* The build time as a note on stderr, when a plan was built. Commands print it with their
 * results, so that a failing command still prints exactly one line on stderr. */
void cli_session_note_build(const cli_session *s);

/* Creates a context for the session's engine: a plan file on --threads (at most the plan's;
 * 0: the plan's), a plan built for this run on its own threads, or the model with the
 * reference executor (--threads as requested). */
int cli_engine_context(const cli_session *s, const cli_args *a, lucid_context_t **out);
/* The same, with every input set. */
int cli_session_context(const cli_session *s, const cli_args *a, lucid_context_t **out);

/* Shapes: "[batch, 3, 224, 224]" with symbolic names, "[]" for scalars, "unknown" rank. */
const char *cli_shape_decl_str(int rank, const int64_t *dims, char params[][64], char *buf,
                               size_t len);
/* JSON arrays of the same: integers, names as strings, null where unknown. */
cJSON *cli_shape_json(int rank, const int64_t *dims, char params[][64]);

/* 64-bit FNV-1a of a byte buffer: the digest `run` and `bench` print for outputs. */
uint64_t cli_fnv1a64(const void *data, size_t n);

/* Prints a cJSON document to stdout followed by a newline; frees it. */
int cli_json_print(cJSON *doc);

/* ---- plans (cli_plan.c) ---- */

/* 1 when the file starts with the plan magic "LUCIDPLN", 0 when it does not, -1 when it
 * cannot be read as a model at all (an error line has been printed and *rc set: an empty
 * file, a short prefix of the magic). Files that cannot be opened are left to the loaders,
 * whose messages say why. */
int cli_plan_sniff(const char *path, int *rc);
/* Loads a plan file; prints one error line and returns the exit code on failure. */
int cli_plan_load(const char *path, lucid_plan_t **out);
/* Refuses (exit 1, one line) the first flag of `a` that makes no sense with a plan file among
 * the given bits. */
int cli_plan_refuse_flags(const cli_args *a, int bits);
/* Refuses builder flags next to --reference, which builds no plan. */
int cli_reference_refuse_flags(const cli_args *a);
/* Builds a plan from the session's model with the builder flags of `a`; sets s->plan and
 * s->build_s. Prints one error line and returns the exit code on failure. */
int cli_plan_build(const cli_args *a, cli_session *s);
/* The plan's layer table (text) and as JSON: per layer name, op, tactic, its median ms,
 * reason and every candidate. */
void cli_plan_print_layers(const lucid_plan_t *plan);
cJSON *cli_plan_layers_json(const lucid_plan_t *plan);
/* The plan's facts (threads, deterministic, opt level, CPU, memory, weights) as text lines
 * and as JSON. plan_bytes < 0 when unknown (not written). */
void cli_plan_print_info(const lucid_plan_t *plan, long long plan_bytes);
cJSON *cli_plan_info_json(const lucid_plan_t *plan, long long plan_bytes);
/* {tactic name: layers using it}, and the same as one text line after `label`
 * ("a x3, b x1"). */
cJSON *cli_plan_tactics_json(const lucid_plan_t *plan);
void cli_plan_print_tactics(const lucid_plan_t *plan, const char *label);
/* Selected graph passes as lucid_optimize_options; names point into *owned (free it). */
int cli_optimize_options(const cli_args *a, lucid_optimize_options *opts, char **owned_list,
                         const char ***owned_names);

/* Help texts. */
void cli_help_main(void);
int cli_help_command(const char *command); /* CLI_EXIT_USAGE for an unknown command */

int cli_cmd_info(int argc, char **argv);
int cli_cmd_run(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);
int cli_cmd_eval(int argc, char **argv);
int cli_cmd_build(int argc, char **argv);
int cli_cmd_characterize(int argc, char **argv);

#endif
