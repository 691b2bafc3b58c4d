/* Datasets: every kind of broken file (from the generated fixtures, by hand, and sparse files
   of the official layout at full size) is refused with a message naming the file and the
   reason; a declared size not met, or an official one exceeded, likewise. Loading: test_data.c. */
#include "check.h"
#include "data/data.h"
#include "data_fixtures.h"

static void expect_error(const char *spec, int want_test, const char *file, const char *what)
{
	Dataset d;
	NashErr e = {0};
	int r = dataset_load(&d, spec, want_test, &e);
	CHECKF(r == -1 && e.code == NASH_ERR_RUNTIME, "%s loaded (rc %d code %d)", spec, r, e.code);
	CHECKF(strstr(e.msg, file) != NULL, "%s: message does not name %s: %s", spec, file, e.msg);
	CHECKF(strstr(e.msg, what) != NULL, "%s: message lacks '%s': %s", spec, what, e.msg);
	CHECK(d.train_x == NULL && d.train_y == NULL && d.test_x == NULL && d.n_train == 0);
	if (r == 0)
		dataset_free(&d);
}

TEST(test_broken)
{
	char f[1100], want[1300];
	snprintf(f, sizeof f, "%s/bad-truncated/train-images-idx3-ubyte.gz", fx);
	snprintf(want, sizeof want, "%s: truncated: expected %d bytes, got %d", f,
		 16 + GEN_BAD_TRAIN * 784, GEN_TRUNCATED_TO);
	expect_error(spec_of("fashion-mnist@64,32", "bad-truncated"), 0, f, want);
	snprintf(f, sizeof f, "%s/bad-trailing/train-images-idx3-ubyte.gz", fx);
	expect_error(spec_of("fashion-mnist@64,32", "bad-trailing"), 0, f, "trailing");
	snprintf(f, sizeof f, "%s/bad-magic/train-images-idx3-ubyte.gz", fx);
	expect_error(spec_of("fashion-mnist@64,32", "bad-magic"), 0, f, "magic");
	snprintf(f, sizeof f, "%s/bad-labels/train-labels-idx1-ubyte.gz", fx);
	expect_error(spec_of("fashion-mnist@64,32", "bad-labels"), 0, f, "label 12 at index 5");
	snprintf(f, sizeof f, "%s/bad-count/train-labels-idx1-ubyte.gz", fx);
	expect_error(spec_of("fashion-mnist@64,32", "bad-count"), 1, f, "63 labels");
	snprintf(f, sizeof f, "%s/bad-cifar-size/data_batch_1.bin", fx);
	expect_error(spec_of("cifar10@80,32", "bad-cifar-size"), 0, f, "multiple of the 3073-byte record");
	snprintf(f, sizeof f, "%s/bad-cifar-labels/data_batch_1.bin", fx);
	expect_error(spec_of("cifar10@80,32", "bad-cifar-labels"), 0, f, "label 10 of record 5");
	snprintf(f, sizeof f, "%s/missing/train-images-idx3-ubyte.gz", fx);
	expect_error(spec_of("fashion-mnist", "missing"), 0, f, "no such file");
	snprintf(f, sizeof f, "%s/missing/data_batch_1.bin", fx);
	expect_error(spec_of("cifar10", "missing"), 0, f, "No such file");
	expect_error(spec_of("cifar10@600,100", "missing"), 0, f, "No such file");
	/* Datasets are whole or refused: a missing batch, a short batch, a declared size not met */
	snprintf(f, sizeof f, "%s/bad-cifar-missing/data_batch_3.bin", fx);
	expect_error(spec_of("cifar10@80,32", "bad-cifar-missing"), 0, f, "No such file");
	expect_error(spec_of("cifar10", "bad-cifar-missing"), 0, f, "data_batch_1.bin .. data_batch_5.bin, 10000 records each");
	snprintf(f, sizeof f, "%s/bad-cifar-short/data_batch_1.bin", fx);
	expect_error(spec_of("cifar10@80,32", "bad-cifar-short"), 0, f, "79 records in all, expected 80");
	snprintf(f, sizeof f, "%s/cifar10/data_batch_1.bin", fx);
	expect_error(spec_of("cifar10@601,100", "cifar10"), 0, f, "600 records in all, expected 601");
	snprintf(f, sizeof f, "%s/cifar10/test_batch.bin", fx);
	expect_error(spec_of("cifar10@600,99", "cifar10"), 1, f, "100 records in all, expected 99");
	/* the fixtures are not the official datasets: their sizes must be declared */
	snprintf(f, sizeof f, "%s/cifar10/data_batch_1.bin", fx);
	expect_error(spec_of("cifar10", "cifar10"), 0, f, "120 records, expected 10000: the file is incomplete");
	snprintf(f, sizeof f, "%s/cifar100/train.bin", fx);
	expect_error(spec_of("cifar100", "cifar100"), 0, f, "600 records, expected 50000");
	snprintf(f, sizeof f, "%s/cifar100/test.bin", fx);
	expect_error(spec_of("cifar100@600,10000", "cifar100"), 1, f, "100 records in all, expected 10000");
	snprintf(f, sizeof f, "%s/fmnist/train-images-idx3-ubyte.gz", fx);
	expect_error(spec_of("fashion-mnist", "fmnist"), 0, f, "1200 images, expected 60000");
	expect_error(spec_of("fashion-mnist@1199,200", "fmnist"), 0, f, "1200 images, expected 1199");
	snprintf(f, sizeof f, "%s/fmnist/t10k-images-idx3-ubyte.gz", fx);
	expect_error(spec_of("fashion-mnist@1200,10000", "fmnist"), 1, f, "200 images, expected 10000");

	/* The official layout at full size, as sparse files (the sizes are checked before anything
	   is read): batch 3 short by one record at a record boundary; then batch 4 with a
	   truncated record; then batch 5 missing. */
	char big[600];
	snprintf(big, sizeof big, "%s/big-cifar10", fx);
	mkdir(big, 0755);
	for (int b = 1; b <= 5; b++) {
		snprintf(f, sizeof f, "%s/data_batch_%d.bin", big, b);
		FILE *h = fopen(f, "wb");
		CHECK(h && fclose(h) == 0 && truncate(f, (off_t)(b == 3 ? 9999 : 10000) * 3073) == 0);
	}
	snprintf(f, sizeof f, "%s/data_batch_3.bin", big);
	expect_error(spec_of("cifar10", "big-cifar10"), 0, f, "9999 records, expected 10000: the file is incomplete");
	CHECK(truncate(f, (off_t)10000 * 3073) == 0);
	snprintf(f, sizeof f, "%s/data_batch_4.bin", big);
	CHECK(truncate(f, (off_t)10000 * 3073 - 1) == 0);
	expect_error(spec_of("cifar10", "big-cifar10"), 0, f, "9999 whole records, then 3072 bytes of a truncated one");
	snprintf(f, sizeof f, "%s/data_batch_5.bin", big);
	CHECK(unlink(f) == 0);
	expect_error(spec_of("cifar10", "big-cifar10"), 0, f, "No such file");

	/* CIFAR-10 files are not CIFAR-100: train.bin is missing */
	snprintf(f, sizeof f, "%s/cifar10/train.bin", fx);
	expect_error(spec_of("cifar100", "cifar10"), 0, f, "No such file");

	/* wrong image size in an otherwise valid plain IDX file */
	char dir[600];
	snprintf(dir, sizeof dir, "%s/bad-dims", fx);
	mkdir(dir, 0755);
	uint8_t im[16 + 28 * 28], lb[9];
	memset(im, 0, sizeof im);
	gen_be32(im, 0x803), gen_be32(im + 4, 1), gen_be32(im + 8, 27), gen_be32(im + 12, 28);
	gen_be32(lb, 0x801), gen_be32(lb + 4, 1), lb[8] = 0;
	write_file(dir, "train-images-idx3-ubyte", im, 16 + 27 * 28);
	write_file(dir, "train-labels-idx1-ubyte", lb, sizeof lb);
	snprintf(f, sizeof f, "%s/train-images-idx3-ubyte", dir);
	expect_error(spec_of("fashion-mnist@1,1", "bad-dims"), 0, f, "expected 28x28 images, got 27x28");
	/* a labels file with an image magic */
	gen_be32(lb, 0x803);
	write_file(dir, "train-labels-idx1-ubyte", lb, sizeof lb);
	gen_be32(im + 8, 28);
	write_file(dir, "train-images-idx3-ubyte", im, sizeof im); /* now valid */
	snprintf(f, sizeof f, "%s/train-labels-idx1-ubyte", dir);
	expect_error(spec_of("fashion-mnist@1,1", "bad-dims"), 0, f, "magic");
}

