/* dnnl_pool.c - the oneDNN pooling tactics dnnl.pool.f32.nchw (plain NCHW),
 * dnnl.pool.f32.nhwc (channels-last activations) and dnnl.pool.f32.nchw16c (blocks of 16
 * channels): MaxPool (without its Indices output),
 * AveragePool (counting pads or not) and the global pools; dnnl.pool.int8.nchw and
 * dnnl.pool.int8.nhwc: MaxPool and GlobalMaxPool on the int8/uint8 activations of quantized
 * networks (a maximum of quantized values is the quantized maximum). Pooling reduces each
 * window in a fixed order: deterministic. */
#ifdef LUCID_HAVE_DNNL

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "cpu/dnnl_common.h"
#include "ops/op.h"
#include "ops/pool.h"

typedef struct dnnl_pool_state {
    dnnl_engine_t eng;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t x_md, y_md;
    size_t scratch;
} dnnl_pool_state;

static void dnnl_pool_release(void *state)
{
    dnnl_pool_state *s = state;
    if (!s) return;
    if (s->prim) dnnl_primitive_destroy(s->prim);
    if (s->pd) dnnl_primitive_desc_destroy(s->pd);
    if (s->eng) dnnl_engine_destroy(s->eng);
    free(s);
}

static bool refuse(char *why, size_t why_len, const char *msg)
{
    snprintf(why, why_len, "%s", msg);
    return false;
}

/* The pooling as oneDNN sees it: algorithm, window, strides, dilations (oneDNN counts
 * dilation from 0) and begin/end pads that reproduce the inferred output size. */
typedef struct pool_desc {
    dnnl_alg_kind_t alg;
    dnnl_data_type_t dt;
    dnnl_dims_t xd, yd, k, s, d, pl, pr;
} pool_desc;

static bool pool_resolve(const lucid_graph *g, const lucid_node *n, bool int8, pool_desc *pd,
                         char *why, size_t why_len)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    bool global = n->op == LUCID_OP_GLOBAL_AVERAGE_POOL || n->op == LUCID_OP_GLOBAL_MAX_POOL;
    bool is_max = n->op == LUCID_OP_MAX_POOL || n->op == LUCID_OP_GLOBAL_MAX_POOL;
    if (!global && !is_max && n->op != LUCID_OP_AVERAGE_POOL)
        return refuse(why, why_len, "not a pooling layer");
    if (!x || !y || x->rank != 4 || y->rank != 4)
        return refuse(why, why_len, "only 2-D (NCHW) pooling");
    if (!lucid_tensor_shape_known(x) || !lucid_tensor_shape_known(y))
        return refuse(why, why_len, "only static shapes");
    if (int8) {
        if (!is_max || (x->dtype != LUCID_DTYPE_INT8 && x->dtype != LUCID_DTYPE_UINT8))
            return refuse(why, why_len, "int8/uint8 max pooling only");
        pd->dt = x->dtype == LUCID_DTYPE_INT8 ? dnnl_s8 : dnnl_u8;
    } else {
        if (x->dtype != LUCID_DTYPE_FLOAT) return refuse(why, why_len, "only float32");
        pd->dt = dnnl_f32;
    }
    if (n->n_outputs > 1 && n->outputs[1] >= 0)
        return refuse(why, why_len, "MaxPool's Indices output is not produced by oneDNN");
    for (int i = 0; i < 4; i++) {
        pd->xd[i] = x->dims[i];
        pd->yd[i] = y->dims[i];
    }
    if (global) {
        pd->alg = is_max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;
        for (int i = 0; i < 2; i++) {
            pd->k[i] = x->dims[2 + i];
            pd->s[i] = 1;
            pd->d[i] = pd->pl[i] = pd->pr[i] = 0;
        }
        return true;
    }
    /* the window as the reference sees it, every auto_pad rule applied */
    const lucid_pool_params *pp = n->params;
    lucid_pool_geom geo;
    if (!pp || pp->n_kernel != 2 || lucid_pool_resolve_geometry(n, pp, 4, x->dims, &geo, NULL))
        return refuse(why, why_len, "unreadable attributes");
    const bool cip = pp->count_include_pad != 0;
    pd->alg = is_max ? dnnl_pooling_max
              : cip  ? dnnl_pooling_avg_include_padding
                     : dnnl_pooling_avg_exclude_padding;
    for (int i = 0; i < 2; i++) {
        int64_t in = x->dims[2 + i], out = y->dims[2 + i], dk = (geo.k[i] - 1) * geo.d[i] + 1;
        int64_t pb = geo.pb[i], pe = geo.pe[i];
        /* the end pad oneDNN needs for this output size; ceil_mode makes it larger than the
         * model's */
        int64_t need = (out - 1) * geo.s[i] + dk - in - pb;
        if (need > pe && cip && !is_max)
            return refuse(why, why_len,
                          "ceil_mode windows past the end padding change the divisor of "
                          "count_include_pad, which oneDNN does not model");
        pd->k[i] = geo.k[i];
        pd->s[i] = geo.s[i];
        pd->d[i] = geo.d[i] - 1;
        pd->pl[i] = pb;
        pd->pr[i] = need;
    }
    return true;
}

