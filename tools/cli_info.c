/* cli_info.c - `lucid info`: a model's interface, op histogram, parameters, MACs and memory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

typedef struct op_count {
    const char *op;
    size_t count;
} op_count;

static int cmp_op_count(const void *pa, const void *pb)
{
    const op_count *a = pa, *b = pb;
    if (a->count != b->count) return a->count < b->count ? 1 : -1;
    return strcmp(a->op, b->op);
}

/* Most frequent first, ties by name, so the order is stable across runs. */
static op_count *op_histogram(const lucid_model_t *m, size_t n_nodes, size_t *n_ops)
{
    op_count *h = calloc(n_nodes + 1, sizeof *h);
    size_t n = 0;
    for (size_t i = 0; h && i < n_nodes; i++) {
        lucid_node_info ni;
        if (lucid_model_node(m, i, &ni)) continue;
        size_t k = 0;
        while (k < n && strcmp(h[k].op, ni.op_type) != 0) k++;
        if (k == n) h[n++].op = ni.op_type;
        h[k].count++;
    }
    if (h) qsort(h, n, sizeof *h, cmp_op_count);
    *n_ops = n;
    return h;
}

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

/* "name dtype declared-shape [-> analyzed shape]" for one graph input or output. */
static void print_tensor(const char *name, lucid_dtype dtype, int drank, const int64_t *ddims,
                         char dparams[][64], const lucid_tensor_desc *now)
{
    char decl[400], cur[400];
    cli_shape_decl_str(drank, ddims, dparams, decl, sizeof decl);
    cli_shape_decl_str(now->rank, now->dims, NULL, cur, sizeof cur);
    printf("  %-24s %-8s %s", name, lucid_dtype_name(dtype), decl);
    if (strcmp(decl, cur) != 0) printf("  (analyzed as %s)", cur);
    printf("\n");
}

static cJSON *tensor_json(const char *name, lucid_dtype dtype, int drank, const int64_t *ddims,
                          char dparams[][64], const lucid_tensor_desc *now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "dtype", lucid_dtype_name(dtype));
    cJSON_AddItemToObject(o, "shape", cli_shape_json(drank, ddims, dparams));
    cJSON_AddItemToObject(o, "resolved_shape", cli_shape_json(now->rank, now->dims, NULL));
    return o;
}

static int print_nodes_text(const lucid_model_t *m, size_t n_nodes)
{
    printf("\nnodes:\n  %-5s %-32s %-18s %-40s %s\n", "#", "name", "op", "output shapes", "MACs");
    for (size_t i = 0; i < n_nodes; i++) {
        lucid_node_info ni;
        if (lucid_model_node(m, i, &ni)) continue;
        char shapes[400] = "";
        size_t pos = 0;
        for (size_t k = 0; k < ni.num_outputs; k++) {
            lucid_tensor_desc d;
            char one[200];
            if (lucid_model_node_output(m, i, k, &d)) continue;
            cli_shape_decl_str(d.rank, d.dims, NULL, one, sizeof one);
            int w = snprintf(shapes + pos, sizeof shapes - pos, "%s%s", k ? " " : "", one);
            if (w < 0 || pos + (size_t)w >= sizeof shapes) break;
            pos += (size_t)w;
        }
        printf("  %-5zu %-32s %-18s %-40s %.0f\n", i, ni.name && ni.name[0] ? ni.name : "-",
               ni.op_type, shapes, ni.macs);
    }
    return CLI_EXIT_OK;
}

