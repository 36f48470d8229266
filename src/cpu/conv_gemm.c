/* conv_gemm.c - convolution as packed GEMM: cpu.conv.f32.1x1_gemm.{avx512,avx2} (pointwise,
 * the image is B as it lies) and cpu.conv.f32.im2col_gemm.{avx512,avx2} (any 2-D conv, the
 * im2col matrix written block by block straight into packed B panels). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/conv_direct_common.h"
#include "cpu/gemm.h"
#include "ops/op.h"
#include "tactics/tactic.h"

/* Per image and group, NCHW: Y[oc, p] = W[oc, (c, ky, kx)] * X'[(c, ky, kx), p] over output
 * pixels p, so the weights are A (packed once: M = OC/group, K = IC/group * KH * KW) and the
 * image side is B (N = OH * OW, packed per K x N block at run time, which is also what keeps
 * the im2col workspace at one block per thread). The conv epilogue's bias is per row. */
typedef struct conv_state {
    const lucid_gemm_kernel *kern;
    lucid_gemm_blocking blk;
    lucid_dconv c;
    int64_t m, n, k;
    float *apacked;      /* group after group */
    size_t group_floats; /* packed floats of one group's weights */
    bool pointwise;
    lucid_epilogue epi; /* the activation; pointers are set per run */
} conv_state;

static bool refuse(char *why, size_t why_len, const char *msg)
{
    if (why && why_len) snprintf(why, why_len, "%s", msg);
    return false;
}

static bool is_pointwise(const lucid_dconv *c)
{
    return c->kh == 1 && c->kw == 1 && c->sh == 1 && c->sw == 1 && c->pt == 0 && c->pl == 0 &&
           c->oh == c->ih && c->ow == c->iw;
}

static bool conv_resolve(const lucid_graph *g, const lucid_node *n, bool pointwise_only,
                         lucid_dconv *c, lucid_epilogue *epi, char *why, size_t why_len)
{
    if (!lucid_dconv_resolve(g, n, c, why, why_len)) return false;
    if (pointwise_only && !is_pointwise(c))
        return refuse(why, why_len, "not a 1x1, stride 1, unpadded convolution");
    memset(epi, 0, sizeof *epi);
    epi->alpha = epi->beta = 1.0f;
    epi->act = c->act;
    return true;
}

/* ---- packing the image side ------------------------------------------------------- */

/* B rows [r0, r0+rows) are output pixels, k is (channel, ky, kx). Each panel's pixels are cut
 * into runs within one output row; for a given k a run reads one input row, contiguous when
 * the stride is 1, so most of the copy is memcpy with zero edges for the padding. */
static void im2col_pack(const lucid_gemm_operand *op, int64_t r0, int64_t rows, int64_t k0,
                        int64_t kc, int width, float *dst)
{
    const conv_state *s = op->ctx;
    const lucid_dconv *c = &s->c;
    const int64_t khw = c->kh * c->kw, plane = c->ih * c->iw;
    struct {
        int t0, len;
        int64_t iy0, ix0;
    } seg[64];
    for (int64_t p0 = 0; p0 < rows; p0 += width) {
        int w = rows - p0 < width ? (int)(rows - p0) : width;
        int ns = 0;
        for (int t = 0; t < w;) {
            int64_t j = r0 + p0 + t, oy = j / c->ow, ox = j % c->ow;
            int len = c->ow - ox < w - t ? (int)(c->ow - ox) : w - t;
            seg[ns].t0 = t;
            seg[ns].len = len;
            seg[ns].iy0 = oy * c->sh - c->pt;
            seg[ns].ix0 = ox * c->sw - c->pl;
            ns++;
            t += len;
        }
        for (int64_t kk = 0; kk < kc; kk++) {
            int64_t k = k0 + kk, ch = k / khw, rem = k - ch * khw, ky = rem / c->kw,
                    kx = rem - ky * c->kw;
            const float *xc = op->data + ch * plane;
            float *d = dst + kk * width;
            for (int si = 0; si < ns; si++) {
                float *ds = d + seg[si].t0;
                const int len = seg[si].len;
                const int64_t iy = seg[si].iy0 + ky * c->dh, ix0 = seg[si].ix0 + kx * c->dw;
                if (iy < 0 || iy >= c->ih) {
                    memset(ds, 0, sizeof(float) * (size_t)len);
                    continue;
                }
                const float *row = xc + iy * c->iw;
                if (c->sw == 1) {
                    int64_t lo = ix0 < 0 ? -ix0 : 0, hi = c->iw - ix0;
                    if (lo > len) lo = len;
                    if (hi > len) hi = len;
                    if (hi < lo) hi = lo;
                    /* short runs (at most one panel): a plain loop beats a memcpy call */
                    for (int64_t u = 0; u < lo; u++)
                        ds[u] = 0.0f;
                    /* based at the first valid column: row + ix0 may lie before the plane */
                    const float *src = row + (ix0 + lo);
                    for (int64_t u = lo; u < hi; u++)
                        ds[u] = src[u - lo];
                    for (int64_t u = hi; u < len; u++)
                        ds[u] = 0.0f;
                } else {
                    for (int u = 0; u < len; u++) {
                        int64_t ix = ix0 + u * c->sw;
                        ds[u] = ix >= 0 && ix < c->iw ? row[ix] : 0.0f;
                    }
                }
            }
            for (int t = w; t < width; t++)
                d[t] = 0.0f;
        }
        dst += (size_t)width * (size_t)kc;
    }
}

