/*
 * routes_profiles.c - CPU and allocation profiles over HTTP (docs/API.md,
 * "Profiles"): uploads to POST /api/v1/profiles and Pyroscope's POST
 * /ingest, the list with linked traces (same service, time, and version
 * and environment where known), one profile's stacks, and merged or
 * differential flame graphs of the profiles matching filters (of one
 * type: a default one, and the others listed, when none is asked for).
 *
 * Owns the HTTP side: parameters, headers, multipart bodies, answers.  The
 * body formats and Pyroscope's name syntax are in profile/upload.c, pprof
 * decoding in profile/pprof.c, drawing in render/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/gzip.h"
#include "core/hex.h"
#include "core/log.h"
#include "profile/folded.h"
#include "profile/upload.h"
#include "render/flamegraph_svg.h"
#include "server/filters.h"
#include "server/http.h"
#include "server/multipart.h"
#include "server/json_out.h"

#define LIST_LIMIT	 100
#define LIMIT_MAX	 1000
#define TRACE_COUNT_MAX	 10000 /* linked requests counted per profile */
#define TRACE_EXAMPLES	 5
#define MERGE_LIMIT	 100   /* profiles merged per side by default */
#define TYPES_SCAN	 10000 /* newest profiles read for the types on offer */
#define TYPES_MAX	 16
#define MAX_LABELS_BYTES (64 * 1024)

/* ---- metadata of an upload ---------------------------------------------- */

struct upload_meta {
	const char *service, *version, *env, *type, *unit;
	uint64_t from_ns, until_ns;
	int has_from, has_until;
	struct buf labels; /* JSON object */
	int n_labels;
};

/* A query parameter, else a header, else NULL; empty counts as absent. */
static const char *param_or_header(struct http_request *req, const char *name, const char *header)
{
	const char *v = http_query(req, name);
	if ((!v || !*v) && header)
		v = http_header(req, header);
	return v && *v ? v : NULL;
}

/* The labels object: begun at the first label, ended by complete_meta(). */
static void labels_writer(struct upload_meta *m, struct json_w *w)
{
	if (m->n_labels) {
		jw_init_inside(w, &m->labels, false, true);
	} else {
		jw_init(w, &m->labels);
		jw_obj_begin(w);
	}
}

static void add_label(struct upload_meta *m, const char *key, const char *value)
{
	struct json_w w;
	labels_writer(m, &w);
	jw_kstr(&w, key, value);
	m->n_labels++;
}

/* Labels that name a profile field fill it (unless set); -1: not one of those. */
static int label_to_field(struct upload_meta *m, const char *key, const char *value)
{
	static const struct {
		const char *key;
		size_t off;
	} fields[] = {
		{"service_name", offsetof(struct upload_meta, service)},
		{"service.name", offsetof(struct upload_meta, service)},
		{"service", offsetof(struct upload_meta, service)},
		{"version", offsetof(struct upload_meta, version)},
		{"service_version", offsetof(struct upload_meta, version)},
		{"service.version", offsetof(struct upload_meta, version)},
		{"env", offsetof(struct upload_meta, env)},
		{"environment", offsetof(struct upload_meta, env)},
		{"deployment.environment", offsetof(struct upload_meta, env)},
		{"deployment.environment.name", offsetof(struct upload_meta, env)},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(key, fields[i].key)) {
			const char **f = (const char **)((char *)m + fields[i].off);
			if (!*f && *value)
				*f = value;
			return 0;
		}
	return -1;
}

static int parse_times(struct http_request *req, struct upload_meta *m, const char *until_name, char *err,
		       size_t errlen)
{
	uint64_t now = clock_now_ns();
	const char *v;
	if ((v = param_or_header(req, "from", "X-Profile-From"))) {
		if (filters_parse_pyroscope_time(v, now, &m->from_ns) < 0)
			return errf(err, errlen,
				    "invalid from '%.64s': use unix seconds, milliseconds or nanoseconds, "
				    "RFC 3339 "
				    "or now-15m",
				    v);
		m->has_from = 1;
	}
	if ((v = param_or_header(req, until_name, "X-Profile-Until")) ||
	    (v = param_or_header(req, "to", NULL))) {
		if (filters_parse_pyroscope_time(v, now, &m->until_ns) < 0)
			return errf(
				err, errlen,
				"invalid %s '%.64s': use unix seconds, milliseconds or nanoseconds, RFC 3339 "
				"or now",
				until_name, v);
		m->has_until = 1;
	}
	if (m->has_from && m->has_until && m->from_ns > m->until_ns)
		return errf(err, errlen, "from is after %s", until_name);
	return 0;
}

