/* calib_cache.c - the calibration cache file: per-tensor INT8 clipping thresholds as text
 * that people can read and diff, checksummed, read back exactly.
 *
 * Format (version 1), lines ending in "\n" only, printable ASCII only:
 *
 *     lucid-calibration-cache 1 calibrator=<entropy|minmax|percentile> percentile=<p>
 *     source <the calibration data's description>
 *     samples <calibration samples, decimal>
 *     tensors <N, decimal>
 *     <name> <threshold as C99 hex float (%a)> <threshold in decimal>      (N lines)
 *     checksum fnv1a64 <16 lowercase hex digits>
 *
 * The hex float is the value; the decimal is the shortest one that reads back to the same
 * double, for people, and must agree with it. p is written the same shortest way. The checksum
 * is 64-bit FNV-1a (offset basis 0xcbf29ce484222325) of every byte before the checksum line.
 * Names are percent-encoded: every byte that is not printable ASCII (0x21-0x7E), and space and
 * '%', is written %XX with two upper-case hex digits; every other byte as itself. The source
 * line uses the same encoding except that spaces stay spaces. Only this canonical form is read
 * (no %XX for a byte that is written as itself, no lower-case digits, no %00), so one table
 * has one file. Limits: 1,000,000 tensors, names of 4096 bytes, 2^32 samples, 256 MiB files. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/strmap.h"
#include "core/util.h"
#include "quant/quant.h"

#define CACHE_MAGIC "lucid-calibration-cache"
#define CACHE_VERSION 1
#define CACHE_MAX_BYTES ((size_t)256 << 20)
#define CACHE_MAX_TENSORS 1000000
#define CACHE_MAX_NAME 4096
#define CACHE_MAX_SAMPLES ((uint64_t)1 << 32)
#define CACHE_HEADER_LINES 4

/* ---- shared ------------------------------------------------------------------------ */

static bool calibrator_known(lucid_calibrator c)
{
    return c == LUCID_CALIBRATOR_ENTROPY || c == LUCID_CALIBRATOR_MINMAX ||
           c == LUCID_CALIBRATOR_PERCENTILE;
}

/* A byte that the encoding writes as itself. */
static bool plain_byte(unsigned char c, bool keep_space)
{
    return (c > 0x20 && c < 0x7f && c != '%') || (keep_space && c == ' ');
}

/* The shortest %.Ng (N <= 17) that reads back as v. */
static void shortest_decimal(double v, char *buf, size_t len)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* ---- writing ----------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_encode(sbuf *b, const char *s, bool keep_space)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (plain_byte(*c, keep_space)) {
            sb_put(b, (const char *)c, 1);
        } else {
            char esc[4];
            snprintf(esc, sizeof esc, "%%%02X", *c);
            sb_put(b, esc, 3);
        }
    }
}

