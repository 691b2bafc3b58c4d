#include "search/report.h"

#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/atomic.h"
#include "search/ensemble.h"

/* ---- tables ---- */

int tsv_read(Tsv *t, const char *path, NashErr *err)
{
	memset(t, 0, sizeof *t);
	snprintf(t->path, sizeof t->path, "%s", path);
	size_t len;
	if (read_all(path, (void **)&t->text, &len, err))
		return -1;
	if (len == 0 || strlen(t->text) != len) {
		tsv_free(t);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: %s", nash_name(path).s,
				len ? "not a text table (a NUL byte)" : "empty, no header");
	}
	/* the header's fields set the columns; every line is a row */
	int lines = 0;
	for (char *p = t->text; *p; p++)
		lines += *p == '\n';
	if (t->text[len - 1] != '\n')
		lines++;
	t->n_cols = 1;
	for (char *p = t->text; *p && *p != '\n'; p++)
		t->n_cols += *p == '\t';
	t->n_rows = lines - 1;
	t->cells = calloc((size_t)lines * (size_t)t->n_cols, sizeof *t->cells);
	if (!t->cells) {
		tsv_free(t);
		return nash_err(err, NASH_ERR_RUNTIME, "%s: out of memory", nash_name(path).s);
	}
	char *p = t->text;
	for (int r = 0; r < lines; r++) {
		int c = 0;
		t->cells[(size_t)r * (size_t)t->n_cols] = p;
		for (; *p && *p != '\n'; p++)
			if (*p == '\t') {
				*p = '\0';
				if (++c < t->n_cols)
					t->cells[(size_t)r * (size_t)t->n_cols + (size_t)c] = p + 1;
			}
		if (*p)
			*p++ = '\0';
	}
	return 0;
}

void tsv_free(Tsv *t)
{
	free(t->text);
	free(t->cells);
	t->text = NULL;
	t->cells = NULL;
}

const char *tsv_cell(const Tsv *t, int row, int col)
{
	if (row < 0 || row >= t->n_rows || col < 0 || col >= t->n_cols)
		return "";
	const char *s = t->cells[(size_t)(row + 1) * (size_t)t->n_cols + (size_t)col];
	return s ? s : "";
}

int tsv_column(const Tsv *t, const char *name, NashErr *err)
{
	for (int c = 0; c < t->n_cols; c++)
		if (t->cells[c] && strcmp(t->cells[c], name) == 0)
			return c;
	return nash_err(err, NASH_ERR_RUNTIME, "%s: no column %s", nash_name(t->path).s, name);
}

/* ---- models ---- */

static void copy_field(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s && s[0] ? s : "-");
	for (char *p = dst; *p; p++)
		if (*p == '\t' || *p == '\n' || *p == '\r' || *p == '|')
			*p = ' ';
}

int report_model_read(ReportModel *rm, const char *path, NashErr *err)
{
	memset(rm, 0, sizeof *rm);
	snprintf(rm->path, sizeof rm->path, "%s", path);
	Model m;
	model_init(&m);
	if (model_read(&m, path, err)) {
		model_free(&m);
		return -1;
	}
	model_info(&rm->mi, &m, rm->path);
	const RunSettings *last = m.n_runs > 0 ? &m.runs[m.n_runs - 1] : NULL;
	copy_field(rm->host, sizeof rm->host, last ? last->host : "");
	copy_field(rm->hardware, sizeof rm->hardware, last ? last->hardware : "");
	copy_field(rm->job, sizeof rm->job, last ? last->job : "");
	model_free(&m);
	return 0;
}

/* A duration as a table shows it (nash-show --tsv: tenths of a second, as printf rounds). */
static double tenths(double s)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%.1f", s);
	return strtod(buf, NULL);
}

/* ---- the steps ---- */

