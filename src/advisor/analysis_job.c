/*
 * analysis_job.c - the analyses the API and the background share
 * (advisor.h): the last analysis of each (range, max_traces), kept in
 * memory and its summary as a store document; the job that runs asked
 * analyses one at a time on a thread of its own; and the watch that keeps
 * the dashboard's ranges, and the ranges asked lately, analysed.
 *
 * Two locks: `last.run` is held for a whole run (one at a time, and the
 * detector cache is the run's), `last.lock` only to read or replace a kept
 * summary, so a request reading the last analysis never waits for a run.
 */
#include "advisor/advisor.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/deadline.h"
#include "core/json_doc.h"
#include "core/json_write.h"
#include "core/log.h"
#include "core/ticker.h"
#include "advisor/detect_scan.h"

/* Analyses kept, one per (range, max_traces), the least recently run replaced. */
#define KEPT_ANALYSES 16
/* Parameters asked by requests, kept analysed by the watch for this long. */
#define ASKED_MAX      16
#define ASKED_KEEP_NS  NS_PER_HOUR
#define WATCH_KEEP_MAX 8
/* The job's thread runs at this nice value: the requests' threads come
 * first, an analysis (seconds of CPU on a large store) takes what is left. */
#define JOB_NICE 10

struct kept_analysis {
	uint64_t range_ns;
	size_t max_traces;
	struct advisor_result res; /* res.analyzed_ns 0: an empty slot */
};

/* A range asked with the default sample size (max_traces 0). */
struct asked {
	uint64_t range_ns, asked_ns;
};

static struct {
	pthread_mutex_t run;  /* held during a run: one at a time; guards `cache` */
	pthread_mutex_t lock; /* guards the rest, held briefly */
	struct kept_analysis kept[KEPT_ANALYSES];
	struct asked asked[ASKED_MAX];
	struct store *store;
	struct detect_cache *cache; /* of `store`, shared by every range */
} last = {.run = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER};

/* The kept analysis of these parameters, or NULL.  Under last.lock. */
static struct kept_analysis *kept_find(uint64_t range_ns, size_t max_traces)
{
	for (int i = 0; i < KEPT_ANALYSES; i++)
		if (last.kept[i].res.analyzed_ns && last.kept[i].range_ns == range_ns &&
		    last.kept[i].max_traces == max_traces)
			return &last.kept[i];
	return NULL;
}

/* The slot a new analysis of these parameters goes to.  Under last.lock. */
static struct kept_analysis *kept_slot(uint64_t range_ns, size_t max_traces)
{
	struct kept_analysis *k = kept_find(range_ns, max_traces);
	if (k)
		return k;
	k = &last.kept[0]; /* an empty slot has analyzed_ns 0: the oldest */
	for (int i = 1; i < KEPT_ANALYSES; i++)
		if (last.kept[i].res.analyzed_ns < k->res.analyzed_ns)
			k = &last.kept[i];
	return k;
}

/* ---- the stored summaries ------------------------------------------------ */

static void summary_id(char *id, size_t len, uint64_t range_ns, size_t max_traces)
{
	snprintf(id, len, "%llus-%zu", (unsigned long long)(range_ns / NS_PER_S), max_traces);
}

/* Store the summary of a run; a failure is logged, the run stands. */
static void summary_put(struct store *s, uint64_t range_ns, size_t max_traces, const struct advisor_result *r)
{
	char id[64], err[256];
	struct buf b;
	struct json_w w;
	summary_id(id, sizeof(id), range_ns, max_traces);
	buf_init(&b, BUF_NO_LIMIT);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kuint(&w, "analyzed_ns", r->analyzed_ns);
	jw_kuint(&w, "traces", r->traces);
	jw_kuint(&w, "traces_kept", r->kept_traces);
	jw_kuint(&w, "spans", r->spans);
	jw_kuint(&w, "points", r->points);
	jw_kuint(&w, "requests_in_window", r->requests_in_window);
	jw_kdouble_fmt(&w, "sample_rate", "%.17g", r->sample_rate);
	jw_kuint(&w, "findings", r->findings);
	jw_kdouble_fmt(&w, "elapsed_ms", "%.17g", r->elapsed_ms);
	jw_obj_end(&w);
	struct store_record rec = {ADVISOR_KIND_ANALYSIS, id, r->analyzed_ns, b.data};
	if (store_lease_begin(s)) {
		if (store_put_doc(s, &rec, err, sizeof(err)) < 0)
			log_warn("recommendations: the analysis summary was not stored: %s", err);
		store_lease_end(s);
	}
	buf_release(&b);
}

