/* gemm.c - Gemm and MatMul: attributes, shapes with broadcasting, MAC counts, reference kernels. */
#include <string.h>

#include "core/util.h"
#include "ops/gemm.h"

typedef lucid_gemm_params gemm_params;

static const lucid_dtype gemm_types[] = {
    LUCID_DTYPE_FLOAT,    LUCID_DTYPE_DOUBLE, LUCID_DTYPE_FLOAT16,
    LUCID_DTYPE_BFLOAT16, LUCID_DTYPE_INT32,  LUCID_DTYPE_INT64,
    LUCID_DTYPE_UINT32,   LUCID_DTYPE_UINT64, LUCID_DTYPE_UNDEFINED};

static bool gemm_is_int(lucid_dtype t)
{
    return t == LUCID_DTYPE_INT32 || t == LUCID_DTYPE_INT64 || t == LUCID_DTYPE_UINT32 ||
           t == LUCID_DTYPE_UINT64;
}

/* One matrix product Y[M,N] = A[M,K] x B[K,N] where A[i,k] = a[i*ars + k*acs] and
 * B[k,j] = b[k*brs + j*bcs]. Every Y[i,j] is summed over k in ascending order, starting from
 * zero, whichever loop order is used, so results do not depend on the layout. */
static void gemm_f32(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars, int64_t acs,
                     const float *b, int64_t brs, int64_t bcs, float *y)
{
    for (int64_t i = 0; i < m; i++) {
        float *yr = y + i * n;
        if (bcs == 1) {
            /* i-k-j: the innermost loop streams along rows of B and Y */
            for (int64_t j = 0; j < n; j++)
                yr[j] = 0.0f;
            for (int64_t p = 0; p < k; p++) {
                const float av = a[i * ars + p * acs];
                const float *br = b + p * brs;
                for (int64_t j = 0; j < n; j++)
                    yr[j] += av * br[j];
            }
        } else {
            /* B is stored transposed (its columns are contiguous): dot products */
            for (int64_t j = 0; j < n; j++) {
                float acc = 0.0f;
                const float *bc = b + j * bcs;
                for (int64_t p = 0; p < k; p++)
                    acc += a[i * ars + p * acs] * bc[p * brs];
                yr[j] = acc;
            }
        }
    }
}

/* The same product for every other dtype: floating types accumulate in double, integer
 * types in wrapping 64-bit arithmetic (as C unsigned arithmetic defines it). */
static void gemm_generic(lucid_dtype t, int64_t m, int64_t n, int64_t k, const void *a, int64_t ars,
                         int64_t acs, const void *b, int64_t brs, int64_t bcs, void *y)
{
    bool is_int = gemm_is_int(t);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            if (is_int) {
                uint64_t acc = 0;
                for (int64_t p = 0; p < k; p++)
                    acc += (uint64_t)lucid_load_i64(t, a, i * ars + p * acs) *
                           (uint64_t)lucid_load_i64(t, b, p * brs + j * bcs);
                lucid_store_i64(t, y, i * n + j, (int64_t)acc);
            } else {
                double acc = 0.0;
                for (int64_t p = 0; p < k; p++)
                    acc += lucid_load_f64(t, a, i * ars + p * acs) *
                           lucid_load_f64(t, b, p * brs + j * bcs);
                lucid_store_f64(t, y, i * n + j, acc);
            }
        }
}

/* ---- Gemm ------------------------------------------------------------------------ */

static lucid_status gemm_parse(const lucid_graph *g, const lucid_node *n, void *params,
                               lucid_error *err)
{
    gemm_params *p = params;
    lucid_status st;
    if ((st = lucid_attr_float(n, "alpha", 1.0f, &p->alpha, err)) ||
        (st = lucid_attr_float(n, "beta", 1.0f, &p->beta, err)) ||
        (st = lucid_attr_int(n, "transA", 0, &p->trans_a, err)) ||
        (st = lucid_attr_int(n, "transB", 0, &p->trans_b, err)))
        return st;
    if ((p->trans_a != 0 && p->trans_a != 1) || (p->trans_b != 0 && p->trans_b != 1))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "transA and transB must be 0 or 1 (got %lld and %lld)",
                                 (long long)p->trans_a, (long long)p->trans_b);
    return LUCID_STATUS_OK;
}

/* M, N, K of a Gemm and C's strides over (i, j) after unidirectional broadcasting
 * (c_rank -1 when C is absent). */
