/* Crash isolation (lib/base/isolate.h), the superblock checksum nash recomputes, the one set of
   limits on the writer's side, and what isolation costs per file read. */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
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

static int fails(void *arg, NashErr *err) { return nash_err(err, NASH_ERR_DIVERGED, "%s: bad", (const char *)arg); }

static int runs_out_of_memory(void *arg, NashErr *err) { return nash_err(err, NASH_ERR_OOM, "out of memory"); }

static int crashes(void *arg, NashErr *err)
{
	raise(SIGSEGV); /* what HDF5 does on some crafted files */
	return 0;
}

static int spins(void *arg, NashErr *err)
{
	for (volatile unsigned long i = 0;; i++)
		;
	return 0;
}

static int blocks(void *arg, NashErr *err)
{
	pause(); /* never woken: a read stuck without using CPU (a FIFO, a hung file system) */
	return 0;
}

/* Allocates and touches `*arg` bytes, as HDF5 does for a length read from a crafted file. */
static int allocates(void *arg, NashErr *err)
{
	size_t n = *(const size_t *)arg;
	char *p = malloc(n);
	if (!p)
		return nash_err(err, NASH_ERR_OOM, "out of memory");
	memset(p, 1, n);
	int sum = p[n - 1];
	free(p);
	return sum == 1 ? 0 : -1;
}

/* What HDF5 reports when an allocation inside it fails: the same code path a memory bomb takes
   (the isolated child's limit makes malloc fail; HDF5 returns an error, and nash's reader words
   it as a read error). */
