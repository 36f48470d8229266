/* reorder.c - cpu.reorder.tiled: the builder's layout conversions (Reorder: plain NCHW <->
 * channels-last NHWC, plain NCHW <-> NCHW16C, which is channels-last within each block of 16
 * channels), as 16 x 16 tiles transposed per image, threads splitting the spatial
 * positions. Any dtype of 1 to 8 bytes; 4 bytes (float32) and 1 byte (int8) have fast paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/reorder.h"
#include "ops/layout.h"
#include "ops/op.h"
#include "tactics/tactic.h"

typedef struct reorder_state {
    int64_t batch, channels, spatial;
    size_t esize;
    bool to_nhwc;
} reorder_state;

static bool reorder_supports(const lucid_graph *g, const lucid_node *n,
                             const lucid_cpu_features *cpu, char *why, size_t len)
{
    (void)cpu;
    if (n->op != LUCID_OP_REORDER) return false;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    size_t es = x ? lucid_dtype_size(x->dtype) : 0;
    if (!x || !lucid_tensor_shape_known(x) || x->rank < 3 || es == 0 || es > 8) {
        snprintf(why, len, "needs a static shape of rank 3 or more and a dtype of 1 to 8 bytes");
        return false;
    }
    return true;
}

static lucid_status reorder_prepare(const lucid_graph *g, const lucid_node *n, int threads,
                                    void **state, lucid_error *err)
{
    (void)threads;
    char why[128];
    if (!reorder_supports(g, n, NULL, why, sizeof why))
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "reorder: %s", why);
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    reorder_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    lucid_layout from, to;
    lucid_reorder_layouts(n, &from, &to);
    s->batch = x->dims[0];
    s->channels = x->dims[1];
    s->spatial = 1;
    for (int d = 2; d < x->rank; d++) s->spatial *= x->dims[d];
    s->esize = lucid_dtype_size(x->dtype);
    s->to_nhwc = from == LUCID_LAYOUT_PLAIN;
    if (!lucid_layout_as_images(s->to_nhwc ? to : from, &s->batch, &s->channels)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "reorder: NCHW16C needs channels that are a multiple of 16");
    }
    *state = s;
    return LUCID_STATUS_OK;
}

static void reorder_release(void *state)
{
    free(state);
}

typedef struct reorder_job {
    const reorder_state *s;
    const unsigned char *src;
    unsigned char *dst;
    int64_t blocks; /* 16-position blocks per image */
} reorder_job;

/* Work item i: positions [16 (i % blocks), +16) of image i / blocks, every channel. */
static void reorder_items(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    const reorder_job *j = ctx;
    const reorder_state *s = j->s;
    const int64_t C = s->channels, S = s->spatial;
    const size_t es = s->esize, image = (size_t)(C * S) * es;
    for (size_t it = begin; it < end; it++) {
        const int64_t b = (int64_t)it / j->blocks, p0 = ((int64_t)it % j->blocks) * 16;
        const int64_t p1 = p0 + 16 < S ? p0 + 16 : S;
        const unsigned char *src = j->src + (size_t)b * image;
        unsigned char *dst = j->dst + (size_t)b * image;
        for (int64_t c0 = 0; c0 < C; c0 += 16) {
            const int64_t c1 = c0 + 16 < C ? c0 + 16 : C;
            if (es == 4) {
                const float *fs = (const float *)src;
                float *fd = (float *)dst;
                if (s->to_nhwc) {
                    for (int64_t p = p0; p < p1; p++)
                        for (int64_t c = c0; c < c1; c++) fd[p * C + c] = fs[c * S + p];
                } else {
                    for (int64_t c = c0; c < c1; c++)
                        for (int64_t p = p0; p < p1; p++) fd[c * S + p] = fs[p * C + c];
                }
            } else if (es == 1) {
                /* int8/uint8 activations of quantized networks */
                if (s->to_nhwc) {
                    for (int64_t p = p0; p < p1; p++)
                        for (int64_t c = c0; c < c1; c++) dst[p * C + c] = src[c * S + p];
                } else {
                    for (int64_t c = c0; c < c1; c++)
                        for (int64_t p = p0; p < p1; p++) dst[c * S + p] = src[p * C + c];
                }
            } else {
                for (int64_t p = p0; p < p1; p++)
                    for (int64_t c = c0; c < c1; c++) {
                        size_t plain = (size_t)(c * S + p) * es, last = (size_t)(p * C + c) * es;
                        if (s->to_nhwc)
                            memcpy(dst + last, src + plain, es);
                        else
                            memcpy(dst + plain, src + last, es);
                    }
            }
        }
    }
}

static lucid_status reorder_run(const void *state, const lucid_array *in, int n_in,
                                lucid_array *out, int n_out, void *workspace,
                                lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)workspace;
    (void)err;
    const reorder_state *s = state;
    reorder_job j = {s, in[0].data, out[0].data, (s->spatial + 15) / 16};
    size_t items = (size_t)(s->batch * j.blocks);
    /* about 16 KiB moved per hand-off at least */
    size_t per_item = (size_t)(16 * s->channels) * s->esize + 1;
    lucid_threadpool_run(pool, items, 16384 / per_item + 1, reorder_items, &j);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_cpu_reorder_tiled = {
    .name = "cpu.reorder.tiled",
    .backend = "cpu",
    .preference = 100,
    .supports = reorder_supports,
    .prepare = reorder_prepare,
    .release = reorder_release,
    .workspace = lucid_tactic_no_workspace,
    .run = reorder_run,
};


double lucid_cpu_reorder_ms(int64_t batch, int64_t channels, int64_t spatial, size_t esize,
                            lucid_layout other, bool to_other, lucid_threadpool *pool,
                            double budget_ms)
{
    reorder_state s = {batch, channels, spatial, esize, to_other};
    if (!lucid_layout_as_images(other, &s.batch, &s.channels)) return -1;
    size_t bytes = (size_t)(batch * channels * spatial) * esize;
    unsigned char *src = malloc(bytes + 64), *dst = malloc(bytes + 64);
    if (!src || !dst) {
        free(src);
        free(dst);
        return -2;
    }
    memset(src, 0, bytes);
    lucid_array in = {.data = src}, out = {.data = dst};
    double samples[32];
    int count = 0;
    reorder_run(&s, &in, 1, &out, 1, NULL, pool, NULL); /* warm-up */
    double start = lucid_time_now();
    while (count < 32) {
        double t0 = lucid_time_now();
        reorder_run(&s, &in, 1, &out, 1, NULL, pool, NULL);
        samples[count++] = (lucid_time_now() - t0) * 1e3;
        if (count >= 3 && (lucid_time_now() - start) * 1e3 >= budget_ms) break;
    }
    free(src);
    free(dst);
    /* the median, by insertion sort of at most 32 */
    for (int i = 1; i < count; i++)
        for (int j = i; j > 0 && samples[j] < samples[j - 1]; j--) {
            double t = samples[j];
            samples[j] = samples[j - 1];
            samples[j - 1] = t;
        }
    return count % 2 ? samples[count / 2] : 0.5 * (samples[count / 2 - 1] + samples[count / 2]);
}
