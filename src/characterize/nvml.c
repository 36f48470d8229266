/* nvml.c - the GPU's SM clock, board power and energy while a cell runs, from NVIDIA's
 * management library (libnvidia-ml, part of the driver), loaded with dlopen so lucid runs
 * where it is absent: the cell then says why nothing was read.
 *
 * Energy is the driver's cumulative counter (nvmlDeviceGetTotalEnergyConsumption, mJ, Volta
 * and later) read before and after the timed runs; power and SM clock are sampled every 10 ms
 * by a thread during them and averaged. Where the counter is not readable, energy is the mean
 * sampled power times the time, and the note says so. */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "characterize/characterize.h"

typedef void *nvml_device;
typedef int (*fn_init)(void);
typedef int (*fn_shutdown)(void);
typedef const char *(*fn_error)(int);
typedef int (*fn_by_index)(unsigned, nvml_device *);
typedef int (*fn_by_pci)(const char *, nvml_device *);
typedef int (*fn_energy)(nvml_device, unsigned long long *);
typedef int (*fn_power)(nvml_device, unsigned *);
typedef int (*fn_clock)(nvml_device, int, unsigned *);

enum { NVML_CLOCK_SM = 1 };

struct ch_nvml {
    void *lib;
    fn_shutdown shutdown;
    fn_error error;
    fn_energy energy;
    fn_power power;
    fn_clock clock;
    nvml_device dev;
    /* the sampler */
    pthread_t thread;
    pthread_mutex_t lock;
    bool running, stop;
    double power_sum_w, clock_sum_mhz;
    long power_n, clock_n;
    unsigned long long e0;
    bool e0_ok;
    double t0;
};

static void *sym(void *lib, const char *a, const char *b)
{
    void *f = dlsym(lib, a);
    return f || !b ? f : dlsym(lib, b);
}

ch_nvml *ch_nvml_open(const char *pci_bus_id, int ordinal, char *why, size_t why_len)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(why, why_len, "not readable: libnvidia-ml.so.1 cannot be loaded (%s)",
                 dlerror());
        return NULL;
    }
    fn_init init = (fn_init)sym(lib, "nvmlInit_v2", "nvmlInit");
    fn_error error = (fn_error)sym(lib, "nvmlErrorString", NULL);
    fn_by_pci by_pci = (fn_by_pci)sym(lib, "nvmlDeviceGetHandleByPciBusId_v2",
                                      "nvmlDeviceGetHandleByPciBusId");
    fn_by_index by_index = (fn_by_index)sym(lib, "nvmlDeviceGetHandleByIndex_v2",
                                            "nvmlDeviceGetHandleByIndex");
    ch_nvml *n = calloc(1, sizeof *n);
    if (!n || !init || !error || (!by_pci && !by_index)) {
        snprintf(why, why_len, "not readable: %s", n ? "libnvidia-ml lacks nvmlInit or device "
                                                       "lookup"
                                                     : "out of memory");
        free(n);
        dlclose(lib);
        return NULL;
    }
    n->lib = lib;
    n->error = error;
    n->shutdown = (fn_shutdown)sym(lib, "nvmlShutdown", NULL);
    n->energy = (fn_energy)sym(lib, "nvmlDeviceGetTotalEnergyConsumption", NULL);
    n->power = (fn_power)sym(lib, "nvmlDeviceGetPowerUsage", NULL);
    n->clock = (fn_clock)sym(lib, "nvmlDeviceGetClockInfo", NULL);
    int r = init();
    if (r) {
        snprintf(why, why_len, "not readable: nvmlInit: %s", error(r));
        free(n);
        dlclose(lib);
        return NULL;
    }
    /* the CUDA ordinal and NVML's index differ under CUDA_VISIBLE_DEVICES: the PCI bus id
     * names the same board for both */
    r = pci_bus_id && pci_bus_id[0] && by_pci ? by_pci(pci_bus_id, &n->dev)
                                              : by_index((unsigned)ordinal, &n->dev);
    if (r) {
        snprintf(why, why_len, "not readable: no NVML device for %s: %s",
                 pci_bus_id && pci_bus_id[0] ? pci_bus_id : "the CUDA ordinal", error(r));
        if (n->shutdown) n->shutdown();
        free(n);
        dlclose(lib);
        return NULL;
    }
    pthread_mutex_init(&n->lock, NULL);
    why[0] = '\0';
    return n;
}

