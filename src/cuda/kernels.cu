// kernels.cu - lucid's own CUDA kernels (elementwise, broadcasting, copies, pooling, softmax,
// depthwise convolution, resize, pad, and the int8 layers' quantize, im2col and epilogue) behind
// the extern "C" launchers of kernels.h. Every kernel computes in float32 and reads/writes float32,
// float16 or bfloat16 storage; reductions run in a fixed order, so results do not vary from run to
// run.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <math.h>
#include <stdint.h>

#include <initializer_list>
#include <type_traits>

#include "cuda/kernels.h"

namespace {

__device__ __forceinline__ float ld(const float *p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const __half *p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ float ld(const __nv_bfloat16 *p, int64_t i)
{
    return __bfloat162float(p[i]);
}
__device__ __forceinline__ void st(float *p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__half *p, int64_t i, float v) { p[i] = __float2half_rn(v); }
__device__ __forceinline__ void st(__nv_bfloat16 *p, int64_t i, float v)
{
    p[i] = __float2bfloat16_rn(v);
}
// int8 / uint8 storage (max pooling on quantized tensors: values stay integers)
__device__ __forceinline__ float ld(const int8_t *p, int64_t i)
{
    return (float)p[i];
}
__device__ __forceinline__ float ld(const uint8_t *p, int64_t i)
{
    return (float)p[i];
}
__device__ __forceinline__ void st(int8_t *p, int64_t i, float v)
{
    p[i] = (int8_t)v;
}
__device__ __forceinline__ void st(uint8_t *p, int64_t i, float v)
{
    p[i] = (uint8_t)v;
}

__device__ __forceinline__ float sigmoidf(float v)
{
    return v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));
}

static_assert(LUCID_ACT_COUNT == 11, "act_apply has a case for every activation");

__device__ __forceinline__ float act_apply(lc_act act, float v, float alpha, float beta)
{
    switch (act) {
    case LUCID_ACT_NONE: return v;
    case LUCID_ACT_RELU: return v < 0 ? 0.0f : v;
    case LUCID_ACT_CLIP: {
        float t = v < alpha ? alpha : v;
        return t > beta ? beta : t;
    }
    case LUCID_ACT_LEAKY_RELU: return v < 0 ? alpha * v : v;
    case LUCID_ACT_SIGMOID: return sigmoidf(v);
    case LUCID_ACT_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, alpha * v + beta));
    case LUCID_ACT_HARD_SWISH: return v * fmaxf(0.0f, fminf(1.0f, v * (1.0f / 6.0f) + 0.5f));
    case LUCID_ACT_SILU: return v * sigmoidf(v);
    case LUCID_ACT_TANH: return tanhf(v);
    case LUCID_ACT_GELU: return 0.5f * v * (1.0f + erff(v * 0.70710678f));
    case LUCID_ACT_GELU_TANH:
        return 0.5f * v * (1.0f + tanhf(0.79788456f * (v + 0.044715f * v * v * v)));
    case LC_ACT_ELU: return v < 0 ? alpha * (expf(v) - 1.0f) : v;
    case LC_ACT_SELU: return v <= 0 ? beta * (alpha * expf(v) - alpha) : beta * v;
    case LC_ACT_SOFTPLUS: return v > 20.0f ? v : log1pf(expf(v));
    case LC_ACT_EXP: return expf(v);
    case LC_ACT_NEG: return -v;
    case LC_ACT_ABS: return fabsf(v);
    case LC_ACT_SQRT: return sqrtf(v);
    case LC_ACT_ERF: return erff(v);
    case LC_ACT_LOG: return logf(v);
    case LC_ACT_RECIPROCAL: return 1.0f / v;
    case LC_ACT_FLOOR: return floorf(v);
    case LC_ACT_CEIL: return ceilf(v);
    }
    return v;
}

unsigned blocks_for(int64_t n, int threads)
{
    int64_t b = (n + threads - 1) / threads;
    return (unsigned)(b > 65535 * 32 ? 65535 * 32 : (b < 1 ? 1 : b));
}

lucid_status finish(const char **why)
{
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return LUCID_STATUS_OK;
    if (why) *why = cudaGetErrorString(e);
    return LUCID_STATUS_INTERNAL;
}

// calls f with a typed null pointer of the element type t
template <typename F> void dispatch(lc_type t, F f)
{
    if (t == LC_F32) f((float *)nullptr);
    else if (t == LC_F16) f((__half *)nullptr);
    else f((__nv_bfloat16 *)nullptr);
}

// V elements of T moved as one 2-, 4-, 8- or 16-byte access (the address must be aligned to
// V * sizeof(T)); arithmetic stays float32
template <int B> struct raw_of;
template <> struct raw_of<2> { typedef unsigned short t; };
template <> struct raw_of<4> { typedef unsigned t; };
template <> struct raw_of<8> { typedef uint2 t; };
template <> struct raw_of<16> { typedef uint4 t; };

template <typename T, int V> __device__ __forceinline__ void ldv(const T *p, float *f)
{
    typedef typename raw_of<sizeof(T) * V>::t R;
    R r = *reinterpret_cast<const R *>(p);
    const T *e = reinterpret_cast<const T *>(&r);
#pragma unroll
    for (int j = 0; j < V; j++) f[j] = ld(e, j);
}

template <typename T, int V> __device__ __forceinline__ void stv(T *p, const float *f)
{
    typedef typename raw_of<sizeof(T) * V>::t R;
    R r;
    T *e = reinterpret_cast<T *>(&r);
#pragma unroll
    for (int j = 0; j < V; j++) st(e, j, f[j]);
    *reinterpret_cast<R *>(p) = r;
}

// calls f with std::integral_constant<int, V> for the given V (1, 2, 4 or 8; at most 16 bytes
// of T, which the caller has checked)
template <typename T, typename F> void dispatch_vec(int v, F f)
{
    if (v == 8) {
        if constexpr (sizeof(T) <= 2) f(std::integral_constant<int, 8>());
    } else if (v == 4) f(std::integral_constant<int, 4>());
    else if (v == 2) f(std::integral_constant<int, 2>());
    else f(std::integral_constant<int, 1>());
}

bool aligned(const void *p, int64_t bytes) { return p == nullptr || (uintptr_t)p % (uint64_t)bytes == 0; }

// the widest vector (elements, at most 16 bytes) that divides every count in m and to whose
// size every pointer in p is aligned
int widest(int es, std::initializer_list<int64_t> m, std::initializer_list<const void *> p)
{
    for (int v = 16 / es; v > 1; v /= 2) {
        bool ok = true;
        for (int64_t k : m) ok = ok && k % v == 0;
        for (const void *q : p) ok = ok && aligned(q, (int64_t)v * es);
        if (ok) return v;
    }
    return 1;
}

#define GRID_LOOP32(i, n)                                                                        \
    for (int i = (int)(blockIdx.x * blockDim.x + threadIdx.x); i < (n);                          \
         i += (int)(gridDim.x * blockDim.x))

#define GRID_LOOP(i, n)                                                                          \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                    \
         i += (int64_t)gridDim.x * blockDim.x)

template <typename X, typename Y> __global__ void k_convert(const X *x, Y *y, int64_t n)
{
    GRID_LOOP(i, n) st(y, i, ld(x, i));
}

template <typename X, typename Y>
__global__ void k_convert_layout(const X *x, Y *y, int64_t total, int64_t c, int64_t hw,
                                 int to_nhwc)
{
    GRID_LOOP(i, total)
    {
        if (to_nhwc) {
            int64_t ch = i % c, r = i / c, p = r % hw, b = r / hw;
            st(y, i, ld(x, (b * c + ch) * hw + p));
        } else {
            int64_t p = i % hw, r = i / hw, ch = r % c, b = r / c;
            st(y, i, ld(x, (b * hw + p) * c + ch));
        }
    }
}

template <typename T>
__global__ void k_epilogue(const T *x, T *y, const float *bias, const T *z, int64_t n,
                           int64_t channels, int64_t inner, lc_act act, float alpha, float beta)
{
    GRID_LOOP(i, n)
    {
        float v = ld(x, i);
        if (bias) v += bias[(i / inner) % channels];
        if (z) v += ld(z, i);
        st(y, i, act_apply(act, v, alpha, beta));
    }
}

struct bin_geom {
    int rank;
    int64_t dims[LC_MAX_RANK], sa[LC_MAX_RANK], sb[LC_MAX_RANK];
};

template <typename T>
__global__ void k_binary(const T *a, const T *b, T *y, bin_geom g, int64_t n, lc_binop op,
                         lc_act act, float alpha, float beta)
{
    GRID_LOOP(i, n)
    {
        int64_t r = i, oa = 0, ob = 0;
        for (int d = g.rank - 1; d >= 0; d--) {
            int64_t q = r % g.dims[d];
            r /= g.dims[d];
            oa += q * g.sa[d];
            ob += q * g.sb[d];
        }
        float u = ld(a, oa), v = ld(b, ob), w;
        switch (op) {
        case LC_ADD: w = u + v; break;
        case LC_SUB: w = u - v; break;
        case LC_MUL: w = u * v; break;
        case LC_DIV: w = u / v; break;
        case LC_POW: w = powf(u, v); break;
        case LC_MAX: w = fmaxf(u, v); break;
        default: w = fminf(u, v); break;
        }
        st(y, i, act_apply(act, w, alpha, beta));
    }
}

