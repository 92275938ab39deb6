/*
 * bench_query.c - latency analytics over a large store, for `make bench`.
 *
 * Times GET /api/v1/performance/summary and /timeseries over the last H
 * hours (median of N), then computes the same percentiles exactly from the
 * stored requests (SQLite, sorted durations) and reports the time ratio
 * and the relative error of each percentile.
 *
 * Then every read the dashboard makes (dashboard_reads below), each asked
 * --dash-runs times (default 10) over two windows: range=Hh, and the last
 * hour of the stored data (from/to ending at the newest request, since a
 * store written by bench_ingest ends before now); it prints each one's
 * median and p95 (the nearest-rank 95th percentile of the runs).
 *
 *   bench_query --target URL --db PATH [--hours 24] [--runs 20] [--dash-runs 10]
 */
#include <curl/curl.h>
#include <getopt.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/alloc.h"
#include "core/buf.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static size_t collect(void *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) < 0 ? 0 : size * n;
}

static int cmp_i64(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

/* Median milliseconds of `runs` GETs of `url`; the last body stays in `body`. */
static double time_get(CURL *c, const char *url, int runs, struct buf *body)
{
	double *t = xmalloc((size_t)runs * sizeof(*t));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	for (int i = 0; i < runs; i++) {
		buf_reset(body);
		double t0 = now_ms();
		if (curl_easy_perform(c) != CURLE_OK) {
			fprintf(stderr, "bench_query: GET %s failed\n", url);
			exit(1);
		}
		t[i] = now_ms() - t0;
	}
	qsort(t, (size_t)runs, sizeof(*t), cmp_double);
	double m = t[runs / 2];
	free(t);
	return m;
}

/* Every read a dashboard view makes on load, as the views ask it (web/views/);
 * %s is the window. */
static const char *const dashboard_reads[][2] = {
	{"filters", "/api/v1/filters?%s"},
	{"filters_latest", "/api/v1/filters?%s&version=latest"},
	{"summary", "/api/v1/performance/summary?%s"},
	{"timeseries", "/api/v1/performance/timeseries?%s"},
	{"heatmap", "/api/v1/performance/heatmap?%s"},
	{"distribution", "/api/v1/performance/distribution?%s"},
	{"traces_newest", "/api/v1/traces?%s&order=newest&limit=100"},
	{"traces_slowest", "/api/v1/traces?%s&order=slowest&limit=100"},
	{"slow_requests", "/api/v1/slow-requests?%s&limit=100&group_by=endpoint"},
	{"slow_alerts", "/api/v1/slow-requests/alerts?%s"},
	{"slow_operations_stats", "/api/v1/slow-operations/stats?%s"},
	{"bottlenecks", "/api/v1/bottlenecks?%s&top=20"},
	{"recommendations", "/api/v1/recommendations?%s"},
	{"flamegraph", "/api/v1/flamegraph?%s&format=json"},
	/* the dashboard's common filters */
	{"slow_requests_env", "/api/v1/slow-requests?%s&limit=100&group_by=endpoint&env=production"},
	{"slow_operations_stats_env", "/api/v1/slow-operations/stats?%s&env=production"},
	{"slow_operations_stats_service", "/api/v1/slow-operations/stats?%s&service=checkout-service"},
	{"bottlenecks_env", "/api/v1/bottlenecks?%s&top=20&env=production"},
	{"bottlenecks_service", "/api/v1/bottlenecks?%s&top=20&service=checkout-service"},
	{"slow_operations_stats_service_env",
	 "/api/v1/slow-operations/stats?%s&service=checkout-service&env=production"},
	{"bottlenecks_service_env", "/api/v1/bottlenecks?%s&top=20&service=checkout-service&env=production"},
};

/* Milliseconds of `runs` GETs of `url`, sorted, into t[]. */
static void time_runs(CURL *c, const char *url, int runs, struct buf *body, double *t)
{
	for (int i = 0; i < runs; i++)
		t[i] = time_get(c, url, 1, body);
	qsort(t, (size_t)runs, sizeof(*t), cmp_double);
}

/* The dashboard's reads over range=Hh and over the last hour of data. */
static void time_dashboard(CURL *c, const char *target, int hours, long long newest_ns, int runs,
			   struct buf *body)
{
	char windows[2][96], label[2][16], path[256], url[512];
	long long end_ms = newest_ns / 1000000 + 1;
	snprintf(windows[0], sizeof(windows[0]), "range=%dh", hours);
	snprintf(label[0], sizeof(label[0]), "%dh", hours);
	snprintf(windows[1], sizeof(windows[1]), "from=%lld&to=%lld", end_ms - 3600000, end_ms);
	snprintf(label[1], sizeof(label[1]), "last1h");
	double *t = xmalloc((size_t)runs * sizeof(*t));
	for (int w = 0; w < 2; w++)
		for (size_t i = 0; i < sizeof(dashboard_reads) / sizeof(dashboard_reads[0]); i++) {
			snprintf(path, sizeof(path), dashboard_reads[i][1], windows[w]);
			snprintf(url, sizeof(url), "%s%s", target, path);
			time_runs(c, url, runs, body, t);
			printf("dash_%s_%s %.1f ms median, %.1f ms p95 (%d runs: GET %s)\n",
			       dashboard_reads[i][0], label[w], t[runs / 2], t[(95 * runs + 99) / 100 - 1],
			       runs, path);
			fflush(stdout);
		}
	free(t);
}

static long long newest_request_ns(sqlite3 *db)
{
	sqlite3_stmt *st;
	long long v = 0;
	if (sqlite3_prepare_v2(db, "SELECT MAX(start_ns) FROM requests", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static double field(const char *json, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(json, pat);
	return p ? strtod(p + strlen(pat), NULL) : NAN;
}

int main(int argc, char **argv)
{
	const char *target = "http://127.0.0.1:4318", *db_path = NULL;
	int hours = 24, runs = 20, dash_runs = 10, c;
	static const struct option opts[] = {
		{"target", required_argument, NULL, 't'},    {"db", required_argument, NULL, 'd'},
		{"hours", required_argument, NULL, 'H'},     {"runs", required_argument, NULL, 'r'},
		{"dash-runs", required_argument, NULL, 'D'}, {NULL, 0, NULL, 0},
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': target = optarg; break;
		case 'd': db_path = optarg; break;
		case 'H': hours = atoi(optarg); break;
		case 'r': runs = atoi(optarg); break;
		case 'D': dash_runs = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!db_path || hours < 1 || runs < 1 || dash_runs < 1) {
		fprintf(stderr,
			"usage: bench_query --target URL --db PATH [--hours H] [--runs N] [--dash-runs N]\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *curl = curl_easy_init();
	struct buf body;
	buf_init(&body, BUF_NO_LIMIT);
	char url[512];
	snprintf(url, sizeof(url), "%s/api/v1/performance/timeseries?range=%dh&step=3600", target, hours);
	double ts_ms = time_get(curl, url, runs, &body);
	snprintf(url, sizeof(url), "%s/api/v1/performance/summary?range=%dh", target, hours);
	double sum_ms = time_get(curl, url, runs, &body);
	double count = field(body.data, "count"),
	       p[3] = {field(body.data, "p50_ms"), field(body.data, "p95_ms"), field(body.data, "p99_ms")};
	double from_ms = field(body.data, "from_ms"), to_ms = field(body.data, "to_ms");
	int res = (int)field(body.data, "resolution_s");

	/* The aggregated flame graph of the newest 240,000 requests' traces:
	 * about 100,000 traces of demo traffic (2.3 requests a trace). */
	snprintf(url, sizeof(url), "%s/api/v1/flamegraph?range=%dh&limit=240000", target, hours);
	double flame_ms = time_get(curl, url, runs < 5 ? runs : 5, &body);
	double flame_traces = field(body.data, "traces"), flame_spans = field(body.data, "spans");
	/* Detectors and ranking over every stored trace (no sampling): the
	 * first analysis reads every block, the next ones merge the states it
	 * kept of finished segments and read only the rest. */
	snprintf(url, sizeof(url), "%s/api/v1/recommendations?range=%dh&refresh=1&max_traces=10000000",
		 target, hours);
	double first_ms = time_get(curl, url, 1, &body);
	double detect_traces = field(body.data, "traces"), detect_spans = field(body.data, "spans");
	double detect_ms = time_get(curl, url, 3, &body);
	double kept_traces = field(body.data, "traces_kept");
	snprintf(url, sizeof(url), "%s/api/v1/performance/summary?range=%dh", target, hours);
	time_get(curl, url, 1, &body);

	/* Exact: the same window the rollups cover (whole buckets), from the stored requests. */
	sqlite3 *db;
	sqlite3_stmt *st;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT duration_ns FROM requests WHERE start_ns >= ? AND start_ns < ?",
			       -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_query: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	long long from_ns = (long long)(from_ms / 1000) / res * res * 1000000000LL;
	long long to_ns = ((long long)(to_ms / 1000) / res + 1) * res * 1000000000LL;
	double t0 = now_ms();
	sqlite3_bind_int64(st, 1, from_ns);
	sqlite3_bind_int64(st, 2, to_ns);
	size_t n = 0, cap = 0;
	long long *d = NULL;
	while (sqlite3_step(st) == SQLITE_ROW) {
		d = xgrow(d, &cap, n + 1, sizeof(*d));
		d[n++] = sqlite3_column_int64(st, 0);
	}
	qsort(d, n, sizeof(*d), cmp_i64);
	double exact_ms = now_ms() - t0;
	static const double q[3] = {0.50, 0.95, 0.99};
	static const char *const names[3] = {"p50", "p95", "p99"};

	printf("query_requests %zu count (summary says %.0f)\n", n, count);
	printf("summary_%dh_median %.2f ms (%d runs, %d s buckets)\n", hours, sum_ms, runs, res);
	printf("timeseries_%dh_median %.2f ms (step 3600)\n", hours, ts_ms);
	printf("flamegraph_aggregate_median %.0f ms (%.0f traces, %.0f spans, limit 240000 requests, 5 "
	       "runs)\n",
	       flame_ms, flame_traces, flame_spans);
	printf("recommendations_all_traces_first %.0f ms (%.0f traces, %.0f spans, every block read)\n",
	       first_ms, detect_traces, detect_spans);
	printf("recommendations_traces_per_second %.0f traces/s (first analysis)\n",
	       detect_traces / (first_ms / 1000));
	printf("recommendations_all_traces_median %.0f ms (%.0f of the traces from kept states, 3 runs)\n",
	       detect_ms, kept_traces);
	printf("exact_quantiles_from_requests %.1f ms (read %zu durations and sort)\n", exact_ms, n);
	printf("exact_over_summary_ratio %.1f x\n", exact_ms / sum_ms);
	for (int i = 0; i < 3 && n; i++) {
		size_t rank = (size_t)ceil(q[i] * (double)n);
		double exact = (double)d[(rank ? rank : 1) - 1] / 1e6;
		printf("%s_relative_error %.4f %% (sketch %.3f ms, exact %.3f ms)\n", names[i],
		       100 * fabs(p[i] - exact) / exact, p[i], exact);
	}
	free(d);
	sqlite3_finalize(st);
	time_dashboard(curl, target, hours, newest_request_ns(db), dash_runs, &body);
	sqlite3_close(db);
	buf_release(&body);
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	return 0;
}
