/* test_ops_nn.c - Conv, ConvTranspose, Gemm, MatMul, pools and normalizations on randomized
 * small shapes, checked against direct-formula computations written independently here, plus
 * attribute errors that must give a status rather than a crash. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "core/util.h"
#include "ir/graph.h"
#include "ir/model.h"
#include "ops/op.h"

/* ---- deterministic random numbers ------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

/* uniform integer in [lo, hi] */
static int64_t rnd_int(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1));
}

static float rnd_float(void)
{
    return (float)((double)rnd() / 2147483648.0 * 2.0 - 1.0);
}

static float *rnd_array(int64_t n)
{
    float *a = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++)
        a[i] = rnd_float();
    return a;
}

static int64_t numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    return n;
}

/* ---- building and running a one-node graph ----------------------------------------- */

typedef struct tspec {
    int rank; /* -1: input omitted */
    int64_t dims[LUCID_MAX_RANK];
    const void *data;
    lucid_dtype dtype; /* UNDEFINED means float */
    int is_const;      /* an initializer rather than a graph input */
} tspec;

typedef struct aspec {
    const char *name;
    lucid_attr_type type;
    int64_t i;
    float f;
    const char *s;
    const int64_t *ints;
    size_t count;
} aspec;

typedef struct result {
    lucid_status st;
    char message[1024];
    int n_out;
    lucid_array out[2];
    double macs, flops;
} result;

static void result_free(result *r)
{
    for (int i = 0; i < 2; i++)
        free(r->out[i].data);
    memset(r, 0, sizeof *r);
}

static void add_attr(lucid_node *n, const aspec *a)
{
    lucid_attr at;
    memset(&at, 0, sizeof at);
    at.name = lucid_strdup(a->name);
    at.type = a->type;
    at.i = a->i;
    at.f = a->f;
    if (a->type == LUCID_ATTR_STRING) at.s = lucid_strdup(a->s);
    if (a->type == LUCID_ATTR_INTS) {
        at.ints = malloc(sizeof(int64_t) * (a->count ? a->count : 1));
        memcpy(at.ints, a->ints, sizeof(int64_t) * a->count);
        at.count = a->count;
    }
    lucid_node_add_attr(n, &at, NULL);
}

/* Runs op on the given inputs; outputs are copied into r (which owns them). */
static void run_op(const char *op, int opset, int n_in, const tspec *ins, int n_out,
                   const aspec *attrs, int n_attrs, result *r)
{
    memset(r, 0, sizeof *r);
    lucid_error err = {0};
    lucid_graph *g = lucid_graph_create();
    int in_idx[8], out_idx[2];
    for (int i = 0; i < n_in; i++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        if (ins[i].rank < 0) {
            in_idx[i] = -1;
            continue;
        }
        int t = lucid_graph_tensor(g, name, NULL);
        in_idx[i] = t;
        lucid_dtype dt = ins[i].dtype ? ins[i].dtype : LUCID_DTYPE_FLOAT;
        if (ins[i].is_const) {
            size_t nb = (size_t)numel(ins[i].rank, ins[i].dims) * lucid_dtype_size(dt);
            void *d = malloc(nb ? nb : 1);
            memcpy(d, ins[i].data, nb);
            lucid_graph_set_initializer(g, t, dt, ins[i].rank, ins[i].dims, d, nb, NULL);
        } else {
            g->tensors[t].dtype = dt;
            g->tensors[t].rank = ins[i].rank;
            for (int k = 0; k < ins[i].rank; k++)
                g->tensors[t].dims[k] = ins[i].dims[k];
            lucid_graph_add_input(g, t, NULL);
        }
    }
    for (int i = 0; i < n_out; i++) {
        char name[16];
        snprintf(name, sizeof name, "out%d", i);
        out_idx[i] = lucid_graph_tensor(g, name, NULL);
    }
    int ni = lucid_graph_add_node(g, "node0", op, "", opset, in_idx, n_in, out_idx, n_out, NULL);
    for (int a = 0; a < n_attrs; a++)
        add_attr(&g->nodes[ni], &attrs[a]);
    for (int i = 0; i < n_out; i++)
        lucid_graph_add_output(g, out_idx[i], NULL);
    lucid_model_t *model = NULL;
    lucid_context_t *ctx = NULL;
    r->st = lucid_graph_finalize(g, &err);
    if (r->st) {
        snprintf(r->message, sizeof r->message, "%s", err.message);
        lucid_graph_destroy(g);
        return;
    }
    {
        uint64_t pb, rb, wb;
        lucid_node_cost(g, &g->nodes[0], &r->macs, &r->flops, &pb, &rb, &wb);
    }
    r->st = lucid_model_wrap(g, &model, &err);
    if (!r->st) r->st = lucid_context_create(model, NULL, &ctx, &err);
    if (r->st) {
        snprintf(r->message, sizeof r->message, "%s", err.message);
        goto done;
    }
    for (int i = 0; i < n_in; i++)
        if (ins[i].rank >= 0 && !ins[i].is_const) {
            char name[16];
            snprintf(name, sizeof name, "in%d", i);
            lucid_context_set_input(ctx, name, ins[i].dtype ? ins[i].dtype : LUCID_DTYPE_FLOAT,
                                    ins[i].rank, ins[i].dims, ins[i].data);
        }
    r->st = lucid_context_run(ctx);
    if (r->st) {
        snprintf(r->message, sizeof r->message, "%s", lucid_context_error(ctx));
        goto done;
    }
    r->n_out = n_out;
    for (int i = 0; i < n_out; i++) {
        lucid_array view;
        lucid_context_output(ctx, (size_t)i, &view);
        r->out[i] = view;
        r->out[i].data = malloc(view.nbytes ? view.nbytes : 1);
        memcpy(r->out[i].data, view.data, view.nbytes);
    }
done:
    lucid_context_destroy(ctx);
    if (model)
        lucid_model_destroy(model);
    else
        lucid_graph_destroy(g);
}

