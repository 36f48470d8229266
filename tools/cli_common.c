/* cli_common.c - the CLI's flag parsing, error lines, exit codes and model/input setup. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- error lines and exit codes ------------------------------------------------------ */

void cli_fail(const char *subject, const char *message)
{
    char line[1400];
    size_t sl = subject ? strlen(subject) : 0;
    if (!subject || (strncmp(message, subject, sl) == 0 && message[sl] == ':'))
        snprintf(line, sizeof line, "lucid: %s", message);
    else
        snprintf(line, sizeof line, "lucid: %s: %s", subject, message);
    /* one error, one line: library messages never should, but must not, break it */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    fprintf(stderr, "%s\n", line);
}

void cli_failf(const char *subject, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_fail(subject, msg);
}

int cli_exit_for(lucid_status st)
{
    switch (st) {
    case LUCID_STATUS_OK: return CLI_EXIT_OK;
    case LUCID_STATUS_INVALID_ARGUMENT: return CLI_EXIT_USAGE;
    case LUCID_STATUS_INVALID_MODEL:
    case LUCID_STATUS_UNSUPPORTED:
    case LUCID_STATUS_LIMIT_EXCEEDED: return CLI_EXIT_DATA;
    case LUCID_STATUS_IO_ERROR: return CLI_EXIT_IO;
    case LUCID_STATUS_OUT_OF_MEMORY:
    case LUCID_STATUS_INTERNAL: return CLI_EXIT_RUNTIME;
    }
    return CLI_EXIT_RUNTIME;
}

/* ---- flag values --------------------------------------------------------------------- */

static bool all_digits(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

static int parse_i64(const char *flag, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    const char *digits = s[0] == '-' ? s + 1 : s;
    if (!all_digits(digits)) {
        cli_failf(flag, "'%s' is not an integer", s);
        return CLI_EXIT_USAGE;
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < lo || v > hi) {
        cli_failf(flag, "%s is out of range (%lld to %lld)", s, (long long)lo, (long long)hi);
        return CLI_EXIT_USAGE;
    }
    *out = v;
    return CLI_EXIT_OK;
}

static int parse_u64(const char *flag, const char *s, uint64_t *out)
{
    if (!all_digits(s)) {
        cli_failf(flag, "'%s' is not a non-negative integer", s);
        return CLI_EXIT_USAGE;
    }
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno == ERANGE) {
        cli_failf(flag, "%s is out of range (0 to %llu)", s, (unsigned long long)UINT64_MAX);
        return CLI_EXIT_USAGE;
    }
    *out = v;
    return CLI_EXIT_OK;
}

static int parse_double(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = (s[0] == '-' || s[0] == '+' || s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))
                   ? strtod(s, &end)
                   : NAN;
    if (!end || end == s || *end != '\0' || !isfinite(v)) {
        cli_failf(flag, "'%s' is not a number", s);
        return CLI_EXIT_USAGE;
    }
    if (errno == ERANGE || v < lo || v > hi) {
        cli_failf(flag, "%s is out of range (%g to %g)", s, lo, hi);
        return CLI_EXIT_USAGE;
    }
    *out = v;
    return CLI_EXIT_OK;
}

/* "1x3x224x224" (or with commas); "scalar" for rank 0. */
static int parse_dims(const char *flag, const char *s, int *rank, int64_t *dims)
{
    if (strcmp(s, "scalar") == 0) {
        *rank = 0;
        return CLI_EXIT_OK;
    }
    int r = 0;
    const char *p = s;
    for (;;) {
        const char *start = p;
        int64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p++ - '0');
            if (v > LUCID_MAX_ELEMENTS) {
                cli_failf(flag, "dimension in '%s' exceeds %lld", s, (long long)LUCID_MAX_ELEMENTS);
                return CLI_EXIT_USAGE;
            }
        }
        if (p == start) {
            cli_failf(flag, "'%s' is not a shape like 1x3x224x224", s);
            return CLI_EXIT_USAGE;
        }
        if (r == LUCID_MAX_RANK) {
            cli_failf(flag, "'%s' has more than %d dimensions", s, LUCID_MAX_RANK);
            return CLI_EXIT_USAGE;
        }
        dims[r++] = v;
        if (*p == '\0') break;
        if (*p != 'x' && *p != ',') {
            cli_failf(flag, "'%s' is not a shape like 1x3x224x224", s);
            return CLI_EXIT_USAGE;
        }
        p++;
    }
    *rank = r;
    return CLI_EXIT_OK;
}

/* ---- the command line ---------------------------------------------------------------- */

typedef struct flag_def {
    const char *name;
    int bit;
    bool takes_value;
} flag_def;

