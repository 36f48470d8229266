/* conv_winograd_avx512.c - cpu.conv.f32.winograd_f{2,4}x3.avx512: 3x3 stride-1 convolution
 * by Winograd F(m x m, 3x3), m 2 or 4: per (m+2)^2 input tile V = B^T d B, then (m+2)^2
 * independent GEMMs M_xi[OC x tiles] = U_xi[OC x IC] * V_xi[IC x tiles] with lucid's packed
 * GEMM, then Y = A^T m A per tile fused with the conv epilogue, written NCHW. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/conv_direct_common.h"
#include "cpu/gemm.h"
#include "ops/op.h"
#include "tactics/tactic.h"

/* The bodies below take the output tile side `out` as an argument that is a constant at
 * every call site, so their tile arrays are sized for the largest and their loops unroll. */
#define MAX_ALPHA 6 /* input tile side: output tile 4 + kernel 3 - 1 */
#define MAX_NX (MAX_ALPHA * MAX_ALPHA)
#define LANES 16 /* tiles transformed together: one zmm of each transformed value */

/* The weights, transformed and packed as the GEMM's A operands (one per transformed
 * position xi), and the tile blocking chosen at prepare. */
typedef struct wino_state {
    int out, alpha, nx; /* output tile side, input tile side, transformed positions */
    const lucid_gemm_kernel *kern;
    lucid_gemm_blocking blk;
    lucid_dconv c;
    lucid_epilogue epi; /* the activation; bias and residual are handled per run */
    int64_t tiles_h, tiles_w, tiles; /* per image */
    int64_t nt;                      /* tiles per block (a multiple of the kernel's NR) */
    float *u;                        /* nx packed A operands, u_floats apart */
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

static bool wino_supports(int out, const lucid_graph *g, const lucid_node *n,
                          const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!lucid_gemm_kernel_supported(&lucid_gemm_kernel_avx512, cpu))
        return refuse(why, why_len, "the CPU lacks AVX-512");
    lucid_dconv c;
    if (!wino_resolve(g, n, &c, why, why_len)) return false;
    /* the tiles are the GEMM's N, cut into 32-wide panels: with fewer than 16 most of each
     * product is padding (F(4,3) on 7x7 has 4 tiles and runs ~3x slower than im2col) */
    int64_t tiles = c.batch * ((c.oh + out - 1) / out) * ((c.ow + out - 1) / out);
    if (tiles < 16) return refuse(why, why_len, "fewer than 16 output tiles");
    return true;
}

static bool f2x3_supports(const lucid_graph *g, const lucid_node *n,
                          const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    return wino_supports(2, g, n, cpu, why, why_len);
}

static bool f4x3_supports(const lucid_graph *g, const lucid_node *n,
                          const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    return wino_supports(4, g, n, cpu, why, why_len);
}

