/* Dataset files (lib/data/data_h5.c, data_h5_root.c), the fit check (data_meta.c), the image helpers
   (image.c) and names in messages (base/err.c): a built-in fixture written and read back byte
   for byte, errors of the reader and the writer, luma and the bilinear filter's arithmetic,
   image files refused from their first bytes, names escaped and shortened. PNG/JPEG decoding
   is tested against Pillow in tests/bats/nash-data-images.bats, packing image folders in
   nash-data-pack.bats. */
#include "check.h"
#include "data/data.h"
#include "data/image.h"

#include "data_fixtures.h"

static const char *path_of(const char *name)
{
	static char s[1100];
	snprintf(s, sizeof s, "%s/%s", fx, name);
	return s;
}

static int same_set(const uint8_t *ax, const uint8_t *ay, const uint8_t *bx, const uint8_t *by, int n, size_t img)
{
	return memcmp(ax, bx, (size_t)n * img) == 0 && memcmp(ay, by, (size_t)n) == 0;
}

TEST(test_round_trip)
{
	const char *specs[] = { "cifar10@600,100", "cifar100@600,100", "fashion-mnist@1200,200" },
		   *dirs[] = { "cifar10", "cifar100", "fmnist" };
	for (int s = 0; s < 3; s++) {
		char spec[1100], out[1100];
		NashErr e = { 0 };
		Dataset a, b;
		snprintf(spec, sizeof spec, "%s:%s/%s", specs[s], fx, dirs[s]);
		snprintf(out, sizeof out, "h5:%s/%s.h5", fx, dirs[s]);
		CHECKF(dataset_load(&a, spec, 1, &e) == 0 && dataset_set_builtin_classes(&a, &e) == 0, "%s", e.msg);
		CHECKF(dataset_write_h5(&a, out + 3, &e) == 0, "%s", e.msg);
		CHECKF(dataset_load(&b, out, 1, &e) == 0, "%s", e.msg);
		if (!a.train_x || !b.train_x)
			return;
		size_t img = (size_t)a.c * a.h * a.w;
		CHECK(!strcmp(a.name, b.name) && a.c == b.c && a.h == b.h && a.w == b.w && a.n_classes == b.n_classes);
		CHECK(a.n_train == b.n_train && a.n_test == b.n_test && !b.has_norm);
		CHECK(same_set(a.train_x, a.train_y, b.train_x, b.train_y, a.n_train, img));
		CHECK(same_set(a.test_x, a.test_y, b.test_x, b.test_y, a.n_test, img));
		CHECK(!memcmp(a.class_names, b.class_names, (size_t)a.n_classes * NASH_CLASS_NAME_MAX));
		CHECK(!strcmp(b.dir, out + 3));
		dataset_free(&b);
		/* without the test set: checked, not read */
		CHECKF(dataset_load(&b, out, 0, &e) == 0 && b.n_test == 0 && !b.test_x && b.n_train == a.n_train, "%s", e.msg);
		dataset_free(&b);
		dataset_free(&a);
	}
}

TEST(test_norm_round_trip)
{
	NashErr e = { 0 };
	Dataset a, b;
	char spec[1100];
	snprintf(spec, sizeof spec, "cifar10@600,100:%s/cifar10", fx);
	CHECKF(dataset_load(&a, spec, 1, &e) == 0 && dataset_set_builtin_classes(&a, &e) == 0, "%s", e.msg);
	a.has_norm = 1;
	for (int c = 0; c < 3; c++)
		a.norm_mean[c] = 0.25f * (float)(c + 1), a.norm_std[c] = 0.125f * (float)(c + 1);
	CHECKF(dataset_write_h5(&a, path_of("norm.h5"), &e) == 0, "%s", e.msg);
	CHECKF(dataset_load_h5(&b, path_of("norm.h5"), 0, &e) == 0, "%s", e.msg);
	CHECK(b.has_norm && b.norm_mean[2] == 0.75f && b.norm_std[1] == 0.25f);
	dataset_free(&b);
	dataset_free(&a);
}

