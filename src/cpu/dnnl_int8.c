/* dnnl_int8.c - oneDNN int8 tactics for lucid's quantized layers:
 *   dnnl.conv.int8.nhwc   QConv on channels-last int8/uint8 activations (what oneDNN's VNNI
 *                         kernels read), weights reordered once at prepare;
 *   dnnl.conv.int8.nchw   QConv on plain NCHW activations (oneDNN picks what it has);
 *   dnnl.matmul.int8      QGemm.
 * oneDNN 2.x applies its output scales after adding the bias to the int32 accumulator,
 * dst = post_ops(oscale[m] * (acc + bias[m])), so the bias is given as B[m] / (x_scale *
 * w_scale[m]) and oscale as x_scale * w_scale[m] / y_scale (without y_scale for a float
 * output). The residual is a sum post-op reading dst: a quantized residual of the output's
 * size is copied there and summed with scale z_scale / y_scale and its zero point; for a float
 * output any residual is first written there dequantized and summed with scale 1. The
 * activation runs on the scaled value: Relu as is, Clip with bounds divided by y_scale; others
 * only with a float output. Rounding to int8 is oneDNN's (to nearest even) after float
 * arithmetic in another order than the reference, so outputs may differ by one unit in the
 * last place. Input and output zero points other than 0 are left to the reference. */
#ifdef LUCID_HAVE_DNNL

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "cpu/dnnl_common.h"
#include "ops/conv.h"
#include "ops/activation.h"
#include "ops/layout.h"
#include "ops/op.h"
#include "ops/qlayers.h"

enum { Z_NONE, Z_COPY, Z_DEQUANT_F32 };

typedef struct dnnl_q_state {
    bool conv;
    int threads;
    dnnl_engine_t eng;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t x_md, y_md, b_md;
    const dnnl_memory_desc_t *w_md; /* owned by pd */
    void *w;                        /* weights in w_md's layout */
    float *bias;                    /* B / (x_scale * w_scale), or NULL */
    size_t scratch;
    int zmode;
    lucid_dtype zt;
    float z_scale;
    int32_t z_zp;
    int64_t count; /* output elements */
} dnnl_q_state;

static void dnnl_q_release(void *state)
{
    dnnl_q_state *s = state;
    if (!s) return;
    if (s->prim) dnnl_primitive_destroy(s->prim);
    if (s->pd) dnnl_primitive_desc_destroy(s->pd);
    if (s->eng) dnnl_engine_destroy(s->eng);
    free(s->w);
    free(s->bias);
    free(s);
}

static bool refuse(char *why, size_t len, const char *msg)
{
    snprintf(why, len, "%s", msg);
    return false;
}

static dnnl_data_type_t dnnl_type(lucid_dtype t)
{
    switch (t) {
    case LUCID_DTYPE_INT8: return dnnl_s8;
    case LUCID_DTYPE_UINT8: return dnnl_u8;
    case LUCID_DTYPE_FLOAT: return dnnl_f32;
    default: return dnnl_data_type_undef;
    }
}

static float scalar_f(const lucid_graph *g, const lucid_node *n, int i)
{
    const lucid_ir_tensor *t = lucid_op_input(g, n, i);
    return t && t->data ? ((const float *)t->data)[0] : 0.0f;
}

static int32_t scalar_zp(const lucid_graph *g, const lucid_node *n, int i)
{
    const lucid_ir_tensor *t = lucid_op_input(g, n, i);
    return t && t->data ? (int32_t)lucid_load_i64(t->dtype, t->data, 0) : 0;
}

/* What QConv and QGemm share: scales, bias, activation post-ops, the residual's mode. */
typedef struct q_common {
    int64_t m;           /* output channels */
    float *oscale;       /* m values */
    int oscale_mask_bit; /* the output dim of the channels */
    bool per_channel;
    float *bias;         /* m values or NULL */
    bool quantized;
    float y_scale;
} q_common;

