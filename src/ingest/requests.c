/*
 * requests.c - the seeds' request model into spans and gauges (see requests.h).
 *
 * Owns the mapping documented in docs/INGEST.md, "The seeds' request model":
 * one record becomes a SERVER root span, one INTERNAL child per entry of
 * `spans`, and gauge points for `resources`.  Parsing JSON is json_doc.c's
 * job.  A body is all or nothing: the first invalid record fails it.
 */
#include "ingest/requests.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "core/hex.h"
#include "core/strmap.h"
#include "core/log.h"
#include "core/json_doc.h"

#define MAX_RECORDS	100000
#define DAY_MS		86400000.0
#define DEFAULT_SERVICE "hotpath-requests"

/* Random ids, drawn from the kernel a pool at a time. */
struct ids {
	uint8_t pool[256];
	size_t left;
};

static void random_bytes(struct ids *r, uint8_t *out, size_t n)
{
	do {
		for (size_t i = 0; i < n; i++) {
			if (!r->left) {
				size_t got = 0;
				while (got < sizeof(r->pool)) {
					ssize_t k = getrandom(r->pool + got, sizeof(r->pool) - got, 0);
					if (k > 0)
						got += (size_t)k;
				}
				r->left = sizeof(r->pool);
			}
			out[i] = r->pool[--r->left];
		}
	} while (hex_is_zero(out, n)); /* zero means "absent" */
}

struct rec {
	struct batch *b;
	struct ids *ids;
	char *err;
	size_t errlen;
	char label[32]; /* "record 3" or "line 7" */
};

static int fail(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct rec *r, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return errf(r->err, r->errlen, "%s: %s", r->label, msg);
}

static int is_null(const struct json *v)
{
	return !v || v->type == JSON_NULL;
}

/* An optional string field; absent and null give NULL. */
static int opt_str(struct rec *r, const struct json *obj, const char *field, const char *name,
		   const char **out)
{
	const struct json *v = json_get(obj, field);
	*out = NULL;
	if (is_null(v))
		return 0;
	if (v->type != JSON_STRING)
		return fail(r, "%s must be a string", name);
	*out = arena_strndup(&r->b->arena, v->s, v->len);
	return 0;
}

/* A non-negative finite number of milliseconds, at most one day. */
static int duration_ms(struct rec *r, const struct json *v, const char *name, double *out)
{
	if (!v || v->type != JSON_NUMBER || json_double(v, out) < 0 || !isfinite(*out) || *out < 0)
		return fail(r, "%s must be a non-negative number", name);
	if (*out > DAY_MS)
		return fail(r, "%s must be at most %.0f (one day)", name, DAY_MS);
	return 0;
}

/* Exact for whole milliseconds, however large (a double holds 1e18 only approximately). */
static uint64_t ms_to_ns(double ms)
{
	double whole = floor(ms);
	return (uint64_t)whole * 1000000u + (uint64_t)llround((ms - whole) * 1e6);
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char **p, int n, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (unsigned)(**p - '0');
	}
	*out = v;
	return 0;
}

/* RFC 3339: 2024-05-01T12:00:00(.123456789)?(Z|+02:00), after 1970. */
static int parse_rfc3339(const char *s, uint64_t *ns)
{
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0;
	uint64_t frac = 0;
	int64_t off = 0;
	const char *p = s;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		int n = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 9)
				frac = frac * 10 + (uint64_t)(*p - '0');
		if (!n)
			return -1;
		for (; n < 9; n++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = sign * (int64_t)(oh * 3600 + om * 60);
	} else {
		return -1;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	if (t < 0 || y > 2200)
		return -1;
	*ns = (uint64_t)t * 1000000000u + frac;
	return 0;
}

/* `timestamp`: unix milliseconds or an RFC 3339 string. */
static int timestamp(struct rec *r, const struct json *v, uint64_t *ns)
{
	double ms;
	if (v->type == JSON_STRING && parse_rfc3339(v->s, ns) == 0)
		return 0;
	if (v->type == JSON_NUMBER && json_double(v, &ms) == 0 && ms >= 0 && ms < 7e12) {
		*ns = ms_to_ns(ms);
		return 0;
	}
	return fail(r, "timestamp must be unix milliseconds or an RFC 3339 date-time");
}

