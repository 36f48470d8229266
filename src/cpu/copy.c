/* copy.c - Transpose and Slice as block copies: the trailing dimensions that a copy keeps
 * whole and in order are one contiguous run in both tensors, so it moves whole runs
 * (ShuffleNet's channel shuffle moves 28x28 planes) instead of single elements. Any dtype. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/movement.h"
#include "ops/op.h"
#include "tactics/tactic.h"

typedef struct copy_state {
    int rank;                     /* outer dims (after merging the contiguous tail) */
    int64_t out_dims[LUCID_MAX_RANK];
    int64_t in_strides[LUCID_MAX_RANK]; /* bytes in the input per step of each outer out dim */
    size_t run;                   /* bytes copied per innermost step */
    int64_t runs;                 /* product of out_dims */
    int64_t base;                 /* bytes into the input of the first element */
} copy_state;

static bool transpose_supports(const lucid_graph *g, const lucid_node *n,
                               const lucid_cpu_features *cpu, char *why, size_t len)
{
    (void)cpu;
    if (n->op != LUCID_OP_TRANSPOSE) return false;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    if (!x || !lucid_dtype_size(x->dtype)) {
        snprintf(why, len, "dtype without a fixed size");
        return false;
    }
    return true;
}

static lucid_status transpose_prepare(const lucid_graph *g, const lucid_node *n, int threads,
                                      void **state, lucid_error *err)
{
    (void)threads;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    const lucid_transpose_params *p = n->params;
    copy_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    int r = x->rank;
    int64_t in_stride[LUCID_MAX_RANK];
    lucid_strides(r, x->dims, in_stride);
    /* output dims k >= tail with perm[k] == k are the input's last dims in the same order:
     * one contiguous run in both tensors */
    size_t esize = lucid_dtype_size(x->dtype);
    int tail = r;
    s->run = esize;
    while (tail > 0 && p->perm[tail - 1] == tail - 1) {
        s->run *= (size_t)x->dims[tail - 1];
        tail--;
    }
    s->rank = tail;
    s->runs = 1;
    for (int k = 0; k < tail; k++) {
        s->out_dims[k] = x->dims[p->perm[k]];
        s->in_strides[k] = in_stride[p->perm[k]] * (int64_t)esize;
        s->runs *= s->out_dims[k];
    }
    *state = s;
    return LUCID_STATUS_OK;
}

static void copy_release(void *state)
{
    free(state);
}

typedef struct copy_job {
    const copy_state *s;
    const unsigned char *src;
    unsigned char *dst;
} copy_job;

static void copy_runs(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const copy_job *j = ctx;
    const copy_state *s = j->s;
    int64_t idx[LUCID_MAX_RANK];
    /* the multi-index of run `begin` in output order */
    int64_t rem = (int64_t)begin;
    for (int k = s->rank - 1; k >= 0; k--) {
        idx[k] = rem % s->out_dims[k];
        rem /= s->out_dims[k];
    }
    int64_t off = s->base;
    for (int k = 0; k < s->rank; k++) off += idx[k] * s->in_strides[k];
    for (size_t i = begin; i < end; i++) {
        memcpy(j->dst + i * s->run, j->src + off, s->run);
        for (int k = s->rank - 1; k >= 0; k--) { /* next index, odometer style */
            off += s->in_strides[k];
            if (++idx[k] < s->out_dims[k]) break;
            off -= s->in_strides[k] * s->out_dims[k];
            idx[k] = 0;
        }
    }
}

static lucid_status copy_run(const void *state, const lucid_array *in, int n_in,
                                  lucid_array *out, int n_out, void *workspace,
                                  lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)workspace;
    (void)err;
    const copy_state *s = state;
    copy_job j = {.s = s, .src = in[0].data, .dst = out[0].data};
    /* small copies are not worth waking a thread for */
    size_t grain = s->run >= 4096 ? 1 : (4096 + s->run - 1) / s->run;
    lucid_threadpool_run(pool, (size_t)s->runs, grain, copy_runs, &j);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_cpu_transpose_copy = {
    .name = "cpu.transpose.blockcopy",
    .backend = "cpu",
    .preference = 100,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = transpose_supports,
    .prepare = transpose_prepare,
    .release = copy_release,
    .workspace = lucid_tactic_no_workspace,
    .run = copy_run,
};

static bool slice_supports(const lucid_graph *g, const lucid_node *n,
                           const lucid_cpu_features *cpu, char *why, size_t len)
{
    (void)cpu;
    if (n->op != LUCID_OP_SLICE) return false;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    if (!x || !lucid_dtype_size(x->dtype)) {
        snprintf(why, len, "dtype without a fixed size");
        return false;
    }
    return true;
}

static lucid_status slice_prepare(const lucid_graph *g, const lucid_node *n, int threads,
                                  void **state, lucid_error *err)
{
    (void)threads;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    const lucid_slice_params *p = n->params;
    copy_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    int r = x->rank;
    size_t esize = lucid_dtype_size(x->dtype);
    int64_t in_stride[LUCID_MAX_RANK];
    lucid_strides(r, x->dims, in_stride);
    for (int k = 0; k < r; k++) s->base += p->start[k] * in_stride[k] * (int64_t)esize;
    /* trailing dims taken whole are one run; the last cut dim joins it when its step is 1 */
    int tail = r;
    s->run = esize;
    while (tail > 0 && y->dims[tail - 1] == x->dims[tail - 1] && p->start[tail - 1] == 0) {
        s->run *= (size_t)x->dims[tail - 1];
        tail--;
    }
    if (tail > 0 && p->step[tail - 1] == 1) {
        s->run *= (size_t)y->dims[tail - 1];
        tail--;
    }
    s->rank = tail;
    s->runs = 1;
    for (int k = 0; k < tail; k++) {
        s->out_dims[k] = y->dims[k];
        s->in_strides[k] = in_stride[k] * p->step[k] * (int64_t)esize;
        s->runs *= s->out_dims[k];
    }
    if (lucid_tensor_numel(y) == 0) s->runs = 0;
    *state = s;
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_cpu_slice_copy = {
    .name = "cpu.slice.blockcopy",
    .backend = "cpu",
    .preference = 100,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = slice_supports,
    .prepare = slice_prepare,
    .release = copy_release,
    .workspace = lucid_tactic_no_workspace,
    .run = copy_run,
};
