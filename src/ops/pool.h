/* pool.h - a 2-D MaxPool, AveragePool, GlobalMaxPool or GlobalAveragePool resolved from its
 * parsed params and inferred shapes: what the pooling tactics of every backend read. */
#ifndef LUCID_OPS_POOL_H
#define LUCID_OPS_POOL_H

#include "ops/conv.h"

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
