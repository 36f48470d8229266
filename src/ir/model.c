/* model.c - the public model object: descriptions, shapes, whole-model and per-node cost. */
#include "ir/model.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"

lucid_status lucid_model_wrap(lucid_graph *g, lucid_model_t **out, lucid_error *err)
{
    lucid_model_t *m = calloc(1, sizeof *m);
    if (!m) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    m->graph = g;
    *out = m;
    return LUCID_STATUS_OK;
}

void lucid_model_destroy(lucid_model_t *model)
{
    if (!model) return;
    lucid_graph_destroy(model->graph);
    free(model);
}

size_t lucid_model_num_inputs(const lucid_model_t *model)
{
    return (size_t)model->graph->n_inputs;
}

size_t lucid_model_num_outputs(const lucid_model_t *model)
{
    return (size_t)model->graph->n_outputs;
}

static void describe(const lucid_ir_tensor *t, lucid_tensor_desc *out)
{
    memset(out, 0, sizeof *out);
    out->name = t->name;
    out->dtype = t->dtype;
    out->rank = t->rank;
    for (int i = 0; i < LUCID_MAX_RANK; i++) {
        out->dims[i] = i < t->rank ? t->dims[i] : -1;
        out->dim_params[i] = t->dim_params[i] ? t->dim_params[i] : "";
    }
}

lucid_status lucid_model_input(const lucid_model_t *model, size_t i, lucid_tensor_desc *out)
{
    if (!model || !out || i >= (size_t)model->graph->n_inputs)
        return LUCID_STATUS_INVALID_ARGUMENT;
    describe(&model->graph->tensors[model->graph->inputs[i]], out);
    return LUCID_STATUS_OK;
}

lucid_status lucid_model_output(const lucid_model_t *model, size_t i, lucid_tensor_desc *out)
{
    if (!model || !out || i >= (size_t)model->graph->n_outputs)
        return LUCID_STATUS_INVALID_ARGUMENT;
    describe(&model->graph->tensors[model->graph->outputs[i]], out);
    return LUCID_STATUS_OK;
}

lucid_status lucid_model_set_input_shape(lucid_model_t *model, const char *name, int rank,
                                         const int64_t *dims, lucid_error *err)
{
    if (!model || !name || (rank > 0 && !dims))
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "set_input_shape: NULL argument");
    lucid_graph *g = model->graph;
    int idx = -1;
    for (int i = 0; i < g->n_inputs; i++)
        if (strcmp(g->tensors[g->inputs[i]].name, name) == 0) idx = g->inputs[i];
    if (idx < 0)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "the model has no input '%s'",
                            name);
    lucid_ir_tensor *t = &g->tensors[idx];
    char want[160], got[160];
    lucid_shape_str(t->rank, t->dims, want, sizeof want);
    lucid_shape_str(rank, dims, got, sizeof got);
    if (rank < 0 || rank > LUCID_MAX_RANK || (t->rank >= 0 && t->rank != rank))
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "input '%s': shape %s does not fit the model's %s", name, got, want);
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || (t->rank >= 0 && t->dims[i] >= 0 && t->dims[i] != dims[i]))
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "input '%s': shape %s does not fit the model's %s", name, got,
                                want);
    }
    if (lucid_shape_numel(rank, dims) < 0)
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                            "input '%s': shape %s has more than %lld elements", name, got,
                            (long long)LUCID_MAX_ELEMENTS);
    int old_rank = t->rank;
    int64_t old_dims[LUCID_MAX_RANK];
    memcpy(old_dims, t->dims, sizeof old_dims);
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    lucid_status st = lucid_graph_infer(g, err);
    if (st) {
        /* restore the model as it was */
        t->rank = old_rank;
        memcpy(t->dims, old_dims, sizeof old_dims);
        lucid_error ignore;
        lucid_graph_infer(g, &ignore);
        lucid_error_prefix(err, "input '%s' shape %s: ", name, got);
    }
    return st;
}

