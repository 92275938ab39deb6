/*
 * test_change_watch.c - the background watch over change, on a real store:
 * a service moves from 1.0.0 to a 40 % slower 1.1.0; one pass records the
 * detected deployments as events and flags the p95 regression with the
 * deployment that brought it (document, audit entry); the alert rule
 * measure "regressions" counts those flags, of all services or of one, and
 * the default rule "regression" fires on them; a second pass
 * adds nothing; a regression dismissed as a false positive stays
 * dismissed; a steady service is never flagged; a canary (two versions
 * side by side, the newer 40 % slower) is flagged as a version's
 * regression, which no change point shows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "advisor/change_watch.h"
#include "core/clock.h"
#include "resource_fixture.h"
#include "tap.h"
#include "../watch/rule_text.h"
#include "temp_store.h"
#include "watch/watch.h"

#define T0 1763978400000000000ull /* a whole hour */

/* `per_min` requests a minute for minutes [from, to) of T0, ~ms each. */
static int write_minutes(struct store *s, const char *service, const char *version, int from, int to,
			 int per_min, double ms)
{
	static uint32_t trace;
	struct batch b;
	batch_init(&b);
	struct resource *r = make_version_resource(&b, service, "production", version);
	for (int m = from; m < to; m++)
		for (int i = 0; i < per_min; i++) {
			struct span *sp = batch_add_span(&b);
			trace++;
			sp->trace_id[0] = 0xc4;
			memcpy(sp->trace_id + 8, &trace, sizeof(trace));
			sp->span_id[7] = 1;
			sp->name = "GET /items";
			sp->kind = SPAN_KIND_SERVER;
			sp->start_ns =
				T0 + (uint64_t)m * 60 * NS_PER_S + (uint64_t)i * (60 * NS_PER_S / per_min);
			/* a spread of ±10 % that repeats every 10 requests */
			sp->end_ns = sp->start_ns + (uint64_t)(ms * (0.9 + 0.02 * (i % 10)) * 1e6);
			sp->resource = r;
		}
	int rc = store_write_sync(s, &b);
	batch_release(&b);
	return rc;
}

/* A rule's verdict at t (the window ends at the last whole minute). */
static double rule_at(struct store *s, const char *text, uint64_t t, int *holds)
{
	struct arena a;
	struct alert_rule r;
	struct rule_verdict v = {0};
	char err[256];
	arena_init(&a);
	v.value = NAN;
	if (rule_from_text(text, &r, &a, err) < 0 || rule_evaluate(s, NULL, &r, t, &v, err, sizeof(err)) < 0)
		printf("# rule %s: %s\n", text, err);
	arena_release(&a);
	*holds = v.holds;
	return v.value;
}

/* The default rule "regression" and the measure over flags written by a pass at `now`. */
static void regression_rule(struct store *s, uint64_t now)
{
	char err[256];
	int holds;
	struct watch_options o;
	struct watch_report rep;
	uint64_t later = now + 60 * NS_PER_S; /* the flags' minute is whole */
	is_int(rule_at(s, "{\"measure\":\"regressions\",\"threshold\":0}", later, &holds), 4,
	       "the regressions measure counts the four flags of the window");
	ok(holds, "and the rule holds");
	is_int(rule_at(s, "{\"measure\":\"regressions\",\"threshold\":0,\"filters\":{\"service\":\"shop\"}}",
		       later, &holds),
	       2, "two of them the shop's");
	is_int(rule_at(s,
		       "{\"measure\":\"regressions\",\"threshold\":0,\"filters\":{\"service\":\"steady\"}}",
		       later, &holds),
	       0, "none the steady service's");
	ok(!holds, "whose rule does not hold");
	is_int(rule_at(s, "{\"measure\":\"regressions\",\"threshold\":0}", now + 20 * 60 * NS_PER_S, &holds),
	       0, "20 minutes on, the window holds none");
	watch_options_init(&o);
	ok(watch_install_defaults(s, err, sizeof(err)) == 0, "defaults installed: %s", err);
	ok(watch_cycle(s, &o, later, &rep, err, sizeof(err)) == 0, "a cycle of the alert rules: %s", err);
	struct arena a;
	struct alert *al;
	size_t n;
	int firing = 0;
	arena_init(&a);
	alerts_load(s, &a, &al, &n, err, sizeof(err));
	for (size_t i = 0; i < n; i++)
		firing += !strcmp(al[i].id, "rule:regression") && al[i].state == ALERT_FIRING;
	is_int(firing, 1, "the default rule \"regression\" fires");
	arena_release(&a);
}

