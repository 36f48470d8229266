/* conv_winograd_avx512.c - cpu.conv.f32.winograd_f2x3.avx512: 3x3 stride-1 convolution by
 * Winograd F(2x2, 3x3): per 4x4 input tile V = B^T d B, then 16 independent GEMMs
 * M_xi[OC x tiles] = U_xi[OC x IC] * V_xi[IC x tiles] with lucid's packed GEMM, then
 * Y = A^T m A per tile fused with the conv epilogue, written NCHW. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/conv_direct_common.h"
#include "cpu/gemm.h"
#include "ops/op.h"
#include "tactics/tactic.h"

#define ALPHA 4 /* input tile side: output tile 2 + kernel 3 - 1 */
#define OUT 2
#define NX (ALPHA * ALPHA)
#define LANES 16 /* tiles transformed together: one zmm of each transformed value */

/* The weights, transformed and packed as the GEMM's A operands (one per transformed
 * position xi), and the tile blocking chosen at prepare. */
typedef struct wino_state {
    const lucid_gemm_kernel *kern;
    lucid_gemm_blocking blk;
    lucid_dconv c;
    lucid_epilogue epi; /* the activation; bias and residual are handled per run */
    int64_t tiles_h, tiles_w, tiles; /* per image */
    int64_t nt;                      /* tiles per block (a multiple of the kernel's NR) */
    float *u;                        /* NX packed A operands, u_floats apart */
    size_t u_floats;
    size_t v_floats, m_floats, gemm_floats; /* workspace parts, per transformed position */
} wino_state;

static bool refuse(char *why, size_t why_len, const char *msg)
{
    if (why && why_len) snprintf(why, why_len, "%s", msg);
    return false;
}

static int64_t round_up(int64_t x, int64_t m)
{
    return (x + m - 1) / m * m;
}

static bool wino_resolve(const lucid_graph *g, const lucid_node *n, lucid_dconv *c, char *why,
                         size_t why_len)
{
    if (!lucid_dconv_resolve(g, n, c, why, why_len)) return false;
    if (c->kh != 3 || c->kw != 3) return refuse(why, why_len, "not a 3x3 kernel");
    if (c->sh != 1 || c->sw != 1) return refuse(why, why_len, "stride is not 1");
    if (c->dh != 1 || c->dw != 1) return refuse(why, why_len, "dilation is not 1");
    if (c->group != 1) return refuse(why, why_len, "grouped convolution");
    /* with few channels the transforms cost more than the multiplications they save */
    if (c->ic < 16 || c->oc < 16) return refuse(why, why_len, "fewer than 16 channels in or out");
    if (c->oh < 4 || c->ow < 4) return refuse(why, why_len, "output smaller than 4x4");
    return true;
}

static bool wino_supports(const lucid_graph *g, const lucid_node *n,
                          const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!lucid_gemm_kernel_supported(&lucid_gemm_kernel_avx512, cpu))
        return refuse(why, why_len, "the CPU lacks AVX-512");
    lucid_dconv c;
    return wino_resolve(g, n, &c, why, why_len);
}

/* U = G g G^T for one 3x3 kernel g, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. */
static void weight_transform(const float *g, float *u)
{
    float t[ALPHA][3]; /* G g */
    for (int j = 0; j < 3; j++) {
        float g0 = g[0 * 3 + j], g1 = g[1 * 3 + j], g2 = g[2 * 3 + j];
        t[0][j] = g0;
        t[1][j] = 0.5f * (g0 + g1 + g2);
        t[2][j] = 0.5f * (g0 - g1 + g2);
        t[3][j] = g2;
    }
    for (int i = 0; i < ALPHA; i++) {
        float a = t[i][0], b = t[i][1], d = t[i][2];
        u[i * ALPHA + 0] = a;
        u[i * ALPHA + 1] = 0.5f * (a + b + d);
        u[i * ALPHA + 2] = 0.5f * (a - b + d);
        u[i * ALPHA + 3] = d;
    }
}

