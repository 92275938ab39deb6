/*
 * bottleneck.c - critical-path impact of components over many requests
 * (see bottleneck.h).
 */
#include "analyze/bottleneck.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/critpath.h"
#include "analyze/detect.h"
#include "core/alloc.h"
#include "ingest/semconv.h"

#define NAME_MAX_LEN 160
#define PEER_MAX_LEN 256

void bottleneck_init(struct bottleneck *b)
{
	memset(b, 0, sizeof(*b));
	arena_init(&b->arena);
	arena_init(&b->scratch);
	strmap_init(&b->index);
	buf_init(&b->key, BUF_NO_LIMIT);
}

void bottleneck_release(struct bottleneck *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->e[i].self_ns);
		free(b->e[i].self_enc);
		sketch_release(&b->e[i].self_sketch);
	}
	free(b->e);
	free(b->touched);
	strmap_release(&b->index);
	arena_release(&b->arena);
	arena_release(&b->scratch);
	buf_release(&b->key);
	memset(b, 0, sizeof(*b));
}

const char *bottleneck_kind_name(int kind)
{
	switch (kind) {
	case BOTTLENECK_CONTENTION: return "resource_contention";
	case BOTTLENECK_DEPENDENCY: return "dependency";
	default: return "slowest_component";
	}
}

/* A token is a run of letters, digits, '-' and '_'; ids and numbers go. */
static int is_tok(int c)
{
	return isalnum(c) || c == '-' || c == '_';
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return n > 0;
}

/* 16+ hex digits (and dashes, as in a UUID) with at least one digit. */
static int looks_like_id(const char *s, size_t n)
{
	size_t hex = 0, digits = 0;
	for (size_t i = 0; i < n; i++) {
		if (isxdigit((unsigned char)s[i]))
			hex++;
		else if (s[i] != '-')
			return 0;
		digits += isdigit((unsigned char)s[i]) != 0;
	}
	return hex >= 16 && digits > 0;
}

void bottleneck_normalize(const char *name, char *out, size_t outlen)
{
	size_t o = 0;
	if (!outlen)
		return;
	for (const char *p = name ? name : ""; *p && o + 1 < outlen;) {
		if (!is_tok((unsigned char)*p)) {
			out[o++] = *p++;
			continue;
		}
		size_t n = 1;
		while (is_tok((unsigned char)p[n]))
			n++;
		const char *rep = NULL;
		if (all_digits(p, n))
			rep = "{n}";
		else if (looks_like_id(p, n))
			rep = "{id}";
		size_t len = rep ? strlen(rep) : n;
		if (o + len >= outlen)
			break;
		memcpy(out + o, rep ? rep : p, len);
		o += len;
		p += n;
	}
	out[o] = 0;
}

static const char *span_service(const struct span *s)
{
	return s->resource && s->resource->service_name ? s->resource->service_name : "unknown";
}

const char *bottleneck_span_kind_name(int span_kind)
{
	switch (span_kind) {
	case SPAN_KIND_INTERNAL: return "internal";
	case SPAN_KIND_SERVER: return "server";
	case SPAN_KIND_CLIENT: return "client";
	case SPAN_KIND_PRODUCER: return "producer";
	case SPAN_KIND_CONSUMER: return "consumer";
	default: return "unspecified";
	}
}

/* ---- describing a span ------------------------------------------------------- */

static const char *first_str(const struct span *sp, const char *key, const char *alt)
{
	const char *v = attr_str(sp->attrs, sp->n_attrs, key);
	return v || !alt ? v : attr_str(sp->attrs, sp->n_attrs, alt);
}

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

static const char *const setup_scopes[] = {"@opentelemetry/instrumentation-dns",
					   "@opentelemetry/instrumentation-net", NULL};

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static enum bottleneck_role span_role(const struct span *sp)
{
	const char *name = sp->name ? sp->name : "", *scope = sp->scope_name ? sp->scope_name : "";
	if (in_list(scope, setup_scopes) || span_is_connection_setup(sp))
		return BOTTLENECK_ROLE_SETUP;
	if (strcasestr(name, "pool") &&
	    (strcasestr(name, "connect") || strcasestr(name, "acquire") || strcasestr(name, "checkout")))
		return BOTTLENECK_ROLE_POOL;
	if (ends_with(name, ".connect")) /* pg.connect, mysql.connect: a new connection */
		return BOTTLENECK_ROLE_SETUP;
	if (span_is_framework_wrapper(sp))
		return BOTTLENECK_ROLE_FRAMEWORK;
	return BOTTLENECK_ROLE_WORK;
}