static uint64_t member_u64(const struct json *obj, const char *key)
{
	const struct json *m = json_get(obj, key);
	return m && m->type == JSON_NUMBER ? strtoull(m->s, NULL, 10) : 0;
}

static double member_double(const struct json *obj, const char *key)
{
	const struct json *m = json_get(obj, key);
	return m && m->type == JSON_NUMBER ? strtod(m->s, NULL) : 0;
}

/* The stored summary of these parameters: 1, or 0 when there is none. */
static int summary_get(struct store *s, uint64_t range_ns, size_t max_traces, struct advisor_result *r)
{
	char id[64], err[256];
	struct arena a;
	struct store_record *docs;
	size_t n = 0;
	struct json_doc d = {0};
	int found = 0;
	summary_id(id, sizeof(id), range_ns, max_traces);
	arena_init(&a);
	if (store_docs(s, ADVISOR_KIND_ANALYSIS, id, &a, &docs, &n, err, sizeof(err)) < 0 || !n ||
	    json_doc_parse(&d, docs[0].json, strlen(docs[0].json), 0, err, sizeof(err)) < 0 || !d.root ||
	    d.root->type != JSON_OBJECT)
		goto out;
	*r = (struct advisor_result){
		.analyzed_ns = member_u64(d.root, "analyzed_ns"),
		.traces = member_u64(d.root, "traces"),
		.kept_traces = member_u64(d.root, "traces_kept"),
		.spans = member_u64(d.root, "spans"),
		.points = member_u64(d.root, "points"),
		.requests_in_window = member_u64(d.root, "requests_in_window"),
		.sample_rate = member_double(d.root, "sample_rate"),
		.findings = (size_t)member_u64(d.root, "findings"),
		.elapsed_ms = member_double(d.root, "elapsed_ms"),
	};
	found = r->analyzed_ns != 0;
out:
	json_doc_release(&d);
	arena_release(&a);
	return found;
}

/* ---- runs ------------------------------------------------------------------ */

/* One run of the advisor for the window ending at `now`.  Under last.run. */
static int run_once(struct store *s, uint64_t range_ns, size_t max_traces, uint64_t now,
		    struct advisor_result *res, char *err, size_t errlen)
{
	struct advisor_options o;
	advisor_options_init(&o, now > range_ns ? now - range_ns : 0, now);
	if (max_traces)
		o.max_traces = max_traces;
	o.cache = last.cache;
	memset(res, 0, sizeof(*res));
	int rc = advisor_run(s, &o, res, err, errlen);
	if (rc == 0 && deadline_passed()) /* cut short by the job's limit: not a whole analysis */
		rc = deadline_error(err, errlen);
	res->analyzed_ns = now;
	return rc;
}

int advisor_refresh(struct store *s, uint64_t range_ns, size_t max_traces, uint64_t max_age_ns,
		    struct advisor_result *res, char *err, size_t errlen)
{
	int rc = 0, fresh;
	pthread_mutex_lock(&last.run);
	pthread_mutex_lock(&last.lock);
	uint64_t now = clock_now_ns();
	if (last.store != s) {
		detect_cache_free(last.cache);
		last.cache = detect_cache_new(DETECT_SEGMENT_BLOCKS * store_block_id_step(s));
		last.store = s;
		memset(last.kept, 0, sizeof(last.kept));
	}
	struct kept_analysis *k = kept_find(range_ns, max_traces);
	fresh = k && now - k->res.analyzed_ns < max_age_ns;
	if (fresh)
		*res = k->res;
	pthread_mutex_unlock(&last.lock);
	if (!fresh) {
		rc = run_once(s, range_ns, max_traces, now, res, err, errlen);
		if (rc == 0) {
			pthread_mutex_lock(&last.lock);
			k = kept_slot(range_ns, max_traces);
			*k = (struct kept_analysis){
				.range_ns = range_ns, .max_traces = max_traces, .res = *res};
			pthread_mutex_unlock(&last.lock);
			summary_put(s, range_ns, max_traces, res);
			log_info("recommendations: analysed the last %llu s: %llu traces in %.0f ms, %zu "
				 "findings",
				 (unsigned long long)(range_ns / NS_PER_S), (unsigned long long)res->traces,
				 res->elapsed_ms, res->findings);
		}
	}
	pthread_mutex_unlock(&last.run);
	return rc;
}

