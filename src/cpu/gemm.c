/* gemm.c - the packed GEMM driver: cache blocking, operand packing, work split over threads,
 * and the portable micro-kernel. */
#include "cpu/gemm.h"

#include <string.h>

#include "tactics/tactic.h"

/* ---- packing ---------------------------------------------------------------------- */

void lucid_gemm_pack_matrix(const lucid_gemm_operand *mx, int64_t r0, int64_t rows, int64_t k0,
                            int64_t kc, int width, float *dst)
{
    for (int64_t p0 = 0; p0 < rows; p0 += width) {
        int w = rows - p0 < width ? (int)(rows - p0) : width;
        const float *src = mx->data + (r0 + p0) * mx->rs + k0 * mx->ks;
        if (mx->rs == 1 && w == width && (width == 32 || width == 16)) {
            /* the panel's rows are contiguous: one k step is a short fixed-length copy, which
             * the compiler unrolls into vector moves (a memcpy call per 64-128 bytes costs
             * more than the copy) */
            if (width == 32)
                for (int64_t k = 0; k < kc; k++)
                    for (int r = 0; r < 32; r++)
                        dst[k * 32 + r] = src[k * mx->ks + r];
            else
                for (int64_t k = 0; k < kc; k++)
                    for (int r = 0; r < 16; r++)
                        dst[k * 16 + r] = src[k * mx->ks + r];
        } else if (mx->rs == 1) {
            for (int64_t k = 0; k < kc; k++) {
                float *d = dst + k * width;
                const float *s = src + k * mx->ks;
                for (int r = 0; r < w; r++)
                    d[r] = s[r];
                for (int r = w; r < width; r++)
                    d[r] = 0.0f;
            }
        } else {
            /* each row of the panel is read along k (contiguous when ks is 1), then its
             * values are spread over the k steps */
            for (int r = 0; r < w; r++) {
                const float *s = src + r * mx->rs;
                float *d = dst + r;
                if (mx->ks == 1)
                    for (int64_t k = 0; k < kc; k++)
                        d[k * width] = s[k];
                else
                    for (int64_t k = 0; k < kc; k++)
                        d[k * width] = s[k * mx->ks];
            }
            for (int r = w; r < width; r++)
                for (int64_t k = 0; k < kc; k++)
                    dst[k * width + r] = 0.0f;
        }
        dst += (size_t)width * (size_t)kc;
    }
}

static int64_t round_up(int64_t x, int64_t m)
{
    return (x + m - 1) / m * m;
}

size_t lucid_gemm_packed_floats(int64_t rows, int64_t k, int width)
{
    return (size_t)round_up(rows, width) * (size_t)(k > 0 ? k : 1);
}

void lucid_gemm_prepack(const lucid_gemm_blocking *blk, int64_t rows, int64_t k, int width,
                        const lucid_gemm_operand *src, float *dst)
{
    int64_t rows_pad = round_up(rows, width);
    for (int64_t k0 = 0; k0 < k; k0 += blk->kc) {
        int64_t kc = k - k0 < blk->kc ? k - k0 : blk->kc;
        src->pack(src, 0, rows, k0, kc, width, dst + k0 * rows_pad);
    }
}

/* ---- blocking --------------------------------------------------------------------- */

lucid_gemm_blocking lucid_gemm_blocking_for(const lucid_gemm_kernel *kern, int64_t m, int64_t n,
                                            int64_t k)
{
    (void)m;
    (void)n;
    lucid_gemm_blocking b;
    /* kc: a B micro-panel (kc x NR) should stay in the 48 KB L1d with room for the A
     * micro-panels streaming through; K is split into equal blocks so that no short
     * trailing block wastes a pass over C */
    int64_t kc_max = kern->nr >= 32 ? 320 : 384;
    int64_t blocks = k <= kc_max ? 1 : (k + kc_max - 1) / kc_max;
    b.kc = k <= 0 ? 1 : round_up((k + blocks - 1) / blocks, 4);
    /* mc x kc of packed A lives in L2 (1 MB per core) */
    b.mc = round_up(192, kern->mr) / kern->mr * kern->mr;
    /* kc x nc of packed B: streamed from L2/L3, each micro-panel reused over the mc rows */
    b.nc = round_up(1536, kern->nr);
    return b;
}

