/* Datasets: loading every format from generated fixtures (and the real Fashion-MNIST when
   installed), the split, normalisation statistics, batch planning and the CPU batch builder's
   crop/flip/normalise arithmetic. Broken and mis-sized files: test_data_bad.c. */
#include "check.h"
#include "backend/ref/ref_ops.h"
#include "data/data.h"
#include "data_fixtures.h"

/* Every loaded image and label equals what the generator makes. */
static void check_against_gen(const uint8_t *x, const uint8_t *y, int n, int c, int h, int w,
			      int n_classes, int stream)
{
	size_t sz = (size_t)c * h * w;
	uint8_t *img = malloc(sz); /* [c, h, w] */
	int bad = 0;
	for (int i = 0; i < n && bad < 3; i++) {
		int k = gen_image(img, c, h, w, n_classes, stream, i);
		if (k != y[i] || memcmp(img, x + i * sz, sz)) {
			CHECKF(0, "stream %d image %d differs (label %d vs %d)", stream, i, y[i], k);
			bad++;
		}
	}
	free(img);
}

TEST(test_parse_spec)
{
	char name[64], dir[512];
	int sizes[2] = {-1, -1};
	NashErr e;
	CHECK(data_parse_spec("fashion-mnist", name, sizeof name, dir, sizeof dir, sizes, &e) == 0);
	CHECK(!strcmp(name, "fashion-mnist") && !strcmp(dir, NASH_FMNIST_DIR));
	CHECK(data_parse_spec("fashion-mnist:/a/b", name, sizeof name, dir, sizeof dir, sizes, &e) == 0);
	CHECK(!strcmp(name, "fashion-mnist") && !strcmp(dir, "/a/b"));
	CHECK(data_parse_spec("cifar10:rel/dir", name, sizeof name, dir, sizeof dir, sizes, &e) == 0);
	CHECK(!strcmp(name, "cifar10") && !strcmp(dir, "rel/dir"));
	CHECK(data_parse_spec("cifar100:/x:y", name, sizeof name, dir, sizeof dir, sizes, &e) == 0);
	CHECK(!strcmp(name, "cifar100") && !strcmp(dir, "/x:y") && sizes[0] == 0 && sizes[1] == 0);
	/* a dataset of another size declares it */
	CHECK(data_parse_spec("cifar10@600,100:/d@x", name, sizeof name, dir, sizeof dir, sizes, &e) == 0);
	CHECK(!strcmp(name, "cifar10") && !strcmp(dir, "/d@x") && sizes[0] == 600 && sizes[1] == 100);
	CHECK(data_parse_spec("fashion-mnist@7,1", name, sizeof name, dir, sizeof dir, sizes, &e) == 0);
	CHECK(!strcmp(name, "fashion-mnist") && !strcmp(dir, NASH_FMNIST_DIR) && sizes[0] == 7 && sizes[1] == 1);
	const char *bad[] = {"", "cifar10", "cifar100", "fashion-mnist:", "cifar10:", "mnist:/x",
			     "cifar1000:/x", "Fashion-MNIST", ":/x", "fashion-mnistx", "cifar10@:/x",
			     "cifar10@600:/x", "cifar10@600,:/x", "cifar10@,100:/x", "cifar10@0,100:/x",
			     "cifar10@600,100,1:/x", "cifar10@-6,100:/x", "cifar10@6,+1:/x", "cifar10@6, 1:/x",
			     "cifar10@600,100", "cifar10@ 6,1:/x", "cifar10@999999999,1:/x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		nash_err_clear(&e);
		int r = data_parse_spec(bad[i], name, sizeof name, dir, sizeof dir, sizes, &e);
		CHECKF(r == -1 && e.code == NASH_ERR_USAGE, "'%s' accepted", bad[i]);
		CHECKF(strstr(e.msg, "cifar100:DIR") && strstr(e.msg, "fashion-mnist:DIR"),
		       "message does not list the forms: %s", e.msg);
	}
	char small[4];
	CHECK(data_parse_spec("cifar10:/x", small, sizeof small, dir, sizeof dir, sizes, &e) == -1);
	CHECK(data_parse_spec("cifar10:/long", name, sizeof name, small, sizeof small, sizes, &e) == -1);
	Dataset d;
	CHECK(dataset_load(&d, "cifar10", 0, &e) == -1 && e.code == NASH_ERR_USAGE);
	CHECK(d.train_x == NULL && d.n_train == 0);
}

