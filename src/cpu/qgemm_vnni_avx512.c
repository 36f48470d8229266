/* qgemm_vnni_avx512.c - lucid's own int8 kernel on AVX-512 VNNI (vpdpbusd: four u8 x s8
 * products summed into each int32 lane):
 *   cpu.qconv.int8.pointwise.vnni  QConv 1x1, stride 1, unpadded, one group, on channels-last
 *                                  activations: Y[pixels x M] = X[pixels x C] * W^T;
 *   cpu.qgemm.int8.vnni            QGemm: Y[rows x N] = A[rows x K] * W^T.
 * Both are one product of a row-major int8/uint8 matrix with the weights [M x K], which are
 * packed once at prepare into blocks of 16 output channels x 4 reduction steps (64 bytes:
 * one zmm, the layout vpdpbusd reads). A tile of up to 6 rows x 64 channels keeps 24 int32
 * accumulators in registers; each step broadcasts 4 input bytes of a row and multiplies them
 * with 4 such weight vectors.
 *
 * vpdpbusd wants unsigned activations: int8 inputs are flipped to uint8 (x + 128, an XOR of
 * the sign bits) and 128 * sum(w) is taken off each channel afterwards, together with the
 * input zero point's zp * sum(w). Sums are exact int32 (K is limited so that they cannot
 * overflow), so the result does not depend on blocking or threads. A quantized output with
 * Relu, Clip or no activation is requantized in the output's units (scales and bias divided
 * by y_scale once at prepare, one multiply-add per value, as oneDNN does): within one unit of
 * the reference. Otherwise (a float output, or another activation) the epilogue follows the
 * reference QConv/QGemm (src/ops/qconv.c) operation by operation in float32 - scale, bias,
 * residual, activation, v / y_scale rounded half to even, zero point, saturation - and
 * matches it exactly (activations other than Relu and Clip run the reference's scalar code
 * per element). */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ops/conv.h"
#include "ops/activation.h"
#include "ops/op.h"
#include "ops/qlayers.h"
#include "ops/quant_util.h"
#include "tactics/tactic.h"

/* the float epilogue is written operation by operation like the reference; contracting a
 * multiply and an add into one FMA would round differently */
#pragma GCC optimize("fp-contract=off")

#define VQ_ROWS 6   /* rows per register tile */
#define VQ_BLOCKS 4 /* 16-channel blocks per register tile */
/* the largest K whose exact sum fits int32: 4 products of at most 255 * 128 per step */
#define VQ_MAX_K 65536

enum { ACT_NONE, ACT_RELU, ACT_CLIP, ACT_OTHER };
enum { VZ_NONE, VZ_QUANT, VZ_FLOAT };

typedef struct vq_state {
    int64_t rows, k, m; /* rows of X (pixels, or A's rows), reduction, output channels */
    int64_t kq, mb;     /* 4-byte steps (K rounded up), 16-channel blocks */
    int8_t *w;          /* [mb][kq][16][4] */
    int32_t *comp;      /* [mb*16]: (flip + x_zp) * sum_k w */
    float *mult;        /* [mb*16]: x_scale * w_scale[m] */
    float *bias;        /* [mb*16], or NULL */
    /* the requantizing epilogue in the output's units (see fast_requant) */
    bool fast;
    float *qmult, *qbias; /* [mb*16]: mult / y_scale, bias / y_scale (0 without a bias) */
    float qz_scale, qlo, qhi; /* z_scale / y_scale; bounds in output units (fast_requant16) */
    bool flip;          /* int8 input: XOR 0x80 makes it uint8 */
    int zmode;
    bool z_signed;
    float z_scale;
    int32_t z_zp;
    bool quantized, y_signed;
    float y_scale;
    int32_t y_zp, qmin, qmax;
    int act;
    lucid_activation fact;
} vq_state;

static bool vq_refuse(char *why, size_t len, const char *msg)
{
    if (why && len) snprintf(why, len, "%s", msg);
    return false;
}

static bool is_q8(const lucid_ir_tensor *t)
{
    return t && (t->dtype == LUCID_DTYPE_INT8 || t->dtype == LUCID_DTYPE_UINT8);
}

static float const_f(const lucid_graph *g, const lucid_node *n, int i)
{
    const lucid_ir_tensor *t = lucid_op_input(g, n, i);
    return t && t->data ? ((const float *)t->data)[0] : 0.0f;
}

