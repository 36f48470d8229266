/* test_characterize_determinism.c - the study's determinism checks find what they must:
 * a test-only Gemm tactic that sums its partial products in thread-arrival order is caught by
 * the run-to-run check and localized to its layer (and left out of deterministic builds), and
 * two builds that chose different tactics are caught by the build-to-build check. The test
 * tactics live only in this program: the study's internal hook adds them to its builds, so
 * no normal build can select them. Also: the study's refusals of bad options. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "characterize/characterize.h"
#include "ops/gemm.h"
#include "ops/op.h"
#include "plan/plan.h"
#include "test_util.h"

#define MODEL LUCID_SOURCE_DIR "/models/fashion/lenet5/model.onnx"
/* K is split into this many chunks; their partial sums are added in an order the tactic
 * chooses (that order is what the tests vary) */
#define CHUNKS 8

typedef enum { ORDER_ARRIVAL, ORDER_FORWARD, ORDER_REVERSE } sum_order;

typedef struct gemm_state {
    const lucid_node *node;
    sum_order order;
    int64_t m, n, k;
    bool trans_b;
    atomic_uint runs; /* the test tactic's only mutable state: it varies the arrival order */
} gemm_state;

static bool gemm_supports(const lucid_graph *g, const lucid_node *n, const lucid_cpu_features *cpu,
                          char *why, size_t len)
{
    (void)cpu;
    if (n->op != LUCID_OP_GEMM || !n->params) return snprintf(why, len, "not a Gemm") < 0;
    const lucid_gemm_params *p = n->params;
    const lucid_ir_tensor *a = lucid_op_input(g, n, 0), *b = lucid_op_input(g, n, 1);
    const lucid_ir_tensor *c = lucid_op_input(g, n, 2);
    bool ok = p->alpha == 1 && p->beta == 1 && !p->trans_a && a && b && a->rank == 2 &&
              b->rank == 2 && a->dtype == LUCID_DTYPE_FLOAT &&
              (!c || (c->rank == 1 && c->dims[0] == (p->trans_b ? b->dims[0] : b->dims[1])));
    if (!ok) snprintf(why, len, "only plain float Gemm with a 1-D bias");
    return ok;
}

static lucid_status gemm_prepare(const lucid_graph *g, const lucid_node *n, sum_order order,
                                 void **state, lucid_error *err)
{
    (void)err;
    gemm_state *s = calloc(1, sizeof *s);
    if (!s) return LUCID_STATUS_OUT_OF_MEMORY;
    const lucid_gemm_params *p = n->params;
    const lucid_ir_tensor *a = lucid_op_input(g, n, 0), *b = lucid_op_input(g, n, 1);
    s->node = n;
    s->order = order;
    s->m = a->dims[0];
    s->k = a->dims[1];
    s->trans_b = p->trans_b != 0;
    s->n = s->trans_b ? b->dims[0] : b->dims[1];
    atomic_init(&s->runs, 0);
    *state = s;
    return LUCID_STATUS_OK;
}

static lucid_status prepare_arrival(const lucid_graph *g, const lucid_node *n, int threads,
                                    void **state, lucid_error *err)
{
    (void)threads;
    return gemm_prepare(g, n, ORDER_ARRIVAL, state, err);
}

static lucid_status prepare_forward(const lucid_graph *g, const lucid_node *n, int threads,
                                    void **state, lucid_error *err)
{
    (void)threads;
    return gemm_prepare(g, n, ORDER_FORWARD, state, err);
}

static lucid_status prepare_reverse(const lucid_graph *g, const lucid_node *n, int threads,
                                    void **state, lucid_error *err)
{
    (void)threads;
    return gemm_prepare(g, n, ORDER_REVERSE, state, err);
}

static void gemm_release(void *state)
{
    free(state);
}

static size_t gemm_workspace(const void *state, int threads)
{
    (void)threads;
    const gemm_state *s = state;
    return (size_t)(CHUNKS * s->m * s->n) * sizeof(float);
}

typedef struct chunk_job {
    const gemm_state *s;
    const float *a, *b;
    float *partial;
    unsigned rotate;
    atomic_int next_ticket;
    int arrival[CHUNKS];
} chunk_job;

