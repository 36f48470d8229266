/* test_alloc_fail.c - allocation-failure injection: for every allocation lucid's own code makes
 * while it loads a Fashion-MNIST model, builds, saves and loads a plan, creates a context,
 * sets the input, runs and reads the output, one pass makes exactly that allocation fail (or,
 * in the second mode, that one and every one after it). The failing call must return a status
 * (LUCID_STATUS_OUT_OF_MEMORY) with a message, leave its out-handle NULL, crash nothing, leak
 * nothing (run it under AddressSanitizer's leak checker), and the same call made again must
 * succeed and the pass end with the output bits of a clean pass.
 *
 * Built only with -DLUCID_ALLOC_FAIL=ON: tests/CMakeLists.txt links it with ld's --wrap for the
 * C allocator, so the calls of the statically linked library reach the __wrap_* functions
 * below; shared libraries (oneDNN, OpenBLAS, XNNPACK, protobuf-c, libc itself) keep their own.
 *
 * Usage: test_alloc_fail [--ci | --full] [--model NAME] [--autotune] [--mode once|rest]
 *                        [--stride S] [--trace N] [--leak-each]
 * --ci (the ctest entry): every allocation of LeNet-5, a stride of the other models.
 * --full: every allocation of every model, both modes, and LeNet-5's autotuned build. */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lucid.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define AF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AF_ASAN 1
#endif
#endif
#ifdef AF_ASAN
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

/* ---- the wrapped allocator ------------------------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);

static int af_on;          /* counting allocations */
static long af_count;      /* allocations counted since the pass began */
static long af_fail_at;    /* the allocation that fails (0: none) */
static int af_fail_rest;   /* 1: every allocation from af_fail_at on fails too */
static long af_injected;   /* failures made in this pass */
static long af_trace_at;   /* print the stack of this allocation (0: none) */

/* Whether this allocation is to fail. Atomic because the library's worker threads allocate
 * too (the sweep runs on one thread, so that the order is reproducible). */
static bool af_fails(void)
{
    if (!__atomic_load_n(&af_on, __ATOMIC_RELAXED)) return false;
    long n = __atomic_add_fetch(&af_count, 1, __ATOMIC_RELAXED);
    long at = __atomic_load_n(&af_fail_at, __ATOMIC_RELAXED);
    if (n == af_trace_at) {
        printf("allocation %ld is made here:\n", n);
        fflush(stdout);
#ifdef AF_ASAN
        __sanitizer_print_stack_trace();
#else
        void *frames[48];
        backtrace_symbols_fd(frames, backtrace(frames, 48), 1);
#endif
    }
    if (at > 0 && (n == at || (af_fail_rest && n > at))) {
        __atomic_add_fetch(&af_injected, 1, __ATOMIC_RELAXED);
        errno = ENOMEM;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t n)
{
    return af_fails() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t k, size_t n)
{
    return af_fails() ? NULL : __real_calloc(k, n);
}
void *__wrap_realloc(void *p, size_t n)
{
    return af_fails() ? NULL : __real_realloc(p, n); /* a failed realloc keeps p */
}
void __wrap_free(void *p)
{
    __real_free(p);
}
void *__wrap_aligned_alloc(size_t align, size_t n)
{
    return af_fails() ? NULL : __real_aligned_alloc(align, n);
}
int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
    return af_fails() ? ENOMEM : __real_posix_memalign(p, align, n);
}
char *__wrap_strdup(const char *s)
{
    return af_fails() ? NULL : __real_strdup(s);
}
char *__wrap_strndup(const char *s, size_t n)
{
    return af_fails() ? NULL : __real_strndup(s, n);
}

/* ---- one pass -------------------------------------------------------------------------- */

enum step { S_LOAD, S_BUILD, S_SAVE, S_PLAN_LOAD, S_CONTEXT, S_INPUT, S_RUN, S_OUTPUT, S_COUNT };
static const char *const step_names[S_COUNT] = {"model_load",  "plan_build", "plan_save",
                                                "plan_load",   "context",    "set_input",
                                                "run",         "output"};

enum { MAX_OUT = 64 };

