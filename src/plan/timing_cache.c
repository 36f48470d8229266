/* timing_cache.c - the timing cache file: "lucid-timing-cache 1" then one line per entry,
 * "<key> <tactic> <median ms>". */
#include "plan/timing_cache.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "core/strmap.h"
#include "core/threadpool.h"
#include "core/util.h"
#include "ops/op.h"

#define CACHE_MAGIC "lucid-timing-cache 1"
#define CACHE_MAX_ENTRIES 1000000

typedef struct entry {
    char key[96];
    double ms;
    bool fresh; /* put in this process (measured now), not read from the file */
} entry;

struct lucid_timing_cache {
    entry *entries;
    size_t count, cap;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    return lucid_hash_fnv1a(p, n, h);
}

void lucid_timing_key(const lucid_graph *g, const lucid_node *n, const lucid_tactic *t,
                      int threads, const lucid_cpu_features *cpu, char *key, size_t len)
{
    uint64_t h = lucid_hash_fnv1a("lucid", 5, 0);
    h = mix(h, LUCID_VERSION_STRING, strlen(LUCID_VERSION_STRING));
    h = mix(h, cpu->model, strlen(cpu->model));
    /* under an instruction-set cap the same tactic may run other code (oneDNN's) */
    if (cpu->capped) {
        const char *level = lucid_cpu_isa_name(cpu->level);
        h = mix(h, level, strlen(level));
    }
    h = mix(h, &threads, sizeof threads);
    /* a layer's time includes handing work to the threads, which the pool's implementation
     * changes (and with it which tactic wins) */
    const char *pool = lucid_threadpool_uses_openmp() ? "pool:openmp" : "pool:pthreads";
    h = mix(h, pool, strlen(pool));
    h = mix(h, n->domain, strlen(n->domain) + 1);
    h = mix(h, n->op_type, strlen(n->op_type) + 1);
    for (int k = 0; k < n->n_inputs; k++) {
        const lucid_ir_tensor *x = lucid_op_input(g, n, k);
        int32_t desc[2] = {x ? (int32_t)x->dtype : -1, x ? x->rank : -1};
        h = mix(h, desc, sizeof desc);
        if (x) h = mix(h, x->dims, sizeof(int64_t) * (size_t)(x->rank > 0 ? x->rank : 0));
        uint8_t constant = x && x->data;
        h = mix(h, &constant, 1);
    }
    for (int k = 0; k < n->n_attrs; k++) {
        const lucid_attr *a = &n->attrs[k];
        /* the original node names do not change how a layer runs */
        if (strcmp(a->name, "fused_nodes") == 0) continue;
        h = mix(h, a->name, strlen(a->name) + 1);
        h = mix(h, &a->type, sizeof a->type);
        h = mix(h, &a->i, sizeof a->i);
        h = mix(h, &a->f, sizeof a->f);
        if (a->s) h = mix(h, a->s, strlen(a->s) + 1);
        if (a->ints) h = mix(h, a->ints, sizeof(int64_t) * a->count);
        if (a->floats) h = mix(h, a->floats, sizeof(float) * a->count);
    }
    snprintf(key, len, "%016" PRIx64 "/%s", h, t->name);
}

lucid_status lucid_timing_cache_load(const char *path, lucid_timing_cache **out,
                                     lucid_error *err)
{
    *out = NULL;
    lucid_timing_cache *c = calloc(1, sizeof *c);
    if (!c) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) { /* a first build starts the cache */
            *out = c;
            return LUCID_STATUS_OK;
        }
        free(c);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot open timing cache: %s", path,
                            strerror(errno));
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        free(c);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR,
                            "%s: the timing cache is not a regular file", path);
    }
    char line[512];
    lucid_status st = LUCID_STATUS_OK;
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n') line[--n] = '\0';
        if (lineno == 1) {
            if (strcmp(line, CACHE_MAGIC) != 0) {
                st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                  "%s: not a lucid timing cache (first line '%.40s')", path, line);
                break;
            }
            continue;
        }
        char key[96];
        double ms;
        char extra;
        if (n == 0) continue;
        if (sscanf(line, "%95s %lf %c", key, &ms, &extra) != 2 || !(ms >= 0 && ms < 1e9) ||
            !strchr(key, '/')) {
            st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                              "%s:%d: malformed timing cache entry", path, lineno);
            break;
        }
        if (c->count >= CACHE_MAX_ENTRIES) {
            st = lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED, "%s: more than %d entries", path,
                              CACHE_MAX_ENTRIES);
            break;
        }
        /* an entry dropped here would also be dropped from the file when a build saves */
        if (!lucid_timing_cache_put(c, key, ms)) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "%s: out of memory", path);
            break;
        }
    }
    if (!st && lineno == 0)
        st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "%s: empty timing cache file", path);
    for (size_t i = 0; i < c->count; i++) c->entries[i].fresh = false; /* read, not measured */
    fclose(f);
    if (st) {
        lucid_timing_cache_destroy(c);
        return st;
    }
    *out = c;
    return LUCID_STATUS_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->key, ((const entry *)b)->key);
}