static lucid_status wino_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                 void **state, lucid_error *err)
{
    (void)max_threads;
    char why[256] = "";
    float *tmp = NULL;
    wino_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!wino_resolve(g, n, &s->c, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    const lucid_dconv *c = &s->c;
    s->kern = &lucid_gemm_kernel_avx512;
    const int nr = s->kern->nr;
    s->epi.alpha = s->epi.beta = 1.0f;
    /* lucid_dconv's activations are the epilogue's list in the same order */
    s->epi.act = (lucid_act)c->act;
    s->epi.act_alpha = c->alpha;
    s->epi.act_beta = c->beta;
    s->tiles_h = (c->oh + OUT - 1) / OUT;
    s->tiles_w = (c->ow + OUT - 1) / OUT;
    s->tiles = s->tiles_h * s->tiles_w;
    /* a block's transformed input and products, NX * (IC + OC) * nt floats, kept near 2 MB
     * so they stay in the L2s and L3 between the three phases */
    int64_t nt = (int64_t)(2u << 20) / (int64_t)(sizeof(float) * NX * (size_t)(c->ic + c->oc));
    nt = nt / nr * nr;
    if (nt < nr) nt = nr;
    int64_t all = round_up(s->tiles * c->batch, nr);
    s->nt = nt < all ? nt : all;
    s->blk = lucid_gemm_blocking_for(s->kern, c->oc, s->nt, c->ic);
    s->u_floats = (size_t)round_up((int64_t)lucid_gemm_packed_floats(c->oc, c->ic, s->kern->mr), 16);
    s->v_floats = (size_t)round_up((int64_t)lucid_gemm_packed_floats(s->nt, c->ic, nr), 16);
    s->m_floats = (size_t)round_up(c->oc * s->nt, 16);
    s->gemm_floats = lucid_gemm_workspace_floats(s->kern, &s->blk, false, false);

    size_t bytes = s->u_floats * NX * sizeof(float);
    s->u = aligned_alloc(64, (bytes + 63) / 64 * 64);
    tmp = malloc(sizeof(float) * NX * (size_t)(c->oc * c->ic));
    if (!s->u || !tmp) {
        free(tmp);
        free(s->u);
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY,
                                 "out of memory transforming weights (%zu bytes)", bytes);
    }
    /* tmp holds the NX matrices [OC x IC] the packer reads */
    const float *w = lucid_op_input(g, n, 1)->data;
    const size_t plane = (size_t)(c->oc * c->ic);
    for (int64_t o = 0; o < c->oc; o++)
        for (int64_t i = 0; i < c->ic; i++) {
            float u[NX];
            weight_transform(w + (o * c->ic + i) * 9, u);
            for (int xi = 0; xi < NX; xi++)
                tmp[(size_t)xi * plane + (size_t)(o * c->ic + i)] = u[xi];
        }
    for (int xi = 0; xi < NX; xi++) {
        lucid_gemm_operand src = {
            .pack = lucid_gemm_pack_matrix, .data = tmp + (size_t)xi * plane, .rs = c->ic, .ks = 1};
        lucid_gemm_prepack(&s->blk, c->oc, c->ic, s->kern->mr, &src, s->u + (size_t)xi * s->u_floats);
    }
    free(tmp);
    *state = s;
    return LUCID_STATUS_OK;
}

static void wino_release(void *state)
{
    wino_state *s = state;
    if (!s) return;
    free(s->u);
    free(s);
}

/* One thread's share: a block's transformed input and products, and the GEMM's buffers. */
static size_t wino_ws_floats(const wino_state *s)
{
    return NX * (s->v_floats + s->m_floats) + s->gemm_floats;
}

static size_t wino_workspace(const void *state, int threads)
{
    return wino_ws_floats(state) * sizeof(float) * (size_t)(threads > 0 ? threads : 1);
}

typedef struct wino_run {
    const wino_state *s;
    const float *x, *bias, *z;
    float *y;
    float *v, *m; /* NX packed B operands, NX products [OC x npad] */
    float *gemm_ws;
    int64_t t0, nb, npad; /* this block: first global tile, tiles, padded to NR */
} wino_run;

