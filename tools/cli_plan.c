/* cli_plan.c - the CLI's plan pieces: telling plan files from ONNX models, loading and building
 * plans from the builder flags, and printing a plan's facts and per-layer tactic table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define CLI_PLAN_MAGIC "LUCIDPLN"
#define CLI_PLAN_MAGIC_LEN 8

int cli_plan_sniff(const char *path, int *rc)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    struct stat sb;
    /* folders and devices: the model loader says what is wrong with them */
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return 0;
    }
    unsigned char head[CLI_PLAN_MAGIC_LEN];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n == CLI_PLAN_MAGIC_LEN && memcmp(head, CLI_PLAN_MAGIC, CLI_PLAN_MAGIC_LEN) == 0) return 1;
    if (n == 0) {
        cli_fail(path, "empty file: neither a lucid plan nor an ONNX model");
        *rc = CLI_EXIT_DATA;
        return -1;
    }
    if (n < CLI_PLAN_MAGIC_LEN && memcmp(head, CLI_PLAN_MAGIC, n) == 0) {
        cli_fail(path, "truncated lucid plan (shorter than its 8-byte magic)");
        *rc = CLI_EXIT_DATA;
        return -1;
    }
    return 0;
}

int cli_plan_load(const char *path, lucid_plan_t **out)
{
    lucid_error err;
    lucid_status st = lucid_plan_load(path, out, &err);
    if (st) {
        cli_fail(path, err.message);
        /* nothing the user passed is wrong but the file, so no usage code */
        return st == LUCID_STATUS_INVALID_ARGUMENT ? CLI_EXIT_DATA : cli_exit_for(st);
    }
    return CLI_EXIT_OK;
}