static const flag_def flag_defs[] = {
    {"--shape", CLI_F_SHAPE, true},         {"--input", CLI_F_INPUT, true},
    {"--output-dir", CLI_F_OUTPUT_DIR, true}, {"--seed", CLI_F_SEED, true},
    {"--json", CLI_F_JSON, false},          {"--nodes", CLI_F_NODES, false},
    {"--warmup", CLI_F_WARMUP, true},       {"--iterations", CLI_F_ITERATIONS, true},
    {"--duration", CLI_F_DURATION, true},   {"--threads", CLI_F_THREADS, true},
    {"--dataset", CLI_F_DATASET, true},     {"--limit", CLI_F_LIMIT, true},
    {"--save-logits", CLI_F_SAVE_LOGITS, true},
    {"--opt-level", CLI_F_OPT, true},       {"--disable-pass", CLI_F_OPT, true},
    {"--passes", CLI_F_OPT, true},          {"--optimized", CLI_F_OPTIMIZED, false},
    {"--report", CLI_F_REPORT, false},      {"--export-onnx", CLI_F_EXPORT_ONNX, true},
    {"--deterministic", CLI_F_BUILDER, false}, {"--margin", CLI_F_BUILDER, true},
    {"--timing-cache", CLI_F_BUILDER, true}, {"--tactics", CLI_F_BUILDER, true},
    {"--exclude-tactics", CLI_F_BUILDER, true}, {"--tune-ms", CLI_F_BUILDER, true},
    {"-o", CLI_F_PLAN_OUT, true},           {"--reference", CLI_F_REFERENCE, false},
    {"--profile", CLI_F_PROFILE, false},
    {"--device", CLI_F_BUILDER, true},      {"--precision", CLI_F_BUILDER, true},
    {"--layer-precision", CLI_F_BUILDER, true}, {"--auto-precision", CLI_F_BUILDER, true},
    {"--calibrator", CLI_F_BUILDER, true},  {"--percentile", CLI_F_BUILDER, true},
    {"--calibration-data", CLI_F_BUILDER, true}, {"--calibration-count", CLI_F_BUILDER, true},
    {"--calibration-cache", CLI_F_BUILDER, true}, {"--prune", CLI_F_BUILDER, true},
    {"--prune-2-4", CLI_F_BUILDER, false},  {"--cluster-bits", CLI_F_BUILDER, true},
    {"--gpu-layout", CLI_F_BUILDER, true},  {"--no-layout-check", CLI_F_BUILDER, false},
    {"--no-tactic-check", CLI_F_BUILDER, false},
    {"--no-cuda-graph", CLI_F_CUDA_GRAPH, false},
};