/* Each chunk's partial products in a fixed order; on finishing it takes the next ticket,
 * so arrival[] records the order chunks finished in. The chunk a task starts with rotates
 * from run to run, as thread timing would shuffle it, so the order also varies on one core. */
static void chunk_task(void *ctx, size_t begin, size_t end, int thread)
{
    (void)thread;
    chunk_job *j = ctx;
    const gemm_state *s = j->s;
    for (size_t t = begin; t < end; t++) {
        int c = (int)((t + j->rotate) % CHUNKS);
        int64_t k0 = s->k * c / CHUNKS, k1 = s->k * (c + 1) / CHUNKS;
        float *out = j->partial + (size_t)c * (size_t)(s->m * s->n);
        for (int64_t i = 0; i < s->m; i++)
            for (int64_t o = 0; o < s->n; o++) {
                float acc = 0;
                for (int64_t k = k0; k < k1; k++)
                    acc +=
                        j->a[i * s->k + k] * (s->trans_b ? j->b[o * s->k + k] : j->b[k * s->n + o]);
                out[i * s->n + o] = acc;
            }
        j->arrival[atomic_fetch_add(&j->next_ticket, 1)] = c;
    }
}

static lucid_status gemm_run(const void *state, const lucid_array *in, int n_in, lucid_array *out,
                             int n_out, void *workspace, lucid_threadpool *pool, lucid_error *err)
{
    (void)n_out;
    (void)err;
    gemm_state *s = (gemm_state *)state; /* the run counter only */
    chunk_job j = {.s = s, .a = in[0].data, .b = in[1].data, .partial = workspace};
    atomic_init(&j.next_ticket, 0);
    j.rotate = s->order == ORDER_ARRIVAL ? atomic_fetch_add(&s->runs, 1) : 0;
    lucid_threadpool_run(pool, CHUNKS, 1, chunk_task, &j);
    const float *bias = n_in > 2 && in[2].data ? in[2].data : NULL;
    float *y = out[0].data;
    for (int64_t i = 0; i < s->m; i++)
        for (int64_t o = 0; o < s->n; o++) {
            float acc = bias ? bias[o] : 0;
            for (int q = 0; q < CHUNKS; q++) {
                int c = s->order == ORDER_ARRIVAL   ? j.arrival[q]
                        : s->order == ORDER_FORWARD ? q
                                                    : CHUNKS - 1 - q;
                acc += j.partial[(size_t)c * (size_t)(s->m * s->n) + (size_t)(i * s->n + o)];
            }
            y[i * s->n + o] = acc;
        }
    return LUCID_STATUS_OK;
}

static const lucid_tactic arrival_tactic = {
    .name = "test.gemm.f32.arrival_order",
    .backend = "cpu",
    .flags = LUCID_TACTIC_NONDETERMINISTIC,
    .supports = gemm_supports,
    .prepare = prepare_arrival,
    .release = gemm_release,
    .workspace = gemm_workspace,
    .run = gemm_run,
};
static const lucid_tactic forward_tactic = {
    .name = "test.gemm.f32.forward",
    .backend = "cpu",
    .supports = gemm_supports,
    .prepare = prepare_forward,
    .release = gemm_release,
    .workspace = gemm_workspace,
    .run = gemm_run,
};
static const lucid_tactic reverse_tactic = {
    .name = "test.gemm.f32.reverse",
    .backend = "cpu",
    .supports = gemm_supports,
    .prepare = prepare_reverse,
    .release = gemm_release,
    .workspace = gemm_workspace,
    .run = gemm_run,
};

/* Real Gemm tactics are left out, so the plain Gemm layer (the last classifier layer of
 * LeNet-5) can only take a test tactic; fused Gemm layers fall back to the reference. */
static const char *const base_exclude[] = {"cpu.gemm", "dnnl.matmul", "blas.gemm", "xnn.gemm"};

static void exclude_real_gemms(void *user, const char *config, int build, lucid_build_options *o)
{
    (void)user;
    (void)config;
    (void)build;
    o->exclude_tactics = base_exclude;
    o->n_exclude_tactics = 4;
}

