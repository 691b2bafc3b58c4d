/* Reports of a search (nash-report): the figures of RUN/report.md, summary.txt, result.tsv and
   the plot's data, read from the search's files (docs/SEARCH.md). The library reads and
   computes; the tool writes the text. Figures that the files hold as text (an accuracy as
   "0.8125", "-" when there is none) are kept as that text, so that a report shows what the
   tables show. */
#ifndef NASH_REPORT_H
#define NASH_REPORT_H

#include "search/select.h"

#define REPORT_PATH 512

/* A tab-separated table with a header row (select.tsv, result.tsv): cell(r, c) is row r's
   (0: the first after the header) field c, "" where a row is short. */
typedef struct Tsv {
	char path[REPORT_PATH];
	char *text;     /* the file, its tabs and newlines cut to NULs */
	int n_cols, n_rows;
	char **cells;   /* [(n_rows + 1) * n_cols]: the header, then the rows */
} Tsv;

int tsv_read(Tsv *t, const char *path, NashErr *err);
void tsv_free(Tsv *t);
const char *tsv_cell(const Tsv *t, int row, int col);
/* The column under header name, or -1 with "PATH: no column NAME" (a renamed column must not
   read as an empty field). */
int tsv_column(const Tsv *t, const char *name, NashErr *err);

/* The text after KEY up to a character that is not part of a number ("test_accuracy=" in
   "loss=1.2 test_accuracy=0.8125"), in the first line that has it (its last occurrence there);
   at_start: only at a line's start. "" when none. */
void report_figure(char *out, size_t n, const char *text, const char *key, int at_start);
/* Reads a whole text file (malloc'd, NUL-terminated); optional: *text NULL, no error, when it
   does not exist. */
int report_read_text(char **text, const char *path, int optional, NashErr *err);
/* The greatest of the accuracies vals[n] ("-" skipped), as its text; "" when none above 0. */
void report_best(char *out, size_t n, const char *const *vals, int n_vals);

/* A model as a report shows it: nash-show --tsv's facts. */
typedef struct ReportModel {
	char path[REPORT_PATH];
	ModelInfo mi;                 /* mi.path is path */
	char host[64], hardware[128], job[64]; /* of its last training run; "-" when unknown */
} ReportModel;

int report_model_read(ReportModel *rm, const char *path, NashErr *err);

/* The columns of a step's select.tsv (nash-select --tsv) that a report reads. */
typedef struct ReportStep {
	Tsv sel;
	int rank, model, val, params, seconds, since_parent, morphisms, usable, note;
} ReportStep;

/* Whether row r of a step's table is a child that trained (its figures are its own: a failed
   child's file holds its parent's). */
int report_step_trained(const ReportStep *s, int r);
/* Whether row r is the parent (the previous step's best.h5). */
int report_step_is_parent(const ReportStep *s, int r);

/* A snapshot ensemble's member: the step whose best it is, its file, its test accuracy as
   ensemble.txt gives it ("-" when it does not), and the earlier step it has the same weights
   as (nash-ensemble counted it once), -1 when none. */
typedef struct ReportMember {
	int step;
	char path[REPORT_PATH];
	char test[32];
	int same_as;
} ReportMember;

/* Where the trainings ran: a row per model trained. */
typedef struct ReportPlace {
	char model[REPORT_PATH]; /* as the report names it: RUN/ and .h5 left off */
	char host[64], hardware[128], job[64];
	int failed;              /* a failed child: its place was not recorded */
} ReportPlace;

typedef struct SearchReportOpts {
	const char *run;
	const char *step0;     /* the seed network's directory; NULL: RUN/step0 */
	int steps;
	int partial;           /* stopped after step `steps`: no final model, no ensemble yet */
	int ensemble_trained;  /* ENSEMBLE=trained: the members are snap/stepK.h5, else stepK/best.h5 */
	long started;          /* when the make that writes the report started (epoch seconds); 0: unknown */
	int at_once;           /* the trainings that make ran at once (its -j); 0 counts as 1 */
} SearchReportOpts;

typedef struct SearchReport {
	SearchReportOpts o;
	char step0[REPORT_PATH];      /* the seed network's directory */
	char step0_name[REPORT_PATH]; /* as the report names it: step0, ../step0, or the path */
	/* the seed network, the search's best, the final model (partial: the best again) */
	ReportModel seed, best, final;
	char seed_test[32];          /* step0/test.txt's test accuracy; "" when none */
	double seed_seconds;         /* its pretraining (total seconds, as nash-show rounds it) */
	double final_seconds;        /* the final training's (0 when partial) */
	/* the ensemble (not partial) */
	char ens_test[32];           /* ensemble.txt's; "" when none */
	int ens_n;                   /* its distinct members; -1 unknown */
	ReportMember *members;
	int n_members;
	char best_member[32];        /* the best member's test accuracy; "" when none */
	int has_gain;
	double ens_gain;             /* the ensemble over its best member, percentage points */
	/* the steps */
	ReportStep *step;            /* [steps + 1]; step[0] unused */
	double *minutes;             /* [steps + 1]: cumulative training minutes after step k */
	double train_seconds;        /* every model's training: the seed, the children, the final */
	/* where the trainings ran, and the compute in images */
	ReportPlace *places;
	int n_places, n_trained, n_hosts, n_jobs, n_distinct_jobs;
	double train_images;         /* of every training, failed children left out */
	double final_epoch_images;   /* the final phase's images per epoch; 0 when unknown */
	/* the texts the report quotes */
	char *settings_run;          /* RUN/settings/run */
	char *init_derived;          /* STEP0/init.derived; NULL when none */
	char *climb_steps, *climb_why; /* RUN/climb.txt's steps= and why=; NULL when none */
} SearchReport;

