/* binary.c - broadcasting binary and variadic ops: arithmetic, comparisons, logic, Where. */
#include <math.h>
#include <string.h>

#include "core/util.h"
#include "ops/elementwise.h"

/* ---- row kernels, generated per dtype ----------------------------------------------- */

#define ID(v) (v)
#define H2F(v) lucid_half_to_float(v)
#define F2H(v) lucid_float_to_half(v)
#define B2F(v) lucid_bf16_to_float(v)
#define F2B(v) lucid_float_to_bf16(v)

/* NAME(o, a, sa, b, sb, n): o[i] = EXPR with x = a[i*sa], y = b[i*sb] loaded as CT. The four
 * stride cases are separate loops so the compiler vectorizes the common ones. */
#define ROW2(NAME, TI, TO, CT, LD, ST, EXPR)                                                       \
    static void NAME(void *o_, const void *a_, int64_t sa, const void *b_, int64_t sb, int64_t n)  \
    {                                                                                              \
        TO *o = o_;                                                                                \
        const TI *a = a_, *b = b_;                                                                 \
        if (sa && sb) {                                                                            \
            for (int64_t i = 0; i < n; i++) {                                                      \
                CT x = LD(a[i]), y = LD(b[i]);                                                     \
                o[i] = ST(EXPR);                                                                   \
            }                                                                                      \
        } else if (sa) {                                                                           \
            CT y = LD(b[0]);                                                                       \
            for (int64_t i = 0; i < n; i++) {                                                      \
                CT x = LD(a[i]);                                                                   \
                o[i] = ST(EXPR);                                                                   \
            }                                                                                      \
        } else if (sb) {                                                                           \
            CT x = LD(a[0]);                                                                       \
            for (int64_t i = 0; i < n; i++) {                                                      \
                CT y = LD(b[i]);                                                                   \
                o[i] = ST(EXPR);                                                                   \
            }                                                                                      \
        } else {                                                                                   \
            CT x = LD(a[0]), y = LD(b[0]);                                                         \
            TO v = ST(EXPR);                                                                       \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = v;                                                                          \
        }                                                                                          \
    }

/* X(OP, suffix, dtype, storage type, compute type, load, store, kind F/S/U) */
#define FOR_FLOATS(X, OP)                                                                          \
    X(OP, f32, LUCID_DTYPE_FLOAT, float, float, ID, ID, F)                                         \
    X(OP, f64, LUCID_DTYPE_DOUBLE, double, double, ID, ID, F)                                      \
    X(OP, f16, LUCID_DTYPE_FLOAT16, uint16_t, float, H2F, F2H, F)                                  \
    X(OP, bf16, LUCID_DTYPE_BFLOAT16, uint16_t, float, B2F, F2B, F)
#define FOR_INTS(X, OP)                                                                            \
    X(OP, i8, LUCID_DTYPE_INT8, int8_t, int8_t, ID, ID, S)                                         \
    X(OP, i16, LUCID_DTYPE_INT16, int16_t, int16_t, ID, ID, S)                                     \
    X(OP, i32, LUCID_DTYPE_INT32, int32_t, int32_t, ID, ID, S)                                     \
    X(OP, i64, LUCID_DTYPE_INT64, int64_t, int64_t, ID, ID, S)                                     \
    X(OP, u8, LUCID_DTYPE_UINT8, uint8_t, uint8_t, ID, ID, U)                                      \
    X(OP, u16, LUCID_DTYPE_UINT16, uint16_t, uint16_t, ID, ID, U)                                  \
    X(OP, u32, LUCID_DTYPE_UINT32, uint32_t, uint32_t, ID, ID, U)                                  \
    X(OP, u64, LUCID_DTYPE_UINT64, uint64_t, uint64_t, ID, ID, U)
#define FOR_NUMERIC(X, OP) FOR_FLOATS(X, OP) FOR_INTS(X, OP)

/* Integer arithmetic wraps (through uint64) instead of overflowing, which C leaves
 * undefined; integer division truncates toward zero like ONNX Runtime and the ONNX
 * reference. Division by zero is rejected before any kernel runs. */
