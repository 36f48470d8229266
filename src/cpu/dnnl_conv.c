/* dnnl_conv.c - oneDNN convolution tactics for Conv and FusedConv (bias, residual as a sum
 * post-op, activation as eltwise post-ops), weights reordered once at prepare to the layout
 * oneDNN prefers:
 *   dnnl.conv.f32.nchw             reads and writes lucid's plain NCHW directly and lets
 *                                  oneDNN pick its best algorithm for plain activations;
 *   dnnl.conv.f32.blocked_reorder  lets oneDNN pick the activation layouts too (nChw16c on
 *                                  AVX-512) and reorders input, residual and output between
 *                                  NCHW and those inside the run, in the workspace;
 *   dnnl.conv.f32.nhwc             reads and writes channels-last (NHWC) activations, input,
 *                                  residual and output: the builder keeps chains of such
 *                                  layers in NHWC and inserts Reorder layers at their ends;
 *   dnnl.conv.f32.nchw16c          the same for oneDNN's own blocked layout nChw16c, which
 *                                  the builder keeps between layers (tensors whose channels
 *                                  are not a multiple of 16, as an RGB input, stay plain);
 *   dnnl.conv.f32.winograd.nchw16c oneDNN's Winograd convolution (F(2x2,3x3) or F(4x4,3x3),
 *                                  oneDNN chooses) on nChw16c input and output: 3x3, stride
 *                                  1, no dilation or groups, both channel counts multiples
 *                                  of 16; activations other than ReLU, which its kernels do
 *                                  not take as post-ops, run after it in place (a oneDNN
 *                                  eltwise primitive); fewer multiplications than the direct
 *                                  kernels and a different rounding (the transforms add and
 *                                  scale), within the cross-tactic test's float32 tolerance;
 *   dnnl.conv.bf16.{nchw,blocked_reorder,nhwc}  the same for bfloat16 layers: bfloat16
 *                                  activations and weights, float32 bias and accumulation
 *                                  (oneDNN's avx512_core_bf16 kernels where the processor has
 *                                  AVX512-BF16), output rounded once.
 * Deterministic for a fixed thread count: oneDNN's forward convolutions use no atomics and
 * split work by the thread count fixed when the primitive is made (see dnnl_common.h). */
#ifdef LUCID_HAVE_DNNL

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "cpu/conv_direct_common.h"
#include "cpu/dnnl_common.h"
#include "cpu/half_convert.h"
#include "ops/op.h"

typedef struct dnnl_conv_state {
    lucid_dconv c;
    int variant; /* DNNL_PLAIN, DNNL_BLOCKED, DNNL_NHWC */
    bool has_bias, has_z;
    int threads;
    dnnl_engine_t eng;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t x_md, y_md;   /* lucid's NCHW */
    dnnl_memory_desc_t xc_md, yc_md; /* the layouts the convolution reads and writes */
    dnnl_memory_desc_t b_md;
    const dnnl_memory_desc_t *w_md;  /* owned by pd */
    void *w;                         /* weights in w_md's layout */
    float *bias;                     /* bfloat16 layers: the bias widened to float32 */
    /* blocked variant: NCHW -> xc (input), NCHW -> yc (residual), yc -> NCHW (output) */
    bool need_x, need_y;
    dnnl_primitive_desc_t rx_pd, rz_pd, ry_pd;
    dnnl_primitive_t rx, rz, ry;
    size_t scratch, xc_bytes, yc_bytes;
    /* the activation run after the convolution, in place on its output, where it could not
     * be a post-op (Winograd) */
    int n_act;
    lucid_dnnl_eltwise act_step[2];
    dnnl_primitive_desc_t act_pd[2];
    dnnl_primitive_t act[2];
} dnnl_conv_state;