/* Fill what the request left open from the pprof profile, then defaults. */
static void complete_meta(struct upload_meta *m, const struct upload_result *r)
{
	uint64_t now = clock_now_ns();
	if (r->is_pprof) {
		const struct pprof_info *p = &r->pprof;
		for (size_t i = 0; i < p->n_labels; i++)
			if (label_to_field(m, p->labels[i].key, p->labels[i].value) < 0 &&
			    m->labels.len < MAX_LABELS_BYTES)
				add_label(m, p->labels[i].key, p->labels[i].value);
		if (!m->type)
			m->type = p->type;
		if (!m->unit)
			m->unit = p->unit;
		if (!m->has_from && p->time_ns) {
			m->from_ns = p->time_ns;
			m->has_from = 1;
			if (!m->has_until) {
				m->until_ns = p->time_ns + p->duration_ns;
				m->has_until = 1;
			}
		}
	}
	if (!m->type)
		m->type = "cpu";
	if (!m->unit)
		m->unit = "samples";
	if (!m->has_until)
		m->until_ns = m->has_from && m->from_ns > now ? m->from_ns : now;
	if (!m->has_from)
		m->from_ns = m->until_ns;
	struct json_w w;
	labels_writer(m, &w);
	jw_obj_end(&w);
}

/* ---- the body ------------------------------------------------------------ */

/* The request body, gunzipped if Content-Encoding says so.  -1: answered. */
static int read_body(struct http_request *req, struct buf *inflated, const char **data, size_t *len)
{
	char err[256];
	if (req->body_too_large) {
		http_error(req, 413, "payload_too_large", "request body exceeds the limit of %zu bytes",
			   req->srv->opt.max_body);
		return -1;
	}
	*data = req->body.data ? req->body.data : "";
	*len = req->body.len;
	const char *enc = http_header(req, "Content-Encoding");
	if (!enc || !*enc || !strcasecmp(enc, "identity"))
		return 0;
	if (strcasecmp(enc, "gzip") && strcasecmp(enc, "deflate")) {
		http_error(req, 415, "unsupported_encoding", "unsupported Content-Encoding '%.64s': use gzip",
			   enc);
		return -1;
	}
	int rc = gzip_inflate(*data, *len, inflated, err, sizeof(err));
	if (rc == ERR_TOO_BIG) {
		http_error(req, 413, "payload_too_large", "decompressed body exceeds the limit of %zu bytes",
			   req->srv->opt.max_body);
		return -1;
	}
	if (rc < 0) {
		http_error(req, 400, "bad_request", "bad gzip body: %s", err);
		return -1;
	}
	*data = inflated->data ? inflated->data : "";
	*len = inflated->len;
	return 0;
}

/* Read the times, decode the body and complete `m` from what the profile
 * says itself.  -1: answered. */
static int decode_body(struct http_request *req, enum upload_format fmt, const char *data, size_t len,
		       struct upload_meta *m, struct upload_result *res)
{
	char err[512];
	if (parse_times(req, m, "until", err, sizeof(err)) < 0) {
		http_error(req, 400, "bad_request", "%s", err);
		return -1;
	}
	struct pprof_options po = {.sample_type = http_query(req, "sample_type"),
				   .type_hint = m->type,
				   .max_input = req->srv->opt.max_body};
	if (po.sample_type && !*po.sample_type)
		po.sample_type = NULL;
	int rc = upload_decode(fmt, data, len, &po, 0, &req->arena, res, err, sizeof(err));
	if (rc == ERR_TOO_BIG) {
		http_error(req, 413, "payload_too_large", "%s", err);
		return -1;
	}
	if (rc < 0) {
		http_error(req, 400, "bad_request", "%s", err);
		return -1;
	}
	complete_meta(m, res);
	return 0;
}

/* Store the profile.  -1: answered. */
static int store_upload(struct http_request *req, struct upload_meta *m, const struct upload_result *r,
			int64_t *id)
{
	char err[256];
	struct profile_row row = {
		.service = m->service,
		.version = m->version,
		.env = m->env,
		.type = m->type,
		.unit = m->unit,
		.labels = m->labels.data,
		.start_ns = m->from_ns,
		.end_ns = m->until_ns,
		.total = r->total,
		.folded = r->folded,
		.folded_len = r->folded_len,
	};
	int rc = store_put_profile(req->srv->store, &row, id, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return -1;
	}
	return 0;
}

