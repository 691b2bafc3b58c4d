#include "search/budget.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Figures as nash-show --tsv shows them (an accuracy to 4 decimals, seconds to tenths, images
   whole): the decisions were made from those texts, and the same files must give the same ones. */
static double shown(const char *fmt, double v)
{
	char buf[64];
	snprintf(buf, sizeof buf, fmt, v);
	return strtod(buf, NULL);
}

/* A number as awk reads a field: its leading number, 0 when there is none ("-", ""). */
static double leading_number(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	return end == s || !isfinite(v) ? 0 : v;
}

static int climb_jobs(const ClimbSettings *s)
{
	int j = s->jobs < 1 ? 1 : s->jobs;
	return j > s->neigh && s->neigh >= 1 ? s->neigh : j;
}

/* The count on the first line of a step's wall file; -1 when the file or the count is missing
   (then the step's seconds are estimated). */
static int read_wall(long *secs, const char *path, NashErr *err)
{
	char *text;
	*secs = -1;
	if (report_read_text(&text, path, 1, err))
		return -1;
	if (!text)
		return 0;
	size_t n = strcspn(text, "\n");
	size_t digits = strspn(text, "0123456789");
	if (n > 0 && digits == n && n < 16)
		*secs = strtol(text, NULL, 10);
	free(text);
	return 0;
}

/* A step's trained children's seconds over the trainings at once (a plain `make search` made
   it: the children trained jobs at a time); the parent and failed children trained nothing. */
static int estimate_step(long *secs, const char *path, int jobs, NashErr *err)
{
	Tsv t;
	if (tsv_read(&t, path, err))
		return -1;
	int model = tsv_column(&t, "model", err), seconds = model < 0 ? -1 : tsv_column(&t, "seconds", err),
	    usable = seconds < 0 ? -1 : tsv_column(&t, "usable", err);
	if (usable < 0) {
		tsv_free(&t);
		return nash_err_prefix(err, "not a selection table");
	}
	double sum = 0;
	for (int r = 0; r < t.n_rows; r++) {
		const char *m = tsv_cell(&t, r, model);
		size_t l = strlen(m);
		int parent = l >= 8 && strcmp(m + l - 8, "/best.h5") == 0;
		if (!parent && strcmp(tsv_cell(&t, r, usable), "1") == 0)
			sum += leading_number(tsv_cell(&t, r, seconds));
	}
	tsv_free(&t);
	*secs = (long)(sum / jobs);
	return 0;
}

/* The seconds per image of RUN/stepK/speed.h5's training (BUDGET's measure of the step's best at
   the final phase's threads, search.mk); 0 when there is no such file. */
static int read_speed(double *per_image, const char *path, NashErr *err)
{
	*per_image = 0;
	if (access(path, F_OK) != 0)
		return 0;
	ReportModel rm;
	if (report_model_read(&rm, path, err))
		return -1;
	double secs = shown("%.1f", rm.mi.seconds), images = shown("%.0f", rm.mi.images);
	if (!(secs > 0 && images > 0))
		return nash_err(err, NASH_ERR_RUNTIME, "%s: no training seconds or images to measure a speed by",
				nash_name(path).s);
	*per_image = secs / images;
	return 0;
}

int climb_step_read(ClimbStep *st, const ClimbSettings *s, const char *run, int k, NashErr *err)
{
	memset(st, 0, sizeof *st);
	char path[REPORT_PATH + 64];
	if (snprintf(st->best, sizeof st->best, "%s/step%d/best.h5", run, k) >= (int)sizeof st->best)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: the path is too long", nash_name(run).s);
	ReportModel rm;
	if (report_model_read(&rm, st->best, err))
		return -1;
	float v = rm.mi.val_accuracy;
	snprintf(st->val_text, sizeof st->val_text, isfinite(v) ? "%.4f" : "-", (double)v);
	st->val = isfinite(v) ? strtod(st->val_text, NULL) : NAN;
	st->best_seconds = shown("%.1f", rm.mi.seconds);
	/* measured at the final phase's threads: what its last training would have taken there */
	double per_image;
	snprintf(path, sizeof path, "%s/step%d/speed.h5", run, k);
	if (read_speed(&per_image, path, err))
		return -1;
	if (per_image > 0 && rm.mi.images > 0) {
		st->best_seconds = per_image * shown("%.0f", rm.mi.images);
		st->measured = 1;
	}
	snprintf(path, sizeof path, "%s/step%d/wall", run, k);
	if (read_wall(&st->seconds, path, err))
		return -1;
	if (st->seconds >= 0)
		return 0;
	if (k == 0) {
		st->seconds = (long)shown("%.1f", rm.mi.total_seconds);
		return 0;
	}
	snprintf(path, sizeof path, "%s/step%d/select.tsv", run, k);
	return estimate_step(&st->seconds, path, climb_jobs(s), err);
}

