/* nash-train: trains a model (SGD, Nesterov momentum, cosine annealing) and writes it back. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "thread_env.h"
#include "data/data.h"
#include "model/model.h"
#include "engine/net.h"
#include "engine/train.h"

static const char *prog = "nash-train";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTION]... [MODEL]\n"
		"Train MODEL (a file; standard input if - or none) and write the trained model.\n"
		"Validation accuracy is measured after every epoch and appended to the training record.\n"
		"\n"
		"  --data SPEC        data (default: the dataset recorded in the model): fashion-mnist,\n"
		"                     fashion-mnist:DIR, cifar10:DIR, cifar100:DIR, h5:FILE\n"
		"  --epochs E         epochs of this run (default 1); 0 only evaluates\n"
		"  --lr START[:END]   learning rate, cosine-annealed from START to END (default 0.05:0)\n"
		"  --warmup EPOCHS|auto  first raise the learning rate linearly, step by step, from\n"
		"                     START/W to START over the first EPOCHS epochs (W steps; fractions\n"
		"                     allowed, 0: none); the cosine then runs over the remaining steps.\n"
		"                     auto (default): 1 epoch, at most half the run, for a model never\n"
		"                     trained (a seed from nash-init), 0 for one that has been (a\n"
		"                     search child, a model trained further); the run's warmup is\n"
		"                     recorded in training/runs\n"
		"  --batch B          batch size (default 128)\n"
		"  --momentum M       Nesterov momentum (default 0.9)\n"
		"  --weight-decay W   weight decay on conv and dense weights (default 5e-4)\n"
		"  --limit N          train on the first N training images only\n"
		"  --train-on train|all  train on the training split (default) or on training and\n"
		"                     validation images (the final phase): validation figures are then\n"
		"                     not held out; they are still printed, marked, and nash-select\n"
		"                     refuses to rank the model\n"
		"  --no-augment       no random crops and flips\n"
		"  --seed S           seed for shuffling and augmentation (default 1)\n"
		"  --device D         auto (default), cpu (oneDNN), cpu-bf16, cpu-blas (im2col +\n"
		"                     OpenBLAS), ref (slow reference loops) or cuda\n"
		"  --gpu N            use GPU N (default 0, or as CUDA_VISIBLE_DEVICES orders them)\n"
		"  --threads T        CPU threads (default: all cores)\n"
		"  --eval val|test    also evaluate on the test set with 'test' (default val)\n"
		"  --label-smoothing E  train against the target (1-E) one-hot + E/K (0 <= E < 1;\n"
		"                     default 0: one-hot)\n"
		"  --ema D            evaluate and keep an exponential moving average of the weights and\n"
		"                     batch-norm statistics, updated after every step with decay\n"
		"                     min(D, (1+k)/(10+k)) at step k (0 <= D < 1; default 0: none)\n"
		"  --tta none|flip|flip-shift  test-time augmentation of the validation and test\n"
		"                     figures: the mean softmax of the image and its mirror (flip), and\n"
		"                     of both shifted one pixel each way diagonally (flip-shift);\n"
		"                     default none\n"
		"  --checkpoint F     after every epoch write model + optimizer state to F; a rerun with\n"
		"                     the same settings given F as MODEL resumes from it\n"
		"  -o, --output F     write the trained model to F (default: standard output)\n"
		"  -h, --help         show this help\n"
		"  -V, --version      show the version\n"
		"\n"
		"The last line on standard output is 'val_accuracy=X' (and ' test_accuracy=Y' with\n"
		"--eval test); when the model itself goes to standard output, that line goes to stderr.\n"
		"With --train-on all, ' train_on=all' follows, and with --tta T other than none,\n"
		"' tta=T' ends the line. A run that collapses (after an epoch, the network gives every\n"
		"image the same output: every ReLU dead, accuracy at chance) fails like one that\n"
		"diverges: 'collapsed: ...', the model written to -o F marked failed with that reason.\n"
		"Exit status: 0 success, 1 error, 2 usage, 3 out of memory, 4 training diverged or\n"
		"collapsed.\n",
		prog);
}

/* A value in [0, 1) for opt (as a float: 0.99999999999 would round to 1). */
static float unit_fraction(const char *opt, const char *s)
{
	double v = cli_double(prog, opt, s, -HUGE_VAL, HUGE_VAL);
	if (!(v >= 0 && (float)v < 1.0f))
		die_usage(prog, "%s: %s is out of range [0, 1)", opt, s);
	return (float)v;
}

