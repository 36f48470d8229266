/* test_cast16.c - the 16-bit precision rewrite (src/quant/cast16.c) and the conversions under
 * it: round to nearest even on edge cases (NaN, infinities, subnormals, overflow to infinity
 * in float16) in the scalar helpers, the AVX-512 kernels and the Cast op; Cast placement at
 * float32 boundaries and graph inputs and outputs; keep[] honoured; elided views agreeing;
 * outputs of the rewritten graph against float32 (relative L2 error under 1e-2 for bfloat16,
 * 2e-3 for float16: bfloat16 keeps 8 significant bits, about 2.4 decimal digits, float16 11). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "cpu/half_convert.h"
#include "ir/model.h"
#include "ops/op.h"
#include "plan/plan.h"
#include "quant/quant.h"
#include "tactics/tactic.h"
#include "test_util.h"

static float bits_f(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static uint32_t f_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static bool h_is_nan(uint16_t h, bool bf16)
{
    return bf16 ? (h & 0x7f80) == 0x7f80 && (h & 0x7f) : (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
}

/* Scalar, AVX-512 and the Cast op must all give `want` for f (NaN: any NaN of f's sign). */
static void check_narrow(float f, uint16_t want, bool bf16, const lucid_cpu_features *cpu)
{
    lucid_dtype dt = bf16 ? LUCID_DTYPE_BFLOAT16 : LUCID_DTYPE_FLOAT16;
    uint16_t got[3];
    int n = 0;
    got[n++] = bf16 ? lucid_float_to_bf16(f) : lucid_float_to_half(f);
    if (cpu->avx512f && cpu->avx512bw && cpu->f16c) {
        if (bf16)
            lucid_avx512_f32_to_bf16(&f, &got[n++], 1);
        else
            lucid_avx512_f32_to_f16(&f, &got[n++], 1);
    }
    /* the Cast op's reference kernel */
    lucid_array in = {.dtype = LUCID_DTYPE_FLOAT, .rank = 1, .dims = {1}, .data = &f,
                      .nbytes = 4};
    lucid_array out = {.dtype = dt, .rank = 1, .dims = {1}, .data = &got[n++], .nbytes = 2};
    lucid_node node = {0};
    lucid_error err;
    lucid_op_get(LUCID_OP_CAST)->run(&node, &in, 1, &out, 1, &err);
    for (int i = 0; i < n; i++) {
        bool ok = isnan(f) ? h_is_nan(got[i], bf16) && (got[i] >> 15) == (f_bits(f) >> 31)
                           : got[i] == want;
        CHECK(ok, "%s(%a = 0x%08x) path %d: 0x%04x, want 0x%04x", bf16 ? "bf16" : "f16", f,
              f_bits(f), i, got[i], want);
    }
}

static void check_widen(uint16_t h, float want, bool bf16, const lucid_cpu_features *cpu)
{
    float got[2];
    int n = 0;
    got[n++] = bf16 ? lucid_bf16_to_float(h) : lucid_half_to_float(h);
    if (cpu->avx512f && cpu->avx512bw && cpu->f16c) {
        if (bf16)
            lucid_avx512_bf16_to_f32(&h, &got[n++], 1);
        else
            lucid_avx512_f16_to_f32(&h, &got[n++], 1);
    }
    for (int i = 0; i < n; i++)
        CHECK(isnan(want) ? isnan(got[i]) : f_bits(got[i]) == f_bits(want),
              "%s widen 0x%04x path %d: %a, want %a", bf16 ? "bf16" : "f16", h, i, got[i], want);
}

