/* test_ops_elementwise.c - elementwise, activation, softmax and reduction ops on hand-built
 * one-node graphs with seeded random shapes, checked against direct formulas. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "core/util.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ops/op.h"

/* ---- a tiny harness: one node, inputs fed at run time or as initializers ---------------- */

typedef struct tin {
    lucid_dtype dtype;
    int rank;
    int64_t dims[LUCID_MAX_RANK];
    const void *data;
    bool constant; /* an initializer instead of a graph input */
    bool omitted;  /* an empty optional input */
} tin;

typedef struct tattr {
    const char *name;
    lucid_attr_type type;
    int64_t i;
    float f;
    const int64_t *ints;
    size_t count;
} tattr;

/* Runs op on ins; on success *out holds a malloc'd copy of output 0. */
static lucid_status run_op(const char *op, int opset, const tin *ins, int n_in, const tattr *attrs,
                           int n_attrs, lucid_array *out, char *msg)
{
    lucid_error err = {0};
    lucid_graph *g = lucid_graph_create();
    lucid_model_t *model = NULL;
    lucid_context_t *ctx = NULL;
    int idx[8];
    memset(out, 0, sizeof *out);
    msg[0] = 0;
    for (int k = 0; k < n_in; k++) {
        if (ins[k].omitted) {
            idx[k] = -1;
            continue;
        }
        char name[16];
        snprintf(name, sizeof name, "in%d", k);
        idx[k] = lucid_graph_tensor(g, name, NULL);
        size_t nb =
            (size_t)lucid_shape_numel(ins[k].rank, ins[k].dims) * lucid_dtype_size(ins[k].dtype);
        if (ins[k].constant) {
            void *d = malloc(nb ? nb : 1);
            memcpy(d, ins[k].data, nb);
            lucid_graph_set_initializer(g, idx[k], ins[k].dtype, ins[k].rank, ins[k].dims, d, nb,
                                        NULL);
        } else {
            lucid_ir_tensor *t = &g->tensors[idx[k]];
            t->dtype = ins[k].dtype;
            t->rank = ins[k].rank;
            for (int i = 0; i < ins[k].rank; i++)
                t->dims[i] = ins[k].dims[i];
            lucid_graph_add_input(g, idx[k], NULL);
        }
    }
    int y = lucid_graph_tensor(g, "y", NULL);
    int node = lucid_graph_add_node(g, "n0", op, "", opset, idx, n_in, &y, 1, NULL);
    for (int a = 0; a < n_attrs; a++) {
        lucid_attr at = {0};
        at.name = lucid_strdup(attrs[a].name);
        at.type = attrs[a].type;
        at.i = attrs[a].i;
        at.f = attrs[a].f;
        if (attrs[a].type == LUCID_ATTR_INTS) {
            at.ints = malloc(sizeof(int64_t) * (attrs[a].count + 1));
            memcpy(at.ints, attrs[a].ints, sizeof(int64_t) * attrs[a].count);
            at.count = attrs[a].count;
        }
        lucid_node_add_attr(&g->nodes[node], &at, NULL);
    }
    lucid_graph_add_output(g, y, NULL);
    lucid_status st = lucid_graph_finalize(g, &err);
    if (st) {
        snprintf(msg, 1024, "%s", err.message);
        lucid_graph_destroy(g);
        return st;
    }
    st = lucid_model_wrap(g, &model, &err);
    if (!st) st = lucid_context_create(model, NULL, &ctx, &err);
    if (st) {
        snprintf(msg, 1024, "%s", err.message);
        if (model)
            lucid_model_destroy(model);
        else
            lucid_graph_destroy(g);
        return st;
    }
    for (int k = 0; k < n_in; k++)
        if (!ins[k].omitted && !ins[k].constant) {
            char name[16];
            snprintf(name, sizeof name, "in%d", k);
            lucid_context_set_input(ctx, name, ins[k].dtype, ins[k].rank, ins[k].dims, ins[k].data);
        }
    st = lucid_context_run(ctx);
    if (st) {
        snprintf(msg, 1024, "%s", lucid_context_error(ctx));
    } else {
        lucid_array view;
        lucid_context_output(ctx, 0, &view);
        *out = view;
        out->data = malloc(view.nbytes ? view.nbytes : 1);
        memcpy(out->data, view.data, view.nbytes);
    }
    lucid_context_destroy(ctx);
    lucid_model_destroy(model);
    return st;
}

static tin mk(lucid_dtype dtype, int rank, const int64_t *dims, const void *data)
{
    tin t = {.dtype = dtype, .rank = rank, .data = data};
    for (int i = 0; i < rank; i++)
        t.dims[i] = dims[i];
    return t;
}

/* ---- random data and reference broadcasting ------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float rndf(float lo, float hi)
{
    return lo + (hi - lo) * (float)(rnd() % 1000000) / 1e6f;
}

static int64_t numel(int rank, const int64_t *d)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= d[i];
    return n;
}

/* Flat index into an input of shape (r, d) that broadcasts to the output at flat index o. */
static int64_t bidx(int64_t o, int orank, const int64_t *od, int r, const int64_t *d)
{
    int64_t idx = 0, mul = 1;
    for (int i = orank - 1; i >= 0; i--) {
        int64_t c = o % od[i];
        o /= od[i];
        int ii = i - (orank - r);
        if (ii >= 0) {
            if (d[ii] != 1) idx += c * mul;
            mul *= d[ii];
        }
    }
    return idx;
}

/* A random output shape and two input shapes that broadcast to it. */
static void random_bcast_shapes(int *ro, int64_t *od, int *ra, int64_t *ad, int *rb, int64_t *bd)
{
    *ro = (int)(rnd() % 5);
    for (int i = 0; i < *ro; i++)
        od[i] = 1 + rnd() % 5;
    int *rs[2] = {ra, rb};
    int64_t *ds[2] = {ad, bd};
    for (int k = 0; k < 2; k++) {
        *rs[k] = *ro - (int)(rnd() % (*ro + 1));
        for (int i = 0; i < *rs[k]; i++) {
            int64_t d = od[*ro - *rs[k] + i];
            ds[k][i] = rnd() % 3 == 0 ? 1 : d;
        }
    }
    /* the output is what the two really broadcast to (where both are 1 it is 1) */
    int r = *ra > *rb ? *ra : *rb;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - *ra), ib = i - (r - *rb);
        int64_t x = ia >= 0 ? ad[ia] : 1, y = ib >= 0 ? bd[ib] : 1;
        od[i] = x > y ? x : y;
    }
    *ro = r;
}

