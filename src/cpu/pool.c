/* pool.c - MaxPool/AveragePool/GlobalAveragePool/GlobalMaxPool: shared preparation and
 * threading over planes, and the portable tactics cpu.pool.f32.{max,avg}.generic. */
#include "cpu/pool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

static bool pool_refuse(char *why, size_t why_len, const char *msg)
{
    snprintf(why, why_len, "%s", msg);
    return false;
}

static bool pool_pair(const lucid_node *n, const char *name, int64_t def, int64_t out[2])
{
    const int64_t *v;
    size_t count;
    if (lucid_attr_ints(n, name, &v, &count, NULL)) return false;
    out[0] = count ? v[0] : def;
    out[1] = count ? v[1] : def;
    return count == 0 || count == 2;
}

/* Resolves a windowed pool's geometry into s (shapes inferred by the op). */
static bool pool_resolve(const lucid_graph *g, const lucid_node *n, lucid_pool_state *s,
                         char *why, size_t why_len)
{
    memset(s, 0, sizeof *s);
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if (!x || !y || x->dtype != LUCID_DTYPE_FLOAT || !lucid_tensor_shape_known(x) ||
        !lucid_tensor_shape_known(y))
        return pool_refuse(why, why_len, "only float32 with static shapes");
    if (x->rank != 4) return pool_refuse(why, why_len, "only 2-D (NCHW) pools");
    s->planes = x->dims[0] * x->dims[1];
    s->plane_in = x->dims[2] * x->dims[3];
    if (n->op == LUCID_OP_GLOBAL_MAX_POOL || n->op == LUCID_OP_GLOBAL_AVERAGE_POOL) {
        s->global = true;
        s->is_max = n->op == LUCID_OP_GLOBAL_MAX_POOL;
        return true;
    }
    s->is_max = n->op == LUCID_OP_MAX_POOL;
    if (s->is_max && lucid_op_output(g, n, 1))
        return pool_refuse(why, why_len, "MaxPool's Indices output is left to the reference");
    lucid_dconv *c = &s->c;
    int64_t k[2], st[2], dl[2], pads[4] = {0, 0, 0, 0}, ceil_mode;
    const char *auto_pad;
    const int64_t *pv;
    size_t pc;
    if (!pool_pair(n, "kernel_shape", 0, k) || !pool_pair(n, "strides", 1, st) ||
        !pool_pair(n, "dilations", 1, dl) || lucid_attr_ints(n, "pads", &pv, &pc, NULL) ||
        (pc != 0 && pc != 4) || lucid_attr_string(n, "auto_pad", "NOTSET", &auto_pad, NULL) ||
        lucid_attr_int(n, "ceil_mode", 0, &ceil_mode, NULL))
        return pool_refuse(why, why_len, "unreadable attributes");
    for (size_t i = 0; i < pc; i++) pads[i] = pv[i];
    c->batch = x->dims[0];
    c->ic = c->oc = x->dims[1];
    c->ih = x->dims[2];
    c->iw = x->dims[3];
    c->oh = y->dims[2];
    c->ow = y->dims[3];
    c->kh = k[0];
    c->kw = k[1];
    c->sh = st[0];
    c->sw = st[1];
    c->dh = dl[0];
    c->dw = dl[1];
    if (c->kh < 1 || c->kw < 1 || c->sh < 1 || c->sw < 1 || c->dh < 1 || c->dw < 1 ||
        c->kh > 64 || c->kw > 64 || c->sh > 64 || c->sw > 64 || c->dh > 64 || c->dw > 64)
        return pool_refuse(why, why_len, "window outside this tactic's range");
    int64_t pe[2] = {pads[2], pads[3]};
    if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0) {
        int64_t th = (c->oh - 1) * c->sh + (c->kh - 1) * c->dh + 1 - c->ih;
        int64_t tw = (c->ow - 1) * c->sw + (c->kw - 1) * c->dw + 1 - c->iw;
        th = th < 0 ? 0 : th;
        tw = tw < 0 ? 0 : tw;
        bool upper = auto_pad[5] == 'U';
        c->pt = upper ? th / 2 : th - th / 2;
        c->pl = upper ? tw / 2 : tw - tw / 2;
        pe[0] = th - c->pt;
        pe[1] = tw - c->pl;
    } else if (strcmp(auto_pad, "VALID") == 0) {
        pe[0] = pe[1] = 0;
    } else {
        c->pt = pads[0];
        c->pl = pads[1];
    }
    if (!s->is_max) {
        int64_t cip;
        if (lucid_attr_int(n, "count_include_pad", 0, &cip, NULL))
            return pool_refuse(why, why_len, "unreadable count_include_pad");
        /* the reference's divisor: window positions inside the input, or inside the input
         * and its pads with count_include_pad (never the ceil_mode overhang) */
        s->count = malloc(sizeof(float) * (size_t)(c->oh * c->ow));
        int64_t *cw = malloc(sizeof(int64_t) * (size_t)c->ow);
        if (!s->count || !cw) {
            free(cw);
            free(s->count);
            s->count = NULL;
            return pool_refuse(why, why_len, "out of memory");
        }
        const int64_t lo_h = cip ? -c->pt : 0, hi_h = cip ? c->ih + pe[0] : c->ih;
        const int64_t lo_w = cip ? -c->pl : 0, hi_w = cip ? c->iw + pe[1] : c->iw;
        for (int64_t ox = 0; ox < c->ow; ox++) {
            cw[ox] = 0;
            for (int64_t kx = 0; kx < c->kw; kx++) {
                int64_t ix = ox * c->sw - c->pl + kx * c->dw;
                cw[ox] += ix >= lo_w && ix < hi_w;
            }
        }
        for (int64_t oy = 0; oy < c->oh; oy++) {
            int64_t ch = 0;
            for (int64_t ky = 0; ky < c->kh; ky++) {
                int64_t iy = oy * c->sh - c->pt + ky * c->dh;
                ch += iy >= lo_h && iy < hi_h;
            }
            for (int64_t ox = 0; ox < c->ow; ox++)
                s->count[oy * c->ow + ox] = (float)(ch * cw[ox]);
        }
        free(cw);
    }
    lucid_dconv_plane_shape(c, &s->plane);
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
    free(s.count);
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
    free(s->count);
    free(s);
}

