/*
 * test_alerts.c - the alert state machine of src/watch/alerts.c (pending,
 * firing, resolved, the same incident within the grouping window, `for`
 * both ways, acknowledgement and silences) and rule definitions of
 * src/watch/rule.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rule_text.h"
#include "tap.h"
#include "watch/exact.h"
#include "watch/notify.h"
#include "watch/alerts.h"
#include "watch/rule.h"

#define S(x) ((uint64_t)(x)*1000000000ull)

static void immediate(void)
{
	struct alert a = {.id = "a"};
	uint64_t t = S(1000);
	is_int(alert_step(&a, 0, t, 0, S(300)), STEP_NONE, "quiet: nothing");
	is_int(alert_step(&a, 1, t, 0, S(300)), STEP_FIRE, "for 0: fires at once");
	is_int(a.state, ALERT_FIRING, "firing");
	ok(alert_may_page(&a, t), "a new incident may page");
	a.pages = 1;
	is_int(alert_step(&a, 1, t + S(30), 0, S(300)), STEP_NONE, "still holding: nothing new");
	ok(!alert_may_page(&a, t + S(30)), "an incident that paged pages no more");
	is_int(alert_step(&a, 0, t + S(60), 0, S(300)), STEP_RESOLVE, "stops holding: resolves");
	is_int(a.state, ALERT_RESOLVED, "resolved");
	is_int(alert_step(&a, 1, t + S(120), 0, S(300)), STEP_CHANGED,
	       "holds again within 5 min: same incident");
	is_int(a.state, ALERT_FIRING, "firing again");
	is_int(a.pages, 1, "without a second page");
	alert_step(&a, 0, t + S(180), 0, S(300));
	is_int(alert_step(&a, 1, t + S(180 + 301), 0, S(300)), STEP_FIRE,
	       "after the grouping window: a new incident");
	is_int(a.pages, 0, "which may page");
}

static void with_for(void)
{
	struct alert a = {.id = "b"};
	uint64_t t = S(5000), f = S(120);
	is_int(alert_step(&a, 1, t, f, 0), STEP_CHANGED, "holds: pending");
	is_int(a.state, ALERT_PENDING, "pending");
	is_int(alert_step(&a, 1, t + S(60), f, 0), STEP_NONE, "60 s of 120: still pending");
	is_int(alert_step(&a, 0, t + S(90), f, 0), STEP_CHANGED, "a blip ends it");
	is_int(a.state, ALERT_INACTIVE, "inactive: no flapping alert");
	alert_step(&a, 1, t + S(100), f, 0);
	is_int(alert_step(&a, 1, t + S(220), f, 0), STEP_FIRE, "held 120 s: fires");
	is_int(alert_step(&a, 0, t + S(230), f, 0), STEP_CHANGED, "stops holding: not resolved yet");
	is_int(a.state, ALERT_FIRING, "still firing");
	is_int(alert_step(&a, 1, t + S(240), f, 0), STEP_CHANGED, "holds again: the clearing restarts");
	alert_step(&a, 0, t + S(250), f, 0);
	is_int(alert_step(&a, 0, t + S(300), f, 0), STEP_NONE, "50 s clear of 120");
	is_int(alert_step(&a, 0, t + S(370), f, 0), STEP_RESOLVE, "120 s clear: resolved");
}

static void quiet(void)
{
	struct alert a = {.id = "c", .state = ALERT_FIRING, .acked_ns = S(1)};
	ok(!alert_may_page(&a, S(2)), "acknowledged: no page");
	a.acked_ns = 0;
	a.silenced_until_ns = S(100);
	ok(!alert_may_page(&a, S(99)), "silenced: no page");
	ok(alert_may_page(&a, S(100)), "the silence is over");
}

static void rules(void)
{
	struct arena a;
	struct alert_rule r;
	char err[256];
	arena_init(&a);
	int rc = rule_from_text(
		"{\"id\":\"p95\",\"measure\":\"p95\",\"threshold\":500,\"for\":\"2m\",\"window\":\"10m\","
		"\"severity\":\"critical\",\"filters\":{\"department\":\"payments\"}}",
		&r, &a, err);
	is_int(rc, 0, "a p95 rule parses: %s", err);
	is_int(r.for_s, 120, "for 2m");
	is_int(r.window_s, 600, "window 10m");
	is_int(r.cmp, CMP_GT, "> by default");
	is_str(r.severity, "critical", "severity");
	is_str(r.scope.department, "payments", "scoped to a department");
	rc = rule_from_text("{\"measure\":\"slow_count\",\"factor\":3}", &r, &a, err);
	ok(rc == 0 && r.factor == 3 && r.baseline_s == 3600, "N x baseline: %s", err);
	rc = rule_from_text("{\"measure\":\"p95\"}", &r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "threshold"), "no threshold, no factor: %s", err);
	rc = rule_from_text("{\"measure\":\"metric\",\"threshold\":1}", &r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "\"metric\""), "a metric rule without its metric: %s", err);
	rc = rule_from_text("{\"measure\":\"p99\",\"threshold\":1,\"for\":\"2w\"}", &r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "for"), "a bad duration named: %s", err);
	rc = rule_from_text("{\"measure\":\"p99\",\"threshold\":1,\"comparison\":\"!=\"}", &r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "comparison"), "a bad comparison named: %s", err);
	for (int m = 0; m < RULE_MEASURES; m++) {
		char text[128];
		snprintf(text, sizeof(text), "{\"measure\":\"%s\",\"threshold\":1}", rule_measure_names[m]);
		rc = rule_from_text(text, &r, &a, err);
		if (m == RULE_METRIC)
			ok(rc == ERR_INVALID, "measure %s needs its \"metric\"", rule_measure_names[m]);
		else
			ok(rc == 0 && r.measure == (enum rule_measure)m, "measure %s reads back: %s",
			   rule_measure_names[m], rc ? err : "");
	}
	ok(rule_compare(CMP_GT, 2, 1) && !rule_compare(CMP_GT, 1, 1) && rule_compare(CMP_GTE, 1, 1) &&
		   rule_compare(CMP_LT, 0, 1) && rule_compare(CMP_LTE, 1, 1) && !rule_compare(CMP_GT, NAN, 1),
	   "comparisons; no value never holds");
	arena_release(&a);
}

/* slow_ms and repeat of a rule; reminders of a firing alert. */
static void slow_and_repeat(void)
{
	struct arena a;
	struct alert_rule r;
	char err[256];
	arena_init(&a);
	int rc = rule_from_text("{\"measure\":\"slow_count\",\"threshold\":1}", &r, &a, err);
	ok(rc == 0 && r.slow_ms == 500 && !rule_is_exact(&r) && !r.repeat_s,
	   "slow_count: 500 ms, read from tiers");
	rc = rule_from_text("{\"measure\":\"slow_share\",\"threshold\":5,\"slow_ms\":300,\"repeat\":\"30m\"}",
			    &r, &a, err);
	ok(rc == 0 && r.slow_ms == 300 && rule_is_exact(&r) && r.repeat_s == 1800,
	   "slow_share over 300 ms, counted exactly; repeat 30m: %s", rc ? err : "");
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	rule_write(&b, &r);
	ok(strstr(b.data, "\"slow_ms\":300") && strstr(b.data, "\"repeat\":1800"), "written back: %s",
	   b.data);
	buf_release(&b);
	rc = rule_from_text("{\"measure\":\"slow_count\",\"threshold\":1,\"slow_ms\":2000}", &r, &a, err);
	ok(rc == 0 && !rule_is_exact(&r), "2000 ms is a tier bound");
	rc = rule_from_text("{\"measure\":\"p95\",\"threshold\":1,\"slow_ms\":300}", &r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "slow_ms"), "slow_ms of p95: %s", err);
	rc = rule_from_text("{\"measure\":\"slow_count\",\"threshold\":1,\"slow_ms\":0}", &r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "slow_ms"), "slow_ms 0: %s", err);
	rc = rule_from_text("{\"measure\":\"p95\",\"threshold\":1,\"repeat\":\"8d\"}", &r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "repeat"), "repeat past 7 days: %s", err);

	uint64_t t = 1000 * S(1);
	struct alert al = {.id = "rule:x", .repeat_ns = S(600)};
	alert_step(&al, 1, t, 0, S(300));
	al.pages = 1;
	al.paged_ns = t;
	ok(!alert_may_remind(&al, t + S(599)), "no reminder before repeat");
	ok(alert_may_remind(&al, t + S(600)), "a reminder after repeat");
	al.silenced_until_ns = t + S(3600);
	ok(!alert_may_remind(&al, t + S(600)), "none while silenced");
	al.silenced_until_ns = 0;
	al.acked_ns = t + S(10);
	ok(!alert_may_remind(&al, t + S(1200)), "none once acknowledged");
	al.acked_ns = 0;
	al.repeat_ns = 0;
	ok(!alert_may_remind(&al, t + S(1200)), "none without repeat");
	arena_release(&a);
}

