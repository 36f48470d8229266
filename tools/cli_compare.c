/* cli_compare.c - `lucid compare RESULTS_DIR... --out DIR`: flags to lucid_compare_options,
 * the summary on stdout. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_cmd_compare(int argc, char **argv);

static bool parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) return false;
    *out = v;
    return true;
}

/* --peak "DEVICE NAME=GFLOPS_FP32,GBS[,GFLOPS_FP16]": the device name is everything before
 * the last '='. */
static bool parse_peak(const char *val, lucid_compare_peak *p, char **name)
{
    const char *eq = strrchr(val, '=');
    if (!eq || eq == val) {
        cli_failf("--peak", "'%s': expected \"DEVICE NAME=GFLOPS_FP32,GBS[,GFLOPS_FP16]\"", val);
        return false;
    }
    double v[3] = {0, 0, 0};
    int n = 0;
    const char *s = eq + 1;
    while (n < 3) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char buf[64];
        if (len == 0 || len >= sizeof buf) break;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (!parse_number(buf, &v[n]) || v[n] <= 0) {
            cli_failf("--peak", "'%s': '%s' is not a positive number", val, buf);
            return false;
        }
        n++;
        if (!comma) {
            s = NULL;
            break;
        }
        s = comma + 1;
    }
    if (n < 2 || s) {
        cli_failf("--peak",
                  "'%s': expected two or three positive numbers after '=': GFLOPS_FP32,GBS"
                  "[,GFLOPS_FP16]",
                  val);
        return false;
    }
    *name = malloc((size_t)(eq - val) + 1);
    if (!*name) {
        cli_fail("--peak", "out of memory");
        return false;
    }
    memcpy(*name, val, (size_t)(eq - val));
    (*name)[eq - val] = '\0';
    p->device = *name;
    p->gflops_fp32 = v[0];
    p->bandwidth_gbs = v[1];
    p->gflops_fp16 = n == 3 ? v[2] : 0;
    return true;
}

int cli_cmd_compare(int argc, char **argv)
{
    lucid_compare_options o;
    lucid_compare_options_default(&o);
    o.out_dir = "compare";
    bool quiet = false, flags_done = false;
    int rc = CLI_EXIT_USAGE;
    const char **dirs = calloc((size_t)argc, sizeof *dirs);
    lucid_compare_peak *peaks = calloc((size_t)argc, sizeof *peaks);
    char **names = calloc((size_t)argc, sizeof *names);
    size_t n_dirs = 0, n_peaks = 0;
    char *summary = NULL;
    char flag_buf[64];
    if (!dirs || !peaks || !names) {
        cli_fail("compare", "out of memory");
        rc = CLI_EXIT_RUNTIME;
        goto done;
    }
    for (int i = 2; i < argc; i++) {
        const char *f = argv[i];
        if (!flags_done && strcmp(f, "--") == 0) {
            flags_done = true;
            continue;
        }
        if (!flags_done && (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0)) {
            rc = cli_help_command("compare");
            goto done;
        }
        if (flags_done || f[0] != '-' || strcmp(f, "-") == 0) {
            dirs[n_dirs++] = f;
            continue;
        }
        if (strcmp(f, "--quiet") == 0) {
            quiet = true;
            continue;
        }
        const char *val;
        const char *eq = strchr(f, '=');
        if (eq && (size_t)(eq - f) < sizeof flag_buf) {
            snprintf(flag_buf, sizeof flag_buf, "%.*s", (int)(eq - f), f);
            f = flag_buf;
            val = eq + 1;
        } else {
            if (i + 1 >= argc) {
                cli_failf(f, "missing value (see 'lucid help compare')");
                goto done;
            }
            val = argv[++i];
        }
        if (strcmp(f, "--out") == 0 || strcmp(f, "-o") == 0) {
            if (!val[0]) {
                cli_fail(f, "an empty folder name");
                goto done;
            }
            o.out_dir = val;
        } else if (strcmp(f, "--chartjs") == 0) {
            o.chartjs = val;
        } else if (strcmp(f, "--margin") == 0) {
            double v;
            if (!parse_number(val, &v) || v < 0 || v > 10) {
                cli_failf(f, "'%s' is not a fraction from 0 to 10 (0.05 is 5%%)", val);
                goto done;
            }
            o.margin = v;
        } else if (strcmp(f, "--peak") == 0) {
            if (!parse_peak(val, &peaks[n_peaks], &names[n_peaks])) goto done;
            n_peaks++;
        } else {
            cli_failf(f, "unknown flag for 'lucid compare' (see 'lucid help compare')");
            goto done;
        }
    }
    if (!n_dirs) {
        cli_fail("compare", "missing RESULTS_DIR (see 'lucid help compare')");
        goto done;
    }
    o.peaks = peaks;
    o.n_peaks = n_peaks;
    o.summary = &summary;
    lucid_error err;
    lucid_status st = lucid_compare(dirs, n_dirs, &o, &err);
    if (st) {
        bool peak_error =
            st == LUCID_STATUS_INVALID_ARGUMENT && strncmp(err.message, "peaks for", 9) == 0;
        cli_fail(peak_error ? "--peak" : NULL, err.message);
        rc = cli_exit_for(st);
        goto done;
    }
    if (quiet)
        printf("report: %s/compare.html\n", o.out_dir);
    else if (summary)
        fputs(summary, stdout);
    rc = CLI_EXIT_OK;
done:
    for (size_t i = 0; names && i < n_peaks; i++)
        free(names[i]);
    free(names);
    free(peaks);
    free(dirs);
    free(summary);
    return rc;
}
