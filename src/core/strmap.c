/* strmap.c - string-keyed open-addressing hash map and FNV-1a hashing. */
#include "core/strmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t lucid_hash_fnv1a(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = seed ? seed : 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void lucid_strmap_init(lucid_strmap *m)
{
    memset(m, 0, sizeof *m);
}

void lucid_strmap_free(lucid_strmap *m)
{
    free(m->keys);
    free(m->values);
    memset(m, 0, sizeof *m);
}

static bool grow(lucid_strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    const char **keys = calloc(ncap, sizeof *keys);
    int *values = calloc(ncap, sizeof *values);
    if (!keys || !values) {
        free(keys);
        free(values);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = lucid_hash_fnv1a(m->keys[i], strlen(m->keys[i]), 0) & (ncap - 1);
        while (keys[j]) j = (j + 1) & (ncap - 1);
        keys[j] = m->keys[i];
        values[j] = m->values[i];
    }
    free(m->keys);
    free(m->values);
    m->keys = keys;
    m->values = values;
    m->cap = ncap;
    return true;
}

bool lucid_strmap_put(lucid_strmap *m, const char *key, int value)
{
    if ((m->count + 1) * 2 > m->cap && !grow(m)) return false;
    size_t j = lucid_hash_fnv1a(key, strlen(key), 0) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0) {
            m->values[j] = value;
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = key;
    m->values[j] = value;
    m->count++;
    return true;
}

int lucid_strmap_get(const lucid_strmap *m, const char *key)
{
    if (!m->cap) return -1;
    size_t j = lucid_hash_fnv1a(key, strlen(key), 0) & (m->cap - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0) return m->values[j];
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}
