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
#include "core/alloc.h"

#define NAME_MAX_LEN 160

void bottleneck_init(struct bottleneck *b)
{
	memset(b, 0, sizeof(*b));
	arena_init(&b->arena);
	strmap_init(&b->index);
}

void bottleneck_release(struct bottleneck *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->e[i].self_ns);
	free(b->e);
	free(b->touched);
	strmap_release(&b->index);
	arena_release(&b->arena);
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

/* HTTP client spans are named for their method alone: add the peer. */
static const char *call_name(const struct span *s, char *buf, size_t len)
{
	static const char *const methods[] = {"GET",   "POST", "PUT",	  "DELETE",
					      "PATCH", "HEAD", "OPTIONS", NULL};
	const char *peer = attr_str(s->attrs, s->n_attrs, "server.address");
	if (!s->name || !peer)
		return s->name;
	for (size_t i = 0; methods[i]; i++)
		if (!strcmp(s->name, methods[i])) {
			snprintf(buf, len, "%s %s", s->name, peer);
			return buf;
		}
	return s->name;
}

static struct bottleneck_entry *entry_for(struct bottleneck *b, const struct spantree *t, size_t i, int call)
{
	const struct span *s = &t->spans[i];
	const char *svc = span_service(s);
	char name[NAME_MAX_LEN], key[NAME_MAX_LEN + 256], full[NAME_MAX_LEN];
	int64_t at;
	bottleneck_normalize(call ? call_name(s, full, sizeof(full)) : s->name, name, sizeof(name));
	size_t sl = strlen(svc) < 255 ? strlen(svc) : 255, nl = strlen(name);
	memcpy(key, svc, sl);
	key[sl] = 0;
	memcpy(key + sl + 1, name, nl);
	if (strmap_get(&b->index, key, sl + 1 + nl, &at) == 0)
		return &b->e[at];
	b->e = xgrow(b->e, &b->cap, b->n + 1, sizeof(*b->e));
	struct bottleneck_entry *e = &b->e[b->n];
	memset(e, 0, sizeof(*e));
	e->service = arena_strndup(&b->arena, svc, sl);
	e->name = arena_strdup(&b->arena, name);
	e->call = (uint8_t)call;
	if (call) {
		const char *target = NULL;
		for (size_t k = t->kid_off[i]; k < t->kid_off[i + 1] && !target; k++) {
			const struct span *kid = &t->spans[t->kids[k]];
			if (kid->kind == SPAN_KIND_SERVER || kid->kind == SPAN_KIND_CONSUMER)
				target = span_service(kid);
		}
		if (!target)
			target = attr_str(s->attrs, s->n_attrs, "server.address");
		e->target = target ? arena_strdup(&b->arena, target) : NULL;
	}
	strmap_put(&b->index, key, sl + 1 + nl, (int64_t)b->n);
	b->n++;
	return e;
}

static void add_example(struct bottleneck_entry *e, const uint8_t trace_id[16], uint64_t ns)
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

void bottleneck_add(struct bottleneck *b, const struct spantree *t, const struct slowops_class *cls,
		    const char *service, const uint8_t trace_id[16])
{
	struct critpath_step *steps;
	size_t n_steps;
	uint64_t req_no = ++b->requests;
	if (!t->n)
		return;
	critpath_compute(t, &steps, &n_steps);
	uint64_t *own = xcalloc(t->n, sizeof(*own)), *incl = xcalloc(t->n, sizeof(*incl));
	for (size_t s = 0; s < n_steps; s++) {
		own[steps[s].span] += steps[s].contribution_ns;
		b->critical_ns += steps[s].contribution_ns;
	}
	size_t *order = tree_order(t);
	for (size_t k = t->n; k-- > 0;) { /* children before parents */
		size_t i = order[k];
		incl[i] += own[i];
		if (t->parent[i] != SPANTREE_NONE)
			incl[t->parent[i]] += incl[i];
	}
	b->n_touched = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct span *s = &t->spans[i];
		int call = s->kind == SPAN_KIND_CLIENT;
		struct bottleneck_entry *e = entry_for(b, t, i, call);
		if (e->cur_request != req_no) {
			e->cur_request = req_no;
			e->cur_ns = 0;
			b->touched =
				xgrow(b->touched, &b->cap_touched, b->n_touched + 1, sizeof(*b->touched));
			b->touched[b->n_touched++] = (size_t)(e - b->e);
		}
		uint64_t charged = call ? incl[i] : own[i];
		e->cur_ns += charged;
		e->spans++;
		e->self_ns = xgrow(e->self_ns, &e->cap_self, e->n_self + 1, sizeof(*e->self_ns));
		e->self_ns[e->n_self++] = spantree_self_ns(t, i);
		if (cls[i].flags & SLOWOPS_WAIT)
			e->wait = 1;
		if (service && strcmp(span_service(s), service))
			e->remote_service = 1;
		if (charged && b->cpu) {
			double cpu = b->cpu(b->cpu_arg, span_service(s), s->start_ns);
			if (cpu >= BOTTLENECK_CPU_SATURATED)
				e->saturated_ns += charged;
		}
	}
	for (size_t k = 0; k < b->n_touched; k++) {
		struct bottleneck_entry *e = &b->e[b->touched[k]];
		if (!e->cur_ns)
			continue;
		e->requests++;
		e->critical_ns += e->cur_ns;
		add_example(e, trace_id, e->cur_ns);
	}
	free(order);
	free(own);
	free(incl);
	free(steps);
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

void bottleneck_finish(struct bottleneck *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct bottleneck_entry *e = &b->e[i];
		e->impact_ns =
			b->requests ? (double)e->critical_ns * (double)e->requests / (double)b->requests : 0;
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
		if (e->n_self) {
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
	qsort(b->e, b->n, sizeof(*b->e), by_impact);
	/* the index points at old positions: no adding after finishing */
	strmap_release(&b->index);
	strmap_init(&b->index);
}
