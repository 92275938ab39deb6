/*
 * test_rule_metric.c - alert rules on metric series (src/watch/rule.c) on a
 * real store, against values worked out by hand: a gauge of two services
 * and a resource measure (process memory), each a point every 30 s for
 * ten minutes; the value over the window (one step: the aggregate of the
 * whole window), the worst group when grouped, a measure's max and
 * percentiles over its one-minute values, N x the baseline, the series
 * step by step; and the 400 answers that name the field at fault.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "rule_text.h"
#include "tap.h"
#include "temp_store.h"
#include "watch/rule.h"

#define T0  1763978400000000000ull /* a whole hour */
#define MIB 1048576.0

/*
 * Point k (k = 0 .. 19) at T0 + 30 k s: queue.depth is k for "api" and
 * 2 k for "web"; api's process.memory.usage is (k + 1) MiB.
 */
static int fill(struct store *st)
{
	struct batch b;
	batch_init(&b);
	struct resource *api = arena_zalloc(&b.arena, sizeof(*api));
	struct resource *web = arena_zalloc(&b.arena, sizeof(*web));
	api->service_name = "api";
	web->service_name = "web";
	struct {
		struct resource *r;
		const char *name;
		double scale, add;
	} series[] = {{api, "queue.depth", 1, 0},
		      {web, "queue.depth", 2, 0},
		      {api, "process.memory.usage", MIB, 1}};
	for (size_t s = 0; s < 3; s++)
		for (int k = 0; k < 20; k++) {
			struct metric_point *p = batch_add_point(&b);
			memset(p, 0, sizeof(*p));
			p->resource = series[s].r;
			p->name = series[s].name;
			p->unit = s == 2 ? "By" : "1";
			p->type = METRIC_GAUGE;
			p->time_ns = T0 + (uint64_t)k * 30 * NS_PER_S;
			p->value = (k + series[s].add) * series[s].scale;
		}
	int rc = store_write_sync(st, &b);
	batch_release(&b);
	return rc;
}

/* The verdict at the end of the ten minutes (the window: the last five). */
static struct rule_verdict verdict(struct store *st, const char *text)
{
	struct arena a;
	struct alert_rule r;
	struct rule_verdict v = {.value = NAN};
	char err[256];
	arena_init(&a);
	if (rule_from_text(text, &r, &a, err) < 0 ||
	    rule_evaluate(st, NULL, &r, T0 + 599 * NS_PER_S, &v, err, sizeof(err)) < 0)
		printf("# %s: %s\n", text, err);
	arena_release(&a);
	return v;
}

#define GAUGE(agg, extra)                                                                                    \
	"{\"measure\":\"metric\",\"metric\":{\"name\":\"queue.depth\",\"agg\":\"" agg "\"" extra "}"
#define MEMORY(agg) "{\"measure\":\"metric\",\"metric\":{\"measure\":\"memory\",\"agg\":\"" agg "\"}"

static void values(struct store *st)
{
	/* the window: points k = 10 .. 19 */
	struct rule_verdict v =
		verdict(st, GAUGE("avg", "") ",\"threshold\":14,\"filters\":{\"service\":\"api\"}}");
	is_num(v.value, 14.5, "api's mean over the window: (10 + ... + 19) / 10");
	ok(v.holds && v.requests == 10, "14.5 > 14 holds, over 10 points (%llu)",
	   (unsigned long long)v.requests);
	v = verdict(st, GAUGE("max", "") ",\"threshold\":19,\"filters\":{\"service\":\"api\"}}");
	is_num(v.value, 19, "its max");
	ok(!v.holds, "19 > 19 does not hold");
	v = verdict(st, GAUGE("p95", "") ",\"threshold\":1,\"filters\":{\"service\":\"api\"}}");
	is_num(v.value, 18.55, "its p95: rank 0.95 x 9 = 8.55, between 18 and 19");
	v = verdict(st, GAUGE("avg", ",\"group_by\":\"service\"") ",\"threshold\":20}");
	is_num(v.value, 29, "grouped by service, > takes the worst: web's mean 2 x 14.5");
	ok(v.holds, "and holds");
	v = verdict(st, GAUGE("avg", ",\"group_by\":\"service\"") ",\"comparison\":\"<\",\"threshold\":20}");
	is_num(v.value, 14.5, "grouped, < takes the lowest: api's");
	ok(v.holds, "14.5 < 20 holds");
	v = verdict(st, GAUGE("avg", "") ",\"factor\":3,\"baseline\":300,\"filters\":{\"service\":\"api\"}}");
	/* the baseline: k = 0 .. 9, mean 4.5 */
	is_num(v.limit, 13.5, "3 x the baseline's mean 4.5");
	ok(v.holds, "14.5 > 13.5 holds");
	v = verdict(st, GAUGE("avg", "") ",\"threshold\":0,\"filters\":{\"service\":\"nobody\"}}");
	ok(isnan(v.value) && !v.holds && v.requests == 0, "another service: no value, no verdict");

	/* memory: (k + 1) MiB; minute j of the window holds k = 10 + 2j, 11 + 2j */
	v = verdict(st, MEMORY("avg") ",\"threshold\":0}");
	is_num(v.value, 15.5 * MIB, "the memory measure's mean over the window: 15.5 MiB");
	v = verdict(st, MEMORY("max") ",\"threshold\":0}");
	is_num(v.value, 19.5 * MIB, "its max over the one-minute values 11.5 .. 19.5 MiB");
	v = verdict(st, MEMORY("min") ",\"threshold\":0}");
	is_num(v.value, 11.5 * MIB, "its min");
	v = verdict(st, MEMORY("p50") ",\"threshold\":0}");
	is_num(v.value, 15.5 * MIB, "its median one-minute value");
}