static bool close_enough(double got, double want, double rtol, double atol)
{
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

/* ---- binary float ops with random broadcasting ------------------------------------------ */

static double ref_binary(const char *op, double x, double y)
{
    if (!strcmp(op, "Add")) return (float)x + (float)y;
    if (!strcmp(op, "Sub")) return (float)x - (float)y;
    if (!strcmp(op, "Mul")) return (float)x * (float)y;
    if (!strcmp(op, "Div")) return (float)x / (float)y;
    if (!strcmp(op, "Pow")) return pow(x, y);
    if (!strcmp(op, "Min")) return x < y ? x : y;
    if (!strcmp(op, "Max")) return x > y ? x : y;
    if (!strcmp(op, "Equal")) return x == y;
    if (!strcmp(op, "Less")) return x < y;
    if (!strcmp(op, "Greater")) return x > y;
    return NAN;
}

static void test_binary_float_random(void)
{
    const char *ops[] = {"Add", "Sub", "Mul",   "Div",  "Pow",
                         "Min", "Max", "Equal", "Less", "Greater"};
    for (int trial = 0; trial < 60; trial++) {
        int ro, ra, rb;
        int64_t od[8], ad[8], bd[8];
        random_bcast_shapes(&ro, od, &ra, ad, &rb, bd);
        if (rnd() % 2) { /* swap so the broadcast input is sometimes first */
            int tr = ra;
            int64_t td[8];
            memcpy(td, ad, sizeof td);
            ra = rb;
            memcpy(ad, bd, sizeof td);
            rb = tr;
            memcpy(bd, td, sizeof td);
        }
        int64_t na = numel(ra, ad), nb = numel(rb, bd), no = numel(ro, od);
        float *a = malloc(sizeof(float) * (size_t)na), *b = malloc(sizeof(float) * (size_t)nb);
        for (int64_t i = 0; i < na; i++)
            a[i] = (float)(int)(rnd() % 9) * 0.5f + 0.5f;
        for (int64_t i = 0; i < nb; i++)
            b[i] = (float)(int)(rnd() % 9) * 0.5f + 0.5f;
        const char *op = ops[trial % 10];
        tin ins[2] = {mk(LUCID_DTYPE_FLOAT, ra, ad, a), mk(LUCID_DTYPE_FLOAT, rb, bd, b)};
        ins[1].constant = trial % 3 == 0;
        lucid_array out;
        char msg[1024];
        lucid_status st = run_op(op, 13, ins, 2, NULL, 0, &out, msg);
        CHECK(st == LUCID_STATUS_OK, "%s trial %d: %s", op, trial, msg);
        if (st) goto next;
        bool cmp = !strcmp(op, "Equal") || !strcmp(op, "Less") || !strcmp(op, "Greater");
        CHECK(out.rank == ro && numel(out.rank, out.dims) == no, "%s trial %d: output shape", op,
              trial);
        CHECK(out.dtype == (cmp ? LUCID_DTYPE_BOOL : LUCID_DTYPE_FLOAT), "%s dtype", op);
        int bad = 0;
        for (int64_t o = 0; o < no; o++) {
            double x = a[bidx(o, ro, od, ra, ad)], y = b[bidx(o, ro, od, rb, bd)];
            double want = ref_binary(op, x, y);
            double got = cmp ? ((uint8_t *)out.data)[o] : ((float *)out.data)[o];
            if (!close_enough(got, want, 1e-6, 1e-6)) bad++;
        }
        CHECK(bad == 0, "%s trial %d: %d of %lld elements wrong", op, trial, bad, (long long)no);
        free(out.data);
    next:
        free(a);
        free(b);
    }
}

/* ResNet-sized residual add and a per-channel bias: the fast paths of the broadcast walk. */
static void test_binary_large(void)
{
    int64_t d[4] = {1, 64, 56, 56}, c[4] = {1, 64, 1, 1};
    int64_t n = numel(4, d);
    float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
    float bias[64];
    for (int64_t i = 0; i < n; i++) {
        a[i] = rndf(-1, 1);
        b[i] = rndf(-1, 1);
    }
    for (int i = 0; i < 64; i++)
        bias[i] = rndf(-1, 1);
    tin ins[2] = {mk(LUCID_DTYPE_FLOAT, 4, d, a), mk(LUCID_DTYPE_FLOAT, 4, d, b)};
    lucid_array out;
    char msg[1024];
    lucid_status st = run_op("Add", 14, ins, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "large add: %s", msg);
    if (!st) {
        int bad = 0;
        for (int64_t i = 0; i < n; i++)
            bad += ((float *)out.data)[i] != a[i] + b[i];
        CHECK(bad == 0, "large add: %d wrong", bad);
        free(out.data);
    }
    ins[1] = mk(LUCID_DTYPE_FLOAT, 4, c, bias);
    ins[1].constant = true;
    st = run_op("Mul", 14, ins, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "per-channel mul: %s", msg);
    if (!st) {
        int bad = 0;
        for (int64_t i = 0; i < n; i++)
            bad += ((float *)out.data)[i] != a[i] * bias[i / (56 * 56)];
        CHECK(bad == 0, "per-channel mul: %d wrong", bad);
        free(out.data);
    }
    free(a);
    free(b);
}

/* ---- integer arithmetic -------------------------------------------------------------- */

static void test_integer_ops(void)
{
    int64_t d[1] = {6}, s[1] = {1};
    int32_t a32[6] = {7, -7, 7, -7, INT32_MIN, 100}, b32[6] = {2, 2, -2, -2, -1, 7};
    lucid_array out;
    char msg[1024];
    tin ins[2] = {mk(LUCID_DTYPE_INT32, 1, d, a32), mk(LUCID_DTYPE_INT32, 1, d, b32)};
    lucid_status st = run_op("Div", 14, ins, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "int32 div: %s", msg);
    if (!st) {
        const int32_t *y = out.data;
        /* truncation toward zero; INT32_MIN / -1 wraps instead of trapping */
        CHECK(y[0] == 3 && y[1] == -3 && y[2] == -3 && y[3] == 3 && y[4] == INT32_MIN && y[5] == 14,
              "int32 div truncates: %d %d %d %d %d %d", y[0], y[1], y[2], y[3], y[4], y[5]);
        free(out.data);
    }
    int32_t zero[6] = {1, 2, 0, 4, 5, 6};
    ins[1].data = zero;
    st = run_op("Div", 14, ins, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "integer division by zero is an error (%d)", st);
    CHECK(strstr(msg, "division by zero") != NULL, "message names the problem: %s", msg);
    /* the same with constant inputs fails at build time, not with a crash */
    ins[0].constant = ins[1].constant = true;
    st = run_op("Div", 14, ins, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "constant division by zero is an error (%d)", st);

    int64_t a64[6] = {INT64_MAX, -5, 3, 0, 9, -9}, b64[1] = {2};
    tin i64[2] = {mk(LUCID_DTYPE_INT64, 1, d, a64), mk(LUCID_DTYPE_INT64, 1, s, b64)};
    const char *ops[] = {"Add", "Sub", "Mul", "Max", "Min"};
    for (int k = 0; k < 5; k++) {
        st = run_op(ops[k], 13, i64, 2, NULL, 0, &out, msg);
        CHECK(st == LUCID_STATUS_OK, "int64 %s: %s", ops[k], msg);
        if (st) continue;
        const int64_t *y = out.data;
        int bad = 0;
        for (int i = 0; i < 6; i++) {
            int64_t x = a64[i], want;
            switch (k) {
            case 0:
                want = (int64_t)((uint64_t)x + 2);
                break;
            case 1:
                want = x - 2;
                break;
            case 2:
                want = (int64_t)((uint64_t)x * 2);
                break;
            case 3:
                want = x > 2 ? x : 2;
                break;
            default:
                want = x < 2 ? x : 2;
                break;
            }
            bad += y[i] != want;
        }
        CHECK(bad == 0, "int64 %s: %d wrong", ops[k], bad);
        free(out.data);
    }
    uint8_t u1[4] = {250, 3, 10, 0}, u2[4] = {10, 5, 3, 1};
    int64_t d4[1] = {4};
    tin u8[2] = {mk(LUCID_DTYPE_UINT8, 1, d4, u1), mk(LUCID_DTYPE_UINT8, 1, d4, u2)};
    st = run_op("Add", 14, u8, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "uint8 add: %s", msg);
    if (!st) {
        const uint8_t *y = out.data;
        CHECK(y[0] == 4 && y[1] == 8 && y[2] == 13 && y[3] == 1, "uint8 add wraps");
        free(out.data);
    }
    st = run_op("Div", 14, u8, 2, NULL, 0, &out, msg);
    if (!st) {
        const uint8_t *y = out.data;
        CHECK(y[0] == 25 && y[1] == 0 && y[2] == 3 && y[3] == 0, "uint8 div");
        free(out.data);
    }
    /* integer Pow is exact, and Pow(float, int64) takes mixed dtypes from opset 12 */
    int64_t pb[3] = {3, -2, 10}, pe[3] = {39, 3, 0};
    tin pw[2] = {mk(LUCID_DTYPE_INT64, 1, (int64_t[]){3}, pb),
                 mk(LUCID_DTYPE_INT64, 1, (int64_t[]){3}, pe)};
    st = run_op("Pow", 15, pw, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "int64 pow: %s", msg);
    if (!st) {
        const int64_t *y = out.data;
        CHECK(y[0] == 4052555153018976267LL && y[1] == -8 && y[2] == 1, "int64 pow exact: %lld",
              (long long)y[0]);
        free(out.data);
    }
    float fb[3] = {2, 0.5f, -3};
    pw[0] = mk(LUCID_DTYPE_FLOAT, 1, (int64_t[]){3}, fb);
    st = run_op("Pow", 15, pw, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "float^int64 pow: %s", msg);
    if (!st) {
        const float *y = out.data;
        CHECK(y[0] == ldexpf(1, 39) && y[1] == 0.125f && y[2] == 1, "float^int64 pow");
        free(out.data);
    }
    st = run_op("Pow", 11, pw, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "mixed Pow dtypes before opset 12 refused (%d)", st);
    /* Neg and Abs of integers wrap at the most negative value */
    int32_t na[3] = {5, -5, INT32_MIN};
    tin ni = mk(LUCID_DTYPE_INT32, 1, (int64_t[]){3}, na);
    st = run_op("Neg", 13, &ni, 1, NULL, 0, &out, msg);
    if (!st) {
        const int32_t *y = out.data;
        CHECK(y[0] == -5 && y[1] == 5 && y[2] == INT32_MIN, "int32 neg");
        free(out.data);
    }
    st = run_op("Abs", 13, &ni, 1, NULL, 0, &out, msg);
    if (!st) {
        const int32_t *y = out.data;
        CHECK(y[0] == 5 && y[1] == 5 && y[2] == INT32_MIN, "int32 abs");
        free(out.data);
    }
}

/* ---- variadic, logic, Where ---------------------------------------------------------- */

static void test_variadic(void)
{
    int64_t d0[2] = {3, 4}, d1[1] = {4}, d2[2] = {3, 1};
    float a[12], b[4], c[3];
    for (int i = 0; i < 12; i++)
        a[i] = rndf(-2, 2);
    for (int i = 0; i < 4; i++)
        b[i] = rndf(-2, 2);
    for (int i = 0; i < 3; i++)
        c[i] = rndf(-2, 2);
    tin ins[3] = {mk(LUCID_DTYPE_FLOAT, 1, d1, b), mk(LUCID_DTYPE_FLOAT, 2, d2, c),
                  mk(LUCID_DTYPE_FLOAT, 2, d0, a)};
    const char *ops[] = {"Sum", "Mean", "Min", "Max"};
    for (int k = 0; k < 4; k++) {
        lucid_array out;
        char msg[1024];
        lucid_status st = run_op(ops[k], 13, ins, 3, NULL, 0, &out, msg);
        CHECK(st == LUCID_STATUS_OK, "%s: %s", ops[k], msg);
        if (st) continue;
        CHECK(out.rank == 2 && out.dims[0] == 3 && out.dims[1] == 4, "%s shape 3x4", ops[k]);
        int bad = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) {
                double x = b[j], y = c[i], z = a[i * 4 + j], want;
                switch (k) {
                case 0:
                    want = x + y + z;
                    break;
                case 1:
                    want = (x + y + z) / 3;
                    break;
                case 2:
                    want = fmin(x, fmin(y, z));
                    break;
                default:
                    want = fmax(x, fmax(y, z));
                    break;
                }
                bad += !close_enough(((float *)out.data)[i * 4 + j], want, 1e-5, 1e-6);
            }
        CHECK(bad == 0, "%s: %d wrong", ops[k], bad);
        free(out.data);
    }
    /* one input: a copy */
    lucid_array out;
    char msg[1024];
    if (!run_op("Max", 8, &ins[2], 1, NULL, 0, &out, msg)) {
        CHECK(memcmp(out.data, a, sizeof a) == 0, "Max of one input copies it");
        free(out.data);
    }
}