/* Reads everything: the models, the steps' tables, test.txt, ensemble.txt (not partial), the
   settings. Errors name the file and what is wrong. */
int search_report_read(SearchReport *r, const SearchReportOpts *o, NashErr *err);
void search_report_free(SearchReport *r);

/* The figures of the plot (RUN/report/steps.dat, children.dat), which need no final model:
   search_report_read's steps and minutes only. */
int search_report_read_steps(SearchReport *r, const SearchReportOpts *o, NashErr *err);

/* ---- over several searches ---- */

/* The mean and sample standard deviation (n - 1) of the numbers among vals[n] ("-" and ""
   skipped), each times scale: n 0 leaves mean NaN, n 1 sd NaN. -1 when out of memory. */
typedef struct ReportStats {
	int n;
	double mean, sd;
} ReportStats;
int report_stats(ReportStats *s, const char *const *vals, int n, double scale);
void report_stats_of(ReportStats *s, const double *x, int n);

/* The figure under header name in a result.tsv's one row, "-" when empty; -1 with "FILE: no
   column NAME" when it has no such column. */
int report_result_figure(char *out, size_t n, const Tsv *t, const char *name, NashErr *err);

/* The first NAME=VALUE word's value in a settings stamp's text (SEED=7 ...); "" when none. */
void report_setting(char *out, size_t n, const char *text, const char *name);

/* RUNS=N: the searches DIR/NAME (run1, run2, ...) and DIR/ensemble.txt, the ensemble of their
   final networks. A row per run from its result.tsv ("-" for an empty figure), its seed from
   its settings/init. */
typedef struct RunsRow {
	char name[64], seed[32];
	char seed_test[32], final_test[32], ensemble_test[32], params[32], train_seconds[32];
} RunsRow;

typedef struct RunsReport {
	const char *dir;
	int n;
	RunsRow *rows;
	ReportStats seed_test, final_test, ensemble_test, train_seconds;
	char cross[32];     /* the ensemble's test accuracy; "" when none */
	int cross_n;        /* its members; -1 unknown */
	char best[32];      /* the best run's final test accuracy; "" when none */
	int has_gain;
	double gain;        /* the ensemble over the best run, percentage points */
	char *settings_run; /* DIR/settings/run */
	char *ensemble_txt; /* DIR/ensemble.txt, which the report quotes */
} RunsReport;

int runs_report_read(RunsReport *r, const char *dir, char *const *names, int n, NashErr *err);
void runs_report_free(RunsReport *r);

/* The ablation (docs/ABLATION.md): on each seed DIR/NAME (seed1, seed2, ...) the variants
   search, random, const-lr (searches: their result.tsv), scratch and seed-only (one training:
   their final.h5); DIR/ensemble.txt the ensemble of the searches' final networks. */
enum { ABLATION_VARIANTS = 5 };
extern const char *const ablation_variant[ABLATION_VARIANTS]; /* search, random, const-lr, scratch, seed-only */

/* A row of results.tsv: a variant on a seed. */
typedef struct AblationRow {
	int variant;
	char seed[32], test[32], error[32], params[32], epochs[32], seconds[32];
} AblationRow;

/* A row of report.tsv: a variant over the seeds. */
typedef struct AblationVariant {
	int seeds;            /* its rows */
	ReportStats error;    /* test error in percent, over the seeds that have one */
	ReportStats vs_search; /* the difference to (a) on the same seed, points (not for (a)) */
	double params, epochs, seconds; /* means over its rows */
} AblationVariant;

typedef struct AblationReport {
	const char *dir;
	int n_seeds;
	char (*seeds)[32];    /* [n_seeds] each seed directory's SEED */
	AblationRow *rows;    /* [n_rows]: per seed, the variants in order */
	int n_rows;
	AblationVariant v[ABLATION_VARIANTS];
	/* (a) against (e), paired by seed: (e)'s test error less (a)'s, points; wins: (a) better */
	ReportStats search_gain;
	int search_wins;
	ReportStats seed_error;  /* the shared seed networks' test error, percent */
	char cross[32];          /* the ensemble of (a)'s final networks: its test accuracy, "" none */
	int cross_n;             /* its members; -1 unknown */
	double total_seconds;    /* every training, the shared pretraining once */
	char scratch_mode[64];   /* ABL_SCRATCH (settings/ablation) */
	char *settings_run;
} AblationReport;

int ablation_report_read(AblationReport *r, const char *dir, char *const *names, int n, NashErr *err);
void ablation_report_free(AblationReport *r);

#endif
