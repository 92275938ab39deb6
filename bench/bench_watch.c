/*
 * bench_watch.c - one evaluation cycle of many alert rules and SLOs over a
 * large store, for `make bench`.
 *
 * Puts RULES alert rules and SLOS SLOs into the store at DIR (scoped by
 * the services and endpoints found there, measures and kinds in turn; a
 * quarter of the SLOs at latency thresholds that are not tier bounds, 300
 * and 750 ms, counted exactly from the request rows), then times one first
 * watch_cycle() (it back-fills those counts), then watch_cycle() (median
 * of RUNS), and the same cycle with only the SLOs and with only the rules.  The server must not be running on
 * DIR.
 *
 *   bench_watch --data DIR [--rules 1000] [--slos 100] [--runs 5] [--exact 300,750]
 *
 * --exact: the two thresholds that are not tier bounds (a pair not used
 * before on DIR makes the first cycle back-fill from the request rows).
 *
 * Prints `name value unit` lines for bench/run.sh.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/clock.h"
#include "core/log.h"
#include "watch/watch.h"

static const char *const measures[] = {"p95",	     "p99",	   "error_rate", "throughput",
				       "slow_share", "slow_count", "p50"};

static int put(struct store *s, const char *kind, const char *id, const char *json)
{
	char err[256];
	struct store_record r = {kind, id, clock_now_ns(), json};
	if (store_put_doc(s, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_watch: %s\n", err);
		return -1;
	}
	return 0;
}

/* A scope member: a service, or an endpoint of it, or nothing (the fleet). */
static void scope(char *out, size_t n, const char **svc, size_t n_svc, unsigned i)
{
	if (!n_svc || i % 5 == 0)
		snprintf(out, n, "{}");
	else
		snprintf(out, n, "{\"service\":\"%s\"}", svc[i % n_svc]);
}

/* The latency SLOs' thresholds in turn: tier bounds (read from the
 * rollups) and, for every other one, 300 or 750 ms (counted exactly from
 * the request rows, watch/exact.h): 25 of 100 SLOs. */
static unsigned exact_ms[2] = {300, 750}; /* --exact A,B */

static unsigned latency_threshold(unsigned i)
{
	const unsigned ms[] = {2000, exact_ms[0], 500, exact_ms[1]};
	return ms[(i / 2) % 4];
}

static int define(struct store *s, unsigned rules, unsigned slos, const char **svc, size_t n_svc)
{
	char id[64], json[1024], sc[300];
	for (unsigned i = 0; i < rules; i++) {
		scope(sc, sizeof(sc), svc, n_svc, i);
		snprintf(id, sizeof(id), "bench-rule-%u", i);
		if (i % 4 == 3)
			snprintf(json, sizeof(json),
				 "{\"id\":\"%s\",\"measure\":\"%s\",\"factor\":3,\"window\":300,\"filters\":%"
				 "s}",
				 id, measures[i % 7], sc);
		else
			snprintf(json, sizeof(json),
				 "{\"id\":\"%s\",\"measure\":\"%s\",\"threshold\":%u,\"window\":%u,"
				 "\"filters\":%s}",
				 id, measures[i % 7], 100 + i % 900, 300 * (1 + i % 3), sc);
		if (put(s, RULE_KIND, id, json) < 0)
			return -1;
	}
	for (unsigned i = 0; i < slos; i++) {
		scope(sc, sizeof(sc), svc, n_svc, i);
		snprintf(id, sizeof(id), "bench-slo-%u", i);
		if (i % 2)
			snprintf(json, sizeof(json),
				 "{\"id\":\"%s\",\"kind\":\"availability\",\"objective\":99.%u,\"window\":"
				 "\"30d\","
				 "\"filters\":%s}",
				 id, i % 10, sc);
		else
			snprintf(json, sizeof(json),
				 "{\"id\":\"%s\",\"kind\":\"latency\",\"objective\":95,\"threshold_ms\":%u,"
				 "\"window\":\"%s\",\"filters\":%s}",
				 id, latency_threshold(i), i % 3 ? "28d" : "7d", sc);
		if (put(s, SLO_KIND, id, json) < 0)
			return -1;
	}
	return 0;
}

