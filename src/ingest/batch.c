/* batch.c - the decoded batch and its helpers (see batch.h). */
#include "ingest/batch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hex.h"
#include "core/log.h"

void batch_init(struct batch *b)
{
	memset(b, 0, sizeof(*b));
	arena_init(&b->arena);
}

void batch_release(struct batch *b)
{
	arena_release(&b->arena);
	free(b->spans);
	free(b->points);
	batch_init(b);
}

void batch_reset(struct batch *b)
{
	arena_reset(&b->arena);
	b->n_spans = b->n_points = 0;
	b->rejected = 0;
	b->reject_msg[0] = 0;
}

struct span *batch_add_span(struct batch *b)
{
	b->spans = xgrow(b->spans, &b->cap_spans, b->n_spans + 1, sizeof(*b->spans));
	struct span *s = &b->spans[b->n_spans++];
	memset(s, 0, sizeof(*s));
	return s;
}

void batch_drop_last_span(struct batch *b)
{
	if (b->n_spans)
		b->n_spans--;
}

struct metric_point *batch_add_point(struct batch *b)
{
	b->points = xgrow(b->points, &b->cap_points, b->n_points + 1, sizeof(*b->points));
	struct metric_point *p = &b->points[b->n_points++];
	memset(p, 0, sizeof(*p));
	return p;
}

void batch_reject(struct batch *b, const char *fmt, ...)
{
	if (b->rejected++ == 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(b->reject_msg, sizeof(b->reject_msg), fmt, ap);
		va_end(ap);
	}
}

int attrs_to_json(struct buf *b, const struct attr *a, uint32_t n)
{
	int r = buf_putc(b, '{');
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			r |= buf_putc(b, ',');
		r |= buf_put_json_str(b, a[i].key);
		r |= buf_putc(b, ':');
		switch (a[i].type) {
		case ATTR_STRING: r |= buf_put_json_str(b, a[i].v.s); break;
		case ATTR_JSON: r |= buf_puts(b, a[i].v.s && *a[i].v.s ? a[i].v.s : "null"); break;
		case ATTR_BOOL: r |= buf_puts(b, a[i].v.i ? "true" : "false"); break;
		case ATTR_INT: r |= buf_printf(b, "%lld", (long long)a[i].v.i); break;
		default: r |= buf_put_json_double(b, a[i].v.d);
		}
	}
	return r | buf_putc(b, '}');
}

const struct attr *attr_find(const struct attr *attrs, uint32_t n, const char *key)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(attrs[i].key, key) == 0)
			return &attrs[i];
	return NULL;
}

const char *attr_str(const struct attr *attrs, uint32_t n, const char *key)
{
	const struct attr *a = attr_find(attrs, n, key);
	return a && a->type == ATTR_STRING ? a->v.s : NULL;
}

/* The first present string attribute among `keys` (NULL-terminated). */
static const char *first_str(const struct resource *r, const char *const *keys)
{
	for (; *keys; keys++) {
		const char *v = attr_str(r->attrs, r->n_attrs, *keys);
		if (v && *v)
			return v;
	}
	return NULL;
}

void resource_derive(struct resource *r)
{
	static const char *const service[] = {"service.name", NULL};
	static const char *const version[] = {"service.version", NULL};
	static const char *const env[] = {"deployment.environment.name", "deployment.environment", NULL};
	static const char *const ns[] = {"service.namespace", NULL};
	static const char *const dept[] = {"department", "team",	   "service.team",
					   "team.name",	 "org.department", NULL};
	static const char *const intent[] = {"intent.category", "intent", NULL};

	r->service_name = first_str(r, service);
	if (!r->service_name)
		r->service_name = "unknown_service";
	r->service_version = first_str(r, version);
	r->environment = first_str(r, env);
	r->service_namespace = first_str(r, ns);
	r->department = first_str(r, dept);
	r->intent = first_str(r, intent);
}

