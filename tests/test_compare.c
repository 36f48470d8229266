/* test_compare.c - `lucid compare` on synthetic results.json folders: two models on three
 * devices merged, a planted anomaly found and explained by its planted layer, a near tie and a
 * gap within the noise not flagged, a device without peaks skipped with the reason, peaks
 * given by the caller, cross-device determinism, and bad inputs refused with a message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "characterize/characterize.h"
#include "characterize/compare.h"
#include "test_util.h"

static char tmp[256];

/* ---- synthetic results ---- */

typedef struct syn_layer {
    const char *name, *op, *tactic;
    double ms;
} syn_layer;

typedef struct syn_cell {
    const char *engine, *config, *status;
    double median, min, p90;
    const syn_layer *layers;
    size_t n_layers;
    const char *extra; /* more members of the cell, raw JSON (energy, layer_outputs, ...) */
    const char *digest;
} syn_cell;

typedef struct syn_result {
    const char *dir, *model_path, *device; /* device: "cpu" or "cuda" */
    const char *gpu;                       /* environment.device.name (cuda) */
    double fp32, fp16, bw;                 /* 0: no environment.device */
    const syn_cell *cells;
    size_t n_cells;
    const char *ablation; /* raw JSON array, NULL: [] */
} syn_result;

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    ch_buf b = {0};
    ch_puts(&b, "");
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk - 1, f)) > 0) {
        chunk[n] = '\0';
        ch_puts(&b, chunk);
    }
    fclose(f);
    return b.data;
}

static void write_result(const syn_result *r)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/%s", tmp, r->dir);
    mkdir(dir, 0777);
    ch_buf b = {0};
    ch_printf(&b,
              "{\"schema\":\"lucid-characterize/1\",\"complete\":true,\"interrupted\":false,"
              "\"started\":\"2026-12-01T00:00:00Z\",\"finished\":null,\"seconds\":1,"
              "\"command\":null,\n\"model\":{\"path\":\"%s\",\"input\":\"x\"},\n"
              "\"settings\":{\"device\":\"%s\"},\n\"environment\":{\"cpu_model\":\"Test "
              "CPU\",\"cores\":8,\"gpu\":\"%s\"",
              r->model_path, r->device,
              strcmp(r->device, "cuda") == 0 ? "NVIDIA driver 999 (not the name)" : "none");
    if (r->fp32 > 0) {
        ch_printf(&b, ",\"device\":{\"kind\":\"%s\",\"name\":\"%s\",\"peak_gflops_fp32\":%g,",
                  r->device, r->gpu, r->fp32);
        if (r->fp16 > 0)
            ch_printf(&b, "\"peak_gflops_fp16\":%g,", r->fp16);
        else
            ch_puts(&b, "\"peak_gflops_fp16\":null,");
        ch_printf(&b, "\"bandwidth_gbs\":%g,\"source\":\"test\"}", r->bw);
    }
    ch_puts(&b, "},\n\"configs\":[{\"name\":\"reference\",\"base\":null,\"adds\":null},"
                "{\"name\":\"tuned\",\"base\":\"reference\",\"adds\":\"autotuned tactics\"},"
                "{\"name\":\"fp16\",\"base\":\"tuned\",\"adds\":\"FP16 precision\"}],\n"
                "\"cells\":[");
    for (size_t i = 0; i < r->n_cells; i++) {
        const syn_cell *c = &r->cells[i];
        bool ok = strcmp(c->status, "ok") == 0;
        ch_printf(&b,
                  "%s\n{\"engine\":\"%s\",\"config\":\"%s\",\"label\":\"%s/%s\",\"status\":"
                  "\"%s\",\"reason\":%s,\"output_digest\":",
                  i ? "," : "", c->engine, c->config, c->engine, c->config, c->status,
                  ok ? "null" : "\"not installed here\"");
        ch_json_str(&b, c->digest);
        if (ok)
            ch_printf(&b,
                      ",\"latency\":{\"min\":%.9g,\"median\":%.9g,\"mean\":%.9g,\"p90\":%.9g,"
                      "\"throughput\":%.9g},\"scenarios\":{\"single_stream\":{\"p90_ms\":%.9g},"
                      "\"offline\":{\"batches\":[],\"best_batch\":1,"
                      "\"best_samples_per_s\":%.9g,\"note\":null}},"
                      "\"accuracy\":{\"top1\":90,\"note\":null,\"vs_reference\":"
                      "{\"argmax_agreement\":100,\"max_abs_error\":0.001}}",
                      c->min, c->median, c->median, c->p90, 1000 / c->median, c->p90,
                      1000 / c->median);
        else
            ch_puts(&b, ",\"latency\":null,\"accuracy\":null");
        ch_puts(&b, ",\"profile\":");
        if (c->n_layers) {
            ch_puts(&b, "{\"runs\":10,\"total_ms\":1,\"layers\":[");
            for (size_t k = 0; k < c->n_layers; k++)
                ch_printf(&b, "%s{\"name\":\"%s\",\"op\":\"%s\",\"tactic\":\"%s\",\"mean_ms\":%g}",
                          k ? "," : "", c->layers[k].name, c->layers[k].op, c->layers[k].tactic,
                          c->layers[k].ms);
            ch_puts(&b, "]}");
        } else {
            ch_puts(&b, "null");
        }
        if (c->extra) {
            ch_puts(&b, ",");
            ch_puts(&b, c->extra);
        }
        ch_puts(&b, "}");
    }
    ch_printf(&b, "],\n\"ablation\":%s}\n", r->ablation ? r->ablation : "[]");
    CHECK(!b.oom, "synthetic results");
    snprintf(path, sizeof path, "%s/results.json", dir);
    write_text(path, b.data);
    ch_buf_free(&b);
}

