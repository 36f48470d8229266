// kernels.cu - lucid's own CUDA kernels (elementwise, broadcasting, copies, pooling, softmax,
// depthwise convolution, resize, pad) behind the extern "C" launchers of kernels.h. Every
// kernel computes in float32 and reads/writes float32, float16 or bfloat16 storage; reductions
// run in a fixed order, so results do not vary from run to run.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <math.h>
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

__device__ __forceinline__ float sigmoidf(float v)
{
    return v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));
}

__device__ __forceinline__ float act_apply(lc_act act, float v, float alpha, float beta)
{
    switch (act) {
    case LC_ACT_NONE: return v;
    case LC_ACT_RELU: return v < 0 ? 0.0f : v;
    case LC_ACT_CLIP: {
        float t = v < alpha ? alpha : v;
        return t > beta ? beta : t;
    }
    case LC_ACT_LEAKY_RELU: return v < 0 ? alpha * v : v;
    case LC_ACT_SIGMOID: return sigmoidf(v);
    case LC_ACT_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, alpha * v + beta));
    case LC_ACT_HARD_SWISH: return v * fmaxf(0.0f, fminf(1.0f, v * (1.0f / 6.0f) + 0.5f));
    case LC_ACT_SILU: return v * sigmoidf(v);
    case LC_ACT_TANH: return tanhf(v);
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

lucid_status lc_epilogue(const lc_epilogue_args *a, void *stream, const char **why)
{
    dispatch(a->t, [&](auto *tp) {
        using T = std::remove_pointer_t<decltype(tp)>;
        k_epilogue<T><<<blocks_for(a->n, 256), 256, 0, (cudaStream_t)stream>>>(
            (const T *)a->x, (T *)a->y, a->bias, (const T *)a->z, a->n, a->channels, a->inner,
            a->act, a->alpha, a->beta);
    });
    return finish(why);
}

lucid_status lc_binary(const lc_binary_args *a, void *stream, const char **why)
{
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

lucid_status lc_copy(const lc_copy_args *a, void *stream, const char **why)
{
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

lucid_status lc_global_pool_nhwc(lc_type t, int is_max, const void *x, void *y, int64_t batch,
                                 int64_t channels, int64_t plane, void *stream,
                                 const char **why)
{
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

} // extern "C"
