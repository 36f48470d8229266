/* tactic_list.h - every tactic compiled in, in preference order: X(symbol) for a tactic
 * defined as `const lucid_tactic lucid_tactic_<symbol>`. Optional backends wrap their lines
 * in their LUCID_HAVE_<BACKEND> guard. Adding a tactic: its file and one line here. */
#ifndef LUCID_TACTICS_TACTIC_LIST_H
#define LUCID_TACTICS_TACTIC_LIST_H

#define LUCID_TACTIC_LIST_CPU(X)                                                               \
    X(cpu_transpose_copy)                                                                      \
    X(cpu_slice_copy)                                                                          \
    X(cpu_concat_split_copy)                                                                   \
    X(cpu_concat_split_nchw16c)                                                                \
    X(cpu_pad_rowcopy)                                                                         \
    X(cpu_resize_nearest)                                                                      \
    X(cpu_reorder_tiled)                                                                       \
    X(cpu_quantize_avx512)                                                                     \
    X(cpu_quantize_avx512_nhwc)                                                                \
    X(cpu_qconv_int8_pointwise_vnni)                                                           \
    X(cpu_qgemm_int8_vnni)                                                                     \
    X(cpu_gemm_f32_avx512)                                                                     \
    X(cpu_gemm_f32_avx2)                                                                       \
    X(cpu_gemm_f32_generic)                                                                    \
    X(cpu_conv_f32_pointwise_smallk_avx512)                                                    \
    X(cpu_conv_f32_1x1_gemm_avx512)                                                            \
    X(cpu_conv_f32_1x1_gemm_avx2)                                                              \
    X(cpu_conv_f32_depthwise_avx512)                                                           \
    X(cpu_conv_f32_depthwise_generic)                                                          \
    X(cpu_conv_f32_direct_avx512)                                                              \
    X(cpu_conv_f32_winograd_f2x3_avx512)                                                       \
    X(cpu_conv_f32_winograd_f4x3_avx512)                                                       \
    X(cpu_conv_f32_im2col_gemm_avx512)                                                         \
    X(cpu_conv_f32_im2col_gemm_avx2)                                                           \
    X(cpu_pool_f32_max_avx512)                                                                 \
    X(cpu_pool_f32_avg_avx512)                                                                 \
    X(cpu_pool_f32_max_avx512_nchw16c)                                                         \
    X(cpu_pool_f32_avg_avx512_nchw16c)                                                         \
    X(cpu_pool_f32_max_generic)                                                                \
    X(cpu_pool_f32_avg_generic)                                                                \
    X(cpu_eltwise_f32_avx512)                                                                  \
    X(cpu_eltwise_f32_avx512_nhwc)                                                             \
    X(cpu_eltwise_f32_avx512_nchw16c)                                                          \
    X(cpu_batchnorm_f32_avx512)                                                                \
    X(cpu_batchnorm_f32_avx512_nchw16c)                                                        \
    X(cpu_softmax_f32_avx512)

/* 16-bit tactics: Cast (src/cpu/half_convert.c), and 16-bit layers run by float32 tactics
 * (src/cpu/widen16.c: widen16_<the float32 tactic>, listed there with names and layouts),
 * oneDNN's bfloat16 kernels (src/cpu/dnnl_conv.c, dnnl_matmul.c) */
#define LUCID_TACTIC_LIST_HALF(X)                                                              \
    X(cpu_cast_f32_f16_avx512)                                                                 \
    X(cpu_cast_f32_bf16_avx512)                                                                \
    X(widen16_cpu_gemm_f32_avx512)                                                             \
    X(widen16_cpu_conv_f32_pointwise_smallk_avx512)                                            \
    X(widen16_cpu_conv_f32_1x1_gemm_avx512)                                                    \
    X(widen16_cpu_conv_f32_depthwise_avx512)                                                   \
    X(widen16_cpu_conv_f32_direct_avx512)                                                      \
    X(widen16_cpu_conv_f32_winograd_f4x3_avx512)                                               \
    X(widen16_cpu_conv_f32_im2col_gemm_avx512)                                                 \
    X(widen16_cpu_pool_f32_max_avx512)                                                         \
    X(widen16_cpu_pool_f32_avg_avx512)                                                         \
    X(widen16_cpu_batchnorm_f32_avx512)                                                        \
    X(widen16_cpu_eltwise_f32_avx512)                                                          \
    LUCID_TACTIC_LIST_HALF_DNNL(X)
