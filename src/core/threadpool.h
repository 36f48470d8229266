/* threadpool.h - a fixed pool of worker threads for data-parallel loops, created once per
 * execution context (no thread creation on the run path). */
#ifndef LUCID_CORE_THREADPOOL_H
#define LUCID_CORE_THREADPOOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lucid_threadpool lucid_threadpool;

/* Runs items [begin, end) of a loop on thread `thread` (0 = the caller). */
typedef void (*lucid_task_fn)(void *ctx, size_t begin, size_t end, int thread);

/* A pool running loops on `threads` threads in all, the caller included (threads - 1
 * workers). threads <= 0 means one per online core. NULL on failure. */
lucid_threadpool *lucid_threadpool_create(int threads);
void lucid_threadpool_destroy(lucid_threadpool *pool);
/* Threads a loop may use (>= 1). A NULL pool has 1. */
int lucid_threadpool_size(const lucid_threadpool *pool);
/* Splits [0, n) into at most size() contiguous chunks of whole multiples of `grain` items
 * (the last may be shorter) and runs fn on each, the caller taking the first; returns when
 * all are done. The split depends only on n, grain and the pool size, so a kernel that
 * reduces within its chunk in a fixed order is deterministic for a given thread count.
 * A NULL pool runs fn(ctx, 0, n, 0) on the caller. Not reentrant: fn must not call it. */
void lucid_threadpool_run(lucid_threadpool *pool, size_t n, size_t grain, lucid_task_fn fn,
                          void *ctx);
/* True when the pool runs its loops on the OpenMP team of the calling thread (the threads
 * oneDNN's layers run on), false when it owns pthreads. */
bool lucid_threadpool_uses_openmp(void);

#endif