/* "host:port/db": server.address (net.peer.name, the host of url.full),
 * server.port (net.peer.port, the port of url.full), and for a database
 * call db.namespace (db.name).  Empty when none is known. */
static void span_peer(const struct span *sp, int db, char *out, size_t cap)
{
	const char *host = first_str(sp, "server.address", "net.peer.name"), *url_port = NULL;
	size_t host_len = host ? strlen(host) : 0, port_len = 0;
	const struct attr *port = attr_find(sp->attrs, sp->n_attrs, "server.port");
	if (!port)
		port = attr_find(sp->attrs, sp->n_attrs, "net.peer.port");
	const char *url = host ? NULL : attr_str(sp->attrs, sp->n_attrs, "url.full");
	if (url && strstr(url, "://")) {
		host = strstr(url, "://") + 3;
		host_len = strcspn(host, ":/?#");
		if (host[host_len] == ':') {
			url_port = host + host_len + 1;
			port_len = strspn(url_port, "0123456789");
		}
	}
	char port_buf[24] = "";
	if (port && port->type == ATTR_INT)
		snprintf(port_buf, sizeof(port_buf), ":%lld", (long long)port->v.i);
	else if (port && port->type == ATTR_STRING)
		snprintf(port_buf, sizeof(port_buf), ":%.20s", port->v.s);
	else if (url_port && port_len)
		snprintf(port_buf, sizeof(port_buf), ":%.*s", (int)(port_len < 20 ? port_len : 20), url_port);
	const char *ns = db ? first_str(sp, "db.namespace", "db.name") : NULL;
	snprintf(out, cap, "%.*s%s%s%s", host ? (int)(host_len < 200 ? host_len : 200) : 0, host ? host : "",
		 host ? port_buf : "", host && ns ? "/" : "", ns ? ns : "");
}

static int is_method(const char *name)
{
	static const char *const methods[] = {"GET",  "POST",	 "PUT",	    "DELETE", "PATCH",
					      "HEAD", "OPTIONS", "CONNECT", "TRACE",  NULL};
	return in_list(name, methods);
}

/* What a database or cache call did: its statement with literals
 * replaced, else its summary, else operation and collection.  0: none. */
static int db_label(const struct span *sp, char *out, size_t cap)
{
	char tmp[NAME_MAX_LEN];
	const char *text = first_str(sp, "db.query.text", "db.statement");
	if (text && detect_normalize_sql(out, cap, text) > 0)
		return 1;
	const char *summary = attr_str(sp->attrs, sp->n_attrs, "db.query.summary");
	const char *op = first_str(sp, "db.operation.name", "db.operation");
	const char *coll = first_str(sp, "db.collection.name", "db.sql.table");
	if (!coll)
		coll = attr_str(sp->attrs, sp->n_attrs, "db.mongodb.collection");
	if (summary)
		snprintf(tmp, sizeof(tmp), "%s", summary);
	else if (op)
		snprintf(tmp, sizeof(tmp), "%s%s%s", op, coll ? " " : "", coll ? coll : "");
	else
		return 0;
	bottleneck_normalize(tmp, out, cap);
	return 1;
}

static void span_label(const struct span *sp, struct arena *a, const char *peer, char *out, size_t cap)
{
	const char *name = sp->name ? sp->name : "";
	int db = first_str(sp, "db.system.name", "db.system") != NULL;
	if (db && db_label(sp, out, cap))
		return;
	if (sp->kind == SPAN_KIND_CLIENT && *peer && is_method(name)) {
		snprintf(out, cap, "%s %.150s", name, peer); /* the peer stays as it is: an address */
		return;
	}
	if (sp->kind == SPAN_KIND_SERVER || sp->kind == SPAN_KIND_CONSUMER)
		name = span_endpoint(a, sp);
	bottleneck_normalize(name, out, cap);
}

