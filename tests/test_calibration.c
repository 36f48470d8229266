/* test_calibration.c - INT8 calibration: the calibrators on known histograms, activation
 * statistics of a synthetic model and of LeNet-5 on Fashion-MNIST against a direct
 * computation, bad calibration data, and the calibration cache (exact round trip, every kind
 * of corrupt file refused with its line). */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "core/strmap.h"
#include "core/util.h"
#include "data/dataset.h"
#include "ir/model.h"
#include "quant/quant.h"

#define BINS LUCID_CALIB_BINS

static char tmpdir[256];

/* ---- the calibrators ---------------------------------------------------------------- */

static uint64_t rng_state;

static double rand_unit(void) /* (0, 1) */
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static double rand_normal(void)
{
    double u = rand_unit(), v = rand_unit();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void hist_add(uint64_t *hist, double amax, double x)
{
    double b = fabs(x) * BINS / amax;
    size_t j = b < BINS - 1 ? (size_t)b : BINS - 1;
    hist[j]++;
}

static void test_calibrators(void)
{
    static uint64_t hist[BINS];
    /* minmax: amax, whatever the histogram */
    memset(hist, 0, sizeof hist);
    hist[3] = 7;
    CHECK(lucid_calib_threshold_minmax(hist, BINS, 6.5) == 6.5, "minmax gives amax");

    /* percentile on a uniform histogram (10 per bin, amax = BINS: bin j is [j, j+1)) */
    for (size_t j = 0; j < BINS; j++) hist[j] = 10;
    double amax = BINS;
    double p50 = lucid_calib_threshold_percentile(hist, BINS, amax, 50.0);
    double p01 = lucid_calib_threshold_percentile(hist, BINS, amax, 0.1);
    double p9999 = lucid_calib_threshold_percentile(hist, BINS, amax, 99.99);
    double p100 = lucid_calib_threshold_percentile(hist, BINS, amax, 100.0);
    double p75 = lucid_calib_threshold_percentile(hist, BINS, amax, 75.0);
    CHECK(p50 == 1024.0, "uniform: 50th percentile is the edge 1024, got %.17g", p50);
    CHECK(p75 == 1536.0, "uniform: 75th percentile is the edge 1536, got %.17g", p75);
    /* 0.1% of 20480 is 20.48: bins 0..2 (30) are the first to reach it */
    CHECK(p01 == 3.0, "uniform: 0.1th percentile is the edge 3, got %.17g", p01);
    CHECK(p9999 == amax && p100 == amax, "uniform: 99.99th and 100th are amax: %g %g", p9999,
          p100);
    /* the percentile lands in the first non-empty bins when everything is there */
    memset(hist, 0, sizeof hist);
    hist[9] = 100;
    hist[500] = 1;
    CHECK(lucid_calib_threshold_percentile(hist, BINS, amax, 99.0) == 10.0,
          "99%% of the mass is in bin 9: edge 10");
    CHECK(lucid_calib_threshold_percentile(hist, BINS, amax, 99.5) == 501.0,
          "99.5%% needs the outlier in bin 500: edge 501");
    memset(hist, 0, sizeof hist);
    CHECK(lucid_calib_threshold_percentile(hist, BINS, 3.0, 99.99) == 3.0 &&
              lucid_calib_threshold_entropy(hist, BINS, 3.0) == 3.0,
          "an empty histogram gives amax");

    /* entropy (b): uniform |x| keeps everything */
    for (size_t j = 0; j < BINS; j++) hist[j] = 1000;
    double tu = lucid_calib_threshold_entropy(hist, BINS, 8.0);
    printf("entropy, uniform |x| over [0, 8]: threshold %.6g\n", tu);
    CHECK(tu >= 8.0 * 0.99 && tu <= 8.0, "entropy on a uniform histogram is near amax: %g", tu);

    /* entropy (a): 1e6 N(0, 1) samples and 5 outliers at 40 sigma: amax is 40; the threshold
     * must drop well below it, into the Gaussian's tail */
    memset(hist, 0, sizeof hist);
    rng_state = 12345;
    amax = 40.0;
    for (int i = 0; i < 1000000; i++) hist_add(hist, amax, rand_normal());
    for (int i = 0; i < 5; i++) hist_add(hist, amax, i % 2 ? -40.0 : 40.0);
    double tg = lucid_calib_threshold_entropy(hist, BINS, amax);
    double tp = lucid_calib_threshold_percentile(hist, BINS, amax, 99.99);
    printf("entropy, N(0,1) + 5 outliers at 40: threshold %.6g (percentile 99.99: %.6g)\n", tg,
           tp);
    /* between the 99.99th percentile of |N(0,1)| (3.9) and 5 sigma: the outliers are clipped,
     * and the tail beyond the percentile keeps some weight against 128 levels' resolution (this
     * implementation gives 4.54) */
    CHECK(tg > 3.5 && tg < 5.0, "entropy on a Gaussian with outliers: %g sigma, expected 3.5..5",
          tg);
    CHECK(tp > 3.7 && tp < 4.1, "99.99th percentile of |N(0,1)| is about 3.89: %g", tp);
    double tg2 = lucid_calib_threshold_entropy(hist, BINS, amax);
    CHECK(tg2 == tg, "entropy is a pure function: %g then %g", tg, tg2);
    /* a ReLU output: N(0,1) through ReLU (half of it exact zeros, in bin 0) and 5 outliers at
     * 40: bin 0 is left out of the search, so the zeros do not drag the threshold down */
    memset(hist, 0, sizeof hist);
    rng_state = 777;
    for (int i = 0; i < 1000000; i++) hist_add(hist, amax, fmax(rand_normal(), 0.0));
    for (int i = 0; i < 5; i++) hist_add(hist, amax, 40.0);
    double tr = lucid_calib_threshold_entropy(hist, BINS, amax);
    uint64_t zeros = hist[0];
    hist[0] = 0;
    double tr0 = lucid_calib_threshold_entropy(hist, BINS, amax);
    printf("entropy, ReLU(N(0,1)) + 5 outliers at 40: threshold %.6g\n", tr);
    CHECK(zeros > 400000 && tr == tr0, "the zeros in bin 0 do not change the threshold: %g %g",
          tr, tr0);
    CHECK(tr > 3.5 && tr < 5.0, "entropy on a ReLU'd Gaussian with outliers: %g, expected 3.5..5",
          tr);
    memset(hist, 0, sizeof hist);
    hist[0] = 1000;
    CHECK(lucid_calib_threshold_entropy(hist, BINS, 2.0) == 2.0,
          "entropy with everything in bin 0 is amax");
    /* fewer bins than levels cannot be quantized coarser: amax */
    CHECK(lucid_calib_threshold_entropy(hist, 100, 5.0) == 5.0, "entropy with 100 bins is amax");
}

/* ---- synthetic datasets (the dataset struct filled by hand) --------------------------- */

typedef struct synth {
    int c, h, w;
    long nan_at; /* sample that carries a NaN, -1: none */
} synth;

static float synth_value(size_t i, size_t j)
{
    /* varied signs and magnitudes; sample 2 holds the largest |x| */
    static const float base[4] = {0.5f, -1.25f, 2.0f, -0.75f};
    return base[j % 4] * (float)(1 + (i % 3)) * (j % 5 == 4 ? 0.1f : 1.0f) - 0.125f * (float)i;
}

static lucid_status synth_load(void *state, size_t i, float *dst, int64_t *label,
                               lucid_error *err)
{
    const synth *s = state;
    size_t n = (size_t)(s->c * s->h * s->w);
    for (size_t j = 0; j < n; j++) dst[j] = synth_value(i, j);
    if ((long)i == s->nan_at) dst[n - 1] = NAN;
    *label = -1;
    return LUCID_STATUS_OK;
}

static const lucid_dataset_vtable synth_vt = {"synth", synth_load, NULL};

static lucid_dataset_t *synth_open(synth *s, size_t count)
{
    lucid_dataset_t *ds = calloc(1, sizeof *ds);
    ds->vt = &synth_vt;
    ds->state = s;
    ds->count = count;
    ds->channels = s->c;
    ds->height = s->h;
    ds->width = s->w;
    snprintf(ds->description, sizeof ds->description, "synth (%zu samples %dx%dx%d)", count,
             s->c, s->h, s->w);
    return ds;
}

/* ---- synthetic models ---------------------------------------------------------------- */

static void add_input(lucid_graph *g, const char *name, lucid_dtype dt, int rank,
                      const int64_t *dims)
{
    int t = lucid_graph_tensor(g, name, NULL);
    g->tensors[t].dtype = dt;
    g->tensors[t].rank = rank;
    memcpy(g->tensors[t].dims, dims, sizeof(int64_t) * (size_t)rank);
    if (dims[0] < 0) g->tensors[t].dim_params[0] = lucid_strdup("N");
    lucid_graph_add_input(g, t, NULL);
}

static void add_node(lucid_graph *g, const char *name, const char *op, const char *a,
                     const char *b, const char *y)
{
    int in[2] = {lucid_graph_tensor(g, a, NULL), b ? lucid_graph_tensor(g, b, NULL) : -1};
    int out = lucid_graph_tensor(g, y, NULL);
    lucid_graph_add_node(g, name, op, "", 13, in, b ? 2 : 1, &out, 1, NULL);
}

static lucid_model_t *finish(lucid_graph *g, const char *output, bool optimize)
{
    lucid_graph_add_output(g, lucid_graph_find(g, output), NULL);
    lucid_error err;
    lucid_model_t *m = NULL;
    if (lucid_graph_finalize(g, &err) || lucid_model_wrap(g, &m, &err)) {
        printf("model: %s\n", err.message);
        lucid_graph_destroy(g);
        return NULL;
    }
    if (optimize && lucid_model_optimize(m, NULL, NULL, &err)) {
        printf("optimize: %s\n", err.message);
        lucid_model_destroy(m);
        return NULL;
    }
    return m;
}

/* x [batch,1,2,2] -> Mul 2 -> m -> Relu -> r -> Reshape [batch,4] -> "s p" -> Neg -> y. batch -1
 * is symbolic. Optimized, the Reshape becomes a view (elided). */
static lucid_model_t *chain_model(int64_t batch)
{
    lucid_graph *g = lucid_graph_create();
    int64_t dims[4] = {batch, 1, 2, 2};
    add_input(g, "x", LUCID_DTYPE_FLOAT, 4, dims);
    float *two = malloc(sizeof *two);
    *two = 2.0f;
    lucid_graph_set_initializer(g, lucid_graph_tensor(g, "two", NULL), LUCID_DTYPE_FLOAT, 0,
                                NULL, two, sizeof *two, NULL);
    int64_t *shape = malloc(2 * sizeof *shape), sd[1] = {2};
    shape[0] = batch < 0 ? -1 : batch;
    shape[1] = 4;
    lucid_graph_set_initializer(g, lucid_graph_tensor(g, "shape", NULL), LUCID_DTYPE_INT64, 1, sd,
                                shape, 2 * sizeof *shape, NULL);
    add_node(g, "mul", "Mul", "x", "two", "m");
    add_node(g, "relu", "Relu", "m", NULL, "r");
    add_node(g, "reshape", "Reshape", "r", "shape", "s p");
    add_node(g, "neg", "Neg", "s p", NULL, "y");
    return finish(g, "y", true);
}

/* expected statistics of the chain's tensors over samples 0..count-1 of synth 1x2x2 */
static void chain_expect(size_t count, const char *tensor, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < count; i++)
        for (size_t j = 0; j < 4; j++) {
            float x = synth_value(i, j), v = x;
            if (strcmp(tensor, "x") != 0) v = 2.0f * x;
            if (!strcmp(tensor, "r") || !strcmp(tensor, "s p")) v = v > 0 ? v : 0;
            if (!strcmp(tensor, "y")) v = -(v > 0 ? v : 0);
            *lo = fmin(*lo, v);
            *hi = fmax(*hi, v);
        }
}