static int hdf5_allocation_fails(void *arg, NashErr *err)
{
	H5Quiet q;
	h5_quiet(&q);
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	/* a core file whose image is larger than any memory: HDF5 cannot allocate it */
	H5Pset_fapl_core(fapl, (size_t)1 << 62, 0);
	hid_t f = H5Fcreate("nowhere.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
	hid_t sp = H5Screate_simple(1, (hsize_t[]){(hsize_t)1 << 40}, NULL);
	hid_t d = f >= 0 ? H5Dcreate2(f, "x", H5T_NATIVE_UCHAR, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
	int rc = d >= 0 && H5Dwrite(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, "") >= 0 ? 0 : -1;
	h5_restore(&q);
	return rc ? nash_err(err, NASH_ERR_RUNTIME, "cannot write") : 0;
}

static int writes_stdout_then_crashes(void *arg, NashErr *err)
{
	printf("not ok - the child's output must never appear\n"); /* stays in the child's buffer */
	abort();
}

TEST(isolation_reports_results_errors_and_crashes)
{
	NashErr err = {0};
	CHECK(isolate_check(succeeds, NULL, "f.h5", 100, &err) == 0);
	CHECK(isolate_check(fails, "f.h5", "f.h5", 100, &err) == -1);
	CHECKF(err.code == NASH_ERR_DIVERGED && strcmp(err.msg, "f.h5: bad") == 0, "%d %s", err.code, err.msg);
	/* under the child's memory limit, running out of memory is the file's doing */
	CHECK(isolate_check(runs_out_of_memory, NULL, "m.h5", 100, &err) == -1);
	CHECKF(err.code == NASH_ERR_RUNTIME &&
		       strcmp(err.msg, "m.h5: corrupt HDF5 file (reading it needed more than 512 MiB of memory)") == 0,
	       "%d %s", err.code, err.msg);
	CHECK(isolate_check(crashes, NULL, "f.h5", 100, &err) == -1);
	CHECKF(err.code == NASH_ERR_RUNTIME && strncmp(err.msg, "f.h5: corrupt HDF5 file", 23) == 0, "%s", err.msg);
	fflush(stdout);
	CHECK(isolate_check(writes_stdout_then_crashes, NULL, "g.h5", 100, &err) == -1);
	CHECKF(strstr(err.msg, "g.h5: corrupt HDF5 file (reading it crashed: Abort") != NULL, "%s", err.msg);
}

TEST(limits_scale_with_the_file)
{
	CHECK(isolate_set_base_seconds(0) == -1 && isolate_set_base_seconds(NAN) == -1);
	CHECK(isolate_set_base_seconds(2) == 0);
	IsolateLimits small = isolate_limits(10000), big = isolate_limits((size_t)160 << 20);
	CHECKF(small.cpu_seconds == 2, "%g", small.cpu_seconds);
	CHECKF(big.cpu_seconds == 22 && isolate_limits(((size_t)16 << 20) - 1).cpu_seconds == 2, "%g", big.cpu_seconds); /* 2 s, and 2 s more for each further 16 MiB */
	CHECK(small.wall_seconds > small.cpu_seconds && big.wall_seconds > big.cpu_seconds);
	CHECKF(small.memory_bytes == ((size_t)512 << 20) + 320000, "%zu", small.memory_bytes);
	CHECK(big.memory_bytes == ((size_t)512 << 20) + 32 * ((size_t)160 << 20));
	CHECK(isolate_limits(SIZE_MAX).memory_bytes == SIZE_MAX);
	CHECK(isolate_set_base_seconds(ISOLATE_BASE_SECONDS_DEFAULT) == 0);
}

/* A read that spins is stopped by its CPU limit, one that blocks by its wall limit, one that
   allocates beyond its memory limit by that: each an error that says which, never a hang. The
   limits are set low here so that the test takes about a second. */
TEST(limits_stop_spins_hangs_and_memory_bombs)
{
	NashErr err = {0};
	CHECK(isolate_set_base_seconds(0.5) == 0);
	CHECK(isolate_check(spins, NULL, "spin.h5", 100, &err) == -1);
	/* 0.5 s of CPU time, or 7 s of wall time on a machine too loaded to give it that */
	CHECKF(err.code == NASH_ERR_RUNTIME && (strcmp(err.msg, "spin.h5: corrupt HDF5 file (reading it took more than 0.5 s)") == 0 ||
						strcmp(err.msg, "spin.h5: corrupt HDF5 file (reading it took more than 7 s)") == 0),
	       "%s", err.msg);
	CHECK(isolate_set_base_seconds(0.01) == 0); /* wall limit: 10 x 0.01 + 2 s */
	CHECK(isolate_check(blocks, NULL, "fifo.h5", 100, &err) == -1);
	CHECKF(strcmp(err.msg, "fifo.h5: corrupt HDF5 file (reading it took more than 2.1 s)") == 0, "%s", err.msg);
	CHECK(isolate_set_base_seconds(ISOLATE_BASE_SECONDS_DEFAULT) == 0);
	size_t fits = (size_t)64 << 20, bomb = (size_t)2 << 30; /* 2 GiB from a 10,000-byte file */
	CHECK(isolate_check(allocates, &fits, "ok.h5", 10000, &err) == 0);
	CHECK(isolate_check(allocates, &bomb, "bomb.h5", 10000, &err) == -1);
	CHECKF(err.code == NASH_ERR_RUNTIME &&
		       strcmp(err.msg, "bomb.h5: corrupt HDF5 file (reading it needed more than 512 MiB of memory)") == 0,
	       "%s", err.msg);
	CHECK(isolate_check(hdf5_allocation_fails, NULL, "h.h5", 10000, &err) == -1);
	CHECKF(strcmp(err.msg, "h.h5: corrupt HDF5 file (reading it needed more than 512 MiB of memory)") == 0,
	       "%s", err.msg);
	/* the same failures outside the isolation are what they are: no limit was the cause */
	CHECK(hdf5_allocation_fails(NULL, &err) == -1 && strcmp(err.msg, "cannot write") == 0);
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

/* A user block before the file (h5py's userblock_size): every address in the file is relative
   to where its superblock is, so weights copied straight from the image (modelfile_read_graph.c,
   copy_from_image) must be found past the block, as HDF5 itself finds them. */
TEST(a_user_block_moves_the_weights_with_it)
{
	Model m, back;
	int widths[] = {4, 8};
	seed(&m, widths, 2);
	void *buf;
	size_t len;
	NashErr err = {0};
	CHECKF(model_write_mem(&m, &buf, &len, &err) == 0, "%s", err.msg);
	unsigned char *ub = calloc(1, len + 512);
	memset(ub, 0x5a, 512); /* not weights: a wrong offset would read these */
	memcpy(ub + 512, buf, len);
	CHECKF(model_read_mem(&back, ub, len + 512, "ub.h5", &err) == 0, "%s", err.msg);
	int same = back.g.n_nodes == m.g.n_nodes;
	for (int i = 0; same && i < m.g.n_nodes; i++)
		for (int p = 0; same && p < m.g.nodes[i].n_params; p++) {
			const Tensor *a = &m.g.nodes[i].params[p], *b = &back.g.nodes[i].params[p];
			same = memcmp(a->data, b->data, tensor_size(a) * sizeof(float)) == 0;
		}
	CHECK(same);
	model_free(&back);
	free(ub);
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
	RUN(limits_scale_with_the_file);
	RUN(limits_stop_spins_hangs_and_memory_bombs);
	RUN(checksum_is_hdf5s);
	RUN(images_open_with_their_checksums);
	RUN(a_user_block_moves_the_weights_with_it);
	RUN(the_writer_keeps_the_readers_limits);
	RUN(isolation_cost);
	CHECK_DONE();
}