lucid_status lucid_calib_cache_save(const lucid_calib_table *t, const char *path, lucid_error *err)
{
    if (!t || !path || (t->n && !t->entries))
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "calib_cache_save: NULL argument");
    if (!calibrator_known(t->calibrator))
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "calibration cache '%s': unknown calibrator %d", path,
                            (int)t->calibrator);
    if (!(t->percentile > 0.0 && t->percentile <= 100.0))
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "calibration cache '%s': percentile %g is not in (0, 100]", path,
                            t->percentile);
    if (t->n > CACHE_MAX_TENSORS || (uint64_t)t->samples > CACHE_MAX_SAMPLES)
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                            "calibration cache '%s': %zu tensors and %zu samples exceed what a "
                            "cache holds (%d tensors, %" PRIu64 " samples)",
                            path, t->n, t->samples, CACHE_MAX_TENSORS, CACHE_MAX_SAMPLES);
    lucid_strmap seen;
    lucid_strmap_init(&seen);
    for (size_t i = 0; i < t->n; i++) {
        const lucid_calib_entry *e = &t->entries[i];
        const char *why = NULL;
        if (!e->name || !e->name[0])
            why = "has no name";
        else if (strlen(e->name) > CACHE_MAX_NAME)
            why = "has a name longer than 4096 bytes";
        else if (!isfinite(e->threshold) || signbit(e->threshold))
            why = "has a threshold that is not a finite non-negative number";
        else if (lucid_strmap_get(&seen, e->name) >= 0)
            why = "has the name of an earlier entry";
        else if (!lucid_strmap_put(&seen, e->name, (int)i)) {
            lucid_strmap_free(&seen);
            return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        }
        if (why) {
            lucid_strmap_free(&seen);
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "calibration cache '%s': entry %zu ('%s', threshold %g) %s", path,
                                i, e->name ? e->name : "", e->threshold, why);
        }
    }
    lucid_strmap_free(&seen);

    sbuf b = {0};
    char num[64], line[160];
    shortest_decimal(t->percentile, num, sizeof num);
    snprintf(line, sizeof line, "%s %d calibrator=%s percentile=%s\n", CACHE_MAGIC, CACHE_VERSION,
             lucid_calibrator_name(t->calibrator), num);
    sb_str(&b, line);
    sb_str(&b, "source ");
    sb_encode(&b, t->source, true);
    snprintf(line, sizeof line, "\nsamples %zu\ntensors %zu\n", t->samples, t->n);
    sb_str(&b, line);
    for (size_t i = 0; i < t->n; i++) {
        const lucid_calib_entry *e = &t->entries[i];
        sb_encode(&b, e->name, false);
        shortest_decimal(e->threshold, num, sizeof num);
        snprintf(line, sizeof line, " %a %s\n", e->threshold, num);
        sb_str(&b, line);
    }
    snprintf(line, sizeof line, "checksum fnv1a64 %016" PRIx64 "\n",
             b.oom ? 0 : lucid_hash_fnv1a(b.p, b.len, 0));
    sb_str(&b, line);
    if (b.oom) {
        free(b.p);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY,
                            "calibration cache '%s': out of memory", path);
    }

    /* written beside the file and renamed over it: a reader never sees half a cache, and of
     * two builds writing it at once the last rename wins, with a whole table (two builds
     * calibrating the same model on the same data write the same thresholds) */
    lucid_status st = lucid_file_replace(path, b.p, b.len, "calibration cache", err);
    free(b.p);
    return st;
}

/* ---- reading ----------------------------------------------------------------------- */

typedef struct line_ref {
    const char *p;
    size_t len; /* without the newline */
} line_ref;

static lucid_status cache_error(lucid_error *err, lucid_status status, const char *path,
                                size_t line, const char *fmt, ...) LUCID_PRINTF(5, 6);

static lucid_status cache_error(lucid_error *err, lucid_status status, const char *path,
                                size_t line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line)
        return lucid_errorf(err, status, "calibration cache '%s' line %zu: %s", path, line, msg);
    return lucid_errorf(err, status, "calibration cache '%s': %s", path, msg);
}

