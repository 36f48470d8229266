/* pool_avx512.c - cpu.pool.f32.{max,avg}.avx512. Windowed pools are computed rows first,
 * then columns, with no padded copy of the plane:
 * - "same"-size stride-1 pools (GoogLeNet's and Inception's 3x3/1 pad-1 branch pools) treat
 *   the plane as one flat array: the rows pass reduces whole spans of output rows that see
 *   the same window rows in one stream, and the columns pass reads that result shifted by
 *   each tap under per-layer lane masks that drop the columns past the row's ends, so 7x7
 *   and 14x14 planes cost a few vectors instead of a loop per row;
 * - other pools of width stride 1 or 2 reduce each output row's window rows into a row
 *   buffer whose fixed -inf / 0 margins are the pads, then its columns with unaligned loads
 *   (stride 1) or even-lane permutes (stride 2);
 * - larger strides go through padded stride-phase planes, 64 output columns per step.
 * Global pools use four-vector reductions. .nchw16c variants (at the end) pool NCHW16C
 * activations, a vector of 16 channels per pixel. */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cpu/pool.h"
#include "ops/layout.h"
#include "ops/op.h"

/* Output columns [o, o + 16*nv) of one row; columns past ow are not stored. */
static inline __attribute__((always_inline)) void
pool_block(const lucid_pool_state *s, const float *const *xq, int taps, const float *count,
           float *y, int64_t o, const int nv, const bool is_max)
{
    const __m512 init = _mm512_set1_ps(is_max ? -INFINITY : 0.0f);
    __m512 a[4] = {init, init, init, init};
    for (int k = 0; k < taps; k++) {
        const float *q = xq[k] + o;
        for (int v = 0; v < nv; v++) {
            const __m512 x = _mm512_loadu_ps(q + 16 * v);
            /* max(x, a) takes x when x > a, as the reference's strict comparison */
            a[v] = is_max ? _mm512_max_ps(a[v], x) : _mm512_add_ps(a[v], x);
        }
    }
    const int64_t ow = s->w.c.ow;
    for (int v = 0; v < nv; v++) {
        const int64_t oo = o + 16 * v;
        if (oo >= ow) break;
        const __mmask16 m =
            ow - oo >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (ow - oo)) - 1);
        __m512 r = a[v];
        if (!is_max) r = _mm512_div_ps(r, _mm512_maskz_loadu_ps(m, count + oo));
        _mm512_mask_storeu_ps(y + oo, m, r);
    }
}

#define POOL_MAX_TAPS 64

static inline __attribute__((always_inline)) void
pool_row_k(const lucid_pool_state *s, const float *xp, const float *count, float *y,
           const bool is_max)
{
    const lucid_dconv *c = &s->w.c;
    const int64_t ow = c->ow, pw = s->plane.phase_w, rf = s->plane.row_floats;
    const float *xq[POOL_MAX_TAPS];
    const int taps = (int)(c->kh * c->kw);
    for (int64_t ky = 0; ky < c->kh; ky++)
        for (int64_t kx = 0; kx < c->kw; kx++) {
            const int64_t off = kx * c->dw;
            xq[ky * c->kw + kx] = xp + ky * c->dh * rf + (off % c->sw) * pw + off / c->sw;
        }
    int64_t o = 0;
    for (; o + 64 <= ow; o += 64) pool_block(s, xq, taps, count, y, o, 4, is_max);
    switch ((ow - o + 15) / 16) {
    case 1: pool_block(s, xq, taps, count, y, o, 1, is_max); break;
    case 2: pool_block(s, xq, taps, count, y, o, 2, is_max); break;
    case 3: pool_block(s, xq, taps, count, y, o, 3, is_max); break;
    case 4: pool_block(s, xq, taps, count, y, o, 4, is_max); break;
    default: break;
    }
}

static void pool_row_max(const lucid_pool_state *s, const float *xp, const float *count,
                         float *y)
{
    pool_row_k(s, xp, count, y, true);
}

static void pool_row_avg(const lucid_pool_state *s, const float *xp, const float *count,
                         float *y)
{
    pool_row_k(s, xp, count, y, false);
}

