/* compress.c - lucid_compress_weights: finds the constant weights of the Conv, FusedConv,
 * Gemm, FusedGemm and MatMul layers of an optimized graph, prunes (prune.c) and clusters
 * (cluster.c) each weight tensor once, and reports what every layer's weights would take to
 * store. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/util.h"
#include "ops/gemm.h"
#include "ops/op.h"
#include "quant/quant.h"

/* prune.c and cluster.c */
int64_t lucid_prune_count(double sparsity, int64_t n);
lucid_status lucid_prune_magnitude(float *w, int64_t n, int64_t count, lucid_error *err);
void lucid_prune_2_4(float *w, int64_t outer, int64_t len, int64_t inner);
lucid_status lucid_cluster_weights(float *w, int64_t n, int bits, bool keep_zeros,
                                   lucid_error *err);

/* Sizes in the report (lucid has no sparse or clustered kernel: they are what the weights
 * would take to store, not a speedup). For a layer of n weights of which nnz are nonzero
 * after compression, with b = cluster_bits:
 *   bytes_before   4 n                                  (dense float32)
 *   pruned         ceil(n / 8) + 4 nnz                  (1-bit-per-weight bitmap + nonzeros)
 *   clustered      4 * 2^b + ceil(b n / 8)              (codebook + b-bit index per weight)
 *   both           ceil(n / 8) + 4 * 2^b + ceil(b nnz / 8)
 * "pruned" means pruning was applied to the layer (a 2:4 request on a layer whose reduction
 * axis is shorter than 2 leaves it unpruned). A skipped layer (not a float32 constant, or
 * holding a non-finite value) reports bytes_after = bytes_before = the bytes it is stored in,
 * zeros_after = zeros_before and distinct_after = 0.
 * The reason a layer was skipped or only partly compressed goes to its note. */
static void layer_note(lucid_compress_layer *l, const char *fmt, ...) LUCID_PRINTF(2, 3);
static void layer_note(lucid_compress_layer *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->note, sizeof l->note, fmt, ap);
    va_end(ap);
}

static bool is_weight_layer(int op)
{
    return op == LUCID_OP_CONV || op == LUCID_OP_FUSED_CONV || op == LUCID_OP_GEMM ||
           op == LUCID_OP_FUSED_GEMM || op == LUCID_OP_MATMUL;
}

/* The weight tensor of a live layer node (its input 1), or -1. */
static int weight_of(const lucid_node *n)
{
    if (n->dead || !is_weight_layer(n->op) || n->n_inputs < 2) return -1;
    return n->inputs[1];
}

/* The weight seen as [outer, len, inner] with len its reduction (input-channel) axis:
 * Conv W [M, C/group, k...]: M, C/group, prod(k); Gemm B [K, N]: 1, K, N, or with transB
 * B [N, K]: N, K, 1; MatMul B [..., K, N]: prod(...), K, N, and B [K]: 1, K, 1. False when
 * the shape is not one of these. */
static bool weight_geometry(const lucid_node *n, const lucid_ir_tensor *w, int64_t *outer,
                            int64_t *len, int64_t *inner)
{
    *outer = *len = *inner = 1;
    switch (n->op) {
    case LUCID_OP_CONV:
    case LUCID_OP_FUSED_CONV:
        if (w->rank < 2) return false;
        *outer = w->dims[0];
        *len = w->dims[1];
        for (int i = 2; i < w->rank; i++)
            *inner *= w->dims[i];
        return true;
    case LUCID_OP_GEMM:
    case LUCID_OP_FUSED_GEMM: {
        /* FusedGemm's params begin with Gemm's (ops/fused.c) */
        const lucid_gemm_params *p = n->params;
        if (w->rank != 2 || !p) return false;
        if (p->trans_b) {
            *outer = w->dims[0];
            *len = w->dims[1];
        } else {
            *len = w->dims[0];
            *inner = w->dims[1];
        }
        return true;
    }
    case LUCID_OP_MATMUL:
        if (w->rank < 1) return false;
        if (w->rank == 1) {
            *len = w->dims[0];
            return true;
        }
        for (int i = 0; i < w->rank - 2; i++)
            *outer *= w->dims[i];
        *len = w->dims[w->rank - 2];
        *inner = w->dims[w->rank - 1];
        return true;
    default:
        return false;
    }
}

/* Can t's data be changed where it is: an initializer that only weight-layer nodes read,
 * and only as their weight (not a graph output, nothing a view of it)? Otherwise the
 * compressed weight becomes a new constant and only those weight inputs read it. */
