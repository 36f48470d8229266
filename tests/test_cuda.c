/* test_cuda.c - the GPU backend against the CPU reference: every CUDA tactic on every layer of
 * the test models (inputs are the reference executor's own activations), as NCHW and as
 * channels-last (NHWC) tactics, whole models built for the GPU in each precision and layout
 * (the automatic choice, then forced ones), CUDA-graph and layer-by-layer runs bit-identical,
 * concurrent contexts on one plan bit-identical, GPU plan files round-tripping, profiling runs
 * naming every layer's kernels (CUPTI) within its event-timed span, and the layer observer
 * (each layer's outputs copied back in an eager run that matches the graph run bit for bit). Without a GPU (or without
 * LUCID_CUDA) it prints why and exits 77, which ctest reports as skipped.
 *
 * Tolerances, as max |gpu - ref| / max |ref| over a tensor: fp32 (TF32 off) 1e-4 per layer
 * (2e-3 for cuDNN's Winograd and FFT algorithms, whose operand transforms round more) and
 * 1e-3 per model; tf32 5e-3 per layer, 1e-2 per model (10-bit mantissa products over long
 * sums); fp16 1e-2 per layer, 3e-2 per model; bf16 6e-2 per layer, 1.5e-1 per model (8 bits of
 * mantissa). Seen on an H200: fp32 models within 1e-6 (channels-last within 2e-6), fp16 within
 * 1.3e-3, bf16 within 1.3e-2; the same tolerances hold for both layouts. INT8 (Fashion models,
 * calibrated on their reference inputs): per layer, int8 outputs within one unit of the
 * reference on at most 1% of values (10% where the layer reads an fp16 activation); per model,
 * 3e-2 against the reference executor running the plan's own quantized graph.
 *
 * Usage: test_cuda [MODEL.onnx ...]  (default: the Fashion-MNIST models, then the zoo models
 * in cache/zoo, whose input.npy / output.npy are the PyTorch reference). Environment:
 * LUCID_TEST_FASHION=a,b and LUCID_TEST_ZOO=a,b run only these Fashion-MNIST and zoo models;
 * LUCID_TEST_ZOO_LAYERS=a,b tests every tactic on these zoo models' layers (default: the first
 * three). */
#include <execinfo.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lucid.h"
#include "test_util.h"

#ifdef LUCID_HAVE_CUDA
#include "cuda/cuda_common.h"
#include "ir/model.h"
#include "ops/op.h"
#include "plan/plan.h"

static int verbose;

static double rel_err(const float *a, const float *ref, int64_t n)
{
    double maxref = 0, maxdiff = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(a[i]) != isnan(ref[i])) return INFINITY;
        double d = fabs((double)a[i] - ref[i]);
        if (d > maxdiff) maxdiff = d;
        if (fabs(ref[i]) > maxref) maxref = fabs(ref[i]);
    }
    return maxdiff / (maxref > 1e-6 ? maxref : 1.0);
}

/* ---- per layer: every CUDA tactic against the reference executor's activations ---- */

typedef struct capture {
    const lucid_graph *g;
    float **val; /* per tensor: a copy of its reference value (float tensors) */
    unsigned char **ptr; /* per tensor: where the reference executor keeps it */
} capture;

/* The reference executor without a plan gives every tensor its own bytes (views share their
 * storage's), so after the run every value is still in place: the observer notes where. */
static lucid_status observe(void *user, size_t node, const char *name, const lucid_array *outs,
                            size_t n_outs)
{
    (void)name;
    capture *c = user;
    const lucid_node *n = &c->g->nodes[node];
    for (size_t k = 0; k < n_outs; k++)
        if (n->outputs[k] >= 0 && outs[k].data) c->ptr[n->outputs[k]] = outs[k].data;
    return LUCID_STATUS_OK;
}

/* Where the reference executor kept tensor t after the run; tensors no running node wrote
 * (elided Concat outputs, Reshape views) are found through another tensor of the same
 * storage. NULL if none. */
static unsigned char *captured(const capture *c, int t)
{
    const lucid_graph *g = c->g;
    unsigned char *p = c->ptr[t];
    if (!p) {
        size_t off;
        int root = lucid_tensor_storage(g, t, &off);
        for (int v = 0; v < g->n_tensors && !p; v++) {
            size_t voff;
            if (!c->ptr[v] || lucid_tensor_storage(g, v, &voff) != root) continue;
            p = c->ptr[v] - voff + off;
        }
    }
    return p;
}

/* Copies every float tensor's value after the run. */
static void capture_values(capture *c)
{
    const lucid_graph *g = c->g;
    for (int t = 0; t < g->n_tensors; t++) {
        const lucid_ir_tensor *x = &g->tensors[t];
        if (c->val[t] || x->data || x->dtype != LUCID_DTYPE_FLOAT) continue;
        unsigned char *p = captured(c, t);
        if (!p) continue;
        c->val[t] = malloc(lucid_tensor_nbytes(x));
        if (c->val[t]) memcpy(c->val[t], p, lucid_tensor_nbytes(x));
    }
}

static void fill_input(float *x, int64_t n, unsigned seed)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(((uint64_t)(i + seed) * 2654435761u) % 2001) / 1000.0f - 1.0f;
}

static const double layer_tol[4] = {1e-4, 5e-3, 1e-2, 6e-2}; /* fp32 tf32 fp16 bf16 */

/* NHWC <-> NCHW on the host, n images of c channels and hw positions */
static void from_nhwc(const float *x, float *y, int64_t n, int64_t c, int64_t hw)
{
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++) y[(b * c + ch) * hw + p] = x[(b * hw + p) * c + ch];
}

/* nhwc: the tactics prepared for a channels-last plan (the graph's views adjusted as the
 * builder does), their 4-D float inputs and outputs converted on the host */
