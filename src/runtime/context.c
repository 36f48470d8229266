/* context.c - execution contexts: a model's graph run with the reference kernels, or a plan
 * run with its chosen tactics, memory plan, workspace and thread pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/threadpool.h"
#include "core/util.h"
#include "ir/model.h"
#include "ops/layout.h"
#include "ops/op.h"
#include "plan/plan.h"

#define LUCID_ALIGN 64

#ifdef LUCID_HAVE_CUDA
/* src/cuda/executor.c: the kernels each layer of a GPU context launched in profiling runs
 * (no backend hook: CUDA is the only device backend) */
size_t lucid_cuda_exec_num_kernels(const void *exec, size_t k);
lucid_status lucid_cuda_exec_kernel(const void *exec, size_t k, size_t j, lucid_layer_kernel *out);
const char *lucid_cuda_exec_kernels_unavailable(const void *exec);
void lucid_cuda_exec_kernels_clear(void *exec);
#endif

struct lucid_context {
    const lucid_model_t *model;
    const lucid_graph *g;
    void **bufs;          /* per tensor: its data (arena slice or the graph's constant) */
    unsigned char *arena; /* every non-constant tensor, allocated once */
    lucid_array *io;      /* per node: its input arrays, then its output arrays */
    int *io_offset;       /* per node: index of its first array in io */
    bool *skip;           /* per node: outputs are all constants known at inference */
    int *in_reorder;      /* per graph input: the Reorder it is converted by when set, or -1
                           * (lucid_plan_input_reorder; CPU plans) */
    const lucid_tactic **tactic; /* per node: how it runs */
    const void **state;          /* per node: the tactic's prepared state */
    void **bound;                /* per node: this context's handles for tactics that bind */
    void *workspace;             /* the largest layer's scratch, shared by the layers */
    lucid_threadpool *pool;      /* NULL when running on one thread */
    int threads;
    /* profiling: per node, runs, summed/min/max seconds; order[] lists running nodes */
    bool profiling;
    int64_t *prof_runs;
    double *prof_sum, *prof_min, *prof_max;
    int *order;
    int n_order;
    lucid_layer_observer observer;
    void *observer_user;
    void *obs_scratch;    /* channels-last outputs are shown to the observer in plain layout */
    lucid_array obs_out[1];
    /* GPU plans: the backend's half of the context (device arena, stream, CUDA graph);
     * bufs[] then holds only the graph inputs' and outputs' pinned host buffers */
    const lucid_device_backend *backend;
    void *exec;
    double *layer_ms; /* per running layer, a profiling run's device times */
    lucid_error err;
};

lucid_status lucid_model_check_runnable(const lucid_model_t *model, lucid_error *err)
{
    const lucid_graph *g = model->graph;
    for (int i = 0; i < g->n_inputs; i++) {
        const lucid_ir_tensor *t = &g->tensors[g->inputs[i]];
        if (!lucid_tensor_shape_known(t)) {
            char s[160];
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "input '%s' has shape %s with unknown dimensions: fix it first "
                                "(lucid_model_set_input_shape, or --shape on the command line)",
                                t->name, lucid_shape_str(t->rank, t->dims, s, sizeof s));
        }
    }
    if (!g->shapes_known) {
        if (g->deferred[0])
            return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                                "%s (bind such inputs with lucid_model_set_input_value)",
                                g->deferred);
        return lucid_errorf(err, LUCID_STATUS_INTERNAL, "some tensor shapes are still unknown");
    }
    return LUCID_STATUS_OK;
}

/* Offsets of the naive layout (every tensor its own bytes) for a model without a plan. */
static lucid_status naive_offsets(const lucid_graph *g, size_t *offsets, size_t *total,
                                  lucid_error *err)
{
    *total = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        const lucid_ir_tensor *x = &g->tensors[t];
        offsets[t] = LUCID_OFFSET_NONE;
        if (x->data || (x->producer < 0 && !x->is_input) || x->view_of >= 0) continue;
        size_t nb = lucid_tensor_nbytes(x);
        size_t padded = (nb + LUCID_ALIGN - 1) / LUCID_ALIGN * LUCID_ALIGN;
        offsets[t] = *total;
        if (!lucid_add_size(*total, padded, total))
            return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED, "activation memory overflows");
    }
    return LUCID_STATUS_OK;
}

