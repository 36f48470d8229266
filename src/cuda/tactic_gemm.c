/* tactic_gemm.c - Gemm, FusedGemm and MatMul with constant weights through cuBLASLt: bias and
 * ReLU in cuBLASLt's epilogue (other activations in lucid's epilogue kernel), float32 (no TF32),
 * TF32, float16 and bfloat16 with float32 accumulation; each of cuBLASLt's first heuristic
 * choices is its own tactic, so the builder times them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_common.h"
#include "ops/activation.h"
#include "ops/conv.h"
#include "ops/gemm.h"
#include "ops/op.h"

#define GEMM_MAX_WORKSPACE ((size_t)32 << 20)

typedef struct gemm_state {
    lc_type t;
    int64_t m, n, k;
    float alpha;
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulAlgo_t algo;
    size_t ws;
    void *w;    /* the constant operand, in the tactic's type */
    void *bias; /* beta * C, in the tactic's type, or NULL */
    lc_act act; /* applied by lucid's kernel when cuBLASLt's epilogue cannot */
    float act_alpha, act_beta;
    bool has_z; /* 1x1 convolutions: the residual is cuBLASLt's C (beta 1) */
    cublasLtMatrixLayout_t lc; /* C's layout where it is not D's */
} gemm_state;

/* What the layer computes: Y[m,n] = alpha * op(A) op(B) + bias[n], with B constant. */
typedef struct gemm_shape {
    int64_t m, n, k;
    bool trans_a, trans_b;
    float alpha, beta;
    const lucid_ir_tensor *b, *c;
    lucid_activation act;
} gemm_shape;

static bool gemm_resolve(const lucid_graph *g, const lucid_node *n, gemm_shape *s, char *why,
                         size_t why_len)
{
    memset(s, 0, sizeof *s);
    if (n->op != LUCID_OP_GEMM && n->op != LUCID_OP_FUSED_GEMM && n->op != LUCID_OP_MATMUL) {
        snprintf(why, why_len, "not a Gemm or MatMul");
        return false;
    }
    if (!lucid_cuda_all_float(g, n, why, why_len)) return false;
    const lucid_ir_tensor *a = lucid_op_input(g, n, 0), *b = lucid_op_input(g, n, 1);
    if (!b || !b->data || b->rank != 2) {
        snprintf(why, why_len, "needs a constant 2-D B (weights)");
        return false;
    }
    s->b = b;
    s->alpha = 1.0f;
    s->beta = 1.0f;
    if (n->op == LUCID_OP_MATMUL) {
        if (a->rank < 2) {
            snprintf(why, why_len, "A must have rank 2 or more");
            return false;
        }
        s->k = a->dims[a->rank - 1];
        s->m = lucid_tensor_numel(a) / (s->k ? s->k : 1);
        s->n = b->dims[1];
        if (b->dims[0] != s->k) {
            snprintf(why, why_len, "inner dimensions differ");
            return false;
        }
        return true;
    }
    const lucid_gemm_params *p = n->params;
    s->trans_a = p->trans_a;
    s->trans_b = p->trans_b;
    s->alpha = p->alpha;
    s->beta = p->beta;
    if (a->rank != 2) {
        snprintf(why, why_len, "A must be 2-D");
        return false;
    }
    s->m = s->trans_a ? a->dims[1] : a->dims[0];
    s->k = s->trans_a ? a->dims[0] : a->dims[1];
    s->n = s->trans_b ? b->dims[0] : b->dims[1];
    const lucid_ir_tensor *c = lucid_op_input(g, n, 2);
    if (c) {
        int64_t cn = lucid_tensor_numel(c);
        if (!c->data || !(cn == s->n || cn == 1) ||
            (c->rank == 2 && c->dims[0] != 1 && cn != 1)) {
            snprintf(why, why_len, "C must be a constant bias of N values (or one)");
            return false;
        }
        s->c = c;
    }
    const lucid_activation *act = lucid_node_activation(n);
    if (!act) {
        snprintf(why, why_len, "activation not parsed");
        return false;
    }
    s->act = *act;
    return true;
}

