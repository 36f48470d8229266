/* tactic_misc.c - lucid's own CUDA kernels as tactics for every other layer the zoo needs:
 * activations and unary math, broadcasting binary ops, pooling (windowed, global, ReduceMean
 * over the spatial dims), softmax, BatchNormalization, and data movement (copies, Transpose,
 * Slice, Concat, Split, Expand, Pad, nearest Resize). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_common.h"
#include "ops/activation.h"
#include "ops/movement.h"
#include "ops/op.h"
#include "ops/pool.h"

/* One state for all these tactics: what the kernel launch needs, resolved at prepare. */
typedef struct misc_state {
    int op;
    lc_type t;
    lc_act act;
    float alpha, beta;
    lc_binop binop;
    int rank;
    int64_t dims[LC_MAX_RANK];
    int64_t sa[LC_MAX_RANK], sb[LC_MAX_RANK];
    int64_t n, rows, cols, channels, inner;
    lc_pool_args pool;
    float *dev_a, *dev_b; /* pool divisors; BatchNorm scale and shift */
    int n_parts;          /* Concat / Split: one copy per part */
    lc_copy_args *parts;
    lc_parts_args *rows_form; /* Concat as one launch over rows, when its parts form rows */
    lc_pad_args pad;
    int64_t ih, iw, oh, ow, planes;
} misc_state;

static void misc_release(void *p)
{
    misc_state *s = p;
    if (!s) return;
    if (s->dev_a) cudaFree(s->dev_a);
    if (s->dev_b) cudaFree(s->dev_b);
    free(s->parts);
    free(s->rows_form);
    free(s);
}

static bool refuse(char *why, size_t len, const char *msg)
{
    snprintf(why, len, "%s", msg);
    return false;
}

/* ---- activations and unary math ---- */

static bool unary_act(const lucid_graph *g, const lucid_node *n, lc_act *act, float *alpha,
                      float *beta, char *why, size_t len)
{
    *alpha = 0.0f;
    *beta = 0.0f;
    lucid_activation a;
    bool runtime_bounds;
    if (lucid_activation_of_op(g, n, &a, &runtime_bounds)) {
        if (runtime_bounds) return refuse(why, len, "Clip bounds must be constant float32 scalars");
        *act = a.kind;
        *alpha = a.alpha;
        *beta = a.beta;
        return true;
    }
    switch (n->op) {
    case LUCID_OP_SOFTPLUS: *act = LC_ACT_SOFTPLUS; return true;
    case LUCID_OP_EXP: *act = LC_ACT_EXP; return true;
    case LUCID_OP_NEG: *act = LC_ACT_NEG; return true;
    case LUCID_OP_ABS: *act = LC_ACT_ABS; return true;
    case LUCID_OP_SQRT: *act = LC_ACT_SQRT; return true;
    case LUCID_OP_ERF: *act = LC_ACT_ERF; return true;
    case LUCID_OP_LOG: *act = LC_ACT_LOG; return true;
    case LUCID_OP_RECIPROCAL: *act = LC_ACT_RECIPROCAL; return true;
    case LUCID_OP_FLOOR: *act = LC_ACT_FLOOR; return true;
    case LUCID_OP_CEIL: *act = LC_ACT_CEIL; return true;
    case LUCID_OP_IDENTITY:
    case LUCID_OP_DROPOUT: *act = LUCID_ACT_NONE; return n->n_outputs == 1 || !lucid_op_output(g, n, 1) ? true : refuse(why, len, "Dropout's mask output");
    case LUCID_OP_ELU:
        *act = LC_ACT_ELU;
        return !lucid_attr_float(n, "alpha", 1.0f, alpha, NULL) || refuse(why, len, "bad alpha");
    case LUCID_OP_SELU:
        *act = LC_ACT_SELU;
        return (!lucid_attr_float(n, "alpha", 1.67326319217681884765625f, alpha, NULL) &&
                !lucid_attr_float(n, "gamma", 1.05070102214813232421875f, beta, NULL)) ||
               refuse(why, len, "bad attributes");
    default: return refuse(why, len, "not a unary op");
    }
}

static bool act_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                         char *why, size_t len)
{
    (void)cpu;
    lc_act a;
    float al, be;
    if (!unary_act(g, n, &a, &al, &be, why, len)) return false;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if (!x || !y || x->dtype != LUCID_DTYPE_FLOAT || y->dtype != LUCID_DTYPE_FLOAT ||
        !lucid_tensor_shape_known(y))
        return refuse(why, len, "only float32 of static shape");
    return true;
}

/* ---- binary ---- */