static int step_read(ReportStep *s, const char *path, NashErr *err)
{
	if (tsv_read(&s->sel, path, err))
		return -1;
	int *col[] = {&s->rank, &s->model, &s->val, &s->params, &s->seconds, &s->since_parent, &s->morphisms,
		      &s->usable, &s->note};
	static const char *name[] = {"rank",	    "model",	 "val_accuracy", "params", "seconds",
				     "since_parent", "morphisms", "usable",	 "note"};
	for (size_t i = 0; i < sizeof col / sizeof col[0]; i++)
		if ((*col[i] = tsv_column(&s->sel, name[i], err)) < 0)
			return nash_err_prefix(err, "not a selection table");
	return 0;
}

static int ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);
	return a >= b && strcmp(s + a - b, tail) == 0;
}

int report_step_is_parent(const ReportStep *s, int r) { return ends_with(tsv_cell(&s->sel, r, s->model), "/best.h5"); }

int report_step_trained(const ReportStep *s, int r)
{
	return !report_step_is_parent(s, r) && strcmp(tsv_cell(&s->sel, r, s->usable), "1") == 0;
}

/* A number from a table: a figure that is missing or not a number fails the report (no step is
   plotted at an empty time). */
static int table_number(double *v, const Tsv *t, int r, int c, NashErr *err)
{
	const char *s = tsv_cell(t, r, c);
	char *end;
	*v = strtod(s, &end);
	if (!*s || *end || !isfinite(*v))
		return nash_err(err, NASH_ERR_RUNTIME, "%s: row %d: %s '%s' is not a number", nash_name(t->path).s,
				r + 1, t->cells[c], s);
	return 0;
}

static int name_step0(SearchReport *r, const SearchReportOpts *o)
{
	char own[REPORT_PATH], shared[REPORT_PATH];
	snprintf(own, sizeof own, "%s/step0", o->run);
	const char *slash = strrchr(o->run, '/');
	if (slash)
		snprintf(shared, sizeof shared, "%.*s/step0", (int)(slash - o->run), o->run);
	else
		snprintf(shared, sizeof shared, "./step0");
	snprintf(r->step0, sizeof r->step0, "%s", o->step0 ? o->step0 : own);
	const char *name = strcmp(r->step0, own) == 0 ? "step0" : strcmp(r->step0, shared) == 0 ? "../step0" : r->step0;
	snprintf(r->step0_name, sizeof r->step0_name, "%s", name);
	return 0;
}

int search_report_read_steps(SearchReport *r, const SearchReportOpts *o, NashErr *err)
{
	memset(r, 0, sizeof *r);
	r->o = *o;
	r->ens_n = -1;
	name_step0(r, o);
	char path[REPORT_PATH + 32];
	snprintf(path, sizeof path, "%s/best.h5", r->step0);
	if (report_model_read(&r->seed, path, err))
		return -1;
	r->seed_seconds = tenths(r->seed.mi.total_seconds);
	r->step = calloc((size_t)o->steps + 1, sizeof *r->step);
	r->minutes = calloc((size_t)o->steps + 1, sizeof *r->minutes);
	if (!r->step || !r->minutes)
		return nash_err(err, NASH_ERR_RUNTIME, "out of memory");
	double cum = r->seed_seconds;
	r->minutes[0] = cum / 60;
	for (int k = 1; k <= o->steps; k++) {
		ReportStep *s = &r->step[k];
		snprintf(path, sizeof path, "%s/step%d/select.tsv", o->run, k);
		if (step_read(s, path, err))
			return -1;
		for (int row = 0; row < s->sel.n_rows; row++) {
			double v;
			if (report_step_trained(s, row)) {
				if (table_number(&v, &s->sel, row, s->seconds, err))
					return -1;
				cum += v;
			}
		}
		if (s->sel.n_rows == 0 || !tsv_cell(&s->sel, 0, s->val)[0])
			return nash_err(err, NASH_ERR_RUNTIME, "%s: no step %d winner (an empty table)", nash_name(path).s, k);
		r->minutes[k] = cum / 60;
	}
	r->train_seconds = cum;
	return 0;
}

/* ---- the texts ---- */

