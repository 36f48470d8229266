/* conv_pointwise_avx512.c - cpu.conv.f32.pointwise_smallk.avx512: 1x1 stride-1 unpadded
 * convolution with few input channels (MobileNet / EfficientNet expansions), computed straight
 * from the NCHW image: with K this short the packed GEMM's B packing costs as much as the
 * product, so here the input rows are streamed as they lie, each register tile holding 6
 * output channels x 64 pixels, and bias, residual and activation are applied before the
 * store. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/conv_direct_common.h"
#include "cpu/eltwise_avx512.h"
#include "ops/op.h"
#include "tactics/tactic.h"

#define PW_MR 6      /* output channels per register tile */
#define PW_NV 4      /* 16-float vectors of pixels per register tile */
#define PW_MAX_K 128 /* above this the packed GEMM reuses the image better */

typedef struct pw_state {
    lucid_dconv c;
    int64_t k, m, n; /* input channels, output channels, pixels per image */
    int64_t pb;      /* pixels per work item: a K x pb block of the image stays in L1 */
    int64_t m_blocks, m_per_item, items_per_image, pix_blocks;
    float *w; /* weights by blocks of PW_MR channels: w[(blk * k + kk) * PW_MR + r], zero rows
                 past m */
} pw_state;

static bool refuse(char *why, size_t why_len, const char *msg)
{
    if (why && why_len) snprintf(why, why_len, "%s", msg);
    return false;
}

static bool pw_resolve(const lucid_graph *g, const lucid_node *n, lucid_dconv *c, char *why,
                       size_t why_len)
{
    if (!lucid_dconv_resolve(g, n, c, why, why_len)) return false;
    if (c->kh != 1 || c->kw != 1 || c->sh != 1 || c->sw != 1 || c->pt != 0 || c->pl != 0 ||
        c->oh != c->ih || c->ow != c->iw)
        return refuse(why, why_len, "not a 1x1, stride 1, unpadded convolution");
    if (c->group != 1) return refuse(why, why_len, "grouped convolution");
    if (c->ic > PW_MAX_K) {
        if (why && why_len)
            snprintf(why, why_len,
                     "%lld input channels: above %d the packed GEMM reuses inputs better",
                     (long long)c->ic, PW_MAX_K);
        return false;
    }
    return true;
}

static bool pw_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                        char *why, size_t why_len)
{
    if (!cpu->avx512f) return refuse(why, why_len, "needs AVX-512F");
    lucid_dconv c;
    return pw_resolve(g, n, &c, why, why_len);
}

static lucid_status pw_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                               void **state, lucid_error *err)
{
    char why[256] = "";
    pw_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!pw_resolve(g, n, &s->c, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    const lucid_dconv *c = &s->c;
    s->k = c->ic;
    s->m = c->oc;
    s->n = c->oh * c->ow;
    s->m_blocks = (s->m + PW_MR - 1) / PW_MR;
    /* about 24 KiB of image per block (half of Zen 5's L1d), whole register tiles */
    const int64_t tile = 16 * PW_NV;
    s->pb = 6144 / s->k / tile * tile;
    if (s->pb < tile) s->pb = tile;
    s->pix_blocks = (s->n + s->pb - 1) / s->pb;
    /* small images (14x14, 7x7) have too few pixel blocks to share between threads, so the
     * output channels are split too, keeping at least 4 items per thread for balance */
    const int64_t threads = max_threads < 1 ? 1 : max_threads;
    int64_t m_splits = 1;
    while (s->pix_blocks * m_splits < 4 * threads && m_splits < s->m_blocks)
        m_splits++;
    s->m_per_item = (s->m_blocks + m_splits - 1) / m_splits;
    s->items_per_image = s->pix_blocks * ((s->m_blocks + s->m_per_item - 1) / s->m_per_item);

    size_t wn = (size_t)(s->m_blocks * s->k * PW_MR);
    s->w = aligned_alloc(64, (sizeof(float) * wn + 63) / 64 * 64);
    if (!s->w) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    const float *w = lucid_op_input(g, n, 1)->data;
    for (int64_t b = 0; b < s->m_blocks; b++)
        for (int64_t kk = 0; kk < s->k; kk++)
            for (int64_t r = 0; r < PW_MR; r++) {
                const int64_t oc = b * PW_MR + r;
                s->w[(b * s->k + kk) * PW_MR + r] = oc < s->m ? w[oc * s->k + kk] : 0.0f;
            }
    *state = s;
    return LUCID_STATUS_OK;
}

static void pw_release(void *state)
{
    pw_state *s = state;
    if (!s) return;
    free(s->w);
    free(s);
}

/* One register tile: mr output channels x nv vectors of pixels from p; the last vector is
 * masked by `last` (the image's final pixels). Always inlined so mr and nv are constants
 * and the accumulators stay in registers. */
static inline __attribute__((always_inline)) void
pw_tile(const pw_state *s, const float *restrict x, const float *restrict w, const float *bias,
        const float *z, float *y, int64_t oc0, int64_t p, __mmask16 last, const int mr,
        const int nv)
{
    const int64_t n = s->n, k = s->k;
    /* the small loops are unrolled by force: only then does GCC keep acc in registers
     * instead of storing it to the stack every iteration */
    __m512 acc[PW_MR][PW_NV];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) {
        const __m512 b = _mm512_set1_ps(bias ? bias[oc0 + r] : 0.0f);
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            acc[r][v] = b;
    }
    const float *xp = x + p;
    for (int64_t kk = 0; kk < k; kk++) {
        __m512 xv[PW_NV];
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            xv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, xp + 16 * v)
                                : _mm512_loadu_ps(xp + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            const __m512 wv = _mm512_set1_ps(w[r]);
#pragma GCC unroll 8
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_fmadd_ps(wv, xv[v], acc[r][v]);
        }
        xp += n;
        w += PW_MR;
    }
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) {
        float *yr = y + (oc0 + r) * n + p;
        const float *zr = z ? z + (oc0 + r) * n + p : NULL;
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            const __mmask16 m = v == nv - 1 ? last : (__mmask16)0xffff;
            __m512 t = acc[r][v];
            if (zr) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, zr + 16 * v));
            _mm512_mask_storeu_ps(yr + 16 * v, m, lucid_avx512_act(&s->c.act, t));
        }
    }
}

