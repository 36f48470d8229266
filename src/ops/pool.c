/* pool.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_max_pool = {.name = "MaxPool"};
const lucid_op_def lucid_op_def_average_pool = {.name = "AveragePool"};
const lucid_op_def lucid_op_def_global_average_pool = {.name = "GlobalAveragePool"};
const lucid_op_def lucid_op_def_global_max_pool = {.name = "GlobalMaxPool"};