/* A comma-separated list of tactic name prefixes: no empty entries. */
static int check_prefix_list(const char *flag, const char *val)
{
    size_t n = strlen(val);
    if (n == 0 || val[0] == ',' || val[n - 1] == ',' || strstr(val, ",,")) {
        cli_failf(flag, "'%s' is not a comma-separated list of tactic name prefixes "
                        "(like cpu.conv,dnnl)",
                  val);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_bit_index(int bit)
{
    int i = 0;
    while (i < 31 && !(bit & (1 << i))) i++;
    return i;
}

int cli_args_parse(int argc, char **argv, int first, int flags, cli_args *a)
{
    /* every flag value is one argv entry, so argc bounds both lists */
    a->shapes = calloc((size_t)argc + 1, sizeof *a->shapes);
    a->inputs = calloc((size_t)argc + 1, sizeof *a->inputs);
    a->disable = calloc((size_t)argc + 1, sizeof *a->disable);
    a->layer_precision = calloc((size_t)argc + 1, sizeof *a->layer_precision);
    if (!a->shapes || !a->inputs || !a->disable || !a->layer_precision) {
        cli_fail(a->command, "out of memory");
        return CLI_EXIT_RUNTIME;
    }
    bool only_positional = false;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (a->model) {
                cli_failf(arg, "unexpected argument: 'lucid %s' takes one MODEL (already '%s')",
                          a->command, a->model);
                return CLI_EXIT_USAGE;
            }
            a->model = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = true;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->help = true;
            continue;
        }
        /* --flag=value or --flag value */
        char name[64];
        const char *eq = strchr(arg, '=');
        size_t nl = eq ? (size_t)(eq - arg) : strlen(arg);
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, arg, nl);
        name[nl] = '\0';
        const flag_def *d = NULL;
        for (size_t k = 0; k < sizeof flag_defs / sizeof flag_defs[0]; k++)
            if (strcmp(flag_defs[k].name, name) == 0 && (flags & flag_defs[k].bit))
                d = &flag_defs[k];
        if (!d) {
            cli_failf(name, "unknown flag for 'lucid %s' (see 'lucid help %s')", a->command,
                      a->command);
            return CLI_EXIT_USAGE;
        }
        const char *val = NULL;
        if (d->takes_value) {
            if (eq) {
                val = eq + 1;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                cli_fail(d->name, "missing value");
                return CLI_EXIT_USAGE;
            }
        } else if (eq) {
            cli_fail(d->name, "takes no value");
            return CLI_EXIT_USAGE;
        }
        int rc = CLI_EXIT_OK;
        int64_t iv;
        a->given |= d->bit;
        if (!a->given_name[cli_bit_index(d->bit)]) a->given_name[cli_bit_index(d->bit)] = d->name;
        switch (d->bit) {
        case CLI_F_JSON: a->json = true; break;
        case CLI_F_NODES: a->nodes = true; break;
        case CLI_F_SEED: rc = parse_u64(d->name, val, &a->seed); break;
        case CLI_F_WARMUP: rc = parse_double(d->name, val, 0, 3.6e6, &a->warmup_ms); break;
        case CLI_F_DURATION: rc = parse_double(d->name, val, 0, 86400, &a->duration_s); break;
        case CLI_F_ITERATIONS:
            rc = parse_i64(d->name, val, 1, LUCID_BENCH_MAX_ITERATIONS, &a->iterations);
            break;
        case CLI_F_THREADS:
            rc = parse_i64(d->name, val, 0, 4096, &iv);
            a->threads = (int)iv;
            a->threads_given = true;
            break;
        case CLI_F_LIMIT: rc = parse_i64(d->name, val, 1, INT64_MAX, &a->limit); break;
        case CLI_F_DATASET:
        case CLI_F_SAVE_LOGITS:
            if (!*val) {
                cli_fail(d->name, d->bit == CLI_F_DATASET ? "empty dataset name" : "empty file name");
                rc = CLI_EXIT_USAGE;
            }
            if (d->bit == CLI_F_DATASET) a->dataset = val;
            else a->save_logits = val;
            break;
        case CLI_F_OPTIMIZED: a->optimized = true; break;
        case CLI_F_REPORT: a->report = true; break;
        case CLI_F_OPT:
            /* three flags share the bit: tell them apart by name */
            if (strcmp(d->name, "--opt-level") == 0) {
                rc = parse_i64(d->name, val, 0, 3, &iv);
                a->opt_level = (int)iv;
                a->opt_level_given = true;
            } else if (strcmp(d->name, "--disable-pass") == 0) {
                if (!*val || strchr(val, ',')) {
                    cli_failf(d->name, "'%s' is not one pass name (repeat the flag)", val);
                    rc = CLI_EXIT_USAGE;
                }
                a->disable[a->n_disable++] = val;
            } else if (!*val) {
                cli_fail(d->name, "empty pass list");
                rc = CLI_EXIT_USAGE;
            } else if (a->passes) {
                cli_fail(d->name, "given twice (list the passes once, comma-separated)");
                rc = CLI_EXIT_USAGE;
            } else {
                a->passes = val;
            }
            break;
        case CLI_F_EXPORT_ONNX:
            if (!*val) {
                cli_fail(d->name, "empty file name");
                rc = CLI_EXIT_USAGE;
            }
            a->export_onnx = val;
            break;
        case CLI_F_REFERENCE: a->reference = true; break;
        case CLI_F_PROFILE: a->profile = true; break;
        case CLI_F_CUDA_GRAPH: a->no_cuda_graph = true; break;
        case CLI_F_PLAN_OUT:
            if (!*val) {
                cli_fail(d->name, "empty file name");
                rc = CLI_EXIT_USAGE;
            }
            a->plan_out = val;
            break;
        case CLI_F_BUILDER:
            /* six flags share the bit: tell them apart by name */
            if (strcmp(d->name, "--deterministic") == 0) {
                a->deterministic = true;
            } else if (strcmp(d->name, "--device") == 0) {
                if (strcmp(val, "cpu") == 0) {
                    a->device = LUCID_DEVICE_CPU;
                } else if (strcmp(val, "cuda") == 0) {
                    a->device = LUCID_DEVICE_CUDA;
                } else {
                    cli_failf(d->name, "'%s' is not a device (cpu, cuda)", val);
                    rc = CLI_EXIT_USAGE;
                }
            } else if (strcmp(d->name, "--precision") == 0) {
                static const char *const names[] = {"fp32", "tf32", "fp16", "bf16", "int8"};
                int found = -1;
                for (int k = 0; k < 5; k++)
                    if (strcmp(val, names[k]) == 0) found = k;
                if (found < 0) {
                    cli_failf(d->name, "'%s' is not a precision (fp32, tf32, fp16, bf16, int8)",
                              val);
                    rc = CLI_EXIT_USAGE;
                }
                a->precision = found < 0 ? LUCID_PRECISION_FP32 : (lucid_precision)found;
            } else if (strcmp(d->name, "--layer-precision") == 0) {
                const char *sep = strrchr(val, '=');
                if (!sep || sep == val || !sep[1]) {
                    cli_failf(d->name, "'%s' is not NAME=PRECISION (e.g. conv1=fp32)", val);
                    rc = CLI_EXIT_USAGE;
                }
                a->layer_precision[a->n_layer_precision++] = val;
            } else if (strcmp(d->name, "--auto-precision") == 0) {
                rc = parse_double(d->name, val, 1e-9, 1e6, &a->auto_precision);
            } else if (strcmp(d->name, "--calibrator") == 0) {
                if (strcmp(val, "entropy") == 0) a->calibrator = LUCID_CALIBRATOR_ENTROPY;
                else if (strcmp(val, "minmax") == 0) a->calibrator = LUCID_CALIBRATOR_MINMAX;
                else if (strcmp(val, "percentile") == 0) a->calibrator = LUCID_CALIBRATOR_PERCENTILE;
                else {
                    cli_failf(d->name, "'%s' is not a calibrator (entropy, minmax, percentile)",
                              val);
                    rc = CLI_EXIT_USAGE;
                }
            } else if (strcmp(d->name, "--percentile") == 0) {
                rc = parse_double(d->name, val, 1e-6, 100, &a->percentile);
            } else if (strcmp(d->name, "--calibration-count") == 0) {
                rc = parse_i64(d->name, val, 1, 10000000, &a->calibration_count);
            } else if (strcmp(d->name, "--calibration-data") == 0 ||
                       strcmp(d->name, "--calibration-cache") == 0) {
                if (!*val) {
                    cli_fail(d->name, "empty name");
                    rc = CLI_EXIT_USAGE;
                }
                if (strcmp(d->name, "--calibration-data") == 0) a->calibration_data = val;
                else a->calibration_cache = val;
            } else if (strcmp(d->name, "--prune") == 0) {
                rc = parse_double(d->name, val, 0, 0.999999, &a->prune);
            } else if (strcmp(d->name, "--prune-2-4") == 0) {
                a->prune_2_4 = true;
            } else if (strcmp(d->name, "--no-layout-check") == 0) {
                a->no_layout_check = true;
            } else if (strcmp(d->name, "--no-tactic-check") == 0) {
                a->no_tactic_check = true;
            } else if (strcmp(d->name, "--cluster-bits") == 0) {
                rc = parse_i64(d->name, val, 2, 8, &iv);
                a->cluster_bits = (int)iv;
            } else if (strcmp(d->name, "--gpu-layout") == 0) {
                static const char *const names[] = {"auto", "nchw", "nhwc"};
                int found = -1;
                for (int k = 0; k < 3; k++)
                    if (strcmp(val, names[k]) == 0) found = k;
                if (found < 0) {
                    cli_failf(d->name, "'%s' is not a GPU layout (auto, nchw, nhwc)", val);
                    rc = CLI_EXIT_USAGE;
                }
                a->gpu_layout = found < 0 ? LUCID_GPU_LAYOUT_AUTO : (lucid_gpu_layout)found;
            } else if (strcmp(d->name, "--margin") == 0) {
                rc = parse_double(d->name, val, 0, 10, &a->margin);
            } else if (strcmp(d->name, "--tune-ms") == 0) {
                rc = parse_double(d->name, val, 0, 60000, &a->tune_ms);
            } else if (strcmp(d->name, "--timing-cache") == 0) {
                if (!*val) {
                    cli_fail(d->name, "empty file name");
                    rc = CLI_EXIT_USAGE;
                }
                a->timing_cache = val;
            } else {
                bool incl = strcmp(d->name, "--tactics") == 0;
                if ((incl ? a->tactics : a->exclude_tactics) != NULL) {
                    cli_fail(d->name, "given twice (list the prefixes once, comma-separated)");
                    rc = CLI_EXIT_USAGE;
                } else {
                    rc = check_prefix_list(d->name, val);
                }
                if (incl) a->tactics = val;
                else a->exclude_tactics = val;
            }
            break;
        case CLI_F_OUTPUT_DIR:
            if (!*val) {
                cli_fail(d->name, "empty directory name");
                rc = CLI_EXIT_USAGE;
            }
            a->output_dir = val;
            break;
        case CLI_F_SHAPE: {
            const char *e = strrchr(val, '=');
            int rank;
            int64_t dims[LUCID_MAX_RANK];
            if (!e || e == val) {
                cli_failf(d->name, "expected NAME=DIMS (like input=1x3x224x224), got '%s'", val);
                rc = CLI_EXIT_USAGE;
            } else {
                rc = parse_dims(d->name, e + 1, &rank, dims);
            }
            a->shapes[a->n_shapes++] = val;
            break;
        }
        case CLI_F_INPUT: {
            const char *e = strchr(val, '=');
            if (!e || e == val || e[1] == '\0') {
                cli_failf(d->name, "expected NAME=FILE.npy, got '%s'", val);
                rc = CLI_EXIT_USAGE;
            }
            a->inputs[a->n_inputs++] = val;
            break;
        }
        }
        if (rc) return rc;
    }
    if (!a->help && !a->model) {
        cli_failf(a->command, "missing MODEL (usage: lucid %s MODEL [flags]; see 'lucid help %s')",
                  a->command, a->command);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

void cli_args_free(cli_args *a)
{
    free(a->shapes);
    free(a->inputs);
    free(a->disable);
    free(a->layer_precision);
    a->shapes = a->inputs = a->disable = a->layer_precision = NULL;
}

/* ---- shapes as text and JSON --------------------------------------------------------- */

const char *cli_shape_decl_str(int rank, const int64_t *dims, char params[][64], char *buf,
                               size_t len)
{
    if (rank < 0) {
        snprintf(buf, len, "unknown");
        return buf;
    }
    size_t pos = 0;
    buf[0] = '\0';
    for (int i = 0; i <= rank && pos < len; i++) {
        const char *open = i ? ", " : "[";
        int w;
        if (i == rank)
            w = snprintf(buf + pos, len - pos, "%s]", rank ? "" : "[");
        else if (dims[i] >= 0)
            w = snprintf(buf + pos, len - pos, "%s%lld", open, (long long)dims[i]);
        else if (params && params[i][0])
            w = snprintf(buf + pos, len - pos, "%s%s", open, params[i]);
        else
            w = snprintf(buf + pos, len - pos, "%s?", open);
        if (w < 0) break;
        pos += (size_t)w;
    }
    return buf;
}

cJSON *cli_shape_json(int rank, const int64_t *dims, char params[][64])
{
    if (rank < 0) return cJSON_CreateNull();
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < rank; i++) {
        cJSON *v;
        if (dims[i] >= 0)
            v = cJSON_CreateNumber((double)dims[i]);
        else if (params && params[i][0])
            v = cJSON_CreateString(params[i]);
        else
            v = cJSON_CreateNull();
        cJSON_AddItemToArray(arr, v);
    }
    return arr;
}