/* GPU Big: more peak compute and bandwidth than GPU Small, in FP32 and FP16. */
#define BIG "GPU Big", 60000, 500000, 3000
#define SMALL "GPU Small", 20000, 150000, 900

/* netA lucid/tuned: slower on GPU Big, because of one planted layer */
static const syn_layer tuned_big[] = {
    {"conv1", "FusedConv", "cuda.conv.a", 0.20},
    {"/planted/Conv", "FusedConv", "cuda.conv.slow_tactic", 1.50},
    {"fc", "Gemm", "cuda.gemm.a", 0.30},
    {"only_on_big", "Reorder", "cuda.reorder", 0.01},
};
static const syn_layer tuned_small[] = {
    {"conv1", "FusedConv", "cuda.conv.b", 0.25},
    {"/planted/Conv", "FusedConv", "cuda.conv.fast_tactic", 0.45},
    {"fc", "Gemm", "cuda.gemm.b", 0.28},
};
static const syn_layer tuned_cpu[] = {
    {"conv1", "FusedConv", "cpu.conv", 2.0},
    {"/planted/Conv", "FusedConv", "cpu.conv", 2.5},
    {"fc", "Gemm", "cpu.gemm", 0.5},
};

#define ENERGY(j)                                                                                  \
    "\"energy\":{\"readable\":true,\"note\":null,\"sm_clock_mhz\":1800,\"power_w\":300,\"joules_"  \
    "per_inference\":" #j "}"
#define SAME_OUT                                                                                   \
    "\"outputs_sample\":{\"samples\":2,\"elements_per_sample\":3,\"values\":[0.1,0.7,0.2,0.5,0.3," \
    "0.2]}"

