/* reduce.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_reduce_mean = {.name = "ReduceMean"};
const lucid_op_def lucid_op_def_reduce_sum = {.name = "ReduceSum"};
const lucid_op_def lucid_op_def_reduce_max = {.name = "ReduceMax"};
const lucid_op_def lucid_op_def_reduce_min = {.name = "ReduceMin"};
const lucid_op_def lucid_op_def_arg_max = {.name = "ArgMax"};
