/* movement.c - data movement ops: Concat, Split, Slice, Transpose, Expand, Tile, Pad, Gather.
 * Kernels copy whole elements as bytes, so every fixed-size dtype is supported. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/movement.h"
#include "ops/op.h"

#define SPLIT_MAX_OUTPUTS 256

/* ---- shared helpers ---------------------------------------------------------------- */

static lucid_status require_sized(const lucid_node *n, const lucid_ir_tensor *t, lucid_error *err)
{
    if (lucid_dtype_size(t->dtype) == 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "input '%s' has dtype %s, which this op does not support", t->name,
                                 lucid_dtype_name(t->dtype));
    return LUCID_STATUS_OK;
}

static void no_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    (void)g;
    (void)n;
    *macs = 0;
    *flops = 0;
}

static int64_t product(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= dims[i];
    return p;
}

/* Maps output coordinate o along output dim d to the input coordinate it reads, or -1 when
 * the element is the fill value instead. */
typedef int64_t (*coord_fn)(const void *ctx, int d, int64_t o);

/* Fills out element by element: element (o_0..o_r-1) copies input element
 * sum_d f(d, o_d) * stride[d], or fill if any coordinate is -1. Coordinates are recomputed
 * only for the dims that change, odometer style. */
static void remap(const lucid_array *out, const void *src, const int64_t *stride, coord_fn f,
                  const void *ctx, const void *fill)
{
    size_t esz = lucid_dtype_size(out->dtype);
    int r = out->rank;
    int64_t total = lucid_array_numel(out);
    if (total <= 0) return;
    int64_t idx[LUCID_MAX_RANK], ic[LUCID_MAX_RANK];
    for (int d = 0; d < r; d++) {
        idx[d] = 0;
        ic[d] = f(ctx, d, 0);
    }
    unsigned char *dst = out->data;
    const unsigned char *s = src;
    for (int64_t e = 0; e < total; e++) {
        int64_t off = 0;
        bool is_fill = false;
        for (int d = 0; d < r; d++) {
            if (ic[d] < 0) is_fill = true;
            off += ic[d] * stride[d];
        }
        memcpy(dst + (size_t)e * esz, is_fill ? fill : s + (size_t)off * esz, esz);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < out->dims[d]) {
                ic[d] = f(ctx, d, idx[d]);
                break;
            }
            idx[d] = 0;
            ic[d] = f(ctx, d, 0);
        }
    }
}

static int64_t coord_same(const void *ctx, int d, int64_t o)
{
    (void)ctx;
    (void)d;
    return o;
}

/* ---- Concat ------------------------------------------------------------------------ */

typedef struct axis_params {
    int64_t axis;
} axis_params;

static lucid_status concat_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                 lucid_error *err)
{
    (void)g;
    axis_params *p = params;
    if (!lucid_node_attr(n, "axis"))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute 'axis' is required");
    return lucid_attr_int(n, "axis", 0, &p->axis, err);
}

static lucid_status concat_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const axis_params *p = n->params;
    const lucid_ir_tensor *x0 = lucid_op_input(g, n, 0);
    if (!x0) return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "input 0 is missing");
    lucid_status st = require_sized(n, x0, err);
    if (st) return st;
    if (x0->rank == 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "cannot concatenate scalars");
    int axis;
    st = lucid_op_axis(n, p->axis, x0->rank, &axis, err);
    if (st) return st;
    int64_t dims[LUCID_MAX_RANK];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *x = lucid_op_input(g, n, k);
        if (!x)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "input %d is missing", k);
        if (x->dtype != x0->dtype || x->rank != x0->rank)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "input '%s' (%s, rank %d) differs from input '%s' (%s, "
                                     "rank %d)",
                                     x->name, lucid_dtype_name(x->dtype), x->rank, x0->name,
                                     lucid_dtype_name(x0->dtype), x0->rank);
        for (int i = 0; i < x->rank; i++)
            if (i != axis && x->dims[i] != x0->dims[i]) {
                char a[160], b[160];
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "input shapes %s and %s differ outside axis %d",
                                         lucid_shape_str(x0->rank, x0->dims, a, sizeof a),
                                         lucid_shape_str(x->rank, x->dims, b, sizeof b), axis);
            }
        dims[axis] += x->dims[axis];
        if (dims[axis] > LUCID_MAX_ELEMENTS)
            return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED, "output is too large");
    }
    return lucid_op_set_output(g, n, 0, x0->dtype, x0->rank, dims, err);
}