int cli_json_print(cJSON *doc)
{
    char *text = doc ? cJSON_Print(doc) : NULL;
    cJSON_Delete(doc);
    if (!text) {
        cli_fail("json", "out of memory formatting the JSON document");
        return CLI_EXIT_RUNTIME;
    }
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
    return CLI_EXIT_OK;
}

/* ---- model and inputs ---------------------------------------------------------------- */

uint64_t cli_fnv1a64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv1a64_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and fully specified by its seed. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* m / 1024 for -1024 <= m < 1024 as IEEE half bits; exact, since |m| < 2^11. */
static uint16_t half_of_1024ths(int m)
{
    if (m == 0) return 0;
    uint16_t sign = m < 0 ? 0x8000 : 0;
    unsigned a = (unsigned)(m < 0 ? -m : m);
    int e = 0;
    while ((a >> (e + 1)) != 0) e++;
    unsigned mant = (a << (10 - e)) & 0x3ff;
    return (uint16_t)(sign | (unsigned)((e - 10 + 15) << 10) | mant);
}

/* Fills an input with values from splitmix64 seeded by seed ^ FNV-1a(name), so each input's
 * values depend only on the seed and its own name. Floats: uniform in [-1, 1) (float16 and
 * bfloat16 on their exactly representable grids); integers: 0..3; bool: 0 or 1. */