int main(void)
{
	char dir[] = "/tmp/hotpath-test-change-watch-XXXXXX", err[256];
	struct store *s = temp_store_make(dir);
	if (!s) {
		ok(0, "store");
		return tap_done();
	}
	int rc = write_minutes(s, "shop", "1.0.0", 0, 60, 30, 100) |
		 write_minutes(s, "shop", "1.1.0", 60, 120, 30, 140) |
		 write_minutes(s, "steady", "7.0.0", 0, 120, 30, 50) |
		 write_minutes(s, "canary", "3.0.0", 0, 120, 10, 80) |
		 write_minutes(s, "canary", "3.1.0", 0, 120, 10, 112);
	ok(rc == 0, "two hours of requests written");
	uint64_t now = T0 + 121 * 60 * NS_PER_S;
	struct change_watch_result res;
	ok(change_watch_run(s, now, 3 * 3600 * NS_PER_S, &res, err, sizeof(err)) == 0, "a pass runs: %s",
	   err);
	is_int(res.deployments, 5, "five first appearances recorded (shop's two, steady's, canary's two)");
	is_int(res.flagged, 4,
	       "flagged: the shop's p95 change and the canary's version, each for the service and its "
	       "endpoint");

	struct arena a;
	struct store_record *docs, *ev;
	size_t n_docs, n_ev;
	arena_init(&a);
	store_docs(s, REGRESSIONS_FLAG_KIND, NULL, &a, &docs, &n_docs, err, sizeof(err));
	is_int(n_docs, 4, "four regression documents");
	int shop_doc = 0, canary_doc = 0;
	for (size_t i = 0; i < n_docs; i++) {
		const char *j = docs[i].json;
		shop_doc += !strncmp(docs[i].id, "shop|", 5) && strstr(j, "\"source\":\"auto\"") &&
			    strstr(j, "\"version\":\"1.1.0\"") && strstr(j, "\"rel_change\":");
		canary_doc += !strncmp(docs[i].id, "canary|", 7) && strstr(j, "\"kind\":\"version\"") &&
			      strstr(j, "\"candidate\":\"3.1.0\"") && strstr(j, "\"baseline\":\"3.0.0\"");
	}
	is_int(shop_doc, 2, "the shop's, with their evidence and the deployment that brought them");
	is_int(canary_doc, 2, "the canary's as versions, candidate and baseline named");
	store_events(s, REGRESSIONS_AUDIT_KIND, NULL, 0, 0, 0, &a, &ev, &n_ev, err, sizeof(err));
	is_int(n_ev, 4, "and four audit entries");
	ok(n_ev && strstr(ev[0].json, "\"action\":\"auto_flag\""), "auto_flag");
	store_events(s, REGRESSIONS_DEPLOY_KIND, "shop", 0, 0, 0, &a, &ev, &n_ev, err, sizeof(err));
	is_int(n_ev, 2, "the shop's deployments are events now");
	regression_rule(s, now);

	ok(change_watch_run(s, now + 60 * NS_PER_S, 3 * 3600 * NS_PER_S, &res, err, sizeof(err)) == 0,
	   "a second pass a minute later");
	ok(res.deployments == 0 && res.flagged == 0, "adds nothing (%zu deployments, %zu flags)",
	   res.deployments, res.flagged);

	/* dismissed: the document stays, so the next pass leaves it alone */
	store_docs(s, REGRESSIONS_FLAG_KIND, NULL, &a, &docs, &n_docs, err, sizeof(err));
	const char *id = arena_strdup(&a, docs[0].id);
	struct store_record d = {
		.kind = REGRESSIONS_FLAG_KIND, .id = id, .time_ns = now, .json = "{\"state\":\"dismissed\"}"};
	store_put_doc(s, &d, err, sizeof(err));
	change_watch_run(s, now + 120 * NS_PER_S, 3 * 3600 * NS_PER_S, &res, err, sizeof(err));
	is_int(res.flagged, 0, "a dismissed regression is not flagged again");
	store_docs(s, REGRESSIONS_FLAG_KIND, id, &a, &docs, &n_docs, err, sizeof(err));
	ok(n_docs == 1 && strstr(docs[0].json, "dismissed"), "and stays dismissed");

	arena_release(&a);
	store_close(s);
	ok(temp_dir_remove(dir) == 0, "temp dir removed");
	return tap_done();
}