static uint64_t hist_sum(const uint64_t *h)
{
    uint64_t s = 0;
    for (size_t j = 0; j < BINS; j++) s += h[j];
    return s;
}

static void test_collect_synthetic(void)
{
    static const char *names[] = {"x", "m", "r", "s p", "y"};
    synth s = {1, 2, 2, -1};
    lucid_dataset_t *ds = synth_open(&s, 3);
    lucid_error err;
    /* batch 1 (views), batch 2 (the last batch starts over), symbolic batch (fixed to 1) */
    int64_t batches[3] = {1, 2, -1};
    for (int v = 0; v < 3; v++) {
        lucid_model_t *m = chain_model(batches[v]);
        CHECK(m != NULL, "chain model %d", v);
        if (!m) continue;
        if (batches[v] == 1) {
            int r = -1;
            for (int i = 0; i < m->graph->n_nodes; i++)
                if (!strcmp(m->graph->nodes[i].name, "reshape")) r = i;
            CHECK(r >= 0 && m->graph->nodes[r].elided, "the optimized Reshape is a view");
        }
        lucid_calib_table *t = NULL;
        lucid_status st = lucid_calib_collect(m, ds, 0, LUCID_CALIBRATOR_MINMAX, 0, &t, &err);
        CHECK(st == 0, "collect (batch %lld): %s", (long long)batches[v], err.message);
        if (st) {
            lucid_model_destroy(m);
            continue;
        }
        CHECK(t->n == 5, "5 activation tensors, got %zu", t->n);
        CHECK(t->samples == 3 && t->calibrator == LUCID_CALIBRATOR_MINMAX &&
                  t->percentile == LUCID_CALIB_DEFAULT_PERCENTILE &&
                  strstr(t->source, "synth (3 samples"),
              "table facts: %zu samples, source '%s'", t->samples, t->source);
        for (size_t k = 0; k < 5; k++) {
            const lucid_calib_entry *e = lucid_calib_table_find(t, names[k]);
            CHECK(e != NULL, "entry for '%s'", names[k]);
            if (!e) continue;
            CHECK(k >= t->n || !strcmp(t->entries[k].name, names[k]),
                  "entry %zu is '%s' (input first, then node order)", k, names[k]);
            double lo, hi;
            chain_expect(3, names[k], &lo, &hi);
            double amax = fmax(fabs(lo), fabs(hi));
            CHECK(e->min == lo && e->max == hi && e->amax == amax,
                  "batch %lld '%s': range [%g, %g] amax %g, expected [%g, %g] %g",
                  (long long)batches[v], names[k], e->min, e->max, e->amax, lo, hi, amax);
            CHECK(e->threshold == amax, "minmax threshold of '%s' is amax", names[k]);
            /* batch 2 runs samples 0,1 then 2,0: four samples' values */
            uint64_t want = batches[v] == 2 ? 16 : 12;
            CHECK(hist_sum(e->hist) == want, "'%s' histogram holds %llu values, expected %llu",
                  names[k], (unsigned long long)hist_sum(e->hist), (unsigned long long)want);
        }
        /* the input's histogram, bin by bin */
        const lucid_calib_entry *x = lucid_calib_table_find(t, "x");
        if (x && batches[v] != 2) {
            static uint64_t want[BINS];
            memset(want, 0, sizeof want);
            for (size_t i = 0; i < 3; i++)
                for (size_t j = 0; j < 4; j++) hist_add(want, x->amax, synth_value(i, j));
            CHECK(memcmp(want, x->hist, sizeof want) == 0, "the input's histogram bin by bin");
            CHECK(x->hist[BINS - 1] >= 1, "amax itself lands in the last bin");
        }
        /* the same call again: the same table, bit for bit */
        lucid_calib_table *t2 = NULL;
        lucid_calib_collect(m, ds, 0, LUCID_CALIBRATOR_MINMAX, 0, &t2, &err);
        bool same = t2 && t2->n == t->n;
        for (size_t k = 0; same && k < t->n; k++)
            same = !memcmp(t->entries[k].hist, t2->entries[k].hist, BINS * sizeof(uint64_t)) &&
                   t->entries[k].threshold == t2->entries[k].threshold;
        CHECK(same, "collect is deterministic");
        lucid_calib_table_destroy(t2);
        lucid_calib_table_destroy(t);
        /* the model was not changed (the copy ran) */
        if (batches[v] < 0) CHECK(m->graph->tensors[m->graph->inputs[0]].dims[0] == -1,
                                  "the caller's symbolic batch stays symbolic");
        lucid_model_destroy(m);
    }
    /* count: 2 of 3 samples */
    lucid_model_t *m = chain_model(1);
    lucid_calib_table *t = NULL;
    if (m && !lucid_calib_collect(m, ds, 2, LUCID_CALIBRATOR_PERCENTILE, 50.0, &t, &err)) {
        double lo, hi;
        chain_expect(2, "x", &lo, &hi);
        const lucid_calib_entry *x = lucid_calib_table_find(t, "x");
        CHECK(x && x->min == lo && x->max == hi && t->samples == 2,
              "count 2: ranges over the first 2 samples");
        CHECK(x && x->threshold == lucid_calib_threshold_percentile(x->hist, BINS, x->amax, 50.0),
              "percentile table uses the percentile calibrator with p = 50");
        CHECK(t->percentile == 50.0, "the table keeps p = 50");
    } else {
        CHECK(0, "collect with count 2: %s", err.message);
    }
    lucid_calib_table_destroy(t);
    lucid_model_destroy(m);
    lucid_dataset_destroy(ds);
}

