/* import.c - ONNX ModelProto to lucid graph: opsets, initializers, inputs, nodes, outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ir/model.h"
#include "onnx/onnx_internal.h"
#include "ops/op.h"

typedef struct import_state {
    const Onnx__ModelProto *mp;
    lucid_graph *g;
    char base_dir[4096];
    int64_t default_opset;
} import_state;

/* A model loaded from memory has no folder, so a tensor naming an external data file is
 * refused rather than read from the process's working directory. */
static lucid_status decode_tensor(const import_state *s, const Onnx__TensorProto *tp,
                                  lucid_array *out, lucid_error *err)
{
    if (!s->base_dir[0] && tp->has_data_location &&
        tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "tensor '%s' has external data, which a model loaded from memory "
                            "cannot have",
                            tp->name ? tp->name : "");
    return lucid_onnx_decode_tensor(tp, s->base_dir, out, err);
}

static int64_t domain_opset(const Onnx__ModelProto *mp, const char *domain, bool *found)
{
    bool is_default = !domain[0] || strcmp(domain, "ai.onnx") == 0;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        const char *d = o->domain ? o->domain : "";
        bool d_default = !d[0] || strcmp(d, "ai.onnx") == 0;
        if ((is_default && d_default) || (!is_default && strcmp(d, domain) == 0)) {
            *found = true;
            return o->has_version ? o->version : 0;
        }
    }
    *found = false;
    return 0;
}

static lucid_status import_type(lucid_graph *g, int t, const Onnx__ValueInfoProto *vi,
                                const char *what, lucid_error *err)
{
    lucid_ir_tensor *x = &g->tensors[t];
    const Onnx__TypeProto *tp = vi->type;
    if (!tp)
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "graph %s '%s' has no type", what,
                            x->name);
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "graph %s '%s' is not a tensor (sequences, maps, optionals and "
                            "sparse tensors are not supported)",
                            what, x->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    lucid_dtype dtype;
    if (!tt->has_elem_type || lucid_onnx_dtype(tt->elem_type, &dtype))
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "graph %s '%s' has element type %s, which is not supported", what,
                            x->name, lucid_onnx_dtype_name(tt->has_elem_type ? tt->elem_type : 0));
    x->dtype = dtype;
    if (!tt->shape) {
        x->rank = -1;
        return LUCID_STATUS_OK;
    }
    if (tt->shape->n_dim > LUCID_MAX_RANK)
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                            "graph %s '%s' has rank %zu (at most %d supported)", what, x->name,
                            tt->shape->n_dim, LUCID_MAX_RANK);
    x->rank = (int)tt->shape->n_dim;
    for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        x->dims[i] = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            /* tf2onnx and paddle2onnx write -1 for a dimension fixed only at run time: it is
             * unknown, as an unnamed dim_param is, until the caller gives the shape */
            if (d->dim_value == -1) continue;
            if (d->dim_value < 0)
                return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                    "graph %s '%s' has negative dimension %lld", what, x->name,
                                    (long long)d->dim_value);
            x->dims[i] = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                   d->dim_param) {
            free(x->dim_params[i]);
            x->dim_params[i] = lucid_strdup(d->dim_param);
            if (!x->dim_params[i])
                return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        }
    }
    if (lucid_shape_numel(x->rank, x->dims) == -2)
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                            "graph %s '%s' has more than %lld elements", what, x->name,
                            (long long)LUCID_MAX_ELEMENTS);
    return LUCID_STATUS_OK;
}

