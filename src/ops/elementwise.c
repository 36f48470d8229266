/* elementwise.c - broadcast walks, dtype sets, unary float dispatch for elementwise ops. */
#include <string.h>

#include "core/util.h"
#include "ops/elementwise.h"

const lucid_dtype lucid_dtypes_float[] = {LUCID_DTYPE_FLOAT, LUCID_DTYPE_DOUBLE,
                                          LUCID_DTYPE_FLOAT16, LUCID_DTYPE_BFLOAT16,
                                          LUCID_DTYPE_UNDEFINED};
const lucid_dtype lucid_dtypes_signed[] = {
    LUCID_DTYPE_FLOAT,    LUCID_DTYPE_DOUBLE, LUCID_DTYPE_FLOAT16,
    LUCID_DTYPE_BFLOAT16, LUCID_DTYPE_INT8,   LUCID_DTYPE_INT16,
    LUCID_DTYPE_INT32,    LUCID_DTYPE_INT64,  LUCID_DTYPE_UNDEFINED};
const lucid_dtype lucid_dtypes_numeric[] = {
    LUCID_DTYPE_FLOAT,    LUCID_DTYPE_DOUBLE, LUCID_DTYPE_FLOAT16, LUCID_DTYPE_BFLOAT16,
    LUCID_DTYPE_INT8,     LUCID_DTYPE_INT16,  LUCID_DTYPE_INT32,   LUCID_DTYPE_INT64,
    LUCID_DTYPE_UINT8,    LUCID_DTYPE_UINT16, LUCID_DTYPE_UINT32,  LUCID_DTYPE_UINT64,
    LUCID_DTYPE_UNDEFINED};
const lucid_dtype lucid_dtypes_bool[] = {LUCID_DTYPE_BOOL, LUCID_DTYPE_UNDEFINED};

bool lucid_dtype_is_float(lucid_dtype dtype)
{
    return dtype == LUCID_DTYPE_FLOAT || dtype == LUCID_DTYPE_DOUBLE ||
           dtype == LUCID_DTYPE_FLOAT16 || dtype == LUCID_DTYPE_BFLOAT16;
}

void lucid_bcast_init(lucid_bcast *b, const lucid_array *out, const lucid_array *const *in,
                      int n_in)
{
    memset(b, 0, sizeof *b);
    b->n = n_in + 1;
    int r = out->rank;
    /* per operand, right-aligned row-major strides with 0 where the operand has size 1 */
    int64_t dims[LUCID_MAX_RANK], st[LUCID_BCAST_MAX_OPERANDS][LUCID_MAX_RANK];
    for (int k = 0; k < b->n; k++) {
        const lucid_array *a = k == 0 ? out : in[k - 1];
        int64_t s = 1;
        for (int i = r - 1; i >= 0; i--) {
            int ia = i - (r - a->rank);
            int64_t d = ia >= 0 ? a->dims[ia] : 1;
            st[k][i] = d == 1 ? 0 : s;
            s *= d;
        }
    }
    /* drop size-1 output dims, then merge neighbours that every operand walks contiguously */
    int m = 0;
    for (int i = 0; i < r; i++) {
        if (out->dims[i] == 1) continue;
        bool merge = m > 0;
        for (int k = 0; merge && k < b->n; k++)
            merge = st[k][m - 1] == st[k][i] * out->dims[i];
        if (merge) {
            dims[m - 1] *= out->dims[i];
            for (int k = 0; k < b->n; k++)
                st[k][m - 1] = st[k][i];
        } else {
            dims[m] = out->dims[i];
            for (int k = 0; k < b->n; k++)
                st[k][m] = st[k][i];
            m++;
        }
    }
    if (m == 0) {
        b->inner = lucid_array_numel(out) == 0 ? 0 : 1;
        b->rows = 1;
        b->rank = 0;
        return;
    }
    b->inner = dims[m - 1];
    for (int k = 0; k < b->n; k++)
        b->step[k] = st[k][m - 1];
    b->rank = m - 1;
    b->rows = 1;
    for (int i = 0; i < m - 1; i++) {
        b->dims[i] = dims[i];
        for (int k = 0; k < b->n; k++)
            b->strides[k][i] = st[k][i];
        b->rows *= dims[i];
    }
    if (b->inner == 0) b->rows = 0;
}

