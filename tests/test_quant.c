/* test_quant.c - explicit quantization: QuantizeLinear / DequantizeLinear (rounding ties to
 * even, saturation, zero points, per-axis scales, round-trip error), the int8 layers QConv
 * and QGemm against the float fake-quant computation they replace (DQ -> float layer -> Q),
 * the qdq_fusion pass (what it fuses, moves and removes, and where it must not fire), and bad
 * input (zero or negative scales, mismatched zero points, axes out of range) refused with a
 * message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "core/util.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ops/op.h"

static uint64_t rng_state = 42;

static uint32_t rnd_u32(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 32);
}

static int rnd_int(int lo, int hi)
{
    return lo + (int)(rnd_u32() % (uint32_t)(hi - lo + 1));
}

static float rnd_float(void)
{
    return (float)(rnd_u32() >> 8) / (float)(1 << 24) * 2.0f - 1.0f;
}

/* ---- graph building ---- */

static int input(lucid_graph *g, const char *name, lucid_dtype t, int rank, const int64_t *dims)
{
    int x = lucid_graph_tensor(g, name, NULL);
    g->tensors[x].dtype = t;
    g->tensors[x].rank = rank;
    for (int i = 0; i < rank; i++) g->tensors[x].dims[i] = dims[i];
    lucid_graph_add_input(g, x, NULL);
    return x;
}

/* A constant of dtype t from doubles (NULL: random in [-1, 1) for floats, the dtype's range
 * for integers). */
static int constant(lucid_graph *g, const char *name, lucid_dtype t, int rank, const int64_t *dims,
                    const double *v)
{
    int64_t n = lucid_shape_numel(rank, dims);
    size_t es = lucid_dtype_size(t);
    void *d = calloc((size_t)(n ? n : 1), es);
    for (int64_t i = 0; i < n; i++) {
        double x = v ? v[i]
                   : t == LUCID_DTYPE_FLOAT ? rnd_float()
                   : t == LUCID_DTYPE_UINT8 ? rnd_int(0, 255)
                                            : rnd_int(-127, 127);
        lucid_store_f64(t, d, i, x);
    }
    int x = lucid_graph_tensor(g, name, NULL);
    lucid_graph_set_initializer(g, x, t, rank, dims, d, es * (size_t)n, NULL);
    return x;
}

static int scalar_f(lucid_graph *g, const char *name, double v)
{
    return constant(g, name, LUCID_DTYPE_FLOAT, 0, NULL, &v);
}

static int scalar_q(lucid_graph *g, const char *name, lucid_dtype t, double v)
{
    return constant(g, name, t, 0, NULL, &v);
}

static lucid_node *node(lucid_graph *g, const char *name, const char *domain, const char *op,
                        int opset, const char *ins, const char *outs)
{
    int in[12], out[4], ni = 0, no = 0;
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
    int idx = lucid_graph_add_node(g, name, op, domain, opset, in, ni, out, no, NULL);
    return &g->nodes[idx];
}

static void attr_int(lucid_node *n, const char *name, int64_t v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INT, .i = v};
    lucid_node_add_attr(n, &a, NULL);
}

static void attr_ints(lucid_node *n, const char *name, int count, const int64_t *v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INTS, .count = (size_t)count};
    a.ints = malloc(sizeof(int64_t) * (size_t)count);
    memcpy(a.ints, v, sizeof(int64_t) * (size_t)count);
    lucid_node_add_attr(n, &a, NULL);
}

static void output(lucid_graph *g, const char *name)
{
    lucid_graph_add_output(g, lucid_graph_find(g, name), NULL);
}

/* Finalizes g and runs its only node's reference kernel on given input arrays. */
static lucid_status run_node(lucid_graph *g, lucid_array *in, int n_in, lucid_array *out,
                             lucid_error *err)
{
    const lucid_node *n = &g->nodes[0];
    const lucid_ir_tensor *y = lucid_op_output(g, n, 0);
    lucid_tensor_array(y, calloc(lucid_tensor_nbytes(y) + 1, 1), out);
    return lucid_op_get(n->op)->run(n, in, n_in, out, 1, err);
}

/* ---- QuantizeLinear / DequantizeLinear ---- */

/* One QuantizeLinear of x (float, n values) with scale s and optional zero point; returns
 * the quantized values as ints in q. */
