/* env.c - the environment a study ran in: CPU model and flags, cores, memory, clocks,
 * kernel, compiler, GPU and driver, library versions, load averages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "characterize/characterize.h"

#ifdef LUCID_HAVE_DNNL
#include <dnnl.h>
#endif
#ifdef LUCID_HAVE_BLAS
#include <cblas.h>
#endif

/* The first line of a file, trimmed, or "" when unreadable. */
static void read_line(const char *path, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(out, (int)len, f)) out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

void ch_env_load(double load[3])
{
    load[0] = load[1] = load[2] = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3)
        load[0] = load[1] = load[2] = -1;
    fclose(f);
}

/* The flags that matter for lucid's tactics, in a fixed order, from /proc/cpuinfo. */
static void cpu_flags(char *out, size_t len)
{
    static const char *const wanted[] = {"sse4_1",   "avx",         "avx2",        "fma",
                                         "f16c",     "avx512f",     "avx512dq",    "avx512bw",
                                         "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                                         "avx_vnni", "amx_tile",    "amx_bf16",    "amx_int8"};
    out[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (strncmp(line, "flags", 5) != 0) continue;
        char *colon = strchr(line, ':');
        if (!colon) break;
        size_t pos = 0;
        for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
            char pat[40];
            snprintf(pat, sizeof pat, " %s", wanted[i]);
            char *hit = colon;
            bool found = false;
            while ((hit = strstr(hit, pat))) {
                char after = hit[strlen(pat)];
                if (after == ' ' || after == '\n' || after == '\0') {
                    found = true;
                    break;
                }
                hit += strlen(pat);
            }
            if (found && pos < len) {
                int w = snprintf(out + pos, len - pos, "%s%s", pos ? " " : "", wanted[i]);
                if (w > 0) pos += (size_t)w;
            }
        }
        break;
    }
    free(line);
    fclose(f);
}

/* One thread's memcpy bandwidth, counting bytes read and written: the best of 3 copies of
 * 128 MiB (0 when the memory is not there). */
static double copy_bandwidth_gbs(void)
{
    size_t n = (size_t)128 << 20;
    char *a = malloc(n), *b = malloc(n);
    double best = 0;
    if (a && b) {
        memset(a, 1, n);
        memset(b, 2, n);
        for (int r = 0; r < 3; r++) {
            double t0 = lucid_time_now();
            memcpy(b, a, n);
            double t = lucid_time_now() - t0;
            a[r] = b[n - 1 - (size_t)r]; /* keeps the copy */
            if (t > 0 && 2.0 * (double)n / t / 1e9 > best) best = 2.0 * (double)n / t / 1e9;
        }
    }
    free(a);
    free(b);
    return best;
}

/* The CPU's peak FP32 rate, an upper bound: cores x maximum clock x two FMA pipes of the
 * widest vector the processor has (16 lanes with AVX-512, 8 with AVX2/FMA, 4 otherwise) x 2.
 * Processors that split 512-bit operations into two halves (AMD Zen 4) reach half of it. */
static void cpu_peaks(lucid_characterization_t *c, const lucid_cpu_features *cpu)
{
    char khz[64];
    read_line("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", khz, sizeof khz);
    double mhz = khz[0] ? atof(khz) / 1000.0 : 0;
    const char *clock_from = "cpuinfo_max_freq";
    if (mhz <= 0) {
        FILE *f = fopen("/proc/cpuinfo", "r");
        char line[256];
        while (f && fgets(line, sizeof line, f))
            if (strncmp(line, "cpu MHz", 7) == 0 && strchr(line, ':')) {
                mhz = atof(strchr(line, ':') + 1);
                break;
            }
        if (f) fclose(f);
        clock_from = "/proc/cpuinfo's cpu MHz";
    }
    int lanes = cpu->native >= LUCID_CPU_ISA_AVX512 ? 16 : cpu->native >= LUCID_CPU_ISA_AVX2 ? 8 : 4;
    c->cpu_peak_gflops = (double)cpu->cores * mhz / 1000.0 * 2 * lanes * 2;
    c->cpu_bandwidth_gbs = copy_bandwidth_gbs();
    snprintf(c->cpu_peak_source, sizeof c->cpu_peak_source,
             "FP32 peak: %d cores x %.0f MHz (%s) x 2 FMA pipes x %d lanes x 2, an upper bound; "
             "bandwidth: measured, one thread's memcpy of 128 MiB, bytes read and written",
             cpu->cores, mhz, clock_from, lanes);
}

void ch_env_read(lucid_characterization_t *c)
{
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    snprintf(c->cpu_model, sizeof c->cpu_model, "%s", cpu.model);
    c->cores = cpu.cores;
    cpu_flags(c->cpu_flags, sizeof c->cpu_flags);
    cpu_peaks(c, &cpu);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(c->kernel, sizeof c->kernel, "%s %s %s", u.sysname, u.release, u.machine);
#ifdef __VERSION__
    snprintf(c->compiler, sizeof c->compiler, "%s", __VERSION__);
#endif
    read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", c->governor,
              sizeof c->governor);
    char khz[64];
    read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", khz, sizeof khz);
    if (khz[0]) snprintf(c->freq_mhz, sizeof c->freq_mhz, "%.0f", atof(khz) / 1000.0);
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        long long kb;
        if (fscanf(f, "MemTotal: %lld kB", &kb) == 1) c->mem_total_kb = kb;
        fclose(f);
    }
    char drv[200];
    read_line("/proc/driver/nvidia/version", drv, sizeof drv);
    if (drv[0])
        snprintf(c->gpu, sizeof c->gpu, "%s", drv);
    else
        snprintf(c->gpu, sizeof c->gpu, "none (no NVIDIA driver: /proc/driver/nvidia absent)");
#ifdef LUCID_HAVE_DNNL
    const dnnl_version_t *v = dnnl_version();
    snprintf(c->dnnl_version, sizeof c->dnnl_version, "%d.%d.%d", v->major, v->minor, v->patch);
#else
    snprintf(c->dnnl_version, sizeof c->dnnl_version, "not built in");
#endif
#ifdef LUCID_HAVE_BLAS
    snprintf(c->blas_version, sizeof c->blas_version, "%s", openblas_get_config());
#else
    snprintf(c->blas_version, sizeof c->blas_version, "not built in");
#endif
}
