/* registry.c - the op table, indexed by lucid_op, and lookup by ONNX name. */
#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "ops/op.h"

static const lucid_op_def *const op_table[] = {
#define LUCID_OP_ENTRY(E, N, S) [LUCID_OP_##E] = &lucid_op_def_##S,
    LUCID_OP_LIST(LUCID_OP_ENTRY)
#undef LUCID_OP_ENTRY
};
static_assert(sizeof op_table / sizeof op_table[0] == LUCID_OP_COUNT,
              "op table and op enum disagree");

static const char *const op_names[] = {
#define LUCID_OP_NAME(E, N, S) [LUCID_OP_##E] = #N,
    LUCID_OP_LIST(LUCID_OP_NAME)
#undef LUCID_OP_NAME
};

const lucid_op_def *lucid_op_get(lucid_op op)
{
    assert(op >= 0 && op < LUCID_OP_COUNT);
    return op_table[op];
}

int lucid_op_find(const char *domain, const char *name)
{
    bool want_lucid = strcmp(domain, LUCID_DOMAIN) == 0;
    if (!want_lucid && domain[0] && strcmp(domain, "ai.onnx") != 0) return -1;
    for (int i = 0; i < LUCID_OP_COUNT; i++) {
        bool is_lucid = op_table[i]->domain && strcmp(op_table[i]->domain, LUCID_DOMAIN) == 0;
        if (is_lucid == want_lucid && strcmp(op_names[i], name) == 0) return i;
    }
    return -1;
}

size_t lucid_op_params_size(int op)
{
    return op >= 0 && op < LUCID_OP_COUNT ? op_table[op]->params_size : 0;
}
