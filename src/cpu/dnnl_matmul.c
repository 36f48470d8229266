/* dnnl_matmul.c - the oneDNN matmul tactics dnnl.matmul.f32 (and .bf16: bfloat16 A, B and Y,
 * float32 bias and accumulation) for Gemm, FusedGemm and MatMul
 * with constant B: alpha folded into B and beta * C into the bias at prepare, B reordered to
 * the layout oneDNN prefers, the activation as eltwise post-ops. Gemm's transposed A is read
 * through strides. Deterministic for a fixed thread count (see dnnl_common.h). */
#ifdef LUCID_HAVE_DNNL

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "cpu/blas_product.h"
#include "cpu/dnnl_common.h"
#include "cpu/half_convert.h"
#include "ops/op.h"

typedef struct dnnl_matmul_state {
    lucid_blas_product p;
    dnnl_engine_t eng;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a_md, b_md, y_md;
    const dnnl_memory_desc_t *w_md; /* owned by pd */
    void *w;                        /* alpha * B in w_md's layout */
    float *bias;                    /* beta * C in b_md's (broadcast) shape, or NULL */
    size_t scratch;
} dnnl_matmul_state;

static void dnnl_matmul_release(void *state)
{
    dnnl_matmul_state *s = state;
    if (!s) return;
    if (s->prim) dnnl_primitive_destroy(s->prim);
    if (s->pd) dnnl_primitive_desc_destroy(s->pd);
    if (s->eng) dnnl_engine_destroy(s->eng);
    free(s->w);
    free(s->bias);
    free(s);
}

