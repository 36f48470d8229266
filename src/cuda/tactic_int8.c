/* tactic_int8.c - INT8 on the GPU: lucid's QConv and QGemm layers (src/ops/qconv.c defines
 * them), QuantizeLinear, DequantizeLinear and max pooling on quantized tensors. An int8 GPU
 * plan stores its other float tensors in float16 (the tactics here are fp16 tactics: their
 * float inputs and outputs are half) and every 4-D tensor channels-last.
 *
 * The integer products:
 * - cuda.qconv.int8.lt_h0 / _h1: an ungrouped QConv (im2col of the int8 input into the
 *   workspace, skipped for a 1x1 stride-1 window on signed input) or a QGemm as one cuBLASLt
 *   int8 GEMM on tensor cores with int32 results (exact), cuBLASLt's first two heuristic
 *   choices; then lucid's epilogue kernel (scales, bias, residual, activation,
 *   requantization);
 * - cuda.qconv.int8.lt_fused_h0 / _h1: the same GEMM with cuBLASLt's own epilogue writing the
 *   int8 output (per-row float scale vector, float bias, the int8 residual as C with a scalar
 *   beta, Relu), where the output is signed int8 and the activation Relu or none;
 * - cuda.qconv.int8.direct: lucid's direct kernel for any QConv or QGemm (the depthwise and
 *   grouped convolutions cuBLASLt cannot take), the epilogue fused.
 * cuBLASLt multiplies signed int8 only, and GPU plans quantize every activation signed. A
 * uint8 input (an explicitly quantized model's) is written shifted by -128 by the im2col
 * kernel, padding and all, and the 128 times the weights' sum this takes off each output
 * channel is added back to the integer sum (the "correction"; the fused form adds its share to
 * the bias); rows are padded to 16 values. cuDNN 9's int8 convolution (the legacy API's
 * INT8_EXT configuration) is not a tactic: on an H200 it ran Fashion-MNIST ResNet's first
 * layer in 11.6 ms against 0.006 ms for the direct kernel
 * (bench/results/2026-11-27-gpu-h200-int8-cudnn-probe.txt). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_common.h"
#include "ops/conv.h"
#include "ops/activation.h"
#include "ops/op.h"
#include "ops/pool.h"
#include "ops/qlayers.h"

#define Q8_ALIGN 256
#define Q8_LT_WORKSPACE ((size_t)32 << 20)

/* The window fields lc_q8_im2col_args and lc_q8_dconv_args share, from a convolution's
 * geometry, as designated initializers */
#define Q8_WINDOW(c)                                                                               \
    .ih = (c)->in[0], .iw = (c)->in[1], .oh = (c)->out[0], .ow = (c)->out[1], .kh = (c)->k[0],     \
    .kw = (c)->k[1], .sh = (c)->s[0], .sw = (c)->s[1], .dh = (c)->d[0], .dw = (c)->d[1],           \
    .pt = (c)->pb[0], .pl = (c)->pb[1]

static size_t q8_round(size_t b)
{
    return (b + Q8_ALIGN - 1) / Q8_ALIGN * Q8_ALIGN;
}

static bool refuse(char *why, size_t len, const char *msg)
{
    snprintf(why, len, "%s", msg);
    return false;
}

static bool is_q8(lucid_dtype t)
{
    return t == LUCID_DTYPE_INT8 || t == LUCID_DTYPE_UINT8;
}

static int q8_kind(lucid_dtype t)
{
    return t == LUCID_DTYPE_UINT8 ? 3 : t == LUCID_DTYPE_INT8 ? 2 : 1;
}

/* a constant float32 scalar input, or false */
static bool const_f32(const lucid_graph *g, const lucid_node *n, int i, float *v)
{
    const lucid_ir_tensor *t = lucid_op_input(g, n, i);
    if (!t || !t->data || t->dtype != LUCID_DTYPE_FLOAT || lucid_tensor_numel(t) != 1) return false;
    *v = *(const float *)t->data;
    return true;
}

/* an optional constant int8 / uint8 zero point (0 when absent), or false */
static bool const_zp(const lucid_graph *g, const lucid_node *n, int i, int32_t *v)
{
    const lucid_ir_tensor *t = lucid_op_input(g, n, i);
    *v = 0;
    if (!t) return true;
    if (!t->data || !is_q8(t->dtype) || lucid_tensor_numel(t) != 1) return false;
    *v = t->dtype == LUCID_DTYPE_UINT8 ? (int32_t) * (const uint8_t *)t->data
                                       : (int32_t) * (const int8_t *)t->data;
    return true;
}

/* ---- QConv and QGemm: what every int8 tactic reads from the node ---------------------- */

