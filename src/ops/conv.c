/* conv.c - Conv and ConvTranspose: attributes, output geometry, MAC counts, reference kernels. */
#include <string.h>

#include "core/util.h"
#include "ops/conv.h"

#define CONV_MAX_SPATIAL LUCID_CONV_MAX_SPATIAL
/* Attribute values above this are refused so that window arithmetic stays far from int64
 * overflow: every product below is of at most two such values and a tensor dimension. */
#define CONV_MAX_ATTR LUCID_OP_MAX_GEOMETRY

typedef lucid_conv_params conv_params;

typedef lucid_conv_geom conv_geom;

static lucid_status conv_parse_common(const lucid_node *n, conv_params *p, bool transpose,
                                      lucid_error *err)
{
    lucid_status st = lucid_op_auto_pad(n, &p->auto_pad, err);
    if (st) return st;
    if ((st = lucid_attr_int(n, "group", 1, &p->group, err))) return st;
    if (p->group < 1 || p->group > CONV_MAX_ATTR)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "group %lld must be positive",
                                 (long long)p->group);
    if ((st = lucid_op_geometry_ints(n, "kernel_shape", p->kernel, CONV_MAX_SPATIAL, &p->n_kernel, 1,
                             err)) ||
        (st = lucid_op_geometry_ints(n, "strides", p->strides, CONV_MAX_SPATIAL, &p->n_strides, 1, err)) ||
        (st = lucid_op_geometry_ints(n, "dilations", p->dilations, CONV_MAX_SPATIAL, &p->n_dilations, 1,
                             err)) ||
        (st = lucid_op_geometry_ints(n, "pads", p->pads, 2 * CONV_MAX_SPATIAL, &p->n_pads, 0, err)))
        return st;
    if (p->n_pads % 2)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute 'pads' has %zu values (must be even: begins, then "
                                 "ends)",
                                 p->n_pads);
    if (transpose) {
        if ((st = lucid_op_geometry_ints(n, "output_padding", p->out_pad, CONV_MAX_SPATIAL, &p->n_out_pad,
                                 0, err)) ||
            (st = lucid_op_geometry_ints(n, "output_shape", p->out_shape, LUCID_MAX_RANK, &p->n_out_shape,
                                 0, err)))
            return st;
    }
    return LUCID_STATUS_OK;
}

static lucid_status conv_parse(const lucid_graph *g, const lucid_node *n, void *params,
                               lucid_error *err)
{
    return conv_parse_common(n, params, false, err);
}

static lucid_status conv_transpose_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                         lucid_error *err)
{
    return conv_parse_common(n, params, true, err);
}

static lucid_status conv_check_len(const lucid_node *n, const char *name, size_t count, size_t want,
                                   lucid_error *err)
{
    if (count == 0 || count == want) return LUCID_STATUS_OK;
    return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                             "attribute '%s' has %zu values, the input has %zu spatial "
                             "dimensions (needs %zu)",
                             name, count, want / (strcmp(name, "pads") == 0 ? 2 : 1), want);
}

/* Resolves the geometry of a Conv (transpose false) or ConvTranspose from the input shapes
 * (b_rank -1 when there is no bias), checking every attribute against them. */
