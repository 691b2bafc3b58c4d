/* Crash isolation (lib/base/isolate.h), the superblock checksum nash recomputes, the one set of
   limits on the writer's side, and what isolation costs per file read. */
#include <hdf5.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "check.h"

#include "base/h5util.h"
#include "base/isolate.h"
#include "base/limits.h"
#include "model/init.h"
#include "model/model.h"

static int succeeds(void *arg, NashErr *err) { return 0; }

static int fails(void *arg, NashErr *err) { return nash_err(err, NASH_ERR_OOM, "%s: too big", (const char *)arg); }

static int crashes(void *arg, NashErr *err)
{
	raise(SIGSEGV); /* what HDF5 does on some crafted files */
	return 0;
}

static int spins(void *arg, NashErr *err)
{
	volatile int *never = arg;
	while (!*never)
		;
	return 0;
}

static int writes_stdout_then_crashes(void *arg, NashErr *err)
{
	printf("not ok - the child's output must never appear\n"); /* stays in the child's buffer */
	abort();
}

TEST(isolation_reports_results_errors_and_crashes)
{
	NashErr err = {0};
	CHECK(isolate_check(succeeds, NULL, "f.h5", &err) == 0);
	CHECK(isolate_check(fails, "f.h5", "f.h5", &err) == -1);
	CHECKF(err.code == NASH_ERR_OOM && strcmp(err.msg, "f.h5: too big") == 0, "%d %s", err.code, err.msg);
	CHECK(isolate_check(crashes, NULL, "f.h5", &err) == -1);
	CHECKF(err.code == NASH_ERR_RUNTIME && strncmp(err.msg, "f.h5: corrupt HDF5 file", 23) == 0, "%s", err.msg);
	fflush(stdout);
	CHECK(isolate_check(writes_stdout_then_crashes, NULL, "g.h5", &err) == -1);
	CHECKF(strstr(err.msg, "g.h5: corrupt HDF5 file (reading it crashed: Abort") != NULL, "%s", err.msg);
	(void)spins; /* the CPU limit (minutes) is too long for a unit test; SIGXCPU is reported like a crash */
}

uint32_t H5_checksum_lookup3(const void *key, size_t length, uint32_t initval); /* libhdf5's own */

TEST(checksum_is_hdf5s)
{
	unsigned char b[100];
	for (int i = 0; i < 100; i++)
		b[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n <= 100; n++)
		CHECKF(h5_checksum(b, n) == H5_checksum_lookup3(b, n, 0), "length %zu", n);
}

static void seed(Model *m, const int *widths, int n)
{
	NashErr err = {0};
	CHECKF(seed_network(m, "fashion-mnist", 1, 28, 28, 10, widths, n, 1, &err) == 0, "%s", err.msg);
	m->std[0] = 1;
}

TEST(images_open_with_their_checksums)
{
	Model m, back;
	int widths[] = {4, 8};
	seed(&m, widths, 2);
	void *buf;
	size_t len;
	NashErr err = {0};
	CHECKF(model_write_mem(&m, &buf, &len, &err) == 0, "%s", err.msg);
	CHECK(len > 48 && ((unsigned char *)buf)[8] == 2); /* superblock version 2 */
	CHECKF(model_read_mem(&back, buf, len, "mem", &err) == 0, "%s", err.msg);
	model_free(&back);
	((unsigned char *)buf)[20] ^= 1; /* the superblock's base address */
	CHECK(model_read_mem(&back, buf, len, "mem", &err) == -1);
	CHECKF(strstr(err.msg, "corrupt HDF5 file") != NULL, "%s", err.msg);
	free(buf);
	model_free(&m);
}

