/*
 * test_trace_join.c - the parts of a trace handed over block by block are
 * joined: a whole part goes through uncopied, parts are joined and fed by
 * start time with their attributes and resources copied, and a trace is
 * fed unfinished when the scan moved past it (in time, in blocks), when
 * the copies outgrow their bound, and at the end of a run.
 */
#include <stdlib.h>
#include <string.h>

#include "advisor/trace_join.h"
#include "tap.h"

#define S  1000000000ull
#define T0 (1763978400ull * S)

static struct attr svc_attrs[] = {{.key = "service.name", .type = ATTR_STRING, .v.s = "shop"}};
static struct attr other_attrs[] = {{.key = "service.name", .type = ATTR_STRING, .v.s = "pricing"}};

/* What the reader was fed. */
struct fed {
	size_t calls, spans, last_n;
	const struct span *last;
	int sorted, copied_ok;
	const struct resource *first_res;
	size_t resources; /* distinct resource pointers in the last trace */
};

static struct fed got;

static int feed(void *arg, const struct span *sp, size_t n)
{
	(void)arg;
	got.calls++;
	got.spans += n;
	got.last = sp;
	got.last_n = n;
	got.sorted = 1;
	got.copied_ok = 1;
	got.resources = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && sp[i].start_ns < sp[i - 1].start_ns)
			got.sorted = 0;
		if (sp[i].n_attrs != 1 || strcmp(sp[i].attrs[0].key, "db.system.name") ||
		    strcmp(sp[i].attrs[0].v.s, "postgresql") || strcmp(sp[i].resource->service_name, "shop"))
			got.copied_ok = 0;
		size_t k = 0;
		while (k < i && sp[k].resource != sp[i].resource)
			k++;
		got.resources += k == i;
	}
	return 0;
}

/* Span `id` of trace `trace` under `parent` (0: a root), starting at t0 + ms. */
static void mk(struct span *s, struct attr *a, struct resource *r, uint64_t trace, int id, int parent,
	       int kind, uint64_t ms)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->trace_id, &trace, 8);
	s->trace_id[15] = 1;
	s->span_id[0] = (uint8_t)id;
	s->span_id[1] = (uint8_t)(id >> 8);
	s->span_id[7] = 1;
	if (parent) {
		s->parent_span_id[0] = (uint8_t)parent;
		s->parent_span_id[1] = (uint8_t)(parent >> 8);
		s->parent_span_id[7] = 1;
	}
	s->kind = (uint8_t)kind;
	s->name = "op";
	s->start_ns = T0 + ms * 1000000ull;
	s->end_ns = s->start_ns + 1000000ull;
	s->resource = r;
	*a = (struct attr){.key = "db.system.name", .type = ATTR_STRING, .v.s = "postgresql"};
	s->attrs = a;
	s->n_attrs = 1;
}

/* A resource of its own, with the same content, for each part: as the
 * store decodes each block. */
static struct resource *res_new(struct attr *attrs)
{
	struct resource *r = calloc(1, sizeof(*r));
	r->attrs = attrs;
	r->n_attrs = 1;
	resource_derive(r);
	return r;
}