static void dnnl_conv_release(void *state)
{
    dnnl_conv_state *s = state;
    if (!s) return;
    dnnl_primitive_t prims[] = {s->prim, s->rx, s->rz, s->ry, s->act[0], s->act[1]};
    for (size_t i = 0; i < sizeof prims / sizeof prims[0]; i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    dnnl_primitive_desc_t pds[] = {s->pd, s->rx_pd, s->rz_pd, s->ry_pd, s->act_pd[0], s->act_pd[1]};
    for (size_t i = 0; i < sizeof pds / sizeof pds[0]; i++)
        if (pds[i]) dnnl_primitive_desc_destroy(pds[i]);
    if (s->eng) dnnl_engine_destroy(s->eng);
    free(s->w);
    free(s->bias);
    free(s);
}

enum { DNNL_PLAIN, DNNL_BLOCKED, DNNL_NHWC, DNNL_NCHW16C, DNNL_WINO16 };

/* A reorder primitive between two layouts of the same tensor, user scratchpad. */
static dnnl_status_t make_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *from,
                                  const dnnl_memory_desc_t *to, dnnl_primitive_desc_t *pd,
                                  dnnl_primitive_t *prim, size_t *scratch)
{
    dnnl_primitive_attr_t attr = lucid_dnnl_attr_create(NULL);
    if (!attr) return dnnl_out_of_memory;
    dnnl_status_t ds = dnnl_reorder_primitive_desc_create(pd, from, eng, to, eng, attr);
    dnnl_primitive_attr_destroy(attr);
    if (ds != dnnl_success) return ds;
    size_t sp = lucid_dnnl_scratchpad_size(*pd);
    if (sp > *scratch) *scratch = sp;
    return dnnl_primitive_create(prim, *pd);
}

/* Builds the primitive descriptors (and, when full, primitives and reordered weights) for
 * node n. supports calls it without full to learn whether oneDNN takes the layer. */
