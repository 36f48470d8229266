/* resize.c - resampling: Resize (opsets 10-19) and Upsample (7, 9), nearest, N-D linear and
 * cubic interpolation with every coordinate transformation mode ONNX defines. The kernel
 * follows ONNX's reference implementation: separable 1-D filters whose taps are the input
 * points nearest the mapped coordinate, clamped at the borders. */
#include <math.h>
#include <string.h>

#include "core/util.h"
#include "ops/movement.h"
#include "ops/op.h"

/* Widest filter supported: an antialiased downsample by s needs about 4/s cubic taps. */
#define RESIZE_MAX_TAPS 128

typedef enum resize_mode { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC } resize_mode;

typedef enum resize_coord {
    COORD_HALF_PIXEL,
    COORD_HALF_PIXEL_SYMMETRIC,
    COORD_PYTORCH_HALF_PIXEL,
    COORD_ALIGN_CORNERS,
    COORD_ASYMMETRIC,
    COORD_TF_HALF_PIXEL_FOR_NN,
    COORD_TF_CROP_AND_RESIZE,
} resize_coord;

typedef enum resize_round {
    ROUND_PREFER_FLOOR,
    ROUND_PREFER_CEIL,
    ROUND_FLOOR,
    ROUND_CEIL,
    ROUND_SIMPLE, /* Upsample and Resize-10: floor when upsampling, ceil when downsampling */
} resize_round;

typedef enum resize_policy { POLICY_STRETCH, POLICY_NOT_LARGER, POLICY_NOT_SMALLER } resize_policy;

typedef struct resize_params {
    resize_mode mode;
    resize_coord coord;
    resize_round round;
    resize_policy policy;
    double cubic_a;
    double extrapolation;
    bool exclude_outside, antialias;
    /* resolved by infer, per input dim */
    double scale[LUCID_MAX_RANK];
    double roi_start[LUCID_MAX_RANK], roi_end[LUCID_MAX_RANK];
} resize_params;

static lucid_status pick(const lucid_node *n, const char *attr, const char *value,
                         const char *const *names, int count, int *out, lucid_error *err)
{
    for (int i = 0; i < count; i++)
        if (names[i] && strcmp(value, names[i]) == 0) {
            *out = i;
            return LUCID_STATUS_OK;
        }
    return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "unknown %s '%s'", attr, value);
}

static lucid_status resize_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                 lucid_error *err)
{
    (void)g;
    resize_params *p = params;
    bool upsample = n->op == LUCID_OP_UPSAMPLE;
    const char *mode, *coord, *round, *policy;
    float a, extra;
    int64_t exclude, antialias;
    lucid_status st = lucid_attr_string(n, "mode", "nearest", &mode, err);
    if (!st) st = lucid_attr_string(n, "coordinate_transformation_mode", "half_pixel", &coord, err);
    if (!st) st = lucid_attr_string(n, "nearest_mode", "round_prefer_floor", &round, err);
    if (!st) st = lucid_attr_string(n, "keep_aspect_ratio_policy", "stretch", &policy, err);
    if (!st) st = lucid_attr_float(n, "cubic_coeff_a", -0.75f, &a, err);
    if (!st) st = lucid_attr_float(n, "extrapolation_value", 0.0f, &extra, err);
    if (!st) st = lucid_attr_int(n, "exclude_outside", 0, &exclude, err);
    if (!st) st = lucid_attr_int(n, "antialias", 0, &antialias, err);
    if (st) return st;
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const coords[] = {
        "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
        "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const rounds[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                         "ceil"};
    static const char *const policies[] = {"stretch", "not_larger", "not_smaller"};
    int m = MODE_NEAREST, c = COORD_ASYMMETRIC, r = ROUND_SIMPLE, pol = POLICY_STRETCH;
    if (upsample && strcmp(mode, "bilinear") == 0) mode = "linear";
    st = pick(n, "mode", mode, modes, upsample || n->opset < 11 ? 2 : 3, &m, err);
    if (st) return st;
    if (!upsample && n->opset >= 11) {
        st = pick(n, "coordinate_transformation_mode", coord, coords, 7, &c, err);
        if (!st) st = pick(n, "nearest_mode", round, rounds, 4, &r, err);
        if (st) return st;
        if (c == COORD_HALF_PIXEL_SYMMETRIC && n->opset < 19)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "half_pixel_symmetric needs opset 19 or later");
    }
    if (!upsample && n->opset >= 18) {
        st = pick(n, "keep_aspect_ratio_policy", policy, policies, 3, &pol, err);
        if (st) return st;
    }
    p->mode = (resize_mode)m;
    p->coord = (resize_coord)c;
    p->round = (resize_round)r;
    p->policy = (resize_policy)pol;
    p->cubic_a = a;
    p->extrapolation = extra;
    p->exclude_outside = exclude != 0;
    p->antialias = antialias != 0 && n->opset >= 18 && p->mode != MODE_NEAREST;
    return LUCID_STATUS_OK;
}

