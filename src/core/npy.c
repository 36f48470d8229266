/* npy.c - strict, bounded reading and writing of NumPy .npy files (format 1.0 to 3.0). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/util.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c copies little-endian file data straight into memory"
#endif

/* NumPy itself refuses headers above 10000 bytes unless told otherwise; we allow more, but
 * keep a bound so a hostile length field cannot make us allocate gigabytes. */
#define NPY_MAX_HEADER (1u << 20)
#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6

typedef struct npy_type {
    char kind; /* NumPy kind character: b, i, u, f */
    int size;
    lucid_dtype dtype;
} npy_type;

static const npy_type npy_types[] = {
    {'b', 1, LUCID_DTYPE_BOOL},    {'i', 1, LUCID_DTYPE_INT8},    {'i', 2, LUCID_DTYPE_INT16},
    {'i', 4, LUCID_DTYPE_INT32},   {'i', 8, LUCID_DTYPE_INT64},   {'u', 1, LUCID_DTYPE_UINT8},
    {'u', 2, LUCID_DTYPE_UINT16},  {'u', 4, LUCID_DTYPE_UINT32},  {'u', 8, LUCID_DTYPE_UINT64},
    {'f', 2, LUCID_DTYPE_FLOAT16}, {'f', 4, LUCID_DTYPE_FLOAT},   {'f', 8, LUCID_DTYPE_DOUBLE},
};

/* ---- header parsing: a tiny, strict reader for the Python dict literal NumPy writes ---- */

typedef struct npy_parser {
    const char *s;
    size_t pos, len;
    const char *path;
    lucid_error *err;
} npy_parser;

static void skip_space(npy_parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static lucid_status bad_header(npy_parser *p, const char *what)
{
    return lucid_errorf(p->err, LUCID_STATUS_INVALID_MODEL,
                        "%s: malformed .npy header: %s (at byte %zu of the header)", p->path, what,
                        p->pos);
}

static bool accept(npy_parser *p, char c)
{
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == c) {
        p->pos++;
        return true;
    }
    return false;
}

/* A quoted string without escapes (NumPy never writes escapes in keys or descrs). */
static lucid_status parse_string(npy_parser *p, char *out, size_t cap)
{
    skip_space(p);
    if (p->pos >= p->len || (p->s[p->pos] != '\'' && p->s[p->pos] != '"'))
        return bad_header(p, "expected a quoted string");
    char quote = p->s[p->pos++];
    size_t n = 0;
    while (p->pos < p->len && p->s[p->pos] != quote) {
        if (p->s[p->pos] == '\\') return bad_header(p, "escapes in strings are not supported");
        if (n + 1 >= cap) return bad_header(p, "string too long");
        out[n++] = p->s[p->pos++];
    }
    if (p->pos >= p->len) return bad_header(p, "unterminated string");
    p->pos++;
    out[n] = '\0';
    return LUCID_STATUS_OK;
}

static lucid_status parse_bool(npy_parser *p, bool *out)
{
    skip_space(p);
    if (p->len - p->pos >= 4 && memcmp(p->s + p->pos, "True", 4) == 0) {
        p->pos += 4;
        *out = true;
    } else if (p->len - p->pos >= 5 && memcmp(p->s + p->pos, "False", 5) == 0) {
        p->pos += 5;
        *out = false;
    } else {
        return bad_header(p, "fortran_order must be True or False");
    }
    return LUCID_STATUS_OK;
}