struct copy_geom {
    int rank;
    int64_t dims[LC_MAX_RANK], is[LC_MAX_RANK], os[LC_MAX_RANK];
};

template <typename E>
__global__ void k_copy(const E *x, E *y, copy_geom g, int64_t ibase, int64_t obase, int64_t n)
{
    GRID_LOOP(i, n)
    {
        int64_t r = i, oi = ibase, oo = obase;
        for (int d = g.rank - 1; d >= 0; d--) {
            int64_t q = r % g.dims[d];
            r /= g.dims[d];
            oi += q * g.is[d];
            oo += q * g.os[d];
        }
        y[oo] = x[oi];
    }
}

template <typename T> __global__ void k_pool(lc_pool_args a)
{
    const T *x = (const T *)a.x;
    T *y = (T *)a.y;
    int64_t n = a.planes * a.oh * a.ow;
    GRID_LOOP(i, n)
    {
        int64_t ox, oy, xs;
        const T *xp;
        if (a.nhwc) { /* i runs over (b, oy, ox, c) */
            int64_t c = i % a.channels, r = i / a.channels;
            ox = r % a.ow;
            oy = (r / a.ow) % a.oh;
            xp = x + r / (a.ow * a.oh) * a.ih * a.iw * a.channels + c;
            xs = a.channels;
        } else {
            ox = i % a.ow;
            oy = (i / a.ow) % a.oh;
            xp = x + i / (a.ow * a.oh) * a.ih * a.iw;
            xs = 1;
        }
        float acc = a.is_max ? -INFINITY : 0.0f;
        for (int64_t ky = 0; ky < a.kh; ky++) {
            int64_t iy = oy * a.sh - a.pt + ky * a.dh;
            if (iy < 0 || iy >= a.ih) continue;
            for (int64_t kx = 0; kx < a.kw; kx++) {
                int64_t ix = ox * a.sw - a.pl + kx * a.dw;
                if (ix < 0 || ix >= a.iw) continue;
                float v = ld(xp, (iy * a.iw + ix) * xs);
                acc = a.is_max ? (v > acc || v != v ? v : acc) : acc + v;
            }
        }
        if (!a.is_max) acc = acc / a.count[oy * a.ow + ox];
        st(y, i, acc);
    }
}

// one warp per plane: lanes stride the plane, then a fixed-order tree reduction
template <typename T>
__global__ void k_global_pool(const T *x, T *y, int64_t planes, int64_t plane, int is_max)
{
    int64_t warp = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (warp >= planes) return;
    const T *xp = x + warp * plane;
    float acc = is_max ? -INFINITY : 0.0f;
    for (int64_t j = lane; j < plane; j += 32) {
        float v = ld(xp, j);
        acc = is_max ? fmaxf(acc, v) : acc + v;
    }
    for (int off = 16; off > 0; off /= 2) {
        float o = __shfl_down_sync(0xffffffffu, acc, off);
        acc = is_max ? fmaxf(acc, o) : acc + o;
    }
    if (lane == 0) st(y, warp, is_max ? acc : acc / (float)plane);
}

// NHWC: a block is 32 channels (x) by blockDim.y slices of the plane (y); each thread sums
// its slice in order, then the slices are summed in order: a fixed reduction order
template <typename T>
__global__ void k_global_pool_nhwc(const T *x, T *y, int64_t channels, int64_t plane,
                                   int is_max)
{
    __shared__ float red[32][33];
    int64_t c = (int64_t)blockIdx.x * 32 + threadIdx.x, b = blockIdx.y;
    float acc = is_max ? -INFINITY : 0.0f;
    if (c < channels)
        for (int64_t p = threadIdx.y; p < plane; p += blockDim.y) {
            float v = ld(x, (b * plane + p) * channels + c);
            acc = is_max ? fmaxf(acc, v) : acc + v;
        }
    red[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < channels) {
        for (unsigned k = 1; k < blockDim.y; k++)
            acc = is_max ? fmaxf(acc, red[k][threadIdx.x]) : acc + red[k][threadIdx.x];
        st(y, b * channels + c, is_max ? acc : acc / (float)plane);
    }
}

// one block of 256 threads per row; fixed-order block reductions through shared memory
template <typename T>
__global__ void k_softmax(const T *x, T *y, int64_t cols, int log_softmax)
{
    __shared__ float red[256];
    const T *xr = x + (int64_t)blockIdx.x * cols;
    T *yr = y + (int64_t)blockIdx.x * cols;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, ld(xr, j));
    red[threadIdx.x] = m;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if ((int)threadIdx.x < s) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + s]);
        __syncthreads();
    }
    m = red[0];
    __syncthreads();
    float sum = 0.0f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(ld(xr, j) - m);
    red[threadIdx.x] = sum;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s /= 2) {
        if ((int)threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
        __syncthreads();
    }
    sum = red[0];
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
        float v = ld(xr, j) - m;
        st(yr, j, log_softmax ? v - logf(sum) : expf(v) / sum);
    }
}

template <typename T>
__global__ void k_affine(const T *x, T *y, const float *scale, const float *shift, int64_t n,
                         int64_t channels, int64_t inner, lc_act act, float alpha, float beta)
{
    GRID_LOOP(i, n)
    {
        int64_t c = (i / inner) % channels;
        st(y, i, act_apply(act, ld(x, i) * scale[c] + shift[c], alpha, beta));
    }
}

template <typename T> __global__ void k_dwconv(lc_dwconv_args a)
{
    const T *x = (const T *)a.x;
    T *y = (T *)a.y;
    const T *z = (const T *)a.z;
    int64_t n = a.batch * a.oc * a.oh * a.ow;
    int64_t group = a.group ? a.group : a.ic, icg = a.ic / group, ocg = a.oc / group;
    GRID_LOOP(i, n)
    {
        int64_t ox, oy, oc, b;
        if (a.nhwc) {
            oc = i % a.oc;
            int64_t r = i / a.oc;
            ox = r % a.ow;
            oy = (r / a.ow) % a.oh;
            b = r / (a.ow * a.oh);
        } else {
            ox = i % a.ow;
            oy = (i / a.ow) % a.oh;
            oc = (i / (a.ow * a.oh)) % a.oc;
            b = i / (a.ow * a.oh * a.oc);
        }
        int64_t ic0 = oc / ocg * icg;
        float acc = 0.0f;
        for (int64_t ky = 0; ky < a.kh; ky++) {
            int64_t iy = oy * a.sh - a.pt + ky * a.dh;
            if (iy < 0 || iy >= a.ih) continue;
            for (int64_t kx = 0; kx < a.kw; kx++) {
                int64_t ix = ox * a.sw - a.pl + kx * a.dw;
                if (ix < 0 || ix >= a.iw) continue;
                for (int64_t j = 0; j < icg; j++) {
                    float xv, wv;
                    if (a.nhwc) {
                        xv = ld(x, ((b * a.ih + iy) * a.iw + ix) * a.ic + ic0 + j);
                        wv = a.w[((ky * a.kw + kx) * icg + j) * a.oc + oc];
                    } else {
                        xv = ld(x, ((b * a.ic + ic0 + j) * a.ih + iy) * a.iw + ix);
                        wv = a.w[((oc * icg + j) * a.kh + ky) * a.kw + kx];
                    }
                    acc += xv * wv;
                }
            }
        }
        if (a.bias) acc += a.bias[oc];
        if (z) acc += ld(z, i);
        st(y, i, act_apply(a.act, acc, a.alpha, a.beta));
    }
}

template <typename T>
__global__ void k_resize_nearest(const T *x, T *y, int64_t planes, int64_t ih, int64_t iw,
                                 int64_t oh, int64_t ow)
{
    int64_t n = planes * oh * ow;
    GRID_LOOP(i, n)
    {
        int64_t ox = i % ow, oy = (i / ow) % oh, p = i / (ow * oh);
        int64_t iy = oy * ih / oh, ix = ox * iw / ow;
        y[i] = x[(p * ih + iy) * iw + ix];
    }
}

template <typename T>
__global__ void k_resize_nearest_nhwc(const T *x, T *y, int64_t batch, int64_t c, int64_t ih,
                                      int64_t iw, int64_t oh, int64_t ow)
{
    int64_t n = batch * oh * ow * c;
    GRID_LOOP(i, n)
    {
        int64_t ch = i % c, r = i / c, ox = r % ow, oy = (r / ow) % oh, b = r / (ow * oh);
        y[i] = x[((b * ih + oy * ih / oh) * iw + ox * iw / ow) * c + ch];
    }
}

template <typename T> __global__ void k_pad(lc_pad_args a)
{
    const T *x = (const T *)a.x;
    T *y = (T *)a.y;
    GRID_LOOP(i, a.n)
    {
        int64_t r = i, off = 0, stride = 1;
        bool inside = true;
        for (int d = a.rank - 1; d >= 0; d--) {
            int64_t q = r % a.ydims[d] - a.begin[d];
            r /= a.ydims[d];
            if (a.edge) q = q < 0 ? 0 : (q >= a.xdims[d] ? a.xdims[d] - 1 : q);
            else if (q < 0 || q >= a.xdims[d]) inside = false;
            off += q * stride;
            stride *= a.xdims[d];
        }
        st(y, i, inside ? ld(x, off) : a.value);
    }
}

template <typename T> __global__ void k_fill(T *y, int64_t n)
{
    GRID_LOOP(i, n) st(y, i, (float)((i * 2654435761ull) % 2000) / 1000.0f - 1.0f);
}


