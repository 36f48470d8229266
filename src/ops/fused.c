/* fused.c - lucid's fused engine layers (domain "lucid"): FusedConv and FusedGemm, a Conv or
 * Gemm followed by an elementwise epilogue (residual add, activation) in one node, and
 * FusedBatchNormalization, an inference BatchNormalization that no Conv absorbed followed by
 * its activation (DenseNet's pre-activation BN + ReLU). */
#include <string.h>

#include "core/util.h"
#include "ops/activation.h"
#include "ops/conv.h"
#include "ops/gemm.h"
#include "ops/qlayers.h"

/* Params begin with the wrapped op's, so conv.c's and gemm.c's callbacks read them as
 * their own (a pointer to a struct points to its first member). */
typedef struct fused_conv_params {
    lucid_conv_params conv;
    lucid_activation act;
} fused_conv_params;

typedef struct fused_gemm_params {
    lucid_gemm_params gemm;
    lucid_activation act;
} fused_gemm_params;

/* BatchNormalization's params come first so its callbacks read them (see fused_conv_params);
 * their size is known only to norm.c, hence the reserved room. */
typedef struct fused_bn_params {
    unsigned char bn[64];
    lucid_activation act;
} fused_bn_params;

/* y = act(y + z) elementwise, in index order; z may be NULL. */
static void fused_epilogue(const lucid_activation *a, float *y, const float *z, int64_t count)
{
    if (a->kind == LUCID_ACT_NONE && !z) return;
    for (int64_t i = 0; i < count; i++) {
        float v = y[i];
        if (z) v += z[i];
        y[i] = lucid_activation_apply(a, v);
    }
}

const lucid_activation *lucid_node_activation(const lucid_node *n)
{
    static const lucid_activation none = {LUCID_ACT_NONE, 0.0f, 0.0f};
    const void *p = n->params;
    switch (n->op) {
    case LUCID_OP_FUSED_CONV: return p ? &((const fused_conv_params *)p)->act : NULL;
    case LUCID_OP_FUSED_GEMM: return p ? &((const fused_gemm_params *)p)->act : NULL;
    case LUCID_OP_FUSED_BATCH_NORM: return p ? &((const fused_bn_params *)p)->act : NULL;
    case LUCID_OP_QCONV: return p ? &((const lucid_qconv_params *)p)->act : NULL;
    case LUCID_OP_QGEMM: return p ? &((const lucid_qgemm_params *)p)->act : NULL;
    default: return &none;
    }
}

/* ---- FusedConv: y = act(conv(x, w) + b + z) --------------------------------------- */

static lucid_status fused_conv_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                     lucid_error *err)
{
    fused_conv_params *p = params;
    lucid_status st = lucid_op_def_conv.parse(g, n, &p->conv, err);
    if (!st) st = lucid_activation_parse(n, &p->act, err);
    return st;
}

static lucid_status fused_conv_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    lucid_status st = lucid_op_def_conv.infer(g, n, err);
    if (st) return st;
    const lucid_ir_tensor *z = lucid_op_input(g, n, 3), *y = lucid_op_output(g, n, 0);
    if (!z) return LUCID_STATUS_OK;
    bool same = z->dtype == y->dtype && z->rank == y->rank;
    for (int i = 0; same && i < z->rank; i++)
        same = z->dims[i] == y->dims[i];
    if (!same) {
        char sz[128], sy[128];
        return lucid_node_errorf(
            n, err, LUCID_STATUS_INVALID_MODEL,
            "residual Z '%s' is %s %s; it must be the convolution's result "
            "shape %s %s",
            z->name, lucid_dtype_name(z->dtype), lucid_shape_str(z->rank, z->dims, sz, sizeof sz),
            lucid_dtype_name(y->dtype), lucid_shape_str(y->rank, y->dims, sy, sizeof sy));
    }
    return LUCID_STATUS_OK;
}

static void fused_conv_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    const fused_conv_params *p = n->params;
    lucid_op_def_conv.cost(g, n, macs, flops);
    double count = (double)lucid_tensor_numel(lucid_op_output(g, n, 0));
    if (count < 0) return;
    *flops += count * ((lucid_op_input(g, n, 3) ? 1 : 0) + lucid_activation_flops(&p->act));
}

static lucid_status fused_conv_run(const lucid_node *n, const lucid_array *in, int n_in,
                                   lucid_array *out, int n_out, lucid_error *err)
{
    if (lucid_dtype_is_float16(in[0].dtype)) /* conv and epilogue in float32, one rounding */
        return lucid_op_run_widened(n, fused_conv_run, in, n_in, out, n_out, err);
    const fused_conv_params *p = n->params;
    lucid_status st = lucid_op_def_conv.run(n, in, n_in < 3 ? n_in : 3, out, n_out, err);
    if (st) return st;
    const lucid_array *z = n_in > 3 && in[3].data ? &in[3] : NULL;
    int64_t count = lucid_array_numel(&out[0]);
    if (z && (z->dtype != LUCID_DTYPE_FLOAT || lucid_array_numel(z) != count))
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL,
                                 "residual Z does not match the output at run time");
    fused_epilogue(&p->act, out[0].data, z ? z->data : NULL, count);
    return LUCID_STATUS_OK;
}

/* ---- FusedGemm: y = act(alpha * A' B' + beta * C) ------------------------------------ */

