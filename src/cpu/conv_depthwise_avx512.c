/* conv_depthwise_avx512.c - cpu.conv.f32.depthwise.avx512: depthwise convolution computing
 * four independent accumulators per step (64 columns of a row, or 2-4 rows of a narrow plane,
 * hiding FMA latency), with weights held in registers and bias, residual and activation
 * applied before the store. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu/conv_depthwise.h"
#include "cpu/eltwise_avx512.h"
#include "ops/op.h"

#define DW_MAX_TAPS 64 /* kernels up to 8x8 keep their broadcast weights in an array */

/* An nr x nv tile: output rows [0, nr) from x (row r's padded input at x + r * xs) and
 * columns [o, o + 16*nv), nr * nv <= 4 independent accumulators hiding the FMA latency;
 * columns past ow are computed from the plane's slack and not stored. The small loops are
 * unrolled by force so that the accumulators stay in registers. */
static inline __attribute__((always_inline)) void
dw_tile(const lucid_dconv *c, const __m512 *wv, const int64_t *off, int taps, __m512 bv,
        const float *x, int64_t xs, const float *z, float *y, int64_t o, const int nr, const int nv)
{
    __m512 a[8][4];
#pragma GCC unroll 8
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            a[r][v] = bv;
    for (int k = 0; k < taps; k++) {
#pragma GCC unroll 8
        for (int r = 0; r < nr; r++) {
            const float *q = x + r * xs + off[k] + o;
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                a[r][v] = _mm512_fmadd_ps(_mm512_loadu_ps(q + 16 * v), wv[k], a[r][v]);
        }
    }
    const int64_t ow = c->ow;
#pragma GCC unroll 8
    for (int r = 0; r < nr; r++) {
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            const int64_t oo = o + 16 * v;
            if (oo >= ow) break;
            const __mmask16 m =
                ow - oo >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (ow - oo)) - 1);
            __m512 t = a[r][v];
            if (z) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, z + r * ow + oo));
            _mm512_mask_storeu_ps(y + r * ow + oo, m, lucid_avx512_act(&c->act, t));
        }
    }
}

/* `rows` output rows of one plane for kernel kh x kw; always inlined so that the 3x3 and
 * 5x5 calls below get the sizes as constants (taps unrolled, weights in registers), which
 * are broadcast once per plane. Narrow rows (14x14, 7x7, 28x28 planes) would leave one or
 * two accumulators per row, so they are computed 4 or 2 rows at a time instead. */
static inline __attribute__((always_inline)) void
dw_rows_k(const lucid_dw_state *s, const float *xp, const float *w, float bias, const float *z,
          float *y, int64_t rows, const int kh, const int kw)
{
    const lucid_dconv *c = &s->c;
    const int64_t ow = c->ow, pw = s->plane.phase_w, rf = s->plane.row_floats;
    const int64_t sw = c->sw, dh = c->dh, dw = c->dw, xs = c->sh * rf;
    const int taps = kh * kw;
    __m512 wv[DW_MAX_TAPS];
    int64_t off[DW_MAX_TAPS];
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++) {
            const int64_t o = kx * dw;
            wv[ky * kw + kx] = _mm512_set1_ps(w[ky * kw + kx]);
            off[ky * kw + kx] = ky * dh * rf + (o % sw) * pw + o / sw;
        }
    const __m512 bv = _mm512_set1_ps(bias);
    int64_t oy = 0;