// k_epilogue and k_affine with 32-bit indices and V elements per thread: y = act(x * scale[c] +
// shift[c] + z) (scale, shift and z may be NULL). The V elements share one channel (inner % V
// == 0) or are V consecutive channels (inner == 1, channels % V == 0).
template <typename T, int V>
__global__ void k_chan_v(const T *x, T *y, const float *scale, const float *shift, const T *z,
                         int nv, int channels, int inner, lc_act act, float alpha, float beta)
{
    GRID_LOOP32(k, nv)
    {
        int i = k * V;
        float v[V];
        ldv<T, V>(x + i, v);
        if (scale || shift) {
            int c0 = inner == 1 ? i % channels : (i / inner) % channels, step = inner == 1;
#pragma unroll
            for (int j = 0; j < V; j++) {
                int c = c0 + j * step;
                if (scale) v[j] *= scale[c];
                if (shift) v[j] += shift[c];
            }
        }
        if (z) {
            float w[V];
            ldv<T, V>(z + i, w);
#pragma unroll
            for (int j = 0; j < V; j++) v[j] += w[j];
        }
#pragma unroll
        for (int j = 0; j < V; j++) v[j] = act_apply(act, v[j], alpha, beta);
        stv<T, V>(y + i, v);
    }
}

__device__ __forceinline__ float binop_apply(lc_binop op, float u, float v)
{
    switch (op) {
    case LC_ADD: return u + v;
    case LC_SUB: return u - v;
    case LC_MUL: return u * v;
    case LC_DIV: return u / v;
    case LC_POW: return powf(u, v);
    case LC_MAX: return fmaxf(u, v);
    default: return fminf(u, v);
    }
}

// a broadcasting binary op whose geometry folded to R <= 3 dims of 32-bit extent (size-1 dims
// dropped, dims both operands walk contiguously merged); V elements per thread along the last
// dim, where each operand's last stride is 0 (one value for the V) or 1 (one vector access)
struct fast_geom {
    int dims[3], sa[3], sb[3];
};

template <typename T, int R, int V>
__global__ void k_binary_v(const T *a, const T *b, T *y, fast_geom g, int nv, lc_binop op,
                           lc_act act, float alpha, float beta)
{
    GRID_LOOP32(k, nv)
    {
        int r = k * V, oa = 0, ob = 0;
#pragma unroll
        for (int d = R - 1; d >= 0; d--) {
            int q = r % g.dims[d];
            r /= g.dims[d];
            oa += q * g.sa[d];
            ob += q * g.sb[d];
        }
        float u[V], v[V];
        if (V > 1 && g.sa[R - 1] == 0) {
            float t = ld(a, oa);
#pragma unroll
            for (int j = 0; j < V; j++) u[j] = t;
        } else {
            ldv<T, V>(a + oa, u);
        }
        if (V > 1 && g.sb[R - 1] == 0) {
            float t = ld(b, ob);
#pragma unroll
            for (int j = 0; j < V; j++) v[j] = t;
        } else {
            ldv<T, V>(b + ob, v);
        }
#pragma unroll
        for (int j = 0; j < V; j++) u[j] = act_apply(act, binop_apply(op, u[j], v[j]), alpha, beta);
        stv<T, V>(y + k * V, u);
    }
}

// k_copy with 32-bit indices over at most 4 dims (after folding), elements of 1 to 16 bytes
template <typename E, int R>
__global__ void k_copy32(const E *x, E *y, copy_geom g, int ibase, int obase, int n)
{
    GRID_LOOP32(i, n)
    {
        int r = i, oi = ibase, oo = obase;
#pragma unroll
        for (int d = R - 1; d >= 0; d--) {
            int q = r % (int)g.dims[d];
            r /= (int)g.dims[d];
            oi += q * (int)g.is[d];
            oo += q * (int)g.os[d];
        }
        y[oo] = x[oi];
    }
}

// __grid_constant__ (CUDA 11.7+, sm_70+) lets a kernel index an array in its parameters without a
// per-thread copy to local memory
#if defined(__CUDACC_VER_MAJOR__) &&                                                               \
    (__CUDACC_VER_MAJOR__ > 11 || (__CUDACC_VER_MAJOR__ == 11 && __CUDACC_VER_MINOR__ >= 7))
#define LC_GRID_CONST __grid_constant__
#else
#define LC_GRID_CONST
#endif

// lc_parts in units of R (1 to 16 bytes): block row blockIdx.y moves part blockIdx.y
struct parts_geom {
    int rows, width;
    int w[LC_PARTS_MAX], off[LC_PARTS_MAX];
    const void *p[LC_PARTS_MAX];
};

template <typename R> __global__ void k_parts(const LC_GRID_CONST parts_geom g, R *whole)
{
    int k = blockIdx.y, w = g.w[k], off = g.off[k];
    const R *part = (const R *)g.p[k];
    if (!part || w == 0) return;
    int n = g.rows * w;
    for (int i = (int)(blockIdx.x * blockDim.x + threadIdx.x); i < n;
         i += (int)(gridDim.x * blockDim.x)) {
        int r = i / w;
        whole[r * g.width + off + (i - r * w)] = part[i];
    }
}

// depthwise (one filter per channel) NHWC convolution: a thread computes V adjacent channels of
// one output position with vector accesses; 32-bit indices; weights [kh][kw][c] float32. The
// same sums in the same order as k_dwconv.
struct dw_geom {
    int c, ih, iw, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
};

template <typename T, int V>
__global__ void k_dwconv_nhwc_v(const T *x, T *y, const float *w, const float *bias, const T *z,
                                dw_geom g, int nv, lc_act act, float alpha, float beta)
{
    int cv = g.c / V;
    GRID_LOOP32(k, nv)
    {
        int c0 = (k % cv) * V, r = k / cv;
        int ox = r % g.ow;
        r /= g.ow;
        int oy = r % g.oh, b = r / g.oh;
        float acc[V];
#pragma unroll
        for (int j = 0; j < V; j++) acc[j] = 0.0f;
        const T *xb = x + (size_t)b * g.ih * g.iw * g.c + c0;
        for (int ky = 0; ky < g.kh; ky++) {
            int iy = oy * g.sh - g.pt + ky * g.dh;
            if (iy < 0 || iy >= g.ih) continue;
            for (int kx = 0; kx < g.kw; kx++) {
                int ix = ox * g.sw - g.pl + kx * g.dw;
                if (ix < 0 || ix >= g.iw) continue;
                float xv[V];
                ldv<T, V>(xb + (iy * g.iw + ix) * g.c, xv);
                const float *wp = w + (ky * g.kw + kx) * g.c + c0;
#pragma unroll
                for (int j = 0; j < V; j++) acc[j] += xv[j] * __ldg(wp + j);
            }
        }
        if (bias)
#pragma unroll
            for (int j = 0; j < V; j++) acc[j] += __ldg(bias + c0 + j);
        int o = k * V;
        if (z) {
            float zv[V];
            ldv<T, V>(z + o, zv);
#pragma unroll
            for (int j = 0; j < V; j++) acc[j] += zv[j];
        }
#pragma unroll
        for (int j = 0; j < V; j++) acc[j] = act_apply(act, acc[j], alpha, beta);
        stv<T, V>(y + o, acc);
    }
}

// NHWC global pooling, step 1: block (lanes, rows) of 256 threads covers lanes * V channels of
// one image (blockIdx.z) and one chunk of the plane (blockIdx.y); each thread reduces every
// rows-th position of the chunk in order, then thread row 0 reduces the rows in order. With one
// chunk the block writes y (the mean or max); otherwise part[b][chunk][c] (float32), which
// k_gpool_finish reduces in chunk order: a fixed order for a given shape.
template <typename T, int V>
__global__ void k_gpool_nhwc_v(const T *x, T *y, float *part, int c, int plane, int chunk,
                               int is_max)
{
    __shared__ float red[256 * 8];
    int cv = blockIdx.x * blockDim.x + threadIdx.x, s = blockIdx.y, b = blockIdx.z;
    int p0 = s * chunk, p1 = min(plane, p0 + chunk);
    float acc[V];
#pragma unroll
    for (int j = 0; j < V; j++) acc[j] = is_max ? -INFINITY : 0.0f;
    if (cv * V < c) {
        const T *xp = x + (size_t)b * plane * c + cv * V;
        for (int p = p0 + threadIdx.y; p < p1; p += blockDim.y) {
            float v[V];
            ldv<T, V>(xp + (size_t)p * c, v);
#pragma unroll
            for (int j = 0; j < V; j++) acc[j] = is_max ? fmaxf(acc[j], v[j]) : acc[j] + v[j];
        }
    }
    float *mine = red + (threadIdx.y * blockDim.x + threadIdx.x) * V;
#pragma unroll
    for (int j = 0; j < V; j++) mine[j] = acc[j];
    __syncthreads();
    if (threadIdx.y != 0 || cv * V >= c) return;
    for (unsigned k = 1; k < blockDim.y; k++) {
        const float *o = red + (k * blockDim.x + threadIdx.x) * V;
#pragma unroll
        for (int j = 0; j < V; j++) acc[j] = is_max ? fmaxf(acc[j], o[j]) : acc[j] + o[j];
    }
    if (gridDim.y == 1) {
#pragma unroll
        for (int j = 0; j < V; j++) acc[j] = is_max ? acc[j] : acc[j] / (float)plane;
        stv<T, V>(y + (size_t)b * c + cv * V, acc);
    } else {
        float *pp = part + ((size_t)b * gridDim.y + s) * c + cv * V;
#pragma unroll
        for (int j = 0; j < V; j++) pp[j] = acc[j];
    }
}

