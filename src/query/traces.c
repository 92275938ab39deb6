/*
 * traces.c - the spans of the selected requests' traces, read on several
 * threads and merged into a span flame tree (see traces.h).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/spanflame.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/idmap.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/strmap.h"
#include "ingest/semconv.h"
#include "query/perfmarks.h"
#include "query/traces.h"

static const char *span_service(const struct span *s)
{
	return s->resource && s->resource->service_name ? s->resource->service_name : "unknown";
}

/* A span kept from a scan: only what the tree needs. */
struct traces_kept {
	uint32_t trace;
	uint8_t span_id[8], parent_span_id[8];
	uint8_t kind;
	uint64_t start_ns, end_ns;
	const char *name, *service;
};

/* What the threads of one scan share, read-only while they run. */
struct wanted {
	const struct spanql *ql;
	const struct spanql_ctx *qctx;
	struct idmap traces; /* trace id -> trace number */
	size_t n_traces;
	/* by window: the traces with a request starting in [from_ns, to_ns) */
	int by_window;
	uint64_t from_ns, to_ns;
	_Atomic size_t spans; /* kept by all threads, against TRACES_MAX_SPANS */
};

#define INTERN_CACHE 1024 /* recently seen string pointers, direct-mapped */

/* One thread's part of a scan. */
struct traces_part {
	struct wanted *w;
	struct store *store;
	struct store_scan sc;
	struct arena arena; /* interned names */
	struct strmap strs;
	struct {
		const char *from, *to;
	} cache[INTERN_CACHE];
	struct traces_kept *kept;
	size_t n, cap;
	uint64_t *masks; /* with ql: per trace number, the spansets its spans satisfy */
	/* by window: this thread's own trace numbers, with the start of each
	 * trace's newest request in the window (+ 1; 0: none) */
	struct idmap seen;
	uint8_t (*ids)[16];
	uint64_t *newest;
	size_t n_seen, cap_ids, cap_newest;
	int too_many, rc;
	char err[256];
};

static const char *scan_intern(struct traces_part *sc, const char *s)
{
	if (!s)
		s = "";
	/* a block names each string once, so pointers repeat; check the text,
	 * as a later block may reuse the memory */
	size_t slot = ((uintptr_t)s >> 3) % INTERN_CACHE;
	if (sc->cache[slot].from == s && !strcmp(sc->cache[slot].to, s))
		return sc->cache[slot].to;
	sc->cache[slot].from = s;
	sc->cache[slot].to = strmap_intern(&sc->strs, &sc->arena, s);
	return sc->cache[slot].to;
}

/* Keep the spans of (part of) trace number `no`; non-zero: too many. */
static int keep_trace(struct traces_part *sc, const struct span *spans, size_t n, uint32_t no)
{
	struct wanted *w = sc->w;
	if (atomic_fetch_add(&w->spans, n) + n > TRACES_MAX_SPANS) {
		sc->too_many = 1;
		return 1;
	}
	sc->kept = xgrow(sc->kept, &sc->cap, sc->n + n, sizeof(*sc->kept));
	for (size_t i = 0; i < n; i++) {
		const struct span *sp = &spans[i];
		if (w->ql)
			sc->masks[no] |= spanql_span_mask(w->ql, sp, w->qctx);
		struct traces_kept *k = &sc->kept[sc->n++];
		k->trace = no;
		memcpy(k->span_id, sp->span_id, 8);
		memcpy(k->parent_span_id, sp->parent_span_id, 8);
		k->kind = sp->kind;
		k->start_ns = sp->start_ns;
		k->end_ns = sp->end_ns;
		k->name = scan_intern(sc, sp->name);
		k->service = scan_intern(sc, span_service(sp));
	}
	return 0;
}

