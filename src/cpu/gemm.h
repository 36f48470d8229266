/* gemm.h - lucid's packed single-precision GEMM: C[M,N] = A[M,K] * B[K,N] + epilogue, in the
 * GotoBLAS style (panels packed per K block, register-blocked micro-kernels per ISA). */
#ifndef LUCID_CPU_GEMM_H
#define LUCID_CPU_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "cpu/epilogue.h"

/* One instruction set's micro-kernel: an MR x NR tile of C from a packed A micro-panel
 * (kc steps of MR values) and a packed B micro-panel (kc steps of NR values).
 * tile: writes (accumulate false) or adds to (true) the mr x nr corner of the tile at c
 * (row stride ldc), mr <= MR, nr <= NR; then, if epi is not NULL, applies it to that corner,
 * whose top-left element is (row, col) of the whole product. Each element is summed over k
 * in ascending order into one float accumulator, then added to c: the order is fixed. */
typedef struct lucid_gemm_kernel {
    const char *isa;
    int mr, nr;
    void (*tile)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr, int nr,
                 bool accumulate, const lucid_epilogue *epi, int64_t row, int64_t col);
} lucid_gemm_kernel;

extern const lucid_gemm_kernel lucid_gemm_kernel_avx512; /* gemm_avx512.c */
extern const lucid_gemm_kernel lucid_gemm_kernel_avx2;   /* gemm_avx2.c */
extern const lucid_gemm_kernel lucid_gemm_kernel_generic;

/* Cache blocking: K is cut into blocks of kc (the last shorter; the split depends only on K
 * so sums are the same for any thread count), A into mc rows and B into nc columns per pass.
 * mc is a multiple of MR and nc of NR. */
typedef struct lucid_gemm_blocking {
    int64_t kc, mc, nc;
} lucid_gemm_blocking;

/* The blocking lucid uses for a kernel and problem size. */
lucid_gemm_blocking lucid_gemm_blocking_for(const lucid_gemm_kernel *kern, int64_t m, int64_t n,
                                            int64_t k);

typedef struct lucid_gemm_operand lucid_gemm_operand;

/* Packs rows [r0, r0+rows) x k-range [k0, k0+kc) of an operand into micro-panels of `width`
 * rows (A: width MR, rows of A; B: width NR, columns of B seen as rows): panel p holds kc
 * steps of `width` values, zero-padded past the end. */
typedef void (*lucid_gemm_pack_fn)(const lucid_gemm_operand *op, int64_t r0, int64_t rows,
                                   int64_t k0, int64_t kc, int width, float *dst);

/* An operand: packed once ahead (weights), or packed per block at run time by pack. */
struct lucid_gemm_operand {
    const float *packed; /* from lucid_gemm_prepack, or NULL */
    lucid_gemm_pack_fn pack;
    /* the source: lucid_gemm_pack_matrix reads element (r, k) at data[r * rs + k * ks];
     * other packers (im2col) read data with their own geometry from ctx */
    const float *data;
    int64_t rs, ks;
    const void *ctx;
};

/* The packer of a strided matrix. */
void lucid_gemm_pack_matrix(const lucid_gemm_operand *op, int64_t r0, int64_t rows, int64_t k0,
                            int64_t kc, int width, float *dst);

/* Floats of a whole operand of `rows` panel rows packed with the given width and blocking. */
size_t lucid_gemm_packed_floats(int64_t rows, int64_t k, int width);
/* Packs a whole operand (rows x k, the panel dimension first) into dst in the layout the
 * driver reads: K block after K block, each holding all panels of that block. */
void lucid_gemm_prepack(const lucid_gemm_blocking *blk, int64_t rows, int64_t k, int width,
                        const lucid_gemm_operand *src, float *dst);

/* One product. */
typedef struct lucid_gemm_problem {
    int64_t m, n, k;
    lucid_gemm_operand a, b;
    float *c;
    int64_t ldc;
    lucid_epilogue epi; /* alpha 1, no addend, residual or activation: none */
} lucid_gemm_problem;

/* Workspace floats one thread needs (packing buffers for the run-time operands). */
size_t lucid_gemm_workspace_floats(const lucid_gemm_kernel *kern, const lucid_gemm_blocking *blk,
                                   bool pack_a, bool pack_b);

/* Computes the rectangle [m0, m1) x [n0, n1) of C (m0 a multiple of MR, n0 of NR) using the
 * thread's workspace ws (lucid_gemm_workspace_floats floats, 64-byte aligned). */
void lucid_gemm_compute(const lucid_gemm_kernel *kern, const lucid_gemm_blocking *blk,
                        const lucid_gemm_problem *p, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                        float *ws);

/* Fills problem `index` of a batch of independent products (batch images, groups). */
typedef void (*lucid_gemm_setup_fn)(const void *ctx, size_t index, lucid_gemm_problem *p);

/* Runs `count` independent products of the same shape on the pool: each is cut into a fixed
 * number of rectangles when there are fewer products than threads to balance, and the
 * rectangles are spread over the threads. Every element's sum is the same whatever the
 * thread count. ws holds `threads` blocks of ws_floats floats. */
void lucid_gemm_run_batch(const lucid_gemm_kernel *kern, const lucid_gemm_blocking *blk,
                          size_t count, lucid_gemm_setup_fn setup, const void *ctx, float *ws,
                          size_t ws_floats, lucid_threadpool *pool);

/* Whether this CPU runs a kernel. */
struct lucid_cpu_features;
bool lucid_gemm_kernel_supported(const lucid_gemm_kernel *kern,
                                 const struct lucid_cpu_features *cpu);

#endif
