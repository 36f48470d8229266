/* op_util.c - shared helpers for op definitions: tensors, broadcasting, axes, dtypes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"

lucid_ir_tensor *lucid_op_input(const lucid_graph *g, const lucid_node *n, int i)
{
    if (i < 0 || i >= n->n_inputs || n->inputs[i] < 0) return NULL;
    return &g->tensors[n->inputs[i]];
}

lucid_ir_tensor *lucid_op_output(const lucid_graph *g, const lucid_node *n, int i)
{
    if (i < 0 || i >= n->n_outputs || n->outputs[i] < 0) return NULL;
    return &g->tensors[n->outputs[i]];
}

lucid_status lucid_op_set_output(lucid_graph *g, const lucid_node *n, int i, lucid_dtype dtype,
                                 int rank, const int64_t *dims, lucid_error *err)
{
    lucid_ir_tensor *t = lucid_op_output(g, n, i);
    if (!t) return LUCID_STATUS_OK; /* omitted optional output */
    if (rank < 0 || rank > LUCID_MAX_RANK)
        return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                 "output '%s' would have rank %d (at most %d)", t->name, rank,
                                 LUCID_MAX_RANK);
    int64_t numel = lucid_shape_numel(rank, dims);
    if (numel == -1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "output '%s' would have a negative dimension", t->name);
    if (numel == -2)
        return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                 "output '%s' would have more than %lld elements", t->name,
                                 (long long)LUCID_MAX_ELEMENTS);
    t->dtype = dtype;
    t->rank = rank;
    for (int k = 0; k < LUCID_MAX_RANK; k++)
        t->dims[k] = k < rank ? dims[k] : -1;
    return LUCID_STATUS_OK;
}

lucid_status lucid_op_const_input(const lucid_graph *g, const lucid_node *n, int i,
                                  const lucid_ir_tensor **out, lucid_error *err)
{
    const lucid_ir_tensor *t = lucid_op_input(g, n, i);
    *out = NULL;
    if (!t) return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "input %d is missing", i);
    if (!t->data)
        return lucid_node_errorf(n, err, LUCID_STATUS_DEFERRED,
                                 "input '%s' must be known when the engine is built (shapes "
                                 "that depend on input data are not supported)",
                                 t->name);
    *out = t;
    return LUCID_STATUS_OK;
}

lucid_status lucid_op_read_ints(const lucid_node *n, const lucid_ir_tensor *t, int64_t *out,
                                size_t max, size_t *count, lucid_error *err)
{
    if (t->dtype != LUCID_DTYPE_INT64 && t->dtype != LUCID_DTYPE_INT32)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input '%s' must be int64 or int32, not %s", t->name,
                                 lucid_dtype_name(t->dtype));
    if (t->rank > 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input '%s' must be 1-D, not rank %d", t->name, t->rank);
    int64_t numel = lucid_tensor_numel(t);
    if (numel < 0 || (size_t)numel > max)
        return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                 "input '%s' has %lld values (at most %zu)", t->name,
                                 (long long)numel, max);
    for (int64_t k = 0; k < numel; k++)
        out[k] = lucid_load_i64(t->dtype, t->data, k);
    *count = (size_t)numel;
    return LUCID_STATUS_OK;
}

lucid_status lucid_op_broadcast(const lucid_node *n, int ra, const int64_t *a, int rb,
                                const int64_t *b, int *rank, int64_t *dims, lucid_error *err)
{
    int r = ra > rb ? ra : rb;
    int64_t tmp[LUCID_MAX_RANK];
    for (int i = 0; i < r; i++) {
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da == db || db == 1)
            tmp[i] = da;
        else if (da == 1)
            tmp[i] = db;
        else {
            char sa[128], sb[128];
            return lucid_node_errorf(
                n, err, LUCID_STATUS_INVALID_MODEL, "shapes %s and %s do not broadcast",
                lucid_shape_str(ra, a, sa, sizeof sa), lucid_shape_str(rb, b, sb, sizeof sb));
        }
    }
    *rank = r;
    memcpy(dims, tmp, sizeof(int64_t) * (size_t)r);
    return LUCID_STATUS_OK;
}

lucid_status lucid_op_axis(const lucid_node *n, int64_t axis, int rank, int *out, lucid_error *err)
{
    if (axis < -rank || axis >= (rank > 0 ? rank : 1) || (rank == 0 && axis != 0 && axis != -1))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return LUCID_STATUS_OK;
}