static lucid_status conv_geometry(const lucid_node *n, const conv_params *p, bool transpose,
                                  int x_rank, const int64_t *xd, int w_rank, const int64_t *wd,
                                  int b_rank, const int64_t *bd, conv_geom *g, lucid_error *err)
{
    char sx[128], sw[128];
    memset(g, 0, sizeof *g);
    if (x_rank < 3)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input X has shape %s; it needs rank 3 or more (N x C x "
                                 "spatial dims)",
                                 lucid_shape_str(x_rank, xd, sx, sizeof sx));
    if (w_rank != x_rank)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "weight W has shape %s, which does not match the rank of input "
                                 "X %s",
                                 lucid_shape_str(w_rank, wd, sw, sizeof sw),
                                 lucid_shape_str(x_rank, xd, sx, sizeof sx));
    int nsp = x_rank - 2;
    size_t un = (size_t)nsp;
    lucid_status st;
    if ((st = conv_check_len(n, "kernel_shape", p->n_kernel, un, err)) ||
        (st = conv_check_len(n, "strides", p->n_strides, un, err)) ||
        (st = conv_check_len(n, "dilations", p->n_dilations, un, err)) ||
        (st = conv_check_len(n, "pads", p->n_pads, 2 * un, err)) ||
        (st = conv_check_len(n, "output_padding", p->n_out_pad, un, err)))
        return st;
    if (p->n_out_shape != 0 && p->n_out_shape != un && p->n_out_shape != un + 2)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute 'output_shape' has %zu values (needs %d spatial "
                                 "sizes, or %d with N and C)",
                                 p->n_out_shape, nsp, nsp + 2);
    g->nsp = nsp;
    g->batch = xd[0];
    g->in_c = xd[1];
    g->group = p->group;
    if (!transpose) {
        if (wd[0] % g->group != 0 || wd[1] * g->group != g->in_c)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "weight W %s does not fit input X %s with group %lld (W "
                                     "must be M x C/group x kernel, M a multiple of group)",
                                     lucid_shape_str(w_rank, wd, sw, sizeof sw),
                                     lucid_shape_str(x_rank, xd, sx, sizeof sx),
                                     (long long)g->group);
        g->out_c = wd[0];
    } else {
        if (wd[0] != g->in_c || g->in_c % g->group != 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "weight W %s does not fit input X %s with group %lld (W "
                                     "must be C x M/group x kernel, C a multiple of group)",
                                     lucid_shape_str(w_rank, wd, sw, sizeof sw),
                                     lucid_shape_str(x_rank, xd, sx, sizeof sx),
                                     (long long)g->group);
        if (!lucid_mul_i64(wd[1], g->group, &g->out_c) || g->out_c > LUCID_MAX_ELEMENTS)
            return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                     "output channels overflow");
    }
    if (b_rank >= 0 && (b_rank != 1 || bd[0] != g->out_c))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "bias B has shape %s; it must be 1-D with %lld values",
                                 lucid_shape_str(b_rank, bd, sx, sizeof sx), (long long)g->out_c);
    g->in_size = g->out_size = g->k_size = 1;
    for (int i = 0; i < nsp; i++) {
        int64_t in = xd[2 + i], k = wd[2 + i];
        int64_t s = p->n_strides ? p->strides[i] : 1;
        int64_t d = p->n_dilations ? p->dilations[i] : 1;
        if (k < 1)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "weight W %s has an empty kernel",
                                     lucid_shape_str(w_rank, wd, sw, sizeof sw));
        if (p->n_kernel && p->kernel[i] != k)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "kernel_shape[%d] = %lld disagrees with weight W %s", i,
                                     (long long)p->kernel[i],
                                     lucid_shape_str(w_rank, wd, sw, sizeof sw));
        if (k > CONV_MAX_ATTR || in > CONV_MAX_ATTR)
            return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED, "spatial size too large");
        int64_t dk = (k - 1) * d + 1; /* extent of the dilated kernel */
        int64_t pb = p->n_pads ? p->pads[i] : 0, pe = p->n_pads ? p->pads[nsp + i] : 0;
        int64_t out;
        if (!transpose) {
            if ((st = lucid_op_window(n, p->auto_pad, i, in, dk, s, false, &pb, &pe, &out, err)))
                return st;
        } else {
            int64_t op = p->n_out_pad ? p->out_pad[i] : 0;
            int64_t full = s * (in - 1) + op + dk; /* output size before padding */
            if (in < 1)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "input X %s has an empty spatial dimension",
                                         lucid_shape_str(x_rank, xd, sx, sizeof sx));
            if (p->n_out_shape || lucid_auto_pad_is_same(p->auto_pad)) {
                out = p->n_out_shape ? p->out_shape[p->n_out_shape - un + (size_t)i] : in * s;
                int64_t total = full - out;
                /* the split ONNX specifies, with floor division: total is negative when the
                 * requested output is larger, and the extra positions then go to the end */
                int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
                if (p->auto_pad == LUCID_AUTO_PAD_SAME_UPPER) {
                    pb = half;
                    pe = total - half;
                } else {
                    pb = total - half;
                    pe = half;
                }
            } else {
                if (p->auto_pad == LUCID_AUTO_PAD_VALID) pb = pe = 0;
                out = full - pb - pe;
            }
            if (out < 1)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "the output would have size %lld in spatial dim %d",
                                         (long long)out, i);
        }
        g->in[i] = in;
        g->out[i] = out;
        g->k[i] = k;
        g->s[i] = s;
        g->d[i] = d;
        g->pb[i] = pb;
        g->pe[i] = pe;
        g->in_size *= in;
        g->k_size *= k;
        if (!lucid_mul_i64(g->out_size, out, &g->out_size) || g->out_size > LUCID_MAX_ELEMENTS)
            return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                     "the output is too large");
    }
    return LUCID_STATUS_OK;
}