typedef struct q8_layer {
    bool conv;
    lucid_conv_geom geo; /* QConv */
    int64_t rows, k, m;  /* as one product: rows x k input, m output channels */
    lc_q8 xq;
    int32_t x_zp;
    float x_scale;
    const lucid_ir_tensor *w, *ws, *b;
    int z_kind;
    float z_scale;
    int32_t z_zp;
    int y_kind;
    float y_scale;
    int32_t y_zp;
    lucid_activation act;
} q8_layer;

static bool q8_resolve(const lucid_graph *g, const lucid_node *n, q8_layer *L, char *why,
                       size_t len)
{
    memset(L, 0, sizeof *L);
    if (n->op != LUCID_OP_QCONV && n->op != LUCID_OP_QGEMM)
        return refuse(why, len, "not a QConv or QGemm");
    L->conv = n->op == LUCID_OP_QCONV;
    const lucid_ir_tensor *x = lucid_op_input(g, n, LUCID_QIN_X), *y = lucid_op_output(g, n, 0);
    L->w = lucid_op_input(g, n, LUCID_QIN_W);
    L->ws = lucid_op_input(g, n, LUCID_QIN_W_SCALE);
    L->b = lucid_op_input(g, n, LUCID_QIN_B);
    if (!x || !y || !is_q8(x->dtype) || !lucid_tensor_shape_known(x) ||
        !lucid_tensor_shape_known(y))
        return refuse(why, len, "needs an int8 or uint8 input of static shape");
    if (!L->w || !L->w->data || L->w->dtype != LUCID_DTYPE_INT8 || !L->ws || !L->ws->data ||
        L->ws->dtype != LUCID_DTYPE_FLOAT)
        return refuse(why, len, "needs constant int8 weights and float32 weight scales");
    if (L->b && (!L->b->data || L->b->dtype != LUCID_DTYPE_FLOAT))
        return refuse(why, len, "needs a constant float32 bias");
    L->xq = x->dtype == LUCID_DTYPE_UINT8 ? LC_Q_U8 : LC_Q_S8;
    if (!const_f32(g, n, LUCID_QIN_X_SCALE, &L->x_scale) ||
        !const_zp(g, n, LUCID_QIN_X_ZP, &L->x_zp))
        return refuse(why, len, "needs a constant input scale and zero point");
    const int ysi = L->conv ? LUCID_QCONV_Y_SCALE : LUCID_QGEMM_Y_SCALE;
    L->y_kind = q8_kind(y->dtype);
    if (L->y_kind != 1 &&
        (!const_f32(g, n, ysi, &L->y_scale) || !const_zp(g, n, ysi + 1, &L->y_zp)))
        return refuse(why, len, "needs a constant output scale and zero point");
    if (L->y_kind == 1 && y->dtype != LUCID_DTYPE_FLOAT)
        return refuse(why, len, "output is neither quantized nor float32");
    const lucid_activation *act = lucid_node_activation(n);
    if (!act) return refuse(why, len, "activation not parsed");
    if (L->conv) {
        const lucid_conv_params *p = n->params;
        if (x->rank != 4 || lucid_conv_resolve_geometry(n, p, x->rank, x->dims, L->w->rank,
                                                        L->w->dims, &L->geo, NULL))
            return refuse(why, len, "only 2-D convolutions");
        L->m = L->geo.out_c;
        L->k = L->geo.in_c / L->geo.group * L->geo.k[0] * L->geo.k[1];
        L->rows = L->geo.batch * L->geo.out[0] * L->geo.out[1];
        const lucid_ir_tensor *z = lucid_op_input(g, n, LUCID_QCONV_Z);
        if (z) {
            if (lucid_tensor_numel(z) != lucid_tensor_numel(y))
                return refuse(why, len, "residual of another shape");
            L->z_kind = q8_kind(z->dtype);
            if (L->z_kind == 1 && z->dtype != LUCID_DTYPE_FLOAT)
                return refuse(why, len, "residual is neither quantized nor float32");
            if (L->z_kind != 1 && (!const_f32(g, n, LUCID_QCONV_Z_SCALE, &L->z_scale) ||
                                   !const_zp(g, n, LUCID_QCONV_Z_ZP, &L->z_zp)))
                return refuse(why, len, "needs a constant residual scale and zero point");
        }
    } else {
        if (L->w->rank != 2) return refuse(why, len, "QGemm weights must be 2-D");
        L->m = L->w->dims[0];
        L->k = L->w->dims[1];
        if (x->dims[x->rank - 1] != L->k) return refuse(why, len, "inner dimensions differ");
        L->rows = lucid_tensor_numel(x) / (L->k ? L->k : 1);
        /* rows x k as rows images of one position and k channels, a 1x1 convolution */
        lucid_conv_geom *c = &L->geo;
        c->nsp = 2;
        c->batch = L->rows;
        c->in_c = L->k;
        c->out_c = L->m;
        c->group = 1;
        for (int d = 0; d < 2; d++)
            c->in[d] = c->out[d] = c->k[d] = c->s[d] = c->d[d] = 1;
    }
    L->act = *act;
    int64_t nws = lucid_tensor_numel(L->ws);
    if (nws != 1 && nws != L->m) return refuse(why, len, "weight scales: one, or one per channel");
    if (L->b && lucid_tensor_numel(L->b) != L->m)
        return refuse(why, len, "bias of another length than the output channels");
    return true;
}

