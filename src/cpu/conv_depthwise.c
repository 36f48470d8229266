/* conv_depthwise.c - depthwise convolution (group == input channels): shared preparation and
 * threading, and the portable tactic cpu.conv.f32.depthwise.generic. */
#include "cpu/conv_depthwise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

bool lucid_dw_supports(const lucid_graph *g, const lucid_node *n, char *why, size_t why_len)
{
    lucid_dconv c;
    if (!lucid_dconv_resolve(g, n, &c, why, why_len)) return false;
    if (c.group != c.ic || c.group == 1) {
        snprintf(why, why_len, "not depthwise (group %lld, %lld input channels)",
                 (long long)c.group, (long long)c.ic);
        return false;
    }
    return true;
}

lucid_status lucid_dw_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                              void **state, lucid_error *err)
{
    (void)max_threads;
    char why[256] = "";
    lucid_dw_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!lucid_dconv_resolve(g, n, &s->c, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "depthwise conv: %s", why);
    }
    lucid_dconv_plane_shape(&s->c, &s->plane);
    /* the depthwise rows read at most 15 floats past a phase row's last used column (one
     * partial vector), so one vector of slack does instead of the direct family's 64 and
     * the padded plane stays smaller in cache */
    const lucid_dconv *c = &s->c;
    s->plane.phase_w = ((c->ow - 1) * c->sw + (c->kw - 1) * c->dw + 1 + c->sw - 1) / c->sw + 16;
    s->plane.row_floats = c->sw * s->plane.phase_w;
    s->mult = s->c.oc / s->c.ic;
    const lucid_ir_tensor *w = lucid_op_input(g, n, 1);
    size_t wn = (size_t)(s->c.oc * s->c.kh * s->c.kw);
    s->w = malloc(sizeof(float) * wn);
    if (!s->w) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    memcpy(s->w, w->data, sizeof(float) * wn);
    *state = s;
    return LUCID_STATUS_OK;
}

void lucid_dw_release(void *state)
{
    lucid_dw_state *s = state;
    if (!s) return;
    free(s->masks);
    free(s->w);
    free(s);
}

/* Bytes of one thread's padded plane, rounded to whole cache lines. */
static size_t dw_plane_bytes(const lucid_dw_state *s)
{
    size_t b = sizeof(float) * (size_t)(s->plane.rows * s->plane.row_floats);
    return (b + 63) / 64 * 64;
}

size_t lucid_dw_workspace(const void *state, int threads)
{
    return dw_plane_bytes(state) * (size_t)(threads < 1 ? 1 : threads);
}

void lucid_dw_fill_generic(const lucid_dw_state *s, const float *x, float *dst)
{
    lucid_dconv_plane_fill(&s->c, &s->plane, x, 0.0f, dst);
}

typedef struct dw_task {
    const lucid_dw_state *s;
    const float *x, *b, *z;
    float *y;
    char *work;
    lucid_dw_fill_fn fill;
    lucid_dw_rows_fn row;
} dw_task;

/* Planes [begin, end) of batch x output channel; each thread pads into its own slice. */
static void dw_task_run(void *ctx, size_t begin, size_t end, int thread)
{
    const dw_task *t = ctx;
    const lucid_dw_state *s = t->s;
    const lucid_dconv *c = &s->c;
    float *xp = (float *)(t->work + dw_plane_bytes(s) * (size_t)thread);
    const int64_t in_plane = c->ih * c->iw, out_plane = c->oh * c->ow;
    int64_t padded = -1; /* the input plane now in xp: a channel multiplier reuses it */
    for (size_t pl = begin; pl < end; pl++) {
        const int64_t nb = (int64_t)pl / c->oc, oc = (int64_t)pl % c->oc;
        const int64_t src = nb * c->ic + oc / s->mult;
        if (src != padded) {
            t->fill(s, t->x + src * in_plane, xp);
            padded = src;
        }
        const float *w = s->w + oc * c->kh * c->kw;
        const float bias = t->b ? t->b[oc] : 0.0f;
        float *y = t->y + (int64_t)pl * out_plane;
        const float *z = t->z ? t->z + (int64_t)pl * out_plane : NULL;
        t->row(s, xp, w, bias, z, y, c->oh);
    }
}

lucid_status lucid_dw_run(const lucid_dw_state *s, const lucid_array *in, int n_in,
                          lucid_array *out, void *workspace, lucid_threadpool *pool,
                          lucid_dw_fill_fn fill, lucid_dw_rows_fn row)
{
    dw_task t = {
        .s = s,
        .x = in[0].data,
        .b = n_in > 2 ? in[2].data : NULL,
        .z = s->c.fused && n_in > 3 ? in[3].data : NULL,
        .y = out[0].data,
        .work = workspace,
        .fill = fill,
        .row = row,
    };
    lucid_threadpool_run(pool, (size_t)(s->c.batch * s->c.oc), 1, dw_task_run, &t);
    return LUCID_STATUS_OK;
}

/* ---- the portable row: accumulate into y in the reference's order per element ---- */

static void dw_row_generic(const lucid_dw_state *s, const float *xp, const float *w, float bias,
                           const float *z, float *y)
{
    const lucid_dconv *c = &s->c;
    const int64_t ow = c->ow, pw = s->plane.phase_w, rf = s->plane.row_floats;
    for (int64_t o = 0; o < ow; o++)
        y[o] = bias;
    for (int64_t ky = 0; ky < c->kh; ky++) {
        const float *xr = xp + ky * c->dh * rf;
        for (int64_t kx = 0; kx < c->kw; kx++) {
            const int64_t off = kx * c->dw;
            const float *restrict xq = xr + (off % c->sw) * pw + off / c->sw;
            const float wv = w[ky * c->kw + kx];
            float *restrict yr = y;
            for (int64_t o = 0; o < ow; o++)
                yr[o] += wv * xq[o];
        }
    }
    for (int64_t o = 0; o < ow; o++) {
        float v = y[o];
        if (z) v += z[o];
        y[o] = lucid_activation_apply(&c->act, v);
    }
}

static void dw_rows_generic(const lucid_dw_state *s, const float *xp, const float *w, float bias,
                            const float *z, float *y, int64_t rows)
{
    const lucid_dconv *c = &s->c;
    for (int64_t oy = 0; oy < rows; oy++)
        dw_row_generic(s, xp + oy * c->sh * s->plane.row_floats, w, bias, z ? z + oy * c->ow : NULL,
                       y + oy * c->ow);
}

static bool dw_generic_supports(const lucid_graph *g, const lucid_node *n,
                                const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    (void)cpu;
    return lucid_dw_supports(g, n, why, why_len);
}

static lucid_status dw_generic_run(const void *state, const lucid_array *in, int n_in,
                                   lucid_array *out, int n_out, void *workspace,
                                   lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    (void)err;
    return lucid_dw_run(state, in, n_in, out, workspace, pool, lucid_dw_fill_generic,
                        dw_rows_generic);
}

const lucid_tactic lucid_tactic_cpu_conv_f32_depthwise_generic = {
    .name = "cpu.conv.f32.depthwise.generic",
    .backend = "cpu",
    .flags = 0,
    .preference = 210,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = dw_generic_supports,
    .prepare = lucid_dw_prepare,
    .release = lucid_dw_release,
    .workspace = lucid_dw_workspace,
    .run = dw_generic_run,
};
