/* test_noalloc.c - a plan's run path allocates nothing: after a context's first runs,
 * lucid_context_set_input + lucid_context_run make no heap allocation, counted by wrapping
 * the C allocator in this executable (C++ operator new of the libraries comes through malloc
 * too). Plans are built with every tactic family compiled in, and once per family that
 * keeps its own per-context handles (oneDNN, XNNPACK) on its own, so that each is seen on
 * the run path. Under AddressSanitizer the allocator belongs to the sanitizer: skipped. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lucid.h"
#include "tactics/tactic.h"
#include "test_util.h"

#if defined(__SANITIZE_ADDRESS__)
#define LUCID_NOALLOC_SKIP "built with AddressSanitizer, which owns the allocator"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LUCID_NOALLOC_SKIP "built with AddressSanitizer, which owns the allocator"
#endif
#endif

#ifndef LUCID_NOALLOC_SKIP
/* glibc's own entry points, which these wrappers forward to */
void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *__libc_memalign(size_t, size_t);
void __libc_free(void *);

static volatile int counting;
static volatile long allocations, in_libs;
static __thread int in_hook;
/* Allocations the libraries make inside their own compute calls, which lucid cannot avoid
 * through their APIs, are counted apart: oneDNN's while dnnl_primitive_execute is on the
 * calling thread's stack or by its code on an OpenMP worker thread (its argument map, kernel
 * temporaries), and OpenBLAS's inside its code (the job array of a threaded sgemm). What lucid
 * asks of oneDNN itself on the calling thread (memory objects, streams) counts as lucid's. */
static const char *dnnl_exec_lo, *dnnl_exec_hi; /* dnnl_primitive_execute */
static const char *dnnl_lib_lo, *dnnl_lib_hi;   /* libdnnl's code */
static const char *blas_lib_lo, *blas_lib_hi;   /* libopenblas's code */
static pthread_t main_thread;
enum { MAX_SITES = 16, DEPTH = 48 };
static void *sites[MAX_SITES][DEPTH];
static volatile int n_sites;

static void counted(void)
{
    if (!counting || in_hook) return;
    in_hook = 1;
    void *frames[DEPTH];
    int got = backtrace(frames, DEPTH); /* primed before counting: no allocation here */
    bool worker = !pthread_equal(pthread_self(), main_thread), library = false;
    for (int i = 0; i < got; i++) {
        const char *f = frames[i];
        library = library || (f >= dnnl_exec_lo && f < dnnl_exec_hi) ||
                  (worker && f >= dnnl_lib_lo && f < dnnl_lib_hi) ||
                  (f >= blas_lib_lo && f < blas_lib_hi);
    }
    if (library) {
        __atomic_add_fetch(&in_libs, 1, __ATOMIC_RELAXED);
    } else {
        __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
        int k = __atomic_fetch_add(&n_sites, 1, __ATOMIC_RELAXED);
        for (int i = 0; k < MAX_SITES && i < DEPTH; i++)
            sites[k][i] = i < got ? frames[i] : NULL;
    }
    in_hook = 0;
}

/* Finds the executable segments of libdnnl and libopenblas. */
static int find_libs(struct dl_phdr_info *info, size_t size, void *user)
{
    (void)size;
    (void)user;
    const char **lo = NULL, **hi = NULL;
    if (info->dlpi_name && strstr(info->dlpi_name, "libdnnl")) {
        lo = &dnnl_lib_lo;
        hi = &dnnl_lib_hi;
    } else if (info->dlpi_name && strstr(info->dlpi_name, "libopenblas")) {
        lo = &blas_lib_lo;
        hi = &blas_lib_hi;
    }
    for (int i = 0; lo && i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            *lo = (const char *)(info->dlpi_addr + ph->p_vaddr);
            *hi = *lo + ph->p_memsz;
        }
    }
    return 0;
}

/* Threads of this process, from /proc. */
static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

