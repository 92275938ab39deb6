/*
 * request_trees.c - the span trees of request rows: read the rows' traces,
 * keep slim spans, build each trace's tree and hand on its requests (see
 * request_trees.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/parallel.h"
#include "core/clock.h"
#include "core/log.h"
#include "query/request_trees.h"

/* A span kept from a scan: what the trees and the analyses need. */
struct request_trees_span {
	uint32_t trace;
	uint8_t span_id[8], parent_span_id[8];
	uint8_t kind, status;
	uint64_t start_ns, end_ns;
	const char *name, *service, *peer;
	struct slowops_class cls;
	struct bottleneck_span bn; /* when the load describes spans */
};

static void entry_key(uint8_t key[24], const uint8_t *trace_id, const uint8_t *span_id)
{
	memcpy(key, trace_id, 16);
	memcpy(key + 16, span_id, 8);
}

void request_trees_init(struct request_trees *rt, struct store *st, const struct slowops_config *cfg,
			struct arena *a)
{
	memset(rt, 0, sizeof(*rt));
	rt->store = st;
	rt->cfg = cfg;
	rt->arena = a;
	strmap_init(&rt->services);
	strmap_init(&rt->traces);
	strmap_init(&rt->entries);
	strmap_init(&rt->strs);
	arena_init(&rt->scratch);
	perfmarks_init(&rt->marks, NULL, NULL, 0);
}

void request_trees_release(struct request_trees *rt)
{
	strmap_release(&rt->services);
	strmap_release(&rt->traces);
	strmap_release(&rt->entries);
	strmap_release(&rt->strs);
	arena_release(&rt->scratch);
	perfmarks_release(&rt->marks);
	free(rt->masks);
	free(rt->kept);
	free(rt->trace_ids);
}

/* ---- reading ------------------------------------------------------------------ */

static const char *intern(struct request_trees *rt, const char *s)
{
	return strmap_intern(&rt->strs, rt->arena, s);
}

static void keep_span(struct request_trees *rt, const struct span *sp, int64_t trace_no)
{
	if (rt->n >= rt->max_spans) {
		rt->too_many = 1;
		return;
	}
	rt->kept = xgrow(rt->kept, &rt->cap, rt->n + 1, sizeof(*rt->kept));
	struct request_trees_span *k = &rt->kept[rt->n++];
	k->trace = (uint32_t)trace_no;
	memcpy(k->span_id, sp->span_id, 8);
	memcpy(k->parent_span_id, sp->parent_span_id, 8);
	k->kind = sp->kind;
	k->status = sp->status;
	k->start_ns = sp->start_ns;
	k->end_ns = sp->end_ns > sp->start_ns ? sp->end_ns : sp->start_ns;
	k->name = intern(rt, sp->name ? sp->name : "");
	k->service = intern(rt, sp->resource && sp->resource->service_name ? sp->resource->service_name
									   : "unknown");
	k->peer = intern(rt, attr_str(sp->attrs, sp->n_attrs, "server.address"));
	slowops_classify(rt->cfg, sp, &rt->services, &k->cls);
	if (rt->ql)
		rt->masks[trace_no] |= spanql_span_mask(rt->ql, sp, perfmarks_ctx(&rt->marks));
	if (rt->describe) {
		arena_reset(&rt->scratch);
		bottleneck_describe(sp, &rt->scratch, &k->bn);
		k->bn.label = intern(rt, k->bn.label);
		k->bn.peer = intern(rt, k->bn.peer);
	}
	if (rt->on_entry) {
		uint8_t key[24];
		int64_t row;
		entry_key(key, sp->trace_id, sp->span_id);
		if (strmap_get(&rt->entries, key, sizeof(key), &row) == 0)
			rt->on_entry(rt->arg, (size_t)row, sp, &k->cls);
	}
}

static int scan_trace(void *arg, const struct span *spans, size_t n)
{
	struct request_trees *rt = arg;
	int64_t no;
	if (!n || strmap_get(&rt->traces, spans[0].trace_id, 16, &no) < 0)
		return 0;
	for (size_t i = 0; i < n && !rt->too_many; i++)
		keep_span(rt, &spans[i], no);
	return rt->too_many;
}

static int wanted_trace(void *arg, const uint8_t trace_id[16])
{
	const struct request_trees *rt = arg;
	int64_t no;
	return strmap_get(&rt->traces, trace_id, 16, &no) == 0;
}

/* Number the rows' traces, index their entry spans, and bound their time
 * span: [*lo, *hi]. */
