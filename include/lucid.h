/* lucid.h - the public C API of lucid, an open neural-network inference engine.
 *
 * Usage:
 *
 *     lucid_error err;
 *     lucid_model_t *model = NULL;
 *     if (lucid_model_load("resnet18.onnx", &model, &err) != LUCID_STATUS_OK) {
 *         fprintf(stderr, "%s\n", err.message);
 *         return 1;
 *     }
 *     lucid_context_t *ctx = NULL;
 *     if (lucid_context_create(model, NULL, &ctx, &err) != LUCID_STATUS_OK) { ... }
 *     int64_t dims[4] = {1, 3, 224, 224};
 *     lucid_context_set_input(ctx, "input", LUCID_DTYPE_FLOAT, 4, dims, pixels);
 *     if (lucid_context_run(ctx) != LUCID_STATUS_OK)
 *         fprintf(stderr, "%s\n", lucid_context_error(ctx));
 *     lucid_array out;
 *     lucid_context_output(ctx, 0, &out);   // a view, valid until the next run
 *     lucid_context_destroy(ctx);
 *     lucid_model_destroy(model);
 *
 * Conventions: every call that can fail returns lucid_status; LUCID_STATUS_OK is 0.
 * Calls that create an object take an optional lucid_error* (may be NULL) that receives
 * a message naming the file, node, op and opset involved. Objects keep the message of
 * their last failed call (lucid_context_error). destroy(NULL) is a no-op. A failed call
 * leaves its objects as they were.
 */
#ifndef LUCID_H
#define LUCID_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ---------------------------------------------------------------------- */

typedef enum lucid_status {
    LUCID_STATUS_OK = 0,
    LUCID_STATUS_INVALID_ARGUMENT = 1, /* a bad argument or flag from the caller */
    LUCID_STATUS_INVALID_MODEL = 2,    /* malformed, inconsistent or hostile model/plan/data */
    LUCID_STATUS_UNSUPPORTED = 3,      /* well-formed, but an op, dtype or feature lucid lacks */
    LUCID_STATUS_OUT_OF_MEMORY = 4,
    LUCID_STATUS_IO_ERROR = 5,        /* a file could not be opened, read or written */
    LUCID_STATUS_LIMIT_EXCEEDED = 6,  /* a documented limit (rank, elements, sizes) was hit */
    LUCID_STATUS_INTERNAL = 7,        /* a bug in lucid */
} lucid_status;

/* A short, static name for a status ("invalid model"). */
const char *lucid_status_string(lucid_status status);

/* The message buffer filled by calls that create objects. */
typedef struct lucid_error {
    lucid_status status;
    char message[1024];
} lucid_error;

/* ---- data types and arrays ------------------------------------------------------- */

/* Values match ONNX TensorProto.DataType. */
typedef enum lucid_dtype {
    LUCID_DTYPE_UNDEFINED = 0,
    LUCID_DTYPE_FLOAT = 1,
    LUCID_DTYPE_UINT8 = 2,
    LUCID_DTYPE_INT8 = 3,
    LUCID_DTYPE_UINT16 = 4,
    LUCID_DTYPE_INT16 = 5,
    LUCID_DTYPE_INT32 = 6,
    LUCID_DTYPE_INT64 = 7,
    LUCID_DTYPE_STRING = 8,
    LUCID_DTYPE_BOOL = 9,
    LUCID_DTYPE_FLOAT16 = 10,
    LUCID_DTYPE_DOUBLE = 11,
    LUCID_DTYPE_UINT32 = 12,
    LUCID_DTYPE_UINT64 = 13,
    LUCID_DTYPE_BFLOAT16 = 16,
} lucid_dtype;

/* "float32", "int64", ...; "undefined" for unknown values. */
const char *lucid_dtype_name(lucid_dtype dtype);
/* Bytes per element; 0 for STRING, UNDEFINED and unknown values. */
size_t lucid_dtype_size(lucid_dtype dtype);

/* Documented limits on what lucid accepts from files. */
#define LUCID_MAX_RANK 8
#define LUCID_MAX_ELEMENTS ((int64_t)1 << 32) /* per tensor */
#define LUCID_MAX_NAME 256

/* A dense, row-major array. Arrays from loaders own `data` (release with lucid_array_free);
 * arrays from lucid_context_output are views owned by the context. */
typedef struct lucid_array {
    char name[LUCID_MAX_NAME];
    lucid_dtype dtype;
    int rank;
    int64_t dims[LUCID_MAX_RANK];
    void *data;
    size_t nbytes;
} lucid_array;

/* Number of elements of an array (1 for rank 0). */
int64_t lucid_array_numel(const lucid_array *a);
/* Frees data owned by an array from a loader and zeroes the struct. NULL is a no-op. */
void lucid_array_free(lucid_array *a);

/* Reads a NumPy .npy file (format 1.0-3.0, little-endian, C order; bool, int8-64, uint8-64,
 * float16/32/64). The array name is left empty. */
lucid_status lucid_array_load_npy(const char *path, lucid_array *out, lucid_error *err);
/* Writes an array as a NumPy .npy file (format 1.0). */
lucid_status lucid_array_save_npy(const char *path, const lucid_array *a, lucid_error *err);
/* Reads a serialized ONNX TensorProto (.pb, as in ONNX's test_data_set_* folders). */
lucid_status lucid_array_load_pb(const char *path, lucid_array *out, lucid_error *err);

/* ---- models ---------------------------------------------------------------------- */

typedef struct lucid_model lucid_model_t;

/* Imports an ONNX model file: decodes it, builds the graph, checks it, and infers every
 * tensor's dtype and shape (symbolic input dimensions stay unknown until fixed with
 * lucid_model_set_input_shape). External data files are read relative to the model's
 * folder. On failure *out is NULL and err names the file and, where it applies, the node,
 * op and opset. */
lucid_status lucid_model_load(const char *path, lucid_model_t **out, lucid_error *err);
/* Imports an ONNX model from size bytes at data (a serialized ModelProto), as lucid_model_load
 * does from a file. The bytes are only read during the call (the caller keeps them). name (may
 * be NULL: "<memory>") stands for the file in error messages. Tensors with external data are
 * refused (UNSUPPORTED): bytes in memory have no folder to find them in. */