#define DW_Z(r) (z ? z + (r)*ow : NULL)
    if (ow <= 16) {
        for (; oy + 8 <= rows; oy += 8)
            dw_tile(c, wv, off, taps, bv, xp + oy * xs, xs, DW_Z(oy), y + oy * ow, 0, 8, 1);
        for (; oy + 4 <= rows; oy += 4)
            dw_tile(c, wv, off, taps, bv, xp + oy * xs, xs, DW_Z(oy), y + oy * ow, 0, 4, 1);
        for (; oy < rows; oy++)
            dw_tile(c, wv, off, taps, bv, xp + oy * xs, xs, DW_Z(oy), y + oy * ow, 0, 1, 1);
        return;
    }
    if (ow <= 32) {
        for (; oy + 4 <= rows; oy += 4)
            dw_tile(c, wv, off, taps, bv, xp + oy * xs, xs, DW_Z(oy), y + oy * ow, 0, 4, 2);
        for (; oy + 2 <= rows; oy += 2)
            dw_tile(c, wv, off, taps, bv, xp + oy * xs, xs, DW_Z(oy), y + oy * ow, 0, 2, 2);
        for (; oy < rows; oy++)
            dw_tile(c, wv, off, taps, bv, xp + oy * xs, xs, DW_Z(oy), y + oy * ow, 0, 1, 2);
        return;
    }
    for (; oy < rows; oy++) {
        const float *x = xp + oy * xs, *zr = DW_Z(oy);
        float *yr = y + oy * ow;
        int64_t o = 0;
        for (; o + 64 <= ow; o += 64)
            dw_tile(c, wv, off, taps, bv, x, xs, zr, yr, o, 1, 4);
        switch ((ow - o + 15) / 16) {
        case 1:
            dw_tile(c, wv, off, taps, bv, x, xs, zr, yr, o, 1, 1);
            break;
        case 2:
            dw_tile(c, wv, off, taps, bv, x, xs, zr, yr, o, 1, 2);
            break;
        case 3:
            dw_tile(c, wv, off, taps, bv, x, xs, zr, yr, o, 1, 3);
            break;
        case 4:
            dw_tile(c, wv, off, taps, bv, x, xs, zr, yr, o, 1, 4);
            break;
        default:
            break;
        }
    }
#undef DW_Z
}

static void dw_rows_3x3(const lucid_dw_state *s, const float *xp, const float *w, float bias,
                        const float *z, float *y, int64_t rows)
{
    dw_rows_k(s, xp, w, bias, z, y, rows, 3, 3);
}

static void dw_rows_5x5(const lucid_dw_state *s, const float *xp, const float *w, float bias,
                        const float *z, float *y, int64_t rows)
{
    dw_rows_k(s, xp, w, bias, z, y, rows, 5, 5);
}

static void dw_rows_any(const lucid_dw_state *s, const float *xp, const float *w, float bias,
                        const float *z, float *y, int64_t rows)
{
    dw_rows_k(s, xp, w, bias, z, y, rows, (int)s->c.kh, (int)s->c.kw);
}

/* The padded plane for stride 2 (MobileNet's and EfficientNet's downsampling layers): each
 * 16 floats of both phase rows come from two 32-float loads of the input row split into
 * even and odd columns by vpermt2ps, instead of one element at a time; stride 1 rows are
 * copied with their pads in whole vectors; larger strides take the common fill. */
