/* The ablation's tables (docs/ABLATION.md): a row per variant and seed, then per variant its
   test error over the seeds, its paired difference to the search (a), and whether (a) beats
   the seed network trained as long without a search (e). */
#include "search/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ablation_variant[ABLATION_VARIANTS] = {"search", "random", "const-lr", "scratch", "seed-only"};
enum { SEARCH = 0, SEED_ONLY = 4 };

/* A search variant's row, from its result.tsv. */
static int read_search_row(AblationRow *row, const char *path, NashErr *err)
{
	Tsv t;
	if (tsv_read(&t, path, err))
		return -1;
	int rc = report_result_figure(row->test, sizeof row->test, &t, "final_test", err) ||
		 report_result_figure(row->params, sizeof row->params, &t, "params", err) ||
		 report_result_figure(row->epochs, sizeof row->epochs, &t, "epochs", err) ||
		 report_result_figure(row->seconds, sizeof row->seconds, &t, "train_seconds", err);
	tsv_free(&t);
	return rc ? -1 : 0;
}

/* A one-training variant's row, from its final network. */
static int read_model_row(AblationRow *row, const char *path, NashErr *err)
{
	ReportModel m;
	if (report_model_read(&m, path, err))
		return -1;
	if (isfinite(m.mi.test_accuracy))
		snprintf(row->test, sizeof row->test, "%.4f", (double)m.mi.test_accuracy);
	else
		snprintf(row->test, sizeof row->test, "-");
	snprintf(row->params, sizeof row->params, "%zu", m.mi.params);
	snprintf(row->epochs, sizeof row->epochs, "%d", m.mi.epochs);
	snprintf(row->seconds, sizeof row->seconds, "%.1f", (double)m.mi.total_seconds);
	return 0;
}

static int has(const char *figure) { return figure[0] && strcmp(figure, "-") != 0; }

/* The row of variant v on seed s, NULL when none. */
static const AblationRow *row_of(const AblationReport *r, int v, const char *seed)
{
	for (int i = 0; i < r->n_rows; i++)
		if (r->rows[i].variant == v && strcmp(r->rows[i].seed, seed) == 0)
			return &r->rows[i];
	return NULL;
}

/* Per variant: the means, the test error's spread, the paired difference to (a). */
static void summarise(AblationReport *r, double *x)
{
	for (int v = 0; v < ABLATION_VARIANTS; v++) {
		AblationVariant *av = &r->v[v];
		int n = 0, k = 0;
		for (int i = 0; i < r->n_rows; i++) {
			const AblationRow *row = &r->rows[i];
			if (row->variant != v)
				continue;
			av->seeds++;
			av->params += atof(row->params);
			av->epochs += atof(row->epochs);
			av->seconds += atof(row->seconds);
			if (has(row->error))
				x[n++] = 100 * atof(row->error);
		}
		report_stats_of(&av->error, x, n);
		for (int i = 0; i < r->n_rows && v != SEARCH; i++) {
			const AblationRow *row = &r->rows[i], *a = row_of(r, SEARCH, row->seed);
			if (row->variant == v && has(row->error) && a && has(a->error))
				x[k++] = 100 * (atof(row->error) - atof(a->error));
		}
		report_stats_of(&av->vs_search, x, k);
		if (av->seeds) {
			av->params /= av->seeds;
			av->epochs /= av->seeds;
			av->seconds /= av->seeds;
		}
	}
	/* (a) against (e) */
	int n = 0;
	for (int s = 0; s < r->n_seeds; s++) {
		const AblationRow *a = row_of(r, SEARCH, r->seeds[s]), *e = row_of(r, SEED_ONLY, r->seeds[s]);
		if (a && e && has(a->error) && has(e->error)) {
			x[n] = 100 * (atof(e->error) - atof(a->error));
			r->search_wins += x[n++] > 0;
		}
	}
	report_stats_of(&r->search_gain, x, n);
}

/* One seed's directory: its seed, its variants' rows, its seed network's test error and
   pretraining seconds (added to *pretraining). */