/* A UUID (with or without dashes) or 32 hex digits. */
static int parse_trace_id(const char *s, size_t len, uint8_t out[16])
{
	char hex[32];
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '-' && len == 36 && (i == 8 || i == 13 || i == 18 || i == 23))
			continue;
		if (n == 32)
			return -1;
		hex[n++] = s[i];
	}
	return n == 32 ? hex_decode(out, 16, hex, 32) : -1;
}

/* --- attributes ------------------------------------------------------------------ */

struct attrs {
	struct attr *a;
	uint32_t n, cap;
};

static struct attr *attr_add(struct rec *r, struct attrs *l, const char *key)
{
	size_t cap = l->cap;
	l->a = arena_grow(&r->b->arena, l->a, &cap, (size_t)l->n + 1, sizeof(*l->a));
	l->cap = (uint32_t)cap;
	struct attr *a = &l->a[l->n++];
	memset(a, 0, sizeof(*a));
	a->key = key;
	return a;
}

static void attr_string(struct rec *r, struct attrs *l, const char *key, const char *v)
{
	struct attr *a = attr_add(r, l, key);
	a->type = ATTR_STRING;
	a->v.s = v;
}

/*
 * Any other trace_id is an opaque request id (the seed's own example says
 * "uuid"): the trace id is derived from its hash, so the same id always
 * maps to the same trace, and the original is kept as hotpath.request_id.
 */
static void opaque_trace_id(struct rec *r, struct attrs *l, const char *id, size_t len, uint8_t out[16])
{
	uint64_t h1 = strmap_hash(id, len), h2 = strmap_hash(&h1, sizeof(h1)) | 1;
	memcpy(out, &h1, 8);
	memcpy(out + 8, &h2, 8);
	attr_string(r, l, "hotpath.request_id", arena_strndup(&r->b->arena, id, len));
}

/* A JSON number as an int attribute when it is an integer literal, else a double. */
static void attr_number(struct rec *r, struct attrs *l, const char *key, const struct json *v)
{
	struct attr *a = attr_add(r, l, key);
	if (!strpbrk(v->s, ".eE") && json_int64(v, &a->v.i) == 0) {
		a->type = ATTR_INT;
	} else {
		a->type = ATTR_DOUBLE;
		json_double(v, &a->v.d);
	}
}

/* `attributes`: a flat object of strings, numbers and booleans. */
static int user_attrs(struct rec *r, const struct json *obj, const char *name, struct attrs *l)
{
	if (is_null(obj))
		return 0;
	if (obj->type != JSON_OBJECT)
		return fail(r, "%s must be an object", name);
	for (const struct json *m = obj->child; m; m = m->next) {
		const char *key = arena_strndup(&r->b->arena, m->key, m->key_len);
		if (m->type == JSON_STRING) {
			attr_string(r, l, key, arena_strndup(&r->b->arena, m->s, m->len));
		} else if (m->type == JSON_NUMBER) {
			attr_number(r, l, key, m);
		} else if (m->type == JSON_TRUE || m->type == JSON_FALSE) {
			struct attr *a = attr_add(r, l, key);
			a->type = ATTR_BOOL;
			a->v.i = m->type == JSON_TRUE;
		} else {
			return fail(r, "%s.%s must be a string, number or boolean", name, key);
		}
	}
	return 0;
}

/* --- one record --------------------------------------------------------------------- */

static int make_resource(struct rec *r, const struct json *o, const struct resource **out)
{
	static const struct {
		const char *field, *key;
	} map[] = {
		{"service", "service.name"},
		{"version", "service.version"},
		{"environment", "deployment.environment.name"},
		{"department", "department"},
		{"intent", "intent.category"},
	};
	struct attrs l = {0};
	struct resource *res = arena_zalloc(&r->b->arena, sizeof(*res));
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const char *v;
		if (opt_str(r, o, map[i].field, map[i].field, &v) < 0)
			return -1;
		if (i == 0 && !v)
			v = DEFAULT_SERVICE;
		if (v)
			attr_string(r, &l, map[i].key, v);
	}
	res->attrs = l.a;
	res->n_attrs = l.n;
	resource_derive(res);
	*out = res;
	return 0;
}

static int check_span(struct rec *r, const struct span *s, const char *what)
{
	char why[160];
	if (span_validate(s, why, sizeof(why)) < 0)
		return fail(r, "%s: %s", what, why);
	return 0;
}

