/* quant.h - reduced precision and compression at build time: INT8 calibration (activation
 * statistics, calibrators, the calibration cache), the precision rewrites that turn an
 * optimized float32 graph into a 16-bit or INT8 one, and weight pruning and clustering. */
#ifndef LUCID_QUANT_QUANT_H
#define LUCID_QUANT_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/graph.h"
#include "ir/model.h"
#include "lucid.h"

/* ---- calibration (calibrate.c, calib_cache.c) ------------------------------------- */

#define LUCID_CALIB_BINS 2048
#define LUCID_CALIB_DEFAULT_COUNT 500
#define LUCID_CALIB_DEFAULT_PERCENTILE 99.99
/* The entropy calibrator's quantized levels: 128 magnitudes (int8's 0..127). */
#define LUCID_CALIB_ENTROPY_LEVELS 128

/* What the calibration set showed for one activation tensor (a float32 tensor of the
 * optimized graph that is not a constant: the graph input and every node output, named as
 * there). */
typedef struct lucid_calib_entry {
    char *name;
    double min, max;  /* over every element of every calibration sample */
    double amax;      /* max(|min|, |max|) */
    uint64_t *hist;   /* LUCID_CALIB_BINS counts of |x|: bin j holds
                         j*amax/BINS <= |x| < (j+1)*amax/BINS, the last bin also |x| = amax
                         (all in bin 0 when amax is 0); NULL in a table read from a cache,
                         which also has min = max = amax = 0 */
    double threshold; /* the calibrator's clipping threshold (scale = threshold / 127);
                         0 for a tensor that was 0 on every sample */
} lucid_calib_entry;

typedef struct lucid_calib_table {
    lucid_calib_entry *entries; /* the graph input first, then node outputs in node order */
    size_t n;
    lucid_calibrator calibrator;
    double percentile; /* what the percentile calibrator used (also kept for the others) */
    size_t samples;    /* calibration samples seen (as recorded, for a table from a cache) */
    char source[256];  /* the dataset's description (as recorded, for a table from a cache;
                          cut to 255 bytes) */
} lucid_calib_table;

/* Build options for the plans the build itself runs on calibration samples (calibration,
 * automatic mixed precision): no graph pass, one thread, the deterministic rule at its widest
 * margin (each layer's first tactic in lucid's preference order), so that what they measure
 * depends neither on timing noise nor on the machine's core count. */
void lucid_quant_measuring_options(lucid_build_options *bo);

void lucid_calib_table_destroy(lucid_calib_table *t);
/* The entry for a tensor name, NULL when there is none. */
const lucid_calib_entry *lucid_calib_table_find(const lucid_calib_table *t, const char *name);

/* Runs the float32 model (as an FP32 plan built by the deterministic rule with no graph pass,
 * or on the reference executor when that plan would need layout reorders) over the first
 * `count` samples of `ds`
 * (0: LUCID_CALIB_DEFAULT_COUNT, at most the dataset's size; more than it has is an error) and
 * records every float32 activation tensor's range and |x| histogram, then applies the
 * calibrator (percentile 0: LUCID_CALIB_DEFAULT_PERCENTILE).
 *
 * The model (not changed: a copy runs) must have one float32 input [batch, C, H, W] whose
 * C, H, W are the dataset's sample shape; unknown dimensions are fixed from the dataset and a
 * symbolic batch to 1. A fixed batch B > 1 runs the samples B at a time; the last batch is
 * filled up with samples from the start of the set again (ranges stay exact, histograms
 * count those samples twice). Views and elided nodes of the optimized graph run as copies
 * in the copy, so that every tensor is seen. Two passes over the samples: the first finds
 * min and max, the second fills the histograms over the final [0, amax]; the plan runs on one
 * thread with tactics chosen by preference, not timing, so on one machine a table is a pure
 * function of the model, the samples and the calibrator (another CPU may round differently:
 * the calibration cache reproduces a build anywhere). Non-finite activations, an
 * empty set, samples of the wrong shape, or a model with more than one input or a
 * non-float input fail with a message. */
lucid_status lucid_calib_collect(const lucid_model_t *model, lucid_dataset_t *ds, size_t count,
                                 lucid_calibrator calibrator, double percentile,
                                 lucid_calib_table **out, lucid_error *err);

/* The calibrators on one histogram of |x| (bins over [0, amax]): the clipping threshold, in
 * [0, amax]. An empty histogram (or amax <= 0) gives amax.
 * minmax: amax.
 * percentile (0 < p <= 100, clamped): amax * (j + 1) / bins for the first bin j at which the
 *   count of bins 0..j reaches p% of all (cum * 100 >= p * total, in double): the upper edge
 *   of the bin where the p-th percentile of |x| lies.
 * entropy: with h = hist and h[0] taken as 0 (bin 0 holds the exact zeros of ReLU outputs,
 *   which int8 represents exactly; counted, their spike drives the search to a tiny threshold),
 *   for each candidate i = 128 .. bins (bins kept): P = h[0 .. i) with the count of h[i ..)
 *   added to P[i-1]; Q = h[0 .. i) merged into 128 groups (group g spans bins
 *   [g*i/128, (g+1)*i/128), integer division) and each group's count spread evenly over the
 *   bins of the group where P is non-zero; the i minimizing KL(P || Q) (both normalized;
 *   candidates where Q is 0 where P is not are skipped; ties: the smallest i) gives
 *   min((i + 0.5) * amax / bins, amax). At most 128 bins, or nothing outside bin 0: amax. */