static void test_conversions(const lucid_cpu_features *cpu)
{
    /* float16 */
    check_narrow(1.0f, 0x3c00, false, cpu);
    check_narrow(1.0f + 0x1p-11f, 0x3c00, false, cpu);        /* tie: to even */
    check_narrow(1.0f + 3 * 0x1p-11f, 0x3c02, false, cpu);    /* tie: to even (up) */
    check_narrow(1.0f + 0x1p-11f + 0x1p-20f, 0x3c01, false, cpu);
    check_narrow(65504.0f, 0x7bff, false, cpu);               /* largest finite */
    check_narrow(65519.99f, 0x7bff, false, cpu);
    check_narrow(65520.0f, 0x7c00, false, cpu);               /* overflows to infinity */
    check_narrow(-1e10f, 0xfc00, false, cpu);
    check_narrow(INFINITY, 0x7c00, false, cpu);
    check_narrow(-INFINITY, 0xfc00, false, cpu);
    check_narrow(NAN, 0x7e00, false, cpu);
    check_narrow(-NAN, 0xfe00, false, cpu);
    check_narrow(0x1p-14f, 0x0400, false, cpu);               /* smallest normal */
    check_narrow(0x1p-24f, 0x0001, false, cpu);               /* smallest subnormal */
    check_narrow(0x1p-25f, 0x0000, false, cpu);               /* tie: to even (zero) */
    check_narrow(1.5f * 0x1p-24f, 0x0002, false, cpu);        /* tie: to even (2) */
    check_narrow(2.5f * 0x1p-24f, 0x0002, false, cpu);
    check_narrow(0x1p-25f + 0x1p-40f, 0x0001, false, cpu);
    check_narrow(-0x1p-24f, 0x8001, false, cpu);
    check_narrow(bits_f(0x00000001), 0x0000, false, cpu);     /* float32 subnormal */
    check_narrow(-0.0f, 0x8000, false, cpu);
    check_narrow(0x1.ffcp-15f, 0x0400, false, cpu);           /* rounds up into the normals */
    check_widen(0x0001, 0x1p-24f, false, cpu);
    check_widen(0x03ff, 1023 * 0x1p-24f, false, cpu);
    check_widen(0x7bff, 65504.0f, false, cpu);
    check_widen(0x7c00, INFINITY, false, cpu);
    check_widen(0xfc00, -INFINITY, false, cpu);
    check_widen(0x7e00, NAN, false, cpu);
    check_widen(0x8000, -0.0f, false, cpu);
    /* bfloat16 */
    check_narrow(1.0f, 0x3f80, true, cpu);
    check_narrow(1.0f + 0x1p-8f, 0x3f80, true, cpu);          /* tie: to even */
    check_narrow(1.0f + 3 * 0x1p-8f, 0x3f82, true, cpu);
    check_narrow(3.4028235e38f, 0x7f80, true, cpu);           /* FLT_MAX rounds to infinity */
    check_narrow(bits_f(0x7f7f7fff), 0x7f7f, true, cpu);
    check_narrow(INFINITY, 0x7f80, true, cpu);
    check_narrow(-INFINITY, 0xff80, true, cpu);
    check_narrow(NAN, 0x7fc0, true, cpu);
    check_narrow(bits_f(0xff800001), 0xffc0, true, cpu);      /* signalling NaN stays NaN */
    check_narrow(bits_f(0x00010000), 0x0001, true, cpu);      /* subnormal kept (not flushed) */
    check_narrow(bits_f(0x00008000), 0x0000, true, cpu);      /* subnormal tie: to even */
    check_narrow(bits_f(0x00018000), 0x0002, true, cpu);
    check_narrow(bits_f(0x80000001), 0x8000, true, cpu);
    check_widen(0x0001, bits_f(0x00010000), true, cpu);
    check_widen(0xff80, -INFINITY, true, cpu);
    check_widen(0x7fc0, NAN, true, cpu);
    /* the AVX-512 kernels agree with the scalar ones on many bit patterns (and tails) */
    if (cpu->avx512f && cpu->avx512bw && cpu->f16c) {
        enum { N = 1 << 16 };
        float *f = malloc(sizeof(float) * N);
        uint16_t *a = malloc(2 * N), *b = malloc(2 * N);
        uint64_t r = 12345;
        for (int i = 0; i < N; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t bits = (uint32_t)(r >> 32);
            /* every third value near float16's range, to exercise its rounding */
            if (i % 3 == 0) bits = (bits & 0x80ffffffu) | ((0x30u + (bits >> 24) % 0x20) << 24 >> 1);
            f[i] = bits_f(bits);
        }
        int bad16 = 0, badbf = 0;
        for (int pass = 0; pass < 2; pass++) {
            bool bf = pass == 1;
            if (bf)
                lucid_avx512_f32_to_bf16(f, a, N - 7);
            else
                lucid_avx512_f32_to_f16(f, a, N - 7);
            for (int i = 0; i < N - 7; i++) {
                b[i] = bf ? lucid_float_to_bf16(f[i]) : lucid_float_to_half(f[i]);
                bool same = isnan(f[i]) ? h_is_nan(a[i], bf) && (a[i] >> 15) == (b[i] >> 15)
                                        : a[i] == b[i];
                if (!same) *(bf ? &badbf : &bad16) += 1;
            }
        }
        CHECK(bad16 == 0, "%d float16 conversions differ between AVX-512 and scalar", bad16);
        CHECK(badbf == 0, "%d bfloat16 conversions differ between AVX-512 and scalar", badbf);
        free(f);
        free(a);
        free(b);
    }
}

