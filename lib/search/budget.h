/* A search's time budgets (docs/SEARCH.md): the decisions of a search that decides its steps as
   it goes (`make search BUDGET=... PATIENCE=...`: after each step, another or a stop, and why)
   and the epochs of the no-search baseline that trains as long as a search did (`make baseline`,
   `make ablation`'s variant (e)), and the children's parameter budget. The library reads the
   search's files and computes; nash-report
   writes the text; pipelines/search.sh climb runs the steps and times them. */
#ifndef NASH_BUDGET_H
#define NASH_BUDGET_H

#include "search/report.h"

/* The settings of the climb (search.mk's), as nash-report climb takes them. */
typedef struct ClimbSettings {
	int max_steps;          /* the most steps (STEPS) */
	long budget;            /* BUDGET in seconds; -1: none */
	int patience;           /* PATIENCE in steps; 0: none */
	double min_gain;        /* MIN_GAIN: the validation accuracy's least gain in PATIENCE steps */
	int epochs_seed, epochs_neigh, epochs_final; /* EPOCHS_SEED, EPOCHS_NEIGH, EPOCHS_FINAL */
	int neigh;              /* NEIGH: the children of a step, 1 or more */
	int jobs;               /* the trainings at once (make -j), taken as 1 to NEIGH */
	int final_on_all;       /* FINAL_ON=all: the final training sees the validation images too */
	int ensemble_trained;   /* ENSEMBLE=trained: the final phase trains every step's best */
} ClimbSettings;

/* What step k of RUN left, as the climb decides by it. */
typedef struct ClimbStep {
	char best[REPORT_PATH]; /* RUN/stepK/best.h5 */
	long seconds;           /* the step's seconds: RUN/stepK/wall, else estimated */
	double val;             /* its best's validation accuracy as nash-show shows it; NaN when none */
	char val_text[32];      /* the same as text ("0.8125", "-") */
	double best_seconds;    /* its best's last training, in seconds as nash-show shows them; with
				   RUN/stepK/speed.h5, what it would take at the final phase's threads */
	int measured;           /* best_seconds from RUN/stepK/speed.h5 */
} ClimbStep;

/* Reads step k of RUN (0: the seed network's pretraining). Its seconds: the number on the first
   line of RUN/stepK/wall (the climb times each step it makes); without one (a step a plain
   `make search` made), estimated: step 0's best's total training seconds, a step's trained
   children's seconds (RUN/stepK/select.tsv) over the trainings at once. Its best's seconds: of
   its last training, or, where the climb measured it (RUN/stepK/speed.h5: a short training of
   the best as the final phase trains it, at its threads), that speed times the images of its
   last training. Errors name the file. */
int climb_step_read(ClimbStep *st, const ClimbSettings *s, const char *run, int k, NashErr *err);

typedef enum ClimbVerdict {
	CLIMB_CONTINUE,  /* make step k + 1 */
	CLIMB_SATURATED, /* PATIENCE: no gain of MIN_GAIN in the last PATIENCE steps */
	CLIMB_MAX_STEPS, /* the most steps asked for */
	CLIMB_BUDGET,    /* the next step and the final phase after it would not fit the budget */
	CLIMB_DISCARD,   /* step k's best's final phase would not fit: the search ends at step k - 1 */
} ClimbVerdict;

typedef struct ClimbDecision {
	ClimbVerdict verdict;
	int step;                /* k: the steps made */
	/* CLIMB_SATURATED: the step PATIENCE steps before (k - PATIENCE; else -1), and the best
	   validation accuracies then and now, as nash-show shows them */
	int then;
	char val_then[32], val_now[32];
	/* the budget's figures, seconds (set when the budget was tested): spent on steps 0..k, the
	   next step's prediction, and the final phase's after it */
	long spent, next, after;
} ClimbDecision;