/* Where this training runs, for its record (RunSettings: host, hardware, job): the host
   name, the device in words (the physical GPU too when CUDA_VISIBLE_DEVICES picks it, as
   Slurm's --gres=gpu does), and the Slurm job and step when it runs as one: "4242.3", or
   "4242.3 (restart 1)" in a requeued job. */
typedef struct Place {
	char host[256], hardware[160], job[64];
} Place;

static void find_place(Place *p, TrainOpts *o, const Net *net)
{
	if (gethostname(p->host, sizeof p->host) != 0)
		p->host[0] = '\0';
	p->host[sizeof p->host - 1] = '\0';
	char dev[128];
	backend_describe(&net->ctx, dev, sizeof dev);
	const char *visible = getenv("CUDA_VISIBLE_DEVICES");
	if (strcmp(net->ctx.be->name, "cuda") == 0 && visible && *visible)
		snprintf(p->hardware, sizeof p->hardware, "%s (CUDA_VISIBLE_DEVICES=%s)", dev, visible);
	else
		snprintf(p->hardware, sizeof p->hardware, "%s", dev);
	/* A requeued job keeps its id and numbers its steps from 0 again: its restarts tell them apart. */
	const char *job = getenv("SLURM_JOB_ID"), *step = getenv("SLURM_STEP_ID"),
		   *restart = getenv("SLURM_RESTART_COUNT");
	p->job[0] = '\0';
	if (job && *job) {
		int has_step = step && *step, restarted = restart && *restart && strcmp(restart, "0") != 0;
		snprintf(p->job, sizeof p->job, "%s%s%s%s%s%s", job, has_step ? "." : "", has_step ? step : "",
			 restarted ? " (restart " : "", restarted ? restart : "", restarted ? ")" : "");
	}
	o->host = p->host;
	o->hardware = p->hardware;
	o->job = p->job;
}

