/* report.c - the study's output folder: results.json (schema lucid-characterize/1,
 * docs/characterize.schema.json), CSV tables, a Chrome-trace profile, the self-contained
 * report.html, and the terminal summary. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "characterize/characterize.h"
#include "core/error.h"

#include "characterize/report_js.h"

/* ---- JSON helpers ---- */

static void key(ch_buf *b, const char *k)
{
    ch_json_str(b, k);
    ch_puts(b, ":");
}

static void kv_num(ch_buf *b, const char *k, double v, bool comma)
{
    key(b, k);
    ch_json_num(b, v);
    if (comma) ch_puts(b, ",");
}

static void kv_str(ch_buf *b, const char *k, const char *v, bool comma)
{
    key(b, k);
    ch_json_str(b, v);
    if (comma) ch_puts(b, ",");
}

static void kv_bool(ch_buf *b, const char *k, bool v, bool comma)
{
    key(b, k);
    ch_puts(b, v ? "true" : "false");
    if (comma) ch_puts(b, ",");
}

static const char *nz(const char *s)
{
    return s && s[0] ? s : NULL;
}

static void divergence_json(ch_buf *b, const ch_divergence *d)
{
    if (!d->found) {
        ch_puts(b, "null");
        return;
    }
    ch_puts(b, "{");
    kv_str(b, "name", d->layer, true);
    kv_str(b, "op", d->op, true);
    kv_str(b, "tactic", d->tactic, true);
    kv_num(b, "index", (double)d->index, false);
    ch_puts(b, "}");
}

static void latency_json(ch_buf *b, const ch_latency *l)
{
    if (!l->ok) {
        ch_puts(b, "null");
        return;
    }
    ch_puts(b, "{");
    kv_num(b, "min", l->ms.min, true);
    kv_num(b, "mean", l->ms.mean, true);
    kv_num(b, "median", l->ms.median, true);
    kv_num(b, "p90", l->ms.p90, true);
    kv_num(b, "p95", l->ms.p95, true);
    kv_num(b, "p99", l->ms.p99, true);
    kv_num(b, "max", l->ms.max, true);
    kv_num(b, "stddev", l->ms.stddev, true);
    kv_num(b, "cv", l->ms.cv, true);
    kv_bool(b, "cv_warning", l->ms.cv > 0.01, true);
    kv_num(b, "iterations", (double)l->iterations, true);
    kv_num(b, "warmup_iterations", (double)l->warmup_iterations, true);
    kv_num(b, "warmup_s", l->warmup_s, true);
    kv_num(b, "total_s", l->total_s, true);
    kv_num(b, "throughput", l->throughput, true);
    kv_bool(b, "capped", l->capped, true);
    /* trtexec's GPU breakdown (host-to-device, compute, device-to-host, enqueue; means):
     * null on the CPU */
    key(b, "gpu_breakdown");
    if (l->has_gpu) {
        ch_puts(b, "{");
        kv_num(b, "h2d_ms", l->h2d_ms, true);
        kv_num(b, "compute_ms", l->compute_ms, true);
        kv_num(b, "d2h_ms", l->d2h_ms, true);
        kv_num(b, "enqueue_ms", l->enqueue_ms, false);
        ch_puts(b, "},");
    } else {
        ch_puts(b, "null,");
    }
    key(b, "histogram");
    int64_t sum = 0;
    for (int i = 0; i < CH_HIST_BINS; i++)
        sum += l->hist[i];
    if (sum == 0) {
        ch_puts(b, "null");
    } else {
        ch_puts(b, "{");
        kv_num(b, "lo_ms", l->hist_lo, true);
        kv_num(b, "hi_ms", l->hist_hi, true);
        key(b, "counts");
        ch_puts(b, "[");
        for (int i = 0; i < CH_HIST_BINS; i++) {
            if (i) ch_puts(b, ",");
            ch_json_num(b, (double)l->hist[i]);
        }
        ch_puts(b, "]}");
    }
    ch_puts(b, "}");
}

static double gflops_of(const ch_layer *l)
{
    return l->mean_ms > 0 ? (2 * l->macs + l->flops) / (l->mean_ms * 1e6) : NAN;
}

static double gbps_of(const ch_layer *l)
{
    return l->mean_ms > 0 ? l->bytes / (l->mean_ms * 1e6) : NAN;
}

