/* lucid.c - the command-line tool's entry point: command dispatch, version and help texts. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/threadpool.h"

int cli_cmd_compare(int argc, char **argv); /* cli_compare.c */

static const char opt_flags[] =
    "  --opt-level N      graph optimization: 0 none, 1 basic, 2 fusions, 3 all (default %s)\n"
    "  --disable-pass NAME  skip one pass (repeatable)\n"
    "  --passes a,b,c     run exactly these passes, whatever the level\n";

static const char builder_flags[] =
    "Building a plan (build; run, bench and eval of an ONNX model without --reference):\n"
    "  --threads N        threads to tune for and run with (default 0: all cores)\n"
    "  --deterministic    choose by the documented rule (the first tactic in lucid's\n"
    "                     preference order within --margin of the fastest) and leave out\n"
    "                     tactics that are not run-to-run deterministic\n"
    "  --margin F         the deterministic rule's margin (default 0.05 = 5%)\n"
    "  --timing-cache FILE  measured medians read before and written after the build\n"
    "  --tactics P,...    only tactics whose names start with one of these prefixes\n"
    "  --exclude-tactics P,...  no tactic whose name starts with one of these prefixes\n"
    "                     (the reference kernel stays allowed as the last resort)\n"
    "  --tune-ms MS       timing budget per candidate tactic (default 20; at least 3 runs)\n"
    "  --no-layout-check  keep the layout search's choice without building and running the\n"
    "                     alternatives (all plain NCHW, the other of NHWC and NCHW16C) against\n"
    "                     it (CPU fp32 builds check by default and keep the fastest plan)\n"
    "  --no-tactic-check  keep every layer's fastest tactic timed alone, without running the\n"
    "                     plan against the same plan with the runner-up tactics (CPU fp32\n"
    "                     builds check by default and keep runner-ups faster in the plan)\n"
    "  --device D         cpu (default) or cuda: every layer on the NVIDIA GPU\n"
    "  --precision P      fp32 (default), fp16, bf16 or int8 on the CPU; fp32, tf32, fp16,\n"
    "                     bf16 or int8 on the GPU: the plan's arithmetic and storage (inputs\n"
    "                     and outputs stay float32). On the CPU a permission: layers without a\n"
    "                     kernel in P stay fp32 and the build report says which and why\n"
    "  --layer-precision NAME=P  pin a layer (or a node fused into one) to fp32 or to P\n"
    "                     (repeatable)\n"
    "  --auto-precision T  keep fp32 every layer that adds more than T relative L2 output\n"
    "                     error on the calibration set (needs --calibration-data)\n"
    "  --calibration-data SPEC  int8 calibration images, a dataset spec (use a split you do\n"
    "                     not evaluate on, e.g. fashion-mnist:train)\n"
    "  --calibration-count N  calibration samples (default 500)\n"
    "  --calibrator C     percentile (default), entropy or minmax\n"
    "  --percentile P     the percentile calibrator's percentile (default 99.99)\n"
    "  --calibration-cache FILE  thresholds read from FILE when it exists (no data needed,\n"
    "                     reproducible), written to it otherwise\n"
    "  --prune F          zero the fraction F of each layer's smallest weights\n"
    "  --prune-2-4        keep the 2 largest of every 4 weights along the input channels\n"
    "  --cluster-bits B   share 2^B weight values per layer (k-means, B from 2 to 8)\n"
    "  --gpu-layout L     auto (default: NHWC in fp16/bf16 plans where every layer can run\n"
    "                     channels-last, else NCHW), nchw or nhwc: how the GPU stores 4-D\n"
    "                     activations\n"
    "GPU plans (run, bench, eval):\n"
    "  --no-cuda-graph    launch layer by layer instead of replaying one captured CUDA graph\n";

static const char exit_codes[] =
    "Exit codes:\n"
    "  0  success\n"
    "  1  usage error: unknown command or flag, missing or malformed value, --shape/--input\n"
    "     naming an input the model lacks or a shape that does not fit it, a flag that makes\n"
    "     no sense with a plan file\n"
    "  2  invalid or unsupported model, plan or input data (including an .npy whose dtype or\n"
    "     shape does not match the model, a corrupt, truncated or foreign plan, and ops lucid\n"
    "     cannot run)\n"
    "  3  I/O error: a file could not be opened, read or written\n"
    "  4  runtime failure: out of memory, a failed run, an internal error\n"
    "  130  characterize was interrupted (Ctrl-C); the results measured so far were written\n"
    "Every error is one line on stderr: 'lucid: <file or --flag>: <message>'.\n";