/* Reads the whole file (at most CACHE_MAX_BYTES). */
static lucid_status read_file(const char *path, char **data, size_t *size, lucid_error *err)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cache_error(err, LUCID_STATUS_IO_ERROR, path, 0, "cannot open: %s", strerror(errno));
    size_t cap = 0, len = 0;
    char *buf = NULL;
    lucid_status st = LUCID_STATUS_OK;
    for (;;) {
        if (len == cap) {
            if (len > CACHE_MAX_BYTES) break; /* refused below */
            size_t ncap = LUCID_MIN(cap ? cap * 2 : 65536, CACHE_MAX_BYTES + 1);
            char *p = realloc(buf, ncap + 1);
            if (!p) {
                st = cache_error(err, LUCID_STATUS_OUT_OF_MEMORY, path, 0, "out of memory");
                break;
            }
            buf = p;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                st = cache_error(err, LUCID_STATUS_IO_ERROR, path, 0, "cannot read: %s",
                                 strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!st && len > CACHE_MAX_BYTES)
        st = cache_error(err, LUCID_STATUS_LIMIT_EXCEEDED, path, 0,
                         "larger than %zu bytes: not a calibration cache", CACHE_MAX_BYTES);
    if (st) {
        free(buf);
        return st;
    }
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return LUCID_STATUS_OK;
}

/* Decodes a percent-encoded field of n bytes into out (cap bytes, NUL-terminated); NULL on
 * success, otherwise why not. */
static const char *decode_field(const char *s, size_t n, bool keep_space, char *out, size_t cap,
                                char *why, size_t why_len)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        unsigned v = c;
        if (c == '%') {
            if (i + 2 >= n) {
                snprintf(why, why_len, "'%%' at byte %zu is not followed by two hex digits", i);
                return why;
            }
            const char *hex = "0123456789ABCDEF";
            const char *a = memchr(hex, s[i + 1], 16), *b = memchr(hex, s[i + 2], 16);
            if (!s[i + 1] || !s[i + 2] || !a || !b) {
                snprintf(why, why_len,
                         "'%%%c%c' at byte %zu is not an escape (two upper-case hex digits)",
                         s[i + 1], s[i + 2], i);
                return why;
            }
            v = (unsigned)(a - hex) * 16 + (unsigned)(b - hex);
            if (v == 0) {
                snprintf(why, why_len, "'%%00' at byte %zu would put a NUL byte in it", i);
                return why;
            }
            if (plain_byte((unsigned char)v, keep_space)) {
                snprintf(why, why_len,
                         "'%%%c%c' at byte %zu escapes '%c', which is written as itself", s[i + 1],
                         s[i + 2], i, (char)v);
                return why;
            }
            i += 2;
        } else if (!plain_byte(c, keep_space)) {
            snprintf(why, why_len, "byte 0x%02X at byte %zu must be percent-encoded", c, i);
            return why;
        }
        if (o + 1 >= cap) {
            snprintf(why, why_len, "longer than %zu bytes", cap - 1);
            return why;
        }
        out[o++] = (char)v;
    }
    out[o] = '\0';
    return NULL;
}

