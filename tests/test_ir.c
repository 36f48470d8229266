/* test_ir.c - graph IR: construction, topological sort, validation errors, inference and
 * the model API's shape fixing, on small hand-built graphs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "core/util.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ops/op.h"

/* A float input "x" of shape dims. */
static int add_input(lucid_graph *g, const char *name, int rank, const int64_t *dims)
{
    int t = lucid_graph_tensor(g, name, NULL);
    g->tensors[t].dtype = LUCID_DTYPE_FLOAT;
    g->tensors[t].rank = rank;
    for (int i = 0; i < rank; i++) g->tensors[t].dims[i] = dims[i];
    lucid_graph_add_input(g, t, NULL);
    return t;
}

static int identity(lucid_graph *g, const char *name, const char *in, const char *out)
{
    int i = lucid_graph_tensor(g, in, NULL), o = lucid_graph_tensor(g, out, NULL);
    return lucid_graph_add_node(g, name, "Identity", "", 13, &i, 1, &o, 1, NULL);
}

static void test_sort_reorders(void)
{
    lucid_graph *g = lucid_graph_create();
    int64_t d[2] = {2, 3};
    add_input(g, "x", 2, d);
    /* listed out of order: c consumes b which consumes a */
    identity(g, "c", "t2", "y");
    identity(g, "b", "t1", "t2");
    identity(g, "a", "x", "t1");
    lucid_graph_add_output(g, lucid_graph_find(g, "y"), NULL);
    lucid_error err;
    lucid_status st = lucid_graph_finalize(g, &err);
    CHECK(st == LUCID_STATUS_OK, "finalize: %s", err.message);
    if (!st) {
        CHECK(strcmp(g->nodes[0].name, "a") == 0 && strcmp(g->nodes[1].name, "b") == 0 &&
                  strcmp(g->nodes[2].name, "c") == 0,
              "topological order a b c, got %s %s %s", g->nodes[0].name, g->nodes[1].name,
              g->nodes[2].name);
        const lucid_ir_tensor *y = &g->tensors[lucid_graph_find(g, "y")];
        CHECK(y->rank == 2 && y->dims[0] == 2 && y->dims[1] == 3, "y shape inferred");
        CHECK(y->producer == 2, "y producer is node 2, got %d", y->producer);
        const lucid_ir_tensor *x = &g->tensors[lucid_graph_find(g, "x")];
        CHECK(x->n_consumers == 1 && x->consumers[0] == 0, "x consumed by node 0");
    }
    lucid_graph_destroy(g);
}

static void test_cycle(void)
{
    lucid_graph *g = lucid_graph_create();
    int64_t d[1] = {4};
    add_input(g, "x", 1, d);
    identity(g, "p", "q_out", "p_out");
    identity(g, "q", "p_out", "q_out");
    lucid_graph_add_output(g, lucid_graph_find(g, "p_out"), NULL);
    lucid_error err;
    lucid_status st = lucid_graph_finalize(g, &err);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "cycle refused (status %d)", st);
    CHECK(strstr(err.message, "cycle") != NULL, "message names the cycle: %s", err.message);
    lucid_graph_destroy(g);
}

static void test_duplicate_producer(void)
{
    lucid_graph *g = lucid_graph_create();
    int64_t d[1] = {4};
    add_input(g, "x", 1, d);
    identity(g, "first", "x", "y");
    identity(g, "second", "x", "y");
    lucid_graph_add_output(g, lucid_graph_find(g, "y"), NULL);
    lucid_error err;
    lucid_status st = lucid_graph_finalize(g, &err);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "duplicate producer refused");
    CHECK(strstr(err.message, "second") && strstr(err.message, "first"),
          "message names both nodes: %s", err.message);
    lucid_graph_destroy(g);
}

static void test_dangling_input(void)
{
    lucid_graph *g = lucid_graph_create();
    int64_t d[1] = {4};
    add_input(g, "x", 1, d);
    identity(g, "lonely", "nowhere", "y");
    lucid_graph_add_output(g, lucid_graph_find(g, "y"), NULL);
    lucid_error err;
    lucid_status st = lucid_graph_finalize(g, &err);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "dangling input refused");
    CHECK(strstr(err.message, "nowhere") && strstr(err.message, "lonely"),
          "message names tensor and node: %s", err.message);
    lucid_graph_destroy(g);
}

