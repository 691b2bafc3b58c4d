/* Command-line plumbing shared by the tools: errors, option values, progress output.
   These are the only library functions that print or exit, and only tools call them. */
#ifndef NASH_CLI_H
#define NASH_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include "backend/backend.h"
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
/* Refuses to write a binary file to a terminal (exit 2) when path is "-"; what it is: "model
   file", "dataset file", ... ("refusing to write a dataset file to a terminal"). */
void cli_check_binary_out(const char *prog, const char *path, const char *what);

/* The one input file operand: argv[optind], or "-" when there is none and standard input is not
   a terminal (so `nash-init | nash-train` works); otherwise a usage error naming `what`. */
const char *cli_input(const char *prog, int argc, char **argv, int optind, const char *what);

/* Seconds as 1h02m03s, 2m03s or 3s (cut to whole seconds); "?" when not a duration. */
const char *hms(char *buf, size_t n, double v);

/* Option values: exit 2 with "prog: --opt: 'x' is not ..." when invalid. */
long cli_long(const char *prog, const char *opt, const char *s, long min, long max);
uint64_t cli_u64(const char *prog, const char *opt, const char *s);
double cli_double(const char *prog, const char *opt, const char *s, double min, double max);
/* "START:END" or a single "START" (END = 0). */
void cli_lr_range(const char *prog, const char *opt, const char *s, float *start, float *end);
/* "32,64,128": returns the count, values in out[max]. */
int cli_int_list(const char *prog, const char *opt, const char *s, int *out, int max, long min, long vmax);

/* The options of the tools that run networks (nash-train, nash-ensemble): put CLI_RUN_OPTIONS
   in the tool's getopt_long table and hand each option to cli_run_option. */
enum { CLI_OPT_DATA = 0x100, CLI_OPT_DEVICE, CLI_OPT_GPU, CLI_OPT_THREADS, CLI_OPT_EVAL };
#define CLI_RUN_OPTIONS                                                                           \
	{"data", required_argument, 0, CLI_OPT_DATA}, {"device", required_argument, 0, CLI_OPT_DEVICE}, \
	{"gpu", required_argument, 0, CLI_OPT_GPU}, {"threads", required_argument, 0, CLI_OPT_THREADS}, \
	{"eval", required_argument, 0, CLI_OPT_EVAL}

typedef struct CliRun {
	const char *data;   /* --data SPEC; NULL: the dataset the model records */
	const char *device; /* --device: the engine, auto (default) or a backend_find name (cpu, cpu-bf16, cpu-blas, ref, cuda) */
	const char *eval;   /* --eval: one of the tool's choices (default val) */
	int threads;        /* --threads; 0: all cores */
	int gpu;            /* --gpu N; -1: not given (NASH_GPU, else 0) */
} CliRun;

void cli_run_init(CliRun *r);
/* Takes option c (getopt_long's return value, argument arg) when it is one of CLI_RUN_OPTIONS
   and returns 1; returns 0 for any other option. evals: the accepted --eval values, "val|test". */
int cli_run_option(const char *prog, CliRun *r, int c, const char *arg, const char *evals);
/* The backend --device names (exit with backend_find's error when none) and its context's
   settings in *opts: --threads and --gpu, and for CUDA the NASH_* variables (cli_backend_env). */
const Backend *cli_backend(const char *prog, const CliRun *r, BackendOpts *opts);
/* The CUDA engine's settings from the environment (docs/GPU.md): NASH_GPU (when gpu < 0;
   default 0), NASH_TF32, NASH_CUDNN_FIND, NASH_CUDNN_WS_MB; the rest of *opts as given.
   Exit 2 when one is not a non-negative integer. */
void cli_backend_env(const char *prog, int gpu, BackendOpts *opts);

/* Progress on stderr: a live bar when stderr is a terminal, one line per epoch otherwise.
   arg: a CliProgress. */
typedef struct CliProgress {
	const char *prog;
	int tty;
} CliProgress;
void cli_progress_init(CliProgress *p, const char *prog);
void cli_progress(const TrainProgress *p, void *arg);

#endif