static bool dnnl_conv_build(const lucid_graph *g, const lucid_node *n, int variant,
                            dnnl_data_type_t dt, bool full, int max_threads,
                            dnnl_conv_state **out, char *why, size_t why_len)
{
    dnnl_conv_state *s = calloc(1, sizeof *s);
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_status_t ds = dnnl_success;
    const char *stage = "";
    bool ok = false;
    int old_threads = lucid_dnnl_threads_set(max_threads);
    *out = NULL;
    if (!s) {
        snprintf(why, why_len, "out of memory");
        goto done;
    }
    const bool blocked = variant == DNNL_BLOCKED;
    s->variant = variant;
    s->threads = max_threads;
    lucid_dconv *c = &s->c;
    if (!lucid_dconv_resolve(g, n, c, why, why_len)) goto done;
    s->has_bias = lucid_op_input(g, n, 2) != NULL;
    s->has_z = c->fused && lucid_op_input(g, n, 3) != NULL;
    const int64_t pb = (c->oh - 1) * c->sh + (c->kh - 1) * c->dh + 1 - c->ih - c->pt;
    const int64_t pr = (c->ow - 1) * c->sw + (c->kw - 1) * c->dw + 1 - c->iw - c->pl;
    dnnl_dims_t xd = {c->batch, c->ic, c->ih, c->iw}, yd = {c->batch, c->oc, c->oh, c->ow};
    dnnl_dims_t bd = {c->oc};
    dnnl_dims_t strides = {c->sh, c->sw}, dil = {c->dh - 1, c->dw - 1};
    dnnl_dims_t pad_l = {c->pt, c->pl}, pad_r = {pb, pr};
    dnnl_memory_desc_t wp_md, w_any;
    const int wr = c->group > 1 ? 5 : 4;
    dnnl_dims_t wd;
    if (c->group > 1) {
        wd[0] = c->group, wd[1] = c->oc / c->group, wd[2] = c->ic / c->group, wd[3] = c->kh,
        wd[4] = c->kw;
    } else {
        wd[0] = c->oc, wd[1] = c->ic, wd[2] = c->kh, wd[3] = c->kw;
    }
    /* oneDNN 2.6's blocked-layout kernels were seen to crash (a fault inside the JIT code)
     * on a 1x1 stride-2 convolution padded by 2; a pad as wide as the dilated kernel adds only
     * rows and columns of bias and is not something real models do */
    const int64_t ekh = (c->kh - 1) * c->dh + 1, ekw = (c->kw - 1) * c->dw + 1;
    if (variant != DNNL_PLAIN && (c->pt >= ekh || pb >= ekh || c->pl >= ekw || pr >= ekw)) {
        snprintf(why, why_len, "a pad as wide as the kernel (oneDNN 2.6 blocked kernels fault)");
        goto done;
    }
    stage = "engine";
    if ((ds = dnnl_engine_create(&s->eng, dnnl_cpu, 0))) goto fail;
    stage = "memory descriptors";
    const dnnl_format_tag_t user_tag = variant == DNNL_NHWC ? dnnl_nhwc : dnnl_nchw;
    /* NCHW16C layers store blocked what can be (channels a multiple of 16), the rest plain */
    const bool wino = variant == DNNL_WINO16;
    const bool b16 = variant == DNNL_NCHW16C || wino;
    const bool x16 = b16 && c->ic % 16 == 0;
    const bool y16 = b16 && c->oc % 16 == 0;
    if (b16 && (dt != dnnl_f32 || (!x16 && !y16))) {
        snprintf(why, why_len, "NCHW16C needs float32 and a channel count that is a multiple of "
                               "16");
        goto done;
    }
    if (wino) {
        const char *no = !x16 || !y16                         ? "input or output channels not a "
                                                                "multiple of 16"
                         : c->kh != 3 || c->kw != 3           ? "not a 3x3 kernel"
                         : c->sh != 1 || c->sw != 1           ? "stride is not 1"
                         : c->dh != 1 || c->dw != 1           ? "dilated"
                         : c->group != 1                      ? "grouped convolution"
                                                              : NULL;
        if (no) {
            snprintf(why, why_len, "%s (oneDNN's Winograd kernels)", no);
            goto done;
        }
    }
    const dnnl_format_tag_t x_tag = x16 ? dnnl_nChw16c : user_tag;
    const dnnl_format_tag_t y_tag = y16 ? dnnl_nChw16c : user_tag;
    /* the weights come as float32 (a bfloat16 layer's, widened exactly, from the float32
     * copy of the layer) and are reordered into dt; the bias stays float32 */
    if ((ds = dnnl_memory_desc_init_by_tag(&s->x_md, 4, xd, dt, x_tag)) ||
        (ds = dnnl_memory_desc_init_by_tag(&s->y_md, 4, yd, dt, y_tag)) ||
        (ds = dnnl_memory_desc_init_by_tag(&s->xc_md, 4, xd, dt,
                                           blocked ? dnnl_format_tag_any : x_tag)) ||
        (ds = dnnl_memory_desc_init_by_tag(&s->yc_md, 4, yd, dt,
                                           blocked ? dnnl_format_tag_any : y_tag)) ||
        (ds = dnnl_memory_desc_init_by_tag(&s->b_md, 1, bd, dnnl_f32, dnnl_x)) ||
        (ds = dnnl_memory_desc_init_by_tag(&wp_md, wr, wd, dnnl_f32,
                                           c->group > 1 ? dnnl_goihw : dnnl_oihw)) ||
        (ds = dnnl_memory_desc_init_by_tag(&w_any, wr, wd, dt, dnnl_format_tag_any)))
        goto fail;
    /* the activation is a post-op of the convolution; where oneDNN's Winograd kernels refuse
     * it (they take ReLU only), it runs after them, in place on the output */
    for (bool act_post = true;; act_post = false) {
        stage = "post-ops";
        if ((ds = dnnl_post_ops_create(&po))) goto fail;
        /* FusedConv is act(conv + b + z): the sum post-op adds what dst already holds (z) */
        if (s->has_z && (ds = dnnl_post_ops_append_sum(po, 1.0f))) goto fail;
        if (act_post && !lucid_dnnl_append_act(po, &c->act, why, why_len)) goto done;
        if (!(attr = lucid_dnnl_attr_create(po))) {
            ds = dnnl_out_of_memory;
            goto fail;
        }
        stage = "convolution descriptor";
        dnnl_convolution_desc_t cd;
        if ((ds = dnnl_dilated_convolution_forward_desc_init(
                 &cd, dnnl_forward_inference,
                 wino ? dnnl_convolution_winograd : dnnl_convolution_direct, &s->xc_md, &w_any,
                 s->has_bias ? &s->b_md : NULL, &s->yc_md, strides, dil, pad_l, pad_r)))
            goto fail;
        stage = "convolution primitive descriptor";
        ds = dnnl_primitive_desc_create(&s->pd, &cd, attr, s->eng, NULL);
        dnnl_primitive_attr_destroy(attr);
        dnnl_post_ops_destroy(po);
        attr = NULL, po = NULL;
        if (ds == dnnl_unimplemented && wino && act_post && c->act.kind != LUCID_ACT_NONE) {
            s->n_act = lucid_dnnl_act_steps(&c->act, s->act_step);
            if (s->n_act > 0) continue;
            s->n_act = 0;
        }
        if (ds) goto fail;
        break;
    }
    s->xc_md = *dnnl_primitive_desc_query_md(s->pd, dnnl_query_src_md, 0);
    s->yc_md = *dnnl_primitive_desc_query_md(s->pd, dnnl_query_dst_md, 0);
    s->w_md = dnnl_primitive_desc_query_md(s->pd, dnnl_query_weights_md, 0);
    s->scratch = lucid_dnnl_scratchpad_size(s->pd);
    for (int i = 0; i < s->n_act; i++) {
        stage = "activation descriptor";
        dnnl_eltwise_desc_t ed;
        if ((ds = dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, s->act_step[i].alg,
                                                 &s->yc_md, s->act_step[i].alpha,
                                                 s->act_step[i].beta)))
            goto fail;
        if (!(attr = lucid_dnnl_attr_create(NULL))) {
            ds = dnnl_out_of_memory;
            goto fail;
        }
        stage = "activation primitive descriptor";
        ds = dnnl_primitive_desc_create(&s->act_pd[i], &ed, attr, s->eng, NULL);
        dnnl_primitive_attr_destroy(attr);
        attr = NULL;
        if (ds) goto fail;
        size_t sp = lucid_dnnl_scratchpad_size(s->act_pd[i]);
        if (sp > s->scratch) s->scratch = sp;
    }
    s->need_x = !dnnl_memory_desc_equal(&s->x_md, &s->xc_md);
    s->need_y = !dnnl_memory_desc_equal(&s->y_md, &s->yc_md);
    if (b16) {
        /* oneDNN's reference kernel also takes blocked layouts, but is no tactic worth timing */
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(s->pd, dnnl_query_impl_info_str, 0, &impl) ==
                dnnl_success &&
            impl && strncmp(impl, "ref", 3) == 0) {
            snprintf(why, why_len, "oneDNN has only its reference kernel for NCHW16C here");
            goto done;
        }
    }
    if (blocked && !s->need_x && !s->need_y) {
        snprintf(why, why_len, "oneDNN keeps plain NCHW here; dnnl.conv.%s.nchw is this layer",
                 dt == dnnl_f32 ? "f32" : "bf16");
        goto done;
    }
    if (full) {
        stage = "weights reorder";
        if ((ds = lucid_dnnl_reorder_const(s->eng, &wp_md, lucid_op_input(g, n, 1)->data, s->w_md,
                                           &s->w)))
            goto fail;
        if (dt != dnnl_f32 && s->has_bias) {
            stage = "bias";
            const lucid_ir_tensor *b = lucid_op_input(g, n, 2);
            if (!b->data) {
                snprintf(why, why_len, "the bias is not a constant");
                goto done;
            }
            if (!(s->bias = malloc(sizeof(float) * (size_t)c->oc))) {
                ds = dnnl_out_of_memory;
                goto fail;
            }
            memcpy(s->bias, b->data, sizeof(float) * (size_t)c->oc);
        }
        stage = "convolution primitive";
        if ((ds = dnnl_primitive_create(&s->prim, s->pd))) goto fail;
        stage = "activation primitive";
        for (int i = 0; i < s->n_act; i++)
            if ((ds = dnnl_primitive_create(&s->act[i], s->act_pd[i]))) goto fail;
        stage = "activation reorders";
        if (s->need_x && (ds = make_reorder(s->eng, &s->x_md, &s->xc_md, &s->rx_pd, &s->rx,
                                            &s->scratch)))
            goto fail;
        if (s->need_y && s->has_z &&
            (ds = make_reorder(s->eng, &s->y_md, &s->yc_md, &s->rz_pd, &s->rz, &s->scratch)))
            goto fail;
        if (s->need_y && (ds = make_reorder(s->eng, &s->yc_md, &s->y_md, &s->ry_pd, &s->ry,
                                            &s->scratch)))
            goto fail;
        s->xc_bytes = s->need_x ? dnnl_memory_desc_get_size(&s->xc_md) : 0;
        s->yc_bytes = s->need_y ? dnnl_memory_desc_get_size(&s->yc_md) : 0;
    }
    ok = true;
    goto done;
