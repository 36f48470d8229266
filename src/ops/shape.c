/* shape.c - shape and view ops: Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Identity,
 * Dropout (inference). Their kernels move bytes, so they work for every fixed-size dtype. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"

/* ---- shared helpers ---------------------------------------------------------------- */

/* Refuses dtypes whose elements are not fixed-size (strings) or unknown to lucid. */
static lucid_status require_sized(const lucid_node *n, const lucid_ir_tensor *t, lucid_error *err)
{
    if (lucid_dtype_size(t->dtype) == 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "input '%s' has dtype %s, which this op does not support", t->name,
                                 lucid_dtype_name(t->dtype));
    return LUCID_STATUS_OK;
}

/* The kernel of every view op: the output holds the input's bytes unchanged. */
static lucid_status copy_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    if (out[0].nbytes != in[0].nbytes)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "output holds %zu bytes, input %zu",
                                 out[0].nbytes, in[0].nbytes);
    if (out[0].nbytes && out[0].data != in[0].data) memmove(out[0].data, in[0].data, out[0].nbytes);
    return LUCID_STATUS_OK;
}

static void no_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    (void)g;
    (void)n;
    *macs = 0;
    *flops = 0;
}

/* Gives output i a known value right away (the caller computed it from shapes alone). */
static lucid_status set_known_value(lucid_graph *g, const lucid_node *n, int i, const int64_t *vals,
                                    size_t count, lucid_error *err)
{
    lucid_ir_tensor *t = lucid_op_output(g, n, i);
    if (!t) return LUCID_STATUS_OK;
    size_t nb = count * sizeof(int64_t);
    void *d = malloc(nb ? nb : 1);
    if (!d) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (nb) memcpy(d, vals, nb);
    free(t->data);
    t->data = d;
    t->nbytes = nb;
    return LUCID_STATUS_OK;
}

/* Reads the axes of Squeeze/Unsqueeze: an attribute before opset 13, an optional input
 * from 13 on. *present is false when no axes are given at all. */
static lucid_status read_axes(const lucid_graph *g, const lucid_node *n, int64_t *axes,
                              size_t *count, bool *present, lucid_error *err)
{
    *count = 0;
    *present = false;
    if (n->opset < 13) {
        const int64_t *a;
        size_t c;
        lucid_status st = lucid_attr_ints(n, "axes", &a, &c, err);
        if (st) return st;
        if (!lucid_node_attr(n, "axes")) return LUCID_STATUS_OK;
        if (c > LUCID_MAX_RANK)
            return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                     "%zu axes given (at most %d)", c, LUCID_MAX_RANK);
        memcpy(axes, a, c * sizeof *a);
        *count = c;
        *present = true;
        return LUCID_STATUS_OK;
    }
    if (!lucid_op_input(g, n, 1)) return LUCID_STATUS_OK;
    const lucid_ir_tensor *t;
    lucid_status st = lucid_op_const_input(g, n, 1, &t, err);
    if (!st) st = lucid_op_read_ints(n, t, axes, LUCID_MAX_RANK, count, err);
    *present = st == LUCID_STATUS_OK;
    return st;
}

/* Normalizes axes against rank, refusing out-of-range and repeated ones; marks them. */
static lucid_status mark_axes(const lucid_node *n, const int64_t *axes, size_t count, int rank,
                              bool *marked, lucid_error *err)
{
    for (int i = 0; i < LUCID_MAX_RANK; i++)
        marked[i] = false;
    for (size_t k = 0; k < count; k++) {
        int a;
        if (axes[k] < -rank || axes[k] >= rank)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "axis %lld is out of range for rank %d", (long long)axes[k],
                                     rank);
        lucid_status st = lucid_op_axis(n, axes[k], rank, &a, err);
        if (st) return st;
        if (marked[a])
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "axis %lld is given twice",
                                     (long long)axes[k]);
        marked[a] = true;
    }
    return LUCID_STATUS_OK;
}

