/* test_ops_shape.c - shape, movement, generator and resize ops on hand-built graphs, checked
 * against direct computations written independently of the kernels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "core/util.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ops/op.h"

/* ---- graph building ------------------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static int64_t rnd(int64_t lo, int64_t hi) /* inclusive */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (int64_t)((rng_state >> 33) % (uint64_t)(hi - lo + 1));
}

static int tensor(lucid_graph *g, const char *name)
{
    return lucid_graph_tensor(g, name, NULL);
}

static void input(lucid_graph *g, const char *name, lucid_dtype dt, int rank, const int64_t *dims)
{
    int t = tensor(g, name);
    g->tensors[t].dtype = dt;
    g->tensors[t].rank = rank;
    for (int i = 0; i < rank; i++)
        g->tensors[t].dims[i] = dims[i];
    lucid_graph_add_input(g, t, NULL);
}

static void init(lucid_graph *g, const char *name, lucid_dtype dt, int rank, const int64_t *dims,
                 const void *vals)
{
    size_t nb = (size_t)lucid_shape_numel(rank, dims) * lucid_dtype_size(dt);
    void *d = malloc(nb ? nb : 1);
    if (nb) memcpy(d, vals, nb);
    lucid_graph_set_initializer(g, tensor(g, name), dt, rank, dims, d, nb, NULL);
}

static void init_ints(lucid_graph *g, const char *name, int count, const int64_t *vals)
{
    int64_t d = count;
    init(g, name, LUCID_DTYPE_INT64, 1, &d, vals);
}

/* Adds a node; ins/outs are comma-separated tensor names, an empty name is omitted. */
static lucid_node *node(lucid_graph *g, const char *op, int opset, const char *ins,
                        const char *outs)
{
    int ii[16], oo[16], ni = 0, no = 0;
    const char *lists[2] = {ins, outs};
    for (int l = 0; l < 2; l++) {
        const char *p = lists[l];
        while (p && *p) {
            const char *c = strchr(p, ',');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)len, p);
            int t = len ? tensor(g, name) : -1;
            if (l == 0)
                ii[ni++] = t;
            else
                oo[no++] = t;
            p = c ? c + 1 : NULL;
        }
    }
    char nm[32];
    snprintf(nm, sizeof nm, "%s_%d", op, g->n_nodes);
    int k = lucid_graph_add_node(g, nm, op, "", opset, ii, ni, oo, no, NULL);
    return &g->nodes[k];
}

static void attr_i(lucid_node *n, const char *name, int64_t v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INT, .i = v};
    lucid_node_add_attr(n, &a, NULL);
}

static void attr_f(lucid_node *n, const char *name, float v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_FLOAT, .f = v};
    lucid_node_add_attr(n, &a, NULL);
}

static void attr_s(lucid_node *n, const char *name, const char *v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_STRING, .s = lucid_strdup(v)};
    lucid_node_add_attr(n, &a, NULL);
}

static void attr_is(lucid_node *n, const char *name, int count, const int64_t *v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INTS, .count = (size_t)count};
    a.ints = malloc(sizeof(int64_t) * (size_t)(count ? count : 1));
    memcpy(a.ints, v, sizeof(int64_t) * (size_t)count);
    lucid_node_add_attr(n, &a, NULL);
}

static void attr_fs(lucid_node *n, const char *name, int count, const float *v)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_FLOATS, .count = (size_t)count};
    a.floats = malloc(sizeof(float) * (size_t)(count ? count : 1));
    memcpy(a.floats, v, sizeof(float) * (size_t)count);
    lucid_node_add_attr(n, &a, NULL);
}

static void output(lucid_graph *g, const char *name)
{
    lucid_graph_add_output(g, tensor(g, name), NULL);
}

/* A finalized, running graph. */
typedef struct session {
    lucid_model_t *m;
    lucid_context_t *c;
    lucid_status st;
    char msg[1024];
} session;

/* Finalizes g (taking it), binds the graph inputs in order to data[], and runs once. */
static void run(session *s, lucid_graph *g, const void *const *data)
{
    lucid_error err = {0};
    memset(s, 0, sizeof *s);
    s->st = lucid_graph_finalize(g, &err);
    if (s->st) {
        snprintf(s->msg, sizeof s->msg, "%s", err.message);
        lucid_graph_destroy(g);
        return;
    }
    lucid_model_wrap(g, &s->m, &err);
    s->st = lucid_context_create(s->m, NULL, &s->c, &err);
    if (s->st) {
        snprintf(s->msg, sizeof s->msg, "%s", err.message);
        return;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const lucid_ir_tensor *t = &g->tensors[g->inputs[i]];
        s->st = lucid_context_set_input(s->c, t->name, t->dtype, t->rank, t->dims, data[i]);
        if (s->st) break;
    }
    if (!s->st) s->st = lucid_context_run(s->c);
    if (s->st) snprintf(s->msg, sizeof s->msg, "%s", lucid_context_error(s->c));
}

static lucid_array out_of(const session *s, size_t i)
{
    lucid_array a;
    memset(&a, 0, sizeof a);
    if (s->c) lucid_context_output(s->c, i, &a);
    return a;
}

static void end(session *s)
{
    lucid_context_destroy(s->c);
    lucid_model_destroy(s->m);
}

static bool same_shape(const lucid_array *a, int rank, const int64_t *dims)
{
    if (a->rank != rank) return false;
    for (int i = 0; i < rank; i++)
        if (a->dims[i] != dims[i]) return false;
    return true;
}

static void unravel(int64_t e, int rank, const int64_t *dims, int64_t *idx)
{
    for (int d = rank - 1; d >= 0; d--) {
        idx[d] = dims[d] ? e % dims[d] : 0;
        e = dims[d] ? e / dims[d] : 0;
    }
}

static int64_t ravel(int rank, const int64_t *dims, const int64_t *idx)
{
    int64_t e = 0;
    for (int d = 0; d < rank; d++)
        e = e * dims[d] + idx[d];
    return e;
}