static bool dnnl_pool_build(const lucid_graph *g, const lucid_node *n, lucid_layout layout,
                            bool int8,
                            bool full, int max_threads, dnnl_pool_state **out, char *why,
                            size_t why_len)
{
    dnnl_pool_state *s = calloc(1, sizeof *s);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_status_t ds = dnnl_success;
    const char *stage = "";
    bool ok = false;
    int old_threads = lucid_dnnl_threads_set(max_threads);
    pool_desc p;
    *out = NULL;
    if (!s) {
        snprintf(why, why_len, "out of memory");
        goto done;
    }
    if (!pool_resolve(g, n, int8, &p, why, why_len)) goto done;
    stage = "engine";
    if ((ds = dnnl_engine_create(&s->eng, dnnl_cpu, 0))) goto fail;
    stage = "pooling descriptor";
    dnnl_pooling_v2_desc_t d;
    /* NCHW16C: float32, channels a multiple of 16 */
    if (layout == LUCID_LAYOUT_NCHW16C && (int8 || p.xd[1] % 16 != 0)) {
        snprintf(why, why_len, "NCHW16C needs float32 and channels that are a multiple of 16");
        goto done;
    }
    const dnnl_format_tag_t tag = layout == LUCID_LAYOUT_NHWC      ? dnnl_nhwc
                                  : layout == LUCID_LAYOUT_NCHW16C ? dnnl_nChw16c
                                                                   : dnnl_nchw;
    if ((ds = dnnl_memory_desc_init_by_tag(&s->x_md, 4, p.xd, p.dt, tag)) ||
        (ds = dnnl_memory_desc_init_by_tag(&s->y_md, 4, p.yd, p.dt, tag)) ||
        (ds = dnnl_pooling_v2_forward_desc_init(&d, dnnl_forward_inference, p.alg, &s->x_md,
                                                &s->y_md, p.s, p.k, p.d, p.pl, p.pr)))
        goto fail;
    if (!(attr = lucid_dnnl_attr_create(NULL))) {
        ds = dnnl_out_of_memory;
        goto fail;
    }
    stage = "pooling primitive descriptor";
    if ((ds = dnnl_primitive_desc_create(&s->pd, &d, attr, s->eng, NULL))) goto fail;
    s->scratch = lucid_dnnl_scratchpad_size(s->pd);
    stage = "pooling primitive";
    if (full && (ds = dnnl_primitive_create(&s->prim, s->pd))) goto fail;
    ok = true;
    goto done;
fail:
    /* out of memory, lucid's or oneDNN's, is no refusal of the layer: the builder reports it */
    if (ds == dnnl_out_of_memory) snprintf(why, why_len, "%s", LUCID_WHY_OOM);
    else snprintf(why, why_len, "oneDNN %s: status %d", stage, (int)ds);
done:
    if (attr) dnnl_primitive_attr_destroy(attr);
    lucid_dnnl_threads_set(old_threads);
    if (ok)
        *out = s;
    else
        dnnl_pool_release(s);
    return ok;
}

static bool dnnl_pool_f32_supports_layout(const lucid_graph *g, const lucid_node *n,
                                          lucid_layout layout, char *why, size_t why_len)
{
    dnnl_pool_state *s;
    if (!dnnl_pool_build(g, n, layout, false, false, 1, &s, why, why_len)) return false;
    dnnl_pool_release(s);
    return true;
}

