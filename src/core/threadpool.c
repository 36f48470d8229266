/* threadpool.c - persistent workers woken per loop; contiguous static chunks. */
#include "core/threadpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct lucid_threadpool {
    int size;
    pthread_t *workers;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long generation; /* bumped for every loop */
    int pending;              /* workers still busy with the current loop */
    int stop;
    /* the current loop */
    lucid_task_fn fn;
    void *ctx;
    size_t n, chunk;
};

typedef struct worker_arg {
    lucid_threadpool *pool;
    int index;
} worker_arg;

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
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_chunk(p, index);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

lucid_threadpool *lucid_threadpool_create(int threads)
{
    if (threads <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (int)online : 1;
    }
    if (threads > 1024) threads = 1024;
    lucid_threadpool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->size = threads;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return NULL;
    }
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->workers = calloc((size_t)threads, sizeof *p->workers);
    if (!p->workers) goto fail;
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
    p->size = threads;
    return p;
fail:
    lucid_threadpool_destroy(p);
    return NULL;
}

void lucid_threadpool_destroy(lucid_threadpool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->size; i++)
        if (p->workers && p->workers[i]) pthread_join(p->workers[i], NULL);
    free(p->workers);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = per * grain;
    p->pending = p->size - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_chunk(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
