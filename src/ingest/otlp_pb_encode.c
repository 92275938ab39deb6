/*
 * otlp_pb_encode.c - OTLP/HTTP binary protobuf out: a batch as an
 * ExportTraceServiceRequest or ExportMetricsServiceRequest (the demo, the
 * benchmarks, tests), and the server's responses and google.rpc.Status.
 *
 * Attributes the decoder kept as ATTR_JSON text (arrays, key-value lists,
 * bytes; see otlp_pb.c) go back to AnyValues through the JSON reader
 * (core/json_doc.h).
 */
#include "ingest/otlp_pb.h"

#include <string.h>

#include "core/alloc.h"
#include "core/hex.h"
#include "core/json_doc.h"
#include "google/rpc/status.pb-c.h"
#include "ingest/otlp_pb_types.h"

static void number_of(const struct json *j, pb_any *v);
static void array_of(struct arena *a, const struct json *j, pb_any *v);
static void kvlist_of(struct arena *a, const struct json *j, pb_any *v);

/* ------------------------------------------------------------------------ */
/* ATTR_JSON text back to AnyValue.                                         */

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Standard or URL-safe base64, padding optional; -1 if `s` is not base64. */
static int b64_decode(struct arena *a, const char *s, ProtobufCBinaryData *out)
{
	size_t n = strlen(s);
	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	uint8_t *o = arena_alloc(a, n * 3 / 4 + 1);
	size_t len = 0;
	uint32_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			o[len++] = (uint8_t)(acc >> 16);
			o[len++] = (uint8_t)(acc >> 8);
			o[len++] = (uint8_t)acc;
			acc = 0;
		}
	}
	if (n % 4 == 2)
		o[len++] = (uint8_t)(acc >> 4);
	else if (n % 4 == 3) {
		o[len++] = (uint8_t)(acc >> 10);
		o[len++] = (uint8_t)(acc >> 2);
	}
	out->data = o;
	out->len = len;
	return 0;
}

/* A JSON value of the document as an AnyValue, its strings copied into `a`. */
static pb_any *any_of(struct arena *a, const struct json *j)
{
	pb_any *v = arena_alloc(a, sizeof(*v));
	opentelemetry__proto__common__v1__any_value__init(v);
	switch (j->type) {
	case JSON_NULL: break;
	case JSON_TRUE:
	case JSON_FALSE:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
		v->bool_value = j->type == JSON_TRUE;
		break;
	case JSON_STRING:
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		v->string_value = arena_strndup(a, j->s, j->len);
		break;
	case JSON_NUMBER: number_of(j, v); break;
	case JSON_ARRAY: array_of(a, j, v); break;
	case JSON_OBJECT: kvlist_of(a, j, v); break;
	}
	return v;
}

/* An integer literal stays an int; a fraction or an exponent makes a double. */
static void number_of(const struct json *j, pb_any *v)
{
	int64_t i;
	if (!strpbrk(j->s, ".eE") && json_int64(j, &i) == 0) {
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
		v->int_value = i;
		return;
	}
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
	json_double(j, &v->double_value);
}

static void array_of(struct arena *a, const struct json *j, pb_any *v)
{
	pb_array *arr = arena_alloc(a, sizeof(*arr));
	opentelemetry__proto__common__v1__array_value__init(arr);
	arr->values = arena_alloc(a, (j->len ? j->len : 1) * sizeof(*arr->values));
	for (const struct json *e = j->child; e; e = e->next)
		arr->values[arr->n_values++] = any_of(a, e);
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
	v->array_value = arr;
}

static void kvlist_of(struct arena *a, const struct json *j, pb_any *v)
{
	pb_kvlist *l = arena_alloc(a, sizeof(*l));
	opentelemetry__proto__common__v1__key_value_list__init(l);
	l->values = arena_alloc(a, (j->len ? j->len : 1) * sizeof(*l->values));
	for (const struct json *m = j->child; m; m = m->next) {
		pb_kv *kv = arena_alloc(a, sizeof(*kv));
		opentelemetry__proto__common__v1__key_value__init(kv);
		kv->key = arena_strndup(a, m->key, m->key_len);
		kv->value = any_of(a, m);
		l->values[l->n_values++] = kv;
	}
	v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
	v->kvlist_value = l;
}

/*
 * ATTR_JSON text as an AnyValue.  A top-level JSON string can only have come
 * from bytes (strings are ATTR_STRING), so it is base64-decoded back into
 * bytes.  Text that is not JSON travels as a plain string.
 */