/* A trace part met by the scan of a search's requests. */
static int scan_trace(void *arg, const struct span *spans, size_t n)
{
	struct traces_part *sc = arg;
	uint32_t no = idmap_get(&sc->w->traces, spans[0].trace_id);
	return no == IDMAP_NONE ? 0 : keep_trace(sc, spans, n, no);
}

/* A trace part met by the scan of a time window: kept under this thread's
 * number for its trace, as another part may hold the trace's request. */
static int scan_window(void *arg, const struct span *spans, size_t n)
{
	struct traces_part *sc = arg;
	uint32_t *slot = idmap_slot(&sc->seen, spans[0].trace_id);
	if (!slot) {
		idmap_grow(&sc->seen, 2 * sc->seen.max);
		slot = idmap_slot(&sc->seen, spans[0].trace_id);
	}
	if (*slot == IDMAP_NONE) {
		*slot = (uint32_t)sc->n_seen++;
		sc->ids = xgrow(sc->ids, &sc->cap_ids, sc->n_seen, sizeof(*sc->ids));
		sc->newest = xgrow(sc->newest, &sc->cap_newest, sc->n_seen, sizeof(*sc->newest));
		memcpy(sc->ids[*slot], spans[0].trace_id, 16);
		sc->newest[*slot] = 0;
	}
	uint32_t no = *slot;
	for (size_t i = 0; i < n; i++) {
		const struct span *sp = &spans[i];
		if (sp->start_ns >= sc->w->from_ns && sp->start_ns < sc->w->to_ns &&
		    sp->start_ns + 1 > sc->newest[no] && span_is_entry(sp))
			sc->newest[no] = sp->start_ns + 1;
	}
	return keep_trace(sc, spans, n, no);
}

static void *scan_run(void *arg)
{
	struct traces_part *sc = arg;
	sc->rc = store_scan(sc->store, &sc->sc, sc->w->by_window ? scan_window : scan_trace, sc, sc->err,
			    sizeof(sc->err));
	return NULL;
}

/* Read the wanted traces of [lo, hi) into parts[k]; -1 with a message in err. */
static int scan_parts(struct store *store, struct wanted *w, uint64_t lo, uint64_t hi,
		      struct traces_part parts[TRACES_THREADS], char *err, size_t errlen)
{
	int ret = 0;
	for (unsigned k = 0; k < TRACES_THREADS; k++) {
		struct traces_part *sc = &parts[k];
		memset(sc, 0, sizeof(*sc));
		sc->w = w;
		sc->store = store;
		sc->sc = (struct store_scan){
			.from_ns = lo, .to_ns = hi, .every = TRACES_THREADS, .offset = k, .skeleton = !w->ql};
		arena_init(&sc->arena);
		strmap_init(&sc->strs);
		if (w->ql)
			sc->masks = xcalloc(w->n_traces + 1, sizeof(*sc->masks));
		if (w->by_window)
			idmap_init(&sc->seen, w->n_traces / TRACES_THREADS + 1);
	}
	parallel_run(scan_run, parts, sizeof(*parts), TRACES_THREADS);
	for (unsigned k = 0; k < TRACES_THREADS; k++)
		if (parts[k].rc < 0 && ret == 0)
			ret = errf(err, errlen, "%s", parts[k].err);
	return ret;
}

static void scan_parts_release(struct traces_part parts[TRACES_THREADS])
{
	for (unsigned k = 0; k < TRACES_THREADS; k++) {
		free(parts[k].kept);
		free(parts[k].masks);
		free(parts[k].ids);
		free(parts[k].newest);
		idmap_release(&parts[k].seen);
		strmap_release(&parts[k].strs);
		arena_release(&parts[k].arena);
	}
}

/* The kept spans of all parts grouped by trace number: trace t's are
 * bt->at[first[t] .. first[t + 1]), in the order the scan met them.  A
 * counting sort: one pass to count, one to place. */