static void test_layers(const char *path, const lucid_device_backend *be, bool nhwc)
{
    lucid_error err;
    lucid_model_t *m = NULL;
    void *devp = NULL;
    if (lucid_model_load(path, &m, &err)) {
        CHECK(0, "%s: %s", path, err.message);
        return;
    }
    lucid_tensor_desc d;
    lucid_model_input(m, 0, &d);
    if (d.dims[0] < 0) {
        int64_t dims[LUCID_MAX_RANK];
        memcpy(dims, d.dims, sizeof dims);
        dims[0] = 1;
        lucid_model_set_input_shape(m, d.name, d.rank, dims, NULL);
        lucid_model_input(m, 0, &d);
    }
    lucid_optimize_options oo;
    lucid_optimize_options_default(&oo);
    CHECK(!lucid_model_optimize(m, &oo, NULL, &err), "optimize %s: %s", path, err.message);
    lucid_model_input(m, 0, &d); /* its name lives in the optimized graph now */
    const lucid_graph *g = m->graph;
    if (be->open(0, false, &devp, &err)) {
        CHECK(0, "open: %s", err.message);
        lucid_model_destroy(m);
        return;
    }
    lucid_cuda_dev *dev = devp;
    if (nhwc) {
        bool got = false;
        char why[200];
        if (be->plan_layout(devp, m->graph, LUCID_PRECISION_FP16, LUCID_GPU_LAYOUT_NHWC, &got,
                            why, sizeof why, &err)) {
            printf("%s: no channels-last layer test: %s\n", path, err.message);
            be->close(devp);
            lucid_model_destroy(m);
            return;
        }
        printf("%s: channels-last: %s\n", path, why);
    }
    capture cap = {g, calloc((size_t)g->n_tensors, sizeof(float *)),
                   calloc((size_t)g->n_tensors, sizeof(unsigned char *))};
    int64_t nx = 1;
    for (int i = 0; i < d.rank; i++) nx *= d.dims[i];
    float *x = malloc(sizeof(float) * (size_t)nx);
    fill_input(x, nx, 1);
    cap.val[g->inputs[0]] = x;
    lucid_context_t *ctx = NULL;
    if (lucid_context_create(m, NULL, &ctx, &err)) {
        CHECK(0, "reference context %s: %s", path, err.message);
        goto done;
    }
    CHECK(!lucid_context_set_input(ctx, d.name, LUCID_DTYPE_FLOAT, d.rank, d.dims, x),
          "set_input: %s", lucid_context_error(ctx));
    lucid_context_set_observer(ctx, observe, &cap);
    CHECK(!lucid_context_run(ctx), "reference run: %s", lucid_context_error(ctx));
    capture_values(&cap);
    lucid_context_destroy(ctx);
    lucid_cuda_stream s = {dev->stream, dev->cudnn, dev->lt};
    int n_checked = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        if (!lucid_plan_node_runs(g, i)) continue;
        for (size_t ti = 0; ti < lucid_tactic_count(); ti++) {
            const lucid_tactic *t = lucid_tactic_at(ti);
            if (t->device != LUCID_DEVICE_CUDA) continue;
            char why[256] = "";
            if (!t->supports(g, n, NULL, why, sizeof why)) continue;
            void *state = NULL;
            lucid_status st = t->prepare_device(t, g, n, dev, &state, &err);
            if (st == LUCID_STATUS_UNSUPPORTED) continue;
            if (st) {
                CHECK(0, "%s on %s: prepare: %s", t->name, n->name, err.message);
                continue;
            }
            lc_type ft = lucid_cuda_type(t->precision);
            lucid_array in[16], out[8];
            void *owned[24];
            int no = 0;
            bool ok = n->n_inputs <= 16 && n->n_outputs <= 8;
            for (int k = 0; k < n->n_inputs && ok; k++) {
                const lucid_ir_tensor *xt = lucid_op_input(g, n, k);
                void *p = NULL;
                if (xt) {
                    const void *src = xt->data ? xt->data : cap.val[n->inputs[k]];
                    if (!src) ok = false;
                    else if (lucid_cuda_nhwc(dev, xt)) {
                        float *tmp = malloc(lucid_tensor_nbytes(xt));
                        lucid_cuda_to_nhwc(src, tmp, xt->dims[0], xt->dims[1],
                                           xt->dims[2] * xt->dims[3]);
                        ok = !lucid_cuda_upload_floats(tmp, lucid_tensor_numel(xt), ft, &p, &err);
                        free(tmp);
                    } else if (xt->dtype == LUCID_DTYPE_FLOAT)
                        ok = !lucid_cuda_upload_floats(src, lucid_tensor_numel(xt), ft, &p, &err);
                    else
                        ok = !lucid_cuda_upload(src, lucid_tensor_nbytes(xt), &p, &err);
                    if (p) owned[no++] = p;
                }
                lucid_tensor_array(xt, p, &in[k]);
            }
            for (int k = 0; k < n->n_outputs && ok; k++) {
                const lucid_ir_tensor *yt = lucid_op_output(g, n, k);
                void *p = NULL;
                if (yt) {
                    ok = cudaMalloc(&p, lucid_tensor_nbytes(yt)) == cudaSuccess;
                    if (ok) owned[no++] = p;
                    if (ok) cudaMemset(p, 0xff, lucid_tensor_nbytes(yt)); /* NaN: unwritten */
                    /* cudaMemset runs on the legacy stream, which the tactic's non-blocking
                     * stream does not wait for */
                    if (ok) ok = cudaDeviceSynchronize() == cudaSuccess;
                }
                lucid_tensor_array(yt, p, &out[k]);
            }
            size_t ws = t->workspace(state, 1);
            void *work = NULL;
            if (ok && ws) ok = cudaMalloc(&work, ws) == cudaSuccess;
            if (ok) {
                st = t->run_device(state, in, n->n_inputs, out, n->n_outputs, work, &s, &err);
                CHECK(!st, "%s on %s: run: %s", t->name, n->name, err.message);
                CHECK(cudaStreamSynchronize(dev->stream) == cudaSuccess, "%s on %s: sync: %s",
                      t->name, n->name, cudaGetErrorString(cudaGetLastError()));
                for (int k = 0; k < n->n_outputs && !st; k++) {
                    const lucid_ir_tensor *yt = lucid_op_output(g, n, k);
                    const float *ref = yt ? cap.val[n->outputs[k]] : NULL;
                    if (!ref) continue;
                    int64_t ne = lucid_tensor_numel(yt);
                    void *dst = NULL;
                    float *got = malloc(sizeof(float) * (size_t)ne);
                    cudaMalloc(&dst, sizeof(float) * (size_t)ne);
                    const char *kwhy = NULL;
                    lc_convert(out[k].data, ft, dst, LC_F32, ne, dev->stream, &kwhy);
                    /* cudaMemcpy runs on the legacy stream: wait for the conversion first */
                    cudaStreamSynchronize(dev->stream);
                    cudaMemcpy(got, dst, sizeof(float) * (size_t)ne, cudaMemcpyDeviceToHost);
                    if (lucid_cuda_nhwc(dev, yt)) {
                        float *tmp = malloc(sizeof(float) * (size_t)ne);
                        from_nhwc(got, tmp, yt->dims[0], yt->dims[1], yt->dims[2] * yt->dims[3]);
                        free(got);
                        got = tmp;
                    }
                    int pi = (t->flags & LUCID_TACTIC_TF32) ? 1 : (int)t->precision;
                    double e = rel_err(got, ref, ne), tol = layer_tol[pi];
                    /* Winograd and FFT transform the operands: more rounding, even in fp32 */
                    if ((strstr(t->name, "winograd") || strstr(t->name, "fft")) && tol < 2e-3)
                        tol = 2e-3;
                    CHECK(e <= tol, "%s on %s (%s): error %.3g > %.3g", t->name,
                          n->name, n->op_type, e, tol);
                    if (verbose) printf("  %-48s %-28s %.3g\n", t->name, n->name, e);
                    n_checked++;
                    free(got);
                    cudaFree(dst);
                }
            } else {
                CHECK(0, "%s on %s: could not set up buffers", t->name, n->name);
            }
            if (work) cudaFree(work);
            for (int k = 0; k < no; k++) cudaFree(owned[k]);
            t->release(state);
        }
    }
    printf("%s: %d tactic x layer results checked against the reference (%s)\n", path,
           n_checked, nhwc ? "NHWC" : "NCHW");
done:
    be->close(devp);
    for (int t = 0; t < g->n_tensors; t++) free(cap.val[t]);
    free(cap.val);
    free(cap.ptr);
    lucid_model_destroy(m);
}

/* ---- whole models ---- */

typedef struct thread_arg {
    const lucid_plan_t *plan;
    const char *input;
    int rank;
    int64_t dims[LUCID_MAX_RANK];
    const float *x;
    float *y;
    size_t ny;
    int ok;
    lucid_error err; /* why the context failed */
} thread_arg;