/* The pass names, comma-separated, for the help texts. */
static const char *pass_names(void)
{
    static char list[1024];
    size_t pos = 0;
    list[0] = '\0';
    for (size_t i = 0; i < lucid_pass_count() && pos < sizeof list; i++) {
        int w = snprintf(list + pos, sizeof list - pos, "%s%s", i ? ", " : "", lucid_pass_name(i));
        if (w < 0) break;
        pos += (size_t)w;
    }
    return list;
}

void cli_help_main(void)
{
    printf("lucid %s - an open neural-network inference engine\n"
           "\n"
           "Usage: lucid COMMAND MODEL [flags]     (MODEL: an ONNX model or a lucid plan file)\n"
           "       lucid help COMMAND | lucid COMMAND --help\n"
           "       lucid --version\n"
           "\n"
           "Commands:\n"
           "  info   describe a model (inputs, outputs, ops, parameters, MACs, memory) or a plan\n"
           "         (how it was built, memory, the tactic of every layer)\n"
           "  run    run a model or plan once on .npy or seeded random inputs; summarize or\n"
           "         save outputs\n"
           "  bench  measure latency and throughput (trtexec-style warm-up and statistics)\n"
           "  eval   top-1 and top-5 accuracy of a classifier over a labelled dataset\n"
           "  build  build a plan (-o FILE.plan): every rewrite, every layer's tactic candidates\n"
           "         timed and the fastest kept, activation memory planned; export ONNX\n"
           "  characterize  the study: engines x optimization configs, measuring latency,\n"
           "         scenarios, cost, per-layer profile, accuracy, determinism, attribution;\n"
           "         writes results.json, CSV tables and report.html\n"
           "  compare  merge characterize results from several machines into one report:\n"
           "         latency, speedups and layers per device, devices slower than weaker ones,\n"
           "         cross-device determinism (lucid compare RESULTS_DIR... --out DIR)\n"
           "\n"
           "run, bench and eval take a plan file (recognized by its magic bytes) and run it; given\n"
           "an ONNX model they build a plan first (its build time is a note on stderr), or with\n"
           "--reference run the optimized model on the reference executor.\n"
           "\n"
           "%s"
           "\n"
           "Graph optimization (info, run, bench, eval, build):\n"
           "  --opt-level N        0 none, 1 basic (folding, clean-up), 2 also fusions, 3 also\n"
           "                       memory rewrites (views, concat elision). run, bench, eval and\n"
           "                       build default to 3; info shows the model as loaded unless\n"
           "                       --optimized (level 3) or --opt-level is given\n"
           "  --disable-pass NAME  do not run pass NAME (repeatable)\n"
           "  --passes a,b,c       run exactly these passes (in their fixed order)\n"
           "  Passes: %s\n"
           "\n"
           "Symbolic input dimensions not fixed by --shape or --input are set to 1, with a\n"
           "note on stderr. --json prints one JSON document to stdout (docs/cli.md).\n"
           "\n%s",
           lucid_version(), builder_flags, pass_names(), exit_codes);
}

static const char help_info[] =
    "Usage: lucid info MODEL [--shape NAME=DIMS ...] [--nodes] [--json] [--optimized]\n"
    "                  [--opt-level N] [--disable-pass NAME ...] [--passes a,b,c]\n"
    "\n"
    "Describes an ONNX model: file, producer, IR version, opset, inputs and outputs (dtype,\n"
    "shape with symbolic dimension names), op histogram, parameter count and bytes, MACs,\n"
    "FLOPs, activation memory (sum of all activation tensor sizes) and node count. Costs are\n"
    "computed for the shapes after --shape (symbolic dimensions otherwise 1).\n"
    "\n"
    "Given a plan file it shows the plan: inputs, outputs, threads, deterministic or not, opt\n"
    "level, the CPU it was built on, peak activation memory against the naive sum, in-place\n"
    "layers, weights, file size, and every layer's tactic (only --json is accepted then).\n"
    "\n"
    "  --shape NAME=DIMS  fix input NAME's shape, e.g. --shape input=1x3x224x224 (repeatable;\n"
    "                     'scalar' for rank 0)\n"
    "  --nodes            add a per-node table: name, op, output shapes, MACs\n"
    "  --optimized        describe the optimized graph (level 3 unless --opt-level is given)\n"
    "  --json             print one JSON document instead of text\n";