/* ---- the separable path: rows first, into a per-thread row buffer, then columns ---- */

/* Floats of one thread's row buffer: the left pad, the input row and enough of the right pad
 * that every column block's loads (up to 32 floats from its first tap) stay inside. */
static int64_t sep_row_floats(const lucid_pool_state *s)
{
    const lucid_dconv *c = &s->w.c;
    const int64_t ow16 = (c->ow + 15) / 16 * 16;
    int64_t need = c->sw * ow16 + (c->kw - 1) * c->dw + 32;
    if (need < c->pl + c->iw) need = c->pl + c->iw;
    return (need + 16 + 15) / 16 * 16;
}

static bool sep_applies(const lucid_pool_state *s)
{
    return !s->w.global && s->w.c.sw <= 2;
}

static bool flat_applies(const lucid_pool_state *s);
static int64_t flat_floats(const lucid_pool_state *s);

static size_t pool_avx512_workspace(const void *state, int threads)
{
    const lucid_pool_state *s = state;
    const size_t t = (size_t)(threads < 1 ? 1 : threads);
    if (flat_applies(s)) return sizeof(float) * (size_t)flat_floats(s) * t;
    if (!sep_applies(s)) return lucid_pool_workspace(state, threads);
    return sizeof(float) * (size_t)sep_row_floats(s) * t;
}

static inline __mmask16 tail_mask(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* buf[pl + j] = reduction over the rows xr[0..nr) of column j, for j < iw. */
static inline __attribute__((always_inline)) void
sep_rows(const float *const *xr, int nr, int64_t iw, float *buf, const bool is_max)
{
    int64_t j = 0;
    for (; j + 32 <= iw; j += 32) {
        __m512 a0 = _mm512_loadu_ps(xr[0] + j), a1 = _mm512_loadu_ps(xr[0] + j + 16);
        for (int r = 1; r < nr; r++) {
            const __m512 x0 = _mm512_loadu_ps(xr[r] + j), x1 = _mm512_loadu_ps(xr[r] + j + 16);
            a0 = is_max ? _mm512_max_ps(a0, x0) : _mm512_add_ps(a0, x0);
            a1 = is_max ? _mm512_max_ps(a1, x1) : _mm512_add_ps(a1, x1);
        }
        _mm512_storeu_ps(buf + j, a0);
        _mm512_storeu_ps(buf + j + 16, a1);
    }
    for (; j < iw; j += 16) {
        const __mmask16 m = tail_mask(iw - j);
        __m512 a = _mm512_maskz_loadu_ps(m, xr[0] + j);
        for (int r = 1; r < nr; r++) {
            const __m512 x = _mm512_maskz_loadu_ps(m, xr[r] + j);
            a = is_max ? _mm512_max_ps(a, x) : _mm512_add_ps(a, x);
        }
        _mm512_mask_storeu_ps(buf + j, m, a);
    }
}

/* One output row from the row buffer b (b[0] is padded column 0): kw taps dw apart, stride
 * sw (1 or 2); kw and sw are constants where the caller inlines them. */
static inline __attribute__((always_inline)) void
sep_cols(const float *b, int64_t ow, const float *count, float *y, const int kw, const int64_t dw,
         const int sw, const bool is_max)
{
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int64_t o = 0; o < ow; o += 16) {
        const float *q = b + sw * o;
        __m512 a;
        if (sw == 1) {
            a = _mm512_loadu_ps(q);
            for (int k = 1; k < kw; k++) {
                const __m512 x = _mm512_loadu_ps(q + k * dw);
                a = is_max ? _mm512_max_ps(a, x) : _mm512_add_ps(a, x);
            }
        } else {
            a = _mm512_permutex2var_ps(_mm512_loadu_ps(q), even, _mm512_loadu_ps(q + 16));
            for (int k = 1; k < kw; k++) {
                const __m512 x = _mm512_permutex2var_ps(_mm512_loadu_ps(q + k * dw), even,
                                                        _mm512_loadu_ps(q + k * dw + 16));
                a = is_max ? _mm512_max_ps(a, x) : _mm512_add_ps(a, x);
            }
        }
        const __mmask16 m = tail_mask(ow - o);
        if (!is_max) a = _mm512_div_ps(a, _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, count + o));
        _mm512_mask_storeu_ps(y + o, m, a);
    }
}

