/* test_pass_fusion.c - the fusion passes (bn_folding, vertical_fusion) and the FusedConv and
 * FusedGemm layers on small hand-built graphs: outputs with the passes on equal outputs with
 * them off, the layers they make, the cases where they must not fire, and ResNet-50 from the
 * zoo cache. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "core/util.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ops/activation.h"
#include "ops/op.h"

/* ---- graph building ----------------------------------------------------------------- */

static uint64_t rng_state;

static float rnd(void)
{
    /* a fixed LCG so every run sees the same values */
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
}

static int input(lucid_graph *g, const char *name, int rank, const int64_t *dims)
{
    int t = lucid_graph_tensor(g, name, NULL);
    g->tensors[t].dtype = LUCID_DTYPE_FLOAT;
    g->tensors[t].rank = rank;
    for (int i = 0; i < rank; i++)
        g->tensors[t].dims[i] = dims[i];
    lucid_graph_add_input(g, t, NULL);
    return t;
}

/* A float initializer with values lo + (hi - lo) * u, u uniform in [0, 1). */
static int init_range(lucid_graph *g, const char *name, int rank, const int64_t *dims, float lo,
                      float hi)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        v[i] = lo + (hi - lo) * (rnd() * 0.5f + 0.5f);
    int t = lucid_graph_tensor(g, name, NULL);
    lucid_graph_set_initializer(g, t, LUCID_DTYPE_FLOAT, rank, dims, v, sizeof(float) * (size_t)n,
                                NULL);
    return t;
}

static int init(lucid_graph *g, const char *name, int rank, const int64_t *dims)
{
    return init_range(g, name, rank, dims, -1.0f, 1.0f);
}

static int init_values(lucid_graph *g, const char *name, int rank, const int64_t *dims,
                       const float *values)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
    memcpy(v, values, sizeof(float) * (size_t)n);
    int t = lucid_graph_tensor(g, name, NULL);
    lucid_graph_set_initializer(g, t, LUCID_DTYPE_FLOAT, rank, dims, v, sizeof(float) * (size_t)n,
                                NULL);
    return t;
}

/* Adds a node; ins and outs are comma-separated tensor names ("" in a list: omitted). */
static lucid_node *node(lucid_graph *g, const char *name, const char *op, int opset,
                        const char *ins, const char *outs)
{
    int in[8], out[4], ni = 0, no = 0;
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
    int idx = lucid_graph_add_node(g, name, op, "", opset, in, ni, out, no, NULL);
    return &g->nodes[idx];
}

static void attr_ints(lucid_node *n, const char *name, int count, const int64_t *v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INTS, .count = (size_t)count};
    a.ints = malloc(sizeof(int64_t) * (size_t)count);
    memcpy(a.ints, v, sizeof(int64_t) * (size_t)count);
    lucid_node_add_attr(n, &a, NULL);
}

static void attr_float(lucid_node *n, const char *name, float v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_FLOAT, .f = v};
    lucid_node_add_attr(n, &a, NULL);
}

static void attr_int(lucid_node *n, const char *name, int64_t v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INT, .i = v};
    lucid_node_add_attr(n, &a, NULL);
}

static void output(lucid_graph *g, const char *name)
{
    lucid_graph_add_output(g, lucid_graph_find(g, name), NULL);
}

/* A Conv "name" from x to y with weights M x C/group x k x k and a bias, pads p. */
static lucid_node *conv(lucid_graph *g, const char *name, const char *x, const char *y, int64_t c,
                        int64_t m, int64_t k, int64_t pad, int64_t group, bool bias)
{
    char w[64], b[64], ins[200];
    snprintf(w, sizeof w, "%s.W", name);
    snprintf(b, sizeof b, "%s.B", name);
    int64_t wd[4] = {m, c / group, k, k}, bd[1] = {m};
    init_range(g, w, 4, wd, -0.5f, 0.5f);
    if (bias) init(g, b, 1, bd);
    snprintf(ins, sizeof ins, "%s,%s%s%s", x, w, bias ? "," : "", bias ? b : "");
    lucid_node *n = node(g, name, "Conv", 13, ins, y);
    int64_t pads[4] = {pad, pad, pad, pad};
    attr_ints(n, "pads", 4, pads);
    if (group != 1) attr_int(n, "group", group);
    return n;
}

/* A BatchNormalization over c channels with positive variances. */
static lucid_node *bn(lucid_graph *g, const char *name, const char *x, const char *y, int64_t c)
{
    char s[64], b[64], mu[64], v[64], ins[300];
    int64_t d[1] = {c};
    snprintf(s, sizeof s, "%s.scale", name);
    snprintf(b, sizeof b, "%s.B", name);
    snprintf(mu, sizeof mu, "%s.mean", name);
    snprintf(v, sizeof v, "%s.var", name);
    init_range(g, s, 1, d, 0.5f, 1.5f);
    init(g, b, 1, d);
    init(g, mu, 1, d);
    init_range(g, v, 1, d, 0.2f, 2.0f);
    snprintf(ins, sizeof ins, "%s,%s,%s,%s,%s", x, s, b, mu, v);
    return node(g, name, "BatchNormalization", 13, ins, y);
}

