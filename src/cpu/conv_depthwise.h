/* conv_depthwise.h - the state and threading shared by the depthwise conv tactics (generic
 * and AVX-512 differ only in how one output row is computed). */
#ifndef LUCID_CPU_CONV_DEPTHWISE_H
#define LUCID_CPU_CONV_DEPTHWISE_H

#include "cpu/conv_direct_common.h"
#include "tactics/tactic.h"

typedef struct lucid_dw_state {
    lucid_dconv c;
    lucid_dconv_plane plane;
    int64_t mult; /* output channels per input channel */
    float *w;     /* oc x kh x kw, copied so the plan does not depend on the graph's buffers */
    /* tactics' own per-layer tables (freed with the state) */
    uint16_t *masks;
    int64_t mask_chunks;
} lucid_dw_state;

/* Output rows [0, rows) of one plane: y[oy][o] = act(bias + sum_k w[k] * x[...] + z[oy][o])
 * for o < ow; xp is the padded plane (output row oy reads from xp + oy * sh * row_floats),
 * y and z (NULL without a residual) are the output and residual planes. */
typedef void (*lucid_dw_rows_fn)(const lucid_dw_state *s, const float *xp, const float *w,
                                 float bias, const float *z, float *y, int64_t rows);

/* Copies input plane x into the zero-padded, phase-split plane dst (s->plane's shape). */
typedef void (*lucid_dw_fill_fn)(const lucid_dw_state *s, const float *x, float *dst);

/* The portable fill (lucid_dconv_plane_fill with zero padding). */
void lucid_dw_fill_generic(const lucid_dw_state *s, const float *x, float *dst);

bool lucid_dw_supports(const lucid_graph *g, const lucid_node *n, char *why, size_t why_len);
lucid_status lucid_dw_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                              void **state, lucid_error *err);
void lucid_dw_release(void *state);
size_t lucid_dw_workspace(const void *state, int threads);
lucid_status lucid_dw_run(const lucid_dw_state *s, const lucid_array *in, int n_in,
                          lucid_array *out, void *workspace, lucid_threadpool *pool,
                          lucid_dw_fill_fn fill, lucid_dw_rows_fn row);

#endif