static void *thread_run(void *p)
{
    thread_arg *a = p;
    lucid_context_t *ctx = NULL;
    a->ok = 0;
    if (lucid_context_create_plan(a->plan, NULL, &ctx, &a->err)) return NULL;
    for (int r = 0; r < 20; r++) {
        lucid_context_set_input(ctx, a->input, LUCID_DTYPE_FLOAT, a->rank, a->dims, a->x);
        if (lucid_context_run(ctx)) {
            snprintf(a->err.message, sizeof a->err.message, "run %d: %s", r,
                     lucid_context_error(ctx));
            lucid_context_destroy(ctx);
            return NULL;
        }
    }
    lucid_array o;
    lucid_context_output(ctx, 0, &o);
    memcpy(a->y, o.data, a->ny * sizeof(float));
    lucid_context_destroy(ctx);
    a->ok = 1;
    return NULL;
}

static float *run_ctx(const lucid_plan_t *plan, const lucid_context_options *o, const char *name,
                      int rank, const int64_t *dims, const float *x, size_t *ny)
{
    lucid_error err;
    lucid_context_t *ctx = NULL;
    if (lucid_context_create_plan(plan, o, &ctx, &err)) {
        CHECK(0, "context: %s", err.message);
        return NULL;
    }
    float *y = NULL;
    for (int r = 0; r < 2; r++) { /* the first run of a graph context captures it */
        if (lucid_context_set_input(ctx, name, LUCID_DTYPE_FLOAT, rank, dims, x)) {
            CHECK(0, "set_input: %s", lucid_context_error(ctx));
            lucid_context_destroy(ctx);
            return NULL;
        }
        if (lucid_context_run(ctx)) {
            CHECK(0, "run: %s", lucid_context_error(ctx));
            lucid_context_destroy(ctx);
            return NULL;
        }
    }
    lucid_array out;
    lucid_context_output(ctx, 0, &out);
    *ny = out.nbytes / sizeof(float);
    y = malloc(out.nbytes);
    memcpy(y, out.data, out.nbytes);
    lucid_context_destroy(ctx);
    return y;
}

/* The batch a model test runs: the reference file's first samples, at most 8, or the model's
 * fixed batch when it has a smaller one. */
static int64_t test_batch(const char *path, const lucid_array *xin)
{
    int64_t batch = xin->dims[0] < 8 ? xin->dims[0] : 8;
    lucid_model_t *m0 = NULL;
    if (!lucid_model_load(path, &m0, NULL)) {
        lucid_tensor_desc d0;
        lucid_model_input(m0, 0, &d0);
        if (d0.rank > 0 && d0.dims[0] > 0 && d0.dims[0] < batch) batch = d0.dims[0];
        lucid_model_destroy(m0);
    }
    return batch;
}

static const double model_tol[4] = {1e-3, 1e-2, 3e-2, 1.5e-1};

static const char *const layout_names[] = {"auto", "NCHW", "NHWC"};

/* precisions: bit p set tests lucid_precision p; layout: lucid_gpu_layout (a forced NHWC that
 * the model cannot run is reported, not failed) */
static void test_model(const char *path, const char *in_npy, const char *out_npy, unsigned precs,
                       lucid_gpu_layout layout)
{
    lucid_error err;
    lucid_array xin = {0}, yref = {0};
    if (lucid_array_load_npy(in_npy, &xin, &err) || lucid_array_load_npy(out_npy, &yref, &err)) {
        CHECK(0, "%s: %s", path, err.message);
        goto out;
    }
    int64_t batch = test_batch(path, &xin);
    xin.dims[0] = batch;
    int64_t per_out = lucid_array_numel(&yref) / yref.dims[0];
    for (int p = 0; p < 4; p++) {
        if (!(precs & (1u << p))) continue;
        lucid_precision prec = (lucid_precision)p;
        lucid_model_t *m = NULL;
        if (lucid_model_load(path, &m, &err)) {
            CHECK(0, "%s: %s", path, err.message);
            goto out;
        }
        lucid_tensor_desc d;
        lucid_model_input(m, 0, &d);
        lucid_model_set_input_shape(m, d.name, xin.rank, xin.dims, NULL);
        lucid_build_options bo;
        lucid_build_options_default(&bo);
        bo.device = LUCID_DEVICE_CUDA;
        bo.precision = prec;
        bo.time_ms = 2;
        bo.gpu_layout = layout;
        lucid_plan_t *plan = NULL;
        double t0 = lucid_time_now();
        lucid_status bst = lucid_plan_build(m, &bo, &plan, &err);
        if (bst == LUCID_STATUS_UNSUPPORTED && layout == LUCID_GPU_LAYOUT_NHWC &&
            strstr(err.message, "GPU layout NHWC requested")) {
            printf("%-50s %s NHWC: not buildable channels-last: %s\n", path,
                   lucid_precision_name(prec), err.message);
            lucid_model_destroy(m);
            continue;
        }
        if (bst) {
            CHECK(0, "%s %s %s build: %s", path, lucid_precision_name(prec),
                  layout_names[layout], err.message);
            lucid_model_destroy(m);
            continue;
        }
        double build_s = lucid_time_now() - t0;
        lucid_plan_info bi;
        lucid_plan_get_info(plan, &bi);
        const char *lname = bi.gpu_channels_last ? "NHWC" : "NCHW";
        CHECK(layout != LUCID_GPU_LAYOUT_NHWC || bi.gpu_channels_last,
              "%s: NHWC requested, %s built", path, lname);
        CHECK(layout != LUCID_GPU_LAYOUT_NCHW || !bi.gpu_channels_last,
              "%s: NCHW requested, %s built", path, lname);
        size_t ny = 0, ny2 = 0;
        lucid_context_options graph = {0}, nograph = {.no_cuda_graph = 1};
        float *y = run_ctx(plan, &graph, d.name, xin.rank, xin.dims, xin.data, &ny);
        float *y2 = run_ctx(plan, &nograph, d.name, xin.rank, xin.dims, xin.data, &ny2);
        if (y && y2) {
            double e = rel_err(y, yref.data, batch * per_out);
            int agree = 0;
            for (int64_t b = 0; b < batch; b++) {
                int64_t am = 0, ar = 0;
                const float *yr = (const float *)yref.data + b * per_out, *yg = y + b * per_out;
                for (int64_t j = 1; j < per_out; j++) {
                    if (yg[j] > yg[am]) am = j;
                    if (yr[j] > yr[ar]) ar = j;
                }
                agree += am == ar;
            }
            printf("%-50s %s %s (%s): error %.3g vs reference, top-1 %d/%lld agree, build %.1f s\n",
                   path, lucid_precision_name(prec), lname, bi.gpu_layout_reason, e, agree,
                   (long long)batch, build_s);
            CHECK(e <= model_tol[p], "%s %s %s: error %.3g > %.3g", path,
                  lucid_precision_name(prec), lname, e, model_tol[p]);
            CHECK(ny == ny2 && memcmp(y, y2, ny * sizeof(float)) == 0,
                  "%s %s %s: CUDA graph and layer-by-layer runs differ", path,
                  lucid_precision_name(prec), lname);
            if (prec == LUCID_PRECISION_FP16 || bi.gpu_channels_last) {
                /* four contexts sharing the plan, run concurrently */
                pthread_t th[4];
                thread_arg ta[4];
                for (int k = 0; k < 4; k++) {
                    ta[k] = (thread_arg){.plan = plan, .input = d.name, .rank = xin.rank,
                                         .x = xin.data, .ny = ny, .y = malloc(ny * sizeof(float))};
                    memcpy(ta[k].dims, xin.dims, sizeof ta[k].dims);
                    pthread_create(&th[k], NULL, thread_run, &ta[k]);
                }
                for (int k = 0; k < 4; k++) {
                    pthread_join(th[k], NULL);
                    size_t nd = 0, first = 0;
                    for (size_t j = 0; ta[k].ok && j < ny; j++)
                        if (memcmp(&ta[k].y[j], &y[j], sizeof(float)) != 0 && !nd++) first = j;
                    CHECK(ta[k].ok && nd == 0,
                          "%s %s %s: concurrent context %d %s (%zu of %zu outputs differ, the "
                          "first at %zu: %.9g against %.9g)%s%s",
                          path, lucid_precision_name(prec), lname, k,
                          ta[k].ok ? "differs" : "failed", nd, ny, first,
                          ta[k].ok ? ta[k].y[first] : 0.0, y[first], ta[k].ok ? "" : ": ",
                          ta[k].ok ? "" : ta[k].err.message);
                    free(ta[k].y);
                }
                /* the plan file round trip */
                char pp[] = "/tmp/lucid_test_cuda_XXXXXX";
                int fd = mkstemp(pp);
                if (fd >= 0) close(fd);
                lucid_plan_t *loaded = NULL;
                CHECK(!lucid_plan_save(plan, pp, &err), "save: %s", err.message);
                if (!lucid_plan_load(pp, &loaded, &err)) {
                    size_t n3 = 0;
                    float *y3 = run_ctx(loaded, &graph, d.name, xin.rank, xin.dims, xin.data, &n3);
                    CHECK(y3 && n3 == ny && memcmp(y3, y, ny * sizeof(float)) == 0,
                          "%s: the loaded GPU plan computes different outputs", path);
                    free(y3);
                    lucid_plan_info pi;
                    lucid_plan_get_info(loaded, &pi);
                    CHECK(pi.device == LUCID_DEVICE_CUDA && pi.precision == prec &&
                              pi.gpu_channels_last == bi.gpu_channels_last,
                          "loaded plan lost its device, precision or layout");
                    lucid_plan_destroy(loaded);
                } else {
                    CHECK(0, "load: %s", err.message);
                }
                unlink(pp);
            }
        }
        free(y);
        free(y2);
        lucid_plan_destroy(plan);
        lucid_model_destroy(m);
    }
out:
    lucid_array_free(&xin);
    lucid_array_free(&yref);
}