#ifdef LUCID_HAVE_DNNL
#define LUCID_TACTIC_LIST_HALF_DNNL(X)                                                         \
    X(dnnl_conv_bf16_nchw)                                                                     \
    X(dnnl_conv_bf16_blocked_reorder)                                                          \
    X(dnnl_conv_bf16_nhwc)                                                                     \
    X(dnnl_matmul_bf16)                                                                        \
    X(widen16_dnnl_conv_f32_nchw)                                                              \
    X(widen16_dnnl_conv_f32_blocked_reorder)                                                   \
    X(widen16_dnnl_conv_f32_nhwc)                                                              \
    X(widen16_dnnl_matmul_f32)                                                                 \
    X(widen16_dnnl_pool_f32_nhwc)
#else
#define LUCID_TACTIC_LIST_HALF_DNNL(X)
#endif

/* library tactics (src/cpu/dnnl_*.c, blas_*.c), each list empty without its library */
#ifdef LUCID_HAVE_DNNL
#define LUCID_TACTIC_LIST_DNNL(X)                                                              \
    X(dnnl_conv_f32_nchw)                                                                      \
    X(dnnl_conv_f32_blocked_reorder)                                                           \
    X(dnnl_conv_f32_nhwc)                                                                      \
    X(dnnl_conv_f32_nchw16c)                                                                   \
    X(dnnl_conv_f32_winograd_nchw16c)                                                          \
    X(dnnl_matmul_f32)                                                                         \
    X(dnnl_conv_int8_nhwc)                                                                     \
    X(dnnl_conv_int8_nchw)                                                                     \
    X(dnnl_conv_int8_nchw_reorder)                                                             \
    X(dnnl_matmul_int8)                                                                        \
    X(dnnl_pool_f32_nchw)                                                                      \
    X(dnnl_pool_f32_nhwc)                                                                      \
    X(dnnl_pool_f32_nchw16c)                                                                   \
    X(dnnl_pool_int8_nchw)                                                                     \
    X(dnnl_pool_int8_nhwc)
#else
#define LUCID_TACTIC_LIST_DNNL(X)
#endif
#ifdef LUCID_HAVE_XNNPACK
#define LUCID_TACTIC_LIST_XNN(X)                                                               \
    X(xnn_conv_f32_nhwc)                                                                       \
    X(xnn_gemm_f32)
#else
#define LUCID_TACTIC_LIST_XNN(X)
#endif
#ifdef LUCID_HAVE_BLAS
#define LUCID_TACTIC_LIST_BLAS(X)                                                              \
    X(blas_gemm_f32_sgemm)                                                                     \
    X(blas_conv_f32_im2col_sgemm)
#else
#define LUCID_TACTIC_LIST_BLAS(X)
#endif

/* GPU tactics (src/cuda/), in a build with LUCID_CUDA */
#ifdef LUCID_HAVE_CUDA
#include "cuda/cuda_tactic_list.h"
#else
#define LUCID_TACTIC_LIST_CUDA(X)
#endif

#define LUCID_TACTIC_LIST(X)                                                                   \
    LUCID_TACTIC_LIST_CPU(X)                                                                   \
    LUCID_TACTIC_LIST_HALF(X)                                                                  \
    LUCID_TACTIC_LIST_DNNL(X) LUCID_TACTIC_LIST_XNN(X) LUCID_TACTIC_LIST_BLAS(X) LUCID_TACTIC_LIST_CUDA(X) X(reference)

#endif
