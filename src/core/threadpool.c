/* threadpool.c - persistent workers for data-parallel loops; contiguous static chunks.
 *
 * A network runs hundreds of short parallel loops, so hand-off latency matters more than
 * anything else here: workers and the caller spin on atomics for a while (a few tens of
 * microseconds) before falling back to sleeping on a condition variable, so back-to-back
 * layers never pay a futex wake-up, and an idle pool costs no CPU.
 *
 * Chunk i belongs to thread i, but whoever claims it first runs it: the caller, done with
 * chunk 0, takes the chunks of workers that have not started (asleep, or their core taken by
 * another process) instead of waiting for them. A chunk keeps its boundaries and its index
 * (the scratch slot tactics give it) whoever runs it, so results do not change.
 *
 * Two implementations of the same contract. With LUCID_POOL_OPENMP (builds with oneDNN, whose
 * Debian package runs its primitives on OpenMP) the loops run on the OpenMP team of the
 * calling thread, the threads oneDNN's layers run on: a plan that mixes lucid's kernels and
 * oneDNN's then has one set of threads instead of two sets competing for the same cores.
 * Otherwise the pool owns pthreads, as described above. */
#include "core/threadpool.h"

#ifdef LUCID_POOL_OPENMP
#include <omp.h>
#endif

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

/* The thread count a pool gets: threads <= 0 means one per online core; at most 1024. */
static int pool_threads(int threads)
{
    if (threads <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (int)online : 1;
    }
    return threads > 1024 ? 1024 : threads;
}

#ifdef LUCID_POOL_OPENMP

struct lucid_threadpool {
    int size;
    atomic_ulong generation; /* bumped for every loop */
    atomic_ulong *claimed;   /* per chunk: the last generation that claimed it */
};

static bool claim(lucid_threadpool *p, int index, unsigned long gen)
{
    unsigned long c = atomic_load_explicit(&p->claimed[index], memory_order_relaxed);
    return c < gen && atomic_compare_exchange_strong(&p->claimed[index], &c, gen);
}

lucid_threadpool *lucid_threadpool_create(int threads)
{
    threads = pool_threads(threads);
    lucid_threadpool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->claimed = calloc((size_t)threads, sizeof *p->claimed);
    if (!p->claimed) {
        free(p);
        return NULL;
    }
    p->size = threads;
    atomic_init(&p->generation, 0);
    for (int i = 0; i < threads; i++) atomic_init(&p->claimed[i], 0);
    /* OpenMP starts the calling thread's team on its first parallel region: start it here,
     * not on the first run (a thread that runs the pool later gets its own team then) */
#pragma omp parallel num_threads(threads)
    {
        (void)0;
    }
    return p;
}

void lucid_threadpool_destroy(lucid_threadpool *p)
{
    if (!p) return;
    free(p->claimed);
    free(p);
}

int lucid_threadpool_size(const lucid_threadpool *p)
{
    return p ? p->size : 1;
}

