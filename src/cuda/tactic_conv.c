/* tactic_conv.c - 2-D convolution on the GPU: cuDNN with each forward algorithm as its own
 * tactic (then lucid's epilogue kernel for bias, residual and activation), cuDNN's fused
 * convolution + bias (+ residual) + ReLU, and lucid's own depthwise kernel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_common.h"
#include "ops/conv.h"
#include "ops/op.h"

typedef struct conv_state {
    lucid_dconv c;
    lc_type t;
    bool cba; /* cudnnConvolutionBiasActivationForward */
    bool has_bias, has_z;
    bool nhwc; /* the plan stores activations channels-last */
    cudnnTensorDescriptor_t xd, yd, bd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    cudnnActivationDescriptor_t ad;
    cudnnConvolutionFwdAlgo_t algo;
    size_t ws;
    void *w;       /* weights in the tactic's type (cuDNN) or float32 (depthwise) */
    float *bias;   /* float32, for lucid's epilogue */
    void *bias_t;  /* in the tactic's type, for cuDNN's fused form */
} conv_state;

static void conv_release(void *p)
{
    conv_state *s = p;
    if (!s) return;
    if (s->xd) cudnnDestroyTensorDescriptor(s->xd);
    if (s->yd) cudnnDestroyTensorDescriptor(s->yd);
    if (s->bd) cudnnDestroyTensorDescriptor(s->bd);
    if (s->wd) cudnnDestroyFilterDescriptor(s->wd);
    if (s->cd) cudnnDestroyConvolutionDescriptor(s->cd);
    if (s->ad) cudnnDestroyActivationDescriptor(s->ad);
    if (s->w) cudaFree(s->w);
    if (s->bias) cudaFree(s->bias);
    if (s->bias_t) cudaFree(s->bias_t);
    free(s);
}

static size_t conv_workspace(const void *p, int threads)
{
    (void)threads;
    return ((const conv_state *)p)->ws;
}

static bool conv_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                          char *why, size_t why_len)
{
    (void)cpu;
    if (n->op != LUCID_OP_CONV && n->op != LUCID_OP_FUSED_CONV) {
        snprintf(why, why_len, "not a convolution");
        return false;
    }
    lucid_dconv c;
    if (!lucid_dconv_resolve(g, n, &c, why, why_len)) return false;
    return lucid_cuda_all_float(g, n, why, why_len);
}

static cudnnDataType_t cudnn_type(lc_type t)
{
    return t == LC_F16 ? CUDNN_DATA_HALF : t == LC_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

/* uploads bias (float32 and, for cuDNN's fused form, the tactic's type; zeros when absent) */
static lucid_status upload_bias(conv_state *s, const lucid_ir_tensor *b, bool typed,
                                lucid_error *err)
{
    int64_t oc = s->c.oc;
    float *zeros = NULL;
    const float *src = b ? b->data : NULL;
    if (!src) {
        zeros = calloc((size_t)oc, sizeof *zeros);
        if (!zeros) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        src = zeros;
    }
    lucid_status st = lucid_cuda_upload_floats(src, oc, LC_F32, (void **)&s->bias, err);
    if (!st && typed) st = lucid_cuda_upload_floats(src, oc, s->t, &s->bias_t, err);
    free(zeros);
    return st;
}

/* The weights [oc][icg][kh][kw] in order `to`: 0 as they are, 1 [oc][kh][kw][icg] (cuDNN's
 * NHWC filters, KRSC), 2 [kh][kw][icg][oc] (lucid's NHWC direct kernel), uploaded as type t. */
static lucid_status upload_weights(const lucid_dconv *c, const lucid_ir_tensor *w, int to,
                                   lc_type t, void **dst, lucid_error *err)
{
    int64_t n = lucid_tensor_numel(w);
    if (to == 0) return lucid_cuda_upload_floats(w->data, n, t, dst, err);
    const float *src = w->data;
    float *tmp = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!tmp) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    int64_t icg = c->ic / c->group, kh = c->kh, kw = c->kw, oc = c->oc;
    for (int64_t k = 0; k < oc; k++)
        for (int64_t j = 0; j < icg; j++)
            for (int64_t r = 0; r < kh; r++)
                for (int64_t q = 0; q < kw; q++) {
                    float v = src[((k * icg + j) * kh + r) * kw + q];
                    if (to == 1) tmp[((k * kh + r) * kw + q) * icg + j] = v;
                    else tmp[((r * kw + q) * icg + j) * oc + k] = v;
                }
    lucid_status st = lucid_cuda_upload_floats(tmp, n, t, dst, err);
    free(tmp);
    return st;
}

