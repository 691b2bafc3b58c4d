/* Crash isolation for the file readers. HDF5 decodes untrusted bytes in C and can crash, spin or
   allocate without bound on a crafted file (docs/FORMAT.md, "Security"); none of that may take
   the program down or hang it. So a reader first parses the file in a forked child that only
   reports what it found, under limits scaled to the file's size: a child killed by a signal (or
   that dies without reporting) becomes "FILE: corrupt HDF5 file (reading it crashed: ...)", one
   that runs past its time becomes "... (reading it took more than N s)", one that needs more
   memory than the file's size warrants "... (reading it needed more than N MiB of memory)"; a
   child's own error is returned as it is, and only a file the child read without fault is then
   read again in the calling process. The parsing is deterministic, so the second read meets the
   same code paths on the same bytes. */
#ifndef NASH_ISOLATE_H
#define NASH_ISOLATE_H

#include <stddef.h>

#include "base/err.h"

/* What the child runs: 0 when the file is good, else -1 with err set. It must not touch shared
   state the parent relies on (files, pipes); whatever it allocates dies with it. */
typedef int (*IsolatedCheck)(void *arg, NashErr *err);

/* The limits of one isolated read of a file of `size` bytes:
   - time: base_seconds for a file of up to 16 MiB, and base_seconds more for every further
     16 MiB; the child gets that much CPU time and ten times as much wall time (plus 2 s), so
     a loaded machine slows a read without failing it;
   - memory: 512 MiB plus 32 times the file's size beyond what the process had mapped when it
     forked (a real model parses in about 3 times its size, a dataset converts its bytes to
     floats in about 6). */
typedef struct IsolateLimits {
	double cpu_seconds;  /* CPU time of the child */
	double wall_seconds; /* wall time before the child is killed */
	size_t memory_bytes; /* address space the child may add */
} IsolateLimits;

#define ISOLATE_BASE_SECONDS_DEFAULT 3.0

/* Sets base_seconds for every later isolated read (the tools take it from NASH_READ_TIMEOUT);
   values outside 0.01 .. 86400 leave the setting as it was and return -1. */
int isolate_set_base_seconds(double base_seconds);
IsolateLimits isolate_limits(size_t size);

/* Runs check(arg) in a child process under isolate_limits(size). 0 when it returned 0; -1 with
   its error when it failed; -1 with "FILE: corrupt HDF5 file (...)" when it crashed, ran past a
   limit, or could not report; -1 when the child cannot be started. file names the input in
   messages. */
int isolate_check(IsolatedCheck check, void *arg, const char *file, size_t size, NashErr *err);

#endif
