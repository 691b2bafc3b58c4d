/* nash-select: ranks trained models and copies the winner (a hill-climbing step's selection). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/atomic.h"
#include "cli.h"
#include "model/model.h"
#include "search/select.h"

static const char *prog = "nash-select";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTION]... MODEL...\n"
		"  or:  %s --mark-failed REASON [-o OUT] MODEL\n"
		"Rank trained models by validation accuracy (ties: fewer multiply-adds per image, a\n"
		"parent before its child, fewer parameters, then name), print the ranked table on\n"
		"standard error, copy the winner to BEST and print its path.\n"
		"Models marked failed or never evaluated rank last with a note; if no model can win,\n"
		"that is an error. So are models that cannot be compared: for different datasets, or\n"
		"(ranked by val_accuracy) holding out different validation splits, or trained on them.\n"
		"\n"
		"  -o, --output BEST     write a copy of the winner to BEST (atomically; - for stdout)\n"
		"      --metric M        val_accuracy (default) or test_accuracy\n"
		"      --tolerance T     among the models within T of the best's metric (absolute:\n"
		"                        0.002 = 0.2 points), the one with the fewest multiply-adds per\n"
		"                        image wins (default 0: the best; its ties by cost)\n"
		"      --tsv             print the ranked table as tab-separated values on standard\n"
		"                        output instead (no path line)\n"
		"  -q, --quiet           no table\n"
		"      --replace         no model selection: the last MODEL is the parent, which leaves\n"
		"                        the ranking when any other model can win, however they compare;\n"
		"                        it wins only when none can (a search's KEEP_PARENT=no)\n"
		"      --table FILE      write the tab-separated table to FILE (atomically, before BEST)\n"
		"                        instead of printing a table and the path\n"
		"      --step K          the selection of a search's step K: the last MODEL is the parent,\n"
		"                        the others its children; fails, writing nothing, when every child\n"
		"                        failed because no morphism fitted the parameter budget or the\n"
		"                        cap on multiply-adds (every later step would); then says how the\n"
		"                        step went on standard error\n"
		"      --steps N         with --step: of N steps (default: as many as the search decides)\n"
		"      --label L         with --step: the search's name, before its line ('run2/': 'run2: ')\n"
		"      --mark-failed R   write MODEL marked failed with reason R (no ranking): how a\n"
		"                        search records a child whose training crashed\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n"
		"\n"
		"Table columns: rank, the metric, parameters, multiply-adds per image, epochs trained,\n"
		"seconds of the last training run, model, morphisms since the parent (when the parent\n"
		"is a candidate).\n"
		"The winner's path is the last line on standard output (standard error when BEST is -).\n"
		"--step's line: the winner's validation accuracy and morphisms, the children trained and\n"
		"failed, their training time, and the time since the search began (NASH_START, seconds\n"
		"since 1970, when set).\n"
		"Exit status: 0 success, 1 error (unreadable model, nothing to select), 2 usage.\n",
		prog, prog);
}

static void fmt_acc(char *buf, size_t n, float v)
{
	if (isfinite(v))
		snprintf(buf, n, "%.4f", v);
	else
		snprintf(buf, n, "-");
}

/* Why order[0] won though it does not rank first by the metric (--tolerance), else "". */
static char chosen[128];

static void print_table(FILE *f, const ModelInfo *c, const int *order, int n, SelectMetric metric)
{
	int pw = 5;
	for (int i = 0; i < n; i++) {
		int l = (int)strlen(c[i].path);
		pw = l > pw ? l : pw;
	}
	fprintf(f, "rank  %-12s  %10s  %12s  %6s  %8s  %-*s  %s\n", select_metric_name(metric), "params", "macs",
		"epochs", "seconds", pw, "model", "morphisms since parent");
	for (int r = 0; r < n; r++) {
		const ModelInfo *mi = &c[order[r]];
		char acc[32], morphs[600], note[300];
		fmt_acc(acc, sizeof acc, model_info_metric(mi, metric));
		if (mi->since_parent < 0)
			snprintf(morphs, sizeof morphs, "-");
		else if (mi->since_parent == 0)
			snprintf(morphs, sizeof morphs, "0 (the parent)");
		else {
			char ops[512];
			select_recent_ops(ops, sizeof ops, mi, mi->since_parent);
			snprintf(morphs, sizeof morphs, "%d: %s", mi->since_parent, ops);
		}
		const char *why = select_unusable(mi, metric, note, sizeof note);
		if (!why && r == 0 && chosen[0])
			why = chosen;
		fprintf(f, "%4d  %-12s  %10zu  %12llu  %6d  %8.1f  %-*s  %s%s%s%s\n", r + 1, acc, mi->params,
			(unsigned long long)mi->macs, mi->epochs, (double)mi->seconds, pw, mi->path, morphs, why ? "  [" : "",
			why ? why : "", why ? "]" : "");
	}
}