fail:
    /* out of memory, lucid's or oneDNN's, is no refusal of the layer: the builder reports it */
    if (ds == dnnl_out_of_memory) snprintf(why, why_len, "%s", LUCID_WHY_OOM);
    else snprintf(why, why_len, "oneDNN %s: status %d", stage, (int)ds);
done:
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (po) dnnl_post_ops_destroy(po);
    lucid_dnnl_threads_set(old_threads);
    if (ok)
        *out = s;
    else
        dnnl_conv_release(s);
    return ok;
}

static bool dnnl_conv_supports_variant(const lucid_graph *g, const lucid_node *n, int variant,
                                       char *why, size_t why_len)
{
    dnnl_conv_state *s;
    /* the builder times with the plan's threads; 1 here only decides whether oneDNN takes it */
    if (!dnnl_conv_build(g, n, variant, dnnl_f32, false, 1, &s, why, why_len)) return false;
    dnnl_conv_release(s);
    return true;
}

/* bfloat16 layers: oneDNN is given the layer's float32 copy for its geometry and weights */
static bool dnnl_conv_bf16_build(const lucid_graph *g, const lucid_node *n, int variant, bool full,
                                 int max_threads, dnnl_conv_state **out, char *why,
                                 size_t why_len)
{
    *out = NULL;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if ((n->op != LUCID_OP_CONV && n->op != LUCID_OP_FUSED_CONV) || !x || !y) return false;
    if (x->dtype != LUCID_DTYPE_BFLOAT16 || y->dtype != LUCID_DTYPE_BFLOAT16) {
        snprintf(why, why_len, "only bfloat16");
        return false;
    }
    lucid_graph *sg = lucid_half_shadow_create(g, n, why, why_len);
    if (!sg) return false;
    bool ok = dnnl_conv_build(sg, &sg->nodes[0], variant, dnnl_bf16, full, max_threads, out, why,
                              why_len);
    lucid_graph_destroy(sg);
    return ok;
}

