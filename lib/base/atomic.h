/* Whole-file I/O: atomic replacement on write and slurping on read. "-" means stdout/stdin. */
#ifndef NASH_ATOMIC_H
#define NASH_ATOMIC_H

#include <stddef.h>

#include "base/err.h"

/* Writes buf to path, the one way every nash output is written. A regular file, or a path
   that does not exist, is replaced atomically: via a temporary "PATH.XXXXXX.tmp" in the same
   directory, fsync and rename, so readers see either the old file or the complete new one; on
   failure the temporary is removed and path is untouched. A symbolic link is followed (to the
   end of its chain) and its target replaced so, beside it; the link stays a link. A character
   device, FIFO or socket (Unix stream socket: connected to) is written in place: /dev/null
   discards, /dev/full fails with ENOSPC, a FIFO's reader gets the bytes (opening a FIFO waits
   for one). A directory, block device or anything else is an error. "-" writes to stdout (and
   flushes it). Errors name path: "out.h5: No space left on device". */
int atomic_write(const char *path, const void *buf, size_t len, NashErr *err);

/* The temporary file atomic_write is writing now, NULL when none: what a program's handler of
   a terminating signal (SIGINT, SIGTERM, SIGHUP) removes before the signal ends the program,
   so that an interrupted write leaves nothing behind (tools/cli.c). Async-signal-safe. */
const char *atomic_temp_now(void);

/* Reads the whole of path ("-": stdin) into *buf (malloc'd, caller frees; one spare NUL byte
   after the data). Errors name the file, "<stdin>" for "-". */
int read_all(const char *path, void **buf, size_t *len, NashErr *err);

#endif
