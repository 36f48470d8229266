/* cpu_features.c - what the processor offers, from cpuid and /proc/cpuinfo. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

void lucid_cpu_features_detect(lucid_cpu_features *out)
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
