/* kernels.c - GFLOP/s of lucid's packed GEMM per kernel, shape and thread count (built with
 * -DLUCID_BENCH=ON as build/bench/lucid_bench_kernels; prints a Markdown table). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/gemm.h"
#include "tactics/tactic.h"

typedef struct bench_ctx {
    lucid_gemm_problem p;
} bench_ctx;

static void setup_one(const void *ctx, size_t index, lucid_gemm_problem *p)
{
    (void)index;
    *p = ((const bench_ctx *)ctx)->p;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of the whole process: on a shared machine a descheduled thread does not count,
 * so work per CPU second stays meaningful when other jobs compete for the cores. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *rand_floats(size_t n)
{
    float *d = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++)
        d[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return d;
}

/* One shape: `weights_a` packs A ahead (conv: weights are A, the image is B), otherwise B
 * (Gemm: weights are B). Returns the best wall-clock GFLOP/s of 7 timed runs; *per_cpu gets
 * the best GFLOP/s per CPU-second (per core busy). */
static double bench_shape(const lucid_gemm_kernel *kern, int64_t m, int64_t n, int64_t k,
                          bool weights_a, lucid_threadpool *pool, double *per_cpu)
{
    float *a = rand_floats((size_t)(m * k)), *b = rand_floats((size_t)(k * n)),
          *c = rand_floats((size_t)(m * n)), *bias = rand_floats((size_t)m);
    lucid_gemm_blocking blk = lucid_gemm_blocking_for(kern, m, n, k);
    lucid_gemm_operand am = {.pack = lucid_gemm_pack_matrix, .data = a, .rs = k, .ks = 1},
                       bm = {.pack = lucid_gemm_pack_matrix, .data = b, .rs = 1, .ks = n};
    float *packed = NULL;
    bench_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.p.m = m, ctx.p.n = n, ctx.p.k = k, ctx.p.c = c, ctx.p.ldc = n;
    lucid_epilogue epi = {
        .alpha = 1, .beta = 1, .addend = bias, .add_rs = 1, .add_cs = 0, .act = {LUCID_ACT_RELU}};
    ctx.p.epi = epi;
    ctx.p.a = am;
    ctx.p.b = bm;
    if (weights_a) {
        packed = aligned_alloc(64, lucid_gemm_packed_floats(m, k, kern->mr) * sizeof(float) + 64);
        lucid_gemm_prepack(&blk, m, k, kern->mr, &am, packed);
        ctx.p.a.packed = packed;
    } else {
        packed = aligned_alloc(64, lucid_gemm_packed_floats(n, k, kern->nr) * sizeof(float) + 64);
        lucid_gemm_prepack(&blk, n, k, kern->nr, &bm, packed);
        ctx.p.b.packed = packed;
    }
    int threads = lucid_threadpool_size(pool);
    size_t wsf = lucid_gemm_workspace_floats(kern, &blk, !weights_a, weights_a);
    float *ws = aligned_alloc(64, wsf * sizeof(float) * (size_t)threads);
    double flop = 2.0 * (double)m * (double)n * (double)k;
    int reps = (int)(2e9 / flop) + 1;
    double best = 0, best_cpu = 0;
    for (int t = 0; t < 7; t++) {
        double t0 = now_s(), c0 = cpu_s();
        for (int r = 0; r < reps; r++)
            lucid_gemm_run_batch(kern, &blk, 1, setup_one, &ctx, ws, wsf, pool);
        double g = flop * reps / (now_s() - t0) * 1e-9, gc = flop * reps / (cpu_s() - c0) * 1e-9;
        if (g > best) best = g;
        if (gc > best_cpu) best_cpu = gc;
    }
    free(a), free(b), free(c), free(bias), free(packed), free(ws);
    *per_cpu = best_cpu;
    return best;
}

/* The micro-kernel alone on one L1-resident panel pair (kc 256): its ceiling, from which the
 * clock follows as GFLOP/s / 64 on a core with two 512-bit FMA pipes. */