TEST(test_shape)
{
	int c, h, w, k;
	CHECK(dataset_shape("fashion-mnist", &c, &h, &w, &k) == 0 && c == 1 && h == 28 && w == 28 && k == 10);
	CHECK(dataset_shape("cifar10", &c, &h, &w, &k) == 0 && c == 3 && h == 32 && w == 32 && k == 10);
	CHECK(dataset_shape("cifar100", &c, &h, &w, &k) == 0 && c == 3 && h == 32 && w == 32 && k == 100);
	CHECK(dataset_shape("mnist", &c, &h, &w, &k) == -1);
	CHECK(data_crop_pad(32) == 4 && data_crop_pad(28) == 2);
}

TEST(test_fmnist_gz)
{
	Dataset d;
	NashErr e = {0};
	int r = dataset_load(&d, spec_of("fashion-mnist@1200,200", "fmnist"), 1, &e);
	CHECKF(r == 0, "%s", e.msg);
	if (r)
		return;
	char dir[600];
	snprintf(dir, sizeof dir, "%s/fmnist", fx);
	CHECK(!strcmp(d.name, "fashion-mnist") && !strcmp(d.dir, dir));
	CHECK(d.c == 1 && d.h == 28 && d.w == 28 && d.n_classes == 10);
	CHECK(d.n_train == GEN_FMNIST_TRAIN && d.n_test == GEN_FMNIST_TEST);
	check_against_gen(d.train_x, d.train_y, d.n_train, 1, 28, 28, 10, GEN_S_FMNIST_TRAIN);
	check_against_gen(d.test_x, d.test_y, d.n_test, 1, 28, 28, 10, GEN_S_FMNIST_TEST);
	dataset_free(&d);
	CHECK(d.train_x == NULL && d.test_x == NULL && d.n_train == 0);

	r = dataset_load(&d, spec_of("fashion-mnist@1200,200", "fmnist"), 0, &e);
	CHECK(r == 0 && d.n_train == GEN_FMNIST_TRAIN && d.n_test == 0 && d.test_x == NULL);
	dataset_free(&d);
}

TEST(test_fmnist_plain)
{
	Dataset d;
	NashErr e = {0};
	int r = dataset_load(&d, spec_of("fashion-mnist@100,50", "fmnist-plain"), 1, &e);
	CHECKF(r == 0, "%s", e.msg);
	if (r)
		return;
	CHECK(d.n_train == GEN_PLAIN_TRAIN && d.n_test == GEN_PLAIN_TEST);
	check_against_gen(d.train_x, d.train_y, d.n_train, 1, 28, 28, 10, GEN_S_PLAIN_TRAIN);
	check_against_gen(d.test_x, d.test_y, d.n_test, 1, 28, 28, 10, GEN_S_PLAIN_TEST);
	dataset_free(&d);
}

