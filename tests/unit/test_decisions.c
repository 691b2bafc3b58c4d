/* The search's decisions made in C (lib/search/budget.c, select.c), against hand-computed
   values: the climb's predictions and verdicts (BUDGET, PATIENCE, STEPS, MAX_GROWTH), the stop
   when no morphism fits the parameter budget or the growth cap, the baseline budget's errors,
   the parameter budget MAX_PARAMS in parameters and the growth cap MAX_GROWTH in multiply-adds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/atomic.h"
#include "check.h"
#include "model/init.h"
#include "search/budget.h"
#include "search/morph.h"
#include "search/select.h"

static char tmpdir[256];

/* search.mk's default profile: EPOCHS 2,1,4, NEIGH 2, two trainings at once, FINAL_ON=train,
   ENSEMBLE=raw, no budget, no patience, at most 3 steps */
static ClimbSettings settings(void)
{
	return (ClimbSettings){.max_steps = 3, .budget = -1, .patience = 0, .min_gain = 0.001, .epochs_seed = 2,
			       .epochs_neigh = 1, .epochs_final = 4, .neigh = 2, .jobs = 2};
}

static ClimbStep step(double val, long seconds, double best_seconds)
{
	ClimbStep st = {.val = val, .seconds = seconds, .best_seconds = best_seconds};
	snprintf(st.best, sizeof st.best, "run/stepK/best.h5");
	snprintf(st.val_text, sizeof st.val_text, isnan(val) ? "-" : "%.4f", val);
	return st;
}

TEST(final_seconds)
{
	ClimbSettings s = settings();
	/* after the pretraining: 10 s for 2 seed epochs, 4 final ones, a fifth more: 24 + 0.5 */
	CHECK(climb_final_seconds(&s, 0, 10) == 24);
	/* after a step: 3 s for its 1 epoch; FINAL_ON=all a tenth more: 4 * 3 * 1.1 * 1.2 = 15.84 */
	CHECK(climb_final_seconds(&s, 1, 3) == 14);
	s.final_on_all = 1;
	CHECK(climb_final_seconds(&s, 1, 3) == 16);
	/* ENSEMBLE=trained: 3 snapshots, 2 at a time, 2 rounds: 31.68 */
	s.ensemble_trained = 1;
	CHECK(climb_final_seconds(&s, 3, 3) == 32);
	/* ... and none after the pretraining: still one round */
	CHECK(climb_final_seconds(&s, 0, 10) == 26);
	/* nothing to predict from */
	CHECK(climb_final_seconds(&s, 1, 0) == -1);
	s.epochs_neigh = 0;
	CHECK(climb_final_seconds(&s, 1, 3) == -1);
}

TEST(next_seconds)
{
	ClimbSettings s = settings();
	/* the first step from a pretraining of 10 s for 2 epochs: 4 * 5 s per child epoch, the 2
	   children at once */
	CHECK(climb_next_seconds(&s, 0, 10) == 20);
	s.jobs = 1; /* one at a time: 2 rounds */
	CHECK(climb_next_seconds(&s, 0, 10) == 40);
	s.jobs = 8; /* more slots than children: NEIGH at once */
	CHECK(climb_next_seconds(&s, 0, 10) == 20);
	s.jobs = 0; /* taken as 1 */
	CHECK(climb_next_seconds(&s, 0, 10) == 40);
	/* a later step: 1.5 times the last, whole seconds */
	CHECK(climb_next_seconds(&s, 2, 15) == 22);
	CHECK(climb_next_seconds(&s, 1, 10) == 15);
}

