/* kernels_direct.c - times lucid's direct-family CPU tactics against the reference kernel on
 * zoo layer shapes (interleaved, medians), and measures the AVX-512 activation error.
 * Built with -DLUCID_BENCH=ON as lucid_bench_kernels_direct. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "bench_graph.h"
#include "tactics/tactic.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static lucid_graph *g;
static int in_t[4], n_in;

static void add_input(int rank, const int64_t *d, bool constant)
{
    char name[16];
    snprintf(name, sizeof name, "t%d", n_in);
    int t = lucid_graph_tensor(g, name, NULL);
    if (constant) {
        int64_t n = lucid_shape_numel(rank, d);
        float *v = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) v[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        lucid_graph_set_initializer(g, t, LUCID_DTYPE_FLOAT, rank, d, v, sizeof(float) * (size_t)n,
                                    NULL);
    } else {
        lucid_ir_tensor *x = &g->tensors[t];
        x->dtype = LUCID_DTYPE_FLOAT;
        x->rank = rank;
        memcpy(x->dims, d, sizeof(int64_t) * (size_t)rank);
        lucid_graph_add_input(g, t, NULL);
    }
    in_t[n_in++] = t;
}

static lucid_node *add_node(const char *domain, const char *op, int opset)
{
    int y = lucid_graph_tensor(g, "y", NULL);
    int i = lucid_graph_add_node(g, "layer", op, domain, opset, in_t, n_in, &y, 1, NULL);
    lucid_graph_add_output(g, y, NULL);
    return &g->nodes[i];
}

static void set_ints(lucid_node *n, const char *name, int c, int64_t a, int64_t b, int64_t p)
{
    int64_t v[4] = {a, b, p, p};
    if (c == 4) v[0] = v[1] = v[2] = v[3] = a;
    bench_attr_ints(n, name, c, v);
}

/* Times the reference and every supporting tactic (1 and 2 threads), interleaved rounds. */
static void bench_case(const char *label, const lucid_cpu_features *cpu)
{
    lucid_error err;
    if (lucid_graph_finalize(g, &err)) {
        printf("%s: %s\n", label, err.message);
        return;
    }
    const lucid_node *n = &g->nodes[0];
    lucid_array in[4], out;
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, k);
        void *d = t->data;
        if (!d) {
            int64_t ne = lucid_tensor_numel(t);
            float *f = malloc(sizeof(float) * (size_t)ne);
            for (int64_t i = 0; i < ne; i++) f[i] = (float)((i * 104729) % 2001) / 1000.0f - 1.0f;
            d = f;
        }
        lucid_tensor_array(t, d, &in[k]);
    }
    const lucid_ir_tensor *yt = lucid_op_output(g, n, 0);
    lucid_tensor_array(yt, malloc(lucid_tensor_nbytes(yt)), &out);
    const lucid_tactic *tacs[16];
    void *states[16], *work[16][2];
    int nt = 0;
    for (size_t i = 0; i < lucid_tactic_count() && nt < 16; i++) {
        const lucid_tactic *t = lucid_tactic_at(i);
        char why[256] = "";
        if (t->device != LUCID_DEVICE_CPU) continue;
        if (!t->supports(g, n, cpu, why, sizeof why)) continue;
        if (t->prepare(g, n, 2, &states[nt], &err)) continue;
        for (int th = 0; th < 2; th++) {
            size_t ws = t->workspace(states[nt], th + 1);
            work[nt][th] = ws ? aligned_alloc(64, (ws + 63) / 64 * 64) : NULL;
        }
        tacs[nt++] = t;
    }
    lucid_threadpool *pool2 = lucid_threadpool_create(2);
    enum { ROUNDS = 15 };
    static double times[16][2][ROUNDS];
    for (int r = 0; r < ROUNDS + 2; r++)
        for (int k = 0; k < nt; k++)
            for (int th = 0; th < 2; th++) {
                /* the reference kernel is single-threaded: time it once per round */
                if (tacs[k] == &lucid_tactic_reference && th == 1) continue;
                double t0 = now();
                tacs[k]->run(states[k], in, n->n_inputs, &out, 1, work[k][th],
                             th ? pool2 : NULL, &err);
                double dt = now() - t0;
                if (r >= 2) times[k][th][r - 2] = dt;
            }
    double ref = 0;
    for (int k = 0; k < nt; k++)
        if (tacs[k] == &lucid_tactic_reference) {
            qsort(times[k][0], ROUNDS, sizeof(double), cmp_d);
            ref = times[k][0][ROUNDS / 2];
        }
    printf("| %s | ref | %.3f ms | | |\n", label, ref * 1e3);
    for (int k = 0; k < nt; k++) {
        if (tacs[k] == &lucid_tactic_reference) continue;
        double m[2];
        for (int th = 0; th < 2; th++) {
            qsort(times[k][th], ROUNDS, sizeof(double), cmp_d);
            m[th] = times[k][th][ROUNDS / 2];
        }
        printf("| | %s | %.3f ms (1 thr, %.1fx) | %.3f ms (2 thr, %.1fx) |\n", tacs[k]->name,
               m[0] * 1e3, ref / m[0], m[1] * 1e3, ref / m[1]);
        tacs[k]->release(states[k]);
    }
    lucid_threadpool_destroy(pool2);
    lucid_graph_destroy(g);
}

