/* test_pass_basic.c - the basic and memory graph passes (constant folding, no-op removal,
 * Transpose folding, Reshape views, concat elision) on small hand-built graphs: outputs with
 * the pass on equal outputs with it off bit for bit, and the cases where a pass must not fire.
 * With directories as arguments it checks whole models instead (see usage()). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "core/util.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ops/op.h"

/* ---- building graphs ---- */

static int tensor(lucid_graph *g, const char *name)
{
    return lucid_graph_tensor(g, name, NULL);
}

static void input(lucid_graph *g, const char *name, int rank, const int64_t *dims)
{
    int t = tensor(g, name);
    g->tensors[t].dtype = LUCID_DTYPE_FLOAT;
    g->tensors[t].rank = rank;
    for (int i = 0; i < rank; i++)
        g->tensors[t].dims[i] = dims[i];
    lucid_graph_add_input(g, t, NULL);
}

static void output(lucid_graph *g, const char *name)
{
    lucid_graph_add_output(g, tensor(g, name), NULL);
}

static void const_i64(lucid_graph *g, const char *name, int rank, const int64_t *dims,
                      const int64_t *v, size_t count)
{
    int64_t *d = malloc(count * sizeof *d + 1);
    memcpy(d, v, count * sizeof *d);
    lucid_graph_set_initializer(g, tensor(g, name), LUCID_DTYPE_INT64, rank, dims, d,
                                count * sizeof *d, NULL);
}

