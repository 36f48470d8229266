/* layout.h - the Reorder op's conversion, shared with the CPU tactic and the runtime (which
 * shows layer outputs to observers in plain layout). */
#ifndef LUCID_OPS_LAYOUT_H
#define LUCID_OPS_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/graph.h"

/* One image of `channels` x `spatial` elements of esize bytes: plain (channels first) to
 * channels last when to_nhwc, else back. src and dst must not overlap. */
void lucid_reorder_image(const void *src, void *dst, int64_t channels, int64_t spatial,
                         size_t esize, bool to_nhwc);

/* Is n a Reorder to channels last (false: to plain, or not a Reorder)? */
bool lucid_reorder_to_nhwc(const lucid_node *n);

#endif
