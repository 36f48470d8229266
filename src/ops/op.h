/* op.h - the op definition interface: attributes, shape inference, cost, reference kernel. */
#ifndef LUCID_OPS_OP_H
#define LUCID_OPS_OP_H

#include "ir/graph.h"
#include "ops/op_list.h"

typedef enum lucid_op {
#define LUCID_OP_ENUM(E, N, S) LUCID_OP_##E,
    LUCID_OP_LIST(LUCID_OP_ENUM)
#undef LUCID_OP_ENUM
    LUCID_OP_COUNT
} lucid_op;

/* One op. All callbacks receive a node whose op has been resolved; params points to a
 * zeroed block of params_size bytes that parse fills (NULL when params_size is 0).
 *
 * parse: validates attributes (and anything else that does not need shapes) and fills
 *   params. NULL if the op has no attributes.
 * infer: called only when every present input has a known dtype and static shape; checks
 *   input count, dtypes and shapes, and sets every output's dtype and shape with
 *   lucid_op_set_output. Inputs that must be constant (a Reshape's shape) are read with
 *   lucid_op_const_input. May set an output's value directly (Shape does).
 * cost: multiply-accumulates and other arithmetic operations of one run; NULL means one
 *   flop per output element. Bytes are counted by the caller from shapes.
 * run: the reference kernel: plain, obviously correct C. in[i].data is NULL for an omitted
 *   optional input; outputs are allocated with the inferred dtype and shape. Returns an
 *   error (never crashes) on data-dependent failures such as out-of-range indices. */
typedef struct lucid_op_def {
    const char *name;
    const char *domain; /* NULL: the default ONNX domain; "lucid": lucid's own engine layers */
    int min_inputs, max_inputs;   /* max_inputs -1: variadic */
    int min_outputs, max_outputs;
    int min_opset; /* the first opset whose form of the op lucid implements (0 means 1) */
    size_t params_size; /* params hold plain values, no pointers (graphs are copied bytewise) */
    lucid_status (*parse)(const lucid_graph *g, const lucid_node *n, void *params,
                          lucid_error *err);
    lucid_status (*infer)(lucid_graph *g, lucid_node *n, lucid_error *err);
    void (*cost)(const lucid_graph *g, const lucid_node *n, double *macs, double *flops);
    lucid_status (*run)(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                        int n_out, lucid_error *err);
} lucid_op_def;

#define LUCID_OP_EXTERN(E, N, S) extern const lucid_op_def lucid_op_def_##S;
LUCID_OP_LIST(LUCID_OP_EXTERN)
#undef LUCID_OP_EXTERN

/* The definition of op (0 <= op < LUCID_OP_COUNT). */
const lucid_op_def *lucid_op_get(lucid_op op);
/* Size of op's parsed params (for copying graphs). */
size_t lucid_op_params_size(int op);
/* Looks up an op by domain ("" or "ai.onnx" for the default one, "lucid") and name; -1 if
 * unknown. */
int lucid_op_find(const char *domain, const char *name);
/* The domain of lucid's own ops (fused engine layers), opset version 1. */
#define LUCID_DOMAIN "lucid"

/* The opset range lucid accepts for the default domain. */
#define LUCID_MIN_OPSET 1
#define LUCID_MAX_OPSET 21

/* Returned by lucid_op_const_input (and so by an op's infer) when a value the shape depends
 * on is not known yet: a graph input that the caller may still bind with
 * lucid_model_set_input_value. Inference then leaves the node's outputs unknown instead of
 * failing; creating a context reports the message. Never returned by the public API. */
#define LUCID_STATUS_DEFERRED ((lucid_status)100)

/* ---- helpers for op implementations (ops/op_util.c) ---- */

/* Input/output tensor i of n, or NULL if omitted or out of range. */
lucid_ir_tensor *lucid_op_input(const lucid_graph *g, const lucid_node *n, int i);
lucid_ir_tensor *lucid_op_output(const lucid_graph *g, const lucid_node *n, int i);
/* Sets output i's dtype and shape, checking rank and element limits. */
lucid_status lucid_op_set_output(lucid_graph *g, const lucid_node *n, int i, lucid_dtype dtype,
                                 int rank, const int64_t *dims, lucid_error *err);
/* The known value of input i (an initializer or propagated constant), or an UNSUPPORTED
 * error naming the input when it is computed at run time. */
lucid_status lucid_op_const_input(const lucid_graph *g, const lucid_node *n, int i,
                                  const lucid_ir_tensor **out, lucid_error *err);
/* Reads a 1-D int32/int64 tensor value as int64s into out (at most max). */
lucid_status lucid_op_read_ints(const lucid_node *n, const lucid_ir_tensor *t, int64_t *out,
                                size_t max, size_t *count, lucid_error *err);
/* Multidirectional (NumPy) broadcasting of two shapes. */
lucid_status lucid_op_broadcast(const lucid_node *n, int ra, const int64_t *a, int rb,
                                const int64_t *b, int *rank, int64_t *dims, lucid_error *err);
