/* images.c - photo datasets: JPEG (libjpeg-turbo) and PNG (libpng) decoding and ImageNet
 * preprocessing (resize the shorter side with an antialiasing filter, center crop, scale to
 * [0,1], normalize per channel, CHW). */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"
#include "data/dataset.h"

#ifdef LUCID_HAVE_JPEG
#include <jpeglib.h>
#endif
#ifdef LUCID_HAVE_PNG
#include <png.h>
#endif

#define IMG_MAX_SIDE 16384
#define IMG_MAX_PIXELS ((size_t)64 << 20)
#define IMG_MAX_FILES 1000000
#define IMG_MAX_FILE_BYTES ((size_t)256 << 20)

typedef struct image_file {
    char *path;
    int64_t label;
} image_file;

typedef struct images_state {
    image_file *files;
    size_t count;
    int channels, height, width;
    float mean[3], std[3];
    float crop_fraction;
} images_state;

static bool has_image_ext(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return false;
    char ext[8] = {0};
    for (int i = 0; i < 7 && dot[1 + i]; i++) ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    return strcmp(ext, "jpg") == 0 || strcmp(ext, "jpeg") == 0 || strcmp(ext, "png") == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir: files with image extensions, or sub-folders. */
static lucid_status list_entries(const char *dir, bool want_dirs, char ***out, size_t *count,
                                 lucid_error *err)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot open folder", dir);
    char **names = NULL;
    size_t cap = 0;
    struct dirent *e;
    lucid_status st = LUCID_STATUS_OK;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0) continue;
        if (want_dirs ? !S_ISDIR(sb.st_mode) : !(S_ISREG(sb.st_mode) && has_image_ext(e->d_name)))
            continue;
        if (*count >= IMG_MAX_FILES) {
            st = lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED, "%s: more than %d entries", dir,
                              IMG_MAX_FILES);
            break;
        }
        if (*count == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
                break;
            }
            names = nn;
        }
        names[*count] = lucid_strdup(e->d_name);
        if (!names[*count]) {
            st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            break;
        }
        (*count)++;
    }
    closedir(d);
    if (st) {
        for (size_t i = 0; i < *count; i++) free(names[i]);
        free(names);
        *count = 0;
        return st;
    }
    if (*count) qsort(names, *count, sizeof *names, cmp_str);
    *out = names;
    return LUCID_STATUS_OK;
}

/* ---- decoding to 8-bit RGB ---- */

#ifdef LUCID_HAVE_JPEG
/* A progressive JPEG may hold any number of scans, each a pass over the whole image: more than
 * this is refused (libjpeg-turbo's advice against scan-count bombs). */
#define IMG_MAX_SCANS 500

typedef struct jpeg_err {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    const char *what; /* "cannot decode JPEG", "corrupt JPEG data", ... */
} jpeg_err;

static void jpeg_on_error(j_common_ptr c)
{
    jpeg_err *e = (jpeg_err *)c->err;
    (*c->err->format_message)(c, e->message);
    e->what = "cannot decode JPEG";
    longjmp(e->jump, 1);
}

/* libjpeg only warns about truncated or damaged data, padding it with gray, and goes on
 * decoding the whole image: a 241-byte file announcing 66 megapixels then costs 20 s and
 * 700 MB. The first warning stops the decode instead (trace messages, level >= 0, are
 * ignored). */
static void jpeg_on_message(j_common_ptr c, int level)
{
    if (level >= 0) return;
    jpeg_err *e = (jpeg_err *)c->err;
    (*c->err->format_message)(c, e->message);
    e->what = "corrupt JPEG data";
    longjmp(e->jump, 1);
}

static void jpeg_scan_limit(j_common_ptr c)
{
    if (!c->is_decompressor) return;
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->input_scan_number > IMG_MAX_SCANS) {
        jpeg_err *e = (jpeg_err *)c->err;
        snprintf(e->message, sizeof e->message, "more than %d scans", IMG_MAX_SCANS);
        e->what = "refused JPEG";
        longjmp(e->jump, 1);
    }
}

