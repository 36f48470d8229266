/* cli_bench.c - `lucid bench`: trtexec-style latency and throughput of one model. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The reference executor ignores the thread count; say so instead of implying otherwise. */
#define CLI_THREADS_USED 1

int cli_cmd_bench(int argc, char **argv)
{
    lucid_bench_options bo;
    lucid_bench_options_default(&bo);
    cli_args a = {.command = "bench",
                  .warmup_ms = bo.warmup_ms,
                  .iterations = bo.min_iterations,
                  .duration_s = bo.min_duration_s};
    cli_session s;
    memset(&s, 0, sizeof s);
    lucid_context_t *ctx = NULL;
    int rc = cli_args_parse(argc, argv, 2,
                            CLI_F_WARMUP | CLI_F_ITERATIONS | CLI_F_DURATION | CLI_F_THREADS |
                                CLI_F_SHAPE | CLI_F_SEED | CLI_F_JSON,
                            &a);
    if (rc || a.help) {
        if (!rc) rc = cli_help_command("bench");
        goto done;
    }
    if ((rc = cli_session_open(&a, true, &s))) goto done;
    if ((rc = cli_session_context(&s, &a, &ctx))) goto done;

    bo.warmup_ms = a.warmup_ms;
    bo.min_iterations = a.iterations;
    bo.min_duration_s = a.duration_s;
    lucid_bench_result r;
    lucid_status st = lucid_bench_run(ctx, &bo, NULL, 0, &r);
    if (st) {
        const char *msg = lucid_context_error(ctx);
        cli_fail(a.model, msg[0] ? msg : lucid_status_string(st));
        rc = st == LUCID_STATUS_UNSUPPORTED || st == LUCID_STATUS_INVALID_MODEL ? CLI_EXIT_DATA
                                                                                 : CLI_EXIT_RUNTIME;
        goto done;
    }
    const lucid_stats *l = &r.latency_ms;
    bool cv_warning = l->cv > 0.01;

    if (a.json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "file", a.model);
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)a.seed);
        cJSON_AddRawToObject(doc, "seed", seed);
        cJSON *ins = cJSON_AddArrayToObject(doc, "inputs");
        for (size_t i = 0; i < s.n_inputs; i++) {
            const cli_input *in = &s.inputs[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", in->name);
            cJSON_AddStringToObject(o, "dtype", lucid_dtype_name(in->data.dtype));
            cJSON_AddItemToObject(o, "shape", cli_shape_json(in->data.rank, in->data.dims, NULL));
            cJSON_AddItemToArray(ins, o);
        }
        cJSON_AddNumberToObject(doc, "threads_requested", a.threads);
        cJSON_AddNumberToObject(doc, "threads_used", CLI_THREADS_USED);
        cJSON *cfg = cJSON_AddObjectToObject(doc, "config");
        cJSON_AddNumberToObject(cfg, "warmup_ms", bo.warmup_ms);
        cJSON_AddNumberToObject(cfg, "min_iterations", (double)bo.min_iterations);
        cJSON_AddNumberToObject(cfg, "min_duration_s", bo.min_duration_s);
        cJSON *w = cJSON_AddObjectToObject(doc, "warmup");
        cJSON_AddNumberToObject(w, "iterations", (double)r.warmup_iterations);
        cJSON_AddNumberToObject(w, "seconds", r.warmup_s);
        cJSON_AddNumberToObject(doc, "iterations", (double)r.iterations);
        cJSON_AddNumberToObject(doc, "total_s", r.total_s);
        cJSON_AddNumberToObject(doc, "throughput", r.throughput);
        cJSON *lat = cJSON_AddObjectToObject(doc, "latency_ms");
        cJSON_AddNumberToObject(lat, "min", l->min);
        cJSON_AddNumberToObject(lat, "mean", l->mean);
        cJSON_AddNumberToObject(lat, "median", l->median);
        cJSON_AddNumberToObject(lat, "p90", l->p90);
        cJSON_AddNumberToObject(lat, "p95", l->p95);
        cJSON_AddNumberToObject(lat, "p99", l->p99);
        cJSON_AddNumberToObject(lat, "max", l->max);
        cJSON_AddNumberToObject(lat, "stddev", l->stddev);
        cJSON_AddNumberToObject(lat, "cv", l->cv);
        cJSON_AddBoolToObject(doc, "cv_warning", cv_warning);
        cJSON_AddBoolToObject(doc, "capped", r.capped);
        rc = cli_json_print(doc);
    } else {
        printf("model:       %s\n", a.model);
        printf("threads:     %d requested (0 = all cores); the reference executor uses %d\n",
               a.threads, CLI_THREADS_USED);
        printf("warm-up:     %lld runs in %.1f ms (asked for %.1f ms)\n",
               (long long)r.warmup_iterations, r.warmup_s * 1e3, bo.warmup_ms);
        printf("timed:       %lld runs in %.3f s (asked for at least %lld runs and %.3g s)\n",
               (long long)r.iterations, r.total_s, (long long)bo.min_iterations,
               bo.min_duration_s);
        printf("latency ms:  min %.5g  mean %.5g  median %.5g  p90 %.5g  p95 %.5g  p99 %.5g  "
               "max %.5g\n",
               l->min, l->mean, l->median, l->p90, l->p95, l->p99, l->max);
        printf("spread:      stddev %.5g ms  CV %.2f%%\n", l->stddev, l->cv * 100);
        printf("throughput:  %.2f inferences/s\n", r.throughput);
        if (cv_warning)
            printf("warning: CV %.2f%% is above 1%%: latency varied between runs; results may "
                   "not be stable (other load, frequency scaling, too few runs)\n",
                   l->cv * 100);
        if (r.capped)
            printf("note: stopped at %d runs, the benchmark's limit\n",
                   LUCID_BENCH_MAX_ITERATIONS);
    }
done:
    lucid_context_destroy(ctx);
    cli_session_close(&s);
    cli_args_free(&a);
    return rc;
}