#define EX_add_F(CT, x, y) ((x) + (y))
#define EX_add_S(CT, x, y) ((CT)((uint64_t)(x) + (uint64_t)(y)))
#define EX_add_U EX_add_S
#define EX_sub_F(CT, x, y) ((x) - (y))
#define EX_sub_S(CT, x, y) ((CT)((uint64_t)(x) - (uint64_t)(y)))
#define EX_sub_U EX_sub_S
#define EX_mul_F(CT, x, y) ((x) * (y))
#define EX_mul_S(CT, x, y) ((CT)((uint64_t)(x) * (uint64_t)(y)))
#define EX_mul_U EX_mul_S
#define EX_div_F(CT, x, y) ((x) / (y))
#define EX_div_S(CT, x, y)                                                                         \
    ((y) == 0 ? (CT)0 : (y) == -1 ? (CT)(0 - (uint64_t)(x)) : (CT)((x) / (y)))
#define EX_div_U(CT, x, y) ((y) == 0 ? (CT)0 : (CT)((x) / (y)))
/* NaN propagates through Min and Max, as in NumPy and ONNX Runtime */
#define EX_min_F(CT, x, y) (((x) <= (y) || (x) != (x)) ? (x) : (y))
#define EX_min_S(CT, x, y) ((x) < (y) ? (x) : (y))
#define EX_min_U EX_min_S
#define EX_max_F(CT, x, y) (((x) >= (y) || (x) != (x)) ? (x) : (y))
#define EX_max_S(CT, x, y) ((x) > (y) ? (x) : (y))
#define EX_max_U EX_max_S
#define EX_equal_F(CT, x, y) ((x) == (y))
#define EX_equal_S EX_equal_F
#define EX_equal_U EX_equal_F
#define EX_less_F(CT, x, y) ((x) < (y))
#define EX_less_S EX_less_F
#define EX_less_U EX_less_F
#define EX_greater_F(CT, x, y) ((x) > (y))
#define EX_greater_S EX_greater_F
#define EX_greater_U EX_greater_F

