/* epilogue.h - the fused GEMM/conv epilogue: scaling, bias or C addend, residual add and
 * activation, applied to a tile of the result while it is still in L1. */
#ifndef LUCID_CPU_EPILOGUE_H
#define LUCID_CPU_EPILOGUE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ops/activation.h"

/* Y = act(alpha * acc + beta * addend + residual), element (i, j) of the product:
 * addend[i * add_rs + j * add_cs] (add_rs/add_cs 0 where broadcast: a per-column bias has
 * add_rs 0, a per-row (per output channel) bias add_cs 0), residual[i * res_ld + j]. */
typedef struct lucid_epilogue {
    float alpha, beta;
    const float *addend;
    int64_t add_rs, add_cs;
    const float *residual;
    int64_t res_ld;
    lucid_activation act;
} lucid_epilogue;

/* True if the epilogue changes nothing (the kernels then skip it). */
static inline bool lucid_epilogue_is_identity(const lucid_epilogue *e)
{
    return !e || (e->alpha == 1.0f && !e->addend && !e->residual && e->act.kind == LUCID_ACT_NONE);
}

/* exp for the activations, in plain float arithmetic so loops over it vectorize: 2^n by the
 * exponent bits times a degree-6 polynomial on [-ln2/2, ln2/2] (relative error ~2 ulp);
 * inputs are clamped to [-87, 88] where float exp stays finite and normal. */
static inline float lucid_epilogue_exp(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float shifter = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float t = x * 1.44269504088896341f + shifter;
    int32_t tb;
    memcpy(&tb, &t, sizeof tb);
    float n = t - shifter;
    /* x - n*ln2 in two parts so the reduction stays exact for |n| up to 127 */
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187045e-06f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t eb = (tb - 0x4b400000) * (1 << 23) + 0x3f800000; /* 2^n as float bits */
    float s;
    memcpy(&s, &eb, sizeof s);
    return p * s;
}

/* c[j] = act(c[j]) for j < n, each activation a simple loop the compiler vectorizes for the
 * instruction set of the including file. */
static inline void lucid_act_row(const lucid_activation *a, float *restrict c, int n)
{
    _Static_assert(LUCID_ACT_COUNT == 11, "lucid_act_row has a case for every activation");
    const float aa = a->alpha, ab = a->beta;
    switch (a->kind) {
    case LUCID_ACT_NONE:
        break;
    case LUCID_ACT_RELU:
        for (int j = 0; j < n; j++)
            c[j] = c[j] < 0.0f ? 0.0f : c[j];
        break;
    case LUCID_ACT_CLIP:
        for (int j = 0; j < n; j++) {
            float v = c[j] < aa ? aa : c[j];
            c[j] = v > ab ? ab : v;
        }
        break;
    case LUCID_ACT_LEAKY_RELU:
        for (int j = 0; j < n; j++)
            c[j] = c[j] < 0.0f ? aa * c[j] : c[j];
        break;
    case LUCID_ACT_SIGMOID:
        for (int j = 0; j < n; j++)
            c[j] = 1.0f / (1.0f + lucid_epilogue_exp(-c[j]));
        break;
    case LUCID_ACT_HARD_SIGMOID:
        for (int j = 0; j < n; j++) {
            float v = aa * c[j] + ab;
            v = v < 0.0f ? 0.0f : v;
            c[j] = v > 1.0f ? 1.0f : v;
        }
        break;
    case LUCID_ACT_HARD_SWISH:
        for (int j = 0; j < n; j++) {
            float v = c[j] * (1.0f / 6.0f) + 0.5f;
            v = v < 0.0f ? 0.0f : v;
            v = v > 1.0f ? 1.0f : v;
            c[j] = c[j] * v;
        }
        break;
    case LUCID_ACT_SILU:
        for (int j = 0; j < n; j++)
            c[j] = c[j] / (1.0f + lucid_epilogue_exp(-c[j]));
        break;
    case LUCID_ACT_TANH:
        /* tanh(x) = 1 - 2 / (exp(2x) + 1); near 0 the absolute error stays ~1e-7 */
        for (int j = 0; j < n; j++)
            c[j] = 1.0f - 2.0f / (lucid_epilogue_exp(2.0f * c[j]) + 1.0f);
        break;
    case LUCID_ACT_GELU:
        /* x * Phi(x) = x/2 * erfc(-x / sqrt 2), erfc(z) for z >= 0 as t * exp(-z^2 + P(t)),
         * t = 1 / (1 + z/2) (Numerical Recipes' erfcc, relative error below 1.2e-7), and
         * erfc(-z) = 2 - erfc(z) */
        for (int j = 0; j < n; j++) {
            const float x = c[j], z = (x < 0.0f ? -x : x) * 0.70710678f;
            const float t = 1.0f / (1.0f + 0.5f * z);
            float p = 0.17087277f;
            p = p * t - 0.82215223f;
            p = p * t + 1.48851587f;
            p = p * t - 1.13520398f;
            p = p * t + 0.27886807f;
            p = p * t - 0.18628806f;
            p = p * t + 0.09678418f;
            p = p * t + 0.37409196f;
            p = p * t + 1.00002368f;
            p = p * t - 1.26551223f;
            const float e = t * lucid_epilogue_exp(p - z * z);
            c[j] = 0.5f * x * (x < 0.0f ? e : 2.0f - e);
        }
        break;
    case LUCID_ACT_GELU_TANH:
        /* x/2 * (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) * (x + 0.044715 x^3) */
        for (int j = 0; j < n; j++) {
            const float x = c[j], u = 0.79788456f * (x + 0.044715f * x * x * x);
            c[j] = x / (1.0f + lucid_epilogue_exp(-2.0f * u));
        }
        break;
    case LUCID_ACT_COUNT:
        break;
    }
}

/* Applies the epilogue to n consecutive results c[0..n) of row i, columns j0.., each pass a
 * simple loop the compiler vectorizes for the instruction set of the including file. */
static inline void lucid_epilogue_row(const lucid_epilogue *e, float *restrict c, int64_t i,
                                      int64_t j0, int n)
{
    if (e->alpha != 1.0f) {
        const float a = e->alpha;
        for (int j = 0; j < n; j++)
            c[j] *= a;
    }
    if (e->addend) {
        const float *restrict ad = e->addend + i * e->add_rs + j0 * e->add_cs;
        const float b = e->beta;
        if (e->add_cs == 0) {
            const float v = b * ad[0];
            for (int j = 0; j < n; j++)
                c[j] += v;
        } else if (e->add_cs == 1) {
            if (b == 1.0f)
                for (int j = 0; j < n; j++)
                    c[j] += ad[j];
            else
                for (int j = 0; j < n; j++)
                    c[j] += b * ad[j];
        } else {
            for (int j = 0; j < n; j++)
                c[j] += b * ad[j * e->add_cs];
        }
    }
    if (e->residual) {
        const float *restrict r = e->residual + i * e->res_ld + j0;
        for (int j = 0; j < n; j++)
            c[j] += r[j];
    }
    lucid_act_row(&e->act, c, n);
}

#endif
