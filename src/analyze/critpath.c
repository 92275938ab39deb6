/*
 * critpath.c - the critical path walk over a span tree (see critpath.h).
 */
#include "analyze/critpath.h"

#include <stdlib.h>
#include <string.h>

#include "analyze/timeres.h"
#include "core/alloc.h"

struct walk {
	const struct spantree *t;
	struct timeres res; /* the resolution of each resource's start times */
	struct critpath_step *steps;
	size_t n, cap;
};

struct pick {
	size_t kid;
	uint64_t lo, hi; /* the child's interval on the path */
};

/* Jaeger's FOLLOWS_FROM reference arrives in OTLP as a link to the parent
 * with opentracing.ref_type = follows_from. */
static int follows_from(const struct span *parent, const struct span *kid)
{
	for (uint32_t i = 0; i < kid->n_links; i++) {
		const struct span_link *l = &kid->links[i];
		const char *ref = attr_str(l->attrs, l->n_attrs, "opentracing.ref_type");
		if (ref && !strcmp(ref, "follows_from") && !memcmp(l->span_id, parent->span_id, 8))
			return 1;
	}
	return 0;
}

int critpath_is_async(const struct span *parent, const struct span *kid)
{
	if (parent->kind == SPAN_KIND_PRODUCER && kid->kind == SPAN_KIND_CONSUMER)
		return 1;
	if (follows_from(parent, kid))
		return 1;
	return kid->start_ns >= parent->end_ns && kid->end_ns > kid->start_ns;
}

struct kid_end {
	uint64_t end_ns;
	size_t kid;
};

static int by_end_desc(const void *a, const void *b)
{
	const struct kid_end *x = a, *y = b;
	if (x->end_ns != y->end_ns)
		return x->end_ns > y->end_ns ? -1 : 1;
	return x->kid < y->kid ? -1 : x->kid > y->kid;
}

/*
 * The later sibling `p` on the path seems to start before `end`, where the
 * one before it ended.  By less than the resolution of p's start time
 * (analyze/timeres.h), it is the clock's cut, not an overlap: p starts at
 * `end`.  Returns p's start.
 */
static uint64_t after_cut_start(const struct walk *w, struct pick *p, uint64_t end)
{
	uint64_t res = timeres_of(&w->res, &w->t->spans[p->kid]);
	if (end - p->lo < res && end < p->hi)
		p->lo = end;
	return p->lo;
}

/* Span i on the path over [lo, hi); tree depth is bounded, so is recursion. */
static void walk_span(struct walk *w, size_t i, uint64_t lo, uint64_t hi)
{
	const struct spantree *t = w->t;
	const struct span *s = &t->spans[i];
	size_t me = w->n;
	w->steps = xgrow(w->steps, &w->cap, w->n + 1, sizeof(*w->steps));
	w->steps[w->n++] = (struct critpath_step){.span = i, .contribution_ns = 0};

	size_t nk = t->kid_off[i + 1] - t->kid_off[i];
	struct kid_end *kids = xmalloc((nk ? nk : 1) * sizeof(*kids));
	struct pick *picks = xmalloc((nk ? nk : 1) * sizeof(*picks));
	size_t n_kids = 0, n_picks = 0;
	for (size_t k = t->kid_off[i]; k < t->kid_off[i + 1]; k++)
		if (!critpath_is_async(s, &t->spans[t->kids[k]]))
			kids[n_kids++] = (struct kid_end){t->spans[t->kids[k]].end_ns, t->kids[k]};
	/* Latest end first: the first child that started before the cursor
	 * is the one that finished last before it.  A child passed over
	 * started at or after the cursor, which only moves earlier. */
	qsort(kids, n_kids, sizeof(*kids), by_end_desc);

	uint64_t cursor = hi, own = 0;
	for (size_t k = 0; k < n_kids && cursor > lo; k++) {
		const struct span *c = &t->spans[kids[k].kid];
		uint64_t c_lo = c->start_ns > lo ? c->start_ns : lo;
		if (n_picks && c_lo < cursor && c->end_ns > cursor)
			cursor = after_cut_start(w, &picks[n_picks - 1], c->end_ns);
		uint64_t c_hi = c->end_ns < cursor ? c->end_ns : cursor;
		if (c_lo >= cursor || c_hi <= c_lo)
			continue;
		own += cursor - c_hi;
		picks[n_picks++] = (struct pick){.kid = kids[k].kid, .lo = c_lo, .hi = c_hi};
		cursor = c_lo;
	}
	own += cursor - lo;
	w->steps[me].contribution_ns = own;
	free(kids);
	for (size_t p = n_picks; p-- > 0;) /* picked latest first: visit in time order */
		walk_span(w, picks[p].kid, picks[p].lo, picks[p].hi);
	free(picks);
}

int critpath_compute(const struct spantree *t, struct critpath_step **steps, size_t *n)
{
	struct walk w = {.t = t};
	size_t root = spantree_longest_root(t);
	timeres_learn(&w.res, t->spans, t->n);
	if (root != SPANTREE_NONE) {
		const struct span *r = &t->spans[root];
		walk_span(&w, root, r->start_ns, r->end_ns > r->start_ns ? r->end_ns : r->start_ns);
	}
	*steps = w.steps;
	*n = w.n;
	return 0;
}
