/* binary.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_add = {.name = "Add"};
const lucid_op_def lucid_op_def_sub = {.name = "Sub"};
const lucid_op_def lucid_op_def_mul = {.name = "Mul"};
const lucid_op_def lucid_op_def_div = {.name = "Div"};
const lucid_op_def lucid_op_def_pow = {.name = "Pow"};
const lucid_op_def lucid_op_def_min = {.name = "Min"};
const lucid_op_def lucid_op_def_max = {.name = "Max"};
const lucid_op_def lucid_op_def_sum = {.name = "Sum"};
const lucid_op_def lucid_op_def_mean = {.name = "Mean"};
const lucid_op_def lucid_op_def_equal = {.name = "Equal"};
const lucid_op_def lucid_op_def_less = {.name = "Less"};
const lucid_op_def lucid_op_def_greater = {.name = "Greater"};
const lucid_op_def lucid_op_def_and = {.name = "And"};
const lucid_op_def lucid_op_def_or = {.name = "Or"};
const lucid_op_def lucid_op_def_where = {.name = "Where"};
