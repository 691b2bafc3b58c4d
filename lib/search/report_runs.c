/* Reports over several searches: RUNS=N's table of runs (and the ablation's, report_ablation.c). */
#include "search/report.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void report_stats_of(ReportStats *s, const double *x, int n)
{
	double sum = 0, sq = 0;
	for (int i = 0; i < n; i++)
		sum += x[i];
	s->n = n;
	s->mean = n ? sum / n : NAN;
	for (int i = 0; i < n; i++)
		sq += (x[i] - s->mean) * (x[i] - s->mean);
	s->sd = n > 1 ? sqrt(sq / (n - 1)) : NAN;
}

int report_stats(ReportStats *s, const char *const *vals, int n, double scale)
{
	double *x = malloc((size_t)(n > 0 ? n : 1) * sizeof *x);
	if (!x)
		return -1;
	int m = 0;
	for (int i = 0; i < n; i++)
		if (vals[i][0] && strcmp(vals[i], "-") != 0)
			x[m++] = atof(vals[i]) * scale;
	report_stats_of(s, x, m);
	free(x);
	return 0;
}

void report_setting(char *out, size_t n, const char *text, const char *name)
{
	size_t nl = strlen(name);
	out[0] = '\0';
	for (const char *p = text; *p;) {
		p += strspn(p, " \t\n");
		size_t w = strcspn(p, " \t\n");
		if (w > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			snprintf(out, n, "%.*s", (int)(w - nl - 1), p + nl + 1);
			return;
		}
		p += w;
	}
}

int report_result_figure(char *out, size_t n, const Tsv *t, const char *name, NashErr *err)
{
	int c = tsv_column(t, name, err);
	if (c < 0)
		return -1;
	snprintf(out, n, "%s", tsv_cell(t, 0, c)[0] ? tsv_cell(t, 0, c) : "-");
	return 0;
}

static int read_run(RunsRow *row, const char *dir, const char *name, NashErr *err)
{
	char path[1024], *init;
	snprintf(row->name, sizeof row->name, "%s", name);
	snprintf(path, sizeof path, "%s/%s/settings/init", dir, name);
	if (report_read_text(&init, path, 0, err))
		return -1;
	report_setting(row->seed, sizeof row->seed, init, "SEED");
	free(init);
	Tsv t;
	snprintf(path, sizeof path, "%s/%s/result.tsv", dir, name);
	if (tsv_read(&t, path, err))
		return -1;
	int rc = report_result_figure(row->seed_test, sizeof row->seed_test, &t, "seed_test", err) ||
		 report_result_figure(row->final_test, sizeof row->final_test, &t, "final_test", err) ||
		 report_result_figure(row->ensemble_test, sizeof row->ensemble_test, &t, "ensemble_test", err) ||
		 report_result_figure(row->params, sizeof row->params, &t, "params", err) ||
		 report_result_figure(row->train_seconds, sizeof row->train_seconds, &t, "train_seconds", err);
	tsv_free(&t);
	return rc ? -1 : 0;
}

int runs_report_read(RunsReport *r, const char *dir, char *const *names, int n, NashErr *err)
{
	memset(r, 0, sizeof *r);
	r->dir = dir;
	r->n = n;
	r->rows = calloc((size_t)n, sizeof *r->rows);
	const char **col = calloc((size_t)n, sizeof *col);
	if (!r->rows || !col) {
		free(col);
		return nash_err(err, NASH_ERR_RUNTIME, "out of memory");
	}
	for (int i = 0; i < n; i++)
		if (read_run(&r->rows[i], dir, names[i], err)) {
			free(col);
			return -1;
		}
	/* each column's mean and spread, over the runs */
	struct {
		ReportStats *stats;
		size_t field;
	} cols[] = {
		{&r->seed_test, offsetof(RunsRow, seed_test)},
		{&r->final_test, offsetof(RunsRow, final_test)},
		{&r->ensemble_test, offsetof(RunsRow, ensemble_test)},
		{&r->train_seconds, offsetof(RunsRow, train_seconds)},
	};
	for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
		for (int i = 0; i < n; i++)
			col[i] = (const char *)&r->rows[i] + cols[c].field;
		if (report_stats(cols[c].stats, col, n, 1)) {
			free(col);
			return nash_err(err, NASH_ERR_RUNTIME, "out of memory");
		}
	}
	for (int i = 0; i < n; i++)
		col[i] = r->rows[i].final_test;
	report_best(r->best, sizeof r->best, col, n);
	free(col);

	char path[1024];
	snprintf(path, sizeof path, "%s/settings/run", dir);
	if (report_read_text(&r->settings_run, path, 0, err))
		return -1;
	snprintf(path, sizeof path, "%s/ensemble.txt", dir);
	if (report_read_text(&r->ensemble_txt, path, 0, err))
		return -1;
	char cn[16];
	report_figure(r->cross, sizeof r->cross, r->ensemble_txt, "test_accuracy=", 1);
	report_figure(cn, sizeof cn, r->ensemble_txt, "ensemble of ", 1);
	r->cross_n = cn[0] ? atoi(cn) : -1;
	r->has_gain = r->cross[0] && r->best[0];
	r->gain = r->has_gain ? 100 * (atof(r->cross) - atof(r->best)) : 0;
	return 0;
}

void runs_report_free(RunsReport *r)
{
	free(r->rows);
	free(r->settings_run);
	free(r->ensemble_txt);
	memset(r, 0, sizeof *r);
}