static bool gemm_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                          char *why, size_t why_len)
{
    (void)cpu;
    gemm_shape s;
    return gemm_resolve(g, n, &s, why, why_len);
}

/* frees what a gemm_state holds, not the struct */
static void gemm_clear(gemm_state *s)
{
    if (s->desc) cublasLtMatmulDescDestroy(s->desc);
    if (s->la) cublasLtMatrixLayoutDestroy(s->la);
    if (s->lb) cublasLtMatrixLayoutDestroy(s->lb);
    if (s->ld) cublasLtMatrixLayoutDestroy(s->ld);
    if (s->lc) cublasLtMatrixLayoutDestroy(s->lc);
    if (s->w) cudaFree(s->w);
    if (s->bias) cudaFree(s->bias);
}

static void gemm_release(void *p)
{
    if (!p) return;
    gemm_clear(p);
    free(p);
}

static size_t gemm_workspace(const void *p, int threads)
{
    (void)threads;
    return ((const gemm_state *)p)->ws;
}

static cudaDataType_t cuda_type(lc_type t)
{
    return t == LC_F16 ? CUDA_R_16F : t == LC_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

static lucid_status gemm_prepare(const lucid_tactic *t, const lucid_graph *g, const lucid_node *n,
                                 void *devp, void **out, lucid_error *err)
{
    lucid_cuda_dev *dev = devp;
    char why[160];
    gemm_shape sh;
    *out = NULL;
    if (!gemm_resolve(g, n, &sh, why, sizeof why))
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    gemm_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    s->t = lucid_cuda_type(t->precision);
    s->m = sh.m;
    s->n = sh.n;
    s->k = sh.k;
    s->alpha = sh.alpha;
    s->act = sh.act.kind;
    s->act_alpha = sh.act.alpha;
    s->act_beta = sh.act.beta;
    cudaDataType_t dt = cuda_type(s->t);
    cublasComputeType_t ct = (t->flags & LUCID_TACTIC_TF32) ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                            : CUBLAS_COMPUTE_32F;
    /* column-major view: D^T [n x m] = op(W) [n x k] * op(X) [k x m] */
    cublasOperation_t opa = sh.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t opb = sh.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    lucid_status st = lucid_cublas_check(cublasLtMatmulDescCreate(&s->desc, ct, CUDA_R_32F), err, "cublasLtMatmulDescCreate");
    if (!st) st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa), err, "transa");
    if (!st) st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb), err, "transb");
    if (!st) st = lucid_cublas_check(cublasLtMatrixLayoutCreate(&s->la, dt, sh.trans_b ? (uint64_t)sh.k : (uint64_t)sh.n, sh.trans_b ? (uint64_t)sh.n : (uint64_t)sh.k, sh.trans_b ? (int64_t)sh.k : (int64_t)sh.n), err, "layout W");
    if (!st) st = lucid_cublas_check(cublasLtMatrixLayoutCreate(&s->lb, dt, sh.trans_a ? (uint64_t)sh.m : (uint64_t)sh.k, sh.trans_a ? (uint64_t)sh.k : (uint64_t)sh.m, sh.trans_a ? (int64_t)sh.m : (int64_t)sh.k), err, "layout X");
    if (!st) st = lucid_cublas_check(cublasLtMatrixLayoutCreate(&s->ld, dt, (uint64_t)sh.n, (uint64_t)sh.m, (int64_t)sh.n), err, "layout Y");
    if (st) goto fail;
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    if (sh.c) {
        float *bias = malloc(sizeof(float) * (size_t)sh.n);
        if (!bias) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            goto fail;
        }
        const float *cv = sh.c->data;
        bool scalar = lucid_tensor_numel(sh.c) == 1;
        for (int64_t j = 0; j < sh.n; j++) bias[j] = sh.beta * cv[scalar ? 0 : j];
        st = lucid_cuda_upload_floats(bias, sh.n, s->t, &s->bias, err);
        free(bias);
        if (st) goto fail;
        epi = s->act == LUCID_ACT_RELU ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
        st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &s->bias, sizeof s->bias), err, "bias pointer");
        if (!st) {
            cudaDataType_t bt = cuda_type(s->t);
            st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt), err, "bias type");
        }
    } else if (s->act == LUCID_ACT_RELU) {
        epi = CUBLASLT_EPILOGUE_RELU;
    }
    if (epi == CUBLASLT_EPILOGUE_RELU || epi == CUBLASLT_EPILOGUE_RELU_BIAS) s->act = LUCID_ACT_NONE;
    if (!st) st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), err, "epilogue");
    if (st) goto fail;
    cublasLtMatmulPreference_t pref = NULL;
    size_t maxws = GEMM_MAX_WORKSPACE;
    cublasLtMatmulHeuristicResult_t res[4];
    int got = 0;
    st = lucid_cublas_check(cublasLtMatmulPreferenceCreate(&pref), err, "preference");
    if (!st) st = lucid_cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &maxws, sizeof maxws), err, "preference");
    if (!st) st = lucid_cublas_check(cublasLtMatmulAlgoGetHeuristic(dev->lt, s->desc, s->la, s->lb, s->ld, s->ld, pref, 4, res, &got), err, "cublasLtMatmulAlgoGetHeuristic");
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (st) goto fail;
    if (t->variant >= got) {
        st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                          "cuBLASLt's heuristic offers %d algorithm(s) for this shape", got);
        goto fail;
    }
    s->algo = res[t->variant].algo;
    s->ws = res[t->variant].workspaceSize;
    st = lucid_cuda_upload_floats(sh.b->data, lucid_tensor_numel(sh.b), s->t, &s->w, err);
    if (st) goto fail;
    *out = s;
    return LUCID_STATUS_OK;
