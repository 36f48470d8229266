/* test_compress.c - weight pruning and clustering (lucid_compress_weights) on hand-built graphs:
 * exact per-layer sparsity and its tie rule, the 2:4 pattern along each layer kind's reduction
 * axis, clustering's value count, idempotence and determinism, pruning and clustering
 * together, the report's byte counts, shared and non-float weights, and refused options. */
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
#include "quant/quant.h"

/* ---- building graphs ---- */

static uint32_t rng = 1;

static float rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return (float)(rng >> 8) / 8388608.0f - 1.0f; /* [-1, 1), 24 random bits */
}

/* How the next constants are filled: random values, or few distinct magnitudes (ties). */
static int fill_ties;

static int tensor(lucid_graph *g, const char *name)
{
    return lucid_graph_tensor(g, name, NULL);
}

static void input(lucid_graph *g, const char *name, int rank, const int64_t *dims)
{
    int t = tensor(g, name);
    g->tensors[t].dtype = LUCID_DTYPE_FLOAT;
    g->tensors[t].rank = rank;
    memcpy(g->tensors[t].dims, dims, sizeof(int64_t) * (size_t)rank);
    lucid_graph_add_input(g, t, NULL);
}

static void output(lucid_graph *g, const char *name)
{
    lucid_graph_add_output(g, tensor(g, name), NULL);
}

static void constant(lucid_graph *g, const char *name, int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *d = malloc(sizeof *d * (size_t)n + 1);
    for (int64_t i = 0; i < n; i++) {
        float v = rnd();
        /* ties: magnitudes 0.25, 0.5, 0.75 or 1 with random signs, and some exact zeros */
        if (fill_ties) v = (float)((int)((v + 1.0f) * 2.5f)) * 0.25f * (rnd() < 0 ? -1.0f : 1.0f);
        d[i] = v;
    }
    lucid_graph_set_initializer(g, tensor(g, name), LUCID_DTYPE_FLOAT, rank, dims, d,
                                sizeof *d * (size_t)n, NULL);
}

static lucid_node *node(lucid_graph *g, const char *name, const char *op, const char *ins,
                        const char *outs)
{
    int in[8], out[4], ni = 0, no = 0;
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
    int i = lucid_graph_add_node(g, name, op, "", 13, in, ni, out, no, NULL);
    return &g->nodes[i];
}

static void attr_int(lucid_node *n, const char *name, int64_t v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INT, .i = v};
    lucid_node_add_attr(n, &a, NULL);
}

static void attr_ints(lucid_node *n, const char *name, const int64_t *v, size_t count)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INTS, .count = count};
    a.ints = malloc(sizeof *a.ints * count);
    memcpy(a.ints, v, sizeof *a.ints * count);
    lucid_node_add_attr(n, &a, NULL);
}

static lucid_graph *finish(lucid_graph *g)
{
    lucid_error err;
    if (lucid_graph_finalize(g, &err)) {
        printf("FAIL: graph does not finalize: %s\n", err.message);
        failed++;
        lucid_graph_destroy(g);
        return NULL;
    }
    return g;
}

/* x[1,8,6,6] -> conv1 (W1 10x8x3x3, bias) -> dw (10x1x3x3, group 10) -> conv3 (6x10x3x3)
 * -> Flatten -> gemm0 (G0 216x11, transB 0, bias) -> gemm1 (G1 9x11, transB 1) -> mm (M 9x5).
 * Reduction axes: conv1 8, dw 1, conv3 10 (4+4+2), gemm0 216, gemm1 11 (4+4+3), mm 9 (4+4+1). */
static lucid_graph *chain(uint32_t seed, int ties)
{
    rng = seed;
    fill_ties = ties;
    lucid_graph *g = lucid_graph_create();
    int64_t xd[4] = {1, 8, 6, 6}, w1[4] = {10, 8, 3, 3}, b1[1] = {10}, wd[4] = {10, 1, 3, 3},
            w3[4] = {6, 10, 3, 3}, g0[2] = {216, 11}, c0[1] = {11}, g1[2] = {9, 11},
            m[2] = {9, 5}, pads[4] = {1, 1, 1, 1};
    input(g, "x", 4, xd);
    constant(g, "W1", 4, w1);
    constant(g, "B1", 1, b1);
    constant(g, "Wd", 4, wd);
    constant(g, "W3", 4, w3);
    constant(g, "G0", 2, g0);
    constant(g, "C0", 1, c0);
    constant(g, "G1", 2, g1);
    constant(g, "M", 2, m);
    attr_ints(node(g, "conv1", "Conv", "x,W1,B1", "y1"), "pads", pads, 4);
    lucid_node *dw = node(g, "dw", "Conv", "y1,Wd", "y2");
    attr_ints(dw, "pads", pads, 4);
    attr_int(dw, "group", 10);
    attr_ints(node(g, "conv3", "Conv", "y2,W3", "y3"), "pads", pads, 4);
    node(g, "flat", "Flatten", "y3", "f");
    node(g, "gemm0", "Gemm", "f,G0,C0", "h0");
    attr_int(node(g, "gemm1", "Gemm", "h0,G1", "h1"), "transB", 1);
    node(g, "mm", "MatMul", "h1,M", "out");
    output(g, "out");
    return finish(g);
}