static const char help_run[] =
    "Usage: lucid run MODEL|PLAN [--input NAME=FILE.npy ...] [--output-dir DIR] [--seed N]\n"
    "                 [--shape NAME=DIMS ...] [--json] [--reference] [builder flags]\n"
    "                 [--opt-level N] [--disable-pass NAME] [--passes a,b,c]\n"
    "\n"
    "Runs a plan file, or an ONNX model built into a plan first (optimized at level 3 unless\n"
    "--opt-level says otherwise), once, and prints, per output: name, dtype, shape, min, max,\n"
    "mean, argmax (float outputs) and the FNV-1a 64-bit digest of its bytes.\n"
    "\n"
    "  --reference        run the optimized ONNX model on the reference executor, no plan\n"
    "\n"
    "  --input NAME=FILE  feed input NAME from a NumPy .npy file (repeatable). Its dtype must\n"
    "                     match the model's; its shape must fit, and fixes symbolic dims.\n"
    "  --output-dir DIR   write each output as DIR/<name>.npy (created if missing; characters\n"
    "                     other than letters, digits, '.', '-', '_' become '_')\n"
    "  --seed N           seed for inputs not given by --input (default 0). Each such input\n"
    "                     is filled from splitmix64 seeded with N xor FNV-1a(input name):\n"
    "                     floats uniform in [-1, 1), integers 0..3, bools 0/1.\n"
    "  --shape NAME=DIMS  fix input NAME's shape (repeatable)\n"
    "  --json             print one JSON document instead of text\n"
    "With a plan file, --shape, --reference, the optimization and the builder flags are\n"
    "refused (the plan was built with them); --threads N runs it on N threads, at most the\n"
    "plan's (0: the plan's).\n";

static const char help_bench[] =
    "Usage: lucid bench MODEL|PLAN [--warmup MS] [--iterations N] [--duration S]\n"
    "                   [--input NAME=FILE.npy ...] [--shape NAME=DIMS ...] [--seed N] [--json]\n"
    "                   [--reference] [builder flags] [--opt-level N] [--disable-pass NAME ...]\n"
    "                   [--passes a,b,c] [--profile]\n"
    "\n"
    "Runs a plan file, or an ONNX model built into a plan first, or with --reference the\n"
    "optimized ONNX model on the reference executor.\n"
    "\n"
    "Measures latency like trtexec: runs untimed for the warm-up time, then times at least\n"
    "N runs AND at least S seconds (both phases stop at 1000000 runs). Prints min, mean,\n"
    "median, p90, p95, p99 (nearest rank), max, stddev, CV (with a warning above 1%%) and\n"
    "throughput (runs / timed seconds).\n"
    "\n"
    "  --warmup MS        warm-up time in milliseconds (default 200, at most 3600000)\n"
    "  --iterations N     minimum timed runs (default 10, 1 to 1000000)\n"
    "  --duration S       minimum timed seconds (default 3, at most 86400)\n"
    "  --threads N        threads the plan is built for (default 0: all cores); for a plan\n"
    "                     file, threads to run it on (at most the plan's); with --reference,\n"
    "                     recorded only: the reference executor uses one thread\n"
    "  --input NAME=FILE  feed input NAME from a NumPy .npy file, as in 'lucid run'\n"
    "                     (repeatable), so peer engines and lucid can time the same data\n"
    "  --shape NAME=DIMS  fix input NAME's shape (repeatable)\n"
    "  --seed N           seed for inputs not given by --input, as in 'lucid run' (default 0)\n"
    "  --json             print one JSON document (schema lucid-bench/1, docs/cli.md)\n"
    "  --reference        the reference executor instead of a plan\n"
    "  --profile          after the timed runs, a separate profiling run (as many runs as\n"
    "                     were timed, at least 10) timing every layer; prints each layer's\n"
    "                     mean time per run, share of the total and tactic, slowest first\n"
    "                     (with --json: a \"profile\" array in execution order)\n"
    "With a plan file, --shape, --reference, the optimization and the builder flags are\n"
    "refused (the plan was built with them); --threads N runs it on N threads, at most the\n"
    "plan's (0: the plan's).\n";