/* ---- Shape ------------------------------------------------------------------------- */

typedef struct shape_params {
    int64_t start, end;
    bool has_end;
} shape_params;

static lucid_status shape_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                lucid_error *err)
{
    (void)g;
    shape_params *p = params;
    lucid_status st = lucid_attr_int(n, "start", 0, &p->start, err);
    if (!st) st = lucid_attr_int(n, "end", 0, &p->end, err);
    p->has_end = lucid_node_attr(n, "end") != NULL;
    if (!st && n->opset < 15 && (lucid_node_attr(n, "start") || p->has_end))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attributes 'start' and 'end' need opset 15 or later");
    return st;
}

/* The [begin, end) range of dims that Shape reports, clamped as ONNX specifies. */
static void shape_range(const shape_params *p, int rank, int *begin, int *end)
{
    int64_t s = p->start, e = p->has_end ? p->end : rank;
    if (s < 0) s += rank;
    if (e < 0) e += rank;
    s = s < 0 ? 0 : (s > rank ? rank : s);
    e = e < 0 ? 0 : (e > rank ? rank : e);
    *begin = (int)s;
    *end = (int)(e > s ? e : s);
}

static lucid_status shape_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    int b, e;
    shape_range(n->params, x->rank, &b, &e);
    int64_t count = e - b;
    lucid_status st = lucid_op_set_output(g, n, 0, LUCID_DTYPE_INT64, 1, &count, err);
    if (!st) st = set_known_value(g, n, 0, x->dims + b, (size_t)count, err);
    return st;
}

static lucid_status shape_run(const lucid_node *n, const lucid_array *in, int n_in,
                              lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    int b, e;
    shape_range(n->params, in[0].rank, &b, &e);
    if (out[0].rank != 1 || out[0].dims[0] != e - b)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "output shape mismatch");
    int64_t *o = out[0].data;
    for (int i = b; i < e; i++)
        o[i - b] = in[0].dims[i];
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_shape = {
    .name = "Shape",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(shape_params),
    .parse = shape_parse,
    .infer = shape_infer,
    .cost = no_cost,
    .run = shape_run,
};

/* ---- Size -------------------------------------------------------------------------- */

static lucid_status size_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    int64_t numel = lucid_tensor_numel(lucid_op_input(g, n, 0));
    lucid_status st = lucid_op_set_output(g, n, 0, LUCID_DTYPE_INT64, 0, NULL, err);
    if (!st) st = set_known_value(g, n, 0, &numel, 1, err);
    return st;
}

static lucid_status size_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, lucid_error *err)
{
    (void)n;
    (void)n_in;
    (void)n_out;
    (void)err;
    *(int64_t *)out[0].data = lucid_array_numel(&in[0]);
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_size = {
    .name = "Size",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .infer = size_infer,
    .cost = no_cost,
    .run = size_run,
};

/* ---- Reshape ----------------------------------------------------------------------- */

typedef struct reshape_params {
    int64_t allowzero;
} reshape_params;

static lucid_status reshape_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                  lucid_error *err)
{
    (void)g;
    reshape_params *p = params;
    lucid_status st = lucid_attr_int(n, "allowzero", 0, &p->allowzero, err);
    if (st) return st;
    if (p->allowzero != 0 && p->allowzero != 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "allowzero must be 0 or 1, not %lld", (long long)p->allowzero);
    return LUCID_STATUS_OK;
}

