/*
 * test_critpath.c - span trees and critical paths of constructed traces.
 */
#include <stdlib.h>
#include <string.h>

#include "analyze/critpath.h"
#include "analyze/spantree.h"
#include "tap.h"

#define MAX_SPANS 16

/* A trace built span by span: id k (1-based), parent id or 0, times in µs. */
struct trace {
	struct span spans[MAX_SPANS];
	size_t n;
};

static void add(struct trace *t, int id, int parent, uint64_t start_us, uint64_t end_us, int kind)
{
	struct span *s = &t->spans[t->n++];
	memset(s, 0, sizeof(*s));
	s->span_id[7] = (uint8_t)id;
	s->parent_span_id[7] = (uint8_t)parent;
	s->start_ns = start_us * 1000;
	s->end_ns = end_us * 1000;
	s->kind = (uint8_t)kind;
	s->name = "op";
}

/* The path as "id:contribution_us id:contribution_us ...". */
static const char *path_of(struct trace *t, char *out, size_t len)
{
	struct spantree tree;
	struct critpath_step *steps;
	size_t n, used = 0;
	spantree_build(&tree, t->spans, t->n);
	critpath_compute(&tree, &steps, &n);
	out[0] = 0;
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%d:%llu", i ? " " : "",
					 t->spans[steps[i].span].span_id[7],
					 (unsigned long long)(steps[i].contribution_ns / 1000));
	free(steps);
	spantree_release(&tree);
	return out;
}