static aspec a_ints(const char *name, const int64_t *v, size_t n)
{
    return (aspec){.name = name, .type = LUCID_ATTR_INTS, .ints = v, .count = n};
}
static aspec a_int(const char *name, int64_t v)
{
    return (aspec){.name = name, .type = LUCID_ATTR_INT, .i = v};
}
static aspec a_float(const char *name, float v)
{
    return (aspec){.name = name, .type = LUCID_ATTR_FLOAT, .f = v};
}
static aspec a_str(const char *name, const char *v)
{
    return (aspec){.name = name, .type = LUCID_ATTR_STRING, .s = v};
}

/* Compares a float result with a double reference of the given shape. */
static int compare(const char *what, const result *r, int o, int rank, const int64_t *dims,
                   const double *ref, double tol)
{
    if (r->st) {
        printf("  %s: failed with status %d: %s\n", what, r->st, r->message);
        return 0;
    }
    const lucid_array *a = &r->out[o];
    if (a->rank != rank || memcmp(a->dims, dims, sizeof(int64_t) * (size_t)rank) != 0) {
        char s1[128], s2[128];
        printf("  %s: shape %s, expected %s\n", what, lucid_shape_str(a->rank, a->dims, s1, 128),
               lucid_shape_str(rank, dims, s2, 128));
        return 0;
    }
    int64_t n = numel(rank, dims);
    for (int64_t i = 0; i < n; i++) {
        double v = a->dtype == LUCID_DTYPE_INT64 ? (double)((const int64_t *)a->data)[i]
                                                 : (double)((const float *)a->data)[i];
        bool both_nan = isnan(v) && isnan(ref[i]);
        if (!both_nan && !(fabs(v - ref[i]) <= tol * (1.0 + fabs(ref[i])))) {
            printf("  %s: element %lld is %.9g, expected %.9g\n", what, (long long)i, v, ref[i]);
            return 0;
        }
    }
    return 1;
}

/* Records a randomized family's outcome and prints its tally. */
static void report(const char *what, int ok, int total, int min_total)
{
    printf("%s: %d of %d random cases match\n", what, ok, total);
    CHECK(ok == total && total >= min_total, "%s: %d of %d random cases match (at least %d)", what,
          ok, total, min_total);
}

static const char *const pad_names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};

/* Window geometry straight from the ONNX operator text, shared by the reference conv and
 * pool computations here (the engine has its own). Returns 0 if the shape is impossible. */
static int ref_window(int auto_pad, int64_t in, int64_t k, int64_t s, int64_t d, int64_t *pb,
                      int64_t *pe, int ceil_mode, int64_t *out)
{
    int64_t dk = (k - 1) * d + 1;
    if (auto_pad == 1 || auto_pad == 2) {
        *out = (in + s - 1) / s;
        int64_t total = (*out - 1) * s + dk - in;
        if (total < 0) total = 0;
        *pb = auto_pad == 1 ? total / 2 : (total + 1) / 2;
        *pe = total - *pb;
        return 1;
    }
    if (auto_pad == 3) *pb = *pe = 0;
    double span = (double)(in + *pb + *pe - dk);
    if (span < 0) return 0;
    if (ceil_mode) {
        *out = (int64_t)ceil(span / (double)s) + 1;
        if ((*out - 1) * s >= in + *pb) (*out)--;
    } else {
        *out = (int64_t)floor(span / (double)s) + 1;
    }
    return 1;
}

/* ---- Conv ---------------------------------------------------------------------------- */

static void test_conv_random(void)
{
    int ok = 0, total = 0;
    for (int trial = 0; trial < 150; trial++) {
        int nsp = (int)rnd_int(1, 3);
        int64_t group = rnd_int(1, 3), cg = rnd_int(1, 3), mg = rnd_int(1, 3);
        int64_t batch = rnd_int(1, 2), C = group * cg, M = group * mg;
        int auto_pad = trial % 5 == 0 ? (int)rnd_int(1, 3) : 0;
        int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
        int valid = 1;
        for (int j = 0; j < nsp; j++) {
            in[j] = rnd_int(nsp == 3 ? 2 : 3, nsp == 3 ? 5 : 9);
            k[j] = rnd_int(1, 3);
            s[j] = rnd_int(1, 3);
            d[j] = rnd_int(1, 2);
            pb[j] = rnd_int(0, 2);
            pe[j] = rnd_int(0, 2);
            valid &= ref_window(auto_pad, in[j], k[j], s[j], d[j], &pb[j], &pe[j], 0, &out[j]);
        }
        if (!valid) continue;
        int64_t xd[5] = {batch, C}, wd[5] = {M, cg}, yd[5] = {batch, M};
        for (int j = 0; j < nsp; j++) {
            xd[2 + j] = in[j];
            wd[2 + j] = k[j];
            yd[2 + j] = out[j];
        }
        int rank = nsp + 2;
        int has_bias = (int)rnd_int(0, 1);
        float *x = rnd_array(numel(rank, xd)), *w = rnd_array(numel(rank, wd)), *b = rnd_array(M);
        /* the direct formula: y[n,m,o] = b[m] + sum over c in m's group and kernel k of
         * w[m,c,k] * x[n, g*cg+c, o*s - pb + k*d] (zero outside the input) */
        int64_t ny = numel(rank, yd), ks = numel(nsp, k);
        double *ref = malloc(sizeof(double) * (size_t)ny);
        for (int64_t yi = 0; yi < ny; yi++) {
            int64_t rem = yi, oc[3];
            for (int j = nsp - 1; j >= 0; j--) {
                oc[j] = rem % out[j];
                rem /= out[j];
            }
            int64_t m = rem % M, nb = rem / M, grp = m / mg;
            double acc = has_bias ? b[m] : 0.0;
            for (int64_t c = 0; c < cg; c++)
                for (int64_t kp = 0; kp < ks; kp++) {
                    int64_t kr = kp, kc[3], xi = nb * C + grp * cg + c;
                    for (int j = nsp - 1; j >= 0; j--) {
                        kc[j] = kr % k[j];
                        kr /= k[j];
                    }
                    int inside = 1;
                    for (int j = 0; j < nsp; j++) {
                        int64_t ij = oc[j] * s[j] - pb[j] + kc[j] * d[j];
                        if (ij < 0 || ij >= in[j]) inside = 0;
                        xi = xi * in[j] + ij;
                    }
                    if (inside) acc += (double)w[(m * cg + c) * ks + kp] * (double)x[xi];
                }
            ref[yi] = acc;
        }
        int64_t sv[3], dv[3], pv[6], kv[3];
        for (int j = 0; j < nsp; j++) {
            sv[j] = s[j];
            dv[j] = d[j];
            kv[j] = k[j];
            pv[j] = pb[j];
            pv[nsp + j] = pe[j];
        }
        aspec at[6];
        int na = 0;
        at[na++] = a_ints("strides", sv, (size_t)nsp);
        at[na++] = a_ints("dilations", dv, (size_t)nsp);
        at[na++] = a_int("group", group);
        if (auto_pad)
            at[na++] = a_str("auto_pad", pad_names[auto_pad]);
        else
            at[na++] = a_ints("pads", pv, 2 * (size_t)nsp);
        if (trial % 2) at[na++] = a_ints("kernel_shape", kv, (size_t)nsp);
        tspec ins[3] = {{.rank = rank, .data = x},
                        {.rank = rank, .data = w, .is_const = 1},
                        {.rank = has_bias ? 1 : -1, .dims = {M}, .data = b, .is_const = 1}};
        memcpy(ins[0].dims, xd, sizeof xd);
        memcpy(ins[1].dims, wd, sizeof wd);
        result r;
        run_op("Conv", 11 + trial % 3, 3, ins, 1, at, na, &r);
        total++;
        char what[160];
        snprintf(what, sizeof what, "Conv trial %d (%dD, group %lld, auto_pad %s)", trial, nsp,
                 (long long)group, pad_names[auto_pad]);
        int good = compare(what, &r, 0, rank, yd, ref, 1e-4);
        double macs = (double)numel(rank, yd) * (double)cg * (double)ks;
        if (good && fabs(r.macs - macs) > 0.5) {
            printf("  %s: MACs %.0f, expected %.0f\n", what, r.macs, macs);
            good = 0;
        }
        ok += good;
        result_free(&r);
        free(x);
        free(w);
        free(b);
        free(ref);
    }
    report("Conv", ok, total, 100);
}

