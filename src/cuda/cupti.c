/* cupti.c - the kernels each layer launches, with their GPU times, from CUPTI's activity API.
 *
 * libcupti is loaded with dlopen at the first traced run (libcupti.so.13, .so.12, .so), so a
 * lucid binary runs where it is absent: the profile then says why it has no kernel names. The
 * executor traces a few extra layer-by-layer runs of a profiling session (executor.c says why
 * they are apart from the event-timed runs). Collection is process-wide: it is enabled when a
 * traced run starts and no other is in progress, and disabled (CUPTI detached) when the last
 * one ends, so unprofiled runs and CUDA-graph replays are never traced by lucid. Around each
 * layer's launches the launching thread pushes an external correlation id (the context's id
 * << 32 | the layer's index); CUPTI then emits, for every CUDA API call made inside (cuDNN's
 * and cuBLASLt's included), a record mapping the call's correlation id to it, and every kernel
 * record carries the correlation id of the call that launched it. CUPTI hands its buffers back
 * (from its worker thread, or inside cuptiActivityFlushAll) to buffer_completed, which keeps
 * both kinds of records; a run's end flushes and joins them. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_common.h"

#ifdef LUCID_HAVE_CUPTI
#include <cupti.h>
#endif

static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t next_id;

lucid_status lucid_cuda_kprof_init(lucid_cuda_kprof *p, int n_layers, lucid_error *err)
{
    memset(p, 0, sizeof *p);
    p->layer = calloc((size_t)n_layers + 1, sizeof *p->layer);
    if (!p->layer) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    p->n_layers = n_layers;
    pthread_mutex_lock(&id_lock);
    p->id = ++next_id;
    pthread_mutex_unlock(&id_lock);
    return LUCID_STATUS_OK;
}

void lucid_cuda_kprof_free(lucid_cuda_kprof *p)
{
    for (int i = 0; p->layer && i < p->n_layers; i++)
        free(p->layer[i].k);
    free(p->layer);
    p->layer = NULL;
}

void lucid_cuda_kprof_clear(lucid_cuda_kprof *p)
{
    for (int i = 0; p->layer && i < p->n_layers; i++)
        p->layer[i].n = 0;
    p->runs = 0;
    p->why[0] = '\0';
}

#ifndef LUCID_HAVE_CUPTI

bool lucid_cuda_kprof_begin(lucid_cuda_kprof *p)
{
    snprintf(p->why, sizeof p->why, "lucid was built without CUPTI's header (cupti.h)");
    return false;
}

void lucid_cuda_kprof_enter(const lucid_cuda_kprof *p, int k) {}

void lucid_cuda_kprof_leave(void) {}

void lucid_cuda_kprof_end(lucid_cuda_kprof *p) {}

#else

#define BUFFER_BYTES (1u << 20)

/* a kernel's CUPTI name and how the profile shows it */
typedef struct kname {
    struct kname *next;
    char *raw, *shown;
} kname;

typedef struct corr_rec {
    uint32_t corr;
    uint64_t ext;
} corr_rec;

typedef struct kern_rec {
    uint32_t corr;
    int64_t ns;
    const char *name;
} kern_rec;

static const CUpti_ActivityKind kinds[] = {CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION,
                                           CUPTI_ACTIVITY_KIND_RUNTIME, CUPTI_ACTIVITY_KIND_DRIVER,
                                           CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL};
#define N_KINDS ((int)(sizeof kinds / sizeof kinds[0]))

static struct {
    pthread_mutex_t lock; /* loading, enabling, users */
    int state;            /* 0: not tried; 1: loaded; -1: unusable, why says why */
    char why[224];
    int users; /* profiling runs in progress */
    CUptiResult (*enable)(CUpti_ActivityKind);
    CUptiResult (*disable)(CUpti_ActivityKind);
    CUptiResult (*register_callbacks)(CUpti_BuffersCallbackRequestFunc,
                                      CUpti_BuffersCallbackCompleteFunc);
    CUptiResult (*flush_all)(uint32_t);
    CUptiResult (*next_record)(uint8_t *, size_t, CUpti_Activity **);
    CUptiResult (*push)(CUpti_ExternalCorrelationKind, uint64_t);
    CUptiResult (*pop)(CUpti_ExternalCorrelationKind, uint64_t *);
    CUptiResult (*result_string)(CUptiResult, const char **);
    CUptiResult (*finalize)(void);
    bool attached; /* buffer callbacks registered; cuptiFinalize detaches CUPTI */
    char *(*demangle)(const char *, char *, size_t *, int *);
    /* below: under rec_lock, taken by buffer_completed (never while calling CUPTI) */
    pthread_mutex_t rec_lock;
    bool collecting;
    corr_rec *corr;
    size_t n_corr, cap_corr;
    kern_rec *kern;
    size_t n_kern, cap_kern;
    lucid_cuda_kprof **sink; /* contexts in a profiling run */
    size_t n_sink, cap_sink;
    kname *names[1024];
} cu = {.lock = PTHREAD_MUTEX_INITIALIZER, .rec_lock = PTHREAD_MUTEX_INITIALIZER};