/* A zero point: 0 when absent; false when present but not a constant. */
static bool const_zp(const lucid_graph *g, const lucid_node *n, int i, int32_t *zp)
{
    const lucid_ir_tensor *t = lucid_op_input(g, n, i);
    *zp = 0;
    if (!t) return true;
    if (!t->data || lucid_tensor_numel(t) != 1) return false;
    *zp = (int32_t)lucid_load_i64(t->dtype, t->data, 0);
    return true;
}

/* Checks node n and fills s's shapes and epilogue (not the packed weights). */
static bool vq_resolve(const lucid_graph *g, const lucid_node *n, bool conv, vq_state *s,
                       char *why, size_t len)
{
    memset(s, 0, sizeof *s);
    if (n->op != (conv ? LUCID_OP_QCONV : LUCID_OP_QGEMM))
        return vq_refuse(why, len, conv ? "not a QConv" : "not a QGemm");
    const lucid_ir_tensor *x = lucid_op_input(g, n, LUCID_QIN_X),
                          *w = lucid_op_input(g, n, LUCID_QIN_W),
                          *ws = lucid_op_input(g, n, LUCID_QIN_W_SCALE),
                          *b = lucid_op_input(g, n, LUCID_QIN_B), *y = lucid_op_output(g, n, 0);
    if (!is_q8(x) || !lucid_tensor_shape_known(x) || !y || !lucid_tensor_shape_known(y))
        return vq_refuse(why, len, "needs an int8/uint8 input of known shape");
    if (!w || !w->data || w->dtype != LUCID_DTYPE_INT8 || !ws || !ws->data ||
        (b && (!b->data || b->dtype != LUCID_DTYPE_FLOAT)))
        return vq_refuse(why, len, "needs constant int8 weights, scales and bias");
    const lucid_ir_tensor *xs = lucid_op_input(g, n, LUCID_QIN_X_SCALE);
    if (!xs || !xs->data) return vq_refuse(why, len, "needs a constant input scale");
    int32_t xzp;
    if (!const_zp(g, n, LUCID_QIN_X_ZP, &xzp))
        return vq_refuse(why, len, "needs a constant input zero point");
    s->flip = x->dtype == LUCID_DTYPE_INT8;
    if (conv) {
        if (x->rank != 4 || w->rank != 4) return vq_refuse(why, len, "not a 2-D convolution");
        lucid_conv_geom geo;
        if (lucid_conv_resolve_geometry(n, n->params, x->rank, x->dims, w->rank, w->dims, &geo,
                                        NULL))
            return vq_refuse(why, len, "unreadable convolution attributes");
        if (geo.group != 1) return vq_refuse(why, len, "grouped convolution");
        for (int d = 0; d < geo.nsp; d++)
            if (geo.k[d] != 1 || geo.s[d] != 1 || geo.pb[d] || geo.pe[d])
                return vq_refuse(why, len, "not a 1x1, stride 1, unpadded convolution");
        s->k = geo.in_c;
        s->m = geo.out_c;
        s->rows = geo.batch * geo.out_size;
    } else {
        if (x->rank < 2 || w->rank != 2) return vq_refuse(why, len, "not a rows x K product");
        s->k = x->dims[x->rank - 1];
        s->m = w->dims[0];
        s->rows = lucid_tensor_numel(x) / (s->k ? s->k : 1);
        if (w->dims[1] != s->k) return vq_refuse(why, len, "weights do not match K");
    }
    if (s->k < 1 || s->k > VQ_MAX_K) return vq_refuse(why, len, "K is 0 or above 65536");
    if (lucid_tensor_numel(ws) != 1 && lucid_tensor_numel(ws) != s->m)
        return vq_refuse(why, len, "weight scales neither one nor one per channel");
    s->kq = (s->k + 3) / 4;
    s->mb = (s->m + 15) / 16;
    /* the residual (QConv) */
    const lucid_ir_tensor *z = conv ? lucid_op_input(g, n, LUCID_QCONV_Z) : NULL;
    if (z) {
        if (lucid_tensor_numel(z) != lucid_tensor_numel(y))
            return vq_refuse(why, len, "residual of another size");
        if (z->dtype == LUCID_DTYPE_FLOAT) {
            s->zmode = VZ_FLOAT;
        } else if (is_q8(z)) {
            const lucid_ir_tensor *zs = lucid_op_input(g, n, LUCID_QCONV_Z_SCALE);
            if (!zs || !zs->data || !const_zp(g, n, LUCID_QCONV_Z_ZP, &s->z_zp))
                return vq_refuse(why, len, "needs a constant residual scale and zero point");
            s->zmode = VZ_QUANT;
            s->z_signed = z->dtype == LUCID_DTYPE_INT8;
            s->z_scale = const_f(g, n, LUCID_QCONV_Z_SCALE);
        } else {
            return vq_refuse(why, len, "residual dtype");
        }
    }
    /* the output */
    const int ysi = conv ? LUCID_QCONV_Y_SCALE : LUCID_QGEMM_Y_SCALE;
    const lucid_ir_tensor *ys = lucid_op_input(g, n, ysi);
    s->quantized = ys != NULL;
    if (s->quantized) {
        if (!ys->data || !const_zp(g, n, ysi + 1, &s->y_zp) || !is_q8(y))
            return vq_refuse(why, len, "needs a constant output scale and zero point");
        s->y_scale = ((const float *)ys->data)[0];
        s->y_signed = y->dtype == LUCID_DTYPE_INT8;
        lucid_q_dtype_range(y->dtype, &s->qmin, &s->qmax);
    } else if (y->dtype != LUCID_DTYPE_FLOAT) {
        return vq_refuse(why, len, "output dtype");
    }
    const lucid_activation *act = lucid_node_activation(n);
    if (!act) return vq_refuse(why, len, "activation not parsed");
    s->fact = *act;
    s->act = s->fact.kind == LUCID_ACT_NONE                 ? ACT_NONE
             : !lucid_activation_is_piecewise_linear(&s->fact) ? ACT_OTHER
             : lucid_activation_apply(&s->fact, -1.0f) == 0.0f &&
                     lucid_activation_apply(&s->fact, 1e30f) == 1e30f
                 ? ACT_RELU
                 : ACT_CLIP;
    /* the reference checks the scales at run time; a graph whose scales it would refuse is
     * left to it */
    const float xsv = const_f(g, n, LUCID_QIN_X_SCALE);
    if (!lucid_q_scale_ok(xsv) || (s->quantized && !lucid_q_scale_ok(s->y_scale)) ||
        (s->zmode == VZ_QUANT && !lucid_q_scale_ok(s->z_scale)))
        return vq_refuse(why, len, "a scale is not positive and finite (reference only)");
    for (int64_t i = 0; i < lucid_tensor_numel(ws); i++)
        if (!lucid_q_scale_ok(((const float *)ws->data)[i]))
            return vq_refuse(why, len, "a weight scale is not positive and finite");
    return true;
}