TEST(test_cifar)
{
	Dataset d;
	NashErr e = {0};
	int r = dataset_load(&d, spec_of("cifar10@600,100", "cifar10"), 1, &e);
	CHECKF(r == 0, "%s", e.msg);
	if (!r) {
		CHECK(!strcmp(d.name, "cifar10") && d.c == 3 && d.h == 32 && d.w == 32 && d.n_classes == 10);
		CHECK(d.n_train == GEN_CIFAR_TRAIN && d.n_test == GEN_CIFAR_TEST);
		check_against_gen(d.train_x, d.train_y, d.n_train, 3, 32, 32, 10, GEN_S_C10_TRAIN);
		check_against_gen(d.test_x, d.test_y, d.n_test, 3, 32, 32, 10, GEN_S_C10_TEST);
		dataset_free(&d);
	}
	r = dataset_load(&d, spec_of("cifar100@600,100", "cifar100"), 1, &e);
	CHECKF(r == 0, "%s", e.msg);
	if (!r) {
		CHECK(!strcmp(d.name, "cifar100") && d.c == 3 && d.h == 32 && d.n_classes == 100);
		CHECK(d.n_train == GEN_CIFAR_TRAIN && d.n_test == GEN_CIFAR_TEST);
		check_against_gen(d.train_x, d.train_y, d.n_train, 3, 32, 32, 100, GEN_S_C100_TRAIN);
		check_against_gen(d.test_x, d.test_y, d.n_test, 3, 32, 32, 100, GEN_S_C100_TEST);
		dataset_free(&d);
	}
}

/* Hand-made files: record layout, batch order, CIFAR-100 fine label. */
TEST(test_cifar_layout)
{
	char dir[600];
	snprintf(dir, sizeof dir, "%s/hand-cifar10", fx);
	mkdir(dir, 0755);
	uint8_t rec[7][3073]; /* label, then R, G, B planes; 0..5 train, 6 test */
	for (int r = 0; r < 7; r++) {
		rec[r][0] = (uint8_t)(r + 3);
		for (int j = 0; j < 3072; j++)
			rec[r][1 + j] = (uint8_t)(r * 7 + j);
	}
	write_file(dir, "data_batch_1.bin", rec[0], 2 * 3073);
	write_file(dir, "data_batch_2.bin", rec[2], 3073);
	write_file(dir, "data_batch_3.bin", rec[3], 3073);
	write_file(dir, "data_batch_4.bin", rec[4], 3073);
	write_file(dir, "data_batch_5.bin", rec[5], 3073);
	write_file(dir, "test_batch.bin", rec[6], 3073);
	Dataset d;
	NashErr e = {0};
	int r = dataset_load(&d, spec_of("cifar10@6,1", "hand-cifar10"), 1, &e);
	CHECKF(r == 0, "%s", e.msg);
	if (!r) {
		CHECK(d.n_train == 6 && d.n_test == 1 && d.declared[0] == 6 && d.declared[1] == 1);
		for (int i = 0; i < 6; i++) {
			CHECK(d.train_y[i] == i + 3);
			/* channel 1 (G), row 2, column 5 of image i is byte 1024 + 2*32 + 5 */
			CHECK(d.train_x[i * 3072 + 1024 + 69] == (uint8_t)(i * 7 + 1093));
			CHECK(!memcmp(d.train_x + i * 3072, rec[i] + 1, 3072));
		}
		CHECK(d.test_y[0] == 9 && !memcmp(d.test_x, rec[6] + 1, 3072));
		dataset_free(&d);
	}

	snprintf(dir, sizeof dir, "%s/hand-cifar100", fx);
	mkdir(dir, 0755);
	uint8_t r100[2][3074];
	for (int i = 0; i < 2; i++) {
		r100[i][0] = (uint8_t)(7 + i);  /* coarse */
		r100[i][1] = (uint8_t)(42 + i); /* fine */
		for (int j = 0; j < 3072; j++)
			r100[i][2 + j] = (uint8_t)(j * 3 + i);
	}
	write_file(dir, "train.bin", r100[0], 2 * 3074);
	write_file(dir, "test.bin", r100[1], 3074);
	r = dataset_load(&d, spec_of("cifar100@2,1", "hand-cifar100"), 1, &e);
	CHECKF(r == 0, "%s", e.msg);
	if (!r) {
		CHECK(d.n_train == 2 && d.train_y[0] == 42 && d.train_y[1] == 43);
		CHECK(!memcmp(d.train_x + 3072, r100[1] + 2, 3072));
		CHECK(d.n_test == 1 && d.test_y[0] == 43);
		dataset_free(&d);
	}
}

