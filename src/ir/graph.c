/* graph.c - graph construction, ownership and destruction. */
#include "ir/graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

lucid_graph *lucid_graph_create(void)
{
    lucid_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    lucid_strmap_init(&g->by_name);
    g->path = lucid_strdup("");
    g->name = lucid_strdup("");
    g->producer = lucid_strdup("");
    if (!g->path || !g->name || !g->producer) {
        lucid_graph_destroy(g);
        return NULL;
    }
    return g;
}

void lucid_attr_free(lucid_attr *a)
{
    if (!a) return;
    free(a->name);
    free(a->s);
    free(a->ints);
    free(a->floats);
    if (a->strings)
        for (size_t i = 0; i < a->count; i++) free(a->strings[i]);
    free(a->strings);
    if (a->t) {
        lucid_array_free(a->t);
        free(a->t);
    }
    memset(a, 0, sizeof *a);
}

void lucid_node_release(lucid_node *n)
{
    free(n->name);
    free(n->op_type);
    free(n->domain);
    for (int i = 0; i < n->n_attrs; i++) lucid_attr_free(&n->attrs[i]);
    free(n->attrs);
    free(n->inputs);
    free(n->outputs);
    free(n->params);
}

void lucid_tensor_release(lucid_ir_tensor *t)
{
    free(t->name);
    for (int i = 0; i < LUCID_MAX_RANK; i++) free(t->dim_params[i]);
    free(t->data);
    free(t->consumers);
}

void lucid_graph_destroy(lucid_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) lucid_node_release(&g->nodes[i]);
    for (int i = 0; i < g->n_tensors; i++) lucid_tensor_release(&g->tensors[i]);
    free(g->nodes);
    free(g->tensors);
    free(g->inputs);
    free(g->outputs);
    free(g->path);
    free(g->name);
    free(g->producer);
    lucid_strmap_free(&g->by_name);
    free(g);
}

int lucid_graph_find(const lucid_graph *g, const char *name)
{
    return lucid_strmap_get(&g->by_name, name);
}

int lucid_graph_tensor(lucid_graph *g, const char *name, lucid_error *err)
{
    int idx = lucid_graph_find(g, name);
    if (idx >= 0) return idx;
    if (g->n_tensors == g->cap_tensors) {
        int ncap = g->cap_tensors ? g->cap_tensors * 2 : 64;
        lucid_ir_tensor *nt = realloc(g->tensors, (size_t)ncap * sizeof *nt);
        if (!nt) goto oom;
        g->tensors = nt;
        g->cap_tensors = ncap;
        /* names are borrowed by the map: rebuild it since tensors moved (names did not,
         * they are separate allocations, so the map stays valid) */
    }
    lucid_ir_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = lucid_strdup(name);
    if (!t->name) goto oom;
    t->rank = -1;
    t->producer = -1;
    t->view_of = -1;
    for (int i = 0; i < LUCID_MAX_RANK; i++) t->dims[i] = -1;
    if (!lucid_strmap_put(&g->by_name, t->name, g->n_tensors)) {
        free(t->name);
        goto oom;
    }
    return g->n_tensors++;
oom:
    lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory adding tensor '%s'", name);
    return -1;
}

int lucid_graph_add_node(lucid_graph *g, const char *name, const char *op_type, const char *domain,
                         int opset, const int *inputs, int n_inputs, const int *outputs,
                         int n_outputs, lucid_error *err)
{
    if (g->n_nodes == g->cap_nodes) {
        int ncap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        lucid_node *nn = realloc(g->nodes, (size_t)ncap * sizeof *nn);
        if (!nn) goto oom;
        g->nodes = nn;
        g->cap_nodes = ncap;
    }
    lucid_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = -1;
    n->opset = opset;
    n->name = lucid_strdup(name ? name : "");
    n->op_type = lucid_strdup(op_type ? op_type : "");
    n->domain = lucid_strdup(domain ? domain : "");
    n->inputs = malloc(sizeof(int) * (size_t)(n_inputs ? n_inputs : 1));
    n->outputs = malloc(sizeof(int) * (size_t)(n_outputs ? n_outputs : 1));
    if (!n->name || !n->op_type || !n->domain || !n->inputs || !n->outputs) {
        lucid_node_release(n);
        goto oom;
    }
    if (n_inputs) memcpy(n->inputs, inputs, sizeof(int) * (size_t)n_inputs);
    if (n_outputs) memcpy(n->outputs, outputs, sizeof(int) * (size_t)n_outputs);
    n->n_inputs = n_inputs;
    n->n_outputs = n_outputs;
    return g->n_nodes++;
oom:
    lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory adding node '%s'",
                 name ? name : "");
    return -1;
}