static void series(struct store *st)
{
	struct arena a;
	struct alert_rule r;
	char err[256];
	double *v;
	size_t n;
	arena_init(&a);
	rule_from_text(MEMORY("max") ",\"threshold\":0}", &r, &a, err);
	int rc = rule_series(st, &r, T0, T0 + 600 * NS_PER_S, 300, &a, &v, &n, err, sizeof(err));
	ok(rc == 0 && n == 2, "a series of two 5-minute steps: %s", rc ? err : "");
	if (n == 2) {
		is_num(v[0], 9.5 * MIB, "the first step's highest minute: (8 + 9) / 2 + 1 MiB");
		is_num(v[1], 19.5 * MIB, "the second's");
	}
	rule_from_text(GAUGE("avg", ",\"group_by\":\"service\"") ",\"threshold\":0}", &r, &a, err);
	rc = rule_series(st, &r, T0, T0 + 600 * NS_PER_S, 60, &a, &v, &n, err, sizeof(err));
	ok(rc == 0 && n == 10, "ten one-minute steps");
	if (n == 10)
		is_num(v[3], 13, "minute 3: web's points 12 and 14, the worst group");
	rc = rule_series(st, &r, T0 + 600 * NS_PER_S, T0 + 720 * NS_PER_S, 60, &a, &v, &n, err, sizeof(err));
	ok(rc == 0 && n == 2 && isnan(v[0]) && isnan(v[1]), "after the points: no values");
	arena_release(&a);
}

static void errors(void)
{
	struct arena a;
	struct alert_rule r;
	struct buf b;
	char err[256];
	arena_init(&a);
	int rc = rule_from_text("{\"measure\":\"metric\",\"threshold\":1}", &r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "\"metric\""), "no metric object: %s", err);
	rc = rule_from_text(
		"{\"measure\":\"metric\",\"metric\":{\"name\":\"x\",\"measure\":\"cpu\"},\"threshold\":1}",
		&r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "one of them"), "a name and a measure: %s", err);
	rc = rule_from_text("{\"measure\":\"metric\",\"metric\":{\"measure\":\"disk\"},\"threshold\":1}", &r,
			    &a, err);
	ok(rc == ERR_INVALID && strstr(err, "metric.measure"), "an unknown measure named: %s", err);
	rc = rule_from_text(
		"{\"measure\":\"metric\",\"metric\":{\"name\":\"x\",\"agg\":\"median\"},\"threshold\":1}", &r,
		&a, err);
	ok(rc == ERR_INVALID && strstr(err, "metric.agg"), "an unknown agg named: %s", err);
	rc = rule_from_text(
		"{\"measure\":\"metric\",\"metric\":{\"measure\":\"cpu\",\"agg\":\"rate\"},\"threshold\":1}",
		&r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "metric.agg"), "no rate of a measure: %s", err);
	rc = rule_from_text("{\"measure\":\"metric\",\"metric\":{\"name\":7},\"threshold\":1}", &r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "\"name\""), "a name that is not a string: %s", err);
	rc = rule_from_text("{\"measure\":\"metric\",\"metric\":{\"measure\":\"cpu\"},\"threshold\":1,"
			    "\"filters\":{\"endpoint\":\"GET /\"}}",
			    &r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "filters"), "an endpoint filter refused: %s", err);
	rc = rule_from_text("{\"measure\":\"regressions\",\"threshold\":0,\"filters\":{\"env\":\"prod\"}}",
			    &r, &a, err);
	ok(rc == ERR_INVALID && strstr(err, "regressions"), "regressions take only a service: %s", err);
	rc = rule_from_text(
		"{\"measure\":\"metric\",\"metric\":{\"measure\":\"pool_used\",\"agg\":\"p95\",\"group_by\":"
		"\"pool\"},\"threshold\":8,\"filters\":{\"service\":\"api\",\"env\":\"prod\"}}",
		&r, &a, err);
	ok(rc == 0 && r.metric.measure == MEASURE_POOL_USED && r.metric.agg == METRICS_QUANTILE &&
		   tap_near(r.metric.quantile, 0.95),
	   "a pool rule parses: %s", rc ? err : "");
	buf_init(&b, BUF_NO_LIMIT);
	rule_write(&b, &r);
	ok(strstr(b.data, "\"metric\":{\"measure\":\"pool_used\",\"agg\":\"p95\",\"group_by\":\"pool\"}") !=
		   NULL,
	   "and writes back: %s", b.data);
	struct alert_rule again;
	ok(rule_from_text(b.data, &again, &a, err) == 0 && again.metric.measure == MEASURE_POOL_USED &&
		   !strcmp(again.metric.group_by, "pool") && !strcmp(again.scope.env, "prod"),
	   "what it writes reads back");
	buf_release(&b);
	arena_release(&a);
}

int main(void)
{
	char dir[] = "/tmp/hotpath-test-rule-metric-XXXXXX";
	errors();
	struct store *st = temp_store_make(dir);
	if (!st) {
		ok(0, "store");
		return tap_done();
	}
	ok(fill(st) == 0, "ten minutes of points written");
	values(st);
	series(st);
	store_close(st);
	ok(temp_dir_remove(dir) == 0, "temp dir removed");
	return tap_done();
}