lucid_status lucid_model_load_memory(const void *data, size_t size, const char *name,
                                     lucid_model_t **out, lucid_error *err);
void lucid_model_destroy(lucid_model_t *model);

/* Writes the model's graph (as loaded, or as lucid_model_optimize left it) as an ONNX file:
 * initializers, inputs, outputs and every intermediate tensor with its shape, nodes with their
 * attributes. lucid's fused layers are ops of domain "lucid" (opset 1) whose attribute
 * fused_nodes names the original nodes; elided nodes and views are described in each node's
 * doc_string and in the model's metadata ("lucid.elided_nodes", "lucid.views": one entry per
 * line, "tensor=storage@byte_offset"). The file loads back with lucid_model_load and computes
 * the same outputs. */
lucid_status lucid_model_save_onnx(const lucid_model_t *model, const char *path,
                                   lucid_error *err);

/* The description of a graph input or output. dims[i] is -1 where the dimension is symbolic
 * or unknown; dim_params[i] is then its name ("" if none). */
typedef struct lucid_tensor_desc {
    const char *name;
    lucid_dtype dtype;
    int rank; /* -1 if unknown */
    int64_t dims[LUCID_MAX_RANK];
    const char *dim_params[LUCID_MAX_RANK];
} lucid_tensor_desc;

size_t lucid_model_num_inputs(const lucid_model_t *model);
size_t lucid_model_num_outputs(const lucid_model_t *model);
/* Fills *out for input/output i; the strings live as long as the model. */
lucid_status lucid_model_input(const lucid_model_t *model, size_t i, lucid_tensor_desc *out);
lucid_status lucid_model_output(const lucid_model_t *model, size_t i, lucid_tensor_desc *out);

/* Fixes the shape of a graph input (its rank and all known dimensions must agree) and
 * infers all shapes again. On failure the model is unchanged. */
lucid_status lucid_model_set_input_shape(lucid_model_t *model, const char *name, int rank,
                                         const int64_t *dims, lucid_error *err);

/* Fixes the value of a graph input when the engine is built, as engines do for shape
 * tensors (the `shape` of a Reshape, the `sizes` of a Resize fed as inputs): the input becomes
 * a constant and is no longer fed at run time. The value's dtype must be the input's, its
 * shape must fit the declared one. The data is copied. On failure the model is unchanged. */
lucid_status lucid_model_set_input_value(lucid_model_t *model, const char *name,
                                         const lucid_array *value, lucid_error *err);

/* Whole-model facts. Costs of nodes whose shapes are not yet known count as 0. */
typedef struct lucid_model_info {
    const char *path;
    const char *producer; /* producer_name and version from the file, "" if absent */
    const char *graph_name;
    int64_t ir_version;
    int64_t opset;        /* of the default domain */
    size_t num_nodes;
    size_t num_tensors;
    int64_t param_count;  /* elements of initializers and Constant outputs */
    uint64_t param_bytes;
    double macs;          /* multiply-accumulates of all nodes */
    double flops;         /* other arithmetic of all nodes (not counting MACs twice) */
    uint64_t activation_bytes; /* sum of every non-constant tensor's size, graph inputs included */
    int shapes_known;     /* 1 when every tensor's shape is static */
} lucid_model_info;

lucid_status lucid_model_get_info(const lucid_model_t *model, lucid_model_info *out);

/* One node's description and cost (in topological order, 0 <= i < num_nodes). */
typedef struct lucid_node_info {
    const char *name;
    const char *op_type;
    int opset;
    size_t num_inputs, num_outputs;
    double macs, flops;
    uint64_t param_bytes;      /* bytes of constant inputs */
    uint64_t read_bytes;       /* activation bytes read */
    uint64_t write_bytes;      /* activation bytes written */
    int elided;                /* 1 when it does not run: its outputs are views already holding
                                  the result (no work, no traffic) */
} lucid_node_info;

lucid_status lucid_model_node(const lucid_model_t *model, size_t i, lucid_node_info *out);
/* Describes output k (0 <= k < num_outputs) of node i, as inferred so far (rank -1 or dims -1
 * where still unknown); an omitted optional output has name "" and rank -1. The strings live
 * as long as the model. */
lucid_status lucid_model_node_output(const lucid_model_t *model, size_t i, size_t k,
                                     lucid_tensor_desc *out);

/* ---- graph optimization ---------------------------------------------------------- */

/* Which passes run. opt_level: 0 none, 1 basic (constant folding, dead nodes, no-op removal),
 * 2 also fusions (BatchNorm folding, conv/GEMM + bias + activation + residual, sibling
 * merging), 3 also memory rewrites (views, concat elision); default 3. disable: pass names
 * not to run. passes: when n_passes > 0, exactly these passes run (in their fixed order),
 * whatever the level. Unknown names are an error. */
typedef struct lucid_optimize_options {
    int opt_level;
    const char *const *disable;
    size_t n_disable;
    const char *const *passes;
    size_t n_passes;
} lucid_optimize_options;

void lucid_optimize_options_default(lucid_optimize_options *opts);

/* The passes lucid has, in the order they run. */
size_t lucid_pass_count(void);
const char *lucid_pass_name(size_t i);
const char *lucid_pass_summary(size_t i);
int lucid_pass_level(size_t i);

typedef struct lucid_opt_report lucid_opt_report_t;

/* Rewrites the model's graph with the selected passes (validating it after each) and, when
 * report is not NULL, returns what every pass did (free with lucid_opt_report_destroy). On
 * failure the model is unchanged. */
lucid_status lucid_model_optimize(lucid_model_t *model, const lucid_optimize_options *opts,
                                  lucid_opt_report_t **report, lucid_error *err);

/* One entry of the report: a rewrite ("rewrite") or a rewrite a pass refused ("refused").
 * nodes: the original node names, comma-separated; layer: the engine layer they became
 * ("conv1 + bn1 + relu1"; "" when nodes were removed); detail: what and why. */
typedef struct lucid_rewrite_info {
    const char *pass, *kind, *nodes, *layer, *detail;
} lucid_rewrite_info;

