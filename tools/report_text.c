#include "report_text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/atomic.h"
#include "cli.h"

static const char *prog = "nash-report";

/* An accuracy as nash-show --tsv shows it. */
const char *acc_text(char *buf, size_t n, float v)
{
	snprintf(buf, n, isfinite(v) ? "%.4f" : "-", (double)v);
	return buf;
}

/* A computed number: whole ones whole, others to 6 significant digits. */
const char *num_text(char *buf, size_t n, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, n, "%.0f", v);
	else
		snprintf(buf, n, "%.6g", v);
	return buf;
}

const char *or_dash(const char *s) { return s && s[0] ? s : "-"; }
const char *plural(long n) { return n == 1 ? "" : "s"; }

/* ---- output files: each made in memory, then written whole (atomic_write) ---- */

FILE *out_open(Out *o)
{
	o->buf = NULL;
	o->f = open_memstream(&o->buf, &o->len);
	if (!o->f)
		die(prog, "out of memory");
	return o->f;
}

void out_write(Out *o, const char *path)
{
	NashErr err = {0};
	if (fclose(o->f) != 0)
		die(prog, "%s: out of memory", path);
	if (atomic_write(path, o->buf, o->len, &err))
		die_err(prog, &err);
	free(o->buf);
}

const char *pm(char *buf, size_t n, const ReportStats *s, int decimals)
{
	if (s->n == 0)
		snprintf(buf, n, "-");
	else if (s->n == 1)
		snprintf(buf, n, "%.*f", decimals, s->mean);
	else
		snprintf(buf, n, "%.*f ± %.*f", decimals, s->mean, decimals, s->sd);
	return buf;
}

void print_words(FILE *f, const char *text)
{
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, " \n");
		if (n)
			fprintf(f, "%.*s\n", (int)n, p);
		p += n;
		p += *p != '\0';
	}
}

/* ---- RUNS=N ---- */

static void runs_seeds(FILE *f, const RunsReport *r, const char *sep)
{
	for (int i = 0; i < r->n; i++)
		fprintf(f, "%s%s", i ? sep : "", r->rows[i].seed);
}

void write_runs_report(const RunsReport *r)
{
	char path[1024], a[64], b[64], c[64], d[64], gain[32] = "";
	if (r->has_gain)
		snprintf(gain, sizeof gain, "%+.2f", r->gain);
	char cross_n[16] = "?";
	if (r->cross_n >= 0)
		snprintf(cross_n, sizeof cross_n, "%d", r->cross_n);

	Out o;
	FILE *f = out_open(&o);
	fprintf(f, "run\tseed\tseed_test\tfinal_test\tensemble_test\tparams\ttrain_seconds\n");
	for (int i = 0; i < r->n; i++) {
		const RunsRow *w = &r->rows[i];
		fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", w->name, w->seed, w->seed_test, w->final_test,
			w->ensemble_test, w->params, w->train_seconds);
	}
	snprintf(path, sizeof path, "%s/runs.tsv", r->dir);
	out_write(&o, path);

	f = out_open(&o);
	fprintf(f, "repeated search done: %s (%d runs, seeds ", r->dir, r->n);
	runs_seeds(f, r, " ");
	fprintf(f, ")\n");
	for (int i = 0; i < r->n; i++) {
		const RunsRow *w = &r->rows[i];
		fprintf(f, "  %-6s seed %-6s final test %s  snapshot ensemble %s  %s params\n", w->name, w->seed,
			w->final_test, w->ensemble_test, w->params);
	}
	fprintf(f, "  mean ± sd   final test %s  snapshot ensemble %s  (sample sd over %d runs)\n",
		pm(a, sizeof a, &r->final_test, 4), pm(b, sizeof b, &r->ensemble_test, 4), r->n);
	fprintf(f, "  ensemble of the %s final networks: test %s", cross_n, or_dash(r->cross));
	if (gain[0])
		fprintf(f, "  (%s points over the best run)", gain);
	fprintf(f, "\n  report: %s/report.md\n", r->dir);
	snprintf(path, sizeof path, "%s/summary.txt", r->dir);
	out_write(&o, path);

	f = out_open(&o);
	fprintf(f, "# NASH: %d searches, %s\n\nThe same search with the seeds ", r->n, r->dir);
	runs_seeds(f, r, ", ");
	fprintf(f, " (`%s/settings/run`):\n\n```\n", r->dir);
	print_words(f, r->settings_run);
	fprintf(f, "```\n\n");
	fprintf(f, "| run | seed | seed network test | final network test | snapshot ensemble test | params | training time |\n");
	fprintf(f, "|---|---|---|---|---|---|---|\n");
	for (int i = 0; i < r->n; i++) {
		const RunsRow *w = &r->rows[i];
		fprintf(f, "| [%s](%s/report.md) | %s | %s | %s | %s | %s | %.0f s |\n", w->name, w->name, w->seed,
			w->seed_test, w->final_test, w->ensemble_test, w->params, atof(w->train_seconds));
	}
	ReportStats secs = r->train_seconds;
	if (secs.n > 1)
		secs.n = 1; /* the mean alone */
	fprintf(f, "| mean ± sd | | %s | %s | %s | | %s s |\n\n", pm(a, sizeof a, &r->seed_test, 4),
		pm(b, sizeof b, &r->final_test, 4), pm(c, sizeof c, &r->ensemble_test, 4), pm(d, sizeof d, &secs, 0));
	fprintf(f, "Mean and sample standard deviation (n - 1) over the %d runs. Accuracies on the test set;\n"
		   "training time: every training of a run (seed network, children, final network), in seconds.\n\n",
		r->n);
	fprintf(f, "## The ensemble across the runs\n\n");
	fprintf(f, "The %s final networks (`runI/final.h5`, each of its own architecture) averaged\n", cross_n);
	fprintf(f, "(`ensemble.h5`, nash-ensemble): test accuracy **%s**", or_dash(r->cross));
	if (gain[0])
		fprintf(f, ", %s percentage points over the best single run (%s)", gain, r->best);
	fprintf(f, ".\n\n```\n%s```\n", r->ensemble_txt);
	snprintf(path, sizeof path, "%s/report.md", r->dir);
	out_write(&o, path);
}

