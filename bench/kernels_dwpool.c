/* kernels_dwpool.c - times lucid's depthwise-conv and pooling tactics on the zoo's layer
 * shapes (MobileNetV2, EfficientNet-B0, ShuffleNetV2, GoogLeNet, Inception-v3, ResNet):
 * per round every tactic runs once in turn (interleaved), reporting the median of the
 * single-thread CPU time (CLOCK_THREAD_CPUTIME_ID: time the scheduler gave another process
 * on a shared machine does not count) and the median 2-thread wall time. Usage:
 *   lucid_bench_kernels_dwpool [tactic-prefix,...] [rounds=21] [filter-substring]
 * Built with -DLUCID_BENCH=ON as lucid_bench_kernels_dwpool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "bench_graph.h"
#include "tactics/tactic.h"

static double clock_ms(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec * 1e3 + 1e-6 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static lucid_graph *g;
static int in_t[4], n_in;
static const char *prefixes = "cpu.,dnnl.";
static const char *filter = "";
static int rounds = 21;

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

static bool wanted(const char *name)
{
    const char *p = prefixes;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len && strncmp(name, p, len) == 0) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

static void bench_case(const char *label, const lucid_cpu_features *cpu)
{
    lucid_error err;
    if (!strstr(label, filter) || lucid_graph_finalize(g, &err)) {
        lucid_graph_destroy(g);
        return;
    }
    const lucid_node *n = &g->nodes[0];
    lucid_array in[4], out;
    void *owned[4] = {0};
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, k);
        void *d = t->data;
        if (!d) {
            int64_t ne = lucid_tensor_numel(t);
            float *f = malloc(sizeof(float) * (size_t)ne);
            for (int64_t i = 0; i < ne; i++) f[i] = (float)((i * 104729) % 2001) / 1000.0f - 1.0f;
            d = owned[k] = f;
        }
        lucid_tensor_array(t, d, &in[k]);
    }
    const lucid_ir_tensor *yt = lucid_op_output(g, n, 0);
    void *ydata = malloc(lucid_tensor_nbytes(yt));
    lucid_tensor_array(yt, ydata, &out);
    enum { MAXT = 8, MAXR = 101 };
    const lucid_tactic *tacs[MAXT];
    void *states[MAXT], *work[MAXT][2];
    int nt = 0;
    for (size_t i = 0; i < lucid_tactic_count() && nt < MAXT; i++) {
        const lucid_tactic *t = lucid_tactic_at(i);
        char why[256] = "";
        if (t == &lucid_tactic_reference || !wanted(t->name)) continue;
        if (!t->supports(g, n, cpu, why, sizeof why)) continue;
        /* the slow general candidates would only stretch the run */
        if (strstr(t->name, "generic") || strstr(t->name, "im2col") ||
            strcmp(t->name, "dnnl.conv.f32.nchw") == 0)
            continue;
        if (t->prepare(g, n, 2, &states[nt], &err)) continue;
        for (int th = 0; th < 2; th++) {
            size_t ws = t->workspace(states[nt], th + 1);
            work[nt][th] = ws ? aligned_alloc(64, (ws + 63) / 64 * 64) : NULL;
        }
        tacs[nt++] = t;
    }
    lucid_threadpool *pool2 = lucid_threadpool_create(2);
    static double cpu1[MAXT][MAXR], wall2[MAXT][MAXR];
    for (int r = 0; r < rounds + 2; r++)
        for (int k = 0; k < nt; k++) {
            double c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
            tacs[k]->run(states[k], in, n->n_inputs, &out, 1, work[k][0], NULL, &err);
            double c1 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
            double w0 = clock_ms(CLOCK_MONOTONIC);
            tacs[k]->run(states[k], in, n->n_inputs, &out, 1, work[k][1], pool2, &err);
            double w1 = clock_ms(CLOCK_MONOTONIC);
            if (r >= 2) cpu1[k][r - 2] = c1 - c0, wall2[k][r - 2] = w1 - w0;
        }
    for (int k = 0; k < nt; k++) {
        qsort(cpu1[k], (size_t)rounds, sizeof(double), cmp_d);
        qsort(wall2[k], (size_t)rounds, sizeof(double), cmp_d);
        printf("| %s | %s | %.4f | %.4f |\n", label, tacs[k]->name, cpu1[k][rounds / 2],
               wall2[k][rounds / 2]);
        tacs[k]->release(states[k]);
        free(work[k][0]);
        free(work[k][1]);
    }
    lucid_threadpool_destroy(pool2);
    for (int k = 0; k < 4; k++) free(owned[k]);
    free(ydata);
    lucid_graph_destroy(g);
}

/* A depthwise FusedConv (act NULL: a plain Conv) on 1 x ch x hw x hw, optional residual. */
static void dw(const lucid_cpu_features *cpu, const char *model, int64_t ch, int64_t hw,
               int64_t k, int64_t s, const char *act, bool residual)
{
    char label[160];
    snprintf(label, sizeof label, "%s dw %lldx%lld s%lld %lldx%lldx%lld %s%s", model,
             (long long)k, (long long)k, (long long)s, (long long)ch, (long long)hw,
             (long long)hw, act ? act : "none", residual ? " +res" : "");
    g = lucid_graph_create();
    n_in = 0;
    int64_t xd[4] = {1, ch, hw, hw}, wd[4] = {ch, 1, k, k}, bd[1] = {ch};
    add_input(4, xd, false);
    add_input(4, wd, true);
    add_input(1, bd, true);
    bool fused = act || residual;
    if (residual) {
        int64_t zd[4] = {1, ch, (hw + s - 1) / s, (hw + s - 1) / s};
        add_input(4, zd, false);
    }
    lucid_node *n = add_node(fused ? LUCID_DOMAIN : "", fused ? "FusedConv" : "Conv", fused ? 1 : 13);
    int64_t ks[2] = {k, k}, st[2] = {s, s}, p = k / 2, pads[4] = {p, p, p, p};
    bench_attr_ints(n, "kernel_shape", 2, ks);
    bench_attr_ints(n, "strides", 2, st);
    bench_attr_ints(n, "pads", 4, pads);
    bench_attr_int(n, "group", ch);
    if (fused) {
        bench_attr_str(n, "activation", act ? act : "");
        if (act && strcmp(act, "Clip") == 0) {
            bench_attr_float(n, "activation_alpha", 0);
            bench_attr_float(n, "activation_beta", 6);
        }
    }
    bench_case(label, cpu);
}