static float *iota(int64_t n)
{
    float *x = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)i + 0.5f;
    return x;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_transpose_random(void)
{
    for (int it = 0; it < 25; it++) {
        int r = (int)rnd(1, 5);
        int64_t dims[8], od[8];
        int perm[8];
        for (int d = 0; d < r; d++) {
            dims[d] = rnd(1, 4);
            perm[d] = d;
        }
        for (int d = r - 1; d > 0; d--) {
            int j = (int)rnd(0, d), t = perm[d];
            perm[d] = perm[j];
            perm[j] = t;
        }
        bool dflt = it % 5 == 0;
        if (dflt)
            for (int d = 0; d < r; d++)
                perm[d] = r - 1 - d;
        for (int d = 0; d < r; d++)
            od[d] = dims[perm[d]];
        lucid_graph *g = lucid_graph_create();
        input(g, "x", LUCID_DTYPE_FLOAT, r, dims);
        lucid_node *n = node(g, "Transpose", 13, "x", "y");
        if (!dflt) {
            int64_t p64[8];
            for (int d = 0; d < r; d++)
                p64[d] = perm[d];
            attr_is(n, "perm", r, p64);
        }
        output(g, "y");
        int64_t numel = lucid_shape_numel(r, dims);
        float *x = iota(numel);
        session s;
        run(&s, g, (const void *[]){x});
        CHECK(!s.st, "transpose: %s", s.msg);
        lucid_array y = out_of(&s, 0);
        bool ok = !s.st && same_shape(&y, r, od);
        for (int64_t e = 0; ok && e < numel; e++) {
            int64_t oi[8], ii[8];
            unravel(e, r, od, oi);
            for (int d = 0; d < r; d++)
                ii[perm[d]] = oi[d];
            ok = ((float *)y.data)[e] == x[ravel(r, dims, ii)];
        }
        CHECK(ok, "transpose rank %d matches", r);
        free(x);
        end(&s);
    }
}

/* CPython's slice index adjustment, an independent statement of ONNX's clamping rules. */
static int64_t py_slice(int64_t len, int64_t start, int64_t stop, int64_t step, int64_t *idx)
{
    if (start < 0) {
        start += len;
        if (start < 0) start = step < 0 ? -1 : 0;
    } else if (start >= len)
        start = step < 0 ? len - 1 : len;
    if (stop < 0) {
        stop += len;
        if (stop < 0) stop = step < 0 ? -1 : 0;
    } else if (stop >= len)
        stop = step < 0 ? len - 1 : len;
    int64_t n = 0;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
        idx[n++] = i;
    return n;
}

static void test_slice_random(void)
{
    for (int it = 0; it < 40; it++) {
        int r = (int)rnd(1, 4);
        int64_t dims[8];
        for (int d = 0; d < r; d++)
            dims[d] = rnd(1, 6);
        int naxes = (int)rnd(1, r);
        int64_t axes[8], starts[8], ends[8], steps[8];
        int order[8];
        for (int d = 0; d < r; d++)
            order[d] = d;
        for (int d = r - 1; d > 0; d--) {
            int j = (int)rnd(0, d), t = order[d];
            order[d] = order[j];
            order[j] = t;
        }
        for (int k = 0; k < naxes; k++) {
            axes[k] = rnd(0, 1) ? order[k] : order[k] - r;
            steps[k] = rnd(0, 1) ? rnd(1, 3) : -rnd(1, 3);
            int64_t pick = rnd(0, 9);
            starts[k] = pick == 0 ? INT64_MIN : pick == 1 ? INT64_MAX : rnd(-8, 8);
            pick = rnd(0, 9);
            ends[k] = pick == 0 ? INT64_MIN : pick == 1 ? INT64_MAX : rnd(-8, 8);
        }
        /* expected index lists per dim */
        int64_t lists[8][16], counts[8], od[8];
        for (int d = 0; d < r; d++) {
            counts[d] = dims[d];
            for (int64_t i = 0; i < dims[d]; i++)
                lists[d][i] = i;
        }
        for (int k = 0; k < naxes; k++) {
            int a = (int)(axes[k] < 0 ? axes[k] + r : axes[k]);
            counts[a] = py_slice(dims[a], starts[k], ends[k], steps[k], lists[a]);
        }
        for (int d = 0; d < r; d++)
            od[d] = counts[d];
        lucid_graph *g = lucid_graph_create();
        input(g, "x", LUCID_DTYPE_FLOAT, r, dims);
        init_ints(g, "s", naxes, starts);
        init_ints(g, "e", naxes, ends);
        init_ints(g, "a", naxes, axes);
        init_ints(g, "p", naxes, steps);
        node(g, "Slice", 13, "x,s,e,a,p", "y");
        output(g, "y");
        float *x = iota(lucid_shape_numel(r, dims));
        session s;
        run(&s, g, (const void *[]){x});
        CHECK(!s.st, "slice: %s", s.msg);
        lucid_array y = out_of(&s, 0);
        bool ok = !s.st && same_shape(&y, r, od);
        int64_t total = lucid_shape_numel(r, od);
        for (int64_t e = 0; ok && e < total; e++) {
            int64_t oi[8], ii[8];
            unravel(e, r, od, oi);
            for (int d = 0; d < r; d++)
                ii[d] = lists[d][oi[d]];
            ok = ((float *)y.data)[e] == x[ravel(r, dims, ii)];
        }
        CHECK(ok, "slice iteration %d matches", it);
        free(x);
        end(&s);
    }
}

static void test_slice_opset9_attrs(void)
{
    lucid_graph *g = lucid_graph_create();
    int64_t dims[2] = {3, 5};
    input(g, "x", LUCID_DTYPE_FLOAT, 2, dims);
    lucid_node *n = node(g, "Slice", 9, "x", "y");
    attr_is(n, "starts", 2, (int64_t[]){1, -4});
    attr_is(n, "ends", 2, (int64_t[]){1000, -1});
    output(g, "y");
    float *x = iota(15);
    session s;
    run(&s, g, (const void *[]){x});
    lucid_array y = out_of(&s, 0);
    bool ok = !s.st && same_shape(&y, 2, (int64_t[]){2, 3});
    for (int i = 0; ok && i < 2; i++)
        for (int j = 0; ok && j < 3; j++)
            ok = ((float *)y.data)[i * 3 + j] == x[(1 + i) * 5 + 1 + j];
    CHECK(ok, "slice opset 9 attributes: %s", s.msg);
    free(x);
    end(&s);
}

