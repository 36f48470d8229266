/* timing_cache.h - measured tactic medians kept in a file across builds, keyed by everything
 * that can change them: op, shapes, dtypes, attributes, tactic, threads, the thread pool's
 * implementation (OpenMP team or pthreads), CPU model, lucid version. */
#ifndef LUCID_PLAN_TIMING_CACHE_H
#define LUCID_PLAN_TIMING_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "ir/graph.h"
#include "tactics/tactic.h"

typedef struct lucid_timing_cache lucid_timing_cache;

/* Reads the cache file at path; a missing file gives an empty cache. Malformed files are
 * refused with the line number. */
lucid_status lucid_timing_cache_load(const char *path, lucid_timing_cache **out,
                                     lucid_error *err);
/* Merges the entries into the file at path, sorted by key (so the file is the same for the
 * same contents): under the lock file "<path>.lock" it reads the file again, keeps the union
 * (for a key in both, the entry measured in this process wins), and replaces the file whole
 * (a temporary file beside it, renamed), so concurrent builds neither tear it nor drop each
 * other's entries. */
lucid_status lucid_timing_cache_save(const lucid_timing_cache *c, const char *path,
                                     lucid_error *err);
void lucid_timing_cache_destroy(lucid_timing_cache *c);
/* An empty cache held in memory only (NULL on out of memory). */
lucid_timing_cache *lucid_timing_cache_create(void);
/* Was key's entry put by this process (a measurement of this build), not read from a file? */
bool lucid_timing_cache_fresh(const lucid_timing_cache *c, const char *key);
bool lucid_timing_cache_get(const lucid_timing_cache *c, const char *key, double *ms);
/* false when out of memory (the entry is then missing: the builder only measures it again) */
bool lucid_timing_cache_put(lucid_timing_cache *c, const char *key, double ms);
/* The key of (layer, tactic, threads, cpu): a 16-hex-digit digest and the tactic name. */
void lucid_timing_key(const lucid_graph *g, const lucid_node *n, const lucid_tactic *t,
                      int threads, const lucid_cpu_features *cpu, char *key, size_t len);

#endif