/* ---- reading graphs ---- */

static const lucid_node *find_node(const lucid_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0) return &g->nodes[i];
    return NULL;
}

/* The weight tensor a node reads now. */
static const lucid_ir_tensor *weight_t(const lucid_graph *g, const char *node_name)
{
    const lucid_node *n = find_node(g, node_name);
    return n ? &g->tensors[n->inputs[1]] : NULL;
}

static const float *weight(const lucid_graph *g, const char *node_name)
{
    const lucid_ir_tensor *t = weight_t(g, node_name);
    return t ? t->data : NULL;
}

static const lucid_compress_layer *layer(const lucid_graph *g, const lucid_compress_report *r,
                                         const char *node_name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(g->nodes[r->layers[i].node].name, node_name) == 0) return &r->layers[i];
    return NULL;
}

static int64_t zeros(const float *w, int64_t n)
{
    int64_t z = 0;
    for (int64_t i = 0; i < n; i++) z += w[i] == 0.0f;
    return z;
}

static int fcmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Distinct values (sorted into vals when given, which must hold n). */
static int64_t distinct(const float *w, int64_t n, float *vals)
{
    float *s = malloc(sizeof *s * (size_t)n + 1);
    memcpy(s, w, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, fcmp);
    int64_t d = 0;
    for (int64_t i = 0; i < n; i++)
        if (i == 0 || s[i] != s[i - 1]) {
            if (vals) vals[d] = s[i];
            d++;
        }
    free(s);
    return d;
}

static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static lucid_status compress(lucid_graph *g, double s, int two_four, int bits,
                             lucid_compress_report *r, lucid_error *err)
{
    lucid_build_options o;
    lucid_build_options_default(&o);
    o.prune_sparsity = s;
    o.prune_2_4 = two_four;
    o.cluster_bits = bits;
    return lucid_compress_weights(g, &o, r, err);
}

/* ---- unstructured pruning ---- */

/* Checks that out is orig with exactly its `count` smallest |w| zeroed, ties by lower index
 * (each weight's rank computed directly). */
static void check_magnitude(const char *what, const float *orig, const float *out, int64_t n,
                            int64_t count)
{
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(orig[i]);
        int64_t rank = 0;
        for (int64_t j = 0; j < n; j++) {
            float b = fabsf(orig[j]);
            if (b < a || (b == a && j < i)) rank++;
        }
        float want = rank < count ? 0.0f : orig[i];
        if (memcmp(&want, &out[i], sizeof want) != 0 && !(want == 0 && out[i] == 0)) {
            if (first < 0) first = i;
            bad++;
        }
    }
    CHECK(bad == 0, "%s: %lld weights differ from magnitude pruning of %lld (first at %lld)",
          what, (long long)bad, (long long)count, (long long)first);
}

static const char *const chain_layers[] = {"conv1", "dw", "conv3", "gemm0", "gemm1", "mm"};