/* A float constant of the given shape filled with a seeded pattern. */
static void const_f32(lucid_graph *g, const char *name, int rank, const int64_t *dims,
                      uint32_t seed)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    float *d = malloc((size_t)n * sizeof *d + 1);
    for (int64_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        d[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    lucid_graph_set_initializer(g, tensor(g, name), LUCID_DTYPE_FLOAT, rank, dims, d,
                                (size_t)n * sizeof *d, NULL);
}

/* Adds a node; ins/outs are comma-separated tensor names ("" between commas: omitted). */
static lucid_node *node(lucid_graph *g, const char *name, const char *op, int opset,
                        const char *ins, const char *outs)
{
    int in[16], out[8], ni = 0, no = 0;
    const char *lists[2] = {ins, outs};
    for (int l = 0; l < 2; l++) {
        const char *s = lists[l];
        while (s && *s) {
            const char *e = strchr(s, ',');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            char buf[128];
            snprintf(buf, sizeof buf, "%.*s", (int)len, s);
            int t = len ? tensor(g, buf) : -1;
            if (l == 0)
                in[ni++] = t;
            else
                out[no++] = t;
            s = e ? e + 1 : NULL;
        }
    }
    int i = lucid_graph_add_node(g, name, op, "", opset, in, ni, out, no, NULL);
    return &g->nodes[i];
}

static void attr_ints(lucid_node *n, const char *name, const int64_t *v, size_t count)
{
    lucid_attr a = {.type = LUCID_ATTR_INTS, .count = count};
    a.name = lucid_strdup(name);
    a.ints = malloc(count * sizeof *a.ints + 1);
    memcpy(a.ints, v, count * sizeof *a.ints);
    lucid_node_add_attr(n, &a, NULL);
}

static void attr_int(lucid_node *n, const char *name, int64_t v)
{
    lucid_attr a = {.type = LUCID_ATTR_INT, .i = v};
    a.name = lucid_strdup(name);
    lucid_node_add_attr(n, &a, NULL);
}

typedef void (*build_fn)(lucid_graph *g);

static lucid_model_t *make(build_fn build)
{
    lucid_graph *g = lucid_graph_create();
    build(g);
    lucid_error err;
    lucid_model_t *m = NULL;
    if (lucid_graph_finalize(g, &err)) {
        printf("FAIL: graph does not finalize: %s\n", err.message);
        failed++;
        lucid_graph_destroy(g);
        return NULL;
    }
    lucid_model_wrap(g, &m, NULL);
    return m;
}

/* ---- running and comparing ---- */

static float *random_floats(int64_t n, uint32_t seed)
{
    float *d = malloc((size_t)(n ? n : 1) * sizeof *d);
    for (int64_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        d[i] = (float)(seed % 20001) / 10000.0f - 1.0f;
    }
    return d;
}

/* Runs a on its graph inputs (given, or seeded random when NULL) and compares every output
 * with b's, by name: exact bytes when tol < 0, else max |a-b| <= tol * max(1, |a|). */
static bool same_outputs(const lucid_model_t *a, const lucid_model_t *b, const lucid_array *given,
                         double tol, double *max_rel)
{
    const lucid_model_t *m[2] = {a, b};
    lucid_context_t *ctx[2] = {NULL, NULL};
    lucid_error err;
    bool ok = true;
    *max_rel = 0;
    for (int k = 0; k < 2 && ok; k++) {
        if (lucid_context_create(m[k], NULL, &ctx[k], &err)) {
            printf("  context: %s\n", err.message);
            ok = false;
            break;
        }
        const lucid_graph *g = m[k]->graph;
        for (int i = 0; i < g->n_inputs && ok; i++) {
            const lucid_ir_tensor *x = &g->tensors[g->inputs[i]];
            if (given) {
                ok = !lucid_context_set_input(ctx[k], x->name, given->dtype, given->rank,
                                              given->dims, given->data);
                continue;
            }
            float *d = random_floats(lucid_tensor_numel(x), 12345u + (uint32_t)i * 7919u);
            ok = !lucid_context_set_input(ctx[k], x->name, x->dtype, x->rank, x->dims, d);
            free(d);
        }
        if (ok && lucid_context_run(ctx[k])) {
            printf("  run: %s\n", lucid_context_error(ctx[k]));
            ok = false;
        }
    }
    for (size_t i = 0; ok && i < lucid_context_num_outputs(ctx[0]); i++) {
        lucid_array oa, ob;
        lucid_context_output(ctx[0], i, &oa);
        bool found = false;
        for (size_t j = 0; j < lucid_context_num_outputs(ctx[1]); j++) {
            lucid_context_output(ctx[1], j, &ob);
            if (strcmp(oa.name, ob.name) == 0) {
                found = true;
                break;
            }
        }
        if (!found || oa.nbytes != ob.nbytes || oa.dtype != ob.dtype) {
            printf("  output '%s' is missing or differs in size\n", oa.name);
            ok = false;
            break;
        }
        if (tol < 0) {
            if (memcmp(oa.data, ob.data, oa.nbytes) != 0) {
                printf("  output '%s' differs\n", oa.name);
                ok = false;
            }
            continue;
        }
        if (oa.dtype != LUCID_DTYPE_FLOAT) {
            ok = memcmp(oa.data, ob.data, oa.nbytes) == 0;
            continue;
        }
        const float *fa = oa.data, *fb = ob.data;
        for (size_t e = 0; e < oa.nbytes / sizeof(float); e++) {
            double d = fabs((double)fa[e] - fb[e]), s = fabs((double)fa[e]);
            double rel = d / (s > 1 ? s : 1);
            if (rel > *max_rel) *max_rel = rel;
            if (!(rel <= tol)) ok = false;
        }
    }
    lucid_context_destroy(ctx[0]);
    lucid_context_destroy(ctx[1]);
    return ok;
}

static size_t count_layers(const lucid_model_t *m)
{
    size_t n = 0;
    for (int i = 0; i < m->graph->n_nodes; i++)
        n += !m->graph->nodes[i].elided;
    return n;
}

static const lucid_node *find_node(const lucid_model_t *m, const char *name)
{
    for (int i = 0; i < m->graph->n_nodes; i++)
        if (strcmp(m->graph->nodes[i].name, name) == 0) return &m->graph->nodes[i];
    return NULL;
}

static bool elided(const lucid_model_t *m, const char *name)
{
    const lucid_node *n = find_node(m, name);
    return n && n->elided;
}

static const lucid_ir_tensor *find_tensor(const lucid_model_t *m, const char *name)
{
    int t = lucid_graph_find(m->graph, name);
    return t >= 0 ? &m->graph->tensors[t] : NULL;
}

static size_t count_op(const lucid_model_t *m, int op)
{
    size_t n = 0;
    for (int i = 0; i < m->graph->n_nodes; i++)
        n += m->graph->nodes[i].op == op;
    return n;
}

/* Entries of the report by pass and kind whose nodes field names `node` (NULL: any). */
static size_t count_log(const lucid_opt_report_t *r, const char *pass, const char *kind,
                        const char *node)
{
    size_t n = 0;
    for (size_t i = 0; i < lucid_opt_report_num_rewrites(r); i++) {
        lucid_rewrite_info e;
        lucid_opt_report_rewrite(r, i, &e);
        if (strcmp(e.pass, pass) == 0 && strcmp(e.kind, kind) == 0 &&
            (!node || strstr(e.nodes, node)))
            n++;
    }
    return n;
}

static void print_log(const lucid_opt_report_t *r)
{
    for (size_t i = 0; i < lucid_opt_report_num_rewrites(r); i++) {
        lucid_rewrite_info e;
        lucid_opt_report_rewrite(r, i, &e);
        printf("    %-18s %-8s %-28s %s\n", e.pass, e.kind, e.nodes, e.detail);
    }
}

typedef struct outcome {
    lucid_model_t *ref, *opt;
    lucid_opt_report_t *report;
    bool equal;
} outcome;

/* Builds the graph twice, optimizes one copy (level, or exactly the passes listed) and
 * compares their outputs bit for bit unless no_run. */
static outcome run_case(const char *label, build_fn build, int level, const char *passes,
                        bool no_run)
{
    outcome o = {0};
    o.ref = make(build);
    o.opt = make(build);
    if (!o.ref || !o.opt) return o;
    lucid_optimize_options opts;
    lucid_optimize_options_default(&opts);
    opts.opt_level = level;
    const char *list[1] = {passes};
    if (passes) {
        opts.passes = list;
        opts.n_passes = 1;
    }
    lucid_error err;
    lucid_status st = lucid_model_optimize(o.opt, &opts, &o.report, &err);
    CHECK(!st, "%s: optimize: %s", label, err.message);
    if (st) return o;
    double rel;
    o.equal = no_run || same_outputs(o.ref, o.opt, NULL, -1, &rel);
    CHECK(o.equal, "%s: outputs differ with the pass on", label);
    printf("%s: %zu -> %zu layers (%d nodes)\n", label, count_layers(o.ref), count_layers(o.opt),
           o.opt->graph->n_nodes);
    if (getenv("LUCID_TEST_VERBOSE")) print_log(o.report);
    return o;
}

static void done(outcome *o)
{
    lucid_model_destroy(o->ref);
    lucid_model_destroy(o->opt);
    lucid_opt_report_destroy(o->report);
}

/* ---- constant folding ---- */

static void build_shape_chain(lucid_graph *g)
{
    int64_t xd[4] = {1, 3, 4, 4}, one = 1, wd[2] = {1400, 48};
    input(g, "x", 4, xd);
    const_i64(g, "zero", 0, NULL, (int64_t[]){0}, 1);
    const_i64(g, "axes0", 1, &one, (int64_t[]){0}, 1);
    const_i64(g, "minus1", 1, &one, (int64_t[]){-1}, 1);
    const_f32(g, "W", 2, wd, 7);
    node(g, "shape", "Shape", 13, "x", "s");
    attr_int(node(g, "gather", "Gather", 13, "s,zero", "b"), "axis", 0);
    node(g, "unsqueeze", "Unsqueeze", 13, "b,axes0", "bu");
    attr_int(node(g, "concat", "Concat", 13, "bu,minus1", "shp"), "axis", 0);
    node(g, "reshape", "Reshape", 13, "x,shp", "r");
    /* 67,200 elements: above what inference propagates, so the pass runs the kernel itself */
    attr_ints(node(g, "wt", "Transpose", 13, "W", "Wt"), "perm", (int64_t[]){1, 0}, 2);
    node(g, "matmul", "MatMul", 13, "r,Wt", "y");
    output(g, "y");
}

static void test_constant_folding_chain(void)
{
    outcome o = run_case("constant folding: Shape chain", build_shape_chain, 1, NULL, false);
    if (!o.report) goto out;
    CHECK(count_layers(o.opt) == 2, "only Reshape and MatMul remain (%zu layers)",
          count_layers(o.opt));
    CHECK(find_node(o.opt, "reshape") && find_node(o.opt, "matmul"), "Reshape and MatMul stay");
    const lucid_node *r = find_node(o.opt, "reshape");
    CHECK(r && o.opt->graph->tensors[r->inputs[1]].is_initializer,
          "the Reshape's shape is a constant");
    CHECK(count_log(o.report, "constant_folding", "rewrite", NULL) == 5, "five nodes folded (%zu)",
          count_log(o.report, "constant_folding", "rewrite", NULL));
    CHECK(count_log(o.report, "constant_folding", "rewrite", "wt") == 1,
          "the large Transpose of a weight is folded");
    const lucid_ir_tensor *wt = find_tensor(o.opt, "Wt");
    CHECK(wt && wt->is_initializer && wt->dims[0] == 48, "Wt is now an initializer [48,1400]");
out:
    done(&o);
}

static void build_fold_refusals(lucid_graph *g)
{
    int64_t one = 1, two = 2;
    input(g, "x", 1, &one);
    /* a constant graph output: kept computed */
    lucid_node *c = node(g, "const_out", "Constant", 13, "", "c");
    lucid_attr a = {.type = LUCID_ATTR_INTS, .count = 2};
    a.name = lucid_strdup("value_ints");
    a.ints = malloc(2 * sizeof *a.ints);
    a.ints[0] = 3;
    a.ints[1] = 4;
    lucid_node_add_attr(c, &a, NULL);
    output(g, "c");
    /* 16.8M elements from a 2-element shape: would bloat the plan */
    const_i64(g, "big_shape", 1, &two, (int64_t[]){4100, 4100}, 2);
    node(g, "big", "ConstantOfShape", 13, "big_shape", "b");
    node(g, "add", "Add", 13, "x,b", "y");
    output(g, "y");
}

static void test_constant_folding_refusals(void)
{
    outcome o = run_case("constant folding: refusals", build_fold_refusals, 1, NULL, true);
    if (!o.report) goto out;
    CHECK(find_node(o.opt, "const_out"), "a Constant that is a graph output stays");
    CHECK(count_log(o.report, "constant_folding", "refused", "const_out") == 1,
          "its refusal is logged");
    CHECK(find_node(o.opt, "big"), "ConstantOfShape of 16.8M elements stays");
    CHECK(count_log(o.report, "constant_folding", "refused", "big") == 1,
          "the bloat refusal is logged");
out:
    done(&o);
}

/* ---- no-op removal ---- */

static void build_noops(lucid_graph *g)
{
    int64_t xd[3] = {2, 3, 4}, three = 3, six = 6;
    input(g, "x", 3, xd);
    const_i64(g, "shape234", 1, &three, xd, 3);
    const_i64(g, "zeros6", 1, &six, (int64_t[]){0, 0, 0, 0, 0, 0}, 6);
    const_i64(g, "starts", 1, &three, (int64_t[]){0, 0, 0}, 3);
    const_i64(g, "ends", 1, &three, (int64_t[]){2, 3, 4}, 3);
    node(g, "relu_a", "Relu", 13, "x", "a");
    node(g, "identity", "Identity", 13, "a", "i1");
    node(g, "dropout", "Dropout", 13, "i1", "d");
    attr_int(node(g, "cast", "Cast", 13, "d", "c"), "to", LUCID_DTYPE_FLOAT);
    node(g, "reshape", "Reshape", 13, "c,shape234", "r");
    attr_ints(node(g, "transpose", "Transpose", 13, "r", "t"), "perm", (int64_t[]){0, 1, 2}, 3);
    node(g, "pad", "Pad", 13, "t,zeros6", "p");
    node(g, "slice", "Slice", 13, "p,starts,ends", "s");
    attr_int(node(g, "concat1", "Concat", 13, "s", "cc"), "axis", 0);
    node(g, "expand", "Expand", 13, "cc,shape234", "e");
    node(g, "relu_y", "Relu", 13, "e", "y");
    output(g, "y");
}

static void test_noop_removal(void)
{
    outcome o = run_case("noop removal: nine no-ops", build_noops, 1, "noop_removal", false);
    if (!o.report) goto out;
    CHECK(count_layers(o.opt) == 2, "only the two Relus remain (%zu)", count_layers(o.opt));
    CHECK(count_log(o.report, "noop_removal", "rewrite", NULL) == 9, "nine removals logged (%zu)",
          count_log(o.report, "noop_removal", "rewrite", NULL));
out:
    done(&o);
}

static void build_not_noops(lucid_graph *g)
{
    int64_t xd[3] = {2, 3, 4}, one = 1, six = 6, sq[3] = {1, 4, 4};
    input(g, "x", 3, xd);
    input(g, "q", 3, sq);
    const_i64(g, "start_m1", 1, &one, (int64_t[]){-1}, 1);
    const_i64(g, "end_far", 1, &one, (int64_t[]){-100}, 1);
    const_i64(g, "axis2", 1, &one, (int64_t[]){2}, 1);
    const_i64(g, "step_m1", 1, &one, (int64_t[]){-1}, 1);
    const_i64(g, "shift6", 1, &six, (int64_t[]){0, 0, 1, 0, 0, -1}, 6);
    node(g, "relu_a", "Relu", 13, "x", "a");
    /* a reversing Slice and a shifting Pad keep the shape but move data */
    node(g, "reverse", "Slice", 13, "a,start_m1,end_far,axis2,step_m1", "rv");
    node(g, "relu_rv", "Relu", 13, "rv", "y_rv");
    output(g, "y_rv");
    node(g, "shift", "Pad", 13, "a,shift6", "sh");
    node(g, "relu_sh", "Relu", 13, "sh", "y_sh");
    output(g, "y_sh");
    /* a Transpose of equal shapes that swaps two axes of length 4 */
    attr_ints(node(g, "swap", "Transpose", 13, "q", "sw"), "perm", (int64_t[]){0, 2, 1}, 3);
    node(g, "relu_sw", "Relu", 13, "sw", "y_sw");
    output(g, "y_sw");
    /* an Identity onto a graph output whose input has a second reader */
    node(g, "relu_b", "Relu", 13, "x", "b");
    node(g, "id_shared", "Identity", 13, "b", "y_id1");
    output(g, "y_id1");
    node(g, "sig_b", "Sigmoid", 13, "b", "y_sig");
    output(g, "y_sig");
    /* an Identity onto a graph output with a sole input: the producer writes the output */
    node(g, "tanh_c", "Tanh", 13, "x", "cc");
    node(g, "id_sole", "Identity", 13, "cc", "y_id2");
    output(g, "y_id2");
    /* an Identity from a graph input to a graph output */
    node(g, "id_io", "Identity", 13, "x", "y_id3");
    output(g, "y_id3");
    /* a Dropout whose mask is read */
    node(g, "drop_mask", "Dropout", 13, "a", "dm,mask");
    attr_int(node(g, "mask_cast", "Cast", 13, "mask", "y_mask"), "to", LUCID_DTYPE_FLOAT);
    output(g, "y_mask");
    node(g, "relu_dm", "Relu", 13, "dm", "y_dm");
    output(g, "y_dm");
}

static void test_noop_must_not_fire(void)
{
    outcome o = run_case("noop removal: must not fire", build_not_noops, 1, "noop_removal", false);
    if (!o.report) goto out;
    CHECK(find_node(o.opt, "reverse"), "a reversing Slice stays");
    CHECK(find_node(o.opt, "shift"), "a Pad with pads (1, -1) stays");
    CHECK(find_node(o.opt, "swap"), "a Transpose swapping axes stays");
    CHECK(find_node(o.opt, "id_shared"), "an Identity to an output with a shared input stays");
    CHECK(count_log(o.report, "noop_removal", "refused", "id_shared") == 1, "and says why");
    CHECK(!find_node(o.opt, "id_sole"), "an Identity to an output with a sole input goes");
    const lucid_ir_tensor *y2 = find_tensor(o.opt, "y_id2");
    CHECK(y2 && y2->producer >= 0 && !strcmp(o.opt->graph->nodes[y2->producer].name, "tanh_c"),
          "the Tanh writes the output 'y_id2' under its name");
    CHECK(find_node(o.opt, "id_io"), "an Identity from a graph input to an output stays");
    CHECK(find_node(o.opt, "drop_mask"), "a Dropout whose mask is read stays");
out:
    done(&o);
}

/* ---- Transpose folding ---- */

static void build_transposes(lucid_graph *g)
{
    int64_t xd[3] = {2, 3, 4}, ad[2] = {4, 5}, bd[2] = {6, 5}, b2d[2] = {6, 4};
    input(g, "x", 3, xd);
    input(g, "a", 2, ad);
    input(g, "b", 2, bd);
    input(g, "b2", 2, b2d);
    attr_ints(node(g, "t1", "Transpose", 13, "x", "x1"), "perm", (int64_t[]){0, 2, 1}, 3);
    attr_ints(node(g, "t2", "Transpose", 13, "x1", "x2"), "perm", (int64_t[]){0, 2, 1}, 3);
    node(g, "relu1", "Relu", 13, "x2", "y1");
    output(g, "y1");
    attr_ints(node(g, "t3", "Transpose", 13, "x", "x3"), "perm", (int64_t[]){1, 2, 0}, 3);
    attr_ints(node(g, "t4", "Transpose", 13, "x3", "x4"), "perm", (int64_t[]){0, 2, 1}, 3);
    node(g, "relu2", "Relu", 13, "x4", "y2");
    output(g, "y2");
    /* B given transposed */
    attr_ints(node(g, "tb", "Transpose", 13, "b", "bt"), "perm", (int64_t[]){1, 0}, 2);
    node(g, "gemm", "Gemm", 13, "a,bt", "y3");
    output(g, "y3");
    /* A given transposed by a Transpose whose output is also a graph output: it stays */
    node(g, "relu_a", "Relu", 13, "a", "ra");
    node(g, "ta", "Transpose", 13, "ra", "at");
    output(g, "at");
    attr_int(node(g, "gemm2", "Gemm", 13, "at,b2", "y4"), "transB", 1);
    output(g, "y4");
}

static void test_transpose_folding(void)
{
    outcome o = run_case("transpose folding", build_transposes, 2, "transpose_folding", false);
    if (!o.report) goto out;
    CHECK(!find_node(o.opt, "t1") && !find_node(o.opt, "t2"), "cancelling Transposes go");
    CHECK(!find_node(o.opt, "t3") && find_node(o.opt, "t4"), "two Transposes become one");
    CHECK(!find_node(o.opt, "tb"), "the Transpose into Gemm's B goes");
    const lucid_node *gm = find_node(o.opt, "gemm");
    int64_t tb = 0;
    if (gm) lucid_attr_int(gm, "transB", 0, &tb, NULL);
    CHECK(tb == 1, "Gemm has transB = 1");
    CHECK(find_node(o.opt, "ta"), "a Transpose that is a graph output stays");
    const lucid_node *g2 = find_node(o.opt, "gemm2");
    int64_t ta = 0;
    if (g2) lucid_attr_int(g2, "transA", 0, &ta, NULL);
    CHECK(ta == 1 && g2 && !strcmp(o.opt->graph->tensors[g2->inputs[0]].name, "ra"),
          "but its Gemm reads its input with transA = 1");
    CHECK(count_op(o.opt, LUCID_OP_TRANSPOSE) == 2, "two Transposes left (%zu)",
          count_op(o.opt, LUCID_OP_TRANSPOSE));
out:
    done(&o);
}

/* ---- Pad folding ---- */

static void build_pads(lucid_graph *g)
{
    int64_t xd[4] = {1, 3, 6, 6}, wd[4] = {4, 3, 3, 3}, eight = 8, one = 1;
    input(g, "x", 4, xd);
    const_f32(g, "W", 4, wd, 11);
    const_i64(g, "p_asym", 1, &eight, (int64_t[]){0, 0, 1, 2, 0, 0, 2, 1}, 8);
    const_i64(g, "p_one", 1, &eight, (int64_t[]){0, 0, 1, 1, 0, 0, 1, 1}, 8);
    const_i64(g, "p_chan", 1, &eight, (int64_t[]){0, 1, 0, 0, 0, 0, 0, 0}, 8);
    lucid_graph_set_initializer(g, tensor(g, "v_one"), LUCID_DTYPE_FLOAT, 1, &one,
                                memcpy(malloc(sizeof(float)), &(float){1.0f}, sizeof(float)),
                                sizeof(float), NULL);
    /* folds: asymmetric pads into a padded Conv; into an AveragePool without pads */
    node(g, "pad1", "Pad", 13, "x,p_asym", "xp1");
    attr_ints(node(g, "conv1", "Conv", 13, "xp1,W", "y1"), "pads", (int64_t[]){1, 1, 1, 1}, 4);
    output(g, "y1");
    node(g, "pad2", "Pad", 13, "x,p_one", "xp2");
    attr_ints(node(g, "pool2", "AveragePool", 13, "xp2", "y2"), "kernel_shape",
              (int64_t[]){3, 3}, 2);
    output(g, "y2");
    /* must not fold: a non-zero constant; reflect mode; a pool excluding its own pads; two
     * readers; the channel axis */
    node(g, "pad3", "Pad", 13, "x,p_one,v_one", "xp3");
    node(g, "conv3", "Conv", 13, "xp3,W", "y3");
    output(g, "y3");
    lucid_node *p4 = node(g, "pad4", "Pad", 13, "x,p_one", "xp4");
    lucid_attr mode = {.type = LUCID_ATTR_STRING, .name = lucid_strdup("mode"),
                       .s = lucid_strdup("reflect")};
    lucid_node_add_attr(p4, &mode, NULL);
    node(g, "conv4", "Conv", 13, "xp4,W", "y4");
    output(g, "y4");
    node(g, "pad5", "Pad", 13, "x,p_one", "xp5");
    lucid_node *pool5 = node(g, "pool5", "AveragePool", 13, "xp5", "y5");
    attr_ints(pool5, "kernel_shape", (int64_t[]){3, 3}, 2);
    attr_ints(pool5, "pads", (int64_t[]){1, 1, 1, 1}, 4);
    output(g, "y5");
    node(g, "pad6", "Pad", 13, "x,p_one", "xp6");
    node(g, "conv6", "Conv", 13, "xp6,W", "y6");
    node(g, "relu6", "Relu", 13, "xp6", "y6b");
    output(g, "y6");
    output(g, "y6b");
    node(g, "pad7", "Pad", 13, "x,p_chan", "y7");
    attr_ints(node(g, "pool7", "AveragePool", 13, "y7", "y7p"), "kernel_shape",
              (int64_t[]){2, 2}, 2);
    output(g, "y7p");
}

static void test_pad_folding(void)
{
    outcome o = run_case("pad folding", build_pads, 2, "pad_folding", false);
    if (!o.report) goto out;
    CHECK(!find_node(o.opt, "pad1") && !find_node(o.opt, "pad2"), "two Pads folded");
    const lucid_node *c1 = find_node(o.opt, "pad1 + conv1");
    const int64_t *pads = NULL;
    size_t count = 0;
    if (c1) lucid_attr_ints(c1, "pads", &pads, &count, NULL);
    CHECK(c1 && count == 4 && pads[0] == 2 && pads[1] == 3 && pads[2] == 3 && pads[3] == 2,
          "the Conv's pads are its own plus the Pad's");
    const lucid_node *p2 = find_node(o.opt, "pad2 + pool2");
    int64_t include = 0;
    if (p2) lucid_attr_int(p2, "count_include_pad", 0, &include, NULL);
    CHECK(p2 && include == 1, "the AveragePool counts the folded zeros");
    const char *kept[] = {"pad3", "pad4", "pad5", "pad6", "pad7"};
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        CHECK(find_node(o.opt, kept[i]) != NULL, "%s stays", kept[i]);
    CHECK(count_log(o.report, "pad_folding", "refused", NULL) >= 3,
          "refusals logged (%zu)", count_log(o.report, "pad_folding", "refused", NULL));
out:
    done(&o);
}

/* ---- Reshape views ---- */

static void build_reshapes(lucid_graph *g)
{
    int64_t xd[4] = {1, 2, 3, 4}, two = 2, one = 1, wd[2] = {4, 6};
    input(g, "x", 4, xd);
    const_i64(g, "shape_1x24", 1, &two, (int64_t[]){1, 24}, 2);
    const_i64(g, "shape_24", 1, &one, (int64_t[]){24}, 1);
    const_f32(g, "W", 2, wd, 3);
    node(g, "relu_a", "Relu", 13, "x", "a");
    node(g, "reshape", "Reshape", 13, "a,shape_1x24", "r");
    node(g, "relu_r", "Relu", 13, "r", "y");
    output(g, "y");
    /* a view of a view */
    node(g, "flatten_r", "Flatten", 13, "r", "fr");
    node(g, "sig_fr", "Sigmoid", 13, "fr", "y_fr");
    output(g, "y_fr");
    /* storage would be a graph input */
    node(g, "flatten_x", "Flatten", 13, "x", "fx");
    node(g, "relu_fx", "Relu", 13, "fx", "y_fx");
    output(g, "y_fx");
    /* the output is a graph output */
    node(g, "reshape_out", "Reshape", 13, "a,shape_24", "y_out");
    output(g, "y_out");
    /* a constant */
    node(g, "reshape_w", "Reshape", 13, "W,shape_24", "w24");
    node(g, "add_w", "Add", 13, "w24,y_out", "y_w");
    output(g, "y_w");
}

static void test_reshape_views(void)
{
    outcome o = run_case("reshape views", build_reshapes, 3, "reshape_views", false);
    if (!o.report) goto out;
    const lucid_ir_tensor *r = find_tensor(o.opt, "r"), *fr = find_tensor(o.opt, "fr");
    CHECK(elided(o.opt, "reshape") && r && r->view_of == lucid_graph_find(o.opt->graph, "a"),
          "the Reshape of a computed tensor is a view");
    CHECK(elided(o.opt, "flatten_r") && fr &&
              lucid_tensor_storage(o.opt->graph, (int)(fr - o.opt->graph->tensors), NULL) ==
                  lucid_graph_find(o.opt->graph, "a"),
          "a Flatten of that view lives in the same storage");
    CHECK(!elided(o.opt, "flatten_x"), "a Flatten of a graph input copies");
    CHECK(!elided(o.opt, "reshape_out"), "a Reshape into a graph output copies");
    CHECK(!elided(o.opt, "reshape_w"), "a Reshape of a constant is not a view");
    CHECK(count_layers(o.opt) + 2 == count_layers(o.ref), "two layers fewer (%zu vs %zu)",
          count_layers(o.opt), count_layers(o.ref));
out:
    done(&o);
}

/* ---- concat elision ---- */

static void build_concats(lucid_graph *g)
{
    int64_t xd[4] = {1, 2, 3, 3}, bd[3] = {2, 2, 3};
    input(g, "x", 4, xd);
    input(g, "xb", 3, bd);
    node(g, "relu_a", "Relu", 13, "x", "a");
    node(g, "sig_b", "Sigmoid", 13, "x", "b");
    attr_int(node(g, "cat", "Concat", 13, "a,b", "c"), "axis", 1);
    node(g, "relu_c", "Relu", 13, "c", "y");
    output(g, "y");
    node(g, "tanh_a", "Tanh", 13, "a", "y_a"); /* a second reader of an input: fine */
    output(g, "y_a");
    /* batch 2 along axis 1: each input is strided across the output */
    node(g, "relu_p", "Relu", 13, "xb", "p");
    node(g, "sig_q", "Sigmoid", 13, "xb", "q");
    attr_int(node(g, "cat_batch2", "Concat", 13, "p,q", "y_b2"), "axis", 1);
    output(g, "y_b2");
    /* the same tensor twice */
    node(g, "relu_d", "Relu", 13, "x", "d");
    attr_int(node(g, "cat_twice", "Concat", 13, "d,d", "y_twice"), "axis", 1);
    output(g, "y_twice");
    /* a graph input among the inputs */
    node(g, "relu_e", "Relu", 13, "x", "e");
    attr_int(node(g, "cat_input", "Concat", 13, "x,e", "y_in"), "axis", 1);
    output(g, "y_in");
    /* a graph output among the inputs */
    node(g, "relu_f", "Relu", 13, "x", "f");
    output(g, "f");
    node(g, "relu_h", "Relu", 13, "x", "h");
    attr_int(node(g, "cat_output", "Concat", 13, "f,h", "y_out"), "axis", 1);
    output(g, "y_out");
    /* nested: the outer Concat's input comes from an elided Concat */
    node(g, "relu_i", "Relu", 13, "x", "i");
    node(g, "relu_j", "Relu", 13, "x", "j");
    node(g, "relu_k", "Relu", 13, "x", "k");
    attr_int(node(g, "cat_inner", "Concat", 13, "i,j", "ij"), "axis", 1);
    attr_int(node(g, "cat_outer", "Concat", 13, "ij,k", "y_nest"), "axis", 1);
    output(g, "y_nest");
    /* one tensor in two Concats: only the first can hold it */
    node(g, "relu_m", "Relu", 13, "x", "m");
    node(g, "relu_n", "Relu", 13, "x", "nn");
    node(g, "relu_o", "Relu", 13, "x", "o");
    attr_int(node(g, "cat_first", "Concat", 13, "m,nn", "y_first"), "axis", 1);
    output(g, "y_first");
    attr_int(node(g, "cat_second", "Concat", 13, "m,o", "y_second"), "axis", 1);
    output(g, "y_second");
}

static void test_concat_elision(void)
{
    outcome o = run_case("concat elision", build_concats, 3, "concat_elision", false);
    if (!o.report) goto out;
    const lucid_graph *g = o.opt->graph;
    const lucid_ir_tensor *a = find_tensor(o.opt, "a"), *b = find_tensor(o.opt, "b");
    int c = lucid_graph_find(g, "c");
    CHECK(elided(o.opt, "cat"), "a batch-1 channel Concat is elided");
    CHECK(a && b && a->view_of == c && b->view_of == c && a->view_offset == 0 &&
              b->view_offset == 18 * sizeof(float),
          "its inputs are views at offsets 0 and 72");
    CHECK(!elided(o.opt, "cat_batch2"), "batch 2 along axis 1: not elided");
    CHECK(!elided(o.opt, "cat_twice"), "the same tensor twice: not elided");
    CHECK(!elided(o.opt, "cat_input"), "a graph input among the inputs: not elided");
    CHECK(!elided(o.opt, "cat_output"), "a graph output among the inputs: not elided");
    CHECK(elided(o.opt, "cat_inner") && !elided(o.opt, "cat_outer"),
          "nested: the inner is elided, the outer is not");
    CHECK(elided(o.opt, "cat_first") && !elided(o.opt, "cat_second"),
          "a tensor in two Concats: only the first is elided");
    CHECK(count_log(o.report, "concat_elision", "refused", NULL) == 6, "six refusals logged (%zu)",
          count_log(o.report, "concat_elision", "refused", NULL));
out:
    done(&o);
}

/* ---- all of them ---- */

static void build_mixed(lucid_graph *g)
{
    int64_t xd[4] = {1, 2, 4, 4}, one = 1, wd[4] = {3, 4, 1, 1};
    input(g, "x", 4, xd);
    const_i64(g, "zero", 0, NULL, (int64_t[]){0}, 1);
    const_i64(g, "axes0", 1, &one, (int64_t[]){0}, 1);
    const_i64(g, "minus1", 1, &one, (int64_t[]){-1}, 1);
    const_f32(g, "W", 4, wd, 11);
    node(g, "relu0", "Relu", 13, "x", "x0");
    node(g, "sig0", "Sigmoid", 13, "x", "x1");
    attr_int(node(g, "cat", "Concat", 13, "x0,x1", "c"), "axis", 1);
    node(g, "drop", "Dropout", 13, "c", "cd");
    node(g, "conv", "Conv", 13, "cd,W", "v");
    node(g, "shape", "Shape", 13, "v", "s");
    attr_int(node(g, "gather", "Gather", 13, "s,zero", "n"), "axis", 0);
    node(g, "unsq", "Unsqueeze", 13, "n,axes0", "nu");
    attr_int(node(g, "cat_shape", "Concat", 13, "nu,minus1", "shp"), "axis", 0);
    node(g, "reshape", "Reshape", 13, "v,shp", "flat");
    node(g, "id", "Identity", 13, "flat", "y");
    output(g, "y");
}

static void test_levels(void)
{
    size_t layers[4];
    for (int level = 0; level <= 3; level++) {
        char label[64];
        snprintf(label, sizeof label, "mixed graph at opt level %d", level);
        outcome o = run_case(label, build_mixed, level, NULL, false);
        layers[level] = o.opt ? count_layers(o.opt) : 0;
        if (level == 3 && o.opt) {
            CHECK(elided(o.opt, "cat"), "level 3: the Concat is elided");
            CHECK(!find_node(o.opt, "id") && find_node(o.opt, "reshape"),
                  "the Reshape writes the graph output in place of the Identity");
        }
        done(&o);
    }
    CHECK(layers[0] == 11, "level 0: 11 layers (%zu)", layers[0]);
    CHECK(layers[1] == 5, "level 1: relu, sigmoid, concat, conv, reshape (%zu)", layers[1]);
    CHECK(layers[3] == 4, "level 3: the Concat elided too (%zu)", layers[3]);
}

/* ---- whole models (not run by ctest) ---- */

static const char *const mine[] = {"constant_folding",  "noop_removal",  "dead_nodes",
                                   "transpose_folding", "reshape_views", "concat_elision"};

static lucid_status load_with_input(const char *dir, lucid_model_t **m, lucid_array *in,
                                    lucid_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    lucid_status st = lucid_model_load(path, m, err);
    if (st) return st;
    if (!in->data) {
        snprintf(path, sizeof path, "%s/input.npy", dir);
        FILE *f = fopen(path, "rb");
        if (f)
            fclose(f);
        else
            snprintf(path, sizeof path, "%s/ref_input.npy", dir);
        st = lucid_array_load_npy(path, in, err);
        if (st) return st;
    }
    /* a model with a fixed batch runs the saved inputs a batch at a time */
    const lucid_ir_tensor *x = &(*m)->graph->tensors[(*m)->graph->inputs[0]];
    int64_t dims[LUCID_MAX_RANK];
    memcpy(dims, in->dims, sizeof dims);
    if (x->rank == in->rank && x->rank > 0 && x->dims[0] > 0 && x->dims[0] < in->dims[0] &&
        in->dims[0] % x->dims[0] == 0)
        dims[0] = x->dims[0];
    return lucid_model_set_input_shape(*m, x->name, in->rank, dims, err);
}

/* Index of the largest of n floats. */
static int64_t argmax(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* Runs both models on every batch of `in`; counts rows whose top-1 class agrees when the
 * first output is a [batch, classes] float matrix. */
static void compare_batches(const lucid_model_t *ref, const lucid_model_t *opt,
                            const lucid_array *in, bool *exact, bool *close, double *max_rel,
                            int64_t *rows, int64_t *top1_same)
{
    const lucid_ir_tensor *x = &ref->graph->tensors[ref->graph->inputs[0]];
    int64_t b = x->dims[0], chunks = in->rank > 0 && b > 0 ? in->dims[0] / b : 1;
    size_t chunk_bytes = in->nbytes / (size_t)(chunks ? chunks : 1);
    *exact = *close = true;
    *max_rel = 0;
    *rows = *top1_same = 0;
    for (int64_t c = 0; c < chunks; c++) {
        lucid_array part = *in;
        if (chunks > 1) part.dims[0] = b;
        part.data = (unsigned char *)in->data + (size_t)c * chunk_bytes;
        part.nbytes = chunk_bytes;
        double rel = 0;
        bool e = same_outputs(ref, opt, &part, -1, &rel);
        bool cl = e || same_outputs(ref, opt, &part, 1e-5, &rel);
        *exact &= e;
        *close &= cl;
        if (rel > *max_rel) *max_rel = rel;
        /* top-1 of both, from fresh runs (same_outputs keeps no outputs) */
        lucid_context_t *ca = NULL, *cb = NULL;
        if (lucid_context_create(ref, NULL, &ca, NULL) ||
            lucid_context_create(opt, NULL, &cb, NULL) ||
            lucid_context_set_input(ca, x->name, part.dtype, part.rank, part.dims, part.data) ||
            lucid_context_set_input(cb, x->name, part.dtype, part.rank, part.dims, part.data) ||
            lucid_context_run(ca) || lucid_context_run(cb)) {
            lucid_context_destroy(ca);
            lucid_context_destroy(cb);
            continue;
        }
        lucid_array oa, ob;
        lucid_context_output(ca, 0, &oa);
        lucid_context_output(cb, 0, &ob);
        if (oa.rank == 2 && oa.dtype == LUCID_DTYPE_FLOAT && ob.nbytes == oa.nbytes)
            for (int64_t r = 0; r < oa.dims[0]; r++) {
                const float *ra = (const float *)oa.data + r * oa.dims[1];
                const float *rb = (const float *)ob.data + r * oa.dims[1];
                *top1_same += argmax(ra, oa.dims[1]) == argmax(rb, oa.dims[1]);
                (*rows)++;
            }
        lucid_context_destroy(ca);
        lucid_context_destroy(cb);
    }
}

static int check_models(int argc, char **argv)
{
    const char *mode = "mine";
    int bad = 0;
    printf("%-22s %6s %6s %6s %8s %6s %9s %9s %s\n", "model", "nodes", "layers", "elided",
           "rewrites", "equal", "max_rel", "top1_same", "mode");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mode") && i + 1 < argc) {
            mode = argv[++i];
            continue;
        }
        lucid_error err;
        lucid_model_t *ref = NULL, *opt = NULL;
        lucid_array in = {0};
        lucid_opt_report_t *rep = NULL;
        lucid_status st = load_with_input(argv[i], &ref, &in, &err);
        if (!st) st = load_with_input(argv[i], &opt, &in, &err);
        lucid_optimize_options opts;
        lucid_optimize_options_default(&opts);
        if (!strcmp(mode, "mine")) {
            opts.passes = mine;
            opts.n_passes = sizeof mine / sizeof mine[0];
        } else {
            opts.opt_level = atoi(mode);
        }
        if (!st) st = lucid_model_optimize(opt, &opts, &rep, &err);
        if (st) {
            printf("%s: %s\n", argv[i], err.message);
            bad++;
        } else {
            double t0 = lucid_time_now(), rel = 0;
            bool exact, close;
            int64_t rows, top1;
            compare_batches(ref, opt, &in, &exact, &close, &rel, &rows, &top1);
            size_t el = 0;
            for (int k = 0; k < opt->graph->n_nodes; k++)
                el += opt->graph->nodes[k].elided;
            char name[256];
            snprintf(name, sizeof name, "%s", argv[i]);
            size_t len = strlen(name);
            while (len > 1 && name[len - 1] == '/')
                name[--len] = '\0';
            const char *base = strrchr(name, '/');
            base = base ? base + 1 : name;
            char top[32];
            snprintf(top, sizeof top, "%lld/%lld", (long long)top1, (long long)rows);
            printf("%-22s %6d %6zu %6zu %8zu %6s %9.3g %9s %s (%.1f s)\n", base,
                   ref->graph->n_nodes, count_layers(opt), el, lucid_opt_report_num_rewrites(rep),
                   exact   ? "exact"
                   : close ? "1e-5"
                           : "NO",
                   rel, top, mode, lucid_time_now() - t0);
            if (getenv("LUCID_TEST_VERBOSE")) print_log(rep);
            bad += !close || top1 != rows;
        }
        lucid_opt_report_destroy(rep);
        lucid_model_destroy(ref);
        lucid_model_destroy(opt);
        lucid_array_free(&in);
    }
    return bad ? 1 : 0;
}

static void usage(void)
{
    printf("usage: test_pass_basic [--mode mine|0-3] DIR...\n"
           "  each DIR holds model.onnx and input.npy (or ref_input.npy); prints layer counts\n"
           "  and whether outputs with the passes equal outputs without (mine: this file's\n"
           "  passes; a number: that opt level)\n");
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp(argv[1], "--help")) {
            usage();
            return 0;
        }
        return check_models(argc, argv);
    }
    test_constant_folding_chain();
    test_constant_folding_refusals();
    test_noop_removal();
    test_noop_must_not_fire();
    test_transpose_folding();
    test_pad_folding();
    test_reshape_views();
    test_concat_elision();
    test_levels();
    return test_summary();
}
