/* pool_avx512.c - cpu.pool.f32.{max,avg}.avx512: windowed pools 64 output columns per step
 * (four independent accumulators) over padded stride-phase planes, and global pools with
 * four-vector reductions. */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>

#include "cpu/pool.h"

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
    const int64_t ow = s->c.ow;
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
    const lucid_dconv *c = &s->c;
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
    return lucid_pool_run(s, in, out, workspace, pool, s->is_max ? pool_row_max : pool_row_avg,
                          pool_global_avx512);
}

const lucid_tactic lucid_tactic_cpu_pool_f32_max_avx512 = {
    .name = "cpu.pool.f32.max.avx512",
    .backend = "cpu",
    .preference = 300,
    .supports = pool_max_avx512_supports,
    .prepare = lucid_pool_prepare,
    .release = lucid_pool_release,
    .workspace = lucid_pool_workspace,
    .run = pool_avx512_run,
};

const lucid_tactic lucid_tactic_cpu_pool_f32_avg_avx512 = {
    .name = "cpu.pool.f32.avg.avx512",
    .backend = "cpu",
    .preference = 300,
    .supports = pool_avg_avx512_supports,
    .prepare = lucid_pool_prepare,
    .release = lucid_pool_release,
    .workspace = lucid_pool_workspace,
    .run = pool_avx512_run,
};