static bool binary_op(int op, lc_binop *b)
{
    switch (op) {
    case LUCID_OP_ADD: *b = LC_ADD; return true;
    case LUCID_OP_SUM: *b = LC_ADD; return true;
    case LUCID_OP_SUB: *b = LC_SUB; return true;
    case LUCID_OP_MUL: *b = LC_MUL; return true;
    case LUCID_OP_DIV: *b = LC_DIV; return true;
    case LUCID_OP_POW: *b = LC_POW; return true;
    case LUCID_OP_MAX: *b = LC_MAX; return true;
    case LUCID_OP_MIN: *b = LC_MIN; return true;
    default: return false;
    }
}

static bool binary_supports(const lucid_graph *g, const lucid_node *n,
                            const lucid_cpu_features *cpu, char *why, size_t len)
{
    (void)cpu;
    lc_binop b;
    if (!binary_op(n->op, &b)) return refuse(why, len, "not a binary op");
    if (n->n_inputs != 2 || !lucid_op_input(g, n, 0) || !lucid_op_input(g, n, 1))
        return refuse(why, len, "two inputs only");
    if (!lucid_cuda_all_float(g, n, why, len)) return false;
    if (lucid_op_output(g, n, 0)->rank > LC_MAX_RANK) return refuse(why, len, "rank too high");
    return true;
}

/* ---- pooling ---- */

static bool reduce_mean_spatial(const lucid_graph *g, const lucid_node *n, char *why, size_t len)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if (x->rank != 4) return refuse(why, len, "ReduceMean: only 4-D over the spatial dims");
    /* the output keeps N and C and has H*W folded to one value per plane */
    int64_t planes = x->dims[0] * x->dims[1];
    if (lucid_tensor_numel(y) != planes) return refuse(why, len, "ReduceMean: only over H and W");
    const int64_t *axes = NULL;
    size_t na = 0;
    int64_t av[LUCID_MAX_RANK];
    if (lucid_node_attr(n, "axes")) {
        if (lucid_attr_ints(n, "axes", &axes, &na, NULL) || na > LUCID_MAX_RANK)
            return refuse(why, len, "unreadable axes");
    } else {
        const lucid_ir_tensor *a = lucid_op_input(g, n, 1);
        if (!a || !a->data || lucid_op_read_ints(n, a, av, LUCID_MAX_RANK, &na, NULL))
            return refuse(why, len, "ReduceMean: constant axes needed");
        axes = av;
    }
    if (na != 2) return refuse(why, len, "ReduceMean: only over H and W");
    for (size_t i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + 4 : axes[i];
        if (a != 2 && a != 3) return refuse(why, len, "ReduceMean: only over H and W");
    }
    return true;
}

static bool pool_supports_dev(const lucid_graph *g, const lucid_node *n,
                              const lucid_cpu_features *cpu, char *why, size_t len)
{
    (void)cpu;
    if (n->op == LUCID_OP_REDUCE_MEAN) {
        if (!lucid_cuda_all_float(g, n, why, len)) return false;
        return reduce_mean_spatial(g, n, why, len);
    }
    if (n->op != LUCID_OP_MAX_POOL && n->op != LUCID_OP_AVERAGE_POOL &&
        n->op != LUCID_OP_GLOBAL_AVERAGE_POOL && n->op != LUCID_OP_GLOBAL_MAX_POOL)
        return refuse(why, len, "not a pool");
    lucid_pool2d p;
    const bool ok = lucid_pool2d_resolve(g, n, &p, why, len);
    free(p.count);
    return ok;
}

/* ---- softmax ---- */

static bool softmax_supports(const lucid_graph *g, const lucid_node *n,
                             const lucid_cpu_features *cpu, char *why, size_t len)
{
    (void)cpu;
    if (n->op != LUCID_OP_SOFTMAX && n->op != LUCID_OP_LOG_SOFTMAX)
        return refuse(why, len, "not a softmax");
    if (!lucid_cuda_all_float(g, n, why, len)) return false;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    int64_t axis;
    if (lucid_attr_int(n, "axis", n->opset < 13 ? 1 : -1, &axis, NULL))
        return refuse(why, len, "bad axis");
    if (axis < 0) axis += x->rank;
    if (n->opset >= 13 && axis != x->rank - 1) return refuse(why, len, "only the last axis");
    return true;
}

/* ---- BatchNormalization ---- */

static bool bn_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                        char *why, size_t len)
{
    (void)cpu;
    if (n->op != LUCID_OP_BATCH_NORMALIZATION && n->op != LUCID_OP_FUSED_BATCH_NORM)
        return refuse(why, len, "not BatchNormalization");
    if (!lucid_node_activation(n)) return refuse(why, len, "activation not parsed");
    if (!lucid_cuda_all_float(g, n, why, len)) return false;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    if (x->rank < 2) return refuse(why, len, "rank below 2");
    for (int k = 1; k <= 4; k++) {
        const lucid_ir_tensor *p = lucid_op_input(g, n, k);
        if (!p || !p->data || lucid_tensor_numel(p) != x->dims[1])
            return refuse(why, len, "parameters must be constants of one value per channel");
    }
    for (int k = 1; k < n->n_outputs; k++)
        if (lucid_op_output(g, n, k)) return refuse(why, len, "training outputs");
    return true;
}

