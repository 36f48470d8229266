/* tensor.c - decoding ONNX TensorProto messages (inline, typed or external data) to arrays. */
#include "onnx/onnx_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"
#include "ops/op.h"

lucid_status lucid_onnx_dtype(int32_t onnx_type, lucid_dtype *out)
{
    switch (onnx_type) {
    case LUCID_DTYPE_FLOAT:
    case LUCID_DTYPE_UINT8:
    case LUCID_DTYPE_INT8:
    case LUCID_DTYPE_UINT16:
    case LUCID_DTYPE_INT16:
    case LUCID_DTYPE_INT32:
    case LUCID_DTYPE_INT64:
    case LUCID_DTYPE_BOOL:
    case LUCID_DTYPE_FLOAT16:
    case LUCID_DTYPE_DOUBLE:
    case LUCID_DTYPE_UINT32:
    case LUCID_DTYPE_UINT64:
    case LUCID_DTYPE_BFLOAT16: *out = (lucid_dtype)onnx_type; return LUCID_STATUS_OK;
    default: return LUCID_STATUS_UNSUPPORTED;
    }
}

const char *lucid_onnx_dtype_name(int32_t onnx_type)
{
    static const char *names[] = {"undefined", "float32",   "uint8",      "int8",    "uint16",
                                  "int16",     "int32",     "int64",      "string",  "bool",
                                  "float16",   "float64",   "uint32",     "uint64",  "complex64",
                                  "complex128", "bfloat16", "float8e4m3fn", "float8e4m3fnuz",
                                  "float8e5m2", "float8e5m2fnuz", "uint4", "int4"};
    if (onnx_type >= 0 && (size_t)onnx_type < LUCID_ARRAY_LEN(names)) return names[onnx_type];
    return "unknown";
}

/* Is `rel` a relative path that stays inside its base folder? */
static bool path_is_contained(const char *rel)
{
    if (!rel[0] || rel[0] == '/') return false;
    const char *p = rel;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') return false;
        if (!end) break;
        p = end + 1;
    }
    return true;
}

static lucid_status parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s) return LUCID_STATUS_INVALID_MODEL;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return LUCID_STATUS_INVALID_MODEL;
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) return LUCID_STATUS_INVALID_MODEL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return LUCID_STATUS_OK;
}

static lucid_status read_external(const Onnx__TensorProto *tp, const char *name,
                                  const char *base_dir, size_t nbytes, void *dst,
                                  lucid_error *err)
{
    const char *location = NULL;
    uint64_t offset = 0, length = 0;
    bool has_length = false;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e->key) continue;
        if (strcmp(e->key, "location") == 0) {
            location = e->value;
        } else if (strcmp(e->key, "offset") == 0) {
            if (parse_u64(e->value, &offset))
                return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                    "tensor '%s': external data offset '%s' is not a number", name,
                                    e->value ? e->value : "");
        } else if (strcmp(e->key, "length") == 0) {
            if (parse_u64(e->value, &length))
                return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                    "tensor '%s': external data length '%s' is not a number", name,
                                    e->value ? e->value : "");
            has_length = true;
        }
    }
    if (!location)
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "tensor '%s': external data has no location", name);
    if (!path_is_contained(location))
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "tensor '%s': external data location '%s' is not a relative path "
                            "inside the model's folder",
                            name, location);
    if (has_length && length != nbytes)
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "tensor '%s': external data length %llu does not match its shape "
                            "(%zu bytes)",
                            name, (unsigned long long)length, nbytes);
    char path[4096];
    int w = snprintf(path, sizeof path, "%s/%s", base_dir && *base_dir ? base_dir : ".",
                     location);
    if (w < 0 || (size_t)w >= sizeof path)
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "tensor '%s': external data path is too long", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR,
                            "tensor '%s': cannot open external data file '%s': %s", name, path,
                            strerror(errno));
    struct stat sb;
    lucid_status st = LUCID_STATUS_OK;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR,
                          "tensor '%s': external data '%s' is not a regular file", name, path);
        goto done;
    }
    uint64_t fsize = (uint64_t)sb.st_size;
    if (offset > fsize || nbytes > fsize - offset) {
        st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                          "tensor '%s': external data needs bytes %llu..%llu of '%s', which has "
                          "%llu",
                          name, (unsigned long long)offset,
                          (unsigned long long)(offset + nbytes), path,
                          (unsigned long long)fsize);
        goto done;
    }
    if (fseeko(f, (off_t)offset, SEEK_SET) != 0 || (nbytes && fread(dst, 1, nbytes, f) != nbytes))
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR,
                          "tensor '%s': cannot read external data from '%s'", name, path);
done:
    fclose(f);
    return st;
}

