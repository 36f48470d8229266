/* test_concurrency.c - thread safety, run under ThreadSanitizer by scripts/tsan.sh: contexts
 * of one plan running in parallel threads give the bits of a single-threaded run; thread
 * pools under contention, created and destroyed while others run; builds sharing one timing
 * cache (threads, then processes) leave a cache holding every build's entries, from which a
 * new build times nothing and chooses the same tactics; timing caches, calibration caches
 * and plan files written and read by many processes at once are never seen torn, and leave
 * no temporary file. LUCID_CONCURRENCY_SCALE (default 1) multiplies iterations and
 * durations. */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/threadpool.h"
#include "lucid.h"
#include "plan/timing_cache.h"
#include "quant/quant.h"
#include "test_util.h"

static double scale = 1.0;
static char tmpdir[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int scaled(int n)
{
    int v = (int)(n * scale);
    return v < 1 ? 1 : v;
}

/* ---- thread pools under contention ------------------------------------------------- */

/* A loop whose items are written with plain stores by whichever thread runs their chunk and
 * read back with plain loads by the caller after the run: ThreadSanitizer reports the read
 * unless the pool orders every chunk before its return (atomics here would hide that). */
typedef struct fill_job {
    uint32_t *out;
    uint32_t salt;
} fill_job;

static void fill(void *ctx, size_t begin, size_t end, int thread)
{
    fill_job *j = ctx;
    for (size_t i = begin; i < end; i++) j->out[i] = (uint32_t)i * 2654435761u ^ j->salt;
}

/* Runs one loop of n items on pool and returns how many came out wrong. */
static int fill_check(lucid_threadpool *pool, uint32_t *buf, size_t n, size_t grain,
                      uint32_t salt)
{
    fill_job j = {buf, salt};
    for (size_t i = 0; i < n; i++) buf[i] = 0xdeadbeefu;
    lucid_threadpool_run(pool, n, grain, fill, &j);
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += buf[i] != ((uint32_t)i * 2654435761u ^ salt);
    return bad;
}

typedef struct pool_job {
    int id, rounds, loops;
    lucid_threadpool *shared; /* with shared_mu: a pool that threads take turns running */
    pthread_mutex_t *shared_mu;
    int bad, failures;
} pool_job;

/* Creates a pool, runs loops, destroys it, again: pools come and go while others run. */
static void *pool_churn(void *arg)
{
    pool_job *j = arg;
    uint32_t *buf = malloc(sizeof(uint32_t) * 4096);
    if (!buf) {
        j->failures++;
        return NULL;
    }
    for (int r = 0; r < j->rounds; r++) {
        lucid_threadpool *p = lucid_threadpool_create(1 + (j->id + r) % 4);
        if (!p) {
            j->failures++;
            continue;
        }
        for (int k = 0; k < j->loops; k++)
            j->bad += fill_check(p, buf, 1 + (size_t)(k * 131 + j->id) % 4000, 1 + (size_t)k % 5,
                                 (uint32_t)(j->id * 100000 + r * 1000 + k));
        lucid_threadpool_destroy(p);
    }
    free(buf);
    return NULL;
}

/* Runs loops on one pool that several threads take turns on (one loop at a time, the pool's
 * contract): the caller changes from loop to loop. */
static void *pool_turns(void *arg)
{
    pool_job *j = arg;
    uint32_t *buf = malloc(sizeof(uint32_t) * 4096);
    if (!buf) {
        j->failures++;
        return NULL;
    }
    for (int k = 0; k < j->rounds * j->loops; k++) {
        pthread_mutex_lock(j->shared_mu);
        j->bad += fill_check(j->shared, buf, 1 + (size_t)(k * 71 + j->id * 13) % 4000,
                             1 + (size_t)k % 3, (uint32_t)(j->id * 7777 + k));
        pthread_mutex_unlock(j->shared_mu);
    }
    free(buf);
    return NULL;
}

static void test_pools(void)
{
    enum { CHURN = 5, TURNS = 3 };
    pthread_t t[CHURN + TURNS];
    pool_job jobs[CHURN + TURNS];
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    lucid_threadpool *shared = lucid_threadpool_create(3);
    CHECK(shared != NULL, "shared pool created");
    if (!shared) return;
    double t0 = now_s();
    for (int i = 0; i < CHURN + TURNS; i++) {
        jobs[i] = (pool_job){.id = i, .rounds = scaled(8), .loops = scaled(60)};
        if (i >= CHURN) {
            jobs[i].shared = shared;
            jobs[i].shared_mu = &mu;
        }
        CHECK(pthread_create(&t[i], NULL, i < CHURN ? pool_churn : pool_turns, &jobs[i]) == 0,
              "pool thread %d started", i);
    }
    int loops = 0;
    for (int i = 0; i < CHURN + TURNS; i++) {
        pthread_join(t[i], NULL);
        CHECK(jobs[i].bad == 0 && jobs[i].failures == 0,
              "pool thread %d (%s): %d wrong items, %d failures", i,
              i < CHURN ? "own pools" : "shared pool", jobs[i].bad, jobs[i].failures);
        loops += jobs[i].rounds * jobs[i].loops;
    }
    lucid_threadpool_destroy(shared);
    printf("pools: %d threads, %d loops (%d pools created and destroyed), %.1f s\n",
           CHURN + TURNS, loops, CHURN * jobs[0].rounds, now_s() - t0);
}

/* ---- contexts of one plan in parallel ------------------------------------------------ */

typedef struct outputs {
    size_t n;
    void *data[8];
    size_t nbytes[8];
} outputs;

static void outputs_free(outputs *o)
{
    for (size_t i = 0; i < o->n; i++) free(o->data[i]);
    o->n = 0;
}

/* A deterministic input (variant v) for input 0 of m: nelem floats into a new buffer. */
static float *make_input(const lucid_model_t *m, int v, lucid_tensor_desc *d)
{
    lucid_model_input(m, 0, d);
    int64_t n = 1;
    for (int i = 0; i < d->rank; i++) n *= d->dims[i];
    float *x = malloc(sizeof(float) * (size_t)n);
    if (!x) return NULL;
    for (int64_t i = 0; i < n; i++) x[i] = (float)(((i + 1) * (7919 + 104729 * v)) % 1000) / 500.0f - 1.0f;
    return x;
}

/* Runs ctx on x and copies every output into o. */
static bool run_copy(lucid_context_t *ctx, const lucid_tensor_desc *d, const float *x,
                     outputs *o)
{
    if (lucid_context_set_input(ctx, d->name, LUCID_DTYPE_FLOAT, d->rank, d->dims, x) ||
        lucid_context_run(ctx))
        return false;
    o->n = lucid_context_num_outputs(ctx);
    if (o->n > 8) o->n = 8;
    for (size_t i = 0; i < o->n; i++) {
        lucid_array a;
        lucid_context_output(ctx, i, &a);
        o->data[i] = malloc(a.nbytes ? a.nbytes : 1);
        o->nbytes[i] = a.nbytes;
        if (o->data[i]) memcpy(o->data[i], a.data, a.nbytes);
    }
    return true;
}

typedef struct ctx_job {
    const lucid_plan_t *plan;
    const lucid_tensor_desc *desc;
    const float *const *inputs; /* two variants */
    const outputs *refs;        /* their single-threaded outputs */
    int id, iters, runs, mismatches, failures;
} ctx_job;

/* Creates a context on the shared plan and runs it, comparing every output bit for bit. */
static void *ctx_thread(void *arg)
{
    ctx_job *j = arg;
    lucid_context_t *ctx = NULL;
    lucid_error err;
    if (lucid_context_create_plan(j->plan, NULL, &ctx, &err)) {
        j->failures++;
        return NULL;
    }
    for (int it = 0; it < j->iters; it++) {
        int v = (j->id + it) % 2;
        if (lucid_context_set_input(ctx, j->desc->name, LUCID_DTYPE_FLOAT, j->desc->rank,
                                    j->desc->dims, j->inputs[v]) ||
            lucid_context_run(ctx)) {
            j->failures++;
            break;
        }
        j->runs++;
        const outputs *r = &j->refs[v];
        if (lucid_context_num_outputs(ctx) < r->n) {
            j->mismatches++;
            continue;
        }
        for (size_t i = 0; i < r->n; i++) {
            lucid_array a;
            lucid_context_output(ctx, i, &a);
            if (a.nbytes != r->nbytes[i] || memcmp(a.data, r->data[i], a.nbytes) != 0) {
                j->mismatches++;
                break;
            }
        }
    }
    lucid_context_destroy(ctx);
    return NULL;
}

static void test_contexts(const char *model, int plan_threads, int n_ctx, int iters)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/fashion/%s/model.onnx", LUCID_SOURCE_DIR, model);
    lucid_error err;
    lucid_model_t *m = NULL;
    if (lucid_model_load(path, &m, &err)) {
        CHECK(0, "%s: %s", path, err.message);
        return;
    }
    lucid_build_options o;
    lucid_build_options_default(&o);
    o.threads = plan_threads;
    o.time_ms = 1;
    o.no_layout_check = 1;
    o.no_tactic_check = 1;
    lucid_plan_t *plan = NULL;
    float *inputs[2] = {NULL, NULL};
    outputs refs[2] = {{0}, {0}};
    lucid_context_t *single = NULL;
    lucid_tensor_desc d;
    if (lucid_plan_build(m, &o, &plan, &err)) {
        CHECK(0, "%s: build: %s", model, err.message);
        goto done;
    }
    const lucid_model_t *pm = lucid_plan_model(plan);
    inputs[0] = make_input(pm, 0, &d);
    inputs[1] = make_input(pm, 1, &d);
    bool ok = inputs[0] && inputs[1] && !lucid_context_create_plan(plan, NULL, &single, &err) &&
              run_copy(single, &d, inputs[0], &refs[0]) &&
              run_copy(single, &d, inputs[1], &refs[1]);
    CHECK(ok, "%s: single-threaded reference runs", model);
    if (!ok) goto done;
    CHECK(refs[0].n > 0 && (refs[0].nbytes[0] != refs[1].nbytes[0] ||
                            memcmp(refs[0].data[0], refs[1].data[0], refs[0].nbytes[0]) != 0),
          "%s: the two inputs give different outputs (else a mix-up could not show)", model);
    pthread_t t[16];
    ctx_job jobs[16];
    if (n_ctx > 16) n_ctx = 16;
    double t0 = now_s();
    const float *const in[2] = {inputs[0], inputs[1]};
    for (int i = 0; i < n_ctx; i++) {
        jobs[i] = (ctx_job){.plan = plan, .desc = &d, .inputs = in, .refs = refs, .id = i,
                            .iters = iters};
        CHECK(pthread_create(&t[i], NULL, ctx_thread, &jobs[i]) == 0, "thread %d", i);
    }
    int runs = 0;
    for (int i = 0; i < n_ctx; i++) {
        pthread_join(t[i], NULL);
        CHECK(jobs[i].failures == 0 && jobs[i].runs == iters && jobs[i].mismatches == 0,
              "%s: context %d of %d: %d runs, %d not bitwise equal to the single-threaded run, "
              "%d failures",
              model, i, n_ctx, jobs[i].runs, jobs[i].mismatches, jobs[i].failures);
        runs += jobs[i].runs;
    }
    printf("contexts: %s, plan of %d threads, %d contexts in parallel, %d runs, %.1f s\n", model,
           plan_threads, n_ctx, runs, now_s() - t0);
done:
    lucid_context_destroy(single);
    outputs_free(&refs[0]);
    outputs_free(&refs[1]);
    free(inputs[0]);
    free(inputs[1]);
    lucid_plan_destroy(plan);
    lucid_model_destroy(m);
}