TEST(decide_steps_and_patience)
{
	ClimbSettings s = settings();
	ClimbStep st[4] = {step(0.5, 10, 10), step(0.6, 20, 3), step(0.605, 30, 2), step(0.7, 1, 1)};
	ClimbDecision d;
	NashErr err = {0};
	CHECK(climb_decide(&d, &s, st, 2, 0, &err) == 0 && d.verdict == CLIMB_CONTINUE && d.step == 2);
	CHECK(climb_decide(&d, &s, st, 3, 0, &err) == 0 && d.verdict == CLIMB_MAX_STEPS);
	/* PATIENCE=1, MIN_GAIN=0.01: 0.6050 after 0.6000 is not enough */
	s.patience = 1;
	s.min_gain = 0.01;
	CHECK(climb_decide(&d, &s, st, 1, 0, &err) == 0 && d.verdict == CLIMB_CONTINUE);
	CHECK(climb_decide(&d, &s, st, 2, 0, &err) == 0 && d.verdict == CLIMB_SATURATED && d.then == 1);
	CHECK(strcmp(d.val_then, "0.6000") == 0 && strcmp(d.val_now, "0.6050") == 0);
	/* saturation is tested before the most steps */
	st[3].val = 0.6;
	snprintf(st[3].val_text, sizeof st[3].val_text, "0.6000");
	CHECK(climb_decide(&d, &s, st, 3, 0, &err) == 0 && d.verdict == CLIMB_SATURATED && d.then == 2);
	/* over 2 steps: 0.6050 - 0.5000 is */
	s.patience = 2;
	CHECK(climb_decide(&d, &s, st, 2, 0, &err) == 0 && d.verdict == CLIMB_CONTINUE);
	/* not before PATIENCE steps */
	CHECK(climb_decide(&d, &s, st, 1, 0, &err) == 0 && d.verdict == CLIMB_CONTINUE);
	/* MIN_GAIN=0: any gain, even none, goes on (a loss does not) */
	s.patience = 1;
	s.min_gain = 0;
	CHECK(climb_decide(&d, &s, st, 1, 0, &err) == 0 && d.verdict == CLIMB_CONTINUE);
	/* a best with no validation accuracy cannot be compared */
	st[0] = step(NAN, 10, 10);
	CHECK(climb_decide(&d, &s, st, 1, 0, &err) == -1 && strstr(err.msg, "no validation accuracy to compare"));
}

TEST(decide_budget)
{
	ClimbSettings s = settings();
	ClimbStep st[3] = {step(0.5, 10, 10), step(0.6, 10, 3), step(0.7, 10, 2)};
	ClimbDecision d;
	NashErr err = {0};
	/* after step 2: 30 s spent, step 3 about 15 s, the final phase 4 * 2 * 1.2 = 9.6 -> 10 s,
	   a quarter more for a larger network: 12 s; 57 s in all */
	s.budget = 57;
	CHECK(climb_decide(&d, &s, st, 2, 0, &err) == 0 && d.verdict == CLIMB_CONTINUE);
	CHECK(d.spent == 30 && d.next == 15 && d.after == 12);
	s.budget = 56;
	CHECK(climb_decide(&d, &s, st, 2, 0, &err) == 0 && d.verdict == CLIMB_BUDGET && d.step == 2);
	/* a next step already made is taken as it is */
	CHECK(climb_decide(&d, &s, st, 2, 1, &err) == 0 && d.verdict == CLIMB_CONTINUE);
	/* after the pretraining: 10 s spent, step 1 about 20 s, the final phase 24 * 1.25 = 30 s */
	s.budget = 59;
	CHECK(climb_decide(&d, &s, st, 0, 0, &err) == 0 && d.verdict == CLIMB_BUDGET);
	CHECK(d.spent == 10 && d.next == 20 && d.after == 30);
	/* a step whose best would need a longer final phase than the step before's, past the
	   budget, is set aside: step 2's best at 8 s, 4 x 8 x 1.2 = 38 s (step 1's 14 s), 30 s
	   spent */
	double kept = st[2].best_seconds;
	st[2].best_seconds = 8;
	s.budget = 67;
	CHECK(climb_decide(&d, &s, st, 2, 0, &err) == 0 && d.verdict == CLIMB_DISCARD && d.then == 1 &&
	      d.after == 38 && d.spent == 30);
	s.budget = 68;
	CHECK(climb_decide(&d, &s, st, 2, 0, &err) == 0 && d.verdict == CLIMB_BUDGET);
	/* not without a budget, nor after the pretraining */
	s.budget = -1;
	CHECK(climb_decide(&d, &s, st, 2, 0, &err) == 0 && d.verdict == CLIMB_CONTINUE);
	s.budget = 1;
	CHECK(climb_decide(&d, &s, st, 0, 0, &err) == 0 && d.verdict == CLIMB_BUDGET);
	st[2].best_seconds = kept;
	/* the most steps come first */
	s.max_steps = 2;
	CHECK(climb_decide(&d, &s, st, 2, 0, &err) == 0 && d.verdict == CLIMB_MAX_STEPS);
	/* a best with no training seconds predicts nothing */
	s.max_steps = 3;
	st[2].best_seconds = 0;
	CHECK(climb_decide(&d, &s, st, 2, 0, &err) == -1 && strstr(err.msg, "run/stepK/best.h5: no training seconds"));
}