static lucid_status context_create(const lucid_model_t *model, const lucid_plan_t *plan,
                                   const lucid_context_options *opts, lucid_context_t **out,
                                   lucid_error *err)
{
    *out = NULL;
    const lucid_graph *g = model->graph;
    if (opts && opts->threads < 0)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "threads must be 0 (all cores) or positive, not %d", opts->threads);
    if (plan && opts && opts->threads > plan->threads)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "the plan was built for %d threads; a context cannot use %d",
                            plan->threads, opts->threads);
    lucid_status st = lucid_model_check_runnable(model, err);
    if (st) return st;
    for (int i = 0; !plan && i < g->n_nodes; i++)
        if (g->nodes[i].op == LUCID_OP_REORDER)
            return lucid_node_errorf(&g->nodes[i], err, LUCID_STATUS_UNSUPPORTED,
                                     "Reorder converts a plan's storage layout; the reference "
                                     "executor stores every tensor plain (optimize the model, "
                                     "which removes it)");

    lucid_context_t *c = calloc(1, sizeof *c);
    if (!c) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    c->model = model;
    c->g = g;
    c->threads = plan ? (opts && opts->threads ? opts->threads : plan->threads)
                      : (opts ? opts->threads : 0);
    c->bufs = calloc((size_t)g->n_tensors + 1, sizeof *c->bufs);
    c->io_offset = calloc((size_t)g->n_nodes + 1, sizeof *c->io_offset);
    c->skip = calloc((size_t)g->n_nodes + 1, sizeof *c->skip);
    c->tactic = calloc((size_t)g->n_nodes + 1, sizeof *c->tactic);
    c->state = calloc((size_t)g->n_nodes + 1, sizeof *c->state);
    c->bound = calloc((size_t)g->n_nodes + 1, sizeof *c->bound);
    c->prof_runs = calloc((size_t)g->n_nodes + 1, sizeof *c->prof_runs);
    c->prof_sum = calloc((size_t)g->n_nodes + 1, sizeof *c->prof_sum);
    c->prof_min = calloc((size_t)g->n_nodes + 1, sizeof *c->prof_min);
    c->prof_max = calloc((size_t)g->n_nodes + 1, sizeof *c->prof_max);
    c->order = calloc((size_t)g->n_nodes + 1, sizeof *c->order);
    if (!c->bufs || !c->io_offset || !c->skip || !c->tactic || !c->state || !c->bound ||
        !c->prof_runs || !c->prof_sum || !c->prof_min || !c->prof_max || !c->order)
        goto oom;

    if (plan && plan->dev) {
        c->backend = plan->backend;
        c->layer_ms = calloc((size_t)g->n_nodes + 1, sizeof *c->layer_ms);
        if (!c->layer_ms) goto oom;
        st = c->backend->exec_create(plan, opts, &c->exec, err);
        if (st) {
            lucid_context_destroy(c);
            return st;
        }
        for (int i = 0; i < g->n_nodes; i++) {
            c->skip[i] = !lucid_plan_node_runs(g, i);
            if (!c->skip[i]) c->order[c->n_order++] = i;
            c->tactic[i] = plan->layers[i].tactic;
            c->state[i] = plan->layers[i].state;
        }
        for (int k = 0; k < g->n_inputs; k++)
            c->bufs[g->inputs[k]] = c->backend->exec_host_buffer(c->exec, g->inputs[k]);
        for (int k = 0; k < g->n_outputs; k++)
            c->bufs[g->outputs[k]] = c->backend->exec_host_buffer(c->exec, g->outputs[k]);
        *out = c;
        return LUCID_STATUS_OK;
    }
    size_t total = 0;
    size_t *offsets = NULL, *own_offsets = NULL;
    if (plan) {
        offsets = plan->offsets;
        total = plan->arena_size;
    } else {
        own_offsets = malloc(sizeof(size_t) * ((size_t)g->n_tensors + 1));
        if (!own_offsets) goto oom;
        st = naive_offsets(g, own_offsets, &total, err);
        if (st) {
            free(own_offsets);
            lucid_context_destroy(c);
            return st;
        }
        offsets = own_offsets;
    }
    /* 64 bytes more than the plan: XNNPACK's kernels may read (never use) up to 16 bytes past
     * a tensor, the arena's last included */
    c->arena = aligned_alloc(LUCID_ALIGN,
                             (total + LUCID_ALIGN - 1) / LUCID_ALIGN * LUCID_ALIGN + LUCID_ALIGN);
    if (!c->arena) {
        free(own_offsets);
        lucid_context_destroy(c);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY,
                            "out of memory allocating %zu bytes of activations", total);
    }
    memset(c->arena, 0, total);
    for (int t = 0; t < g->n_tensors; t++) {
        const lucid_ir_tensor *x = &g->tensors[t];
        if (x->data)
            c->bufs[t] = x->data;
        else if (x->view_of < 0 && offsets[t] != LUCID_OFFSET_NONE)
            c->bufs[t] = c->arena + offsets[t];
    }
    for (int t = 0; t < g->n_tensors; t++) {
        if (g->tensors[t].view_of < 0) continue;
        size_t off;
        int root = lucid_tensor_storage(g, t, &off);
        c->bufs[t] = c->bufs[root] ? (unsigned char *)c->bufs[root] + off : NULL;
    }
    free(own_offsets);

    if (plan && plan->workspace_size) {
        c->workspace = aligned_alloc(LUCID_ALIGN, (plan->workspace_size + LUCID_ALIGN - 1) /
                                                      LUCID_ALIGN * LUCID_ALIGN);
        if (!c->workspace) goto oom;
    }
    if (plan && c->threads > 1 && !(c->pool = lucid_threadpool_create(c->threads))) goto oom;

    if (!(c->in_reorder = malloc(sizeof(int) * ((size_t)g->n_inputs + 1)))) goto oom;
    for (int k = 0; k < g->n_inputs; k++) {
        c->in_reorder[k] = plan ? lucid_plan_input_reorder(g, g->inputs[k]) : -1;
        if (c->in_reorder[k] >= 0) c->skip[c->in_reorder[k]] = true; /* done when set */
    }
    int n_io = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        c->io_offset[i] = n_io;
        n_io += g->nodes[i].n_inputs + g->nodes[i].n_outputs;
    }
    c->io = calloc((size_t)n_io + 1, sizeof *c->io);
    if (!c->io) goto oom;
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        lucid_array *a = c->io + c->io_offset[i];
        for (int k = 0; k < n->n_inputs; k++) {
            const lucid_ir_tensor *t = lucid_op_input(g, n, k);
            lucid_tensor_array(t, t ? c->bufs[n->inputs[k]] : NULL, &a[k]);
        }
        for (int k = 0; k < n->n_outputs; k++) {
            const lucid_ir_tensor *t = lucid_op_output(g, n, k);
            lucid_tensor_array(t, t ? c->bufs[n->outputs[k]] : NULL, &a[n->n_inputs + k]);
        }
        c->skip[i] = c->skip[i] || !lucid_plan_node_runs(g, i);
        if (!c->skip[i]) c->order[c->n_order++] = i;
        if (plan) {
            c->tactic[i] = plan->layers[i].tactic;
            c->state[i] = plan->layers[i].state;
            if (!c->skip[i] && !c->tactic[i]) {
                lucid_context_destroy(c);
                return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "the plan has no tactic");
            }
            if (!c->skip[i] && c->tactic[i]->bind &&
                (st = c->tactic[i]->bind(c->state[i], &c->bound[i], err))) {
                lucid_context_destroy(c);
                return st;
            }
        } else {
            c->tactic[i] = &lucid_tactic_reference;
            c->state[i] = n;
        }
    }
    *out = c;
    return LUCID_STATUS_OK;
