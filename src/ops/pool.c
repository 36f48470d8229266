/* pool.c - MaxPool (with Indices), AveragePool, GlobalAveragePool and GlobalMaxPool. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"
#include "ops/pool.h"

#define POOL_MAX_SPATIAL LUCID_POOL_MAX_SPATIAL
/* Attribute values above this are refused so that window arithmetic stays far from int64
 * overflow. */
#define POOL_MAX_ATTR LUCID_OP_MAX_GEOMETRY

typedef lucid_pool_params pool_params;
typedef lucid_pool_geom pool_geom;

static const lucid_dtype pool_float_types[] = {LUCID_DTYPE_FLOAT, LUCID_DTYPE_DOUBLE,
                                               LUCID_DTYPE_FLOAT16, LUCID_DTYPE_BFLOAT16,
                                               LUCID_DTYPE_UNDEFINED};
static const lucid_dtype pool_max_types[] = {
    LUCID_DTYPE_FLOAT, LUCID_DTYPE_DOUBLE, LUCID_DTYPE_FLOAT16,  LUCID_DTYPE_BFLOAT16,
    LUCID_DTYPE_INT8,  LUCID_DTYPE_UINT8,  LUCID_DTYPE_UNDEFINED};

/* Element access with a direct path for float32, the dtype every real model uses. */
static inline double pool_load(lucid_dtype t, const void *p, int64_t i)
{
    return t == LUCID_DTYPE_FLOAT ? (double)((const float *)p)[i] : lucid_load_f64(t, p, i);
}

static inline void pool_store(lucid_dtype t, void *p, int64_t i, double v)
{
    if (t == LUCID_DTYPE_FLOAT)
        ((float *)p)[i] = (float)v;
    else
        lucid_store_f64(t, p, i, v);
}

static lucid_status pool_flag(const lucid_node *n, const char *name, int64_t *out, lucid_error *err)
{
    lucid_status st = lucid_attr_int(n, name, 0, out, err);
    if (st) return st;
    if (*out != 0 && *out != 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute '%s' must be 0 or 1, not %lld", name, (long long)*out);
    return LUCID_STATUS_OK;
}

static lucid_status pool_parse(const lucid_graph *g, const lucid_node *n, void *params,
                               lucid_error *err)
{
    pool_params *p = params;
    lucid_status st = lucid_op_auto_pad(n, &p->auto_pad, err);
    if (st) return st;
    if ((st = pool_flag(n, "ceil_mode", &p->ceil_mode, err)) ||
        (st = pool_flag(n, "count_include_pad", &p->count_include_pad, err)) ||
        (st = pool_flag(n, "storage_order", &p->storage_order, err)) ||
        (st = lucid_op_geometry_ints(n, "kernel_shape", p->kernel, POOL_MAX_SPATIAL, &p->n_kernel, 1,
                             err)) ||
        (st = lucid_op_geometry_ints(n, "strides", p->strides, POOL_MAX_SPATIAL, &p->n_strides, 1, err)) ||
        (st = lucid_op_geometry_ints(n, "dilations", p->dilations, POOL_MAX_SPATIAL, &p->n_dilations, 1,
                             err)) ||
        (st = lucid_op_geometry_ints(n, "pads", p->pads, 2 * POOL_MAX_SPATIAL, &p->n_pads, 0, err)))
        return st;
    if (p->n_kernel == 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "the required attribute 'kernel_shape' is missing or empty");
    size_t k = p->n_kernel;
    if ((p->n_strides && p->n_strides != k) || (p->n_dilations && p->n_dilations != k) ||
        (p->n_pads && p->n_pads != 2 * k))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "kernel_shape has %zu values but strides has %zu, dilations "
                                 "%zu and pads %zu (need %zu, %zu and %zu)",
                                 k, p->n_strides, p->n_dilations, p->n_pads, k, k, 2 * k);
    return LUCID_STATUS_OK;
}

