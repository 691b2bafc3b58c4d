/* nash-report's text: numbers as the reports show them, output files made in memory and
   written whole, and the tables over several searches (runs, ablation). */
#ifndef NASH_REPORT_TEXT_H
#define NASH_REPORT_TEXT_H

#include <stdio.h>

#include "search/report.h"

/* An accuracy as nash-show --tsv shows it: 4 decimals, "-" when there is none. */
const char *acc_text(char *buf, size_t n, float v);
/* A computed number: whole ones whole, others to 6 significant digits. */
const char *num_text(char *buf, size_t n, double v);
/* "MEAN ± SD" to `decimals`, MEAN alone without an SD, "-" without a mean. */
const char *pm(char *buf, size_t n, const ReportStats *s, int decimals);
const char *or_dash(const char *s);
const char *plural(long n);
/* A settings stamp's NAME=VALUE words, one a line. */
void print_words(FILE *f, const char *text);

/* An output file, made in memory and written whole by out_write (atomic_write): readers see
   the old file or the new one; on an error (exit 1) the old one stays. */
typedef struct Out {
	FILE *f;
	char *buf;
	size_t len;
} Out;
FILE *out_open(Out *o);
void out_write(Out *o, const char *path);

/* RUNS=N: DIR/runs.tsv, DIR/summary.txt, DIR/report.md (last). */
void write_runs_report(const RunsReport *r);
/* The ablation: DIR/results.tsv, DIR/report.tsv, DIR/summary.txt, DIR/report.md (last); plot:
   the plot report.md shows (NULL: none), started: when the make began (0: not known). */
void write_ablation_report(const AblationReport *r, const char *plot, long started);

#endif
