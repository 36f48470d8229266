/* concat_split.c - Concat and Split as copies of contiguous runs: along axis a, every step of
 * the dimensions before a moves one run of dims[a] * prod(dims[a+1:]) elements per piece.
 *   cpu.concat.blockcopy, cpu.split.blockcopy          plain layout, any axis and dtype;
 *   cpu.concat.nchw16c, cpu.split.nchw16c              NCHW16C activations split or joined
 *                                                      along channels in whole blocks of 16:
 *                                                      per image the same runs as plain.
 * (Concats the optimizer elides, writing their inputs in place, never run.) Runs are cut into
 * chunks of at most 64 KiB that the threads share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "tactics/tactic.h"

#define CHUNK_BYTES 65536

typedef struct piece {
    size_t run;          /* bytes per outer step */
    size_t offset;       /* bytes into the joined tensor's outer step */
    int64_t chunks;      /* per outer step */
} piece;

typedef struct cs_state {
    bool split;
    int n_pieces;
    int64_t outer;       /* steps of the dims before the axis */
    size_t whole;        /* bytes of the joined tensor per outer step */
    int64_t chunks;      /* per outer step, all pieces */
    piece p[];
} cs_state;

/* The axis of node n (Concat or Split) over rank r, or -1. */
static int cs_axis(const lucid_node *n, int r)
{
    int64_t a;
    if (lucid_attr_int(n, "axis", n->op == LUCID_OP_SPLIT ? 0 : 1, &a, NULL)) return -1;
    if (a < -r || a >= r) return -1;
    return (int)(a < 0 ? a + r : a);
}

static bool cs_check(const lucid_graph *g, const lucid_node *n, bool blocked, char *why,
                     size_t len)
{
    if (n->op != LUCID_OP_CONCAT && n->op != LUCID_OP_SPLIT) return false;
    const bool split = n->op == LUCID_OP_SPLIT;
    const lucid_ir_tensor *whole = split ? lucid_op_input(g, n, 0) : lucid_op_output(g, n, 0);
    if (!whole || !lucid_tensor_shape_known(whole) || !lucid_dtype_size(whole->dtype)) {
        snprintf(why, len, "needs static shapes and a fixed-size dtype");
        return false;
    }
    const int axis = cs_axis(n, whole->rank);
    if (axis < 0) {
        snprintf(why, len, "axis out of range");
        return false;
    }
    if (blocked && (whole->rank != 4 || axis != 1 || whole->dtype != LUCID_DTYPE_FLOAT)) {
        snprintf(why, len, "NCHW16C copies join or split 4-D float32 tensors along channels");
        return false;
    }
    const int np = split ? n->n_outputs : n->n_inputs;
    for (int k = 0; k < np; k++) {
        int t = split ? n->outputs[k] : n->inputs[k];
        if (t < 0 || g->tensors[t].data || !lucid_tensor_shape_known(&g->tensors[t])) {
            snprintf(why, len, "an omitted, constant or unknown-shape piece");
            return false;
        }
        if (blocked && g->tensors[t].dims[1] % 16) {
            snprintf(why, len, "a piece of %lld channels is not whole blocks of 16",
                     (long long)g->tensors[t].dims[1]);
            return false;
        }
    }
    return true;
}

static bool cs_plain_supports(const lucid_graph *g, const lucid_node *n,
                              const lucid_cpu_features *cpu, char *why, size_t len)
{
    (void)cpu;
    return cs_check(g, n, false, why, len);
}

static bool cs_blocked_supports(const lucid_graph *g, const lucid_node *n,
                                const lucid_cpu_features *cpu, char *why, size_t len)
{
    (void)cpu;
    return cs_check(g, n, true, why, len);
}