#define DEF_ARITH(OP, SUF, DT, T, CT, LD, ST, KIND)                                                \
    ROW2(OP##_##SUF, T, T, CT, LD, ST, EX_##OP##_##KIND(CT, x, y))
#define DEF_CMP(OP, SUF, DT, T, CT, LD, ST, KIND)                                                  \
    ROW2(OP##_##SUF, T, uint8_t, CT, LD, ID, EX_##OP##_##KIND(CT, x, y))
#define TABLE_ENTRY(OP, SUF, DT, T, CT, LD, ST, KIND) [DT] = OP##_##SUF,

#define ROW_TABLE_SIZE (LUCID_DTYPE_BFLOAT16 + 1)

FOR_NUMERIC(DEF_ARITH, add)
FOR_NUMERIC(DEF_ARITH, sub)
FOR_NUMERIC(DEF_ARITH, mul)
FOR_NUMERIC(DEF_ARITH, div)
FOR_NUMERIC(DEF_ARITH, min)
FOR_NUMERIC(DEF_ARITH, max)
FOR_NUMERIC(DEF_CMP, equal)
FOR_NUMERIC(DEF_CMP, less)
FOR_NUMERIC(DEF_CMP, greater)
ROW2(equal_b, uint8_t, uint8_t, int, ID, ID, (x != 0) == (y != 0))
ROW2(and_b, uint8_t, uint8_t, int, ID, ID, (x != 0) & (y != 0))
ROW2(or_b, uint8_t, uint8_t, int, ID, ID, (x != 0) | (y != 0))
ROW2(pow_f32, float, float, float, ID, ID, powf(x, y))
ROW2(pow_f64, double, double, double, ID, ID, pow(x, y))

static const lucid_row2_fn add_rows[ROW_TABLE_SIZE] = {FOR_NUMERIC(TABLE_ENTRY, add)};
static const lucid_row2_fn sub_rows[ROW_TABLE_SIZE] = {FOR_NUMERIC(TABLE_ENTRY, sub)};
static const lucid_row2_fn mul_rows[ROW_TABLE_SIZE] = {FOR_NUMERIC(TABLE_ENTRY, mul)};
static const lucid_row2_fn div_rows[ROW_TABLE_SIZE] = {FOR_NUMERIC(TABLE_ENTRY, div)};
static const lucid_row2_fn min_rows[ROW_TABLE_SIZE] = {FOR_NUMERIC(TABLE_ENTRY, min)};
static const lucid_row2_fn max_rows[ROW_TABLE_SIZE] = {FOR_NUMERIC(TABLE_ENTRY, max)};
static const lucid_row2_fn equal_rows[ROW_TABLE_SIZE] = {
    FOR_NUMERIC(TABLE_ENTRY, equal)[LUCID_DTYPE_BOOL] = equal_b};
static const lucid_row2_fn less_rows[ROW_TABLE_SIZE] = {FOR_NUMERIC(TABLE_ENTRY, less)};
static const lucid_row2_fn greater_rows[ROW_TABLE_SIZE] = {FOR_NUMERIC(TABLE_ENTRY, greater)};
static const lucid_row2_fn and_rows[ROW_TABLE_SIZE] = {[LUCID_DTYPE_BOOL] = and_b};
static const lucid_row2_fn or_rows[ROW_TABLE_SIZE] = {[LUCID_DTYPE_BOOL] = or_b};

static lucid_row2_fn row_for(const lucid_row2_fn *table, lucid_dtype dtype)
{
    return (int)dtype >= 0 && (int)dtype < ROW_TABLE_SIZE ? table[dtype] : NULL;
}

static lucid_status unsupported_dtype(const lucid_node *n, lucid_dtype dtype, lucid_error *err)
{
    return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                             "dtype %s is not supported by this op", lucid_dtype_name(dtype));
}

/* ---- shape and dtype inference ------------------------------------------------------ */

/* Before opset 7 the binary ops broadcast only when asked (broadcast=1), aligning B's shape
 * with A's at `axis` (default: A's trailing dimensions). Without the flag the shapes must be
 * equal; with it, alignment at the trailing dimensions is what NumPy broadcasting does, and
 * other axes would need a reshape of B that lucid does not do. */
static lucid_status legacy_broadcast_check(const lucid_graph *g, const lucid_node *n,
                                           lucid_error *err)
{
    if (n->opset >= 7 || n->n_inputs != 2) return LUCID_STATUS_OK;
    int64_t broadcast, axis;
    lucid_status st = lucid_attr_int(n, "broadcast", 0, &broadcast, err);
    if (!st) st = lucid_attr_int(n, "axis", INT64_MIN, &axis, err);
    if (st) return st;
    const lucid_ir_tensor *a = lucid_op_input(g, n, 0), *b = lucid_op_input(g, n, 1);
    if (!broadcast) {
        bool same = a->rank == b->rank;
        for (int i = 0; same && i < a->rank; i++) same = a->dims[i] == b->dims[i];
        if (!same)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "inputs '%s' and '%s' differ in shape and broadcast is 0",
                                     a->name, b->name);
        return LUCID_STATUS_OK;
    }
    if (axis != INT64_MIN && axis != a->rank - b->rank && !(axis < 0 && axis == -b->rank))
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "legacy broadcasting at axis %lld (not the trailing dimensions) "
                                 "is not supported",
                                 (long long)axis);
    return LUCID_STATUS_OK;
}

/* Inputs [first, n_inputs) must all be present with input first's dtype (from table), and
 * broadcast together; the output gets out_dtype (UNDEFINED: the inputs' dtype). */
static lucid_status infer_broadcast(lucid_graph *g, lucid_node *n, int first,
                                    const lucid_row2_fn *table, lucid_dtype out_dtype,
                                    lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, first);
    if (!x)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "input %d is missing", first);
    if (!row_for(table, x->dtype)) return unsupported_dtype(n, x->dtype, err);
    for (int i = first; i < n->n_inputs; i++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, i);
        if (!t)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "input %d is missing", i);
        if (t->dtype != x->dtype)
            return lucid_node_errorf(
                n, err, LUCID_STATUS_INVALID_MODEL, "input '%s' is %s but input '%s' is %s",
                t->name, lucid_dtype_name(t->dtype), x->name, lucid_dtype_name(x->dtype));
    }
    int rank;
    int64_t dims[LUCID_MAX_RANK];
    lucid_status st = legacy_broadcast_check(g, n, err);
    if (st) return st;
    st = lucid_ew_broadcast_shape(g, n, first, -1, &rank, dims, err);
    if (st) return st;
    return lucid_op_set_output(g, n, 0, out_dtype == LUCID_DTYPE_UNDEFINED ? x->dtype : out_dtype,
                               rank, dims, err);
}

#define DEF_INFER(OP, TABLE, OUT)                                                                  \
    static lucid_status OP##_infer(lucid_graph *g, lucid_node *n, lucid_error *err)                \
    {                                                                                              \
        return infer_broadcast(g, n, 0, TABLE, OUT, err);                                          \
    }