TEST(test_read_errors)
{
	NashErr e = { 0 };
	Dataset d;
	char spec[1100];
	snprintf(spec, sizeof spec, "h5:%s/none.h5", fx);
	CHECK(dataset_load(&d, spec, 0, &e) == -1 && e.code == NASH_ERR_RUNTIME);
	CHECKF(strstr(e.msg, "none.h5: No such file") != NULL, "%s", e.msg);
	FILE *f = fopen(path_of("junk.h5"), "wb");
	fputs("not hdf5 at all", f);
	fclose(f);
	CHECK(dataset_load_h5(&d, path_of("junk.h5"), 0, &e) == -1);
	CHECKF(strstr(e.msg, "junk.h5: not an HDF5 file") != NULL, "%s", e.msg);
	CHECK(dataset_load(&d, "h5:", 0, &e) == -1 && e.code == NASH_ERR_USAGE);
}

TEST(test_write_errors)
{
	NashErr e = { 0 };
	Dataset a;
	char spec[1100];
	snprintf(spec, sizeof spec, "cifar10@600,100:%s/cifar10", fx);
	CHECKF(dataset_load(&a, spec, 1, &e) == 0, "%s", e.msg);
	CHECK(dataset_write_h5(&a, path_of("w.h5"), &e) == -1 && strstr(e.msg, "no class names"));
	CHECK(dataset_set_builtin_classes(&a, &e) == 0);
	strcpy(a.class_names + 3 * NASH_CLASS_NAME_MAX, "BIRD"); /* class 2 is "bird" */
	CHECK(dataset_write_h5(&a, path_of("w.h5"), &e) == -1);
	CHECKF(strstr(e.msg, "classes 2 and 3 have the same name 'BIRD' (ignoring case)") != NULL, "%s", e.msg);
	strcpy(a.class_names + 3 * NASH_CLASS_NAME_MAX, "cat");
	strcpy(a.name, "my data");
	CHECK(dataset_write_h5(&a, path_of("w.h5"), &e) == -1 && strstr(e.msg, "dataset name 'my data'"));
	strcpy(a.name, "cifar10");
	int n_test = a.n_test;
	a.n_test = 0;
	CHECK(dataset_write_h5(&a, path_of("w.h5"), &e) == -1 && strstr(e.msg, "both sets must hold some"));
	a.n_test = n_test;
	a.train_y[7] = 10;
	CHECK(dataset_write_h5(&a, path_of("w.h5"), &e) == -1 && strstr(e.msg, "training label 7 out of range"));
	CHECK(access(path_of("w.h5"), F_OK) != 0); /* nothing written */
	dataset_free(&a);
}

TEST(test_fit)
{
	Dataset d = { .name = "pets", .c = 3, .h = 32, .w = 32, .n_classes = 10 };
	NashErr e = { 0 };
	CHECK(dataset_check_fit(&d, "m.h5", "pets", 3, 32, 32, 10, &e) == 0);
	CHECK(dataset_check_fit(&d, "m.h5", "pets", 1, 28, 28, 10, &e) == -1);
	CHECKF(!strcmp(e.msg, "m.h5: the model is for 1x28x28 images in 10 classes, the data pets has 3x32x32 in 10"), "%s", e.msg);
	CHECK(dataset_check_fit(&d, "m.h5", "pets", 3, 32, 32, 5, &e) == -1 && strstr(e.msg, "in 5 classes"));
	CHECK(dataset_check_fit(&d, "m.h5", "cifar10", 3, 32, 32, 10, &e) == -1);
	CHECKF(strstr(e.msg, "m.h5: the model is for the dataset 'cifar10', the data is 'pets'") != NULL, "%s", e.msg);
	CHECK(dataset_name_ok("pets-v2.1_a+b") && !dataset_name_ok("") && !dataset_name_ok("a b") &&
	      !dataset_name_ok("a/b") && !dataset_name_ok("caf\xc3\xa9") && !dataset_name_ok("."));
}

