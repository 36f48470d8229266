/* cast16_avx512.c - AVX-512 conversions between float32 and float16 / bfloat16, rounding to
 * nearest even exactly as core/util.c does.
 *
 * float16: vcvtps2ph with an explicit round-to-nearest-even immediate (F16C semantics: it
 * keeps subnormal results and overflows to infinity) and vcvtph2ps, which is exact.
 * bfloat16: rounding in integer operations (add 0x7fff plus the lowest kept bit, keep the
 * high half; NaNs are quieted instead), not vcvtneps2bf16, which flushes subnormal inputs to
 * zero and so would disagree with the reference on them. Widening is a 16-bit shift. */
#include <immintrin.h>
#include <string.h>

#include "core/util.h"
#include "cpu/half_convert.h"

void lucid_avx512_f16_to_f32(const uint16_t *src, float *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + i))));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src + i)));
    }
}

void lucid_avx512_f32_to_f16(const float *src, uint16_t *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(
            dst + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT));
    }
}

void lucid_avx512_bf16_to_f32(const uint16_t *src, float *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
        _mm512_storeu_si512(dst + i, _mm512_slli_epi32(v, 16));
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + i));
        _mm512_mask_storeu_epi32(dst + i, m, _mm512_slli_epi32(v, 16));
    }
}

static inline __m256i f32_to_bf16_16(__m512i x)
{
    const __m512i abs = _mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff));
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(abs, _mm512_set1_epi32(0x7f800000));
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(x, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
    r = _mm512_mask_or_epi32(r, nan, x, _mm512_set1_epi32(0x400000)); /* quiet, unrounded */
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}

void lucid_avx512_f32_to_bf16(const float *src, uint16_t *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            f32_to_bf16_16(_mm512_loadu_si512((const void *)(src + i))));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(dst + i, m,
                                 f32_to_bf16_16(_mm512_maskz_loadu_epi32(m, src + i)));
    }
}
