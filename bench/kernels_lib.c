/* kernels_lib.c - times every tactic that supports a zoo-like layer (ResNet, MobileNetV2,
 * GoogLeNet, FC) against the reference kernel and each other: per round each tactic runs
 * once in turn (interleaved, A B A B), medians over rounds. Usage:
 *   lucid_bench_kernels_lib [threads=2] [batch=1] [rounds=15]
 * Prints a Markdown table: layer, tactic, median ms, speed-up over the reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "tactics/tactic.h"

static uint64_t rng = 0x243f6a8885a308d3ull;

static float rand_float(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / 16777216.0 * 2.0 - 1.0);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int add_const(lucid_graph *g, const char *name, int rank, const int64_t *dims)
{
    int64_t n = lucid_shape_numel(rank, dims);
    float *d = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) d[i] = rand_float() * 0.1f;
    int t = lucid_graph_tensor(g, name, NULL);
    lucid_graph_set_initializer(g, t, LUCID_DTYPE_FLOAT, rank, dims, d, sizeof(float) * (size_t)n,
                                NULL);
    return t;
}

static int add_input(lucid_graph *g, const char *name, int rank, const int64_t *dims)
{
    int t = lucid_graph_tensor(g, name, NULL);
    lucid_ir_tensor *x = &g->tensors[t];
    x->dtype = LUCID_DTYPE_FLOAT;
    x->rank = rank;
    for (int i = 0; i < rank; i++) x->dims[i] = dims[i];
    lucid_graph_add_input(g, t, NULL);
    return t;
}

static void attr_ints(lucid_node *n, const char *name, int count, const int64_t *v)
{
    lucid_attr a = {0};
    a.name = lucid_strdup(name);
    a.type = LUCID_ATTR_INTS;
    a.count = (size_t)count;
    a.ints = malloc(sizeof(int64_t) * (size_t)count);
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

/* A FusedConv (bias, activation) layer as the fusion passes leave ResNet/MobileNet layers. */
static lucid_graph *conv_layer(int64_t n, int64_t ic, int64_t oc, int64_t hw, int64_t k,
                               int64_t s, int64_t pad, int64_t group, const char *act, float lo,
                               float hi)
{
    lucid_graph *g = lucid_graph_create();
    int64_t xd[4] = {n, ic, hw, hw}, wd[4] = {oc, ic / group, k, k}, bd[1] = {oc};
    int in[3] = {add_input(g, "x", 4, xd), add_const(g, "w", 4, wd), add_const(g, "b", 1, bd)};
    int y = lucid_graph_tensor(g, "y", NULL);
    int i = lucid_graph_add_node(g, "layer", "FusedConv", LUCID_DOMAIN, 1, in, 3, &y, 1, NULL);
    lucid_graph_add_output(g, y, NULL);
    lucid_node *nd = &g->nodes[i];
    int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {pad, pad, pad, pad};
    attr_ints(nd, "kernel_shape", 2, ks);
    attr_ints(nd, "strides", 2, st);
    attr_ints(nd, "pads", 4, pads);
    attr_int(nd, "group", group);
    attr_string(nd, "activation", act);
    if (strcmp(act, "Clip") == 0) {
        attr_float(nd, "activation_alpha", lo);
        attr_float(nd, "activation_beta", hi);
    }
    return g;
}

/* Gemm with transB = 1 and a bias row: torchvision's classifier. */
static lucid_graph *fc_layer(int64_t m, int64_t k, int64_t nn)
{
    lucid_graph *g = lucid_graph_create();
    int64_t ad[2] = {m, k}, bd[2] = {nn, k}, cd[1] = {nn};
    int in[3] = {add_input(g, "a", 2, ad), add_const(g, "b", 2, bd), add_const(g, "c", 1, cd)};
    int y = lucid_graph_tensor(g, "y", NULL);
    int i = lucid_graph_add_node(g, "fc", "Gemm", "", 13, in, 3, &y, 1, NULL);
    lucid_graph_add_output(g, y, NULL);
    attr_int(&g->nodes[i], "transB", 1);
    return g;
}