typedef struct gemm_geom {
    int64_t m, n, k, c_si, c_sj;
} gemm_geom;

static lucid_status gemm_geometry(const lucid_node *n, const gemm_params *p, int ar,
                                  const int64_t *ad, int br, const int64_t *bd, int cr,
                                  const int64_t *cd, gemm_geom *g, lucid_error *err)
{
    char sa[128], sb[128];
    if (ar != 2 || br != 2)
        return lucid_node_errorf(
            n, err, LUCID_STATUS_INVALID_MODEL, "inputs A %s and B %s must both be 2-D",
            lucid_shape_str(ar, ad, sa, sizeof sa), lucid_shape_str(br, bd, sb, sizeof sb));
    g->m = p->trans_a ? ad[1] : ad[0];
    g->k = p->trans_a ? ad[0] : ad[1];
    int64_t kb = p->trans_b ? bd[1] : bd[0];
    g->n = p->trans_b ? bd[0] : bd[1];
    if (kb != g->k)
        return lucid_node_errorf(
            n, err, LUCID_STATUS_INVALID_MODEL, "inner dimensions differ: A %s%s and B %s%s",
            lucid_shape_str(ar, ad, sa, sizeof sa), p->trans_a ? " (transposed)" : "",
            lucid_shape_str(br, bd, sb, sizeof sb), p->trans_b ? " (transposed)" : "");
    g->c_si = g->c_sj = 0;
    if (cr < 0) return LUCID_STATUS_OK;
    int64_t c0 = cr == 2 ? cd[0] : 1, c1 = cr >= 1 ? cd[cr - 1] : 1;
    if (cr > 2 || (c0 != 1 && c0 != g->m) || (c1 != 1 && c1 != g->n))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input C %s does not broadcast to the %lldx%lld result",
                                 lucid_shape_str(cr, cd, sa, sizeof sa), (long long)g->m,
                                 (long long)g->n);
    g->c_si = c0 == 1 ? 0 : c1;
    g->c_sj = c1 == 1 ? 0 : 1;
    return LUCID_STATUS_OK;
}

static lucid_status gemm_infer(lucid_graph *gr, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *a = lucid_op_input(gr, n, 0), *b = lucid_op_input(gr, n, 1),
                          *c = lucid_op_input(gr, n, 2);
    lucid_status st;
    for (int i = 0; i < 3; i++)
        if ((st = lucid_op_check_dtype(gr, n, i, gemm_types, err))) return st;
    if (b->dtype != a->dtype || (c && c->dtype != a->dtype))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "inputs have different dtypes (A %s, B %s%s%s)",
                                 lucid_dtype_name(a->dtype), lucid_dtype_name(b->dtype),
                                 c ? ", C " : "", c ? lucid_dtype_name(c->dtype) : "");
    gemm_geom g = {0};
    st = gemm_geometry(n, n->params, a->rank, a->dims, b->rank, b->dims, c ? c->rank : -1,
                       c ? c->dims : NULL, &g, err);
    if (st) return st;
    int64_t dims[2] = {g.m, g.n};
    return lucid_op_set_output(gr, n, 0, a->dtype, 2, dims, err);
}

static void gemm_cost(const lucid_graph *gr, const lucid_node *n, double *macs, double *flops)
{
    const lucid_ir_tensor *a = lucid_op_input(gr, n, 0), *b = lucid_op_input(gr, n, 1),
                          *c = lucid_op_input(gr, n, 2);
    const gemm_params *p = n->params;
    gemm_geom g = {0};
    if (gemm_geometry(n, p, a->rank, a->dims, b->rank, b->dims, c ? c->rank : -1,
                      c ? c->dims : NULL, &g, NULL))
        return;
    double mn = (double)g.m * (double)g.n;
    *macs = mn * (double)g.k;
    *flops = (p->alpha != 1.0f ? mn : 0) + (c ? 2 * mn : 0);
}

