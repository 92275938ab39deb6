/*
 * routes_flame.c - GET /api/v1/flamegraph: one trace's span tree with its
 * critical path, the span trees of many requests merged by path, and the
 * difference of two such sides, as JSON, folded stacks or SVG (docs/API.md).
 *
 * Owns loading the spans of a side and handing them, trace by trace, to the
 * flame tree (profile/folded.h, through analyze/spanflame.h), which merges
 * them into frames ("service: span name") and writes every format.  The
 * tree walk and the critical path are in analyze/spantree.c and
 * analyze/critpath.c, drawing in render/.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/critpath.h"
#include "analyze/spanflame.h"
#include "analyze/spanql.h"
#include "query/perfmarks.h"
#include "analyze/spantree.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/hex.h"
#include "core/idmap.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/strmap.h"
#include "profile/folded.h"
#include "render/flamegraph_svg.h"
#include "server/filters.h"
#include "server/http.h"
#include "server/json_out.h"

#define LIMIT_DEFAULT 1000
#define LIMIT_MAX     1000000
/* Requests a span query (q=) examines, for the first `limit` that match. */
#define QL_CANDIDATES 100000
/* Spans an aggregated side may hold. */
#define SIDE_MAX_SPANS 4000000
/* Distinct frame paths of one answer. */
#define FRAMES_MAX 1000000

enum format { FMT_JSON, FMT_FOLDED, FMT_SVG };

static const char *span_service(const struct span *s)
{
	return s->resource && s->resource->service_name ? s->resource->service_name : "unknown";
}

static uint64_t span_dur(const struct span *s)
{
	return s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0;
}

/* ---- parameters --------------------------------------------------------- */

/* One side of an answer: a trace, or the requests matching filters. */
struct side {
	const char *prefix; /* "", "base." or "compare." */
	int has_trace;
	uint8_t trace_id[16];
	const char *trace_hex;
	struct store_query q;
	struct spanql *ql; /* PREFIX+q, else q: the traces whose requests are merged */
};

static const char *const side_params[] = {
	"trace_id",	   "range",	      "from",	    "to",    "service", "endpoint", "env",
	"environment",	   "version",	      "department", "team",  "intent",	"tool",	    "status",
	"min_duration_ms", "max_duration_ms", "limit",	    "order", "q",
};

/* PREFIX+name, else (for filters) the plain name. */
static const char *param(struct http_request *req, const char *prefix, const char *name, int inherit)
{
	char key[64];
	snprintf(key, sizeof(key), "%s%s", prefix, name);
	const char *v = http_query(req, key);
	if (!v && inherit && *prefix)
		v = http_query(req, name);
	return v && *v ? v : NULL;
}

static int parse_side(struct http_request *req, struct side *sd, const char *prefix)
{
	const char *v;
	memset(sd, 0, sizeof(*sd));
	sd->prefix = prefix;
	if ((v = param(req, prefix, "trace_id", 0))) {
		if (hex_decode(sd->trace_id, 16, v, strlen(v)) < 0 || hex_is_zero(sd->trace_id, 16)) {
			http_error(req, 400, "bad_request", "invalid %strace_id '%.64s': want 32 hex digits",
				   prefix, v);
			return -1;
		}
		sd->has_trace = 1;
		sd->trace_hex = v;
		return 0;
	}
	char err[256];
	if (filters_parse_prefixed(req, prefix, LIMIT_MAX, &sd->q, clock_now_ns(), err, sizeof(err)) < 0) {
		http_error(req, 400, "bad_request", "%s", err);
		return -1;
	}
	if (!param(req, prefix, "limit", 1))
		sd->q.limit = LIMIT_DEFAULT;
	if ((v = param(req, prefix, "q", 1)) && spanql_parse(v, &sd->ql, err, sizeof(err)) < 0) {
		http_error(req, 400, "bad_request", "invalid %sq: %s",
			   param(req, prefix, "q", 0) ? prefix : "", err);
		return -1;
	}
	return 0;
}

static int has_prefixed(struct http_request *req, const char *prefix)
{
	for (size_t i = 0; i < sizeof(side_params) / sizeof(side_params[0]); i++)
		if (param(req, prefix, side_params[i], 0))
			return 1;
	return 0;
}

/* ---- loading a side ----------------------------------------------------- */