static lucid_status concat_run(const lucid_node *n, const lucid_array *in, int n_in,
                               lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_out;
    const axis_params *p = n->params;
    int axis;
    lucid_status st = lucid_op_axis(n, p->axis, out[0].rank, &axis, err);
    if (st) return st;
    size_t esz = lucid_dtype_size(out[0].dtype);
    int64_t outer = product(out[0].dims, 0, axis);
    size_t inner = (size_t)product(out[0].dims, axis + 1, out[0].rank) * esz;
    size_t row = (size_t)out[0].dims[axis] * inner;
    unsigned char *dst = out[0].data;
    size_t at = 0;
    for (int k = 0; k < n_in; k++) {
        size_t chunk = (size_t)in[k].dims[axis] * inner;
        const unsigned char *src = in[k].data;
        for (int64_t o = 0; o < outer && chunk; o++)
            memcpy(dst + (size_t)o * row + at, src + (size_t)o * chunk, chunk);
        at += chunk;
    }
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_concat = {
    .name = "Concat",
    .min_opset = 4,
    .min_inputs = 1,
    .max_inputs = -1,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(axis_params),
    .parse = concat_parse,
    .infer = concat_infer,
    .cost = no_cost,
    .run = concat_run,
};

/* ---- Split ------------------------------------------------------------------------- */

typedef struct split_params {
    int64_t axis;
    int64_t num_outputs;              /* 0: not given */
    int64_t sizes[SPLIT_MAX_OUTPUTS]; /* resolved by infer */
} split_params;

static lucid_status split_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                lucid_error *err)
{
    (void)g;
    split_params *p = params;
    lucid_status st = lucid_attr_int(n, "axis", 0, &p->axis, err);
    if (!st) st = lucid_attr_int(n, "num_outputs", 0, &p->num_outputs, err);
    if (st) return st;
    if (lucid_node_attr(n, "num_outputs")) {
        if (n->opset < 18)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "attribute 'num_outputs' needs opset 18 or later");
        if (p->num_outputs != n->n_outputs)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "num_outputs is %lld but the node has %d outputs",
                                     (long long)p->num_outputs, n->n_outputs);
    }
    if (n->opset < 13 && n->n_inputs > 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "has %d inputs (1 before opset 13)", n->n_inputs);
    return LUCID_STATUS_OK;
}

static lucid_status split_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    split_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = require_sized(n, x, err);
    int axis;
    if (!st) st = lucid_op_axis(n, p->axis, x->rank, &axis, err);
    if (st) return st;
    if (x->rank == 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "cannot split a scalar");
    int64_t dim = x->dims[axis];
    int outs = n->n_outputs;
    size_t count = 0;
    bool given = false;
    if (n->opset < 13 && lucid_node_attr(n, "split")) {
        const int64_t *s;
        st = lucid_attr_ints(n, "split", &s, &count, err);
        if (st) return st;
        if (count > SPLIT_MAX_OUTPUTS)
            return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                     "%zu split sizes (at most %d)", count, SPLIT_MAX_OUTPUTS);
        memcpy(p->sizes, s, count * sizeof *s);
        given = true;
    } else if (n->opset >= 13 && lucid_op_input(g, n, 1)) {
        const lucid_ir_tensor *s;
        st = lucid_op_const_input(g, n, 1, &s, err);
        if (!st) st = lucid_op_read_ints(n, s, p->sizes, SPLIT_MAX_OUTPUTS, &count, err);
        if (st) return st;
        given = true;
    }
    if (given) {
        if (p->num_outputs)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "both 'split' and 'num_outputs' are given");
        if (count != (size_t)outs)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "%zu split sizes for %d outputs", count, outs);
        int64_t sum = 0;
        for (int k = 0; k < outs; k++) {
            if (p->sizes[k] < 0 || p->sizes[k] > LUCID_MAX_ELEMENTS)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "split size %lld is invalid", (long long)p->sizes[k]);
            sum += p->sizes[k];
        }
        if (sum != dim)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "split sizes add up to %lld, the axis has %lld",
                                     (long long)sum, (long long)dim);
    } else if (n->opset >= 18) {
        /* opset 18: chunks of ceil(dim / outputs), the last one smaller */
        int64_t chunk = (dim + outs - 1) / outs, left = dim;
        for (int k = 0; k < outs; k++) {
            p->sizes[k] = LUCID_MIN(chunk, left);
            left -= p->sizes[k];
        }
    } else {
        if (dim % outs != 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "axis of size %lld does not split into %d equal parts",
                                     (long long)dim, outs);
        for (int k = 0; k < outs; k++)
            p->sizes[k] = dim / outs;
    }
    int64_t dims[LUCID_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    for (int k = 0; k < outs; k++) {
        dims[axis] = p->sizes[k];
        st = lucid_op_set_output(g, n, k, x->dtype, x->rank, dims, err);
        if (st) return st;
    }
    return LUCID_STATUS_OK;
}