/* A channel's rate limit; the outbox's and the exact counts' documents. */
static void channels_and_kept(void)
{
	struct arena a;
	struct json_doc d;
	struct notify_channel c;
	char err[256];
	const char *text = "{\"id\":\"ops\",\"url\":\"https://hooks.example/x\",\"rate_limit\":10,"
			   "\"rate_window\":30}";
	arena_init(&a);
	int rc = json_doc_parse(&d, text, strlen(text), 0, err, sizeof(err));
	rc = rc ? rc : channel_parse(d.root, NULL, NULL, &a, &c, err, sizeof(err));
	json_doc_release(&d);
	ok(rc == 0 && c.rate_limit == 10 && c.rate_window_s == 30, "rate limit 10 per 30 s: %s",
	   rc ? err : "");
	text = "{\"url\":\"https://hooks.example/x\",\"rate_limit\":0}";
	rc = json_doc_parse(&d, text, strlen(text), 0, err, sizeof(err));
	rc = rc ? rc : channel_parse(d.root, NULL, NULL, &a, &c, err, sizeof(err));
	json_doc_release(&d);
	ok(rc == ERR_INVALID && strstr(err, "rate_limit"), "rate limit 0: %s", err);

	struct notify_kept k;
	text = "{\"channel\":\"ops\",\"alert_id\":\"rule:x\",\"event\":\"firing\",\"time_ms\":5,"
	       "\"body\":\"{\\\"event\\\":\\\"firing\\\"}\"}";
	rc = notify_outbox_parse(text, strlen(text), &a, &k);
	ok(rc == 0 && !strcmp(k.channel, "ops") && !strcmp(k.body, "{\"event\":\"firing\"}") &&
		   k.time_ns == 5000000,
	   "a kept message reads back");
	ok(notify_outbox_parse("{\"channel\":\"ops\"}", 16, &a, &k) < 0, "no body: not a kept message");
	uint64_t hour_ms;
	uint32_t good[60], total[60];
	text = "{\"hour_ms\":3600000,\"m\":[[0,1,2],[59,3,3],[60,1,1],[5,4,2]]}";
	rc = exact_hour_parse(text, strlen(text), &hour_ms, good, total);
	ok(rc == 0 && hour_ms == 3600000 && good[0] == 1 && total[0] == 2 && total[59] == 3 && !total[5],
	   "an hour of exact counts; minute 60 and more good than total left out");
	arena_release(&a);
}

int main(void)
{
	channels_and_kept();
	immediate();
	with_for();
	quiet();
	rules();
	slow_and_repeat();
	return tap_done();
}