static void cell_json(ch_buf *b, const ch_cell *cell)
{
    ch_puts(b, "{");
    kv_str(b, "engine", cell->engine, true);
    kv_str(b, "config", cell->config, true);
    kv_str(b, "label", cell->label, true);
    kv_str(b, "status", ch_state_name(cell->state), true);
    kv_str(b, "reason", nz(cell->reason), true);
    kv_str(b, "note", nz(cell->note), true);
    kv_str(b, "engine_version", cell->cfg ? lucid_version() : nz(cell->engine_version), true);
    kv_num(b, "seconds", cell->seconds, true);
    kv_num(b, "threads", cell->threads > 0 ? cell->threads : NAN, true);
    kv_str(b, "output_digest", nz(cell->output_digest), true);
    key(b, "cost");
    if (cell->has_cost) {
        ch_puts(b, "{");
        kv_num(b, "build_s", cell->build_s, true);
        kv_num(b, "plan_bytes", cell->plan_bytes >= 0 ? (double)cell->plan_bytes : NAN, true);
        kv_str(b, "plan_digest", nz(cell->plan_digest), true);
        kv_num(b, "activation_bytes", (double)cell->arena_bytes, true);
        kv_num(b, "naive_activation_bytes", (double)cell->naive_bytes, true);
        kv_num(b, "workspace_bytes", (double)cell->workspace_bytes, true);
        kv_num(b, "weight_bytes", (double)cell->weight_bytes, true);
        kv_num(b, "device_bytes", cell->device_bytes > 0 ? (double)cell->device_bytes : NAN,
               true);
        kv_num(b, "layers", (double)cell->layers_total, true);
        kv_num(b, "layers_run", (double)cell->layers_run, true);
        kv_str(b, "tactics", cell->tactics, false);
        ch_puts(b, "}");
    } else {
        ch_puts(b, "null");
    }
    ch_puts(b, ",");
    key(b, "latency");
    latency_json(b, &cell->lat);
    ch_puts(b, ",");
    key(b, "scenarios");
    ch_puts(b, "{");
    key(b, "single_stream");
    if (cell->lat.ok) {
        ch_puts(b, "{");
        kv_num(b, "p90_ms", cell->lat.ms.p90, false);
        ch_puts(b, "}");
    } else {
        ch_puts(b, "null");
    }
    ch_puts(b, ",");
    key(b, "offline");
    ch_puts(b, "{");
    key(b, "batches");
    ch_puts(b, "[");
    bool first = true;
    for (int i = 0; i < cell->off.n; i++) {
        if (isnan(cell->off.samples_per_s[i])) continue;
        if (!first) ch_puts(b, ",");
        first = false;
        ch_puts(b, "{");
        kv_num(b, "batch", (double)cell->off.batch[i], true);
        kv_num(b, "samples_per_s", cell->off.samples_per_s[i], true);
        kv_num(b, "p90_ms", cell->off.p90_ms[i], false);
        ch_puts(b, "}");
    }
    ch_puts(b, "],");
    bool best = cell->off.best >= 0;
    kv_num(b, "best_batch", best ? (double)cell->off.batch[cell->off.best] : NAN, true);
    kv_num(b, "best_samples_per_s", best ? cell->off.samples_per_s[cell->off.best] : NAN, true);
    kv_str(b, "note", nz(cell->off.note), false);
    ch_puts(b, "}},");
    key(b, "accuracy");
    const ch_accuracy *a = &cell->acc;
    if (a->ok) {
        ch_puts(b, "{");
        kv_num(b, "samples", (double)a->samples, true);
        kv_bool(b, "labelled", a->labelled, true);
        kv_num(b, "top1", a->top1, true);
        kv_num(b, "top5", a->top5, true);
        key(b, "vs_reference");
        if (a->vs_ref) {
            ch_puts(b, "{");
            kv_num(b, "argmax_agreement", a->agreement, true);
            kv_num(b, "max_abs_error", a->max_abs, true);
            kv_num(b, "max_rel_error", a->max_rel, true);
            kv_num(b, "cosine", a->cosine, false);
            ch_puts(b, "}");
        } else {
            ch_puts(b, "null");
        }
        ch_puts(b, ",");
        kv_str(b, "note", nz(a->note), false);
        ch_puts(b, "}");
    } else if (a->note[0]) {
        ch_puts(b, "{");
        kv_str(b, "note", a->note, false);
        ch_puts(b, "}");
    } else {
        ch_puts(b, "null");
    }
    ch_puts(b, ",");
    key(b, "profile");
    if (cell->n_layers) {
        ch_puts(b, "{");
        kv_num(b, "runs", cell->profile_runs, true);
        kv_num(b, "total_ms", cell->profile_total_ms, true);
        key(b, "layers");
        ch_puts(b, "[");
        for (size_t i = 0; i < cell->n_layers; i++) {
            const ch_layer *l = &cell->layers[i];
            if (i) ch_puts(b, ",");
            ch_puts(b, "{");
            kv_str(b, "name", l->name, true);
            kv_str(b, "op", l->op, true);
            kv_str(b, "tactic", l->tactic, true);
            kv_num(b, "mean_ms", l->mean_ms, true);
            kv_num(b, "min_ms", l->min_ms, true);
            kv_num(b, "max_ms", l->max_ms, true);
            kv_num(b, "share",
                   cell->profile_total_ms > 0 ? l->mean_ms / cell->profile_total_ms : NAN, true);
            kv_num(b, "macs", l->macs, true);
            kv_num(b, "flops", 2 * l->macs + l->flops, true);
            kv_num(b, "bytes", l->bytes, true);
            kv_num(b, "gflops_per_s", gflops_of(l), true);
            kv_num(b, "gbytes_per_s", gbps_of(l), l->n_kernels > 0);
            if (l->n_kernels) kv_str(b, "kernels", l->kernels, false);
            ch_puts(b, "}");
        }
        ch_puts(b, "],");
        kv_str(b, "kernels_note", nz(cell->kernels_note), false);
        ch_puts(b, "}");
    } else {
        ch_puts(b, "null");
    }
    ch_puts(b, ",");
    key(b, "determinism");
    ch_puts(b, "{");
    key(b, "run_to_run");
    const ch_run_to_run *rr = &cell->r2r;
    if (rr->ok) {
        ch_puts(b, "{");
        kv_num(b, "runs", rr->runs, true);
        kv_num(b, "distinct_outputs", rr->distinct_outputs, true);
        kv_bool(b, "deterministic", rr->distinct_outputs == 1, true);
        kv_num(b, "layers_differing", (double)rr->div.layers_differing, true);
        kv_str(b, "note", nz(rr->note), true);
        key(b, "first_diverging_layer");
        divergence_json(b, &rr->div);
        ch_puts(b, "}");
    } else {
        ch_puts(b, "null");
    }
    ch_puts(b, ",");
    key(b, "build_to_build");
    const ch_build_to_build *bb = &cell->b2b;
    if (bb->ok) {
        ch_puts(b, "{");
        kv_num(b, "builds", bb->builds, true);
        kv_num(b, "distinct_plans", bb->distinct_plans, true);
        kv_num(b, "distinct_tactic_sets", bb->distinct_tactic_sets, true);
        kv_num(b, "distinct_outputs", bb->distinct_outputs, true);
        kv_num(b, "latency_median_min_ms", bb->median_min_ms, true);
        kv_num(b, "latency_median_max_ms", bb->median_max_ms, true);
        kv_num(b, "latency_spread", bb->spread, true);
        kv_str(b, "differing_tactics", nz(bb->differing_tactics), true);
        kv_num(b, "tactic_layers_differing", bb->tactic_layers_differing, true);
        kv_num(b, "layers_differing", (double)bb->div.layers_differing, true);
        key(b, "first_diverging_layer");
        divergence_json(b, &bb->div);
        ch_puts(b, ",");
        key(b, "plans");
        ch_puts(b, "[");
        for (int k = 0; k < bb->builds; k++) {
            if (k) ch_puts(b, ",");
            ch_puts(b, "{");
            kv_num(b, "build_s", bb->build_s[k], true);
            kv_str(b, "plan_digest", bb->plan_digest[k], true);
            kv_str(b, "tactic_digest", bb->tactic_digest[k], true);
            kv_str(b, "output_digest", bb->output_digest[k], true);
            kv_num(b, "median_ms", bb->median_ms[k], false);
            ch_puts(b, "}");
        }
        ch_puts(b, "],");
        kv_str(b, "note", nz(bb->note), false);
        ch_puts(b, "}");
    } else if (bb->note[0]) {
        ch_puts(b, "{");
        kv_str(b, "note", bb->note, false);
        ch_puts(b, "}");
    } else {
        ch_puts(b, "null");
    }
    ch_puts(b, "},");
    key(b, "energy");
    const ch_energy *en = &cell->energy;
    if (en->readable || en->note[0]) {
        ch_puts(b, "{");
        kv_bool(b, "readable", en->readable, true);
        kv_str(b, "note", nz(en->note), true);
        kv_num(b, "sm_clock_mhz", en->sm_clock_mhz, true);
        kv_num(b, "power_w", en->power_w, true);
        kv_num(b, "joules_per_inference", en->joules_per_inference, false);
        ch_puts(b, "}");
    } else {
        ch_puts(b, "null");
    }
    ch_puts(b, ",");
    key(b, "layer_outputs");
    if (cell->n_sigs) {
        ch_puts(b, "[");
        for (size_t i = 0; i < cell->n_sigs; i++) {
            const ch_layer_sig *g = &cell->sigs[i];
            char d[32];
            snprintf(d, sizeof d, "fnv1a64:%016llx", (unsigned long long)g->digest);
            ch_puts(b, i ? ",{" : "{");
            kv_str(b, "name", g->name, true);
            kv_str(b, "digest", d, true);
            kv_num(b, "elements", (double)g->elements, true);
            kv_num(b, "l2", g->l2, true);
            kv_num(b, "max_abs", g->max_abs, false);
            ch_puts(b, "}");
        }
        ch_puts(b, "]");
    } else {
        ch_puts(b, "null");
    }
    ch_puts(b, ",");
    key(b, "outputs_sample");
    if (cell->out_sample_n) {
        size_t per = cell->out_sample_count / cell->out_sample_n;
        ch_puts(b, "{");
        kv_num(b, "samples", (double)cell->out_sample_n, true);
        kv_num(b, "elements_per_sample", (double)per, true);
        key(b, "values");
        ch_puts(b, "[");
        for (size_t i = 0; i < cell->out_sample_count; i++) {
            if (i) ch_puts(b, ",");
            ch_printf(b, "%.9g", (double)cell->out_sample[i]);
        }
        ch_puts(b, "]}");
    } else {
        ch_puts(b, "null");
    }
    ch_puts(b, "}");
}