/* A decimal count of at most 20 digits without sign or leading zeros; false if not. */
static bool parse_count(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0')) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10) return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* A line "<key> <value>": the value, or NULL when the line does not start with the key. */
static const char *keyed(const line_ref *l, const char *key, size_t *vlen)
{
    size_t k = strlen(key);
    if (l->len < k + 1 || memcmp(l->p, key, k) != 0 || l->p[k] != ' ') return NULL;
    *vlen = l->len - k - 1;
    return l->p + k + 1;
}

/* Parses a double spanning exactly n bytes of s (copied so strtod stops there). */
static bool parse_double(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end = NULL;
    errno = 0;
    *out = strtod(buf, &end);
    return end == buf + n;
}

static lucid_status parse_header(const char *path, const line_ref *l, lucid_calib_table *t,
                                 lucid_error *err)
{
    size_t mlen = strlen(CACHE_MAGIC);
    if (l->len < mlen + 1 || memcmp(l->p, CACHE_MAGIC, mlen) != 0 || l->p[mlen] != ' ')
        return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, 1,
                           "not a lucid calibration cache (it does not start with '%s')",
                           CACHE_MAGIC " "
                                       "1");
    const char *v = l->p + mlen + 1, *end = l->p + l->len;
    const char *sp = memchr(v, ' ', (size_t)(end - v));
    size_t vlen = (size_t)((sp ? sp : end) - v);
    uint64_t version = 0;
    if (!parse_count(v, vlen, &version))
        return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, 1,
                           "the format version '%.*s' is not a number", (int)LUCID_MIN(vlen, 40),
                           v);
    if (version != CACHE_VERSION)
        return cache_error(err, LUCID_STATUS_UNSUPPORTED, path, 1,
                           "format version %" PRIu64 "; this lucid reads version %d (calibrate "
                           "again to write a new cache)",
                           version, CACHE_VERSION);
    bool have_cal = false, have_pct = false;
    const char *p = sp;
    while (p && p < end) {
        p++; /* the space */
        const char *q = memchr(p, ' ', (size_t)(end - p));
        size_t n = (size_t)((q ? q : end) - p);
        if (n > 11 && memcmp(p, "calibrator=", 11) == 0 && !have_cal) {
            const char *name = p + 11;
            size_t nl = n - 11;
            lucid_calibrator all[] = {LUCID_CALIBRATOR_ENTROPY, LUCID_CALIBRATOR_MINMAX,
                                      LUCID_CALIBRATOR_PERCENTILE};
            bool found = false;
            for (size_t k = 0; k < LUCID_ARRAY_LEN(all); k++) {
                const char *cn = lucid_calibrator_name(all[k]);
                if (strlen(cn) == nl && memcmp(cn, name, nl) == 0) {
                    t->calibrator = all[k];
                    found = true;
                }
            }
            if (!found)
                return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, 1,
                                   "unknown calibrator '%.*s' (entropy, minmax or percentile)",
                                   (int)LUCID_MIN(nl, 40), name);
            have_cal = true;
        } else if (n > 11 && memcmp(p, "percentile=", 11) == 0 && !have_pct) {
            double pct = 0;
            if (!parse_double(p + 11, n - 11, &pct) || !(pct > 0.0 && pct <= 100.0))
                return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, 1,
                                   "percentile '%.*s' is not a number in (0, 100]",
                                   (int)LUCID_MIN(n - 11, 40), p + 11);
            t->percentile = pct;
            have_pct = true;
        } else {
            return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, 1,
                               "unexpected field '%.*s' (expected calibrator=NAME "
                               "percentile=P, once each)",
                               (int)LUCID_MIN(n, 40), p);
        }
        p = q;
    }
    if (!have_cal || !have_pct)
        return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, 1, "the header lacks %s",
                           have_cal ? "percentile=P" : "calibrator=NAME");
    return LUCID_STATUS_OK;
}

static lucid_status parse_entry(const char *path, size_t lineno, const line_ref *l,
                                lucid_calib_entry *e, char *name_buf, lucid_error *err)
{
    const char *sp1 = memchr(l->p, ' ', l->len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', l->len - (size_t)(sp1 + 1 - l->p)) : NULL;
    const char *sp3 = sp2 ? memchr(sp2 + 1, ' ', l->len - (size_t)(sp2 + 1 - l->p)) : NULL;
    if (!sp1 || !sp2 || sp3 || sp1 == l->p || sp2 == sp1 + 1 || sp2 + 1 == l->p + l->len) {
        size_t fields = 0;
        for (size_t i = 0; i < l->len;) {
            while (i < l->len && l->p[i] == ' ')
                i++;
            if (i < l->len) fields++;
            while (i < l->len && l->p[i] != ' ')
                i++;
        }
        return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, lineno,
                           "expected '<name> <hex threshold> <decimal threshold>' separated by "
                           "single spaces, found %zu fields (a space in a name is written %%20)",
                           fields);
    }
    char why[200];
    if (decode_field(l->p, (size_t)(sp1 - l->p), false, name_buf, CACHE_MAX_NAME + 1, why,
                     sizeof why))
        return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, lineno,
                           "the tensor name '%.*s' is not canonically percent-encoded: %s",
                           (int)LUCID_MIN((size_t)(sp1 - l->p), 80), l->p, why);
    const char *hex = sp1 + 1, *dec = sp2 + 1;
    size_t hex_len = (size_t)(sp2 - hex), dec_len = (size_t)(l->p + l->len - dec);
    double h = 0, d = 0;
    bool is_hex = hex_len > 2 && (memcmp(hex, "0x", 2) == 0 || memcmp(hex, "-0x", 3) == 0);
    if (!is_hex || !parse_double(hex, hex_len, &h)) {
        /* tell non-finite words apart from garbage */
        if (parse_double(hex, hex_len, &h) && !isfinite(h))
            return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, lineno,
                               "tensor '%s': the threshold '%.*s' is not finite", name_buf,
                               (int)LUCID_MIN(hex_len, 40), hex);
        return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, lineno,
                           "tensor '%s': '%.*s' is not a hexadecimal float (as %%a writes it)",
                           name_buf, (int)LUCID_MIN(hex_len, 40), hex);
    }
    if (!isfinite(h))
        return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, lineno,
                           "tensor '%s': the threshold '%.*s' is not finite", name_buf,
                           (int)LUCID_MIN(hex_len, 40), hex);
    if (signbit(h))
        return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, lineno,
                           "tensor '%s': the threshold %g is negative", name_buf, h);
    if (!parse_double(dec, dec_len, &d) || d != h)
        return cache_error(err, LUCID_STATUS_INVALID_MODEL, path, lineno,
                           "tensor '%s': the decimal threshold '%.*s' does not equal the "
                           "hexadecimal one (%a = %.17g)",
                           name_buf, (int)LUCID_MIN(dec_len, 40), dec, h, h);
    if (!(e->name = lucid_strdup(name_buf)))
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    e->threshold = h;
    return LUCID_STATUS_OK;
}