static lucid_status decode_jpeg(const char *path, const uint8_t *buf, size_t len, uint8_t **rgb,
                                int *w, int *h, lucid_error *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err jerr;
    uint8_t *volatile pixels = NULL;
    struct jpeg_progress_mgr progress = {.progress_monitor = jpeg_scan_limit};
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_on_error;
    jerr.pub.emit_message = jpeg_on_message;
    jerr.what = "cannot decode JPEG";
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "%s: %s: %s", path, jerr.what,
                            jerr.message);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    if (cinfo.image_width == 0 || cinfo.image_height == 0 || cinfo.image_width > IMG_MAX_SIDE ||
        cinfo.image_height > IMG_MAX_SIDE ||
        (size_t)cinfo.image_width * cinfo.image_height > IMG_MAX_PIXELS) {
        lucid_status st = lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                                       "%s: image is %ux%u (at most %d per side and %zu pixels)",
                                       path, cinfo.image_width, cinfo.image_height, IMG_MAX_SIDE,
                                       IMG_MAX_PIXELS);
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    /* Photos hold about a byte per 1 to 3 pixels; even a blank image coded baseline holds
     * one per hundred or so. A file with less than a byte per 1024 pixels is truncated or a
     * decompression bomb (a 241-byte progressive file announcing 66 megapixels took 2.3 s and
     * 630 MB to decode and resize): refused before any pixel is decoded. Images up to a
     * megapixel are cheap whatever their size and are not checked. */
    size_t pixels_announced = (size_t)cinfo.image_width * cinfo.image_height;
    if (pixels_announced > ((size_t)1 << 20) && len < pixels_announced / 1024) {
        lucid_status st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                                       "%s: a %zu-byte JPEG cannot hold %ux%u pixels (less than "
                                       "a byte per 1024 pixels): truncated, or a decompression "
                                       "bomb",
                                       path, len, cinfo.image_width, cinfo.image_height);
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * 3;
    pixels = malloc(stride * cinfo.output_height);
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *w = (int)cinfo.output_width;
    *h = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    *rgb = pixels;
    return LUCID_STATUS_OK;
}
#endif

#ifdef LUCID_HAVE_PNG
static lucid_status decode_png(const char *path, const uint8_t *buf, size_t len, uint8_t **rgb,
                               int *w, int *h, lucid_error *err)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, buf, len))
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "%s: cannot decode PNG: %s", path,
                            img.message);
    if (img.width == 0 || img.height == 0 || img.width > IMG_MAX_SIDE ||
        img.height > IMG_MAX_SIDE || (size_t)img.width * img.height > IMG_MAX_PIXELS) {
        png_image_free(&img);
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED,
                            "%s: image is %ux%u (at most %d per side and %zu pixels)", path,
                            img.width, img.height, IMG_MAX_SIDE, IMG_MAX_PIXELS);
    }
    img.format = PNG_FORMAT_RGB;
    uint8_t *pixels = malloc(PNG_IMAGE_SIZE(img));
    if (!pixels) {
        png_image_free(&img);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    if (!png_image_finish_read(&img, NULL, pixels, 0, NULL)) {
        free(pixels);
        return lucid_errorf(err, LUCID_STATUS_INVALID_MODEL, "%s: cannot decode PNG: %s", path,
                            img.message);
    }
    *w = (int)img.width;
    *h = (int)img.height;
    *rgb = pixels;
    return LUCID_STATUS_OK;
}
#endif

static lucid_status decode_file(const char *path, uint8_t **rgb, int *w, int *h,
                                lucid_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot open", path);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || (size_t)sb.st_size > IMG_MAX_FILE_BYTES) {
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_LIMIT_EXCEEDED, "%s: larger than %zu bytes", path,
                            IMG_MAX_FILE_BYTES);
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf || (len && fread(buf, 1, len, f) != len)) {
        free(buf);
        fclose(f);
        return lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: read failed", path);
    }
    fclose(f);
    lucid_status st;
    if (len >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff) {
#ifdef LUCID_HAVE_JPEG
        st = decode_jpeg(path, buf, len, rgb, w, h, err);
#else
        st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                          "%s: a JPEG, but lucid was built without libjpeg (LUCID_JPEG)", path);