static const syn_cell netA_cpu[] = {
    {"lucid", "reference", "ok", 10, 9.5, 10.5, NULL, 0, NULL, "fnv1a64:00000000000000c1"},
    {"lucid", "tuned", "ok", 5, 4.8, 5.2, tuned_cpu, 3, NULL, "fnv1a64:00000000000000c2"},
    {"lucid", "fp16", "ok", 6, 5.8, 6.2, NULL, 0, NULL, NULL},
    {"pytorch", "eager-fp32", "unavailable", 0, 0, 0, NULL, 0, NULL, NULL},
};
static const syn_cell netA_big[] = {
    {"lucid", "reference", "ok", 0.8, 0.78, 0.82, NULL, 0,
     "\"outputs_sample\":{\"samples\":2,\"elements_per_sample\":3,\"values\":[0.1,0.7,0.2,0.5,0.3,"
     "0.2]},\"layer_outputs\":[{\"name\":\"L1\",\"digest\":\"fnv1a64:1111111111111111\","
     "\"elements\":10,\"l2\":10,\"max_abs\":1},{\"name\":\"L2\",\"digest\":"
     "\"fnv1a64:2222222222222222\",\"elements\":10,\"l2\":5,\"max_abs\":1},{\"name\":\"L3\","
     "\"digest\":\"fnv1a64:3333333333333333\",\"elements\":10,\"l2\":2,\"max_abs\":1}]",
     "fnv1a64:00000000000000b1"},
    {"lucid", "tuned", "ok", 2.0, 1.9, 2.1, tuned_big, 4, ENERGY(0.6) "," SAME_OUT,
     "fnv1a64:00000000000000b2"},
    /* a near tie: 2% slower on the bigger GPU, within the 5% margin */
    {"lucid", "fp16", "ok", 0.408, 0.405, 0.41, NULL, 0, NULL, NULL},
    {"pytorch", "eager-fp32", "ok", 0.5, 0.49, 0.51, NULL, 0, NULL, NULL},
};
static const syn_cell netA_small[] = {
    {"lucid", "reference", "ok", 1.6, 1.55, 1.65, NULL, 0,
     "\"outputs_sample\":{\"samples\":2,\"elements_per_sample\":3,\"values\":[0.1,0.7,0.2000001,"
     "0.3,0.5,0.2]},\"layer_outputs\":[{\"name\":\"L1\",\"digest\":\"fnv1a64:1111111111111111\","
     "\"elements\":10,\"l2\":10,\"max_abs\":1},{\"name\":\"L2\",\"digest\":"
     "\"fnv1a64:2222222222222223\",\"elements\":10,\"l2\":5.000001,\"max_abs\":1},{\"name\":"
     "\"L3\",\"digest\":\"fnv1a64:3333333333333334\",\"elements\":10,\"l2\":2.1,\"max_abs\":1}]",
     "fnv1a64:00000000000000a1"},
    {"lucid", "tuned", "ok", 1.0, 0.95, 1.05, tuned_small, 3, ENERGY(0.3) "," SAME_OUT,
     "fnv1a64:00000000000000b2"},
    {"lucid", "fp16", "ok", 0.4, 0.39, 0.402, NULL, 0, NULL, NULL},
    {"pytorch", "eager-fp32", "ok", 0.9, 0.88, 0.92, NULL, 0, NULL, NULL},
};
static const syn_cell netb_cpu[] = {
    {"lucid", "reference", "ok", 8, 7.9, 8.1, NULL, 0, NULL, NULL},
    {"lucid", "tuned", "ok", 3, 2.9, 3.1, NULL, 0, NULL, "fnv1a64:0000000000000001"},
};
static const syn_cell netb_big[] = {
    {"lucid", "reference", "ok", 0.5, 0.49, 0.51, NULL, 0, NULL, NULL},
    /* 10% slower on the bigger GPU, but its fastest run beats the other's p90: noise */
    {"lucid", "tuned", "ok", 1.10, 0.98, 1.2, NULL, 0, NULL, "fnv1a64:0000000000000001"},
};
static const syn_cell netb_small[] = {
    {"lucid", "reference", "ok", 0.9, 0.88, 0.92, NULL, 0, NULL, NULL},
    {"lucid", "tuned", "ok", 1.00, 0.97, 1.05, NULL, 0, NULL, "fnv1a64:0000000000000001"},
};

#define N(a) (sizeof a / sizeof a[0])