static lucid_status quantize(const float *x, int64_t n, double s, lucid_dtype zt, double zp,
                             bool has_zp, int32_t *q, char *msg)
{
    lucid_graph *g = lucid_graph_create();
    int64_t d[1] = {n};
    input(g, "x", LUCID_DTYPE_FLOAT, 1, d);
    scalar_f(g, "s", s);
    if (has_zp) scalar_q(g, "z", zt, zp);
    node(g, "q", "", "QuantizeLinear", 13, has_zp ? "x,s,z" : "x,s", "y");
    output(g, "y");
    lucid_error err = {0};
    lucid_status st = lucid_graph_finalize(g, &err);
    if (!st) {
        lucid_array in[3], out;
        for (int k = 0; k < g->nodes[0].n_inputs; k++) {
            const lucid_ir_tensor *t = lucid_op_input(g, &g->nodes[0], k);
            lucid_tensor_array(t, k == 0 ? (void *)x : t->data, &in[k]);
        }
        st = run_node(g, in, g->nodes[0].n_inputs, &out, &err);
        for (int64_t i = 0; !st && i < n; i++) q[i] = (int32_t)lucid_load_i64(out.dtype, out.data, i);
        free(out.data);
    }
    if (msg) snprintf(msg, 256, "%s", st ? err.message : "");
    lucid_graph_destroy(g);
    return st;
}

static void test_quantize_rounding(void)
{
    const float ties[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 3.49f, -3.51f};
    const int32_t want[] = {0, 2, 2, 0, -2, -2, 3, -4};
    int32_t q[8];
    CHECK(!quantize(ties, 8, 1.0, LUCID_DTYPE_INT8, 0, true, q, NULL), "quantize ties");
    for (int i = 0; i < 8; i++)
        CHECK(q[i] == want[i], "round half to even: %g -> %d, want %d", (double)ties[i], q[i],
              want[i]);
    /* saturation, int8 and uint8 with zero points */
    const float big[] = {1000.0f, -1000.0f, 1e30f, -INFINITY, NAN};
    CHECK(!quantize(big, 5, 0.5, LUCID_DTYPE_INT8, 3, true, q, NULL), "quantize saturation");
    CHECK(q[0] == 127 && q[1] == -128 && q[2] == 127 && q[3] == -128 && q[4] == 3,
          "int8 saturates, NaN gives the zero point: %d %d %d %d %d", q[0], q[1], q[2], q[3],
          q[4]);
    CHECK(!quantize(big, 5, 0.5, LUCID_DTYPE_UINT8, 128, true, q, NULL), "quantize uint8");
    CHECK(q[0] == 255 && q[1] == 0 && q[4] == 128, "uint8 saturates: %d %d %d", q[0], q[1], q[4]);
    const float zps[] = {1.0f, -1.0f, 0.25f, 0.75f};
    CHECK(!quantize(zps, 4, 0.5, LUCID_DTYPE_INT8, 10, true, q, NULL), "quantize zero point");
    CHECK(q[0] == 12 && q[1] == 8 && q[2] == 10 && q[3] == 12,
          "zero point added after rounding: %d %d %d %d", q[0], q[1], q[2], q[3]);
    /* no zero point: uint8 with 0 */
    const float neg[] = {-3.0f, 3.0f};
    CHECK(!quantize(neg, 2, 1.0, LUCID_DTYPE_UINT8, 0, false, q, NULL), "quantize default");
    CHECK(q[0] == 0 && q[1] == 3, "default output uint8: %d %d", q[0], q[1]);
    /* round trip: |x - DQ(Q(x))| <= scale / 2 inside the range */
    float x[1000];
    int32_t r[1000];
    const double s = 0.0137;
    for (int i = 0; i < 1000; i++) x[i] = rnd_float() * 127 * (float)s;
    CHECK(!quantize(x, 1000, s, LUCID_DTYPE_INT8, 0, true, r, NULL), "quantize random");
    double worst = 0;
    for (int i = 0; i < 1000; i++) {
        double e = fabs((double)x[i] - (double)((float)r[i] * (float)s));
        if (e > worst) worst = e;
    }
    CHECK(worst <= s / 2 * (1 + 1e-5), "round trip error %.6g <= scale/2 %.6g", worst, s / 2);
}

