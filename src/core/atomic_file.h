/* atomic_file.h - replacing a file whole (written beside it, then renamed over it), and the
 * lock file that serializes read-merge-write updates of a shared cache across processes. */
#ifndef LUCID_CORE_ATOMIC_FILE_H
#define LUCID_CORE_ATOMIC_FILE_H

#include <stddef.h>

#include "lucid.h"

/* Writes data to a new file in path's folder under a name no other writer uses
 * ("<path>.tmp.<pid>.<n>", created exclusively), flushes it to the disk (fsync), and renames
 * it over path: a reader opening path sees the old file or the new one, never part of one,
 * and of two writers the last rename wins with its file whole. The new file gets the mode a
 * plain fopen would give (0666 less the umask). On failure the temporary file is removed and
 * path is left as it was. `what` names the file in messages ("timing cache"). The folder
 * itself is not fsynced: after a crash the rename may be lost, never the file half-written. */
lucid_status lucid_file_replace(const char *path, const void *data, size_t len, const char *what,
                                lucid_error *err);

/* Takes an exclusive advisory lock (flock) on "<path>.lock", created if missing, waiting for
 * whoever holds it; *fd gets the lock's descriptor, for lucid_file_unlock. flock locks belong
 * to an open file description, so threads of one process that each call this exclude each
 * other as processes do. The lock file is left in place: removing it would let a process that
 * opened it before the removal and one that creates a new one both hold "the" lock. */
lucid_status lucid_file_lock(const char *path, int *fd, const char *what, lucid_error *err);
/* Releases and closes a lock from lucid_file_lock; a negative fd is ignored. */
void lucid_file_unlock(int fd);

#endif