static bool dnnl_pool_supports(const lucid_graph *g, const lucid_node *n,
                               const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!lucid_dnnl_cap_ok(cpu, why, why_len)) return false;
    return dnnl_pool_f32_supports_layout(g, n, LUCID_LAYOUT_PLAIN, why, why_len);
}

static bool dnnl_pool_nhwc_supports(const lucid_graph *g, const lucid_node *n,
                                    const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!lucid_dnnl_cap_ok(cpu, why, why_len)) return false;
    return dnnl_pool_f32_supports_layout(g, n, LUCID_LAYOUT_NHWC, why, why_len);
}

static bool dnnl_pool_nchw16c_supports(const lucid_graph *g, const lucid_node *n,
                                       const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!lucid_dnnl_cap_ok(cpu, why, why_len)) return false;
    return dnnl_pool_f32_supports_layout(g, n, LUCID_LAYOUT_NCHW16C, why, why_len);
}

static lucid_status dnnl_pool_prepare_variant(const lucid_graph *g, const lucid_node *n,
                                              lucid_layout layout, bool int8, int max_threads,
                                              void **state, lucid_error *err)
{
    char why[256] = "";
    dnnl_pool_state *s;
    if (!dnnl_pool_build(g, n, layout, int8, true, max_threads, &s, why, sizeof why))
        return lucid_node_errorf(n, err, lucid_why_status(why), "%s", why);
    *state = s;
    return LUCID_STATUS_OK;
}

static lucid_status dnnl_pool_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                      void **state, lucid_error *err)
{
    return dnnl_pool_prepare_variant(g, n, LUCID_LAYOUT_PLAIN, false, max_threads, state, err);
}

static lucid_status dnnl_pool_nhwc_prepare(const lucid_graph *g, const lucid_node *n,
                                           int max_threads, void **state, lucid_error *err)
{
    return dnnl_pool_prepare_variant(g, n, LUCID_LAYOUT_NHWC, false, max_threads, state, err);
}

static lucid_status dnnl_pool_nchw16c_prepare(const lucid_graph *g, const lucid_node *n,
                                              int max_threads, void **state, lucid_error *err)
{
    return dnnl_pool_prepare_variant(g, n, LUCID_LAYOUT_NCHW16C, false, max_threads, state,
                                     err);
}

static bool dnnl_pool_int8_supports_variant(const lucid_graph *g, const lucid_node *n, bool nhwc,
                                            char *why, size_t why_len)
{
    dnnl_pool_state *s;
    if (!dnnl_pool_build(g, n, nhwc ? LUCID_LAYOUT_NHWC : LUCID_LAYOUT_PLAIN, true, false, 1, &s,
                         why, why_len))
        return false;
    dnnl_pool_release(s);
    return true;
}

static bool dnnl_pool_int8_supports(const lucid_graph *g, const lucid_node *n,
                                    const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!lucid_dnnl_cap_ok(cpu, why, why_len)) return false;
    return dnnl_pool_int8_supports_variant(g, n, false, why, why_len);
}

static bool dnnl_pool_int8_nhwc_supports(const lucid_graph *g, const lucid_node *n,
                                         const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!lucid_dnnl_cap_ok(cpu, why, why_len)) return false;
    return dnnl_pool_int8_supports_variant(g, n, true, why, why_len);
}

static lucid_status dnnl_pool_int8_prepare(const lucid_graph *g, const lucid_node *n,
                                           int max_threads, void **state, lucid_error *err)
{
    return dnnl_pool_prepare_variant(g, n, LUCID_LAYOUT_PLAIN, true, max_threads, state, err);
}

static lucid_status dnnl_pool_int8_nhwc_prepare(const lucid_graph *g, const lucid_node *n,
                                                int max_threads, void **state, lucid_error *err)
{
    return dnnl_pool_prepare_variant(g, n, LUCID_LAYOUT_NHWC, true, max_threads, state, err);
}

static size_t dnnl_pool_workspace(const void *state, int threads)
{
    (void)threads;
    return lucid_dnnl_round(((const dnnl_pool_state *)state)->scratch);
}