template <typename T>
__global__ void k_gpool_finish(const float *part, T *y, int c, int chunks, int plane, int is_max,
                               int n)
{
    GRID_LOOP32(i, n)
    {
        int b = i / c, ch = i % c;
        const float *pp = part + (size_t)b * chunks * c + ch;
        float acc = pp[0];
        for (int k = 1; k < chunks; k++)
            acc = is_max ? fmaxf(acc, pp[(size_t)k * c]) : acc + pp[(size_t)k * c];
        st(y, i, is_max ? acc : acc / (float)plane);
    }
}

// ---- int8 ------------------------------------------------------------------------------

// saturate(round_half_even(v / scale) + zp) into [lo, hi]; NaN gives the zero point
__device__ __forceinline__ int32_t q8_quantize(float v, float scale, int32_t zp, int32_t lo,
                                               int32_t hi)
{
    if (v != v) return zp;
    float r = v / scale;
    int32_t q = __float2int_rn(r); // ties to even; saturates to the int32 range
    int64_t t = (int64_t)q + zp;
    return (int32_t)(t < lo ? lo : t > hi ? hi : t);
}

__device__ __forceinline__ int32_t q8_load(lc_q8 q, const void *p, int64_t i)
{
    return q == LC_Q_U8 ? (int32_t)((const uint8_t *)p)[i] : (int32_t)((const int8_t *)p)[i];
}

template <typename T>
__global__ void k_quantize(const T *x, lc_q8 q, void *y, int64_t n, float scale, int32_t zp)
{
    const int32_t lo = q == LC_Q_U8 ? 0 : -128, hi = q == LC_Q_U8 ? 255 : 127;
    GRID_LOOP(i, n)
    {
        int32_t v = q8_quantize(ld(x, i), scale, zp, lo, hi);
        if (q == LC_Q_U8)
            ((uint8_t *)y)[i] = (uint8_t)v;
        else
            ((int8_t *)y)[i] = (int8_t)v;
    }
}

template <typename T>
__global__ void k_dequantize(lc_q8 q, const void *x, T *y, int64_t n, float scale, int32_t zp)
{
    GRID_LOOP(i, n) st(y, i, (float)(q8_load(q, x, i) - zp) * scale);
}

// one thread per (row, tap): the tap's c channels (any c), or the row's zero tail
template <typename I> __global__ void k_q8_im2col_tap(lc_q8_im2col_args a)
{
    const int32_t off = a.xq == LC_Q_U8 ? 128 : 0;
    const int8_t fill = (int8_t)(a.zp - off);
    const I taps = (I)(a.kh * a.kw), c = (I)a.c, kp = (I)a.kp;
    const I n = (I)(a.batch * a.oh * a.ow) * (taps + 1);
    const I ih = (I)a.ih, iw = (I)a.iw, ow = (I)a.ow, oh = (I)a.oh, kw = (I)a.kw;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
        I t = i % (taps + 1), r = i / (taps + 1);
        int8_t *y = a.y + r * kp + t * c;
        if (t == taps) {
            for (I k = taps * c; k < kp; k++)
                a.y[r * kp + k] = 0;
            continue;
        }
        I kx = t % kw, ky = t / kw;
        I ox = r % ow, r2 = r / ow, oy = r2 % oh, b = r2 / oh;
        I iy = oy * (I)a.sh - (I)a.pt + ky * (I)a.dh, ix = ox * (I)a.sw - (I)a.pl + kx * (I)a.dw;
        if (ix < 0 || iy < 0 || ix >= iw || iy >= ih) {
            for (I k = 0; k < c; k++)
                y[k] = fill;
        } else {
            I base = ((b * ih + iy) * iw + ix) * c;
            for (I k = 0; k < c; k++)
                y[k] = (int8_t)(q8_load(a.xq, a.x, base + k) - off);
        }
    }
}

__global__ void k_q8_im2col(lc_q8_im2col_args a)
{
    const int32_t off = a.xq == LC_Q_U8 ? 128 : 0;
    const int8_t fill = (int8_t)(a.zp - off);
    const int64_t taps = a.kh * a.kw * a.c;
    int64_t n = a.batch * a.oh * a.ow * a.kp;
    GRID_LOOP(i, n)
    {
        int64_t col = i % a.kp, r = i / a.kp;
        int8_t v = 0;
        if (col < taps) {
            int64_t c = col % a.c, t = col / a.c, kx = t % a.kw, ky = t / a.kw;
            int64_t ox = r % a.ow, oy = (r / a.ow) % a.oh, b = r / (a.ow * a.oh);
            int64_t iy = oy * a.sh - a.pt + ky * a.dh, ix = ox * a.sw - a.pl + kx * a.dw;
            if (ix < 0 || iy < 0 || ix >= a.iw || iy >= a.ih)
                v = fill;
            else
                v = (int8_t)(q8_load(a.xq, a.x, ((b * a.ih + iy) * a.iw + ix) * a.c + c) - off);
        }
        a.y[i] = v;
    }
}

// the same, V bytes (a run of channels) per thread: c and kp are multiples of V, and I (int or
// int64_t) holds every index. uint8 becomes int8 minus 128 by flipping each byte's top bit.
__device__ __forceinline__ uint4 bxor(uint4 a, uint32_t m)
{
    return make_uint4(a.x ^ m, a.y ^ m, a.z ^ m, a.w ^ m);
}
__device__ __forceinline__ uint2 bxor(uint2 a, uint32_t m)
{
    return make_uint2(a.x ^ m, a.y ^ m);
}
__device__ __forceinline__ uint32_t bxor(uint32_t a, uint32_t m)
{
    return a ^ m;
}
template <typename R> __device__ __forceinline__ R bsplat(uint32_t w);
template <> __device__ __forceinline__ uint4 bsplat<uint4>(uint32_t w)
{
    return make_uint4(w, w, w, w);
}
template <> __device__ __forceinline__ uint2 bsplat<uint2>(uint32_t w)
{
    return make_uint2(w, w);
}
template <> __device__ __forceinline__ uint32_t bsplat<uint32_t>(uint32_t w)
{
    return w;
}

template <typename R, typename I> __global__ void k_q8_im2col_v(lc_q8_im2col_args a)
{
    const I V = (I)sizeof(R);
    const I cv = (I)a.c / V, kpv = (I)a.kp / V, taps = (I)(a.kh * a.kw) * cv;
    const I n = (I)(a.batch * a.oh * a.ow) * kpv;
    const uint32_t flip = a.xq == LC_Q_U8 ? 0x80808080u : 0u;
    const uint32_t fb = (uint32_t)(uint8_t)(int8_t)(a.zp - (a.xq == LC_Q_U8 ? 128 : 0));
    const R fill = bsplat<R>(fb * 0x01010101u), zero = bsplat<R>(0u);
    const R *x = (const R *)a.x;
    R *y = (R *)a.y;
    const I ih = (I)a.ih, iw = (I)a.iw, ow = (I)a.ow, oh = (I)a.oh, kw = (I)a.kw;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (I)gridDim.x * blockDim.x) {
        I col = i % kpv, r = i / kpv;
        R v = zero;
        if (col < taps) {
            I c0 = col % cv, t = col / cv, kx = t % kw, ky = t / kw;
            I ox = r % ow, r2 = r / ow, oy = r2 % oh, b = r2 / oh;
            I iy = oy * (I)a.sh - (I)a.pt + ky * (I)a.dh,
              ix = ox * (I)a.sw - (I)a.pl + kx * (I)a.dw;
            if (ix < 0 || iy < 0 || ix >= iw || iy >= ih)
                v = fill;
            else
                v = bxor(x[((b * ih + iy) * iw + ix) * cv + c0], flip);
        }
        y[i] = v;
    }
}

// one output element of an int8 layer: channel c, flat index i, exact integer sum acc
// the folded form (e.fmult set): the value in the output's units before rounding
template <typename T>
__device__ __forceinline__ float q8_folded(const lc_q8_epilogue_args &e, int64_t i, int64_t c,
                                           int32_t acc, float zq)
{
    float u = (float)acc * e.fmult[c];
    if (e.fbias) u += e.fbias[c];
    if (e.z_kind == 1)
        u += ld((const T *)e.z, i) * e.fz;
    else if (e.z_kind >= 2)
        u += zq * e.fz;
    return fminf(fmaxf(u, e.flo), e.fhi);
}

__device__ __forceinline__ int32_t q8_round_out(const lc_q8_epilogue_args &e, float u)
{
    const int32_t lo = e.y_kind == 3 ? 0 : -128, hi = e.y_kind == 3 ? 255 : 127;
    if (u != u) return e.y_zp;
    int64_t t = (int64_t)__float2int_rn(u) + e.y_zp;
    return (int32_t)(t < lo ? lo : t > hi ? hi : t);
}