static void dw_fill_avx512(const lucid_dw_state *s, const float *x, float *dst)
{
    const lucid_dconv *c = &s->c;
    const lucid_dconv_plane *p = &s->plane;
    if (c->sw > 2) {
        lucid_dconv_plane_fill(c, p, x, 0.0f, dst);
        return;
    }
    const int64_t pw = p->phase_w, rf = p->row_floats, iw = c->iw, pl = c->pl;
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t r = 0; r < p->rows; r++) {
        float *d = dst + r * rf;
        const int64_t iy = r - c->pt;
        if (iy < 0 || iy >= c->ih) {
            int64_t i = 0;
            for (; i + 16 <= rf; i += 16)
                _mm512_storeu_ps(d + i, zero);
            if (i < rf) _mm512_mask_storeu_ps(d + i, (__mmask16)((1u << (rf - i)) - 1), zero);
            continue;
        }
        const float *xr = x + iy * iw;
        if (c->sw == 1) {
            /* small planes (14x14, 7x7) spend more time here than in the taps, so the pads
             * and slack go in the same vector stores as the row */
            for (int64_t j0 = 0; j0 < pw; j0 += 16) {
                const int64_t nj = pw - j0 < 16 ? pw - j0 : 16, s0 = j0 - pl;
                __m512 v = zero;
                if (s0 < 0) {
                    /* over the left padding: expand the row's first floats into the lanes
                     * from -s0 on, so no pointer before the row is formed */
                    const int64_t lo = -s0, hi = iw - s0 < 16 ? iw - s0 : 16;
                    if (lo < hi)
                        v = _mm512_maskz_expandloadu_ps(
                            (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1)), xr);
                } else if (iw - s0 > 0) {
                    const int64_t cnt = iw - s0;
                    v = _mm512_maskz_loadu_ps(
                        cnt >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cnt) - 1), xr + s0);
                }
                _mm512_mask_storeu_ps(
                    d + j0, nj == 16 ? (__mmask16)0xffff : (__mmask16)((1u << nj) - 1), v);
            }
            continue;
        }
        for (int64_t j0 = 0; j0 < pw; j0 += 16) {
            const int64_t nj = pw - j0 < 16 ? pw - j0 : 16;
            /* padded column 2*j0 + l is input column s0 + l */
            const int64_t s0 = 2 * j0 - pl;
            __m512 a = zero, b = zero;
            if (s0 <= -16) {
                /* a left pad of 16 or more: element by element (no zoo model has one) */
                for (int64_t jj = j0; jj < j0 + nj; jj++)
                    for (int64_t ph = 0; ph < 2; ph++) {
                        const int64_t ix = 2 * jj + ph - pl;
                        d[ph * pw + jj] = ix >= 0 && ix < iw ? xr[ix] : 0.0f;
                    }
                continue;
            }
            if (s0 < 0) {
                /* over the left padding: the row's first floats are expanded into lanes -s0..
                 * so that no pointer before the row is formed */
                const int64_t lo = -s0, hi = iw - s0 < 16 ? iw - s0 : 16;
                if (lo < hi)
                    a = _mm512_maskz_expandloadu_ps(
                        (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1)), xr);
            } else if (iw - s0 > 0) {
                const int64_t cnt = iw - s0; /* input columns left from s0 */
                a = _mm512_maskz_loadu_ps(
                    cnt >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cnt) - 1), xr + s0);
            }
            if (iw - (s0 + 16) > 0) {
                const int64_t cnt = iw - (s0 + 16);
                b = _mm512_maskz_loadu_ps(
                    cnt >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cnt) - 1), xr + s0 + 16);
            }
            const __mmask16 m = nj == 16 ? (__mmask16)0xffff : (__mmask16)((1u << nj) - 1);
            _mm512_mask_storeu_ps(d + j0, m, _mm512_permutex2var_ps(a, even, b));
            _mm512_mask_storeu_ps(d + pw + j0, m, _mm512_permutex2var_ps(a, odd, b));
        }
    }
}

/* ---- the flat path: "same" stride-1 layers on small planes (EfficientNet's and
 * MobileNetV2's 28x28, 14x14 and 7x7 planes). The plane is one flat array: output i is the
 * sum over taps of w[tap] * x[i + off(tap)], where a per-layer lane mask drops the taps that
 * fall off the row's ends (taps above or below the plane read the zeroed margins of its
 * copy), so a 7x7 plane takes 4 vectors instead of
 * 7 mostly empty rows and the copy is a plain one with margins; four chunks of 16 outputs accumulate
 * side by side to hide the FMA latency. ---- */

#define DW_FLAT_MAX 4096 /* plane floats (16 KiB: the input copy stays in L1) */

static bool dw_flat_applies(const lucid_dconv *c)
{
    return c->sh == 1 && c->sw == 1 && c->oh == c->ih && c->ow == c->iw &&
           c->ih * c->iw <= DW_FLAT_MAX && c->kh * c->kw <= DW_MAX_TAPS;
}

/* Floats around the plane's copy so that every tap's load address stays inside it. */
static int64_t dw_flat_margin(const lucid_dconv *c)
{
    const int64_t reach = ((c->kh - 1) * c->dh + 1) * c->iw + (c->kw - 1) * c->dw + 1;
    return (reach + 15) / 16 * 16 + 16;
}

static int64_t dw_flat_floats(const lucid_dconv *c)
{
    return 2 * dw_flat_margin(c) + (c->ih * c->iw + 63) / 64 * 64;
}

/* masks[kx * chunks + ch]: lane l set when output i = 16 ch + l exists and kernel column kx
 * reads a column inside the row. Rows need no mask: a tap above or below the plane reads
 * the zeroed margins of the plane's copy. */