/* An optional input that is absent or empty (ONNX's way of omitting scales or sizes). */
static const lucid_ir_tensor *given_input(const lucid_graph *g, const lucid_node *n, int i)
{
    const lucid_ir_tensor *t = lucid_op_input(g, n, i);
    return t && lucid_tensor_numel(t) > 0 ? t : NULL;
}

/* Reads a 1-D float tensor known at build into out. */
static lucid_status read_floats(const lucid_graph *g, const lucid_node *n, int i, double *out,
                                size_t max, size_t *count, lucid_error *err)
{
    const lucid_ir_tensor *t;
    lucid_status st = lucid_op_const_input(g, n, i, &t, err);
    if (st) return st;
    if (t->dtype != LUCID_DTYPE_FLOAT && t->dtype != LUCID_DTYPE_DOUBLE &&
        t->dtype != LUCID_DTYPE_FLOAT16 && t->dtype != LUCID_DTYPE_BFLOAT16)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input '%s' must be floating point, not %s", t->name,
                                 lucid_dtype_name(t->dtype));
    int64_t numel = lucid_tensor_numel(t);
    if (t->rank != 1 || numel < 0 || (size_t)numel > max)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input '%s' must be 1-D with at most %zu values", t->name, max);
    for (int64_t k = 0; k < numel; k++)
        out[k] = lucid_load_f64(t->dtype, t->data, k);
    *count = (size_t)numel;
    return LUCID_STATUS_OK;
}

