/* shape.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_shape = {.name = "Shape"};
const lucid_op_def lucid_op_def_size = {.name = "Size"};
const lucid_op_def lucid_op_def_reshape = {.name = "Reshape"};
const lucid_op_def lucid_op_def_flatten = {.name = "Flatten"};
const lucid_op_def lucid_op_def_squeeze = {.name = "Squeeze"};
const lucid_op_def lucid_op_def_unsqueeze = {.name = "Unsqueeze"};
const lucid_op_def lucid_op_def_identity = {.name = "Identity"};
const lucid_op_def lucid_op_def_dropout = {.name = "Dropout"};
