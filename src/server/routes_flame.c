/*
 * routes_flame.c - GET /api/v1/flamegraph: one trace's span tree with its
 * critical path, the span trees of many requests merged by path, and the
 * difference of two such sides, as JSON, folded stacks or SVG (docs/API.md).
 *
 * Owns parsing a side (a trace, or filters and q=), mapping errors to
 * statuses and choosing the output.  The spans of a side's requests are
 * read and merged by src/query/traces.h into the flame tree
 * (profile/folded.h, through analyze/spanflame.h), which holds the frames
 * ("service: span name") and writes every format.  The tree walk and the
 * critical path are in analyze/spantree.c and analyze/critpath.c, drawing
 * in render/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/critpath.h"
#include "analyze/spanflame.h"
#include "analyze/spanql.h"
#include "analyze/spantree.h"
#include "core/clock.h"
#include "core/hex.h"
#include "profile/folded.h"
#include "query/traces.h"
#include "render/flamegraph_svg.h"
#include "server/filters.h"
#include "server/http.h"
#include "server/json_out.h"

#define LIMIT_DEFAULT 1000
#define LIMIT_MAX     1000000
/* Distinct frame paths of one answer. */
#define FRAMES_MAX 1000000

enum format { FMT_JSON, FMT_FOLDED, FMT_SVG };

static const char *span_service(const struct span *s)
{
	return s->resource && s->resource->service_name ? s->resource->service_name : "unknown";
}

static uint64_t span_dur(const struct span *s)
{
	return s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0;
}

/* ---- parameters --------------------------------------------------------- */

/* One side of an answer: a trace, or the requests matching filters. */
struct side {
	const char *prefix; /* "", "base." or "compare." */
	int has_trace;
	uint8_t trace_id[16];
	const char *trace_hex;
	struct store_query q;
	struct spanql *ql; /* PREFIX+q, else q: the traces whose requests are merged */
};

static const char *const side_params[] = {
	"trace_id",	   "range",	      "from",	    "to",    "service", "endpoint", "env",
	"environment",	   "version",	      "department", "team",  "intent",	"tool",	    "status",
	"min_duration_ms", "max_duration_ms", "limit",	    "order", "q",
};

/* PREFIX+name, else (for filters) the plain name. */
static const char *param(struct http_request *req, const char *prefix, const char *name, int inherit)
{
	char key[64];
	snprintf(key, sizeof(key), "%s%s", prefix, name);
	const char *v = http_query(req, key);
	if (!v && inherit && *prefix)
		v = http_query(req, name);
	return v && *v ? v : NULL;
}

static int parse_side(struct http_request *req, struct side *sd, const char *prefix)
{
	const char *v;
	memset(sd, 0, sizeof(*sd));
	sd->prefix = prefix;
	if ((v = param(req, prefix, "trace_id", 0))) {
		if (hex_decode(sd->trace_id, 16, v, strlen(v)) < 0 || hex_is_zero(sd->trace_id, 16)) {
			http_error(req, 400, "bad_request", "invalid %strace_id '%.64s': want 32 hex digits",
				   prefix, v);
			return -1;
		}
		sd->has_trace = 1;
		sd->trace_hex = v;
		return 0;
	}
	char err[256];
	if (filters_parse_prefixed(req, prefix, LIMIT_MAX, &sd->q, clock_now_ns(), err, sizeof(err)) < 0) {
		http_error(req, 400, "bad_request", "%s", err);
		return -1;
	}
	if (!param(req, prefix, "limit", 1))
		sd->q.limit = LIMIT_DEFAULT;
	if ((v = param(req, prefix, "q", 1)) && spanql_parse(v, &sd->ql, err, sizeof(err)) < 0) {
		http_error(req, 400, "bad_request", "invalid %sq: %s",
			   param(req, prefix, "q", 0) ? prefix : "", err);
		return -1;
	}
	return 0;
}

static int has_prefixed(struct http_request *req, const char *prefix)
{
	for (size_t i = 0; i < sizeof(side_params) / sizeof(side_params[0]); i++)
		if (param(req, prefix, side_params[i], 0))
			return 1;
	return 0;
}