/* ---- running with the passes on and off ------------------------------------------------ */

typedef void (*build_fn)(lucid_graph *g);

static const char *const fusion_passes[] = {"bn_folding", "vertical_fusion"};

typedef struct outcome {
    lucid_model_t *model; /* optimized */
    lucid_opt_report_t *report;
    int layers_before, layers_after;
    double err_ratio; /* max |opt - ref| / max |ref| over all outputs */
    bool ok;
} outcome;

static lucid_model_t *make(build_fn build)
{
    rng_state = 12345;
    lucid_graph *g = lucid_graph_create();
    build(g);
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

/* Runs m on inputs seeded by seed; out[i] get copies of the outputs. */
static int run_model(const lucid_model_t *m, uint64_t seed, lucid_array *out, int max_out)
{
    lucid_error err;
    lucid_context_t *ctx;
    if (lucid_context_create(m, NULL, &ctx, &err)) {
        printf("context: %s\n", err.message);
        return -1;
    }
    rng_state = seed;
    const lucid_graph *g = m->graph;
    for (int i = 0; i < g->n_inputs; i++) {
        const lucid_ir_tensor *t = &g->tensors[g->inputs[i]];
        int64_t n = lucid_tensor_numel(t);
        float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
        for (int64_t k = 0; k < n; k++)
            v[k] = 2.0f * rnd();
        lucid_context_set_input(ctx, t->name, LUCID_DTYPE_FLOAT, t->rank, t->dims, v);
        free(v);
    }
    if (lucid_context_run(ctx)) {
        printf("run: %s\n", lucid_context_error(ctx));
        lucid_context_destroy(ctx);
        return -1;
    }
    int n = (int)lucid_context_num_outputs(ctx);
    for (int i = 0; i < n && i < max_out; i++) {
        lucid_array a;
        lucid_context_output(ctx, (size_t)i, &a);
        out[i] = a;
        out[i].data = malloc(a.nbytes ? a.nbytes : 1);
        memcpy(out[i].data, a.data, a.nbytes);
    }
    lucid_context_destroy(ctx);
    return n;
}

static double max_ratio(const lucid_array *ref, const lucid_array *got)
{
    int64_t n = lucid_array_numel(ref);
    if (n != lucid_array_numel(got)) return INFINITY;
    const float *r = ref->data, *x = got->data;
    double scale = 0, e = 0;
    for (int64_t i = 0; i < n; i++) {
        if (fabs(r[i]) > scale) scale = fabs(r[i]);
        double d = fabs((double)r[i] - (double)x[i]);
        if (!(d <= e)) e = d; /* NaN makes the error infinite */
    }
    if (isnan(e)) return INFINITY;
    return scale > 0 ? e / scale : e;
}

/* Builds the graph twice, optimizes one copy with the fusion passes, runs both. */
static outcome check_graph(const char *what, build_fn build, bool compare)
{
    outcome o = {0};
    lucid_model_t *m0 = make(build), *m1 = make(build);
    if (!m0 || !m1) {
        CHECK(false, "%s: graph builds", what);
        lucid_model_destroy(m0);
        lucid_model_destroy(m1);
        return o;
    }
    lucid_optimize_options opts;
    lucid_optimize_options_default(&opts);
    opts.passes = fusion_passes;
    opts.n_passes = 2;
    lucid_error err;
    o.layers_before = m0->graph->n_nodes;
    lucid_status st = lucid_model_optimize(m1, &opts, &o.report, &err);
    CHECK(st == LUCID_STATUS_OK, "%s: optimize: %s", what, st ? err.message : "");
    o.layers_after = m1->graph->n_nodes;
    o.model = m1;
    o.ok = st == LUCID_STATUS_OK;
    if (o.ok && compare) {
        lucid_array a[4], b[4];
        int na = run_model(m0, 777, a, 4), nb = run_model(m1, 777, b, 4);
        CHECK(na > 0 && na == nb, "%s: both run (%d and %d outputs)", what, na, nb);
        for (int i = 0; i < na && i < nb; i++) {
            CHECK(strcmp(a[i].name, b[i].name) == 0, "%s: output %d keeps its name '%s' (got '%s')",
                  what, i, a[i].name, b[i].name);
            double r = max_ratio(&a[i], &b[i]);
            if (r > o.err_ratio) o.err_ratio = r;
        }
        CHECK(o.err_ratio <= 1e-5, "%s: outputs equal within 1e-5 relative (ratio %.3g)", what,
              o.err_ratio);
        for (int i = 0; i < na; i++)
            free(a[i].data);
        for (int i = 0; i < nb; i++)
            free(b[i].data);
    }
    lucid_model_destroy(m0);
    return o;
}

static void outcome_free(outcome *o)
{
    lucid_model_destroy(o->model);
    lucid_opt_report_destroy(o->report);
}

static const lucid_node *find_op(const lucid_graph *g, const char *op_type)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op_type, op_type) == 0) return &g->nodes[i];
    return NULL;
}