static bool vq_supports_common(const lucid_graph *g, const lucid_node *n, bool conv,
                               const lucid_cpu_features *cpu, char *why, size_t len)
{
    if (!cpu->avx512f || !cpu->avx512bw || !cpu->avx512_vnni)
        return vq_refuse(why, len, "needs AVX-512 VNNI");
    vq_state s;
    return vq_resolve(g, n, conv, &s, why, len);
}

static bool vq_conv_supports(const lucid_graph *g, const lucid_node *n,
                             const lucid_cpu_features *cpu, char *why, size_t len)
{
    return vq_supports_common(g, n, true, cpu, why, len);
}

static bool vq_gemm_supports(const lucid_graph *g, const lucid_node *n,
                             const lucid_cpu_features *cpu, char *why, size_t len)
{
    return vq_supports_common(g, n, false, cpu, why, len);
}

static void vq_release(void *state)
{
    vq_state *s = state;
    if (!s) return;
    free(s->w);
    free(s->comp);
    free(s->mult);
    free(s->bias);
    free(s->qmult);
    free(s->qbias);
    free(s);
}

static lucid_status vq_prepare_common(const lucid_graph *g, const lucid_node *n, bool conv,
                                      void **state, lucid_error *err)
{
    char why[160];
    vq_state *s = malloc(sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!vq_resolve(g, n, conv, s, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    const int64_t mp = s->mb * 16;
    const size_t wbytes = (size_t)(mp * s->kq * 4);
    s->w = aligned_alloc(64, (wbytes + 63) / 64 * 64);
    s->comp = malloc(sizeof(int32_t) * (size_t)mp);
    s->mult = malloc(sizeof(float) * (size_t)mp);
    const lucid_ir_tensor *b = lucid_op_input(g, n, LUCID_QIN_B);
    s->bias = b ? malloc(sizeof(float) * (size_t)mp) : NULL;
    /* quantized output with Relu, Clip or no activation: the epilogue works in the output's
     * units, as oneDNN's does (one multiply-add per value instead of a division) */
    s->fast = s->quantized && s->act != ACT_OTHER;
    if (s->fast) {
        s->qmult = malloc(sizeof(float) * (size_t)mp);
        s->qbias = malloc(sizeof(float) * (size_t)mp);
        s->qz_scale = s->z_scale / s->y_scale;
        const float alo = s->act == ACT_NONE   ? -INFINITY
                          : s->act == ACT_RELU ? 0.0f
                                               : s->fact.alpha / s->y_scale;
        const float ahi = s->act == ACT_CLIP ? s->fact.beta / s->y_scale : INFINITY;
        const float rlo = (float)(s->qmin - s->y_zp), rhi = (float)(s->qmax - s->y_zp);
        s->qlo = alo > rlo ? alo : rlo;
        s->qhi = ahi < rhi ? ahi : rhi;
        if (s->qhi < s->qlo) s->qhi = s->qlo; /* a Clip range outside the output's */
    }
    if (!s->w || !s->comp || !s->mult || (b && !s->bias) || (s->fast && (!s->qmult || !s->qbias))) {
        vq_release(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    const int8_t *w = lucid_op_input(g, n, LUCID_QIN_W)->data;
    const lucid_ir_tensor *ws = lucid_op_input(g, n, LUCID_QIN_W_SCALE);
    const int64_t wsn = lucid_tensor_numel(ws);
    const float xs = const_f(g, n, LUCID_QIN_X_SCALE);
    int32_t xzp;
    const_zp(g, n, LUCID_QIN_X_ZP, &xzp);
    memset(s->w, 0, wbytes);
    for (int64_t m = 0; m < mp; m++) {
        int64_t sum = 0;
        for (int64_t k = 0; m < s->m && k < s->k; k++) {
            int8_t v = w[m * s->k + k];
            sum += v;
            s->w[((m / 16) * s->kq + k / 4) * 64 + (m % 16) * 4 + k % 4] = v;
        }
        s->comp[m] = (int32_t)((s->flip ? 128 + xzp : xzp) * sum);
        /* the reference's x_scale * w_scale[m], in float32 */
        s->mult[m] = m < s->m ? xs * ((const float *)ws->data)[wsn == 1 ? 0 : m] : 0.0f;
        if (s->bias) s->bias[m] = m < s->m ? ((const float *)b->data)[m] : 0.0f;
        if (s->fast) {
            s->qmult[m] = s->mult[m] / s->y_scale;
            s->qbias[m] = s->bias ? s->bias[m] / s->y_scale : 0.0f;
        }
    }
    *state = s;
    return LUCID_STATUS_OK;
}

static lucid_status vq_conv_prepare(const lucid_graph *g, const lucid_node *n, int threads,
                                    void **state, lucid_error *err)
{
    (void)threads;
    return vq_prepare_common(g, n, true, state, err);
}

static lucid_status vq_gemm_prepare(const lucid_graph *g, const lucid_node *n, int threads,
                                    void **state, lucid_error *err)
{
    (void)threads;
    return vq_prepare_common(g, n, false, state, err);
}

typedef struct vq_run {
    const vq_state *s;
    const uint8_t *x;
    const void *z;
    void *y;
    int64_t row_tiles, col_tiles;
} vq_run;

/* The requantizing epilogue of 16 channels of one row in the output's units:
 * v = acc * (mult / y_scale) + bias / y_scale (+ residual * z_scale / y_scale), clipped by
 * the activation's bounds over y_scale, rounded half to even, plus the zero point, saturated.
 * The same value as the reference's up to float rounding in another order, so a value within
 * rounding of a tie may land one unit away. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) static inline void
fast_requant16(const vq_state *s, __m512i acc, int64_t row, int64_t m0, const void *z, void *y)
{
    const int64_t left = s->m - m0;
    const __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
    const int64_t at = row * s->m + m0;
    acc = _mm512_sub_epi32(acc, _mm512_loadu_si512(s->comp + m0));
    __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(s->qmult + m0),
                               _mm512_loadu_ps(s->qbias + m0));
    if (s->zmode == VZ_QUANT) {
        __m128i zb = _mm_maskz_loadu_epi8(mask, (const uint8_t *)z + at);
        __m512i zi = s->z_signed ? _mm512_cvtepi8_epi32(zb) : _mm512_cvtepu8_epi32(zb);
        zi = _mm512_sub_epi32(zi, _mm512_set1_epi32(s->z_zp));
        v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(zi), _mm512_set1_ps(s->qz_scale), v);
    } else if (s->zmode == VZ_FLOAT) {
        v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, (const float *)z + at),
                            _mm512_set1_ps(1.0f / s->y_scale), v);
    }
    /* the activation's bounds and the output range less the zero point, both in output
     * units (s->qlo, s->qhi): clamping to integer bounds before rounding saturates as
     * rounding and then saturating does. NaN can only come from a float residual: it gives
     * the zero point, as in the reference. */
    __mmask16 ordered = 0xffff;
    if (s->zmode == VZ_FLOAT) ordered = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(s->qlo)), _mm512_set1_ps(s->qhi));
    __m512i r = _mm512_maskz_cvtps_epi32(ordered, v);
    if (s->y_zp) r = _mm512_add_epi32(r, _mm512_set1_epi32(s->y_zp));
    _mm_mask_storeu_epi8((uint8_t *)y + at, mask, _mm512_cvtepi32_epi8(r));
}

/* The epilogue of 16 channels of one row: acc (int32) to the output. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) static inline void
epilogue16(const vq_state *s, __m512i acc, int64_t row, int64_t m0, const void *z, void *y)
{
    const int64_t left = s->m - m0;
    const __mmask16 mask = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
    const int64_t at = row * s->m + m0;
    acc = _mm512_sub_epi32(acc, _mm512_loadu_si512(s->comp + m0));
    __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(s->mult + m0));
    if (s->bias) v = _mm512_add_ps(v, _mm512_loadu_ps(s->bias + m0));
    if (s->zmode == VZ_FLOAT) {
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, (const float *)z + at));
    } else if (s->zmode == VZ_QUANT) {
        __m128i zb = _mm_maskz_loadu_epi8(mask, (const uint8_t *)z + at);
        __m512i zi = s->z_signed ? _mm512_cvtepi8_epi32(zb) : _mm512_cvtepu8_epi32(zb);
        zi = _mm512_sub_epi32(zi, _mm512_set1_epi32(s->z_zp));
        v = _mm512_add_ps(v, _mm512_mul_ps(_mm512_cvtepi32_ps(zi), _mm512_set1_ps(s->z_scale)));
    }
    switch (s->act) {
    case ACT_RELU:
        /* max returns its second operand for NaN, which then passes as in the reference */
        v = _mm512_max_ps(_mm512_setzero_ps(), v);
        break;
    case ACT_CLIP:
        v = _mm512_max_ps(_mm512_set1_ps(s->fact.alpha), v);
        v = _mm512_min_ps(_mm512_set1_ps(s->fact.beta), v);
        break;
    case ACT_OTHER: {
        float t[16];
        _mm512_storeu_ps(t, v);
        for (int i = 0; i < 16; i++) t[i] = lucid_activation_apply(&s->fact, t[i]);
        v = _mm512_loadu_ps(t);
        break;
    }
    default:
        break;
    }
    if (!s->quantized) {
        _mm512_mask_storeu_ps((float *)y + at, mask, v);
        return;
    }
    /* lucid_q_quantize: v / scale, clamped to +-2e9, rounded half to even (the default
     * rounding mode), plus the zero point, saturated; NaN gives the zero point */
    __m512 q = _mm512_div_ps(v, _mm512_set1_ps(s->y_scale));
    const __mmask16 ordered = _mm512_cmp_ps_mask(q, q, _CMP_ORD_Q);
    q = _mm512_min_ps(_mm512_max_ps(q, _mm512_set1_ps(-2.0e9f)), _mm512_set1_ps(2.0e9f));
    __m512i r = _mm512_maskz_cvtps_epi32(ordered, q);
    r = _mm512_add_epi32(r, _mm512_set1_epi32(s->y_zp));
    r = _mm512_min_epi32(_mm512_max_epi32(r, _mm512_set1_epi32(s->qmin)),
                         _mm512_set1_epi32(s->qmax));
    _mm_mask_storeu_epi8((uint8_t *)y + at, mask, _mm512_cvtepi32_epi8(r));
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq"))) static void
epilogue_tile(const vq_state *s, const int32_t (*sums)[VQ_BLOCKS][16], int rb, int nb,
              int64_t r0, int64_t b0, const void *z, void *y)
{
    if (s->fast) {
        for (int i = 0; i < rb; i++)
            for (int j = 0; j < nb; j++)
                fast_requant16(s, _mm512_load_si512((const void *)sums[i][j]), r0 + i,
                               (b0 + j) * 16, z, y);
        return;
    }
    for (int i = 0; i < rb; i++)
        for (int j = 0; j < nb; j++)
            epilogue16(s, _mm512_load_si512((const void *)sums[i][j]), r0 + i, (b0 + j) * 16, z,
                       y);
}

