/* test_gemm_kernels.c - the packed GEMM driver and micro-kernels against a double-precision
 * product: shapes spanning several K, M and N cache blocks and ragged edges, A or B packed
 * ahead, every epilogue form, 1 to 3 threads, and bitwise equality across thread counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "cpu/gemm.h"
#include "ops/op.h"
#include "tactics/tactic.h"

static int passed, failed;
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next_u64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int rand_int(int lo, int hi)
{
    return lo + (int)(next_u64() % (uint64_t)(hi - lo + 1));
}

static float rand_float(void)
{
    return (float)((double)(next_u64() >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float *rand_buf(size_t n)
{
    float *d = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        d[i] = rand_float();
    return d;
}

static double act_ref(lucid_act act, double v, double a, double b)
{
    switch (act) {
    case LUCID_ACT_NONE:
        return v;
    case LUCID_ACT_RELU:
        return v < 0 ? 0 : v;
    case LUCID_ACT_CLIP:
        return v < a ? a : v > b ? b : v;
    case LUCID_ACT_LEAKY_RELU:
        return v < 0 ? a * v : v;
    case LUCID_ACT_SIGMOID:
        return 1 / (1 + exp(-v));
    case LUCID_ACT_HARD_SIGMOID:
        return fmax(0, fmin(1, a * v + b));
    case LUCID_ACT_HARD_SWISH:
        return v * fmax(0, fmin(1, v / 6 + 0.5));
    case LUCID_ACT_SILU:
        return v / (1 + exp(-v));
    case LUCID_ACT_TANH:
        return tanh(v);
    case LUCID_ACT_GELU:
        return 0.5 * v * erfc(-v / sqrt(2.0));
    case LUCID_ACT_GELU_TANH:
        return 0.5 * v * (1 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    case LUCID_ACT_COUNT:
        break;
    }
    return v;
}

typedef struct case_ctx {
    lucid_gemm_problem p;
    int count;
    float *c_base;
    int64_t c_stride; /* between products */
} case_ctx;

static void setup(const void *vctx, size_t index, lucid_gemm_problem *p)
{
    const case_ctx *cx = vctx;
    *p = cx->p;
    p->c = cx->c_base + (int64_t)index * cx->c_stride;
}

