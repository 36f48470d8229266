/* cli_eval.c - `lucid eval`: top-1 and top-5 accuracy of a classifier over a labelled dataset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Progress lines go to a terminal only, at most this often, so a slow terminal or a log
 * never costs measurable time. */
#define EVAL_PROGRESS_INTERVAL_S 0.1

/* Score a ranks above score b (a at index ia, b at ib): higher values first, equal values by
 * lower index, and NaN below every number, so the order is total and documented. */
static bool ranks_above(float a, int64_t ia, float b, int64_t ib)
{
    bool na = isnan(a), nb = isnan(b);
    if (na != nb) return nb;
    if (!na && a != b) return a > b;
    return ia < ib;
}

/* The 0-based rank of class `label` among the scores: how many classes rank above it. */
static int64_t label_rank(const float *scores, int64_t classes, int64_t label)
{
    int64_t rank = 0;
    for (int64_t j = 0; j < classes; j++)
        if (j != label && ranks_above(scores[j], j, scores[label], label)) rank++;
    return rank;
}

/* A dataset spec's form is a usage matter (exit 1); what its files hold is data (exit 2). */
static bool dataset_spec_ok(const char *spec)
{
    if (strncmp(spec, "fashion-mnist", 13) == 0) {
        const char *rest = spec + 13;
        if (*rest == ':') {
            const char *at = strchr(rest, '@');
            size_t len = at ? (size_t)(at - rest - 1) : strlen(rest + 1);
            if (!((len == 4 && strncmp(rest + 1, "test", 4) == 0) ||
                  (len == 5 && strncmp(rest + 1, "train", 5) == 0)))
                return false;
            rest = at ? at : "";
        }
        return *rest == '\0' || (*rest == '@' && rest[1] != '\0');
    }
    if (strncmp(spec, "images:", 7) == 0) return spec[7] != '\0';
    if (strncmp(spec, "npy:", 4) == 0) return spec[4] != '\0';
    return false;
}

static int dataset_exit_for(lucid_status st)
{
    /* the spec was checked already, so an invalid argument here is about the data */
    return st == LUCID_STATUS_INVALID_ARGUMENT ? CLI_EXIT_DATA : cli_exit_for(st);
}

static void progress(size_t done, size_t total, int64_t correct, double elapsed)
{
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    fprintf(stderr, "\r\033[Keval: %zu/%zu  top-1 %.2f%%  %.1f images/s  ETA %.0f s", done, total,
            done ? 100.0 * (double)correct / (double)done : 0.0, rate, eta);
    fflush(stderr);
}