DEF_INFER(add, add_rows, LUCID_DTYPE_UNDEFINED)
DEF_INFER(sub, sub_rows, LUCID_DTYPE_UNDEFINED)
DEF_INFER(mul, mul_rows, LUCID_DTYPE_UNDEFINED)
DEF_INFER(div, div_rows, LUCID_DTYPE_UNDEFINED)
DEF_INFER(min, min_rows, LUCID_DTYPE_UNDEFINED)
DEF_INFER(max, max_rows, LUCID_DTYPE_UNDEFINED)
DEF_INFER(sum, add_rows, LUCID_DTYPE_UNDEFINED)
DEF_INFER(equal, equal_rows, LUCID_DTYPE_BOOL)
DEF_INFER(less, less_rows, LUCID_DTYPE_BOOL)
DEF_INFER(greater, greater_rows, LUCID_DTYPE_BOOL)
DEF_INFER(and, and_rows, LUCID_DTYPE_BOOL)
DEF_INFER(or, or_rows, LUCID_DTYPE_BOOL)

static lucid_status mean_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    lucid_status st = lucid_op_check_dtype(g, n, 0, lucid_dtypes_float, err);
    if (st) return st;
    return infer_broadcast(g, n, 0, add_rows, LUCID_DTYPE_UNDEFINED, err);
}

/* ---- runs --------------------------------------------------------------------------- */

/* out = in[0] op in[1] op ... (left to right), broadcasting. */
static lucid_status run_fold(const lucid_node *n, const lucid_row2_fn *table, const lucid_array *in,
                             int n_in, lucid_array *out, lucid_error *err)
{
    lucid_row2_fn fn = row_for(table, in[0].dtype);
    if (!fn) return unsupported_dtype(n, in[0].dtype, err);
    if (n_in == 1) {
        memcpy(out->data, in[0].data, out->nbytes);
        return LUCID_STATUS_OK;
    }
    lucid_bcast_apply2(out, &in[0], &in[1], fn);
    for (int k = 2; k < n_in; k++)
        lucid_bcast_apply2(out, out, &in[k], fn);
    return LUCID_STATUS_OK;
}

#define DEF_RUN(OP, TABLE)                                                                         \
    static lucid_status OP##_run(const lucid_node *n, const lucid_array *in, int n_in,             \
                                 lucid_array *out, int n_out, lucid_error *err)                    \
    {                                                                                              \
        return run_fold(n, TABLE, in, n_in, out, err);                                             \
    }

DEF_RUN(add, add_rows)
DEF_RUN(sub, sub_rows)
DEF_RUN(mul, mul_rows)
DEF_RUN(min, min_rows)
DEF_RUN(max, max_rows)
DEF_RUN(sum, add_rows)
DEF_RUN(equal, equal_rows)
DEF_RUN(less, less_rows)
DEF_RUN(greater, greater_rows)
DEF_RUN(and, and_rows)
DEF_RUN(or, or_rows)

static lucid_status div_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                            int n_out, lucid_error *err)
{
    if (!lucid_dtype_is_float(in[1].dtype)) {
        int64_t count = lucid_array_numel(&in[1]);
        for (int64_t i = 0; i < count; i++)
            if (lucid_load_i64(in[1].dtype, in[1].data, i) == 0)
                return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                         "integer division by zero (divisor '%s' element %lld)",
                                         in[1].name, (long long)i);
    }
    return run_fold(n, div_rows, in, n_in, out, err);
}

static lucid_status mean_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, lucid_error *err)
{
    lucid_status st = run_fold(n, add_rows, in, n_in, out, err);
    if (st || n_in == 1) return st;
    int64_t numel = lucid_array_numel(out);
    if (out->dtype == LUCID_DTYPE_FLOAT) {
        float *o = out->data;
        /* dividing (not multiplying by 1/n) matches the reference formula bit for bit */
        for (int64_t i = 0; i < numel; i++)
            o[i] = o[i] / (float)n_in;
    } else {
        for (int64_t i = 0; i < numel; i++)
            lucid_store_f64(out->dtype, out->data, i,
                            lucid_load_f64(out->dtype, out->data, i) / n_in);
    }
    return LUCID_STATUS_OK;
}

/* ---- Pow: base and exponent may differ in dtype (opset 12+); the result has the base's --- */