static bool dnnl_conv_bf16_supports_variant(const lucid_graph *g, const lucid_node *n,
                                            const lucid_cpu_features *cpu, int variant, char *why,
                                            size_t why_len)
{
    /* without AVX512-BF16 oneDNN 2.6 emulates bfloat16 dot products: not worth timing */
    if (!cpu->avx512_bf16) {
        snprintf(why, why_len, "needs AVX512-BF16");
        return false;
    }
    if (!lucid_dnnl_cap_ok(cpu, why, why_len)) return false;
    dnnl_conv_state *s;
    if (!dnnl_conv_bf16_build(g, n, variant, false, 1, &s, why, why_len)) return false;
    dnnl_conv_release(s);
    return true;
}

static bool dnnl_conv_bf16_nchw_supports(const lucid_graph *g, const lucid_node *n,
                                         const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    return dnnl_conv_bf16_supports_variant(g, n, cpu, DNNL_PLAIN, why, why_len);
}

static bool dnnl_conv_bf16_blocked_supports(const lucid_graph *g, const lucid_node *n,
                                            const lucid_cpu_features *cpu, char *why,
                                            size_t why_len)
{
    return dnnl_conv_bf16_supports_variant(g, n, cpu, DNNL_BLOCKED, why, why_len);
}

static bool dnnl_conv_bf16_nhwc_supports(const lucid_graph *g, const lucid_node *n,
                                         const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    return dnnl_conv_bf16_supports_variant(g, n, cpu, DNNL_NHWC, why, why_len);
}