TEST(test_split)
{
	Dataset d = {.n_train = 1200};
	Split s;
	NashErr e;
	CHECK(data_split(&s, &d, 200, 0, &e) == 0);
	CHECK(s.train_begin == 0 && s.train_count == 1000 && s.val_begin == 1000 && s.val_count == 200);
	CHECK(data_split(&s, &d, 200, 300, &e) == 0 && s.train_count == 300 && s.val_begin == 1000);
	CHECK(data_split(&s, &d, 200, 5000, &e) == 0 && s.train_count == 1000);
	CHECK(data_split(&s, &d, 200, -1, &e) == 0 && s.train_count == 1000);
	CHECK(data_split(&s, &d, 0, 0, &e) == 0 && s.train_count == 1200 && s.val_count == 0 &&
	      s.val_begin == 1200);
	CHECK(data_split(&s, &d, 1199, 0, &e) == 0 && s.train_count == 1 && s.val_begin == 1);
	nash_err_clear(&e);
	CHECK(data_split(&s, &d, 1200, 0, &e) == -1 && e.code != NASH_OK && strstr(e.msg, "1200"));
	CHECK(data_split(&s, &d, -1, 0, &e) == -1);
	CHECK(data_split(&s, &d, NASH_DEFAULT_VAL, 0, &e) == -1);
}

TEST(test_norm_stats)
{
	Dataset d;
	NashErr e = {0};
	if (dataset_load(&d, spec_of("cifar10@600,100", "cifar10"), 0, &e)) {
		CHECKF(0, "%s", e.msg);
		return;
	}
	float mean[3], std[3];
	int begin = 100, count = 300;
	data_norm_stats(mean, std, &d, begin, count);
	for (int ch = 0; ch < 3; ch++) { /* two-pass, in double */
		double m = 0, v = 0, n = (double)count * 1024;
		for (int i = begin; i < begin + count; i++)
			for (int k = 0; k < 1024; k++)
				m += d.train_x[(size_t)i * 3072 + ch * 1024 + k] / 255.0;
		m /= n;
		for (int i = begin; i < begin + count; i++)
			for (int k = 0; k < 1024; k++) {
				double q = d.train_x[(size_t)i * 3072 + ch * 1024 + k] / 255.0 - m;
				v += q * q;
			}
		double sd = sqrt(v / n);
		CHECKF(check_close(mean[ch], m, 1e-6, 1e-6), "ch %d mean %g vs %g", ch, mean[ch], m);
		CHECKF(check_close(std[ch], sd, 1e-6, 1e-6), "ch %d std %g vs %g", ch, std[ch], sd);
		CHECK(sd > 0.05); /* the fixture is not degenerate */
	}
	/* a constant channel: std falls back to 1 rather than 0 */
	memset(d.train_x, 51, 3072);
	data_norm_stats(mean, std, &d, 0, 1);
	CHECK(check_close(mean[0], 0.2, 1e-6, 0) && std[0] == 1.0f);
	dataset_free(&d);
}

