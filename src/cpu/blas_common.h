/* blas_common.h - OpenBLAS threading for the blas tactics. OpenBLAS runs its own pthread pool
 * whose size is one process-wide setting (openblas_set_num_threads), not lucid's pool: each
 * run sets it to its context's thread count. Two contexts with different thread counts
 * running blas layers at the same moment race on that setting (results stay correct, the
 * thread count of one of them is the other's); the tactics are THREAD_DEPENDENT because
 * OpenBLAS splits its reductions by thread count. */
#ifndef LUCID_CPU_BLAS_COMMON_H
#define LUCID_CPU_BLAS_COMMON_H

#ifdef LUCID_HAVE_BLAS

#include <cblas.h>
#include <stdio.h>
#include <strings.h>

#include "core/threadpool.h"
#include "tactics/tactic.h"

static inline void lucid_blas_threads_set(const lucid_threadpool *pool)
{
    int want = lucid_threadpool_size(pool);
    /* setting it is not free in OpenBLAS (it may wake or park its threads) */
    if (openblas_get_num_threads() != want) openblas_set_num_threads(want);
}

/* OpenBLAS picks its kernels for the core it detects when it loads (OPENBLAS_CORETYPE can
 * name another, before the process starts); under an instruction-set cap that hides a feature
 * of this processor the blas tactics run only if that core's kernels stay within the cap. */
static inline bool lucid_blas_cap_ok(const lucid_cpu_features *cpu, char *why, size_t why_len)
{
    if (!cpu || !cpu->capped) return true;
    static const struct {
        const char *core;
        lucid_cpu_isa needs;
    } cores[] = {
        {"Prescott", LUCID_CPU_ISA_GENERIC},   {"Core2", LUCID_CPU_ISA_GENERIC},
        {"Penryn", LUCID_CPU_ISA_GENERIC},     {"Dunnington", LUCID_CPU_ISA_GENERIC},
        {"Nehalem", LUCID_CPU_ISA_GENERIC},    {"Atom", LUCID_CPU_ISA_GENERIC},
        {"Barcelona", LUCID_CPU_ISA_GENERIC},  {"Sandybridge", LUCID_CPU_ISA_AVX2},
        {"Bulldozer", LUCID_CPU_ISA_AVX2},     {"Piledriver", LUCID_CPU_ISA_AVX2},
        {"Steamroller", LUCID_CPU_ISA_AVX2},   {"Excavator", LUCID_CPU_ISA_AVX2},
        {"Haswell", LUCID_CPU_ISA_AVX2},       {"Zen", LUCID_CPU_ISA_AVX2},
        {"SkylakeX", LUCID_CPU_ISA_AVX512},    {"Cooperlake", LUCID_CPU_ISA_AVX512_BF16},
        {"SapphireRapids", LUCID_CPU_ISA_AMX},
    };
    const char *core = openblas_get_corename();
    for (size_t i = 0; core && i < sizeof cores / sizeof cores[0]; i++)
        if (strcasecmp(core, cores[i].core) == 0) {
            if (cores[i].needs <= cpu->level) return true;
            break;
        }
    snprintf(why, why_len, "OpenBLAS runs its %s kernels, above the instruction-set cap %s",
             core ? core : "unknown", lucid_cpu_isa_name(cpu->level));
    return false;
}

#endif
#endif
