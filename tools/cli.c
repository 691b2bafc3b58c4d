#include "cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/isolate.h"

/* NASH_READ_TIMEOUT=S: the time base of the isolated file readers (lib/base/isolate.h), read
   before main (glibc passes a constructor main's arguments) so that every tool honours it
   before it reads a file, without a call of its own. */
__attribute__((constructor)) static void read_timeout_from_env(int argc, char **argv, char **envp)
{
	const char *s = getenv("NASH_READ_TIMEOUT");
	if (!s || !*s)
		return;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || isolate_set_base_seconds(v)) {
		const char *prog = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
		prog = prog ? prog + 1 : argc > 0 && argv[0] ? argv[0] : "nash";
		fprintf(stderr, "%s: NASH_READ_TIMEOUT=%s: not a number of seconds from 0.01 to 86400\n", prog, s);
		exit(2);
	}
}

/* A terminating signal (Ctrl-C's SIGINT, a scheduler's SIGTERM, a hangup) ends a tool as it
   would anyway, but not before the temporary of an output being written (atomic_write) is
   removed: an interrupted tool leaves nothing behind. SA_RESETHAND makes the default action
   the signal's again, so the signal raised here ends the program once the handler returns,
   with the status of that signal (the pipeline tells a signal from a failure). */
static void remove_temp_and_end(int sig)
{
	const char *t = atomic_temp_now();
	if (t)
		unlink(t);
	raise(sig);
}

/* Installed before main in every tool, for the signals not ignored: a program started with
   SIGINT ignored (a shell's background job) keeps it so. */
__attribute__((constructor)) static void clean_up_on_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		struct sigaction old, sa = {.sa_handler = remove_temp_and_end, .sa_flags = SA_RESETHAND | SA_RESTART};
		sigemptyset(&sa.sa_mask);
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
			sigaction(sigs[i], &sa, NULL);
	}
}

/* Writes "prog: message" to stderr, the message escaped as nash_escape escapes names: the
   library escapes each name it puts in a message, and this catches any it missed, so that no
   message can print a line of its own or a terminal escape sequence. */
static void say(const char *prog, const char *msg)
{
	char shown[4 * 2048 + 1]; /* an escape is at most 4 bytes per byte: never shortened */
	fprintf(stderr, "%s: %s\n", prog, nash_escape(shown, sizeof shown, msg));
}

static void vsay(const char *prog, const char *fmt, va_list ap)
{
	char msg[2048];
	vsnprintf(msg, sizeof msg, fmt, ap);
	say(prog, msg);
}

noreturn void die_err(const char *prog, const NashErr *err)
{
	fflush(stdout);
	say(prog, err->msg[0] ? err->msg : "unknown error");
	exit(err->code > 0 ? err->code : 1);
}

noreturn void die(const char *prog, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	va_start(ap, fmt);
	vsay(prog, fmt, ap);
	va_end(ap);
	exit(1);
}

