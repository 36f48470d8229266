/* cli_run.c - `lucid run`: one inference, an output summary with digests, optional .npy files. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static uint64_t fnv1a64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static float half_to_float(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v = e == 0    ? ldexpf((float)m, -24)
              : e == 31 ? (m ? NAN : INFINITY)
                        : ldexpf((float)(m | 0x400), e - 25);
    return (h & 0x8000) ? -v : v;
}

static bool is_float(lucid_dtype t)
{
    return t == LUCID_DTYPE_FLOAT || t == LUCID_DTYPE_DOUBLE || t == LUCID_DTYPE_FLOAT16 ||
           t == LUCID_DTYPE_BFLOAT16;
}

/* Element i as a double; false for dtypes without numbers. */
static bool element(const lucid_array *a, int64_t i, double *v)
{
    const void *d = a->data;
    switch (a->dtype) {
    case LUCID_DTYPE_FLOAT: *v = ((const float *)d)[i]; return true;
    case LUCID_DTYPE_DOUBLE: *v = ((const double *)d)[i]; return true;
    case LUCID_DTYPE_FLOAT16: *v = half_to_float(((const uint16_t *)d)[i]); return true;
    case LUCID_DTYPE_BFLOAT16: {
        uint32_t bits = (uint32_t)((const uint16_t *)d)[i] << 16;
        float f;
        memcpy(&f, &bits, 4);
        *v = f;
        return true;
    }
    case LUCID_DTYPE_BOOL:
    case LUCID_DTYPE_UINT8: *v = ((const uint8_t *)d)[i]; return true;
    case LUCID_DTYPE_INT8: *v = ((const int8_t *)d)[i]; return true;
    case LUCID_DTYPE_UINT16: *v = ((const uint16_t *)d)[i]; return true;
    case LUCID_DTYPE_INT16: *v = ((const int16_t *)d)[i]; return true;
    case LUCID_DTYPE_UINT32: *v = ((const uint32_t *)d)[i]; return true;
    case LUCID_DTYPE_INT32: *v = ((const int32_t *)d)[i]; return true;
    case LUCID_DTYPE_UINT64: *v = (double)((const uint64_t *)d)[i]; return true;
    case LUCID_DTYPE_INT64: *v = (double)((const int64_t *)d)[i]; return true;
    default: return false;
    }
}

typedef struct summary {
    int64_t n, nan_count;
    double min, max, mean;
    int64_t argmax; /* -1 when not a float output or no number was seen */
    bool numeric;
    uint64_t digest;
} summary;

/* NaNs are counted and left out of min, max, mean and argmax (the first maximum wins). */
static summary summarize(const lucid_array *a)
{
    summary s = {.argmax = -1, .min = NAN, .max = NAN, .mean = NAN};
    s.digest = fnv1a64(a->data, a->nbytes);
    s.n = lucid_array_numel(a);
    s.numeric = lucid_dtype_size(a->dtype) > 0;
    double v, sum = 0;
    int64_t seen = 0, best = -1;
    for (int64_t i = 0; s.numeric && i < s.n; i++) {
        if (!element(a, i, &v)) break;
        if (isnan(v)) {
            s.nan_count++;
            continue;
        }
        if (seen == 0 || v < s.min) s.min = v;
        if (seen == 0 || v > s.max) {
            s.max = v;
            best = i;
        }
        sum += v;
        seen++;
    }
    if (seen) s.mean = sum / (double)seen;
    if (is_float(a->dtype)) s.argmax = best;
    return s;
}

/* Letters, digits, '.', '-', '_' survive; anything else (a '/' above all) becomes '_'. */
static void sanitize(const char *name, size_t index, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < cap && n < 200; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
        out[n++] = ok ? c : '_';
    }
    out[n] = '\0';
    /* "", "." and ".." must not name a directory entry of their own */
    if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        snprintf(out, cap, "output_%zu", index);
}

static int ensure_dir(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) return CLI_EXIT_OK;
        cli_failf(dir, "exists and is not a directory (--output-dir)");
        return CLI_EXIT_IO;
    }
    if (mkdir(dir, 0777) != 0) {
        cli_failf(dir, "cannot create the output directory: %s", strerror(errno));
        return CLI_EXIT_IO;
    }
    return CLI_EXIT_OK;
}

/* File names for every output, unique even when two names sanitize alike. */
static char (*output_files(const lucid_context_t *ctx, size_t n))[256]
{
    char(*files)[256] = calloc(n + 1, sizeof *files);
    for (size_t i = 0; files && i < n; i++) {
        lucid_array out;
        lucid_context_output(ctx, i, &out);
        char base[256];
        sanitize(out.name, i, base, sizeof base);
        snprintf(files[i], sizeof files[i], "%s.npy", base);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(files[i], files[j]) == 0) {
                snprintf(files[i], sizeof files[i], "%s_%zu.npy", base, i);
                j = (size_t)-1; /* check the new name against all earlier ones again */
            }
        }
    }
    return files;
}

static void input_json(cJSON *arr, const cli_input *in)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", in->name);
    cJSON_AddStringToObject(o, "dtype", lucid_dtype_name(in->data.dtype));
    cJSON_AddItemToObject(o, "shape", cli_shape_json(in->data.rank, in->data.dims, NULL));
    cJSON_AddStringToObject(o, "source", in->file ? in->file : "random");
    cJSON_AddItemToArray(arr, o);
}

