/* conv_direct_avx512.c - cpu.conv.f32.direct.avx512: direct convolution for layers with few
 * input channels (the 3-channel stems: ResNet's 7x7/2, MobileNet's 3x3/2), where an im2col
 * GEMM has too short a reduction to pay. Each step computes 8 output channels x 32 output
 * columns in 16 registers: one pair of input loads feeds 16 FMAs. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/conv_direct_common.h"
#include "cpu/eltwise_avx512.h"
#include "ops/op.h"
#include "tactics/tactic.h"

#define DIRECT_OCB 8        /* output channels per block */
#define DIRECT_MAX_IC 16    /* deeper inputs belong to the GEMM-based tactics */

typedef struct direct_state {
    lucid_dconv c;
    lucid_dconv_plane plane;
    int64_t n_ocb;
    float *w; /* [oc block][ic][kh][kw][DIRECT_OCB], zero beyond oc */
} direct_state;

static bool direct_supports(const lucid_graph *g, const lucid_node *n,
                            const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!cpu->avx512f) {
        snprintf(why, why_len, "needs AVX-512F");
        return false;
    }
    lucid_dconv c;
    if (!lucid_dconv_resolve(g, n, &c, why, why_len)) return false;
    if (c.group != 1) {
        snprintf(why, why_len, "grouped convolution");
        return false;
    }
    if (c.ic > DIRECT_MAX_IC) {
        snprintf(why, why_len,
                 "%lld input channels: above %d the GEMM-based tactics reuse inputs better",
                 (long long)c.ic, DIRECT_MAX_IC);
        return false;
    }
    return true;
}

static lucid_status direct_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                   void **state, lucid_error *err)
{
    (void)max_threads;
    char why[256] = "";
    direct_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!lucid_dconv_resolve(g, n, &s->c, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "direct conv: %s", why);
    }
    const lucid_dconv *c = &s->c;
    lucid_dconv_plane_shape(c, &s->plane);
    s->n_ocb = (c->oc + DIRECT_OCB - 1) / DIRECT_OCB;
    const int64_t taps = c->ic * c->kh * c->kw;
    s->w = calloc((size_t)(s->n_ocb * taps * DIRECT_OCB), sizeof(float));
    if (!s->w) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    const float *w = lucid_op_input(g, n, 1)->data;
    for (int64_t o = 0; o < c->oc; o++)
        for (int64_t t = 0; t < taps; t++)
            s->w[((o / DIRECT_OCB) * taps + t) * DIRECT_OCB + o % DIRECT_OCB] = w[o * taps + t];
    *state = s;
    return LUCID_STATUS_OK;
}

static void direct_release(void *state)
{
    direct_state *s = state;
    if (!s) return;
    free(s->w);
    free(s);
}

static size_t direct_image_bytes(const direct_state *s)
{
    size_t b = sizeof(float) * (size_t)(s->c.ic * s->plane.rows * s->plane.row_floats);
    return (b + 63) / 64 * 64;
}

static size_t direct_workspace(const void *state, int threads)
{
    return direct_image_bytes(state) * (size_t)(threads < 1 ? 1 : threads);
}

typedef struct direct_task {
    const direct_state *s;
    const float *x, *b, *z;
    float *y;
    char *work;
} direct_task;