typedef struct lucid_pass_info {
    const char *name;
    int level;
    int ran;          /* 1 if selected */
    size_t rewrites;  /* entries of kind "rewrite" */
    size_t refused;
    double ms;        /* wall time of the pass, including re-validation */
} lucid_pass_info;

size_t lucid_opt_report_num_rewrites(const lucid_opt_report_t *r);
lucid_status lucid_opt_report_rewrite(const lucid_opt_report_t *r, size_t i,
                                      lucid_rewrite_info *out);
size_t lucid_opt_report_num_passes(const lucid_opt_report_t *r);
lucid_status lucid_opt_report_pass(const lucid_opt_report_t *r, size_t i, lucid_pass_info *out);
void lucid_opt_report_destroy(lucid_opt_report_t *r);

/* ---- processor instruction sets --------------------------------------------------- */

/* Instruction-set levels of x86-64 processors, each including the ones before it. lucid's
 * own kernels, oneDNN and the other CPU libraries choose their code by what the processor
 * offers; a cap hides everything above a level, so that one machine can run (and test) what
 * a smaller one would. */
typedef enum lucid_cpu_isa {
    LUCID_CPU_ISA_GENERIC = 0,     /* x86-64 without AVX: lucid's portable C kernels */
    LUCID_CPU_ISA_AVX2 = 1,        /* AVX2, FMA, F16C (Haswell, Zen 1-3) */
    LUCID_CPU_ISA_AVX512 = 2,      /* AVX-512 F, BW, VL, DQ (Skylake-SP) */
    LUCID_CPU_ISA_AVX512_VNNI = 3, /* + VNNI int8 dot products, AVX-VNNI (Cascade Lake) */
    LUCID_CPU_ISA_AVX512_BF16 = 4, /* + AVX512-BF16 (Cooper Lake, Zen 4) */
    LUCID_CPU_ISA_AMX = 5,         /* + AVX512-FP16 and AMX tiles (Sapphire Rapids) */
    LUCID_CPU_ISA_NATIVE = 6,      /* no cap: everything the processor offers */
} lucid_cpu_isa;

/* Caps the instruction sets lucid's CPU tactics may use at `isa`, for the whole process, from
 * the next build or plan load on (plans already built keep their tactics). The environment
 * variable LUCID_CPU_ISA (a name from lucid_cpu_isa_name) sets the cap the process starts
 * with. oneDNN is capped too (its dnnl_set_max_cpu_isa), but only before it first runs: if it
 * has already run above the cap, its tactics refuse with that reason. Libraries that choose
 * their kernels by themselves without such a control (XNNPACK; OpenBLAS on a core above the
 * cap) refuse under a cap that hides a feature of this processor. Returns
 * LUCID_STATUS_INVALID_ARGUMENT for a value outside the enum. */
lucid_status lucid_cpu_cap(lucid_cpu_isa isa);

/* The cap in force (LUCID_CPU_ISA_NATIVE when none). */
lucid_cpu_isa lucid_cpu_cap_get(void);

/* The highest level this processor offers completely. */
lucid_cpu_isa lucid_cpu_isa_native(void);

/* 1 when the cap in force hides an instruction set this processor has. That can hold at the
 * native level too: a processor with AVX-VNNI but no AVX-512 is at avx2, and a cap at avx2
 * hides its AVX-VNNI. */
int lucid_cpu_cap_hides(void);

/* "generic", "avx2", "avx512", "avx512_vnni", "avx512_bf16", "amx", "native"; NULL for a value
 * outside the enum. */
const char *lucid_cpu_isa_name(lucid_cpu_isa isa);

/* The level named `name` (as lucid_cpu_isa_name gives it). LUCID_STATUS_INVALID_ARGUMENT for
 * any other string or NULL. */
lucid_status lucid_cpu_isa_parse(const char *name, lucid_cpu_isa *out);

/* ---- building engines (plans) ----------------------------------------------------- */

typedef struct lucid_plan lucid_plan_t;

/* Where a plan runs. CPU is the default (0). CUDA runs every layer on an NVIDIA GPU (a lucid
 * built with LUCID_CUDA; lucid_cuda_available says whether one can be used here). */
typedef enum lucid_device {
    LUCID_DEVICE_CPU = 0,
    LUCID_DEVICE_CUDA = 1,
} lucid_device;

/* The arithmetic and storage of float activations and weights inside a plan (graph inputs
 * and outputs stay float32 at the engine boundary). FP32: float32, no TF32 (the default, 0);
 * TF32 (GPU only): float32 storage, TensorFloat-32 tensor-core math allowed; FP16 / BF16:
 * 16-bit storage of weights and activations, float32 accumulation; INT8 (CPU): symmetric
 * per-channel int8 weights and per-tensor int8 activations, calibrated (see
 * lucid_build_options), int32 accumulation. On the CPU a reduced precision is a permission:
 * layers that have no kernel in it, or that a constraint or the automatic mixed-precision
 * mode keeps, stay float32, and the build report says which and why. */
typedef enum lucid_precision {
    LUCID_PRECISION_FP32 = 0,
    LUCID_PRECISION_TF32 = 1,
    LUCID_PRECISION_FP16 = 2,
    LUCID_PRECISION_BF16 = 3,
    LUCID_PRECISION_INT8 = 4,
} lucid_precision;

/* How INT8 calibration turns the activations seen on the calibration set into a per-tensor
 * clipping threshold (scale = threshold / 127). PERCENTILE: the given percentile of |x| (build
 * option percentile, default 99.99; the default calibrator, 0: it kept every trained
 * Fashion-MNIST model within 0.1 point of FP32, docs/precision.md); ENTROPY: the threshold
 * minimizing the KL divergence between the 2048-bin histogram of |x| and its 128-level
 * quantization (TensorRT's entropy calibrator; it can clip far too low on inputs with a spike
 * away from zero, such as an image's flat background); MINMAX: the largest |x| seen. */
typedef enum lucid_calibrator {
    LUCID_CALIBRATOR_PERCENTILE = 0,
    LUCID_CALIBRATOR_ENTROPY = 1,
    LUCID_CALIBRATOR_MINMAX = 2,
} lucid_calibrator;

