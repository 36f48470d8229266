/* xnn.c - XNNPACK tactics (Debian libxnnpack-dev), float32:
 *   xnn.conv.f32.nhwc  Conv / FusedConv on channels-last activations: regular, grouped and
 *                      depthwise (XNNPACK picks its kernels by the geometry), bias, and Relu
 *                      or Clip as XNNPACK's output clamp; no residual (XNNPACK has no sum),
 *                      no other activation;
 *   xnn.gemm.f32       Gemm / FusedGemm / MatMul with a constant 2-D B (XNNPACK's fully
 *                      connected operator: A not transposed, alpha 1, C absent or a bias of
 *                      one value per output column with beta 1), Relu or Clip.
 * Weights are packed by XNNPACK when the operator is made (prepare). XNNPACK binds the input
 * and output pointers in a setup call that changes the operator, so a layer's state runs under
 * its own mutex: contexts sharing a plan take turns on these layers. Threads: XNNPACK runs on
 * the calling thread only. Its own pool (pthreadpool) next to oneDNN's OpenMP team, whose
 * threads spin between layers, fought for the same cores: on the 2-core EPYC, with XNNPACK on
 * a 2-thread pthreadpool, MobileNetV2's NHWC plan ran 113 ms against 3.2 ms for its NCHW16C
 * plan (bench/results/2026-11-27-xnnpack-threads.txt), so the tactics run single-threaded and
 * the builder times them as such against the others.
 * Deterministic (one thread, no atomics). */
#ifdef LUCID_HAVE_XNNPACK

#include <math.h>
#include <pthread.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xnnpack.h>

#include "cpu/blas_product.h"
#include "cpu/conv_direct_common.h"
#include "core/error.h"
#include "ops/op.h"
#include "tactics/tactic.h"

static pthread_once_t xnn_once = PTHREAD_ONCE_INIT;
static enum xnn_status xnn_init_status = xnn_status_uninitialized;

static void xnn_init(void)
{
    xnn_init_status = xnn_initialize(NULL);
}

static bool xnn_ready(char *why, size_t why_len)
{
    pthread_once(&xnn_once, xnn_init);
    if (xnn_init_status != xnn_status_success) {
        snprintf(why, why_len, "XNNPACK did not initialize (status %d: an unsupported processor?)",
                 (int)xnn_init_status);
        return false;
    }
    return true;
}

typedef struct xnn_state {
    xnn_operator_t op;
    bool conv; /* else fully connected */
    lucid_dconv c;
    int64_t m; /* fully connected: rows of A */
    pthread_mutex_t lock;
} xnn_state;

/* Relu and Clip are XNNPACK's output clamp; none is the whole float range. */
static bool clamp_of(const lucid_activation *a, float *lo, float *hi, char *why, size_t why_len)
{
    *lo = -INFINITY, *hi = INFINITY;
    switch (a->kind) {
    case LUCID_ACT_NONE: return true;
    case LUCID_ACT_RELU: *lo = 0; return true;
    case LUCID_ACT_CLIP:
        *lo = a->alpha, *hi = a->beta;
        if (!(*lo <= *hi)) break;
        return true;
    default: break;
    }
    snprintf(why, why_len, "XNNPACK's output clamp takes only Relu and Clip");
    return false;
}