static bool q_common_build(const lucid_graph *g, const lucid_node *n, int64_t m, int ys_i,
                           q_common *c, dnnl_post_ops_t po, dnnl_q_state *s, char *why,
                           size_t len)
{
    const lucid_ir_tensor *ws = lucid_op_input(g, n, LUCID_QIN_W_SCALE),
                          *b = lucid_op_input(g, n, LUCID_QIN_B);
    if (scalar_zp(g, n, LUCID_QIN_X_ZP) || scalar_zp(g, n, ys_i + 1))
        return refuse(why, len, "input or output zero point not 0 (reference only)");
    if (!ws || !ws->data || (b && !b->data)) return refuse(why, len, "needs constant scales and bias");
    const float xs = scalar_f(g, n, LUCID_QIN_X_SCALE);
    const int64_t wc = lucid_tensor_numel(ws);
    c->m = m;
    c->quantized = lucid_op_input(g, n, ys_i) != NULL;
    c->y_scale = c->quantized ? scalar_f(g, n, ys_i) : 1.0f;
    const lucid_activation *pact = lucid_node_activation(n);
    if (!pact) return refuse(why, len, "activation not parsed");
    const lucid_activation act = *pact;
    /* A piecewise-linear activation (Relu, Clip) commutes with the output scale, so the
     * primitive works in the output's units from the start. Any other (SiLU, Sigmoid, ...)
     * must see real values: the primitive then works in real units, applies the activation,
     * and a final linear post-op divides by the output scale before the int8 store. */
    const bool real = c->quantized && !lucid_activation_is_piecewise_linear(&act);
    c->per_channel = wc != 1;
    c->oscale = malloc(sizeof(float) * (size_t)(m ? m : 1));
    c->bias = b ? malloc(sizeof(float) * (size_t)(m ? m : 1)) : NULL;
    if (!c->oscale || (b && !c->bias)) return refuse(why, len, "out of memory");
    for (int64_t i = 0; i < m; i++) {
        const float mult = xs * ((const float *)ws->data)[wc == 1 ? 0 : i];
        c->oscale[i] = c->quantized && !real ? mult / c->y_scale : mult;
        if (b) c->bias[i] = ((const float *)b->data)[i] / mult;
    }
    /* the residual (QConv only) */
    const lucid_ir_tensor *z = s->conv ? lucid_op_input(g, n, LUCID_QCONV_Z) : NULL;
    const lucid_ir_tensor *y = lucid_op_output(g, n, 0);
    dnnl_status_t ds = dnnl_success;
    s->zmode = Z_NONE;
    if (z) {
        s->zt = z->dtype;
        const bool zq = z->dtype != LUCID_DTYPE_FLOAT;
        s->z_scale = zq ? scalar_f(g, n, LUCID_QCONV_Z_SCALE) : 1.0f;
        s->z_zp = zq ? scalar_zp(g, n, LUCID_QCONV_Z_ZP) : 0;
        if (y->dtype == LUCID_DTYPE_FLOAT) {
            s->zmode = Z_DEQUANT_F32;
            ds = dnnl_post_ops_append_sum(po, 1.0f);
        } else if (zq) {
            s->zmode = Z_COPY;
            ds = dnnl_post_ops_append_sum_v3(po, real ? s->z_scale : s->z_scale / c->y_scale,
                                             s->z_zp, dnnl_type(z->dtype));
        } else {
            return refuse(why, len, "a float residual with a quantized output");
        }
        if (ds != dnnl_success) return refuse(why, len, "oneDNN refused the sum post-op");
    }
    /* the activation, on values in the output's units (or real ones, see above) */
    lucid_activation dc = act;
    if (c->quantized && !real && dc.kind == LUCID_ACT_CLIP) {
        dc.alpha /= c->y_scale;
        dc.beta /= c->y_scale;
    }
    if (!lucid_dnnl_append_act(po, &dc, why, len)) return false;
    if (real &&
        dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_linear, 1.0f / c->y_scale, 0.0f) !=
            dnnl_success)
        return refuse(why, len, "oneDNN refused the output-scale post-op");
    return true;
}