static bool weight_exclusive(const lucid_graph *g, int t)
{
    const lucid_ir_tensor *x = &g->tensors[t];
    if (!x->is_initializer || x->is_output || x->producer >= 0) return false;
    for (int i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].view_of == t) return false;
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] == t && !(k == 1 && weight_of(n) == t)) return false;
    }
    return true;
}

static int64_t count_zeros(const float *w, int64_t n)
{
    int64_t z = 0;
    for (int64_t i = 0; i < n; i++)
        z += w[i] == 0.0f;
    return z;
}

static int float_cmp(const void *pa, const void *pb)
{
    float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

/* Distinct values of w (-0 and +0 are one), or -1 when out of memory. */
static int64_t count_distinct(const float *w, int64_t n)
{
    if (n == 0) return 0;
    float *s = malloc(sizeof *s * (size_t)n);
    if (!s) return -1;
    memcpy(s, w, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, float_cmp);
    int64_t d = 1;
    for (int64_t i = 1; i < n; i++)
        if (s[i] != s[i - 1]) d++;
    free(s);
    return d;
}

static size_t ceil_bytes(int64_t bits)
{
    return (size_t)((bits + 7) / 8);
}

typedef struct weight_job {
    int tensor;
    float *data;    /* the compressed weight (owned until committed), NULL when skipped */
    bool in_place;  /* replace the tensor's data; otherwise add a constant holding it */
    int new_tensor; /* that constant */
} weight_job;

/* Compresses one weight into job->data and fills its report entry; a layer that cannot be
 * compressed is left out (job->data NULL) with a note. Fails only when out of memory. */
static lucid_status compress_one(const lucid_graph *g, const lucid_node *n,
                                 const lucid_build_options *o, weight_job *job,
                                 lucid_compress_layer *l, lucid_error *err)
{
    const lucid_ir_tensor *w = &g->tensors[job->tensor];
    int64_t numel = lucid_tensor_shape_known(w) ? lucid_tensor_numel(w) : 0;
    l->weights = numel > 0 ? numel : 0;
    l->bytes_before = l->bytes_after = w->data ? w->nbytes : lucid_tensor_nbytes(w);
    if (!w->data || w->is_input || w->view_of >= 0 || numel < 0 || !lucid_tensor_shape_known(w) ||
        w->nbytes != (size_t)numel * sizeof(float) || w->dtype != LUCID_DTYPE_FLOAT) {
        layer_note(l, "skipped: weight '%s' is not a float32 constant (%s%s)", w->name,
                   lucid_dtype_name(w->dtype),
                   !w->data || w->is_input ? ", computed or fed at run time" : "");
        return LUCID_STATUS_OK;
    }
    const float *src = w->data;
    for (int64_t i = 0; i < numel; i++) {
        if (!isfinite(src[i])) {
            layer_note(l, "skipped: weight '%s' holds %g at index %lld", w->name, (double)src[i],
                       (long long)i);
            l->zeros_before = l->zeros_after = count_zeros(src, numel);
            return LUCID_STATUS_OK;
        }
    }
    l->zeros_before = count_zeros(src, numel);
    l->bytes_before = (size_t)numel * sizeof(float);

    float *d = malloc(sizeof *d * (size_t)(numel ? numel : 1));
    if (!d) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    memcpy(d, src, sizeof *d * (size_t)numel);
    lucid_status st = LUCID_STATUS_OK;
    bool pruned = false;
    if (o->prune_2_4) {
        int64_t outer, len, inner;
        if (!weight_geometry(n, w, &outer, &len, &inner)) {
            layer_note(l,
                       "2:4 pruning skipped: weight '%s' of rank %d has no input-channel "
                       "axis lucid knows for %s",
                       w->name, w->rank, n->op_type);
        } else if (len < 2) {
            layer_note(l,
                       "2:4 pruning skipped: the reduction axis of weight '%s' has %lld "
                       "value(s), fewer than 2",
                       w->name, (long long)len);
        } else {
            lucid_prune_2_4(d, outer, len, inner);
            pruned = true;
        }
    } else if (o->prune_sparsity > 0) {
        st = lucid_prune_magnitude(d, numel, lucid_prune_count(o->prune_sparsity, numel), err);
        pruned = true;
    }
    if (!st && o->cluster_bits) st = lucid_cluster_weights(d, numel, o->cluster_bits, pruned, err);
    if (st) {
        free(d);
        return st;
    }

    l->zeros_after = count_zeros(d, numel);
    const int64_t nnz = numel - l->zeros_after, b = o->cluster_bits;
    if (b) {
        int64_t distinct = count_distinct(d, numel);
        if (distinct < 0) {
            free(d);
            return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        }
        l->distinct_after = (int)distinct;
    }
    const size_t bitmap = ceil_bytes(numel), codebook = sizeof(float) * ((size_t)1 << b);
    if (pruned && b)
        l->bytes_after = bitmap + codebook + ceil_bytes(b * nnz);
    else if (pruned)
        l->bytes_after = bitmap + sizeof(float) * (size_t)nnz;
    else if (b)
        l->bytes_after = codebook + ceil_bytes(b * numel);
    else
        l->bytes_after = l->bytes_before;
    job->data = d;
    return LUCID_STATUS_OK;
}

void lucid_compress_report_free(lucid_compress_report *r)
{
    if (!r) return;
    free(r->layers);
    r->layers = NULL;
    r->n = 0;
}

lucid_status lucid_compress_weights(lucid_graph *g, const lucid_build_options *o,
                                    lucid_compress_report *rep, lucid_error *err)
{
    if (!g || !o)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "compression needs a graph and build options");
    if (!(o->prune_sparsity >= 0 && o->prune_sparsity < 1))
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "prune_sparsity %g: it must be in [0, 1), the fraction of each "
                            "layer's weights set to zero",
                            o->prune_sparsity);
    if (o->prune_2_4 != 0 && o->prune_2_4 != 1)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "prune_2_4 %d: it must be 0 (off) or 1 (on)", o->prune_2_4);
    if (o->cluster_bits != 0 && (o->cluster_bits < 2 || o->cluster_bits > 8))
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "cluster_bits %d: it must be 0 (off) or 2 to 8 (4 to 256 shared "
                            "values per layer)",
                            o->cluster_bits);
    if (rep) {
        rep->layers = NULL;
        rep->n = 0;
    }
    if (o->prune_sparsity == 0 && !o->prune_2_4 && !o->cluster_bits) return LUCID_STATUS_OK;

    /* one job per weight tensor, in node order: a weight several layers share is compressed
     * once, with the geometry of the first layer that reads it, and reported under it */
    lucid_status st = LUCID_STATUS_OK;
    bool *seen = calloc((size_t)g->n_tensors + 1, sizeof *seen);
    weight_job *jobs = calloc((size_t)g->n_nodes + 1, sizeof *jobs);
    lucid_compress_layer *layers = calloc((size_t)g->n_nodes + 1, sizeof *layers);
    size_t n_jobs = 0;
    bool rewired = false;
    if (!seen || !jobs || !layers) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        int t = weight_of(&g->nodes[i]);
        if (t < 0 || seen[t]) continue;
        seen[t] = true;
        weight_job *job = &jobs[n_jobs];
        lucid_compress_layer *l = &layers[n_jobs];
        n_jobs++;
        job->tensor = t;
        job->new_tensor = -1;
        l->node = i;
        if ((st = compress_one(g, &g->nodes[i], o, job, l, err))) goto fail;
        if (job->data) job->in_place = weight_exclusive(g, t);
    }

    /* commit: constants first (the only step that can fail, and it changes no node), then
     * the rewiring and in-place swaps, which cannot */
    for (size_t j = 0; j < n_jobs; j++) {
        weight_job *job = &jobs[j];
        if (!job->data || job->in_place) continue;
        const lucid_ir_tensor *w = &g->tensors[job->tensor];
        char base[LUCID_MAX_NAME + 16];
        snprintf(base, sizeof base, "%s_compressed", w->name);
        int64_t dims[LUCID_MAX_RANK];
        memcpy(dims, w->dims, sizeof dims);
        size_t nbytes = w->nbytes;
        int rank = w->rank;
        float *d = job->data;
        job->data = NULL; /* add_constant owns it from here, even when it fails */
        job->new_tensor =
            lucid_graph_add_constant(g, base, LUCID_DTYPE_FLOAT, rank, dims, d, nbytes, err);
        if (job->new_tensor < 0) {
            st = err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
            goto fail;
        }
    }
    for (size_t j = 0; j < n_jobs; j++) {
        weight_job *job = &jobs[j];
        if (job->new_tensor >= 0) {
            for (int i = 0; i < g->n_nodes; i++)
                if (weight_of(&g->nodes[i]) == job->tensor) g->nodes[i].inputs[1] = job->new_tensor;
            rewired = true;
        } else if (job->data) {
            lucid_ir_tensor *w = &g->tensors[job->tensor];
            free(w->data);
            w->data = job->data;
            job->data = NULL;
        }
    }
    if (rewired && ((st = lucid_graph_sort(g, err)) || (st = lucid_graph_validate(g, err))))
        goto fail;
    if (rep) {
        rep->layers = layers;
        rep->n = n_jobs;
        layers = NULL;
    }
fail:
    for (size_t j = 0; jobs && j < n_jobs; j++)
        free(jobs[j].data);
    free(jobs);
    free(layers);
    free(seen);
    return st;
}
