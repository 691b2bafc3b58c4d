/* nash-report: the reports of searches from their files: a search's report.md, summary.txt,
   result.tsv and its plot's data; the tables over repeated searches and over the ablation.
   lib/search/report*.c reads and computes; this and report_text.c write the text. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "base/atomic.h"
#include "cli.h"
#include "report_budget.h"
#include "report_text.h"
#include "search/report.h"

static const char *prog = "nash-report";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s search [OPTION]... RUN STEPS\n"
		"       %s plot-data [--step0 DIR] RUN STEPS\n"
		"       %s runs DIR NAME...\n"
		"       %s ablation [--plot FILE] [--started EPOCH] DIR NAME...\n"
		"       %s climb --max-steps N [OPTION]... RUN K\n"
		"       %s baseline-budget OUT RESULT SEED_MODEL\n"
		"       %s check-budget [--label L] [--limit N] MODEL MAX_PARAMS\n"
		"       %s max-params MAX_PARAMS MODEL\n"
		"       %s max-macs MAX_GROWTH PARENT\n"
		"Reports of searches, from their files, and the decisions made from them.\n"
		"search: the search in RUN, stopped or finished after STEPS hill-climbing steps:\n"
		"RUN/result.tsv, RUN/summary.txt and RUN/report.md (last). plot-data: RUN/report/steps.dat\n"
		"and RUN/report/children.dat, the figures a plot of the search draws.\n"
		"runs: the searches DIR/NAME... of RUNS=N: DIR/runs.tsv, DIR/summary.txt, DIR/report.md.\n"
		"ablation: the ablation's variants on the seeds DIR/NAME...: DIR/results.tsv,\n"
		"DIR/report.tsv, DIR/summary.txt, DIR/report.md.\n"
		"climb: whether the search in RUN, which has made step K, makes another (BUDGET,\n"
		"PATIENCE): prints 'continue', or 'stop', a tab and why, and then writes RUN/climb.txt.\n"
		"baseline-budget: OUT, the epochs that give the seed network SEED_MODEL the training time\n"
		"of the search whose result.tsv is RESULT (the no-search baseline of equal compute).\n"
		"check-budget: what the search derives from its data and seed network MODEL and the\n"
		"children's parameter budget MAX_PARAMS (N, Kx or ''), in MODEL's .derived and on standard\n"
		"output; an error when MODEL does not fit below the budget. max-params: the budget in\n"
		"parameters (empty for none). max-macs: a child's cap in multiply-adds per image under\n"
		"the growth cap MAX_GROWTH (G, 1 or more: G times PARENT's cost; '': none, an empty line).\n"
		"\n"
		"      --partial          search: the report of a search not finished: no final model,\n"
		"                         no ensemble (report.md only)\n"
		"      --step0 DIR        the seed network's directory (default RUN/step0)\n"
		"      --final-on WHAT    what the final model trained on: train (default) or all\n"
		"      --ensemble WHAT    the snapshot ensemble's members: raw (default) or trained\n"
		"      --plot FILE        the plot report.md shows (a path from RUN or DIR)\n"
		"      --drawing FILE     the drawing of the best architecture report.md shows (from RUN)\n"
		"      --started EPOCH    when its make started (seconds since 1970), for the wall time\n"
		"                         (search: shown when that make made the seed network too)\n"
		"      --at-once J        search: the trainings that ran at once (make -jJ), for the\n"
		"                         share of the wall time spent training\n"		"climb's options (search.mk's settings):\n"
		"      --max-steps N      the most steps (STEPS)\n"
		"      --budget SECONDS   stop before a step that, with the final phase after it, would\n"
		"                         not fit the time since the search began (BUDGET); set step K\n"
		"                         aside when its best's final phase no longer fits and step\n"
		"                         K-1's is shorter\n"
		"      --patience K       stop when the last K steps raised the best validation accuracy\n"
		"      --min-gain G       by less than G (default 0.001) (PATIENCE, MIN_GAIN)\n"
		"      --epochs S,N,F     EPOCHS_SEED, EPOCHS_NEIGH, EPOCHS_FINAL (needed by --budget)\n"
		"      --neigh N          the children of a step, NEIGH (needed by --budget)\n"
		"      --jobs J           the trainings at once (default 1, at most N)\n"
		"      --final-on, --ensemble   as for search: the final phase, predicted by --budget\n"
		"      --next-made        step K+1 is made and up to date (by an earlier climb): taken\n"
		"                         as it is, whatever the budget\n"		"check-budget's options:\n"
		"      --label L          the search's name before each line ('run2/': 'run2: ')\n"
		"      --limit N          LIMIT: the first N training images\n"
		"  -h, --help             display this help and exit\n"
		"  -V, --version          output version information and exit\n",
		prog, prog, prog, prog, prog, prog, prog, prog, prog);
}

/* ---- plot-data ---- */

