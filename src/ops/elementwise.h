/* elementwise.h - shared machinery of elementwise ops: broadcast walks, dtype sets, dispatch. */
#ifndef LUCID_OPS_ELEMENTWISE_H
#define LUCID_OPS_ELEMENTWISE_H

#include "ops/op.h"

/* At most this many operands (output included) share one broadcast walk (Where: 4). */
#define LUCID_BCAST_MAX_OPERANDS 4

/* A broadcast walk over an output and its inputs. Dimensions where every operand is
 * contiguous are merged, so equal shapes become one row and a per-channel bias becomes
 * one row per channel. Operand 0 is the output. Each row has `inner` elements; operand k
 * advances by step[k] (0: a broadcast value, 1: contiguous) inside a row. */
typedef struct lucid_bcast {
    int n;    /* operands */
    int rank; /* merged outer dims (rows are their product) */
    int64_t dims[LUCID_MAX_RANK];
    int64_t strides[LUCID_BCAST_MAX_OPERANDS][LUCID_MAX_RANK]; /* in elements */
    int64_t inner;
    int64_t step[LUCID_BCAST_MAX_OPERANDS];
    int64_t rows;
    /* walk state */
    int64_t idx[LUCID_MAX_RANK];
    int64_t off[LUCID_BCAST_MAX_OPERANDS];
} lucid_bcast;

/* Plans the walk of out (operand 0) and the n-1 arrays in (operands 1..n-1), whose shapes
 * must broadcast to out's (shape inference checked that). */
void lucid_bcast_init(lucid_bcast *b, const lucid_array *out, const lucid_array *const *in,
                      int n_in);
/* Moves b->off to the next row. */
void lucid_bcast_next(lucid_bcast *b);

/* A row kernel of two inputs: o[i] = f(a[i*sa], b[i*sb]) for i < n. */
typedef void (*lucid_row2_fn)(void *o, const void *a, int64_t sa, const void *b, int64_t sb,
                              int64_t n);
/* Runs a row kernel over out = f(a, b) with broadcasting. */
void lucid_bcast_apply2(lucid_array *out, const lucid_array *a, const lucid_array *b,
                        lucid_row2_fn fn);

/* Dtype sets, terminated by UNDEFINED, for lucid_op_check_dtype. */
extern const lucid_dtype lucid_dtypes_float[];   /* float32, float64, float16, bfloat16 */
extern const lucid_dtype lucid_dtypes_signed[];  /* floats and signed integers */
extern const lucid_dtype lucid_dtypes_numeric[]; /* floats and all integers */
extern const lucid_dtype lucid_dtypes_bool[];

bool lucid_dtype_is_float(lucid_dtype dtype);

/* Infers an output of the same dtype and shape as input 0 after checking input 0's dtype
 * against allowed; the shared infer of unary elementwise ops. */
lucid_status lucid_ew_infer_same(lucid_graph *g, lucid_node *n, const lucid_dtype *allowed,
                                 lucid_error *err);
/* Infers the broadcast shape of all present inputs in [first, last] (last -1: all). */
lucid_status lucid_ew_broadcast_shape(const lucid_graph *g, const lucid_node *n, int first,
                                      int last, int *rank, int64_t *dims, lucid_error *err);

/* Row kernels of a unary float op, one per float dtype; p is the op's params. f32 serves
 * float16 and bfloat16 through conversion. x and y never overlap (restrict lets the
 * compiler vectorize without alias checks). */
typedef struct lucid_unary_float {
    void (*f32)(const float *x, float *y, int64_t n, const void *p);
    void (*f64)(const double *x, double *y, int64_t n, const void *p);
} lucid_unary_float;

/* Defines NAME##_kernels, a lucid_unary_float computing y = EXPR of x (of type T, float or
 * double) with params `p` of type PT. The includer uses <tgmath.h> so exp(x) etc. pick the
 * float or double function. */
#define LUCID_UNARY_FLOAT_KERNELS(NAME, PT, EXPR)                                                  \
    static void NAME##_f32(const float *restrict xs, float *restrict ys, int64_t n,                \
                           const void *p_)                                                         \
    {                                                                                              \
        typedef float T;                                                                           \
        const PT *p = p_;                                                                          \
        (void)p;                                                                                   \
        (void)sizeof(T);                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T x = xs[i];                                                                           \
            ys[i] = (T)(EXPR);                                                                     \
        }                                                                                          \
    }                                                                                              \
    static void NAME##_f64(const double *restrict xs, double *restrict ys, int64_t n,              \
                           const void *p_)                                                         \
    {                                                                                              \
        typedef double T;                                                                          \
        const PT *p = p_;                                                                          \
        (void)p;                                                                                   \
        (void)sizeof(T);                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T x = xs[i];                                                                           \
            ys[i] = (T)(EXPR);                                                                     \
        }                                                                                          \
    }                                                                                              \
    static const lucid_unary_float NAME##_kernels = {NAME##_f32, NAME##_f64};

/* Runs a unary float op over x into y (same dtype and shape). */
lucid_status lucid_unary_float_run(const lucid_node *n, const lucid_unary_float *k,
                                   const lucid_array *x, lucid_array *y, const void *p,
                                   lucid_error *err);

/* Output elements of node n (0 if unknown), for cost callbacks. */
double lucid_ew_out_numel(const lucid_graph *g, const lucid_node *n);

#endif