/* acc += the four u8 x s8 products of each lane. Written as an instruction with the
 * accumulator tied in place: GCC's intrinsic copied the accumulators between registers at
 * every step. */
#define VQ_DPBUSD(acc, xu8, ws8) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(xu8), "v"(ws8))

/* One register tile: rows [r0, r0 + rb) x blocks [b0, b0 + nb), the whole reduction. rb and
 * nb are constants at every call site, so the arrays below live in registers. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))) static inline
    __attribute__((always_inline)) void
    tile(const vq_run *r, const int rb, const int nb, const bool flip, int64_t r0, int64_t b0)
{
    const vq_state *s = r->s;
    __m512i acc[VQ_ROWS][VQ_BLOCKS];
#pragma GCC unroll 8
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nb; j++) acc[i][j] = _mm512_setzero_si512();
    const __m512i signs = _mm512_set1_epi32((int32_t)0x80808080u);
    const int8_t *wb = s->w + b0 * s->kq * 64;
    const uint8_t *xr = r->x + r0 * s->k;
    const int64_t full = s->k / 4;
    for (int64_t q = 0; q < full; q++) {
        __m512i wv[VQ_BLOCKS];
#pragma GCC unroll 4
        for (int j = 0; j < nb; j++)
            wv[j] = _mm512_load_si512((const void *)(wb + (j * s->kq + q) * 64));
#pragma GCC unroll 8
        for (int i = 0; i < rb; i++) {
            int32_t x4;
            memcpy(&x4, xr + i * s->k + 4 * q, 4);
            __m512i xb = _mm512_set1_epi32(x4);
            if (flip) xb = _mm512_xor_si512(xb, signs);
#pragma GCC unroll 4
            for (int j = 0; j < nb; j++) VQ_DPBUSD(acc[i][j], xb, wv[j]);
        }
    }
    if (full < s->kq) {
        /* the last, partial step: only the bytes that exist (the weights past K are 0) */
        const int64_t q = full, tail = s->k - 4 * full;
        __m512i wv[VQ_BLOCKS];