/* ---- graphs ---- */

static uint64_t rng = 99;
static float rnd(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static int tensor(lucid_graph *g, const char *name)
{
    return lucid_graph_tensor(g, name, NULL);
}

static int constant(lucid_graph *g, const char *name, int rank, const int64_t *dims, float scale)
{
    int64_t n = lucid_shape_numel(rank, dims);
    float *d = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) d[i] = rnd() * scale;
    int t = tensor(g, name);
    lucid_graph_set_initializer(g, t, LUCID_DTYPE_FLOAT, rank, dims, d, sizeof(float) * (size_t)n,
                                NULL);
    return t;
}

static lucid_node *node(lucid_graph *g, const char *name, const char *op, const int *in, int n_in,
                        int out)
{
    int i = lucid_graph_add_node(g, name, op, "", 13, in, n_in, &out, 1, NULL);
    return &g->nodes[i];
}

static void set_ints(lucid_node *n, const char *name, int count, const int64_t *v)
{
    lucid_attr a = {0};
    a.name = lucid_strdup(name);
    a.type = LUCID_ATTR_INTS;
    a.count = (size_t)count;
    a.ints = malloc(sizeof(int64_t) * (size_t)count);
    memcpy(a.ints, v, sizeof(int64_t) * (size_t)count);
    lucid_node_add_attr(n, &a, NULL);
}

static void set_int(lucid_node *n, const char *name, int64_t v)
{
    lucid_attr a = {0};
    a.name = lucid_strdup(name);
    a.type = LUCID_ATTR_INT;
    a.i = v;
    lucid_node_add_attr(n, &a, NULL);
}

static void conv(lucid_graph *g, const char *name, int x, int out, int64_t ic, int64_t oc)
{
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s_w", name);
    snprintf(bn, sizeof bn, "%s_b", name);
    int64_t wd[4] = {oc, ic, 3, 3}, bd[1] = {oc};
    int in[3] = {x, constant(g, wn, 4, wd, 0.3f), constant(g, bn, 1, bd, 0.1f)};
    lucid_node *n = node(g, name, "Conv", in, 3, out);
    int64_t pads[4] = {1, 1, 1, 1};
    set_ints(n, "pads", 4, pads);
}

/* x [1,3,8,8] -> conv1 -> relu1 -> softmax (channels) -> conv2 -> flatten -> gemm -> y;
 * with concat: conv2 and conv3 (on relu1's output) concatenated before flatten. */