static void write_plot_data(const SearchReport *r)
{
	char dir[REPORT_PATH + 32], path[REPORT_PATH + 64], a[32], m[32];
	snprintf(dir, sizeof dir, "%s/report", r->o.run);
	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		die(prog, "%s: %s", dir, strerror(errno));
	/* per step: the cumulative training minutes and the best validation accuracy */
	Out o;
	FILE *f = out_open(&o);
	fprintf(f, "0 %s %s\n", num_text(m, sizeof m, r->minutes[0]), acc_text(a, sizeof a, r->seed.mi.val_accuracy));
	for (int k = 1; k <= r->o.steps; k++)
		fprintf(f, "%d %s %s\n", k, num_text(m, sizeof m, r->minutes[k]),
			tsv_cell(&r->step[k].sel, 0, r->step[k].val));
	snprintf(path, sizeof path, "%s/steps.dat", dir);
	out_write(&o, path);
	/* every child's that trained */
	f = out_open(&o);
	for (int k = 1; k <= r->o.steps; k++)
		for (int row = 0; row < r->step[k].sel.n_rows; row++)
			if (report_step_trained(&r->step[k], row))
				fprintf(f, "%d %s\n", k, tsv_cell(&r->step[k].sel, row, r->step[k].val));
	snprintf(path, sizeof path, "%s/children.dat", dir);
	out_write(&o, path);
}

/* ---- search: result.tsv, summary.txt, report.md ---- */

typedef struct Texts { /* what the three files share */
	const char *final_on, *ensemble;
	char final_val[64], final_test[32], seed_val[32], best_val[32];
	char train_total[32], epochs_in_final[32], ens_count[16], ens_label[96], gain[32];
} Texts;

static void texts_init(Texts *t, const SearchReport *r, const char *final_on, const char *ensemble)
{
	t->final_on = final_on;
	t->ensemble = ensemble;
	acc_text(t->final_val, sizeof t->final_val, r->final.mi.val_accuracy);
	/* With FINAL_ON=all the final model has trained on its validation images: say so by its figure. */
	if (strcmp(final_on, "all") == 0)
		strcat(t->final_val, " (trained on)");
	acc_text(t->final_test, sizeof t->final_test, r->final.mi.test_accuracy);
	acc_text(t->seed_val, sizeof t->seed_val, r->seed.mi.val_accuracy);
	acc_text(t->best_val, sizeof t->best_val, r->best.mi.val_accuracy);
	num_text(t->train_total, sizeof t->train_total, r->train_seconds);
	t->epochs_in_final[0] = '\0';
	if (r->final_epoch_images > 0)
		snprintf(t->epochs_in_final, sizeof t->epochs_in_final, "%.1f", r->train_images / r->final_epoch_images);
	snprintf(t->ens_count, sizeof t->ens_count, "?");
	if (r->ens_n >= 0)
		snprintf(t->ens_count, sizeof t->ens_count, "%d", r->ens_n);
	snprintf(t->ens_label, sizeof t->ens_label, "snapshot ensemble (%s model%s, %s)", t->ens_count,
		 r->ens_n == 1 ? "" : "s", ensemble);
	t->gain[0] = '\0';
	if (r->has_gain)
		snprintf(t->gain, sizeof t->gain, "%+.2f", r->ens_gain);
}

