/* cli_build.c - `lucid build`: build a plan (optimized graph, a timed tactic per layer, memory
 * plan) and report every rewrite, layer counts, tactic choices with every candidate's time,
 * and memory; optionally write the plan and export the optimized graph as ONNX. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* What the graph looks like as a set of engine layers: counts by op, and activation traffic. */
typedef struct op_row {
    const char *op;
    size_t before, after;
} op_row;

typedef struct graph_stats {
    size_t nodes;          /* all nodes */
    size_t layers;         /* nodes that run (not elided) */
    size_t elided;
    uint64_t traffic;      /* activation bytes read + written by all nodes */
} graph_stats;

/* Adds the model's op counts to rows (before or after) and fills st. Op names point into the
 * model, so rows must not outlive it: callers copy them first (see build_rows). */
static bool count_ops(const lucid_model_t *m, op_row **rows, size_t *n_rows, bool after,
                      graph_stats *st)
{
    lucid_model_info info;
    lucid_model_get_info(m, &info);
    memset(st, 0, sizeof *st);
    st->nodes = info.num_nodes;
    for (size_t i = 0; i < info.num_nodes; i++) {
        lucid_node_info ni;
        if (lucid_model_node(m, i, &ni)) continue;
        st->traffic += ni.read_bytes + ni.write_bytes;
        if (ni.elided) {
            st->elided++;
            continue;
        }
        st->layers++;
        size_t k = 0;
        while (k < *n_rows && strcmp((*rows)[k].op, ni.op_type) != 0) k++;
        if (k == *n_rows) {
            op_row *nr = realloc(*rows, sizeof *nr * (*n_rows + 1));
            if (!nr) return false;
            *rows = nr;
            char *name = malloc(strlen(ni.op_type) + 1);
            if (!name) return false;
            strcpy(name, ni.op_type);
            nr[k] = (op_row){.op = name};
            (*n_rows)++;
        }
        if (after)
            (*rows)[k].after++;
        else
            (*rows)[k].before++;
    }
    return true;
}

static int cmp_rows(const void *pa, const void *pb)
{
    const op_row *a = pa, *b = pb;
    size_t ma = a->before > a->after ? a->before : a->after;
    size_t mb = b->before > b->after ? b->before : b->after;
    if (ma != mb) return ma < mb ? 1 : -1;
    return strcmp(a->op, b->op);
}

static void free_rows(op_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) free((char *)rows[i].op);
    free(rows);
}

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

static void print_text(const cli_args *a, const cli_session *s, const op_row *rows,
                       size_t n_rows, const graph_stats *before, const graph_stats *after,
                       long long plan_bytes)
{
    const lucid_opt_report_t *r = lucid_plan_opt_report(s->plan);
    printf("model:           %s\n", a->model);
    printf("layers:          %zu ONNX nodes -> %zu engine layers", before->nodes, after->layers);
    if (after->elided) printf(" (+ %zu elided: views, not run)", after->elided);
    printf("\n");
    uint64_t removed = before->traffic > after->traffic ? before->traffic - after->traffic : 0;
    printf("memory traffic:  %.2f MiB -> %.2f MiB (%.2f MiB removed, %.1f%%)\n",
           mib(before->traffic), mib(after->traffic), mib(removed),
           before->traffic ? 100.0 * (double)removed / (double)before->traffic : 0.0);
    size_t n_rw = lucid_opt_report_num_rewrites(r), n_ref = 0;
    for (size_t i = 0; i < n_rw; i++) {
        lucid_rewrite_info ri;
        if (!lucid_opt_report_rewrite(r, i, &ri) && strcmp(ri.kind, "refused") == 0) n_ref++;
    }
    printf("rewrites:        %zu (%zu refused)\n", n_rw - n_ref, n_ref);
    cli_plan_print_info(s->plan, plan_bytes);
    if (a->plan_out)
        printf("written:         %s\n", a->plan_out);
    else
        printf("written:         no (-o FILE.plan writes the plan)\n");
    if (!a->report) {
        printf("(--report lists every rewrite, layer counts by op, pass timings and every "
               "layer's tactic candidates)\n");
        return;
    }
    printf("\nrewrites, in order:\n");
    for (size_t i = 0; i < n_rw; i++) {
        lucid_rewrite_info ri;
        if (lucid_opt_report_rewrite(r, i, &ri)) continue;
        bool refused = strcmp(ri.kind, "refused") == 0;
        printf("  %4zu  %-18s %s%s", i + 1, ri.pass, refused ? "REFUSED " : "", ri.nodes);
        if (!refused && ri.layer[0]) printf("  ->  %s", ri.layer);
        if (!refused && !ri.layer[0]) printf("  ->  (removed)");
        printf("\n        %s\n", ri.detail);
    }
    if (!n_rw) printf("  (none)\n");
    printf("\nlayers by op:\n  %-28s %8s %8s\n", "op", "before", "after");
    for (size_t i = 0; i < n_rows; i++)
        printf("  %-28s %8zu %8zu\n", rows[i].op, rows[i].before, rows[i].after);
    printf("  %-28s %8zu %8zu\n", "total", before->layers, after->layers);
    printf("\npasses:\n  %-20s %5s %4s %9s %8s %10s\n", "pass", "level", "ran", "rewrites",
           "refused", "ms");
    for (size_t i = 0; i < lucid_pass_count(); i++) {
        lucid_pass_info pi;
        if (r && !lucid_opt_report_pass(r, i, &pi)) {
            printf("  %-20s %5d %4s %9zu %8zu %10.3f\n", pi.name, pi.level, pi.ran ? "yes" : "no",
                   pi.rewrites, pi.refused, pi.ms);
        } else {
            printf("  %-20s %5d %4s %9s %8s %10s\n", lucid_pass_name(i), lucid_pass_level(i),
                   "no", "-", "-", "-");
        }
    }
    cli_plan_print_layers(s->plan);
}