/* ---- ConvTranspose ----------------------------------------------------------------- */

static void test_conv_transpose_random(void)
{
    int ok = 0, total = 0;
    for (int trial = 0; trial < 120; trial++) {
        int nsp = (int)rnd_int(1, 3);
        int64_t group = rnd_int(1, 2), cg = rnd_int(1, 3), mg = rnd_int(1, 3);
        int64_t batch = rnd_int(1, 2), C = group * cg, M = group * mg;
        int mode = (int)rnd_int(0, 3); /* 0 pads, 1 output_shape, 2 SAME_UPPER, 3 SAME_LOWER */
        int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], op[3], out[3];
        int valid = 1;
        for (int j = 0; j < nsp; j++) {
            in[j] = rnd_int(1, nsp == 3 ? 3 : 5);
            k[j] = rnd_int(1, 3);
            s[j] = rnd_int(1, 3);
            d[j] = rnd_int(1, 2);
            op[j] = rnd_int(0, s[j] - 1);
            pb[j] = rnd_int(0, 1);
            pe[j] = rnd_int(0, 1);
            int64_t full = s[j] * (in[j] - 1) + op[j] + (k[j] - 1) * d[j] + 1;
            if (mode == 0) {
                out[j] = full - pb[j] - pe[j];
            } else {
                out[j] = mode == 1 ? full - rnd_int(0, 2) : in[j] * s[j];
                int64_t t = full - out[j];
                /* the ONNX text, with Python's floor division */
                int64_t half = (int64_t)floor((double)t / 2.0);
                if (mode == 2) {
                    pb[j] = half;
                    pe[j] = t - half;
                } else {
                    pb[j] = t - half;
                    pe[j] = half;
                }
            }
            if (out[j] < 1) valid = 0;
        }
        if (!valid) continue;
        int64_t xd[5] = {batch, C}, wd[5] = {C, mg}, yd[5] = {batch, M};
        for (int j = 0; j < nsp; j++) {
            xd[2 + j] = in[j];
            wd[2 + j] = k[j];
            yd[2 + j] = out[j];
        }
        int rank = nsp + 2;
        float *x = rnd_array(numel(rank, xd)), *w = rnd_array(numel(rank, wd)), *b = rnd_array(M);
        /* gather form: y[n,m,o] = b[m] + sum over c in m's group, kernel k, with
         * o = i*s - pb + k*d for an input position i, of x[n,c,i] * w[c, m%mg, k] */
        int64_t ny = numel(rank, yd), ks = numel(nsp, k);
        double *ref = malloc(sizeof(double) * (size_t)ny);
        for (int64_t yi = 0; yi < ny; yi++) {
            int64_t rem = yi, oc[3];
            for (int j = nsp - 1; j >= 0; j--) {
                oc[j] = rem % out[j];
                rem /= out[j];
            }
            int64_t m = rem % M, nb = rem / M, grp = m / mg;
            double acc = b[m];
            for (int64_t c = 0; c < cg; c++)
                for (int64_t kp = 0; kp < ks; kp++) {
                    int64_t kr = kp, kc[3], ic = grp * cg + c, xi = nb * C + ic;
                    for (int j = nsp - 1; j >= 0; j--) {
                        kc[j] = kr % k[j];
                        kr /= k[j];
                    }
                    int inside = 1;
                    for (int j = 0; j < nsp; j++) {
                        int64_t num = oc[j] + pb[j] - kc[j] * d[j];
                        if (num < 0 || num % s[j] != 0 || num / s[j] >= in[j]) inside = 0;
                        xi = xi * in[j] + (inside ? num / s[j] : 0);
                    }
                    if (inside) acc += (double)x[xi] * (double)w[(ic * mg + m % mg) * ks + kp];
                }
            ref[yi] = acc;
        }
        int64_t sv[3], dv[3], pv[6], opv[3], osv[3];
        for (int j = 0; j < nsp; j++) {
            sv[j] = s[j];
            dv[j] = d[j];
            opv[j] = op[j];
            osv[j] = out[j];
            pv[j] = pb[j];
            pv[nsp + j] = pe[j];
        }
        aspec at[6];
        int na = 0;
        at[na++] = a_ints("strides", sv, (size_t)nsp);
        at[na++] = a_ints("dilations", dv, (size_t)nsp);
        at[na++] = a_int("group", group);
        at[na++] = a_ints("output_padding", opv, (size_t)nsp);
        if (mode == 0) at[na++] = a_ints("pads", pv, 2 * (size_t)nsp);
        if (mode == 1) at[na++] = a_ints("output_shape", osv, (size_t)nsp);
        if (mode >= 2) at[na++] = a_str("auto_pad", pad_names[mode - 1]);
        tspec ins[3] = {{.rank = rank, .data = x},
                        {.rank = rank, .data = w, .is_const = 1},
                        {.rank = 1, .dims = {M}, .data = b, .is_const = 1}};
        memcpy(ins[0].dims, xd, sizeof xd);
        memcpy(ins[1].dims, wd, sizeof wd);
        result r;
        run_op("ConvTranspose", 11, 3, ins, 1, at, na, &r);
        total++;
        char what[160];
        snprintf(what, sizeof what, "ConvTranspose trial %d (%dD, group %lld, mode %d)", trial, nsp,
                 (long long)group, mode);
        ok += compare(what, &r, 0, rank, yd, ref, 1e-4);
        result_free(&r);
        free(x);
        free(w);
        free(b);
        free(ref);
    }
    report("ConvTranspose", ok, total, 80);
}