/* The figures other reports compare (nash-report's runs and ablation tables). */
static void write_result(const SearchReport *r, const Texts *t)
{
	char path[REPORT_PATH + 32];
	Out o;
	FILE *f = out_open(&o);
	fprintf(f, "seed_test\tfinal_test\tensemble_test\tparams\tepochs\ttrain_seconds\tfinal_seconds\tbest_val\t"
		   "train_images\tfinal_epoch_images\n");
	fprintf(f, "%s\t%s\t%s\t%zu\t%d\t%s\t%.1f\t%s\t%.0f\t", or_dash(r->seed_test), t->final_test,
		or_dash(r->ens_test), r->final.mi.params, r->final.mi.epochs, t->train_total, r->final_seconds,
		t->best_val, r->train_images);
	if (r->final_epoch_images > 0)
		fprintf(f, "%.0f\n", r->final_epoch_images);
	else
		fprintf(f, "-\n");
	snprintf(path, sizeof path, "%s/result.tsv", r->o.run);
	out_write(&o, path);
}

static void write_summary(const SearchReport *r, const Texts *t)
{
	char path[REPORT_PATH + 32], h[32];
	Out o;
	FILE *f = out_open(&o);
	fprintf(f, "search done: %s (%d step%s, %s of training, %.0f images", r->o.run, r->o.steps, plural(r->o.steps),
		hms(h, sizeof h, r->train_seconds), r->train_images);
	if (t->epochs_in_final[0])
		fprintf(f, " = %s epochs of the final phase's data", t->epochs_in_final);
	fprintf(f, ")\n");
	fprintf(f, "  %-22s val %s  test %s  %zu params\n", "seed network", t->seed_val, or_dash(r->seed_test),
		r->seed.mi.params);
	fprintf(f, "  %-22s val %s  test %s  %zu params, %d morphisms (%s/step%d/best.h5)\n", "best of the search",
		t->best_val, "-     ", r->best.mi.params, r->best.mi.n_lineage, r->o.run, r->o.steps);
	fprintf(f, "  %-22s val %s  test %s  %zu params (%s/final.h5, FINAL_ON=%s)\n", "after final training",
		t->final_val, t->final_test, r->final.mi.params, r->o.run, t->final_on);
	for (int i = 0; i < r->n_members; i++) {
		const ReportMember *mb = &r->members[i];
		char label[48], same[48] = "";
		snprintf(label, sizeof label, "  member: step %d", mb->step);
		if (mb->same_as >= 0)
			snprintf(same, sizeof same, " (= step %d)", mb->same_as);
		fprintf(f, "  %-34s test %s%s\n", label, mb->test, same);
	}
	fprintf(f, "  %-34s test %s", t->ens_label, or_dash(r->ens_test));
	if (t->gain[0])
		fprintf(f, "  (%s points over its best member)", t->gain);
	fprintf(f, "\n  report: %s/report.md\n", r->o.run);
	snprintf(path, sizeof path, "%s/summary.txt", r->o.run);
	out_write(&o, path);
}

static const char *from_run(const SearchReport *r, const char *path)
{
	size_t l = strlen(r->o.run);
	return strncmp(path, r->o.run, l) == 0 && path[l] == '/' ? path + l + 1 : path;
}