static lucid_status resize_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    resize_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    int r = x->rank;
    bool upsample = n->op == LUCID_OP_UPSAMPLE;
    if (lucid_dtype_size(x->dtype) == 0 || x->dtype == LUCID_DTYPE_BOOL)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "input '%s' has dtype %s, which this op does not support", x->name,
                                 lucid_dtype_name(x->dtype));
    /* axes (opset 18) name the dims that scales, sizes and roi describe */
    int axes[LUCID_MAX_RANK], n_axes = r;
    for (int d = 0; d < r; d++)
        axes[d] = d;
    lucid_status st;
    if (!upsample && n->opset >= 18 && lucid_node_attr(n, "axes")) {
        const int64_t *a;
        size_t c;
        bool seen[LUCID_MAX_RANK] = {false};
        st = lucid_attr_ints(n, "axes", &a, &c, err);
        if (st) return st;
        if (c > (size_t)r)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "%zu axes for rank %d", c,
                                     r);
        for (size_t k = 0; k < c; k++) {
            if (a[k] < -r || a[k] >= r)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "axis %lld is out of range for rank %d", (long long)a[k],
                                         r);
            st = lucid_op_axis(n, a[k], r, &axes[k], err);
            if (st) return st;
            if (seen[axes[k]])
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "axis %lld is given twice", (long long)a[k]);
            seen[axes[k]] = true;
        }
        n_axes = (int)c;
    }

    double scales[LUCID_MAX_RANK];
    int64_t sizes[LUCID_MAX_RANK];
    size_t count = 0;
    bool have_sizes = false;
    int scales_at = upsample ? 1 : (n->opset < 11 ? 1 : 2);
    if (upsample && n->opset < 9) {
        const float *f;
        st = lucid_attr_floats(n, "scales", &f, &count, err);
        if (st) return st;
        if (count > LUCID_MAX_RANK) count = LUCID_MAX_RANK + 1;
        for (size_t k = 0; k < count && k < LUCID_MAX_RANK; k++)
            scales[k] = f[k];
    } else if (given_input(g, n, scales_at)) {
        st = read_floats(g, n, scales_at, scales, LUCID_MAX_RANK, &count, err);
        if (st) return st;
    }
    if (!upsample && n->opset >= 11 && given_input(g, n, 3)) {
        if (count)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "scales and sizes are both given");
        const lucid_ir_tensor *t;
        st = lucid_op_const_input(g, n, 3, &t, err);
        if (!st) st = lucid_op_read_ints(n, t, sizes, LUCID_MAX_RANK, &count, err);
        if (st) return st;
        have_sizes = true;
    }
    if (count != (size_t)n_axes)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "%s has %zu values for %d axes (scales or sizes is required)",
                                 have_sizes ? "sizes" : "scales", count, n_axes);

    int64_t dims[LUCID_MAX_RANK];
    for (int d = 0; d < r; d++) {
        dims[d] = x->dims[d];
        p->scale[d] = 1.0;
        p->roi_start[d] = 0.0;
        p->roi_end[d] = 1.0;
    }
    if (have_sizes) {
        for (int k = 0; k < n_axes; k++)
            if (sizes[k] < 0)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "size %lld is negative", (long long)sizes[k]);
        if (p->policy == POLICY_STRETCH) {
            for (int k = 0; k < n_axes; k++) {
                int d = axes[k];
                dims[d] = sizes[k];
                p->scale[d] = x->dims[d] ? (double)sizes[k] / (double)x->dims[d] : 1.0;
            }
        } else {
            /* one scale for all axes, the one that fits (not_larger) or covers (not_smaller) */
            double s = p->policy == POLICY_NOT_LARGER ? INFINITY : 0.0;
            for (int k = 0; k < n_axes; k++) {
                int d = axes[k];
                double sk = x->dims[d] ? (double)sizes[k] / (double)x->dims[d] : 1.0;
                s = p->policy == POLICY_NOT_LARGER ? fmin(s, sk) : fmax(s, sk);
            }
            for (int k = 0; k < n_axes; k++) {
                int d = axes[k];
                p->scale[d] = s;
                dims[d] = (int64_t)floor(s * (double)x->dims[d] + 0.5);
            }
        }
    } else {
        for (int k = 0; k < n_axes; k++) {
            int d = axes[k];
            if (!(scales[k] > 0) || !isfinite(scales[k]))
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "scale %g is not positive", scales[k]);
            double o = floor(scales[k] * (double)x->dims[d]);
            if (o > (double)LUCID_MAX_ELEMENTS)
                return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                         "output is too large");
            p->scale[d] = scales[k];
            dims[d] = (int64_t)o;
        }
    }
    if (p->coord == COORD_TF_CROP_AND_RESIZE) {
        double roi[2 * LUCID_MAX_RANK];
        size_t c = 0;
        if (given_input(g, n, 1)) {
            st = read_floats(g, n, 1, roi, 2 * LUCID_MAX_RANK, &c, err);
            if (st) return st;
        }
        if (c != 2 * (size_t)n_axes)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "roi has %zu values for %d axes (need twice as many)", c,
                                     n_axes);
        for (int k = 0; k < n_axes; k++) {
            p->roi_start[axes[k]] = roi[k];
            p->roi_end[axes[k]] = roi[k + n_axes];
        }
    }
    for (int d = 0; d < r; d++) {
        if (x->dims[d] == 0 && dims[d] > 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "cannot resample empty axis %d", d);
        if (p->antialias && p->scale[d] < 1) {
            double reach = p->mode == MODE_CUBIC ? 2.0 : 1.0;
            if (2.0 * (reach / p->scale[d] + 1.0) > RESIZE_MAX_TAPS)
                return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                         "antialiased downsampling by %g needs more than %d "
                                         "filter taps",
                                         p->scale[d], RESIZE_MAX_TAPS);
        }
    }
    return lucid_op_set_output(g, n, 0, x->dtype, r, dims, err);
}

/* The input coordinate that output coordinate o of dim d maps to; *outside is set when
 * tf_crop_and_resize maps it outside the input (the output is then the extrapolation). */