/* ---- INT8 ---- */

/* NCHW <-> NHWC of n images of c channels and hw positions, elements of es bytes */
static void bytes_layout(const void *x, void *y, int64_t n, int64_t c, int64_t hw, size_t es,
                         bool to_nhwc)
{
    const unsigned char *src = x;
    unsigned char *dst = y;
    for (int64_t b = 0; b < n; b++)
        for (int64_t k = 0; k < c; k++)
            for (int64_t p = 0; p < hw; p++) {
                size_t nchw = (size_t)((b * c + k) * hw + p), nhwc = (size_t)((b * hw + p) * c + k);
                memcpy(dst + (to_nhwc ? nhwc : nchw) * es, src + (to_nhwc ? nchw : nhwc) * es, es);
            }
}

/* Every int8 CUDA tactic (cuda.qconv.int8.*, cuda.qdq, cuda.pool.int8) on every layer of the
 * plan's quantized graph that it takes, inputs the CPU reference executor's own activations
 * of that graph (channels-last, float tensors in fp16, as an int8 plan stores them): an int8
 * output may differ from the reference by one unit (a value within float rounding of a
 * rounding tie: the reference divides by the output scale, the tactics multiply by its
 * reciprocal folded into their scales), at most on 1% of its elements, or 10% for a layer that
 * reads a float activation (its fp16 rounding moves more values across a tie: QuantizeLinear
 * off by one on 3.1% and 1.9% of Fashion LeNet-5's and ResNet's flattened features on an
 * H200); a float output within the fp16 tolerance. */