int cli_cmd_run(int argc, char **argv)
{
    cli_args a = {.command = "run"};
    cli_session s;
    memset(&s, 0, sizeof s);
    lucid_context_t *ctx = NULL;
    char(*files)[256] = NULL;
    int rc = cli_args_parse(argc, argv, 2,
                            CLI_F_SHAPE | CLI_F_INPUT | CLI_F_OUTPUT_DIR | CLI_F_SEED | CLI_F_JSON |
                                CLI_F_OPT | CLI_F_THREADS | CLI_F_BUILDER | CLI_F_REFERENCE | CLI_F_CUDA_GRAPH,
                            &a);
    if (rc || a.help) {
        if (!rc) rc = cli_help_command("run");
        goto done;
    }
    if ((rc = cli_session_open_engine(&a, true, &s))) goto done;
    if ((rc = cli_session_context(&s, &a, &ctx))) goto done;

    double t0 = lucid_time_now();
    lucid_status st = lucid_context_run(ctx);
    double ms = (lucid_time_now() - t0) * 1e3;
    if (st) {
        cli_fail(a.model, lucid_context_error(ctx));
        rc = st == LUCID_STATUS_UNSUPPORTED || st == LUCID_STATUS_INVALID_MODEL ? CLI_EXIT_DATA
                                                                                 : CLI_EXIT_RUNTIME;
        goto done;
    }
    size_t n_out = lucid_context_num_outputs(ctx);
    if (a.output_dir) {
        if ((rc = ensure_dir(a.output_dir))) goto done;
        files = output_files(ctx, n_out);
        if (!files) {
            cli_fail(a.output_dir, "out of memory");
            rc = CLI_EXIT_RUNTIME;
            goto done;
        }
        for (size_t i = 0; i < n_out; i++) {
            lucid_array out;
            lucid_context_output(ctx, i, &out);
            char path[4096 + 256];
            snprintf(path, sizeof path, "%s/%s", a.output_dir, files[i]);
            lucid_error err;
            if ((st = lucid_array_save_npy(path, &out, &err))) {
                cli_fail(path, err.message);
                rc = st == LUCID_STATUS_IO_ERROR ? CLI_EXIT_IO : CLI_EXIT_DATA;
                goto done;
            }
        }
    }

    cli_session_note_build(&s);
    cJSON *doc = NULL, *outs = NULL;
    if (a.json) {
        doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "file", a.model);
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)a.seed);
        cJSON_AddRawToObject(doc, "seed", seed);
        cJSON *ins = cJSON_AddArrayToObject(doc, "inputs");
        for (size_t i = 0; i < s.n_inputs; i++) input_json(ins, &s.inputs[i]);
        outs = cJSON_AddArrayToObject(doc, "outputs");
        cJSON_AddNumberToObject(doc, "latency_ms", ms);
        cJSON_AddStringToObject(doc, "engine", s.plan ? "plan" : "reference");
        if (s.build_s >= 0)
            cJSON_AddNumberToObject(doc, "build_s", s.build_s);
        else
            cJSON_AddNullToObject(doc, "build_s");
    } else {
        printf("model: %s\n", a.model);
        printf("engine: %s\n", s.is_plan_file ? "plan (from the file)"
                                : s.plan      ? "plan (built for this run)"
                                              : "reference executor");
        for (size_t i = 0; i < s.n_inputs; i++) {
            const cli_input *in = &s.inputs[i];
            char shape[300];
            printf("input  %-20s %-8s %-20s %s\n", in->name, lucid_dtype_name(in->data.dtype),
                   cli_shape_decl_str(in->data.rank, in->data.dims, NULL, shape, sizeof shape),
                   in->file ? in->file : "(random)");
        }
    }
    for (size_t i = 0; i < n_out; i++) {
        lucid_array out;
        lucid_context_output(ctx, i, &out);
        summary sm = summarize(&out);
        char digest[17];
        snprintf(digest, sizeof digest, "%016llx", (unsigned long long)sm.digest);
        if (a.json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", out.name);
            cJSON_AddStringToObject(o, "dtype", lucid_dtype_name(out.dtype));
            cJSON_AddItemToObject(o, "shape", cli_shape_json(out.rank, out.dims, NULL));
            /* cJSON writes NaN and infinities as null */
            cJSON_AddNumberToObject(o, "min", sm.min);
            cJSON_AddNumberToObject(o, "max", sm.max);
            cJSON_AddNumberToObject(o, "mean", sm.mean);
            if (sm.argmax >= 0)
                cJSON_AddNumberToObject(o, "argmax", (double)sm.argmax);
            else
                cJSON_AddNullToObject(o, "argmax");
            cJSON_AddNumberToObject(o, "nan_count", (double)sm.nan_count);
            cJSON_AddStringToObject(o, "fnv1a64", digest);
            if (files) {
                char path[4096 + 256];
                snprintf(path, sizeof path, "%s/%s", a.output_dir, files[i]);
                cJSON_AddStringToObject(o, "file", path);
            } else {
                cJSON_AddNullToObject(o, "file");
            }
            cJSON_AddItemToArray(outs, o);
        } else {
            char shape[300];
            printf("output %-20s %-8s %-20s", out.name, lucid_dtype_name(out.dtype),
                   cli_shape_decl_str(out.rank, out.dims, NULL, shape, sizeof shape));
            if (sm.numeric)
                printf(" min %.6g max %.6g mean %.6g", sm.min, sm.max, sm.mean);
            if (sm.argmax >= 0) printf(" argmax %lld", (long long)sm.argmax);
            if (sm.nan_count) printf(" nan %lld", (long long)sm.nan_count);
            printf(" fnv1a64 %s", digest);
            if (files) printf(" -> %s/%s", a.output_dir, files[i]);
            printf("\n");
        }
    }
    if (a.json)
        rc = cli_json_print(doc);
    else
        printf("latency: %.3f ms (one run; use 'lucid bench' to measure)\n", ms);
done:
    free(files);
    lucid_context_destroy(ctx);
    cli_session_close(&s);
    cli_args_free(&a);
    return rc;
}