void lucid_threadpool_run(lucid_threadpool *p, size_t n, size_t grain, lucid_task_fn fn,
                          void *ctx)
{
    if (n == 0) return;
    if (grain == 0) grain = 1;
    size_t units = (n + grain - 1) / grain;
    if (!p || p->size == 1 || units == 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    const size_t chunk = (units + (size_t)p->size - 1) / (size_t)p->size * grain;
    const int chunks = (int)((n + chunk - 1) / chunk); /* the non-empty ones, <= size */
    const unsigned long gen = atomic_fetch_add(&p->generation, 1) + 1;
    /* Thread t runs chunk t, then any chunk nobody has started: a team smaller than asked
     * (a nested region runs on one thread) still runs them all, with the same boundaries. */
#pragma omp parallel num_threads(chunks)
    {
        const int me = omp_get_thread_num();
        for (int k = 0; k < chunks; k++) {
            int i = (me + k) % chunks;
            if (!claim(p, i, gen)) continue;
            size_t begin = (size_t)i * chunk, end = begin + chunk;
            fn(ctx, begin, end > n ? n : end, i);
        }
    }
}

bool lucid_threadpool_uses_openmp(void)
{
    return true;
}

#else /* pthreads */

#include <pthread.h>
#include <sched.h>

/* Spins before sleeping: a few microseconds to tens of them, depending on the core. */
#define SPIN_ROUNDS 4000

struct lucid_threadpool {
    int size;
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_ulong generation; /* bumped for every loop */
    atomic_int pending;      /* chunks 1.. of the current loop claimed but not finished, or
                                not claimed yet */
    atomic_ulong *claimed;   /* per chunk: the last generation that claimed it */
    atomic_int sleepers;     /* workers blocked on `wake` */
    atomic_int stop;
    /* the current loop, published before generation is bumped */
    lucid_task_fn fn;
    void *ctx;
    size_t n, chunk;
};

typedef struct worker_arg {
    lucid_threadpool *pool;
    int index;
} worker_arg;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claims chunk index for loop gen; false if someone already did. */
static bool claim(lucid_threadpool *p, int index, unsigned long gen)
{
    unsigned long c = atomic_load_explicit(&p->claimed[index], memory_order_relaxed);
    return c < gen && atomic_compare_exchange_strong(&p->claimed[index], &c, gen);
}

static void run_chunk(lucid_threadpool *p, int index)
{
    size_t begin = (size_t)index * p->chunk;
    if (begin >= p->n) return;
    size_t end = begin + p->chunk;
    if (end > p->n) end = p->n;
    p->fn(p->ctx, begin, end, index);
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    lucid_threadpool *p = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        /* wait for a new loop: spin first, then sleep */
        unsigned long gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        for (int i = 0; gen == seen && i < SPIN_ROUNDS; i++) {
            if (atomic_load_explicit(&p->stop, memory_order_relaxed)) return NULL;
            cpu_relax();
            gen = atomic_load_explicit(&p->generation, memory_order_acquire);
        }
        if (gen == seen) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (!atomic_load(&p->stop) &&
                   (gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = gen;
        if (claim(p, index, gen)) {
            run_chunk(p, index);
            atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
        }
    }
}

lucid_threadpool *lucid_threadpool_create(int threads)
{
    threads = pool_threads(threads);
    lucid_threadpool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->size = 1;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return NULL;
    }
    pthread_cond_init(&p->wake, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->stop, 0);
    p->workers = calloc((size_t)threads, sizeof *p->workers);
    p->claimed = calloc((size_t)threads, sizeof *p->claimed);
    if (!p->workers || !p->claimed) goto fail;
    for (int i = 0; i < threads; i++) atomic_init(&p->claimed[i], 0);
    for (int i = 1; i < threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) goto fail;
        wa->pool = p;
        wa->index = i;
        if (pthread_create(&p->workers[i], NULL, worker_main, wa) != 0) {
            free(wa);
            goto fail;
        }
        p->size = i + 1; /* workers started so far, plus the caller */
    }
    return p;
fail:
    lucid_threadpool_destroy(p);
    return NULL;
}

void lucid_threadpool_destroy(lucid_threadpool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->size; i++)
        if (p->workers && p->workers[i]) pthread_join(p->workers[i], NULL);
    free(p->workers);
    free(p->claimed);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int lucid_threadpool_size(const lucid_threadpool *p)
{
    return p ? p->size : 1;
}

void lucid_threadpool_run(lucid_threadpool *p, size_t n, size_t grain, lucid_task_fn fn,
                          void *ctx)
{
    if (n == 0) return;
    if (grain == 0) grain = 1;
    size_t units = (n + grain - 1) / grain;
    if (!p || p->size == 1 || units == 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    size_t per = (units + (size_t)p->size - 1) / (size_t)p->size;
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = per * grain;
    atomic_store_explicit(&p->pending, p->size - 1, memory_order_relaxed);
    /* release: workers that see the new generation see the loop's fields */
    unsigned long gen = atomic_fetch_add(&p->generation, 1) + 1; /* seq_cst: ordered before
                                                                     reading sleepers */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    run_chunk(p, 0);
    /* the chunks no worker has started yet are the caller's */
    for (int i = 1; i < p->size; i++)
        if (claim(p, i, gen)) {
            run_chunk(p, i);
            atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
        }
    /* the workers' chunks in flight: spin, then yield the core to them */
    for (int i = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; i++) {
        if (i < SPIN_ROUNDS)
            cpu_relax();
        else
            sched_yield();
    }
}

bool lucid_threadpool_uses_openmp(void)
{
    return false;
}

#endif /* LUCID_POOL_OPENMP */