/* ---- the flat path: stride 1, output as wide as the input, plane at most FLAT_MAX ---- */

#define FLAT_MAX 8192 /* floats of the rows pass's result: it stays in L1 */

static bool flat_applies(const lucid_pool_state *s)
{
    const lucid_dconv *c = &s->w.c;
    return !s->w.global && c->sw == 1 && c->sh == 1 && c->ow == c->iw && c->oh * c->iw <= FLAT_MAX;
}

/* Floats before and after the rows-pass result so that every tap's load address stays
 * inside the buffer (its lanes outside the row are masked off, never read). */
static int64_t flat_margin(const lucid_dconv *c)
{
    const int64_t reach = c->pl > (c->kw - 1) * c->dw ? c->pl : (c->kw - 1) * c->dw;
    return (reach + 15) / 16 * 16 + 16;
}

static int64_t flat_floats(const lucid_pool_state *s)
{
    const lucid_dconv *c = &s->w.c;
    return 2 * flat_margin(c) + (c->oh * c->ow + 15) / 16 * 16;
}

/* The columns pass's masks: masks[kx * chunks + ch] has lane l set when flat output
 * i = 16 ch + l exists and its tap kx reads a column inside the row. */
static bool flat_masks(lucid_pool_state *s)
{
    const lucid_dconv *c = &s->w.c;
    const int64_t total = c->oh * c->ow, chunks = (total + 15) / 16;
    s->masks = malloc(sizeof(uint16_t) * (size_t)(chunks * c->kw));
    if (!s->masks) return false;
    s->mask_chunks = chunks;
    for (int64_t kx = 0; kx < c->kw; kx++)
        for (int64_t ch = 0; ch < chunks; ch++) {
            unsigned m = 0;
            for (int l = 0; l < 16; l++) {
                const int64_t i = 16 * ch + l, col = i % c->ow - c->pl + kx * c->dw;
                if (i < total && col >= 0 && col < c->iw) m |= 1u << l;
            }
            s->masks[kx * chunks + ch] = (uint16_t)m;
        }
    return true;
}

/* d[0..n) = reduction over the nr sources src[r][0..n). */
static inline __attribute__((always_inline)) void
flat_span(const float *const *src, int nr, int64_t n, float *d, const bool is_max)
{
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m512 a0 = _mm512_loadu_ps(src[0] + j), a1 = _mm512_loadu_ps(src[0] + j + 16);
        for (int r = 1; r < nr; r++) {
            const __m512 x0 = _mm512_loadu_ps(src[r] + j), x1 = _mm512_loadu_ps(src[r] + j + 16);
            a0 = is_max ? _mm512_max_ps(a0, x0) : _mm512_add_ps(a0, x0);
            a1 = is_max ? _mm512_max_ps(a1, x1) : _mm512_add_ps(a1, x1);
        }
        _mm512_storeu_ps(d + j, a0);
        _mm512_storeu_ps(d + j + 16, a1);
    }
    for (; j < n; j += 16) {
        const __mmask16 m = tail_mask(n - j);
        __m512 a = _mm512_maskz_loadu_ps(m, src[0] + j);
        for (int r = 1; r < nr; r++) {
            const __m512 x = _mm512_maskz_loadu_ps(m, src[r] + j);
            a = is_max ? _mm512_max_ps(a, x) : _mm512_add_ps(a, x);
        }
        _mm512_mask_storeu_ps(d + j, m, a);
    }
}

