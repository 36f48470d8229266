/* layout.c - Reorder (domain "lucid"): the layout conversion the builder inserts where a
 * layer's tactic reads or writes another physical layout than its neighbour's. The logical
 * shape (N, C, D1, ..., Dk) never changes; attribute `to` names the layout of the output and
 * `from` that of the input (default: NCHW when `to` is another layout, else NHWC):
 *   "NHWC"     channels-last (N, D1, ..., Dk, C);
 *   "NCHW16C"  channel blocks of 16 (N, C/16, D1, ..., Dk, 16), C a multiple of 16;
 *   "NCHW"     plain.
 * One side is always plain. */
#include <string.h>

#include "ops/layout.h"
#include "ops/op.h"

typedef struct reorder_params {
    lucid_layout from, to;
} reorder_params;

static bool layout_by_name(const char *s, lucid_layout *out)
{
    if (strcmp(s, "NCHW") == 0)
        *out = LUCID_LAYOUT_PLAIN;
    else if (strcmp(s, "NHWC") == 0)
        *out = LUCID_LAYOUT_NHWC;
    else if (strcmp(s, "NCHW16C") == 0)
        *out = LUCID_LAYOUT_NCHW16C;
    else
        return false;
    return true;
}

const char *lucid_layout_attr_name(lucid_layout l)
{
    return l == LUCID_LAYOUT_NHWC ? "NHWC" : l == LUCID_LAYOUT_NCHW16C ? "NCHW16C" : "NCHW";
}

bool lucid_layout_blockable(const lucid_ir_tensor *t)
{
    return t && t->rank == 4 && t->dtype == LUCID_DTYPE_FLOAT && lucid_tensor_shape_known(t) &&
           t->dims[1] > 0 && t->dims[1] % 16 == 0;
}

lucid_layout lucid_layout_of_tensor(const lucid_ir_tensor *t, lucid_layout node_layout)
{
    if (!t || t->data || t->rank < 3) return LUCID_LAYOUT_PLAIN;
    /* one value per image and channel ([N,C,1,1], a pooled vector, a squeeze-excite scale):
     * the same bytes in every layout, so it is plain and never reordered */
    int64_t spatial = 1;
    for (int d = 2; d < t->rank; d++) spatial *= t->dims[d];
    if (spatial == 1 && lucid_tensor_shape_known(t)) return LUCID_LAYOUT_PLAIN;
    if (node_layout == LUCID_LAYOUT_NCHW16C)
        return lucid_layout_blockable(t) ? LUCID_LAYOUT_NCHW16C : LUCID_LAYOUT_PLAIN;
    return node_layout;
}

static lucid_status reorder_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                  lucid_error *err)
{
    (void)g;
    reorder_params *p = params;
    const char *to, *from;
    lucid_status st = lucid_attr_string(n, "to", "", &to, err);
    if (st) return st;
    if (!layout_by_name(to, &p->to))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute 'to' is '%s'; it must be NHWC, NCHW16C or NCHW", to);
    st = lucid_attr_string(n, "from", p->to == LUCID_LAYOUT_PLAIN ? "NHWC" : "NCHW", &from, err);
    if (st) return st;
    if (!layout_by_name(from, &p->from))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "attribute 'from' is '%s'; it must be NHWC, NCHW16C or NCHW",
                                 from);
    if ((p->from == LUCID_LAYOUT_PLAIN) == (p->to == LUCID_LAYOUT_PLAIN))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "converts %s to %s; one side must be NCHW", from, to);
    return LUCID_STATUS_OK;
}

static lucid_status reorder_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0);
    if (x->rank < 3 || !lucid_dtype_size(x->dtype))
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "input must have rank 3 or more and a fixed-size dtype");
    const reorder_params *p = n->params;
    if (p && (p->from == LUCID_LAYOUT_NCHW16C || p->to == LUCID_LAYOUT_NCHW16C) &&
        lucid_tensor_shape_known(x) && x->dims[1] % 16 != 0)
        return lucid_node_errorf(n, err, LUCID_STATUS_INVALID_MODEL,
                                 "NCHW16C needs a channel count that is a multiple of 16, not "
                                 "%lld",
                                 (long long)x->dims[1]);
    return lucid_op_set_output(g, n, 0, x->dtype, x->rank, x->dims, err);
}

bool lucid_reorder_to_nhwc(const lucid_node *n)
{
    return n->op == LUCID_OP_REORDER && n->params &&
           ((const reorder_params *)n->params)->to == LUCID_LAYOUT_NHWC;
}

void lucid_reorder_layouts(const lucid_node *n, lucid_layout *from, lucid_layout *to)
{
    const reorder_params *p = n->op == LUCID_OP_REORDER ? n->params : NULL;
    *from = p ? p->from : LUCID_LAYOUT_PLAIN;
    *to = p ? p->to : LUCID_LAYOUT_PLAIN;
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

bool lucid_layout_as_images(lucid_layout l, int64_t *batch, int64_t *channels)
{
    if (l != LUCID_LAYOUT_NCHW16C) return true;
    if (*channels % 16) return false;
    *batch *= *channels / 16;
    *channels = 16;
    return true;
}

void lucid_layout_convert(const void *src, void *dst, int64_t batch, int64_t channels,
                          int64_t spatial, size_t esize, lucid_layout from, lucid_layout to)
{
    const bool to_other = from == LUCID_LAYOUT_PLAIN;
    const lucid_layout other = to_other ? to : from;
    if (other == LUCID_LAYOUT_PLAIN) {
        memcpy(dst, src, (size_t)(batch * channels * spatial) * esize);
        return;
    }
    lucid_layout_as_images(other, &batch, &channels);
    size_t image = (size_t)(channels * spatial) * esize;
    for (int64_t b = 0; b < batch; b++)
        lucid_reorder_image((const unsigned char *)src + b * image,
                            (unsigned char *)dst + b * image, channels, spatial, esize, to_other);
}

static lucid_status reorder_run(const lucid_node *n, const lucid_array *in, int n_in,
                                lucid_array *out, int n_out, lucid_error *err)
{
    (void)n_in;
    (void)n_out;
    (void)err;
    const reorder_params *p = n->params;
    const lucid_array *x = &in[0];
    int64_t spatial = 1;
    for (int d = 2; d < x->rank; d++) spatial *= x->dims[d];
    lucid_layout_convert(x->data, out[0].data, x->dims[0], x->dims[1], spatial,
                         lucid_dtype_size(x->dtype), p->from, p->to);
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