static lucid_status import_attr(import_state *s, lucid_node *n, const Onnx__AttributeProto *ap,
                                lucid_error *err)
{
    lucid_attr a;
    memset(&a, 0, sizeof a);
    if (!ap->name || !ap->name[0])
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL, "an attribute has no name");
    if (ap->ref_attr_name && ap->ref_attr_name[0])
        return lucid_node_errorf(n, err, LUCID_STATUS_UNSUPPORTED,
                                 "attribute '%s' refers to a function attribute, which is not "
                                 "supported",
                                 ap->name);
    a.name = lucid_strdup(ap->name);
    if (!a.name) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    /* IR version 1 files may omit the type: infer it from the field that is set */
    int type = ap->has_type ? (int)ap->type : 0;
    if (!type) {
        if (ap->n_ints) type = LUCID_ATTR_INTS;
        else if (ap->n_floats) type = LUCID_ATTR_FLOATS;
        else if (ap->n_strings) type = LUCID_ATTR_STRINGS;
        else if (ap->t) type = LUCID_ATTR_TENSOR;
        else if (ap->has_s) type = LUCID_ATTR_STRING;
        else if (ap->has_f) type = LUCID_ATTR_FLOAT;
        else if (ap->has_i) type = LUCID_ATTR_INT;
    }
    lucid_status st = LUCID_STATUS_OK;
    switch (type) {
    case LUCID_ATTR_FLOAT: a.f = ap->f; break;
    case LUCID_ATTR_INT: a.i = ap->i; break;
    case LUCID_ATTR_STRING:
        a.s = malloc(ap->s.len + 1);
        if (!a.s) goto oom;
        if (ap->s.len) memcpy(a.s, ap->s.data, ap->s.len);
        a.s[ap->s.len] = '\0';
        break;
    case LUCID_ATTR_INTS:
        a.count = ap->n_ints;
        a.ints = malloc(sizeof(int64_t) * (a.count ? a.count : 1));
        if (!a.ints) goto oom;
        if (a.count) memcpy(a.ints, ap->ints, sizeof(int64_t) * a.count);
        break;
    case LUCID_ATTR_FLOATS:
        a.count = ap->n_floats;
        a.floats = malloc(sizeof(float) * (a.count ? a.count : 1));
        if (!a.floats) goto oom;
        if (a.count) memcpy(a.floats, ap->floats, sizeof(float) * a.count);
        break;
    case LUCID_ATTR_STRINGS:
        a.strings = calloc(ap->n_strings ? ap->n_strings : 1, sizeof(char *));
        if (!a.strings) goto oom;
        a.count = ap->n_strings;
        for (size_t i = 0; i < ap->n_strings; i++) {
            a.strings[i] = malloc(ap->strings[i].len + 1);
            if (!a.strings[i]) goto oom;
            if (ap->strings[i].len) memcpy(a.strings[i], ap->strings[i].data, ap->strings[i].len);
            a.strings[i][ap->strings[i].len] = '\0';
        }
        break;
    case LUCID_ATTR_TENSOR:
        if (!ap->t) {
            st = lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                   "attribute '%s' is a TENSOR without a tensor", ap->name);
            goto fail;
        }
        a.t = calloc(1, sizeof *a.t);
        if (!a.t) goto oom;
        st = decode_tensor(s, ap->t, a.t, err);
        if (st) {
            lucid_error_prefix(err, "node '%s' (%s, opset %d): attribute '%s': ", n->name,
                               n->op_type, n->opset, ap->name);
            goto fail;
        }
        break;
    default:
        /* graphs, sparse tensors and type protos are kept as typed but empty attributes: the
         * ops lucid supports take none of them, so a node using one is refused by its op */
        break;
    }
    a.type = (lucid_attr_type)type;
    st = lucid_node_add_attr(n, &a, err);
    if (st) goto fail;
    return LUCID_STATUS_OK;
oom:
    st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
fail:
    lucid_attr_free(&a);
    return st;
}