/* ---- POST /api/v1/profiles ----------------------------------------------- */

/* The format asked for, else told by the content type or the gzip magic. */
static int upload_format_of(struct http_request *req, const char *data, size_t len, enum upload_format *fmt)
{
	const char *v = param_or_header(req, "format", "X-Profile-Format");
	if (v) {
		if (upload_format_parse(v, fmt) < 0) {
			http_error(req, 400, "bad_request",
				   "invalid format '%.64s': use folded, perf or pprof", v);
			return -1;
		}
		return 0;
	}
	const char *ct = http_header(req, "Content-Type");
	int binary = ct && (strstr(ct, "protobuf") || strstr(ct, "octet-stream"));
	*fmt = binary || pprof_is_gzip(data, len) ? UPLOAD_PPROF : UPLOAD_FOLDED;
	return 0;
}

static int post_profile(struct http_request *req)
{
	struct upload_meta m = {0};
	struct upload_result res;
	struct buf inflated;
	const char *data;
	size_t len;
	enum upload_format fmt;
	int64_t id;

	buf_init(&m.labels, BUF_NO_LIMIT);
	buf_init(&inflated, req->srv->opt.max_body);
	if (read_body(req, &inflated, &data, &len) < 0 || upload_format_of(req, data, len, &fmt) < 0)
		goto out;
	m.service = param_or_header(req, "service", "X-Profile-Service");
	m.version = param_or_header(req, "version", "X-Profile-Version");
	m.env = param_or_header(req, "env", "X-Profile-Env");
	if (!m.env)
		m.env = param_or_header(req, "environment", NULL);
	m.type = param_or_header(req, "type", "X-Profile-Type");
	m.unit = param_or_header(req, "unit", "X-Profile-Unit");
	if (decode_body(req, fmt, data, len, &m, &res) < 0)
		goto out;
	if (!m.service) {
		http_error(
			req, 400, "bad_request",
			"missing service: give ?service= (or the X-Profile-Service header, or a service_name "
			"label in the pprof profile)");
		goto out;
	}
	if (!res.stacks) {
		http_error(req, 400, "bad_request", "the profile has no samples%s%s",
			   res.is_pprof ? " of type " : "", res.is_pprof ? res.pprof.type : "");
		goto out;
	}
	if (store_upload(req, &m, &res, &id) < 0)
		goto out;
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kint(&w, "id", id);
	jw_kuint(&w, "samples", res.total);
	jw_kuint(&w, "stacks", res.stacks);
	jw_kstr(&w, "service", m.service);
	jw_kstr(&w, "type", m.type);
	jw_kstr(&w, "unit", m.unit);
	jw_kuint_str(&w, "start_ns", m.from_ns);
	jw_kuint_str(&w, "end_ns", m.until_ns);
	jw_obj_end(&w);
out:
	buf_release(&inflated);
	buf_release(&m.labels);
	return HTTP_DONE;
}

/* ---- POST /ingest (Pyroscope) -------------------------------------------- */

/* The body's profile: the "profile" part of a multipart body, or the body. */
static int pyroscope_body(struct http_request *req, const char **data, size_t *len, int *multipart)
{
	const char *ct = http_header(req, "Content-Type");
	char err[256];
	*multipart = ct && !strncasecmp(ct, "multipart/form-data", 19);
	if (!*multipart)
		return 0;
	int rc = multipart_part(ct, *data, *len, "profile", data, len, err, sizeof(err));
	if (rc == 1)
		snprintf(err, sizeof(err), "the multipart body has no \"profile\" part");
	if (rc != 0) {
		http_error(req, 400, "bad_request", "%s", err);
		return -1;
	}
	return 0;
}