#endif
    } else if (len >= 8 && memcmp(buf, "\x89PNG\r\n\x1a\n", 8) == 0) {
#ifdef LUCID_HAVE_PNG
        st = decode_png(path, buf, len, rgb, w, h, err);
#else
        st = lucid_errorf(err, LUCID_STATUS_UNSUPPORTED,
                          "%s: a PNG, but lucid was built without libpng (LUCID_PNG)", path);
#endif
    } else {
        st = lucid_errorf(err, LUCID_STATUS_INVALID_MODEL,
                          "%s: not a JPEG or PNG image (unrecognized signature)", path);
    }
    free(buf);
    return st;
}

/* ---- resampling ---- */

/* Resamples n_in samples (stride in_stride) to n_out with a triangle filter widened by the
 * downscaling factor, which averages away aliasing as photo libraries do when shrinking. */
static void resample_line(const float *in, size_t n_in, size_t in_stride, float *out,
                          size_t n_out, size_t out_stride)
{
    double scale = (double)n_in / (double)n_out;
    double support = scale > 1 ? scale : 1;
    for (size_t o = 0; o < n_out; o++) {
        double center = ((double)o + 0.5) * scale;
        long lo = (long)floor(center - support), hi = (long)ceil(center + support);
        if (lo < 0) lo = 0;
        if (hi > (long)n_in) hi = (long)n_in;
        double acc = 0, wsum = 0;
        for (long j = lo; j < hi; j++) {
            double x = ((double)j + 0.5 - center) / support;
            double wgt = 1 - fabs(x);
            if (wgt <= 0) continue;
            acc += wgt * in[(size_t)j * in_stride];
            wsum += wgt;
        }
        out[o * out_stride] = (float)(wsum > 0 ? acc / wsum : 0);
    }
}