static void test_per_axis(void)
{
    /* x 2 x 3 x 2, axis 1: scales and zero points per channel; then DequantizeLinear back */
    lucid_graph *g = lucid_graph_create();
    int64_t xd[3] = {2, 3, 2}, cd[1] = {3};
    input(g, "x", LUCID_DTYPE_FLOAT, 3, xd);
    const double sc[3] = {0.1, 0.2, 0.4}, zp[3] = {0, 1, -1};
    constant(g, "s", LUCID_DTYPE_FLOAT, 1, cd, sc);
    constant(g, "z", LUCID_DTYPE_INT8, 1, cd, zp);
    lucid_node *n = node(g, "q", "", "QuantizeLinear", 13, "x,s,z", "y");
    attr_int(n, "axis", 1);
    output(g, "y");
    lucid_error err;
    CHECK(!lucid_graph_finalize(g, &err), "per-axis graph: %s", err.message);
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = rnd_float() * 20;
    lucid_array in[3], out;
    lucid_tensor_array(&g->tensors[lucid_graph_find(g, "x")], x, &in[0]);
    lucid_tensor_array(&g->tensors[lucid_graph_find(g, "s")],
                       g->tensors[lucid_graph_find(g, "s")].data, &in[1]);
    lucid_tensor_array(&g->tensors[lucid_graph_find(g, "z")],
                       g->tensors[lucid_graph_find(g, "z")].data, &in[2]);
    CHECK(!run_node(g, in, 3, &out, &err), "per-axis run");
    for (int i = 0; i < 12; i++) {
        int c = (i / 2) % 3;
        double v = nearbyint((double)(x[i] / (float)sc[c])) + zp[c];
        v = v < -128 ? -128 : v > 127 ? 127 : v;
        int got = ((int8_t *)out.data)[i];
        CHECK(got == (int)v, "per-axis element %d (channel %d): %d, want %d", i, c, got, (int)v);
    }
    /* DequantizeLinear of the result with the same parameters */
    lucid_graph *g2 = lucid_graph_create();
    input(g2, "q", LUCID_DTYPE_INT8, 3, xd);
    constant(g2, "s", LUCID_DTYPE_FLOAT, 1, cd, sc);
    constant(g2, "z", LUCID_DTYPE_INT8, 1, cd, zp);
    n = node(g2, "dq", "", "DequantizeLinear", 13, "q,s,z", "y");
    attr_int(n, "axis", -2);
    output(g2, "y");
    CHECK(!lucid_graph_finalize(g2, &err), "per-axis DQ graph: %s", err.message);
    lucid_array in2[3], out2;
    lucid_tensor_array(&g2->tensors[lucid_graph_find(g2, "q")], out.data, &in2[0]);
    in2[1] = in[1];
    in2[2] = in[2];
    CHECK(!run_node(g2, in2, 3, &out2, &err), "per-axis DQ run");
    for (int i = 0; i < 12; i++) {
        int c = (i / 2) % 3;
        float want = (float)(((int8_t *)out.data)[i] - (int)zp[c]) * (float)sc[c];
        CHECK(((float *)out2.data)[i] == want, "DQ element %d", i);
    }
    free(out.data);
    free(out2.data);
    lucid_graph_destroy(g);
    lucid_graph_destroy(g2);
}

/* Builds a one-node Q/DQ graph and expects finalize to fail with `text` in the message. */
static void expect_refused(const char *what, const char *op, int opset, int64_t axis, int s_count,
                           double s_value, int z_count, const char *text)
{
    lucid_graph *g = lucid_graph_create();
    int64_t xd[2] = {2, 3};
    input(g, "x", op[0] == 'Q' ? LUCID_DTYPE_FLOAT : LUCID_DTYPE_INT8, 2, xd);
    double sv[4] = {s_value, s_value, s_value, s_value}, zv[4] = {0};
    int64_t sd[1] = {s_count}, zd[1] = {z_count};
    constant(g, "s", LUCID_DTYPE_FLOAT, s_count ? 1 : 0, sd, sv);
    if (z_count >= 0) constant(g, "z", LUCID_DTYPE_INT8, z_count ? 1 : 0, zd, zv);
    lucid_node *n = node(g, "n", "", op, opset, z_count >= 0 ? "x,s,z" : "x,s", "y");
    if (axis != 99) attr_int(n, "axis", axis);
    output(g, "y");
    lucid_error err = {0};
    lucid_status st = lucid_graph_finalize(g, &err);
    CHECK(st != LUCID_STATUS_OK && strstr(err.message, text), "%s: refused (%s)", what,
          st ? err.message : "accepted");
    lucid_graph_destroy(g);
}