static void test_unknown_op_and_opset(void)
{
    lucid_graph *g = lucid_graph_create();
    int64_t d[1] = {4};
    int x = add_input(g, "x", 1, d);
    int y = lucid_graph_tensor(g, "y", NULL);
    lucid_graph_add_node(g, "weird", "FooBar", "", 13, &x, 1, &y, 1, NULL);
    lucid_graph_add_output(g, y, NULL);
    lucid_error err;
    lucid_status st = lucid_graph_finalize(g, &err);
    CHECK(st == LUCID_STATUS_UNSUPPORTED, "unknown op refused");
    CHECK(strstr(err.message, "FooBar") && strstr(err.message, "weird") &&
              strstr(err.message, "opset 13"),
          "message names op, node and opset: %s", err.message);
    lucid_graph_destroy(g);

    g = lucid_graph_create();
    x = add_input(g, "x", 1, d);
    y = lucid_graph_tensor(g, "y", NULL);
    lucid_graph_add_node(g, "old", "Dropout", "", 3, &x, 1, &y, 1, NULL);
    lucid_graph_add_output(g, y, NULL);
    st = lucid_graph_finalize(g, &err);
    CHECK(st == LUCID_STATUS_UNSUPPORTED && strstr(err.message, "opset 3") &&
              strstr(err.message, "from opset 7"),
          "Dropout's opset-3 form refused: %s", err.message);
    lucid_graph_destroy(g);

    g = lucid_graph_create();
    x = add_input(g, "x", 1, d);
    y = lucid_graph_tensor(g, "y", NULL);
    lucid_graph_add_node(g, "future", "Identity", "", 99, &x, 1, &y, 1, NULL);
    lucid_graph_add_output(g, y, NULL);
    st = lucid_graph_finalize(g, &err);
    CHECK(st == LUCID_STATUS_UNSUPPORTED && strstr(err.message, "opset 99"),
          "opset 99 refused: %s", err.message);
    lucid_graph_destroy(g);

    g = lucid_graph_create();
    x = add_input(g, "x", 1, d);
    y = lucid_graph_tensor(g, "y", NULL);
    lucid_graph_add_node(g, "ms", "Identity", "com.microsoft", 1, &x, 1, &y, 1, NULL);
    lucid_graph_add_output(g, y, NULL);
    st = lucid_graph_finalize(g, &err);
    CHECK(st == LUCID_STATUS_UNSUPPORTED && strstr(err.message, "com.microsoft"),
          "foreign domain refused: %s", err.message);
    lucid_graph_destroy(g);
}

static void test_attr_types(void)
{
    lucid_graph *g = lucid_graph_create();
    int64_t d[1] = {4};
    int x = add_input(g, "x", 1, d);
    int y = lucid_graph_tensor(g, "y", NULL);
    int ni = lucid_graph_add_node(g, "n", "Identity", "", 13, &x, 1, &y, 1, NULL);
    lucid_node *n = &g->nodes[ni];
    lucid_attr a = {0};
    a.name = lucid_strdup("axis");
    a.type = LUCID_ATTR_FLOAT;
    a.f = 1.5f;
    lucid_error err;
    CHECK(lucid_node_add_attr(n, &a, &err) == LUCID_STATUS_OK, "add attr");
    int64_t v;
    lucid_status st = lucid_attr_int(n, "axis", 0, &v, &err);
    CHECK(st == LUCID_STATUS_INVALID_MODEL && strstr(err.message, "'axis' must be INT"),
          "wrong attribute type refused: %s", err.message);
    st = lucid_attr_int(n, "missing", 7, &v, &err);
    CHECK(st == LUCID_STATUS_OK && v == 7, "absent attribute gives the default");
    lucid_attr b = {0};
    b.name = lucid_strdup("axis");
    b.type = LUCID_ATTR_INT;
    st = lucid_node_add_attr(n, &b, &err);
    CHECK(st == LUCID_STATUS_INVALID_MODEL && strstr(err.message, "twice"),
          "duplicate attribute refused: %s", err.message);
    lucid_attr_free(&b);
    lucid_graph_destroy(g);
}

