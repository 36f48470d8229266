/* plan_file.c - reading and writing plan files (docs/plan-format.md): a fixed header with
 * magic, format version, lucid version, payload size and FNV-1a checksum, then the optimized
 * graph, one tactic name per layer, and the memory plan. Everything read is bounds-checked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/atomic_file.h"
#include "core/strmap.h"
#include "core/util.h"
#include "ops/op.h"
#include "plan/plan.h"

#define PLAN_MAGIC "LUCIDPLN"
/* 2: device and precision in the flags, the GPU after the CPU; 3: a FusedConv whose tactic
 * allows it writes over its dying residual (the memory plan of format 2 files differs) */
#define PLAN_FORMAT 4
#define PLAN_HEADER 64
#define PLAN_MAX_FILE ((uint64_t)4 << 30)
#define PLAN_MAX_COUNT 10000000u
#define PLAN_MAX_STRING 65536u

/* ---- writing ---- */

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    bool oom;
} wbuf;

static void put(wbuf *b, const void *src, size_t n)
{
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 65536;
        while (ncap < b->len + n) ncap *= 2;
        unsigned char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u8(wbuf *b, uint8_t v) { put(b, &v, 1); }
static void put_u32(wbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_i32(wbuf *b, int32_t v) { put(b, &v, 4); }
static void put_u64(wbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_i64(wbuf *b, int64_t v) { put(b, &v, 8); }
static void put_f32(wbuf *b, float v) { put(b, &v, 4); }

static void put_str(wbuf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_u32(b, (uint32_t)n);
    put(b, s, n);
}

static void put_attr(wbuf *b, const lucid_attr *a)
{
    put_str(b, a->name);
    put_u32(b, (uint32_t)a->type);
    put_i64(b, a->i);
    put_f32(b, a->f);
    put_u8(b, a->s != NULL);
    if (a->s) put_str(b, a->s);
    put_u64(b, a->count);
    put_u8(b, (uint8_t)((a->ints ? 1 : 0) | (a->floats ? 2 : 0) | (a->strings ? 4 : 0) |
                        (a->t ? 8 : 0)));
    if (a->ints) put(b, a->ints, sizeof(int64_t) * a->count);
    if (a->floats) put(b, a->floats, sizeof(float) * a->count);
    if (a->strings)
        for (size_t i = 0; i < a->count; i++) put_str(b, a->strings[i]);
    if (a->t) {
        put_u32(b, (uint32_t)a->t->dtype);
        put_i32(b, a->t->rank);
        for (int i = 0; i < a->t->rank; i++) put_i64(b, a->t->dims[i]);
        put_u64(b, a->t->nbytes);
        put(b, a->t->data, a->t->nbytes);
    }
}

static void put_graph(wbuf *b, const lucid_graph *g)
{
    put_str(b, g->name);
    put_str(b, g->producer);
    put_i64(b, g->ir_version);
    put_i64(b, g->opset);
    put_u32(b, (uint32_t)g->n_tensors);
    for (int t = 0; t < g->n_tensors; t++) {
        const lucid_ir_tensor *x = &g->tensors[t];
        put_str(b, x->name);
        put_u32(b, (uint32_t)x->dtype);
        put_i32(b, x->rank);
        for (int i = 0; i < x->rank; i++) {
            put_i64(b, x->dims[i]);
            put_str(b, x->dim_params[i] ? x->dim_params[i] : "");
        }
        put_u8(b, (uint8_t)(x->is_initializer ? 1 : 0));
        put_i32(b, x->view_of);
        put_u64(b, x->view_offset);
        if (x->is_initializer) {
            put_u64(b, x->nbytes);
            put(b, x->data, x->nbytes);
        }
    }
    put_u32(b, (uint32_t)g->n_inputs);
    for (int i = 0; i < g->n_inputs; i++) put_i32(b, g->inputs[i]);
    put_u32(b, (uint32_t)g->n_outputs);
    for (int i = 0; i < g->n_outputs; i++) put_i32(b, g->outputs[i]);
    put_u32(b, (uint32_t)g->n_nodes);
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        put_str(b, n->name);
        put_str(b, n->op_type);
        put_str(b, n->domain);
        put_i32(b, n->opset);
        put_u8(b, n->elided);
        put_u32(b, (uint32_t)n->n_inputs);
        for (int k = 0; k < n->n_inputs; k++) put_i32(b, n->inputs[k]);
        put_u32(b, (uint32_t)n->n_outputs);
        for (int k = 0; k < n->n_outputs; k++) put_i32(b, n->outputs[k]);
        put_u32(b, (uint32_t)n->n_attrs);
        for (int k = 0; k < n->n_attrs; k++) put_attr(b, &n->attrs[k]);
    }
}

lucid_status lucid_plan_save(const lucid_plan_t *plan, const char *path, lucid_error *err)
{
    if (!plan || !path)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "plan_save: NULL argument");
    const lucid_graph *g = plan->model->graph;
    wbuf b = {0};
    put_graph(&b, g);
    for (int i = 0; i < g->n_nodes; i++)
        put_str(&b, plan->layers[i].tactic ? plan->layers[i].tactic->name : "");
    put_u64(&b, plan->arena_size);
    for (int t = 0; t < g->n_tensors; t++) put_u64(&b, plan->offsets[t]);
    put_str(&b, plan->cpu_model);
    put_str(&b, plan->device_model);
    if (b.oom) {
        free(b.p);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory writing the plan");
    }
    unsigned char hdr[PLAN_HEADER] = {0};
    memcpy(hdr, PLAN_MAGIC, 8);
    /* flags: bit 0 deterministic, bit 1 GPU activations channels-last, bits 8-15 the
     * device, bits 16-23 the precision */
    uint32_t format = PLAN_FORMAT, flags = (plan->deterministic ? 1u : 0u) |
                                           (plan->channels_last ? 2u : 0u) |
                                           (uint32_t)plan->device << 8 |
                                           (uint32_t)plan->precision << 16;
    memcpy(hdr + 8, &format, 4);
    memcpy(hdr + 12, &flags, 4);
    snprintf((char *)hdr + 16, 16, "%s", LUCID_VERSION_STRING);
    uint64_t size = b.len, sum = lucid_hash_fnv1a(b.p, b.len, 0);
    memcpy(hdr + 32, &size, 8);
    memcpy(hdr + 40, &sum, 8);
    int32_t threads = plan->threads, level = plan->opt_level;
    memcpy(hdr + 48, &threads, 4);
    memcpy(hdr + 52, &level, 4);
    /* the header goes in front of the body in one buffer, written beside the file and renamed
     * over it: a reader (a context loading the plan while a build replaces it) sees the old
     * plan or the new one, never part of one, and a failed write leaves the old one */
    unsigned char *whole = realloc(b.p, b.len + PLAN_HEADER);
    if (!whole) {
        free(b.p);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory writing the plan");
    }
    memmove(whole + PLAN_HEADER, whole, b.len);
    memcpy(whole, hdr, PLAN_HEADER);
    lucid_status st = lucid_file_replace(path, whole, b.len + PLAN_HEADER, "plan file", err);
    free(whole);
    return st;
}

/* ---- reading ---- */

typedef struct rbuf {
    const unsigned char *p;
    size_t len, pos;
    bool bad;
    bool oom; /* an allocation failed: bad, but not the file's fault */
} rbuf;

static bool get(rbuf *b, void *dst, size_t n)
{
    if (b->bad || n > b->len - b->pos) {
        b->bad = true;
        if (dst && n) memset(dst, 0, n);
        return false;
    }
    if (n) memcpy(dst, b->p + b->pos, n);
    b->pos += n;
    return true;
}

static uint8_t get_u8(rbuf *b) { uint8_t v = 0; get(b, &v, 1); return v; }
static uint32_t get_u32(rbuf *b) { uint32_t v = 0; get(b, &v, 4); return v; }
static int32_t get_i32(rbuf *b) { int32_t v = 0; get(b, &v, 4); return v; }
static uint64_t get_u64(rbuf *b) { uint64_t v = 0; get(b, &v, 8); return v; }
static int64_t get_i64(rbuf *b) { int64_t v = 0; get(b, &v, 8); return v; }
static float get_f32(rbuf *b) { float v = 0; get(b, &v, 4); return v; }

/* A NUL-terminated copy of the next string (malloc'd), or NULL when malformed. */
static char *get_str(rbuf *b)
{
    uint32_t n = get_u32(b);
    if (b->bad || n > PLAN_MAX_STRING || n > b->len - b->pos) {
        b->bad = true;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        b->bad = b->oom = true;
        return NULL;
    }
    get(b, s, n);
    s[n] = '\0';
    return s;
}

static uint32_t get_count(rbuf *b, uint32_t max)
{
    uint32_t n = get_u32(b);
    if (n > max) b->bad = true;
    return b->bad ? 0 : n;
}

/* A copy of the next n bytes (malloc'd), n checked against what is left. */
static void *get_blob(rbuf *b, uint64_t n)
{
    if (b->bad || n > b->len - b->pos) {
        b->bad = true;
        return NULL;
    }
    void *d = malloc(n ? (size_t)n : 1);
    if (!d) {
        b->bad = b->oom = true;
        return NULL;
    }
    get(b, d, (size_t)n);
    return d;
}

static bool get_attr(rbuf *b, lucid_attr *a)
{
    memset(a, 0, sizeof *a);
    a->name = get_str(b);
    a->type = (lucid_attr_type)get_u32(b);
    a->i = get_i64(b);
    a->f = get_f32(b);
    if (get_u8(b)) a->s = get_str(b);
    uint64_t count = get_u64(b);
    uint8_t parts = get_u8(b);
    if (b->bad || count > PLAN_MAX_COUNT) return false;
    a->count = (size_t)count;
    if (parts & 1) a->ints = get_blob(b, sizeof(int64_t) * count);
    if (parts & 2) a->floats = get_blob(b, sizeof(float) * count);
    if (parts & 4) {
        a->strings = calloc(count ? (size_t)count : 1, sizeof(char *));
        if (!a->strings) return !(b->bad = b->oom = true);
        for (uint64_t i = 0; i < count && !b->bad; i++) a->strings[i] = get_str(b);
    }
    if (parts & 8) {
        a->t = calloc(1, sizeof *a->t);
        if (!a->t) return !(b->bad = b->oom = true);
        a->t->dtype = (lucid_dtype)get_u32(b);
        a->t->rank = get_i32(b);
        if (a->t->rank < 0 || a->t->rank > LUCID_MAX_RANK) return false;
        for (int i = 0; i < a->t->rank; i++) a->t->dims[i] = get_i64(b);
        uint64_t nb = get_u64(b);
        int64_t numel = lucid_shape_numel(a->t->rank, a->t->dims);
        if (numel < 0 || nb != (uint64_t)numel * lucid_dtype_size(a->t->dtype)) return false;
        a->t->data = get_blob(b, nb);
        a->t->nbytes = (size_t)nb;
    }
    /* the value its type names must be there: the attribute accessors hand these pointers to
     * the ops unchecked, as the importer always sets them (an INTS attribute with a count but
     * no ints once reached the Conv parser as a NULL array) */
    bool complete;
    switch (a->type) {
    case LUCID_ATTR_STRING: complete = a->s != NULL; break;
    case LUCID_ATTR_INTS: complete = !a->count || a->ints; break;
    case LUCID_ATTR_FLOATS: complete = !a->count || a->floats; break;
    case LUCID_ATTR_STRINGS: complete = !a->count || a->strings; break;
    case LUCID_ATTR_TENSOR: complete = a->t != NULL; break;
    default: complete = true; break;
    }
    return !b->bad && a->name && complete;
}

static lucid_status corrupt(const char *path, const char *what, lucid_error *err)
{
    return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "%s: corrupt plan file (%s)", path,
                        what);
}