/* ---- Gemm and MatMul --------------------------------------------------------------- */

static void test_gemm_random(void)
{
    int ok = 0, total = 0;
    for (int trial = 0; trial < 60; trial++) {
        int64_t M = rnd_int(1, 7), N = rnd_int(1, 7), K = rnd_int(1, 9);
        int ta = (int)rnd_int(0, 1), tb = (int)rnd_int(0, 1), cmode = (int)rnd_int(0, 5);
        float alpha = trial % 3 ? 1.0f : 0.5f + (float)rnd_int(0, 3),
              beta = trial % 4 ? 1.0f : -0.25f * (float)rnd_int(0, 4);
        int64_t ad[2] = {ta ? K : M, ta ? M : K}, bd[2] = {tb ? N : K, tb ? K : N};
        /* C: absent, scalar, [N], [1,N], [M,1], [M,N] */
        int crank = cmode == 0 ? -1 : cmode == 1 ? 0 : cmode == 2 ? 1 : 2;
        int64_t cd[2] = {cmode == 2                 ? N
                         : cmode == 4 || cmode == 5 ? M
                                                    : 1,
                         cmode == 3 || cmode == 5 ? N : 1};
        float *a = rnd_array(M * K), *b = rnd_array(K * N), *c = rnd_array(M * N);
        double *ref = malloc(sizeof(double) * (size_t)(M * N));
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double acc = 0;
                for (int64_t p = 0; p < K; p++)
                    acc += (double)(ta ? a[p * M + i] : a[i * K + p]) *
                           (double)(tb ? b[j * K + p] : b[p * N + j]);
                double cv = 0;
                switch (cmode) {
                case 1:
                    cv = c[0];
                    break;
                case 2:
                    cv = c[j];
                    break;
                case 3:
                    cv = c[j];
                    break;
                case 4:
                    cv = c[i];
                    break;
                case 5:
                    cv = c[i * N + j];
                    break;
                default:
                    break;
                }
                ref[i * N + j] = alpha * acc + (cmode ? beta * cv : 0.0);
            }
        tspec ins[3] = {{.rank = 2, .data = a},
                        {.rank = 2, .data = b, .is_const = trial % 2},
                        {.rank = crank, .data = c, .is_const = 1}};
        memcpy(ins[0].dims, ad, sizeof ad);
        memcpy(ins[1].dims, bd, sizeof bd);
        if (crank == 1) ins[2].dims[0] = N;
        if (crank == 2) memcpy(ins[2].dims, cd, sizeof cd);
        aspec at[4] = {a_int("transA", ta), a_int("transB", tb), a_float("alpha", alpha),
                       a_float("beta", beta)};
        result r;
        run_op("Gemm", 13, cmode ? 3 : 2, ins, 1, at, 4, &r);
        total++;
        char what[128];
        snprintf(what, sizeof what, "Gemm trial %d (tA %d tB %d C mode %d)", trial, ta, tb, cmode);
        int64_t yd[2] = {M, N};
        ok += compare(what, &r, 0, 2, yd, ref, 1e-5);
        result_free(&r);
        free(a);
        free(b);
        free(c);
        free(ref);
    }
    report("Gemm", ok, total, 60);
}