static void test_bad_input(void)
{
    expect_refused("zero scale", "QuantizeLinear", 13, 99, 0, 0.0, 0, "positive");
    expect_refused("negative scale", "QuantizeLinear", 13, 99, 0, -0.5, 0, "positive");
    expect_refused("NaN scale", "DequantizeLinear", 13, 99, 0, NAN, -1, "positive");
    expect_refused("zero point shape", "QuantizeLinear", 13, 1, 3, 0.5, 2, "zero point");
    expect_refused("axis out of range", "QuantizeLinear", 13, 5, 3, 0.5, 3, "axis");
    expect_refused("per-axis scale length", "DequantizeLinear", 13, 0, 3, 0.5, 3, "per-axis");
    expect_refused("per-axis before opset 13", "QuantizeLinear", 10, 99, 3, 0.5, -1, "scalar");
    /* a scale known only at run time: the kernel refuses a zero one */
    lucid_graph *g = lucid_graph_create();
    int64_t xd[1] = {4};
    input(g, "x", LUCID_DTYPE_FLOAT, 1, xd);
    input(g, "s", LUCID_DTYPE_FLOAT, 0, NULL);
    node(g, "q", "", "QuantizeLinear", 13, "x,s", "y");
    output(g, "y");
    lucid_error err = {0};
    CHECK(!lucid_graph_finalize(g, &err), "run-time scale graph: %s", err.message);
    float x[4] = {1, 2, 3, 4}, s = 0;
    lucid_array in[2], out;
    lucid_tensor_array(&g->tensors[0], x, &in[0]);
    lucid_tensor_array(&g->tensors[1], &s, &in[1]);
    lucid_status st = run_node(g, in, 2, &out, &err);
    CHECK(st == LUCID_STATUS_INVALID_MODEL && strstr(err.message, "scale"),
          "zero run-time scale refused: %s", st ? err.message : "accepted");
    free(out.data);
    lucid_graph_destroy(g);
    /* QConv: a weight scale of 0 */
    g = lucid_graph_create();
    int64_t x4[4] = {1, 2, 3, 3}, w4[4] = {2, 2, 1, 1}, c2[1] = {2};
    input(g, "x", LUCID_DTYPE_INT8, 4, x4);
    scalar_f(g, "xs", 0.1);
    constant(g, "w", LUCID_DTYPE_INT8, 4, w4, NULL);
    const double ws[2] = {0.5, 0};
    constant(g, "ws", LUCID_DTYPE_FLOAT, 1, c2, ws);
    node(g, "qc", LUCID_DOMAIN, "QConv", 1, "x,xs,,w,ws", "y");
    output(g, "y");
    st = lucid_graph_finalize(g, &err);
    CHECK(st == LUCID_STATUS_INVALID_MODEL && strstr(err.message, "weight scale"),
          "QConv with a zero weight scale refused: %s", st ? err.message : "accepted");
    lucid_graph_destroy(g);
}

/* ---- Q/DQ graphs: fused (qdq_fusion) against unfused (reference Q/DQ + float layers) ---- */

typedef struct qcase {
    bool pow2;        /* power-of-two scales: the fused result must be exact */
    lucid_dtype xt;   /* activation dtype */
    int64_t n, c, h, w, m, k, stride, pad, group;
    bool bias, residual, relu, quant_out;
} qcase;

/* scales: powers of two, or arbitrary */
static double pick_scale(bool pow2, double base)
{
    return pow2 ? ldexp(1.0, (int)floor(log2(base))) : base * (0.75 + 0.5 * (rnd_float() + 1) / 2);
}

/* DQ(x) -> Conv(DQ(w)) [+ DQ(z)] [-> Relu] [-> Q] as plain ONNX ops. */
static void build_conv_case(lucid_graph *g, const qcase *q)
{
    int64_t xd[4] = {q->n, q->c, q->h, q->w}, wd[4] = {q->m, q->c / q->group, q->k, q->k};
    int64_t md[1] = {q->m};
    const int64_t oh = (q->h + 2 * q->pad - q->k) / q->stride + 1,
                  ow = (q->w + 2 * q->pad - q->k) / q->stride + 1;
    int64_t yd[4] = {q->n, q->m, oh, ow};
    input(g, "xq", q->xt, 4, xd);
    scalar_f(g, "xs", pick_scale(q->pow2, 0.05));
    scalar_q(g, "xz", q->xt, 0);
    node(g, "dq_x", "", "DequantizeLinear", 13, "xq,xs,xz", "x");
    constant(g, "wq", LUCID_DTYPE_INT8, 4, wd, NULL);
    double ws[256];
    for (int i = 0; i < q->m; i++) ws[i] = pick_scale(q->pow2, 0.01 + 0.01 * (i % 3));
    constant(g, "ws", LUCID_DTYPE_FLOAT, 1, md, ws);
    lucid_node *n = node(g, "dq_w", "", "DequantizeLinear", 13, "wq,ws", "w");
    attr_int(n, "axis", 0);
    double b[256];
    for (int i = 0; i < q->m; i++) b[i] = q->pow2 ? ldexp(rnd_int(-64, 64), -6) : rnd_float();
    if (q->bias) constant(g, "b", LUCID_DTYPE_FLOAT, 1, md, b);
    n = node(g, "conv", "", "Conv", 13, q->bias ? "x,w,b" : "x,w", "c");
    int64_t pads[4] = {q->pad, q->pad, q->pad, q->pad}, st[2] = {q->stride, q->stride};
    attr_ints(n, "pads", 4, pads);
    attr_ints(n, "strides", 2, st);
    if (q->group > 1) attr_int(n, "group", q->group);
    const char *cur = "c";
    if (q->residual) {
        input(g, "zq", LUCID_DTYPE_INT8, 4, yd);
        scalar_f(g, "zs", pick_scale(q->pow2, 0.1));
        node(g, "dq_z", "", "DequantizeLinear", 13, "zq,zs", "z");
        node(g, "add", "", "Add", 14, "c,z", "s");
        cur = "s";
    }
    if (q->relu) {
        char ins[16];
        snprintf(ins, sizeof ins, "%s", cur);
        node(g, "relu", "", "Relu", 14, ins, "r");
        cur = "r";
    }
    if (q->quant_out) {
        char ins[64];
        scalar_f(g, "ys", pick_scale(q->pow2, 0.2));
        scalar_q(g, "yz", LUCID_DTYPE_INT8, 0);
        snprintf(ins, sizeof ins, "%s,ys,yz", cur);
        node(g, "q_y", "", "QuantizeLinear", 13, ins, "y");
        cur = "y";
    }
    output(g, cur);
}