int main(void)
{
	char buf[256];
	struct trace t;

	/* 1 [0,100]: 2 [10,40], 3 [50,90] one after the other */
	t.n = 0;
	add(&t, 1, 0, 0, 100, SPAN_KIND_SERVER);
	add(&t, 2, 1, 10, 40, SPAN_KIND_INTERNAL);
	add(&t, 3, 1, 50, 90, SPAN_KIND_INTERNAL);
	is_str(path_of(&t, buf, sizeof(buf)), "1:30 2:30 3:40", "sequential children are both on the path");

	/* parallel: 2 [10,60] and 3 [10,80]; the later-finishing 3 blocks */
	t.n = 0;
	add(&t, 1, 0, 0, 100, SPAN_KIND_SERVER);
	add(&t, 2, 1, 10, 60, SPAN_KIND_CLIENT);
	add(&t, 3, 1, 10, 80, SPAN_KIND_CLIENT);
	is_str(path_of(&t, buf, sizeof(buf)), "1:30 3:70", "parallel children: the later-finishing one");

	/* overlapping: 2 [10,60], 3 [40,80]: 3 from 40, then 2 up to 40 */
	t.n = 0;
	add(&t, 1, 0, 0, 100, SPAN_KIND_SERVER);
	add(&t, 2, 1, 10, 60, SPAN_KIND_CLIENT);
	add(&t, 3, 1, 40, 80, SPAN_KIND_CLIENT);
	is_str(path_of(&t, buf, sizeof(buf)), "1:30 2:30 3:40",
	       "overlapping children: the earlier is clipped");

	/* a child beyond its parent: 2 [50,150] under 1 [0,100] counts 50 */
	t.n = 0;
	add(&t, 1, 0, 0, 100, SPAN_KIND_SERVER);
	add(&t, 2, 1, 50, 150, SPAN_KIND_CLIENT);
	add(&t, 3, 2, 60, 140, SPAN_KIND_SERVER);
	is_str(path_of(&t, buf, sizeof(buf)), "1:50 2:10 3:40", "children are clipped to their parent");

	/* an async consumer does not block its producer, nor a late child */
	t.n = 0;
	add(&t, 1, 0, 0, 100, SPAN_KIND_SERVER);
	add(&t, 2, 1, 10, 20, SPAN_KIND_PRODUCER);
	add(&t, 3, 2, 15, 95, SPAN_KIND_CONSUMER);
	add(&t, 4, 1, 30, 50, SPAN_KIND_INTERNAL);
	add(&t, 5, 4, 60, 90, SPAN_KIND_INTERNAL);
	is_str(path_of(&t, buf, sizeof(buf)), "1:70 2:10 4:20", "async children are not on the path");

	/* gaps between and inside children are the parent's */
	t.n = 0;
	add(&t, 1, 0, 0, 1000, SPAN_KIND_SERVER);
	add(&t, 2, 1, 100, 300, SPAN_KIND_INTERNAL);
	add(&t, 3, 2, 150, 200, SPAN_KIND_INTERNAL);
	is_str(path_of(&t, buf, sizeof(buf)), "1:800 2:150 3:50", "gaps count as the parent's self time");

	/* missing parent: two roots, the longer wins */
	t.n = 0;
	add(&t, 1, 9, 0, 50, SPAN_KIND_SERVER);
	add(&t, 2, 8, 10, 200, SPAN_KIND_SERVER);
	add(&t, 3, 2, 20, 30, SPAN_KIND_INTERNAL);
	is_str(path_of(&t, buf, sizeof(buf)), "2:180 3:10",
	       "spans without their parent are roots; the longest");

	/* a parent cycle ends; self times */
	t.n = 0;
	add(&t, 1, 2, 0, 100, SPAN_KIND_SERVER);
	add(&t, 2, 1, 10, 20, SPAN_KIND_INTERNAL);
	struct spantree tree;
	spantree_build(&tree, t.spans, t.n);
	is_int(tree.n_roots, 1, "a parent cycle is broken into a root");
	spantree_release(&tree);

	t.n = 0;
	add(&t, 1, 0, 0, 100, SPAN_KIND_SERVER);
	add(&t, 2, 1, 10, 60, SPAN_KIND_CLIENT);
	add(&t, 3, 1, 40, 80, SPAN_KIND_CLIENT);
	add(&t, 4, 1, 90, 130, SPAN_KIND_CLIENT);
	spantree_build(&tree, t.spans, t.n);
	is_int(spantree_self_ns(&tree, 0) / 1000, 20,
	       "self time: overlapping and clipped children count once");
	is_int(tree.kids[tree.kid_off[0]], 1, "children by start time");
	spantree_release(&tree);

	t.n = 0;
	path_of(&t, buf, sizeof(buf));
	is_str(buf, "", "no spans, no path");

	/* a deep chain stays bounded */
	static struct span deep[SPANTREE_MAX_DEPTH + 10];
	for (size_t i = 0; i < SPANTREE_MAX_DEPTH + 10; i++) {
		memset(&deep[i], 0, sizeof(deep[i]));
		deep[i].span_id[6] = (uint8_t)((i + 1) >> 8);
		deep[i].span_id[7] = (uint8_t)(i + 1);
		deep[i].parent_span_id[6] = (uint8_t)(i >> 8);
		deep[i].parent_span_id[7] = (uint8_t)i;
		deep[i].start_ns = i;
		deep[i].end_ns = 100000 - i;
	}
	spantree_build(&tree, deep, SPANTREE_MAX_DEPTH + 10);
	is_int(tree.n_roots, 2, "a chain deeper than the maximum is cut");
	struct critpath_step *steps;
	size_t n;
	critpath_compute(&tree, &steps, &n);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += steps[i].contribution_ns;
	is_int(sum, 100000, "contributions add up to the root's duration");
	free(steps);
	spantree_release(&tree);
	/* 1 [0,100]: 2 [10,95] follows from 1 (a link to its parent with the
	 * OpenTracing ref type, as Jaeger's FOLLOWS_FROM arrives in OTLP) */
	t.n = 0;
	add(&t, 1, 0, 0, 100, SPAN_KIND_SERVER);
	add(&t, 2, 1, 10, 95, SPAN_KIND_INTERNAL);
	struct attr ref = {.key = "opentracing.ref_type", .type = ATTR_STRING, .v.s = "follows_from"};
	struct span_link link = {.attrs = &ref, .n_attrs = 1};
	memcpy(link.span_id, t.spans[0].span_id, 8);
	t.spans[1].links = &link;
	t.spans[1].n_links = 1;
	is_str(path_of(&t, buf, sizeof(buf)), "1:100", "a FOLLOWS_FROM child does not block its parent");
	ref.v.s = "child_of";
	is_str(path_of(&t, buf, sizeof(buf)), "1:15 2:85", "a CHILD_OF link changes nothing");

	/* Starts in whole ms, ends finer (the JS SDK): 1 [0,30000]; 2 [1000,10900],
	 * 3 [10000,20500], 4 [20000,29400] back to back, each seeming to start up to
	 * 1 ms before the one before ended.  Each starts where the one before ended. */
	t.n = 0;
	add(&t, 1, 0, 0, 30000, SPAN_KIND_SERVER);
	add(&t, 2, 1, 1000, 10900, SPAN_KIND_CLIENT);
	add(&t, 3, 1, 10000, 20500, SPAN_KIND_CLIENT);
	add(&t, 4, 1, 20000, 29400, SPAN_KIND_CLIENT);
	is_str(path_of(&t, buf, sizeof(buf)), "1:1600 2:9900 3:9600 4:8900",
	       "ms starts: a cut under 1 ms is no overlap");
	/* the same with starts finer than a millisecond: a real overlap, clipped */
	t.spans[1].start_ns += 1;
	is_str(path_of(&t, buf, sizeof(buf)), "1:1600 2:8999 3:10000 4:9400",
	       "sub-ms starts: the overlap is real and clipped");
	/* ms starts, 2 overlapping 3 by 2.5 ms: that overlap is real and clipped */
	t.spans[1].start_ns -= 1;
	t.spans[1].end_ns = 12500 * 1000;
	is_str(path_of(&t, buf, sizeof(buf)), "1:1600 2:9000 3:10500 4:8900",
	       "ms starts: an overlap of 1 ms or more is real");

	return tap_done();
}
