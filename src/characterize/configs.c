/* configs.c - lucid's optimization configs for the study: what each one runs, the config it
 * adds one optimization to (the attribution chain), and the ones lucid does not have yet. */
#include <string.h>

#include "characterize/characterize.h"

/* Order matters: a config comes after its base, and the table's order is the report's. A
 * reduced-precision or compression config becomes real by setting `missing` to NULL and giving
 * it a `configure` function that sets its build options (precision, calibration, ...). */
static const ch_config configs[] = {
    {.name = "reference",
     .summary = "no optimization: the ONNX graph as loaded on the reference kernels",
     .kind = CH_KIND_REFERENCE,
     .opt_level = 0},
    {.name = "fusions",
     .summary = "graph passes only (level 3: folding, fusions, views) on the reference kernels",
     .base = "reference",
     .adds = "graph optimization (fusions)",
     .kind = CH_KIND_REFERENCE,
     .opt_level = 3},
    {.name = "tuned",
     .summary = "fusions + autotuned tactics + memory plan (a plan built the default way)",
     .base = "fusions",
     .adds = "autotuned tactics",
     .kind = CH_KIND_PLAN,
     .opt_level = 3},
    {.name = "deterministic",
     .summary = "tuned with the deterministic rule (first tactic by preference within the "
                "margin; no non-deterministic tactic)",
     .base = "tuned",
     .adds = "deterministic tactic rule",
     .kind = CH_KIND_PLAN,
     .opt_level = 3,
     .deterministic = true},
    {.name = "fp16",
     .summary = "FP16 weights and activations, FP32 accumulation",
     .base = "tuned",
     .adds = "FP16 precision",
     .kind = CH_KIND_PLAN,
     .opt_level = 3,
     .missing = "FP16 engines are not implemented in lucid yet (issue #7)"},
    {.name = "bf16",
     .summary = "BF16 weights and activations, FP32 accumulation",
     .base = "tuned",
     .adds = "BF16 precision",
     .kind = CH_KIND_PLAN,
     .opt_level = 3,
     .missing = "BF16 engines are not implemented in lucid yet (issue #7)"},
    {.name = "int8",
     .summary = "INT8 post-training quantization (calibrated)",
     .base = "tuned",
     .adds = "INT8 quantization",
     .kind = CH_KIND_PLAN,
     .opt_level = 3,
     .missing = "INT8 quantization is not implemented in lucid yet (issue #7)"},
    {.name = "pruned",
     .summary = "magnitude pruning of the weights",
     .base = "tuned",
     .adds = "pruning",
     .kind = CH_KIND_PLAN,
     .opt_level = 3,
     .missing = "pruning is not implemented in lucid yet (issue #7)"},
    {.name = "clustered",
     .summary = "per-layer k-means weight clustering",
     .base = "tuned",
     .adds = "weight clustering",
     .kind = CH_KIND_PLAN,
     .opt_level = 3,
     .missing = "weight clustering is not implemented in lucid yet (issue #7)"},
};

size_t ch_config_count(void)
{
    return sizeof configs / sizeof configs[0];
}

const ch_config *ch_config_at(size_t i)
{
    return i < ch_config_count() ? &configs[i] : NULL;
}

const ch_config *ch_config_find(const char *name)
{
    for (size_t i = 0; i < ch_config_count(); i++)
        if (strcmp(configs[i].name, name) == 0) return &configs[i];
    return NULL;
}

size_t lucid_characterize_config_count(void)
{
    return ch_config_count();
}

const char *lucid_characterize_config_name(size_t i)
{
    return i < ch_config_count() ? configs[i].name : NULL;
}

const char *lucid_characterize_config_summary(size_t i)
{
    return i < ch_config_count() ? configs[i].summary : NULL;
}