lucid_status lucid_onnx_decode_tensor(const Onnx__TensorProto *tp, const char *base_dir,
                                      lucid_array *out, lucid_error *err)
{
    memset(out, 0, sizeof *out);
    const char *name = tp->name ? tp->name : "";
    snprintf(out->name, sizeof out->name, "%s", name);
    lucid_dtype dtype;
    if (tp->segment)
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED, "tensor '%s': segmented tensors are not "
                            "supported", name);
    if (lucid_onnx_dtype(tp->data_type, &dtype))
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "tensor '%s' has data type %s (%d), which is not supported", name,
                            lucid_onnx_dtype_name(tp->data_type), (int)tp->data_type);
    if (tp->n_dims > LUCID_MAX_RANK)
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                            "tensor '%s' has rank %zu (at most %d supported)", name, tp->n_dims,
                            LUCID_MAX_RANK);
    out->dtype = dtype;
    out->rank = (int)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                "tensor '%s' has negative dimension %lld", name,
                                (long long)tp->dims[i]);
        out->dims[i] = tp->dims[i];
    }
    int64_t numel = lucid_shape_numel(out->rank, out->dims);
    if (numel < 0)
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                            "tensor '%s' has more than %lld elements", name,
                            (long long)LUCID_MAX_ELEMENTS);
    size_t esize = lucid_dtype_size(dtype);
    size_t nbytes;
    if (!lucid_mul_size((size_t)numel, esize, &nbytes))
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED, "tensor '%s' is too large", name);

    bool external = tp->has_data_location &&
                    tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    size_t typed_count = 0;
    const char *field = "raw_data";
    if (!external && !tp->has_raw_data) {
        switch (dtype) {
        case LUCID_DTYPE_FLOAT: typed_count = tp->n_float_data; field = "float_data"; break;
        case LUCID_DTYPE_DOUBLE: typed_count = tp->n_double_data; field = "double_data"; break;
        case LUCID_DTYPE_INT64: typed_count = tp->n_int64_data; field = "int64_data"; break;
        case LUCID_DTYPE_UINT32:
        case LUCID_DTYPE_UINT64: typed_count = tp->n_uint64_data; field = "uint64_data"; break;
        default: typed_count = tp->n_int32_data; field = "int32_data"; break;
        }
        if (typed_count != (size_t)numel)
            return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                "tensor '%s': %s holds %zu values, its shape needs %lld", name,
                                field, typed_count, (long long)numel);
    } else if (!external && tp->raw_data.len != nbytes) {
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "tensor '%s': raw_data holds %zu bytes, its %s shape needs %zu", name,
                            tp->raw_data.len, lucid_dtype_name(dtype), nbytes);
    }

    void *data = malloc(nbytes ? nbytes : 1);
    if (!data)
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY,
                            "out of memory for tensor '%s' (%zu bytes)", name, nbytes);
    if (external) {
        lucid_status st = read_external(tp, name, base_dir, nbytes, data, err);
        if (st) {
            free(data);
            return st;
        }
    } else if (tp->has_raw_data) {
        if (nbytes) memcpy(data, tp->raw_data.data, nbytes);
    } else {
        for (int64_t i = 0; i < numel; i++) {
            switch (dtype) {
            case LUCID_DTYPE_FLOAT: ((float *)data)[i] = tp->float_data[i]; break;
            case LUCID_DTYPE_DOUBLE: ((double *)data)[i] = tp->double_data[i]; break;
            case LUCID_DTYPE_INT64: ((int64_t *)data)[i] = tp->int64_data[i]; break;
            case LUCID_DTYPE_UINT32: ((uint32_t *)data)[i] = (uint32_t)tp->uint64_data[i]; break;
            case LUCID_DTYPE_UINT64: ((uint64_t *)data)[i] = tp->uint64_data[i]; break;
            case LUCID_DTYPE_FLOAT16:
            case LUCID_DTYPE_BFLOAT16: /* the 16 bits are stored in int32_data */
                ((uint16_t *)data)[i] = (uint16_t)tp->int32_data[i];
                break;
            default: lucid_store_i64(dtype, data, i, tp->int32_data[i]); break;
            }
        }
    }
    out->data = data;
    out->nbytes = nbytes;
    return LUCID_STATUS_OK;
}

lucid_status lucid_onnx_read_file(const char *path, size_t max_bytes, uint8_t **out, size_t *len,
                                  lucid_error *err)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot open: %s", path,
                                strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot stat: %s", path,
                            strerror(errno));
    }
    if (S_ISDIR(sb.st_mode)) {
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: is a directory, not a file", path);
    }
    if (!S_ISREG(sb.st_mode)) {
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                            "%s: is %lld bytes; at most %zu are accepted (use external data for "
                            "large weights)",
                            path, (long long)sb.st_size, max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "%s: out of memory reading %zu bytes",
                            path, n);
    }
    if (n && fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: read failed", path);
    }
    fclose(f);
    *out = buf;
    *len = n;
    return LUCID_STATUS_OK;
}

/* The folder part of path ("." if none), into buf. */
void lucid_onnx_dirname(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(buf, len, ".");
    } else if (slash == path) {
        snprintf(buf, len, "/");
    } else {
        snprintf(buf, len, "%.*s", (int)(slash - path), path);
    }
}

lucid_status lucid_array_load_pb(const char *path, lucid_array *out, lucid_error *err)
{
    if (!path || !out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "load_pb: NULL argument");
    memset(out, 0, sizeof *out);
    uint8_t *buf;
    size_t len;
    lucid_status st = lucid_onnx_read_file(path, LUCID_ONNX_MAX_FILE, &buf, &len, err);
    if (st) return st;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!tp)
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                            "%s: not a valid ONNX TensorProto (protobuf decoding failed)", path);
    char dir[4096];
    lucid_onnx_dirname(path, dir, sizeof dir);
    st = lucid_onnx_decode_tensor(tp, dir, out, err);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    if (st) lucid_error_prefix(err, "%s: ", path);
    return st;
}
