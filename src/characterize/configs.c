/* configs.c - lucid's optimization configs for the study: what each one runs, the config it
 * adds one optimization to (the attribution chain), and the ones lucid does not have yet. */
#include <string.h>

#include "characterize/characterize.h"

static const char *cfg_tf32(const lucid_characterize_options *co, lucid_build_options *o)
{
    (void)co;
    o->precision = LUCID_PRECISION_TF32;
    return NULL;
}

static const char *cfg_fp16(const lucid_characterize_options *co, lucid_build_options *o)
{
    (void)co;
    o->precision = LUCID_PRECISION_FP16;
    return NULL;
}

static const char *cfg_bf16(const lucid_characterize_options *co, lucid_build_options *o)
{
    (void)co;
    o->precision = LUCID_PRECISION_BF16;
    return NULL;
}

static const char *cfg_int8(const lucid_characterize_options *co, lucid_build_options *o)
{
    o->precision = LUCID_PRECISION_INT8;
    o->calibrator = LUCID_CALIBRATOR_PERCENTILE;
    o->calibration_count = 500;
    o->calibration_data = co->calibration_data;
    if (!o->calibration_data)
        return "INT8 needs calibration images from a split that is not evaluated "
               "(--calibration-data SPEC)";
    return NULL;
}

static const char *cfg_pruned(const lucid_characterize_options *co, lucid_build_options *o)
{
    (void)co;
    o->prune_sparsity = 0.5;
    return NULL;
}

static const char *cfg_clustered(const lucid_characterize_options *co, lucid_build_options *o)
{
    (void)co;
    o->cluster_bits = 4;
    return NULL;
}

/* Order matters: a config comes after its base, and the table's order is the report's. A
 * name may have one entry per device (CPU "fusions" runs the reference kernels, the GPU's is a
 * plan); configs of both devices share one entry. */
