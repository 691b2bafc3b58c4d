/* Crash isolation (isolate.h): the one place in the library that ends a process, a forked
   child's _exit, which tests/check_layers.sh allows here alone. */
#include "base/isolate.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* A parse that has not finished after this much CPU time is stuck in a loop on a crafted file
   (a real model file of hundreds of MB parses in about a second). */
#define ISOLATE_CPU_SECONDS 300

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
static void child(IsolatedCheck check, void *arg, int fd)
{
	struct rlimit cpu = {ISOLATE_CPU_SECONDS, ISOLATE_CPU_SECONDS + 5};
	setrlimit(RLIMIT_CPU, &cpu);
	NashErr e = {0};
	if (check(arg, &e) == 0)
		e.code = NASH_OK;
	else if (e.code == NASH_OK)
		e.code = NASH_ERR_RUNTIME;
	_exit(write_all(fd, &e, sizeof e) == 0 ? 0 : 1);
}

int isolate_check(IsolatedCheck check, void *arg, const char *file, NashErr *err)
{
	int fds[2];
	if (pipe(fds) < 0)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: cannot read it in a separate process: %s", file,
				strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(fds[0]);
		close(fds[1]);
		return nash_err(err, e == ENOMEM ? NASH_ERR_OOM : NASH_ERR_RUNTIME,
				"%s: cannot read it in a separate process: %s", file, strerror(e));
	}
	if (pid == 0) {
		close(fds[0]);
		child(check, arg, fds[1]);
	}
	close(fds[1]);
	NashErr got;
	size_t n = 0;
	while (n < sizeof got) {
		ssize_t r = read(fds[0], (char *)&got + n, sizeof got - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fds[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n == sizeof got && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		if (got.code == NASH_OK)
			return 0;
		got.msg[sizeof got.msg - 1] = '\0';
		return nash_err(err, got.code, "%s", got.msg);
	}
	if (WIFSIGNALED(status))
		return nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (reading it crashed: %s)", file,
				WTERMSIG(status) == SIGXCPU ? "CPU time limit" : strsignal(WTERMSIG(status)));
	return nash_err(err, NASH_ERR_RUNTIME, "%s: corrupt HDF5 file (reading it failed without a report)",
			file);
}
