/*
 * deadline.h - a time limit on one piece of work (an API read), seen by
 * the code that does it without being passed down: the thread that starts
 * the work enters a deadline, the store's reads look at the current one
 * (deadline_passed()) and stop with ERR_TIMEOUT once it has passed, and
 * parallel_run() hands it to the threads it starts.  A thread that entered
 * none has no limit.  The background jobs run under one of their own
 * (core/ticker.h, --job-timeout); once it has passed, the store refuses
 * their writes too, so a job cut short stores nothing partial.
 *
 * Ownership: the caller owns the struct and keeps it alive until
 * deadline_leave(); threads that adopt it never outlive that.
 */
#ifndef HOTPATH_CORE_DEADLINE_H
#define HOTPATH_CORE_DEADLINE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct deadline {
	uint64_t at_ns;	    /* CLOCK_MONOTONIC; 0: no limit */
	uint64_t limit_ns;  /* the limit it was set with, for messages */
	_Atomic int passed; /* a read saw it pass and stopped */
	/* for messages: what is limited and the setting that limits it;
	 * NULL: "the query", "--query-timeout" */
	const char *what, *setting;
};

/* Start a limit of limit_ns from now on this thread (0: none). */
void deadline_enter(struct deadline *d, uint64_t limit_ns);
/* The same, naming what is limited and by which setting in messages
 * ("the background job analysis", "--job-timeout"); strings kept by the
 * caller. */
void deadline_enter_named(struct deadline *d, uint64_t limit_ns, const char *what, const char *setting);
/* This thread takes part in another thread's work: same deadline (or NULL). */
void deadline_adopt(struct deadline *d);
/* This thread's deadline, or NULL. */
struct deadline *deadline_current(void);
/* Forget this thread's deadline. */
void deadline_leave(void);
/* 1 when this thread's deadline has passed (and remember it did), else 0. */
int deadline_passed(void);
/* Nanoseconds left before this thread's deadline; UINT64_MAX without one. */
uint64_t deadline_left_ns(void);
/* Say in err what passed ("the query took longer than its time limit of
 * 2.5 s (--query-timeout)"); returns ERR_TIMEOUT. */
int deadline_error(char *err, size_t errlen);

#endif
