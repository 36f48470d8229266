/* export.c - lucid graph to ONNX ModelProto: the (optimized) graph as a runnable file that
 * Netron opens, fused layers as lucid-domain ops, views and elided nodes recorded. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ir/model.h"
#include "onnx/onnx_internal.h"
#include "ops/op.h"

/* Every protobuf-c struct and string the export allocates is recorded here and freed at the
 * end, so building the message has one cleanup path however far it got. */
typedef struct export_state {
    void **allocs;
    size_t n_allocs, cap_allocs;
    bool oom;
    /* per tensor, the name it is written under: a plan's Reorder layers (physical layout
     * conversions, logically the identity) are left out, their input and output one tensor */
    const char **name;
} export_state;

static void *ex_alloc(export_state *ex, size_t size)
{
    if (ex->oom) return NULL;
    if (ex->n_allocs == ex->cap_allocs) {
        size_t ncap = ex->cap_allocs ? ex->cap_allocs * 2 : 256;
        void **na = realloc(ex->allocs, ncap * sizeof *na);
        if (!na) {
            ex->oom = true;
            return NULL;
        }
        ex->allocs = na;
        ex->cap_allocs = ncap;
    }
    void *p = calloc(1, size ? size : 1);
    if (!p) {
        ex->oom = true;
        return NULL;
    }
    ex->allocs[ex->n_allocs++] = p;
    return p;
}

static char *ex_strdup(export_state *ex, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ex_alloc(ex, n);
    if (d) memcpy(d, s, n);
    return d;
}