static void test_logic_where(void)
{
    uint8_t p[6] = {1, 0, 1, 0, 1, 1}, q[3] = {1, 0, 0};
    int64_t d[2] = {2, 3}, e[1] = {3};
    tin ins[2] = {mk(LUCID_DTYPE_BOOL, 2, d, p), mk(LUCID_DTYPE_BOOL, 1, e, q)};
    lucid_array out;
    char msg[1024];
    if (!run_op("And", 7, ins, 2, NULL, 0, &out, msg)) {
        const uint8_t *y = out.data;
        CHECK(y[0] == 1 && y[1] == 0 && y[2] == 0 && y[3] == 0 && y[4] == 0 && y[5] == 0, "And");
        free(out.data);
    } else
        CHECK(0, "And: %s", msg);
    if (!run_op("Or", 7, ins, 2, NULL, 0, &out, msg)) {
        const uint8_t *y = out.data;
        CHECK(y[0] == 1 && y[1] == 0 && y[2] == 1 && y[3] == 1 && y[4] == 1 && y[5] == 1, "Or");
        free(out.data);
    } else
        CHECK(0, "Or: %s", msg);
    if (!run_op("Not", 7, ins, 1, NULL, 0, &out, msg)) {
        const uint8_t *y = out.data;
        int bad = 0;
        for (int i = 0; i < 6; i++)
            bad += y[i] != !p[i];
        CHECK(bad == 0, "Not");
        free(out.data);
    } else
        CHECK(0, "Not: %s", msg);
    /* Where(cond 2x1, x 1x3 int64, y scalar) */
    uint8_t cond[2] = {1, 0};
    int64_t xv[3] = {10, 20, 30}, yv = -1;
    int64_t dc[2] = {2, 1}, dx[2] = {1, 3};
    tin w[3] = {mk(LUCID_DTYPE_BOOL, 2, dc, cond), mk(LUCID_DTYPE_INT64, 2, dx, xv),
                mk(LUCID_DTYPE_INT64, 0, NULL, &yv)};
    lucid_status st = run_op("Where", 16, w, 3, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "Where: %s", msg);
    if (!st) {
        const int64_t *y = out.data;
        CHECK(out.rank == 2 && out.dims[0] == 2 && out.dims[1] == 3, "Where shape");
        CHECK(y[0] == 10 && y[1] == 20 && y[2] == 30 && y[3] == -1 && y[4] == -1 && y[5] == -1,
              "Where values");
        free(out.data);
    }
    /* random float Where against the reference broadcast */
    for (int trial = 0; trial < 20; trial++) {
        int ro, ra, rb;
        int64_t od[8], ad[8], bd[8];
        random_bcast_shapes(&ro, od, &ra, ad, &rb, bd);
        int64_t na = numel(ra, ad), nb = numel(rb, bd), no = numel(ro, od);
        uint8_t *c = malloc((size_t)nb);
        float *x = malloc(sizeof(float) * (size_t)na), yy = rndf(-1, 1);
        for (int64_t i = 0; i < nb; i++)
            c[i] = rnd() % 2;
        for (int64_t i = 0; i < na; i++)
            x[i] = rndf(-1, 1);
        tin wi[3] = {mk(LUCID_DTYPE_BOOL, rb, bd, c), mk(LUCID_DTYPE_FLOAT, ra, ad, x),
                     mk(LUCID_DTYPE_FLOAT, 0, NULL, &yy)};
        st = run_op("Where", 9, wi, 3, NULL, 0, &out, msg);
        CHECK(st == LUCID_STATUS_OK, "Where trial %d: %s", trial, msg);
        if (!st) {
            int bad = 0;
            for (int64_t o = 0; o < no; o++) {
                float want = c[bidx(o, ro, od, rb, bd)] ? x[bidx(o, ro, od, ra, ad)] : yy;
                bad += ((float *)out.data)[o] != want;
            }
            CHECK(bad == 0, "Where trial %d: %d wrong", trial, bad);
            free(out.data);
        }
        free(c);
        free(x);
    }
}