static lucid_status split_run(const lucid_node *n, const lucid_array *in, int n_in,
                              lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_in;
    const split_params *p = n->params;
    int axis;
    lucid_status st = lucid_op_axis(n, p->axis, in[0].rank, &axis, err);
    if (st) return st;
    size_t esz = lucid_dtype_size(in[0].dtype);
    int64_t outer = product(in[0].dims, 0, axis);
    size_t inner = (size_t)product(in[0].dims, axis + 1, in[0].rank) * esz;
    size_t row = (size_t)in[0].dims[axis] * inner;
    const unsigned char *src = in[0].data;
    size_t at = 0;
    for (int k = 0; k < n_out; k++) {
        size_t chunk = (size_t)p->sizes[k] * inner;
        unsigned char *dst = out[k].data;
        for (int64_t o = 0; dst && chunk && o < outer; o++)
            memcpy(dst + (size_t)o * chunk, src + (size_t)o * row + at, chunk);
        at += chunk;
    }
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_split = {
    .name = "Split",
    .min_opset = 2,
    .min_inputs = 1,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = SPLIT_MAX_OUTPUTS,
    .params_size = sizeof(split_params),
    .parse = split_parse,
    .infer = split_infer,
    .cost = no_cost,
    .run = split_run,
};

/* ---- Slice ------------------------------------------------------------------------- */

typedef lucid_slice_params slice_params;

/* Reads starts/ends/axes/steps (attributes before opset 10, inputs after). */
static lucid_status slice_read(const lucid_graph *g, const lucid_node *n,
                               int64_t v[4][LUCID_MAX_RANK], size_t c[4], bool have[4],
                               lucid_error *err)
{
    static const char *names[4] = {"starts", "ends", "axes", "steps"};
    for (int k = 0; k < 4; k++) {
        c[k] = 0;
        have[k] = false;
        if (n->opset < 10) {
            if (k == 3 || !lucid_node_attr(n, names[k])) continue;
            const int64_t *a;
            lucid_status st = lucid_attr_ints(n, names[k], &a, &c[k], err);
            if (st) return st;
            if (c[k] > LUCID_MAX_RANK)
                return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                         "'%s' has %zu values (at most %d)", names[k], c[k],
                                         LUCID_MAX_RANK);
            memcpy(v[k], a, c[k] * sizeof *a);
            have[k] = true;
        } else {
            if (!lucid_op_input(g, n, k + 1)) continue;
            const lucid_ir_tensor *t;
            lucid_status st = lucid_op_const_input(g, n, k + 1, &t, err);
            if (!st) st = lucid_op_read_ints(n, t, v[k], LUCID_MAX_RANK, &c[k], err);
            if (st) return st;
            have[k] = true;
        }
    }
    if (!have[0] || !have[1])
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "'starts' and 'ends' are required");
    if (c[1] != c[0] || (have[2] && c[2] != c[0]) || (have[3] && c[3] != c[0]))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "starts, ends, axes and steps differ in length");
    return LUCID_STATUS_OK;
}