static pb_any *json_to_any(struct arena *a, const char *text)
{
	struct json_doc doc;
	char err[128];
	pb_any *v = NULL;
	if (json_doc_parse(&doc, text, strlen(text), 0, err, sizeof(err)) == 0 && doc.root)
		v = any_of(a, doc.root);
	json_doc_release(&doc);
	if (v && v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE) {
		ProtobufCBinaryData bin;
		if (b64_decode(a, v->string_value, &bin) == 0) {
			v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
			v->bytes_value = bin;
		}
	}
	if (!v) {
		v = arena_alloc(a, sizeof(*v));
		opentelemetry__proto__common__v1__any_value__init(v);
		v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		v->string_value = (char *)text;
	}
	return v;
}

/* ------------------------------------------------------------------------ */
/* Encoding: batch to protobuf-c messages.                                  */

static char *enc_str(const char *s)
{
	return (char *)(s ? s : "");
}

static pb_kv **enc_attrs(struct arena *a, const struct attr *attrs, uint32_t n)
{
	pb_kv **out = arena_alloc(a, (n ? n : 1) * sizeof(*out));
	for (uint32_t i = 0; i < n; i++) {
		pb_kv *kv = arena_alloc(a, sizeof(*kv));
		pb_any *v;
		opentelemetry__proto__common__v1__key_value__init(kv);
		kv->key = enc_str(attrs[i].key);
		if (attrs[i].type == ATTR_JSON) {
			v = json_to_any(a, attrs[i].v.s ? attrs[i].v.s : "null");
		} else {
			v = arena_alloc(a, sizeof(*v));
			opentelemetry__proto__common__v1__any_value__init(v);
			switch (attrs[i].type) {
			case ATTR_BOOL:
				v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
				v->bool_value = attrs[i].v.i != 0;
				break;
			case ATTR_INT:
				v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
				v->int_value = attrs[i].v.i;
				break;
			case ATTR_DOUBLE:
				v->value_case =
					OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
				v->double_value = attrs[i].v.d;
				break;
			default:
				v->value_case =
					OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
				v->string_value = enc_str(attrs[i].v.s);
				break;
			}
		}
		kv->value = v;
		out[i] = kv;
	}
	return out;
}

static pb_resource *enc_resource(struct arena *a, const struct resource *r)
{
	pb_resource *pr = arena_alloc(a, sizeof(*pr));
	opentelemetry__proto__resource__v1__resource__init(pr);
	if (r) {
		pr->attributes = enc_attrs(a, r->attrs, r->n_attrs);
		pr->n_attributes = r->n_attrs;
	}
	return pr;
}

static ProtobufCBinaryData enc_bytes(const uint8_t *p, size_t n)
{
	ProtobufCBinaryData d = {n, (uint8_t *)p};
	return d;
}

static pb_span *enc_span(struct arena *a, const struct span *s)
{
	pb_span *p = arena_alloc(a, sizeof(*p));
	opentelemetry__proto__trace__v1__span__init(p);
	p->trace_id = enc_bytes(s->trace_id, 16);
	p->span_id = enc_bytes(s->span_id, 8);
	if (!hex_is_zero(s->parent_span_id, 8))
		p->parent_span_id = enc_bytes(s->parent_span_id, 8);
	p->name = enc_str(s->name);
	p->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)s->kind;
	p->start_time_unix_nano = s->start_ns;
	p->end_time_unix_nano = s->end_ns;
	p->attributes = enc_attrs(a, s->attrs, s->n_attrs);
	p->n_attributes = s->n_attrs;
	if (s->n_events) {
		p->events = arena_alloc(a, s->n_events * sizeof(*p->events));
		p->n_events = s->n_events;
		for (uint32_t i = 0; i < s->n_events; i++) {
			pb_event *e = arena_alloc(a, sizeof(*e));
			opentelemetry__proto__trace__v1__span__event__init(e);
			e->time_unix_nano = s->events[i].time_ns;
			e->name = enc_str(s->events[i].name);
			e->attributes = enc_attrs(a, s->events[i].attrs, s->events[i].n_attrs);
			e->n_attributes = s->events[i].n_attrs;
			p->events[i] = e;
		}
	}
	if (s->n_links) {
		p->links = arena_alloc(a, s->n_links * sizeof(*p->links));
		p->n_links = s->n_links;
		for (uint32_t i = 0; i < s->n_links; i++) {
			pb_link *l = arena_alloc(a, sizeof(*l));
			opentelemetry__proto__trace__v1__span__link__init(l);
			l->trace_id = enc_bytes(s->links[i].trace_id, 16);
			l->span_id = enc_bytes(s->links[i].span_id, 8);
			l->attributes = enc_attrs(a, s->links[i].attrs, s->links[i].n_attrs);
			l->n_attributes = s->links[i].n_attrs;
			p->links[i] = l;
		}
	}
	if (s->status != SPAN_STATUS_UNSET || s->status_message) {
		pb_status *st = arena_alloc(a, sizeof(*st));
		opentelemetry__proto__trace__v1__status__init(st);
		st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)s->status;
		st->message = enc_str(s->status_message);
		p->status = st;
	}
	return p;
}

