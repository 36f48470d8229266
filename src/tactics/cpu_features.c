/* cpu_features.c - what the processor offers, from cpuid and /proc/cpuinfo, and the
 * process's instruction-set cap that hides the levels above one. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "tactics/tactic.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}
#endif

static void read_model(char *dst, size_t len)
{
    snprintf(dst, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *colon = strchr(line, ':');
        if (!colon) break;
        colon++;
        while (*colon == ' ' || *colon == '\t') colon++;
        snprintf(dst, len, "%s", colon);
        size_t n = strlen(dst);
        while (n && (dst[n - 1] == '\n' || dst[n - 1] == ' ')) dst[--n] = '\0';
        break;
    }
    fclose(f);
}

static void detect_host(lucid_cpu_features *out)
{
    memset(out, 0, sizeof *out);
    read_model(out->model, sizeof out->model);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    out->cores = cores > 0 ? (int)cores : 1;
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    out->sse41 = (c >> 19) & 1;
    out->fma = (c >> 12) & 1;
    out->f16c = (c >> 29) & 1;
    bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
    bool tiles = (xcr0 & 0x60000) == 0x60000;
    out->avx = avx && ymm;
    out->fma = out->fma && out->avx;
    out->f16c = out->f16c && out->avx;
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    out->avx2 = out->avx && ((b >> 5) & 1);
    out->avx512f = zmm && ((b >> 16) & 1);
    out->avx512dq = out->avx512f && ((b >> 17) & 1);
    out->avx512bw = out->avx512f && ((b >> 30) & 1);
    out->avx512vl = out->avx512f && ((b >> 31) & 1);
    out->avx512_vnni = out->avx512f && ((c >> 11) & 1);
    out->avx512_fp16 = out->avx512f && ((d >> 23) & 1);
    out->amx_bf16 = tiles && ((d >> 22) & 1);
    out->amx_tile = tiles && ((d >> 24) & 1);
    out->amx_int8 = tiles && ((d >> 25) & 1);
    __cpuid_count(7, 1, a, b, c, d);
    out->avx_vnni = out->avx && ((a >> 4) & 1);
    out->avx512_bf16 = out->avx512f && ((a >> 5) & 1);
#endif
}

/* ---- levels and the cap ---- */

static const char *const isa_names[] = {
    [LUCID_CPU_ISA_GENERIC] = "generic",         [LUCID_CPU_ISA_AVX2] = "avx2",
    [LUCID_CPU_ISA_AVX512] = "avx512",           [LUCID_CPU_ISA_AVX512_VNNI] = "avx512_vnni",
    [LUCID_CPU_ISA_AVX512_BF16] = "avx512_bf16", [LUCID_CPU_ISA_AMX] = "amx",
    [LUCID_CPU_ISA_NATIVE] = "native",
};
_Static_assert(sizeof isa_names / sizeof isa_names[0] == LUCID_CPU_ISA_NATIVE + 1,
               "one name per level");

const char *lucid_cpu_isa_name(lucid_cpu_isa isa)
{
    return (unsigned)isa <= LUCID_CPU_ISA_NATIVE ? isa_names[isa] : NULL;
}

lucid_status lucid_cpu_isa_parse(const char *name, lucid_cpu_isa *out)
{
    if (!name || !out) return LUCID_STATUS_INVALID_ARGUMENT;
    for (int i = 0; i <= LUCID_CPU_ISA_NATIVE; i++)
        if (strcmp(name, isa_names[i]) == 0) {
            *out = (lucid_cpu_isa)i;
            return LUCID_STATUS_OK;
        }
    return LUCID_STATUS_INVALID_ARGUMENT;
}

/* The level a processor offers completely: each level needs its own features and those of
 * the levels below (AVX-VNNI and AVX512-FP16 are kept at their level but not required). */
static lucid_cpu_isa level_of(const lucid_cpu_features *f)
{
    if (!(f->avx && f->avx2 && f->fma && f->f16c)) return LUCID_CPU_ISA_GENERIC;
    if (!(f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq)) return LUCID_CPU_ISA_AVX2;
    if (!f->avx512_vnni) return LUCID_CPU_ISA_AVX512;
    if (!f->avx512_bf16) return LUCID_CPU_ISA_AVX512_VNNI;
    if (!(f->amx_tile && f->amx_int8 && f->amx_bf16)) return LUCID_CPU_ISA_AVX512_BF16;
    return LUCID_CPU_ISA_AMX;
}

