/* executor.c - an execution context's GPU half: the device arena laid out by the plan's
 * memory planner, one stream with its own cuDNN and cuBLASLt handles, pinned host staging for
 * graph inputs and outputs (float32 NCHW at the boundary, converted on the device to the
 * plan's precision and, in channels-last plans, to NHWC), and the whole run - copies in, layers, copies out - captured once as a CUDA
 * graph and replayed. */
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_common.h"
#include "ops/op.h"
#include "plan/plan.h"

/* held by a context's creation, destruction, first run and CUDA-graph capture
 * (lucid_cuda_exec_run says why) */
static pthread_mutex_t first_run_lock = PTHREAD_MUTEX_INITIALIZER;

void lucid_cuda_first_run_lock(void)
{
    pthread_mutex_lock(&first_run_lock);
}

void lucid_cuda_first_run_unlock(void)
{
    pthread_mutex_unlock(&first_run_lock);
}

void *lucid_cuda_plan_const(const lucid_plan_t *plan, int t);

typedef struct boundary {
    int tensor;
    size_t host_bytes;   /* float32 (or the tensor's own dtype) bytes */
    void *host;          /* pinned */
    void *stage;         /* device float32 staging when the plan stores 16-bit floats */
    void *dev;           /* the tensor in the arena */
    int64_t numel;
    bool convert;
    bool nhwc;           /* stored channels-last: converted from / to NCHW at the boundary */
    int64_t n, c, hw;
    bool constant;       /* an output that is a constant: filled once at creation */
} boundary;

typedef struct cuda_exec {
    const lucid_plan_t *plan;
    const lucid_graph *g;
    lucid_cuda_stream s;
    lc_type ft;
    void *arena, *workspace;
    void **dptr;       /* per tensor: device pointer */
    lucid_array *io;   /* per node: inputs then outputs, device pointers */
    int *io_offset;
    int *order;
    int n_order;
    boundary *in, *out;
    int n_in, n_out;
    bool use_graph;
    bool warmed;       /* a first (eager) run has loaded what the layers launch */
    cudaGraph_t graph;
    cudaGraphExec_t gexec;
    cudaEvent_t ev[4];  /* start, inputs in, layers done, outputs out */
    cudaEvent_t *lev;   /* per layer (profiling runs), n_order + 1 */
    lucid_cuda_kprof kprof; /* the kernels each layer launched in traced runs (CUPTI) */
    lucid_device_timing timing;
    /* an observed run (lucid_cuda_exec_run_observed): the observer and host copies of the
     * current layer's outputs */
    lucid_layer_observer obs_fn;
    void *obs_user;
    void *obs_raw, *obs_host;
    size_t obs_cap;
} cuda_exec;

static void exec_destroy_locked(void *p);

/* Creating and destroying a context allocate, free and synchronize device-wide (cudaMalloc,
 * cudaFree, library handles): under the lock, so that no other context's capture is
 * invalidated by them */
void lucid_cuda_exec_destroy(void *p)
{
    pthread_mutex_lock(&first_run_lock);
    exec_destroy_locked(p);
    pthread_mutex_unlock(&first_run_lock);
}

static void exec_destroy_locked(void *p)
{
    cuda_exec *x = p;
    if (!x) return;
    if (x->s.stream) cudaStreamSynchronize(x->s.stream);
    if (x->gexec) cudaGraphExecDestroy(x->gexec);
    if (x->graph) cudaGraphDestroy(x->graph);
    for (int i = 0; i < 4; i++)
        if (x->ev[i]) cudaEventDestroy(x->ev[i]);
    if (x->lev)
        for (int i = 0; i <= x->n_order; i++)
            if (x->lev[i]) cudaEventDestroy(x->lev[i]);
    free(x->lev);
    lucid_cuda_kprof_free(&x->kprof);
    for (int i = 0; i < x->n_in + x->n_out; i++) {
        boundary *b = i < x->n_in ? &x->in[i] : &x->out[i - x->n_in];
        if (b->host) cudaFreeHost(b->host);
        if (b->stage) cudaFree(b->stage);
    }
    free(x->in);
    free(x->out);
    if (x->arena) cudaFree(x->arena);
    if (x->workspace) cudaFree(x->workspace);
    if (x->s.cudnn) cudnnDestroy(x->s.cudnn);
    if (x->s.lt) cublasLtDestroy(x->s.lt);
    if (x->s.stream) cudaStreamDestroy(x->s.stream);
    free(x->dptr);
    free(x->io);
    free(x->io_offset);
    free(x->order);
    free(x->obs_raw);
    free(x->obs_host);
    free(x);
}

