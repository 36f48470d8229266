/* util.h - small shared helpers: checked arithmetic, allocation, strings, half floats. */
#ifndef LUCID_CORE_UTIL_H
#define LUCID_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lucid.h"

#define LUCID_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LUCID_MIN(a, b) ((a) < (b) ? (a) : (b))
#define LUCID_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Checked arithmetic: return false on overflow. */
static inline bool lucid_mul_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool lucid_add_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}
static inline bool lucid_mul_i64(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Product of dims with overflow and limit check: returns -1 if any dim is negative,
 * -2 if the product exceeds LUCID_MAX_ELEMENTS. rank 0 gives 1. */
int64_t lucid_shape_numel(int rank, const int64_t *dims);

/* strdup that returns NULL on NULL. */
char *lucid_strdup(const char *s);

/* IEEE half and bfloat16 conversions (round to nearest even). */
float lucid_half_to_float(uint16_t h);
uint16_t lucid_float_to_half(float f);
float lucid_bf16_to_float(uint16_t h);
uint16_t lucid_float_to_bf16(float f);

/* Formats dims as "1x3x224x224" ("scalar" for rank 0, "?" for -1) into buf. */
const char *lucid_shape_str(int rank, const int64_t *dims, char *buf, size_t len);

#endif
