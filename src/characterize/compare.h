/* compare.h - `lucid compare`: the rules behind merging characterization results from several
 * machines (model and device identity, dominance, the anomaly test), exposed for tests. */
#ifndef LUCID_CHARACTERIZE_COMPARE_H
#define LUCID_CHARACTERIZE_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

#include "lucid.h"

#define CMP_SCHEMA "lucid-compare/1"
/* How many layers each anomaly lists as accounting for its gap. */
#define CMP_TOP_LAYERS 5
/* Layer outputs whose L2 norms differ by more than this (relative) count as diverged. */
#define CMP_L2_TOLERANCE 1e-3

/* A device's peaks; a value that is not recorded is NaN (fp16 may be NaN alone). */
typedef struct cmp_peaks {
    double gflops_fp32, gflops_fp16, bandwidth_gbs;
} cmp_peaks;

/* The model's identity from its file's path: the base name without extension, or the parent
 * folder's name when the file is called model.* (models/fashion/lenet5/model.onnx: lenet5). */
void cmp_model_name(const char *path, char *out, size_t len);

/* True when a config runs in reduced precision (its name says fp16, bf16 or int8). */
bool cmp_reduced_precision(const char *config);

/* True when device a dominates device b for a config: a's peak compute (FP32, or FP16 for a
 * reduced-precision config when both record an FP16 peak) and bandwidth are both higher.
 * *basis (may be NULL) receives "fp32" or "fp16". False when either lacks its peaks. */
bool cmp_dominates(const cmp_peaks *a, const cmp_peaks *b, bool reduced, const char **basis);

/* The anomaly test for a dominating device a against b: a is slower beyond the margin
 * (a_median > b_median * (1 + margin)) and beyond the noise (a_min > b_p90). When a_min or
 * b_p90 was not recorded (NaN), only the margin counts. */
bool cmp_slower_beyond_noise(double a_median, double a_min, double b_median, double b_p90,
                             double margin);

#endif
