/* test_onnx_export.c - lucid_model_save_onnx: an optimized graph (fused layers, a merged
 * sibling group with its Split, views) written as ONNX loads back and computes the same
 * outputs; the fused layers keep their original node names; write errors are reported. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "core/util.h"
#include "ir/graph.h"
#include "ir/model.h"

static uint64_t seed_state = 99;

static float uniform(void)
{
    seed_state = seed_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((seed_state >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

static int tensor(lucid_graph *g, const char *name)
{
    return lucid_graph_tensor(g, name, NULL);
}

static void weights(lucid_graph *g, const char *name, int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *v = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) v[i] = 0.5f * uniform();
    lucid_graph_set_initializer(g, tensor(g, name), LUCID_DTYPE_FLOAT, rank, dims, v,
                                sizeof(float) * (size_t)n, NULL);
}

static int node(lucid_graph *g, const char *name, const char *op, int n_in, const char **ins,
                const char *out)
{
    int in[4], o = tensor(g, out);
    for (int i = 0; i < n_in; i++) in[i] = tensor(g, ins[i]);
    return lucid_graph_add_node(g, name, op, "", 13, in, n_in, &o, 1, NULL);
}

static void attr_int(lucid_graph *g, int n, const char *name, int64_t v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INT, .i = v};
    lucid_node_add_attr(&g->nodes[n], &a, NULL);
}

/* x -> two sibling 1x1 Conv + Relu (merged, then fused) -> Concat -> Flatten (a view) -> Gemm */
static lucid_model_t *build(void)
{
    seed_state = 99;
    lucid_graph *g = lucid_graph_create();
    int x = tensor(g, "x");
    g->tensors[x].dtype = LUCID_DTYPE_FLOAT;
    g->tensors[x].rank = 4;
    int64_t xd[4] = {1, 3, 5, 5};
    memcpy(g->tensors[x].dims, xd, sizeof xd);
    lucid_graph_add_input(g, x, NULL);
    int64_t w1[4] = {4, 3, 1, 1}, w2[4] = {2, 3, 1, 1}, b1[1] = {4}, b2[1] = {2};
    int64_t gw[2] = {10, 150}, gb[1] = {10};
    weights(g, "c1.W", 4, w1);
    weights(g, "c1.B", 1, b1);
    weights(g, "c2.W", 4, w2);
    weights(g, "c2.B", 1, b2);
    weights(g, "fc.W", 2, gw);
    weights(g, "fc.B", 1, gb);
    node(g, "c1", "Conv", 3, (const char *[]){"x", "c1.W", "c1.B"}, "a");
    node(g, "c2", "Conv", 3, (const char *[]){"x", "c2.W", "c2.B"}, "b");
    node(g, "r1", "Relu", 1, (const char *[]){"a"}, "ra");
    node(g, "r2", "Relu", 1, (const char *[]){"b"}, "rb");
    int cat = node(g, "cat", "Concat", 2, (const char *[]){"ra", "rb"}, "c");
    attr_int(g, cat, "axis", 1);
    node(g, "flat", "Flatten", 1, (const char *[]){"c"}, "f");
    int fc = node(g, "fc", "Gemm", 3, (const char *[]){"f", "fc.W", "fc.B"}, "y");
    attr_int(g, fc, "transB", 1);
    lucid_graph_add_output(g, lucid_graph_find(g, "y"), NULL);
    lucid_error err;
    if (lucid_graph_finalize(g, &err)) {
        printf("finalize: %s\n", err.message);
        lucid_graph_destroy(g);
        return NULL;
    }
    lucid_model_t *m = NULL;
    lucid_model_wrap(g, &m, NULL);
    return m;
}