static lucid_model_t *make_model(void (*build)(lucid_graph *, const void *), const void *arg,
                                 uint64_t seed)
{
    rng_state = seed;
    lucid_graph *g = lucid_graph_create();
    build(g, arg);
    lucid_error err;
    if (lucid_graph_finalize(g, &err)) {
        printf("graph: %s\n", err.message);
        lucid_graph_destroy(g);
        return NULL;
    }
    lucid_model_t *m;
    lucid_model_wrap(g, &m, NULL);
    return m;
}

/* Runs m on inputs from seed (int8/uint8 inputs over their range, floats in [-2, 2)); the
 * first output as doubles into *out (malloc'd); returns its element count or -1. */
static int64_t run_model(const lucid_model_t *m, uint64_t seed, double **out, lucid_dtype *dt)
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
        void *v = calloc((size_t)(n ? n : 1), lucid_dtype_size(t->dtype));
        for (int64_t k = 0; k < n; k++)
            lucid_store_f64(t->dtype, v, k,
                            t->dtype == LUCID_DTYPE_FLOAT  ? 2.0 * rnd_float()
                            : t->dtype == LUCID_DTYPE_UINT8 ? rnd_int(0, 255)
                                                            : rnd_int(-128, 127));
        lucid_context_set_input(ctx, t->name, t->dtype, t->rank, t->dims, v);
        free(v);
    }
    int64_t count = -1;
    if (lucid_context_run(ctx)) {
        printf("run: %s\n", lucid_context_error(ctx));
    } else {
        lucid_array a;
        lucid_context_output(ctx, 0, &a);
        count = lucid_array_numel(&a);
        *out = malloc(sizeof(double) * (size_t)(count ? count : 1));
        for (int64_t i = 0; i < count; i++) (*out)[i] = lucid_load_f64(a.dtype, a.data, i);
        *dt = a.dtype;
    }
    lucid_context_destroy(ctx);
    return count;
}

static int count_op(const lucid_graph *g, int op)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += g->nodes[i].op == op;
    return c;
}

/* Optimizes a copy with `passes`, runs both, compares: int outputs within max_lsb (and the
 * share of differing elements), float outputs within rel. Returns the optimized model. */
static lucid_model_t *compare_fused(const char *what, void (*build)(lucid_graph *, const void *),
                                    const void *arg, const char *const *passes, int n_passes,
                                    double max_lsb, double rel)
{
    lucid_model_t *m0 = make_model(build, arg, 99), *m1 = make_model(build, arg, 99);
    if (!m0 || !m1) {
        CHECK(false, "%s: builds", what);
        lucid_model_destroy(m0);
        lucid_model_destroy(m1);
        return NULL;
    }
    lucid_optimize_options o;
    lucid_optimize_options_default(&o);
    o.passes = passes;
    o.n_passes = (size_t)n_passes;
    lucid_error err;
    lucid_status st = lucid_model_optimize(m1, &o, NULL, &err);
    CHECK(!st, "%s: optimize: %s", what, st ? err.message : "");
    double *a = NULL, *b = NULL;
    lucid_dtype ta = 0, tb = 0;
    int64_t na = run_model(m0, 5, &a, &ta), nb = run_model(m1, 5, &b, &tb);
    CHECK(na > 0 && na == nb && ta == tb, "%s: both run (%lld, %lld elements; %s, %s)", what,
          (long long)na, (long long)nb, lucid_dtype_name(ta), lucid_dtype_name(tb));
    if (na > 0 && na == nb) {
        double worst = 0, scale = 0;
        int64_t differ = 0;
        for (int64_t i = 0; i < na; i++) {
            double d = fabs(a[i] - b[i]);
            if (!(d <= worst)) worst = d;
            if (d != 0) differ++;
            if (fabs(a[i]) > scale) scale = fabs(a[i]);
        }
        if (ta == LUCID_DTYPE_FLOAT)
            CHECK(worst <= rel * (scale > 1 ? scale : 1), "%s: float output within %g (max %g)",
                  what, rel, worst);
        else
            CHECK(worst <= max_lsb && differ * 50 <= na,
                  "%s: int output within %g LSB on at most 2%% of elements (max %g, %lld of "
                  "%lld differ)",
                  what, max_lsb, worst, (long long)differ, (long long)na);
    }
    free(a);
    free(b);
    lucid_model_destroy(m0);
    return m1;
}

