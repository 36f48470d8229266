/* layout.c - how a GPU plan stores its 4-D float activations: channels-last (NHWC) or plain
 * NCHW, one choice for the whole plan, made on the optimized graph before any tactic is timed.
 *
 * cuDNN's fast tensor-core convolutions in fp16 and bf16 read and write NHWC; given NCHW they
 * transpose inside. So fp16 and bf16 plans store every 4-D float tensor NHWC (constants
 * included, converted at upload), every tactic reads and writes it so, and only the engine
 * boundary converts (the kernel that turns float32 inputs into 16 bits writes NHWC, the one
 * that turns outputs back reads it). A 4-D tensor whose C is 1 or whose H * W is 1 has the
 * same bytes in both layouts.
 *
 * One plan-wide layout needs no reorder layers and no search, so it is the same in a
 * --deterministic build. The price: every layer must run channels-last, or the whole plan
 * stays NCHW; and the optimizer's views that assume NCHW bytes - a Reshape between a 4-D
 * tensor and another rank, a Concat, Split or Slice along channels - are not views of NHWC
 * bytes, so those layers run again as copies (each named in the plan's layout reason). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_common.h"
#include "ops/op.h"
#include "plan/plan.h"

/* a 4-D float (or int8 / uint8) tensor whose NCHW and NHWC bytes differ */
static bool differs(const lucid_ir_tensor *t)
{
    return t && t->rank == 4 &&
           (t->dtype == LUCID_DTYPE_FLOAT || t->dtype == LUCID_DTYPE_INT8 ||
            t->dtype == LUCID_DTYPE_UINT8) &&
           t->dims[1] != 1 && t->dims[2] * t->dims[3] != 1;
}

static bool same_dims(const lucid_ir_tensor *a, const lucid_ir_tensor *b)
{
    if (a->rank != b->rank) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return false;
    return true;
}

/* Is view v (of tensor view_of, at view_offset) still a view when 4-D tensors are NHWC? */
static bool view_holds(const lucid_graph *g, int v)
{
    const lucid_ir_tensor *x = &g->tensors[v], *r = &g->tensors[x->view_of];
    if (!differs(x) && !differs(r)) return true; /* both keep ONNX's element order */
    return x->view_offset == 0 && same_dims(x, r);
}

/* The elided node that made view v: its producer (Reshape, Flatten, Squeeze, Unsqueeze,
 * Identity, Split, Slice) or the Concat it is an input of (concat elision); -1 if none. */
static int view_maker(const lucid_graph *g, int v)
{
    int p = g->tensors[v].producer;
    if (p >= 0 && g->nodes[p].elided) return p;
    int c = g->tensors[g->tensors[v].view_of].producer;
    if (c >= 0 && g->nodes[c].elided && g->nodes[c].op == LUCID_OP_CONCAT) return c;
    return -1;
}

/* the node runs again: its views become tensors of their own */
static void unelide(lucid_graph *g, int i)
{
    lucid_node *n = &g->nodes[i];
    n->elided = false;
    if (n->op == LUCID_OP_CONCAT) {
        int y = n->outputs[0];
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t >= 0 && g->tensors[t].view_of == y) {
                g->tensors[t].view_of = -1;
                g->tensors[t].view_offset = 0;
            }
        }
        return;
    }
    for (int k = 0; k < n->n_outputs; k++) {
        int t = n->outputs[k];
        if (t >= 0 && g->tensors[t].view_of == n->inputs[0]) {
            g->tensors[t].view_of = -1;
            g->tensors[t].view_offset = 0;
        }
    }
}

static bool is_unary(int op)
{
    switch (op) {
    case LUCID_OP_RELU: case LUCID_OP_SIGMOID: case LUCID_OP_TANH: case LUCID_OP_HARD_SWISH:
    case LUCID_OP_SOFTPLUS: case LUCID_OP_EXP: case LUCID_OP_NEG: case LUCID_OP_ABS:
    case LUCID_OP_SQRT: case LUCID_OP_ERF: case LUCID_OP_LOG: case LUCID_OP_RECIPROCAL:
    case LUCID_OP_FLOOR: case LUCID_OP_CEIL: case LUCID_OP_LEAKY_RELU: case LUCID_OP_ELU:
    case LUCID_OP_SELU: case LUCID_OP_HARD_SIGMOID: case LUCID_OP_CLIP: return true;
    default: return false;
    }
}

static bool is_binary(int op)
{
    switch (op) {
    case LUCID_OP_ADD: case LUCID_OP_SUM: case LUCID_OP_SUB: case LUCID_OP_MUL:
    case LUCID_OP_DIV: case LUCID_OP_POW: case LUCID_OP_MAX: case LUCID_OP_MIN: return true;
    default: return false;
    }
}

