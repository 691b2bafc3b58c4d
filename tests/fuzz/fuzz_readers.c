/* Fuzz target for the model, checkpoint and ensemble readers (libFuzzer; `make fuzz`). The
   input is read as an in-memory file image by the readers without their crash isolation (a
   crash must be seen here, not turned into an error in a child). A file the readers accept must
   also be written back and read again: a tool must never write a file its own reader rejects
   (the limits in lib/base/limits.h hold on both sides). tests/fuzz/README.md says how to run it
   and how a crash joins the regression corpus. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/model.h"
#include "search/ensemble.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An accepted input that cannot be rewritten, or whose rewrite is refused: a bug. */
static void fail(const char *what, const NashErr *err)
{
	fprintf(stderr, "fuzz_readers: %s: %s\n", what, err->msg);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	NashErr err = {0};
	Ensemble e;
	ensemble_init(&e);
	/* a model file (or checkpoint) or an ensemble file: told apart by the reader */
	if (ensemble_parse_mem_append(&e, data, size, "fuzz", &err) == 0) {
		void *buf;
		size_t len;
		if (ensemble_write_mem(&e, &buf, &len, &err))
			fail("an accepted file cannot be written back", &err);
		Ensemble back;
		ensemble_init(&back);
		if (ensemble_parse_mem_append(&back, buf, len, "rewritten", &err))
			fail("the rewritten file is refused", &err);
		ensemble_free(&back);
		free(buf);
		Model m;
		if (e.n == 1 && model_write_mem(&e.members[0], &buf, &len, &err) == 0) {
			if (model_parse_mem(&m, buf, len, "rewritten model", &err))
				fail("the rewritten model is refused", &err);
			model_free(&m);
			free(buf);
		} else if (e.n == 1) {
			fail("an accepted model cannot be written back", &err);
		}
	}
	ensemble_free(&e);
	return 0;
}