static bool dw_flat_masks(lucid_dw_state *s)
{
    const lucid_dconv *c = &s->c;
    const int64_t total = c->oh * c->ow, chunks = (total + 15) / 16;
    s->masks = malloc(sizeof(uint16_t) * (size_t)(chunks * c->kw));
    if (!s->masks) return false;
    s->mask_chunks = chunks;
    for (int64_t kx = 0; kx < c->kw; kx++)
        for (int64_t ch = 0; ch < chunks; ch++) {
            unsigned m = 0;
            for (int l = 0; l < 16; l++) {
                const int64_t i = 16 * ch + l, ix = i % c->ow - c->pl + kx * c->dw;
                if (i < total && ix >= 0 && ix < c->iw) m |= 1u << l;
            }
            s->masks[kx * chunks + ch] = (uint16_t)m;
        }
    return true;
}

/* nv (1..4) chunks of 16 outputs from chunk ch on; kernel kh x kw (constants where the
 * caller inlines them), each column's masks loaded once for all its rows. */
static inline __attribute__((always_inline)) void
dw_flat_block(const lucid_dw_state *s, const float *xb, const float *w, __m512 bv,
              const float *z, float *y, int64_t ch, int64_t total, const int kh, const int kw,
              const int nv)
{
    const lucid_dconv *c = &s->c;
    const int64_t chunks = s->mask_chunks, W = c->iw, dh = c->dh, dw = c->dw;
    __m512 a[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) a[v] = bv;
    const float *xc = xb + 16 * ch - c->pt * W - c->pl;
    for (int kx = 0; kx < kw; kx++) {
        __mmask16 m[4];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) m[v] = (__mmask16)s->masks[kx * chunks + ch + v];
        for (int ky = 0; ky < kh; ky++) {
            const __m512 wk = _mm512_set1_ps(w[ky * kw + kx]);
            const float *q = xc + ky * dh * W + kx * dw;
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++)
                a[v] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m[v], q + 16 * v), wk, a[v]);
        }
    }
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) {
        const int64_t i = 16 * (ch + v);
        const __mmask16 m =
            total - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (total - i)) - 1);
        __m512 t = a[v];
        if (z) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, z + i));
        _mm512_mask_storeu_ps(y + i, m, lucid_avx512_act(&c->act, t));
    }
}

static inline __attribute__((always_inline)) void
dw_flat_plane(const lucid_dw_state *s, const float *xb, const float *w, float bias,
              const float *z, float *y, const int kh, const int kw)
{
    const __m512 bv = _mm512_set1_ps(bias);
    const int64_t total = s->c.oh * s->c.ow, chunks = s->mask_chunks;
    int64_t ch = 0;
    for (; ch + 4 <= chunks; ch += 4) dw_flat_block(s, xb, w, bv, z, y, ch, total, kh, kw, 4);
    switch (chunks - ch) {
    case 1: dw_flat_block(s, xb, w, bv, z, y, ch, total, kh, kw, 1); break;
    case 2: dw_flat_block(s, xb, w, bv, z, y, ch, total, kh, kw, 2); break;
    case 3: dw_flat_block(s, xb, w, bv, z, y, ch, total, kh, kw, 3); break;
    default: break;
    }
}

typedef struct dw_flat_task {
    const lucid_dw_state *s;
    const float *x, *b, *z;
    float *y;
    char *work;
} dw_flat_task;