static bool pow_dtype_ok(lucid_dtype t)
{
    return t == LUCID_DTYPE_FLOAT || t == LUCID_DTYPE_DOUBLE || t == LUCID_DTYPE_FLOAT16 ||
           t == LUCID_DTYPE_BFLOAT16 || t == LUCID_DTYPE_INT8 || t == LUCID_DTYPE_INT16 ||
           t == LUCID_DTYPE_INT32 || t == LUCID_DTYPE_INT64 || t == LUCID_DTYPE_UINT8 ||
           t == LUCID_DTYPE_UINT16 || t == LUCID_DTYPE_UINT32 || t == LUCID_DTYPE_UINT64;
}

static lucid_status pow_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_input(g, n, 1);
    if (!pow_dtype_ok(x->dtype)) return unsupported_dtype(n, x->dtype, err);
    if (!pow_dtype_ok(y->dtype)) return unsupported_dtype(n, y->dtype, err);
    if (n->opset < 12 && x->dtype != y->dtype)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "base is %s but exponent is %s (before opset 12 they must "
                                 "match)",
                                 lucid_dtype_name(x->dtype), lucid_dtype_name(y->dtype));
    lucid_status lst = legacy_broadcast_check(g, n, err);
    if (lst) return lst;
    int rank;
    int64_t dims[LUCID_MAX_RANK];
    lucid_status st = lucid_ew_broadcast_shape(g, n, 0, 1, &rank, dims, err);
    if (st) return st;
    return lucid_op_set_output(g, n, 0, x->dtype, rank, dims, err);
}

/* x^e in wrapping integer arithmetic; *zero_neg is set for 0 to a negative power. */
static int64_t ipow(int64_t x, int64_t e, bool *zero_neg)
{
    if (e < 0) {
        if (x == 0) *zero_neg = true;
        if (x == 1) return 1;
        if (x == -1) return (e & 1) ? -1 : 1;
        return 0; /* |x| > 1: the truncated reciprocal power */
    }
    uint64_t r = 1, b = (uint64_t)x;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

static lucid_status pow_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                            int n_out, lucid_error *err)
{
    const lucid_array *x = &in[0], *y = &in[1];
    if (x->dtype == y->dtype && x->dtype == LUCID_DTYPE_FLOAT) {
        lucid_bcast_apply2(out, x, y, pow_f32);
        return LUCID_STATUS_OK;
    }
    if (x->dtype == y->dtype && x->dtype == LUCID_DTYPE_DOUBLE) {
        lucid_bcast_apply2(out, x, y, pow_f64);
        return LUCID_STATUS_OK;
    }
    bool ints = !lucid_dtype_is_float(x->dtype) && !lucid_dtype_is_float(y->dtype);
    bool zero_neg = false;
    const lucid_array *ins[2] = {x, y};
    lucid_bcast w;
    lucid_bcast_init(&w, out, ins, 2);
    for (int64_t r = 0; r < w.rows; r++) {
        for (int64_t i = 0; i < w.inner; i++) {
            int64_t io = w.off[0] + i, ix = w.off[1] + i * w.step[1], iy = w.off[2] + i * w.step[2];
            if (ints)
                lucid_store_i64(out->dtype, out->data, io,
                                ipow(lucid_load_i64(x->dtype, x->data, ix),
                                     lucid_load_i64(y->dtype, y->data, iy), &zero_neg));
            else
                lucid_store_f64(out->dtype, out->data, io,
                                pow(lucid_load_f64(x->dtype, x->data, ix),
                                    lucid_load_f64(y->dtype, y->data, iy)));
        }
        lucid_bcast_next(&w);
    }
    if (zero_neg)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "integer zero raised to a negative power");
    return LUCID_STATUS_OK;
}

static void pow_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    *macs = 0;
    *flops = 8 * lucid_ew_out_numel(g, n);
}

/* Variadic ops do one operation per extra input and output element. */
static void fold_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    *macs = 0;
    *flops = (n->n_inputs > 1 ? n->n_inputs - 1 : 1) * lucid_ew_out_numel(g, n);
}

/* ---- Where ------------------------------------------------------------------------ */