/* what every int8 product tactic's state holds */
typedef struct q8_state {
    q8_layer L;
    lc_type t;         /* the plan's float storage */
    bool lt;           /* cuBLASLt, else the direct kernel */
    bool fused;        /* cuBLASLt writes the int8 output itself (lt_fused) */
    float *fused_bias; /* fused: bias / y_scale plus the correction's share, on the device */
    bool dw4;          /* the direct kernel's depthwise form: weights [kh][kw][oc] */
    /* device constants */
    float *mult; /* x_scale * w_scale[m], as the reference computes it */
    float *bias; /* or NULL */
    /* the epilogue folded into the output's units (lc_q8_epilogue_args), or NULL */
    float *fmult, *fbias;
    float fz, flo, fhi;
    int32_t *corr; /* or NULL */
    int8_t *w;     /* weights in the path's order */
    /* the im2col copy (0 bytes: the input is used as it is) */
    size_t pack_bytes;
    lc_q8_im2col_args pack;
    size_t acc_bytes, lib_ws;
    /* cuBLASLt */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulAlgo_t algo;
} q8_state;

static void q8_release(void *p)
{
    q8_state *s = p;
    if (!s) return;
    if (s->desc) cublasLtMatmulDescDestroy(s->desc);
    if (s->la) cublasLtMatrixLayoutDestroy(s->la);
    if (s->lb) cublasLtMatrixLayoutDestroy(s->lb);
    if (s->ld) cublasLtMatrixLayoutDestroy(s->ld);
    if (s->mult) cudaFree(s->mult);
    if (s->bias) cudaFree(s->bias);
    if (s->fmult) cudaFree(s->fmult);
    if (s->fbias) cudaFree(s->fbias);
    if (s->fused_bias) cudaFree(s->fused_bias);
    if (s->corr) cudaFree(s->corr);
    if (s->w) cudaFree(s->w);
    free(s);
}

/* workspace: [im2col rows | int32 accumulators | cuBLASLt's workspace] */
static size_t q8_workspace(const void *p, int threads)
{
    (void)threads;
    const q8_state *s = p;
    return q8_round(s->pack_bytes) + q8_round(s->acc_bytes) + s->lib_ws;
}

/* x_scale * w_scale[o]: output channel o's scale, as the reference computes it */
static float q8_mult(const q8_layer *L, int64_t o)
{
    const float *ws = L->ws->data;
    return L->x_scale * ws[lucid_tensor_numel(L->ws) != 1 ? o : 0];
}

/* The weights as m rows of `row` values ordered (ky, kx, channel), zero from kh * kw * icg
 * on, uploaded; and the correction (off - zp) * (sum of each output channel's weights): into
 * corr_out (m values) when given, else uploaded when off != zp. */
static lucid_status q8_upload_rows(q8_state *s, int64_t row, int32_t off, int32_t *corr_out,
                                   lucid_error *err)
{
    const q8_layer *L = &s->L;
    const int8_t *w = L->w->data;
    int64_t m = L->m, icg = L->geo.in_c / L->geo.group, kh = L->geo.k[0], kw = L->geo.k[1];
    int8_t *tmp = calloc((size_t)(m * row), 1);
    int32_t *corr = calloc((size_t)m, sizeof *corr);
    lucid_status st = LUCID_STATUS_OK;
    if (!tmp || !corr) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int64_t o = 0; o < m; o++) {
        int64_t sum = 0;
        for (int64_t j = 0; j < icg; j++)
            for (int64_t r = 0; r < kh; r++)
                for (int64_t q = 0; q < kw; q++) {
                    int8_t v = w[((o * icg + j) * kh + r) * kw + q];
                    tmp[o * row + (r * kw + q) * icg + j] = v;
                    sum += v;
                }
        corr[o] = (int32_t)((off - L->x_zp) * sum);
    }
    st = lucid_cuda_upload(tmp, (size_t)(m * row), (void **)&s->w, err);
    if (corr_out)
        memcpy(corr_out, corr, sizeof(int32_t) * (size_t)m);
    else if (!st && off != L->x_zp)
        st = lucid_cuda_upload(corr, sizeof(int32_t) * (size_t)m, (void **)&s->corr, err);
done:
    free(tmp);
    free(corr);
    return st;
}

/* mult and bias on the device; for a quantized output with no activation, Relu or Clip
 * (piecewise linear, so dividing by y_scale commutes with it), also their folded form */
