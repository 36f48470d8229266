/* activation.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_relu = {.name = "Relu"};
const lucid_op_def lucid_op_def_leaky_relu = {.name = "LeakyRelu"};
const lucid_op_def lucid_op_def_prelu = {.name = "PRelu"};
const lucid_op_def lucid_op_def_clip = {.name = "Clip"};
const lucid_op_def lucid_op_def_sigmoid = {.name = "Sigmoid"};
const lucid_op_def lucid_op_def_hard_sigmoid = {.name = "HardSigmoid"};
const lucid_op_def lucid_op_def_hard_swish = {.name = "HardSwish"};
const lucid_op_def lucid_op_def_tanh = {.name = "Tanh"};
const lucid_op_def lucid_op_def_elu = {.name = "Elu"};
const lucid_op_def lucid_op_def_selu = {.name = "Selu"};
const lucid_op_def lucid_op_def_softplus = {.name = "Softplus"};
