/* reorder.h - timing the CPU layout conversion, for the builder's layout choice. */
#ifndef LUCID_CPU_REORDER_H
#define LUCID_CPU_REORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/threadpool.h"

/* Median ms of cpu.reorder.tiled converting batch images of channels x spatial elements
 * (esize bytes each) on pool, over about budget_ms; -1 when out of memory. */
double lucid_cpu_reorder_ms(int64_t batch, int64_t channels, int64_t spatial, size_t esize,
                            bool to_nhwc, lucid_threadpool *pool, double budget_ms);

#endif