typedef struct pass {
    const char *model_path, *plan_path;
    const lucid_build_options *opts;
    const float *input; /* 1x1x28x28 */
    lucid_model_t *model;
    lucid_plan_t *built, *plan;
    lucid_context_t *ctx;
    float out[MAX_OUT];
    size_t out_n;
    char message[1024];
} pass;

/* Runs one step; on failure copies its message and checks that the handle it creates, if
 * any, is NULL (a failed call leaves nothing behind). */
static lucid_status run_step(pass *p, enum step s)
{
    lucid_error err = {0};
    lucid_status st = LUCID_STATUS_OK;
    bool handle_left = false;
    p->message[0] = '\0';
    switch (s) {
    case S_LOAD:
        st = lucid_model_load(p->model_path, &p->model, &err);
        handle_left = st && p->model;
        break;
    case S_BUILD:
        st = lucid_plan_build(p->model, p->opts, &p->built, &err);
        handle_left = st && p->built;
        break;
    case S_SAVE: st = lucid_plan_save(p->built, p->plan_path, &err); break;
    case S_PLAN_LOAD:
        st = lucid_plan_load(p->plan_path, &p->plan, &err);
        handle_left = st && p->plan;
        break;
    case S_CONTEXT: {
        lucid_context_options co = {.threads = 1};
        st = lucid_context_create_plan(p->plan, &co, &p->ctx, &err);
        handle_left = st && p->ctx;
        break;
    }
    case S_INPUT: {
        const int64_t dims[4] = {1, 1, 28, 28};
        st = lucid_context_set_input(p->ctx, "input", LUCID_DTYPE_FLOAT, 4, dims, p->input);
        if (st) snprintf(err.message, sizeof err.message, "%s", lucid_context_error(p->ctx));
        break;
    }
    case S_RUN:
        st = lucid_context_run(p->ctx);
        if (st) snprintf(err.message, sizeof err.message, "%s", lucid_context_error(p->ctx));
        break;
    case S_OUTPUT: {
        lucid_array a;
        st = lucid_context_output(p->ctx, 0, &a);
        if (st) {
            snprintf(err.message, sizeof err.message, "%s", lucid_context_error(p->ctx));
        } else if (a.dtype != LUCID_DTYPE_FLOAT || a.nbytes > sizeof p->out) {
            st = LUCID_STATUS_INTERNAL;
            snprintf(err.message, sizeof err.message, "unexpected output (dtype %d, %zu bytes)",
                     (int)a.dtype, a.nbytes);
        } else {
            memcpy(p->out, a.data, a.nbytes);
            p->out_n = a.nbytes / sizeof(float);
        }
        break;
    }
    case S_COUNT: break;
    }
    if (st) {
        snprintf(p->message, sizeof p->message, "%s", err.message);
        if (handle_left) {
            snprintf(p->message, sizeof p->message, "a failed %s left its out-handle set",
                     step_names[s]);
            st = LUCID_STATUS_INTERNAL;
        }
    }
    return st;
}

static void pass_destroy(pass *p)
{
    lucid_context_destroy(p->ctx);
    lucid_plan_destroy(p->plan);
    lucid_plan_destroy(p->built);
    lucid_model_destroy(p->model);
    p->ctx = NULL;
    p->plan = p->built = NULL;
    p->model = NULL;
}

/* ---- the sweep ------------------------------------------------------------------------- */

typedef struct tally {
    long swept, injected_passes, not_reached, absorbed, retry_failed, wrong_output;
    long by_step[S_COUNT];
    long by_status[LUCID_STATUS_INTERNAL + 1];
} tally;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* A clean pass, counted: its allocation total and output. */
static long clean_pass(pass *p, float *out, size_t *out_n)
{
    af_count = 0;
    af_fail_at = 0;
    af_injected = 0;
    __atomic_store_n(&af_on, 1, __ATOMIC_RELAXED);
    bool ok = true;
    for (int s = 0; s < S_COUNT && ok; s++) {
        lucid_status st = run_step(p, (enum step)s);
        if (st) {
            printf("FAIL clean pass of %s: %s: %s (%s)\n", p->model_path, step_names[s],
                   lucid_status_string(st), p->message);
            ok = false;
        }
    }
    pass_destroy(p);
    __atomic_store_n(&af_on, 0, __ATOMIC_RELAXED);
    if (!ok) return -1;
    memcpy(out, p->out, sizeof p->out);
    *out_n = p->out_n;
    return af_count;
}