fail:
    gemm_release(s);
    return st;
}

static lucid_status gemm_run(const void *p, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, void *work, void *stream, lucid_error *err)
{
    const gemm_state *s = p;
    const lucid_cuda_stream *cs = stream;
    const float beta = 0.0f;
    lucid_status st = lucid_cublas_check(
        cublasLtMatmul(cs->lt, s->desc, &s->alpha, s->w, s->la, in[0].data, s->lb, &beta,
                       out[0].data, s->ld, out[0].data, s->ld, &s->algo, work, s->ws,
                       cs->stream),
        err, "cublasLtMatmul");
    if (st || s->act == LUCID_ACT_NONE) return st;
    const char *why = NULL;
    lc_epilogue_args a = {.t = s->t, .x = out[0].data, .y = out[0].data,
                          .n = s->m * s->n,
                          .channels = 1, .inner = 1, .act = s->act, .alpha = s->act_alpha,
                          .beta = s->act_beta};
    return lucid_kernel_check(lc_epilogue(&a, cs->stream, &why), why, err, "activation");
}

/* ---- 1x1 convolutions (stride 1, no padding) as one GEMM per image. In NCHW an image's
 * Y[oc x HW] = W[oc x ic] X[ic x HW]; cuBLASLt is column-major, so it computes
 * Y' [HW x oc] = X' [HW x ic] W' [ic x oc] on the same bytes (ld HW), the residual as C
 * (beta 1); bias is per column there, which cuBLASLt's epilogue cannot add, so lucid's epilogue
 * kernel adds bias and activation after the product. ---- */

static bool conv1x1_resolve(const lucid_graph *g, const lucid_node *n, lucid_dconv *c, char *why,
                            size_t why_len)
{
    if (n->op != LUCID_OP_CONV && n->op != LUCID_OP_FUSED_CONV) {
        snprintf(why, why_len, "not a convolution");
        return false;
    }
    if (!lucid_dconv_resolve(g, n, c, why, why_len) || !lucid_cuda_all_float(g, n, why, why_len))
        return false;
    if (c->kh != 1 || c->kw != 1 || c->sh != 1 || c->sw != 1 || c->pt || c->pl ||
        c->group != 1 || c->oh != c->ih || c->ow != c->iw) {
        snprintf(why, why_len, "not a 1x1 stride-1 unpadded ungrouped convolution");
        return false;
    }
    return true;
}

