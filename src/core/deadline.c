/* deadline.c - a time limit on one piece of work (see deadline.h). */
#include "core/deadline.h"

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "core/clock.h"
#include "core/error.h"

static _Thread_local struct deadline *current;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

void deadline_enter(struct deadline *d, uint64_t limit_ns)
{
	deadline_enter_named(d, limit_ns, NULL, NULL);
}

void deadline_enter_named(struct deadline *d, uint64_t limit_ns, const char *what, const char *setting)
{
	d->what = what;
	d->setting = setting;
	d->limit_ns = limit_ns;
	d->at_ns = limit_ns ? mono_ns() + limit_ns : 0;
	atomic_store(&d->passed, 0);
	current = d;
}

void deadline_adopt(struct deadline *d)
{
	current = d;
}

struct deadline *deadline_current(void)
{
	return current;
}

void deadline_leave(void)
{
	current = NULL;
}

int deadline_passed(void)
{
	struct deadline *d = current;
	if (!d || !d->at_ns)
		return 0;
	if (atomic_load_explicit(&d->passed, memory_order_relaxed))
		return 1;
	if (mono_ns() < d->at_ns)
		return 0;
	atomic_store(&d->passed, 1);
	return 1;
}

uint64_t deadline_left_ns(void)
{
	struct deadline *d = current;
	if (!d || !d->at_ns)
		return UINT64_MAX;
	uint64_t now = mono_ns();
	return now >= d->at_ns ? 0 : d->at_ns - now;
}

int deadline_error(char *err, size_t errlen)
{
	struct deadline *d = current;
	double s = d ? (double)d->limit_ns / NS_PER_S : 0;
	if (d)
		atomic_store(&d->passed, 1);
	if (err && errlen)
		snprintf(err, errlen, "%s took longer than its time limit of %g s (%s)",
			 d && d->what ? d->what : "the query", s,
			 d && d->setting ? d->setting : "--query-timeout");
	return ERR_TIMEOUT;
}