static void pyroscope_labels(struct upload_meta *m, const struct upload_name *nm, struct http_request *req)
{
	static const char *const extras[][2] = {
		{"spyName", "spy_name"},
		{"sampleRate", "sample_rate"},
		{"aggregationType", "aggregation_type"},
	};
	for (size_t i = 0; i < nm->n_labels; i++)
		if (label_to_field(m, nm->labels[i].key, nm->labels[i].value) < 0 &&
		    m->labels.len < MAX_LABELS_BYTES)
			add_label(m, nm->labels[i].key, nm->labels[i].value);
	if (!m->service)
		m->service = nm->app;
	else
		add_label(m, "app_name", nm->app);
	for (size_t i = 0; i < sizeof(extras) / sizeof(extras[0]); i++) {
		const char *v = http_query(req, extras[i][0]);
		if (v && *v && m->labels.len < MAX_LABELS_BYTES)
			add_label(m, extras[i][1], v);
	}
}

static int post_ingest(struct http_request *req)
{
	struct upload_meta m = {0};
	struct upload_name nm;
	struct upload_result res;
	struct buf inflated;
	const char *data, *v;
	size_t len;
	char err[256];
	enum upload_format fmt = UPLOAD_FOLDED;
	int multipart;
	int64_t id;

	buf_init(&m.labels, BUF_NO_LIMIT);
	buf_init(&inflated, req->srv->opt.max_body);
	if (read_body(req, &inflated, &data, &len) < 0 || pyroscope_body(req, &data, &len, &multipart) < 0)
		goto out;
	if (!(v = http_query(req, "name")) || !*v) {
		http_error(req, 400, "bad_request", "missing name: give ?name=APP{label=value,...}");
		goto out;
	}
	if (upload_parse_name(v, &req->arena, &nm, err, sizeof(err)) < 0) {
		http_error(req, 400, "bad_request", "%s", err);
		goto out;
	}
	if ((v = http_query(req, "format")) && *v) {
		if (!strcmp(v, "trie") || !strcmp(v, "tree") || !strcmp(v, "jfr") ||
		    !strcmp(v, "speedscope") || upload_format_parse(v, &fmt) < 0 || fmt == UPLOAD_PERF) {
			http_error(req, 400, "bad_request",
				   "unsupported format '%.64s': use folded, lines or pprof", v);
			goto out;
		}
	} else if (multipart || pprof_is_gzip(data, len)) {
		fmt = UPLOAD_PPROF;
	}
	m.type = nm.type;
	if ((v = http_query(req, "units")) && *v)
		m.unit = v;
	pyroscope_labels(&m, &nm, req);
	if (decode_body(req, fmt, data, len, &m, &res) < 0)
		goto out;
	/* Pyroscope takes an empty profile without complaint; nothing to keep */
	if (res.stacks && store_upload(req, &m, &res, &id) < 0)
		goto out;
	http_reply(req, 200, "text/plain; charset=utf-8", "", 0);
out:
	buf_release(&inflated);
	buf_release(&m.labels);
	return HTTP_DONE;
}

/* ---- filters of the reads ------------------------------------------------- */

/* PREFIX+name, else (a prefixed side inheriting) the plain name. */
static const char *side_param(struct http_request *req, const char *prefix, const char *name)
{
	char key[64];
	snprintf(key, sizeof(key), "%s%s", prefix, name);
	const char *v = http_query(req, key);
	if ((!v || !*v) && *prefix)
		v = http_query(req, name);
	return v && *v ? v : NULL;
}

static int parse_profile_query(struct http_request *req, const char *P, unsigned def_limit,
			       struct profile_query *q, char *err, size_t errlen)
{
	const char *v;
	uint64_t now = clock_now_ns(), range;
	memset(q, 0, sizeof(*q));
	q->limit = def_limit;
	q->service = side_param(req, P, "service");
	q->version = side_param(req, P, "version");
	if (!(q->env = side_param(req, P, "env")))
		q->env = side_param(req, P, "environment");
	q->type = side_param(req, P, "type");
	if ((v = side_param(req, P, "range"))) {
		if (filters_parse_range(v, &range) < 0)
			return errf(err, errlen, "invalid %srange '%.64s': use e.g. 15m, 1h, 7d", P, v);
		q->from_ns = now > range ? now - range : 0;
	}
	if ((v = side_param(req, P, "from")) && filters_parse_pyroscope_time(v, now, &q->from_ns) < 0)
		return errf(err, errlen, "invalid %sfrom '%.64s': use a unix timestamp or RFC 3339", P, v);
	if ((v = side_param(req, P, "to")) && filters_parse_pyroscope_time(v, now, &q->to_ns) < 0)
		return errf(err, errlen, "invalid %sto '%.64s': use a unix timestamp or RFC 3339", P, v);
	if (q->to_ns && q->from_ns >= q->to_ns)
		return errf(err, errlen, "%sfrom must be before %sto", P, P);
	if ((v = side_param(req, P, "id"))) {
		char *end;
		long long id = strtoll(v, &end, 10);
		if (end == v || *end || id < 1)
			return errf(err, errlen, "invalid %sid '%.64s': want a profile id", P, v);
		q->id = id;
	}
	if ((v = side_param(req, P, "limit"))) {
		char *end;
		long n = strtol(v, &end, 10);
		if (end == v || *end || n < 1 || n > LIMIT_MAX)
			return errf(err, errlen, "invalid %slimit '%.64s': want 1 to %d", P, v, LIMIT_MAX);
		q->limit = (unsigned)n;
	}
	return 0;
}

