/* half.c - 16-bit float (float16, bfloat16) support for reference kernels written in float32:
 * widen the inputs exactly, compute in float32, round every output once on store. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"

bool lucid_dtype_is_float16(lucid_dtype dtype)
{
    return dtype == LUCID_DTYPE_FLOAT16 || dtype == LUCID_DTYPE_BFLOAT16;
}

void lucid_half_widen(lucid_dtype dtype, const uint16_t *src, float *dst, int64_t count)
{
    if (dtype == LUCID_DTYPE_FLOAT16)
        for (int64_t i = 0; i < count; i++) dst[i] = lucid_half_to_float(src[i]);
    else
        for (int64_t i = 0; i < count; i++) dst[i] = lucid_bf16_to_float(src[i]);
}

void lucid_half_narrow(lucid_dtype dtype, const float *src, uint16_t *dst, int64_t count)
{
    if (dtype == LUCID_DTYPE_FLOAT16)
        for (int64_t i = 0; i < count; i++) dst[i] = lucid_float_to_half(src[i]);
    else
        for (int64_t i = 0; i < count; i++) dst[i] = lucid_float_to_bf16(src[i]);
}

#define WIDEN_MAX 16

lucid_status lucid_op_run_widened(const lucid_node *n, lucid_op_run_fn run, const lucid_array *in,
                                  int n_in, lucid_array *out, int n_out, lucid_error *err)
{
    if (n_in > WIDEN_MAX || n_out > WIDEN_MAX)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "too many operands to widen");
    lucid_array win[WIDEN_MAX], wout[WIDEN_MAX];
    memset(win, 0, sizeof win);
    memset(wout, 0, sizeof wout);
    void *owned[2 * WIDEN_MAX] = {0};
    int n_owned = 0;
    lucid_status st = LUCID_STATUS_OK;
    for (int k = 0; k < n_in + n_out; k++) {
        const lucid_array *a = k < n_in ? &in[k] : &out[k - n_in];
        lucid_array *w = k < n_in ? &win[k] : &wout[k - n_in];
        *w = *a;
        if (!a->data || !lucid_dtype_is_float16(a->dtype)) continue;
        int64_t count = lucid_array_numel(a);
        float *f = malloc(sizeof(float) * (size_t)(count > 0 ? count : 1));
        if (!f) {
            st = lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY,
                                   "out of memory widening 16-bit operands");
            goto done;
        }
        owned[n_owned++] = f;
        if (k < n_in) lucid_half_widen(a->dtype, a->data, f, count);
        w->dtype = LUCID_DTYPE_FLOAT;
        w->data = f;
        w->nbytes = sizeof(float) * (size_t)count;
    }
    st = run(n, win, n_in, wout, n_out, err);
    if (st) goto done;
    for (int k = 0; k < n_out; k++)
        if (out[k].data && lucid_dtype_is_float16(out[k].dtype))
            lucid_half_narrow(out[k].dtype, wout[k].data, out[k].data,
                              lucid_array_numel(&out[k]));
done:
    for (int i = 0; i < n_owned; i++) free(owned[i]);
    return st;
}
