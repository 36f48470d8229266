/* gemm_avx2.c - the AVX2 GEMM micro-kernel: 6 x 16 tile, 12 ymm accumulators fed by
 * broadcast FMAs (the classic Haswell-to-Zen shape that leaves 4 registers for operands). */
#include <immintrin.h>

#include "cpu/gemm.h"

#define MR 6
#define NR 16

/* rows is a compile-time constant at every call site, so the accumulators stay in
 * registers. */
static inline __attribute__((always_inline)) void tile_rows(
    const int rows, int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int nr,
    bool accumulate, const lucid_epilogue *epi, int64_t row, int64_t col)
{
    __m256 c0[MR], c1[MR];
    for (int i = 0; i < rows; i++) c0[i] = c1[i] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        for (int i = 0; i < rows; i++) {
            const __m256 av = _mm256_broadcast_ss(a + i);
            c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
        }
        a += MR;
        b += NR;
    }
    for (int i = 0; i < rows; i++) {
        float *ci = c + i * ldc;
        if (nr == NR) {
            __m256 v0 = c0[i], v1 = c1[i];
            if (accumulate) {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(ci));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(ci + 8));
            }
            _mm256_storeu_ps(ci, v0);
            _mm256_storeu_ps(ci + 8, v1);
        } else {
            float t[NR];
            _mm256_storeu_ps(t, c0[i]);
            _mm256_storeu_ps(t + 8, c1[i]);
            if (accumulate)
                for (int j = 0; j < nr; j++) ci[j] += t[j];
            else
                for (int j = 0; j < nr; j++) ci[j] = t[j];
        }
        if (epi) lucid_epilogue_row(epi, ci, row + i, col, nr);
    }
}

static void avx2_tile(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr,
                      int nr, bool accumulate, const lucid_epilogue *epi, int64_t row, int64_t col)
{
    switch (mr) {
    case 1: tile_rows(1, kc, a, b, c, ldc, nr, accumulate, epi, row, col); break;
    case 2: tile_rows(2, kc, a, b, c, ldc, nr, accumulate, epi, row, col); break;
    case 3: tile_rows(3, kc, a, b, c, ldc, nr, accumulate, epi, row, col); break;
    case 4: tile_rows(4, kc, a, b, c, ldc, nr, accumulate, epi, row, col); break;
    case 5: tile_rows(5, kc, a, b, c, ldc, nr, accumulate, epi, row, col); break;
    default: tile_rows(MR, kc, a, b, c, ldc, nr, accumulate, epi, row, col); break;
    }
}

const lucid_gemm_kernel lucid_gemm_kernel_avx2 = {
    .isa = "avx2",
    .mr = MR,
    .nr = NR,
    .tile = avx2_tile,
};