static void test_concat_split_random(void)
{
    for (int it = 0; it < 15; it++) {
        int r = (int)rnd(1, 4), axis = (int)rnd(0, r - 1);
        int64_t dims[3][8], od[8];
        for (int d = 0; d < r; d++)
            dims[0][d] = dims[1][d] = dims[2][d] = rnd(1, 4);
        for (int k = 0; k < 3; k++)
            dims[k][axis] = rnd(0, 3);
        memcpy(od, dims[0], sizeof od);
        od[axis] = dims[0][axis] + dims[1][axis] + dims[2][axis];
        lucid_graph *g = lucid_graph_create();
        input(g, "a", LUCID_DTYPE_FLOAT, r, dims[0]);
        input(g, "b", LUCID_DTYPE_FLOAT, r, dims[1]);
        input(g, "c", LUCID_DTYPE_FLOAT, r, dims[2]);
        attr_i(node(g, "Concat", 13, "a,b,c", "y"), "axis", it % 2 ? axis : axis - r);
        /* and split it back with the sizes as an input (opset 13) */
        init_ints(g, "sz", 3, (int64_t[]){dims[0][axis], dims[1][axis], dims[2][axis]});
        attr_i(node(g, "Split", 13, "y,sz", "p,q,w"), "axis", axis);
        output(g, "y");
        output(g, "p");
        output(g, "q");
        output(g, "w");
        float *x[3];
        for (int k = 0; k < 3; k++) {
            int64_t n = lucid_shape_numel(r, dims[k]);
            x[k] = iota(n);
            for (int64_t i = 0; i < n; i++)
                x[k][i] += 100.0f * (float)k;
        }
        session s;
        run(&s, g, (const void *[]){x[0], x[1], x[2]});
        CHECK(!s.st, "concat: %s", s.msg);
        lucid_array y = out_of(&s, 0);
        bool ok = !s.st && same_shape(&y, r, od);
        int64_t total = lucid_shape_numel(r, od);
        for (int64_t e = 0; ok && e < total; e++) {
            int64_t oi[8];
            unravel(e, r, od, oi);
            int k = 0;
            while (oi[axis] >= dims[k][axis])
                oi[axis] -= dims[k++][axis];
            ok = ((float *)y.data)[e] == x[k][ravel(r, dims[k], oi)];
        }
        CHECK(ok, "concat axis %d of rank %d matches", axis, r);
        for (int k = 0; k < 3 && !s.st; k++) {
            lucid_array p = out_of(&s, 1 + (size_t)k);
            int64_t n = lucid_shape_numel(r, dims[k]);
            CHECK(same_shape(&p, r, dims[k]) &&
                      (n == 0 || memcmp(p.data, x[k], sizeof(float) * (size_t)n) == 0),
                  "split part %d restores the input", k);
        }
        for (int k = 0; k < 3; k++)
            free(x[k]);
        end(&s);
    }
}

static void test_split_forms(void)
{
    /* opset 11: 'split' attribute; opset 13 equal split; opset 18 num_outputs uneven */
    int64_t d1[1] = {7};
    for (int form = 0; form < 3; form++) {
        lucid_graph *g = lucid_graph_create();
        input(g, "x", LUCID_DTYPE_FLOAT, 1, d1);
        int64_t want[3];
        if (form == 0) {
            attr_is(node(g, "Split", 11, "x", "a,b,c"), "split", 3, (int64_t[]){2, 0, 5});
            memcpy(want, (int64_t[]){2, 0, 5}, sizeof want);
        } else if (form == 1) {
            node(g, "Split", 13, "x", "a,b,c");
        } else {
            attr_i(node(g, "Split", 18, "x", "a,b,c"), "num_outputs", 3);
            memcpy(want, (int64_t[]){3, 3, 1}, sizeof want);
        }
        output(g, "a");
        output(g, "b");
        output(g, "c");
        float *x = iota(7);
        session s;
        run(&s, g, (const void *[]){x});
        if (form == 1) {
            CHECK(s.st == LUCID_STATUS_INVALID_MODEL, "7 does not split equally in 3: %s", s.msg);
        } else {
            CHECK(!s.st, "split form %d: %s", form, s.msg);
            int64_t at = 0;
            for (int k = 0; k < 3 && !s.st; k++) {
                lucid_array p = out_of(&s, (size_t)k);
                CHECK(p.dims[0] == want[k] &&
                          (want[k] == 0 ||
                           memcmp(p.data, x + at, sizeof(float) * (size_t)want[k]) == 0),
                      "split form %d part %d", form, k);
                at += want[k];
            }
        }
        free(x);
        end(&s);
    }
}

