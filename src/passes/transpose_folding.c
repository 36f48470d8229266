/* transpose_folding.c - Transpose folded into its neighbours: two Transposes in a row become
 * one (or none when they cancel), and a 2-D Transpose feeding Gemm becomes transA/transB.
 * Both are exact: the same elements meet in the same order (Gemm sums over k ascending
 * whatever the operand layout). A Transpose of a constant is constant folding's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"
#include "passes/bypass.h"
#include "passes/pass.h"

/* n's permutation (the default reverses the axes); false if it cannot be read. */
static bool read_perm(const lucid_graph *g, const lucid_node *n, int *perm, int *rank)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    if (!x || x->rank < 0) return false;
    const int64_t *p;
    size_t count;
    lucid_error err;
    if (lucid_attr_ints(n, "perm", &p, &count, &err)) return false;
    int r = x->rank;
    if (count && count != (size_t)r) return false;
    bool seen[LUCID_MAX_RANK] = {false};
    for (int i = 0; i < r; i++) {
        int64_t v = count ? p[i] : r - 1 - i;
        if (v < 0 || v >= r || seen[v]) return false;
        seen[v] = true;
        perm[i] = (int)v;
    }
    *rank = r;
    return true;
}

/* Sets (replacing) an attribute on n; the op's params are parsed again by the caller. */
static lucid_status set_attr(lucid_node *n, lucid_attr *a, lucid_error *err)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, a->name) == 0) {
            lucid_attr_free(&n->attrs[i]);
            n->attrs[i] = *a;
            memset(a, 0, sizeof *a);
            return LUCID_STATUS_OK;
        }
    lucid_status st = lucid_node_add_attr(n, a, err);
    if (st) lucid_attr_free(a);
    return st;
}

static lucid_status set_perm(lucid_node *n, const int *perm, int rank, lucid_error *err)
{
    lucid_attr a = {.type = LUCID_ATTR_INTS, .count = (size_t)rank};
    a.name = lucid_strdup("perm");
    a.ints = malloc(sizeof(int64_t) * (size_t)(rank ? rank : 1));
    if (!a.name || !a.ints) {
        lucid_attr_free(&a);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < rank; i++)
        a.ints[i] = perm[i];
    return set_attr(n, &a, err);
}

static lucid_status set_int(lucid_node *n, const char *name, int64_t v, lucid_error *err)
{
    lucid_attr a = {.type = LUCID_ATTR_INT, .i = v};
    a.name = lucid_strdup(name);
    if (!a.name) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    return set_attr(n, &a, err);
}

static lucid_status reparse(const lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_op_def *def = lucid_op_get(n->op);
    if (def->params_size) memset(n->params, 0, def->params_size);
    return def->parse ? def->parse(g, n, n->params, err) : LUCID_STATUS_OK;
}

/* Node `node` now reads `to` at input k instead of `from`: keeps consumer lists exact. */
static lucid_status reroute(lucid_graph *g, int node, int k, int from, int to, lucid_error *err)
{
    lucid_node *n = &g->nodes[node];
    n->inputs[k] = to;
    bool still = false;
    for (int q = 0; q < n->n_inputs; q++)
        still |= n->inputs[q] == from;
    lucid_ir_tensor *f = &g->tensors[from], *t = &g->tensors[to];
    if (!still) {
        int kept = 0;
        for (int c = 0; c < f->n_consumers; c++)
            if (f->consumers[c] != node) f->consumers[kept++] = f->consumers[c];
        f->n_consumers = kept;
    }
    for (int c = 0; c < t->n_consumers; c++)
        if (t->consumers[c] == node) return LUCID_STATUS_OK;
    int *nc = realloc(t->consumers, sizeof(int) * (size_t)(t->n_consumers + 1));
    if (!nc) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    nc[t->n_consumers++] = node;
    t->consumers = nc;
    return LUCID_STATUS_OK;
}

/* The Transpose producing t, if a live, unelided one. */
static lucid_node *transpose_producer(lucid_graph *g, int t)
{
    if (t < 0 || g->tensors[t].producer < 0) return NULL;
    lucid_node *p = &g->nodes[g->tensors[t].producer];
    return !p->dead && !p->elided && p->op == LUCID_OP_TRANSPOSE ? p : NULL;
}

/* After its reader moved away, a Transpose nobody reads any more goes. */
static void kill_if_unused(lucid_graph *g, lucid_node *p)
{
    if (lucid_tensor_uses(g, p->outputs[0]) == 0) lucid_node_kill(p);
}