static void xnn_release(void *state)
{
    xnn_state *s = state;
    if (!s) return;
    if (s->op) xnn_delete_operator(s->op);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Resolves (and, when full, makes) the convolution operator of node n. */
static bool conv_build(const lucid_graph *g, const lucid_node *n, bool full, xnn_state *s,
                       char *why, size_t why_len)
{
    lucid_dconv *c = &s->c;
    if (!lucid_dconv_resolve(g, n, c, why, why_len)) return false;
    if (c->fused && lucid_op_input(g, n, 3)) {
        snprintf(why, why_len, "a residual input (XNNPACK's convolution has no sum)");
        return false;
    }
    float lo, hi;
    if (!clamp_of(&c->act, &lo, &hi, why, why_len)) return false;
    const lucid_ir_tensor *w = lucid_op_input(g, n, 1), *b = lucid_op_input(g, n, 2);
    if (!w || !w->data || (b && !b->data)) {
        snprintf(why, why_len, "weights and bias must be constants");
        return false;
    }
    if (!full) return true;
    const int64_t pb = (c->oh - 1) * c->sh + (c->kh - 1) * c->dh + 1 - c->ih - c->pt;
    const int64_t pr = (c->ow - 1) * c->sw + (c->kw - 1) * c->dw + 1 - c->iw - c->pl;
    const int64_t icg = c->ic / c->group, ocg = c->oc / c->group, taps = c->kh * c->kw;
    /* OIHW to XNNPACK's [groups][group outputs][kh][kw][group inputs] */
    float *k = malloc(sizeof(float) * (size_t)(c->oc * icg * taps));
    if (!k) {
        snprintf(why, why_len, "out of memory");
        return false;
    }
    const float *src = w->data;
    for (int64_t o = 0; o < c->oc; o++)
        for (int64_t i = 0; i < icg; i++)
            for (int64_t t = 0; t < taps; t++)
                k[(o * taps + t) * icg + i] = src[(o * icg + i) * taps + t];
    enum xnn_status st = xnn_create_convolution2d_nhwc_f32(
        (uint32_t)c->pt, (uint32_t)(pr > 0 ? pr : 0), (uint32_t)(pb > 0 ? pb : 0),
        (uint32_t)c->pl, (uint32_t)c->kh, (uint32_t)c->kw, (uint32_t)c->sh, (uint32_t)c->sw,
        (uint32_t)c->dh, (uint32_t)c->dw, (uint32_t)c->group, (size_t)icg, (size_t)ocg,
        (size_t)c->ic, (size_t)c->oc, k, b ? (const float *)b->data : NULL, lo, hi, 0, &s->op);
    free(k);
    if (st != xnn_status_success) {
        snprintf(why, why_len, "XNNPACK refused the convolution (status %d)", (int)st);
        return false;
    }
    return true;
}

/* Resolves (and, when full, makes) the fully connected operator of node n. */
static bool fc_build(const lucid_graph *g, const lucid_node *n, bool full, xnn_state *s,
                     char *why, size_t why_len)
{
    lucid_blas_product p;
    if (!lucid_blas_product_resolve(g, n, &p, why, why_len)) return false;
    if (p.trans_a || p.alpha != 1.0f || (p.c && (p.beta != 1.0f || p.c_rs != 0 || p.c_cs != 1))) {
        snprintf(why, why_len, "XNNPACK's fully connected operator: A not transposed, alpha 1, "
                               "and C absent or one bias per output column");
        return false;
    }
    float lo, hi;
    if (!clamp_of(&p.act, &lo, &hi, why, why_len)) return false;
    s->m = p.m;
    if (!full) return true;
    enum xnn_status st = xnn_create_fully_connected_nc_f32(
        (size_t)p.k, (size_t)p.n, (size_t)p.k, (size_t)p.n, p.b, p.c, lo, hi,
        p.trans_b ? 0 : XNN_FLAG_TRANSPOSE_WEIGHTS, &s->op);
    if (st != xnn_status_success) {
        snprintf(why, why_len, "XNNPACK refused the fully connected layer (status %d)", (int)st);
        return false;
    }
    return true;
}

static bool xnn_build(const lucid_graph *g, const lucid_node *n, bool conv, bool full,
                      int threads, xnn_state **out, char *why, size_t why_len)
{
    *out = NULL;
    if (!xnn_ready(why, why_len)) return false;
    xnn_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(why, why_len, "out of memory");
        return false;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->conv = conv;
    (void)threads;
    if (!(conv ? conv_build : fc_build)(g, n, full, s, why, why_len)) {
        xnn_release(s);
        return false;
    }
    *out = s;
    return true;
}

/* XNNPACK picks its micro-kernels from cpuinfo and has no control to limit them: under an
 * instruction-set cap that hides a feature of this processor it would run code above the cap */
static bool xnn_cap_ok(const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!cpu || !cpu->capped) return true;
    snprintf(why, why_len,
             "XNNPACK chooses its kernels from the processor and cannot be held to the "
             "instruction-set cap %s",
             lucid_cpu_isa_name(lucid_cpu_cap_get()));
    return false;
}

