/* Crash isolation for the file readers. HDF5 decodes untrusted bytes in C and can crash, spin or
   allocate without bound on a crafted file (docs/FORMAT.md, "Security"); none of that may take
   the program down or hang it. So a reader parses the file in a forked child, under limits
   scaled to the file's size: a child killed by a signal (or that dies without reporting)
   becomes "FILE: corrupt HDF5 file (reading it crashed: ...)", one that runs past its time
   becomes "... (reading it took more than N s)", one that needs more memory than the file's
   size warrants "... (reading it needed more than N MiB of memory)"; a child's own error is
   returned as it is. What a child read comes back as bytes of nash's own form (base/wire.h,
   isolate_read), which the caller decodes and checks as it would any untrusted input: the
   program itself never hands the file to HDF5. isolate_check is the older form, for a reader
   that reads the file again itself once the child found it good (the dataset reader). */
#ifndef NASH_ISOLATE_H
#define NASH_ISOLATE_H

#include <stddef.h>

#include "base/err.h"
#include "base/wire.h"

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

/* What the child runs: 0 when the file is good, with what it read appended to out, else -1 with
   err set. It must not touch shared state the parent relies on (files, pipes); whatever it
   allocates dies with it. */
typedef int (*IsolatedRead)(void *arg, WireOut *out, NashErr *err);

/* Runs read(arg) in a child process under isolate_limits(size). 0 when it returned 0, with the
   bytes it appended in *report (malloc'd, for the caller to free and to check: they come from
   a process that parsed an untrusted file) and *report_len; at most max_report bytes are taken
   (the caller's bound on what the file can hold), more is "corrupt HDF5 file (reading it gave N
   bytes, ...)". -1 with its error when it failed; -1 with "FILE: corrupt HDF5 file (...)" when
   it crashed, ran past a limit, or did not report as it must; -1 when the child cannot be
   started. file names the input in messages. */
int isolate_read(IsolatedRead read, void *arg, const char *file, size_t size, size_t max_report, void **report,
		 size_t *report_len, NashErr *err);

/* isolate_read of a check that hands nothing over: 0 when check(arg) returned 0. */
int isolate_check(IsolatedCheck check, void *arg, const char *file, size_t size, NashErr *err);

#endif