static void build_conv_case_v(lucid_graph *g, const void *arg)
{
    build_conv_case(g, arg);
}

static const char *const fusion_passes[] = {"vertical_fusion", "qdq_fusion"};

static void test_qconv_random(void)
{
    for (int t = 0; t < 40; t++) {
        rng_state = 1000 + (uint64_t)t;
        qcase q = {
            .pow2 = t % 2 == 0,
            .xt = t % 3 == 0 ? LUCID_DTYPE_UINT8 : LUCID_DTYPE_INT8,
            .n = rnd_int(1, 2),
            .c = 0,
            .h = rnd_int(3, 9),
            .w = rnd_int(3, 9),
            .k = rnd_int(1, 3),
            .stride = rnd_int(1, 2),
            .pad = 0,
            .group = rnd_int(0, 3) == 0 ? 2 : 1,
            .bias = rnd_int(0, 3) != 0,
            .residual = rnd_int(0, 2) == 0,
            .relu = rnd_int(0, 1),
            .quant_out = rnd_int(0, 3) != 0,
        };
        q.c = q.group * rnd_int(1, 8);
        q.m = q.group * rnd_int(1, 8);
        q.pad = rnd_int(0, q.k - 1);
        char what[200];
        snprintf(what, sizeof what,
                 "QConv case %d (%s scales, %s x %lldx%lldx%lldx%lld, M %lld k %lld s %lld p %lld "
                 "g %lld%s%s%s%s)",
                 t, q.pow2 ? "power-of-two" : "arbitrary", lucid_dtype_name(q.xt), (long long)q.n,
                 (long long)q.c, (long long)q.h, (long long)q.w, (long long)q.m, (long long)q.k,
                 (long long)q.stride, (long long)q.pad, (long long)q.group, q.bias ? " bias" : "",
                 q.residual ? " residual" : "", q.relu ? " relu" : "",
                 q.quant_out ? " int8 out" : " float out");
        /* exact with power-of-two scales; else within one unit in the last place */
        lucid_model_t *m = compare_fused(what, build_conv_case_v, &q, fusion_passes, 2,
                                         q.pow2 ? 0 : 1, q.pow2 ? 0 : 1e-5);
        if (!m) continue;
        const lucid_graph *g = m->graph;
        CHECK(count_op(g, LUCID_OP_QCONV) == 1 && count_op(g, LUCID_OP_CONV) == 0 &&
                  count_op(g, LUCID_OP_DEQUANTIZE_LINEAR) == 0 &&
                  count_op(g, LUCID_OP_QUANTIZE_LINEAR) == 0,
              "%s: one QConv, no Q/DQ left (%d nodes)", what, g->n_nodes);
        lucid_model_destroy(m);
    }
}

/* DQ(a) -> Gemm(transB, DQ(w), C) or MatMul(DQ(a) 3-D, DQ(w)) -> Q */
typedef struct gcase {
    bool matmul, trans_b, pow2, quant_out, bias;
    int64_t batch, m, k, n;
} gcase;

static void build_gemm_case(lucid_graph *g, const void *arg)
{
    const gcase *q = arg;
    int64_t ad[3] = {q->batch, q->m, q->k};
    int64_t wd[2] = {q->trans_b ? q->n : q->k, q->trans_b ? q->k : q->n}, nd[1] = {q->n};
    input(g, "aq", LUCID_DTYPE_INT8, q->matmul ? 3 : 2, q->matmul ? ad : ad + 1);
    scalar_f(g, "as", pick_scale(q->pow2, 0.05));
    node(g, "dq_a", "", "DequantizeLinear", 13, "aq,as", "a");
    constant(g, "wq", LUCID_DTYPE_INT8, 2, wd, NULL);
    double ws[256];
    for (int i = 0; i < q->n; i++) ws[i] = pick_scale(q->pow2, 0.02);
    constant(g, "ws", LUCID_DTYPE_FLOAT, 1, nd, ws);
    lucid_node *n = node(g, "dq_w", "", "DequantizeLinear", 13, "wq,ws", "w");
    attr_int(n, "axis", q->trans_b ? 0 : 1);
    if (q->matmul) {
        node(g, "mm", "", "MatMul", 13, "a,w", "c");
    } else {
        double b[256];
        for (int i = 0; i < q->n; i++) b[i] = q->pow2 ? ldexp(rnd_int(-64, 64), -6) : rnd_float();
        if (q->bias) constant(g, "b", LUCID_DTYPE_FLOAT, 1, nd, b);
        n = node(g, "gemm", "", "Gemm", 13, q->bias ? "a,w,b" : "a,w", "c");
        attr_int(n, "transB", q->trans_b);
    }
    if (q->quant_out) {
        scalar_f(g, "ys", pick_scale(q->pow2, 0.3));
        node(g, "q_y", "", "QuantizeLinear", 13, "c,ys", "y");
        output(g, "y");
    } else {
        output(g, "c");
    }
}