static lucid_status q8_upload_scales(q8_state *s, lucid_error *err)
{
    const q8_layer *L = &s->L;
    const size_t bytes = sizeof(float) * (size_t)L->m;
    float *mult = malloc(bytes), *fm = malloc(bytes), *fb = malloc(bytes);
    lucid_status st = LUCID_STATUS_OK;
    if (!mult || !fm || !fb) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    const float *b = L->b ? L->b->data : NULL;
    for (int64_t o = 0; o < L->m; o++)
        mult[o] = q8_mult(L, o);
    st = lucid_cuda_upload(mult, bytes, (void **)&s->mult, err);
    if (!st && b) st = lucid_cuda_upload(b, bytes, (void **)&s->bias, err);
    const lucid_act act = L->act.kind;
    if (st || L->y_kind == 1 || !lucid_activation_is_piecewise_linear(&L->act)) goto done;
    const float ys = L->y_scale;
    for (int64_t o = 0; o < L->m; o++) {
        fm[o] = mult[o] / ys;
        fb[o] = b ? b[o] / ys : 0.0f;
    }
    s->fz = L->z_kind == 1 ? 1.0f / ys : L->z_scale / ys;
    s->flo = act == LUCID_ACT_RELU ? 0.0f : act == LUCID_ACT_CLIP ? L->act.alpha / ys : -INFINITY;
    s->fhi = act == LUCID_ACT_CLIP ? L->act.beta / ys : INFINITY;
    st = lucid_cuda_upload(fm, bytes, (void **)&s->fmult, err);
    if (!st && b) st = lucid_cuda_upload(fb, bytes, (void **)&s->fbias, err);
done:
    free(mult);
    free(fm);
    free(fb);
    return st;
}

static bool q8_supports_common(const lucid_graph *g, const lucid_node *n, q8_layer *L, char *why,
                               size_t len)
{
    if (!q8_resolve(g, n, L, why, len)) return false;
    if (L->geo.nsp != 2) return refuse(why, len, "only 2-D convolutions");
    return true;
}

/* cuBLASLt's product: an ungrouped layer (L resolved) */
static bool lt_takes(const q8_layer *L, char *why, size_t len)
{
    return L->geo.group == 1 || refuse(why, len, "a grouped convolution is not one GEMM");
}

static bool lt_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                        char *why, size_t len)
{
    (void)cpu;
    q8_layer L;
    return q8_supports_common(g, n, &L, why, len) && lt_takes(&L, why, len);
}

/* cuBLASLt's own epilogue: a signed int8 output (zero point 0) of alpha[m] * acc + bias[m]
 * (+ beta * an int8 residual), then Relu or nothing */
static bool lt_fused_supports(const lucid_graph *g, const lucid_node *n,
                              const lucid_cpu_features *cpu, char *why, size_t len)
{
    (void)cpu;
    q8_layer L;
    if (!q8_supports_common(g, n, &L, why, len) || !lt_takes(&L, why, len)) return false;
    if (L.y_kind != 2 || L.y_zp != 0)
        return refuse(why, len, "cuBLASLt writes signed int8 with zero point 0 only");
    if (L.act.kind != LUCID_ACT_NONE && L.act.kind != LUCID_ACT_RELU)
        return refuse(why, len, "cuBLASLt's int8 epilogue applies Relu or nothing");
    if (L.z_kind && (L.z_kind != 2 || L.z_zp != 0))
        return refuse(why, len, "cuBLASLt adds a signed int8 residual with zero point 0 only");
    return true;
}

static bool direct_supports(const lucid_graph *g, const lucid_node *n,
                            const lucid_cpu_features *cpu, char *why, size_t len)
{
    (void)cpu;
    q8_layer L;
    return q8_supports_common(g, n, &L, why, len);
}

static lucid_status q8_begin(const lucid_tactic *t, const lucid_graph *g, const lucid_node *n,
                             lucid_cuda_dev *dev, q8_state **out, lucid_error *err)
{
    char why[160];
    *out = NULL;
    q8_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!q8_resolve(g, n, &s->L, why, sizeof why)) {
        free(s);
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    if (s->L.conv && !lucid_cuda_nhwc(dev, lucid_op_input(g, n, 0)) &&
        lucid_op_input(g, n, 0)->dims[1] != 1) {
        free(s);
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "int8 layers run on channels-last (NHWC) plans");
    }
    s->t = lucid_cuda_type(t->precision);
    *out = s;
    return q8_upload_scales(s, err);
}