lucid_status lucid_node_add_attr(lucid_node *n, lucid_attr *attr, lucid_error *err)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, attr->name) == 0)
            return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                     "attribute '%s' is given twice", attr->name);
    lucid_attr *na = realloc(n->attrs, sizeof *na * (size_t)(n->n_attrs + 1));
    if (!na) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    n->attrs = na;
    n->attrs[n->n_attrs++] = *attr;
    memset(attr, 0, sizeof *attr);
    return LUCID_STATUS_OK;
}

lucid_status lucid_graph_set_initializer(lucid_graph *g, int t, lucid_dtype dtype, int rank,
                                         const int64_t *dims, void *data, size_t nbytes,
                                         lucid_error *err)
{
    lucid_ir_tensor *x = &g->tensors[t];
    if (x->is_initializer)
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "initializer '%s' is given twice",
                            x->name);
    if (rank < 0 || rank > LUCID_MAX_RANK)
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                            "initializer '%s' has rank %d (at most %d supported)", x->name, rank,
                            LUCID_MAX_RANK);
    x->dtype = dtype;
    x->rank = rank;
    for (int i = 0; i < rank; i++) x->dims[i] = dims[i];
    x->data = data;
    x->nbytes = nbytes;
    x->is_initializer = true;
    return LUCID_STATUS_OK;
}

static lucid_status append_index(int **arr, int *n, int v, lucid_error *err)
{
    int *na = realloc(*arr, sizeof(int) * (size_t)(*n + 1));
    if (!na) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    na[(*n)++] = v;
    *arr = na;
    return LUCID_STATUS_OK;
}

lucid_status lucid_graph_add_input(lucid_graph *g, int t, lucid_error *err)
{
    g->tensors[t].is_input = true;
    return append_index(&g->inputs, &g->n_inputs, t, err);
}

lucid_status lucid_graph_add_output(lucid_graph *g, int t, lucid_error *err)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == t)
            return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                "graph output '%s' is listed twice", g->tensors[t].name);
    g->tensors[t].is_output = true;
    return append_index(&g->outputs, &g->n_outputs, t, err);
}

lucid_status lucid_node_errorf(const lucid_node *n, lucid_error *err, lucid_status status,
                               const char *fmt, ...)
{
    if (!err) return status;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return lucid_errorf(err, status, "node '%s' (%s%s%s, opset %d): %s", n->name,
                        n->domain[0] ? n->domain : "", n->domain[0] ? "." : "", n->op_type,
                        n->opset, msg);
}

size_t lucid_tensor_nbytes(const lucid_ir_tensor *t)
{
    int64_t n = lucid_tensor_numel(t);
    return n < 0 ? 0 : (size_t)n * lucid_dtype_size(t->dtype);
}

int64_t lucid_tensor_numel(const lucid_ir_tensor *t)
{
    if (t->rank < 0) return -1;
    int64_t n = lucid_shape_numel(t->rank, t->dims);
    return n < 0 ? -1 : n;
}

bool lucid_tensor_shape_known(const lucid_ir_tensor *t)
{
    return t->rank >= 0 && t->dtype != LUCID_DTYPE_UNDEFINED && lucid_tensor_numel(t) >= 0;
}

static bool clone_attr(lucid_attr *dst, const lucid_attr *src)
{
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    dst->i = src->i;
    dst->f = src->f;
    dst->count = src->count;
    dst->name = lucid_strdup(src->name);
    if (!dst->name) return false;
    if (src->s && !(dst->s = lucid_strdup(src->s))) return false;
    if (src->ints) {
        dst->ints = malloc(sizeof(int64_t) * (src->count ? src->count : 1));
        if (!dst->ints) return false;
        if (src->count) memcpy(dst->ints, src->ints, sizeof(int64_t) * src->count);
    }
    if (src->floats) {
        dst->floats = malloc(sizeof(float) * (src->count ? src->count : 1));
        if (!dst->floats) return false;
        if (src->count) memcpy(dst->floats, src->floats, sizeof(float) * src->count);
    }
    if (src->strings) {
        dst->strings = calloc(src->count ? src->count : 1, sizeof(char *));
        if (!dst->strings) return false;
        for (size_t i = 0; i < src->count; i++)
            if (!(dst->strings[i] = lucid_strdup(src->strings[i]))) return false;
    }
    if (src->t) {
        dst->t = calloc(1, sizeof *dst->t);
        if (!dst->t) return false;
        *dst->t = *src->t;
        dst->t->data = malloc(src->t->nbytes ? src->t->nbytes : 1);
        if (!dst->t->data) return false;
        if (src->t->nbytes) memcpy(dst->t->data, src->t->data, src->t->nbytes);
    }
    return true;
}

