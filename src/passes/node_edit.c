/* node_edit.c - in-place node edits shared by the fusion passes: attributes, op changes,
 * renames, consumer lists, and constant producers left without users. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ops/op.h"
#include "passes/node_edit.h"
#include "passes/pass.h"

void lucid_node_remove_attr(lucid_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++) {
        if (strcmp(n->attrs[i].name, name) != 0) continue;
        lucid_attr_free(&n->attrs[i]);
        memmove(&n->attrs[i], &n->attrs[i + 1], sizeof *n->attrs * (size_t)(n->n_attrs - i - 1));
        n->n_attrs--;
        return;
    }
}

/* Moves a (name filled by the caller) onto n in place of any attribute of its name. */
static lucid_status set_attr(lucid_node *n, lucid_attr *a, lucid_error *err)
{
    if (!a->name) {
        lucid_attr_free(a);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    lucid_node_remove_attr(n, a->name);
    lucid_status st = lucid_node_add_attr(n, a, err);
    if (st) lucid_attr_free(a);
    return st;
}

lucid_status lucid_node_set_float(lucid_node *n, const char *name, float v, lucid_error *err)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_FLOAT, .f = v};
    return set_attr(n, &a, err);
}

lucid_status lucid_node_set_int(lucid_node *n, const char *name, int64_t v, lucid_error *err)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INT, .i = v};
    return set_attr(n, &a, err);
}

lucid_status lucid_node_set_ints(lucid_node *n, const char *name, const int64_t *v, size_t count,
                                 lucid_error *err)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_INTS, .count = count};
    a.ints = malloc(sizeof *a.ints * (count ? count : 1));
    if (!a.ints) {
        lucid_attr_free(&a);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    if (count) memcpy(a.ints, v, sizeof *a.ints * count);
    return set_attr(n, &a, err);
}

lucid_status lucid_node_set_string(lucid_node *n, const char *name, const char *v, lucid_error *err)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_STRING, .s = lucid_strdup(v)};
    if (!a.s) {
        lucid_attr_free(&a);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    return set_attr(n, &a, err);
}

lucid_status lucid_node_set_strings(lucid_node *n, const char *name, char *const *v, size_t count,
                                    lucid_error *err)
{
    lucid_attr a = {.name = lucid_strdup(name), .type = LUCID_ATTR_STRINGS};
    a.strings = calloc(count ? count : 1, sizeof *a.strings);
    bool ok = a.strings != NULL;
    for (size_t i = 0; ok && i < count; i++) {
        a.strings[i] = lucid_strdup(v[i]);
        a.count = i + 1;
        ok = a.strings[i] != NULL;
    }
    if (!ok) {
        lucid_attr_free(&a);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    return set_attr(n, &a, err);
}

lucid_status lucid_node_reparse(const lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_op_def *def = lucid_op_get((lucid_op)n->op);
    void *params = NULL;
    if (def->params_size) {
        params = calloc(1, def->params_size);
        if (!params) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    if (def->parse) {
        lucid_status st = def->parse(g, n, params, err);
        if (st) {
            free(params);
            return st;
        }
    }
    free(n->params);
    n->params = params;
    return LUCID_STATUS_OK;
}

lucid_status lucid_node_set_op(const lucid_graph *g, lucid_node *n, int op, int opset,
                               lucid_error *err)
{
    const lucid_op_def *def = lucid_op_get((lucid_op)op);
    char *type = lucid_strdup(def->name);
    char *domain = lucid_strdup(def->domain ? def->domain : "");
    if (!type || !domain) {
        free(type);
        free(domain);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    free(n->op_type);
    free(n->domain);
    n->op_type = type;
    n->domain = domain;
    n->op = op;
    n->opset = opset;
    return lucid_node_reparse(g, n, err);
}

lucid_status lucid_node_set_input(lucid_node *n, int k, int t, lucid_error *err)
{
    if (k >= n->n_inputs) {
        int *ni = realloc(n->inputs, sizeof *ni * (size_t)(k + 1));
        if (!ni) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        for (int i = n->n_inputs; i <= k; i++)
            ni[i] = -1;
        n->inputs = ni;
        n->n_inputs = k + 1;
    }
    n->inputs[k] = t;
    return LUCID_STATUS_OK;
}

lucid_status lucid_node_rename_join(lucid_node *n, const char *other, bool before, lucid_error *err)
{
    char *name =
        before ? lucid_layer_name_join(other, n->name) : lucid_layer_name_join(n->name, other);
    if (!name) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    free(n->name);
    n->name = name;
    return LUCID_STATUS_OK;
}

void lucid_tensor_consumer_replace(lucid_graph *g, int t, int from, int to)
{
    lucid_ir_tensor *x = &g->tensors[t];
    bool has_to = false;
    for (int c = 0; c < x->n_consumers; c++)
        has_to |= x->consumers[c] == to;
    for (int c = 0; c < x->n_consumers; c++) {
        if (x->consumers[c] != from) continue;
        if (!has_to) {
            x->consumers[c] = to;
            return;
        }
        /* `to` is listed already: each node appears once */
        memmove(&x->consumers[c], &x->consumers[c + 1],
                sizeof *x->consumers * (size_t)(x->n_consumers - c - 1));
        x->n_consumers--;
        return;
    }
}

void lucid_node_kill_orphan_constants(lucid_graph *g, const lucid_node *dead)
{
    for (int k = 0; k < dead->n_inputs; k++) {
        int t = dead->inputs[k];
        if (t < 0 || g->tensors[t].producer < 0) continue;
        lucid_node *p = &g->nodes[g->tensors[t].producer];
        if (p->dead || p->op != LUCID_OP_CONSTANT) continue;
        bool used = false;
        for (int o = 0; o < p->n_outputs && !used; o++)
            used = p->outputs[o] >= 0 && lucid_tensor_uses(g, p->outputs[o]) > 0;
        if (!used) lucid_node_kill(p);
    }
}

int lucid_tensor_live_consumers(const lucid_graph *g, int t, int *out, int max)
{
    const lucid_ir_tensor *x = &g->tensors[t];
    int count = 0;
    for (int c = 0; c < x->n_consumers; c++) {
        if (g->nodes[x->consumers[c]].dead) continue;
        if (count == max) return -1;
        out[count++] = x->consumers[c];
    }
    return count;
}
