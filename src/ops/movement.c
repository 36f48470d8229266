/* movement.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_concat = {.name = "Concat"};
const lucid_op_def lucid_op_def_split = {.name = "Split"};
const lucid_op_def lucid_op_def_slice = {.name = "Slice"};
const lucid_op_def lucid_op_def_transpose = {.name = "Transpose"};
const lucid_op_def lucid_op_def_expand = {.name = "Expand"};
const lucid_op_def lucid_op_def_tile = {.name = "Tile"};
const lucid_op_def lucid_op_def_pad = {.name = "Pad"};
const lucid_op_def lucid_op_def_gather = {.name = "Gather"};