/* A sorted copy of c's entries (NULL with *n = 0 when empty; false on out of memory). */
static bool sorted_copy(const lucid_timing_cache *c, entry **out, size_t *n)
{
    *out = NULL;
    *n = c ? c->count : 0;
    if (!*n) return true;
    if (!(*out = malloc(sizeof(entry) * *n))) return false;
    memcpy(*out, c->entries, sizeof(entry) * *n);
    qsort(*out, *n, sizeof **out, cmp_entry);
    return true;
}

/* Concurrent builds sharing one cache file each read it at their start and write it at their
 * end, so a plain write would drop the entries another build wrote in between. Saving
 * therefore holds the cache's lock file ("<path>.lock", flock) while it reads the file again,
 * merges, and replaces it whole (written beside it and renamed, so a reader without the lock
 * sees the old file or the new one, never part of one): the file ends up holding the union of
 * every build's entries. For a key in both, an entry this build measured wins; one it only
 * read from the file yields to the file's, which is as new or newer. */
lucid_status lucid_timing_cache_save(const lucid_timing_cache *c, const char *path,
                                     lucid_error *err)
{
    lucid_timing_cache *disk = NULL;
    entry *mine = NULL, *theirs = NULL, *all = NULL;
    char *text = NULL;
    size_t text_len = 0, n_mine = 0, n_theirs = 0, n_all = 0;
    int lock = -1;
    lucid_status st = lucid_file_lock(path, &lock, "timing cache", err);
    if (st) return st;
    /* a file another process made unreadable since this build read it is left as it is */
    st = lucid_timing_cache_load(path, &disk, err);
    if (st) goto fail;
    if (!sorted_copy(c, &mine, &n_mine) || !sorted_copy(disk, &theirs, &n_theirs) ||
        !(all = malloc(sizeof(entry) * (n_mine + n_theirs + 1)))) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    for (size_t i = 0, j = 0; i < n_mine || j < n_theirs;) {
        int cmp = i == n_mine ? 1 : j == n_theirs ? -1 : strcmp(mine[i].key, theirs[j].key);
        if (cmp < 0)
            all[n_all++] = mine[i++];
        else if (cmp > 0)
            all[n_all++] = theirs[j++];
        else {
            all[n_all++] = mine[i].fresh ? mine[i] : theirs[j];
            i++;
            j++;
        }
    }
    if (n_all > CACHE_MAX_ENTRIES) {
        st = lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                          "%s: the merged timing cache would hold %zu entries, more than %d",
                          path, n_all, CACHE_MAX_ENTRIES);
        goto fail;
    }
    FILE *f = open_memstream(&text, &text_len);
    if (!f) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    fprintf(f, "%s\n", CACHE_MAGIC);
    for (size_t i = 0; i < n_all; i++) fprintf(f, "%s %.6f\n", all[i].key, all[i].ms);
    bool unwritten = ferror(f) != 0;
    if (fclose(f) != 0 || unwritten || !text) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    st = lucid_file_replace(path, text, text_len, "timing cache", err);
fail:
    lucid_file_unlock(lock);
    lucid_timing_cache_destroy(disk);
    free(mine);
    free(theirs);
    free(all);
    free(text);
    return st;
}

void lucid_timing_cache_destroy(lucid_timing_cache *c)
{
    if (!c) return;
    free(c->entries);
    free(c);
}

bool lucid_timing_cache_get(const lucid_timing_cache *c, const char *key, double *ms)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->entries[i].key, key) == 0) {
            *ms = c->entries[i].ms;
            return true;
        }
    return false;
}

bool lucid_timing_cache_put(lucid_timing_cache *c, const char *key, double ms)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->entries[i].key, key) == 0) {
            c->entries[i].ms = ms;
            c->entries[i].fresh = true;
            return true;
        }
    if (c->count == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 256;
        entry *ne = realloc(c->entries, sizeof(entry) * ncap);
        if (!ne) return false; /* a build's cache missing an entry only measures it again */
        c->entries = ne;
        c->cap = ncap;
    }
    snprintf(c->entries[c->count].key, sizeof c->entries[0].key, "%s", key);
    c->entries[c->count].ms = ms;
    c->entries[c->count].fresh = true;
    c->count++;
    return true;
}

lucid_timing_cache *lucid_timing_cache_create(void)
{
    return calloc(1, sizeof(lucid_timing_cache));
}

bool lucid_timing_cache_fresh(const lucid_timing_cache *c, const char *key)
{
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->entries[i].key, key) == 0) return c->entries[i].fresh;
    return false;
}
