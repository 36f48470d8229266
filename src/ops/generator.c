/* generator.c - ops that make tensors from attributes or scalars: Constant, ConstantOfShape,
 * Range, and the dtype conversion Cast. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"

static void no_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    (void)g;
    (void)n;
    *macs = 0;
    *flops = 0;
}

static bool is_float_dtype(lucid_dtype t)
{
    return t == LUCID_DTYPE_FLOAT || t == LUCID_DTYPE_DOUBLE || t == LUCID_DTYPE_FLOAT16 ||
           t == LUCID_DTYPE_BFLOAT16;
}

/* A tensor attribute's data must match its dtype and shape: it comes from the file. */
static lucid_status check_tensor_attr(const lucid_node *n, const char *name, const lucid_array *t,
                                      lucid_error *err)
{
    size_t esz = lucid_dtype_size(t->dtype);
    if (esz == 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "attribute '%s' has dtype %s, which is not supported", name,
                                 lucid_dtype_name(t->dtype));
    if (t->rank < 0 || t->rank > LUCID_MAX_RANK)
        return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                 "attribute '%s' has rank %d (at most %d)", name, t->rank,
                                 LUCID_MAX_RANK);
    int64_t numel = lucid_shape_numel(t->rank, t->dims);
    size_t nb;
    if (numel < 0 || !lucid_mul_size((size_t)numel, esz, &nb) || nb != t->nbytes ||
        (nb && !t->data))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute '%s' holds %zu bytes, which does not match its "
                                 "shape",
                                 name, t->nbytes);
    return LUCID_STATUS_OK;
}

/* ---- Constant ---------------------------------------------------------------------- */

/* Where a Constant's value lives: attribute data described as a dense array view. */
typedef struct constant_value {
    lucid_dtype dtype;
    int rank;
    int64_t dims[LUCID_MAX_RANK];
    const void *data;
    size_t nbytes;
} constant_value;

static lucid_status constant_find(const lucid_node *n, constant_value *v, lucid_error *err)
{
    static const char *refused[] = {"value_string", "value_strings", "sparse_value"};
    static const char *known[] = {"value",      "value_float",  "value_floats",  "value_int",
                                  "value_ints", "value_string", "value_strings", "sparse_value"};
    int given = 0;
    for (size_t i = 0; i < LUCID_ARRAY_LEN(known); i++)
        given += lucid_node_attr(n, known[i]) != NULL;
    if (given != 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "exactly one value attribute is required (%d given)", given);
    for (size_t i = 0; i < LUCID_ARRAY_LEN(refused); i++)
        if (lucid_node_attr(n, refused[i]))
            return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                     "attribute '%s' is not supported", refused[i]);
    memset(v, 0, sizeof *v);
    const lucid_attr *a;
    lucid_status st = LUCID_STATUS_OK;
    if ((a = lucid_node_attr(n, "value"))) {
        const lucid_array *t;
        st = lucid_attr_tensor(n, "value", &t, err);
        if (!st) st = check_tensor_attr(n, "value", t, err);
        if (st) return st;
        v->dtype = t->dtype;
        v->rank = t->rank;
        memcpy(v->dims, t->dims, sizeof v->dims);
        v->data = t->data;
        v->nbytes = t->nbytes;
    } else if ((a = lucid_node_attr(n, "value_float"))) {
        if (a->type != LUCID_ATTR_FLOAT) return lucid_attr_float(n, a->name, 0, &(float){0}, err);
        v->dtype = LUCID_DTYPE_FLOAT;
        v->data = &a->f;
        v->nbytes = sizeof(float);
    } else if ((a = lucid_node_attr(n, "value_int"))) {
        if (a->type != LUCID_ATTR_INT) return lucid_attr_int(n, a->name, 0, &(int64_t){0}, err);
        v->dtype = LUCID_DTYPE_INT64;
        v->data = &a->i;
        v->nbytes = sizeof(int64_t);
    } else if ((a = lucid_node_attr(n, "value_floats"))) {
        const float *f;
        size_t c;
        st = lucid_attr_floats(n, a->name, &f, &c, err);
        v->dtype = LUCID_DTYPE_FLOAT;
        v->rank = 1;
        v->dims[0] = (int64_t)c;
        v->data = f;
        v->nbytes = c * sizeof(float);
    } else {
        const int64_t *i;
        size_t c;
        a = lucid_node_attr(n, "value_ints");
        st = lucid_attr_ints(n, a->name, &i, &c, err);
        v->dtype = LUCID_DTYPE_INT64;
        v->rank = 1;
        v->dims[0] = (int64_t)c;
        v->data = i;
        v->nbytes = c * sizeof(int64_t);
    }
    return st;
}

static lucid_status constant_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                   lucid_error *err)
{
    (void)g;
    (void)params;
    constant_value v;
    return constant_find(n, &v, err);
}

