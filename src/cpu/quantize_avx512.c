/* quantize_avx512.c - per-tensor QuantizeLinear (float32 -> int8/uint8) and DequantizeLinear
 * (int8/uint8 -> float32) with AVX-512: cpu.quantize.avx512 on plain tensors and
 * cpu.quantize.avx512.nhwc on channels-last ones (the same elementwise kernel: a per-tensor
 * scale does not care how elements are ordered), so that the float input of a quantized
 * network is quantized before its reorder to channels-last (a quarter of the bytes to move).
 * Bit-exact with the reference: x / scale in float32, rounded half to even, plus the zero
 * point, saturated; NaN gives the zero point. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "tactics/tactic.h"

#define QZ_GRAIN 16384

typedef struct qz_state {
    bool quantize;
    lucid_dtype qt;
    float scale;
    int32_t zp;
    int64_t count;
} qz_state;

static bool qz_refuse(char *why, size_t len, const char *msg)
{
    snprintf(why, len, "%s", msg);
    return false;
}

static bool qz_resolve(const lucid_graph *g, const lucid_node *n, qz_state *s, char *why,
                       size_t len)
{
    memset(s, 0, sizeof *s);
    if (n->op != LUCID_OP_QUANTIZE_LINEAR && n->op != LUCID_OP_DEQUANTIZE_LINEAR)
        return qz_refuse(why, len, "not QuantizeLinear or DequantizeLinear");
    s->quantize = n->op == LUCID_OP_QUANTIZE_LINEAR;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *sc = lucid_op_input(g, n, 1),
                          *z = lucid_op_input(g, n, 2), *y = lucid_op_output(g, n, 0);
    if (!lucid_tensor_shape_known(x) || !sc || !sc->data || lucid_tensor_numel(sc) != 1 ||
        sc->dtype != LUCID_DTYPE_FLOAT || (z && (!z->data || lucid_tensor_numel(z) != 1)))
        return qz_refuse(why, len, "needs one constant scale and zero point (per tensor)");
    s->qt = s->quantize ? y->dtype : x->dtype;
    if (s->qt != LUCID_DTYPE_INT8 && s->qt != LUCID_DTYPE_UINT8)
        return qz_refuse(why, len, "int8/uint8 only");
    if ((s->quantize ? x->dtype : y->dtype) != LUCID_DTYPE_FLOAT)
        return qz_refuse(why, len, "float32 only");
    s->scale = ((const float *)sc->data)[0];
    if (!(s->scale > 0) || s->scale > 3.4e38f) return qz_refuse(why, len, "bad scale");
    s->zp = z ? (int32_t)lucid_load_i64(z->dtype, z->data, 0) : 0;
    s->count = lucid_tensor_numel(x);
    return true;
}

static bool qz_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                        char *why, size_t len)
{
    if (!cpu->avx512f || !cpu->avx512bw) return qz_refuse(why, len, "needs AVX-512F/BW");
    qz_state s;
    return qz_resolve(g, n, &s, why, len);
}

static bool qz_nhwc_supports(const lucid_graph *g, const lucid_node *n,
                             const lucid_cpu_features *cpu, char *why, size_t len)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    if (!x || x->rank != 4) return qz_refuse(why, len, "channels-last needs 4-D");
    return qz_supports(g, n, cpu, why, len);
}

static lucid_status qz_prepare(const lucid_graph *g, const lucid_node *n, int threads,
                               void **state, lucid_error *err)
{
    (void)threads;
    char why[128];
    qz_state *s = malloc(sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!qz_resolve(g, n, s, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    *state = s;
    return LUCID_STATUS_OK;
}

static void qz_release(void *state)
{
    free(state);
}

typedef struct qz_job {
    const qz_state *s;
    const void *x;
    void *y;
} qz_job;

static inline int32_t qz_one(const qz_state *s, float x, float lo, float hi)
{
    float v = x / s->scale;
    if (!(v == v)) return s->zp;
    v = v < -2.0e9f ? -2.0e9f : v > 2.0e9f ? 2.0e9f : v; /* keeps the conversion defined */
    int64_t r = (int64_t)__builtin_roundevenf(v) + s->zp;
    return (int32_t)(r < (int64_t)lo ? (int64_t)lo : r > (int64_t)hi ? (int64_t)hi : r);
}

static void qz_items(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const qz_job *j = ctx;
    const qz_state *s = j->s;
    const bool u8 = s->qt == LUCID_DTYPE_UINT8;
    const float lo = u8 ? 0.0f : -128.0f, hi = u8 ? 255.0f : 127.0f;
    size_t i = begin;
    if (s->quantize) {
        const float *x = j->x;
        const __m512 vs = _mm512_set1_ps(s->scale), vz = _mm512_set1_ps((float)s->zp);
        const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
        for (; i + 16 <= end; i += 16) {
            __m512 v = _mm512_div_ps(_mm512_loadu_ps(x + i), vs);
            __mmask16 ord = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
            v = _mm512_maskz_mov_ps(ord, v); /* NaN -> 0 -> the zero point */
            /* clamp before rounding: beyond [lo - zp, hi - zp] everything saturates */
            v = _mm512_max_ps(_mm512_min_ps(v, _mm512_set1_ps(4.0e9f)), _mm512_set1_ps(-4.0e9f));
            v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, vz), vlo), vhi);
            __m128i q = _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
            _mm_storeu_si128((__m128i *)((char *)j->y + i), q);
        }
        for (; i < end; i++) {
            int32_t q = qz_one(s, x[i], lo, hi);
            if (u8)
                ((uint8_t *)j->y)[i] = (uint8_t)q;
            else
                ((int8_t *)j->y)[i] = (int8_t)q;
        }
    } else {
        float *y = j->y;
        const __m512 vs = _mm512_set1_ps(s->scale);
        const __m512i vz = _mm512_set1_epi32(s->zp);
        for (; i + 16 <= end; i += 16) {
            __m128i q = _mm_loadu_si128((const __m128i *)((const char *)j->x + i));
            __m512i w = u8 ? _mm512_cvtepu8_epi32(q) : _mm512_cvtepi8_epi32(q);
            __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(w, vz));
            _mm512_storeu_ps(y + i, _mm512_mul_ps(v, vs));
        }
        for (; i < end; i++) {
            int32_t q = u8 ? ((const uint8_t *)j->x)[i] : ((const int8_t *)j->x)[i];
            y[i] = (float)(q - s->zp) * s->scale;
        }
    }
}

static lucid_status qz_run(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                           int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)workspace;
    (void)err;
    const qz_state *s = state;
    qz_job j = {s, in[0].data, out[0].data};
    lucid_threadpool_run(pool, (size_t)s->count, QZ_GRAIN, qz_items, &j);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_cpu_quantize_avx512 = {
    .name = "cpu.quantize.avx512",
    .backend = "cpu",
    .preference = 300,
    .supports = qz_supports,
    .prepare = qz_prepare,
    .release = qz_release,
    .workspace = lucid_tactic_no_workspace,
    .run = qz_run,
};

const lucid_tactic lucid_tactic_cpu_quantize_avx512_nhwc = {
    .name = "cpu.quantize.avx512.nhwc",
    .backend = "cpu",
    .preference = 301,
    .in_layout = LUCID_LAYOUT_NHWC,
    .out_layout = LUCID_LAYOUT_NHWC,
    .supports = qz_nhwc_supports,
    .prepare = qz_prepare,
    .release = qz_release,
    .workspace = lucid_tactic_no_workspace,
    .run = qz_run,
};
