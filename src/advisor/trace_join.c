/*
 * trace_join.c - a trace's parts from several blocks, joined (see
 * trace_join.h).  Held traces live in an array, found by trace id through
 * an idmap whose removed entries are marked GONE (an idmap never deletes:
 * it is rebuilt from the array when full); their copies live in two arenas
 * taken in turn.
 */
#include "advisor/trace_join.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/idmap.h"

#define GONE	(IDMAP_NONE - 1)
#define MAX_RES 8 /* resources a held trace shares among its copies */

struct held {
	uint8_t trace_id[16];
	struct span *spans; /* copies */
	size_t n, cap;
	const struct resource *res[MAX_RES]; /* the copied resources, each once */
	unsigned n_res;
	uint64_t last_end, last_block;
	uint64_t gen; /* the oldest generation holding its copies */
};

struct trace_join {
	trace_join_fn fn;
	void *arg;
	struct held *held;
	size_t n_held, cap_held;
	struct idmap map; /* trace id -> index in held, or GONE */
	struct arena arenas[2];
	uint64_t gen;	  /* arenas[gen & 1] takes the copies */
	size_t gen_spans; /* copied into it */
	uint64_t block;	  /* blocks begun */
	uint64_t min_end; /* at most the least last_end held: when a sweep may feed some */
	uint64_t min_block;
	uint64_t *ids; /* scratch: the span ids of a part */
	size_t cap_ids;
	struct trace_join_stats st;
};

struct trace_join *trace_join_new(trace_join_fn fn, void *arg)
{
	struct trace_join *j = xcalloc(1, sizeof(*j));
	j->fn = fn;
	j->arg = arg;
	arena_init(&j->arenas[0]);
	arena_init(&j->arenas[1]);
	j->min_end = j->min_block = UINT64_MAX;
	return j;
}

void trace_join_free(struct trace_join *j)
{
	if (!j)
		return;
	arena_release(&j->arenas[0]);
	arena_release(&j->arenas[1]);
	idmap_release(&j->map);
	free(j->held);
	free(j->ids);
	free(j);
}

void trace_join_get_stats(const struct trace_join *j, struct trace_join_stats *st)
{
	*st = j->st;
}

/* ---- does it look whole? ------------------------------------------------- */

static uint64_t id64(const uint8_t id[8])
{
	uint64_t v;
	memcpy(&v, id, 8);
	return v;
}

static int has_entry(const struct span *sp, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sp[i].kind == SPAN_KIND_SERVER || sp[i].kind == SPAN_KIND_CONSUMER)
			return 1;
	return 0;
}

/* Whether every parent named in a small part is in it: pairs compared. */
static int parents_in_few(const struct span *sp, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t p = id64(sp[i].parent_span_id);
		size_t k = 0;
		while (p && k < n && id64(sp[k].span_id) != p)
			k++;
		if (p && k == n)
			return 0;
	}
	return 1;
}

/* The same for a larger part, through a table of its span ids (0 = empty:
 * a span id is never all zero). */