static ModelInfo child(const char *path, const char *failure)
{
	ModelInfo mi = {.path = path, .params = 100, .val_accuracy = 0.5f, .since_parent = -1};
	if (failure) {
		mi.failed = 1;
		snprintf(mi.failure, sizeof mi.failure, "%s", failure);
	}
	return mi;
}

TEST(none_fit)
{
	const char *nofit = "nash-morph: no morphism fits; nash-morph: " MORPH_NO_FIT_BUDGET "params 101 (100 draws)";
	const char *nofit_macs = "nash-morph: no morphism fits; nash-morph: " MORPH_NO_FIT_BUDGET "macs 1500 (100 draws)";
	ModelInfo c[3] = {child("c1", nofit), child("c2", nofit), child("parent", NULL)};
	int order[3] = {2, 1, 0};
	/* every child: the last in the ranking is quoted */
	CHECK(select_none_fit(c, order, 3, 2) == &c[0]);
	/* ... by the parameters or by the multiply-adds (MAX_GROWTH: the same parent, the same cap) */
	c[0] = child("c1", nofit_macs);
	CHECK(select_none_fit(c, order, 3, 2) == &c[0]);
	/* one that trained, or failed otherwise, and the search can go on */
	c[1] = child("c2", NULL);
	CHECK(select_none_fit(c, order, 3, 2) == NULL);
	c[1] = child("c2", "nash-train: out of memory");
	CHECK(select_none_fit(c, order, 3, 2) == NULL);
	/* no child at all */
	CHECK(select_none_fit(c, order + 0, 1, 2) == NULL);
}

/* A trained candidate: its path, id, parent's id, validation accuracy, cost and size. */
static ModelInfo cand(const char *path, const char *id, const char *parent, float val, uint64_t macs, size_t params)
{
	ModelInfo mi = {.path = path, .val_accuracy = val, .macs = macs, .params = params, .since_parent = -1};
	snprintf(mi.id, sizeof mi.id, "%s", id);
	snprintf(mi.parent_id, sizeof mi.parent_id, "%s", parent);
	return mi;
}

static int order_is(const int *order, int n, const int *want)
{
	for (int i = 0; i < n; i++)
		if (order[i] != want[i]) {
			printf("#   order:");
			for (int j = 0; j < n; j++)
				printf(" %d", order[j]);
			printf("\n");
			return 0;
		}
	return 1;
}

TEST(rank_by_cost)
{
	/* a step's children and their parent (the last), ranked by validation accuracy; ties by
	   fewer multiply-adds per image before fewer parameters */
	ModelInfo c[4] = {cand("s2/child1.h5", "c1", "p", 0.9130f, 9715328, 110282),
			  cand("s2/child2.h5", "c2", "p", 0.9080f, 3067008, 61738),
			  cand("s2/child3.h5", "c3", "p", 0.9130f, 9000000, 200000),
			  cand("s1/best.h5", "p", "g", 0.9092f, 3067008, 61674)};
	int order[4];
	CHECK(select_rank(order, c, 4, METRIC_VAL_ACCURACY) == 4 && order_is(order, 4, (int[]){2, 0, 3, 1}));
	/* a child of its parent's cost and accuracy loses to it, whatever the paths say */
	c[1] = cand("a/child2.h5", "c2", "p", 0.9092f, 3067008, 61674);
	CHECK(select_rank(order, c, 4, METRIC_VAL_ACCURACY) == 4 && order_is(order, 4, (int[]){2, 0, 3, 1}));
	c[1].val_accuracy = 0.9130f; /* ... but not when it is better */
	CHECK(select_rank(order, c, 4, METRIC_VAL_ACCURACY) == 4 && order_is(order, 4, (int[]){1, 2, 0, 3}));
	/* unusable ones last, by path */
	c[1].failed = 1;
	CHECK(select_rank(order, c, 4, METRIC_VAL_ACCURACY) == 3 && order_is(order, 4, (int[]){2, 0, 3, 1}));
}