static size_t storage_size(const cuda_exec *x, const lucid_ir_tensor *t)
{
    return t->dtype == LUCID_DTYPE_FLOAT ? lucid_cuda_type_size(x->ft) : lucid_dtype_size(t->dtype);
}

static lucid_status boundary_make(cuda_exec *x, int t, boundary *b, bool is_output,
                                  lucid_error *err)
{
    const lucid_ir_tensor *tt = &x->g->tensors[t];
    b->tensor = t;
    b->numel = lucid_tensor_numel(tt);
    b->host_bytes = lucid_tensor_nbytes(tt);
    b->dev = x->dptr[t];
    b->nhwc = lucid_cuda_nhwc(x->plan->dev, tt);
    if (b->nhwc) {
        b->n = tt->dims[0];
        b->c = tt->dims[1];
        b->hw = tt->dims[2] * tt->dims[3];
    }
    b->convert = tt->dtype == LUCID_DTYPE_FLOAT && (x->ft != LC_F32 || b->nhwc);
    lucid_status st = lucid_cuda_check(cudaMallocHost(&b->host, b->host_bytes ? b->host_bytes : 1),
                                       err, "cudaMallocHost (pinned staging)");
    if (st) return st;
    memset(b->host, 0, b->host_bytes);
    if (is_output && tt->data) { /* a constant output: nothing to copy at run time */
        memcpy(b->host, tt->data, b->host_bytes);
        b->constant = true;
        return LUCID_STATUS_OK;
    }
    if (!b->dev)
        return lucid_errorf(err, LUCID_STATUS_INTERNAL, "graph %s '%s' has no device buffer",
                            is_output ? "output" : "input", tt->name);
    if (b->convert)
        st = lucid_cuda_check(cudaMalloc(&b->stage, b->host_bytes), err, "cudaMalloc (staging)");
    return st;
}

static lucid_status exec_create_locked(const lucid_plan_t *plan, const lucid_context_options *o,
                                       void **out, lucid_error *err);

lucid_status lucid_cuda_exec_create(const lucid_plan_t *plan, const lucid_context_options *o,
                                    void **out, lucid_error *err)
{
    pthread_mutex_lock(&first_run_lock);
    lucid_status st = exec_create_locked(plan, o, out, err);
    pthread_mutex_unlock(&first_run_lock);
    return st;
}