lucid_status lucid_calib_cache_load(const char *path, lucid_calib_table **out, lucid_error *err)
{
    if (!path || !out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "calib_cache_load: NULL argument");
    *out = NULL;
    char *data = NULL, *name_buf = NULL;
    size_t size = 0;
    line_ref *lines = NULL;
    lucid_calib_table *t = NULL;
    lucid_strmap names;
    lucid_strmap_init(&names);
    lucid_status st = read_file(path, &data, &size, err);
    if (st) return st;

    /* lines, checked for bytes outside printable ASCII */
    size_t n_lines = 0;
    for (size_t i = 0; i < size; i++)
        n_lines += data[i] == '\n';
    if (!(lines = calloc(n_lines + 2, sizeof *lines)) || !(name_buf = malloc(CACHE_MAX_NAME + 1))) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    size_t n = 0;
    for (size_t start = 0; start < size; n++) {
        const char *nl = memchr(data + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - data) : size;
        lines[n].p = data + start;
        lines[n].len = end - start;
        start = end + 1;
    }
    if (size == 0) {
        st = cache_error(err, LUCID_STATUS_INVALID_MODEL, path, 0,
                         "is empty (truncated, or not a calibration cache)");
        goto fail;
    }
    t = calloc(1, sizeof *t);
    if (!t) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    /* the header first: a foreign or newer file is named as such, whatever follows */
    size_t mlen = strlen(CACHE_MAGIC);
    bool ours = lines[0].len > mlen && memcmp(lines[0].p, CACHE_MAGIC, mlen) == 0 &&
                lines[0].p[mlen] == ' ';
    for (size_t i = ours ? 0 : 1; i < n; i++) {
        if (i == 1) {
            st = parse_header(path, &lines[0], t, err);
            if (st) goto fail;
        }
        for (size_t k = 0; k < lines[i].len; k++) {
            unsigned char c = (unsigned char)lines[i].p[k];
            if (c < 0x20 || c > 0x7e) {
                st = cache_error(err, LUCID_STATUS_INVALID_MODEL, path, i + 1,
                                 "byte 0x%02X at column %zu is not printable ASCII (names and "
                                 "text are percent-encoded; lines end in \\n alone)",
                                 c, k + 1);
                goto fail;
            }
        }
    }
    if (n == 1) {
        st = parse_header(path, &lines[0], t, err);
        if (st) goto fail;
    }
    if (data[size - 1] != '\n') {
        st = cache_error(err, LUCID_STATUS_INVALID_MODEL, path, n,
                         "truncated: the file ends inside a line, without the checksum line");
        goto fail;
    }
    size_t vlen = 0;
    const char *v = keyed(&lines[n - 1], "checksum", &vlen);
    if (!v || n < CACHE_HEADER_LINES + 1) {
        st = cache_error(err, LUCID_STATUS_INVALID_MODEL, path, n,
                         "truncated: the file does not end with its checksum line");
        goto fail;
    }
    {
        uint64_t want = lucid_hash_fnv1a(data, (size_t)(lines[n - 1].p - data), 0);
        char expect[40];
        snprintf(expect, sizeof expect, "fnv1a64 %016" PRIx64, want);
        if (vlen != strlen(expect) || memcmp(v, expect, vlen) != 0) {
            st = cache_error(err, LUCID_STATUS_INVALID_MODEL, path, n,
                             "checksum '%.*s' does not match the content (%s): the file was "
                             "changed or damaged",
                             (int)LUCID_MIN(vlen, 60), v, expect);
            goto fail;
        }
    }
    v = keyed(&lines[1], "source", &vlen);
    if (!v) {
        st = cache_error(err, LUCID_STATUS_INVALID_MODEL, path, 2, "expected 'source <text>'");
        goto fail;
    }
    char why[200];
    if (decode_field(v, vlen, true, t->source, sizeof t->source, why, sizeof why)) {
        st = cache_error(err, LUCID_STATUS_INVALID_MODEL, path, 2, "the source text: %s", why);
        goto fail;
    }
    uint64_t samples = 0, tensors = 0;
    v = keyed(&lines[2], "samples", &vlen);
    if (!v || !parse_count(v, vlen, &samples) || samples > CACHE_MAX_SAMPLES) {
        st = cache_error(err, LUCID_STATUS_INVALID_MODEL, path, 3,
                         "expected 'samples N' with N a count up to %" PRIu64 ", found '%.*s'",
                         CACHE_MAX_SAMPLES, (int)LUCID_MIN(lines[2].len, 60), lines[2].p);
        goto fail;
    }
    v = keyed(&lines[3], "tensors", &vlen);
    if (!v || !parse_count(v, vlen, &tensors) || tensors > CACHE_MAX_TENSORS) {
        st = cache_error(err, LUCID_STATUS_INVALID_MODEL, path, 4,
                         "expected 'tensors N' with N a count up to %d, found '%.*s'",
                         CACHE_MAX_TENSORS, (int)LUCID_MIN(lines[3].len, 60), lines[3].p);
        goto fail;
    }
    size_t found = n - CACHE_HEADER_LINES - 1;
    if (found != tensors) {
        st = cache_error(err, LUCID_STATUS_INVALID_MODEL, path, found < tensors ? n : 4,
                         "%" PRIu64 " tensors are declared but %zu tensor lines follow", tensors,
                         found);
        goto fail;
    }
    t->samples = (size_t)samples;
    if (tensors && !(t->entries = calloc((size_t)tensors, sizeof *t->entries))) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < (size_t)tensors; i++) {
        size_t ln = CACHE_HEADER_LINES + i;
        st = parse_entry(path, ln + 1, &lines[ln], &t->entries[i], name_buf, err);
        if (st) goto fail;
        t->n = i + 1;
        int prev = lucid_strmap_get(&names, t->entries[i].name);
        if (prev >= 0) {
            st = cache_error(err, LUCID_STATUS_INVALID_MODEL, path, ln + 1,
                             "tensor '%s' is listed twice (first on line %d)", t->entries[i].name,
                             prev + CACHE_HEADER_LINES + 1);
            goto fail;
        }
        if (!lucid_strmap_put(&names, t->entries[i].name, (int)i)) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            goto fail;
        }
    }
    *out = t;
    t = NULL;
    st = LUCID_STATUS_OK;
fail:
    lucid_strmap_free(&names);
    lucid_calib_table_destroy(t);
    free(lines);
    free(name_buf);
    free(data);
    return st;
}