static bool conv1x1_supports(const lucid_graph *g, const lucid_node *n,
                             const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    (void)cpu;
    lucid_dconv c;
    return conv1x1_resolve(g, n, &c, why, why_len);
}

static lucid_status col_layout(cublasLtMatrixLayout_t *l, cudaDataType_t dt, int64_t rows,
                               int64_t cols, int64_t ld, int64_t batch, int64_t stride,
                               lucid_error *err)
{
    int32_t bc = (int32_t)batch;
    lucid_status st = lucid_cublas_check(cublasLtMatrixLayoutCreate(l, dt, (uint64_t)rows, (uint64_t)cols, ld), err, "layout");
    if (!st && batch > 1) {
        st = lucid_cublas_check(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &bc, sizeof bc), err, "batch count");
        if (!st) st = lucid_cublas_check(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride), err, "batch stride");
    }
    return st;
}

typedef struct conv1x1_state {
    gemm_state g;    /* NCHW: A = X (the input), B = W; NHWC: A = W, B = X */
    lucid_dconv c;
    float *bias;     /* float32, for the epilogue kernel (NCHW) */
    bool nhwc;       /* one GEMM over every position, bias and ReLU in cuBLASLt's epilogue */
} conv1x1_state;

static void conv1x1_release(void *p)
{
    conv1x1_state *s = p;
    if (!s) return;
    if (s->bias) cudaFree(s->bias);
    gemm_clear(&s->g);
    free(s);
}

static size_t conv1x1_workspace(const void *p, int threads)
{
    (void)threads;
    return ((const conv1x1_state *)p)->g.ws;
}

/* Channels-last: the input is a row-major [positions x ic] matrix and the output
 * [positions x oc], so the layer is one GEMM over all images. Column-major, D [oc x M] =
 * W^T (the weights [oc][ic] read as a column-major ic x oc, transposed) times X [ic x M], the
 * residual as C (same layout as D); bias is then one value per row of D, which cuBLASLt's
 * epilogue adds (with ReLU) in the same kernel. */
static lucid_status conv1x1_nhwc_desc(conv1x1_state *cs, const lucid_graph *g,
                                      const lucid_node *n, cublasComputeType_t ct,
                                      cudaDataType_t dt, lucid_error *err)
{
    gemm_state *s = &cs->g;
    const lucid_dconv *c = &cs->c;
    int64_t m = c->batch * c->oh * c->ow;
    cublasOperation_t opa = CUBLAS_OP_T, opb = CUBLAS_OP_N;
    lucid_status st = lucid_cublas_check(cublasLtMatmulDescCreate(&s->desc, ct, CUDA_R_32F), err, "cublasLtMatmulDescCreate");
    if (!st) st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa), err, "transa");
    if (!st) st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb), err, "transb");
    if (!st) st = col_layout(&s->la, dt, c->ic, c->oc, c->ic, 1, 0, err);
    if (!st) st = col_layout(&s->lb, dt, c->ic, m, c->ic, 1, 0, err);
    if (!st) st = col_layout(&s->ld, dt, c->oc, m, c->oc, 1, 0, err);
    if (!st) st = col_layout(&s->lc, dt, c->oc, m, c->oc, 1, 0, err);
    if (st) return st;
    s->act = c->act.kind;
    s->act_alpha = c->act.alpha;
    s->act_beta = c->act.beta;
    const lucid_ir_tensor *b = lucid_op_input(g, n, 2);
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    if (b) {
        st = lucid_cuda_upload_floats(b->data, c->oc, s->t, &s->bias, err);
        epi = s->act == LUCID_ACT_RELU ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
        if (!st) st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &s->bias, sizeof s->bias), err, "bias pointer");
        if (!st) st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &dt, sizeof dt), err, "bias type");
    } else if (s->act == LUCID_ACT_RELU) {
        epi = CUBLASLT_EPILOGUE_RELU;
    }
    if (epi == CUBLASLT_EPILOGUE_RELU || epi == CUBLASLT_EPILOGUE_RELU_BIAS) s->act = LUCID_ACT_NONE;
    if (!st) st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), err, "epilogue");
    return st;
}

