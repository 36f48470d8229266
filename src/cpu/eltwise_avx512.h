/* eltwise_avx512.h - AVX-512 exp, sigmoid, tanh and the fused activations, shared by the
 * *_avx512.c kernels that include it (compiled with AVX-512 flags only there). */
#ifndef LUCID_CPU_ELTWISE_AVX512_H
#define LUCID_CPU_ELTWISE_AVX512_H

#include <immintrin.h>

#include "cpu/epilogue.h"
#include "ops/activation.h"

/* exp(x): x = n ln2 + r with |r| <= ln2/2, a degree-6 polynomial for e^r (Cephes' expf
 * coefficients, about 1 ulp), and scalef for 2^n, which also gives 0 and inf at the ends
 * of the range without separate checks. */
static inline __m512 lucid_avx512_exp(__m512 x)
{
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.8f)), _mm512_set1_ps(-104.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

/* 1 / (1 + e^-x): e^-x overflows to inf for very negative x, giving exactly 0. */
static inline __m512 lucid_avx512_sigmoid(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, lucid_avx512_exp(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

/* tanh: an odd Taylor polynomial below |x| = 0.25 (where 1 - 2/(e^2x + 1) loses relative
 * accuracy to cancellation; the first omitted term is under 1e-10 relative there), the
 * exponential form above, with the sign restored. */
static inline __m512 lucid_avx512_tanh(__m512 x)
{
    const __m512 ax = _mm512_abs_ps(x), one = _mm512_set1_ps(1.0f);
    const __m512 e = lucid_avx512_exp(_mm512_add_ps(ax, ax));
    __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    const __m512 x2 = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-1382.0f / 155925.0f);
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(62.0f / 2835.0f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-17.0f / 315.0f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.0f / 15.0f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 3.0f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, x2), x, x);
    /* the sign of x onto |tanh| */
    big = _mm512_or_ps(big, _mm512_and_ps(x, _mm512_set1_ps(-0.0f)));
    const __mmask16 is_small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.25f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(is_small, big, small);
}

/* Activation a on v (branch outside the caller's loop is not worth it: the switch is
 * predicted perfectly within a layer). An activation without an AVX-512 form here runs the
 * epilogue's loop (cpu/epilogue.h) on the 16 lanes. */
static inline __m512 lucid_avx512_act(const lucid_activation *a, __m512 v)
{
    switch (a->kind) {
    case LUCID_ACT_NONE: return v;
    case LUCID_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case LUCID_ACT_CLIP:
        return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(a->alpha)), _mm512_set1_ps(a->beta));
    case LUCID_ACT_LEAKY_RELU: {
        __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(a->alpha));
    }
    case LUCID_ACT_SIGMOID: return lucid_avx512_sigmoid(v);
    case LUCID_ACT_HARD_SIGMOID:
        return _mm512_max_ps(_mm512_setzero_ps(),
                             _mm512_min_ps(_mm512_set1_ps(1.0f),
                                           _mm512_fmadd_ps(v, _mm512_set1_ps(a->alpha),
                                                           _mm512_set1_ps(a->beta))));
    case LUCID_ACT_HARD_SWISH: {
        __m512 t = _mm512_fmadd_ps(v, _mm512_set1_ps(1.0f / 6), _mm512_set1_ps(0.5f));
        t = _mm512_max_ps(_mm512_setzero_ps(), _mm512_min_ps(_mm512_set1_ps(1.0f), t));
        return _mm512_mul_ps(v, t);
    }
    case LUCID_ACT_SILU: return _mm512_mul_ps(v, lucid_avx512_sigmoid(v));
    case LUCID_ACT_TANH: return lucid_avx512_tanh(v);
    default: {
        float t[16];
        _mm512_storeu_ps(t, v);
        lucid_act_row(a, t, 16);
        return _mm512_loadu_ps(t);
    }
    }
}

#endif