/*
 * The requests of a side are found in the request index, then their traces
 * are read from the stored blocks of the requests' time span by SCAN_THREADS
 * threads side by side, each over its own blocks, keeping only what the tree
 * needs (skeleton spans, unless a span query needs the attributes).  A trace
 * whose spans arrived in several writes may come in parts from both threads;
 * the parts are put together by trace number before merging.
 *
 * When only the time range selects (the newest `limit` requests), reading
 * the request rows is skipped: the time index gives the start of the
 * oldest of them, and the scan itself sees which traces have a request (an
 * entry span) from then on.  The threads then number the traces they meet
 * themselves, and the numbers are made common after the scan.
 */
#define SCAN_THREADS 2

/* A span kept from a scan: only what the tree needs. */
struct kept {
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
	_Atomic size_t spans; /* kept by all threads, against SIDE_MAX_SPANS */
};

#define INTERN_CACHE 1024 /* recently seen string pointers, direct-mapped */

/* One thread's part of a scan. */
struct scan {
	struct wanted *w;
	struct store *store;
	struct store_scan sc;
	struct arena arena; /* interned names */
	struct strmap strs;
	struct {
		const char *from, *to;
	} cache[INTERN_CACHE];
	struct kept *kept;
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

static const char *scan_intern(struct scan *sc, const char *s)
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
static int keep_trace(struct scan *sc, const struct span *spans, size_t n, uint32_t no)
{
	struct wanted *w = sc->w;
	if (atomic_fetch_add(&w->spans, n) + n > SIDE_MAX_SPANS) {
		sc->too_many = 1;
		return 1;
	}
	sc->kept = xgrow(sc->kept, &sc->cap, sc->n + n, sizeof(*sc->kept));
	for (size_t i = 0; i < n; i++) {
		const struct span *sp = &spans[i];
		if (w->ql)
			sc->masks[no] |= spanql_span_mask(w->ql, sp, w->qctx);
		struct kept *k = &sc->kept[sc->n++];
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
	struct scan *sc = arg;
	uint32_t no = idmap_get(&sc->w->traces, spans[0].trace_id);
	return no == IDMAP_NONE ? 0 : keep_trace(sc, spans, n, no);
}

/* A trace part met by the scan of a time window: kept under this thread's
 * number for its trace, as another part may hold the trace's request. */
static int scan_window(void *arg, const struct span *spans, size_t n)
{
	struct scan *sc = arg;
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
	struct scan *sc = arg;
	sc->rc = store_scan(sc->store, &sc->sc, sc->w->by_window ? scan_window : scan_trace, sc, sc->err,
			    sizeof(sc->err));
	return NULL;
}

/* Read the wanted traces of [lo, hi) into parts[k]; -1 with a message in err. */
static int scan_parts(struct store *store, struct wanted *w, uint64_t lo, uint64_t hi,
		      struct scan parts[SCAN_THREADS], char *err, size_t errlen)
{
	int ret = 0;
	for (unsigned k = 0; k < SCAN_THREADS; k++) {
		struct scan *sc = &parts[k];
		memset(sc, 0, sizeof(*sc));
		sc->w = w;
		sc->store = store;
		sc->sc = (struct store_scan){
			.from_ns = lo, .to_ns = hi, .every = SCAN_THREADS, .offset = k, .skeleton = !w->ql};
		arena_init(&sc->arena);
		strmap_init(&sc->strs);
		if (w->ql)
			sc->masks = xcalloc(w->n_traces + 1, sizeof(*sc->masks));
		if (w->by_window)
			idmap_init(&sc->seen, w->n_traces / SCAN_THREADS + 1);
	}
	parallel_run(scan_run, parts, sizeof(*parts), SCAN_THREADS);
	for (unsigned k = 0; k < SCAN_THREADS; k++)
		if (parts[k].rc < 0 && ret == 0)
			ret = errf(err, errlen, "%s", parts[k].err);
	return ret;
}

static void scan_parts_release(struct scan parts[SCAN_THREADS])
{
	for (unsigned k = 0; k < SCAN_THREADS; k++) {
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
 * at[first[t] .. first[t + 1]), in the order the scan met them. */
struct by_trace {
	uint32_t *first;
	const struct kept **at;
};

/* A counting sort: one pass to count, one to place. */
static void sort_by_trace(struct by_trace *bt, const struct scan parts[SCAN_THREADS], size_t n_traces)
{
	size_t total = 0;
	bt->first = xcalloc(n_traces + 2, sizeof(*bt->first));
	for (unsigned k = 0; k < SCAN_THREADS; k++) {
		total += parts[k].n;
		for (size_t i = 0; i < parts[k].n; i++)
			bt->first[parts[k].kept[i].trace + 2]++;
	}
	for (size_t t = 2; t < n_traces + 2; t++)
		bt->first[t] += bt->first[t - 1];
	/* first[t + 1] is now where trace t starts: fill, moving it to its end */
	bt->at = xmalloc((total ? total : 1) * sizeof(*bt->at));
	for (unsigned k = 0; k < SCAN_THREADS; k++)
		for (size_t i = 0; i < parts[k].n; i++)
			bt->at[bt->first[parts[k].kept[i].trace + 1]++] = &parts[k].kept[i];
}

/* The merge of grouped traces, by MERGE_THREADS threads side by side, each
 * into its own tree of frames; the trees are added together after. */
#define MERGE_THREADS 2

struct merge {
	struct folded_tree *fs;
	const struct by_trace *bt;
	const uint8_t *only; /* if given, the traces to merge */
	size_t n_traces;
	int side;
	unsigned k; /* merges the traces t with t % MERGE_THREADS == k */
};

static void *merge_run(void *arg)
{
	const struct merge *m = arg;
	struct span *spans = NULL;
	struct resource *res = NULL;
	size_t cap_spans = 0, cap_res = 0;
	for (size_t t = m->k; t < m->n_traces; t += MERGE_THREADS) {
		size_t i = m->bt->first[t], n = m->bt->first[t + 1] - i;
		if (!n || (m->only && !m->only[t]))
			continue;
		spans = xgrow(spans, &cap_spans, n, sizeof(*spans));
		res = xgrow(res, &cap_res, n, sizeof(*res));
		for (size_t k = 0; k < n; k++) {
			struct span *s = &spans[k];
			const struct kept *kp = m->bt->at[i + k];
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

/* Merge the grouped traces (those `only` marks, if given) into side `side`. */
static void merge_kept(struct folded_tree *fs, int side, const struct by_trace *bt, const uint8_t **trace_ids,
		       size_t n_traces, const uint8_t *only)
{
	struct folded_tree others[MERGE_THREADS];
	struct merge m[MERGE_THREADS];
	for (unsigned k = 0; k < MERGE_THREADS; k++) {
		if (k > 0)
			folded_tree_init_spans(&others[k], FRAMES_MAX);
		m[k] = (struct merge){.fs = k ? &others[k] : fs,
				      .bt = bt,
				      .only = only,
				      .n_traces = n_traces,
				      .side = side,
				      .k = k};
	}
	parallel_run(merge_run, m, sizeof(*m), MERGE_THREADS);
	for (unsigned k = 1; k < MERGE_THREADS; k++) {
		folded_spans_absorb(fs, &others[k]);
		folded_tree_release(&others[k]);
	}
	for (size_t t = n_traces; t-- > 0;)
		folded_spans_name_trace(fs, side, t, trace_ids[t]);
}

/* Only the time range selects: the newest `limit` requests. */
static int time_only(const struct side *sd)
{
	const struct store_query *q = &sd->q;
	return !sd->ql && q->order == STORE_NEWEST && !q->service && !q->endpoint && !q->env && !q->version &&
	       !q->latest && !q->department && !q->intent && !q->tool && q->status < 0 &&
	       !q->min_duration_ns && !q->max_duration_ns;
}

/* Number the traces of the side's requests from the request index, newest
 * request first, and find the time span [*lo, *hi) they cover. */
static int search_requests(struct http_request *req, struct side *sd, struct wanted *w,
			   const uint8_t ***trace_ids, uint64_t *lo, uint64_t *hi)
{
	struct request_row *rows;
	size_t n_rows;
	char err[256];
	if (sd->ql)
		sd->q.limit = QL_CANDIDATES;
	sd->q.ids_only = 1;
	if (store_search(req->srv->store, &sd->q, &req->arena, &rows, &n_rows, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		return -1;
	}
	*lo = UINT64_MAX;
	*hi = 0;
	*trace_ids = arena_alloc(&req->arena, (n_rows ? n_rows : 1) * sizeof(**trace_ids));
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
static size_t number_window(struct scan parts[SCAN_THREADS], struct arena *a, const uint8_t ***trace_ids)
{
	size_t seen = 0, n = 0, wanted = 0;
	for (unsigned k = 0; k < SCAN_THREADS; k++)
		seen += parts[k].n_seen;
	struct idmap all;
	struct numbering *o = xmalloc((seen ? seen : 1) * sizeof(*o));
	uint32_t *common[SCAN_THREADS], *final = xmalloc((seen ? seen : 1) * sizeof(*final));
	idmap_init(&all, seen);
	for (unsigned k = 0; k < SCAN_THREADS; k++) {
		struct scan *sc = &parts[k];
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
	for (unsigned k = 0; k < SCAN_THREADS; k++) {
		struct scan *sc = &parts[k];
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

/* Merge the requests matching the side's filters.  -1: the answer is set. */
static int load_matching(struct http_request *req, struct side *sd, struct folded_tree *fs, int side)
{
	char err[256];
	int r = -1;
	struct wanted w = {.ql = sd->ql, .by_window = time_only(sd)};
	struct scan parts[SCAN_THREADS];
	struct by_trace bt = {0};
	unsigned want = sd->q.limit;
	uint8_t *matched = NULL;
	const uint8_t **trace_ids = NULL;
	uint64_t lo, hi;
	struct perfmarks marks;
	memset(parts, 0, sizeof(parts));
	perfmarks_init(&marks, NULL, NULL, 0);
	uint64_t t0 = clock_now_ns();
	if (w.by_window) {
		long n = store_newest_requests(req->srv->store, sd->q.from_ns, sd->q.to_ns, sd->q.limit, &lo,
					       &hi, err, sizeof(err));
		if (n < 0) {
			http_error(req, 500, "internal", "%s", err);
			goto out;
		}
		w.from_ns = lo;
		w.to_ns = sd->q.to_ns ? sd->q.to_ns : UINT64_MAX;
		w.n_traces = (size_t)n; /* at most: sizes the threads' numbering */
	} else if (search_requests(req, sd, &w, &trace_ids, &lo, &hi) < 0) {
		goto out;
	}
	if (!w.n_traces) {
		r = 0;
		goto out;
	}
	if (sd->ql) {
		perfmarks_release(&marks);
		int rc = perfmarks_open(&marks, req->srv->store, sd->ql, lo, hi, err, sizeof(err));
		if (rc < 0) {
			http_error(req, rc == -2 ? 400 : 500, rc == -2 ? "bad_request" : "internal", "%s",
				   err);
			goto out;
		}
		w.qctx = perfmarks_ctx(&marks);
	}
	uint64_t t1 = clock_now_ns();
	if (scan_parts(req->srv->store, &w, lo, hi, parts, err, sizeof(err)) < 0) {
		http_error(req, 500, "internal", "%s", err);
		goto out;
	}
	int too_many = 0;
	for (unsigned k = 0; k < SCAN_THREADS; k++)
		too_many |= parts[k].too_many;
	if (too_many) {
		http_error(req, 413, "too_large",
			   "the matching requests hold more than %d spans: narrow %slimit", SIDE_MAX_SPANS,
			   sd->prefix);
		goto out;
	}
	if (w.by_window)
		w.n_traces = number_window(parts, &req->arena, &trace_ids);
	matched = xcalloc(w.n_traces + 1, 1);
	for (size_t t = 0, kept = 0; sd->ql && t < w.n_traces; t++) {
		/* traces are numbered in the requests' order; each thread read some blocks */
		uint64_t mask = 0;
		for (unsigned k = 0; k < SCAN_THREADS; k++)
			mask |= parts[k].masks[t];
		matched[t] = spanql_mask_match(sd->ql, mask) && kept++ < want;
	}
	uint64_t t2 = clock_now_ns();
	sort_by_trace(&bt, parts, w.n_traces);
	uint64_t t3 = clock_now_ns();
	merge_kept(fs, side, &bt, trace_ids, w.n_traces, sd->ql ? matched : NULL);
	uint64_t t4 = clock_now_ns();
	log_debug("flamegraph: %zu traces: %s %.0f ms, scan %.0f ms, group %.0f ms, merge %.0f ms",
		  w.n_traces, w.by_window ? "window" : "search", (double)(t1 - t0) / 1e6,
		  (double)(t2 - t1) / 1e6, (double)(t3 - t2) / 1e6, (double)(t4 - t3) / 1e6);
	r = 0;
out:
	free(matched);
	free(bt.first);
	free(bt.at);
	scan_parts_release(parts);
	perfmarks_release(&marks);
	idmap_release(&w.traces);
	return r;
}

/* Load one trace into `b`.  -1: the answer is set. */
static int load_trace(struct http_request *req, struct side *sd, struct batch *b)
{
	char err[256];
	long n = store_get_trace(req->srv->store, sd->trace_id, b, err, sizeof(err));
	if (n < 0) {
		http_error(req, 500, "internal", "%s", err);
		return -1;
	}
	if (n == 0) {
		http_error(req, 404, "not_found", "trace %s not found", sd->trace_hex);
		return -1;
	}
	return 0;
}

static int load_side(struct http_request *req, struct side *sd, struct folded_tree *fs, int side)
{
	int r;
	if (!sd->has_trace) {
		r = load_matching(req, sd, fs, side);
	} else {
		struct batch b;
		batch_init(&b);
		r = load_trace(req, sd, &b);
		if (r == 0) {
			spanflame_add_trace(fs, b.spans, b.n_spans, side, 0);
			folded_spans_name_trace(fs, side, 0, sd->trace_id);
		}
		batch_release(&b);
	}
	folded_spans_forget(fs);
	return r;
}

/* ---- output ------------------------------------------------------------- */

static int emit_buf(void *ctx, const char *data, size_t len)
{
	return buf_append(ctx, data, len) < 0 ? -1 : 0;
}

/* The frames' own time drawn by the renderer, in microseconds. */
static void reply_svg(struct http_request *req, const struct folded_tree *fs, int two, const char *title)
{
	struct folded_tree t;
	struct flame_opts o;
	struct buf *out = &req->res.body;
	char err[256];
	folded_tree_init(&t, NULL);
	if (folded_spans_stacks(fs, two, &t, err, sizeof(err)) < 0 ||
	    folded_tree_finish(&t, err, sizeof(err)) < 0)
		goto fail;
	flame_opts_init(&o);
	o.title = title;
	o.countname = "µs";
	o.nametype = "Span:";
	req->res.status = 200;
	req->res.content_type = "image/svg+xml";
	buf_reset(out);
	if (flamegraph_svg(&t, &o, emit_buf, out, err, sizeof(err)) < 0)
		goto fail;
	goto out;
fail:
	http_error(req, t.n_nodes <= 1 ? 404 : 500, t.n_nodes <= 1 ? "not_found" : "internal", "%s", err);
out:
	folded_tree_release(&t);
}

static void put_span_json(struct buf *b, const struct spantree *t, size_t i)
{
	const struct span *s = &t->spans[i];
	buf_puts(b, "{\"name\":");
	buf_put_json_str(b, s->name ? s->name : "");
	buf_puts(b, ",\"service\":");
	buf_put_json_str(b, span_service(s));
	buf_printf(b, ",\"value_us\":%llu,\"self_us\":%llu,", (unsigned long long)(span_dur(s) / NS_PER_US),
		   (unsigned long long)(spantree_self_ns(t, i) / NS_PER_US));
	json_put_id(b, "span_id", s->span_id, 8);
	buf_printf(b, ",\"start_us\":%llu,\"children\":[", (unsigned long long)(s->start_ns / NS_PER_US));
	for (size_t k = t->kid_off[i]; k < t->kid_off[i + 1]; k++) {
		if (k > t->kid_off[i])
			buf_putc(b, ',');
		put_span_json(b, t, t->kids[k]);
	}
	buf_puts(b, "]}");
}

static void reply_trace_json(struct http_request *req, struct side *sd, const struct batch *bt)
{
	struct spantree t;
	struct critpath_step *steps;
	size_t n_steps;
	spantree_build(&t, bt->spans, bt->n_spans);
	critpath_compute(&t, &steps, &n_steps);
	struct buf *b = http_json(req);
	buf_printf(b, "{\"mode\":\"trace\",\"trace_id\":\"");
	buf_put_hex(b, sd->trace_id, 16);
	buf_printf(b, "\",\"spans\":%zu,\"roots\":[", bt->n_spans);
	for (size_t r = 0; r < t.n_roots; r++) {
		if (r)
			buf_putc(b, ',');
		put_span_json(b, &t, t.roots[r]);
	}
	buf_puts(b, "],\"critical_path\":[");
	for (size_t i = 0; i < n_steps; i++) {
		const struct span *s = &t.spans[steps[i].span];
		buf_puts(b, i ? ",{" : "{");
		json_put_id(b, "span_id", s->span_id, 8);
		buf_puts(b, ",\"name\":");
		buf_put_json_str(b, s->name ? s->name : "");
		buf_puts(b, ",\"service\":");
		buf_put_json_str(b, span_service(s));
		buf_printf(b, ",\"contribution_us\":%llu}",
			   (unsigned long long)(steps[i].contribution_ns / NS_PER_US));
	}
	buf_puts(b, "]}");
	free(steps);
	spantree_release(&t);
}

static void reply_frames(struct http_request *req, const struct folded_tree *fs, enum format fmt, int two,
			 const char *mode, const char *title)
{
	if (fmt == FMT_SVG) {
		reply_svg(req, fs, two, title);
		return;
	}
	if (fmt == FMT_FOLDED) {
		http_reply(req, 200, "text/plain; charset=utf-8", "", 0);
		folded_spans_write_folded(fs, &req->res.body, two);
		return;
	}
	folded_spans_write_json(fs, http_json(req), mode, two);
}

static int get_flamegraph(struct http_request *req)
{
	const char *v = http_query(req, "format");
	enum format fmt = FMT_JSON;
	struct folded_tree fs;
	struct side base = {0}, cmp = {0};
	char title[160];
	if (v && *v) {
		if (!strcmp(v, "json"))
			fmt = FMT_JSON;
		else if (!strcmp(v, "folded"))
			fmt = FMT_FOLDED;
		else if (!strcmp(v, "svg"))
			fmt = FMT_SVG;
		else {
			http_error(req, 400, "bad_request", "invalid format '%.64s': use json, folded or svg",
				   v);
			return HTTP_DONE;
		}
	}
	folded_tree_init_spans(&fs, FRAMES_MAX);
	int two = has_prefixed(req, "base.") || has_prefixed(req, "compare.");
	if (two) {
		if (parse_side(req, &base, "base.") < 0 || parse_side(req, &cmp, "compare.") < 0 ||
		    load_side(req, &base, &fs, 0) < 0 || load_side(req, &cmp, &fs, 1) < 0)
			goto out;
		snprintf(title, sizeof(title), "Differential flame graph: %u vs %u traces",
			 (unsigned)folded_spans_traces(&fs, 0), (unsigned)folded_spans_traces(&fs, 1));
	} else {
		if (parse_side(req, &base, "") < 0)
			goto out;
		if (base.has_trace && fmt == FMT_JSON) {
			struct batch b;
			batch_init(&b);
			if (load_trace(req, &base, &b) == 0)
				reply_trace_json(req, &base, &b);
			batch_release(&b);
			goto out;
		}
		if (load_side(req, &base, &fs, 0) < 0)
			goto out;
		if (base.has_trace)
			snprintf(title, sizeof(title), "Trace %.32s", base.trace_hex);
		else
			snprintf(title, sizeof(title), "Flame graph of %u traces",
				 (unsigned)folded_spans_traces(&fs, 0));
	}
	if (folded_spans_too_many(&fs)) {
		http_error(req, 413, "too_large", "more than %d distinct frame paths: narrow the filters",
			   FRAMES_MAX);
		goto out;
	}
	folded_spans_finish(&fs);
	reply_frames(req, &fs, fmt, two, two ? "diff" : base.has_trace ? "trace" : "aggregate", title);
out:
	spanql_free(base.ql);
	spanql_free(cmp.ql);
	folded_tree_release(&fs);
	return HTTP_DONE;
}

const struct route flame_routes[] = {
	{"GET", "/api/v1/flamegraph", get_flamegraph, NULL, 0},
	{NULL, NULL, NULL, NULL, 0},
};
