/*
 * bench_metrics.c - metrics in and out: OTLP protobuf metric requests
 * decoded and committed to a store (points/s, one thread decoding, the
 * store's writer thread committing), then resource heatmaps read back over
 * the whole history (query/metrics.h, what GET /api/v1/performance/heatmap
 * computes).
 *
 *   bench_metrics [--hosts N] [--days D] [--runs N] [--dir DIR]
 *
 * The history: N hosts (default 50), one process.cpu.utilization and one
 * process.memory.usage point each a minute for D days (default 30), sent
 * as requests of one minute of the whole fleet.  Then alert rules on
 * those metric series evaluated at the end of the history (watch/rule.h,
 * what each cycle of the alert evaluation does for each such rule), and
 * the resource snapshot a slow request, a bottleneck or a recommendation
 * carries (query/request_metrics.h: the service's points around a moment).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "core/clock.h"
#include "ingest/otlp_pb.h"
#include "query/metrics.h"
#include "query/request_metrics.h"
#include "store/store.h"
#include "watch/rule.h"

static struct resource *make_resources(struct batch *b, int hosts)
{
	struct resource *r = arena_zalloc(&b->arena, (size_t)hosts * sizeof(*r));
	for (int h = 0; h < hosts; h++) {
		char name[32];
		snprintf(name, sizeof(name), "host-%02d", h);
		r[h].attrs = arena_zalloc(&b->arena, 2 * sizeof(struct attr));
		r[h].attrs[0] = (struct attr){.key = "service.name", .type = ATTR_STRING, .v.s = "api"};
		r[h].attrs[1] = (struct attr){
			.key = "host.name", .type = ATTR_STRING, .v.s = arena_strdup(&b->arena, name)};
		r[h].n_attrs = 2;
		resource_derive(&r[h]);
	}
	return r;
}

/* One minute of the fleet, encoded as an OTLP request. */
static void encode_minute(struct buf *out, int hosts, uint64_t t_ns, int minute)
{
	struct batch b;
	batch_init(&b);
	struct resource *r = make_resources(&b, hosts);
	for (int h = 0; h < hosts; h++) {
		double day = sin((double)(minute % 1440) / 1440.0 * 2 * M_PI);
		struct metric_point *p = batch_add_point(&b);
		*p = (struct metric_point){.resource = &r[h],
					   .name = "process.cpu.utilization",
					   .unit = "1",
					   .type = METRIC_GAUGE,
					   .time_ns = t_ns,
					   .value = 0.3 + 0.2 * day};
		p = batch_add_point(&b);
		*p = (struct metric_point){.resource = &r[h],
					   .name = "process.memory.usage",
					   .unit = "By",
					   .type = METRIC_GAUGE,
					   .time_ns = t_ns,
					   .value = 4e8 + 1e6 * (double)h + 5e7 * day};
	}
	buf_reset(out);
	otlp_pb_encode_metrics(&b, out);
	batch_release(&b);
}

struct pending {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	long done, failed;
};

static void on_done(void *arg, int status)
{
	struct pending *pd = arg;
	pthread_mutex_lock(&pd->mu);
	pd->done++;
	pd->failed += status != 0;
	pthread_cond_signal(&pd->cv);
	pthread_mutex_unlock(&pd->mu);
}