/* test.txt: "... test_accuracy=0.8125 ..."; ensemble.txt: "test_accuracy=0.8125" */
void report_figure(char *out, size_t n, const char *text, const char *key, int at_start)
{
	out[0] = '\0';
	size_t kl = strlen(key);
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *end = strchr(line, '\n');
		size_t ll = end ? (size_t)(end - line) : strlen(line);
		const char *hit = NULL;
		for (const char *p = line; p + kl <= line + ll; p++)
			if (memcmp(p, key, kl) == 0 && (p == line || !at_start))
				hit = p + kl; /* the last one, as a greedy sed finds it */
		if (hit) {
			size_t m = strspn(hit, "0123456789.");
			snprintf(out, n, "%.*s", (int)(m < n ? m : n - 1), hit);
			return;
		}
	}
}

int report_read_text(char **text, const char *path, int optional, NashErr *err)
{
	struct stat st;
	*text = NULL;
	if (optional && stat(path, &st) != 0)
		return 0;
	size_t len;
	return read_all(path, (void **)text, &len, err);
}

void report_best(char *out, size_t n, const char *const *vals, int n_vals)
{
	double best = 0;
	out[0] = '\0';
	for (int i = 0; i < n_vals; i++)
		if (strcmp(vals[i], "-") != 0 && vals[i][0] && atof(vals[i]) > best) {
			best = atof(vals[i]);
			snprintf(out, n, "%s", vals[i]);
		}
}

/* ensemble.txt: nash-ensemble's table ("MEMBER PARAMS ACCURACY" rows, "ensemble of N ..."),
   then "test_accuracy=A". */
static int read_ensemble(SearchReport *r, NashErr *err)
{
	char path[REPORT_PATH + 32], *text;
	snprintf(path, sizeof path, "%s/ensemble.txt", r->o.run);
	if (report_read_text(&text, path, 0, err))
		return -1;
	report_figure(r->ens_test, sizeof r->ens_test, text, "test_accuracy=", 1);
	char n[16];
	report_figure(n, sizeof n, text, "ensemble of ", 1);
	r->ens_n = n[0] ? atoi(n) : -1;
	uint64_t *hash = calloc((size_t)r->n_members, sizeof *hash);
	if (!hash) {
		free(text);
		return nash_err(err, NASH_ERR_RUNTIME, "out of memory");
	}
	for (int i = 0; i < r->n_members; i++) {
		ReportMember *mb = &r->members[i];
		ReportModel rm;
		if (report_model_read(&rm, mb->path, err)) {
			free(hash);
			free(text);
			return nash_err_prefix(err, "the ensemble's member");
		}
		hash[i] = rm.mi.weights_hash;
		int same = ensemble_same_weights(hash, i);
		mb->same_as = same >= 0 ? r->members[same].step : -1;
		if (same >= 0) {
			snprintf(mb->test, sizeof mb->test, "%s", r->members[same].test);
			continue;
		}
		/* the member's row: its path, its parameters, its accuracy */
		snprintf(mb->test, sizeof mb->test, "-");
		size_t pl = strlen(mb->path);
		for (const char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
			char rest[256], f[3][32];
			if (strncmp(line, mb->path, pl) != 0 || (line[pl] != ' ' && line[pl] != '\t'))
				continue;
			snprintf(rest, sizeof rest, "%.*s", (int)strcspn(line + pl, "\n"), line + pl);
			if (sscanf(rest, "%31s %31s %31s", f[0], f[1], f[2]) == 2) {
				memcpy(mb->test, f[1], sizeof f[1]);
				break;
			}
		}
	}
	free(hash);
	free(text);
	/* the best member and how much the ensemble gains over it */
	const char **tests = malloc((size_t)r->n_members * sizeof *tests);
	if (!tests)
		return nash_err(err, NASH_ERR_RUNTIME, "out of memory");
	for (int i = 0; i < r->n_members; i++)
		tests[i] = r->members[i].test;
	report_best(r->best_member, sizeof r->best_member, tests, r->n_members);
	free(tests);
	r->has_gain = r->ens_test[0] && r->best_member[0];
	r->ens_gain = r->has_gain ? 100 * (atof(r->ens_test) - atof(r->best_member)) : 0;
	return 0;
}

