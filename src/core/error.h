/* error.h - formatting error messages into lucid_error and status helpers. */
#ifndef LUCID_CORE_ERROR_H
#define LUCID_CORE_ERROR_H

#include "lucid.h"

#if defined(__GNUC__)
#define LUCID_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LUCID_PRINTF(a, b)
#endif

/* Writes a formatted message into err (which may be NULL) and returns status. */
lucid_status lucid_errorf(lucid_error *err, lucid_status status, const char *fmt, ...)
    LUCID_PRINTF(3, 4);

/* Prefixes the message already in err with a formatted context ("model.onnx: "). */
void lucid_error_prefix(lucid_error *err, const char *fmt, ...) LUCID_PRINTF(2, 3);

/* Clears err to OK and an empty message. */
void lucid_error_clear(lucid_error *err);

#endif