void bottleneck_describe(const struct span *sp, struct arena *a, struct bottleneck_span *out)
{
	char label[NAME_MAX_LEN], peer[PEER_MAX_LEN];
	int db = first_str(sp, "db.system.name", "db.system") != NULL;
	out->role = (uint8_t)span_role(sp);
	span_peer(sp, db, peer, sizeof(peer));
	span_label(sp, a, peer, label, sizeof(label));
	out->label = arena_strdup(a, label);
	out->peer = *peer ? arena_strdup(a, peer) : NULL;
}

/* ---- ranking --------------------------------------------------------------------- */

/* The service that answered call i, if traced: its SERVER or CONSUMER child. */
static const char *answering_service(const struct spantree *t, size_t i)
{
	for (size_t k = t->kid_off[i]; k < t->kid_off[i + 1]; k++) {
		const struct span *kid = &t->spans[t->kids[k]];
		if (kid->kind == SPAN_KIND_SERVER || kid->kind == SPAN_KIND_CONSUMER)
			return span_service(kid);
	}
	return NULL;
}

static struct bottleneck_entry *entry_for(struct bottleneck *b, const struct spantree *t, size_t i,
					  const struct bottleneck_span *d)
{
	const struct span *s = &t->spans[i];
	const char *svc = span_service(s), *peer = d->peer ? d->peer : "";
	struct buf *key = &b->key;
	int64_t at;
	buf_reset(key);
	buf_puts(key, svc);
	buf_putc(key, 0);
	buf_putc(key, (char)('0' + s->kind));
	buf_puts(key, d->label);
	buf_putc(key, 0);
	buf_puts(key, peer);
	struct bottleneck_entry *e = NULL;
	if (strmap_get(&b->index, key->data, key->len, &at) == 0) {
		e = &b->e[at];
	} else {
		char name[NAME_MAX_LEN];
		b->e = xgrow(b->e, &b->cap, b->n + 1, sizeof(*b->e));
		e = &b->e[b->n];
		memset(e, 0, sizeof(*e));
		bottleneck_normalize(s->name, name, sizeof(name));
		e->service = arena_strdup(&b->arena, svc);
		e->name = arena_strdup(&b->arena, d->label);
		e->span_name = arena_strdup(&b->arena, name);
		e->span_kind = s->kind;
		e->call = s->kind == SPAN_KIND_CLIENT;
		e->target = e->call && d->peer ? arena_strdup(&b->arena, d->peer) : NULL;
		sketch_init(&e->self_sketch);
		e->key = memcpy(arena_alloc(&b->arena, key->len), key->data, key->len);
		e->key_len = key->len;
		strmap_put(&b->index, key->data, key->len, (int64_t)b->n++);
	}
	if (e->call && !e->target_traced) {
		const char *callee = answering_service(t, i);
		if (callee) {
			e->target = arena_strdup(&b->arena, callee);
			e->target_traced = 1;
		}
	}
	return e;
}

static void add_example(struct bottleneck_entry *e, const uint8_t trace_id[16], uint64_t ns,
			uint64_t start_ns)
{
	size_t at = e->n_examples;
	while (at > 0 && e->examples[at - 1].critical_ns < ns)
		at--;
	if (at >= BOTTLENECK_EXAMPLES)
		return;
	size_t last = e->n_examples < BOTTLENECK_EXAMPLES ? e->n_examples : BOTTLENECK_EXAMPLES - 1;
	memmove(&e->examples[at + 1], &e->examples[at], (last - at) * sizeof(e->examples[0]));
	memcpy(e->examples[at].trace_id, trace_id, 16);
	e->examples[at].critical_ns = ns;
	e->examples[at].start_ns = start_ns;
	if (e->n_examples < BOTTLENECK_EXAMPLES)
		e->n_examples++;
}

/* Spans of `t` with parents before children. */
static size_t *tree_order(const struct spantree *t)
{
	size_t *order = xmalloc((t->n ? t->n : 1) * sizeof(*order));
	size_t head = 0, tail = 0;
	for (size_t r = 0; r < t->n_roots; r++)
		order[tail++] = t->roots[r];
	while (head < tail) {
		size_t i = order[head++];
		for (size_t k = t->kid_off[i]; k < t->kid_off[i + 1]; k++)
			order[tail++] = t->kids[k];
	}
	return order;
}

