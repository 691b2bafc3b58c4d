/* Minimal TAP test harness for the C unit tests. Each CHECK that fails prints where and why;
   each TEST prints "ok"/"not ok"; main returns non-zero if anything failed. Comparisons treat
   NaN as a failure, never as a pass. */
#ifndef NASH_CHECK_H
#define NASH_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_failures_total, check_tests_run, check_current_failed;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			printf("#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			check_current_failed = 1;                                        \
		}                                                                        \
	} while (0)

#define CHECKF(cond, ...)                                                   \
	do {                                                                \
		if (!(cond)) {                                              \
			printf("#   %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			printf(__VA_ARGS__);                                \
			printf("\n");                                       \
			check_current_failed = 1;                           \
		}                                                           \
	} while (0)

/* |a-b| <= atol + rtol*|b|, false for NaN or Inf anywhere */
static inline int check_close(double a, double b, double atol, double rtol)
{
	if (!isfinite(a) || !isfinite(b))
		return 0;
	return fabs(a - b) <= atol + rtol * fabs(b);
}

/* Largest violation of |a-b| <= atol + rtol*|b| over n values; returns index of worst or -1
   when all close. Any NaN counts as a violation. */
static inline long check_arrays_close(const float *a, const float *b, size_t n, double atol,
				      double rtol, double *worst_err)
{
	long worst = -1;
	double w = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (double)b[i]);
		double lim = atol + rtol * fabs((double)b[i]);
		if (!(d <= lim)) { /* NaN-safe */
			double excess = isfinite(d) ? d - lim : INFINITY;
			if (worst < 0 || excess > w) {
				w = excess;
				worst = (long)i;
			}
		}
	}
	if (worst_err)
		*worst_err = w;
	return worst;
}

#define TEST(name) static void name(void)
#define RUN(name) RUN_AS(#name, name())
/* A test by another name than its function's: stmt under label (a table's cases). */
#define RUN_AS(label, stmt)                                                         \
	do {                                                                        \
		check_current_failed = 0;                                           \
		stmt;                                                               \
		check_tests_run++;                                                  \
		printf("%s %d - %s\n", check_current_failed ? "not ok" : "ok",      \
		       check_tests_run, label);                                     \
		fflush(stdout);                                                     \
		check_failures_total += check_current_failed;                       \
	} while (0)
#define CHECK_DONE()                                          \
	do {                                                  \
		printf("1..%d\n", check_tests_run);           \
		return check_failures_total ? 1 : 0;          \
	} while (0)

#endif
