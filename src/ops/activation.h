/* activation.h - the activation of lucid's fused layers (FusedConv, FusedGemm,
 * FusedBatchNormalization, QConv, QGemm): one list of the activations, each with its name,
 * ONNX defaults, cost and reference expression; the typed descriptor the fused ops parse once
 * from their attributes and keep on the node, which every CPU and CUDA tactic reads.
 *
 * A layer names its activation as the ONNX op it replaces: attribute `activation` ("" for
 * none; "SiLU" is x * Sigmoid(x)), with `activation_alpha` / `activation_beta` for the op's
 * parameters (LeakyRelu alpha; HardSigmoid alpha, beta; Clip min, max) and, for Gelu,
 * `activation_approximate` ("none" or "tanh", as Gelu's attribute `approximate`).
 *
 * Adding an activation: one line in LUCID_ACT_LIST, its vectorizable form in
 * cpu/epilogue.h (lucid_act_row) and its device form in cuda/kernels.cu (act). */
#ifndef LUCID_OPS_ACTIVATION_H
#define LUCID_OPS_ACTIVATION_H

#include <math.h>
#include <stdbool.h>

#include "lucid.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lucid_graph;
struct lucid_node;

/* Helpers of the reference expressions below. Sigmoid branches on the sign so that exp never
 * overflows; Clip lets NaN through, as the Clip op does. */
static inline float lucid_act_ref_sigmoid(float v)
{
    return v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));
}

static inline float lucid_act_ref_clip(float v, float lo, float hi)
{
    const float t = v < lo ? lo : v;
    return t > hi ? hi : t;
}

/* X(ENUM, name, approximate, parameters, default alpha, default beta, flops per element,
 * reference): approximate is the value of activation_approximate that selects the row (0:
 * the attribute does not apply); parameters is how many of alpha, beta the activation reads;
 * the reference is the value of v with parameters alpha and beta, in the expressions (and
 * float rounding) of the reference kernels of the ops the activation replaces, so that fusing
 * changes no result. Flops match those ops' cost callbacks. */
#define LUCID_ACT_LIST(X)                                                                      \
    X(NONE, "", 0, 0, 0.0f, 0.0f, 0, v)                                                        \
    X(RELU, "Relu", 0, 0, 0.0f, 0.0f, 1, v < 0 ? 0.0f : v)                                     \
    X(CLIP, "Clip", 0, 2, -INFINITY, INFINITY, 1, lucid_act_ref_clip(v, alpha, beta))          \
    X(LEAKY_RELU, "LeakyRelu", 0, 1, 0.01f, 0.0f, 1, v < 0 ? alpha * v : v)                    \
    X(SIGMOID, "Sigmoid", 0, 0, 0.0f, 0.0f, 4, lucid_act_ref_sigmoid(v))                       \
    X(HARD_SIGMOID, "HardSigmoid", 0, 2, 0.2f, 0.5f, 3,                                        \
      fmaxf(0.0f, fminf(1.0f, alpha * v + beta)))                                              \
    X(HARD_SWISH, "HardSwish", 0, 0, 0.0f, 0.0f, 3,                                            \
      v * fmaxf(0.0f, fminf(1.0f, v * (1.0f / 6.0f) + 0.5f)))                                  \
    X(SILU, "SiLU", 0, 0, 0.0f, 0.0f, 5, v * lucid_act_ref_sigmoid(v))                         \
    X(TANH, "Tanh", 0, 0, 0.0f, 0.0f, 4, tanhf(v))                                            \
    X(GELU, "Gelu", "none", 0, 0.0f, 0.0f, 8, 0.5f * v * (1.0f + erff(v * 0.70710678f)))       \
    X(GELU_TANH, "Gelu", "tanh", 0, 0.0f, 0.0f, 11,                                            \
      0.5f * v * (1.0f + tanhf(0.79788456f * (v + 0.044715f * v * v * v))))

typedef enum lucid_act {
#define LUCID_ACT_ENUM(E, N, AP, NP, DA, DB, F, R) LUCID_ACT_##E,
    LUCID_ACT_LIST(LUCID_ACT_ENUM)
#undef LUCID_ACT_ENUM
    LUCID_ACT_COUNT
} lucid_act;

/* A layer's activation: kind and its parameters (LeakyRelu alpha; HardSigmoid alpha, beta;
 * Clip min, max; 0 where unused). A zeroed descriptor is no activation. */
typedef struct lucid_activation {
    lucid_act kind;
    float alpha, beta;
} lucid_activation;

/* The name of kind as the `activation` attribute spells it ("" for none, "?" if out of
 * range); Gelu's tanh form is "Gelu" too (its activation_approximate tells it apart). */
const char *lucid_act_name(lucid_act kind);

/* How many of alpha, beta kind reads (LeakyRelu 1; Clip, HardSigmoid 2). */
int lucid_act_param_count(lucid_act kind);

/* Reads node n's activation attributes into a (defaults those of the ONNX op the activation
 * stands for) and checks fused_nodes is a string list; an INVALID_MODEL error naming the
 * node for an unknown activation or unreadable parameters. */
lucid_status lucid_activation_parse(const struct lucid_node *n, lucid_activation *a,
                                    lucid_error *err);

/* The activation of one value: the reference (libm) expression of its list entry. */
float lucid_activation_apply(const lucid_activation *a, float v);

/* Arithmetic per element of the activation. */
double lucid_activation_flops(const lucid_activation *a);

/* Is it none, Relu or Clip (the activations that commute with a positive scale and so can
 * run on quantized values)? */
bool lucid_activation_is_piecewise_linear(const lucid_activation *a);

/* The activation a standalone node computes when its op is one an activation stands for
 * (Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh): true with a filled from the
 * node's parsed params, and Clip's bound inputs (opset 11 on) read where they are constant
 * scalars; *runtime_bounds (may be NULL) then tells whether a bound is computed at run time,
 * a holding -inf / inf for it. False for any other op. */
bool lucid_activation_of_op(const struct lucid_graph *g, const struct lucid_node *n,
                            lucid_activation *a, bool *runtime_bounds);

/* The activation parsed onto node n by its op: that of a FusedConv, FusedGemm,
 * FusedBatchNormalization, QConv or QGemm, none for any other op; NULL only for one of those
 * ops whose parameters were never parsed. Owned by the node (ops/fused.c). */
const lucid_activation *lucid_node_activation(const struct lucid_node *n);

#ifdef __cplusplus
}
#endif

#endif