static void test_sparsity(void)
{
    const double fractions[] = {0.1, 0.25, 0.29, 0.5, 0.75, 0.9, 0.999};
    for (int ties = 0; ties < 2; ties++) {
        for (size_t f = 0; f < LUCID_ARRAY_LEN(fractions); f++) {
            lucid_graph *ref = chain(7 + (uint32_t)f, ties), *g = chain(7 + (uint32_t)f, ties);
            if (!ref || !g) return;
            lucid_compress_report r;
            lucid_error err;
            double s = fractions[f];
            CHECK(!compress(g, s, 0, 0, &r, &err), "prune %g: %s", s, err.message);
            CHECK(r.n == 6, "prune %g: %zu layers reported, not 6", s, r.n);
            for (size_t k = 0; k < LUCID_ARRAY_LEN(chain_layers); k++) {
                const char *name = chain_layers[k];
                const lucid_ir_tensor *t = weight_t(g, name);
                int64_t n = lucid_tensor_numel(t);
                /* floor(s n), with 0.29 meaning 29 per 100 */
                int64_t want = (int64_t)floor(s * (double)n + 1e-6);
                char what[96];
                snprintf(what, sizeof what, "%s, sparsity %g%s", name, s, ties ? ", ties" : "");
                int64_t z0 = zeros(weight(ref, name), n), z = zeros(weight(g, name), n);
                /* with ties, weights already zero count among the pruned */
                CHECK(z == (want > z0 ? want : z0), "%s: %lld zeros, want %lld", what,
                      (long long)z, (long long)want);
                check_magnitude(what, weight(ref, name), weight(g, name), n, want);
                const lucid_compress_layer *l = layer(g, &r, name);
                CHECK(l && l->weights == n && l->zeros_before == z0 && l->zeros_after == z,
                      "%s: report weights %lld zeros %lld -> %lld", what,
                      l ? (long long)l->weights : -1LL, l ? (long long)l->zeros_before : -1LL,
                      l ? (long long)l->zeros_after : -1LL);
            }
            /* biases untouched */
            CHECK(memcmp(g->tensors[lucid_graph_find(g, "B1")].data,
                         ref->tensors[lucid_graph_find(ref, "B1")].data, 10 * sizeof(float)) == 0 &&
                      memcmp(g->tensors[lucid_graph_find(g, "C0")].data,
                             ref->tensors[lucid_graph_find(ref, "C0")].data,
                             11 * sizeof(float)) == 0,
                  "sparsity %g: a bias changed", s);
            lucid_compress_report_free(&r);
            lucid_graph_destroy(ref);
            lucid_graph_destroy(g);
        }
    }
    /* 0.29 of 100 weights is 29, as meant, not the 28 a bare floor of the double gives */
    lucid_graph *g = lucid_graph_create();
    int64_t xd[2] = {1, 100}, md[2] = {100, 1};
    rng = 99;
    fill_ties = 0;
    input(g, "x", 2, xd);
    constant(g, "M", 2, md);
    node(g, "mm", "MatMul", "x,M", "y");
    output(g, "y");
    if ((g = finish(g))) {
        lucid_compress_report r;
        CHECK(!compress(g, 0.29, 0, 0, &r, NULL) && zeros(weight(g, "mm"), 100) == 29,
              "0.29 of 100 weights pruned %lld, not 29", (long long)zeros(weight(g, "mm"), 100));
        lucid_compress_report_free(&r);
        lucid_graph_destroy(g);
    }
}

/* ---- 2:4 ---- */

/* Checks the 2:4 rule on a weight seen as [outer, len, inner] (reduction axis len): every
 * group of 4 consecutive k keeps exactly its 2 largest |w| (ceil(r/2) of a last group of r),
 * lower k first among equals, unchanged; the others are zero. */
static void check_2_4(const char *what, const float *orig, const float *out, int64_t outer,
                      int64_t len, int64_t inner)
{
    int64_t bad = 0, groups = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++)
            for (int64_t k0 = 0; k0 < len; k0 += 4, groups++) {
                int64_t gl = len - k0 < 4 ? len - k0 : 4, keep = gl == 4 ? 2 : (gl + 1) / 2;
                for (int64_t a = 0; a < gl; a++) {
                    int64_t ia = (o * len + k0 + a) * inner + i, rank = 0;
                    for (int64_t b = 0; b < gl; b++) {
                        int64_t ib = (o * len + k0 + b) * inner + i;
                        float ma = fabsf(orig[ia]), mb = fabsf(orig[ib]);
                        if (mb > ma || (mb == ma && b < a)) rank++;
                    }
                    float want = rank < keep ? orig[ia] : 0.0f;
                    if (!(want == out[ia])) bad++;
                }
            }
    CHECK(bad == 0 && groups > 0, "%s: %lld weights break the 2:4 rule (%lld groups)", what,
          (long long)bad, (long long)groups);
}

