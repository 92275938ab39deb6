/*
 * test_changes.c - what change over time reads from a real store: a
 * version's first appearance is a deployment only after a week without
 * it, recorded deployments hide the detected one, request and failure
 * counts from the rollups, failures grouped by type, and a sample of
 * durations that covers the whole range.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "query/changes.h"
#include "query/regressions.h"
#include "resource_fixture.h"
#include "tap.h"
#include "temp_store.h"

#define T0     1763978400000000000ull /* a whole hour */
#define DAY_NS (86400 * NS_PER_S)

static uint32_t next_trace;

/* `n` requests of service@version in env from t, one a second, `ms` long;
 * every `fail_every`-th (0: none) fails with error.type `type`. */
static int write_requests(struct store *s, const char *service, const char *version, const char *env,
			  uint64_t t, int n, double ms, int fail_every, const char *type)
{
	struct batch b;
	batch_init(&b);
	struct resource *r = make_version_resource(&b, service, env, version);
	for (int i = 0; i < n; i++) {
		struct span *sp = batch_add_span(&b);
		next_trace++;
		sp->trace_id[0] = 0xd7;
		memcpy(sp->trace_id + 8, &next_trace, sizeof(next_trace));
		sp->span_id[7] = 1;
		sp->name = "GET /x";
		sp->kind = SPAN_KIND_SERVER;
		sp->start_ns = t + (uint64_t)i * NS_PER_S;
		sp->end_ns = sp->start_ns + (uint64_t)(ms * 1e6);
		sp->resource = r;
		if (fail_every && i % fail_every == 0) {
			sp->status = SPAN_STATUS_ERROR;
			sp->attrs = arena_zalloc(&b.arena, sizeof(struct attr));
			sp->attrs[0] = (struct attr){.key = "error.type", .type = ATTR_STRING, .v.s = type};
			sp->n_attrs = 1;
		}
	}
	int rc = store_write_sync(s, &b);
	batch_release(&b);
	return rc;
}

static const struct changes_first_seen *find(const struct changes_first_seen *f, size_t n,
					     const char *version)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(f[i].version, version))
			return &f[i];
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/hotpath-test-changes-XXXXXX", err[256];
	struct store *s = temp_store_make(dir);
	if (!s) {
		ok(0, "store");
		return tap_done();
	}
	uint64_t now = T0 + 10 * DAY_NS;
	/* 1.0.0 ran three days ago and runs now; 1.1.0 is new (staging first,
	 * then production); 0.9.0 ran eight days before the range only */
	int rc = write_requests(s, "shop", "0.9.0", "production", now - 2 * 3600 * NS_PER_S - 8 * DAY_NS, 10,
				50, 0, NULL) |
		 write_requests(s, "shop", "1.0.0", "production", now - 3 * DAY_NS, 100, 50, 0, NULL) |
		 write_requests(s, "shop", "1.0.0", "production", now - 3600 * NS_PER_S, 600, 50, 10,
				"DbError") |
		 write_requests(s, "shop", "1.1.0", "staging", now - 50 * 60 * NS_PER_S, 60, 60, 0, NULL) |
		 write_requests(s, "shop", "1.1.0", "production", now - 30 * 60 * NS_PER_S, 600, 60, 20,
				"QuotaExceeded");
	ok(rc == 0, "requests written");

	struct arena a;
	arena_init(&a);
	struct store_query q;
	store_query_init(&q);
	q.from_ns = now - 2 * 3600 * NS_PER_S;
	q.to_ns = now;
	struct changes_first_seen *fs;
	size_t n;
	ok(changes_deployments(s, &q, REGRESSIONS_LOOKBACK_NS, &a, &fs, &n, err, sizeof(err)) == 0,
	   "deployments: %s", err);
	is_int(n, 2, "1.1.0 in staging and in production; not 1.0.0, which ran three days ago");
	const struct changes_first_seen *prod = NULL;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(fs[i].env, "production"))
			prod = &fs[i];
	ok(prod && !strcmp(prod->version, "1.1.0") && prod->t_ns == now - 30 * 60 * NS_PER_S,
	   "production's 1.1.0 at its first minute");
	ok(!find(fs, n, "0.9.0"), "0.9.0, before the range only, is no deployment in it");

	/* a week of lookback only: 1.0.0 three days back is seen, 0.9.0 eight days back is not */
	q.from_ns = now - 3600 * NS_PER_S - 60 * NS_PER_S;
	changes_deployments(s, &q, REGRESSIONS_LOOKBACK_NS, &a, &fs, &n, err, sizeof(err));
	ok(!find(fs, n, "1.0.0"), "1.0.0 seen within the week before: not deployed again");

	/* recorded deployments hide the detected ones */
	struct store_record ev = {
		.kind = REGRESSIONS_DEPLOY_KIND,
		.id = "shop",
		.time_ns = now - 31 * 60 * NS_PER_S,
		.json = "{\"service\":\"shop\",\"version\":\"1.1.0\",\"env\":\"production\","
			"\"commit\":\"c0ffee\",\"source\":\"api\"}"};
	ok(store_add_event(s, &ev, err, sizeof(err)) == 0, "a deployment recorded");
	struct deployment *d;
	q.from_ns = now - 2 * 3600 * NS_PER_S;
	ok(regressions_deployments(s, &q, &a, &d, &n, err, sizeof(err)) == 0, "deployments, both kinds");
	is_int(n, 2, "the recorded one and staging's detected one");
	ok(n == 2 && !strcmp(d[0].source, "api") && d[0].commit && !strcmp(d[0].commit, "c0ffee") &&
		   !strcmp(d[1].source, "detected") && !strcmp(d[1].env, "staging"),
	   "newest first: production's as recorded (with its commit), then staging's as detected");
	ok(regressions_deployment_near(d, n, "shop", now - 29 * 60 * NS_PER_S, 60 * NS_PER_S) == &d[0],
	   "a change two minutes after production's deployment is that deployment's");
	ok(regressions_deployment_near(d, n, "shop", now - 20 * 60 * NS_PER_S, 60 * NS_PER_S) == NULL,
	   "one eleven minutes after it, on a minute grid, is no deployment's");

	/* counts and failure groups over the last hour */
	uint64_t total, failed;
	q.from_ns = now - 3600 * NS_PER_S;
	q.env = "production";
	ok(changes_counts(s, &q, &total, &failed, err, sizeof(err)) == 0, "counts");
	is_int(total, 1200, "1,200 production requests in the hour");
	is_int(failed, 60 + 30, "every 10th of 1.0.0's and every 20th of 1.1.0's failed");
	struct changes_error_group *g;
	ok(changes_error_groups(s, &q, &a, &g, &n, err, sizeof(err)) == 0, "error groups");
	ok(n == 2 && !strcmp(g[0].error_type, "DbError") && g[0].count == 60 &&
		   !strcmp(g[1].error_type, "QuotaExceeded") && g[1].count == 30 &&
		   g[1].status == REQUEST_ERROR,
	   "by type, most first");

	/* a sample of durations spread over the range */
	double *ms;
	q.version = "1.0.0";
	ok(changes_durations(s, &q, 100, &a, &ms, &n, err, sizeof(err)) == 0, "durations");
	is_int(n, 100, "at most the limit");
	ok(n && fabs(ms[0] - 50) < 1e-6, "in milliseconds (%g)", n ? ms[0] : NAN);

	arena_release(&a);
	store_close(s);
	ok(temp_dir_remove(dir) == 0, "temp dir removed");
	return tap_done();
}
