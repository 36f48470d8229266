/* test_plan.c - building plans: outputs against the reference executor, save/load round
 * trips, byte-identical deterministic rebuilds, the memory plan, and corrupt plan files. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"
#include "lucid.h"

static char tmpdir[256];

/* Runs a context on a deterministic input and copies output 0 into a new buffer. */
static float *run_once(lucid_context_t *ctx, const lucid_model_t *m, size_t *count)
{
    lucid_tensor_desc d;
    lucid_model_input(m, 0, &d);
    int64_t n = 1;
    for (int i = 0; i < d.rank; i++) n *= d.dims[i];
    float *x = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) x[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    lucid_context_set_input(ctx, d.name, LUCID_DTYPE_FLOAT, d.rank, d.dims, x);
    free(x);
    if (lucid_context_run(ctx)) {
        printf("run failed: %s\n", lucid_context_error(ctx));
        return NULL;
    }
    lucid_array out;
    lucid_context_output(ctx, 0, &out);
    *count = out.nbytes / sizeof(float);
    float *copy = malloc(out.nbytes);
    memcpy(copy, out.data, out.nbytes);
    return copy;
}

static bool files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = false;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static void *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *d = malloc(*n ? *n : 1);
    if (fread(d, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return d;
}

static void test_model(const char *path)
{
    lucid_error err;
    lucid_model_t *m = NULL;
    if (lucid_model_load(path, &m, &err)) {
        printf("SKIP %s: %s\n", path, err.message);
        return;
    }
    lucid_context_t *ref = NULL;
    lucid_context_create(m, NULL, &ref, &err);
    size_t nref = 0, n = 0;
    float *yref = run_once(ref, m, &nref);
    lucid_context_destroy(ref);
    float scale = 0;
    for (size_t i = 0; i < nref; i++) scale = fmaxf(scale, fabsf(yref[i]));

    for (int threads = 1; threads <= 2; threads++) {
        lucid_build_options o;
        lucid_build_options_default(&o);
        o.threads = threads;
        o.time_ms = 2;
        lucid_plan_t *plan = NULL;
        lucid_status st = lucid_plan_build(m, &o, &plan, &err);
        CHECK(st == 0, "%s: build with %d threads: %s", path, threads, err.message);
        if (st) continue;
        lucid_plan_info info;
        lucid_plan_get_info(plan, &info);
        CHECK(info.arena_bytes <= info.naive_bytes && info.arena_bytes > 0,
              "%s: arena %zu <= naive %zu", path, info.arena_bytes, info.naive_bytes);
        /* the tactic check: what it kept is what the layers say, and kept only if faster */
        size_t said = 0;
        for (size_t i = 0; i < info.num_layers; i++) {
            lucid_layer_info li;
            lucid_plan_layer(plan, i, &li);
            said += li.reason && strncmp(li.reason, "the tactic check", 16) == 0;
        }
        CHECK(info.tactic_check_kept <= info.tactic_check_tried &&
                  said == (size_t)info.tactic_check_kept &&
                  (info.tactic_check_rounds == 0 ||
                   (info.tactic_check_before_ms > 0 &&
                    (info.tactic_check_kept ? info.tactic_check_after_ms <
                                                  info.tactic_check_before_ms
                                            : info.tactic_check_after_ms ==
                                                  info.tactic_check_before_ms))),
              "%s: tactic check tried %d kept %d (layers saying so %zu), %g -> %g ms", path,
              info.tactic_check_tried, info.tactic_check_kept, said,
              info.tactic_check_before_ms, info.tactic_check_after_ms);
        if (info.tactic_check_tried)
            printf("  %s, %d threads: tactic check tried %d, kept %d\n", path, threads,
                   info.tactic_check_tried, info.tactic_check_kept);
        lucid_context_t *ctx = NULL;
        CHECK(lucid_context_create_plan(plan, NULL, &ctx, &err) == 0, "context: %s",
              err.message);
        float *y = ctx ? run_once(ctx, lucid_plan_model(plan), &n) : NULL;
        float worst = 0;
        for (size_t i = 0; y && i < n && i < nref; i++)
            worst = fmaxf(worst, fabsf(y[i] - yref[i]));
        CHECK(y && n == nref && worst <= 1e-4f * fmaxf(scale, 1.0f),
              "%s: plan (%d threads) vs reference: max error %g (scale %g)", path, threads, worst,
              scale);
        /* a second context on the same plan gives the same bits */
        lucid_context_t *ctx2 = NULL;
        lucid_context_create_plan(plan, NULL, &ctx2, &err);
        size_t n2 = 0;
        float *y2 = ctx2 ? run_once(ctx2, lucid_plan_model(plan), &n2) : NULL;
        CHECK(y && y2 && n2 == n && memcmp(y, y2, n * sizeof(float)) == 0,
              "%s: two contexts of one plan agree", path);
        free(y2);
        lucid_context_destroy(ctx2);
        /* save, load, run: identical outputs */
        char file[512];
        snprintf(file, sizeof file, "%s/p%d.plan", tmpdir, threads);
        st = lucid_plan_save(plan, file, &err);
        CHECK(st == 0, "save: %s", err.message);
        lucid_plan_t *loaded = NULL;
        st = lucid_plan_load(file, &loaded, &err);
        CHECK(st == 0, "load: %s", err.message);
        if (!st) {
            lucid_context_t *lc = NULL;
            lucid_context_create_plan(loaded, NULL, &lc, &err);
            size_t nl = 0;
            float *yl = lc ? run_once(lc, lucid_plan_model(loaded), &nl) : NULL;
            CHECK(y && yl && nl == n && memcmp(y, yl, n * sizeof(float)) == 0,
                  "%s: loaded plan gives identical outputs", path);
            free(yl);
            lucid_context_destroy(lc);
            char again[512];
            snprintf(again, sizeof again, "%s/p%d_again.plan", tmpdir, threads);
            lucid_plan_save(loaded, again, &err);
            CHECK(files_equal(file, again), "%s: a loaded plan saves to the same bytes", path);
            lucid_plan_destroy(loaded);
        }
        free(y);
        lucid_context_destroy(ctx);
        lucid_plan_destroy(plan);
    }

    /* convolutions forced channels-last (v 0) or NCHW16C (v 1: only oneDNN's blocked
     * convolution, and the tactics of other ops that keep NCHW16C, before the reference):
     * Reorder layers at the chain's ends, the same outputs, and a save/load round trip that
     * re-derives every tensor's layout */
    for (int v = 0; v < 2; v++) {
        static const char *const not_nhwc[] = {"cpu.conv", "dnnl.conv.f32.nchw",
                                               "dnnl.conv.f32.blocked", "blas.conv"};
        static const char *const only16[] = {"dnnl.conv.f32.nchw16c", "dnnl.pool.f32.nchw16c",
                                             "cpu.concat_split.nchw16c",
                                             "cpu.batchnorm.f32.avx512.nchw16c",
                                             "cpu.reorder", "cpu.gemm", "dnnl.matmul"};
        const char *want = v ? "dnnl.conv.f32.nchw16c" : "dnnl.conv.f32.nhwc";
        lucid_build_options o;
        lucid_build_options_default(&o);
        o.threads = 2;
        o.time_ms = 1;
        o.no_layout_check = 1; /* the forced layout itself, not the all-plain alternative */
        o.no_tactic_check = 1; /* and the forced tactics */
        if (v) {
            o.tactics = only16;
            o.n_tactics = 7;
        } else {
            o.exclude_tactics = not_nhwc;
            o.n_exclude_tactics = 4;
        }
        lucid_plan_t *plan = NULL;
        lucid_status st = lucid_plan_build(m, &o, &plan, &err);
        CHECK(st == 0, "%s: %s build: %s", path, want, err.message);
        if (!st) {
            lucid_plan_info info;
            lucid_plan_get_info(plan, &info);
            bool offered = false; /* was `want` a candidate (oneDNN built in, a layer it takes)? */
            for (size_t i = 0; i < info.num_layers; i++) {
                lucid_layer_info li;
                lucid_plan_layer(plan, i, &li);
                for (size_t k = 0; k < li.num_candidates; k++) {
                    lucid_candidate_info ci;
                    lucid_plan_candidate(plan, i, k, &ci);
                    offered |= ci.supported && strcmp(ci.tactic, want) == 0;
                }
            }
            size_t alt_layers = v ? info.nchw16c_layers : info.nhwc_layers;
            if (offered)
                CHECK(alt_layers > 0 && info.reorder_layers >= (size_t)(v ? 1 : 2),
                      "%s: %zu layers run %s, %zu reorders", path, alt_layers, want,
                      info.reorder_layers);
            else
                printf("SKIP %s: %s takes no layer in this build\n", path, want);
            lucid_context_t *ctx = NULL;
            lucid_context_create_plan(plan, NULL, &ctx, &err);
            float *y = ctx ? run_once(ctx, lucid_plan_model(plan), &n) : NULL;
            float worst = 0;
            for (size_t i = 0; y && i < n && i < nref; i++)
                worst = fmaxf(worst, fabsf(y[i] - yref[i]));
            CHECK(y && n == nref && worst <= 1e-4f * fmaxf(scale, 1.0f),
                  "%s: %s plan vs reference: max error %g", path, want, worst);
            /* runs again without setting the input: an input its Reorder converts when it is
             * set (stored only converted) must still be there, unchanged */
            if (y && !lucid_context_run(ctx)) {
                lucid_array again;
                lucid_context_output(ctx, 0, &again);
                CHECK(again.nbytes == n * sizeof(float) &&
                          memcmp(again.data, y, again.nbytes) == 0,
                      "%s: a second run of the %s plan without setting the input", path, want);
            }
            /* a Reorder of the graph input is done when the input is set: the plan has the
             * layer, the context does not run it */
            if (ctx) {
                lucid_tensor_desc d;
                lucid_model_input(lucid_plan_model(plan), 0, &d);
                char reformat[LUCID_MAX_NAME + 16];
                snprintf(reformat, sizeof reformat, "Reformat %s to ", d.name);
                bool in_plan = false, run = false;
                for (size_t i = 0; i < info.num_layers; i++) {
                    lucid_layer_info li;
                    lucid_plan_layer(plan, i, &li);
                    in_plan |= li.name && strncmp(li.name, reformat, strlen(reformat)) == 0;
                }
                for (size_t i = 0; i < lucid_context_num_layers(ctx); i++) {
                    lucid_layer_profile lp;
                    if (!lucid_context_layer_profile(ctx, i, &lp))
                        run |= lp.name && strncmp(lp.name, reformat, strlen(reformat)) == 0;
                }
                CHECK(!run, "%s: the %s plan's input Reorder runs (it is done when set)", path,
                      want);
                if (in_plan)
                    printf("  %s: %s plan converts its input when it is set\n", path, want);
            }
            char file[512];
            snprintf(file, sizeof file, "%s/layout%d.plan", tmpdir, v);
            lucid_plan_t *loaded = NULL;
            st = lucid_plan_save(plan, file, &err);
            if (!st) st = lucid_plan_load(file, &loaded, &err);
            CHECK(st == 0, "%s: %s plan saves and loads: %s", path, want, err.message);
            lucid_context_t *lc = NULL;
            if (loaded) lucid_context_create_plan(loaded, NULL, &lc, &err);
            size_t nl = 0;
            float *yl = lc ? run_once(lc, lucid_plan_model(loaded), &nl) : NULL;
            CHECK(y && yl && nl == n && memcmp(y, yl, n * sizeof(float)) == 0,
                  "%s: the loaded %s plan gives identical outputs", path, want);
            free(y);
            free(yl);
            lucid_context_destroy(lc);
            lucid_context_destroy(ctx);
            lucid_plan_destroy(loaded);
            lucid_plan_destroy(plan);
        }
    }

    /* deterministic builds with a timing cache: byte-identical plans */
    char cache[512], a[512], b[512];
    snprintf(cache, sizeof cache, "%s/timing.cache", tmpdir);
    snprintf(a, sizeof a, "%s/det_a.plan", tmpdir);
    snprintf(b, sizeof b, "%s/det_b.plan", tmpdir);
    for (int k = 0; k < 2; k++) {
        lucid_build_options o;
        lucid_build_options_default(&o);
        o.threads = 1;
        o.deterministic = 1;
        o.time_ms = 2;
        o.timing_cache = cache;
        lucid_plan_t *plan = NULL;
        lucid_status st = lucid_plan_build(m, &o, &plan, &err);
        CHECK(st == 0, "deterministic build: %s", err.message);
        if (!st) lucid_plan_save(plan, k ? b : a, &err);
        lucid_plan_destroy(plan);
    }
    CHECK(files_equal(a, b), "%s: deterministic rebuilds are byte-identical", path);

    /* corrupt and foreign plan files */
    size_t len;
    unsigned char *bytes = read_all(a, &len);
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.plan", tmpdir);
    struct {
        const char *what;
        size_t cut;      /* write only this many bytes (0: all) */
        long flip;       /* xor 0x5a into this byte (-1: none) */
        const char *msg; /* must be in the message */
    } cases[] = {
        {"empty", 1, -1, "shorter than its header"},
        {"truncated header", 40, -1, "shorter than its header"},
        {"truncated payload", len - 10, -1, "truncated"},
        {"flipped payload byte", 0, (long)len - 20, "checksum"},
        {"bad magic", 0, 0, "bad magic"},
        {"foreign version", 0, 20, "rebuild the plan"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char *copy = malloc(len);
        memcpy(copy, bytes, len);
        if (cases[c].flip >= 0) copy[cases[c].flip] ^= 0x5a;
        write_bytes(bad, copy, cases[c].cut == 1 ? 0 : cases[c].cut ? cases[c].cut : len);
        free(copy);
        lucid_plan_t *p = NULL;
        lucid_status st = lucid_plan_load(bad, &p, &err);
        CHECK(st != 0 && p == NULL && strstr(err.message, cases[c].msg) &&
                  strstr(err.message, "bad.plan"),
              "%s refused: %s", cases[c].what, err.message);
        lucid_plan_destroy(p);
    }
    free(bytes);
    lucid_plan_t *p = NULL;
    CHECK(lucid_plan_load(tmpdir, &p, &err) == LUCID_STATUS_IO_ERROR, "a folder is refused: %s",
          err.message);
    free(yref);
    lucid_model_destroy(m);
}

int main(int argc, char **argv)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lucid_test_plan_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    const char *models[] = {LUCID_SOURCE_DIR "/models/fashion/lenet5/model.onnx",
                            LUCID_SOURCE_DIR "/models/fashion/resnet/model.onnx",
                            LUCID_SOURCE_DIR "/models/fashion/inception/model.onnx"};
    if (argc > 1) /* models named on the command line instead */
        for (int i = 1; i < argc; i++) test_model(argv[i]);
    else
        for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
            if (access(models[i], R_OK) == 0) test_model(models[i]);
            else printf("SKIP %s: not present\n", models[i]);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", tmpdir);
    return test_summary();
}