/* ---- builds sharing one timing cache ------------------------------------------------ */

/* Each build times different keys (another model, another thread count: the thread count is
 * part of the key), so the cache they leave must hold all of their entries. */
static const char *const build_models[] = {"lenet5", "squeezenet", "resnet"};
enum { N_BUILDS = 3 };

static lucid_status build_model(const char *model, int threads, const char *cache,
                                lucid_plan_t **out, lucid_error *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/fashion/%s/model.onnx", LUCID_SOURCE_DIR, model);
    lucid_model_t *m = NULL;
    lucid_status st = lucid_model_load(path, &m, err);
    if (st) return st;
    lucid_build_options o;
    lucid_build_options_default(&o);
    o.threads = threads;
    o.time_ms = 1;
    o.timing_cache = cache;
    /* deterministic: tactics chosen by the documented rule from the medians alone (a timed
     * build also times layout reorders and whole plans, which the cache does not hold), so a
     * build reading a complete cache must choose what the build that measured it chose */
    o.deterministic = 1;
    st = lucid_plan_build(m, &o, out, err);
    lucid_model_destroy(m);
    return st;
}

typedef struct build_job {
    int k;
    const char *cache;
    lucid_plan_t *plan;
    lucid_error err;
    lucid_status st;
} build_job;

static void *build_thread(void *arg)
{
    build_job *j = arg;
    j->st = build_model(build_models[j->k], j->k + 1, j->cache, &j->plan, &j->err);
    return NULL;
}

