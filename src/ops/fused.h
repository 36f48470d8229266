/* fused.h - the activation epilogue of lucid's fused layers (FusedConv, FusedGemm,
 * FusedBatchNormalization, and the int8 QConv and QGemm): attribute `activation` with
 * `activation_alpha` / `activation_beta`, parsed and applied exactly as fused.c does. */
#ifndef LUCID_OPS_FUSED_H
#define LUCID_OPS_FUSED_H

#include "ops/op.h"

typedef struct lucid_fused_act {
    int kind;          /* 0: none; else the index of the activation in fused.c's table */
    float alpha, beta; /* LeakyRelu alpha; HardSigmoid alpha, beta; Clip min, max */
} lucid_fused_act;

/* Reads n's activation attributes (and checks fused_nodes is a string list). */
lucid_status lucid_fused_act_parse(const lucid_node *n, lucid_fused_act *a, lucid_error *err);
/* The activation of one value, with the reference kernels' expressions. */
float lucid_fused_act_apply(const lucid_fused_act *a, float v);
/* Arithmetic per element of the activation. */
double lucid_fused_act_flops(const lucid_fused_act *a);
/* Is it none, Relu, or Clip (the activations that commute with a positive scale and so can
 * run on quantized values)? */
bool lucid_fused_act_is_piecewise_linear(const lucid_fused_act *a);

#endif