/* ---- the ablation ---- */

/* each variant's letter in the paper's terms and what it is */
static const char *const variant_letter[ABLATION_VARIANTS] = {"(a)", "(b)", "(c)", "(d)", "(e)"};
static const char *const variant_what[ABLATION_VARIANTS] = {
	"the search as configured",
	"random: NEIGH=1, the child always taken (no model selection)",
	"children at a constant learning rate (no SGDR)",
	"(a)'s network retrained from scratch",
	"no search: the seed network trained for (a)'s training time",
};

/* Seconds rounded to whole ones as report.tsv rounds them (printf: halves to even), as
   1h02m03s, 2m03s or 3s. */
static const char *hms_rounded(char *buf, size_t n, double v) { return hms(buf, n, rint(v)); }

/* report.tsv's figures of a variant as the tables show them: "MEAN ± SD" or "-" */
static void variant_figures(char *err, char *vs, size_t n, const AblationVariant *v, int is_search)
{
	pm(err, n, &v->error, 2);
	if (is_search || v->vs_search.n == 0)
		snprintf(vs, n, "-");
	else if (v->vs_search.n == 1)
		snprintf(vs, n, "%+.2f", v->vs_search.mean);
	else
		snprintf(vs, n, "%+.2f ± %.2f", v->vs_search.mean, v->vs_search.sd);
}

static void ablation_tsv(const AblationReport *r)
{
	char path[1024];
	Out o;
	FILE *f = out_open(&o);
	fprintf(f, "variant\tseed\ttest_accuracy\ttest_error\tparams\tepochs\ttrain_seconds\n");
	for (int i = 0; i < r->n_rows; i++) {
		const AblationRow *w = &r->rows[i];
		fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ablation_variant[w->variant], w->seed, w->test, w->error,
			w->params, w->epochs, w->seconds);
	}
	snprintf(path, sizeof path, "%s/results.tsv", r->dir);
	out_write(&o, path);

	f = out_open(&o);
	fprintf(f, "variant\tseeds\ttest_error_mean\ttest_error_sd\tvs_search_mean\tvs_search_sd\tparams_mean\t"
		   "epochs_mean\ttrain_seconds_mean\n");
	for (int v = 0; v < ABLATION_VARIANTS; v++) {
		const AblationVariant *av = &r->v[v];
		if (!av->seeds)
			continue;
		fprintf(f, "%s\t%d\t", ablation_variant[v], av->seeds);
		const ReportStats *st[2] = {&av->error, &av->vs_search};
		for (int k = 0; k < 2; k++) {
			if (st[k]->n == 0 || (k == 1 && v == 0))
				fprintf(f, "-\t-\t");
			else if (st[k]->n == 1)
				fprintf(f, "%.2f\t-\t", st[k]->mean);
			else
				fprintf(f, "%.2f\t%.2f\t", st[k]->mean, st[k]->sd);
		}
		fprintf(f, "%.0f\t%.1f\t%.0f\n", av->params, av->epochs, av->seconds);
	}
	snprintf(path, sizeof path, "%s/report.tsv", r->dir);
	out_write(&o, path);
}

