/* spanflame.c - a trace's span tree merged into a flame tree (see spanflame.h). */
#include "analyze/spanflame.h"

#include "analyze/spantree.h"

static const char *span_service(const struct span *s)
{
	return s->resource && s->resource->service_name ? s->resource->service_name : "unknown";
}

static void add_span(struct folded_tree *ft, const struct spantree *t, size_t i, uint32_t parent)
{
	const struct span *s = &t->spans[i];
	uint32_t id = folded_spans_frame(ft, parent, span_service(s), s->name ? s->name : "");
	folded_spans_count(ft, id, s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0,
			   spantree_self_ns(t, i));
	for (size_t k = t->kid_off[i]; k < t->kid_off[i + 1]; k++)
		add_span(ft, t, t->kids[k], id);
}

void spanflame_add_trace(struct folded_tree *t, const struct span *spans, size_t n, int side, uint64_t no)
{
	struct spantree st;
	spantree_build(&st, spans, n);
	folded_spans_begin_trace(t, side, no, n);
	for (size_t r = 0; r < st.n_roots; r++)
		add_span(t, &st, st.roots[r], 0);
	spantree_release(&st);
}