/* Tabs and newlines in a failure text would break a TSV row. */
static void tsv_clean(char *s)
{
	for (; *s; s++)
		if (*s == '\t' || *s == '\n' || *s == '\r')
			*s = ' ';
}

static void print_tsv(FILE *f, ModelInfo *c, const int *order, int n, SelectMetric metric)
{
	fprintf(f, "rank\tmodel\t%s\tparams\tmacs\tepochs\tseconds\tsince_parent\tmorphisms\tusable\tnote\n",
		select_metric_name(metric));
	for (int r = 0; r < n; r++) {
		ModelInfo *mi = &c[order[r]];
		char acc[32], ops[512], note[300];
		fmt_acc(acc, sizeof acc, model_info_metric(mi, metric));
		select_recent_ops(ops, sizeof ops, mi, mi->since_parent);
		const char *why = select_unusable(mi, metric, note, sizeof note);
		if (why)
			tsv_clean(note);
		const char *said = why ? note : r == 0 && chosen[0] ? chosen : "-";
		fprintf(f, "%d\t%s\t%s\t%zu\t%llu\t%d\t%.1f\t%d\t%s\t%d\t%s\n", r + 1, mi->path, acc, mi->params,
			(unsigned long long)mi->macs, mi->epochs, (double)mi->seconds, mi->since_parent, ops[0] ? ops : "-",
			why == NULL, said);
	}
}

/* The tab-separated table, in FILE, written whole (atomic_write): the old one or the new one. */
static void write_tsv(const char *path, ModelInfo *c, const int *order, int n, SelectMetric metric)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		die(prog, "out of memory");
	print_tsv(f, c, order, n, metric);
	if (fclose(f) != 0)
		die(prog, "%s: out of memory", nash_name(path).s);
	NashErr err = {0};
	if (atomic_write(path, buf, len, &err))
		die_err(prog, &err);
	free(buf);
}

/* A search step (--step). */
typedef struct Step {
	int k, steps;      /* steps: 0 when open-ended */
	const char *label; /* NULL: none */
} Step;

/* ", 1m02s elapsed" since NASH_START (seconds since 1970), "" when it is not set. */
static void elapsed(char *buf, size_t n)
{
	const char *start = getenv("NASH_START");
	char h[32] = "?";
	buf[0] = '\0';
	if (!start || !*start)
		return;
	if (strspn(start, "0123456789") == strlen(start) && strlen(start) < 16)
		hms(h, sizeof h, difftime(time(NULL), (time_t)strtol(start, NULL, 10)));
	snprintf(buf, n, ", %s elapsed", h);
}

/* Seconds as the table shows them (%.1f), so that the line sums what the table says. */
static double tenths(float s)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%.1f", (double)s);
	return strtod(buf, NULL);
}

/* "run2: step 1/3: best val 0.8125 (child2, 2 morphisms: wider,deeper), 2 children trained,
   1m00s of training, 5m00s elapsed": a failed child holds its parent's figures, so it counts
   as a child, not as a training. */
static void print_progress(FILE *f, const Step *st, const ModelInfo *c, const int *order, int ranked, int parent,
			   SelectMetric metric)
{
	const ModelInfo *win = &c[order[0]];
	char val[32], what[700], label[256] = "", of[32] = "", h[32], since[64];
	fmt_acc(val, sizeof val, model_info_metric(win, metric));
	if (order[0] == parent) {
		snprintf(what, sizeof what, "the parent stays");
	} else {
		const char *base = strrchr(win->path, '/');
		char name[256], ops[512];
		snprintf(name, sizeof name, "%s", base ? base + 1 : win->path);
		size_t l = strlen(name);
		if (l > 3 && strcmp(name + l - 3, ".h5") == 0)
			name[l - 3] = '\0';
		select_recent_ops(ops, sizeof ops, win, win->since_parent);
		snprintf(what, sizeof what, "%s, %d morphisms: %s", name, win->since_parent, ops[0] ? ops : "-");
	}
	if (st->label && *st->label) {
		size_t l = strlen(st->label);
		l -= l > 1 && st->label[l - 1] == '/';
		snprintf(label, sizeof label, "%.*s: ", (int)l, st->label);
	}
	if (st->steps > 0)
		snprintf(of, sizeof of, "/%d", st->steps);
	int children = 0, failed = 0;
	double seconds = 0;
	for (int r = 0; r < ranked; r++) {
		if (order[r] == parent)
			continue;
		char note[300];
		children++;
		if (select_unusable(&c[order[r]], metric, note, sizeof note))
			failed++;
		else
			seconds += tenths(c[order[r]].seconds);
	}
	fprintf(f, "%sstep %d%s: best val %s (%s), ", label, st->k, of, val, what);
	if (failed)
		fprintf(f, "%d of %d %s trained (%d failed)", children - failed, children,
			children == 1 ? "child" : "children", failed);
	else
		fprintf(f, "%d %s trained", children, children == 1 ? "child" : "children");
	elapsed(since, sizeof since);
	fprintf(f, ", %s of training%s\n", hms(h, sizeof h, (double)(long)seconds), since);
}