static void test_matmul_random(void)
{
    int ok = 0, total = 0;
    for (int trial = 0; trial < 60; trial++) {
        int ra = (int)rnd_int(1, 4), rb = (int)rnd_int(1, 4);
        int64_t M = rnd_int(1, 5), N = rnd_int(1, 5), K = rnd_int(1, 6);
        int64_t ad[4], bd[4];
        /* batch dims: each either matches a common value or is 1 (broadcast) */
        int64_t common[2] = {rnd_int(1, 3), rnd_int(1, 3)};
        int nba = ra > 2 ? ra - 2 : 0, nbb = rb > 2 ? rb - 2 : 0;
        for (int i = 0; i < nba; i++)
            ad[i] = rnd_int(0, 2) ? common[2 - nba + i] : 1;
        for (int i = 0; i < nbb; i++)
            bd[i] = rnd_int(0, 2) ? common[2 - nbb + i] : 1;
        if (ra == 1)
            ad[0] = K;
        else {
            ad[ra - 2] = M;
            ad[ra - 1] = K;
        }
        if (rb == 1)
            bd[0] = K;
        else {
            bd[rb - 2] = K;
            bd[rb - 1] = N;
        }
        int nbo = nba > nbb ? nba : nbb;
        int64_t batch[2] = {1, 1}; /* right-aligned output batch dims */
        for (int i = 0; i < nbo; i++) {
            int ia = i - (nbo - nba), ib = i - (nbo - nbb);
            int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
            batch[2 - nbo + i] = da > db ? da : db;
        }
        int64_t yd[4];
        int yr = 0;
        for (int i = 0; i < nbo; i++)
            yd[yr++] = batch[2 - nbo + i];
        if (ra > 1) yd[yr++] = M;
        if (rb > 1) yd[yr++] = N;
        int64_t mm = ra > 1 ? M : 1, nn = rb > 1 ? N : 1;
        float *a = rnd_array(numel(ra, ad)), *b = rnd_array(numel(rb, bd));
        int64_t nbatch = batch[0] * batch[1];
        double *ref = malloc(sizeof(double) * (size_t)(nbatch * mm * nn + 1));
        for (int64_t bi = 0; bi < nbatch; bi++) {
            int64_t b0 = bi / batch[1], b1 = bi % batch[1];
            /* each operand's batch index: its own dims, right-aligned, 1 broadcasting */
            int64_t a0 = nba == 2 ? (ad[0] == 1 ? 0 : b0) : 0;
            int64_t a1 = nba >= 1 ? (ad[nba - 1] == 1 ? 0 : b1) : 0;
            int64_t a1n = nba >= 1 ? ad[nba - 1] : 1;
            int64_t bb0 = nbb == 2 ? (bd[0] == 1 ? 0 : b0) : 0;
            int64_t bb1 = nbb >= 1 ? (bd[nbb - 1] == 1 ? 0 : b1) : 0;
            int64_t bb1n = nbb >= 1 ? bd[nbb - 1] : 1;
            int64_t aoff = (a0 * a1n + a1) * mm * K, boff = (bb0 * bb1n + bb1) * K * nn;
            for (int64_t i = 0; i < mm; i++)
                for (int64_t j = 0; j < nn; j++) {
                    double acc = 0;
                    for (int64_t p = 0; p < K; p++)
                        acc += (double)a[aoff + i * K + p] * (double)b[boff + p * nn + j];
                    ref[(bi * mm + i) * nn + j] = acc;
                }
        }
        tspec ins[2] = {{.rank = ra, .data = a}, {.rank = rb, .data = b, .is_const = 1}};
        memcpy(ins[0].dims, ad, sizeof ad);
        memcpy(ins[1].dims, bd, sizeof bd);
        result r;
        run_op("MatMul", 13, 2, ins, 1, NULL, 0, &r);
        total++;
        char what[128], s1[64], s2[64];
        snprintf(what, sizeof what, "MatMul trial %d (%s x %s)", trial,
                 lucid_shape_str(ra, ad, s1, 64), lucid_shape_str(rb, bd, s2, 64));
        ok += compare(what, &r, 0, yr, yd, ref, 1e-5);
        result_free(&r);
        free(a);
        free(b);
        free(ref);
    }
    report("MatMul", ok, total, 60);
}

/* ---- pools --------------------------------------------------------------------------- */

static void test_pool_random(int is_max)
{
    int ok = 0, total = 0;
    for (int trial = 0; trial < 120; trial++) {
        int nsp = (int)rnd_int(1, 3);
        int64_t batch = rnd_int(1, 2), C = rnd_int(1, 3);
        int auto_pad = trial % 4 == 0 ? (int)rnd_int(1, 3) : 0;
        int ceil_mode = (int)rnd_int(0, 1), cip = (int)rnd_int(0, 1);
        int storage = is_max ? (int)rnd_int(0, 1) : 0, with_dil = (int)rnd_int(0, 1);
        int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
        int valid = 1;
        for (int j = 0; j < nsp; j++) {
            in[j] = rnd_int(2, nsp == 3 ? 5 : 9);
            k[j] = rnd_int(1, 3);
            s[j] = rnd_int(1, 3);
            d[j] = with_dil ? rnd_int(1, 2) : 1;
            pb[j] = rnd_int(0, k[j] - 1);
            pe[j] = rnd_int(0, k[j] - 1);
            valid &=
                ref_window(auto_pad, in[j], k[j], s[j], d[j], &pb[j], &pe[j], ceil_mode, &out[j]);
        }
        if (!valid) continue;
        int rank = nsp + 2;
        int64_t xd[5] = {batch, C}, yd[5] = {batch, C};
        for (int j = 0; j < nsp; j++) {
            xd[2 + j] = in[j];
            yd[2 + j] = out[j];
        }
        float *x = rnd_array(numel(rank, xd));
        int64_t ny = numel(rank, yd), ks = numel(nsp, k), isz = numel(nsp, in);
        double *ref = malloc(sizeof(double) * (size_t)ny),
               *ridx = malloc(sizeof(double) * (size_t)ny);
        for (int64_t yi = 0; yi < ny; yi++) {
            int64_t rem = yi, oc[3];
            for (int j = nsp - 1; j >= 0; j--) {
                oc[j] = rem % out[j];
                rem /= out[j];
            }
            double best = -INFINITY, sum = 0;
            int64_t best_i = -1, cnt = 0, cnt_pad = 0;
            for (int64_t kp = 0; kp < ks; kp++) {
                int64_t kr = kp, kc[3], row = 0, col = 0, colstride = 1;
                for (int j = nsp - 1; j >= 0; j--) {
                    kc[j] = kr % k[j];
                    kr /= k[j];
                }
                int inside = 1, in_ext = 1;
                for (int j = 0; j < nsp; j++) {
                    int64_t ij = oc[j] * s[j] - pb[j] + kc[j] * d[j];
                    if (ij < 0 || ij >= in[j]) inside = 0;
                    if (ij < -pb[j] || ij >= in[j] + pe[j]) in_ext = 0;
                    row = row * in[j] + ij;
                    col += ij * colstride;
                    colstride *= in[j];
                }
                cnt_pad += in_ext;
                if (!inside) continue;
                double v = x[rem * isz + row];
                cnt++;
                sum += v;
                if (best_i < 0 || v > best) {
                    best = v;
                    best_i = rem * isz + (storage ? col : row);
                }
            }
            ref[yi] = is_max ? best : sum / (double)(cip ? cnt_pad : cnt);
            ridx[yi] = (double)best_i;
        }
        int64_t kv[3], sv[3], dv[3], pv[6];
        for (int j = 0; j < nsp; j++) {
            kv[j] = k[j];
            sv[j] = s[j];
            dv[j] = d[j];
            pv[j] = pb[j];
            pv[nsp + j] = pe[j];
        }
        aspec at[8];
        int na = 0;
        at[na++] = a_ints("kernel_shape", kv, (size_t)nsp);
        at[na++] = a_ints("strides", sv, (size_t)nsp);
        if (with_dil) at[na++] = a_ints("dilations", dv, (size_t)nsp);
        if (auto_pad)
            at[na++] = a_str("auto_pad", pad_names[auto_pad]);
        else
            at[na++] = a_ints("pads", pv, 2 * (size_t)nsp);
        at[na++] = a_int("ceil_mode", ceil_mode);
        if (is_max)
            at[na++] = a_int("storage_order", storage);
        else
            at[na++] = a_int("count_include_pad", cip);
        tspec ins[1] = {{.rank = rank, .data = x}};
        memcpy(ins[0].dims, xd, sizeof xd);
        result r;
        int n_out = is_max ? 2 : 1;
        run_op(is_max ? "MaxPool" : "AveragePool", is_max ? 12 : 19, 1, ins, n_out, at, na, &r);
        total++;
        char what[160];
        snprintf(what, sizeof what, "%s trial %d (%dD, auto_pad %s, ceil %d, %s %d)",
                 is_max ? "MaxPool" : "AveragePool", trial, nsp, pad_names[auto_pad], ceil_mode,
                 is_max ? "storage_order" : "count_include_pad", is_max ? storage : cip);
        int good = compare(what, &r, 0, rank, yd, ref, 1e-5);
        if (good && is_max) good = compare(what, &r, 1, rank, yd, ridx, 0);
        ok += good;
        result_free(&r);
        free(x);
        free(ref);
        free(ridx);
    }
    report(is_max ? "MaxPool" : "AveragePool", ok, total, 80);
}