static const char help_eval[] =
    "Usage: lucid eval MODEL|PLAN --dataset SPEC [--limit N] [--shape NAME=DIMS]\n"
    "                  [--save-logits FILE.npy] [--json] [--reference] [builder flags]\n"
    "                  [--opt-level N] [--disable-pass NAME ...] [--passes a,b,c]\n"
    "\n"
    "Top-1 and top-5 accuracy of a classifier over a labelled dataset. The model has one\n"
    "float32 input [B, C, H, W] (B from --shape, or 1 when symbolic) and its first output is\n"
    "float32 [B, classes] or [B, classes, 1, 1]. Each run takes B consecutive samples; the\n"
    "last partial batch is padded with zeros whose scores are ignored. A sample counts for\n"
    "top-k when fewer than k classes rank above its label; classes rank by score, equal\n"
    "scores by lower class index, NaN below every number. Top-5 is not applicable (and not\n"
    "reported) for fewer than 5 classes. On a terminal, progress goes to stderr.\n"
    "\n"
    "  --dataset SPEC     the labelled samples (required):\n"
    "                       fashion-mnist[:test|:train][@DIR]  (default DIR\n"
    "                         /usr/share/datasets/fashion-mnist, split test)\n"
    "                       images:DIR   photos in class sub-folders of DIR\n"
    "                       npy:FILE.npy,LABELS.npy   or   npy:DIR with DIR/labels.npy\n"
    "  --limit N          evaluate only the first N samples\n"
    "  --shape NAME=DIMS  fix the input's shape, e.g. the batch: --shape input=32x1x28x28\n"
    "  --save-logits FILE write all N x classes scores as a float32 .npy\n"
    "  --json             print one JSON document (schema lucid-eval/1, docs/cli.md)\n"
    "  --reference        the reference executor on the optimized ONNX model, no plan\n"
    "A plan file is run as built (--shape, --reference, the optimization and the builder\n"
    "flags are refused; --threads N runs it on N threads, at most the plan's); an ONNX model\n"
    "is built into a plan first.\n";

static const char help_build[] =
    "Usage: lucid build MODEL [-o OUT.plan] [builder flags] [--opt-level N]\n"
    "                   [--disable-pass NAME ...] [--passes a,b,c] [--report] [--json]\n"
    "                   [--export-onnx OUT.onnx] [--shape NAME=DIMS ...]\n"
    "\n"
    "Builds a plan: optimizes the graph (level 3 by default), times every supported tactic on\n"
    "each layer's real shapes and keeps the fastest (or the --deterministic rule), and plans\n"
    "activation memory. Prints a summary: ONNX nodes and the engine layers they became, memory\n"
    "traffic before and after, rewrite counts, the plan's threads, tactics chosen by count,\n"
    "build time, peak activation bytes against the naive sum, in-place layers, weight bytes\n"
    "and plan file size. Without -o nothing is written. With --report also every rewrite in\n"
    "order (pass, original nodes, the engine layer they became as 'conv1 + bn1 + relu1',\n"
    "detail), rewrites a pass refused and why, layer counts by op, pass timings, and per\n"
    "layer: its tactic, median ms and why, and every candidate's median or why it was not\n"
    "timed.\n"
    "\n"
    "  -o FILE.plan       write the plan (versioned, checksummed: docs/plan-format.md)\n"
    "  --report           the full report (text)\n"
    "  --json             the full report as one JSON document (schema lucid-build/2,\n"
    "                     docs/cli.md)\n"
    "  --export-onnx FILE write the optimized graph as ONNX: fused layers are ops of domain\n"
    "                     'lucid' naming their original nodes; loads back into lucid, opens\n"
    "                     in Netron\n"
    "  --shape NAME=DIMS  fix input NAME's shape (repeatable); symbolic dims otherwise 1\n";

