/* The hand-over of a model from the isolated child that read it to the program (lib/model/
   model_handover.c, lib/base/wire.c): exact, and hardened. The program trusts nothing a child
   sends (the child parsed an untrusted file and may have been subverted by it), so every
   truncation of a hand-over must be refused, and every corrupted byte must give either a
   refusal or a model that passes every check the file reader makes; and the bytes that come
   back through isolate_read are exactly the bytes the child put, up to the caller's bound. */
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#include "base/isolate.h"
#include "base/wire.h"
#include "model/handover.h"
#include "model/init.h"
#include "model/model.h"

/* A small checkpoint with every part a model file can hold: momentum and weight averages, a
   run, epochs, lineage, accuracies. */
static void make_model(Model *m)
{
	NashErr err = {0};
	int widths[] = {2, 3};
	CHECKF(seed_network(m, "cifar10", 3, 8, 8, 10, widths, 2, 7, &err) == 0, "%s", err.msg);
	m->std[0] = m->std[1] = m->std[2] = 0.25f;
	m->mean[1] = 0.5f;
	m->val_size = 10;
	m->val_accuracy = 0.5f;
	m->val_tta = TTA_FLIP;
	for (int i = 0; i < m->g.n_nodes; i++)
		for (int p = 0; p < m->g.nodes[i].n_params; p++) {
			Tensor *t = &m->g.nodes[i].params[p];
			size_t n = tensor_size(t);
			t->momentum = calloc(n, sizeof(float));
			t->ema = malloc(n * sizeof(float));
			for (size_t k = 0; k < n; k++) {
				t->momentum[k] = 0.001f * (float)k;
				t->ema[k] = t->data[k];
			}
		}
	RunSettings rs = {.seed = 3, .batch = 4, .epochs = 3, .limit = 0, .lr_start = 0.1f, .tta = "none"};
	snprintf(rs.engine, sizeof rs.engine, "cpu");
	snprintf(rs.host, sizeof rs.host, "host");
	CHECK(model_add_run(m, &rs, &err) == 0);
	EpochRecord rec = {0, 1, 0.1f, 2.0f, 0.25f, NAN, NAN, 1.5f};
	CHECK(model_add_record(m, &rec, &err) == 0);
	Morphism mm = {.op = "wider", .node = 1, .kernel = -1, .factor = 2, .source = -1, .target = -1, .seed = 9};
	CHECK(model_add_morphism(m, &mm, &err) == 0);
	m->ckpt_epochs_done = 1;
	char names[10][NASH_CLASS_NAME_MAX] = {"avion", "automobile", "oiseau", "chat", "cerf", "chien", "grenouille",
					       "cheval", "navire", "camion \xc3\xa9t\xc3\xa9"};
	CHECK(model_set_class_names(m, names[0], &err) == 0);
}

/* The model file's bytes, which are the same for the same model (docs/FORMAT.md,
   "Determinism"): how two models are compared. */
static void *file_of(const Model *m, size_t *len)
{
	NashErr err = {0};
	void *buf = NULL;
	CHECKF(model_write_mem(m, &buf, len, &err) == 0, "%s", err.msg);
	return buf;
}

static int take(const void *p, size_t n, Model *m, NashErr *err)
{
	WireIn r;
	wire_in_init(&r, p, n);
	if (model_handover_get(&r, m, "m.h5", err))
		return -1;
	if (model_handover_end(&r, "m.h5", err)) {
		model_free(m);
		return -1;
	}
	return 0;
}

TEST(a_model_comes_back_exactly)
{
	Model m, back;
	make_model(&m);
	WireOut w;
	wire_out_init(&w);
	model_handover_put(&w, &m);
	CHECK(!w.oom);
	NashErr err = {0};
	CHECKF(take(w.p, w.n, &back, &err) == 0, "%s", err.msg);
	size_t la, lb;
	void *a = file_of(&m, &la), *b = file_of(&back, &lb);
	CHECK(a && b && la == lb && memcmp(a, b, la) == 0);
	CHECK(w.n <= model_handover_bound(la)); /* far within what a file of its size may hand over */
	free(a);
	free(b);
	model_free(&back);
	/* one byte more than was put: refused */
	wire_put(&w, "", 1);
	CHECK(take(w.p, w.n, &back, &err) == -1 && strstr(err.msg, "m.h5: corrupt HDF5 file (its reading process"));
	wire_out_free(&w);
	model_free(&m);
}

