/* Replays the regression corpus (tests/fuzz/regress) under AddressSanitizer and UBSan; `make
   test` runs it (tests/fuzz/replay.sh). Each file goes through the readers without isolation
   (for a model file the fuzz target: the readers, then writing back what they accept) and then
   through the public readers with their isolation, which must answer with a result, never a
   crash. A file named dataset-* is a dataset file (`h5:FILE`, the reader of fuzz_datasets.c),
   any other a model, checkpoint or ensemble file. A file named isolated-* crashes, spins or
   allocates without bound inside HDF5 itself, beyond the reach of any check: it is replayed
   through the isolated readers only, which must refuse it. The isolated readers' time base is
   0.25 s here (NASH_READ_TIMEOUT's 3 s in the tools), so that the files that spin are stopped
   within about a second each. Prints one TAP line per file; exits 1 when any failed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/isolate.h"
#include "data/data.h"
#include "model/model.h"
#include "search/ensemble.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Quiets stderr while the isolated readers run on a file that crashes HDF5: the child's
   sanitizer report is expected (the result is checked); returns what to restore. */
static int quiet_stderr(void)
{
	fflush(stderr);
	int saved = dup(2);
	int null = open("/dev/null", O_WRONLY);
	if (null >= 0) {
		dup2(null, 2);
		close(null);
	}
	return saved;
}

static void restore_stderr(int saved)
{
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
}

/* A model, checkpoint or ensemble file; 1 when the readers answered as they must. */
static int replay_model(int i, const char *base, const void *buf, size_t len, int only_isolated)
{
	NashErr err = {0};
	if (!only_isolated)
		LLVMFuzzerTestOneInput(buf, len);
	int saved = only_isolated ? quiet_stderr() : -1;
	Model m;
	int mrc = model_read_mem(&m, buf, len, base, &err);
	char mmsg[sizeof err.msg];
	snprintf(mmsg, sizeof mmsg, "%s", mrc ? err.msg : "read");
	model_free(&m);
	Ensemble e;
	ensemble_init(&e);
	int erc = ensemble_read_mem_append(&e, buf, len, base, &err);
	ensemble_free(&e);
	restore_stderr(saved);
	/* whether HDF5 crashes on such a file depends on the heap around it: refused, with
	   "corrupt HDF5 file" when it crashed, is what the readers must answer */
	int ok = !only_isolated || (mrc && erc);
	printf("%s %d - %s: model reader: %s; ensemble reader: %s\n", ok ? "ok" : "not ok", i, base, mmsg,
	       erc ? err.msg : "read");
	return ok;
}

/* A dataset file; 1 when the reader answered as it must. */
static int replay_dataset(int i, const char *path, const char *base, const void *buf, size_t len, int only_isolated)
{
	NashErr err = {0};
	Dataset d;
	if (!only_isolated && dataset_parse_h5_mem(&d, buf, len, base, 1, &err) == 0)
		dataset_free(&d);
	int saved = only_isolated ? quiet_stderr() : -1;
	int rc = dataset_load_h5(&d, path, 1, &err);
	restore_stderr(saved);
	if (rc == 0)
		dataset_free(&d);
	int ok = !only_isolated || rc;
	printf("%s %d - %s: dataset reader: %s\n", ok ? "ok" : "not ok", i, base, rc ? err.msg : "read");
	return ok;
}

int main(int argc, char **argv)
{
	int failed = 0;
	isolate_set_base_seconds(0.25);
	for (int i = 1; i < argc; i++) {
		void *buf;
		size_t len;
		NashErr err = {0};
		const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
		if (read_all(argv[i], &buf, &len, &err)) {
			printf("not ok %d - %s: %s\n", i, base, err.msg);
			failed = 1;
			continue;
		}
		int only_isolated = strncmp(base, "isolated-", 9) == 0;
		const char *kind = only_isolated ? base + 9 : base;
		int ok = strncmp(kind, "dataset-", 8) == 0 ? replay_dataset(i, argv[i], base, buf, len, only_isolated)
							    : replay_model(i, base, buf, len, only_isolated);
		fflush(stdout);
		failed |= !ok;
		free(buf);
	}
	printf("1..%d\n", argc - 1);
	return failed;
}
