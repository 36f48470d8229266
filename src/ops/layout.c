/* layout.c - Reorder (domain "lucid"): the layout conversion the builder inserts where a
 * layer's tactic reads or writes another physical layout than its neighbour's. The logical
 * shape (N, C, D1, ..., Dk) never changes; attribute `to` names the layout of the output:
 * "NHWC" stores the input's plain NCHW data channels-last (N, D1, ..., Dk, C), "NCHW" turns
 * channels-last data back into plain. */
#include <string.h>

#include "ops/layout.h"
#include "ops/op.h"

typedef struct reorder_params {
    bool to_nhwc;
} reorder_params;

static lucid_status reorder_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                  lucid_error *err)
{
    (void)g;
    reorder_params *p = params;
    const char *to;
    lucid_status st = lucid_attr_string(n, "to", "", &to, err);
    if (st) return st;
    if (strcmp(to, "NHWC") == 0)
        p->to_nhwc = true;
    else if (strcmp(to, "NCHW") == 0)
        p->to_nhwc = false;
    else
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute 'to' is '%s'; it must be NHWC or NCHW", to);
    return LUCID_STATUS_OK;
}

static lucid_status reorder_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    if (x->rank < 3 || !lucid_dtype_size(x->dtype))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input must have rank 3 or more and a fixed-size dtype");
    return lucid_op_set_output(g, n, 0, x->dtype, x->rank, x->dims, err);
}

bool lucid_reorder_to_nhwc(const lucid_node *n)
{
    return n->op == LUCID_OP_REORDER && n->params && ((const reorder_params *)n->params)->to_nhwc;
}

/* One image: src is C x S (plain) or S x C (channels last); tiles of 16 x 16 keep both sides
 * in cache lines. */
static void transpose_plane(const unsigned char *src, unsigned char *dst, int64_t rows,
                            int64_t cols, size_t es)
{
    /* src is rows x cols, dst is cols x rows */
    for (int64_t r0 = 0; r0 < rows; r0 += 16)
        for (int64_t c0 = 0; c0 < cols; c0 += 16) {
            int64_t r1 = r0 + 16 < rows ? r0 + 16 : rows, c1 = c0 + 16 < cols ? c0 + 16 : cols;
            if (es == 4) {
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t c = c0; c < c1; c++)
                        memcpy(dst + 4 * (size_t)(c * rows + r), src + 4 * (size_t)(r * cols + c),
                               4);
            } else {
                for (int64_t r = r0; r < r1; r++)
                    for (int64_t c = c0; c < c1; c++)
                        memcpy(dst + es * (size_t)(c * rows + r), src + es * (size_t)(r * cols + c),
                               es);
            }
        }
}

void lucid_reorder_image(const void *src, void *dst, int64_t channels, int64_t spatial,
                         size_t esize, bool to_nhwc)
{
    if (to_nhwc)
        transpose_plane(src, dst, channels, spatial, esize);
    else
        transpose_plane(src, dst, spatial, channels, esize);
}

static lucid_status reorder_run(const lucid_node *n, const lucid_array *in, int n_in,
                                lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)err;
    const reorder_params *p = n->params;
    const lucid_array *x = &in[0];
    size_t es = lucid_dtype_size(x->dtype);
    int64_t spatial = 1;
    for (int d = 2; d < x->rank; d++) spatial *= x->dims[d];
    size_t image = (size_t)(x->dims[1] * spatial) * es;
    for (int64_t b = 0; b < x->dims[0]; b++)
        lucid_reorder_image((const unsigned char *)x->data + b * image,
                            (unsigned char *)out[0].data + b * image, x->dims[1], spatial, es,
                            p->to_nhwc);
    return LUCID_STATUS_OK;
}

static void reorder_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    (void)g;
    (void)n;
    *macs = 0;
    *flops = 0;
}

const lucid_op_def lucid_op_def_reorder = {
    .name = "Reorder",
    .domain = LUCID_DOMAIN,
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(reorder_params),
    .parse = reorder_parse,
    .infer = reorder_infer,
    .cost = reorder_cost,
    .run = reorder_run,
};
