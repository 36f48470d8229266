/* peers.c - peer engines (ONNX Runtime, OpenVINO, PyTorch, TensorRT) measured through the
 * Python drivers in bench/peers as subprocesses: latency and the Offline sweep from their
 * lucid-bench/1 documents, accuracy from the outputs outputs_driver.py saves. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "characterize/characterize.h"

/* The last non-empty line of text (without its newline) into out: what a Python that died
 * before printing its document said last, usually the exception. */
static void last_line(const char *text, size_t len, char *out, size_t out_len)
{
    size_t end = len;
    while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' '))
        end--;
    size_t start = end;
    while (start > 0 && text[start - 1] != '\n')
        start--;
    while (start < end && (text[start] == ' ' || text[start] == '\t'))
        start++;
    snprintf(out, out_len, "%.*s", (int)(end - start), text + start);
}

/* Runs argv, its stdout into *out, its stderr appended to DIR/peers.log and its last line into
 * err_line (so that a driver that fails before printing its document still says why). Returns
 * the exit status (-1 when it could not start, 128+signal when killed). */
static int run_capture(const lucid_characterization_t *c, char *const argv[], ch_buf *out,
                       char *err_line, size_t err_len)
{
    char log[1100], errpath[1100];
    err_line[0] = '\0';
    snprintf(log, sizeof log, "%s/peers.log", c->out_dir);
    snprintf(errpath, sizeof errpath, "%s/peers.stderr", c->out_dir);
    int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (logfd >= 0) {
        char line[2048];
        size_t pos = 0;
        pos += (size_t)snprintf(line, sizeof line, "$");
        for (int i = 0; argv[i] && pos < sizeof line; i++)
            pos += (size_t)snprintf(line + pos, sizeof line - pos, " %s", argv[i]);
        if (pos < sizeof line) pos += (size_t)snprintf(line + pos, sizeof line - pos, "\n");
        if (write(logfd, line, pos < sizeof line ? pos : sizeof line - 1) < 0) {
            /* the log is a convenience */
        }
    }
    /* stderr goes to a file first (a second pipe would need polling both), then to the log */
    int errfd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0666);
    int fds[2];
    if (pipe(fds) != 0) {
        if (logfd >= 0) close(logfd);
        if (errfd >= 0) close(errfd);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        if (logfd >= 0) close(logfd);
        if (errfd >= 0) close(errfd);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        if (errfd >= 0)
            dup2(errfd, 2);
        else if (logfd >= 0)
            dup2(logfd, 2);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    char buf[4096];
    ssize_t n;
    for (;;) {
        n = read(fds[0], buf, sizeof buf - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        buf[n] = '\0';
        ch_puts(out, buf);
    }
    close(fds[0]);
    int status;
    int rc = -1;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) goto done;
    rc = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
done:
    if (errfd >= 0) {
        /* the tail is enough for the reason; the log gets all of it */
        char tail[1024];
        size_t have = 0;
        if (lseek(errfd, 0, SEEK_SET) == 0) {
            while ((n = read(errfd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
                if (n < 0) continue;
                if (logfd >= 0 && write(logfd, buf, (size_t)n) < 0) {
                    /* the log is a convenience */
                }
                size_t k = (size_t)n;
                if (k >= sizeof tail) {
                    memcpy(tail, buf + k - sizeof tail, sizeof tail);
                    have = sizeof tail;
                } else {
                    size_t keep = have + k > sizeof tail ? sizeof tail - k : have;
                    memmove(tail, tail + have - keep, keep);
                    memcpy(tail + keep, buf, k);
                    have = keep + k;
                }
            }
        }
        close(errfd);
        remove(errpath);
        last_line(tail, have, err_line, err_len);
    }
    if (logfd >= 0) close(logfd);
    return rc;
}

typedef struct args {
    char *v[48];
    char store[24][1200];
    int n, ns;
} args;

static void arg(args *a, const char *s)
{
    if (a->n < 47) a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
}

static void argf(args *a, const char *fmt, double v)
{
    if (a->ns >= 24) return;
    snprintf(a->store[a->ns], sizeof a->store[0], fmt, v);
    arg(a, a->store[a->ns++]);
}

static void args_str(args *a, const char *fmt, const char *s)
{
    if (a->ns >= 24) return;
    snprintf(a->store[a->ns], sizeof a->store[0], fmt, s);
    arg(a, a->store[a->ns++]);
}

static const char *driver_of(const ch_cell *cell)
{
    if (strcmp(cell->engine, "onnxruntime") == 0) return "ort_driver.py";
    if (strcmp(cell->engine, "openvino") == 0) return "openvino_driver.py";
    if (strcmp(cell->engine, "pytorch") == 0) return "torch_driver.py";
    return "trtexec.py";
}

/* The driver's --precision for an OpenVINO cell: "cpu-fp32" pins f32, "cpu-default" leaves
 * OpenVINO's own choice. */
static const char *openvino_precision(const ch_cell *cell)
{
    return strcmp(cell->config, "cpu-default") == 0 ? "default" : "f32";
}

/* A PyTorch cell's mode and precision from its config: "eager-fp16" -> eager, fp16;
 * "compile-fp32" -> compile-reduce-overhead (CUDA graphs); "max-autotune-fp16". */
static const char *torch_mode(const ch_cell *cell)
{
    if (strncmp(cell->config, "compile-", 8) == 0) return "compile-reduce-overhead";
    if (strncmp(cell->config, "max-autotune-", 13) == 0) return "compile-max-autotune";
    return "eager";
}

static const char *config_precision(const ch_cell *cell)
{
    const char *dash = strrchr(cell->config, '-');
    const char *p = dash ? dash + 1 : cell->config;
    return strcmp(p, "fp16") == 0 || strcmp(p, "bf16") == 0 ? p : "fp32";
}

static const char *python_of(const lucid_characterization_t *c, const ch_cell *cell)
{
    return strcmp(cell->engine, "pytorch") == 0 ? c->torch_python : c->python;
}

/* One driver run; returns the parsed document (NULL with cell->reason set on failure). */
static ch_json *bench_driver(const lucid_characterization_t *c, ch_cell *cell, const char *input,
                             double warmup_ms, int64_t iters, double duration_s)
{
    args a = {0};
    arg(&a, python_of(c, cell));
    char driver[1100];
    snprintf(driver, sizeof driver, "%s/%s", c->peers_dir, driver_of(cell));
    arg(&a, driver);
    arg(&a, c->model_path);
    arg(&a, "--warmup");
    argf(&a, "%g", warmup_ms);
    arg(&a, "--iterations");
    argf(&a, "%.0f", (double)iters);
    arg(&a, "--duration");
    argf(&a, "%g", duration_s);
    arg(&a, "--threads");
    argf(&a, "%.0f", (double)c->opts.threads);
    arg(&a, "--input");
    char in[1400];
    snprintf(in, sizeof in, "%s=%s", c->input_name, input);
    arg(&a, in);
    if (strcmp(cell->engine, "pytorch") == 0) {
        arg(&a, "--device");
        arg(&a, c->opts.device);
        arg(&a, "--mode");
        arg(&a, torch_mode(cell));
        arg(&a, "--precision");
        arg(&a, config_precision(cell));
        /* lucid's engine boundary takes float32: the peer's host copy does too */
        arg(&a, "--host-input");
        arg(&a, "float32");
    }
    if (strcmp(cell->engine, "onnxruntime") == 0 && strcmp(c->opts.device, "cuda") == 0) {
        arg(&a, "--device");
        arg(&a, "cuda");
    }
    if (strcmp(cell->engine, "tensorrt") == 0) {
        arg(&a, "--precision");
        arg(&a, config_precision(cell));
    }
    if (strcmp(cell->engine, "openvino") == 0) {
        arg(&a, "--precision");
        arg(&a, openvino_precision(cell));
    }
    if (access(driver, R_OK) != 0) {
        cell->state = CH_UNAVAILABLE;
        snprintf(cell->reason, sizeof cell->reason,
                 "driver %s not found (set --peers-dir or LUCID_PEERS_DIR)", driver);
        return NULL;
    }
    ch_buf out = {0};
    char said[400];
    int rc = run_capture(c, a.v, &out, said, sizeof said);
    ch_json *doc = ch_json_parse(out.data ? out.data : "");
    ch_buf_free(&out);
    if (!doc) {
        /* a Python that cannot even import the driver's own modules (numpy, say) is a peer
         * that is not installed for that interpreter */
        bool missing = rc == 127 || rc == -1 || strstr(said, "ModuleNotFoundError") ||
                       strstr(said, "ImportError");
        cell->state = missing ? CH_UNAVAILABLE : CH_FAILED;
        if (rc == 127 || rc == -1)
            snprintf(cell->reason, sizeof cell->reason, "%s: %s (exit %d)", cell->engine,
                     said[0] ? said : "cannot run the Python interpreter", rc);
        else if (missing)
            snprintf(cell->reason, sizeof cell->reason, "%s: not installed for %s: %s",
                     cell->engine, a.v[0], said);
        else
            snprintf(cell->reason, sizeof cell->reason,
                     "%s exited with status %d and no JSON document: %s (peers.log has the rest)",
                     a.v[0], rc, said[0] ? said : "nothing on stderr");
        return NULL;
    }
    const char *status = ch_json_string(doc, "status");
    const char *reason = ch_json_string(doc, "reason");
    const char *ver = ch_json_string(doc, "engine_version");
    if (ver) snprintf(cell->engine_version, sizeof cell->engine_version, "%s", ver);
    const char *note = ch_json_string(doc, "note");
    if (note) snprintf(cell->note, sizeof cell->note, "%s", note);
    if (!status || strcmp(status, "ok") != 0) {
        cell->state = status && strcmp(status, "not_installed") == 0 ? CH_UNAVAILABLE : CH_FAILED;
        snprintf(cell->reason, sizeof cell->reason, "%s", reason ? reason : "driver failed");
        ch_json_free(doc);
        return NULL;
    }
    return doc;
}

static void fill_latency(const ch_json *doc, ch_latency *lat)
{
    const ch_json *l = ch_json_get(doc, "latency_ms");
    memset(lat, 0, sizeof *lat);
    if (!l) return;
    lat->ok = true;
    lat->ms.min = ch_json_number(l, "min", NAN);
    lat->ms.max = ch_json_number(l, "max", NAN);
    lat->ms.mean = ch_json_number(l, "mean", NAN);
    lat->ms.median = ch_json_number(l, "median", NAN);
    lat->ms.p90 = ch_json_number(l, "p90", NAN);
    lat->ms.p95 = ch_json_number(l, "p95", NAN);
    lat->ms.p99 = ch_json_number(l, "p99", NAN);
    lat->ms.stddev = ch_json_number(l, "stddev", NAN);
    lat->ms.cv = ch_json_number(l, "cv", NAN);
    lat->iterations = (int64_t)ch_json_number(doc, "iterations", 0);
    lat->ms.n = (size_t)lat->iterations;
    lat->total_s = ch_json_number(doc, "total_s", NAN);
    lat->throughput = ch_json_number(doc, "throughput", NAN);
    lat->capped = ch_json_number(doc, "capped", 0) != 0;
    /* trtexec.py's GPU breakdown, as statistics objects "h2d_ms", "compute_ms", ... */
    lat->h2d_ms = ch_json_number(ch_json_get(doc, "h2d_ms"), "mean", NAN);
    lat->compute_ms = ch_json_number(ch_json_get(doc, "compute_ms"), "mean", NAN);
    lat->d2h_ms = ch_json_number(ch_json_get(doc, "d2h_ms"), "mean", NAN);
    lat->enqueue_ms = ch_json_number(ch_json_get(doc, "enqueue_ms"), "mean", NAN);
    lat->has_gpu = !isnan(lat->h2d_ms) || !isnan(lat->compute_ms) || !isnan(lat->d2h_ms) ||
                   !isnan(lat->enqueue_ms);
    const ch_json *w = ch_json_get(doc, "warmup");
    lat->warmup_iterations = (int64_t)ch_json_number(w, "iterations", 0);
    lat->warmup_s = ch_json_number(w, "seconds", NAN);
}

static void peer_accuracy(lucid_characterization_t *c, ch_cell *cell)
{
    ch_accuracy *acc = &cell->acc;
    if (strcmp(cell->engine, "tensorrt") == 0) {
        snprintf(acc->note, sizeof acc->note,
                 "not measured: the trtexec driver does not return per-sample outputs");
        return;
    }
    char out_npy[1200], driver[1100], chunk[32];
    snprintf(out_npy, sizeof out_npy, "%s/inputs/%s-outputs.npy", c->out_dir, cell->engine);
    snprintf(driver, sizeof driver, "%s/outputs_driver.py", c->peers_dir);
    int64_t ch =
        c->batch_symbolic ? (c->n_samples < 256 ? (int64_t)c->n_samples : 256) : c->input_dims[0];
    snprintf(chunk, sizeof chunk, "%lld", (long long)ch);
    args a = {0};
    arg(&a, python_of(c, cell));
    arg(&a, driver);
    arg(&a, c->model_path);
    arg(&a, "--engine");
    arg(&a, cell->engine);
    arg(&a, "--input");
    arg(&a, c->samples_npy);
    arg(&a, "--out");
    arg(&a, out_npy);
    arg(&a, "--chunk");
    arg(&a, chunk);
    if (c->batch_symbolic) arg(&a, "--symbolic-batch");
    arg(&a, "--threads");
    argf(&a, "%.0f", (double)c->opts.threads);
    arg(&a, "--device");
    args_str(&a, "%s", c->opts.device);
    arg(&a, "--repeat");
    argf(&a, "%.0f", (double)c->opts.runs);
    if (strcmp(cell->engine, "openvino") == 0) {
        arg(&a, "--precision");
        arg(&a, openvino_precision(cell));
    }
    if (strcmp(cell->engine, "pytorch") == 0) {
        /* compiled modes compute what eager does in the same precision: their outputs are
         * those of eager in it */
        arg(&a, "--torch-precision");
        arg(&a, config_precision(cell));
    }
    ch_buf out = {0};
    char said[400];
    int rc = run_capture(c, a.v, &out, said, sizeof said);
    ch_json *doc = ch_json_parse(out.data ? out.data : "");
    ch_buf_free(&out);
    const char *status = doc ? ch_json_string(doc, "status") : NULL;
    if (!status || strcmp(status, "ok") != 0) {
        const char *reason = doc ? ch_json_string(doc, "reason") : NULL;
        snprintf(acc->note, sizeof acc->note, "not measured: %s",
                 reason    ? reason
                 : said[0] ? said
                 : rc      ? "outputs_driver.py failed (see peers.log)"
                           : "no document");
        ch_json_free(doc);
        return;
    }
    const ch_json *rr = ch_json_get(doc, "run_to_run");
    if (rr) {
        cell->r2r.ok = true;
        cell->r2r.runs = (int)ch_json_number(rr, "runs", 0);
        cell->r2r.distinct_outputs = (int)ch_json_number(rr, "distinct_outputs", 0);
        const char *d = ch_json_string(rr, "first_digest");
        snprintf(cell->r2r.first_digest, sizeof cell->r2r.first_digest, "%s", d ? d : "");
        snprintf(cell->r2r.note, sizeof cell->r2r.note,
                 "the engine's layer outputs are not exposed: a divergence is not localized");
    }
    ch_json_free(doc);
    lucid_array y;
    lucid_error err;
    if (lucid_array_load_npy(out_npy, &y, &err)) {
        snprintf(acc->note, sizeof acc->note, "not measured: %s", err.message);
        return;
    }
    remove(out_npy);
    if (y.dtype != LUCID_DTYPE_FLOAT || y.nbytes != c->n_samples * c->out_elems * sizeof(float)) {
        snprintf(acc->note, sizeof acc->note,
                 "not measured: the engine's outputs have %zu bytes, expected %zu x %zu floats",
                 y.nbytes, c->n_samples, c->out_elems);
        lucid_array_free(&y);
        return;
    }
    ch_accuracy_of(c, y.data, c->n_samples, acc);
    lucid_array_free(&y);
}

void ch_peer_cell(lucid_characterization_t *c, ch_cell *cell)
{
    ch_step(c, cell, "latency");
    ch_json *doc = bench_driver(c, cell, c->sample1_npy, c->opts.warmup_ms, c->opts.min_iterations,
                                c->opts.min_duration_s);
    if (!doc) return;
    fill_latency(doc, &cell->lat);
    const ch_json *outs = ch_json_get(doc, "outputs");
    if (outs && outs->child) {
        const char *d = ch_json_string(outs->child, "digest");
        if (d) snprintf(cell->output_digest, sizeof cell->output_digest, "%s", d);
    }
    cell->threads = (int)ch_json_number(doc, "threads_used", 0);
    ch_json_free(doc);
    if (ch_cancelled(c)) return;

    ch_step(c, cell, "offline");
    ch_offline *off = &cell->off;
    double best = -1;
    for (int i = 0; i < off->n && !ch_cancelled(c); i++) {
        off->samples_per_s[i] = off->p90_ms[i] = NAN;
        int64_t b = off->batch[i];
        if (b == 1) {
            off->samples_per_s[i] = cell->lat.throughput;
            off->p90_ms[i] = cell->lat.ms.p90;
        } else if (!c->batch_symbolic) {
            snprintf(off->note, sizeof off->note,
                     "the model's batch dimension is fixed at %lld: batches other than it are "
                     "not measured",
                     (long long)c->input_dims[0]);
            continue;
        } else {
            char path[1200];
            snprintf(path, sizeof path, "%s/inputs/batch%lld.npy", c->out_dir, (long long)b);
            float *x = malloc((size_t)b * c->sample_elems * sizeof(float));
            if (!x) continue;
            for (int64_t k = 0; k < b; k++)
                memcpy(x + (size_t)k * c->sample_elems,
                       c->samples + ((size_t)k % c->n_samples) * c->sample_elems,
                       c->sample_elems * sizeof(float));
            lucid_array a = {.dtype = LUCID_DTYPE_FLOAT, .rank = c->input_rank, .data = x};
            memcpy(a.dims, c->input_dims, sizeof a.dims);
            a.dims[0] = b;
            a.nbytes = (size_t)b * c->sample_elems * sizeof(float);
            lucid_error err;
            lucid_status st = lucid_array_save_npy(path, &a, &err);
            free(x);
            if (st) continue;
            ch_cell probe = *cell;
            ch_json *d = bench_driver(c, &probe, path, fmin(c->opts.warmup_ms, 100), 3,
                                      c->opts.min_duration_s / 2);
            remove(path);
            if (!d) {
                snprintf(off->note, sizeof off->note, "batch %lld: %s", (long long)b, probe.reason);
                continue;
            }
            ch_latency lat;
            fill_latency(d, &lat);
            ch_json_free(d);
            off->samples_per_s[i] = lat.throughput * (double)b;
            off->p90_ms[i] = lat.ms.p90;
        }
        if (off->samples_per_s[i] > best) {
            best = off->samples_per_s[i];
            off->best = i;
        }
    }
    if (ch_cancelled(c)) return;
    ch_step(c, cell, "accuracy");
    /* torch.compile computes what eager computes in the same precision: a compiled cell's
     * accuracy is its eager cell's, measured once */
    if (strcmp(cell->engine, "pytorch") == 0 && strcmp(torch_mode(cell), "eager") != 0) {
        char eager[48];
        snprintf(eager, sizeof eager, "eager-%s", config_precision(cell));
        const ch_cell *e = ch_find_cell(c, "pytorch", eager);
        if (e && e->acc.ok) {
            cell->acc = e->acc;
            snprintf(cell->acc.note, sizeof cell->acc.note,
                     "the outputs of pytorch/%s (the module this cell compiles, in the same "
                     "precision)",
                     eager);
            return;
        }
    }
    peer_accuracy(c, cell);
}