static void md_head(FILE *f, const SearchReport *r)
{
	fprintf(f, "# NASH search: %s\n\n", r->o.run);
	fprintf(f, "Hill climbing with network morphisms (Elsken et al. 2017). Settings (`%s/settings/run`):\n\n```\n",
		r->o.run);
	print_words(f, r->settings_run);
	fprintf(f, "```\n\n");
	if (r->init_derived) {
		fprintf(f, "Derived from the data and the seed network before anything trained (`%s/init.derived`):\n\n",
			r->step0_name);
		for (const char *p = r->init_derived; *p;) {
			size_t n = strcspn(p, "\n");
			fprintf(f, "- %.*s\n", (int)n, p);
			p += n;
			p += *p != '\0';
		}
		fprintf(f, "\n");
	}
	if (r->climb_steps)
		fprintf(f, "Steps decided as the search went (BUDGET, PATIENCE): %s (%s).\n\n", r->climb_steps, r->climb_why);
	if (r->o.partial)
		fprintf(f,
			"**Not finished: %d step%s done, no final training yet.** The best network so far is\n"
			"`best.h5` (step %d's best); `make search` with the same settings goes on from here.\n\n",
			r->o.steps, plural(r->o.steps), r->o.steps);
}

static void md_result(FILE *f, const SearchReport *r, const Texts *t)
{
	char a[32];
	fprintf(f, "## Result\n\n| model | val accuracy | test accuracy | params | epochs |\n|---|---|---|---|---|\n");
	fprintf(f, "| seed network (`%s/best.h5`) | %s | %s | %zu | %d |\n", r->step0_name, t->seed_val,
		or_dash(r->seed_test), r->seed.mi.params, r->seed.mi.epochs);
	fprintf(f, "| best of the search (`step%d/best.h5`, %d morphisms) | %s | - | %zu | %d |\n", r->o.steps,
		r->best.mi.n_lineage, acc_text(a, sizeof a, r->best.mi.val_accuracy), r->best.mi.params,
		r->best.mi.epochs);
	if (!r->o.partial) {
		fprintf(f, "| after final training (`final.h5`) | %s | %s | %zu | %d |\n", t->final_val, t->final_test,
			r->final.mi.params, r->final.mi.epochs);
		fprintf(f, "| %s of the steps' bests (`ensemble.h5`) | - | %s | | |\n\n", t->ens_label, or_dash(r->ens_test));
		fprintf(f, "The final model was trained %s.\n\n### Ensemble members\n\n",
			strcmp(t->final_on, "all") == 0
				? "on training + validation images (FINAL_ON=all; its val accuracy is not held out)"
				: "on the training split (FINAL_ON=train)");
		fprintf(f, "%s\n\n| step | member | test accuracy |\n|---|---|---|\n",
			r->o.ensemble_trained ? "Every step's best after the final training (`snap/stepK.h5`; the last step's is `final.h5`)."
					      : "Every step's best as it left the search (ENSEMBLE=raw).");
		for (int i = 0; i < r->n_members; i++) {
			const ReportMember *mb = &r->members[i];
			char same[64] = "";
			if (mb->same_as >= 0)
				snprintf(same, sizeof same, " (same weights as step %d's)", mb->same_as);
			fprintf(f, "| %d | `%s`%s | %s |\n", mb->step, from_run(r, mb->path), same, mb->test);
		}
		fprintf(f, "| ensemble of %s | | %s |\n\n", t->ens_count, or_dash(r->ens_test));
		if (t->gain[0])
			fprintf(f, "The ensemble against its best member (%s): %s percentage points.\n", r->best_member, t->gain);
	}
	fprintf(f, "\n");
}

/* The wall time against the training time: shown when the make that started at o.started
   made the whole search (its seed network is no older), not for a search resumed or extended
   by several makes, whose wall time no file holds. The trainings' share of it counts the seed
   network's pretraining and the final training as having every core to themselves (search.mk's
   THREADS_ALONE; the final one shares them with trained snapshots, search.mk's
   S_FINAL_THREADS) and the others as o.at_once at a time. */