/* ---- attribution: each config's chain of single optimizations from the baseline ---- */

typedef struct ablation_row {
    const ch_cell *leaf, *step, *base;
    double step_speedup, cum_speedup, share, top1_change, top1_share, agreement_change;
} ablation_row;

static const ch_cell *lucid_cell_of(const lucid_characterization_t *c, const char *config)
{
    const ch_cell *cell = config ? ch_find_cell(c, "lucid", config) : NULL;
    return cell && cell->lat.ok ? cell : NULL;
}

/* Fills rows for every measured lucid config whose chain back to the baseline was measured;
 * returns the count. */
static size_t ablation(const lucid_characterization_t *c, ablation_row *rows, size_t cap)
{
    size_t n = 0;
    const ch_cell *root = lucid_cell_of(c, "reference");
    if (!root) return 0;
    for (size_t i = 0; i < c->n_cells; i++) {
        const ch_cell *leaf = &c->cells[i];
        if (!leaf->cfg || !leaf->cfg->base || !leaf->lat.ok) continue;
        const ch_cell *chain[16];
        int len = 0;
        const ch_cell *x = leaf;
        bool ok = true;
        while (x && x->cfg->base && len < 16) {
            chain[len++] = x;
            const ch_cell *base = lucid_cell_of(c, x->cfg->base);
            if (!base) {
                ok = false;
                break;
            }
            x = base;
        }
        if (!ok || x != root) continue;
        double total = root->lat.ms.median / leaf->lat.ms.median;
        double top1_total = leaf->acc.top1 - root->acc.top1;
        for (int k = len - 1; k >= 0 && n < cap; k--) {
            const ch_cell *s = chain[k];
            const ch_cell *b = lucid_cell_of(c, s->cfg->base);
            ablation_row *r = &rows[n++];
            r->leaf = leaf;
            r->step = s;
            r->base = b;
            r->step_speedup = b->lat.ms.median / s->lat.ms.median;
            r->cum_speedup = root->lat.ms.median / s->lat.ms.median;
            r->share = ch_speedup_share(r->step_speedup, total);
            r->top1_change = s->acc.top1 - b->acc.top1;
            r->top1_share = fabs(top1_total) > 1e-9 ? r->top1_change / top1_total : NAN;
            r->agreement_change = s->acc.agreement - b->acc.agreement;
        }
    }
    return n;
}