int cli_cmd_eval(int argc, char **argv)
{
    cli_args a = {.command = "eval"};
    cli_session s;
    memset(&s, 0, sizeof s);
    lucid_context_t *ctx = NULL;
    lucid_dataset_t *ds = NULL;
    float *batch_buf = NULL, *logits = NULL;
    bool logits_created = false;
    int rc = cli_args_parse(argc, argv, 2,
                            CLI_F_DATASET | CLI_F_LIMIT | CLI_F_SHAPE | CLI_F_JSON |
                                CLI_F_SAVE_LOGITS | CLI_F_THREADS | CLI_F_OPT | CLI_F_BUILDER |
                                CLI_F_REFERENCE | CLI_F_CUDA_GRAPH,
                            &a);
    if (rc || a.help) {
        if (!rc) rc = cli_help_command("eval");
        goto done;
    }
    if (!a.dataset) {
        cli_fail("--dataset", "missing: 'lucid eval' needs --dataset SPEC (see 'lucid help eval')");
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (!dataset_spec_ok(a.dataset)) {
        cli_failf("--dataset",
                  "'%s' is not a dataset (expected fashion-mnist[:test|:train][@DIR], images:DIR "
                  "or npy:FILE.npy[,LABELS.npy] or npy:DIR)",
                  a.dataset);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if ((rc = cli_session_open_engine(&a, false, &s))) goto done;
    const lucid_model_t *model = cli_session_model(&s);

    /* the model: one float32 NCHW input, a [B, classes] (or [B, classes, 1, 1]) first output */
    lucid_tensor_desc in, out;
    char shape[300];
    if (s.n_inputs != 1) {
        cli_failf(a.model, "has %zu inputs; eval feeds exactly one image input", s.n_inputs);
        rc = CLI_EXIT_DATA;
        goto done;
    }
    lucid_model_input(model, 0, &in);
    if (in.rank != 4 || in.dtype != LUCID_DTYPE_FLOAT) {
        cli_failf(a.model,
                  "input '%s' is %s %s; eval needs a 4-D float32 input (batch, channels, "
                  "height, width)",
                  in.name, lucid_dtype_name(in.dtype),
                  cli_shape_decl_str(in.rank, in.dims, NULL, shape, sizeof shape));
        rc = CLI_EXIT_DATA;
        goto done;
    }
    if (s.n_outputs < 1 || lucid_model_output(model, 0, &out) != LUCID_STATUS_OK) {
        cli_fail(a.model, "has no outputs");
        rc = CLI_EXIT_DATA;
        goto done;
    }
    int64_t batch = in.dims[0];
    bool out_ok = out.dtype == LUCID_DTYPE_FLOAT && (out.rank == 2 || out.rank == 4) &&
                  out.dims[0] == batch && out.dims[1] >= 1 &&
                  (out.rank == 2 || (out.dims[2] == 1 && out.dims[3] == 1));
    if (!out_ok) {
        cli_failf(a.model,
                  "output '%s' is %s %s; eval needs float32 [%lld, classes] or [%lld, "
                  "classes, 1, 1] scores",
                  out.name, lucid_dtype_name(out.dtype),
                  cli_shape_decl_str(out.rank, out.dims, NULL, shape, sizeof shape),
                  (long long)batch, (long long)batch);
        rc = CLI_EXIT_DATA;
        goto done;
    }
    int64_t classes = out.dims[1];
    if (batch < 1 || in.dims[1] > 4096 || in.dims[2] > 65536 || in.dims[3] > 65536 ||
        in.dims[1] < 1 || in.dims[2] < 1 || in.dims[3] < 1 || batch > 65536) {
        cli_failf(a.model, "input '%s' shape %s is not a batch of images", in.name,
                  cli_shape_decl_str(in.rank, in.dims, NULL, shape, sizeof shape));
        rc = CLI_EXIT_DATA;
        goto done;
    }

    lucid_dataset_options dopt = {
        .channels = (int)in.dims[1], .height = (int)in.dims[2], .width = (int)in.dims[3]};
    lucid_error err;
    lucid_status st = lucid_dataset_open(a.dataset, &dopt, &ds, &err);
    if (st) {
        cli_fail("--dataset", err.message);
        rc = dataset_exit_for(st);
        goto done;
    }
    if (!lucid_dataset_has_labels(ds)) {
        cli_failf("--dataset",
                  "%s: has no labels; eval needs a labelled dataset (class "
                  "sub-folders for images:, a labels .npy for npy:)",
                  a.dataset);
        rc = CLI_EXIT_DATA;
        goto done;
    }
    size_t total = lucid_dataset_size(ds);
    if (a.limit > 0 && (uint64_t)a.limit < (uint64_t)total) total = (size_t)a.limit;
    if (total == 0) {
        cli_failf("--dataset", "%s: has no samples", a.dataset);
        rc = CLI_EXIT_DATA;
        goto done;
    }

    size_t sample = (size_t)(in.dims[1] * in.dims[2] * in.dims[3]);
    if (a.save_logits && (size_t)classes > SIZE_MAX / sizeof(float) / total) {
        cli_failf(a.save_logits, "%zu x %lld logits do not fit in memory", total,
                  (long long)classes);
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    batch_buf = calloc((size_t)batch * sample, sizeof *batch_buf);
    logits = a.save_logits ? malloc(total * (size_t)classes * sizeof *logits) : NULL;
    int64_t *labels = calloc((size_t)batch, sizeof *labels);
    if (!batch_buf || !labels || (a.save_logits && !logits)) {
        free(labels);
        cli_fail(a.model, "out of memory for the batch and logits buffers");
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    /* fail on an unwritable --save-logits now, not after a long evaluation */
    if (a.save_logits) {
        FILE *f = fopen(a.save_logits, "wb");
        if (!f) {
            free(labels);
            cli_fail(a.save_logits, "cannot be created for writing");
            rc = CLI_EXIT_IO;
            goto done;
        }
        fclose(f);
        logits_created = true;
    }

    if ((rc = cli_engine_context(&s, &a, &ctx))) {
        free(labels);
        goto done;
    }

    bool show = isatty(fileno(stderr)) != 0;
    int64_t top1 = 0, top5 = 0;
    double t0 = lucid_time_now(), last = 0;
    int64_t dims[4] = {batch, in.dims[1], in.dims[2], in.dims[3]};
    for (size_t done_n = 0; done_n < total;) {
        size_t n = total - done_n < (size_t)batch ? total - done_n : (size_t)batch;
        for (size_t k = 0; k < n; k++) {
            st = lucid_dataset_load(ds, done_n + k, batch_buf + k * sample, &labels[k], &err);
            if (st) {
                if (show) fputc('\n', stderr);
                cli_fail("--dataset", err.message);
                rc = dataset_exit_for(st);
                break;
            }
            if (labels[k] < 0 || labels[k] >= classes) {
                if (show) fputc('\n', stderr);
                cli_failf("--dataset",
                          "%s: sample %zu has label %lld, but the model's output '%s' has %lld "
                          "classes",
                          a.dataset, done_n + k, (long long)labels[k], out.name,
                          (long long)classes);
                rc = CLI_EXIT_DATA;
                break;
            }
        }
        if (rc) break;
        /* padding of the last partial batch: zeros, whose scores are ignored */
        if (n < (size_t)batch)
            memset(batch_buf + n * sample, 0, ((size_t)batch - n) * sample * sizeof *batch_buf);
        lucid_array o;
        st = lucid_context_set_input(ctx, in.name, LUCID_DTYPE_FLOAT, 4, dims, batch_buf);
        if (!st) st = lucid_context_run(ctx);
        if (!st) st = lucid_context_output(ctx, 0, &o);
        if (st) {
            if (show) fputc('\n', stderr);
            const char *msg = lucid_context_error(ctx);
            cli_fail(a.model, msg[0] ? msg : lucid_status_string(st));
            rc = st == LUCID_STATUS_UNSUPPORTED || st == LUCID_STATUS_INVALID_MODEL
                     ? CLI_EXIT_DATA
                     : CLI_EXIT_RUNTIME;
            break;
        }
        const float *scores = o.data;
        for (size_t k = 0; k < n; k++) {
            const float *row = scores + k * (size_t)classes;
            int64_t r = label_rank(row, classes, labels[k]);
            top1 += r < 1;
            top5 += r < 5;
            if (logits)
                memcpy(logits + (done_n + k) * (size_t)classes, row, (size_t)classes * sizeof *row);
        }
        done_n += n;
        double now = lucid_time_now();
        if (show && (now - last >= EVAL_PROGRESS_INTERVAL_S || done_n == total)) {
            progress(done_n, total, top1, now - t0);
            last = now;
        }
    }
    free(labels);
    if (rc) goto done;
    double seconds = lucid_time_now() - t0;
    if (show) fputs("\r\033[K", stderr);

    if (logits) {
        lucid_array la = {.dtype = LUCID_DTYPE_FLOAT,
                          .rank = 2,
                          .dims = {(int64_t)total, classes},
                          .data = logits,
                          .nbytes = total * (size_t)classes * sizeof *logits};
        st = lucid_array_save_npy(a.save_logits, &la, &err);
        if (st) {
            cli_fail(a.save_logits, err.message);
            rc = cli_exit_for(st);
            goto done;
        }
        logits_created = false; /* written: keep it */
    }

    cli_session_note_build(&s);
    bool has_top5 = classes >= 5;
    double p1 = 100.0 * (double)top1 / (double)total, p5 = 100.0 * (double)top5 / (double)total;
    double rate = seconds > 0 ? (double)total / seconds : 0;
    if (a.json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "schema", "lucid-eval/1");
        cJSON_AddStringToObject(doc, "model", a.model);
        cJSON_AddStringToObject(doc, "dataset", a.dataset);
        cJSON_AddStringToObject(doc, "dataset_description", lucid_dataset_describe(ds));
        cJSON_AddStringToObject(doc, "input", in.name);
        cJSON_AddStringToObject(doc, "output", out.name);
        cJSON_AddNumberToObject(doc, "batch", (double)batch);
        cJSON_AddNumberToObject(doc, "classes", (double)classes);
        cJSON_AddNumberToObject(doc, "images", (double)total);
        cJSON_AddNumberToObject(doc, "top1", p1);
        cJSON_AddNumberToObject(doc, "top1_correct", (double)top1);
        if (has_top5) {
            cJSON_AddNumberToObject(doc, "top5", p5);
            cJSON_AddNumberToObject(doc, "top5_correct", (double)top5);
        } else {
            cJSON_AddNullToObject(doc, "top5");
            cJSON_AddNullToObject(doc, "top5_correct");
        }
        cJSON_AddNumberToObject(doc, "seconds", seconds);
        cJSON_AddNumberToObject(doc, "images_per_s", rate);
        cJSON_AddStringToObject(doc, "engine", s.plan ? "plan" : "reference");
        if (s.build_s >= 0)
            cJSON_AddNumberToObject(doc, "build_s", s.build_s);
        else
            cJSON_AddNullToObject(doc, "build_s");
        if (a.save_logits)
            cJSON_AddStringToObject(doc, "logits_file", a.save_logits);
        else
            cJSON_AddNullToObject(doc, "logits_file");
        rc = cli_json_print(doc);
    } else {
        printf("model:     %s (input '%s' %lldx%lldx%lldx%lld, output '%s', %lld classes)\n",
               a.model, in.name, (long long)batch, (long long)in.dims[1], (long long)in.dims[2],
               (long long)in.dims[3], out.name, (long long)classes);
        printf("engine:    %s\n", s.is_plan_file ? "plan (from the file)"
                                   : s.plan      ? "plan (built for this run)"
                                                 : "reference executor");
        printf("dataset:   %s\n", lucid_dataset_describe(ds));
        printf("images:    %zu\n", total);
        printf("top-1:     %.2f%% (%lld / %zu correct)\n", p1, (long long)top1, total);
        if (has_top5)
            printf("top-5:     %.2f%% (%lld / %zu correct)\n", p5, (long long)top5, total);
        else
            printf("top-5:     not applicable (%lld classes < 5)\n", (long long)classes);
        printf("time:      %.3f s (%.1f images/s)\n", seconds, rate);
        if (a.save_logits)
            printf("logits:    %s (float32 %zux%lld)\n", a.save_logits, total, (long long)classes);
    }
done:
    if (logits_created) remove(a.save_logits);
    free(batch_buf);
    free(logits);
    lucid_context_destroy(ctx);
    lucid_dataset_destroy(ds);
    cli_session_close(&s);
    cli_args_free(&a);
    return rc;
}