TEST(test_plan_batch)
{
	enum { N = 4000 };
	static int32_t idx[N];
	static Sample s[N], s2[N];
	for (int i = 0; i < N; i++)
		idx[i] = (N - 1 - i) * 3;
	Rng r, r0;
	rng_seed(&r, 42);
	r0 = r;
	data_plan_batch(s, idx, N, 4, 0, &r);
	int ok = 1;
	for (int i = 0; i < N; i++)
		ok &= s[i].index == idx[i] && s[i].dy == 0 && s[i].dx == 0 && s[i].flip == 0;
	CHECK(ok);
	CHECK(!memcmp(&r, &r0, sizeof r)); /* no draws without augmentation */

	data_plan_batch(s, idx, N, 2, 1, &r);
	int seen_dy[5] = {0}, seen_dx[5] = {0}, flips = 0;
	ok = 1;
	for (int i = 0; i < N; i++) {
		ok &= s[i].index == idx[i] && s[i].dy >= -2 && s[i].dy <= 2 && s[i].dx >= -2 &&
		      s[i].dx <= 2 && (s[i].flip == 0 || s[i].flip == 1);
		if (s[i].dy >= -2 && s[i].dy <= 2 && s[i].dx >= -2 && s[i].dx <= 2)
			seen_dy[s[i].dy + 2]++, seen_dx[s[i].dx + 2]++;
		flips += s[i].flip;
	}
	CHECK(ok);
	for (int k = 0; k < 5; k++)
		CHECKF(seen_dy[k] > N / 10 && seen_dx[k] > N / 10, "offset %d: %d %d", k - 2,
		       seen_dy[k], seen_dx[k]);
	CHECKF(flips > N * 2 / 5 && flips < N * 3 / 5, "flips %d of %d", flips, N);
	rng_seed(&r, 42);
	data_plan_batch(s2, idx, N, 2, 1, &r);
	CHECK(!memcmp(s, s2, sizeof s)); /* reproducible */
}

/* augment=0 is plain normalisation of the indexed images */
TEST(test_make_batch_plain)
{
	Dataset d;
	NashErr e = {0};
	if (dataset_load(&d, spec_of("cifar10@600,100", "cifar10"), 0, &e)) {
		CHECKF(0, "%s", e.msg);
		return;
	}
	enum { N = 8 };
	int32_t idx[N] = {5, 0, 599, 17, 17, 300, 2, 1}, y[N];
	Sample s[N];
	static float x[N * 3072], want[N * 3072];
	float mean[3] = {0.4f, 0.3f, 0.2f}, std[3] = {0.25f, 0.5f, 0.3f};
	Rng r;
	rng_seed(&r, 1);
	data_plan_batch(s, idx, N, 4, 0, &r);
	ref_make_batch(NULL, x, y, d.train_x, d.train_y, s, N, 3, 32, 32, mean, std);
	for (int i = 0; i < N; i++) {
		CHECK(y[i] == d.train_y[idx[i]]);
		for (int j = 0; j < 3072; j++)
			want[i * 3072 + j] = (d.train_x[(size_t)idx[i] * 3072 + j] / 255.0f - mean[j / 1024]) /
					     std[j / 1024];
	}
	double worst;
	long at = check_arrays_close(x, want, N * 3072, 1e-6, 1e-6, &worst);
	CHECKF(at < 0, "element %ld: %g vs %g", at, at < 0 ? 0.0 : x[at], at < 0 ? 0.0 : want[at]);
	dataset_free(&d);
}

/* Crop then flip on a 2-channel 4x4 image, expected pixels worked out by hand:
   out(y, x) = in(y + dy, (flip ? 3 - x : x) + dx), -1 = padding (0 after normalising). */