static lucid_status dnnl_conv_bf16_prepare_variant(const lucid_graph *g, const lucid_node *n,
                                                   int variant, int max_threads, void **state,
                                                   lucid_error *err)
{
    char why[256] = "";
    dnnl_conv_state *s;
    if (!dnnl_conv_bf16_build(g, n, variant, true, max_threads, &s, why, sizeof why))
        return lucid_node_errorf(n, err, lucid_why_status(why), "%s", why);
    *state = s;
    return LUCID_STATUS_OK;
}

static lucid_status dnnl_conv_bf16_nchw_prepare(const lucid_graph *g, const lucid_node *n,
                                                int max_threads, void **state, lucid_error *err)
{
    return dnnl_conv_bf16_prepare_variant(g, n, DNNL_PLAIN, max_threads, state, err);
}

static lucid_status dnnl_conv_bf16_blocked_prepare(const lucid_graph *g, const lucid_node *n,
                                                   int max_threads, void **state,
                                                   lucid_error *err)
{
    return dnnl_conv_bf16_prepare_variant(g, n, DNNL_BLOCKED, max_threads, state, err);
}

static lucid_status dnnl_conv_bf16_nhwc_prepare(const lucid_graph *g, const lucid_node *n,
                                                int max_threads, void **state, lucid_error *err)
{
    return dnnl_conv_bf16_prepare_variant(g, n, DNNL_NHWC, max_threads, state, err);
}

static lucid_status dnnl_conv_prepare_variant(const lucid_graph *g, const lucid_node *n,
                                              int variant, int max_threads, void **state,
                                              lucid_error *err)
{
    char why[256] = "";
    dnnl_conv_state *s;
    if (!dnnl_conv_build(g, n, variant, dnnl_f32, true, max_threads, &s, why, sizeof why))
        return lucid_node_errorf(n, err, lucid_why_status(why), "%s", why);
    *state = s;
    return LUCID_STATUS_OK;
}

/* supports and prepare of the float32 tactic for one variant */
#define DNNL_CONV_F32_HOOKS(NAME, VARIANT)                                                     \
    static bool dnnl_conv_##NAME##_supports(const lucid_graph *g, const lucid_node *n,          \
                                            const lucid_cpu_features *cpu, char *why,          \
                                            size_t why_len)                                    \
    {                                                                                          \
        if (!lucid_dnnl_cap_ok(cpu, why, why_len)) return false;                               \
        return dnnl_conv_supports_variant(g, n, VARIANT, why, why_len);                        \
    }                                                                                          \
    static lucid_status dnnl_conv_##NAME##_prepare(const lucid_graph *g, const lucid_node *n,  \
                                                   int max_threads, void **state,              \
                                                   lucid_error *err)                           \
    {                                                                                          \
        return dnnl_conv_prepare_variant(g, n, VARIANT, max_threads, state, err);              \
    }

DNNL_CONV_F32_HOOKS(nchw, DNNL_PLAIN)
DNNL_CONV_F32_HOOKS(blocked, DNNL_BLOCKED)
DNNL_CONV_F32_HOOKS(nhwc, DNNL_NHWC)
DNNL_CONV_F32_HOOKS(nchw16c, DNNL_NCHW16C)
DNNL_CONV_F32_HOOKS(wino16, DNNL_WINO16)

/* workspace: [scratchpad | input in xc layout | output in yc layout], 64-byte slices */
static size_t dnnl_conv_workspace(const void *state, int threads)
{
    (void)threads;
    const dnnl_conv_state *s = state;
    return lucid_dnnl_round(s->scratch) + lucid_dnnl_round(s->xc_bytes) +
           lucid_dnnl_round(s->yc_bytes);
}

/* argument slots of the executions in lucid_dnnl_handles */
enum { SLOT_RX = 0, SLOT_RZ = 3, SLOT_CONV = 6, SLOT_ACT = 11, SLOT_RY = 17 };