/* Files in tmpdir whose name contains ".tmp." (a writer's temporary file left behind). */
static int count_temp_files(void)
{
    DIR *dir = opendir(tmpdir);
    if (!dir) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(dir);
    return n;
}

/* The cache loads and a build of each model reading it times nothing and chooses what the
 * build that wrote its entries chose. */
static void check_shared_cache(const char *cache, lucid_plan_t *const *plans, const char *how)
{
    lucid_error err;
    lucid_timing_cache *c = NULL;
    lucid_status st = lucid_timing_cache_load(cache, &c, &err);
    CHECK(st == 0, "%s: the shared cache loads: %s", how, st ? err.message : "");
    lucid_timing_cache_destroy(c);
    CHECK(count_temp_files() == 0, "%s: no temporary file left", how);
    for (int k = 0; k < N_BUILDS; k++) {
        if (!plans[k]) continue;
        lucid_plan_t *again = NULL;
        st = build_model(build_models[k], k + 1, cache, &again, &err);
        CHECK(st == 0, "%s: rebuild of %s: %s", how, build_models[k], st ? err.message : "");
        if (st) continue;
        lucid_plan_info a, b;
        lucid_plan_get_info(plans[k], &a);
        lucid_plan_get_info(again, &b);
        int timed = 0, differ = 0;
        for (size_t i = 0; i < b.num_layers; i++) {
            lucid_layer_info la, lb;
            lucid_plan_layer(again, i, &lb);
            for (size_t q = 0; q < lb.num_candidates; q++) {
                lucid_candidate_info ci;
                if (!lucid_plan_candidate(again, i, q, &ci) && ci.timed) timed++;
            }
            if (i >= a.num_layers || lucid_plan_layer(plans[k], i, &la) ||
                strcmp(la.tactic, lb.tactic) != 0)
                differ++;
        }
        CHECK(a.num_layers == b.num_layers && timed == 0 && differ == 0,
              "%s: %s (%d threads) rebuilt from the shared cache: %d candidates timed again "
              "(want 0: the cache lacks them), %d of %zu layers with another tactic",
              how, build_models[k], k + 1, timed, differ, b.num_layers);
        lucid_plan_destroy(again);
    }
}