static void md_wall(FILE *f, const SearchReport *r)
{
	char init[REPORT_PATH + 32], h1[32], h2[32], h3[32];
	struct stat st;
	snprintf(init, sizeof init, "%s/init.h5", r->step0);
	if (r->o.started <= 0 || r->o.partial || stat(init, &st) != 0 || st.st_mtime < r->o.started)
		return;
	double w = difftime(time(NULL), (time_t)r->o.started);
	int at_once = r->o.at_once > 0 ? r->o.at_once : 1;
	if (w < 1)
		return;
	int final_alone = !(r->o.ensemble_trained && r->o.steps >= 2);
	double alone = r->seed_seconds + (final_alone ? r->final_seconds : 0);
	double training = alone + (r->train_seconds - alone) / at_once;
	fprintf(f, "Wall time: %s from `make search` to this report, of which the trainings took %s (%s of training: "
		   "the seed network's and %s on every core, the others %d at once): %.0f%%; the rest went to "
		   "starting programs, reading files, morphisms, evaluations, and slots left idle.\n\n",
		hms(h1, sizeof h1, w), hms(h2, sizeof h2, training), hms(h3, sizeof h3, r->train_seconds),
		final_alone ? "the final training" : "no other", at_once, 100 * training / w);
}

static void md_compute(FILE *f, const SearchReport *r, const Texts *t, const char *plot)
{
	char h1[32], h2[32], h3[32];
	fprintf(f, "Training time, all models: %s (seed %s, final %s).\n\n", hms(h1, sizeof h1, r->train_seconds),
		hms(h2, sizeof h2, r->seed_seconds), r->o.partial ? "not yet" : hms(h3, sizeof h3, r->final_seconds));
	md_wall(f, r);
	fprintf(f, "Training compute, all models: %.0f images trained on", r->train_images);
	if (t->epochs_in_final[0])
		fprintf(f, ", as many as %s epochs of the final phase's %.0f images", t->epochs_in_final,
			r->final_epoch_images);
	fprintf(f, ":\nthe search's cost in the units of one training (`make ablation`'s variant (e) spends the same "
		   "training time on the seed network alone, docs/ABLATION.md).\n\n");
	if (plot)
		fprintf(f, "![validation accuracy against step and training time](%s)\n\n", plot);
}

static void md_steps(FILE *f, const SearchReport *r)
{
	fprintf(f, "## Steps\n");
	for (int k = 1; k <= r->o.steps; k++) {
		const ReportStep *s = &r->step[k];
		fprintf(f, "\n### Step %d\n\n", k);
		fprintf(f, "| rank | model | morphisms since parent | val accuracy | params | seconds | note |\n");
		fprintf(f, "|---|---|---|---|---|---|---|\n");
		for (int row = 0; row < s->sel.n_rows; row++) {
			const char *path = tsv_cell(&s->sel, row, s->model), *base = strrchr(path, '/');
			char model[REPORT_PATH], ops[600] = "-", note[512];
			snprintf(model, sizeof model, "%s", base ? base + 1 : path);
			size_t l = strlen(model);
			if (l > 3 && strcmp(model + l - 3, ".h5") == 0)
				model[l - 3] = '\0';
			int parent = strcmp(model, "best") == 0;
			if (atof(tsv_cell(&s->sel, row, s->since_parent)) > 0)
				snprintf(ops, sizeof ops, "%s: %s", tsv_cell(&s->sel, row, s->since_parent),
					 tsv_cell(&s->sel, row, s->morphisms));
			const char *n = tsv_cell(&s->sel, row, s->note);
			snprintf(note, sizeof note, "%s", strcmp(n, "-") == 0 ? "" : n);
			for (char *p = note; *p; p++)
				if (*p == '|')
					*p = '/';
			fprintf(f, "| %s | %s | %s | ", tsv_cell(&s->sel, row, s->rank), parent ? "parent" : model, ops);
			/* a failed child holds its parent's figures (what it was made from): none of them here */
			if (!parent && strcmp(tsv_cell(&s->sel, row, s->usable), "1") != 0)
				fprintf(f, "- | - | - | %s |\n", note);
			else
				fprintf(f, "%s | %s | %s | %s |\n", tsv_cell(&s->sel, row, s->val),
					tsv_cell(&s->sel, row, s->params), tsv_cell(&s->sel, row, s->seconds), note);
		}
	}
	fprintf(f, "\n");
}