static void test_qgemm_random(void)
{
    for (int t = 0; t < 24; t++) {
        rng_state = 5000 + (uint64_t)t;
        gcase q = {.matmul = t % 3 == 2, .trans_b = rnd_int(0, 1), .pow2 = t % 2 == 0,
                   .quant_out = rnd_int(0, 2) != 0, .bias = rnd_int(0, 1),
                   .batch = rnd_int(1, 3), .m = rnd_int(1, 6), .k = rnd_int(1, 40),
                   .n = rnd_int(1, 20)};
        if (q.matmul) q.trans_b = false;
        char what[160];
        snprintf(what, sizeof what, "%s case %d (m %lld k %lld n %lld%s%s, %s)",
                 q.matmul ? "MatMul" : "Gemm", t, (long long)q.m, (long long)q.k, (long long)q.n,
                 q.trans_b ? " transB" : "", q.bias ? " bias" : "",
                 q.quant_out ? "int8 out" : "float out");
        lucid_model_t *m = compare_fused(what, build_gemm_case, &q, fusion_passes + 1, 1,
                                         q.pow2 ? 0 : 1, q.pow2 ? 0 : 1e-5);
        if (!m) continue;
        CHECK(count_op(m->graph, LUCID_OP_QGEMM) == 1 &&
                  count_op(m->graph, LUCID_OP_DEQUANTIZE_LINEAR) == 0,
              "%s: one QGemm", what);
        lucid_model_destroy(m);
    }
}

/* ---- the pass: moves, round trips, and where it must not fire ---- */

/* DQ(x) -> Conv -> Relu -> MaxPool -> Q -> DQ -> Conv -> Q, a second Q/DQ/Q round trip */
static void build_chain(lucid_graph *g, const void *arg)
{
    (void)arg;
    int64_t xd[4] = {1, 3, 8, 8}, w1[4] = {4, 3, 3, 3}, w2[4] = {5, 4, 1, 1}, c4[1] = {4},
            c5[1] = {5};
    input(g, "xq", LUCID_DTYPE_INT8, 4, xd);
    scalar_f(g, "s0", 0.03);
    node(g, "dq0", "", "DequantizeLinear", 13, "xq,s0", "x");
    constant(g, "w1q", LUCID_DTYPE_INT8, 4, w1, NULL);
    double s1[4] = {0.01, 0.02, 0.015, 0.01};
    constant(g, "w1s", LUCID_DTYPE_FLOAT, 1, c4, s1);
    attr_int(node(g, "dqw1", "", "DequantizeLinear", 13, "w1q,w1s", "w1"), "axis", 0);
    lucid_node *n = node(g, "conv1", "", "Conv", 13, "x,w1", "c1");
    int64_t pads[4] = {1, 1, 1, 1};
    attr_ints(n, "pads", 4, pads);
    node(g, "relu1", "", "Relu", 14, "c1", "r1");
    n = node(g, "pool", "", "MaxPool", 12, "r1", "p");
    int64_t k2[2] = {2, 2};
    attr_ints(n, "kernel_shape", 2, k2);
    attr_ints(n, "strides", 2, k2);
    scalar_f(g, "s1", 0.05);
    node(g, "q1", "", "QuantizeLinear", 13, "p,s1", "pq");
    node(g, "dq1", "", "DequantizeLinear", 13, "pq,s1", "pd");
    node(g, "q1b", "", "QuantizeLinear", 13, "pd,s1", "pq2"); /* a round trip */
    node(g, "dq1b", "", "DequantizeLinear", 13, "pq2,s1", "pd2");
    constant(g, "w2q", LUCID_DTYPE_INT8, 4, w2, NULL);
    double s2[5] = {0.01, 0.02, 0.03, 0.01, 0.02};
    constant(g, "w2s", LUCID_DTYPE_FLOAT, 1, c5, s2);
    attr_int(node(g, "dqw2", "", "DequantizeLinear", 13, "w2q,w2s", "w2"), "axis", 0);
    node(g, "conv2", "", "Conv", 13, "pd2,w2", "c2");
    scalar_f(g, "s2", 0.1);
    node(g, "q2", "", "QuantizeLinear", 13, "c2,s2", "y");
    output(g, "y");
}

/* Must not fire: DQ into Sigmoid; a Conv whose weights are float; a requantization
 * (Q -> DQ -> Q with other scales); a Conv output read by Qs with different scales. */