/* ---- data movement ---- */

static bool is_copy_op(int op)
{
    switch (op) {
    case LUCID_OP_RESHAPE:
    case LUCID_OP_FLATTEN:
    case LUCID_OP_SQUEEZE:
    case LUCID_OP_UNSQUEEZE:
    case LUCID_OP_TRANSPOSE:
    case LUCID_OP_SLICE:
    case LUCID_OP_CONCAT:
    case LUCID_OP_SPLIT:
    case LUCID_OP_EXPAND:
    case LUCID_OP_PAD:
    case LUCID_OP_RESIZE:
    case LUCID_OP_UPSAMPLE: return true;
    default: return false;
    }
}

static bool resize_ok(const lucid_graph *g, const lucid_node *n, char *why, size_t len)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    const char *mode, *coord, *round;
    if (lucid_attr_string(n, "mode", "nearest", &mode, NULL) ||
        lucid_attr_string(n, "coordinate_transformation_mode", "half_pixel", &coord, NULL) ||
        lucid_attr_string(n, "nearest_mode", "round_prefer_floor", &round, NULL))
        return refuse(why, len, "unreadable attributes");
    if (strcmp(mode, "nearest") != 0) return refuse(why, len, "only nearest resizing");
    bool floor_map = n->op == LUCID_OP_UPSAMPLE || n->opset < 11 ||
                     (strcmp(coord, "asymmetric") == 0 && strcmp(round, "floor") == 0) ||
                     ((strcmp(coord, "half_pixel") == 0 || strcmp(coord, "pytorch_half_pixel") == 0) &&
                      strcmp(round, "round_prefer_floor") == 0);
    if (!floor_map) return refuse(why, len, "only nearest modes that map to floor(o / scale)");
    if (x->rank != 4 || y->rank != 4 || x->dims[0] != y->dims[0] || x->dims[1] != y->dims[1] ||
        y->dims[2] % x->dims[2] || y->dims[3] % x->dims[3])
        return refuse(why, len, "only integer upscaling of H and W");
    return true;
}

static bool pad_read(const lucid_graph *g, const lucid_node *n, int64_t *pads, float *value,
                     int *edge, char *why, size_t len)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    const char *mode;
    if (lucid_attr_string(n, "mode", "constant", &mode, NULL) ||
        (strcmp(mode, "constant") != 0 && strcmp(mode, "edge") != 0))
        return refuse(why, len, "only constant and edge padding");
    *edge = strcmp(mode, "edge") == 0;
    size_t count = 0;
    *value = 0.0f;
    if (n->opset < 11) {
        const int64_t *a;
        if (lucid_attr_ints(n, "pads", &a, &count, NULL) || count != 2 * (size_t)x->rank)
            return refuse(why, len, "unreadable pads");
        memcpy(pads, a, count * sizeof *a);
        if (lucid_attr_float(n, "value", 0.0f, value, NULL)) return refuse(why, len, "bad value");
    } else {
        const lucid_ir_tensor *p = lucid_op_input(g, n, 1), *v = lucid_op_input(g, n, 2);
        if (lucid_op_input(g, n, 3)) return refuse(why, len, "Pad axes input");
        if (!p || !p->data || lucid_op_read_ints(n, p, pads, 2 * LUCID_MAX_RANK, &count, NULL) ||
            count != 2 * (size_t)x->rank)
            return refuse(why, len, "pads must be constant");
        if (v) {
            if (!v->data || v->dtype != LUCID_DTYPE_FLOAT || lucid_tensor_numel(v) != 1)
                return refuse(why, len, "constant_value must be a constant float32");
            *value = *(const float *)v->data;
        }
    }
    for (size_t i = 0; i < count; i++)
        if (pads[i] < 0) return refuse(why, len, "negative pads (cropping)");
    return true;
}

