/*
 * rawrows.c - latency rows and breakdown spans from the raw spans of the
 * store (see rawrows.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/strmap.h"
#include "ingest/annotate.h"
#include "query/perfmarks.h"
#include "query/rawrows.h"
#include "query/spanset.h"

static int dim_ok(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

/* ---- rows of filters and q= --------------------------------------------- */

/* A request that waits for its trace to be judged (q=) or named a tool. */
struct pending {
	const char *dims[7]; /* service, endpoint, env, version, department, intent, error_type */
	const char *tool;
	uint8_t trace_id[16], status;
	uint64_t start_ns, duration_ns;
};

struct row_scan {
	const struct store_query *q;
	const struct spanql *ql;
	struct arena *arena;
	struct strmap strs; /* interned strings, in arena */
	uint64_t res_ns;
	uint64_t lo_ns, hi_ns; /* entry spans whose time bucket starts in [lo, hi) */
	struct latency_bounds bounds;
	struct latency_rowbuilder rb;
	int need_tool;
	struct strmap trace_tool; /* trace id -> its tool (an interned pointer) */
	struct spanset set;	  /* q=: the traces it selects */
	struct pending *pending;  /* with q= or need_tool: rows until every trace is read */
	size_t n_pending, cap_pending;
	int failed; /* 1 out of memory for counts, 2 too many pending, 3 too many traces */
};

static const char *intern(struct row_scan *sc, const char *s)
{
	return strmap_intern(&sc->strs, sc->arena, s);
}

static void add_request(struct row_scan *sc, const struct pending *e)
{
	struct rollup_row key = {
		.service = e->dims[0],
		.endpoint = e->dims[1],
		.env = e->dims[2],
		.version = e->dims[3],
		.department = e->dims[4],
		.intent = e->dims[5],
		.error_type = e->dims[6],
		.tool = e->tool,
		.status = e->status,
	};
	if (latency_rowbuilder_add(&sc->rb, &key, e->start_ns, e->duration_ns) < 0)
		sc->failed = 1;
}

/* The first tool a span of the trace names, for requests that name none. */
static void note_tool(struct row_scan *sc, const struct span *sp)
{
	const char *t = span_tool(sp);
	int64_t have;
	if (t && strmap_get(&sc->trace_tool, sp->trace_id, 16, &have) < 0)
		strmap_put(&sc->trace_tool, sp->trace_id, 16, (int64_t)(intptr_t)intern(sc, t));
}

/* The request of entry span `sp` if it passes the filters: 1, else 0. */
static int request_of(struct row_scan *sc, const struct span *sp, struct pending *e)
{
	const struct store_query *q = sc->q;
	if (!span_is_entry(sp) || sp->end_ns < sp->start_ns ||
	    (q->edge_only && !hex_is_zero(sp->parent_span_id, 8)))
		return 0;
	uint64_t t = sp->start_ns / sc->res_ns * sc->res_ns, dur = sp->end_ns - sp->start_ns;
	if (t < sc->lo_ns || t >= sc->hi_ns || !latency_bounds_contain(&sc->bounds, (double)dur))
		return 0;
	struct request_row r;
	const char *error_type = annotate_request(sc->arena, sp, &r);
	if ((q->status >= 0 && (int)r.status != q->status) || !dim_ok(q->service, r.service) ||
	    !dim_ok(q->env, r.env) || !store_query_version_ok(q, r.service, r.version) ||
	    !dim_ok(q->department, r.department) || !dim_ok(q->intent, r.intent) ||
	    !dim_ok(q->endpoint, r.endpoint))
		return 0;
	*e = (struct pending){
		.dims = {intern(sc, r.service), intern(sc, r.endpoint), intern(sc, r.env),
			 intern(sc, r.version), intern(sc, r.department), intern(sc, r.intent),
			 intern(sc, error_type)},
		.tool = intern(sc, span_tool(sp)),
		.status = r.status,
		.start_ns = sp->start_ns,
		.duration_ns = dur,
	};
	if (!sc->need_tool)
		e->tool = NULL; /* not asked for: fewer rows */
	return 1;
}