/* ---- unary math and activations -------------------------------------------------------- */

typedef struct unary_case {
    const char *op;
    int opset;
    float lo, hi;
    double (*ref)(double x, double a, double b);
    float alpha, beta; /* attributes (0: absent) */
} unary_case;

static double r_relu(double x, double a, double b)
{
    return x > 0 ? x : 0;
}
static double r_leaky(double x, double a, double b)
{
    return x >= 0 ? x : a * x;
}
static double r_sigmoid(double x, double a, double b)
{
    return 1 / (1 + exp(-x));
}
static double r_hsig(double x, double a, double b)
{
    return fmax(0, fmin(1, a * x + b));
}
static double r_hswish(double x, double a, double b)
{
    return x * fmax(0, fmin(1, x / 6 + 0.5));
}
static double r_tanh(double x, double a, double b)
{
    return tanh(x);
}
static double r_elu(double x, double a, double b)
{
    return x >= 0 ? x : a * (exp(x) - 1);
}
static double r_selu(double x, double a, double b)
{
    return x > 0 ? b * x : b * (a * exp(x) - a);
}
static double r_softplus(double x, double a, double b)
{
    return log(exp(x) + 1);
}
static double r_erf(double x, double a, double b)
{
    return erf(x);
}
static double r_sqrt(double x, double a, double b)
{
    return sqrt(x);
}
static double r_exp(double x, double a, double b)
{
    return exp(x);
}
static double r_log(double x, double a, double b)
{
    return log(x);
}
static double r_neg(double x, double a, double b)
{
    return -x;
}
static double r_abs(double x, double a, double b)
{
    return fabs(x);
}
static double r_recip(double x, double a, double b)
{
    return 1 / x;
}
static double r_floor(double x, double a, double b)
{
    return floor(x);
}
static double r_ceil(double x, double a, double b)
{
    return ceil(x);
}