static lucid_status exec_create_locked(const lucid_plan_t *plan, const lucid_context_options *o,
                                       void **out, lucid_error *err)
{
    *out = NULL;
    const lucid_cuda_dev *d = plan->dev;
    const lucid_graph *g = plan->model->graph;
    cuda_exec *x = calloc(1, sizeof *x);
    if (!x) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    x->plan = plan;
    x->g = g;
    x->ft = lucid_cuda_type(plan->precision);
    x->use_graph = !(o && o->no_cuda_graph);
    lucid_status st = lucid_cuda_check(cudaSetDevice(d->ordinal), err, "cudaSetDevice");
    if (!st) st = lucid_cuda_check(cudaStreamCreateWithFlags(&x->s.stream, cudaStreamNonBlocking),
                                   err, "cudaStreamCreate");
    if (!st) st = lucid_cudnn_check(cudnnCreate(&x->s.cudnn), err, "cudnnCreate");
    if (!st) st = lucid_cudnn_check(cudnnSetStream(x->s.cudnn, x->s.stream), err, "cudnnSetStream");
    if (!st) st = lucid_cublas_check(cublasLtCreate(&x->s.lt), err, "cublasLtCreate");
    for (int i = 0; i < 4 && !st; i++)
        st = lucid_cuda_check(cudaEventCreate(&x->ev[i]), err, "cudaEventCreate");
    if (!st) st = lucid_cuda_check(cudaMalloc(&x->arena, plan->arena_size ? plan->arena_size : 64),
                                   err, "cudaMalloc (activation arena)");
    if (!st && plan->workspace_size)
        st = lucid_cuda_check(cudaMalloc(&x->workspace, plan->workspace_size), err,
                              "cudaMalloc (workspace)");
    if (st) goto fail;
    /* a poisoned arena: a layer reading memory nothing wrote shows as NaN, not as luck */
    st = lucid_cuda_check(cudaMemset(x->arena, 0xff, plan->arena_size ? plan->arena_size : 64),
                          err, "cudaMemset");
    if (st) goto fail;
    x->dptr = calloc((size_t)g->n_tensors + 1, sizeof *x->dptr);
    x->io_offset = calloc((size_t)g->n_nodes + 1, sizeof *x->io_offset);
    x->order = calloc((size_t)g->n_nodes + 1, sizeof *x->order);
    x->in = calloc((size_t)g->n_inputs + 1, sizeof *x->in);
    x->out = calloc((size_t)g->n_outputs + 1, sizeof *x->out);
    if (!x->dptr || !x->io_offset || !x->order || !x->in || !x->out) goto oom;
    for (int t = 0; t < g->n_tensors; t++) {
        const lucid_ir_tensor *tt = &g->tensors[t];
        if (tt->data)
            x->dptr[t] = lucid_cuda_plan_const(plan, t);
        else if (tt->view_of < 0 && plan->offsets[t] != LUCID_OFFSET_NONE)
            x->dptr[t] = (unsigned char *)x->arena + plan->offsets[t];
    }
    for (int t = 0; t < g->n_tensors; t++) {
        if (g->tensors[t].view_of < 0) continue;
        size_t off;
        int root = lucid_tensor_storage(g, t, &off);
        const lucid_ir_tensor *r = &g->tensors[root];
        /* the planner counts float32 bytes; 16-bit storage holds the same elements */
        size_t es = lucid_dtype_size(r->dtype);
        size_t doff = es ? off / es * storage_size(x, r) : off;
        x->dptr[t] = x->dptr[root] ? (unsigned char *)x->dptr[root] + doff : NULL;
    }
    int n_io = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        x->io_offset[i] = n_io;
        n_io += g->nodes[i].n_inputs + g->nodes[i].n_outputs;
    }
    x->io = calloc((size_t)n_io + 1, sizeof *x->io);
    if (!x->io) goto oom;
    for (int i = 0; i < g->n_nodes; i++) {
        const lucid_node *n = &g->nodes[i];
        lucid_array *a = x->io + x->io_offset[i];
        for (int k = 0; k < n->n_inputs; k++) {
            const lucid_ir_tensor *t = lucid_op_input(g, n, k);
            lucid_tensor_array(t, t ? x->dptr[n->inputs[k]] : NULL, &a[k]);
        }
        for (int k = 0; k < n->n_outputs; k++) {
            const lucid_ir_tensor *t = lucid_op_output(g, n, k);
            lucid_tensor_array(t, t ? x->dptr[n->outputs[k]] : NULL, &a[n->n_inputs + k]);
        }
        if (lucid_plan_node_runs(g, i)) {
            if (!plan->layers[i].tactic || !plan->layers[i].tactic->run_device) {
                st = lucid_node_errorf(n, err, LUCID_STATUS_INTERNAL,
                                       "the GPU plan has no device tactic for this layer");
                goto fail;
            }
            x->order[x->n_order++] = i;
        }
    }
    x->lev = calloc((size_t)x->n_order + 1, sizeof *x->lev);
    if (!x->lev) goto oom;
    st = lucid_cuda_kprof_init(&x->kprof, x->n_order, err);
    for (int i = 0; i <= x->n_order && !st; i++)
        st = lucid_cuda_check(cudaEventCreate(&x->lev[i]), err, "cudaEventCreate");
    for (int k = 0; k < g->n_inputs && !st; k++, x->n_in++)
        st = boundary_make(x, g->inputs[k], &x->in[k], false, err);
    for (int k = 0; k < g->n_outputs && !st; k++, x->n_out++)
        st = boundary_make(x, g->outputs[k], &x->out[k], true, err);
    if (st) goto fail;
    *out = x;
    return LUCID_STATUS_OK;