static size_t pool_plane_bytes(const lucid_pool_state *s)
{
    if (s->global) return 0;
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
    const int64_t per_plane = s->plane_in > 0 ? s->plane_in : 1;
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
    const lucid_dconv *c = &s->c;
    if (s->global) {
        for (size_t pl = begin; pl < end; pl++)
            t->y[pl] = t->global(t->x + (int64_t)pl * s->plane_in, s->plane_in, s->is_max);
        return;
    }
    float *xp = (float *)(t->work + pool_plane_bytes(s) * (size_t)thread);
    const int64_t out_plane = c->oh * c->ow;
    for (size_t pl = begin; pl < end; pl++) {
        lucid_dconv_plane_fill(c, &s->plane, t->x + (int64_t)pl * s->plane_in,
                               s->is_max ? -INFINITY : 0.0f, xp);
        float *y = t->y + (int64_t)pl * out_plane;
        for (int64_t oy = 0; oy < c->oh; oy++)
            t->row(s, xp + oy * c->sh * s->plane.row_floats,
                   s->count ? s->count + oy * c->ow : NULL, y + oy * c->ow);
    }
}

lucid_status lucid_pool_run(const lucid_pool_state *s, const lucid_array *in, lucid_array *out,
                            void *workspace, lucid_threadpool *pool, lucid_pool_row_fn row,
                            lucid_pool_global_fn global)
{
    pool_task t = {s, in[0].data, out[0].data, workspace, row, global};
    lucid_threadpool_run(pool, (size_t)s->planes, lucid_pool_grain(s), pool_task_run, &t);
    return LUCID_STATUS_OK;
}

/* ---- the portable kernels ---- */

static void pool_row_generic(const lucid_pool_state *s, const float *xp, const float *count,
                             float *y)
{
    const lucid_dconv *c = &s->c;
    const int64_t ow = c->ow, pw = s->plane.phase_w, rf = s->plane.row_floats;
    for (int64_t o = 0; o < ow; o++) y[o] = s->is_max ? -INFINITY : 0.0f;
    for (int64_t ky = 0; ky < c->kh; ky++)
        for (int64_t kx = 0; kx < c->kw; kx++) {
            const int64_t off = kx * c->dw;
            const float *restrict xq = xp + ky * c->dh * rf + (off % c->sw) * pw + off / c->sw;
            float *restrict yr = y;
            if (s->is_max)
                for (int64_t o = 0; o < ow; o++) yr[o] = xq[o] > yr[o] ? xq[o] : yr[o];
            else
                for (int64_t o = 0; o < ow; o++) yr[o] += xq[o];
        }
    if (!s->is_max)
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
