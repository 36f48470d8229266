/* atomic_file.c - whole-file replacement through a uniquely named temporary file and
 * rename(2), and flock(2) lock files for read-merge-write updates. */
#include "core/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

/* Enough tries to get past any leftover files of crashed writers with colliding names. */
#define TEMP_TRIES 100

/* Writes all of data to fd; false with errno set on failure. */
static bool write_all(int fd, const unsigned char *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        len -= (size_t)w;
    }
    return true;
}

lucid_status lucid_file_replace(const char *path, const void *data, size_t len, const char *what,
                                lucid_error *err)
{
    if (!path || (len && !data) || !what)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "file_replace: NULL argument");
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 48);
    if (!tmp) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    lucid_status st = LUCID_STATUS_OK;
    int fd = -1;
    bool created = false; /* tmp exists and is ours to remove on failure */
    /* The suffix needs only to differ between writers at one moment: the process id tells
     * processes apart, and a stack address and the clock tell this process's threads apart.
     * O_EXCL makes any collision (or a crashed writer's leftover) a retry, not a shared file. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t salt = (uint64_t)(uintptr_t)&ts ^ ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec;
    for (int attempt = 0; attempt < TEMP_TRIES && fd < 0; attempt++) {
        salt = salt * 6364136223846793005ull + 1442695040888963407ull;
        snprintf(tmp, plen + 48, "%s.tmp.%ld.%08x", path, (long)getpid(),
                 (unsigned)(salt >> 32));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot write the %s: cannot create a file beside it: %s",
                          path, what, strerror(errno));
        goto fail;
    }
    created = true;
    /* fsync before the rename: otherwise a crash soon after could leave the new name on an
     * empty or partial file on file systems that do not order the two */
    if (!write_all(fd, data, len) || fsync(fd) != 0) {
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot write the %s into '%s': %s", path,
                          what, tmp, strerror(errno));
        goto fail;
    }
    int closed = close(fd);
    fd = -1;
    if (closed != 0) {
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot write the %s into '%s': %s", path,
                          what, tmp, strerror(errno));
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot replace the %s with '%s': %s",
                          path, what, tmp, strerror(errno));
        goto fail;
    }
    free(tmp);
    return LUCID_STATUS_OK;
fail:
    if (fd >= 0) close(fd);
    if (created) unlink(tmp);
    free(tmp);
    return st;
}

lucid_status lucid_file_lock(const char *path, int *fd, const char *what, lucid_error *err)
{
    if (!path || !fd || !what)
        return lucid_errorf(err, LUCID_STATUS_INVALID_ARGUMENT, "file_lock: NULL argument");
    *fd = -1;
    size_t plen = strlen(path);
    char *lock = malloc(plen + 6);
    if (!lock) return lucid_errorf(err, LUCID_STATUS_OUT_OF_MEMORY, "out of memory");
    memcpy(lock, path, plen);
    memcpy(lock + plen, ".lock", 6);
    lucid_status st = LUCID_STATUS_OK;
    int f = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (f < 0) {
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot open the %s's lock file '%s': %s",
                          path, what, lock, strerror(errno));
        goto fail;
    }
    int r;
    while ((r = flock(f, LOCK_EX)) != 0 && errno == EINTR) {
    }
    if (r != 0) {
        st = lucid_errorf(err, LUCID_STATUS_IO_ERROR, "%s: cannot lock the %s ('%s'): %s", path,
                          what, lock, strerror(errno));
        close(f);
        goto fail;
    }
    *fd = f;
fail:
    free(lock);
    return st;
}

void lucid_file_unlock(int fd)
{
    if (fd < 0) return;
    flock(fd, LOCK_UN);
    close(fd);
}