/* An INTERNAL span whose children cover its time. */
static int is_wrapper(const struct spantree *t, size_t i, uint64_t self_ns, const struct bottleneck_span *d,
		      const struct slowops_class *cls)
{
	const struct span *s = &t->spans[i];
	if ((s->kind != SPAN_KIND_INTERNAL && s->kind != SPAN_KIND_UNSPECIFIED) ||
	    d->role != BOTTLENECK_ROLE_WORK || (cls->flags & SLOWOPS_WAIT) ||
	    t->kid_off[i + 1] == t->kid_off[i])
		return 0;
	uint64_t dur = s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0;
	return self_ns <= BOTTLENECK_WRAPPER_SLACK_NS ||
	       (double)self_ns <= BOTTLENECK_WRAPPER_SHARE * (double)dur;
}

/* Span i (not a root) is charged to its parent. */
static int charged_to_parent(const struct spantree *t, size_t i, uint64_t self_ns,
			     const struct bottleneck_span *d, const struct slowops_class *cls)
{
	const struct span *s = &t->spans[i], *p = &t->spans[t->parent[i]];
	if (d->role == BOTTLENECK_ROLE_FRAMEWORK || d->role == BOTTLENECK_ROLE_SETUP)
		return 1;
	if ((s->kind == SPAN_KIND_SERVER || s->kind == SPAN_KIND_CONSUMER) &&
	    (p->kind == SPAN_KIND_CLIENT || p->kind == SPAN_KIND_PRODUCER))
		return 1;
	/* the transport of a call (undici under fetch, HTTP under an LLM client) */
	if (s->kind == SPAN_KIND_CLIENT && p->kind == SPAN_KIND_CLIENT &&
	    !strcmp(span_service(s), span_service(p)))
		return 1;
	return is_wrapper(t, i, self_ns, d, cls);
}

/* The descriptions of a tree's spans, made here when the caller has none. */
static const struct bottleneck_span *describe_all(struct bottleneck *b, const struct spantree *t)
{
	struct bottleneck_span *d = arena_alloc(&b->scratch, t->n * sizeof(*d));
	for (size_t i = 0; i < t->n; i++)
		bottleneck_describe(&t->spans[i], &b->scratch, &d[i]);
	return d;
}

/* Per span of one request: its critical time, self time, and the span it is charged to. */
struct charge {
	uint64_t own_ns, self_ns; /* own: on the path; both summed over the spans charged to it */
	size_t owner;
};

/* The charges of one request's spans; *critical_ns: its time on the critical path. */
static struct charge *charge_request(const struct spantree *t, const struct slowops_class *cls,
				     const struct bottleneck_span *d, uint64_t *critical_ns)
{
	struct critpath_step *steps;
	size_t n_steps;
	struct charge *c = xcalloc(t->n, sizeof(*c));
	critpath_compute(t, &steps, &n_steps);
	size_t *order = tree_order(t);
	for (size_t k = 0; k < t->n; k++) { /* parents first: a parent's owner is known */
		size_t i = order[k], p = t->parent[i];
		uint64_t self = spantree_self_ns(t, i);
		c[i].owner =
			p != SPANTREE_NONE && charged_to_parent(t, i, self, &d[i], &cls[i]) ? c[p].owner : i;
		c[c[i].owner].self_ns += self;
	}
	for (size_t s = 0; s < n_steps; s++) {
		c[c[steps[s].span].owner].own_ns += steps[s].contribution_ns;
		*critical_ns += steps[s].contribution_ns;
	}
	free(order);
	free(steps);
	return c;
}

static void note_request(struct bottleneck *b, struct bottleneck_entry *e, uint64_t req_no)
{
	if (e->cur_request == req_no)
		return;
	e->cur_request = req_no;
	e->cur_ns = 0;
	b->touched = xgrow(b->touched, &b->cap_touched, b->n_touched + 1, sizeof(*b->touched));
	b->touched[b->n_touched++] = (size_t)(e - b->e);
}

