/* cluster.c - weight clustering of one layer: 1-D k-means (Lloyd) with linear initialization,
 * each weight replaced by its centroid; single-threaded double arithmetic in a fixed order,
 * so the result is the same bit for bit on every machine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "quant/quant.h"

/* Shared with compress.c, which drives it (quant.h declares only the graph-level call). */
lucid_status lucid_cluster_weights(float *w, int64_t n, int bits, bool keep_zeros,
                                   lucid_error *err);

#define CLUSTER_MAX_ITERATIONS 50

static int float_cmp(const void *pa, const void *pb)
{
    float a = *(const float *)pa, b = *(const float *)pb;
    return (a > b) - (a < b);
}

/* The cluster of value x for centroids c[0] <= ... <= c[k-1]: the first j with
 * x <= (c[j] + c[j+1]) / 2, else k-1. So x goes to its nearest centroid, and a value exactly
 * halfway between two goes to the lower one. */
static int cluster_of(const double *c, int k, double x)
{
    int lo = 0, hi = k - 1; /* the answer is in [lo, hi] */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (x <= (c[mid] + c[mid + 1]) / 2)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The partition of sorted values v[0..m) by the centroids: cluster j holds
 * v[start[j] .. start[j+1]), start[0] = 0, start[k] = m (clusters are contiguous runs of the
 * sorted values because the centroids are sorted). */
static void assign(const float *v, int64_t m, const double *c, int k, int64_t *start)
{
    start[0] = 0;
    int64_t i = 0;
    for (int j = 0; j < k - 1; j++) {
        double mid = (c[j] + c[j + 1]) / 2;
        /* first index >= i whose value is above the midpoint (binary search) */
        int64_t lo = i, hi = m;
        while (lo < hi) {
            int64_t h = lo + (hi - lo) / 2;
            if ((double)v[h] <= mid)
                lo = h + 1;
            else
                hi = h;
        }
        i = lo;
        start[j + 1] = i;
    }
    start[k] = m;
}

static void sort_doubles(double *c, int k)
{
    for (int a = 1; a < k; a++) {
        double x = c[a];
        int b = a - 1;
        while (b >= 0 && c[b] > x) {
            c[b + 1] = c[b];
            b--;
        }
        c[b + 1] = x;
    }
}

/* Clusters the layer's weights to at most 2^bits shared values, in place.
 *
 * The values clustered are all n weights, or, with keep_zeros (the layer was pruned first),
 * only the nonzero ones: zeros then stay exact zeros, an extra shared value beside the
 * 2^bits centroids. When those values already hold at most 2^bits distinct values nothing
 * changes (each is its own centroid), which makes clustering idempotent. Otherwise:
 *
 *  - initialization: 2^bits centroids evenly spaced from the smallest to the largest value,
 *    c[j] = min + (max - min) * j / (2^bits - 1), in double (linear initialization: it keeps
 *    centroids at the rare large weights, which matter most);
 *  - assignment: each value to its nearest centroid, halfway values to the lower one
 *    (cluster_of);
 *  - update: each centroid becomes the mean of its values, summed in double in ascending
 *    value order; a centroid with no values keeps its place;
 *  - stop when an assignment equals the previous one, or after 50 updates; every value is
 *    then replaced by its nearest centroid rounded to float.
 *
 * Every weight must be finite. */
lucid_status lucid_cluster_weights(float *w, int64_t n, int bits, bool keep_zeros, lucid_error *err)
{
    const int k = 1 << bits;
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(keep_zeros && w[i] == 0.0f)) m++;
    if (m == 0) return LUCID_STATUS_OK;
    float *v = malloc(sizeof *v * (size_t)m);
    double *c = malloc(sizeof *c * (size_t)k);
    int64_t *start = malloc(sizeof *start * (size_t)(k + 1));
    int64_t *prev = malloc(sizeof *prev * (size_t)(k + 1));
    if (!v || !c || !start || !prev) {
        free(v);
        free(c);
        free(start);
        free(prev);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(keep_zeros && w[i] == 0.0f)) v[m++] = w[i];
    qsort(v, (size_t)m, sizeof *v, float_cmp);

    int64_t distinct = 1;
    for (int64_t i = 1; i < m && distinct <= k; i++)
        if (v[i] != v[i - 1]) distinct++;
    if (distinct <= k) goto done;

    const double lo = v[0], hi = v[m - 1];
    for (int j = 0; j < k; j++)
        c[j] = lo + (hi - lo) * (double)j / (double)(k - 1);
    c[k - 1] = hi;
    assign(v, m, c, k, start);
    for (int it = 0; it < CLUSTER_MAX_ITERATIONS; it++) {
        for (int j = 0; j < k; j++) {
            if (start[j + 1] == start[j]) continue;
            double sum = 0;
            for (int64_t i = start[j]; i < start[j + 1]; i++)
                sum += v[i];
            c[j] = sum / (double)(start[j + 1] - start[j]);
        }
        /* means of contiguous runs are already ordered; an empty cluster's centroid may not
         * be */
        sort_doubles(c, k);
        memcpy(prev, start, sizeof *start * (size_t)(k + 1));
        assign(v, m, c, k, start);
        if (memcmp(prev, start, sizeof *start * (size_t)(k + 1)) == 0) break;
    }
    for (int64_t i = 0; i < n; i++) {
        if (keep_zeros && w[i] == 0.0f) continue;
        w[i] = (float)c[cluster_of(c, k, w[i])];
    }
done:
    free(v);
    free(c);
    free(start);
    free(prev);
    return LUCID_STATUS_OK;
}