static void index_rows(struct request_trees *rt, uint64_t *lo, uint64_t *hi)
{
	size_t cap_ids = 0;
	*lo = UINT64_MAX;
	*hi = 0;
	for (size_t i = 0; i < rt->n_rows; i++) {
		const struct request_row *r = &rt->rows[i];
		uint8_t key[24];
		int64_t have;
		if (strmap_get(&rt->traces, r->trace_id, 16, &have) < 0) {
			rt->trace_ids =
				xgrow(rt->trace_ids, &cap_ids, rt->n_traces + 1, sizeof(*rt->trace_ids));
			rt->trace_ids[rt->n_traces] = r->trace_id;
			strmap_put(&rt->traces, r->trace_id, 16, (int64_t)rt->n_traces++);
		}
		entry_key(key, r->trace_id, r->span_id);
		strmap_put(&rt->entries, key, sizeof(key), (int64_t)i);
		*lo = r->start_ns < *lo ? r->start_ns : *lo;
		*hi = r->start_ns + r->duration_ns > *hi ? r->start_ns + r->duration_ns : *hi;
	}
}

/* The services of the fleet: a call addressed to one is a call within it. */
static int read_services(struct request_trees *rt, const struct store_query *q, char *err, size_t errlen)
{
	const char **values;
	size_t n_values;
	uint64_t from = q->from_ns > REQUEST_TREES_SERVICES_LOOKBACK_NS
				? q->from_ns - REQUEST_TREES_SERVICES_LOOKBACK_NS
				: 0;
	if (store_values(rt->store, DICT_SERVICE, from, q->to_ns, rt->arena, &values, &n_values, err,
			 errlen) < 0)
		return ERR_INTERNAL;
	for (size_t i = 0; i < n_values; i++)
		strmap_put(&rt->services, values[i], strlen(values[i]), 1);
	return 0;
}

/* Threads a per-trace read splits its traces over. */
#define PER_TRACE_THREADS 2

/* One thread's share of a per-trace read: traces first, first + step, ... */
struct per_trace_part {
	struct request_trees *rt;
	struct batch *got; /* one per trace of the load */
	size_t first, step;
	int failed;
	char err[256];
};

static void *per_trace_run(void *arg)
{
	struct per_trace_part *p = arg;
	for (size_t t = p->first; t < p->rt->n_traces && !p->failed; t += p->step)
		if (store_get_trace(p->rt->store, p->rt->trace_ids[t], &p->got[t], p->err, sizeof(p->err)) <
		    0)
			p->failed = 1;
	return NULL;
}

/* Read the trace by trace, through store_get_trace() (few traces), on
 * PER_TRACE_THREADS threads (a trace costs the decompression of its
 * blocks), then keep their spans in the traces' order. */
static int read_per_trace(struct request_trees *rt, char *err, size_t errlen)
{
	struct per_trace_part parts[PER_TRACE_THREADS];
	struct batch *got = xmalloc(rt->n_traces * sizeof(*got));
	int rc = 0;
	for (size_t t = 0; t < rt->n_traces; t++)
		batch_init(&got[t]);
	for (size_t k = 0; k < PER_TRACE_THREADS; k++)
		parts[k] =
			(struct per_trace_part){.rt = rt, .got = got, .first = k, .step = PER_TRACE_THREADS};
	parallel_run(per_trace_run, parts, sizeof(*parts),
		     rt->n_traces < PER_TRACE_THREADS ? (unsigned)rt->n_traces : PER_TRACE_THREADS);
	for (size_t k = 0; k < PER_TRACE_THREADS && !rc; k++)
		if (parts[k].failed)
			rc = errf(err, errlen, "%s", parts[k].err);
	for (size_t t = 0; t < rt->n_traces; t++) {
		for (size_t i = 0; !rc && !rt->too_many && i < got[t].n_spans; i++)
			keep_span(rt, &got[t].spans[i], (int64_t)t);
		batch_release(&got[t]);
	}
	free(got);
	return rc < 0 ? ERR_INTERNAL : 0;
}

/* Read the spans of the rows' traces: trace by trace (per_trace), or one
 * scan of their time span. */
