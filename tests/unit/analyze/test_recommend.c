/*
 * test_recommend.c - the words of findings over short windows: a count and
 * its window, never "1479 calls in 0.0 h" nor an hourly rate extrapolated
 * from a few minutes; over long windows the rates per hour.
 */
#include <string.h>

#include "analyze/recommend.h"
#include "tap.h"

static struct finding cacheable(double window_s, uint64_t calls)
{
	struct finding f;
	memset(&f, 0, sizeof(f));
	f.kind = FINDING_CACHEABLE;
	f.service = "statement-api";
	f.endpoint = "GET /statements";
	f.detail = "SELECT * FROM statement_lines WHERE statement_id = ?";
	f.occurrences = calls;
	f.window_s = window_s;
	f.per_hour = window_s > 0 ? (double)calls * 3600 / window_s : 0;
	f.avg_ns = 4e6;
	f.saving_ns = 3e6;
	f.saving_pct = 20;
	f.affected_latency_ns = 15e6;
	f.saved_s_per_hour = f.per_hour * 3e-3;
	f.rate = 0.9;
	return f;
}

static void test_short_window(void)
{
	struct arena a;
	struct recommendation r;
	arena_init(&a);
	struct finding f = cacheable(150, 1479);
	recommend_build(&a, &f, &r);
	ok(!strstr(r.evidence, "0.0 h"), "no window rounded to nothing: \"%s\"", r.evidence);
	ok(!strstr(r.evidence, "/hour") && !strstr(r.evidence, "an hour"), "no hourly rate from 2.5 min");
	ok(strstr(r.evidence, "1479 requests in 2.5 min") != NULL, "the count and its window");
	ok(!strstr(r.gain, "per hour"), "no hourly saving: \"%s\"", r.gain);
	ok(strstr(r.gain, "over the 2.5 min analysed") != NULL, "the saving over the window");

	f.kind = FINDING_TIMEOUTS;
	f.detail = "api.example.com";
	f.subject_requests = 2000;
	recommend_build(&a, &f, &r);
	ok(!strstr(r.evidence, "an hour") && strstr(r.evidence, "1479 timeouts in 2.5 min"),
	   "timeouts: the count in the window: \"%s\"", r.evidence);

	f = cacheable(20, 3);
	recommend_build(&a, &f, &r);
	ok(strstr(r.evidence, "3 requests in 20 s") != NULL, "seconds: \"%s\"", r.evidence);
	arena_release(&a);
}

static void test_long_window(void)
{
	struct arena a;
	struct recommendation r;
	arena_init(&a);
	struct finding f = cacheable(3 * 3600, 1170);
	recommend_build(&a, &f, &r);
	ok(strstr(r.evidence, "390 requests/hour") != NULL, "an hourly rate over three hours: \"%s\"",
	   r.evidence);
	ok(strstr(r.evidence, "1170 calls in 3.0 h") != NULL, "and the count in the window");
	ok(strstr(r.gain, "s of request time saved per hour") != NULL, "an hourly saving: \"%s\"", r.gain);
	f = cacheable(RECOMMEND_RATE_MIN_WINDOW_S, 100);
	recommend_build(&a, &f, &r);
	ok(strstr(r.evidence, "600 requests/hour") && strstr(r.evidence, "in 10 min"),
	   "from the minimum window on: \"%s\"", r.evidence);
	arena_release(&a);
}

static void test_fmt_window(void)
{
	char out[32];
	recommend_fmt_window(out, sizeof(out), 0);
	is_str(out, "0 s", "nothing");
	recommend_fmt_window(out, sizeof(out), 45);
	is_str(out, "45 s", "seconds");
	recommend_fmt_window(out, sizeof(out), 150);
	is_str(out, "2.5 min", "minutes");
	recommend_fmt_window(out, sizeof(out), 1500);
	is_str(out, "25 min", "whole minutes");
	recommend_fmt_window(out, sizeof(out), 10800);
	is_str(out, "3.0 h", "hours");
}

int main(void)
{
	test_short_window();
	test_long_window();
	test_fmt_window();
	return tap_done();
}
