/* strmap.h - an open-addressing hash map from strings to ints (name lookups). */
#ifndef LUCID_CORE_STRMAP_H
#define LUCID_CORE_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lucid_strmap {
    const char **keys; /* borrowed: the caller keeps keys alive while they are in the map */
    int *values;
    size_t cap, count;
} lucid_strmap;

void lucid_strmap_init(lucid_strmap *m);
void lucid_strmap_free(lucid_strmap *m);
/* Inserts or replaces; returns false on allocation failure. */
bool lucid_strmap_put(lucid_strmap *m, const char *key, int value);
/* Returns the value, or -1 if absent. */
int lucid_strmap_get(const lucid_strmap *m, const char *key);
uint64_t lucid_hash_fnv1a(const void *data, size_t n, uint64_t seed);

#endif