static void test_unary(void)
{
    const unary_case cases[] = {
        {"Relu", 14, -3, 3, r_relu, 0, 0},
        {"LeakyRelu", 16, -3, 3, r_leaky, 0.01f, 0},
        {"LeakyRelu", 6 + 10, -3, 3, r_leaky, 0.3f, 0},
        {"Sigmoid", 13, -30, 30, r_sigmoid, 0, 0},
        {"HardSigmoid", 6 + 1, -5, 5, r_hsig, 0.2f, 0.5f},
        {"HardSigmoid", 7, -5, 5, r_hsig, 0.3f, 0.4f},
        {"HardSwish", 14, -6, 6, r_hswish, 0, 0},
        {"Tanh", 13, -5, 5, r_tanh, 0, 0},
        {"Elu", 7, -5, 5, r_elu, 1.0f, 0},
        {"Elu", 7, -5, 5, r_elu, 2.5f, 0},
        {"Selu", 7, -5, 5, r_selu, 1.67326319217681884765625f, 1.05070102214813232421875f},
        {"Selu", 7, -5, 5, r_selu, 2.0f, 3.0f},
        {"Softplus", 7, -20, 20, r_softplus, 0, 0},
        {"Erf", 13, -3, 3, r_erf, 0, 0},
        {"Sqrt", 13, 0, 10, r_sqrt, 0, 0},
        {"Exp", 13, -10, 10, r_exp, 0, 0},
        {"Log", 13, 0.01f, 10, r_log, 0, 0},
        {"Neg", 13, -5, 5, r_neg, 0, 0},
        {"Abs", 13, -5, 5, r_abs, 0, 0},
        {"Reciprocal", 13, 0.5f, 5, r_recip, 0, 0},
        {"Floor", 13, -5, 5, r_floor, 0, 0},
        {"Ceil", 13, -5, 5, r_ceil, 0, 0},
    };
    for (size_t c = 0; c < LUCID_ARRAY_LEN(cases); c++) {
        const unary_case *u = &cases[c];
        int rank = 1 + (int)(rnd() % 4);
        int64_t d[8];
        for (int i = 0; i < rank; i++)
            d[i] = 1 + rnd() % 6;
        int64_t n = numel(rank, d);
        float *x = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++)
            x[i] = rndf(u->lo, u->hi);
        tin in = mk(LUCID_DTYPE_FLOAT, rank, d, x);
        tattr at[2];
        int na = 0;
        bool gamma = !strcmp(u->op, "Selu");
        bool defaults = u->alpha == 0 || (gamma && u->alpha < 1.7f) ||
                        (!strcmp(u->op, "LeakyRelu") && u->alpha == 0.01f) ||
                        (!strcmp(u->op, "Elu") && u->alpha == 1.0f) ||
                        (!strcmp(u->op, "HardSigmoid") && u->alpha == 0.2f);
        if (!defaults) {
            at[na++] = (tattr){.name = "alpha", .type = LUCID_ATTR_FLOAT, .f = u->alpha};
            if (u->beta != 0)
                at[na++] = (tattr){
                    .name = gamma ? "gamma" : "beta", .type = LUCID_ATTR_FLOAT, .f = u->beta};
        }
        lucid_array out;
        char msg[1024];
        lucid_status st = run_op(u->op, u->opset, &in, 1, at, na, &out, msg);
        CHECK(st == LUCID_STATUS_OK, "%s: %s", u->op, msg);
        if (!st) {
            int bad = 0;
            for (int64_t i = 0; i < n; i++) {
                double want = u->ref(x[i], u->alpha, u->beta);
                if (!close_enough(((float *)out.data)[i], want, 2e-6, 1e-6)) {
                    if (bad == 0)
                        printf("  %s(%.9g) = %.9g, want %.9g\n", u->op, x[i],
                               ((float *)out.data)[i], want);
                    bad++;
                }
            }
            CHECK(bad == 0, "%s (alpha %g): %d of %lld wrong", u->op, u->alpha, bad, (long long)n);
            free(out.data);
        }
        free(x);
    }
    /* large-magnitude inputs stay finite and saturate */
    float big[4] = {-1000, 1000, -100, 100};
    int64_t d4[1] = {4};
    tin in = mk(LUCID_DTYPE_FLOAT, 1, d4, big);
    lucid_array out;
    char msg[1024];
    if (!run_op("Sigmoid", 13, &in, 1, NULL, 0, &out, msg)) {
        const float *y = out.data;
        CHECK(y[0] == 0 && y[1] == 1 && y[2] >= 0 && y[3] == 1, "Sigmoid saturates");
        free(out.data);
    }
    if (!run_op("Softplus", 7, &in, 1, NULL, 0, &out, msg)) {
        const float *y = out.data;
        CHECK(y[0] == 0 && y[1] == 1000 && y[3] == 100, "Softplus is stable: %g %g", y[0], y[1]);
        free(out.data);
    }
    /* float64 goes through the double kernels */
    double dx[3] = {-1.5, 0.25, 2};
    tin din = mk(LUCID_DTYPE_DOUBLE, 1, (int64_t[]){3}, dx);
    if (!run_op("Tanh", 13, &din, 1, NULL, 0, &out, msg)) {
        const double *y = out.data;
        CHECK(y[0] == tanh(-1.5) && y[1] == tanh(0.25) && y[2] == tanh(2.0), "float64 Tanh");
        free(out.data);
    } else
        CHECK(0, "float64 Tanh: %s", msg);
}

static void test_prelu_clip(void)
{
    int64_t d[3] = {2, 3, 4}, sd[2] = {3, 1};
    float x[24], slope[3] = {0.1f, 0.2f, 0.3f};
    for (int i = 0; i < 24; i++)
        x[i] = rndf(-2, 2);
    tin ins[3] = {mk(LUCID_DTYPE_FLOAT, 3, d, x), mk(LUCID_DTYPE_FLOAT, 2, sd, slope)};
    ins[1].constant = true;
    lucid_array out;
    char msg[1024];
    lucid_status st = run_op("PRelu", 9, ins, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "PRelu: %s", msg);
    if (!st) {
        int bad = 0;
        for (int i = 0; i < 24; i++) {
            float s = slope[(i / 4) % 3];
            bad += ((float *)out.data)[i] != (x[i] < 0 ? s * x[i] : x[i]);
        }
        CHECK(bad == 0, "PRelu per channel: %d wrong", bad);
        free(out.data);
    }
    /* a slope that would need X to broadcast is refused */
    int64_t wd[3] = {2, 3, 5};
    ins[1] = mk(LUCID_DTYPE_FLOAT, 3, wd, x);
    st = run_op("PRelu", 9, ins, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "PRelu slope not broadcastable to X (%d)", st);

    /* Clip opset 6: attributes */
    tattr at[2] = {{.name = "min", .type = LUCID_ATTR_FLOAT, .f = -0.5f},
                   {.name = "max", .type = LUCID_ATTR_FLOAT, .f = 0.75f}};
    st = run_op("Clip", 7, ins, 1, at, 2, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "Clip attrs: %s", msg);
    if (!st) {
        int bad = 0;
        for (int i = 0; i < 24; i++)
            bad += ((float *)out.data)[i] != fminf(fmaxf(x[i], -0.5f), 0.75f);
        CHECK(bad == 0, "Clip attrs: %d wrong", bad);
        free(out.data);
    }
    /* opset 11: min omitted, max an input */
    float mx = 0.25f;
    ins[1] = (tin){.omitted = true};
    ins[2] = mk(LUCID_DTYPE_FLOAT, 0, NULL, &mx);
    st = run_op("Clip", 13, ins, 3, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "Clip inputs: %s", msg);
    if (!st) {
        int bad = 0;
        for (int i = 0; i < 24; i++)
            bad += ((float *)out.data)[i] != fminf(x[i], 0.25f);
        CHECK(bad == 0, "Clip with max only: %d wrong", bad);
        free(out.data);
    }
    /* no bounds at all: identity */
    st = run_op("Clip", 12, ins, 1, NULL, 0, &out, msg);
    if (!st) {
        CHECK(memcmp(out.data, x, sizeof x) == 0, "Clip without bounds is identity");
        free(out.data);
    }
    /* attributes at opset 11+ are refused */
    st = run_op("Clip", 11, ins, 1, at, 2, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "Clip attrs at opset 11 refused (%d)", st);
    /* int8 clip */
    int8_t xi[5] = {-128, -5, 0, 5, 127}, lo = -4, hi = 6;
    tin ii[3] = {mk(LUCID_DTYPE_INT8, 1, (int64_t[]){5}, xi), mk(LUCID_DTYPE_INT8, 0, NULL, &lo),
                 mk(LUCID_DTYPE_INT8, 0, NULL, &hi)};
    st = run_op("Clip", 13, ii, 3, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "int8 Clip: %s", msg);
    if (!st) {
        const int8_t *y = out.data;
        CHECK(y[0] == -4 && y[1] == -4 && y[2] == 0 && y[3] == 5 && y[4] == 6, "int8 Clip");
        free(out.data);
    }
}

