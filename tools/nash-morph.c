/* nash-morph: applies function-preserving network morphisms to a model (a child of it). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model/model.h"
#include "search/morph.h"

static const char *prog = "nash-morph";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTION]... [PARENT]\n"
		"Write a child of PARENT (a file; standard input if - or none): the parent with N network\n"
		"morphisms applied in sequence, each computing exactly the parent's function until trained.\n"
		"\n"
		"  -n N               morphisms to apply (default 5)\n"
		"  --seed S           random seed for every choice (default 1); the same parent and seed\n"
		"                     give a byte-identical child\n"
		"  --op LIST          operators to draw from, uniformly (repeatable, comma-separated):\n"
		"                     deeper, wider, skip (= skip-add or skip-concat), skip-add,\n"
		"                     skip-concat (default: deeper,wider,skip)\n"
		"  --max-params P     redraw morphisms whose result has more than P trainable parameters\n"
		"  --max-macs M       redraw morphisms whose result costs more than M multiply-adds per\n"
		"                     image (convolutions and dense layers, as nash-show counts them)\n"
		"  -o, --output F     write the child to F (default: standard output)\n"
		"  -h, --help         show this help\n"
		"  -V, --version      show the version\n"
		"\n"
		"Each applied morphism is reported on standard error. Operators without a valid place in\n"
		"the network are redrawn; it is an error (exit 5) when none of the listed ones has one.\n"
		"Exit status: 0 success, 1 error, 2 usage, 3 out of memory, 5 no morphism fits the\n"
		"network (no valid place for the operators, or none within --max-params or --max-macs).\n",
		prog);
}

static void report(const Morphism *mm, const char *desc, void *arg)
{
	(void)mm;
	(void)arg;
	fprintf(stderr, "%s: %s\n", prog, desc);
}

int main(int argc, char **argv)
{
	MorphOpts o;
	morph_opts_default(&o);
	o.report = report;
	const char *out = "-";
	NashErr err = {0};
	static const struct option opts[] = {
		{"seed", required_argument, 0, 's'},       {"op", required_argument, 0, 'p'},
		{"max-params", required_argument, 0, 'P'}, {"max-macs", required_argument, 0, 'M'},
		{"output", required_argument, 0, 'o'},     {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "n:o:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'n': o.n = (int)cli_long(prog, "-n", optarg, 1, 1000); break;
		case 's': o.seed = cli_u64(prog, "--seed", optarg); break;
		case 'p':
			if (morph_parse_ops(&o, optarg, &err))
				die_usage(prog, "%s", err.msg);
			break;
		case 'P':
			o.max_params = (size_t)cli_u64(prog, "--max-params", optarg);
			if (o.max_params == 0)
				die_usage(prog, "--max-params: must be at least 1");
			break;
		case 'M':
			o.max_macs = cli_u64(prog, "--max-macs", optarg);
			if (o.max_macs == 0)
				die_usage(prog, "--max-macs: must be at least 1");
			break;
		case 'o': out = optarg; break;
		case 'h': usage(stdout); cli_close_stdout(prog); return 0;
		case 'V': cli_version(prog);
		default: usage(stderr); return 2;
		}
	}
	const char *in = cli_input(prog, argc, argv, optind, "PARENT");
	cli_check_binary_out(prog, out, "model file");

	Model parent, child;
	if (model_read(&parent, in, &err))
		die_err(prog, &err);
	size_t before = graph_param_count(&parent.g);
	uint64_t macs_before = graph_macs(&parent.g);
	if (morph_apply(&child, &parent, &o, &err)) {
		nash_err_prefix(&err, strcmp(in, "-") ? in : "<stdin>");
		die_err(prog, &err);
	}
	fprintf(stderr, "%s: child %s of %s: %zu parameters, %llu multiply-adds per image (parent %zu, %llu)\n",
		prog, child.id, parent.id, graph_param_count(&child.g), (unsigned long long)graph_macs(&child.g), before,
		(unsigned long long)macs_before);
	if (model_write(&child, out, &err))
		die_err(prog, &err);
	model_free(&parent);
	model_free(&child);
	cli_close_stdout(prog);
	return 0;
}
