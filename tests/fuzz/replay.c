/* Replays the regression corpus (tests/fuzz/regress) under AddressSanitizer and UBSan; `make
   test` runs it (tests/fuzz/replay.sh). Each file goes through the fuzz target (the readers
   without crash isolation, then writing back what they accept) and through the public readers
   with their isolation, which must answer with a result, never a crash. A file named
   isolated-* crashes inside HDF5 itself, beyond the reach of any check: it is replayed through
   the isolated readers only, which must refuse it. Prints one TAP line per
   file; exits 1 when any failed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/atomic.h"
#include "model/model.h"
#include "search/ensemble.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	int failed = 0;
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
		if (!only_isolated)
			LLVMFuzzerTestOneInput(buf, len);
		/* the child that crashes on an isolated-* file prints its sanitizer report: expected,
		   so it goes to /dev/null (the result is checked below) */
		int saved = -1;
		if (only_isolated) {
			fflush(stderr);
			saved = dup(2);
			int null = open("/dev/null", O_WRONLY);
			if (null >= 0) {
				dup2(null, 2);
				close(null);
			}
		}
		Model m;
		int mrc = model_read_mem(&m, buf, len, base, &err);
		char mmsg[sizeof err.msg];
		snprintf(mmsg, sizeof mmsg, "%s", mrc ? err.msg : "read");
		model_free(&m);
		Ensemble e;
		ensemble_init(&e);
		int erc = ensemble_read_mem_append(&e, buf, len, base, &err);
		ensemble_free(&e);
		if (saved >= 0) {
			dup2(saved, 2);
			close(saved);
		}
		/* whether HDF5 crashes on such a file depends on the heap around it: refused, with
		   "corrupt HDF5 file" when it crashed, is what the readers must answer */
		int ok = !only_isolated || (mrc && erc);
		printf("%s %d - %s: model reader: %s; ensemble reader: %s\n", ok ? "ok" : "not ok", i, base, mmsg,
		       erc ? err.msg : "read");
		fflush(stdout);
		failed |= !ok;
		free(buf);
	}
	printf("1..%d\n", argc - 1);
	return failed;
}