/* Makes dir/name a sparse file of n records of rec bytes (all zero: valid pixels and label 0). */
static void sparse_file(const char *dir, const char *name, long n, long rec)
{
	char f[1100];
	snprintf(f, sizeof f, "%s/%s", dir, name);
	FILE *h = fopen(f, "wb");
	CHECK(h && fclose(h) == 0 && truncate(f, (off_t)n * rec) == 0);
}

/* A file of the official layout with another count: fewer records is incomplete, more is
   over-long; only a short training file is pointed to --limit (which limits training images),
   a test file or an over-long one to declaring its size. */
TEST(test_official_counts)
{
	char big[600], f[1100];
	snprintf(big, sizeof big, "%s/official-cifar10", fx);
	mkdir(big, 0755);
	for (int b = 1; b <= 5; b++) {
		char name[32];
		snprintf(name, sizeof name, "data_batch_%d.bin", b);
		sparse_file(big, name, b == 2 ? 10001 : 10000, 3073);
	}
	sparse_file(big, "test_batch.bin", 10001, 3073);
	snprintf(f, sizeof f, "%s/data_batch_2.bin", big);
	expect_error(spec_of("cifar10", "official-cifar10"), 0, f,
		     "10001 records, expected 10000: the file is longer than the official one (CIFAR-10's training set is "
		     "data_batch_1.bin .. data_batch_5.bin, 10000 records each; a copy of another size is declared as "
		     "cifar10@TRAIN,TEST:DIR)");
	sparse_file(big, "data_batch_2.bin", 10000, 3073);
	snprintf(f, sizeof f, "%s/test_batch.bin", big);
	expect_error(spec_of("cifar10", "official-cifar10"), 1, f,
		     "10001 records, expected 10000: the file is longer than the official one (CIFAR-10's test_batch.bin "
		     "holds 10000 records; a copy of another size is declared as cifar10@TRAIN,TEST:DIR)");
	sparse_file(big, "test_batch.bin", 9999, 3073);
	expect_error(spec_of("cifar10", "official-cifar10"), 1, f,
		     "9999 records, expected 10000: the file is incomplete (CIFAR-10's test_batch.bin holds 10000 "
		     "records; a copy of another size is declared as cifar10@TRAIN,TEST:DIR)");
	rm_tree(big);

	snprintf(big, sizeof big, "%s/official-cifar100", fx);
	mkdir(big, 0755);
	sparse_file(big, "train.bin", 50001, 3074);
	snprintf(f, sizeof f, "%s/train.bin", big);
	expect_error(spec_of("cifar100", "official-cifar100"), 0, f,
		     "50001 records, expected 50000: the file is longer than the official one");
	sparse_file(big, "train.bin", 49999, 3074);
	expect_error(spec_of("cifar100", "official-cifar100"), 0, f,
		     "49999 records, expected 50000: the file is incomplete (CIFAR-100's train.bin holds 50000 records; "
		     "to train on fewer images, use --limit)");
	rm_tree(big);

	/* Fashion-MNIST as plain IDX files: a header, then zeros */
	snprintf(big, sizeof big, "%s/official-fmnist", fx);
	mkdir(big, 0755);
	const struct {
		const char *name;
		uint32_t magic, count;
		long bytes; /* per item */
	} idx[] = {{"train-images-idx3-ubyte", 0x803, 60000, 784}, {"train-labels-idx1-ubyte", 0x801, 60000, 1},
		   {"t10k-images-idx3-ubyte", 0x803, 10001, 784}, {"t10k-labels-idx1-ubyte", 0x801, 10001, 1}};
	for (size_t k = 0; k < sizeof idx / sizeof idx[0]; k++) {
		uint8_t hd[16];
		int images = idx[k].magic == 0x803;
		gen_be32(hd, idx[k].magic), gen_be32(hd + 4, idx[k].count), gen_be32(hd + 8, 28), gen_be32(hd + 12, 28);
		write_file(big, idx[k].name, hd, images ? 16 : 8);
		snprintf(f, sizeof f, "%s/%s", big, idx[k].name);
		CHECK(truncate(f, (off_t)(images ? 16 : 8) + (off_t)idx[k].count * idx[k].bytes) == 0);
	}
	snprintf(f, sizeof f, "%s/t10k-images-idx3-ubyte", big);
	expect_error(spec_of("fashion-mnist", "official-fmnist"), 1, f,
		     "10001 images, expected 10000: the file is longer than the official one (Fashion-MNIST's test set "
		     "has 10000; a copy of another size is declared as fashion-mnist@TRAIN,TEST:DIR)");
	rm_tree(big);
}

int main(void)
{
	if (fixtures_make("data-bad"))
		return 1;
	RUN(test_broken);
	RUN(test_official_counts);
	rm_tree(fx);
	CHECK_DONE();
}
