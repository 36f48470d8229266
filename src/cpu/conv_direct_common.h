/* conv_direct_common.h - what lucid's direct-family conv tactics (depthwise, direct, winograd)
 * share: the zero-padded, stride-phase-split input planes their inner loops read, of a
 * convolution resolved by ops/conv.h. */
#ifndef LUCID_CPU_CONV_DIRECT_COMMON_H
#define LUCID_CPU_CONV_DIRECT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/conv.h"

/* Input planes are read through a padded copy split into stride phases along the width:
 * padded column j lives in phase j % sw at index j / sw, so the input column of output
 * column o and kernel column kx is phase (kx*dw) % sw, index o + (kx*dw) / sw - contiguous
 * in o for every stride. Rows stay unsplit. These are the copy's sizes in floats, with a
 * block of vectors' worth of slack at the end of each phase row for unmasked loads. */
typedef struct lucid_dconv_plane {
    int64_t rows;      /* padded rows: (oh-1)*sh + (kh-1)*dh + 1 */
    int64_t phase_w;   /* floats per phase row */
    int64_t row_floats; /* sw * phase_w: one padded row, all phases */
} lucid_dconv_plane;

void lucid_dconv_plane_shape(const lucid_dconv *c, lucid_dconv_plane *p);
/* Copies input plane x (ih x iw) into dst with pad value fill in the padding. */
void lucid_dconv_plane_fill(const lucid_dconv *c, const lucid_dconv_plane *p, const float *x,
                            float fill, float *dst);

#endif