TEST(test_make_batch_crop_flip)
{
	uint8_t img[2][2][4][4]; /* [image, c, h, w]: image 1 is v = 10y + x (+100 in channel 1) */
	uint8_t labels[2] = {7, 3};
	memset(img[0], 255, sizeof img[0]);
	for (int ch = 0; ch < 2; ch++)
		for (int yy = 0; yy < 4; yy++)
			for (int xx = 0; xx < 4; xx++)
				img[1][ch][yy][xx] = (uint8_t)(100 * ch + 10 * yy + xx);
	static const int flip_want[4][4] = { /* dy = 1, dx = -1, flip: in(y+1, 2-x) */
		{12, 11, 10, -1}, {22, 21, 20, -1}, {32, 31, 30, -1}, {-1, -1, -1, -1},
	};
	static const int crop_want[4][4] = { /* dy = -1, dx = 2, no flip: in(y-1, x+2) */
		{-1, -1, -1, -1}, {2, 3, -1, -1}, {12, 13, -1, -1}, {22, 23, -1, -1},
	};
	Sample s[3] = {
		{.index = 1, .dy = 1, .dx = -1, .flip = 1},
		{.index = 1, .dy = -1, .dx = 2, .flip = 0},
		{.index = 0, .dy = 0, .dx = 0, .flip = 1},
	};
	float mean[2] = {0.1f, 0.5f}, std[2] = {0.5f, 0.25f};
	float x[3 * 2 * 16];
	int32_t y[3];
	ref_make_batch(NULL, x, y, &img[0][0][0][0], labels, s, 3, 2, 4, 4, mean, std);
	CHECK(y[0] == 3 && y[1] == 3 && y[2] == 7);
	for (int i = 0; i < 2; i++)
		for (int ch = 0; ch < 2; ch++)
			for (int yy = 0; yy < 4; yy++)
				for (int xx = 0; xx < 4; xx++) {
					int v = (i ? crop_want : flip_want)[yy][xx];
					double want = v < 0 ? 0.0 : ((100 * ch + v) / 255.0 - mean[ch]) / std[ch];
					float got = x[((i * 2 + ch) * 4 + yy) * 4 + xx];
					CHECKF(check_close(got, want, 1e-5, 1e-5),
					       "sample %d ch %d (%d,%d): %g, want %g", i, ch, yy, xx, got, want);
				}
	for (int j = 0; j < 32; j++)
		CHECK(check_close(x[64 + j], (1.0 - mean[j / 16]) / std[j / 16], 1e-5, 1e-5));
}

TEST(test_real_fmnist)
{
	struct stat st;
	if (stat(NASH_FMNIST_DIR, &st)) {
		printf("# skipped: %s not installed\n", NASH_FMNIST_DIR);
		return;
	}
	Dataset d;
	NashErr e = {0};
	int r = dataset_load(&d, "fashion-mnist", 1, &e);
	CHECKF(r == 0, "%s", e.msg);
	if (r)
		return;
	CHECK(d.n_train == 60000 && d.n_test == 10000 && !strcmp(d.dir, NASH_FMNIST_DIR));
	int hist[10] = {0}, thist[10] = {0};
	for (int i = 0; i < d.n_train; i++)
		hist[d.train_y[i]]++;
	for (int i = 0; i < d.n_test; i++)
		thist[d.test_y[i]]++;
	for (int k = 0; k < 10; k++)
		CHECKF(hist[k] == 6000 && thist[k] == 1000, "class %d: %d train, %d test", k, hist[k], thist[k]);
	CHECK(d.train_y[0] == 9 && d.train_y[1] == 0 && d.train_y[3] == 3);
	CHECK(d.test_y[0] == 9 && d.test_y[1] == 2 && d.test_y[2] == 1);
	Split s;
	CHECK(data_split(&s, &d, NASH_DEFAULT_VAL, 0, &e) == 0 && s.train_count == 55000 &&
	      s.val_begin == 55000);
	float mean, std;
	data_norm_stats(&mean, &std, &d, 0, d.n_train); /* the well-known 0.2860 / 0.3530 */
	CHECKF(check_close(mean, 0.2860, 5e-4, 0) && check_close(std, 0.3530, 5e-4, 0),
	       "mean %g std %g", mean, std);
	dataset_free(&d);
}

int main(void)
{
	if (fixtures_make("data"))
		return 1;
	RUN(test_parse_spec);
	RUN(test_shape);
	RUN(test_fmnist_gz);
	RUN(test_fmnist_plain);
	RUN(test_cifar);
	RUN(test_cifar_layout);
	RUN(test_split);
	RUN(test_norm_stats);
	RUN(test_plan_batch);
	RUN(test_make_batch_plain);
	RUN(test_make_batch_crop_flip);
	RUN(test_real_fmnist);
	rm_tree(fx);
	CHECK_DONE();
}