static lucid_status cs_prepare(const lucid_graph *g, const lucid_node *n, int threads,
                               void **state, lucid_error *err)
{
    (void)threads;
    char why[160] = "";
    if (!cs_check(g, n, false, why, sizeof why))
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "copy: %s", why);
    const bool split = n->op == LUCID_OP_SPLIT;
    const lucid_ir_tensor *whole = split ? lucid_op_input(g, n, 0) : lucid_op_output(g, n, 0);
    const int np = split ? n->n_outputs : n->n_inputs, axis = cs_axis(n, whole->rank);
    cs_state *s = calloc(1, sizeof *s + sizeof(piece) * (size_t)np);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    s->split = split;
    s->n_pieces = np;
    s->outer = 1;
    for (int d = 0; d < axis; d++) s->outer *= whole->dims[d];
    size_t inner = lucid_dtype_size(whole->dtype);
    for (int d = axis + 1; d < whole->rank; d++) inner *= (size_t)whole->dims[d];
    size_t off = 0;
    for (int k = 0; k < np; k++) {
        const lucid_ir_tensor *t = &g->tensors[split ? n->outputs[k] : n->inputs[k]];
        s->p[k].run = (size_t)t->dims[axis] * inner;
        s->p[k].offset = off;
        s->p[k].chunks = (int64_t)((s->p[k].run + CHUNK_BYTES - 1) / CHUNK_BYTES);
        s->chunks += s->p[k].chunks;
        off += s->p[k].run;
    }
    s->whole = off;
    *state = s;
    return LUCID_STATUS_OK;
}

static void cs_release(void *state)
{
    free(state);
}

typedef struct cs_job {
    const cs_state *s;
    const lucid_array *in;
    lucid_array *out;
} cs_job;

/* Item i: chunk i % chunks of outer step i / chunks, counting the pieces' chunks in order. */
static void cs_items(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const cs_job *j = ctx;
    const cs_state *s = j->s;
    for (size_t it = begin; it < end; it++) {
        int64_t o = (int64_t)it / s->chunks, c = (int64_t)it % s->chunks;
        int k = 0;
        while (c >= s->p[k].chunks) c -= s->p[k++].chunks;
        const piece *p = &s->p[k];
        size_t from = (size_t)c * CHUNK_BYTES;
        size_t len = p->run - from < CHUNK_BYTES ? p->run - from : CHUNK_BYTES;
        size_t wpos = (size_t)o * s->whole + p->offset + from, ppos = (size_t)o * p->run + from;
        if (s->split)
            memcpy((char *)j->out[k].data + ppos, (const char *)j->in[0].data + wpos, len);
        else
            memcpy((char *)j->out[0].data + wpos, (const char *)j->in[k].data + ppos, len);
    }
}

static lucid_status cs_run(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                           int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)workspace;
    (void)err;
    const cs_state *s = state;
    cs_job j = {s, in, out};
    lucid_threadpool_run(pool, (size_t)(s->outer * s->chunks), 1, cs_items, &j);
    return LUCID_STATUS_OK;
}

#define CS_TACTIC(SYM, NAME, LAYOUT, SUPPORTS)                                                  \
    const lucid_tactic SYM = {                                                                 \
        .name = NAME,                                                                          \
        .backend = "cpu",                                                                      \
        .preference = 100,                                                                     \
        .in_layout = LAYOUT,                                                                   \
        .out_layout = LAYOUT,                                                                  \
        .supports = SUPPORTS,                                                                  \
        .prepare = cs_prepare,                                                                 \
        .release = cs_release,                                                                 \
        .workspace = lucid_tactic_no_workspace,                                                             \
        .run = cs_run,                                                                         \
    };

CS_TACTIC(lucid_tactic_cpu_concat_split_copy, "cpu.concat_split.blockcopy", LUCID_LAYOUT_PLAIN,
          cs_plain_supports)
CS_TACTIC(lucid_tactic_cpu_concat_split_nchw16c, "cpu.concat_split.nchw16c",
          LUCID_LAYOUT_NCHW16C, cs_blocked_supports)