lucid_status lucid_pool_resolve_geometry(const lucid_node *n, const lucid_pool_params *p,
                                         int xr, const int64_t *xd, lucid_pool_geom *g,
                                         lucid_error *err)
{
    char sx[128];
    memset(g, 0, sizeof *g);
    if (xr < 3 || (size_t)(xr - 2) != p->n_kernel)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input X %s must be N x C followed by %zu spatial dims (the "
                                 "length of kernel_shape)",
                                 lucid_shape_str(xr, xd, sx, sizeof sx), p->n_kernel);
    g->nsp = xr - 2;
    g->planes = xd[0] * xd[1];
    g->in_size = g->out_size = g->k_size = 1;
    for (int i = 0; i < g->nsp; i++) {
        int64_t in = xd[2 + i], k = p->kernel[i];
        int64_t s = p->n_strides ? p->strides[i] : 1;
        int64_t d = p->n_dilations ? p->dilations[i] : 1;
        int64_t pb = p->n_pads ? p->pads[i] : 0, pe = p->n_pads ? p->pads[g->nsp + i] : 0;
        if (in > POOL_MAX_ATTR)
            return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED, "spatial size too large");
        int64_t dk = (k - 1) * d + 1, out;
        lucid_status st = lucid_op_window(n, p->auto_pad, i, in, dk, s, p->ceil_mode != 0, &pb,
                                          &pe, &out, err);
        if (st) return st;
        g->in[i] = in;
        g->out[i] = out;
        g->k[i] = k;
        g->s[i] = s;
        g->d[i] = d;
        g->pb[i] = pb;
        g->pe[i] = pe;
        g->in_size *= in;
        g->out_size *= out;
        g->k_size *= k;
    }
    if (g->out_size > LUCID_MAX_ELEMENTS || g->k_size > LUCID_MAX_ELEMENTS)
        return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED, "the window is too large");
    return LUCID_STATUS_OK;
}

static lucid_status pool_infer_common(lucid_graph *gr, lucid_node *n, const lucid_dtype *types,
                                      lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(gr, n, 0);
    lucid_status st = lucid_op_check_dtype(gr, n, 0, types, err);
    if (st) return st;
    pool_geom g;
    if ((st = lucid_pool_resolve_geometry(n, n->params, x->rank, x->dims, &g, err))) return st;
    int64_t dims[LUCID_MAX_RANK] = {x->dims[0], x->dims[1]};
    for (int i = 0; i < g.nsp; i++)
        dims[2 + i] = g.out[i];
    if ((st = lucid_op_set_output(gr, n, 0, x->dtype, x->rank, dims, err))) return st;
    return lucid_op_set_output(gr, n, 1, LUCID_DTYPE_INT64, x->rank, dims, err);
}

static lucid_status max_pool_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    return pool_infer_common(g, n, pool_max_types, err);
}

static lucid_status average_pool_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    return pool_infer_common(g, n, pool_float_types, err);
}

static void pool_cost(const lucid_graph *gr, const lucid_node *n, double *macs, double *flops)
{
    const lucid_ir_tensor *x = lucid_op_input(gr, n, 0);
    pool_geom g;
    if (lucid_pool_resolve_geometry(n, n->params, x->rank, x->dims, &g, NULL)) return;
    /* one comparison or addition per window element */
    *flops = (double)g.planes * (double)g.out_size * (double)g.k_size;
}

/* Both windowed pools: for every output position, walks the window's positions in row-major
 * kernel order. max: the first largest value wins, and its index is recorded. */
