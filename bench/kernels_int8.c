/* kernels_int8.c - times the int8 tactics of pointwise QConv layers (channels-last) and QGemm
 * on the zoo's shapes (ResNet-50's 1x1 convolutions and classifier, MobileNetV2's expand and
 * project convolutions): lucid's own cpu.qconv.int8.pointwise.vnni / cpu.qgemm.int8.vnni
 * against oneDNN's dnnl.conv.int8.nhwc / dnnl.matmul.int8, uint8 input, int8 per-channel
 * weights, bias, optional Relu, uint8 (after Relu) or int8 output. Per round every tactic runs
 * once in turn (interleaved); the medians of the single-thread CPU time
 * (CLOCK_THREAD_CPUTIME_ID) and of the 2-thread wall time. Usage:
 *   lucid_bench_kernels_int8 [rounds=51]
 * Built with -DLUCID_BENCH=ON as lucid_bench_kernels_int8. */
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

static int rounds = 51;
static double sum_own[2], sum_dnnl[2];
static int wins[2], cases;

/* A constant (count values of dtype t, seeded pattern) or, with data NULL, a graph input. */
static int add_tensor(lucid_graph *g, const char *name, lucid_dtype t, int rank,
                      const int64_t *d, bool constant, float scale)
{
    int x = lucid_graph_tensor(g, name, NULL);
    if (!constant) {
        lucid_ir_tensor *xt = &g->tensors[x];
        xt->dtype = t;
        xt->rank = rank;
        memcpy(xt->dims, d, sizeof(int64_t) * (size_t)rank);
        lucid_graph_add_input(g, x, NULL);
        return x;
    }
    int64_t n = lucid_shape_numel(rank, d);
    size_t es = lucid_dtype_size(t);
    void *v = calloc((size_t)(n ? n : 1), es);
    for (int64_t i = 0; i < n; i++)
        lucid_store_f64(t, v, i,
                        t == LUCID_DTYPE_FLOAT ? scale * (1.0 + (double)((i * 7919) % 100) / 100.0)
                        : rank == 0            ? 0.0 /* a zero point */
                                               : (double)((i * 7919) % 255 - 127));
    lucid_graph_set_initializer(g, x, t, rank, d, v, es * (size_t)n, NULL);
    return x;
}

static void run_case(const char *label, lucid_graph *g, const lucid_cpu_features *cpu,
                     const char *own_name)
{
    lucid_error err;
    if (lucid_graph_finalize(g, &err)) {
        printf("| %s | (graph refused: %s) |\n", label, err.message);
        lucid_graph_destroy(g);
        return;
    }
    const lucid_node *n = &g->nodes[0];
    lucid_array in[16], out;
    void *owned[16] = {0};
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, k);
        if (!t) {
            memset(&in[k], 0, sizeof in[k]);
            continue;
        }
        void *d = t->data;
        if (!d) {
            size_t bytes = lucid_tensor_nbytes(t);
            unsigned char *b = malloc(bytes ? bytes : 1);
            for (size_t i = 0; i < bytes; i++) b[i] = (unsigned char)((i * 104729) % 251);
            d = owned[k] = b;
        }
        lucid_tensor_array(t, d, &in[k]);
    }
    const lucid_ir_tensor *yt = lucid_op_output(g, n, 0);
    void *ydata = malloc(lucid_tensor_nbytes(yt));
    lucid_tensor_array(yt, ydata, &out);
    enum { MAXT = 4, MAXR = 101 };
    const lucid_tactic *tacs[MAXT];
    void *states[MAXT], *work[MAXT][2];
    int nt = 0;
    for (size_t i = 0; i < lucid_tactic_count() && nt < MAXT; i++) {
        const lucid_tactic *t = lucid_tactic_at(i);
        char why[256] = "";
        const char *peer = n->op == LUCID_OP_QCONV ? "dnnl.conv.int8.nhwc" : "dnnl.matmul.int8";
        if (strcmp(t->name, own_name) != 0 && strcmp(t->name, peer) != 0) continue;
        if (!t->supports(g, n, cpu, why, sizeof why)) {
            printf("| %s | %s | refused: %s | |\n", label, t->name, why);
            continue;
        }
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
    double med[MAXT][2];
    for (int k = 0; k < nt; k++) {
        qsort(cpu1[k], (size_t)rounds, sizeof(double), cmp_d);
        qsort(wall2[k], (size_t)rounds, sizeof(double), cmp_d);
        med[k][0] = cpu1[k][rounds / 2];
        med[k][1] = wall2[k][rounds / 2];
        printf("| %s | %s | %.4f | %.4f |\n", label, tacs[k]->name, med[k][0], med[k][1]);
    }
    if (nt == 2) {
        /* own first: tactic_list.h lists lucid's tactics before the libraries' */
        cases++;
        for (int th = 0; th < 2; th++) {
            sum_own[th] += med[0][th];
            sum_dnnl[th] += med[1][th];
            wins[th] += med[0][th] < med[1][th];
        }
    }
    for (int k = 0; k < nt; k++) {
        tacs[k]->release(states[k]);
        free(work[k][0]);
        free(work[k][1]);
    }
    lucid_threadpool_destroy(pool2);
    for (int k = 0; k < 16; k++) free(owned[k]);
    free(ydata);
    lucid_graph_destroy(g);
}