static void test_2_4(void)
{
    for (int ties = 0; ties < 2; ties++) {
        lucid_graph *ref = chain(21, ties), *g = chain(21, ties);
        if (!ref || !g) return;
        lucid_compress_report r;
        lucid_error err;
        /* 2:4 overrides prune_sparsity */
        CHECK(!compress(g, 0.9, 1, 0, &r, &err), "2:4: %s", err.message);
        check_2_4("conv1 (along C)", weight(ref, "conv1"), weight(g, "conv1"), 10, 8, 9);
        check_2_4("conv3 (along C, 4+4+2)", weight(ref, "conv3"), weight(g, "conv3"), 6, 10, 9);
        check_2_4("gemm0 (transB 0: along rows)", weight(ref, "gemm0"), weight(g, "gemm0"), 1,
                  216, 11);
        check_2_4("gemm1 (transB 1: along columns, 4+4+3)", weight(ref, "gemm1"),
                  weight(g, "gemm1"), 9, 11, 1);
        check_2_4("mm (along K, 4+4+1)", weight(ref, "mm"), weight(g, "mm"), 1, 9, 5);
        if (!ties) {
            /* exact counts: conv1 half of 720; conv3 per (m, kh, kw) 2+2+1 of 10 */
            CHECK(zeros(weight(g, "conv1"), 720) == 360, "conv1: %lld zeros, want 360",
                  (long long)zeros(weight(g, "conv1"), 720));
            CHECK(zeros(weight(g, "conv3"), 540) == 54 * 5, "conv3: %lld zeros, want 270",
                  (long long)zeros(weight(g, "conv3"), 540));
            /* gemm1: per output row 2+2+1 zeros of 11; mm: per column 2+2+0 of 9 */
            CHECK(zeros(weight(g, "gemm1"), 99) == 9 * 5, "gemm1: %lld zeros, want 45",
                  (long long)zeros(weight(g, "gemm1"), 99));
            CHECK(zeros(weight(g, "mm"), 45) == 5 * 4, "mm: %lld zeros, want 20",
                  (long long)zeros(weight(g, "mm"), 45));
        }
        /* the depthwise layer's reduction axis has 1 value: left as it was, not an error */
        const lucid_compress_layer *l = layer(g, &r, "dw");
        CHECK(memcmp(weight(g, "dw"), weight(ref, "dw"), 90 * sizeof(float)) == 0 && l &&
                  l->zeros_after == l->zeros_before && l->bytes_after == l->bytes_before &&
                  l->bytes_before == 360,
              "2:4 changed the depthwise layer (or reported it as changed)");
        CHECK(l && strstr(l->note, "2:4") && strstr(l->note, "fewer than 2"),
              "the depthwise layer's note: '%s'", l ? l->note : "");
        CHECK(layer(g, &r, "conv1") && !layer(g, &r, "conv1")->note[0],
              "conv1 has a note: '%s'", layer(g, &r, "conv1")->note);
        lucid_compress_report_free(&r);
        lucid_graph_destroy(ref);
        lucid_graph_destroy(g);
    }

    /* a batched MatMul weight [2, 8, 3]: groups along K (axis 1) of each batch */
    lucid_graph *g = lucid_graph_create(), *ref;
    int64_t xd[3] = {2, 4, 8}, bd[3] = {2, 8, 3};
    rng = 5;
    fill_ties = 0;
    input(g, "x", 3, xd);
    constant(g, "B", 3, bd);
    node(g, "mm", "MatMul", "x,B", "y");
    output(g, "y");
    if (!(g = finish(g))) return;
    ref = lucid_graph_clone(g, lucid_op_params_size);
    lucid_compress_report r;
    CHECK(!compress(g, 0, 1, 0, &r, NULL), "2:4 on a batched MatMul failed");
    check_2_4("batched mm", weight(ref, "mm"), weight(g, "mm"), 2, 8, 3);
    lucid_compress_report_free(&r);
    lucid_graph_destroy(ref);
    lucid_graph_destroy(g);
}

/* ---- clustering ---- */

/* Every value of out is one of at most k shared values, and each weight got the nearest of
 * them (up to the rounding of the centroid to float). */
static void check_clustered(const char *what, const float *orig, const float *out, int64_t n,
                            int k, bool zeros_kept)
{
    float *vals = malloc(sizeof *vals * (size_t)n + 1);
    int64_t d = distinct(out, n, vals);
    int64_t nz = 0;
    for (int64_t i = 0; i < d; i++) nz += vals[i] != 0.0f;
    CHECK((zeros_kept ? nz : d) <= k, "%s: %lld distinct values, at most %d allowed", what,
          (long long)(zeros_kept ? nz : d), k);
    int64_t far = 0;
    for (int64_t i = 0; i < n; i++) {
        if (zeros_kept && orig[i] == 0.0f) {
            far += out[i] != 0.0f;
            continue;
        }
        double e = fabs((double)out[i] - orig[i]);
        for (int64_t j = 0; j < d; j++) {
            if (zeros_kept && vals[j] == 0.0f) continue;
            if (fabs((double)vals[j] - orig[i]) < e - 1e-6) {
                far++;
                break;
            }
        }
    }
    CHECK(far == 0, "%s: %lld weights not at their nearest shared value", what, (long long)far);
    free(vals);
}

