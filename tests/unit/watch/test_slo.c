/*
 * test_slo.c - error budgets, burn rates and the multiwindow alerts of
 * src/watch/slo.c against figures computed by hand, and what counts as a
 * good request in a rollup row.
 */
#include <math.h>
#include <string.h>

#include "tap.h"
#include "watch/slo.h"

#define near(got, want, ...)                                                                                 \
	do {                                                                                                 \
		double g_ = (got), w_ = (want);                                                              \
		if (!ok(fabs(g_ - w_) <= 1e-9 * (fabs(w_) + 1), __VA_ARGS__))                                \
			printf("#   got %.12g, want %.12g\n", g_, w_);                                       \
	} while (0)

static void budgets(void)
{
	struct slo_budget b;
	/* 99.9 % of 1,000,000: 1,000 bad requests allowed; 1,000 spent. */
	struct slo_counts c = {999000, 1000000};
	slo_budget_of(c, 99.9, &b);
	near(b.total, 1000, "99.9%% of 1e6 budgets 1000 bad requests");
	is_int(b.consumed, 1000, "1000 bad requests consumed");
	near(b.remaining, 0, "nothing remains");
	near(slo_burn_rate(c, 99.9), 1.0, "spending exactly the budget burns at 1x");
	near(slo_exhaustion_s(&b, 1.0, 30 * 86400), 0, "a spent budget is exhausted now");

	/* 99 % of 10,000 with 50 bad: budget 100, half left, burn 0.5. */
	c = (struct slo_counts){9950, 10000};
	slo_budget_of(c, 99, &b);
	near(b.total, 100, "99%% of 10000 budgets 100");
	is_int(b.consumed, 50, "50 consumed");
	near(b.remaining, 50, "50 remain");
	near(b.remaining_ratio, 0.5, "half the budget remains");
	near(b.compliance, 99.5, "compliance 99.5%%");
	near(slo_burn_rate(c, 99), 0.5, "0.5%% bad against 1%% allowed burns at 0.5x");
	/* Half of a 30-day budget at 2x lasts 0.5 * 30 d / 2 = 7.5 d. */
	near(slo_exhaustion_s(&b, 2.0, 30 * 86400), 648000, "half a 30-day budget at 2x lasts 7.5 days");
	near(slo_exhaustion_s(&b, 0, 30 * 86400), -1, "no burn: never exhausted");

	/* Overspent: 300 bad of a 100 budget. */
	c = (struct slo_counts){9700, 10000};
	slo_budget_of(c, 99, &b);
	near(b.remaining, -200, "overspent by 200");
	near(b.remaining_ratio, -2, "remaining ratio -2");
	near(slo_burn_rate(c, 99), 3, "3%% bad against 1%% burns at 3x");

	c = (struct slo_counts){0, 0};
	slo_budget_of(c, 99.5, &b);
	near(b.compliance, 100, "no requests: compliant");
	near(b.remaining_ratio, 1, "no requests: the whole budget remains");
	near(slo_burn_rate(c, 99.5), 0, "no requests: no burn");
	/* 99.5 %: 0.5 % allowed; 10 bad of 100 is 10 % = 20x. */
	near(slo_burn_rate((struct slo_counts){90, 100}, 99.5), 20, "10%% bad against 0.5%% is 20x");
}

static struct slo_burn burn(double m5, double m30, double h1, double h6, double d3)
{
	struct slo_burn b = {{m5, m30, h1, h6, d3}};
	return b;
}

static void windows(void)
{
	is_int(slo_burn_windows_s[0], 300, "5 min window");
	is_int(slo_burn_windows_s[4], 3 * 86400, "3 d window");
	const struct slo_alert_window *fast = &slo_alert_windows[0], *slow = &slo_alert_windows[1],
				      *ticket = &slo_alert_windows[2];
	struct slo_burn b = burn(15, 0, 15, 0, 0);
	ok(slo_alert_holds(fast, &b), "14.4x page: 15x over 1 h and 5 min");
	ok(!slo_alert_holds(slow, &b), "6x page: not without 6 h and 30 min");
	b = burn(15, 0, 14, 0, 0);
	ok(!slo_alert_holds(fast, &b), "14.4x page: 14x over 1 h is below");
	b = burn(1, 0, 20, 0, 0);
	ok(!slo_alert_holds(fast, &b), "14.4x page: a quiet last 5 min resets it");
	b = burn(0, 7, 0, 6.5, 0);
	ok(slo_alert_holds(slow, &b), "6x page: 7x over 30 min and 6.5x over 6 h");
	b = burn(0, 7, 0, 6.0, 0);
	ok(!slo_alert_holds(slow, &b), "6x page: exactly 6x is not above");
	b = burn(0, 0, 0, 1.5, 1.2);
	ok(slo_alert_holds(ticket, &b), "ticket: 1.2x over 3 d and 1.5x over 6 h");
	b = burn(0, 0, 0, 1.5, 1.0);
	ok(!slo_alert_holds(ticket, &b), "ticket: exactly 1x over 3 d is not above");
	is_str(ticket->severity, "ticket", "the 3 d alert is a ticket");
	is_str(fast->severity, "page", "the 1 h alert pages");
}

