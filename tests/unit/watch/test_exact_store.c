/*
 * test_exact_store.c - exact counts for latency thresholds that are not
 * tier bounds (300 and 750 ms) against a real store: the first refresh
 * back-fills from the request rows, later ones count requests that arrive
 * after it (new ones, and late ones that started hours before), the counts
 * survive a restart (kept in the store's documents) and equal a count over
 * the requests themselves, to the request; SLOs and slow-count rules read
 * them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../query/store_fixture.h"
#include "store/store.h"
#include "tap.h"
#include "watch/exact.h"
#include "watch/rule.h"
#include "watch/slo.h"
#include "watch/snapshot.h"
#include "watch/watch.h"

#define HOUR (60 * MIN)
#define SEC  (1000 * MS)
/* "now": 13 s into a minute, hours after the first requests */
#define NOW	(T0 / HOUR * HOUR + 5 * HOUR + 17 * MIN + 13 * SEC)
#define MAX_REQ 2000

static const uint64_t durations_ms[] = {50, 299, 300, 301, 749, 750, 751, 1000, 120};

struct req {
	uint64_t start, ms;
	const char *service;
};
static struct req reqs[MAX_REQ];
static int n_reqs;

/* Write `n` requests starting at `from`, `gap` apart. */
static int write_reqs(struct store *s, uint64_t from, uint64_t gap, int n)
{
	struct batch b;
	batch_init(&b);
	struct resource *res[2] = {make_resource(&b, "pay", NULL), make_resource(&b, "shop", NULL)};
	for (int i = 0; i < n && n_reqs < MAX_REQ; i++, n_reqs++) {
		int k = n_reqs;
		reqs[k] = (struct req){from + (uint64_t)i * gap, durations_ms[k % 9], k % 4 ? "pay" : "shop"};
		struct span *sp = batch_add_span(&b);
		memset(sp->trace_id, 0, 16);
		sp->trace_id[0] = (uint8_t)(k >> 8);
		sp->trace_id[1] = (uint8_t)k;
		sp->trace_id[15] = 0x77;
		sp->span_id[0] = 2;
		sp->span_id[1] = (uint8_t)k;
		sp->span_id[2] = (uint8_t)(k >> 8);
		sp->name = "GET /cart";
		sp->kind = SPAN_KIND_SERVER;
		sp->start_ns = reqs[k].start;
		sp->end_ns = reqs[k].start + reqs[k].ms * MS;
		sp->status = SPAN_STATUS_OK;
		sp->resource = res[k % 4 ? 0 : 1];
	}
	int rc = store_write_sync(s, &b);
	batch_release(&b);
	return rc;
}

static struct slo_counts brute(const struct watch_scope *sc, uint64_t th, uint64_t from, uint64_t to)
{
	struct slo_counts c = {0, 0};
	for (int i = 0; i < n_reqs; i++) {
		if (reqs[i].start < from || reqs[i].start >= to ||
		    (sc->service && strcmp(sc->service, reqs[i].service)))
			continue;
		c.total++;
		c.good += reqs[i].ms < th;
	}
	return c;
}

static const struct watch_scope scopes[] = {{0}, {.service = "pay"}, {.service = "shop"}};
static const uint64_t thresholds[] = {300, 750};

/* Every scope and threshold over windows of 5 min to 30 d ending at the
 * minute after `now` (only up to `longest` seconds). */
static void check(uint64_t now, uint64_t longest, const char *when)
{
	static const uint64_t win_s[] = {300, 3600, 3 * 3600, 6 * 3600, 30 * 86400};
	uint64_t end = slo_window_end(now);
	int same = 1, n = 0;
	for (size_t k = 0; k < 3; k++)
		for (size_t t = 0; t < 2; t++)
			for (size_t w = 0; w < 5 && win_s[w] <= longest; w++) {
				struct slo_counts got,
					want = brute(&scopes[k], thresholds[t], end - win_s[w] * SEC, end);
				uint64_t since;
				int rc = exact_counts(&scopes[k], thresholds[t], end - win_s[w] * SEC, end,
						      &got, &since);
				n++;
				if (rc == 0 && got.good == want.good && got.total == want.total)
					continue;
				same = 0;
				printf("# %s %s < %llu ms over %llu s: %llu of %llu, want %llu of %llu\n",
				       when, scopes[k].service ? scopes[k].service : "fleet",
				       (unsigned long long)thresholds[t], (unsigned long long)win_s[w],
				       (unsigned long long)got.good, (unsigned long long)got.total,
				       (unsigned long long)want.good, (unsigned long long)want.total);
			}
	ok(same, "%s: %d counts (3 scopes x 2 thresholds x windows) equal the requests'", when, n);
}