/* The first output of m on a fixed input, copied into out (10 floats). */
static bool run(const lucid_model_t *m, float *out)
{
    float in[75];
    for (int i = 0; i < 75; i++) in[i] = (float)((i * 37) % 23) / 11.0f - 1.0f;
    int64_t dims[4] = {1, 3, 5, 5};
    lucid_context_t *ctx = NULL;
    lucid_error err;
    if (lucid_context_create(m, NULL, &ctx, &err)) {
        printf("context: %s\n", err.message);
        return false;
    }
    bool ok = !lucid_context_set_input(ctx, "x", LUCID_DTYPE_FLOAT, 4, dims, in) &&
              !lucid_context_run(ctx);
    lucid_array y;
    if (ok && !lucid_context_output(ctx, 0, &y) && y.nbytes == 10 * sizeof(float))
        memcpy(out, y.data, y.nbytes);
    else
        ok = false;
    if (!ok) printf("run: %s\n", lucid_context_error(ctx));
    lucid_context_destroy(ctx);
    return ok;
}

static void test_round_trip(int level)
{
    lucid_model_t *m = build();
    CHECK(m != NULL, "build failed");
    if (!m) return;
    float ref[10], opt[10], back[10];
    CHECK(run(m, ref), "level %d: reference run", level);
    lucid_optimize_options opts;
    lucid_optimize_options_default(&opts);
    opts.opt_level = level;
    lucid_error err;
    lucid_status st = lucid_model_optimize(m, &opts, NULL, &err);
    CHECK(!st, "level %d: optimize: %s", level, st ? err.message : "");
    CHECK(run(m, opt), "level %d: optimized run", level);
    char path[64];
    snprintf(path, sizeof path, "export_test_%d.onnx", level);
    st = lucid_model_save_onnx(m, path, &err);
    CHECK(!st, "level %d: save: %s", level, st ? err.message : "");
    lucid_model_t *loaded = NULL;
    st = lucid_model_load(path, &loaded, &err);
    CHECK(!st, "level %d: load: %s", level, st ? err.message : "");
    if (!st) {
        CHECK(run(loaded, back), "level %d: run of the loaded model", level);
        double back_diff = 0, opt_diff = 0, peak = 0;
        for (int i = 0; i < 10; i++) {
            back_diff = fmax(back_diff, fabs((double)back[i] - opt[i]));
            opt_diff = fmax(opt_diff, fabs((double)opt[i] - ref[i]));
            peak = fmax(peak, fabs(ref[i]));
        }
        CHECK(back_diff == 0, "level %d: the loaded model differs by %g", level, back_diff);
        CHECK(opt_diff <= 1e-5 * peak, "level %d: optimized differs by %g (peak %g)", level,
              opt_diff, peak);
        lucid_model_info a, b;
        lucid_model_get_info(m, &a);
        lucid_model_get_info(loaded, &b);
        CHECK(a.num_nodes == b.num_nodes, "level %d: %zu nodes saved, %zu loaded", level,
              a.num_nodes, b.num_nodes);
        bool fused_named = level < 2;
        for (size_t i = 0; i < b.num_nodes; i++) {
            lucid_node_info ni;
            lucid_model_node(loaded, i, &ni);
            if (strcmp(ni.op_type, "FusedConv") == 0 && strstr(ni.name, "c1 + c2"))
                fused_named = true;
        }
        CHECK(fused_named, "level %d: the merged, fused layer lost its name", level);
    }
    lucid_model_destroy(loaded);
    lucid_model_destroy(m);
    remove(path);
}

static void test_errors(void)
{
    lucid_model_t *m = build();
    lucid_error err;
    lucid_status st = lucid_model_save_onnx(m, "/nonexistent-dir/x.onnx", &err);
    CHECK(st == LUCID_STATUS_IO_ERROR, "unwritable path: status %d", (int)st);
    CHECK(strstr(err.message, "/nonexistent-dir/x.onnx") != NULL, "message: %s", err.message);
    st = lucid_model_save_onnx(NULL, "x.onnx", &err);
    CHECK(st == LUCID_STATUS_INVALID_ARGUMENT, "NULL model: status %d", (int)st);
    lucid_model_destroy(m);
}

int main(void)
{
    for (int level = 0; level <= 3; level++) test_round_trip(level);
    test_errors();
    return test_summary();
}
