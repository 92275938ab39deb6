/*
 * ticker.h - a thread that calls a function every so many seconds until it
 * is stopped: the server's background work (slow-request spike checks, the
 * pattern analysis).  Stopping wakes the thread at once and waits for a
 * call in progress to return.
 *
 * A named job (ticker_start_job) runs each call under the job time limit
 * (ticker_set_job_limit, `serve --job-timeout`) as a deadline
 * (core/deadline.h): once it passes, the job's store reads stop with
 * ERR_TIMEOUT and the store refuses its writes, so a run cut short stores
 * nothing partial; the run is logged once and counted by job name
 * (ticker_job_timeouts, /metrics), and the next run starts afresh.
 */
#ifndef HOTPATH_CORE_TICKER_H
#define HOTPATH_CORE_TICKER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct ticker {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	unsigned interval_s;
	void (*fn)(void *arg);
	void *arg;
	int running, stop;
	struct ticker_job *job; /* a named job's counters, or NULL */
};

#define TICKER_INIT                                                                                          \
	{                                                                                                    \
		.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER                          \
	}

/* Call fn(arg) every interval_s seconds, the first time after one interval.
 * -1 with a message if it runs already or no thread can start. */
int ticker_start(struct ticker *t, unsigned interval_s, void (*fn)(void *arg), void *arg, char *err,
		 size_t errlen);
void ticker_stop(struct ticker *t);

/* The same for a background job named `name` (a static string, such as
 * "analysis"): each call runs under the job time limit. */
int ticker_start_job(struct ticker *t, const char *name, unsigned interval_s, void (*fn)(void *arg),
		     void *arg, char *err, size_t errlen);
/* The time limit of each run of a named job; 0: none.  Set before the
 * jobs start (TICKER_DEFAULT_JOB_LIMIT_MS until then). */
#define TICKER_DEFAULT_JOB_LIMIT_MS 120000u
void ticker_set_job_limit(uint64_t limit_ms);
/* Run fn(arg) on this thread as one run of the job `name` (a static
 * string) under the job time limit, counted and logged as a ticker's run
 * (for a job's runs asked from elsewhere, such as an analysis asked
 * through the API). */
void ticker_run_job(const char *name, void (*fn)(void *arg), void *arg);
/* Named jobs seen so far and the runs of each that passed the limit: up
 * to `max`, names static; how many. */
#define TICKER_JOBS_MAX 16
size_t ticker_job_timeouts(const char **names, uint64_t *timeouts, size_t max);

#endif
