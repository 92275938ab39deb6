/*
 * test_spanflame.c - a trace's spans merged into the flame tree: frames by
 * (service, span name) path, a span's own time being the part of it no
 * child covers, and a trace counted once per frame.
 */
#include <string.h>

#include "analyze/spanflame.h"
#include "tap.h"

#define MS 1000000ull

static struct span mk(const struct resource *r, const char *name, uint8_t id, uint8_t parent,
		      uint64_t from_ms, uint64_t to_ms)
{
	struct span s;
	memset(&s, 0, sizeof(s));
	s.trace_id[0] = 1;
	s.span_id[7] = id;
	s.parent_span_id[7] = parent;
	s.name = name;
	s.resource = r;
	s.start_ns = from_ms * MS;
	s.end_ns = to_ms * MS;
	return s;
}

int main(void)
{
	struct resource api = {.service_name = "api"}, db = {.service_name = "db"}, none = {0};
	struct span t0[] = {
		mk(&api, "GET /a", 1, 0, 0, 100),
		mk(&db, "q", 2, 1, 10, 40),
		mk(&db, "q", 3, 1, 30, 60), /* overlaps the first query */
		mk(&none, NULL, 4, 3, 35, 36),
	};
	struct span t1[] = {mk(&api, "GET /a", 1, 0, 0, 20), mk(&db, "q", 2, 1, 50, 40) /* ends first */};
	struct folded_tree t;
	folded_tree_init_spans(&t, 0);
	spanflame_add_trace(&t, t0, 4, 0, 0);
	spanflame_add_trace(&t, t1, 2, 1, 0);
	folded_spans_finish(&t);

	uint32_t get = t.kids[t.nodes[0].kids];
	const struct folded_frame *f = folded_spans_at(&t, get);
	is_str(folded_spans_service(&t, get), "api", "the root span's frame: its service");
	is_str(folded_spans_name(&t, get), "GET /a", "and its name");
	is_int(f->total_ns[0], 100 * MS, "side 0: its duration");
	is_int(f->self_ns[0], 50 * MS, "its own time: 100 ms less the 50 the queries cover together");
	is_int(f->total_ns[1], 20 * MS, "side 1 apart");
	is_int(t.nodes[get].n_kids, 1, "both queries in one frame");
	uint32_t q = t.kids[t.nodes[get].kids];
	f = folded_spans_at(&t, q);
	is_int(f->total_ns[0], 60 * MS, "their durations summed");
	is_int(f->traces[0], 1, "one trace, however many spans");
	is_int(f->total_ns[1], 0, "a span ending before it starts counts no time");
	is_int(f->traces[1], 1, "but counts its trace");
	is_int(t.nodes[q].n_kids, 1, "the span under the second query");
	uint32_t u = t.kids[t.nodes[q].kids];
	is_str(folded_spans_service(&t, u), "unknown", "a span without a service is \"unknown\"");
	is_str(folded_spans_name(&t, u), "", "and without a name, \"\"");
	is_int(folded_spans_traces(&t, 0), 1, "a trace on side 0");
	is_int(folded_spans_count_spans(&t, 0), 4, "of four spans");
	is_int(folded_spans_count_spans(&t, 1), 2, "two on side 1");
	folded_tree_release(&t);
	return tap_done();
}