static int list_members(SearchReport *r)
{
	int n = r->o.steps > 0 ? r->o.steps : 1;
	r->members = calloc((size_t)n, sizeof *r->members);
	if (!r->members)
		return -1;
	r->n_members = n;
	for (int i = 0; i < n; i++) {
		ReportMember *mb = &r->members[i];
		mb->step = r->o.steps > 0 ? i + 1 : 0;
		if (r->o.steps == 0)
			snprintf(mb->path, sizeof mb->path, r->o.ensemble_trained ? "%s/final.h5" : "%s/best.h5",
				 r->o.ensemble_trained ? r->o.run : r->step0);
		else if (r->o.ensemble_trained)
			snprintf(mb->path, sizeof mb->path, "%s/snap/step%d.h5", r->o.run, mb->step);
		else
			snprintf(mb->path, sizeof mb->path, "%s/step%d/best.h5", r->o.run, mb->step);
	}
	return 0;
}

/* ---- where the trainings ran ---- */

static void place_name(char *out, size_t n, const SearchReport *r, const char *path)
{
	char s0[REPORT_PATH + 2], run[REPORT_PATH + 2];
	snprintf(s0, sizeof s0, "%s/", r->step0);
	snprintf(run, sizeof run, "%s/", r->o.run);
	const char *hit;
	int w;
	if (strncmp(path, s0, strlen(s0)) == 0)
		w = snprintf(out, n, "%s/%s", r->step0_name, path + strlen(s0));
	else if ((hit = strstr(path, run)))
		w = snprintf(out, n, "%.*s%s", (int)(hit - path), path, hit + strlen(run));
	else
		w = snprintf(out, n, "%s", path);
	if (w < 0 || (size_t)w >= n)
		return; /* cut short: still a table cell */
	size_t l = strlen(out);
	if (ends_with(out, ".h5"))
		out[l - 3] = '\0';
}

/* Whether a place before p[i] that trained has the same text in the field at offset `field`
   (host, job): for counting the distinct ones. */
static int seen_before(const ReportPlace *p, int i, size_t field)
{
	for (int j = 0; j < i; j++)
		if (!p[j].failed && strcmp((const char *)&p[j] + field, (const char *)&p[i] + field) == 0)
			return 1;
	return 0;
}

/* Every training: the seed's pretraining, every child the steps ranked, the final training. A
   failed child's file holds its parent's record, so its place is unknown and its images are
   not counted. */
static int read_places(SearchReport *r, NashErr *err)
{
	int cap = 2;
	for (int k = 1; k <= r->o.steps; k++)
		cap += r->step[k].sel.n_rows;
	r->places = calloc((size_t)cap, sizeof *r->places);
	if (!r->places)
		return nash_err(err, NASH_ERR_RUNTIME, "out of memory");
	for (int k = 0; k <= r->o.steps + 1; k++) {
		int rows = k == 0 || k > r->o.steps ? 1 : r->step[k].sel.n_rows;
		if (k > r->o.steps && r->o.partial)
			break;
		for (int row = 0; row < rows; row++) {
			char path[REPORT_PATH + 32];
			if (k == 0)
				snprintf(path, sizeof path, "%s/best.h5", r->step0);
			else if (k > r->o.steps)
				snprintf(path, sizeof path, "%s/final.h5", r->o.run);
			else if (report_step_is_parent(&r->step[k], row))
				continue;
			else
				snprintf(path, sizeof path, "%s", tsv_cell(&r->step[k].sel, row, r->step[k].model));
			ReportModel rm;
			if (report_model_read(&rm, path, err))
				return -1;
			ReportPlace *p = &r->places[r->n_places];
			place_name(p->model, sizeof p->model, r, path);
			p->failed = rm.mi.failed;
			snprintf(p->host, sizeof p->host, "%s", p->failed ? "-" : rm.host);
			snprintf(p->hardware, sizeof p->hardware, "%s", p->failed ? "(failed: not recorded)" : rm.hardware);
			snprintf(p->job, sizeof p->job, "%s", p->failed ? "-" : rm.job);
			if (!p->failed) {
				r->train_images += round(rm.mi.images);
				r->n_trained++;
				r->n_hosts += !seen_before(r->places, r->n_places, offsetof(ReportPlace, host));
				if (strcmp(p->job, "-") != 0) {
					r->n_jobs++;
					r->n_distinct_jobs += !seen_before(r->places, r->n_places, offsetof(ReportPlace, job));
				}
			}
			r->n_places++;
		}
	}
	return 0;
}