static void md_tail(FILE *f, const SearchReport *r, const char *drawing)
{
	fprintf(f, "## Best architecture\n\n");
	if (r->o.partial)
		fprintf(f, "`step%d/best.h5`: %s\n\n", r->o.steps, or_dash(r->final.mi.summary));
	else
		fprintf(f, "`final.h5`: %s\n\n", or_dash(r->final.mi.summary));
	fprintf(f, "Morphisms since the seed network: %s\n\n", or_dash(r->final.mi.lineage));
	char dot[REPORT_PATH + 32];
	struct stat st;
	snprintf(dot, sizeof dot, "%s/report/best.dot", r->o.run);
	if (drawing)
		fprintf(f, "![the best architecture](%s)\n", drawing);
	else if (stat(dot, &st) == 0)
		fprintf(f, "Graphviz source: `report/best.dot`\n");
	fprintf(f, "\n## Where the trainings ran\n\n");
	fprintf(f, "%d trainings on %d host%s", r->n_trained, r->n_hosts, plural(r->n_hosts));
	if (r->n_jobs)
		fprintf(f, ", %d of them as %d distinct scheduler jobs", r->n_jobs, r->n_distinct_jobs);
	fprintf(f, ".\n\n| model | host | device | job |\n|---|---|---|---|\n");
	for (int i = 0; i < r->n_places; i++) {
		const ReportPlace *p = &r->places[i];
		fprintf(f, "| %s | %s | %s | %s |\n", p->model, p->host, p->hardware, p->job);
	}
}

static void write_report(const SearchReport *r, const Texts *t, const char *plot, const char *drawing)
{
	char path[REPORT_PATH + 32];
	Out o;
	FILE *f = out_open(&o);
	md_head(f, r);
	md_result(f, r, t);
	md_compute(f, r, t, plot);
	md_steps(f, r);
	md_tail(f, r, drawing);
	snprintf(path, sizeof path, "%s/report.md", r->o.run);
	out_write(&o, path);
}

/* ---- main ---- */

static const char *choice(const char *opt, const char *v, const char *a, const char *b)
{
	if (strcmp(v, a) != 0 && strcmp(v, b) != 0)
		die_usage(prog, "%s: '%s' is not %s or %s", opt, v, a, b);
	return v;
}

/* The commands, their operands (how many: at least, at most; -1: no most) and the options
   each takes (getopt's letters). */
enum {
	CMD_SEARCH, CMD_PLOT_DATA, CMD_RUNS, CMD_ABLATION, CMD_CLIMB, CMD_BASELINE_BUDGET, CMD_CHECK_BUDGET,
	CMD_MAX_PARAMS, CMD_MAX_MACS
};
static const struct {
	const char *name, *operands;
	int least, most;
	const char *options;
} commands[] = {
	[CMD_SEARCH] = {"search", "RUN STEPS", 2, 2, "psfePdSj"},
	[CMD_PLOT_DATA] = {"plot-data", "RUN STEPS", 2, 2, "s"},
	[CMD_RUNS] = {"runs", "DIR NAME...", 2, -1, ""},
	[CMD_ABLATION] = {"ablation", "DIR NAME...", 2, -1, "PS"},
	[CMD_CLIMB] = {"climb", "RUN K", 2, 2, "mbkgEnJfexG"},
	[CMD_BASELINE_BUDGET] = {"baseline-budget", "OUT RESULT SEED_MODEL", 3, 3, ""},
	[CMD_CHECK_BUDGET] = {"check-budget", "MODEL MAX_PARAMS", 2, 2, "lL"},
	[CMD_MAX_PARAMS] = {"max-params", "MAX_PARAMS MODEL", 2, 2, ""},
	[CMD_MAX_MACS] = {"max-macs", "MAX_GROWTH PARENT", 2, 2, ""},
};