oom:
    st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
fail:
    exec_destroy_locked(x);
    return st;
}

void *lucid_cuda_exec_host_buffer(void *p, int tensor)
{
    cuda_exec *x = p;
    for (int i = 0; i < x->n_in; i++)
        if (x->in[i].tensor == tensor) return x->in[i].host;
    for (int i = 0; i < x->n_out; i++)
        if (x->out[i].tensor == tensor) return x->out[i].host;
    return NULL;
}

/* Records ev on s; while capturing, as an event record node of the graph (a plain record
 * would only order streams inside the capture and leave ev unrecorded). */
static lucid_status record(cuda_exec *x, cudaEvent_t ev, bool capturing, lucid_error *err)
{
    return lucid_cuda_check(capturing ? cudaEventRecordWithFlags(ev, x->s.stream, cudaEventRecordExternal)
                                      : cudaEventRecord(ev, x->s.stream),
                            err, "cudaEventRecord");
}

/* Enqueues one whole run on the stream (also while it is being captured); a profiling run
 * records an event before each layer, a traced run (kernels) marks each layer's launches for
 * CUPTI. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp == 0) {
        if (!man) {
            bits = sign;
        } else { /* subnormal: normalize */
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float bf16_to_float(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* An observed run, after layer i: its outputs copied back and shown as the CPU shows them
 * (float tensors as float32, every tensor in plain NCHW order), then the observer called. */
static lucid_status observe_layer(cuda_exec *x, int i, lucid_error *err)
{
    const lucid_node *n = &x->g->nodes[i];
    const lucid_cuda_dev *d = x->plan->dev;
    enum { MAX_SHOWN = 16 }; /* outputs shown of one layer (Split into more shows the first) */
    lucid_array shown[MAX_SHOWN];
    int n_out = n->n_outputs < MAX_SHOWN ? n->n_outputs : MAX_SHOWN;
    lucid_status st = lucid_cuda_check(cudaStreamSynchronize(x->s.stream), err, "the layer");
    if (st) return st;
    size_t need = 0;
    for (int o = 0; o < n_out; o++) {
        int t = n->outputs[o];
        if (t < 0) continue;
        const lucid_ir_tensor *tt = &x->g->tensors[t];
        size_t numel = (size_t)lucid_tensor_numel(tt);
        size_t shown_b = numel * (tt->dtype == LUCID_DTYPE_FLOAT ? sizeof(float)
                                                                 : lucid_dtype_size(tt->dtype));
        need += shown_b + 64;
    }
    if (need > x->obs_cap) {
        void *raw = realloc(x->obs_raw, need), *host = raw ? realloc(x->obs_host, need) : NULL;
        if (raw) x->obs_raw = raw;
        if (host) x->obs_host = host;
        if (!raw || !host)
            return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY,
                                "out of memory for the observer's %zu-byte buffer", need);
        x->obs_cap = need;
    }
    size_t off = 0;
    for (int o = 0; o < n_out && !st; o++) {
        lucid_array *a = &shown[o];
        memset(a, 0, sizeof *a);
        int t = n->outputs[o];
        if (t < 0 || !x->dptr[t]) continue;
        const lucid_ir_tensor *tt = &x->g->tensors[t];
        snprintf(a->name, sizeof a->name, "%s", tt->name);
        a->dtype = tt->dtype;
        a->rank = tt->rank;
        memcpy(a->dims, tt->dims, sizeof(int64_t) * (size_t)tt->rank);
        size_t numel = (size_t)lucid_tensor_numel(tt), es = storage_size(x, tt);
        bool fl = tt->dtype == LUCID_DTYPE_FLOAT;
        size_t out_es = fl ? sizeof(float) : es;
        unsigned char *raw = (unsigned char *)x->obs_raw + off;
        unsigned char *host = (unsigned char *)x->obs_host + off;
        off += numel * out_es + 64;
        st = lucid_cuda_check(cudaMemcpy(raw, x->dptr[t], numel * es, cudaMemcpyDeviceToHost),
                              err, "observer copy");
        if (st) break;
        if (fl && x->ft != LC_F32) {
            /* widened in place, back to front (4 bytes from 2) */
            for (size_t k = numel; k-- > 0;) {
                uint16_t h;
                memcpy(&h, raw + 2 * k, 2);
                float f = x->ft == LC_F16 ? half_to_float(h) : bf16_to_float(h);
                memcpy(raw + 4 * k, &f, 4);
            }
        }
        if (lucid_cuda_nhwc(d, tt)) {
            int64_t N = tt->dims[0], C = tt->dims[1], HW = tt->dims[2] * tt->dims[3];
            for (int64_t b = 0; b < N; b++)
                for (int64_t c = 0; c < C; c++)
                    for (int64_t p = 0; p < HW; p++)
                        memcpy(host + ((size_t)((b * C + c) * HW + p)) * out_es,
                               raw + ((size_t)((b * HW + p) * C + c)) * out_es, out_es);
        } else {
            memcpy(host, raw, numel * out_es);
        }
        if (fl) a->dtype = LUCID_DTYPE_FLOAT;
        a->data = host;
        a->nbytes = numel * out_es;
    }
    if (!st) {
        st = x->obs_fn(x->obs_user, (size_t)i, n->name, shown, (size_t)n_out);
        if (st) lucid_errorf(err, st, "stopped by the layer observer");
    }
    return st;
}

