/*
 * routes_static.c - the embedded dashboard, /health and /metrics.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server/assets.h"
#include "core/clock.h"
#include "server/http.h"
#include "server/json_out.h"
#include "watch/notify.h"

static const struct asset *asset_find(const char *path)
{
	for (const struct asset *a = assets; a->path; a++)
		if (!strcmp(a->path, path))
			return a;
	return NULL;
}

static int serve_asset(struct http_request *req, const char *path)
{
	const struct asset *a = asset_find(path);
	if (!a) {
		http_error(req, 404, "not_found", "no such file: %s", req->url);
		return HTTP_DONE;
	}
	http_reply(req, 200, a->content_type, a->data, a->size);
	return HTTP_DONE;
}

static int dashboard(struct http_request *req)
{
	return serve_asset(req, "/index.html");
}

/* Everything else under / is a file of web/, if it exists. */
static int static_file(struct http_request *req)
{
	return serve_asset(req, req->url);
}

/* {"status":STATUS[,"writer":WRITER,"reason":REASON|null]} */
static void reply_status(struct http_request *req, const char *status, const char *writer, const char *reason)
{
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kstr(&w, "status", status);
	if (writer)
		jw_kstr(&w, "writer", writer);
	if (writer && strcmp(writer, "ok"))
		jw_kstr(&w, "reason", reason);
	jw_obj_end(&w);
}

static int health(struct http_request *req)
{
	reply_status(req, "ok", NULL, NULL);
	return HTTP_DONE;
}

/* Live: the process answers. */
static int health_live(struct http_request *req)
{
	reply_status(req, "ok", NULL, NULL);
	return HTTP_DONE;
}

/* Ready: it also writes.  503 while the store is read-only (a full or
 * failing disk), with the reason; reads still work then. */
static int health_ready(struct http_request *req)
{
	struct store_stats st;
	store_get_stats(req->srv->store, &st);
	if (st.writer_ready) {
		reply_status(req, "ready", "ok", NULL);
		return HTTP_DONE;
	}
	reply_status(req, "unavailable", "read_only", st.writer_error);
	req->res.status = 503;
	req->res.retry_after = "5";
	return HTTP_DONE;
}

static void metric(struct buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
		   (unsigned long long)v);
}