static double map_coord(const resize_params *p, int d, int64_t o, int64_t in_len, int64_t out_len,
                        bool *outside)
{
    double s = p->scale[d], x = (double)o, in = (double)in_len;
    double out_f = s * in; /* the reference uses the unrounded output length here */
    *outside = false;
    switch (p->coord) {
    case COORD_HALF_PIXEL:
        return (x + 0.5) / s - 0.5;
    case COORD_HALF_PIXEL_SYMMETRIC: {
        double adjustment = (double)out_len / out_f, center = in / 2;
        return center * (1 - adjustment) + (x + 0.5) / s - 0.5;
    }
    case COORD_PYTORCH_HALF_PIXEL:
        return out_f == 1 ? -0.5 : (x + 0.5) / s - 0.5;
    case COORD_ALIGN_CORNERS:
        return out_f == 1 ? 0 : x * (in - 1) / (out_f - 1);
    case COORD_ASYMMETRIC:
        return x / s;
    case COORD_TF_HALF_PIXEL_FOR_NN:
        return (x + 0.5) / s;
    case COORD_TF_CROP_AND_RESIZE: {
        double a = p->roi_start[d], b = p->roi_end[d], v;
        if (out_len == 1)
            v = (b - a) * (in - 1) / 2;
        else
            v = x * (b - a) * (in - 1) / (double)(out_len - 1);
        v += a * (in - 1);
        *outside = v < 0 || v > in - 1;
        return v;
    }
    }
    return x / s;
}

static double cubic_kernel(double x, double a)
{
    x = fabs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
}

/* The filter taps of output coordinate o along dim d: input indices and weights. */
typedef struct taps {
    int count;
    bool outside;
    int64_t idx[RESIZE_MAX_TAPS];
    double w[RESIZE_MAX_TAPS];
} taps;

static void compute_taps(const resize_params *p, int d, int64_t o, int64_t in_len, int64_t out_len,
                         taps *t)
{
    double x = map_coord(p, d, o, in_len, out_len, &t->outside);
    t->count = 0;
    if (isnan(x)) t->outside = true; /* a NaN roi from the file */
    if (t->outside) return;
    /* far outside the input every tap clamps to the edge anyway; bounding x keeps the
     * integer conversions below defined for hostile scales and rois */
    double reach = RESIZE_MAX_TAPS + 2;
    x = fmin(fmax(x, -reach), (double)in_len + reach);
    if (p->mode == MODE_NEAREST) {
        double f = floor(x), frac = x - f, v;
        switch (p->round) {
        case ROUND_PREFER_FLOOR:
            v = frac <= 0.5 ? f : f + 1;
            break;
        case ROUND_PREFER_CEIL:
            v = frac < 0.5 ? f : f + 1;
            break;
        case ROUND_FLOOR:
            v = f;
            break;
        case ROUND_CEIL:
            v = ceil(x);
            break;
        default:
            v = p->scale[d] < 1 ? ceil(x) : f;
            break;
        }
        int64_t i = v < 0 ? 0 : (v > (double)(in_len - 1) ? in_len - 1 : (int64_t)v);
        t->idx[0] = i;
        t->w[0] = 1;
        t->count = 1;
        return;
    }
    /* the taps are the input points nearest x; when x is a whole number ONNX takes the one
     * before it as the base, giving a ratio of 1 rather than 0 */
    double base = ceil(x) - 1, ratio = x - base;
    double s = p->antialias ? fmin(p->scale[d], 1.0) : 1.0;
    int n;
    if (p->mode == MODE_LINEAR)
        n = p->antialias ? 2 - 2 * (int)(floor(-1 / s) + 1) : 2;
    else
        n = p->antialias ? 2 - 2 * (int)(floor(-2 / s) + 1) : 4;
    int start = 1 - n / 2;
    double sum = 0;
    for (int j = 0; j < n; j++) {
        double dist = (double)(start + j) - ratio, w;
        if (p->mode == MODE_LINEAR)
            w = fmax(0.0, 1 - fabs(dist * s));
        else
            w = cubic_kernel(dist * s, p->cubic_a);
        int64_t i = (int64_t)base + start + j;
        if (p->exclude_outside && (i < 0 || i >= in_len)) w = 0;
        t->idx[j] = i < 0 ? 0 : (i >= in_len ? in_len - 1 : i);
        t->w[j] = w;
        sum += w;
    }
    /* antialias and exclude_outside renormalize; the plain kernels already sum to 1 */
    bool norm = (p->antialias || p->exclude_outside) && sum != 0;
    for (int j = 0; j < n; j++) {
        double w = norm ? t->w[j] / sum : t->w[j];
        if (w == 0) continue;
        t->idx[t->count] = t->idx[j];
        t->w[t->count++] = w;
    }
}