static lucid_status gemm_run(const lucid_node *n, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, lucid_error *err)
{
    const gemm_params *p = n->params;
    const lucid_array *c = n_in > 2 && in[2].data ? &in[2] : NULL;
    gemm_geom g = {0};
    lucid_status st = gemm_geometry(n, p, in[0].rank, in[0].dims, in[1].rank, in[1].dims,
                                    c ? c->rank : -1, c ? c->dims : NULL, &g, err);
    if (st) return st;
    lucid_dtype t = in[0].dtype;
    if (in[1].dtype != t || (c && c->dtype != t) || out[0].dtype != t)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "dtype mismatch at run time");
    /* 16-bit floats: product, alpha and beta * C in float32, rounded once (rounding the
     * product before adding C would round twice) */
    if (lucid_dtype_is_float16(t)) return lucid_op_run_widened(n, gemm_run, in, n_in, out, n_out, err);
    /* A[i,k] and B[k,j] as strided views of the stored (possibly transposed) matrices */
    int64_t ars = p->trans_a ? 1 : g.k, acs = p->trans_a ? g.m : 1;
    int64_t brs = p->trans_b ? 1 : g.n, bcs = p->trans_b ? g.k : 1;
    void *y = out[0].data;
    if (t == LUCID_DTYPE_FLOAT) {
        gemm_f32(g.m, g.n, g.k, in[0].data, ars, acs, in[1].data, brs, bcs, y);
        float *yf = y;
        const float *cf = c ? c->data : NULL;
        if (p->alpha != 1.0f || cf)
            for (int64_t i = 0; i < g.m; i++)
                for (int64_t j = 0; j < g.n; j++) {
                    float v = p->alpha * yf[i * g.n + j];
                    if (cf) v += p->beta * cf[i * g.c_si + j * g.c_sj];
                    yf[i * g.n + j] = v;
                }
        return LUCID_STATUS_OK;
    }
    gemm_generic(t, g.m, g.n, g.k, in[0].data, ars, acs, in[1].data, brs, bcs, y);
    if (p->alpha == 1.0f && !c) return LUCID_STATUS_OK;
    for (int64_t i = 0; i < g.m; i++)
        for (int64_t j = 0; j < g.n; j++) {
            int64_t o = i * g.n + j;
            if (gemm_is_int(t)) {
                /* integer Gemm scales with the float attributes, then truncates */
                double v = (double)p->alpha * (double)lucid_load_i64(t, y, o);
                if (c)
                    v += (double)p->beta *
                         (double)lucid_load_i64(t, c->data, i * g.c_si + j * g.c_sj);
                lucid_store_f64(t, y, o, v);
            } else {
                double v = (double)p->alpha * lucid_load_f64(t, y, o);
                if (c) v += (double)p->beta * lucid_load_f64(t, c->data, i * g.c_si + j * g.c_sj);
                lucid_store_f64(t, y, o, v);
            }
        }
    return LUCID_STATUS_OK;
}

/* ---- MatMul ---------------------------------------------------------------------- */

/* NumPy matmul geometry: 1-D operands are promoted to matrices (A to 1xK, B to Kx1) and the
 * added dimension removed from the result; leading (batch) dimensions broadcast. */
typedef struct matmul_geom {
    int64_t m, n, k;
    int batch_rank;
    int64_t batch[LUCID_MAX_RANK];
    int64_t a_bstride[LUCID_MAX_RANK], b_bstride[LUCID_MAX_RANK]; /* 0 where broadcast */
    int out_rank;
    int64_t out[LUCID_MAX_RANK];
} matmul_geom;

static lucid_status matmul_geometry(const lucid_node *n, int ar, const int64_t *ad, int br,
                                    const int64_t *bd, matmul_geom *g, lucid_error *err)
{
    char sa[128], sb[128];
    if (ar < 1 || br < 1)
        return lucid_node_errorf(
            n, err, LUCID_STATUS_INVALID_MODEL, "inputs A %s and B %s must have rank 1 or more",
            lucid_shape_str(ar, ad, sa, sizeof sa), lucid_shape_str(br, bd, sb, sizeof sb));
    g->m = ar == 1 ? 1 : ad[ar - 2];
    g->k = ad[ar - 1];
    int64_t kb = br == 1 ? bd[0] : bd[br - 2];
    g->n = br == 1 ? 1 : bd[br - 1];
    if (kb != g->k)
        return lucid_node_errorf(
            n, err, LUCID_STATUS_INVALID_MODEL, "inner dimensions differ: A %s and B %s",
            lucid_shape_str(ar, ad, sa, sizeof sa), lucid_shape_str(br, bd, sb, sizeof sb));
    int abr = ar > 2 ? ar - 2 : 0, bbr = br > 2 ? br - 2 : 0;
    lucid_status st = lucid_op_broadcast(n, abr, ad, bbr, bd, &g->batch_rank, g->batch, err);
    if (st) return st;
    /* strides of each operand's batch dims in matrices, aligned to the right */
    int64_t sa_ = g->m * g->k, sb_ = g->k * g->n;
    for (int i = g->batch_rank - 1; i >= 0; i--) {
        int ia = i - (g->batch_rank - abr), ib = i - (g->batch_rank - bbr);
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        g->a_bstride[i] = da == 1 ? 0 : sa_;
        g->b_bstride[i] = db == 1 ? 0 : sb_;
        sa_ *= da;
        sb_ *= db;
    }
    g->out_rank = 0;
    for (int i = 0; i < g->batch_rank; i++)
        g->out[g->out_rank++] = g->batch[i];
    if (ar > 1) g->out[g->out_rank++] = g->m;
    if (br > 1) g->out[g->out_rank++] = g->n;
    if (g->out_rank > LUCID_MAX_RANK)
        return lucid_node_errorf(n, err, LUCID_STATUS_LIMIT_EXCEEDED,
                                 "the result would have rank %d (at most %d)", g->out_rank,
                                 LUCID_MAX_RANK);
    return LUCID_STATUS_OK;
}