lucid_status lucid_model_set_input_value(lucid_model_t *model, const char *name,
                                         const lucid_array *value, lucid_error *err)
{
    if (!model || !name || !value || (!value->data && value->nbytes))
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "set_input_value: NULL argument");
    lucid_graph *g = model->graph;
    int pos = -1;
    for (int i = 0; i < g->n_inputs; i++)
        if (strcmp(g->tensors[g->inputs[i]].name, name) == 0) pos = i;
    if (pos < 0)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "the model has no input '%s'",
                            name);
    int t = g->inputs[pos];
    lucid_ir_tensor *x = &g->tensors[t];
    char want[160], got[160];
    lucid_shape_str(x->rank, x->dims, want, sizeof want);
    lucid_shape_str(value->rank, value->dims, got, sizeof got);
    bool fits = value->dtype == x->dtype && value->rank >= 0 && value->rank <= LUCID_MAX_RANK &&
                (x->rank < 0 || x->rank == value->rank);
    for (int i = 0; fits && x->rank >= 0 && i < x->rank; i++)
        fits = x->dims[i] < 0 || x->dims[i] == value->dims[i];
    int64_t numel = fits ? lucid_shape_numel(value->rank, value->dims) : -1;
    if (!fits || numel < 0 || (size_t)numel * lucid_dtype_size(value->dtype) != value->nbytes)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "input '%s' is %s %s; the value given is %s %s", name,
                            lucid_dtype_name(x->dtype), want, lucid_dtype_name(value->dtype), got);
    void *data = malloc(value->nbytes ? value->nbytes : 1);
    if (!data) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (value->nbytes) memcpy(data, value->data, value->nbytes);
    lucid_ir_tensor saved = *x;
    x->rank = value->rank;
    for (int i = 0; i < value->rank; i++) x->dims[i] = value->dims[i];
    x->data = data;
    x->nbytes = value->nbytes;
    x->is_initializer = true;
    x->is_input = false;
    memmove(g->inputs + pos, g->inputs + pos + 1, sizeof(int) * (size_t)(g->n_inputs - pos - 1));
    g->n_inputs--;
    lucid_status st = lucid_graph_infer(g, err);
    if (st) {
        /* restore the input as it was */
        free(x->data);
        x->data = saved.data;
        x->nbytes = saved.nbytes;
        x->rank = saved.rank;
        memcpy(x->dims, saved.dims, sizeof x->dims);
        x->is_initializer = false;
        x->is_input = true;
        memmove(g->inputs + pos + 1, g->inputs + pos,
                sizeof(int) * (size_t)(g->n_inputs - pos));
        g->inputs[pos] = t;
        g->n_inputs++;
        lucid_error ignore;
        lucid_graph_infer(g, &ignore);
        lucid_error_prefix(err, "input '%s' value: ", name);
    }
    return st;
}

void lucid_node_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops,
                     uint64_t *param_bytes, uint64_t *read_bytes, uint64_t *write_bytes)
{
    *macs = *flops = 0;
    *param_bytes = *read_bytes = *write_bytes = 0;
    bool known = true;
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *t = lucid_op_input(g, n, k);
        if (!t) continue;
        if (!lucid_tensor_shape_known(t)) known = false;
        if (t->is_initializer)
            *param_bytes += lucid_tensor_nbytes(t);
        else
            *read_bytes += lucid_tensor_nbytes(t);
    }
    for (int k = 0; k < n->n_outputs; k++) {
        const lucid_ir_tensor *t = lucid_op_output(g, n, k);
        if (!t) continue;
        if (!lucid_tensor_shape_known(t)) known = false;
        *write_bytes += lucid_tensor_nbytes(t);
    }
    if (n->elided) { /* its outputs are views: no work, no traffic */
        *read_bytes = *write_bytes = 0;
        return;
    }
    if (!known || n->op < 0) return;
    const lucid_op_def *def = lucid_op_get(n->op);
    if (def->cost) {
        def->cost(g, n, macs, flops);
    } else {
        for (int k = 0; k < n->n_outputs; k++) {
            const lucid_ir_tensor *t = lucid_op_output(g, n, k);
            if (t) *flops += (double)lucid_tensor_numel(t);
        }
    }
}

lucid_status lucid_model_get_info(const lucid_model_t *model, lucid_model_info *out)
{
    if (!model || !out) return LUCID_STATUS_INVALID_ARGUMENT;
    const lucid_graph *g = model->graph;
    memset(out, 0, sizeof *out);
    out->path = g->path;
    out->producer = g->producer;
    out->graph_name = g->name;
    out->ir_version = g->ir_version;
    out->opset = g->opset;
    out->num_nodes = (size_t)g->n_nodes;
    out->num_tensors = (size_t)g->n_tensors;
    out->shapes_known = g->shapes_known;
    for (int t = 0; t < g->n_tensors; t++) {
        const lucid_ir_tensor *x = &g->tensors[t];
        bool constant = x->is_initializer ||
                        (x->producer >= 0 && g->nodes[x->producer].op == LUCID_OP_CONSTANT);
        if (constant) {
            int64_t ne = lucid_tensor_numel(x);
            if (ne > 0) out->param_count += ne;
            out->param_bytes += lucid_tensor_nbytes(x);
        } else if (!x->data) {
            out->activation_bytes += lucid_tensor_nbytes(x);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        double macs, flops;
        uint64_t pb, rb, wb;
        lucid_node_cost(g, &g->nodes[i], &macs, &flops, &pb, &rb, &wb);
        out->macs += macs;
        out->flops += flops;
    }
    return LUCID_STATUS_OK;
}

lucid_status lucid_model_node(const lucid_model_t *model, size_t i, lucid_node_info *out)
{
    if (!model || !out || i >= (size_t)model->graph->n_nodes) return LUCID_STATUS_INVALID_ARGUMENT;
    const lucid_graph *g = model->graph;
    const lucid_node *n = &g->nodes[i];
    memset(out, 0, sizeof *out);
    out->name = n->name;
    out->op_type = n->op_type;
    out->opset = n->opset;
    out->num_inputs = (size_t)n->n_inputs;
    out->num_outputs = (size_t)n->n_outputs;
    lucid_node_cost(g, n, &out->macs, &out->flops, &out->param_bytes, &out->read_bytes,
                    &out->write_bytes);
    out->elided = n->elided;
    return LUCID_STATUS_OK;
}
