/* kernels.h - lucid's own CUDA kernels (kernels.cu), as extern "C" launchers taking plain
 * structs and a stream. Each launcher enqueues its kernel and returns LUCID_STATUS_OK, or
 * LUCID_STATUS_INTERNAL with the CUDA error's text in *why. Element types: lc_type; all
 * arithmetic is float32, so 16-bit storage loses nothing beyond its own rounding. */
#ifndef LUCID_CUDA_KERNELS_H
#define LUCID_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "lucid.h"
#include "ops/activation.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum lc_type { LC_F32 = 0, LC_F16 = 1, LC_BF16 = 2 } lc_type;

/* What the elementwise kernels apply: an activation of lucid's fused layers (lucid_act,
 * ops/activation.h, with its values), or a standalone unary op numbered after those. */
typedef int lc_act;
enum {
    LC_ACT_ELU = LUCID_ACT_COUNT,
    LC_ACT_SELU,
    LC_ACT_SOFTPLUS,
    LC_ACT_EXP,
    LC_ACT_NEG,
    LC_ACT_ABS,
    LC_ACT_SQRT,
    LC_ACT_ERF,
    LC_ACT_LOG,
    LC_ACT_RECIPROCAL,
    LC_ACT_FLOOR,
    LC_ACT_CEIL,
};

#define LC_MAX_RANK 8

/* y[i] = convert(x[i]) between any two element types */
lucid_status lc_convert(const void *x, lc_type xt, void *y, lc_type yt, int64_t n, void *stream,
                        const char **why);

/* y = convert(x) of n images of c channels and hw positions, NCHW -> NHWC (to_nhwc) or
 * NHWC -> NCHW: the engine boundary of channels-last plans */
lucid_status lc_convert_layout(const void *x, lc_type xt, void *y, lc_type yt, int64_t n,
                               int64_t c, int64_t hw, int to_nhwc, void *stream,
                               const char **why);

/* y = act(y_in + bias[c] + z) where c = (i / inner) % channels; bias (float32) and z (type t,
 * same shape as y) may be NULL; x may equal y. */
typedef struct lc_epilogue_args {
    lc_type t;
    const void *x;
    void *y;
    const float *bias;
    const void *z;
    int64_t n, channels, inner;
    lc_act act;
    float alpha, beta;
} lc_epilogue_args;
lucid_status lc_epilogue(const lc_epilogue_args *a, void *stream, const char **why);

/* out = op(a, b) with broadcasting: strides (elements) of a and b for each output dim, 0 where
 * broadcast; dims is out's shape. */
typedef enum lc_binop { LC_ADD, LC_SUB, LC_MUL, LC_DIV, LC_POW, LC_MAX, LC_MIN } lc_binop;
typedef struct lc_binary_args {
    lc_type t;
    lc_binop op;
    const void *a, *b;
    void *y;
    int rank;
    int64_t dims[LC_MAX_RANK];
    int64_t sa[LC_MAX_RANK], sb[LC_MAX_RANK];
    int64_t n;
    /* activation applied after op (fusions may use it; NONE otherwise) */
    lc_act act;
    float alpha, beta;
} lc_binary_args;
lucid_status lc_binary(const lc_binary_args *a, void *stream, const char **why);

/* y[obase + sum idx_k * os_k] = x[ibase + sum idx_k * is_k] over every index of dims: Transpose,
 * Slice, Expand, Concat and Split parts, layout changes. Element size esize (1..8 bytes). */
typedef struct lc_copy_args {
    int esize;
    const void *x;
    void *y;
    int rank;
    int64_t dims[LC_MAX_RANK];
    int64_t is[LC_MAX_RANK], os[LC_MAX_RANK];
    int64_t ibase, obase;
    int64_t n;
} lc_copy_args;
lucid_status lc_copy(const lc_copy_args *a, void *stream, const char **why);

/* A Concat of contiguous rows in one launch: the whole tensor is `rows` rows of `width`
 * elements, part k is `rows` rows of w[k] elements, copied to element off[k] of each whole row
 * (a Concat along an axis: the dims stored before it make the rows, as for the channels of a
 * channels-last tensor or any axis of an NCHW one); a NULL part is skipped. Needs
 * rows * width < 2^31 and n_parts <= LC_PARTS_MAX: LUCID_STATUS_UNSUPPORTED otherwise. */