/* "entropy", "minmax", "percentile". */
const char *lucid_calibrator_name(lucid_calibrator c);

/* How a GPU plan stores its 4-D float activations. AUTO: channels-last (NHWC) in fp16 and
 * bf16 plans where every layer can run so (cuDNN's tensor-core convolutions read NHWC; the
 * engine boundary stays NCHW float32), plain NCHW otherwise; NCHW and NHWC force one (NHWC
 * fails the build, saying which layer, where a layer cannot run channels-last). */
typedef enum lucid_gpu_layout {
    LUCID_GPU_LAYOUT_AUTO = 0,
    LUCID_GPU_LAYOUT_NCHW = 1,
    LUCID_GPU_LAYOUT_NHWC = 2,
} lucid_gpu_layout;

/* "fp32", "tf32", "fp16", "bf16", "int8"; "cpu", "cuda". */
const char *lucid_precision_name(lucid_precision p);
const char *lucid_device_name(lucid_device d);

/* 1 when this lucid has the CUDA backend and a usable GPU; otherwise 0 with the reason in why
 * (e.g. "built without LUCID_CUDA", "no CUDA device: ..."). why may be NULL. */
int lucid_cuda_available(char *why, size_t why_len);

/* What a GPU is, as the CUDA runtime reports it, and the peaks derived from it (at the
 * maximum SM and memory clocks): peak_gflops_fp32 = SMs x FP32 lanes per SM x 2 x SM clock;
 * peak_gflops_fp16 = SMs x dense FP16 tensor-core FLOP per clock per SM x SM clock (0 when
 * the compute capability has no tensor cores or is not known to lucid); bandwidth_gbs = 2 x
 * memory clock x bus width / 8. free_bytes / total_bytes: cudaMemGetInfo at the call. */
typedef struct lucid_gpu_info {
    char name[128];
    char pci_bus_id[32];
    int cc_major, cc_minor, sm_count;
    double sm_clock_mhz, mem_clock_mhz;
    int bus_width_bits;
    int64_t total_bytes, free_bytes;
    double peak_gflops_fp32, peak_gflops_fp16, bandwidth_gbs;
} lucid_gpu_info;

/* LUCID_STATUS_UNSUPPORTED (with the reason) without the CUDA backend or a GPU. */
lucid_status lucid_cuda_device_info(int ordinal, lucid_gpu_info *out, lucid_error *err);

/* How a plan is built. optimize: the graph passes (defaults: all). threads: the thread count
 * to tune for and run with (0: all cores). deterministic: choose tactics by the documented
 * rule (among tactics within `margin` of the fastest median, the first in lucid's fixed
 * preference order) and leave out tactics that are not run-to-run deterministic.
 * timing_cache: a file of measured medians read before and written after the build (NULL:
 * none). tactics / exclude_tactics: name prefixes ("cpu.conv", "dnnl") a tactic must match /
 * must not match; the reference tactic is always allowed as the last resort. time_ms: the
 * measuring budget per candidate (0: 20 ms, at least 3 timed runs after one warm-up run). */
typedef struct lucid_build_options {
    lucid_optimize_options optimize;
    int threads;
    int deterministic;
    double margin; /* 0: 0.05 (5%) */
    const char *timing_cache;
    const char *const *tactics;
    size_t n_tactics;
    const char *const *exclude_tactics;
    size_t n_exclude_tactics;
    double time_ms;
    /* device: where the plan runs (0: CPU). precision: see lucid_precision (0: FP32).
     * cuda_device: the GPU ordinal for LUCID_DEVICE_CUDA. */
    lucid_device device;
    lucid_precision precision;
    int cuda_device;
    /* Per-layer precision constraints, "NAME=fp32" (or =fp16, =bf16, =int8): NAME is a layer
     * of the optimized graph (as the build report names it) or an original ONNX node name
     * folded into one; the layer runs in that precision or the build fails saying why. */
    const char *const *layer_precision;
    size_t n_layer_precision;
    /* Automatic mixed precision (> 0): a layer whose output, computed in the reduced
     * precision, differs from float32 on the calibration set by more than this relative
     * error (L2 norm of the difference over L2 norm of the float32 output) stays float32.
     * 0: every eligible layer takes the reduced precision. */
    double auto_precision_threshold;
    /* INT8 calibration: calibration_data is a lucid_dataset_open spec (use a split that is not
     * the evaluation split, e.g. "fashion-mnist:train"), of which the first calibration_count
     * samples are used (0: 500); calibration_cache: a file holding the thresholds: read when
     * it exists (then no data is needed and the build is reproducible), written otherwise.
     * Without data and without a cache file an INT8 build fails. */
    lucid_calibrator calibrator;
    double percentile; /* for LUCID_CALIBRATOR_PERCENTILE: 0 means 99.99 */
    const char *calibration_data;
    size_t calibration_count;
    const char *calibration_cache;
    /* Compression of constant weights (Conv, Gemm, MatMul), applied after the graph passes:
     * prune_sparsity in [0, 1): the fraction of each layer's weights with the smallest
     * magnitude set to zero (unstructured); prune_2_4: keep the 2 largest of every 4
     * consecutive input-channel weights (2:4 structured; overrides prune_sparsity);
     * cluster_bits (0: off, 2 to 8): each layer's weights replaced by the nearest of
     * 2^cluster_bits shared values found by seeded k-means. */
    double prune_sparsity;
    int prune_2_4;
    int cluster_bits;
    /* GPU plans: see lucid_gpu_layout (0: AUTO) */
    lucid_gpu_layout gpu_layout;
    /* float32 CPU builds whose layout search chose another layout than plain build the
     * alternatives too (all plain, the other layout) and keep the fastest whole plan, measured
     * interleaved; 1 skips that check and keeps the search's choice */
    int no_layout_check;
    /* float32 CPU builds then run the chosen plan against the same plan with each layer's
     * runner-up tactic (in its layout, within 1.5x of the chosen one alone), profiled layer by
     * layer, interleaved, and keep the runner-ups that are faster inside the whole plan if the
     * result is faster as a whole; 1 skips that check */
    int no_tactic_check;
} lucid_build_options;