template <typename T>
__device__ __forceinline__ void q8_store(const lc_q8_epilogue_args &e, int64_t i, int64_t c,
                                         int32_t acc)
{
    if (e.fmult) {
        float zq = e.z_kind >= 2
                       ? (float)(q8_load(e.z_kind == 3 ? LC_Q_U8 : LC_Q_S8, e.z, i) - e.z_zp)
                       : 0.0f;
        int32_t q = q8_round_out(e, q8_folded<T>(e, i, c, acc, zq));
        if (e.y_kind == 3)
            ((uint8_t *)e.y)[i] = (uint8_t)q;
        else
            ((int8_t *)e.y)[i] = (int8_t)q;
        return;
    }
    float v = (float)acc * e.mult[c];
    if (e.bias) v += e.bias[c];
    if (e.z_kind == 1)
        v += ld((const T *)e.z, i);
    else if (e.z_kind >= 2)
        v += (float)(q8_load(e.z_kind == 3 ? LC_Q_U8 : LC_Q_S8, e.z, i) - e.z_zp) * e.z_scale;
    v = act_apply(e.act, v, e.alpha, e.beta);
    if (e.y_kind == 1)
        st((T *)e.y, i, v);
    else if (e.y_kind == 3)
        ((uint8_t *)e.y)[i] = (uint8_t)q8_quantize(v, e.y_scale, e.y_zp, 0, 255);
    else
        ((int8_t *)e.y)[i] = (int8_t)q8_quantize(v, e.y_scale, e.y_zp, -128, 127);
}

template <typename T> __global__ void k_q8_epilogue(lc_q8_epilogue_args e)
{
    int64_t n = e.rows * e.m;
    GRID_LOOP(i, n)
    {
        int64_t c = i % e.m;
        int32_t acc = e.acc[i];
        if (e.corr) acc += e.corr[c];
        q8_store<T>(e, i, c, acc);
    }
}

// four channels' float values v (channel c, flat index i, i % 4 == 0) from the residual on,
// the quantized output stored as one 32-bit word
template <typename T>
__device__ __forceinline__ void q8_store4(const lc_q8_epilogue_args &e, int64_t i, int64_t c,
                                          const int32_t acc[4])
{
    float v[4];
    uint32_t zw = 0;
    if (e.z_kind >= 2) zw = *(const uint32_t *)((const uint8_t *)e.z + i);
    if (e.fmult) {
        uint32_t w = 0;
        for (int k = 0; k < 4; k++) {
            int32_t zb = (int32_t)((zw >> (8 * k)) & 0xff);
            float zq = e.z_kind == 3   ? (float)(zb - e.z_zp)
                       : e.z_kind == 2 ? (float)((int32_t)(int8_t)zb - e.z_zp)
                                       : 0.0f;
            int32_t q = q8_round_out(e, q8_folded<T>(e, i + k, c + k, acc[k], zq));
            w |= ((uint32_t)q & 0xffu) << (8 * k);
        }
        *(uint32_t *)((uint8_t *)e.y + i) = w;
        return;
    }
    for (int k = 0; k < 4; k++) {
        float u = (float)acc[k] * e.mult[c + k];
        if (e.bias) u += e.bias[c + k];
        if (e.z_kind == 1)
            u += ld((const T *)e.z, i + k);
        else if (e.z_kind == 3)
            u += (float)((int32_t)((zw >> (8 * k)) & 0xff) - e.z_zp) * e.z_scale;
        else if (e.z_kind == 2)
            u += (float)((int32_t)(int8_t)((zw >> (8 * k)) & 0xff) - e.z_zp) * e.z_scale;
        v[k] = act_apply(e.act, u, e.alpha, e.beta);
    }
    if (e.y_kind == 1) {
        for (int k = 0; k < 4; k++)
            st((T *)e.y, i + k, v[k]);
        return;
    }
    const int32_t lo = e.y_kind == 3 ? 0 : -128, hi = e.y_kind == 3 ? 255 : 127;
    uint32_t w = 0;
    for (int k = 0; k < 4; k++)
        w |= ((uint32_t)q8_quantize(v[k], e.y_scale, e.y_zp, lo, hi) & 0xffu) << (8 * k);
    *(uint32_t *)((uint8_t *)e.y + i) = w;
}

// the epilogue four channels per thread (m % 4 == 0, int32 accumulators)
template <typename T, typename I> __global__ void k_q8_epilogue4(lc_q8_epilogue_args e)
{
    const I m4 = (I)e.m / 4, n = (I)e.rows * m4;
    const int4 *acc = (const int4 *)e.acc;
    for (I j = (I)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (I)gridDim.x * blockDim.x) {
        I c = (j % m4) * 4;
        int4 a4 = acc[j];
        int32_t a[4] = {a4.x, a4.y, a4.z, a4.w};
        if (e.corr)
            for (int k = 0; k < 4; k++)
                a[k] += e.corr[c + k];
        q8_store4<T>(e, (int64_t)j * 4, c, a);
    }
}

// depthwise (group == ic == oc, oc % (4 W) == 0) over NHWC, 4 W channels per thread (W 32-bit
// words of each input and weight row), weights [kh][kw][oc]
template <int W> struct words;
template <> struct words<1> {
    typedef uint32_t t;
    __device__ static void get(t v, uint32_t *o)
    {
        o[0] = v;
    }
};
template <> struct words<4> {
    typedef uint4 t;
    __device__ static void get(t v, uint32_t *o)
    {
        o[0] = v.x;
        o[1] = v.y;
        o[2] = v.z;
        o[3] = v.w;
    }
};

template <typename T, typename I, int W> __global__ void k_q8_dw(lc_q8_dconv_args a)
{
    typedef typename words<W>::t R;
    const I cw = (I)a.oc / (4 * W), n = (I)(a.batch * a.oh * a.ow) * cw;
    const I ih = (I)a.ih, iw = (I)a.iw, oh = (I)a.oh, ow = (I)a.ow, c = (I)a.oc;
    const bool u8 = a.xq == LC_Q_U8;
    for (I j = (I)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (I)gridDim.x * blockDim.x) {
        I cq = j % cw, r = j / cw;
        I ox = r % ow, r2 = r / ow, oy = r2 % oh, b = r2 / oh;
        int32_t acc[4 * W];
        for (int k = 0; k < 4 * W; k++)
            acc[k] = 0;
        for (I ky = 0; ky < (I)a.kh; ky++) {
            I iy = oy * (I)a.sh - (I)a.pt + ky * (I)a.dh;
            if (iy < 0 || iy >= ih) continue;
            for (I kx = 0; kx < (I)a.kw; kx++) {
                I ix = ox * (I)a.sw - (I)a.pl + kx * (I)a.dw;
                if (ix < 0 || ix >= iw) continue;
                uint32_t xv[W], wv[W];
                words<W>::get(
                    *(const R *)((const uint8_t *)a.x + ((b * ih + iy) * iw + ix) * c + cq * 4 * W),
                    xv);
                words<W>::get(*(const R *)(a.w + (ky * (I)a.kw + kx) * c + cq * 4 * W), wv);
                for (int q = 0; q < W; q++)
                    for (int k = 0; k < 4; k++) {
                        uint32_t xb = (xv[q] >> (8 * k)) & 0xff;
                        int32_t xk = u8 ? (int32_t)xb : (int32_t)(int8_t)xb;
                        acc[4 * q + k] +=
                            (xk - a.x_zp) * (int32_t)(int8_t)((wv[q] >> (8 * k)) & 0xff);
                    }
            }
        }
        for (int q = 0; q < W; q++)
            q8_store4<T>(a.e, (int64_t)r * c + cq * 4 * W + 4 * q, cq * 4 * W + 4 * q, acc + 4 * q);
    }
}

// max pooling over NHWC int8 / uint8, four channels per thread with byte-wise SIMD max
template <typename I> __global__ void k_q8_maxpool4(lc_pool_args a, int u8)
{
    const I c4 = (I)a.channels / 4, n = (I)a.planes / (I)a.channels * (I)(a.oh * a.ow) * c4;
    const I ih = (I)a.ih, iw = (I)a.iw, oh = (I)a.oh, ow = (I)a.ow;
    const uint32_t *x = (const uint32_t *)a.x;
    uint32_t *y = (uint32_t *)a.y;
    for (I j = (I)blockIdx.x * blockDim.x + threadIdx.x; j < n; j += (I)gridDim.x * blockDim.x) {
        I cq = j % c4, r = j / c4;
        I ox = r % ow, r2 = r / ow, oy = r2 % oh, b = r2 / oh;
        uint32_t m = u8 ? 0u : 0x80808080u;
        for (I ky = 0; ky < (I)a.kh; ky++) {
            I iy = oy * (I)a.sh - (I)a.pt + ky * (I)a.dh;
            if (iy < 0 || iy >= ih) continue;
            for (I kx = 0; kx < (I)a.kw; kx++) {
                I ix = ox * (I)a.sw - (I)a.pl + kx * (I)a.dw;
                if (ix < 0 || ix >= iw) continue;
                uint32_t v = x[((b * ih + iy) * iw + ix) * c4 + cq];
                m = u8 ? __vmaxu4(m, v) : __vmaxs4(m, v);
            }
        }
        y[j] = m;
    }
}

template <typename T> __global__ void k_q8_dconv(lc_q8_dconv_args a)
{
    int64_t n = a.batch * a.oh * a.ow * a.oc;
    const int64_t icg = a.ic / a.group, ocg = a.oc / a.group;
    GRID_LOOP(i, n)
    {
        int64_t m = i % a.oc, r = i / a.oc;
        int64_t ox = r % a.ow, oy = (r / a.ow) % a.oh, b = r / (a.ow * a.oh);
        int64_t c0 = m / ocg * icg;
        int32_t acc = 0;
        for (int64_t ky = 0; ky < a.kh; ky++) {
            int64_t iy = oy * a.sh - a.pt + ky * a.dh;
            if (iy < 0 || iy >= a.ih) continue;
            for (int64_t kx = 0; kx < a.kw; kx++) {
                int64_t ix = ox * a.sw - a.pl + kx * a.dw;
                if (ix < 0 || ix >= a.iw) continue;
                int64_t xb = ((b * a.ih + iy) * a.iw + ix) * a.ic + c0;
                for (int64_t j = 0; j < icg; j++)
                    acc += (q8_load(a.xq, a.x, xb + j) - a.x_zp) *
                           (int32_t)a.w[((m * icg + j) * a.kh + ky) * a.kw + kx];
            }
        }
        q8_store<T>(a.e, i, m, acc);
    }
}

} // namespace

