/* resize.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_resize = {.name = "Resize"};
const lucid_op_def lucid_op_def_upsample = {.name = "Upsample"};