static const syn_result results[] = {
    {"cpu-netA", "models/fashion/netA/model.onnx", "cpu", NULL, 0, 0, 0, netA_cpu, N(netA_cpu),
     NULL},
    {"big-netA", "models/fashion/netA/model.onnx", "cuda", BIG, netA_big, N(netA_big),
     "[{\"leaf\":\"tuned\",\"step\":\"tuned\",\"base\":\"reference\",\"adds\":\"autotuned "
     "tactics\",\"step_speedup\":0.4}]"},
    {"small-netA", "/abs/models/fashion/netA/model.onnx", "cuda", SMALL, netA_small, N(netA_small),
     NULL},
    {"cpu-netb", "cache/zoo/netb.onnx", "cpu", NULL, 0, 0, 0, netb_cpu, N(netb_cpu), NULL},
    {"big-netb", "cache/zoo/netb.onnx", "cuda", BIG, netb_big, N(netb_big), NULL},
    {"small-netb", "netb.onnx", "cuda", SMALL, netb_small, N(netb_small), NULL},
};

/* ---- reading compare.json back ---- */

static ch_json *load_json(const char *path)
{
    char *text = read_text(path);
    ch_json *j = text ? ch_json_parse(text) : NULL;
    free(text);
    return j;
}

static size_t count(const ch_json *arr)
{
    size_t n = 0;
    for (const ch_json *e = arr ? arr->child : NULL; e; e = e->next)
        n++;
    return n;
}

static bool str_is(const ch_json *o, const char *k, const char *v)
{
    const char *s = ch_json_string(o, k);
    return s && strcmp(s, v) == 0;
}

static lucid_status run_compare(const char *const *dirs, size_t n, const char *out,
                                const lucid_compare_peak *peaks, size_t n_peaks, char **summary,
                                lucid_error *err)
{
    lucid_compare_options o;
    lucid_compare_options_default(&o);
    o.out_dir = out;
    o.chartjs = "/nonexistent/chart.js"; /* the page must still be written */
    o.peaks = peaks;
    o.n_peaks = n_peaks;
    o.summary = summary;
    return lucid_compare(dirs, n, &o, err);
}

static void test_rules(void)
{
    char name[64];
    cmp_model_name("models/fashion/lenet5/model.onnx", name, sizeof name);
    CHECK(strcmp(name, "lenet5") == 0, "fashion model name '%s'", name);
    cmp_model_name("cache/zoo/resnet50/model.onnx", name, sizeof name);
    CHECK(strcmp(name, "resnet50") == 0, "zoo model name '%s'", name);
    cmp_model_name("/tmp/anymodel/mnasnet0_5.onnx", name, sizeof name);
    CHECK(strcmp(name, "mnasnet0_5") == 0, "base name '%s'", name);
    cmp_model_name("model.onnx", name, sizeof name);
    CHECK(strcmp(name, "model") == 0, "model.onnx alone '%s'", name);
    cmp_model_name("a.b/net", name, sizeof name);
    CHECK(strcmp(name, "net") == 0, "no extension '%s'", name);

    CHECK(cmp_reduced_precision("fp16") && cmp_reduced_precision("compile-fp16") &&
              cmp_reduced_precision("int8") && !cmp_reduced_precision("tuned"),
          "reduced precision by name");
    cmp_peaks big = {60000, 500000, 3000}, small = {20000, 150000, 900};
    cmp_peaks fast_narrow = {90000, NAN, 500}, none = {NAN, NAN, NAN};
    const char *basis = NULL;
    CHECK(cmp_dominates(&big, &small, false, &basis) && strcmp(basis, "fp32") == 0, "big > small");
    CHECK(cmp_dominates(&big, &small, true, &basis) && strcmp(basis, "fp16") == 0, "fp16 basis");
    CHECK(!cmp_dominates(&small, &big, false, NULL), "small does not dominate big");
    CHECK(!cmp_dominates(&fast_narrow, &small, false, NULL),
          "more compute but less bandwidth: no dominance");
    CHECK(cmp_dominates(&big, &fast_narrow, true, &basis) == false, "fp32 basis: less compute");
    CHECK(strcmp(basis, "fp32") == 0, "fp16 basis only when both record it");
    CHECK(!cmp_dominates(&big, &none, false, NULL) && !cmp_dominates(&none, &big, false, NULL),
          "no peaks: no dominance");

    CHECK(cmp_slower_beyond_noise(2.0, 1.9, 1.0, 1.05, 0.05), "clearly slower");
    CHECK(!cmp_slower_beyond_noise(1.02, 1.015, 1.0, 1.01, 0.05), "2%% is within the margin");
    CHECK(!cmp_slower_beyond_noise(1.10, 0.98, 1.0, 1.05, 0.05), "within the noise");
    CHECK(cmp_slower_beyond_noise(1.10, NAN, 1.0, 1.05, 0.05), "no spread: the margin alone");
    CHECK(!cmp_slower_beyond_noise(NAN, 1, 1, 1, 0.05), "no median: nothing");
}