static int read_seed(AblationReport *r, const char *home, int s, double *errors, int *n_errors, double *pretraining,
		     NashErr *err)
{
	char path[1024 + 64], *text;
	snprintf(path, sizeof path, "%s/settings/init", home);
	if (report_read_text(&text, path, 0, err))
		return -1;
	report_setting(r->seeds[s], sizeof r->seeds[s], text, "SEED");
	free(text);
	for (int v = 0; v < ABLATION_VARIANTS; v++) {
		AblationRow *row = &r->rows[r->n_rows];
		row->variant = v;
		snprintf(row->seed, sizeof row->seed, "%s", r->seeds[s]);
		snprintf(path, sizeof path, v < 3 ? "%s/%s/result.tsv" : "%s/%s/final.h5", home, ablation_variant[v]);
		if ((v < 3 ? read_search_row : read_model_row)(row, path, err))
			return -1;
		if (has(row->test))
			snprintf(row->error, sizeof row->error, "%.4f", 1 - atof(row->test));
		else
			snprintf(row->error, sizeof row->error, "-");
		r->n_rows++;
	}
	char test[32];
	snprintf(path, sizeof path, "%s/step0/test.txt", home);
	if (report_read_text(&text, path, 1, err))
		return -1;
	if (text) {
		report_figure(test, sizeof test, text, "test_accuracy=", 0);
		if (test[0])
			errors[(*n_errors)++] = 100 * (1 - atof(test));
		free(text);
	}
	ReportModel seed;
	snprintf(path, sizeof path, "%s/step0/best.h5", home);
	if (report_model_read(&seed, path, err))
		return -1;
	char secs[32];
	snprintf(secs, sizeof secs, "%.1f", (double)seed.mi.total_seconds);
	*pretraining += atof(secs);
	return 0;
}

int ablation_report_read(AblationReport *r, const char *dir, char *const *names, int n, NashErr *err)
{
	memset(r, 0, sizeof *r);
	r->dir = dir;
	r->n_seeds = n;
	r->cross_n = -1;
	r->seeds = calloc((size_t)n, sizeof *r->seeds);
	r->rows = calloc((size_t)n * ABLATION_VARIANTS, sizeof *r->rows);
	double *x = calloc((size_t)n * ABLATION_VARIANTS + 1, sizeof *x);
	if (!r->seeds || !r->rows || !x) {
		free(x);
		return nash_err(err, NASH_ERR_RUNTIME, "out of memory");
	}
	char path[1024], *text;
	double pretraining = 0;
	int n_errors = 0;
	for (int s = 0; s < n; s++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[s]);
		if (read_seed(r, path, s, x, &n_errors, &pretraining, err)) {
			free(x);
			return -1;
		}
	}
	report_stats_of(&r->seed_error, x, n_errors);
	summarise(r, x);
	free(x);
	/* the shared pretraining is counted in (a), (b) and (c) each: add it back once only */
	double total = 0;
	for (int i = 0; i < r->n_rows; i++)
		total += atof(r->rows[i].seconds);
	r->total_seconds = round(total) - 2 * round(pretraining);

	snprintf(path, sizeof path, "%s/ensemble.txt", dir);
	if (report_read_text(&text, path, 0, err))
		return -1;
	char cn[16];
	report_figure(r->cross, sizeof r->cross, text, "test_accuracy=", 1);
	report_figure(cn, sizeof cn, text, "ensemble of ", 1);
	r->cross_n = cn[0] ? atoi(cn) : -1;
	free(text);
	snprintf(path, sizeof path, "%s/settings/ablation", dir);
	if (report_read_text(&text, path, 0, err))
		return -1;
	report_setting(r->scratch_mode, sizeof r->scratch_mode, text, "ABL_SCRATCH");
	free(text);
	snprintf(path, sizeof path, "%s/settings/run", dir);
	return report_read_text(&r->settings_run, path, 0, err);
}

void ablation_report_free(AblationReport *r)
{
	free(r->seeds);
	free(r->rows);
	free(r->settings_run);
	memset(r, 0, sizeof *r);
}