static void environment_json(ch_buf *b, const lucid_characterization_t *c)
{
    ch_puts(b, "{");
    kv_str(b, "cpu_model", c->cpu_model, true);
    kv_str(b, "cpu_flags", c->cpu_flags, true);
    kv_num(b, "cores", c->cores, true);
    kv_num(b, "threads", c->threads, true);
    kv_num(b, "mem_total_kb", (double)c->mem_total_kb, true);
    kv_str(b, "cpu_governor", nz(c->governor), true);
    kv_num(b, "cpu_mhz", c->freq_mhz[0] ? atof(c->freq_mhz) : NAN, true);
    kv_str(b, "kernel", c->kernel, true);
    kv_str(b, "compiler", c->compiler, true);
    kv_str(b, "gpu", c->gpu, true);
    key(b, "device");
    ch_puts(b, "{");
    if (c->has_gpu_info) {
        const lucid_gpu_info *g = &c->gpu_info;
        char src[300];
        snprintf(src, sizeof src,
                 "CUDA runtime: %d SMs, compute capability %d.%d, SM clock %.0f MHz, memory clock "
                 "%.0f MHz x %d-bit bus; peaks at those clocks (lucid_gpu_info in lucid.h)",
                 g->sm_count, g->cc_major, g->cc_minor, g->sm_clock_mhz, g->mem_clock_mhz,
                 g->bus_width_bits);
        kv_str(b, "kind", "cuda", true);
        kv_str(b, "name", g->name, true);
        kv_num(b, "memory_bytes", (double)g->total_bytes, true);
        kv_num(b, "peak_gflops_fp32", g->peak_gflops_fp32, true);
        kv_num(b, "peak_gflops_fp16", g->peak_gflops_fp16 > 0 ? g->peak_gflops_fp16 : NAN, true);
        kv_num(b, "bandwidth_gbs", g->bandwidth_gbs, true);
        kv_str(b, "nvml", c->nvml ? "readable" : nz(c->nvml_why), true);
        kv_str(b, "source", src, false);
    } else {
        char name[300];
        snprintf(name, sizeof name, "%s (%d cores)", c->cpu_model, c->cores);
        kv_str(b, "kind", "cpu", true);
        kv_str(b, "name", name, true);
        kv_num(b, "peak_gflops_fp32", c->cpu_peak_gflops > 0 ? c->cpu_peak_gflops : NAN, true);
        kv_num(b, "peak_gflops_fp16", NAN, true);
        kv_num(b, "bandwidth_gbs", c->cpu_bandwidth_gbs > 0 ? c->cpu_bandwidth_gbs : NAN, true);
        kv_str(b, "source", c->cpu_peak_source, false);
    }
    ch_puts(b, "},");
    kv_str(b, "lucid_version", lucid_version(), true);
    kv_str(b, "onednn_version", c->dnnl_version, true);
    kv_str(b, "openblas", c->blas_version, true);
    key(b, "load_before");
    ch_printf(b, "[%.2f,%.2f,%.2f],", c->load_before[0], c->load_before[1], c->load_before[2]);
    key(b, "load_after");
    if (c->load_after[0] >= 0)
        ch_printf(b, "[%.2f,%.2f,%.2f]", c->load_after[0], c->load_after[1], c->load_after[2]);
    else
        ch_puts(b, "null");
    ch_puts(b, "}");
}