static double time_cycles(struct store *s, int runs, struct watch_report *r)
{
	struct watch_options o;
	char err[256];
	double *t = calloc((size_t)runs, sizeof(*t));
	watch_options_init(&o);
	for (int i = 0; i < runs; i++) {
		double t0 = clock_s(CLOCK_MONOTONIC);
		if (watch_cycle(s, &o, clock_now_ns(), r, err, sizeof(err)) < 0)
			fprintf(stderr, "bench_watch: %s\n", err);
		t[i] = (clock_s(CLOCK_MONOTONIC) - t0) * 1e3;
	}
	double m = median(t, runs);
	free(t);
	return m;
}

static void delete_all(struct store *s, const char *kind, const char *prefix, unsigned n)
{
	char id[64];
	for (unsigned i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%s%u", prefix, i);
		put(s, kind, id, WATCH_TOMBSTONE);
	}
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	unsigned rules = 1000, slos = 100;
	int runs = 5, c;
	static const struct option opts[] = {
		{"data", required_argument, NULL, 'd'},	 {"rules", required_argument, NULL, 'r'},
		{"slos", required_argument, NULL, 's'},	 {"runs", required_argument, NULL, 'n'},
		{"exact", required_argument, NULL, 'x'}, {NULL, 0, NULL, 0}};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			dir = optarg;
		else if (c == 'r')
			rules = (unsigned)atoi(optarg);
		else if (c == 's')
			slos = (unsigned)atoi(optarg);
		else if (c == 'n')
			runs = atoi(optarg) > 0 ? atoi(optarg) : 1;
		else if (c == 'x') {
			if (sscanf(optarg, "%u,%u", &exact_ms[0], &exact_ms[1]) != 2)
				return 2;
		} else
			return 2;
	}
	if (!dir) {
		fprintf(stderr,
			"usage: bench_watch --data DIR [--rules N] [--slos N] [--runs N] [--exact MS,MS]\n");
		return 2;
	}
	log_min_level = LOG_WARN;
	struct store *s;
	struct store_options so = {.dir = dir};
	struct arena a;
	const char **svc;
	size_t n_svc;
	char err[256];
	struct watch_report r;
	if (store_open(&s, &so, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_watch: %s\n", err);
		return 1;
	}
	arena_init(&a);
	uint64_t now = clock_now_ns();
	if (store_values(s, DICT_SERVICE, now - 30 * NS_PER_DAY, now + NS_PER_HOUR, &a, &svc, &n_svc, err,
			 sizeof(err)) < 0)
		n_svc = 0;
	struct store_stats st;
	store_get_stats(s, &st);
	if (define(s, rules, slos, svc, n_svc) == 0) {
		double first = time_cycles(s, 1, &r); /* back-fills the exact counts */
		double both = time_cycles(s, runs, &r);
		size_t fired = r.fired;
		delete_all(s, RULE_KIND, "bench-rule-", rules);
		double only_slos = time_cycles(s, runs, &r);
		define(s, rules, 0, svc, n_svc);
		delete_all(s, SLO_KIND, "bench-slo-", slos);
		double only_rules = time_cycles(s, runs, &r);
		delete_all(s, RULE_KIND, "bench-rule-", rules);
		double empty = time_cycles(s, runs, &r);
		printf("watch_cycle_median %.1f ms (%u rules and %u SLOs over %zu services; median of %d; "
		       "%zu fired "
		       "in the first)\n",
		       both, rules, slos, n_svc, runs, fired);
		printf("watch_cycle_first %.1f ms (the first cycle: back-fills the exact counts of the SLOs "
		       "at %u and %u ms from the request rows, unless counted before on this store)\n",
		       first, exact_ms[0], exact_ms[1]);
		printf("watch_cycle_slos_only %.1f ms\n", only_slos);
		printf("watch_cycle_rules_only %.1f ms\n", only_rules);
		printf("watch_cycle_empty %.1f ms (no rule, no SLO: loading the alerts)\n", empty);
	}
	arena_release(&a);
	store_close(s);
	return 0;
}
