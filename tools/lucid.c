/* lucid.c - the command-line tool's entry point: command dispatch, version and help texts. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char exit_codes[] =
    "Exit codes:\n"
    "  0  success\n"
    "  1  usage error: unknown command or flag, missing or malformed value, --shape/--input\n"
    "     naming an input the model lacks or a shape that does not fit it\n"
    "  2  invalid or unsupported model or input data (including an .npy whose dtype or shape\n"
    "     does not match the model, and ops lucid cannot run)\n"
    "  3  I/O error: a file could not be opened, read or written\n"
    "  4  runtime failure: out of memory, a failed run, an internal error\n"
    "Every error is one line on stderr: 'lucid: <file or --flag>: <message>'.\n";

void cli_help_main(void)
{
    printf("lucid %s - an open neural-network inference engine\n"
           "\n"
           "Usage: lucid COMMAND MODEL [flags]\n"
           "       lucid help COMMAND | lucid COMMAND --help\n"
           "       lucid --version\n"
           "\n"
           "Commands:\n"
           "  info   describe a model: inputs, outputs, ops, parameters, MACs, memory\n"
           "  run    run a model once on .npy or seeded random inputs; summarize or save outputs\n"
           "  bench  measure latency and throughput (trtexec-style warm-up and statistics)\n"
           "\n"
           "Symbolic input dimensions not fixed by --shape or --input are set to 1, with a\n"
           "note on stderr. --json prints one JSON document to stdout (docs/cli.md).\n"
           "\n%s",
           lucid_version(), exit_codes);
}

static const char help_info[] =
    "Usage: lucid info MODEL [--shape NAME=DIMS ...] [--nodes] [--json]\n"
    "\n"
    "Describes an ONNX model: file, producer, IR version, opset, inputs and outputs (dtype,\n"
    "shape with symbolic dimension names), op histogram, parameter count and bytes, MACs,\n"
    "FLOPs, activation memory (sum of all activation tensor sizes) and node count. Costs are\n"
    "computed for the shapes after --shape (symbolic dimensions otherwise 1).\n"
    "\n"
    "  --shape NAME=DIMS  fix input NAME's shape, e.g. --shape input=1x3x224x224 (repeatable;\n"
    "                     'scalar' for rank 0)\n"
    "  --nodes            add a per-node table: name, op, output shapes, MACs\n"
    "  --json             print one JSON document instead of text\n";

static const char help_run[] =
    "Usage: lucid run MODEL [--input NAME=FILE.npy ...] [--output-dir DIR] [--seed N]\n"
    "                 [--shape NAME=DIMS ...] [--json]\n"
    "\n"
    "Runs the model once with the reference executor and prints, per output: name, dtype,\n"
    "shape, min, max, mean, argmax (float outputs) and the FNV-1a 64-bit digest of its bytes.\n"
    "\n"
    "  --input NAME=FILE  feed input NAME from a NumPy .npy file (repeatable). Its dtype must\n"
    "                     match the model's; its shape must fit, and fixes symbolic dims.\n"
    "  --output-dir DIR   write each output as DIR/<name>.npy (created if missing; characters\n"
    "                     other than letters, digits, '.', '-', '_' become '_')\n"
    "  --seed N           seed for inputs not given by --input (default 0). Each such input\n"
    "                     is filled from splitmix64 seeded with N xor FNV-1a(input name):\n"
    "                     floats uniform in [-1, 1), integers 0..3, bools 0/1.\n"
    "  --shape NAME=DIMS  fix input NAME's shape (repeatable)\n"
    "  --json             print one JSON document instead of text\n";

static const char help_bench[] =
    "Usage: lucid bench MODEL [--warmup MS] [--iterations N] [--duration S] [--threads N]\n"
    "                   [--shape NAME=DIMS ...] [--seed N] [--json]\n"
    "\n"
    "Measures latency like trtexec: runs untimed for the warm-up time, then times at least\n"
    "N runs AND at least S seconds (both phases stop at 1000000 runs). Prints min, mean,\n"
    "median, p90, p95, p99 (nearest rank), max, stddev, CV (with a warning above 1%%) and\n"
    "throughput (runs / timed seconds).\n"
    "\n"
    "  --warmup MS        warm-up time in milliseconds (default 200, at most 3600000)\n"
    "  --iterations N     minimum timed runs (default 10, 1 to 1000000)\n"
    "  --duration S       minimum timed seconds (default 3, at most 86400)\n"
    "  --threads N        threads requested from the executor (default 0: all cores). The\n"
    "                     current reference executor runs on one thread whatever N is; the\n"
    "                     request is recorded in the output.\n"
    "  --shape NAME=DIMS  fix input NAME's shape (repeatable)\n"
    "  --seed N           seed for the random inputs, as in 'lucid run' (default 0)\n"
    "  --json             print one JSON document instead of text\n";

int cli_help_command(const char *command)
{
    const char *text = strcmp(command, "info") == 0    ? help_info
                       : strcmp(command, "run") == 0   ? help_run
                       : strcmp(command, "bench") == 0 ? help_bench
                                                       : NULL;
    if (!text) {
        cli_failf(command, "unknown command (commands: info, run, bench)");
        return CLI_EXIT_USAGE;
    }
    fputs(text, stdout);
    printf("\n%s", exit_codes);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_fail("lucid", "missing COMMAND (commands: info, run, bench; try 'lucid --help')");
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        cli_help_main();
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("lucid %s\n", lucid_version());
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
    if (cmd[0] == '-')
        cli_failf(cmd, "unknown flag (try 'lucid --help')");
    else
        cli_failf(cmd, "unknown command (commands: info, run, bench; try 'lucid --help')");
    return CLI_EXIT_USAGE;
}