static bool grow(void **a, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap) return true;
    size_t c = *cap ? 2 * *cap : 256;
    void *b = realloc(*a, c * elem);
    if (!b) return false;
    *a = b;
    *cap = c;
    return true;
}

static const char *cupti_error(CUptiResult r)
{
    const char *s = NULL;
    if (cu.result_string && cu.result_string(r, &s) == CUPTI_SUCCESS && s) return s;
    return "unknown CUPTI error";
}

/* What the profile shows: the demangled name without "void " and the argument list (the
 * template arguments stay), or CUPTI's name as is (C names, or no demangler). */
static char *shown_name(const char *raw)
{
    char *d = NULL;
    int status = -1;
    if (raw[0] == '_' && raw[1] == 'Z' && cu.demangle) {
        d = cu.demangle(raw, NULL, NULL, &status);
        if (status) {
            free(d);
            d = NULL;
        }
    }
    const char *s = d ? d : raw;
    size_t n = strlen(s);
    if (d && strncmp(s, "void ", 5) == 0) s += 5, n -= 5;
    if (d && n && s[n - 1] == ')') {
        int depth = 0;
        for (size_t i = n; i-- > 0;) {
            if (s[i] == ')') depth++;
            if (s[i] == '(' && --depth == 0) {
                if (i > 0) n = i;
                break;
            }
        }
    }
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    free(d);
    return out;
}

/* The shown name of a kernel, kept for the life of the process (under rec_lock). */
static const char *intern(const char *raw)
{
    uint64_t h = 14695981039346656037ull;
    for (const char *c = raw; *c; c++)
        h = (h ^ (unsigned char)*c) * 1099511628211ull;
    kname **b = &cu.names[h % (sizeof cu.names / sizeof cu.names[0])];
    for (kname *e = *b; e; e = e->next)
        if (strcmp(e->raw, raw) == 0) return e->shown;
    kname *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->raw = strdup(raw);
    e->shown = e->raw ? shown_name(raw) : NULL;
    if (!e->shown) {
        free(e->raw);
        free(e);
        return NULL;
    }
    e->next = *b;
    *b = e;
    return e->shown;
}

static void CUPTIAPI buffer_requested(uint8_t **buf, size_t *size, size_t *max_records)
{
    *buf = malloc(BUFFER_BYTES); /* CUPTI asks for 8-byte alignment; malloc gives 16 */
    *size = *buf ? BUFFER_BYTES : 0;
    *max_records = 0;
}

static void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t *buf, size_t size,
                                      size_t valid)
{
    CUpti_Activity *r = NULL;
    pthread_mutex_lock(&cu.rec_lock);
    while (cu.collecting && cu.next_record(buf, valid, &r) == CUPTI_SUCCESS) {
        if (r->kind == CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION) {
            const CUpti_ActivityExternalCorrelation *e = (const void *)r;
            if (e->externalKind == CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0 &&
                grow((void **)&cu.corr, &cu.cap_corr, cu.n_corr, sizeof *cu.corr))
                cu.corr[cu.n_corr++] = (corr_rec){e->correlationId, e->externalId};
        } else if (r->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL ||
                   r->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
            /* the fields read here have had the same offsets in every kernel record version
             * since CUpti_ActivityKernel4, so an older libcupti's records read the same */
            const CUpti_ActivityKernel10 *k = (const void *)r;
            const char *name = k->name ? intern(k->name) : NULL;
            if (name && k->end >= k->start && k->start &&
                grow((void **)&cu.kern, &cu.cap_kern, cu.n_kern, sizeof *cu.kern))
                cu.kern[cu.n_kern++] =
                    (kern_rec){k->correlationId, (int64_t)(k->end - k->start), name};
        }
    }
    pthread_mutex_unlock(&cu.rec_lock);
    free(buf);
}