/* QConv 1x1 on 1 x c x hw x hw to m channels; relu: Relu and a uint8 output, else int8 */
static void pointwise(const lucid_cpu_features *cpu, const char *model, int64_t c, int64_t m,
                      int64_t hw, bool relu)
{
    char label[128];
    snprintf(label, sizeof label, "%s 1x1 %lld->%lld %lldx%lld%s", model, (long long)c,
             (long long)m, (long long)hw, (long long)hw, relu ? " Relu" : "");
    lucid_graph *g = lucid_graph_create();
    int64_t xd[4] = {1, c, hw, hw}, wd[4] = {m, c, 1, 1}, md[1] = {m};
    int in[11];
    in[0] = add_tensor(g, "x", LUCID_DTYPE_UINT8, 4, xd, false, 0);
    in[1] = add_tensor(g, "xs", LUCID_DTYPE_FLOAT, 0, NULL, true, 0.02f);
    in[2] = -1;
    in[3] = add_tensor(g, "w", LUCID_DTYPE_INT8, 4, wd, true, 0);
    in[4] = add_tensor(g, "ws", LUCID_DTYPE_FLOAT, 1, md, true, 0.003f);
    in[5] = add_tensor(g, "b", LUCID_DTYPE_FLOAT, 1, md, true, 0.1f);
    in[6] = in[7] = in[8] = -1;
    in[9] = add_tensor(g, "ys", LUCID_DTYPE_FLOAT, 0, NULL, true, 0.05f);
    in[10] = add_tensor(g, "yz", relu ? LUCID_DTYPE_UINT8 : LUCID_DTYPE_INT8, 0, NULL, true, 0);
    int y = lucid_graph_tensor(g, "y", NULL);
    int i = lucid_graph_add_node(g, "layer", "QConv", LUCID_DOMAIN, 1, in, 11, &y, 1, NULL);
    lucid_graph_add_output(g, y, NULL);
    lucid_node *n = &g->nodes[i];
    int64_t k1[2] = {1, 1}, p0[4] = {0, 0, 0, 0};
    bench_attr_ints(n, "kernel_shape", 2, k1);
    bench_attr_ints(n, "strides", 2, k1);
    bench_attr_ints(n, "pads", 4, p0);
    bench_attr_str(n, "activation", relu ? "Relu" : "");
    run_case(label, g, cpu, "cpu.qconv.int8.pointwise.vnni");
}