/* The table's rows: md for report.md, else summary.txt's lines. */
static void ablation_rows(FILE *f, const AblationReport *r, int md)
{
	for (int v = 0; v < ABLATION_VARIANTS; v++) {
		const AblationVariant *av = &r->v[v];
		if (!av->seeds)
			continue;
		char err[64], vs[64], h[32];
		variant_figures(err, vs, sizeof err, av, v == 0);
		hms_rounded(h, sizeof h, av->seconds);
		if (md) {
			fprintf(f, "| %s %s | %s | %s | %.0f | %.1f | %s | %d |\n", variant_letter[v], variant_what[v], err,
				vs, av->params, av->epochs, h, av->seeds);
		} else {
			char e[72];
			snprintf(e, sizeof e, "%s%%", err);
			fprintf(f, "  %s %-10s test error %-14s vs (a) %-14s %7.0f params  %8s training  %d seed%s\n",
				variant_letter[v], ablation_variant[v], e, vs, av->params, h, av->seeds,
				plural(av->seeds));
		}
	}
}

/* Does the search beat no search? (a) against (e), paired by seed. */
static void ablation_verdict(char *out, size_t n, const AblationReport *r, int bold)
{
	const ReportStats *g = &r->search_gain;
	if (g->n == 0) {
		snprintf(out, n, "No seed has both (a) and (e): no verdict on search against no search.");
		return;
	}
	char sd[32] = "";
	if (g->n > 1)
		snprintf(sd, sizeof sd, " ± %.2f", g->sd);
	const char *say = g->mean > 0 && r->search_wins == g->n ? "The search beats no search here."
			  : g->mean <= 0			  ? "The search does not beat no search here."
								  : "The search is not better on every seed.";
	snprintf(out, n,
		 "%sSearch against no search:%s (a)'s final network has %.2f%s points %s test error than (e), the seed "
		 "network trained for the same training time without any search; (a) is better on %d of %d seeds. %s",
		 bold ? "**" : "", bold ? "**" : "", fabs(g->mean), sd, g->mean > 0 ? "less" : "more", r->search_wins,
		 g->n, say);
}

