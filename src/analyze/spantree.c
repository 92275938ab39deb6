/*
 * spantree.c - resolve a trace's parent ids into a bounded tree.
 */
#include "analyze/spantree.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

static int before(const struct span *spans, size_t a, size_t b)
{
	return spans[a].start_ns < spans[b].start_ns || (spans[a].start_ns == spans[b].start_ns && a < b);
}

/* Sort span indexes by start time, then index.  Children mostly arrive in
 * order and are few: insertion sort, with a merge sort for long lists. */
static void sort_by_start(const struct span *spans, size_t *idx, size_t n)
{
	if (n <= 32) {
		for (size_t i = 1; i < n; i++) {
			size_t x = idx[i], j = i;
			for (; j > 0 && before(spans, x, idx[j - 1]); j--)
				idx[j] = idx[j - 1];
			idx[j] = x;
		}
		return;
	}
	/* bottom-up merge sort: stable, and qsort() has no context argument */
	size_t *tmp = xmalloc(n * sizeof(*tmp));
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t a = lo, b = mid, k = lo;
			while (a < mid && b < hi)
				tmp[k++] = before(spans, idx[b], idx[a]) ? idx[b++] : idx[a++];
			while (a < mid)
				tmp[k++] = idx[a++];
			while (b < hi)
				tmp[k++] = idx[b++];
		}
		memcpy(idx, tmp, n * sizeof(*idx));
	}
	free(tmp);
}

/* Scratch memory of one build: n entries each, and the id table. */
struct scratch {
	size_t *depth, *mark, *stack, *fill;
	size_t *table, mask; /* span index + 1 by span id, 0 empty; a power of two */
};

/* Depths, breaking cycles and chains deeper than the maximum. */
static void bound_depths(struct spantree *t, struct scratch *x)
{
	size_t n = t->n, *depth = x->depth, *mark = x->mark, *stack = x->stack;
	for (size_t i = 0; i < n; i++) {
		depth[i] = SPANTREE_NONE;
		mark[i] = 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t top = 0, cur = i;
		while (depth[cur] == SPANTREE_NONE) {
			if (mark[cur] == i + 1) { /* back at a span of this walk: a cycle */
				t->parent[cur] = SPANTREE_NONE;
				depth[cur] = 0;
				break;
			}
			mark[cur] = i + 1;
			stack[top++] = cur;
			if (t->parent[cur] == SPANTREE_NONE)
				break;
			cur = t->parent[cur];
		}
		while (top) {
			size_t s = stack[--top];
			if (depth[s] != SPANTREE_NONE)
				continue;
			size_t p = t->parent[s];
			depth[s] = p == SPANTREE_NONE ? 0 : depth[p] + 1;
			if (depth[s] > SPANTREE_MAX_DEPTH) {
				t->parent[s] = SPANTREE_NONE;
				depth[s] = 0;
			}
		}
	}
}

static uint64_t id64(const uint8_t id[8])
{
	uint64_t v;
	memcpy(&v, id, 8);
	return v;
}

/* The slot of span id `id` in the table: where it is, or the empty slot
 * where it would go. */
static size_t *id_slot(const struct spantree *t, const struct scratch *x, uint64_t id)
{
	size_t i = (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & x->mask;
	while (x->table[i] && id64(t->spans[x->table[i] - 1].span_id) != id)
		i = (i + 1) & x->mask;
	return &x->table[i];
}

/* Parents by id (duplicate ids: the first span wins; a zero id is no id). */
static void resolve_parents(struct spantree *t, struct scratch *x)
{
	const struct span *spans = t->spans;
	memset(x->table, 0, (x->mask + 1) * sizeof(*x->table));
	for (size_t i = 0; i < t->n; i++) {
		uint64_t id = id64(spans[i].span_id);
		size_t *slot = id ? id_slot(t, x, id) : NULL;
		if (slot && !*slot)
			*slot = i + 1;
	}
	for (size_t i = 0; i < t->n; i++) {
		uint64_t id = id64(spans[i].parent_span_id);
		size_t p = id ? *id_slot(t, x, id) : 0;
		t->parent[i] = p && p - 1 != i ? p - 1 : SPANTREE_NONE;
	}
}

int spantree_build(struct spantree *t, const struct span *spans, size_t n)
{
	struct scratch x;
	size_t cells = n ? n : 1, h = 16;
	while (h < 2 * cells)
		h *= 2;
	memset(t, 0, sizeof(*t));
	t->spans = spans;
	t->n = n;
	/* the tree's arrays in one allocation (spantree_release frees
	 * t->parent), the scratch in another */
	t->parent = xmalloc((4 * cells + 1) * sizeof(size_t));
	t->kid_off = t->parent + cells;
	t->kids = t->kid_off + cells + 1;
	t->roots = t->kids + cells;
	x.depth = xmalloc((4 * cells + h) * sizeof(size_t));
	x.mark = x.depth + cells;
	x.stack = x.mark + cells;
	x.fill = x.stack + cells;
	x.table = x.fill + cells;
	x.mask = h - 1;

	resolve_parents(t, &x);
	bound_depths(t, &x);

	/* children, counting sort by parent, then each list by start */
	memset(t->kid_off, 0, (n + 1) * sizeof(*t->kid_off));
	for (size_t i = 0; i < n; i++)
		if (t->parent[i] != SPANTREE_NONE)
			t->kid_off[t->parent[i] + 1]++;
	for (size_t i = 0; i < n; i++)
		t->kid_off[i + 1] += t->kid_off[i];
	memcpy(x.fill, t->kid_off, n * sizeof(*x.fill));
	for (size_t i = 0; i < n; i++) {
		if (t->parent[i] != SPANTREE_NONE)
			t->kids[x.fill[t->parent[i]]++] = i;
		else
			t->roots[t->n_roots++] = i;
	}
	free(x.depth);
	for (size_t i = 0; i < n; i++)
		sort_by_start(spans, t->kids + t->kid_off[i], t->kid_off[i + 1] - t->kid_off[i]);
	sort_by_start(spans, t->roots, t->n_roots);
	return 0;
}

void spantree_release(struct spantree *t)
{
	free(t->parent);
	memset(t, 0, sizeof(*t));
}

static uint64_t duration(const struct span *s)
{
	return s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0;
}

size_t spantree_longest_root(const struct spantree *t)
{
	size_t best = SPANTREE_NONE;
	for (size_t r = 0; r < t->n_roots; r++)
		if (best == SPANTREE_NONE || duration(&t->spans[t->roots[r]]) > duration(&t->spans[best]))
			best = t->roots[r];
	return best;
}

uint64_t spantree_self_ns(const struct spantree *t, size_t i)
{
	const struct span *s = &t->spans[i];
	uint64_t covered = 0, reach = s->start_ns; /* children are by start: sweep once */
	for (size_t k = t->kid_off[i]; k < t->kid_off[i + 1]; k++) {
		const struct span *c = &t->spans[t->kids[k]];
		uint64_t lo = c->start_ns > reach ? c->start_ns : reach;
		uint64_t hi = c->end_ns < s->end_ns ? c->end_ns : s->end_ns;
		if (hi > lo) {
			covered += hi - lo;
			reach = hi;
		}
	}
	uint64_t d = duration(s);
	return covered < d ? d - covered : 0;
}