/* ---- bad input ------------------------------------------------------------------------ */

static void expect_fail(lucid_status st, const lucid_error *err, const char *what,
                        const char *needle)
{
    CHECK(st != 0, "%s is refused", what);
    CHECK(st == 0 || strstr(err->message, needle) != NULL, "%s: message '%s' should mention '%s'",
          what, err->message, needle);
    if (st) printf("  refused %s: %s\n", what, err->message);
}

static void test_bad_input(void)
{
    lucid_error err;
    lucid_calib_table *t = NULL;
    lucid_model_t *m = chain_model(1);
    synth s = {1, 2, 2, -1}, wrong = {1, 3, 3, -1}, bad = {1, 2, 2, 1};
    lucid_dataset_t *empty = synth_open(&s, 0), *ds = synth_open(&s, 3),
                    *ds_wrong = synth_open(&wrong, 3), *ds_nan = synth_open(&bad, 3);
    lucid_status st = lucid_calib_collect(m, empty, 0, LUCID_CALIBRATOR_ENTROPY, 0, &t, &err);
    expect_fail(st, &err, "an empty dataset", "has no samples");
    st = lucid_calib_collect(m, ds, 4, LUCID_CALIBRATOR_ENTROPY, 0, &t, &err);
    expect_fail(st, &err, "more samples than there are", "has only 3");
    st = lucid_calib_collect(m, ds_wrong, 0, LUCID_CALIBRATOR_ENTROPY, 0, &t, &err);
    expect_fail(st, &err, "samples of the wrong shape", "1x3x3");
    st = lucid_calib_collect(m, ds_nan, 0, LUCID_CALIBRATOR_ENTROPY, 0, &t, &err);
    expect_fail(st, &err, "a NaN in sample 1", "sample 1");
    CHECK(st == 0 || strstr(err.message, "not finite"), "NaN: says not finite");
    st = lucid_calib_collect(m, ds, 0, (lucid_calibrator)7, 0, &t, &err);
    expect_fail(st, &err, "an unknown calibrator", "unknown calibrator");
    st = lucid_calib_collect(m, ds, 0, LUCID_CALIBRATOR_PERCENTILE, 120.0, &t, &err);
    expect_fail(st, &err, "percentile 120", "not in (0, 100]");
    CHECK(t == NULL, "a refused collect gives no table");
    lucid_model_destroy(m);

    /* two inputs */
    lucid_graph *g = lucid_graph_create();
    int64_t dims[4] = {1, 1, 2, 2};
    add_input(g, "a", LUCID_DTYPE_FLOAT, 4, dims);
    add_input(g, "b", LUCID_DTYPE_FLOAT, 4, dims);
    add_node(g, "add", "Add", "a", "b", "y");
    m = finish(g, "y", false);
    st = m ? lucid_calib_collect(m, ds, 0, LUCID_CALIBRATOR_ENTROPY, 0, &t, &err) : 0;
    expect_fail(st, &err, "a model with two inputs", "has 2 inputs");
    lucid_model_destroy(m);
    /* an int64 input */
    g = lucid_graph_create();
    add_input(g, "i", LUCID_DTYPE_INT64, 4, dims);
    add_node(g, "id", "Identity", "i", NULL, "y");
    m = finish(g, "y", false);
    st = m ? lucid_calib_collect(m, ds, 0, LUCID_CALIBRATOR_ENTROPY, 0, &t, &err) : 0;
    expect_fail(st, &err, "an int64 input", "is int64");
    lucid_model_destroy(m);
    /* a rank-2 input */
    g = lucid_graph_create();
    int64_t flat[2] = {1, 4};
    add_input(g, "v", LUCID_DTYPE_FLOAT, 2, flat);
    add_node(g, "neg", "Neg", "v", NULL, "y");
    m = finish(g, "y", false);
    st = m ? lucid_calib_collect(m, ds, 0, LUCID_CALIBRATOR_ENTROPY, 0, &t, &err) : 0;
    expect_fail(st, &err, "a rank-2 input", "[batch, channels, height, width]");
    lucid_model_destroy(m);
    lucid_dataset_destroy(empty);
    lucid_dataset_destroy(ds);
    lucid_dataset_destroy(ds_wrong);
    lucid_dataset_destroy(ds_nan);
}