/* Normalizes a possibly negative axis into [0, rank); error if out of range. */
lucid_status lucid_op_axis(const lucid_node *n, int64_t axis, int rank, int *out,
                           lucid_error *err);
/* Requires input i's dtype to be one of the listed (terminated by UNDEFINED). */
lucid_status lucid_op_check_dtype(const lucid_graph *g, const lucid_node *n, int i,
                                  const lucid_dtype *allowed, lucid_error *err);
/* Element access of any numeric dtype as double (for generic, non-hot kernels). */
double lucid_load_f64(lucid_dtype dtype, const void *data, int64_t i);
void lucid_store_f64(lucid_dtype dtype, void *data, int64_t i, double v);
/* Element access of integer dtypes exactly. */
int64_t lucid_load_i64(lucid_dtype dtype, const void *data, int64_t i);
void lucid_store_i64(lucid_dtype dtype, void *data, int64_t i, int64_t v);
/* Largest value a geometry attribute (kernel, stride, pad, dilation, group) may take, so that
 * size arithmetic on them cannot overflow. */
#define LUCID_OP_MAX_GEOMETRY ((int64_t)1 << 30)
/* Copies INTS attribute `name` (at most max values, each in [min_value,
 * LUCID_OP_MAX_GEOMETRY]) into dst; count 0 when absent. */
lucid_status lucid_op_geometry_ints(const lucid_node *n, const char *name, int64_t *dst,
                                    size_t max, size_t *count, int64_t min_value,
                                    lucid_error *err);
/* Writes msg into why (when why_len > 0) and returns false: how the resolvers that tactics
 * call (lucid_dconv_resolve, lucid_pool2d_resolve) say why they do not take a node. */
bool lucid_op_refuse(char *why, size_t why_len, const char *msg);
/* ONNX auto_pad of Conv, ConvTranspose and the windowed pools. */
typedef enum lucid_auto_pad {
    LUCID_AUTO_PAD_NOTSET,
    LUCID_AUTO_PAD_SAME_UPPER,
    LUCID_AUTO_PAD_SAME_LOWER,
    LUCID_AUTO_PAD_VALID,
} lucid_auto_pad;
/* Reads n's auto_pad attribute (absent or "" is NOTSET); INVALID_MODEL for another value. */
lucid_status lucid_op_auto_pad(const lucid_node *n, lucid_auto_pad *out, lucid_error *err);
static inline bool lucid_auto_pad_is_same(lucid_auto_pad a)
{
    return a == LUCID_AUTO_PAD_SAME_UPPER || a == LUCID_AUTO_PAD_SAME_LOWER;
}
/* The pads of a SAME_* window whose padded extent exceeds the input by total (none when
 * negative): half each side, the odd one at the end for SAME_UPPER, at the begin for
 * SAME_LOWER. */
static inline void lucid_auto_pad_split(lucid_auto_pad a, int64_t total, int64_t *begin,
                                        int64_t *end)
{
    if (total < 0) total = 0;
    *begin = a == LUCID_AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
    *end = total - *begin;
}
/* One spatial dimension of a forward window (Conv, MaxPool, AveragePool): its output size
 * *out and pads *pb, *pe (in: those of the pads attribute, replaced under SAME_* and VALID)
 * from the input size, the dilated kernel extent dk, stride s and ceil_mode (pools; false for
 * Conv). INVALID_MODEL naming spatial dim `dim` when the kernel exceeds the padded input. */
lucid_status lucid_op_window(const lucid_node *n, lucid_auto_pad auto_pad, int dim, int64_t in,
                             int64_t dk, int64_t s, bool ceil_mode, int64_t *pb, int64_t *pe,
                             int64_t *out, lucid_error *err);
/* ceil(a / b) for b > 0 and any sign of a. */
static inline int64_t lucid_ceil_div(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}
/* Row-major strides (in elements) of dims. */
void lucid_strides(int rank, const int64_t *dims, int64_t *strides);

/* ---- 16-bit floats in float32 reference kernels (ops/half.c) ---- */

/* float16 or bfloat16. */
bool lucid_dtype_is_float16(lucid_dtype dtype);
/* Exact widening, and narrowing rounded to nearest even, of count values. */
void lucid_half_widen(lucid_dtype dtype, const uint16_t *src, float *dst, int64_t count);
void lucid_half_narrow(lucid_dtype dtype, const float *src, uint16_t *dst, int64_t count);
typedef lucid_status (*lucid_op_run_fn)(const lucid_node *n, const lucid_array *in, int n_in,
                                        lucid_array *out, int n_out, lucid_error *err);
/* Runs a float32 reference kernel on operands some of which are 16-bit floats: those inputs
 * are widened into float32 copies, the kernel computes in float32, and 16-bit outputs are
 * rounded once from its float32 results. Allocates the copies (reference kernels only). */
lucid_status lucid_op_run_widened(const lucid_node *n, lucid_op_run_fn run, const lucid_array *in,
                                  int n_in, lucid_array *out, int n_out, lucid_error *err);

#endif
