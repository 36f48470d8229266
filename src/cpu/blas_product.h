/* blas_product.h - a Gemm, FusedGemm or MatMul node read as one BLAS-style product with
 * constant B, Y = act(alpha * A B + beta * C): what the library tactics (blas, dnnl,
 * xnnpack) need to hand the product to their library, resolved once at supports/prepare. */
#ifndef LUCID_CPU_BLAS_PRODUCT_H
#define LUCID_CPU_BLAS_PRODUCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/graph.h"
#include "ops/activation.h"

typedef struct lucid_blas_product {
    /* A is m x k; a MatMul's leading (batch) dimensions of A are folded into m, which is
     * exact because B is one shared 2-D matrix */
    int64_t m, n, k;
    bool trans_a;     /* A is stored k x m (Gemm transA) */
    bool trans_b;     /* B is stored n x k (Gemm transB) */
    const float *b;   /* the constant B as stored in the graph */
    float alpha, beta;
    const float *c;   /* Gemm's constant C (NULL when absent) */
    int64_t c_rs, c_cs; /* C[i, j] = c[i * c_rs + j * c_cs]; 0 where C broadcasts */
    lucid_activation act; /* FusedGemm's */
} lucid_blas_product;

/* Resolves node n into p. False, with a reason in why, for anything else: other ops, non-
 * float32, unknown shapes, B not a constant 2-D matrix, C not constant, MatMul's A of rank
 * below 2. */
bool lucid_blas_product_resolve(const lucid_graph *g, const lucid_node *n, lucid_blas_product *p,
                                char *why, size_t why_len);

/* Y[i, j] = beta * C[i, j] for the m x n output (ldy n): the addend a BLAS call then
 * accumulates into with its own beta of 1. */
void lucid_blas_product_fill_c(const lucid_blas_product *p, float *y);

/* y[i] = act(y[i]) for count values, with the reference kernels' expressions. */
void lucid_blas_apply_act(const lucid_activation *a, float *y, int64_t count);

#endif
