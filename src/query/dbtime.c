/*
 * dbtime.c - database time per step and database or statement shape, from
 * the stored spans (see dbtime.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/bottleneck.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "query/dbtime.h"

/* Groups followed at most while scanning (the answer keeps the largest). */
#define DBTIME_MAX_GROUPS 5000

struct dbgroup {
	char *key;
	double *ms; /* per step */
	double total;
};

struct dbscan {
	const struct dbtime_request *r;
	uint64_t t0;
	size_t n_steps;
	struct strmap keys;
	struct dbgroup *g;
	size_t n, cap;
	int truncated;
	uint64_t spans;
	struct arena scratch;
};

static int keep_key(const char *key)
{
	return !strncmp(key, "db.", 3) || !strcmp(key, "server.address") || !strcmp(key, "server.port") ||
	       !strncmp(key, "net.peer.", 9) || !strcmp(key, "url.full");
}

static struct dbgroup *group_of(struct dbscan *d, const char *key)
{
	int64_t idx;
	size_t len = strlen(key);
	if (strmap_get(&d->keys, key, len, &idx) == 0)
		return &d->g[idx];
	if (d->n >= DBTIME_MAX_GROUPS) {
		d->truncated = 1;
		return NULL;
	}
	d->g = xgrow(d->g, &d->cap, d->n + 1, sizeof(*d->g));
	struct dbgroup *g = &d->g[d->n];
	g->key = xstrdup(key);
	g->ms = xcalloc(d->n_steps, sizeof(double));
	g->total = 0;
	strmap_put(&d->keys, key, len, (int64_t)d->n++);
	return g;
}

static const char *db_of(const struct span *sp, const struct bottleneck_span *b)
{
	const char *ns = attr_str(sp->attrs, sp->n_attrs, "db.namespace");
	if (b->peer)
		return b->peer;
	if (!ns)
		ns = attr_str(sp->attrs, sp->n_attrs, "db.name");
	if (!ns)
		ns = attr_str(sp->attrs, sp->n_attrs, "db.system.name");
	return ns ? ns : attr_str(sp->attrs, sp->n_attrs, "db.system");
}

static int on_trace(void *arg, const struct span *spans, size_t n)
{
	struct dbscan *d = arg;
	const struct metrics_filter *f = &d->r->f;
	for (size_t i = 0; i < n; i++) {
		const struct span *sp = &spans[i];
		if (sp->start_ns < f->from_ns || sp->start_ns >= f->to_ns || sp->start_ns < d->t0 ||
		    (!attr_find(sp->attrs, sp->n_attrs, "db.system.name") &&
		     !attr_find(sp->attrs, sp->n_attrs, "db.system")) ||
		    !metrics_filter_match(f, sp->resource))
			continue;
		size_t t = (size_t)((sp->start_ns - d->t0) / d->r->step_ns);
		if (t >= d->n_steps)
			continue;
		struct bottleneck_span b;
		arena_reset(&d->scratch);
		bottleneck_describe(sp, &d->scratch, &b);
		const char *key = d->r->by_statement ? b.label : db_of(sp, &b);
		struct dbgroup *g = group_of(d, key && *key ? key : "unknown");
		if (!g)
			continue;
		double ms = sp->end_ns > sp->start_ns ? (double)(sp->end_ns - sp->start_ns) / NS_PER_MS : 0;
		ms *= d->r->every > 1 ? d->r->every : 1;
		g->ms[t] += ms;
		g->total += ms;
		d->spans++;
	}
	return 0;
}

static int total_cmp(const void *pa, const void *pb)
{
	const struct dbgroup *a = pa, *b = pb;
	if (a->total != b->total)
		return a->total > b->total ? -1 : 1;
	return strcmp(a->key, b->key);
}

static void answer(struct dbscan *d, struct arena *a, struct metrics_answer *out)
{
	qsort(d->g, d->n, sizeof(*d->g), total_cmp);
	memset(out, 0, sizeof(*out));
	out->t0_ns = d->t0;
	out->step_ns = d->r->step_ns;
	out->n_steps = d->n_steps;
	out->unit = "ms";
	out->points = d->spans;
	out->n_lines = d->n < DBTIME_MAX_LINES ? d->n : DBTIME_MAX_LINES;
	out->truncated = d->truncated || d->n > DBTIME_MAX_LINES;
	out->lines = arena_zalloc(a, (out->n_lines ? out->n_lines : 1) * sizeof(*out->lines));
	for (size_t i = 0; i < out->n_lines; i++) {
		struct metrics_line *l = &out->lines[i];
		l->key = arena_strdup(a, d->g[i].key);
		l->values = arena_alloc(a, d->n_steps * sizeof(double));
		for (size_t t = 0; t < d->n_steps; t++)
			l->values[t] = d->g[i].ms[t] > 0 ? d->g[i].ms[t] : NAN;
	}
}

int dbtime_query(struct store *s, struct dbtime_request *r, struct arena *a, struct metrics_answer *out,
		 char *err, size_t errlen)
{
	struct dbscan d = {.r = r};
	int rc = metrics_grid(r->f.from_ns, r->f.to_ns, r->step_ns, &d.t0, &d.n_steps, err, errlen);
	if (rc < 0)
		return rc;
	strmap_init(&d.keys);
	arena_init(&d.scratch);
	if (!r->every) {
		uint64_t six_h = 6 * 3600 * NS_PER_S;
		r->every = (unsigned)((r->f.to_ns - r->f.from_ns + six_h - 1) / six_h);
	}
	struct store_scan sc = {.from_ns = r->f.from_ns, .to_ns = r->f.to_ns, .keep_key = keep_key};
	if (r->every > 1)
		sc.every = r->every;
	if (store_scan(s, &sc, on_trace, &d, err, errlen) < 0)
		rc = ERR_INTERNAL;
	else
		answer(&d, a, out);
	for (size_t i = 0; i < d.n; i++) {
		free(d.g[i].key);
		free(d.g[i].ms);
	}
	free(d.g);
	strmap_release(&d.keys);
	arena_release(&d.scratch);
	return rc;
}