/* Decode each request and queue it to the store as a server's worker does; wait for every commit. */
static int submit_all(struct store *st, struct buf *reqs, int n, uint64_t *points)
{
	struct pending pd = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	char err[256];
	for (int i = 0; i < n; i++) {
		struct batch b;
		batch_init(&b);
		if (otlp_pb_decode_metrics(&b, (const uint8_t *)reqs[i].data, reqs[i].len, err, sizeof(err)) <
		    0) {
			fprintf(stderr, "decode: %s\n", err);
			return -1;
		}
		*points += b.n_points;
		struct store_write *w = store_prepare(&b);
		batch_release(&b);
		while (store_submit(st, w, on_done, &pd) == ERR_BUSY) {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	pthread_mutex_lock(&pd.mu);
	while (pd.done < n)
		pthread_cond_wait(&pd.cv, &pd.mu);
	pthread_mutex_unlock(&pd.mu);
	return pd.failed ? -1 : 0;
}

/* Wait until every point written so far is readable: the embedded store
 * folds its metric log into points and hours before a metric read. */
static void wait_readable(struct store *st, uint64_t t0)
{
	struct arena a;
	struct metric_series_row *rows;
	size_t n;
	char err[256];
	arena_init(&a);
	if (store_metric_series(st, t0, t0 + 1, "", 1, &a, &rows, &n, err, sizeof(err)) < 0) {
		fprintf(stderr, "metric series: %s\n", err);
		exit(1);
	}
	arena_release(&a);
}

/* CPU seconds of the whole process (the decoding thread and the writer). */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* Days of history in requests of one minute of the fleet, a day encoded at a
 * time (not timed); each day's decode and commit timed, and the time until
 * its points are readable (points and hours written). */
static int ingest(struct store *st, int hosts, int days, uint64_t t0, double *points_per_s)
{
	struct buf *reqs = calloc(1440, sizeof(*reqs));
	uint64_t points = 0, timed_points = 0;
	double first_ack_s = 0, first_s = 0, all_s = 0, all_cpu = 0;
	for (int i = 0; i < 1440; i++)
		buf_init(&reqs[i], BUF_NO_LIMIT);
	for (int d = 0; d < days; d++) {
		for (int m = 0; m < 1440; m++)
			encode_minute(&reqs[m], hosts, t0 + (uint64_t)(d * 1440 + m) * 60 * NS_PER_S,
				      d * 1440 + m);
		uint64_t before = points;
		double a = clock_s(CLOCK_MONOTONIC), cpu = cpu_s();
		if (submit_all(st, reqs, 1440, &points) < 0) {
			fprintf(stderr, "write failed\n");
			return -1;
		}
		double acked = clock_s(CLOCK_MONOTONIC);
		wait_readable(st, t0);
		double readable = clock_s(CLOCK_MONOTONIC);
		all_s += readable - a;
		all_cpu += cpu_s() - cpu;
		if (d == 0) {
			first_ack_s = acked - a;
			first_s = readable - a;
			timed_points = points - before;
		}
	}
	*points_per_s = (double)timed_points / first_s;
	printf("metrics_points %llu (%d hosts x 2 metrics x %d minutes)\n", (unsigned long long)points, hosts,
	       days * 1440);
	printf("metrics_ingest_points_per_second %.0f points/s (first day: %llu points in 1440 OTLP requests "
	       "decoded on one thread, queued, group-committed, then readable)\n",
	       *points_per_s, (unsigned long long)timed_points);
	printf("metrics_ingest_acked_points_per_second %.0f points/s (first day, until the last commit)\n",
	       (double)timed_points / first_ack_s);
	printf("metrics_ingest_all_days_points_per_second %.0f points/s (%d days, each day until readable)\n",
	       (double)points / all_s, days);
	printf("metrics_ingest_points_per_cpu_second %.0f points/s (%d days, decoding and writer threads)\n",
	       (double)points / all_cpu, days);
	struct store_stats stats;
	store_get_stats(st, &stats);
	printf("metrics_ingest_commits %llu (%.1f writes a commit)\n", (unsigned long long)stats.commits,
	       stats.commits ? (double)stats.writes / (double)stats.commits : 0);
	for (int i = 0; i < 1440; i++)
		buf_release(&reqs[i]);
	free(reqs);
	return 0;
}

static double heatmap_ms(struct store *st, enum resource_measure m, uint64_t from, uint64_t to, uint64_t step,
			 int runs, size_t *cells)
{
	double t[16];
	char err[256];
	for (int i = 0; i < runs && i < 16; i++) {
		struct arena a;
		struct metrics_answer ans;
		struct metrics_request r = {.measure = m, .group_by = "host", .step_ns = step};
		r.f.from_ns = from;
		r.f.to_ns = to;
		arena_init(&a);
		double s = clock_s(CLOCK_MONOTONIC);
		if (metrics_query(st, &r, &a, &ans, err, sizeof(err)) < 0) {
			fprintf(stderr, "query: %s\n", err);
			exit(1);
		}
		t[i] = (clock_s(CLOCK_MONOTONIC) - s) * 1e3;
		*cells = ans.n_lines * ans.n_steps;
		arena_release(&a);
	}
	return median(t, runs < 16 ? runs : 16);
}

/* The resource snapshot of service "api" (every host) at `runs` moments
 * spread over [from, to): the median, in ms. */
static double snapshot_ms(struct store *st, uint64_t from, uint64_t to, int runs, double *cpu)
{
	double t[64];
	char err[256];
	runs = runs < 64 ? runs : 64;
	for (int i = 0; i < runs; i++) {
		struct request_row row = {.service = "api",
					  .start_ns = from +
						      (to - from) / (uint64_t)(runs + 1) * (uint64_t)(i + 1)};
		struct request_metrics_snapshot snap;
		double s = clock_s(CLOCK_MONOTONIC);
		if (request_metrics_snapshot_read(st, &row, &snap, err, sizeof(err)) < 0) {
			fprintf(stderr, "snapshot: %s\n", err);
			exit(1);
		}
		t[i] = (clock_s(CLOCK_MONOTONIC) - s) * 1e3;
		*cpu = snap.value[REQUEST_METRICS_SNAPSHOT_CPU];
	}
	return median(t, runs);
}

/* One metric rule's evaluation at `now`: the median of `runs`, in ms. */
static double rule_ms(struct store *st, const char *text, uint64_t now, int runs, double *value)
{
	double t[16];
	char err[256];
	struct json_doc d;
	struct arena a;
	struct alert_rule r;
	struct rule_verdict v;
	arena_init(&a);
	if (json_doc_parse(&d, text, strlen(text), 0, err, sizeof(err)) < 0 ||
	    rule_parse(d.root, NULL, &a, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "rule: %s\n", err);
		exit(1);
	}
	for (int i = 0; i < runs && i < 16; i++) {
		double s = clock_s(CLOCK_MONOTONIC);
		if (rule_evaluate(st, NULL, &r, now, &v, err, sizeof(err)) < 0) {
			fprintf(stderr, "rule: %s\n", err);
			exit(1);
		}
		t[i] = (clock_s(CLOCK_MONOTONIC) - s) * 1e3;
	}
	*value = v.value;
	json_doc_release(&d);
	arena_release(&a);
	return median(t, runs < 16 ? runs : 16);
}

static void rules(struct store *st, uint64_t to, int hosts, int runs)
{
	static const struct {
		const char *name, *text;
	} rs[] = {
		{"rule_cpu_avg_by_host_5m",
		 "{\"measure\":\"metric\",\"metric\":{\"measure\":\"cpu\",\"group_by\":\"host\"},"
		 "\"threshold\":1,\"window\":300}"},
		{"rule_cpu_max_minute_by_host_1h",
		 "{\"measure\":\"metric\",\"metric\":{\"measure\":\"cpu\",\"agg\":\"max\",\"group_by\":"
		 "\"host\"},\"threshold\":1,\"window\":3600}"},
		{"rule_memory_p95_1h",
		 "{\"measure\":\"metric\",\"metric\":{\"name\":\"process.memory.usage\","
		 "\"agg\":\"p95\"},\"threshold\":1,\"window\":3600}"},
	};
	for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
		double v, ms = rule_ms(st, rs[i].text, to - 1, runs, &v);
		printf("%s_%dhosts_median %.1f ms (value %.4g, %d runs)\n", rs[i].name, hosts, ms, v, runs);
	}
}

int main(int argc, char **argv)
{
	int hosts = 50, days = 30, runs = 5;
	const char *dir = NULL;
	char tmp[64], err[256];
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--hosts"))
			hosts = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--days"))
			days = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--runs"))
			runs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
	}
	if (!dir) {
		snprintf(tmp, sizeof(tmp), "/tmp/hotpath-bench-metrics-XXXXXX");
		if (!mkdtemp(tmp))
			return 1;
		dir = tmp;
	}
	struct store *st;
	struct store_options o = {.dir = dir};
	if (store_open(&st, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	uint64_t t0 = 1767225600ull * NS_PER_S; /* 2026-01-01, a whole hour */
	uint64_t to = t0 + (uint64_t)days * 86400 * NS_PER_S;
	double pps;
	if (ingest(st, hosts, days, t0, &pps) < 0)
		return 1;
	size_t cells;
	double ms = heatmap_ms(st, MEASURE_CPU, t0, to, 3600 * NS_PER_S, runs, &cells);
	printf("heatmap_cpu_%dd_%dhosts_median %.1f ms (step 1 h, %zu cells, %d runs)\n", days, hosts, ms,
	       cells, runs);
	ms = heatmap_ms(st, MEASURE_MEMORY, to - 86400 * NS_PER_S, to, 60 * NS_PER_S, runs, &cells);
	printf("heatmap_memory_1d_%dhosts_median %.1f ms (step 1 min, %zu cells, %d runs)\n", hosts, ms,
	       cells, runs);
	rules(st, to, hosts, runs);
	double cpu;
	ms = snapshot_ms(st, t0, to, 30, &cpu);
	printf("snapshot_%dhosts_median %.2f ms (CPU %.3f, 30 moments)\n", hosts, ms, cpu);
	store_close(st);
	if (dir == tmp) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmp);
	}
	return 0;
}
