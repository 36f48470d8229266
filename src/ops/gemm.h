/* gemm.h - Gemm's parsed attributes, shared with lucid's fused matrix product (fused.c) and
 * the passes that rewrite Gemm and MatMul. */
#ifndef LUCID_OPS_GEMM_H
#define LUCID_OPS_GEMM_H

#include "ops/op.h"

/* The params of Gemm nodes. Gemm's parse, infer, cost and run (through lucid_op_def_gemm)
 * read a node's params as this struct, so an op whose params begin with one (FusedGemm) can
 * call them on its own nodes. */
typedef struct lucid_gemm_params {
    float alpha, beta;
    int64_t trans_a, trans_b;
} lucid_gemm_params;

#endif
