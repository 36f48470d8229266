/* pool.h - the parsed params and window geometry of MaxPool and AveragePool, and a 2-D pool
 * (their global forms too) resolved from them and the inferred shapes: what the pooling
 * tactics of every backend read. */
#ifndef LUCID_OPS_POOL_H
#define LUCID_OPS_POOL_H

#include "ops/conv.h"

#define LUCID_POOL_MAX_SPATIAL (LUCID_MAX_RANK - 2)

/* The params of MaxPool and AveragePool nodes (counts 0 where an attribute is absent). */
typedef struct lucid_pool_params {
    lucid_auto_pad auto_pad;
    int64_t ceil_mode, count_include_pad, storage_order;
    size_t n_kernel, n_strides, n_dilations, n_pads;
    int64_t kernel[LUCID_POOL_MAX_SPATIAL];
    int64_t strides[LUCID_POOL_MAX_SPATIAL];
    int64_t dilations[LUCID_POOL_MAX_SPATIAL];
    int64_t pads[2 * LUCID_POOL_MAX_SPATIAL];
} lucid_pool_params;

/* A pool's window on an input shape, every padding rule applied as the reference does. */
typedef struct lucid_pool_geom {
    int nsp;
    int64_t planes; /* N * C */
    int64_t in[LUCID_POOL_MAX_SPATIAL], out[LUCID_POOL_MAX_SPATIAL], k[LUCID_POOL_MAX_SPATIAL];
    int64_t s[LUCID_POOL_MAX_SPATIAL], d[LUCID_POOL_MAX_SPATIAL];
    int64_t pb[LUCID_POOL_MAX_SPATIAL], pe[LUCID_POOL_MAX_SPATIAL]; /* pads at begin and end */
    int64_t in_size, out_size, k_size;
} lucid_pool_geom;

/* The geometry of a MaxPool or AveragePool with params p on input X (xr, xd), checked. */
lucid_status lucid_pool_resolve_geometry(const lucid_node *n, const lucid_pool_params *p,
                                         int xr, const int64_t *xd, lucid_pool_geom *g,
                                         lucid_error *err);

typedef struct lucid_pool2d {
    bool is_max, global;
    int64_t planes;   /* N x C */
    int64_t plane_in; /* elements of one input plane */
    lucid_dconv c;    /* windowed pools: the window (channels and activation unused) */
    float *count;     /* average pools: each output's divisor, oh x ow (owned) */
} lucid_pool2d;

/* Resolves node n (float32 NCHW, static shapes) into p; free p->count when done. False, with
 * a reason in why, for forms the tactics leave to the reference (MaxPool's Indices output,
 * windows larger than 64) or out of memory; false with nothing in why for other ops. */
bool lucid_pool2d_resolve(const lucid_graph *g, const lucid_node *n, lucid_pool2d *p, char *why,
                          size_t why_len);

#endif