static int add_gauge(struct rec *r, const struct json *res, const char *field, const char *name,
		     const char *unit, double scale, const struct resource *resource, uint64_t t,
		     struct attrs *root_attrs)
{
	const struct json *v = json_get(res, field);
	double x;
	char key[64];
	if (is_null(v))
		return 0;
	if (v->type != JSON_NUMBER || json_double(v, &x) < 0 || !isfinite(x) || x < 0)
		return fail(r, "resources.%s must be a non-negative number", field);
	struct metric_point *p = batch_add_point(r->b);
	p->resource = resource;
	p->name = name;
	p->unit = unit;
	p->type = METRIC_GAUGE;
	p->time_ns = t;
	p->value = x * scale;
	snprintf(key, sizeof(key), "hotpath.resources.%s", field);
	attr_number(r, root_attrs, arena_strdup(&r->b->arena, key), v);
	return 0;
}

/* The children of the root span at `root_index`, laid end to end from its start. */
static int child_spans(struct rec *r, const struct json *arr, size_t root_index)
{
	uint64_t cursor = r->b->spans[root_index].start_ns;
	uint32_t i = 0;
	char name[48];
	if (is_null(arr))
		return 0;
	if (arr->type != JSON_ARRAY)
		return fail(r, "spans must be an array");
	for (const struct json *o = arr->child; o; o = o->next, i++) {
		double dur, off;
		struct attrs l = {0};
		if (o->type != JSON_OBJECT)
			return fail(r, "spans[%u] must be an object", i);
		const struct json *nm = json_get(o, "name");
		if (!nm || nm->type != JSON_STRING || !nm->len)
			return fail(r, "spans[%u].name must be a non-empty string", i);
		snprintf(name, sizeof(name), "spans[%u].duration_ms", i);
		if (duration_ms(r, json_get(o, "duration_ms"), name, &dur) < 0)
			return -1;
		const struct json *so = json_get(o, "start_offset_ms");
		snprintf(name, sizeof(name), "spans[%u].start_offset_ms", i);
		if (!is_null(so) && duration_ms(r, so, name, &off) < 0)
			return -1;
		snprintf(name, sizeof(name), "spans[%u].attributes", i);
		if (user_attrs(r, json_get(o, "attributes"), name, &l) < 0)
			return -1;

		/* batch_add_span() may move the array: copy what the child needs first */
		struct span parent = r->b->spans[root_index];
		struct span *s = batch_add_span(r->b);
		memcpy(s->trace_id, parent.trace_id, 16);
		memcpy(s->parent_span_id, parent.span_id, 8);
		random_bytes(r->ids, s->span_id, 8);
		s->name = arena_strndup(&r->b->arena, nm->s, nm->len);
		s->kind = SPAN_KIND_INTERNAL;
		s->resource = parent.resource;
		s->start_ns = is_null(so) ? cursor : parent.start_ns + ms_to_ns(off);
		s->end_ns = s->start_ns + ms_to_ns(dur);
		s->attrs = l.a;
		s->n_attrs = l.n;
		cursor = s->end_ns;
		snprintf(name, sizeof(name), "spans[%u]", i);
		if (check_span(r, s, name) < 0)
			return -1;
	}
	return 0;
}