/* Clears the features above `level`; true if any was set. */
static bool hide_above(lucid_cpu_features *f, lucid_cpu_isa level)
{
    bool hid = false;
#define LUCID_HIDE(flag, min)                                                                  \
    if (level < (min) && f->flag) {                                                            \
        f->flag = false;                                                                       \
        hid = true;                                                                            \
    }
    LUCID_HIDE(avx, LUCID_CPU_ISA_AVX2)
    LUCID_HIDE(avx2, LUCID_CPU_ISA_AVX2)
    LUCID_HIDE(fma, LUCID_CPU_ISA_AVX2)
    LUCID_HIDE(f16c, LUCID_CPU_ISA_AVX2)
    LUCID_HIDE(avx512f, LUCID_CPU_ISA_AVX512)
    LUCID_HIDE(avx512bw, LUCID_CPU_ISA_AVX512)
    LUCID_HIDE(avx512vl, LUCID_CPU_ISA_AVX512)
    LUCID_HIDE(avx512dq, LUCID_CPU_ISA_AVX512)
    LUCID_HIDE(avx512_vnni, LUCID_CPU_ISA_AVX512_VNNI)
    LUCID_HIDE(avx_vnni, LUCID_CPU_ISA_AVX512_VNNI)
    LUCID_HIDE(avx512_bf16, LUCID_CPU_ISA_AVX512_BF16)
    LUCID_HIDE(avx512_fp16, LUCID_CPU_ISA_AMX)
    LUCID_HIDE(amx_tile, LUCID_CPU_ISA_AMX)
    LUCID_HIDE(amx_bf16, LUCID_CPU_ISA_AMX)
    LUCID_HIDE(amx_int8, LUCID_CPU_ISA_AMX)
#undef LUCID_HIDE
    return hid;
}

/* The cap is process-wide, as the libraries' own controls are (oneDNN's maximum ISA is
 * fixed when it first dispatches): one atomic word, set from LUCID_CPU_ISA once. An
 * unreadable LUCID_CPU_ISA sets no cap and is remembered: building or loading a plan then
 * fails naming it (lucid_cpu_cap_env_check), so a typo never runs uncapped silently. */
static atomic_int cap_value = LUCID_CPU_ISA_NATIVE;
static pthread_once_t cap_once = PTHREAD_ONCE_INIT;
static char cap_env_bad[64];

static void cap_from_env(void)
{
    lucid_cpu_isa isa;
    const char *env = getenv("LUCID_CPU_ISA");
    if (!env || !env[0]) return;
    if (lucid_cpu_isa_parse(env, &isa) == LUCID_STATUS_OK)
        atomic_store(&cap_value, (int)isa);
    else
        snprintf(cap_env_bad, sizeof cap_env_bad, "%s", env);
}

lucid_status lucid_cpu_cap_env_check(lucid_error *err)
{
    pthread_once(&cap_once, cap_from_env);
    if (!cap_env_bad[0]) return LUCID_STATUS_OK;
    return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                        "LUCID_CPU_ISA='%s' is not an instruction-set level (generic, avx2, "
                        "avx512, avx512_vnni, avx512_bf16, amx or native)",
                        cap_env_bad);
}

lucid_cpu_isa lucid_cpu_cap_get(void)
{
    pthread_once(&cap_once, cap_from_env);
    return (lucid_cpu_isa)atomic_load(&cap_value);
}

lucid_status lucid_cpu_cap(lucid_cpu_isa isa)
{
    if ((unsigned)isa > LUCID_CPU_ISA_NATIVE) return LUCID_STATUS_INVALID_ARGUMENT;
    pthread_once(&cap_once, cap_from_env);
    atomic_store(&cap_value, (int)isa);
    return LUCID_STATUS_OK;
}

int lucid_cpu_cap_hides(void)
{
    lucid_cpu_features f;
    lucid_cpu_features_detect(&f);
    return f.capped ? 1 : 0;
}

lucid_cpu_isa lucid_cpu_isa_native(void)
{
    lucid_cpu_features f;
    detect_host(&f);
    return level_of(&f);
}

void lucid_cpu_features_detect_native(lucid_cpu_features *out)
{
    detect_host(out);
    out->native = out->level = level_of(out);
    out->capped = false;
}

void lucid_cpu_features_detect(lucid_cpu_features *out)
{
    lucid_cpu_features_detect_native(out);
    lucid_cpu_isa cap = lucid_cpu_cap_get();
    if (cap == LUCID_CPU_ISA_NATIVE) return;
    out->capped = hide_above(out, cap);
    out->level = level_of(out);
    if (out->capped) lucid_dnnl_cap(cap);
}