static lucid_status read_graph(rbuf *b, const char *path, lucid_graph *g, lucid_error *err)
{
    char *name = get_str(b), *producer = get_str(b);
    if (name) {
        free(g->name);
        g->name = name;
    }
    if (producer) {
        free(g->producer);
        g->producer = producer;
    }
    g->ir_version = get_i64(b);
    g->opset = get_i64(b);
    uint32_t nt = get_count(b, PLAN_MAX_COUNT);
    for (uint32_t t = 0; t < nt && !b->bad; t++) {
        char *tn = get_str(b);
        if (!tn) break;
        bool dup = lucid_graph_find(g, tn) >= 0;
        int idx = dup ? -1 : lucid_graph_tensor(g, tn, err);
        free(tn);
        if (idx < 0 && !dup) return err ? err->status : LUCID_STATUS_OUT_OF_MEMORY;
        if (idx != (int)t) return corrupt(path, "duplicate tensor name", err);
        lucid_ir_tensor *x = &g->tensors[idx];
        lucid_dtype dtype = (lucid_dtype)get_u32(b);
        int32_t rank = get_i32(b);
        if (rank < -1 || rank > LUCID_MAX_RANK || (!lucid_dtype_size(dtype) && dtype != 0))
            return corrupt(path, "tensor rank or dtype", err);
        int64_t dims[LUCID_MAX_RANK];
        for (int i = 0; i < rank; i++) {
            dims[i] = get_i64(b);
            char *dp = get_str(b);
            if (dp && dp[0]) x->dim_params[i] = dp;
            else free(dp);
        }
        uint8_t flags = get_u8(b);
        int32_t view_of = get_i32(b);
        uint64_t view_offset = get_u64(b);
        if (view_of < -1 || view_of >= (int32_t)nt || view_of == (int32_t)t)
            return corrupt(path, "view", err);
        x->view_of = view_of;
        x->view_offset = (size_t)view_offset;
        x->dtype = dtype;
        x->rank = rank;
        for (int i = 0; i < rank; i++) x->dims[i] = dims[i];
        if (flags & 1) {
            uint64_t nb = get_u64(b);
            int64_t numel = rank >= 0 ? lucid_shape_numel(rank, dims) : -1;
            if (numel < 0 || nb != (uint64_t)numel * lucid_dtype_size(dtype))
                return corrupt(path, "initializer size", err);
            void *data = get_blob(b, nb);
            if (!data) break;
            lucid_status st =
                lucid_graph_set_initializer(g, idx, dtype, rank, dims, data, (size_t)nb, err);
            if (st) {
                free(data);
                return st;
            }
        }
    }
    uint32_t ni = get_count(b, nt);
    for (uint32_t i = 0; i < ni && !b->bad; i++) {
        int32_t t = get_i32(b);
        if (t < 0 || t >= (int32_t)nt) return corrupt(path, "input index", err);
        lucid_status st = lucid_graph_add_input(g, t, err);
        if (st) return st;
    }
    uint32_t no = get_count(b, nt);
    for (uint32_t i = 0; i < no && !b->bad; i++) {
        int32_t t = get_i32(b);
        if (t < 0 || t >= (int32_t)nt) return corrupt(path, "output index", err);
        lucid_status st = lucid_graph_add_output(g, t, err);
        if (st) return st;
    }
    uint32_t nn = get_count(b, PLAN_MAX_COUNT);
    for (uint32_t i = 0; i < nn && !b->bad; i++) {
        char *nname = get_str(b), *op = get_str(b), *domain = get_str(b);
        int32_t opset = get_i32(b);
        uint8_t elided = get_u8(b);
        uint32_t nin = get_count(b, 4096);
        int ins[4096], outs[4096];
        for (uint32_t k = 0; k < nin; k++) ins[k] = get_i32(b);
        uint32_t nout = get_count(b, 4096);
        for (uint32_t k = 0; k < nout; k++) outs[k] = get_i32(b);
        bool ok = !b->bad && nname && op && domain;
        for (uint32_t k = 0; ok && k < nin; k++) ok = ins[k] >= -1 && ins[k] < (int)nt;
        for (uint32_t k = 0; ok && k < nout; k++) ok = outs[k] >= -1 && outs[k] < (int)nt;
        int idx = ok ? lucid_graph_add_node(g, nname, op, domain, opset, ins, (int)nin, outs,
                                            (int)nout, err)
                     : -1;
        free(nname);
        free(op);
        free(domain);
        if (idx < 0) return ok ? (err ? err->status : LUCID_STATUS_OUT_OF_MEMORY)
                               : corrupt(path, "node", err);
        g->nodes[idx].elided = elided != 0;
        uint32_t na = get_count(b, 4096);
        for (uint32_t k = 0; k < na && !b->bad; k++) {
            lucid_attr a;
            if (!get_attr(b, &a)) {
                lucid_attr_free(&a);
                return corrupt(path, "attribute", err);
            }
            lucid_status st = lucid_node_add_attr(&g->nodes[idx], &a, err);
            if (st) {
                lucid_attr_free(&a);
                return st;
            }
        }
    }
    return b->bad ? corrupt(path, "truncated graph", err) : LUCID_STATUS_OK;
}

