/*
 * deadline.h - a time limit on one piece of work (an API read), seen by
 * the code that does it without being passed down: the thread that starts
 * the work enters a deadline, the store's reads look at the current one
 * (deadline_passed()) and stop with ERR_TIMEOUT once it has passed, and
 * parallel_run() hands it to the threads it starts.  A thread that entered
 * none (the background jobs) has no limit.
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
};

/* Start a limit of limit_ns from now on this thread (0: none). */
void deadline_enter(struct deadline *d, uint64_t limit_ns);
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
/* Say in err what passed ("the query took longer than its limit of 2.5 s
 * (--query-timeout)"); returns ERR_TIMEOUT. */
int deadline_error(char *err, size_t errlen);

#endif
