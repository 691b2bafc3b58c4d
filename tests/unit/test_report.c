/* The reports' arithmetic and parsing (lib/search/report*.c): the mean and sample standard
   deviation, the figures read from the tools' text, the tables read by header, the best of a
   column, and which ensemble members repeat an earlier one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/atomic.h"
#include "check.h"
#include "search/ensemble.h"
#include "search/report.h"

static char tmpdir[256];

TEST(stats)
{
	ReportStats s;
	/* 0.80, 0.84, 0.86: mean 0.8333..., squares 0.0018667 over n - 1 = 2 */
	const char *const acc[] = {"0.80", "-", "0.84", "", "0.86"};
	CHECK(report_stats(&s, acc, 5, 1) == 0);
	CHECK(s.n == 3 && check_close(s.mean, 2.5 / 3, 1e-12, 0) && check_close(s.sd, sqrt(0.0018666666 / 2), 1e-9, 0));
	/* scaled: test errors in percent */
	const char *const err[] = {"0.19", "0.18"};
	report_stats(&s, err, 2, 100);
	CHECK(s.n == 2 && check_close(s.mean, 18.5, 1e-9, 0) && check_close(s.sd, sqrt(0.5), 1e-9, 0));
	/* one value: no spread; none: no mean */
	report_stats(&s, err, 1, 1);
	CHECK(s.n == 1 && check_close(s.mean, 0.19, 1e-12, 0) && isnan(s.sd));
	report_stats(&s, acc + 1, 1, 1);
	CHECK(s.n == 0 && isnan(s.mean) && isnan(s.sd));
}

TEST(text_figures)
{
	char out[32];
	report_figure(out, sizeof out, "loss=1.2 test_accuracy=0.8125 tta=none\n", "test_accuracy=", 0);
	CHECK(strcmp(out, "0.8125") == 0);
	/* at a line's start only: nash-ensemble's last line, not a member named so */
	report_figure(out, sizeof out, "x test_accuracy=0.5\ntest_accuracy=0.7500\n", "test_accuracy=", 1);
	CHECK(strcmp(out, "0.7500") == 0);
	report_figure(out, sizeof out, "member params\nensemble of 3    0.8800\n", "ensemble of ", 1);
	CHECK(strcmp(out, "3") == 0);
	report_figure(out, sizeof out, "nothing here\n", "test_accuracy=", 0);
	CHECK(out[0] == '\0');
	report_setting(out, sizeof out, "DATA=x SEED=7\nSEEDS=9 SEED=8", "SEED");
	CHECK(strcmp(out, "7") == 0);
	report_setting(out, sizeof out, "SEEDS=9", "SEED");
	CHECK(out[0] == '\0');
	const char *const vals[] = {"-", "0.8400", "0.8600", "0.8500"};
	report_best(out, sizeof out, vals, 4);
	CHECK(strcmp(out, "0.8600") == 0);
	report_best(out, sizeof out, vals, 1);
	CHECK(out[0] == '\0');
}

TEST(tables)
{
	char path[512];
	snprintf(path, sizeof path, "%s/t.tsv", tmpdir);
	const char *text = "rank\tmodel\tval_accuracy\n1\ta.h5\t0.5000\n2\tb.h5\n";
	NashErr err = {0};
	CHECK(atomic_write(path, text, strlen(text), &err) == 0);
	Tsv t;
	CHECK(tsv_read(&t, path, &err) == 0);
	CHECK(t.n_rows == 2 && t.n_cols == 3);
	int c = tsv_column(&t, "val_accuracy", &err);
	CHECK(c == 2 && strcmp(tsv_cell(&t, 0, c), "0.5000") == 0);
	CHECK(strcmp(tsv_cell(&t, 1, c), "") == 0); /* a short row */
	CHECK(strcmp(tsv_cell(&t, 2, c), "") == 0); /* no such row */
	CHECK(tsv_column(&t, "usable", &err) == -1 && strstr(err.msg, "t.tsv: no column usable"));
	tsv_free(&t);
	CHECK(atomic_write(path, "", 0, &err) == 0);
	CHECK(tsv_read(&t, path, &err) == -1 && strstr(err.msg, "empty, no header"));
}

TEST(same_weights)
{
	/* steps 1..4: step 2 kept step 1's best, step 4 step 3's */
	const uint64_t hash[] = {11, 11, 33, 33};
	CHECK(ensemble_same_weights(hash, 0) == -1);
	CHECK(ensemble_same_weights(hash, 1) == 0);
	CHECK(ensemble_same_weights(hash, 2) == -1);
	CHECK(ensemble_same_weights(hash, 3) == 2);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/nash-test-report-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(stats);
	RUN(text_figures);
	RUN(tables);
	RUN(same_weights);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	CHECK_DONE();
}