/* ---- LeNet-5 on Fashion-MNIST ---------------------------------------------------------- */

typedef struct direct {
    const lucid_graph *g;
    double lo[4096], hi[4096]; /* per tensor index */
    bool seen[4096];
} direct;

static lucid_status direct_observe(void *user, size_t node, const char *name,
                                   const lucid_array *outs, size_t n_outs)
{
    direct *d = user;
    const lucid_node *n = &d->g->nodes[node];
    for (size_t k = 0; k < n_outs; k++) {
        int t = n->outputs[k];
        if (t < 0 || t >= 4096 || outs[k].dtype != LUCID_DTYPE_FLOAT) continue;
        const float *x = outs[k].data;
        for (size_t i = 0; i < outs[k].nbytes / sizeof(float); i++) {
            if (!d->seen[t] || x[i] < d->lo[t]) d->lo[t] = x[i];
            if (!d->seen[t] || x[i] > d->hi[t]) d->hi[t] = x[i];
            d->seen[t] = true;
        }
    }
    return LUCID_STATUS_OK;
}

static lucid_calib_table *lenet_table; /* kept for the cache round trip */

static void test_lenet(void)
{
    const char *path = LUCID_SOURCE_DIR "/models/fashion/lenet5/model.onnx";
    lucid_error err;
    lucid_model_t *m = NULL;
    if (lucid_model_load(path, &m, &err)) {
        printf("SKIP lenet5: %s\n", err.message);
        return;
    }
    lucid_dataset_options dopt = {.channels = 1, .height = 28, .width = 28};
    lucid_dataset_t *ds = NULL;
    if (lucid_dataset_open("fashion-mnist:train", &dopt, &ds, &err)) {
        printf("SKIP lenet5: %s\n", err.message);
        lucid_model_destroy(m);
        return;
    }
    CHECK(lucid_model_optimize(m, NULL, NULL, &err) == 0, "optimize: %s", err.message);
    const lucid_graph *g = m->graph;
    lucid_calib_table *tab[3] = {NULL, NULL, NULL};
    const lucid_calibrator cal[3] = {LUCID_CALIBRATOR_MINMAX, LUCID_CALIBRATOR_PERCENTILE,
                                     LUCID_CALIBRATOR_ENTROPY};
    for (int c = 0; c < 3; c++) {
        lucid_status st = lucid_calib_collect(m, ds, 20, cal[c], 0, &tab[c], &err);
        CHECK(st == 0, "lenet5 %s: %s", lucid_calibrator_name(cal[c]), err.message);
    }
    lucid_calib_table *t = tab[2];
    if (!t || !tab[0] || !tab[1]) goto done;

    /* every activation tensor has an entry, and nothing else does */
    size_t acts = 0;
    for (int i = -1; i < g->n_nodes; i++) {
        int n_out = i < 0 ? 1 : g->nodes[i].n_outputs;
        for (int k = 0; k < n_out; k++) {
            int ti = i < 0 ? g->inputs[0] : g->nodes[i].outputs[k];
            if (ti < 0 || g->tensors[ti].dtype != LUCID_DTYPE_FLOAT || g->tensors[ti].data)
                continue;
            acts++;
            CHECK(lucid_calib_table_find(t, g->tensors[ti].name) != NULL,
                  "activation '%s' has an entry", g->tensors[ti].name);
        }
    }
    CHECK(acts == t->n && t->n >= 8, "%zu activation tensors, %zu entries", acts, t->n);

    /* ranges against a direct computation: the optimized model's own reference run (the
     * calibration runs a float32 plan, whose kernels sum in another order: equal to 1e-5) */
    direct *d = calloc(1, sizeof *d);
    d->g = g;
    lucid_context_t *ctx = NULL;
    CHECK(g->n_tensors < 4096 && lucid_context_create(m, NULL, &ctx, &err) == 0, "context: %s",
          err.message);
    lucid_context_set_observer(ctx, direct_observe, d);
    float img[784];
    double in_lo = INFINITY, in_hi = -INFINITY;
    for (size_t i = 0; ctx && i < 20; i++) {
        lucid_dataset_load(ds, i, img, NULL, &err);
        for (int j = 0; j < 784; j++) {
            in_lo = fmin(in_lo, img[j]);
            in_hi = fmax(in_hi, img[j]);
        }
        int64_t dims[4] = {1, 1, 28, 28};
        lucid_context_set_input(ctx, g->tensors[g->inputs[0]].name, LUCID_DTYPE_FLOAT, 4, dims,
                                img);
        CHECK(lucid_context_run(ctx) == 0, "run: %s", lucid_context_error(ctx));
    }
    lucid_context_destroy(ctx);
    const lucid_calib_entry *in = lucid_calib_table_find(t, g->tensors[g->inputs[0]].name);
    CHECK(in && in->min == in_lo && in->max == in_hi, "input range [%g, %g] vs [%g, %g]",
          in ? in->min : 0, in ? in->max : 0, in_lo, in_hi);
    size_t compared = 0, views = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_outputs; k++) {
            int ti = n->outputs[k];
            const lucid_calib_entry *e = ti >= 0 ? lucid_calib_table_find(t, g->tensors[ti].name)
                                                 : NULL;
            if (!e) continue;
            if (d->seen[ti]) {
                compared++;
                CHECK(fabs(e->min - d->lo[ti]) <= 1e-5 * fmax(1, fabs(d->lo[ti])) &&
                          fabs(e->max - d->hi[ti]) <= 1e-5 * fmax(1, fabs(d->hi[ti])),
                      "'%s': [%.9g, %.9g] vs direct [%.9g, %.9g]", e->name, e->min, e->max,
                      d->lo[ti], d->hi[ti]);
            } else if (n->elided && n->n_outputs == 1) {
                /* a view (Flatten, Reshape): its source's values */
                const lucid_calib_entry *src =
                    lucid_calib_table_find(t, g->tensors[n->inputs[0]].name);
                views++;
                CHECK(src && src->min == e->min && src->max == e->max,
                      "view '%s' has its source's range", e->name);
            }
            for (int c = 0; c < 2; c++) {
                const lucid_calib_entry *o = lucid_calib_table_find(tab[c], e->name);
                CHECK(o && o->min == e->min && o->max == e->max &&
                          !memcmp(o->hist, e->hist, BINS * sizeof(uint64_t)),
                      "'%s': the same statistics under every calibrator", e->name);
            }
            CHECK(e->threshold > 0 && e->threshold <= e->amax, "'%s': 0 < threshold <= amax",
                  e->name);
            CHECK(hist_sum(e->hist) == (uint64_t)lucid_tensor_numel(&g->tensors[ti]) * 20,
                  "'%s': the histogram counts every value", e->name);
        }
    }
    free(d);
    CHECK(compared + views + 1 == t->n, "compared %zu + views %zu + input of %zu", compared, views,
          t->n);
    printf("lenet5, 20 Fashion-MNIST training images: %zu tensors (%zu views)\n", t->n, views);
    printf("  %-34s %10s %10s %10s %10s %10s\n", "tensor", "min", "amax", "minmax", "p99.99",
           "entropy");
    for (size_t k = 0; k < t->n; k++)
        printf("  %-34s %10.5g %10.5g %10.5g %10.5g %10.5g\n", t->entries[k].name,
               t->entries[k].min, t->entries[k].amax, tab[0]->entries[k].threshold,
               tab[1]->entries[k].threshold, t->entries[k].threshold);
    lenet_table = t;
    tab[2] = NULL;