static bool dnnl_q_build(const lucid_graph *g, const lucid_node *n, bool nhwc, bool full,
                         int max_threads, dnnl_q_state **out, char *why, size_t why_len)
{
    dnnl_q_state *s = calloc(1, sizeof *s);
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_status_t ds = dnnl_success;
    q_common c = {0};
    const char *stage = "";
    bool ok = false;
    int old_threads = lucid_dnnl_threads_set(max_threads);
    *out = NULL;
    if (!s) {
        snprintf(why, why_len, "out of memory");
        goto done;
    }
    s->conv = n->op == LUCID_OP_QCONV;
    s->threads = max_threads;
    if (n->op != LUCID_OP_QCONV && n->op != LUCID_OP_QGEMM) {
        snprintf(why, why_len, "not a QConv or QGemm");
        goto done;
    }
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *w = lucid_op_input(g, n, LUCID_QIN_W),
                          *y = lucid_op_output(g, n, 0);
    if (!lucid_tensor_shape_known(x) || !lucid_tensor_shape_known(y) || !w || !w->data) {
        snprintf(why, why_len, "needs static shapes and constant weights");
        goto done;
    }
    const dnnl_data_type_t xt = dnnl_type(x->dtype), yt = dnnl_type(y->dtype);
    dnnl_memory_desc_t wp_md, w_any;
    dnnl_dims_t wd;
    stage = "engine";
    if ((ds = dnnl_engine_create(&s->eng, dnnl_cpu, 0))) goto fail;
    if ((ds = dnnl_post_ops_create(&po))) goto fail;
    s->count = lucid_tensor_numel(y);
    if (s->conv) {
        const lucid_conv_params *p = n->params;
        lucid_conv_geom geo;
        if (x->rank != 4 ||
            lucid_conv_resolve_geometry(n, p, x->rank, x->dims, w->rank, w->dims, &geo, NULL)) {
            snprintf(why, why_len, "only 2-D convolutions");
            goto done;
        }
        const int64_t ekh = (geo.k[0] - 1) * geo.d[0] + 1, ekw = (geo.k[1] - 1) * geo.d[1] + 1;
        if (geo.pb[0] >= ekh || geo.pe[0] >= ekh || geo.pb[1] >= ekw || geo.pe[1] >= ekw) {
            snprintf(why, why_len, "a pad as wide as the kernel");
            goto done;
        }
        if (!q_common_build(g, n, geo.out_c, LUCID_QCONV_Y_SCALE, &c, po, s, why, why_len))
            goto done;
        dnnl_dims_t xd = {geo.batch, geo.in_c, geo.in[0], geo.in[1]};
        dnnl_dims_t yd = {geo.batch, geo.out_c, geo.out[0], geo.out[1]}, bd = {geo.out_c};
        dnnl_dims_t strides = {geo.s[0], geo.s[1]}, dil = {geo.d[0] - 1, geo.d[1] - 1};
        dnnl_dims_t pad_l = {geo.pb[0], geo.pb[1]}, pad_r = {geo.pe[0], geo.pe[1]};
        const int wr = geo.group > 1 ? 5 : 4;
        if (geo.group > 1) {
            wd[0] = geo.group, wd[1] = geo.out_c / geo.group, wd[2] = geo.in_c / geo.group,
            wd[3] = geo.k[0], wd[4] = geo.k[1];
        } else {
            wd[0] = geo.out_c, wd[1] = geo.in_c, wd[2] = geo.k[0], wd[3] = geo.k[1];
        }
        const dnnl_format_tag_t tag = nhwc ? dnnl_nhwc : dnnl_nchw;
        stage = "memory descriptors";
        if ((ds = dnnl_memory_desc_init_by_tag(&s->x_md, 4, xd, xt, tag)) ||
            (ds = dnnl_memory_desc_init_by_tag(&s->y_md, 4, yd, yt, tag)) ||
            (ds = dnnl_memory_desc_init_by_tag(&s->b_md, 1, bd, dnnl_f32, dnnl_x)) ||
            (ds = dnnl_memory_desc_init_by_tag(&wp_md, wr, wd, dnnl_s8,
                                               geo.group > 1 ? dnnl_goihw : dnnl_oihw)) ||
            (ds = dnnl_memory_desc_init_by_tag(&w_any, wr, wd, dnnl_s8, dnnl_format_tag_any)))
            goto fail;
        c.oscale_mask_bit = 1;
        stage = "attributes";
        if (!(attr = lucid_dnnl_attr_create(po))) {
            ds = dnnl_out_of_memory;
            goto fail;
        }
        if ((ds = dnnl_primitive_attr_set_output_scales(attr, c.per_channel ? c.m : 1,
                                                        c.per_channel ? 1 << 1 : 0, c.oscale)))
            goto fail;
        stage = "convolution descriptor";
        dnnl_convolution_desc_t cd;
        if ((ds = dnnl_dilated_convolution_forward_desc_init(
                 &cd, dnnl_forward_inference, dnnl_convolution_direct, &s->x_md, &w_any,
                 c.bias ? &s->b_md : NULL, &s->y_md, strides, dil, pad_l, pad_r)))
            goto fail;
        stage = "convolution primitive descriptor";
        if ((ds = dnnl_primitive_desc_create(&s->pd, &cd, attr, s->eng, NULL))) goto fail;
        /* plain NCHW int8 has only oneDNN's reference kernels: slow, but correct */
    } else {
        if (!q_common_build(g, n, w->dims[0], LUCID_QGEMM_Y_SCALE, &c, po, s, why, why_len))
            goto done;
        const int64_t k = w->dims[1], nn = w->dims[0], m = k ? lucid_tensor_numel(x) / k : 0;
        dnnl_dims_t ad = {m, k}, yd = {m, nn}, bd = {1, nn};
        wd[0] = k, wd[1] = nn;
        stage = "memory descriptors";
        if ((ds = dnnl_memory_desc_init_by_tag(&s->x_md, 2, ad, xt, dnnl_ab)) ||
            (ds = dnnl_memory_desc_init_by_tag(&s->y_md, 2, yd, yt, dnnl_ab)) ||
            (ds = dnnl_memory_desc_init_by_tag(&s->b_md, 2, bd, dnnl_f32, dnnl_ab)) ||
            (ds = dnnl_memory_desc_init_by_tag(&wp_md, 2, wd, dnnl_s8, dnnl_ba)) ||
            (ds = dnnl_memory_desc_init_by_tag(&w_any, 2, wd, dnnl_s8, dnnl_format_tag_any)))
            goto fail;
        stage = "attributes";
        if (!(attr = lucid_dnnl_attr_create(po))) {
            ds = dnnl_out_of_memory;
            goto fail;
        }
        if ((ds = dnnl_primitive_attr_set_output_scales(attr, c.per_channel ? c.m : 1,
                                                        c.per_channel ? 1 << 1 : 0, c.oscale)))
            goto fail;
        stage = "matmul descriptor";
        dnnl_matmul_desc_t md;
        if ((ds = dnnl_matmul_desc_init(&md, &s->x_md, &w_any, c.bias ? &s->b_md : NULL,
                                        &s->y_md)))
            goto fail;
        stage = "matmul primitive descriptor";
        if ((ds = dnnl_primitive_desc_create(&s->pd, &md, attr, s->eng, NULL))) goto fail;
    }
    {
        /* oneDNN's reference kernels (what plain NCHW int8 gets) are orders of magnitude slower
         * than lucid's reference-plus-reorders: not worth timing */
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(s->pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
            impl && strstr(impl, "ref")) {
            snprintf(why, why_len, "oneDNN has only its reference kernel here (%s)", impl);
            goto done;
        }
    }
    s->w_md = dnnl_primitive_desc_query_md(s->pd, dnnl_query_weights_md, 0);
    s->scratch = lucid_dnnl_scratchpad_size(s->pd);
    if (full) {
        stage = "weights reorder";
        if ((ds = lucid_dnnl_reorder_const(s->eng, &wp_md, w->data, s->w_md, &s->w))) goto fail;
        stage = "primitive";
        if ((ds = dnnl_primitive_create(&s->prim, s->pd))) goto fail;
        s->bias = c.bias;
        c.bias = NULL;
    }
    ok = true;
    goto done;
fail:
    /* out of memory, lucid's or oneDNN's, is no refusal of the layer: the builder reports it */
    if (ds == dnnl_out_of_memory) snprintf(why, why_len, "%s", LUCID_WHY_OOM);
    else snprintf(why, why_len, "oneDNN %s: status %d", stage, (int)ds);
done:
    free(c.oscale);
    free(c.bias);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (po) dnnl_post_ops_destroy(po);
    lucid_dnnl_threads_set(old_threads);
    if (ok)
        *out = s;
    else
        dnnl_q_release(s);
    return ok;
}