static int scan_span(void *arg, const struct span *sp)
{
	struct row_scan *sc = arg;
	struct pending e;
	if (sc->ql && spanset_add(&sc->set, sp) < 0) {
		sc->failed = 3;
		return 1;
	}
	if (sc->need_tool)
		note_tool(sc, sp);
	if (!request_of(sc, sp, &e))
		return 0;
	if (!sc->need_tool && !sc->ql) {
		add_request(sc, &e);
		return sc->failed;
	}
	if (sc->n_pending >= RAWROWS_PENDING_MAX) {
		sc->failed = 2;
		return 1;
	}
	memcpy(e.trace_id, sp->trace_id, 16);
	sc->pending = xgrow(sc->pending, &sc->cap_pending, sc->n_pending + 1, sizeof(*sc->pending));
	sc->pending[sc->n_pending++] = e;
	return 0;
}

/* Count the pending requests whose trace q= selects and whose tool passes. */
static void add_pending(struct row_scan *sc)
{
	for (size_t i = 0; i < sc->n_pending && !sc->failed; i++) {
		struct pending *e = &sc->pending[i];
		int64_t tool;
		if (sc->ql && !spanset_has(&sc->set, e->trace_id))
			continue;
		if (!e->tool && strmap_get(&sc->trace_tool, e->trace_id, 16, &tool) == 0)
			e->tool = (const char *)(intptr_t)tool;
		if (dim_ok(sc->q->tool, e->tool))
			add_request(sc, e);
	}
}

static int scan_failure(const struct row_scan *sc, char *err, size_t errlen)
{
	if (sc->failed == 2) {
		errf(err, errlen, "q= over this range holds more than %d requests; narrow it",
		     RAWROWS_PENDING_MAX);
		return ERR_TOO_MUCH;
	}
	if (sc->failed == 3) {
		errf(err, errlen, "q= over this range: more than %d traces have a span it selects; narrow it",
		     SPANSET_MAX_TRACES);
		return ERR_TOO_MUCH;
	}
	return errf(err, errlen, "counts overflow");
}

/*
 * One scan: each span adds to its trace's spansets, each entry span that
 * passes the filters waits (with q= or need_tool) until the scan has judged
 * its trace.
 */
int rawrows_load(struct store *st, const struct store_query *q, const struct spanql *ql, unsigned res_s,
		 int need_tool, struct arena *a, struct rollup_row **rows, size_t *n, char *err,
		 size_t errlen)
{
	struct row_scan sc = {.q = q, .ql = ql, .arena = a, .need_tool = need_tool};
	struct perfmarks marks;
	int ret;
	sc.res_ns = (uint64_t)res_s * NS_PER_S;
	sc.lo_ns = q->from_ns / sc.res_ns * sc.res_ns;
	sc.hi_ns = (q->to_ns + NS_PER_S - 1) / NS_PER_S * NS_PER_S; /* as rollups round `to` */
	latency_bounds_from_query(&sc.bounds, q);
	latency_rowbuilder_init(&sc.rb, a, res_s);
	strmap_init(&sc.strs);
	strmap_init(&sc.trace_tool);
	if ((ret = perfmarks_open(&marks, st, ql, sc.lo_ns, sc.hi_ns, err, errlen)) < 0)
		goto out;
	spanset_init(&sc.set, ql, perfmarks_ctx(&marks), 0);
	if ((ret = store_scan_spans(st, sc.lo_ns, sc.hi_ns, scan_span, &sc, err, errlen)) < 0)
		goto out;
	add_pending(&sc);
	if (sc.failed)
		ret = scan_failure(&sc, err, errlen);
out:
	*rows = sc.rb.rows;
	*n = sc.rb.n;
	latency_rowbuilder_release(&sc.rb);
	strmap_release(&sc.strs);
	strmap_release(&sc.trace_tool);
	spanset_release(&sc.set);
	perfmarks_release(&marks);
	free(sc.pending);
	return ret;
}