done:
    for (int c = 0; c < 3; c++) lucid_calib_table_destroy(tab[c]);
    lucid_dataset_destroy(ds);
    lucid_model_destroy(m);
}

/* ---- the cache ------------------------------------------------------------------------ */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc(1, (size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = '\0';
    fclose(f);
    return s;
}

static void write_text(const char *path, const char *s, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(s, 1, n, f);
    fclose(f);
}

/* Writes body (every line before the checksum) with its correct checksum line. */
static void write_signed(const char *path, const char *body)
{
    size_t n = strlen(body);
    char *s = malloc(n + 64);
    memcpy(s, body, n);
    snprintf(s + n, 64, "checksum fnv1a64 %016llx\n",
             (unsigned long long)lucid_hash_fnv1a(body, n, 0));
    write_text(path, s, strlen(s));
    free(s);
}

static bool tables_equal(const lucid_calib_table *a, const lucid_calib_table *b)
{
    if (!a || !b || a->n != b->n || a->calibrator != b->calibrator ||
        memcmp(&a->percentile, &b->percentile, sizeof(double)) != 0 || a->samples != b->samples ||
        strcmp(a->source, b->source) != 0)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->entries[i].name, b->entries[i].name) != 0 ||
            memcmp(&a->entries[i].threshold, &b->entries[i].threshold, sizeof(double)) != 0)
            return false;
    return true;
}