/* ---- GET /api/v1/profiles ------------------------------------------------- */

/* Equal, or one of the two unknown. */
static int same_or_unknown(const char *a, const char *b)
{
	return !a || !*a || !b || !*b || !strcmp(a, b);
}

/*
 * Requests of the profile's service within its time span, of its version
 * and environment where both the profile and the request know theirs (a
 * request without a version may have run the profiled code; one of
 * another version did not).
 */
static void put_linked_traces(struct http_request *req, struct json_w *w, const struct profile_row *p)
{
	struct store_query q;
	struct request_row *rows;
	size_t n, kept = 0;
	char err[256];
	store_query_init(&q);
	q.service = p->service;
	q.from_ns = p->start_ns;
	q.to_ns = p->end_ns + 1;
	q.limit = TRACE_COUNT_MAX;
	if (store_search(req->srv->store, &q, &req->arena, &rows, &n, err, sizeof(err)) < 0)
		n = 0;
	for (size_t i = 0; i < n; i++)
		if (same_or_unknown(p->version, rows[i].version) && same_or_unknown(p->env, rows[i].env))
			rows[kept++] = rows[i];
	jw_kobj_begin(w, "traces");
	jw_kuint(w, "count", kept);
	jw_kbool(w, "more", n >= TRACE_COUNT_MAX);
	jw_karr_begin(w, "examples");
	for (size_t i = 0; i < kept && i < TRACE_EXAMPLES; i++)
		jw_hex(w, rows[i].trace_id, 16);
	jw_arr_end(w);
	jw_obj_end(w);
}

/* A profile's members, in the object the caller has begun. */
static void put_profile_meta(struct http_request *req, struct json_w *w, const struct profile_row *p)
{
	jw_kint(w, "id", p->id);
	jw_kstr(w, "service", p->service);
	jw_kstr(w, "version", p->version);
	jw_kstr(w, "env", p->env);
	jw_kstr(w, "type", p->type);
	jw_kstr(w, "unit", p->unit);
	jw_kraw(w, "labels", p->labels && *p->labels ? p->labels : "{}");
	jw_kuint_str(w, "start_ns", p->start_ns);
	jw_kuint_str(w, "end_ns", p->end_ns);
	jw_kuint(w, "start_ms", p->start_ns / 1000000u);
	jw_kuint(w, "end_ms", p->end_ns / 1000000u);
	jw_kuint(w, "total", p->total);
	put_linked_traces(req, w, p);
}

