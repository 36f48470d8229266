/* gemm_avx512.c - the AVX-512 GEMM micro-kernel: 12 x 32 tile, 24 zmm accumulators fed by
 * embedded-broadcast FMAs (two 512-bit FMA pipes per Zen 5 / Skylake-SP core). */
#include <immintrin.h>

#include "cpu/gemm.h"

#define MR 12
#define NR 32

/* rows is a compile-time constant at every call site below, so the accumulator arrays
 * become registers and the row loops unroll. */
static inline __attribute__((always_inline)) void
tile_rows(const int rows, int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int nr,
          bool accumulate, const lucid_epilogue *epi, int64_t row, int64_t col)
{
    __m512 c0[MR], c1[MR];
    for (int i = 0; i < rows; i++)
        c0[i] = c1[i] = _mm512_setzero_ps();
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        for (int i = 0; i < rows; i++) {
            const __m512 av = _mm512_set1_ps(a[i]);
            c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
        }
        a += MR;
        b += NR;
    }
    const __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32  ? (__mmask16)0xffff
                         : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1)
                                   : 0;
    for (int i = 0; i < rows; i++) {
        float *ci = c + i * ldc;
        __m512 v0 = c0[i], v1 = c1[i];
        if (accumulate) {
            v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, ci));
            v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, ci + 16));
        }
        _mm512_mask_storeu_ps(ci, m0, v0);
        _mm512_mask_storeu_ps(ci + 16, m1, v1);
        if (epi) lucid_epilogue_row(epi, ci, row + i, col, nr);
    }
}

static void avx512_tile(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr,
                        int nr, bool accumulate, const lucid_epilogue *epi, int64_t row,
                        int64_t col)
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
    case 6:
        tile_rows(6, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    case 7:
        tile_rows(7, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    case 8:
        tile_rows(8, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    case 9:
        tile_rows(9, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    case 10:
        tile_rows(10, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    case 11:
        tile_rows(11, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    default:
        tile_rows(MR, kc, a, b, c, ldc, nr, accumulate, epi, row, col);
        break;
    }
}

const lucid_gemm_kernel lucid_gemm_kernel_avx512 = {
    .isa = "avx512",
    .mr = MR,
    .nr = NR,
    .tile = avx512_tile,
};