static lucid_status enqueue(cuda_exec *x, bool profiling, bool kernels, bool capturing,
                            lucid_error *err)
{
    cudaStream_t s = x->s.stream;
    const char *why = NULL;
    lucid_status st = record(x, x->ev[0], capturing, err);
    for (int i = 0; i < x->n_in && !st; i++) {
        boundary *b = &x->in[i];
        if (b->convert) {
            st = lucid_cuda_check(cudaMemcpyAsync(b->stage, b->host, b->host_bytes,
                                                  cudaMemcpyHostToDevice, s),
                                  err, "input copy");
            if (!st)
                st = lucid_kernel_check(
                    b->nhwc ? lc_convert_layout(b->stage, LC_F32, b->dev, x->ft, b->n, b->c,
                                                b->hw, 1, s, &why)
                            : lc_convert(b->stage, LC_F32, b->dev, x->ft, b->numel, s, &why),
                    why, err, "convert input");
        } else {
            st = lucid_cuda_check(cudaMemcpyAsync(b->dev, b->host, b->host_bytes,
                                                  cudaMemcpyHostToDevice, s),
                                  err, "input copy");
        }
    }
    if (!st) st = record(x, x->ev[1], capturing, err);
    const lucid_graph *g = x->g;
    for (int k = 0; k < x->n_order && !st; k++) {
        int i = x->order[k];
        const lucid_node *n = &g->nodes[i];
        const lucid_layer *l = &x->plan->layers[i];
        lucid_array *a = x->io + x->io_offset[i];
        if (profiling) st = lucid_cuda_check(cudaEventRecord(x->lev[k], s), err, "cudaEventRecord");
        if (!st) {
            if (kernels) lucid_cuda_kprof_enter(&x->kprof, k);
            st = l->tactic->run_device(l->state, a, n->n_inputs, a + n->n_inputs, n->n_outputs,
                                       x->workspace, &x->s, err);
            if (kernels) lucid_cuda_kprof_leave();
            if (!st && x->obs_fn && !capturing) st = observe_layer(x, i, err);
        }
        if (st)
            lucid_error_prefix(err, "layer '%s' (%s, tactic %s): ", n->name, n->op_type,
                               l->tactic->name);
    }
    if (profiling && !st)
        st = lucid_cuda_check(cudaEventRecord(x->lev[x->n_order], s), err, "cudaEventRecord");
    if (!st) st = record(x, x->ev[2], capturing, err);
    for (int i = 0; i < x->n_out && !st; i++) {
        boundary *b = &x->out[i];
        if (b->constant) continue;
        if (b->convert) {
            st = lucid_kernel_check(
                b->nhwc ? lc_convert_layout(b->dev, x->ft, b->stage, LC_F32, b->n, b->c, b->hw,
                                            0, s, &why)
                        : lc_convert(b->dev, x->ft, b->stage, LC_F32, b->numel, s, &why),
                why, err, "convert output");
            if (!st)
                st = lucid_cuda_check(cudaMemcpyAsync(b->host, b->stage, b->host_bytes,
                                                      cudaMemcpyDeviceToHost, s),
                                      err, "output copy");
        } else {
            st = lucid_cuda_check(cudaMemcpyAsync(b->host, b->dev, b->host_bytes,
                                                  cudaMemcpyDeviceToHost, s),
                                  err, "output copy");
        }
    }
    if (!st) st = record(x, x->ev[3], capturing, err);
    return st;
}

