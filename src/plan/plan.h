/* plan.h - a built engine: the optimized graph, one tactic per layer with the timings that
 * chose it, and the activation memory plan. */
#ifndef LUCID_PLAN_PLAN_H
#define LUCID_PLAN_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir/graph.h"
#include "ir/model.h"
#include "lucid.h"
#include "tactics/device.h"
#include "tactics/tactic.h"

#define LUCID_PLAN_ALIGN 64
#define LUCID_OFFSET_NONE SIZE_MAX

/* One candidate the builder considered for a layer. */
typedef struct lucid_candidate {
    const lucid_tactic *tactic;
    bool supported;
    bool timed;          /* measured now (false: from the timing cache, or not run) */
    double median_ms;    /* < 0 when not measured */
    bool filtered;       /* removed by --tactics / --exclude-tactics */
    char why[160];       /* why unsupported or excluded */
} lucid_candidate;

typedef struct lucid_layer {
    const lucid_tactic *tactic; /* NULL for nodes that do not run (elided, constant) */
    void *state;                /* the tactic's prepared state, owned */
    size_t workspace;           /* bytes for the plan's thread count */
    lucid_candidate *cands;
    int n_cands;
    char reason[200];           /* why this tactic */
} lucid_layer;

struct lucid_plan {
    lucid_model_t *model;     /* the optimized model, owned */
    int threads;              /* the thread count it was tuned for */
    bool deterministic;
    int opt_level;
    lucid_layer *layers;      /* per node */
    size_t *offsets;          /* per tensor: byte offset in the arena, or LUCID_OFFSET_NONE */
    size_t arena_size;        /* peak activation bytes */
    size_t naive_size;        /* the sum of every activation tensor's bytes */
    size_t io_size;           /* of arena_size (and naive_size): graph inputs and outputs */
    size_t workspace_size;    /* the largest layer workspace */
    size_t inplace_count;     /* outputs placed on their dead input */
    double build_seconds;
    double layout_est_ms, plain_est_ms; /* the layout search's totals (0: none ran) */
    /* the builder's check of the search: whole plans measured against each other, per layout
     * besides plain that the plan used (lucid_layout index; 0: not built), median ms */
    double layout_measured_ms[3];
    double layout_widest_ms;   /* the search's layout on every layer that takes it (0: none) */
    int layout_measured_rounds;
    int tactic_check_tried, tactic_check_kept, tactic_check_rounds;
    double tactic_check_before_ms, tactic_check_after_ms;
    char cpu_model[128];
    lucid_opt_report_t *opt_report; /* the optimizer's log, NULL for a loaded plan */
    /* GPU plans (device != CPU): the backend, its open device (owned), the plan-wide device
     * state (constants on the device) and the GPU's description */
    lucid_device device;
    lucid_precision precision;
    const lucid_device_backend *backend;
    void *dev;
    void *dev_state;
    char device_model[256];
    /* the precision pass's request and report (NULL when the build asked for neither reduced
     * precision nor compression, and for loaded plans) */
    struct lucid_precision_job *job;
    lucid_build_options job_opts;
    bool channels_last;          /* GPU plans: 4-D float activations stored NHWC */
    char layout_reason[200];     /* why (the backend's plan_layout) */
};

/* What a layer computes in, from its tensors' dtypes: "fp32", "fp16", "bf16", "int8", or
 * "reformat" for conversions (Cast, Quantize/DequantizeLinear, Reorder). */
const char *lucid_node_precision_name(const lucid_graph *g, const lucid_node *n);

/* lucid_plan_build with extra tactics considered before the compiled-in ones (tests add
 * tactics that must never be selectable in normal builds this way). */
lucid_status lucid_plan_build_ex(const lucid_model_t *model, const lucid_build_options *opts,
                                 const lucid_tactic *const *extra, size_t n_extra,
                                 lucid_plan_t **out, lucid_error *err);
/* Plans memory for the plan's graph: lifetimes, in-place reuse, greedy by size. tactics: per
 * node the tactic that will run it (NULL entries, or NULL: unknown), for the reuse only some
 * tactics allow (LUCID_TACTIC_RESIDUAL_INPLACE). */
lucid_status lucid_plan_memory(lucid_plan_t *plan, const lucid_tactic *const *tactics,
                               lucid_error *err);
/* Prepares (no timing) the tactic named for each layer, e.g. when a plan file is loaded. */
lucid_status lucid_plan_prepare_layers(lucid_plan_t *plan, const char *const *tactic_names,
                                       lucid_error *err);
/* The builder's layout choice (layout.c): after every layer's candidates were timed, sets
 * each node's layout (channels-last where that costs least, reorders included) and counts the
 * channels-last layers; then inserts the Reorder nodes that make it so. */
/* force_layout: -1 searches with either alternative to plain (NHWC, NCHW16C) and keeps the
 * cheaper; LUCID_LAYOUT_PLAIN keeps every layer plain that has a plain tactic; NHWC or NCHW16C
 * searches with that alternative only; or'ed with LUCID_LAYOUT_WIDEST, puts every layer that
 * can run in that alternative there, without a search. */
#define LUCID_LAYOUT_WIDEST 0x10
lucid_status lucid_plan_choose_layouts(lucid_plan_t *plan, const lucid_build_options *o,
                                       lucid_threadpool *pool, int force_layout, int *n_alt,
                                       lucid_error *err);
lucid_status lucid_plan_insert_reorders(lucid_plan_t *plan, lucid_error *err);
/* Can node n run channels-last (4-D float activations, outputs not views)? */
bool lucid_layout_nhwc_eligible(const lucid_graph *g, const lucid_node *n);
/* Can node n run in `layout`: NHWC as above; NCHW16C: 4-D float32 activations, at least one
 * with channels a multiple of 16, outputs that are views or hold views only as slices of
 * whole channel blocks (an elided Concat's or Split's); plain always. */
/* CPU plans: the Reorder layer that is the only reader of graph input t (plain, 4-D, not also
 * an output), or -1. Such an input is converted when it is set, straight into the Reorder's
 * output, which then lives for the whole run as an input does; the input itself takes no
 * memory and the Reorder does not run (the memory plan and the context agree on this). */
int lucid_plan_input_reorder(const lucid_graph *g, int t);

bool lucid_layout_eligible(const lucid_graph *g, const lucid_node *n, lucid_layout layout);
/* For a plan read from a file: every tensor's layout from its producer's tactic, checked
 * against what each layer's tactic reads. */
lucid_status lucid_plan_derive_layouts(lucid_plan_t *plan, lucid_error *err);

/* Does node i run at all (not elided, outputs not all known constants)? */
bool lucid_plan_node_runs(const lucid_graph *g, int i);

#endif
