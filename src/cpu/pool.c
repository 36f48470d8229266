/* pool.c - MaxPool/AveragePool/GlobalAveragePool/GlobalMaxPool: shared preparation and
 * threading over planes, and the portable tactics cpu.pool.f32.{max,avg}.generic. */
#include "cpu/pool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

/* Resolves a pool's geometry and divisors into s (shapes inferred by the op). */
static bool pool_resolve(const lucid_graph *g, const lucid_node *n, lucid_pool_state *s,
                         char *why, size_t why_len)
{
    memset(s, 0, sizeof *s);
    if (!lucid_pool2d_resolve(g, n, &s->w, why, why_len)) return false;
    if (!s->w.global) lucid_dconv_plane_shape(&s->w.c, &s->plane);
    return true;
}

bool lucid_pool_supports(const lucid_graph *g, const lucid_node *n, bool is_max, char *why,
                         size_t why_len)
{
    bool ours = is_max ? n->op == LUCID_OP_MAX_POOL || n->op == LUCID_OP_GLOBAL_MAX_POOL
                       : n->op == LUCID_OP_AVERAGE_POOL || n->op == LUCID_OP_GLOBAL_AVERAGE_POOL;
    if (!ours) return false; /* another op: nothing to report */
    lucid_pool_state s;
    bool ok = pool_resolve(g, n, &s, why, why_len);
    free(s.w.count);
    return ok;
}

lucid_status lucid_pool_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                void **state, lucid_error *err)
{
    (void)max_threads;
    char why[256] = "";
    lucid_pool_state *s = malloc(sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!pool_resolve(g, n, s, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "pool tactic: %s", why);
    }
    *state = s;
    return LUCID_STATUS_OK;
}

void lucid_pool_release(void *state)
{
    lucid_pool_state *s = state;
    if (!s) return;
    free(s->masks);
    free(s->w.count);
    free(s);
}

static size_t pool_plane_bytes(const lucid_pool_state *s)
{
    if (s->w.global) return 0;
    size_t b = sizeof(float) * (size_t)(s->plane.rows * s->plane.row_floats);
    return (b + 63) / 64 * 64;
}

size_t lucid_pool_workspace(const void *state, int threads)
{
    return pool_plane_bytes(state) * (size_t)(threads < 1 ? 1 : threads);
}

size_t lucid_pool_grain(const lucid_pool_state *s)
{
    /* a second thread's hand-off costs microseconds: small layers (GoogLeNet's 7x7 pools,
     * global pools of 7x7 planes) stay on fewer threads, each chunk reading at least 16K
     * input floats */
    const int64_t per_plane = s->w.plane_in > 0 ? s->w.plane_in : 1;
    const int64_t grain = (16384 + per_plane - 1) / per_plane;
    return (size_t)(grain < 1 ? 1 : grain);
}

typedef struct pool_task {
    const lucid_pool_state *s;
    const float *x;
    float *y;
    char *work;
    lucid_pool_row_fn row;
    lucid_pool_global_fn global;
} pool_task;

static void pool_task_run(void *ctx, size_t begin, size_t end, int thread)
{
    const pool_task *t = ctx;
    const lucid_pool_state *s = t->s;
    const lucid_dconv *c = &s->w.c;
    if (s->w.global) {
        for (size_t pl = begin; pl < end; pl++)
            t->y[pl] = t->global(t->x + (int64_t)pl * s->w.plane_in, s->w.plane_in, s->w.is_max);
        return;
    }
    float *xp = (float *)(t->work + pool_plane_bytes(s) * (size_t)thread);
    const int64_t out_plane = c->oh * c->ow;
    for (size_t pl = begin; pl < end; pl++) {
        lucid_dconv_plane_fill(c, &s->plane, t->x + (int64_t)pl * s->w.plane_in,
                               s->w.is_max ? -INFINITY : 0.0f, xp);
        float *y = t->y + (int64_t)pl * out_plane;
        for (int64_t oy = 0; oy < c->oh; oy++)
            t->row(s, xp + oy * c->sh * s->plane.row_floats,
                   s->w.count ? s->w.count + oy * c->ow : NULL, y + oy * c->ow);
    }
}

lucid_status lucid_pool_run(const lucid_pool_state *s, const lucid_array *in, lucid_array *out,
                            void *workspace, lucid_threadpool *pool, lucid_pool_row_fn row,
                            lucid_pool_global_fn global)
{
    pool_task t = {s, in[0].data, out[0].data, workspace, row, global};
    lucid_threadpool_run(pool, (size_t)s->w.planes, lucid_pool_grain(s), pool_task_run, &t);
    return LUCID_STATUS_OK;
}

/* ---- the portable kernels ---- */

static void pool_row_generic(const lucid_pool_state *s, const float *xp, const float *count,
                             float *y)
{
    const lucid_dconv *c = &s->w.c;
    const int64_t ow = c->ow, pw = s->plane.phase_w, rf = s->plane.row_floats;
    for (int64_t o = 0; o < ow; o++) y[o] = s->w.is_max ? -INFINITY : 0.0f;
    for (int64_t ky = 0; ky < c->kh; ky++)
        for (int64_t kx = 0; kx < c->kw; kx++) {
            const int64_t off = kx * c->dw;
            const float *restrict xq = xp + ky * c->dh * rf + (off % c->sw) * pw + off / c->sw;
            float *restrict yr = y;
            if (s->w.is_max)
                for (int64_t o = 0; o < ow; o++) yr[o] = xq[o] > yr[o] ? xq[o] : yr[o];
            else
                for (int64_t o = 0; o < ow; o++) yr[o] += xq[o];
        }
    if (!s->w.is_max)
        for (int64_t o = 0; o < ow; o++) y[o] /= count[o];
}

static float pool_global_generic(const float *x, int64_t n, bool is_max)
{
    if (is_max) {
        float m = -INFINITY;
        for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
        return m;
    }
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    return n ? (float)(sum / (double)n) : NAN;
}

static bool pool_max_generic_supports(const lucid_graph *g, const lucid_node *n,
                                      const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    (void)cpu;
    return lucid_pool_supports(g, n, true, why, why_len);
}

static bool pool_avg_generic_supports(const lucid_graph *g, const lucid_node *n,
                                      const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    (void)cpu;
    return lucid_pool_supports(g, n, false, why, why_len);
}

static lucid_status pool_generic_run(const void *state, const lucid_array *in, int n_in,
                                     lucid_array *out, int n_out, void *workspace,
                                     lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)err;
    return lucid_pool_run(state, in, out, workspace, pool, pool_row_generic,
                          pool_global_generic);
}

const lucid_tactic lucid_tactic_cpu_pool_f32_max_generic = {
    .name = "cpu.pool.f32.max.generic",
    .backend = "cpu",
    .preference = 310,
    .supports = pool_max_generic_supports,
    .prepare = lucid_pool_prepare,
    .release = lucid_pool_release,
    .workspace = lucid_pool_workspace,
    .run = pool_generic_run,
};

const lucid_tactic lucid_tactic_cpu_pool_f32_avg_generic = {
    .name = "cpu.pool.f32.avg.generic",
    .backend = "cpu",
    .preference = 310,
    .supports = pool_avg_generic_supports,
    .prepare = lucid_pool_prepare,
    .release = lucid_pool_release,
    .workspace = lucid_pool_workspace,
    .run = pool_generic_run,
};