noreturn void die_usage(const char *prog, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(prog, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	exit(2);
}

noreturn void cli_version(const char *prog)
{
	printf("%s (nash) %s\n", prog, NASH_VERSION);
	cli_close_stdout(prog);
	exit(0);
}

void cli_close_stdout(const char *prog)
{
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		die(prog, "error writing to standard output: %s", strerror(errno ? errno : EIO));
}

void cli_check_binary_out(const char *prog, const char *path, const char *what)
{
	if (strcmp(path, "-") == 0 && isatty(STDOUT_FILENO))
		die_usage(prog, "refusing to write %s %s to a terminal; use -o FILE or redirect stdout",
			  strchr("AEIOUaeiou", what[0]) ? "an" : "a", what);
}

const char *cli_input(const char *prog, int argc, char **argv, int optind, const char *what)
{
	if (optind < argc - 1)
		die_usage(prog, "too many arguments");
	if (optind == argc - 1)
		return argv[optind];
	if (isatty(STDIN_FILENO))
		die_usage(prog, "missing %s (a file, or - for standard input)", what);
	return "-";
}

long cli_long(const char *prog, const char *opt, const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		die_usage(prog, "%s: '%s' is not an integer", opt, s);
	if (v < min || v > max)
		die_usage(prog, "%s: %ld is out of range [%ld, %ld]", opt, v, min, max);
	return v;
}

uint64_t cli_u64(const char *prog, const char *opt, const char *s)
{
	char *end;
	errno = 0;
	if (*s == '-')
		die_usage(prog, "%s: '%s' is not a non-negative integer", opt, s);
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		die_usage(prog, "%s: '%s' is not a non-negative integer", opt, s);
	return (uint64_t)v;
}

double cli_double(const char *prog, const char *opt, const char *s, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		die_usage(prog, "%s: '%s' is not a number", opt, s);
	if (v < min || v > max)
		die_usage(prog, "%s: %g is out of range [%g, %g]", opt, v, min, max);
	return v;
}

void cli_lr_range(const char *prog, const char *opt, const char *s, float *start, float *end)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", s);
	char *colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	*start = (float)cli_double(prog, opt, buf, 0, 1e6);
	*end = colon ? (float)cli_double(prog, opt, colon + 1, 0, 1e6) : 0.0f;
}

int cli_int_list(const char *prog, const char *opt, const char *s, int *out, int max, long min, long vmax)
{
	char buf[256];
	int n = 0;
	snprintf(buf, sizeof buf, "%s", s);
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		if (n == max)
			die_usage(prog, "%s: at most %d values", opt, max);
		out[n++] = (int)cli_long(prog, opt, tok, min, vmax);
	}
	if (n == 0)
		die_usage(prog, "%s: empty list", opt);
	return n;
}

void cli_run_init(CliRun *r)
{
	*r = (CliRun){.data = NULL, .device = "auto", .eval = "val", .threads = 0, .gpu = -1};
}

/* "val|test|none" -> "val, test or none" */
static void list_words(char *buf, size_t n, const char *choices)
{
	size_t used = 0;
	buf[0] = '\0';
	for (const char *p = choices; *p && used + 1 < n;) {
		size_t len = strcspn(p, "|");
		const char *sep = p == choices ? "" : p[len] ? ", " : " or ";
		used += (size_t)snprintf(buf + used, n - used, "%s%.*s", sep, (int)len, p);
		p += len + (p[len] == '|');
	}
}

static int is_choice(const char *choices, const char *s)
{
	size_t n = strlen(s);
	for (const char *p = choices; *p;) {
		size_t len = strcspn(p, "|");
		if (len == n && strncmp(p, s, n) == 0)
			return 1;
		p += len + (p[len] == '|');
	}
	return 0;
}

int cli_run_option(const char *prog, CliRun *r, int c, const char *arg, const char *evals)
{
	switch (c) {
	case CLI_OPT_DATA: r->data = arg; return 1;
	case CLI_OPT_DEVICE: r->device = arg; return 1;
	case CLI_OPT_GPU: r->gpu = (int)cli_long(prog, "--gpu", arg, 0, 64); return 1;
	case CLI_OPT_THREADS: r->threads = (int)cli_long(prog, "--threads", arg, 1, 1024); return 1;
	case CLI_OPT_EVAL:
		if (!*arg || !is_choice(evals, arg)) {
			char words[128];
			list_words(words, sizeof words, evals);
			die_usage(prog, "--eval: '%s' is not %s", arg, words);
		}
		r->eval = arg;
		return 1;
	default: return 0;
	}
}

/* A non-negative integer environment variable; def when unset or empty; exit 2 otherwise. */
static int env_int(const char *prog, const char *name, int def)
{
	const char *s = getenv(name);
	if (!s || !*s)
		return def;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 1000000)
		die_usage(prog, "%s=%s: not a non-negative integer", name, s);
	return (int)v;
}