static lucid_status pool_run(const lucid_node *n, bool is_max, const lucid_array *in,
                             lucid_array *out, int n_out, lucid_error *err)
{
    const pool_params *p = n->params;
    pool_geom g;
    lucid_status st = lucid_pool_resolve_geometry(n, p, in[0].rank, in[0].dims, &g, err);
    if (st) return st;
    const lucid_dtype t = in[0].dtype;
    const void *x = in[0].data;
    void *y = out[0].data;
    int64_t *idx_out = is_max && n_out > 1 && out[1].data ? out[1].data : NULL;
    const int nsp = g.nsp;
    /* strides of spatial dims for the Indices output in the requested storage order */
    int64_t rstride[POOL_MAX_SPATIAL], cstride[POOL_MAX_SPATIAL];
    lucid_strides(nsp, g.in, rstride);
    for (int j = 0; j < nsp; j++)
        cstride[j] = j == 0 ? 1 : cstride[j - 1] * g.in[j - 1];
    const int64_t *istride = p->storage_order ? cstride : rstride;

    for (int64_t pl = 0; pl < g.planes; pl++) {
        const int64_t xbase = pl * g.in_size, ybase = pl * g.out_size;
        int64_t oi[POOL_MAX_SPATIAL] = {0};
        for (int64_t o = 0; o < g.out_size; o++) {
            int64_t start[POOL_MAX_SPATIAL];
            for (int j = 0; j < nsp; j++)
                start[j] = oi[j] * g.s[j] - g.pb[j];
            double best = -INFINITY, sum = 0.0;
            int64_t best_idx = -1, valid = 0, padded = 0;
            int64_t kc[POOL_MAX_SPATIAL] = {0};
            for (int64_t kp = 0; kp < g.k_size; kp++) {
                bool inside = true, in_pad_extent = true;
                int64_t flat = 0, ind = 0;
                for (int j = 0; j < nsp; j++) {
                    int64_t ij = start[j] + kc[j] * g.d[j];
                    if (ij < 0 || ij >= g.in[j]) inside = false;
                    if (ij < -g.pb[j] || ij >= g.in[j] + g.pe[j]) in_pad_extent = false;
                    flat = flat * g.in[j] + ij;
                    ind += ij * istride[j];
                }
                if (in_pad_extent) padded++;
                if (inside) {
                    double v = pool_load(t, x, xbase + flat);
                    valid++;
                    if (is_max) {
                        if (best_idx < 0 || v > best) {
                            best = v;
                            best_idx = xbase + ind;
                        }
                    } else {
                        sum += v;
                    }
                }
                for (int j = nsp - 1; j >= 0; j--) {
                    if (++kc[j] < g.k[j]) break;
                    kc[j] = 0;
                }
            }
            if (is_max) {
                pool_store(t, y, ybase + o, best);
                if (idx_out) idx_out[ybase + o] = best_idx;
            } else {
                int64_t count = p->count_include_pad ? padded : valid;
                pool_store(t, y, ybase + o, count ? sum / (double)count : NAN);
            }
            for (int j = nsp - 1; j >= 0; j--) {
                if (++oi[j] < g.out[j]) break;
                oi[j] = 0;
            }
        }
    }
    return LUCID_STATUS_OK;
}

static lucid_status max_pool_run(const lucid_node *n, const lucid_array *in, int n_in,
                                 lucid_array *out, int n_out, lucid_error *err)
{
    return pool_run(n, true, in, out, n_out, err);
}

static lucid_status average_pool_run(const lucid_node *n, const lucid_array *in, int n_in,
                                     lucid_array *out, int n_out, lucid_error *err)
{
    return pool_run(n, false, in, out, n_out, err);
}

/* ---- global pools ---------------------------------------------------------------- */

static lucid_status global_pool_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = lucid_op_check_dtype(g, n, 0, pool_float_types, err);
    if (st) return st;
    char sx[128];
    if (x->rank < 3)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input X %s must have rank 3 or more (N x C x spatial dims)",
                                 lucid_shape_str(x->rank, x->dims, sx, sizeof sx));
    int64_t dims[LUCID_MAX_RANK];
    for (int i = 0; i < x->rank; i++)
        dims[i] = i < 2 ? x->dims[i] : 1;
    return lucid_op_set_output(g, n, 0, x->dtype, x->rank, dims, err);
}

static void global_pool_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    *flops = (double)lucid_tensor_numel(lucid_op_input(g, n, 0));
}

static lucid_status global_pool_run(bool is_max, const lucid_node *n, const lucid_array *in,
                                    lucid_array *out, lucid_error *err)
{
    const lucid_array *x = &in[0];
    if (x->rank < 3) return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "bad rank");
    int64_t inner = 1;
    for (int i = 2; i < x->rank; i++)
        inner *= x->dims[i];
    const int64_t planes = x->dims[0] * x->dims[1];
    const lucid_dtype t = x->dtype;
    for (int64_t pl = 0; pl < planes; pl++) {
        double acc = is_max ? -INFINITY : 0.0;
        for (int64_t i = 0; i < inner; i++) {
            double v = pool_load(t, x->data, pl * inner + i);
            if (!is_max)
                acc += v;
            else if (i == 0 || v > acc)
                acc = v;
        }
        pool_store(t, out[0].data, pl, is_max ? acc : (inner ? acc / (double)inner : NAN));
    }
    return LUCID_STATUS_OK;
}

static lucid_status global_average_pool_run(const lucid_node *n, const lucid_array *in, int n_in,
                                            lucid_array *out, int n_out, lucid_error *err)
{
    return global_pool_run(false, n, in, out, err);
}

static lucid_status global_max_pool_run(const lucid_node *n, const lucid_array *in, int n_in,
                                        lucid_array *out, int n_out, lucid_error *err)
{
    return global_pool_run(true, n, in, out, err);
}