static lucid_status dnnl_conv_run_bound(const void *state, void *bound, const lucid_array *in,
                                        int n_in, lucid_array *out, int n_out, void *workspace,
                                        lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    const dnnl_conv_state *s = state;
    char *ws = workspace;
    void *scratch = ws;
    void *xc = ws + lucid_dnnl_round(s->scratch);
    void *yc = (char *)xc + lucid_dnnl_round(s->xc_bytes);
    void *x = in[0].data, *y = out[0].data;
    void *b = s->bias ? s->bias : s->has_bias && n_in > 2 ? in[2].data : NULL;
    void *z = s->has_z && n_in > 3 ? in[3].data : NULL;
    void *conv_x = s->need_x ? xc : x, *conv_y = s->need_y ? yc : y;
    int old = lucid_dnnl_threads_set(lucid_threadpool_size(pool));
    lucid_dnnl_handles *h = bound;
    dnnl_stream_t st = NULL, made = NULL;
    dnnl_status_t ds = lucid_dnnl_stream(s->eng, h, &st, &made);
    const char *what = "stream";
    const dnnl_memory_desc_t *smd;
    if (ds == dnnl_success && s->need_x) {
        what = "input reorder";
        smd = dnnl_primitive_desc_query_md(s->rx_pd, dnnl_query_scratchpad_md, 0);
        lucid_dnnl_arg a[] = {{DNNL_ARG_FROM, &s->x_md, x},
                              {DNNL_ARG_TO, &s->xc_md, xc},
                              {DNNL_ARG_SCRATCHPAD, smd, scratch}};
        ds = lucid_dnnl_execute(s->eng, st, h, SLOT_RX, s->rx, a, 3);
    }
    if (ds == dnnl_success && z) {
        /* the sum post-op reads the residual from dst */
        what = "residual reorder";
        if (s->need_y) {
            smd = dnnl_primitive_desc_query_md(s->rz_pd, dnnl_query_scratchpad_md, 0);
            lucid_dnnl_arg a[] = {{DNNL_ARG_FROM, &s->y_md, z},
                                  {DNNL_ARG_TO, &s->yc_md, yc},
                                  {DNNL_ARG_SCRATCHPAD, smd, scratch}};
            ds = lucid_dnnl_execute(s->eng, st, h, SLOT_RZ, s->rz, a, 3);
        } else if (z != y) {
            memcpy(y, z, out[0].nbytes);
        }
    }
    if (ds == dnnl_success) {
        what = "convolution";
        smd = dnnl_primitive_desc_query_md(s->pd, dnnl_query_scratchpad_md, 0);
        lucid_dnnl_arg a[5] = {{DNNL_ARG_SRC, &s->xc_md, conv_x},
                               {DNNL_ARG_WEIGHTS, s->w_md, s->w},
                               {DNNL_ARG_DST, &s->yc_md, conv_y},
                               {DNNL_ARG_SCRATCHPAD, smd, scratch},
                               {DNNL_ARG_BIAS, &s->b_md, b}};
        ds = lucid_dnnl_execute(s->eng, st, h, SLOT_CONV, s->prim, a, b ? 5 : 4);
    }
    for (int i = 0; i < s->n_act && ds == dnnl_success; i++) {
        what = "activation";
        smd = dnnl_primitive_desc_query_md(s->act_pd[i], dnnl_query_scratchpad_md, 0);
        lucid_dnnl_arg a[] = {{DNNL_ARG_SRC, &s->yc_md, conv_y},
                              {DNNL_ARG_DST, &s->yc_md, conv_y},
                              {DNNL_ARG_SCRATCHPAD, smd, scratch}};
        ds = lucid_dnnl_execute(s->eng, st, h, SLOT_ACT + 3 * i, s->act[i], a, 3);
    }
    if (ds == dnnl_success && s->need_y) {
        what = "output reorder";
        smd = dnnl_primitive_desc_query_md(s->ry_pd, dnnl_query_scratchpad_md, 0);
        lucid_dnnl_arg a[] = {{DNNL_ARG_FROM, &s->yc_md, yc},
                              {DNNL_ARG_TO, &s->y_md, y},
                              {DNNL_ARG_SCRATCHPAD, smd, scratch}};
        ds = lucid_dnnl_execute(s->eng, st, h, SLOT_RY, s->ry, a, 3);
    }
    if (made) dnnl_stream_destroy(made);
    lucid_dnnl_threads_set(old);
    return ds == dnnl_success ? LUCID_STATUS_OK : lucid_dnnl_error(err, what, ds);
}
LUCID_DNNL_UNBOUND_RUN(dnnl_conv_run, dnnl_conv_run_bound)