static const char help_characterize[] =
    "Usage: lucid characterize MODEL.onnx [--device cpu|cuda] [--dataset SPEC]\n"
    "                          [--calibration-data SPEC]\n"
    "                          [--engines lucid,onnxruntime,openvino,pytorch,tensorrt]\n"
    "                          [--configs LIST]\n"
    "                          [--out DIR] [--threads N] [--warmup MS] [--iterations N]\n"
    "                          [--duration S] [--runs R] [--builds K] [--batches 1,8,32]\n"
    "                          [--limit N] [--tune-ms MS] [--seed N] [--quiet]\n"
    "                          [--peers-dir DIR] [--python PY] [--torch-python PY] [--chartjs FILE]\n"
    "                          [--max-autotune]\n"
    "\n"
    "Runs the model through a matrix of engines and lucid optimization configs and measures,\n"
    "per cell: latency (warm-up, then at least N runs and S seconds; min, mean, median, p90,\n"
    "p95, p99, max, stddev, CV with a warning above 1%%; throughput), SingleStream (p90) and\n"
    "Offline (best samples/s over the batch sweep), cost (build time, plan size, peak\n"
    "activation and weight memory), a per-layer profile in a separate run (time, tactic,\n"
    "FLOPs, bytes, GFLOP/s, GB/s; Chrome trace), accuracy (top-1/top-5 against labels;\n"
    "against the FP32 reference outputs: argmax agreement, max abs/rel error, cosine),\n"
    "determinism (run-to-run over R runs, build-to-build over K builds, first diverging layer)\n"
    "and attribution (each optimization's share of the speedup and of the accuracy change).\n"
    "Cells that cannot run here are listed as unavailable with the reason. DIR gets\n"
    "results.json (schema lucid-characterize/1, docs/characterize.md), CSV tables,\n"
    "profile.trace.json and report.html (self-contained), rewritten after every cell: Ctrl-C\n"
    "stops after the current step and leaves the partial results (exit 130).\n"
    "\n"
    "  --device D         cpu (default) or cuda. On cuda lucid's configs are GPU plans\n"
    "                     (unfused, fusions, tuned = CUDA-graph replay, deterministic, tf32,\n"
    "                     fp16, bf16, int8, pruned, clustered), cells add the GPU breakdown\n"
    "                     (H2D, compute, D2H, enqueue), device memory, CUPTI kernel names and\n"
    "                     NVML clock/power/energy; PyTorch runs eager and torch.compile\n"
    "                     (reduce-overhead) in fp32 and fp16, ONNX Runtime its CUDA provider\n"
    "  --max-autotune     also torch.compile's max-autotune mode in fp16 (--device cuda)\n"
    "  --dataset SPEC     samples for accuracy (as 'lucid eval'); default: 16 seeded random\n"
    "                     inputs (accuracy then only against the reference outputs)\n"
    "  --calibration-data SPEC  int8 calibration images (default: fashion-mnist:train when\n"
    "                     the dataset is Fashion-MNIST's test split; otherwise int8 needs it)\n"
    "  --engines LIST     default lucid,onnxruntime,openvino,pytorch,tensorrt (OpenVINO runs\n"
    "                     two cells: cpu-fp32, and cpu-default, its own precision choice)\n"
    "  --configs LIST     lucid configs (default all): %s\n"
    "  --out DIR          output folder (default ./characterize)\n"
    "  --threads N        threads for plans and peers (default 0: all cores)\n"
    "  --warmup MS        warm-up time (default 200)\n"
    "  --iterations N     at least N timed runs (default 10)\n"
    "  --duration S       at least S timed seconds per latency measurement (default 1)\n"
    "  --runs R           run-to-run determinism runs (default 20)\n"
    "  --builds K         build-to-build determinism builds (default 3)\n"
    "  --batches LIST     Offline batch sweep (default 1,8,32; only when the model's batch\n"
    "                     dimension is symbolic)\n"
    "  --limit N          at most N dataset samples for accuracy\n"
    "  --tune-ms MS       builder's time per tactic candidate (default 20)\n"
    "  --seed N           seed of the random inputs (default 0)\n"
    "  --quiet            no progress and no summary table\n"
    "  --peers-dir DIR    the peer drivers (default: bench/peers of the source tree, or\n"
    "                     $LUCID_PEERS_DIR)\n"
    "  --python PY        python for every Python peer (ONNX Runtime, OpenVINO, PyTorch);\n"
    "                     default $LUCID_PEERS_PYTHON, else .venv-peers/bin/python3 of the\n"
    "                     source tree (bench/setup_peers.sh makes it), else python3\n"
    "  --torch-python PY  python for PyTorch alone (default: as --python; /usr/bin/python3\n"
    "                     when neither it, $LUCID_PEERS_PYTHON nor .venv-peers exists)\n"
    "  --chartjs FILE     Chart.js to inline (default Debian's libjs-chart.js, or\n"
    "                     $LUCID_CHARTJS)\n";