static lucid_status cudnn_conv_prepare(const lucid_tactic *t, const lucid_graph *g,
                                       const lucid_node *n, void *devp, void **out,
                                       lucid_error *err)
{
    lucid_cuda_dev *dev = devp;
    char why[160];
    *out = NULL;
    conv_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!lucid_dconv_resolve(g, n, &s->c, why, sizeof why)) {
        free(s);
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    const lucid_dconv *c = &s->c;
    s->t = lucid_cuda_type(t->precision);
    s->cba = strstr(t->name, "conv_bias_act") != NULL;
    s->algo = (cudnnConvolutionFwdAlgo_t)t->variant;
    s->has_bias = lucid_op_input(g, n, 2) != NULL;
    s->has_z = c->fused && lucid_op_input(g, n, 3) != NULL;
    lucid_status st = LUCID_STATUS_OK;
    if (s->cba) {
        /* cuDNN fuses ReLU, or no activation with the precomputed implicit GEMM only */
        if (c->act.kind != LUCID_ACT_RELU && c->act.kind != LUCID_ACT_NONE) {
            st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                              "cuDNN's fused form applies ReLU or nothing, not this activation");
        } else if (c->act.kind == LUCID_ACT_NONE &&
                   s->algo != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) {
            st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                              "cuDNN's fused form without activation needs implicit_precomp_gemm");
        }
        if (st) goto fail;
    }
    int dt = cudnn_type(s->t);
    s->nhwc = dev->nhwc;
    cudnnTensorFormat_t fmt = s->nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    st = lucid_cudnn_check(cudnnCreateTensorDescriptor(&s->xd), err, "cudnnCreateTensorDescriptor");
    if (!st) st = lucid_cudnn_check(cudnnCreateTensorDescriptor(&s->yd), err, "cudnnCreateTensorDescriptor");
    if (!st) st = lucid_cudnn_check(cudnnCreateTensorDescriptor(&s->bd), err, "cudnnCreateTensorDescriptor");
    if (!st) st = lucid_cudnn_check(cudnnCreateFilterDescriptor(&s->wd), err, "cudnnCreateFilterDescriptor");
    if (!st) st = lucid_cudnn_check(cudnnCreateConvolutionDescriptor(&s->cd), err, "cudnnCreateConvolutionDescriptor");
    if (!st) st = lucid_cudnn_check(cudnnCreateActivationDescriptor(&s->ad), err, "cudnnCreateActivationDescriptor");
    if (!st) st = lucid_cudnn_check(cudnnSetTensor4dDescriptor(s->xd, fmt, dt, (int)c->batch, (int)c->ic, (int)c->ih, (int)c->iw), err, "x descriptor");
    if (!st) st = lucid_cudnn_check(cudnnSetTensor4dDescriptor(s->yd, fmt, dt, (int)c->batch, (int)c->oc, (int)c->oh, (int)c->ow), err, "y descriptor");
    if (!st) st = lucid_cudnn_check(cudnnSetTensor4dDescriptor(s->bd, fmt, dt, 1, (int)c->oc, 1, 1), err, "bias descriptor");
    if (!st) st = lucid_cudnn_check(cudnnSetFilter4dDescriptor(s->wd, dt, fmt, (int)c->oc, (int)(c->ic / c->group), (int)c->kh, (int)c->kw), err, "filter descriptor");
    if (!st) st = lucid_cudnn_check(cudnnSetConvolution2dDescriptor(s->cd, (int)c->pt, (int)c->pl, (int)c->sh, (int)c->sw, (int)c->dh, (int)c->dw, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), err, "convolution descriptor");
    if (!st) st = lucid_cudnn_check(cudnnSetConvolutionGroupCount(s->cd, (int)c->group), err, "group count");
    /* fp32: no tensor cores at all (no TF32); tf32: TF32 allowed; 16-bit: tensor cores */
    cudnnMathType_t math = s->t != LC_F32                 ? CUDNN_TENSOR_OP_MATH
                           : (t->flags & LUCID_TACTIC_TF32) ? CUDNN_DEFAULT_MATH
                                                            : CUDNN_FMA_MATH;
    if (!st) st = lucid_cudnn_check(cudnnSetConvolutionMathType(s->cd, math), err, "math type");
    if (!st) st = lucid_cudnn_check(cudnnSetActivationDescriptor(s->ad, c->act.kind == LUCID_ACT_RELU ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY, CUDNN_NOT_PROPAGATE_NAN, 0.0), err, "activation descriptor");
    if (st) goto fail;
    int on, oc, oh, ow;
    st = lucid_cudnn_check(cudnnGetConvolution2dForwardOutputDim(s->cd, s->xd, s->wd, &on, &oc, &oh, &ow), err, "output dims");
    if (st) goto fail;
    if (oh != c->oh || ow != c->ow) {
        st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                          "asymmetric padding (cuDNN pads both sides alike)");
        goto fail;
    }
    st = lucid_cudnn_check(cudnnGetConvolutionForwardWorkspaceSize(dev->cudnn, s->xd, s->wd, s->cd, s->yd, s->algo, &s->ws), err, "this algorithm");
    if (st) goto fail;
    if (s->ws > ((size_t)1 << 30)) {
        st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED, "needs %zu MiB of workspace (limit 1 GiB)",
                          s->ws >> 20);
        goto fail;
    }
    if (dev->deterministic) {
        /* cuDNN reports each algorithm's determinism for this layer */
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int got = 0;
        st = lucid_cudnn_check(cudnnGetConvolutionForwardAlgorithm_v7(dev->cudnn, s->xd, s->wd, s->cd, s->yd, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf), err, "algorithm query");
        if (st) goto fail;
        for (int i = 0; i < got; i++)
            if (perf[i].algo == s->algo && perf[i].determinism == CUDNN_NON_DETERMINISTIC) {
                st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                                  "cuDNN reports this algorithm non-deterministic here "
                                  "(deterministic build)");
                goto fail;
            }
    }
    st = upload_weights(c, lucid_op_input(g, n, 1), s->nhwc ? 1 : 0, s->t, &s->w, err);
    if (!st) st = upload_bias(s, lucid_op_input(g, n, 2), s->cba, err);
    if (st) goto fail;
    *out = s;
    return LUCID_STATUS_OK;