void cli_backend_env(const char *prog, int gpu, BackendOpts *opts)
{
	static const BackendOpts def = BACKEND_OPTS_DEFAULT;
	opts->gpu = gpu >= 0 ? gpu : env_int(prog, "NASH_GPU", def.gpu);
	opts->tf32 = env_int(prog, "NASH_TF32", def.tf32);
	opts->cudnn_find = env_int(prog, "NASH_CUDNN_FIND", def.cudnn_find);
	opts->cudnn_ws_mb = env_int(prog, "NASH_CUDNN_WS_MB", def.cudnn_ws_mb);
}

const Backend *cli_backend(const char *prog, const CliRun *r, BackendOpts *opts)
{
	NashErr err = {0};
	const Backend *be = backend_find(r->device, &err);
	if (!be)
		die_err(prog, &err);
	*opts = (BackendOpts)BACKEND_OPTS_DEFAULT;
	opts->threads = r->threads;
	if (strcmp(be->name, "cuda") == 0) /* the CPU backends never read these */
		cli_backend_env(prog, r->gpu, opts);
	return be;
}

void cli_progress_init(CliProgress *p, const char *prog)
{
	p->prog = prog;
	p->tty = isatty(STDERR_FILENO);
}

static void fmt_time(char *buf, size_t n, double s)
{
	if (!isfinite(s) || s < 0)
		s = 0;
	long t = (long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

void cli_progress(const TrainProgress *p, void *arg)
{
	const CliProgress *cp = arg;
	char eta[32], el[32];
	fmt_time(eta, sizeof eta, p->eta_s);
	fmt_time(el, sizeof el, p->elapsed_s);
	if (p->epoch_done) {
		const EpochRecord *r = p->rec;
		/* the epoch's learning rates: first-last ("0.0500-0.0413", a cosine falling), with the
		   peak between when a warmup ends inside the epoch ("0.0250-0.0500-0.0250"), one value
		   when constant: the first step's alone reads as a schedule running backwards */
		char lr[48];
		if (p->lr_peak > r->lr && p->lr_peak > p->lr_last)
			snprintf(lr, sizeof lr, "%.4f-%.4f-%.4f", r->lr, p->lr_peak, p->lr_last);
		else if (p->lr_last != r->lr)
			snprintf(lr, sizeof lr, "%.4f-%.4f", r->lr, p->lr_last);
		else
			snprintf(lr, sizeof lr, "%.4f", r->lr);
		fprintf(stderr, "%s%s: epoch %d/%d  lr %s  train loss %.4f acc %.4f  val loss %.4f acc %.4f  %.1fs  %.0f img/s\n",
			cp->tty ? "\r\033[K" : "", cp->prog, p->epoch, p->epochs, lr, r->train_loss, r->train_acc,
			r->val_loss, r->val_acc, r->seconds, p->images_per_s);
		return;
	}
	if (!cp->tty)
		return;
	int width = 24, filled = p->steps ? (int)((double)p->step / p->steps * width) : 0;
	char bar[64];
	for (int i = 0; i < width; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[width] = '\0';
	fprintf(stderr, "\r\033[K%s: epoch %d/%d [%s] %d/%d  loss %.4f acc %.4f  %.0f img/s  %s elapsed, %s left",
		cp->prog, p->epoch, p->epochs, bar, p->step, p->steps, p->loss, p->acc, p->images_per_s, el, eta);
	fflush(stderr);
}

/* Seconds as 1h02m03s, 2m03s or 3s: the progress lines and reports of a search. */
const char *hms(char *buf, size_t n, double v)
{
	if (!(v >= 0) || v > 1e12) {
		snprintf(buf, n, "?");
		return buf;
	}
	long s = (long)v;
	if (s >= 3600)
		snprintf(buf, n, "%ldh%02ldm%02lds", s / 3600, s / 60 % 60, s % 60);
	else if (s >= 60)
		snprintf(buf, n, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, n, "%lds", s);
	return buf;
}