/* Add the request rooted at span `root` of `t`, its spans charged as `c`
 * says, to `b`. */
static void add_charged(struct bottleneck *b, const struct spantree *t, const struct slowops_class *cls,
			const struct bottleneck_span *d, const struct charge *c, size_t root,
			uint64_t critical_ns, const char *service, const uint8_t trace_id[16])
{
	uint64_t req_no = ++b->requests;
	const struct span *r = &t->spans[root];
	b->critical_ns += critical_ns;
	b->first_ns = !b->first_ns || r->start_ns < b->first_ns ? r->start_ns : b->first_ns;
	b->last_ns = r->end_ns > b->last_ns ? r->end_ns : b->last_ns;
	b->n_touched = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (c[i].owner != i)
			continue;
		const struct span *s = &t->spans[i];
		struct bottleneck_entry *e = entry_for(b, t, i, &d[i]);
		note_request(b, e, req_no);
		e->cur_ns += c[i].own_ns;
		e->spans++;
		e->self_ns = xgrow(e->self_ns, &e->cap_self, e->n_self + 1, sizeof(*e->self_ns));
		e->self_ns[e->n_self++] = c[i].self_ns;
		if ((cls[i].flags & SLOWOPS_WAIT) || d[i].role == BOTTLENECK_ROLE_POOL)
			e->wait = 1;
		if (service && strcmp(span_service(s), service))
			e->remote_service = 1;
		if (c[i].own_ns && b->cpu) {
			double cpu = b->cpu(b->cpu_arg, span_service(s), s->start_ns);
			if (cpu >= BOTTLENECK_CPU_SATURATED)
				e->saturated_ns += c[i].own_ns;
		}
	}
	for (size_t k = 0; k < b->n_touched; k++) {
		struct bottleneck_entry *e = &b->e[b->touched[k]];
		if (!e->cur_ns)
			continue;
		e->requests++;
		e->critical_ns += e->cur_ns;
		add_example(e, trace_id, e->cur_ns, r->start_ns);
	}
}

void bottleneck_add_many(struct bottleneck *const *bs, size_t n_bs, const struct spantree *t,
			 const struct slowops_class *cls, const struct bottleneck_span *desc,
			 const char *service, const uint8_t trace_id[16])
{
	if (!n_bs)
		return;
	size_t root = spantree_longest_root(t);
	if (root == SPANTREE_NONE) {
		for (size_t k = 0; k < n_bs; k++)
			bs[k]->requests++;
		return;
	}
	arena_reset(&bs[0]->scratch);
	const struct bottleneck_span *d = desc ? desc : describe_all(bs[0], t);
	if (d[root].role == BOTTLENECK_ROLE_SETUP) {
		for (size_t k = 0; k < n_bs; k++)
			bs[k]->skipped++;
		return;
	}
	uint64_t critical_ns = 0;
	struct charge *c = charge_request(t, cls, d, &critical_ns);
	for (size_t k = 0; k < n_bs; k++)
		add_charged(bs[k], t, cls, d, c, root, critical_ns, service, trace_id);
	free(c);
}

