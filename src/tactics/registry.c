/* registry.c - the table of tactics and the reference tactic that backs every op. */
#include <string.h>

#include "ops/op.h"
#include "tactics/tactic.h"
#include "tactics/tactic_list.h"

#define LUCID_TACTIC_EXTERN(sym) extern const lucid_tactic lucid_tactic_##sym;
LUCID_TACTIC_LIST(LUCID_TACTIC_EXTERN)
#undef LUCID_TACTIC_EXTERN

static const lucid_tactic *const tactics[] = {
#define LUCID_TACTIC_ENTRY(sym) &lucid_tactic_##sym,
    LUCID_TACTIC_LIST(LUCID_TACTIC_ENTRY)
#undef LUCID_TACTIC_ENTRY
};

size_t lucid_tactic_count(void)
{
    return sizeof tactics / sizeof tactics[0];
}

const lucid_tactic *lucid_tactic_at(size_t i)
{
    return i < lucid_tactic_count() ? tactics[i] : NULL;
}

const lucid_tactic *lucid_tactic_find(const char *name)
{
    for (size_t i = 0; i < lucid_tactic_count(); i++)
        if (strcmp(tactics[i]->name, name) == 0) return tactics[i];
    return NULL;
}

/* ---- the reference tactic: the op's reference kernel ---- */

static bool reference_supports(const lucid_graph *g, const lucid_node *n,
                               const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    (void)g;
    (void)cpu;
    (void)why;
    (void)why_len;
    return n->op >= 0;
}

/* The state is the node itself: the plan that owns the graph outlives its tactics. */
static lucid_status reference_prepare(const lucid_graph *g, const lucid_node *n,
                                      int max_threads, void **state, lucid_error *err)
{
    (void)g;
    (void)max_threads;
    (void)err;
    *state = (void *)n;
    return LUCID_STATUS_OK;
}

static void reference_release(void *state)
{
    (void)state;
}

lucid_precision lucid_device_storage(lucid_precision p)
{
    return p == LUCID_PRECISION_TF32   ? LUCID_PRECISION_FP32
           : p == LUCID_PRECISION_INT8 ? LUCID_PRECISION_FP16
                                       : p;
}

size_t lucid_tactic_no_workspace(const void *state, int threads)
{
    (void)state;
    (void)threads;
    return 0;
}

static lucid_status reference_run(const void *state, const lucid_array *in, int n_in,
                                  lucid_array *out, int n_out, void *workspace,
                                  lucid_threadpool *pool, lucid_error *err)
{
    (void)workspace;
    (void)pool;
    const lucid_node *n = state;
    return lucid_op_get(n->op)->run(n, in, n_in, out, n_out, err);
}

const lucid_tactic lucid_tactic_reference = {
    .name = "ref",
    .backend = "ref",
    .flags = 0,
    .preference = 1000000,
    .in_layout = LUCID_LAYOUT_PLAIN,
    .out_layout = LUCID_LAYOUT_PLAIN,
    .supports = reference_supports,
    .prepare = reference_prepare,
    .release = reference_release,
    .workspace = lucid_tactic_no_workspace,
    .run = reference_run,
};
