/*
 * routes_ingest.c - POST /v1/traces, /v1/metrics (OTLP/HTTP) and
 * /api/v1/requests (the seeds' request model).
 *
 * Flow: bounded body -> bounded gunzip -> decoder -> store_prepare() in this
 * worker thread -> store_submit() -> suspend; the writer's commit callback
 * resumes the connection and finish_ingest() answers.  Nothing is answered
 * 200 before the commit is durable.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/gzip.h"
#include "core/hex.h"
#include "core/log.h"
#include "ingest/otlp_json.h"
#include "ingest/otlp_pb.h"
#include "ingest/requests.h"
#include "core/clock.h"
#include "core/json_write.h"
#include "server/http.h"
#include "server/media.h"
#include "server/status.h"

enum payload { P_TRACES, P_METRICS, P_REQUESTS };

/* The state of an ingest request while the store commits it. */
struct ingest {
	enum payload kind;
	enum media media;
	uint64_t rejected;
	char reject_msg[256];
	size_t items;
};

/* An OTLP error: google.rpc.Status in the request's content type. */
static void otlp_error(struct http_request *req, enum media media, int status, int rpc_code, const char *msg)
{
	buf_reset(&req->res.body);
	req->res.status = status;
	if (media == M_PROTOBUF) {
		req->res.content_type = "application/x-protobuf";
		otlp_pb_encode_status(&req->res.body, rpc_code, msg);
	} else {
		req->res.content_type = "application/json";
		otlp_json_encode_status(&req->res.body, rpc_code, msg);
	}
}

/* A failure of a class (core/error.h), answered as server/status.c's
 * table says: an OTLP google.rpc.Status, or {"error":...} for the
 * request model. */
static void fail(struct http_request *req, struct ingest *in, int cls, const char *msg)
{
	const struct err_status *st = err_status_of(cls);
	if (st->retry_after && !req->res.retry_after)
		req->res.retry_after = st->retry_after;
	if (in->kind == P_REQUESTS)
		http_error(req, st->http, st->ingest_code, "%s", msg);
	else
		otlp_error(req, in->media, st->http, st->rpc, msg);
}

/* 415: the media is not one we read (not a class of failure). */
static void unsupported_media(struct http_request *req, struct ingest *in, const char *code, const char *msg)
{
	if (in->kind == P_REQUESTS)
		http_error(req, 415, code, "%s", msg);
	else
		otlp_error(req, in->media, 415, RPC_INVALID_ARGUMENT, msg);
}

static void on_commit(void *arg, int status)
{
	struct http_request *req = arg;
	req->async_status = status;
	http_resume(req);
}

static int decode(struct ingest *in, struct batch *b, const char *data, size_t len, char *err, size_t errlen)
{
	switch (in->kind) {
	case P_TRACES:
		return in->media == M_PROTOBUF
			       ? otlp_pb_decode_traces(b, (const uint8_t *)data, len, err, errlen)
			       : otlp_json_decode_traces(b, data, len, err, errlen);
	case P_METRICS:
		return in->media == M_PROTOBUF
			       ? otlp_pb_decode_metrics(b, (const uint8_t *)data, len, err, errlen)
			       : otlp_json_decode_metrics(b, data, len, err, errlen);
	default: return requests_decode(b, data, len, clock_now_ns(), err, errlen);
	}
}

