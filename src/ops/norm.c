/* norm.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_batch_normalization = {.name = "BatchNormalization"};
const lucid_op_def lucid_op_def_instance_normalization = {.name = "InstanceNormalization"};
const lucid_op_def lucid_op_def_lrn = {.name = "LRN"};
