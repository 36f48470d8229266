/* blas_product.c - Gemm/FusedGemm/MatMul nodes resolved as one product with constant B, and
 * the activation pass the library tactics share (see blas_product.h). */
#include "cpu/blas_product.h"

#include <stdio.h>
#include <string.h>

#include "ops/op.h"

static bool refuse(char *why, size_t why_len, const char *msg)
{
    if (why && why_len) snprintf(why, why_len, "%s", msg);
    return false;
}

bool lucid_blas_product_resolve(const lucid_graph *g, const lucid_node *n, lucid_blas_product *p,
                                char *why, size_t why_len)
{
    memset(p, 0, sizeof *p);
    p->alpha = p->beta = 1.0f;
    bool matmul = n->op == LUCID_OP_MATMUL;
    if (!matmul && n->op != LUCID_OP_GEMM && n->op != LUCID_OP_FUSED_GEMM)
        return refuse(why, why_len, "not a Gemm, FusedGemm or MatMul");
    const lucid_ir_tensor *a = lucid_op_input(g, n, 0), *b = lucid_op_input(g, n, 1),
                          *c = matmul ? NULL : lucid_op_input(g, n, 2),
                          *y = lucid_op_output(g, n, 0);
    if (!a || !b || !y) return refuse(why, why_len, "missing inputs");
    if (a->dtype != LUCID_DTYPE_FLOAT || b->dtype != LUCID_DTYPE_FLOAT ||
        y->dtype != LUCID_DTYPE_FLOAT || (c && c->dtype != LUCID_DTYPE_FLOAT))
        return refuse(why, why_len, "only float32");
    if (!lucid_tensor_shape_known(a) || !lucid_tensor_shape_known(y))
        return refuse(why, why_len, "needs static shapes");
    /* the libraries pack B once at prepare: it must be a weight */
    if (!b->data || b->rank != 2) return refuse(why, why_len, "B is not a constant 2-D matrix");
    if (c && !c->data) return refuse(why, why_len, "C is not a constant");
    p->b = b->data;
    if (matmul) {
        if (a->rank < 2) return refuse(why, why_len, "MatMul with a 1-D A");
        p->m = 1;
        for (int i = 0; i < a->rank - 1; i++) p->m *= a->dims[i];
        p->k = a->dims[a->rank - 1];
        p->n = b->dims[1];
        if (b->dims[0] != p->k) return refuse(why, why_len, "inconsistent shapes");
    } else {
        int64_t ta, tb;
        if (lucid_attr_int(n, "transA", 0, &ta, NULL) || lucid_attr_int(n, "transB", 0, &tb, NULL) ||
            lucid_attr_float(n, "alpha", 1.0f, &p->alpha, NULL) ||
            lucid_attr_float(n, "beta", 1.0f, &p->beta, NULL))
            return refuse(why, why_len, "unreadable attributes");
        if (a->rank != 2) return refuse(why, why_len, "Gemm with A not 2-D");
        p->trans_a = ta != 0;
        p->trans_b = tb != 0;
        p->m = p->trans_a ? a->dims[1] : a->dims[0];
        p->k = p->trans_a ? a->dims[0] : a->dims[1];
        p->n = p->trans_b ? b->dims[0] : b->dims[1];
        if ((p->trans_b ? b->dims[1] : b->dims[0]) != p->k)
            return refuse(why, why_len, "inconsistent shapes");
        if (c) {
            int64_t cm = c->rank == 2 ? c->dims[0] : 1;
            int64_t cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
            if (c->rank > 2 || (cm != 1 && cm != p->m) || (cn != 1 && cn != p->n))
                return refuse(why, why_len, "C does not broadcast to M x N");
            p->c = c->data;
            p->c_rs = cm == 1 ? 0 : cn;
            p->c_cs = cn == 1 ? 0 : 1;
        }
        if (n->op == LUCID_OP_FUSED_GEMM) {
            const lucid_activation *act = lucid_node_activation(n);
            if (!act) return refuse(why, why_len, "activation not parsed");
            p->act = *act;
        }
    }
    if (p->m < 1 || p->n < 1 || p->k < 1) return refuse(why, why_len, "empty product");
    if (p->m > INT32_MAX || p->n > INT32_MAX || p->k > INT32_MAX)
        return refuse(why, why_len, "dimensions beyond 32-bit BLAS indices");
    if (lucid_tensor_numel(y) != p->m * p->n) return refuse(why, why_len, "inconsistent shapes");
    return true;
}

void lucid_blas_product_fill_c(const lucid_blas_product *p, float *y)
{
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++)
            y[i * p->n + j] = p->beta * p->c[i * p->c_rs + j * p->c_cs];
}

void lucid_blas_apply_act(const lucid_activation *a, float *y, int64_t count)
{
    switch (a->kind) {
    case LUCID_ACT_NONE: return;
    case LUCID_ACT_RELU:
        /* the common case gets a loop the compiler vectorizes */
        for (int64_t i = 0; i < count; i++) y[i] = y[i] < 0 ? 0.0f : y[i];
        return;
    default:
        for (int64_t i = 0; i < count; i++) y[i] = lucid_activation_apply(a, y[i]);
        return;
    }
}