static int handle_ingest(struct http_request *req, enum payload kind)
{
	struct server *srv = req->srv;
	struct ingest *in = arena_zalloc(&req->arena, sizeof(*in));
	char err[512];
	struct buf inflated;
	struct batch b;
	int ret = HTTP_DONE;

	req->route_data = in;
	in->kind = kind;
	in->media = media_parse(http_header(req, "Content-Type"));
	if (kind == P_REQUESTS && in->media == M_UNKNOWN && !http_header(req, "Content-Type"))
		in->media = M_JSON;
	if (in->media == M_UNKNOWN || (kind != P_REQUESTS && in->media == M_NDJSON)) {
		const char *ct = http_header(req, "Content-Type");
		snprintf(err, sizeof(err), "unsupported Content-Type '%s': use %s", ct ? ct : "(none)",
			 kind == P_REQUESTS ? "application/json or application/x-ndjson"
					    : "application/x-protobuf or application/json");
		in->media = M_JSON;
		unsupported_media(req, in, "unsupported_media_type", err);
		return HTTP_DONE;
	}

	buf_init(&inflated, srv->opt.max_body);
	batch_init(&b);
	if (req->body_too_large) {
		snprintf(err, sizeof(err), "request body exceeds the limit of %zu bytes", srv->opt.max_body);
		fail(req, in, ERR_TOO_BIG, err);
		goto out;
	}
	const char *data = req->body.data ? req->body.data : "";
	size_t len = req->body.len;
	const char *enc = http_header(req, "Content-Encoding");
	if (enc && *enc && strcasecmp(enc, "identity")) {
		if (strcasecmp(enc, "gzip") && strcasecmp(enc, "deflate")) {
			snprintf(err, sizeof(err), "unsupported Content-Encoding '%s': use gzip", enc);
			unsupported_media(req, in, "unsupported_encoding", err);
			goto out;
		}
		int rc = gzip_inflate(data, len, &inflated, err, sizeof(err));
		if (rc == ERR_TOO_BIG) {
			snprintf(err, sizeof(err), "decompressed body exceeds the limit of %zu bytes",
				 srv->opt.max_body);
			fail(req, in, ERR_TOO_BIG, err);
			goto out;
		}
		if (rc < 0) {
			fail(req, in, ERR_INVALID, err);
			goto out;
		}
		if (http_charge(req, inflated.len) < 0) { /* the budget of bytes in flight */
			http_refused(srv, REFUSE_INFLIGHT, "%s: %zu inflated bytes over the budget", req->url,
				     inflated.len);
			req->res.retry_after = "1";
			fail(req, in, ERR_BUSY, "too many request bytes in memory now; retry later");
			goto out;
		}
		data = inflated.data ? inflated.data : "";
		len = inflated.len;
	}

	if (decode(in, &b, data, len, err, sizeof(err)) < 0) {
		fail(req, in, ERR_INVALID, err);
		goto out;
	}
	in->rejected = b.rejected;
	memcpy(in->reject_msg, b.reject_msg, sizeof(in->reject_msg));
	in->items = kind == P_METRICS ? b.n_points : b.n_spans;
	if (kind == P_REQUESTS) {
		in->items = 0;
		for (size_t i = 0; i < b.n_spans; i++)
			in->items += hex_is_zero(b.spans[i].parent_span_id, 8);
	}
	atomic_fetch_add(&srv->ctr.spans_rejected, b.rejected);
	if (!b.n_spans && !b.n_points) {
		/* nothing to store: answer at once (an empty request is a success) */
		req->async_status = 0;
		req->route->finish(req);
		goto out;
	}

	struct store_write *w = store_prepare(&b);
	size_t spans = store_write_spans(w), points = store_write_points(w);
	/* Suspend before submitting: the commit may complete before we return. */
	http_suspend(req);
	if (store_submit(srv->store, w, on_commit, req) == ERR_BUSY) {
		store_write_free(w);
		atomic_fetch_add(&srv->ctr.busy, 1);
		req->async_status = ERR_BUSY;
		http_resume(req);
	} else {
		atomic_fetch_add(&srv->ctr.spans_accepted, spans);
		atomic_fetch_add(&srv->ctr.points_accepted, points);
	}
	ret = HTTP_SUSPEND;
out:
	batch_release(&b);
	buf_release(&inflated);
	return ret;
}

static void finish_ingest(struct http_request *req)
{
	struct ingest *in = req->route_data;
	if (req->async_status == ERR_BUSY) {
		struct store_stats st;
		store_get_stats(req->srv->store, &st);
		req->res.retry_after = st.writer_ready ? "1" : "10";
		char why[256], msg[400];
		if (st.writer_ready)
			snprintf(msg, sizeof(msg), "the write queue is full; retry later");
		else if (store_unreachable(req->srv->store, why, sizeof(why)))
			snprintf(msg, sizeof(msg), "the store cannot write now (%s); retry later", why);
		else
			snprintf(msg, sizeof(msg),
				 "the store cannot write now (disk full or failing); retry later");
		fail(req, in, ERR_BUSY, msg);
		return;
	}
	if (req->async_status < 0) {
		fail(req, in, ERR_INTERNAL, "the store could not commit this batch");
		return;
	}
	buf_reset(&req->res.body);
	req->res.status = 200;
	if (in->kind == P_REQUESTS) {
		req->res.content_type = "application/json";
		struct json_w w;
		jw_init(&w, &req->res.body);
		jw_obj_begin(&w);
		jw_kuint(&w, "accepted", in->items);
		jw_obj_end(&w);
	} else if (in->media == M_PROTOBUF) {
		req->res.content_type = "application/x-protobuf";
		otlp_pb_encode_response(&req->res.body, in->kind == P_METRICS, in->rejected, in->reject_msg);
	} else {
		req->res.content_type = "application/json";
		otlp_json_encode_response(&req->res.body, in->kind == P_METRICS, in->rejected,
					  in->reject_msg);
	}
}

static int handle_traces(struct http_request *req)
{
	return handle_ingest(req, P_TRACES);
}

static int handle_metrics(struct http_request *req)
{
	return handle_ingest(req, P_METRICS);
}

static int handle_requests(struct http_request *req)
{
	return handle_ingest(req, P_REQUESTS);
}

const struct route ingest_routes[] = {
	{"POST", "/v1/traces", handle_traces, finish_ingest, 1, ROUTE_INGEST},
	{"POST", "/v1/metrics", handle_metrics, finish_ingest, 1, ROUTE_INGEST},
	{"POST", "/api/v1/requests", handle_requests, finish_ingest, 1, ROUTE_INGEST},
	{NULL, NULL, NULL, NULL, 0},
};