static void test_cluster(void)
{
    const int bits[] = {2, 4, 8};
    for (size_t b = 0; b < LUCID_ARRAY_LEN(bits); b++) {
        lucid_graph *ref = chain(33, 0), *g = chain(33, 0), *again = chain(33, 0);
        if (!ref || !g || !again) return;
        lucid_compress_report r, r2;
        lucid_error err;
        int k = 1 << bits[b];
        CHECK(!compress(g, 0, 0, bits[b], &r, &err), "cluster %d bits: %s", bits[b],
              err.message);
        CHECK(!compress(again, 0, 0, bits[b], &r2, &err), "cluster %d bits: %s", bits[b],
              err.message);
        for (size_t i = 0; i < LUCID_ARRAY_LEN(chain_layers); i++) {
            const char *name = chain_layers[i];
            int64_t n = lucid_tensor_numel(weight_t(g, name));
            char what[64];
            snprintf(what, sizeof what, "%s, %d bits", name, bits[b]);
            check_clustered(what, weight(ref, name), weight(g, name), n, k, false);
            const lucid_compress_layer *l = layer(g, &r, name);
            int64_t d = distinct(weight(g, name), n, NULL);
            CHECK(l && l->distinct_after == d, "%s: report says %d distinct, counted %lld", what,
                  l ? l->distinct_after : -1, (long long)d);
            /* a layer with no more than k values to begin with is unchanged */
            if (n <= k)
                CHECK(memcmp(weight(g, name), weight(ref, name), sizeof(float) * (size_t)n) == 0,
                      "%s: %lld weights, not more than %d, yet changed", what, (long long)n, k);
            /* deterministic: a second graph with the same weights gets the same bits */
            CHECK(memcmp(weight(g, name), weight(again, name), sizeof(float) * (size_t)n) == 0,
                  "%s: two runs differ", what);
        }
        /* idempotent: clustering clustered weights changes nothing */
        lucid_graph *twice = lucid_graph_clone(g, lucid_op_params_size);
        lucid_compress_report r3;
        CHECK(!compress(twice, 0, 0, bits[b], &r3, &err), "recluster: %s", err.message);
        for (size_t i = 0; i < LUCID_ARRAY_LEN(chain_layers); i++) {
            int64_t n = lucid_tensor_numel(weight_t(g, chain_layers[i]));
            CHECK(memcmp(weight(g, chain_layers[i]), weight(twice, chain_layers[i]),
                         sizeof(float) * (size_t)n) == 0,
                  "%s, %d bits: clustering twice changed the weights", chain_layers[i], bits[b]);
        }
        lucid_compress_report_free(&r);
        lucid_compress_report_free(&r2);
        lucid_compress_report_free(&r3);
        lucid_graph_destroy(ref);
        lucid_graph_destroy(g);
        lucid_graph_destroy(again);
        lucid_graph_destroy(twice);
    }

    /* 2 bits on a converging layer: each shared value is the mean of the weights it stands
     * for (Lloyd's fixed point), and the result is pinned bit for bit (any machine, any
     * build type, must give these bits: the arithmetic is sequential double) */
    lucid_graph *ref = chain(33, 0), *g = chain(33, 0);
    if (!ref || !g) return;
    lucid_compress_report r;
    compress(g, 0, 0, 2, &r, NULL);
    const float *o = weight(ref, "gemm0"), *c = weight(g, "gemm0");
    float vals[4];
    int64_t d = distinct(c, 216 * 11, vals);
    double worst = 0;
    for (int64_t j = 0; j < d && d <= 4; j++) {
        double sum = 0;
        int64_t cnt = 0;
        for (int64_t i = 0; i < 216 * 11; i++)
            if (c[i] == vals[j]) {
                sum += o[i];
                cnt++;
            }
        double e = fabs(sum / (double)cnt - vals[j]);
        if (e > worst) worst = e;
    }
    CHECK(d == 4 && worst < 1e-6, "gemm0, 2 bits: %lld values, centroid off its mean by %g",
          (long long)d, worst);
    uint64_t h = 0;
    for (size_t i = 0; i < LUCID_ARRAY_LEN(chain_layers); i++) {
        const lucid_ir_tensor *t = weight_t(g, chain_layers[i]);
        h ^= fnv(t->data, t->nbytes) + i;
    }
    CHECK(h == 0x2128316a1c11edafull, "clustered chain (2 bits): fingerprint %016llx, pinned "
          "2128316a1c11edaf", (unsigned long long)h);
    lucid_compress_report_free(&r);
    lucid_graph_destroy(ref);
    lucid_graph_destroy(g);
}

/* ---- pruning and clustering together ---- */

