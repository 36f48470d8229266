/* test_horizontal_fusion.c - the horizontal_fusion pass on small hand-built graphs: sibling
 * Conv/Gemm/MatMul merges with equal outputs, the merged layer's name and log, and every case
 * where it must not fire (one candidate, other geometry, groups, computed weights, graph
 * outputs, residual Adds, different activations). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "core/util.h"
#include "ir/graph.h"
#include "ir/model.h"

/* ---- building graphs ---------------------------------------------------------------- */

static uint64_t seed_state;

/* uniform in [-1, 1) from a fixed LCG: every run builds the same weights */
static float uniform(void)
{
    seed_state = seed_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((seed_state >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

static void add_input(lucid_graph *g, const char *name, int rank, const int64_t *dims)
{
    int t = lucid_graph_tensor(g, name, NULL);
    g->tensors[t].dtype = LUCID_DTYPE_FLOAT;
    g->tensors[t].rank = rank;
    memcpy(g->tensors[t].dims, dims, sizeof(int64_t) * (size_t)rank);
    lucid_graph_add_input(g, t, NULL);
}

static void add_weights(lucid_graph *g, const char *name, int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *v = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) v[i] = 0.5f * uniform();
    lucid_graph_set_initializer(g, lucid_graph_tensor(g, name, NULL), LUCID_DTYPE_FLOAT, rank,
                                dims, v, sizeof(float) * (size_t)n, NULL);
}

/* A node whose inputs and outputs are comma-separated tensor names. */
static lucid_node *add_node(lucid_graph *g, const char *name, const char *op, const char *ins,
                            const char *outs)
{
    int in[8], out[8], ni = 0, no = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", ins);
    for (char *s = buf, *e; s; s = e) {
        e = strchr(s, ',');
        if (e) *e++ = '\0';
        in[ni++] = *s ? lucid_graph_tensor(g, s, NULL) : -1;
    }
    snprintf(buf, sizeof buf, "%s", outs);
    for (char *s = buf, *e; s; s = e) {
        e = strchr(s, ',');
        if (e) *e++ = '\0';
        out[no++] = lucid_graph_tensor(g, s, NULL);
    }
    /* the index first: adding a node may move g->nodes */
    int idx = lucid_graph_add_node(g, name, op, "", 13, in, ni, out, no, NULL);
    return &g->nodes[idx];
}

static void set_ints(lucid_node *n, const char *name, int count, const int64_t *v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INTS, .count = (size_t)count};
    a.ints = malloc(sizeof(int64_t) * (size_t)count);
    memcpy(a.ints, v, sizeof(int64_t) * (size_t)count);
    lucid_node_add_attr(n, &a, NULL);
}

static void set_int(lucid_node *n, const char *name, int64_t v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INT, .i = v};
    lucid_node_add_attr(n, &a, NULL);
}

static void set_float(lucid_node *n, const char *name, float v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_FLOAT, .f = v};
    lucid_node_add_attr(n, &a, NULL);
}

static void mark_output(lucid_graph *g, const char *name)
{
    lucid_graph_add_output(g, lucid_graph_find(g, name), NULL);
}

/* Conv `name` reading x into y: m filters of c x k x k, stride s, "same" pads, a bias if asked. */
static lucid_node *conv(lucid_graph *g, const char *name, const char *x, const char *y, int64_t c,
                        int64_t m, int64_t k, int64_t s, bool bias)
{
    char w[80], b[80], ins[200];
    snprintf(w, sizeof w, "%s.W", name);
    snprintf(b, sizeof b, "%s.B", name);
    int64_t wd[4] = {m, c, k, k}, bd[1] = {m};
    add_weights(g, w, 4, wd);
    if (bias) add_weights(g, b, 1, bd);
    snprintf(ins, sizeof ins, "%s,%s%s%s", x, w, bias ? "," : "", bias ? b : "");
    lucid_node *n = add_node(g, name, "Conv", ins, y);
    int64_t pads[4] = {k / 2, k / 2, k / 2, k / 2}, strides[2] = {s, s};
    set_ints(n, "pads", 4, pads);
    if (s != 1) set_ints(n, "strides", 2, strides);
    return n;
}

static const int64_t image[4] = {1, 6, 7, 7};

/* ---- running ------------------------------------------------------------------------ */