/* ---- softmax ------------------------------------------------------------------------- */

static void test_softmax(void)
{
    int64_t d[3] = {2, 3, 4};
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = rndf(-3, 3);
    x[5] = 80; /* large values must not overflow */
    for (int logv = 0; logv < 2; logv++) {
        const char *op = logv ? "LogSoftmax" : "Softmax";
        for (int opset = 11; opset <= 13; opset += 2) {
            tin in = mk(LUCID_DTYPE_FLOAT, 3, d, x);
            tattr at = {.name = "axis", .type = LUCID_ATTR_INT, .i = 1};
            lucid_array out;
            char msg[1024];
            lucid_status st = run_op(op, opset, &in, 1, &at, 1, &out, msg);
            CHECK(st == LUCID_STATUS_OK, "%s opset %d: %s", op, opset, msg);
            if (st) continue;
            int bad = 0;
            for (int b = 0; b < 2; b++) {
                if (opset < 13) {
                    /* coerced to 2x12: one distribution over the 12 trailing values */
                    double m = -INFINITY, s = 0;
                    for (int k = 0; k < 12; k++)
                        m = fmax(m, x[b * 12 + k]);
                    for (int k = 0; k < 12; k++)
                        s += exp(x[b * 12 + k] - m);
                    for (int k = 0; k < 12; k++) {
                        double v = x[b * 12 + k] - m;
                        double want = logv ? v - log(s) : exp(v) / s;
                        bad += !close_enough(((float *)out.data)[b * 12 + k], want, 1e-5, 1e-6);
                    }
                } else {
                    for (int j = 0; j < 4; j++) {
                        double m = -INFINITY, s = 0;
                        for (int k = 0; k < 3; k++)
                            m = fmax(m, x[b * 12 + k * 4 + j]);
                        for (int k = 0; k < 3; k++)
                            s += exp(x[b * 12 + k * 4 + j] - m);
                        for (int k = 0; k < 3; k++) {
                            double v = x[b * 12 + k * 4 + j] - m;
                            double want = logv ? v - log(s) : exp(v) / s;
                            bad += !close_enough(((float *)out.data)[b * 12 + k * 4 + j], want,
                                                 1e-5, 1e-6);
                        }
                    }
                }
            }
            CHECK(bad == 0, "%s opset %d axis 1: %d wrong", op, opset, bad);
            free(out.data);
        }
    }
    /* default axis: 1 before opset 13 (all trailing), -1 from 13 */
    tin in = mk(LUCID_DTYPE_FLOAT, 3, d, x);
    lucid_array o11, o13;
    char msg[1024];
    if (!run_op("Softmax", 11, &in, 1, NULL, 0, &o11, msg) &&
        !run_op("Softmax", 13, &in, 1, NULL, 0, &o13, msg)) {
        double s11 = 0, s13 = 0;
        for (int k = 0; k < 12; k++)
            s11 += ((float *)o11.data)[k];
        for (int k = 0; k < 4; k++)
            s13 += ((float *)o13.data)[k];
        CHECK(fabs(s11 - 1) < 1e-5 && fabs(s13 - 1) < 1e-5, "default axes: sums %g %g", s11, s13);
        free(o11.data);
        free(o13.data);
    } else
        CHECK(0, "default axis softmax: %s", msg);
    tattr bad_axis = {.name = "axis", .type = LUCID_ATTR_INT, .i = 3};
    lucid_array out;
    lucid_status st = run_op("Softmax", 13, &in, 1, &bad_axis, 1, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "Softmax axis 3 of rank 3 refused (%d)", st);
    CHECK(strstr(msg, "Softmax") && strstr(msg, "axis"), "message names op and axis: %s", msg);
}

/* ---- reductions ---------------------------------------------------------------------- */