double lucid_calib_threshold_minmax(const uint64_t *hist, size_t bins, double amax);
double lucid_calib_threshold_percentile(const uint64_t *hist, size_t bins, double amax,
                                        double percentile);
double lucid_calib_threshold_entropy(const uint64_t *hist, size_t bins, double amax);

/* The calibration cache: a text file, one threshold per tensor, with a header naming the
 * calibrator and a checksum (format in calib_cache.c and docs/precision.md). The builder reads
 * it only when the file exists; a corrupt, truncated or foreign file is an error naming the
 * file and line. load(save(t)) gives t's names, thresholds, calibrator, percentile, samples and
 * source exactly. Saving writes a uniquely named PATH.tmp.<pid>.<n> and renames it over PATH
 * (src/core/atomic_file.h). */
lucid_status lucid_calib_cache_save(const lucid_calib_table *t, const char *path, lucid_error *err);
lucid_status lucid_calib_cache_load(const char *path, lucid_calib_table **out, lucid_error *err);

/* ---- compression (prune.c, cluster.c) -------------------------------------------- */

typedef struct lucid_compress_layer {
    int node;        /* node index in the graph */
    int64_t weights; /* weights in the layer */
    int64_t zeros_before, zeros_after;
    int distinct_after;  /* distinct values after clustering (0: not clustered) */
    size_t bytes_before; /* float32 dense */
    size_t bytes_after;  /* the compressed size: sparse (bitmap + nonzeros) when pruned,
                            codebook + indices when clustered */
    char note[160];      /* why the layer was skipped or only partly compressed ("" when
                            it was not) */
} lucid_compress_layer;

typedef struct lucid_compress_report {
    lucid_compress_layer *layers;
    size_t n;
} lucid_compress_report;

void lucid_compress_report_free(lucid_compress_report *r);

/* Applies the build options' pruning and clustering to the weights of Conv, FusedConv, Gemm,
 * FusedGemm and MatMul nodes (constant weights only; biases untouched). Deterministic. */
lucid_status lucid_compress_weights(lucid_graph *g, const lucid_build_options *o,
                                    lucid_compress_report *rep, lucid_error *err);

/* ---- per-layer precision decisions (precision.c) ---------------------------------- */

/* For each node of the optimized graph, what the precision stage decided and measured. */
typedef struct lucid_layer_precision {
    lucid_precision precision; /* what it runs in */
    double error;              /* relative L2 error of its output vs float32 on the
                                  calibration set, < 0 when not measured */
    char why[160];             /* why not the requested precision ("" when it has it) */
} lucid_layer_precision;

/* One layer's decision as the build report shows it: the layer (named as in the graph the
 * precision pass saw), what it runs in, and the errors measured on the calibration set. */
typedef struct lucid_precision_record {
    char *name;
    char *op_type;
    lucid_precision precision;
    double error;       /* relative L2 error of its output vs float32 (< 0: not measured) */
    double added_error; /* error minus the largest error among its inputs: what the layer
                           itself adds (< 0: not measured) */
    char why[160];      /* why it is not in the requested precision ("" when it is) */
} lucid_precision_record;

typedef struct lucid_precision_job lucid_precision_job;

/* What the builder asks of the precision pass, and what the pass reports back. */
struct lucid_precision_job {
    const lucid_build_options *opts;
    lucid_compress_report compress;
    char **compress_names;           /* per compress.layers entry: the layer's name */
    lucid_precision_record *records; /* one per layer that could take the precision */
    size_t n_records;
    char calibration[320]; /* where the thresholds came from ("" when none were needed) */
    size_t calib_samples;  /* samples run for calibration (0: from the cache) */
    size_t error_samples;  /* samples run to measure per-layer errors (0: none) */
    double calib_seconds, measure_seconds;
};

void lucid_precision_job_free(lucid_precision_job *job);

/* ---- rewrites -------------------------------------------------------------------- */

/* 16-bit (cast16.c): every node with keep[i] false whose op has 16-bit kernels gets its float
 * activations and weights in `p` (FP16 or BF16); Cast nodes convert at the boundaries with
 * float32 layers and at the graph inputs and outputs. out[i] (per node of the graph before
 * the rewrite) says what each got and why not. */
lucid_status lucid_precision_cast16(lucid_graph *g, lucid_precision p, const bool *keep,
                                    lucid_layer_precision *out, lucid_error *err);

/* INT8 (qdq_insert.c): inserts QuantizeLinear/DequantizeLinear pairs (the explicit
 * quantization form) before the data inputs of every quantizable node with keep[i] false,
 * using the table's thresholds for activations and symmetric per-output-channel int8 for
 * constant weights; the qdq_fusion pass then turns them into int8 layers. Activations that
 * are non-negative by construction are uint8 (one more bit) unless signed_only (GPU plans:
 * cuBLASLt's int8 GEMM reads and writes signed int8 only). */
lucid_status lucid_precision_insert_qdq(lucid_graph *g, const lucid_calib_table *t,
                                        const bool *keep, bool signed_only,
                                        lucid_layer_precision *out, lucid_error *err);

#endif