static void conv(const lucid_cpu_features *cpu, const char *label, int64_t nb, int64_t ic,
                 int64_t oc, int64_t hw, int64_t k, int64_t s, int64_t group, const char *act)
{
    g = lucid_graph_create();
    n_in = 0;
    int64_t xd[4] = {nb, ic, hw, hw}, wd[4] = {oc, ic / group, k, k}, bd[1] = {oc};
    add_input(4, xd, false);
    add_input(4, wd, true);
    add_input(1, bd, true);
    lucid_node *n = add_node(act ? LUCID_DOMAIN : "", act ? "FusedConv" : "Conv", act ? 1 : 13);
    set_ints(n, "kernel_shape", 2, k, k, 0);
    set_ints(n, "strides", 2, s, s, 0);
    set_ints(n, "pads", 4, k / 2, 0, 0);
    bench_attr_int(n, "group", group);
    if (act) {
        bench_attr_str(n, "activation", act);
        if (strcmp(act, "Clip") == 0) {
            bench_attr_float(n, "activation_alpha", 0);
            bench_attr_float(n, "activation_beta", 6);
        }
    }
    bench_case(label, cpu);
}

static void pool(const lucid_cpu_features *cpu, const char *label, const char *op, int64_t nb,
                 int64_t c, int64_t hw, int64_t k, int64_t s, int64_t p)
{
    g = lucid_graph_create();
    n_in = 0;
    int64_t xd[4] = {nb, c, hw, hw};
    add_input(4, xd, false);
    lucid_node *n = add_node("", op, 13);
    if (k) {
        set_ints(n, "kernel_shape", 2, k, k, 0);
        set_ints(n, "strides", 2, s, s, 0);
        set_ints(n, "pads", 4, p, 0, 0);
    }
    bench_case(label, cpu);
}

static void eltwise(const lucid_cpu_features *cpu, const char *label, const char *op, int rank,
                    const int64_t *a, const int64_t *b)
{
    g = lucid_graph_create();
    n_in = 0;
    add_input(rank, a, false);
    if (b) add_input(rank, b, false);
    add_node("", op, 13);
    bench_case(label, cpu);
}