static lucid_status constant_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    constant_value v;
    lucid_status st = constant_find(n, &v, err);
    if (!st) st = lucid_op_set_output(g, n, 0, v.dtype, v.rank, v.dims, err);
    if (st) return st;
    /* a Constant's value is known whatever its size: it is a weight, not an activation */
    lucid_ir_tensor *t = lucid_op_output(g, n, 0);
    void *d = malloc(v.nbytes ? v.nbytes : 1);
    if (!d) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (v.nbytes) memcpy(d, v.data, v.nbytes);
    free(t->data);
    t->data = d;
    t->nbytes = v.nbytes;
    return LUCID_STATUS_OK;
}

static lucid_status constant_run(const lucid_node *n, const lucid_array *in, int n_in,
                                 lucid_array *out, int n_out, lucid_error *err)
{
    (void)in;
    (void)n_in;
    (void)n_out;
    constant_value v;
    lucid_status st = constant_find(n, &v, err);
    if (st) return st;
    if (out[0].nbytes != v.nbytes)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "output size mismatch");
    if (v.nbytes) memcpy(out[0].data, v.data, v.nbytes);
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_constant = {
    .name = "Constant",
    .min_inputs = 0,
    .max_inputs = 0,
    .min_outputs = 1,
    .max_outputs = 1,
    .parse = constant_parse,
    .infer = constant_infer,
    .cost = no_cost,
    .run = constant_run,
};

/* ---- ConstantOfShape --------------------------------------------------------------- */

typedef struct cos_params {
    lucid_dtype dtype;
    unsigned char value[16]; /* one element */
} cos_params;

static lucid_status cos_parse(const lucid_graph *g, const lucid_node *n, void *params,
                              lucid_error *err)
{
    (void)g;
    cos_params *p = params;
    const lucid_array *t;
    lucid_status st = lucid_attr_tensor(n, "value", &t, err);
    if (st) return st;
    p->dtype = LUCID_DTYPE_FLOAT;
    memset(p->value, 0, sizeof p->value);
    if (!t) return LUCID_STATUS_OK;
    st = check_tensor_attr(n, "value", t, err);
    if (st) return st;
    if (lucid_shape_numel(t->rank, t->dims) != 1)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute 'value' must hold exactly one element");
    p->dtype = t->dtype;
    memcpy(p->value, t->data, t->nbytes);
    return LUCID_STATUS_OK;
}

static lucid_status cos_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const cos_params *p = n->params;
    const lucid_ir_tensor *s;
    int64_t dims[LUCID_MAX_RANK];
    size_t rank;
    lucid_status st = lucid_op_const_input(g, n, 0, &s, err);
    if (!st) st = lucid_op_read_ints(n, s, dims, LUCID_MAX_RANK, &rank, err);
    if (st) return st;
    for (size_t i = 0; i < rank; i++)
        if (dims[i] < 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "shape entry %zu is negative (%lld)", i, (long long)dims[i]);
    return lucid_op_set_output(g, n, 0, p->dtype, (int)rank, dims, err);
}

static lucid_status cos_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                            int n_out, lucid_error *err)
{
    (void)in;
    (void)n_in;
    (void)n_out;
    (void)err;
    const cos_params *p = n->params;
    size_t esz = lucid_dtype_size(p->dtype);
    int64_t count = lucid_array_numel(&out[0]);
    unsigned char *d = out[0].data;
    for (int64_t i = 0; i < count; i++)
        memcpy(d + (size_t)i * esz, p->value, esz);
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_constant_of_shape = {
    .name = "ConstantOfShape",
    .min_opset = 9,
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(cos_params),
    .parse = cos_parse,
    .infer = cos_infer,
    .cost = no_cost,
    .run = cos_run,
};

/* ---- Range ------------------------------------------------------------------------- */

/* max(ceil((limit - start) / delta), 0) computed exactly for integers and in double for
 * floats; -1 when the count is not representable. */
static int64_t range_count(lucid_dtype dt, const void *s, const void *l, const void *d)
{
    if (is_float_dtype(dt)) {
        double start = lucid_load_f64(dt, s, 0), limit = lucid_load_f64(dt, l, 0),
               delta = lucid_load_f64(dt, d, 0);
        double c = ceil((limit - start) / delta);
        if (isnan(c) || c > (double)LUCID_MAX_ELEMENTS) return -1;
        return c > 0 ? (int64_t)c : 0;
    }
    int64_t start = lucid_load_i64(dt, s, 0), limit = lucid_load_i64(dt, l, 0),
            delta = lucid_load_i64(dt, d, 0), diff;
    if (__builtin_sub_overflow(limit, start, &diff)) return -1;
    if (delta > 0 && diff > 0) return 1 + (diff - 1) / delta;
    if (delta < 0 && diff < 0) return delta == INT64_MIN ? 1 : 1 + (-(diff + 1)) / -delta;
    return 0;
}

static lucid_status range_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *v[3];
    for (int k = 0; k < 3; k++) {
        lucid_status st = lucid_op_const_input(g, n, k, &v[k], err);
        if (st) return st;
        if (lucid_tensor_numel(v[k]) != 1)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "input '%s' must be a scalar", v[k]->name);
        if (v[k]->dtype != v[0]->dtype)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "start, limit and delta differ in dtype");
    }
    lucid_dtype dt = v[0]->dtype;
    if (dt == LUCID_DTYPE_BOOL || lucid_dtype_size(dt) == 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "dtype %s is not supported",
                                 lucid_dtype_name(dt));
    if (lucid_load_f64(dt, v[2]->data, 0) == 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "delta is 0");
    int64_t count = range_count(dt, v[0]->data, v[1]->data, v[2]->data);
    if (count < 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                 "the range has too many elements");
    return lucid_op_set_output(g, n, 0, dt, 1, &count, err);
}