/* G of F(2,3) (points 0, 1, -1) and F(4,3) (points 0, 1, -1, 2, -2), rows for the tile. */
static const double g_f2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double g_f4[6][3] = {{0.25, 0, 0},
                                  {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                  {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                  {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                  {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                  {0, 0, 1}};

/* U = G g G^T for one 3x3 kernel g, in double so the weights carry no extra rounding. */
static void weight_transform(int alpha, const float *g, float *u)
{
    const double(*gm)[3] = alpha == 4 ? g_f2 : g_f4;
    double t[MAX_ALPHA][3]; /* G g */
    for (int i = 0; i < alpha; i++)
        for (int j = 0; j < 3; j++)
            t[i][j] = gm[i][0] * g[0 * 3 + j] + gm[i][1] * g[1 * 3 + j] + gm[i][2] * g[2 * 3 + j];
    for (int i = 0; i < alpha; i++)
        for (int j = 0; j < alpha; j++)
            u[i * alpha + j] = (float)(t[i][0] * gm[j][0] + t[i][1] * gm[j][1] + t[i][2] * gm[j][2]);
}

static lucid_status wino_prepare(int out, const lucid_graph *g, const lucid_node *n,
                                 void **state, lucid_error *err)
{
    char why[256] = "";
    float *tmp = NULL;
    wino_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!wino_resolve(g, n, &s->c, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    const lucid_dconv *c = &s->c;
    s->out = out;
    s->alpha = out + 2;
    s->nx = s->alpha * s->alpha;
    const int64_t nx = s->nx;
    s->kern = &lucid_gemm_kernel_avx512;
    const int nr = s->kern->nr;
    s->epi.alpha = s->epi.beta = 1.0f;
    s->epi.act = c->act;
    s->tiles_h = (c->oh + out - 1) / out;
    s->tiles_w = (c->ow + out - 1) / out;
    s->tiles = s->tiles_h * s->tiles_w;
    /* a block's transformed input and products, nx * (IC + OC) * nt floats, kept near 2 MB
     * so they stay in the L2s and L3 between the three phases */
    int64_t nt = (int64_t)(2u << 20) / (int64_t)(sizeof(float) * nx * (size_t)(c->ic + c->oc));
    nt = nt / nr * nr;
    if (nt < nr) nt = nr;
    int64_t all = round_up(s->tiles * c->batch, nr);
    s->nt = nt < all ? nt : all;
    s->blk = lucid_gemm_blocking_for(s->kern, c->oc, s->nt, c->ic);
    s->u_floats = (size_t)round_up((int64_t)lucid_gemm_packed_floats(c->oc, c->ic, s->kern->mr), 16);
    s->v_floats = (size_t)round_up((int64_t)lucid_gemm_packed_floats(s->nt, c->ic, nr), 16);
    s->m_floats = (size_t)round_up(c->oc * s->nt, 16);
    s->gemm_floats = lucid_gemm_workspace_floats(s->kern, &s->blk, false, false);

    size_t bytes = s->u_floats * nx * sizeof(float);
    s->u = aligned_alloc(64, (bytes + 63) / 64 * 64);
    tmp = malloc(sizeof(float) * nx * (size_t)(c->oc * c->ic));
    if (!s->u || !tmp) {
        free(tmp);
        free(s->u);
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY,
                                 "out of memory transforming weights (%zu bytes)", bytes);
    }
    /* tmp holds the nx matrices [OC x IC] the packer reads */
    const float *w = lucid_op_input(g, n, 1)->data;
    const size_t plane = (size_t)(c->oc * c->ic);
    for (int64_t o = 0; o < c->oc; o++)
        for (int64_t i = 0; i < c->ic; i++) {
            float u[MAX_NX];
            weight_transform(s->alpha, w + (o * c->ic + i) * 9, u);
            for (int xi = 0; xi < nx; xi++)
                tmp[(size_t)xi * plane + (size_t)(o * c->ic + i)] = u[xi];
        }
    for (int xi = 0; xi < nx; xi++) {
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
    return (size_t)s->nx * (s->v_floats + s->m_floats) + s->gemm_floats;
}

static size_t wino_workspace(const void *state, int threads)
{
    return wino_ws_floats(state) * sizeof(float) * (size_t)(threads > 0 ? threads : 1);
}

typedef struct wino_run {
    const wino_state *s;
    const float *x, *bias, *z;
    float *y;
    float *v, *m; /* nx packed B operands, nx products [OC x npad] */
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

/* The 1-D input transform B^T x of LANES tiles: F(2,3) B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0;
 * 0 1 0 -1], F(4,3) B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0;
 * 0 2 -1 -2 1 0; 0 4 0 -5 0 1]. */
static inline __attribute__((always_inline)) void in_1d(const int alpha,
                                                        const float *const x[MAX_ALPHA],
                                                        float *const y[MAX_ALPHA])
{
    for (int l = 0; l < LANES; l++) {
        if (alpha == 4) {
            float x0 = x[0][l], x1 = x[1][l], x2 = x[2][l], x3 = x[3][l];
            y[0][l] = x0 - x2;
            y[1][l] = x1 + x2;
            y[2][l] = x2 - x1;
            y[3][l] = x1 - x3;
        } else {
            float x0 = x[0][l], x1 = x[1][l], x2 = x[2][l], x3 = x[3][l], x4 = x[4][l],
                  x5 = x[5][l];
            float a = x4 - 4.0f * x2, b = x3 - 4.0f * x1, c = x4 - x2, d = 2.0f * (x3 - x1);
            y[0][l] = 4.0f * x0 - 5.0f * x2 + x4;
            y[1][l] = a + b;
            y[2][l] = a - b;
            y[3][l] = c + d;
            y[4][l] = c - d;
            y[5][l] = 4.0f * x1 - 5.0f * x3 + x5;
        }
    }
}

/* Input channels [begin, end): gathers LANES tiles' patches (zero outside the padded
 * image), transforms them lane-parallel and stores each transformed position into its B
 * operand, where LANES consecutive tiles are contiguous. */
static inline __attribute__((always_inline)) void input_body(const int out, const wino_run *r,
                                                             size_t begin, size_t end)
{
    const int alpha = out + 2;
    const wino_state *s = r->s;
    const lucid_dconv *c = &s->c;
    for (size_t ci = begin; ci < end; ci++) {
        for (int64_t l0 = 0; l0 < r->npad; l0 += LANES) {
            float d[MAX_ALPHA][MAX_ALPHA][LANES];
            for (int l = 0; l < LANES; l++) {
                int64_t t = l0 + l, gt = r->t0 + t;
                if (t >= r->nb) {
                    for (int i = 0; i < alpha; i++)
                        for (int j = 0; j < alpha; j++)
                            d[i][j][l] = 0.0f;
                    continue;
                }
                int64_t b = gt / s->tiles, rem = gt % s->tiles;
                int64_t iy0 = rem / s->tiles_w * out - c->pt, ix0 = rem % s->tiles_w * out - c->pl;
                const float *xp = r->x + (b * c->ic + (int64_t)ci) * c->ih * c->iw;
                if (iy0 >= 0 && ix0 >= 0 && iy0 + alpha <= c->ih && ix0 + alpha <= c->iw) {
                    for (int i = 0; i < alpha; i++)
                        for (int j = 0; j < alpha; j++)
                            d[i][j][l] = xp[(iy0 + i) * c->iw + ix0 + j];
                } else {
                    for (int i = 0; i < alpha; i++)
                        for (int j = 0; j < alpha; j++) {
                            int64_t iy = iy0 + i, ix = ix0 + j;
                            d[i][j][l] = iy >= 0 && iy < c->ih && ix >= 0 && ix < c->iw
                                             ? xp[iy * c->iw + ix]
                                             : 0.0f;
                        }
                }
            }
            /* B^T d B: down the columns, then along the rows straight into the operands */
            float t[MAX_ALPHA][MAX_ALPHA][LANES];
            for (int j = 0; j < alpha; j++) {
                const float *x[MAX_ALPHA];
                float *y[MAX_ALPHA];
                for (int i = 0; i < alpha; i++) {
                    x[i] = d[i][j];
                    y[i] = t[i][j];
                }
                in_1d(alpha, x, y);
            }
            const size_t off = packed_b_offset(r, (int64_t)ci, l0);
            for (int i = 0; i < alpha; i++) {
                const float *x[MAX_ALPHA];
                float *y[MAX_ALPHA];
                for (int j = 0; j < alpha; j++) {
                    x[j] = t[i][j];
                    y[j] = r->v + (size_t)(i * alpha + j) * s->v_floats + off;
                }
                in_1d(alpha, x, y);
            }
        }
    }
}

static void input_task(void *vctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const wino_run *r = vctx;
    if (r->s->out == 2)
        input_body(2, r, begin, end);
    else
        input_body(4, r, begin, end);
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

/* The 1-D output transform A^T x: F(2,3) A^T = [1 1 1 0; 0 1 -1 -1], F(4,3) A^T =
 * [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]. */
static inline __attribute__((always_inline)) void out_1d(const int alpha,
                                                         const float *const x[MAX_ALPHA],
                                                         float *const y[MAX_ALPHA - 2], float add)
{
    for (int l = 0; l < LANES; l++) {
        if (alpha == 4) {
            float x0 = x[0][l], x1 = x[1][l], x2 = x[2][l], x3 = x[3][l];
            y[0][l] = x0 + x1 + x2 + add;
            y[1][l] = x1 - x2 - x3 + add;
        } else {
            float x0 = x[0][l], x1 = x[1][l], x2 = x[2][l], x3 = x[3][l], x4 = x[4][l],
                  x5 = x[5][l];
            float a = x1 + x2, b = x1 - x2, c = x3 + x4, d = x3 - x4;
            y[0][l] = x0 + a + c + add;
            y[1][l] = b + 2.0f * d + add;
            y[2][l] = a + 4.0f * c + add;
            y[3][l] = b + 8.0f * d + x5 + add;
        }
    }
}

/* Output channels [begin, end): Y = A^T m A for LANES tiles at a time plus the bias, then
 * the tiles' rows written with the residual and activation of the epilogue. */
static inline __attribute__((always_inline)) void output_body(const int out, const wino_run *r,
                                                              size_t begin, size_t end)
{
    const int alpha = out + 2;
    const wino_state *s = r->s;
    const lucid_dconv *c = &s->c;
    const int64_t ohw = c->oh * c->ow;
    lucid_epilogue e = s->epi;
    for (size_t oc = begin; oc < end; oc++) {
        const float bias = r->bias ? r->bias[oc] : 0.0f;
        for (int64_t l0 = 0; l0 < r->nb; l0 += LANES) {
            const float *mp = r->m + oc * (size_t)r->npad + (size_t)l0;
            float t[MAX_ALPHA - 2][MAX_ALPHA][LANES], y[MAX_ALPHA - 2][MAX_ALPHA - 2][LANES];
            for (int j = 0; j < alpha; j++) {
                const float *x[MAX_ALPHA];
                float *yy[MAX_ALPHA - 2];
                for (int i = 0; i < alpha; i++)
                    x[i] = mp + (size_t)(i * alpha + j) * s->m_floats;
                for (int k = 0; k < out; k++)
                    yy[k] = t[k][j];
                out_1d(alpha, x, yy, 0.0f);
            }
            for (int i = 0; i < out; i++) {
                const float *x[MAX_ALPHA];
                float *yy[MAX_ALPHA - 2];
                for (int j = 0; j < alpha; j++)
                    x[j] = t[i][j];
                for (int k = 0; k < out; k++)
                    yy[k] = y[i][k];
                out_1d(alpha, x, yy, bias);
            }
            int lanes = r->nb - l0 < LANES ? (int)(r->nb - l0) : LANES;
            /* lanes in one tile row of one image write contiguous output rows, `out` columns
             * each, so the epilogue runs once per row of such a run */
            for (int l = 0; l < lanes;) {
                int64_t gt = r->t0 + l0 + l, b = gt / s->tiles, rem = gt % s->tiles;
                int64_t ty = rem / s->tiles_w, tx = rem % s->tiles_w;
                int run = s->tiles_w - tx < lanes - l ? (int)(s->tiles_w - tx) : lanes - l;
                int64_t oy = ty * out, ox = tx * out;
                int rows = c->oh - oy < out ? (int)(c->oh - oy) : out;
                int cols = c->ow - ox < out * run ? (int)(c->ow - ox) : out * run;
                int64_t base = (b * c->oc + (int64_t)oc) * ohw;
                for (int i = 0; i < rows; i++) {
                    float *dst = r->y + base + (oy + i) * c->ow + ox;
                    for (int j = 0; j < cols; j++)
                        dst[j] = y[i][j % out][l + j / out];
                    if (r->z || e.act.kind != LUCID_ACT_NONE) {
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

static void output_task(void *vctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const wino_run *r = vctx;
    if (r->s->out == 2)
        output_body(2, r, begin, end);
    else
        output_body(4, r, begin, end);
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
    r.m = r.v + (size_t)s->nx * s->v_floats;
    r.gemm_ws = r.m + (size_t)s->nx * s->m_floats;
    for (size_t blk = begin; blk < end; blk++) {
        r.t0 = (int64_t)blk * bc->nt;
        r.nb = bc->total - r.t0 < bc->nt ? bc->total - r.t0 : bc->nt;
        r.npad = round_up(r.nb, s->kern->nr);
        input_task(&r, 0, (size_t)s->c.ic, thread);
        for (size_t xi = 0; xi < (size_t)s->nx; xi++) {
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
    r.m = ws + (size_t)s->nx * s->v_floats;
    r.gemm_ws = r.m + (size_t)s->nx * s->m_floats;
    for (r.t0 = 0; r.t0 < total; r.t0 += s->nt) {
        r.nb = total - r.t0 < s->nt ? total - r.t0 : s->nt;
        r.npad = round_up(r.nb, nr);
        /* each phase splits its items the same way for a given thread count, and no sum
         * crosses items, so the result does not depend on the thread count at all */
        lucid_threadpool_run(pool, (size_t)c->ic, 1, input_task, &r);
        lucid_gemm_run_batch(s->kern, &s->blk, (size_t)s->nx, gemm_setup, &r, r.gemm_ws, s->gemm_floats,
                             pool);
        lucid_threadpool_run(pool, (size_t)c->oc, 1, output_task, &r);
    }
    return LUCID_STATUS_OK;
}

static lucid_status f2x3_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                 void **state, lucid_error *err)
{
    (void)max_threads;
    return wino_prepare(2, g, n, state, err);
}

static lucid_status f4x3_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                 void **state, lucid_error *err)
{
    (void)max_threads;
    return wino_prepare(4, g, n, state, err);
}

/* Both read and write plain NCHW; no sum depends on how tiles or channels are split over
 * threads, so results are the same for any thread count. */
const lucid_tactic lucid_tactic_cpu_conv_f32_winograd_f2x3_avx512 = {
    .name = "cpu.conv.f32.winograd_f2x3.avx512",
    .backend = "cpu",
    .flags = 0,
    .preference = 240,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = f2x3_supports,
    .prepare = f2x3_prepare,
    .release = wino_release,
    .workspace = wino_workspace,
    .run = wino_run_layer,
};

/* Fewer multiplications per output (36 per 16 against 16 per 4) at a larger rounding error
 * (transform constants up to 8): still within 1e-4 of the output's scale on the tests. */
const lucid_tactic lucid_tactic_cpu_conv_f32_winograd_f4x3_avx512 = {
    .name = "cpu.conv.f32.winograd_f4x3.avx512",
    .backend = "cpu",
    .flags = 0,
    .preference = 245,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = f4x3_supports,
    .prepare = f4x3_prepare,
    .release = wino_release,
    .workspace = wino_workspace,
    .run = wino_run_layer,
};