fail:
    conv_release(s);
    return st;
}

static lucid_status cudnn_conv_run(const void *p, const lucid_array *in, int n_in,
                                   lucid_array *out, int n_out, void *work, void *stream,
                                   lucid_error *err)
{
    const conv_state *s = p;
    const lucid_cuda_stream *cs = stream;
    const float one = 1.0f, zero = 0.0f;
    const void *z = s->has_z && n_in > 3 ? in[3].data : NULL;
    lucid_status st;
    if (s->cba) {
        /* y = act(conv(x) + 1 * z + bias); without z, z aliases y with weight 0 */
        const float alpha2 = z ? 1.0f : 0.0f;
        st = lucid_cudnn_check(cudnnConvolutionBiasActivationForward(
                                   cs->cudnn, &one, s->xd, in[0].data, s->wd, s->w, s->cd, s->algo,
                                   work, s->ws, &alpha2, s->yd, z ? z : out[0].data, s->bd,
                                   s->bias_t, s->ad, s->yd, out[0].data),
                               err, "cudnnConvolutionBiasActivationForward");
        return st;
    }
    st = lucid_cudnn_check(cudnnConvolutionForward(cs->cudnn, &one, s->xd, in[0].data, s->wd, s->w,
                                                   s->cd, s->algo, work, s->ws, &zero, s->yd,
                                                   out[0].data),
                           err, "cudnnConvolutionForward");
    if (st) return st;
    if (!s->has_bias && !z && s->c.act.kind == LUCID_ACT_NONE) return LUCID_STATUS_OK;
    const char *why = NULL;
    lc_epilogue_args a = {.t = s->t, .x = out[0].data, .y = out[0].data,
                          .bias = s->has_bias ? s->bias : NULL, .z = z,
                          .n = s->c.batch * s->c.oc * s->c.oh * s->c.ow, .channels = s->c.oc,
                          .inner = s->nhwc ? 1 : s->c.oh * s->c.ow, .act = s->c.act.kind,
                          .alpha = s->c.act.alpha, .beta = s->c.act.beta};
    return lucid_kernel_check(lc_epilogue(&a, cs->stream, &why), why, err, "epilogue");
}

