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

/* ---- helpers of the characterization study (characterize/characterize.h) ---- */

#include "characterize/characterize.h"

void ch_histogram(const double *samples, size_t n, double lo, double hi, int bins,
                  int64_t *counts)
{
    for (int b = 0; b < bins; b++) counts[b] = 0;
    if (bins <= 0) return;
    double width = (hi - lo) / bins;
    for (size_t i = 0; i < n; i++) {
        int b = width > 0 ? (int)floor((samples[i] - lo) / width) : 0;
        if (b < 0) b = 0;
        if (b >= bins) b = bins - 1;
        counts[b]++;
    }
}

void ch_compare(const float *a, const float *r, size_t n, double *max_abs, double *max_rel,
                double *cosine)
{
    double ma = 0, mr = 0, dot = 0, na = 0, nr = 0;
    for (size_t i = 0; i < n; i++) {
        double x = a[i], y = r[i];
        double d = fabs(x - y);
        if (isnan(d)) d = INFINITY;
        if (d > ma) ma = d;
        double rel = d / fmax(fabs(y), 1e-12);
        if (rel > mr) mr = rel;
        dot += x * y;
        na += x * x;
        nr += y * y;
    }
    *max_abs = ma;
    *max_rel = mr;
    if (na == 0 && nr == 0)
        *cosine = 1;
    else if (na == 0 || nr == 0)
        *cosine = 0;
    else
        *cosine = dot / (sqrt(na) * sqrt(nr));
}

double ch_speedup_share(double step, double total)
{
    if (!(step > 0) || !(total > 0) || fabs(total - 1) < 1e-3) return NAN;
    return log(step) / log(total);
}