lucid_status lucid_conv_resolve_geometry(const lucid_node *n, const lucid_conv_params *p,
                                         int x_rank, const int64_t *xd, int w_rank,
                                         const int64_t *wd, lucid_conv_geom *g, lucid_error *err)
{
    return conv_geometry(n, p, false, x_rank, xd, w_rank, wd, -1, NULL, g, err);
}

static lucid_status conv_infer_common(lucid_graph *gr, lucid_node *n, bool transpose,
                                      lucid_error *err)
{
    /* float32, or 16-bit storage computed in float32 (the reference widens, see half.c) */
    static const lucid_dtype types[] = {LUCID_DTYPE_FLOAT, LUCID_DTYPE_FLOAT16,
                                        LUCID_DTYPE_BFLOAT16, LUCID_DTYPE_UNDEFINED};
    const lucid_ir_tensor *x = lucid_op_input(gr, n, 0), *w = lucid_op_input(gr, n, 1),
                          *b = lucid_op_input(gr, n, 2);
    lucid_status st;
    for (int i = 0; i < 3; i++)
        if ((st = lucid_op_check_dtype(gr, n, i, types, err))) return st;
    if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "inputs have different dtypes (X %s, W %s%s%s)",
                                 lucid_dtype_name(x->dtype), lucid_dtype_name(w->dtype),
                                 b ? ", B " : "", b ? lucid_dtype_name(b->dtype) : "");
    conv_geom g;
    st = conv_geometry(n, n->params, transpose, x->rank, x->dims, w->rank, w->dims,
                       b ? b->rank : -1, b ? b->dims : NULL, &g, err);
    if (st) return st;
    int64_t dims[LUCID_MAX_RANK] = {g.batch, g.out_c};
    for (int i = 0; i < g.nsp; i++)
        dims[2 + i] = g.out[i];
    if (transpose && ((const conv_params *)n->params)->n_out_shape == (size_t)g.nsp + 2) {
        const conv_params *p = n->params;
        if (p->out_shape[0] != g.batch || p->out_shape[1] != g.out_c)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "output_shape N x C (%lld x %lld) disagrees with the "
                                     "inputs (%lld x %lld)",
                                     (long long)p->out_shape[0], (long long)p->out_shape[1],
                                     (long long)g.batch, (long long)g.out_c);
    }
    return lucid_op_set_output(gr, n, 0, x->dtype, x->rank, dims, err);
}

static lucid_status conv_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    return conv_infer_common(g, n, false, err);
}

static lucid_status conv_transpose_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    return conv_infer_common(g, n, true, err);
}

static void conv_cost_common(const lucid_graph *gr, const lucid_node *n, bool transpose,
                             double *macs, double *flops)
{
    const lucid_ir_tensor *x = lucid_op_input(gr, n, 0), *w = lucid_op_input(gr, n, 1),
                          *b = lucid_op_input(gr, n, 2);
    conv_geom g;
    if (conv_geometry(n, n->params, transpose, x->rank, x->dims, w->rank, w->dims, b ? b->rank : -1,
                      b ? b->dims : NULL, &g, NULL))
        return;
    double k = (double)g.k_size;
    if (!transpose)
        *macs =
            (double)g.batch * (double)g.out_c * (double)g.out_size * (double)(g.in_c / g.group) * k;
    else
        *macs =
            (double)g.batch * (double)g.in_c * (double)g.in_size * (double)(g.out_c / g.group) * k;
    if (b) *flops = (double)g.batch * (double)g.out_c * (double)g.out_size;
}

static void conv_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    conv_cost_common(g, n, false, macs, flops);
}

static void conv_transpose_cost(const lucid_graph *g, const lucid_node *n, double *macs,
                                double *flops)
{
    conv_cost_common(g, n, true, macs, flops);
}

static lucid_status conv_run_geometry(const lucid_node *n, bool transpose, const lucid_array *in,
                                      int n_in, const lucid_array *out, conv_geom *g,
                                      lucid_error *err)
{
    bool has_b = n_in > 2 && in[2].data;
    lucid_status st =
        conv_geometry(n, n->params, transpose, in[0].rank, in[0].dims, in[1].rank, in[1].dims,
                      has_b ? in[2].rank : -1, has_b ? in[2].dims : NULL, g, err);
    if (st) return st;
    for (int i = 0; i < n_in && i < 3; i++)
        if (in[i].data && in[i].dtype != LUCID_DTYPE_FLOAT)
            return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                     "input %d has dtype %s; only float32 is supported", i,
                                     lucid_dtype_name(in[i].dtype));
    if (out[0].dtype != LUCID_DTYPE_FLOAT || out[0].rank != in[0].rank)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "output array mismatch");
    return LUCID_STATUS_OK;
}

