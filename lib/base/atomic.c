#include "base/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/rng.h"

static int write_stdout(const void *buf, size_t len, NashErr *err)
{
	errno = 0;
	if (len && fwrite(buf, 1, len, stdout) != len)
		return nash_err(err, NASH_ERR_RUNTIME, "<stdout>: %s", strerror(errno ? errno : EIO));
	if (fflush(stdout) != 0 || ferror(stdout))
		return nash_err(err, NASH_ERR_RUNTIME, "<stdout>: %s", strerror(errno ? errno : EIO));
	return 0;
}

static int write_fd(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Creates "PATH.XXXXXX.tmp" exclusively (mode 0666 & ~umask, like the file it replaces would
   get); mkstemps is not POSIX and mkstemp's 0600 would leak into the final file. */
static int open_temp(char *tmp, size_t n, const char *path)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t h = NASH_HASH_INIT;
	int64_t pid = getpid();
	h = nash_hash(h, &pid, sizeof pid);
	h = nash_hash(h, &ts, sizeof ts);
	h = nash_hash(h, &tmp, sizeof tmp); /* stack address: differs between threads */
	for (int attempt = 0; attempt < 100; attempt++) {
		Rng r;
		rng_seed3(&r, h, (uint64_t)attempt, 0);
		char sfx[7];
		for (int i = 0; i < 6; i++)
			sfx[i] = alnum[rng_below(&r, sizeof alnum - 1)];
		sfx[6] = '\0';
		snprintf(tmp, n, "%s.%s.tmp", path, sfx);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* Makes the rename durable; best effort, since some file systems refuse fsync on directories. */
static void sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!dir)
		return;
	int fd = open(dir, O_RDONLY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

int atomic_write(const char *path, const void *buf, size_t len, NashErr *err)
{
	if (strcmp(path, "-") == 0)
		return write_stdout(buf, len, err);
	size_t n = strlen(path) + 16;
	char *tmp = malloc(n);
	if (!tmp)
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(path).s);
	int fd = open_temp(tmp, n, path);
	if (fd < 0) {
		nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(path).s, strerror(errno));
		free(tmp);
		return -1;
	}
	int e = 0;
	if (write_fd(fd, buf, len) || fsync(fd))
		e = errno;
	if (close(fd) && !e)
		e = errno;
	if (!e && rename(tmp, path))
		e = errno;
	if (e) {
		unlink(tmp);
		free(tmp);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(path).s, strerror(e));
	}
	free(tmp);
	sync_dir(path);
	return 0;
}

int read_all(const char *path, void **buf, size_t *len, NashErr *err)
{
	int is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? "<stdin>" : path;
	*buf = NULL;
	*len = 0;
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	if (!f)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(name).s, strerror(errno));
	size_t cap = 1 << 16, n = 0;
	char *p = malloc(cap + 1);
	int e = p ? 0 : ENOMEM;
	while (!e) {
		if (n == cap) {
			char *q = cap > SIZE_MAX / 2 - 1 ? NULL : realloc(p, 2 * cap + 1);
			if (!q) {
				e = ENOMEM;
				break;
			}
			p = q;
			cap *= 2;
		}
		errno = 0;
		size_t r = fread(p + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			if (ferror(f))
				e = errno ? errno : EIO;
			break;
		}
	}
	if (!is_stdin)
		fclose(f);
	if (e) {
		free(p);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(name).s, strerror(e));
	}
	p[n] = '\0';
	*buf = p;
	*len = n;
	return 0;
}