static cJSON *nodes_json(const lucid_model_t *m, size_t n_nodes)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n_nodes; i++) {
        lucid_node_info ni;
        if (lucid_model_node(m, i, &ni)) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", ni.name ? ni.name : "");
        cJSON_AddStringToObject(o, "op", ni.op_type);
        cJSON_AddNumberToObject(o, "opset", ni.opset);
        cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
        for (size_t k = 0; k < ni.num_outputs; k++) {
            lucid_tensor_desc d;
            if (lucid_model_node_output(m, i, k, &d)) continue;
            cJSON *t = cJSON_CreateObject();
            cJSON_AddStringToObject(t, "name", d.name);
            cJSON_AddStringToObject(t, "dtype", lucid_dtype_name(d.dtype));
            cJSON_AddItemToObject(t, "shape", cli_shape_json(d.rank, d.dims, NULL));
            cJSON_AddItemToArray(outs, t);
        }
        cJSON_AddNumberToObject(o, "macs", ni.macs);
        cJSON_AddNumberToObject(o, "flops", ni.flops);
        cJSON_AddNumberToObject(o, "param_bytes", (double)ni.param_bytes);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* `lucid info PLAN`: the plan's interface, facts and per-layer tactic table. */
static int info_plan(const cli_args *a)
{
    int rc = cli_plan_refuse_flags(a, CLI_F_PLAN_REFUSED);
    if (rc) return rc;
    lucid_plan_t *plan = NULL;
    if ((rc = cli_plan_load(a->model, &plan))) return rc;
    const lucid_model_t *m = lucid_plan_model(plan);
    lucid_model_info info;
    lucid_model_get_info(m, &info);
    struct stat sb;
    long long plan_bytes = stat(a->model, &sb) == 0 ? (long long)sb.st_size : -1;
    size_t n_in = lucid_model_num_inputs(m), n_out = lucid_model_num_outputs(m);
    if (a->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "file", a->model);
        cJSON_AddStringToObject(doc, "kind", "plan");
        cJSON_AddStringToObject(doc, "producer", info.producer ? info.producer : "");
        cJSON_AddStringToObject(doc, "graph_name", info.graph_name ? info.graph_name : "");
        cJSON *ins = cJSON_AddArrayToObject(doc, "inputs");
        cJSON *outs = cJSON_AddArrayToObject(doc, "outputs");
        for (size_t i = 0; i < n_in + n_out; i++) {
            lucid_tensor_desc d;
            if (i < n_in) lucid_model_input(m, i, &d);
            else lucid_model_output(m, i - n_in, &d);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", d.name);
            cJSON_AddStringToObject(o, "dtype", lucid_dtype_name(d.dtype));
            cJSON_AddItemToObject(o, "shape", cli_shape_json(d.rank, d.dims, NULL));
            cJSON_AddItemToArray(i < n_in ? ins : outs, o);
        }
        cJSON_AddNumberToObject(doc, "param_bytes", (double)info.param_bytes);
        cJSON_AddNumberToObject(doc, "macs", info.macs);
        cJSON_AddItemToObject(doc, "plan", cli_plan_info_json(plan, plan_bytes));
        cJSON_AddItemToObject(doc, "tactics", cli_plan_tactics_json(plan));
        cJSON_AddItemToObject(doc, "layers", cli_plan_layers_json(plan));
        rc = cli_json_print(doc);
    } else {
        printf("file:            %s (lucid plan)\n", a->model);
        printf("graph:           %s\n",
               info.graph_name && info.graph_name[0] ? info.graph_name : "-");
        for (size_t i = 0; i < n_in + n_out; i++) {
            lucid_tensor_desc d;
            char shape[300];
            if (i < n_in) lucid_model_input(m, i, &d);
            else lucid_model_output(m, i - n_in, &d);
            printf("%-16s %-24s %-8s %s\n", i < n_in ? "input:" : "output:", d.name,
                   lucid_dtype_name(d.dtype),
                   cli_shape_decl_str(d.rank, d.dims, NULL, shape, sizeof shape));
        }
        printf("MACs:            %.0f (%.3f GMACs)\n", info.macs, info.macs / 1e9);
        cli_plan_print_info(plan, plan_bytes);
        cli_plan_print_layers(plan);
    }
    lucid_plan_destroy(plan);
    return rc;
}