bool lucid_resize_nearest_index(const lucid_node *n, int d, int64_t o, int64_t in_len,
                                int64_t out_len, int64_t *index)
{
    const resize_params *p = n->params;
    if (!p || p->mode != MODE_NEAREST || d < 0 || d >= LUCID_MAX_RANK) return false;
    taps t;
    compute_taps(p, d, o, in_len, out_len, &t);
    if (t.outside || t.count != 1) return false;
    *index = t.idx[0];
    return true;
}

static lucid_status resize_run(const lucid_node *n, const lucid_array *in, int n_in,
                               lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)err;
    const resize_params *p = n->params;
    int r = out[0].rank;
    int64_t total = lucid_array_numel(&out[0]);
    if (total <= 0) return LUCID_STATUS_OK;
    int64_t stride[LUCID_MAX_RANK], o[LUCID_MAX_RANK] = {0};
    lucid_strides(r, in[0].dims, stride);
    taps tp[LUCID_MAX_RANK]; /* about 16 KiB */
    for (int d = 0; d < r; d++)
        compute_taps(p, d, 0, in[0].dims[d], out[0].dims[d], &tp[d]);
    for (int64_t e = 0; e < total; e++) {
        bool outside = false;
        for (int d = 0; d < r; d++)
            outside |= tp[d].outside;
        double acc = p->extrapolation;
        if (!outside) {
            /* sum over every combination of one tap per dim */
            int k[LUCID_MAX_RANK] = {0};
            acc = 0;
            for (;;) {
                double w = 1;
                int64_t off = 0;
                for (int d = 0; d < r; d++) {
                    w *= tp[d].w[k[d]];
                    off += tp[d].idx[k[d]] * stride[d];
                }
                acc += w * lucid_load_f64(in[0].dtype, in[0].data, off);
                int d = r - 1;
                while (d >= 0 && ++k[d] == tp[d].count)
                    k[d--] = 0;
                if (d < 0) break;
            }
        }
        lucid_store_f64(out[0].dtype, out[0].data, e, acc);
        for (int d = r - 1; d >= 0; d--) {
            if (++o[d] < out[0].dims[d]) {
                compute_taps(p, d, o[d], in[0].dims[d], out[0].dims[d], &tp[d]);
                break;
            }
            o[d] = 0;
            compute_taps(p, d, 0, in[0].dims[d], out[0].dims[d], &tp[d]);
        }
    }
    return LUCID_STATUS_OK;
}

/* Each output element reads and weighs (taps per dim)^rank inputs; count two flops each. */
static void resize_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    const resize_params *p = n->params;
    const lucid_ir_tensor *y = lucid_op_output(g, n, 0);
    double per_dim = p->mode == MODE_NEAREST ? 1 : (p->mode == MODE_LINEAR ? 2 : 4);
    *macs = (double)lucid_tensor_numel(y) * pow(per_dim, y->rank > 0 ? y->rank : 0);
    *flops = 0;
}

const lucid_op_def lucid_op_def_resize = {
    .name = "Resize",
    .min_opset = 10,
    .min_inputs = 1,
    .max_inputs = 4,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(resize_params),
    .parse = resize_parse,
    .infer = resize_infer,
    .cost = resize_cost,
    .run = resize_run,
};

const lucid_op_def lucid_op_def_upsample = {
    .name = "Upsample",
    .min_opset = 7,
    .min_inputs = 1,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(resize_params),
    .parse = resize_parse,
    .infer = resize_infer,
    .cost = resize_cost,
    .run = resize_run,
};