long climb_final_seconds(const ClimbSettings *s, int k, double best_seconds)
{
	int epochs = k == 0 ? s->epochs_seed : s->epochs_neigh, jobs = climb_jobs(s);
	if (!(best_seconds > 0 && epochs > 0))
		return -1;
	long snaps = s->ensemble_trained ? k : 1, rounds = (snaps + jobs - 1) / jobs;
	if (rounds < 1)
		rounds = 1;
	double all = s->final_on_all ? 1.1 : 1;
	/* (in the order the shell's awk computed it, for the same rounding) */
	return (long)((double)s->epochs_final * best_seconds / epochs * all * 1.2 * (double)rounds + 0.5);
}

long climb_next_seconds(const ClimbSettings *s, int k, long last)
{
	if (k > 0)
		return last * 3 / 2;
	int jobs = climb_jobs(s), rounds = (s->neigh + jobs - 1) / jobs;
	double seed_epochs = s->epochs_seed > 0 ? s->epochs_seed : 1;
	return (long)(4.0 * (double)last / seed_epochs * s->epochs_neigh * rounds + 0.5);
}

int climb_decide(ClimbDecision *d, const ClimbSettings *s, const ClimbStep *steps, int k, int next_made,
		 NashErr *err)
{
	memset(d, 0, sizeof *d);
	d->verdict = CLIMB_CONTINUE;
	d->step = k;
	d->then = -1;
	long spent = 0;
	for (int i = 0; i <= k; i++)
		spent += steps[i].seconds;
	if (s->budget >= 0 && k >= 1) {
		long final_now = climb_final_seconds(s, k, steps[k].best_seconds),
		     final_before = climb_final_seconds(s, k - 1, steps[k - 1].best_seconds);
		if (final_now >= 0 && final_before >= 0 && final_now > final_before && spent + final_now > s->budget) {
			d->verdict = CLIMB_DISCARD;
			d->then = k - 1;
			d->spent = spent;
			d->after = final_now;
			return 0;
		}
	}
	if (s->patience > 0 && k >= s->patience) {
		const ClimbStep *now = &steps[k], *before = &steps[k - s->patience];
		const ClimbStep *none = isnan(now->val) ? now : isnan(before->val) ? before : NULL;
		if (none)
			return nash_err(err, NASH_ERR_RUNTIME, "%s: no validation accuracy to compare (PATIENCE)",
					nash_name(none->best).s);
		if (now->val - before->val < s->min_gain) {
			d->verdict = CLIMB_SATURATED;
			d->then = k - s->patience;
			snprintf(d->val_then, sizeof d->val_then, "%s", before->val_text);
			snprintf(d->val_now, sizeof d->val_now, "%s", now->val_text);
			return 0;
		}
	}
	if (k >= s->max_steps) {
		d->verdict = CLIMB_MAX_STEPS;
		return 0;
	}
	if (s->budget < 0 || next_made)
		return 0;
	long reserve = climb_final_seconds(s, k, steps[k].best_seconds);
	if (reserve < 0)
		return nash_err(err, NASH_ERR_RUNTIME, "%s: no training seconds to predict the final phase from",
				nash_name(steps[k].best).s);
	d->spent = spent;
	d->next = climb_next_seconds(s, k, steps[k].seconds);
	/* the final phase after it, of a network a quarter more costly: a guess, not a bound (a
	   winner that grows more and whose final phase would not fit is discarded after its
	   step, above) */
	d->after = reserve * 5 / 4;
	if (d->spent + d->next + d->after > s->budget)
		d->verdict = CLIMB_BUDGET;
	return 0;
}