/* ---- loading a side ----------------------------------------------------- */

/* Merge the requests matching the side's filters.  -1: the answer is set. */
static int load_matching(struct http_request *req, struct side *sd, struct folded_tree *fs, int side)
{
	struct traces t;
	char err[256];
	int rc = traces_load(&t, req->srv->store, &sd->q, sd->ql, &req->arena, err, sizeof(err));
	if (rc == 0)
		traces_merge_flame(&t, fs, side);
	else if (rc == ERR_TOO_BIG)
		http_error_class(req, rc, "%s: narrow %slimit", err, sd->prefix);
	else
		http_error_class(req, rc, "%s", err);
	traces_release(&t);
	return rc == 0 ? 0 : -1;
}

/* Load one trace into `b`.  -1: the answer is set. */
static int load_trace(struct http_request *req, struct side *sd, struct batch *b)
{
	char err[256];
	long n = store_get_trace(req->srv->store, sd->trace_id, b, err, sizeof(err));
	if (n < 0) {
		http_error(req, 500, "internal", "%s", err);
		return -1;
	}
	if (n == 0) {
		http_error(req, 404, "not_found", "trace %s not found", sd->trace_hex);
		return -1;
	}
	return 0;
}

static int load_side(struct http_request *req, struct side *sd, struct folded_tree *fs, int side)
{
	int r;
	if (!sd->has_trace) {
		r = load_matching(req, sd, fs, side);
	} else {
		struct batch b;
		batch_init(&b);
		r = load_trace(req, sd, &b);
		if (r == 0) {
			spanflame_add_trace(fs, b.spans, b.n_spans, side, 0);
			folded_spans_name_trace(fs, side, 0, sd->trace_id);
		}
		batch_release(&b);
	}
	folded_spans_forget(fs);
	return r;
}

/* ---- output ------------------------------------------------------------- */

static int emit_buf(void *ctx, const char *data, size_t len)
{
	return buf_append(ctx, data, len) < 0 ? -1 : 0;
}

/* The frames' own time drawn by the renderer, in microseconds. */
static void reply_svg(struct http_request *req, const struct folded_tree *fs, int two, const char *title)
{
	struct folded_tree t;
	struct flame_opts o;
	struct buf *out = &req->res.body;
	char err[256];
	folded_tree_init(&t, NULL);
	if (folded_spans_stacks(fs, two, &t, err, sizeof(err)) < 0 ||
	    folded_tree_finish(&t, err, sizeof(err)) < 0)
		goto fail;
	if (t.n_nodes <= 1) { /* the root alone: nothing was selected */
		http_error_class(req, ERR_NOT_FOUND, "no stack counts to draw");
		goto out;
	}
	flame_opts_init(&o);
	o.title = title;
	o.countname = "µs";
	o.nametype = "Span:";
	req->res.status = 200;
	req->res.content_type = "image/svg+xml";
	buf_reset(out);
	if (flamegraph_svg(&t, &o, emit_buf, out, err, sizeof(err)) < 0)
		goto fail;
	goto out;
fail:
	http_error_class(req, ERR_INTERNAL, "%s", err);
out:
	folded_tree_release(&t);
}

static void put_span_json(struct json_w *w, const struct spantree *t, size_t i)
{
	const struct span *s = &t->spans[i];
	jw_obj_begin(w);
	jw_kstr(w, "name", s->name ? s->name : "");
	jw_kstr(w, "service", span_service(s));
	jw_kuint(w, "value_us", span_dur(s) / NS_PER_US);
	jw_kuint(w, "self_us", spantree_self_ns(t, i) / NS_PER_US);
	jw_kid(w, "span_id", s->span_id, 8);
	jw_kuint(w, "start_us", s->start_ns / NS_PER_US);
	jw_karr_begin(w, "children");
	for (size_t k = t->kid_off[i]; k < t->kid_off[i + 1]; k++)
		put_span_json(w, t, t->kids[k]);
	jw_arr_end(w);
	jw_obj_end(w);
}

