/* configs.c - lucid's optimization configs for the study: what each one runs, the config it
 * adds one optimization to (the attribution chain), and the ones lucid does not have yet. */
#include <string.h>

#include "characterize/characterize.h"

/* Order matters: a config comes after its base, and the table's order is the report's. A
 * reduced-precision or compression config becomes real by setting `missing` to NULL and
 * teaching lucid_cell.c how to build it (its build options). */
static const ch_config configs[] = {
    {"reference", "no optimization: the ONNX graph as loaded on the reference kernels", NULL,
     NULL, CH_KIND_REFERENCE, 0, false, NULL},
    {"fusions", "graph passes only (level 3: folding, fusions, views) on the reference kernels",
     "reference", "graph optimization (fusions)", CH_KIND_REFERENCE, 3, false, NULL},
    {"tuned", "fusions + autotuned tactics + memory plan (a plan built the default way)",
     "fusions", "autotuned tactics", CH_KIND_PLAN, 3, false, NULL},
    {"deterministic",
     "tuned with the deterministic rule (first tactic by preference within the margin; no "
     "non-deterministic tactic)",
     "tuned", "deterministic tactic rule", CH_KIND_PLAN, 3, true, NULL},
    {"fp16", "FP16 weights and activations, FP32 accumulation", "tuned", "FP16 precision",
     CH_KIND_PLAN, 3, false, "FP16 engines are not implemented in lucid yet (issue #7)"},
    {"bf16", "BF16 weights and activations, FP32 accumulation", "tuned", "BF16 precision",
     CH_KIND_PLAN, 3, false, "BF16 engines are not implemented in lucid yet (issue #7)"},
    {"int8", "INT8 post-training quantization (calibrated)", "tuned", "INT8 quantization",
     CH_KIND_PLAN, 3, false, "INT8 quantization is not implemented in lucid yet (issue #7)"},
    {"pruned", "magnitude pruning of the weights", "tuned", "pruning", CH_KIND_PLAN, 3, false,
     "pruning is not implemented in lucid yet (issue #7)"},
    {"clustered", "per-layer k-means weight clustering", "tuned", "weight clustering",
     CH_KIND_PLAN, 3, false, "weight clustering is not implemented in lucid yet (issue #7)"},
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
