/* device.c - names of devices, precisions and calibrators, and whether the CUDA backend can run here. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"

#include "tactics/device.h"

const char *lucid_precision_name(lucid_precision p)
{
    switch (p) {
    case LUCID_PRECISION_FP32: return "fp32";
    case LUCID_PRECISION_TF32: return "tf32";
    case LUCID_PRECISION_FP16: return "fp16";
    case LUCID_PRECISION_BF16: return "bf16";
    case LUCID_PRECISION_INT8: return "int8";
    }
    return "unknown";
}

const char *lucid_calibrator_name(lucid_calibrator c)
{
    switch (c) {
    case LUCID_CALIBRATOR_ENTROPY: return "entropy";
    case LUCID_CALIBRATOR_MINMAX: return "minmax";
    case LUCID_CALIBRATOR_PERCENTILE: return "percentile";
    }
    return "unknown";
}

const char *lucid_device_name(lucid_device d)
{
    switch (d) {
    case LUCID_DEVICE_CPU: return "cpu";
    case LUCID_DEVICE_CUDA: return "cuda";
    }
    return "unknown";
}

#ifndef LUCID_HAVE_CUDA
const lucid_device_backend *lucid_cuda_backend(void)
{
    return NULL;
}
#endif

int lucid_cuda_available(char *why, size_t why_len)
{
    const lucid_device_backend *b = lucid_cuda_backend();
    if (!b) {
        if (why && why_len) snprintf(why, why_len, "this lucid was built without LUCID_CUDA");
        return 0;
    }
    char tmp[256];
    bool ok = b->probe(why && why_len ? why : tmp, why && why_len ? why_len : sizeof tmp);
    return ok ? 1 : 0;
}

lucid_status lucid_cuda_device_info(int ordinal, lucid_gpu_info *out, lucid_error *err)
{
    if (!out) return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "NULL argument");
    memset(out, 0, sizeof *out);
    const lucid_device_backend *b = lucid_cuda_backend();
    if (!b)
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "this lucid was built without LUCID_CUDA");
    char why[256];
    if (!b->probe(why, sizeof why)) return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED, "%s", why);
    return b->device_info(ordinal, out, err);
}
