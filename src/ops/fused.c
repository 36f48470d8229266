/* fused.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_fused_conv = {.name = "FusedConv", .domain = LUCID_DOMAIN};
const lucid_op_def lucid_op_def_fused_gemm = {.name = "FusedGemm", .domain = LUCID_DOMAIN};
