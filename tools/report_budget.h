/* nash-report's decisions for a search's pipeline: each command reads with lib/search/budget.c,
   writes its file and its text, and exits as the tools do on an error. */
#ifndef NASH_REPORT_BUDGET_H
#define NASH_REPORT_BUDGET_H

#include "search/budget.h"

/* --epochs SEED,NEIGH,FINAL into s; a usage error (exit 2) when it is not three counts. */
void climb_epochs(ClimbSettings *s, const char *arg);
/* climb: steps 0..k of RUN read, the decision printed ("continue"; or "stop" or "discard", a
   tab and why), a stop recorded in RUN/climb.txt (a discard as steps k - 1). min_gain: --min-gain as given, for the why. */
void run_climb(const char *run, int k, const ClimbSettings *s, const char *min_gain, int next_made);
/* baseline-budget: OUT from RESULT and the seed network. */
void run_baseline_budget(const char *out, const char *result, const char *seed_model);
/* check-budget: MODEL's .derived, its lines on stdout after label; exit 1 after them when the
   seed network fills the budget spec. limit: LIMIT, NULL for none. */
void run_check_budget(const char *model, const char *spec, const char *limit, const char *label);
/* max-params: the budget spec in parameters for the seed network MODEL, "" for none. */
void run_max_params(const char *spec, const char *model);
/* max-macs: a child's cap in multiply-adds per image under the growth cap spec for the parent
   model file PARENT, "" for none. */
void run_max_macs(const char *spec, const char *parent);

#endif