/* Whether the report has an entry of kind ("rewrite"/"refused") whose detail has text. */
static bool report_has(const lucid_opt_report_t *r, const char *kind, const char *text)
{
    for (size_t i = 0; i < lucid_opt_report_num_rewrites(r); i++) {
        lucid_rewrite_info ri;
        lucid_opt_report_rewrite(r, i, &ri);
        if (strcmp(ri.kind, kind) == 0 && strstr(ri.detail, text)) return true;
    }
    return false;
}

static size_t report_count(const lucid_opt_report_t *r, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < lucid_opt_report_num_rewrites(r); i++) {
        lucid_rewrite_info ri;
        lucid_opt_report_rewrite(r, i, &ri);
        n += strcmp(ri.kind, kind) == 0;
    }
    return n;
}

/* ---- graphs ------------------------------------------------------------------------- */

static const int64_t x_dims[4] = {2, 3, 7, 6};

static void g_conv_bn_relu(lucid_graph *g)
{
    input(g, "x", 4, x_dims);
    conv(g, "conv1", "x", "c1", 3, 8, 3, 1, 1, true);
    bn(g, "bn1", "c1", "b1", 8);
    node(g, "relu1", "Relu", 13, "b1", "y");
    output(g, "y");
}

static void test_conv_bn_relu(void)
{
    outcome o = check_graph("conv+bn+relu", g_conv_bn_relu, true);
    if (!o.ok) return;
    const lucid_graph *g = o.model->graph;
    CHECK(o.layers_before == 3 && o.layers_after == 1, "3 nodes become 1 (got %d -> %d)",
          o.layers_before, o.layers_after);
    const lucid_node *n = find_op(g, "FusedConv");
    CHECK(n && strcmp(n->name, "conv1 + bn1 + relu1") == 0,
          "layer named 'conv1 + bn1 + relu1' (%s)", n ? n->name : "none");
    const lucid_attr *fn = n ? lucid_node_attr(n, "fused_nodes") : NULL;
    CHECK(fn && fn->type == LUCID_ATTR_STRINGS && fn->count == 3 &&
              strcmp(fn->strings[0], "conv1") == 0 && strcmp(fn->strings[1], "bn1") == 0 &&
              strcmp(fn->strings[2], "relu1") == 0,
          "fused_nodes lists conv1, bn1, relu1");
    CHECK(n && strcmp(n->domain, "lucid") == 0, "FusedConv is in the lucid domain");
    CHECK(report_count(o.report, "rewrite") == 2, "two rewrites logged (bn_folding, vertical)");
    outcome_free(&o);
}

/* conv + bias Add + activation, one graph per activation */
static const char *act_op;
static int act_opset;

static void g_conv_bias_act(lucid_graph *g)
{
    input(g, "x", 4, x_dims);
    conv(g, "conv", "x", "c", 3, 4, 3, 0, 1, false);
    int64_t bd[4] = {1, 4, 1, 1};
    init(g, "bias", 4, bd);
    node(g, "add", "Add", 13, "c,bias", "a");
    if (strcmp(act_op, "SiLU") == 0) {
        node(g, "sig", "Sigmoid", 13, "a", "s");
        node(g, "mul", "Mul", 13, "s,a", "y");
    } else if (strcmp(act_op, "Clip") == 0 && act_opset >= 11) {
        int64_t sd[1] = {0};
        float lo = 0.0f, hi = 0.5f;
        init_values(g, "lo", 0, sd, &lo);
        init_values(g, "hi", 0, sd, &hi);
        node(g, "act", "Clip", act_opset, "a,lo,hi", "y");
    } else {
        lucid_node *n = node(g, "act", act_op, act_opset, "a", "y");
        if (strcmp(act_op, "Clip") == 0) {
            attr_float(n, "min", -0.25f);
            attr_float(n, "max", 0.3f);
        }
        if (strcmp(act_op, "LeakyRelu") == 0) attr_float(n, "alpha", 0.2f);
        if (strcmp(act_op, "HardSigmoid") == 0) {
            attr_float(n, "alpha", 0.3f);
            attr_float(n, "beta", 0.4f);
        }
    }
    output(g, "y");
}

static void test_activations(void)
{
    static const struct {
        const char *op;
        int opset;
        const char *attr;
    } acts[] = {
        {"Relu", 13, "Relu"},
        {"Clip", 13, "Clip"},
        {"Clip", 6, "Clip"},
        {"LeakyRelu", 13, "LeakyRelu"},
        {"Sigmoid", 13, "Sigmoid"},
        {"HardSigmoid", 13, "HardSigmoid"},
        {"HardSwish", 14, "HardSwish"},
        {"SiLU", 13, "SiLU"},
        {"Tanh", 13, "Tanh"},
    };
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        act_op = acts[i].op;
        act_opset = acts[i].opset;
        char what[64];
        snprintf(what, sizeof what, "conv+bias+%s (opset %d)", act_op, act_opset);
        outcome o = check_graph(what, g_conv_bias_act, true);
        if (!o.ok) continue;
        const lucid_node *n = find_op(o.model->graph, "FusedConv");
        const char *a = "";
        if (n) lucid_attr_string(n, "activation", "", &a, NULL);
        CHECK(o.layers_after == 1 && n && strcmp(a, acts[i].attr) == 0,
              "%s: one FusedConv with activation %s (got %d layers, '%s')", what, acts[i].attr,
              o.layers_after, a);
        CHECK(n && n->n_inputs >= 3 && n->inputs[2] >= 0, "%s: the bias Add became B", what);
        outcome_free(&o);
    }
}

