/* conv.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_conv = {.name = "Conv"};
const lucid_op_def lucid_op_def_conv_transpose = {.name = "ConvTranspose"};