lucid_status lucid_plan_load(const char *path, lucid_plan_t **out, lucid_error *err)
{
    if (!path || !out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "plan_load: NULL argument");
    *out = NULL;
    lucid_status cst = lucid_cpu_cap_env_check(err);
    if (cst) return cst;
    FILE *f = fopen(path, "rb");
    if (!f) return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot open: %s", path,
                                strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: not a regular file", path);
    }
    unsigned char hdr[PLAN_HEADER];
    if ((uint64_t)sb.st_size < PLAN_HEADER || fread(hdr, 1, PLAN_HEADER, f) != PLAN_HEADER) {
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "%s: not a lucid plan (shorter than its header)", path);
    }
    if (memcmp(hdr, PLAN_MAGIC, 8) != 0) {
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "%s: not a lucid plan (bad magic)", path);
    }
    uint32_t format, flags;
    uint64_t size, sum;
    int32_t threads, level;
    memcpy(&format, hdr + 8, 4);
    memcpy(&flags, hdr + 12, 4);
    memcpy(&size, hdr + 32, 8);
    memcpy(&sum, hdr + 40, 8);
    memcpy(&threads, hdr + 48, 4);
    memcpy(&level, hdr + 52, 4);
    char version[17];
    memcpy(version, hdr + 16, 16);
    version[16] = '\0';
    if (format != PLAN_FORMAT || strcmp(version, LUCID_VERSION_STRING) != 0) {
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "%s: plan format %u from lucid %s; this is lucid %s reading format "
                            "%d: rebuild the plan",
                            path, format, version, LUCID_VERSION_STRING, PLAN_FORMAT);
    }
    if (size != (uint64_t)sb.st_size - PLAN_HEADER || size > PLAN_MAX_FILE) {
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "%s: truncated or padded plan (header says %llu bytes of payload, "
                            "the file has %llu)",
                            path, (unsigned long long)size,
                            (unsigned long long)((uint64_t)sb.st_size - PLAN_HEADER));
    }
    unsigned char *payload = malloc(size ? (size_t)size : 1);
    if (!payload) {
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY,
                            "%s: out of memory reading %llu bytes", path,
                            (unsigned long long)size);
    }
    if (size && fread(payload, 1, (size_t)size, f) != size) {
        free(payload);
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: read failed", path);
    }
    fclose(f);
    if (lucid_hash_fnv1a(payload, (size_t)size, 0) != sum) {
        free(payload);
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "%s: checksum mismatch: the plan file is corrupt", path);
    }
    uint32_t fdev = (flags >> 8) & 0xff, fprec = (flags >> 16) & 0xff;
    if (threads < 1 || threads > 1024 || level < -1 || level > 3 || (flags & ~0xffff03u) ||
        ((flags & 2u) && fdev != LUCID_DEVICE_CUDA) || fdev > LUCID_DEVICE_CUDA ||
        fprec > LUCID_PRECISION_INT8 ||
        (fdev == LUCID_DEVICE_CPU && fprec == LUCID_PRECISION_TF32)) {
        free(payload);
        return corrupt(path, "header fields", err);
    }
    if (fdev == LUCID_DEVICE_CUDA && !lucid_cuda_backend()) {
        free(payload);
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "%s: a GPU (cuda) plan; this lucid was built without LUCID_CUDA",
                            path);
    }

    lucid_status st;
    rbuf b = {.p = payload, .len = (size_t)size};
    lucid_plan_t *plan = calloc(1, sizeof *plan);
    lucid_graph *g = lucid_graph_create();
    char **names = NULL;
    size_t *stored = NULL;
    if (!plan || !g) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    plan->threads = threads;
    plan->opt_level = level;
    plan->deterministic = flags & 1;
    plan->channels_last = (flags & 2u) != 0;
    plan->device = (lucid_device)fdev;
    plan->precision = (lucid_precision)fprec;
    free(g->path);
    g->path = lucid_strdup(path);
    if (!g->path) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    st = read_graph(&b, path, g, err);
    if (st == LUCID_STATUS_INVALID_MODEL && b.oom)
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "%s: out of memory reading the plan",
                          path);
    if (st) goto fail;
    st = lucid_graph_finalize(g, err);
    if (st) {
        lucid_error_prefix(err, "%s: plan graph: ", path);
        goto fail;
    }
    st = lucid_model_wrap(g, &plan->model, err);
    if (st) goto fail;
    g = NULL; /* owned by the model now */
    const lucid_graph *pg = plan->model->graph;
    names = calloc((size_t)pg->n_nodes + 1, sizeof *names);
    stored = calloc((size_t)pg->n_tensors + 1, sizeof *stored);
    plan->layers = calloc((size_t)pg->n_nodes + 1, sizeof *plan->layers);
    if (!names || !stored || !plan->layers) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    for (int i = 0; i < pg->n_nodes; i++) names[i] = get_str(&b);
    uint64_t arena = get_u64(&b);
    for (int t = 0; t < pg->n_tensors; t++) stored[t] = (size_t)get_u64(&b);
    char *cpu = get_str(&b);
    if (cpu) {
        snprintf(plan->cpu_model, sizeof plan->cpu_model, "%s", cpu);
        free(cpu);
    }
    char *gpu = get_str(&b);
    if (gpu) {
        snprintf(plan->device_model, sizeof plan->device_model, "%s", gpu);
        free(gpu);
    }
    if (b.oom) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "%s: out of memory reading the plan",
                          path);
        goto fail;
    }
    if (b.bad || b.pos != b.len) {
        st = corrupt(path, b.bad ? "truncated layer table" : "trailing bytes", err);
        goto fail;
    }
    /* the memory plan is recomputed (it is deterministic, given the tactics) and must match
     * the stored one */
    {
        const lucid_tactic **tactics = calloc((size_t)pg->n_nodes + 1, sizeof *tactics);
        if (!tactics) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            goto fail;
        }
        for (int i = 0; i < pg->n_nodes; i++)
            tactics[i] = names[i] ? lucid_tactic_find(names[i]) : NULL;
        st = lucid_plan_memory(plan, tactics, err);
        free(tactics);
    }
    if (st) goto fail;
    if (plan->arena_size != arena ||
        memcmp(plan->offsets, stored, sizeof(size_t) * (size_t)pg->n_tensors) != 0) {
        st = corrupt(path, "its memory plan does not match its graph", err);
        goto fail;
    }
    if (plan->device != LUCID_DEVICE_CPU) {
        plan->backend = lucid_cuda_backend();
        st = plan->backend->open(0, plan->deterministic, &plan->dev, err);
        /* the recorded layout (the stored graph already has the views it allows) */
        bool nhwc = false;
        if (!st)
            st = plan->backend->plan_layout(plan->dev, plan->model->graph, plan->precision,
                                            plan->channels_last ? LUCID_GPU_LAYOUT_NHWC
                                                                : LUCID_GPU_LAYOUT_NCHW,
                                            &nhwc, plan->layout_reason,
                                            sizeof plan->layout_reason, err);
        if (!st && nhwc != plan->channels_last)
            st = corrupt(path, "its GPU layout", err);
        if (!st) snprintf(plan->layout_reason, sizeof plan->layout_reason, "as the plan file records");
        if (st) {
            lucid_error_prefix(err, "%s: ", path);
            goto fail;
        }
    }
    st = lucid_plan_prepare_layers(plan, (const char *const *)names, err);
    /* tensors are stored in the layouts their producers' tactics write; each reader's tactic
     * must read that layout */
    if (!st) st = lucid_plan_derive_layouts(plan, err);
    if (!st && plan->backend) st = plan->backend->plan_finalize(plan, err);
    if (st) {
        lucid_error_prefix(err, "%s: ", path);
        goto fail;
    }
    for (int i = 0; i < pg->n_nodes; i++) free(names[i]);
    free(names);
    free(stored);
    free(payload);
    *out = plan;
    return LUCID_STATUS_OK;
fail:
    if (names && plan && plan->model)
        for (int i = 0; i < plan->model->graph->n_nodes; i++) free(names[i]);
    free(names);
    free(stored);
    free(payload);
    lucid_graph_destroy(g);
    lucid_plan_destroy(plan);
    return st;
}