static void dw_flat_task_run(void *ctx, size_t begin, size_t end, int thread)
{
    const dw_flat_task *t = ctx;
    const lucid_dw_state *s = t->s;
    const lucid_dconv *c = &s->c;
    const int64_t len = dw_flat_floats(c), margin = dw_flat_margin(c);
    float *buf = (float *)(t->work + sizeof(float) * (size_t)len * (size_t)thread);
    /* the margins are never read through an unmasked lane; zeroed to keep them defined */
    for (int64_t j = 0; j < len; j++) buf[j] = 0.0f;
    float *xb = buf + margin;
    const int64_t plane = c->ih * c->iw, taps = c->kh * c->kw;
    int64_t copied = -1;
    for (size_t pl = begin; pl < end; pl++) {
        const int64_t nb = (int64_t)pl / c->oc, oc = (int64_t)pl % c->oc;
        const int64_t src = nb * c->ic + oc / s->mult;
        if (src != copied) {
            /* a copy with margins keeps every tap's address inside one buffer */
            const float *x = t->x + src * plane;
            int64_t j = 0;
            for (; j + 16 <= plane; j += 16) _mm512_storeu_ps(xb + j, _mm512_loadu_ps(x + j));
            if (j < plane) {
                const __mmask16 m = (__mmask16)((1u << (plane - j)) - 1);
                _mm512_mask_storeu_ps(xb + j, m, _mm512_maskz_loadu_ps(m, x + j));
            }
            copied = src;
        }
        const float *w = s->w + oc * taps;
        const float bias = t->b ? t->b[oc] : 0.0f;
        float *y = t->y + (int64_t)pl * plane;
        const float *z = t->z ? t->z + (int64_t)pl * plane : NULL;
        if (c->kh == 3 && c->kw == 3) dw_flat_plane(s, xb, w, bias, z, y, 3, 3);
        else if (c->kh == 5 && c->kw == 5) dw_flat_plane(s, xb, w, bias, z, y, 5, 5);
        else dw_flat_plane(s, xb, w, bias, z, y, (int)c->kh, (int)c->kw);
    }
}

static lucid_status dw_avx512_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                      void **state, lucid_error *err)
{
    lucid_status st = lucid_dw_prepare(g, n, max_threads, state, err);
    if (st) return st;
    lucid_dw_state *s = *state;
    if (dw_flat_applies(&s->c) && !dw_flat_masks(s)) {
        lucid_dw_release(s);
        *state = NULL;
        return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    return LUCID_STATUS_OK;
}

static size_t dw_avx512_workspace(const void *state, int threads)
{
    const lucid_dw_state *s = state;
    if (s->masks)
        return sizeof(float) * (size_t)dw_flat_floats(&s->c) * (size_t)(threads < 1 ? 1 : threads);
    return lucid_dw_workspace(state, threads);
}

static bool dw_avx512_supports(const lucid_graph *g, const lucid_node *n,
                               const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!cpu->avx512f) {
        snprintf(why, why_len, "needs AVX-512F");
        return false;
    }
    if (!lucid_dw_supports(g, n, why, why_len)) return false;
    const lucid_ir_tensor *w = lucid_op_input(g, n, 1);
    if (w->dims[2] * w->dims[3] > DW_MAX_TAPS) {
        snprintf(why, why_len, "kernel larger than %d taps", DW_MAX_TAPS);
        return false;
    }
    return true;
}

static lucid_status dw_avx512_run(const void *state, const lucid_array *in, int n_in,
                                  lucid_array *out, int n_out, void *workspace,
                                  lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    (void)err;
    const lucid_dw_state *s = state;
    if (s->masks) {
        dw_flat_task t = {
            .s = s,
            .x = in[0].data,
            .b = n_in > 2 ? in[2].data : NULL,
            .z = s->c.fused && n_in > 3 ? in[3].data : NULL,
            .y = out[0].data,
            .work = workspace,
        };
        /* chunks of at least 8K outputs: a thread hand-off is not free */
        const int64_t plane = s->c.oh * s->c.ow;
        const size_t grain = (size_t)((8192 + plane - 1) / plane);
        lucid_threadpool_run(pool, (size_t)(s->c.batch * s->c.oc), grain, dw_flat_task_run, &t);
        return LUCID_STATUS_OK;
    }
    lucid_dw_rows_fn row = s->c.kh == 3 && s->c.kw == 3   ? dw_rows_3x3
                           : s->c.kh == 5 && s->c.kw == 5 ? dw_rows_5x5
                                                          : dw_rows_any;
    return lucid_dw_run(s, in, n_in, out, workspace, pool, dw_fill_avx512, row);
}

const lucid_tactic lucid_tactic_cpu_conv_f32_depthwise_avx512 = {
    .name = "cpu.conv.f32.depthwise.avx512",
    .backend = "cpu",
    .flags = 0,
    .preference = 200,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = dw_avx512_supports,
    .prepare = dw_avx512_prepare,
    .release = lucid_dw_release,
    .workspace = dw_avx512_workspace,
    .run = dw_avx512_run,
};