void ch_nvml_close(ch_nvml *n)
{
    if (!n) return;
    if (n->running) {
        ch_energy e;
        ch_nvml_end(n, 1, &e);
    }
    if (n->shutdown) n->shutdown();
    pthread_mutex_destroy(&n->lock);
    dlclose(n->lib);
    free(n);
}

static void *sampler(void *p)
{
    ch_nvml *n = p;
    struct timespec ts = {0, 10 * 1000 * 1000};
    for (;;) {
        pthread_mutex_lock(&n->lock);
        bool stop = n->stop;
        pthread_mutex_unlock(&n->lock);
        if (stop) break;
        unsigned mw = 0, mhz = 0;
        bool pw = n->power && n->power(n->dev, &mw) == 0;
        bool ck = n->clock && n->clock(n->dev, NVML_CLOCK_SM, &mhz) == 0;
        pthread_mutex_lock(&n->lock);
        if (pw) {
            n->power_sum_w += mw / 1000.0;
            n->power_n++;
        }
        if (ck) {
            n->clock_sum_mhz += mhz;
            n->clock_n++;
        }
        pthread_mutex_unlock(&n->lock);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

void ch_nvml_begin(ch_nvml *n)
{
    if (!n || n->running) return;
    n->power_sum_w = n->clock_sum_mhz = 0;
    n->power_n = n->clock_n = 0;
    n->stop = false;
    n->e0_ok = n->energy && n->energy(n->dev, &n->e0) == 0;
    n->t0 = lucid_time_now();
    n->running = pthread_create(&n->thread, NULL, sampler, n) == 0;
}

void ch_nvml_end(ch_nvml *n, int64_t inferences, ch_energy *out)
{
    memset(out, 0, sizeof *out);
    out->sm_clock_mhz = out->power_w = out->joules_per_inference = NAN;
    if (!n) return;
    double seconds = lucid_time_now() - n->t0;
    unsigned long long e1 = 0;
    bool e1_ok = n->e0_ok && n->energy(n->dev, &e1) == 0;
    if (n->running) {
        pthread_mutex_lock(&n->lock);
        n->stop = true;
        pthread_mutex_unlock(&n->lock);
        pthread_join(n->thread, NULL);
        n->running = false;
    }
    if (n->clock_n) out->sm_clock_mhz = n->clock_sum_mhz / (double)n->clock_n;
    if (n->power_n) out->power_w = n->power_sum_w / (double)n->power_n;
    if (inferences < 1) inferences = 1;
    if (e1_ok && e1 > n->e0) {
        out->joules_per_inference = (double)(e1 - n->e0) / 1000.0 / (double)inferences;
        snprintf(out->note, sizeof out->note,
                 "energy: the driver's energy counter over %.2f s of timed runs; power and SM "
                 "clock: means of %ld samples (10 ms apart)",
                 seconds, n->power_n);
    } else if (n->power_n) {
        out->joules_per_inference = out->power_w * seconds / (double)inferences;
        snprintf(out->note, sizeof out->note,
                 "energy: mean sampled power x %.2f s (the energy counter was %s)", seconds,
                 n->e0_ok ? "too coarse for this run" : "not readable");
    } else {
        snprintf(out->note, sizeof out->note, "not readable: NVML gave neither energy nor power");
    }
    out->readable = n->clock_n || n->power_n || e1_ok;
}