static void test_global_pools(void)
{
    int64_t xd[4] = {2, 3, 4, 5}, yd[4] = {2, 3, 1, 1};
    float *x = rnd_array(120);
    double avg[6], mx[6];
    for (int p = 0; p < 6; p++) {
        double s = 0, m = -INFINITY;
        for (int i = 0; i < 20; i++) {
            s += x[p * 20 + i];
            if (x[p * 20 + i] > m) m = x[p * 20 + i];
        }
        avg[p] = s / 20;
        mx[p] = m;
    }
    tspec ins[1] = {{.rank = 4, .data = x}};
    memcpy(ins[0].dims, xd, sizeof xd);
    result r;
    run_op("GlobalAveragePool", 13, 1, ins, 1, NULL, 0, &r);
    CHECK(compare("GlobalAveragePool", &r, 0, 4, yd, avg, 1e-6), "GlobalAveragePool");
    result_free(&r);
    run_op("GlobalMaxPool", 13, 1, ins, 1, NULL, 0, &r);
    CHECK(compare("GlobalMaxPool", &r, 0, 4, yd, mx, 0), "GlobalMaxPool");
    result_free(&r);
    free(x);
}

/* ---- normalizations ---------------------------------------------------------------- */

static void test_batch_norm(void)
{
    int64_t xd[4] = {2, 3, 4, 3};
    float *x = rnd_array(72), scale[3], bias[3], mean[3], var[3];
    for (int c = 0; c < 3; c++) {
        scale[c] = rnd_float();
        bias[c] = rnd_float();
        mean[c] = rnd_float();
        var[c] = 0.5f + rnd_float() * 0.4f;
    }
    double ref[72];
    float eps = 1e-3f;
    for (int i = 0; i < 72; i++) {
        int c = (i / 12) % 3;
        ref[i] = ((double)x[i] - mean[c]) / sqrt((double)var[c] + (double)eps) * scale[c] + bias[c];
    }
    tspec ins[5] = {{.rank = 4, .data = x},
                    {.rank = 1, .dims = {3}, .data = scale, .is_const = 1},
                    {.rank = 1, .dims = {3}, .data = bias, .is_const = 1},
                    {.rank = 1, .dims = {3}, .data = mean, .is_const = 1},
                    {.rank = 1, .dims = {3}, .data = var, .is_const = 1}};
    memcpy(ins[0].dims, xd, sizeof xd);
    aspec at[1] = {a_float("epsilon", eps)};
    result r;
    run_op("BatchNormalization", 15, 5, ins, 1, at, 1, &r);
    CHECK(compare("BatchNormalization", &r, 0, 4, xd, ref, 1e-5), "BatchNormalization");
    result_free(&r);

    /* opset 7, spatial=0: one parameter per activation (C x H x W) */
    float *ps[4];
    for (int i = 0; i < 4; i++)
        ps[i] = rnd_array(36);
    for (int i = 0; i < 36; i++)
        ps[3][i] = 0.6f + 0.3f * ps[3][i];
    for (int i = 0; i < 72; i++) {
        int a = i % 36;
        ref[i] = ((double)x[i] - ps[2][a]) / sqrt((double)ps[3][a] + 1e-5) * ps[0][a] + ps[1][a];
    }
    tspec ins2[5] = {{.rank = 4, .data = x}};
    memcpy(ins2[0].dims, xd, sizeof xd);
    for (int i = 0; i < 4; i++)
        ins2[1 + i] = (tspec){.rank = 3, .dims = {3, 4, 3}, .data = ps[i], .is_const = 1};
    aspec at2[1] = {a_int("spatial", 0)};
    run_op("BatchNormalization", 7, 5, ins2, 1, at2, 1, &r);
    CHECK(compare("BatchNormalization spatial=0", &r, 0, 4, xd, ref, 1e-5),
          "BatchNormalization spatial=0");
    result_free(&r);
    for (int i = 0; i < 4; i++)
        free(ps[i]);

    /* training mode is refused with a status */
    aspec at3[1] = {a_int("training_mode", 1)};
    run_op("BatchNormalization", 15, 5, ins, 1, at3, 1, &r);
    CHECK(r.st == LUCID_STATUS_UNSUPPORTED && strstr(r.message, "training_mode"),
          "training_mode=1 refused (status %d: %s)", r.st, r.message);
    result_free(&r);
    free(x);
}