/* y = c * Sigmoid(c), c = conv(x): the SiLU pattern, with the Mul's operands in either order */
static bool silu_swapped;

static void g_conv_silu(lucid_graph *g)
{
    const int64_t d[4] = {1, 16, 12, 12}; /* enough channels and tiles for Winograd */
    input(g, "x", 4, d);
    conv(g, "conv", "x", "c", 16, 16, 3, 1, 1, true);
    node(g, "sig", "Sigmoid", 13, "c", "s");
    node(g, "mul", "Mul", 13, silu_swapped ? "s,c" : "c,s", "y");
    output(g, "y");
}

/* The fused SiLU as CPU plans run it: built with each family of conv tactics in turn, run,
 * and compared with the reference executor on the unoptimized graph. */
static void test_silu_plans(void)
{
    static const char *const families[] = {"cpu.conv.f32.direct",   "cpu.conv.f32.im2col_gemm",
                                           "cpu.conv.f32.winograd", "dnnl.conv.f32",
                                           "blas.conv",             "xnn."};
    int tested = 0;
    for (int swapped = 0; swapped < 2; swapped++) {
        silu_swapped = swapped;
        lucid_model_t *m = make(g_conv_silu);
        if (!m) {
            CHECK(false, "conv+silu: graph builds");
            continue;
        }
        lucid_array ref[1];
        int nref = run_model(m, 99, ref, 1);
        CHECK(nref == 1, "conv+silu: the reference executor runs it");
        for (size_t f = 0; f < sizeof families / sizeof families[0] && nref == 1; f++) {
            lucid_build_options bo;
            lucid_build_options_default(&bo);
            bo.threads = 1;
            bo.tactics = &families[f];
            bo.n_tactics = 1;
            bo.time_ms = 1;
            bo.no_layout_check = 1;
            bo.no_tactic_check = 1;
            lucid_plan_t *plan = NULL;
            lucid_error err;
            if (lucid_plan_build(m, &bo, &plan, &err)) {
                CHECK(false, "conv+silu with %s: plan builds: %s", families[f], err.message);
                continue;
            }
            /* one FusedConv layer with activation SiLU, and which tactic runs it */
            const lucid_graph *pg = lucid_plan_model(plan)->graph;
            const char *tactic = "", *act = "";
            int convs = 0, others = 0;
            for (int i = 0; i < pg->n_nodes; i++) {
                lucid_layer_info li;
                if (lucid_plan_layer(plan, (size_t)i, &li) || !li.runs) continue;
                if (strcmp(li.op_type, "FusedConv") == 0) {
                    convs++;
                    tactic = li.tactic;
                    lucid_attr_string(&pg->nodes[i], "activation", "", &act, NULL);
                } else if (strcmp(li.op_type, "Reorder") != 0) {
                    others++;
                }
            }
            CHECK(convs == 1 && others == 0 && strcmp(act, "SiLU") == 0,
                  "conv+silu with %s: one FusedConv with SiLU (%d fused, %d other layers, '%s')",
                  families[f], convs, others, act);
            if (strncmp(tactic, families[f], strlen(families[f])) != 0) {
                printf("note: conv+silu: no %s tactic here (ran %s)\n", families[f], tactic);
                lucid_plan_destroy(plan);
                continue;
            }
            lucid_context_t *ctx = NULL;
            lucid_array got;
            bool ran = false;
            if (!lucid_context_create_plan(plan, NULL, &ctx, &err)) {
                rng_state = 99;
                const lucid_ir_tensor *t = &m->graph->tensors[m->graph->inputs[0]];
                int64_t n = lucid_tensor_numel(t);
                float *v = malloc(sizeof(float) * (size_t)n);
                for (int64_t k = 0; k < n; k++)
                    v[k] = 2.0f * rnd();
                ran = !lucid_context_set_input(ctx, t->name, LUCID_DTYPE_FLOAT, t->rank, t->dims,
                                               v) &&
                      !lucid_context_run(ctx) && !lucid_context_output(ctx, 0, &got);
                free(v);
            }
            CHECK(ran, "conv+silu with %s: the plan runs", tactic);
            if (ran) {
                const double r = max_ratio(&ref[0], &got);
                CHECK(r <= 1e-4, "conv+silu (%s) with %s equals the reference within 1e-4 "
                                 "relative (ratio %.3g)",
                      swapped ? "s * c" : "c * s", tactic, r);
                tested++;
            }
            lucid_context_destroy(ctx);
            lucid_plan_destroy(plan);
        }
        if (nref == 1) free(ref[0].data);
        lucid_model_destroy(m);
    }
    CHECK(tested > 0, "conv+silu: at least one tactic family ran it (%d runs)", tested);
}

