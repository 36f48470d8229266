/* copy_pad_resize.c - cpu.pad.rowcopy and cpu.resize.nearest: a constant Pad and a nearest
 * Resize as row copies. Both produce the output one innermost row at a time: Pad copies the
 * input row between two runs of the constant (or writes the constant where the row lies in
 * the padding; in edge mode it repeats the nearest input row and element), Resize gathers the row through a per-axis index table computed once from
 * the reference's own coordinate transform. Any dtype of 1, 2, 4 or 8 bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/movement.h"
#include "ops/op.h"
#include "tactics/tactic.h"

#define ROW_GRAIN_BYTES 8192 /* output bytes per thread hand-off, at least */

/* What both kernels share: the output's rows and where each reads its input. */
typedef struct row_state {
    int rank;
    size_t esize;
    int64_t out_dims[LUCID_MAX_RANK], in_dims[LUCID_MAX_RANK];
    int64_t in_strides[LUCID_MAX_RANK]; /* elements */
    int64_t rows, row_len;              /* output rows (all dims but the last) and length */
    /* Pad: per dim, elements added before; the constant before opset 11 */
    int64_t begin[LUCID_MAX_RANK];
    unsigned char fill[8];
    bool fill_from_input; /* opset >= 11: input 2, when given */
    bool edge;            /* edge mode: replicate the border instead of a constant */
    /* Resize: per dim, the input index of every output index (concatenated) */
    int64_t *map;
    int64_t map_off[LUCID_MAX_RANK];
} row_state;

static bool refuse(char *why, size_t len, const char *msg)
{
    snprintf(why, len, "%s", msg);
    return false;
}

static bool esize_ok(lucid_dtype t)
{
    size_t s = lucid_dtype_size(t);
    return s == 1 || s == 2 || s == 4 || s == 8;
}

static void row_release(void *state)
{
    row_state *s = state;
    if (s) free(s->map);
    free(s);
}

/* Fills n elements of esize bytes with the value v. */
static void fill_elems(unsigned char *dst, const unsigned char *v, size_t esize, int64_t n)
{
    if (n <= 0) return;
    bool zero = true;
    for (size_t b = 0; b < esize; b++) zero &= v[b] == 0;
    if (zero) {
        memset(dst, 0, (size_t)n * esize);
        return;
    }
    switch (esize) {
    case 4: {
        uint32_t x;
        memcpy(&x, v, 4);
        for (int64_t i = 0; i < n; i++) memcpy(dst + 4 * i, &x, 4);
        break;
    }
    default:
        for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * esize, v, esize);
        break;
    }
}

/* ---- Pad (constant mode) ---- */

static bool pad_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                         char *why, size_t len)
{
    (void)cpu;
    if (n->op != LUCID_OP_PAD) return false;
    const lucid_pad_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if (!x || !y || !lucid_tensor_shape_known(x) || !lucid_tensor_shape_known(y) || x->rank < 1)
        return refuse(why, len, "needs static shapes of rank 1 or more");
    if (!esize_ok(x->dtype)) return refuse(why, len, "dtype of 1, 2, 4 or 8 bytes only");
    if (p->mode != LUCID_PAD_CONSTANT && p->mode != LUCID_PAD_EDGE)
        return refuse(why, len, "constant and edge modes only");
    if (p->mode == LUCID_PAD_EDGE && lucid_tensor_numel(x) == 0)
        return refuse(why, len, "edge mode of an empty input");
    for (int d = 0; d < x->rank; d++)
        if (p->begin[d] < 0 || y->dims[d] - x->dims[d] - p->begin[d] < 0)
            return refuse(why, len, "negative pads (cropping) are not covered");
    return true;
}

