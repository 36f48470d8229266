/* test_threadpool.c - the thread pool's contract (src/core/threadpool.h), whichever
 * implementation is compiled in (OpenMP team or pthreads): every item of a loop runs exactly
 * once, in the chunk its index says, with the documented boundaries, for every pool size;
 * loops back to back; pools used from several threads at once, and a pool created on one
 * thread and run from another. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "test_util.h"

typedef struct record {
    size_t n, chunk; /* the loop, and the chunk size the contract gives */
    int size;
    atomic_int *runs;  /* per item: how many times it ran */
    atomic_int *owner; /* per item: the chunk index it ran in */
    atomic_int bad;    /* calls with a bad range or index */
} record;

static void note(void *ctx, size_t begin, size_t end, int thread)
{
    record *r = ctx;
    if (begin >= end || end > r->n || thread < 0 || thread >= r->size ||
        begin != (size_t)thread * r->chunk || (end != r->n && end != begin + r->chunk)) {
        atomic_fetch_add(&r->bad, 1);
        return;
    }
    for (size_t i = begin; i < end; i++) {
        atomic_fetch_add(&r->runs[i], 1);
        atomic_store(&r->owner[i], thread);
    }
}

/* Runs one loop and checks it; returns the number of problems found. */
static int check_loop(lucid_threadpool *pool, size_t n, size_t grain)
{
    record r = {.n = n, .size = lucid_threadpool_size(pool)};
    size_t g = grain ? grain : 1, units = (n + g - 1) / g;
    r.chunk = r.size == 1 || units <= 1 ? n : (units + (size_t)r.size - 1) / (size_t)r.size * g;
    r.runs = calloc(n ? n : 1, sizeof *r.runs);
    r.owner = calloc(n ? n : 1, sizeof *r.owner);
    atomic_init(&r.bad, 0);
    lucid_threadpool_run(pool, n, grain, note, &r);
    int problems = atomic_load(&r.bad);
    for (size_t i = 0; i < n; i++) {
        if (atomic_load(&r.runs[i]) != 1) problems++;
        int want = r.chunk ? (int)(i / r.chunk) : 0;
        if (atomic_load(&r.owner[i]) != want) problems++;
    }
    free(r.runs);
    free(r.owner);
    return problems;
}

typedef struct worker_job {
    lucid_threadpool *pool; /* NULL: the thread makes its own */
    int threads, loops, problems;
} worker_job;

static void *worker(void *arg)
{
    worker_job *j = arg;
    lucid_threadpool *own = j->pool ? NULL : lucid_threadpool_create(j->threads);
    lucid_threadpool *pool = j->pool ? j->pool : own;
    if (!pool) {
        j->problems = -1;
        return NULL;
    }
    for (int k = 0; k < j->loops; k++) j->problems += check_loop(pool, 1 + (size_t)(k * 37 % 500), 1 + k % 7);
    lucid_threadpool_destroy(own);
    return NULL;
}

int main(void)
{
    /* every size, loop length and grain: exactly once, in the right chunk */
    CHECK(lucid_threadpool_size(NULL) == 1, "a NULL pool has one thread");
    CHECK(check_loop(NULL, 100, 3) == 0, "a NULL pool runs the whole loop on the caller");
    for (int threads = 1; threads <= 5; threads++) {
        lucid_threadpool *pool = lucid_threadpool_create(threads);
        CHECK(pool != NULL, "pool of %d threads created", threads);
        if (!pool) continue;
        CHECK(lucid_threadpool_size(pool) == threads, "size %d, asked %d",
              lucid_threadpool_size(pool), threads);
        const size_t lengths[] = {0, 1, 2, 3, 7, 16, 17, 100, 1001, 65536};
        const size_t grains[] = {0, 1, 2, 5, 16, 1000};
        int problems = 0;
        for (size_t a = 0; a < sizeof lengths / sizeof *lengths; a++)
            for (size_t b = 0; b < sizeof grains / sizeof *grains; b++)
                problems += check_loop(pool, lengths[a], grains[b]);
        CHECK(problems == 0, "%d threads: %d items ran not once or in the wrong chunk", threads,
              problems);
        /* many short loops back to back: the hand-off between loops */
        problems = 0;
        for (int k = 0; k < 20000; k++) problems += check_loop(pool, (size_t)threads * 2, 1);
        CHECK(problems == 0, "%d threads, 20000 loops back to back: %d problems", threads,
              problems);
        lucid_threadpool_destroy(pool);
    }
    lucid_threadpool *dflt = lucid_threadpool_create(0);
    CHECK(dflt && lucid_threadpool_size(dflt) >= 1, "threads <= 0 means one per core");
    if (dflt) CHECK(check_loop(dflt, 1000, 1) == 0, "the default pool runs a loop");
    lucid_threadpool_destroy(dflt);

    /* four threads at once, each with its own pool (as contexts of one plan run in parallel) */
    pthread_t t[4];
    worker_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (worker_job){.threads = 1 + i % 3, .loops = 2000};
        CHECK(pthread_create(&t[i], NULL, worker, &jobs[i]) == 0, "thread %d started", i);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(jobs[i].problems == 0, "concurrent pool %d: %d problems", i, jobs[i].problems);
    }
    /* a pool created here and run from another thread */
    lucid_threadpool *moved = lucid_threadpool_create(2);
    worker_job mj = {.pool = moved, .threads = 2, .loops = 2000};
    pthread_t mt;
    CHECK(moved && pthread_create(&mt, NULL, worker, &mj) == 0, "thread for the moved pool");
    if (moved) {
        pthread_join(mt, NULL);
        CHECK(mj.problems == 0, "pool run from another thread: %d problems", mj.problems);
    }
    lucid_threadpool_destroy(moved);
    printf("pool implementation: %s\n", lucid_threadpool_uses_openmp() ? "OpenMP" : "pthreads");
    return test_summary();
}
