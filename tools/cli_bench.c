/* cli_bench.c - `lucid bench`: trtexec-style latency and throughput of one model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* The CPU's marketing name from /proc/cpuinfo's first "model name" line, or "unknown"; peers'
 * drivers report the same field, so results from different machines are not mixed up. */
static void cpu_model_name(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t n = strcspn(v, "\r\n");
        if (n > 0) snprintf(buf, len, "%.*s", (int)n, v);
        break;
    }
    fclose(f);
}

/* One layer's profile, for sorting, with the GPU kernels it launched (CUPTI). */
typedef struct prof_row {
    lucid_layer_profile p;
    double mean_ms;
    lucid_layer_kernel *k;
    size_t n_k;
} prof_row;

static void prof_free(prof_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        free(rows[i].k);
    free(rows);
}

static int prof_cmp(const void *a, const void *b)
{
    double x = ((const prof_row *)a)->mean_ms, y = ((const prof_row *)b)->mean_ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The profiling run: every layer timed over `runs` runs. Returns the rows in execution
 * order (NULL on failure, with the message printed); *why: why GPU kernel names are missing,
 * or "". */
static prof_row *profile_layers(lucid_context_t *ctx, int64_t runs, const char *what,
                                size_t *n_rows, char *why, size_t why_len)
{
    *n_rows = 0;
    lucid_context_set_profiling(ctx, 1);
    for (int64_t i = 0; i < runs; i++) {
        lucid_status st = lucid_context_run(ctx);
        if (st) {
            const char *msg = lucid_context_error(ctx);
            cli_fail(what, msg[0] ? msg : lucid_status_string(st));
            lucid_context_set_profiling(ctx, 0);
            return NULL;
        }
    }
    size_t n = lucid_context_num_layers(ctx);
    prof_row *rows = calloc(n + 1, sizeof *rows);
    if (!rows) {
        cli_fail(what, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        lucid_context_layer_profile(ctx, i, &rows[i].p);
        rows[i].mean_ms = rows[i].p.runs ? rows[i].p.total_ms / (double)rows[i].p.runs : 0;
        size_t nk = lucid_context_layer_num_kernels(ctx, i);
        if (nk && (rows[i].k = calloc(nk, sizeof *rows[i].k)))
            for (size_t j = 0; j < nk; j++)
                if (!lucid_context_layer_kernel(ctx, i, j, &rows[i].k[rows[i].n_k])) rows[i].n_k++;
    }
    const char *w = lucid_context_kernels_unavailable(ctx);
    snprintf(why, why_len, "%s", w ? w : "");
    lucid_context_set_profiling(ctx, 0); /* clears the profile; rows hold copies */
    *n_rows = n;
    return rows;
}

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
    prof_row *prof = NULL;
    size_t n_prof = 0;
    char kernels_why[512] = "";
    int rc = cli_args_parse(argc, argv, 2,
                            CLI_F_WARMUP | CLI_F_ITERATIONS | CLI_F_DURATION | CLI_F_THREADS |
                                CLI_F_SHAPE | CLI_F_INPUT | CLI_F_SEED | CLI_F_JSON | CLI_F_OPT |
                                CLI_F_BUILDER | CLI_F_REFERENCE | CLI_F_CUDA_GRAPH | CLI_F_PROFILE,
                            &a);
    if (rc || a.help) {
        if (!rc) rc = cli_help_command("bench");
        goto done;
    }
    if ((rc = cli_session_open_engine(&a, true, &s))) goto done;
    if ((rc = cli_session_context(&s, &a, &ctx))) goto done;
    int threads_used = cli_session_threads(&s, &a);

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
    /* GPU plans: trtexec's breakdown, medians over extra runs read from CUDA events */
    lucid_device_timing dt0;
    bool gpu = lucid_context_device_timing(ctx, &dt0) == LUCID_STATUS_OK;
    double gpu_med[4] = {0, 0, 0, 0};
    int gpu_graph = 0;
    if (gpu) {
        int64_t n = r.iterations < 200 ? (r.iterations > 10 ? r.iterations : 10) : 200;
        double *v = malloc(sizeof(double) * 4 * (size_t)n);
        if (!v) {
            cli_fail(a.model, "out of memory");
            rc = CLI_EXIT_RUNTIME;
            goto done;
        }
        for (int64_t i = 0; i < n; i++) {
            lucid_device_timing dt;
            if ((st = lucid_context_run(ctx)) || (st = lucid_context_device_timing(ctx, &dt))) {
                free(v);
                cli_fail(a.model, lucid_context_error(ctx));
                rc = CLI_EXIT_RUNTIME;
                goto done;
            }
            v[i] = dt.h2d_ms;
            v[n + i] = dt.compute_ms;
            v[2 * n + i] = dt.d2h_ms;
            v[3 * n + i] = dt.enqueue_ms;
            gpu_graph = dt.cuda_graph;
        }
        for (int k = 0; k < 4; k++) {
            lucid_stats gs;
            lucid_stats_compute(v + k * n, (size_t)n, &gs);
            gpu_med[k] = gs.median;
        }
        free(v);
    }
    const lucid_stats *l = &r.latency_ms;
    bool cv_warning = l->cv > 0.01;
    /* the batch is the first input's leading dimension (1 for a scalar input) */
    int64_t batch = s.n_inputs && s.inputs[0].data.rank > 0 ? s.inputs[0].data.dims[0] : 1;
    double samples_per_s = r.throughput * (double)batch;

    double prof_total_ms = 0;
    int64_t prof_runs = r.iterations > 10 ? r.iterations : 10;
    if (a.profile) {
        if (!(prof = profile_layers(ctx, prof_runs, a.model, &n_prof, kernels_why,
                                    sizeof kernels_why))) {
            rc = CLI_EXIT_RUNTIME;
            goto done;
        }
        for (size_t i = 0; i < n_prof; i++)
            prof_total_ms += prof[i].mean_ms;
    }

    cli_session_note_build(&s);
    if (a.json) {
        char cpu[256], date[32];
        cpu_model_name(cpu, sizeof cpu);
        time_t now = time(NULL);
        struct tm tm;
        if (gmtime_r(&now, &tm))
            strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
        else
            snprintf(date, sizeof date, "unknown");
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "schema", "lucid-bench/1");
        cJSON_AddStringToObject(doc, "engine", "lucid");
        cJSON_AddStringToObject(doc, "engine_version", lucid_version());
        cJSON_AddStringToObject(doc, "config", s.plan ? "plan" : "reference");
        if (s.plan) cJSON_AddItemToObject(doc, "tactics", cli_plan_tactics_json(s.plan));
        if (s.build_s >= 0)
            cJSON_AddNumberToObject(doc, "build_s", s.build_s);
        else
            cJSON_AddNullToObject(doc, "build_s");
        lucid_plan_info pinfo = {0};
        if (s.plan) lucid_plan_get_info(s.plan, &pinfo);
        const bool on_gpu = s.plan && pinfo.device != LUCID_DEVICE_CPU;
        cJSON_AddStringToObject(doc, "device", on_gpu ? lucid_device_name(pinfo.device) : "cpu");
        cJSON_AddStringToObject(doc, "device_name",
                                on_gpu && pinfo.device_model ? pinfo.device_model : cpu);
        if (s.plan)
            cJSON_AddStringToObject(doc, "precision", lucid_precision_name(pinfo.precision));
        cJSON_AddStringToObject(doc, "model", a.model);
        cJSON_AddStringToObject(doc, "file", a.model);
        cJSON_AddNumberToObject(doc, "batch", (double)batch);
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
            if (in->file)
                cJSON_AddStringToObject(o, "source", in->file);
            else
                cJSON_AddStringToObject(o, "source", "random");
            cJSON_AddItemToArray(ins, o);
        }
        cJSON_AddNumberToObject(doc, "threads_requested", a.threads);
        cJSON_AddNumberToObject(doc, "threads_used", threads_used);
        cJSON *cfg = cJSON_AddObjectToObject(doc, "settings");
        cJSON_AddNumberToObject(cfg, "warmup_ms", bo.warmup_ms);
        cJSON_AddNumberToObject(cfg, "min_iterations", (double)bo.min_iterations);
        cJSON_AddNumberToObject(cfg, "min_duration_s", bo.min_duration_s);
        cJSON *w = cJSON_AddObjectToObject(doc, "warmup");
        cJSON_AddNumberToObject(w, "iterations", (double)r.warmup_iterations);
        cJSON_AddNumberToObject(w, "seconds", r.warmup_s);
        cJSON_AddNumberToObject(doc, "iterations", (double)r.iterations);
        cJSON_AddNumberToObject(doc, "total_s", r.total_s);
        cJSON_AddNumberToObject(doc, "throughput", r.throughput);
        cJSON_AddNumberToObject(doc, "samples_per_s", samples_per_s);
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
        if (gpu) {
            cJSON *gd = cJSON_AddObjectToObject(doc, "gpu_median_ms");
            cJSON_AddNumberToObject(gd, "h2d", gpu_med[0]);
            cJSON_AddNumberToObject(gd, "compute", gpu_med[1]);
            cJSON_AddNumberToObject(gd, "d2h", gpu_med[2]);
            cJSON_AddNumberToObject(gd, "enqueue", gpu_med[3]);
            cJSON_AddBoolToObject(gd, "cuda_graph", gpu_graph);
        }
        cJSON_AddBoolToObject(doc, "capped", r.capped);
        /* digests of the last timed run's outputs: equal digests across engines or builds mean
         * bit-identical results on the same inputs */
        cJSON *outs = cJSON_AddArrayToObject(doc, "outputs");
        for (size_t i = 0; i < lucid_context_num_outputs(ctx); i++) {
            lucid_array o;
            if (lucid_context_output(ctx, i, &o) != LUCID_STATUS_OK) continue;
            char digest[32];
            snprintf(digest, sizeof digest, "fnv1a64:%016llx",
                     (unsigned long long)cli_fnv1a64(o.data, o.nbytes));
            cJSON *oj = cJSON_CreateObject();
            cJSON_AddStringToObject(oj, "name", o.name);
            cJSON_AddStringToObject(oj, "dtype", lucid_dtype_name(o.dtype));
            cJSON_AddItemToObject(oj, "shape", cli_shape_json(o.rank, o.dims, NULL));
            cJSON_AddStringToObject(oj, "digest", digest);
            cJSON_AddItemToArray(outs, oj);
        }
        if (a.profile) {
            cJSON *pr = cJSON_AddObjectToObject(doc, "profile");
            cJSON_AddNumberToObject(pr, "runs", (double)prof_runs);
            cJSON_AddNumberToObject(pr, "sum_of_layer_means_ms", prof_total_ms);
            if (gpu && kernels_why[0])
                cJSON_AddStringToObject(pr, "kernels_unavailable", kernels_why);
            cJSON *layers = cJSON_AddArrayToObject(pr, "layers");
            for (size_t i = 0; i < n_prof; i++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "node", (double)prof[i].p.node);
                cJSON_AddStringToObject(o, "name", prof[i].p.name);
                cJSON_AddStringToObject(o, "op", prof[i].p.op_type);
                cJSON_AddStringToObject(o, "tactic", prof[i].p.tactic);
                cJSON_AddNumberToObject(o, "mean_ms", prof[i].mean_ms);
                cJSON_AddNumberToObject(o, "min_ms", prof[i].p.min_ms);
                cJSON_AddNumberToObject(o, "max_ms", prof[i].p.max_ms);
                if (gpu) { /* the kernels it launched in the traced runs (CUPTI) */
                    cJSON *ks = cJSON_AddArrayToObject(o, "kernels");
                    for (size_t j = 0; j < prof[i].n_k; j++) {
                        const lucid_layer_kernel *k = &prof[i].k[j];
                        cJSON *kj = cJSON_CreateObject();
                        cJSON_AddStringToObject(kj, "name", k->name);
                        cJSON_AddNumberToObject(kj, "runs", (double)k->runs);
                        cJSON_AddNumberToObject(kj, "launches", (double)k->launches);
                        cJSON_AddNumberToObject(kj, "total_ms", (double)k->total_ns * 1e-6);
                        cJSON_AddNumberToObject(kj, "mean_ms",
                                                (double)k->total_ns * 1e-6 / (double)k->runs);
                        cJSON_AddItemToArray(ks, kj);
                    }
                }
                cJSON_AddItemToArray(layers, o);
            }
        }
        cJSON_AddStringToObject(doc, "status", "ok");
        cJSON_AddStringToObject(doc, "date", date);
        rc = cli_json_print(doc);
    } else {
        printf("model:       %s\n", a.model);
        if (s.plan) {
            printf("engine:      plan (%s)\n", s.is_plan_file ? "from the file" : "built for this run");
            lucid_plan_info pi;
            lucid_plan_get_info(s.plan, &pi);
            printf("threads:     %d (the plan was built for %d)\n", threads_used, pi.threads);
            cli_plan_print_tactics(s.plan, "tactics:     ");
        } else {
            printf("engine:      reference executor\n");
            printf("threads:     %d requested (0 = all cores); the reference executor uses %d\n",
                   a.threads, threads_used);
        }
        printf("warm-up:     %lld runs in %.1f ms (asked for %.1f ms)\n",
               (long long)r.warmup_iterations, r.warmup_s * 1e3, bo.warmup_ms);
        printf("timed:       %lld runs in %.3f s (asked for at least %lld runs and %.3g s)\n",
               (long long)r.iterations, r.total_s, (long long)bo.min_iterations,
               bo.min_duration_s);
        printf("latency ms:  min %.5g  mean %.5g  median %.5g  p90 %.5g  p95 %.5g  p99 %.5g  "
               "max %.5g\n",
               l->min, l->mean, l->median, l->p90, l->p95, l->p99, l->max);
        printf("spread:      stddev %.5g ms  CV %.2f%%\n", l->stddev, l->cv * 100);
        if (gpu)
            printf("gpu median:  H2D %.5g ms  compute %.5g ms  D2H %.5g ms  enqueue %.5g ms "
                   "(%s)\n",
                   gpu_med[0], gpu_med[1], gpu_med[2], gpu_med[3],
                   gpu_graph ? "one CUDA graph launch" : "layer by layer");
        printf("throughput:  %.2f inferences/s (batch %lld: %.2f samples/s)\n", r.throughput,
               (long long)batch, samples_per_s);
        if (cv_warning)
            printf("warning: CV %.2f%% is above 1%%: latency varied between runs; results may "
                   "not be stable (other load, frequency scaling, too few runs)\n",
                   l->cv * 100);
        if (r.capped)
            printf("note: stopped at %d runs, the benchmark's limit\n",
                   LUCID_BENCH_MAX_ITERATIONS);
        if (a.profile) {
            printf("\nprofile:     %lld separate runs, every layer timed; sum of layer means "
                   "%.4g ms\n",
                   (long long)prof_runs, prof_total_ms);
            if (gpu && kernels_why[0])
                printf("kernel names unavailable: %s\n", kernels_why);
            else if (gpu)
                printf("under each layer, the GPU kernels it launched (CUPTI, in separate traced "
                       "runs): mean GPU ms per run, launches per run, name\n");
            printf("%10s %6s %10s %10s  %-16s %-36s %s\n", "mean ms", "%", "min ms", "max ms",
                   "op", "tactic", "layer");
            prof_row *sorted = malloc((n_prof + 1) * sizeof *sorted);
            if (sorted) {
                memcpy(sorted, prof, n_prof * sizeof *sorted);
                qsort(sorted, n_prof, sizeof *sorted, prof_cmp);
                for (size_t i = 0; i < n_prof; i++) {
                    printf("%10.4f %6.2f %10.4f %10.4f  %-16s %-36s %s\n", sorted[i].mean_ms,
                           prof_total_ms > 0 ? 100 * sorted[i].mean_ms / prof_total_ms : 0,
                           sorted[i].p.min_ms, sorted[i].p.max_ms, sorted[i].p.op_type,
                           sorted[i].p.tactic, sorted[i].p.name);
                    for (size_t j = 0; j < sorted[i].n_k; j++) {
                        const lucid_layer_kernel *k = &sorted[i].k[j];
                        printf("%10.4f %6s x%-8g %s\n",
                               (double)k->total_ns * 1e-6 / (double)k->runs, "",
                               (double)k->launches / (double)k->runs, k->name);
                    }
                }
                free(sorted);
            }
        }
    }
done:
    prof_free(prof, n_prof);
    lucid_context_destroy(ctx);
    cli_session_close(&s);
    cli_args_free(&a);
    return rc;
}
