/* An LD_PRELOAD library for the Bats tests' training hooks (pipeline.bash, slurm.bats): the
 * process stops itself (SIGSTOP, every thread) right after it renames a file into place as
 * $NASH_STOP_ON_RENAME, e.g. a training's first checkpoint. A test that interrupts a training
 * once it has checkpointed then finds it there, stopped, however fast its next epochs would
 * have been: no race against the rest of the training (a hook that only watched for the file
 * lost it whenever the training finished first, as on a loaded machine). Built by `make
 * fixtures` as $(BUILD)/tests/stop_on_rename.so. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rename(const char *from, const char *to)
{
	static int (*real_rename)(const char *, const char *);
	if (!real_rename)
		*(void **)&real_rename = dlsym(RTLD_NEXT, "rename");
	int r = real_rename(from, to);
	const char *stop_at = getenv("NASH_STOP_ON_RENAME");
	if (r == 0 && stop_at && strcmp(to, stop_at) == 0)
		raise(SIGSTOP);
	return r;
}