static void test_int8_layers(const lucid_plan_t *plan, const char *path, const char *in_name,
                             int rank, const int64_t *dims, const float *x)
{
    const lucid_model_t *pm = lucid_plan_model(plan);
    const lucid_graph *g = pm->graph;
    const lucid_device_backend *be = lucid_cuda_backend();
    lucid_error err;
    void *devp = NULL;
    lucid_context_t *ctx = NULL;
    capture cap = {g, calloc((size_t)g->n_tensors, sizeof(float *)),
                   calloc((size_t)g->n_tensors, sizeof(unsigned char *))};
    if (lucid_context_create(pm, NULL, &ctx, &err) ||
        lucid_context_set_input(ctx, in_name, LUCID_DTYPE_FLOAT, rank, dims, x) ||
        lucid_context_set_observer(ctx, observe, &cap) || lucid_context_run(ctx)) {
        CHECK(0, "%s int8 layers: reference run: %s", path,
              ctx ? lucid_context_error(ctx) : err.message);
        goto done;
    }
    if (be->open(0, false, &devp, &err)) {
        CHECK(0, "open: %s", err.message);
        goto done;
    }
    lucid_cuda_dev *dev = devp;
    dev->nhwc = true; /* an int8 plan is channels-last */
    lucid_cuda_stream s = {dev->stream, dev->cudnn, dev->lt};
    int checked = 0, units = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        if (!lucid_plan_node_runs(g, i)) continue;
        for (size_t ti = 0; ti < lucid_tactic_count(); ti++) {
            const lucid_tactic *t = lucid_tactic_at(ti);
            if (t->device != LUCID_DEVICE_CUDA ||
                (strncmp(t->name, "cuda.qconv.int8", 15) && strncmp(t->name, "cuda.qdq", 8) &&
                 strncmp(t->name, "cuda.pool.int8", 14)))
                continue;
            char why[256] = "";
            if (!t->supports(g, n, NULL, why, sizeof why)) continue;
            void *state = NULL;
            lucid_status st = t->prepare_device(t, g, n, dev, &state, &err);
            if (st == LUCID_STATUS_UNSUPPORTED) {
                if (verbose) printf("  %s on %s: %s\n", t->name, n->name, err.message);
                continue;
            }
            if (st) {
                CHECK(0, "%s on %s: prepare: %s", t->name, n->name, err.message);
                continue;
            }
            lucid_array in[16], out[2];
            void *owned[20];
            int no = 0;
            bool ok = n->n_inputs <= 16 && n->n_outputs <= 2;
            for (int k = 0; k < n->n_inputs && ok; k++) {
                const lucid_ir_tensor *xt = lucid_op_input(g, n, k);
                void *p = NULL;
                if (xt) {
                    const void *src = xt->data                       ? xt->data
                                      : n->inputs[k] == g->inputs[0] ? (const void *)x
                                                                     : captured(&cap, n->inputs[k]);
                    size_t nb = lucid_tensor_nbytes(xt);
                    void *tmp = malloc(nb ? nb : 1);
                    ok = src && tmp;
                    if (ok && lucid_cuda_nhwc(dev, xt))
                        bytes_layout(src, tmp, xt->dims[0], xt->dims[1], xt->dims[2] * xt->dims[3],
                                     lucid_dtype_size(xt->dtype), true);
                    else if (ok)
                        memcpy(tmp, src, nb);
                    if (ok && xt->dtype == LUCID_DTYPE_FLOAT)
                        ok = !lucid_cuda_upload_floats(tmp, lucid_tensor_numel(xt), LC_F16, &p,
                                                       &err);
                    else if (ok)
                        ok = !lucid_cuda_upload(tmp, nb, &p, &err);
                    free(tmp);
                    if (p) owned[no++] = p;
                }
                lucid_tensor_array(xt, p, &in[k]);
            }
            const lucid_ir_tensor *yt = lucid_op_output(g, n, 0);
            void *yp = NULL, *work = NULL;
            size_t ynb = lucid_tensor_nbytes(yt), ws = t->workspace(state, 1);
            ok = ok && cudaMalloc(&yp, ynb) == cudaSuccess;
            if (yp) owned[no++] = yp;
            lucid_tensor_array(yt, yp, &out[0]);
            if (ok && ws) ok = cudaMalloc(&work, ws) == cudaSuccess;
            if (ok) st = t->run_device(state, in, n->n_inputs, out, 1, work, &s, &err);
            CHECK(ok && !st, "%s on %s: %s", t->name, n->name, ok ? err.message : "buffers");
            if (ok && !st) {
                cudaStreamSynchronize(dev->stream);
                int64_t ne = lucid_tensor_numel(yt);
                const unsigned char *ref = captured(&cap, n->outputs[0]);
                void *raw = malloc(ynb), *got = malloc(ynb);
                if (yt->dtype == LUCID_DTYPE_FLOAT) { /* half on the device */
                    void *f32 = NULL;
                    const char *kwhy = NULL;
                    cudaMalloc(&f32, ynb);
                    lc_convert(yp, LC_F16, f32, LC_F32, ne, dev->stream, &kwhy);
                    cudaStreamSynchronize(dev->stream);
                    cudaMemcpy(raw, f32, ynb, cudaMemcpyDeviceToHost);
                    cudaFree(f32);
                } else {
                    cudaMemcpy(raw, yp, ynb, cudaMemcpyDeviceToHost);
                }
                if (lucid_cuda_nhwc(dev, yt))
                    bytes_layout(raw, got, yt->dims[0], yt->dims[1], yt->dims[2] * yt->dims[3],
                                 lucid_dtype_size(yt->dtype), false);
                else
                    memcpy(got, raw, ynb);
                if (!ref) {
                    CHECK(0, "%s on %s: no reference value", t->name, n->name);
                } else if (yt->dtype == LUCID_DTYPE_FLOAT) {
                    double e = rel_err(got, (const float *)ref, ne);
                    CHECK(e <= layer_tol[LUCID_PRECISION_FP16], "%s on %s: error %.3g", t->name,
                          n->name, e);
                } else {
                    int64_t off1 = 0, worse = 0;
                    for (int64_t j = 0; j < ne; j++) {
                        int a = yt->dtype == LUCID_DTYPE_UINT8 ? ((const uint8_t *)got)[j]
                                                               : ((const int8_t *)got)[j];
                        int b = yt->dtype == LUCID_DTYPE_UINT8 ? ((const uint8_t *)ref)[j]
                                                               : ((const int8_t *)ref)[j];
                        off1 += abs(a - b) == 1;
                        worse += abs(a - b) > 1;
                    }
                    /* a layer that reads a float activation reads it in fp16, whose rounding
                     * moves more values across a rounding tie: 10% of them may be off by one */
                    bool half_in = false;
                    for (int k = 0; k < n->n_inputs; k++) {
                        const lucid_ir_tensor *it = lucid_op_input(g, n, k);
                        half_in |= it && !it->data && it->dtype == LUCID_DTYPE_FLOAT;
                    }
                    units += (int)off1;
                    CHECK(worse == 0 && off1 * (half_in ? 10 : 100) <= ne,
                          "%s on %s (%s): %lld of %lld values off by "
                          "one unit, %lld by more",
                          t->name, n->name, n->op_type, (long long)off1, (long long)ne,
                          (long long)worse);
                }
                if (verbose) printf("  %-36s %s\n", t->name, n->name);
                checked++;
                free(raw);
                free(got);
            }
            if (work) cudaFree(work);
            for (int k = 0; k < no; k++)
                cudaFree(owned[k]);
            t->release(state);
        }
    }
    printf("%s: %d int8 tactic x layer results checked against the reference (%d values off by "
           "one unit)\n",
           path, checked, units);
    CHECK(checked > 0, "%s: no int8 layer checked", path);
done:
    if (devp) be->close(devp);
    lucid_context_destroy(ctx);
    free(cap.val);
    free(cap.ptr);
}

/* The model quantized for the GPU (calibrated on the first samples of in_npy), built with
 * every int8 tactic, then with only lucid's direct int8 kernel, then with only cuBLASLt (a
 * model with depthwise convolutions cannot build so, and must say which layer); each plan's outputs
 * against the reference executor running that plan's own quantized graph (integer sums are exact on
 * both sides; what differs is the float16 storage of the float tensors between int8 layers), CUDA
 * graph against layer-by-layer runs, and top-1 against the float model's reference logits
 * (reported). */