/* Can node n run channels-last (its tactics read and write NHWC where a tensor differs)? */
static bool node_ok(const lucid_graph *g, const lucid_node *n, char *why, size_t len)
{
    bool touches = false;
    for (int k = 0; k < n->n_inputs; k++) touches |= differs(lucid_op_input(g, n, k));
    for (int k = 0; k < n->n_outputs; k++) touches |= differs(lucid_op_output(g, n, k));
    if (!touches) return true;
    const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
    if (n->op == LUCID_OP_CONV || n->op == LUCID_OP_FUSED_CONV ||
        n->op == LUCID_OP_BATCH_NORMALIZATION || n->op == LUCID_OP_FUSED_BATCH_NORM ||
        is_unary(n->op) || n->op == LUCID_OP_MAX_POOL || n->op == LUCID_OP_AVERAGE_POOL ||
        n->op == LUCID_OP_GLOBAL_AVERAGE_POOL || n->op == LUCID_OP_GLOBAL_MAX_POOL ||
        n->op == LUCID_OP_REDUCE_MEAN || n->op == LUCID_OP_TRANSPOSE || n->op == LUCID_OP_SLICE ||
        n->op == LUCID_OP_CONCAT || n->op == LUCID_OP_SPLIT || n->op == LUCID_OP_EXPAND ||
        n->op == LUCID_OP_PAD || n->op == LUCID_OP_RESIZE || n->op == LUCID_OP_UPSAMPLE ||
        n->op == LUCID_OP_QCONV || n->op == LUCID_OP_QUANTIZE_LINEAR ||
        n->op == LUCID_OP_DEQUANTIZE_LINEAR)
        return true;
    if (is_binary(n->op)) {
        for (int k = 0; k < n->n_inputs; k++) {
            const lucid_ir_tensor *t = lucid_op_input(g, n, k);
            if (t && t->rank > 4) {
                snprintf(why, len, "layer '%s' (%s) broadcasts a 4-D tensor to a higher rank",
                         n->name, n->op_type);
                return false;
            }
        }
        return true;
    }
    if (n->op == LUCID_OP_RESHAPE || n->op == LUCID_OP_FLATTEN || n->op == LUCID_OP_SQUEEZE ||
        n->op == LUCID_OP_UNSQUEEZE || n->op == LUCID_OP_IDENTITY || n->op == LUCID_OP_DROPOUT) {
        if (x && y && differs(x) && differs(y) && !same_dims(x, y)) {
            snprintf(why, len, "layer '%s' (%s) reshapes one 4-D shape into another", n->name,
                     n->op_type);
            return false;
        }
        return true;
    }
    snprintf(why, len, "layer '%s' (%s) has no channels-last kernel", n->name, n->op_type);
    return false;
}

lucid_status lucid_cuda_plan_layout(void *devp, lucid_graph *g, lucid_precision precision,
                                    int request, bool *nhwc, char *why, size_t why_len,
                                    lucid_error *err)
{
    lucid_cuda_dev *dev = devp;
    *nhwc = false;
    dev->nhwc = false;
    if (request == LUCID_GPU_LAYOUT_NCHW) {
        snprintf(why, why_len, "requested");
        return LUCID_STATUS_OK;
    }
    if (request == LUCID_GPU_LAYOUT_AUTO && precision != LUCID_PRECISION_FP16 &&
        precision != LUCID_PRECISION_BF16 && precision != LUCID_PRECISION_INT8) {
        snprintf(why, why_len, "%s plan (channels-last is chosen for fp16, bf16 and int8)",
                 lucid_precision_name(precision));
        return LUCID_STATUS_OK;
    }
    /* the views channels-last storage breaks, and whether every layer (those views' makers
     * included) can run so */
    int *make = calloc((size_t)g->n_nodes + 1, sizeof *make);
    if (!make) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    bool ok = true, any = false;
    char reason[200] = "";
    for (int t = 0; t < g->n_tensors && ok; t++) {
        any |= differs(&g->tensors[t]) && !g->tensors[t].data;
        if (g->tensors[t].view_of < 0 || view_holds(g, t)) continue;
        int m = view_maker(g, t);
        if (m < 0) {
            snprintf(reason, sizeof reason, "tensor '%s' is a view channels-last cannot hold",
                     g->tensors[t].name);
            ok = false;
        } else {
            make[m] = 1;
        }
    }
    int n_copies = 0, n_convs = 0;
    for (int i = 0; i < g->n_nodes && ok; i++) {
        const lucid_node *n = &g->nodes[i];
        if (n->dead || !(make[i] || lucid_plan_node_runs(g, i))) continue;
        ok = node_ok(g, n, reason, sizeof reason);
        n_copies += make[i];
        n_convs +=
            n->op == LUCID_OP_CONV || n->op == LUCID_OP_FUSED_CONV || n->op == LUCID_OP_QCONV;
    }
    if (ok && !any) {
        ok = false;
        snprintf(reason, sizeof reason, "no 4-D activation whose bytes differ between layouts");
    }
    /* a network that moves channels around more than it convolves (ShuffleNet's channel
     * split, concat and shuffle: free views in NCHW) would pay more in copies than its
     * convolutions gain: auto keeps NCHW when copies exceed half the convolutions */
    if (ok && request == LUCID_GPU_LAYOUT_AUTO && 2 * n_copies > n_convs) {
        ok = false;
        snprintf(reason, sizeof reason,
                 "channels-last would run %d elided layers again as copies, against %d "
                 "convolutions",
                 n_copies, n_convs);
    }
    lucid_status st = LUCID_STATUS_OK;
    if (!ok) {
        if (request == LUCID_GPU_LAYOUT_NHWC)
            st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                              "GPU layout NHWC requested, but %s", reason);
        else
            snprintf(why, why_len, "%s", reason);
    } else {
        for (int i = 0; i < g->n_nodes; i++)
            if (make[i]) unelide(g, i);
        *nhwc = dev->nhwc = true;
        snprintf(why, why_len, "%s%s plan, every layer runs channels-last", 
                 request == LUCID_GPU_LAYOUT_NHWC ? "requested; " : "",
                 lucid_precision_name(precision));
        size_t l = strlen(why);
        if (n_copies && l < why_len)
            snprintf(why + l, why_len - l, " (%d elided layer%s run%s again as NHWC copies)",
                     n_copies, n_copies == 1 ? "" : "s", n_copies == 1 ? "s" : "");
    }
    free(make);
    return st;
}
