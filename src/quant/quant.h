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

/* What the calibration set showed for one activation tensor (a float32 tensor of the
 * optimized graph, named as there). */
typedef struct lucid_calib_entry {
    char *name;
    double min, max;        /* over every element of every calibration sample */
    double amax;            /* max(|min|, |max|) */
    uint64_t hist[LUCID_CALIB_BINS]; /* |x| in LUCID_CALIB_BINS equal bins over [0, amax] */
    double threshold;       /* the calibrator's clipping threshold (scale = threshold / 127) */
} lucid_calib_entry;

typedef struct lucid_calib_table {
    lucid_calib_entry *entries;
    size_t n;
    lucid_calibrator calibrator;
    double percentile;
    size_t samples;         /* calibration samples seen (0 for a table read from a cache) */
    char source[256];       /* the dataset's description, or the cache file */
} lucid_calib_table;

void lucid_calib_table_destroy(lucid_calib_table *t);
/* The entry for a tensor name, NULL when there is none. */
const lucid_calib_entry *lucid_calib_table_find(const lucid_calib_table *t, const char *name);

/* Runs the model (float32, reference or any plan of it: the caller's choice through
 * `model`) over the first `count` samples of `ds` (0: 500, at most the dataset's size) and
 * records every float32 activation tensor's range and |x| histogram (two passes: ranges,
 * then histograms over the final ranges), then applies the calibrator. Samples of the wrong
 * shape, an empty set, or a model with more than one input fail with a message. */
lucid_status lucid_calib_collect(const lucid_model_t *model, lucid_dataset_t *ds, size_t count,
                                 lucid_calibrator calibrator, double percentile,
                                 lucid_calib_table **out, lucid_error *err);

/* The calibrators on one histogram of |x| (bins over [0, amax]): the clipping threshold. */
double lucid_calib_threshold_minmax(const uint64_t *hist, size_t bins, double amax);
double lucid_calib_threshold_percentile(const uint64_t *hist, size_t bins, double amax,
                                        double percentile);
double lucid_calib_threshold_entropy(const uint64_t *hist, size_t bins, double amax);

/* The calibration cache: a text file, one threshold per tensor, with a header naming the
 * calibrator and a checksum (format in docs/precision.md). The builder reads it only when the
 * file exists; a corrupt, truncated or foreign file is an error naming the file and line. */
lucid_status lucid_calib_cache_save(const lucid_calib_table *t, const char *path,
                                    lucid_error *err);
lucid_status lucid_calib_cache_load(const char *path, lucid_calib_table **out, lucid_error *err);

/* ---- compression (prune.c, cluster.c) -------------------------------------------- */

typedef struct lucid_compress_layer {
    int node;                /* node index in the graph */
    int64_t weights;         /* weights in the layer */
    int64_t zeros_before, zeros_after;
    int distinct_after;      /* distinct values after clustering (0: not clustered) */
    size_t bytes_before;     /* float32 dense */
    size_t bytes_after;      /* the compressed size: sparse (bitmap + nonzeros) when pruned,
                                codebook + indices when clustered */
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
    char calibration[320];  /* where the thresholds came from ("" when none were needed) */
    size_t calib_samples;   /* samples run for calibration (0: from the cache) */
    size_t error_samples;   /* samples run to measure per-layer errors (0: none) */
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
 * constant weights; the qdq_fusion pass then turns them into int8 layers. */
lucid_status lucid_precision_insert_qdq(lucid_graph *g, const lucid_calib_table *t,
                                        const bool *keep, lucid_layer_precision *out,
                                        lucid_error *err);

#endif