static bool copy_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                          char *why, size_t len)
{
    (void)cpu;
    if (!is_copy_op(n->op)) return refuse(why, len, "not a data movement op");
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    /* int8 / uint8 (int8 plans) move as bytes, except through Resize and Pad's typed kernels */
    const bool bytes = x && (x->dtype == LUCID_DTYPE_INT8 || x->dtype == LUCID_DTYPE_UINT8) &&
                       n->op != LUCID_OP_RESIZE && n->op != LUCID_OP_UPSAMPLE &&
                       n->op != LUCID_OP_PAD;
    if (!x || (x->dtype != LUCID_DTYPE_FLOAT && !bytes))
        return refuse(why, len, "only float32 data (or int8 moved as bytes)");
    for (int k = 0; k < n->n_outputs; k++) {
        const lucid_ir_tensor *y = lucid_op_output(g, n, k);
        if (y && (y->dtype != x->dtype || !lucid_tensor_shape_known(y)))
            return refuse(why, len, "output of another type, or of dynamic shape");
        if (y && y->rank > LC_MAX_RANK) return refuse(why, len, "rank too high");
    }
    if (n->op == LUCID_OP_CONCAT)
        for (int k = 0; k < n->n_inputs; k++) {
            const lucid_ir_tensor *t = lucid_op_input(g, n, k);
            if (t && t->dtype != x->dtype) return refuse(why, len, "inputs of different types");
        }
    if (n->op == LUCID_OP_RESIZE || n->op == LUCID_OP_UPSAMPLE) return resize_ok(g, n, why, len);
    if (n->op == LUCID_OP_PAD) {
        int64_t pads[2 * LUCID_MAX_RANK];
        float v;
        int edge;
        return pad_read(g, n, pads, &v, &edge, why, len);
    }
    return true;
}

/* ---- prepare: one function for all, by op ---- */

static void contiguous_strides(int rank, const int64_t *dims, int64_t *s)
{
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; d--) {
        s[d] = stride;
        stride *= dims[d];
    }
}

/* strides of x's storage (channels-last where the plan stores it so) broadcast to out's dims
 * (right-aligned, 0 where x has 1 or lacks the dim) */
static void storage_bcast(const lucid_cuda_dev *d, const lucid_ir_tensor *x, int rank,
                          const int64_t *dims, int64_t *s)
{
    int64_t xs[LC_MAX_RANK];
    lucid_cuda_strides(d, x, xs);
    for (int k = rank - 1; k >= 0; k--) {
        int xd = k - (rank - x->rank);
        s[k] = xd < 0 || (x->dims[xd] == 1 && dims[k] != 1) ? 0 : xs[xd];
    }
}

/* Orders the dims by decreasing output stride (a stable insertion sort), permuting the other
 * stride arrays alike (a and b may be NULL): the kernels then write in memory order, and one
 * whose output is dense may index it by the running element number. */
static void output_order(int rank, int64_t *dims, int64_t *os, int64_t *a, int64_t *b)
{
    for (int i = 1; i < rank; i++)
        for (int j = i; j > 0 && os[j] > os[j - 1]; j--) {
            int64_t t;
#define SWAP(v) if (v) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t; }
            SWAP(dims) SWAP(os) SWAP(a) SWAP(b)
#undef SWAP
        }
}

/* a copy of `dims` (rank) from x at ibase with strides is into y at obase with strides os */
static void part_set(lc_copy_args *p, int esize, int rank, const int64_t *dims, const int64_t *is,
                     const int64_t *os, int64_t ibase, int64_t obase)
{
    memset(p, 0, sizeof *p);
    p->esize = esize;
    p->rank = rank > 0 ? rank : 1;
    p->n = 1;
    for (int d = 0; d < rank; d++) {
        p->dims[d] = dims[d];
        p->is[d] = is[d];
        p->os[d] = os[d];
        p->n *= dims[d];
    }
    if (rank == 0) {
        p->dims[0] = 1;
        p->is[0] = p->os[0] = 1;
    }
    p->ibase = ibase;
    p->obase = obase;
    if (rank > 1) output_order(rank, p->dims, p->os, p->is, NULL);
}

/* Concat along `axis` as rows (lc_parts): every part stored in the whole's dim order, so that
 * the dims stored before the axis make the rows and the axis with the dims after it each part's
 * row. s->rows_form stays NULL where they do not (the copies per part then run, as they do for
 * Split). */