static int parents_in(struct trace_join *j, const struct span *sp, size_t n)
{
	if (n <= 16)
		return parents_in_few(sp, n);
	size_t size = 32;
	while (size < 2 * n)
		size *= 2;
	j->ids = xgrow(j->ids, &j->cap_ids, size, sizeof(*j->ids));
	memset(j->ids, 0, size * sizeof(*j->ids));
	size_t mask = size - 1;
	for (size_t i = 0; i < n; i++) {
		uint64_t id = id64(sp[i].span_id);
		size_t s = (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & mask;
		while (j->ids[s] && j->ids[s] != id)
			s = (s + 1) & mask;
		j->ids[s] = id;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t p = id64(sp[i].parent_span_id);
		if (!p)
			continue;
		size_t s = (size_t)((p * 0x9e3779b97f4a7c15ull) >> 32) & mask;
		while (j->ids[s] && j->ids[s] != p)
			s = (s + 1) & mask;
		if (!j->ids[s])
			return 0;
	}
	return 1;
}

static int looks_whole(struct trace_join *j, const struct span *sp, size_t n)
{
	return has_entry(sp, n) && parents_in(j, sp, n);
}

/* ---- the held traces ------------------------------------------------------ */

static uint32_t held_find(const struct trace_join *j, const uint8_t trace_id[16])
{
	uint32_t k = j->n_held ? idmap_get(&j->map, trace_id) : IDMAP_NONE;
	return k == GONE ? IDMAP_NONE : k;
}

/* The map again from the held array alone: the GONE entries drop out. */
static void map_rebuild(struct trace_join *j)
{
	idmap_release(&j->map);
	idmap_init(&j->map, 2 * j->n_held + 1024);
	for (size_t k = 0; k < j->n_held; k++)
		*idmap_slot(&j->map, j->held[k].trace_id) = (uint32_t)k;
}

static struct held *held_add(struct trace_join *j, const uint8_t trace_id[16])
{
	uint32_t *slot = j->map.slots ? idmap_slot(&j->map, trace_id) : NULL;
	if (!slot) {
		map_rebuild(j);
		slot = idmap_slot(&j->map, trace_id);
	}
	*slot = (uint32_t)j->n_held;
	j->held = xgrow(j->held, &j->cap_held, j->n_held + 1, sizeof(*j->held));
	struct held *h = &j->held[j->n_held++];
	memset(h, 0, sizeof(*h));
	memcpy(h->trace_id, trace_id, 16);
	h->gen = j->gen;
	return h;
}

static void held_remove(struct trace_join *j, size_t k)
{
	*idmap_slot(&j->map, j->held[k].trace_id) = GONE;
	if (k != --j->n_held) {
		j->held[k] = j->held[j->n_held];
		*idmap_slot(&j->map, j->held[k].trace_id) = (uint32_t)k;
	}
	if (!j->n_held)
		j->min_end = j->min_block = UINT64_MAX;
}

/* The copy of `r` this held trace already has, or a new one. */
static const struct resource *res_copy(struct arena *a, struct held *h, const struct resource *r)
{
	if (!r)
		return NULL;
	for (unsigned i = 0; i < h->n_res; i++)
		if (resource_same(h->res[i], r))
			return h->res[i];
	const struct resource *c = resource_copy(a, r);
	if (h->n_res < MAX_RES)
		h->res[h->n_res++] = c;
	return c;
}

static void held_append(struct trace_join *j, struct held *h, const struct span *sp, size_t n)
{
	struct arena *a = &j->arenas[j->gen & 1];
	const struct resource *from = NULL, *to = NULL;
	h->spans = arena_grow(a, h->spans, &h->cap, h->n + n, sizeof(*h->spans));
	for (size_t i = 0; i < n; i++) {
		struct span *c = &h->spans[h->n++];
		span_copy(a, c, &sp[i]);
		if (sp[i].resource != from) { /* the spans of a part mostly share one */
			from = sp[i].resource;
			to = res_copy(a, h, from);
		}
		c->resource = to;
		if (sp[i].end_ns > h->last_end)
			h->last_end = sp[i].end_ns;
	}
	h->last_block = j->block;
	j->gen_spans += n;
	if (h->last_end < j->min_end)
		j->min_end = h->last_end;
	if (h->last_block < j->min_block)
		j->min_block = h->last_block;
}

static int by_start(const void *x, const void *y)
{
	const struct span *a = x, *b = y;
	if (a->start_ns != b->start_ns)
		return a->start_ns < b->start_ns ? -1 : 1;
	return memcmp(a->span_id, b->span_id, 8);
}

/* Feed held trace k, by start time as the store keeps a trace, and forget it. */
static int held_feed(struct trace_join *j, size_t k)
{
	struct held *h = &j->held[k];
	qsort(h->spans, h->n, sizeof(*h->spans), by_start);
	int rc = j->fn(j->arg, h->spans, h->n);
	held_remove(j, k);
	return rc;
}

/* Feed the held traces `done` says are done; the bounds for the next sweep
 * are those of what stays. */
static int sweep(struct trace_join *j, int (*done)(const struct trace_join *, const struct held *, uint64_t),
		 uint64_t t)
{
	uint64_t min_end = UINT64_MAX, min_block = UINT64_MAX;
	int rc = 0;
	for (size_t k = j->n_held; k-- > 0 && !rc;) { /* from the end: removal moves the last into k */
		const struct held *h = &j->held[k];
		if (done(j, h, t)) {
			j->st.late++;
			rc = held_feed(j, k);
			continue;
		}
		min_end = h->last_end < min_end ? h->last_end : min_end;
		min_block = h->last_block < min_block ? h->last_block : min_block;
	}
	if (!rc) {
		j->min_end = min_end;
		j->min_block = min_block;
	}
	return rc;
}

static int moved_past(const struct trace_join *j, const struct held *h, uint64_t t_min)
{
	return t_min > h->last_end + JOIN_WAIT_NS || j->block > h->last_block + JOIN_WAIT_BLOCKS;
}

static int in_old_gen(const struct trace_join *j, const struct held *h, uint64_t gen)
{
	return h->gen < gen;
}

/* When the current generation is full: feed what the older one holds,
 * free it, and copy into it from now on. */
static int next_gen(struct trace_join *j)
{
	if (j->gen_spans < JOIN_GEN_SPANS)
		return 0;
	int rc = sweep(j, in_old_gen, j->gen);
	j->gen++;
	j->gen_spans = 0;
	arena_release(&j->arenas[j->gen & 1]);
	return rc;
}

/* ---- the scan's callbacks ------------------------------------------------ */

int trace_join_block(void *arg, uint64_t t_min)
{
	struct trace_join *j = arg;
	j->block++;
	if (!j->n_held)
		return 0;
	if (t_min > j->min_end + JOIN_WAIT_NS || j->block > j->min_block + JOIN_WAIT_BLOCKS)
		return sweep(j, moved_past, t_min);
	return 0;
}

int trace_join_part(void *arg, const struct span *spans, size_t n)
{
	struct trace_join *j = arg;
	if (!n)
		return 0;
	j->st.parts++;
	uint32_t k = held_find(j, spans[0].trace_id);
	if (k == IDMAP_NONE && looks_whole(j, spans, n))
		return j->fn(j->arg, spans, n);
	struct held *h;
	if (k == IDMAP_NONE) {
		h = held_add(j, spans[0].trace_id);
		k = (uint32_t)(j->n_held - 1);
	} else {
		h = &j->held[k];
		j->st.joined++;
	}
	j->st.held++;
	held_append(j, h, spans, n);
	if (looks_whole(j, h->spans, h->n))
		return held_feed(j, k);
	return next_gen(j);
}

int trace_join_flush(struct trace_join *j)
{
	int rc = 0;
	while (j->n_held && !rc) {
		j->st.late++;
		rc = held_feed(j, j->n_held - 1);
	}
	j->gen_spans = 0;
	arena_release(&j->arenas[0]);
	arena_release(&j->arenas[1]);
	return rc;
}