extern "C" {

lucid_status lc_convert(const void *x, lc_type xt, void *y, lc_type yt, int64_t n, void *stream,
                        const char **why)
{
    cudaStream_t s = (cudaStream_t)stream;
    dispatch(xt, [&](auto *xp) {
        using X = std::remove_pointer_t<decltype(xp)>;
        dispatch(yt, [&](auto *yp) {
            using Y = std::remove_pointer_t<decltype(yp)>;
            k_convert<X, Y><<<blocks_for(n, 256), 256, 0, s>>>((const X *)x, (Y *)y, n);
        });
    });
    return finish(why);
}

lucid_status lc_convert_layout(const void *x, lc_type xt, void *y, lc_type yt, int64_t n,
                               int64_t c, int64_t hw, int to_nhwc, void *stream,
                               const char **why)
{
    cudaStream_t s = (cudaStream_t)stream;
    int64_t total = n * c * hw;
    dispatch(xt, [&](auto *xp) {
        using X = std::remove_pointer_t<decltype(xp)>;
        dispatch(yt, [&](auto *yp) {
            using Y = std::remove_pointer_t<decltype(yp)>;
            k_convert_layout<X, Y><<<blocks_for(total, 256), 256, 0, s>>>((const X *)x, (Y *)y,
                                                                          total, c, hw, to_nhwc);
        });
    });
    return finish(why);
}

// the 32-bit, vector form of k_epilogue / k_affine where it applies; false if not
static bool chan_fast(lc_type t, const void *x, void *y, const float *scale, const float *shift,
               const void *z, int64_t n, int64_t channels, int64_t inner, lc_act act,
               float alpha, float beta, cudaStream_t s)
{
    if (n <= 0 || n > INT32_MAX || channels <= 0 || inner <= 0 || channels > INT32_MAX ||
        inner > INT32_MAX)
        return false;
    bool per_chan = scale || shift;
    int es = t == LC_F32 ? 4 : 2;
    int v = widest(es, {n, per_chan ? (inner == 1 ? channels : inner) : 0}, {x, y, z});
    dispatch(t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        dispatch_vec<T>(v, [&](auto vc) {
            constexpr int V = decltype(vc)::value;
            int nv = (int)(n / V);
            k_chan_v<T, V><<<blocks_for(nv, 256), 256, 0, s>>>(
                (const T *)x, (T *)y, scale, shift, (const T *)z, nv, (int)channels, (int)inner,
                act, alpha, beta);
        });
    });
    return true;
}

lucid_status lc_epilogue(const lc_epilogue_args *a, void *stream, const char **why)
{
    if (chan_fast(a->t, a->x, a->y, nullptr, a->bias, a->z, a->n, a->channels, a->inner, a->act,
                  a->alpha, a->beta, (cudaStream_t)stream))
        return finish(why);
    dispatch(a->t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_epilogue<T><<<blocks_for(a->n, 256), 256, 0, (cudaStream_t)stream>>>(
            (const T *)a->x, (T *)a->y, a->bias, (const T *)a->z, a->n, a->channels, a->inner,
            a->act, a->alpha, a->beta);
    });
    return finish(why);
}

// Folds a binary op's geometry (size-1 dims dropped, dims that both operands walk contiguously
// merged) and runs k_binary_v when at most 3 dims of 32-bit extent remain; false otherwise.
static bool binary_fast(const lc_binary_args *a, cudaStream_t s)
{
    if (a->n <= 0 || a->n > INT32_MAX || a->rank > LC_MAX_RANK) return false;
    int64_t dims[LC_MAX_RANK], sa[LC_MAX_RANK], sb[LC_MAX_RANK];
    int r = 0;
    for (int d = 0; d < a->rank; d++) {
        if (a->dims[d] == 1) continue;
        if (r > 0 && sa[r - 1] == a->sa[d] * a->dims[d] && sb[r - 1] == a->sb[d] * a->dims[d]) {
            dims[r - 1] *= a->dims[d];
            sa[r - 1] = a->sa[d];
            sb[r - 1] = a->sb[d];
            continue;
        }
        dims[r] = a->dims[d];
        sa[r] = a->sa[d];
        sb[r] = a->sb[d];
        r++;
    }
    if (r == 0) {
        dims[0] = 1;
        sa[0] = sb[0] = 0;
        r = 1;
    }
    if (r > 3) return false;
    fast_geom g;
    for (int d = 0; d < r; d++) {
        if (dims[d] > INT32_MAX || sa[d] < 0 || sb[d] < 0 || sa[d] * dims[d] > INT32_MAX ||
            sb[d] * dims[d] > INT32_MAX)
            return false;
        g.dims[d] = (int)dims[d];
        g.sa[d] = (int)sa[d];
        g.sb[d] = (int)sb[d];
    }
    int es = a->t == LC_F32 ? 4 : 2;
    int v = 1;
    if ((sa[r - 1] == 0 || sa[r - 1] == 1) && (sb[r - 1] == 0 || sb[r - 1] == 1)) {
        // an operand read as vectors needs every stride a multiple of V and an aligned base
        int64_t ma = 0, mb = 0;
        for (int d = 0; d < r - 1; d++) {
            if (sa[r - 1] == 1) ma |= sa[d];
            if (sb[r - 1] == 1) mb |= sb[d];
        }
        v = widest(es, {dims[r - 1], ma, mb},
                   {a->y, sa[r - 1] == 1 ? a->a : nullptr, sb[r - 1] == 1 ? a->b : nullptr});
    }
    int nv = (int)(a->n / v);
    dispatch(a->t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        dispatch_vec<T>(v, [&](auto vc) {
            constexpr int V = decltype(vc)::value;
            const T *pa = (const T *)a->a, *pb = (const T *)a->b;
            T *py = (T *)a->y;
            unsigned blocks = blocks_for(nv, 256);
            if (r == 1)
                k_binary_v<T, 1, V><<<blocks, 256, 0, s>>>(pa, pb, py, g, nv, a->op, a->act,
                                                           a->alpha, a->beta);
            else if (r == 2)
                k_binary_v<T, 2, V><<<blocks, 256, 0, s>>>(pa, pb, py, g, nv, a->op, a->act,
                                                           a->alpha, a->beta);
            else
                k_binary_v<T, 3, V><<<blocks, 256, 0, s>>>(pa, pb, py, g, nv, a->op, a->act,
                                                           a->alpha, a->beta);
        });
    });
    return true;
}

lucid_status lc_binary(const lc_binary_args *a, void *stream, const char **why)
{
    if (binary_fast(a, (cudaStream_t)stream)) return finish(why);
    bin_geom g;
    g.rank = a->rank;
    for (int d = 0; d < LC_MAX_RANK; d++) {
        g.dims[d] = a->dims[d];
        g.sa[d] = a->sa[d];
        g.sb[d] = a->sb[d];
    }
    dispatch(a->t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_binary<T><<<blocks_for(a->n, 256), 256, 0, (cudaStream_t)stream>>>(
            (const T *)a->a, (const T *)a->b, (T *)a->y, g, a->n, a->op, a->act, a->alpha,
            a->beta);
    });
    return finish(why);
}