TEST(test_spec)
{
	char name[64], dir[512];
	int sizes[2];
	NashErr e;
	CHECK(data_parse_spec("h5:/a/b.h5", name, sizeof name, dir, sizeof dir, sizes, &e) == 0 && !strcmp(name, "h5") &&
	      !strcmp(dir, "/a/b.h5"));
	CHECK(data_parse_spec("h5", name, sizeof name, dir, sizeof dir, sizes, &e) == -1 && e.code == NASH_ERR_USAGE);
	/* an HDF5 file carries its own counts: nothing to declare */
	CHECK(data_parse_spec("h5@6,1:/a/b.h5", name, sizeof name, dir, sizeof dir, sizes, &e) == -1 &&
	      e.code == NASH_ERR_USAGE);
	CHECKF(strstr(e.msg, "h5:FILE") != NULL, "%s", e.msg);
}

TEST(test_planes)
{
	uint8_t px[3 * 4] = { 255, 0, 0, 255, 0, 255, 0, 7, 77, 77, 77, 255 }; /* red, green, gray 77 */
	Image im = { .h = 1, .w = 3, .rgba = px };
	uint8_t out[4 * 3];
	image_planes(out, &im, 1);
	/* Pillow: Image.new("RGB", (1, 1), (255, 0, 0)).convert("L") is 76; green 150 */
	CHECKF(out[0] == 76 && out[1] == 150 && out[2] == 77, "%d %d %d", out[0], out[1], out[2]);
	image_planes(out, &im, 4);
	CHECK(out[0] == 255 && out[1] == 0 && out[3] == 0 && out[4] == 255 && out[9] == 255 && out[10] == 7);
}

TEST(test_resize)
{
	NashErr e = { 0 };
	uint8_t in[2] = { 0, 255 }, out[4];
	/* Pillow: Image.frombytes("L", (2, 1), b"\x00\xff").resize((4, 1), Image.BILINEAR) */
	CHECK(image_resize(out, in, 1, 1, 2, 1, 4, &e) == 0);
	CHECKF(out[0] == 0 && out[1] == 64 && out[2] == 191 && out[3] == 255, "%d %d %d %d", out[0], out[1], out[2], out[3]);
	uint8_t flat[2 * 6 * 10], small[2 * 3 * 4];
	for (int i = 0; i < 120; i++)
		flat[i] = i < 60 ? 9 : 200;
	CHECK(image_resize(small, flat, 2, 6, 10, 3, 4, &e) == 0);
	int ok = 1;
	for (int i = 0; i < 24; i++)
		ok &= small[i] == (i < 12 ? 9 : 200);
	CHECK(ok); /* a constant plane stays constant, planes stay apart */
	uint8_t same[60];
	CHECK(image_resize(same, flat, 1, 6, 10, 6, 10, &e) == 0 && !memcmp(same, flat, 60));
}

/* Writes n bytes to the fixture directory's file name; returns its path. */
static const char *file_of(const char *name, const void *bytes, size_t n)
{
	const char *path = path_of(name);
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(bytes, 1, n, f);
		fclose(f);
	}
	return path;
}

/* image_open on path: 0 when it opens (the file closed again), else -1 with e's message. */
static int try_open(const char *path, NashErr *e)
{
	ImageFile *f;
	int h, w;
	if (image_open(&f, &h, &w, path, e))
		return -1;
	image_close(f);
	return 0;
}

TEST(test_decode_errors)
{
	NashErr e = { 0 };
	uint8_t junk[16] = "GIF89a.........";
	CHECK(try_open(file_of("b.gif", junk, sizeof junk), &e) == -1);
	CHECKF(strstr(e.msg, "/b.gif: not a PNG or JPEG file") && !strstr(e.msg, "empty"), "%s", e.msg);
	CHECK(try_open(file_of("c.png", junk, 0), &e) == -1);
	CHECKF(strstr(e.msg, "/c.png: not a PNG or JPEG file (empty)"), "%s", e.msg);
	uint8_t png_head[12] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13 };
	CHECK(try_open(file_of("t.png", png_head, sizeof png_head), &e) == -1);
	CHECKF(strstr(e.msg, "/t.png: PNG: "), "%s", e.msg);
	uint8_t jpg_head[4] = { 0xff, 0xd8, 0xff, 0xe0 };
	CHECK(try_open(file_of("t.jpg", jpg_head, sizeof jpg_head), &e) == -1);
	CHECKF(strstr(e.msg, "/t.jpg: JPEG: "), "%s", e.msg);
	CHECK(try_open(path_of("missing.png"), &e) == -1 && strstr(e.msg, "missing.png: No such file"));
	CHECK(try_open(file_of("bad\n\x1b[2Jname.gif", junk, sizeof junk), &e) == -1);
	CHECKF(strstr(e.msg, "/bad\\n\\x1b[2Jname.gif: not a PNG or JPEG file"), "%s", e.msg);
}