static lucid_status where_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *c = lucid_op_input(g, n, 0), *x = lucid_op_input(g, n, 1),
                          *y = lucid_op_input(g, n, 2);
    if (c->dtype != LUCID_DTYPE_BOOL)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "condition '%s' must be bool, not %s", c->name,
                                 lucid_dtype_name(c->dtype));
    if (x->dtype != y->dtype)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "X is %s but Y is %s",
                                 lucid_dtype_name(x->dtype), lucid_dtype_name(y->dtype));
    size_t es = lucid_dtype_size(x->dtype);
    if (es != 1 && es != 2 && es != 4 && es != 8) return unsupported_dtype(n, x->dtype, err);
    int rank;
    int64_t dims[LUCID_MAX_RANK];
    lucid_status st = lucid_ew_broadcast_shape(g, n, 0, 2, &rank, dims, err);
    if (st) return st;
    return lucid_op_set_output(g, n, 0, x->dtype, rank, dims, err);
}

#define WHERE_ROWS(T)                                                                              \
    do {                                                                                           \
        for (int64_t r = 0; r < w.rows; r++) {                                                     \
            T *o = (T *)out->data + w.off[0];                                                      \
            const uint8_t *c = (const uint8_t *)in[0].data + w.off[1];                             \
            const T *x = (const T *)in[1].data + w.off[2], *y = (const T *)in[2].data + w.off[3];  \
            int64_t sc = w.step[1], sx = w.step[2], sy = w.step[3];                                \
            for (int64_t i = 0; i < w.inner; i++)                                                  \
                o[i] = c[i * sc] ? x[i * sx] : y[i * sy];                                          \
            lucid_bcast_next(&w);                                                                  \
        }                                                                                          \
    } while (0)

static lucid_status where_run(const lucid_node *n, const lucid_array *in, int n_in,
                              lucid_array *out, int n_out, lucid_error *err)
{
    const lucid_array *ins[3] = {&in[0], &in[1], &in[2]};
    lucid_bcast w;
    lucid_bcast_init(&w, out, ins, 3);
    switch (lucid_dtype_size(out->dtype)) {
    case 1:
        WHERE_ROWS(uint8_t);
        break;
    case 2:
        WHERE_ROWS(uint16_t);
        break;
    case 4:
        WHERE_ROWS(uint32_t);
        break;
    case 8:
        WHERE_ROWS(uint64_t);
        break;
    default:
        return unsupported_dtype(n, out->dtype, err);
    }
    return LUCID_STATUS_OK;
}

/* ---- definitions -------------------------------------------------------------------- */

#define BINARY_DEF(SYM, NAME, OP)                                                                  \
    const lucid_op_def lucid_op_def_##SYM = {.name = NAME,                                         \
                                             .min_inputs = 2,                                      \
                                             .max_inputs = 2,                                      \
                                             .min_outputs = 1,                                     \
                                             .max_outputs = 1,                                     \
                                             .infer = OP##_infer,                                  \
                                             .run = OP##_run};
#define VARIADIC_DEF(SYM, NAME, OP)                                                                \
    const lucid_op_def lucid_op_def_##SYM = {.name = NAME,                                         \
                                             .min_inputs = 1,                                      \
                                             .max_inputs = -1,                                     \
                                             .min_outputs = 1,                                     \
                                             .max_outputs = 1,                                     \
                                             .infer = OP##_infer,                                  \
                                             .cost = fold_cost,                                    \
                                             .run = OP##_run};

BINARY_DEF(add, "Add", add)
BINARY_DEF(sub, "Sub", sub)
BINARY_DEF(mul, "Mul", mul)
BINARY_DEF(div, "Div", div)
BINARY_DEF(equal, "Equal", equal)
BINARY_DEF(less, "Less", less)
BINARY_DEF(greater, "Greater", greater)
BINARY_DEF(and, "And", and)
BINARY_DEF(or, "Or", or)
VARIADIC_DEF(min, "Min", min)
VARIADIC_DEF(max, "Max", max)
VARIADIC_DEF(sum, "Sum", sum)
VARIADIC_DEF(mean, "Mean", mean)

const lucid_op_def lucid_op_def_pow = {.name = "Pow",
                                       .min_inputs = 2,
                                       .max_inputs = 2,
                                       .min_outputs = 1,
                                       .max_outputs = 1,
                                       .infer = pow_infer,
                                       .cost = pow_cost,
                                       .run = pow_run};

const lucid_op_def lucid_op_def_where = {.name = "Where",
                                         .min_opset = 9,
                                         .min_inputs = 3,
                                         .max_inputs = 3,
                                         .min_outputs = 1,
                                         .max_outputs = 1,
                                         .infer = where_infer,
                                         .run = where_run};
