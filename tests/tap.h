/*
 * tap.h - a tiny Test Anything Protocol harness for the unit tests.
 *
 * Each tests/unit/FOLDER/test_*.c is one program; `prove` runs them all.  Checks
 * print both values on failure.  Call tap_done() last: it prints the plan
 * and returns the exit status.
 */
#ifndef HOTPATH_TESTS_TAP_H
#define HOTPATH_TESTS_TAP_H

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

static inline int tap_ok(int pass, const char *file, int line, const char *expr, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static inline int tap_ok(int pass, const char *file, int line, const char *expr, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	printf("%s %d - ", pass ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failed++;
		printf("#   failed at %s:%d: %s\n", file, line, expr);
	}
	fflush(stdout); /* keep TAP lines if a sanitizer aborts the program */
	return pass;
}

#define is_int(got, want, ...)                                                                               \
	do {                                                                                                 \
		long long g_ = (long long)(got), w_ = (long long)(want);                                     \
		if (!ok(g_ == w_, __VA_ARGS__))                                                              \
			printf("#   got %lld, want %lld\n", g_, w_);                                         \
	} while (0)

#define is_str(got, want, ...)                                                                               \
	do {                                                                                                 \
		const char *g_ = (got), *w_ = (want);                                                        \
		if (!ok(g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_, __VA_ARGS__))                             \
			printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)");     \
	} while (0)

/* Equal to within 1e-9 relative to `want` (absolute below 1). */
static inline int tap_near(double got, double want)
{
	return fabs(got - want) <= 1e-9 * fmax(1, fabs(want));
}

#define is_num(got, want, ...)                                                                               \
	do {                                                                                                 \
		double g_ = (got), w_ = (want);                                                              \
		if (!ok(tap_near(g_, w_), __VA_ARGS__))                                                      \
			printf("#   got %.17g, want %.17g\n", g_, w_);                                       \
	} while (0)

/* A test that cannot run here, with the reason: "ok N - NAME # SKIP REASON". */
static inline void tap_skip(const char *name, const char *reason)
{
	printf("ok %d - %s # SKIP %s\n", ++tap_n, name, reason);
	fflush(stdout);
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