#pragma GCC unroll 4
        for (int j = 0; j < nb; j++)
            wv[j] = _mm512_load_si512((const void *)(wb + (j * s->kq + q) * 64));
#pragma GCC unroll 8
        for (int i = 0; i < rb; i++) {
            const uint8_t *p = xr + i * s->k + 4 * q;
            const int32_t x4 = (int32_t)((uint32_t)p[0] | (tail > 1 ? (uint32_t)p[1] << 8 : 0u) |
                                         (tail > 2 ? (uint32_t)p[2] << 16 : 0u));
            __m512i xb = _mm512_set1_epi32(x4);
            if (flip) xb = _mm512_xor_si512(xb, signs);
#pragma GCC unroll 4
            for (int j = 0; j < nb; j++) VQ_DPBUSD(acc[i][j], xb, wv[j]);
        }
    }
    /* the sums leave the registers once; the epilogue runs from memory, out of line */
    __attribute__((aligned(64))) int32_t sums[VQ_ROWS][VQ_BLOCKS][16];
#pragma GCC unroll 8
    for (int i = 0; i < rb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nb; j++) _mm512_store_si512((void *)sums[i][j], acc[i][j]);
    epilogue_tile(s, sums, rb, nb, r0, b0, r->z, r->y);
}

#define VQ_NB_CASES(rb)                                                                       \
    switch (nb * 2 + (s->flip ? 1 : 0)) {                                                      \
    case 2: tile(r, rb, 1, false, r0, b0); break;                                              \
    case 3: tile(r, rb, 1, true, r0, b0); break;                                               \
    case 4: tile(r, rb, 2, false, r0, b0); break;                                              \
    case 5: tile(r, rb, 2, true, r0, b0); break;                                               \
    case 6: tile(r, rb, 3, false, r0, b0); break;                                              \
    case 7: tile(r, rb, 3, true, r0, b0); break;                                               \
    case 8: tile(r, rb, 4, false, r0, b0); break;                                              \
    default: tile(r, rb, 4, true, r0, b0); break;                                              \
    }

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))) static void
tile_any(const vq_run *r, int rb, int nb, int64_t r0, int64_t b0)
{
    const vq_state *s = r->s;
    switch (rb) {
    case 1: VQ_NB_CASES(1) break;
    case 2: VQ_NB_CASES(2) break;
    case 3: VQ_NB_CASES(3) break;
    case 4: VQ_NB_CASES(4) break;
    case 5: VQ_NB_CASES(5) break;
    default: VQ_NB_CASES(6) break;
    }
}

