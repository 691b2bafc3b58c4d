/* Shared by the dataset tests (test_data.c, test_data_bad.c): the fixtures of
   tests/fixtures/gen_fixtures.c, written into a temporary directory (fx) and named by spec_of;
   files written by hand into it, and its removal; test_data_h5.c uses the directory and its
   removal only. Header-only (a helper a program does not use is marked so). */
#ifndef NASH_DATA_FIXTURES_H
#define NASH_DATA_FIXTURES_H

#include "check.h"
#include "data/data.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GEN_FIXTURES_NO_MAIN
#include "../fixtures/gen_fixtures.c"

#define NASH_MAYBE_UNUSED __attribute__((unused))

static char fx[512]; /* the temporary fixture directory */

static void rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *dir = opendir(path);
		struct dirent *e;
		while (dir && (e = readdir(dir))) {
			char sub[1024];
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
			rm_tree(sub);
		}
		if (dir)
			closedir(dir);
		rmdir(path);
	} else {
		unlink(path);
	}
}

NASH_MAYBE_UNUSED static void write_file(const char *dir, const char *name, const uint8_t *data, size_t n)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, n, f) != n) {
		printf("# cannot write %s\n", path);
		exit(1);
	}
	fclose(f);
}

NASH_MAYBE_UNUSED static char *spec_of(const char *name, const char *sub)
{
	static char s[1100];
	snprintf(s, sizeof s, "%s:%s/%s", name, fx, sub);
	return s;
}

/* Makes fx, $TMPDIR/nash-test-NAME-XXXXXX (or under /tmp), and writes the fixtures into it;
   -1, having said why, when it cannot. */
NASH_MAYBE_UNUSED static int fixtures_make(const char *name)
{
	char msg[1200];
	const char *tmp = getenv("TMPDIR");
	snprintf(fx, sizeof fx, "%s/nash-test-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	if (!mkdtemp(fx)) {
		printf("# mkdtemp %s failed\n", fx);
		return -1;
	}
	if (gen_fixtures(fx, msg, sizeof msg)) {
		printf("# gen_fixtures: %s\n", msg);
		rm_tree(fx);
		return -1;
	}
	return 0;
}

#endif