static void test_builds_threads(void)
{
    char cache[512];
    snprintf(cache, sizeof cache, "%s/threads.cache", tmpdir);
    pthread_t t[N_BUILDS];
    build_job jobs[N_BUILDS];
    double t0 = now_s();
    for (int k = 0; k < N_BUILDS; k++) {
        jobs[k] = (build_job){.k = k, .cache = cache};
        CHECK(pthread_create(&t[k], NULL, build_thread, &jobs[k]) == 0, "build thread %d", k);
    }
    lucid_plan_t *plans[N_BUILDS];
    for (int k = 0; k < N_BUILDS; k++) {
        pthread_join(t[k], NULL);
        CHECK(jobs[k].st == 0, "concurrent build of %s: %s", build_models[k],
              jobs[k].st ? jobs[k].err.message : "");
        plans[k] = jobs[k].plan;
    }
    printf("builds: %d concurrent builds in threads sharing one timing cache, %.1f s\n",
           N_BUILDS, now_s() - t0);
    check_shared_cache(cache, plans, "threads");
    for (int k = 0; k < N_BUILDS; k++) lucid_plan_destroy(plans[k]);
}

/* Starts this executable again with args (fork and exec: the child starts with one thread,
 * whatever this process runs). */
static pid_t spawn(char *const *args)
{
    pid_t pid = fork();
    if (pid == 0) {
        execv("/proc/self/exe", args);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int status = 0;
    if (pid <= 0 || waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* child: builds one model with the shared cache and saves its plan */
static int child_build(int k, const char *cache, const char *plan_path)
{
    lucid_error err;
    lucid_plan_t *plan = NULL;
    lucid_status st = build_model(build_models[k], k + 1, cache, &plan, &err);
    if (!st) st = lucid_plan_save(plan, plan_path, &err);
    if (st) printf("child build %s: %s\n", build_models[k], err.message);
    lucid_plan_destroy(plan);
    return st ? 1 : 0;
}

static void test_builds_processes(void)
{
    char cache[512], plan_paths[N_BUILDS][512], kbuf[N_BUILDS][8];
    snprintf(cache, sizeof cache, "%s/processes.cache", tmpdir);
    pid_t pids[N_BUILDS];
    double t0 = now_s();
    for (int k = 0; k < N_BUILDS; k++) {
        snprintf(plan_paths[k], sizeof plan_paths[k], "%s/child%d.plan", tmpdir, k);
        snprintf(kbuf[k], sizeof kbuf[k], "%d", k);
        char *args[] = {"test_concurrency", "--child-build", kbuf[k], cache, plan_paths[k],
                        NULL};
        pids[k] = spawn(args);
        CHECK(pids[k] > 0, "build process %d started", k);
    }
    lucid_plan_t *plans[N_BUILDS] = {NULL};
    for (int k = 0; k < N_BUILDS; k++) {
        int rc = wait_exit(pids[k]);
        CHECK(rc == 0, "build process of %s exited %d", build_models[k], rc);
        lucid_error err;
        if (rc == 0)
            CHECK(lucid_plan_load(plan_paths[k], &plans[k], &err) == 0, "plan of %s loads: %s",
                  build_models[k], err.message);
    }
    printf("builds: %d concurrent builds in processes sharing one timing cache, %.1f s\n",
           N_BUILDS, now_s() - t0);
    check_shared_cache(cache, plans, "processes");
    for (int k = 0; k < N_BUILDS; k++) lucid_plan_destroy(plans[k]);
}

/* ---- cache and plan files written by many processes at once ----------------------------- */

enum { WRITERS = 6, KEYS_PER_WRITER = 20, CALIB_TENSORS = 8 };

static void writer_key(int w, int j, char *key, size_t len)
{
    snprintf(key, len, "%016x/stress.w%d.%d", (unsigned)(w * 1000 + j), w, j);
}

/* child w: for `seconds`, merges its timing entries into the shared cache and reads it back
 * (every read must parse and, once its own save returned, hold all of its keys: a merge never
 * loses entries), writes its calibration table and reads back a whole one (all thresholds of
 * one writer), and saves and loads the shared plan file. Exits with the number of failures
 * (at most 100); prints what it did. */
static int child_files(int w, const char *dir, double seconds)
{
    char tc[512], cc[512], pf[512], src[512];
    snprintf(tc, sizeof tc, "%s/stress.cache", dir);
    snprintf(cc, sizeof cc, "%s/stress.calib", dir);
    snprintf(pf, sizeof pf, "%s/stress.plan", dir);
    snprintf(src, sizeof src, "%s/plan%d.plan", dir, w % 2);
    lucid_error err;
    int failures = 0, iters = 0;
    lucid_plan_t *plan = NULL;
    if (lucid_plan_load(src, &plan, &err)) {
        printf("writer %d: %s\n", w, err.message);
        return 1;
    }
    lucid_calib_entry entries[CALIB_TENSORS];
    char names[CALIB_TENSORS][16];
    for (int i = 0; i < CALIB_TENSORS; i++) {
        snprintf(names[i], sizeof names[i], "t%d", i);
        entries[i] = (lucid_calib_entry){.name = names[i], .threshold = w + 0.25};
    }
    lucid_calib_table table = {.entries = entries, .n = CALIB_TENSORS,
                               .calibrator = LUCID_CALIBRATOR_PERCENTILE, .percentile = 99.99,
                               .samples = (size_t)w};
    snprintf(table.source, sizeof table.source, "writer %d", w);
    double end = now_s() + seconds;
    while (now_s() < end && failures < 100) {
        iters++;
        /* timing cache */
        lucid_timing_cache *mine = lucid_timing_cache_create();
        char key[96];
        for (int j = 0; j < KEYS_PER_WRITER; j++) {
            writer_key(w, j, key, sizeof key);
            lucid_timing_cache_put(mine, key, w + j / 1000.0 + iters * 1e-6);
        }
        if (lucid_timing_cache_save(mine, tc, &err)) {
            printf("writer %d: timing cache save: %s\n", w, err.message);
            failures++;
        }
        lucid_timing_cache_destroy(mine);
        lucid_timing_cache *read = NULL;
        if (lucid_timing_cache_load(tc, &read, &err)) {
            printf("writer %d: timing cache load: %s\n", w, err.message);
            failures++;
        } else {
            double ms;
            for (int j = 0; j < KEYS_PER_WRITER; j++) {
                writer_key(w, j, key, sizeof key);
                if (!lucid_timing_cache_get(read, key, &ms)) {
                    printf("writer %d: own key %s lost from the timing cache\n", w, key);
                    failures++;
                    break;
                }
            }
        }
        lucid_timing_cache_destroy(read);
        /* calibration cache: last writer wins, whole */
        if (lucid_calib_cache_save(&table, cc, &err)) {
            printf("writer %d: calibration cache save: %s\n", w, err.message);
            failures++;
        }
        lucid_calib_table *ct = NULL;
        if (lucid_calib_cache_load(cc, &ct, &err)) {
            printf("writer %d: calibration cache load: %s\n", w, err.message);
            failures++;
        } else {
            int from = (int)ct->samples;
            bool whole = ct->n == CALIB_TENSORS && from >= 0 && from < WRITERS;
            for (size_t i = 0; whole && i < ct->n; i++)
                whole = ct->entries[i].threshold == from + 0.25;
            if (!whole) {
                printf("writer %d: calibration cache mixes writers\n", w);
                failures++;
            }
            lucid_calib_table_destroy(ct);
        }
        /* plan file */
        if (lucid_plan_save(plan, pf, &err)) {
            printf("writer %d: plan save: %s\n", w, err.message);
            failures++;
        }
        lucid_plan_t *back = NULL;
        if (lucid_plan_load(pf, &back, &err)) {
            printf("writer %d: plan load: %s\n", w, err.message);
            failures++;
        }
        lucid_plan_destroy(back);
    }
    lucid_plan_destroy(plan);
    printf("writer %d: %d rounds, %d failures\n", w, iters, failures);
    return failures > 100 ? 100 : failures;
}

static void test_file_stress(void)
{
    /* two different plans for the writers to save over each other */
    for (int k = 0; k < 2; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/plan%d.plan", tmpdir, k);
        lucid_error err;
        lucid_plan_t *plan = NULL;
        lucid_status st = build_model("lenet5", k + 1, NULL, &plan, &err);
        if (!st) st = lucid_plan_save(plan, path, &err);
        lucid_plan_destroy(plan);
        CHECK(st == 0, "stress plan %d: %s", k, st ? err.message : "");
        if (st) return;
    }
    char wbuf[WRITERS][8], secs[32];
    snprintf(secs, sizeof secs, "%g", 2.0 * scale);
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        snprintf(wbuf[w], sizeof wbuf[w], "%d", w);
        char *args[] = {"test_concurrency", "--child-files", wbuf[w], tmpdir, secs, NULL};
        pids[w] = spawn(args);
        CHECK(pids[w] > 0, "writer %d started", w);
    }
    for (int w = 0; w < WRITERS; w++) {
        int rc = wait_exit(pids[w]);
        CHECK(rc == 0, "writer %d: %d failures (or exit status)", w, rc);
    }
    /* the union of every writer's entries */
    char tc[512];
    snprintf(tc, sizeof tc, "%s/stress.cache", tmpdir);
    lucid_error err;
    lucid_timing_cache *c = NULL;
    int missing = 0;
    CHECK(lucid_timing_cache_load(tc, &c, &err) == 0, "the stressed timing cache loads: %s",
          err.message);
    for (int w = 0; c && w < WRITERS; w++)
        for (int j = 0; j < KEYS_PER_WRITER; j++) {
            char key[96];
            double ms;
            writer_key(w, j, key, sizeof key);
            missing += !lucid_timing_cache_get(c, key, &ms);
        }
    CHECK(c && missing == 0, "the timing cache holds every writer's entries (%d missing)",
          missing);
    lucid_timing_cache_destroy(c);
    CHECK(count_temp_files() == 0, "no temporary file left after the writers (%d)",
          count_temp_files());
}

/* ---- main --------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    const char *s = getenv("LUCID_CONCURRENCY_SCALE");
    if (s && atof(s) > 0) scale = atof(s);
    if (argc == 5 && strcmp(argv[1], "--child-build") == 0)
        return child_build(atoi(argv[2]), argv[3], argv[4]);
    if (argc == 5 && strcmp(argv[1], "--child-files") == 0)
        return child_files(atoi(argv[2]), argv[3], atof(argv[4]));

    snprintf(tmpdir, sizeof tmpdir, "/tmp/lucid_concurrency_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("cannot create a temporary folder\n");
        return 1;
    }
    double t0 = now_s();
    test_pools();
    test_contexts("lenet5", 2, 4, scaled(150));
    test_contexts("resnet", 2, 3, scaled(12));
    test_contexts("mobilenet", 1, 3, scaled(12));
    test_builds_threads();
    test_builds_processes();
    test_file_stress();
    printf("total %.1f s (scale %g)\n", now_s() - t0, scale);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", tmpdir);
    return test_summary();
}
