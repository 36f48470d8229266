/* generator.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_constant = {.name = "Constant"};
const lucid_op_def lucid_op_def_constant_of_shape = {.name = "ConstantOfShape"};
const lucid_op_def lucid_op_def_range = {.name = "Range"};
const lucid_op_def lucid_op_def_cast = {.name = "Cast"};