/* ---- the tactics ------------------------------------------------------------------ */

static bool conv_supports_with(const lucid_gemm_kernel *kern, bool pointwise_only,
                               const lucid_graph *g, const lucid_node *n,
                               const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!lucid_gemm_kernel_supported(kern, cpu))
        return refuse(why, why_len, "the CPU lacks the instruction set");
    lucid_dconv c;
    lucid_epilogue e;
    return conv_resolve(g, n, pointwise_only, &c, &e, why, why_len);
}

static lucid_status conv_prepare_with(const lucid_gemm_kernel *kern, bool pointwise_only,
                                      const lucid_graph *g, const lucid_node *n, void **state,
                                      lucid_error *err)
{
    char why[256] = "";
    conv_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!conv_resolve(g, n, pointwise_only, &s->c, &s->epi, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    const lucid_dconv *c = &s->c;
    s->kern = kern;
    s->pointwise = is_pointwise(c);
    s->m = c->oc / c->group;
    s->n = c->oh * c->ow;
    s->k = c->ic / c->group * c->kh * c->kw;
    s->blk = lucid_gemm_blocking_for(kern, s->m, s->n, s->k);
    /* whole vectors per group so that every group's panels start 64-byte aligned */
    s->group_floats = (lucid_gemm_packed_floats(s->m, s->k, kern->mr) + 15) / 16 * 16;
    size_t bytes = s->group_floats * (size_t)c->group * sizeof(float);
    s->apacked = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!s->apacked) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY,
                                 "out of memory packing weights (%zu bytes)", bytes);
    }
    const float *w = lucid_op_input(g, n, 1)->data;
    for (int64_t gi = 0; gi < c->group; gi++) {
        lucid_gemm_operand src = {
            .pack = lucid_gemm_pack_matrix, .data = w + gi * s->m * s->k, .rs = s->k, .ks = 1};
        lucid_gemm_prepack(&s->blk, s->m, s->k, kern->mr, &src,
                           s->apacked + (size_t)gi * s->group_floats);
    }
    *state = s;
    return LUCID_STATUS_OK;
}

static void conv_release(void *state)
{
    conv_state *s = state;
    if (!s) return;
    free(s->apacked);
    free(s);
}

static size_t conv_ws_floats(const conv_state *s)
{
    return lucid_gemm_workspace_floats(s->kern, &s->blk, false, true);
}

static size_t conv_workspace(const void *state, int threads)
{
    return conv_ws_floats(state) * sizeof(float) * (size_t)(threads > 0 ? threads : 1);
}

typedef struct conv_run_ctx {
    const conv_state *s;
    const float *x, *bias, *z;
    float *y;
} conv_run_ctx;