TEST(tolerance)
{
	ModelInfo c[4] = {cand("s2/child1.h5", "c1", "p", 0.9130f, 9715328, 110282),
			  cand("s2/child2.h5", "c2", "p", 0.9080f, 3067008, 61738),
			  cand("s2/child3.h5", "c3", "p", 0.9120f, 5000000, 90000),
			  cand("s1/best.h5", "p", "g", 0.9092f, 3067008, 61674)};
	int order[4];
	const int ranked[4] = {0, 2, 3, 1};
	/* T = 0: the ranking's winner */
	CHECK(select_rank(order, c, 4, METRIC_VAL_ACCURACY) == 4 && order_is(order, 4, ranked));
	CHECK(select_tolerance(order, 4, c, METRIC_VAL_ACCURACY, 0) == 0 && order_is(order, 4, ranked));
	/* within 0.001 of 0.9130: child3, cheaper than child1 */
	CHECK(select_tolerance(order, 4, c, METRIC_VAL_ACCURACY, 0.001) == 1 && order_is(order, 4, (int[]){2, 0, 3, 1}));
	/* within 0.0038 (the float accuracies 0.9130 and 0.9092 differ by 0.00379998...): the
	   parent, as cheap as child2, which ranks below it; 0.0037 is not enough */
	memcpy(order, ranked, sizeof order);
	CHECK(select_tolerance(order, 4, c, METRIC_VAL_ACCURACY, 0.0038) == 2 && order_is(order, 4, (int[]){3, 0, 2, 1}));
	memcpy(order, ranked, sizeof order);
	CHECK(select_tolerance(order, 4, c, METRIC_VAL_ACCURACY, 0.0037) == 1 && order_is(order, 4, (int[]){2, 0, 3, 1}));
	/* child2 within 0.005, of the parent's cost: the parent stays first */
	memcpy(order, ranked, sizeof order);
	CHECK(select_tolerance(order, 4, c, METRIC_VAL_ACCURACY, 0.005) == 2 && order[0] == 3);
	/* an unusable model never wins, however cheap */
	c[1].failed = 1;
	c[1].macs = 1;
	CHECK(select_rank(order, c, 4, METRIC_VAL_ACCURACY) == 3);
	CHECK(select_tolerance(order, 4, c, METRIC_VAL_ACCURACY, 0.5) == 2 && order[0] == 3);
	/* nothing usable first: nothing to choose */
	c[0].failed = c[2].failed = c[3].failed = 1;
	CHECK(select_rank(order, c, 4, METRIC_VAL_ACCURACY) == 0);
	CHECK(select_tolerance(order, 4, c, METRIC_VAL_ACCURACY, 0.5) == 0);
}

TEST(baseline_errors)
{
	char result[512], model[512];
	NashErr err = {0};
	BaselineBudget b;
	snprintf(result, sizeof result, "%s/result.tsv", tmpdir);
	snprintf(model, sizeof model, "%s/missing.h5", tmpdir);
	CHECK(baseline_budget(&b, result, model, &err) == -1 && strstr(err.msg, "result.tsv"));
	const char *text = "train_seconds\tparams\n120\t9\n";
	CHECK(atomic_write(result, text, strlen(text), &err) == 0);
	CHECK(baseline_budget(&b, result, model, &err) == -1 && strstr(err.msg, "no column final_epoch_images"));
	text = "train_seconds\tfinal_epoch_images\n120\t456\n";
	CHECK(atomic_write(result, text, strlen(text), &err) == 0);
	CHECK(baseline_budget(&b, result, model, &err) == -1 && strstr(err.msg, "missing.h5"));
}

