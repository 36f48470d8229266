/* gemm_avx2.c - the AVX2 GEMM micro-kernel: 6 x 16 tile, 12 ymm accumulators fed by
 * broadcast FMAs (the classic Haswell-to-Zen shape that leaves 4 registers for operands). */
#include <immintrin.h>

#include "cpu/gemm.h"

#define MR 6
#define NR 16

/* rows is a compile-time constant at every call site, so the accumulators stay in
 * registers. */
static inline __attribute__((always_inline)) void
tile_rows(const int rows, int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int nr,
          bool accumulate, const lucid_epilogue *epi, int64_t row, int64_t col)
{
    __m256 c0[MR], c1[MR];
    for (int i = 0; i < rows; i++)
        c0[i] = c1[i] = _mm256_setzero_ps();
    /* no unrolling: 12 accumulators, 2 B vectors and a broadcast fill the 16 ymm registers,
     * and unrolled copies would spill accumulators to the stack */
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
    /* fully unrolled, so the accumulator arrays are never indexed at run time (which would
     * keep them in memory) */
#pragma GCC unroll 8
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
            /* a ragged right edge: masked moves of the first nr lanes */
            const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            const __m256i k0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr), lane);
            const __m256i k1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(nr - 8), lane);
            __m256 v0 = c0[i], v1 = c1[i];
            if (accumulate) {
                v0 = _mm256_add_ps(v0, _mm256_maskload_ps(ci, k0));
                v1 = _mm256_add_ps(v1, _mm256_maskload_ps(ci + 8, k1));
            }
            _mm256_maskstore_ps(ci, k0, v0);
            _mm256_maskstore_ps(ci + 8, k1, v1);
        }
        if (epi) lucid_epilogue_row(epi, ci, row + i, col, nr);
    }
}

static void avx2_tile(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr,
                      int nr, bool accumulate, const lucid_epilogue *epi, int64_t row, int64_t col)
{
    switch (mr) {
    case 1:
        tile_rows(1, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    case 2:
        tile_rows(2, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    case 3:
        tile_rows(3, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    case 4:
        tile_rows(4, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    case 5:
        tile_rows(5, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    default:
        tile_rows(MR, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    }
}

const lucid_gemm_kernel lucid_gemm_kernel_avx2 = {
    .isa = "avx2",
    .mr = MR,
    .nr = NR,
    .tile = avx2_tile,
};