/* The pass whose allocation n fails (and every later one, with rest). */
/* Bit-equal, or (tol > 0) within tol of the largest magnitude. */
static bool outputs_agree(const float *a, size_t an, const float *b, size_t bn, float tol)
{
    if (an != bn) return false;
    if (tol <= 0) return memcmp(a, b, an * sizeof(float)) == 0;
    float big = 1;
    for (size_t i = 0; i < bn; i++) big = fabsf(b[i]) > big ? fabsf(b[i]) : big;
    for (size_t i = 0; i < an; i++)
        if (!(fabsf(a[i] - b[i]) <= tol * big)) return false;
    return true;
}

/* strict: every injected failure must end in OUT_OF_MEMORY. The autotuned build is not
 * strict: a tactic's supports() answers only yes or no, so a library tactic whose probe could
 * not allocate is taken as unsupported (the build goes on without it, or, in its final pass,
 * fails UNSUPPORTED); there the sweep counts those and asserts the rest. */
static void armed_pass(pass *p, long n, bool rest, const float *want, size_t want_n, float tol,
                       bool strict, tally *t, bool leak_each)
{
    af_count = 0;
    af_injected = 0;
    af_fail_rest = rest;
    af_fail_at = n;
    p->out_n = 0;
    __atomic_store_n(&af_on, 1, __ATOMIC_RELAXED);
    int failed_step = -1;
    lucid_status failed_st = LUCID_STATUS_OK;
    char failed_msg[1024] = "";
    for (int s = 0; s < S_COUNT; s++) {
        lucid_status st = run_step(p, (enum step)s);
        if (!st) continue;
        if (failed_step >= 0) { /* the retry or a later step failed */
            t->retry_failed++;
            CHECK(0, "%s alloc %ld%s: %s failed after the failure in %s: %s (%s)", p->model_path,
                  n, rest ? "+" : "", step_names[s], step_names[failed_step],
                  lucid_status_string(st), p->message);
            break;
        }
        failed_step = s;
        failed_st = st;
        snprintf(failed_msg, sizeof failed_msg, "%s", p->message);
        af_fail_at = 0; /* the next call runs with a working allocator */
        s--;            /* ...and is the same call again */
    }
    long injected = af_injected;
    __atomic_store_n(&af_on, 0, __ATOMIC_RELAXED);
    pass_destroy(p);
    af_fail_at = 0;
    t->swept++;
    if (injected == 0) {
        t->not_reached++;
        CHECK(failed_step < 0, "%s alloc %ld: %s failed with no allocation failed: %s (%s)",
              p->model_path, n, failed_step >= 0 ? step_names[failed_step] : "",
              lucid_status_string(failed_st), failed_msg);
        return;
    }
    t->injected_passes++;
    if (failed_step < 0) {
        t->absorbed++;
        if (!strict)
            printf("note: %s alloc %ld%s: no call failed (rerun with --trace %ld)\n",
                   p->model_path, n, rest ? "+" : "", n);
        CHECK(!strict, "%s alloc %ld%s: the failed allocation went unreported (every step OK)",
              p->model_path, n, rest ? "+" : "");
    } else {
        t->by_step[failed_step]++;
        if (failed_st <= LUCID_STATUS_INTERNAL) t->by_status[failed_st]++;
        if (failed_st != LUCID_STATUS_OUT_OF_MEMORY && !strict)
            printf("note: %s alloc %ld%s: %s gave %s (%s)\n", p->model_path, n, rest ? "+" : "",
                   step_names[failed_step], lucid_status_string(failed_st), failed_msg);
        CHECK((failed_st == LUCID_STATUS_OUT_OF_MEMORY ||
               (!strict && failed_st == LUCID_STATUS_UNSUPPORTED)) &&
                  failed_msg[0],
              "%s alloc %ld%s: %s gave %s (%s), not out of memory with a message", p->model_path,
              n, rest ? "+" : "", step_names[failed_step], lucid_status_string(failed_st),
              failed_msg);
    }
    bool same = outputs_agree(p->out, p->out_n, want, want_n, tol);
    if (!same) t->wrong_output++;
    CHECK(same || t->retry_failed, "%s alloc %ld%s: output differs from a clean pass's",
          p->model_path, n, rest ? "+" : "");
#ifdef AF_ASAN
    if (leak_each && __lsan_do_recoverable_leak_check()) {
        CHECK(0, "%s alloc %ld%s: leak (report above)", p->model_path, n, rest ? "+" : "");
    }
#else
    (void)leak_each;
#endif
}