static lucid_graph *maxpool_layer(int64_t n, int64_t c, int64_t hw)
{
    lucid_graph *g = lucid_graph_create();
    int64_t xd[4] = {n, c, hw, hw};
    int in[1] = {add_input(g, "x", 4, xd)};
    int y = lucid_graph_tensor(g, "y", NULL);
    int i = lucid_graph_add_node(g, "pool", "MaxPool", "", 13, in, 1, &y, 1, NULL);
    lucid_graph_add_output(g, y, NULL);
    int64_t ks[2] = {3, 3}, st[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
    attr_ints(&g->nodes[i], "kernel_shape", 2, ks);
    attr_ints(&g->nodes[i], "strides", 2, st);
    attr_ints(&g->nodes[i], "pads", 4, pads);
    return g;
}

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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { MAX_TACTICS = 64, MAX_ROUNDS = 101 };

static void bench_layer(const char *label, lucid_graph *g, const lucid_cpu_features *cpu,
                        int threads, int rounds, lucid_threadpool *pool)
{
    lucid_error err;
    if (lucid_graph_finalize(g, &err)) {
        fprintf(stderr, "%s: %s\n", label, err.message);
        exit(1);
    }
    const lucid_node *n = &g->nodes[0];
    lucid_array in[4], out;
    void *in_data[4] = {0};
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, k);
        if (t && !t->data) {
            int64_t ne = lucid_tensor_numel(t);
            float *d = malloc(sizeof(float) * (size_t)ne);
            for (int64_t i = 0; i < ne; i++) d[i] = rand_float();
            in_data[k] = d;
        }
        fill_array(t, t ? (t->data ? t->data : in_data[k]) : NULL, &in[k]);
    }
    const lucid_ir_tensor *yt = lucid_op_output(g, n, 0);
    void *y = aligned_alloc(64, (lucid_tensor_nbytes(yt) + 63) / 64 * 64);
    fill_array(yt, y, &out);
    const lucid_tactic *tac[MAX_TACTICS];
    void *state[MAX_TACTICS], *work[MAX_TACTICS];
    double times[MAX_TACTICS][MAX_ROUNDS];
    int nt = 0;
    for (size_t i = 0; i < lucid_tactic_count() && nt < MAX_TACTICS; i++) {
        const lucid_tactic *t = lucid_tactic_at(i);
        char why[256] = "";
        if (!t->supports(g, n, cpu, why, sizeof why)) continue;
        if (t->prepare(g, n, threads, &state[nt], &err)) {
            fprintf(stderr, "%s: %s prepare: %s\n", label, t->name, err.message);
            continue;
        }
        size_t ws = t->workspace(state[nt], threads);
        work[nt] = ws ? aligned_alloc(64, (ws + 63) / 64 * 64) : NULL;
        tac[nt++] = t;
    }
    /* warm-up: first-touch of workspaces, JIT caches, library thread pools */
    for (int r = 0; r < 2; r++)
        for (int t = 0; t < nt; t++)
            tac[t]->run(state[t], in, n->n_inputs, &out, 1, work[t], pool, &err);
    for (int r = 0; r < rounds; r++)
        for (int t = 0; t < nt; t++) {
            double t0 = now_ms();
            if (tac[t]->run(state[t], in, n->n_inputs, &out, 1, work[t], pool, &err)) {
                fprintf(stderr, "%s: %s: %s\n", label, tac[t]->name, err.message);
                exit(1);
            }
            times[t][r] = now_ms() - t0;
        }
    double ref = 0;
    for (int t = 0; t < nt; t++) {
        qsort(times[t], (size_t)rounds, sizeof(double), cmp_double);
        if (tac[t] == &lucid_tactic_reference) ref = times[t][rounds / 2];
    }
    double best = 1e300;
    for (int t = 0; t < nt; t++)
        if (times[t][rounds / 2] < best) best = times[t][rounds / 2];
    for (int t = 0; t < nt; t++) {
        double med = times[t][rounds / 2];
        printf("| %s | %s | %.3f | %.1fx | %.2fx |\n", label, tac[t]->name, med,
               ref > 0 ? ref / med : 0.0, med / best);
        tac[t]->release(state[t]);
        free(work[t]);
    }
    fflush(stdout);
    for (int k = 0; k < 4; k++) free(in_data[k]);
    free(y);
    lucid_graph_destroy(g);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int64_t batch = argc > 2 ? atoll(argv[2]) : 1;
    int rounds = argc > 3 ? atoi(argv[3]) : 15;
    if (threads < 1 || batch < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: %s [threads] [batch] [rounds <= %d]\n", argv[0], MAX_ROUNDS);
        return 2;
    }
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    lucid_threadpool *pool = threads > 1 ? lucid_threadpool_create(threads) : NULL;
    printf("cpu: %s, %d threads, batch %lld, %d interleaved rounds (median)\n\n", cpu.model,
           threads, (long long)batch, rounds);
    printf("| layer | tactic | median ms | vs ref | vs best |\n|---|---|---|---|---|\n");
    bench_layer("resnet 3x3 64->64 56x56 relu", conv_layer(batch, 64, 64, 56, 3, 1, 1, 1, "Relu", 0, 0),
                &cpu, threads, rounds, pool);
    bench_layer("resnet 1x1 256->64 56x56 relu",
                conv_layer(batch, 256, 64, 56, 1, 1, 0, 1, "Relu", 0, 0), &cpu, threads, rounds, pool);
    bench_layer("stem 7x7 s2 3->64 224x224 relu",
                conv_layer(batch, 3, 64, 224, 7, 2, 3, 1, "Relu", 0, 0), &cpu, threads, rounds, pool);
    bench_layer("mbv2 dw 3x3 144ch 56x56 relu6",
                conv_layer(batch, 144, 144, 56, 3, 1, 1, 144, "Clip", 0, 6), &cpu, threads, rounds,
                pool);
    bench_layer("googlenet 1x1 480->192 14x14 relu",
                conv_layer(batch, 480, 192, 14, 1, 1, 0, 1, "Relu", 0, 0), &cpu, threads, rounds,
                pool);
    bench_layer("googlenet 1x1 192->64 28x28 relu",
                conv_layer(batch, 192, 64, 28, 1, 1, 0, 1, "Relu", 0, 0), &cpu, threads, rounds, pool);
    bench_layer("fc 2048->1000", fc_layer(batch, 2048, 1000), &cpu, threads, rounds, pool);
    bench_layer("maxpool 3x3 s2 64ch 112x112", maxpool_layer(batch, 64, 112), &cpu, threads,
                rounds, pool);
    lucid_threadpool_destroy(pool);
    return 0;
}