TEST(the_writer_keeps_the_readers_limits)
{
	Model m;
	int widths[] = {4};
	seed(&m, widths, 1);
	NashErr err = {0};
	void *buf;
	size_t len;
	Morphism mm = {.op = "wider", .node = 1, .kernel = -1, .factor = 2, .source = -1, .target = -1};
	for (int i = 0; i <= NASH_MAX_LINEAGE; i++)
		CHECK(model_add_morphism(&m, &mm, &err) == 0);
	CHECK(model_write_mem(&m, &buf, &len, &err) == -1);
	CHECKF(strstr(err.msg, "lineage has 100001 rows, more than 100000") != NULL, "%s", err.msg);
	m.n_lineage = NASH_MAX_LINEAGE;
	CHECKF(model_write_mem(&m, &buf, &len, &err) == 0, "%s", err.msg);
	Model back;
	CHECKF(model_read_mem(&back, buf, len, "mem", &err) == 0, "%s", err.msg); /* at the limit: read */
	CHECK(back.n_lineage == NASH_MAX_LINEAGE);
	model_free(&back);
	free(buf);
	m.n_lineage = 0;

	struct {
		float val, test;
		int failed;
		const char *dataset, *phrase;
	} bad[] = {
		{5.0f, NAN, 0, "fashion-mnist", "val_accuracy 5 is not in 0..1"},
		{-1.0f, NAN, 0, "fashion-mnist", "val_accuracy -1 is not in 0..1"},
		{NAN, 1.5f, 0, "fashion-mnist", "test_accuracy 1.5 is not in 0..1"},
		{NAN, NAN, 2, "fashion-mnist", "failed is 2, must be 0 or 1"},
		{NAN, NAN, -1, "fashion-mnist", "failed is -1, must be 0 or 1"},
		{NAN, NAN, 0, "fashion\tmnist\n", "dataset name is not"},
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		Model c;
		CHECK(model_clone(&c, &m, &err) == 0);
		c.val_accuracy = bad[k].val;
		c.test_accuracy = bad[k].test;
		c.failed = bad[k].failed;
		snprintf(c.dataset, sizeof c.dataset, "%s", bad[k].dataset);
		CHECKF(model_write_mem(&c, &buf, &len, &err) == -1 && strstr(err.msg, bad[k].phrase), "%zu: %s", k,
		       err.msg);
		model_free(&c);
	}
	for (int i = 0; i < m.g.n_nodes; i++)
		if (m.g.nodes[i].op == OP_BN)
			for (int p = 0; p < m.g.nodes[i].n_params; p++)
				if (strcmp(m.g.nodes[i].params[p].name, "running_var") == 0)
					m.g.nodes[i].params[p].data[0] = -0.5f;
	CHECK(model_write_mem(&m, &buf, &len, &err) == -1);
	CHECKF(strstr(err.msg, "running_var: element 0 is -0.5") != NULL, "%s", err.msg);
	model_free(&m);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Not a check but a measurement, printed as TAP comments: milliseconds per read with and
   without the isolating child, for a small and a larger model. */
TEST(isolation_cost)
{
	int small[] = {4, 8}, large[] = {64, 128, 256};
	const int *widths[] = {small, large};
	int n_widths[] = {2, 3};
	for (int k = 0; k < 2; k++) {
		Model m, back;
		seed(&m, widths[k], n_widths[k]);
		void *buf;
		size_t len;
		NashErr err = {0};
		CHECK(model_write_mem(&m, &buf, &len, &err) == 0);
		int reps = k ? 10 : 50;
		double t0 = now();
		for (int i = 0; i < reps; i++) {
			CHECK(model_parse_mem(&back, buf, len, "mem", &err) == 0);
			model_free(&back);
		}
		double t1 = now();
		for (int i = 0; i < reps; i++) {
			CHECK(model_read_mem(&back, buf, len, "mem", &err) == 0);
			model_free(&back);
		}
		double t2 = now();
		printf("# isolation cost: %zu-byte model (%zu parameters): %.2f ms per read unisolated, %.2f ms isolated\n",
		       len, graph_param_count(&m.g), 1e3 * (t1 - t0) / reps, 1e3 * (t2 - t1) / reps);
		free(buf);
		model_free(&m);
	}
}

int main(void)
{
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	RUN(isolation_reports_results_errors_and_crashes);
	RUN(checksum_is_hdf5s);
	RUN(images_open_with_their_checksums);
	RUN(the_writer_keeps_the_readers_limits);
	RUN(isolation_cost);
	CHECK_DONE();
}