static bool fill_random(lucid_array *a, uint64_t seed)
{
    uint64_t st = seed ^ fnv1a64_str(a->name);
    int64_t n = lucid_array_numel(a);
    for (int64_t i = 0; i < n; i++) {
        uint64_t x = splitmix64(&st);
        switch (a->dtype) {
        case LUCID_DTYPE_FLOAT:
            ((float *)a->data)[i] = (float)(x >> 40) * (2.0f / 16777216.0f) - 1.0f;
            break;
        case LUCID_DTYPE_DOUBLE:
            ((double *)a->data)[i] = (double)(x >> 11) * (2.0 / 9007199254740992.0) - 1.0;
            break;
        case LUCID_DTYPE_FLOAT16:
            ((uint16_t *)a->data)[i] = half_of_1024ths((int)(x >> 53) - 1024);
            break;
        case LUCID_DTYPE_BFLOAT16: {
            float f = (float)((int)(x >> 56) - 128) / 128.0f; /* 8 significant bits: exact */
            uint32_t bits;
            memcpy(&bits, &f, 4);
            ((uint16_t *)a->data)[i] = (uint16_t)(bits >> 16);
            break;
        }
        case LUCID_DTYPE_BOOL: ((uint8_t *)a->data)[i] = (uint8_t)(x >> 63); break;
        case LUCID_DTYPE_INT8:
        case LUCID_DTYPE_UINT8: ((uint8_t *)a->data)[i] = (uint8_t)(x >> 62); break;
        case LUCID_DTYPE_INT16:
        case LUCID_DTYPE_UINT16: ((uint16_t *)a->data)[i] = (uint16_t)(x >> 62); break;
        case LUCID_DTYPE_INT32:
        case LUCID_DTYPE_UINT32: ((uint32_t *)a->data)[i] = (uint32_t)(x >> 62); break;
        case LUCID_DTYPE_INT64:
        case LUCID_DTYPE_UINT64: ((uint64_t *)a->data)[i] = x >> 62; break;
        default: return false;
        }
    }
    return true;
}

static void copy_decl(const lucid_tensor_desc *d, int *rank, int64_t *dims, char params[][64])
{
    *rank = d->rank;
    for (int k = 0; k < LUCID_MAX_RANK; k++) {
        dims[k] = k < d->rank ? d->dims[k] : -1;
        snprintf(params[k], 64, "%s", k < d->rank && d->dim_params[k] ? d->dim_params[k] : "");
    }
}

static cli_input *find_input(cli_session *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->n_inputs; i++)
        if (strlen(s->inputs[i].name) == len && strncmp(s->inputs[i].name, name, len) == 0)
            return &s->inputs[i];
    return NULL;
}

static int set_shape(cli_session *s, const char *subject, cli_input *in, int rank,
                     const int64_t *dims, int usage_code)
{
    if (!s->model) {
        /* a plan file's shapes were fixed when it was built */
        cli_failf(subject, "input '%s' of the plan has fixed shape; rebuild the plan for another",
                  in->name);
        return usage_code;
    }
    lucid_error err;
    lucid_status st = lucid_model_set_input_shape(s->model, in->name, rank, dims, &err);
    if (st) {
        cli_fail(subject, err.message);
        return st == LUCID_STATUS_INVALID_ARGUMENT ? usage_code : cli_exit_for(st);
    }
    return CLI_EXIT_OK;
}