static int pack_into(const ProtobufCMessage *m, struct buf *out)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	if (buf_reserve(out, n) < 0)
		return -1;
	protobuf_c_message_pack(m, (uint8_t *)out->data + out->len);
	out->len += n;
	out->data[out->len] = 0;
	return 0;
}

/*
 * Grouping for the encoders: items with equal (ptr, s1, s2, k) share a
 * group; groups are numbered in order of first appearance.  A hash table
 * keeps it linear in the number of items.
 */
struct gkey {
	const void *ptr;
	const char *s1, *s2;
	int k;
};

static uint64_t gkey_hash(const struct gkey *g)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)g->ptr ^ (uint64_t)g->k << 48;
	for (const char *s = g->s1 ? g->s1 : ""; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (const char *s = g->s2 ? g->s2 : ""; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h ^ h >> 29;
}

static int str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static int gkey_eq(const struct gkey *a, const struct gkey *b)
{
	return a->ptr == b->ptr && a->k == b->k && str_eq(a->s1, b->s1) && str_eq(a->s2, b->s2);
}

/* Fill group_of[i] for each key; returns the number of groups. */
static size_t group_keys(struct arena *a, const struct gkey *keys, size_t n, size_t *group_of)
{
	size_t cap = 16, ngroups = 0;
	while (cap < 2 * n)
		cap *= 2;
	size_t *slot = arena_zalloc(a, cap * sizeof(*slot)); /* first item index + 1 */
	for (size_t i = 0; i < n; i++) {
		if (i && gkey_eq(&keys[i], &keys[i - 1])) {
			group_of[i] = group_of[i - 1];
			continue;
		}
		size_t h = (size_t)gkey_hash(&keys[i]) & (cap - 1);
		while (slot[h] && !gkey_eq(&keys[slot[h] - 1], &keys[i]))
			h = (h + 1) & (cap - 1);
		if (slot[h]) {
			group_of[i] = group_of[slot[h] - 1];
		} else {
			slot[h] = i + 1;
			group_of[i] = ngroups++;
		}
	}
	return ngroups;
}

/*
 * Two-level grouping shared by both encoders: items into groups by `keys`,
 * groups into resources by their resource pointer.  Outputs, all in `a`:
 * group_of[item], res_of[group], first[group] (first item), the counts.
 */
struct grouping {
	size_t *group_of, *res_of, *first, *n_items, *n_groups_of_res;
	size_t ngroups, nres;
};

static void group_two_levels(struct arena *a, const struct gkey *keys, size_t n, struct grouping *g)
{
	g->group_of = arena_alloc(a, (n ? n : 1) * sizeof(size_t));
	g->ngroups = group_keys(a, keys, n, g->group_of);
	g->first = arena_alloc(a, (g->ngroups ? g->ngroups : 1) * sizeof(size_t));
	g->n_items = arena_zalloc(a, (g->ngroups ? g->ngroups : 1) * sizeof(size_t));
	for (size_t i = n; i-- > 0;) {
		g->first[g->group_of[i]] = i;
		g->n_items[g->group_of[i]]++;
	}
	struct gkey *rkeys = arena_zalloc(a, (g->ngroups ? g->ngroups : 1) * sizeof(*rkeys));
	for (size_t i = 0; i < g->ngroups; i++)
		rkeys[i].ptr = keys[g->first[i]].ptr;
	g->res_of = arena_alloc(a, (g->ngroups ? g->ngroups : 1) * sizeof(size_t));
	g->nres = group_keys(a, rkeys, g->ngroups, g->res_of);
	g->n_groups_of_res = arena_zalloc(a, (g->nres ? g->nres : 1) * sizeof(size_t));
	for (size_t i = 0; i < g->ngroups; i++)
		g->n_groups_of_res[g->res_of[i]]++;
}

int otlp_pb_encode_traces(const struct batch *b, struct buf *out)
{
	struct arena a = ARENA_INIT;
	struct grouping g;
	size_t n = b->n_spans;
	pb_trace_request req;
	int rc;

	opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(&req);
	struct gkey *keys = arena_alloc(&a, (n ? n : 1) * sizeof(*keys));
	for (size_t i = 0; i < n; i++) {
		const struct span *s = &b->spans[i];
		keys[i] = (struct gkey){s->resource, s->scope_name, s->scope_version, 0};
	}
	group_two_levels(&a, keys, n, &g);

	pb_resource_spans **rs = arena_alloc(&a, (g.nres ? g.nres : 1) * sizeof(*rs));
	for (size_t r = 0; r < g.nres; r++) {
		rs[r] = arena_alloc(&a, sizeof(*rs[r]));
		opentelemetry__proto__trace__v1__resource_spans__init(rs[r]);
		rs[r]->scope_spans = arena_alloc(&a, g.n_groups_of_res[r] * sizeof(*rs[r]->scope_spans));
	}
	pb_scope_spans **ss = arena_alloc(&a, (g.ngroups ? g.ngroups : 1) * sizeof(*ss));
	for (size_t i = 0; i < g.ngroups; i++) {
		const struct span *s = &b->spans[g.first[i]];
		pb_resource_spans *r = rs[g.res_of[i]];
		ss[i] = arena_alloc(&a, sizeof(*ss[i]));
		opentelemetry__proto__trace__v1__scope_spans__init(ss[i]);
		ss[i]->spans = arena_alloc(&a, g.n_items[i] * sizeof(*ss[i]->spans));
		if (s->scope_name || s->scope_version) {
			pb_scope *sc = arena_alloc(&a, sizeof(*sc));
			opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
			sc->name = enc_str(s->scope_name);
			sc->version = enc_str(s->scope_version);
			ss[i]->scope = sc;
		}
		if (!r->resource)
			r->resource = enc_resource(&a, s->resource);
		r->scope_spans[r->n_scope_spans++] = ss[i];
	}
	for (size_t i = 0; i < n; i++) {
		pb_scope_spans *sc = ss[g.group_of[i]];
		sc->spans[sc->n_spans++] = enc_span(&a, &b->spans[i]);
	}
	req.n_resource_spans = g.nres;
	req.resource_spans = rs;
	rc = pack_into(&req.base, out);
	arena_release(&a);
	return rc;
}

static Opentelemetry__Proto__Metrics__V1__NumberDataPoint *enc_number_point(struct arena *a,
									    const struct metric_point *p)
{
	pb_number_point *np = arena_alloc(a, sizeof(*np));
	opentelemetry__proto__metrics__v1__number_data_point__init(np);
	np->start_time_unix_nano = p->start_ns;
	np->time_unix_nano = p->time_ns;
	np->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
	np->as_double = p->value;
	np->attributes = enc_attrs(a, p->attrs, p->n_attrs);
	np->n_attributes = p->n_attrs;
	return np;
}

static pb_histogram_point *enc_histogram_point(struct arena *a, const struct metric_point *p)
{
	pb_histogram_point *hp = arena_alloc(a, sizeof(*hp));
	opentelemetry__proto__metrics__v1__histogram_data_point__init(hp);
	hp->start_time_unix_nano = p->start_ns;
	hp->time_unix_nano = p->time_ns;
	hp->count = p->count;
	hp->sum = p->sum;
	hp->n_explicit_bounds = p->n_bounds;
	hp->explicit_bounds = p->bounds;
	hp->n_bucket_counts = p->bucket_counts ? p->n_bounds + 1 : 0;
	hp->bucket_counts = p->bucket_counts;
	hp->attributes = enc_attrs(a, p->attrs, p->n_attrs);
	hp->n_attributes = p->n_attrs;
	return hp;
}

/* An empty Metric of the type of `p`, with room for `n` points. */
static pb_metric *enc_metric(struct arena *a, const struct metric_point *p, size_t n)
{
	pb_metric *m = arena_alloc(a, sizeof(*m));
	opentelemetry__proto__metrics__v1__metric__init(m);
	m->name = enc_str(p->name);
	m->unit = enc_str(p->unit);
	if (p->type == METRIC_HISTOGRAM) {
		pb_histogram *h = arena_alloc(a, sizeof(*h));
		opentelemetry__proto__metrics__v1__histogram__init(h);
		h->aggregation_temporality =
			OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
		h->data_points = arena_alloc(a, n * sizeof(*h->data_points));
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
		m->histogram = h;
	} else if (p->type == METRIC_SUM) {
		pb_sum *s = arena_alloc(a, sizeof(*s));
		opentelemetry__proto__metrics__v1__sum__init(s);
		s->aggregation_temporality =
			OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE;
		s->is_monotonic = 1;
		s->data_points = arena_alloc(a, n * sizeof(*s->data_points));
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
		m->sum = s;
	} else {
		pb_gauge *gg = arena_alloc(a, sizeof(*gg));
		opentelemetry__proto__metrics__v1__gauge__init(gg);
		gg->data_points = arena_alloc(a, n * sizeof(*gg->data_points));
		m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
		m->gauge = gg;
	}
	return m;
}

static void enc_add_point(struct arena *a, pb_metric *m, const struct metric_point *p)
{
	if (m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM)
		m->histogram->data_points[m->histogram->n_data_points++] = enc_histogram_point(a, p);
	else if (m->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM)
		m->sum->data_points[m->sum->n_data_points++] = enc_number_point(a, p);
	else
		m->gauge->data_points[m->gauge->n_data_points++] = enc_number_point(a, p);
}

int otlp_pb_encode_metrics(const struct batch *b, struct buf *out)
{
	struct arena a = ARENA_INIT;
	struct grouping g;
	size_t n = b->n_points;
	pb_metrics_request req;
	int rc;

	opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__init(&req);
	struct gkey *keys = arena_alloc(&a, (n ? n : 1) * sizeof(*keys));
	for (size_t i = 0; i < n; i++) {
		const struct metric_point *p = &b->points[i];
		keys[i] = (struct gkey){p->resource, p->name, p->unit, p->type};
	}
	group_two_levels(&a, keys, n, &g);

	/* one ResourceMetrics per resource, holding one ScopeMetrics */
	pb_resource_metrics **rm = arena_alloc(&a, (g.nres ? g.nres : 1) * sizeof(*rm));
	for (size_t r = 0; r < g.nres; r++) {
		pb_scope_metrics *sm = arena_alloc(&a, sizeof(*sm));
		opentelemetry__proto__metrics__v1__scope_metrics__init(sm);
		sm->metrics = arena_alloc(&a, g.n_groups_of_res[r] * sizeof(*sm->metrics));
		rm[r] = arena_alloc(&a, sizeof(*rm[r]));
		opentelemetry__proto__metrics__v1__resource_metrics__init(rm[r]);
		rm[r]->scope_metrics = arena_alloc(&a, sizeof(*rm[r]->scope_metrics));
		rm[r]->scope_metrics[0] = sm;
		rm[r]->n_scope_metrics = 1;
	}
	pb_metric **metrics = arena_alloc(&a, (g.ngroups ? g.ngroups : 1) * sizeof(*metrics));
	for (size_t i = 0; i < g.ngroups; i++) {
		const struct metric_point *p = &b->points[g.first[i]];
		pb_resource_metrics *r = rm[g.res_of[i]];
		pb_scope_metrics *sm = r->scope_metrics[0];
		metrics[i] = enc_metric(&a, p, g.n_items[i]);
		if (!r->resource)
			r->resource = enc_resource(&a, p->resource);
		sm->metrics[sm->n_metrics++] = metrics[i];
	}
	for (size_t i = 0; i < n; i++)
		enc_add_point(&a, metrics[g.group_of[i]], &b->points[i]);
	req.n_resource_metrics = g.nres;
	req.resource_metrics = rm;
	rc = pack_into(&req.base, out);
	arena_release(&a);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Responses.                                                               */

int otlp_pb_encode_response(struct buf *out, int metrics, uint64_t rejected, const char *message)
{
	int64_t n = rejected > INT64_MAX ? INT64_MAX : (int64_t)rejected;
	if (metrics) {
		Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse r;
		Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsPartialSuccess ps;
		opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__init(&r);
		opentelemetry__proto__collector__metrics__v1__export_metrics_partial_success__init(&ps);
		if (rejected) {
			ps.rejected_data_points = n;
			ps.error_message = enc_str(message);
			r.partial_success = &ps;
		}
		return pack_into(&r.base, out);
	}
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps;
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__init(&r);
	opentelemetry__proto__collector__trace__v1__export_trace_partial_success__init(&ps);
	if (rejected) {
		ps.rejected_spans = n;
		ps.error_message = enc_str(message);
		r.partial_success = &ps;
	}
	return pack_into(&r.base, out);
}

int otlp_pb_encode_status(struct buf *out, int code, const char *message)
{
	Google__Rpc__Status st;
	google__rpc__status__init(&st);
	st.code = code;
	st.message = enc_str(message);
	return pack_into(&st.base, out);
}