#define LC_PARTS_MAX 64
typedef struct lc_parts_args {
    int esize;
    int n_parts;
    int64_t rows, width;
    int64_t w[LC_PARTS_MAX], off[LC_PARTS_MAX];
    const void *part[LC_PARTS_MAX];
    void *whole;
} lc_parts_args;
lucid_status lc_parts(const lc_parts_args *a, void *stream, const char **why);

/* 2-D pooling window over planes = batch * channels, NCHW or (nhwc) NHWC; count: per output
 * position (oh x ow) the average's divisor */
typedef struct lc_pool_args {
    lc_type t;
    int is_max;
    const void *x;
    void *y;
    int64_t planes, ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
    const float *count;
    int nhwc;
    int64_t channels;
} lc_pool_args;
lucid_status lc_pool(const lc_pool_args *a, void *stream, const char **why);

/* global pooling: y[p] = max or mean of x[p * plane .. (p + 1) * plane) */
lucid_status lc_global_pool(lc_type t, int is_max, const void *x, void *y, int64_t planes,
                            int64_t plane, void *stream, const char **why);

/* the same over NHWC: y[b, c] = max or mean of x[b, 0..plane, c]. A large plane is split
 * among blocks whose float32 partial results go to work (lc_global_pool_nhwc_workspace bytes;
 * with less, or NULL, one block reduces each image's whole plane), then are reduced in a fixed
 * order. */
size_t lc_global_pool_nhwc_workspace(lc_type t, int64_t batch, int64_t channels, int64_t plane);
lucid_status lc_global_pool_nhwc(lc_type t, int is_max, const void *x, void *y, int64_t batch,
                                 int64_t channels, int64_t plane, void *work, size_t work_size,
                                 void *stream, const char **why);

/* softmax (or log-softmax) of each row of `cols` values */
lucid_status lc_softmax(lc_type t, int log, const void *x, void *y, int64_t rows, int64_t cols,
                        void *stream, const char **why);

/* y = x * scale[c] + shift[c], c = (i / inner) % channels (BatchNormalization folded to an
 * affine map at prepare time), then act */
lucid_status lc_channel_affine(lc_type t, const void *x, void *y, const float *scale,
                               const float *shift, int64_t n, int64_t channels, int64_t inner,
                               lc_act act, float alpha, float beta, void *stream,
                               const char **why);

/* grouped 2-D convolution computed directly (depthwise: group == ic, one filter per channel,
 * multiplier oc / ic), NCHW or (nhwc) NHWC, float32 weights, epilogue act(conv + bias + z) */
typedef struct lc_dwconv_args {
    lc_type t;
    const void *x;
    void *y;
    const float *w;    /* NCHW: oc x icg x kh x kw; NHWC: kh x kw x icg x oc (icg = ic / group) */
    const float *bias; /* oc, or NULL */
    const void *z;     /* residual, or NULL */
    int64_t batch, ic, oc, ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
    lc_act act;
    float alpha, beta;
    int64_t group; /* 0 means ic (depthwise) */
    int nhwc;
} lc_dwconv_args;
lucid_status lc_dwconv(const lc_dwconv_args *a, void *stream, const char **why);

/* nearest resize of the last two dims: iy = floor(oy * ih / oh) (ONNX asymmetric, floor, for
 * integer scale factors) */
lucid_status lc_resize_nearest(lc_type t, const void *x, void *y, int64_t planes, int64_t ih,
                               int64_t iw, int64_t oh, int64_t ow, void *stream,
                               const char **why);

/* the same over NHWC: planes = batch, c channels per position */
lucid_status lc_resize_nearest_nhwc(lc_type t, const void *x, void *y, int64_t batch,
                                    int64_t c, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                                    void *stream, const char **why);

/* constant pad: y (dims) from x (xdims) placed at begin pads, value elsewhere; edge: the
 * nearest element of x instead of value */
typedef struct lc_pad_args {
    lc_type t;
    const void *x;
    void *y;
    int rank;
    int64_t ydims[LC_MAX_RANK], xdims[LC_MAX_RANK], begin[LC_MAX_RANK];
    int64_t n;
    float value;
    int edge;
} lc_pad_args;
lucid_status lc_pad(const lc_pad_args *a, void *stream, const char **why);

