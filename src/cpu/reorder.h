/* reorder.h - timing the CPU layout conversion, for the builder's layout choice. */
#ifndef LUCID_CPU_REORDER_H
#define LUCID_CPU_REORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"
#include "tactics/tactic.h"

/* Median ms of cpu.reorder.tiled converting batch images of channels x spatial elements
 * (esize bytes each) between plain and `other` (NHWC or NCHW16C; to_other: from plain) on
 * pool, over about budget_ms; -1 when the shape cannot take the layout, -2 when out of
 * memory. */
double lucid_cpu_reorder_ms(int64_t batch, int64_t channels, int64_t spatial, size_t esize,
                            lucid_layout other, bool to_other, lucid_threadpool *pool,
                            double budget_ms);

#endif