static void test_gather_random(void)
{
    for (int it = 0; it < 20; it++) {
        int r = (int)rnd(1, 3), q = (int)rnd(0, 2), axis = (int)rnd(0, r - 1);
        int64_t dims[8], idims[8], od[8];
        for (int d = 0; d < r; d++)
            dims[d] = rnd(1, 4);
        for (int d = 0; d < q; d++)
            idims[d] = rnd(1, 3);
        int orank = 0;
        for (int d = 0; d < axis; d++)
            od[orank++] = dims[d];
        for (int d = 0; d < q; d++)
            od[orank++] = idims[d];
        for (int d = axis + 1; d < r; d++)
            od[orank++] = dims[d];
        int64_t ni = lucid_shape_numel(q, idims);
        int32_t ind[64];
        for (int64_t i = 0; i < ni; i++)
            ind[i] = (int32_t)rnd(-dims[axis], dims[axis] - 1);
        lucid_graph *g = lucid_graph_create();
        input(g, "x", LUCID_DTYPE_FLOAT, r, dims);
        input(g, "i", LUCID_DTYPE_INT32, q, idims);
        attr_i(node(g, "Gather", 13, "x,i", "y"), "axis", it % 2 ? axis - r : axis);
        output(g, "y");
        float *x = iota(lucid_shape_numel(r, dims));
        session s;
        run(&s, g, (const void *[]){x, ind});
        CHECK(!s.st, "gather: %s", s.msg);
        lucid_array y = out_of(&s, 0);
        bool ok = !s.st && same_shape(&y, orank, od);
        int64_t total = lucid_shape_numel(orank, od);
        for (int64_t e = 0; ok && e < total; e++) {
            int64_t oi[8], xi[8], ii[8];
            unravel(e, orank, od, oi);
            for (int d = 0; d < q; d++)
                ii[d] = oi[axis + d];
            int64_t v = ind[ravel(q, idims, ii)];
            for (int d = 0; d < r; d++)
                xi[d] = d < axis ? oi[d] : d == axis ? (v < 0 ? v + dims[axis] : v) : oi[d - 1 + q];
            ok = ((float *)y.data)[e] == x[ravel(r, dims, xi)];
        }
        CHECK(ok, "gather axis %d rank %d indices rank %d", axis, r, q);
        /* an index out of range is a run-time error, not a crash */
        if (!s.st && ni > 0) {
            ind[ni - 1] = (int32_t)dims[axis];
            lucid_context_set_input(s.c, "i", LUCID_DTYPE_INT32, q, idims, ind);
            lucid_status st = lucid_context_run(s.c);
            CHECK(st == LUCID_STATUS_INVALID_MODEL &&
                      strstr(lucid_context_error(s.c), "out of range"),
                  "out-of-range gather index refused (status %d: %s)", st,
                  lucid_context_error(s.c));
        }
        free(x);
        end(&s);
    }
}

/* Shape -> Gather -> Unsqueeze -> Concat -> Reshape: the new shape is known at build. */
static void test_shape_chain(void)
{
    lucid_graph *g = lucid_graph_create();
    int64_t dims[3] = {2, 3, 4};
    input(g, "x", LUCID_DTYPE_FLOAT, 3, dims);
    node(g, "Shape", 15, "x", "s");
    init(g, "zero", LUCID_DTYPE_INT64, 0, NULL, (int64_t[]){0});
    attr_i(node(g, "Gather", 13, "s,zero", "n0"), "axis", 0);
    init_ints(g, "ax", 1, (int64_t[]){0});
    node(g, "Unsqueeze", 13, "n0,ax", "n0v");
    attr_is(node(g, "Constant", 13, "", "m1"), "value_ints", 1, (int64_t[]){-1});
    attr_i(node(g, "Concat", 13, "n0v,m1", "shape"), "axis", 0);
    node(g, "Reshape", 14, "x,shape", "y");
    node(g, "Size", 13, "x", "sz");
    output(g, "y");
    output(g, "sz");
    float *x = iota(24);
    session s;
    run(&s, g, (const void *[]){x});
    CHECK(!s.st, "chain: %s", s.msg);
    if (!s.st) {
        const lucid_ir_tensor *y = &g->tensors[lucid_graph_find(g, "y")];
        CHECK(y->rank == 2 && y->dims[0] == 2 && y->dims[1] == 12,
              "reshape target inferred statically");
        CHECK(g->shapes_known, "every shape known");
        const lucid_ir_tensor *sh = &g->tensors[lucid_graph_find(g, "shape")];
        CHECK(sh->data && ((int64_t *)sh->data)[0] == 2 && ((int64_t *)sh->data)[1] == -1,
              "shape value propagated");
        lucid_array a = out_of(&s, 0), b = out_of(&s, 1);
        CHECK(memcmp(a.data, x, sizeof(float) * 24) == 0, "reshape keeps the data");
        CHECK(b.rank == 0 && *(int64_t *)b.data == 24, "Size is 24");
    }
    free(x);
    end(&s);
}

static void test_shape_start_end(void)
{
    struct {
        int64_t start, end;
        bool has_end;
        int n;
        int64_t want[4];
    } cases[] = {{0, 0, false, 4, {2, 3, 4, 5}},   {1, 0, false, 3, {3, 4, 5}},
                 {-1, 0, false, 1, {5}},           {1, -1, true, 2, {3, 4}},
                 {-10, 10, true, 4, {2, 3, 4, 5}}, {3, 1, true, 0, {0}}};
    for (size_t c = 0; c < LUCID_ARRAY_LEN(cases); c++) {
        lucid_graph *g = lucid_graph_create();
        input(g, "x", LUCID_DTYPE_UINT8, 4, (int64_t[]){2, 3, 4, 5});
        lucid_node *n = node(g, "Shape", 15, "x", "s");
        if (cases[c].start) attr_i(n, "start", cases[c].start);
        if (cases[c].has_end) attr_i(n, "end", cases[c].end);
        output(g, "s");
        uint8_t x[120] = {0};
        session s;
        run(&s, g, (const void *[]){x});
        lucid_array a = out_of(&s, 0);
        bool ok = !s.st && a.rank == 1 && a.dims[0] == cases[c].n;
        for (int i = 0; ok && i < cases[c].n; i++)
            ok = ((int64_t *)a.data)[i] == cases[c].want[i];
        CHECK(ok, "Shape start/end case %zu: %s", c, s.msg);
        end(&s);
    }
}