static int apply_shapes(const cli_args *a, cli_session *s)
{
    for (int i = 0; i < a->n_shapes; i++) {
        const char *val = a->shapes[i];
        const char *e = strrchr(val, '=');
        cli_input *in = find_input(s, val, (size_t)(e - val));
        if (!in) {
            cli_failf("--shape", "the model has no input '%.*s'", (int)(e - val), val);
            return CLI_EXIT_USAGE;
        }
        for (int j = 0; j < i; j++) {
            const char *o = a->shapes[j], *oe = strrchr(o, '=');
            if (oe - o == e - val && strncmp(o, val, (size_t)(e - val)) == 0) {
                cli_failf("--shape", "input '%s' is given twice", in->name);
                return CLI_EXIT_USAGE;
            }
        }
        int rank;
        int64_t dims[LUCID_MAX_RANK];
        int rc = parse_dims("--shape", e + 1, &rank, dims);
        if (!rc) rc = set_shape(s, "--shape", in, rank, dims, CLI_EXIT_USAGE);
        if (rc) return rc;
    }
    return CLI_EXIT_OK;
}

static int apply_inputs(const cli_args *a, cli_session *s)
{
    for (int i = 0; i < a->n_inputs; i++) {
        const char *val = a->inputs[i];
        /* names and paths may both contain '=': take the first split naming a model input */
        cli_input *in = NULL;
        const char *e = strchr(val, '=');
        for (const char *p = e; p && !in; p = strchr(p + 1, '='))
            if ((in = find_input(s, val, (size_t)(p - val)))) e = p;
        if (!in) {
            cli_failf("--input", "the model has no input '%.*s'", (int)(e - val), val);
            return CLI_EXIT_USAGE;
        }
        if (in->file) {
            cli_failf("--input", "input '%s' is given twice", in->name);
            return CLI_EXIT_USAGE;
        }
        in->file = e + 1;
        lucid_error err;
        lucid_status st = lucid_array_load_npy(in->file, &in->data, &err);
        if (st) {
            cli_fail(in->file, err.message);
            return cli_exit_for(st);
        }
        snprintf(in->data.name, sizeof in->data.name, "%s", in->name);
        lucid_tensor_desc d;
        lucid_model_input(cli_session_model(s), (size_t)(in - s->inputs), &d);
        char want[300], got[300];
        if (in->data.dtype != d.dtype) {
            cli_failf(in->file, "input '%s' is %s in the model, but the file holds %s", in->name,
                      lucid_dtype_name(d.dtype), lucid_dtype_name(in->data.dtype));
            return CLI_EXIT_DATA;
        }
        bool fits = d.rank < 0 || d.rank == in->data.rank;
        bool all_known = d.rank >= 0;
        for (int k = 0; fits && k < d.rank; k++) {
            if (d.dims[k] < 0) all_known = false;
            else if (d.dims[k] != in->data.dims[k]) fits = false;
        }
        if (!fits) {
            char params[LUCID_MAX_RANK][64];
            int r;
            int64_t dims[LUCID_MAX_RANK];
            copy_decl(&d, &r, dims, params);
            cli_failf(in->file, "input '%s' has shape %s in the model, but the file holds %s",
                      in->name, cli_shape_decl_str(r, dims, params, want, sizeof want),
                      cli_shape_decl_str(in->data.rank, in->data.dims, NULL, got, sizeof got));
            return CLI_EXIT_DATA;
        }
        if (!all_known) {
            int rc = set_shape(s, in->file, in, in->data.rank, in->data.dims, CLI_EXIT_DATA);
            if (rc) return rc;
        }
    }
    return CLI_EXIT_OK;
}

static int apply_defaults(const cli_args *a, cli_session *s)
{
    for (size_t i = 0; i < s->n_inputs; i++) {
        cli_input *in = &s->inputs[i];
        lucid_tensor_desc d;
        lucid_model_input(cli_session_model(s), i, &d);
        if (d.rank < 0) {
            cli_failf(a->model, "input '%s' has an unknown rank; give its shape with --shape %s=DIMS",
                      in->name, in->name);
            return CLI_EXIT_DATA;
        }
        int64_t dims[LUCID_MAX_RANK];
        char names[400] = "";
        size_t pos = 0;
        bool changed = false;
        for (int k = 0; k < d.rank; k++) {
            dims[k] = d.dims[k];
            if (dims[k] >= 0) continue;
            dims[k] = 1;
            changed = true;
            int w = snprintf(names + pos, sizeof names - pos, "%s%s", pos ? ", " : "",
                             in->declared_params[k][0] ? in->declared_params[k] : "?");
            if (w > 0 && pos + (size_t)w < sizeof names) pos += (size_t)w;
        }
        if (!changed) continue;
        fprintf(stderr,
                "lucid: note: input '%s': symbolic dimension(s) %s set to 1 (choose with "
                "--shape %s=DIMS)\n",
                in->name, names, in->name);
        int rc = set_shape(s, a->model, in, d.rank, dims, CLI_EXIT_DATA);
        if (rc) return rc;
    }
    return CLI_EXIT_OK;
}

const lucid_model_t *cli_session_model(const cli_session *s)
{
    return s->model ? s->model : lucid_plan_model(s->plan);
}