static void counting(void)
{
	struct slo s = {.kind = SLO_LATENCY, .objective = 95, .threshold_ms = 500};
	struct rollup_row r = {.count = 18, .status = REQUEST_OK, .tiers = {3, 4, 5, 6}};
	struct slo_counts c = {0, 0};
	slo_count_row(&s, &r, &c);
	is_int(c.good, 7, "under 500 ms: fast + normal");
	is_int(c.total, 18, "every request counts in the total");
	s.threshold_ms = 100;
	c = (struct slo_counts){0, 0};
	slo_count_row(&s, &r, &c);
	is_int(c.good, 3, "under 100 ms: fast");
	s.threshold_ms = 2000;
	c = (struct slo_counts){0, 0};
	slo_count_row(&s, &r, &c);
	is_int(c.good, 12, "under 2 s: all but critical");
	s.kind = SLO_AVAILABILITY;
	c = (struct slo_counts){0, 0};
	slo_count_row(&s, &r, &c);
	r.status = REQUEST_ERROR;
	slo_count_row(&s, &r, &c);
	is_int(c.good, 18, "availability: only OK rows are good");
	is_int(c.total, 36, "availability: errors count in the total");
	is_int(slo_window_end(1700000000123456789ull), 1700000040000000000ull,
	       "windows end at the next minute");
}

static int parse(const char *text, struct slo *s, struct arena *a, char *err)
{
	struct json_doc d;
	int rc = json_doc_parse(&d, text, strlen(text), 0, err, 256);
	if (rc == 0)
		rc = slo_parse(d.root, NULL, a, s, err, 256);
	json_doc_release(&d);
	return rc;
}

static void definitions(void)
{
	struct arena a;
	struct slo s;
	char err[256];
	struct buf b;
	arena_init(&a);
	buf_init(&b, BUF_NO_LIMIT);
	int rc = parse(
		"{\"id\":\"co\",\"kind\":\"latency\",\"objective\":95,\"threshold_ms\":500,\"window\":\"7d\","
		"\"filters\":{\"service\":\"checkout\"},\"channels\":[\"ops\"]}",
		&s, &a, err);
	is_int(rc, 0, "a latency SLO parses");
	is_int(s.window_days, 7, "its window");
	is_str(s.scope.service, "checkout", "its filter");
	slo_write(&b, &s);
	buf_putc(&b, '\0');
	is_str(b.data,
	       "{\"id\":\"co\",\"name\":\"co\",\"kind\":\"latency\",\"objective\":95,\"threshold_ms\":500,"
	       "\"window\":\"7d\",\"filters\":{\"service\":\"checkout\"},\"channels\":[\"ops\"]}",
	       "written back");
	rc = parse("{\"kind\":\"latency\",\"objective\":95,\"threshold_ms\":300}", &s, &a, err);
	ok(rc == 0 && s.threshold_ms == 300 && slo_is_exact(&s), "300 ms is counted from the request rows");
	rc = parse("{\"kind\":\"latency\",\"objective\":95,\"threshold_ms\":500}", &s, &a, err);
	ok(rc == 0 && !slo_is_exact(&s), "500 ms is a tier bound: the rollups count it");
	rc = parse("{\"kind\":\"latency\",\"objective\":95,\"threshold_ms\":750,\"repeat\":\"1h\"}", &s, &a,
		   err);
	ok(rc == 0 && s.repeat_s == 3600, "an SLO's page reminds every hour");
	rc = parse("{\"kind\":\"latency\",\"objective\":95,\"threshold_ms\":0}", &s, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "threshold_ms"), "0 ms is no threshold: %s", err);
	rc = parse("{\"kind\":\"latency\",\"objective\":95,\"threshold_ms\":3600001}", &s, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "threshold_ms"), "more than an hour is no threshold: %s", err);
	rc = parse("{\"kind\":\"availability\",\"objective\":100}", &s, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "objective"), "100%% is no objective: %s", err);
	rc = parse("{\"kind\":\"availability\",\"objective\":99,\"window\":\"14d\"}", &s, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "window"), "14d is no window: %s", err);
	rc = parse("{\"kind\":\"availability\",\"objective\":99,\"filters\":{\"host\":\"x\"}}", &s, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "host"), "unknown filter named: %s", err);
	buf_release(&b);
	arena_release(&a);
}

int main(void)
{
	budgets();
	windows();
	counting();
	definitions();
	return tap_done();
}
