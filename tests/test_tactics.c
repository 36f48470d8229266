/* test_tactics.c - the cross-tactic test: every tactic that supports a layer is run on
 * randomized shapes (strides, pads, groups, dilations, activations) with 1 and 2 threads and
 * compared with the reference kernel; tactics that refuse a case say why. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ir/graph.h"
#include "ops/layout.h"
#include "ops/op.h"
#include "tactics/tactic.h"

static int passed, failed;
/* per tactic: cases its supports() accepted, and cases whose prepare then refused */
enum { MAX_TACTICS = 1024 };
static int accepted[MAX_TACTICS], prepare_refused[MAX_TACTICS];
static int verbose;
/* The float dtype cases are run in: float32, or float16 / bfloat16 (every float32 tensor of a
 * built case converted, constants rounded to nearest even) for the 16-bit tactics. */
static lucid_dtype case_dtype = LUCID_DTYPE_FLOAT;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_u64(void)
{
    rng += 0x9e3779b97f4a7c15ull;
    uint64_t z = rng;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int rand_int(int lo, int hi) /* inclusive */
{
    return lo + (int)(next_u64() % (uint64_t)(hi - lo + 1));
}

static float rand_float(void)
{
    return (float)((double)(next_u64() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* ---- building one-node graphs ---- */

/* QConv has 11 inputs */
#define CB_MAX_INPUTS 12

typedef struct case_builder {
    lucid_graph *g;
    int inputs[CB_MAX_INPUTS];
    int n_inputs;
    char label[256];
} case_builder;

static void cb_init(case_builder *cb, const char *fmt, ...)
{
    memset(cb, 0, sizeof *cb);
    cb->g = lucid_graph_create();
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cb->label, sizeof cb->label, fmt, ap);
    va_end(ap);
}

/* A float32 input fed at run time. */
static void cb_input(case_builder *cb, const char *name, int rank, const int64_t *dims)
{
    int t = lucid_graph_tensor(cb->g, name, NULL);
    lucid_ir_tensor *x = &cb->g->tensors[t];
    x->dtype = LUCID_DTYPE_FLOAT;
    x->rank = rank;
    for (int i = 0; i < rank; i++) x->dims[i] = dims[i];
    lucid_graph_add_input(cb->g, t, NULL);
    cb->inputs[cb->n_inputs++] = t;
}

/* A float32 constant of random values. */
static void cb_const(case_builder *cb, const char *name, int rank, const int64_t *dims)
{
    int64_t n = lucid_shape_numel(rank, dims);
    float *d = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) d[i] = rand_float();
    int t = lucid_graph_tensor(cb->g, name, NULL);
    lucid_graph_set_initializer(cb->g, t, LUCID_DTYPE_FLOAT, rank, dims, d,
                                sizeof(float) * (size_t)n, NULL);
    cb->inputs[cb->n_inputs++] = t;
}

static void cb_absent(case_builder *cb)
{
    cb->inputs[cb->n_inputs++] = -1;
}

static lucid_node *cb_node(case_builder *cb, const char *domain, const char *op, int opset)
{
    int y = lucid_graph_tensor(cb->g, "y", NULL);
    int i = lucid_graph_add_node(cb->g, "layer", op, domain, opset, cb->inputs, cb->n_inputs, &y,
                                 1, NULL);
    lucid_graph_add_output(cb->g, y, NULL);
    return &cb->g->nodes[i];
}

static void attr_ints(lucid_node *n, const char *name, int count, const int64_t *v)
{
    lucid_attr a = {0};
    a.name = lucid_strdup(name);
    a.type = LUCID_ATTR_INTS;
    a.count = (size_t)count;
    a.ints = malloc(sizeof(int64_t) * (size_t)(count ? count : 1));
    memcpy(a.ints, v, sizeof(int64_t) * (size_t)count);
    lucid_node_add_attr(n, &a, NULL);
}

static void attr_int(lucid_node *n, const char *name, int64_t v)
{
    lucid_attr a = {0};
    a.name = lucid_strdup(name);
    a.type = LUCID_ATTR_INT;
    a.i = v;
    lucid_node_add_attr(n, &a, NULL);
}

static void attr_float(lucid_node *n, const char *name, float v)
{
    lucid_attr a = {0};
    a.name = lucid_strdup(name);
    a.type = LUCID_ATTR_FLOAT;
    a.f = v;
    lucid_node_add_attr(n, &a, NULL);
}

static void attr_string(lucid_node *n, const char *name, const char *v)
{
    lucid_attr a = {0};
    a.name = lucid_strdup(name);
    a.type = LUCID_ATTR_STRING;
    a.s = lucid_strdup(v);
    lucid_node_add_attr(n, &a, NULL);
}

/* A fused layer's activation attribute; "Gelu tanh" is Gelu with activation_approximate. */
static void attr_activation(lucid_node *n, const char *act)
{
    const char *space = strchr(act, ' ');
    if (!space) {
        attr_string(n, "activation", act);
        return;
    }
    char name[32];
    snprintf(name, sizeof name, "%.*s", (int)(space - act), act);
    attr_string(n, "activation", name);
    attr_string(n, "activation_approximate", space + 1);
}

/* ---- running every tactic on a finished case ---- */

static void fill_array(const lucid_ir_tensor *t, void *data, lucid_array *a)
{
    memset(a, 0, sizeof *a);
    if (!t) return;
    a->dtype = t->dtype;
    a->rank = t->rank;
    for (int i = 0; i < t->rank; i++) a->dims[i] = t->dims[i];
    a->data = data;
    a->nbytes = lucid_tensor_nbytes(t);
}

/* a's 4-D data from layout `from` to `to` in dst (one of them plain). */
static void to_layout(const lucid_array *a, void *dst, lucid_layout from, lucid_layout to)
{
    lucid_layout_convert(a->data, dst, a->dims[0], a->dims[1], a->dims[2] * a->dims[3],
                         lucid_dtype_size(a->dtype), from, to);
}

/* Prepares tactic ti (2 threads) on n, counting the case as accepted. UNSUPPORTED is a
 * library's own choice at preparation (oneDNN may pick another layout for more threads than
 * supports() asked about), which the builder drops as a candidate: counted, not a failure. Any
 * other error fails. True when *state is ready to run. */
static bool prepare_counted(size_t ti, const lucid_graph *g, const lucid_node *n, const char *label,
                            void **state, lucid_error *err)
{
    const lucid_tactic *tac = lucid_tactic_at(ti);
    lucid_status st = tac->prepare(g, n, 2, state, err);
    if (ti < MAX_TACTICS) accepted[ti]++;
    if (st == LUCID_STATUS_UNSUPPORTED) {
        if (verbose) printf("  %s refuses %s at prepare: %s\n", tac->name, label, err->message);
        if (ti < MAX_TACTICS) prepare_refused[ti]++;
        return false;
    }
    if (st) {
        printf("FAIL %s on %s: prepare: %s\n", tac->name, label, err->message);
        failed++;
        return false;
    }
    return true;
}

static void check_case(case_builder *cb, const lucid_cpu_features *cpu)
{
    lucid_graph *g = cb->g;
    lucid_error err;
    if (lucid_graph_finalize(g, &err)) {
        printf("FAIL %s: case does not build: %s\n", cb->label, err.message);
        failed++;
        lucid_graph_destroy(g);
        return;
    }
    if (case_dtype != LUCID_DTYPE_FLOAT) {
        /* the 16-bit form of the case: float32 tensors converted, constants rounded */
        for (int t = 0; t < g->n_tensors; t++) {
            lucid_ir_tensor *x = &g->tensors[t];
            if (x->dtype != LUCID_DTYPE_FLOAT) continue;
            if (x->data) {
                int64_t ne = lucid_tensor_numel(x);
                uint16_t *h = malloc(sizeof(uint16_t) * (size_t)(ne ? ne : 1));
                for (int64_t i = 0; i < ne; i++)
                    lucid_store_f64(case_dtype, h, i, ((const float *)x->data)[i]);
                free(x->data);
                x->data = h;
                x->nbytes = sizeof(uint16_t) * (size_t)ne;
            }
            x->dtype = case_dtype;
        }
        if (lucid_graph_infer(g, &err)) {
            printf("FAIL %s (%s): case does not build: %s\n", cb->label,
                   lucid_dtype_name(case_dtype), err.message);
            failed++;
            lucid_graph_destroy(g);
            return;
        }
        size_t len = strlen(cb->label);
        snprintf(cb->label + len, sizeof cb->label - len, " [%s]", lucid_dtype_name(case_dtype));
    }
    const lucid_node *n = &g->nodes[0];
    lucid_array in[CB_MAX_INPUTS], out_ref, out;
    void *in_data[CB_MAX_INPUTS] = {0};
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, k);
        if (t && !t->data) {
            /* floats in [-1, 1), the int8/uint8 of quantized layers over their whole range */
            int64_t ne = lucid_tensor_numel(t);
            /* 64 bytes past the end: XNNPACK's kernels may read (not use) up to 16 there, as
             * they may past any tensor of a context's arena, which keeps the same margin */
            void *d = malloc(lucid_tensor_nbytes(t) + 64);
            for (int64_t i = 0; i < ne; i++)
                lucid_store_f64(t->dtype, d, i,
                                t->dtype == LUCID_DTYPE_INT8    ? rand_int(-128, 127)
                                : t->dtype == LUCID_DTYPE_UINT8 ? rand_int(0, 255)
                                                                : rand_float());
            in_data[k] = d;
        }
        fill_array(t, t ? (t->data ? t->data : in_data[k]) : NULL, &in[k]);
    }
    const lucid_ir_tensor *yt = lucid_op_output(g, n, 0);
    size_t ybytes = lucid_tensor_nbytes(yt);
    int64_t yn = lucid_tensor_numel(yt);
    const lucid_dtype ydt = yt->dtype;
    /* y and yref hold the output's dtype; yf and yref_f their float32 values */
    void *yref = malloc(ybytes ? ybytes : 1), *y = malloc(ybytes ? ybytes : 1);
    float *yref_f = malloc(sizeof(float) * (size_t)(yn ? yn : 1));
    float *yf = malloc(sizeof(float) * (size_t)(yn ? yn : 1));
    fill_array(yt, yref, &out_ref);
    if (lucid_op_get(n->op)->run(n, in, n->n_inputs, &out_ref, 1, &err)) {
        printf("FAIL %s: reference kernel: %s\n", cb->label, err.message);
        failed++;
        goto done;
    }
    float scale = 0;
    for (int64_t i = 0; i < yn; i++) {
        yref_f[i] = (float)lucid_load_f64(yt->dtype, yref, i);
        scale = fmaxf(scale, fabsf(yref_f[i]));
    }
    /* 16-bit outputs: float32 arithmetic in another order may round the other way, one unit
     * in the last place of the 16-bit type (at most 2^-7 of the value for bfloat16, 2^-10
     * for float16) */
    const float ulp16 = yt->dtype == LUCID_DTYPE_BFLOAT16 ? 0x1p-7f
                        : yt->dtype == LUCID_DTYPE_FLOAT16 ? 0x1p-10f
                                                           : 0.0f;
    lucid_threadpool *pool2 = lucid_threadpool_create(2);
    for (size_t ti = 0; ti < lucid_tactic_count(); ti++) {
        const lucid_tactic *tac = lucid_tactic_at(ti);
        if (tac == &lucid_tactic_reference) continue;
        if (tac->device != LUCID_DEVICE_CPU) continue; /* GPU tactics: tests/test_cuda.c */
        char why[256] = "";
        if (!tac->supports(g, n, cpu, why, sizeof why)) {
            if (verbose && why[0]) printf("  %s refuses %s: %s\n", tac->name, cb->label, why);
            continue;
        }
        void *state = NULL;
        if (!prepare_counted(ti, g, n, cb->label, &state, &err)) continue;
        /* a channels-last or NCHW16C tactic gets its 4-D activations in its layout (those it
         * keeps in it) and its output is turned back before comparing */
        const lucid_layout lay = tac->in_layout;
        const lucid_layout ylay = lucid_layout_of_tensor(yt, tac->out_layout);
        const bool nhwc = ylay != LUCID_LAYOUT_PLAIN;
        lucid_array tin[CB_MAX_INPUTS];
        void *tdata[CB_MAX_INPUTS] = {0};
        for (int k = 0; k < n->n_inputs; k++) {
            tin[k] = in[k];
            const lucid_ir_tensor *t = lucid_op_input(g, n, k);
            if (!t || t->data || t->rank != 4) continue;
            const lucid_layout tl = lucid_layout_of_tensor(t, lay);
            if (tl == LUCID_LAYOUT_PLAIN) continue;
            tdata[k] = malloc(in[k].nbytes + 64);
            to_layout(&in[k], tdata[k], LUCID_LAYOUT_PLAIN, tl);
            tin[k].data = tdata[k];
        }
        void *ynhwc = nhwc ? malloc(ybytes ? ybytes : 1) : NULL;
        for (int threads = 1; threads <= 2; threads++) {
            lucid_threadpool *pool = threads == 1 ? NULL : pool2;
            size_t ws = tac->workspace(state, threads);
            void *work = ws ? aligned_alloc(64, (ws + 63) / 64 * 64) : NULL;
            memset(y, 0xff, ybytes); /* NaN: unwritten outputs show up */
            fill_array(yt, nhwc ? (void *)ynhwc : (void *)y, &out);
            if (nhwc) memset(ynhwc, 0xff, ybytes);
            lucid_status st = tac->run(state, tin, n->n_inputs, &out, 1, work, pool, &err);
            if (!st && nhwc) to_layout(&out, y, ylay, LUCID_LAYOUT_PLAIN);
            free(work);
            if (st) {
                printf("FAIL %s on %s (%d threads): %s\n", tac->name, cb->label, threads,
                       err.message);
                failed++;
                continue;
            }
            float worst = 0;
            int64_t at = 0;
            for (int64_t i = 0; i < yn; i++) {
                yf[i] = (float)lucid_load_f64(yt->dtype, y, i);
                /* the 16-bit rounding allowance is taken off the difference */
                float d = fabsf(yf[i] - yref_f[i]) - 1.01f * ulp16 * fabsf(yref_f[i]);
                if (d < 0) d = 0;
                if (!(d <= worst)) { /* catches NaN too */
                    worst = isnan(d) ? INFINITY : d;
                    at = i;
                }
            }
            /* FP32 with a different summation order: relative to the output's scale; a
             * quantized output within one unit in the last place (the requantization rounds
             * a float computed in another order) */
            float tol = ydt == LUCID_DTYPE_INT8 || ydt == LUCID_DTYPE_UINT8
                            ? 1.0f
                            : 1e-4f * (scale > 1 ? scale : 1);
            if (worst <= tol) {
                passed++;
                if (verbose)
                    printf("ok   %s on %s (%d threads): max err %.3g\n", tac->name, cb->label,
                           threads, worst);
            } else {
                printf("FAIL %s on %s (%d threads): element %lld is %g, reference %g\n",
                       tac->name, cb->label, threads, (long long)at, yf[at], yref_f[at]);
                failed++;
            }
        }
        tac->release(state);
        for (int k = 0; k < CB_MAX_INPUTS; k++) free(tdata[k]);
        free(ynhwc);
    }
    lucid_threadpool_destroy(pool2);
done:
    for (int k = 0; k < CB_MAX_INPUTS; k++) free(in_data[k]);
    free(yref);
    free(y);
    free(yref_f);
    free(yf);
    lucid_graph_destroy(g);
}