static lucid_status fused_gemm_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                     lucid_error *err)
{
    fused_gemm_params *p = params;
    lucid_status st = lucid_op_def_gemm.parse(g, n, &p->gemm, err);
    if (!st) st = lucid_activation_parse(n, &p->act, err);
    return st;
}

static lucid_status fused_gemm_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    /* the epilogue is float32 arithmetic, like FusedConv's (16-bit storage is widened) */
    static const lucid_dtype types[] = {LUCID_DTYPE_FLOAT, LUCID_DTYPE_FLOAT16,
                                        LUCID_DTYPE_BFLOAT16, LUCID_DTYPE_UNDEFINED};
    lucid_status st = lucid_op_check_dtype(g, n, 0, types, err);
    if (!st) st = lucid_op_def_gemm.infer(g, n, err);
    return st;
}

static void fused_gemm_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    const fused_gemm_params *p = n->params;
    lucid_op_def_gemm.cost(g, n, macs, flops);
    double count = (double)lucid_tensor_numel(lucid_op_output(g, n, 0));
    if (count > 0) *flops += count * lucid_activation_flops(&p->act);
}

static lucid_status fused_gemm_run(const lucid_node *n, const lucid_array *in, int n_in,
                                   lucid_array *out, int n_out, lucid_error *err)
{
    if (lucid_dtype_is_float16(in[0].dtype)) /* product and epilogue in float32 */
        return lucid_op_run_widened(n, fused_gemm_run, in, n_in, out, n_out, err);
    const fused_gemm_params *p = n->params;
    if (in[0].dtype != LUCID_DTYPE_FLOAT)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "dtype mismatch at run time");
    lucid_status st = lucid_op_def_gemm.run(n, in, n_in, out, n_out, err);
    if (st) return st;
    fused_epilogue(&p->act, out[0].data, NULL, lucid_array_numel(&out[0]));
    return LUCID_STATUS_OK;
}

/* ---- FusedBatchNormalization: y = act(BatchNormalization(x, scale, B, mean, var)) ----- */

static lucid_status fused_bn_parse(const lucid_graph *g, const lucid_node *n, void *params,
                                   lucid_error *err)
{
    fused_bn_params *p = params;
    if (lucid_op_def_batch_normalization.params_size > sizeof p->bn)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "BatchNormalization params grew");
    lucid_status st = lucid_op_def_batch_normalization.parse(g, n, p->bn, err);
    if (!st) st = lucid_activation_parse(n, &p->act, err);
    return st;
}

static lucid_status fused_bn_infer(lucid_graph *g, lucid_node *n, lucid_error *err)
{
    static const lucid_dtype types[] = {LUCID_DTYPE_FLOAT, LUCID_DTYPE_FLOAT16,
                                        LUCID_DTYPE_BFLOAT16, LUCID_DTYPE_UNDEFINED};
    lucid_status st = lucid_op_check_dtype(g, n, 0, types, err);
    if (!st) st = lucid_op_def_batch_normalization.infer(g, n, err);
    return st;
}

static void fused_bn_cost(const lucid_graph *g, const lucid_node *n, double *macs, double *flops)
{
    const fused_bn_params *p = n->params;
    lucid_op_def_batch_normalization.cost(g, n, macs, flops);
    double count = (double)lucid_tensor_numel(lucid_op_output(g, n, 0));
    if (count > 0) *flops += count * lucid_activation_flops(&p->act);
}

static lucid_status fused_bn_run(const lucid_node *n, const lucid_array *in, int n_in,
                                 lucid_array *out, int n_out, lucid_error *err)
{
    if (lucid_dtype_is_float16(in[0].dtype)) /* normalization and epilogue in float32 */
        return lucid_op_run_widened(n, fused_bn_run, in, n_in, out, n_out, err);
    const fused_bn_params *p = n->params;
    if (in[0].dtype != LUCID_DTYPE_FLOAT)
        return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL, "dtype mismatch at run time");
    lucid_status st = lucid_op_def_batch_normalization.run(n, in, n_in, out, n_out, err);
    if (st) return st;
    fused_epilogue(&p->act, out[0].data, NULL, lucid_array_numel(&out[0]));
    return LUCID_STATUS_OK;
}

const lucid_op_def lucid_op_def_fused_batch_norm = {
    .name = "FusedBatchNormalization",
    .domain = LUCID_DOMAIN,
    .min_inputs = 5,
    .max_inputs = 5,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(fused_bn_params),
    .parse = fused_bn_parse,
    .infer = fused_bn_infer,
    .cost = fused_bn_cost,
    .run = fused_bn_run,
};

const lucid_op_def lucid_op_def_fused_conv = {
    .name = "FusedConv",
    .domain = LUCID_DOMAIN,
    .min_inputs = 2,
    .max_inputs = 4,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(fused_conv_params),
    .parse = fused_conv_parse,
    .infer = fused_conv_infer,
    .cost = fused_conv_cost,
    .run = fused_conv_run,
};

const lucid_op_def lucid_op_def_fused_gemm = {
    .name = "FusedGemm",
    .domain = LUCID_DOMAIN,
    .min_inputs = 2,
    .max_inputs = 3,
    .min_outputs = 1,
    .max_outputs = 1,
    .params_size = sizeof(fused_gemm_params),
    .parse = fused_gemm_parse,
    .infer = fused_gemm_infer,
    .cost = fused_gemm_cost,
    .run = fused_gemm_run,
};