static void run_case(const lucid_gemm_kernel *kern, int64_t m, int64_t n, int64_t k, bool pre_a,
                     bool pre_b, int count, lucid_threadpool **pools)
{
    /* A stored transposed half the time, B likewise: strided packing paths */
    bool ta = rand_int(0, 1), tb = rand_int(0, 1);
    float *a = rand_buf((size_t)(m * k)), *b = rand_buf((size_t)(k * n));
    int64_t ars = ta ? 1 : k, acs = ta ? m : 1, brs = tb ? 1 : n, bcs = tb ? k : 1;
    lucid_gemm_blocking blk = lucid_gemm_blocking_for(kern, m, n, k);
    lucid_gemm_operand ao = {.pack = lucid_gemm_pack_matrix, .data = a, .rs = ars, .ks = acs};
    lucid_gemm_operand bo = {.pack = lucid_gemm_pack_matrix, .data = b, .rs = bcs, .ks = brs};
    float *apk = NULL, *bpk = NULL;
    if (pre_a) {
        apk = aligned_alloc(64, (lucid_gemm_packed_floats(m, k, kern->mr) * 4 + 63) / 64 * 64);
        lucid_gemm_prepack(&blk, m, k, kern->mr, &ao, apk);
        ao.packed = apk;
    }
    if (pre_b) {
        bpk = aligned_alloc(64, (lucid_gemm_packed_floats(n, k, kern->nr) * 4 + 63) / 64 * 64);
        lucid_gemm_prepack(&blk, n, k, kern->nr, &bo, bpk);
        bo.packed = bpk;
    }
    /* an epilogue form at random */
    lucid_epilogue e = {.alpha = rand_int(0, 1) ? 1.0f : 0.75f,
                        .beta = rand_int(0, 1) ? 1.0f : 2.0f};
    int form = rand_int(0, 4); /* none, per-column, per-row, full, scalar */
    float *add = rand_buf((size_t)(m * n)), *res = rand_buf((size_t)(m * n));
    if (form) {
        e.addend = add;
        e.add_rs = form == 1 ? 0 : form == 2 ? 1 : form == 3 ? n : 0;
        e.add_cs = form == 1 ? 1 : form == 3 ? 1 : 0;
    }
    if (rand_int(0, 1)) {
        e.residual = res;
        e.res_ld = n;
    }
    e.act.kind = (lucid_act)rand_int(0, LUCID_ACT_COUNT - 1);
    e.act.alpha = e.act.kind == LUCID_ACT_CLIP           ? -0.5f
                  : e.act.kind == LUCID_ACT_HARD_SIGMOID ? 0.2f
                                                         : 0.1f;
    e.act.beta = e.act.kind == LUCID_ACT_CLIP ? 0.7f : 0.5f;
    case_ctx cx = {.p = {.m = m, .n = n, .k = k, .a = ao, .b = bo, .ldc = n, .epi = e},
                   .count = count,
                   .c_stride = m * n};
    size_t cn = (size_t)(m * n * count);
    float *first = NULL;
    bool ok = true;
    char label[160];
    snprintf(label, sizeof label, "%s m%lld n%lld k%lld pre_a%d pre_b%d tA%d tB%d form%d act%d x%d",
             kern->isa, (long long)m, (long long)n, (long long)k, pre_a, pre_b, ta, tb, form,
             (int)e.act.kind, count);
    for (int t = 0; t < 3 && ok; t++) {
        int threads = t + 1;
        size_t wsf = lucid_gemm_workspace_floats(kern, &blk, !pre_a, !pre_b);
        float *ws = aligned_alloc(64, wsf * sizeof(float) * (size_t)threads);
        float *c = malloc(sizeof(float) * cn);
        for (size_t i = 0; i < cn; i++)
            c[i] = NAN;
        cx.c_base = c;
        lucid_gemm_run_batch(kern, &blk, (size_t)count, setup, &cx, ws, wsf, pools[t]);
        free(ws);
        if (!first) {
            /* the reference, once */
            double worst = 0;
            for (int64_t i = 0; i < m && ok; i++)
                for (int64_t j = 0; j < n; j++) {
                    double s = 0;
                    for (int64_t p = 0; p < k; p++)
                        s += (double)a[i * ars + p * acs] * (double)b[p * brs + j * bcs];
                    double v = e.alpha * s;
                    if (e.addend) v += e.beta * (double)add[i * e.add_rs + j * e.add_cs];
                    if (e.residual) v += res[i * n + j];
                    v = act_ref(e.act.kind, v, e.act.alpha, e.act.beta);
                    for (int q = 0; q < count; q++) {
                        double d = fabs((double)c[q * m * n + i * n + j] - v);
                        if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
                    }
                }
            double tol = 2e-6 * (double)(k + 8);
            if (!(worst <= tol)) {
                printf("FAIL %s: max error %g (tolerance %g)\n", label, worst, tol);
                ok = false;
            }
            first = c;
        } else {
            if (memcmp(first, c, sizeof(float) * cn) != 0) {
                printf("FAIL %s: %d threads differ bitwise from 1 thread\n", label, threads);
                ok = false;
            }
            free(c);
        }
    }
    if (ok)
        passed++;
    else
        failed++;
    free(first);
    free(a), free(b), free(add), free(res), free(apk), free(bpk);
}

/* ---- the conv tactics on pointwise layers ---- */