static lucid_status parse_shape(npy_parser *p, int *rank, int64_t *dims)
{
    if (!accept(p, '(')) return bad_header(p, "shape must be a tuple");
    int r = 0;
    for (;;) {
        skip_space(p);
        if (accept(p, ')')) break;
        if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
            return bad_header(p, "shape entries must be non-negative integers");
        int64_t v = 0;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            v = v * 10 + (p->s[p->pos++] - '0');
            if (v > LUCID_MAX_ELEMENTS)
                return lucid_errorf(p->err, LUCID_STATUS_LIMIT_EXCEEDED,
                                    "%s: a dimension of the shape exceeds lucid's limit of %lld "
                                    "elements",
                                    p->path, (long long)LUCID_MAX_ELEMENTS);
        }
        if (p->pos < p->len && p->s[p->pos] == 'L') p->pos++; /* Python 2 long literal */
        if (r == LUCID_MAX_RANK)
            return lucid_errorf(p->err, LUCID_STATUS_LIMIT_EXCEEDED,
                                "%s: the array has more than %d dimensions, lucid's limit",
                                p->path, LUCID_MAX_RANK);
        dims[r++] = v;
        if (accept(p, ',')) continue;
        if (accept(p, ')')) break;
        return bad_header(p, "expected ',' or ')' in the shape");
    }
    *rank = r;
    return LUCID_STATUS_OK;
}

static lucid_status parse_descr(npy_parser *p, const char *descr, lucid_dtype *out)
{
    size_t n = strlen(descr);
    const npy_type *found = NULL;
    if (n >= 3 && (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '=')) {
        char *end = NULL;
        long size = strtol(descr + 2, &end, 10);
        if (end && *end == '\0' && descr[2] >= '0' && descr[2] <= '9') {
            for (size_t i = 0; i < LUCID_ARRAY_LEN(npy_types); i++)
                if (npy_types[i].kind == descr[1] && npy_types[i].size == size)
                    found = &npy_types[i];
        }
    }
    if (!found)
        return lucid_errorf(p->err, LUCID_STATUS_UNSUPPORTED,
                            "%s: unsupported .npy dtype '%s' (lucid reads b1, i1, i2, i4, i8, u1, "
                            "u2, u4, u8, f2, f4, f8)",
                            p->path, descr);
    /* byte order only matters for multi-byte types */
    if (found->size > 1 && descr[0] == '>')
        return lucid_errorf(p->err, LUCID_STATUS_UNSUPPORTED,
                            "%s: big-endian data ('%s') is not supported; save it little-endian "
                            "(numpy: a.astype(a.dtype.newbyteorder('<')))",
                            p->path, descr);
    if (found->size > 1 && descr[0] != '<')
        return lucid_errorf(p->err, LUCID_STATUS_UNSUPPORTED,
                            "%s: dtype '%s' has no explicit byte order; lucid needs '<'", p->path,
                            descr);
    *out = found->dtype;
    return LUCID_STATUS_OK;
}

/* Parses "{'descr': ..., 'fortran_order': ..., 'shape': (...), }" plus padding. */
static lucid_status parse_header(npy_parser *p, lucid_array *a)
{
    bool have_descr = false, have_order = false, have_shape = false, fortran = false;
    char descr[32];
    lucid_status st;
    if (!accept(p, '{')) return bad_header(p, "expected '{'");
    for (;;) {
        if (accept(p, '}')) break;
        char key[32];
        if ((st = parse_string(p, key, sizeof key))) return st;
        if (!accept(p, ':')) return bad_header(p, "expected ':' after a key");
        bool *have;
        if (strcmp(key, "descr") == 0)
            have = &have_descr;
        else if (strcmp(key, "fortran_order") == 0)
            have = &have_order;
        else if (strcmp(key, "shape") == 0)
            have = &have_shape;
        else
            return bad_header(p, "unknown key (only 'descr', 'fortran_order' and 'shape' are "
                                 "allowed)");
        if (*have) return bad_header(p, "duplicate key");
        if (have == &have_descr)
            st = parse_string(p, descr, sizeof descr);
        else if (have == &have_order)
            st = parse_bool(p, &fortran);
        else
            st = parse_shape(p, &a->rank, a->dims);
        if (st) return st;
        *have = true;
        if (accept(p, ',')) continue;
        if (accept(p, '}')) break;
        return bad_header(p, "expected ',' or '}'");
    }
    skip_space(p);
    if (p->pos != p->len) return bad_header(p, "unexpected text after the dict");
    if (!have_descr || !have_order || !have_shape)
        return bad_header(p, "the dict needs 'descr', 'fortran_order' and 'shape'");
    if ((st = parse_descr(p, descr, &a->dtype))) return st;
    if (fortran)
        return lucid_errorf(p->err, LUCID_STATUS_UNSUPPORTED,
                            "%s: Fortran-order (column-major) arrays are not supported; save it "
                            "in C order (numpy: np.ascontiguousarray)",
                            p->path);
    return LUCID_STATUS_OK;
}

