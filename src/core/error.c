/* error.c - status names and error message formatting. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *lucid_status_string(lucid_status status)
{
    switch (status) {
    case LUCID_STATUS_OK: return "ok";
    case LUCID_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case LUCID_STATUS_INVALID_MODEL: return "invalid model";
    case LUCID_STATUS_UNSUPPORTED: return "unsupported";
    case LUCID_STATUS_OUT_OF_MEMORY: return "out of memory";
    case LUCID_STATUS_IO_ERROR: return "i/o error";
    case LUCID_STATUS_LIMIT_EXCEEDED: return "limit exceeded";
    case LUCID_STATUS_INTERNAL: return "internal error";
    }
    return "unknown status";
}

lucid_status lucid_errorf(lucid_error *err, lucid_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void lucid_error_prefix(lucid_error *err, const char *fmt, ...)
{
    if (!err) return;
    char prefix[512], old[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    snprintf(err->message, sizeof err->message, "%s%s", prefix, old);
}

void lucid_error_clear(lucid_error *err)
{
    if (!err) return;
    err->status = LUCID_STATUS_OK;
    err->message[0] = '\0';
}