int main(int argc, char **argv)
{
	thread_env_default(argv);
	TrainOpts o;
	train_opts_default(&o);
	const char *out = NULL;
	CliRun run;
	cli_run_init(&run);
	static const struct option opts[] = {
		CLI_RUN_OPTIONS,                       {"epochs", required_argument, 0, 'e'},
		{"lr", required_argument, 0, 'l'},     {"batch", required_argument, 0, 'b'},
		{"momentum", required_argument, 0, 'm'}, {"weight-decay", required_argument, 0, 'W'},
		{"limit", required_argument, 0, 'n'},  {"no-augment", no_argument, 0, 'A'},
		{"seed", required_argument, 0, 's'},
		{"checkpoint", required_argument, 0, 'c'}, {"output", required_argument, 0, 'o'},
		{"warmup", required_argument, 0, 'w'}, {"train-on", required_argument, 0, 'T'},
		{"label-smoothing", required_argument, 0, 'L'}, {"ema", required_argument, 0, 'E'},
		{"tta", required_argument, 0, 't'},
		{"help", no_argument, 0, 'h'},         {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "o:hV", opts, NULL)) != -1) {
		if (cli_run_option(prog, &run, c, optarg, "val|test"))
			continue;
		switch (c) {
		case 'e': o.epochs = (int)cli_long(prog, "--epochs", optarg, 0, 100000); break;
		case 'l': cli_lr_range(prog, "--lr", optarg, &o.lr_start, &o.lr_end); break;
		case 'b': o.batch = (int)cli_long(prog, "--batch", optarg, 1, 65536); break;
		case 'm': o.momentum = (float)cli_double(prog, "--momentum", optarg, 0, 1); break;
		case 'W': o.weight_decay = (float)cli_double(prog, "--weight-decay", optarg, 0, 1); break;
		case 'n': o.limit = (int)cli_long(prog, "--limit", optarg, 1, 100000000); break;
		case 'A': o.augment = 0; break;
		case 's': o.seed = cli_u64(prog, "--seed", optarg); break;
		case 'c': o.checkpoint = optarg; break;
		case 'w':
			o.warmup = strcmp(optarg, "auto") ? (float)cli_double(prog, "--warmup", optarg, 0, 100000)
							  : NASH_WARMUP_AUTO;
			break;
		case 'T':
			if (strcmp(optarg, "train") && strcmp(optarg, "all"))
				die_usage(prog, "--train-on: '%s' is not train or all", optarg);
			o.train_on_all = strcmp(optarg, "all") == 0;
			break;
		case 'L': o.label_smoothing = unit_fraction("--label-smoothing", optarg); break;
		case 'E': o.ema = unit_fraction("--ema", optarg); break;
		case 't':
			if (tta_parse(optarg, &o.tta))
				die_usage(prog, "--tta: '%s' is not %s", optarg, TTA_NAMES);
			break;
		case 'o': out = optarg; break;
		case 'h': usage(stdout); cli_close_stdout(prog); return 0;
		case 'V': cli_version(prog);
		default: usage(stderr); return 2;
		}
	}
	const char *in = cli_input(prog, argc, argv, optind, "MODEL");
	const char *data = run.data;
	int want_test = strcmp(run.eval, "test") == 0;
	int write_model = out || o.epochs > 0;
	if (!out)
		out = "-";
	if (write_model)
		cli_check_binary_out(prog, out, "model file");

	NashErr err = {0};
	BackendOpts bopts;
	const Backend *be = cli_backend(prog, &run, &bopts);
	Model m;
	if (model_read(&m, in, &err))
		die_err(prog, &err);
	Dataset d;
	const char *spec = data_spec_for_model(data, m.dataset, &err);
	if (!spec) {
		nash_err_prefix(&err, in);
		die_err(prog, &err);
	}
	if (dataset_load(&d, spec, want_test, &err) ||
	    dataset_check_fit(&d, in, m.dataset, m.g.in_c, m.g.in_h, m.g.in_w, m.g.n_classes, &err))
		die_err(prog, &err);
	o.engine = be->name;
	Net net;
	int batch = o.batch;
	if (net_create(&net, be, &bopts, &m.g, batch, m.mean, m.std, &err))
		die_err(prog, &err);
	fprintf(stderr, "%s: device %s; %zu parameters; %.1f MB for the network\n", prog, be->name,
		graph_param_count(&m.g), net_bytes(&net) / 1e6);
	Place place;
	find_place(&place, &o, &net);

	if (o.epochs > 0) {
		CliProgress cp;
		cli_progress_init(&cp, prog);
		if (train_model(&m, &net, &d, &o, cli_progress, &cp, &err)) {
			if (err.code == NASH_ERR_DIVERGED && strcmp(out, "-") != 0) {
				/* Keep the evidence: the model, marked failed, so a search can rank it last. */
				NashErr werr = {0};
				model_drop_optimizer(&m);
				if (model_write(&m, out, &werr))
					fprintf(stderr, "%s: %s\n", prog, werr.msg);
			}
			die_err(prog, &err);
		}
	} else {
		EvalSet es;
		double loss, acc;
		if (m.val_size == 0 && !want_test)
			die(prog, "%s: the model holds out no validation images (val_size 0): nothing to evaluate; try --eval test",
			    nash_name(in).s);
		if (m.val_size > 0) {
			if (eval_set(&es, &d, 0, m.val_size, &err) || evaluate_on(&net, &es, o.tta, &loss, &acc, NULL, &err))
				die_err(prog, &err);
			m.val_accuracy = (float)acc;
			m.val_tta = o.tta;
		}
	}
	if (want_test) {
		EvalSet es;
		double loss, acc;
		if (eval_set(&es, &d, 1, 0, &err) || evaluate_on(&net, &es, o.tta, &loss, &acc, NULL, &err))
			die_err(prog, &err);
		m.test_accuracy = (float)acc;
		m.test_tta = o.tta;
	}
	net_free(&net);
	if (write_model && model_write(&m, out, &err))
		die_err(prog, &err);
	FILE *res = (write_model && strcmp(out, "-") == 0) ? stderr : stdout;
	fprintf(res, "val_accuracy=%.4f", m.val_accuracy);
	if (want_test)
		fprintf(res, " test_accuracy=%.4f", m.test_accuracy);
	if (m.n_runs > 0 && run_trained_on_val(&m.runs[m.n_runs - 1]))
		fputs(" train_on=all", res); /* the validation figure is not held out */
	if (o.tta != TTA_NONE)
		fprintf(res, " tta=%s", tta_name(o.tta)); /* the figures are not the plain ones */
	fputc('\n', res);
	model_free(&m);
	dataset_free(&d);
	cli_close_stdout(prog);
	return 0;
}