static const ch_json *find_anomaly(const ch_json *anoms, const char *model, const char *label)
{
    for (const ch_json *a = anoms ? anoms->child : NULL; a; a = a->next)
        if (str_is(a, "model", model) && str_is(a, "label", label)) return a;
    return NULL;
}

static void test_merge(void)
{
    for (size_t i = 0; i < N(results); i++)
        write_result(&results[i]);
    char dirs[N(results)][512];
    const char *args[N(results)];
    for (size_t i = 0; i < N(results); i++) {
        snprintf(dirs[i], sizeof dirs[i], "%s/%s", tmp, results[i].dir);
        args[i] = dirs[i];
    }
    char out[512];
    snprintf(out, sizeof out, "%s/out", tmp);
    lucid_error err;
    char *summary = NULL;
    lucid_status st = run_compare(args, N(results), out, NULL, 0, &summary, &err);
    CHECK(st == LUCID_STATUS_OK, "compare: %s", err.message);
    if (st) return;
    const char *files[] = {"compare.json", "latency.csv", "anomalies.csv", "layers.csv",
                           "compare.html"};
    for (size_t i = 0; i < N(files); i++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        struct stat sb;
        CHECK(stat(p, &sb) == 0 && sb.st_size > 0, "%s written", files[i]);
    }
    char path[600];
    snprintf(path, sizeof path, "%s/compare.json", out);
    ch_json *j = load_json(path);
    CHECK(j != NULL, "compare.json parses");
    if (!j) {
        free(summary);
        return;
    }
    CHECK(str_is(j, "schema", CMP_SCHEMA), "schema");
    CHECK(count(ch_json_get(j, "inputs")) == 6, "six inputs");
    CHECK(count(ch_json_get(j, "models")) == 2, "two models");
    const ch_json *devs = ch_json_get(j, "devices");
    CHECK(count(devs) == 3, "three devices: %zu", count(devs));
    const char *want_dev[] = {"Test CPU (8 cores)", "GPU Big", "GPU Small"};
    size_t di = 0;
    for (const ch_json *d = devs ? devs->child : NULL; d && di < 3; d = d->next, di++)
        CHECK(str_is(d, "name", want_dev[di]), "device %zu is %s", di, want_dev[di]);
    const ch_json *models = ch_json_get(j, "models");
    CHECK(models && models->child && models->child->str &&
              strcmp(models->child->str, "netA") == 0 && models->child->next &&
              strcmp(models->child->next->str, "netb") == 0,
          "models netA (its folder's name) and netb (its base name)");

    /* the merge: netA has 4 cells, netb 2, each with its 3 devices */
    const ch_json *cells = ch_json_get(j, "cells");
    CHECK(count(cells) == 6, "six (model, cell) entries: %zu", count(cells));
    for (const ch_json *c = cells ? cells->child : NULL; c; c = c->next)
        CHECK(count(ch_json_get(c, "devices")) == 3, "%s %s on three devices",
              ch_json_string(c, "model"), ch_json_string(c, "label"));
    const ch_json *tuned = NULL;
    for (const ch_json *c = cells ? cells->child : NULL; c; c = c->next)
        if (str_is(c, "model", "netA") && str_is(c, "label", "lucid/tuned")) tuned = c;
    CHECK(tuned && str_is(tuned, "fastest_device", "GPU Small") &&
              str_is(tuned, "slowest_device", "Test CPU (8 cores)") &&
              fabs(ch_json_number(tuned, "fastest_over_slowest", 0) - 5.0) < 1e-9,
          "netA lucid/tuned: fastest GPU Small, 5x over the CPU");
    const ch_json *td = tuned ? ch_json_get(tuned, "devices") : NULL;
    const ch_json *cpu_energy = td && td->child ? ch_json_get(td->child, "energy") : NULL;
    CHECK(cpu_energy && str_is(cpu_energy, "note", "not recorded"),
          "energy not recorded on the CPU");
    const ch_json *big_energy =
        td && td->child && td->child->next ? ch_json_get(td->child->next, "energy") : NULL;
    CHECK(big_energy && ch_json_number(big_energy, "joules_per_inference", 0) == 0.6,
          "energy on GPU Big");

    /* the anomaly finder: exactly the planted one */
    const ch_json *anoms = ch_json_get(j, "anomalies");
    CHECK(count(anoms) == 1, "one anomaly, found %zu", count(anoms));
    const ch_json *a = find_anomaly(anoms, "netA", "lucid/tuned");
    CHECK(a && str_is(a, "slower_device", "GPU Big") && str_is(a, "faster_device", "GPU Small"),
          "the planted anomaly: netA lucid/tuned slower on GPU Big than on GPU Small");
    const ch_json *al = a ? ch_json_get(a, "layers") : NULL;
    CHECK(al && al->child && str_is(al->child, "name", "/planted/Conv") &&
              str_is(al->child, "tactic_slower", "cuda.conv.slow_tactic") &&
              str_is(al->child, "tactic_faster", "cuda.conv.fast_tactic"),
          "the planted layer first, with its tactics on both devices");
    /* the profiles' sums: 2.01 ms against 0.98 ms */
    CHECK(al && al->child &&
              fabs(ch_json_number(al->child, "share_of_gap", 0) - 1.05 / 1.03) < 1e-6,
          "its share of the gap: 1.05 ms of 1.03 ms: %g",
          al && al->child ? ch_json_number(al->child, "share_of_gap", 0) : -1);
    CHECK(a && str_is(a, "gap_basis", "per-layer profile sums"), "the gap of the profiles");
    CHECK(al && count(al) == 2, "only layers slower on GPU Big are listed: %zu", count(al));
    CHECK(a && ch_json_number(a, "unmatched_layers_slower", -1) == 1,
          "a layer only on GPU Big is counted as unmatched");
    CHECK(!find_anomaly(anoms, "netA", "lucid/fp16"), "the 2%% near tie is not flagged");
    CHECK(!find_anomaly(anoms, "netb", "lucid/tuned"), "the gap within the noise is not flagged");

    /* the device without peaks, skipped with the reason */
    const ch_json *check = ch_json_get(j, "anomaly_check");
    const ch_json *skipped = check ? ch_json_get(check, "skipped_devices") : NULL;
    CHECK(count(skipped) == 1 && str_is(skipped->child, "device", "Test CPU (8 cores)"),
          "the CPU is skipped");
    const char *why = skipped && skipped->child ? ch_json_string(skipped->child, "reason") : NULL;
    CHECK(why && strstr(why, "peaks not recorded") && strstr(why, "--peak"), "reason: %s",
          why ? why : "(none)");
    CHECK(summary && strstr(summary, "Test CPU (8 cores): peaks not recorded"),
          "the summary says the CPU was not compared");
    CHECK(summary && strstr(summary, "Anomaly: lucid/tuned on netA is 2.00x slower on GPU Big "
                                     "than on GPU Small"),
          "the summary states the anomaly");

    /* optimizations: from the ablation where given, else from the config chain */
    const ch_json *opt = ch_json_get(j, "optimizations");
    bool from_ablation = false, from_chain = false;
    for (const ch_json *o = opt ? opt->child : NULL; o; o = o->next) {
        if (str_is(o, "model", "netA") && str_is(o, "device", "GPU Big") &&
            str_is(o, "step", "tuned"))
            from_ablation = str_is(o, "source", "ablation") &&
                            fabs(ch_json_number(o, "step_speedup", 0) - 0.4) < 1e-9;
        if (str_is(o, "model", "netA") && str_is(o, "device", "Test CPU (8 cores)") &&
            str_is(o, "step", "tuned"))
            from_chain = str_is(o, "source", "config chain") &&
                         fabs(ch_json_number(o, "step_speedup", 0) - 2.0) < 1e-9;
    }
    CHECK(from_ablation && from_chain, "step speedups from the ablation (%d) and the chain (%d)",
          from_ablation, from_chain);

    /* cross-device determinism */
    const ch_json *det = ch_json_get(j, "determinism");
    const ch_json *ref = NULL, *tun = NULL, *nb = NULL;
    for (const ch_json *d = det ? det->child : NULL; d; d = d->next) {
        bool pair = str_is(d, "device", "GPU Big") && str_is(d, "other_device", "GPU Small");
        if (pair && str_is(d, "model", "netA") && str_is(d, "label", "lucid/reference")) ref = d;
        if (pair && str_is(d, "model", "netA") && str_is(d, "label", "lucid/tuned")) tun = d;
        if (pair && str_is(d, "model", "netb") && str_is(d, "label", "lucid/tuned")) nb = d;
    }
    CHECK(tun && str_is(tun, "outputs", "bitwise equal"), "netA tuned: equal outputs");
    CHECK(ref && str_is(ref, "outputs", "differ") &&
              fabs(ch_json_number(ref, "max_abs_difference", 0) - 0.2) < 1e-9 &&
              ch_json_number(ref, "argmax_agreement", 0) == 50,
          "netA reference: outputs differ, max abs 0.2, argmax agreement 50%%");
    const ch_json *rl = ref ? ch_json_get(ref, "layers") : NULL;
    const ch_json *fd = rl ? ch_json_get(rl, "first_digest_difference") : NULL;
    const ch_json *fl = rl ? ch_json_get(rl, "first_l2_difference") : NULL;
    CHECK(fd && str_is(fd, "name", "L2"), "first layer whose digest differs: L2");
    CHECK(fl && str_is(fl, "name", "L3"), "first layer whose L2 differs beyond 1e-3: L3");
    CHECK(nb && str_is(nb, "outputs", "bitwise equal"), "netb tuned: equal output digests");
    ch_json_free(j);

    /* the page: the finding sentences in it */
    snprintf(path, sizeof path, "%s/compare.html", out);
    char *page = read_text(path);
    CHECK(page && strstr(page, "Anomaly: lucid/tuned on netA is 2.00x slower on GPU Big"),
          "compare.html holds the anomaly");
    CHECK(page && strstr(page, "__chartjs_missing"), "compare.html says Chart.js is missing");
    free(page);
    free(summary);

    /* peaks given by the caller: the CPU is compared too; a name matching no device refused */
    lucid_compare_peak p = {"Test CPU (8 cores)", 1000, 100, 0};
    snprintf(out, sizeof out, "%s/out-peaks", tmp);
    st = run_compare(args, N(results), out, &p, 1, NULL, &err);
    CHECK(st == LUCID_STATUS_OK, "compare with --peak: %s", err.message);
    snprintf(path, sizeof path, "%s/compare.json", out);
    j = load_json(path);
    check = j ? ch_json_get(j, "anomaly_check") : NULL;
    CHECK(check && count(ch_json_get(check, "skipped_devices")) == 0, "no device skipped");
    CHECK(count(ch_json_get(j, "anomalies")) == 1, "still the one anomaly");
    ch_json_free(j);
    lucid_compare_peak q = {"GPU Huge", 1000, 100, 0};
    snprintf(out, sizeof out, "%s/out-unknown", tmp);
    st = run_compare(args, N(results), out, &q, 1, NULL, &err);
    CHECK(st == LUCID_STATUS_INVALID_ARGUMENT && strstr(err.message, "GPU Huge") &&
              strstr(err.message, "GPU Small"),
          "peaks for an unknown device refused: %s", err.message);
    struct stat sb;
    CHECK(stat(out, &sb) != 0, "a refused compare writes nothing");
}