static lucid_model_t *make_model(bool with_concat)
{
    lucid_graph *g = lucid_graph_create();
    g->opset = 13;
    uint64_t saved = rng;
    rng = 99; /* the same weights in every copy */
    int x = tensor(g, "x");
    g->tensors[x].dtype = LUCID_DTYPE_FLOAT;
    g->tensors[x].rank = 4;
    int64_t xd[4] = {1, 3, 8, 8};
    memcpy(g->tensors[x].dims, xd, sizeof xd);
    lucid_graph_add_input(g, x, NULL);
    int c1 = tensor(g, "c1"), r1 = tensor(g, "r1"), sm = tensor(g, "sm"), c2 = tensor(g, "c2");
    int fl = tensor(g, "fl"), y = tensor(g, "y");
    conv(g, "conv1", x, c1, 3, 4);
    node(g, "relu1", "Relu", &c1, 1, r1);
    set_int(node(g, "softmax", "Softmax", &r1, 1, sm), "axis", 1);
    conv(g, "conv2", sm, c2, 4, 4);
    int flat_in = c2, k = 4 * 64;
    if (with_concat) {
        int c3 = tensor(g, "c3"), cat = tensor(g, "cat");
        conv(g, "conv3", r1, c3, 4, 2); /* not a sibling of conv2: no horizontal merge */
        int in[2] = {c2, c3};
        set_int(node(g, "concat", "Concat", in, 2, cat), "axis", 1);
        flat_in = cat;
        k = 6 * 64;
    }
    node(g, "flatten", "Flatten", &flat_in, 1, fl);
    int64_t wd[2] = {k, 10}, bd[1] = {10};
    int gin[3] = {fl, constant(g, "fc_w", 2, wd, 0.1f), constant(g, "fc_b", 1, bd, 0.1f)};
    node(g, "fc", "Gemm", gin, 3, y);
    lucid_graph_add_output(g, y, NULL);
    rng = saved;
    lucid_error err;
    lucid_model_t *m = NULL;
    if (lucid_graph_finalize(g, &err) || lucid_model_wrap(g, &m, &err)) {
        printf("model: %s\n", err.message);
        return NULL;
    }
    lucid_optimize_options oo;
    lucid_optimize_options_default(&oo);
    if (lucid_model_optimize(m, &oo, NULL, &err)) printf("optimize: %s\n", err.message);
    return m;
}

static int find_node(const lucid_graph *g, const char *prefix)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strncmp(g->nodes[i].name, prefix, strlen(prefix)) == 0) return i;
    return -1;
}

static int count_casts(const lucid_graph *g)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        if (n->op != LUCID_OP_CAST) continue;
        c++;
        lucid_dtype a = g->tensors[n->inputs[0]].dtype, b = g->tensors[n->outputs[0]].dtype;
        CHECK(a != b && (a == LUCID_DTYPE_FLOAT || b == LUCID_DTYPE_FLOAT),
              "Cast '%s' converts %s to %s", n->name, lucid_dtype_name(a), lucid_dtype_name(b));
    }
    return c;
}

/* Every float tensor of a node agrees with the precision the rewrite reported for it. */
static void check_io(const lucid_model_t *m)
{
    const lucid_graph *g = m->graph;
    for (int i = 0; i < g->n_inputs; i++)
        CHECK(g->tensors[g->inputs[i]].dtype == LUCID_DTYPE_FLOAT, "graph input not float32");
    for (int i = 0; i < g->n_outputs; i++)
        CHECK(g->tensors[g->outputs[i]].dtype == LUCID_DTYPE_FLOAT, "graph output not float32");
    lucid_error err;
    CHECK(lucid_graph_validate(g, &err) == LUCID_STATUS_OK, "invalid: %s", err.message);
}

/* Runs both models (reference executor and a built plan of the rewritten one) on the same
 * input; the relative L2 error of the output against float32. */