static lucid_status rows_form(misc_state *s, const lucid_cuda_dev *dev, const lucid_graph *g,
                              const lucid_node *n, const lucid_ir_tensor *whole, int axis, int es,
                              lucid_error *err)
{
    if (n->op != LUCID_OP_CONCAT || s->n_parts > LC_PARTS_MAX || whole->dims[axis] < 2)
        return LUCID_STATUS_OK;
    int64_t ws[LC_MAX_RANK], rows = 1, inner = 1;
    lucid_cuda_strides(dev, whole, ws);
    for (int d = 0; d < whole->rank; d++) {
        if (d == axis || whole->dims[d] == 1) continue;
        if (ws[d] > ws[axis])
            rows *= whole->dims[d];
        else
            inner *= whole->dims[d];
    }
    if (ws[axis] != inner) return LUCID_STATUS_OK;
    int64_t off = 0, w[LC_PARTS_MAX];
    for (int k = 0; k < s->n_parts; k++) {
        const lucid_ir_tensor *pt = lucid_op_input(g, n, k);
        if (!pt) return LUCID_STATUS_OK;
        /* the part's strides must be those of its dims packed in the whole's order */
        int64_t ps[LC_MAX_RANK];
        lucid_cuda_strides(dev, pt, ps);
        for (int d = 0; d < pt->rank; d++) {
            if (pt->dims[d] == 1) continue;
            int64_t want = 1;
            for (int e = 0; e < pt->rank; e++)
                if (e != d && pt->dims[e] != 1 && ws[e] < ws[d]) want *= pt->dims[e];
            if (ps[d] != want) return LUCID_STATUS_OK;
        }
        w[k] = pt->dims[axis] * inner;
        off += pt->dims[axis];
    }
    /* lc_parts indexes the whole with 32 bits */
    if (off != whole->dims[axis] || rows * whole->dims[axis] * inner > INT32_MAX)
        return LUCID_STATUS_OK;
    lc_parts_args *f = calloc(1, sizeof *f);
    if (!f) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    f->esize = es;
    f->n_parts = s->n_parts;
    f->rows = rows;
    f->width = whole->dims[axis] * inner;
    off = 0;
    for (int k = 0; k < s->n_parts; k++) {
        f->w[k] = w[k];
        f->off[k] = off;
        off += w[k];
    }
    s->rows_form = f;
    return LUCID_STATUS_OK;
}

/* Is t stored channels-last with bytes that differ from NCHW (C > 1 and H * W > 1)? */
static bool nhwc_differs(const lucid_cuda_dev *d, const lucid_ir_tensor *t)
{
    return lucid_cuda_nhwc(d, t) && t->dims[1] != 1 && t->dims[2] * t->dims[3] != 1;
}

