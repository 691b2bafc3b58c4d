/* nash-report's decisions for a search's pipeline (pipelines/search.sh, search.mk): climb,
   baseline-budget, check-budget and max-params. lib/search/budget.c reads and computes; this
   writes the text. */
#include "report_budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/atomic.h"
#include "cli.h"
#include "report_text.h"

static const char *prog = "nash-report";

/* --epochs SEED,NEIGH,FINAL */
void climb_epochs(ClimbSettings *s, const char *arg)
{
	int e[3];
	if (cli_int_list(prog, "--epochs", arg, e, 3, 0, 1000000) != 3)
		die_usage(prog, "--epochs: '%s' is not SEED,NEIGH,FINAL", arg);
	s->epochs_seed = e[0];
	s->epochs_neigh = e[1];
	s->epochs_final = e[2];
}

/* The text of climb's decision, the why of RUN/climb.txt; min_gain as given. */
static void climb_why(char *buf, size_t n, const ClimbDecision *d, const ClimbSettings *s, const char *min_gain)
{
	char h1[32], h2[32], h3[32], h4[32];
	switch (d->verdict) {
	case CLIMB_SATURATED:
		snprintf(buf, n,
			 "the validation accuracy saturated: %s after step %d, %s after step %d, a gain below "
			 "MIN_GAIN=%s in PATIENCE=%d steps",
			 d->val_then, d->then, d->val_now, d->step, min_gain, s->patience);
		break;
	case CLIMB_MAX_STEPS:
		snprintf(buf, n, "the most steps asked for: STEPS=%d", s->max_steps);
		break;
	case CLIMB_BUDGET:
		snprintf(buf, n,
			 "the time budget: BUDGET=%s, %s spent, step %d would take about %s and the final phase "
			 "after it about %s",
			 hms(h1, sizeof h1, (double)s->budget), hms(h2, sizeof h2, (double)d->spent), d->step + 1,
			 hms(h3, sizeof h3, (double)d->next), hms(h4, sizeof h4, (double)d->after));
		break;
	case CLIMB_DISCARD:
		snprintf(buf, n,
			 "the time budget: BUDGET=%s, %s spent, and step %d's best would need about %s of final "
			 "phase, step %d's less: step %d is set aside",
			 hms(h1, sizeof h1, (double)s->budget), hms(h2, sizeof h2, (double)d->spent), d->step,
			 hms(h3, sizeof h3, (double)d->after), d->then, d->step);
		break;
	case CLIMB_CONTINUE:
		buf[0] = '\0';
		break;
	}
}

static void write_baseline_budget(const BaselineBudget *b, const char *path)
{
	Out o;
	fprintf(out_open(&o), "epochs=%ld\nsearch_train_seconds=%s\nseed_images_per_second=%.1f\nfinal_epoch_images=%s\n",
		b->epochs, b->train_seconds, b->images_per_second, b->final_epoch_images);
	out_write(&o, path);
}

/* MODEL's .derived file (MODEL less .h5), then its lines on stdout, each after the label
   ("run2/": "run2: "); a seed network that fills the budget is an error after them. */
static void write_seed_budget(const SeedBudget *b, const char *model, const char *spec, const char *limit,
			      const char *label)
{
	char budget[128], images[96], path[REPORT_PATH + 16];
	if (b->cap == 0)
		snprintf(budget, sizeof budget, "no parameter budget (MAX_PARAMS=)");
	else if (spec[strlen(spec) - 1] == 'x')
		snprintf(budget, sizeof budget, "children up to %zu parameters (MAX_PARAMS=%s)", b->cap, spec);
	else
		snprintf(budget, sizeof budget, "children up to %zu parameters (MAX_PARAMS)", b->cap);
	if (limit)
		snprintf(images, sizeof images, "the first %s training images (LIMIT)", limit);
	else
		snprintf(images, sizeof images, "every training image (no LIMIT)");
	char text[1024];
	int len = snprintf(text, sizeof text,
			   "data: %s (%dx%dx%d, %d classes), %d validation images held out; %s\n"
			   "seed network: %zu parameters; %s\n",
			   b->dataset, b->in_c, b->in_h, b->in_w, b->classes, b->val_size, images, b->params, budget);
	size_t l = strlen(model);
	l -= l > 3 && strcmp(model + l - 3, ".h5") == 0 ? 3 : 0;
	snprintf(path, sizeof path, "%.*s.derived", (int)l, model);
	NashErr err = {0};
	if (atomic_write(path, text, (size_t)len, &err))
		die_err(prog, &err);
	size_t n = label ? strlen(label) : 0;
	n -= n > 1 && label[n - 1] == '/';
	for (const char *p = text; *p;) {
		size_t line = strcspn(p, "\n");
		if (n)
			printf("%.*s: ", (int)n, label);
		printf("%.*s\n", (int)line, p);
		p += line + (p[line] == '\n');
	}
	if (!b->fits)
		die(prog, "MAX_PARAMS=%s does not exceed what the seed network (%s) has, %zu parameters (its widths, classes "
			  "and image size), so no child could be made: give MAX_PARAMS above %zu (say 4x, %zu parameters, or "
			  "MAX_PARAMS= for no budget)",
		    spec, model, b->params, b->params, 4 * b->params);
}

/* Steps 0..k of RUN read, the decision printed; a stop recorded in RUN/climb.txt (steps= and
   why=, which the report quotes). */
void run_climb(const char *run, int k, const ClimbSettings *s, const char *min_gain, int next_made)
{
	NashErr err = {0};
	ClimbStep *steps = calloc((size_t)k + 1, sizeof *steps);
	if (!steps)
		die(prog, "out of memory");
	for (int i = 0; i <= k; i++)
		if (climb_step_read(&steps[i], s, run, i, &err))
			die_err(prog, &err);
	ClimbDecision d;
	if (climb_decide(&d, s, steps, k, next_made, &err))
		die_err(prog, &err);
	if (d.verdict == CLIMB_CONTINUE) {
		printf("continue\n");
	} else {
		char why[512], path[REPORT_PATH + 32];
		climb_why(why, sizeof why, &d, s, min_gain);
		Out o;
		int ends = d.verdict == CLIMB_DISCARD ? d.then : k;
		fprintf(out_open(&o), "steps=%d\nwhy=%s\n", ends, why);
		snprintf(path, sizeof path, "%s/climb.txt", run);
		out_write(&o, path);
		printf("%s\t%s\n", d.verdict == CLIMB_DISCARD ? "discard" : "stop", why);
	}
	free(steps);
}

void run_baseline_budget(const char *out, const char *result, const char *seed_model)
{
	NashErr err = {0};
	BaselineBudget b;
	if (baseline_budget(&b, result, seed_model, &err))
		die_err(prog, &err);
	write_baseline_budget(&b, out);
}

void run_check_budget(const char *model, const char *spec, const char *limit, const char *label)
{
	NashErr err = {0};
	SeedBudget b;
	if (seed_budget_read(&b, model, spec, &err))
		die_err(prog, &err);
	write_seed_budget(&b, model, spec, limit, label);
}

void run_max_params(const char *spec, const char *model)
{
	NashErr err = {0};
	SeedBudget b;
	if (seed_budget_read(&b, model, spec, &err))
		die_err(prog, &err);
	if (b.cap)
		printf("%zu\n", b.cap);
	else
		printf("\n");
}

void run_max_macs(const char *spec, const char *parent)
{
	NashErr err = {0};
	uint64_t cap;
	if (search_max_macs(&cap, spec, parent, &err))
		die_err(prog, &err);
	if (cap)
		printf("%llu\n", (unsigned long long)cap);
	else
		printf("\n");
}
