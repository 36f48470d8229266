/* movement.h - the parsed parameters of Slice and Transpose, which graph passes (views) and
 * CPU tactics (fast copies) read once inference has resolved them. */
#ifndef LUCID_OPS_MOVEMENT_H
#define LUCID_OPS_MOVEMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "ir/graph.h"

#include "lucid.h"

typedef struct lucid_slice_params {
    int64_t start[LUCID_MAX_RANK], step[LUCID_MAX_RANK]; /* resolved by infer, per dim */
} lucid_slice_params;

typedef struct lucid_transpose_params {
    int perm[LUCID_MAX_RANK]; /* resolved by infer: output dim i is input dim perm[i] */
} lucid_transpose_params;

/* Pad, resolved by infer: per axis, elements added before (negative: removed); the input's
 * dims (added after = output dim - input dim - begin). */
typedef enum lucid_pad_mode {
    LUCID_PAD_CONSTANT,
    LUCID_PAD_REFLECT,
    LUCID_PAD_EDGE,
    LUCID_PAD_WRAP
} lucid_pad_mode;

typedef struct lucid_pad_params {
    lucid_pad_mode mode;
    float value;                   /* the constant before opset 11 (later: input 2) */
    int64_t begin[LUCID_MAX_RANK]; /* resolved by infer */
    int64_t in_dims[LUCID_MAX_RANK];
} lucid_pad_params;

/* Resize/Upsample in nearest mode: the input index that output index o of dim d reads, with
 * the reference kernel's coordinate transform and rounding (resize.c). False when the node is
 * not nearest, or o maps outside the input (tf_crop_and_resize extrapolation). */
bool lucid_resize_nearest_index(const lucid_node *n, int d, int64_t o, int64_t in_len,
                                int64_t out_len, int64_t *index);

#endif