/* fills a buffer of n elements with deterministic values in [-1, 1) (builder timing inputs) */
lucid_status lc_fill(lc_type t, void *y, int64_t n, void *stream, const char **why);

/* ---- int8: QuantizeLinear, DequantizeLinear and lucid's QConv and QGemm. Quantized tensors
 * hold int8 or uint8; scales and epilogues run in float32, rounding halves to even as ONNX
 * does; integer sums are exact (int32). */
typedef enum lc_q8 { LC_Q_S8 = 0, LC_Q_U8 = 1 } lc_q8;

/* y = saturate(round_half_even(x / scale) + zp), x of float type t */
lucid_status lc_quantize(lc_type t, const void *x, lc_q8 yq, void *y, int64_t n, float scale,
                         int32_t zp, void *stream, const char **why);
/* y = (x - zp) * scale as float type t */
lucid_status lc_dequantize(lc_q8 xq, const void *x, lc_type t, void *y, int64_t n, float scale,
                           int32_t zp, void *stream, const char **why);

/* im2col of an NHWC int8 / uint8 batch [batch, ih, iw, c] for a convolution's window: one
 * signed int8 row of kp >= kh * kw * c values per output position (batch, oy, ox), ordered
 * (ky, kx, channel), zero from kh * kw * c on. Each value is x - off (off 128 for uint8, 0 for
 * int8); the padding is zp - off (the zero point: no contribution once the layer's correction
 * adds back (off - zp) times the weights' sum). A 1x1 stride-1 window is a plain copy. */
typedef struct lc_q8_im2col_args {
    lc_q8 xq;
    const void *x;
    int32_t zp;
    int8_t *y;
    int64_t batch, c, ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, kp;
} lc_q8_im2col_args;
lucid_status lc_q8_im2col(const lc_q8_im2col_args *a, void *stream, const char **why);

/* The int8 layers' epilogue over rows x m accumulators, channel fastest (NHWC, a GEMM's
 * rows): v = act(float(acc + corr[c]) * mult[c] + bias[c] + z), then y as float type t or
 * quantized. z_kind / y_kind: 0 none (z only), 1 float type t, 2 int8, 3 uint8. */
typedef struct lc_q8_epilogue_args {
    const int32_t *acc;
    const int32_t *corr;
    const float *mult, *bias;
    int z_kind;
    const void *z;
    float z_scale;
    int32_t z_zp;
    lc_act act;
    float alpha, beta;
    int y_kind;
    void *y;
    float y_scale;
    int32_t y_zp;
    lc_type t;
    int64_t rows, m;
    /* quantized outputs with no activation, Relu or Clip: the same in the output's units,
     * one multiply-add per value (scales and bias divided by y_scale once; the activation's
     * bounds too), which differs from the float path by at most one unit where a value lies
     * within float rounding of a rounding tie. NULL fmult: the float path. */
    const float *fmult, *fbias; /* mult / y_scale, bias / y_scale (fbias may be NULL) */
    float fz;                   /* z_scale / y_scale (quantized z), 1 / y_scale (float z) */
    float flo, fhi;             /* the activation's bounds / y_scale (-inf, inf for none) */
} lc_q8_epilogue_args;
lucid_status lc_q8_epilogue(const lc_q8_epilogue_args *a, void *stream, const char **why);

/* QConv computed directly over NHWC (depthwise and other grouped convolutions), the epilogue
 * e fused (its acc, corr, rows and m unused) */
typedef struct lc_q8_dconv_args {
    lc_q8 xq;
    const void *x;
    int32_t x_zp;
    const int8_t *w; /* [oc][ic / group][kh][kw], or with w_hwc [kh][kw][oc] */
    /* depthwise (group == ic == oc, oc a multiple of 4): weights [kh][kw][oc], four channels
     * per thread */
    int w_hwc;
    int64_t batch, ic, oc, group, ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
    lc_q8_epilogue_args e;
} lc_q8_dconv_args;
lucid_status lc_q8_dconv(const lc_q8_dconv_args *a, void *stream, const char **why);

/* max pooling (a->is_max) over int8 or uint8 values; a->t is not read */
lucid_status lc_pool_q8(const lc_pool_args *a, lc_q8 q, void *stream, const char **why);

#ifdef __cplusplus
}
#endif
#endif