TEST(every_truncation_is_refused)
{
	Model m, back;
	make_model(&m);
	WireOut w;
	wire_out_init(&w);
	model_handover_put(&w, &m);
	int wrong = 0;
	for (size_t n = 0; n < w.n; n++) {
		NashErr err = {0};
		if (take(w.p, n, &back, &err) == 0) {
			model_free(&back);
			wrong++;
		} else if (!strstr(err.msg, "m.h5: ")) {
			wrong++;
		}
	}
	CHECKF(wrong == 0, "%d of %zu truncations taken, or refused without naming the file", wrong, w.n);
	wire_out_free(&w);
	model_free(&m);
}

/* Corrupted bytes: each position of the hand-over changed in several ways. What is taken must
   pass the checks the file reader makes (model_validate; the graph's own checks ran while it
   was taken), and, for a sample, be what the writer writes and the file reader reads again. */
TEST(every_corrupted_byte_is_refused_or_checked)
{
	Model m, back;
	make_model(&m);
	WireOut w;
	wire_out_init(&w);
	model_handover_put(&w, &m);
	unsigned char *p = malloc(w.n);
	const unsigned char flips[] = {0x01, 0x80, 0xff, 0x7f};
	int taken = 0, wrong = 0;
	for (size_t i = 0; i < w.n; i++)
		for (size_t f = 0; f < sizeof flips; f++) {
			memcpy(p, w.p, w.n);
			p[i] ^= flips[f];
			NashErr err = {0};
			if (take(p, w.n, &back, &err))
				continue;
			taken++;
			wrong += model_validate(&back, &err) != 0;
			if (taken % 97 == 0) {
				size_t len;
				void *buf = file_of(&back, &len);
				Model again;
				wrong += !buf || model_parse_mem(&again, buf, len, "again", &err) != 0;
				if (buf)
					model_free(&again);
				free(buf);
			}
			model_free(&back);
		}
	printf("# %d of %zu corrupted hand-overs were taken (changed weights, mostly), all checked\n", taken,
	       w.n * sizeof flips);
	CHECK(wrong == 0);
	free(p);
	wire_out_free(&w);
	model_free(&m);
}

/* Counts the child claims without the bytes behind them: refused before anything that large
   is allocated (the counts are checked against the bytes left). */
TEST(counts_without_bytes_are_refused)
{
	Model m, back;
	make_model(&m);
	m.n_runs = m.n_records = m.n_lineage = 0; /* the tables, last, are easy to forge */
	model_drop_optimizer(&m);
	WireOut w;
	wire_out_init(&w);
	model_handover_put(&w, &m);
	size_t tables = w.n - 3 * sizeof(int32_t);
	const int32_t claims[][3] = {{100000, 0, 0}, {0, 1000000, 0}, {0, 0, 100000}, {-1, 0, 0}, {100001, 0, 0}};
	for (size_t k = 0; k < sizeof claims / sizeof claims[0]; k++) {
		memcpy(w.p + tables, claims[k], sizeof claims[k]);
		NashErr err = {0};
		CHECKF(take(w.p, w.n, &back, &err) == -1 && strstr(err.msg, "rows of"), "%zu: %s", k, err.msg);
	}
	wire_out_free(&w);
	model_free(&m);
}

/* A child hands over a large report: it comes back whole through the pipe. */
static int hands_over(void *arg, WireOut *out, NashErr *err)
{
	size_t n = *(const size_t *)arg;
	for (size_t i = 0; i < n / 8; i++)
		wire_put_u64(out, i * 0x9e3779b97f4a7c15ULL);
	return 0;
}

TEST(isolate_read_hands_over_the_bytes_put)
{
	size_t n = (size_t)8 << 20, got_n = 0;
	void *got = NULL;
	NashErr err = {0};
	CHECKF(isolate_read(hands_over, &n, "big.h5", n, n, &got, &got_n, &err) == 0, "%s", err.msg);
	int same = got && got_n == n;
	for (size_t i = 0; same && i < n / 8; i++) {
		uint64_t v;
		memcpy(&v, (char *)got + 8 * i, 8);
		same = v == i * 0x9e3779b97f4a7c15ULL;
	}
	CHECK(same);
	free(got);
	/* more than the caller's bound: refused, nothing handed back */
	CHECK(isolate_read(hands_over, &n, "big.h5", n, n - 8, &got, &got_n, &err) == -1 && got == NULL);
	CHECKF(strstr(err.msg, "big.h5: corrupt HDF5 file (reading it gave 8388608 bytes, more than the 8388600 it may)"),
	       "%s", err.msg);
}

int main(void)
{
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	RUN(a_model_comes_back_exactly);
	RUN(every_truncation_is_refused);
	RUN(every_corrupted_byte_is_refused_or_checked);
	RUN(counts_without_bytes_are_refused);
	RUN(isolate_read_hands_over_the_bytes_put);
	CHECK_DONE();
}
