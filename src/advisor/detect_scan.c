/*
 * detect_scan.c - the detectors over the stored traces of a window, with
 * the states of finished segments kept (see detect_scan.h).
 */
#include "advisor/detect_scan.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/parallel.h"
#include "advisor/trace_join.h"

/* Threads reading side by side: each takes the next part not yet taken. */
#define SCAN_THREADS 2

struct segment {
	int known; /* info read (a finished segment never changes) */
	struct store_blocks info;
	struct detector *d; /* the kept state, or NULL */
	uint64_t traces, spans, joined;
	uint64_t used, built; /* the scans that last merged it and built it */
};

struct detect_cache {
	uint64_t seg_blocks;
	struct detect_config cfg;
	int has_cfg;
	struct segment *segs; /* segs[k]: ids k * seg_blocks + 1 .. (k + 1) * seg_blocks */
	size_t n_segs, cap_segs, n_states;
	uint64_t scans;
};

struct detect_cache *detect_cache_new(unsigned segment_blocks)
{
	struct detect_cache *c = xcalloc(1, sizeof(*c));
	c->seg_blocks = segment_blocks ? segment_blocks : DETECT_SEGMENT_BLOCKS;
	return c;
}

static void forget_states(struct detect_cache *c)
{
	for (size_t k = 0; k < c->n_segs; k++) {
		detect_free(c->segs[k].d);
		c->segs[k].d = NULL;
	}
	c->n_states = 0;
}

void detect_cache_free(struct detect_cache *c)
{
	if (!c)
		return;
	forget_states(c);
	free(c->segs);
	free(c);
}

/* A range of blocks (or a share of one) read into its own detector. */
struct part {
	struct store *s;
	const struct detect_config *cfg;
	struct store_scan sc;
	int join;	      /* join traces' parts (trace_join.h), or feed them as they come */
	struct detector *d;   /* made with the first trace */
	struct segment *keep; /* the segment whose state this builds, or NULL */
	uint64_t traces, spans, joined;
	int rc;
	char err[256];
};

struct plan {
	struct part *parts;
	size_t n, cap;
	atomic_size_t next; /* the first part not taken */
};

static int feed_trace(void *arg, const struct span *spans, size_t n)
{
	struct part *p = arg;
	if (!p->d)
		p->d = detect_new(p->cfg);
	p->traces++;
	p->spans += n;
	detect_trace(p->d, spans, n);
	return 0;
}

static void read_part(struct part *p)
{
	if (!p->join) {
		p->rc = store_scan(p->s, &p->sc, feed_trace, p, p->err, sizeof(p->err));
		return;
	}
	struct trace_join *j = trace_join_new(feed_trace, p);
	struct trace_join_stats st;
	p->sc.block = trace_join_block;
	p->rc = store_scan(p->s, &p->sc, trace_join_part, j, p->err, sizeof(p->err));
	if (p->rc == 0)
		p->rc = trace_join_flush(j);
	trace_join_get_stats(j, &st);
	p->joined = st.joined;
	trace_join_free(j);
}

static void *thread_run(void *arg)
{
	struct plan *pl = arg;
	size_t i;
	while ((i = atomic_fetch_add(&pl->next, 1)) < pl->n)
		read_part(&pl->parts[i]);
	return NULL;
}

static struct part *plan_part(struct plan *pl, struct store *s, const struct detect_config *cfg,
			      const struct store_scan *window, uint64_t first, uint64_t last)
{
	pl->parts = xgrow(pl->parts, &pl->cap, pl->n + 1, sizeof(*pl->parts));
	struct part *p = &pl->parts[pl->n++];
	memset(p, 0, sizeof(*p));
	p->s = s;
	p->cfg = cfg;
	p->sc = *window;
	p->sc.first_id = first;
	p->sc.last_id = last;
	return p;
}

/* The blocks of `window` with ids in [first, last], read in id order by one
 * thread that joins the parts of a trace. */
static void plan_range(struct plan *pl, struct store *s, const struct detect_config *cfg,
		       const struct store_scan *window, uint64_t first, uint64_t last, struct segment *keep)
{
	struct part *p = plan_part(pl, s, cfg, window, first, last);
	p->keep = keep;
	p->join = 1;
}

/* A sample: SCAN_THREADS parts side by side, each reading one block in
 * `every` x SCAN_THREADS.  A trace's other parts are mostly in blocks the
 * sample skips, so parts are fed as they are. */
static void plan_sample(struct plan *pl, struct store *s, const struct detect_config *cfg,
			const struct store_scan *window, uint64_t last)
{
	for (unsigned k = 0; k < SCAN_THREADS; k++) {
		struct part *p = plan_part(pl, s, cfg, window, 1, last);
		p->sc.every = window->every * SCAN_THREADS;
		p->sc.offset = window->every * k;
	}
}

/* [first, last] by segments of `seg` ids (the same cuts as a cache's
 * segments), one part each. */
static void plan_by_segment(struct plan *pl, struct store *s, const struct detect_config *cfg,
			    const struct store_scan *window, uint64_t first, uint64_t last, uint64_t seg)
{
	while (first <= last) {
		uint64_t end = (first - 1) / seg * seg + seg;
		plan_range(pl, s, cfg, window, first, end < last ? end : last, NULL);
		first = end + 1;
	}
}

/* Room for one more state: the least recently merged one not used by this
 * scan goes.  0 if every kept state is in use. */
static int make_room(struct detect_cache *c)
{
	if (c->n_states < DETECT_CACHE_STATES)
		return 1;
	struct segment *lru = NULL;
	for (size_t k = 0; k < c->n_segs; k++) {
		struct segment *g = &c->segs[k];
		if (g->d && g->used != c->scans && (!lru || g->used < lru->used))
			lru = g;
	}
	if (!lru)
		return 0;
	detect_free(lru->d);
	lru->d = NULL;
	c->n_states--;
	return 1;
}