/* ---- the cases ---- */

static const char *const activations[] = {"",        "Relu",        "Clip",      "LeakyRelu",
                                          "Sigmoid", "HardSigmoid", "HardSwish", "SiLU",
                                          "Tanh",    "Gelu",        "Gelu tanh"};
#define N_ACTIVATIONS ((int)(sizeof activations / sizeof activations[0]))

/* Channel counts in whole blocks of 16 (and an occasional 3-channel input), so that the
 * NCHW16C tactics take the cases. */
static bool blocked_channels;

static void conv_cases(const lucid_cpu_features *cpu, int count, bool fused)
{
    for (int c = 0; c < count; c++) {
        int kind = rand_int(0, blocked_channels ? 3 : 4); /* 0 general, 1 pointwise,
                                                              2 depthwise, 3 3x3 s1, 4 grouped */
        int64_t n = rand_int(1, 2), ic, oc, groups = 1, k, stride = rand_int(1, 2),
                dil = rand_int(1, 2), h = rand_int(5, 20), w = rand_int(5, 20);
        switch (kind) {
        case 1: k = 1, ic = rand_int(1, 40), oc = rand_int(1, 40), dil = 1; break;
        case 2: ic = oc = groups = rand_int(1, 24), k = rand_int(0, 1) ? 3 : 5; break;
        case 3: k = 3, ic = rand_int(1, 24), oc = rand_int(1, 24), stride = 1, dil = 1; break;
        case 4:
            groups = rand_int(2, 4), ic = groups * rand_int(1, 6), oc = groups * rand_int(1, 6),
            k = 3;
            break;
        default: k = rand_int(1, 5), ic = rand_int(1, 20), oc = rand_int(1, 20); break;
        }
        if (blocked_channels) {
            oc = 16 * rand_int(1, 3);
            ic = kind == 2 ? oc : kind == 0 && rand_int(0, 3) == 0 ? 3 : 16 * rand_int(1, 3);
            if (kind == 2) groups = ic;
        }
        int64_t pads[4] = {rand_int(0, 2), rand_int(0, 2), rand_int(0, 2), rand_int(0, 2)};
        if ((h + pads[0] + pads[2] - dil * (k - 1) - 1) < 0 ||
            (w + pads[1] + pads[3] - dil * (k - 1) - 1) < 0)
            h = w = dil * (k - 1) + 1 + 2;
        const char *act = fused ? activations[rand_int(0, N_ACTIVATIONS - 1)] : "";
        bool bias = rand_int(0, 3) != 0, residual = fused && rand_int(0, 1);
        case_builder cb;
        cb_init(&cb, "%s n%lld ic%lld oc%lld g%lld k%lld s%lld d%lld %lldx%lld pads %lld,%lld,%lld,%lld%s%s%s%s",
                fused ? "FusedConv" : "Conv", (long long)n, (long long)ic, (long long)oc,
                (long long)groups, (long long)k, (long long)stride, (long long)dil, (long long)h,
                (long long)w, (long long)pads[0], (long long)pads[1], (long long)pads[2],
                (long long)pads[3], bias ? " bias" : "", residual ? " residual" : "",
                act[0] ? " " : "", act);
        int64_t xd[4] = {n, ic, h, w}, wd[4] = {oc, ic / groups, k, k}, bd[1] = {oc};
        cb_input(&cb, "x", 4, xd);
        cb_const(&cb, "w", 4, wd);
        if (bias)
            cb_const(&cb, "b", 1, bd);
        else if (residual)
            cb_absent(&cb);
        if (residual) {
            int64_t oh = (h + pads[0] + pads[2] - dil * (k - 1) - 1) / stride + 1;
            int64_t ow = (w + pads[1] + pads[3] - dil * (k - 1) - 1) / stride + 1;
            int64_t zd[4] = {n, oc, oh, ow};
            cb_input(&cb, "z", 4, zd);
        }
        lucid_node *nd = cb_node(&cb, fused ? LUCID_DOMAIN : "", fused ? "FusedConv" : "Conv",
                                 fused ? 1 : 13);
        int64_t ks[2] = {k, k}, st[2] = {stride, stride}, dl[2] = {dil, dil};
        attr_ints(nd, "kernel_shape", 2, ks);
        attr_ints(nd, "strides", 2, st);
        attr_ints(nd, "dilations", 2, dl);
        attr_ints(nd, "pads", 4, pads);
        attr_int(nd, "group", groups);
        if (fused) {
            attr_activation(nd, act);
            if (strcmp(act, "Clip") == 0) {
                attr_float(nd, "activation_alpha", 0.0f);
                attr_float(nd, "activation_beta", 6.0f);
            } else if (strcmp(act, "LeakyRelu") == 0) {
                attr_float(nd, "activation_alpha", 0.1f);
            } else if (strcmp(act, "HardSigmoid") == 0) {
                attr_float(nd, "activation_alpha", 0.2f);
                attr_float(nd, "activation_beta", 0.5f);
            }
        }
        check_case(&cb, cpu);
    }
}