typedef struct sweep_config {
    const char *name;
    bool autotune;
    bool rest;
    long stride;
    long trace;
    bool leak_each;
} sweep_config;

static void build_options(bool autotune, lucid_build_options *o)
{
    static const char *const own[] = {"cpu."};
    lucid_build_options_default(o);
    o->threads = 1;      /* one thread: the same allocations in the same order every pass */
    o->time_ms = 0.05;   /* the minimum runs per candidate: tactic timing is not what is swept */
    if (!autotune) {
        /* lucid's own tactics only (the libraries' allocations are not swept anyway), and
         * no whole-plan layout and tactic checks */
        o->tactics = own;
        o->n_tactics = 1;
        o->no_layout_check = 1;
        o->no_tactic_check = 1;
    }
}

static char tmpdir[64];

static void sweep(const sweep_config *c)
{
    char model_path[512], input_path[512], plan_path[512], cache_path[512];
    snprintf(plan_path, sizeof plan_path, "%s/%s.plan", tmpdir, c->name);
    snprintf(cache_path, sizeof cache_path, "%s/%s%s.timing", tmpdir, c->name,
             c->autotune ? "-autotuned" : "");
    snprintf(model_path, sizeof model_path, "%s/models/fashion/%s/model.onnx", LUCID_SOURCE_DIR,
             c->name);
    snprintf(input_path, sizeof input_path, "%s/models/fashion/%s/ref_input.npy",
             LUCID_SOURCE_DIR, c->name);
    if (access(model_path, R_OK) != 0) {
        printf("SKIP %s: not present\n", model_path);
        return;
    }
    lucid_array in;
    lucid_error err;
    if (lucid_array_load_npy(input_path, &in, &err) != LUCID_STATUS_OK ||
        in.dtype != LUCID_DTYPE_FLOAT || in.nbytes < 784 * sizeof(float)) {
        CHECK(0, "%s: %s", input_path, err.message);
        return;
    }
    lucid_build_options o;
    build_options(c->autotune, &o);
    /* the first build measures its tactics and writes the timing cache, which every later
     * build reads: the same tactics, so the same allocations and output bits, every pass */
    o.timing_cache = cache_path;
    pass p = {.model_path = model_path, .plan_path = plan_path, .opts = &o, .input = in.data};
    float want[MAX_OUT], again[MAX_OUT];
    size_t want_n = 0, again_n = 0;
    /* the first pass also makes the library's one-time set-up allocations */
    long first = clean_pass(&p, want, &want_n);
    long total = clean_pass(&p, want, &want_n);
    long total2 = clean_pass(&p, again, &again_n);
    /* an autotuned build's count depends on the layouts it keeps: the most of a few passes */
    for (int k = 0; c->autotune && k < 4 && total2 > 0; k++) {
        long more = clean_pass(&p, again, &again_n);
        if (more < 0) total2 = -1;
        else if (more > total2) total2 = more;
    }
    /* An autotuned build still measures whole plans (its layout and tactic checks), whose
     * choice varies from build to build: its passes differ in allocations and, within
     * rounding, in output; the restricted build's must not. */
    float tol = c->autotune ? 1e-3f : 0;
    CHECK(first > 0 && total > 0 && total2 > 0 && (c->autotune || total == total2) &&
              outputs_agree(again, again_n, want, want_n, tol),
          "%s: clean passes differ: %ld, %ld, %ld allocations", c->name, first, total, total2);
    if (total <= 0 || total2 <= 0 || (!c->autotune && total != total2)) {
        lucid_array_free(&in);
        return;
    }
    if (total2 > total) total = total2;
    tally t = {0};
    af_trace_at = c->trace;
    double t0 = now_s();
    int failed_before = failed;
    if (c->trace) {
        armed_pass(&p, c->trace, c->rest, want, want_n, tol, !c->autotune, &t, c->leak_each);
    } else {
        /* a stride starts at allocations that differ from sweep to sweep of the same model
         * only through the stride, so that each CI run sees the same ones */
        for (long n = 1; n <= total; n += c->stride) {
            armed_pass(&p, n, c->rest, want, want_n, tol, !c->autotune, &t, c->leak_each);
            if (failed - failed_before >= 20) {
                printf("stopping %s after 20 failures\n", c->name);
                break;
            }
        }
    }
    af_trace_at = 0;
    printf("model %-10s build %-10s mode %-4s: %ld allocations per pass%s; swept %ld (stride %ld), "
           "failures injected in %ld passes, not reached %ld, unreported %ld, retry failed %ld, "
           "wrong output %ld; %.1f s\n",
           c->name, c->autotune ? "autotuned" : "restricted", c->rest ? "rest" : "once", total,
           c->autotune ? " (the most of six clean passes)" : "",
           t.swept, c->stride, t.injected_passes, t.not_reached, t.absorbed, t.retry_failed,
           t.wrong_output, now_s() - t0);
    printf("  failed step:");
    for (int s = 0; s < S_COUNT; s++)
        if (t.by_step[s]) printf(" %s %ld", step_names[s], t.by_step[s]);
    printf("\n  status:");
    for (int s = 0; s <= LUCID_STATUS_INTERNAL; s++)
        if (t.by_status[s]) printf(" '%s' %ld", lucid_status_string((lucid_status)s), t.by_status[s]);
    printf("\n");
    fflush(stdout);
    lucid_array_free(&in);
}

