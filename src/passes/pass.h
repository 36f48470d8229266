/* pass.h - the graph pass interface: a named rewrite with a level, and its log. */
#ifndef LUCID_PASSES_PASS_H
#define LUCID_PASSES_PASS_H

#include "ir/graph.h"
#include "lucid.h"

/* Levels, as --opt-level: a pass runs when its level is <= the requested one. */
enum {
    LUCID_PASS_BASIC = 1,   /* folding and clean-up that every engine does */
    LUCID_PASS_FUSION = 2,  /* layer fusions */
    LUCID_PASS_MEMORY = 3,  /* views and in-place writes that save copies */
};

typedef struct lucid_pass_ctx lucid_pass_ctx;
/* The builder's reduced-precision and compression request (src/quant/quant.h), seen by the
 * precision pass; NULL when the graph is optimized on its own. */
typedef struct lucid_precision_job lucid_precision_job;
lucid_precision_job *lucid_pass_job(lucid_pass_ctx *ctx);
/* Does the job ask for INT8 (so that the Q/DQ fusion must run)? */
bool lucid_precision_job_int8(const lucid_precision_job *job);

/* A pass rewrites ctx's graph and logs each rewrite. It may mark nodes dead (they are removed,
 * with the tensors nobody uses any more, when it returns), add nodes and constants, and
 * change inputs; the manager then sorts, validates and infers the graph again, so a pass may
 * leave shapes of what it changed stale. It must not leave the graph invalid: the manager
 * treats that as a bug in the pass. */
typedef struct lucid_pass_def {
    const char *name;
    int level;
    const char *summary; /* one line for --help and the report */
    lucid_status (*run)(lucid_pass_ctx *ctx, lucid_graph *g, lucid_error *err);
} lucid_pass_def;

/* Logs a rewrite: the original nodes (comma-separated names), the engine layer they became
 * (named as TensorRT users know it: "conv1 + bn1 + relu1"), and a detail. */
void lucid_pass_rewrite(lucid_pass_ctx *ctx, const char *nodes, const char *layer,
                        const char *fmt, ...) LUCID_PRINTF(4, 5);
/* Logs a rewrite the pass refused (numerically unsafe, unsupported form), with the reason. */
void lucid_pass_refuse(lucid_pass_ctx *ctx, const char *nodes, const char *fmt, ...)
    LUCID_PRINTF(3, 4);

/* The engine-layer name of nodes merged together: their names joined with " + ". */
char *lucid_layer_name_join(const char *a, const char *b);

/* Marks n dead and remembers, for the log, nothing else: callers log. */
static inline void lucid_node_kill(lucid_node *n)
{
    n->dead = true;
}

/* lucid_model_optimize for the builder: with a precision job, the precision pass always runs
 * (at whatever level), and rewrites the graph as the job's build options ask. */
lucid_status lucid_model_optimize_job(lucid_model_t *model, const lucid_optimize_options *opts,
                                      lucid_precision_job *job, lucid_opt_report_t **report,
                                      lucid_error *err);

#define LUCID_PASS_EXTERN(sym) extern const lucid_pass_def lucid_pass_##sym;

#endif