/* The inputs and outputs as declared, from the session's model. */
static int session_interface(const cli_args *a, cli_session *s)
{
    const lucid_model_t *m = cli_session_model(s);
    s->n_inputs = lucid_model_num_inputs(m);
    s->n_outputs = lucid_model_num_outputs(m);
    s->inputs = calloc(s->n_inputs + 1, sizeof *s->inputs);
    s->outputs = calloc(s->n_outputs + 1, sizeof *s->outputs);
    if (!s->inputs || !s->outputs) {
        cli_fail(a->model, "out of memory");
        return CLI_EXIT_RUNTIME;
    }
    for (size_t i = 0; i < s->n_inputs; i++) {
        lucid_tensor_desc d;
        lucid_model_input(m, i, &d);
        cli_input *in = &s->inputs[i];
        snprintf(in->name, sizeof in->name, "%s", d.name);
        in->dtype = d.dtype;
        copy_decl(&d, &in->declared_rank, in->declared_dims, in->declared_params);
    }
    for (size_t i = 0; i < s->n_outputs; i++) {
        lucid_tensor_desc d;
        lucid_model_output(m, i, &d);
        copy_decl(&d, &s->outputs[i].rank, s->outputs[i].dims, s->outputs[i].params);
    }
    return CLI_EXIT_OK;
}

/* Every input without a --input file gets seeded random values. */
static int session_fill_random(const cli_args *a, cli_session *s)
{
    const lucid_model_t *m = cli_session_model(s);
    for (size_t i = 0; i < s->n_inputs; i++) {
        cli_input *in = &s->inputs[i];
        if (in->file) continue;
        lucid_tensor_desc d;
        lucid_model_input(m, i, &d);
        size_t size = lucid_dtype_size(d.dtype);
        if (size == 0) {
            cli_failf(a->model, "input '%s' has dtype %s, for which lucid cannot make data",
                      in->name, lucid_dtype_name(d.dtype));
            return CLI_EXIT_DATA;
        }
        lucid_array *x = &in->data;
        snprintf(x->name, sizeof x->name, "%s", in->name);
        x->dtype = d.dtype;
        x->rank = d.rank;
        for (int k = 0; k < d.rank; k++) x->dims[k] = d.dims[k];
        int64_t n = lucid_array_numel(x);
        if (n < 0) {
            cli_failf(a->model, "input '%s' is too large", in->name);
            return CLI_EXIT_DATA;
        }
        x->nbytes = (size_t)n * size;
        x->data = malloc(x->nbytes ? x->nbytes : 1);
        if (!x->data) {
            cli_failf(a->model, "out of memory making %zu bytes of data for input '%s'",
                      x->nbytes, in->name);
            return CLI_EXIT_RUNTIME;
        }
        if (!fill_random(x, a->seed)) {
            cli_failf(a->model, "input '%s' has dtype %s, for which lucid cannot make data",
                      in->name, lucid_dtype_name(d.dtype));
            return CLI_EXIT_DATA;
        }
    }
    return CLI_EXIT_OK;
}

int cli_session_open(const cli_args *a, bool want_data, cli_session *s)
{
    memset(s, 0, sizeof *s);
    s->build_s = -1;
    lucid_error err;
    lucid_status st = lucid_model_load(a->model, &s->model, &err);
    if (st) {
        cli_fail(a->model, err.message);
        return cli_exit_for(st) == CLI_EXIT_USAGE ? CLI_EXIT_DATA : cli_exit_for(st);
    }
    int rc = session_interface(a, s);
    if (!rc) rc = apply_shapes(a, s);
    if (!rc) rc = apply_inputs(a, s);
    if (!rc) rc = apply_defaults(a, s);
    /* after the shapes are fixed: passes fold shape arithmetic only for static shapes */
    if (!rc && !a->defer_optimize) rc = cli_session_optimize(a, s);
    if (rc || !want_data) return rc;
    return session_fill_random(a, s);
}

int cli_session_open_engine(const cli_args *a, bool want_data, cli_session *s)
{
    memset(s, 0, sizeof *s);
    s->build_s = -1;
    int rc = CLI_EXIT_OK;
    int kind = cli_plan_sniff(a->model, &rc);
    if (kind < 0) return rc;
    if (kind == 1) {
        if ((rc = cli_plan_refuse_flags(a, CLI_F_PLAN_REFUSED))) return rc;
        if ((rc = cli_plan_load(a->model, &s->plan))) return rc;
        lucid_plan_info pi;
        lucid_plan_get_info(s->plan, &pi);
        if (a->threads > pi.threads) {
            cli_failf("--threads", "%d is more than the %d threads %s was built for (rebuild "
                                   "it with --threads %d)",
                      a->threads, pi.threads, a->model, a->threads);
            return CLI_EXIT_USAGE;
        }
        s->is_plan_file = true;
        s->opt_level = -1;
        rc = session_interface(a, s);
        /* a plan's shapes are fixed: --input files must fit them, nothing is defaulted */
        if (!rc) rc = apply_inputs(a, s);
        if (!rc && want_data) rc = session_fill_random(a, s);
        return rc;
    }
    if (a->reference) {
        if ((rc = cli_reference_refuse_flags(a))) return rc;
        return cli_session_open(a, want_data, s);
    }
    /* the builder optimizes its own copy of the model, with the same pass selection */
    cli_args deferred = *a;
    deferred.defer_optimize = true;
    rc = cli_session_open(&deferred, want_data, s);
    if (!rc) rc = cli_plan_build(a, s);
    return rc;
}

void cli_session_note_build(const cli_session *s)
{
    if (s->build_s < 0) return;
    fprintf(stderr, "lucid: note: built a plan in %.3f s (keep one with 'lucid build -o "
                    "FILE.plan'; --reference runs the reference executor)\n",
            s->build_s);
}