static lucid_status lt_prepare(const lucid_tactic *t, const lucid_graph *g, const lucid_node *n,
                               void *devp, void **out, lucid_error *err)
{
    lucid_cuda_dev *dev = devp;
    q8_state *s = NULL;
    int32_t *corr = NULL; /* fused: the correction, folded into the bias */
    *out = NULL;
    lucid_status st = q8_begin(t, g, n, dev, &s, err);
    if (st) goto fail;
    const q8_layer *L = &s->L;
    const lucid_conv_geom *c = &L->geo;
    s->lt = true;
    const int64_t kp = (L->k + 15) / 16 * 16;
    const bool window = c->k[0] != 1 || c->k[1] != 1 || c->s[0] != 1 || c->s[1] != 1 || c->pb[0] ||
                        c->pb[1] || c->pe[0] || c->pe[1];
    const bool pack = window || L->xq == LC_Q_U8 || L->x_zp != 0 || kp != L->k;
    const int32_t off = L->xq == LC_Q_U8 ? 128 : 0;
    if (pack) {
        s->pack = (lc_q8_im2col_args){
            .xq = L->xq, .zp = L->x_zp, .batch = c->batch, .c = c->in_c, Q8_WINDOW(c), .kp = kp};
        s->pack_bytes = (size_t)(L->rows * kp);
    }
    /* variants 2 and 3: cuBLASLt's epilogue writes the int8 output (lt_fused_supports), the
     * correction folded into its bias */
    s->fused = t->variant >= 2;
    corr = s->fused ? calloc((size_t)L->m, sizeof *corr) : NULL;
    if (s->fused && !corr) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    st = q8_upload_rows(s, kp, pack ? off : L->x_zp, corr, err);
    if (st) goto fail;
    const int pick = t->variant & 1;
    s->acc_bytes = s->fused ? 0 : sizeof(int32_t) * (size_t)(L->rows * L->m);
    if (s->fused) { /* bias / y_scale plus mult / y_scale times the correction, per channel */
        float *fb = malloc(sizeof(float) * (size_t)L->m);
        st = fb ? LUCID_STATUS_OK : lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        const float *b = L->b ? L->b->data : NULL;
        for (int64_t o = 0; !st && o < L->m; o++)
            fb[o] = (b ? b[o] / L->y_scale : 0.0f) + q8_mult(L, o) / L->y_scale * (float)corr[o];
        if (!st)
            st = lucid_cuda_upload(fb, sizeof(float) * (size_t)L->m, (void **)&s->fused_bias, err);
        free(fb);
        if (st) goto fail;
    }
    /* column-major: D [m x rows] = W^T... W is m x kp row-major = kp x m column-major, taken
     * transposed; the input is rows x kp row-major = kp x rows column-major. int32 results,
     * or (fused) int8 ones scaled by a per-row float alpha with a float bias. */
    cublasOperation_t opa = CUBLAS_OP_T, opb = CUBLAS_OP_N;
    const cudaDataType_t dt = s->fused ? CUDA_R_8I : CUDA_R_32I;
    st = lucid_cublas_check(
        cublasLtMatmulDescCreate(&s->desc, CUBLAS_COMPUTE_32I, s->fused ? CUDA_R_32F : CUDA_R_32I),
        err, "cublasLtMatmulDescCreate");
    if (!st)
        st = lucid_cublas_check(
            cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa),
            err, "transa");
    if (!st)
        st = lucid_cublas_check(
            cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb),
            err, "transb");
    if (!st)
        st = lucid_cublas_check(
            cublasLtMatrixLayoutCreate(&s->la, CUDA_R_8I, (uint64_t)kp, (uint64_t)L->m, kp), err,
            "layout W");
    if (!st)
        st = lucid_cublas_check(
            cublasLtMatrixLayoutCreate(&s->lb, CUDA_R_8I, (uint64_t)kp, (uint64_t)L->rows, kp), err,
            "layout X");
    if (!st)
        st = lucid_cublas_check(
            cublasLtMatrixLayoutCreate(&s->ld, dt, (uint64_t)L->m, (uint64_t)L->rows, L->m), err,
            "layout Y");
    if (!st && s->fused) {
        cublasLtPointerMode_t pm = L->z_kind ? CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_HOST
                                             : CUBLASLT_POINTER_MODE_ALPHA_DEVICE_VECTOR_BETA_ZERO;
        cublasLtEpilogue_t epi =
            L->act.kind == LUCID_ACT_RELU ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
        cudaDataType_t bt = CUDA_R_32F;
        st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(
                                    s->desc, CUBLASLT_MATMUL_DESC_POINTER_MODE, &pm, sizeof pm),
                                err, "pointer mode");
        if (!st)
            st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(
                                        s->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi),
                                    err, "epilogue");
        if (!st)
            st = lucid_cublas_check(
                cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                               &s->fused_bias, sizeof s->fused_bias),
                err, "bias pointer");
        if (!st)
            st = lucid_cublas_check(
                cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt,
                                               sizeof bt),
                err, "bias type");
        /* a refusal here means this cuBLASLt cannot: the candidate is skipped */
        if (st) st = LUCID_STATUS_UNSUPPORTED;
    }
    if (st) goto fail;
    cublasLtMatmulPreference_t pref = NULL;
    size_t maxws = Q8_LT_WORKSPACE;
    cublasLtMatmulHeuristicResult_t res[4];
    int got = 0;
    st = lucid_cublas_check(cublasLtMatmulPreferenceCreate(&pref), err, "preference");
    if (!st)
        st = lucid_cublas_check(
            cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                 &maxws, sizeof maxws),
            err, "preference");
    if (!st) {
        cublasStatus_t cs = cublasLtMatmulAlgoGetHeuristic(dev->lt, s->desc, s->la, s->lb, s->ld,
                                                           s->ld, pref, 4, res, &got);
        if (cs != CUBLAS_STATUS_SUCCESS) got = 0;
    }
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (st) goto fail;
    if (pick >= got) {
        st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                          "cuBLASLt's heuristic offers %d int8 algorithm(s) for this shape%s", got,
                          s->fused ? " with its int8 epilogue" : "");
        goto fail;
    }
    s->algo = res[pick].algo;
    s->lib_ws = res[pick].workspaceSize;
    free(corr);
    *out = s;
    return LUCID_STATUS_OK;
