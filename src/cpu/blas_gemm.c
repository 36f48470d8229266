/* blas_gemm.c - blas.gemm.f32.sgemm: Gemm, FusedGemm and MatMul with constant B through
 * OpenBLAS's cblas_sgemm, beta * C written to the output first (sgemm accumulates into it),
 * the activation applied after. */
#ifdef LUCID_HAVE_BLAS

#include <stdlib.h>

#include "cpu/blas_common.h"
#include "cpu/blas_product.h"
#include "ops/op.h"

static bool blas_gemm_supports(const lucid_graph *g, const lucid_node *n,
                               const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!lucid_blas_cap_ok(cpu, why, why_len)) return false;
    lucid_blas_product p;
    return lucid_blas_product_resolve(g, n, &p, why, why_len);
}

/* The state is the resolved product; B and C point into the graph's constants, which the
 * plan owning the graph keeps alive as long as its tactics. */
static lucid_status blas_gemm_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                      void **state, lucid_error *err)
{
    (void)max_threads;
    char why[256] = "";
    lucid_blas_product *p = malloc(sizeof *p);
    if (!p) return lucid_node_errorf(n, err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!lucid_blas_product_resolve(g, n, p, why, sizeof why)) {
        free(p);
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    }
    *state = p;
    return LUCID_STATUS_OK;
}

static void blas_gemm_release(void *state)
{
    free(state);
}

static lucid_status blas_gemm_run(const void *state, const lucid_array *in, int n_in,
                                  lucid_array *out, int n_out, void *workspace,
                                  lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)workspace;
    (void)err;
    const lucid_blas_product *p = state;
    float *y = out[0].data;
    if (p->c) lucid_blas_product_fill_c(p, y);
    lucid_blas_threads_set(pool);
    cblas_sgemm(CblasRowMajor, p->trans_a ? CblasTrans : CblasNoTrans,
                p->trans_b ? CblasTrans : CblasNoTrans, (blasint)p->m, (blasint)p->n,
                (blasint)p->k, p->alpha, in[0].data, (blasint)(p->trans_a ? p->m : p->k), p->b,
                (blasint)(p->trans_b ? p->k : p->n), p->c ? 1.0f : 0.0f, y, (blasint)p->n);
    lucid_blas_apply_act(&p->act, y, p->m * p->n);
    return LUCID_STATUS_OK;
}

const lucid_tactic lucid_tactic_blas_gemm_f32_sgemm = {
    .name = "blas.gemm.f32.sgemm",
    .backend = "blas",
    .flags = LUCID_TACTIC_THREAD_DEPENDENT,
    .preference = 420,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = blas_gemm_supports,
    .prepare = blas_gemm_prepare,
    .release = blas_gemm_release,
    .workspace = lucid_tactic_no_workspace,
    .run = blas_gemm_run,
};

#endif