static lucid_status conv1x1_prepare(const lucid_tactic *t, const lucid_graph *g,
                                    const lucid_node *n, void *devp, void **out, lucid_error *err)
{
    lucid_cuda_dev *dev = devp;
    char why[160];
    *out = NULL;
    conv1x1_state *cs = calloc(1, sizeof *cs);
    if (!cs) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    lucid_dconv *c = &cs->c;
    gemm_state *s = &cs->g;
    lucid_status st = LUCID_STATUS_OK;
    if (!conv1x1_resolve(g, n, c, why, sizeof why)) {
        st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED, "%s", why);
        goto fail;
    }
    s->t = lucid_cuda_type(t->precision);
    int64_t hw = c->oh * c->ow;
    s->alpha = 1.0f;
    s->has_z = c->fused && lucid_op_input(g, n, 3) != NULL;
    cudaDataType_t dt = cuda_type(s->t);
    cublasComputeType_t ct = (t->flags & LUCID_TACTIC_TF32) ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                            : CUBLAS_COMPUTE_32F;
    cublasOperation_t op = CUBLAS_OP_N;
    cs->nhwc = dev->nhwc;
    if (cs->nhwc) {
        st = conv1x1_nhwc_desc(cs, g, n, ct, dt, err);
        if (st) goto fail;
        goto heuristic;
    }
    st = lucid_cublas_check(cublasLtMatmulDescCreate(&s->desc, ct, CUDA_R_32F), err, "cublasLtMatmulDescCreate");
    if (!st) st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_TRANSA, &op, sizeof op), err, "transa");
    if (!st) st = lucid_cublas_check(cublasLtMatmulDescSetAttribute(s->desc, CUBLASLT_MATMUL_DESC_TRANSB, &op, sizeof op), err, "transb");
    if (!st) st = col_layout(&s->la, dt, hw, c->ic, hw, c->batch, c->ic * hw, err);
    if (!st) st = col_layout(&s->lb, dt, c->ic, c->oc, c->ic, c->batch, 0, err);
    if (!st) st = col_layout(&s->ld, dt, hw, c->oc, hw, c->batch, c->oc * hw, err);
    if (!st) st = col_layout(&s->lc, dt, hw, c->oc, hw, c->batch, c->oc * hw, err);
    if (st) goto fail;
heuristic:;
    cublasLtMatmulPreference_t pref = NULL;
    size_t maxws = GEMM_MAX_WORKSPACE;
    cublasLtMatmulHeuristicResult_t res[4];
    int got = 0;
    st = lucid_cublas_check(cublasLtMatmulPreferenceCreate(&pref), err, "preference");
    if (!st) st = lucid_cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &maxws, sizeof maxws), err, "preference");
    if (!st) st = lucid_cublas_check(cublasLtMatmulAlgoGetHeuristic(dev->lt, s->desc, s->la, s->lb, s->lc, s->ld, pref, 4, res, &got), err, "cublasLtMatmulAlgoGetHeuristic");
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (st) goto fail;
    if (t->variant >= got) {
        st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                          "cuBLASLt's heuristic offers %d algorithm(s) for this shape", got);
        goto fail;
    }
    s->algo = res[t->variant].algo;
    s->ws = res[t->variant].workspaceSize;
    const lucid_ir_tensor *w = lucid_op_input(g, n, 1), *b = lucid_op_input(g, n, 2);
    st = lucid_cuda_upload_floats(w->data, lucid_tensor_numel(w), s->t, &s->w, err);
    if (!st && b && !cs->nhwc)
        st = lucid_cuda_upload_floats(b->data, c->oc, LC_F32, (void **)&cs->bias, err);
    if (st) goto fail;
    *out = cs;
    return LUCID_STATUS_OK;