static lucid_status import_node(import_state *s, size_t index, const Onnx__NodeProto *np,
                                lucid_error *err)
{
    lucid_graph *g = s->g;
    const char *op_type = np->op_type ? np->op_type : "";
    const char *domain = np->domain ? np->domain : "";
    if (!op_type[0])
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "node %zu ('%s') has no op_type",
                            index, np->name ? np->name : "");
    char gen_name[300];
    const char *name = np->name;
    if (!name || !name[0]) {
        /* unnamed nodes get "<op>_<index>", the way engine layers are usually labelled */
        snprintf(gen_name, sizeof gen_name, "%s_%zu", op_type, index);
        name = gen_name;
    }
    if (np->n_input > 1024 || np->n_output > 1024)
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                            "node '%s' has %zu inputs and %zu outputs (at most 1024 each)", name,
                            np->n_input, np->n_output);
    int ins[1024], outs[1024];
    for (size_t k = 0; k < np->n_input; k++) {
        const char *tn = np->input[k] ? np->input[k] : "";
        ins[k] = tn[0] ? lucid_graph_tensor(g, tn, err) : -1;
        if (tn[0] && ins[k] < 0) return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    }
    for (size_t k = 0; k < np->n_output; k++) {
        const char *tn = np->output[k] ? np->output[k] : "";
        outs[k] = tn[0] ? lucid_graph_tensor(g, tn, err) : -1;
        if (tn[0] && outs[k] < 0) return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    }
    bool found;
    int64_t opset = domain_opset(s->mp, domain, &found);
    if (!found) {
        if (domain[0] && strcmp(domain, "ai.onnx") != 0 && strcmp(domain, LUCID_DOMAIN) != 0)
            return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                                "node '%s' (%s.%s): op domain '%s' is not supported (only the "
                                "default ONNX domain and lucid's own are)",
                                name, domain, op_type, domain);
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "node '%s' (%s): the model imports no opset for its domain", name,
                            op_type);
    }
    if (opset > 100000) opset = 100000; /* keeps the int conversion defined; refused later */
    int idx = lucid_graph_add_node(g, name, op_type, domain, (int)opset, ins, (int)np->n_input,
                                   outs, (int)np->n_output, err);
    if (idx < 0) return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
    for (size_t k = 0; k < np->n_attribute; k++) {
        lucid_status st = import_attr(s, &g->nodes[idx], np->attribute[k], err);
        if (st) return st;
    }
    return LUCID_STATUS_OK;
}

static lucid_status import_graph(import_state *s, lucid_error *err)
{
    const Onnx__GraphProto *gp = s->mp->graph;
    lucid_graph *g = s->g;
    lucid_status st;
    if (!gp) return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "the model has no graph");
    bool found;
    /* a model of other domains only may import none; its nodes are refused by domain */
    s->default_opset = domain_opset(s->mp, "", &found);
    g->opset = s->default_opset;
    g->ir_version = s->mp->has_ir_version ? s->mp->ir_version : 0;
    free(g->name);
    g->name = lucid_strdup(gp->name ? gp->name : "");
    char producer[512];
    snprintf(producer, sizeof producer, "%s%s%s", s->mp->producer_name ? s->mp->producer_name : "",
             s->mp->producer_version && s->mp->producer_version[0] ? " " : "",
             s->mp->producer_version ? s->mp->producer_version : "");
    free(g->producer);
    g->producer = lucid_strdup(producer);
    if (!g->name || !g->producer) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "oom");

    if (gp->n_sparse_initializer)
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "sparse initializers are not supported");
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0])
            return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "initializer %zu has no name", i);
        int t = lucid_graph_tensor(g, tp->name, err);
        if (t < 0) return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
        lucid_array a;
        st = decode_tensor(s, tp, &a, err);
        if (st) return st;
        st = lucid_graph_set_initializer(g, t, a.dtype, a.rank, a.dims, a.data, a.nbytes, err);
        if (st) {
            free(a.data);
            return st;
        }
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || !vi->name[0])
            return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "graph input %zu has no name", i);
        int t = lucid_graph_tensor(g, vi->name, err);
        if (t < 0) return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
        if (g->tensors[t].is_initializer) continue; /* IR < 4: a constant with a default */
        if (g->tensors[t].is_input)
            return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "graph input '%s' is listed twice",
                                vi->name);
        st = import_type(g, t, vi, "input", err);
        if (st) return st;
        st = lucid_graph_add_input(g, t, err);
        if (st) return st;
    }
    for (size_t i = 0; i < gp->n_node; i++) {
        st = import_node(s, i, gp->node[i], err);
        if (st) return st;
    }
    if (gp->n_output == 0)
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "the graph has no outputs");
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        if (!vi->name || !vi->name[0])
            return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "graph output %zu has no name",
                                i);
        int t = lucid_graph_find(g, vi->name);
        if (t < 0)
            return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                "graph output '%s' is not produced by any node", vi->name);
        st = lucid_graph_add_output(g, t, err);
        if (st) return st;
    }
    st = lucid_graph_finalize(g, err);
    if (st) return st;

    /* declared output types must agree with what the graph computes */
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        const lucid_ir_tensor *x = &g->tensors[lucid_graph_find(g, vi->name)];
        if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
            !vi->type->tensor_type || !vi->type->tensor_type->has_elem_type)
            continue;
        int32_t declared = vi->type->tensor_type->elem_type;
        if (x->dtype != LUCID_DTYPE_UNDEFINED && declared != 0 && declared != (int32_t)x->dtype)
            return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                "graph output '%s' is declared %s but the graph computes %s",
                                vi->name, lucid_onnx_dtype_name(declared),
                                lucid_dtype_name(x->dtype));
        const Onnx__TensorShapeProto *sh = vi->type->tensor_type->shape;
        if (sh && x->rank >= 0 && (int)sh->n_dim != x->rank)
            return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                "graph output '%s' is declared with rank %zu but the graph "
                                "computes rank %d",
                                vi->name, sh->n_dim, x->rank);
    }
    return LUCID_STATUS_OK;
}