static lucid_status slice_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    slice_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    int64_t v[4][LUCID_MAX_RANK];
    size_t c[4];
    bool have[4];
    lucid_status st = require_sized(n, x, err);
    if (!st) st = slice_read(g, n, v, c, have, err);
    if (st) return st;
    int r = x->rank;
    int64_t dims[LUCID_MAX_RANK];
    bool seen[LUCID_MAX_RANK] = {false};
    for (int d = 0; d < r; d++) {
        p->start[d] = 0;
        p->step[d] = 1;
        dims[d] = x->dims[d];
    }
    for (size_t k = 0; k < c[0]; k++) {
        int64_t axis_v = have[2] ? v[2][k] : (int64_t)k;
        int axis;
        if (axis_v < -r || axis_v >= r)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "axis %lld is out of range for rank %d", (long long)axis_v, r);
        st = lucid_op_axis(n, axis_v, r, &axis, err);
        if (st) return st;
        if (seen[axis])
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "axis %d is sliced twice",
                                     axis);
        seen[axis] = true;
        int64_t dim = x->dims[axis], step = have[3] ? v[3][k] : 1;
        int64_t s = v[0][k], e = v[1][k];
        if (step == 0) return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "step is 0");
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (step > 0) {
            s = s < 0 ? 0 : (s > dim ? dim : s);
            e = e < 0 ? 0 : (e > dim ? dim : e);
        } else {
            /* as NumPy (the reference): a start still before 0 selects nothing */
            s = s < -1 ? -1 : (s > dim - 1 ? dim - 1 : s);
            e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
        }
        /* ceil(diff / |step|) written so that huge steps (INT64_MIN too) cannot overflow */
        int64_t len = 0;
        if (step > 0 && e > s) len = 1 + (e - s - 1) / step;
        if (step < 0 && s > e) len = step == INT64_MIN ? 1 : 1 + (s - e - 1) / -step;
        p->start[axis] = s;
        p->step[axis] = len > 0 ? step : 1;
        dims[axis] = len;
    }
    return lucid_op_set_output(g, n, 0, x->dtype, r, dims, err);
}

typedef struct slice_ctx {
    const int64_t *start, *step;
} slice_ctx;

static int64_t coord_slice(const void *ctx, int d, int64_t o)
{
    const slice_ctx *c = ctx;
    return c->start[d] + o * c->step[d];
}

static lucid_status slice_run(const lucid_node *n, const lucid_array *in, int n_in,
                              lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)err;
    const slice_params *p = n->params;
    int64_t stride[LUCID_MAX_RANK];
    lucid_strides(in[0].rank, in[0].dims, stride);
    slice_ctx c = {p->start, p->step};
    remap(&out[0], in[0].data, stride, coord_slice, &c, NULL);
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_slice = {
    .name = "Slice",
    .min_inputs = 1,
    .max_inputs = 5,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(slice_params),
    .infer = slice_infer,
    .cost = no_cost,
    .run = slice_run,
};

/* ---- Transpose --------------------------------------------------------------------- */

typedef lucid_transpose_params transpose_params;

static lucid_status transpose_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    transpose_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = require_sized(n, x, err);
    const int64_t *perm;
    size_t count;
    if (!st) st = lucid_attr_ints(n, "perm", &perm, &count, err);
    if (st) return st;
    int r = x->rank;
    bool given = lucid_node_attr(n, "perm") != NULL, used[LUCID_MAX_RANK] = {false};
    if (given && count != (size_t)r)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "perm has %zu entries for an input of rank %d", count, r);
    int64_t dims[LUCID_MAX_RANK];
    for (int d = 0; d < r; d++) {
        int64_t a = given ? perm[d] : r - 1 - d;
        if (a < 0 || a >= r || used[a])
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "perm is not a permutation of 0..%d", r - 1);
        used[a] = true;
        p->perm[d] = (int)a;
        dims[d] = x->dims[a];
    }
    return lucid_op_set_output(g, n, 0, x->dtype, r, dims, err);
}

static lucid_status transpose_run(const lucid_node *n, const lucid_array *in, int n_in,
                                  lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)err;
    const transpose_params *p = n->params;
    int64_t in_stride[LUCID_MAX_RANK], stride[LUCID_MAX_RANK];
    lucid_strides(in[0].rank, in[0].dims, in_stride);
    for (int d = 0; d < out[0].rank; d++)
        stride[d] = in_stride[p->perm[d]];
    remap(&out[0], in[0].data, stride, coord_same, NULL, NULL);
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_transpose = {
    .name = "Transpose",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(transpose_params),
    .infer = transpose_infer,
    .cost = no_cost,
    .run = transpose_run,
};

/* ---- Expand and Tile --------------------------------------------------------------- */