/* Gelu's two forms are told apart by activation_approximate; another value is refused when
 * the graph is loaded, naming it */
static void test_gelu_attribute(void)
{
    static const struct {
        const char *approximate;
        bool ok;
    } cases[] = {{NULL, true}, {"none", true}, {"tanh", true}, {"fast", false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rng_state = 5;
        lucid_graph *g = lucid_graph_create();
        const int64_t xd[4] = {1, 2, 4, 4}, wd[4] = {2, 2, 1, 1};
        input(g, "x", 4, xd);
        init_range(g, "w", 4, wd, -0.5f, 0.5f);
        int in[2] = {lucid_graph_tensor(g, "x", NULL), lucid_graph_tensor(g, "w", NULL)};
        int y = lucid_graph_tensor(g, "y", NULL);
        const int ni = lucid_graph_add_node(g, "conv", "FusedConv", LUCID_DOMAIN, 1, in, 2, &y, 1,
                                            NULL);
        lucid_node *n = &g->nodes[ni];
        lucid_attr a = {.name = lucid_strdup("activation"), .type = LUCID_ATTR_STRING,
                        .s = lucid_strdup("Gelu")};
        lucid_node_add_attr(n, &a, NULL);
        if (cases[i].approximate) {
            lucid_attr b = {.name = lucid_strdup("activation_approximate"),
                            .type = LUCID_ATTR_STRING, .s = lucid_strdup(cases[i].approximate)};
            lucid_node_add_attr(n, &b, NULL);
        }
        output(g, "y");
        lucid_error err;
        const bool ok = lucid_graph_finalize(g, &err) == LUCID_STATUS_OK;
        const char *approximate = cases[i].approximate ? cases[i].approximate : "(absent)";
        CHECK(ok == cases[i].ok, "Gelu with activation_approximate %s %s", approximate,
              cases[i].ok ? "loads" : "is refused");
        if (!ok && !cases[i].ok)
            CHECK(strstr(err.message, "activation_approximate 'fast'") != NULL,
                  "the refusal names the value (%s)", err.message);
        if (ok) {
            const lucid_activation *act = lucid_node_activation(&g->nodes[0]);
            const lucid_act want = cases[i].approximate && strcmp(cases[i].approximate, "tanh") == 0
                                       ? LUCID_ACT_GELU_TANH
                                       : LUCID_ACT_GELU;
            CHECK(act && act->kind == want, "Gelu with activation_approximate %s is kind %d",
                  approximate, (int)want);
        }
        lucid_graph_destroy(g);
    }
}

/* y = relu(conv_a(x) + conv_b(x)): a residual Add of two branches */
static void g_residual(lucid_graph *g)
{
    input(g, "x", 4, x_dims);
    conv(g, "conv_a", "x", "a", 3, 5, 3, 1, 1, true);
    conv(g, "conv_b", "x", "b", 3, 5, 1, 0, 1, true);
    node(g, "add", "Add", 13, "a,b", "s");
    node(g, "relu", "Relu", 13, "s", "y");
    output(g, "y");
}

static void test_residual(void)
{
    outcome o = check_graph("residual", g_residual, true);
    if (!o.ok) return;
    const lucid_graph *g = o.model->graph;
    const lucid_node *n = find_op(g, "FusedConv");
    CHECK(o.layers_after == 2 && n && n->n_inputs == 4 && n->inputs[3] >= 0,
          "conv + residual Add + relu is one FusedConv with Z (%d layers)", o.layers_after);
    CHECK(n && strcmp(n->name, "conv_a + add + relu") == 0, "named 'conv_a + add + relu' (%s)",
          n ? n->name : "none");
    outcome_free(&o);
}

/* residual from a graph input; the output of the conv+bias is x-shaped */
static void g_residual_input(lucid_graph *g)
{
    const int64_t d[4] = {1, 4, 5, 5};
    input(g, "x", 4, d);
    input(g, "r", 4, d);
    conv(g, "conv", "x", "c", 4, 4, 3, 1, 1, true);
    bn(g, "bn", "c", "b", 4);
    node(g, "add", "Add", 13, "r,b", "s");
    node(g, "act", "LeakyRelu", 13, "s", "y");
    output(g, "y");
}

/* the residual is [1,4,1,1] (broadcast): not a residual FusedConv can take */
static void g_residual_mismatch(lucid_graph *g)
{
    const int64_t d[4] = {1, 4, 5, 5}, rd[4] = {1, 4, 1, 1};
    input(g, "x", 4, d);
    input(g, "r", 4, rd);
    conv(g, "conv", "x", "c", 4, 4, 3, 1, 1, true);
    node(g, "add", "Add", 13, "c,r", "s");
    node(g, "relu", "Relu", 13, "s", "y");
    output(g, "y");
}

static void test_residual_cases(void)
{
    outcome o = check_graph("residual from input", g_residual_input, true);
    if (o.ok)
        CHECK(o.layers_after == 1, "conv+bn+residual+leakyrelu is one layer (%d)", o.layers_after);
    outcome_free(&o);
    o = check_graph("residual shape mismatch", g_residual_mismatch, true);
    if (o.ok)
        CHECK(o.layers_after == 3 && !find_op(o.model->graph, "FusedConv"),
              "a broadcast residual is not fused (%d layers)", o.layers_after);
    outcome_free(&o);
}

/* the conv output has a second consumer */
static void g_second_consumer(lucid_graph *g)
{
    input(g, "x", 4, x_dims);
    conv(g, "conv", "x", "c", 3, 4, 3, 1, 1, true);
    bn(g, "bn", "c", "b", 4);
    node(g, "relu", "Relu", 13, "c", "y");
    node(g, "tanh", "Tanh", 13, "b", "z");
    output(g, "y");
    output(g, "z");
}

/* the conv output is itself a graph output */
static void g_intermediate_output(lucid_graph *g)
{
    input(g, "x", 4, x_dims);
    conv(g, "conv", "x", "c", 3, 4, 3, 1, 1, true);
    node(g, "relu", "Relu", 13, "c", "y");
    output(g, "c");
    output(g, "y");
}

/* BN parameters fed at run time */
static void g_bn_runtime_params(lucid_graph *g)
{
    const int64_t d[1] = {4};
    input(g, "x", 4, x_dims);
    input(g, "scale", 1, d);
    conv(g, "conv", "x", "c", 3, 4, 3, 1, 1, true);
    init(g, "bn.B", 1, d);
    init(g, "bn.mean", 1, d);
    init_range(g, "bn.var", 1, d, 0.5f, 1.0f);
    node(g, "bn", "BatchNormalization", 13, "c,scale,bn.B,bn.mean,bn.var", "y");
    output(g, "y");
}

static void test_must_not_fire(void)
{
    outcome o = check_graph("second consumer", g_second_consumer, true);
    if (o.ok) {
        CHECK(o.layers_after == 3 && !find_op(o.model->graph, "FusedConv"),
              "nothing fuses through a tensor with two consumers (%d layers)", o.layers_after);
        CHECK(find_op(o.model->graph, "FusedBatchNormalization"),
              "past it, bn + tanh become one FusedBatchNormalization");
        CHECK(report_count(o.report, "rewrite") == 1, "one rewrite logged (bn + tanh)");
    }
    outcome_free(&o);
    o = check_graph("intermediate output", g_intermediate_output, true);
    if (o.ok)
        CHECK(o.layers_after == 2 && !find_op(o.model->graph, "FusedConv"),
              "nothing fuses through a graph output (%d layers)", o.layers_after);
    outcome_free(&o);
    o = check_graph("runtime BN params", g_bn_runtime_params, true);
    if (o.ok) {
        CHECK(o.layers_after == 2 && find_op(o.model->graph, "BatchNormalization"),
              "BN with run-time parameters stays (%d layers)", o.layers_after);
        CHECK(report_has(o.report, "refused", "not all constant"), "refusal logged with reason");
    }
    outcome_free(&o);
}

/* x -> BN -> Conv: folds into the conv exactly when it does not pad */
static int64_t after_pad;

static void g_bn_then_conv(lucid_graph *g)
{
    input(g, "x", 4, x_dims);
    bn(g, "bn0", "x", "b", 3);
    conv(g, "conv", "b", "c", 3, 6, 3, after_pad, 1, true);
    node(g, "relu", "Relu", 13, "c", "y");
    output(g, "y");
}

static void test_bn_after(void)
{
    after_pad = 0;
    outcome o = check_graph("bn then unpadded conv", g_bn_then_conv, true);
    if (o.ok) {
        const lucid_node *n = find_op(o.model->graph, "FusedConv");
        CHECK(o.layers_after == 1 && n && strcmp(n->name, "bn0 + conv + relu") == 0,
              "bn0 + conv + relu is one layer (%d, %s)", o.layers_after, n ? n->name : "none");
    }
    outcome_free(&o);
    after_pad = 1;
    o = check_graph("bn then padded conv", g_bn_then_conv, true);
    if (o.ok) {
        CHECK(find_op(o.model->graph, "BatchNormalization") != NULL,
              "BN before a padded conv stays");
        CHECK(report_has(o.report, "refused", "pads"), "refused with a reason naming the padding");
    }
    outcome_free(&o);
}

/* DenseNet's pre-activation: x -> BN -> Relu -> padded Conv. The BN cannot fold into the
 * Conv; it takes the Relu as a FusedBatchNormalization. A BN followed by an Add keeps it. */
static void g_preact(lucid_graph *g)
{
    input(g, "x", 4, x_dims);
    bn(g, "bn0", "x", "b", 3);
    node(g, "relu0", "Relu", 13, "b", "r");
    conv(g, "conv", "r", "y", 3, 6, 3, 1, 1, true);
    output(g, "y");
    bn(g, "bn1", "x", "b1", 3);
    node(g, "add1", "Add", 13, "b1,x", "y1");
    output(g, "y1");
}

static void test_bn_activation(void)
{
    outcome o = check_graph("bn + relu before a padded conv", g_preact, true);
    if (o.ok) {
        const lucid_node *n = find_op(o.model->graph, "FusedBatchNormalization");
        CHECK(n && strcmp(n->name, "bn0 + relu0") == 0,
              "bn0 + relu0 is one FusedBatchNormalization (%s)", n ? n->name : "none");
        const char *act = "";
        if (n) lucid_attr_string(n, "activation", "", &act, NULL);
        CHECK(strcmp(act, "Relu") == 0, "with activation Relu (%s)", act);
        CHECK(find_op(o.model->graph, "BatchNormalization") &&
                  find_op(o.model->graph, "Add"),
              "a BN followed by an Add stays a BN and the Add stays");
    }
    outcome_free(&o);
}

/* zero variance and epsilon 0 in one channel: 1/sqrt(0) */
static void g_zero_var(lucid_graph *g)
{
    const int64_t d[1] = {4};
    input(g, "x", 4, x_dims);
    conv(g, "conv", "x", "c", 3, 4, 3, 1, 1, true);
    init_range(g, "bn.scale", 1, d, 0.5f, 1.5f);
    init(g, "bn.B", 1, d);
    init(g, "bn.mean", 1, d);
    float var[4] = {1.0f, 0.0f, 0.5f, 2.0f};
    init_values(g, "bn.var", 1, d, var);
    lucid_node *n = node(g, "bn", "BatchNormalization", 13, "c,bn.scale,bn.B,bn.mean,bn.var", "y");
    attr_float(n, "epsilon", 0.0f);
    output(g, "y");
}

static void test_zero_variance(void)
{
    /* the unoptimized output is inf/NaN in that channel: only the structure is compared */
    outcome o = check_graph("zero variance", g_zero_var, false);
    if (o.ok) {
        CHECK(find_op(o.model->graph, "BatchNormalization") != NULL, "BN with var+eps=0 stays");
        CHECK(report_has(o.report, "refused", "var + epsilon"), "refused with the reason");
    }
    outcome_free(&o);
}

/* Gemm (transB) + BN + Relu; MatMul + BN; MatMul + bias Add + Tanh */
static void g_gemm(lucid_graph *g)
{
    const int64_t xd[2] = {3, 10}, wd[2] = {6, 10}, cd[1] = {6}, md[2] = {6, 5}, bd[1] = {5};
    input(g, "x", 2, xd);
    init(g, "fc.W", 2, wd);
    init(g, "fc.C", 1, cd);
    lucid_node *n = node(g, "fc", "Gemm", 13, "x,fc.W,fc.C", "f");
    attr_int(n, "transB", 1);
    attr_float(n, "alpha", 0.7f);
    attr_float(n, "beta", 0.5f);
    bn(g, "bn_fc", "f", "fb", 6);
    node(g, "relu", "Relu", 13, "fb", "h");
    init(g, "mm.W", 2, md);
    node(g, "mm", "MatMul", 13, "h,mm.W", "m");
    bn(g, "bn_mm", "m", "y1", 5);
    init(g, "mm2.W", 2, md);
    node(g, "mm2", "MatMul", 13, "h,mm2.W", "m2");
    init(g, "mm2.b", 1, bd);
    node(g, "add2", "Add", 13, "mm2.b,m2", "a2");
    node(g, "tanh", "Tanh", 13, "a2", "y2");
    output(g, "y1");
    output(g, "y2");
}

static void test_gemm(void)
{
    outcome o = check_graph("gemm/matmul", g_gemm, true);
    if (!o.ok) return;
    const lucid_graph *g = o.model->graph;
    int fused = 0, gemm = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        fused += strcmp(g->nodes[i].op_type, "FusedGemm") == 0;
        gemm += strcmp(g->nodes[i].op_type, "Gemm") == 0;
    }
    CHECK(o.layers_after == 3 && fused == 2 && gemm == 1,
          "Gemm+BN+Relu and MatMul+Add+Tanh fused, MatMul+BN a Gemm (%d layers, %d fused, %d "
          "Gemm)",
          o.layers_after, fused, gemm);
    outcome_free(&o);
}