static bool dnnl_matmul_build(const lucid_graph *g, const lucid_node *n, dnnl_data_type_t dt,
                              bool full, int max_threads, dnnl_matmul_state **out, char *why,
                              size_t why_len)
{
    dnnl_matmul_state *s = calloc(1, sizeof *s);
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_status_t ds = dnnl_success;
    float *scaled = NULL;
    const char *stage = "";
    bool ok = false;
    int old_threads = lucid_dnnl_threads_set(max_threads);
    *out = NULL;
    if (!s) {
        snprintf(why, why_len, "out of memory");
        goto done;
    }
    lucid_blas_product *p = &s->p;
    if (!lucid_blas_product_resolve(g, n, p, why, why_len)) goto done;
    const int64_t m = p->m, nn = p->n, k = p->k;
    dnnl_dims_t ad = {m, k}, as = {p->trans_a ? 1 : k, p->trans_a ? m : 1};
    dnnl_dims_t wd = {k, nn}, ws = {p->trans_b ? 1 : nn, p->trans_b ? k : 1};
    dnnl_dims_t yd = {m, nn};
    /* beta * C keeps C's broadcast: a bias dimension of 1 broadcasts in oneDNN's matmul */
    const int64_t bm = p->c_rs ? m : 1, bn = p->c_cs ? nn : 1;
    dnnl_dims_t bd = {bm, bn};
    dnnl_memory_desc_t wp_md, w_any;
    stage = "engine";
    if ((ds = dnnl_engine_create(&s->eng, dnnl_cpu, 0))) goto fail;
    stage = "memory descriptors";
    /* B comes as float32 (a bfloat16 layer's widened exactly) and is reordered into dt; the
     * bias stays float32 */
    if ((ds = dnnl_memory_desc_init_by_strides(&s->a_md, 2, ad, dt, as)) ||
        (ds = dnnl_memory_desc_init_by_strides(&wp_md, 2, wd, dnnl_f32, ws)) ||
        (ds = dnnl_memory_desc_init_by_tag(&w_any, 2, wd, dt, dnnl_format_tag_any)) ||
        (ds = dnnl_memory_desc_init_by_tag(&s->y_md, 2, yd, dt, dnnl_ab)) ||
        (ds = dnnl_memory_desc_init_by_tag(&s->b_md, 2, bd, dnnl_f32, dnnl_ab)))
        goto fail;
    stage = "post-ops";
    if ((ds = dnnl_post_ops_create(&po))) goto fail;
    if (!lucid_dnnl_append_act(po, &p->act, why, why_len)) goto done;
    if (!(attr = lucid_dnnl_attr_create(po))) {
        ds = dnnl_out_of_memory;
        goto fail;
    }
    stage = "matmul descriptor";
    dnnl_matmul_desc_t md;
    if ((ds = dnnl_matmul_desc_init(&md, &s->a_md, &w_any, p->c ? &s->b_md : NULL, &s->y_md)))
        goto fail;
    stage = "matmul primitive descriptor";
    if ((ds = dnnl_primitive_desc_create(&s->pd, &md, attr, s->eng, NULL))) goto fail;
    s->w_md = dnnl_primitive_desc_query_md(s->pd, dnnl_query_weights_md, 0);
    s->scratch = lucid_dnnl_scratchpad_size(s->pd);
    if (full) {
        stage = "weights";
        const size_t bcount = (size_t)(k * nn);
        const float *b = p->b;
        if (p->alpha != 1.0f) {
            if (!(scaled = malloc(sizeof(float) * bcount))) {
                ds = dnnl_out_of_memory;
                goto fail;
            }
            for (size_t i = 0; i < bcount; i++)
                scaled[i] = p->alpha * p->b[i];
            b = scaled;
        }
        if ((ds = lucid_dnnl_reorder_const(s->eng, &wp_md, b, s->w_md, &s->w))) goto fail;
        if (p->c) {
            if (!(s->bias = malloc(sizeof(float) * (size_t)(bm * bn)))) {
                ds = dnnl_out_of_memory;
                goto fail;
            }
            for (int64_t i = 0; i < bm; i++)
                for (int64_t j = 0; j < bn; j++)
                    s->bias[i * bn + j] = p->beta * p->c[i * p->c_rs + j * p->c_cs];
        }
        stage = "matmul primitive";
        if ((ds = dnnl_primitive_create(&s->prim, s->pd))) goto fail;
    }
    ok = true;
    goto done;
fail:
    /* out of memory, lucid's or oneDNN's, is no refusal of the layer: the builder reports it */
    if (ds == dnnl_out_of_memory) snprintf(why, why_len, "%s", LUCID_WHY_OOM);
    else snprintf(why, why_len, "oneDNN %s: status %d", stage, (int)ds);
done:
    free(scaled);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (po) dnnl_post_ops_destroy(po);
    lucid_dnnl_threads_set(old_threads);
    if (ok)
        *out = s;
    else
        dnnl_matmul_release(s);
    return ok;
}

static bool dnnl_matmul_supports(const lucid_graph *g, const lucid_node *n,
                                 const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!lucid_dnnl_cap_ok(cpu, why, why_len)) return false;
    dnnl_matmul_state *s;
    if (!dnnl_matmul_build(g, n, dnnl_f32, false, 1, &s, why, why_len)) return false;
    dnnl_matmul_release(s);
    return true;
}

/* bfloat16 layers: oneDNN is given the layer's float32 copy for its shapes and weights */
static bool dnnl_matmul_bf16_build(const lucid_graph *g, const lucid_node *n, bool full,
                                   int max_threads, dnnl_matmul_state **out, char *why,
                                   size_t why_len)
{
    *out = NULL;
    const lucid_ir_tensor *a = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if (!a || !y || a->dtype != LUCID_DTYPE_BFLOAT16 || y->dtype != LUCID_DTYPE_BFLOAT16) {
        snprintf(why, why_len, "only bfloat16");
        return false;
    }
    lucid_graph *sg = lucid_half_shadow_create(g, n, why, why_len);
    if (!sg) return false;
    bool ok = dnnl_matmul_build(sg, &sg->nodes[0], dnnl_bf16, full, max_threads, out, why, why_len);
    lucid_graph_destroy(sg);
    return ok;
}