static void test_reduce_random(void)
{
    const char *ops[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"};
    for (int trial = 0; trial < 48; trial++) {
        const char *op = ops[trial % 4];
        int rank = 1 + (int)(rnd() % 4);
        int64_t d[8];
        for (int i = 0; i < rank; i++)
            d[i] = 1 + rnd() % 5;
        int64_t n = numel(rank, d);
        float *x = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++)
            x[i] = rndf(-4, 4);
        bool mask[8] = {0};
        int64_t axes[8];
        int n_axes = 0;
        for (int i = 0; i < rank; i++)
            if (rnd() % 2) {
                mask[i] = true;
                axes[n_axes++] = rnd() % 2 ? i : i - rank; /* negative axes too */
            }
        if (n_axes == 0)
            for (int i = 0; i < rank; i++)
                mask[i] = true; /* empty axes: all */
        int keep = (int)(rnd() % 2);
        /* axes as attribute (old opsets) or as constant input (new) */
        bool as_input = trial % 3 != 0;
        int opset = as_input ? (trial % 4 == 0 ? 13 : 18) : (trial % 4 == 0 ? 11 : 13);
        tin ins[2] = {mk(LUCID_DTYPE_FLOAT, rank, d, x),
                      mk(LUCID_DTYPE_INT64, 1, (int64_t[]){n_axes}, axes)};
        ins[1].constant = true;
        tattr at[2] = {
            {.name = "keepdims", .type = LUCID_ATTR_INT, .i = keep},
            {.name = "axes", .type = LUCID_ATTR_INTS, .ints = axes, .count = (size_t)n_axes}};
        int n_in = as_input && n_axes ? 2 : 1;
        int n_at = !as_input && n_axes ? 2 : 1;
        lucid_array out;
        char msg[1024];
        lucid_status st = run_op(op, opset, ins, n_in, at, n_at, &out, msg);
        CHECK(st == LUCID_STATUS_OK, "%s trial %d: %s", op, trial, msg);
        if (st) {
            free(x);
            continue;
        }
        /* expected shape and values by brute force over the input */
        int orank = 0;
        int64_t od[8];
        for (int i = 0; i < rank; i++)
            if (!mask[i])
                od[orank++] = d[i];
            else if (keep)
                od[orank++] = 1;
        bool shape_ok = out.rank == orank;
        for (int i = 0; shape_ok && i < orank; i++)
            shape_ok = out.dims[i] == od[i];
        CHECK(shape_ok, "%s trial %d: output shape", op, trial);
        int64_t no = numel(out.rank, out.dims);
        double *acc = calloc((size_t)no, sizeof(double));
        int64_t *cnt = calloc((size_t)no, sizeof(int64_t));
        for (int64_t i = 0; i < n; i++) {
            int64_t rem = i, o = 0, mul = 1;
            for (int k = rank - 1; k >= 0; k--) {
                int64_t c = rem % d[k];
                rem /= d[k];
                if (!mask[k]) {
                    o += c * mul;
                    mul *= d[k];
                }
            }
            double v = x[i];
            if (cnt[o] == 0)
                acc[o] = v;
            else if (!strcmp(op, "ReduceMax"))
                acc[o] = fmax(acc[o], v);
            else if (!strcmp(op, "ReduceMin"))
                acc[o] = fmin(acc[o], v);
            else
                acc[o] += v;
            cnt[o]++;
        }
        int bad = 0;
        for (int64_t o = 0; o < no; o++) {
            double want = !strcmp(op, "ReduceMean") ? acc[o] / (double)cnt[o] : acc[o];
            bad += !close_enough(((float *)out.data)[o], want, 1e-5, 1e-5);
        }
        CHECK(bad == 0, "%s trial %d (opset %d): %d wrong", op, trial, opset, bad);
        free(acc);
        free(cnt);
        free(out.data);
        free(x);
    }
}

static void test_reduce_cases(void)
{
    int64_t d[2] = {2, 3};
    float x[6] = {1, 2, 3, 4, 5, 6};
    lucid_array out;
    char msg[1024];
    /* noop_with_empty_axes: empty axes leave the input as it is */
    tin ins[2] = {mk(LUCID_DTYPE_FLOAT, 2, d, x), mk(LUCID_DTYPE_INT64, 1, (int64_t[]){0}, NULL)};
    ins[1].constant = true;
    int64_t none = 0;
    ins[1].data = &none;
    tattr noop = {.name = "noop_with_empty_axes", .type = LUCID_ATTR_INT, .i = 1};
    lucid_status st = run_op("ReduceSum", 13, ins, 2, &noop, 1, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "noop reduce: %s", msg);
    if (!st) {
        CHECK(out.rank == 2 && memcmp(out.data, x, sizeof x) == 0, "noop_with_empty_axes");
        free(out.data);
    }
    /* without noop, empty axes reduce everything */
    st = run_op("ReduceSum", 13, ins, 2, NULL, 0, &out, msg);
    if (!st) {
        CHECK(out.rank == 2 && out.dims[0] == 1 && ((float *)out.data)[0] == 21,
              "empty axes reduce all");
        free(out.data);
    }
    /* integer reductions are exact */
    int64_t xi[6] = {INT64_MAX - 5, 1, 2, -7, 3, 9};
    int64_t ax1 = 1;
    tin ii[2] = {mk(LUCID_DTYPE_INT64, 2, d, xi), mk(LUCID_DTYPE_INT64, 1, (int64_t[]){1}, &ax1)};
    ii[1].constant = true;
    st = run_op("ReduceSum", 13, ii, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "int64 ReduceSum: %s", msg);
    if (!st) {
        const int64_t *y = out.data;
        CHECK(y[0] == INT64_MAX - 2 && y[1] == 5, "int64 ReduceSum exact");
        free(out.data);
    }
    tattr axes_attr = {.name = "axes", .type = LUCID_ATTR_INTS, .ints = &ax1, .count = 1};
    st = run_op("ReduceMax", 13, ii, 1, &axes_attr, 1, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "int64 ReduceMax: %s", msg);
    if (!st) {
        const int64_t *y = out.data;
        CHECK(y[0] == INT64_MAX - 5 && y[1] == 9, "int64 ReduceMax");
        free(out.data);
    }
    /* axes attribute where the opset wants an input, duplicate and out-of-range axes */
    st = run_op("ReduceMean", 18, ins, 1, &axes_attr, 1, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "axes attribute at opset 18 refused (%d)", st);
    int64_t dup[2] = {1, -1};
    tattr dup_attr = {.name = "axes", .type = LUCID_ATTR_INTS, .ints = dup, .count = 2};
    st = run_op("ReduceMean", 13, ins, 1, &dup_attr, 1, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "duplicate axes refused (%d)", st);
    int64_t far = 5;
    tattr far_attr = {.name = "axes", .type = LUCID_ATTR_INTS, .ints = &far, .count = 1};
    st = run_op("ReduceMin", 13, ins, 1, &far_attr, 1, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "axis out of range refused (%d)", st);
    /* axes computed at run time cannot be shape-inferred: a clear UNSUPPORTED */
    ins[1].constant = false;
    ins[1].data = &ax1;
    ins[1].dims[0] = 1;
    st = run_op("ReduceSum", 13, ins, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_UNSUPPORTED, "run-time axes unsupported (%d)", st);
}

