/* conv.h - Conv's parsed attributes, shared with lucid's fused convolution (fused.c) and the
 * passes that rewrite convolutions, and the resolved 2-D convolution the CPU and CUDA
 * tactics read. */
#ifndef LUCID_OPS_CONV_H
#define LUCID_OPS_CONV_H

#include "ops/activation.h"
#include "ops/op.h"

#define LUCID_CONV_MAX_SPATIAL (LUCID_MAX_RANK - 2)

/* The params of Conv and ConvTranspose nodes. Conv's parse, infer, cost and run (through
 * lucid_op_def_conv) read a node's params as this struct, so an op whose params begin with
 * one (FusedConv) can call them on its own nodes. */
typedef struct lucid_conv_params {
    lucid_auto_pad auto_pad;
    int64_t group;
    size_t n_kernel, n_strides, n_dilations, n_pads, n_out_pad, n_out_shape;
    int64_t kernel[LUCID_CONV_MAX_SPATIAL];
    int64_t strides[LUCID_CONV_MAX_SPATIAL];
    int64_t dilations[LUCID_CONV_MAX_SPATIAL];
    int64_t pads[2 * LUCID_CONV_MAX_SPATIAL];
    int64_t out_pad[LUCID_CONV_MAX_SPATIAL]; /* ConvTranspose output_padding */
    int64_t out_shape[LUCID_MAX_RANK];       /* ConvTranspose output_shape */
} lucid_conv_params;

/* Everything a kernel needs, resolved from a convolution's attributes and actual shapes. */
typedef struct lucid_conv_geom {
    int nsp; /* spatial dims */
    int64_t batch, in_c, out_c, group;
    int64_t in[LUCID_CONV_MAX_SPATIAL], out[LUCID_CONV_MAX_SPATIAL], k[LUCID_CONV_MAX_SPATIAL];
    int64_t s[LUCID_CONV_MAX_SPATIAL], d[LUCID_CONV_MAX_SPATIAL];
    int64_t pb[LUCID_CONV_MAX_SPATIAL], pe[LUCID_CONV_MAX_SPATIAL]; /* pads at begin and end */
    int64_t in_size, out_size, k_size;                              /* spatial element counts */
} lucid_conv_geom;

/* The geometry of a (forward) Conv with params p on input X (x_rank, xd) and weight W
 * (w_rank, wd), every attribute checked against the shapes; for lucid's quantized
 * convolutions, whose inputs sit at other positions than Conv's. */
lucid_status lucid_conv_resolve_geometry(const lucid_node *n, const lucid_conv_params *p,
                                         int x_rank, const int64_t *xd, int w_rank,
                                         const int64_t *wd, lucid_conv_geom *g, lucid_error *err);

/* A 2-D NCHW float32 Conv or FusedConv with every padding rule already applied, and its fused
 * activation: what the convolution tactics of every backend read (the pooling ones read the
 * window fields too, see pool.h). */
typedef struct lucid_dconv {
    int64_t batch, ic, oc, group;
    int64_t ih, iw, oh, ow, kh, kw;
    int64_t sh, sw, dh, dw;
    int64_t pt, pl; /* begin pads; end pads only matter through oh/ow */
    lucid_activation act; /* a FusedConv's, applied after bias and residual (none for Conv) */
    bool fused; /* a FusedConv: input 3, when present, is the residual */
} lucid_dconv;

/* Resolves node n (Conv or FusedConv, params parsed and shapes inferred) into c. False, with a
 * reason in why, for anything that is not a 2-D float32 convolution with constant weights
 * whose sizes the tactics' index arithmetic takes; false with nothing in why for other ops. */
bool lucid_dconv_resolve(const lucid_graph *g, const lucid_node *n, lucid_dconv *c, char *why,
                         size_t why_len);

#endif