int advisor_last(struct store *s, uint64_t range_ns, size_t max_traces, struct advisor_result *res,
		 uint64_t *age_ns)
{
	pthread_mutex_lock(&last.lock);
	struct kept_analysis *k = last.store == s ? kept_find(range_ns, max_traces) : NULL;
	int found = k != NULL;
	if (k)
		*res = k->res;
	pthread_mutex_unlock(&last.lock);
	if (!found)
		found = summary_get(s, range_ns, max_traces, res);
	if (found) {
		uint64_t now = clock_now_ns();
		*age_ns = now > res->analyzed_ns ? now - res->analyzed_ns : 0;
	}
	return found;
}

/* ---- the job --------------------------------------------------------------- */

/* One analysis asked of the job: the asker's when it waits, else the job's to free. */
struct ask {
	struct store *store;
	uint64_t range_ns, max_age_ns;
	size_t max_traces;
	int waits, done, rc;
	struct advisor_result res;
	char err[256];
	struct ask *next;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake, done;
	pthread_t thread;
	int started, stop;
	struct ask *head, *tail;
} job = {.lock = PTHREAD_MUTEX_INITIALIZER,
	 .wake = PTHREAD_COND_INITIALIZER,
	 .done = PTHREAD_COND_INITIALIZER};

/* The next ask, or NULL once stopped.  Under job.lock. */
static struct ask *job_next(void)
{
	while (!job.head && !job.stop)
		pthread_cond_wait(&job.wake, &job.lock);
	if (job.stop)
		return NULL;
	struct ask *a = job.head;
	job.head = a->next;
	if (!job.head)
		job.tail = NULL;
	return a;
}

/* An asked analysis: a run of the job "analysis", under its time limit. */
static void run_ask(void *arg)
{
	struct ask *a = arg;
	a->rc = advisor_refresh(a->store, a->range_ns, a->max_traces, a->max_age_ns, &a->res, a->err,
				sizeof(a->err));
}

static void *job_main(void *arg)
{
	(void)arg;
	/* Linux: the nice value of a thread, by its id */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), JOB_NICE) < 0)
		log_debug("recommendations: the analysis job keeps its priority");
	pthread_mutex_lock(&job.lock);
	struct ask *a;
	while ((a = job_next())) {
		pthread_mutex_unlock(&job.lock);
		ticker_run_job("analysis", run_ask, a);
		if (a->rc < 0)
			log_warn("recommendations: analysis failed: %s", a->err);
		pthread_mutex_lock(&job.lock);
		if (a->waits) {
			a->done = 1;
			pthread_cond_broadcast(&job.done);
		} else {
			free(a);
		}
	}
	pthread_mutex_unlock(&job.lock);
	return NULL;
}

/* An ask of the same store and parameters already queued.  Under job.lock. */
static int job_queued(const struct ask *a)
{
	for (const struct ask *q = job.head; q; q = q->next)
		if (q->store == a->store && q->range_ns == a->range_ns && q->max_traces == a->max_traces &&
		    q->max_age_ns <= a->max_age_ns)
			return 1;
	return 0;
}

/* Queue `a` (an ask that waits ahead of those that do not), starting the
 * job's thread the first time.  -1 if it cannot run.  Under job.lock. */