static void test_set_input_shape(void)
{
    lucid_graph *g = lucid_graph_create();
    int64_t d[2] = {-1, 3};
    int x = add_input(g, "x", 2, d);
    identity(g, "id", "x", "y");
    lucid_graph_add_output(g, lucid_graph_find(g, "y"), NULL);
    lucid_error err;
    CHECK(lucid_graph_finalize(g, &err) == LUCID_STATUS_OK, "finalize symbolic: %s",
          err.message);
    CHECK(!g->shapes_known, "symbolic dim leaves shapes unknown");
    lucid_model_t *m;
    lucid_model_wrap(g, &m, &err);
    lucid_context_t *ctx = NULL;
    CHECK(lucid_context_create(m, NULL, &ctx, &err) == LUCID_STATUS_INVALID_ARGUMENT &&
              strstr(err.message, "'x'"),
          "context refuses unknown shapes: %s", err.message);
    int64_t bad[2] = {5, 4};
    CHECK(lucid_model_set_input_shape(m, "x", 2, bad, &err) == LUCID_STATUS_INVALID_ARGUMENT,
          "a shape contradicting a fixed dim is refused");
    CHECK(g->tensors[x].dims[0] == -1 && g->tensors[x].dims[1] == 3, "model unchanged");
    int64_t good[2] = {5, 3};
    CHECK(lucid_model_set_input_shape(m, "x", 2, good, &err) == LUCID_STATUS_OK, "fix: %s",
          err.message);
    CHECK(g->shapes_known, "shapes known after fixing");
    CHECK(lucid_context_create(m, NULL, &ctx, &err) == LUCID_STATUS_OK, "context: %s",
          err.message);
    float in[15], *out;
    for (int i = 0; i < 15; i++) in[i] = (float)i * 0.5f;
    CHECK(lucid_context_set_input(ctx, "x", LUCID_DTYPE_FLOAT, 2, good, in) == 0, "set input");
    CHECK(lucid_context_set_input(ctx, "x", LUCID_DTYPE_INT64, 2, good, in) ==
                  LUCID_STATUS_INVALID_ARGUMENT &&
              strstr(lucid_context_error(ctx), "int64"),
          "dtype mismatch refused: %s", lucid_context_error(ctx));
    CHECK(lucid_context_run(ctx) == LUCID_STATUS_OK, "run: %s", lucid_context_error(ctx));
    lucid_array o;
    CHECK(lucid_context_output(ctx, 0, &o) == LUCID_STATUS_OK && o.rank == 2 && o.dims[0] == 5,
          "output view");
    out = o.data;
    CHECK(memcmp(out, in, sizeof in) == 0, "identity copies");
    lucid_context_destroy(ctx);
    lucid_model_destroy(m);
}

static void test_limits(void)
{
    int64_t dims[3] = {1LL << 20, 1LL << 20, 1LL << 20};
    CHECK(lucid_shape_numel(3, dims) == -2, "element limit");
    int64_t neg[2] = {3, -1};
    CHECK(lucid_shape_numel(2, neg) == -1, "negative dim");
    uint16_t h = lucid_float_to_half(1.0f);
    CHECK(h == 0x3c00 && lucid_half_to_float(h) == 1.0f, "half 1.0");
    CHECK(lucid_half_to_float(lucid_float_to_half(65504.0f)) == 65504.0f, "half max");
    CHECK(lucid_float_to_half(1e6f) == 0x7c00, "half overflow to inf");
    CHECK(lucid_half_to_float(0x0001) > 5.9e-8f && lucid_half_to_float(0x0001) < 6.0e-8f,
          "half subnormal");
    CHECK(lucid_float_to_bf16(1.0f) == 0x3f80 && lucid_bf16_to_float(0x3f80) == 1.0f, "bf16");
}

int main(void)
{
    test_sort_reorders();
    test_cycle();
    test_duplicate_producer();
    test_dangling_input();
    test_unknown_op_and_opset();
    test_attr_types();
    test_set_input_shape();
    test_limits();
    return test_summary();
}
