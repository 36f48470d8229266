/* softmax.c - (in progress) */
#include "ops/op.h"

const lucid_op_def lucid_op_def_softmax = {.name = "Softmax"};
const lucid_op_def lucid_op_def_log_softmax = {.name = "LogSoftmax"};