static int job_push(struct ask *a)
{
	if (job.stop)
		return -1;
	if (!job.started) {
		if (pthread_create(&job.thread, NULL, job_main, NULL) != 0)
			return -1;
		job.started = 1;
	}
	/* a request waits for its ask: before the background's, after the other waiting ones */
	struct ask **at = &job.head;
	while (a->waits && *at && (*at)->waits)
		at = &(*at)->next;
	if (!a->waits)
		at = job.tail ? &job.tail->next : &job.head;
	a->next = *at;
	*at = a;
	if (!a->next)
		job.tail = a;
	pthread_cond_signal(&job.wake);
	return 0;
}

int advisor_ask(struct store *s, uint64_t range_ns, size_t max_traces, uint64_t max_age_ns, int wait,
		struct advisor_result *res, char *err, size_t errlen)
{
	struct ask mine = {
		.store = s, .range_ns = range_ns, .max_age_ns = max_age_ns, .max_traces = max_traces};
	struct ask *a = wait ? &mine : xmalloc(sizeof(*a));
	if (!wait)
		*a = mine;
	a->waits = wait;
	pthread_mutex_lock(&job.lock);
	if (!job.stop && !wait && job_queued(a)) { /* that one will do */
		pthread_mutex_unlock(&job.lock);
		free(a);
		return 0;
	}
	if (job_push(a) < 0) {
		pthread_mutex_unlock(&job.lock);
		if (!wait)
			free(a);
		errf(err, errlen, "the analysis job is stopped");
		return ERR_BUSY;
	}
	/* every queued ask is done in the end: run, or failed by job_stop() */
	while (wait && !a->done)
		pthread_cond_wait(&job.done, &job.lock);
	pthread_mutex_unlock(&job.lock);
	if (!wait)
		return 0;
	if (a->rc == 0)
		*res = a->res;
	else
		errf(err, errlen, "%s", a->err);
	return a->rc;
}

/* Note that a request asked for this range (the watch keeps it analysed). */
static void note_asked(uint64_t range_ns, uint64_t now)
{
	pthread_mutex_lock(&last.lock);
	struct asked *slot = &last.asked[0];
	for (int i = 0; i < ASKED_MAX; i++) {
		struct asked *q = &last.asked[i];
		if (q->range_ns == range_ns) {
			slot = q;
			break;
		}
		if (q->asked_ns < slot->asked_ns)
			slot = q; /* else the least recently asked */
	}
	*slot = (struct asked){.range_ns = range_ns, .asked_ns = now};
	pthread_mutex_unlock(&last.lock);
}

int advisor_current(struct store *s, uint64_t range_ns, size_t max_traces, uint64_t max_age_ns, int refresh,
		    struct advisor_current *cur, char *err, size_t errlen)
{
	struct advisor_result unused;
	memset(cur, 0, sizeof(*cur));
	if (!max_traces) /* a sample size of its own is a one-off: not kept current */
		note_asked(range_ns, clock_now_ns());
	if (!refresh && advisor_last(s, range_ns, max_traces, &cur->res, &cur->age_ns)) {
		/* stopped (shutting down): the last analysis stands */
		if (cur->age_ns >= max_age_ns)
			cur->refreshing = advisor_ask(s, range_ns, max_traces, max_age_ns, 0, &unused, err,
						      errlen) == 0;
		return 0;
	}
	int rc = advisor_ask(s, range_ns, max_traces, refresh ? 0 : max_age_ns, 1, &cur->res, err, errlen);
	if (rc == 0) {
		uint64_t now = clock_now_ns();
		cur->age_ns = now > cur->res.analyzed_ns ? now - cur->res.analyzed_ns : 0;
	}
	return rc;
}

/* Stop the job: the run in progress ends first; asks still queued, and
 * asks until the next advisor_watch_start(), fail (so that nothing runs on
 * a store being closed). */
