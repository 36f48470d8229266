/* test_pass_views.c - the split_views pass: contiguous Split outputs become views of the
 * input (exact same results), and the cases where it must not fire. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "core/util.h"
#include "ir/graph.h"
#include "ir/model.h"

/* x [n,4,3,3] -> Relu -> Split(axis 1, [1,3]) -> Sigmoid on each part; part 0's Sigmoid is
 * skipped (the split output itself is a graph output) when split_is_output. */
static lucid_model_t *make_model(int64_t n, bool split_is_output)
{
    lucid_graph *g = lucid_graph_create();
    int x = lucid_graph_tensor(g, "x", NULL);
    g->tensors[x].dtype = LUCID_DTYPE_FLOAT;
    g->tensors[x].rank = 4;
    int64_t dims[4] = {n, 4, 3, 3};
    memcpy(g->tensors[x].dims, dims, sizeof dims);
    lucid_graph_add_input(g, x, NULL);
    int r = lucid_graph_tensor(g, "r", NULL);
    lucid_graph_add_node(g, "relu", "Relu", "", 13, &x, 1, &r, 1, NULL);
    int64_t *sizes = malloc(2 * sizeof(int64_t));
    sizes[0] = 1;
    sizes[1] = 3;
    int64_t sd[1] = {2};
    int s = lucid_graph_tensor(g, "sizes", NULL);
    lucid_graph_set_initializer(g, s, LUCID_DTYPE_INT64, 1, sd, sizes, 2 * sizeof(int64_t), NULL);
    int ins[2] = {r, s}, outs[2] = {lucid_graph_tensor(g, "a", NULL),
                                    lucid_graph_tensor(g, "b", NULL)};
    int ni = lucid_graph_add_node(g, "split", "Split", "", 13, ins, 2, outs, 2, NULL);
    lucid_attr axis = {0};
    axis.name = lucid_strdup("axis");
    axis.type = LUCID_ATTR_INT;
    axis.i = 1;
    lucid_node_add_attr(&g->nodes[ni], &axis, NULL);
    if (split_is_output) {
        lucid_graph_add_output(g, outs[0], NULL);
    } else {
        int ya = lucid_graph_tensor(g, "ya", NULL);
        lucid_graph_add_node(g, "sig_a", "Sigmoid", "", 13, &outs[0], 1, &ya, 1, NULL);
        lucid_graph_add_output(g, ya, NULL);
    }
    int yb = lucid_graph_tensor(g, "yb", NULL);
    lucid_graph_add_node(g, "sig_b", "Sigmoid", "", 13, &outs[1], 1, &yb, 1, NULL);
    lucid_graph_add_output(g, yb, NULL);
    lucid_error err;
    if (lucid_graph_finalize(g, &err)) {
        printf("build: %s\n", err.message);
        lucid_graph_destroy(g);
        return NULL;
    }
    lucid_model_t *m;
    lucid_model_wrap(g, &m, NULL);
    return m;
}

/* Runs the model and returns all outputs concatenated (malloc'd). */
static float *run(lucid_model_t *m, size_t *count)
{
    lucid_context_t *ctx;
    lucid_error err;
    if (lucid_context_create(m, NULL, &ctx, &err)) {
        printf("context: %s\n", err.message);
        return NULL;
    }
    lucid_tensor_desc d;
    lucid_model_input(m, 0, &d);
    int64_t n = 1;
    for (int i = 0; i < d.rank; i++) n *= d.dims[i];
    float *x = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) x[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    lucid_context_set_input(ctx, "x", LUCID_DTYPE_FLOAT, d.rank, d.dims, x);
    free(x);
    lucid_context_run(ctx);
    size_t total = 0;
    float *all = NULL;
    for (size_t k = 0; k < lucid_context_num_outputs(ctx); k++) {
        lucid_array o;
        lucid_context_output(ctx, k, &o);
        all = realloc(all, total * sizeof(float) + o.nbytes);
        memcpy(all + total, o.data, o.nbytes);
        total += o.nbytes / sizeof(float);
    }
    lucid_context_destroy(ctx);
    *count = total;
    return all;
}

static bool split_elided(const lucid_model_t *m)
{
    const lucid_graph *g = m->graph;
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op_type, "Split") == 0) return g->nodes[i].elided;
    return false;
}

static void check(int64_t n, bool split_is_output, bool expect_views)
{
    lucid_model_t *ref = make_model(n, split_is_output), *opt = make_model(n, split_is_output);
    if (!ref || !opt) {
        failed++;
        return;
    }
    const char *only[] = {"split_views"};
    lucid_optimize_options o;
    lucid_optimize_options_default(&o);
    o.passes = only;
    o.n_passes = 1;
    lucid_error err;
    CHECK(lucid_model_optimize(opt, &o, NULL, &err) == 0, "optimize: %s", err.message);
    CHECK(split_elided(opt) == expect_views, "batch %lld, split output is graph output %d: %s",
          (long long)n, split_is_output, expect_views ? "elided" : "kept");
    size_t na, nb;
    float *a = run(ref, &na), *b = run(opt, &nb);
    CHECK(a && b && na == nb && memcmp(a, b, na * sizeof(float)) == 0,
          "outputs identical with and without views");
    free(a);
    free(b);
    lucid_model_destroy(ref);
    lucid_model_destroy(opt);
}

int main(void)
{
    check(1, false, true);  /* contiguous slices: views */
    check(2, false, false); /* batch 2: slices are not contiguous */
    check(1, true, false);  /* a split output is a graph output: keeps its own buffer */
    return test_summary();
}