/* Relative error of the AVX-512 Sigmoid/Tanh against double-precision libm on a dense grid. */
static void activation_error(const lucid_cpu_features *cpu)
{
    static const char *const ops[] = {"Sigmoid", "Tanh"};
    const int64_t count = 2000001;
    for (int o = 0; o < 2; o++) {
        g = lucid_graph_create();
        n_in = 0;
        int64_t d[1] = {count};
        add_input(1, d, false);
        const lucid_node *n = add_node("", ops[o], 13);
        lucid_error err;
        lucid_graph_finalize(g, &err);
        const lucid_tactic *t = lucid_tactic_find("cpu.eltwise.f32.avx512");
        void *st;
        if (!t || !t->supports(g, n, cpu, NULL, 0) || t->prepare(g, n, 1, &st, &err)) continue;
        float *x = malloc(sizeof(float) * (size_t)count), *y = malloc(sizeof(float) * (size_t)count);
        for (int64_t i = 0; i < count; i++) x[i] = -20.0f + 40.0f * (float)i / (float)(count - 1);
        lucid_array ai, ao;
        lucid_tensor_array(lucid_op_input(g, n, 0), x, &ai);
        lucid_tensor_array(lucid_op_output(g, n, 0), y, &ao);
        t->run(st, &ai, 1, &ao, 1, NULL, NULL, &err);
        double worst = 0, at = 0;
        for (int64_t i = 0; i < count; i++) {
            double e = o == 0 ? 1.0 / (1.0 + exp(-(double)x[i])) : tanh((double)x[i]);
            double rel = fabs((double)y[i] - e) / fmax(fabs(e), 1e-30);
            if (rel > worst) worst = rel, at = x[i];
        }
        printf("| %s | max relative error %.3g at x = %.4g (grid of %lld in [-20, 20]) |\n",
               ops[o], worst, at, (long long)count);
        t->release(st);
        free(x);
        free(y);
        lucid_graph_destroy(g);
    }
}

int main(void)
{
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    printf("cpu: %s, %d cores\n\n| layer | tactic | 1 thread | 2 threads |\n|---|---|---|---|\n",
           cpu.model, cpu.cores);
    for (int nb = 1; nb <= 8; nb *= 8) {
        char l[128];
        snprintf(l, sizeof l, "MobileNetV2 dw 3x3 s1 ReLU6 %dx144x56x56", nb);
        conv(&cpu, l, nb, 144, 144, 56, 3, 1, 144, "Clip");
        snprintf(l, sizeof l, "MobileNetV2 dw 3x3 s2 ReLU6 %dx96x112x112", nb);
        conv(&cpu, l, nb, 96, 96, 112, 3, 2, 96, "Clip");
        snprintf(l, sizeof l, "EfficientNet dw 5x5 s1 SiLU %dx240x28x28", nb);
        conv(&cpu, l, nb, 240, 240, 28, 5, 1, 240, "SiLU");
        snprintf(l, sizeof l, "MobileNetV2 dw 3x3 s1 ReLU6 %dx960x7x7", nb);
        conv(&cpu, l, nb, 960, 960, 7, 3, 1, 960, "Clip");
        snprintf(l, sizeof l, "ResNet stem 7x7 s2 3->64 %dx3x224x224", nb);
        conv(&cpu, l, nb, 3, 64, 224, 7, 2, 1, "Relu");
        snprintf(l, sizeof l, "MobileNetV2 stem 3x3 s2 3->32 %dx3x224x224", nb);
        conv(&cpu, l, nb, 3, 32, 224, 3, 2, 1, "Clip");
        snprintf(l, sizeof l, "ResNet maxpool 3x3 s2 %dx64x112x112", nb);
        pool(&cpu, l, "MaxPool", nb, 64, 112, 3, 2, 1);
        snprintf(l, sizeof l, "GoogLeNet avgpool 3x3 s1 %dx480x28x28", nb);
        pool(&cpu, l, "AveragePool", nb, 480, 28, 3, 1, 1);
        snprintf(l, sizeof l, "ResNet GlobalAveragePool %dx2048x7x7", nb);
        pool(&cpu, l, "GlobalAveragePool", nb, 2048, 7, 0, 0, 0);
        int64_t a[4] = {nb, 256, 56, 56}, se[4] = {nb, 240, 28, 28}, sc[4] = {nb, 240, 1, 1};
        int64_t sm[2] = {nb, 1000};
        snprintf(l, sizeof l, "residual Add %dx256x56x56", nb);
        eltwise(&cpu, l, "Add", 4, a, a);
        snprintf(l, sizeof l, "squeeze-excite Mul %dx240x28x28 by Nx240x1x1", nb);
        eltwise(&cpu, l, "Mul", 4, se, sc);
        snprintf(l, sizeof l, "Sigmoid %dx256x56x56", nb);
        eltwise(&cpu, l, "Sigmoid", 4, a, NULL);
        snprintf(l, sizeof l, "Softmax %dx1000", nb);
        eltwise(&cpu, l, "Softmax", 2, sm, NULL);
    }
    printf("\n");
    activation_error(&cpu);
    return 0;
}