/* Splits a flat kernel position into per-dimension kernel coordinates (row-major). */
static void conv_unflatten(const conv_geom *g, int64_t pos, int64_t *kc)
{
    for (int j = g->nsp - 1; j >= 0; j--) {
        kc[j] = pos % g->k[j];
        pos /= g->k[j];
    }
}

/* Output channels computed together by conv_run: each input row loaded feeds this many
 * accumulations. Blocking changes only which loop is outermost, never the order in which
 * any one output element is summed, so results are identical for every block size. */
#define CONV_OC_BLOCK 4

/* y[c][o] += w[c] * x[o * sl + off] for o in [lo, hi), c < nc (the block's channels). */
static void conv_row(int nc, float *const *y, const float *w, const float *x, int64_t lo,
                     int64_t hi, int64_t sl, int64_t off)
{
    if (nc == 4) {
        float *y0 = y[0], *y1 = y[1], *y2 = y[2], *y3 = y[3];
        for (int64_t o = lo; o < hi; o++) {
            const float xv = x[o * sl + off];
            y0[o] += w[0] * xv;
            y1[o] += w[1] * xv;
            y2[o] += w[2] * xv;
            y3[o] += w[3] * xv;
        }
        return;
    }
    for (int c = 0; c < nc; c++) {
        float *yc = y[c];
        const float wv = w[c];
        if (sl == 1)
            for (int64_t o = lo; o < hi; o++)
                yc[o] += wv * x[o + off];
        else
            for (int64_t o = lo; o < hi; o++)
                yc[o] += wv * x[o * sl + off];
    }
}

/* Conv: each output plane starts at its bias and accumulates, in the fixed order (input
 * channel, kernel position, output row), one weight times a shifted input row. The innermost
 * loop runs along the output width so that it streams through memory. */
static lucid_status conv_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, lucid_error *err)
{
    if (lucid_dtype_is_float16(in[0].dtype))
        return lucid_op_run_widened(n, conv_run, in, n_in, out, n_out, err);
    conv_geom g;
    lucid_status st = conv_run_geometry(n, false, in, n_in, out, &g, err);
    if (st) return st;
    const float *x = in[0].data, *w = in[1].data;
    const float *b = n_in > 2 && in[2].data ? in[2].data : NULL;
    float *y = out[0].data;
    if (g.out_size == 0 || g.batch == 0 || g.out_c == 0) return LUCID_STATUS_OK;
    const int last = g.nsp - 1;
    const int64_t cg = g.in_c / g.group, mg = g.out_c / g.group;
    const int64_t iw = g.in[last], ow = g.out[last], sl = g.s[last];
    const int64_t rows = g.out_size / ow; /* output positions over all but the last dim */
    bool pointwise = true;
    for (int j = 0; j < g.nsp; j++)
        pointwise &= g.k[j] == 1 && g.s[j] == 1 && g.pb[j] == 0 && g.pe[j] == 0;

    for (int64_t nb = 0; nb < g.batch; nb++) {
        for (int64_t oc0 = 0; oc0 < g.out_c;) {
            /* a block of output channels within one group (they share input channels) */
            const int64_t grp = oc0 / mg, group_end = (grp + 1) * mg;
            const int nc = (int)(group_end - oc0 < CONV_OC_BLOCK ? group_end - oc0 : CONV_OC_BLOCK);
            float *yo[CONV_OC_BLOCK], *yr[CONV_OC_BLOCK];
            for (int c = 0; c < nc; c++) {
                yo[c] = y + (nb * g.out_c + oc0 + c) * g.out_size;
                const float bv = b ? b[oc0 + c] : 0.0f;
                for (int64_t i = 0; i < g.out_size; i++)
                    yo[c][i] = bv;
            }
            for (int64_t icg = 0; icg < cg; icg++) {
                const float *xc = x + (nb * g.in_c + grp * cg + icg) * g.in_size;
                if (pointwise) {
                    float wv[CONV_OC_BLOCK];
                    for (int c = 0; c < nc; c++)
                        wv[c] = w[(oc0 + c) * cg + icg];
                    conv_row(nc, yo, wv, xc, 0, g.out_size, 1, 0);
                    continue;
                }
                for (int64_t kp = 0; kp < g.k_size; kp++) {
                    float wv[CONV_OC_BLOCK];
                    for (int c = 0; c < nc; c++)
                        wv[c] = w[((oc0 + c) * cg + icg) * g.k_size + kp];
                    int64_t kc[CONV_MAX_SPATIAL];
                    conv_unflatten(&g, kp, kc);
                    /* input column = output column * stride + off; keep it in [0, iw) */
                    const int64_t off = kc[last] * g.d[last] - g.pb[last];
                    int64_t lo = off < 0 ? lucid_ceil_div(-off, sl) : 0;
                    int64_t hi = lucid_ceil_div(iw - off, sl);
                    if (hi > ow) hi = ow;
                    if (lo >= hi) continue;
                    int64_t oi[CONV_MAX_SPATIAL] = {0}; /* output coords of the row */
                    for (int64_t r = 0; r < rows; r++) {
                        int64_t xoff = 0;
                        bool inside = true;
                        for (int j = 0; j < last; j++) {
                            int64_t ij = oi[j] * g.s[j] - g.pb[j] + kc[j] * g.d[j];
                            if (ij < 0 || ij >= g.in[j]) {
                                inside = false;
                                break;
                            }
                            xoff = xoff * g.in[j] + ij;
                        }
                        if (inside) {
                            for (int c = 0; c < nc; c++)
                                yr[c] = yo[c] + r * ow;
                            conv_row(nc, yr, wv, xc + xoff * iw, lo, hi, sl, off);
                        }
                        for (int j = last - 1; j >= 0; j--) {
                            if (++oi[j] < g.out[j]) break;
                            oi[j] = 0;
                        }
                    }
                }
            }
            oc0 += nc;
        }
    }
    return LUCID_STATUS_OK;
}