/* ---- loading ------------------------------------------------------------------------ */

static uint32_t read_le(const unsigned char *b, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static lucid_status read_exact(FILE *f, void *buf, size_t n, const char *path, const char *what,
                               lucid_error *err)
{
    if (fread(buf, 1, n, f) != n) {
        if (ferror(f))
            return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: read error: %s", path,
                                strerror(errno));
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "%s: file ends inside the %s", path,
                            what);
    }
    return LUCID_STATUS_OK;
}

lucid_status lucid_array_load_npy(const char *path, lucid_array *out, lucid_error *err)
{
    if (!path || !out)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "load_npy: NULL argument");
    lucid_status st = LUCID_STATUS_OK;
    lucid_array a;
    memset(&a, 0, sizeof a);
    char *header = NULL;
    FILE *f = NULL;

    /* O_NONBLOCK so that a FIFO given by mistake cannot block the open; it is refused below */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot open: %s", path,
                            strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: not a regular file", path);
    }
    f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot open: %s", path,
                            strerror(errno));
    }
    uint64_t file_size = (uint64_t)sb.st_size;

    unsigned char pre[12];
    if ((st = read_exact(f, pre, 8, path, "magic string and version", err))) goto fail;
    if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                          "%s: not a .npy file (the magic string \\x93NUMPY is missing)", path);
        goto fail;
    }
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0) {
        st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                          "%s: unsupported .npy format version %d.%d (lucid reads 1.0, 2.0, 3.0)",
                          path, major, minor);
        goto fail;
    }
    int len_bytes = major == 1 ? 2 : 4;
    if ((st = read_exact(f, pre + 8, (size_t)len_bytes, path, "header length", err))) goto fail;
    uint64_t header_len = read_le(pre + 8, len_bytes);
    uint64_t preamble = 8 + (uint64_t)len_bytes;
    if (file_size < preamble || header_len > file_size - preamble) {
        st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                          "%s: the header length %llu goes past the end of the %llu-byte file",
                          path, (unsigned long long)header_len, (unsigned long long)file_size);
        goto fail;
    }
    if (header_len > NPY_MAX_HEADER) {
        st = lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                          "%s: the header is %llu bytes, more than lucid's limit of %u", path,
                          (unsigned long long)header_len, NPY_MAX_HEADER);
        goto fail;
    }
    header = malloc((size_t)header_len + 1);
    if (!header) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "%s: out of memory", path);
        goto fail;
    }
    if ((st = read_exact(f, header, (size_t)header_len, path, "header", err))) goto fail;
    header[header_len] = '\0';
    if (memchr(header, '\0', (size_t)header_len)) {
        npy_parser q = {header, 0, (size_t)header_len, path, err};
        q.pos = (size_t)((char *)memchr(header, '\0', (size_t)header_len) - header);
        st = bad_header(&q, "NUL byte in the header");
        goto fail;
    }
    npy_parser p = {header, 0, (size_t)header_len, path, err};
    if ((st = parse_header(&p, &a))) goto fail;

    int64_t numel = lucid_shape_numel(a.rank, a.dims);
    if (numel < 0) {
        char s[200];
        st = lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                          "%s: shape %s has more than %lld elements, lucid's limit", path,
                          lucid_shape_str(a.rank, a.dims, s, sizeof s),
                          (long long)LUCID_MAX_ELEMENTS);
        goto fail;
    }
    size_t itemsize = lucid_dtype_size(a.dtype);
    size_t nbytes;
    if (!lucid_mul_size((size_t)numel, itemsize, &nbytes)) {
        st = lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED, "%s: data size overflows", path);
        goto fail;
    }
    uint64_t have = file_size - preamble - header_len;
    if (have != (uint64_t)nbytes) {
        char s[200];
        st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                          "%s: %s %s needs %zu bytes of data, but the file holds %llu (%s)", path,
                          lucid_dtype_name(a.dtype), lucid_shape_str(a.rank, a.dims, s, sizeof s),
                          nbytes, (unsigned long long)have,
                          have < (uint64_t)nbytes ? "truncated" : "trailing bytes");
        goto fail;
    }
    /* never malloc(0): a zero-size array still gets a valid pointer */
    a.data = malloc(nbytes ? nbytes : 1);
    if (!a.data) {
        st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY,
                          "%s: out of memory allocating %zu bytes", path, nbytes);
        goto fail;
    }
    a.nbytes = nbytes;
    if ((st = read_exact(f, a.data, nbytes, path, "data", err))) goto fail;
    if (a.dtype == LUCID_DTYPE_BOOL) {
        const unsigned char *b = a.data;
        for (size_t i = 0; i < nbytes; i++) {
            if (b[i] > 1) {
                st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                  "%s: bool element %zu has the byte value %d, not 0 or 1", path,
                                  i, b[i]);
                goto fail;
            }
        }
    }
    free(header);
    fclose(f);
    *out = a;
    return LUCID_STATUS_OK;