static bool xnn_conv_supports(const lucid_graph *g, const lucid_node *n,
                              const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!xnn_cap_ok(cpu, why, why_len)) return false;
    if (n->op != LUCID_OP_CONV && n->op != LUCID_OP_FUSED_CONV) return false;
    xnn_state *s;
    if (!xnn_build(g, n, true, false, 1, &s, why, why_len)) return false;
    xnn_release(s);
    return true;
}

static bool xnn_gemm_supports(const lucid_graph *g, const lucid_node *n,
                              const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!xnn_cap_ok(cpu, why, why_len)) return false;
    xnn_state *s;
    if (!xnn_build(g, n, false, false, 1, &s, why, why_len)) return false;
    xnn_release(s);
    return true;
}

static lucid_status xnn_prepare(const lucid_graph *g, const lucid_node *n, bool conv,
                                int max_threads, void **state, lucid_error *err)
{
    char why[256] = "";
    xnn_state *s;
    if (!xnn_build(g, n, conv, true, max_threads, &s, why, sizeof why))
        return lucid_node_errorf(n, err, lucid_why_status(why), "%s", why);
    *state = s;
    return LUCID_STATUS_OK;
}

static lucid_status xnn_conv_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                     void **state, lucid_error *err)
{
    return xnn_prepare(g, n, true, max_threads, state, err);
}

static lucid_status xnn_gemm_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                     void **state, lucid_error *err)
{
    return xnn_prepare(g, n, false, max_threads, state, err);
}

static lucid_status xnn_run(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                            int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)workspace;
    xnn_state *s = (xnn_state *)state; /* the operator's bound pointers change: under lock */
    (void)pool;
    pthreadpool_t tp = NULL; /* the calling thread: see the top of this file */
    pthread_mutex_lock(&s->lock);
    enum xnn_status st =
        s->conv ? xnn_setup_convolution2d_nhwc_f32(s->op, (size_t)s->c.batch, (size_t)s->c.ih,
                                                   (size_t)s->c.iw, in[0].data, out[0].data, tp)
                : xnn_setup_fully_connected_nc_f32(s->op, (size_t)s->m, in[0].data, out[0].data,
                                                   tp);
    if (st == xnn_status_success) st = xnn_run_operator(s->op, tp);
    pthread_mutex_unlock(&s->lock);
    if (st != xnn_status_success)
        return lucid_errorf(err, LUCID_STATUS_INTERNAL, "XNNPACK %s failed (status %d)",
                            s->conv ? "convolution" : "fully connected", (int)st);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_xnn_conv_f32_nhwc = {
    .name = "xnn.conv.f32.nhwc",
    .backend = "xnnpack",
    .preference = 420,
    .in_layout = LUCID_LAYOUT_NHWC,
    .out_layout = LUCID_LAYOUT_NHWC,
    .supports = xnn_conv_supports,
    .prepare = xnn_conv_prepare,
    .release = xnn_release,
    .workspace = lucid_tactic_no_workspace,
    .run = xnn_run,
};

const lucid_tactic lucid_tactic_xnn_gemm_f32 = {
    .name = "xnn.gemm.f32",
    .backend = "xnnpack",
    .preference = 421,
    .supports = xnn_gemm_supports,
    .prepare = xnn_gemm_prepare,
    .release = xnn_release,
    .workspace = lucid_tactic_no_workspace,
    .run = xnn_run,
};

#endif