lucid_status lucid_op_check_dtype(const lucid_graph *g, const lucid_node *n, int i,
                                  const lucid_dtype *allowed, lucid_error *err)
{
    const lucid_ir_tensor *t = lucid_op_input(g, n, i);
    if (!t) return LUCID_STATUS_OK;
    for (const lucid_dtype *a = allowed; *a != LUCID_DTYPE_UNDEFINED; a++)
        if (*a == t->dtype) return LUCID_STATUS_OK;
    return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s, which this op does not support", t->name,
                             lucid_dtype_name(t->dtype));
}

double lucid_load_f64(lucid_dtype dtype, const void *data, int64_t i)
{
    switch (dtype) {
    case LUCID_DTYPE_FLOAT:
        return ((const float *)data)[i];
    case LUCID_DTYPE_DOUBLE:
        return ((const double *)data)[i];
    case LUCID_DTYPE_FLOAT16:
        return lucid_half_to_float(((const uint16_t *)data)[i]);
    case LUCID_DTYPE_BFLOAT16:
        return lucid_bf16_to_float(((const uint16_t *)data)[i]);
    case LUCID_DTYPE_BOOL:
        return ((const uint8_t *)data)[i] != 0;
    case LUCID_DTYPE_UINT64:
        return (double)((const uint64_t *)data)[i];
    default:
        return (double)lucid_load_i64(dtype, data, i);
    }
}

void lucid_store_f64(lucid_dtype dtype, void *data, int64_t i, double v)
{
    switch (dtype) {
    case LUCID_DTYPE_FLOAT:
        ((float *)data)[i] = (float)v;
        return;
    case LUCID_DTYPE_DOUBLE:
        ((double *)data)[i] = v;
        return;
    case LUCID_DTYPE_FLOAT16:
        ((uint16_t *)data)[i] = lucid_float_to_half((float)v);
        return;
    case LUCID_DTYPE_BFLOAT16:
        ((uint16_t *)data)[i] = lucid_float_to_bf16((float)v);
        return;
    case LUCID_DTYPE_BOOL:
        ((uint8_t *)data)[i] = v != 0;
        return;
    default:
        break;
    }
    /* integers: truncate toward zero as C and NumPy casts do; saturate out-of-range values
     * and map NaN to 0 instead of invoking undefined behaviour */
    if (isnan(v)) v = 0;
    if (v >= 9.2233720368547758e18) v = 9.2233720368547748e18;
    if (v <= -9.2233720368547758e18) v = -9.2233720368547758e18;
    if (dtype == LUCID_DTYPE_UINT64) {
        ((uint64_t *)data)[i] = v < 0 ? (uint64_t)(int64_t)v : (uint64_t)v;
        return;
    }
    lucid_store_i64(dtype, data, i, (int64_t)v);
}

int64_t lucid_load_i64(lucid_dtype dtype, const void *data, int64_t i)
{
    switch (dtype) {
    case LUCID_DTYPE_INT64:
        return ((const int64_t *)data)[i];
    case LUCID_DTYPE_INT32:
        return ((const int32_t *)data)[i];
    case LUCID_DTYPE_INT16:
        return ((const int16_t *)data)[i];
    case LUCID_DTYPE_INT8:
        return ((const int8_t *)data)[i];
    case LUCID_DTYPE_UINT8:
    case LUCID_DTYPE_BOOL:
        return ((const uint8_t *)data)[i];
    case LUCID_DTYPE_UINT16:
        return ((const uint16_t *)data)[i];
    case LUCID_DTYPE_UINT32:
        return ((const uint32_t *)data)[i];
    case LUCID_DTYPE_UINT64:
        return (int64_t)((const uint64_t *)data)[i];
    case LUCID_DTYPE_FLOAT:
    case LUCID_DTYPE_DOUBLE:
    case LUCID_DTYPE_FLOAT16:
    case LUCID_DTYPE_BFLOAT16: {
        double v = lucid_load_f64(dtype, data, i);
        if (isnan(v)) return 0;
        if (v >= 9.2233720368547758e18) return INT64_MAX;
        if (v <= -9.2233720368547758e18) return INT64_MIN;
        return (int64_t)v;
    }
    default:
        return 0;
    }
}