static char *ex_printf(export_state *ex, const char *fmt, ...) LUCID_PRINTF(2, 3);
static char *ex_printf(export_state *ex, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return NULL;
    char *s = ex_alloc(ex, (size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void ex_free(export_state *ex)
{
    for (size_t i = 0; i < ex->n_allocs; i++) free(ex->allocs[i]);
    free(ex->allocs);
    memset(ex, 0, sizeof *ex);
}

/* A TensorProto holding the bytes (raw_data, little-endian as lucid keeps them). */
static Onnx__TensorProto *ex_tensor(export_state *ex, const char *name, lucid_dtype dtype,
                                    int rank, const int64_t *dims, const void *data,
                                    size_t nbytes)
{
    Onnx__TensorProto *tp = ex_alloc(ex, sizeof *tp);
    int64_t *d = ex_alloc(ex, sizeof(int64_t) * (size_t)(rank > 0 ? rank : 1));
    if (!tp || !d) return NULL;
    onnx__tensor_proto__init(tp);
    tp->name = (char *)name;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)dtype;
    if (rank > 0) memcpy(d, dims, sizeof(int64_t) * (size_t)rank);
    tp->n_dims = (size_t)(rank > 0 ? rank : 0);
    tp->dims = d;
    tp->has_raw_data = 1;
    tp->raw_data.len = nbytes;
    tp->raw_data.data = (uint8_t *)data;
    return tp;
}

/* A tensor type with the shape as far as it is known: values, else the symbolic names the
 * model declared, else unnamed dimensions. */
static Onnx__TypeProto *ex_type(export_state *ex, const lucid_ir_tensor *x)
{
    Onnx__TypeProto *tp = ex_alloc(ex, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = ex_alloc(ex, sizeof *tt);
    if (!tp || !tt) return NULL;
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = (int32_t)x->dtype;
    if (x->rank < 0) return tp;
    Onnx__TensorShapeProto *sh = ex_alloc(ex, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims =
        ex_alloc(ex, sizeof *dims * (size_t)(x->rank ? x->rank : 1));
    if (!sh || !dims) return NULL;
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < x->rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = ex_alloc(ex, sizeof *d);
        if (!d) return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (x->dims[i] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = x->dims[i];
        } else if (x->dim_params[i]) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = x->dim_params[i];
        }
        dims[i] = d;
    }
    sh->n_dim = (size_t)x->rank;
    sh->dim = dims;
    tt->shape = sh;
    return tp;
}

static Onnx__ValueInfoProto *ex_value_info(export_state *ex, const lucid_ir_tensor *x)
{
    Onnx__ValueInfoProto *vi = ex_alloc(ex, sizeof *vi);
    if (!vi) return NULL;
    onnx__value_info_proto__init(vi);
    vi->name = x->name;
    vi->type = ex_type(ex, x);
    return vi->type ? vi : NULL;
}

static Onnx__AttributeProto *ex_attr(export_state *ex, const lucid_attr *a)
{
    Onnx__AttributeProto *ap = ex_alloc(ex, sizeof *ap);
    if (!ap) return NULL;
    onnx__attribute_proto__init(ap);
    ap->name = a->name;
    ap->has_type = 1;
    ap->type = (Onnx__AttributeProto__AttributeType)a->type;
    switch (a->type) {
    case LUCID_ATTR_FLOAT:
        ap->has_f = 1;
        ap->f = a->f;
        break;
    case LUCID_ATTR_INT:
        ap->has_i = 1;
        ap->i = a->i;
        break;
    case LUCID_ATTR_STRING:
        ap->has_s = 1;
        ap->s.data = (uint8_t *)a->s;
        ap->s.len = strlen(a->s);
        break;
    case LUCID_ATTR_INTS:
        ap->n_ints = a->count;
        ap->ints = a->ints;
        break;
    case LUCID_ATTR_FLOATS:
        ap->n_floats = a->count;
        ap->floats = a->floats;
        break;
    case LUCID_ATTR_STRINGS:
        ap->n_strings = a->count;
        ap->strings = ex_alloc(ex, sizeof *ap->strings * (a->count ? a->count : 1));
        if (!ap->strings) return NULL;
        for (size_t i = 0; i < a->count; i++) {
            ap->strings[i].data = (uint8_t *)a->strings[i];
            ap->strings[i].len = strlen(a->strings[i]);
        }
        break;
    case LUCID_ATTR_TENSOR:
        ap->t = ex_tensor(ex, "", a->t->dtype, a->t->rank, a->t->dims, a->t->data, a->t->nbytes);
        if (!ap->t) return NULL;
        break;
    default:
        /* the importer keeps graph and type attributes empty, and no op lucid runs takes
         * one, so a node holding one cannot be in a graph that got this far */
        return NULL;
    }
    return ap;
}

/* Describes, for a human reading the file, what lucid does with a node that plain ONNX
 * cannot say: elided (not run) and outputs living inside another tensor's buffer. */
static char *ex_node_doc(export_state *ex, const lucid_graph *g, const lucid_node *n)
{
    char buf[2048] = "";
    size_t pos = 0;
    if (n->elided)
        pos += (size_t)snprintf(buf, sizeof buf,
                                "lucid: elided (not run: its outputs are views that already "
                                "hold the result)");
    for (int k = 0; k < n->n_outputs && pos < sizeof buf; k++) {
        int t = n->outputs[k];
        if (t < 0 || g->tensors[t].view_of < 0) continue;
        size_t off;
        int s = lucid_tensor_storage(g, t, &off);
        pos += (size_t)snprintf(buf + pos, sizeof buf - pos,
                                "%slucid: output '%s' is a view of '%s' at byte %zu",
                                pos ? "; " : "", g->tensors[t].name, g->tensors[s].name, off);
    }
    return buf[0] ? ex_strdup(ex, buf) : NULL;
}

static Onnx__NodeProto *ex_node(export_state *ex, const lucid_graph *g, const lucid_node *n)
{
    Onnx__NodeProto *np = ex_alloc(ex, sizeof *np);
    char **ins = ex_alloc(ex, sizeof(char *) * (size_t)(n->n_inputs ? n->n_inputs : 1));
    char **outs = ex_alloc(ex, sizeof(char *) * (size_t)(n->n_outputs ? n->n_outputs : 1));
    bool lucid_domain = strcmp(n->domain, LUCID_DOMAIN) == 0;
    /* lucid's own ops also carry the flag as an attribute; default-domain ops cannot, since
     * onnx.checker refuses attributes their schema lacks */
    int extra = lucid_domain && n->elided ? 1 : 0;
    Onnx__AttributeProto **attrs =
        ex_alloc(ex, sizeof *attrs * (size_t)(n->n_attrs + extra + 1));
    if (!np || !ins || !outs || !attrs) return NULL;
    onnx__node_proto__init(np);
    np->name = n->name;
    np->op_type = n->op_type;
    np->domain = n->domain[0] ? n->domain : NULL;
    for (int k = 0; k < n->n_inputs; k++)
        ins[k] = n->inputs[k] >= 0 ? (char *)ex->name[n->inputs[k]] : "";
    for (int k = 0; k < n->n_outputs; k++)
        outs[k] = n->outputs[k] >= 0 ? (char *)ex->name[n->outputs[k]] : "";
    np->n_input = (size_t)n->n_inputs;
    np->input = ins;
    np->n_output = (size_t)n->n_outputs;
    np->output = outs;
    for (int i = 0; i < n->n_attrs; i++) {
        attrs[i] = ex_attr(ex, &n->attrs[i]);
        if (!attrs[i]) return NULL;
    }
    if (extra) {
        Onnx__AttributeProto *ap = ex_alloc(ex, sizeof *ap);
        if (!ap) return NULL;
        onnx__attribute_proto__init(ap);
        ap->name = "lucid_elided";
        ap->has_type = 1;
        ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        ap->has_i = 1;
        ap->i = 1;
        attrs[n->n_attrs] = ap;
    }
    np->n_attribute = (size_t)(n->n_attrs + extra);
    np->attribute = attrs;
    np->doc_string = ex_node_doc(ex, g, n);
    return ex->oom ? NULL : np;
}

/* Model metadata listing elided nodes and views, so tools can read them back exactly. */
static lucid_status ex_metadata(export_state *ex, const lucid_graph *g, Onnx__ModelProto *mp)
{
    size_t elided_len = 1, views_len = 1;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].elided) elided_len += strlen(g->nodes[i].name) + 1;
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t].view_of >= 0)
            views_len += strlen(g->tensors[t].name) +
                         strlen(g->tensors[g->tensors[t].view_of].name) + 32;
    char *elided = ex_alloc(ex, elided_len), *views = ex_alloc(ex, views_len);
    Onnx__StringStringEntryProto **props = ex_alloc(ex, sizeof *props * 3);
    if (!elided || !views || !props) return LUCID_STATUS_OUT_OF_MEMORY;
    size_t pos = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].elided)
            pos += (size_t)snprintf(elided + pos, elided_len - pos, "%s%s", pos ? "\n" : "",
                                    g->nodes[i].name);
    pos = 0;
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t].view_of >= 0)
            pos += (size_t)snprintf(views + pos, views_len - pos, "%s%s=%s@%zu", pos ? "\n" : "",
                                    g->tensors[t].name, g->tensors[g->tensors[t].view_of].name,
                                    g->tensors[t].view_offset);
    size_t n = 0;
    const char *keys[2] = {"lucid.elided_nodes", "lucid.views"};
    char *vals[2] = {elided, views};
    for (int k = 0; k < 2; k++) {
        if (!vals[k][0]) continue;
        Onnx__StringStringEntryProto *e = ex_alloc(ex, sizeof *e);
        if (!e) return LUCID_STATUS_OUT_OF_MEMORY;
        onnx__string_string_entry_proto__init(e);
        e->key = (char *)keys[k];
        e->value = vals[k];
        props[n++] = e;
    }
    mp->n_metadata_props = n;
    mp->metadata_props = props;
    return LUCID_STATUS_OK;
}

