/* graph.h - lucid's graph IR: tensors, nodes, attributes; building, ordering, checking. */
#ifndef LUCID_IR_GRAPH_H
#define LUCID_IR_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/strmap.h"
#include "lucid.h"

/* Attribute types; values match ONNX AttributeProto.AttributeType. */
typedef enum lucid_attr_type {
    LUCID_ATTR_UNDEFINED = 0,
    LUCID_ATTR_FLOAT = 1,
    LUCID_ATTR_INT = 2,
    LUCID_ATTR_STRING = 3,
    LUCID_ATTR_TENSOR = 4,
    LUCID_ATTR_GRAPH = 5,
    LUCID_ATTR_FLOATS = 6,
    LUCID_ATTR_INTS = 7,
    LUCID_ATTR_STRINGS = 8,
} lucid_attr_type;

typedef struct lucid_attr {
    char *name;
    lucid_attr_type type;
    int64_t i;
    float f;
    char *s;          /* STRING (NUL-terminated) */
    int64_t *ints;    /* INTS */
    float *floats;    /* FLOATS */
    char **strings;   /* STRINGS */
    size_t count;     /* elements of ints/floats/strings */
    lucid_array *t;   /* TENSOR: owns its data */
} lucid_attr;

typedef struct lucid_ir_tensor {
    char *name;
    lucid_dtype dtype;   /* UNDEFINED until inferred */
    int rank;            /* -1 until inferred */
    int64_t dims[LUCID_MAX_RANK]; /* -1 where unknown */
    char *dim_params[LUCID_MAX_RANK]; /* symbolic names of graph-input dims, or NULL */
    void *data;          /* known value (owned): an initializer or a value propagated at
                            inference from constants; NULL otherwise */
    size_t nbytes;       /* of data */
    bool is_initializer; /* data came from the model file */
    bool is_input;       /* a graph input fed by the user */
    bool is_output;      /* a graph output */
    int producer;        /* index of the producing node, -1 for inputs and initializers */
    int *consumers;      /* indices of consuming nodes (each node once) */
    int n_consumers;
    int view_of;         /* -1, or the tensor whose buffer this one lives in (a Reshape output,
                            a Concat input written straight into its slice) */
    size_t view_offset;  /* bytes into view_of's buffer */
    int layout;          /* how a plan stores it (lucid_layout: 0 plain, as ONNX orders it;
                            1 NHWC, channels last); the shape stays the logical NCHW one */
} lucid_ir_tensor;

typedef struct lucid_node {
    char *name;
    char *op_type;
    char *domain;      /* "" for the default ONNX domain */
    int op;            /* lucid_op, set by lucid_graph_resolve_ops; -1 before */
    int opset;         /* opset version of the node's domain */
    lucid_attr *attrs;
    int n_attrs;
    int *inputs;       /* tensor indices; -1 for an omitted optional input */
    int n_inputs;
    int *outputs;      /* tensor indices; -1 for an omitted optional output */
    int n_outputs;
    void *params;      /* attributes parsed by the op (owned), or NULL */
    bool dead;         /* marked for removal by a pass; lucid_graph_compact removes it */
    bool elided;       /* its outputs are views that already hold the result: not run */
    int layout;        /* in a plan: the layout (lucid_layout) its tactic reads and writes */
} lucid_node;

typedef struct lucid_graph {
    char *path;        /* model file, for messages */
    char *name;
    char *producer;
    int64_t ir_version;
    int64_t opset;     /* of the default domain */
    lucid_ir_tensor *tensors;
    int n_tensors, cap_tensors;
    lucid_node *nodes; /* in topological order once sorted */
    int n_nodes, cap_nodes;
    int *inputs;       /* graph inputs fed by the user */
    int n_inputs;
    int *outputs;
    int n_outputs;
    lucid_strmap by_name; /* tensor name -> index */
    bool shapes_known;    /* every tensor has a static shape */
    char deferred[512];   /* why the first shape left unknown is unknown ("" if none) */
} lucid_graph;

lucid_graph *lucid_graph_create(void);
void lucid_graph_destroy(lucid_graph *g);

/* Returns the index of the tensor called name, creating it if absent; -1 on OOM. */
int lucid_graph_tensor(lucid_graph *g, const char *name, lucid_error *err);
/* Index of an existing tensor, or -1. */
int lucid_graph_find(const lucid_graph *g, const char *name);
/* Appends a node with empty attributes; returns its index or -1 (err set). Strings are
 * copied. Input/output names must already be tensors (indices given). */
int lucid_graph_add_node(lucid_graph *g, const char *name, const char *op_type, const char *domain,
                         int opset, const int *inputs, int n_inputs, const int *outputs,
                         int n_outputs, lucid_error *err);
/* Adds an attribute to node n (the struct is moved in; the node owns its pointers). */
lucid_status lucid_node_add_attr(lucid_node *n, lucid_attr *attr, lucid_error *err);
void lucid_attr_free(lucid_attr *a);
/* Frees what a node / tensor owns (not the struct itself, which lives in the graph's array). */
void lucid_node_release(lucid_node *n);
void lucid_tensor_release(lucid_ir_tensor *t);