static lucid_status preprocess(const images_state *s, const uint8_t *rgb, int w, int h,
                               float *dst, const char *path, lucid_error *err)
{
    /* resize so that the crop is crop_fraction of the shorter side */
    int crop_short = s->height < s->width ? s->height : s->width;
    double target_short = round((double)crop_short / s->crop_fraction);
    size_t rw, rh;
    if (w <= h) {
        rw = (size_t)target_short;
        rh = (size_t)floor(target_short * h / w);
    } else {
        rh = (size_t)target_short;
        rw = (size_t)floor(target_short * w / h);
    }
    if (rw < (size_t)s->width) rw = (size_t)s->width;
    if (rh < (size_t)s->height) rh = (size_t)s->height;
    size_t wh = (size_t)w * (size_t)h;
    float *plane = malloc(sizeof(float) * wh);
    float *horiz = malloc(sizeof(float) * rw * (size_t)h);
    float *resized = malloc(sizeof(float) * rw * rh * 3);
    if (!plane || !horiz || !resized) {
        free(plane);
        free(horiz);
        free(resized);
        return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    for (int c = 0; c < 3; c++) {
        for (size_t i = 0; i < wh; i++) plane[i] = rgb[i * 3 + (size_t)c];
        for (int y = 0; y < h; y++)
            resample_line(plane + (size_t)y * (size_t)w, (size_t)w, 1, horiz + (size_t)y * rw,
                          rw, 1);
        float *outp = resized + (size_t)c * rw * rh;
        for (size_t x = 0; x < rw; x++) resample_line(horiz + x, (size_t)h, rw, outp + x, rh, rw);
    }
    size_t top = (size_t)lround((double)(rh - (size_t)s->height) / 2.0);
    size_t left = (size_t)lround((double)(rw - (size_t)s->width) / 2.0);
    size_t hw = (size_t)s->height * (size_t)s->width;
    for (int y = 0; y < s->height; y++) {
        for (int x = 0; x < s->width; x++) {
            size_t src = (top + (size_t)y) * rw + left + (size_t)x;
            float r = resized[src] / 255.0f, g = resized[rw * rh + src] / 255.0f,
                  b = resized[2 * rw * rh + src] / 255.0f;
            size_t d = (size_t)y * (size_t)s->width + (size_t)x;
            if (s->channels == 1) {
                float luma = 0.299f * r + 0.587f * g + 0.114f * b; /* ITU-R 601, as PIL's "L" */
                dst[d] = (luma - s->mean[0]) / s->std[0];
            } else {
                dst[d] = (r - s->mean[0]) / s->std[0];
                dst[hw + d] = (g - s->mean[1]) / s->std[1];
                dst[2 * hw + d] = (b - s->mean[2]) / s->std[2];
            }
        }
    }
    free(plane);
    free(horiz);
    free(resized);
    return LUCID_STATUS_OK;
}

static lucid_status images_load(void *state, size_t i, float *dst, int64_t *label,
                                lucid_error *err)
{
    images_state *s = state;
    uint8_t *rgb = NULL;
    int w = 0, h = 0;
    lucid_status st = decode_file(s->files[i].path, &rgb, &w, &h, err);
    if (st) return st;
    st = preprocess(s, rgb, w, h, dst, s->files[i].path, err);
    free(rgb);
    *label = s->files[i].label;
    return st;
}

static void images_destroy(void *state)
{
    images_state *s = state;
    if (!s) return;
    for (size_t i = 0; i < s->count; i++) free(s->files[i].path);
    free(s->files);
    free(s);
}

static const lucid_dataset_vtable images_vtable = {"images", images_load, images_destroy};

static lucid_status add_files(images_state *s, const char *dir, int64_t label, lucid_error *err)
{
    char **names;
    size_t n;
    lucid_status st = list_entries(dir, false, &names, &n, err);
    if (st) return st;
    image_file *nf = n ? realloc(s->files, sizeof *nf * (s->count + n)) : s->files;
    if (n && !nf) st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    if (!st) s->files = nf;
    for (size_t i = 0; i < n; i++) {
        if (!st) {
            size_t len = strlen(dir) + strlen(names[i]) + 2;
            char *p = malloc(len);
            if (!p) {
                st = lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
            } else {
                snprintf(p, len, "%s/%s", dir, names[i]);
                s->files[s->count].path = p;
                s->files[s->count].label = label;
                s->count++;
            }
        }
        free(names[i]);
    }
    free(names);
    return st;
}

lucid_status lucid_dataset_open_images(const char *arg, const lucid_dataset_options *opts,
                                       lucid_dataset_t *ds, lucid_error *err)
{
    if (!*arg)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "images: needs a folder");
    if (opts->channels != 3 && opts->channels != 1)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "images:%s: photos give 1 or 3 channels, the model takes %d", arg,
                            opts->channels);
    images_state *s = calloc(1, sizeof *s);
    if (!s) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    s->channels = opts->channels;
    s->height = opts->height;
    s->width = opts->width;
    s->crop_fraction = opts->crop_fraction > 0 ? opts->crop_fraction : 0.875f;
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
    static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};
    for (int c = 0; c < 3; c++) {
        s->mean[c] = opts->has_norm ? opts->mean[c] : imagenet_mean[c];
        s->std[c] = opts->has_norm ? opts->std[c] : imagenet_std[c];
        if (!(s->std[c] > 0)) {
            images_destroy(s);
            return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                                "normalization std must be positive");
        }
    }
    if (!(s->crop_fraction > 0 && s->crop_fraction <= 1)) {
        images_destroy(s);
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                            "crop fraction must be in (0, 1]");
    }
    lucid_status st = add_files(s, arg, -1, err);
    int classes = 0;
    if (!st && s->count == 0) {
        /* no photos at the top: class sub-folders, labelled by their sorted index */
        char **subdirs;
        size_t n;
        st = list_entries(arg, true, &subdirs, &n, err);
        for (size_t i = 0; i < n; i++) {
            if (!st) {
                char sub[4096];
                snprintf(sub, sizeof sub, "%s/%s", arg, subdirs[i]);
                st = add_files(s, sub, (int64_t)i, err);
            }
            free(subdirs[i]);
        }
        free(subdirs);
        classes = (int)n;
    }
    if (!st && s->count == 0)
        st = lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT,
                          "images:%s: no .jpg, .jpeg or .png files found", arg);
    if (st) {
        images_destroy(s);
        return st;
    }
    ds->vt = &images_vtable;
    ds->state = s;
    ds->count = s->count;
    ds->has_labels = classes > 0;
    ds->num_classes = classes;
    ds->channels = opts->channels;
    ds->height = opts->height;
    ds->width = opts->width;
    snprintf(ds->description, sizeof ds->description,
             "images:%s (%zu photos -> %dx%dx%d, %s)", arg, s->count, opts->channels,
             opts->height, opts->width, classes ? "labelled by class folder" : "unlabelled");
    return LUCID_STATUS_OK;
}