static void add_attr_ints(lucid_node *n, const char *name, int count, const int64_t *v)
{
    lucid_attr a = {0};
    a.name = lucid_strdup(name);
    a.type = LUCID_ATTR_INTS;
    a.count = (size_t)count;
    a.ints = malloc(sizeof(int64_t) * (size_t)count);
    memcpy(a.ints, v, sizeof(int64_t) * (size_t)count);
    lucid_node_add_attr(n, &a, NULL);
}

static void add_attr_string(lucid_node *n, const char *name, const char *v)
{
    lucid_attr a = {0};
    a.name = lucid_strdup(name);
    a.type = LUCID_ATTR_STRING;
    a.s = lucid_strdup(v);
    lucid_node_add_attr(n, &a, NULL);
}

static int add_tensor(lucid_graph *g, const char *name, int rank, const int64_t *dims,
                      bool constant)
{
    int t = lucid_graph_tensor(g, name, NULL);
    if (constant) {
        int64_t n = lucid_shape_numel(rank, dims);
        lucid_graph_set_initializer(g, t, LUCID_DTYPE_FLOAT, rank, dims, rand_buf((size_t)n),
                                    sizeof(float) * (size_t)n, NULL);
    } else {
        lucid_ir_tensor *x = &g->tensors[t];
        x->dtype = LUCID_DTYPE_FLOAT;
        x->rank = rank;
        for (int i = 0; i < rank; i++)
            x->dims[i] = dims[i];
        lucid_graph_add_input(g, t, NULL);
    }
    return t;
}