static const ch_config configs[] = {
    {.name = "reference",
     .summary = "no optimization: the ONNX graph as loaded on the reference kernels",
     .kind = CH_KIND_REFERENCE,
     .devices = CH_DEV_CPU,
     .opt_level = 0},
    {.name = "unfused",
     .summary = "a GPU plan of the ONNX graph as loaded: every node its own layer with an "
                "autotuned kernel, launched layer by layer (no graph passes, no CUDA graph)",
     .kind = CH_KIND_PLAN,
     .devices = CH_DEV_CUDA,
     .no_cuda_graph = true,
     .opt_level = 0},
    {.name = "fusions",
     .summary = "graph passes only (level 3: folding, fusions, views) on the reference kernels",
     .base = "reference",
     .adds = "graph optimization (fusions)",
     .kind = CH_KIND_REFERENCE,
     .devices = CH_DEV_CPU,
     .opt_level = 3},
    {.name = "fusions",
     .summary = "unfused + the graph passes (level 3: folding, fusions, views), autotuned, "
                "launched layer by layer (no CUDA graph)",
     .base = "unfused",
     .adds = "graph optimization (fusions)",
     .kind = CH_KIND_PLAN,
     .devices = CH_DEV_CUDA,
     .no_cuda_graph = true,
     .opt_level = 3},
    {.name = "tuned",
     .summary = "fusions + autotuned tactics + memory plan (a plan built the default way)",
     .base = "fusions",
     .adds = "autotuned tactics",
     .kind = CH_KIND_PLAN,
     .devices = CH_DEV_CPU,
     .opt_level = 3},
    {.name = "tuned",
     .summary = "fusions, each run replayed as one captured CUDA graph (a GPU plan built and run "
                "the default way)",
     .base = "fusions",
     .adds = "CUDA-graph replay",
     .kind = CH_KIND_PLAN,
     .devices = CH_DEV_CUDA,
     .opt_level = 3},
    {.name = "deterministic",
     .summary = "tuned with the deterministic rule (first tactic by preference within the "
                "margin; no non-deterministic tactic)",
     .base = "tuned",
     .adds = "deterministic tactic rule",
     .kind = CH_KIND_PLAN,
     .devices = CH_DEV_CPU | CH_DEV_CUDA,
     .opt_level = 3,
     .deterministic = true},
    {.name = "tf32",
     .summary = "tuned with TensorFloat-32 tensor-core math allowed (float32 storage)",
     .base = "tuned",
     .adds = "TF32 math",
     .kind = CH_KIND_PLAN,
     .devices = CH_DEV_CUDA,
     .opt_level = 3,
     .configure = cfg_tf32},
    {.name = "fp16",
     .summary = "tuned with FP16 weights and activations, FP32 accumulation (layers without an "
                "FP16 kernel stay FP32)",
     .base = "tuned",
     .adds = "FP16 precision",
     .kind = CH_KIND_PLAN,
     .devices = CH_DEV_CPU | CH_DEV_CUDA,
     .opt_level = 3,
     .configure = cfg_fp16},
    {.name = "bf16",
     .summary = "tuned with BF16 weights and activations, FP32 accumulation (layers without a "
                "BF16 kernel stay FP32)",
     .base = "tuned",
     .adds = "BF16 precision",
     .kind = CH_KIND_PLAN,
     .devices = CH_DEV_CPU | CH_DEV_CUDA,
     .opt_level = 3,
     .configure = cfg_bf16},
    {.name = "int8",
     .summary = "tuned with INT8 post-training quantization: 99.99th-percentile calibration on "
                "500 images of the calibration split, per-channel weights",
     .base = "tuned",
     .adds = "INT8 quantization",
     .kind = CH_KIND_PLAN,
     .devices = CH_DEV_CPU | CH_DEV_CUDA,
     .opt_level = 3,
     .configure = cfg_int8},
    {.name = "pruned",
     .summary = "tuned with 50% unstructured magnitude pruning of every layer's weights",
     .base = "tuned",
     .adds = "pruning (50%)",
     .kind = CH_KIND_PLAN,
     .devices = CH_DEV_CPU | CH_DEV_CUDA,
     .opt_level = 3,
     .configure = cfg_pruned},
    {.name = "clustered",
     .summary = "tuned with every layer's weights clustered to 16 shared values (k-means)",
     .base = "tuned",
     .adds = "weight clustering (16 values)",
     .kind = CH_KIND_PLAN,
     .devices = CH_DEV_CPU | CH_DEV_CUDA,
     .opt_level = 3,
     .configure = cfg_clustered},
};

size_t ch_config_count(void)
{
    return sizeof configs / sizeof configs[0];
}

const ch_config *ch_config_at(size_t i)
{
    return i < ch_config_count() ? &configs[i] : NULL;
}

const ch_config *ch_config_find(const char *name, unsigned device)
{
    for (size_t i = 0; i < ch_config_count(); i++)
        if ((configs[i].devices & device) && strcmp(configs[i].name, name) == 0)
            return &configs[i];
    return NULL;
}

bool ch_config_known(const char *name)
{
    return ch_config_find(name, CH_DEV_CPU | CH_DEV_CUDA) != NULL;
}

/* The public list names each config once, by its first entry (the CPU's where both devices
 * have one). */
static const ch_config *public_config(size_t i)
{
    size_t k = 0;
    for (size_t j = 0; j < ch_config_count(); j++) {
        if (ch_config_find(configs[j].name, CH_DEV_CPU | CH_DEV_CUDA) != &configs[j]) continue;
        if (k++ == i) return &configs[j];
    }
    return NULL;
}

size_t lucid_characterize_config_count(void)
{
    size_t n = 0;
    while (public_config(n))
        n++;
    return n;
}

const char *lucid_characterize_config_name(size_t i)
{
    const ch_config *c = public_config(i);
    return c ? c->name : NULL;
}

const char *lucid_characterize_config_summary(size_t i)
{
    const ch_config *c = public_config(i);
    return c ? c->summary : NULL;
}
