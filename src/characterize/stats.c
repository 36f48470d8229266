/* stats.c - latency statistics: nearest-rank percentiles, mean, deviation, CV. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lucid.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample such that at least p% of samples are <= it. */
static double nearest_rank(const double *sorted, size_t n, double p)
{
    double r = ceil(p / 100.0 * (double)n);
    size_t k = r < 1 ? 1 : (size_t)r;
    if (k > n) k = n;
    return sorted[k - 1];
}

lucid_status lucid_stats_compute(const double *samples, size_t n, lucid_stats *out)
{
    if (!samples || !out || n == 0) return LUCID_STATUS_INVALID_ARGUMENT;
    double *s = malloc(n * sizeof *s);
    if (!s) return LUCID_STATUS_OUT_OF_MEMORY;
    memcpy(s, samples, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    memset(out, 0, sizeof *out);
    out->n = n;
    out->min = s[0];
    out->max = s[n - 1];
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += s[i];
    out->mean = sum / (double)n;
    double var = 0;
    for (size_t i = 0; i < n; i++) var += (s[i] - out->mean) * (s[i] - out->mean);
    out->stddev = n > 1 ? sqrt(var / (double)(n - 1)) : 0;
    out->cv = out->mean > 0 ? out->stddev / out->mean : 0;
    /* the median is the usual one: the mean of the two middle samples for even n */
    out->median = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    out->p90 = nearest_rank(s, n, 90);
    out->p95 = nearest_rank(s, n, 95);
    out->p99 = nearest_rank(s, n, 99);
    free(s);
    return LUCID_STATUS_OK;
}
