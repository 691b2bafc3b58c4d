/* Crash isolation (isolate.h): the one place in the library that ends a process, a forked
   child's _exit, which tests/check_layers.sh allows here alone. */
#include "base/isolate.h"
#include "base/h5util.h"
#include "base/wire.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static double base_seconds = ISOLATE_BASE_SECONDS_DEFAULT;

int isolate_set_base_seconds(double s)
{
	if (!(s >= 0.01 && s <= 86400))
		return -1;
	base_seconds = s;
	return 0;
}

IsolateLimits isolate_limits(size_t size)
{
	IsolateLimits l;
	l.cpu_seconds = base_seconds * (double)(1 + (size >> 24)); /* one base for each started 16 MiB */
	l.wall_seconds = 10 * l.cpu_seconds + 2;
	size_t room = (size_t)512 << 20;
	l.memory_bytes = size > (SIZE_MAX - room) / 32 ? SIZE_MAX : room + 32 * size;
	return l;
}

/* Bytes of address space this process has mapped (Linux /proc), or 0 when unknown. */
static size_t mapped_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%lu", &pages) != 1)
		pages = 0;
	fclose(f);
	long page = sysconf(_SC_PAGESIZE);
	return page > 0 ? (size_t)pages * (size_t)page : 0;
}

/* Writes all of buf to fd; 0 or -1. */
static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The code a child reports when its read failed for want of memory under its limit: between
   child and parent only, never returned. */
#define CHILD_OUT_OF_MEMORY (-1)

/* The child: sets its limits, runs the read and sends its NashErr, then, when the read
   succeeded, the length of what it handed over (uint64) and those bytes. It leaves by _exit,
   never exit: exit would run the parent's atexit handlers (HDF5's among them) and flush stdio
   buffers it inherited, writing the parent's pending output twice. */
static void child(IsolatedRead read, void *arg, int fd, const IsolateLimits *l)
{
	/* CPU time: SIGPROF (whose default action ends the process) at the limit to the
	   microsecond; RLIMIT_CPU, whole seconds only, as the backstop should the timer be lost */
	struct itimerval prof = {{0, 0}, {(time_t)l->cpu_seconds,
					   (suseconds_t)((l->cpu_seconds - floor(l->cpu_seconds)) * 1e6)}};
	setitimer(ITIMER_PROF, &prof, NULL);
	rlim_t cpu_s = (rlim_t)ceil(l->cpu_seconds) + 1;
	struct rlimit cpu = {cpu_s, cpu_s + 5};
	setrlimit(RLIMIT_CPU, &cpu);
	/* The limit counts what the process had mapped when it forked (the parent's dataset, its
	   libraries): only what the read adds is bounded. Without /proc the read runs without a
	   memory limit. */
	size_t mapped = mapped_bytes();
	if (mapped && l->memory_bytes < SIZE_MAX - mapped) {
		struct rlimit as = {(rlim_t)(mapped + l->memory_bytes), (rlim_t)(mapped + l->memory_bytes)};
		setrlimit(RLIMIT_AS, &as);
	}
	NashErr e;
	memset(&e, 0, sizeof e); /* every byte goes down the pipe, padding too */
	WireOut out;
	wire_out_init(&out);
	h5_reset_alloc_failures();
	int rc = read(arg, &out, &e);
	if (rc == 0 && out.oom)
		rc = nash_err(&e, NASH_ERR_OOM, "out of memory");
	if (rc == 0)
		e.code = NASH_OK;
	else if (mapped && (e.code == NASH_ERR_OOM || h5_alloc_failures() > 0))
		e.code = CHILD_OUT_OF_MEMORY;
	else if (e.code == NASH_OK)
		e.code = NASH_ERR_RUNTIME;
	uint64_t len = out.n;
	int sent = write_all(fd, &e, sizeof e) == 0 &&
		   (e.code != NASH_OK || (write_all(fd, &len, sizeof len) == 0 && write_all(fd, out.p, out.n) == 0));
	_exit(sent ? 0 : 1);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + 1e-9 * (double)(now.tv_nsec - t0->tv_nsec);
}

/* Reads n bytes from fd into buf until they are all there, the pipe closes, or `seconds` have
   passed since t0: 0 with the bytes read in *got, or -1 when the time ran out. */