static bool supports_variant(const lucid_graph *g, const lucid_node *n, bool nhwc, char *why,
                             size_t len)
{
    dnnl_q_state *s;
    if (!dnnl_q_build(g, n, nhwc, false, 1, &s, why, len)) return false;
    dnnl_q_release(s);
    return true;
}

/* Without VNNI (AVX512-VNNI, AVX-VNNI or AMX-INT8), oneDNN's int8 kernels multiply with
 * vpmaddubsw, which adds each pair of u8 x s8 products in saturating 16-bit arithmetic (s8
 * sources are shifted to u8 first): sums of large values come out clipped, far from the exact
 * int32 sum the reference computes (an AVX2-only EPYC gave 16.06 for 0.667). oneDNN's
 * documented remedy, 7-bit weights, would change the model, so these tactics refuse there. */
static bool exact_int8(const lucid_cpu_features *cpu, char *why, size_t len)
{
    if (!lucid_dnnl_cap_ok(cpu, why, len)) return false;
    if (cpu && (cpu->avx512_vnni || cpu->avx_vnni || cpu->amx_int8)) return true;
    return refuse(why, len,
                  "no VNNI on this CPU: oneDNN's int8 kernels would add products in pairs "
                  "with 16-bit saturation");
}

static bool qconv_nhwc_supports(const lucid_graph *g, const lucid_node *n,
                                const lucid_cpu_features *cpu, char *why, size_t len)
{
    if (n->op != LUCID_OP_QCONV) return refuse(why, len, "not a QConv");
    if (!exact_int8(cpu, why, len)) return false;
    return supports_variant(g, n, true, why, len);
}