static inline __attribute__((always_inline)) void
flat_plane(const lucid_pool_state *s, const float *x, float *y, float *v, const int kw,
           const bool is_max)
{
    const lucid_dconv *c = &s->w.c;
    const int64_t W = c->iw, oh = c->oh, dh = c->dh, dw = c->dw, pl = c->pl;
    const float fill = is_max ? -INFINITY : 0.0f;
    /* rows pass: output rows [oy, end) that see the same window rows form one span */
    const float *src[64];
    for (int64_t oy = 0; oy < oh;) {
        uint64_t set = 0;
        for (int64_t ky = 0; ky < c->kh; ky++) {
            const int64_t iy = oy - c->pt + ky * dh;
            if (iy >= 0 && iy < c->ih) set |= 1ull << ky;
        }
        int64_t end = oy + 1;
        for (; end < oh; end++) {
            uint64_t next = 0;
            for (int64_t ky = 0; ky < c->kh; ky++) {
                const int64_t iy = end - c->pt + ky * dh;
                if (iy >= 0 && iy < c->ih) next |= 1ull << ky;
            }
            if (next != set) break;
        }
        int nr = 0;
        for (int64_t ky = 0; ky < c->kh; ky++)
            if (set >> ky & 1) src[nr++] = x + (oy - c->pt + ky * dh) * W;
        if (nr)
            flat_span(src, nr, (end - oy) * W, v + oy * W, is_max);
        else
            for (int64_t j = oy * W; j < end * W; j++) v[j] = fill;
        oy = end;
    }
    /* columns pass over the flat result */
    const int64_t total = oh * W, chunks = s->mask_chunks;
    const __m512 fv = _mm512_set1_ps(fill);
    for (int64_t ch = 0; ch < chunks; ch++) {
        const int64_t i = 16 * ch;
        __m512 a = fv;
        for (int k = 0; k < kw; k++) {
            const __mmask16 m = s->masks[k * chunks + ch];
            const __m512 t = _mm512_mask_loadu_ps(fv, m, v + i + k * dw - pl);
            a = is_max ? _mm512_max_ps(a, t) : _mm512_add_ps(a, t);
        }
        const __mmask16 m = tail_mask(total - i);
        if (!is_max) a = _mm512_div_ps(a, _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, s->w.count + i));
        _mm512_mask_storeu_ps(y + i, m, a);
    }
}

typedef struct sep_task {
    const lucid_pool_state *s;
    const float *x;
    float *y;
    char *work;
} sep_task;

static inline __attribute__((always_inline)) void
sep_plane(const lucid_pool_state *s, const float *x, float *y, float *buf, const int kw,
          const int sw, const bool is_max)
{
    const lucid_dconv *c = &s->w.c;
    const float fill = is_max ? -INFINITY : 0.0f;
    const float *xr[64];
    for (int64_t oy = 0; oy < c->oh; oy++) {
        int nr = 0;
        for (int64_t ky = 0; ky < c->kh; ky++) {
            const int64_t iy = oy * c->sh - c->pt + ky * c->dh;
            if (iy >= 0 && iy < c->ih) xr[nr++] = x + iy * c->iw;
        }
        if (nr)
            sep_rows(xr, nr, c->iw, buf + c->pl, is_max);
        else /* a window entirely in the pads (ceil_mode overhang): the reference's empty
              * reduction */
            for (int64_t j = 0; j < c->iw; j++) buf[c->pl + j] = fill;
        sep_cols(buf, c->ow, s->w.count ? s->w.count + oy * c->ow : NULL, y + oy * c->ow, kw, c->dw,
                 sw, is_max);
    }
}

static void sep_task_run(void *ctx, size_t begin, size_t end, int thread)
{
    const sep_task *t = ctx;
    const lucid_pool_state *s = t->s;
    const lucid_dconv *c = &s->w.c;
    const int64_t len = sep_row_floats(s);
    float *buf = (float *)(t->work + sizeof(float) * (size_t)len * (size_t)thread);
    const float fill = s->w.is_max ? -INFINITY : 0.0f;
    for (int64_t j = 0; j < len; j++) buf[j] = fill;
    const int64_t out_plane = c->oh * c->ow;
    const bool k3 = c->kw == 3;
    for (size_t pl = begin; pl < end; pl++) {
        const float *x = t->x + (int64_t)pl * s->w.plane_in;
        float *y = t->y + (int64_t)pl * out_plane;
        if (s->w.is_max) {
            if (k3 && c->sw == 1) sep_plane(s, x, y, buf, 3, 1, true);
            else if (k3) sep_plane(s, x, y, buf, 3, 2, true);
            else if (c->sw == 1) sep_plane(s, x, y, buf, (int)c->kw, 1, true);
            else sep_plane(s, x, y, buf, (int)c->kw, 2, true);
        } else {
            if (k3 && c->sw == 1) sep_plane(s, x, y, buf, 3, 1, false);
            else if (k3) sep_plane(s, x, y, buf, 3, 2, false);
            else if (c->sw == 1) sep_plane(s, x, y, buf, (int)c->kw, 1, false);
            else sep_plane(s, x, y, buf, (int)c->kw, 2, false);
        }
    }
}

