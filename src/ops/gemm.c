/* gemm.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_gemm = {.name = "Gemm"};
const lucid_op_def lucid_op_def_matmul = {.name = "MatMul"};
