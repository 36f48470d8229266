/* conv_direct_common.c - geometry, activation and padded input planes of the direct-family
 * conv tactics (see conv_direct_common.h). */
#include "cpu/conv_direct_common.h"

#include <stdio.h>
#include <string.h>

#include "ops/op.h"

static bool refuse(char *why, size_t why_len, const char *msg)
{
    if (why && why_len) snprintf(why, why_len, "%s", msg);
    return false;
}

/* Reads a list attribute of exactly two values (absent: def). */
static bool read_pair(const lucid_node *n, const char *name, int64_t def, int64_t out[2])
{
    const int64_t *v;
    size_t count;
    if (lucid_attr_ints(n, name, &v, &count, NULL)) return false;
    if (count == 0) {
        out[0] = out[1] = def;
        return true;
    }
    if (count != 2) return false;
    out[0] = v[0];
    out[1] = v[1];
    return true;
}

bool lucid_dconv_resolve(const lucid_graph *g, const lucid_node *n, lucid_dconv *c, char *why,
                         size_t why_len)
{
    memset(c, 0, sizeof *c);
    if (n->op != LUCID_OP_CONV && n->op != LUCID_OP_FUSED_CONV)
        return false; /* another op: nothing to report */
    c->fused = n->op == LUCID_OP_FUSED_CONV;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *w = lucid_op_input(g, n, 1),
                          *y = lucid_op_output(g, n, 0);
    if (!x || !w || !y || x->rank != 4 || w->rank != 4 || y->rank != 4)
        return refuse(why, why_len, "only 2-D (NCHW) convolutions");
    if (x->dtype != LUCID_DTYPE_FLOAT || w->dtype != LUCID_DTYPE_FLOAT ||
        y->dtype != LUCID_DTYPE_FLOAT)
        return refuse(why, why_len, "only float32");
    if (!lucid_tensor_shape_known(x) || !lucid_tensor_shape_known(y) || !w->data)
        return refuse(why, why_len, "needs static shapes and constant weights");
    const lucid_ir_tensor *b = lucid_op_input(g, n, 2);
    if (b && (b->dtype != LUCID_DTYPE_FLOAT || lucid_tensor_numel(b) != w->dims[0]))
        return refuse(why, why_len, "bias is not float32 of one value per output channel");
    if (c->fused) {
        const lucid_ir_tensor *z = lucid_op_input(g, n, 3);
        if (z && (z->dtype != LUCID_DTYPE_FLOAT || lucid_tensor_numel(z) != lucid_tensor_numel(y)))
            return refuse(why, why_len, "residual is not float32 of the output's shape");
        const lucid_activation *act = lucid_node_activation(n);
        if (!act) return refuse(why, why_len, "activation not parsed");
        c->act = *act;
    }
    int64_t strides[2], dil[2], pads4[4];
    const char *auto_pad;
    if (lucid_attr_int(n, "group", 1, &c->group, NULL) || !read_pair(n, "strides", 1, strides) ||
        !read_pair(n, "dilations", 1, dil) ||
        lucid_attr_string(n, "auto_pad", "NOTSET", &auto_pad, NULL))
        return refuse(why, why_len, "unreadable attributes");
    const int64_t *pv;
    size_t pc;
    if (lucid_attr_ints(n, "pads", &pv, &pc, NULL) || (pc != 0 && pc != 4))
        return refuse(why, why_len, "unreadable pads");
    for (int i = 0; i < 4; i++) pads4[i] = pc ? pv[i] : 0;
    c->batch = x->dims[0];
    c->ic = x->dims[1];
    c->ih = x->dims[2];
    c->iw = x->dims[3];
    c->oc = w->dims[0];
    c->kh = w->dims[2];
    c->kw = w->dims[3];
    c->oh = y->dims[2];
    c->ow = y->dims[3];
    c->sh = strides[0];
    c->sw = strides[1];
    c->dh = dil[0];
    c->dw = dil[1];
    if (c->group < 1 || c->sh < 1 || c->sw < 1 || c->dh < 1 || c->dw < 1)
        return refuse(why, why_len, "bad attributes");
    if (c->ic > INT32_MAX || c->oc > INT32_MAX || c->ih > INT32_MAX || c->iw > INT32_MAX ||
        c->kh > 64 || c->kw > 64 || c->sh > 64 || c->sw > 64 || c->dh > 64 || c->dw > 64)
        return refuse(why, why_len, "sizes outside this tactic's range");
    if (strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0) {
        int64_t th = (c->oh - 1) * c->sh + (c->kh - 1) * c->dh + 1 - c->ih;
        int64_t tw = (c->ow - 1) * c->sw + (c->kw - 1) * c->dw + 1 - c->iw;
        if (th < 0) th = 0;
        if (tw < 0) tw = 0;
        bool upper = auto_pad[5] == 'U';
        c->pt = upper ? th / 2 : th - th / 2;
        c->pl = upper ? tw / 2 : tw - tw / 2;
    } else if (strcmp(auto_pad, "VALID") == 0) {
        c->pt = c->pl = 0;
    } else {
        c->pt = pads4[0];
        c->pl = pads4[1];
    }
    if (y->dims[0] != c->batch || y->dims[1] != c->oc || c->ic % c->group ||
        c->oc % c->group || w->dims[1] * c->group != c->ic)
        return refuse(why, why_len, "inconsistent shapes");
    return true;
}

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