static void test_instance_norm(void)
{
    int64_t xd[3] = {2, 3, 7};
    float *x = rnd_array(42), scale[3], bias[3];
    for (int c = 0; c < 3; c++) {
        scale[c] = rnd_float();
        bias[c] = rnd_float();
    }
    for (int i = 0; i < 42; i++)
        x[i] += 5.0f; /* a mean far from zero */
    double ref[42];
    for (int p = 0; p < 6; p++) {
        double m = 0, v = 0;
        for (int i = 0; i < 7; i++)
            m += x[p * 7 + i];
        m /= 7;
        for (int i = 0; i < 7; i++)
            v += (x[p * 7 + i] - m) * (x[p * 7 + i] - m);
        v /= 7;
        for (int i = 0; i < 7; i++)
            ref[p * 7 + i] = (x[p * 7 + i] - m) / sqrt(v + 1e-5) * scale[p % 3] + bias[p % 3];
    }
    tspec ins[3] = {{.rank = 3, .data = x},
                    {.rank = 1, .dims = {3}, .data = scale, .is_const = 1},
                    {.rank = 1, .dims = {3}, .data = bias, .is_const = 1}};
    memcpy(ins[0].dims, xd, sizeof xd);
    result r;
    run_op("InstanceNormalization", 7, 3, ins, 1, NULL, 0, &r);
    CHECK(compare("InstanceNormalization", &r, 0, 3, xd, ref, 1e-5), "InstanceNormalization");
    result_free(&r);
    free(x);
}

static void test_lrn(void)
{
    int64_t xd[4] = {2, 6, 3, 2};
    float *x = rnd_array(72);
    for (int size = 1; size <= 4; size++) {
        double ref[72];
        float alpha = 0.02f, beta = 0.6f, bias = 1.5f;
        for (int i = 0; i < 72; i++) {
            int c = (i / 6) % 6, base = i - c * 6;
            double sq = 0;
            for (int q = c - (size - 1) / 2; q <= c + size / 2; q++)
                if (q >= 0 && q < 6) sq += (double)x[base + q * 6] * x[base + q * 6];
            ref[i] = x[i] / pow(bias + alpha / size * sq, beta);
        }
        tspec ins[1] = {{.rank = 4, .data = x}};
        memcpy(ins[0].dims, xd, sizeof xd);
        aspec at[4] = {a_int("size", size), a_float("alpha", alpha), a_float("beta", beta),
                       a_float("bias", bias)};
        result r;
        run_op("LRN", 13, 1, ins, 1, at, 4, &r);
        char what[64];
        snprintf(what, sizeof what, "LRN size %d", size);
        CHECK(compare(what, &r, 0, 4, xd, ref, 1e-5), "%s", what);
        result_free(&r);
    }
    free(x);
}

/* ---- errors ---------------------------------------------------------------------------- */

/* A Conv on x 1x4x6x6 with w of shape wd and the given attributes must be refused. */
static void conv_must_fail(const char *what, int wrank, const int64_t *wd, const aspec *at, int na)
{
    float *x = rnd_array(144), *w = rnd_array(numel(wrank, wd) > 0 ? numel(wrank, wd) : 1);
    tspec ins[2] = {{.rank = 4, .dims = {1, 4, 6, 6}, .data = x},
                    {.rank = wrank, .data = w, .is_const = 1}};
    memcpy(ins[1].dims, wd, sizeof(int64_t) * (size_t)wrank);
    result r;
    run_op("Conv", 13, 2, ins, 1, at, na, &r);
    CHECK(r.st == LUCID_STATUS_INVALID_MODEL && strstr(r.message, "node0") &&
              strstr(r.message, "Conv"),
          "%s refused with a message naming the node (status %d: %s)", what, r.st, r.message);
    result_free(&r);
    free(x);
    free(w);
}