static lucid_status reshape_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const reshape_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *s;
    lucid_status st = require_sized(n, x, err);
    if (!st) st = lucid_op_const_input(g, n, 1, &s, err);
    int64_t dims[LUCID_MAX_RANK];
    size_t rank = 0;
    if (!st) st = lucid_op_read_ints(n, s, dims, LUCID_MAX_RANK, &rank, err);
    if (st) return st;
    int infer_at = -1;
    int64_t known = 1;
    for (size_t i = 0; i < rank; i++) {
        if (dims[i] == 0 && !p->allowzero) {
            if ((int)i >= x->rank)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "shape entry %zu is 0 (copy the input dim) but the "
                                         "input has rank %d",
                                         i, x->rank);
            dims[i] = x->dims[i];
        }
        if (dims[i] == -1) {
            if (infer_at >= 0)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "shape has more than one -1");
            infer_at = (int)i;
            continue;
        }
        if (dims[i] < 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "shape entry %zu is %lld (negative)", i, (long long)dims[i]);
        if (!lucid_mul_i64(known, dims[i], &known) || known > LUCID_MAX_ELEMENTS)
            return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                     "shape has too many elements");
    }
    int64_t total = lucid_tensor_numel(x);
    if (infer_at >= 0) {
        if (known == 0 || total % known != 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "cannot infer the -1 entry: %lld elements do not divide "
                                     "into parts of %lld",
                                     (long long)total, (long long)known);
        dims[infer_at] = total / known;
        known = total;
    }
    if (known != total) {
        char a[160], b[160];
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "cannot reshape %s (%lld elements) to %s (%lld elements)",
                                 lucid_shape_str(x->rank, x->dims, a, sizeof a), (long long)total,
                                 lucid_shape_str((int)rank, dims, b, sizeof b), (long long)known);
    }
    return lucid_op_set_output(g, n, 0, x->dtype, (int)rank, dims, err);
}

const lucid_op_def lucid_op_def_reshape = {
    .name = "Reshape",
    .min_opset = 5,
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(reshape_params),
    .parse = reshape_parse,
    .infer = reshape_infer,
    .cost = no_cost,
    .run = copy_run,
};

/* ---- Flatten ----------------------------------------------------------------------- */

typedef struct flatten_params {
    int64_t axis;
} flatten_params;

static lucid_status flatten_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                  lucid_error *err)
{
    (void)g;
    flatten_params *p = params;
    return lucid_attr_int(n, "axis", 1, &p->axis, err);
}

static lucid_status flatten_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const flatten_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = require_sized(n, x, err);
    if (st) return st;
    int64_t axis = p->axis;
    if (axis < -x->rank || axis > x->rank)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "axis %lld is out of range for rank %d", (long long)axis, x->rank);
    if (axis < 0) axis += x->rank;
    int64_t dims[2] = {1, 1};
    for (int i = 0; i < x->rank; i++)
        dims[i >= axis] *= x->dims[i];
    return lucid_op_set_output(g, n, 0, x->dtype, 2, dims, err);
}

const lucid_op_def lucid_op_def_flatten = {
    .name = "Flatten",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(flatten_params),
    .parse = flatten_parse,
    .infer = flatten_infer,
    .cost = no_cost,
    .run = copy_run,
};

/* ---- Squeeze / Unsqueeze ----------------------------------------------------------- */

static lucid_status squeeze_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    int64_t axes[LUCID_MAX_RANK];
    size_t count;
    bool present, marked[LUCID_MAX_RANK];
    lucid_status st = require_sized(n, x, err);
    if (!st) st = read_axes(g, n, axes, &count, &present, err);
    if (!st) st = mark_axes(n, axes, count, x->rank, marked, err);
    if (st) return st;
    int64_t dims[LUCID_MAX_RANK];
    int rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (present && marked[i] && x->dims[i] != 1)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "cannot squeeze axis %d of size %lld (must be 1)", i,
                                     (long long)x->dims[i]);
        bool drop = present ? marked[i] : x->dims[i] == 1;
        if (!drop) dims[rank++] = x->dims[i];
    }
    return lucid_op_set_output(g, n, 0, x->dtype, rank, dims, err);
}

const lucid_op_def lucid_op_def_squeeze = {
    .name = "Squeeze",
    .min_inputs = 1,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .infer = squeeze_infer,
    .cost = no_cost,
    .run = copy_run,
};