static double run_compare(const lucid_model_t *m32, const lucid_model_t *m16, bool plan)
{
    float x[192];
    for (int i = 0; i < 192; i++) x[i] = rnd();
    int64_t dims[4] = {1, 3, 8, 8};
    const lucid_model_t *ms[2] = {m32, m16};
    float y[2][10];
    for (int k = 0; k < 2; k++) {
        lucid_error err;
        lucid_context_t *ctx = NULL;
        lucid_plan_t *p = NULL;
        lucid_context_options co = {.threads = 1};
        lucid_status st;
        if (plan && k == 1) {
            lucid_build_options bo;
            lucid_build_options_default(&bo);
            bo.threads = 1;
            bo.optimize.opt_level = 0; /* already optimized, then rewritten */
            st = lucid_plan_build(ms[k], &bo, &p, &err);
            if (!st) st = lucid_context_create_plan(p, &co, &ctx, &err);
        } else {
            st = lucid_context_create(ms[k], &co, &ctx, &err);
        }
        CHECK(!st, "context: %s", err.message);
        if (st) return INFINITY;
        st = lucid_context_set_input(ctx, "x", LUCID_DTYPE_FLOAT, 4, dims, x);
        if (!st) st = lucid_context_run(ctx);
        CHECK(!st, "run: %s", lucid_context_error(ctx));
        lucid_array o;
        lucid_context_output(ctx, 0, &o);
        CHECK(o.dtype == LUCID_DTYPE_FLOAT && lucid_array_numel(&o) == 10, "output %s",
              lucid_dtype_name(o.dtype));
        memcpy(y[k], o.data, sizeof y[k]);
        lucid_context_destroy(ctx);
        lucid_plan_destroy(p);
    }
    double num = 0, den = 0;
    for (int i = 0; i < 10; i++) {
        num += (y[0][i] - y[1][i]) * (double)(y[0][i] - y[1][i]);
        den += y[0][i] * (double)y[0][i];
    }
    return sqrt(num / den);
}