static int read_full(int fd, void *buf, size_t n, size_t *got, const struct timespec *t0, double seconds)
{
	*got = 0;
	while (*got < n) {
		double left = seconds - seconds_since(t0);
		if (left <= 0)
			return -1;
		struct pollfd p = {fd, POLLIN, 0};
		int r = poll(&p, 1, left > 86400 ? 86400 * 1000 : (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			continue; /* the loop's clock decides */
		size_t want = n - *got < ((size_t)1 << 30) ? n - *got : (size_t)1 << 30;
		ssize_t k = r < 0 ? -1 : read(fd, (char *)buf + *got, want);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		*got += (size_t)k;
	}
	return 0;
}

/* What came down the pipe. */
typedef struct Report {
	NashErr err;
	unsigned char *bytes; /* malloc'd, the child's hand-over once complete */
	uint64_t len;
	int complete;  /* the NashErr, and for a success the length and all the bytes, then the end */
	int timed_out; /* the wall-clock limit passed first */
	int too_long;  /* the child announced more than max_report bytes */
	int oom;       /* no memory here for what it announced */
	int overran;   /* it sent more than its report */
} Report;

/* Reads the child's report: its NashErr, for a success the length and the bytes, then the end
   of the pipe (the child's exit), all within the wall-clock limit. A child that sends more, or
   keeps the pipe open after its report, has not reported. */
static void read_report(int fd, Report *r, size_t max_report, const struct timespec *t0, double seconds)
{
	size_t got;
	memset(r, 0, sizeof *r);
	r->timed_out = read_full(fd, &r->err, sizeof r->err, &got, t0, seconds) < 0;
	if (r->timed_out || got != sizeof r->err)
		return;
	if (r->err.code == NASH_OK) {
		r->timed_out = read_full(fd, &r->len, sizeof r->len, &got, t0, seconds) < 0;
		if (r->timed_out || got != sizeof r->len)
			return;
		if (r->len > max_report) {
			r->too_long = 1;
			return;
		}
		if (!(r->bytes = malloc(r->len ? (size_t)r->len : 1))) {
			r->oom = 1;
			return;
		}
		r->timed_out = read_full(fd, r->bytes, (size_t)r->len, &got, t0, seconds) < 0;
		if (r->timed_out || got != r->len)
			return;
	}
	char more;
	r->timed_out = read_full(fd, &more, 1, &got, t0, seconds) < 0;
	r->overran = got > 0;
	r->complete = !r->timed_out && got == 0;
}

int isolate_read(IsolatedRead read, void *arg, const char *file, size_t size, size_t max_report, void **report,
		 size_t *report_len, NashErr *err)
{
	*report = NULL;
	*report_len = 0;
	IsolateLimits l = isolate_limits(size);
	int fds[2];
	if (pipe(fds) < 0)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: cannot read it in a separate process: %s", nash_name(file).s,
				strerror(errno));
	/* HDF5 set up here, once, not in every child: its start-up (some thousand calls registering
	   its classes and drivers) would otherwise run again in each child, whose state dies with
	   it. Under valgrind that was most of a reader's time. */
	H5open();
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		return nash_err(err, e == ENOMEM ? NASH_ERR_OOM : NASH_ERR_RUNTIME,
				"%s: cannot read it in a separate process: %s", nash_name(file).s, strerror(e));
	}
	if (pid == 0) {
		close(fds[0]);
		child(read, arg, fds[1], &l);
	}
	close(fds[1]);
	Report r;
	read_report(fds[0], &r, max_report, &t0, l.wall_seconds);
	close(fds[0]);
	/* blocked, starved of CPU for ten times its CPU limit, or not keeping to its report (a child
	   that has already ended is left as it was: its status says why) */
	if (!r.complete)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	int rc = -1;
	if (r.timed_out || (WIFSIGNALED(status) && (WTERMSIG(status) == SIGPROF || WTERMSIG(status) == SIGXCPU)))
		nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (reading it took more than %.3g s)", nash_name(file).s,
			 r.timed_out ? l.wall_seconds : l.cpu_seconds);
	else if (r.too_long)
		nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (reading it gave %llu bytes, more than the %zu it may)",
			 nash_name(file).s, (unsigned long long)r.len, max_report);
	else if (r.oom)
		nash_err(err, NASH_ERR_OOM, "%s: out of memory for what reading it gave (%llu bytes)", nash_name(file).s,
			 (unsigned long long)r.len);
	else if (r.complete && WIFEXITED(status) && WEXITSTATUS(status) == 0 && r.err.code == NASH_OK) {
		*report = r.bytes;
		*report_len = (size_t)r.len;
		r.bytes = NULL;
		rc = 0;
	} else if (r.complete && WIFEXITED(status) && WEXITSTATUS(status) == 0 && r.err.code == CHILD_OUT_OF_MEMORY)
		nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (reading it needed more than %zu MiB of memory)",
			 nash_name(file).s, l.memory_bytes >> 20);
	else if (r.complete && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		r.err.msg[sizeof r.err.msg - 1] = '\0';
		nash_err(err, r.err.code, "%s", r.err.msg);
	} else if (WIFSIGNALED(status) && !r.overran)
		nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (reading it crashed: %s)", nash_name(file).s,
			 strsignal(WTERMSIG(status)));
	else
		nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (reading it failed without a report)",
			 nash_name(file).s);
	free(r.bytes);
	return rc;
}

/* isolate_check as an isolate_read that hands over nothing. */
typedef struct CheckArgs {
	IsolatedCheck check;
	void *arg;
} CheckArgs;

static int run_check(void *arg, WireOut *out, NashErr *err)
{
	const CheckArgs *c = arg;
	return c->check(c->arg, err);
}

int isolate_check(IsolatedCheck check, void *arg, const char *file, size_t size, NashErr *err)
{
	CheckArgs c = {check, arg};
	void *report;
	size_t len;
	int rc = isolate_read(run_check, &c, file, size, 0, &report, &len, err);
	free(report);
	return rc;
}
