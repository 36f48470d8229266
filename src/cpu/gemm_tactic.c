/* gemm_tactic.c - tactics cpu.gemm.f32.{avx512,avx2,generic}: Gemm, FusedGemm and MatMul with
 * a constant 2-D B, through the packed GEMM (B packed once at prepare, A per run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/gemm.h"
#include "ops/op.h"
#include "tactics/tactic.h"

/* A layer as one product: Y[M,N] = epilogue(A[M,K] B[K,N]). MatMul's leading dimensions of
 * A all fold into M because B is shared (broadcast) by every batch entry. */
typedef struct gemm_desc {
    int64_t m, n, k;
    int64_t ars, acs;   /* A[i,k] = a[i*ars + k*acs] */
    int64_t brs, bcs;   /* B[k,j] = b[k*brs + j*bcs] */
    int64_t c_si, c_sj; /* Gemm's C after broadcasting */
    const float *b;
    lucid_epilogue epi; /* everything but the run-time addend pointer */
    bool has_c;
} gemm_desc;

static bool refuse(char *why, size_t why_len, const char *msg)
{
    if (why && why_len) snprintf(why, why_len, "%s", msg);
    return false;
}

static bool gemm_resolve(const lucid_graph *g, const lucid_node *n, gemm_desc *d, char *why,
                         size_t why_len)
{
    memset(d, 0, sizeof *d);
    d->epi.alpha = d->epi.beta = 1.0f;
    bool is_matmul = n->op == LUCID_OP_MATMUL;
    if (!is_matmul && n->op != LUCID_OP_GEMM && n->op != LUCID_OP_FUSED_GEMM)
        return refuse(why, why_len, "not a Gemm, FusedGemm or MatMul");
    const lucid_ir_tensor *a = lucid_op_input(g, n, 0), *b = lucid_op_input(g, n, 1),
                          *c = is_matmul ? NULL : lucid_op_input(g, n, 2),
                          *y = lucid_op_output(g, n, 0);
    if (!a || !b || !y || a->dtype != LUCID_DTYPE_FLOAT || b->dtype != LUCID_DTYPE_FLOAT ||
        y->dtype != LUCID_DTYPE_FLOAT || (c && c->dtype != LUCID_DTYPE_FLOAT))
        return refuse(why, why_len, "only float32");
    if (!lucid_tensor_shape_known(a) || !lucid_tensor_shape_known(y) ||
        (c && !lucid_tensor_shape_known(c)))
        return refuse(why, why_len, "needs static shapes");
    if (!b->data || b->rank != 2) return refuse(why, why_len, "needs a constant 2-D B");
    if (is_matmul) {
        if (a->rank < 1) return refuse(why, why_len, "A is a scalar");
        d->k = a->dims[a->rank - 1];
        d->n = b->dims[1];
        if (b->dims[0] != d->k) return refuse(why, why_len, "inner dimensions differ");
        int64_t numel = lucid_tensor_numel(a);
        d->m = d->k ? numel / d->k : 0;
        if (d->k == 0 && numel == 0) {
            /* an empty K: M is every dimension of A but the last */
            d->m = 1;
            for (int i = 0; i + 1 < a->rank; i++)
                d->m *= a->dims[i];
        }
        d->ars = d->k, d->acs = 1, d->brs = d->n, d->bcs = 1;
        if (lucid_tensor_numel(y) != d->m * d->n)
            return refuse(why, why_len, "output does not match A rows x B columns");
    } else {
        int64_t ta, tb;
        if (lucid_attr_int(n, "transA", 0, &ta, NULL) ||
            lucid_attr_int(n, "transB", 0, &tb, NULL) ||
            lucid_attr_float(n, "alpha", 1.0f, &d->epi.alpha, NULL) ||
            lucid_attr_float(n, "beta", 1.0f, &d->epi.beta, NULL))
            return refuse(why, why_len, "unreadable attributes");
        if (a->rank != 2 || y->rank != 2) return refuse(why, why_len, "A must be 2-D");
        d->m = ta ? a->dims[1] : a->dims[0];
        d->k = ta ? a->dims[0] : a->dims[1];
        d->n = tb ? b->dims[0] : b->dims[1];
        if ((tb ? b->dims[1] : b->dims[0]) != d->k || y->dims[0] != d->m || y->dims[1] != d->n)
            return refuse(why, why_len, "inconsistent shapes");
        d->ars = ta ? 1 : d->k, d->acs = ta ? d->m : 1;
        d->brs = tb ? 1 : d->n, d->bcs = tb ? d->k : 1;
        if (c) {
            int64_t c0 = c->rank == 2 ? c->dims[0] : 1,
                    c1 = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
            if (c->rank > 2 || (c0 != 1 && c0 != d->m) || (c1 != 1 && c1 != d->n))
                return refuse(why, why_len, "C does not broadcast to the result");
            d->c_si = c0 == 1 ? 0 : c1;
            d->c_sj = c1 == 1 ? 0 : 1;
            d->has_c = true;
        }
        if (n->op == LUCID_OP_FUSED_GEMM) {
            const lucid_activation *act = lucid_node_activation(n);
            if (!act) return refuse(why, why_len, "activation not parsed");
            d->epi.act = *act;
        }
    }
    d->b = b->data;
    return true;
}