static void expect_load_fail(const char *path, const char *what, const char *needle,
                             const char *line)
{
    lucid_error err;
    lucid_calib_table *t = NULL;
    lucid_status st = lucid_calib_cache_load(path, &t, &err);
    CHECK(st != 0 && t == NULL, "cache with %s is refused", what);
    if (!st) {
        lucid_calib_table_destroy(t);
        return;
    }
    CHECK(strstr(err.message, path) != NULL, "%s: the message names the file: %s", what,
          err.message);
    CHECK(strstr(err.message, needle) != NULL, "%s: message '%s' should mention '%s'", what,
          err.message, needle);
    CHECK(!line || strstr(err.message, line) != NULL, "%s: message '%s' should name '%s'", what,
          err.message, line);
    printf("  refused %s: %s\n", what, err.message);
}

static void test_cache(void)
{
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/cal.cache", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.cache", tmpdir);
    lucid_error err;

    /* odd names and thresholds round trip exactly */
    static const char *names[] = {"conv1 out", "tab\there", "100%", "\xc3\xbcnic\xc3\xb6" "de",
                                  "x%20y",     "a=b:c/d", "%",    "~!"};
    const double values[] = {0.0, 4.9406564584124654e-324, 1.7976931348623157e308, 0.1,
                             1.0 / 3.0, 2.5, 1e-300, 127.0};
    lucid_calib_table t = {0};
    lucid_calib_entry e[8];
    memset(e, 0, sizeof e);
    for (int i = 0; i < 8; i++) {
        e[i].name = (char *)names[i];
        e[i].threshold = values[i];
    }
    t.entries = e;
    t.n = 8;
    t.calibrator = LUCID_CALIBRATOR_PERCENTILE;
    t.percentile = 99.99;
    t.samples = 500;
    snprintf(t.source, sizeof t.source, "npy:/data/calib set 100%%.npy (tab\there)");
    lucid_status st = lucid_calib_cache_save(&t, path, &err);
    CHECK(st == 0, "save: %s", err.message);
    lucid_calib_table *back = NULL;
    st = lucid_calib_cache_load(path, &back, &err);
    CHECK(st == 0, "load: %s", err.message);
    CHECK(tables_equal(&t, back), "odd names and thresholds round trip exactly");
    char *text = read_text(path);
    printf("--- %s\n%s---\n", path, text ? text : "");
    CHECK(text && strstr(text, "conv1%20out 0x0p+0 0\n") && strstr(text, "\n100%25 ") &&
              strstr(text, "\nx%2520y ") && strstr(text, "\n%25 ") &&
              strstr(text, "\n%C3%BCnic%C3%B6de ") && strstr(text, "tab%09here") &&
              strstr(text, "calib set 100%25.npy (tab%09here)") &&
              strstr(text, "calibrator=percentile percentile=99.99\n"),
          "the cache text is percent-encoded as documented");
    /* saving the loaded table gives the same bytes */
    char again[512];
    snprintf(again, sizeof again, "%s/again.cache", tmpdir);
    if (back) lucid_calib_cache_save(back, again, &err);
    char *text2 = read_text(again);
    CHECK(text && text2 && strcmp(text, text2) == 0, "save(load(f)) is byte-identical to f");
    free(text2);
    free(text);
    lucid_calib_table_destroy(back);

    /* the LeNet-5 table */
    if (lenet_table) {
        CHECK(lucid_calib_cache_save(lenet_table, path, &err) == 0, "save lenet: %s",
              err.message);
        back = NULL;
        CHECK(lucid_calib_cache_load(path, &back, &err) == 0, "load lenet: %s", err.message);
        CHECK(tables_equal(lenet_table, back), "the LeNet-5 table round trips exactly");
        CHECK(back && back->n && back->entries[0].hist == NULL && back->entries[0].amax == 0,
              "a loaded table has thresholds only");
        lucid_calib_table_destroy(back);
        char *lt = read_text(path);
        printf("--- lenet5 cache\n%s---\n", lt ? lt : "");
        free(lt);
    }

    /* saving refuses what it could not read back */
    e[1].threshold = NAN;
    st = lucid_calib_cache_save(&t, bad, &err);
    CHECK(st != 0 && strstr(err.message, "not a finite"), "save refuses NaN: %s", err.message);
    e[1].threshold = -1.0;
    st = lucid_calib_cache_save(&t, bad, &err);
    CHECK(st != 0 && strstr(err.message, "non-negative"), "save refuses -1: %s", err.message);
    e[1].threshold = 1.0;
    e[1].name = (char *)names[0];
    st = lucid_calib_cache_save(&t, bad, &err);
    CHECK(st != 0 && strstr(err.message, "earlier entry"), "save refuses duplicates: %s",
          err.message);
    e[1].name = (char *)"";
    st = lucid_calib_cache_save(&t, bad, &err);
    CHECK(st != 0 && strstr(err.message, "no name"), "save refuses an empty name: %s",
          err.message);
    e[1].name = (char *)names[1];
    snprintf(path, sizeof path, "%s/no/such/dir/x.cache", tmpdir);
    st = lucid_calib_cache_save(&t, path, &err);
    CHECK(st == LUCID_STATUS_IO_ERROR && strstr(err.message, "cannot create"),
          "save into a missing folder: %s", err.message);

    /* corrupt files */
    const char *head = "lucid-calibration-cache 1 calibrator=entropy percentile=99.99\n"
                       "source fashion-mnist:train (60000 images)\n"
                       "samples 20\n";
    char body[2048];
    snprintf(body, sizeof body, "%stensors 3\na 0x1p+0 1\nb 0x1.8p+1 3\nc 0x0p+0 0\n", head);
    write_signed(bad, body);
    back = NULL;
    st = lucid_calib_cache_load(bad, &back, &err);
    CHECK(st == 0 && back && back->n == 3 && back->entries[1].threshold == 3.0 &&
              back->samples == 20 && back->calibrator == LUCID_CALIBRATOR_ENTROPY,
          "a hand-written cache loads: %s", err.message);
    lucid_calib_table_destroy(back);

    snprintf(body, sizeof body,
             "lucid-calibration-cache 2 calibrator=entropy percentile=99.99\nsource x\nsamples "
             "1\ntensors 0\n");
    write_signed(bad, body);
    expect_load_fail(bad, "version 2", "format version 2", "line 1");
    write_text(bad, "PK\003\004 binary", 11);
    expect_load_fail(bad, "a foreign file", "not a lucid calibration cache", "line 1");
    write_text(bad, "", 0);
    expect_load_fail(bad, "no bytes", "is empty", "cache");
    snprintf(path, sizeof path, "%s/missing.cache", tmpdir);
    expect_load_fail(path, "no file", "cannot open", "cache");

    snprintf(body, sizeof body, "%stensors 3\na 0x1p+0 1\nb 0x1.8p+1 3\nc 0x0p+0 0\n", head);
    write_signed(bad, body);
    char *good = read_text(bad);
    size_t glen = strlen(good);
    /* a changed byte */
    char *mod = strdup(good);
    *strstr(mod, "b 0x1.8p+1 3") = 'B';
    write_text(bad, mod, glen);
    expect_load_fail(bad, "a changed name", "does not match the content", "line 8");
    free(mod);
    /* cut inside a line, at a line end, and without the checksum line */
    write_text(bad, good, glen / 2);
    expect_load_fail(bad, "a file cut in half", "truncated", "line");
    write_text(bad, good, (size_t)(strstr(good, "c 0x0p") - good));
    expect_load_fail(bad, "a file cut at a line end", "truncated", "line 6");
    write_text(bad, good, (size_t)(strstr(good, "checksum") - good));
    expect_load_fail(bad, "no checksum line", "truncated", "line 7");
    /* bytes after the checksum line */
    mod = malloc(glen + 16);
    snprintf(mod, glen + 16, "%sextra\n", good);
    write_text(bad, mod, strlen(mod));
    expect_load_fail(bad, "a line after the checksum", "does not end with its checksum line", "line 9");
    free(mod);
    free(good);

    struct {
        const char *what, *tensors, *needle, *line;
    } cases[] = {
        {"a duplicate name", "tensors 3\na 0x1p+0 1\nb 0x1p+0 1\na 0x1p+1 2\n", "listed twice",
         "line 7"},
        {"an infinite threshold", "tensors 1\na inf inf\n", "not finite", "line 5"},
        {"a NaN threshold", "tensors 1\na nan nan\n", "not finite", "line 5"},
        {"a negative threshold", "tensors 1\na -0x1p+0 -1\n", "negative", "line 5"},
        {"a negative zero", "tensors 1\na -0x0p+0 -0\n", "negative", "line 5"},
        {"a name with a space", "tensors 1\nconv 1 0x1p+0 1\n", "found 4 fields", "line 5"},
        {"a name with a tab", "tensors 1\nconv\t1 0x1p+0 1\n", "byte 0x09", "line 5"},
        {"a name with a control byte", "tensors 2\na 0x1p+0 1\nx\001y 0x1p+0 1\n", "byte 0x01",
         "line 6"},
        {"a raw UTF-8 name", "tensors 1\n\xc3\xbc 0x1p+0 1\n", "byte 0xC3", "line 5"},
        {"a CRLF line", "tensors 1\na 0x1p+0 1\r\n", "byte 0x0D", "line 5"},
        {"a non-canonical escape", "tensors 1\n%41 0x1p+0 1\n", "written as itself", "line 5"},
        {"a lower-case escape", "tensors 1\n%c3 0x1p+0 1\n", "not an escape", "line 5"},
        {"a short escape", "tensors 1\nab%2 0x1p+0 1\n", "not followed by two hex", "line 5"},
        {"an escaped NUL", "tensors 1\na%00 0x1p+0 1\n", "NUL", "line 5"},
        {"a decimal threshold in the hex field", "tensors 1\na 1.5 1.5\n",
         "not a hexadecimal float", "line 5"},
        {"disagreeing hex and decimal", "tensors 1\na 0x1p+0 1.5\n", "does not equal", "line 5"},
        {"a missing field", "tensors 1\na 0x1p+0\n", "found 2 fields", "line 5"},
        {"a double space", "tensors 1\na  0x1p+0 1\n", "single spaces", "line 5"},
        {"an absurd tensor count", "tensors 99999999999\na 0x1p+0 1\n", "up to 1000000",
         "line 4"},
        {"a negative tensor count", "tensors -1\n", "expected 'tensors N'", "line 4"},
        {"more tensors declared than listed", "tensors 3\na 0x1p+0 1\n", "3 tensors are declared",
         "line 6"},
        {"fewer tensors declared than listed", "tensors 1\na 0x1p+0 1\nb 0x1p+0 1\n",
         "1 tensors are declared", "line 4"},
    };
    for (size_t i = 0; i < LUCID_ARRAY_LEN(cases); i++) {
        snprintf(body, sizeof body, "%s%s", head, cases[i].tensors);
        write_signed(bad, body);
        expect_load_fail(bad, cases[i].what, cases[i].needle, cases[i].line);
    }
    struct {
        const char *what, *text, *needle, *line;
    } headers[] = {
        {"an unknown calibrator",
         "lucid-calibration-cache 1 calibrator=magic percentile=99.99\nsource x\nsamples 1\n",
         "unknown calibrator 'magic'", "line 1"},
        {"a percentile of 0",
         "lucid-calibration-cache 1 calibrator=percentile percentile=0\nsource x\nsamples 1\n",
         "not a number in (0, 100]", "line 1"},
        {"no calibrator", "lucid-calibration-cache 1 percentile=1\nsource x\nsamples 1\n",
         "lacks calibrator", "line 1"},
        {"an unknown header field",
         "lucid-calibration-cache 1 calibrator=minmax percentile=1 bits=4\nsource x\nsamples 1\n",
         "unexpected field 'bits=4'", "line 1"},
        {"an absurd sample count",
         "lucid-calibration-cache 1 calibrator=minmax percentile=1\nsource x\nsamples "
         "99999999999999\n",
         "expected 'samples N'", "line 3"},
        {"no source line",
         "lucid-calibration-cache 1 calibrator=minmax percentile=1\nsamples 1\nsamples 1\n",
         "expected 'source <text>'", "line 2"},
        {"a source with a bad escape",
         "lucid-calibration-cache 1 calibrator=minmax percentile=1\nsource 100%\nsamples 1\n",
         "the source text", "line 2"},
    };
    for (size_t i = 0; i < LUCID_ARRAY_LEN(headers); i++) {
        snprintf(body, sizeof body, "%stensors 0\n", headers[i].text);
        write_signed(bad, body);
        expect_load_fail(bad, headers[i].what, headers[i].needle, headers[i].line);
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lucid_test_calibration_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("cannot create a temporary folder\n");
        return 1;
    }
    test_calibrators();
    test_collect_synthetic();
    test_bad_input();
    test_lenet();
    test_cache();
    lucid_calib_table_destroy(lenet_table);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("could not remove %s\n", tmpdir);
    return test_summary();
}