static void job_stop(void)
{
	pthread_mutex_lock(&job.lock);
	int started = job.started;
	job.stop = 1;
	for (struct ask *a = job.head, *next; a; a = next) {
		next = a->next;
		if (a->waits) {
			a->rc = ERR_BUSY;
			snprintf(a->err, sizeof(a->err), "the analysis job is stopped");
			a->done = 1;
		} else {
			free(a);
		}
	}
	job.head = job.tail = NULL;
	pthread_cond_broadcast(&job.wake);
	pthread_cond_broadcast(&job.done);
	pthread_mutex_unlock(&job.lock);
	if (started)
		pthread_join(job.thread, NULL);
	pthread_mutex_lock(&job.lock);
	job.started = 0; /* stopped until advisor_watch_start(): asks get ERR_BUSY */
	pthread_mutex_unlock(&job.lock);
}

/* ---- the watch --------------------------------------------------------------- */

static struct ticker watch = TICKER_INIT;
static struct store *watch_store;
static uint64_t watch_range_ns, watch_max_age_ns;
/* the dashboard's ranges (web/lib/state.js RANGES), its default first */
static uint64_t watch_keep[WATCH_KEEP_MAX] = {
	24 * NS_PER_HOUR, NS_PER_HOUR, 6 * NS_PER_HOUR, 15 * NS_PER_MIN, 7 * NS_PER_DAY, 30 * NS_PER_DAY,
};
static size_t n_watch_keep = 6;

void advisor_watch_keep(const uint64_t *ranges_ns, size_t n)
{
	n_watch_keep = n < WATCH_KEEP_MAX ? n : WATCH_KEEP_MAX;
	if (n_watch_keep)
		memcpy(watch_keep, ranges_ns, n_watch_keep * sizeof(*ranges_ns));
}

/* Ask the job for every analysis the watch keeps (see advisor.h): the
 * watch's tick (`arg` unused). */
static void ask_kept(void *arg)
{
	(void)arg;
	struct advisor_result unused;
	struct asked asked[ASKED_MAX];
	char err[256];
	uint64_t now = clock_now_ns();
	if (!store_lease_begin(watch_store))
		return; /* another instance on the same store runs it */
	for (size_t i = 0; i < n_watch_keep; i++)
		advisor_ask(watch_store, watch_keep[i], 0, watch_max_age_ns, 0, &unused, err, sizeof(err));
	advisor_ask(watch_store, watch_range_ns, 0, watch_max_age_ns, 0, &unused, err, sizeof(err));
	pthread_mutex_lock(&last.lock);
	memcpy(asked, last.asked, sizeof(asked));
	pthread_mutex_unlock(&last.lock);
	for (int i = 0; i < ASKED_MAX; i++)
		if (asked[i].asked_ns && now - asked[i].asked_ns < ASKED_KEEP_NS)
			advisor_ask(watch_store, asked[i].range_ns, 0, watch_max_age_ns, 0, &unused, err,
				    sizeof(err));
	store_lease_end(watch_store);
}

/* Forget what was kept of a store before: a store opened anew may have the
 * address of one closed (its stored summaries stand). */
static void forget_kept(void)
{
	pthread_mutex_lock(&last.run);
	pthread_mutex_lock(&last.lock);
	detect_cache_free(last.cache);
	last.cache = NULL;
	last.store = NULL;
	memset(last.kept, 0, sizeof(last.kept));
	memset(last.asked, 0, sizeof(last.asked));
	pthread_mutex_unlock(&last.lock);
	pthread_mutex_unlock(&last.run);
}

int advisor_watch_start(struct store *s, unsigned interval_s, uint64_t range_ns, char *err, size_t errlen)
{
	forget_kept();
	pthread_mutex_lock(&job.lock);
	job.stop = 0; /* asks run again after a stop */
	pthread_mutex_unlock(&job.lock);
	watch_store = s;
	watch_range_ns = range_ns ? range_ns : ADVISOR_DEFAULT_RANGE;
	interval_s = interval_s ? interval_s : 300;
	watch_max_age_ns = (uint64_t)interval_s * NS_PER_S / 2;
	if (ticker_start_job(&watch, "analysis", interval_s, ask_kept, NULL, err, errlen) < 0)
		return -1;
	ask_kept(NULL); /* the first analyses now, not after an interval */
	return 0;
}

void advisor_watch_stop(void)
{
	ticker_stop(&watch);
	job_stop();
}