void lucid_build_options_default(lucid_build_options *opts);

/* Builds a plan from a model (which is copied, not changed): optimizes the graph, times every
 * supported tactic on each layer's real shapes, keeps one per layer, and plans activation
 * memory. The model's input shapes must be known. */
lucid_status lucid_plan_build(const lucid_model_t *model, const lucid_build_options *opts,
                              lucid_plan_t **out, lucid_error *err);
void lucid_plan_destroy(lucid_plan_t *plan);
/* The plan's optimized model (inputs, outputs, layers via lucid_model_node); owned by the
 * plan. */
const lucid_model_t *lucid_plan_model(const lucid_plan_t *plan);
/* The optimizer's log of the build (NULL for a plan loaded from a file). */
const lucid_opt_report_t *lucid_plan_opt_report(const lucid_plan_t *plan);

/* Writes a plan file: versioned, checksummed, byte-identical for the same model, options and
 * tactic choices (format: docs/plan-format.md). */
lucid_status lucid_plan_save(const lucid_plan_t *plan, const char *path, lucid_error *err);
/* Reads a plan file; corrupt, truncated or foreign-version files are refused. */
lucid_status lucid_plan_load(const char *path, lucid_plan_t **out, lucid_error *err);

typedef struct lucid_plan_info {
    int threads;
    int deterministic;
    int opt_level;
    size_t num_layers;        /* nodes of the optimized graph */
    size_t arena_bytes;       /* peak activation memory (the arena a context allocates) */
    size_t naive_bytes;       /* the sum of all activation tensors */
    size_t io_bytes;          /* of both: graph inputs and outputs, which the arena holds
                               * first and apart (the caller's data); arena_bytes - io_bytes
                               * is the peak of the intermediate tensors, naive_bytes -
                               * io_bytes their sum */
    size_t workspace_bytes;
    size_t inplace_count;
    size_t weight_bytes;      /* constants of the optimized graph */
    double build_seconds;     /* 0 for a loaded plan */
    const char *cpu_model;    /* the machine it was built on */
    size_t nhwc_layers;       /* layers that run channels-last (NHWC) */
    size_t nchw16c_layers;    /* layers that run in blocks of 16 channels (NCHW16C) */
    /* the builder's check of the layout search: median ms of whole plans run interleaved:
     * all plain (index 0), searched with NHWC (1) and with NCHW16C (2) as the alternative
     * (0: not built), the searched layout on every layer that can take it, and the rounds;
     * all 0 when not checked */
    double layout_measured_ms[3];
    double layout_widest_ms; /* the searched layout on every layer that can take it (0: not
                                built, or the same plan as the search's) */
    int layout_measured_rounds;
    /* the builder's tactic check (all 0 when none ran): layers given a runner-up tactic
     * (tried, then kept), and the median ms of the whole plan before and after, measured
     * interleaved over `tactic_check_rounds` rounds (after = before when none was kept) */
    int tactic_check_tried, tactic_check_kept, tactic_check_rounds;
    double tactic_check_before_ms, tactic_check_after_ms;
    size_t reorder_layers;    /* layout conversions the builder inserted between them */
    /* the layout search's estimates (sums of measured medians and reorders, ms): the chosen
     * layouts, and every layer plain NCHW; both 0 when no search ran (a loaded plan, a
     * deterministic build, or no channels-last tactic for any layer) */
    double layout_est_ms, plain_est_ms;
    lucid_device device;      /* where it runs */
    lucid_precision precision;
    const char *device_model; /* the GPU it was built for ("" for CPU plans): name, compute
                                 capability, driver, CUDA and cuDNN versions */
    size_t reduced_layers;    /* running layers computing in 16 bits or INT8 */
    size_t reformat_layers;   /* precision conversions between them (Cast, Quantize/
                                 DequantizeLinear) */
    const char *calibration;  /* where INT8 thresholds came from ("" if none) */
    size_t calibration_samples; /* samples the build calibrated on (0: none or from a cache) */
    size_t error_samples;     /* samples the automatic mixed-precision mode compared on */
    int gpu_channels_last;    /* GPU plans: 4-D float activations stored NHWC (1) or NCHW (0) */
    const char *gpu_layout_reason; /* why that layout ("" for CPU plans) */
} lucid_plan_info;

lucid_status lucid_plan_get_info(const lucid_plan_t *plan, lucid_plan_info *out);

/* Layer i (a node of the plan's model): its tactic and the candidates that were weighed. */
typedef struct lucid_layer_info {
    const char *name, *op_type;
    int runs;              /* 0 for elided or constant layers */
    const char *tactic;    /* "" when it does not run */
    const char *reason;    /* why this tactic */
    size_t num_candidates;
    const char *precision; /* what it computes in: "fp32", "fp16", "bf16", "int8", or
                              "reformat" for precision and layout conversions */
} lucid_layer_info;

typedef struct lucid_candidate_info {
    const char *tactic;
    int supported;
    int timed;             /* measured in this build (0: timing cache, or not run) */
    double median_ms;      /* < 0 when unknown */
    const char *why;       /* why not supported or excluded */
} lucid_candidate_info;

lucid_status lucid_plan_layer(const lucid_plan_t *plan, size_t i, lucid_layer_info *out);

/* The precision decisions of a reduced-precision build, one per layer that could take the
 * precision (named as in the optimized graph before conversions were inserted): what it got,
 * the relative L2 error of its output against float32 on the calibration set and the part of
 * it the layer itself adds (both < 0 unless the automatic mode measured them), and why it
 * stayed float32. None for FP32 builds and loaded plans. */
typedef struct lucid_precision_record_info {
    const char *name, *op_type;
    lucid_precision precision;
    double error, added_error;
    const char *why;
} lucid_precision_record_info;

size_t lucid_plan_num_precision_records(const lucid_plan_t *plan);
lucid_status lucid_plan_precision_record(const lucid_plan_t *plan, size_t i,
                                         lucid_precision_record_info *out);