static lucid_status capture(cuda_exec *x, lucid_error *err)
{
    lucid_status st = lucid_cuda_check(
        cudaStreamBeginCapture(x->s.stream, cudaStreamCaptureModeThreadLocal), err,
        "cudaStreamBeginCapture");
    if (st) return st;
    lucid_status est = enqueue(x, false, false, true, err);
    cudaGraph_t graph = NULL;
    st = lucid_cuda_check(cudaStreamEndCapture(x->s.stream, &graph), err, "cudaStreamEndCapture");
    if (est || st) {
        if (graph) cudaGraphDestroy(graph);
        cudaGetLastError();
        if (est) lucid_error_prefix(err, "capturing the CUDA graph: ");
        return est ? est : st;
    }
    x->graph = graph;
    return lucid_cuda_check(lucid_cuda_graph_instantiate(&x->gexec, graph), err,
                            "cudaGraphInstantiate");
}

/* The first TRACED_RUNS profiling runs after profiling is turned on each run the layers once
 * more, untimed, with CUPTI collecting the kernels every layer launches (cupti.c). Apart from
 * the event-timed runs: CUPTI's tracing of every API call slows launches: traced, the sums of
 * the layers' event-timed minimums were 1.5 to 2.4 times longer (three Fashion-MNIST models,
 * fp16, H200). Enabling and disabling collection takes the lock, like a first run, so that no
 * other context's capture is invalidated by it. */
#define TRACED_RUNS 10

static lucid_status traced_run(cuda_exec *x, lucid_error *err)
{
    pthread_mutex_lock(&first_run_lock);
    bool on = lucid_cuda_kprof_begin(&x->kprof);
    pthread_mutex_unlock(&first_run_lock);
    if (!on) return LUCID_STATUS_OK; /* no kernel names: kprof.why says why */
    lucid_status st = enqueue(x, false, true, false, err);
    lucid_status sync = lucid_cuda_check(cudaStreamSynchronize(x->s.stream), err, "the run");
    pthread_mutex_lock(&first_run_lock);
    lucid_cuda_kprof_end(&x->kprof);
    pthread_mutex_unlock(&first_run_lock);
    return st ? st : sync;
}