static int decode_record(struct rec *r, const struct json *o, uint64_t now_ns)
{
	const struct json *req, *v;
	const char *method, *path, *tool, *status = NULL;
	const struct resource *res;
	struct attrs l = {0};
	double dur;
	uint64_t start = 0;

	if (o->type != JSON_OBJECT)
		return fail(r, "want an object");
	req = json_get(o, "request");
	if (!req || req->type != JSON_OBJECT)
		return fail(r, "request must be an object");
	if (opt_str(r, req, "method", "request.method", &method) < 0 ||
	    opt_str(r, req, "path", "request.path", &path) < 0 ||
	    opt_str(r, req, "tool", "request.tool", &tool) < 0 ||
	    duration_ms(r, json_get(req, "duration_ms"), "request.duration_ms", &dur) < 0 ||
	    opt_str(r, o, "status", "status", &status) < 0 || make_resource(r, o, &res) < 0)
		return -1;
	if (status && strcmp(status, "ok") && strcmp(status, "error") && strcmp(status, "timeout"))
		return fail(r, "status must be \"ok\", \"error\" or \"timeout\"");
	v = json_get(o, "timestamp");
	if (!is_null(v)) {
		if (timestamp(r, v, &start) < 0)
			return -1;
	} else {
		start = now_ns > ms_to_ns(dur) ? now_ns - ms_to_ns(dur) : 0;
	}

	struct span *s = batch_add_span(r->b);
	size_t root_index = r->b->n_spans - 1;
	v = json_get(o, "trace_id");
	if (is_null(v))
		random_bytes(r->ids, s->trace_id, 16);
	else if (v->type != JSON_STRING)
		return fail(r, "trace_id must be a string: a UUID or 32 hex digits");
	else if (v->len == 0 || v->len > 256)
		return fail(r, "trace_id must be a UUID, 32 hex digits or an id of 1 to 256 characters");
	else if (parse_trace_id(v->s, v->len, s->trace_id) < 0)
		opaque_trace_id(r, &l, v->s, v->len, s->trace_id);
	else if (hex_is_zero(s->trace_id, 16))
		return fail(r, "trace_id must not be all zeros");
	random_bytes(r->ids, s->span_id, 8);
	s->kind = SPAN_KIND_SERVER;
	s->resource = res;
	s->start_ns = start;
	s->end_ns = start + ms_to_ns(dur);
	if (method && path) {
		size_t n = strlen(method) + strlen(path) + 2;
		char *name = arena_alloc(&r->b->arena, n);
		snprintf(name, n, "%s %s", method, path);
		s->name = name;
	} else {
		s->name = path ? path : "request";
	}
	if (status)
		s->status = strcmp(status, "ok") == 0 ? SPAN_STATUS_OK : SPAN_STATUS_ERROR;

	if (method)
		attr_string(r, &l, "http.request.method", method);
	if (path) {
		attr_string(r, &l, "http.route", path);
		attr_string(r, &l, "url.path", path);
	}
	if (tool) {
		attr_string(r, &l, "gen_ai.tool.name", tool);
		attr_string(r, &l, "tool.name", tool);
	}
	if (status && strcmp(status, "timeout") == 0)
		attr_string(r, &l, "error.type", "timeout");

	v = json_get(o, "resources");
	if (!is_null(v)) {
		uint64_t end = s->end_ns;
		if (v->type != JSON_OBJECT)
			return fail(r, "resources must be an object");
		if (add_gauge(r, v, "cpu_percent", "process.cpu.utilization", "1", 0.01, res, end, &l) < 0 ||
		    add_gauge(r, v, "memory_mb", "process.memory.usage", "By", 1048576.0, res, end, &l) < 0 ||
		    add_gauge(r, v, "db_connections", "db.client.connection.count", "{connection}", 1.0, res,
			      end, &l) < 0)
			return -1;
	}
	if (user_attrs(r, json_get(o, "attributes"), "attributes", &l) < 0)
		return -1;
	s->attrs = l.a;
	s->n_attrs = l.n;
	if (check_span(r, s, "request") < 0)
		return -1;
	return child_spans(r, json_get(o, "spans"), root_index);
}

/* --- the body ------------------------------------------------------------------------- */

int requests_decode(struct batch *b, const char *data, size_t len, uint64_t now_ns, char *err, size_t errlen)
{
	struct json_doc doc;
	struct ids ids = {.left = 0};
	struct rec r = {.b = b, .ids = &ids, .err = err, .errlen = errlen};
	size_t n_spans = b->n_spans, n_points = b->n_points;
	const struct json *list, *first;
	int rc = -1, ndjson;

	if (json_doc_parse(&doc, data, len, JSON_DOC_MULTI, err, errlen) < 0)
		goto out;
	list = doc.root;
	first = list->child;
	ndjson = list->len > 1;
	if (list->len == 1 && first->type == JSON_ARRAY) /* a JSON array of records */
		list = first;
	if (list->len > MAX_RECORDS) {
		errf(err, errlen, "%u records in one body, at most %d", list->len, MAX_RECORDS);
		goto out;
	}
	/* line numbers for NDJSON, counted as we go */
	size_t at = 0;
	unsigned line = 1, i = 1;
	for (const struct json *o = list->child; o; o = o->next, i++) {
		if (ndjson) {
			for (; at < o->offset && at < len; at++)
				line += data[at] == '\n';
			snprintf(r.label, sizeof(r.label), "line %u", line);
		} else {
			snprintf(r.label, sizeof(r.label), "record %u", i);
		}
		if (decode_record(&r, o, now_ns) < 0)
			goto out;
	}
	rc = 0;
out:
	if (rc < 0) { /* all or nothing */
		b->n_spans = n_spans;
		b->n_points = n_points;
	}
	json_doc_release(&doc);
	return rc;
}
