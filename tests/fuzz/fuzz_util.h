/* fuzz_util.h - what the fuzz targets share: the readers that take a path get the input
 * through a scratch file in a per-process folder. */
#ifndef LUCID_FUZZ_UTIL_H
#define LUCID_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The process's scratch folder, made on first use under $TMPDIR (tmpfs /dev/shm when there)
 * and left for the fuzz script's run folder to clean; NULL if it cannot be made. A per-process
 * folder keeps parallel fuzzers (-jobs) from reading each other's inputs. */
static inline const char *fuzz_scratch_dir(void)
{
    static char dir[256];
    if (dir[0]) return dir;
    const char *base = getenv("LUCID_FUZZ_TMP");
    if (!base || !base[0]) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "%s/lucid-fuzz-%d-XXXXXX", base, (int)getpid());
    if (!mkdtemp(tmpl)) return NULL;
    snprintf(dir, sizeof dir, "%s", tmpl);
    return dir;
}

/* Writes size bytes to <scratch>/<name> and puts its path in path (len bytes); 0 on success.
 * A fuzz target that cannot write its input must stop loudly: silently testing nothing
 * would look like a clean run. */
static inline int fuzz_write(const char *name, const uint8_t *data, size_t size, char *path,
                             size_t len)
{
    const char *dir = fuzz_scratch_dir();
    if (!dir) {
        perror("fuzz: cannot make a scratch folder");
        abort();
    }
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
    return 0;
}

#endif