/* ---- the driver ------------------------------------------------------------------- */

size_t lucid_gemm_workspace_floats(const lucid_gemm_kernel *kern, const lucid_gemm_blocking *blk,
                                   bool pack_a, bool pack_b)
{
    size_t f = 0;
    if (pack_a) f += (size_t)round_up(blk->mc, kern->mr) * (size_t)blk->kc;
    if (pack_b) f += (size_t)round_up(blk->nc, kern->nr) * (size_t)blk->kc;
    return round_up((int64_t)f, 16) + 16;
}

void lucid_gemm_compute(const lucid_gemm_kernel *kern, const lucid_gemm_blocking *blk,
                        const lucid_gemm_problem *p, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
                        float *ws)
{
    const int mr = kern->mr, nr = kern->nr;
    const int64_t mpad = round_up(p->m, mr), npad = round_up(p->n, nr);
    float *abuf = ws, *bbuf = ws;
    if (!p->a.packed) bbuf += round_up(blk->mc, mr) * blk->kc;
    const lucid_epilogue *epi = lucid_epilogue_is_identity(&p->epi) ? NULL : &p->epi;
    /* K of 0 still makes one (empty) pass so that C is written and the epilogue applied */
    const int64_t kend = p->k > 0 ? p->k : 1;
    for (int64_t jc = n0; jc < n1; jc += blk->nc) {
        int64_t nc = n1 - jc < blk->nc ? n1 - jc : blk->nc;
        for (int64_t pc = 0; pc < kend; pc += blk->kc) {
            int64_t kc = p->k - pc < blk->kc ? p->k - pc : blk->kc;
            if (kc < 0) kc = 0;
            bool last = pc + blk->kc >= kend;
            const float *bp;
            if (p->b.packed) {
                bp = p->b.packed + pc * npad + jc * kc;
            } else {
                p->b.pack(&p->b, jc, nc, pc, kc, nr, bbuf);
                bp = bbuf;
            }
            for (int64_t ic = m0; ic < m1; ic += blk->mc) {
                int64_t mc = m1 - ic < blk->mc ? m1 - ic : blk->mc;
                const float *ap;
                if (p->a.packed) {
                    ap = p->a.packed + pc * mpad + ic * kc;
                } else {
                    p->a.pack(&p->a, ic, mc, pc, kc, mr, abuf);
                    ap = abuf;
                }
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int tn = nc - jr < nr ? (int)(nc - jr) : nr;
                    const float *bpanel = bp + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        int tm = mc - ir < mr ? (int)(mc - ir) : mr;
                        kern->tile(kc, ap + ir * kc, bpanel, p->c + (ic + ir) * p->ldc + jc + jr,
                                   p->ldc, tm, tn, pc > 0, last ? epi : NULL, ic + ir, jc + jr);
                    }
                }
            }
        }
    }
}

/* ---- splitting work over threads -------------------------------------------------- */

typedef struct batch_ctx {
    const lucid_gemm_kernel *kern;
    const lucid_gemm_blocking *blk;
    lucid_gemm_setup_fn setup;
    const void *ctx;
    float *ws;
    size_t ws_floats;
    int parts, tm, tn; /* rectangles per product: a tm x tn grid */
    int64_t mtiles, ntiles;
} batch_ctx;

/* [lo, hi) of `tiles` tiles cut into `parts` near-equal runs: run `i`. */
static void split_tiles(int64_t tiles, int parts, int i, int64_t *lo, int64_t *hi)
{
    int64_t base = tiles / parts, extra = tiles % parts;
    *lo = i * base + (i < extra ? i : extra);
    *hi = *lo + base + (i < extra ? 1 : 0);
}

static void batch_task(void *vctx, size_t begin, size_t end, int thread)
{
    const batch_ctx *b = vctx;
    float *ws = b->ws + (size_t)thread * b->ws_floats;
    const int mr = b->kern->mr, nr = b->kern->nr;
    for (size_t item = begin; item < end; item++) {
        lucid_gemm_problem p;
        b->setup(b->ctx, item / (size_t)b->parts, &p);
        int part = (int)(item % (size_t)b->parts);
        int64_t mlo, mhi, nlo, nhi;
        split_tiles(b->mtiles, b->tm, part / b->tn, &mlo, &mhi);
        split_tiles(b->ntiles, b->tn, part % b->tn, &nlo, &nhi);
        int64_t m0 = mlo * mr, m1 = mhi * mr < p.m ? mhi * mr : p.m;
        int64_t n0 = nlo * nr, n1 = nhi * nr < p.n ? nhi * nr : p.n;
        if (m0 < m1 && n0 < n1) lucid_gemm_compute(b->kern, b->blk, &p, m0, m1, n0, n1, ws);
    }
}

