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

void ch_env_read(lucid_characterization_t *c)
{
    lucid_cpu_features cpu;
    lucid_cpu_features_detect(&cpu);
    snprintf(c->cpu_model, sizeof c->cpu_model, "%s", cpu.model);
    c->cores = cpu.cores;
    cpu_flags(c->cpu_flags, sizeof c->cpu_flags);
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