oom:
    lucid_context_destroy(c);
    return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
}

lucid_status lucid_context_create(const lucid_model_t *model, const lucid_context_options *opts,
                                  lucid_context_t **out, lucid_error *err)
{
    if (!model || !out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "context_create: NULL argument");
    return context_create(model, NULL, opts, out, err);
}

lucid_status lucid_context_create_plan(const lucid_plan_t *plan,
                                       const lucid_context_options *opts,
                                       lucid_context_t **out, lucid_error *err)
{
    if (!plan || !out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "context_create_plan: NULL argument");
    return context_create(plan->model, plan, opts, out, err);
}

void lucid_context_destroy(lucid_context_t *ctx)
{
    if (!ctx) return;
    if (ctx->backend && ctx->exec) ctx->backend->exec_destroy(ctx->exec);
    free(ctx->layer_ms);
    free(ctx->bufs);
    free(ctx->arena);
    free(ctx->io);
    free(ctx->io_offset);
    free(ctx->skip);
    free(ctx->in_reorder);
    for (int i = 0; ctx->bound && i < ctx->g->n_nodes; i++)
        if (ctx->bound[i]) ctx->tactic[i]->unbind(ctx->bound[i]);
    free(ctx->bound);
    free(ctx->tactic);
    free(ctx->state);
    free(ctx->workspace);
    free(ctx->prof_runs);
    free(ctx->prof_sum);
    free(ctx->prof_min);
    free(ctx->prof_max);
    free(ctx->order);
    free(ctx->obs_scratch);
    lucid_threadpool_destroy(ctx->pool);
    free(ctx);
}

