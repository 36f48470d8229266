/* util.c - checked shape arithmetic, strings, 16-bit float conversions. */
#include "core/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t lucid_shape_numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return -1;
        if (!lucid_mul_i64(n, dims[i], &n) || n > LUCID_MAX_ELEMENTS) return -2;
    }
    return n;
}

int64_t lucid_array_numel(const lucid_array *a)
{
    return lucid_shape_numel(a->rank, a->dims);
}

char *lucid_strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

float lucid_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: value = mant * 2^-24 */
            float v = ldexpf((float)mant, -24);
            return sign ? -v : v;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t lucid_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520 */
    if (absx < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        float a;
        memcpy(&a, &absx, 4);
        float scaled = a * 16777216.0f; /* 2^24: units of the smallest subnormal */
        uint32_t m = (uint32_t)nearbyintf(scaled);
        return (uint16_t)(sign | m);
    }
    uint32_t mant = absx & 0x7fffff;
    uint32_t exp = (absx >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float lucid_bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t lucid_float_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    uint32_t lsb = (x >> 16) & 1;
    x += 0x7fff + lsb;
    return (uint16_t)(x >> 16);
}

const char *lucid_shape_str(int rank, const int64_t *dims, char *buf, size_t len)
{
    if (len == 0) return buf;
    buf[0] = '\0';
    if (rank < 0) {
        snprintf(buf, len, "unknown");
        return buf;
    }
    if (rank == 0) {
        snprintf(buf, len, "scalar");
        return buf;
    }
    size_t pos = 0;
    for (int i = 0; i < rank && pos < len; i++) {
        int w = dims[i] < 0 ? snprintf(buf + pos, len - pos, "%s?", i ? "x" : "")
                            : snprintf(buf + pos, len - pos, "%s%lld", i ? "x" : "",
                                       (long long)dims[i]);
        if (w < 0) break;
        pos += (size_t)w;
    }
    return buf;
}

const char *lucid_version(void)
{
    return LUCID_VERSION_STRING;
}

void lucid_array_free(lucid_array *a)
{
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}