static void test_compose(void)
{
    lucid_graph *pruned = chain(44, 0), *both = chain(44, 0), *ref = chain(44, 0);
    lucid_graph *b24 = chain(44, 0), *b24c = chain(44, 0);
    if (!pruned || !both || !ref || !b24 || !b24c) return;
    lucid_compress_report r1, r2, r3, r4;
    lucid_error err;
    CHECK(!compress(pruned, 0.75, 0, 0, &r1, &err), "prune: %s", err.message);
    CHECK(!compress(both, 0.75, 0, 4, &r2, &err), "prune + cluster: %s", err.message);
    CHECK(!compress(b24, 0, 1, 0, &r3, &err), "2:4: %s", err.message);
    CHECK(!compress(b24c, 0, 1, 3, &r4, &err), "2:4 + cluster: %s", err.message);
    for (size_t i = 0; i < LUCID_ARRAY_LEN(chain_layers); i++) {
        const char *name = chain_layers[i];
        int64_t n = lucid_tensor_numel(weight_t(ref, name));
        const float *p = weight(pruned, name), *pc = weight(both, name);
        const float *q = weight(b24, name), *qc = weight(b24c, name);
        int64_t moved = 0, moved24 = 0;
        for (int64_t j = 0; j < n; j++) {
            moved += (p[j] == 0.0f) != (pc[j] == 0.0f);
            moved24 += (q[j] == 0.0f) != (qc[j] == 0.0f);
        }
        CHECK(moved == 0, "%s: clustering after pruning moved %lld zeros", name, (long long)moved);
        CHECK(moved24 == 0, "%s: clustering after 2:4 moved %lld zeros", name,
              (long long)moved24);
        char what[64];
        snprintf(what, sizeof what, "%s, 75%% + 4 bits", name);
        check_clustered(what, p, pc, n, 16, true);
        snprintf(what, sizeof what, "%s, 2:4 + 3 bits", name);
        check_clustered(what, q, qc, n, 8, true);
        const lucid_compress_layer *l = layer(both, &r2, name);
        CHECK(l && l->zeros_after == zeros(pc, n) && l->distinct_after == distinct(pc, n, NULL),
              "%s: report of prune + cluster is off", name);
    }
    /* composing again changes nothing */
    lucid_compress_report r5;
    lucid_graph *twice = lucid_graph_clone(both, lucid_op_params_size);
    CHECK(!compress(twice, 0.75, 0, 4, &r5, &err), "again: %s", err.message);
    for (size_t i = 0; i < LUCID_ARRAY_LEN(chain_layers); i++) {
        const lucid_ir_tensor *t = weight_t(both, chain_layers[i]);
        CHECK(memcmp(t->data, weight(twice, chain_layers[i]), t->nbytes) == 0,
              "%s: prune + cluster twice differs from once", chain_layers[i]);
    }
    lucid_compress_report_free(&r1);
    lucid_compress_report_free(&r2);
    lucid_compress_report_free(&r3);
    lucid_compress_report_free(&r4);
    lucid_compress_report_free(&r5);
    lucid_graph *gs[] = {pruned, both, ref, b24, b24c, twice};
    for (size_t i = 0; i < LUCID_ARRAY_LEN(gs); i++) lucid_graph_destroy(gs[i]);
}

/* ---- the report's sizes ---- */

static void test_bytes(void)
{
    /* gemm0: 216 x 11 = 2376 weights, 9504 bytes dense, bitmap 297 bytes */
    struct {
        double s;
        int two_four, bits;
    } cases[] = {{0.5, 0, 0}, {0.9, 0, 0}, {0, 0, 4}, {0, 0, 3}, {0.5, 0, 4}, {0, 1, 2}};
    for (size_t c = 0; c < LUCID_ARRAY_LEN(cases); c++) {
        lucid_graph *g = chain(55, 0);
        if (!g) return;
        lucid_compress_report r;
        CHECK(!compress(g, cases[c].s, cases[c].two_four, cases[c].bits, &r, NULL),
              "case %zu failed", c);
        const lucid_compress_layer *l = layer(g, &r, "gemm0");
        int64_t nnz = 2376 - zeros(weight(g, "gemm0"), 2376);
        size_t want;
        int b = cases[c].bits;
        bool pruned = cases[c].s > 0 || cases[c].two_four;
        if (pruned && b)
            want = 297 + 4 * ((size_t)1 << b) + (size_t)((b * nnz + 7) / 8);
        else if (pruned)
            want = 297 + 4 * (size_t)nnz;
        else
            want = 4 * ((size_t)1 << b) + (size_t)((b * 2376 + 7) / 8);
        CHECK(l && l->bytes_before == 9504 && l->bytes_after == want,
              "case %zu: bytes %zu -> %zu, want 9504 -> %zu", c, l ? l->bytes_before : 0,
              l ? l->bytes_after : 0, want);
        lucid_compress_report_free(&r);
        lucid_graph_destroy(g);
    }
    /* hand-computed: 50% of 2376 -> 1188 nonzeros: 297 + 4752 = 5049; 4 bits: 64 + 1188 =
     * 1252; both: 297 + 64 + 594 = 955 */
    const size_t hand[3] = {5049, 1252, 955};
    const double hs[3] = {0.5, 0, 0.5};
    const int hb[3] = {0, 4, 4};
    for (int c = 0; c < 3; c++) {
        lucid_graph *g = chain(55, 0);
        if (!g) return;
        lucid_compress_report r;
        compress(g, hs[c], 0, hb[c], &r, NULL);
        const lucid_compress_layer *l = layer(g, &r, "gemm0");
        CHECK(l && l->bytes_after == hand[c], "gemm0 case %d: %zu bytes, want %zu", c,
              l ? l->bytes_after : 0, hand[c]);
        lucid_compress_report_free(&r);
        lucid_graph_destroy(g);
    }
}

