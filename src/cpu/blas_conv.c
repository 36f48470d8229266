/* blas_conv.c - blas.conv.f32.im2col_sgemm: Conv and FusedConv as im2col + OpenBLAS sgemm
 * per image and group (a 1x1 stride-1 unpadded convolution reads its input directly as the
 * column matrix), the output first holding bias + residual so that sgemm accumulates into it,
 * the activation applied after. The column matrix lives in the workspace. */
#ifdef LUCID_HAVE_BLAS

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/blas_common.h"
#include "cpu/blas_product.h"
#include "cpu/conv_direct_common.h"
#include "ops/op.h"

typedef struct blas_conv_state {
    lucid_dconv c;
    const float *w; /* the graph's weights: row-major [oc][ic/group * kh * kw], sgemm's A */
    bool direct;    /* 1x1, stride 1, no pad: the input is the column matrix */
    int64_t kdim;   /* ic/group * kh * kw */
} blas_conv_state;

static bool blas_conv_resolve(const lucid_graph *g, const lucid_node *n, blas_conv_state *s,
                              char *why, size_t why_len)
{
    if (!lucid_dconv_resolve(g, n, &s->c, why, why_len)) return false;
    const lucid_dconv *c = &s->c;
    s->w = lucid_op_input(g, n, 1)->data;
    s->kdim = c->ic / c->group * c->kh * c->kw;
    s->direct = c->kh == 1 && c->kw == 1 && c->sh == 1 && c->sw == 1 && c->pt == 0 &&
                c->pl == 0 && c->oh == c->ih && c->ow == c->iw;
    if (s->kdim * c->oh * c->ow > INT32_MAX) {
        snprintf(why, why_len, "column matrix beyond 32-bit BLAS indices");
        return false;
    }
    return true;
}

static bool blas_conv_supports(const lucid_graph *g, const lucid_node *n,
                               const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!lucid_blas_cap_ok(cpu, why, why_len)) return false;
    blas_conv_state s;
    return blas_conv_resolve(g, n, &s, why, why_len);
}

static lucid_status blas_conv_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                      void **state, lucid_error *err)
{
    (void)max_threads;
    char why[256] = "";
    blas_conv_state *s = malloc(sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!blas_conv_resolve(g, n, s, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    *state = s;
    return LUCID_STATUS_OK;
}

static void blas_conv_release(void *state)
{
    free(state);
}

static size_t blas_conv_workspace(const void *state, int threads)
{
    (void)threads;
    const blas_conv_state *s = state;
    return s->direct ? 0 : sizeof(float) * (size_t)(s->kdim * s->c.oh * s->c.ow);
}

typedef struct im2col_task {
    const lucid_dconv *c;
    const float *x; /* the group's first input channel of one image */
    float *col;     /* [icg * kh * kw][oh * ow] */
} im2col_task;

/* Rows [begin, end) of the column matrix: row (ci, ky, kx) holds the input sample each output
 * position reads through that kernel tap (0 in the padding). */
static void im2col_rows(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const im2col_task *t = ctx;
    const lucid_dconv *c = t->c;
    const int64_t khw = c->kh * c->kw, plane = c->oh * c->ow;
    for (size_t r = begin; r < end; r++) {
        const int64_t ci = (int64_t)r / khw, ky = (int64_t)r % khw / c->kw, kx = (int64_t)r % c->kw;
        const float *xc = t->x + ci * c->ih * c->iw;
        float *dst = t->col + (int64_t)r * plane;
        for (int64_t oy = 0; oy < c->oh; oy++) {
            const int64_t iy = oy * c->sh - c->pt + ky * c->dh;
            float *d = dst + oy * c->ow;
            if (iy < 0 || iy >= c->ih) {
                memset(d, 0, sizeof(float) * (size_t)c->ow);
                continue;
            }
            const float *xr = xc + iy * c->iw;
            const int64_t x0 = kx * c->dw - c->pl;
            for (int64_t ox = 0; ox < c->ow; ox++) {
                const int64_t ix = ox * c->sw + x0;
                d[ox] = ix >= 0 && ix < c->iw ? xr[ix] : 0.0f;
            }
        }
    }
}

static lucid_status blas_conv_run(const void *state, const lucid_array *in, int n_in,
                                  lucid_array *out, int n_out, void *workspace,
                                  lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    (void)err;
    const blas_conv_state *s = state;
    const lucid_dconv *c = &s->c;
    const float *x = in[0].data;
    const float *b = n_in > 2 ? in[2].data : NULL;
    const float *z = c->fused && n_in > 3 ? in[3].data : NULL;
    float *y = out[0].data, *col = workspace;
    const int64_t plane = c->oh * c->ow, icg = c->ic / c->group, ocg = c->oc / c->group;
    const int64_t ysize = c->batch * c->oc * plane;
    /* y = bias + residual: sgemm then adds the product with its beta of 1 */
    if (z && z != y) memcpy(y, z, sizeof(float) * (size_t)ysize);
    if (!z) memset(y, 0, sizeof(float) * (size_t)ysize);
    if (b)
        for (int64_t i = 0; i < c->batch * c->oc; i++) {
            const float bv = b[i % c->oc];
            float *yp = y + i * plane;
            for (int64_t j = 0; j < plane; j++) yp[j] += bv;
        }
    lucid_blas_threads_set(pool);
    for (int64_t nb = 0; nb < c->batch; nb++)
        for (int64_t gi = 0; gi < c->group; gi++) {
            const float *xg = x + (nb * c->ic + gi * icg) * c->ih * c->iw;
            const float *src = xg;
            if (!s->direct) {
                im2col_task t = {c, xg, col};
                lucid_threadpool_run(pool, (size_t)s->kdim, 1, im2col_rows, &t);
                src = col;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)ocg, (blasint)plane,
                        (blasint)s->kdim, 1.0f, s->w + gi * ocg * s->kdim, (blasint)s->kdim, src,
                        (blasint)plane, 1.0f, y + (nb * c->oc + gi * ocg) * plane,
                        (blasint)plane);
        }
    lucid_blas_apply_act(&c->act, y, ysize);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_blas_conv_f32_im2col_sgemm = {
    .name = "blas.conv.f32.im2col_sgemm",
    .backend = "blas",
    .flags = LUCID_TACTIC_THREAD_DEPENDENT,
    .preference = 421,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = blas_conv_supports,
    .prepare = blas_conv_prepare,
    .release = blas_conv_release,
    .workspace = blas_conv_workspace,
    .run = blas_conv_run,
};

#endif