static int read_spans(struct request_trees *rt, const struct store_query *q, char *err, size_t errlen)
{
	uint64_t lo, hi;
	int rc;
	if (!rt->n_rows)
		return 0; /* no spans to read, nor services to classify them by */
	if ((rc = read_services(rt, q, err, errlen)) < 0)
		return rc;
	index_rows(rt, &lo, &hi);
	if (!rt->n_traces)
		return 0;
	if (rt->ql) {
		rt->masks = xcalloc(rt->n_traces, sizeof(*rt->masks));
		perfmarks_release(&rt->marks);
		rc = perfmarks_open(&rt->marks, rt->store, rt->ql, lo, hi + 1, err, errlen);
		if (rc < 0)
			return rc == ERR_TOO_MUCH ? ERR_TOO_MUCH : ERR_INTERNAL;
	}
	if (rt->per_trace)
		return read_per_trace(rt, err, errlen);
	struct store_scan sc = {
		.from_ns = lo, .to_ns = hi + 1, .keep_trace = wanted_trace, .keep_trace_arg = rt};
	if (store_scan(rt->store, &sc, scan_trace, rt, err, errlen) < 0)
		return ERR_INTERNAL;
	return 0;
}

/* ---- walking ------------------------------------------------------------------ */

/* Scratch arrays for one trace: its spans, and the subtree of one request. */
struct trace_buf {
	struct span *spans, *sub;
	struct resource *res, *sub_res;
	struct attr *peer, *sub_peer;
	struct slowops_class *cls, *sub_cls;
	struct bottleneck_span *desc, *sub_desc;
	size_t *stack;
	size_t cap, cap_sub, cap_res, cap_peer, cap_cls, cap_sub_res, cap_sub_peer, cap_sub_cls, cap_stack;
	size_t cap_desc, cap_sub_desc;
};

static void trace_buf_release(struct trace_buf *tb)
{
	free(tb->spans);
	free(tb->sub);
	free(tb->res);
	free(tb->sub_res);
	free(tb->peer);
	free(tb->sub_peer);
	free(tb->cls);
	free(tb->sub_cls);
	free(tb->desc);
	free(tb->sub_desc);
	free(tb->stack);
}

static void fill_span(struct span *s, struct resource *res, struct attr *peer,
		      const struct request_trees_span *k)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->span_id, k->span_id, 8);
	memcpy(s->parent_span_id, k->parent_span_id, 8);
	s->kind = k->kind;
	s->status = k->status;
	s->start_ns = k->start_ns;
	s->end_ns = k->end_ns;
	s->name = k->name;
	memset(res, 0, sizeof(*res));
	res->service_name = k->service;
	s->resource = res;
	if (k->peer) {
		*peer = (struct attr){.key = "server.address", .type = ATTR_STRING, .v.s = k->peer};
		s->attrs = peer;
		s->n_attrs = 1;
	}
}

/* The kept spans kept[0 .. n) of one trace, as spans with their classes
 * (and descriptions) in tb. */
static void fill_trace(struct request_trees *rt, struct trace_buf *tb, const struct request_trees_span *kept,
		       size_t n)
{
	tb->spans = xgrow(tb->spans, &tb->cap, n, sizeof(*tb->spans));
	tb->res = xgrow(tb->res, &tb->cap_res, n, sizeof(*tb->res));
	tb->peer = xgrow(tb->peer, &tb->cap_peer, n, sizeof(*tb->peer));
	tb->cls = xgrow(tb->cls, &tb->cap_cls, n, sizeof(*tb->cls));
	if (rt->describe)
		tb->desc = xgrow(tb->desc, &tb->cap_desc, n, sizeof(*tb->desc));
	for (size_t k = 0; k < n; k++) {
		fill_span(&tb->spans[k], &tb->res[k], &tb->peer[k], &kept[k]);
		tb->cls[k] = kept[k].cls;
		if (rt->describe)
			tb->desc[k] = kept[k].bn;
	}
}