/* The input's dims aligned to the output's rank (leading 1s), with row-major strides. */
typedef struct aligned_in {
    int64_t dims[LUCID_MAX_RANK], stride[LUCID_MAX_RANK];
} aligned_in;

static void align_input(const lucid_array *in, int rank, aligned_in *a)
{
    int64_t s[LUCID_MAX_RANK];
    lucid_strides(in->rank, in->dims, s);
    int lead = rank - in->rank;
    for (int d = 0; d < rank; d++) {
        a->dims[d] = d < lead ? 1 : in->dims[d - lead];
        a->stride[d] = d < lead ? 0 : s[d - lead];
    }
}

static int64_t coord_broadcast(const void *ctx, int d, int64_t o)
{
    const aligned_in *a = ctx;
    return a->dims[d] == 1 ? 0 : o;
}

static int64_t coord_tile(const void *ctx, int d, int64_t o)
{
    const aligned_in *a = ctx;
    return o % a->dims[d];
}

static lucid_status expand_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *s;
    int64_t shape[LUCID_MAX_RANK], dims[LUCID_MAX_RANK];
    size_t count;
    int rank;
    lucid_status st = require_sized(n, x, err);
    if (!st) st = lucid_op_const_input(g, n, 1, &s, err);
    if (!st) st = lucid_op_read_ints(n, s, shape, LUCID_MAX_RANK, &count, err);
    if (st) return st;
    for (size_t i = 0; i < count; i++)
        if (shape[i] < 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "shape entry %zu is negative (%lld)", i, (long long)shape[i]);
    st = lucid_op_broadcast(n, x->rank, x->dims, (int)count, shape, &rank, dims, err);
    if (st) return st;
    return lucid_op_set_output(g, n, 0, x->dtype, rank, dims, err);
}

static lucid_status expand_run(const lucid_node *n, const lucid_array *in, int n_in,
                               lucid_array *out, int n_out, lucid_error *err)
{
    (void)n;
    (void)n_in;
    (void)n_out;
    (void)err;
    aligned_in a;
    align_input(&in[0], out[0].rank, &a);
    remap(&out[0], in[0].data, a.stride, coord_broadcast, &a, NULL);
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_expand = {
    .name = "Expand",
    .min_opset = 8,
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .infer = expand_infer,
    .cost = no_cost,
    .run = expand_run,
};

static lucid_status tile_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *s;
    int64_t reps[LUCID_MAX_RANK], dims[LUCID_MAX_RANK];
    size_t count;
    lucid_status st = require_sized(n, x, err);
    if (!st) st = lucid_op_const_input(g, n, 1, &s, err);
    if (!st) st = lucid_op_read_ints(n, s, reps, LUCID_MAX_RANK, &count, err);
    if (st) return st;
    if (count != (size_t)x->rank)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "repeats has %zu entries for an input of rank %d", count, x->rank);
    for (int d = 0; d < x->rank; d++) {
        if (reps[d] < 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "repeat %lld along axis %d is negative", (long long)reps[d],
                                     d);
        if (!lucid_mul_i64(x->dims[d], reps[d], &dims[d]))
            return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED, "output is too large");
    }
    return lucid_op_set_output(g, n, 0, x->dtype, x->rank, dims, err);
}

static lucid_status tile_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, lucid_error *err)
{
    (void)n;
    (void)n_in;
    (void)n_out;
    (void)err;
    aligned_in a;
    align_input(&in[0], out[0].rank, &a);
    remap(&out[0], in[0].data, a.stride, coord_tile, &a, NULL);
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_tile = {
    .name = "Tile",
    .min_opset = 6,
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .infer = tile_infer,
    .cost = no_cost,
    .run = tile_run,
};

/* ---- Pad --------------------------------------------------------------------------- */

typedef lucid_pad_params pad_params;

static lucid_status pad_parse(const lucid_graph *g, const lucid_node *n, void *params,
                              lucid_error *err)
{
    (void)g;
    pad_params *p = params;
    const char *mode;
    lucid_status st = lucid_attr_string(n, "mode", "constant", &mode, err);
    if (!st) st = lucid_attr_float(n, "value", 0.0f, &p->value, err);
    if (st) return st;
    if (strcmp(mode, "constant") == 0)
        p->mode = LUCID_PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        p->mode = LUCID_PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        p->mode = LUCID_PAD_EDGE;
    else if (strcmp(mode, "wrap") == 0 && n->opset >= 19)
        p->mode = LUCID_PAD_WRAP;
    else
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "unknown mode '%s'", mode);
    if (n->opset < 11 && n->n_inputs > 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "has %d inputs (1 before opset 11)", n->n_inputs);
    if (n->opset < 18 && n->n_inputs > 3)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "has %d inputs (at most 3 before opset 18)", n->n_inputs);
    return LUCID_STATUS_OK;
}