lucid_status lucid_context_set_input(lucid_context_t *ctx, const char *name, lucid_dtype dtype,
                                     int rank, const int64_t *dims, const void *data)
{
    if (!ctx) return LUCID_STATUS_INVALID_ARGUMENT;
    if (!name || (!data && rank >= 0) || (rank > 0 && !dims))
        return lucid_errorf(&ctx->err, LUCID_STATUS_INVALID_ARGUMENT,
                            "set_input: NULL argument");
    const lucid_graph *g = ctx->g;
    for (int i = 0; i < g->n_inputs; i++) {
        int t = g->inputs[i];
        const lucid_ir_tensor *x = &g->tensors[t];
        if (strcmp(x->name, name) != 0) continue;
        bool same = rank == x->rank;
        for (int k = 0; same && k < rank; k++) same = dims[k] == x->dims[k];
        if (dtype != x->dtype || !same) {
            char want[160], got[160];
            return lucid_errorf(&ctx->err, LUCID_STATUS_INVALID_ARGUMENT,
                                "input '%s' must be %s %s, not %s %s", name,
                                lucid_dtype_name(x->dtype),
                                lucid_shape_str(x->rank, x->dims, want, sizeof want),
                                lucid_dtype_name(dtype),
                                lucid_shape_str(rank, dims, got, sizeof got));
        }
        const int q = ctx->in_reorder ? ctx->in_reorder[i] : -1;
        lucid_layout from, to;
        if (q >= 0) {
            lucid_reorder_layouts(&g->nodes[q], &from, &to);
            /* converted straight into its Reorder's output (the input has no storage) */
            lucid_layout_convert(data, ctx->bufs[g->nodes[q].outputs[0]], x->dims[0], x->dims[1],
                                 x->dims[2] * x->dims[3], lucid_dtype_size(x->dtype), from, to);
            return LUCID_STATUS_OK;
        }
        memcpy(ctx->bufs[t], data, lucid_tensor_nbytes(x));
        return LUCID_STATUS_OK;
    }
    return lucid_errorf(&ctx->err, LUCID_STATUS_INVALID_ARGUMENT, "the model has no input '%s'",
                        name);
}

/* A GPU run: the backend enqueues and waits; a profiling run adds its per-layer device
 * times. With an observer the run is eager, layer by layer, every layer's outputs copied
 * back for it (slow: for comparisons, not for timing). */
