/* conv_direct_common.c - padded input planes of the direct-family conv tactics (see
 * conv_direct_common.h). */
#include "cpu/conv_direct_common.h"

#include <string.h>

void lucid_dconv_plane_shape(const lucid_dconv *c, lucid_dconv_plane *p)
{
    p->rows = (c->oh - 1) * c->sh + (c->kh - 1) * c->dh + 1;
    int64_t cols = (c->ow - 1) * c->sw + (c->kw - 1) * c->dw + 1;
    /* slack: kernels load whole blocks of four vectors past the last column they keep */
    p->phase_w = (cols + c->sw - 1) / c->sw + 64;
    p->row_floats = c->sw * p->phase_w;
}

void lucid_dconv_plane_fill(const lucid_dconv *c, const lucid_dconv_plane *p, const float *x,
                            float fill, float *dst)
{
    const int64_t sw = c->sw, pw = p->phase_w;
    for (int64_t r = 0; r < p->rows; r++) {
        float *d = dst + r * p->row_floats;
        const int64_t iy = r - c->pt;
        if (iy < 0 || iy >= c->ih) {
            for (int64_t i = 0; i < p->row_floats; i++) d[i] = fill;
            continue;
        }
        const float *xr = x + iy * c->iw;
        if (sw == 1) {
            int64_t j = 0;
            for (; j < c->pl && j < pw; j++) d[j] = fill;
            int64_t n = c->iw < pw - j ? c->iw : pw - j;
            memcpy(d + j, xr, sizeof(float) * (size_t)n);
            for (j += n; j < pw; j++) d[j] = fill;
            continue;
        }
        for (int64_t ph = 0; ph < sw; ph++) {
            float *dp = d + ph * pw;
            for (int64_t j = 0; j < pw; j++) {
                int64_t ix = j * sw + ph - c->pl;
                dp[j] = ix >= 0 && ix < c->iw ? xr[ix] : fill;
            }
        }
    }
}