static void gemm_cases(const lucid_cpu_features *cpu, int count, bool fused)
{
    for (int c = 0; c < count; c++) {
        int64_t m = rand_int(1, 70), k = rand_int(1, 300), nn = rand_int(1, 90);
        int ta = rand_int(0, 1), tb = rand_int(0, 1), bias = rand_int(0, 2);
        float alpha = rand_int(0, 1) ? 1.0f : 0.5f, beta = rand_int(0, 1) ? 1.0f : 2.0f;
        const char *act = fused ? activations[rand_int(0, N_ACTIVATIONS - 1)] : "";
        case_builder cb;
        cb_init(&cb, "%s m%lld k%lld n%lld tA%d tB%d bias%d alpha%.1f beta%.1f %s",
                fused ? "FusedGemm" : "Gemm", (long long)m, (long long)k, (long long)nn, ta, tb,
                bias, alpha, beta, act);
        int64_t ad[2] = {ta ? k : m, ta ? m : k}, bd[2] = {tb ? nn : k, tb ? k : nn};
        cb_input(&cb, "a", 2, ad);
        cb_const(&cb, "b", 2, bd);
        if (bias == 1) {
            int64_t cd[1] = {nn};
            cb_const(&cb, "c", 1, cd);
        } else if (bias == 2) {
            int64_t cd[2] = {m, nn};
            cb_const(&cb, "c", 2, cd);
        }
        lucid_node *nd = cb_node(&cb, fused ? LUCID_DOMAIN : "", fused ? "FusedGemm" : "Gemm",
                                 fused ? 1 : 13);
        attr_int(nd, "transA", ta);
        attr_int(nd, "transB", tb);
        attr_float(nd, "alpha", alpha);
        attr_float(nd, "beta", beta);
        if (fused) attr_activation(nd, act);
        check_case(&cb, cpu);
    }
    for (int c = 0; c < count; c++) {
        int64_t batch = rand_int(1, 3), m = rand_int(1, 50), k = rand_int(1, 200),
                nn = rand_int(1, 70);
        case_builder cb;
        cb_init(&cb, "MatMul batch%lld m%lld k%lld n%lld", (long long)batch, (long long)m,
                (long long)k, (long long)nn);
        int64_t ad[3] = {batch, m, k}, bd[2] = {k, nn};
        cb_input(&cb, "a", 3, ad);
        cb_const(&cb, "b", 2, bd);
        cb_node(&cb, "", "MatMul", 13);
        check_case(&cb, cpu);
    }
}

/* Concat of 2 to 4 inputs along a random axis (with blocked_channels: along channels, each
 * input whole blocks of 16). */
static void concat_cases(const lucid_cpu_features *cpu, int count)
{
    for (int c = 0; c < count; c++) {
        const int rank = blocked_channels ? 4 : rand_int(1, 4), k = rand_int(2, 4);
        const int axis = blocked_channels ? 1 : rand_int(0, rank - 1);
        int64_t d[4];
        for (int i = 0; i < rank; i++) d[i] = rand_int(1, i == 0 ? 2 : 12);
        case_builder cb;
        cb_init(&cb, "Concat of %d rank %d axis %d", k, rank, axis);
        for (int q = 0; q < k; q++) {
            int64_t e[4];
            memcpy(e, d, sizeof e);
            e[axis] = blocked_channels ? 16 * rand_int(1, 3) : rand_int(1, 12);
            char name[8];
            snprintf(name, sizeof name, "x%d", q);
            cb_input(&cb, name, rank, e);
        }
        lucid_node *nd = cb_node(&cb, "", "Concat", 13);
        attr_int(nd, "axis", rand_int(0, 1) ? axis : axis - rank);
        check_case(&cb, cpu);
    }
}

/* Split into 2 to 4 outputs along a random axis (with blocked_channels: channels, whole blocks
 * of 16): every output of every tactic that takes it against the reference kernel, exactly
 * (a copy), with 1 and 2 threads. (check_case compares one output.) */
static void split_cases(const lucid_cpu_features *cpu, int count)
{
    for (int c = 0; c < count; c++) {
        const int rank = blocked_channels ? 4 : rand_int(1, 4), k = rand_int(2, 4);
        const int axis = blocked_channels ? 1 : rand_int(0, rank - 1);
        int64_t d[4], sizes[4], total = 0;
        for (int i = 0; i < rank; i++) d[i] = rand_int(1, i == 0 ? 2 : 10);
        for (int q = 0; q < k; q++) total += sizes[q] = blocked_channels ? 16 * rand_int(1, 3)
                                                                        : rand_int(1, 9);
        d[axis] = total;
        case_builder cb;
        cb_init(&cb, "Split into %d rank %d axis %d", k, rank, axis);
        cb_input(&cb, "x", rank, d);
        int64_t sd[1] = {k};
        int st_t = lucid_graph_tensor(cb.g, "split", NULL);
        int64_t *sv = malloc(sizeof sizes);
        memcpy(sv, sizes, sizeof sizes);
        lucid_graph_set_initializer(cb.g, st_t, LUCID_DTYPE_INT64, 1, sd, sv,
                                    sizeof(int64_t) * (size_t)k, NULL);
        cb.inputs[cb.n_inputs++] = st_t;
        int outs[4];
        for (int q = 0; q < k; q++) {
            char name[8];
            snprintf(name, sizeof name, "y%d", q);
            outs[q] = lucid_graph_tensor(cb.g, name, NULL);
        }
        int ni = lucid_graph_add_node(cb.g, "layer", "Split", "", 13, cb.inputs, cb.n_inputs, outs,
                                      k, NULL);
        for (int q = 0; q < k; q++) lucid_graph_add_output(cb.g, outs[q], NULL);
        attr_int(&cb.g->nodes[ni], "axis", rand_int(0, 1) ? axis : axis - rank);
        lucid_error err;
        if (lucid_graph_finalize(cb.g, &err)) {
            printf("FAIL %s: case does not build: %s\n", cb.label, err.message);
            failed++;
            lucid_graph_destroy(cb.g);
            continue;
        }
        const lucid_graph *g = cb.g;
        const lucid_node *n = &g->nodes[0];
        const lucid_ir_tensor *xt = lucid_op_input(g, n, 0);
        lucid_array in[2], ref[4], got[4];
        float *x = malloc(lucid_tensor_nbytes(xt) + 4), *xl = malloc(lucid_tensor_nbytes(xt) + 4);
        for (int64_t i = 0; i < lucid_tensor_numel(xt); i++) x[i] = rand_float();
        fill_array(xt, x, &in[0]);
        fill_array(lucid_op_input(g, n, 1), lucid_op_input(g, n, 1)->data, &in[1]);
        void *rd[4], *gd[4], *pd[4];
        for (int q = 0; q < k; q++) {
            const lucid_ir_tensor *t = lucid_op_output(g, n, q);
            rd[q] = malloc(lucid_tensor_nbytes(t) + 4);
            gd[q] = malloc(lucid_tensor_nbytes(t) + 4);
            pd[q] = malloc(lucid_tensor_nbytes(t) + 4);
            fill_array(t, rd[q], &ref[q]);
        }
        if (lucid_op_get(n->op)->run(n, in, n->n_inputs, ref, k, &err)) {
            printf("FAIL %s: reference kernel: %s\n", cb.label, err.message);
            failed++;
        }
        lucid_threadpool *pool2 = lucid_threadpool_create(2);
        for (size_t ti = 0; ti < lucid_tactic_count(); ti++) {
            const lucid_tactic *tac = lucid_tactic_at(ti);
            char why[256] = "";
            if (tac == &lucid_tactic_reference || tac->device != LUCID_DEVICE_CPU ||
                !tac->supports(g, n, cpu, why, sizeof why))
                continue;
            void *state = NULL;
            if (!prepare_counted(ti, g, n, cb.label, &state, &err)) continue;
            const lucid_layout lay = lucid_layout_of_tensor(xt, tac->in_layout);
            lucid_array tin = in[0];
            if (lay != LUCID_LAYOUT_PLAIN) {
                to_layout(&in[0], xl, LUCID_LAYOUT_PLAIN, lay);
                tin.data = xl;
            }
            lucid_array targs[2] = {tin, in[1]};
            for (int threads = 1; threads <= 2; threads++) {
                for (int q = 0; q < k; q++) {
                    fill_array(lucid_op_output(g, n, q), lay != LUCID_LAYOUT_PLAIN ? pd[q] : gd[q],
                               &got[q]);
                    memset(got[q].data, 0xff, got[q].nbytes);
                }
                size_t ws = tac->workspace(state, threads);
                void *work = ws ? aligned_alloc(64, (ws + 63) / 64 * 64) : NULL;
                lucid_status st = tac->run(state, targs, n->n_inputs, got, k, work,
                                           threads == 1 ? NULL : pool2, &err);
                free(work);
                bool same = !st;
                for (int q = 0; q < k && same; q++) {
                    if (lay != LUCID_LAYOUT_PLAIN) {
                        to_layout(&got[q], gd[q], lay, LUCID_LAYOUT_PLAIN);
                        got[q].data = gd[q];
                    }
                    same = memcmp(gd[q], rd[q], ref[q].nbytes) == 0;
                }
                if (same) {
                    passed++;
                } else {
                    printf("FAIL %s on %s (%d threads): %s\n", tac->name, cb.label, threads,
                           st ? err.message : "an output differs from the reference");
                    failed++;
                }
            }
            tac->release(state);
        }
        lucid_threadpool_destroy(pool2);
        for (int q = 0; q < k; q++) {
            free(rd[q]);
            free(gd[q]);
            free(pd[q]);
        }
        free(x);
        free(xl);
        lucid_graph_destroy(cb.g);
    }
}