static void sort_by_trace(struct traces *bt)
{
	const struct traces_part *parts = bt->parts;
	size_t n_traces = bt->n;
	size_t total = 0;
	bt->first = xcalloc(n_traces + 2, sizeof(*bt->first));
	for (unsigned k = 0; k < TRACES_THREADS; k++) {
		total += parts[k].n;
		for (size_t i = 0; i < parts[k].n; i++)
			bt->first[parts[k].kept[i].trace + 2]++;
	}
	for (size_t t = 2; t < n_traces + 2; t++)
		bt->first[t] += bt->first[t - 1];
	/* first[t + 1] is now where trace t starts: fill, moving it to its end */
	bt->at = xmalloc((total ? total : 1) * sizeof(*bt->at));
	for (unsigned k = 0; k < TRACES_THREADS; k++)
		for (size_t i = 0; i < parts[k].n; i++)
			bt->at[bt->first[parts[k].kept[i].trace + 1]++] = &parts[k].kept[i];
}

/* The merge of grouped traces, by TRACES_THREADS threads side by side, each
 * into its own tree of frames; the trees are added together after. */
struct merge {
	struct folded_tree *fs;
	const struct traces *bt;
	const uint8_t *only; /* if given, the traces to merge */
	size_t n_traces;
	int side;
	unsigned k; /* merges the traces t with t % TRACES_THREADS == k */
};

static void *merge_run(void *arg)
{
	const struct merge *m = arg;
	struct span *spans = NULL;
	struct resource *res = NULL;
	size_t cap_spans = 0, cap_res = 0;
	for (size_t t = m->k; t < m->n_traces; t += TRACES_THREADS) {
		size_t i = m->bt->first[t], n = m->bt->first[t + 1] - i;
		if (!n || (m->only && !m->only[t]))
			continue;
		spans = xgrow(spans, &cap_spans, n, sizeof(*spans));
		res = xgrow(res, &cap_res, n, sizeof(*res));
		for (size_t k = 0; k < n; k++) {
			struct span *s = &spans[k];
			const struct traces_kept *kp = m->bt->at[i + k];
			memset(s, 0, sizeof(*s));
			memcpy(s->span_id, kp->span_id, 8);
			memcpy(s->parent_span_id, kp->parent_span_id, 8);
			s->kind = kp->kind;
			s->start_ns = kp->start_ns;
			s->end_ns = kp->end_ns;
			s->name = kp->name;
			res[k] = (struct resource){.service_name = kp->service};
			s->resource = &res[k];
		}
		spanflame_add_trace(m->fs, spans, n, m->side, t);
	}
	free(spans);
	free(res);
	return NULL;
}

void traces_merge_flame(const struct traces *bt, struct folded_tree *fs, int side)
{
	struct folded_tree others[TRACES_THREADS];
	struct merge m[TRACES_THREADS];
	for (unsigned k = 0; k < TRACES_THREADS; k++) {
		if (k > 0)
			folded_tree_init_spans(&others[k], fs->lim.max_nodes);
		m[k] = (struct merge){.fs = k ? &others[k] : fs,
				      .bt = bt,
				      .only = bt->merge,
				      .n_traces = bt->n,
				      .side = side,
				      .k = k};
	}
	parallel_run(merge_run, m, sizeof(*m), TRACES_THREADS);
	for (unsigned k = 1; k < TRACES_THREADS; k++) {
		folded_spans_absorb(fs, &others[k]);
		folded_tree_release(&others[k]);
	}
	for (size_t t = bt->n; t-- > 0;)
		folded_spans_name_trace(fs, side, t, bt->ids[t]);
}

struct numbering {
	uint64_t newest; /* 1 + the start of the trace's newest request; 0: none */
	const uint8_t *id;
	uint32_t common;
};

static int newest_first(const void *pa, const void *pb)
{
	const struct numbering *a = pa, *b = pb;
	if (a->newest != b->newest)
		return a->newest < b->newest ? 1 : -1;
	return memcmp(a->id, b->id, 16);
}