typedef struct gemm_state {
    const lucid_gemm_kernel *kern;
    lucid_gemm_blocking blk;
    gemm_desc d;
    float *bpacked;
} gemm_state;

static bool gemm_supports_with(const lucid_gemm_kernel *kern, const lucid_graph *g,
                               const lucid_node *n, const lucid_cpu_features *cpu, char *why,
                               size_t why_len)
{
    if (!lucid_gemm_kernel_supported(kern, cpu))
        return refuse(why, why_len, "the CPU lacks the instruction set");
    gemm_desc d;
    return gemm_resolve(g, n, &d, why, why_len);
}

static lucid_status gemm_prepare_with(const lucid_gemm_kernel *kern, const lucid_graph *g,
                                      const lucid_node *n, void **state, lucid_error *err)
{
    char why[256] = "";
    gemm_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!gemm_resolve(g, n, &s->d, why, sizeof why)) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    s->kern = kern;
    s->blk = lucid_gemm_blocking_for(kern, s->d.m, s->d.n, s->d.k);
    size_t floats = lucid_gemm_packed_floats(s->d.n, s->d.k, kern->nr);
    s->bpacked = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    if (!s->bpacked) {
        free(s);
        return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY,
                                 "out of memory packing B (%zu bytes)", floats * sizeof(float));
    }
    /* B's panels run along its columns j: rows of the packer are columns of B */
    lucid_gemm_operand src = {
        .pack = lucid_gemm_pack_matrix, .data = s->d.b, .rs = s->d.bcs, .ks = s->d.brs};
    lucid_gemm_prepack(&s->blk, s->d.n, s->d.k, kern->nr, &src, s->bpacked);
    *state = s;
    return LUCID_STATUS_OK;
}

static void gemm_release(void *state)
{
    gemm_state *s = state;
    if (!s) return;
    free(s->bpacked);
    free(s);
}

static size_t gemm_ws_floats(const gemm_state *s)
{
    return lucid_gemm_workspace_floats(s->kern, &s->blk, true, false);
}

static size_t gemm_workspace(const void *state, int threads)
{
    return gemm_ws_floats(state) * sizeof(float) * (size_t)(threads > 0 ? threads : 1);
}

typedef struct gemm_run_ctx {
    lucid_gemm_problem p;
} gemm_run_ctx;

static void gemm_setup(const void *ctx, size_t index, lucid_gemm_problem *p)
{
    (void)index;
    *p = ((const gemm_run_ctx *)ctx)->p;
}

static lucid_status gemm_run(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    (void)err;
    const gemm_state *s = state;
    const gemm_desc *d = &s->d;
    gemm_run_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    lucid_gemm_problem *p = &ctx.p;
    p->m = d->m, p->n = d->n, p->k = d->k;
    p->a = (lucid_gemm_operand){
        .pack = lucid_gemm_pack_matrix, .data = in[0].data, .rs = d->ars, .ks = d->acs};
    p->b = (lucid_gemm_operand){.packed = s->bpacked};
    p->c = out[0].data;
    p->ldc = d->n;
    p->epi = d->epi;
    if (d->has_c && n_in > 2 && in[2].data) {
        p->epi.addend = in[2].data;
        p->epi.add_rs = d->c_si;
        p->epi.add_cs = d->c_sj;
    }
    lucid_gemm_run_batch(s->kern, &s->blk, 1, gemm_setup, &ctx, workspace, gemm_ws_floats(s), pool);
    return LUCID_STATUS_OK;
}

/* One tactic per kernel; results do not depend on the thread count (K is never split). */
#define GEMM_TACTIC(ISA, PREF)                                                                     \
    static bool gemm_supports_##ISA(const lucid_graph *g, const lucid_node *n,                     \
                                    const lucid_cpu_features *cpu, char *why, size_t why_len)      \
    {                                                                                              \
        return gemm_supports_with(&lucid_gemm_kernel_##ISA, g, n, cpu, why, why_len);              \
    }                                                                                              \
    static lucid_status gemm_prepare_##ISA(const lucid_graph *g, const lucid_node *n,              \
                                           int max_threads, void **state, lucid_error *err)        \
    {                                                                                              \
        (void)max_threads;                                                                         \
        return gemm_prepare_with(&lucid_gemm_kernel_##ISA, g, n, state, err);                      \
    }                                                                                              \
    const lucid_tactic lucid_tactic_cpu_gemm_f32_##ISA = {                                         \
        .name = "cpu.gemm.f32." #ISA,                                                              \
        .backend = "cpu",                                                                          \
        .flags = 0,                                                                                \
        .preference = PREF,                                                                        \
        .in_layout = LUCID_LAYOUT_PLAIN,                                                           \
        .out_layout = LUCID_LAYOUT_PLAIN,                                                          \
        .supports = gemm_supports_##ISA,                                                           \
        .prepare = gemm_prepare_##ISA,                                                             \
        .release = gemm_release,                                                                   \
        .workspace = gemm_workspace,                                                               \
        .run = gemm_run,                                                                           \
    };

GEMM_TACTIC(avx512, 100)
GEMM_TACTIC(avx2, 110)
GEMM_TACTIC(generic, 120)