static lucid_status ex_build(export_state *ex, const lucid_graph *g, Onnx__ModelProto *mp,
                             lucid_error *err)
{
    Onnx__GraphProto *gp = ex_alloc(ex, sizeof *gp);
    if (!gp) goto oom;
    onnx__model_proto__init(mp);
    onnx__graph_proto__init(gp);
    mp->graph = gp;
    /* IR 4 lets initializers stay out of the input list; keep newer versions as they were */
    mp->has_ir_version = 1;
    mp->ir_version = g->ir_version > 4 ? g->ir_version : 4;
    mp->producer_name = "lucid";
    mp->producer_version = (char *)lucid_version();
    mp->doc_string = ex_printf(ex, "optimized by lucid %s from %s (%s)", lucid_version(),
                               g->path ? g->path : "a graph",
                               g->producer && g->producer[0] ? g->producer : "unknown producer");
    gp->name = g->name && g->name[0] ? g->name : "lucid";

    bool uses_lucid = false;
    /* a graph built in memory may not say its opset: its nodes do */
    int64_t opset = g->opset;
    for (int i = 0; i < g->n_nodes; i++) {
        bool in_lucid = strcmp(g->nodes[i].domain, LUCID_DOMAIN) == 0;
        uses_lucid = uses_lucid || in_lucid;
        if (!in_lucid && g->opset <= 0 && g->nodes[i].opset > opset) opset = g->nodes[i].opset;
    }
    mp->opset_import = ex_alloc(ex, sizeof *mp->opset_import * 2);
    if (!mp->opset_import) goto oom;
    const char *domains[2] = {"", LUCID_DOMAIN};
    int64_t versions[2] = {opset, 1};
    for (int k = 0; k < (uses_lucid ? 2 : 1); k++) {
        Onnx__OperatorSetIdProto *o = ex_alloc(ex, sizeof *o);
        if (!o) goto oom;
        onnx__operator_set_id_proto__init(o);
        o->domain = (char *)domains[k];
        o->has_version = 1;
        o->version = versions[k];
        mp->opset_import[mp->n_opset_import++] = o;
    }

    size_t nt = (size_t)g->n_tensors + 1;
    ex->name = ex_alloc(ex, sizeof *ex->name * nt);
    if (!ex->name) goto oom;
    for (int t = 0; t < g->n_tensors; t++) ex->name[t] = g->tensors[t].name;
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        if (n->op != LUCID_OP_REORDER || n->n_inputs != 1 || n->n_outputs != 1 ||
            n->inputs[0] < 0 || n->outputs[0] < 0)
            continue;
        int a = n->inputs[0], b = n->outputs[0];
        const char *keep = g->tensors[b].is_output ? g->tensors[b].name : g->tensors[a].name;
        ex->name[a] = ex->name[b] = keep;
    }
    gp->initializer = ex_alloc(ex, sizeof *gp->initializer * nt);
    gp->input = ex_alloc(ex, sizeof *gp->input * nt);
    gp->output = ex_alloc(ex, sizeof *gp->output * nt);
    gp->value_info = ex_alloc(ex, sizeof *gp->value_info * nt);
    gp->node = ex_alloc(ex, sizeof *gp->node * ((size_t)g->n_nodes + 1));
    if (ex->oom) goto oom;
    for (int t = 0; t < g->n_tensors; t++) {
        const lucid_ir_tensor *x = &g->tensors[t];
        if (!x->is_initializer) continue;
        if (x->dtype == LUCID_DTYPE_STRING)
            return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                                "initializer '%s' holds strings, which lucid cannot export",
                                x->name);
        Onnx__TensorProto *tp =
            ex_tensor(ex, x->name, x->dtype, x->rank, x->dims, x->data, x->nbytes);
        if (!tp) goto oom;
        gp->initializer[gp->n_initializer++] = tp;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        Onnx__ValueInfoProto *vi = ex_value_info(ex, &g->tensors[g->inputs[i]]);
        if (!vi) goto oom;
        gp->input[gp->n_input++] = vi;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        Onnx__ValueInfoProto *vi = ex_value_info(ex, &g->tensors[g->outputs[i]]);
        if (!vi) goto oom;
        gp->output[gp->n_output++] = vi;
    }
    /* every intermediate tensor whose type is known, so viewers show shapes on every edge */
    for (int t = 0; t < g->n_tensors; t++) {
        const lucid_ir_tensor *x = &g->tensors[t];
        if (x->is_initializer || x->is_input || x->is_output || x->producer < 0 ||
            x->dtype == LUCID_DTYPE_UNDEFINED || strcmp(ex->name[t], x->name) != 0)
            continue;
        Onnx__ValueInfoProto *vi = ex_value_info(ex, x);
        if (!vi) goto oom;
        gp->value_info[gp->n_value_info++] = vi;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].op == LUCID_OP_REORDER) continue;
        Onnx__NodeProto *np = ex_node(ex, g, &g->nodes[i]);
        if (!np) {
            if (ex->oom) goto oom;
            return lucid_node_errorf(&g->nodes[i], err, LUCID_STATUS_UNSUPPORTED,
                                     "has an attribute of a type lucid cannot export");
        }
        gp->node[gp->n_node++] = np;
    }
    if (ex_metadata(ex, g, mp)) goto oom;
    if (ex->oom || !mp->doc_string) goto oom;
    return LUCID_STATUS_OK;