fail:
    free(header);
    free(a.data);
    fclose(f);
    return st;
}

/* ---- saving ------------------------------------------------------------------------- */

static const char *npy_descr(lucid_dtype dtype)
{
    switch (dtype) {
    case LUCID_DTYPE_BOOL: return "|b1";
    case LUCID_DTYPE_INT8: return "|i1";
    case LUCID_DTYPE_UINT8: return "|u1";
    case LUCID_DTYPE_INT16: return "<i2";
    case LUCID_DTYPE_UINT16: return "<u2";
    case LUCID_DTYPE_INT32: return "<i4";
    case LUCID_DTYPE_UINT32: return "<u4";
    case LUCID_DTYPE_INT64: return "<i8";
    case LUCID_DTYPE_UINT64: return "<u8";
    case LUCID_DTYPE_FLOAT16: return "<f2";
    case LUCID_DTYPE_FLOAT: return "<f4";
    case LUCID_DTYPE_DOUBLE: return "<f8";
    default: return NULL;
    }
}

lucid_status lucid_array_save_npy(const char *path, const lucid_array *a, lucid_error *err)
{
    if (!path || !a)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "save_npy: NULL argument");
    const char *descr = npy_descr(a->dtype);
    if (!descr)
        return lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                            "%s: dtype %s cannot be written as .npy", path,
                            lucid_dtype_name(a->dtype));
    if (a->rank < 0 || a->rank > LUCID_MAX_RANK)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "%s: invalid rank %d", path,
                            a->rank);
    int64_t numel = lucid_shape_numel(a->rank, a->dims);
    if (numel < 0)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "%s: the array's shape is invalid or too large", path);
    size_t nbytes = (size_t)numel * lucid_dtype_size(a->dtype);
    if (a->nbytes != nbytes || (nbytes > 0 && !a->data))
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "%s: the array holds %zu bytes, its shape needs %zu", path, a->nbytes,
                            nbytes);

    /* 8 dims of up to 19 digits each fit easily */
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (int i = 0; i < a->rank; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "",
                      (long long)a->dims[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", a->rank == 1 ? "," : "");
    /* magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64, so the
     * data that follows is aligned, as NumPy does it */
    size_t total = 10 + (size_t)n + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t header_len = padded - 10;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)(header_len & 0xff), (unsigned char)(header_len >> 8)};
    char header[600];
    memcpy(header, dict, (size_t)n);
    memset(header + n, ' ', header_len - (size_t)n - 1);
    header[header_len - 1] = '\n';

    FILE *f = fopen(path, "wb");
    if (!f)
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot create: %s", path,
                            strerror(errno));
    bool ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre &&
              fwrite(header, 1, header_len, f) == header_len &&
              (nbytes == 0 || fwrite(a->data, 1, nbytes, f) == nbytes);
    int saved = errno;
    if (fclose(f) != 0) {
        if (ok) saved = errno;
        ok = false;
    }
    if (!ok) {
        remove(path);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: write error: %s", path,
                            strerror(saved));
    }
    return LUCID_STATUS_OK;
}