int main(int argc, char **argv)
{
    static const char *const models[] = {"lenet5", "inception", "mobilenet",
                                         "resnet", "squeezenet", "vgg"};
    const char *only = NULL, *mode = NULL;
    bool ci = false, full = false, autotune = false, leak_each = false;
    long stride = 0, trace = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ci")) ci = true;
        else if (!strcmp(argv[i], "--full")) full = true;
        else if (!strcmp(argv[i], "--autotune")) autotune = true;
        else if (!strcmp(argv[i], "--leak-each")) leak_each = true;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc) mode = argv[++i];
        else if (!strcmp(argv[i], "--stride") && i + 1 < argc) stride = atol(argv[++i]);
        else if (!strcmp(argv[i], "--trace") && i + 1 < argc) trace = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--ci | --full] [--model NAME] [--autotune] "
                            "[--mode once|rest] [--stride S] [--trace N] [--leak-each]\n",
                    argv[0]);
            return 2;
        }
    }
    if (mode && strcmp(mode, "once") && strcmp(mode, "rest")) {
        fprintf(stderr, "--mode is once or rest\n");
        return 2;
    }
    /* backtrace() loads its unwinder on first use, which allocates: done before any count */
    void *frames[4];
    (void)backtrace(frames, 4);

    /* in memory where there is /dev/shm: plan and cache files are written with fsync, which
     * on a disk would take most of a pass's time */
    snprintf(tmpdir, sizeof tmpdir, "%s/lucid_alloc_fail_XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(tmpdir)) return 1;

    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        if (only && strcmp(only, models[m])) continue;
        sweep_config c = {.name = models[m], .autotune = autotune, .stride = 1,
                          .trace = trace, .leak_each = leak_each};
        if (only || (!ci && !full)) { /* one model as asked */
            c.rest = mode && !strcmp(mode, "rest");
            c.stride = stride > 0 ? stride : 1;
            sweep(&c);
            continue;
        }
        if (full) {
            c.rest = false;
            sweep(&c);
            c.rest = true;
            sweep(&c);
            if (m == 0) {
                c.autotune = true;
                c.rest = false;
                sweep(&c);
            }
            continue;
        }
        /* --ci: LeNet-5 every allocation in both modes, the others a stride */
        c.stride = m == 0 ? 1 : (stride > 0 ? stride : 29);
        c.rest = false;
        sweep(&c);
        c.rest = true;
        c.stride = m == 0 ? 1 : c.stride * 4 + 1;
        sweep(&c);
        if (m == 0) {
            c.autotune = true;
            c.rest = false;
            c.stride = 7;
            sweep(&c);
        }
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", tmpdir);
    return test_summary();
}
