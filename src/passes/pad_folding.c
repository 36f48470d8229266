/* pad_folding.c - a zero constant Pad of the spatial axes folded into the Conv or AveragePool
 * that reads it: the padding becomes the consumer's own pads, which its kernels apply without
 * materializing a padded copy. Exact: a Conv's pads are zeros, and an AveragePool that counts
 * padded elements (count_include_pad=1) divides by the whole window, as it would over the
 * materialized zeros. PyTorch exports avg_pool2d(padding=p, count_include_pad=True) and
 * explicit F.pad as such pairs (Inception-v3 has one before every branch pool). */
#include <stdio.h>
#include <string.h>

#include "ops/conv.h"
#include "ops/movement.h"
#include "ops/op.h"
#include "ops/pool.h"
#include "passes/bypass.h"
#include "passes/node_edit.h"
#include "passes/pass.h"

/* The Pad's constant value (0 when absent); false if it is not a known scalar. */
static bool pad_value(const lucid_graph *g, const lucid_node *n, double *value)
{
    const lucid_pad_params *p = n->params;
    if (n->opset < 11) {
        *value = p->value;
        return true;
    }
    const lucid_ir_tensor *cv = lucid_op_input(g, n, 2);
    if (!cv) {
        *value = 0;
        return true;
    }
    if (!cv->data || lucid_tensor_numel(cv) != 1) return false;
    *value = lucid_load_f64(cv->dtype, cv->data, 0);
    return true;
}

/* Can the consumer c take extra pads? Sets *why when not. Reads its current pads (zeros when
 * it has none) into pads[2 * nsp]. */
static bool consumer_takes(const lucid_node *c, int nsp, int64_t *pads, const char **why)
{
    /* Conv's and AveragePool's parsed params (pool params begin likewise with auto_pad, but
     * are their own struct: read each as what it is) */
    const lucid_conv_params *cp = c->op == LUCID_OP_CONV ? c->params : NULL;
    const lucid_pool_params *pp = c->op == LUCID_OP_AVERAGE_POOL ? c->params : NULL;
    if (!cp && !pp) {
        *why = "its consumer's attributes were not parsed";
        return false;
    }
    const lucid_auto_pad auto_pad = cp ? cp->auto_pad : pp->auto_pad;
    const size_t count = cp ? cp->n_pads : pp->n_pads;
    const int64_t *cur = cp ? cp->pads : pp->pads;
    if (lucid_auto_pad_is_same(auto_pad)) {
        *why = "its consumer pads itself (auto_pad SAME_*)";
        return false;
    }
    if (auto_pad == LUCID_AUTO_PAD_NOTSET && count != 0 && count != (size_t)(2 * nsp)) {
        *why = "its consumer's pads cannot be read";
        return false;
    }
    for (int i = 0; i < 2 * nsp; i++)
        pads[i] = auto_pad == LUCID_AUTO_PAD_NOTSET && count ? cur[i] : 0;
    if (pp) {
        bool had_pads = false;
        for (int i = 0; i < 2 * nsp; i++)
            had_pads |= pads[i] != 0;
        if (had_pads && !pp->count_include_pad) {
            /* its own padding is excluded from the count while the Pad's zeros are counted */
            *why = "its consumer is an AveragePool that excludes its own padding from the count";
            return false;
        }
        if (pp->ceil_mode) {
            *why = "its consumer is an AveragePool with ceil_mode (windows past the padding)";
            return false;
        }
    }
    return true;
}

static lucid_status run(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err)
{
    for (int i = 0; i < g->n_nodes; i++) {
        lucid_node *n = &g->nodes[i];
        if (n->dead || n->op != LUCID_OP_PAD || !n->params) continue;
        const lucid_pad_params *p = n->params;
        const lucid_ir_tensor *x = lucid_op_input(g, n, 0), *y = lucid_op_output(g, n, 0);
        if (!x || !y || !lucid_tensor_shape_known(x) || !lucid_tensor_shape_known(y)) continue;
        if (x->rank < 3 || x->rank > 5 || y->is_output || lucid_tensor_uses(g, n->outputs[0]) != 1 ||
            y->n_consumers != 1)
            continue;
        const char *why = NULL;
        lucid_node *c = &g->nodes[y->consumers[0]];
        int nsp = x->rank - 2;
        int64_t begin[LUCID_MAX_RANK], end[LUCID_MAX_RANK];
        for (int d = 0; d < x->rank; d++) {
            begin[d] = p->begin[d];
            end[d] = y->dims[d] - x->dims[d] - p->begin[d];
        }
        double value = 0;
        int64_t pads[2 * LUCID_MAX_RANK];
        if (c->op != LUCID_OP_CONV && c->op != LUCID_OP_AVERAGE_POOL) continue;
        if (c->n_inputs < 1 || c->inputs[0] != n->outputs[0])
            why = "it feeds its consumer's weights, not its data";
        else if (p->mode != LUCID_PAD_CONSTANT)
            why = "it is not a constant Pad";
        else if (!pad_value(g, n, &value) || value != 0)
            why = "its constant is not 0";
        else if (lucid_tensor_has_views(g, n->outputs[0]) || lucid_tensor_has_views(g, n->inputs[0]))
            why = "its input or output is a view";
        else if (begin[0] || end[0] || begin[1] || end[1])
            why = "it pads the batch or channel axis";
        else
            for (int d = 2; d < x->rank && !why; d++)
                if (begin[d] < 0 || end[d] < 0) why = "it crops (negative pads)";
        if (!why) consumer_takes(c, nsp, pads, &why);
        char names[512];
        snprintf(names, sizeof names, "%s, %s", n->name, c->name);
        if (why) {
            lucid_pass_refuse(ctx, names, "Pad not folded: %s", why);
            continue;
        }
        for (int s = 0; s < nsp; s++) {
            pads[s] += begin[2 + s];
            pads[nsp + s] += end[2 + s];
        }
        lucid_status st = lucid_node_set_ints(c, "pads", pads, (size_t)(2 * nsp), err);
        if (!st) lucid_node_remove_attr(c, "auto_pad");
        if (!st && c->op == LUCID_OP_AVERAGE_POOL)
            st = lucid_node_set_int(c, "count_include_pad", 1, err);
        if (!st) st = lucid_node_reparse(g, c, err);
        if (!st) st = lucid_node_rename_join(c, n->name, true, err);
        if (st) return st;
        if (!lucid_pass_bypass(g, i, n->inputs[0], n->outputs[0], &why)) {
            /* the consumer already carries the pads: this cannot be left half done */
            return lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL,
                                     "pad_folding: cannot remove the Pad after folding it (%s)",
                                     why);
        }
        lucid_pass_rewrite(ctx, names, c->name, "the Pad's zeros become the %s's own pads%s",
                           c->op_type,
                           c->op == LUCID_OP_AVERAGE_POOL ? " (count_include_pad=1)" : "");
    }
    return LUCID_STATUS_OK;
}

const lucid_pass_def lucid_pass_pad_folding = {
    .name = "pad_folding",
    .level = LUCID_PASS_FUSION,
    .summary = "fold a zero constant Pad of the spatial axes into the Conv or AveragePool "
               "reading it",
    .run = run,
};