/* ConvTranspose (grouped) + BN; depthwise Conv + BN + Clip(0, 6) */
static void g_other_convs(lucid_graph *g)
{
    const int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {4, 3, 3, 3}, dwd[4] = {6, 1, 3, 3};
    input(g, "x", 4, xd);
    init(g, "ct.W", 4, wd);
    lucid_node *n = node(g, "ct", "ConvTranspose", 13, "x,ct.W", "t");
    attr_int(n, "group", 2);
    int64_t st[2] = {2, 2};
    attr_ints(n, "strides", 2, st);
    bn(g, "bn_t", "t", "tb", 6);
    init(g, "dw.W", 4, dwd);
    n = node(g, "dw", "Conv", 13, "tb,dw.W", "d");
    attr_int(n, "group", 6);
    int64_t pads[4] = {1, 1, 1, 1};
    attr_ints(n, "pads", 4, pads);
    bn(g, "bn_d", "d", "db", 6);
    const int64_t sd[1] = {0};
    float lo = 0.0f, hi = 6.0f;
    init_values(g, "six.lo", 0, sd, &lo);
    init_values(g, "six.hi", 0, sd, &hi);
    node(g, "relu6", "Clip", 13, "db,six.lo,six.hi", "y");
    output(g, "y");
}

static void test_other_convs(void)
{
    outcome o = check_graph("convtranspose/depthwise", g_other_convs, true);
    if (o.ok)
        CHECK(o.layers_after == 2 && find_op(o.model->graph, "ConvTranspose") &&
                  find_op(o.model->graph, "FusedConv"),
              "ConvTranspose+BN and depthwise Conv+BN+ReLU6 are 2 layers (%d)", o.layers_after);
    outcome_free(&o);
}