/* ---- lucid's depthwise kernel ---- */

static bool dw_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                        char *why, size_t why_len)
{
    if (!conv_supports(g, n, cpu, why, why_len)) return false;
    lucid_dconv c;
    lucid_dconv_resolve(g, n, &c, why, why_len);
    if (c.group != c.ic || c.group == 1) {
        snprintf(why, why_len, "not depthwise (group %lld, %lld input channels)",
                 (long long)c.group, (long long)c.ic);
        return false;
    }
    return true;
}

/* lucid's direct kernel for convolutions that are not depthwise: the fallback of
 * channels-last plans where cuDNN has no NHWC kernel for few input channels (an RGB stem) */
static bool direct_supports(const lucid_graph *g, const lucid_node *n,
                            const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!conv_supports(g, n, cpu, why, why_len)) return false;
    lucid_dconv c;
    lucid_dconv_resolve(g, n, &c, why, why_len);
    if (c.group == c.ic && c.group > 1) {
        snprintf(why, why_len, "depthwise (cuda.own.conv.depthwise runs it)");
        return false;
    }
    if ((c.ic / c.group) % 8 == 0) {
        snprintf(why, why_len, "%lld input channels per group, a multiple of 8: cuDNN's",
                 (long long)(c.ic / c.group));
        return false;
    }
    return true;
}

static lucid_status dw_prepare(const lucid_tactic *t, const lucid_graph *g, const lucid_node *n,
                               void *devp, void **out, lucid_error *err)
{
    const lucid_cuda_dev *dev = devp;
    char why[160];
    *out = NULL;
    conv_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!lucid_dconv_resolve(g, n, &s->c, why, sizeof why)) {
        free(s);
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    s->t = lucid_cuda_type(t->precision);
    s->nhwc = dev->nhwc;
    if (t->variant == 1 && !s->nhwc) {
        free(s);
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "NCHW plan: cuDNN runs every dense convolution");
    }
    s->has_bias = lucid_op_input(g, n, 2) != NULL;
    s->has_z = s->c.fused && lucid_op_input(g, n, 3) != NULL;
    lucid_status st = upload_weights(&s->c, lucid_op_input(g, n, 1), s->nhwc ? 2 : 0, LC_F32,
                                     &s->w, err);
    if (!st) st = upload_bias(s, lucid_op_input(g, n, 2), false, err);
    if (st) {
        conv_release(s);
        return st;
    }
    *out = s;
    return LUCID_STATUS_OK;
}

