/* attr.c - typed, checked access to node attributes. */
#include <string.h>

#include "ir/graph.h"

static const char *attr_type_name(lucid_attr_type t)
{
    switch (t) {
    case LUCID_ATTR_FLOAT: return "FLOAT";
    case LUCID_ATTR_INT: return "INT";
    case LUCID_ATTR_STRING: return "STRING";
    case LUCID_ATTR_TENSOR: return "TENSOR";
    case LUCID_ATTR_GRAPH: return "GRAPH";
    case LUCID_ATTR_FLOATS: return "FLOATS";
    case LUCID_ATTR_INTS: return "INTS";
    case LUCID_ATTR_STRINGS: return "STRINGS";
    case LUCID_ATTR_UNDEFINED: break;
    }
    return "UNDEFINED";
}

const lucid_attr *lucid_node_attr(const lucid_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

static lucid_status wrong_type(const lucid_node *n, const lucid_attr *a, lucid_attr_type want,
                               lucid_error *err)
{
    return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                             "attribute '%s' must be %s, not %s", a->name, attr_type_name(want),
                             attr_type_name(a->type));
}

lucid_status lucid_attr_int(const lucid_node *n, const char *name, int64_t def, int64_t *out,
                            lucid_error *err)
{
    const lucid_attr *a = lucid_node_attr(n, name);
    *out = def;
    if (!a) return LUCID_STATUS_OK;
    if (a->type != LUCID_ATTR_INT) return wrong_type(n, a, LUCID_ATTR_INT, err);
    *out = a->i;
    return LUCID_STATUS_OK;
}

lucid_status lucid_attr_float(const lucid_node *n, const char *name, float def, float *out,
                              lucid_error *err)
{
    const lucid_attr *a = lucid_node_attr(n, name);
    *out = def;
    if (!a) return LUCID_STATUS_OK;
    if (a->type != LUCID_ATTR_FLOAT) return wrong_type(n, a, LUCID_ATTR_FLOAT, err);
    *out = a->f;
    return LUCID_STATUS_OK;
}

lucid_status lucid_attr_string(const lucid_node *n, const char *name, const char *def,
                               const char **out, lucid_error *err)
{
    const lucid_attr *a = lucid_node_attr(n, name);
    *out = def;
    if (!a) return LUCID_STATUS_OK;
    if (a->type != LUCID_ATTR_STRING) return wrong_type(n, a, LUCID_ATTR_STRING, err);
    *out = a->s;
    return LUCID_STATUS_OK;
}

lucid_status lucid_attr_ints(const lucid_node *n, const char *name, const int64_t **out,
                             size_t *count, lucid_error *err)
{
    const lucid_attr *a = lucid_node_attr(n, name);
    *out = NULL;
    *count = 0;
    if (!a) return LUCID_STATUS_OK;
    if (a->type != LUCID_ATTR_INTS) return wrong_type(n, a, LUCID_ATTR_INTS, err);
    *out = a->ints;
    *count = a->count;
    return LUCID_STATUS_OK;
}

lucid_status lucid_attr_floats(const lucid_node *n, const char *name, const float **out,
                               size_t *count, lucid_error *err)
{
    const lucid_attr *a = lucid_node_attr(n, name);
    *out = NULL;
    *count = 0;
    if (!a) return LUCID_STATUS_OK;
    if (a->type != LUCID_ATTR_FLOATS) return wrong_type(n, a, LUCID_ATTR_FLOATS, err);
    *out = a->floats;
    *count = a->count;
    return LUCID_STATUS_OK;
}

lucid_status lucid_attr_tensor(const lucid_node *n, const char *name, const lucid_array **out,
                               lucid_error *err)
{
    const lucid_attr *a = lucid_node_attr(n, name);
    *out = NULL;
    if (!a) return LUCID_STATUS_OK;
    if (a->type != LUCID_ATTR_TENSOR) return wrong_type(n, a, LUCID_ATTR_TENSOR, err);
    *out = a->t;
    return LUCID_STATUS_OK;
}