static void test_reshape_forms(void)
{
    struct {
        int64_t shape[4];
        int n;
        int allowzero;
        int64_t want[4];
        int wrank;
        lucid_status st;
    } cases[] = {
        {{0, -1}, 2, 0, {2, 12}, 2, LUCID_STATUS_OK},
        {{4, 0, 2}, 3, 0, {4, 3, 2}, 3, LUCID_STATUS_OK},
        {{-1}, 1, 0, {24}, 1, LUCID_STATUS_OK},
        {{5, -1}, 2, 0, {0}, 0, LUCID_STATUS_INVALID_MODEL},
        {{2, 3, 5}, 3, 0, {0}, 0, LUCID_STATUS_INVALID_MODEL},
        {{-1, -1}, 2, 0, {0}, 0, LUCID_STATUS_INVALID_MODEL},
        {{0, 24}, 2, 1, {0}, 0, LUCID_STATUS_INVALID_MODEL}, /* allowzero: 0 is a real 0 */
        {{2, -3, 4}, 3, 0, {0}, 0, LUCID_STATUS_INVALID_MODEL},
    };
    for (size_t c = 0; c < LUCID_ARRAY_LEN(cases); c++) {
        lucid_graph *g = lucid_graph_create();
        input(g, "x", LUCID_DTYPE_INT16, 3, (int64_t[]){2, 3, 4});
        init_ints(g, "s", cases[c].n, cases[c].shape);
        lucid_node *n = node(g, "Reshape", 14, "x,s", "y");
        if (cases[c].allowzero) attr_i(n, "allowzero", 1);
        output(g, "y");
        int16_t x[24];
        for (int i = 0; i < 24; i++)
            x[i] = (int16_t)(i * 7 - 50);
        session s;
        run(&s, g, (const void *[]){x});
        CHECK(s.st == cases[c].st, "reshape case %zu status %d (want %d): %s", c, s.st, cases[c].st,
              s.msg);
        if (!s.st && !cases[c].st) {
            lucid_array y = out_of(&s, 0);
            CHECK(same_shape(&y, cases[c].wrank, cases[c].want) && memcmp(y.data, x, sizeof x) == 0,
                  "reshape case %zu output", c);
        }
        end(&s);
    }
}

static void test_squeeze_unsqueeze_forms(void)
{
    for (int opset = 11; opset <= 13; opset += 2) {
        lucid_graph *g = lucid_graph_create();
        input(g, "x", LUCID_DTYPE_DOUBLE, 4, (int64_t[]){1, 3, 1, 2});
        if (opset < 13) {
            attr_is(node(g, "Squeeze", opset, "x", "a"), "axes", 1, (int64_t[]){-2});
            attr_is(node(g, "Unsqueeze", opset, "a", "b"), "axes", 2, (int64_t[]){-1, 1});
        } else {
            init_ints(g, "sa", 1, (int64_t[]){-2});
            node(g, "Squeeze", opset, "x,sa", "a");
            init_ints(g, "ua", 2, (int64_t[]){-1, 1});
            node(g, "Unsqueeze", opset, "a,ua", "b");
        }
        node(g, "Squeeze", opset, "b", "c"); /* no axes: every 1 goes */
        node(g, "Flatten", opset, "x", "f");
        attr_i(node(g, "Flatten", opset, "x", "f0"), "axis", 0);
        attr_i(node(g, "Flatten", opset, "x", "fn"), "axis", -1);
        output(g, "a");
        output(g, "b");
        output(g, "c");
        output(g, "f");
        output(g, "f0");
        output(g, "fn");
        double x[6] = {1, 2, 3, 4, 5, 6};
        session s;
        run(&s, g, (const void *[]){x});
        CHECK(!s.st, "squeeze opset %d: %s", opset, s.msg);
        if (!s.st) {
            lucid_array a = out_of(&s, 0), b = out_of(&s, 1), c = out_of(&s, 2);
            lucid_array f = out_of(&s, 3), f0 = out_of(&s, 4), fn = out_of(&s, 5);
            CHECK(same_shape(&a, 3, (int64_t[]){1, 3, 2}), "squeeze axis -2");
            CHECK(same_shape(&b, 5, (int64_t[]){1, 1, 3, 2, 1}), "unsqueeze -1 and 1");
            CHECK(same_shape(&c, 2, (int64_t[]){3, 2}), "squeeze all ones");
            CHECK(same_shape(&f, 2, (int64_t[]){1, 6}) && same_shape(&f0, 2, (int64_t[]){1, 6}) &&
                      same_shape(&fn, 2, (int64_t[]){3, 2}),
                  "flatten shapes");
            CHECK(memcmp(b.data, x, sizeof x) == 0 && memcmp(fn.data, x, sizeof x) == 0,
                  "views keep the bytes");
        }
        end(&s);
    }
    /* squeezing an axis that is not 1 is an error */
    lucid_graph *g = lucid_graph_create();
    input(g, "x", LUCID_DTYPE_FLOAT, 2, (int64_t[]){2, 3});
    attr_is(node(g, "Squeeze", 11, "x", "y"), "axes", 1, (int64_t[]){0});
    output(g, "y");
    session s;
    run(&s, g, NULL);
    CHECK(s.st == LUCID_STATUS_INVALID_MODEL, "squeeze of a dim of 2 refused: %s", s.msg);
    end(&s);
}

static void test_expand_tile(void)
{
    lucid_graph *g = lucid_graph_create();
    input(g, "x", LUCID_DTYPE_INT8, 2, (int64_t[]){3, 1});
    init_ints(g, "shape", 3, (int64_t[]){2, 1, 4});
    node(g, "Expand", 13, "x,shape", "e");
    init_ints(g, "reps", 2, (int64_t[]){2, 3});
    node(g, "Tile", 13, "x,reps", "t");
    output(g, "e");
    output(g, "t");
    int8_t x[3] = {-1, 5, 9};
    session s;
    run(&s, g, (const void *[]){x});
    CHECK(!s.st, "expand/tile: %s", s.msg);
    if (!s.st) {
        lucid_array e = out_of(&s, 0), t = out_of(&s, 1);
        bool ok = same_shape(&e, 3, (int64_t[]){2, 3, 4});
        for (int i = 0; ok && i < 24; i++)
            ok = ((int8_t *)e.data)[i] == x[(i / 4) % 3];
        CHECK(ok, "expand broadcasts both ways");
        ok = same_shape(&t, 2, (int64_t[]){6, 3});
        for (int i = 0; ok && i < 18; i++)
            ok = ((int8_t *)t.data)[i] == x[(i / 3) % 3];
        CHECK(ok, "tile repeats");
    }
    end(&s);
    /* negative dims are errors */
    g = lucid_graph_create();
    input(g, "x", LUCID_DTYPE_FLOAT, 1, (int64_t[]){3});
    init_ints(g, "shape", 2, (int64_t[]){-2, 3});
    node(g, "Expand", 13, "x,shape", "e");
    output(g, "e");
    run(&s, g, NULL);
    CHECK(s.st == LUCID_STATUS_INVALID_MODEL, "negative expand dim refused: %s", s.msg);
    end(&s);
    g = lucid_graph_create();
    init_ints(g, "shape", 2, (int64_t[]){2, -1});
    node(g, "ConstantOfShape", 13, "shape", "c");
    output(g, "c");
    run(&s, g, NULL);
    CHECK(s.st == LUCID_STATUS_INVALID_MODEL, "negative ConstantOfShape dim refused: %s", s.msg);
    end(&s);
}