/* climb.txt: "steps=N" and "why=..." lines */
static char *climb_value(const char *text, const char *key)
{
	size_t kl = strlen(key);
	for (const char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, key, kl) == 0) {
			size_t l = strcspn(line + kl, "\n");
			char *v = malloc(l + 1);
			if (v)
				snprintf(v, l + 1, "%s", line + kl);
			return v;
		}
	return strdup("");
}

int search_report_read(SearchReport *r, const SearchReportOpts *o, NashErr *err)
{
	if (search_report_read_steps(r, o, err))
		return -1;
	char path[REPORT_PATH + 32];
	if (o->steps > 0)
		snprintf(path, sizeof path, "%s/step%d/best.h5", o->run, o->steps);
	else
		snprintf(path, sizeof path, "%s/best.h5", r->step0);
	if (report_model_read(&r->best, path, err))
		return -1;
	/* partial: the search's best stands in for the final model, whose figures are not shown */
	if (!o->partial)
		snprintf(path, sizeof path, "%s/final.h5", o->run);
	if (report_model_read(&r->final, path, err))
		return -1;
	r->final_seconds = o->partial ? 0 : tenths(r->final.mi.seconds);
	r->train_seconds += r->final_seconds;

	char *text;
	snprintf(path, sizeof path, "%s/test.txt", r->step0);
	if (report_read_text(&text, path, 1, err))
		return -1;
	if (text)
		report_figure(r->seed_test, sizeof r->seed_test, text, "test_accuracy=", 0);
	free(text);
	if (!o->partial && list_members(r))
		return nash_err(err, NASH_ERR_RUNTIME, "out of memory");
	if (!o->partial && read_ensemble(r, err))
		return -1;
	if (read_places(r, err))
		return -1;
	/* the final phase's images per epoch: its images over the epochs it added */
	int final_epochs = r->final.mi.epochs - r->best.mi.epochs;
	double final_images = round(r->final.mi.images);
	r->final_epoch_images = final_epochs > 0 && final_images > 0 ? round(final_images / final_epochs) : 0;

	snprintf(path, sizeof path, "%s/settings/run", o->run);
	if (report_read_text(&r->settings_run, path, 0, err))
		return -1;
	snprintf(path, sizeof path, "%s/init.derived", r->step0);
	if (report_read_text(&r->init_derived, path, 1, err))
		return -1;
	/* the steps that BUDGET or PATIENCE decided (search.sh climb), once the search is done */
	snprintf(path, sizeof path, "%s/climb.txt", o->run);
	text = NULL;
	if (!o->partial && report_read_text(&text, path, 1, err))
		return -1;
	if (text) {
		r->climb_steps = climb_value(text, "steps=");
		r->climb_why = climb_value(text, "why=");
		free(text);
		if (!r->climb_steps || !r->climb_why)
			return nash_err(err, NASH_ERR_RUNTIME, "out of memory");
	}
	return 0;
}

void search_report_free(SearchReport *r)
{
	if (r->step)
		for (int k = 1; k <= r->o.steps; k++)
			tsv_free(&r->step[k].sel);
	free(r->step);
	free(r->minutes);
	free(r->members);
	free(r->places);
	free(r->settings_run);
	free(r->init_derived);
	free(r->climb_steps);
	free(r->climb_why);
	memset(r, 0, sizeof *r);
}