static lucid_status range_run(const lucid_node *n, const lucid_array *in, int n_in,
                              lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    lucid_dtype dt = out[0].dtype;
    int64_t count = lucid_array_numel(&out[0]);
    if (range_count(dt, in[0].data, in[1].data, in[2].data) != count)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "range length changed");
    if (is_float_dtype(dt)) {
        double start = lucid_load_f64(dt, in[0].data, 0), delta = lucid_load_f64(dt, in[2].data, 0);
        for (int64_t i = 0; i < count; i++)
            lucid_store_f64(dt, out[0].data, i, start + (double)i * delta);
    } else {
        /* unsigned arithmetic: the values stay within [start, limit) so this is exact */
        uint64_t start = (uint64_t)lucid_load_i64(dt, in[0].data, 0),
                 delta = (uint64_t)lucid_load_i64(dt, in[2].data, 0);
        for (int64_t i = 0; i < count; i++)
            lucid_store_i64(dt, out[0].data, i, (int64_t)(start + (uint64_t)i * delta));
    }
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_range = {
    .name = "Range",
    .min_opset = 11,
    .min_inputs = 3,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 1,
    .infer = range_infer,
    .run = range_run,
};

/* ---- Cast -------------------------------------------------------------------------- */

typedef struct cast_params {
    lucid_dtype to;
} cast_params;

static lucid_status cast_dtype_ok(const lucid_node *n, int64_t dt, const char *what,
                                  lucid_error *err)
{
    if (dt == LUCID_DTYPE_STRING)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "casts %s strings are not supported", what);
    if (dt <= 0 || dt > 0xffff || lucid_dtype_size((lucid_dtype)dt) == 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "casts %s dtype %lld are not supported", what, (long long)dt);
    return LUCID_STATUS_OK;
}

static lucid_status cast_parse(const lucid_graph *g, const lucid_node *n, void *params,
                               lucid_error *err)
{
    (void)g;
    cast_params *p = params;
    int64_t to;
    if (!lucid_node_attr(n, "to"))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "attribute 'to' is required");
    lucid_status st = lucid_attr_int(n, "to", 0, &to, err);
    if (!st) st = cast_dtype_ok(n, to, "to", err);
    if (st) return st;
    p->to = (lucid_dtype)to;
    return LUCID_STATUS_OK;
}

static lucid_status cast_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const cast_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    lucid_status st = cast_dtype_ok(n, x->dtype, "from", err);
    if (st) return st;
    return lucid_op_set_output(g, n, 0, p->to, x->rank, x->dims, err);
}

/* Converts element i; integers go through int64 (or uint64) and floats through double, so
 * that no conversion loses more than the destination type must. */
static void cast_elem(lucid_dtype sd, const void *src, lucid_dtype dd, void *dst, int64_t i)
{
    if (is_float_dtype(sd)) {
        lucid_store_f64(dd, dst, i, lucid_load_f64(sd, src, i));
        return;
    }
    if (!is_float_dtype(dd)) {
        lucid_store_i64(dd, dst, i, lucid_load_i64(sd, src, i));
        return;
    }
    /* integer to float: convert straight to the destination width (one rounding) */
    float f;
    double d;
    if (sd == LUCID_DTYPE_UINT64) {
        uint64_t u = ((const uint64_t *)src)[i];
        f = (float)u;
        d = (double)u;
    } else {
        int64_t v = lucid_load_i64(sd, src, i);
        f = (float)v;
        d = (double)v;
    }
    switch (dd) {
    case LUCID_DTYPE_FLOAT:
        ((float *)dst)[i] = f;
        break;
    case LUCID_DTYPE_DOUBLE:
        ((double *)dst)[i] = d;
        break;
    case LUCID_DTYPE_FLOAT16:
        ((uint16_t *)dst)[i] = lucid_float_to_half(f);
        break;
    default:
        ((uint16_t *)dst)[i] = lucid_float_to_bf16(f);
        break;
    }
}

static lucid_status cast_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, lucid_error *err)
{
    (void)n;
    (void)n_in;
    (void)n_out;
    (void)err;
    int64_t count = lucid_array_numel(&in[0]);
    if (in[0].dtype == out[0].dtype) {
        if (out[0].nbytes && out[0].data != in[0].data)
            memmove(out[0].data, in[0].data, out[0].nbytes);
        return LUCID_STATUS_OK;
    }
    for (int64_t i = 0; i < count; i++)
        cast_elem(in[0].dtype, in[0].data, out[0].dtype, out[0].data, i);
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_cast = {
    .name = "Cast",
    .min_opset = 6,
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(cast_params),
    .parse = cast_parse,
    .infer = cast_infer,
    .run = cast_run,
};
