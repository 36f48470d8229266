/* manager.c - runs the selected graph passes on a copy of the model's graph, validating after
 * each, and keeps the log of every rewrite. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ir/model.h"
#include "ops/op.h"
#include "passes/pass.h"
#include "passes/pass_list.h"

LUCID_PASS_LIST(LUCID_PASS_EXTERN)

static const lucid_pass_def *const passes[] = {
#define LUCID_PASS_ENTRY(sym) &lucid_pass_##sym,
    LUCID_PASS_LIST(LUCID_PASS_ENTRY)
#undef LUCID_PASS_ENTRY
};
#define N_PASSES (sizeof passes / sizeof passes[0])

typedef struct rewrite_entry {
    const char *pass;
    const char *kind;
    char *nodes, *layer, *detail;
} rewrite_entry;

struct lucid_opt_report {
    rewrite_entry *entries;
    size_t n_entries, cap_entries;
    lucid_pass_info pass_info[N_PASSES];
    bool oom;
};

struct lucid_pass_ctx {
    lucid_opt_report_t *report;
    lucid_precision_job *job;
    const lucid_pass_def *pass;
    size_t rewrites, refused;
};

size_t lucid_pass_count(void)
{
    return N_PASSES;
}

const char *lucid_pass_name(size_t i)
{
    return i < N_PASSES ? passes[i]->name : NULL;
}

const char *lucid_pass_summary(size_t i)
{
    return i < N_PASSES ? passes[i]->summary : NULL;
}

int lucid_pass_level(size_t i)
{
    return i < N_PASSES ? passes[i]->level : -1;
}

void lucid_optimize_options_default(lucid_optimize_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->opt_level = 3;
}

static void log_entry(lucid_pass_ctx *ctx, const char *kind, const char *nodes,
                      const char *layer, const char *fmt, va_list ap)
{
    lucid_opt_report_t *r = ctx->report;
    if (r->n_entries == r->cap_entries) {
        size_t ncap = r->cap_entries ? r->cap_entries * 2 : 64;
        rewrite_entry *ne = realloc(r->entries, ncap * sizeof *ne);
        if (!ne) {
            r->oom = true;
            return;
        }
        r->entries = ne;
        r->cap_entries = ncap;
    }
    char detail[1024];
    vsnprintf(detail, sizeof detail, fmt, ap);
    rewrite_entry *e = &r->entries[r->n_entries];
    e->pass = ctx->pass->name;
    e->kind = kind;
    e->nodes = lucid_strdup(nodes ? nodes : "");
    e->layer = lucid_strdup(layer ? layer : "");
    e->detail = lucid_strdup(detail);
    if (!e->nodes || !e->layer || !e->detail) {
        free(e->nodes);
        free(e->layer);
        free(e->detail);
        r->oom = true;
        return;
    }
    r->n_entries++;
}

void lucid_pass_rewrite(lucid_pass_ctx *ctx, const char *nodes, const char *layer,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_entry(ctx, "rewrite", nodes, layer, fmt, ap);
    va_end(ap);
    ctx->rewrites++;
}

void lucid_pass_refuse(lucid_pass_ctx *ctx, const char *nodes, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_entry(ctx, "refused", nodes, "", fmt, ap);
    va_end(ap);
    ctx->refused++;
}

char *lucid_layer_name_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 4;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s + %s", a, b);
    return s;
}

static int find_pass(const char *name)
{
    for (size_t i = 0; i < N_PASSES; i++)
        if (strcmp(passes[i]->name, name) == 0) return (int)i;
    return -1;
}

static lucid_status unknown_pass(const char *name, lucid_error *err)
{
    char list[512] = "";
    for (size_t i = 0; i < N_PASSES; i++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", passes[i]->name);
    }
    return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                        "unknown pass '%s' (passes: %s)", name, list);
}

void lucid_opt_report_destroy(lucid_opt_report_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_entries; i++) {
        free(r->entries[i].nodes);
        free(r->entries[i].layer);
        free(r->entries[i].detail);
    }
    free(r->entries);
    free(r);
}

lucid_precision_job *lucid_pass_job(lucid_pass_ctx *ctx)
{
    return ctx->job;
}

lucid_status lucid_model_optimize(lucid_model_t *model, const lucid_optimize_options *opts,
                                  lucid_opt_report_t **report, lucid_error *err)
{
    return lucid_model_optimize_job(model, opts, NULL, report, err);
}

lucid_status lucid_model_optimize_job(lucid_model_t *model, const lucid_optimize_options *opts,
                                      lucid_precision_job *job, lucid_opt_report_t **report,
                                      lucid_error *err)
{
    if (report) *report = NULL;
    if (!model)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "model_optimize: NULL model");
    lucid_optimize_options defaults;
    if (!opts) {
        lucid_optimize_options_default(&defaults);
        opts = &defaults;
    }
    if (opts->opt_level < 0 || opts->opt_level > 3)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "optimization level %d is not 0 to 3", opts->opt_level);
    bool selected[N_PASSES];
    for (size_t i = 0; i < N_PASSES; i++)
        selected[i] = opts->n_passes ? false : passes[i]->level <= opts->opt_level;
    for (size_t i = 0; i < opts->n_passes; i++) {
        int p = find_pass(opts->passes[i]);
        if (p < 0) return unknown_pass(opts->passes[i], err);
        selected[p] = true;
    }
    /* an INT8 build fuses its Q/DQ pairs into int8 layers at any level (unless told not to,
     * below: then the layers run as float32 on dequantized values) */
    if (job && lucid_precision_job_int8(job)) selected[find_pass("qdq_fusion")] = true;
    for (size_t i = 0; i < opts->n_disable; i++) {
        int p = find_pass(opts->disable[i]);
        if (p < 0) return unknown_pass(opts->disable[i], err);
        selected[p] = false;
    }
    if (job) selected[find_pass("precision")] = true;

    lucid_opt_report_t *r = calloc(1, sizeof *r);
    if (!r) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    lucid_graph *g = lucid_graph_clone(model->graph, lucid_op_params_size);
    if (!g) {
        lucid_opt_report_destroy(r);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory copying the graph");
    }
    lucid_status st = LUCID_STATUS_OK;
    for (size_t i = 0; i < N_PASSES; i++) {
        lucid_pass_info *pi = &r->pass_info[i];
        pi->name = passes[i]->name;
        pi->level = passes[i]->level;
        pi->ran = selected[i];
        if (!selected[i]) continue;
        lucid_pass_ctx ctx = {.report = r, .job = job, .pass = passes[i]};
        double t0 = lucid_time_now();
        st = passes[i]->run(&ctx, g, err);
        if (!st) st = lucid_graph_compact(g, err);
        pi->ms = (lucid_time_now() - t0) * 1e3;
        pi->rewrites = ctx.rewrites;
        pi->refused = ctx.refused;
        if (st) {
            /* a pass must leave a valid graph: failing here is a bug in the pass; the
             * precision pass also fails on what the build asked (a bad calibration set, an
             * impossible layer constraint), and its messages say so themselves */
            if (passes[i] != &lucid_pass_precision)
                lucid_error_prefix(err, "pass '%s': ", passes[i]->name);
            break;
        }
        if (r->oom) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory logging rewrites");
            break;
        }
    }
    if (st) {
        lucid_graph_destroy(g);
        lucid_opt_report_destroy(r);
        return st;
    }
    lucid_graph_destroy(model->graph);
    model->graph = g;
    if (report)
        *report = r;
    else
        lucid_opt_report_destroy(r);
    return LUCID_STATUS_OK;
}

size_t lucid_opt_report_num_rewrites(const lucid_opt_report_t *r)
{
    return r ? r->n_entries : 0;
}

lucid_status lucid_opt_report_rewrite(const lucid_opt_report_t *r, size_t i,
                                      lucid_rewrite_info *out)
{
    if (!r || !out || i >= r->n_entries) return LUCID_STATUS_INVALID_ARGUMENT;
    const rewrite_entry *e = &r->entries[i];
    out->pass = e->pass;
    out->kind = e->kind;
    out->nodes = e->nodes;
    out->layer = e->layer;
    out->detail = e->detail;
    return LUCID_STATUS_OK;
}

size_t lucid_opt_report_num_passes(const lucid_opt_report_t *r)
{
    return r ? N_PASSES : 0;
}

lucid_status lucid_opt_report_pass(const lucid_opt_report_t *r, size_t i, lucid_pass_info *out)
{
    if (!r || !out || i >= N_PASSES) return LUCID_STATUS_INVALID_ARGUMENT;
    *out = r->pass_info[i];
    return LUCID_STATUS_OK;
}