void bottleneck_add(struct bottleneck *b, const struct spantree *t, const struct slowops_class *cls,
		    const struct bottleneck_span *desc, const char *service, const uint8_t trace_id[16])
{
	bottleneck_add_many(&b, 1, t, cls, desc, service, trace_id);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int by_impact(const void *a, const void *b)
{
	const struct bottleneck_entry *x = a, *y = b;
	if (x->impact_ns != y->impact_ns)
		return x->impact_ns > y->impact_ns ? -1 : 1;
	if (x->critical_ns != y->critical_ns)
		return x->critical_ns > y->critical_ns ? -1 : 1;
	int c = strcmp(x->service, y->service);
	return c ? c : strcmp(x->name, y->name);
}

/* The entry of dst with src's identity, added when missing. */
static struct bottleneck_entry *merge_entry(struct bottleneck *dst, const struct bottleneck_entry *e)
{
	int64_t at;
	if (strmap_get(&dst->index, e->key, e->key_len, &at) == 0)
		return &dst->e[at];
	dst->e = xgrow(dst->e, &dst->cap, dst->n + 1, sizeof(*dst->e));
	struct bottleneck_entry *d = &dst->e[dst->n];
	memset(d, 0, sizeof(*d));
	d->service = arena_strdup(&dst->arena, e->service);
	d->name = arena_strdup(&dst->arena, e->name);
	d->span_name = arena_strdup(&dst->arena, e->span_name);
	d->target = e->target ? arena_strdup(&dst->arena, e->target) : NULL;
	d->target_traced = e->target_traced;
	d->span_kind = e->span_kind;
	d->call = e->call;
	sketch_init(&d->self_sketch);
	d->key = memcpy(arena_alloc(&dst->arena, e->key_len), e->key, e->key_len);
	d->key_len = e->key_len;
	strmap_put(&dst->index, d->key, d->key_len, (int64_t)dst->n++);
	return d;
}

/* Everything of e's self times in its sketch. */
static void gather_self(struct bottleneck_entry *e)
{
	if (e->self_enc_len)
		sketch_merge_encoded(&e->self_sketch, e->self_enc, e->self_enc_len, NULL, 0);
	free(e->self_enc);
	e->self_enc = NULL;
	e->self_enc_len = 0;
	for (size_t k = 0; k < e->n_self; k++)
		sketch_add(&e->self_sketch, (double)e->self_ns[k]);
	free(e->self_ns);
	e->self_ns = NULL;
	e->n_self = e->cap_self = 0;
}

void bottleneck_compact(struct bottleneck *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct bottleneck_entry *e = &b->e[i];
		if (!sketch_count(&e->self_sketch) && !e->n_self)
			continue; /* nothing new since the last compaction */
		gather_self(e);
		struct buf enc;
		buf_init(&enc, BUF_NO_LIMIT);
		sketch_encode(&e->self_sketch, &enc);
		e->self_enc = buf_detach(&enc, &e->self_enc_len);
		sketch_release(&e->self_sketch);
		sketch_init(&e->self_sketch);
	}
}

/* Add entry e (of another ranking) to dst. */
static void merge_one(struct bottleneck *dst, const struct bottleneck_entry *e, uint64_t t_ns)
{
	struct bottleneck_entry *d = merge_entry(dst, e);
	if (e->target_traced && !d->target_traced) {
		d->target = arena_strdup(&dst->arena, e->target);
		d->target_traced = 1;
	}
	d->wait |= e->wait;
	d->remote_service |= e->remote_service;
	d->critical_ns += e->critical_ns;
	d->requests += e->requests;
	d->spans += e->spans;
	d->saturated_ns += e->saturated_ns;
	if (dst->cpu && e->critical_ns &&
	    dst->cpu(dst->cpu_arg, e->service, t_ns) >= BOTTLENECK_CPU_SATURATED)
		d->saturated_ns += e->critical_ns;
	sketch_merge(&d->self_sketch, &e->self_sketch);
	if (e->self_enc_len)
		sketch_merge_encoded(&d->self_sketch, e->self_enc, e->self_enc_len, NULL, 0);
	for (size_t k = 0; k < e->n_self; k++)
		sketch_add(&d->self_sketch, (double)e->self_ns[k]);
	for (size_t k = 0; k < e->n_examples; k++)
		add_example(d, e->examples[k].trace_id, e->examples[k].critical_ns, e->examples[k].start_ns);
}

static void merge_totals(struct bottleneck *dst, uint64_t requests, uint64_t skipped, uint64_t critical_ns,
			 uint64_t first_ns, uint64_t last_ns)
{
	dst->requests += requests;
	dst->skipped += skipped;
	dst->critical_ns += critical_ns;
	if (first_ns && (!dst->first_ns || first_ns < dst->first_ns))
		dst->first_ns = first_ns;
	if (last_ns > dst->last_ns)
		dst->last_ns = last_ns;
}

void bottleneck_merge(struct bottleneck *dst, const struct bottleneck *src, uint64_t t_ns)
{
	merge_totals(dst, src->requests, src->skipped, src->critical_ns, src->first_ns, src->last_ns);
	for (size_t i = 0; i < src->n; i++)
		merge_one(dst, &src->e[i], t_ns);
}