/* Whether every block of a segment overlaps [from, to), or none does. */
static int inside(const struct segment *g, uint64_t from, uint64_t to)
{
	return g->info.count && g->info.min_t_max >= from && g->info.max_t_min < to;
}

static int outside(const struct segment *g, uint64_t from, uint64_t to)
{
	return !g->info.count || g->info.max_t_max < from || g->info.min_t_min >= to;
}

/* Plan the finished segments against the window: kept states are marked
 * for merging, the others are read (and kept, if they lie inside the
 * window).  *next_id gets the first id after them; -1 with a message. */
static int plan_segments(struct detect_cache *c, struct store *s, const struct detect_config *cfg,
			 const struct store_scan *window, uint64_t last, struct plan *pl, uint64_t *next_id,
			 char *err, size_t errlen)
{
	size_t done = (size_t)(last / c->seg_blocks);
	c->segs = xgrow(c->segs, &c->cap_segs, done, sizeof(*c->segs));
	for (; c->n_segs < done; c->n_segs++)
		memset(&c->segs[c->n_segs], 0, sizeof(*c->segs));
	c->scans++;
	uint64_t from = window->from_ns, to = window->to_ns ? window->to_ns : UINT64_MAX;
	/* first the states this scan merges, so that making room spares them */
	for (size_t k = 0; k < done; k++) {
		struct segment *g = &c->segs[k];
		uint64_t lo = k * c->seg_blocks + 1, hi = lo + c->seg_blocks - 1;
		if (!g->known && store_blocks_info(s, lo, hi, &g->info, err, errlen) < 0)
			return -1;
		g->known = 1;
		if (g->d && inside(g, from, to))
			g->used = c->scans;
	}
	for (size_t k = 0; k < done; k++) {
		struct segment *g = &c->segs[k];
		uint64_t lo = k * c->seg_blocks + 1, hi = lo + c->seg_blocks - 1;
		if (outside(g, from, to) || g->used == c->scans)
			continue; /* nothing to read, or kept */
		/* one thread reads a segment in id order, joining traces' parts */
		int keep = inside(g, from, to) && make_room(c);
		plan_range(pl, s, cfg, window, lo, hi, keep ? g : NULL);
		if (keep) {
			c->n_states++;
			g->used = g->built = c->scans;
		}
	}
	*next_id = (uint64_t)done * c->seg_blocks + 1;
	return 0;
}

int detect_scan(struct store *s, struct detect_cache *cache, const struct detect_config *cfg,
		uint64_t from_ns, uint64_t to_ns, unsigned every, struct detector *into,
		struct detect_scan_stats *stats, char *err, size_t errlen)
{
	struct plan pl = {0};
	uint64_t last, next = 1;
	int ret = -1, built = 0;
	memset(stats, 0, sizeof(*stats));
	if (store_last_block(s, &last, err, errlen) < 0)
		return -1;
	if (!last)
		return 0;
	struct store_scan window = {
		.from_ns = from_ns, .to_ns = to_ns, .every = every ? every : 1, .keep_key = detect_reads_key};
	int cached = cache && window.every == 1;
	if (cached) {
		if (!cache->has_cfg || memcmp(&cache->cfg, cfg, sizeof(*cfg))) {
			forget_states(cache);
			cache->cfg = *cfg;
			cache->has_cfg = 1;
		}
		if (plan_segments(cache, s, cfg, &window, last, &pl, &next, err, errlen) < 0)
			goto out;
	}
	if (window.every > 1)
		plan_sample(&pl, s, cfg, &window, last);
	else /* the unfinished segment, or everything */
		plan_by_segment(&pl, s, cfg, &window, next, last,
				cache ? cache->seg_blocks : DETECT_SEGMENT_BLOCKS);

	parallel_run(thread_run, &pl, 0, SCAN_THREADS); /* every thread takes parts from the plan */
	for (size_t i = 0; i < pl.n; i++)
		if (pl.parts[i].rc < 0) {
			errf(err, errlen, "%s", pl.parts[i].err);
			goto out;
		}

	/* new states from their parts, then everything into `into` */
	for (size_t i = 0; i < pl.n; i++) {
		struct part *p = &pl.parts[i];
		struct segment *g = p->keep;
		built |= g != NULL;
		stats->traces += p->traces;
		stats->spans += p->spans;
		stats->joined_parts += p->joined;
		if (!g) {
			if (p->d)
				detect_merge(into, p->d);
			continue;
		}
		if (!p->d)
			p->d = detect_new(cfg);
		detect_compact(p->d);
		g->d = p->d;
		p->d = NULL;
		g->traces = p->traces;
		g->spans = p->spans;
		g->joined = p->joined;
	}
	for (size_t k = 0; cached && k < cache->n_segs; k++) {
		struct segment *g = &cache->segs[k];
		if (!g->d || g->used != cache->scans)
			continue;
		detect_merge(into, g->d);
		if (g->built != cache->scans) {
			stats->traces += g->traces;
			stats->spans += g->spans;
			stats->joined_parts += g->joined;
			stats->kept_traces += g->traces;
		}
	}
	ret = 0;
out:
	if (ret < 0 && cache) /* a state half built is no state: start again */
		forget_states(cache);
	for (size_t i = 0; i < pl.n; i++)
		detect_free(pl.parts[i].d);
	free(pl.parts);
#ifdef __GLIBC__
	if (built) /* the parts' memory, freed in the threads' heaps, back to the system */
		malloc_trim(0);
#endif
	return ret;
}