static lucid_status context_run_device(lucid_context_t *ctx)
{
    if (ctx->observer) {
        lucid_status st = ctx->backend->exec_run_observed(ctx->exec, ctx->observer,
                                                          ctx->observer_user, &ctx->err);
        if (!st) lucid_error_clear(&ctx->err);
        return st;
    }
    lucid_status st =
        ctx->backend->exec_run(ctx->exec, ctx->profiling ? ctx->layer_ms : NULL, &ctx->err);
    if (st) return st;
    if (ctx->profiling)
        for (int k = 0; k < ctx->n_order; k++) {
            int i = ctx->order[k];
            double dt = ctx->layer_ms[k] * 1e-3;
            if (!ctx->prof_runs[i] || dt < ctx->prof_min[i]) ctx->prof_min[i] = dt;
            if (dt > ctx->prof_max[i]) ctx->prof_max[i] = dt;
            ctx->prof_sum[i] += dt;
            ctx->prof_runs[i]++;
        }
    lucid_error_clear(&ctx->err);
    return LUCID_STATUS_OK;
}

lucid_status lucid_context_device_timing(const lucid_context_t *ctx, lucid_device_timing *out)
{
    if (!ctx || !out) return LUCID_STATUS_INVALID_ARGUMENT;
    if (!ctx->exec) return LUCID_STATUS_UNSUPPORTED;
    return ctx->backend->exec_timing(ctx->exec, out);
}

lucid_status lucid_context_run(lucid_context_t *ctx)
{
    if (!ctx) return LUCID_STATUS_INVALID_ARGUMENT;
    if (ctx->exec) return context_run_device(ctx);
    const lucid_graph *g = ctx->g;
    for (int k = 0; k < ctx->n_order; k++) {
        int i = ctx->order[k];
        const lucid_node *n = &g->nodes[i];
        lucid_array *a = ctx->io + ctx->io_offset[i];
        double t0 = ctx->profiling ? lucid_time_now() : 0.0;
        const lucid_tactic *t = ctx->tactic[i];
        lucid_status st =
            ctx->bound[i]
                ? t->run_bound(ctx->state[i], ctx->bound[i], a, n->n_inputs, a + n->n_inputs,
                               n->n_outputs, ctx->workspace, ctx->pool, &ctx->err)
                : t->run(ctx->state[i], a, n->n_inputs, a + n->n_inputs, n->n_outputs,
                         ctx->workspace, ctx->pool, &ctx->err);
        if (st) return st;
        if (ctx->profiling) {
            double dt = lucid_time_now() - t0;
            if (!ctx->prof_runs[i] || dt < ctx->prof_min[i]) ctx->prof_min[i] = dt;
            if (dt > ctx->prof_max[i]) ctx->prof_max[i] = dt;
            ctx->prof_sum[i] += dt;
            ctx->prof_runs[i]++;
        }
        if (ctx->observer) {
            const lucid_array *shown = a + n->n_inputs;
            if (n->n_outputs == 1 && ctx->obs_scratch && n->outputs[0] >= 0 &&
                g->tensors[n->outputs[0]].layout != LUCID_LAYOUT_PLAIN) {
                /* the observer sees every tensor in plain NCHW, whatever layout runs */
                const lucid_array *o = &a[n->n_inputs];
                int64_t spatial = 1;
                for (int d = 2; d < o->rank; d++) spatial *= o->dims[d];
                lucid_layout_convert(o->data, ctx->obs_scratch, o->dims[0], o->dims[1], spatial,
                                     lucid_dtype_size(o->dtype),
                                     (lucid_layout)g->tensors[n->outputs[0]].layout,
                                     LUCID_LAYOUT_PLAIN);
                ctx->obs_out[0] = *o;
                ctx->obs_out[0].data = ctx->obs_scratch;
                shown = ctx->obs_out;
            }
            st = ctx->observer(ctx->observer_user, (size_t)i, n->name, shown,
                               (size_t)n->n_outputs);
            if (st)
                return lucid_node_errorf(n, &ctx->err, st, "stopped by the layer observer");
        }
    }
    lucid_error_clear(&ctx->err);
    return LUCID_STATUS_OK;
}

lucid_status lucid_context_set_profiling(lucid_context_t *ctx, int on)
{
    if (!ctx) return LUCID_STATUS_INVALID_ARGUMENT;
    size_t n = (size_t)ctx->g->n_nodes;
    memset(ctx->prof_runs, 0, n * sizeof *ctx->prof_runs);
    memset(ctx->prof_sum, 0, n * sizeof *ctx->prof_sum);
    memset(ctx->prof_min, 0, n * sizeof *ctx->prof_min);
    memset(ctx->prof_max, 0, n * sizeof *ctx->prof_max);
    ctx->profiling = on != 0;
#ifdef LUCID_HAVE_CUDA
    if (ctx->exec) lucid_cuda_exec_kernels_clear(ctx->exec);
#endif
    return LUCID_STATUS_OK;
}

