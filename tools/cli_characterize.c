/* cli_characterize.c - `lucid characterize`: flags to lucid_characterize_options, progress on
 * a terminal, SIGINT to a cancel flag, the summary table at the end. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* The one piece of mutable global state: a signal handler can reach nothing else. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends the program at once */
}

static void progress(void *user, const lucid_characterize_progress *p)
{
    (void)user;
    char eta[32];
    if (p->eta_s >= 0)
        snprintf(eta, sizeof eta, "ETA %.0f s", p->eta_s);
    else
        snprintf(eta, sizeof eta, "ETA -");
    fprintf(stderr, "\r\033[Kcharacterize: [%zu/%zu] %s: %s  (%.0f s elapsed, %s)",
            p->steps_done + 1, p->steps_total, p->cell, p->step, p->elapsed_s, eta);
    fflush(stderr);
}

static int need_value(int argc, char **argv, int i)
{
    if (i + 1 >= argc) {
        cli_failf(argv[i], "missing value (see 'lucid help characterize')");
        return 0;
    }
    return 1;
}

static bool parse_double(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi) {
        cli_failf(flag, "'%s' is not a number from %g to %g", s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

int cli_cmd_characterize(int argc, char **argv)
{
    lucid_characterize_options o;
    lucid_characterize_options_default(&o);
    o.out_dir = "characterize";
    bool quiet = false;
    const char *model = NULL;
    bool flags_done = false;
    char flag_buf[64];
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i];
        double v;
        if (!flags_done && strcmp(f, "--") == 0) {
            flags_done = true;
            continue;
        }
        if (!flags_done && (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0))
            return cli_help_command("characterize");
        if (flags_done || f[0] != '-' || strcmp(f, "-") == 0) {
            if (model) {
                cli_failf(f, "unexpected argument: 'lucid characterize' takes one MODEL");
                return CLI_EXIT_USAGE;
            }
            model = f;
            continue;
        }
        if (strcmp(f, "--quiet") == 0) {
            quiet = true;
            continue;
        }
        if (strcmp(f, "--max-autotune") == 0) {
            o.torch_max_autotune = 1;
            continue;
        }
        const char *val;
        const char *eq = strchr(f, '=');
        if (eq && (size_t)(eq - f) < sizeof flag_buf) {
            /* --flag=value */
            snprintf(flag_buf, sizeof flag_buf, "%.*s", (int)(eq - f), f);
            f = flag_buf;
            val = eq + 1;
        } else {
            if (!need_value(argc, argv, i)) return CLI_EXIT_USAGE;
            val = argv[++i];
        }
        if (strcmp(f, "--device") == 0)
            o.device = val;
        else if (strcmp(f, "--dataset") == 0)
            o.dataset = val;
        else if (strcmp(f, "--calibration-data") == 0)
            o.calibration_data = val;
        else if (strcmp(f, "--engines") == 0)
            o.engines = val;
        else if (strcmp(f, "--configs") == 0)
            o.configs = val;
        else if (strcmp(f, "--out") == 0 || strcmp(f, "-o") == 0)
            o.out_dir = val;
        else if (strcmp(f, "--peers-dir") == 0)
            o.peers_dir = val;
        else if (strcmp(f, "--python") == 0)
            o.python = val;
        else if (strcmp(f, "--torch-python") == 0)
            o.torch_python = val;
        else if (strcmp(f, "--chartjs") == 0)
            o.chartjs = val;
        else if (strcmp(f, "--batches") == 0)
            o.batches = val;
        else if (strcmp(f, "--threads") == 0) {
            if (!parse_double(f, val, 0, 1024, &v) || v != floor(v)) return CLI_EXIT_USAGE;
            o.threads = (int)v;
        } else if (strcmp(f, "--warmup") == 0) {
            if (!parse_double(f, val, 0, 3600000, &v)) return CLI_EXIT_USAGE;
            o.warmup_ms = v;
        } else if (strcmp(f, "--iterations") == 0) {
            if (!parse_double(f, val, 1, LUCID_BENCH_MAX_ITERATIONS, &v) || v != floor(v))
                return CLI_EXIT_USAGE;
            o.min_iterations = (int64_t)v;
        } else if (strcmp(f, "--duration") == 0) {
            if (!parse_double(f, val, 0, 86400, &v)) return CLI_EXIT_USAGE;
            o.min_duration_s = v;
        } else if (strcmp(f, "--runs") == 0) {
            if (!parse_double(f, val, 1, 10000, &v) || v != floor(v)) return CLI_EXIT_USAGE;
            o.runs = (int)v;
        } else if (strcmp(f, "--builds") == 0) {
            if (!parse_double(f, val, 1, 64, &v) || v != floor(v)) return CLI_EXIT_USAGE;
            o.builds = (int)v;
        } else if (strcmp(f, "--limit") == 0) {
            if (!parse_double(f, val, 1, 1e12, &v) || v != floor(v)) return CLI_EXIT_USAGE;
            o.limit = (int64_t)v;
        } else if (strcmp(f, "--tune-ms") == 0) {
            if (!parse_double(f, val, 0, 60000, &v)) return CLI_EXIT_USAGE;
            o.tune_ms = v;
        } else if (strcmp(f, "--seed") == 0) {
            if (!parse_double(f, val, 0, 9007199254740992.0, &v) || v != floor(v))
                return CLI_EXIT_USAGE;
            o.seed = (uint64_t)v;
        } else {
            cli_failf(f, "unknown flag for 'lucid characterize' (see 'lucid help characterize')");
            return CLI_EXIT_USAGE;
        }
    }
    if (!model) {
        cli_fail("characterize", "missing MODEL (see 'lucid help characterize')");
        return CLI_EXIT_USAGE;
    }
    o.model = model;
    /* the command line, recorded in results.json */
    size_t len = 16;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *cmd = malloc(len);
    if (cmd) {
        size_t pos = (size_t)snprintf(cmd, len, "lucid");
        for (int i = 1; i < argc; i++)
            pos += (size_t)snprintf(cmd + pos, len - pos, " %s", argv[i]);
        o.command_line = cmd;
    }
    bool tty = !quiet && isatty(fileno(stderr));
    if (tty) o.progress = progress;
    o.cancel = (const volatile int *)&interrupted;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);

    lucid_characterization_t *c = NULL;
    lucid_error err;
    lucid_status st = lucid_characterize(&o, &c, &err);
    signal(SIGINT, SIG_DFL);
    if (tty) fputs("\r\033[K", stderr);
    free(cmd);
    if (st) {
        cli_fail(model, err.message);
        return st == LUCID_STATUS_INVALID_ARGUMENT ? CLI_EXIT_USAGE : cli_exit_for(st);
    }
    if (!quiet) fputs(lucid_characterization_summary(c), stdout);
    printf("%sreport: %s/report.html (results.json, CSV tables, profile.trace.json alongside)\n",
           quiet ? "" : "\n", o.out_dir);
    int rc = CLI_EXIT_OK;
    if (lucid_characterization_interrupted(c)) {
        cli_failf("characterize", "interrupted; the results measured so far are in %s", o.out_dir);
        rc = 130;
    }
    lucid_characterization_destroy(c);
    return rc;
}