fail:
    free(corr);
    q8_release(s);
    return st;
}

static lucid_status direct_prepare(const lucid_tactic *t, const lucid_graph *g, const lucid_node *n,
                                   void *devp, void **out, lucid_error *err)
{
    q8_state *s = NULL;
    *out = NULL;
    lucid_status st = q8_begin(t, g, n, devp, &s, err);
    const lucid_conv_geom *c = st ? NULL : &s->L.geo;
    if (c && c->group == c->in_c && c->group == c->out_c && c->out_c % 4 == 0) {
        /* depthwise, four channels per thread: the weights as [kh][kw][oc] */
        const int64_t khw = c->k[0] * c->k[1], oc = c->out_c;
        int8_t *hwc = malloc((size_t)(khw * oc));
        const int8_t *w = s->L.w->data;
        if (!hwc) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        } else {
            for (int64_t o = 0; o < oc; o++)
                for (int64_t k = 0; k < khw; k++)
                    hwc[k * oc + o] = w[o * khw + k];
            st = lucid_cuda_upload(hwc, (size_t)(khw * oc), (void **)&s->w, err);
            s->dw4 = true;
            free(hwc);
        }
    } else if (c) {
        st = lucid_cuda_upload(s->L.w->data, lucid_tensor_nbytes(s->L.w), (void **)&s->w, err);
    }
    if (st) {
        q8_release(s);
        return st;
    }
    *out = s;
    return LUCID_STATUS_OK;
}

static lc_q8_epilogue_args q8_epilogue_of(const q8_state *s, const lucid_array *in, int n_in,
                                          lucid_array *out)
{
    const q8_layer *L = &s->L;
    lc_q8_epilogue_args e = {.corr = s->corr,
                             .mult = s->mult,
                             .bias = s->bias,
                             .z_kind = L->z_kind,
                             .z_scale = L->z_scale,
                             .z_zp = L->z_zp,
                             .act = L->act.kind,
                             .alpha = L->act.alpha,
                             .beta = L->act.beta,
                             .y_kind = L->y_kind,
                             .y = out[0].data,
                             .y_scale = L->y_scale,
                             .y_zp = L->y_zp,
                             .t = s->t,
                             .rows = L->rows,
                             .m = L->m,
                             .fmult = s->fmult,
                             .fbias = s->fbias,
                             .fz = s->fz,
                             .flo = s->flo,
                             .fhi = s->fhi};
    if (L->z_kind) e.z = n_in > LUCID_QCONV_Z ? in[LUCID_QCONV_Z].data : NULL;
    return e;
}