static void test_whole_and_joined(void)
{
	struct span sp[8];
	struct attr a[8];
	struct resource *r1 = res_new(svc_attrs), *r2 = res_new(svc_attrs), *r3 = res_new(other_attrs);
	struct trace_join *j = trace_join_new(feed, NULL);
	struct trace_join_stats st;
	memset(&got, 0, sizeof(got));

	/* a whole trace: a SERVER root and its child */
	mk(&sp[0], &a[0], r1, 1, 1, 0, SPAN_KIND_SERVER, 0);
	mk(&sp[1], &a[1], r1, 1, 2, 1, SPAN_KIND_CLIENT, 1);
	trace_join_block(j, T0);
	trace_join_part(j, sp, 2);
	ok(got.calls == 1 && got.last == sp && got.last_n == 2,
	   "a whole part goes through as it is, uncopied");

	/* a root with its children alone and no entry span: held */
	mk(&sp[0], &a[0], r1, 3, 1, 0, SPAN_KIND_INTERNAL, 0);
	trace_join_part(j, sp, 1);
	is_int(got.calls, 1, "a part without an entry span is held");

	/* children first (their parent ended later), then the parent's block */
	mk(&sp[0], &a[0], r1, 2, 3, 2, SPAN_KIND_CLIENT, 5);
	mk(&sp[1], &a[1], r1, 2, 4, 2, SPAN_KIND_CLIENT, 7);
	trace_join_part(j, sp, 2);
	is_int(got.calls, 1, "children whose parent is missing are held");
	memset(sp, 0xee, 2 * sizeof(*sp)); /* the block's memory is gone */
	trace_join_block(j, T0 + 1 * S);
	mk(&sp[0], &a[0], r2, 2, 1, 0, SPAN_KIND_SERVER, 0);
	mk(&sp[1], &a[1], r2, 2, 2, 1, SPAN_KIND_INTERNAL, 1);
	trace_join_part(j, sp, 2);
	ok(got.calls == 2 && got.last_n == 4,
	   "the parent's part completes the trace: fed once, 4 spans (%zu)", got.last_n);
	ok(got.sorted && got.copied_ok, "by start time, attributes and resource copied");
	is_int(got.resources, 1, "one copy of the process's resource for both parts");
	trace_join_get_stats(j, &st);
	ok(st.parts == 4 && st.held == 3 && st.joined == 1 && st.late == 0,
	   "stats: 4 parts, 3 held, 1 joined, none late (%llu %llu %llu %llu)", (unsigned long long)st.parts,
	   (unsigned long long)st.held, (unsigned long long)st.joined, (unsigned long long)st.late);

	/* a caller's part looks whole but the callee's part (another
	 * process) came first */
	mk(&sp[0], &a[0], r3, 4, 9, 2, SPAN_KIND_SERVER, 2);
	trace_join_part(j, sp, 1);
	mk(&sp[0], &a[0], r2, 4, 1, 0, SPAN_KIND_SERVER, 0);
	mk(&sp[1], &a[1], r2, 4, 2, 1, SPAN_KIND_CLIENT, 1);
	trace_join_part(j, sp, 2);
	ok(got.calls == 3 && got.last_n == 3, "a whole-looking part joins the held part of its trace (%zu)",
	   got.last_n);
	is_int(got.resources, 2, "two processes, two resources");

	trace_join_flush(j);
	ok(got.calls == 4 && got.last_n == 1, "the end of the run feeds what is held");
	trace_join_get_stats(j, &st);
	is_int(st.late, 1, "and counts it late");
	trace_join_free(j);
	free(r1);
	free(r2);
	free(r3);
}

static void test_moved_past(void)
{
	struct span sp[2];
	struct attr a[2];
	struct resource *r = res_new(svc_attrs);
	struct trace_join *j = trace_join_new(feed, NULL);
	memset(&got, 0, sizeof(got));
	trace_join_block(j, T0);
	mk(&sp[0], &a[0], r, 7, 3, 2, SPAN_KIND_CLIENT, 0);
	trace_join_part(j, sp, 1);
	trace_join_block(j, T0 + 20 * S);
	is_int(got.calls, 0, "a block 20 s later: still held");
	trace_join_block(j, T0 + 31 * S);
	is_int(got.calls, 1, "a block starting 30 s past its end: fed as it is");
	mk(&sp[0], &a[0], r, 7, 2, 0, SPAN_KIND_SERVER, 0);
	trace_join_part(j, sp, 1);
	is_int(got.calls, 2, "its later whole-looking part goes through alone");

	mk(&sp[0], &a[0], r, 8, 3, 2, SPAN_KIND_CLIENT, 0);
	trace_join_part(j, sp, 1);
	for (int b = 0; b < JOIN_WAIT_BLOCKS; b++)
		trace_join_block(j, T0);
	is_int(got.calls, 2, "held for %d blocks", JOIN_WAIT_BLOCKS);
	trace_join_block(j, T0);
	is_int(got.calls, 3, "fed at the next, whatever their times");
	trace_join_free(j);
	free(r);
}

/* More copies than two generations hold: the oldest are fed, the memory
 * stays bounded, and every span is fed exactly once. */
static void test_memory_bound(void)
{
	enum { PARTS = 3 * JOIN_GEN_SPANS / 10 };
	struct span sp[10];
	struct attr a[10];
	struct resource *r = res_new(svc_attrs);
	struct trace_join *j = trace_join_new(feed, NULL);
	memset(&got, 0, sizeof(got));
	trace_join_block(j, T0);
	for (uint64_t t = 0; t < PARTS; t++) {
		for (int i = 0; i < 10; i++) /* children of a parent not sent */
			mk(&sp[i], &a[i], r, 100 + t, 2 + i, 1, SPAN_KIND_CLIENT, 0);
		trace_join_part(j, sp, 10);
	}
	ok(got.calls > 0 && got.spans <= 2 * (size_t)JOIN_GEN_SPANS &&
		   got.spans >= (size_t)JOIN_GEN_SPANS / 2,
	   "past two generations the oldest are fed (%zu spans of %d)", got.spans, PARTS * 10);
	ok((size_t)PARTS * 10 - got.spans <= 2 * (size_t)JOIN_GEN_SPANS, "at most %d spans stay held",
	   2 * JOIN_GEN_SPANS);
	trace_join_flush(j);
	is_int(got.spans, PARTS * 10, "every span fed once");
	is_int(got.calls, PARTS, "one call a trace");
	trace_join_free(j);
	free(r);
}

int main(void)
{
	test_whole_and_joined();
	test_moved_past();
	test_memory_bound();
	return tap_done();
}
