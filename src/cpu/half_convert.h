/* half_convert.h - float32 <-> float16 / bfloat16 conversion of whole buffers for the 16-bit
 * tactics: AVX-512 kernels (cast16_avx512.c) when the processor has them, else the scalar
 * conversions of core/util.c; both round to nearest even and agree bit for bit (NaN payloads
 * aside: every NaN stays a NaN of the same sign). Threaded over the pool in blocks. */
#ifndef LUCID_CPU_HALF_CONVERT_H
#define LUCID_CPU_HALF_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "ir/graph.h"
#include "lucid.h"

/* A float32 copy of node n as the single node of a new graph (src/cpu/widen16.c): 16-bit
 * tensors become float32 (constants widened, exactly), everything else is copied as it is,
 * names and attributes kept. Float32 tactics prepare on it. NULL, with a reason, on failure;
 * free with lucid_graph_destroy. */
lucid_graph *lucid_half_shadow_create(const lucid_graph *g, const lucid_node *n, char *why,
                                      size_t why_len);

/* The AVX-512 kernels (callable only where AVX-512F is present). */
void lucid_avx512_f16_to_f32(const uint16_t *src, float *dst, int64_t n);
void lucid_avx512_f32_to_f16(const float *src, uint16_t *dst, int64_t n);
void lucid_avx512_bf16_to_f32(const uint16_t *src, float *dst, int64_t n);
void lucid_avx512_f32_to_bf16(const float *src, uint16_t *dst, int64_t n);

/* dst (float32) = src (dtype float16 or bfloat16), n values; avx512 picks the kernels. */
void lucid_half_to_f32_buffer(lucid_dtype dtype, const void *src, float *dst, int64_t n,
                              bool avx512, lucid_threadpool *pool);
/* dst (float16 or bfloat16) = src rounded to nearest even. */
void lucid_f32_to_half_buffer(lucid_dtype dtype, const float *src, void *dst, int64_t n,
                              bool avx512, lucid_threadpool *pool);

#endif