static lucid_status misc_prepare(const lucid_tactic *t, const lucid_graph *g, const lucid_node *n,
                                 void *devp, void **out, lucid_error *err)
{
    const lucid_cuda_dev *dev = devp;
    char why[160] = "";
    *out = NULL;
    if (!t->supports(g, n, NULL, why, sizeof why))
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    misc_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    s->op = n->op;
    s->t = lucid_cuda_type(t->precision);
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    /* the element size: the plan's float storage, or a byte for int8 data (copies only) */
    int es = x && (x->dtype == LUCID_DTYPE_INT8 || x->dtype == LUCID_DTYPE_UINT8)
                 ? 1
                 : (int)lucid_cuda_type_size(s->t);
    lucid_status st = LUCID_STATUS_OK;
    s->n = y ? lucid_tensor_numel(y) : 0;
    if (t->variant == 0) { /* unary */
        unary_act(g, n, &s->act, &s->alpha, &s->beta, why, sizeof why);
    } else if (t->variant == 1) { /* binary */
        binary_op(n->op, &s->binop);
        s->rank = y->rank;
        memcpy(s->dims, y->dims, sizeof(int64_t) * (size_t)y->rank);
        storage_bcast(dev, lucid_op_input(g, n, 0), y->rank, y->dims, s->sa);
        storage_bcast(dev, lucid_op_input(g, n, 1), y->rank, y->dims, s->sb);
        int64_t ys[LC_MAX_RANK];
        lucid_cuda_strides(dev, y, ys);
        output_order(y->rank, s->dims, ys, s->sa, s->sb);
        if (y->rank == 0) {
            s->rank = 1;
            s->dims[0] = 1;
        }
    } else if (t->variant == 2) { /* pools */
        if (n->op == LUCID_OP_REDUCE_MEAN || n->op == LUCID_OP_GLOBAL_AVERAGE_POOL ||
            n->op == LUCID_OP_GLOBAL_MAX_POOL) {
            s->pool.is_max = n->op == LUCID_OP_GLOBAL_MAX_POOL;
            s->pool.nhwc = lucid_cuda_nhwc(dev, x);
            s->planes = x->dims[0] * x->dims[1];
            s->channels = x->dims[1];
            s->inner = lucid_tensor_numel(x) / (s->planes ? s->planes : 1);
            s->rows = -1; /* global */
        } else {
            lucid_pool2d pw, *p = &pw;
            if (!lucid_pool2d_resolve(g, n, p, why, sizeof why)) {
                free(p->count);
                st = lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "pool tactic: %s", why);
                goto fail;
            }
            const lucid_dconv *c = &p->c;
            s->pool = (lc_pool_args){.t = s->t, .is_max = p->is_max, .planes = p->planes,
                                     .ih = c->ih, .iw = c->iw, .oh = c->oh, .ow = c->ow,
                                     .kh = c->kh, .kw = c->kw, .sh = c->sh, .sw = c->sw,
                                     .dh = c->dh, .dw = c->dw, .pt = c->pt, .pl = c->pl,
                                     .nhwc = lucid_cuda_nhwc(dev, x), .channels = x->dims[1]};
            if (!p->is_max)
                st = lucid_cuda_upload_floats(p->count, c->oh * c->ow, LC_F32, (void **)&s->dev_a, err);
            free(p->count);
            if (st) goto fail;
            s->pool.count = s->dev_a;
        }
    } else if (t->variant == 3) { /* softmax */
        int64_t axis;
        lucid_attr_int(n, "axis", n->opset < 13 ? 1 : -1, &axis, NULL);
        if (axis < 0) axis += x->rank;
        s->cols = 1;
        for (int d = (int)axis; d < x->rank; d++) s->cols *= x->dims[d];
        s->rows = lucid_tensor_numel(x) / (s->cols ? s->cols : 1);
    } else if (t->variant == 4) { /* BatchNormalization as a per-channel affine map */
        float eps;
        lucid_attr_float(n, "epsilon", 1e-5f, &eps, NULL);
        int64_t c = x->dims[1];
        const float *sc = lucid_op_input(g, n, 1)->data, *b = lucid_op_input(g, n, 2)->data,
                    *mean = lucid_op_input(g, n, 3)->data, *var = lucid_op_input(g, n, 4)->data;
        float *ab = malloc(sizeof(float) * 2 * (size_t)c);
        if (!ab) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            goto fail;
        }
        for (int64_t i = 0; i < c; i++) {
            ab[i] = sc[i] / sqrtf(var[i] + eps);
            ab[c + i] = b[i] - mean[i] * ab[i];
        }
        st = lucid_cuda_upload_floats(ab, c, LC_F32, (void **)&s->dev_a, err);
        if (!st) st = lucid_cuda_upload_floats(ab + c, c, LC_F32, (void **)&s->dev_b, err);
        free(ab);
        if (st) goto fail;
        s->channels = c;
        s->inner = lucid_cuda_nhwc(dev, x) ? 1 : lucid_tensor_numel(x) / (x->dims[0] * c);
        /* BatchNormalization, or FusedBatchNormalization with its activation */
        const lucid_activation *a = lucid_node_activation(n);
        if (!a) {
            st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED, "activation not parsed");
            goto fail;
        }
        s->act = a->kind;
        s->alpha = a->alpha;
        s->beta = a->beta;
    } else { /* data movement */
        int64_t is[LC_MAX_RANK], os[LC_MAX_RANK];
        int nparts = n->op == LUCID_OP_CONCAT ? n->n_inputs : n->op == LUCID_OP_SPLIT ? n->n_outputs : 1;
        s->parts = calloc((size_t)nparts, sizeof *s->parts);
        if (!s->parts) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            goto fail;
        }
        s->n_parts = nparts;
        if (n->op == LUCID_OP_TRANSPOSE) {
            const lucid_transpose_params *p = n->params;
            int64_t xs[LC_MAX_RANK];
            lucid_cuda_strides(dev, x, xs);
            for (int d = 0; d < y->rank; d++) is[d] = xs[p->perm[d]];
            lucid_cuda_strides(dev, y, os);
            part_set(&s->parts[0], es, y->rank, y->dims, is, os, 0, 0);
        } else if (n->op == LUCID_OP_SLICE) {
            const lucid_slice_params *p = n->params;
            int64_t xs[LC_MAX_RANK], base = 0;
            lucid_cuda_strides(dev, x, xs);
            for (int d = 0; d < y->rank; d++) {
                is[d] = xs[d] * p->step[d];
                base += p->start[d] * xs[d];
            }
            lucid_cuda_strides(dev, y, os);
            part_set(&s->parts[0], es, y->rank, y->dims, is, os, base, 0);
        } else if (n->op == LUCID_OP_EXPAND) {
            storage_bcast(dev, x, y->rank, y->dims, is);
            lucid_cuda_strides(dev, y, os);
            part_set(&s->parts[0], es, y->rank, y->dims, is, os, 0, 0);
        } else if (n->op == LUCID_OP_CONCAT || n->op == LUCID_OP_SPLIT) {
            const lucid_ir_tensor *whole = n->op == LUCID_OP_CONCAT ? y : x;
            int64_t axis;
            lucid_attr_int(n, "axis", n->op == LUCID_OP_SPLIT ? 0 : 1, &axis, NULL);
            if (axis < 0) axis += whole->rank;
            int64_t ws[LC_MAX_RANK], off = 0;
            lucid_cuda_strides(dev, whole, ws);
            for (int k = 0; k < nparts; k++) {
                const lucid_ir_tensor *pt = n->op == LUCID_OP_CONCAT ? lucid_op_input(g, n, k)
                                                                     : lucid_op_output(g, n, k);
                if (!pt) continue;
                int64_t ps[LC_MAX_RANK];
                lucid_cuda_strides(dev, pt, ps);
                if (n->op == LUCID_OP_CONCAT)
                    part_set(&s->parts[k], es, pt->rank, pt->dims, ps, ws, 0, off * ws[axis]);
                else
                    part_set(&s->parts[k], es, pt->rank, pt->dims, ws, ps, off * ws[axis], 0);
                off += pt->dims[axis];
            }
            st = rows_form(s, dev, g, n, whole, (int)axis, es, err);
            if (st) goto fail;
        } else if (n->op == LUCID_OP_PAD) {
            int64_t pads[2 * LUCID_MAX_RANK];
            s->pad.t = s->t;
            pad_read(g, n, pads, &s->pad.value, &s->pad.edge, why, sizeof why);
            s->pad.rank = x->rank;
            s->pad.n = s->n;
            /* channels-last: the same padding over the dims in storage order N, H, W, C */
            static const int nhwc_order[4] = {0, 2, 3, 1};
            bool cl = lucid_cuda_nhwc(dev, x);
            for (int k = 0; k < x->rank; k++) {
                int d = cl ? nhwc_order[k] : k;
                s->pad.xdims[k] = x->dims[d];
                s->pad.ydims[k] = y->dims[d];
                s->pad.begin[k] = pads[d];
            }
        } else if (n->op == LUCID_OP_RESIZE || n->op == LUCID_OP_UPSAMPLE) {
            s->planes = x->dims[0] * x->dims[1];
            s->pool.nhwc = lucid_cuda_nhwc(dev, x);
            s->channels = x->dims[1];
            s->rows = x->dims[0];
            s->ih = x->dims[2];
            s->iw = x->dims[3];
            s->oh = y->dims[2];
            s->ow = y->dims[3];
        } else if (nhwc_differs(dev, x) != nhwc_differs(dev, y)) {
            /* Reshape and friends between a channels-last 4-D tensor and a tensor holding its
             * elements in ONNX's order: read or written through the 4-D side's strides (the
             * layout choice refuses two channels-last sides of different shapes) */
            const lucid_ir_tensor *four = nhwc_differs(dev, x) ? x : y;
            int64_t fs[LC_MAX_RANK], cs[LC_MAX_RANK];
            lucid_cuda_strides(dev, four, fs);
            contiguous_strides(4, four->dims, cs);
            if (four == x) part_set(&s->parts[0], es, 4, x->dims, fs, cs, 0, 0);
            else part_set(&s->parts[0], es, 4, y->dims, cs, fs, 0, 0);
        } else { /* Reshape and friends that run (not views): a plain copy */
            int64_t d1 = s->n, one = 1;
            part_set(&s->parts[0], es, 1, &d1, &one, &one, 0, 0);
        }
    }
    *out = s;
    return LUCID_STATUS_OK;
