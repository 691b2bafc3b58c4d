/* nash-init: writes a seed network (the paper's by default, --arch for another) for a
   dataset, or (--like) another model's architecture with fresh weights, for retraining it
   from scratch. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data/data.h"
#include "model/init.h"
#include "model/model.h"

static const char *prog = "nash-init";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTION]...\n"
		"  or:  %s --like MODEL [--seed S] [-o F]\n"
		"Write a seed network for a dataset, He-initialised, with the dataset's normalisation\n"
		"(computed on the training images, or the dataset file's own), as a model file.\n"
		"\n"
		"  --arch NAME      the seed network, a block or group per width:\n"
		"                     paper   (default) the paper's Conv-MaxPool-Conv-MaxPool-Conv-FC,\n"
		"                             each Conv = conv3x3-BN-ReLU, pooled between blocks\n"
		"                     groups  per width conv3x3-maxpool-BN-ReLU-conv3x3-BN-ReLU (after\n"
		"                             airbench94), then FC\n"
		"  --like MODEL     instead: MODEL's architecture with every weight initialised afresh as\n"
		"                   the seed network's are, MODEL's dataset, normalisation and validation\n"
		"                   split, untrained (for retraining from scratch); excludes --arch,\n"
		"                   --dataset, --widths and --val\n"
		"  --dataset SPEC   fashion-mnist (default), fashion-mnist:DIR, cifar10:DIR, cifar100:DIR,\n"
		"                   h5:FILE (a dataset file, nash-data(1))\n"
		"  --widths LIST    channels of the blocks or groups (default 32,64,128; groups 16,32,64)\n"
		"  --val N, --val P%%\n"
		"                   validation images held out from the end of the training set: N images,\n"
		"                   or P percent of the training set (at least one per class); default %d,\n"
		"                   but at most a tenth of the training set and at least one per class\n"
		"  --seed S         random seed for the weights (default 1)\n"
		"  -o, --output F   write the model to F (default: standard output)\n"
		"  -h, --help       show this help\n"
		"  -V, --version    show the version\n",
		prog, prog, NASH_DEFAULT_VAL);
}

static noreturn void die_unknown_arch(const char *name)
{
	char names[128] = "";
	for (int a = 0; a < SEED_ARCH_COUNT; a++)
		snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", a ? ", " : "",
			 seed_arch_name((SeedArch)a));
	die_usage(prog, "unknown --arch '%s' (it is one of: %s)", name, names);
}

int main(int argc, char **argv)
{
	const char *spec = "fashion-mnist", *out = "-", *like = NULL;
	SeedArch arch = SEED_ARCH_PAPER;
	const char *seed_net_option = NULL; /* the first seed-network option given, which --like excludes */
	int widths[16], n_widths = 0, val = -1; /* n_widths 0: the arch's; val -1: data_default_val */
	double val_percent = 0; /* > 0: --val P% */
	uint64_t seed = 1;
	static const struct option opts[] = {
		{"dataset", required_argument, 0, 'd'}, {"widths", required_argument, 0, 'w'},
		{"val", required_argument, 0, 'v'},     {"seed", required_argument, 0, 's'},
		{"output", required_argument, 0, 'o'},  {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},       {"like", required_argument, 0, 'l'},
		{"arch", required_argument, 0, 'a'},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "o:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'a': {
			int named = seed_arch_from_name(optarg);
			if (named < 0)
				die_unknown_arch(optarg);
			arch = (SeedArch)named;
			seed_net_option = seed_net_option ? seed_net_option : "--arch";
			break;
		}
		case 'd': spec = optarg, seed_net_option = seed_net_option ? seed_net_option : "--dataset"; break;
		case 'w':
			n_widths = cli_int_list(prog, "--widths", optarg, widths, 16, 1, 4096);
			seed_net_option = seed_net_option ? seed_net_option : "--widths";
			break;
		case 'v':
			if (optarg[0] && optarg[strlen(optarg) - 1] == '%') {
				optarg[strlen(optarg) - 1] = '\0'; /* the number before the '%' */
				val_percent = cli_double(prog, "--val", optarg, 1e-9, 99.999);
			} else {
				val = (int)cli_long(prog, "--val", optarg, 0, 1000000);
			}
			seed_net_option = seed_net_option ? seed_net_option : "--val";
			break;
		case 'l': like = optarg; break;
		case 's': seed = cli_u64(prog, "--seed", optarg); break;
		case 'o': out = optarg; break;
		case 'h': usage(stdout); cli_close_stdout(prog); return 0;
		case 'V': cli_version(prog);
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc)
		die_usage(prog, "unexpected argument '%s'", argv[optind]);
	if (like && seed_net_option)
		die_usage(prog, "--like and %s exclude each other (MODEL gives the architecture, dataset and validation split)",
			  seed_net_option);
	cli_check_binary_out(prog, out, "model file");
	if (n_widths == 0)
		n_widths = seed_arch_default_widths(arch, widths);

	NashErr err = {0};
	if (like) {
		Model from, m;
		if (model_read(&from, like, &err) || nash_init_like(&m, &from, seed, &err) || model_write(&m, out, &err))
			die_err(prog, &err);
		model_free(&m);
		model_free(&from);
		cli_close_stdout(prog);
		return 0;
	}
	Dataset d;
	if (dataset_load(&d, spec, 0, &err))
		die_err(prog, &err);
	if (val_percent > 0 && data_val_percent(&val, &d, val_percent, &err))
		die_err(prog, &err);
	if (val < 0)
		val = data_default_val(&d);
	Split sp;
	if (data_split(&sp, &d, val, 0, &err))
		die_err(prog, &err);
	Model m;
	/* the class names go with the model: nash-show lists them, nash-export --onnx exports them */
	if (seed_network_arch(&m, arch, d.name, d.c, d.h, d.w, d.n_classes, widths, n_widths, seed, &err) ||
	    dataset_set_builtin_classes(&d, &err) || model_set_class_names(&m, d.class_names, &err))
		die_err(prog, &err);
	if (d.has_norm) { /* the dataset file gives its normalisation */
		memcpy(m.mean, d.norm_mean, sizeof m.mean);
		memcpy(m.std, d.norm_std, sizeof m.std);
	} else {
		data_norm_stats(m.mean, m.std, &d, sp.train_begin, sp.train_count);
	}
	m.val_size = val;
	if (model_write(&m, out, &err))
		die_err(prog, &err);
	model_free(&m);
	dataset_free(&d);
	cli_close_stdout(prog);
	return 0;
}