TEST(max_params)
{
	size_t cap;
	NashErr err = {0};
	/* none, a count, a multiple of the seed network's 54,778 (cut to a whole parameter) */
	CHECK(search_max_params(&cap, "", 54778, &err) == 0 && cap == 0);
	CHECK(search_max_params(&cap, "200000", 54778, &err) == 0 && cap == 200000);
	CHECK(search_max_params(&cap, "4x", 54778, &err) == 0 && cap == 219112);
	CHECK(search_max_params(&cap, "2.5x", 54778, &err) == 0 && cap == 136945);
	CHECK(search_max_params(&cap, ".5x", 3, &err) == 0 && cap == 1);
	/* what search.mk refuses too */
	const char *bad[] = {"4y", "x", "1.x", "4.x5", "-1", "1e5", "4 x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		nash_err_clear(&err);
		CHECKF(search_max_params(&cap, bad[i], 100, &err) == -1 && err.code == NASH_ERR_USAGE &&
			       strstr(err.msg, "MAX_PARAMS: '"),
		       "%s", bad[i]);
	}
}

TEST(max_growth)
{
	double g;
	NashErr err = {0};
	CHECK(search_growth(&g, "", &err) == 0 && g == 0);
	CHECK(search_growth(&g, "1", &err) == 0 && g == 1);
	CHECK(search_growth(&g, "1.5", &err) == 0 && g == 1.5);
	CHECK(search_growth(&g, "04", &err) == 0 && g == 4);
	CHECK(search_growth(&g, "10.25", &err) == 0 && g == 10.25);
	/* what search.mk refuses too: below 1, not a plain decimal */
	const char *bad[] = {"0", "0.5", ".5", "00", "1.", "1.5x", "4x", "-2", "2e3", " 2", "x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		nash_err_clear(&err);
		CHECKF(search_growth(&g, bad[i], &err) == -1 && err.code == NASH_ERR_USAGE && strstr(err.msg, "MAX_GROWTH: '"),
		       "%s", bad[i]);
	}
	/* a child's cap for the paper's seed network at 16,32,64 (1,950,592 multiply-adds per image),
	   cut to a whole multiply-add */
	Model m;
	const int w[] = {16, 32, 64};
	char path[600];
	snprintf(path, sizeof path, "%s/seed.h5", tmpdir);
	CHECK(seed_network_arch(&m, SEED_ARCH_PAPER, "fashion-mnist", 1, 28, 28, 10, w, 3, 1, &err) == 0);
	m.std[0] = 0.25f; /* (the data's statistics, which nash-init gives) */
	CHECKF(model_write(&m, path, &err) == 0, "%s", err.msg);
	model_free(&m);
	uint64_t cap;
	CHECK(search_max_macs(&cap, "1.5", path, &err) == 0 && cap == 2925888);
	CHECK(search_max_macs(&cap, "1.3", path, &err) == 0 && cap == 2535769); /* 2535769.6 */
	CHECK(search_max_macs(&cap, "4", path, &err) == 0 && cap == 4 * 1950592);
	CHECK(search_max_macs(&cap, "", path, &err) == 0 && cap == 0);
	/* a bad factor is said before the file is read; a missing file is named */
	CHECK(search_max_macs(&cap, "0.9", "/nonexistent/x.h5", &err) == -1 && err.code == NASH_ERR_USAGE);
	CHECK(search_max_macs(&cap, "2", "/nonexistent/x.h5", &err) == -1 && strstr(err.msg, "/nonexistent/x.h5"));
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/nash-test-decisions-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(final_seconds);
	RUN(next_seconds);
	RUN(decide_steps_and_patience);
	RUN(decide_budget);
	RUN(none_fit);
	RUN(rank_by_cost);
	RUN(tolerance);
	RUN(baseline_errors);
	RUN(max_params);
	RUN(max_growth);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	CHECK_DONE();
}