/* The request at span `root` of tree `t`: copy its subtree and hand it on. */
static void emit_request(struct request_trees *rt, struct trace_buf *tb, const struct spantree *t,
			 size_t root, size_t row, request_trees_fn fn)
{
	size_t n = 0, top = 0;
	tb->stack = xgrow(tb->stack, &tb->cap_stack, t->n, sizeof(*tb->stack));
	tb->sub = xgrow(tb->sub, &tb->cap_sub, t->n, sizeof(*tb->sub));
	tb->sub_res = xgrow(tb->sub_res, &tb->cap_sub_res, t->n, sizeof(*tb->sub_res));
	tb->sub_peer = xgrow(tb->sub_peer, &tb->cap_sub_peer, t->n, sizeof(*tb->sub_peer));
	tb->sub_cls = xgrow(tb->sub_cls, &tb->cap_sub_cls, t->n, sizeof(*tb->sub_cls));
	if (rt->describe)
		tb->sub_desc = xgrow(tb->sub_desc, &tb->cap_sub_desc, t->n, sizeof(*tb->sub_desc));
	tb->stack[top++] = root;
	while (top) {
		size_t i = tb->stack[--top];
		tb->sub[n] = t->spans[i];
		tb->sub_res[n] = *t->spans[i].resource;
		tb->sub[n].resource = &tb->sub_res[n];
		if (t->spans[i].n_attrs) {
			tb->sub_peer[n] = t->spans[i].attrs[0];
			tb->sub[n].attrs = &tb->sub_peer[n];
		}
		tb->sub_cls[n] = tb->cls[i];
		if (rt->describe)
			tb->sub_desc[n] = tb->desc[i];
		n++;
		for (size_t k = t->kid_off[i]; k < t->kid_off[i + 1]; k++)
			tb->stack[top++] = t->kids[k];
	}
	struct spantree sub;
	spantree_build(&sub, tb->sub, n);
	fn(rt->arg, &rt->rows[row], row, &sub, tb->sub_cls, rt->describe ? tb->sub_desc : NULL);
	spantree_release(&sub);
	rt->requests++;
}

/* Hand on the requests of one trace's tree: each row's entry span not
 * inside another row's (unless all_entries). */
static void emit_trace(struct request_trees *rt, struct trace_buf *tb, const struct spantree *t,
		       const uint8_t *trace_id, request_trees_fn fn)
{
	for (size_t k = 0; k < t->n; k++) {
		uint8_t key[24];
		int64_t row, up;
		entry_key(key, trace_id, tb->spans[k].span_id);
		if (strmap_get(&rt->entries, key, sizeof(key), &row) < 0)
			continue;
		int nested = 0;
		for (size_t p = t->parent[k]; p != SPANTREE_NONE && !nested; p = t->parent[p]) {
			entry_key(key, trace_id, tb->spans[p].span_id);
			nested = strmap_get(&rt->entries, key, sizeof(key), &up) == 0;
		}
		if (nested)
			rt->nested++;
		if (!nested || rt->all_entries)
			emit_request(rt, tb, t, k, (size_t)row, fn);
	}
}

static int by_trace(const void *a, const void *b)
{
	const struct request_trees_span *x = a, *y = b;
	if (x->trace != y->trace)
		return x->trace < y->trace ? -1 : 1;
	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

/* Build each trace's tree, settle its remote calls, and hand on its
 * requests. */
static void walk(struct request_trees *rt, request_trees_fn fn)
{
	struct trace_buf tb = {0};
	if (rt->n) /* kept is NULL when nothing was read */
		qsort(rt->kept, rt->n, sizeof(*rt->kept), by_trace);
	for (size_t i = 0; i < rt->n;) {
		size_t j = i;
		uint32_t trace = rt->kept[i].trace;
		while (j < rt->n && rt->kept[j].trace == trace)
			j++;
		if (!rt->ql || spanql_mask_match(rt->ql, rt->masks[trace])) {
			struct spantree t;
			fill_trace(rt, &tb, &rt->kept[i], j - i);
			spantree_build(&t, tb.spans, j - i);
			slowops_resolve(&t, tb.cls);
			emit_trace(rt, &tb, &t, rt->trace_ids[trace], fn);
			spantree_release(&t);
		}
		i = j;
	}
	trace_buf_release(&tb);
}

int request_trees_load(struct request_trees *rt, const struct store_query *q, const struct request_row *rows,
		       size_t n_rows, request_trees_fn fn, void *arg, char *err, size_t errlen)
{
	int rc;
	rt->rows = rows;
	rt->n_rows = n_rows;
	rt->arg = arg;
	if (!rt->max_spans)
		rt->max_spans = REQUEST_TREES_MAX_SPANS;
	if ((rc = read_spans(rt, q, err, errlen)) < 0)
		return rc;
	if (rt->too_many) {
		snprintf(err, errlen, "the selected requests hold more than %zu spans", rt->max_spans);
		return ERR_TOO_BIG;
	}
	rt->matched = rt->ql ? 0 : n_rows;
	for (size_t i = 0; rt->ql && i < n_rows; i++) {
		int64_t no;
		if (strmap_get(&rt->traces, rows[i].trace_id, 16, &no) == 0)
			rt->matched += (size_t)spanql_mask_match(rt->ql, rt->masks[no]);
	}
	walk(rt, fn);
	return 0;
}