TEST(test_names)
{
	char out[64];
	/* UTF-8 text as it is; control characters and bytes outside UTF-8 escaped */
	CHECK(!strcmp(nash_name("chat noir/\xc3\xa9t\xc3\xa9.png").s, "chat noir/\xc3\xa9t\xc3\xa9.png"));
	CHECK(!strcmp(nash_name("\xe2\x82\xac \xf0\x9f\x90\x88").s, "\xe2\x82\xac \xf0\x9f\x90\x88")); /* euro, cat */
	CHECK(!strcmp(nash_name("a\nb\rc\td\x1b[0m\x7f").s, "a\\nb\\rc\\td\\x1b[0m\\x7f"));
	CHECK(!strcmp(nash_name("caf\xe9 \xc2\x9b" "31m").s, "caf\\xe9 \\u009b31m"));
	/* overlong forms, surrogates, past U+10FFFF, a cut sequence: byte by byte */
	CHECK(!strcmp(nash_name("\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82").s,
		      "\\xc0\\xaf\\xed\\xa0\\x80\\xf4\\x90\\x80\\x80\\xe2\\x82"));
	CHECK(nash_text_ok("chat noir/\xc3\xa9t\xc3\xa9") && nash_text_ok("") && !nash_text_ok("a\nb") &&
	      !nash_text_ok("caf\xe9") && !nash_text_ok("\xc2\x85"));
	/* shortened in the middle, whole characters and escapes only, to the byte */
	CHECK(!strcmp(nash_escape(out, 12, "abcdefghijklmnop"), "abcd...mnop"));
	CHECK(!strcmp(nash_escape(out, 12, "abcdefghijk"), "abcdefghijk"));
	CHECKF(!strcmp(nash_escape(out, 12, "\n\n\nabcdef\n\n"), "\\n\\n...\\n\\n"), "%s", out);
	nash_escape(out, 12, "\xc3\xa9\xc3\xa9\xc3\xa9" "abcdef\xc3\xa9\xc3\xa9"); /* 2 bytes each: 4 + 3 + 4 */
	CHECKF(!strcmp(out, "\xc3\xa9\xc3\xa9...\xc3\xa9\xc3\xa9"), "%s", out);
	char long_path[2000];
	memset(long_path, 'd', sizeof long_path);
	long_path[0] = '/';
	long_path[sizeof long_path - 1] = '\0';
	NashName n = nash_name(long_path);
	CHECK(strlen(n.s) == NASH_NAME_SHOWN && strstr(n.s, "ddd...ddd") && n.s[0] == '/');
	NashErr e;
	nash_err(&e, NASH_ERR_RUNTIME, "%s: the reason", nash_name(long_path).s);
	CHECKF(strlen(e.msg) < sizeof e.msg - 1 && strstr(e.msg, "...") && strstr(e.msg, "d: the reason"), "%s", e.msg);
	nash_err(&e, NASH_ERR_RUNTIME, "the reason");
	nash_err_prefix(&e, "x\ny");
	CHECK(!strcmp(e.msg, "x\\ny: the reason"));
}

int main(void)
{
	char msg[1200];
	const char *tmp = getenv("TMPDIR");
	snprintf(fx, sizeof fx, "%s/nash-test-h5-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fx)) {
		printf("# mkdtemp %s failed\n", fx);
		return 1;
	}
	if (gen_fixtures(fx, msg, sizeof msg)) {
		printf("# gen_fixtures: %s\n", msg);
		rm_tree(fx);
		return 1;
	}
	RUN(test_round_trip);
	RUN(test_norm_round_trip);
	RUN(test_read_errors);
	RUN(test_write_errors);
	RUN(test_fit);
	RUN(test_spec);
	RUN(test_planes);
	RUN(test_resize);
	RUN(test_decode_errors);
	RUN(test_names);
	rm_tree(fx);
	CHECK_DONE();
}
