/* qlayers.h - input positions and parsed params of lucid's int8 layers QConv and QGemm
 * (qconv.c documents their semantics), shared by the ops, their tactics and the qdq_fusion
 * pass that makes them. */
#ifndef LUCID_OPS_QLAYERS_H
#define LUCID_OPS_QLAYERS_H

#include "ops/activation.h"
#include "ops/conv.h"

enum {
    LUCID_QIN_X = 0,        /* int8 | uint8 input */
    LUCID_QIN_X_SCALE = 1,  /* float32 scalar */
    LUCID_QIN_X_ZP = 2,     /* optional, X's dtype */
    LUCID_QIN_W = 3,        /* int8 constant, output channels along axis 0 */
    LUCID_QIN_W_SCALE = 4,  /* float32: 1 or one per output channel */
    LUCID_QIN_B = 5,        /* optional float32 bias */
    /* QConv */
    LUCID_QCONV_Z = 6,       /* optional residual: int8 | uint8 | float32 */
    LUCID_QCONV_Z_SCALE = 7, /* with a quantized residual */
    LUCID_QCONV_Z_ZP = 8,    /* optional */
    LUCID_QCONV_Y_SCALE = 9, /* optional: present means a quantized output */
    LUCID_QCONV_Y_ZP = 10,   /* optional: its dtype is the output's (int8 without it) */
    LUCID_QCONV_INPUTS = 11,
    /* QGemm */
    LUCID_QGEMM_Y_SCALE = 6,
    LUCID_QGEMM_Y_ZP = 7,
    LUCID_QGEMM_INPUTS = 8,
};

/* QConv's params: Conv's first (Conv's helpers read them), then the activation. */
typedef struct lucid_qconv_params {
    lucid_conv_params conv;
    lucid_activation act;
} lucid_qconv_params;

typedef struct lucid_qgemm_params {
    lucid_activation act;
} lucid_qgemm_params;

#endif