/*
 * After a scan by window: number the traces that have a request in the
 * window the same in all parts, newest request first (as a search would
 * list them), and drop the spans of the others.  Returns how many there
 * are; trace_ids[k] is the id of number k.
 */
static size_t number_window(struct traces_part parts[TRACES_THREADS], struct arena *a,
			    const uint8_t ***trace_ids)
{
	size_t seen = 0, n = 0, wanted = 0;
	for (unsigned k = 0; k < TRACES_THREADS; k++)
		seen += parts[k].n_seen;
	struct idmap all;
	struct numbering *o = xmalloc((seen ? seen : 1) * sizeof(*o));
	uint32_t *common[TRACES_THREADS], *final = xmalloc((seen ? seen : 1) * sizeof(*final));
	idmap_init(&all, seen);
	for (unsigned k = 0; k < TRACES_THREADS; k++) {
		struct traces_part *sc = &parts[k];
		common[k] = xmalloc((sc->n_seen ? sc->n_seen : 1) * sizeof(*common[k]));
		for (size_t i = 0; i < sc->n_seen; i++) {
			uint32_t *slot = idmap_slot(&all, sc->ids[i]);
			if (*slot == IDMAP_NONE) {
				*slot = (uint32_t)n;
				o[n] = (struct numbering){
					.newest = 0, .id = sc->ids[i], .common = (uint32_t)n};
				n++;
			}
			if (sc->newest[i] > o[*slot].newest)
				o[*slot].newest = sc->newest[i];
			common[k][i] = *slot;
		}
	}
	qsort(o, n, sizeof(*o), newest_first);
	*trace_ids = arena_alloc(a, (n ? n : 1) * sizeof(**trace_ids));
	for (size_t j = 0; j < n; j++) {
		final[o[j].common] = o[j].newest ? (uint32_t)wanted : IDMAP_NONE;
		if (o[j].newest)
			(*trace_ids)[wanted++] = o[j].id;
	}
	for (unsigned k = 0; k < TRACES_THREADS; k++) {
		struct traces_part *sc = &parts[k];
		size_t m = 0;
		for (size_t i = 0; i < sc->n; i++) {
			uint32_t t = final[common[k][sc->kept[i].trace]];
			if (t != IDMAP_NONE) {
				sc->kept[m] = sc->kept[i];
				sc->kept[m++].trace = t;
			}
		}
		sc->n = m;
		free(common[k]);
	}
	free(final);
	free(o);
	idmap_release(&all);
	return wanted;
}

/* Only the time range selects: the newest `limit` requests. */
static int time_only(const struct store_query *q, const struct spanql *ql)
{
	return !ql && q->order == STORE_NEWEST && !q->service && !q->endpoint && !q->env && !q->version &&
	       !q->latest && !q->department && !q->intent && !q->tool && q->status < 0 &&
	       !q->min_duration_ns && !q->max_duration_ns;
}

/* Number the traces of the requests of `q` from the request index, newest
 * request first, and find the time span [*lo, *hi) they cover. */
static int search_requests(struct store *st, const struct store_query *q, struct wanted *w, struct arena *a,
			   const uint8_t ***trace_ids, uint64_t *lo, uint64_t *hi, char *err, size_t errlen)
{
	struct store_query sq = *q;
	struct request_row *rows;
	size_t n_rows;
	if (w->ql)
		sq.limit = TRACES_QL_CANDIDATES;
	sq.ids_only = 1;
	if (store_search(st, &sq, a, &rows, &n_rows, err, errlen) < 0)
		return -1;
	*lo = UINT64_MAX;
	*hi = 0;
	*trace_ids = arena_alloc(a, (n_rows ? n_rows : 1) * sizeof(**trace_ids));
	idmap_init(&w->traces, n_rows);
	for (size_t i = 0; i < n_rows; i++) {
		uint32_t *no = idmap_slot(&w->traces, rows[i].trace_id);
		if (*no == IDMAP_NONE) {
			(*trace_ids)[w->n_traces] = rows[i].trace_id;
			*no = (uint32_t)w->n_traces++;
		}
		uint64_t end = rows[i].start_ns + rows[i].duration_ns;
		*lo = rows[i].start_ns < *lo ? rows[i].start_ns : *lo;
		*hi = end + 1 > *hi ? end + 1 : *hi;
	}
	return 0;
}

