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

/* A model as a report shows it: nash-show --tsv's facts. */
typedef struct ReportModel {
	char path[REPORT_PATH];
	ModelInfo mi;                 /* mi.path is path */
	char host[64], device[64], job[64]; /* of its last training run; "-" when unknown */
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
	char host[64], device[64], job[64];
	int failed;              /* a failed child: its place was not recorded */
} ReportPlace;

typedef struct SearchReportOpts {
	const char *run;
	const char *step0;     /* the seed network's directory; NULL: RUN/step0 */
	int steps;
	int partial;           /* stopped after step `steps`: no final model, no ensemble yet */
	int ensemble_trained;  /* ENSEMBLE=trained: the members are snap/stepK.h5, else stepK/best.h5 */
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

#endif