static void pointwise_case(const lucid_cpu_features *cpu, lucid_threadpool *pool2, int64_t batch,
                           int64_t ic, int64_t oc, int64_t group, int64_t h, int64_t w, bool fused,
                           bool bias, bool residual, const char *act)
{
    lucid_graph *g = lucid_graph_create();
    int64_t xd[4] = {batch, ic, h, w}, wd[4] = {oc, ic / group, 1, 1}, bd[1] = {oc},
            zd[4] = {batch, oc, h, w};
    int in[4], n_in = 0;
    in[n_in++] = add_tensor(g, "x", 4, xd, false);
    in[n_in++] = add_tensor(g, "w", 4, wd, true);
    if (bias)
        in[n_in++] = add_tensor(g, "b", 1, bd, true);
    else if (residual)
        in[n_in++] = -1;
    if (residual) in[n_in++] = add_tensor(g, "z", 4, zd, false);
    int y = lucid_graph_tensor(g, "y", NULL);
    int ni = lucid_graph_add_node(g, "layer", fused ? "FusedConv" : "Conv",
                                  fused ? LUCID_DOMAIN : "", fused ? 1 : 13, in, n_in, &y, 1, NULL);
    lucid_graph_add_output(g, y, NULL);
    lucid_node *nd = &g->nodes[ni];
    int64_t ks[2] = {1, 1}, pads[4] = {0, 0, 0, 0};
    add_attr_ints(nd, "kernel_shape", 2, ks);
    add_attr_ints(nd, "pads", 4, pads);
    lucid_attr ga = {0};
    ga.name = lucid_strdup("group");
    ga.type = LUCID_ATTR_INT;
    ga.i = group;
    lucid_node_add_attr(nd, &ga, NULL);
    if (fused) add_attr_string(nd, "activation", act);
    char label[160];
    snprintf(label, sizeof label, "%s n%lld ic%lld oc%lld g%lld %lldx%lld%s%s %s",
             fused ? "FusedConv" : "Conv", (long long)batch, (long long)ic, (long long)oc,
             (long long)group, (long long)h, (long long)w, bias ? " bias" : "",
             residual ? " residual" : "", act);
    lucid_error err;
    if (lucid_graph_finalize(g, &err)) {
        printf("FAIL %s: does not build: %s\n", label, err.message);
        failed++;
        lucid_graph_destroy(g);
        return;
    }
    const lucid_node *n = &g->nodes[0];
    lucid_array arr[4], out;
    float *xdata = rand_buf((size_t)lucid_shape_numel(4, xd)),
          *zdata = rand_buf((size_t)lucid_shape_numel(4, zd));
    memset(arr, 0, sizeof arr);
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, k);
        if (!t) continue;
        arr[k].dtype = LUCID_DTYPE_FLOAT;
        arr[k].rank = t->rank;
        memcpy(arr[k].dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
        arr[k].data = t->data ? t->data : k == 0 ? xdata : zdata;
        arr[k].nbytes = lucid_tensor_nbytes(t);
    }
    const lucid_ir_tensor *yt = lucid_op_output(g, n, 0);
    size_t yn = (size_t)lucid_tensor_numel(yt);
    float *yref = malloc(sizeof(float) * yn), *yout = malloc(sizeof(float) * yn);
    memset(&out, 0, sizeof out);
    out.dtype = LUCID_DTYPE_FLOAT;
    out.rank = 4;
    memcpy(out.dims, yt->dims, sizeof(int64_t) * 4);
    out.nbytes = sizeof(float) * yn;
    out.data = yref;
    lucid_op_get(n->op)->run(n, arr, n->n_inputs, &out, 1, &err);
    float scale = 1;
    for (size_t i = 0; i < yn; i++)
        scale = fmaxf(scale, fabsf(yref[i]));
    static const char *const names[] = {
        "cpu.conv.f32.1x1_gemm.avx512", "cpu.conv.f32.1x1_gemm.avx2",
        "cpu.conv.f32.im2col_gemm.avx512", "cpu.conv.f32.im2col_gemm.avx2"};
    for (size_t ti = 0; ti < sizeof names / sizeof names[0]; ti++) {
        const lucid_tactic *tac = lucid_tactic_find(names[ti]);
        char why[256] = "";
        if (!tac || !tac->supports(g, n, cpu, why, sizeof why)) {
            if (tac && strstr(why, "instruction set")) continue;
            printf("FAIL %s refuses %s: %s\n", names[ti], label, why);
            failed++;
            continue;
        }
        void *state;
        if (tac->prepare(g, n, 2, &state, &err)) {
            printf("FAIL %s on %s: prepare: %s\n", names[ti], label, err.message);
            failed++;
            continue;
        }
        for (int threads = 1; threads <= 2; threads++) {
            size_t ws = tac->workspace(state, threads);
            void *work = aligned_alloc(64, (ws + 63) / 64 * 64 + 64);
            for (size_t i = 0; i < yn; i++)
                yout[i] = NAN;
            out.data = yout;
            tac->run(state, arr, n->n_inputs, &out, 1, work, threads == 1 ? NULL : pool2, &err);
            free(work);
            float worst = 0;
            for (size_t i = 0; i < yn; i++) {
                float d = fabsf(yout[i] - yref[i]);
                if (!(d <= worst)) worst = isnan(d) ? INFINITY : d;
            }
            if (worst <= 1e-4f * scale) {
                passed++;
            } else {
                printf("FAIL %s on %s (%d threads): max error %g\n", names[ti], label, threads,
                       worst);
                failed++;
            }
        }
        tac->release(state);
    }
    free(xdata), free(zdata), free(yref), free(yout);
    lucid_graph_destroy(g);
}

/* The reference expression of every activation (ops/activation.h) and the epilogue's
 * vectorized form (lucid_act_row) against the defining formulas in double. */