static void flat_task_run(void *ctx, size_t begin, size_t end, int thread)
{
    const sep_task *t = ctx;
    const lucid_pool_state *s = t->s;
    const lucid_dconv *c = &s->w.c;
    float *v = (float *)(t->work + sizeof(float) * (size_t)flat_floats(s) * (size_t)thread) +
               flat_margin(c);
    const int64_t out_plane = c->oh * c->ow;
    for (size_t pl = begin; pl < end; pl++) {
        const float *x = t->x + (int64_t)pl * s->w.plane_in;
        float *y = t->y + (int64_t)pl * out_plane;
        if (s->w.is_max) {
            if (c->kw == 3) flat_plane(s, x, y, v, 3, true);
            else flat_plane(s, x, y, v, (int)c->kw, true);
        } else {
            if (c->kw == 3) flat_plane(s, x, y, v, 3, false);
            else flat_plane(s, x, y, v, (int)c->kw, false);
        }
    }
}

static lucid_status pool_avx512_prepare(const lucid_graph *g, const lucid_node *n,
                                        int max_threads, void **state, lucid_error *err)
{
    lucid_status st = lucid_pool_prepare(g, n, max_threads, state, err);
    if (st) return st;
    lucid_pool_state *s = *state;
    if (flat_applies(s) && !flat_masks(s)) {
        lucid_pool_release(s);
        *state = NULL;
        return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    return LUCID_STATUS_OK;
}

static float pool_global_avx512(const float *x, int64_t n, bool is_max)
{
    const __m512 init = _mm512_set1_ps(is_max ? -INFINITY : 0.0f);
    __m512 a0 = init, a1 = init, a2 = init, a3 = init;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
        __m512 x2 = _mm512_loadu_ps(x + i + 32), x3 = _mm512_loadu_ps(x + i + 48);
        if (is_max) {
            a0 = _mm512_max_ps(a0, x0), a1 = _mm512_max_ps(a1, x1);
            a2 = _mm512_max_ps(a2, x2), a3 = _mm512_max_ps(a3, x3);
        } else {
            a0 = _mm512_add_ps(a0, x0), a1 = _mm512_add_ps(a1, x1);
            a2 = _mm512_add_ps(a2, x2), a3 = _mm512_add_ps(a3, x3);
        }
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        const __m512 xv = _mm512_mask_loadu_ps(init, m, x + i);
        a0 = is_max ? _mm512_max_ps(a0, xv) : _mm512_add_ps(a0, xv);
    }
    if (is_max)
        return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(a0, a1), _mm512_max_ps(a2, a3)));
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
    return n ? sum / (float)n : NAN;
}

static bool pool_avx512_check(const lucid_graph *g, const lucid_node *n,
                              const lucid_cpu_features *cpu, bool is_max, char *why,
                              size_t why_len)
{
    if (!cpu->avx512f) {
        snprintf(why, why_len, "needs AVX-512F");
        return false;
    }
    if (!lucid_pool_supports(g, n, is_max, why, why_len)) return false;
    int64_t k = 1;
    const int64_t *v;
    size_t count = 0;
    if (!lucid_attr_ints(n, "kernel_shape", &v, &count, NULL))
        for (size_t i = 0; i < count; i++) k *= v[i];
    if (k > POOL_MAX_TAPS) {
        snprintf(why, why_len, "window larger than %d taps", POOL_MAX_TAPS);
        return false;
    }
    return true;
}

