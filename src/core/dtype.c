/* dtype.c - element type names and sizes. */
#include "lucid.h"

const char *lucid_dtype_name(lucid_dtype dtype)
{
    switch (dtype) {
    case LUCID_DTYPE_FLOAT: return "float32";
    case LUCID_DTYPE_UINT8: return "uint8";
    case LUCID_DTYPE_INT8: return "int8";
    case LUCID_DTYPE_UINT16: return "uint16";
    case LUCID_DTYPE_INT16: return "int16";
    case LUCID_DTYPE_INT32: return "int32";
    case LUCID_DTYPE_INT64: return "int64";
    case LUCID_DTYPE_STRING: return "string";
    case LUCID_DTYPE_BOOL: return "bool";
    case LUCID_DTYPE_FLOAT16: return "float16";
    case LUCID_DTYPE_DOUBLE: return "float64";
    case LUCID_DTYPE_UINT32: return "uint32";
    case LUCID_DTYPE_UINT64: return "uint64";
    case LUCID_DTYPE_BFLOAT16: return "bfloat16";
    case LUCID_DTYPE_UNDEFINED: break;
    }
    return "undefined";
}

size_t lucid_dtype_size(lucid_dtype dtype)
{
    switch (dtype) {
    case LUCID_DTYPE_BOOL:
    case LUCID_DTYPE_UINT8:
    case LUCID_DTYPE_INT8: return 1;
    case LUCID_DTYPE_UINT16:
    case LUCID_DTYPE_INT16:
    case LUCID_DTYPE_FLOAT16:
    case LUCID_DTYPE_BFLOAT16: return 2;
    case LUCID_DTYPE_INT32:
    case LUCID_DTYPE_UINT32:
    case LUCID_DTYPE_FLOAT: return 4;
    case LUCID_DTYPE_INT64:
    case LUCID_DTYPE_UINT64:
    case LUCID_DTYPE_DOUBLE: return 8;
    case LUCID_DTYPE_STRING:
    case LUCID_DTYPE_UNDEFINED: break;
    }
    return 0;
}
