/* quant_util.h - the integer quantization arithmetic shared by QuantizeLinear,
 * DequantizeLinear, lucid's int8 layers (QConv, QGemm), their tactics and the qdq_fusion pass:
 * one definition of rounding, saturation and scale validity. */
#ifndef LUCID_OPS_QUANT_UTIL_H
#define LUCID_OPS_QUANT_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "ops/op.h"

/* v rounded to the nearest integer, ties to even, independent of the FPU rounding mode.
 * |v| must be below 2^31 (callers clamp); NaN gives 0. */
int32_t lucid_q_round_half_even(float v);
/* saturate(round_half_even(x / scale) + zero_point) into [qmin, qmax], the division in
 * float32 as ONNX specifies; NaN quantizes to the zero point. */
int32_t lucid_q_quantize(float x, float scale, int32_t zero_point, int32_t qmin, int32_t qmax);
/* The value range of a quantized dtype (int8, uint8, int32); false for any other. */
bool lucid_q_dtype_range(lucid_dtype t, int32_t *qmin, int32_t *qmax);
/* Is s a usable scale (positive and finite)? */
bool lucid_q_scale_ok(float s);
/* An INVALID_MODEL error naming `what` and the index of the first scale that is not. */
lucid_status lucid_q_check_scales(const lucid_node *n, const char *what, lucid_dtype dtype,
                                  const void *data, int64_t count, lucid_error *err);

#endif