lucid_status lucid_cuda_exec_run(void *p, double *layer_ms, lucid_error *err)
{
    cuda_exec *x = p;
    lucid_status st = lucid_cuda_check(cudaSetDevice(((const lucid_cuda_dev *)x->plan->dev)->ordinal),
                                       err, "cudaSetDevice");
    if (st) return st;
    bool graph = x->use_graph && !layer_ms;
    if (!x->warmed || (graph && !x->gexec)) {
        /* The first run of a context, and its capture, hold a process-wide lock: a first
         * eager run loads CUDA modules and library kernels lazily, and a module load
         * synchronizes the whole device, which invalidates a capture another thread has in
         * progress on any stream (cudaErrorStreamCaptureInvalidated, seen with concurrent
         * contexts). After the first run a context only launches what is loaded. */
        pthread_mutex_lock(&first_run_lock);
        if (!x->warmed) {
            /* one eager run first: libraries finish their lazy set-up (module loads, handle
             * allocations) outside the capture, where it would be illegal */
            st = enqueue(x, false, false, false, err);
            lucid_status sync =
                lucid_cuda_check(cudaStreamSynchronize(x->s.stream), err, "the run");
            if (!st) st = sync;
            if (!st) x->warmed = true;
        }
        if (!st && graph && !x->gexec) st = capture(x, err);
        pthread_mutex_unlock(&first_run_lock);
        if (st) return st;
    }
    if (layer_ms && x->kprof.runs < TRACED_RUNS && !x->kprof.why[0]) {
        st = traced_run(x, err);
        if (st) return st;
    }
    double t0 = lucid_time_now();
    if (graph)
        st = lucid_cuda_check(cudaGraphLaunch(x->gexec, x->s.stream), err, "cudaGraphLaunch");
    else
        st = enqueue(x, layer_ms != NULL, false, false, err);
    double t1 = lucid_time_now();
    lucid_status sync = lucid_cuda_check(cudaStreamSynchronize(x->s.stream), err, "the run");
    if (st) return st;
    if (sync) return sync;
    float a = 0, b = 0, c = 0;
    st = lucid_cuda_check(cudaEventElapsedTime(&a, x->ev[0], x->ev[1]), err, "event timing");
    if (!st) st = lucid_cuda_check(cudaEventElapsedTime(&b, x->ev[1], x->ev[2]), err, "event timing");
    if (!st) st = lucid_cuda_check(cudaEventElapsedTime(&c, x->ev[2], x->ev[3]), err, "event timing");
    if (st) return st;
    x->timing.h2d_ms = a;
    x->timing.compute_ms = b;
    x->timing.d2h_ms = c;
    x->timing.enqueue_ms = (t1 - t0) * 1e3;
    x->timing.cuda_graph = graph;
    if (layer_ms)
        for (int k = 0; k < x->n_order && !st; k++) {
            float ms = 0;
            st = lucid_cuda_check(cudaEventElapsedTime(&ms, x->lev[k], x->lev[k + 1]), err,
                                  "event timing");
            layer_ms[k] = ms;
        }
    return st;
}

/* One eager layer-by-layer run that shows every layer's outputs to fn (observe_layer); the
 * CUDA graph is not used and the run's timing is not kept. */
lucid_status lucid_cuda_exec_run_observed(void *p, lucid_layer_observer fn, void *user,
                                          lucid_error *err)
{
    cuda_exec *x = p;
    lucid_status st = lucid_cuda_check(cudaSetDevice(((const lucid_cuda_dev *)x->plan->dev)->ordinal),
                                       err, "cudaSetDevice");
    if (st) return st;
    if (!x->warmed) {
        pthread_mutex_lock(&first_run_lock);
        st = enqueue(x, false, false, false, err);
        lucid_status sync = lucid_cuda_check(cudaStreamSynchronize(x->s.stream), err, "the run");
        if (!st) st = sync;
        if (!st) x->warmed = true;
        pthread_mutex_unlock(&first_run_lock);
        if (st) return st;
    }
    lucid_device_timing keep = x->timing;
    x->obs_fn = fn;
    x->obs_user = user;
    st = enqueue(x, false, false, false, err);
    x->obs_fn = NULL;
    x->obs_user = NULL;
    lucid_status sync = lucid_cuda_check(cudaStreamSynchronize(x->s.stream), err, "the run");
    x->timing = keep;
    return st ? st : sync;
}

lucid_status lucid_cuda_exec_timing(const void *p, lucid_device_timing *out)
{
    const cuda_exec *x = p;
    *out = x->timing;
    return LUCID_STATUS_OK;
}

/* The kernels of running layer k (context.c's lucid_context_layer_kernel and friends). */
size_t lucid_cuda_exec_num_kernels(const void *p, size_t k)
{
    const cuda_exec *x = p;
    return k < (size_t)x->kprof.n_layers ? (size_t)x->kprof.layer[k].n : 0;
}

lucid_status lucid_cuda_exec_kernel(const void *p, size_t k, size_t j, lucid_layer_kernel *out)
{
    if (j >= lucid_cuda_exec_num_kernels(p, k)) return LUCID_STATUS_INVALID_ARGUMENT;
    const cuda_exec *x = p;
    *out = x->kprof.layer[k].k[j];
    out->runs = x->kprof.runs;
    return LUCID_STATUS_OK;
}

const char *lucid_cuda_exec_kernels_unavailable(const void *p)
{
    const cuda_exec *x = p;
    return x->kprof.why[0] ? x->kprof.why : NULL;
}

void lucid_cuda_exec_kernels_clear(void *p)
{
    lucid_cuda_kprof_clear(&((cuda_exec *)p)->kprof);
}