static lucid_status pad_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    pad_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = require_sized(n, x, err);
    if (st) return st;
    int r = x->rank;
    int64_t pads[2 * LUCID_MAX_RANK], axes_v[LUCID_MAX_RANK];
    size_t count = 0, n_axes = (size_t)r;
    if (n->opset < 11) {
        const int64_t *a;
        st = lucid_attr_ints(n, "pads", &a, &count, err);
        if (st) return st;
        if (!lucid_node_attr(n, "pads"))
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "attribute 'pads' is required");
        if (count > 2 * LUCID_MAX_RANK)
            return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED, "too many pads");
        memcpy(pads, a, count * sizeof *a);
    } else {
        const lucid_ir_tensor *t;
        st = lucid_op_const_input(g, n, 1, &t, err);
        if (!st) st = lucid_op_read_ints(n, t, pads, 2 * LUCID_MAX_RANK, &count, err);
        if (st) return st;
        const lucid_ir_tensor *cv = lucid_op_input(g, n, 2);
        if (cv && (cv->dtype != x->dtype || lucid_tensor_numel(cv) > 1))
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "constant_value must be a %s scalar",
                                     lucid_dtype_name(x->dtype));
        if (lucid_op_input(g, n, 3)) {
            st = lucid_op_const_input(g, n, 3, &t, err);
            if (!st) st = lucid_op_read_ints(n, t, axes_v, LUCID_MAX_RANK, &n_axes, err);
            if (st) return st;
        }
    }
    if (n->opset < 11 || !lucid_op_input(g, n, 3))
        for (int d = 0; d < r; d++)
            axes_v[d] = d;
    if (count != 2 * n_axes)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "%zu pads for %zu axes (need twice as many)", count, n_axes);
    int64_t begin[LUCID_MAX_RANK] = {0}, end[LUCID_MAX_RANK] = {0};
    bool seen[LUCID_MAX_RANK] = {false};
    for (size_t k = 0; k < n_axes; k++) {
        int a;
        if (axes_v[k] < -r || axes_v[k] >= r)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "axis %lld is out of range for rank %d", (long long)axes_v[k],
                                     r);
        st = lucid_op_axis(n, axes_v[k], r, &a, err);
        if (st) return st;
        if (seen[a])
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "axis %d is padded twice",
                                     a);
        seen[a] = true;
        begin[a] = pads[k];
        end[a] = pads[k + n_axes];
    }
    int64_t dims[LUCID_MAX_RANK];
    for (int d = 0; d < r; d++) {
        if (begin[d] < -LUCID_MAX_ELEMENTS || begin[d] > LUCID_MAX_ELEMENTS ||
            end[d] < -LUCID_MAX_ELEMENTS || end[d] > LUCID_MAX_ELEMENTS)
            return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                     "pads of axis %d are too large", d);
        dims[d] = x->dims[d] + begin[d] + end[d];
        if (dims[d] < 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "pads remove more than the %lld elements of axis %d",
                                     (long long)x->dims[d], d);
        if (p->mode != LUCID_PAD_CONSTANT && x->dims[d] == 0 && dims[d] > 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "cannot pad empty axis %d in this mode", d);
        p->begin[d] = begin[d];
        p->in_dims[d] = x->dims[d];
    }
    return lucid_op_set_output(g, n, 0, x->dtype, r, dims, err);
}

static int64_t coord_pad(const void *ctx, int d, int64_t o)
{
    const pad_params *p = ctx;
    int64_t dim = p->in_dims[d], i = o - p->begin[d];
    if (i >= 0 && i < dim) return i;
    switch (p->mode) {
    case LUCID_PAD_CONSTANT:
        return -1;
    case LUCID_PAD_EDGE:
        return i < 0 ? 0 : dim - 1;
    case LUCID_PAD_WRAP:
        return ((i % dim) + dim) % dim;
    case LUCID_PAD_REFLECT: {
        if (dim == 1) return 0;
        /* reflection without repeating the edge is periodic with period 2 * (dim - 1) */
        int64_t period = 2 * (dim - 1), m = ((i % period) + period) % period;
        return m < dim ? m : period - m;
    }
    }
    return -1;
}