typedef void (*build_fn)(lucid_graph *g);

static lucid_model_t *make(build_fn build)
{
    seed_state = 2024;
    lucid_graph *g = lucid_graph_create();
    build(g);
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

/* Runs m on seeded inputs; out[i] receive copies of the outputs. Returns their count. */
static size_t run(const lucid_model_t *m, lucid_array *out, size_t max_out)
{
    lucid_context_t *ctx = NULL;
    lucid_error err;
    if (lucid_context_create(m, NULL, &ctx, &err)) {
        printf("context: %s\n", err.message);
        return 0;
    }
    uint64_t saved = seed_state;
    seed_state = 77;
    for (size_t i = 0; i < lucid_model_num_inputs(m); i++) {
        lucid_tensor_desc d;
        lucid_model_input(m, i, &d);
        int64_t n = 1;
        for (int k = 0; k < d.rank; k++) n *= d.dims[k];
        float *v = malloc(sizeof(float) * (size_t)n);
        for (int64_t k = 0; k < n; k++) v[k] = uniform();
        lucid_context_set_input(ctx, d.name, d.dtype, d.rank, d.dims, v);
        free(v);
    }
    seed_state = saved;
    size_t n_out = 0;
    if (!lucid_context_run(ctx)) {
        n_out = lucid_context_num_outputs(ctx);
        if (n_out > max_out) n_out = max_out;
        for (size_t i = 0; i < n_out; i++) {
            lucid_array a;
            lucid_context_output(ctx, i, &a);
            out[i] = a;
            out[i].data = malloc(a.nbytes);
            memcpy(out[i].data, a.data, a.nbytes);
        }
    } else {
        printf("run: %s\n", lucid_context_error(ctx));
    }
    lucid_context_destroy(ctx);
    return n_out;
}

static int count_op(const lucid_model_t *m, const char *op)
{
    lucid_model_info info;
    lucid_model_get_info(m, &info);
    int c = 0;
    for (size_t i = 0; i < info.num_nodes; i++) {
        lucid_node_info ni;
        lucid_model_node(m, i, &ni);
        c += strcmp(ni.op_type, op) == 0;
    }
    return c;
}

typedef struct result {
    lucid_model_t *model; /* after the pass */
    lucid_opt_report_t *report;
    size_t merges, refusals;
    double max_ratio; /* max |after - before| / max |before| over the outputs */
} result;

/* Builds the graph twice, runs horizontal_fusion on one copy, and compares their outputs. */
static result fuse(build_fn build)
{
    result r = {.max_ratio = INFINITY};
    lucid_model_t *ref = make(build);
    r.model = make(build);
    if (!ref || !r.model) return r;
    static const char *const only[] = {"horizontal_fusion"};
    lucid_optimize_options opts;
    lucid_optimize_options_default(&opts);
    opts.passes = only;
    opts.n_passes = 1;
    lucid_error err;
    if (lucid_model_optimize(r.model, &opts, &r.report, &err)) {
        printf("optimize: %s\n", err.message);
        lucid_model_destroy(ref);
        return r;
    }
    for (size_t i = 0; i < lucid_opt_report_num_rewrites(r.report); i++) {
        lucid_rewrite_info ri;
        lucid_opt_report_rewrite(r.report, i, &ri);
        if (strcmp(ri.kind, "rewrite") == 0) r.merges++;
        else r.refusals++;
    }
    lucid_array a[4], b[4];
    size_t na = run(ref, a, 4), nb = run(r.model, b, 4);
    if (na && na == nb) {
        r.max_ratio = 0;
        for (size_t i = 0; i < na; i++) {
            if (a[i].nbytes != b[i].nbytes || strcmp(a[i].name, b[i].name) != 0) {
                r.max_ratio = INFINITY;
                continue;
            }
            const float *x = a[i].data, *y = b[i].data;
            double peak = 0, diff = 0;
            for (size_t k = 0; k < a[i].nbytes / sizeof(float); k++) {
                peak = fmax(peak, fabs(x[k]));
                diff = fmax(diff, fabs((double)x[k] - y[k]));
            }
            r.max_ratio = fmax(r.max_ratio, peak > 0 ? diff / peak : diff);
        }
    }
    for (size_t i = 0; i < na; i++) free(a[i].data);
    for (size_t i = 0; i < nb; i++) free(b[i].data);
    lucid_model_destroy(ref);
    return r;
}

static void done(result *r)
{
    lucid_model_destroy(r->model);
    lucid_opt_report_destroy(r->report);
}

/* ---- graphs ------------------------------------------------------------------------- */

/* Inception: three 1x1 convolutions (one without bias) each with a Relu, then a Concat. */
static void inception(lucid_graph *g)
{
    add_input(g, "x", 4, image);
    conv(g, "branch1x1", "x", "a", 6, 4, 1, 1, true);
    conv(g, "branch5x5_1", "x", "b", 6, 3, 1, 1, false);
    conv(g, "branch3x3dbl_1", "x", "c", 6, 5, 1, 1, true);
    add_node(g, "relu_a", "Relu", "a", "ra");
    add_node(g, "relu_b", "Relu", "b", "rb");
    add_node(g, "relu_c", "Relu", "c", "rc");
    set_int(add_node(g, "cat", "Concat", "ra,rb,rc", "y"), "axis", 1);
    mark_output(g, "y");
}

static void test_inception(void)
{
    result r = fuse(inception);
    CHECK(r.merges == 1, "inception: %zu merges", r.merges);
    CHECK(r.max_ratio <= 1e-6, "inception: outputs differ by %g", r.max_ratio);
    CHECK(count_op(r.model, "Conv") == 1, "inception: %d convolutions", count_op(r.model, "Conv"));
    CHECK(count_op(r.model, "Relu") == 1, "inception: %d Relu", count_op(r.model, "Relu"));
    CHECK(count_op(r.model, "Split") == 1, "inception: %d Split", count_op(r.model, "Split"));
    lucid_rewrite_info ri = {0};
    lucid_opt_report_rewrite(r.report, 0, &ri);
    CHECK(ri.layer && strcmp(ri.layer, "branch1x1 + branch5x5_1 + branch3x3dbl_1") == 0,
          "inception: layer '%s'", ri.layer ? ri.layer : "");
    CHECK(ri.nodes && strstr(ri.nodes, "relu_b"), "inception: nodes '%s'", ri.nodes);
    done(&r);
}

/* Two 3x3 stride-1 siblings merge; a 3x3 stride-2 and a 1x1 sibling of the same input stay. */
static void mixed_geometry(lucid_graph *g)
{
    add_input(g, "x", 4, image);
    conv(g, "p", "x", "a", 6, 4, 3, 1, true);
    conv(g, "q", "x", "b", 6, 2, 3, 1, true);
    conv(g, "strided", "x", "c", 6, 2, 3, 2, true);
    conv(g, "pointwise", "x", "d", 6, 3, 1, 1, true);
    add_node(g, "ta", "Tanh", "a", "a_out");
    add_node(g, "tb", "Tanh", "b", "b_out");
    add_node(g, "sc", "Sigmoid", "c", "c_out");
    add_node(g, "sd", "Sigmoid", "d", "d_out");
    mark_output(g, "a_out");
    mark_output(g, "b_out");
    mark_output(g, "c_out");
    mark_output(g, "d_out");
}

static void test_mixed_geometry(void)
{
    result r = fuse(mixed_geometry);
    CHECK(r.merges == 1, "geometry: %zu merges", r.merges);
    CHECK(r.max_ratio <= 1e-6, "geometry: outputs differ by %g", r.max_ratio);
    CHECK(count_op(r.model, "Conv") == 3, "geometry: %d convolutions", count_op(r.model, "Conv"));
    CHECK(count_op(r.model, "Tanh") == 1, "geometry: %d Tanh", count_op(r.model, "Tanh"));
    done(&r);
}

/* Nothing to merge: one candidate only. */
static void single(lucid_graph *g)
{
    add_input(g, "x", 4, image);
    conv(g, "only", "x", "a", 6, 4, 1, 1, true);
    add_node(g, "pool", "GlobalAveragePool", "x", "p");
    mark_output(g, "a");
    mark_output(g, "p");
}

/* Grouped siblings (depthwise) stay apart. */
static void grouped(lucid_graph *g)
{
    add_input(g, "x", 4, image);
    int64_t wd[4] = {6, 1, 3, 3}, pads[4] = {1, 1, 1, 1};
    const char *names[2] = {"dw1", "dw2"}, *outs[2] = {"a", "b"};
    for (int i = 0; i < 2; i++) {
        char w[32], ins[64];
        snprintf(w, sizeof w, "%s.W", names[i]);
        add_weights(g, w, 4, wd);
        snprintf(ins, sizeof ins, "x,%s", w);
        lucid_node *n = add_node(g, names[i], "Conv", ins, outs[i]);
        set_ints(n, "pads", 4, pads);
        set_int(n, "group", 6);
    }
    add_node(g, "sum", "Sub", "a,b", "y");
    mark_output(g, "y");
}

/* Weights computed at run time (a graph input) keep a sibling out. */
static void computed_weights(lucid_graph *g)
{
    add_input(g, "x", 4, image);
    int64_t wd[4] = {4, 6, 1, 1};
    add_input(g, "w_in", 4, wd);
    conv(g, "fixed", "x", "a", 6, 4, 1, 1, true);
    add_node(g, "dynamic", "Conv", "x,w_in", "b");
    add_node(g, "sub", "Sub", "a,b", "y");
    mark_output(g, "y");
}

/* A sibling whose output is a graph output is left out, and logged. */
static void graph_output(lucid_graph *g)
{
    add_input(g, "x", 4, image);
    conv(g, "visible", "x", "a", 6, 4, 1, 1, true);
    conv(g, "hidden", "x", "b", 6, 4, 1, 1, true);
    add_node(g, "relu", "Relu", "b", "y");
    mark_output(g, "a");
    mark_output(g, "y");
}

/* Residual: the sibling feeding an Add goes to vertical fusion instead; different activations
 * never share a merged layer. */
static void residual_and_activations(lucid_graph *g)
{
    add_input(g, "x", 4, image);
    conv(g, "down", "x", "a", 6, 6, 1, 1, true);
    conv(g, "main", "x", "b", 6, 6, 1, 1, true);
    conv(g, "side", "x", "c", 6, 6, 1, 1, true);
    add_node(g, "relu", "Relu", "b", "rb");
    set_float(add_node(g, "leaky", "LeakyRelu", "c", "rc"), "alpha", 0.2f);
    add_node(g, "add", "Add", "a,rb", "s");
    add_node(g, "add2", "Add", "s,rc", "y");
    mark_output(g, "y");
}

static void test_must_not_fire(void)
{
    build_fn builds[] = {single, grouped, computed_weights, graph_output,
                         residual_and_activations};
    const char *names[] = {"single", "grouped", "computed weights", "graph output",
                           "residual and activations"};
    for (size_t i = 0; i < LUCID_ARRAY_LEN(builds); i++) {
        result r = fuse(builds[i]);
        CHECK(r.merges == 0, "%s: %zu merges", names[i], r.merges);
        CHECK(r.max_ratio == 0, "%s: outputs differ by %g", names[i], r.max_ratio);
        CHECK(count_op(r.model, "Split") == 0, "%s: a Split appeared", names[i]);
        if (builds[i] == graph_output)
            CHECK(r.refusals == 1, "graph output: %zu refusals logged", r.refusals);
        done(&r);
    }
}

/* Two LeakyRelu siblings with equal alpha merge with their activation; a third with another
 * alpha stays apart. */
static void leaky(lucid_graph *g)
{
    add_input(g, "x", 4, image);
    const char *names[3] = {"l1", "l2", "l3"};
    const float alphas[3] = {0.1f, 0.1f, 0.3f};
    for (int i = 0; i < 3; i++) {
        char y[16], z[16], an[16];
        snprintf(y, sizeof y, "y%d", i);
        snprintf(z, sizeof z, "z%d", i);
        snprintf(an, sizeof an, "act%d", i);
        conv(g, names[i], "x", y, 6, 3, 3, 1, true);
        set_float(add_node(g, an, "LeakyRelu", y, z), "alpha", alphas[i]);
    }
    add_node(g, "sum", "Sum", "z0,z1,z2", "out");
    mark_output(g, "out");
}

static void test_activation_groups(void)
{
    result r = fuse(leaky);
    CHECK(r.merges == 1, "leaky: %zu merges", r.merges);
    CHECK(r.max_ratio <= 1e-6, "leaky: outputs differ by %g", r.max_ratio);
    CHECK(count_op(r.model, "Conv") == 2, "leaky: %d convolutions", count_op(r.model, "Conv"));
    CHECK(count_op(r.model, "LeakyRelu") == 2, "leaky: %d LeakyRelu",
          count_op(r.model, "LeakyRelu"));
    done(&r);
}

/* Gemm siblings: transB with per-column C of different widths, one C a single value, and a
 * MatMul pair; plus a Gemm with another alpha that stays apart. */
static void gemms(lucid_graph *g)
{
    int64_t xd[2] = {3, 8};
    add_input(g, "x", 2, xd);
    int64_t w1[2] = {5, 8}, w2[2] = {2, 8}, w3[2] = {4, 8}, c1[1] = {5}, c3[1] = {1};
    add_weights(g, "g1.W", 2, w1);
    add_weights(g, "g2.W", 2, w2);
    add_weights(g, "g3.W", 2, w3);
    add_weights(g, "g1.C", 1, c1);
    add_weights(g, "g3.C", 1, c3);
    set_int(add_node(g, "g1", "Gemm", "x,g1.W,g1.C", "a"), "transB", 1);
    set_int(add_node(g, "g2", "Gemm", "x,g2.W", "b"), "transB", 1);
    set_int(add_node(g, "g3", "Gemm", "x,g3.W,g3.C", "c"), "transB", 1);
    lucid_node *odd = add_node(g, "g4", "Gemm", "x,g2.W", "d");
    set_int(odd, "transB", 1);
    set_float(odd, "alpha", 0.5f);
    int64_t m1[2] = {8, 3}, m2[2] = {8, 6};
    add_weights(g, "m1.W", 2, m1);
    add_weights(g, "m2.W", 2, m2);
    add_node(g, "m1", "MatMul", "x,m1.W", "e");
    add_node(g, "m2", "MatMul", "x,m2.W", "f");
    set_int(add_node(g, "cat", "Concat", "a,b,c,d,e,f", "y"), "axis", 1);
    mark_output(g, "y");
}

static void test_gemm(void)
{
    result r = fuse(gemms);
    CHECK(r.merges == 2, "gemm: %zu merges", r.merges);
    CHECK(r.max_ratio <= 1e-6, "gemm: outputs differ by %g", r.max_ratio);
    CHECK(count_op(r.model, "Gemm") == 2, "gemm: %d Gemm", count_op(r.model, "Gemm"));
    CHECK(count_op(r.model, "MatMul") == 1, "gemm: %d MatMul", count_op(r.model, "MatMul"));
    CHECK(count_op(r.model, "Split") == 2, "gemm: %d Split", count_op(r.model, "Split"));
    done(&r);
}

/* The whole pipeline on the Inception graph: the merged layer fuses with its Relu. */
static void test_pipeline(void)
{
    lucid_model_t *ref = make(inception), *m = make(inception);
    lucid_optimize_options opts;
    lucid_optimize_options_default(&opts);
    lucid_error err;
    lucid_status st = lucid_model_optimize(m, &opts, NULL, &err);
    CHECK(!st, "pipeline: %s", st ? err.message : "");
    lucid_array a[1], b[1];
    size_t na = run(ref, a, 1), nb = run(m, b, 1);
    CHECK(na == 1 && nb == 1, "pipeline: runs failed");
    if (na == 1 && nb == 1) {
        const float *x = a[0].data, *y = b[0].data;
        double diff = 0;
        for (size_t k = 0; k < a[0].nbytes / sizeof(float); k++)
            diff = fmax(diff, fabs((double)x[k] - y[k]));
        CHECK(diff <= 1e-6, "pipeline: outputs differ by %g", diff);
    }
    CHECK(count_op(m, "Conv") + count_op(m, "FusedConv") == 1, "pipeline: %d + %d convolutions",
          count_op(m, "Conv"), count_op(m, "FusedConv"));
    CHECK(count_op(m, "Relu") == 0, "pipeline: the Relu was not fused");
    if (na == 1) free(a[0].data);
    if (nb == 1) free(b[0].data);
    lucid_model_destroy(ref);
    lucid_model_destroy(m);
}

int main(void)
{
    test_inception();
    test_mixed_geometry();
    test_must_not_fire();
    test_activation_groups();
    test_gemm();
    test_pipeline();
    return test_summary();
}
