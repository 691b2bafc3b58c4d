/* nash-export: writes a model's network in a format other programs run (ONNX). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "export/onnx.h"

static const char *prog = "nash-export";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s --onnx [OPTION]... [MODEL]\n"
		"Write the network of MODEL (a file; standard input if - or none) in inference form as an\n"
		"ONNX model (opset %d): batch-norm with its running statistics, the input normalisation\n"
		"inside the graph. Its input 'image' is float32 pixels 0..255 [N,C,H,W], its output\n"
		"'logits' [N,classes].\n"
		"\n"
		"      --onnx        write ONNX (the one format so far; required)\n"
		"      --tta none|flip|flip-shift  test-time augmentation inside the graph: the\n"
		"                    output is then 'probabilities' [N,classes], the mean softmax of\n"
		"                    the image's views, as nash-train --tta evaluates (default none:\n"
		"                    the logits)\n"
		"  -o, --output F    write to F (default: standard output)\n"
		"  -h, --help        show this help\n"
		"  -V, --version     show the version\n"
		"\n"
		"Exit status: 0 success, 1 error, 2 usage.\n",
		prog, NASH_ONNX_OPSET);
}

int main(int argc, char **argv)
{
	const char *out = "-";
	int onnx = 0;
	Tta tta = TTA_NONE;
	static const struct option opts[] = {
		{"onnx", no_argument, 0, 'x'},  {"tta", required_argument, 0, 't'}, {"output", required_argument, 0, 'o'},
		{"help", no_argument, 0, 'h'},  {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "o:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'x': onnx = 1; break;
		case 't':
			if (tta_parse(optarg, &tta))
				die_usage(prog, "--tta: '%s' is not %s", optarg, TTA_NAMES);
			break;
		case 'o': out = optarg; break;
		case 'h': usage(stdout); cli_close_stdout(prog); return 0;
		case 'V': cli_version(prog);
		default: usage(stderr); return 2;
		}
	}
	if (!onnx)
		die_usage(prog, "say which format to write: --onnx");
	const char *in = cli_input(prog, argc, argv, optind, "MODEL");
	cli_check_binary_out(prog, out, "ONNX model");

	NashErr err = {0};
	Model m;
	if (model_read(&m, in, &err))
		die_err(prog, &err);
	if (onnx_export(out, &m, tta, &err))
		die_err(prog, &err);
	model_free(&m);
	cli_close_stdout(prog);
	return 0;
}
