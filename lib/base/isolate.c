/* Crash isolation (isolate.h): the one place in the library that ends a process, a forked
   child's _exit, which tests/check_layers.sh allows here alone. */
#include "base/isolate.h"
#include "base/h5util.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
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

/* The child: runs the check and sends its NashErr. It leaves by _exit, never exit: exit would
   run the parent's atexit handlers (HDF5's among them) and flush stdio buffers it inherited,
   writing the parent's pending output twice. */
/* The code a child reports when its read failed for want of memory under its limit: between
   child and parent only, never returned. */
#define CHILD_OUT_OF_MEMORY (-1)

/* The child: sets its limits, runs the check and sends its NashErr. It leaves by _exit, never
   exit: exit would run the parent's atexit handlers (HDF5's among them) and flush stdio buffers
   it inherited, writing the parent's pending output twice. */
static void child(IsolatedCheck check, void *arg, int fd, const IsolateLimits *l)
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
	h5_reset_alloc_failures();
	if (check(arg, &e) == 0)
		e.code = NASH_OK;
	else if (mapped && (e.code == NASH_ERR_OOM || h5_alloc_failures() > 0))
		e.code = CHILD_OUT_OF_MEMORY;
	else if (e.code == NASH_OK)
		e.code = NASH_ERR_RUNTIME;
	_exit(write_all(fd, &e, sizeof e) == 0 ? 0 : 1);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + 1e-9 * (double)(now.tv_nsec - t0->tv_nsec);
}

/* Reads the child's report from fd until it is complete, the pipe closes, or `seconds` have
   passed since t0; the bytes read, or -1 when the time ran out. */
static long read_report(int fd, NashErr *got, const struct timespec *t0, double seconds)
{
	size_t n = 0;
	while (n < sizeof *got) {
		double left = seconds - seconds_since(t0);
		if (left <= 0)
			return -1;
		struct pollfd p = {fd, POLLIN, 0};
		int r = poll(&p, 1, left > 86400 ? 86400 * 1000 : (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			continue; /* the loop's clock decides */
		ssize_t got_n = r < 0 ? -1 : read(fd, (char *)got + n, sizeof *got - n);
		if (got_n < 0 && errno == EINTR)
			continue;
		if (got_n <= 0)
			break;
		n += (size_t)got_n;
	}
	return (long)n;
}

int isolate_check(IsolatedCheck check, void *arg, const char *file, size_t size, NashErr *err)
{
	IsolateLimits l = isolate_limits(size);
	int fds[2];
	if (pipe(fds) < 0)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: cannot read it in a separate process: %s", nash_name(file).s,
				strerror(errno));
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
		child(check, arg, fds[1], &l);
	}
	close(fds[1]);
	NashErr got;
	long n = read_report(fds[0], &got, &t0, l.wall_seconds);
	close(fds[0]);
	if (n < 0) /* blocked, or starved of CPU for ten times its CPU limit */
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n < 0 || (WIFSIGNALED(status) && (WTERMSIG(status) == SIGPROF || WTERMSIG(status) == SIGXCPU)))
		return nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (reading it took more than %.3g s)",
				nash_name(file).s, n < 0 ? l.wall_seconds : l.cpu_seconds);
	if (n == (long)sizeof got && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (got.code == NASH_OK)
			return 0;
		if (got.code == CHILD_OUT_OF_MEMORY)
			return nash_err(err, NASH_ERR_RUNTIME,
					"%s: corrupt HDF5 file (reading it needed more than %zu MiB of memory)", nash_name(file).s,
					l.memory_bytes >> 20);
		got.msg[sizeof got.msg - 1] = '\0';
		return nash_err(err, got.code, "%s", got.msg);
	}
	if (WIFSIGNALED(status))
		return nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (reading it crashed: %s)", nash_name(file).s,
				strsignal(WTERMSIG(status)));
	return nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (reading it failed without a report)",
			nash_name(file).s);
}