/* Build k may use only the forward (even k) or the reverse (odd k) test tactic, every other
 * layer the reference kernel: nothing is timed, so the Gemm is the only difference. */
static void alternate(void *user, const char *config, int build, lucid_build_options *o)
{
    (void)config;
    const char **list = user;
    list[0] = build % 2 ? "test.gemm.f32.reverse" : "test.gemm.f32.forward";
    o->tactics = list;
    o->n_tactics = 1;
}

static char outdir[256];

static void options(lucid_characterize_options *o, const char *configs, int runs, int builds)
{
    lucid_characterize_options_default(o);
    o->model = MODEL;
    o->engines = "lucid";
    o->configs = configs;
    o->out_dir = outdir;
    o->threads = 2;
    o->warmup_ms = 0;
    o->min_iterations = 3;
    o->min_duration_s = 0.01;
    o->runs = runs;
    o->builds = builds;
    o->batches = "1";
    o->tune_ms = 0.2;
}

/* The name of the layer whose tactic is `tactic` in a fresh build like the study's. */
static void layer_with_tactic(const char *tactic, char *out, size_t len)
{
    out[0] = '\0';
    lucid_model_t *m = NULL;
    lucid_plan_t *p = NULL;
    lucid_build_options bo;
    lucid_build_options_default(&bo);
    bo.threads = 2;
    bo.time_ms = 0.2;
    bo.exclude_tactics = base_exclude;
    bo.n_exclude_tactics = 4;
    const lucid_tactic *extra[] = {&arrival_tactic};
    if (lucid_model_load(MODEL, &m, NULL) || lucid_plan_build_ex(m, &bo, extra, 1, &p, NULL)) {
        lucid_model_destroy(m);
        return;
    }
    lucid_plan_info pi;
    lucid_plan_get_info(p, &pi);
    for (size_t i = 0; i < pi.num_layers; i++) {
        lucid_layer_info li;
        if (!lucid_plan_layer(p, i, &li) && strcmp(li.tactic, tactic) == 0)
            snprintf(out, len, "%s", li.name);
    }
    lucid_plan_destroy(p);
    lucid_model_destroy(m);
}