static void reply_trace_json(struct http_request *req, struct side *sd, const struct batch *bt)
{
	struct spantree t;
	struct critpath_step *steps;
	size_t n_steps;
	struct json_w w;
	spantree_build(&t, bt->spans, bt->n_spans);
	critpath_compute(&t, &steps, &n_steps);
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kstr(&w, "mode", "trace");
	jw_key(&w, "trace_id");
	jw_hex(&w, sd->trace_id, 16);
	jw_kuint(&w, "spans", bt->n_spans);
	jw_karr_begin(&w, "roots");
	for (size_t r = 0; r < t.n_roots; r++)
		put_span_json(&w, &t, t.roots[r]);
	jw_arr_end(&w);
	jw_karr_begin(&w, "critical_path");
	for (size_t i = 0; i < n_steps; i++) {
		const struct span *s = &t.spans[steps[i].span];
		jw_obj_begin(&w);
		jw_kid(&w, "span_id", s->span_id, 8);
		jw_kstr(&w, "name", s->name ? s->name : "");
		jw_kstr(&w, "service", span_service(s));
		jw_kuint(&w, "contribution_us", steps[i].contribution_ns / NS_PER_US);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	free(steps);
	spantree_release(&t);
}

static void reply_frames(struct http_request *req, const struct folded_tree *fs, enum format fmt, int two,
			 const char *mode, const char *title)
{
	if (fmt == FMT_SVG) {
		reply_svg(req, fs, two, title);
		return;
	}
	if (fmt == FMT_FOLDED) {
		http_reply(req, 200, "text/plain; charset=utf-8", "", 0);
		folded_spans_write_folded(fs, &req->res.body, two);
		return;
	}
	folded_spans_write_json(fs, http_json(req), mode, two);
}

static int get_flamegraph(struct http_request *req)
{
	const char *v = http_query(req, "format");
	enum format fmt = FMT_JSON;
	struct folded_tree fs;
	struct side base = {0}, cmp = {0};
	char title[160];
	if (v && *v) {
		if (!strcmp(v, "json"))
			fmt = FMT_JSON;
		else if (!strcmp(v, "folded"))
			fmt = FMT_FOLDED;
		else if (!strcmp(v, "svg"))
			fmt = FMT_SVG;
		else {
			http_error(req, 400, "bad_request", "invalid format '%.64s': use json, folded or svg",
				   v);
			return HTTP_DONE;
		}
	}
	folded_tree_init_spans(&fs, FRAMES_MAX);
	int two = has_prefixed(req, "base.") || has_prefixed(req, "compare.");
	if (two) {
		if (parse_side(req, &base, "base.") < 0 || parse_side(req, &cmp, "compare.") < 0 ||
		    load_side(req, &base, &fs, 0) < 0 || load_side(req, &cmp, &fs, 1) < 0)
			goto out;
		snprintf(title, sizeof(title), "Differential flame graph: %u vs %u traces",
			 (unsigned)folded_spans_traces(&fs, 0), (unsigned)folded_spans_traces(&fs, 1));
	} else {
		if (parse_side(req, &base, "") < 0)
			goto out;
		if (base.has_trace && fmt == FMT_JSON) {
			struct batch b;
			batch_init(&b);
			if (load_trace(req, &base, &b) == 0)
				reply_trace_json(req, &base, &b);
			batch_release(&b);
			goto out;
		}
		if (load_side(req, &base, &fs, 0) < 0)
			goto out;
		if (base.has_trace)
			snprintf(title, sizeof(title), "Trace %.32s", base.trace_hex);
		else
			snprintf(title, sizeof(title), "Flame graph of %u traces",
				 (unsigned)folded_spans_traces(&fs, 0));
	}
	if (folded_spans_too_many(&fs)) {
		http_error(req, 413, "too_large", "more than %d distinct frame paths: narrow the filters",
			   FRAMES_MAX);
		goto out;
	}
	folded_spans_finish(&fs);
	reply_frames(req, &fs, fmt, two, two ? "diff" : base.has_trace ? "trace" : "aggregate", title);
out:
	spanql_free(base.ql);
	spanql_free(cmp.ql);
	folded_tree_release(&fs);
	return HTTP_DONE;
}

const struct route flame_routes[] = {
	{"GET", "/api/v1/flamegraph", get_flamegraph, NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};