#define LOAD(field, sym)                                                                           \
    do {                                                                                           \
        *(void **)&cu.field = dlsym(lib, sym);                                                     \
        if (!cu.field) {                                                                           \
            snprintf(cu.why, sizeof cu.why, "%s has no %s", path, sym);                            \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

/* Loads libcupti and registers the buffer callbacks (under cu.lock, once). */
static bool load(void)
{
    static const char *const sonames[] = {"libcupti.so.13", "libcupti.so.12", "libcupti.so"};
    void *lib = NULL;
    const char *path = NULL;
    char first[160] = "";
    for (size_t i = 0; !lib && i < sizeof sonames / sizeof sonames[0]; i++) {
        lib = dlopen(path = sonames[i], RTLD_NOW | RTLD_LOCAL);
        if (!lib && !i) snprintf(first, sizeof first, "%s", dlerror());
    }
    if (!lib) {
        snprintf(cu.why, sizeof cu.why,
                 "libcupti could not be loaded (%s; CUDA's extras/CUPTI/lib64 or the "
                 "nvidia-cuda-cupti wheel's lib on LD_LIBRARY_PATH provides it)",
                 first);
        return false;
    }
    LOAD(result_string, "cuptiGetResultString");
    LOAD(enable, "cuptiActivityEnable");
    LOAD(disable, "cuptiActivityDisable");
    LOAD(register_callbacks, "cuptiActivityRegisterCallbacks");
    LOAD(flush_all, "cuptiActivityFlushAll");
    LOAD(next_record, "cuptiActivityGetNextRecord");
    LOAD(push, "cuptiActivityPushExternalCorrelationId");
    LOAD(pop, "cuptiActivityPopExternalCorrelationId");
    LOAD(finalize, "cuptiFinalize");
    /* the C++ runtime's demangler: the process has it when a C++ library (cuDNN, libcupti)
     * is loaded; without it names stay mangled */
    void *self = dlopen(NULL, RTLD_NOW);
    if (self) *(void **)&cu.demangle = dlsym(self, "__cxa_demangle");
    if (!cu.demangle) *(void **)&cu.demangle = dlsym(lib, "__cxa_demangle");
    return true;
}

bool lucid_cuda_kprof_begin(lucid_cuda_kprof *p)
{
    pthread_mutex_lock(&cu.lock);
    if (!cu.state) cu.state = load() ? 1 : -1;
    if (cu.state > 0 && !cu.users && !cu.attached) {
        /* (again after cuptiFinalize) */
        CUptiResult r = cu.register_callbacks(buffer_requested, buffer_completed);
        if (r != CUPTI_SUCCESS) {
            snprintf(cu.why, sizeof cu.why, "cuptiActivityRegisterCallbacks: %s", cupti_error(r));
            cu.state = -1;
        }
        cu.attached = r == CUPTI_SUCCESS;
    }
    if (cu.state > 0 && !cu.users) {
        CUptiResult r = CUPTI_SUCCESS;
        int i = 0;
        for (; i < N_KINDS && r == CUPTI_SUCCESS; i++)
            r = cu.enable(kinds[i]);
        if (r != CUPTI_SUCCESS) {
            /* another profiler attached, insufficient privileges...: kept for the process */
            snprintf(cu.why, sizeof cu.why, "cuptiActivityEnable (activity kind %d): %s",
                     (int)kinds[i - 1], cupti_error(r));
            while (--i > 0)
                cu.disable(kinds[i - 1]);
            cu.state = -1;
        }
    }
    bool ok = cu.state > 0;
    if (ok) {
        pthread_mutex_lock(&cu.rec_lock);
        ok = grow((void **)&cu.sink, &cu.cap_sink, cu.n_sink, sizeof *cu.sink);
        if (ok) {
            cu.sink[cu.n_sink++] = p;
            cu.collecting = true;
        }
        pthread_mutex_unlock(&cu.rec_lock);
        if (ok)
            cu.users++;
        else if (!cu.users)
            for (int i = N_KINDS; i-- > 0;)
                cu.disable(kinds[i]);
    }
    snprintf(p->why, sizeof p->why, "%s", ok ? "" : cu.state > 0 ? "out of memory" : cu.why);
    p->on = ok;
    pthread_mutex_unlock(&cu.lock);
    return ok;
}

void lucid_cuda_kprof_enter(const lucid_cuda_kprof *p, int k)
{
    cu.push(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, ((uint64_t)p->id << 32) | (uint32_t)k);
}

void lucid_cuda_kprof_leave(void)
{
    uint64_t id;
    cu.pop(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, &id);
}

static int corr_cmp(const void *a, const void *b)
{
    uint32_t x = ((const corr_rec *)a)->corr, y = ((const corr_rec *)b)->corr;
    return x < y ? -1 : x > y;
}

static lucid_cuda_kprof *find_sink(uint64_t ext)
{
    for (size_t i = 0; i < cu.n_sink; i++)
        if (cu.sink[i]->id == (uint32_t)(ext >> 32)) return cu.sink[i];
    return NULL;
}

static void add_kernel(lucid_cuda_kprof *p, uint32_t k, const kern_rec *r)
{
    if (k >= (uint32_t)p->n_layers) return;
    lucid_cuda_layer_kernels *l = &p->layer[k];
    int j = 0;
    while (j < l->n && l->k[j].name != r->name)
        j++;
    if (j == l->n) {
        size_t cap = (size_t)l->cap;
        if (!grow((void **)&l->k, &cap, (size_t)l->n, sizeof *l->k)) return;
        l->cap = (int)cap;
        l->k[l->n++] = (lucid_layer_kernel){.name = r->name};
    }
    l->k[j].launches++;
    l->k[j].total_ns += r->ns;
}

/* Attributes every kernel whose correlation record arrived to its context, if that one is in
 * a profiling run; keeps what other runs in progress may still claim (under rec_lock). */
static void attribute(const lucid_cuda_kprof *done, bool last)
{
    qsort(cu.corr, cu.n_corr, sizeof *cu.corr, corr_cmp);
    size_t keep = 0;
    for (size_t i = 0; i < cu.n_kern; i++) {
        const kern_rec *r = &cu.kern[i];
        corr_rec key = {.corr = r->corr};
        const corr_rec *c = bsearch(&key, cu.corr, cu.n_corr, sizeof *cu.corr, corr_cmp);
        lucid_cuda_kprof *p = c ? find_sink(c->ext) : NULL;
        if (p)
            add_kernel(p, (uint32_t)c->ext, r);
        else if (!c && !last)
            cu.kern[keep++] = *r; /* its correlation record may follow */
    }
    cu.n_kern = keep;
    keep = 0;
    for (size_t i = 0; !last && i < cu.n_corr; i++)
        if ((uint32_t)(cu.corr[i].ext >> 32) != done->id && find_sink(cu.corr[i].ext))
            cu.corr[keep++] = cu.corr[i];
    cu.n_corr = keep;
}

void lucid_cuda_kprof_end(lucid_cuda_kprof *p)
{
    if (!p->on) return;
    pthread_mutex_lock(&cu.lock);
    bool last = cu.users == 1;
    /* the run's stream has synchronized, so its records are complete: a plain flush hands
     * them over; the last run forces out the rest (other contexts' unprofiled kernels) */
    CUptiResult r = cu.flush_all(0);
    if (r == CUPTI_SUCCESS && last) r = cu.flush_all(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    if (r != CUPTI_SUCCESS)
        snprintf(p->why, sizeof p->why, "cuptiActivityFlushAll: %s", cupti_error(r));
    pthread_mutex_lock(&cu.rec_lock);
    attribute(p, last);
    for (size_t i = 0; i < cu.n_sink; i++)
        if (cu.sink[i] == p) cu.sink[i--] = cu.sink[--cu.n_sink];
    if (last) cu.collecting = false;
    pthread_mutex_unlock(&cu.rec_lock);
    if (last) {
        for (int i = N_KINDS; i-- > 0;)
            cu.disable(kinds[i]);
        /* detached, CUPTI slows later launches less: merely disabled, it made the sums of the
         * event-timed layer minimums of later profiling runs up to 1.4 times longer (Fashion
         * ResNet and MobileNet, fp16, H200); detached, ResNet's matched a process without
         * CUPTI, MobileNet's were still up to 1.2 times longer in 2 of 3 runs */
        if (cu.finalize() == CUPTI_SUCCESS) cu.attached = false;
    }
    cu.users--;
    p->on = false;
    p->runs++;
    pthread_mutex_unlock(&cu.lock);
}

#endif