static void test_int8(const char *path, const char *in_npy, const char *out_npy)
{
    const struct {
        const char *label;
        const char *const *excl;
        size_t n_excl;
        const char *want; /* a tactic prefix at least one layer must use */
    } configs[] = {
        {"all int8 tactics", NULL, 0, "cuda.qconv.int8"},
        {"direct only", (const char *const[]){"cuda.qconv.int8.lt"}, 1, "cuda.qconv.int8.direct"},
        {"cuBLASLt only", (const char *const[]){"cuda.qconv.int8.direct"}, 1, "cuda.qconv.int8.lt"},
    };
    lucid_error err;
    lucid_array xin = {0}, yref = {0};
    if (lucid_array_load_npy(in_npy, &xin, &err) || lucid_array_load_npy(out_npy, &yref, &err)) {
        CHECK(0, "%s: %s", path, err.message);
        goto out;
    }
    int64_t batch = test_batch(path, &xin);
    int64_t per_out = lucid_array_numel(&yref) / yref.dims[0];
    int64_t dims[LUCID_MAX_RANK];
    memcpy(dims, xin.dims, sizeof dims);
    dims[0] = batch;
    char calib[600];
    snprintf(calib, sizeof calib, "npy:%s", in_npy);
    for (size_t ci = 0; ci < sizeof configs / sizeof configs[0]; ci++) {
        lucid_model_t *m = NULL;
        if (lucid_model_load(path, &m, &err)) {
            CHECK(0, "%s: %s", path, err.message);
            goto out;
        }
        lucid_tensor_desc d;
        lucid_model_input(m, 0, &d);
        lucid_model_set_input_shape(m, d.name, xin.rank, dims, NULL);
        lucid_build_options bo;
        lucid_build_options_default(&bo);
        bo.device = LUCID_DEVICE_CUDA;
        bo.precision = LUCID_PRECISION_INT8;
        bo.time_ms = 2;
        bo.calibration_data = calib;
        bo.calibration_count = 64;
        bo.exclude_tactics = configs[ci].excl;
        bo.n_exclude_tactics = configs[ci].n_excl;
        lucid_plan_t *plan = NULL;
        if (lucid_plan_build(m, &bo, &plan, &err)) {
            /* a layer only the excluded tactics run (depthwise without the direct kernel) */
            bool expected = ci == 2 && strstr(err.message, "no cuda tactic can run");
            printf("%-50s int8 [%s]: %s build failed: %s\n", path, configs[ci].label,
                   expected ? "expected:" : "", err.message);
            CHECK(expected, "%s int8 [%s] build: %s", path, configs[ci].label, err.message);
            lucid_model_destroy(m);
            continue;
        }
        lucid_plan_info bi;
        lucid_plan_get_info(plan, &bi);
        int n_q = 0, n_want = 0, n_int8 = 0;
        char used[400] = "";
        for (size_t i = 0; i < bi.num_layers; i++) {
            lucid_layer_info li;
            lucid_plan_layer(plan, i, &li);
            if (!li.tactic || !li.tactic[0]) continue;
            n_int8 += li.precision && strcmp(li.precision, "int8") == 0;
            if (strncmp(li.tactic, "cuda.qconv.int8", 15) != 0) continue;
            n_q++;
            n_want += strncmp(li.tactic, configs[ci].want, strlen(configs[ci].want)) == 0;
            if (!strstr(used, li.tactic) && strlen(used) + strlen(li.tactic) + 2 < sizeof used) {
                strcat(used, used[0] ? " " : "");
                strcat(used, li.tactic);
            }
        }
        CHECK(bi.gpu_channels_last, "%s int8: not channels-last", path);
        if (ci == 0) test_int8_layers(plan, path, d.name, xin.rank, dims, xin.data);
        CHECK(n_q > 0 && n_want > 0, "%s int8 [%s]: %d int8 convolution layers, %d by %s", path,
              configs[ci].label, n_q, n_want, configs[ci].want);
        size_t ny = 0, ny2 = 0, nr = 0;
        lucid_context_options graph = {0}, nograph = {.no_cuda_graph = 1};
        float *y = run_ctx(plan, &graph, d.name, xin.rank, dims, xin.data, &ny);
        float *y2 = run_ctx(plan, &nograph, d.name, xin.rank, dims, xin.data, &ny2);
        float *yq = NULL;
        lucid_context_t *ref = NULL;
        if (!lucid_context_create(lucid_plan_model(plan), NULL, &ref, &err) &&
            !lucid_context_set_input(ref, d.name, LUCID_DTYPE_FLOAT, xin.rank, dims, xin.data) &&
            !lucid_context_run(ref)) {
            lucid_array o;
            lucid_context_output(ref, 0, &o);
            nr = o.nbytes / sizeof(float);
            yq = malloc(o.nbytes);
            memcpy(yq, o.data, o.nbytes);
        } else {
            CHECK(0, "%s int8: reference run of the quantized graph: %s", path,
                  ref ? lucid_context_error(ref) : err.message);
        }
        lucid_context_destroy(ref);
        if (y && y2 && yq && ny == nr) {
            double eq = rel_err(y, yq, (int64_t)ny), ef = rel_err(y, yref.data, batch * per_out);
            int agree = 0, agree_q = 0;
            for (int64_t b = 0; b < batch; b++) {
                int64_t am = 0, ar = 0, aq = 0;
                const float *yr = (const float *)yref.data + b * per_out, *yg = y + b * per_out,
                            *yc = yq + b * per_out;
                for (int64_t j = 1; j < per_out; j++) {
                    if (yg[j] > yg[am]) am = j;
                    if (yr[j] > yr[ar]) ar = j;
                    if (yc[j] > yc[aq]) aq = j;
                }
                agree += am == ar;
                agree_q += am == aq;
            }
            printf("%-50s int8 [%s]: %d int8 layers (%s); error %.3g vs the quantized graph on "
                   "the CPU reference (top-1 %d/%lld agree), %.3g vs float32 logits (top-1 "
                   "%d/%lld)\n",
                   path, configs[ci].label, n_int8, used, eq, agree_q, (long long)batch, ef, agree,
                   (long long)batch);
            CHECK(eq <= 3e-2, "%s int8 [%s]: error %.3g against the quantized graph > 3e-2", path,
                  configs[ci].label, eq);
            CHECK(ny == ny2 && memcmp(y, y2, ny * sizeof(float)) == 0,
                  "%s int8 [%s]: CUDA graph and layer-by-layer runs differ", path,
                  configs[ci].label);
        } else {
            CHECK(0, "%s int8 [%s]: runs failed or sizes differ", path, configs[ci].label);
        }
        free(y);
        free(y2);
        free(yq);
        lucid_plan_destroy(plan);
        lucid_model_destroy(m);
    }
out:
    lucid_array_free(&xin);
    lucid_array_free(&yref);
}

/* ---- profiling: per-layer event times and the kernels each layer launched (CUPTI) ---- */

typedef struct prof_arg {
    lucid_context_t *ctx;
    const lucid_tensor_desc *in;
    const float *x;
    int runs;
    lucid_status st;
} prof_arg;

static void *prof_thread(void *p)
{
    prof_arg *a = p;
    a->st = lucid_context_set_profiling(a->ctx, 1);
    for (int r = 0; r < a->runs && !a->st; r++) {
        a->st = lucid_context_set_input(a->ctx, a->in->name, LUCID_DTYPE_FLOAT, a->in->rank,
                                        a->in->dims, a->x);
        if (!a->st) a->st = lucid_context_run(a->ctx);
    }
    return NULL;
}

/* After `runs` profiling runs: every layer timed in each and, unless CUPTI was unavailable
 * (then the reason is set), given kernels in every traced run, at least one launch per run,
 * whose GPU time per run is positive and within the layer's mean event-timed span (with slack:
 * two clocks, layers of a few microseconds); with at most 10 runs, every one was also traced.
 * Turning profiling off clears the kernels, and an unprofiled run adds none. */
static void check_kernels(const prof_arg *a, const char *what, bool show)
{
    lucid_context_t *ctx = a->ctx;
    CHECK(!a->st, "%s: profiling run: %s", what, lucid_context_error(ctx));
    if (a->st) return;
    const char *why = lucid_context_kernels_unavailable(ctx);
    size_t nl = lucid_context_num_layers(ctx);
    if (why) {
        printf("%s: kernel names unavailable: %s\n", what, why);
        CHECK(why[0] && lucid_context_layer_num_kernels(ctx, 0) == 0,
              "%s: unavailable, yet kernels", what);
    }
    size_t kernels = 0;
    for (size_t i = 0; i < nl; i++) {
        lucid_layer_profile lp;
        lucid_context_layer_profile(ctx, i, &lp);
        CHECK(lp.runs == a->runs && lp.total_ms > 0, "%s: layer '%s' timed in %lld of %d runs",
              what, lp.name, (long long)lp.runs, a->runs);
        if (why) continue;
        size_t nk = lucid_context_layer_num_kernels(ctx, i);
        int64_t ns = 0, launches = 0, traced = 0;
        for (size_t j = 0; j < nk; j++) {
            lucid_layer_kernel k = {0};
            CHECK(!lucid_context_layer_kernel(ctx, i, j, &k) && k.name && k.name[0] &&
                      k.launches > 0 && k.total_ns > 0 && k.runs == a->runs,
                  "%s: layer '%s' kernel %zu: '%s' x%lld in %lld runs, %lld ns", what, lp.name,
                  j, k.name ? k.name : "(null)", (long long)k.launches, (long long)k.runs,
                  (long long)k.total_ns);
            ns += k.total_ns;
            launches += k.launches;
            traced = k.runs;
            if (show)
                printf("  %-28s %-40s %8.4f ms x%g  %s\n", lp.name, lp.tactic,
                       (double)k.total_ns * 1e-6 / k.runs, (double)k.launches / k.runs, k.name);
        }
        kernels += nk;
        double kernel_ms = traced ? ns * 1e-6 / traced : 0, span_ms = lp.total_ms / a->runs;
        CHECK(nk > 0 && launches >= traced,
              "%s: layer '%s' (%s): %zu kernels, %lld launches in %lld traced runs", what,
              lp.name, lp.tactic, nk, (long long)launches, (long long)traced);
        CHECK(kernel_ms > 0 && kernel_ms <= 1.5 * span_ms + 5e-3,
              "%s: layer '%s' (%s): its kernels took %.4f ms a run, its event-timed span %.4f ms",
              what, lp.name, lp.tactic, kernel_ms, span_ms);
    }
    if (!why)
        printf("%s: %zu layers, %zu kernels named over %d profiled runs\n", what, nl, kernels,
               a->runs);
    lucid_context_set_profiling(ctx, 0);
    lucid_status st = lucid_context_run(ctx);
    size_t left = 0;
    for (size_t i = 0; i < nl; i++)
        left += lucid_context_layer_num_kernels(ctx, i);
    CHECK(!st && left == 0, "%s: %zu kernels after profiling was turned off and a run (%s)", what,
          left, st ? lucid_context_error(ctx) : "ok");
}