static void results_json(ch_buf *b, const lucid_characterization_t *c)
{
    const lucid_characterize_options *o = &c->opts;
    ch_puts(b, "{\n");
    kv_str(b, "schema", CH_SCHEMA, true);
    kv_bool(b, "complete", c->complete, true);
    kv_bool(b, "interrupted", c->interrupted, true);
    kv_str(b, "started", c->started, true);
    kv_str(b, "finished", nz(c->finished), true);
    kv_num(b, "seconds", c->seconds, true);
    kv_str(b, "command", o->command_line, true);
    ch_puts(b, "\n");
    key(b, "model");
    ch_puts(b, "{");
    kv_str(b, "path", c->model_path, true);
    kv_str(b, "input", c->input_name, true);
    key(b, "input_shape");
    ch_puts(b, "[");
    for (int i = 0; i < c->input_rank; i++) {
        if (i) ch_puts(b, ",");
        ch_json_num(b, (double)c->input_dims[i]);
    }
    ch_puts(b, "],");
    kv_bool(b, "batch_symbolic", c->batch_symbolic, true);
    kv_num(b, "output_elements", (double)c->out_elems, true);
    kv_num(b, "nodes", (double)c->n_nodes, true);
    kv_num(b, "macs", c->macs, true);
    kv_num(b, "flops", c->flops, true);
    kv_num(b, "param_bytes", (double)c->param_bytes, false);
    ch_puts(b, "},\n");
    key(b, "dataset");
    ch_puts(b, "{");
    kv_str(b, "spec", o->dataset, true);
    kv_str(b, "description", c->dataset_desc, true);
    kv_num(b, "samples", (double)c->n_samples, true);
    kv_bool(b, "labelled", c->labels != NULL, false);
    ch_puts(b, "},\n");
    key(b, "reference_outputs");
    ch_puts(b, "{");
    kv_bool(b, "available", c->ref_out != NULL, true);
    kv_str(b, "note", nz(c->ref_note), false);
    ch_puts(b, "},\n");
    key(b, "settings");
    ch_puts(b, "{");
    kv_str(b, "device", o->device, true);
    kv_str(b, "engines", o->engines, true);
    kv_str(b, "configs", o->configs, true);
    kv_str(b, "python", c->python, true);
    kv_str(b, "torch_python", c->torch_python, true);
    kv_num(b, "threads", o->threads, true);
    kv_num(b, "warmup_ms", o->warmup_ms, true);
    kv_num(b, "min_iterations", (double)o->min_iterations, true);
    kv_num(b, "min_duration_s", o->min_duration_s, true);
    kv_num(b, "runs", o->runs, true);
    kv_num(b, "builds", o->builds, true);
    key(b, "batches");
    ch_puts(b, "[");
    if (c->n_cells)
        for (int i = 0; i < c->cells[0].off.n; i++) {
            if (i) ch_puts(b, ",");
            ch_json_num(b, (double)c->cells[0].off.batch[i]);
        }
    ch_puts(b, "],");
    kv_num(b, "limit", (double)o->limit, true);
    kv_num(b, "tune_ms", o->tune_ms, true);
    kv_num(b, "seed", (double)o->seed, true);
    kv_str(b, "percentiles",
           "nearest rank: the smallest sample with at least p% of samples at "
           "or below it; median: mean of the two middle samples for even n",
           false);
    ch_puts(b, "},\n");
    key(b, "environment");
    environment_json(b, c);
    ch_puts(b, ",\n");
    key(b, "configs");
    ch_puts(b, "[");
    for (size_t i = 0; i < ch_config_count(); i++) {
        const ch_config *cfg = ch_config_at(i);
        if (i) ch_puts(b, ",");
        ch_puts(b, "\n {");
        kv_str(b, "name", cfg->name, true);
        kv_str(b, "summary", cfg->summary, true);
        kv_str(b, "base", cfg->base, true);
        kv_str(b, "adds", cfg->adds, true);
        kv_bool(b, "available", cfg->missing == NULL, true);
        kv_str(b, "reason", cfg->missing, false);
        ch_puts(b, "}");
    }
    ch_puts(b, "],\n");
    key(b, "cells");
    ch_puts(b, "[");
    for (size_t i = 0; i < c->n_cells; i++) {
        if (i) ch_puts(b, ",");
        ch_puts(b, "\n");
        cell_json(b, &c->cells[i]);
    }
    ch_puts(b, "],\n");
    key(b, "ablation");
    ch_puts(b, "[");
    ablation_row rows[64];
    size_t nr = ablation(c, rows, 64);
    for (size_t i = 0; i < nr; i++) {
        const ablation_row *r = &rows[i];
        if (i) ch_puts(b, ",");
        ch_puts(b, "\n {");
        kv_str(b, "leaf", r->leaf->config, true);
        kv_str(b, "step", r->step->config, true);
        kv_str(b, "base", r->base->config, true);
        kv_str(b, "adds", r->step->cfg->adds, true);
        kv_num(b, "step_speedup", r->step_speedup, true);
        kv_num(b, "cumulative_speedup", r->cum_speedup, true);
        kv_num(b, "share_of_speedup", r->share, true);
        kv_num(b, "top1_change", r->top1_change, true);
        kv_num(b, "share_of_top1_change", r->top1_share, true);
        kv_num(b, "agreement_change", r->agreement_change, false);
        ch_puts(b, "}");
    }
    ch_puts(b, "]\n}\n");
}

/* ---- CSV tables ---- */

static void csv_num(ch_buf *b, double v)
{
    ch_puts(b, ",");
    if (isfinite(v)) ch_printf(b, "%.9g", v);
}

static void csv_s(ch_buf *b, const char *s)
{
    ch_puts(b, ",");
    ch_csv_str(b, s);
}