static void pool_cases(const lucid_cpu_features *cpu, int count)
{
    for (int c = 0; c < count; c++) {
        int max = rand_int(0, 1);
        int64_t n = rand_int(1, 2), ch = rand_int(1, 32), h = rand_int(4, 30), w = rand_int(4, 30),
                k = rand_int(1, 3), s = rand_int(1, 2);
        if (blocked_channels) ch = 16 * rand_int(1, 3);
        int64_t pads[4] = {rand_int(0, k - 1), rand_int(0, k - 1), rand_int(0, k - 1),
                           rand_int(0, k - 1)};
        int ceil_mode = rand_int(0, 1), cip = rand_int(0, 1);
        case_builder cb;
        cb_init(&cb, "%s n%lld c%lld %lldx%lld k%lld s%lld ceil%d cip%d", max ? "MaxPool" : "AveragePool",
                (long long)n, (long long)ch, (long long)h, (long long)w, (long long)k,
                (long long)s, ceil_mode, cip);
        int64_t xd[4] = {n, ch, h, w};
        cb_input(&cb, "x", 4, xd);
        lucid_node *nd = cb_node(&cb, "", max ? "MaxPool" : "AveragePool", 13);
        int64_t ks[2] = {k, k}, st[2] = {s, s};
        attr_ints(nd, "kernel_shape", 2, ks);
        attr_ints(nd, "strides", 2, st);
        attr_ints(nd, "pads", 4, pads);
        attr_int(nd, "ceil_mode", ceil_mode);
        if (!max) attr_int(nd, "count_include_pad", cip);
        check_case(&cb, cpu);
    }
    for (int c = 0; c < count / 4 + 1; c++) {
        int64_t xd[4] = {rand_int(1, 2), rand_int(1, 64), rand_int(1, 14), rand_int(1, 14)};
        if (blocked_channels) xd[1] = 16 * rand_int(1, 4);
        case_builder cb;
        cb_init(&cb, "GlobalAveragePool %lldx%lldx%lldx%lld", (long long)xd[0], (long long)xd[1],
                (long long)xd[2], (long long)xd[3]);
        cb_input(&cb, "x", 4, xd);
        cb_node(&cb, "", "GlobalAveragePool", 13);
        check_case(&cb, cpu);
    }
}

static void elementwise_cases(const lucid_cpu_features *cpu, int count)
{
    static const char *const unary[] = {"Relu", "Sigmoid", "Tanh", "HardSwish", "Exp"};
    for (int c = 0; c < count; c++) {
        int64_t d[4] = {1, rand_int(1, 64), rand_int(1, 20), rand_int(1, 20)};
        if (blocked_channels) d[1] = 16 * rand_int(1, 4);
        const char *op = unary[rand_int(0, 4)];
        case_builder cb;
        cb_init(&cb, "%s %lldx%lldx%lld", op, (long long)d[1], (long long)d[2], (long long)d[3]);
        cb_input(&cb, "x", 4, d);
        cb_node(&cb, "", op, 14);
        check_case(&cb, cpu);
    }
    static const char *const binary[] = {"Add", "Mul", "Sub"};
    for (int c = 0; c < count; c++) {
        int64_t d[4] = {rand_int(1, 2), rand_int(1, 64), rand_int(1, 20), rand_int(1, 20)};
        if (blocked_channels) d[1] = 16 * rand_int(1, 4), d[0] = rand_int(1, 3);
        int64_t e[4] = {d[0], d[1], d[2], d[3]};
        /* same shape, per channel, scalar, per image and channel, per channel as [C,1,1] */
        int form = rand_int(0, 4), er = 4;
        if (form == 1) e[0] = 1, e[2] = 1, e[3] = 1;
        if (form == 2) e[0] = e[1] = e[2] = e[3] = 1;
        if (form == 3) e[2] = 1, e[3] = 1;
        if (form == 4) e[0] = d[1], e[1] = 1, e[2] = 1, er = 3;
        const char *op = binary[rand_int(0, 2)];
        const bool small_first = rand_int(0, 1); /* Sub's order matters */
        case_builder cb;
        cb_init(&cb, "%s form%d%s %lldx%lldx%lldx%lld", op, form, small_first ? " swapped" : "",
                (long long)d[0], (long long)d[1], (long long)d[2], (long long)d[3]);
        if (small_first) cb_input(&cb, "b", er, e);
        cb_input(&cb, "a", 4, d);
        if (!small_first) cb_input(&cb, "b", er, e);
        cb_node(&cb, "", op, 14);
        check_case(&cb, cpu);
    }
}

/* Inference BatchNormalization, and FusedBatchNormalization with each activation: random
 * shapes (rank 2 to 5), per-channel constants with a positive variance. */
static void batchnorm_cases(const lucid_cpu_features *cpu, int count)
{
    for (int c = 0; c < count; c++) {
        int rank = blocked_channels ? 4 : rand_int(2, 5);
        int64_t d[5] = {rand_int(1, 3), rand_int(1, 70), rand_int(1, 19), rand_int(1, 23),
                        rand_int(1, 3)};
        if (blocked_channels) d[1] = 16 * rand_int(1, 4);
        bool fused = c % 2 == 1;
        const char *act = fused ? activations[rand_int(0, N_ACTIVATIONS - 1)] : "";
        case_builder cb;
        cb_init(&cb, "%s rank %d %lldx%lldx%lldx%lld %s", fused ? "FusedBatchNormalization"
                                                               : "BatchNormalization",
                rank, (long long)d[0], (long long)d[1], (long long)(rank > 2 ? d[2] : 1),
                (long long)(rank > 3 ? d[3] : 1), act);
        cb_input(&cb, "x", rank, d);
        const char *names[4] = {"scale", "B", "mean", "var"};
        for (int k = 0; k < 4; k++) cb_const(&cb, names[k], 1, &d[1]);
        float *var = cb.g->tensors[cb.inputs[4]].data;
        for (int64_t i = 0; i < d[1]; i++) var[i] = fabsf(var[i]) + 0.05f;
        lucid_node *nd = cb_node(&cb, fused ? "lucid" : "", fused ? "FusedBatchNormalization"
                                                                 : "BatchNormalization",
                                 fused ? 1 : 15);
        attr_float(nd, "epsilon", rand_int(0, 1) ? 1e-5f : 1e-3f);
        if (act[0]) attr_activation(nd, act);
        if (strcmp(act, "LeakyRelu") == 0) attr_float(nd, "activation_alpha", 0.1f);
        if (strcmp(act, "Clip") == 0) {
            attr_float(nd, "activation_alpha", -0.5f);
            attr_float(nd, "activation_beta", 0.5f);
        }
        check_case(&cb, cpu);
    }
}

/* ---- the direct-family kernels' shapes: zoo-like depthwise, stems, and the elementwise
 * forms the fused layers leave behind ---- */