static void test_run_to_run(void)
{
    char gemm_layer[LUCID_MAX_NAME];
    layer_with_tactic(arrival_tactic.name, gemm_layer, sizeof gemm_layer);
    CHECK(gemm_layer[0], "a build with the arrival-order tactic uses it for a layer");

    const lucid_tactic *extra[] = {&arrival_tactic};
    ch_hooks hooks = {
        .extra_tactics = extra, .n_extra_tactics = 1, .build_options = exclude_real_gemms};
    lucid_characterize_options o;
    options(&o, "tuned,deterministic", 12, 1);
    lucid_characterization_t *c = NULL;
    lucid_error err;
    lucid_status st = ch_characterize_run(&o, &hooks, &c, &err);
    CHECK(st == LUCID_STATUS_OK, "study runs: %s", st ? err.message : "");
    if (st) return;
    const ch_cell *tuned = ch_find_cell(c, "lucid", "tuned");
    const ch_cell *det = ch_find_cell(c, "lucid", "deterministic");
    CHECK(tuned && tuned->state == CH_OK, "tuned measured: %s", tuned ? tuned->reason : "");
    CHECK(det && det->state == CH_OK, "deterministic measured: %s", det ? det->reason : "");
    if (tuned && det) {
        CHECK(strstr(tuned->tactics, arrival_tactic.name) != NULL, "tuned uses the test tactic: %s",
              tuned->tactics);
        CHECK(tuned->r2r.ok && tuned->r2r.runs == 12 && tuned->r2r.distinct_outputs >= 2,
              "run-to-run finds the non-determinism (%d distinct outputs in %d runs)",
              tuned->r2r.distinct_outputs, tuned->r2r.runs);
        CHECK(tuned->r2r.div.found && strcmp(tuned->r2r.div.layer, gemm_layer) == 0 &&
                  strcmp(tuned->r2r.div.tactic, arrival_tactic.name) == 0,
              "the divergence is localized to the test tactic's layer '%s' (found '%s', %s)",
              gemm_layer, tuned->r2r.div.layer, tuned->r2r.div.tactic);
        CHECK(tuned->r2r.div.layers_differing == 1,
              "only the last layer differs (%zu layers differ)", tuned->r2r.div.layers_differing);
        CHECK(strstr(det->tactics, "test.gemm") == NULL,
              "the deterministic build leaves the non-deterministic tactic out: %s", det->tactics);
        CHECK(det->r2r.ok && det->r2r.distinct_outputs == 1 && !det->r2r.div.found,
              "the deterministic build is run-to-run deterministic (%d distinct)",
              det->r2r.distinct_outputs);
        CHECK(tuned->acc.ok && tuned->acc.vs_ref && tuned->acc.max_abs < 1e-3 &&
                  tuned->acc.agreement == 100,
              "the test tactic still computes the Gemm (max abs error %g)", tuned->acc.max_abs);
    }
    /* results.json was written and reads back with the same verdicts */
    char path[400];
    snprintf(path, sizeof path, "%s/results.json", outdir);
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    if (f) {
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        text = calloc(1, (size_t)n + 1);
        if (text && fread(text, 1, (size_t)n, f) != (size_t)n) text[0] = '\0';
        fclose(f);
    }
    ch_json *j = ch_json_parse(text);
    CHECK(j && strcmp(ch_json_string(j, "schema"), CH_SCHEMA) == 0 &&
              ch_json_number(j, "complete", 0) == 1,
          "results.json parses, schema %s, complete", CH_SCHEMA);
    const ch_json *cells = ch_json_get(j, "cells");
    const ch_json *first = cells ? cells->child : NULL;
    const ch_json *r2r = ch_json_get(ch_json_get(first, "determinism"), "run_to_run");
    CHECK(first && strcmp(ch_json_string(first, "config"), "tuned") == 0 &&
              ch_json_number(r2r, "deterministic", 1) == 0 &&
              strcmp(ch_json_string(ch_json_get(r2r, "first_diverging_layer"), "name"),
                     gemm_layer) == 0,
          "results.json records the divergence");
    ch_json_free(j);
    free(text);
    lucid_characterization_destroy(c);
}

static void test_build_to_build(void)
{
    const lucid_tactic *extra[] = {&forward_tactic, &reverse_tactic};
    const char *list[1];
    ch_hooks hooks = {
        .extra_tactics = extra, .n_extra_tactics = 2, .build_options = alternate, .user = list};
    lucid_characterize_options o;
    options(&o, "tuned", 3, 2);
    lucid_characterization_t *c = NULL;
    lucid_error err;
    lucid_status st = ch_characterize_run(&o, &hooks, &c, &err);
    CHECK(st == LUCID_STATUS_OK, "study runs: %s", st ? err.message : "");
    if (st) return;
    const ch_cell *x = ch_find_cell(c, "lucid", "tuned");
    CHECK(x && x->state == CH_OK, "tuned measured: %s", x ? x->reason : "");
    if (x) {
        const ch_build_to_build *b = &x->b2b;
        CHECK(b->ok && b->builds == 2, "two builds (%d)", b->builds);
        CHECK(b->distinct_tactic_sets == 2 && b->distinct_plans == 2,
              "the builds' different tactics are found: %d tactic sets, %d plans",
              b->distinct_tactic_sets, b->distinct_plans);
        CHECK(b->tactic_layers_differing == 1, "one layer's tactic differs (%d)",
              b->tactic_layers_differing);
        CHECK(strstr(b->differing_tactics, "test.gemm.f32.forward") &&
                  strstr(b->differing_tactics, "test.gemm.f32.reverse"),
              "the differing layer is named with both tactics: %s", b->differing_tactics);
        CHECK(b->distinct_outputs == 2 && b->div.found && b->div.layers_differing == 1 &&
                  strcmp(b->div.tactic, "test.gemm.f32.forward") == 0,
              "summation order changes the output, localized to the Gemm (%d outputs, %s %s)",
              b->distinct_outputs, b->div.layer, b->div.tactic);
        CHECK(x->r2r.ok && x->r2r.distinct_outputs == 1,
              "each build alone is run-to-run deterministic");
    }
    lucid_characterization_destroy(c);
}