/* Makes a tensor an initializer owning data (a malloc'd block of nbytes). */
lucid_status lucid_graph_set_initializer(lucid_graph *g, int t, lucid_dtype dtype, int rank,
                                         const int64_t *dims, void *data, size_t nbytes,
                                         lucid_error *err);
lucid_status lucid_graph_add_input(lucid_graph *g, int t, lucid_error *err);
lucid_status lucid_graph_add_output(lucid_graph *g, int t, lucid_error *err);

/* Looks up every node's op definition (refusing unknown ops, domains and opsets by name)
 * and parses its attributes. */
lucid_status lucid_graph_resolve_ops(lucid_graph *g, lucid_error *err);
/* Sets producers and consumers, checks that every tensor has one producer, and sorts the
 * nodes topologically; cycles and dangling inputs are errors. */
lucid_status lucid_graph_sort(lucid_graph *g, lucid_error *err);
/* Infers dtype and shape of every tensor from the graph inputs and constants, and
 * propagates small constant values (shape arithmetic) through nodes whose inputs are all
 * known. Values propagated before are cleared first. */
lucid_status lucid_graph_infer(lucid_graph *g, lucid_error *err);
/* Checks structural invariants (names, producers, order, dtypes and ranks where known). */
lucid_status lucid_graph_validate(const lucid_graph *g, lucid_error *err);
/* resolve_ops + sort + validate + infer: what an importer calls once the graph is built. */
lucid_status lucid_graph_finalize(lucid_graph *g, lucid_error *err);

/* ---- rewriting (graph passes) ---- */

/* A deep copy (NULL on out of memory). params_size_of(op) gives each op's parsed-params
 * size; params must hold no pointers (op implementations keep them plain values). */
lucid_graph *lucid_graph_clone(const lucid_graph *src, size_t params_size_of(int op));

/* Removes dead nodes and the tensors nothing refers to any more (graph inputs and outputs
 * stay), renumbers what remains, then sorts, validates and infers again. */
lucid_status lucid_graph_compact(lucid_graph *g, lucid_error *err);
/* Adds a new initializer owning data (malloc'd, nbytes) under a fresh name derived from base
 * ("base", "base_1", ...); returns its index or -1. On failure data is freed. */
int lucid_graph_add_constant(lucid_graph *g, const char *base, lucid_dtype dtype, int rank,
                             const int64_t *dims, void *data, size_t nbytes, lucid_error *err);
/* A fresh tensor name derived from base, not used in the graph. Returns the new index. */
int lucid_graph_new_tensor(lucid_graph *g, const char *base, lucid_error *err);
/* Makes every node input reading `from` read `to` instead (graph outputs are not touched). */
void lucid_graph_replace_uses(lucid_graph *g, int from, int to);
/* The number of nodes reading t plus 1 if t is a graph output. Needs up-to-date consumers. */
int lucid_tensor_uses(const lucid_graph *g, int t);
/* The tensor whose buffer t finally lives in (following views), and t's offset in it. */
int lucid_tensor_storage(const lucid_graph *g, int t, size_t *offset);

/* An array describing tensor t (name, dtype, shape) over data; all zero when t is NULL. */
void lucid_tensor_array(const lucid_ir_tensor *t, void *data, lucid_array *out);
/* Runs node n's reference kernel on its inputs' known values and gives every output its value
 * (owned data), whatever the size. The inputs must all be known. */
lucid_status lucid_node_evaluate(lucid_graph *g, lucid_node *n, lucid_error *err);

/* Bytes of a tensor with static shape (0 if unknown); nonnegative numel or -1. */
size_t lucid_tensor_nbytes(const lucid_ir_tensor *t);
int64_t lucid_tensor_numel(const lucid_ir_tensor *t);
bool lucid_tensor_shape_known(const lucid_ir_tensor *t);

/* Formats an error about node n: "node 'conv1' (Conv, opset 13): <message>". */
lucid_status lucid_node_errorf(const lucid_node *n, lucid_error *err, lucid_status status,
                               const char *fmt, ...) LUCID_PRINTF(4, 5);

/* Attribute access with type checking; a wrong type is an INVALID_MODEL error naming the
 * node. An absent attribute gives the default (or count 0 for lists). */
const lucid_attr *lucid_node_attr(const lucid_node *n, const char *name);
lucid_status lucid_attr_int(const lucid_node *n, const char *name, int64_t def, int64_t *out,
                            lucid_error *err);
lucid_status lucid_attr_float(const lucid_node *n, const char *name, float def, float *out,
                              lucid_error *err);
lucid_status lucid_attr_string(const lucid_node *n, const char *name, const char *def,
                               const char **out, lucid_error *err);
lucid_status lucid_attr_ints(const lucid_node *n, const char *name, const int64_t **out,
                             size_t *count, lucid_error *err);
lucid_status lucid_attr_floats(const lucid_node *n, const char *name, const float **out,
                               size_t *count, lucid_error *err);
lucid_status lucid_attr_tensor(const lucid_node *n, const char *name, const lucid_array **out,
                               lucid_error *err);

#endif