/* ---- spans of the requests' traces -------------------------------------- */

/* Key of an entry span: trace id and span id. */
static void entry_key(uint8_t key[24], const uint8_t *trace_id, const uint8_t *span_id)
{
	memcpy(key, trace_id, 16);
	memcpy(key + 16, span_id, 8);
}

struct span_scan {
	struct arena *arena;
	struct strmap strs;    /* interned names, in arena */
	struct strmap traces;  /* trace id -> 1 */
	struct strmap entries; /* trace id + span id -> request row */
	struct spanset set;    /* q=: the traces it selects */
	struct rawrows_spans *out;
	size_t cap;
};

static int keep_span(void *arg, const struct span *sp)
{
	struct span_scan *sc = arg;
	struct rawrows_spans *o = sc->out;
	int64_t v;
	uint8_t key[24];
	if (strmap_get(&sc->traces, sp->trace_id, 16, &v) < 0)
		return 0;
	if (o->n >= RAWROWS_MAX_SPANS) {
		o->truncated = 1;
		return 1;
	}
	entry_key(key, sp->trace_id, sp->span_id);
	o->spans = xgrow(o->spans, &sc->cap, o->n + 1, sizeof(*o->spans));
	struct latency_span *s = &o->spans[o->n++];
	memcpy(s->trace_id, sp->trace_id, 16);
	memcpy(s->span_id, sp->span_id, 8);
	memcpy(s->parent_span_id, sp->parent_span_id, 8);
	s->start_ns = sp->start_ns;
	s->end_ns = sp->end_ns;
	s->service = strmap_intern(&sc->strs, sc->arena, sp->resource ? sp->resource->service_name : NULL);
	s->name = strmap_intern(&sc->strs, sc->arena, sp->name);
	s->selected = strmap_get(&sc->entries, key, sizeof(key), &v) == 0;
	return spanset_add(&sc->set, sp) < 0;
}

int rawrows_request_spans(struct store *st, const struct request_row *rows, size_t n, const struct spanql *ql,
			  struct arena *a, struct rawrows_spans *out, char *err, size_t errlen)
{
	struct span_scan sc = {.arena = a, .out = out};
	struct perfmarks marks;
	uint64_t lo = UINT64_MAX, hi = 0;
	int ret;
	memset(out, 0, sizeof(*out));
	strmap_init(&sc.strs);
	strmap_init(&sc.traces);
	strmap_init(&sc.entries);
	for (size_t i = 0; i < n; i++) {
		uint8_t key[24];
		entry_key(key, rows[i].trace_id, rows[i].span_id);
		strmap_put(&sc.traces, rows[i].trace_id, 16, 1);
		strmap_put(&sc.entries, key, sizeof(key), (int64_t)i);
		if (rows[i].start_ns < lo)
			lo = rows[i].start_ns;
		if (rows[i].start_ns + rows[i].duration_ns + 1 > hi)
			hi = rows[i].start_ns + rows[i].duration_ns + 1;
	}
	if ((ret = perfmarks_open(&marks, st, ql, lo, hi, err, errlen)) < 0)
		goto out;
	spanset_init(&sc.set, ql, perfmarks_ctx(&marks), 0);
	if (n && (ret = store_scan_spans(st, lo, hi, keep_span, &sc, err, errlen)) < 0)
		goto out;
	/* unselect the requests of the traces q= does not select */
	for (size_t i = 0; ql && i < out->n; i++)
		if (out->spans[i].selected && !spanset_has(&sc.set, out->spans[i].trace_id))
			out->spans[i].selected = 0;
out:
	strmap_release(&sc.strs);
	strmap_release(&sc.traces);
	strmap_release(&sc.entries);
	spanset_release(&sc.set);
	perfmarks_release(&marks);
	return ret;
}