const lucid_op_def lucid_op_def_max_pool = {
    .name = "MaxPool",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 2,
    .params_size = sizeof(pool_params),
    .parse = pool_parse,
    .infer = max_pool_infer,
    .cost = pool_cost,
    .run = max_pool_run,
};

const lucid_op_def lucid_op_def_average_pool = {
    .name = "AveragePool",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(pool_params),
    .parse = pool_parse,
    .infer = average_pool_infer,
    .cost = pool_cost,
    .run = average_pool_run,
};

const lucid_op_def lucid_op_def_global_average_pool = {
    .name = "GlobalAveragePool",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = 0,
    .infer = global_pool_infer,
    .cost = global_pool_cost,
    .run = global_average_pool_run,
};

const lucid_op_def lucid_op_def_global_max_pool = {
    .name = "GlobalMaxPool",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = 0,
    .infer = global_pool_infer,
    .cost = global_pool_cost,
    .run = global_max_pool_run,
};

/* ---- the resolved 2-D pool of the tactics (pool.h) ----------------------------------- */

bool lucid_pool2d_resolve(const lucid_graph *g, const lucid_node *n, lucid_pool2d *s, char *why,
                          size_t why_len)
{
    memset(s, 0, sizeof *s);
    if (n->op != LUCID_OP_MAX_POOL && n->op != LUCID_OP_AVERAGE_POOL &&
        n->op != LUCID_OP_GLOBAL_MAX_POOL && n->op != LUCID_OP_GLOBAL_AVERAGE_POOL)
        return false; /* another op: nothing to report */
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if (!x || !y || x->dtype != LUCID_DTYPE_FLOAT || !lucid_tensor_shape_known(x) ||
        !lucid_tensor_shape_known(y))
        return lucid_op_refuse(why, why_len, "only float32 with static shapes");
    if (x->rank != 4) return lucid_op_refuse(why, why_len, "only 2-D (NCHW) pools");
    s->planes = x->dims[0] * x->dims[1];
    s->plane_in = x->dims[2] * x->dims[3];
    if (n->op == LUCID_OP_GLOBAL_MAX_POOL || n->op == LUCID_OP_GLOBAL_AVERAGE_POOL) {
        s->global = true;
        s->is_max = n->op == LUCID_OP_GLOBAL_MAX_POOL;
        return true;
    }
    s->is_max = n->op == LUCID_OP_MAX_POOL;
    if (s->is_max && lucid_op_output(g, n, 1))
        return lucid_op_refuse(why, why_len, "MaxPool's Indices output is left to the reference");
    const pool_params *p = n->params;
    if (!p) return lucid_op_refuse(why, why_len, "attributes not parsed");
    pool_geom geo;
    if (x->rank != (int)p->n_kernel + 2 ||
        lucid_pool_resolve_geometry(n, p, x->rank, x->dims, &geo, NULL))
        return lucid_op_refuse(why, why_len, "inconsistent shapes");
    lucid_dconv *c = &s->c;
    c->batch = x->dims[0];
    c->ic = c->oc = x->dims[1];
    c->ih = x->dims[2];
    c->iw = x->dims[3];
    c->oh = y->dims[2];
    c->ow = y->dims[3];
    c->kh = geo.k[0];
    c->kw = geo.k[1];
    c->sh = geo.s[0];
    c->sw = geo.s[1];
    c->dh = geo.d[0];
    c->dw = geo.d[1];
    c->pt = geo.pb[0];
    c->pl = geo.pb[1];
    const int64_t pe[2] = {geo.pe[0], geo.pe[1]};
    if (c->kh > 64 || c->kw > 64 || c->sh > 64 || c->sw > 64 || c->dh > 64 || c->dw > 64)
        return lucid_op_refuse(why, why_len, "window outside this tactic's range");
    if (!s->is_max) {
        /* the reference's divisor: window positions inside the input, or inside the input
         * and its pads with count_include_pad (never the ceil_mode overhang) */
        const bool cip = p->count_include_pad != 0;
        s->count = malloc(sizeof(float) * (size_t)(c->oh * c->ow));
        int64_t *cw = malloc(sizeof(int64_t) * (size_t)c->ow);
        if (!s->count || !cw) {
            free(cw);
            free(s->count);
            s->count = NULL;
            return lucid_op_refuse(why, why_len, "out of memory");
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
    return true;
}