size_t lucid_context_num_layers(const lucid_context_t *ctx)
{
    return ctx ? (size_t)ctx->n_order : 0;
}

lucid_status lucid_context_layer_profile(const lucid_context_t *ctx, size_t k,
                                         lucid_layer_profile *out)
{
    if (!ctx || !out || k >= (size_t)ctx->n_order) return LUCID_STATUS_INVALID_ARGUMENT;
    int i = ctx->order[k];
    const lucid_node *n = &ctx->g->nodes[i];
    out->node = (size_t)i;
    out->name = n->name;
    out->op_type = n->op_type;
    out->tactic = ctx->tactic[i]->name;
    out->runs = ctx->prof_runs[i];
    out->total_ms = ctx->prof_sum[i] * 1e3;
    out->min_ms = ctx->prof_min[i] * 1e3;
    out->max_ms = ctx->prof_max[i] * 1e3;
    return LUCID_STATUS_OK;
}

size_t lucid_context_layer_num_kernels(const lucid_context_t *ctx, size_t k)
{
#ifdef LUCID_HAVE_CUDA
    if (ctx && ctx->exec && k < (size_t)ctx->n_order)
        return lucid_cuda_exec_num_kernels(ctx->exec, k);
#endif
    return 0;
}

lucid_status lucid_context_layer_kernel(const lucid_context_t *ctx, size_t k, size_t j,
                                        lucid_layer_kernel *out)
{
    if (!out || j >= lucid_context_layer_num_kernels(ctx, k)) return LUCID_STATUS_INVALID_ARGUMENT;
#ifdef LUCID_HAVE_CUDA
    return lucid_cuda_exec_kernel(ctx->exec, k, j, out);
#else
    return LUCID_STATUS_INTERNAL;
#endif
}

const char *lucid_context_kernels_unavailable(const lucid_context_t *ctx)
{
    if (!ctx) return NULL;
#ifdef LUCID_HAVE_CUDA
    if (ctx->exec) return lucid_cuda_exec_kernels_unavailable(ctx->exec);
#endif
    return "CPU contexts launch no GPU kernels";
}

lucid_status lucid_context_set_observer(lucid_context_t *ctx, lucid_layer_observer fn,
                                        void *user)
{
    if (!ctx) return LUCID_STATUS_INVALID_ARGUMENT;
    size_t need = 0;
    for (int t = 0; t < ctx->g->n_tensors; t++)
        if (ctx->g->tensors[t].layout != LUCID_LAYOUT_PLAIN &&
            lucid_tensor_nbytes(&ctx->g->tensors[t]) > need)
            need = lucid_tensor_nbytes(&ctx->g->tensors[t]);
    if (fn && need && !ctx->obs_scratch) {
        if (!(ctx->obs_scratch = malloc(need)))
            return lucid_errorf(&ctx->err, LUCID_STATUS_OUT_OF_MEMORY,
                                "out of memory for the observer's %zu-byte buffer", need);
    }
    ctx->observer = fn;
    ctx->observer_user = fn ? user : NULL;
    return LUCID_STATUS_OK;
}

size_t lucid_context_num_outputs(const lucid_context_t *ctx)
{
    return ctx ? (size_t)ctx->g->n_outputs : 0;
}

lucid_status lucid_context_output(const lucid_context_t *ctx, size_t i, lucid_array *out)
{
    if (!ctx || !out || i >= (size_t)ctx->g->n_outputs) return LUCID_STATUS_INVALID_ARGUMENT;
    int t = ctx->g->outputs[i];
    lucid_tensor_array(&ctx->g->tensors[t], ctx->bufs[t], out);
    return LUCID_STATUS_OK;
}

const char *lucid_context_error(const lucid_context_t *ctx)
{
    return ctx ? ctx->err.message : "";
}