// Folds a copy's geometry (size-1 dims dropped, dims both sides walk contiguously merged),
// widens its element to up to 16 bytes where the innermost dim is contiguous on both sides,
// and runs k_copy32 when at most 4 dims of 32-bit extent remain; false otherwise.
static bool copy_fast(const lc_copy_args *a, cudaStream_t s)
{
    if (a->n <= 0 || a->n > INT32_MAX || a->rank > LC_MAX_RANK) return false;
    int64_t dims[LC_MAX_RANK], is[LC_MAX_RANK], os[LC_MAX_RANK];
    int r = 0;
    for (int d = 0; d < a->rank; d++) {
        if (a->dims[d] == 1) continue;
        if (r > 0 && is[r - 1] == a->is[d] * a->dims[d] && os[r - 1] == a->os[d] * a->dims[d]) {
            dims[r - 1] *= a->dims[d];
            is[r - 1] = a->is[d];
            os[r - 1] = a->os[d];
            continue;
        }
        dims[r] = a->dims[d];
        is[r] = a->is[d];
        os[r] = a->os[d];
        r++;
    }
    if (r == 0) {
        dims[0] = 1;
        is[0] = os[0] = 0;
        r = 1;
    }
    if (r > 4) return false;
    int64_t es = a->esize, ib = a->ibase, ob = a->obase;
    while (es < 16 && is[r - 1] == 1 && os[r - 1] == 1 && dims[r - 1] % 2 == 0 && ib % 2 == 0 &&
           ob % 2 == 0 && aligned(a->x, 2 * es) && aligned(a->y, 2 * es)) {
        bool even = true;
        for (int d = 0; d < r - 1; d++) even = even && is[d] % 2 == 0 && os[d] % 2 == 0;
        if (!even) break;
        es *= 2;
        dims[r - 1] /= 2;
        for (int d = 0; d < r - 1; d++) {
            is[d] /= 2;
            os[d] /= 2;
        }
        ib /= 2;
        ob /= 2;
    }
    int64_t n = 1, span_i = ib, span_o = ob;
    for (int d = 0; d < r; d++) {
        if (is[d] < 0 || os[d] < 0) return false;
        n *= dims[d];
        span_i += (dims[d] - 1) * is[d];
        span_o += (dims[d] - 1) * os[d];
    }
    if (span_i > INT32_MAX || span_o > INT32_MAX || ib > INT32_MAX || ob > INT32_MAX) return false;
    copy_geom g;
    for (int d = 0; d < r; d++) {
        g.dims[d] = dims[d];
        g.is[d] = is[d];
        g.os[d] = os[d];
    }
    auto go = [&](auto *ep) {
        using E = std::remove_pointer_t<decltype(ep)>;
        const E *x = (const E *)a->x;
        E *y = (E *)a->y;
        unsigned b = blocks_for(n, 256);
        switch (r) {
        case 1: k_copy32<E, 1><<<b, 256, 0, s>>>(x, y, g, (int)ib, (int)ob, (int)n); break;
        case 2: k_copy32<E, 2><<<b, 256, 0, s>>>(x, y, g, (int)ib, (int)ob, (int)n); break;
        case 3: k_copy32<E, 3><<<b, 256, 0, s>>>(x, y, g, (int)ib, (int)ob, (int)n); break;
        default: k_copy32<E, 4><<<b, 256, 0, s>>>(x, y, g, (int)ib, (int)ob, (int)n); break;
        }
    };
    switch (es) {
    case 1: go((uint8_t *)nullptr); return true;
    case 2: go((uint16_t *)nullptr); return true;
    case 4: go((uint32_t *)nullptr); return true;
    case 8: go((uint2 *)nullptr); return true;
    case 16: go((uint4 *)nullptr); return true;
    default: return false;
    }
}

lucid_status lc_copy(const lc_copy_args *a, void *stream, const char **why)
{
    if (copy_fast(a, (cudaStream_t)stream)) return finish(why);
    copy_geom g;
    g.rank = a->rank;
    for (int d = 0; d < LC_MAX_RANK; d++) {
        g.dims[d] = a->dims[d];
        g.is[d] = a->is[d];
        g.os[d] = a->os[d];
    }
    cudaStream_t s = (cudaStream_t)stream;
    unsigned b = blocks_for(a->n, 256);
    switch (a->esize) {
    case 1: k_copy<uint8_t><<<b, 256, 0, s>>>((const uint8_t *)a->x, (uint8_t *)a->y, g, a->ibase, a->obase, a->n); break;
    case 2: k_copy<uint16_t><<<b, 256, 0, s>>>((const uint16_t *)a->x, (uint16_t *)a->y, g, a->ibase, a->obase, a->n); break;
    case 4: k_copy<uint32_t><<<b, 256, 0, s>>>((const uint32_t *)a->x, (uint32_t *)a->y, g, a->ibase, a->obase, a->n); break;
    case 8: k_copy<uint64_t><<<b, 256, 0, s>>>((const uint64_t *)a->x, (uint64_t *)a->y, g, a->ibase, a->obase, a->n); break;
    default:
        if (why) *why = "element size must be 1, 2, 4 or 8 bytes";
        return LUCID_STATUS_INTERNAL;
    }
    return finish(why);
}

lucid_status lc_parts(const lc_parts_args *a, void *stream, const char **why)
{
    if (a->n_parts < 1 || a->n_parts > LC_PARTS_MAX || a->rows < 0 || a->width < 0 ||
        a->rows * a->width > INT32_MAX) {
        if (why) *why = "too many parts or elements for one launch";
        return LUCID_STATUS_UNSUPPORTED;
    }
    // the widest unit (at most 16 bytes) that divides every row, offset and address
    int64_t u = 16;
    auto fits = [&](int64_t bytes) { return bytes % u == 0; };
    for (; u > 1; u /= 2) {
        bool ok = fits(a->width * a->esize) && aligned(a->whole, u);
        for (int k = 0; k < a->n_parts && ok; k++)
            ok = fits(a->w[k] * a->esize) && fits(a->off[k] * a->esize) && aligned(a->part[k], u);
        if (ok) break;
    }
    parts_geom g;
    g.rows = (int)a->rows;
    g.width = (int)(a->width * a->esize / u);
    int64_t most = 0;
    for (int k = 0; k < a->n_parts; k++) {
        g.w[k] = (int)(a->w[k] * a->esize / u);
        g.off[k] = (int)(a->off[k] * a->esize / u);
        g.p[k] = a->part[k];
        if (a->rows * g.w[k] > most) most = a->rows * g.w[k];
    }
    if (most == 0) return LUCID_STATUS_OK;
    dim3 grid(blocks_for(most, 256), (unsigned)a->n_parts);
    cudaStream_t s = (cudaStream_t)stream;
    auto go = [&](auto *rp) {
        using R = std::remove_pointer_t<decltype(rp)>;
        k_parts<R><<<grid, 256, 0, s>>>(g, (R *)a->whole);
    };
    switch (u) {
    case 16: go((uint4 *)nullptr); break;
    case 8: go((uint2 *)nullptr); break;
    case 4: go((uint32_t *)nullptr); break;
    case 2: go((uint16_t *)nullptr); break;
    default: go((uint8_t *)nullptr); break;
    }
    return finish(why);
}

lucid_status lc_pool(const lc_pool_args *a, void *stream, const char **why)
{
    int64_t n = a->planes * a->oh * a->ow;
    dispatch(a->t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_pool<T><<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>(*a);
    });
    return finish(why);
}

lucid_status lc_global_pool(lc_type t, int is_max, const void *x, void *y, int64_t planes,
                            int64_t plane, void *stream, const char **why)
{
    dispatch(t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_global_pool<T><<<blocks_for(planes * 32, 256), 256, 0, (cudaStream_t)stream>>>(
            (const T *)x, (T *)y, planes, plane, is_max);
    });
    return finish(why);
}

/* the chunks of the plane one image's NHWC global pooling is split into: each block reduces
 * at least 4 positions per thread row and at most 64 chunks */
static int64_t gpool_chunk(int64_t plane, int rows)
{
    int64_t chunk = 4 * (int64_t)rows, least = (plane + 63) / 64;
    return chunk > least ? chunk : least;
}

size_t lc_global_pool_nhwc_workspace(lc_type t, int64_t batch, int64_t channels, int64_t plane)
{
    (void)t;
    /* rows >= 8, so chunks <= min(64, ceil(plane / 32)) */
    int64_t chunks = (plane + 31) / 32;
    if (chunks > 64) chunks = 64;
    return chunks > 1 ? (size_t)(batch * chunks * channels) * sizeof(float) : 0;
}

lucid_status lc_global_pool_nhwc(lc_type t, int is_max, const void *x, void *y, int64_t batch,
                                 int64_t channels, int64_t plane, void *work, size_t work_size,
                                 void *stream, const char **why)
{
    cudaStream_t s = (cudaStream_t)stream;
    if (batch <= 65535 && plane * channels * batch <= INT32_MAX && plane > 0 && channels > 0) {
        int es = t == LC_F32 ? 4 : 2;
        int v = widest(es, {channels}, {x, y});
        int64_t cv = channels / v;
        int lanes = (int)(cv < 32 ? cv : 32), rows = 256 / lanes;
        int64_t chunk = gpool_chunk(plane, rows), chunks = (plane + chunk - 1) / chunk;
        if (chunks > 1 && (!work || work_size < (size_t)(batch * chunks * channels) * sizeof(float))) {
            chunk = plane;
            chunks = 1;
        }
        dim3 grid((unsigned)((cv + lanes - 1) / lanes), (unsigned)chunks, (unsigned)batch);
        dim3 block((unsigned)lanes, (unsigned)rows);
        dispatch(t, [&](auto *tp) {
            using T = std::remove_pointer_t<decltype(tp)>;
            dispatch_vec<T>(v, [&](auto vc) {
                constexpr int V = decltype(vc)::value;
                k_gpool_nhwc_v<T, V><<<grid, block, 0, s>>>((const T *)x, (T *)y, (float *)work,
                                                            (int)channels, (int)plane,
                                                            (int)chunk, is_max);
            });
            if (chunks > 1) {
                int n = (int)(batch * channels);
                k_gpool_finish<T><<<blocks_for(n, 256), 256, 0, s>>>(
                    (const float *)work, (T *)y, (int)channels, (int)chunks, (int)plane, is_max, n);
            }
        });
        return finish(why);
    }
    if (batch > 65535) {
        if (why) *why = "batch over 65535";
        return LUCID_STATUS_INTERNAL;
    }
    dim3 block(32, plane >= 1024 ? 32 : plane >= 128 ? 16 : 4);
    dim3 grid((unsigned)((channels + 31) / 32), (unsigned)batch);
    dispatch(t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_global_pool_nhwc<T><<<grid, block, 0, (cudaStream_t)stream>>>((const T *)x, (T *)y,
                                                                        channels, plane, is_max);
    });
    return finish(why);
}