void lucid_gemm_run_batch(const lucid_gemm_kernel *kern, const lucid_gemm_blocking *blk,
                          size_t count, lucid_gemm_setup_fn setup, const void *ctx, float *ws,
                          size_t ws_floats, lucid_threadpool *pool)
{
    if (count == 0) return;
    lucid_gemm_problem p0;
    setup(ctx, 0, &p0);
    if (p0.m <= 0 || p0.n <= 0) return;
    int threads = lucid_threadpool_size(pool);
    batch_ctx b = {.kern = kern,
                   .blk = blk,
                   .setup = setup,
                   .ctx = ctx,
                   .ws = ws,
                   .ws_floats = ws_floats,
                   .parts = 1,
                   .tm = 1,
                   .tn = 1};
    b.mtiles = (p0.m + kern->mr - 1) / kern->mr;
    b.ntiles = (p0.n + kern->nr - 1) / kern->nr;
    /* whole products per thread when they divide evenly; otherwise each product is cut into
     * `threads` rectangles, the grid chosen to make the largest rectangle smallest (ties go
     * to splitting N, which keeps each thread's packed A block whole) */
    if (threads > 1 && count % (size_t)threads != 0) {
        double best = -1;
        for (int tm = 1; tm <= threads; tm++) {
            if (threads % tm) continue;
            int tn = threads / tm;
            if (tm > b.mtiles || tn > b.ntiles) continue;
            double area = (double)((b.mtiles + tm - 1) / tm) * kern->mr *
                          (double)((b.ntiles + tn - 1) / tn) * kern->nr;
            if (best < 0 || area < best || (area == best && tn > b.tn)) {
                best = area;
                b.tm = tm;
                b.tn = tn;
            }
        }
        b.parts = b.tm * b.tn;
    }
    lucid_threadpool_run(pool, count * (size_t)b.parts, 1, batch_task, &b);
}

/* ---- the portable micro-kernel ---------------------------------------------------- */

#define GENERIC_MR 4
#define GENERIC_NR 16

static void generic_tile(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr,
                         int nr, bool accumulate, const lucid_epilogue *epi, int64_t row,
                         int64_t col)
{
    /* fixed-size accumulators so the compiler keeps them in vector registers */
    float acc[GENERIC_MR][GENERIC_NR];
    memset(acc, 0, sizeof acc);
    for (int64_t k = 0; k < kc; k++) {
        const float *ak = a + k * GENERIC_MR, *bk = b + k * GENERIC_NR;
        /* fully unrolled so the 16 accumulator vectors stay in registers */
#pragma GCC unroll 4
        for (int i = 0; i < GENERIC_MR; i++)
#pragma GCC unroll 16
            for (int j = 0; j < GENERIC_NR; j++)
                acc[i][j] += ak[i] * bk[j];
    }
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        if (accumulate)
            for (int j = 0; j < nr; j++)
                ci[j] += acc[i][j];
        else
            for (int j = 0; j < nr; j++)
                ci[j] = acc[i][j];
        if (epi) lucid_epilogue_row(epi, ci, row + i, col, nr);
    }
}

const lucid_gemm_kernel lucid_gemm_kernel_generic = {
    .isa = "generic",
    .mr = GENERIC_MR,
    .nr = GENERIC_NR,
    .tile = generic_tile,
};

bool lucid_gemm_kernel_supported(const lucid_gemm_kernel *kern, const lucid_cpu_features *cpu)
{
    if (kern == &lucid_gemm_kernel_avx512)
        return cpu->avx512f && cpu->avx512bw && cpu->avx512vl && cpu->avx512dq && cpu->fma &&
               cpu->avx2;
    if (kern == &lucid_gemm_kernel_avx2) return cpu->avx2 && cpu->fma;
    return true;
}
