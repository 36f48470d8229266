/* bench_graph.h - attribute setters for the one-layer graphs the kernel benchmarks build
 * (bench/kernels_*.c include it; each is its own program). */
#ifndef LUCID_BENCH_GRAPH_H
#define LUCID_BENCH_GRAPH_H

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "ir/graph.h"

static inline void bench_attr_ints(lucid_node *n, const char *name, int count, const int64_t *v)
{
    lucid_attr at = {.type = LUCID_ATTR_INTS, .count = (size_t)count};
    at.name = lucid_strdup(name);
    at.ints = malloc(sizeof(int64_t) * (size_t)(count ? count : 1));
    if (at.ints && count) memcpy(at.ints, v, sizeof(int64_t) * (size_t)count);
    lucid_node_add_attr(n, &at, NULL);
}

static inline void bench_attr_int(lucid_node *n, const char *name, int64_t v)
{
    lucid_attr at = {.type = LUCID_ATTR_INT, .i = v};
    at.name = lucid_strdup(name);
    lucid_node_add_attr(n, &at, NULL);
}

static inline void bench_attr_float(lucid_node *n, const char *name, float v)
{
    lucid_attr at = {.type = LUCID_ATTR_FLOAT, .f = v};
    at.name = lucid_strdup(name);
    lucid_node_add_attr(n, &at, NULL);
}

static inline void bench_attr_str(lucid_node *n, const char *name, const char *v)
{
    lucid_attr at = {.type = LUCID_ATTR_STRING};
    at.name = lucid_strdup(name);
    at.s = lucid_strdup(v);
    lucid_node_add_attr(n, &at, NULL);
}

#endif