/* ConvTranspose: the adjoint of Conv. Each output plane starts at its bias; every input
 * row, times one weight, is scattered into the output row it maps to, in the fixed order
 * (input channel, kernel position, input row). */
static lucid_status conv_transpose_run(const lucid_node *n, const lucid_array *in, int n_in,
                                       lucid_array *out, int n_out, lucid_error *err)
{
    if (lucid_dtype_is_float16(in[0].dtype))
        return lucid_op_run_widened(n, conv_transpose_run, in, n_in, out, n_out, err);
    conv_geom g;
    lucid_status st = conv_run_geometry(n, true, in, n_in, out, &g, err);
    if (st) return st;
    const float *x = in[0].data, *w = in[1].data;
    const float *b = n_in > 2 && in[2].data ? in[2].data : NULL;
    float *y = out[0].data;
    if (g.out_size == 0 || g.batch == 0 || g.out_c == 0) return LUCID_STATUS_OK;
    const int last = g.nsp - 1;
    const int64_t cg = g.in_c / g.group, mg = g.out_c / g.group;
    const int64_t iw = g.in[last], ow = g.out[last], sl = g.s[last];
    const int64_t rows = g.in_size / iw; /* input positions over all but the last dim */

    for (int64_t nb = 0; nb < g.batch; nb++) {
        for (int64_t oc = 0; oc < g.out_c; oc++) {
            const int64_t grp = oc / mg, ocg = oc % mg;
            float *yo = y + (nb * g.out_c + oc) * g.out_size;
            const float bv = b ? b[oc] : 0.0f;
            for (int64_t i = 0; i < g.out_size; i++)
                yo[i] = bv;
            for (int64_t icg = 0; icg < cg; icg++) {
                const int64_t ic = grp * cg + icg;
                const float *xc = x + (nb * g.in_c + ic) * g.in_size;
                const float *wk = w + (ic * mg + ocg) * g.k_size;
                for (int64_t kp = 0; kp < g.k_size; kp++) {
                    const float wv = wk[kp];
                    int64_t kc[CONV_MAX_SPATIAL];
                    conv_unflatten(&g, kp, kc);
                    /* output column = input column * stride + off; keep it in [0, ow) */
                    const int64_t off = kc[last] * g.d[last] - g.pb[last];
                    int64_t lo = off < 0 ? lucid_ceil_div(-off, sl) : 0;
                    int64_t hi = lucid_ceil_div(ow - off, sl);
                    if (hi > iw) hi = iw;
                    if (lo >= hi) continue;
                    int64_t ii[CONV_MAX_SPATIAL] = {0}; /* input coords of the row */
                    for (int64_t r = 0; r < rows; r++) {
                        int64_t yoff = 0;
                        bool inside = true;
                        for (int j = 0; j < last; j++) {
                            int64_t oj = ii[j] * g.s[j] - g.pb[j] + kc[j] * g.d[j];
                            if (oj < 0 || oj >= g.out[j]) {
                                inside = false;
                                break;
                            }
                            yoff = yoff * g.out[j] + oj;
                        }
                        if (inside) {
                            float *yr = yo + yoff * ow;
                            const float *xr = xc + r * iw;
                            for (int64_t i = lo; i < hi; i++)
                                yr[i * sl + off] += wv * xr[i];
                        }
                        for (int j = last - 1; j >= 0; j--) {
                            if (++ii[j] < g.in[j]) break;
                            ii[j] = 0;
                        }
                    }
                }
            }
        }
    }
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_conv = {
    .name = "Conv",
    .min_inputs = 2,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(conv_params),
    .parse = conv_parse,
    .infer = conv_infer,
    .cost = conv_cost,
    .run = conv_run,
};

const lucid_op_def lucid_op_def_conv_transpose = {
    .name = "ConvTranspose",
    .min_inputs = 2,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(conv_params),
    .parse = conv_transpose_parse,
    .infer = conv_transpose_infer,
    .cost = conv_transpose_cost,
    .run = conv_transpose_run,
};

/* ---- the resolved 2-D convolution of the tactics (conv.h) ---------------------------- */

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
        return lucid_op_refuse(why, why_len, "only 2-D (NCHW) convolutions");
    if (x->dtype != LUCID_DTYPE_FLOAT || w->dtype != LUCID_DTYPE_FLOAT ||
        y->dtype != LUCID_DTYPE_FLOAT)
        return lucid_op_refuse(why, why_len, "only float32");
    if (!lucid_tensor_shape_known(x) || !lucid_tensor_shape_known(y) || !w->data)
        return lucid_op_refuse(why, why_len, "needs static shapes and constant weights");
    const lucid_ir_tensor *b = lucid_op_input(g, n, 2);
    if (b && (b->dtype != LUCID_DTYPE_FLOAT || lucid_tensor_numel(b) != w->dims[0]))
        return lucid_op_refuse(why, why_len, "bias is not float32 of one value per output channel");
    if (c->fused) {
        const lucid_ir_tensor *z = lucid_op_input(g, n, 3);
        if (z && (z->dtype != LUCID_DTYPE_FLOAT || lucid_tensor_numel(z) != lucid_tensor_numel(y)))
            return lucid_op_refuse(why, why_len, "residual is not float32 of the output's shape");
    }
    const conv_params *p = n->params; /* FusedConv's begin with Conv's */
    const lucid_activation *act = lucid_node_activation(n);
    if (!p || !act) return lucid_op_refuse(why, why_len, "attributes not parsed");
    c->act = *act;
    c->group = p->group;
    c->batch = x->dims[0];
    c->ic = x->dims[1];
    c->ih = x->dims[2];
    c->iw = x->dims[3];
    c->oc = w->dims[0];
    c->kh = w->dims[2];
    c->kw = w->dims[3];
    c->oh = y->dims[2];
    c->ow = y->dims[3];
    c->sh = p->n_strides ? p->strides[0] : 1;
    c->sw = p->n_strides ? p->strides[1] : 1;
    c->dh = p->n_dilations ? p->dilations[0] : 1;
    c->dw = p->n_dilations ? p->dilations[1] : 1;
    if (c->ic > INT32_MAX || c->oc > INT32_MAX || c->ih > INT32_MAX || c->iw > INT32_MAX ||
        c->kh > 64 || c->kw > 64 || c->sh > 64 || c->sw > 64 || c->dh > 64 || c->dw > 64)
        return lucid_op_refuse(why, why_len, "sizes outside this tactic's range");
    conv_geom geo;
    if (conv_geometry(n, p, false, x->rank, x->dims, w->rank, w->dims, -1, NULL, &geo, NULL))
        return lucid_op_refuse(why, why_len, "inconsistent shapes");
    c->pt = geo.pb[0];
    c->pl = geo.pb[1];
    if (y->dims[0] != c->batch || y->dims[1] != c->oc || c->ic % c->group ||
        c->oc % c->group || w->dims[1] * c->group != c->ic)
        return lucid_op_refuse(why, why_len, "inconsistent shapes");
    return true;
}