static void cells_csv(ch_buf *b, const lucid_characterization_t *c)
{
    ch_puts(b, "engine,config,status,reason,median_ms,mean_ms,min_ms,p90_ms,p95_ms,p99_ms,"
               "max_ms,stddev_ms,cv,iterations,throughput_per_s,offline_best_batch,"
               "offline_samples_per_s,build_s,plan_bytes,activation_bytes,weight_bytes,top1,"
               "top5,argmax_agreement,max_abs_error,max_rel_error,cosine,r2r_distinct_outputs,"
               "b2b_distinct_plans,b2b_distinct_tactic_sets,b2b_distinct_outputs\n");
    for (size_t i = 0; i < c->n_cells; i++) {
        const ch_cell *x = &c->cells[i];
        ch_csv_str(b, x->engine);
        csv_s(b, x->config);
        csv_s(b, ch_state_name(x->state));
        csv_s(b, x->reason);
        const lucid_stats *s = &x->lat.ms;
        bool l = x->lat.ok;
        csv_num(b, l ? s->median : NAN);
        csv_num(b, l ? s->mean : NAN);
        csv_num(b, l ? s->min : NAN);
        csv_num(b, l ? s->p90 : NAN);
        csv_num(b, l ? s->p95 : NAN);
        csv_num(b, l ? s->p99 : NAN);
        csv_num(b, l ? s->max : NAN);
        csv_num(b, l ? s->stddev : NAN);
        csv_num(b, l ? s->cv : NAN);
        csv_num(b, l ? (double)x->lat.iterations : NAN);
        csv_num(b, l ? x->lat.throughput : NAN);
        bool ob = x->off.best >= 0;
        csv_num(b, ob ? (double)x->off.batch[x->off.best] : NAN);
        csv_num(b, ob ? x->off.samples_per_s[x->off.best] : NAN);
        csv_num(b, x->has_cost ? x->build_s : NAN);
        csv_num(b, x->has_cost && x->plan_bytes >= 0 ? (double)x->plan_bytes : NAN);
        csv_num(b, x->has_cost ? (double)x->arena_bytes : NAN);
        csv_num(b, x->has_cost ? (double)x->weight_bytes : NAN);
        const ch_accuracy *a = &x->acc;
        csv_num(b, a->ok ? a->top1 : NAN);
        csv_num(b, a->ok ? a->top5 : NAN);
        csv_num(b, a->ok ? a->agreement : NAN);
        csv_num(b, a->ok ? a->max_abs : NAN);
        csv_num(b, a->ok ? a->max_rel : NAN);
        csv_num(b, a->ok ? a->cosine : NAN);
        csv_num(b, x->r2r.ok ? x->r2r.distinct_outputs : NAN);
        csv_num(b, x->b2b.ok ? x->b2b.distinct_plans : NAN);
        csv_num(b, x->b2b.ok ? x->b2b.distinct_tactic_sets : NAN);
        csv_num(b, x->b2b.ok ? x->b2b.distinct_outputs : NAN);
        ch_puts(b, "\n");
    }
}

static void layers_csv(ch_buf *b, const lucid_characterization_t *c)
{
    ch_puts(b, "engine,config,index,layer,op,tactic,mean_ms,min_ms,max_ms,share,macs,flops,bytes,"
               "gflops_per_s,gbytes_per_s\n");
    for (size_t i = 0; i < c->n_cells; i++) {
        const ch_cell *x = &c->cells[i];
        for (size_t k = 0; k < x->n_layers; k++) {
            const ch_layer *l = &x->layers[k];
            ch_csv_str(b, x->engine);
            csv_s(b, x->config);
            csv_num(b, (double)k);
            csv_s(b, l->name);
            csv_s(b, l->op);
            csv_s(b, l->tactic);
            csv_num(b, l->mean_ms);
            csv_num(b, l->min_ms);
            csv_num(b, l->max_ms);
            csv_num(b, x->profile_total_ms > 0 ? l->mean_ms / x->profile_total_ms : NAN);
            csv_num(b, l->macs);
            csv_num(b, 2 * l->macs + l->flops);
            csv_num(b, l->bytes);
            csv_num(b, gflops_of(l));
            csv_num(b, gbps_of(l));
            ch_puts(b, "\n");
        }
    }
}

static void determinism_csv(ch_buf *b, const lucid_characterization_t *c)
{
    ch_puts(b, "engine,config,check,count,distinct_outputs,distinct_plans,distinct_tactic_sets,"
               "latency_spread,first_diverging_layer,first_diverging_tactic,layers_differing,"
               "differing_tactics\n");
    for (size_t i = 0; i < c->n_cells; i++) {
        const ch_cell *x = &c->cells[i];
        if (x->r2r.ok) {
            ch_csv_str(b, x->engine);
            csv_s(b, x->config);
            csv_s(b, "run_to_run");
            csv_num(b, x->r2r.runs);
            csv_num(b, x->r2r.distinct_outputs);
            ch_puts(b, ",,,");
            csv_s(b, x->r2r.div.found ? x->r2r.div.layer : "");
            csv_s(b, x->r2r.div.found ? x->r2r.div.tactic : "");
            csv_num(b, (double)x->r2r.div.layers_differing);
            ch_puts(b, ",\n");
        }
        if (x->b2b.ok) {
            const ch_build_to_build *bb = &x->b2b;
            ch_csv_str(b, x->engine);
            csv_s(b, x->config);
            csv_s(b, "build_to_build");
            csv_num(b, bb->builds);
            csv_num(b, bb->distinct_outputs);
            csv_num(b, bb->distinct_plans);
            csv_num(b, bb->distinct_tactic_sets);
            csv_num(b, bb->spread);
            csv_s(b, bb->div.found ? bb->div.layer : "");
            csv_s(b, bb->div.found ? bb->div.tactic : "");
            csv_num(b, (double)bb->div.layers_differing);
            csv_s(b, bb->differing_tactics);
            ch_puts(b, "\n");
        }
    }
}