fail:
    misc_release(s);
    return st;
}

/* NHWC global pooling splits a large plane among blocks: their partial sums */
static size_t misc_workspace(const void *p, int threads)
{
    (void)threads;
    const misc_state *s = p;
    if (!s || s->rows != -1 || !s->pool.nhwc || !s->channels) return 0;
    return lc_global_pool_nhwc_workspace(s->t, s->planes / s->channels, s->channels, s->inner);
}

static lucid_status misc_run(const void *p, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, void *work, void *stream, lucid_error *err)
{
    const misc_state *s = p;
    cudaStream_t cs = ((const lucid_cuda_stream *)stream)->stream;
    const char *why = NULL;
    switch (s->op) {
    case LUCID_OP_ADD:
    case LUCID_OP_SUM:
    case LUCID_OP_SUB:
    case LUCID_OP_MUL:
    case LUCID_OP_DIV:
    case LUCID_OP_POW:
    case LUCID_OP_MAX:
    case LUCID_OP_MIN: {
        lc_binary_args a = {.t = s->t, .op = s->binop, .a = in[0].data, .b = in[1].data,
                            .y = out[0].data, .rank = s->rank, .n = s->n, .act = LUCID_ACT_NONE};
        memcpy(a.dims, s->dims, sizeof a.dims);
        memcpy(a.sa, s->sa, sizeof a.sa);
        memcpy(a.sb, s->sb, sizeof a.sb);
        if (!a.a || !a.b) return lucid_errorf(err, LUCID_STATUS_INTERNAL, "operand not on the device");
        return lucid_kernel_check(lc_binary(&a, cs, &why), why, err, "binary");
    }
    case LUCID_OP_MAX_POOL:
    case LUCID_OP_AVERAGE_POOL: {
        lc_pool_args a = s->pool;
        a.x = in[0].data;
        a.y = out[0].data;
        return lucid_kernel_check(lc_pool(&a, cs, &why), why, err, "pool");
    }
    case LUCID_OP_GLOBAL_AVERAGE_POOL:
    case LUCID_OP_GLOBAL_MAX_POOL:
    case LUCID_OP_REDUCE_MEAN:
        if (s->pool.nhwc)
            return lucid_kernel_check(lc_global_pool_nhwc(s->t, s->pool.is_max, in[0].data,
                                                          out[0].data, s->planes / s->channels,
                                                          s->channels, s->inner, work,
                                                          misc_workspace(s, 1), cs, &why),
                                      why, err, "global pool");
        return lucid_kernel_check(lc_global_pool(s->t, s->pool.is_max, in[0].data, out[0].data,
                                                 s->planes, s->inner, cs, &why),
                                  why, err, "global pool");
    case LUCID_OP_SOFTMAX:
    case LUCID_OP_LOG_SOFTMAX:
        return lucid_kernel_check(lc_softmax(s->t, s->op == LUCID_OP_LOG_SOFTMAX, in[0].data,
                                             out[0].data, s->rows, s->cols, cs, &why),
                                  why, err, "softmax");
    case LUCID_OP_BATCH_NORMALIZATION:
    case LUCID_OP_FUSED_BATCH_NORM:
        return lucid_kernel_check(lc_channel_affine(s->t, in[0].data, out[0].data, s->dev_a,
                                                    s->dev_b, s->n, s->channels, s->inner,
                                                    s->act, s->alpha, s->beta, cs, &why),
                                  why, err, "batchnorm");
    case LUCID_OP_PAD: {
        lc_pad_args a = s->pad;
        a.x = in[0].data;
        a.y = out[0].data;
        return lucid_kernel_check(lc_pad(&a, cs, &why), why, err, "pad");
    }
    case LUCID_OP_RESIZE:
    case LUCID_OP_UPSAMPLE:
        if (s->pool.nhwc)
            return lucid_kernel_check(lc_resize_nearest_nhwc(s->t, in[0].data, out[0].data,
                                                             s->rows, s->channels, s->ih, s->iw,
                                                             s->oh, s->ow, cs, &why),
                                      why, err, "resize");
        return lucid_kernel_check(lc_resize_nearest(s->t, in[0].data, out[0].data, s->planes,
                                                    s->ih, s->iw, s->oh, s->ow, cs, &why),
                                  why, err, "resize");
    default: break;
    }
    if (s->rows_form) {
        lc_parts_args a = *s->rows_form;
        a.whole = out[0].data;
        for (int k = 0; k < a.n_parts; k++)
            a.part[k] = in[k].data;
        return lucid_kernel_check(lc_parts(&a, cs, &why), why, err, "concat");
    }
    if (s->n_parts) {
        for (int k = 0; k < s->n_parts; k++) {
            lc_copy_args a = s->parts[k];
            if (!a.n) continue;
            bool concat = s->op == LUCID_OP_CONCAT, split = s->op == LUCID_OP_SPLIT;
            a.x = concat ? in[k].data : in[0].data;
            a.y = split ? out[k].data : out[0].data;
            if (!a.x || !a.y) continue; /* an omitted output */
            lucid_status st = lucid_kernel_check(lc_copy(&a, cs, &why), why, err, "copy");
            if (st) return st;
        }
        return LUCID_STATUS_OK;
    }
    lc_epilogue_args a = {.t = s->t, .x = in[0].data, .y = out[0].data, .n = s->n, .channels = 1,
                          .inner = 1, .act = s->act, .alpha = s->alpha, .beta = s->beta};
    return lucid_kernel_check(lc_epilogue(&a, cs, &why), why, err, "activation");
}

