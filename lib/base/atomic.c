#include "base/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* The temporary being written (atomic_temp_now): named before open creates it (a signal is
   handled as a system call returns: as open returns, the file exists), the path copied before
   the flag is set and the flag cleared once the file is renamed, so a handler sees a whole path,
   never a half-written one. One at a time: the tools write their outputs from one thread. */
static char temp_now[4096];
static volatile sig_atomic_t temp_now_set;

const char *atomic_temp_now(void) { return temp_now_set ? temp_now : NULL; }

static void temp_now_begin(const char *tmp)
{
	if (strlen(tmp) < sizeof temp_now) {
		memcpy(temp_now, tmp, strlen(tmp) + 1);
		temp_now_set = 1;
	}
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
		/* named before it exists: a signal handled as open returns finds it (see above) */
		temp_now_begin(tmp);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0)
			return fd;
		temp_now_set = 0; /* (not made, or another's: never to be removed) */
		if (errno != EEXIST)
			return -1;
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

/* The file that writing to path reaches: path itself or, when path is a symbolic link, the
   end of its chain of links, which need not exist yet (writing creates it, as "> link" in a
   shell does). Replacing the target rather than the link keeps the link a link. A relative
   link is resolved against the directory that holds it. malloc'd; NULL with errno set. */
static char *follow_links(const char *path)
{
	char *cur = strdup(path);
	for (int hops = 0; cur; hops++) {
		struct stat st;
		if (lstat(cur, &st) || !S_ISLNK(st.st_mode))
			return cur; /* what it is, or why it cannot be seen, the caller finds out */
		if (hops == 40) { /* the kernel's own limit on a chain of links */
			free(cur);
			errno = ELOOP;
			return NULL;
		}
		size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 256;
		char *to = NULL;
		ssize_t n = -1;
		for (;;) { /* st_size may be stale or 0 (procfs): grow until the target fits */
			char *t = realloc(to, cap);
			if (!t) {
				errno = ENOMEM;
				n = -1;
				break;
			}
			to = t;
			n = readlink(cur, to, cap);
			if (n < 0 || (size_t)n < cap)
				break;
			cap *= 2;
		}
		if (n < 0) {
			int e = errno;
			free(to);
			free(cur);
			errno = e;
			return NULL;
		}
		to[n] = '\0';
		const char *slash = strrchr(cur, '/');
		char *next = to;
		if (to[0] != '/' && slash) {
			int dir = (int)(slash - cur);
			next = malloc((size_t)dir + 1 + (size_t)n + 1);
			if (next)
				sprintf(next, "%.*s/%s", dir, cur, to);
			free(to);
		}
		free(cur);
		cur = next;
	}
	errno = ENOMEM;
	return NULL;
}

/* Writes buf to dest through a temporary file beside it, renamed over it. */
static int replace(const char *name, const char *dest, const void *buf, size_t len, NashErr *err)
{
	size_t n = strlen(dest) + 16;
	char *tmp = malloc(n);
	if (!tmp)
		return nash_err(err, NASH_ERR_OOM, "%s: out of memory", nash_name(name).s);
	int fd = open_temp(tmp, n, dest);
	if (fd < 0) {
		nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(name).s, strerror(errno));
		free(tmp);
		return -1;
	}
	int e = 0;
	if (write_fd(fd, buf, len) || fsync(fd))
		e = errno;
	if (close(fd) && !e)
		e = errno;
	if (!e && rename(tmp, dest))
		e = errno;
	/* (cleared once renamed: a handler's unlink of a name that is gone does nothing) */
	temp_now_set = 0;
	if (e) {
		unlink(tmp);
		free(tmp);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(name).s, strerror(e));
	}
	free(tmp);
	sync_dir(dest);
	return 0;
}

/* Connects to a Unix stream socket: writing "to" a socket means to whoever listens on it. */
static int connect_socket(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (const struct sockaddr *)&a, sizeof a)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Writes buf into dest, a character device, FIFO or socket, where it is: replacing one with a
   regular file would turn /dev/null into a file and leave a FIFO's reader waiting forever.
   Such a destination has no old contents to protect, so there is nothing to do atomically. */
static int write_in_place(const char *name, const char *dest, mode_t mode, const void *buf, size_t len,
			  NashErr *err)
{
	/* a FIFO without a reader blocks here until one opens it, as it would in a shell */
	int fd = S_ISSOCK(mode) ? connect_socket(dest) : open(dest, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(name).s, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		/* it became a regular file since it was looked at: writing into it would keep its tail */
		close(fd);
		return replace(name, dest, buf, len, err);
	}
	int e = write_fd(fd, buf, len) ? errno : 0;
	if (close(fd) && !e)
		e = errno;
	if (e)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(name).s, strerror(e));
	return 0;
}

int atomic_write(const char *path, const void *buf, size_t len, NashErr *err)
{
	if (strcmp(path, "-") == 0)
		return write_stdout(buf, len, err);
	char *dest = follow_links(path);
	if (!dest)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(path).s, strerror(errno));
	struct stat st;
	int rc, absent = stat(dest, &st) != 0;
	if (absent && errno != ENOENT)
		rc = nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(path).s, strerror(errno));
	else if (absent || S_ISREG(st.st_mode))
		rc = replace(path, dest, buf, len, err);
	else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
		rc = write_in_place(path, dest, st.st_mode, buf, len, err);
	else
		rc = nash_err(err, NASH_ERR_RUNTIME,
			      "%s: is %s; an output must be a file, a character device, a FIFO or a socket", nash_name(path).s,
			      S_ISDIR(st.st_mode) ? "a directory" : S_ISBLK(st.st_mode) ? "a block device" : "of an unknown type");
	free(dest);
	return rc;
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