static lucid_status matmul_infer(lucid_graph *gr, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *a = lucid_op_input(gr, n, 0), *b = lucid_op_input(gr, n, 1);
    lucid_status st;
    if ((st = lucid_op_check_dtype(gr, n, 0, gemm_types, err))) return st;
    if (b->dtype != a->dtype)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "inputs have different dtypes (A %s, B %s)",
                                 lucid_dtype_name(a->dtype), lucid_dtype_name(b->dtype));
    matmul_geom g = {0};
    if ((st = matmul_geometry(n, a->rank, a->dims, b->rank, b->dims, &g, err))) return st;
    return lucid_op_set_output(gr, n, 0, a->dtype, g.out_rank, g.out, err);
}

static void matmul_cost(const lucid_graph *gr, const lucid_node *n, double *macs, double *flops)
{
    const lucid_ir_tensor *a = lucid_op_input(gr, n, 0), *b = lucid_op_input(gr, n, 1);
    matmul_geom g = {0};
    if (matmul_geometry(n, a->rank, a->dims, b->rank, b->dims, &g, NULL)) return;
    double batches = 1;
    for (int i = 0; i < g.batch_rank; i++)
        batches *= (double)g.batch[i];
    *macs = batches * (double)g.m * (double)g.n * (double)g.k;
}

static lucid_status matmul_run(const lucid_node *n, const lucid_array *in, int n_in,
                               lucid_array *out, int n_out, lucid_error *err)
{
    matmul_geom g = {0};
    lucid_status st = matmul_geometry(n, in[0].rank, in[0].dims, in[1].rank, in[1].dims, &g, err);
    if (st) return st;
    lucid_dtype t = in[0].dtype;
    if (in[1].dtype != t || out[0].dtype != t)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "dtype mismatch at run time");
    int64_t batches = 1;
    for (int i = 0; i < g.batch_rank; i++)
        batches *= g.batch[i];
    size_t es = lucid_dtype_size(t);
    int64_t idx[LUCID_MAX_RANK] = {0};
    for (int64_t bi = 0; bi < batches; bi++) {
        int64_t aoff = 0, boff = 0;
        for (int i = 0; i < g.batch_rank; i++) {
            aoff += idx[i] * g.a_bstride[i];
            boff += idx[i] * g.b_bstride[i];
        }
        const char *a = (const char *)in[0].data + (size_t)aoff * es;
        const char *b = (const char *)in[1].data + (size_t)boff * es;
        char *y = (char *)out[0].data + (size_t)(bi * g.m * g.n) * es;
        if (t == LUCID_DTYPE_FLOAT)
            gemm_f32(g.m, g.n, g.k, (const float *)a, g.k, 1, (const float *)b, g.n, 1, (float *)y);
        else
            gemm_generic(t, g.m, g.n, g.k, a, g.k, 1, b, g.n, 1, y);
        for (int i = g.batch_rank - 1; i >= 0; i--) {
            if (++idx[i] < g.batch[i]) break;
            idx[i] = 0;
        }
    }
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_gemm = {
    .name = "Gemm",
    .min_inputs = 2,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(gemm_params),
    .parse = gemm_parse,
    .infer = gemm_infer,
    .cost = gemm_cost,
    .run = gemm_run,
};

const lucid_op_def lucid_op_def_matmul = {
    .name = "MatMul",
    .min_inputs = 2,
    .max_inputs = 2,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = 0,
    .infer = matmul_infer,
    .cost = matmul_cost,
    .run = matmul_run,
};