static const char *dup_str(struct arena *a, const char *s)
{
	return s ? arena_strdup(a, s) : NULL;
}

static struct attr *copy_attrs(struct arena *a, const struct attr *src, uint32_t n)
{
	if (!n)
		return NULL;
	struct attr *dst = arena_alloc(a, n * sizeof(*dst));
	for (uint32_t i = 0; i < n; i++) {
		dst[i] = src[i];
		dst[i].key = dup_str(a, src[i].key);
		if (src[i].type == ATTR_STRING || src[i].type == ATTR_JSON)
			dst[i].v.s = dup_str(a, src[i].v.s);
	}
	return dst;
}

void span_copy(struct arena *a, struct span *dst, const struct span *src)
{
	*dst = *src;
	dst->name = dup_str(a, src->name);
	dst->status_message = dup_str(a, src->status_message);
	dst->scope_name = dup_str(a, src->scope_name);
	dst->scope_version = dup_str(a, src->scope_version);
	dst->attrs = copy_attrs(a, src->attrs, src->n_attrs);
	dst->events = src->n_events ? arena_alloc(a, src->n_events * sizeof(*dst->events)) : NULL;
	for (uint32_t i = 0; i < src->n_events; i++) {
		dst->events[i] = src->events[i];
		dst->events[i].name = dup_str(a, src->events[i].name);
		dst->events[i].attrs = copy_attrs(a, src->events[i].attrs, src->events[i].n_attrs);
	}
	dst->links = src->n_links ? arena_alloc(a, src->n_links * sizeof(*dst->links)) : NULL;
	for (uint32_t i = 0; i < src->n_links; i++) {
		dst->links[i] = src->links[i];
		dst->links[i].attrs = copy_attrs(a, src->links[i].attrs, src->links[i].n_attrs);
	}
}

struct resource *resource_copy(struct arena *a, const struct resource *r)
{
	struct resource *c = arena_zalloc(a, sizeof(*c));
	c->attrs = copy_attrs(a, r->attrs, r->n_attrs);
	c->n_attrs = r->n_attrs;
	resource_derive(c);
	return c;
}

static int attr_same(const struct attr *x, const struct attr *y)
{
	if (x->type != y->type || strcmp(x->key, y->key))
		return 0;
	switch (x->type) {
	case ATTR_STRING:
	case ATTR_JSON: return (x->v.s == y->v.s) || (x->v.s && y->v.s && !strcmp(x->v.s, y->v.s));
	case ATTR_DOUBLE: return x->v.d == y->v.d;
	default: return x->v.i == y->v.i;
	}
}

int resource_same(const struct resource *x, const struct resource *y)
{
	if (x == y)
		return 1;
	if (!x || !y || x->n_attrs != y->n_attrs)
		return 0;
	for (uint32_t i = 0; i < x->n_attrs; i++)
		if (!attr_same(&x->attrs[i], &y->attrs[i]))
			return 0;
	return 1;
}

int span_validate(const struct span *s, char *err, size_t errlen)
{
	if (hex_is_zero(s->trace_id, sizeof(s->trace_id)))
		return errf(err, errlen, "span has an all-zero trace id");
	if (hex_is_zero(s->span_id, sizeof(s->span_id)))
		return errf(err, errlen, "span has an all-zero span id");
	if (!s->start_ns)
		return errf(err, errlen, "span has no start time");
	if (s->start_ns >= SPAN_TIME_MAX_NS)
		return errf(err, errlen,
			    "span starts after 2200-01-01: a time in nanoseconds since 1970 is expected");
	if (s->end_ns < s->start_ns)
		return errf(err, errlen, "span ends before it starts");
	if (s->end_ns - s->start_ns > SPAN_DURATION_MAX_NS)
		return errf(err, errlen, "span lasts more than 30 days");
	if (!s->name)
		return errf(err, errlen, "span has no name");
	return 0;
}