oom:
    return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory building the ONNX model");
}

lucid_status lucid_model_save_onnx(const lucid_model_t *model, const char *path, lucid_error *err)
{
    if (!model || !path)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "model_save_onnx: NULL argument");
    export_state ex;
    memset(&ex, 0, sizeof ex);
    Onnx__ModelProto mp;
    uint8_t *buf = NULL;
    FILE *f = NULL;
    lucid_status st = ex_build(&ex, model->graph, &mp, err);
    if (st) goto done;
    size_t len = onnx__model_proto__get_packed_size(&mp);
    if (len > LUCID_ONNX_MAX_FILE) {
        st = lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                          "%s: the model needs %zu bytes, more than protobuf's 2 GiB", path, len);
        goto done;
    }
    buf = malloc(len ? len : 1);
    if (!buf) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory packing the model");
        goto done;
    }
    onnx__model_proto__pack(&mp, buf);
    f = fopen(path, "wb");
    if (!f) {
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot create: %s", path,
                          strerror(errno));
        goto done;
    }
    if (fwrite(buf, 1, len, f) != len) {
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: write failed: %s", path,
                          strerror(errno));
        goto done;
    }
    int rc = fclose(f);
    f = NULL;
    if (rc != 0)
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: write failed: %s", path,
                          strerror(errno));
done:
    if (f) fclose(f);
    free(buf);
    ex_free(&ex);
    return st;
}