static void test_errors(void)
{
    int64_t w_ok[4] = {2, 4, 3, 3};
    int64_t neg[2] = {-1, 1}, zero[2] = {0, 1}, three[3] = {1, 1, 1}, p3[3] = {0, 0, 0};
    int64_t big[2] = {1, 1000};
    aspec a;
    a = a_ints("strides", neg, 2);
    conv_must_fail("negative stride", 4, w_ok, &a, 1);
    a = a_ints("dilations", zero, 2);
    conv_must_fail("zero dilation", 4, w_ok, &a, 1);
    a = a_ints("kernel_shape", zero, 2);
    conv_must_fail("zero kernel", 4, w_ok, &a, 1);
    a = a_ints("kernel_shape", three, 3);
    conv_must_fail("kernel_shape of wrong length", 4, w_ok, &a, 1);
    a = a_ints("pads", p3, 3);
    conv_must_fail("odd pads length", 4, w_ok, &a, 1);
    a = a_ints("strides", three, 3);
    conv_must_fail("strides of wrong length", 4, w_ok, &a, 1);
    a = a_str("auto_pad", "SAME_MIDDLE");
    conv_must_fail("unknown auto_pad", 4, w_ok, &a, 1);
    a = a_int("group", 3);
    conv_must_fail("group not dividing channels", 4, w_ok, &a, 1);
    a = a_int("group", 0);
    conv_must_fail("zero group", 4, w_ok, &a, 1);
    a = a_ints("dilations", big, 2);
    conv_must_fail("kernel wider than input", 4, w_ok, &a, 1);
    int64_t w_bad_c[4] = {2, 3, 3, 3}, w_rank3[3] = {2, 4, 3}, w_empty[4] = {2, 4, 0, 3};
    conv_must_fail("weight channels not matching input", 4, w_bad_c, NULL, 0);
    conv_must_fail("weight rank not matching input", 3, w_rank3, NULL, 0);
    conv_must_fail("empty kernel in weight", 4, w_empty, NULL, 0);

    /* Gemm and MatMul with inner dimensions that differ */
    float buf[64] = {0};
    result r;
    tspec g_in[2] = {{.rank = 2, .dims = {3, 4}, .data = buf},
                     {.rank = 2, .dims = {5, 2}, .data = buf, .is_const = 1}};
    run_op("Gemm", 13, 2, g_in, 1, NULL, 0, &r);
    CHECK(r.st == LUCID_STATUS_INVALID_MODEL, "Gemm inner mismatch refused (%s)", r.message);
    result_free(&r);
    tspec c_in[3] = {{.rank = 2, .dims = {3, 4}, .data = buf},
                     {.rank = 2, .dims = {4, 2}, .data = buf, .is_const = 1},
                     {.rank = 1, .dims = {3}, .data = buf, .is_const = 1}};
    run_op("Gemm", 13, 3, c_in, 1, NULL, 0, &r);
    CHECK(r.st == LUCID_STATUS_INVALID_MODEL, "Gemm C not broadcastable refused (%s)", r.message);
    result_free(&r);
    aspec ta = a_int("transA", 2);
    tspec ok_in[2] = {{.rank = 2, .dims = {3, 4}, .data = buf},
                      {.rank = 2, .dims = {4, 2}, .data = buf, .is_const = 1}};
    run_op("Gemm", 13, 2, ok_in, 1, &ta, 1, &r);
    CHECK(r.st == LUCID_STATUS_INVALID_MODEL, "Gemm transA=2 refused (%s)", r.message);
    result_free(&r);
    tspec m_in[2] = {{.rank = 3, .dims = {2, 3, 4}, .data = buf},
                     {.rank = 3, .dims = {3, 4, 2}, .data = buf, .is_const = 1}};
    run_op("MatMul", 13, 2, m_in, 1, NULL, 0, &r);
    CHECK(r.st == LUCID_STATUS_INVALID_MODEL, "MatMul batch mismatch refused (%s)", r.message);
    result_free(&r);

    /* pools */
    tspec p_in[1] = {{.rank = 4, .dims = {1, 1, 4, 4}, .data = buf}};
    int64_t k2[2] = {2, 2}, k9[2] = {9, 9};
    run_op("MaxPool", 12, 1, p_in, 1, NULL, 0, &r);
    CHECK(r.st == LUCID_STATUS_INVALID_MODEL && strstr(r.message, "kernel_shape"),
          "MaxPool without kernel_shape refused (%s)", r.message);
    result_free(&r);
    aspec so[2] = {a_ints("kernel_shape", k2, 2), a_int("storage_order", 2)};
    run_op("MaxPool", 12, 1, p_in, 1, so, 2, &r);
    CHECK(r.st == LUCID_STATUS_INVALID_MODEL, "MaxPool storage_order=2 refused (%s)", r.message);
    result_free(&r);
    aspec kb[1] = {a_ints("kernel_shape", k9, 2)};
    run_op("AveragePool", 11, 1, p_in, 1, kb, 1, &r);
    CHECK(r.st == LUCID_STATUS_INVALID_MODEL,
          "AveragePool kernel larger than input refused "
          "(%s)",
          r.message);
    result_free(&r);
    aspec k3[1] = {a_ints("kernel_shape", three, 3)};
    run_op("AveragePool", 11, 1, p_in, 1, k3, 1, &r);
    CHECK(r.st == LUCID_STATUS_INVALID_MODEL,
          "AveragePool 3-D kernel on 2-D input refused "
          "(%s)",
          r.message);
    result_free(&r);
    run_op("LRN", 13, 1, p_in, 1, NULL, 0, &r);
    CHECK(r.st == LUCID_STATUS_INVALID_MODEL, "LRN without size refused (%s)", r.message);
    result_free(&r);
    tspec bn_in[5] = {{.rank = 4, .dims = {1, 2, 2, 2}, .data = buf},
                      {.rank = 1, .dims = {3}, .data = buf, .is_const = 1},
                      {.rank = 1, .dims = {2}, .data = buf, .is_const = 1},
                      {.rank = 1, .dims = {2}, .data = buf, .is_const = 1},
                      {.rank = 1, .dims = {2}, .data = buf, .is_const = 1}};
    run_op("BatchNormalization", 15, 5, bn_in, 1, NULL, 0, &r);
    CHECK(r.st == LUCID_STATUS_INVALID_MODEL,
          "BatchNormalization scale of wrong size refused "
          "(%s)",
          r.message);
    result_free(&r);
}

/* A fixed case worked out by hand: 1x1x3x3 input 1..9, 2x2 all-ones kernel, stride 1, pads
 * (1,0,0,1) (top 1, right 1). */
static void test_conv_by_hand(void)
{
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1};
    int64_t pads[4] = {1, 0, 0, 1};
    tspec ins[2] = {{.rank = 4, .dims = {1, 1, 3, 3}, .data = x},
                    {.rank = 4, .dims = {1, 1, 2, 2}, .data = w, .is_const = 1}};
    aspec at[1] = {a_ints("pads", pads, 4)};
    result r;
    run_op("Conv", 11, 2, ins, 1, at, 1, &r);
    /* padded rows: [0 0 0 0], [1 2 3 0], [4 5 6 0], [7 8 9 0]; 3x3 outputs */
    double ref[9] = {3, 5, 3, 12, 16, 9, 24, 28, 15};
    int64_t yd[4] = {1, 1, 3, 3};
    CHECK(compare("Conv by hand", &r, 0, 4, yd, ref, 0), "Conv by hand");
    result_free(&r);
}

int main(void)
{
    test_conv_by_hand();
    test_conv_random();
    test_conv_transpose_random();
    test_gemm_random();
    test_matmul_random();
    test_pool_random(1);
    test_pool_random(0);
    test_global_pools();
    test_batch_norm();
    test_instance_norm();
    test_lrn();
    test_errors();
    return test_summary();
}