static lucid_status unsqueeze_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    int64_t axes[LUCID_MAX_RANK];
    size_t count;
    bool present, marked[LUCID_MAX_RANK];
    lucid_status st = require_sized(n, x, err);
    if (!st) st = read_axes(g, n, axes, &count, &present, err);
    if (st) return st;
    if (!present) return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "axes are required");
    int rank = x->rank + (int)count;
    if (rank > LUCID_MAX_RANK)
        return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                 "output would have rank %d (at most %d)", rank, LUCID_MAX_RANK);
    st = mark_axes(n, axes, count, rank, marked, err);
    if (st) return st;
    int64_t dims[LUCID_MAX_RANK];
    for (int i = 0, k = 0; i < rank; i++)
        dims[i] = marked[i] ? 1 : x->dims[k++];
    return lucid_op_set_output(g, n, 0, x->dtype, rank, dims, err);
}

const lucid_op_def lucid_op_def_unsqueeze = {
    .name = "Unsqueeze",
    .min_inputs = 1,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .infer = unsqueeze_infer,
    .cost = no_cost,
    .run = copy_run,
};

/* ---- Identity ---------------------------------------------------------------------- */

static lucid_status identity_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = require_sized(n, x, err);
    if (st) return st;
    return lucid_op_set_output(g, n, 0, x->dtype, x->rank, x->dims, err);
}

const lucid_op_def lucid_op_def_identity = {
    .name = "Identity",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .infer = identity_infer,
    .cost = no_cost,
    .run = copy_run,
};

/* ---- Dropout (inference: the identity, with an all-true mask) ---------------------- */

static lucid_status dropout_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = require_sized(n, x, err);
    if (st) return st;
    if (n->opset < 12 && n->n_inputs > 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "has %d inputs (1 before opset 12)", n->n_inputs);
    const lucid_ir_tensor *ratio = lucid_op_input(g, n, 1);
    if (ratio && lucid_tensor_numel(ratio) != 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "ratio must be a scalar");
    const lucid_ir_tensor *mode = lucid_op_input(g, n, 2);
    if (mode) {
        if (mode->dtype != LUCID_DTYPE_BOOL || lucid_tensor_numel(mode) != 1)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "training_mode must be a bool scalar");
        /* training with ratio 0 drops nothing, so it is still the identity */
        bool zero_ratio = ratio && ratio->data && lucid_load_f64(ratio->dtype, ratio->data, 0) == 0;
        if (mode->data && *(const uint8_t *)mode->data && !zero_ratio && (!ratio || ratio->data))
            return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                     "training mode with a nonzero ratio is not supported "
                                     "(inference only)");
    }
    /* the mask has the input's type before opset 10, bool after */
    lucid_dtype mask = n->opset < 10 ? x->dtype : LUCID_DTYPE_BOOL;
    st = lucid_op_set_output(g, n, 0, x->dtype, x->rank, x->dims, err);
    if (!st) st = lucid_op_set_output(g, n, 1, mask, x->rank, x->dims, err);
    return st;
}

static lucid_status dropout_run(const lucid_node *n, const lucid_array *in, int n_in,
                                lucid_array *out, int n_out, lucid_error *err)
{
    bool training = n_in > 2 && in[2].data && *(const uint8_t *)in[2].data;
    double ratio = n_in > 1 && in[1].data ? lucid_load_f64(in[1].dtype, in[1].data, 0) : 0.5;
    if (training && ratio != 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "training mode with a nonzero ratio is not supported "
                                 "(inference only)");
    lucid_status st = copy_run(n, in, n_in, out, n_out, err);
    if (st || n_out < 2 || !out[1].data) return st;
    int64_t count = lucid_array_numel(&out[1]);
    for (int64_t i = 0; i < count; i++)
        lucid_store_f64(out[1].dtype, out[1].data, i, 1.0);
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_dropout = {
    .name = "Dropout",
    .min_opset = 7,
    .min_inputs = 1,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 2,
    .infer = dropout_infer,
    .cost = no_cost,
    .run = dropout_run,
};
