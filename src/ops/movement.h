/* movement.h - the parsed parameters of Slice and Transpose, which graph passes (views) and
 * CPU tactics (fast copies) read once inference has resolved them. */
#ifndef LUCID_OPS_MOVEMENT_H
#define LUCID_OPS_MOVEMENT_H

#include <stdint.h>

#include "lucid.h"

typedef struct lucid_slice_params {
    int64_t start[LUCID_MAX_RANK], step[LUCID_MAX_RANK]; /* resolved by infer, per dim */
} lucid_slice_params;

typedef struct lucid_transpose_params {
    int perm[LUCID_MAX_RANK]; /* resolved by infer: output dim i is input dim perm[i] */
} lucid_transpose_params;

#endif