/* ---- shared, non-float and fused weights ---- */

static void test_shared_and_skipped(void)
{
    /* W feeds two MatMuls as their weight and an Add as data; D is a float64 weight */
    lucid_graph *g = lucid_graph_create();
    int64_t xd[2] = {8, 8}, wd[2] = {8, 8};
    rng = 77;
    fill_ties = 0;
    input(g, "x", 2, xd);
    constant(g, "W", 2, wd);
    node(g, "mm1", "MatMul", "x,W", "y1");
    node(g, "mm2", "MatMul", "y1,W", "y2");
    node(g, "add", "Add", "y2,W", "y3");
    double *dd = malloc(sizeof *dd * 64);
    for (int i = 0; i < 64; i++) dd[i] = i % 3 ? 0.5 + i : 0.0;
    lucid_graph_set_initializer(g, tensor(g, "D"), LUCID_DTYPE_DOUBLE, 2, wd, dd,
                                sizeof *dd * 64, NULL);
    input(g, "xd", 2, xd);
    g->tensors[lucid_graph_find(g, "xd")].dtype = LUCID_DTYPE_DOUBLE;
    node(g, "mmd", "MatMul", "xd,D", "yd");
    output(g, "y3");
    output(g, "yd");
    if (!(g = finish(g))) return;
    lucid_graph *ref = lucid_graph_clone(g, lucid_op_params_size);
    lucid_compress_report r;
    lucid_error err;
    CHECK(!compress(g, 0.5, 0, 0, &r, &err), "shared: %s", err.message);
    CHECK(r.n == 2, "shared: %zu layers reported, want 2 (W once, D)", r.n);
    CHECK(weight_t(g, "mm1") == weight_t(g, "mm2") && weight_t(g, "mm1") != weight_t(g, "add"),
          "the two MatMuls must read one compressed copy, the Add the original");
    const lucid_node *add = find_node(g, "add");
    CHECK(add && memcmp(g->tensors[add->inputs[1]].data, weight(ref, "mm1"), 64 * 4) == 0,
          "the Add's operand changed");
    CHECK(zeros(weight(g, "mm1"), 64) == 32, "shared weight: %lld zeros, want 32",
          (long long)zeros(weight(g, "mm1"), 64));
    const lucid_compress_layer *l = layer(g, &r, "mmd");
    CHECK(l && l->bytes_after == l->bytes_before && l->bytes_before == 512 &&
              l->zeros_after == l->zeros_before && l->distinct_after == 0 &&
              memcmp(weight(g, "mmd"), dd, 512) == 0,
          "the float64 weight was not left alone, reported as skipped");
    CHECK(l && strstr(l->note, "not a float32 constant"), "the float64 weight's note: '%s'",
          l ? l->note : "");
    CHECK(!lucid_graph_validate(g, &err) && !lucid_graph_infer(g, &err), "graph invalid: %s",
          err.message);
    lucid_compress_report_free(&r);
    lucid_graph_destroy(ref);
    lucid_graph_destroy(g);

    /* FusedConv and FusedGemm (from the optimizer) */
    g = lucid_graph_create();
    int64_t x4[4] = {1, 4, 5, 5}, cw[4] = {6, 4, 3, 3}, gw[2] = {7, 54};
    rng = 88;
    input(g, "x", 4, x4);
    constant(g, "CW", 4, cw);
    constant(g, "GW", 2, gw);
    node(g, "conv", "Conv", "x,CW", "c");
    node(g, "relu", "Relu", "c", "r");
    node(g, "flat", "Flatten", "r", "f");
    attr_int(node(g, "gemm", "Gemm", "f,GW", "h"), "transB", 1);
    node(g, "relu2", "Relu", "h", "out");
    output(g, "out");
    if (!(g = finish(g))) return;
    lucid_model_t *m = NULL;
    lucid_model_wrap(g, &m, NULL);
    lucid_optimize_options oo;
    lucid_optimize_options_default(&oo);
    CHECK(!lucid_model_optimize(m, &oo, NULL, &err), "optimize: %s", err.message);
    g = m->graph;
    int convs = 0, gemms = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        convs += g->nodes[i].op == LUCID_OP_FUSED_CONV;
        gemms += g->nodes[i].op == LUCID_OP_FUSED_GEMM;
    }
    CHECK(convs == 1 && gemms == 1, "the optimizer made %d FusedConv, %d FusedGemm", convs,
          gemms);
    ref = lucid_graph_clone(g, lucid_op_params_size);
    CHECK(!compress(g, 0, 1, 0, &r, &err), "fused 2:4: %s", err.message);
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        if (n->op != LUCID_OP_FUSED_CONV && n->op != LUCID_OP_FUSED_GEMM) continue;
        const float *a = ref->tensors[ref->nodes[i].inputs[1]].data;
        if (n->op == LUCID_OP_FUSED_CONV)
            check_2_4("FusedConv", a, g->tensors[n->inputs[1]].data, 6, 4, 9);
        if (n->op == LUCID_OP_FUSED_GEMM)
            check_2_4("FusedGemm transB 1", a, g->tensors[n->inputs[1]].data, 7, 54, 1);
    }
    CHECK(r.n == 2, "fused: %zu layers reported", r.n);
    lucid_compress_report_free(&r);
    lucid_graph_destroy(ref);
    /* the compressed model still runs */
    lucid_context_t *ctx = NULL;
    float xin[100];
    for (int i = 0; i < 100; i++) xin[i] = rnd();
    bool ran = !lucid_context_create(m, NULL, &ctx, &err) &&
               !lucid_context_set_input(ctx, "x", LUCID_DTYPE_FLOAT, 4, x4, xin) &&
               !lucid_context_run(ctx);
    CHECK(ran, "the compressed model does not run");
    lucid_context_destroy(ctx);
    lucid_model_destroy(m);
}