static void ablation_csv(ch_buf *b, const lucid_characterization_t *c)
{
    ch_puts(b, "leaf,step,base,adds,step_speedup,cumulative_speedup,share_of_speedup,"
               "top1_change,share_of_top1_change,agreement_change\n");
    ablation_row rows[64];
    size_t n = ablation(c, rows, 64);
    for (size_t i = 0; i < n; i++) {
        const ablation_row *r = &rows[i];
        ch_csv_str(b, r->leaf->config);
        csv_s(b, r->step->config);
        csv_s(b, r->base->config);
        csv_s(b, r->step->cfg->adds);
        csv_num(b, r->step_speedup);
        csv_num(b, r->cum_speedup);
        csv_num(b, r->share);
        csv_num(b, r->top1_change);
        csv_num(b, r->top1_share);
        csv_num(b, r->agreement_change);
        ch_puts(b, "\n");
    }
}

static void offline_csv(ch_buf *b, const lucid_characterization_t *c)
{
    ch_puts(b, "engine,config,batch,samples_per_s,p90_ms\n");
    for (size_t i = 0; i < c->n_cells; i++) {
        const ch_cell *x = &c->cells[i];
        for (int k = 0; k < x->off.n; k++) {
            if (isnan(x->off.samples_per_s[k])) continue;
            ch_csv_str(b, x->engine);
            csv_s(b, x->config);
            csv_num(b, (double)x->off.batch[k]);
            csv_num(b, x->off.samples_per_s[k]);
            csv_num(b, x->off.p90_ms[k]);
            ch_puts(b, "\n");
        }
    }
}

/* Chrome trace (Perfetto, chrome://tracing): one thread per config, its layers laid end to
 * end at their mean time per run (one representative run built from the profile). */
static void trace_json(ch_buf *b, const lucid_characterization_t *c)
{
    ch_puts(b, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[");
    bool first = true;
    int tid = 0;
    for (size_t i = 0; i < c->n_cells; i++) {
        const ch_cell *x = &c->cells[i];
        if (!x->n_layers) continue;
        tid++;
        if (!first) ch_puts(b, ",");
        first = false;
        ch_printf(b, "\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":%d,\"args\":{",
                  tid);
        kv_str(b, "name", x->label, false);
        ch_puts(b, "}}");
        double ts = 0;
        for (size_t k = 0; k < x->n_layers; k++) {
            const ch_layer *l = &x->layers[k];
            ch_puts(b, ",\n{");
            kv_str(b, "name", l->name, true);
            kv_str(b, "cat", l->op, true);
            kv_str(b, "ph", "X", true);
            kv_num(b, "pid", 1, true);
            kv_num(b, "tid", tid, true);
            ch_printf(b, "\"ts\":%.3f,\"dur\":%.3f,", ts * 1e3, l->mean_ms * 1e3);
            key(b, "args");
            ch_puts(b, "{");
            kv_str(b, "tactic", l->tactic, true);
            kv_num(b, "mean_ms", l->mean_ms, true);
            kv_num(b, "gflops_per_s", gflops_of(l), true);
            kv_num(b, "gbytes_per_s", gbps_of(l), false);
            ch_puts(b, "}}");
            ts += l->mean_ms;
        }
    }
    ch_puts(b, "]}\n");
}

static void html(ch_buf *b, const ch_buf *results, const char *chartjs_path)
{
    ch_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<title>lucid characterize report</title>\n<style>");
    ch_puts(b, ch_report_css);
    ch_puts(b, "</style>\n</head>\n<body data-status=\"loading\">\n"
               "<div id=\"report\"><p>This report needs JavaScript.</p></div>\n"
               "<pre id=\"errors\"></pre>\n"
               "<script>window.__errors=[];window.addEventListener('error',function(e){"
               "window.__errors.push(String(e.message));"
               "document.getElementById('errors').textContent=window.__errors.join('\\n');"
               "document.body.setAttribute('data-status','error');});</script>\n"
               "<script id=\"results\" type=\"application/json\">");
    ch_puts(b, results->data ? results->data : "{}");
    ch_puts(b, "</script>\n");
    FILE *f = chartjs_path ? fopen(chartjs_path, "rb") : NULL;
    if (f) {
        ch_puts(b, "<script>/* Chart.js, inlined from ");
        ch_puts(b, chartjs_path);
        ch_puts(b, " */\n");
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk - 1, f)) > 0) {
            chunk[n] = '\0';
            /* a NUL inside the file would cut it short: Chart.js has none */
            ch_puts(b, chunk);
        }
        fclose(f);
        ch_puts(b, "\n</script>\n");
    } else {
        ch_printf(b, "<script>window.__chartjs_missing=%s;</script>\n",
                  chartjs_path ? "'not readable: see the path in results'" : "'none'");
    }
    ch_puts(b, "<script>");
    ch_puts(b, ch_report_js);
    ch_puts(b, "</script>\n</body></html>\n");
}