static void test_rewrite(lucid_precision p)
{
    const char *pn = lucid_precision_name(p);
    const double tol = p == LUCID_PRECISION_BF16 ? 1e-2 : 2e-3;
    lucid_error err;
    /* 1. everything that can, runs 16-bit; Softmax stays float32 */
    lucid_model_t *m32 = make_model(false), *m = make_model(false);
    if (!m32 || !m) return;
    lucid_graph *g = m->graph;
    int n0 = g->n_nodes;
    lucid_layer_precision *lp = calloc((size_t)n0, sizeof *lp);
    int i_conv1 = find_node(g, "conv1"), i_sm = find_node(g, "softmax"),
        i_conv2 = find_node(g, "conv2"), i_fc = find_node(g, "fc"), i_fl = find_node(g, "flatten");
    CHECK(i_conv1 >= 0 && i_sm >= 0 && i_conv2 >= 0 && i_fc >= 0 && i_fl >= 0, "layers");
    CHECK(g->nodes[i_fl].elided, "flatten is a view");
    CHECK(lucid_precision_cast16(g, p, NULL, lp, &err) == LUCID_STATUS_OK, "cast16: %s",
          err.message);
    CHECK(lp[i_conv1].precision == p && lp[i_conv2].precision == p && lp[i_fc].precision == p &&
              lp[i_fl].precision == p,
          "%s: conv1 %s conv2 %s fc %s flatten %s", pn, lucid_precision_name(lp[i_conv1].precision),
          lucid_precision_name(lp[i_conv2].precision), lucid_precision_name(lp[i_fc].precision),
          lucid_precision_name(lp[i_fl].precision));
    CHECK(lp[i_sm].precision == LUCID_PRECISION_FP32 &&
              strcmp(lp[i_sm].why, "no 16-bit kernel for Softmax") == 0,
          "softmax: %s '%s'", lucid_precision_name(lp[i_sm].precision), lp[i_sm].why);
    /* x -> 16, conv1 -> f32 for Softmax, softmax -> 16 for conv2, fc's 16-bit y -> y */
    int casts = count_casts(g);
    CHECK(casts == 4, "%s: %d Cast nodes, want 4", pn, casts);
    check_io(m);
    int y = lucid_graph_find(g, "y");
    CHECK(y >= 0 && g->tensors[y].producer >= 0 &&
              g->nodes[g->tensors[y].producer].op == LUCID_OP_CAST,
          "graph output 'y' made by a Cast");
    int iw = lucid_graph_find(g, "conv2_w");
    CHECK(iw < 0 || g->tensors[iw].n_consumers == 0, "float32 conv2_w left in use");
    double e = run_compare(m32, m, false);
    CHECK(e < tol, "%s reference: relative error %.3g (tolerance %.3g)", pn, e, tol);
    e = run_compare(m32, m, true);
    CHECK(e < tol, "%s plan: relative error %.3g (tolerance %.3g)", pn, e, tol);
    lucid_model_destroy(m);
    free(lp);

    /* 2. keep[] honoured: conv2 kept; the flatten view then follows it, fc reads a Cast */
    m = make_model(false);
    g = m->graph;
    n0 = g->n_nodes;
    lp = calloc((size_t)n0, sizeof *lp);
    bool *keep = calloc((size_t)n0, sizeof *keep);
    keep[i_conv2] = true;
    CHECK(lucid_precision_cast16(g, p, keep, lp, &err) == LUCID_STATUS_OK, "cast16: %s",
          err.message);
    CHECK(lp[i_conv2].precision == LUCID_PRECISION_FP32 &&
              strcmp(lp[i_conv2].why, "kept by constraint") == 0,
          "conv2 kept: %s '%s'", lucid_precision_name(lp[i_conv2].precision), lp[i_conv2].why);
    CHECK(lp[i_fl].precision == LUCID_PRECISION_FP32, "flatten (view of conv2) is float32");
    CHECK(lp[i_fc].precision == p, "fc is 16-bit");
    casts = count_casts(g);
    CHECK(casts == 4, "%s keep: %d Cast nodes, want 4", pn, casts); /* x, conv1 out, fl, y */
    check_io(m);
    e = run_compare(m32, m, true);
    CHECK(e < tol, "%s keep: relative error %.3g", pn, e);
    lucid_model_destroy(m);
    free(lp);
    free(keep);

    /* 3. an elided Concat: its producers agree; one kept keeps the other and the concat */
    lucid_model_t *c32 = make_model(true);
    m = make_model(true);
    g = m->graph;
    n0 = g->n_nodes;
    int i_cat = find_node(g, "concat"), i_conv3 = find_node(g, "conv3");
    i_conv2 = find_node(g, "conv2");
    CHECK(i_cat >= 0 && i_conv3 >= 0 && i_conv2 >= 0 && g->nodes[i_cat].elided,
          "concat elided");
    if (i_cat < 0 || i_conv3 < 0 || i_conv2 < 0) return;
    lp = calloc((size_t)n0, sizeof *lp);
    keep = calloc((size_t)n0, sizeof *keep);
    keep[i_conv3] = true;
    CHECK(lucid_precision_cast16(g, p, keep, lp, &err) == LUCID_STATUS_OK, "cast16: %s",
          err.message);
    CHECK(lp[i_conv3].precision == LUCID_PRECISION_FP32, "conv3 kept");
    CHECK(lp[i_conv2].precision == LUCID_PRECISION_FP32 && strstr(lp[i_conv2].why, "view"),
          "conv2 follows conv3 into the concat: %s '%s'",
          lucid_precision_name(lp[i_conv2].precision), lp[i_conv2].why);
    CHECK(lp[i_cat].precision == LUCID_PRECISION_FP32, "concat float32");
    check_io(m);
    e = run_compare(c32, m, true);
    CHECK(e < tol, "%s concat: relative error %.3g", pn, e);
    lucid_model_destroy(m);
    free(lp);
    free(keep);
    /* without constraints the concat group is 16-bit as a whole */
    m = make_model(true);
    g = m->graph;
    lp = calloc((size_t)g->n_nodes, sizeof *lp);
    CHECK(lucid_precision_cast16(g, p, NULL, lp, &err) == LUCID_STATUS_OK, "cast16: %s",
          err.message);
    CHECK(lp[i_cat].precision == p && lp[i_conv2].precision == p && lp[i_conv3].precision == p,
          "concat group 16-bit");
    check_io(m);
    e = run_compare(c32, m, true);
    CHECK(e < tol, "%s concat 16-bit: relative error %.3g", pn, e);
    lucid_model_destroy(m);
    lucid_model_destroy(c32);
    lucid_model_destroy(m32);
    free(lp);
}

int main(void)
{
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    test_conversions(&cpu);
    lucid_error err;
    CHECK(lucid_precision_cast16(NULL, LUCID_PRECISION_FP16, NULL, NULL, &err) ==
              LUCID_STATUS_INVALID_ARGUMENT,
          "NULL graph");
    test_rewrite(LUCID_PRECISION_FP16);
    test_rewrite(LUCID_PRECISION_BF16);
    return test_summary();
}