/* Weight compression of the build, per compressed layer: weight count, zeros before and
 * after pruning, distinct values after clustering (0: not clustered), and the stored size
 * dense float32 vs compressed (a 1-bit mask plus the nonzeros when pruned; a codebook plus
 * indices when clustered). No lucid kernel runs sparse or clustered weights: compression
 * changes accuracy and size, not speed. */
typedef struct lucid_compressed_info {
    const char *layer;
    int64_t weights, zeros_before, zeros_after;
    int distinct_values;
    size_t bytes_before, bytes_after;
    const char *note; /* why it was skipped or only partly compressed ("" when it was not) */
} lucid_compressed_info;

size_t lucid_plan_num_compressed(const lucid_plan_t *plan);
lucid_status lucid_plan_compressed(const lucid_plan_t *plan, size_t i, lucid_compressed_info *out);
lucid_status lucid_plan_candidate(const lucid_plan_t *plan, size_t layer, size_t k,
                                  lucid_candidate_info *out);

/* ---- execution ------------------------------------------------------------------- */

typedef struct lucid_context lucid_context_t;

typedef struct lucid_context_options {
    int threads; /* 0: all cores */
    /* GPU plans: 1 runs the layers one launch at a time instead of replaying the whole run
     * (input copies, layers, output copies) as one captured CUDA graph (the default, 0). */
    int no_cuda_graph;
} lucid_context_options;

/* Creates an execution context for a model whose input shapes are all known; allocates
 * every buffer up front, so runs allocate nothing. The model must outlive the context and
 * must not change while it exists. opts may be NULL. */
lucid_status lucid_context_create(const lucid_model_t *model, const lucid_context_options *opts,
                                  lucid_context_t **out, lucid_error *err);
void lucid_context_destroy(lucid_context_t *ctx);

/* Creates an execution context running a plan with its chosen tactics and memory plan, on
 * the plan's thread count (opts->threads, when given, must not exceed it). Several contexts
 * may share one plan, also concurrently. The plan must outlive its contexts. */
lucid_status lucid_context_create_plan(const lucid_plan_t *plan,
                                       const lucid_context_options *opts,
                                       lucid_context_t **out, lucid_error *err);

/* Copies an input's data into the context. dtype, rank and dims must match the model's. */
lucid_status lucid_context_set_input(lucid_context_t *ctx, const char *name, lucid_dtype dtype,
                                     int rank, const int64_t *dims, const void *data);
/* Runs the graph once. */
lucid_status lucid_context_run(lucid_context_t *ctx);
size_t lucid_context_num_outputs(const lucid_context_t *ctx);
/* A view of output i (name, dtype, shape, data), valid until the next run or destroy. */
lucid_status lucid_context_output(const lucid_context_t *ctx, size_t i, lucid_array *out);
/* The message of the context's last failed call, "" if none. */
const char *lucid_context_error(const lucid_context_t *ctx);

/* GPU contexts: where the last run's time went, measured with CUDA events on the context's
 * stream (trtexec's breakdown). h2d_ms: input copies (and their conversion to the plan's
 * precision); compute_ms: the layers; d2h_ms: output conversion and copies; enqueue_ms: host
 * time to launch the run (one graph launch, or every layer's launches). */
typedef struct lucid_device_timing {
    double h2d_ms, compute_ms, d2h_ms, enqueue_ms;
    int cuda_graph; /* 1 when the run replayed a CUDA graph */
} lucid_device_timing;

/* LUCID_STATUS_UNSUPPORTED for CPU contexts. */
lucid_status lucid_context_device_timing(const lucid_context_t *ctx, lucid_device_timing *out);

/* ---- profiling and observing layers ---------------------------------------------------- */

/* Per-layer profiling: while on, every run adds each running layer's wall time (monotonic
 * clock read around the layer's kernel, which waits for all its threads; on a GPU context, the
 * CUDA-event time of the layer in a layer-by-layer run without the CUDA graph). Turning it on
 * clears what was gathered. It costs two clock reads per layer, so measure latency with it
 * off and profile in a separate run. */
lucid_status lucid_context_set_profiling(lucid_context_t *ctx, int on);

typedef struct lucid_layer_profile {
    size_t node;          /* index of the layer in the executed graph (lucid_model_node) */
    const char *name, *op_type;
    const char *tactic;   /* "ref" for the reference executor */
    int64_t runs;         /* profiled runs that ran it */
    double total_ms;      /* summed over those runs */
    double min_ms, max_ms;
} lucid_layer_profile;

/* Running layers in execution order: how many, and the i-th's profile. */
size_t lucid_context_num_layers(const lucid_context_t *ctx);
lucid_status lucid_context_layer_profile(const lucid_context_t *ctx, size_t i,
                                         lucid_layer_profile *out);

/* GPU contexts: the kernels each layer launched, named and timed by CUPTI's activity API
 * (libcupti, loaded at the first profiling run). The first 10 profiling runs after profiling
 * is turned on each run the layers once more, untimed, with CUPTI collecting: its tracing slows
 * every launch, so it stays out of the event-timed runs, and it is never on in unprofiled runs
 * or CUDA-graph replays. Kernels are attributed to the layer whose tactic launched them,
 * library kernels (cuDNN, cuBLASLt) included. Turning profiling on clears them, as it clears
 * the layer times. */
typedef struct lucid_layer_kernel {
    const char *name; /* demangled without its argument list where the C++ runtime can
                       * demangle it, else CUPTI's name; valid until the context is destroyed */
    int64_t runs;     /* the traced runs, which the next two sum over */
    int64_t launches;
    int64_t total_ns; /* the summed GPU time (start to end) of those launches */
} lucid_layer_kernel;

/* How many distinct kernels running layer i launched (0 on CPU contexts, or where kernel
 * names are unavailable), and the j-th (in the order CUPTI reported them). */
size_t lucid_context_layer_num_kernels(const lucid_context_t *ctx, size_t i);
lucid_status lucid_context_layer_kernel(const lucid_context_t *ctx, size_t i, size_t j,
                                        lucid_layer_kernel *out);