static double bench_peak(const lucid_gemm_kernel *kern)
{
    const int64_t kc = 256;
    float *a = rand_floats((size_t)(kern->mr * kc)), *b = rand_floats((size_t)(kern->nr * kc));
    float *c = rand_floats((size_t)(kern->mr * kern->nr));
    double flop = 2.0 * kern->mr * kern->nr * kc, best = 0;
    for (int t = 0; t < 5; t++) {
        int reps = 20000;
        double t0 = cpu_s();
        for (int r = 0; r < reps; r++)
            kern->tile(kc, a, b, c, kern->nr, kern->mr, kern->nr, r > 0, NULL, 0, 0);
        double g = flop * reps / (cpu_s() - t0) * 1e-9;
        if (g > best) best = g;
    }
    free(a), free(b), free(c);
    return best;
}

int main(int argc, char **argv)
{
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    const char *only = argc > 1 ? argv[1] : NULL;
    static const struct {
        int64_t m, n, k;
        bool weights_a;
        const char *what;
    } shapes[] = {
        {512, 512, 512, false, "square"},
        {1, 1000, 2048, false, "fc batch 1 (ResNet-50)"},
        {8, 1000, 2048, false, "fc batch 8 (ResNet-50)"},
        {8, 4096, 4096, false, "fc batch 8 (VGG fc7)"},
        {64, 3136, 576, true, "conv 3x3 64ch 56x56"},
        {128, 784, 1152, true, "conv 3x3 128ch 28x28"},
        {256, 196, 2304, true, "conv 3x3 256ch 14x14"},
        {512, 49, 4608, true, "conv 3x3 512ch 7x7"},
        {256, 3136, 64, true, "conv 1x1 64->256 56x56"},
        {64, 12544, 576, true, "conv M64 N12544 K576"},
        {512, 3136, 576, true, "conv M512 N3136 K576"},
    };
    const lucid_gemm_kernel *kerns[3] = {NULL, NULL, &lucid_gemm_kernel_generic};
    if (cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq && cpu.fma)
        kerns[0] = &lucid_gemm_kernel_avx512;
    if (cpu.avx2 && cpu.fma) kerns[1] = &lucid_gemm_kernel_avx2;
    printf("cpu: %s, %d cores\n\n", cpu.model, cpu.cores);
    for (int ki = 0; ki < 3; ki++)
        if (kerns[ki] && (!only || strcmp(only, kerns[ki]->isa) == 0))
            printf("micro-kernel %s %dx%d alone (L1-resident, 1 thread): %.1f GFLOP/s per CPU-s\n",
                   kerns[ki]->isa, kerns[ki]->mr, kerns[ki]->nr, bench_peak(kerns[ki]));
    printf("\n");
    printf("| kernel | M | N | K | shape | 1 thread GFLOP/s | 1 thread per CPU-s | 2 threads "
           "GFLOP/s | 2 threads per CPU-s |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    lucid_threadpool *pool2 = lucid_threadpool_create(2);
    for (int ki = 0; ki < 3; ki++) {
        const lucid_gemm_kernel *kern = kerns[ki];
        if (!kern || (only && strcmp(only, kern->isa) != 0)) continue;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            double c1, c2;
            double g1 = bench_shape(kern, shapes[s].m, shapes[s].n, shapes[s].k,
                                    shapes[s].weights_a, NULL, &c1);
            double g2 = bench_shape(kern, shapes[s].m, shapes[s].n, shapes[s].k,
                                    shapes[s].weights_a, pool2, &c2);
            printf("| %s %dx%d | %lld | %lld | %lld | %s | %.1f | %.1f | %.1f | %.1f |\n",
                   kern->isa, kern->mr, kern->nr, (long long)shapes[s].m, (long long)shapes[s].n,
                   (long long)shapes[s].k, shapes[s].what, g1, c1, g2, c2);
            fflush(stdout);
        }
    }
    lucid_threadpool_destroy(pool2);
    return 0;
}