static void run_search(const SearchReportOpts *o, int plot_data, const char *final_on, const char *ensemble,
		       const char *plot, const char *drawing)
{
	NashErr err = {0};
	SearchReport r;
	if ((plot_data ? search_report_read_steps : search_report_read)(&r, o, &err))
		die_err(prog, &err);
	if (plot_data) {
		write_plot_data(&r);
	} else {
		Texts t;
		texts_init(&t, &r, final_on, ensemble);
		if (!o->partial) {
			write_result(&r, &t);
			write_summary(&r, &t);
		}
		write_report(&r, &t, plot, drawing); /* last: it is make's target */
	}
	search_report_free(&r);
}

static void run_runs(const char *dir, char *const *names, int n)
{
	NashErr err = {0};
	RunsReport r;
	if (runs_report_read(&r, dir, names, n, &err))
		die_err(prog, &err);
	write_runs_report(&r);
	runs_report_free(&r);
}

static void run_ablation(const char *dir, char *const *names, int n, const char *plot, long started)
{
	NashErr err = {0};
	AblationReport r;
	if (ablation_report_read(&r, dir, names, n, &err))
		die_err(prog, &err);
	write_ablation_report(&r, plot, started);
	ablation_report_free(&r);
}

int main(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		cli_close_stdout(prog);
		return 0;
	}
	if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0))
		cli_version(prog);
	static const char *const names =
		"search, plot-data, runs, ablation, climb, baseline-budget, check-budget, max-params or max-macs";
	if (argc < 2)
		die_usage(prog, "missing a command: %s", names);
	int cmd = -1;
	for (int i = 0; i < (int)(sizeof commands / sizeof commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = i;
	if (cmd < 0)
		die_usage(prog, "'%s' is not a command: %s", argv[1], names);

	SearchReportOpts o = {0};
	const char *final_on = "train", *ensemble = "raw", *plot = NULL, *drawing = NULL, *min_gain = "0.001";
	const char *label = NULL, *limit = NULL;
	long started = 0;
	ClimbSettings cs = {.max_steps = -1, .budget = -1, .min_gain = 0.001, .jobs = 1};
	int next_made = 0, have_epochs = 0;
	static const struct option opts[] = {
		{"partial", no_argument, 0, 'p'},	  {"step0", required_argument, 0, 's'},
		{"final-on", required_argument, 0, 'f'},  {"ensemble", required_argument, 0, 'e'},
		{"plot", required_argument, 0, 'P'},	  {"drawing", required_argument, 0, 'd'},
		{"started", required_argument, 0, 'S'},	  {"at-once", required_argument, 0, 'j'},
		{"max-steps", required_argument, 0, 'm'}, {"budget", required_argument, 0, 'b'},
		{"patience", required_argument, 0, 'k'},  {"min-gain", required_argument, 0, 'g'},
		{"epochs", required_argument, 0, 'E'},	  {"neigh", required_argument, 0, 'n'},
		{"jobs", required_argument, 0, 'J'},	  {"next-made", no_argument, 0, 'x'},
		{"label", required_argument, 0, 'l'},	  {"limit", required_argument, 0, 'L'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'},	  {0, 0, 0, 0},
	};
	/* the options after the command */
	int c, opt_index;
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "hV", opts, &opt_index)) != -1) {
		if (c != '?' && c != 'h' && c != 'V' && !strchr(commands[cmd].options, c))
			die_usage(prog, "%s takes no --%s", commands[cmd].name, opts[opt_index].name);
		switch (c) {
		case 'p': o.partial = 1; break;
		case 's': o.step0 = optarg; break;
		case 'f': final_on = choice("--final-on", optarg, "train", "all"); break;
		case 'e': ensemble = choice("--ensemble", optarg, "raw", "trained"); break;
		case 'P': plot = optarg; break;
		case 'd': drawing = optarg; break;
		case 'S': started = cli_long(prog, "--started", optarg, 0, 1L << 40); break;
		case 'j': o.at_once = (int)cli_long(prog, "--at-once", optarg, 1, 4096); break;
		case 'm': cs.max_steps = (int)cli_long(prog, "--max-steps", optarg, 0, 999); break;
		case 'b': cs.budget = cli_long(prog, "--budget", optarg, 0, 1L << 40); break;
		case 'k': cs.patience = (int)cli_long(prog, "--patience", optarg, 1, 999); break;
		case 'g': cs.min_gain = cli_double(prog, "--min-gain", optarg, -1, 1); min_gain = optarg; break;
		case 'E': climb_epochs(&cs, optarg); have_epochs = 1; break;
		case 'n': cs.neigh = (int)cli_long(prog, "--neigh", optarg, 1, 4096); break;
		case 'J': cs.jobs = (int)cli_long(prog, "--jobs", optarg, 1, 4096); break;
		case 'x': next_made = 1; break;
		case 'l': label = optarg; break;
		case 'L': limit = optarg; cli_long(prog, "--limit", optarg, 1, 1L << 40); break;
		case 'h': usage(stdout); cli_close_stdout(prog); return 0;
		case 'V': cli_version(prog);
		default: usage(stderr); return 2;
		}
	}
	int n = argc - optind;
	if (n < commands[cmd].least)
		die_usage(prog, "%s: missing %s", commands[cmd].name, commands[cmd].operands);
	if (commands[cmd].most >= 0 && n > commands[cmd].most)
		die_usage(prog, "too many arguments");
	const char *dir = argv[optind];
	if (strlen(dir) > REPORT_PATH - 64 || (o.step0 && strlen(o.step0) > REPORT_PATH - 64))
		die_usage(prog, "%s: a path this long is not supported", strlen(dir) > REPORT_PATH - 64 ? "RUN" : "--step0");
	switch (cmd) {
	case CMD_SEARCH:
	case CMD_PLOT_DATA:
		o.run = dir;
		o.steps = (int)cli_long(prog, "STEPS", argv[optind + 1], 0, 999);
		o.ensemble_trained = strcmp(ensemble, "trained") == 0;
		o.started = started;
		run_search(&o, cmd == CMD_PLOT_DATA, final_on, ensemble, plot, drawing);
		break;
	case CMD_RUNS:
		run_runs(dir, argv + optind + 1, n - 1);
		break;
	case CMD_ABLATION:
		run_ablation(dir, argv + optind + 1, n - 1, plot, started);
		break;
	case CMD_CLIMB:
		if (cs.max_steps < 0)
			die_usage(prog, "climb: missing --max-steps");
		if (cs.budget >= 0 && (!have_epochs || cs.neigh == 0))
			die_usage(prog, "climb: --budget needs --epochs and --neigh (the prediction of the steps)");
		cs.final_on_all = strcmp(final_on, "all") == 0;
		cs.ensemble_trained = strcmp(ensemble, "trained") == 0;
		run_climb(dir, (int)cli_long(prog, "K", argv[optind + 1], 0, 999), &cs, min_gain, next_made);
		break;
	case CMD_BASELINE_BUDGET:
		run_baseline_budget(dir, argv[optind + 1], argv[optind + 2]);
		break;
	case CMD_CHECK_BUDGET:
		run_check_budget(dir, argv[optind + 1], limit, label);
		break;
	case CMD_MAX_PARAMS:
		run_max_params(dir, argv[optind + 1]);
		break;
	case CMD_MAX_MACS:
		run_max_macs(dir, argv[optind + 1]);
		break;
	}
	cli_close_stdout(prog);
	return 0;
}