static void test_refusals(void)
{
    lucid_characterize_options o;
    lucid_characterization_t *c = NULL;
    lucid_error err;
    options(&o, "tuned,fp64", 1, 1);
    CHECK(lucid_characterize(&o, &c, &err) == LUCID_STATUS_INVALID_ARGUMENT && !c &&
              strstr(err.message, "unknown config 'fp64'"),
          "unknown config: %s", err.message);
    options(&o, NULL, 1, 1);
    o.engines = "lucid,tensorflow";
    CHECK(lucid_characterize(&o, &c, &err) == LUCID_STATUS_INVALID_ARGUMENT &&
              strstr(err.message, "unknown engine 'tensorflow'"),
          "unknown engine: %s", err.message);
    options(&o, NULL, 1, 1);
    o.device = "tpu";
    CHECK(lucid_characterize(&o, &c, &err) == LUCID_STATUS_INVALID_ARGUMENT, "unknown device");
    options(&o, NULL, 1, 1);
    o.model = LUCID_SOURCE_DIR "/no/such/model.onnx";
    CHECK(lucid_characterize(&o, &c, &err) == LUCID_STATUS_IO_ERROR, "missing model: %s",
          err.message);
    options(&o, NULL, 1, 1);
    o.dataset = "npy:/no/such/file.npy";
    CHECK(lucid_characterize(&o, &c, &err) != LUCID_STATUS_OK && strstr(err.message, "dataset"),
          "bad dataset: %s", err.message);
    options(&o, NULL, 1, 1);
    o.batches = "1,0";
    CHECK(lucid_characterize(&o, &c, &err) == LUCID_STATUS_INVALID_ARGUMENT, "bad batches");
    CHECK(!lucid_tactic_find(arrival_tactic.name),
          "the test tactic is not in the registry normal builds choose from");
}

/* A plan run twice after one lucid_context_set_input computes the same outputs: no layer may
 * reuse the input's memory (found by the run-to-run check, which first saw 8 distinct
 * outputs in 20 runs of LeNet-5 when the input was set once). */
static void test_input_survives_runs(void)
{
    lucid_model_t *m = NULL;
    lucid_plan_t *p = NULL;
    lucid_context_t *ctx = NULL;
    lucid_build_options bo;
    lucid_build_options_default(&bo);
    bo.threads = 2;
    bo.time_ms = 0.2;
    if (lucid_model_load(MODEL, &m, NULL) || lucid_plan_build(m, &bo, &p, NULL) ||
        lucid_context_create_plan(p, NULL, &ctx, NULL)) {
        CHECK(0, "LeNet-5 builds");
        goto done;
    }
    float x[784];
    for (int i = 0; i < 784; i++)
        x[i] = (float)((i * 7919) % 255) / 255.0f;
    int64_t dims[4] = {1, 1, 28, 28};
    float first[10], again[10];
    lucid_array a;
    bool ok = !lucid_context_set_input(ctx, "input", LUCID_DTYPE_FLOAT, 4, dims, x) &&
              !lucid_context_run(ctx) && !lucid_context_output(ctx, 0, &a) &&
              a.nbytes == sizeof first;
    if (ok) memcpy(first, a.data, sizeof first);
    for (int r = 0; r < 3 && ok; r++) {
        ok = !lucid_context_run(ctx) && !lucid_context_output(ctx, 0, &a);
        if (ok) memcpy(again, a.data, sizeof again);
        CHECK(ok && memcmp(first, again, sizeof first) == 0,
              "run %d after one set_input gives the first run's outputs", r + 2);
    }
    CHECK(ok, "runs succeed");
done:
    lucid_context_destroy(ctx);
    lucid_plan_destroy(p);
    lucid_model_destroy(m);
}

int main(void)
{
    test_input_survives_runs();
    snprintf(outdir, sizeof outdir, "/tmp/lucid-test-characterize-%d", (int)getpid());
    test_refusals();
    test_run_to_run();
    test_build_to_build();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", outdir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", outdir);
    return test_summary();
}
