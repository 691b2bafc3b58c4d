/* Crash isolation for the file readers. HDF5 decodes untrusted bytes in C and can crash on a
   crafted file (docs/FORMAT.md, "Security"); a crash must not take the program down. So a reader
   first parses the file, already in memory, in a forked child that only reports what it found:
   a child killed by a signal (or that dies without reporting) becomes "FILE: corrupt HDF5 file",
   a child's error is returned as it is, and only a file the child read without fault is then
   read again in the calling process. The parsing is deterministic, so the second read meets the
   same code paths on the same bytes. */
#ifndef NASH_ISOLATE_H
#define NASH_ISOLATE_H

#include "base/err.h"

/* What the child runs: 0 when the file is good, else -1 with err set. It must not touch shared
   state the parent relies on (files, pipes); whatever it allocates dies with it. */
typedef int (*IsolatedCheck)(void *arg, NashErr *err);

/* Runs check(arg) in a child process. 0 when it returned 0; -1 with its error when it failed;
   -1 with "FILE: corrupt HDF5 file (...)" when it crashed, ran past its CPU limit, or could not
   report; -1 when the child cannot be started. file names the input in messages. */
int isolate_check(IsolatedCheck check, void *arg, const char *file, NashErr *err);

#endif