static lucid_status dw_run(const void *p, const lucid_array *in, int n_in, lucid_array *out,
                           int n_out, void *work, void *stream, lucid_error *err)
{
    const conv_state *s = p;
    const lucid_dconv *c = &s->c;
    const char *why = NULL;
    lc_dwconv_args a = {.t = s->t, .x = in[0].data, .y = out[0].data, .w = s->w,
                        .bias = s->has_bias ? s->bias : NULL,
                        .z = s->has_z && n_in > 3 ? in[3].data : NULL,
                        .batch = c->batch, .ic = c->ic, .oc = c->oc, .ih = c->ih, .iw = c->iw,
                        .oh = c->oh, .ow = c->ow, .kh = c->kh, .kw = c->kw, .sh = c->sh,
                        .sw = c->sw, .dh = c->dh, .dw = c->dw, .pt = c->pt, .pl = c->pl,
                        .act = c->act.kind, .alpha = c->act.alpha, .beta = c->act.beta,
                        .group = c->group, .nhwc = s->nhwc};
    return lucid_kernel_check(lc_dwconv(&a, ((const lucid_cuda_stream *)stream)->stream, &why),
                              why, err, "direct conv");
}

/* ---- the tactic table: every cuDNN algorithm in every precision ---- */

#define CONV_PREC_fp32 LUCID_PRECISION_FP32, 0
#define CONV_PREC_tf32 LUCID_PRECISION_FP32, LUCID_TACTIC_TF32
#define CONV_PREC_fp16 LUCID_PRECISION_FP16, 0
#define CONV_PREC_bf16 LUCID_PRECISION_BF16, 0
#define CONV_PREC_ARGS(p) CONV_PREC_##p

#define CONV_TACTIC(prec, aname, algo)                                                          \
    LUCID_CUDA_TACTIC_P(cuda_conv_##prec##_##aname, "cuda.cudnn.conv." #prec "." #aname,        \
                        CONV_PREC_ARGS(prec), 10 + algo, algo, conv_supports, cudnn_conv_prepare, \
                        conv_release, conv_workspace, cudnn_conv_run)                           \
    LUCID_CUDA_TACTIC_P(cuda_cba_##prec##_##aname,                                              \
                        "cuda.cudnn.conv_bias_act." #prec "." #aname, CONV_PREC_ARGS(prec),     \
                        algo, algo, conv_supports, cudnn_conv_prepare, conv_release,            \
                        conv_workspace, cudnn_conv_run)
#define CONV_TACTIC_ALGO(prec)                                                                  \
    CONV_TACTIC(prec, implicit_gemm, 0)                                                         \
    CONV_TACTIC(prec, implicit_precomp_gemm, 1)                                                 \
    CONV_TACTIC(prec, gemm, 2)                                                                  \
    CONV_TACTIC(prec, direct, 3)                                                                \
    CONV_TACTIC(prec, fft, 4)                                                                   \
    CONV_TACTIC(prec, fft_tiling, 5)                                                            \
    CONV_TACTIC(prec, winograd, 6)                                                              \
    CONV_TACTIC(prec, winograd_nonfused, 7)

CONV_TACTIC_ALGO(fp32)
CONV_TACTIC_ALGO(tf32)
CONV_TACTIC_ALGO(fp16)
CONV_TACTIC_ALGO(bf16)

#define DW_TACTIC(prec)                                                                         \
    LUCID_CUDA_TACTIC_P(cuda_dwconv_##prec, "cuda.own.conv.depthwise." #prec,                   \
                        CONV_PREC_ARGS(prec), 0, 0, dw_supports, dw_prepare, conv_release,      \
                        lucid_tactic_no_workspace, dw_run)                                      \
    LUCID_CUDA_TACTIC_P(cuda_dconv_##prec, "cuda.own.conv.direct." #prec,                       \
                        CONV_PREC_ARGS(prec), 30, 1, direct_supports, dw_prepare, conv_release, \
                        lucid_tactic_no_workspace, dw_run)
DW_TACTIC(fp32)
DW_TACTIC(fp16)
DW_TACTIC(bf16)