static bool dnnl_matmul_bf16_supports(const lucid_graph *g, const lucid_node *n,
                                      const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!cpu->avx512_bf16) {
        snprintf(why, why_len, "needs AVX512-BF16");
        return false;
    }
    if (!lucid_dnnl_cap_ok(cpu, why, why_len)) return false;
    dnnl_matmul_state *s;
    if (!dnnl_matmul_bf16_build(g, n, false, 1, &s, why, why_len)) return false;
    dnnl_matmul_release(s);
    return true;
}

static lucid_status dnnl_matmul_bf16_prepare(const lucid_graph *g, const lucid_node *n,
                                             int max_threads, void **state, lucid_error *err)
{
    char why[256] = "";
    dnnl_matmul_state *s;
    if (!dnnl_matmul_bf16_build(g, n, true, max_threads, &s, why, sizeof why))
        return lucid_node_errorf(n, err, lucid_why_status(why), "%s", why);
    *state = s;
    return LUCID_STATUS_OK;
}

static lucid_status dnnl_matmul_prepare(const lucid_graph *g, const lucid_node *n, int max_threads,
                                        void **state, lucid_error *err)
{
    char why[256] = "";
    dnnl_matmul_state *s;
    if (!dnnl_matmul_build(g, n, dnnl_f32, true, max_threads, &s, why, sizeof why))
        return lucid_node_errorf(n, err, lucid_why_status(why), "%s", why);
    *state = s;
    return LUCID_STATUS_OK;
}

static size_t dnnl_matmul_workspace(const void *state, int threads)
{
    (void)threads;
    return lucid_dnnl_round(((const dnnl_matmul_state *)state)->scratch);
}

static lucid_status dnnl_matmul_run_bound(const void *state, void *bound, const lucid_array *in,
                                          int n_in, lucid_array *out, int n_out, void *workspace,
                                          lucid_threadpool *pool, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    const dnnl_matmul_state *s = state;
    const dnnl_memory_desc_t *smd =
        dnnl_primitive_desc_query_md(s->pd, dnnl_query_scratchpad_md, 0);
    lucid_dnnl_arg a[5] = {{DNNL_ARG_SRC, &s->a_md, in[0].data},
                           {DNNL_ARG_WEIGHTS, s->w_md, s->w},
                           {DNNL_ARG_DST, &s->y_md, out[0].data},
                           {DNNL_ARG_SCRATCHPAD, smd, workspace},
                           {DNNL_ARG_BIAS, &s->b_md, s->bias}};
    dnnl_status_t ds =
        lucid_dnnl_run_one(s->eng, bound, s->prim, a, s->bias ? 5 : 4, lucid_threadpool_size(pool));
    return ds == dnnl_success ? LUCID_STATUS_OK : lucid_dnnl_error(err, "matmul", ds);
}
LUCID_DNNL_UNBOUND_RUN(dnnl_matmul_run, dnnl_matmul_run_bound)

const lucid_tactic lucid_tactic_dnnl_matmul_f32 = {
    .name = "dnnl.matmul.f32",
    .backend = "dnnl",
    .flags = LUCID_TACTIC_THREAD_DEPENDENT,
    .preference = 402,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = dnnl_matmul_supports,
    .prepare = dnnl_matmul_prepare,
    .release = dnnl_matmul_release,
    .workspace = dnnl_matmul_workspace,
    .run = dnnl_matmul_run,
    .bind = lucid_dnnl_bind,
    .unbind = lucid_dnnl_unbind,
    .run_bound = dnnl_matmul_run_bound,
};

const lucid_tactic lucid_tactic_dnnl_matmul_bf16 = {
    .name = "dnnl.matmul.bf16",
    .backend = "dnnl",
    .flags = LUCID_TACTIC_THREAD_DEPENDENT,
    .preference = 410,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .precision = LUCID_PRECISION_BF16,
    .supports = dnnl_matmul_bf16_supports,
    .prepare = dnnl_matmul_bf16_prepare,
    .release = dnnl_matmul_release,
    .workspace = dnnl_matmul_workspace,
    .run = dnnl_matmul_run,
    .bind = lucid_dnnl_bind,
    .unbind = lucid_dnnl_unbind,
    .run_bound = dnnl_matmul_run_bound,
};

#endif