int cli_cmd_info(int argc, char **argv)
{
    cli_args a = {.command = "info"};
    cli_session s;
    memset(&s, 0, sizeof s);
    int rc = cli_args_parse(argc, argv, 2, CLI_F_SHAPE | CLI_F_JSON | CLI_F_NODES | CLI_F_OPT | CLI_F_OPTIMIZED, &a);
    if (rc || a.help) {
        if (!rc) rc = cli_help_command("info");
        goto done;
    }
    int kind = cli_plan_sniff(a.model, &rc);
    if (kind < 0) goto done;
    if (kind == 1) {
        rc = info_plan(&a);
        goto done;
    }
    if ((rc = cli_session_open(&a, false, &s))) goto done;

    lucid_model_info info;
    lucid_model_get_info(s.model, &info);
    size_t n_ops = 0;
    op_count *hist = op_histogram(s.model, info.num_nodes, &n_ops);
    if (!hist) {
        cli_fail(a.model, "out of memory");
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }

    if (a.json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "file", a.model);
        cJSON_AddStringToObject(doc, "kind", "onnx");
        cJSON_AddStringToObject(doc, "producer", info.producer ? info.producer : "");
        cJSON_AddStringToObject(doc, "graph_name", info.graph_name ? info.graph_name : "");
        cJSON_AddNumberToObject(doc, "ir_version", (double)info.ir_version);
        cJSON_AddNumberToObject(doc, "opset", (double)info.opset);
        cJSON *ins = cJSON_AddArrayToObject(doc, "inputs");
        for (size_t i = 0; i < s.n_inputs; i++) {
            lucid_tensor_desc d;
            lucid_model_input(s.model, i, &d);
            const cli_input *in = &s.inputs[i];
            cJSON_AddItemToArray(ins, tensor_json(in->name, d.dtype, in->declared_rank,
                                                  in->declared_dims, s.inputs[i].declared_params,
                                                  &d));
        }
        cJSON *outs = cJSON_AddArrayToObject(doc, "outputs");
        for (size_t i = 0; i < s.n_outputs; i++) {
            lucid_tensor_desc d;
            lucid_model_output(s.model, i, &d);
            cJSON_AddItemToArray(outs, tensor_json(d.name, d.dtype, s.outputs[i].rank,
                                                   s.outputs[i].dims, s.outputs[i].params, &d));
        }
        cJSON *ops = cJSON_AddArrayToObject(doc, "ops");
        for (size_t i = 0; i < n_ops; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "op", hist[i].op);
            cJSON_AddNumberToObject(o, "count", (double)hist[i].count);
            cJSON_AddItemToArray(ops, o);
        }
        cJSON_AddNumberToObject(doc, "num_nodes", (double)info.num_nodes);
        cJSON_AddNumberToObject(doc, "num_tensors", (double)info.num_tensors);
        cJSON_AddNumberToObject(doc, "param_count", (double)info.param_count);
        cJSON_AddNumberToObject(doc, "param_bytes", (double)info.param_bytes);
        cJSON_AddNumberToObject(doc, "macs", info.macs);
        cJSON_AddNumberToObject(doc, "gmacs", info.macs / 1e9);
        cJSON_AddNumberToObject(doc, "flops", info.flops);
        cJSON_AddNumberToObject(doc, "activation_bytes", (double)info.activation_bytes);
        cJSON_AddBoolToObject(doc, "shapes_known", info.shapes_known);
        if (a.nodes) cJSON_AddItemToObject(doc, "nodes", nodes_json(s.model, info.num_nodes));
        rc = cli_json_print(doc);
    } else {
        printf("file:              %s\n", a.model);
        printf("producer:          %s\n", info.producer && info.producer[0] ? info.producer : "-");
        printf("graph:             %s\n",
               info.graph_name && info.graph_name[0] ? info.graph_name : "-");
        printf("IR version:        %lld\n", (long long)info.ir_version);
        printf("opset:             %lld\n", (long long)info.opset);
        printf("inputs:\n");
        for (size_t i = 0; i < s.n_inputs; i++) {
            lucid_tensor_desc d;
            lucid_model_input(s.model, i, &d);
            const cli_input *in = &s.inputs[i];
            print_tensor(in->name, d.dtype, in->declared_rank, in->declared_dims,
                         s.inputs[i].declared_params, &d);
        }
        printf("outputs:\n");
        for (size_t i = 0; i < s.n_outputs; i++) {
            lucid_tensor_desc d;
            lucid_model_output(s.model, i, &d);
            print_tensor(d.name, d.dtype, s.outputs[i].rank, s.outputs[i].dims,
                         s.outputs[i].params, &d);
        }
        printf("nodes:             %zu\n", info.num_nodes);
        printf("ops:              ");
        for (size_t i = 0; i < n_ops; i++)
            printf("%s %s: %zu", i ? "," : "", hist[i].op, hist[i].count);
        printf("%s\n", n_ops ? "" : " -");
        printf("parameters:        %lld (%llu bytes, %.2f MiB)\n", (long long)info.param_count,
               (unsigned long long)info.param_bytes, mib(info.param_bytes));
        printf("MACs:              %.0f (%.3f GMACs)\n", info.macs, info.macs / 1e9);
        printf("FLOPs (non-MAC):   %.0f\n", info.flops);
        printf("activation memory: %llu bytes (%.2f MiB)\n",
               (unsigned long long)info.activation_bytes, mib(info.activation_bytes));
        if (!info.shapes_known) printf("note:              some shapes are unknown; their costs count as 0\n");
        if (a.nodes) rc = print_nodes_text(s.model, info.num_nodes);
    }
    free(hist);
done:
    cli_session_close(&s);
    cli_args_free(&a);
    return rc;
}