lucid_status ch_write_results(lucid_characterization_t *c, lucid_error *err)
{
    struct {
        const char *name;
        void (*fn)(ch_buf *, const lucid_characterization_t *);
    } files[] = {
        {"results.json", results_json},     {"cells.csv", cells_csv},
        {"layers.csv", layers_csv},         {"determinism.csv", determinism_csv},
        {"ablation.csv", ablation_csv},     {"offline.csv", offline_csv},
        {"profile.trace.json", trace_json},
    };
    ch_buf results = {0};
    lucid_status st = LUCID_STATUS_OK;
    char path[1200];
    for (size_t i = 0; i < sizeof files / sizeof files[0] && !st; i++) {
        ch_buf b = {0};
        files[i].fn(&b, c);
        snprintf(path, sizeof path, "%s/%s", c->out_dir, files[i].name);
        st = ch_buf_write(&b, path, err);
        if (i == 0)
            results = b;
        else
            ch_buf_free(&b);
    }
    if (!st) {
        ch_buf h = {0};
        html(&h, &results, c->chartjs);
        snprintf(path, sizeof path, "%s/report.html", c->out_dir);
        st = ch_buf_write(&h, path, err);
        ch_buf_free(&h);
    }
    ch_buf_free(&results);
    return st;
}

/* ---- the terminal summary ---- */

static void fmt_num(char *out, size_t len, double v, const char *fmt)
{
    if (isfinite(v))
        snprintf(out, len, fmt, v);
    else
        snprintf(out, len, "-");
}

void ch_make_summary(lucid_characterization_t *c)
{
    ch_buf *b = &c->summary;
    ch_buf_free(b);
    const ch_cell *ref = lucid_cell_of(c, "reference");
    ch_printf(b, "%-28s %-11s %10s %10s %8s %11s %8s %8s %6s\n", "cell", "status", "median ms",
              "p90 ms", "speedup", "offline/s", "top-1 %", "agree %", "r2r");
    for (size_t i = 0; i < c->n_cells; i++) {
        const ch_cell *x = &c->cells[i];
        char med[32], p90[32], sp[32], off[32], t1[32], ag[32], r2r[32];
        bool l = x->lat.ok;
        fmt_num(med, sizeof med, l ? x->lat.ms.median : NAN, "%.4f");
        fmt_num(p90, sizeof p90, l ? x->lat.ms.p90 : NAN, "%.4f");
        fmt_num(sp, sizeof sp, l && ref ? ref->lat.ms.median / x->lat.ms.median : NAN, "%.2fx");
        fmt_num(off, sizeof off, x->off.best >= 0 ? x->off.samples_per_s[x->off.best] : NAN,
                "%.1f");
        fmt_num(t1, sizeof t1, x->acc.ok ? x->acc.top1 : NAN, "%.2f");
        fmt_num(ag, sizeof ag, x->acc.ok ? x->acc.agreement : NAN, "%.2f");
        if (x->r2r.ok)
            snprintf(r2r, sizeof r2r, "%d/%d", x->r2r.distinct_outputs, x->r2r.runs);
        else
            snprintf(r2r, sizeof r2r, "-");
        ch_printf(b, "%-28s %-11s %10s %10s %8s %11s %8s %8s %6s\n", x->label,
                  ch_state_name(x->state), med, p90, sp, off, t1, ag, r2r);
    }
    bool any = false;
    for (size_t i = 0; i < c->n_cells; i++) {
        const ch_cell *x = &c->cells[i];
        if (x->state != CH_UNAVAILABLE && x->state != CH_FAILED) continue;
        if (!any) ch_puts(b, "\nnot measured:\n");
        any = true;
        ch_printf(b, "  %s: %s: %s\n", x->label, ch_state_name(x->state), x->reason);
    }
    for (size_t i = 0; i < c->n_cells; i++)
        if (c->cells[i].note[0])
            ch_printf(b, "note: %s: %s\n", c->cells[i].label, c->cells[i].note);
    for (size_t i = 0; i < c->n_cells; i++) {
        const ch_cell *x = &c->cells[i];
        if (x->lat.ok && x->lat.ms.cv > 0.01)
            ch_printf(b, "warning: %s: latency CV %.1f%% > 1%% (noisy measurement)\n", x->label,
                      100 * x->lat.ms.cv);
        if (x->r2r.ok && x->r2r.distinct_outputs > 1 && x->r2r.div.found)
            ch_printf(b,
                      "non-deterministic: %s: %d distinct outputs in %d runs; first diverging "
                      "layer %s (%s)\n",
                      x->label, x->r2r.distinct_outputs, x->r2r.runs, x->r2r.div.layer,
                      x->r2r.div.tactic);
        else if (x->r2r.ok && x->r2r.distinct_outputs > 1)
            ch_printf(b, "non-deterministic: %s: %d distinct outputs in %d runs (not localized)\n",
                      x->label, x->r2r.distinct_outputs, x->r2r.runs);
        if (x->b2b.ok && (x->b2b.distinct_outputs > 1 || x->b2b.distinct_tactic_sets > 1))
            ch_printf(b, "build-to-build: %s: %d builds, %d tactic sets, %d distinct outputs%s%s\n",
                      x->label, x->b2b.builds, x->b2b.distinct_tactic_sets, x->b2b.distinct_outputs,
                      x->b2b.div.found ? "; first diverging layer " : "",
                      x->b2b.div.found ? x->b2b.div.layer : "");
    }
    if (c->interrupted) ch_puts(b, "\ninterrupted: the results above are partial\n");
}