int baseline_budget(BaselineBudget *b, const char *result, const char *seed_model, NashErr *err)
{
	memset(b, 0, sizeof *b);
	Tsv t;
	if (tsv_read(&t, result, err))
		return -1;
	int ts = tsv_column(&t, "train_seconds", err), fe = ts < 0 ? -1 : tsv_column(&t, "final_epoch_images", err);
	if (fe >= 0) {
		snprintf(b->train_seconds, sizeof b->train_seconds, "%s", tsv_cell(&t, 0, ts));
		snprintf(b->final_epoch_images, sizeof b->final_epoch_images, "%s", tsv_cell(&t, 0, fe));
	}
	tsv_free(&t);
	if (fe < 0)
		return -1;
	ReportModel seed;
	if (report_model_read(&seed, seed_model, err))
		return -1;
	double secs = leading_number(b->train_seconds), per_epoch = leading_number(b->final_epoch_images);
	double images = shown("%.0f", seed.mi.images), seed_secs = shown("%.1f", seed.mi.seconds);
	if (!(secs > 0 && per_epoch > 0 && images > 0 && seed_secs > 0))
		return nash_err(err, NASH_ERR_RUNTIME,
				"no training figures in %s or %s (train_seconds %s, final_epoch_images %s, images %.0f, "
				"seconds %.1f)",
				nash_name(result).s, nash_name(seed_model).s, b->train_seconds[0] ? b->train_seconds : "''",
				b->final_epoch_images[0] ? b->final_epoch_images : "''", images, seed_secs);
	b->images_per_second = images / seed_secs;
	b->epochs = (long)(secs * b->images_per_second / per_epoch + 0.5);
	if (b->epochs < 1)
		b->epochs = 1;
	return 0;
}

int search_max_params(size_t *cap, const char *spec, size_t seed_params, NashErr *err)
{
	size_t l = strlen(spec), digits = strspn(spec, "0123456789");
	*cap = 0;
	if (l == 0)
		return 0;
	if (digits == l && l < 19) {
		*cap = (size_t)strtoull(spec, NULL, 10);
		return 0;
	}
	/* Kx: K as search.mk takes it, digits or [digits].digits */
	size_t k = l - 1, fraction = digits < k && spec[digits] == '.' ? strspn(spec + digits + 1, "0123456789") : 0;
	int is_k = digits == k ? k > 0 : spec[digits] == '.' && fraction > 0 && digits + 1 + fraction == k;
	if (spec[k] == 'x' && is_k && l < 24) {
		/* (awk's printf "%d" of K x params: cut toward zero) */
		*cap = (size_t)(strtod(spec, NULL) * (double)seed_params);
		return 0;
	}
	return nash_err(err, NASH_ERR_USAGE,
			"MAX_PARAMS: '%s' is not a number of parameters (200000) or a multiple of the seed network's (4x)",
			nash_name(spec).s);
}

int search_growth(double *growth, const char *spec, NashErr *err)
{
	/* as search.mk takes it: an integer part of 1 or more, [.digits] */
	size_t l = strlen(spec), zeros = strspn(spec, "0"), digits = strspn(spec, "0123456789");
	size_t fraction = spec[digits] == '.' ? strspn(spec + digits + 1, "0123456789") : 0;
	*growth = 0;
	if (l == 0)
		return 0;
	if (digits > zeros && l < 24 && (digits == l || (fraction > 0 && digits + 1 + fraction == l))) {
		*growth = strtod(spec, NULL);
		return 0;
	}
	return nash_err(err, NASH_ERR_USAGE,
			"MAX_GROWTH: '%s' is not a factor of 1 or more (1.5: a child costs at most 1.5 times its "
			"parent's multiply-adds per image)",
			nash_name(spec).s);
}

int search_max_macs(uint64_t *cap, const char *spec, const char *parent, NashErr *err)
{
	double g;
	*cap = 0;
	if (search_growth(&g, spec, err))
		return -1;
	if (g == 0)
		return 0;
	Model m;
	model_init(&m);
	if (model_read(&m, parent, err)) {
		model_free(&m);
		return -1;
	}
	/* (cut toward zero, as MAX_PARAMS's Kx; 2^64 and above saturate) */
	double c = g * (double)graph_macs(&m.g);
	model_free(&m);
	*cap = c >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)c;
	return 0;
}

int seed_budget_read(SeedBudget *b, const char *model, const char *spec, NashErr *err)
{
	memset(b, 0, sizeof *b);
	Model m;
	model_init(&m);
	if (model_read(&m, model, err)) {
		model_free(&m);
		return -1;
	}
	snprintf(b->dataset, sizeof b->dataset, "%s", m.dataset);
	b->in_c = m.g.in_c;
	b->in_h = m.g.in_h;
	b->in_w = m.g.in_w;
	b->classes = m.g.n_classes;
	b->val_size = m.val_size;
	b->params = graph_param_count(&m.g);
	model_free(&m);
	if (search_max_params(&b->cap, spec, b->params, err))
		return -1;
	/* every morphism adds parameters: a budget the seed network fills leaves no child */
	b->fits = b->cap == 0 || b->params < b->cap;
	return 0;
}
