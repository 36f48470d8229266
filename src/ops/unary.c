/* unary.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_erf = {.name = "Erf"};
const lucid_op_def lucid_op_def_sqrt = {.name = "Sqrt"};
const lucid_op_def lucid_op_def_exp = {.name = "Exp"};
const lucid_op_def lucid_op_def_log = {.name = "Log"};
const lucid_op_def lucid_op_def_neg = {.name = "Neg"};
const lucid_op_def lucid_op_def_abs = {.name = "Abs"};
const lucid_op_def lucid_op_def_reciprocal = {.name = "Reciprocal"};
const lucid_op_def lucid_op_def_floor = {.name = "Floor"};
const lucid_op_def lucid_op_def_ceil = {.name = "Ceil"};
const lucid_op_def lucid_op_def_not = {.name = "Not"};