/* QGemm 1 x k to nn outputs, float output (a classifier) */
static void classifier(const lucid_cpu_features *cpu, const char *model, int64_t k, int64_t nn)
{
    char label[128];
    snprintf(label, sizeof label, "%s QGemm 1x%lld -> %lld", model, (long long)k, (long long)nn);
    lucid_graph *g = lucid_graph_create();
    int64_t ad[2] = {1, k}, wd[2] = {nn, k}, nd[1] = {nn};
    int in[6];
    in[0] = add_tensor(g, "a", LUCID_DTYPE_UINT8, 2, ad, false, 0);
    in[1] = add_tensor(g, "as", LUCID_DTYPE_FLOAT, 0, NULL, true, 0.02f);
    in[2] = -1;
    in[3] = add_tensor(g, "w", LUCID_DTYPE_INT8, 2, wd, true, 0);
    in[4] = add_tensor(g, "ws", LUCID_DTYPE_FLOAT, 1, nd, true, 0.003f);
    in[5] = add_tensor(g, "b", LUCID_DTYPE_FLOAT, 1, nd, true, 0.1f);
    int y = lucid_graph_tensor(g, "y", NULL);
    int i = lucid_graph_add_node(g, "fc", "QGemm", LUCID_DOMAIN, 1, in, 6, &y, 1, NULL);
    lucid_graph_add_output(g, y, NULL);
    bench_attr_str(&g->nodes[i], "activation", "");
    run_case(label, g, cpu, "cpu.qgemm.int8.vnni");
}

int main(int argc, char **argv)
{
    if (argc > 1) rounds = atoi(argv[1]) < 1 ? 1 : atoi(argv[1]) > 101 ? 101 : atoi(argv[1]);
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    printf("cpu: %s, %d cores, vnni %d; medians of %d interleaved rounds\n\n", cpu.model,
           cpu.cores, cpu.avx512_vnni, rounds);
    printf("| layer | tactic | 1 thread CPU ms | 2 threads wall ms |\n|---|---|---|---|\n");
    /* ResNet-50: every distinct 1x1 shape (conv1 and conv3 of each stage, downsample) */
    pointwise(&cpu, "ResNet-50", 64, 64, 56, true);
    pointwise(&cpu, "ResNet-50", 64, 256, 56, false);
    pointwise(&cpu, "ResNet-50", 256, 64, 56, true);
    pointwise(&cpu, "ResNet-50", 256, 128, 56, true);
    pointwise(&cpu, "ResNet-50", 128, 512, 28, false);
    pointwise(&cpu, "ResNet-50", 512, 128, 28, true);
    pointwise(&cpu, "ResNet-50", 512, 256, 28, true);
    pointwise(&cpu, "ResNet-50", 256, 1024, 14, false);
    pointwise(&cpu, "ResNet-50", 1024, 256, 14, true);
    pointwise(&cpu, "ResNet-50", 1024, 512, 14, true);
    pointwise(&cpu, "ResNet-50", 512, 2048, 7, false);
    pointwise(&cpu, "ResNet-50", 2048, 512, 7, true);
    classifier(&cpu, "ResNet-50", 2048, 1000);
    /* MobileNetV2: expand (Relu6 left out: Relu) and project convolutions */
    pointwise(&cpu, "MobileNetV2", 16, 96, 112, true);
    pointwise(&cpu, "MobileNetV2", 24, 144, 56, true);
    pointwise(&cpu, "MobileNetV2", 144, 24, 56, false);
    pointwise(&cpu, "MobileNetV2", 32, 192, 28, true);
    pointwise(&cpu, "MobileNetV2", 192, 32, 28, false);
    pointwise(&cpu, "MobileNetV2", 96, 576, 14, true);
    pointwise(&cpu, "MobileNetV2", 576, 96, 14, false);
    pointwise(&cpu, "MobileNetV2", 160, 960, 7, true);
    pointwise(&cpu, "MobileNetV2", 960, 160, 7, false);
    pointwise(&cpu, "MobileNetV2", 320, 1280, 7, true);
    classifier(&cpu, "MobileNetV2", 1280, 1000);
    printf("\n%d layers: own VNNI faster on %d (1 thread CPU) and %d (2 threads wall); sums of "
           "medians own/oneDNN %.3f/%.3f ms (1 thread), %.3f/%.3f ms (2 threads)\n",
           cases, wins[0], wins[1], sum_own[0], sum_dnnl[0], sum_own[1], sum_dnnl[1]);
    return 0;
}