/* A plan of the model in precision prec profiled by one context, then by two at once (CUPTI's
 * collection is process-wide: each context must get its own layers' kernels). */
static void test_profile(const char *path, lucid_precision prec, bool show)
{
    lucid_error err;
    lucid_model_t *m = NULL;
    lucid_plan_t *plan = NULL;
    lucid_context_t *ctx[2] = {NULL, NULL};
    float *x = NULL;
    char what[600];
    snprintf(what, sizeof what, "%s %s profile", path, lucid_precision_name(prec));
    if (lucid_model_load(path, &m, &err)) {
        CHECK(0, "%s: %s", what, err.message);
        return;
    }
    lucid_tensor_desc d;
    lucid_model_input(m, 0, &d);
    int64_t numel = 1;
    for (int k = 0; k < d.rank; k++) {
        if (d.dims[k] <= 0) d.dims[k] = 1;
        numel *= d.dims[k];
    }
    lucid_model_set_input_shape(m, d.name, d.rank, d.dims, NULL);
    lucid_build_options bo;
    lucid_build_options_default(&bo);
    bo.device = LUCID_DEVICE_CUDA;
    bo.precision = prec;
    bo.time_ms = 1;
    if (lucid_plan_build(m, &bo, &plan, &err)) {
        CHECK(0, "%s: build: %s", what, err.message);
        goto out;
    }
    for (int c = 0; c < 2; c++)
        if (lucid_context_create_plan(plan, NULL, &ctx[c], &err)) {
            CHECK(0, "%s: context: %s", what, err.message);
            goto out;
        }
    if (!(x = malloc((size_t)numel * sizeof *x))) goto out;
    fill_input(x, numel, 7);
    /* a graph run first (its capture), then profiling runs on the same context */
    lucid_status st = lucid_context_set_input(ctx[0], d.name, LUCID_DTYPE_FLOAT, d.rank, d.dims, x);
    if (!st) st = lucid_context_run(ctx[0]);
    CHECK(!st, "%s: graph run: %s", what, lucid_context_error(ctx[0]));
    prof_arg a[2] = {{.ctx = ctx[0], .in = &d, .x = x, .runs = 5},
                     {.ctx = ctx[1], .in = &d, .x = x, .runs = 5}};
    prof_thread(&a[0]);
    check_kernels(&a[0], what, show);
    pthread_t th[2];
    for (int c = 0; c < 2; c++)
        pthread_create(&th[c], NULL, prof_thread, &a[c]);
    for (int c = 0; c < 2; c++)
        pthread_join(th[c], NULL);
    char w2[640];
    for (int c = 0; c < 2; c++) {
        snprintf(w2, sizeof w2, "%s, context %d of 2 at once", what, c);
        check_kernels(&a[c], w2, false);
    }
out:
    free(x);
    for (int c = 0; c < 2; c++)
        lucid_context_destroy(ctx[c]);
    lucid_plan_destroy(plan);
    lucid_model_destroy(m);
}

/* The layer observer on a GPU context: called once per running layer in execution order, the
 * observed (eager) run gives the CUDA-graph run's outputs bit for bit, and the last layer's
 * output as the observer sees it (float32, NCHW, whatever the plan stores) is the graph
 * output. */
typedef struct obs_state {
    size_t calls, last_node;
    float *last;
    size_t last_n;
    bool order_ok;
} obs_state;

static lucid_status obs_count(void *user, size_t node, const char *name, const lucid_array *outs,
                              size_t n_outs)
{
    (void)name;
    obs_state *o = user;
    if (o->calls && node <= o->last_node) o->order_ok = false;
    o->calls++;
    o->last_node = node;
    if (n_outs && outs[0].data && outs[0].dtype == LUCID_DTYPE_FLOAT) {
        float *c = realloc(o->last, outs[0].nbytes);
        if (c) {
            memcpy(c, outs[0].data, outs[0].nbytes);
            o->last = c;
            o->last_n = outs[0].nbytes / sizeof(float);
        }
    }
    return LUCID_STATUS_OK;
}

static void test_observer(const char *path, lucid_precision prec)
{
    lucid_error err;
    lucid_model_t *m = NULL;
    lucid_plan_t *plan = NULL;
    lucid_context_t *ctx = NULL;
    float *x = NULL, *y = NULL;
    obs_state o = {.order_ok = true};
    char what[600];
    snprintf(what, sizeof what, "%s %s observer", path, lucid_precision_name(prec));
    if (lucid_model_load(path, &m, &err)) {
        CHECK(0, "%s: %s", what, err.message);
        return;
    }
    lucid_tensor_desc d;
    lucid_model_input(m, 0, &d);
    int64_t numel = 1;
    for (int k = 0; k < d.rank; k++) {
        if (d.dims[k] <= 0) d.dims[k] = 1;
        numel *= d.dims[k];
    }
    lucid_model_set_input_shape(m, d.name, d.rank, d.dims, NULL);
    lucid_build_options bo;
    lucid_build_options_default(&bo);
    bo.device = LUCID_DEVICE_CUDA;
    bo.precision = prec;
    bo.time_ms = 1;
    lucid_status st = lucid_plan_build(m, &bo, &plan, &err);
    if (!st) st = lucid_context_create_plan(plan, NULL, &ctx, &err);
    if (st || !(x = malloc((size_t)numel * sizeof *x))) {
        CHECK(0, "%s: build: %s", what, st ? err.message : "out of memory");
        goto out;
    }
    fill_input(x, numel, 11);
    lucid_array a;
    st = lucid_context_set_input(ctx, d.name, LUCID_DTYPE_FLOAT, d.rank, d.dims, x);
    if (!st) st = lucid_context_run(ctx);
    if (!st) st = lucid_context_output(ctx, 0, &a);
    if (st || !(y = malloc(a.nbytes))) {
        CHECK(0, "%s: graph run: %s", what, lucid_context_error(ctx));
        goto out;
    }
    memcpy(y, a.data, a.nbytes);
    size_t ny = a.nbytes / sizeof(float);
    st = lucid_context_set_observer(ctx, obs_count, &o);
    if (!st) st = lucid_context_set_input(ctx, d.name, LUCID_DTYPE_FLOAT, d.rank, d.dims, x);
    if (!st) st = lucid_context_run(ctx);
    lucid_context_set_observer(ctx, NULL, NULL);
    if (st) {
        CHECK(0, "%s: observed run: %s", what, lucid_context_error(ctx));
        goto out;
    }
    CHECK(o.calls == lucid_context_num_layers(ctx), "%s: %zu observer calls for %zu layers",
          what, o.calls, lucid_context_num_layers(ctx));
    CHECK(o.order_ok, "%s: layers not shown in execution order", what);
    lucid_context_output(ctx, 0, &a);
    CHECK(a.nbytes == ny * sizeof(float) && memcmp(a.data, y, a.nbytes) == 0,
          "%s: the observed run's output differs from the CUDA-graph run's", what);
    CHECK(o.last_n == ny && memcmp(o.last, y, ny * sizeof(float)) == 0,
          "%s: the last layer's output as observed (%zu values) is not the graph output (%zu)",
          what, o.last_n, ny);
out:
    free(o.last);
    free(x);
    free(y);
    lucid_context_destroy(ctx);
    lucid_plan_destroy(plan);
    lucid_model_destroy(m);
}