static const char help_compare[] =
    "Usage: lucid compare RESULTS_DIR... [--out DIR] [--margin F]\n"
    "                     [--peak \"DEVICE NAME=GFLOPS_FP32,GBS[,GFLOPS_FP16]\" ...]\n"
    "                     [--chartjs FILE] [--quiet]\n"
    "\n"
    "Merges the results of 'lucid characterize' runs - any models, any machines - into one\n"
    "report. Each RESULTS_DIR is a folder holding results.json (or the file itself); a result\n"
    "is keyed by its model (the model file's name, or its folder's for .../NAME/model.onnx)\n"
    "and its device (the GPU's name for cuda results, 'CPU MODEL (N cores)' for cpu ones).\n"
    "Per model and cell (engine/config): each device's latency, throughput, energy and\n"
    "accuracy; each optimization's speedup per device; per-layer times matched by name.\n"
    "Anomalies: a device A with more peak compute (FP32; FP16 for fp16/bf16/int8 configs when\n"
    "both record it) and more bandwidth than device B, whose median is slower than B's by more\n"
    "than the margin (A.median > B.median x (1 + F)) and beyond the noise (A.min > B.p90),\n"
    "with the layers that account for the gap. Devices without peaks are not compared for\n"
    "anomalies (the summary says so). Cross-device determinism: whether the same cell gives\n"
    "the same outputs on two devices, and from which layer on they differ. DIR gets\n"
    "compare.json (schema lucid-compare/1, docs/characterize.md), latency.csv, anomalies.csv,\n"
    "layers.csv and compare.html (self-contained); the summary goes to stdout.\n"
    "\n"
    "  --out DIR          output folder (default ./compare)\n"
    "  --margin F         anomalies: slower by more than this fraction (default 0.05)\n"
    "  --peak \"NAME=F32,GBS[,F16]\"  a device's peak FP32 GFLOP/s, bandwidth in GB/s and\n"
    "                     optionally peak FP16 GFLOP/s, replacing what its results recorded\n"
    "                     (repeatable; NAME as the summary's device list prints it)\n"
    "  --chartjs FILE     Chart.js to inline (default Debian's libjs-chart.js, or\n"
    "                     $LUCID_CHARTJS)\n"
    "  --quiet            print only the report's path\n";

static const char *config_names(void)
{
    static char list[512];
    size_t pos = 0;
    for (size_t i = 0; i < lucid_characterize_config_count() && pos < sizeof list; i++) {
        int w = snprintf(list + pos, sizeof list - pos, "%s%s", i ? "," : "",
                         lucid_characterize_config_name(i));
        if (w < 0) break;
        pos += (size_t)w;
    }
    return list;
}

int cli_help_command(const char *command)
{
    if (strcmp(command, "characterize") == 0) {
        printf(help_characterize, config_names());
        printf("\n%s", exit_codes);
        return CLI_EXIT_OK;
    }
    if (strcmp(command, "compare") == 0) {
        fputs(help_compare, stdout);
        printf("\n%s", exit_codes);
        return CLI_EXIT_OK;
    }
    const char *text = strcmp(command, "info") == 0    ? help_info
                       : strcmp(command, "run") == 0   ? help_run
                       : strcmp(command, "bench") == 0 ? help_bench
                       : strcmp(command, "eval") == 0  ? help_eval
                       : strcmp(command, "build") == 0 ? help_build
                                                       : NULL;
    if (!text) {
        cli_failf(command, "unknown command (commands: info, run, bench, eval, build, characterize, compare)");
        return CLI_EXIT_USAGE;
    }
    fputs(text, stdout);
    printf(opt_flags, strcmp(command, "info") == 0 ? "0: the model as loaded" : "3");
    /* info builds nothing; the other commands build plans from ONNX models */
    if (text != help_info) printf("\n%s", builder_flags);
    printf("Passes: %s\n", pass_names());
    printf("\n%s", exit_codes);
    return CLI_EXIT_OK;
}