static lucid_status pad_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                            int n_out, lucid_error *err)
{
    (void)n_out;
    (void)err;
    const pad_params *p = n->params;
    size_t esz = lucid_dtype_size(out[0].dtype);
    unsigned char fill[16] = {0};
    if (n->opset < 11)
        lucid_store_f64(out[0].dtype, fill, 0, p->value);
    else if (n_in > 2 && in[2].data && lucid_array_numel(&in[2]) == 1)
        memcpy(fill, in[2].data, esz);
    int64_t stride[LUCID_MAX_RANK];
    lucid_strides(in[0].rank, in[0].dims, stride);
    remap(&out[0], in[0].data, stride, coord_pad, p, fill);
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_pad = {
    .name = "Pad",
    .min_opset = 2,
    .min_inputs = 1,
    .max_inputs = 4,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(pad_params),
    .parse = pad_parse,
    .infer = pad_infer,
    .cost = no_cost,
    .run = pad_run,
};

/* ---- Gather ------------------------------------------------------------------------ */

static lucid_status gather_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                 lucid_error *err)
{
    (void)g;
    axis_params *p = params;
    return lucid_attr_int(n, "axis", 0, &p->axis, err);
}

static lucid_status gather_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const axis_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *ind = lucid_op_input(g, n, 1);
    lucid_status st = require_sized(n, x, err);
    if (st) return st;
    if (x->rank == 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "data must have rank 1 or more");
    if (ind->dtype != LUCID_DTYPE_INT64 && ind->dtype != LUCID_DTYPE_INT32)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "indices must be int32 or int64, not %s",
                                 lucid_dtype_name(ind->dtype));
    int axis;
    st = lucid_op_axis(n, p->axis, x->rank, &axis, err);
    if (st) return st;
    int rank = x->rank - 1 + ind->rank;
    if (rank > LUCID_MAX_RANK)
        return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                 "output would have rank %d (at most %d)", rank, LUCID_MAX_RANK);
    int64_t dims[LUCID_MAX_RANK];
    int k = 0;
    for (int i = 0; i < axis; i++)
        dims[k++] = x->dims[i];
    for (int i = 0; i < ind->rank; i++)
        dims[k++] = ind->dims[i];
    for (int i = axis + 1; i < x->rank; i++)
        dims[k++] = x->dims[i];
    return lucid_op_set_output(g, n, 0, x->dtype, rank, dims, err);
}

static lucid_status gather_run(const lucid_node *n, const lucid_array *in, int n_in,
                               lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    const axis_params *p = n->params;
    int axis;
    lucid_status st = lucid_op_axis(n, p->axis, in[0].rank, &axis, err);
    if (st) return st;
    int64_t dim = in[0].dims[axis], count = lucid_array_numel(&in[1]);
    /* check every index before writing anything */
    for (int64_t j = 0; j < count; j++) {
        int64_t idx = lucid_load_i64(in[1].dtype, in[1].data, j);
        if (idx < -dim || idx >= dim)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "index %lld is out of range for axis %d of size %lld",
                                     (long long)idx, axis, (long long)dim);
    }
    size_t esz = lucid_dtype_size(in[0].dtype);
    int64_t outer = product(in[0].dims, 0, axis);
    size_t inner = (size_t)product(in[0].dims, axis + 1, in[0].rank) * esz;
    const unsigned char *src = in[0].data;
    unsigned char *dst = out[0].data;
    if (inner == 0) return LUCID_STATUS_OK;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < count; j++) {
            int64_t idx = lucid_load_i64(in[1].dtype, in[1].data, j);
            if (idx < 0) idx += dim;
            memcpy(dst + ((size_t)o * (size_t)count + (size_t)j) * inner,
                   src + ((size_t)o * (size_t)dim + (size_t)idx) * inner, inner);
        }
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_gather = {
    .name = "Gather",
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(axis_params),
    .parse = gather_parse,
    .infer = gather_infer,
    .cost = no_cost,
    .run = gather_run,
};