/* numpy.pad of a 1-D row, written out directly for each mode. */
static float pad_ref(const float *x, int64_t n, int64_t i, const char *mode, float value)
{
    if (i >= 0 && i < n) return x[i];
    if (strcmp(mode, "constant") == 0) return value;
    if (strcmp(mode, "edge") == 0) return x[i < 0 ? 0 : n - 1];
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * (n - 1) - i; /* reflect */
    return x[i];
}

static void test_pad_modes(void)
{
    const char *modes[3] = {"constant", "reflect", "edge"};
    for (int m = 0; m < 3; m++)
        for (int oi = 0; oi < 3; oi++) {
            int opset = (int[]){7, 11, 18}[oi];
            int64_t pads[4] = {1, 3, 2, 2}; /* begin h, begin w, end h, end w */
            lucid_graph *g = lucid_graph_create();
            input(g, "x", LUCID_DTYPE_FLOAT, 2, (int64_t[]){3, 4});
            lucid_node *n;
            if (opset < 11) {
                n = node(g, "Pad", opset, "x", "y");
                attr_is(n, "pads", 4, pads);
                attr_f(n, "value", 1.5f);
            } else {
                init_ints(g, "pads", 4, pads);
                init(g, "cv", LUCID_DTYPE_FLOAT, 0, NULL, (float[]){1.5f});
                n = node(g, "Pad", opset, "x,pads,cv", "y");
            }
            attr_s(n, "mode", modes[m]);
            output(g, "y");
            float *x = iota(12);
            session s;
            run(&s, g, (const void *[]){x});
            CHECK(!s.st, "pad %s opset %d: %s", modes[m], opset, s.msg);
            lucid_array y = out_of(&s, 0);
            bool ok = !s.st && same_shape(&y, 2, (int64_t[]){6, 9});
            for (int i = 0; ok && i < 6; i++)
                for (int j = 0; ok && j < 9; j++) {
                    int64_t r = i - 1, c = j - 3;
                    float want;
                    if (m == 0)
                        want = (r < 0 || r >= 3 || c < 0 || c >= 4) ? 1.5f : x[r * 4 + c];
                    else {
                        /* separable: pad the row index, then the column */
                        float rowi[3] = {0, 1, 2};
                        int64_t rr = (int64_t)pad_ref(rowi, 3, r, modes[m], 0);
                        want = pad_ref(x + rr * 4, 4, c, modes[m], 0);
                    }
                    ok = ((float *)y.data)[i * 9 + j] == want;
                }
            CHECK(ok, "pad %s opset %d values", modes[m], opset);
            free(x);
            end(&s);
        }
    /* opset 18 axes and negative pads (cropping) */
    lucid_graph *g = lucid_graph_create();
    input(g, "x", LUCID_DTYPE_INT32, 2, (int64_t[]){2, 5});
    init_ints(g, "pads", 2, (int64_t[]){-1, 2});
    init_ints(g, "axes", 1, (int64_t[]){-1});
    node(g, "Pad", 18, "x,pads,,axes", "y");
    output(g, "y");
    int32_t x[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    session s;
    run(&s, g, (const void *[]){x});
    lucid_array y = out_of(&s, 0);
    int32_t want[12] = {1, 2, 3, 4, 0, 0, 6, 7, 8, 9, 0, 0};
    CHECK(!s.st && same_shape(&y, 2, (int64_t[]){2, 6}) && memcmp(y.data, want, sizeof want) == 0,
          "pad with axes and cropping: %s", s.msg);
    end(&s);
}

static void test_generators(void)
{
    lucid_graph *g = lucid_graph_create();
    init(g, "i0", LUCID_DTYPE_INT32, 0, NULL, (int32_t[]){10});
    init(g, "i1", LUCID_DTYPE_INT32, 0, NULL, (int32_t[]){-3});
    init(g, "i2", LUCID_DTYPE_INT32, 0, NULL, (int32_t[]){-4});
    node(g, "Range", 11, "i0,i1,i2", "ri");
    init(g, "f0", LUCID_DTYPE_FLOAT, 0, NULL, (float[]){0.5f});
    init(g, "f1", LUCID_DTYPE_FLOAT, 0, NULL, (float[]){2.0f});
    init(g, "f2", LUCID_DTYPE_FLOAT, 0, NULL, (float[]){0.4f});
    node(g, "Range", 11, "f0,f1,f2", "rf");
    init_ints(g, "shape", 2, (int64_t[]){2, 3});
    lucid_node *n = node(g, "ConstantOfShape", 9, "shape", "c");
    lucid_attr a = {.name = lucid_strdup("value"), .type = LUCID_ATTR_TENSOR};
    a.t = calloc(1, sizeof *a.t);
    a.t->dtype = LUCID_DTYPE_INT32;
    a.t->rank = 1;
    a.t->dims[0] = 1;
    a.t->data = malloc(4);
    *(int32_t *)a.t->data = 7;
    a.t->nbytes = 4;
    lucid_node_add_attr(n, &a, NULL);
    attr_f(node(g, "Constant", 13, "", "k"), "value_float", 2.5f);
    output(g, "ri");
    output(g, "rf");
    output(g, "c");
    output(g, "k");
    session s;
    run(&s, g, NULL);
    CHECK(!s.st, "generators: %s", s.msg);
    if (!s.st) {
        lucid_array ri = out_of(&s, 0), rf = out_of(&s, 1), c = out_of(&s, 2), k = out_of(&s, 3);
        int32_t wi[4] = {10, 6, 2, -2};
        CHECK(ri.dtype == LUCID_DTYPE_INT32 && ri.dims[0] == 4 &&
                  memcmp(ri.data, wi, sizeof wi) == 0,
              "int range with negative delta");
        bool ok = rf.dims[0] == 4; /* ceil(1.5 / 0.4) */
        for (int i = 0; ok && i < 4; i++)
            ok = fabsf(((float *)rf.data)[i] - (0.5f + 0.4f * (float)i)) < 1e-6f;
        CHECK(ok, "float range");
        ok = c.dtype == LUCID_DTYPE_INT32 && same_shape(&c, 2, (int64_t[]){2, 3});
        for (int i = 0; ok && i < 6; i++)
            ok = ((int32_t *)c.data)[i] == 7;
        CHECK(ok, "ConstantOfShape fills");
        CHECK(k.rank == 0 && *(float *)k.data == 2.5f, "Constant value_float");
    }
    end(&s);
    /* delta 0 */
    g = lucid_graph_create();
    init(g, "a", LUCID_DTYPE_INT64, 0, NULL, (int64_t[]){0});
    init(g, "b", LUCID_DTYPE_INT64, 0, NULL, (int64_t[]){5});
    init(g, "z", LUCID_DTYPE_INT64, 0, NULL, (int64_t[]){0});
    node(g, "Range", 11, "a,b,z", "r");
    output(g, "r");
    run(&s, g, NULL);
    CHECK(s.st == LUCID_STATUS_INVALID_MODEL, "Range delta 0 refused: %s", s.msg);
    end(&s);
}

static void test_cast(void)
{
    lucid_graph *g = lucid_graph_create();
    input(g, "x", LUCID_DTYPE_FLOAT, 1, (int64_t[]){6});
    attr_i(node(g, "Cast", 13, "x", "i"), "to", LUCID_DTYPE_INT32);
    attr_i(node(g, "Cast", 13, "x", "h"), "to", LUCID_DTYPE_FLOAT16);
    attr_i(node(g, "Cast", 13, "x", "b"), "to", LUCID_DTYPE_BOOL);
    attr_i(node(g, "Cast", 13, "x", "u"), "to", LUCID_DTYPE_UINT8);
    attr_i(node(g, "Cast", 13, "h", "hf"), "to", LUCID_DTYPE_DOUBLE);
    attr_i(node(g, "Cast", 13, "i", "il"), "to", LUCID_DTYPE_INT64);
    output(g, "i");
    output(g, "h");
    output(g, "b");
    output(g, "u");
    output(g, "hf");
    output(g, "il");
    float x[6] = {-2.75f, -0.5f, 0.0f, 1.9f, 100.25f, 65504.0f};
    session s;
    run(&s, g, (const void *[]){x});
    CHECK(!s.st, "cast: %s", s.msg);
    if (!s.st) {
        lucid_array i = out_of(&s, 0), h = out_of(&s, 1), b = out_of(&s, 2), u = out_of(&s, 3);
        lucid_array hf = out_of(&s, 4), il = out_of(&s, 5);
        int32_t wi[6] = {-2, 0, 0, 1, 100, 65504};
        CHECK(memcmp(i.data, wi, sizeof wi) == 0, "float to int32 truncates");
        bool ok = true;
        for (int k = 0; k < 6; k++) {
            ok &= lucid_half_to_float(((uint16_t *)h.data)[k]) ==
                  lucid_half_to_float(lucid_float_to_half(x[k]));
            ok &= ((uint8_t *)b.data)[k] == (x[k] != 0);
            ok &= ((double *)hf.data)[k] == (double)lucid_half_to_float(((uint16_t *)h.data)[k]);
            ok &= ((int64_t *)il.data)[k] == wi[k];
        }
        CHECK(ok, "float16, bool, double and int64 casts");
        CHECK(((uint8_t *)u.data)[3] == 1 && ((uint8_t *)u.data)[4] == 100, "float to uint8");
    }
    end(&s);
    g = lucid_graph_create();
    input(g, "x", LUCID_DTYPE_FLOAT, 1, (int64_t[]){2});
    attr_i(node(g, "Cast", 13, "x", "y"), "to", LUCID_DTYPE_STRING);
    output(g, "y");
    run(&s, g, NULL);
    CHECK(s.st == LUCID_STATUS_UNSUPPORTED, "cast to string refused: %s", s.msg);
    end(&s);
}

static void test_dropout_identity(void)
{
    for (int opset = 7; opset <= 13; opset += 6) {
        lucid_graph *g = lucid_graph_create();
        input(g, "x", LUCID_DTYPE_FLOAT, 2, (int64_t[]){2, 2});
        node(g, "Dropout", opset, "x", "y,mask");
        node(g, "Identity", opset, "y", "z");
        output(g, "z");
        output(g, "mask");
        float x[4] = {1, 2, 3, 4};
        session s;
        run(&s, g, (const void *[]){x});
        lucid_array z = out_of(&s, 0), m = out_of(&s, 1);
        bool ok = !s.st && memcmp(z.data, x, sizeof x) == 0;
        for (int k = 0; ok && k < 4; k++)
            ok = opset < 10 ? ((float *)m.data)[k] == 1.0f : ((uint8_t *)m.data)[k] == 1;
        CHECK(ok && m.dtype == (opset < 10 ? LUCID_DTYPE_FLOAT : LUCID_DTYPE_BOOL),
              "dropout opset %d passes through with a full mask: %s", opset, s.msg);
        end(&s);
    }
    lucid_graph *g = lucid_graph_create();
    input(g, "x", LUCID_DTYPE_FLOAT, 1, (int64_t[]){2});
    init(g, "ratio", LUCID_DTYPE_FLOAT, 0, NULL, (float[]){0.5f});
    init(g, "train", LUCID_DTYPE_BOOL, 0, NULL, (uint8_t[]){1});
    node(g, "Dropout", 13, "x,ratio,train", "y");
    output(g, "y");
    session s;
    run(&s, g, NULL);
    CHECK(s.st == LUCID_STATUS_UNSUPPORTED, "training-mode dropout refused: %s", s.msg);
    end(&s);
}

static void test_transpose_errors(void)
{
    int64_t bad[3][3] = {{0, 0, 1}, {0, 1, 3}, {0, 1, 0}};
    int counts[3] = {3, 3, 2};
    for (int c = 0; c < 3; c++) {
        lucid_graph *g = lucid_graph_create();
        input(g, "x", LUCID_DTYPE_FLOAT, 3, (int64_t[]){2, 3, 4});
        attr_is(node(g, "Transpose", 13, "x", "y"), "perm", counts[c], bad[c]);
        output(g, "y");
        session s;
        run(&s, g, NULL);
        CHECK(s.st == LUCID_STATUS_INVALID_MODEL, "bad perm %d refused: %s", c, s.msg);
        end(&s);
    }
}

/* Nearest and linear resampling against direct formulas. */
static void test_resize(void)
{
    /* Upsample-7: nearest by 2 and 3 (asymmetric, floor) */
    lucid_graph *g = lucid_graph_create();
    input(g, "x", LUCID_DTYPE_FLOAT, 4, (int64_t[]){1, 1, 2, 3});
    attr_fs(node(g, "Upsample", 7, "x", "y"), "scales", 4, (float[]){1, 1, 2, 3});
    output(g, "y");
    float *x = iota(6);
    session s;
    run(&s, g, (const void *[]){x});
    lucid_array y = out_of(&s, 0);
    bool ok = !s.st && same_shape(&y, 4, (int64_t[]){1, 1, 4, 9});
    for (int i = 0; ok && i < 4; i++)
        for (int j = 0; ok && j < 9; j++)
            ok = ((float *)y.data)[i * 9 + j] == x[(i / 2) * 3 + j / 3];
    CHECK(ok, "Upsample-7 nearest: %s", s.msg);
    end(&s);

    /* Resize-13 linear, align_corners, by sizes, against bilinear interpolation */
    const char *modes[3] = {"align_corners", "half_pixel", "asymmetric"};
    for (int m = 0; m < 3; m++) {
        g = lucid_graph_create();
        input(g, "x", LUCID_DTYPE_FLOAT, 4, (int64_t[]){1, 1, 2, 3});
        init_ints(g, "sizes", 4, (int64_t[]){1, 1, 3, 5});
        lucid_node *n = node(g, "Resize", 13, "x,,,sizes", "y");
        attr_s(n, "mode", "linear");
        attr_s(n, "coordinate_transformation_mode", modes[m]);
        output(g, "y");
        run(&s, g, (const void *[]){x});
        y = out_of(&s, 0);
        ok = !s.st && same_shape(&y, 4, (int64_t[]){1, 1, 3, 5});
        for (int i = 0; ok && i < 3; i++)
            for (int j = 0; ok && j < 5; j++) {
                double fy, fx;
                if (m == 0) {
                    fy = i * (2 - 1) / 2.0;
                    fx = j * (3 - 1) / 4.0;
                } else if (m == 1) {
                    fy = (i + 0.5) / 1.5 - 0.5;
                    fx = (j + 0.5) / (5.0 / 3.0) - 0.5;
                } else {
                    fy = i / 1.5;
                    fx = j / (5.0 / 3.0);
                }
                fy = fy < 0 ? 0 : fy > 1 ? 1 : fy;
                fx = fx < 0 ? 0 : fx > 2 ? 2 : fx;
                int y0 = (int)fy, x0 = (int)fx;
                int y1 = y0 + 1 > 1 ? 1 : y0 + 1, x1 = x0 + 1 > 2 ? 2 : x0 + 1;
                double ty = fy - y0, tx = fx - x0;
                double v = (1 - ty) * ((1 - tx) * x[y0 * 3 + x0] + tx * x[y0 * 3 + x1]) +
                           ty * ((1 - tx) * x[y1 * 3 + x0] + tx * x[y1 * 3 + x1]);
                ok = fabs(((float *)y.data)[i * 5 + j] - v) < 1e-5;
            }
        CHECK(ok, "Resize linear %s: %s", modes[m], s.msg);
        end(&s);
    }

    /* Resize-11 nearest by scales, downsampling, round_prefer_ceil */
    g = lucid_graph_create();
    input(g, "x", LUCID_DTYPE_FLOAT, 2, (int64_t[]){2, 3});
    init(g, "roi", LUCID_DTYPE_FLOAT, 1, (int64_t[]){0}, NULL);
    init(g, "scales", LUCID_DTYPE_FLOAT, 1, (int64_t[]){2}, (float[]){1.0f, 0.5f});
    lucid_node *n = node(g, "Resize", 11, "x,roi,scales", "y");
    attr_s(n, "nearest_mode", "round_prefer_ceil");
    output(g, "y");
    run(&s, g, (const void *[]){x});
    y = out_of(&s, 0);
    /* width 3 * 0.5 = 1 (floor); x = (0 + 0.5) / 0.5 - 0.5 = 0.5 -> ceil -> 1 */
    CHECK(!s.st && same_shape(&y, 2, (int64_t[]){2, 1}) && ((float *)y.data)[0] == x[1] &&
              ((float *)y.data)[1] == x[4],
          "Resize nearest downsample: %s", s.msg);
    end(&s);

    /* cubic with antialias needs opset 18; scales and sizes together are an error */
    g = lucid_graph_create();
    input(g, "x", LUCID_DTYPE_FLOAT, 2, (int64_t[]){2, 3});
    init(g, "scales", LUCID_DTYPE_FLOAT, 1, (int64_t[]){2}, (float[]){1.0f, 2.0f});
    init_ints(g, "sizes", 2, (int64_t[]){2, 6});
    node(g, "Resize", 13, "x,,scales,sizes", "y");
    output(g, "y");
    run(&s, g, NULL);
    CHECK(s.st == LUCID_STATUS_INVALID_MODEL, "scales and sizes together refused: %s", s.msg);
    end(&s);
    free(x);
}

int main(void)
{
    test_transpose_random();
    test_transpose_errors();
    test_slice_random();
    test_slice_opset9_attrs();
    test_concat_split_random();
    test_split_forms();
    test_gather_random();
    test_shape_chain();
    test_shape_start_end();
    test_reshape_forms();
    test_squeeze_unsqueeze_forms();
    test_expand_tile();
    test_pad_modes();
    test_generators();
    test_cast();
    test_dropout_identity();
    test_resize();
    return test_summary();
}