fail:
    conv1x1_release(cs);
    return st;
}

static lucid_status conv1x1_run(const void *p, const lucid_array *in, int n_in, lucid_array *out,
                                int n_out, void *work, void *stream, lucid_error *err)
{
    const conv1x1_state *cs = p;
    const gemm_state *s = &cs->g;
    const lucid_cuda_stream *st_ = stream;
    const void *z = s->has_z && n_in > 3 ? in[3].data : NULL;
    const float beta = z ? 1.0f : 0.0f;
    const void *ma = cs->nhwc ? s->w : in[0].data, *mb = cs->nhwc ? in[0].data : s->w;
    lucid_status st = lucid_cublas_check(
        cublasLtMatmul(st_->lt, s->desc, &s->alpha, ma, s->la, mb, s->lb, &beta,
                       z ? z : out[0].data, s->lc, out[0].data, s->ld, &s->algo, work, s->ws,
                       st_->stream),
        err, "cublasLtMatmul");
    const char *why = NULL;
    const lucid_dconv *c = &cs->c;
    if (cs->nhwc) { /* bias and ReLU were cuBLASLt's; another activation is applied here */
        if (st || s->act == LUCID_ACT_NONE) return st;
        lc_epilogue_args e = {.t = s->t, .x = out[0].data, .y = out[0].data,
                              .n = c->batch * c->oc * c->oh * c->ow, .channels = 1, .inner = 1,
                              .act = s->act, .alpha = s->act_alpha, .beta = s->act_beta};
        return lucid_kernel_check(lc_epilogue(&e, st_->stream, &why), why, err, "activation");
    }
    if (st || (!cs->bias && cs->c.act.kind == LUCID_ACT_NONE)) return st;
    lc_epilogue_args a = {.t = s->t, .x = out[0].data, .y = out[0].data, .bias = cs->bias,
                          .n = c->batch * c->oc * c->oh * c->ow, .channels = c->oc,
                          .inner = c->oh * c->ow, .act = c->act.kind, .alpha = c->act.alpha,
                          .beta = c->act.beta};
    return lucid_kernel_check(lc_epilogue(&a, st_->stream, &why), why, err, "epilogue");
}

#define GEMM_PREC_fp32 LUCID_PRECISION_FP32, 0
#define GEMM_PREC_tf32 LUCID_PRECISION_FP32, LUCID_TACTIC_TF32
#define GEMM_PREC_fp16 LUCID_PRECISION_FP16, 0
#define GEMM_PREC_bf16 LUCID_PRECISION_BF16, 0
#define GEMM_PREC(p) GEMM_PREC_##p
#define GEMM_TACTIC(prec, h)                                                                    \
    LUCID_CUDA_TACTIC_P(cuda_gemm_##prec##_h##h, "cuda.cublaslt.gemm." #prec ".heuristic" #h,    \
                        GEMM_PREC(prec), h, h, gemm_supports, gemm_prepare, gemm_release,       \
                        gemm_workspace, gemm_run)
#define CONV1X1_TACTIC(prec, h)                                                                 \
    LUCID_CUDA_TACTIC_P(cuda_conv1x1_##prec##_h##h,                                             \
                        "cuda.cublaslt.conv1x1." #prec ".heuristic" #h, GEMM_PREC(prec), 20 + h, \
                        h, conv1x1_supports, conv1x1_prepare, conv1x1_release,                 \
                        conv1x1_workspace, conv1x1_run)
#define GEMM_TACTICS(prec)                                                                      \
    GEMM_TACTIC(prec, 0) GEMM_TACTIC(prec, 1) GEMM_TACTIC(prec, 2) GEMM_TACTIC(prec, 3)         \
    CONV1X1_TACTIC(prec, 0) CONV1X1_TACTIC(prec, 1)
GEMM_TACTICS(fp32)
GEMM_TACTICS(tf32)
GEMM_TACTICS(fp16)
GEMM_TACTICS(bf16)