/* Why the last profiling run gathered no kernel names (libcupti missing, CUPTI refusing:
 * another profiler attached, insufficient privileges...; "CPU contexts launch no GPU kernels"
 * on a CPU context), or NULL when it gathered them (or no profiling run happened yet). */
const char *lucid_context_kernels_unavailable(const lucid_context_t *ctx);

/* Called after every layer of every run with the layer's output arrays (views, valid only
 * during the call: later layers may reuse the memory). For "mark all" comparisons: digest or
 * copy what is needed. NULL removes it. A non-OK return stops the run with that
 * status. */
typedef lucid_status (*lucid_layer_observer)(void *user, size_t node, const char *name,
                                             const lucid_array *outputs, size_t n_outputs);
lucid_status lucid_context_set_observer(lucid_context_t *ctx, lucid_layer_observer fn,
                                        void *user);

/* ---- measurement ----------------------------------------------------------------- */

/* Latency statistics over n samples, in the samples' unit. Percentiles use the
 * nearest-rank definition (the smallest sample with at least p% of samples at or below
 * it), as trtexec and MLPerf LoadGen report them. */
typedef struct lucid_stats {
    size_t n;
    double min, max, mean, median, p90, p95, p99, stddev;
    double cv; /* stddev / mean */
} lucid_stats;

lucid_status lucid_stats_compute(const double *samples, size_t n, lucid_stats *out);

/* How lucid_bench_run measures, with trtexec's semantics: run untimed until warmup_ms has
 * passed, then time runs until at least min_iterations AND at least min_duration_s seconds
 * are done. Both phases also stop at LUCID_BENCH_MAX_ITERATIONS runs, so no setting can make a
 * benchmark allocate or run without bound (a fast model with a huge duration stops there). */
typedef struct lucid_bench_options {
    double warmup_ms;       /* >= 0; trtexec's default is 200 */
    int64_t min_iterations; /* 1 .. LUCID_BENCH_MAX_ITERATIONS; trtexec's default is 10 */
    double min_duration_s;  /* >= 0; trtexec's default is 3 */
} lucid_bench_options;

#define LUCID_BENCH_MAX_ITERATIONS 1000000

typedef struct lucid_bench_result {
    lucid_stats latency_ms;    /* per-run latency statistics, in milliseconds */
    int64_t iterations;        /* timed runs */
    int64_t warmup_iterations; /* untimed runs */
    double warmup_s;           /* wall time of the warm-up */
    double total_s;            /* wall time of the timed phase, loop overhead included */
    double throughput;         /* inferences per second: iterations / total_s */
    int capped;                /* 1 when a phase stopped at LUCID_BENCH_MAX_ITERATIONS or at the
                                  caller's sample capacity before its goal was met */
} lucid_bench_result;

/* Fills opts with trtexec's defaults: 200 ms warm-up, 10 iterations, 3 seconds. */
void lucid_bench_options_default(lucid_bench_options *opts);

/* Benchmarks ctx, whose inputs the caller has set: warm-up, then timed runs (see
 * lucid_bench_options; opts NULL means the defaults). Each run's latency in ms is written to
 * samples[0 .. out->iterations) when samples is not NULL; the timed phase then also stops at
 * `capacity` runs. With samples NULL the library keeps the samples itself (at most
 * LUCID_BENCH_MAX_ITERATIONS doubles) and frees them before returning. A failed run stops the
 * benchmark and returns its status; lucid_context_error(ctx) has the message. */
lucid_status lucid_bench_run(lucid_context_t *ctx, const lucid_bench_options *opts,
                             double *samples, size_t capacity, lucid_bench_result *out);

/* ---- datasets -------------------------------------------------------------------- */

typedef struct lucid_dataset lucid_dataset_t;

/* How samples are shaped and normalized. channels/height/width: the sample shape the model
 * takes (its input's dims without the batch). mean/std: per-channel normalization applied
 * after scaling pixels to [0, 1]; set has_norm to override a source's default
 * (Fashion-MNIST: mean 0.2860, std 0.3530; photos: ImageNet's 0.485/0.456/0.406 and
 * 0.229/0.224/0.225). crop_fraction: photos are resized so that the crop is this fraction of
 * the shorter side (0 means 0.875, i.e. 256 -> 224). */
typedef struct lucid_dataset_options {
    int channels, height, width;
    int has_norm;
    float mean[3], std[3];
    float crop_fraction;
} lucid_dataset_options;

/* Opens a dataset named by spec:
 *   fashion-mnist[:test|:train][@DIR]  Fashion-MNIST IDX files (gzip), default split test,
 *                                      default DIR /usr/share/datasets/fashion-mnist
 *   images:DIR                         JPEG/PNG photos in DIR (sorted by name), unlabelled;
 *                                      or in class sub-folders of DIR (label = the folder's
 *                                      index in sorted order)
 *   npy:FILE.npy[,LABELS.npy]          N samples stacked in one float32 array (N x sample
 *                                      shape), labels optional (int32/int64, N values)
 *   npy:DIR                            one float32 sample per .npy file (sorted by name);
 *                                      labels from DIR/labels.npy when present
 * Samples must fit opts' shape; errors name the file. */
lucid_status lucid_dataset_open(const char *spec, const lucid_dataset_options *opts,
                                lucid_dataset_t **out, lucid_error *err);
void lucid_dataset_destroy(lucid_dataset_t *ds);
size_t lucid_dataset_size(const lucid_dataset_t *ds);
/* 1 when every sample has a label. */
int lucid_dataset_has_labels(const lucid_dataset_t *ds);
/* One line: source, split, count, sample shape. */
const char *lucid_dataset_describe(const lucid_dataset_t *ds);
/* Loads sample i (0 <= i < size) as float32 channels x height x width into dst and its
 * label (-1 when unlabelled) into *label (may be NULL). */
lucid_status lucid_dataset_load(lucid_dataset_t *ds, size_t i, float *dst, int64_t *label,
                                lucid_error *err);

/* ---- characterization ------------------------------------------------------------- */

