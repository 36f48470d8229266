/* layout.h - the Reorder op's conversion, shared with the CPU tactic and the runtime (which
 * shows layer outputs to observers in plain layout). */
#ifndef LUCID_OPS_LAYOUT_H
#define LUCID_OPS_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/graph.h"
#include "tactics/tactic.h"

/* One image of `channels` x `spatial` elements of esize bytes: plain (channels first) to
 * channels last when to_nhwc, else back. src and dst must not overlap. */
void lucid_reorder_image(const void *src, void *dst, int64_t channels, int64_t spatial,
                         size_t esize, bool to_nhwc);

/* Is n a Reorder to channels last (false: to plain or NCHW16C, or not a Reorder)? */
bool lucid_reorder_to_nhwc(const lucid_node *n);

/* A Reorder's input and output layouts (plain for anything else). */
void lucid_reorder_layouts(const lucid_node *n, lucid_layout *from, lucid_layout *to);

/* NCHW16C is channels-last within each block of 16 channels: batch images of `channels`
 * become batch * channels / 16 images of 16 channels (channels a multiple of 16; false
 * otherwise). Other layouts are left as they are. */
bool lucid_layout_as_images(lucid_layout l, int64_t *batch, int64_t *channels);

/* batch images of channels x spatial elements from layout `from` to `to` (one of them plain;
 * NCHW16C needs channels % 16 == 0). src and dst must not overlap. */
void lucid_layout_convert(const void *src, void *dst, int64_t batch, int64_t channels,
                          int64_t spatial, size_t esize, lucid_layout from, lucid_layout to);

/* The Reorder attribute value naming a layout: "NCHW", "NHWC" or "NCHW16C". */
const char *lucid_layout_attr_name(lucid_layout l);

/* Can t be stored NCHW16C: a 4-D float32 tensor of known shape, channels a multiple of 16? */
bool lucid_layout_blockable(const lucid_ir_tensor *t);

/* The layout in which a layer running in node_layout stores activation t: constants,
 * tensors of rank below 3 and tensors of one pixel ([N,C,1,1]: the same bytes in every
 * layout) are plain; in an NCHW16C layer, so is every tensor that cannot be blocked (an RGB
 * input, a channel count not a multiple of 16). */
lucid_layout lucid_layout_of_tensor(const lucid_ir_tensor *t, lucid_layout node_layout);

#endif