static void pool(const lucid_cpu_features *cpu, const char *model, const char *op, int64_t ch,
                 int64_t hw, int64_t k, int64_t s, int64_t p, int ceil_mode, int cip)
{
    char label[160];
    snprintf(label, sizeof label, "%s %s %lldx%lld s%lld p%lld %lldx%lldx%lld%s", model, op,
             (long long)k, (long long)k, (long long)s, (long long)p, (long long)ch,
             (long long)hw, (long long)hw, ceil_mode ? " ceil" : "");
    g = lucid_graph_create();
    n_in = 0;
    int64_t xd[4] = {1, ch, hw, hw};
    add_input(4, xd, false);
    lucid_node *n = add_node("", op, 13);
    if (k) {
        int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {p, p, p, p};
        bench_attr_ints(n, "kernel_shape", 2, ks);
        bench_attr_ints(n, "strides", 2, st);
        bench_attr_ints(n, "pads", 4, pads);
        bench_attr_int(n, "ceil_mode", ceil_mode);
        if (strcmp(op, "AveragePool") == 0) bench_attr_int(n, "count_include_pad", cip);
    }
    bench_case(label, cpu);
}

int main(int argc, char **argv)
{
    if (argc > 1) prefixes = argv[1];
    if (argc > 2) rounds = atoi(argv[2]) < 1 ? 1 : atoi(argv[2]) > 101 ? 101 : atoi(argv[2]);
    if (argc > 3) filter = argv[3];
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    printf("cpu: %s, %d cores; medians of %d interleaved rounds\n\n", cpu.model, cpu.cores,
           rounds);
    printf("| layer | tactic | 1 thread CPU ms | 2 threads wall ms |\n|---|---|---|---|\n");
    /* MobileNetV2 (ReLU6 = Clip 0..6) */
    dw(&cpu, "MobileNetV2", 32, 112, 3, 1, "Clip", false);
    dw(&cpu, "MobileNetV2", 96, 112, 3, 2, "Clip", false);
    dw(&cpu, "MobileNetV2", 144, 56, 3, 1, "Clip", false);
    dw(&cpu, "MobileNetV2", 144, 56, 3, 2, "Clip", false);
    dw(&cpu, "MobileNetV2", 192, 28, 3, 1, "Clip", false);
    dw(&cpu, "MobileNetV2", 384, 14, 3, 1, "Clip", false);
    dw(&cpu, "MobileNetV2", 960, 7, 3, 1, "Clip", false);
    /* EfficientNet-B0 (SiLU, 5x5) */
    dw(&cpu, "EfficientNet", 32, 112, 3, 1, "SiLU", false);
    dw(&cpu, "EfficientNet", 144, 56, 5, 2, "SiLU", false);
    dw(&cpu, "EfficientNet", 240, 28, 5, 1, "SiLU", false);
    dw(&cpu, "EfficientNet", 672, 14, 5, 1, "SiLU", false);
    dw(&cpu, "EfficientNet", 1152, 7, 5, 1, "SiLU", false);
    /* ShuffleNetV2 (no activation) */
    dw(&cpu, "ShuffleNetV2", 58, 56, 3, 2, NULL, false);
    dw(&cpu, "ShuffleNetV2", 116, 28, 3, 1, NULL, false);
    dw(&cpu, "ShuffleNetV2", 232, 14, 3, 1, NULL, false);
    /* pools */
    pool(&cpu, "ResNet", "MaxPool", 64, 112, 3, 2, 1, 0, 0);
    pool(&cpu, "GoogLeNet", "MaxPool", 64, 112, 3, 2, 0, 1, 0);
    pool(&cpu, "GoogLeNet", "MaxPool", 192, 56, 3, 2, 0, 1, 0);
    pool(&cpu, "GoogLeNet", "MaxPool", 192, 28, 3, 1, 1, 1, 0);
    pool(&cpu, "GoogLeNet", "MaxPool", 480, 28, 3, 1, 1, 1, 0);
    pool(&cpu, "GoogLeNet", "MaxPool", 512, 14, 3, 1, 1, 1, 0);
    pool(&cpu, "GoogLeNet", "MaxPool", 832, 7, 3, 1, 1, 1, 0);
    pool(&cpu, "Inception-v3", "MaxPool", 64, 147, 3, 2, 0, 0, 0);
    pool(&cpu, "Inception-v3", "AveragePool", 192, 35, 3, 1, 1, 0, 1);
    pool(&cpu, "Inception-v3", "AveragePool", 768, 17, 3, 1, 1, 0, 1);
    pool(&cpu, "Inception-v3", "AveragePool", 1280, 8, 3, 1, 1, 0, 1);
    pool(&cpu, "GoogLeNet", "GlobalAveragePool", 1024, 7, 0, 0, 0, 0, 0);
    return 0;
}
