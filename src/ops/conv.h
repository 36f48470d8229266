/* conv.h - Conv's parsed attributes, shared with lucid's fused convolution (fused.c) and the
 * passes that rewrite convolutions. */
#ifndef LUCID_OPS_CONV_H
#define LUCID_OPS_CONV_H

#include "ops/op.h"

#define LUCID_CONV_MAX_SPATIAL (LUCID_MAX_RANK - 2)

typedef enum lucid_conv_auto_pad {
    LUCID_CONV_PAD_NOTSET,
    LUCID_CONV_PAD_SAME_UPPER,
    LUCID_CONV_PAD_SAME_LOWER,
    LUCID_CONV_PAD_VALID,
} lucid_conv_auto_pad;

/* The params of Conv and ConvTranspose nodes. Conv's parse, infer, cost and run (through
 * lucid_op_def_conv) read a node's params as this struct, so an op whose params begin with
 * one (FusedConv) can call them on its own nodes. */
typedef struct lucid_conv_params {
    lucid_conv_auto_pad auto_pad;
    int64_t group;
    size_t n_kernel, n_strides, n_dilations, n_pads, n_out_pad, n_out_shape;
    int64_t kernel[LUCID_CONV_MAX_SPATIAL];
    int64_t strides[LUCID_CONV_MAX_SPATIAL];
    int64_t dilations[LUCID_CONV_MAX_SPATIAL];
    int64_t pads[2 * LUCID_CONV_MAX_SPATIAL];
    int64_t out_pad[LUCID_CONV_MAX_SPATIAL]; /* ConvTranspose output_padding */
    int64_t out_shape[LUCID_MAX_RANK];       /* ConvTranspose output_shape */
} lucid_conv_params;

#endif