/* The decision after step k from what steps 0..k left (steps[0..k]), tested in this order:
   with a budget, whether step k's best can still have its final phase (climb_final_seconds,
   from its own training's speed) within it: when it cannot and step k - 1's best would cost
   less, step k is discarded (CLIMB_DISCARD, then = k - 1: the search ends with step k - 1's
   best, as STEPS=k-1 would); then the saturation (PATIENCE), the most steps, the budget: the
   time spent, the next step's (climb_next_seconds) and the final phase after it, step k's
   best's for a network a quarter more costly (a guess: the next step's winner may grow more,
   and is then discarded by the first test). A next step already made and up to date
   (next_made: by an earlier climb within its budget) is taken as it is, whatever the budget, so
   that the same BUDGET again reaches the same step. Errors: a best with no validation accuracy
   to compare, or none of the training seconds the final phase is predicted from. */
int climb_decide(ClimbDecision *d, const ClimbSettings *s, const ClimbStep *steps, int k, int next_made,
		 NashErr *err);

/* The predictions behind the budget test, in seconds (rounded as the shell did, for the same
   steps from the same files). The final phase after step k, from its best's seconds per epoch of
   its last training (best_seconds over the epochs of step k: EPOCHS_SEED for the pretraining,
   EPOCHS_NEIGH for a child, who trained on one thread beside its siblings, slower than the
   final training on every core) times EPOCHS_FINAL; a tenth more with FINAL_ON=all (the
   validation images too), a fifth more for the tests and the ensemble; with ENSEMBLE=trained
   the k snapshots train too, jobs at a time. -1 when best_seconds or the epochs are not
   positive. */
long climb_final_seconds(const ClimbSettings *s, int k, double best_seconds);
/* The next step after step k, which took last seconds: 1.5 times it (its children are its best's,
   up to twice as big); the first from the pretraining: a child costs about 4 seed epochs per
   epoch (one thread instead of every core, a larger network), jobs children at once. */
long climb_next_seconds(const ClimbSettings *s, int k, long last);

/* The no-search baseline of equal compute: the epochs that give the seed network the training
   time of a whole search on the final phase's data (docs/ABLATION.md, "(e)"). Equal training
   time, not equal images: a grown network costs more per image than the seed, and what a user
   pays for is time. */
typedef struct BaselineBudget {
	long epochs;                  /* at least 1 */
	char train_seconds[32];       /* the search's training seconds (result.tsv's text) */
	char final_epoch_images[32];  /* the final phase's images per epoch (result.tsv's text) */
	double images_per_second;     /* the seed network's pretraining's */
} BaselineBudget;

/* From a search's result.tsv (train_seconds, final_epoch_images) and its seed network
   (SEED_MODEL: the images and seconds of its pretraining). Errors name the file; figures
   missing or not positive are an error that quotes them. */
int baseline_budget(BaselineBudget *b, const char *result, const char *seed_model, NashErr *err);

/* The growth cap (search.mk's MAX_GROWTH): "" none (0), or G, a decimal of 1 or more (digits,
   [.digits]): a child costs at most G times its parent's multiply-adds per image. -1 with a
   usage error quoting spec when it is none of these. */
int search_growth(double *growth, const char *spec, NashErr *err);
/* A child's cap in multiply-adds per image (nash-morph --max-macs) under the growth cap spec
   (search_growth), for the parent model file PARENT: G times its graph_macs, cut to a whole
   multiply-add (at most UINT64_MAX); 0 for no cap. Errors name PARENT, or quote spec. */
int search_max_macs(uint64_t *cap, const char *spec, const char *parent, NashErr *err);

/* The children's parameter budget (search.mk's MAX_PARAMS), in parameters, for a seed network
   of seed_params: "" none (0), N parameters, or Kx, K times the seed network's (a decimal K,
   cut to a whole parameter). -1 with an error quoting spec when it is none of these. */
int search_max_params(size_t *cap, const char *spec, size_t seed_params, NashErr *err);

/* What a search derives from its data and seed network before anything trains (`make search`
   prints it and RUN/step0/init.derived keeps it for the report). */
typedef struct SeedBudget {
	char dataset[64];
	int in_c, in_h, in_w, classes, val_size; /* its images, classes, validation images held out */
	size_t params;          /* the seed network's */
	size_t cap;             /* MAX_PARAMS in parameters; 0: no budget */
	int fits;               /* the seed network is below the budget (or there is none): a child can be */
} SeedBudget;

/* From the seed network MODEL and the budget spec (as search_max_params). Errors name MODEL. */
int seed_budget_read(SeedBudget *b, const char *model, const char *spec, NashErr *err);

#endif