static void direct_kernel_cases(const lucid_cpu_features *cpu, int count)
{
    static const char *const dw_acts[] = {"Clip", "SiLU", "HardSwish", "Relu", "", "Gelu tanh"};
    bool fused_ok = lucid_op_get(LUCID_OP_FUSED_CONV)->run != NULL;
    for (int c = 0; c < count; c++) {
        /* depthwise (MobileNetV2 / EfficientNet) or a 3-channel stem (ResNet 7x7/2, 3x3/2) */
        bool dw = c % 2 == 0, fused = fused_ok && rand_int(0, 1);
        int64_t n = rand_int(1, 2), ch = dw ? rand_int(16, 64) : 3, oc = dw ? ch : rand_int(8, 40);
        int64_t k = dw ? (rand_int(0, 1) ? 3 : 5) : (rand_int(0, 1) ? 7 : 3);
        int64_t s = rand_int(1, 2), hw = rand_int(20, 70), p = k / 2;
        const char *act = fused ? dw_acts[rand_int(0, 5)] : "";
        bool residual = fused && s == 1 && rand_int(0, 1);
        case_builder cb;
        cb_init(&cb, "%s %s n%lld c%lld->%lld k%lld s%lld %lldx%lld%s %s",
                fused ? "FusedConv" : "Conv", dw ? "depthwise" : "stem", (long long)n,
                (long long)ch, (long long)oc, (long long)k, (long long)s, (long long)hw,
                (long long)hw, residual ? " residual" : "", act);
        int64_t xd[4] = {n, ch, hw, hw}, wd[4] = {oc, dw ? 1 : ch, k, k}, bd[1] = {oc};
        cb_input(&cb, "x", 4, xd);
        cb_const(&cb, "w", 4, wd);
        cb_const(&cb, "b", 1, bd);
        if (residual) {
            int64_t zd[4] = {n, oc, hw, hw};
            cb_input(&cb, "z", 4, zd);
        }
        lucid_node *nd = cb_node(&cb, fused ? LUCID_DOMAIN : "", fused ? "FusedConv" : "Conv",
                                 fused ? 1 : 13);
        int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {p, p, p, p};
        attr_ints(nd, "kernel_shape", 2, ks);
        attr_ints(nd, "strides", 2, st);
        attr_ints(nd, "pads", 4, pads);
        attr_int(nd, "group", dw ? ch : 1);
        if (fused) {
            attr_activation(nd, act);
            if (strcmp(act, "Clip") == 0) {
                attr_float(nd, "activation_alpha", 0.0f);
                attr_float(nd, "activation_beta", 6.0f);
            }
        }
        check_case(&cb, cpu);
    }
    for (int c = 0; c < count; c++) {
        /* Softmax over the last axis, Clip with bound inputs, LeakyRelu, HardSigmoid */
        int64_t d[3] = {rand_int(1, 4), rand_int(1, 9), rand_int(1, 1100)};
        static const char *const ops[] = {"Softmax", "Clip", "LeakyRelu", "HardSigmoid", "Tanh"};
        const char *op = ops[rand_int(0, 4)];
        case_builder cb;
        cb_init(&cb, "%s %lldx%lldx%lld", op, (long long)d[0], (long long)d[1], (long long)d[2]);
        cb_input(&cb, "x", 3, d);
        if (strcmp(op, "Clip") == 0) {
            int64_t one[1] = {1};
            cb_const(&cb, "lo", 0, one);
            cb_const(&cb, "hi", 0, one);
        }
        lucid_node *nd = cb_node(&cb, "", op, 13);
        if (strcmp(op, "LeakyRelu") == 0) attr_float(nd, "alpha", 0.2f);
        check_case(&cb, cpu);
    }
    for (int c = 0; c < count; c++) {
        /* squeeze-excite scale (N x C x 1 x 1), per-channel bias, Sub in both orders */
        int64_t d[4] = {rand_int(1, 3), rand_int(1, 64), rand_int(1, 30), rand_int(1, 30)};
        int64_t e[4] = {d[0], d[1], 1, 1};
        static const char *const ops[] = {"Mul", "Sub", "Add"};
        const char *op = ops[rand_int(0, 2)];
        bool small_first = rand_int(0, 1);
        case_builder cb;
        cb_init(&cb, "%s %s %lldx%lldx%lldx%lld by N x C", op, small_first ? "small-first" : "",
                (long long)d[0], (long long)d[1], (long long)d[2], (long long)d[3]);
        cb_input(&cb, "a", 4, small_first ? e : d);
        cb_input(&cb, "b", 4, small_first ? d : e);
        cb_node(&cb, "", op, 13);
        check_case(&cb, cpu);
    }
    for (int c = 0; c < count / 2; c++) {
        /* zoo pools with output rows longer than three vectors (ResNet's 3x3/2 maxpool) */
        int max = rand_int(0, 1);
        int64_t xd[4] = {1, rand_int(1, 8), rand_int(90, 130), rand_int(90, 130)};
        case_builder cb;
        cb_init(&cb, "%s 3x3 s2 %lldx%lldx%lld", max ? "MaxPool" : "AveragePool",
                (long long)xd[1], (long long)xd[2], (long long)xd[3]);
        cb_input(&cb, "x", 4, xd);
        lucid_node *nd = cb_node(&cb, "", max ? "MaxPool" : "AveragePool", 13);
        int64_t ks[2] = {3, 3}, st[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
        attr_ints(nd, "kernel_shape", 2, ks);
        attr_ints(nd, "strides", 2, st);
        attr_ints(nd, "pads", 4, pads);
        check_case(&cb, cpu);
    }
}

/* ---- windowed pools the AVX-512 pools take separate paths for: "same" stride-1 pools
 * (pads adding up to the window, flat path), stride 1 and 2 with any pads, dilations,
 * kernels up to 7, odd widths, ceil_mode, count_include_pad, planes past the flat path's
 * size, and larger strides ---- */

static void pool_window_cases(const lucid_cpu_features *cpu, int count)
{
    for (int c = 0; c < count; c++) {
        int max = rand_int(0, 1), form = rand_int(0, 3); /* 0 same s1, 1 s1, 2 s2, 3 s3 */
        static const int64_t kernels[] = {1, 2, 3, 3, 3, 5, 7};
        int64_t kh = kernels[rand_int(0, 6)], kw = rand_int(0, 3) ? kh : kernels[rand_int(0, 6)];
        int64_t dil = form != 0 && rand_int(0, 4) == 0 ? 2 : 1;
        int64_t s = form == 0 ? 1 : form, big = rand_int(0, 5) == 0;
        int64_t h = big ? rand_int(90, 110) : rand_int(1, 40), w = big ? rand_int(90, 110) : rand_int(1, 40);
        int64_t pads[4];
        if (form == 0) {
            pads[0] = rand_int(0, (int)(kh - 1)), pads[2] = kh - 1 - pads[0];
            pads[1] = rand_int(0, (int)(kw - 1)), pads[3] = kw - 1 - pads[1];
        } else {
            pads[0] = rand_int(0, (int)(kh - 1)), pads[2] = rand_int(0, (int)(kh - 1));
            pads[1] = rand_int(0, (int)(kw - 1)), pads[3] = rand_int(0, (int)(kw - 1));
        }
        /* at least one output position */
        if (h + pads[0] + pads[2] < dil * (kh - 1) + 1) h = dil * (kh - 1) + 1;
        if (w + pads[1] + pads[3] < dil * (kw - 1) + 1) w = dil * (kw - 1) + 1;
        int ceil_mode = form == 0 ? 0 : rand_int(0, 1), cip = rand_int(0, 1);
        int64_t n = rand_int(1, 2), ch = big ? rand_int(1, 3) : rand_int(1, 40);
        if (blocked_channels) ch = 16 * rand_int(1, big ? 1 : 3);
        case_builder cb;
        cb_init(&cb, "%s n%lld c%lld %lldx%lld k%lldx%lld s%lld d%lld pads %lld,%lld,%lld,%lld ceil%d cip%d",
                max ? "MaxPool" : "AveragePool", (long long)n, (long long)ch, (long long)h,
                (long long)w, (long long)kh, (long long)kw, (long long)s, (long long)dil,
                (long long)pads[0], (long long)pads[1], (long long)pads[2], (long long)pads[3],
                ceil_mode, cip);
        int64_t xd[4] = {n, ch, h, w};
        cb_input(&cb, "x", 4, xd);
        /* dilations are MaxPool's (AveragePool has them from opset 19) */
        if (!max) dil = 1;
        lucid_node *nd = cb_node(&cb, "", max ? "MaxPool" : "AveragePool", max ? 12 : 13);
        int64_t ks[2] = {kh, kw}, st[2] = {s, s}, dl[2] = {dil, dil};
        attr_ints(nd, "kernel_shape", 2, ks);
        attr_ints(nd, "strides", 2, st);
        if (max) attr_ints(nd, "dilations", 2, dl);
        attr_ints(nd, "pads", 4, pads);
        attr_int(nd, "ceil_mode", ceil_mode);
        if (!max) attr_int(nd, "count_include_pad", cip);
        check_case(&cb, cpu);
    }
}

/* ---- depthwise layers the AVX-512 tactic takes separate paths for: "same" stride-1 layers
 * (flat path: planes from 1x1 to 64x64, asymmetric pads, dilation 2, kernels 3/5/7, channel
 * multiplier 2), strides 1 and 2 with other pads, every activation, bias and residual ---- */

static void depthwise_cases(const lucid_cpu_features *cpu, int count)
{
    bool fused_ok = lucid_op_get(LUCID_OP_FUSED_CONV)->run != NULL;
    for (int c = 0; c < count; c++) {
        static const int64_t kernels[] = {3, 3, 5, 5, 7};
        int64_t k = kernels[rand_int(0, 4)], dil = rand_int(0, 4) == 0 ? 2 : 1;
        int64_t s = rand_int(0, 2) ? 1 : 2, same = s == 1 && rand_int(0, 3) != 0;
        int64_t h = rand_int(1, 64), w = rand_int(1, 64), ch = rand_int(1, 40);
        if (h * w > 1200) ch = rand_int(1, 6);
        int64_t mult = rand_int(0, 5) == 0 ? 2 : 1, reach = dil * (k - 1);
        int64_t pads[4];
        if (same) {
            pads[0] = rand_int(0, (int)reach), pads[2] = reach - pads[0];
            pads[1] = rand_int(0, (int)reach), pads[3] = reach - pads[1];
        } else {
            for (int i = 0; i < 4; i++) pads[i] = rand_int(0, (int)(k / 2));
        }
        if (h + pads[0] + pads[2] < reach + 1) h = reach + 1;
        if (w + pads[1] + pads[3] < reach + 1) w = reach + 1;
        int64_t oh = (h + pads[0] + pads[2] - reach - 1) / s + 1;
        int64_t ow = (w + pads[1] + pads[3] - reach - 1) / s + 1;
        bool fused = fused_ok && rand_int(0, 3) != 0, bias = rand_int(0, 3) != 0;
        bool residual = fused && rand_int(0, 1);
        const char *act = fused ? activations[rand_int(0, N_ACTIVATIONS - 1)] : "";
        case_builder cb;
        cb_init(&cb, "%s depthwise n1 c%lld x%lld k%lld s%lld d%lld %lldx%lld pads %lld,%lld,%lld,%lld%s%s %s",
                fused ? "FusedConv" : "Conv", (long long)ch, (long long)mult, (long long)k,
                (long long)s, (long long)dil, (long long)h, (long long)w, (long long)pads[0],
                (long long)pads[1], (long long)pads[2], (long long)pads[3], bias ? " bias" : "",
                residual ? " residual" : "", act);
        int64_t xd[4] = {1, ch, h, w}, wd[4] = {ch * mult, 1, k, k}, bd[1] = {ch * mult};
        cb_input(&cb, "x", 4, xd);
        cb_const(&cb, "w", 4, wd);
        if (bias)
            cb_const(&cb, "b", 1, bd);
        else if (residual)
            cb_absent(&cb);
        if (residual) {
            int64_t zd[4] = {1, ch * mult, oh, ow};
            cb_input(&cb, "z", 4, zd);
        }
        lucid_node *nd = cb_node(&cb, fused ? LUCID_DOMAIN : "", fused ? "FusedConv" : "Conv",
                                 fused ? 1 : 13);
        int64_t ks[2] = {k, k}, st[2] = {s, s}, dl[2] = {dil, dil};
        attr_ints(nd, "kernel_shape", 2, ks);
        attr_ints(nd, "strides", 2, st);
        attr_ints(nd, "dilations", 2, dl);
        attr_ints(nd, "pads", 4, pads);
        attr_int(nd, "group", ch);
        if (fused) {
            attr_activation(nd, act);
            if (strcmp(act, "Clip") == 0) {
                attr_float(nd, "activation_alpha", 0.0f);
                attr_float(nd, "activation_beta", 6.0f);
            } else if (strcmp(act, "LeakyRelu") == 0) {
                attr_float(nd, "activation_alpha", 0.1f);
            } else if (strcmp(act, "HardSigmoid") == 0) {
                attr_float(nd, "activation_alpha", 0.2f);
                attr_float(nd, "activation_beta", 0.5f);
            }
        }
        check_case(&cb, cpu);
    }
}

/* ---- larger-channel 3x3 stride-1 layers (ResNet-like, where Winograd applies), with
 * residual and an activation, odd sizes, pads 0 and 1, batch 2 ---- */

static void winograd_cases(const lucid_cpu_features *cpu)
{
    static const int64_t shapes[][6] = {
        /* n, ic, oc, h, w, pad */
        {1, 64, 64, 28, 28, 1},  {1, 128, 128, 14, 14, 1}, {2, 32, 48, 17, 23, 1},
        {2, 48, 32, 17, 23, 0},  {1, 16, 16, 6, 6, 0},     {2, 256, 256, 7, 7, 1},
        {1, 20, 40, 9, 5, 1},    {1, 32, 64, 13, 13, 1},   {1, 64, 32, 26, 26, 1},
        {2, 16, 32, 10, 12, 1},  {1, 48, 48, 8, 8, 1},
    };
    bool fused_ok = lucid_op_get(LUCID_OP_FUSED_CONV)->run != NULL;
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        const int64_t *sh = shapes[c];
        bool fused = fused_ok && c % 3 != 2;
        int64_t p = sh[5], oh = sh[3] + 2 * p - 2, ow = sh[4] + 2 * p - 2;
        /* oneDNN's Winograd kernels take ReLU as a post-op; the others run after them */
        static const char *acts[] = {"Relu", "LeakyRelu", "HardSigmoid", "Sigmoid", "Clip"};
        const char *act = acts[c % 5];
        case_builder cb;
        cb_init(&cb, "%s 3x3 s1 n%lld %lld->%lld %lldx%lld pad %lld%s%s",
                fused ? "FusedConv" : "Conv", (long long)sh[0], (long long)sh[1],
                (long long)sh[2], (long long)sh[3], (long long)sh[4], (long long)p,
                fused ? " residual " : "", fused ? act : "");
        int64_t xd[4] = {sh[0], sh[1], sh[3], sh[4]}, wd[4] = {sh[2], sh[1], 3, 3}, bd[1] = {sh[2]};
        cb_input(&cb, "x", 4, xd);
        cb_const(&cb, "w", 4, wd);
        cb_const(&cb, "b", 1, bd);
        if (fused) {
            int64_t zd[4] = {sh[0], sh[2], oh, ow};
            cb_input(&cb, "z", 4, zd);
        }
        lucid_node *nd = cb_node(&cb, fused ? LUCID_DOMAIN : "", fused ? "FusedConv" : "Conv",
                                 fused ? 1 : 13);
        int64_t ks[2] = {3, 3}, pads[4] = {p, p, p, p};
        attr_ints(nd, "kernel_shape", 2, ks);
        attr_ints(nd, "pads", 4, pads);
        if (fused) {
            attr_activation(nd, act);
            if (strcmp(act, "LeakyRelu") == 0) {
                attr_float(nd, "activation_alpha", 0.1f);
            } else if (strcmp(act, "HardSigmoid") == 0) {
                attr_float(nd, "activation_alpha", 0.2f);
                attr_float(nd, "activation_beta", 0.5f);
            } else if (strcmp(act, "Clip") == 0) {
                attr_float(nd, "activation_alpha", 0.0f);
                attr_float(nd, "activation_beta", 6.0f);
            }
        }
        check_case(&cb, cpu);
    }
}

