/*
 * routes_static.c - the embedded dashboard, /health and /metrics.
 */
#include <string.h>

#include "server/assets.h"
#include "server/http.h"

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

static int health(struct http_request *req)
{
	struct buf *out = http_json(req);
	buf_puts(out, "{\"status\":\"ok\"}");
	return HTTP_DONE;
}

static void metric(struct buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
		   (unsigned long long)v);
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
	{"GET", "/metrics", metrics, NULL, 0},
	{"GET", "/", dashboard, NULL, 0, ROUTE_PUBLIC},
	{"GET", "/dashboard/performance", dashboard, NULL, 0, ROUTE_PUBLIC},
	{"GET", "/dashboard", dashboard, NULL, 0, ROUTE_PUBLIC},
	{"GET", "/*", static_file, NULL, 0, ROUTE_PUBLIC}, /* any other embedded file */
	{NULL, NULL, NULL, NULL, 0},
};