/* Product `index` is image index / group, group index % group. */
static void conv_setup(const void *vctx, size_t index, lucid_gemm_problem *p)
{
    const conv_run_ctx *r = vctx;
    const conv_state *s = r->s;
    const lucid_dconv *c = &s->c;
    int64_t b = (int64_t)index / c->group, gi = (int64_t)index % c->group;
    const int64_t ohw = s->n, icg = c->ic / c->group;
    memset(p, 0, sizeof *p);
    p->m = s->m, p->n = s->n, p->k = s->k;
    p->a.packed = s->apacked + (size_t)gi * s->group_floats;
    const float *x = r->x + (b * c->ic + gi * icg) * c->ih * c->iw;
    if (s->pointwise)
        p->b = (lucid_gemm_operand){
            .pack = lucid_gemm_pack_matrix, .data = x, .rs = 1, .ks = c->ih * c->iw};
    else
        p->b = (lucid_gemm_operand){.pack = im2col_pack, .data = x, .ctx = s};
    int64_t yoff = (b * c->oc + gi * s->m) * ohw;
    p->c = r->y + yoff;
    p->ldc = ohw;
    p->epi = s->epi;
    if (r->bias) {
        p->epi.addend = r->bias + gi * s->m;
        p->epi.add_rs = 1;
        p->epi.add_cs = 0;
    }
    if (r->z) {
        p->epi.residual = r->z + yoff;
        p->epi.res_ld = ohw;
    }
}

static lucid_status conv_run(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    (void)err;
    const conv_state *s = state;
    conv_run_ctx r = {.s = s, .x = in[0].data, .y = out[0].data};
    r.bias = n_in > 2 ? in[2].data : NULL;
    r.z = s->c.fused && n_in > 3 ? in[3].data : NULL;
    lucid_gemm_run_batch(s->kern, &s->blk, (size_t)(s->c.batch * s->c.group), conv_setup, &r,
                         workspace, conv_ws_floats(s), pool);
    return LUCID_STATUS_OK;
}

/* One tactic per kernel and B source; K is never split, so results do not depend on the
 * thread count. */
#define CONV_TACTIC(SYM, NAME, KERN, POINTWISE, PREF)                                              \
    static bool SYM##_supports(const lucid_graph *g, const lucid_node *n,                          \
                               const lucid_cpu_features *cpu, char *why, size_t why_len)           \
    {                                                                                              \
        return conv_supports_with(&KERN, POINTWISE, g, n, cpu, why, why_len);                      \
    }                                                                                              \
    static lucid_status SYM##_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,  \
                                      void **state, lucid_error *err)                              \
    {                                                                                              \
        (void)max_threads;                                                                         \
        return conv_prepare_with(&KERN, POINTWISE, g, n, state, err);                              \
    }                                                                                              \
    const lucid_tactic lucid_tactic_##SYM = {                                                      \
        .name = NAME,                                                                              \
        .backend = "cpu",                                                                          \
        .flags = 0,                                                                                \
        .preference = PREF,                                                                        \
        .in_layout = LUCID_LAYOUT_PLAIN,                                                           \
        .out_layout = LUCID_LAYOUT_PLAIN,                                                          \
        .supports = SYM##_supports,                                                                \
        .prepare = SYM##_prepare,                                                                  \
        .release = conv_release,                                                                   \
        .workspace = conv_workspace,                                                               \
        .run = conv_run,                                                                           \
    };

CONV_TACTIC(cpu_conv_f32_1x1_gemm_avx512, "cpu.conv.f32.1x1_gemm.avx512", lucid_gemm_kernel_avx512,
            true, 100)
CONV_TACTIC(cpu_conv_f32_1x1_gemm_avx2, "cpu.conv.f32.1x1_gemm.avx2", lucid_gemm_kernel_avx2, true,
            110)
CONV_TACTIC(cpu_conv_f32_im2col_gemm_avx512, "cpu.conv.f32.im2col_gemm.avx512",
            lucid_gemm_kernel_avx512, false, 250)
CONV_TACTIC(cpu_conv_f32_im2col_gemm_avx2, "cpu.conv.f32.im2col_gemm.avx2", lucid_gemm_kernel_avx2,
            false, 260)
