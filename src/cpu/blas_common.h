/* blas_common.h - OpenBLAS threading for the blas tactics. OpenBLAS runs its own pthread pool
 * whose size is one process-wide setting (openblas_set_num_threads), not lucid's pool: each
 * run sets it to its context's thread count. Two contexts with different thread counts
 * running blas layers at the same moment race on that setting (results stay correct, the
 * thread count of one of them is the other's); the tactics are THREAD_DEPENDENT because
 * OpenBLAS splits its reductions by thread count. */
#ifndef LUCID_CPU_BLAS_COMMON_H
#define LUCID_CPU_BLAS_COMMON_H

#ifdef LUCID_HAVE_BLAS

#include <cblas.h>

#include "core/threadpool.h"
#include "tactics/tactic.h"

static inline void lucid_blas_threads_set(const lucid_threadpool *pool)
{
    int want = lucid_threadpool_size(pool);
    /* setting it is not free in OpenBLAS (it may wake or park its threads) */
    if (openblas_get_num_threads() != want) openblas_set_num_threads(want);
}

#endif
#endif