/* Output columns [o, o + 16*nv) of row oy for the channels of block ocb. */
static inline __attribute__((always_inline)) void
direct_block(const direct_task *t, const float *xp, int64_t nb, int64_t ocb, int64_t oy,
             int64_t o, const int nv)
{
    const direct_state *s = t->s;
    const lucid_dconv *c = &s->c;
    const int64_t pw = s->plane.phase_w, rf = s->plane.row_floats;
    const int64_t plane_floats = s->plane.rows * rf;
    __m512 a[DIRECT_OCB][2];
    for (int j = 0; j < DIRECT_OCB; j++) {
        const int64_t oc = ocb * DIRECT_OCB + j;
        const __m512 bv = _mm512_set1_ps(t->b && oc < c->oc ? t->b[oc] : 0.0f);
        a[j][0] = a[j][1] = bv;
    }
    const float *wp = s->w + ocb * c->ic * c->kh * c->kw * DIRECT_OCB;
    for (int64_t ic = 0; ic < c->ic; ic++) {
        const float *xr0 = xp + ic * plane_floats + oy * c->sh * rf + o;
        for (int64_t ky = 0; ky < c->kh; ky++) {
            const float *xr = xr0 + ky * c->dh * rf;
            for (int64_t kx = 0; kx < c->kw; kx++, wp += DIRECT_OCB) {
                const int64_t off = kx * c->dw;
                const float *q = xr + (off % c->sw) * pw + off / c->sw;
                const __m512 x0 = _mm512_loadu_ps(q);
                const __m512 x1 = nv > 1 ? _mm512_loadu_ps(q + 16) : x0;
                for (int j = 0; j < DIRECT_OCB; j++) {
                    const __m512 wv = _mm512_set1_ps(wp[j]);
                    a[j][0] = _mm512_fmadd_ps(x0, wv, a[j][0]);
                    if (nv > 1) a[j][1] = _mm512_fmadd_ps(x1, wv, a[j][1]);
                }
            }
        }
    }
    const int64_t ow = c->ow, out_plane = c->oh * ow;
    for (int j = 0; j < DIRECT_OCB; j++) {
        const int64_t oc = ocb * DIRECT_OCB + j;
        if (oc >= c->oc) break;
        const int64_t base = (nb * c->oc + oc) * out_plane + oy * ow;
        for (int v = 0; v < nv; v++) {
            const int64_t oo = o + 16 * v;
            if (oo >= ow) break;
            const __mmask16 m =
                ow - oo >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (ow - oo)) - 1);
            __m512 r = a[j][v];
            if (t->z) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, t->z + base + oo));
            _mm512_mask_storeu_ps(t->y + base + oo, m, lucid_avx512_act(&c->act, r));
        }
    }
}

/* Items [begin, end) of batch x output-channel block; the padded image is rebuilt only when
 * the batch index changes. */
static void direct_task_run(void *ctx, size_t begin, size_t end, int thread)
{
    const direct_task *t = ctx;
    const direct_state *s = t->s;
    const lucid_dconv *c = &s->c;
    float *xp = (float *)(t->work + direct_image_bytes(s) * (size_t)thread);
    const int64_t plane_floats = s->plane.rows * s->plane.row_floats;
    int64_t padded = -1;
    for (size_t it = begin; it < end; it++) {
        const int64_t nb = (int64_t)it / s->n_ocb, ocb = (int64_t)it % s->n_ocb;
        if (nb != padded) {
            for (int64_t ic = 0; ic < c->ic; ic++)
                lucid_dconv_plane_fill(c, &s->plane, t->x + (nb * c->ic + ic) * c->ih * c->iw,
                                       0.0f, xp + ic * plane_floats);
            padded = nb;
        }
        for (int64_t oy = 0; oy < c->oh; oy++) {
            int64_t o = 0;
            for (; o + 32 <= c->ow; o += 32) direct_block(t, xp, nb, ocb, oy, o, 2);
            if (c->ow - o > 16)
                direct_block(t, xp, nb, ocb, oy, o, 2);
            else if (c->ow > o)
                direct_block(t, xp, nb, ocb, oy, o, 1);
        }
    }
}

static lucid_status direct_run(const void *state, const lucid_array *in, int n_in,
                               lucid_array *out, int n_out, void *workspace,
                               lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    (void)err;
    const direct_state *s = state;
    direct_task t = {
        .s = s,
        .x = in[0].data,
        .b = n_in > 2 ? in[2].data : NULL,
        .z = s->c.fused && n_in > 3 ? in[3].data : NULL,
        .y = out[0].data,
        .work = workspace,
    };
    lucid_threadpool_run(pool, (size_t)(s->c.batch * s->n_ocb), 1, direct_task_run, &t);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_cpu_conv_f32_direct_avx512 = {
    .name = "cpu.conv.f32.direct.avx512",
    .backend = "cpu",
    .preference = 220,
    .supports = direct_supports,
    .prepare = direct_prepare,
    .release = direct_release,
    .workspace = direct_workspace,
    .run = direct_run,
};