/* protobuf-c's decoder allocates through these, so that a failed allocation is told apart
 * from a malformed file (protobuf-c returns NULL for both) and the decoder's allocations are
 * lucid's own (an allocation-failure test reaches them) */
static void *pb_alloc(void *data, size_t size)
{
    void *p = malloc(size);
    if (!p) *(bool *)data = true;
    return p;
}
static void pb_free(void *data, void *p)
{
    (void)data;
    free(p);
}

/* Decodes and imports one serialized ModelProto. name prefixes messages; base_dir is where
 * external data files are looked up, or "" when the bytes have no folder (external data is
 * then refused). */
static lucid_status load_buffer(const uint8_t *buf, size_t len, const char *name,
                                const char *base_dir, lucid_model_t **out, lucid_error *err)
{
    bool pb_oom = false;
    ProtobufCAllocator pb = {.alloc = pb_alloc, .free = pb_free, .allocator_data = &pb_oom};
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&pb, len, buf);
    if (!mp && pb_oom)
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY,
                            "%s: out of memory decoding the model", name);
    if (!mp)
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "%s: not a valid ONNX model (protobuf decoding failed: truncated or "
                            "not a model file)",
                            name);
    import_state s;
    memset(&s, 0, sizeof s);
    s.mp = mp;
    snprintf(s.base_dir, sizeof s.base_dir, "%s", base_dir);
    lucid_status st;
    s.g = lucid_graph_create();
    if (!s.g) {
        onnx__model_proto__free_unpacked(mp, &pb);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    free(s.g->path);
    s.g->path = lucid_strdup(name);
    st = s.g->path ? import_graph(&s, err)
                   : lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    onnx__model_proto__free_unpacked(mp, &pb);
    if (!st) st = lucid_model_wrap(s.g, out, err);
    if (st) {
        lucid_graph_destroy(s.g);
        lucid_error_prefix(err, "%s: ", name);
    }
    return st;
}

lucid_status lucid_model_load(const char *path, lucid_model_t **out, lucid_error *err)
{
    if (out) *out = NULL;
    if (!path || !out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "model_load: NULL argument");
    uint8_t *buf = NULL;
    size_t len = 0;
    lucid_status st = lucid_onnx_read_file(path, LUCID_ONNX_MAX_FILE, &buf, &len, err);
    if (st) return st;
    char base_dir[4096];
    lucid_onnx_dirname(path, base_dir, sizeof base_dir);
    st = load_buffer(buf, len, path, base_dir, out, err);
    free(buf);
    return st;
}

lucid_status lucid_model_load_memory(const void *data, size_t size, const char *name,
                                     lucid_model_t **out, lucid_error *err)
{
    if (out) *out = NULL;
    if ((!data && size) || !out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "model_load_memory: NULL argument");
    if (size > LUCID_ONNX_MAX_FILE)
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                            "%s: is %zu bytes; at most %zu are accepted", name ? name : "<memory>",
                            size, (size_t)LUCID_ONNX_MAX_FILE);
    /* protobuf-c reads nothing from a zero-length buffer, but wants a valid pointer */
    static const uint8_t empty[1] = {0};
    return load_buffer(size ? data : empty, size, name && name[0] ? name : "<memory>", "", out,
                       err);
}
