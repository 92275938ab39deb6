/*
 * spantree.c - resolve a trace's parent ids into a bounded tree.
 */
#include "analyze/spantree.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/hex.h"
#include "core/strmap.h"

static void sort_by_start(const struct span *spans, size_t *idx, size_t n)
{
	/* A bottom-up merge sort: stable, and qsort() has no context argument. */
	if (n < 2)
		return;
	size_t *tmp = xmalloc(n * sizeof(*tmp));
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t a = lo, b = mid, k = lo;
			while (a < mid && b < hi) {
				const struct span *sa = &spans[idx[a]], *sb = &spans[idx[b]];
				int take_b = sb->start_ns < sa->start_ns ||
					     (sb->start_ns == sa->start_ns && idx[b] < idx[a]);
				tmp[k++] = take_b ? idx[b++] : idx[a++];
			}
			while (a < mid)
				tmp[k++] = idx[a++];
			while (b < hi)
				tmp[k++] = idx[b++];
		}
		memcpy(idx, tmp, n * sizeof(*idx));
	}
	free(tmp);
}

/* Depths, breaking cycles and chains deeper than the maximum. */
static void bound_depths(struct spantree *t)
{
	size_t n = t->n, *depth = xmalloc(n * sizeof(*depth)), *mark = xcalloc(n, sizeof(*mark));
	size_t *stack = xmalloc(n * sizeof(*stack));
	for (size_t i = 0; i < n; i++)
		depth[i] = SPANTREE_NONE;
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
	free(stack);
	free(mark);
	free(depth);
}

int spantree_build(struct spantree *t, const struct span *spans, size_t n)
{
	struct strmap ids;
	memset(t, 0, sizeof(*t));
	t->spans = spans;
	t->n = n;
	t->parent = xmalloc((n ? n : 1) * sizeof(*t->parent));
	t->kid_off = xcalloc(n + 1, sizeof(*t->kid_off));
	t->kids = xmalloc((n ? n : 1) * sizeof(*t->kids));
	t->roots = xmalloc((n ? n : 1) * sizeof(*t->roots));

	strmap_init(&ids);
	for (size_t i = 0; i < n; i++) {
		int64_t have;
		if (strmap_get(&ids, spans[i].span_id, 8, &have) < 0) /* duplicates: the first wins */
			strmap_put(&ids, spans[i].span_id, 8, (int64_t)i);
	}
	for (size_t i = 0; i < n; i++) {
		int64_t p;
		t->parent[i] = SPANTREE_NONE;
		if (!hex_is_zero(spans[i].parent_span_id, 8) &&
		    strmap_get(&ids, spans[i].parent_span_id, 8, &p) == 0 && (size_t)p != i)
			t->parent[i] = (size_t)p;
	}
	strmap_release(&ids);
	bound_depths(t);

	/* children, counting sort by parent, then each list by start */
	for (size_t i = 0; i < n; i++)
		if (t->parent[i] != SPANTREE_NONE)
			t->kid_off[t->parent[i] + 1]++;
	for (size_t i = 0; i < n; i++)
		t->kid_off[i + 1] += t->kid_off[i];
	size_t *fill = xmalloc((n ? n : 1) * sizeof(*fill));
	memcpy(fill, t->kid_off, n * sizeof(*fill));
	for (size_t i = 0; i < n; i++) {
		if (t->parent[i] != SPANTREE_NONE)
			t->kids[fill[t->parent[i]]++] = i;
		else
			t->roots[t->n_roots++] = i;
	}
	free(fill);
	for (size_t i = 0; i < n; i++)
		sort_by_start(spans, t->kids + t->kid_off[i], t->kid_off[i + 1] - t->kid_off[i]);
	sort_by_start(spans, t->roots, t->n_roots);
	return 0;
}

void spantree_release(struct spantree *t)
{
	free(t->parent);
	free(t->kid_off);
	free(t->kids);
	free(t->roots);
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
