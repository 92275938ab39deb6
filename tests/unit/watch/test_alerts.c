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

int main(void)
{
	immediate();
	with_for();
	quiet();
	rules();
	return tap_done();
}