/* Refresh every objective, the recent minutes' totals from a snapshot of
 * the rollups (as the evaluator does) or read for each (`with_snapshot` 0). */
static void refresh_all(struct store *s, uint64_t now, const char *when, int with_snapshot)
{
	char err[256];
	struct slo_snapshot snap, *sn = NULL;
	int rc = with_snapshot ? slo_snapshot_take(&snap, s, now, err, sizeof(err)) : 0;
	if (with_snapshot)
		sn = &snap;
	for (size_t k = 0; k < 3 && rc == 0; k++)
		for (size_t t = 0; t < 2 && rc == 0; t++)
			rc = exact_refresh(s, &scopes[k], thresholds[t], now, sn, err, sizeof(err));
	if (sn)
		slo_snapshot_release(sn);
	ok(rc == 0, "%s: refreshed%s%s%s", when, with_snapshot ? " (with a snapshot)" : "", rc ? ": " : "",
	   rc ? err : "");
}

/* An SLO of 300 ms and a slow-count rule of 750 ms read the counts. */
static void readers(struct store *s, uint64_t now)
{
	struct slo slo = {
		.id = "cart", .kind = SLO_LATENCY, .objective = 95, .threshold_ms = 300, .window_days = 7};
	struct slo_status st;
	char err[256];
	uint64_t end = slo_window_end(now);
	struct slo_counts want = brute(&slo.scope, 300, end - 7 * 86400 * SEC, end);
	int rc = watch_slo_status(s, &slo, now, &st, err, sizeof(err));
	ok(rc == 0 && st.exact && st.exact_since_ns && st.window.good == want.good &&
		   st.window.total == want.total,
	   "SLO < 300 ms: %llu good of %llu, want %llu of %llu", (unsigned long long)st.window.good,
	   (unsigned long long)st.window.total, (unsigned long long)want.good,
	   (unsigned long long)want.total);
	struct alert_rule r = {
		.measure = RULE_SLOW_COUNT, .slow_ms = 750, .window_s = 3600, .scope = {.service = "pay"}};
	double v;
	uint64_t n;
	want = brute(&r.scope, 750, end - HOUR, end);
	rc = rule_value(s, NULL, &r, end - HOUR, end, &v, &n, err, sizeof(err));
	ok(rc == 0 && rule_is_exact(&r) && v == (double)(want.total - want.good) && n == want.total,
	   "slow_count >= 750 ms of pay over 1 h: %g of %llu, want %llu of %llu", v, (unsigned long long)n,
	   (unsigned long long)(want.total - want.good), (unsigned long long)want.total);
	r.measure = RULE_SLOW_SHARE;
	rc = rule_value(s, NULL, &r, end - HOUR, end, &v, &n, err, sizeof(err));
	ok(rc == 0 && fabs(v - 100.0 * (double)(want.total - want.good) / (double)want.total) < 1e-9,
	   "slow_share >= 750 ms: %g %%", v);
}

/* The store at `dir` again, with request rows kept one day (the data is
 * years old): back once retention deleted every one of them, or NULL. */
static struct store *reopen_without_rows(const char *dir)
{
	struct store *s;
	struct store_options o = {.dir = dir};
	struct store_query q;
	char err[256];
	uint64_t n = 1;
	o.retention.keep_ns[KEPT_REQUESTS] = NS_PER_DAY;
	o.retention.interval_ms = 50;
	if (store_open(&s, &o, err, sizeof(err)) < 0) {
		printf("# store_open: %s\n", err);
		return NULL;
	}
	store_query_init(&q);
	for (int i = 0; i < 400 && n; i++) {
		if (store_count(s, &q, &n, err, sizeof(err)) < 0)
			break;
		if (n)
			usleep(25000);
	}
	ok(n == 0, "retention deleted every request row (%llu left)", (unsigned long long)n);
	return s;
}