/* With rows enough for every thread, each thread takes a contiguous range of row tiles and
 * runs them column tile by column tile, so that one column tile's weights stay in its caches
 * while its rows pass, and no thread reads another's rows; with fewer rows (a QGemm of one
 * row) the threads split the column tiles instead. */
static void run_tiles(const vq_run *r, int64_t rt0, int64_t rt1, int64_t ct0, int64_t ct1)
{
    const vq_state *s = r->s;
    for (int64_t ct = ct0; ct < ct1; ct++) {
        const int64_t b0 = ct * VQ_BLOCKS;
        const int nb = (int)(s->mb - b0 < VQ_BLOCKS ? s->mb - b0 : VQ_BLOCKS);
        for (int64_t rt = rt0; rt < rt1; rt++) {
            const int64_t r0 = rt * VQ_ROWS;
            const int rb = (int)(s->rows - r0 < VQ_ROWS ? s->rows - r0 : VQ_ROWS);
            tile_any(r, rb, nb, r0, b0);
        }
    }
}

static void vq_rows_task(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const vq_run *r = ctx;
    run_tiles(r, (int64_t)begin, (int64_t)end, 0, r->col_tiles);
}

static void vq_cols_task(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const vq_run *r = ctx;
    run_tiles(r, 0, r->row_tiles, (int64_t)begin, (int64_t)end);
}