/* The study as one call (docs/characterize.md): a model through a matrix of engines (lucid,
 * onnxruntime, openvino, pytorch, tensorrt) and lucid optimization configs (reference, fusions, tuned,
 * deterministic, fp16, bf16, int8, pruned, clustered), measuring latency, scenarios, cost, per-layer profile, accuracy, determinism and
 * attribution; writes results.json, CSV tables and report.html into out_dir after every
 * cell, so an interrupted run leaves what it measured readable. */
typedef struct lucid_characterize_progress {
    const char *cell;        /* "lucid/tuned", "onnxruntime/cpu-all-opts" */
    const char *step;        /* "build", "latency", "offline", "accuracy", ... */
    size_t steps_done, steps_total;
    double elapsed_s, eta_s; /* eta_s < 0 while unknown */
} lucid_characterize_progress;

typedef struct lucid_characterize_options {
    const char *model;       /* ONNX model file (required) */
    const char *device;      /* "cpu" (default) or "cuda" */
    const char *dataset;     /* lucid_dataset_open spec; NULL: seeded random inputs */
    /* INT8 calibration images (a spec); NULL: the training split when the dataset is
     * Fashion-MNIST's test split, otherwise none (the int8 config is then unavailable) */
    const char *calibration_data;
    const char *engines;     /* comma list; NULL: "lucid,onnxruntime,openvino,pytorch,tensorrt" */
    const char *configs;     /* comma list of lucid configs; NULL: all */
    const char *out_dir;     /* created if missing (required) */
    int threads;             /* 0: all cores */
    double warmup_ms;        /* latency: warm-up time */
    int64_t min_iterations;  /* latency: at least N runs ... */
    double min_duration_s;   /* ... and at least T seconds */
    int runs;                /* determinism: R runs (run-to-run) */
    int builds;              /* determinism: K builds (build-to-build) */
    const char *batches;     /* Offline sweep, e.g. "1,8,32" (batch sizes beyond the model's
                                fixed batch are skipped with a note) */
    int64_t limit;           /* accuracy: at most this many samples (0: all) */
    double tune_ms;          /* builder's time per candidate (0: the builder's default) */
    uint64_t seed;           /* random inputs */
    const char *peers_dir;   /* bench/peers (NULL: $LUCID_PEERS_DIR, else the source tree's) */
    const char *python;      /* python for every Python peer (NULL: $LUCID_PEERS_PYTHON, else
                                the source tree's .venv-peers/bin/python3 when it exists, else
                                "python3") */
    const char *torch_python;/* python for PyTorch alone (NULL: as python; "/usr/bin/python3"
                                when python fell back to "python3") */
    const char *chartjs;     /* Chart.js file to inline (NULL: $LUCID_CHARTJS, else Debian's) */
    const char *command_line;/* recorded in results.json */
    const volatile int *cancel; /* when it becomes non-zero, stop after the current step */
    void (*progress)(void *user, const lucid_characterize_progress *p);
    void *progress_user;
    int torch_max_autotune;  /* --device cuda: also time torch.compile's max-autotune mode
                                (FP16; its compilation takes minutes) */
} lucid_characterize_options;

void lucid_characterize_options_default(lucid_characterize_options *opts);

typedef struct lucid_characterization lucid_characterization_t;

/* Runs the study. Bad options (unknown engine or config, unreadable model or dataset) fail
 * before anything is measured, with a message; cells that cannot run here are recorded as
 * unavailable with the reason. On OK *out holds the results (also when cancelled). */
lucid_status lucid_characterize(const lucid_characterize_options *opts,
                                lucid_characterization_t **out, lucid_error *err);
/* The summary table (text, several lines), valid while c lives. */
const char *lucid_characterization_summary(const lucid_characterization_t *c);
/* 1 when the run was cancelled before every cell was measured. */
int lucid_characterization_interrupted(const lucid_characterization_t *c);
void lucid_characterization_destroy(lucid_characterization_t *c);
/* The lucid configs and engines the study knows, with a one-line summary. */
size_t lucid_characterize_config_count(void);
const char *lucid_characterize_config_name(size_t i);
const char *lucid_characterize_config_summary(size_t i);

/* Comparing machines (docs/characterize.md, "Comparing machines: lucid compare"): merges the
 * results.json of several lucid_characterize runs - any models, any devices - into one report
 * keyed by (model, device): per-device latency, throughput, energy and accuracy, each
 * optimization's speedup per device, per-layer times matched by name, the anomaly finder
 * (a device with more peak compute and bandwidth that is slower beyond the margin and the
 * noise, with the layers that account for it) and cross-device determinism. */
typedef struct lucid_compare_peak {
    const char *device;   /* a device name as compare names it ("NVIDIA H100 80GB HBM3",
                             "AMD EPYC (2 cores)") */
    double gflops_fp32;   /* peak FP32 GFLOP/s, > 0 */
    double bandwidth_gbs; /* peak memory bandwidth in GB/s, > 0 */
    double gflops_fp16;   /* peak FP16 GFLOP/s; 0: not known */
} lucid_compare_peak;

typedef struct lucid_compare_options {
    const char *out_dir;             /* created if missing (required) */
    double margin;                   /* anomaly: slower by more than this fraction (0.05) */
    const char *chartjs;             /* Chart.js to inline (NULL: $LUCID_CHARTJS, else Debian's) */
    const lucid_compare_peak *peaks; /* peaks that replace or add to the recorded ones */
    size_t n_peaks;
    char **summary;                  /* not NULL: receives the text summary (caller free()s) */
} lucid_compare_options;

void lucid_compare_options_default(lucid_compare_options *opts);

/* dirs: n >= 1 folders written by lucid_characterize (or their results.json files). Every
 * input is read and checked before anything is written: a missing folder or file, a file that
 * is not JSON or not schema lucid-characterize/1, the same input twice, or two results of one
 * model on one device fail with a message naming the input. Writes compare.json (schema
 * lucid-compare/1), latency.csv, anomalies.csv, layers.csv and compare.html into out_dir. */
lucid_status lucid_compare(const char *const *dirs, size_t n, const lucid_compare_options *opts,
                           lucid_error *err);

/* Monotonic time in seconds. */
double lucid_time_now(void);

/* The library's version string. */
const char *lucid_version(void);

#ifdef __cplusplus
}
#endif
#endif /* LUCID_H */