int cli_plan_refuse_flags(const cli_args *a, int bits)
{
    for (int i = 0; i < 31; i++) {
        int bit = 1 << i;
        if (!(bits & bit & a->given)) continue;
        const char *why;
        switch (bit) {
        case CLI_F_SHAPE:
            why = "its input shapes were fixed when it was built; rebuild it from the ONNX model "
                  "with --shape";
            break;
        case CLI_F_OPT:
        case CLI_F_OPTIMIZED:
            why = "its graph was optimized when it was built; rebuild it from the ONNX model "
                  "with other passes";
            break;
        case CLI_F_BUILDER:
            why = "this builder flag was settled when the plan was built (see 'lucid info' on "
                  "the plan); rebuild it from the ONNX model";
            break;
        case CLI_F_REFERENCE:
            why = "the reference executor runs an ONNX model; give the model instead of the "
                  "plan";
            break;
        case CLI_F_NODES:
            why = "a plan's layers are always listed";
            break;
        default:
            why = "it applies to ONNX models only";
            break;
        }
        cli_failf(a->given_name[cli_bit_index(bit)], "cannot be used with a plan file (%s): %s",
                  a->model, why);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_reference_refuse_flags(const cli_args *a)
{
    if (!(a->given & CLI_F_BUILDER)) return CLI_EXIT_OK;
    cli_fail(a->given_name[cli_bit_index(CLI_F_BUILDER)],
             "is a builder flag; --reference runs the model without building a plan");
    return CLI_EXIT_USAGE;
}

/* Splits "a,b,c" (checked by the parser: no empty entries) into *copy and names. */
static int split_list(const char *text, char **copy, const char ***names, size_t *n)
{
    *copy = NULL;
    *names = NULL;
    *n = 0;
    if (!text) return CLI_EXIT_OK;
    *copy = malloc(strlen(text) + 1);
    *names = calloc(strlen(text) / 2 + 2, sizeof **names);
    if (!*copy || !*names) return CLI_EXIT_RUNTIME;
    strcpy(*copy, text);
    for (char *p = *copy;;) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        (*names)[(*n)++] = p;
        if (!comma) break;
        p = comma + 1;
    }
    return CLI_EXIT_OK;
}

int cli_plan_build(const cli_args *a, cli_session *s)
{
    lucid_build_options bo;
    lucid_build_options_default(&bo);
    char *pass_list = NULL, *incl = NULL, *excl = NULL;
    const char **pass_names = NULL, **incl_names = NULL, **excl_names = NULL;
    int rc = cli_optimize_options(a, &bo.optimize, &pass_list, &pass_names);
    if (rc) return rc;
    if (split_list(a->tactics, &incl, &incl_names, &bo.n_tactics) ||
        split_list(a->exclude_tactics, &excl, &excl_names, &bo.n_exclude_tactics)) {
        cli_fail(a->model, "out of memory");
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    bo.tactics = incl_names;
    bo.exclude_tactics = excl_names;
    bo.threads = a->threads;
    bo.deterministic = a->deterministic;
    bo.margin = a->margin;
    bo.timing_cache = a->timing_cache;
    bo.time_ms = a->tune_ms;
    bo.device = a->device;
    bo.precision = a->precision;
    bo.layer_precision = a->layer_precision;
    bo.n_layer_precision = (size_t)a->n_layer_precision;
    bo.auto_precision_threshold = a->auto_precision;
    bo.calibrator = a->calibrator;
    bo.percentile = a->percentile;
    bo.calibration_data = a->calibration_data;
    bo.calibration_count = (size_t)a->calibration_count;
    bo.calibration_cache = a->calibration_cache;
    bo.prune_sparsity = a->prune;
    bo.prune_2_4 = a->prune_2_4;
    bo.no_layout_check = a->no_layout_check;
    bo.no_tactic_check = a->no_tactic_check;
    bo.cluster_bits = a->cluster_bits;
    bo.gpu_layout = a->gpu_layout;
    s->opt_level = bo.optimize.opt_level;

    lucid_error err;
    lucid_status st = lucid_plan_build(s->model, &bo, &s->plan, &err);
    if (st) {
        /* name what the message is about: the timing cache file, a pass flag, or the model */
        size_t cl = a->timing_cache ? strlen(a->timing_cache) : 0;
        const char *subject = a->model;
        rc = cli_exit_for(st);
        if (cl && strncmp(err.message, a->timing_cache, cl) == 0 && err.message[cl] == ':') {
            subject = a->timing_cache;
        } else if (st == LUCID_STATUS_INVALID_ARGUMENT) {
            subject = bo.optimize.n_passes ? "--passes"
                      : a->n_disable       ? "--disable-pass"
                                           : a->model;
            if (subject == a->model) rc = CLI_EXIT_DATA;
        }
        cli_fail(subject, err.message);
        goto done;
    }
    lucid_plan_info info;
    lucid_plan_get_info(s->plan, &info);
    s->build_s = info.build_seconds;
done:
    free(pass_list);
    free(pass_names);
    free(incl);
    free(incl_names);
    free(excl);
    free(excl_names);
    return rc;
}

/* ---- reporting ------------------------------------------------------------------------ */

/* The chosen tactic's median among the layer's candidates (< 0 when not measured). */
static double chosen_ms(const lucid_plan_t *plan, size_t i, const lucid_layer_info *li)
{
    for (size_t k = 0; k < li->num_candidates; k++) {
        lucid_candidate_info c;
        if (!lucid_plan_candidate(plan, i, k, &c) && strcmp(c.tactic, li->tactic) == 0)
            return c.median_ms;
    }
    return -1;
}

void cli_plan_print_layers(const lucid_plan_t *plan)
{
    lucid_plan_info info;
    lucid_plan_get_info(plan, &info);
    printf("\nlayers: [index] name (op), the tactic chosen with its median and why; then every "
           "candidate\n(* chosen) with its median ms, or why it was not timed\n");
    for (size_t i = 0; i < info.num_layers; i++) {
        lucid_layer_info li;
        if (lucid_plan_layer(plan, i, &li)) continue;
        printf("  [%zu] %s (%s, %s)\n", i, li.name && li.name[0] ? li.name : "-", li.op_type,
               li.precision);
        double ms = li.runs ? chosen_ms(plan, i, &li) : -1;
        if (!li.runs)
            printf("      does not run: %s\n", li.reason);
        else if (ms >= 0)
            printf("      tactic %s, %.4f ms: %s\n", li.tactic, ms, li.reason);
        else
            printf("      tactic %s: %s\n", li.tactic, li.reason);
        /* tactics for other ops say nothing: one line counts them, --json names them */
        size_t silent = 0;
        for (size_t k = 0; k < li.num_candidates; k++) {
            lucid_candidate_info c;
            if (lucid_plan_candidate(plan, i, k, &c)) continue;
            if (!c.supported && !c.why[0]) {
                silent++;
                continue;
            }
            bool chosen = li.runs && strcmp(c.tactic, li.tactic) == 0;
            printf("       %s %-40s ", chosen ? "*" : " ", c.tactic);
            if (c.median_ms >= 0)
                printf("%10.4f ms%s\n", c.median_ms, c.timed ? "" : " (timing cache)");
            else if (c.supported)
                printf("%13s  %s\n", "-", c.why[0] ? c.why : "not timed: nothing to choose from");
            else
                printf("%13s  %s\n", "-", c.why);
        }
        if (silent)
            printf("         + %zu tactic%s for other ops or forms (listed by --json)\n", silent,
                   silent == 1 ? "" : "s");
    }
}

cJSON *cli_plan_layers_json(const lucid_plan_t *plan)
{
    lucid_plan_info info;
    lucid_plan_get_info(plan, &info);
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < info.num_layers; i++) {
        lucid_layer_info li;
        if (lucid_plan_layer(plan, i, &li)) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", (double)i);
        cJSON_AddStringToObject(o, "name", li.name ? li.name : "");
        cJSON_AddStringToObject(o, "op", li.op_type);
        cJSON_AddBoolToObject(o, "runs", li.runs);
        cJSON_AddStringToObject(o, "precision", li.precision);
        if (li.runs)
            cJSON_AddStringToObject(o, "tactic", li.tactic);
        else
            cJSON_AddNullToObject(o, "tactic");
        double ms = li.runs ? chosen_ms(plan, i, &li) : -1;
        if (ms >= 0)
            cJSON_AddNumberToObject(o, "median_ms", ms);
        else
            cJSON_AddNullToObject(o, "median_ms");
        cJSON_AddStringToObject(o, "reason", li.reason);
        cJSON *cands = cJSON_AddArrayToObject(o, "candidates");
        for (size_t k = 0; k < li.num_candidates; k++) {
            lucid_candidate_info c;
            if (lucid_plan_candidate(plan, i, k, &c)) continue;
            cJSON *cj = cJSON_CreateObject();
            cJSON_AddStringToObject(cj, "tactic", c.tactic);
            cJSON_AddBoolToObject(cj, "chosen", li.runs && strcmp(c.tactic, li.tactic) == 0);
            cJSON_AddBoolToObject(cj, "supported", c.supported);
            cJSON_AddBoolToObject(cj, "timed", c.timed);
            if (c.median_ms >= 0)
                cJSON_AddNumberToObject(cj, "median_ms", c.median_ms);
            else
                cJSON_AddNullToObject(cj, "median_ms");
            if (c.why[0])
                cJSON_AddStringToObject(cj, "why", c.why);
            else
                cJSON_AddNullToObject(cj, "why");
            cJSON_AddItemToArray(cands, cj);
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* Tactic names and the layers using each, in first-use order. */
typedef struct tactic_count {
    const char *name;
    size_t count;
} tactic_count;

static tactic_count *count_tactics(const lucid_plan_t *plan, size_t *n, size_t *runs)
{
    lucid_plan_info info;
    lucid_plan_get_info(plan, &info);
    tactic_count *tc = calloc(info.num_layers + 1, sizeof *tc);
    *n = 0;
    *runs = 0;
    for (size_t i = 0; tc && i < info.num_layers; i++) {
        lucid_layer_info li;
        if (lucid_plan_layer(plan, i, &li) || !li.runs) continue;
        (*runs)++;
        size_t k = 0;
        while (k < *n && strcmp(tc[k].name, li.tactic) != 0)
            k++;
        if (k == *n) tc[(*n)++].name = li.tactic;
        tc[k].count++;
    }
    return tc;
}

cJSON *cli_plan_tactics_json(const lucid_plan_t *plan)
{
    size_t n, runs;
    tactic_count *tc = count_tactics(plan, &n, &runs);
    cJSON *o = cJSON_CreateObject();
    for (size_t k = 0; tc && o && k < n; k++)
        cJSON_AddNumberToObject(o, tc[k].name, (double)tc[k].count);
    free(tc);
    return o;
}

void cli_plan_print_tactics(const lucid_plan_t *plan, const char *label)
{
    size_t n, runs;
    tactic_count *tc = count_tactics(plan, &n, &runs);
    printf("%s", label);
    for (size_t k = 0; tc && k < n; k++)
        printf("%s%s x%zu", k ? ", " : "", tc[k].name, tc[k].count);
    printf("%s\n", n ? "" : "-");
    free(tc);
}

static double pct(size_t part, size_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

void cli_plan_print_info(const lucid_plan_t *plan, long long plan_bytes)
{
    lucid_plan_info info;
    lucid_plan_get_info(plan, &info);
    size_t n, runs;
    free(count_tactics(plan, &n, &runs));
    printf("threads:         %d\n", info.threads);
    printf("deterministic:   %s\n", info.deterministic ? "yes" : "no");
    printf("device:          %s, %s%s%s\n", lucid_device_name(info.device),
           lucid_precision_name(info.precision), info.device_model[0] ? ", " : "",
           info.device_model);
    if (info.device != LUCID_DEVICE_CPU)
        printf("GPU layout:      %s%s%s\n", info.gpu_channels_last ? "NHWC (channels-last)" : "NCHW",
               info.gpu_layout_reason && info.gpu_layout_reason[0] ? ": " : "",
               info.gpu_layout_reason ? info.gpu_layout_reason : "");
    if (info.opt_level >= 0)
        printf("opt level:       %d\n", info.opt_level);
    else
        printf("opt level:       explicit pass list\n");
    printf("built on:        %s\n",
           info.cpu_model && info.cpu_model[0] ? info.cpu_model : "unknown");
    if (info.build_seconds > 0) printf("build time:      %.3f s\n", info.build_seconds);
    printf("plan layers:     %zu (%zu run; the others are elided views or constants)\n",
           info.num_layers, runs);
    cli_plan_print_tactics(plan, "tactics:         ");
    printf("layouts:         %zu layers channels-last (NHWC), %zu in blocks of 16 channels "
           "(NCHW16C), %zu reorders inserted",
           info.nhwc_layers, info.nchw16c_layers, info.reorder_layers);
    if (info.plain_est_ms > 0)
        printf("; estimated %.4g ms against %.4g ms all plain NCHW", info.layout_est_ms,
               info.plain_est_ms);
    printf("\n");
    if (info.layout_measured_rounds) {
        static const char *const lname[3] = {"plain NCHW", "NHWC", "NCHW16C"};
        printf("layout check:    whole plans, median of %d interleaved runs:",
               info.layout_measured_rounds);
        for (int k = 0; k < 3; k++)
            if (info.layout_measured_ms[k] > 0)
                printf(" %s %.4g ms", lname[k], info.layout_measured_ms[k]);
        if (info.layout_widest_ms > 0)
            printf(", every layer that can in the searched layout %.4g ms",
                   info.layout_widest_ms);
        printf(" (the fastest kept)\n");
    }
    if (info.tactic_check_rounds)
        printf("tactic check:    %d layers tried with their runner-up tactic, %d kept; whole "
               "plan %.4g ms -> %.4g ms (median of %d interleaved runs)\n",
               info.tactic_check_tried, info.tactic_check_kept, info.tactic_check_before_ms,
               info.tactic_check_after_ms, info.tactic_check_rounds);
    printf("activations:     %zu bytes peak (arena) vs %zu bytes naive sum (%.1f%%); without "
           "the %zu bytes of graph inputs and outputs %zu vs %zu (%.1f%%)\n",
           info.arena_bytes, info.naive_bytes, pct(info.arena_bytes, info.naive_bytes),
           info.io_bytes, info.arena_bytes - info.io_bytes, info.naive_bytes - info.io_bytes,
           pct(info.arena_bytes - info.io_bytes, info.naive_bytes - info.io_bytes));
    printf("in place:        %zu layers write over their input\n", info.inplace_count);
    printf("workspace:       %zu bytes\n", info.workspace_bytes);
    printf("weights:         %zu bytes\n", info.weight_bytes);
    if (plan_bytes >= 0) printf("plan size:       %lld bytes\n", plan_bytes);
    if (info.reduced_layers || info.reformat_layers || lucid_plan_num_precision_records(plan))
        printf("precision:       %zu layers in reduced precision, %zu conversions\n",
               info.reduced_layers, info.reformat_layers);
    if (info.calibration && info.calibration[0])
        printf("calibration:     %s\n", info.calibration);
    size_t nrec = lucid_plan_num_precision_records(plan);
    if (nrec) {
        printf("\nprecision: each layer that could take %s, what it got%s\n",
               lucid_precision_name(info.precision),
               info.error_samples ? " and its output error vs fp32 on the calibration set "
                                    "(relative L2: total, and added by the layer)"
                                  : "");
        for (size_t i = 0; i < nrec; i++) {
            lucid_precision_record_info r;
            if (lucid_plan_precision_record(plan, i, &r)) continue;
            printf("  %-40s %-18s %-5s", r.name, r.op_type, lucid_precision_name(r.precision));
            if (r.error >= 0) printf("  error %.3g (adds %.3g)", r.error, r.added_error);
            if (r.why[0]) printf("  %s", r.why);
            printf("\n");
        }
    }
    size_t ncomp = lucid_plan_num_compressed(plan);
    if (ncomp) {
        size_t before = 0, after = 0;
        printf("\ncompression: per layer, zeros and shared values, bytes dense -> compressed "
               "(no sparse or clustered kernel runs them: size only, no speedup)\n");
        for (size_t i = 0; i < ncomp; i++) {
            lucid_compressed_info c;
            if (lucid_plan_compressed(plan, i, &c)) continue;
            before += c.bytes_before;
            after += c.bytes_after;
            printf("  %-40s %10lld weights, %5.1f%% zeros", c.layer, (long long)c.weights,
                   c.weights ? 100.0 * (double)c.zeros_after / (double)c.weights : 0.0);
            if (c.distinct_values) printf(", %d values", c.distinct_values);
            printf(", %zu -> %zu bytes%s%s\n", c.bytes_before, c.bytes_after,
                   c.note[0] ? "; " : "", c.note);
        }
        printf("  total: %zu -> %zu bytes (%.1f%%)\n", before, after, pct(after, before));
    }
}

cJSON *cli_plan_info_json(const lucid_plan_t *plan, long long plan_bytes)
{
    lucid_plan_info info;
    lucid_plan_get_info(plan, &info);
    size_t n, runs;
    free(count_tactics(plan, &n, &runs));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "threads", info.threads);
    cJSON_AddBoolToObject(o, "deterministic", info.deterministic);
    cJSON_AddStringToObject(o, "device", lucid_device_name(info.device));
    cJSON_AddStringToObject(o, "precision", lucid_precision_name(info.precision));
    cJSON_AddStringToObject(o, "device_model", info.device_model ? info.device_model : "");
    if (info.device != LUCID_DEVICE_CPU) {
        cJSON_AddStringToObject(o, "gpu_layout", info.gpu_channels_last ? "nhwc" : "nchw");
        cJSON_AddStringToObject(o, "gpu_layout_reason",
                                info.gpu_layout_reason ? info.gpu_layout_reason : "");
    }
    if (info.opt_level >= 0)
        cJSON_AddNumberToObject(o, "opt_level", info.opt_level);
    else
        cJSON_AddNullToObject(o, "opt_level");
    cJSON_AddStringToObject(o, "cpu", info.cpu_model ? info.cpu_model : "");
    if (info.build_seconds > 0)
        cJSON_AddNumberToObject(o, "build_s", info.build_seconds);
    else
        cJSON_AddNullToObject(o, "build_s");
    cJSON_AddNumberToObject(o, "layers", (double)info.num_layers);
    cJSON_AddNumberToObject(o, "layers_run", (double)runs);
    cJSON_AddNumberToObject(o, "arena_bytes", (double)info.arena_bytes);
    cJSON_AddNumberToObject(o, "naive_bytes", (double)info.naive_bytes);
    cJSON_AddNumberToObject(o, "io_bytes", (double)info.io_bytes);
    cJSON_AddNumberToObject(o, "inplace_count", (double)info.inplace_count);
    cJSON_AddNumberToObject(o, "nhwc_layers", (double)info.nhwc_layers);
    cJSON_AddNumberToObject(o, "nchw16c_layers", (double)info.nchw16c_layers);
    if (info.layout_measured_rounds) {
        cJSON *lc = cJSON_AddObjectToObject(o, "layout_check");
        static const char *const key[3] = {"plain_ms", "nhwc_ms", "nchw16c_ms"};
        for (int k = 0; k < 3; k++)
            if (info.layout_measured_ms[k] > 0)
                cJSON_AddNumberToObject(lc, key[k], info.layout_measured_ms[k]);
        if (info.layout_widest_ms > 0)
            cJSON_AddNumberToObject(lc, "widest_ms", info.layout_widest_ms);
        cJSON_AddNumberToObject(lc, "rounds", info.layout_measured_rounds);
    } else {
        cJSON_AddNullToObject(o, "layout_check");
    }
    if (info.tactic_check_rounds) {
        cJSON *tc = cJSON_AddObjectToObject(o, "tactic_check");
        cJSON_AddNumberToObject(tc, "tried", info.tactic_check_tried);
        cJSON_AddNumberToObject(tc, "kept", info.tactic_check_kept);
        cJSON_AddNumberToObject(tc, "before_ms", info.tactic_check_before_ms);
        cJSON_AddNumberToObject(tc, "after_ms", info.tactic_check_after_ms);
        cJSON_AddNumberToObject(tc, "rounds", info.tactic_check_rounds);
    } else {
        cJSON_AddNullToObject(o, "tactic_check");
    }
    cJSON_AddNumberToObject(o, "reorder_layers", (double)info.reorder_layers);
    if (info.plain_est_ms > 0) {
        cJSON_AddNumberToObject(o, "layout_est_ms", info.layout_est_ms);
        cJSON_AddNumberToObject(o, "plain_est_ms", info.plain_est_ms);
    } else {
        cJSON_AddNullToObject(o, "layout_est_ms");
        cJSON_AddNullToObject(o, "plain_est_ms");
    }
    cJSON_AddNumberToObject(o, "workspace_bytes", (double)info.workspace_bytes);
    cJSON_AddNumberToObject(o, "weight_bytes", (double)info.weight_bytes);
    if (plan_bytes >= 0)
        cJSON_AddNumberToObject(o, "plan_bytes", (double)plan_bytes);
    else
        cJSON_AddNullToObject(o, "plan_bytes");
    cJSON_AddNumberToObject(o, "reduced_layers", (double)info.reduced_layers);
    cJSON_AddNumberToObject(o, "reformat_layers", (double)info.reformat_layers);
    cJSON_AddStringToObject(o, "calibration", info.calibration ? info.calibration : "");
    cJSON_AddNumberToObject(o, "calibration_samples", (double)info.calibration_samples);
    cJSON_AddNumberToObject(o, "error_samples", (double)info.error_samples);
    cJSON *prec = cJSON_AddArrayToObject(o, "precision_layers");
    for (size_t i = 0; i < lucid_plan_num_precision_records(plan); i++) {
        lucid_precision_record_info r;
        if (lucid_plan_precision_record(plan, i, &r)) continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", r.name);
        cJSON_AddStringToObject(e, "op", r.op_type);
        cJSON_AddStringToObject(e, "precision", lucid_precision_name(r.precision));
        if (r.error >= 0) {
            cJSON_AddNumberToObject(e, "error", r.error);
            cJSON_AddNumberToObject(e, "added_error", r.added_error);
        } else {
            cJSON_AddNullToObject(e, "error");
            cJSON_AddNullToObject(e, "added_error");
        }
        cJSON_AddStringToObject(e, "why", r.why);
        cJSON_AddItemToArray(prec, e);
    }
    cJSON *comp = cJSON_AddArrayToObject(o, "compressed_layers");
    for (size_t i = 0; i < lucid_plan_num_compressed(plan); i++) {
        lucid_compressed_info c;
        if (lucid_plan_compressed(plan, i, &c)) continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", c.layer);
        cJSON_AddNumberToObject(e, "weights", (double)c.weights);
        cJSON_AddNumberToObject(e, "zeros_before", (double)c.zeros_before);
        cJSON_AddNumberToObject(e, "zeros_after", (double)c.zeros_after);
        cJSON_AddNumberToObject(e, "distinct_values", c.distinct_values);
        cJSON_AddNumberToObject(e, "bytes_before", (double)c.bytes_before);
        cJSON_AddNumberToObject(e, "bytes_after", (double)c.bytes_after);
        cJSON_AddStringToObject(e, "note", c.note);
        cJSON_AddItemToArray(comp, e);
    }
    return o;
}
