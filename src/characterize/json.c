/* json.c - the study's text output (a growing buffer with JSON and CSV quoting, atomic file
 * writes) and a small JSON reader for the peer drivers' documents. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "characterize/characterize.h"
#include "core/error.h"

static bool reserve(ch_buf *b, size_t extra)
{
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void ch_buf_free(ch_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void ch_puts(ch_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (!reserve(b, n)) return;
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
}

void ch_printf(ch_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        ch_puts(b, small);
        return;
    }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ch_json_str(ch_buf *b, const char *s)
{
    if (!s) {
        ch_puts(b, "null");
        return;
    }
    ch_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            ch_puts(b, "\\\"");
            break;
        case '\\':
            ch_puts(b, "\\\\");
            break;
        case '\n':
            ch_puts(b, "\\n");
            break;
        case '\r':
            ch_puts(b, "\\r");
            break;
        case '\t':
            ch_puts(b, "\\t");
            break;
        case '<':
            ch_puts(b, "\\u003c");
            break; /* safe inside an HTML <script> block */
        default:
            if (*p < 0x20) {
                ch_printf(b, "\\u%04x", *p);
            } else {
                char c[2] = {(char)*p, 0};
                ch_puts(b, c);
            }
        }
    }
    ch_puts(b, "\"");
}

void ch_json_num(ch_buf *b, double v)
{
    if (!isfinite(v))
        ch_puts(b, "null");
    else if (v == floor(v) && fabs(v) < 1e15)
        ch_printf(b, "%.0f", v);
    else
        ch_printf(b, "%.9g", v);
}

void ch_csv_str(ch_buf *b, const char *s)
{
    if (!s) return;
    if (!strpbrk(s, ",\"\n\r")) {
        ch_puts(b, s);
        return;
    }
    ch_puts(b, "\"");
    for (const char *p = s; *p; p++) {
        char c[3] = {*p, 0, 0};
        if (*p == '"') c[1] = '"';
        ch_puts(b, c);
    }
    ch_puts(b, "\"");
}

lucid_status ch_buf_write(const ch_buf *b, const char *path, lucid_error *err)
{
    if (b->oom) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "%s: out of memory", path);
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot be written: %s", tmp,
                            strerror(errno));
    size_t n = b->len ? fwrite(b->data, 1, b->len, f) : 0;
    int bad = n != b->len;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot be written", path);
    }
    return LUCID_STATUS_OK;
}

/* ---- reader: recursive descent over a NUL-terminated text, depth-limited ---- */

typedef struct reader {
    const char *p;
    int depth;
} reader;

static void skip_ws(reader *r)
{
    while (*r->p && isspace((unsigned char)*r->p))
        r->p++;
}

static char *parse_string(reader *r)
{
    if (*r->p != '"') return NULL;
    r->p++;
    ch_buf b = {0};
    ch_puts(&b, "");
    while (*r->p && *r->p != '"') {
        char c = *r->p++;
        if (c == '\\') {
            char e = *r->p++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case 'r':
                c = '\r';
                break;
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'u': {
                unsigned v = 0;
                for (int k = 0; k < 4; k++) {
                    char h = *r->p;
                    if (!isxdigit((unsigned char)h)) goto bad;
                    v = v * 16 +
                        (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
                    r->p++;
                }
                /* enough for what the drivers print: ASCII kept, the rest as '?' */
                c = v < 0x80 ? (char)v : '?';
                break;
            }
            case '\0':
                goto bad;
            default:
                c = e;
            }
        }
        char s[2] = {c, 0};
        ch_puts(&b, s);
    }
    if (*r->p != '"' || b.oom) goto bad;
    r->p++;
    return b.data;
bad:
    ch_buf_free(&b);
    return NULL;
}

static ch_json *parse_value(reader *r);

static ch_json *parse_container(reader *r, ch_json *j, char close)
{
    r->p++;
    skip_ws(r);
    ch_json **tail = &j->child;
    if (*r->p == close) {
        r->p++;
        return j;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(r);
        if (close == '}') {
            key = parse_string(r);
            if (!key) goto bad;
            skip_ws(r);
            if (*r->p != ':') {
                free(key);
                goto bad;
            }
            r->p++;
        }
        ch_json *v = parse_value(r);
        if (!v) {
            free(key);
            goto bad;
        }
        v->key = key;
        *tail = v;
        tail = &v->next;
        skip_ws(r);
        if (*r->p == ',') {
            r->p++;
            continue;
        }
        if (*r->p == close) {
            r->p++;
            return j;
        }
        goto bad;
    }
bad:
    ch_json_free(j);
    return NULL;
}

static ch_json *parse_value(reader *r)
{
    skip_ws(r);
    if (r->depth > 64) return NULL;
    ch_json *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    const char *p = r->p;
    if (*p == '{' || *p == '[') {
        j->type = *p == '{' ? CH_JOBJ : CH_JARR;
        r->depth++;
        j = parse_container(r, j, *p == '{' ? '}' : ']');
        r->depth--;
        return j;
    }
    if (*p == '"') {
        j->type = CH_JSTR;
        if (!(j->str = parse_string(r))) goto bad;
        return j;
    }
    if (strncmp(p, "true", 4) == 0 || strncmp(p, "false", 5) == 0) {
        j->type = CH_JBOOL;
        j->num = *p == 't';
        r->p += *p == 't' ? 4 : 5;
        return j;
    }
    if (strncmp(p, "null", 4) == 0) {
        r->p += 4;
        return j;
    }
    /* numbers; Python's json also writes NaN and Infinity, read as NaN / inf */
    if (strncmp(p, "NaN", 3) == 0) {
        j->type = CH_JNUM;
        j->num = NAN;
        r->p += 3;
        return j;
    }
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (end == p) goto bad;
    j->type = CH_JNUM;
    j->num = v;
    r->p = end;
    return j;
bad:
    free(j);
    return NULL;
}

ch_json *ch_json_parse(const char *text)
{
    if (!text) return NULL;
    reader r = {text, 0};
    ch_json *j = parse_value(&r);
    if (!j) return NULL;
    skip_ws(&r);
    if (*r.p) {
        ch_json_free(j);
        return NULL;
    }
    return j;
}

void ch_json_free(ch_json *j)
{
    while (j) {
        ch_json *next = j->next;
        ch_json_free(j->child);
        free(j->str);
        free(j->key);
        free(j);
        j = next;
    }
}

const ch_json *ch_json_get(const ch_json *j, const char *key)
{
    if (!j || j->type != CH_JOBJ) return NULL;
    for (const ch_json *m = j->child; m; m = m->next)
        if (m->key && strcmp(m->key, key) == 0) return m;
    return NULL;
}

double ch_json_number(const ch_json *j, const char *key, double fallback)
{
    const ch_json *m = ch_json_get(j, key);
    return m && (m->type == CH_JNUM || m->type == CH_JBOOL) ? m->num : fallback;
}

const char *ch_json_string(const ch_json *j, const char *key)
{
    const ch_json *m = ch_json_get(j, key);
    return m && m->type == CH_JSTR ? m->str : NULL;
}