static void expect_refused(const char *const *args, size_t n, lucid_status want, const char *needle,
                           const char *what)
{
    char out[512];
    snprintf(out, sizeof out, "%s/refused", tmp);
    lucid_error err;
    memset(&err, 0, sizeof err);
    lucid_status st = run_compare(args, n, out, NULL, 0, NULL, &err);
    CHECK(st == want && strstr(err.message, needle), "%s: status %d (want %d), message '%s'", what,
          (int)st, (int)want, err.message);
    CHECK(!strchr(err.message, '\n'), "%s: one line", what);
    struct stat sb;
    CHECK(stat(out, &sb) != 0, "%s: nothing written", what);
}

static void test_refusals(void)
{
    char good[512], missing[512], empty[512], broken[512], wrong[512], p[600];
    snprintf(good, sizeof good, "%s/big-netA", tmp);
    snprintf(missing, sizeof missing, "%s/no-such-folder", tmp);
    snprintf(empty, sizeof empty, "%s/empty", tmp);
    snprintf(broken, sizeof broken, "%s/broken", tmp);
    snprintf(wrong, sizeof wrong, "%s/wrong", tmp);
    mkdir(empty, 0777);
    mkdir(broken, 0777);
    mkdir(wrong, 0777);
    snprintf(p, sizeof p, "%s/results.json", broken);
    write_text(p, "{\"schema\":\"lucid-characterize/1\",\"cells\":[");
    snprintf(p, sizeof p, "%s/results.json", wrong);
    write_text(p, "{\"schema\":\"lucid-bench/1\",\"latency_ms\":{}}");

    const char *a1[] = {good, missing};
    expect_refused(a1, 2, LUCID_STATUS_IO_ERROR, "no-such-folder", "a missing folder");
    const char *a2[] = {empty};
    expect_refused(a2, 1, LUCID_STATUS_IO_ERROR, "no results.json", "a folder without results");
    const char *a3[] = {broken, good};
    expect_refused(a3, 2, LUCID_STATUS_INVALID_MODEL, "not JSON", "broken JSON");
    const char *a4[] = {wrong};
    expect_refused(a4, 1, LUCID_STATUS_INVALID_MODEL, "lucid-bench/1", "the wrong schema");
    char file[600];
    snprintf(file, sizeof file, "%s/results.json", good);
    const char *a5[] = {good, file};
    expect_refused(a5, 2, LUCID_STATUS_INVALID_ARGUMENT, "given twice", "the same input twice");
    char other[512];
    snprintf(other, sizeof other, "%s/big-netA-again", tmp);
    mkdir(other, 0777);
    char *text = read_text(file);
    snprintf(p, sizeof p, "%s/results.json", other);
    if (text) write_text(p, text);
    free(text);
    const char *a6[] = {good, other};
    expect_refused(a6, 2, LUCID_STATUS_INVALID_ARGUMENT, "one result per model and device",
                   "one model on one device twice");
    expect_refused(a1, 0, LUCID_STATUS_INVALID_ARGUMENT, "no results", "no inputs");

    /* a cuda result without environment.device names its GPU by environment.gpu */
    snprintf(p, sizeof p, "%s/old-gpu", tmp);
    mkdir(p, 0777);
    char f2[700];
    snprintf(f2, sizeof f2, "%s/results.json", p);
    write_text(f2, "{\"schema\":\"lucid-characterize/1\",\"model\":{\"path\":\"m.onnx\"},"
                   "\"settings\":{\"device\":\"cuda\"},\"environment\":{\"gpu\":\"Old GPU\"},"
                   "\"cells\":[]}");
    const char *a7[] = {p};
    char out[512];
    snprintf(out, sizeof out, "%s/out-old", tmp);
    char *summary = NULL;
    lucid_error err;
    lucid_status st = run_compare(a7, 1, out, NULL, 0, &summary, &err);
    CHECK(st == LUCID_STATUS_OK && summary && strstr(summary, "Old GPU (cuda): peaks not recorded"),
          "an old cuda result: %s", st ? err.message : summary);
    free(summary);
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/lucid-test-compare.XXXXXX");
    if (!mkdtemp(tmp)) {
        printf("cannot make a temporary folder\n");
        return 1;
    }
    test_rules();
    test_merge();
    test_refusals();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) printf("note: could not remove %s\n", tmp);
    return test_summary();
}