#define MISC_PREC_fp32 LUCID_PRECISION_FP32, 0
#define MISC_PREC_fp16 LUCID_PRECISION_FP16, 0
#define MISC_PREC_bf16 LUCID_PRECISION_BF16, 0
#define MISC_PREC(p) MISC_PREC_##p
#define MISC_TACTIC(sym, kind, var, sup, prec)                                                  \
    LUCID_CUDA_TACTIC_P(cuda_##sym##_##prec, "cuda.own." kind "." #prec, MISC_PREC(prec), 0,    \
                        var, sup, misc_prepare, misc_release, misc_workspace, misc_run)
#define MISC_TACTICS(prec)                                                                      \
    MISC_TACTIC(act, "act", 0, act_supports, prec)                                              \
    MISC_TACTIC(binary, "binary", 1, binary_supports, prec)                                     \
    MISC_TACTIC(pool, "pool", 2, pool_supports_dev, prec)                                       \
    MISC_TACTIC(softmax, "softmax", 3, softmax_supports, prec)                                  \
    MISC_TACTIC(batchnorm, "batchnorm", 4, bn_supports, prec)                                   \
    MISC_TACTIC(copy, "copy", 5, copy_supports, prec)
MISC_TACTICS(fp32)
MISC_TACTICS(fp16)
MISC_TACTICS(bf16)