static lucid_status dnnl_pool_run_bound(const void *state, void *bound, const lucid_array *in,
                                        int n_in, lucid_array *out, int n_out, void *workspace,
                                        lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    const dnnl_pool_state *s = state;
    const dnnl_memory_desc_t *smd =
        dnnl_primitive_desc_query_md(s->pd, dnnl_query_scratchpad_md, 0);
    lucid_dnnl_arg a[3] = {{DNNL_ARG_SRC, &s->x_md, in[0].data},
                           {DNNL_ARG_DST, &s->y_md, out[0].data},
                           {DNNL_ARG_SCRATCHPAD, smd, workspace}};
    dnnl_status_t ds = lucid_dnnl_run_one(s->eng, bound, s->prim, a, s->scratch ? 3 : 2,
                                          lucid_threadpool_size(pool));
    return ds == dnnl_success ? LUCID_STATUS_OK : lucid_dnnl_error(err, "pooling", ds);
}
LUCID_DNNL_UNBOUND_RUN(dnnl_pool_run, dnnl_pool_run_bound)

const lucid_tactic lucid_tactic_dnnl_pool_f32_nchw = {
    .name = "dnnl.pool.f32.nchw",
    .backend = "dnnl",
    .flags = 0,
    .preference = 403,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = dnnl_pool_supports,
    .prepare = dnnl_pool_prepare,
    .release = dnnl_pool_release,
    .workspace = dnnl_pool_workspace,
    .run = dnnl_pool_run,
    .bind = lucid_dnnl_bind,
    .unbind = lucid_dnnl_unbind,
    .run_bound = dnnl_pool_run_bound,
};

const lucid_tactic lucid_tactic_dnnl_pool_f32_nhwc = {
    .name = "dnnl.pool.f32.nhwc",
    .backend = "dnnl",
    .flags = 0,
    .preference = 404,
    .in_layout = LUCID_LAYOUT_NHWC,
    .out_layout = LUCID_LAYOUT_NHWC,
    .supports = dnnl_pool_nhwc_supports,
    .prepare = dnnl_pool_nhwc_prepare,
    .release = dnnl_pool_release,
    .workspace = dnnl_pool_workspace,
    .run = dnnl_pool_run,
    .bind = lucid_dnnl_bind,
    .unbind = lucid_dnnl_unbind,
    .run_bound = dnnl_pool_run_bound,
};

const lucid_tactic lucid_tactic_dnnl_pool_f32_nchw16c = {
    .name = "dnnl.pool.f32.nchw16c",
    .backend = "dnnl",
    .flags = 0,
    .preference = 407,
    .in_layout = LUCID_LAYOUT_NCHW16C,
    .out_layout = LUCID_LAYOUT_NCHW16C,
    .supports = dnnl_pool_nchw16c_supports,
    .prepare = dnnl_pool_nchw16c_prepare,
    .release = dnnl_pool_release,
    .workspace = dnnl_pool_workspace,
    .run = dnnl_pool_run,
    .bind = lucid_dnnl_bind,
    .unbind = lucid_dnnl_unbind,
    .run_bound = dnnl_pool_run_bound,
};

const lucid_tactic lucid_tactic_dnnl_pool_int8_nchw = {
    .name = "dnnl.pool.int8.nchw",
    .backend = "dnnl",
    .flags = 0,
    .preference = 405,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = dnnl_pool_int8_supports,
    .prepare = dnnl_pool_int8_prepare,
    .release = dnnl_pool_release,
    .workspace = dnnl_pool_workspace,
    .run = dnnl_pool_run,
    .bind = lucid_dnnl_bind,
    .unbind = lucid_dnnl_unbind,
    .run_bound = dnnl_pool_run_bound,
};

const lucid_tactic lucid_tactic_dnnl_pool_int8_nhwc = {
    .name = "dnnl.pool.int8.nhwc",
    .backend = "dnnl",
    .flags = 0,
    .preference = 406,
    .in_layout = LUCID_LAYOUT_NHWC,
    .out_layout = LUCID_LAYOUT_NHWC,
    .supports = dnnl_pool_int8_nhwc_supports,
    .prepare = dnnl_pool_int8_nhwc_prepare,
    .release = dnnl_pool_release,
    .workspace = dnnl_pool_workspace,
    .run = dnnl_pool_run,
    .bind = lucid_dnnl_bind,
    .unbind = lucid_dnnl_unbind,
    .run_bound = dnnl_pool_run_bound,
};

#endif
