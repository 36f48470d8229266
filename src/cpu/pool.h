/* pool.h - the state and threading shared by the pooling tactics (generic and AVX-512 differ
 * only in how one output row or one global plane is reduced). */
#ifndef LUCID_CPU_POOL_H
#define LUCID_CPU_POOL_H

#include "cpu/conv_direct_common.h"
#include "ops/pool.h"
#include "tactics/tactic.h"

typedef struct lucid_pool_state {
    lucid_pool2d w;      /* the layer: window geometry, divisors (freed with the state) */
    lucid_dconv_plane plane;
    /* tactics' own per-layer tables (freed with the state) */
    uint16_t *masks;
    int64_t mask_chunks;
} lucid_pool_state;

/* One output row of a windowed pool from the padded plane at its first input row; count is
 * the row's divisors (average only). */
typedef void (*lucid_pool_row_fn)(const lucid_pool_state *s, const float *xp,
                                  const float *count, float *y);
/* One plane of a global pool. */
typedef float (*lucid_pool_global_fn)(const float *x, int64_t n, bool is_max);

bool lucid_pool_supports(const lucid_graph *g, const lucid_node *n, bool is_max, char *why,
                         size_t why_len);
lucid_status lucid_pool_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                void **state, lucid_error *err);
void lucid_pool_release(void *state);
size_t lucid_pool_workspace(const void *state, int threads);
/* Planes per thread-pool grain: enough that each chunk is worth a thread hand-off. */
size_t lucid_pool_grain(const lucid_pool_state *s);
lucid_status lucid_pool_run(const lucid_pool_state *s, const lucid_array *in, lucid_array *out,
                            void *workspace, lucid_threadpool *pool, lucid_pool_row_fn row,
                            lucid_pool_global_fn global);

#endif