/* The time span to scan and, by window, how many traces there may be. */
static int find_requests(struct traces *t, struct store *st, const struct store_query *q, struct wanted *w,
			 struct arena *a, uint64_t *lo, uint64_t *hi, char *err, size_t errlen)
{
	if (!w->by_window)
		return search_requests(st, q, w, a, &t->ids, lo, hi, err, errlen);
	long n = store_newest_requests(st, q->from_ns, q->to_ns, q->limit, lo, hi, err, errlen);
	if (n < 0)
		return -1;
	w->from_ns = *lo;
	w->to_ns = q->to_ns ? q->to_ns : UINT64_MAX;
	w->n_traces = (size_t)n; /* at most: sizes the threads' numbering */
	return 0;
}

/* With q=: mark the first `want` traces it selects (numbered in the
 * requests' order; each thread read some blocks). */
static void judge(struct traces *t, const struct spanql *ql, unsigned want)
{
	t->merge = xcalloc(t->n + 1, 1);
	for (size_t no = 0, kept = 0; no < t->n; no++) {
		uint64_t mask = 0;
		for (unsigned k = 0; k < TRACES_THREADS; k++)
			mask |= t->parts[k].masks[no];
		t->merge[no] = spanql_mask_match(ql, mask) && kept++ < want;
	}
}

int traces_load(struct traces *t, struct store *st, const struct store_query *q, const struct spanql *ql,
		struct arena *a, char *err, size_t errlen)
{
	struct wanted w = {.ql = ql, .by_window = time_only(q, ql)};
	struct perfmarks marks;
	uint64_t lo, hi;
	int ret;
	memset(t, 0, sizeof(*t));
	t->parts = xcalloc(TRACES_THREADS, sizeof(*t->parts));
	perfmarks_init(&marks, NULL, NULL, 0);
	uint64_t t0 = clock_now_ns();
	if ((ret = find_requests(t, st, q, &w, a, &lo, &hi, err, errlen)) < 0 || !w.n_traces)
		goto out;
	if (ql) {
		perfmarks_release(&marks);
		if ((ret = perfmarks_open(&marks, st, ql, lo, hi, err, errlen)) < 0)
			goto out;
		w.qctx = perfmarks_ctx(&marks);
	}
	uint64_t t1 = clock_now_ns();
	if ((ret = scan_parts(st, &w, lo, hi, t->parts, err, errlen)) < 0)
		goto out;
	for (unsigned k = 0; k < TRACES_THREADS; k++)
		if (t->parts[k].too_many) {
			errf(err, errlen, "the matching requests hold more than %d spans", TRACES_MAX_SPANS);
			ret = ERR_TOO_BIG;
			goto out;
		}
	t->n = w.by_window ? number_window(t->parts, a, &t->ids) : w.n_traces;
	if (ql)
		judge(t, ql, q->limit);
	uint64_t t2 = clock_now_ns();
	sort_by_trace(t);
	log_debug("traces: %zu traces: %s %.0f ms, scan %.0f ms, group %.0f ms", t->n,
		  w.by_window ? "window" : "search", (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6,
		  (double)(clock_now_ns() - t2) / 1e6);
out:
	perfmarks_release(&marks);
	idmap_release(&w.traces);
	return ret;
}

void traces_release(struct traces *t)
{
	if (t->parts)
		scan_parts_release(t->parts);
	free(t->parts);
	free(t->merge);
	free(t->first);
	free(t->at);
	memset(t, 0, sizeof(*t));
}