/* ---- refused options ---- */

static void test_bad_options(void)
{
    struct {
        double s;
        int two_four, bits;
        const char *word;
    } bad[] = {{-0.1, 0, 0, "prune_sparsity"}, {1.0, 0, 0, "prune_sparsity"},
               {NAN, 0, 0, "prune_sparsity"},  {0, 2, 0, "prune_2_4"},
               {0, 0, 1, "cluster_bits"},      {0, 0, 9, "cluster_bits"},
               {0, 0, -2, "cluster_bits"},     {0.5, 0, 16, "cluster_bits"}};
    for (size_t i = 0; i < LUCID_ARRAY_LEN(bad); i++) {
        lucid_graph *g = chain(66, 0), *ref = chain(66, 0);
        if (!g || !ref) return;
        lucid_compress_report r = {0};
        lucid_error err = {0};
        lucid_status st = compress(g, bad[i].s, bad[i].two_four, bad[i].bits, &r, &err);
        CHECK(st == LUCID_STATUS_INVALID_ARGUMENT && strstr(err.message, bad[i].word),
              "options %g/%d/%d: status %d, message '%s'", bad[i].s, bad[i].two_four,
              bad[i].bits, (int)st, err.message);
        bool same = r.n == 0;
        for (size_t k = 0; k < LUCID_ARRAY_LEN(chain_layers); k++) {
            const lucid_ir_tensor *t = weight_t(g, chain_layers[k]);
            same = same && memcmp(t->data, weight(ref, chain_layers[k]), t->nbytes) == 0;
        }
        CHECK(same, "refused options %zu changed the graph or filled the report", i);
        lucid_compress_report_free(&r);
        lucid_graph_destroy(g);
        lucid_graph_destroy(ref);
    }
    lucid_error err;
    CHECK(lucid_compress_weights(NULL, NULL, NULL, &err) == LUCID_STATUS_INVALID_ARGUMENT,
          "NULL graph accepted");
    lucid_compress_report_free(NULL);
}

int main(void)
{
    test_sparsity();
    test_2_4();
    test_cluster();
    test_compose();
    test_bytes();
    test_shared_and_skipped();
    test_bad_options();
    return test_summary();
}