/* Is NAME one of the passes? */
static bool pass_known(const char *name)
{
    for (size_t k = 0; k < lucid_pass_count(); k++)
        if (strcmp(lucid_pass_name(k), name) == 0) return true;
    return false;
}

int cli_optimize_options(const cli_args *a, lucid_optimize_options *opts, char **owned_list,
                         const char ***owned_names)
{
    lucid_optimize_options_default(opts);
    opts->opt_level = a->opt_level_given                 ? a->opt_level
                      : strcmp(a->command, "info") == 0 ? (a->optimized ? 3 : 0)
                                                         : 3;
    *owned_list = NULL;
    *owned_names = NULL;
    /* --passes a,b,c: split into names (the copy lives until the passes have run) */
    char *list = NULL;
    const char **names = NULL;
    size_t n_names = 0;
    if (a->passes) {
        list = malloc(strlen(a->passes) + 1);
        names = calloc(strlen(a->passes) / 2 + 2, sizeof *names);
        if (!list || !names) {
            free(list);
            free(names);
            cli_fail(a->model, "out of memory");
            return CLI_EXIT_RUNTIME;
        }
        strcpy(list, a->passes);
        for (char *p = list;;) {
            char *comma = strchr(p, ',');
            if (comma) *comma = '\0';
            if (!*p) {
                cli_failf("--passes", "'%s' has an empty pass name", a->passes);
                free(list);
                free(names);
                return CLI_EXIT_USAGE;
            }
            names[n_names++] = p;
            if (!comma) break;
            p = comma + 1;
        }
    }
    opts->passes = names;
    opts->n_passes = n_names;
    opts->disable = a->disable;
    opts->n_disable = (size_t)a->n_disable;
    *owned_list = list;
    *owned_names = names;
    return CLI_EXIT_OK;
}

int cli_session_optimize(const cli_args *a, cli_session *s)
{
    lucid_optimize_options opts;
    char *list;
    const char **names;
    int rc = cli_optimize_options(a, &opts, &list, &names);
    if (rc) return rc;
    s->opt_level = opts.opt_level;
    if (opts.opt_level > 0 || opts.n_passes > 0) {
        lucid_error err;
        lucid_status st = lucid_model_optimize(s->model, &opts, &s->report, &err);
        if (st) {
            const char *subject = st != LUCID_STATUS_INVALID_ARGUMENT ? a->model
                                  : opts.n_passes                     ? "--passes"
                                  : a->n_disable                      ? "--disable-pass"
                                                                      : "--opt-level";
            cli_fail(subject, err.message);
            rc = cli_exit_for(st);
        }
    } else if (a->n_disable) {
        /* nothing runs at level 0, but a misspelt name is still a mistake worth reporting */
        for (int i = 0; i < a->n_disable && !rc; i++) {
            if (!pass_known(a->disable[i])) {
                cli_failf("--disable-pass", "unknown pass '%s'", a->disable[i]);
                rc = CLI_EXIT_USAGE;
            }
        }
    }
    free(list);
    free(names);
    return rc;
}

void cli_session_close(cli_session *s)
{
    lucid_opt_report_destroy(s->report);
    for (size_t i = 0; s->inputs && i < s->n_inputs; i++) lucid_array_free(&s->inputs[i].data);
    free(s->inputs);
    free(s->outputs);
    lucid_plan_destroy(s->plan);
    lucid_model_destroy(s->model);
    memset(s, 0, sizeof *s);
}

int cli_engine_context(const cli_session *s, const cli_args *a, lucid_context_t **out)
{
    lucid_error err;
    lucid_status st;
    if (s->plan) {
        /* a plan built for this run took --threads as its own thread count */
        lucid_context_options opts = {.threads = s->is_plan_file ? a->threads : 0,
                                      .no_cuda_graph = a->no_cuda_graph};
        st = lucid_context_create_plan(s->plan, &opts, out, &err);
    } else {
        lucid_context_options opts = {.threads = a->threads};
        st = lucid_context_create(s->model, &opts, out, &err);
    }
    if (st) {
        cli_fail(a->model, err.message);
        return st == LUCID_STATUS_INVALID_ARGUMENT ? CLI_EXIT_DATA : cli_exit_for(st);
    }
    return CLI_EXIT_OK;
}

int cli_session_threads(const cli_session *s, const cli_args *a)
{
    if (!s->plan) return 1;
    if (s->is_plan_file && a->threads > 0) return a->threads;
    lucid_plan_info pi;
    lucid_plan_get_info(s->plan, &pi);
    return pi.threads;
}

int cli_session_context(const cli_session *s, const cli_args *a, lucid_context_t **out)
{
    int rc = cli_engine_context(s, a, out);
    if (rc) return rc;
    for (size_t i = 0; i < s->n_inputs; i++) {
        const cli_input *in = &s->inputs[i];
        const lucid_array *x = &in->data;
        lucid_status st =
            lucid_context_set_input(*out, in->name, x->dtype, x->rank, x->dims, x->data);
        if (st) {
            cli_fail(in->file ? in->file : a->model, lucid_context_error(*out));
            lucid_context_destroy(*out);
            *out = NULL;
            return st == LUCID_STATUS_INVALID_ARGUMENT ? CLI_EXIT_DATA : cli_exit_for(st);
        }
    }
    return CLI_EXIT_OK;
}