static bool qconv_nchw_supports(const lucid_graph *g, const lucid_node *n,
                                const lucid_cpu_features *cpu, char *why, size_t len)
{
    if (n->op != LUCID_OP_QCONV) return refuse(why, len, "not a QConv");
    if (!exact_int8(cpu, why, len)) return false;
    return supports_variant(g, n, false, why, len);
}

static bool qgemm_supports(const lucid_graph *g, const lucid_node *n,
                           const lucid_cpu_features *cpu, char *why, size_t len)
{
    if (n->op != LUCID_OP_QGEMM) return refuse(why, len, "not a QGemm");
    if (!exact_int8(cpu, why, len)) return false;
    return supports_variant(g, n, false, why, len);
}

static lucid_status prepare_variant(const lucid_graph *g, const lucid_node *n, bool nhwc,
                                    int threads, void **state, lucid_error *err)
{
    char why[256] = "";
    dnnl_q_state *s;
    if (!dnnl_q_build(g, n, nhwc, true, threads, &s, why, sizeof why))
        return lucid_node_errorf(n, err, lucid_why_status(why), "%s", why);
    *state = s;
    return LUCID_STATUS_OK;
}

static lucid_status qconv_nhwc_prepare(const lucid_graph *g, const lucid_node *n, int threads,
                                       void **state, lucid_error *err)
{
    return prepare_variant(g, n, true, threads, state, err);
}

static lucid_status qconv_nchw_prepare(const lucid_graph *g, const lucid_node *n, int threads,
                                       void **state, lucid_error *err)
{
    return prepare_variant(g, n, false, threads, state, err);
}

static size_t dnnl_q_workspace(const void *state, int threads)
{
    (void)threads;
    return lucid_dnnl_round(((const dnnl_q_state *)state)->scratch);
}

/* The residual into dst, where the sum post-op reads it. */
static void residual_to_dst(const dnnl_q_state *s, const lucid_array *z, lucid_array *y)
{
    if (z->data == y->data) return;
    if (s->zmode == Z_COPY || (s->zmode == Z_DEQUANT_F32 && s->zt == LUCID_DTYPE_FLOAT)) {
        memcpy(y->data, z->data, y->nbytes);
        return;
    }
    float *d = y->data;
    if (s->zt == LUCID_DTYPE_INT8) {
        const int8_t *q = z->data;
        for (int64_t i = 0; i < s->count; i++) d[i] = (float)(q[i] - s->z_zp) * s->z_scale;
    } else {
        const uint8_t *q = z->data;
        for (int64_t i = 0; i < s->count; i++) d[i] = (float)(q[i] - s->z_zp) * s->z_scale;
    }
}

