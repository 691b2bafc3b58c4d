/* Fuzz target for the model, checkpoint and ensemble readers (libFuzzer; `make fuzz`). The
   input is read as an in-memory file image by the readers without their crash isolation (a
   crash must be seen here, not turned into an error in a child). A file the readers accept must
   also be written back and read again: a tool must never write a file its own reader rejects
   (the limits in lib/base/limits.h hold on both sides); and each model it holds must come back
   whole from the hand-over that the isolated readers' child makes (model/handover.h).
   tests/fuzz/README.md says how to run it and how a crash joins the regression corpus. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/handover.h"
#include "model/model.h"
#include "search/ensemble.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An accepted input that cannot be rewritten, or whose rewrite is refused: a bug. */
static void fail(const char *what, const NashErr *err)
{
	fprintf(stderr, "fuzz_readers: %s: %s\n", what, err->msg);
	abort();
}

/* Model m handed over and taken back, as the isolated readers do: the same model (the same
   file bytes), or a bug. */
static void hand_over(const Model *m)
{
	NashErr err = {0};
	WireOut w;
	wire_out_init(&w);
	model_handover_put(&w, m);
	WireIn r;
	wire_in_init(&r, w.p, w.n);
	Model back;
	if (w.oom || model_handover_get(&r, &back, "handed over", &err) || model_handover_end(&r, "handed over", &err))
		fail("an accepted model does not come back from the hand-over", &err);
	void *a = NULL, *b = NULL;
	size_t la = 0, lb = 0;
	if (model_write_mem(m, &a, &la, &err) || model_write_mem(&back, &b, &lb, &err) || la != lb || memcmp(a, b, la))
		fail("a model comes back from the hand-over changed", &err);
	free(a);
	free(b);
	model_free(&back);
	wire_out_free(&w);
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
		for (int i = 0; i < e.n; i++)
			hand_over(&e.members[i]);
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
