/*
 * ticker.c - a periodic background thread (see ticker.h).
 */
#include "core/ticker.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/deadline.h"
#include "core/log.h"

/* Named jobs: their counters live as long as the process (a job started
 * again after a stop finds its own by name). */
struct ticker_job {
	const char *name;
	char what[80]; /* "the background job NAME", for messages */
	_Atomic uint64_t timeouts;
};
static struct ticker_job jobs[TICKER_JOBS_MAX];
static size_t n_jobs;
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t job_limit_ms = TICKER_DEFAULT_JOB_LIMIT_MS;

void ticker_set_job_limit(uint64_t limit_ms)
{
	atomic_store(&job_limit_ms, limit_ms);
}

static struct ticker_job *job_named(const char *name)
{
	struct ticker_job *j = NULL;
	pthread_mutex_lock(&jobs_lock);
	for (size_t i = 0; i < n_jobs && !j; i++)
		if (!strcmp(jobs[i].name, name))
			j = &jobs[i];
	if (!j && n_jobs < TICKER_JOBS_MAX) {
		j = &jobs[n_jobs++];
		j->name = name;
		snprintf(j->what, sizeof(j->what), "the background job %s", name);
	}
	pthread_mutex_unlock(&jobs_lock);
	return j;
}

size_t ticker_job_timeouts(const char **names, uint64_t *timeouts, size_t max)
{
	pthread_mutex_lock(&jobs_lock);
	size_t n = n_jobs < max ? n_jobs : max;
	for (size_t i = 0; i < n; i++) {
		names[i] = jobs[i].name;
		timeouts[i] = atomic_load(&jobs[i].timeouts);
	}
	pthread_mutex_unlock(&jobs_lock);
	return n;
}

/* One call of fn; a named job's under its time limit. */
static void run_limited(struct ticker_job *job, void (*fn)(void *arg), void *arg)
{
	uint64_t limit_ms = atomic_load(&job_limit_ms);
	if (!job || !limit_ms) {
		fn(arg);
		return;
	}
	struct deadline dl;
	deadline_enter_named(&dl, limit_ms * 1000000ull, job->what, "--job-timeout");
	fn(arg);
	if (atomic_load(&dl.passed)) {
		char msg[200];
		deadline_error(msg, sizeof(msg));
		atomic_fetch_add(&job->timeouts, 1);
		log_warn("%s: stopped; nothing of this run was stored, the next runs as usual", msg);
	}
	deadline_leave();
}

static void run_once(struct ticker *t)
{
	run_limited(t->job, t->fn, t->arg);
}

void ticker_run_job(const char *name, void (*fn)(void *arg), void *arg)
{
	run_limited(job_named(name), fn, arg);
}

static void *ticker_main(void *arg)
{
	struct ticker *t = arg;
	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += t->interval_s;
		while (!t->stop && pthread_cond_timedwait(&t->wake, &t->lock, &until) != ETIMEDOUT)
			;
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->lock);
		run_once(t);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static int start(struct ticker *t, struct ticker_job *job, unsigned interval_s, void (*fn)(void *arg),
		 void *arg, char *err, size_t errlen)
{
	if (t->running)
		return errf(err, errlen, "background thread already running");
	t->interval_s = interval_s;
	t->job = job;
	t->fn = fn;
	t->arg = arg;
	t->stop = 0;
	int rc = pthread_create(&t->thread, NULL, ticker_main, t);
	if (rc)
		return errf(err, errlen, "cannot start a background thread: %s", strerror(rc));
	t->running = 1;
	return 0;
}

int ticker_start(struct ticker *t, unsigned interval_s, void (*fn)(void *arg), void *arg, char *err,
		 size_t errlen)
{
	return start(t, NULL, interval_s, fn, arg, err, errlen);
}

int ticker_start_job(struct ticker *t, const char *name, unsigned interval_s, void (*fn)(void *arg),
		     void *arg, char *err, size_t errlen)
{
	return start(t, job_named(name), interval_s, fn, arg, err, errlen);
}

void ticker_stop(struct ticker *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = 1;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	t->running = 0;
}