static void set_rows(row_state *s, const lucid_ir_tensor *x, const lucid_ir_tensor *y)
{
    s->rank = y->rank;
    s->esize = lucid_dtype_size(x->dtype);
    for (int d = 0; d < y->rank; d++) {
        s->out_dims[d] = y->dims[d];
        s->in_dims[d] = x->dims[d];
    }
    lucid_strides(x->rank, x->dims, s->in_strides);
    s->row_len = y->dims[y->rank - 1];
    s->rows = s->row_len ? lucid_tensor_numel(y) / s->row_len : 0;
}

static lucid_status pad_prepare(const lucid_graph *g, const lucid_node *n, int threads,
                                void **state, lucid_error *err)
{
    (void)threads;
    char why[128];
    if (!pad_supports(g, n, NULL, why, sizeof why))
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "pad: %s", why);
    const lucid_pad_params *p = n->params;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    row_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    set_rows(s, x, y);
    for (int d = 0; d < x->rank; d++) s->begin[d] = p->begin[d];
    s->edge = p->mode == LUCID_PAD_EDGE;
    if (n->opset < 11)
        lucid_store_f64(x->dtype, s->fill, 0, p->value);
    else
        s->fill_from_input = true;
    *state = s;
    return LUCID_STATUS_OK;
}

typedef struct row_job {
    const row_state *s;
    const unsigned char *src;
    unsigned char *dst;
    unsigned char fill[8];
} row_job;

static void pad_rows(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const row_job *j = ctx;
    const row_state *s = j->s;
    const int r = s->rank, last = r - 1;
    const size_t es = s->esize;
    const int64_t lead = s->begin[last], in_len = s->in_dims[last];
    const int64_t tail = s->row_len - lead - in_len;
    for (size_t row = begin; row < end; row++) {
        unsigned char *dst = j->dst + row * (size_t)s->row_len * es;
        /* the row's index in every dim but the last, and whether it lies in the input */
        int64_t rem = (int64_t)row, off = 0;
        bool inside = true;
        for (int d = last - 1; d >= 0; d--) {
            int64_t i = rem % s->out_dims[d] - s->begin[d];
            rem /= s->out_dims[d];
            if (s->edge) i = i < 0 ? 0 : (i >= s->in_dims[d] ? s->in_dims[d] - 1 : i);
            inside &= i >= 0 && i < s->in_dims[d];
            off += i * s->in_strides[d];
        }
        if (s->edge) {
            const unsigned char *src = j->src + (size_t)off * es;
            fill_elems(dst, src, es, lead);
            memcpy(dst + (size_t)lead * es, src, (size_t)in_len * es);
            fill_elems(dst + (size_t)(lead + in_len) * es, src + (size_t)(in_len - 1) * es, es,
                       tail);
            continue;
        }
        if (!inside) {
            fill_elems(dst, j->fill, es, s->row_len);
            continue;
        }
        fill_elems(dst, j->fill, es, lead);
        memcpy(dst + (size_t)lead * es, j->src + (size_t)off * es, (size_t)in_len * es);
        fill_elems(dst + (size_t)(lead + in_len) * es, j->fill, es, tail);
    }
}

static size_t row_grain(const row_state *s)
{
    size_t bytes = (size_t)s->row_len * s->esize + 1;
    return ROW_GRAIN_BYTES / bytes + 1;
}