static cJSON *stats_json(const graph_stats *st, bool after)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "nodes", (double)st->nodes);
    cJSON_AddNumberToObject(o, "layers", (double)st->layers);
    if (after) cJSON_AddNumberToObject(o, "elided", (double)st->elided);
    cJSON_AddNumberToObject(o, "traffic_bytes", (double)st->traffic);
    return o;
}

static int print_json(const cli_args *a, const cli_session *s, const op_row *rows, size_t n_rows,
                      const graph_stats *before, const graph_stats *after, long long plan_bytes)
{
    const lucid_opt_report_t *r = lucid_plan_opt_report(s->plan);
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "schema", "lucid-build/2");
    cJSON_AddStringToObject(doc, "file", a->model);
    cJSON_AddNumberToObject(doc, "opt_level", s->opt_level);
    cJSON_AddItemToObject(doc, "before", stats_json(before, false));
    cJSON_AddItemToObject(doc, "after", stats_json(after, true));
    uint64_t removed = before->traffic > after->traffic ? before->traffic - after->traffic : 0;
    cJSON_AddNumberToObject(doc, "traffic_removed_bytes", (double)removed);
    cJSON *ops = cJSON_AddArrayToObject(doc, "layers_by_op");
    for (size_t i = 0; i < n_rows; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "op", rows[i].op);
        cJSON_AddNumberToObject(o, "before", (double)rows[i].before);
        cJSON_AddNumberToObject(o, "after", (double)rows[i].after);
        cJSON_AddItemToArray(ops, o);
    }
    cJSON *rw = cJSON_AddArrayToObject(doc, "rewrites");
    for (size_t i = 0; i < lucid_opt_report_num_rewrites(r); i++) {
        lucid_rewrite_info ri;
        if (lucid_opt_report_rewrite(r, i, &ri)) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "pass", ri.pass);
        cJSON_AddStringToObject(o, "kind", ri.kind);
        cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
        /* the log keeps names comma-separated; names with commas are rare but split here
         * would mislead, so the raw text is kept as well */
        char *copy = malloc(strlen(ri.nodes) + 1);
        if (copy) {
            strcpy(copy, ri.nodes);
            for (char *p = copy; *p;) {
                char *comma = strchr(p, ',');
                if (comma) *comma = '\0';
                cJSON_AddItemToArray(nodes, cJSON_CreateString(p));
                if (!comma) break;
                p = comma + 1;
            }
            free(copy);
        }
        cJSON_AddStringToObject(o, "nodes_text", ri.nodes);
        cJSON_AddStringToObject(o, "layer", ri.layer);
        cJSON_AddStringToObject(o, "detail", ri.detail);
        cJSON_AddItemToArray(rw, o);
    }
    cJSON *ps = cJSON_AddArrayToObject(doc, "passes");
    for (size_t i = 0; i < lucid_pass_count(); i++) {
        lucid_pass_info pi = {.name = lucid_pass_name(i), .level = lucid_pass_level(i)};
        if (r) lucid_opt_report_pass(r, i, &pi);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", pi.name);
        cJSON_AddNumberToObject(o, "level", pi.level);
        cJSON_AddBoolToObject(o, "ran", pi.ran);
        cJSON_AddNumberToObject(o, "rewrites", (double)pi.rewrites);
        cJSON_AddNumberToObject(o, "refused", (double)pi.refused);
        cJSON_AddNumberToObject(o, "ms", pi.ms);
        cJSON_AddItemToArray(ps, o);
    }
    if (a->export_onnx)
        cJSON_AddStringToObject(doc, "exported", a->export_onnx);
    else
        cJSON_AddNullToObject(doc, "exported");
    if (a->plan_out)
        cJSON_AddStringToObject(doc, "output", a->plan_out);
    else
        cJSON_AddNullToObject(doc, "output");
    cJSON_AddItemToObject(doc, "plan", cli_plan_info_json(s->plan, plan_bytes));
    cJSON_AddItemToObject(doc, "tactics", cli_plan_tactics_json(s->plan));
    cJSON_AddItemToObject(doc, "layers", cli_plan_layers_json(s->plan));
    return cli_json_print(doc);
}

