/* Command-line plumbing shared by the tools: errors, option values, progress output.
   These are the only library functions that print or exit, and only tools call them. */
#ifndef NASH_CLI_H
#define NASH_CLI_H

#include <stdint.h>
#include <stdnoreturn.h>

#include "base/err.h"
#include "engine/train.h"

/* "prog: message" on stderr and exit with err->code (1 when unset). */
noreturn void die_err(const char *prog, const NashErr *err);
/* "prog: message" on stderr and exit 1. */
noreturn void die(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "prog: message" plus "Try 'prog --help'." on stderr and exit 2. */
noreturn void die_usage(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the version line on stdout and exits 0. */
noreturn void cli_version(const char *prog);
/* Flushes and closes stdout; a write error (full disk, closed pipe) fails the program. */
void cli_close_stdout(const char *prog);
/* Refuses to write a binary model to a terminal (exit 2) when path is "-". */
void cli_check_binary_out(const char *prog, const char *path);

/* The one input file operand: argv[optind], or "-" when there is none and standard input is not
   a terminal (so `nash-init | nash-train` works); otherwise a usage error naming `what`. */
const char *cli_input(const char *prog, int argc, char **argv, int optind, const char *what);

/* Option values: exit 2 with "prog: --opt: 'x' is not ..." when invalid. */
long cli_long(const char *prog, const char *opt, const char *s, long min, long max);
uint64_t cli_u64(const char *prog, const char *opt, const char *s);
double cli_double(const char *prog, const char *opt, const char *s, double min, double max);
/* "START:END" or a single "START" (END = 0). */
void cli_lr_range(const char *prog, const char *opt, const char *s, float *start, float *end);
/* "32,64,128": returns the count, values in out[max]. */
int cli_int_list(const char *prog, const char *opt, const char *s, int *out, int max, long min, long vmax);

/* Progress on stderr: a live bar when stderr is a terminal, one line per epoch otherwise.
   arg: a CliProgress. */
typedef struct CliProgress {
	const char *prog;
	int tty;
} CliProgress;
void cli_progress_init(CliProgress *p, const char *prog);
void cli_progress(const TrainProgress *p, void *arg);

#endif