lucid_graph *lucid_graph_clone(const lucid_graph *src, size_t params_size_of(int op))
{
    lucid_graph *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    lucid_strmap_init(&g->by_name);
    g->ir_version = src->ir_version;
    g->opset = src->opset;
    g->shapes_known = src->shapes_known;
    memcpy(g->deferred, src->deferred, sizeof g->deferred);
    g->path = lucid_strdup(src->path);
    g->name = lucid_strdup(src->name);
    g->producer = lucid_strdup(src->producer);
    g->tensors = calloc((size_t)src->n_tensors + 1, sizeof *g->tensors);
    g->nodes = calloc((size_t)src->n_nodes + 1, sizeof *g->nodes);
    g->inputs = malloc(sizeof(int) * ((size_t)src->n_inputs + 1));
    g->outputs = malloc(sizeof(int) * ((size_t)src->n_outputs + 1));
    if (!g->path || !g->name || !g->producer || !g->tensors || !g->nodes || !g->inputs ||
        !g->outputs)
        goto fail;
    g->cap_tensors = src->n_tensors + 1;
    g->cap_nodes = src->n_nodes + 1;
    for (int t = 0; t < src->n_tensors; t++) {
        const lucid_ir_tensor *s = &src->tensors[t];
        lucid_ir_tensor *d = &g->tensors[t];
        *d = *s;
        d->name = NULL;
        d->data = NULL;
        d->consumers = NULL;
        for (int i = 0; i < LUCID_MAX_RANK; i++) d->dim_params[i] = NULL;
        g->n_tensors = t + 1;
        if (!(d->name = lucid_strdup(s->name))) goto fail;
        for (int i = 0; i < LUCID_MAX_RANK; i++)
            if (s->dim_params[i] && !(d->dim_params[i] = lucid_strdup(s->dim_params[i])))
                goto fail;
        if (s->data) {
            if (!(d->data = malloc(s->nbytes ? s->nbytes : 1))) goto fail;
            if (s->nbytes) memcpy(d->data, s->data, s->nbytes);
        }
        if (s->n_consumers) {
            if (!(d->consumers = malloc(sizeof(int) * (size_t)s->n_consumers))) goto fail;
            memcpy(d->consumers, s->consumers, sizeof(int) * (size_t)s->n_consumers);
        }
        if (!lucid_strmap_put(&g->by_name, d->name, t)) goto fail;
    }
    for (int i = 0; i < src->n_nodes; i++) {
        const lucid_node *s = &src->nodes[i];
        lucid_node *d = &g->nodes[i];
        *d = *s;
        d->name = d->op_type = d->domain = NULL;
        d->attrs = NULL;
        d->n_attrs = 0;
        d->inputs = d->outputs = NULL;
        d->params = NULL;
        g->n_nodes = i + 1;
        d->name = lucid_strdup(s->name);
        d->op_type = lucid_strdup(s->op_type);
        d->domain = lucid_strdup(s->domain);
        d->inputs = malloc(sizeof(int) * ((size_t)s->n_inputs + 1));
        d->outputs = malloc(sizeof(int) * ((size_t)s->n_outputs + 1));
        if (!d->name || !d->op_type || !d->domain || !d->inputs || !d->outputs) goto fail;
        memcpy(d->inputs, s->inputs, sizeof(int) * (size_t)s->n_inputs);
        memcpy(d->outputs, s->outputs, sizeof(int) * (size_t)s->n_outputs);
        if (s->n_attrs) {
            d->attrs = calloc((size_t)s->n_attrs, sizeof *d->attrs);
            if (!d->attrs) goto fail;
            for (int k = 0; k < s->n_attrs; k++) {
                d->n_attrs = k + 1;
                if (!clone_attr(&d->attrs[k], &s->attrs[k])) goto fail;
            }
        }
        size_t ps = s->op >= 0 ? params_size_of(s->op) : 0;
        if (s->params && ps) {
            /* parsed params are plain values (no pointers), so a byte copy is a copy */
            if (!(d->params = malloc(ps))) goto fail;
            memcpy(d->params, s->params, ps);
        }
    }
    memcpy(g->inputs, src->inputs, sizeof(int) * (size_t)src->n_inputs);
    memcpy(g->outputs, src->outputs, sizeof(int) * (size_t)src->n_outputs);
    g->n_inputs = src->n_inputs;
    g->n_outputs = src->n_outputs;
    return g;
fail:
    lucid_graph_destroy(g);
    return NULL;
}

void lucid_tensor_array(const lucid_ir_tensor *t, void *data, lucid_array *a)
{
    memset(a, 0, sizeof *a);
    if (!t) return;
    snprintf(a->name, sizeof a->name, "%s", t->name);
    a->dtype = t->dtype;
    a->rank = t->rank;
    for (int i = 0; i < t->rank; i++) a->dims[i] = t->dims[i];
    a->data = data;
    a->nbytes = lucid_tensor_nbytes(t);
}