int cli_cmd_build(int argc, char **argv)
{
    cli_args a = {.command = "build", .defer_optimize = true};
    cli_session s;
    memset(&s, 0, sizeof s);
    op_row *rows = NULL;
    size_t n_rows = 0;
    int rc = cli_args_parse(argc, argv, 2,
                            CLI_F_SHAPE | CLI_F_JSON | CLI_F_OPT | CLI_F_REPORT |
                                CLI_F_EXPORT_ONNX | CLI_F_THREADS | CLI_F_BUILDER |
                                CLI_F_PLAN_OUT,
                            &a);
    if (rc || a.help) {
        if (!rc) rc = cli_help_command("build");
        goto done;
    }
    int kind = cli_plan_sniff(a.model, &rc);
    if (kind < 0) goto done;
    if (kind == 1) {
        cli_fail(a.model, "is a lucid plan already; 'lucid build' takes an ONNX model ('lucid "
                          "info' shows the plan)");
        rc = CLI_EXIT_DATA;
        goto done;
    }
    if ((rc = cli_session_open(&a, false, &s))) goto done;
    graph_stats before, after;
    if (!count_ops(s.model, &rows, &n_rows, false, &before)) goto oom;
    if ((rc = cli_plan_build(&a, &s))) goto done;
    if (!count_ops(lucid_plan_model(s.plan), &rows, &n_rows, true, &after)) goto oom;
    qsort(rows, n_rows, sizeof *rows, cmp_rows);
    lucid_error err;
    lucid_status st;
    if (a.export_onnx &&
        (st = lucid_model_save_onnx(lucid_plan_model(s.plan), a.export_onnx, &err))) {
        cli_fail(a.export_onnx, err.message);
        rc = cli_exit_for(st);
        goto done;
    }
    long long plan_bytes = -1;
    if (a.plan_out) {
        if ((st = lucid_plan_save(s.plan, a.plan_out, &err))) {
            cli_fail(a.plan_out, err.message);
            rc = cli_exit_for(st);
            goto done;
        }
        struct stat sb;
        if (stat(a.plan_out, &sb) == 0) plan_bytes = (long long)sb.st_size;
    }
    if (a.json) {
        rc = print_json(&a, &s, rows, n_rows, &before, &after, plan_bytes);
    } else {
        print_text(&a, &s, rows, n_rows, &before, &after, plan_bytes);
        if (a.export_onnx) printf("exported:        %s\n", a.export_onnx);
    }
    goto done;
oom:
    cli_fail(a.model, "out of memory");
    rc = CLI_EXIT_RUNTIME;
done:
    free_rows(rows, n_rows);
    cli_session_close(&s);
    cli_args_free(&a);
    return rc;
}