static bool pool_max_avx512_supports(const lucid_graph *g, const lucid_node *n,
                                     const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    return pool_avx512_check(g, n, cpu, true, why, why_len);
}

static bool pool_avg_avx512_supports(const lucid_graph *g, const lucid_node *n,
                                     const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    return pool_avx512_check(g, n, cpu, false, why, why_len);
}

static lucid_status pool_avx512_run(const void *state, const lucid_array *in, int n_in,
                                    lucid_array *out, int n_out, void *workspace,
                                    lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)err;
    const lucid_pool_state *s = state;
    if (sep_applies(s)) {
        sep_task t = {s, in[0].data, out[0].data, workspace};
        lucid_threadpool_run(pool, (size_t)s->w.planes, lucid_pool_grain(s),
                             flat_applies(s) ? flat_task_run : sep_task_run, &t);
        return LUCID_STATUS_OK;
    }
    return lucid_pool_run(s, in, out, workspace, pool, s->w.is_max ? pool_row_max : pool_row_avg,
                          pool_global_avx512);
}

const lucid_tactic lucid_tactic_cpu_pool_f32_max_avx512 = {
    .name = "cpu.pool.f32.max.avx512",
    .backend = "cpu",
    .preference = 300,
    .supports = pool_max_avx512_supports,
    .prepare = pool_avx512_prepare,
    .release = lucid_pool_release,
    .workspace = pool_avx512_workspace,
    .run = pool_avx512_run,
};

const lucid_tactic lucid_tactic_cpu_pool_f32_avg_avx512 = {
    .name = "cpu.pool.f32.avg.avx512",
    .backend = "cpu",
    .preference = 300,
    .supports = pool_avg_avx512_supports,
    .prepare = pool_avx512_prepare,
    .release = lucid_pool_release,
    .workspace = pool_avx512_workspace,
    .run = pool_avx512_run,
};

/* ---- cpu.pool.f32.{max,avg}.avx512.nchw16c: the same pools on NCHW16C activations, one
 * vector per pixel holding a block of 16 channels; a task is one output row of one block
 * (global pools: one block's plane). Window taps in the pads are skipped, so the pads count
 * as -inf (max) or, through the divisor table, as count_include_pad says (average). ---- */

typedef struct pool16_task {
    const lucid_pool_state *s;
    const float *x;
    float *y;
} pool16_task;

static inline __attribute__((always_inline)) void pool16_rows(const pool16_task *t, size_t begin,
                                                              size_t end, const bool is_max)
{
    const lucid_pool_state *s = t->s;
    const lucid_dconv *c = &s->w.c;
    const __m512 init = _mm512_set1_ps(is_max ? -INFINITY : 0.0f);
    if (s->w.global) {
        const int64_t hw = s->w.plane_in;
        for (size_t b = begin; b < end; b++) {
            const float *x = t->x + (int64_t)b * hw * 16;
            __m512 a0 = init, a1 = init;
            int64_t p = 0;
            for (; p + 2 <= hw; p += 2) {
                const __m512 x0 = _mm512_loadu_ps(x + p * 16);
                const __m512 x1 = _mm512_loadu_ps(x + p * 16 + 16);
                a0 = is_max ? _mm512_max_ps(a0, x0) : _mm512_add_ps(a0, x0);
                a1 = is_max ? _mm512_max_ps(a1, x1) : _mm512_add_ps(a1, x1);
            }
            if (p < hw) {
                const __m512 x0 = _mm512_loadu_ps(x + p * 16);
                a0 = is_max ? _mm512_max_ps(a0, x0) : _mm512_add_ps(a0, x0);
            }
            __m512 r = is_max ? _mm512_max_ps(a0, a1) : _mm512_add_ps(a0, a1);
            if (!is_max) r = _mm512_div_ps(r, _mm512_set1_ps((float)hw));
            _mm512_storeu_ps(t->y + (int64_t)b * 16, r);
        }
        return;
    }
    const int64_t ih = c->ih, iw = c->iw, oh = c->oh, ow = c->ow;
    for (size_t task = begin; task < end; task++) {
        const int64_t b = (int64_t)task / oh, oy = (int64_t)task % oh;
        const float *x = t->x + b * ih * iw * 16;
        float *y = t->y + (b * oh + oy) * ow * 16;
        /* the window rows inside the input */
        int64_t rows[64];
        int nr = 0;
        for (int64_t ky = 0; ky < c->kh; ky++) {
            const int64_t iy = oy * c->sh - c->pt + ky * c->dh;
            if (iy >= 0 && iy < ih) rows[nr++] = iy;
        }
        for (int64_t ox = 0; ox < ow; ox++) {
            const int64_t ix0 = ox * c->sw - c->pl;
            __m512 a = init;
            for (int64_t kx = 0; kx < c->kw; kx++) {
                const int64_t ix = ix0 + kx * c->dw;
                if (ix < 0 || ix >= iw) continue;
                for (int r = 0; r < nr; r++) {
                    const __m512 v = _mm512_loadu_ps(x + (rows[r] * iw + ix) * 16);
                    /* max(x, a) takes x when x > a, as the reference's strict comparison */
                    a = is_max ? _mm512_max_ps(a, v) : _mm512_add_ps(a, v);
                }
            }
            if (!is_max) a = _mm512_div_ps(a, _mm512_set1_ps(s->w.count[oy * ow + ox]));
            _mm512_storeu_ps(y + ox * 16, a);
        }
    }
}

