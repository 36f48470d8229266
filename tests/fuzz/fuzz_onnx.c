/* fuzz_onnx.c - ONNX import from bytes (lucid_model_load_memory): decoding, graph building,
 * validation and shape inference, then the input/output descriptions and, when the model has
 * symbolic input dimensions, inference again with them fixed to 1. */
#include <stdint.h>
#include <stdlib.h>

#include "lucid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lucid_model_t *m = NULL;
    lucid_error err = {0};
    if (lucid_model_load_memory(data, size, "fuzz.onnx", &m, &err) != LUCID_STATUS_OK) {
        if (m) abort(); /* a failed load must leave no model behind */
        return 0;
    }
    size_t n_in = lucid_model_num_inputs(m), n_out = lucid_model_num_outputs(m);
    for (size_t i = 0; i < n_out; i++) {
        lucid_tensor_desc d;
        (void)lucid_model_output(m, i, &d);
    }
    for (size_t i = 0; i < n_in; i++) {
        lucid_tensor_desc d;
        if (lucid_model_input(m, i, &d) != LUCID_STATUS_OK) continue;
        if (d.rank < 0 || d.rank > LUCID_MAX_RANK) continue;
        int64_t dims[LUCID_MAX_RANK];
        int symbolic = 0;
        for (int k = 0; k < d.rank; k++) {
            dims[k] = d.dims[k] < 0 ? 1 : d.dims[k];
            symbolic |= d.dims[k] < 0;
        }
        /* fixing a symbolic dimension re-runs shape inference with a concrete value */
        if (symbolic) (void)lucid_model_set_input_shape(m, d.name, d.rank, dims, &err);
    }
    lucid_model_destroy(m);
    return 0;
}