static lucid_status dnnl_q_run_bound(const void *state, void *bound, const lucid_array *in,
                                     int n_in, lucid_array *out, int n_out, void *workspace,
                                     lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    const dnnl_q_state *s = state;
    if (s->zmode != Z_NONE) {
        if (n_in <= LUCID_QCONV_Z || !in[LUCID_QCONV_Z].data)
            return lucid_errorf(err, LUCID_STATUS_INTERNAL, "residual missing at run time");
        residual_to_dst(s, &in[LUCID_QCONV_Z], &out[0]);
    }
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(s->pd, dnnl_query_scratchpad_md, 0);
    lucid_dnnl_arg a[5] = {{DNNL_ARG_SRC, &s->x_md, in[0].data},
                           {DNNL_ARG_WEIGHTS, s->w_md, s->w},
                           {DNNL_ARG_DST, &s->y_md, out[0].data},
                           {DNNL_ARG_SCRATCHPAD, smd, workspace},
                           {DNNL_ARG_BIAS, &s->b_md, s->bias}};
    dnnl_status_t ds =
        lucid_dnnl_run_one(s->eng, bound, s->prim, a, s->bias ? 5 : 4, lucid_threadpool_size(pool));
    return ds == dnnl_success ? LUCID_STATUS_OK
                              : lucid_dnnl_error(err, s->conv ? "int8 convolution" : "int8 matmul",
                                                 ds);
}
LUCID_DNNL_UNBOUND_RUN(dnnl_q_run, dnnl_q_run_bound)

/* ---- plain NCHW through the channels-last kernel -------------------------------------
 * oneDNN has no fast int8 convolution on plain NCHW activations (only its reference one), and
 * some layers cannot run channels-last in a plan (their outputs are slices of a Concat). This
 * variant reorders the input (and residual) to NHWC in its workspace, runs the channels-last
 * primitive, and reorders the result back into the plain output. */
typedef struct q_reorder_state {
    dnnl_q_state *inner;
    int64_t batch, cx, sx, cy, sy; /* channels and spatial size of input and output */
    size_t esx, esy, esz;          /* element sizes of input, output and residual */
    size_t xb, yb, zb;             /* bytes of input, output and residual */
} q_reorder_state;

static void q_reorder_release(void *state)
{
    q_reorder_state *s = state;
    if (!s) return;
    dnnl_q_release(s->inner);
    free(s);
}

static lucid_status qconv_reorder_prepare(const lucid_graph *g, const lucid_node *n, int threads,
                                          void **state, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    const lucid_ir_tensor *z = lucid_op_input(g, n, LUCID_QCONV_Z);
    if (!x || !y || x->rank != 4 || y->rank != 4)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "needs 4-D activations");
    q_reorder_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    void *inner = NULL;
    lucid_status st = prepare_variant(g, n, true, threads, &inner, err);
    if (st) {
        free(s);
        return st;
    }
    s->inner = inner;
    s->batch = x->dims[0];
    s->cx = x->dims[1];
    s->sx = x->dims[2] * x->dims[3];
    s->cy = y->dims[1];
    s->sy = y->dims[2] * y->dims[3];
    s->esx = lucid_dtype_size(x->dtype);
    s->esy = lucid_dtype_size(y->dtype);
    s->xb = lucid_tensor_nbytes(x);
    s->yb = lucid_tensor_nbytes(y);
    if (z && !z->data) {
        s->esz = lucid_dtype_size(z->dtype);
        s->zb = lucid_tensor_nbytes(z);
    }
    *state = s;
    return LUCID_STATUS_OK;
}

static size_t qconv_reorder_workspace(const void *state, int threads)
{
    const q_reorder_state *s = state;
    return dnnl_q_workspace(s->inner, threads) + lucid_dnnl_round(s->xb) +
           lucid_dnnl_round(s->yb) + lucid_dnnl_round(s->zb);
}

static void reorder_batch(const void *src, void *dst, int64_t batch, int64_t c, int64_t sp,
                          size_t es, bool to_nhwc)
{
    size_t image = (size_t)(c * sp) * es;
    for (int64_t b = 0; b < batch; b++)
        lucid_reorder_image((const char *)src + (size_t)b * image, (char *)dst + (size_t)b * image,
                            c, sp, es, to_nhwc);
}