/* The API reads' latency as a Prometheus histogram (cumulative buckets). */
static void read_metrics(struct buf *b, const struct server_counters *c)
{
	uint64_t total = 0;
	buf_puts(b, "# HELP hotpath_http_read_seconds Time of the API's GET requests, first byte to answer.\n"
		    "# TYPE hotpath_http_read_seconds histogram\n");
	for (int i = 0; i <= HTTP_READ_BUCKETS; i++) {
		total += atomic_load(&c->reads_le[i]);
		if (i < HTTP_READ_BUCKETS)
			buf_printf(b, "hotpath_http_read_seconds_bucket{le=\"%g\"} %llu\n",
				   http_read_bucket_ms[i] / 1000.0, (unsigned long long)total);
	}
	buf_printf(b, "hotpath_http_read_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)total);
	buf_printf(b, "hotpath_http_read_seconds_sum %.6f\nhotpath_http_read_seconds_count %llu\n",
		   (double)atomic_load(&c->reads_ns) / NS_PER_S, (unsigned long long)total);
}

/* Resident memory of this process (/proc/self/statm), 0 when unknown. */
static uint64_t resident_bytes(void)
{
	unsigned long long size, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The writer's state, the disk and retention. */
static void store_metrics(struct buf *b, const struct store_stats *st)
{
	metric(b, "hotpath_store_writer_ready", "gauge",
	       "1 when the store writes; 0 while read-only (disk full or failing).",
	       (uint64_t)st->writer_ready);
	metric(b, "hotpath_store_disk_errors_total", "counter", "Writes that met a full or failing disk.",
	       st->disk_errors);
	metric(b, "hotpath_store_used_bytes", "gauge",
	       "Bytes of the database in use (its pages less the free ones).", st->used_bytes);
	metric(b, "hotpath_store_file_bytes", "gauge",
	       "Bytes of the database and its write-ahead log on disk.", st->file_bytes);
	metric(b, "hotpath_store_disk_free_bytes", "gauge", "Free bytes on the data directory's file system.",
	       st->disk_free_bytes);
	metric(b, "hotpath_store_free_bytes", "gauge",
	       "Bytes of the database's free pages (reused by new data; the incremental vacuum gives them "
	       "back).",
	       st->free_bytes);
	if (st->vacuumed_pages >= 0) /* the embedded store, created with incremental vacuum */
		metric(b, "hotpath_store_vacuumed_pages_total", "counter",
		       "Free pages the incremental vacuum gave back to the file system.",
		       (uint64_t)st->vacuumed_pages);
	buf_puts(b,
		 "# HELP hotpath_retention_deleted_total Rows deleted by retention (spans for kind=spans).\n"
		 "# TYPE hotpath_retention_deleted_total counter\n");
	for (int k = 0; k < KEPT_COUNT; k++)
		buf_printf(b, "hotpath_retention_deleted_total{kind=\"%s\"} %llu\n", store_kept_names[k],
			   (unsigned long long)st->retention_deleted[k]);
	metric(b, "hotpath_retention_steps_total", "counter", "Retention steps run (each bounded).",
	       st->retention_steps);
	metric(b, "hotpath_retention_step_max_microseconds", "gauge",
	       "The longest retention step so far (writes wait for one step at most).",
	       st->retention_step_max_ns / 1000);
	metric(b, "hotpath_retention_pending", "gauge", "1 while more data is due for deletion.",
	       (uint64_t)st->retention_pending);
}

/* Runs of the background jobs stopped by their time limit (--job-timeout). */
static void job_metrics(struct buf *b)
{
	const char *names[TICKER_JOBS_MAX];
	uint64_t n[TICKER_JOBS_MAX];
	size_t jobs = ticker_job_timeouts(names, n, TICKER_JOBS_MAX);
	buf_puts(b, "# HELP hotpath_job_timeouts_total Runs of a background job stopped by --job-timeout "
		    "(each stored nothing).\n"
		    "# TYPE hotpath_job_timeouts_total counter\n");
	for (size_t i = 0; i < jobs; i++)
		buf_printf(b, "hotpath_job_timeouts_total{job=\"%s\"} %llu\n", names[i],
			   (unsigned long long)n[i]);
}

static int metrics(struct http_request *req)
{
	struct server_counters *c = &req->srv->ctr;
	struct store_stats st;
	store_get_stats(req->srv->store, &st);
	struct buf *b = &req->res.body;
	buf_reset(b);
	req->res.status = 200;
	req->res.content_type = "text/plain; version=0.0.4; charset=utf-8";
	metric(b, "hotpath_http_requests_total", "counter", "HTTP requests received.", c->requests);
	metric(b, "hotpath_http_responses_2xx_total", "counter", "2xx answers.", c->responses_2xx);
	metric(b, "hotpath_http_responses_4xx_total", "counter", "4xx answers.", c->responses_4xx);
	metric(b, "hotpath_http_responses_5xx_total", "counter", "5xx answers.", c->responses_5xx);
	metric(b, "hotpath_http_received_bytes_total", "counter", "Request body bytes received.",
	       c->bytes_in);
	metric(b, "hotpath_ingest_spans_accepted_total", "counter", "Spans queued for commit.",
	       c->spans_accepted);
	metric(b, "hotpath_ingest_spans_rejected_total", "counter", "Invalid spans dropped.",
	       c->spans_rejected);
	metric(b, "hotpath_ingest_points_accepted_total", "counter", "Metric points queued for commit.",
	       c->points_accepted);
	metric(b, "hotpath_ingest_busy_total", "counter", "Requests refused with 503: queue full.", c->busy);
	metric(b, "hotpath_store_commits_total", "counter", "Transactions committed.", st.commits);
	metric(b, "hotpath_store_writes_total", "counter", "Ingest batches committed.", st.writes);
	metric(b, "hotpath_store_failed_writes_total", "counter", "Ingest batches that failed.",
	       st.failed_writes);
	metric(b, "hotpath_store_spans_total", "counter", "Spans committed.", st.spans);
	metric(b, "hotpath_store_points_total", "counter", "Metric points committed.", st.points);
	metric(b, "hotpath_rollup_endpoints_folded_total", "counter",
	       "Requests rolled up under endpoint \"other\": a service passed the endpoint limit.",
	       st.rollup_folded);
	metric(b, "hotpath_store_queue_bytes", "gauge", "Bytes waiting for the writer.", st.queue_bytes);
	metric(b, "hotpath_store_queue_writes", "gauge", "Batches waiting for the writer.", st.queue_writes);
	metric(b, "hotpath_background_lease_held", "gauge",
	       "1 when this instance runs the background jobs that write (docs/SCALING.md).",
	       (uint64_t)store_lease_held(req->srv->store));
	struct notify_stats ns;
	notify_get_stats(&ns);
	metric(b, "hotpath_notifications_sent_total", "counter", "Webhook messages delivered.", ns.sent);
	metric(b, "hotpath_notifications_failed_total", "counter",
	       "Webhook messages given up after their retries.", ns.failed);
	metric(b, "hotpath_notifications_retries_total", "counter", "Webhook deliveries tried again.",
	       ns.retries);
	metric(b, "hotpath_notifications_grouped_total", "counter",
	       "Webhook messages held by their channel's rate limit and sent in a summary.", ns.grouped);
	metric(b, "hotpath_notifications_summaries_total", "counter",
	       "Summary messages of what a channel's rate limit held.", ns.summaries);
	metric(b, "hotpath_notifications_restored_total", "counter",
	       "Webhook messages left undelivered by the last run, queued again at start.", ns.restored);
	metric(b, "hotpath_notifications_pending", "gauge", "Webhook messages waiting for delivery.",
	       ns.pending);
	store_metrics(b, &st);
	job_metrics(b);
	read_metrics(b, c);
	metric(b, "hotpath_process_resident_bytes", "gauge", "Resident memory of the server process.",
	       resident_bytes());
	int64_t conns = atomic_load(&c->connections), held = atomic_load(&req->srv->bytes_in_flight);
	metric(b, "hotpath_http_connections", "gauge", "Open client connections.",
	       (uint64_t)(conns > 0 ? conns : 0));
	metric(b, "hotpath_http_inflight_bytes", "gauge",
	       "Request bodies (and inflated bodies) held in memory.", (uint64_t)(held > 0 ? held : 0));
	buf_puts(b, "# HELP hotpath_http_refused_total Requests or connections refused, by reason.\n"
		    "# TYPE hotpath_http_refused_total counter\n");
	for (int i = 0; i < REFUSE_N; i++)
		buf_printf(b, "hotpath_http_refused_total{reason=\"%s\"} %llu\n", refusal_names[i],
			   (unsigned long long)atomic_load(&c->refused[i]));
	return HTTP_DONE;
}

const struct route static_routes[] = {
	{"GET", "/health", health, NULL, 0, ROUTE_PUBLIC},
	{"GET", "/health/live", health_live, NULL, 0, ROUTE_PUBLIC},
	{"GET", "/health/ready", health_ready, NULL, 0, ROUTE_PUBLIC},
	{"GET", "/metrics", metrics, NULL, 0},
	{"GET", "/", dashboard, NULL, 0, ROUTE_PUBLIC},
	{"GET", "/dashboard/performance", dashboard, NULL, 0, ROUTE_PUBLIC},
	{"GET", "/dashboard", dashboard, NULL, 0, ROUTE_PUBLIC},
	{"GET", "/*", static_file, NULL, 0, ROUTE_PUBLIC}, /* any other embedded file */
	{NULL, NULL, NULL, NULL, 0},
};