/* An int64 constant input (a Slice's starts/ends/axes/steps). */
static void cb_const_i64(case_builder *cb, const char *name, int count, const int64_t *v)
{
    int64_t *d = malloc(sizeof(int64_t) * (size_t)(count ? count : 1));
    memcpy(d, v, sizeof(int64_t) * (size_t)count);
    int64_t dims[1] = {count};
    int t = lucid_graph_tensor(cb->g, name, NULL);
    lucid_graph_set_initializer(cb->g, t, LUCID_DTYPE_INT64, 1, dims, d,
                                sizeof(int64_t) * (size_t)count, NULL);
    cb->inputs[cb->n_inputs++] = t;
}

/* Transposes with random permutations and Slices with random bounds and steps. */
static void movement_cases(const lucid_cpu_features *cpu, int count)
{
    for (int c = 0; c < count; c++) {
        int rank = rand_int(2, 5);
        int64_t d[5];
        int perm[5];
        for (int i = 0; i < rank; i++) d[i] = rand_int(1, 7), perm[i] = i;
        for (int i = rank - 1; i > 0; i--) { /* Fisher-Yates */
            int j = rand_int(0, i), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        case_builder cb;
        cb_init(&cb, "Transpose rank %d perm %d%d%d%d%d", rank, perm[0], perm[1],
                rank > 2 ? perm[2] : 0, rank > 3 ? perm[3] : 0, rank > 4 ? perm[4] : 0);
        cb_input(&cb, "x", rank, d);
        lucid_node *nd = cb_node(&cb, "", "Transpose", 13);
        int64_t p64[5];
        for (int i = 0; i < rank; i++) p64[i] = perm[i];
        attr_ints(nd, "perm", rank, p64);
        check_case(&cb, cpu);
    }
    for (int c = 0; c < count; c++) {
        int rank = rand_int(1, 4);
        int64_t d[4], starts[4], ends[4], axes[4], steps[4];
        for (int i = 0; i < rank; i++) {
            d[i] = rand_int(1, 9);
            axes[i] = i;
            steps[i] = rand_int(0, 3) ? 1 : (rand_int(0, 1) ? 2 : -1);
            starts[i] = rand_int(0, (int)d[i] - 1);
            ends[i] = steps[i] > 0 ? rand_int((int)starts[i] + 1, (int)d[i]) : -(int64_t)d[i] - 1;
        }
        case_builder cb;
        cb_init(&cb, "Slice rank %d dims %lldx%lldx%lldx%lld steps %lld,%lld,%lld,%lld", rank,
                (long long)d[0], (long long)(rank > 1 ? d[1] : 0), (long long)(rank > 2 ? d[2] : 0),
                (long long)(rank > 3 ? d[3] : 0), (long long)steps[0],
                (long long)(rank > 1 ? steps[1] : 0), (long long)(rank > 2 ? steps[2] : 0),
                (long long)(rank > 3 ? steps[3] : 0));
        cb_input(&cb, "x", rank, d);
        cb_const_i64(&cb, "starts", rank, starts);
        cb_const_i64(&cb, "ends", rank, ends);
        cb_const_i64(&cb, "axes", rank, axes);
        cb_const_i64(&cb, "steps", rank, steps);
        cb_node(&cb, "", "Slice", 13);
        check_case(&cb, cpu);
    }
}

/* ---- unpadded 1x1 stride-1 convolutions (the random generator above always pads), small
 * and larger K, pixel counts off the 16-float vector and 64-pixel tile, batch 2, bias and
 * residual optional, every activation ---- */

/* Pad (constant mode, opset 13 with and without a constant input, opset 2 with attributes;
 * edge mode)
 * and nearest Resize/Upsample (integer and fractional scales, every coordinate transform
 * and rounding), on random shapes. */
static void pad_resize_cases(const lucid_cpu_features *cpu, int count)
{
    for (int c = 0; c < count; c++) {
        int rank = rand_int(1, 4);
        int64_t d[4], pads[8];
        for (int i = 0; i < rank; i++) {
            d[i] = rand_int(1, 9);
            pads[i] = rand_int(0, 3);
            pads[rank + i] = rand_int(0, 3);
        }
        int form = c % 4; /* opset 13, opset 13 with a constant, opset 2, edge mode */
        case_builder cb;
        cb_init(&cb, "Pad form %d rank %d %lldx%lldx%lld", form, rank, (long long)d[0],
                (long long)(rank > 1 ? d[1] : 1), (long long)(rank > 2 ? d[2] : 1));
        cb_input(&cb, "x", rank, d);
        if (form != 2) cb_const_i64(&cb, "pads", 2 * rank, pads);
        if (form == 1) cb_const(&cb, "value", 0, NULL);
        lucid_node *nd = cb_node(&cb, "", "Pad", form != 2 ? 13 : 2);
        if (form == 3) attr_string(nd, "mode", "edge");
        if (form == 2) {
            attr_ints(nd, "pads", 2 * rank, pads);
            attr_float(nd, "value", 0.75f);
        }
        check_case(&cb, cpu);
    }
    static const char *const coords[] = {"asymmetric", "half_pixel", "align_corners",
                                         "pytorch_half_pixel", "tf_half_pixel_for_nn"};
    static const char *const rounds[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                         "ceil"};
    static const float factors[] = {2.0f, 3.0f, 1.5f, 0.5f, 1.0f};
    for (int c = 0; c < count; c++) {
        int64_t d[4] = {rand_int(1, 2), rand_int(1, 9), rand_int(1, 9), rand_int(1, 9)};
        float sc[4] = {1.0f, 1.0f, factors[rand_int(0, 4)], factors[rand_int(0, 4)]};
        bool upsample = c % 4 == 3;
        if (upsample) sc[2] = sc[3] = (float)rand_int(1, 3);
        const char *coord = coords[rand_int(0, 4)], *round = rounds[rand_int(0, 3)];
        case_builder cb;
        cb_init(&cb, "%s nearest %lldx%lldx%lldx%lld scales %g %g %s %s",
                upsample ? "Upsample" : "Resize", (long long)d[0], (long long)d[1],
                (long long)d[2], (long long)d[3], sc[2], sc[3], upsample ? "" : coord,
                upsample ? "" : round);
        cb_input(&cb, "x", 4, d);
        if (!upsample) cb_absent(&cb);
        int64_t four = 4;
        cb_const(&cb, "scales", 1, &four);
        float *sv = cb.g->tensors[cb.inputs[cb.n_inputs - 1]].data;
        memcpy(sv, sc, sizeof sc);
        lucid_node *nd = cb_node(&cb, "", upsample ? "Upsample" : "Resize", upsample ? 9 : 13);
        attr_string(nd, "mode", "nearest");
        if (!upsample) {
            attr_string(nd, "coordinate_transformation_mode", coord);
            attr_string(nd, "nearest_mode", round);
        }
        check_case(&cb, cpu);
    }
}

static void pointwise_cases(const lucid_cpu_features *cpu, int count)
{
    bool fused_ok = lucid_op_get(LUCID_OP_FUSED_CONV)->run != NULL;
    for (int c = 0; c < count; c++) {
        static const int64_t ks[] = {1, 3, 16, 24, 32, 40, 64, 96, 128, 160};
        int64_t n = rand_int(1, 2), ic = ks[rand_int(0, 9)], oc = rand_int(1, 50);
        int64_t h = rand_int(1, 30), w = rand_int(1, 30);
        bool fused = fused_ok && rand_int(0, 2) != 0;
        const char *act = fused ? activations[rand_int(0, N_ACTIVATIONS - 1)] : "";
        bool bias = rand_int(0, 3) != 0, residual = fused && rand_int(0, 1);
        case_builder cb;
        cb_init(&cb, "%s pointwise n%lld ic%lld oc%lld %lldx%lld%s%s%s%s",
                fused ? "FusedConv" : "Conv", (long long)n, (long long)ic, (long long)oc,
                (long long)h, (long long)w, bias ? " bias" : "", residual ? " residual" : "",
                act[0] ? " " : "", act);
        int64_t xd[4] = {n, ic, h, w}, wd[4] = {oc, ic, 1, 1}, bd[1] = {oc};
        cb_input(&cb, "x", 4, xd);
        cb_const(&cb, "w", 4, wd);
        if (bias)
            cb_const(&cb, "b", 1, bd);
        else if (residual)
            cb_absent(&cb);
        if (residual) {
            int64_t zd[4] = {n, oc, h, w};
            cb_input(&cb, "z", 4, zd);
        }
        lucid_node *nd = cb_node(&cb, fused ? LUCID_DOMAIN : "", fused ? "FusedConv" : "Conv",
                                 fused ? 1 : 13);
        int64_t kk[2] = {1, 1};
        attr_ints(nd, "kernel_shape", 2, kk);
        if (fused) {
            attr_activation(nd, act);
            if (strcmp(act, "Clip") == 0) {
                attr_float(nd, "activation_alpha", 0.0f);
                attr_float(nd, "activation_beta", 6.0f);
            } else if (strcmp(act, "LeakyRelu") == 0) {
                attr_float(nd, "activation_alpha", 0.1f);
            } else if (strcmp(act, "HardSigmoid") == 0) {
                attr_float(nd, "activation_alpha", 0.2f);
                attr_float(nd, "activation_beta", 0.5f);
            }
        }
        check_case(&cb, cpu);
    }
}

/* ---- int8: QConv, QGemm, int8 MaxPool, QuantizeLinear / DequantizeLinear ---- */

/* A constant of dtype t (one value v, or random over the dtype's range when count > 1 and
 * v is NaN). */
static void cb_const_q(case_builder *cb, const char *name, lucid_dtype t, int rank,
                       const int64_t *dims, double v)
{
    int64_t n = lucid_shape_numel(rank, dims);
    size_t es = lucid_dtype_size(t);
    void *d = calloc((size_t)(n ? n : 1), es);
    for (int64_t i = 0; i < n; i++)
        lucid_store_f64(t, d, i,
                        !isnan(v)                ? v
                        : t == LUCID_DTYPE_FLOAT ? 0.002 + 0.02 * (rand_float() + 1)
                                                 : rand_int(-127, 127));
    int x = lucid_graph_tensor(cb->g, name, NULL);
    lucid_graph_set_initializer(cb->g, x, t, rank, dims, d, es * (size_t)n, NULL);
    cb->inputs[cb->n_inputs++] = x;
}

/* An int8/uint8 input fed at run time. */
static void cb_input_q(case_builder *cb, const char *name, lucid_dtype t, int rank,
                       const int64_t *dims)
{
    cb_input(cb, name, rank, dims);
    cb->g->tensors[cb->inputs[cb->n_inputs - 1]].dtype = t;
}

/* pointwise: 1x1 QConvs with enough channels and pixels for several register tiles and
 * their tails (cpu.qconv.int8.pointwise.vnni takes 6 pixels x 64 channels at a time) */
static bool pointwise_qconv;

static void qconv_cases(const lucid_cpu_features *cpu, int count)
{
    /* Relu and Clip commute with the output scale; SiLU, Sigmoid and Gelu need real values */
    static const char *const qacts[] = {"", "Relu", "Clip", "SiLU", "Sigmoid", "Gelu"};
    for (int c = 0; c < count; c++) {
        int group = rand_int(0, 4) == 0 ? rand_int(2, 4) : 1;
        if (rand_int(0, 5) == 0) group = -1; /* depthwise */
        int64_t cin = group == -1 ? rand_int(2, 32) : group * rand_int(1, 24);
        int64_t m = group == -1 ? cin : (group * rand_int(1, 24));
        if (group == -1) group = (int)cin;
        int64_t k = rand_int(1, 3) * 2 - 1, stride = rand_int(1, 2), pad = rand_int(0, k / 2);
        int64_t h = rand_int(k, 14), w = rand_int(k, 14), batch = rand_int(1, 2);
        if (pointwise_qconv) {
            group = 1;
            cin = rand_int(1, 80);
            m = rand_int(1, 150);
            k = 1;
            stride = 1;
            pad = 0;
        }
        const lucid_dtype xt = rand_int(0, 1) ? LUCID_DTYPE_UINT8 : LUCID_DTYPE_INT8;
        const int zmode = rand_int(0, 3); /* 0 none, 1 int8, 2 uint8, 3 float */
        const bool qout = rand_int(0, 3) != 0, bias = rand_int(0, 3) != 0;
        const bool per_channel = rand_int(0, 3) != 0;
        const char *act = qacts[rand_int(0, 5)];
        const lucid_dtype yt = rand_int(0, 1) ? LUCID_DTYPE_UINT8 : LUCID_DTYPE_INT8;
        case_builder cb;
        cb_init(&cb,
                "QConv %s x %lldx%lldx%lldx%lld M %lld k %lld s %lld p %lld g %d%s z%d %s %s%s",
                lucid_dtype_name(xt), (long long)batch, (long long)cin, (long long)h,
                (long long)w, (long long)m, (long long)k, (long long)stride, (long long)pad,
                group, bias ? " bias" : "", zmode, act, qout ? lucid_dtype_name(yt) : "float32",
                per_channel ? "" : " per-tensor");
        int64_t xd[4] = {batch, cin, h, w}, wd[4] = {m, cin / group, k, k}, md[1] = {m};
        int64_t oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
        int64_t yd[4] = {batch, m, oh, ow};
        cb_input_q(&cb, "x", xt, 4, xd);
        cb_const_q(&cb, "xs", LUCID_DTYPE_FLOAT, 0, NULL, 0.02 + 0.01 * rand_int(0, 3));
        cb_absent(&cb);
        cb_const_q(&cb, "w", LUCID_DTYPE_INT8, 4, wd, NAN);
        cb_const_q(&cb, "ws", LUCID_DTYPE_FLOAT, per_channel ? 1 : 0, md, NAN);
        if (bias)
            cb_const(&cb, "b", 1, md);
        else
            cb_absent(&cb);
        if (zmode == 0) {
            cb_absent(&cb);
            cb_absent(&cb);
        } else if (zmode == 3) {
            cb_input(&cb, "z", 4, yd);
            cb_absent(&cb);
        } else {
            cb_input_q(&cb, "z", zmode == 1 ? LUCID_DTYPE_INT8 : LUCID_DTYPE_UINT8, 4, yd);
            cb_const_q(&cb, "zs", LUCID_DTYPE_FLOAT, 0, NULL, 0.05);
        }
        cb_absent(&cb);
        if (qout) {
            cb_const_q(&cb, "ys", LUCID_DTYPE_FLOAT, 0, NULL, 0.1 + 0.05 * rand_int(0, 4));
            cb_const_q(&cb, "yz", yt, 0, NULL, 0);
        }
        lucid_node *nd = cb_node(&cb, LUCID_DOMAIN, "QConv", 1);
        int64_t pads[4] = {pad, pad, pad, pad}, st[2] = {stride, stride};
        attr_ints(nd, "pads", 4, pads);
        attr_ints(nd, "strides", 2, st);
        attr_int(nd, "group", group);
        attr_activation(nd, act);
        if (act[0] == 'C') {
            attr_float(nd, "activation_alpha", 0.0f);
            attr_float(nd, "activation_beta", 2.0f);
        }
        check_case(&cb, cpu);
    }
}

static void qgemm_cases(const lucid_cpu_features *cpu, int count)
{
    for (int c = 0; c < count; c++) {
        int64_t rows = rand_int(1, 8), k = rand_int(1, 300), nn = rand_int(1, 100);
        const lucid_dtype xt = rand_int(0, 1) ? LUCID_DTYPE_UINT8 : LUCID_DTYPE_INT8;
        const bool qout = rand_int(0, 1), bias = rand_int(0, 1), relu = rand_int(0, 1);
        case_builder cb;
        cb_init(&cb, "QGemm %s %lldx%lld n %lld%s%s %s", lucid_dtype_name(xt), (long long)rows,
                (long long)k, (long long)nn, bias ? " bias" : "", relu ? " relu" : "",
                qout ? "int8 out" : "float out");
        int64_t ad[2] = {rows, k}, wd[2] = {nn, k}, nd1[1] = {nn};
        cb_input_q(&cb, "a", xt, 2, ad);
        cb_const_q(&cb, "as", LUCID_DTYPE_FLOAT, 0, NULL, 0.03);
        cb_absent(&cb);
        cb_const_q(&cb, "w", LUCID_DTYPE_INT8, 2, wd, NAN);
        cb_const_q(&cb, "ws", LUCID_DTYPE_FLOAT, 1, nd1, NAN);
        if (bias)
            cb_const(&cb, "b", 1, nd1);
        else
            cb_absent(&cb);
        if (qout) cb_const_q(&cb, "ys", LUCID_DTYPE_FLOAT, 0, NULL, 0.5);
        lucid_node *n = cb_node(&cb, LUCID_DOMAIN, "QGemm", 1);
        attr_string(n, "activation", relu ? "Relu" : "");
        check_case(&cb, cpu);
    }
}

static void int8_misc_cases(const lucid_cpu_features *cpu, int count)
{
    for (int c = 0; c < count; c++) {
        const lucid_dtype t = rand_int(0, 1) ? LUCID_DTYPE_UINT8 : LUCID_DTYPE_INT8;
        int64_t xd[4] = {rand_int(1, 2), rand_int(1, 40), rand_int(3, 17), rand_int(3, 17)};
        /* MaxPool on int8 */
        case_builder cb;
        cb_init(&cb, "MaxPool %s %lldx%lldx%lldx%lld", lucid_dtype_name(t), (long long)xd[0],
                (long long)xd[1], (long long)xd[2], (long long)xd[3]);
        cb_input_q(&cb, "x", t, 4, xd);
        lucid_node *n = cb_node(&cb, "", "MaxPool", 12);
        int64_t k[2] = {3, 3}, s[2] = {2, 2}, p[4] = {1, 1, 1, 1};
        attr_ints(n, "kernel_shape", 2, k);
        attr_ints(n, "strides", 2, s);
        attr_ints(n, "pads", 4, p);
        check_case(&cb, cpu);
        /* QuantizeLinear (float -> t) and DequantizeLinear (t -> float), per tensor */
        for (int q = 0; q < 2; q++) {
            case_builder qb;
            int zp = t == LUCID_DTYPE_UINT8 ? rand_int(0, 255) : rand_int(-20, 20);
            cb_init(&qb, "%s %s zp %d", q ? "DequantizeLinear" : "QuantizeLinear",
                    lucid_dtype_name(t), zp);
            if (q)
                cb_input_q(&qb, "x", t, 4, xd);
            else
                cb_input(&qb, "x", 4, xd);
            cb_const_q(&qb, "s", LUCID_DTYPE_FLOAT, 0, NULL, 0.0078125 * rand_int(1, 4) / 3);
            cb_const_q(&qb, "z", t, 0, NULL, zp);
            cb_node(&qb, "", q ? "DequantizeLinear" : "QuantizeLinear", 13);
            check_case(&qb, cpu);
        }
    }
}

int main(int argc, char **argv)
{
    verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    printf("cpu: %s, %d cores, level %s (native %s), avx2 %d, avx512f %d, vnni %d, bf16 %d, "
           "amx %d\n",
           cpu.model, cpu.cores, lucid_cpu_isa_name(cpu.level), lucid_cpu_isa_name(cpu.native),
           cpu.avx2, cpu.avx512f, cpu.avx512_vnni, cpu.avx512_bf16, cpu.amx_int8);
    /* the capped registrations (test_tactics_<level>) test what a smaller processor runs; a
     * cap that hides nothing here would repeat the native run */
    if (lucid_cpu_cap_get() != LUCID_CPU_ISA_NATIVE && !cpu.capped) {
        printf("skipped: the cap %s hides nothing on this processor (native %s)\n",
               lucid_cpu_isa_name(lucid_cpu_cap_get()), lucid_cpu_isa_name(cpu.native));
        return 77;
    }
    printf("tactics:");
    for (size_t i = 0; i < lucid_tactic_count(); i++) printf(" %s", lucid_tactic_at(i)->name);
    printf("\n");
    conv_cases(&cpu, 60, false);
    gemm_cases(&cpu, 30, false);
    pool_cases(&cpu, 30);
    pool_window_cases(&cpu, 80);
    elementwise_cases(&cpu, 20);
    batchnorm_cases(&cpu, 24);
    movement_cases(&cpu, 40);
    pad_resize_cases(&cpu, 40);
    /* lucid's fused layers, once their op exists */
    if (lucid_op_get(LUCID_OP_FUSED_CONV)->run) conv_cases(&cpu, 60, true);
    if (lucid_op_get(LUCID_OP_FUSED_GEMM)->run) gemm_cases(&cpu, 30, true);
    direct_kernel_cases(&cpu, 24);
    depthwise_cases(&cpu, 80);
    winograd_cases(&cpu);
    pointwise_cases(&cpu, 40);
    concat_cases(&cpu, 30);
    split_cases(&cpu, 30);
    /* channels in whole blocks of 16: the NCHW16C tactics */
    blocked_channels = true;
    conv_cases(&cpu, 30, false);
    conv_cases(&cpu, 30, true);
    pool_cases(&cpu, 20);
    concat_cases(&cpu, 20);
    split_cases(&cpu, 20);
    batchnorm_cases(&cpu, 16);
    elementwise_cases(&cpu, 30);
    pool_window_cases(&cpu, 40);
    blocked_channels = false;
    /* the same layers in float16 and bfloat16: the 16-bit tactics against the reference */
    for (int h = 0; h < 2; h++) {
        case_dtype = h ? LUCID_DTYPE_BFLOAT16 : LUCID_DTYPE_FLOAT16;
        conv_cases(&cpu, 30, false);
        conv_cases(&cpu, 30, true);
        gemm_cases(&cpu, 15, false);
        gemm_cases(&cpu, 15, true);
        pool_cases(&cpu, 15);
        elementwise_cases(&cpu, 10);
        batchnorm_cases(&cpu, 10);
        depthwise_cases(&cpu, 20);
        pointwise_cases(&cpu, 15);
    }
    case_dtype = LUCID_DTYPE_FLOAT;
    qconv_cases(&cpu, 60);
    pointwise_qconv = true;
    qconv_cases(&cpu, 30);
    pointwise_qconv = false;
    qgemm_cases(&cpu, 40);
    int8_misc_cases(&cpu, 20);
    /* refusals at prepare are the exception: a tactic that refuses there on more than a tenth
     * of the cases its supports() accepted is one whose supports() is wrong */
    for (size_t ti = 0; ti < lucid_tactic_count() && ti < MAX_TACTICS; ti++) {
        if (prepare_refused[ti] == 0) continue;
        printf("%s: %d of %d accepted cases refused at prepare\n", lucid_tactic_at(ti)->name,
               prepare_refused[ti], accepted[ti]);
        if (10 * prepare_refused[ti] > accepted[ti]) {
            printf("FAIL %s: supports() accepts cases its prepare refuses\n",
                   lucid_tactic_at(ti)->name);
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