/* Is name in the comma-separated list of environment variable var? dflt when var is unset. */
static bool listed(const char *var, const char *name, bool dflt)
{
    const char *l = getenv(var);
    if (!l) return dflt;
    size_t n = strlen(name);
    for (const char *p = l; *p;) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && strncmp(p, name, n) == 0) return true;
        p += k + (e != NULL);
    }
    return false;
}

/* A crash (a fault in a library callback thread as much as in the test) prints the stack's
 * return addresses, to resolve against the binary, before dying as it would have. */
static void on_fault(int sig)
{
    static const char msg[] = "\ntest_cuda: fatal signal; stack:\n";
    void *frames[64];
    (void)!write(2, msg, sizeof msg - 1);
    backtrace_symbols_fd(frames, backtrace(frames, 64), 2);
    signal(sig, SIG_DFL);
    raise(sig);
}

int main(int argc, char **argv)
{
    char why[256];
    /* line-buffered even into a pipe: a run stopped by a time limit shows where it was */
    setvbuf(stdout, NULL, _IOLBF, 0);
    double t_start = lucid_time_now();
    /* backtrace() loads libgcc on its first call: made here, not in the handler (where a
     * signal that interrupted the loader or malloc would deadlock it) */
    void *first[1];
    (void)backtrace(first, 1);
    signal(SIGSEGV, on_fault);
    signal(SIGBUS, on_fault);
    signal(SIGABRT, on_fault);
    if (!lucid_cuda_available(why, sizeof why)) {
        printf("SKIP: %s\n", why);
        return 77;
    }
    const lucid_device_backend *be = lucid_cuda_backend();
    verbose = getenv("LUCID_TEST_VERBOSE") != NULL;
    static const char *fashion[] = {"lenet5", "resnet", "inception", "mobilenet", "squeezenet",
                                    "vgg"};
    static const char *zoo[] = {"resnet18", "mobilenet_v2", "squeezenet1_1", "shufflenet_v2_x1_0",
                                "efficientnet_b0", "googlenet", "tiny_yolov3", "densenet121",
                                "inception_v3", "resnet50", "alexnet", "vgg16"};
    const char *zoo_dir = getenv("LUCID_ZOO_DIR") ? getenv("LUCID_ZOO_DIR")
                                                  : LUCID_SOURCE_DIR "/cache/zoo";
    const char *src = getenv("LUCID_SOURCE") ? getenv("LUCID_SOURCE") : LUCID_SOURCE_DIR;
    char p[512], pi[512], po[512];
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            test_layers(argv[i], be, false);
            test_layers(argv[i], be, true);
        }
        return test_summary();
    }
    const unsigned fp32 = 1u << LUCID_PRECISION_FP32, fp16 = 1u << LUCID_PRECISION_FP16;
    for (size_t i = 0; i < sizeof fashion / sizeof fashion[0]; i++) {
        snprintf(p, sizeof p, "%s/models/fashion/%s/model.onnx", src, fashion[i]);
        snprintf(pi, sizeof pi, "%s/models/fashion/%s/ref_input.npy", src, fashion[i]);
        snprintf(po, sizeof po, "%s/models/fashion/%s/ref_logits.npy", src, fashion[i]);
        if (access(p, R_OK) != 0 || !listed("LUCID_TEST_FASHION", fashion[i], true)) continue;
        printf("[%.0f s] %s\n", lucid_time_now() - t_start, p);
        test_layers(p, be, false);
        test_layers(p, be, true);
        /* auto: fp32 and tf32 NCHW, fp16 and bf16 channels-last; then fp32 channels-last (the
         * layout logic under tight tolerances) and fp16 NCHW */
        test_model(p, pi, po, 0xf, LUCID_GPU_LAYOUT_AUTO);
        test_model(p, pi, po, fp32, LUCID_GPU_LAYOUT_NHWC);
        test_model(p, pi, po, fp16, LUCID_GPU_LAYOUT_NCHW);
        printf("[%.0f s] %s: profiles\n", lucid_time_now() - t_start, p);
        test_profile(p, LUCID_PRECISION_FP32, i == 0);
        test_profile(p, LUCID_PRECISION_FP16, i == 0);
        test_observer(p, LUCID_PRECISION_FP32);
        test_observer(p, LUCID_PRECISION_FP16);
        if (listed("LUCID_TEST_INT8", fashion[i], true)) {
            printf("[%.0f s] %s: int8\n", lucid_time_now() - t_start, p);
            test_int8(p, pi, po);
        }
    }
    for (size_t i = 0; i < sizeof zoo / sizeof zoo[0]; i++) {
        snprintf(p, sizeof p, "%s/%s/model.onnx", zoo_dir, zoo[i]);
        snprintf(pi, sizeof pi, "%s/%s/input.npy", zoo_dir, zoo[i]);
        snprintf(po, sizeof po, "%s/%s/output.npy", zoo_dir, zoo[i]);
        if (access(p, R_OK) != 0 || access(pi, R_OK) != 0) {
            printf("SKIP %s: not in %s\n", zoo[i], zoo_dir);
            continue;
        }
        if (!listed("LUCID_TEST_ZOO", zoo[i], true)) continue;
        printf("[%.0f s] %s\n", lucid_time_now() - t_start, p);
        /* every tactic on three zoo models' layers (or those LUCID_TEST_ZOO_LAYERS names), in
         * both layouts */
        if (listed("LUCID_TEST_ZOO_LAYERS", zoo[i], i < 3)) {
            test_layers(p, be, false);
            test_layers(p, be, true);
        }
        /* the zoo in fp32 (TF32 off, NCHW) and fp16 (channels-last where it can), then fp32
         * channels-last; every precision runs on the Fashion models */
        test_model(p, pi, po, fp32 | fp16, LUCID_GPU_LAYOUT_AUTO);
        test_model(p, pi, po, fp32, LUCID_GPU_LAYOUT_NHWC);
    }
    return test_summary();
}

#else

int main(void)
{
    char why[256];
    lucid_cuda_available(why, sizeof why);
    printf("SKIP: %s\n", why);
    return 77;
}

#endif