static void activation_forms(void)
{
    for (int k = 0; k < LUCID_ACT_COUNT; k++) {
        const lucid_activation a = {(lucid_act)k, k == LUCID_ACT_CLIP ? -0.5f : 0.2f,
                                    k == LUCID_ACT_CLIP ? 0.7f : 0.5f};
        double worst_ref = 0, worst_row = 0;
        float row[64];
        for (int i = 0; i < 4000; i++) {
            const float v = -15.0f + 30.0f * (float)i / 3999.0f;
            const double r = act_ref(a.kind, v, a.alpha, a.beta);
            const double scale = fabs(r) > 1 ? fabs(r) : 1;
            const double e = fabs(lucid_activation_apply(&a, v) - r) / scale;
            if (!(e <= worst_ref)) worst_ref = e;
            row[i % 64] = v;
            if (i % 64 == 63 || i == 3999) {
                const int n = i % 64 + 1;
                lucid_act_row(&a, row, n);
                for (int j = 0; j < n; j++) {
                    const float x = -15.0f + 30.0f * (float)(i - n + 1 + j) / 3999.0f;
                    const double rr = act_ref(a.kind, x, a.alpha, a.beta);
                    const double d = fabs(row[j] - rr) / (fabs(rr) > 1 ? fabs(rr) : 1);
                    if (!(d <= worst_row)) worst_row = d;
                }
            }
        }
        /* libm's float functions and the epilogue's exp are within a few ulp */
        if (worst_ref <= 1e-6 && worst_row <= 1e-6) {
            passed++;
        } else {
            printf("FAIL activation %d ('%s'): reference %.3g, vectorized %.3g from the formula\n",
                   k, lucid_act_name(a.kind), worst_ref, worst_row);
            failed++;
        }
    }
}

int main(void)
{
    activation_forms();
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    lucid_threadpool *pools[3] = {NULL, lucid_threadpool_create(2), lucid_threadpool_create(3)};
    const lucid_gemm_kernel *kerns[] = {&lucid_gemm_kernel_avx512, &lucid_gemm_kernel_avx2,
                                        &lucid_gemm_kernel_generic};
    for (size_t ki = 0; ki < sizeof kerns / sizeof kerns[0]; ki++) {
        const lucid_gemm_kernel *kern = kerns[ki];
        if (!lucid_gemm_kernel_supported(kern, &cpu)) {
            printf("skip %s: not supported by this CPU\n", kern->isa);
            continue;
        }
        /* edges and a K of 0 */
        int64_t small[][3] = {{1, 1, 1},
                              {1, 1, 0},
                              {3, 5, 0},
                              {17, 33, 7},
                              {8, 32, 1},
                              {9, 31, 2},
                              {kern->mr + 1, kern->nr + 1, 3}};
        for (size_t i = 0; i < sizeof small / sizeof small[0]; i++)
            for (int mode = 0; mode < 3; mode++)
                run_case(kern, small[i][0], small[i][1], small[i][2], mode == 1, mode == 2, 1,
                         pools);
        /* random shapes across K blocks (kc <= 384), M blocks (mc 192) and N blocks (nc 1536) */
        for (int c = 0; c < 24; c++) {
            int64_t m = rand_int(1, 260), n = rand_int(1, c % 6 == 0 ? 1700 : 300),
                    k = rand_int(1, c % 3 == 0 ? 1300 : 200);
            int mode = rand_int(0, 2);
            run_case(kern, m, n, k, mode == 1, mode == 2, rand_int(1, 3), pools);
        }
    }
    static const char *const acts[] = {"",          "Relu", "Clip",     "LeakyRelu",
                                       "Sigmoid",   "HardSigmoid", "HardSwish", "SiLU",
                                       "Tanh",      "Gelu"};
    for (int c = 0; c < 30; c++) {
        int64_t group = rand_int(0, 3) ? 1 : rand_int(2, 3);
        int64_t ic = group * rand_int(1, c % 5 == 0 ? 300 : 40),
                oc = group * rand_int(1, c % 4 == 0 ? 90 : 40);
        bool fused = rand_int(0, 1);
        pointwise_case(&cpu, pools[1], rand_int(1, 2), ic, oc, group, rand_int(1, 30),
                       rand_int(1, 30), fused, rand_int(0, 3) != 0, fused && rand_int(0, 1),
                       fused ? acts[rand_int(0, 9)] : "");
    }
    lucid_threadpool_destroy(pools[1]);
    lucid_threadpool_destroy(pools[2]);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