static lucid_status qconv_reorder_run_bound(const void *state, void *bound, const lucid_array *in,
                                            int n_in, lucid_array *out, int n_out, void *workspace,
                                            lucid_threadpool *pool, lucid_error *err)
{
    const q_reorder_state *s = state;
    char *ws = workspace;
    size_t scratch = dnnl_q_workspace(s->inner, 1);
    char *xn = ws + scratch, *yn = xn + lucid_dnnl_round(s->xb), *zn = yn + lucid_dnnl_round(s->yb);
    lucid_array tin[16];
    if (n_in > (int)(sizeof tin / sizeof tin[0]))
        return lucid_errorf(err, LUCID_STATUS_INTERNAL, "too many inputs");
    for (int k = 0; k < n_in; k++) tin[k] = in[k];
    reorder_batch(in[0].data, xn, s->batch, s->cx, s->sx, s->esx, true);
    tin[0].data = xn;
    if (s->zb && n_in > LUCID_QCONV_Z && in[LUCID_QCONV_Z].data) {
        reorder_batch(in[LUCID_QCONV_Z].data, zn, s->batch, s->cy, s->sy, s->esz, true);
        tin[LUCID_QCONV_Z].data = zn;
    }
    lucid_array tout = out[0];
    tout.data = yn;
    lucid_status st = dnnl_q_run_bound(s->inner, bound, tin, n_in, &tout, n_out, ws, pool, err);
    if (st) return st;
    reorder_batch(yn, out[0].data, s->batch, s->cy, s->sy, s->esy, false);
    return LUCID_STATUS_OK;
}
LUCID_DNNL_UNBOUND_RUN(qconv_reorder_run, qconv_reorder_run_bound)

const lucid_tactic lucid_tactic_dnnl_conv_int8_nchw_reorder = {
    .name = "dnnl.conv.int8.nchw_via_nhwc",
    .backend = "dnnl",
    .flags = LUCID_TACTIC_THREAD_DEPENDENT,
    .preference = 413,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = qconv_nhwc_supports,
    .prepare = qconv_reorder_prepare,
    .release = q_reorder_release,
    .workspace = qconv_reorder_workspace,
    .run = qconv_reorder_run,
    .bind = lucid_dnnl_bind,
    .unbind = lucid_dnnl_unbind,
    .run_bound = qconv_reorder_run_bound,
};

const lucid_tactic lucid_tactic_dnnl_conv_int8_nhwc = {
    .name = "dnnl.conv.int8.nhwc",
    .backend = "dnnl",
    .flags = LUCID_TACTIC_THREAD_DEPENDENT,
    .preference = 410,
    .in_layout = LUCID_LAYOUT_NHWC,
    .out_layout = LUCID_LAYOUT_NHWC,
    .supports = qconv_nhwc_supports,
    .prepare = qconv_nhwc_prepare,
    .release = dnnl_q_release,
    .workspace = dnnl_q_workspace,
    .run = dnnl_q_run,
    .bind = lucid_dnnl_bind,
    .unbind = lucid_dnnl_unbind,
    .run_bound = dnnl_q_run_bound,
};

const lucid_tactic lucid_tactic_dnnl_conv_int8_nchw = {
    .name = "dnnl.conv.int8.nchw",
    .backend = "dnnl",
    .flags = LUCID_TACTIC_THREAD_DEPENDENT,
    .preference = 411,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = qconv_nchw_supports,
    .prepare = qconv_nchw_prepare,
    .release = dnnl_q_release,
    .workspace = dnnl_q_workspace,
    .run = dnnl_q_run,
    .bind = lucid_dnnl_bind,
    .unbind = lucid_dnnl_unbind,
    .run_bound = dnnl_q_run_bound,
};

const lucid_tactic lucid_tactic_dnnl_matmul_int8 = {
    .name = "dnnl.matmul.int8",
    .backend = "dnnl",
    .flags = LUCID_TACTIC_THREAD_DEPENDENT,
    .preference = 412,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = qgemm_supports,
    .prepare = qconv_nchw_prepare,
    .release = dnnl_q_release,
    .workspace = dnnl_q_workspace,
    .run = dnnl_q_run,
    .bind = lucid_dnnl_bind,
    .unbind = lucid_dnnl_unbind,
    .run_bound = dnnl_q_run_bound,
};

#endif