static int mark_failed(const char *in, const char *out, const char *reason)
{
	NashErr err = {0};
	Model m;
	if (model_read(&m, in, &err))
		die_err(prog, &err);
	m.failed = 1;
	snprintf(m.failure, sizeof m.failure, "%s", reason);
	/* a failed model is a record, not something to resume: drop checkpoint state */
	model_drop_optimizer(&m);
	if (model_write(&m, out, &err))
		die_err(prog, &err);
	model_free(&m);
	cli_close_stdout(prog);
	return 0;
}

int main(int argc, char **argv)
{
	const char *out = NULL, *reason = NULL, *table = NULL;
	int metric = METRIC_VAL_ACCURACY, tsv = 0, quiet = 0, replace = 0;
	double tolerance = 0;
	const char *tolerance_text = "0";
	Step step = {.k = -1};
	static const struct option opts[] = {
		{"output", required_argument, 0, 'o'}, {"metric", required_argument, 0, 'm'},
		{"tsv", no_argument, 0, 't'},          {"quiet", no_argument, 0, 'q'},
		{"mark-failed", required_argument, 0, 'F'}, {"replace", no_argument, 0, 'R'},
		{"table", required_argument, 0, 'T'},  {"step", required_argument, 0, 'k'},
		{"steps", required_argument, 0, 'n'},  {"label", required_argument, 0, 'L'},
		{"tolerance", required_argument, 0, 'e'},
		{"help", no_argument, 0, 'h'},         {"version", no_argument, 0, 'V'},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "o:qhV", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'm':
			metric = select_metric_from_name(optarg);
			if (metric < 0)
				die_usage(prog, "--metric: '%s' is not val_accuracy or test_accuracy", optarg);
			break;
		case 't': tsv = 1; break;
		case 'q': quiet = 1; break;
		case 'F': reason = optarg; break;
		case 'R': replace = 1; break;
		case 'T': table = optarg; break;
		case 'k': step.k = (int)cli_long(prog, "--step", optarg, 1, 999); break;
		case 'n': step.steps = (int)cli_long(prog, "--steps", optarg, 1, 999); break;
		case 'L': step.label = optarg; break;
		case 'e':
			tolerance = cli_double(prog, "--tolerance", optarg, 0, 1);
			if (tolerance >= 1)
				die_usage(prog, "--tolerance: %s is not below 1", optarg);
			tolerance_text = optarg;
			break;
		case 'h': usage(stdout); cli_close_stdout(prog); return 0;
		case 'V': cli_version(prog);
		default: usage(stderr); return 2;
		}
	}
	if (optind == argc)
		die_usage(prog, "missing MODEL");
	if ((step.steps || step.label) && step.k < 0)
		die_usage(prog, "%s needs --step", step.steps ? "--steps" : "--label");
	if (reason) {
		if (replace || table || step.k >= 0)
			die_usage(prog, "--mark-failed and --%s exclude each other",
				  replace ? "replace" : table ? "table" : "step");
		if (argc - optind != 1)
			die_usage(prog, "--mark-failed takes exactly one MODEL");
		if (!out)
			out = "-";
		cli_check_binary_out(prog, out, "model file");
		return mark_failed(argv[optind], out, reason);
	}
	if (tsv && out && strcmp(out, "-") == 0)
		die_usage(prog, "--tsv and -o - would both write to standard output");
	if (out)
		cli_check_binary_out(prog, out, "model file");
	int n = argc - optind, n_stdin = 0;
	if (tsv && table)
		die_usage(prog, "--tsv and --table exclude each other");
	if (replace && n < 2)
		die_usage(prog, "--replace needs the parent and at least one other MODEL");
	if (step.k >= 0 && n < 2)
		die_usage(prog, "--step needs the parent (the last MODEL) and at least one child");
	for (int i = optind; i < argc; i++)
		n_stdin += strcmp(argv[i], "-") == 0;
	if (n_stdin > 1)
		die_usage(prog, "standard input (-) can be only one of the models");

	NashErr err = {0};
	ModelInfo *info = calloc((size_t)n, sizeof *info);
	void **bytes = calloc((size_t)n, sizeof *bytes);
	size_t *len = calloc((size_t)n, sizeof *len);
	int *order = calloc((size_t)n, sizeof *order);
	if (!info || !bytes || !len || !order)
		die(prog, "out of memory");
	Model first; /* every other candidate must be comparable with it */
	/* the accuracies that rank must be measured alike: the test-time augmentation of the
	   first candidate that can win (-1: none yet) and its file */
	int tta_seen = -1;
	const char *tta_path = NULL;
	for (int i = 0; i < n; i++) {
		const char *path = argv[optind + i];
		Model m;
		/* keep the bytes: the winner is copied as is, and stdin cannot be read twice */
		if (read_all(path, &bytes[i], &len[i], &err) ||
		    model_read_mem(&m, bytes[i], len[i], strcmp(path, "-") ? path : "<stdin>", &err))
			die_err(prog, &err);
		if (metric != METRIC_TEST_ACCURACY && m.n_runs > 0 && run_trained_on_val(&m.runs[m.n_runs - 1]))
			die(prog, "%s: its last run trained on the validation images (nash-train --train-on all): its "
			    "val_accuracy is not held out and cannot rank it", nash_name(path).s);
		if (i > 0 && select_comparable(&first, info[0].path, &m, path, metric != METRIC_TEST_ACCURACY, &err))
			die_err(prog, &err);
		model_info(&info[i], &m, path);
		Tta tta = metric == METRIC_TEST_ACCURACY ? m.test_tta : m.val_tta;
		if (!m.failed && isfinite(model_info_metric(&info[i], (SelectMetric)metric))) {
			if (tta_seen < 0) {
				tta_seen = (int)tta;
				tta_path = path;
			} else if ((Tta)tta_seen != tta)
				die(prog, "%s: its %s was measured with test-time augmentation '%s', that of %s with '%s': "
				    "they cannot be compared (evaluate both with the same nash-train --tta)",
				    nash_name(path).s, select_metric_name((SelectMetric)metric), tta_name(tta),
				    nash_name(tta_path).s, tta_name((Tta)tta_seen));
		}
		if (i == 0)
			first = m;
		else
			model_free(&m);
	}
	model_free(&first);
	select_link_parents(info, n);
	int ranked = n;
	int usable = replace ? select_rank_replace(order, &ranked, info, n, n - 1, (SelectMetric)metric)
			     : select_rank(order, info, n, (SelectMetric)metric);
	if (select_tolerance(order, ranked, info, (SelectMetric)metric, tolerance) > 0)
		snprintf(chosen, sizeof chosen, "within %.32s of the best, the fewest multiply-adds", tolerance_text);
	if (tsv)
		print_tsv(stdout, info, order, ranked, (SelectMetric)metric);
	else if (!quiet && !table)
		print_table(stderr, info, order, ranked, (SelectMetric)metric);
	if (usable == 0) {
		if (n == 1)
			die(prog, "%s: no model can win: it failed or has no %s", nash_name(info[0].path).s,
			    select_metric_name((SelectMetric)metric));
		die(prog, "no model can win: all %d models failed or have no %s", n,
		    select_metric_name((SelectMetric)metric));
	}
	if (step.k >= 0) {
		const ModelInfo *nofit = select_none_fit(info, order, ranked, n - 1);
		if (nofit) {
			char note[300];
			select_unusable(nofit, (SelectMetric)metric, note, sizeof note);
			tsv_clean(note);
			die(prog, "every child failed, and every later step would: %s (the parent has %zu parameters, %llu "
			    "multiply-adds per image)", note, info[n - 1].params, (unsigned long long)info[n - 1].macs);
		}
	}
	/* the table first, the winner last: once BEST (a make target) exists, so does the table */
	if (table)
		write_tsv(table, info, order, ranked, (SelectMetric)metric);
	int w = order[0];
	if (out && atomic_write(out, bytes[w], len[w], &err))
		die_err(prog, &err);
	if (!tsv && !table) {
		FILE *res = (out && strcmp(out, "-") == 0) ? stderr : stdout;
		fprintf(res, "%s\n", info[w].path);
	}
	if (step.k >= 0)
		print_progress(stderr, &step, info, order, ranked, n - 1, (SelectMetric)metric);
	for (int i = 0; i < n; i++)
		free(bytes[i]);
	free(bytes);
	free(len);
	free(info);
	free(order);
	cli_close_stdout(prog);
	return 0;
}