static lucid_status fold_pair(lucid_pass_ctx *ctx, lucid_graph *g, int i, lucid_error *err)
{
    lucid_node *n = &g->nodes[i];
    int mid = n->inputs[0];
    lucid_node *first = transpose_producer(g, mid);
    if (!first || first->inputs[0] < 0) return LUCID_STATUS_OK;
    int p1[LUCID_MAX_RANK], p2[LUCID_MAX_RANK], q[LUCID_MAX_RANK], r1, r2;
    if (!read_perm(g, first, p1, &r1) || !read_perm(g, n, p2, &r2) || r1 != r2)
        return LUCID_STATUS_OK;
    /* first gives y1[i] = x axis p1[i]; n gives y2[i] = y1 axis p2[i] = x axis p1[p2[i]] */
    bool identity = true;
    for (int d = 0; d < r2; d++) {
        q[d] = p1[p2[d]];
        identity &= q[d] == d;
    }
    int x = first->inputs[0];
    char *layer = lucid_layer_name_join(first->name, n->name);
    if (!layer) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    char nodes[2 * LUCID_MAX_NAME + 4];
    snprintf(nodes, sizeof nodes, "%s,%s", first->name, n->name);
    /* n reads x with the composed permutation; `first` goes if n was its last reader */
    lucid_status st = set_perm(n, q, r2, err);
    if (!st) st = reroute(g, i, 0, mid, x, err);
    if (!st) st = reparse(g, n, err);
    if (st) goto done;
    kill_if_unused(g, first);
    const char *kept = first->dead ? "" : " (the first stays for its other readers)";
    if (!identity) {
        lucid_pass_rewrite(ctx, nodes, layer, "composed into one Transpose%s", kept);
        goto done;
    }
    const char *why = "";
    if (lucid_pass_bypass(g, i, x, n->outputs[0], &why))
        lucid_pass_rewrite(ctx, nodes, layer, "the two Transposes cancel: %s removed%s",
                           first->dead ? "both" : n->name, kept);
    else
        lucid_pass_refuse(ctx, nodes,
                          "the two Transposes cancel, but one identity Transpose stays: %s", why);
done:
    free(layer);
    return st;
}

/* Gemm input k (A or B) read through a 2-D Transpose: read the Transpose's input instead and
 * flip transA/transB. */
static lucid_status fold_gemm(lucid_pass_ctx *ctx, lucid_graph *g, int i, int k, lucid_error *err)
{
    lucid_node *n = &g->nodes[i];
    int mid = n->inputs[k];
    lucid_node *tr = transpose_producer(g, mid);
    int perm[LUCID_MAX_RANK], r;
    if (!tr || tr->inputs[0] < 0 || !read_perm(g, tr, perm, &r) || r != 2 || perm[0] != 1)
        return LUCID_STATUS_OK;
    const char *name = k == 0 ? "transA" : "transB";
    int64_t trans;
    lucid_status st = lucid_attr_int(n, name, 0, &trans, err);
    if (st) return st;
    if (trans != 0 && trans != 1) return LUCID_STATUS_OK; /* parse refused it already */
    char *layer = lucid_layer_name_join(tr->name, n->name);
    if (!layer) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    char nodes[2 * LUCID_MAX_NAME + 4];
    snprintf(nodes, sizeof nodes, "%s,%s", tr->name, n->name);
    st = set_int(n, name, 1 - trans, err);
    if (!st) st = reroute(g, i, k, mid, tr->inputs[0], err);
    if (!st) st = reparse(g, n, err);
    if (!st) {
        kill_if_unused(g, tr);
        lucid_pass_rewrite(ctx, nodes, layer, "%s = %lld reads the Transpose's input%s", name,
                           (long long)(1 - trans),
                           tr->dead ? "" : " (the Transpose stays for its other readers)");
    }
    free(layer);
    return st;
}

static lucid_status transpose_folding_run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        if (n->dead || n->elided) continue;
        lucid_status st = LUCID_STATUS_OK;
        if (n->op == LUCID_OP_TRANSPOSE && n->inputs[0] >= 0)
            st = fold_pair(ctx, g, i, err);
        else if (n->op == LUCID_OP_GEMM && n->n_inputs >= 2)
            for (int k = 0; k < 2 && !st; k++)
                st = fold_gemm(ctx, g, i, k, err);
        if (st) return st;
    }
    return LUCID_STATUS_OK;
}

const lucid_pass_def lucid_pass_transpose_folding = {
    .name = "transpose_folding",
    .level = LUCID_PASS_FUSION,
    .summary = "compose consecutive Transposes and fold 2-D Transposes into Gemm's transA/transB",
    .run = transpose_folding_run,
};