#define DNNL_CONV_TACTIC(SYM, NAME, PREF, LAYOUT, PRECISION, SUP, PREP)                            \
    const lucid_tactic lucid_tactic_##SYM = {                                                      \
        .name = NAME,                                                                              \
        .backend = "dnnl",                                                                         \
        .flags = LUCID_TACTIC_THREAD_DEPENDENT | LUCID_TACTIC_RESIDUAL_INPLACE,                    \
        .preference = PREF,                                                                        \
        .in_layout = LAYOUT,                                                                       \
        .out_layout = LAYOUT,                                                                      \
        .precision = PRECISION,                                                                    \
        .supports = SUP,                                                                           \
        .prepare = PREP,                                                                           \
        .release = dnnl_conv_release,                                                              \
        .workspace = dnnl_conv_workspace,                                                          \
        .run = dnnl_conv_run,                                                                      \
        .bind = lucid_dnnl_bind,                                                                   \
        .unbind = lucid_dnnl_unbind,                                                               \
        .run_bound = dnnl_conv_run_bound,                                                          \
    };
#define DNNL_CONV_F32_TACTIC(SYM, NAME, PREF, LAYOUT, HOOKS)                                   \
    DNNL_CONV_TACTIC(SYM, NAME, PREF, LAYOUT, LUCID_PRECISION_FP32,                            \
                     dnnl_conv_##HOOKS##_supports, dnnl_conv_##HOOKS##_prepare)
#define DNNL_CONV_BF16_TACTIC(SYM, NAME, PREF, LAYOUT, SUP, PREP)                              \
    DNNL_CONV_TACTIC(SYM, NAME, PREF, LAYOUT, LUCID_PRECISION_BF16, SUP, PREP)

DNNL_CONV_F32_TACTIC(dnnl_conv_f32_nchw, "dnnl.conv.f32.nchw", 400, LUCID_LAYOUT_PLAIN, nchw)
DNNL_CONV_F32_TACTIC(dnnl_conv_f32_blocked_reorder, "dnnl.conv.f32.blocked_reorder", 401,
                     LUCID_LAYOUT_PLAIN, blocked)
DNNL_CONV_F32_TACTIC(dnnl_conv_f32_nhwc, "dnnl.conv.f32.nhwc", 402, LUCID_LAYOUT_NHWC, nhwc)
DNNL_CONV_F32_TACTIC(dnnl_conv_f32_nchw16c, "dnnl.conv.f32.nchw16c", 403, LUCID_LAYOUT_NCHW16C,
                     nchw16c)
DNNL_CONV_F32_TACTIC(dnnl_conv_f32_winograd_nchw16c, "dnnl.conv.f32.winograd.nchw16c", 404,
                     LUCID_LAYOUT_NCHW16C, wino16)

DNNL_CONV_BF16_TACTIC(dnnl_conv_bf16_nchw, "dnnl.conv.bf16.nchw", 410, LUCID_LAYOUT_PLAIN,
                      dnnl_conv_bf16_nchw_supports, dnnl_conv_bf16_nchw_prepare)
DNNL_CONV_BF16_TACTIC(dnnl_conv_bf16_blocked_reorder, "dnnl.conv.bf16.blocked_reorder", 411,
                      LUCID_LAYOUT_PLAIN, dnnl_conv_bf16_blocked_supports,
                      dnnl_conv_bf16_blocked_prepare)
DNNL_CONV_BF16_TACTIC(dnnl_conv_bf16_nhwc, "dnnl.conv.bf16.nhwc", 412, LUCID_LAYOUT_NHWC,
                      dnnl_conv_bf16_nhwc_supports, dnnl_conv_bf16_nhwc_prepare)

#endif