static int list_profiles(struct http_request *req)
{
	struct profile_query q;
	struct profile_row *rows;
	size_t n;
	char err[256];
	if (parse_profile_query(req, "", LIST_LIMIT, &q, err, sizeof(err)) < 0) {
		http_error(req, 400, "bad_request", "%s", err);
		return HTTP_DONE;
	}
	int rc = store_profiles(req->srv->store, &q, &req->arena, &rows, &n, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_karr_begin(&w, "profiles");
	for (size_t i = 0; i < n; i++) {
		jw_obj_begin(&w);
		put_profile_meta(req, &w, &rows[i]);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_kuint(&w, "count", n);
	jw_obj_end(&w);
	return HTTP_DONE;
}

/* ---- merged trees and their output ---------------------------------------- */

enum format { FMT_JSON, FMT_FOLDED, FMT_SVG, FMT_SPEEDSCOPE };

static int parse_format(struct http_request *req, enum format *fmt)
{
	static const char *const names[] = {"json", "folded", "svg", "speedscope"};
	const char *v = http_query(req, "format");
	*fmt = FMT_JSON;
	if (!v || !*v)
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(v, names[i])) {
			*fmt = (enum format)i;
			return 0;
		}
	http_error(req, 400, "bad_request", "invalid format '%.64s': use json, folded, svg or speedscope", v);
	return -1;
}

/* One side of a graph: what was merged into it. */
struct side {
	const char *prefix;
	size_t profiles;
	const char *type, *unit;
	int type_default;	      /* the type was chosen, not asked for */
	const char *types[TYPES_MAX]; /* of the profiles matching but for type, newest first */
	size_t n_types;
};

static int side_has_type(const struct side *sd, const char *type)
{
	for (size_t i = 0; i < sd->n_types; i++)
		if (!strcmp(sd->types[i], type))
			return 1;
	return 0;
}

/* The distinct types of the newest TYPES_SCAN profiles matching `q` but for its type. */
static int side_types(struct http_request *req, struct profile_query q, struct side *sd, char *err,
		      size_t errlen)
{
	struct profile_row *rows;
	size_t n;
	q.type = NULL;
	q.with_data = 0;
	q.limit = TYPES_SCAN;
	if (store_profiles(req->srv->store, &q, &req->arena, &rows, &n, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n && sd->n_types < TYPES_MAX; i++)
		if (!side_has_type(sd, rows[i].type))
			sd->types[sd->n_types++] = rows[i].type;
	return 0;
}

/*
 * The type merged when none is asked for: the other side's (a comparison
 * is of one type) if this side has it, else cpu, else wall, else the
 * newest profile's.
 */
static const char *default_type(const struct side *sd, const struct side *other)
{
	if (other && other->type && side_has_type(sd, other->type))
		return other->type;
	if (side_has_type(sd, "cpu"))
		return "cpu";
	if (side_has_type(sd, "wall"))
		return "wall";
	return sd->types[0];
}

static void put_types(struct json_w *w, const struct side *sd)
{
	jw_karr_begin(w, "types");
	for (size_t i = 0; i < sd->n_types; i++)
		jw_str(w, sd->types[i]);
	jw_arr_end(w);
}

/* 404 for a side without profiles, naming the types it does have. */
static void side_not_found(struct http_request *req, const struct side *sd, const char *type)
{
	struct buf have;
	buf_init(&have, BUF_NO_LIMIT);
	for (size_t i = 0; i < sd->n_types; i++)
		buf_printf(&have, "%s%s", i ? ", " : "", sd->types[i]);
	if (!sd->n_types)
		http_error(req, 404, "not_found", "no profile matches the %sfilters", sd->prefix);
	else
		http_error(req, 404, "not_found", "no %s profile matches the %sfilters (they have: %s)", type,
			   sd->prefix, have.data);
	buf_release(&have);
}

/*
 * Merge the profiles matching the side's filters into side `s`; without
 * a type asked for, those of default_type().  -1: answered.
 */
static int load_side(struct http_request *req, struct folded_tree *t, int s, struct side *sd,
		     const struct side *other)
{
	struct profile_query q;
	struct profile_row *rows;
	size_t n = 0;
	char err[256];
	if (parse_profile_query(req, sd->prefix, MERGE_LIMIT, &q, err, sizeof(err)) < 0) {
		http_error(req, 400, "bad_request", "%s", err);
		return -1;
	}
	if (side_types(req, q, sd, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return -1;
	}
	if (sd->n_types && !q.type) {
		q.type = default_type(sd, other);
		sd->type_default = 1;
	}
	q.with_data = 1;
	if (sd->n_types &&
	    store_profiles(req->srv->store, &q, &req->arena, &rows, &n, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return -1;
	}
	if (!n) {
		side_not_found(req, sd, q.type);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!sd->unit) {
			sd->type = rows[i].type;
			sd->unit = rows[i].unit;
		} else if (strcmp(sd->unit, rows[i].unit)) { /* one type: the query's */
			http_error(req, 400, "bad_request",
				   "the matching %s profiles are in different units (%s, %s): narrow the "
				   "%sfilters",
				   sd->type, sd->unit, rows[i].unit, sd->prefix);
			return -1;
		}
		if (folded_parse_buffer(t, rows[i].folded, rows[i].folded_len, FOLDED_ONE_COUNT, s, err,
					sizeof(err)) < 0) {
			http_error(req, 500, "internal", "profile %lld: %s", (long long)rows[i].id, err);
			return -1;
		}
	}
	sd->profiles = n;
	return 0;
}

static int emit_buf(void *ctx, const char *data, size_t len)
{
	return buf_append(ctx, data, len) < 0 ? -1 : 0;
}

static void reply_json(struct http_request *req, const struct folded_tree *t, const struct side *sd, int two)
{
	const struct folded_node *root = &t->nodes[0];
	double scale = two && root->total[0] ? (double)root->total[1] / (double)root->total[0] : 1.0;
	struct json_w w;
	jw_init(&w, http_json(req));
	jw_obj_begin(&w);
	jw_kstr(&w, "mode", two ? "diff" : "aggregate");
	jw_kuint(&w, "profiles", sd[0].profiles);
	jw_kstr(&w, "type", sd[0].type);
	jw_kbool(&w, "type_default", sd[0].type_default);
	put_types(&w, &sd[0]);
	jw_kstr(&w, "unit", sd[0].unit);
	jw_kuint(&w, "total", root->total[0]);
	if (two) {
		for (int i = 0; i < 2; i++) {
			jw_kobj_begin(&w, i ? "compare" : "base");
			jw_kuint(&w, "profiles", sd[i].profiles);
			jw_kuint(&w, "total", root->total[i]);
			put_types(&w, &sd[i]);
			jw_obj_end(&w);
		}
		jw_kdouble(&w, "scale", scale);
	}
	jw_key(&w, "root");
	struct buf *b = jw_value_buf(&w);
	if (b)
		folded_tree_write_json(t, b, two, scale);
	jw_obj_end(&w);
}

/* speedscope's units; counts are "none". */
static const char *speedscope_unit(const char *unit)
{
	static const char *const known[] = {"nanoseconds", "microseconds", "milliseconds", "seconds",
					    "bytes"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(unit, known[i]))
			return known[i];
	return "none";
}

static void reply_tree(struct http_request *req, const struct folded_tree *t, enum format fmt,
		       const struct side *sd, int two, const char *title)
{
	char err[256];
	struct buf *out = &req->res.body;
	int raw = http_query(req, "raw") && !strcmp(http_query(req, "raw"), "1");
	if (fmt == FMT_JSON) {
		reply_json(req, t, sd, two);
		return;
	}
	http_reply(req, 200, "text/plain; charset=utf-8", "", 0);
	int rc = 0;
	if (fmt == FMT_FOLDED) {
		rc = folded_tree_write(t, two ? FOLDED_WRITE_TWO | (raw ? 0 : FOLDED_WRITE_NORMALIZE) : 0,
				       emit_buf, out);
	} else if (fmt == FMT_SPEEDSCOPE) {
		req->res.content_type = "application/json";
		rc = flamegraph_speedscope(t, title, speedscope_unit(sd[0].unit), emit_buf, out, err,
					   sizeof(err));
	} else {
		struct flame_opts o;
		flame_opts_init(&o);
		o.title = title;
		o.countname = sd[0].unit;
		o.diff_raw = raw;
		req->res.content_type = "image/svg+xml";
		rc = flamegraph_svg(t, &o, emit_buf, out, err, sizeof(err));
	}
	if (rc != 0)
		http_error(req, 500, "internal", "cannot render the graph: %s",
			   rc < 0 ? err : "output failed");
}

static int has_side(struct http_request *req, const char *prefix)
{
	static const char *const names[] = {"service", "version", "env",   "environment", "type",
					    "from",    "to",	  "range", "id",	  "limit"};
	char key[64];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(key, sizeof(key), "%s%s", prefix, names[i]);
		const char *v = http_query(req, key);
		if (v && *v)
			return 1;
	}
	return 0;
}

static int get_flamegraph(struct http_request *req)
{
	struct folded_tree t;
	struct side sd[2] = {{.prefix = ""}, {.prefix = "compare."}};
	enum format fmt;
	char title[160], err[256];
	int two = has_side(req, "base.") || has_side(req, "compare.");
	if (parse_format(req, &fmt) < 0)
		return HTTP_DONE;
	folded_tree_init(&t, NULL);
	if (two)
		sd[0].prefix = "base.";
	if (load_side(req, &t, 0, &sd[0], NULL) < 0 || (two && load_side(req, &t, 1, &sd[1], &sd[0]) < 0))
		goto out;
	if (two && (strcmp(sd[0].type, sd[1].type) || strcmp(sd[0].unit, sd[1].unit))) {
		http_error(req, 400, "bad_request",
			   "base is %s in %s but compare is %s in %s: give type=", sd[0].type, sd[0].unit,
			   sd[1].type, sd[1].unit);
		goto out;
	}
	if (folded_tree_finish(&t, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		goto out;
	}
	if (two)
		snprintf(title, sizeof(title), "Differential %s profile: %zu vs %zu profiles", sd[0].type,
			 sd[0].profiles, sd[1].profiles);
	else
		snprintf(title, sizeof(title), "%s profile: %zu merged", sd[0].type, sd[0].profiles);
	reply_tree(req, &t, fmt, sd, two, title);
out:
	folded_tree_release(&t);
	return HTTP_DONE;
}

/* ---- GET /api/v1/profiles/{id} -------------------------------------------- */

struct stacks_json {
	struct json_w *w;
	const struct folded_tree *t;
	size_t n;
};

static int put_stack(void *ctx, const uint32_t *path, size_t depth, uint32_t node)
{
	struct stacks_json *sj = ctx;
	struct buf stack;
	buf_init(&stack, BUF_NO_LIMIT);
	for (size_t i = 0; i < depth; i++) {
		size_t len;
		const char *s = folded_name(sj->t, sj->t->nodes[path[i]].name, &len);
		if (i)
			buf_putc(&stack, ';');
		buf_append(&stack, s, len);
	}
	sj->n++;
	jw_obj_begin(sj->w);
	jw_kstr(sj->w, "stack", stack.data ? stack.data : "");
	jw_kuint(sj->w, "value", sj->t->nodes[node].self[0]);
	jw_obj_end(sj->w);
	buf_release(&stack);
	return 0;
}

static int get_profile(struct http_request *req)
{
	const char *idv = req->url + strlen("/api/v1/profiles/");
	struct profile_query q = {.with_data = 1, .limit = 1};
	struct profile_row *rows;
	struct folded_tree t;
	enum format fmt;
	size_t n;
	char *end, err[256];
	long long id = strtoll(idv, &end, 10);
	if (end == idv || *end || id < 1) {
		http_error(req, 404, "not_found", "no such profile: '%.64s' is not a profile id", idv);
		return HTTP_DONE;
	}
	if (parse_format(req, &fmt) < 0)
		return HTTP_DONE;
	q.id = id;
	int rc = store_profiles(req->srv->store, &q, &req->arena, &rows, &n, err, sizeof(err));
	if (rc < 0) {
		http_error_class(req, rc, "%s", err);
		return HTTP_DONE;
	}
	if (!n) {
		http_error(req, 404, "not_found", "profile %lld not found", id);
		return HTTP_DONE;
	}
	folded_tree_init(&t, NULL);
	if (folded_parse_buffer(&t, rows[0].folded, rows[0].folded_len, FOLDED_ONE_COUNT, 0, err,
				sizeof(err)) < 0 ||
	    folded_tree_finish(&t, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "profile %lld: %s", id, err);
		goto out;
	}
	if (fmt == FMT_JSON) {
		struct json_w w;
		struct stacks_json sj = {.w = &w, .t = &t};
		jw_init(&w, http_json(req));
		jw_obj_begin(&w);
		put_profile_meta(req, &w, &rows[0]);
		jw_karr_begin(&w, "stacks");
		folded_tree_walk(&t, put_stack, &sj);
		jw_arr_end(&w);
		jw_kuint(&w, "count", sj.n);
		jw_obj_end(&w);
	} else {
		struct side sd = {.prefix = "", .profiles = 1, .type = rows[0].type, .unit = rows[0].unit};
		char title[160];
		snprintf(title, sizeof(title), "%s %s profile %lld", rows[0].service, rows[0].type, id);
		reply_tree(req, &t, fmt, &sd, 0, title);
	}
out:
	folded_tree_release(&t);
	return HTTP_DONE;
}

const struct route profile_routes[] = {
	{"POST", "/api/v1/profiles", post_profile, NULL, 1, ROUTE_INGEST},
	{"GET", "/api/v1/profiles", list_profiles, NULL, 0},
	{"GET", "/api/v1/profiles/flamegraph", get_flamegraph, NULL, 0},
	{"GET", "/api/v1/profiles/*", get_profile, NULL, 0},
	{"POST", "/ingest", post_ingest, NULL, 1, ROUTE_INGEST},
	{NULL, NULL, NULL, NULL, 0},
};