static void ablation_md(FILE *f, const AblationReport *r, const char *plot, const char *wall)
{
	char h[32], buf[1024], cross[32] = "-";
	if (r->cross[0])
		snprintf(cross, sizeof cross, "%.2f", 100 * (1 - atof(r->cross)));
	fprintf(f, "# NASH ablation: %s\n\nThe paper's baselines on the same data and budget, %d seeds (", r->dir, r->n_seeds);
	for (int i = 0, c = 0; i < r->n_rows; i++)
		if (r->rows[i].variant == 0)
			fprintf(f, "%s%s", c++ ? ", " : "", r->rows[i].seed);
	fprintf(f, "); docs/ABLATION.md describes the variants.\nSettings (`%s/settings/run`):\n\n```\n", r->dir);
	print_words(f, r->settings_run);
	fprintf(f, "```\n\n## Table\n\n");
	fprintf(f, "| variant | test error (%%) | vs (a), same seed (points) | params | epochs | training time per seed | seeds |\n");
	fprintf(f, "|---|---|---|---|---|---|---|\n");
	ablation_rows(f, r, 1);
	fprintf(f,
		"\nTest error: 1 - test accuracy of the variant's final network, in percent, mean ± sample\n"
		"standard deviation (n - 1) over the seeds; \"vs (a)\": the difference to (a) on the same seed\n"
		"(the same seed network), mean ± sd of the differences, negative = better than (a). Params,\n"
		"epochs (of the final network's whole training record): means. Training time: the sum of the\n"
		"seconds of every training of the variant (the pretraining of the shared seed network counted\n"
		"in (a), (b) and (c) each, as each needs it; (d) and (e): each its one training, which needs (a)'s search\n"
		"to exist), mean per seed. (d) was trained for ABL_SCRATCH=%s epochs.\n\n",
		r->scratch_mode);
	ablation_verdict(buf, sizeof buf, r, 1);
	fprintf(f, "%s\n\n", buf);
	fprintf(f, "The seed network (pretrained, shared by (a), (b), (c)): test error %s%%.\n",
		pm(h, sizeof h, &r->seed_error, 2));
	char n[16] = "?";
	if (r->cross_n >= 0)
		snprintf(n, sizeof n, "%d", r->cross_n);
	fprintf(f, "The ensemble of (a)'s %s final networks across the seeds (`ensemble.h5`): test error\n%s%%.\n\n", n,
		cross);
	fprintf(f, "All trainings: %s (the shared pretraining once)", hms(h, sizeof h, r->total_seconds));
	if (wall)
		fprintf(f, "; wall time of the make that finished the ablation: %s", wall);
	fprintf(f, ".\n\n");
	if (plot)
		fprintf(f,
			"![validation accuracy against training time, (a) and (c)](%s)\n\n"
			"The best network's validation accuracy after each step (step 0: the seed network) against the\n"
			"cumulative training time of the search's models, one line per seed: (a) trains every child\n"
			"with a cosine restarted at LR_START (SGDR), (c) at a constant LR_START.\n\n",
			plot);
	fprintf(f, "## Per seed\n\n| seed |");
	for (int v = 0; v < ABLATION_VARIANTS; v++)
		fprintf(f, " %s %s |", variant_letter[v], ablation_variant[v]);
	fprintf(f, "\n|---|---|---|---|---|---|\n");
	for (int s = 0; s < r->n_seeds; s++) {
		fprintf(f, "| %s", r->seeds[s]);
		for (int v = 0; v < ABLATION_VARIANTS; v++) {
			const AblationRow *w = &r->rows[s * ABLATION_VARIANTS + v];
			if (strcmp(w->error, "-") == 0)
				fprintf(f, " | -");
			else
				fprintf(f, " | %.2f%% (%.0f params)", 100 * atof(w->error), atof(w->params));
		}
		fprintf(f, " |\n");
	}
	fprintf(f, "\nEach search's own report: `seedS/VARIANT/report.md`; the figures: `results.tsv`, the table: `report.tsv`.\n");
}

void write_ablation_report(const AblationReport *r, const char *plot, long started)
{
	char path[1024], h[32], wall[32], buf[1024], cross[32] = "-";
	if (started > 0)
		hms(wall, sizeof wall, (double)(time(NULL) - started));
	if (r->cross[0])
		snprintf(cross, sizeof cross, "%.2f", 100 * (1 - atof(r->cross)));
	ablation_tsv(r);

	Out o;
	FILE *f = out_open(&o);
	fprintf(f, "ablation done: %s (%d seed%s; %s of training", r->dir, r->n_seeds, plural(r->n_seeds),
		hms(h, sizeof h, r->total_seconds));
	if (started > 0)
		fprintf(f, ", this make: %s wall", wall);
	fprintf(f, ")\n");
	ablation_rows(f, r, 0);
	ablation_verdict(buf, sizeof buf, r, 0);
	fprintf(f, "  %s\n", buf);
	fprintf(f, "  seed network (shared)  test error %s%%\n", pm(h, sizeof h, &r->seed_error, 2));
	char n[16] = "?";
	if (r->cross_n >= 0)
		snprintf(n, sizeof n, "%d", r->cross_n);
	fprintf(f, "  ensemble of (a)'s %s final networks: test error %s%%\n", n, cross);
	fprintf(f, "  report: %s/report.md\n", r->dir);
	snprintf(path, sizeof path, "%s/summary.txt", r->dir);
	out_write(&o, path);

	f = out_open(&o);
	ablation_md(f, r, plot, started > 0 ? wall : NULL);
	snprintf(path, sizeof path, "%s/report.md", r->dir);
	out_write(&o, path);
}
