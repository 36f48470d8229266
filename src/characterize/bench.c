/* bench.c - the benchmark loop: time-based warm-up, then at least N runs and T seconds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lucid.h"

void lucid_bench_options_default(lucid_bench_options *opts)
{
    if (!opts) return;
    opts->warmup_ms = 200;
    opts->min_iterations = 10;
    opts->min_duration_s = 3;
}

/* Room for the samples the timed phase will probably need, from the warm-up's pace, so the
 * timed loop rarely has to grow the array (and never by more than doubling). */
static size_t initial_capacity(const lucid_bench_options *o, double per_run_s)
{
    double want = (double)o->min_iterations;
    if (per_run_s > 0) {
        double by_time = o->min_duration_s / per_run_s * 1.1 + 16;
        if (by_time > want) want = by_time;
    } else {
        want += 1024;
    }
    if (want > LUCID_BENCH_MAX_ITERATIONS) want = LUCID_BENCH_MAX_ITERATIONS;
    if (want < 16) want = 16;
    return (size_t)want;
}

lucid_status lucid_bench_run(lucid_context_t *ctx, const lucid_bench_options *opts,
                             double *samples, size_t capacity, lucid_bench_result *out)
{
    lucid_bench_options o;
    lucid_bench_options_default(&o);
    if (opts) o = *opts;
    if (!ctx || !out || (samples && capacity == 0)) return LUCID_STATUS_INVALID_ARGUMENT;
    if (!isfinite(o.warmup_ms) || o.warmup_ms < 0 || !isfinite(o.min_duration_s) ||
        o.min_duration_s < 0 || o.min_iterations < 1 ||
        o.min_iterations > LUCID_BENCH_MAX_ITERATIONS)
        return LUCID_STATUS_INVALID_ARGUMENT;

    lucid_status st = LUCID_STATUS_OK;
    memset(out, 0, sizeof *out);

    /* warm-up: by time, as trtexec --warmUp, but never more than the iteration cap */
    double w0 = lucid_time_now(), now = w0;
    int64_t wn = 0;
    while ((now - w0) * 1e3 < o.warmup_ms) {
        if (wn == LUCID_BENCH_MAX_ITERATIONS) {
            out->capped = 1;
            break;
        }
        if ((st = lucid_context_run(ctx))) return st;
        wn++;
        now = lucid_time_now();
    }
    out->warmup_iterations = wn;
    out->warmup_s = now - w0;

    size_t limit = LUCID_BENCH_MAX_ITERATIONS;
    double *buf = samples, *owned = NULL;
    size_t cap = capacity;
    if (samples) {
        if (capacity < limit) limit = capacity;
    } else {
        cap = initial_capacity(&o, wn > 0 ? out->warmup_s / (double)wn : 0);
        owned = buf = malloc(cap * sizeof *buf);
        if (!buf) return LUCID_STATUS_OUT_OF_MEMORY;
    }

    size_t n = 0;
    double t0 = lucid_time_now(), t = t0;
    while ((int64_t)n < o.min_iterations || t - t0 < o.min_duration_s) {
        if (n == limit) {
            out->capped = 1;
            break;
        }
        if (n == cap) { /* only for owned buffers: cap < limit here */
            size_t grown = cap * 2 < limit ? cap * 2 : limit;
            double *nb = realloc(owned, grown * sizeof *nb);
            if (!nb) {
                st = LUCID_STATUS_OUT_OF_MEMORY;
                goto done;
            }
            owned = buf = nb;
            cap = grown;
        }
        double r0 = lucid_time_now();
        if ((st = lucid_context_run(ctx))) goto done;
        t = lucid_time_now();
        buf[n++] = (t - r0) * 1e3;
    }
    out->iterations = (int64_t)n;
    out->total_s = t - t0;
    out->throughput = out->total_s > 0 ? (double)n / out->total_s : 0;
    st = lucid_stats_compute(buf, n, &out->latency_ms);
done:
    free(owned);
    return st;
}