void *malloc(size_t n)
{
    counted();
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    counted();
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    counted();
    return __libc_realloc(p, n);
}
void free(void *p)
{
    __libc_free(p);
}
void *aligned_alloc(size_t a, size_t n)
{
    counted();
    return __libc_memalign(a, n);
}
void *memalign(size_t a, size_t n)
{
    counted();
    return __libc_memalign(a, n);
}
int posix_memalign(void **out, size_t a, size_t n)
{
    counted();
    void *p = __libc_memalign(a, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}

static void show_sites(void)
{
    int n = n_sites < MAX_SITES ? n_sites : MAX_SITES;
    for (int k = 0; k < n; k++) {
        printf("  allocation %d from:\n", k);
        for (int i = 2; i < 12 && sites[k][i]; i++) {
            Dl_info info;
            if (dladdr(sites[k][i], &info) && info.dli_sname)
                printf("    %s+%#lx (%s)\n", info.dli_sname,
                       (unsigned long)((char *)sites[k][i] - (char *)info.dli_saddr),
                       info.dli_fname);
            else
                printf("    %p (%s)\n", sites[k][i],
                       dladdr(sites[k][i], &info) ? info.dli_fname : "?");
        }
    }
}

/* Builds model with the given tactic filter, runs it 3 times, then counts allocations over
 * `runs` runs that set the input each time. */
static void check_model(const char *path, const char *tactics, const char *label, int threads)
{
    lucid_error err;
    lucid_model_t *m = NULL;
    if (lucid_model_load(path, &m, &err)) {
        CHECK(0, "%s: %s", path, err.message);
        return;
    }
    bool compiled = !tactics;
    for (size_t i = 0; !compiled && i < lucid_tactic_count(); i++)
        compiled = strncmp(lucid_tactic_at(i)->name, tactics, strlen(tactics)) == 0;
    if (!compiled) {
        printf("SKIP %s [%s]: no such tactic in this build\n", path, label);
        lucid_model_destroy(m);
        return;
    }
    lucid_build_options o;
    lucid_build_options_default(&o);
    o.threads = threads;
    o.time_ms = 1;
    if (tactics) {
        o.tactics = &tactics;
        o.n_tactics = 1;
    }
    lucid_plan_t *plan = NULL;
    lucid_context_t *ctx = NULL;
    if (lucid_plan_build(m, &o, &plan, &err)) {
        /* a family that cannot run this model at all is not what is tested here */
        printf("SKIP %s [%s]: %s\n", path, label, err.message);
        lucid_model_destroy(m);
        return;
    }
    CHECK(lucid_context_create_plan(plan, NULL, &ctx, &err) == 0, "%s: context: %s", path,
          err.message);
    if (!ctx) goto out;
    lucid_plan_info info;
    lucid_plan_get_info(plan, &info);
    size_t used = 0;
    for (size_t i = 0; i < info.num_layers; i++) {
        lucid_layer_info li;
        lucid_plan_layer(plan, i, &li);
        if (tactics && li.tactic && strncmp(li.tactic, tactics, strlen(tactics)) == 0) used++;
    }
    lucid_tensor_desc d;
    lucid_model_input(lucid_plan_model(plan), 0, &d);
    int64_t count = 1;
    for (int i = 0; i < d.rank; i++)
        count *= d.dims[i];
    float *x = __libc_malloc(sizeof(float) * (size_t)count);
    for (int64_t i = 0; i < count; i++)
        x[i] = (float)((i * 131) % 97) / 48.0f - 1.0f;
    bool ok = true;
    for (int r = 0; r < 3 && ok; r++)
        ok = !lucid_context_set_input(ctx, d.name, LUCID_DTYPE_FLOAT, d.rank, d.dims, x) &&
             !lucid_context_run(ctx);
    CHECK(ok, "%s [%s]: warm-up runs: %s", path, label, lucid_context_error(ctx));
    const int runs = 5;
    allocations = in_libs = 0;
    n_sites = 0;
    int threads_before = thread_count();
    counting = 1;
    for (int r = 0; r < runs && ok; r++)
        ok = !lucid_context_set_input(ctx, d.name, LUCID_DTYPE_FLOAT, d.rank, d.dims, x) &&
             !lucid_context_run(ctx);
    counting = 0;
    int threads_after = thread_count();
    long seen = allocations, lib = in_libs;
    CHECK(ok, "%s [%s]: runs: %s", path, label, lucid_context_error(ctx));
    printf("  %s [%s, %d threads, %zu layers, %zu of them from the family]: %ld allocations in "
           "%d runs, and %ld inside oneDNN's and OpenBLAS's compute calls\n",
           path, label, threads, info.num_layers, used, seen, runs, lib);
    CHECK(seen == 0, "%s [%s]: %ld heap allocations in %d runs", path, label, seen, runs);
    if (seen) show_sites();
    CHECK(threads_before > 0 && threads_before == threads_after,
          "%s [%s]: %d threads before the runs, %d after", path, label, threads_before,
          threads_after);
    /* the family under test must really be on the run path, unless an instruction-set cap
     * makes its library refuse (OpenBLAS on a core above the cap, XNNPACK under any) */
    if (tactics && used == 0 && lucid_cpu_cap_get() != LUCID_CPU_ISA_NATIVE)
        printf("SKIP %s [%s]: no layer uses the family under LUCID_CPU_ISA=%s\n", path, label,
               lucid_cpu_isa_name(lucid_cpu_cap_get()));
    else
        CHECK(!tactics || used > 0, "%s [%s]: no layer uses the family", path, label);
    __libc_free(x);
out:
    lucid_context_destroy(ctx);
    lucid_plan_destroy(plan);
    lucid_model_destroy(m);
}
#endif

int main(void)
{
#ifdef LUCID_NOALLOC_SKIP
    printf("SKIP: %s\n", LUCID_NOALLOC_SKIP);
    return 0;
#else
    void *prime[2];
    backtrace(prime, 2);
    Dl_info info;
    const void *sym = NULL;
    main_thread = pthread_self();
    dl_iterate_phdr(find_libs, NULL);
    void *exec = dlsym(RTLD_DEFAULT, "dnnl_primitive_execute");
    if (exec && dladdr1(exec, &info, (void **)&sym, RTLD_DL_SYMENT) && sym) {
        dnnl_exec_lo = exec;
        dnnl_exec_hi = dnnl_exec_lo + ((const ElfW(Sym) *)sym)->st_size;
    }
    static const char *models[] = {"resnet", "mobilenet", "inception"};
    static const struct {
        const char *filter, *label;
    } families[] = {
        {NULL, "all tactics"},        {"dnnl.", "oneDNN only"},   {"xnn.", "XNNPACK only"},
        {"cpu.", "own kernels only"}, {"blas.", "OpenBLAS only"},
    };
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/models/fashion/%s/model.onnx", LUCID_SOURCE_DIR, models[i]);
        for (size_t f = 0; f < sizeof families / sizeof *families; f++)
            for (int threads = 1; threads <= 2; threads++)
                check_model(path, families[f].filter, families[f].label, threads);
    }
    return test_summary();
#endif
}