/* The tiles of one block of up to PW_MR channels over pixels [p0, p1). */
static inline __attribute__((always_inline)) void pw_rows(const pw_state *s, const float *x,
                                                          const float *w, const float *bias,
                                                          const float *z, float *y, int64_t oc0,
                                                          int64_t p0, int64_t p1, const int mr)
{
    int64_t p = p0;
    for (; p + 16 * PW_NV <= p1; p += 16 * PW_NV)
        pw_tile(s, x, w, bias, z, y, oc0, p, 0xffff, mr, PW_NV);
    if (p == p1) return;
    const int64_t rest = p1 - p, nv = (rest + 15) / 16, tail = rest - 16 * (nv - 1);
    const __mmask16 last = (__mmask16)(tail == 16 ? 0xffffu : (1u << tail) - 1);
    switch (nv) {
    case 1:
        pw_tile(s, x, w, bias, z, y, oc0, p, last, mr, 1);
        break;
    case 2:
        pw_tile(s, x, w, bias, z, y, oc0, p, last, mr, 2);
        break;
    case 3:
        pw_tile(s, x, w, bias, z, y, oc0, p, last, mr, 3);
        break;
    default:
        pw_tile(s, x, w, bias, z, y, oc0, p, last, mr, 4);
        break;
    }
}

typedef struct pw_task {
    const pw_state *s;
    const float *x, *bias, *z;
    float *y;
} pw_task;

/* Items are (image, pixel block, channel range), channel range fastest, so that a thread's
 * contiguous chunk mostly shares pixel blocks (the image block stays in its L1). */
static void pw_task_run(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const pw_task *t = ctx;
    const pw_state *s = t->s;
    const int64_t m_items = s->items_per_image / s->pix_blocks;
    for (size_t it = begin; it < end; it++) {
        const int64_t img = (int64_t)it / s->items_per_image,
                      rem = (int64_t)it % s->items_per_image;
        const int64_t pbi = rem / m_items, mi = rem % m_items;
        const int64_t p0 = pbi * s->pb, p1 = p0 + s->pb < s->n ? p0 + s->pb : s->n;
        const int64_t b0 = mi * s->m_per_item;
        const int64_t b1 = b0 + s->m_per_item < s->m_blocks ? b0 + s->m_per_item : s->m_blocks;
        const float *x = t->x + img * s->k * s->n;
        float *y = t->y + img * s->m * s->n;
        const float *z = t->z ? t->z + img * s->m * s->n : NULL;
        for (int64_t b = b0; b < b1; b++) {
            const float *w = s->w + b * s->k * PW_MR;
            const int64_t oc0 = b * PW_MR, mr = s->m - oc0 < PW_MR ? s->m - oc0 : PW_MR;
            switch (mr) {
            case 1:
                pw_rows(s, x, w, t->bias, z, y, oc0, p0, p1, 1);
                break;
            case 2:
                pw_rows(s, x, w, t->bias, z, y, oc0, p0, p1, 2);
                break;
            case 3:
                pw_rows(s, x, w, t->bias, z, y, oc0, p0, p1, 3);
                break;
            case 4:
                pw_rows(s, x, w, t->bias, z, y, oc0, p0, p1, 4);
                break;
            case 5:
                pw_rows(s, x, w, t->bias, z, y, oc0, p0, p1, 5);
                break;
            default:
                pw_rows(s, x, w, t->bias, z, y, oc0, p0, p1, PW_MR);
                break;
            }
        }
    }
}

static lucid_status pw_run(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                           int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    (void)err;
    (void)workspace;
    const pw_state *s = state;
    pw_task t = {
        .s = s,
        .x = in[0].data,
        .bias = n_in > 2 ? in[2].data : NULL,
        .z = s->c.fused && n_in > 3 ? in[3].data : NULL,
        .y = out[0].data,
    };
    lucid_threadpool_run(pool, (size_t)(s->c.batch * s->items_per_image), 1, pw_task_run, &t);
    return LUCID_STATUS_OK;
}

/* K is never split and each output is summed in one fixed order, so results do not depend
 * on the thread count. */
const lucid_tactic lucid_tactic_cpu_conv_f32_pointwise_smallk_avx512 = {
    .name = "cpu.conv.f32.pointwise_smallk.avx512",
    .backend = "cpu",
    .flags = 0,
    .preference = 95,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = pw_supports,
    .prepare = pw_prepare,
    .release = pw_release,
    .workspace = lucid_tactic_no_workspace,
    .run = pw_run,
};