void lucid_bcast_next(lucid_bcast *b)
{
    for (int d = b->rank - 1; d >= 0; d--) {
        for (int k = 0; k < b->n; k++)
            b->off[k] += b->strides[k][d];
        if (++b->idx[d] < b->dims[d]) return;
        b->idx[d] = 0;
        for (int k = 0; k < b->n; k++)
            b->off[k] -= b->strides[k][d] * b->dims[d];
    }
}

void lucid_bcast_apply2(lucid_array *out, const lucid_array *a, const lucid_array *b,
                        lucid_row2_fn fn)
{
    const lucid_array *in[2] = {a, b};
    lucid_bcast w;
    lucid_bcast_init(&w, out, in, 2);
    size_t so = lucid_dtype_size(out->dtype), sa = lucid_dtype_size(a->dtype),
           sb = lucid_dtype_size(b->dtype);
    for (int64_t r = 0; r < w.rows; r++) {
        fn((char *)out->data + (size_t)w.off[0] * so, (const char *)a->data + (size_t)w.off[1] * sa,
           w.step[1], (const char *)b->data + (size_t)w.off[2] * sb, w.step[2], w.inner);
        lucid_bcast_next(&w);
    }
}

lucid_status lucid_ew_infer_same(lucid_graph *g, lucid_node *n, const lucid_dtype *allowed,
                                 lucid_error *err)
{
    lucid_status st = lucid_op_check_dtype(g, n, 0, allowed, err);
    if (st) return st;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    return lucid_op_set_output(g, n, 0, x->dtype, x->rank, x->dims, err);
}

lucid_status lucid_ew_broadcast_shape(const lucid_graph *g, const lucid_node *n, int first,
                                      int last, int *rank, int64_t *dims, lucid_error *err)
{
    if (last < 0 || last >= n->n_inputs) last = n->n_inputs - 1;
    int r = 0;
    int64_t d[LUCID_MAX_RANK];
    for (int i = first; i <= last; i++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, i);
        if (!t) continue;
        lucid_status st = lucid_op_broadcast(n, r, d, t->rank, t->dims, &r, d, err);
        if (st) return st;
    }
    *rank = r;
    memcpy(dims, d, sizeof(int64_t) * (size_t)r);
    return LUCID_STATUS_OK;
}

lucid_status lucid_unary_float_run(const lucid_node *n, const lucid_unary_float *k,
                                   const lucid_array *x, lucid_array *y, const void *p,
                                   lucid_error *err)
{
    int64_t numel = lucid_array_numel(x);
    switch (x->dtype) {
    case LUCID_DTYPE_FLOAT:
        k->f32(x->data, y->data, numel, p);
        return LUCID_STATUS_OK;
    case LUCID_DTYPE_DOUBLE:
        k->f64(x->data, y->data, numel, p);
        return LUCID_STATUS_OK;
    case LUCID_DTYPE_FLOAT16:
    case LUCID_DTYPE_BFLOAT16: {
        /* convert through a stack block so the run path allocates nothing */
        float bx[256], by[256];
        const uint16_t *xs = x->data;
        uint16_t *ys = y->data;
        bool half = x->dtype == LUCID_DTYPE_FLOAT16;
        for (int64_t i = 0; i < numel; i += 256) {
            int64_t c = LUCID_MIN(numel - i, 256);
            for (int64_t j = 0; j < c; j++)
                bx[j] = half ? lucid_half_to_float(xs[i + j]) : lucid_bf16_to_float(xs[i + j]);
            k->f32(bx, by, c, p);
            for (int64_t j = 0; j < c; j++)
                ys[i + j] = half ? lucid_float_to_half(by[j]) : lucid_float_to_bf16(by[j]);
        }
        return LUCID_STATUS_OK;
    }
    default:
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "dtype %s is not supported",
                                 lucid_dtype_name(x->dtype));
    }
}

double lucid_ew_out_numel(const lucid_graph *g, const lucid_node *n)
{
    const lucid_ir_tensor *t = lucid_op_output(g, n, 0);
    int64_t numel = t ? lucid_tensor_numel(t) : 0;
    return numel > 0 ? (double)numel : 0;
}
