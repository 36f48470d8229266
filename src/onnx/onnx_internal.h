/* onnx_internal.h - shared pieces of the ONNX importer (protobuf-c types stay in src/onnx/). */
#ifndef LUCID_ONNX_INTERNAL_H
#define LUCID_ONNX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "lucid.h"
#include "onnx.pb-c.h"

/* Largest model or tensor file read into memory (protobuf's own limit is 2 GiB). */
#define LUCID_ONNX_MAX_FILE ((size_t)2 << 30)

/* Maps an ONNX element type to a supported dtype; UNSUPPORTED otherwise. */
lucid_status lucid_onnx_dtype(int32_t onnx_type, lucid_dtype *out);
/* Name of any ONNX element type, supported or not. */
const char *lucid_onnx_dtype_name(int32_t onnx_type);
/* Decodes a TensorProto (raw, typed or external data relative to base_dir) into an array
 * that owns its data. */
lucid_status lucid_onnx_decode_tensor(const Onnx__TensorProto *tp, const char *base_dir,
                                      lucid_array *out, lucid_error *err);
/* Reads a whole regular file of at most max_bytes. */
lucid_status lucid_onnx_read_file(const char *path, size_t max_bytes, uint8_t **out, size_t *len,
                                  lucid_error *err);
void lucid_onnx_dirname(const char *path, char *buf, size_t len);

#endif