static lucid_status q8_run(const void *p, const lucid_array *in, int n_in, lucid_array *out,
                           int n_out, void *work, void *stream, lucid_error *err)
{
    (void)n_out;
    const q8_state *s = p;
    const q8_layer *L = &s->L;
    const lucid_cuda_stream *cs = stream;
    const char *why = NULL;
    lc_q8_epilogue_args e = q8_epilogue_of(s, in, n_in, out);
    if (L->z_kind && !e.z) return lucid_errorf(err, LUCID_STATUS_INTERNAL, "residual missing");
    if (!s->lt) {
        const lucid_conv_geom *c = &L->geo;
        lc_q8_dconv_args a = {.xq = L->xq,
                              .x = in[0].data,
                              .x_zp = L->x_zp,
                              .w = s->w,
                              .w_hwc = s->dw4,
                              .batch = c->batch,
                              .ic = c->in_c,
                              .oc = c->out_c,
                              .group = c->group,
                              Q8_WINDOW(c),
                              .e = e};
        return lucid_kernel_check(lc_q8_dconv(&a, cs->stream, &why), why, err, "int8 direct");
    }
    char *ws = work;
    int8_t *packed = (int8_t *)ws;
    void *acc = ws + q8_round(s->pack_bytes);
    void *lib = (char *)acc + q8_round(s->acc_bytes);
    const void *x = in[0].data;
    lucid_status st = LUCID_STATUS_OK;
    if (s->pack_bytes) {
        lc_q8_im2col_args a = s->pack;
        a.x = x;
        a.y = packed;
        st = lucid_kernel_check(lc_q8_im2col(&a, cs->stream, &why), why, err, "int8 im2col");
        x = packed;
    }
    if (!st && s->fused) {
        /* D = relu?(alpha[m] * acc + bias[m] + beta * Z), alpha = mult / y_scale on the device,
         * beta = z_scale / y_scale, Z the int8 residual (C) */
        const void *c = L->z_kind ? e.z : out[0].data;
        st = lucid_cublas_check(cublasLtMatmul(cs->lt, s->desc, s->fmult, s->w, s->la, x, s->lb,
                                               &s->fz, c, s->ld, out[0].data, s->ld, &s->algo, lib,
                                               s->lib_ws, cs->stream),
                                err, "cublasLtMatmul (int8, fused epilogue)");
        return st;
    }
    if (!st) {
        const int32_t alpha = 1, beta = 0;
        st = lucid_cublas_check(cublasLtMatmul(cs->lt, s->desc, &alpha, s->w, s->la, x, s->lb,
                                               &beta, acc, s->ld, acc, s->ld, &s->algo, lib,
                                               s->lib_ws, cs->stream),
                                err, "cublasLtMatmul (int8)");
    }
    if (st) return st;
    e.acc = acc;
    return lucid_kernel_check(lc_q8_epilogue(&e, cs->stream, &why), why, err, "int8 epilogue");
}

/* ---- QuantizeLinear and DequantizeLinear (per tensor); MaxPool on int8 / uint8 ---------- */

typedef struct q8_small {
    int op;
    lc_type t;
    lc_q8 q;
    float scale; /* QuantizeLinear, DequantizeLinear */
    int32_t zp;
    int64_t n;
    lc_pool_args pool; /* MaxPool */
} q8_small;

static bool qdq_resolve(const lucid_graph *g, const lucid_node *n, q8_small *s, char *why,
                        size_t len)
{
    const bool quantize = n->op == LUCID_OP_QUANTIZE_LINEAR;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    const lucid_ir_tensor *q = quantize ? y : x, *f = quantize ? x : y;
    if (!x || !y || !lucid_tensor_shape_known(y) || !is_q8(q->dtype) ||
        f->dtype != LUCID_DTYPE_FLOAT)
        return refuse(why, len, "float32 <-> int8 or uint8 only");
    if (!const_f32(g, n, 1, &s->scale) || !const_zp(g, n, 2, &s->zp))
        return refuse(why, len, "per-tensor constant scale and zero point only");
    if (!(s->scale > 0) || !isfinite(s->scale)) return refuse(why, len, "scale not positive");
    s->q = q->dtype == LUCID_DTYPE_UINT8 ? LC_Q_U8 : LC_Q_S8;
    s->n = lucid_tensor_numel(y);
    return true;
}

static bool qpool_resolve(const lucid_graph *g, const lucid_node *n, lucid_cuda_dev *dev,
                          q8_small *s, char *why, size_t len)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if (!x || !y || !is_q8(x->dtype) || x->dtype != y->dtype || x->rank != 4 || y->rank != 4 ||
        !lucid_tensor_shape_known(x) || !lucid_tensor_shape_known(y))
        return refuse(why, len, "2-D max pooling of int8 or uint8 only");
    if (n->n_outputs > 1 && lucid_op_output(g, n, 1))
        return refuse(why, len, "MaxPool's Indices output");
    const lucid_pool_params *p = n->params;
    if (n->op != LUCID_OP_MAX_POOL || !p) return refuse(why, len, "not a parsed MaxPool");
    if (p->auto_pad != LUCID_AUTO_PAD_NOTSET) return refuse(why, len, "auto_pad is not NOTSET");
    if (p->n_kernel != 2) return refuse(why, len, "needs a 2-D kernel_shape");
    s->q = x->dtype == LUCID_DTYPE_UINT8 ? LC_Q_U8 : LC_Q_S8;
    s->pool = (lc_pool_args){.is_max = 1,
                             .planes = x->dims[0] * x->dims[1],
                             .ih = x->dims[2],
                             .iw = x->dims[3],
                             .oh = y->dims[2],
                             .ow = y->dims[3],
                             .kh = p->kernel[0],
                             .kw = p->kernel[1],
                             .sh = p->n_strides ? p->strides[0] : 1,
                             .sw = p->n_strides ? p->strides[1] : 1,
                             .dh = p->n_dilations ? p->dilations[0] : 1,
                             .dw = p->n_dilations ? p->dilations[1] : 1,
                             .pt = p->n_pads ? p->pads[0] : 0,
                             .pl = p->n_pads ? p->pads[1] : 0,
                             .nhwc = dev ? lucid_cuda_nhwc(dev, x) : 0,
                             .channels = x->dims[1]};
    return true;
}