/* OpenBLAS's threads spin after every call, stealing the cores that lucid's thread pool and
 * the next layer's library call need, unless OPENBLAS_THREAD_TIMEOUT is set. oneDNN's OpenMP
 * threads spin too: when lucid's pool owns pthreads (a build without LUCID_POOL_OPENMP) they
 * compete with it, and OMP_WAIT_POLICY=passive stops them; when the pool runs on the same
 * OpenMP team (the default with oneDNN) their spinning is what keeps the hand-off between
 * layers fast, and OpenMP's default policy is kept. Both libraries read these variables only
 * when they are loaded, before main. So when one that applies is unset, set it and execute
 * this program again, once: LUCID_ENV_SET marks the second start. A user's own values are
 * kept; if the exec fails, lucid runs on with the libraries' defaults. */
static void set_thread_env(char **argv)
{
    if (getenv("LUCID_ENV_SET")) return;
    bool omp = !lucid_threadpool_uses_openmp() && !getenv("OMP_WAIT_POLICY");
    bool blas = !getenv("OPENBLAS_THREAD_TIMEOUT");
    if (!omp && !blas) return;
    if (setenv("LUCID_ENV_SET", "1", 1) != 0) return;
    if (omp) setenv("OMP_WAIT_POLICY", "passive", 0);
    setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);
    fflush(NULL);
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    set_thread_env(argv);
    /* a LUCID_CPU_ISA that names no level: the library would fail every build and plan load;
     * the CLI says so once, before any command */
    const char *isa_env = getenv("LUCID_CPU_ISA");
    lucid_cpu_isa isa;
    if (isa_env && isa_env[0] && lucid_cpu_isa_parse(isa_env, &isa) != LUCID_STATUS_OK) {
        cli_failf("LUCID_CPU_ISA",
                  "unknown instruction-set level '%s' (levels: generic, avx2, avx512, "
                  "avx512_vnni, avx512_bf16, amx, native)",
                  isa_env);
        return CLI_EXIT_USAGE;
    }
    if (argc < 2) {
        cli_fail("lucid", "missing COMMAND (commands: info, run, bench, eval, build, characterize, compare; try 'lucid --help')");
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        cli_help_main();
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("lucid %s\n", lucid_version());
        lucid_cpu_isa cap = lucid_cpu_cap_get(), native = lucid_cpu_isa_native();
        /* "capped" whenever the cap hides a feature here (the rule test_tactics and the capped
         * zoo checks skip by), also at the native level */
        if (lucid_cpu_cap_hides())
            printf("cpu instruction sets: %s (capped by LUCID_CPU_ISA; the processor offers %s)\n",
                   lucid_cpu_isa_name(cap), lucid_cpu_isa_name(native));
        else
            printf("cpu instruction sets: %s (native)\n", lucid_cpu_isa_name(native));
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc == 2) {
            cli_help_main();
            return CLI_EXIT_OK;
        }
        if (argc > 3) {
            cli_failf(argv[3], "unexpected argument: 'lucid help' takes one COMMAND");
            return CLI_EXIT_USAGE;
        }
        return cli_help_command(argv[2]);
    }
    if (strcmp(cmd, "info") == 0) return cli_cmd_info(argc, argv);
    if (strcmp(cmd, "run") == 0) return cli_cmd_run(argc, argv);
    if (strcmp(cmd, "bench") == 0) return cli_cmd_bench(argc, argv);
    if (strcmp(cmd, "eval") == 0) return cli_cmd_eval(argc, argv);
    if (strcmp(cmd, "build") == 0) return cli_cmd_build(argc, argv);
    if (strcmp(cmd, "characterize") == 0) return cli_cmd_characterize(argc, argv);
    if (strcmp(cmd, "compare") == 0) return cli_cmd_compare(argc, argv);
    if (cmd[0] == '-')
        cli_failf(cmd, "unknown flag (try 'lucid --help')");
    else
        cli_failf(cmd, "unknown command (commands: info, run, bench, eval, build, characterize, compare; try 'lucid --help')");
    return CLI_EXIT_USAGE;
}