static lucid_status vq_run_layer(const void *state, const lucid_array *in, int n_in,
                                 lucid_array *out, int n_out, void *workspace,
                                 lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    (void)workspace;
    (void)err;
    const vq_state *s = state;
    vq_run r = {.s = s, .x = in[LUCID_QIN_X].data, .y = out[0].data};
    if (s->zmode != VZ_NONE && n_in > LUCID_QCONV_Z) r.z = in[LUCID_QCONV_Z].data;
    r.row_tiles = (s->rows + VQ_ROWS - 1) / VQ_ROWS;
    r.col_tiles = (s->mb + VQ_BLOCKS - 1) / VQ_BLOCKS;
    if (r.row_tiles >= lucid_threadpool_size(pool))
        lucid_threadpool_run(pool, (size_t)r.row_tiles, 1, vq_rows_task, &r);
    else
        lucid_threadpool_run(pool, (size_t)r.col_tiles, 1, vq_cols_task, &r);
    return LUCID_STATUS_OK;
}

/* Exact integer sums and an epilogue per element: the same result for any thread count. */
const lucid_tactic lucid_tactic_cpu_qconv_int8_pointwise_vnni = {
    .name = "cpu.qconv.int8.pointwise.vnni",
    .backend = "cpu",
    .preference = 310,
    .in_layout = LUCID_LAYOUT_NHWC,
    .out_layout = LUCID_LAYOUT_NHWC,
    .supports = vq_conv_supports,
    .prepare = vq_conv_prepare,
    .release = vq_release,
    .workspace = lucid_tactic_no_workspace,
    .run = vq_run_layer,
};

const lucid_tactic lucid_tactic_cpu_qgemm_int8_vnni = {
    .name = "cpu.qgemm.int8.vnni",
    .backend = "cpu",
    .preference = 311,
    .supports = vq_gemm_supports,
    .prepare = vq_gemm_prepare,
    .release = vq_release,
    .workspace = lucid_tactic_no_workspace,
    .run = vq_run_layer,
};