/* Offset of element (k, tile) in a B operand packed as the GEMM driver reads it: K block
 * after K block, each holding npad/NR panels of kcur x NR. */
static size_t packed_b_offset(const wino_run *r, int64_t k, int64_t tile)
{
    const int64_t kc = r->s->blk.kc, nr = r->s->kern->nr, kk = r->s->c.ic;
    int64_t pc = k / kc * kc, kcur = kk - pc < kc ? kk - pc : kc;
    return (size_t)(pc * r->npad + tile / nr * nr * kcur + (k - pc) * nr + tile % nr);
}

/* Input channels [begin, end): gathers LANES tiles' 4x4 patches (zero outside the padded
 * image), transforms them lane-parallel and stores each transformed position into its B
 * operand, where LANES consecutive tiles are contiguous. */
static void input_task(void *vctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const wino_run *r = vctx;
    const wino_state *s = r->s;
    const lucid_dconv *c = &s->c;
    for (size_t ci = begin; ci < end; ci++) {
        for (int64_t l0 = 0; l0 < r->npad; l0 += LANES) {
            float d[ALPHA][ALPHA][LANES];
            for (int l = 0; l < LANES; l++) {
                int64_t t = l0 + l, gt = r->t0 + t;
                if (t >= r->nb) {
                    for (int i = 0; i < ALPHA; i++)
                        for (int j = 0; j < ALPHA; j++)
                            d[i][j][l] = 0.0f;
                    continue;
                }
                int64_t b = gt / s->tiles, rem = gt % s->tiles;
                int64_t iy0 = rem / s->tiles_w * OUT - c->pt, ix0 = rem % s->tiles_w * OUT - c->pl;
                const float *xp = r->x + (b * c->ic + (int64_t)ci) * c->ih * c->iw;
                if (iy0 >= 0 && ix0 >= 0 && iy0 + ALPHA <= c->ih && ix0 + ALPHA <= c->iw) {
                    for (int i = 0; i < ALPHA; i++)
                        for (int j = 0; j < ALPHA; j++)
                            d[i][j][l] = xp[(iy0 + i) * c->iw + ix0 + j];
                } else {
                    for (int i = 0; i < ALPHA; i++)
                        for (int j = 0; j < ALPHA; j++) {
                            int64_t iy = iy0 + i, ix = ix0 + j;
                            d[i][j][l] = iy >= 0 && iy < c->ih && ix >= 0 && ix < c->iw
                                             ? xp[iy * c->iw + ix]
                                             : 0.0f;
                        }
                }
            }
            /* B^T d B, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]: rows, then columns */
            float t[ALPHA][ALPHA][LANES];
            for (int j = 0; j < ALPHA; j++)
                for (int l = 0; l < LANES; l++) {
                    float d0 = d[0][j][l], d1 = d[1][j][l], d2 = d[2][j][l], d3 = d[3][j][l];
                    t[0][j][l] = d0 - d2;
                    t[1][j][l] = d1 + d2;
                    t[2][j][l] = d2 - d1;
                    t[3][j][l] = d1 - d3;
                }
            const size_t off = packed_b_offset(r, (int64_t)ci, l0);
            for (int i = 0; i < ALPHA; i++) {
                float *v0 = r->v + (size_t)(i * ALPHA) * s->v_floats + off;
                float *v1 = v0 + s->v_floats, *v2 = v1 + s->v_floats, *v3 = v2 + s->v_floats;
                for (int l = 0; l < LANES; l++) {
                    float a0 = t[i][0][l], a1 = t[i][1][l], a2 = t[i][2][l], a3 = t[i][3][l];
                    v0[l] = a0 - a2;
                    v1[l] = a1 + a2;
                    v2[l] = a2 - a1;
                    v3[l] = a1 - a3;
                }
            }
        }
    }
}