/* ---- the encoded form ------------------------------------------------------ */

#define ENC_MAGIC   "BN1"
#define ENC_NO_STR  0xffffffffu
#define ENC_MAX_STR (1u << 20)

static void put_u64(struct buf *b, uint64_t v)
{
	uint8_t x[8];
	for (int i = 0; i < 8; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	buf_append(b, x, 8);
}

static void put_u32(struct buf *b, uint32_t v)
{
	uint8_t x[4];
	for (int i = 0; i < 4; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	buf_append(b, x, 4);
}

static void put_bytes(struct buf *b, const void *p, size_t len)
{
	put_u32(b, (uint32_t)len);
	buf_append(b, p, len);
}

static void put_str(struct buf *b, const char *s)
{
	if (s)
		put_bytes(b, s, strlen(s));
	else
		put_u32(b, ENC_NO_STR);
}

void bottleneck_encode(const struct bottleneck *b, struct buf *out)
{
	buf_append(out, ENC_MAGIC, 3);
	put_u64(out, b->requests);
	put_u64(out, b->skipped);
	put_u64(out, b->critical_ns);
	put_u64(out, b->first_ns);
	put_u64(out, b->last_ns);
	put_u32(out, (uint32_t)b->n);
	for (size_t i = 0; i < b->n; i++) {
		const struct bottleneck_entry *e = &b->e[i];
		put_bytes(out, e->key, e->key_len);
		put_str(out, e->service);
		put_str(out, e->name);
		put_str(out, e->span_name);
		put_str(out, e->target);
		uint8_t flags[6] = {e->span_kind,      e->wait,		 e->call,
				    e->remote_service, e->target_traced, (uint8_t)e->n_examples};
		buf_append(out, flags, sizeof(flags));
		put_u64(out, e->critical_ns);
		put_u64(out, e->requests);
		put_u64(out, e->spans);
		put_u64(out, e->saturated_ns);
		put_bytes(out, e->self_enc, e->self_enc_len);
		for (size_t k = 0; k < e->n_examples; k++) {
			buf_append(out, e->examples[k].trace_id, 16);
			put_u64(out, e->examples[k].critical_ns);
			put_u64(out, e->examples[k].start_ns);
		}
	}
}

/* A bounded reader of the encoded form; `bad` once it ran past the end. */
struct enc_reader {
	const uint8_t *p, *end;
	int bad;
};

static const uint8_t *get_raw(struct enc_reader *r, size_t len)
{
	if (r->bad || (size_t)(r->end - r->p) < len) {
		r->bad = 1;
		return NULL;
	}
	const uint8_t *at = r->p;
	r->p += len;
	return at;
}

static uint64_t get_u64(struct enc_reader *r)
{
	const uint8_t *x = get_raw(r, 8);
	uint64_t v = 0;
	for (int i = 0; x && i < 8; i++)
		v |= (uint64_t)x[i] << (8 * i);
	return v;
}

static uint32_t get_u32(struct enc_reader *r)
{
	const uint8_t *x = get_raw(r, 4);
	uint32_t v = 0;
	for (int i = 0; x && i < 4; i++)
		v |= (uint32_t)x[i] << (8 * i);
	return v;
}

/* A string copied into `a` (NUL-terminated); NULL for none or when bad. */
static const char *get_str(struct enc_reader *r, struct arena *a, int nullable)
{
	uint32_t len = get_u32(r);
	if (len == ENC_NO_STR && nullable)
		return NULL;
	if (len > ENC_MAX_STR) {
		r->bad = 1;
		return NULL;
	}
	const uint8_t *p = get_raw(r, len);
	return p ? arena_strndup(a, (const char *)p, len) : NULL;
}

/* One entry into *e (strings in `a`; key and self times point into the
 * input).  0, or -1 when the input is bad. */
static int get_entry(struct enc_reader *r, struct arena *a, struct bottleneck_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->key_len = get_u32(r);
	e->key = (const char *)get_raw(r, e->key_len);
	e->service = get_str(r, a, 0);
	e->name = get_str(r, a, 0);
	e->span_name = get_str(r, a, 0);
	e->target = get_str(r, a, 1);
	const uint8_t *flags = get_raw(r, 6);
	if (r->bad || !e->key || !e->service || !e->name || !e->span_name || flags[5] > BOTTLENECK_EXAMPLES)
		return -1;
	e->span_kind = flags[0];
	e->wait = flags[1] & 1;
	e->call = flags[2] & 1;
	e->remote_service = flags[3] & 1;
	e->target_traced = (flags[4] & 1) && e->target;
	e->n_examples = flags[5];
	e->critical_ns = get_u64(r);
	e->requests = get_u64(r);
	e->spans = get_u64(r);
	e->saturated_ns = get_u64(r);
	e->self_enc_len = get_u32(r);
	e->self_enc = (char *)(uintptr_t)get_raw(r, e->self_enc_len);
	for (size_t k = 0; k < e->n_examples; k++) {
		const uint8_t *id = get_raw(r, 16);
		if (id)
			memcpy(e->examples[k].trace_id, id, 16);
		e->examples[k].critical_ns = get_u64(r);
		e->examples[k].start_ns = get_u64(r);
	}
	sketch_init(&e->self_sketch);
	return r->bad || (e->self_enc_len && !e->self_enc) ? -1 : 0;
}

int bottleneck_merge_encoded(struct bottleneck *dst, const void *data, size_t len, uint64_t t_ns)
{
	struct enc_reader r = {.p = data, .end = (const uint8_t *)data + len};
	struct arena a;
	const uint8_t *magic = get_raw(&r, 3);
	if (!magic || memcmp(magic, ENC_MAGIC, 3))
		return -1;
	uint64_t totals[5];
	for (int i = 0; i < 5; i++)
		totals[i] = get_u64(&r);
	uint32_t n = get_u32(&r);
	if (r.bad)
		return -1;
	arena_init(&a);
	int rc = 0;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		struct bottleneck_entry e;
		arena_reset(&a);
		if ((rc = get_entry(&r, &a, &e)) == 0)
			merge_one(dst, &e, t_ns);
	}
	arena_release(&a);
	if (rc == 0)
		merge_totals(dst, totals[0], totals[1], totals[2], totals[3], totals[4]);
	return rc == 0 && r.p == r.end ? 0 : -1;
}

void bottleneck_finish(struct bottleneck *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct bottleneck_entry *e = &b->e[i];
		e->impact_ns = b->requests ? (double)e->critical_ns / (double)b->requests : 0;
		if (e->wait)
			e->kind = BOTTLENECK_CONTENTION;
		else if (e->call)
			e->kind = BOTTLENECK_DEPENDENCY;
		else if (e->critical_ns && e->saturated_ns * 2 >= e->critical_ns)
			e->kind = BOTTLENECK_CONTENTION;
		else if (e->remote_service)
			e->kind = BOTTLENECK_DEPENDENCY;
		else
			e->kind = BOTTLENECK_SLOWEST;
		if (e->self_enc_len || (e->n_self && sketch_count(&e->self_sketch)))
			gather_self(e);
		if (sketch_count(&e->self_sketch)) {
			e->self_avg_ns = sketch_sum(&e->self_sketch) / (double)sketch_count(&e->self_sketch);
			e->self_p95_ns = sketch_quantile(&e->self_sketch, 0.95);
		} else if (e->n_self) {
			uint64_t sum = 0;
			qsort(e->self_ns, e->n_self, sizeof(*e->self_ns), cmp_u64);
			for (size_t k = 0; k < e->n_self; k++)
				sum += e->self_ns[k];
			size_t rank = (size_t)ceil(0.95 * (double)e->n_self);
			e->self_avg_ns = (double)sum / (double)e->n_self;
			e->self_p95_ns = (double)e->self_ns[(rank ? rank : 1) - 1];
		}
		free(e->self_ns);
		e->self_ns = NULL;
		e->n_self = e->cap_self = 0;
	}
	if (b->n)
		qsort(b->e, b->n, sizeof(*b->e), by_impact);
	/* the index points at old positions: no adding after finishing */
	strmap_release(&b->index);
	strmap_init(&b->index);
}