/* the BN's output is the graph output: the fused layer writes it under its name */
static void g_output_name(lucid_graph *g)
{
    input(g, "x", 4, x_dims);
    conv(g, "conv", "x", "c", 3, 4, 1, 0, 1, false);
    bn(g, "bn", "c", "logits", 4);
    output(g, "logits");
}

static void test_output_name(void)
{
    outcome o = check_graph("graph output name", g_output_name, true);
    if (o.ok) {
        const lucid_graph *g = o.model->graph;
        CHECK(o.layers_after == 1 && g->n_outputs == 1 &&
                  strcmp(g->tensors[g->outputs[0]].name, "logits") == 0,
              "the folded conv writes 'logits' (%d layers)", o.layers_after);
    }
    outcome_free(&o);
}

/* ---- ResNet-50 from the zoo cache ------------------------------------------------------ */

static void test_resnet50(void)
{
    const char *dir = LUCID_SOURCE_DIR "/cache/zoo/resnet50";
    char path[1024];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("SKIP resnet50: %s not found (models/export_zoo.py exports it)\n", path);
        return;
    }
    fclose(f);
    lucid_error err;
    lucid_model_t *m;
    if (lucid_model_load(path, &m, &err)) {
        CHECK(false, "resnet50 loads: %s", err.message);
        return;
    }
    int before = m->graph->n_nodes;
    /* the zoo exports a symbolic batch: batch 1, as the reference data */
    int64_t dims[4] = {1, 3, 224, 224};
    if (lucid_model_set_input_shape(m, "input", 4, dims, &err)) {
        CHECK(false, "resnet50 takes 1x3x224x224: %s", err.message);
        lucid_model_destroy(m);
        return;
    }
    lucid_optimize_options opts;
    lucid_optimize_options_default(&opts);
    opts.opt_level = 2;
    lucid_status st = lucid_model_optimize(m, &opts, NULL, &err);
    CHECK(st == LUCID_STATUS_OK, "resnet50 optimizes at level 2: %s", st ? err.message : "");
    int after = m->graph->n_nodes;
    printf("resnet50: %d nodes -> %d layers at opt level 2\n", before, after);
    CHECK(after <= 57, "resnet50 has at most 57 layers (%d)", after);
    lucid_array in = {0}, ref = {0};
    snprintf(path, sizeof path, "%s/input.npy", dir);
    bool have = !lucid_array_load_npy(path, &in, &err);
    snprintf(path, sizeof path, "%s/output.npy", dir);
    have = have && !lucid_array_load_npy(path, &ref, &err);
    CHECK(have, "resnet50 reference data: %s", have ? "" : err.message);
    if (have && !st) {
        lucid_context_t *ctx;
        const lucid_ir_tensor *x = &m->graph->tensors[m->graph->inputs[0]];
        lucid_array out;
        st = lucid_context_create(m, NULL, &ctx, &err);
        if (!st) {
            st = lucid_context_set_input(ctx, x->name, in.dtype, in.rank, in.dims, in.data);
            if (!st) st = lucid_context_run(ctx);
            if (!st) st = lucid_context_output(ctx, 0, &out);
            CHECK(st == LUCID_STATUS_OK, "resnet50 runs: %s", lucid_context_error(ctx));
            if (!st) {
                double r = max_ratio(&ref, &out);
                printf("resnet50: max|lucid - torch| / max|torch| = %.3g\n", r);
                CHECK(r <= 1e-4, "resnet50 output within 1e-4 of PyTorch's (%.3g)", r);
            }
            lucid_context_destroy(ctx);
        } else {
            CHECK(false, "resnet50 context: %s", err.message);
        }
    }
    lucid_array_free(&in);
    lucid_array_free(&ref);
    lucid_model_destroy(m);
}

int main(void)
{
    test_conv_bn_relu();
    test_activations();
    test_silu_plans();
    test_gelu_attribute();
    test_residual();
    test_residual_cases();
    test_must_not_fire();
    test_bn_after();
    test_bn_activation();
    test_zero_variance();
    test_gemm();
    test_other_convs();
    test_output_name();
    test_resnet50();
    return test_summary();
}
