/* nash-data: makes and inspects dataset files (docs/DATASETS.md): pack an image folder tree,
   convert a built-in dataset, show what a file holds. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data/data.h"
#include "data/pack.h"

static const char *prog = "nash-data";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s pack DIR [OPTION]...      pack a folder of class folders of PNG/JPEG images\n"
		"       %s convert SPEC [OPTION]...  convert a built-in dataset (fashion-mnist[:DIR],\n"
		"                                          cifar10:DIR, cifar100:DIR)\n"
		"       %s info FILE                 shape, images per class, mean and std per channel\n"
		"Make and inspect nash dataset files (HDF5), which every tool reads as --data h5:FILE.\n"
		"\n"
		"pack and convert:\n"
		"  -o, --output F       write the dataset file to F (default: standard output)\n"
		"pack:\n"
		"  --test DIR           the test set: a second tree with the same class folders\n"
		"  --test-fraction F    else hold out this fraction of each class, drawn at random\n"
		"                       (default 0.1; at least one image of each class)\n"
		"  --seed S             seed for the held-out images and the order of both sets (default 1)\n"
		"  --resize HxW         resize every image to H x W (bilinear, Pillow's); without it every\n"
		"                       image must have the size of the first\n"
		"  --channels N         1, 3 or 4 (RGBA); default 1 when every image is grayscale, else 3\n"
		"  --name NAME          the dataset's name (default: DIR's last component, or for X/train X)\n"
		"  --force              take class folders named train, test, val or validation, and class\n"
		"                       folders that hold only folders, as classes (refused by default)\n"
		"  --threads T          decoding threads (default: all cores)\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n"
		"\n"
		"Exit status: 0 success, 1 error (bad image, folder or file), 2 usage, 3 out of memory.\n",
		prog, prog, prog);
}

static void parse_size(const char *s, int *h, int *w)
{
	char *end;
	long a = strtol(s, &end, 10), b = 0;
	if (end != s && *end == 'x') {
		char *p = end + 1;
		b = strtol(p, &end, 10);
		if (end == p)
			b = 0;
	}
	if (*end || a < 1 || b < 1 || a > 4096 || b > 4096)
		die_usage(prog, "--resize: '%s' is not HxW with sides 1..4096 (e.g. 32x32)", s);
	*h = (int)a, *w = (int)b;
}

static int cmd_write(Dataset *d, const char *out, int pack)
{
	NashErr err = { 0 };
	if (dataset_write_h5(d, out, &err))
		die_err(prog, &err);
	if (pack)
		fprintf(stderr, "%s: packed %d images (%d training, %d test) of %d classes, %dx%dx%d (C x H x W), as dataset '%s' into %s\n",
			prog, d->n_train + d->n_test, d->n_train, d->n_test, d->n_classes, d->c, d->h, d->w, d->name,
			strcmp(out, "-") ? nash_name(out).s : "standard output");
	dataset_free(d);
	cli_close_stdout(prog);
	return 0;
}

static int cmd_pack_convert(int argc, char **argv, int pack)
{
	const char *out = "-", *name = NULL;
	PackOpts o = { .test_fraction = 0.1, .seed = 1 };
	int fraction_given = 0;
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'},   {"test", required_argument, 0, 't'},
		{"test-fraction", required_argument, 0, 'f'}, {"seed", required_argument, 0, 's'},
		{"resize", required_argument, 0, 'r'},   {"channels", required_argument, 0, 'c'},
		{"name", required_argument, 0, 'n'},     {"threads", required_argument, 0, 'T'},
		{"force", no_argument, 0, 'F'},
		{"help", no_argument, 0, 'h'},           {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "o:hV", opts, NULL)) != -1) {
		if (!pack && c != 'o' && c != 'h' && c != 'V' && c != '?')
			die_usage(prog, "convert takes only -o");
		switch (c) {
		case 'o': out = optarg; break;
		case 't': o.test_dir = optarg; break;
		case 'f':
			o.test_fraction = cli_double(prog, "--test-fraction", optarg, 1e-9, 1 - 1e-9);
			fraction_given = 1;
			break;
		case 's': o.seed = cli_u64(prog, "--seed", optarg); break;
		case 'r': parse_size(optarg, &o.resize_h, &o.resize_w); break;
		case 'c':
			o.channels = (int)cli_long(prog, "--channels", optarg, 1, 4);
			if (o.channels == 2)
				die_usage(prog, "--channels: 2 is not 1, 3 or 4");
			break;
		case 'n': name = optarg; break;
		case 'T': o.threads = (int)cli_long(prog, "--threads", optarg, 1, 1024); break;
		case 'F': o.force = 1; break;
		case 'h': usage(stdout); cli_close_stdout(prog); return 0;
		case 'V': cli_version(prog);
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc)
		die_usage(prog, "%s: missing %s", pack ? "pack" : "convert", pack ? "DIR" : "SPEC");
	if (optind < argc - 1)
		die_usage(prog, "unexpected argument '%s'", argv[optind + 1]);
	if (o.test_dir && fraction_given)
		die_usage(prog, "--test and --test-fraction exclude each other");
	cli_check_binary_out(prog, out, "dataset file");

	NashErr err = { 0 };
	Dataset d;
	if (pack) {
		char base[256];
		PackNotes notes;
		o.dir = argv[optind];
		pack_default_name(base, sizeof base, o.dir);
		o.name = name ? name : base;
		if (!name && !dataset_name_ok(base))
			die_usage(prog, "%s: '%s' is not a dataset name (1 to 63 of A-Z a-z 0-9 . _ + -, one a letter or digit); give --name",
				  nash_name(o.dir).s, nash_name(base).s);
		int rc = data_pack(&d, &o, &notes, &err);
		for (int k = 0; k < 2; k++)
			if (notes.skipped[k][0])
				fprintf(stderr, "%s: %s\n", prog, notes.skipped[k]);
		if (rc)
			die_err(prog, &err);
	} else {
		if (!strncmp(argv[optind], "h5:", 3))
			die_usage(prog, "convert: '%s' is a dataset file already", argv[optind]);
		if (dataset_load(&d, argv[optind], 1, &err) || dataset_set_builtin_classes(&d, &err))
			die_err(prog, &err);
	}
	return cmd_write(&d, out, pack);
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); cli_close_stdout(prog); return 0;
		case 'V': cli_version(prog);
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1)
		die_usage(prog, optind >= argc ? "info: missing FILE" : "info: too many arguments");
	const char *path = argv[optind];
	NashErr err = { 0 };
	Dataset d;
	if (dataset_load_h5(&d, path, 1, &err))
		die_err(prog, &err);
	long *count = calloc((size_t)d.n_classes * 2, sizeof *count); /* [n_classes, 2]: train, test */
	if (!count)
		die(prog, "out of memory");
	for (int i = 0; i < d.n_train; i++)
		count[2 * d.train_y[i]]++;
	for (int i = 0; i < d.n_test; i++)
		count[2 * d.test_y[i] + 1]++;
	float mean[NASH_MAX_CHANNELS], std[NASH_MAX_CHANNELS];
	data_norm_stats(mean, std, &d, 0, d.n_train);

	printf("file       %s\n", nash_name(path).s);
	printf("name       %s\n", d.name);
	printf("images     %dx%dx%d (C x H x W)\n", d.c, d.h, d.w);
	printf("classes    %d\n", d.n_classes);
	printf("train      %d images\n", d.n_train);
	printf("test       %d images\n", d.n_test);
	printf("mean       ");
	for (int ch = 0; ch < d.c; ch++)
		printf("%s%.4f", ch ? " " : "", mean[ch]);
	printf("  (training images, per channel, pixel scale 0..1)\nstd        ");
	for (int ch = 0; ch < d.c; ch++)
		printf("%s%.4f", ch ? " " : "", std[ch]);
	printf("\n");
	if (d.has_norm) {
		printf("norm       mean");
		for (int ch = 0; ch < d.c; ch++)
			printf(" %.4f", d.norm_mean[ch]);
		printf(", std");
		for (int ch = 0; ch < d.c; ch++)
			printf(" %.4f", d.norm_std[ch]);
		printf("  (given by the file; nash-init uses it)\n");
	}
	int width = 5;
	for (int k = 0; k < d.n_classes; k++) {
		int l = (int)strlen(d.class_names + (size_t)k * NASH_CLASS_NAME_MAX);
		width = l > width ? l : width;
	}
	printf("\n%5s  %-*s  %8s  %8s\n", "label", width, "class", "train", "test");
	for (int k = 0; k < d.n_classes; k++)
		printf("%5d  %-*s  %8ld  %8ld\n", k, width, d.class_names + (size_t)k * NASH_CLASS_NAME_MAX, count[2 * k],
		       count[2 * k + 1]);
	free(count);
	dataset_free(&d);
	cli_close_stdout(prog);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die_usage(prog, "missing command: pack, convert or info");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		cli_close_stdout(prog);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version"))
		cli_version(prog);
	/* getopt names argv[0] in its messages: "nash-data pack: unrecognized option" */
	static char pack_name[] = "nash-data pack", convert_name[] = "nash-data convert", info_name[] = "nash-data info";
	if (!strcmp(cmd, "pack") || !strcmp(cmd, "convert")) {
		argv[1] = !strcmp(cmd, "pack") ? pack_name : convert_name;
		return cmd_pack_convert(argc - 1, argv + 1, argv[1] == pack_name);
	}
	if (!strcmp(cmd, "info")) {
		argv[1] = info_name;
		return cmd_info(argc - 1, argv + 1);
	}
	die_usage(prog, "unknown command '%s': expected pack, convert or info", cmd);
}