static void pool16_max_run(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    pool16_rows(ctx, begin, end, true);
}

static void pool16_avg_run(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    pool16_rows(ctx, begin, end, false);
}

static bool pool16_check(const lucid_graph *g, const lucid_node *n,
                         const lucid_cpu_features *cpu, bool is_max, char *why, size_t why_len)
{
    if (!pool_avx512_check(g, n, cpu, is_max, why, why_len)) return false;
    if (!lucid_layout_blockable(lucid_op_input(g, n, 0))) {
        snprintf(why, why_len, "NCHW16C needs 4-D input with channels in blocks of 16");
        return false;
    }
    return true;
}

static bool pool16_max_supports(const lucid_graph *g, const lucid_node *n,
                                const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    return pool16_check(g, n, cpu, true, why, why_len);
}

static bool pool16_avg_supports(const lucid_graph *g, const lucid_node *n,
                                const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    return pool16_check(g, n, cpu, false, why, why_len);
}

static lucid_status pool16_run(const void *state, const lucid_array *in, int n_in,
                               lucid_array *out, int n_out, void *workspace,
                               lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)workspace;
    (void)err;
    const lucid_pool_state *s = state;
    pool16_task t = {s, in[0].data, out[0].data};
    const int64_t blocks = s->w.planes / 16;
    const int64_t tasks = s->w.global ? blocks : blocks * s->w.c.oh;
    const int64_t per_task = s->w.global ? s->w.plane_in : s->w.c.ow * s->w.c.kh * s->w.c.kw;
    lucid_threadpool_run(pool, (size_t)tasks, (size_t)(256 / (per_task + 1) + 1),
                         s->w.is_max ? pool16_max_run : pool16_avg_run, &t);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_cpu_pool_f32_max_avx512_nchw16c = {
    .name = "cpu.pool.f32.max.avx512.nchw16c",
    .backend = "cpu",
    .preference = 302,
    .in_layout = LUCID_LAYOUT_NCHW16C,
    .out_layout = LUCID_LAYOUT_NCHW16C,
    .supports = pool16_max_supports,
    .prepare = lucid_pool_prepare,
    .release = lucid_pool_release,
    .workspace = lucid_tactic_no_workspace,
    .run = pool16_run,
};

const lucid_tactic lucid_tactic_cpu_pool_f32_avg_avx512_nchw16c = {
    .name = "cpu.pool.f32.avg.avx512.nchw16c",
    .backend = "cpu",
    .preference = 302,
    .in_layout = LUCID_LAYOUT_NCHW16C,
    .out_layout = LUCID_LAYOUT_NCHW16C,
    .supports = pool16_avg_supports,
    .prepare = lucid_pool_prepare,
    .release = lucid_pool_release,
    .workspace = lucid_tactic_no_workspace,
    .run = pool16_run,
};