static void test_argmax(void)
{
    int64_t d[2] = {3, 4};
    float x[12] = {1, 5, 5, 2, 7, 7, 0, 7, -1, -2, -3, -1};
    lucid_array out;
    char msg[1024];
    tin in = mk(LUCID_DTYPE_FLOAT, 2, d, x);
    for (int last = 0; last < 2; last++)
        for (int keep = 0; keep < 2; keep++) {
            tattr at[3] = {{.name = "axis", .type = LUCID_ATTR_INT, .i = -1},
                           {.name = "keepdims", .type = LUCID_ATTR_INT, .i = keep},
                           {.name = "select_last_index", .type = LUCID_ATTR_INT, .i = last}};
            lucid_status st = run_op("ArgMax", 13, &in, 1, at, 3, &out, msg);
            CHECK(st == LUCID_STATUS_OK, "ArgMax: %s", msg);
            if (st) continue;
            const int64_t *y = out.data;
            CHECK(out.dtype == LUCID_DTYPE_INT64 && out.rank == (keep ? 2 : 1) && out.dims[0] == 3,
                  "ArgMax shape");
            if (last)
                CHECK(y[0] == 2 && y[1] == 3 && y[2] == 3, "ArgMax last: %lld %lld %lld",
                      (long long)y[0], (long long)y[1], (long long)y[2]);
            else
                CHECK(y[0] == 1 && y[1] == 0 && y[2] == 0, "ArgMax first: %lld %lld %lld",
                      (long long)y[0], (long long)y[1], (long long)y[2]);
            free(out.data);
        }
    /* default axis 0 on int32 */
    int32_t xi[12] = {1, 9, 3, 4, 5, 6, 7, 8, 9, 0, 11, 2};
    tin ii = mk(LUCID_DTYPE_INT32, 2, d, xi);
    lucid_status st = run_op("ArgMax", 11, &ii, 1, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_OK, "int32 ArgMax: %s", msg);
    if (!st) {
        const int64_t *y = out.data;
        CHECK(out.rank == 2 && out.dims[0] == 1 && y[0] == 2 && y[1] == 0 && y[2] == 2 && y[3] == 1,
              "int32 ArgMax axis 0");
        free(out.data);
    }
    tattr bad = {.name = "axis", .type = LUCID_ATTR_INT, .i = 2};
    st = run_op("ArgMax", 13, &in, 1, &bad, 1, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "ArgMax axis out of range refused (%d)", st);
}

/* ---- errors: hostile shapes and dtypes get a status, never a crash --------------------- */

static void test_errors(void)
{
    int64_t a[2] = {2, 3}, b[2] = {4, 3}, c[1] = {3};
    float fa[6] = {0}, fb[12] = {0};
    int64_t ib[3] = {0};
    lucid_array out;
    char msg[1024];
    tin ins[2] = {mk(LUCID_DTYPE_FLOAT, 2, a, fa), mk(LUCID_DTYPE_FLOAT, 2, b, fb)};
    const char *ops[] = {"Add",   "Sub",  "Mul",     "Div", "Pow",
                         "Equal", "Less", "Greater", "Max", "Sum"};
    for (int k = 0; k < 10; k++) {
        lucid_status st = run_op(ops[k], 13, ins, 2, NULL, 0, &out, msg);
        CHECK(st == LUCID_STATUS_INVALID_MODEL, "%s 2x3 with 4x3 refused (%d)", ops[k], st);
        CHECK(strstr(msg, "broadcast") && strstr(msg, ops[k]), "message: %s", msg);
    }
    ins[1] = mk(LUCID_DTYPE_INT64, 1, c, ib);
    lucid_status st = run_op("Add", 13, ins, 2, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "float + int64 refused (%d)", st);
    tin w[3] = {mk(LUCID_DTYPE_FLOAT, 2, a, fa), mk(LUCID_DTYPE_FLOAT, 2, a, fa),
                mk(LUCID_DTYPE_FLOAT, 2, a, fa)};
    st = run_op("Where", 16, w, 3, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "Where with a float condition refused (%d)", st);
    st = run_op("Sqrt", 13, &ins[1], 1, NULL, 0, &out, msg);
    CHECK(st == LUCID_STATUS_UNSUPPORTED, "Sqrt of int64 unsupported (%d)", st);
    st = run_op("And", 7, ins, 1 + 1, NULL, 0, &out, msg);
    CHECK(st != LUCID_STATUS_OK, "And of floats refused (%d)", st);
    tattr wrong = {.name = "alpha", .type = LUCID_ATTR_INT, .i = 1};
    st = run_op("LeakyRelu", 16, ins, 1, &wrong, 1, &out, msg);
    CHECK(st == LUCID_STATUS_INVALID_MODEL, "LeakyRelu alpha of the wrong type refused (%d)", st);
}

/* float16 goes through float: Add by element, Sigmoid through the converted blocks (more
 * than one block of 256), Softmax and ReduceMean through the generic accessors. */
static void test_float16(void)
{
    int64_t d[1] = {600};
    uint16_t a[600], b[600];
    for (int i = 0; i < 600; i++) {
        a[i] = lucid_float_to_half(rndf(-4, 4));
        b[i] = lucid_float_to_half(rndf(-4, 4));
    }
    tin ins[2] = {mk(LUCID_DTYPE_FLOAT16, 1, d, a), mk(LUCID_DTYPE_FLOAT16, 1, d, b)};
    lucid_array out;
    char msg[1024];
    const char *ops[] = {"Add", "Sigmoid", "Softmax", "ReduceMean"};
    for (int k = 0; k < 4; k++) {
        lucid_status st = run_op(ops[k], 13, ins, k == 0 ? 2 : 1, NULL, 0, &out, msg);
        CHECK(st == LUCID_STATUS_OK, "float16 %s: %s", ops[k], msg);
        if (st) continue;
        CHECK(out.dtype == LUCID_DTYPE_FLOAT16, "float16 %s keeps its dtype", ops[k]);
        const uint16_t *y = out.data;
        double sum = 0, m = -INFINITY;
        for (int i = 0; i < 600; i++) {
            sum += lucid_half_to_float(a[i]);
            m = fmax(m, lucid_half_to_float(a[i]));
        }
        double den = 0;
        for (int i = 0; i < 600; i++)
            den += exp(lucid_half_to_float(a[i]) - m);
        int bad = 0, n = k == 3 ? 1 : 600;
        for (int i = 0; i < n; i++) {
            double x = lucid_half_to_float(a[i]), want;
            switch (k) {
            case 0:
                want = lucid_half_to_float(lucid_float_to_half(x + lucid_half_to_float(b[i])));
                break;
            case 1:
                want = 1 / (1 + exp(-x));
                break;
            case 2:
                want = exp(x - m) / den;
                break;
            default:
                want = sum / 600;
                break;
            }
            bad += !close_enough(lucid_half_to_float(y[i]), want, 1e-3, 1e-4);
        }
        CHECK(bad == 0, "float16 %s: %d wrong", ops[k], bad);
        free(out.data);
    }
}

int main(void)
{
    test_binary_float_random();
    test_binary_large();
    test_integer_ops();
    test_variadic();
    test_logic_where();
    test_unary();
    test_prelu_clip();
    test_float16();
    test_softmax();
    test_reduce_random();
    test_reduce_cases();
    test_argmax();
    test_errors();
    return test_summary();
}