static void build_refusals(lucid_graph *g, const void *arg)
{
    (void)arg;
    int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 1, 1};
    input(g, "xq", LUCID_DTYPE_INT8, 4, xd);
    scalar_f(g, "s0", 0.03);
    node(g, "dq0", "", "DequantizeLinear", 13, "xq,s0", "x");
    node(g, "sig", "", "Sigmoid", 13, "x", "sx");
    constant(g, "wf", LUCID_DTYPE_FLOAT, 4, wd, NULL);
    node(g, "conv_float_w", "", "Conv", 13, "sx,wf", "c0"); /* not quantized: float weights */
    scalar_f(g, "sa", 0.05);
    scalar_f(g, "sb", 0.07);
    node(g, "qa", "", "QuantizeLinear", 13, "c0,sa", "qa");
    node(g, "dqa", "", "DequantizeLinear", 13, "qa,sa", "da");
    node(g, "qb", "", "QuantizeLinear", 13, "da,sb", "qb"); /* requantization: stays */
    node(g, "dqb", "", "DequantizeLinear", 13, "qb,sb", "db");
    int64_t w2d[4] = {3, 3, 1, 1}, c3[1] = {3};
    constant(g, "w2q", LUCID_DTYPE_INT8, 4, w2d, NULL);
    double s3[3] = {0.01, 0.02, 0.03};
    constant(g, "w2s", LUCID_DTYPE_FLOAT, 1, c3, s3);
    attr_int(node(g, "dqw2", "", "DequantizeLinear", 13, "w2q,w2s", "w2"), "axis", 0);
    node(g, "conv2", "", "Conv", 13, "db,w2", "c2");
    node(g, "qc", "", "QuantizeLinear", 13, "c2,sa", "y1"); /* two scales: float output */
    node(g, "qd", "", "QuantizeLinear", 13, "c2,sb", "y2");
    node(g, "dqc", "", "DequantizeLinear", 13, "y1,sa", "z1");
    node(g, "dqd", "", "DequantizeLinear", 13, "y2,sb", "z2");
    node(g, "add", "", "Add", 14, "z1,z2", "y");
    output(g, "y");
}

static void test_pass_shapes(void)
{
    lucid_model_t *m =
        compare_fused("chain (MaxPool, round trip)", build_chain, NULL, fusion_passes + 1, 1, 1, 0);
    if (m) {
        const lucid_graph *g = m->graph;
        int pool = -1;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == LUCID_OP_MAX_POOL) pool = i;
        CHECK(pool >= 0 && g->tensors[g->nodes[pool].inputs[0]].dtype == LUCID_DTYPE_UINT8,
              "the Q moved above MaxPool: it runs on uint8");
        if (getenv("QDEBUG"))
            for (int i = 0; i < g->n_nodes; i++)
                printf("  %s %s in0 %s %s\n", g->nodes[i].op_type, g->nodes[i].name,
                       g->tensors[g->nodes[i].inputs[0]].name,
                       lucid_dtype_name(g->tensors[g->nodes[i].inputs[0]].dtype));
        CHECK(count_op(g, LUCID_OP_QCONV) == 2 && count_op(g, LUCID_OP_QUANTIZE_LINEAR) == 0 &&
                  count_op(g, LUCID_OP_DEQUANTIZE_LINEAR) == 0,
              "chain: two QConv, no Q/DQ left (%d QConv, %d Q, %d DQ)",
              count_op(g, LUCID_OP_QCONV), count_op(g, LUCID_OP_QUANTIZE_LINEAR),
              count_op(g, LUCID_OP_DEQUANTIZE_LINEAR));
        lucid_model_destroy(m);
    }
    m = compare_fused("refusals", build_refusals, NULL, fusion_passes + 1, 1, 0, 1e-6);
    if (m) {
        const lucid_graph *g = m->graph;
        CHECK(count_op(g, LUCID_OP_SIGMOID) == 1 && count_op(g, LUCID_OP_CONV) == 1,
              "a DQ into Sigmoid and a Conv with float weights stay float");
        CHECK(count_op(g, LUCID_OP_QCONV) == 1, "conv2 is quantized");
        int qconv = -1;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == LUCID_OP_QCONV) qconv = i;
        CHECK(qconv >= 0 &&
                  g->tensors[g->nodes[qconv].outputs[0]].dtype == LUCID_DTYPE_FLOAT &&
                  count_op(g, LUCID_OP_QUANTIZE_LINEAR) >= 3,
              "Qs with different scales: the QConv writes float, the Qs and the requantization "
              "stay (%d Q)",
              count_op(g, LUCID_OP_QUANTIZE_LINEAR));
        lucid_model_destroy(m);
    }
}

int main(void)
{
    test_quantize_rounding();
    test_per_axis();
    test_bad_input();
    test_qconv_random();
    test_qgemm_random();
    test_pass_shapes();
    return test_summary();
}