static bool small_resolve(const lucid_graph *g, const lucid_node *n, lucid_cuda_dev *dev,
                          q8_small *s, char *why, size_t len)
{
    memset(s, 0, sizeof *s);
    s->op = n->op;
    if (n->op == LUCID_OP_QUANTIZE_LINEAR || n->op == LUCID_OP_DEQUANTIZE_LINEAR)
        return qdq_resolve(g, n, s, why, len);
    if (n->op == LUCID_OP_MAX_POOL) return qpool_resolve(g, n, dev, s, why, len);
    return refuse(why, len, "not a QuantizeLinear, DequantizeLinear or MaxPool");
}

static bool qdq_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                         char *why, size_t len)
{
    (void)cpu;
    q8_small s;
    if (n->op != LUCID_OP_QUANTIZE_LINEAR && n->op != LUCID_OP_DEQUANTIZE_LINEAR)
        return refuse(why, len, "not a QuantizeLinear or DequantizeLinear");
    return small_resolve(g, n, NULL, &s, why, len);
}

static bool qpool_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                           char *why, size_t len)
{
    (void)cpu;
    q8_small s;
    if (n->op != LUCID_OP_MAX_POOL) return refuse(why, len, "not a MaxPool");
    return small_resolve(g, n, NULL, &s, why, len);
}

static lucid_status small_prepare(const lucid_tactic *t, const lucid_graph *g, const lucid_node *n,
                                  void *devp, void **out, lucid_error *err)
{
    char why[160];
    q8_small *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!small_resolve(g, n, devp, s, why, sizeof why)) {
        free(s);
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    s->t = lucid_cuda_type(t->precision);
    *out = s;
    return LUCID_STATUS_OK;
}

static lucid_status small_run(const void *p, const lucid_array *in, int n_in, lucid_array *out,
                              int n_out, void *work, void *stream, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)work;
    const q8_small *s = p;
    const lucid_cuda_stream *cs = stream;
    const char *why = NULL;
    if (s->op == LUCID_OP_MAX_POOL) {
        lc_pool_args a = s->pool;
        a.x = in[0].data;
        a.y = out[0].data;
        return lucid_kernel_check(lc_pool_q8(&a, s->q, cs->stream, &why), why, err,
                                  "int8 max pool");
    }
    const bool quantize = s->op == LUCID_OP_QUANTIZE_LINEAR;
    lucid_status k = quantize ? lc_quantize(s->t, in[0].data, s->q, out[0].data, s->n, s->scale,
                                            s->zp, cs->stream, &why)
                              : lc_dequantize(s->q, in[0].data, s->t, out[0].data, s->n, s->scale,
                                              s->zp, cs->stream, &why);
    return lucid_kernel_check(k, why, err, quantize ? "quantize" : "dequantize");
}

/* Every tactic here is an fp16 tactic: an int8 GPU plan stores its float tensors in half. */
#define Q8_PF LUCID_PRECISION_FP16, 0
LUCID_CUDA_TACTIC_P(cuda_qdq_fp16, "cuda.qdq.fp16", Q8_PF, 20, 0, qdq_supports, small_prepare, free,
                    lucid_tactic_no_workspace, small_run)
LUCID_CUDA_TACTIC_P(cuda_qpool_int8, "cuda.pool.int8", Q8_PF, 21, 0, qpool_supports, small_prepare,
                    free, lucid_tactic_no_workspace, small_run)
LUCID_CUDA_TACTIC_P(cuda_qconv_int8_lt_h0, "cuda.qconv.int8.lt_h0", Q8_PF, 23, 0, lt_supports,
                    lt_prepare, q8_release, q8_workspace, q8_run)
LUCID_CUDA_TACTIC_P(cuda_qconv_int8_lt_h1, "cuda.qconv.int8.lt_h1", Q8_PF, 24, 1, lt_supports,
                    lt_prepare, q8_release, q8_workspace, q8_run)
LUCID_CUDA_TACTIC_P(cuda_qconv_int8_lt_fused_h0, "cuda.qconv.int8.lt_fused_h0", Q8_PF, 26, 2,
                    lt_fused_supports, lt_prepare, q8_release, q8_workspace, q8_run)
LUCID_CUDA_TACTIC_P(cuda_qconv_int8_lt_fused_h1, "cuda.qconv.int8.lt_fused_h1", Q8_PF, 27, 3,
                    lt_fused_supports, lt_prepare, q8_release, q8_workspace, q8_run)
LUCID_CUDA_TACTIC_P(cuda_qconv_int8_direct, "cuda.qconv.int8.direct", Q8_PF, 25, 0, direct_supports,
                    direct_prepare, q8_release, q8_workspace, q8_run)
