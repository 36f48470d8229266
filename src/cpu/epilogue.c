/* epilogue.c - reading a fused layer's activation attributes into a GEMM epilogue. */
#include "cpu/epilogue.h"

#include <math.h>
#include <stdio.h>

bool lucid_epilogue_read_act(const lucid_node *n, lucid_epilogue *e, char *why, size_t why_len)
{
    /* the names and defaults of lucid's FusedConv/FusedGemm "activation" attribute */
    static const struct {
        const char *name;
        lucid_act act;
        float alpha, beta;
    } acts[] = {
        {"", LUCID_ACT_NONE, 0, 0},
        {"Relu", LUCID_ACT_RELU, 0, 0},
        {"Clip", LUCID_ACT_CLIP, -INFINITY, INFINITY},
        {"LeakyRelu", LUCID_ACT_LEAKY_RELU, 0.01f, 0},
        {"Sigmoid", LUCID_ACT_SIGMOID, 0, 0},
        {"HardSigmoid", LUCID_ACT_HARD_SIGMOID, 0.2f, 0.5f},
        {"HardSwish", LUCID_ACT_HARD_SWISH, 0, 0},
        {"SiLU", LUCID_ACT_SILU, 0, 0},
        {"Tanh", LUCID_ACT_TANH, 0, 0},
    };
    const char *name;
    if (lucid_attr_string(n, "activation", "", &name, NULL)) {
        snprintf(why, why_len, "unreadable activation attribute");
        return false;
    }
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        if (strcmp(acts[i].name, name) != 0) continue;
        e->act = acts[i].act;
        if (lucid_attr_float(n, "activation_alpha", acts[i].alpha, &e->act_alpha, NULL) ||
            lucid_attr_float(n, "activation_beta", acts[i].beta, &e->act_beta, NULL)) {
            snprintf(why, why_len, "unreadable activation_alpha/beta");
            return false;
        }
        return true;
    }
    snprintf(why, why_len, "activation '%s' has no GEMM epilogue", name);
    return false;
}
