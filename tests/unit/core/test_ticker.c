/*
 * test_ticker.c - background jobs under their time limit: a run that
 * passes it is counted, its store reads stop, its writes are refused (it
 * stores nothing), and the next run goes as usual; a job without a name
 * has no limit.
 */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/deadline.h"
#include "core/error.h"
#include "core/ticker.h"
#include "store/store.h"
#include "tap.h"
#include "temp_store.h"

struct run {
	struct store *store;
	_Atomic int slow; /* this run takes longer than the limit */
	_Atomic int runs, put_rc, read_rc, done;
	char id[16];
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* A job that reads, thinks (slowly when asked), reads again and writes. */
static void job(void *arg)
{
	struct run *r = arg;
	struct arena a;
	struct store_record *rows, rec = {"job.result", r->id, 1, "{\"whole\":true}"};
	size_t n;
	char err[256];
	arena_init(&a);
	store_docs(r->store, "job.result", NULL, &a, &rows, &n, err, sizeof(err));
	if (atomic_load(&r->slow))
		sleep_ms(60);
	atomic_store(&r->read_rc, store_docs(r->store, "job.result", NULL, &a, &rows, &n, err, sizeof(err)));
	atomic_store(&r->put_rc, store_put_doc(r->store, &rec, err, sizeof(err)));
	arena_release(&a);
	atomic_fetch_add(&r->runs, 1);
	atomic_store(&r->done, 1);
}

static int wait_run(struct run *r)
{
	for (int i = 0; i < 400 && !atomic_load(&r->done); i++)
		sleep_ms(10);
	return atomic_exchange(&r->done, 0);
}

static size_t stored(struct store *s, const char *id)
{
	struct arena a;
	struct store_record *rows;
	size_t n = 0;
	char err[256];
	arena_init(&a);
	store_docs(s, "job.result", id, &a, &rows, &n, err, sizeof(err));
	arena_release(&a);
	return n;
}

static uint64_t timeouts_of(const char *name)
{
	const char *names[TICKER_JOBS_MAX];
	uint64_t n[TICKER_JOBS_MAX];
	size_t jobs = ticker_job_timeouts(names, n, TICKER_JOBS_MAX);
	for (size_t i = 0; i < jobs; i++)
		if (!strcmp(names[i], name))
			return n[i];
	return UINT64_MAX;
}

int main(void)
{
	char dir[] = "/tmp/hotpath-ticker-XXXXXX", err[256];
	struct store *st = temp_store_make(dir);
	if (!st)
		return 1;
	ticker_set_job_limit(20); /* ms */
	struct run r = {.store = st};
	struct ticker t = TICKER_INIT;
	atomic_store(&r.slow, 1);
	snprintf(r.id, sizeof(r.id), "slow");
	ok(ticker_start_job(&t, "test_job", 1, job, &r, err, sizeof(err)) == 0, "a named job starts");
	is_int((long)timeouts_of("test_job"), 0, "it is listed, with no timeout yet");
	ok(wait_run(&r), "its first run");
	is_int(atomic_load(&r.read_rc), ERR_TIMEOUT, "a read past the limit stops with ERR_TIMEOUT");
	is_int(atomic_load(&r.put_rc), ERR_TIMEOUT, "and the write after it is refused");
	sleep_ms(50); /* the ticker counts the run after the job returns */
	is_int((long)timeouts_of("test_job"), 1, "the run is counted as timed out");
	is_int((long)stored(st, "slow"), 0, "nothing of it was stored");

	snprintf(r.id, sizeof(r.id), "fast");
	atomic_store(&r.slow, 0);
	ok(wait_run(&r), "the next run");
	is_int(atomic_load(&r.put_rc), 0, "runs as usual and writes");
	is_int((long)stored(st, "fast"), 1, "its result is stored");
	sleep_ms(50);
	is_int((long)timeouts_of("test_job"), 1, "no new timeout");
	ticker_stop(&t);

	/* an unnamed ticker has no limit */
	struct ticker u = TICKER_INIT;
	snprintf(r.id, sizeof(r.id), "unnamed");
	atomic_store(&r.slow, 1);
	ok(ticker_start(&u, 1, job, &r, err, sizeof(err)) == 0, "an unnamed ticker starts");
	ok(wait_run(&r), "its slow run");
	ok(atomic_load(&r.read_rc) == 0 && atomic_load(&r.put_rc) == 0, "reads and writes without a limit");
	is_int((long)stored(st, "unnamed"), 1, "its result is stored");
	ticker_stop(&u);

	/* a run asked from elsewhere (an analysis through the API) counts as the job's */
	snprintf(r.id, sizeof(r.id), "asked");
	atomic_store(&r.slow, 1);
	ticker_run_job("test_job", job, &r);
	is_int(atomic_load(&r.put_rc), ERR_TIMEOUT, "an asked run past the limit writes nothing");
	is_int((long)timeouts_of("test_job"), 2, "and is counted with the job's runs");
	is_int((long)stored(st, "asked"), 0, "nothing of it was stored");

	/* the message names the job and the setting */
	struct deadline d;
	deadline_enter_named(&d, 1, "the background job x", "--job-timeout");
	sleep_ms(2);
	deadline_error(err, sizeof(err));
	deadline_leave();
	ok(strstr(err, "the background job x took longer") && strstr(err, "(--job-timeout)"),
	   "the message names the job and the setting: %s", err);
	store_close(st);
	temp_dir_remove(dir);
	return tap_done();
}
