/* Whole-file I/O: atomic replacement on write and slurping on read. "-" means stdout/stdin. */
#ifndef NASH_ATOMIC_H
#define NASH_ATOMIC_H

#include <stddef.h>

#include "base/err.h"

/* Writes buf to path via a temporary "PATH.XXXXXX.tmp" in the same directory, fsync and
   rename, so readers see either the old file or the complete new one; on failure the temporary
   is removed and path is untouched. "-" writes to stdout (and flushes it). */
int atomic_write(const char *path, const void *buf, size_t len, NashErr *err);

/* Reads the whole of path ("-": stdin) into *buf (malloc'd, caller frees; one spare NUL byte
   after the data). Errors name the file, "<stdin>" for "-". */
int read_all(const char *path, void **buf, size_t *len, NashErr *err);

#endif