lucid_status lc_softmax(lc_type t, int log, const void *x, void *y, int64_t rows, int64_t cols,
                        void *stream, const char **why)
{
    if (rows > 2147483647) {
        if (why) *why = "too many rows";
        return LUCID_STATUS_INTERNAL;
    }
    dispatch(t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_softmax<T><<<(unsigned)rows, 256, 0, (cudaStream_t)stream>>>((const T *)x, (T *)y,
                                                                        cols, log);
    });
    return finish(why);
}

lucid_status lc_channel_affine(lc_type t, const void *x, void *y, const float *scale,
                               const float *shift, int64_t n, int64_t channels, int64_t inner,
                               lc_act act, float alpha, float beta, void *stream,
                               const char **why)
{
    if (chan_fast(t, x, y, scale, shift, nullptr, n, channels, inner, act, alpha, beta,
                  (cudaStream_t)stream))
        return finish(why);
    dispatch(t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_affine<T><<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>(
            (const T *)x, (T *)y, scale, shift, n, channels, inner, act, alpha, beta);
    });
    return finish(why);
}

lucid_status lc_dwconv(const lc_dwconv_args *a, void *stream, const char **why)
{
    int64_t n = a->batch * a->oc * a->oh * a->ow;
    int64_t group = a->group ? a->group : a->ic;
    if (a->nhwc && group == a->ic && a->oc == a->ic && n <= INT32_MAX &&
        a->batch * a->ih * a->iw * a->ic <= INT32_MAX) {
        /* depthwise, one filter per channel: V channels per thread */
        int es = a->t == LC_F32 ? 4 : 2;
        int v = widest(es, {a->ic}, {a->x, a->y, a->z});
        dw_geom g = {(int)a->ic, (int)a->ih, (int)a->iw, (int)a->oh, (int)a->ow, (int)a->kh,
                     (int)a->kw, (int)a->sh, (int)a->sw, (int)a->dh, (int)a->dw, (int)a->pt,
                     (int)a->pl};
        dispatch(a->t, [&](auto *tp) {
            using T = std::remove_pointer_t<decltype(tp)>;
            dispatch_vec<T>(v, [&](auto vc) {
                constexpr int V = decltype(vc)::value;
                int nv = (int)(n / V);
                k_dwconv_nhwc_v<T, V><<<blocks_for(nv, 128), 128, 0, (cudaStream_t)stream>>>(
                    (const T *)a->x, (T *)a->y, a->w, a->bias, (const T *)a->z, g, nv, a->act,
                    a->alpha, a->beta);
            });
        });
        return finish(why);
    }
    dispatch(a->t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_dwconv<T><<<blocks_for(n, 128), 128, 0, (cudaStream_t)stream>>>(*a);
    });
    return finish(why);
}

lucid_status lc_resize_nearest(lc_type t, const void *x, void *y, int64_t planes, int64_t ih,
                               int64_t iw, int64_t oh, int64_t ow, void *stream,
                               const char **why)
{
    int64_t n = planes * oh * ow;
    cudaStream_t s = (cudaStream_t)stream;
    if (t == LC_F32)
        k_resize_nearest<uint32_t><<<blocks_for(n, 256), 256, 0, s>>>(
            (const uint32_t *)x, (uint32_t *)y, planes, ih, iw, oh, ow);
    else
        k_resize_nearest<uint16_t><<<blocks_for(n, 256), 256, 0, s>>>(
            (const uint16_t *)x, (uint16_t *)y, planes, ih, iw, oh, ow);
    return finish(why);
}

lucid_status lc_resize_nearest_nhwc(lc_type t, const void *x, void *y, int64_t batch,
                                    int64_t c, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
                                    void *stream, const char **why)
{
    int64_t n = batch * oh * ow * c;
    cudaStream_t s = (cudaStream_t)stream;
    if (t == LC_F32)
        k_resize_nearest_nhwc<uint32_t><<<blocks_for(n, 256), 256, 0, s>>>(
            (const uint32_t *)x, (uint32_t *)y, batch, c, ih, iw, oh, ow);
    else
        k_resize_nearest_nhwc<uint16_t><<<blocks_for(n, 256), 256, 0, s>>>(
            (const uint16_t *)x, (uint16_t *)y, batch, c, ih, iw, oh, ow);
    return finish(why);
}

lucid_status lc_pad(const lc_pad_args *a, void *stream, const char **why)
{
    dispatch(a->t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_pad<T><<<blocks_for(a->n, 256), 256, 0, (cudaStream_t)stream>>>(*a);
    });
    return finish(why);
}

lucid_status lc_fill(lc_type t, void *y, int64_t n, void *stream, const char **why)
{
    dispatch(t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_fill<T><<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>((T *)y, n);
    });
    return finish(why);
}

lucid_status lc_quantize(lc_type t, const void *x, lc_q8 yq, void *y, int64_t n, float scale,
                         int32_t zp, void *stream, const char **why)
{
    dispatch(t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_quantize<T><<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>((const T *)x, yq, y, n,
                                                                            scale, zp);
    });
    return finish(why);
}

lucid_status lc_dequantize(lc_q8 xq, const void *x, lc_type t, void *y, int64_t n, float scale,
                           int32_t zp, void *stream, const char **why)
{
    dispatch(t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_dequantize<T>
            <<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>(xq, x, (T *)y, n, scale, zp);
    });
    return finish(why);
}

lucid_status lc_q8_im2col(const lc_q8_im2col_args *a, void *stream, const char **why)
{
    int64_t n = a->batch * a->oh * a->ow * a->kp;
    const int64_t nx = a->batch * a->ih * a->iw * a->c;
    const int v = a->c % 16 == 0 ? 16 : a->c % 8 == 0 ? 8 : a->c % 4 == 0 ? 4 : 1;
    const bool small = n < ((int64_t)1 << 31) && nx < ((int64_t)1 << 31);
    cudaStream_t s = (cudaStream_t)stream;
    unsigned g = blocks_for(n / v, 256);
    if (v == 16 && small)
        k_q8_im2col_v<uint4, int><<<g, 256, 0, s>>>(*a);
    else if (v == 16)
        k_q8_im2col_v<uint4, int64_t><<<g, 256, 0, s>>>(*a);
    else if (v == 8 && small)
        k_q8_im2col_v<uint2, int><<<g, 256, 0, s>>>(*a);
    else if (v == 8)
        k_q8_im2col_v<uint2, int64_t><<<g, 256, 0, s>>>(*a);
    else if (v == 4 && small)
        k_q8_im2col_v<uint32_t, int><<<g, 256, 0, s>>>(*a);
    else if (v == 4)
        k_q8_im2col_v<uint32_t, int64_t><<<g, 256, 0, s>>>(*a);
    else if (small) {
        int64_t nt = a->batch * a->oh * a->ow * (a->kh * a->kw + 1);
        k_q8_im2col_tap<int><<<blocks_for(nt, 256), 256, 0, s>>>(*a);
    } else
        k_q8_im2col<<<blocks_for(n, 256), 256, 0, s>>>(*a);
    return finish(why);
}

lucid_status lc_q8_epilogue(const lc_q8_epilogue_args *a, void *stream, const char **why)
{
    int64_t n = a->rows * a->m;
    const bool four = a->m % 4 == 0, small = n < ((int64_t)1 << 31);
    dispatch(a->t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        cudaStream_t s = (cudaStream_t)stream;
        if (four && small)
            k_q8_epilogue4<T, int><<<blocks_for(n / 4, 256), 256, 0, s>>>(*a);
        else if (four)
            k_q8_epilogue4<T, int64_t><<<blocks_for(n / 4, 256), 256, 0, s>>>(*a);
        else
            k_q8_epilogue<T><<<blocks_for(n, 256), 256, 0, s>>>(*a);
    });
    return finish(why);
}

lucid_status lc_q8_dconv(const lc_q8_dconv_args *a, void *stream, const char **why)
{
    int64_t n = a->batch * a->oh * a->ow * a->oc;
    const bool small =
        n < ((int64_t)1 << 31) && a->batch * a->ih * a->iw * a->ic < ((int64_t)1 << 31);
    dispatch(a->e.t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        cudaStream_t s = (cudaStream_t)stream;
        if (a->w_hwc && a->oc % 16 == 0 && small)
            k_q8_dw<T, int, 4><<<blocks_for(n / 16, 128), 128, 0, s>>>(*a);
        else if (a->w_hwc && small)
            k_q8_dw<T, int, 1><<<blocks_for(n / 4, 256), 256, 0, s>>>(*a);
        else if (a->w_hwc)
            k_q8_dw<T, int64_t, 1><<<blocks_for(n / 4, 256), 256, 0, s>>>(*a);
        else
            k_q8_dconv<T><<<blocks_for(n, 256), 256, 0, s>>>(*a);
    });
    return finish(why);
}

lucid_status lc_pool_q8(const lc_pool_args *a, lc_q8 q, void *stream, const char **why)
{
    int64_t n = a->planes * a->oh * a->ow;
    if (a->is_max && a->nhwc && a->channels % 4 == 0 && n < ((int64_t)1 << 31) &&
        a->planes * a->ih * a->iw < ((int64_t)1 << 31)) {
        k_q8_maxpool4<int>
            <<<blocks_for(n / 4, 256), 256, 0, (cudaStream_t)stream>>>(*a, q == LC_Q_U8);
        return finish(why);
    }
    if (q == LC_Q_U8)
        k_pool<uint8_t><<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>(*a);
    else
        k_pool<int8_t><<<blocks_for(n, 256), 256, 0, (cudaStream_t)stream>>>(*a);
    return finish(why);
}

} // extern "C"