static void gemm_setup(const void *vctx, size_t index, lucid_gemm_problem *p)
{
    const wino_run *r = vctx;
    const wino_state *s = r->s;
    memset(p, 0, sizeof *p);
    p->m = s->c.oc;
    p->n = r->nb;
    p->k = s->c.ic;
    p->a.packed = s->u + index * s->u_floats;
    p->b.packed = r->v + index * s->v_floats;
    p->c = r->m + index * s->m_floats;
    p->ldc = r->npad;
    p->epi.alpha = p->epi.beta = 1.0f;
}

/* Output channels [begin, end): Y = A^T m A for LANES tiles at a time, A^T = [1 1 1 0;
 * 0 1 -1 -1], plus the bias, then each tile's rows written with the residual and
 * activation of the epilogue. */
static void output_task(void *vctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const wino_run *r = vctx;
    const wino_state *s = r->s;
    const lucid_dconv *c = &s->c;
    const int64_t ohw = c->oh * c->ow;
    lucid_epilogue e = s->epi;
    for (size_t oc = begin; oc < end; oc++) {
        const float bias = r->bias ? r->bias[oc] : 0.0f;
        for (int64_t l0 = 0; l0 < r->nb; l0 += LANES) {
            const float *mp = r->m + oc * (size_t)r->npad + (size_t)l0;
            float t[OUT][ALPHA][LANES], y[OUT][OUT][LANES];
            for (int j = 0; j < ALPHA; j++) {
                const float *m0 = mp + (size_t)(0 * ALPHA + j) * s->m_floats;
                const float *m1 = mp + (size_t)(1 * ALPHA + j) * s->m_floats;
                const float *m2 = mp + (size_t)(2 * ALPHA + j) * s->m_floats;
                const float *m3 = mp + (size_t)(3 * ALPHA + j) * s->m_floats;
                for (int l = 0; l < LANES; l++) {
                    t[0][j][l] = m0[l] + m1[l] + m2[l];
                    t[1][j][l] = m1[l] - m2[l] - m3[l];
                }
            }
            for (int i = 0; i < OUT; i++)
                for (int l = 0; l < LANES; l++) {
                    y[i][0][l] = t[i][0][l] + t[i][1][l] + t[i][2][l] + bias;
                    y[i][1][l] = t[i][1][l] - t[i][2][l] - t[i][3][l] + bias;
                }
            int lanes = r->nb - l0 < LANES ? (int)(r->nb - l0) : LANES;
            /* lanes in one tile row of one image write contiguous output rows: 2 columns
             * each, so the epilogue runs once per row of such a run */
            for (int l = 0; l < lanes;) {
                int64_t gt = r->t0 + l0 + l, b = gt / s->tiles, rem = gt % s->tiles;
                int64_t ty = rem / s->tiles_w, tx = rem % s->tiles_w;
                int run = s->tiles_w - tx < lanes - l ? (int)(s->tiles_w - tx) : lanes - l;
                int64_t oy = ty * OUT, ox = tx * OUT;
                int rows = c->oh - oy < OUT ? (int)(c->oh - oy) : OUT;
                int cols = c->ow - ox < OUT * run ? (int)(c->ow - ox) : OUT * run;
                int64_t base = (b * c->oc + (int64_t)oc) * ohw;
                for (int i = 0; i < rows; i++) {
                    float *dst = r->y + base + (oy + i) * c->ow + ox;
                    for (int j = 0; j < cols; j++)
                        dst[j] = y[i][j % OUT][l + j / OUT];
                    if (r->z || e.act != LUCID_ACT_NONE) {
                        /* the residual is indexed like the output: row oc of image b */
                        e.residual = r->z ? r->z + b * c->oc * ohw : NULL;
                        e.res_ld = ohw;
                        lucid_epilogue_row(&e, dst, (int64_t)oc, (oy + i) * c->ow + ox, cols);
                    }
                }
                l += run;
            }
        }
    }
}

/* The layer cut into blocks of nt tiles, each thread taking whole blocks: a block's three
 * phases then run back to back on one core with its transformed data in that core's caches,
 * and the pool synchronizes once per layer. */