void lucid_store_i64(lucid_dtype dtype, void *data, int64_t i, int64_t v)
{
    switch (dtype) {
    case LUCID_DTYPE_INT64:
        ((int64_t *)data)[i] = v;
        return;
    case LUCID_DTYPE_INT32:
        ((int32_t *)data)[i] = (int32_t)v;
        return;
    case LUCID_DTYPE_INT16:
        ((int16_t *)data)[i] = (int16_t)v;
        return;
    case LUCID_DTYPE_INT8:
        ((int8_t *)data)[i] = (int8_t)v;
        return;
    case LUCID_DTYPE_UINT8:
        ((uint8_t *)data)[i] = (uint8_t)v;
        return;
    case LUCID_DTYPE_BOOL:
        ((uint8_t *)data)[i] = v != 0;
        return;
    case LUCID_DTYPE_UINT16:
        ((uint16_t *)data)[i] = (uint16_t)v;
        return;
    case LUCID_DTYPE_UINT32:
        ((uint32_t *)data)[i] = (uint32_t)v;
        return;
    case LUCID_DTYPE_UINT64:
        ((uint64_t *)data)[i] = (uint64_t)v;
        return;
    case LUCID_DTYPE_FLOAT:
    case LUCID_DTYPE_DOUBLE:
    case LUCID_DTYPE_FLOAT16:
    case LUCID_DTYPE_BFLOAT16:
        lucid_store_f64(dtype, data, i, (double)v);
        return;
    default:
        return;
    }
}

void lucid_strides(int rank, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

bool lucid_op_refuse(char *why, size_t why_len, const char *msg)
{
    if (why && why_len) snprintf(why, why_len, "%s", msg);
    return false;
}

lucid_status lucid_op_auto_pad(const lucid_node *n, lucid_auto_pad *out, lucid_error *err)
{
    static const char *const names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
    const char *ap;
    lucid_status st = lucid_attr_string(n, "auto_pad", "NOTSET", &ap, err);
    if (st) return st;
    *out = LUCID_AUTO_PAD_NOTSET;
    if (ap[0] == '\0') return LUCID_STATUS_OK;
    for (int i = 0; i < 4; i++)
        if (strcmp(ap, names[i]) == 0) {
            *out = (lucid_auto_pad)i;
            return LUCID_STATUS_OK;
        }
    return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                             "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID",
                             ap);
}

lucid_status lucid_op_window(const lucid_node *n, lucid_auto_pad auto_pad, int dim, int64_t in,
                             int64_t dk, int64_t s, bool ceil_mode, int64_t *pb, int64_t *pe,
                             int64_t *out, lucid_error *err)
{
    if (lucid_auto_pad_is_same(auto_pad)) {
        *out = lucid_ceil_div(in, s);
        lucid_auto_pad_split(auto_pad, (*out - 1) * s + dk - in, pb, pe);
        return LUCID_STATUS_OK;
    }
    if (auto_pad == LUCID_AUTO_PAD_VALID) *pb = *pe = 0;
    const int64_t span = in + *pb + *pe - dk;
    if (span < 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "the kernel (extent %lld with dilation) is larger than the "
                                 "padded input (%lld) in spatial dim %d",
                                 (long long)dk, (long long)(in + *pb + *pe), dim);
    if (!ceil_mode) {
        *out = span / s + 1;
        return LUCID_STATUS_OK;
    }
    *out = lucid_ceil_div(span, s) + 1;
    /* as PyTorch and the ONNX reference: the last window must start inside the input or its
     * begin padding, not wholly in the end padding */
    if ((*out - 1) * s >= in + *pb) (*out)--;
    return LUCID_STATUS_OK;
}

lucid_status lucid_op_geometry_ints(const lucid_node *n, const char *name, int64_t *dst,
                                    size_t max, size_t *count, int64_t min_value,
                                    lucid_error *err)
{
    const int64_t *v;
    size_t c;
    lucid_status st = lucid_attr_ints(n, name, &v, &c, err);
    if (st) return st;
    if (c > max)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute '%s' has %zu values (at most %zu)", name, c, max);
    for (size_t i = 0; i < c; i++) {
        if (v[i] < min_value || v[i] > LUCID_OP_MAX_GEOMETRY)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "attribute '%s' value %lld is out of range [%lld, %lld]", name,
                                     (long long)v[i], (long long)min_value,
                                     (long long)LUCID_OP_MAX_GEOMETRY);
        dst[i] = v[i];
    }
    *count = c;
    return LUCID_STATUS_OK;
}