static lucid_status pad_run(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                            int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    (void)workspace;
    (void)err;
    const row_state *s = state;
    row_job j = {.s = s, .src = in[0].data, .dst = out[0].data};
    memcpy(j.fill, s->fill, sizeof j.fill);
    if (s->fill_from_input && n_in > 2 && in[2].data && lucid_array_numel(&in[2]) == 1)
        memcpy(j.fill, in[2].data, s->esize);
    lucid_threadpool_run(pool, (size_t)s->rows, row_grain(s), pad_rows, &j);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_cpu_pad_rowcopy = {
    .name = "cpu.pad.rowcopy",
    .backend = "cpu",
    .preference = 100,
    .supports = pad_supports,
    .prepare = pad_prepare,
    .release = row_release,
    .workspace = lucid_tactic_no_workspace,
    .run = pad_run,
};

/* ---- Resize / Upsample (nearest) ---- */

static bool resize_supports(const lucid_graph *g, const lucid_node *n,
                            const lucid_cpu_features *cpu, char *why, size_t len)
{
    (void)cpu;
    if (n->op != LUCID_OP_RESIZE && n->op != LUCID_OP_UPSAMPLE) return false;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if (!x || !y || !lucid_tensor_shape_known(x) || !lucid_tensor_shape_known(y) || x->rank < 1 ||
        x->rank != y->rank)
        return refuse(why, len, "needs static shapes of rank 1 or more");
    if (!esize_ok(x->dtype)) return refuse(why, len, "dtype of 1, 2, 4 or 8 bytes only");
    if (lucid_tensor_numel(x) == 0) return refuse(why, len, "empty input");
    int64_t i;
    if (!lucid_resize_nearest_index(n, 0, 0, x->dims[0], y->dims[0], &i))
        return refuse(why, len, "nearest mode inside the input only");
    return true;
}

static lucid_status resize_prepare(const lucid_graph *g, const lucid_node *n, int threads,
                                   void **state, lucid_error *err)
{
    (void)threads;
    char why[128];
    if (!resize_supports(g, n, NULL, why, sizeof why))
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "resize: %s", why);
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    row_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    set_rows(s, x, y);
    int64_t total = 0;
    for (int d = 0; d < y->rank; d++) {
        s->map_off[d] = total;
        total += y->dims[d];
    }
    s->map = malloc(sizeof *s->map * (size_t)(total ? total : 1));
    if (!s->map) {
        row_release(s);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    for (int d = 0; d < y->rank; d++)
        for (int64_t o = 0; o < y->dims[d]; o++)
            if (!lucid_resize_nearest_index(n, d, o, x->dims[d], y->dims[d],
                                            &s->map[s->map_off[d] + o])) {
                row_release(s);
                return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                         "resize: output index %lld of dim %d maps outside the "
                                         "input",
                                         (long long)o, d);
            }
    *state = s;
    return LUCID_STATUS_OK;
}

static void resize_rows(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const row_job *j = ctx;
    const row_state *s = j->s;
    const int last = s->rank - 1;
    const size_t es = s->esize;
    const int64_t *col = s->map + s->map_off[last];
    for (size_t row = begin; row < end; row++) {
        unsigned char *dst = j->dst + row * (size_t)s->row_len * es;
        int64_t rem = (int64_t)row, off = 0;
        for (int d = last - 1; d >= 0; d--) {
            off += s->map[s->map_off[d] + rem % s->out_dims[d]] * s->in_strides[d];
            rem /= s->out_dims[d];
        }
        const unsigned char *src = j->src + (size_t)off * es;
        if (es == 4) {
            const uint32_t *s4 = (const uint32_t *)src;
            uint32_t *d4 = (uint32_t *)dst;
            for (int64_t i = 0; i < s->row_len; i++) d4[i] = s4[col[i]];
        } else {
            for (int64_t i = 0; i < s->row_len; i++)
                memcpy(dst + (size_t)i * es, src + (size_t)col[i] * es, es);
        }
    }
}

static lucid_status resize_run(const void *state, const lucid_array *in, int n_in,
                               lucid_array *out, int n_out, void *workspace,
                               lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)workspace;
    (void)err;
    const row_state *s = state;
    row_job j = {.s = s, .src = in[0].data, .dst = out[0].data};
    lucid_threadpool_run(pool, (size_t)s->rows, row_grain(s), resize_rows, &j);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_cpu_resize_nearest = {
    .name = "cpu.resize.nearest",
    .backend = "cpu",
    .preference = 100,
    .supports = resize_supports,
    .prepare = resize_prepare,
    .release = row_release,
    .workspace = lucid_tactic_no_workspace,
    .run = resize_run,
};
