/* nash-ensemble: averages the softmax outputs of models (uniform weights), evaluates every member
   and the ensemble, and writes an ensemble file. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "thread_env.h"
#include "data/data.h"
#include "search/ensemble.h"
#include "search/select.h"

static const char *prog = "nash-ensemble";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTION]... MODEL...\n"
		"Combine models by averaging their softmax outputs with uniform weights; evaluate each\n"
		"member and the ensemble, and write an ensemble file. A MODEL may itself be an ensemble\n"
		"file (its members join); models with identical weights are counted once. With a single\n"
		"MODEL this evaluates that model (e.g. on the test set).\n"
		"\n"
		"  --data SPEC        data (default: the dataset recorded in the first model): fashion-mnist,\n"
		"                     fashion-mnist:DIR, cifar10:DIR, cifar100:DIR, h5:FILE\n"
		"  --eval val|test|none  the validation split (default), the test set, or no evaluation\n"
		"  -o, --output F     write the ensemble file to F (- for standard output)\n"
		"  --batch B          evaluation batch size (default 256)\n"
		"  --tta none|flip|flip-shift  test-time augmentation of every member's output (as\n"
		"                     nash-train --tta; default none), recorded with the members'\n"
		"                     test accuracies\n"
		"  --device D         auto (default), cpu (oneDNN), cpu-bf16, cpu-blas, ref or cuda\n"
		"  --gpu N            use GPU N (default 0, or as CUDA_VISIBLE_DEVICES orders them)\n"
		"  --threads T        CPU threads (default: all cores)\n"
		"  -h, --help         show this help\n"
		"  -V, --version      show the version\n"
		"\n"
		"Prints one line per member (params, accuracy) and the ensemble's; the last line on\n"
		"standard output is 'val_accuracy=X' or 'test_accuracy=X' for the ensemble (standard\n"
		"error when the ensemble file goes to standard output).\n"
		"Exit status: 0 success, 1 error, 2 usage, 3 out of memory.\n",
		prog);
}

int main(int argc, char **argv)
{
	thread_env_default(argv);
	const char *out = NULL;
	int batch = 256;
	Tta tta = TTA_NONE;
	CliRun run;
	cli_run_init(&run);
	static const struct option opts[] = {
		CLI_RUN_OPTIONS,
		{"output", required_argument, 0, 'o'},  {"batch", required_argument, 0, 'b'},
		{"tta", required_argument, 0, 't'},
		{"help", no_argument, 0, 'h'},          {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "o:hV", opts, NULL)) != -1) {
		if (cli_run_option(prog, &run, c, optarg, "val|test|none"))
			continue;
		switch (c) {
		case 'o': out = optarg; break;
		case 'b': batch = (int)cli_long(prog, "--batch", optarg, 1, 65536); break;
		case 't':
			if (tta_parse(optarg, &tta))
				die_usage(prog, "--tta: '%s' is not %s", optarg, TTA_NAMES);
			break;
		case 'h': usage(stdout); cli_close_stdout(prog); return 0;
		case 'V': cli_version(prog);
		default: usage(stderr); return 2;
		}
	}
	if (optind == argc)
		die_usage(prog, "missing MODEL");
	int on_test = strcmp(run.eval, "test") == 0, no_eval = strcmp(run.eval, "none") == 0;
	if (no_eval && !out)
		die_usage(prog, "--eval none without -o does nothing");
	int n_stdin = 0;
	for (int i = optind; i < argc; i++)
		n_stdin += strcmp(argv[i], "-") == 0;
	if (n_stdin > 1)
		die_usage(prog, "standard input (-) can be only one of the models");
	if (out)
		cli_check_binary_out(prog, out, "ensemble file");
	FILE *res = (out && strcmp(out, "-") == 0) ? stderr : stdout;

	NashErr err = {0};
	Ensemble all, e;
	ensemble_init(&all);
	ensemble_init(&e);
	for (int i = optind; i < argc; i++)
		if (ensemble_read_append(&all, argv[i], &err))
			die_err(prog, &err);
	/* uniform weights over distinct models: a step whose parent won has the same best as before */
	uint64_t *hash = malloc((size_t)all.n * sizeof *hash);
	if (!hash)
		die(prog, "out of memory");
	for (int i = 0; i < all.n; i++) {
		hash[i] = model_weights_hash(&all.members[i].g);
		int dup = ensemble_same_weights(hash, i);
		if (dup >= 0) {
			fprintf(stderr, "%s: %s: same weights as %s; counted once\n", prog, nash_name(all.sources[i]).s,
				nash_name(all.sources[dup]).s);
			continue;
		}
		if (ensemble_add(&e, &all.members[i], all.sources[i], &err))
			die_err(prog, &err);
	}
	free(hash);
	ensemble_free(&all);

	if (!no_eval) {
		BackendOpts bopts;
		const Backend *be = cli_backend(prog, &run, &bopts);
		Dataset d;
		const char *spec = data_spec_for_model(run.data, e.members[0].dataset, &err);
		if (!spec)
			nash_err_prefix(&err, e.sources[0]);
		if (!spec || dataset_load(&d, spec, on_test, &err))
			die_err(prog, &err);
		for (int i = 0; i < e.n; i++) {
			const Graph *g = &e.members[i].g;
			if (dataset_check_fit(&d, e.sources[i], e.members[i].dataset, g->in_c, g->in_h, g->in_w,
					      g->n_classes, &err))
				die_err(prog, &err);
		}
		double *acc = calloc((size_t)e.n, sizeof *acc), ens = NAN;
		if (!acc)
			die(prog, "out of memory");
		if (ensemble_evaluate(&e, be, &bopts, batch, &d, on_test, tta, acc, &ens, &err))
			die_err(prog, &err);
		const char *what = on_test ? "test_accuracy" : "val_accuracy";
		int pw = 8;
		for (int i = 0; i < e.n; i++) {
			int l = (int)strlen(e.sources[i]);
			pw = l > pw ? l : pw;
		}
		fprintf(res, "%-*s  %10s  %s\n", pw, "member", "params", what);
		for (int i = 0; i < e.n; i++) {
			fprintf(res, "%-*s  %10zu  %.4f\n", pw, e.sources[i], graph_param_count(&e.members[i].g), acc[i]);
			if (on_test) {
				e.members[i].test_accuracy = (float)acc[i];
				e.members[i].test_tta = tta; /* the ensemble's figure was measured alike */
			}
		}
		char label[64];
		snprintf(label, sizeof label, "ensemble of %d", e.n);
		fprintf(res, "%-*s  %10s  %.4f\n", pw, label, "", ens);
		if (on_test)
			e.test_accuracy = (float)ens;
		else
			e.val_accuracy = (float)ens;
		free(acc);
		dataset_free(&d);
		if (out && ensemble_write(&e, out, &err))
			die_err(prog, &err);
		fprintf(res, "%s=%.4f\n", what, ens);
	} else if (ensemble_write(&e, out, &err)) {
		die_err(prog, &err);
	}
	ensemble_free(&e);
	cli_close_stdout(prog);
	return 0;
}