typedef struct block_ctx {
    wino_run proto; /* the run's inputs; tile range and buffers set per block */
    int64_t total, nt;
    size_t ws_floats; /* one thread's share of the workspace */
} block_ctx;

static void block_task(void *vctx, size_t begin, size_t end, int thread)
{
    const block_ctx *bc = vctx;
    const wino_state *s = bc->proto.s;
    wino_run r = bc->proto;
    r.v = (float *)bc->proto.v + (size_t)thread * bc->ws_floats;
    r.m = r.v + NX * s->v_floats;
    r.gemm_ws = r.m + NX * s->m_floats;
    for (size_t blk = begin; blk < end; blk++) {
        r.t0 = (int64_t)blk * bc->nt;
        r.nb = bc->total - r.t0 < bc->nt ? bc->total - r.t0 : bc->nt;
        r.npad = round_up(r.nb, s->kern->nr);
        input_task(&r, 0, (size_t)s->c.ic, thread);
        for (size_t xi = 0; xi < NX; xi++) {
            lucid_gemm_problem p;
            gemm_setup(&r, xi, &p);
            lucid_gemm_compute(s->kern, &s->blk, &p, 0, p.m, 0, p.n, r.gemm_ws);
        }
        output_task(&r, 0, (size_t)s->c.oc, thread);
    }
}

static lucid_status wino_run_layer(const void *state, const lucid_array *in, int n_in,
                                   lucid_array *out, int n_out, void *workspace,
                                   lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    (void)err;
    const wino_state *s = state;
    const lucid_dconv *c = &s->c;
    float *ws = workspace;
    wino_run r = {.s = s, .x = in[0].data, .y = out[0].data};
    r.bias = n_in > 2 ? in[2].data : NULL;
    r.z = c->fused && n_in > 3 ? in[3].data : NULL;
    const int64_t total = s->tiles * c->batch;
    const int nr = s->kern->nr, threads = lucid_threadpool_size(pool);
    /* the fewest blocks, a multiple of the thread count, that fit the prepared block size */
    int64_t chunks = threads, nt;
    for (;;) {
        nt = round_up((total + chunks - 1) / chunks, nr);
        if (nt <= s->nt) break;
        chunks += threads;
    }
    int64_t blocks = (total + nt - 1) / nt;
    if (blocks >= threads) {
        /* every tile's result is the same whatever block holds it (the GEMM's sums run over
         * K only), so this split changes nothing numerically */
        block_ctx bc = {.proto = r, .total = total, .nt = nt, .ws_floats = wino_ws_floats(s)};
        bc.proto.v = ws;
        lucid_threadpool_run(pool, (size_t)blocks, 1, block_task, &bc);
        return LUCID_STATUS_OK;
    }
    /* fewer tiles than threads' blocks (small images): the threads share each phase */
    r.v = ws;
    r.m = ws + NX * s->v_floats;
    r.gemm_ws = r.m + NX * s->m_floats;
    for (r.t0 = 0; r.t0 < total; r.t0 += s->nt) {
        r.nb = total - r.t0 < s->nt ? total - r.t0 : s->nt;
        r.npad = round_up(r.nb, nr);
        /* each phase splits its items the same way for a given thread count, and no sum
         * crosses items, so the result does not depend on the thread count at all */
        lucid_threadpool_run(pool, (size_t)c->ic, 1, input_task, &r);
        lucid_gemm_run_batch(s->kern, &s->blk, NX, gemm_setup, &r, r.gemm_ws, s->gemm_floats,
                             pool);
        lucid_threadpool_run(pool, (size_t)c->oc, 1, output_task, &r);
    }
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_cpu_conv_f32_winograd_f2x3_avx512 = {
    .name = "cpu.conv.f32.winograd_f2x3.avx512",
    .backend = "cpu",
    .flags = 0,
    .preference = 240,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = wino_supports,
    .prepare = wino_prepare,
    .release = wino_release,
    .workspace = wino_workspace,
    .run = wino_run_layer,
};