int main(void)
{
	char dir[] = "/tmp/hotpath-exact-XXXXXX";
	char err[256];
	struct store *s = temp_store_make(dir);
	ok(s != NULL, "a store");
	if (!s)
		return tap_done();
	/* 3 h of requests before now, one every 17 s */
	ok(write_reqs(s, NOW - 3 * HOUR, 17 * SEC, 630) == 0, "630 requests written");
	refresh_all(s, NOW, "back-fill", 0);
	check(NOW, 30 * 86400, "back-fill");
	uint64_t since, first = NOW - 3 * HOUR;
	struct slo_counts c;
	exact_counts(&scopes[0], 300, 0, 0, &c, &since);
	ok(since && since <= first, "exact since %llu min before the first request",
	   (unsigned long long)((first - since) / MIN));

	/* arriving after: new requests, and late ones that started 2 h and 9 h ago */
	uint64_t now2 = NOW + 2 * MIN;
	ok(write_reqs(s, NOW + 10 * SEC, 3 * SEC, 40) == 0 && write_reqs(s, NOW - 2 * HOUR, 1 * SEC, 25) == 0,
	   "65 more requests, 25 of them late");
	int late9 = n_reqs;
	ok(write_reqs(s, NOW - 9 * HOUR, 2 * SEC, 9) == 0, "9 requests 9 h late");
	refresh_all(s, now2, "incremental", 1);
	check(now2, 6 * 3600, "incremental (windows to 6 h)");
	struct slo_counts all = brute(&scopes[0], 300, 0, UINT64_MAX);
	exact_counts(&scopes[0], 300, 0, slo_window_end(now2), &c, &since);
	ok(c.total == all.total - 9,
	   "past 6 h, the 9 h-late requests wait for the hours' check: %llu of %llu",
	   (unsigned long long)c.total, (unsigned long long)all.total);
	(void)late9;

	/* a restart: the counts come back from the store; the hours are checked */
	exact_forget();
	uint64_t n0;
	ok(exact_counts(&scopes[0], 300, 0, UINT64_MAX, &c, &n0) < 0, "forgotten: nothing in memory");
	refresh_all(s, now2 + MIN, "after a restart", 1);
	check(now2 + MIN, 30 * 86400, "after a restart");
	uint64_t since2;
	exact_counts(&scopes[0], 300, 0, 0, &c, &since2);
	ok(since2 == since, "exact since kept: %llu", (unsigned long long)since2);
	readers(s, now2 + MIN);

	/* one not refreshed for an hour is let go; the others stay */
	ok(exact_refresh(s, &scopes[1], 300, now2 + 2 * MIN, NULL, err, sizeof(err)) == 0 &&
		   exact_prune(now2 + MIN + HOUR + 30 * SEC, HOUR) == 5 &&
		   exact_counts(&scopes[1], 300, 0, UINT64_MAX, &c, &since2) == 0 &&
		   exact_counts(&scopes[0], 300, 0, UINT64_MAX, &c, &since2) < 0,
	   "pruned: the 5 objectives idle for an hour; kept: the one refreshed");

	/* two days on: the minutes held move on, the counts stay */
	refresh_all(s, now2 + 2 * 1440 * MIN, "two days on", 0);
	check(now2 + 2 * 1440 * MIN, 30 * 86400, "two days on");
	(void)err;
	store_close(s);
	s = reopen_without_rows(dir);
	if (s) {
		/* the counts outlive the request rows they were made of */
		exact_forget();
		refresh_all(s, now2 + 2 * 1440 * MIN, "request rows gone", 1);
		check(now2 + 2 * 1440 * MIN, 30 * 86400, "request rows gone");
		/* a new objective can only count what is still there: nothing */
		struct slo_counts fresh;
		uint64_t fresh_since, last = NOW + 10 * SEC + 39 * 3 * SEC;
		int rc = exact_refresh(s, &scopes[0], 400, now2 + 2 * 1440 * MIN, NULL, err, sizeof(err));
		exact_counts(&scopes[0], 400, 0, UINT64_MAX, &fresh, &fresh_since);
		ok(rc == 0 && fresh.total == 0 && fresh_since > last,
		   "a threshold new after the rows went: exact since %llu min after the last request, %llu "
		   "counted",
		   (unsigned long long)((fresh_since - last) / MIN), (unsigned long long)fresh.total);
		store_close(s);
	}
	exact_forget();
	temp_dir_remove(dir);
	return tap_done();
}
