/*
 * test_folded.c - the flame tree: stack input (folded lines) and span-tree
 * input (frames of (service, span name)), its JSON, folded and stack
 * outputs, merging trees built apart, and the limits on untrusted input.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "profile/folded.h"
#include "render/flamegraph_svg.h"
#include "tap.h"

#define MS 1000000ull

static int append(void *ctx, const char *d, size_t n)
{
	return buf_append(ctx, d, n);
}

/* --- stack input ----------------------------------------------------------------- */

static void test_stacks(void)
{
	struct folded_tree t;
	struct buf out;
	char err[256];
	const char *in = "b;c 2\na;x 1\na;x 4\na 3\n";
	folded_tree_init(&t, NULL);
	buf_init(&out, BUF_NO_LIMIT);
	ok(folded_parse_buffer(&t, in, strlen(in), 0, 0, err, sizeof(err)) == 0, "folded lines parse");
	ok(folded_tree_finish(&t, err, sizeof(err)) == 0, "the tree finishes");
	is_int(t.nodes[0].total[0], 10, "the root holds every count");
	is_int(t.n_nodes, 5, "a path per distinct prefix: root, a, a;x, b, b;c");
	folded_tree_write(&t, 0, append, &out);
	is_str(out.data, "a 3\na;x 5\nb;c 2\n", "written back merged and sorted");
	folded_tree_release(&t);
	buf_release(&out);
}

static void test_stack_json(void)
{
	struct folded_tree t;
	struct buf b;
	char err[256];
	const char *in = "m;f 3 1\nm;g 1 4\n";
	folded_tree_init(&t, NULL);
	buf_init(&b, BUF_NO_LIMIT);
	folded_parse_buffer(&t, in, strlen(in), 0, 0, err, sizeof(err));
	folded_tree_finish(&t, err, sizeof(err));
	folded_tree_write_json(&t, &b, 0, 1);
	is_str(b.data,
	       "{\"name\":\"\",\"value\":4,\"self\":0,\"children\":[{\"name\":\"m\",\"value\":4,\"self\":0,"
	       "\"children\":[{\"name\":\"f\",\"value\":3,\"self\":3,\"children\":[]},{\"name\":\"g\","
	       "\"value\":"
	       "1,\"self\":1,\"children\":[]}]}]}",
	       "JSON of side A: values, own counts, children by name");
	buf_reset(&b);
	folded_tree_write_json(&t, &b, 1, 1.25);
	ok(strstr(b.data, "{\"name\":\"g\",\"value\":1,\"self\":1,\"base\":{\"value\":1,\"self\":1},"
			  "\"compare\":{\"value\":4,\"self\":4},\"delta\":2.75,") != NULL,
	   "both sides, and the change with A scaled: %s", b.data);
	folded_tree_release(&t);
	buf_release(&b);
}

static void test_stack_limits(void)
{
	struct folded_limits lim = {.max_depth = 3, .max_nodes = 4};
	struct folded_tree t;
	char err[256] = "";
	folded_tree_init(&t, &lim);
	ok(folded_tree_add(&t, "a;b;c", 5, 0, 1, err, sizeof(err)) == 0, "three frames pass a depth of 3");
	ok(folded_tree_add(&t, "a;b;c;d", 7, 0, 1, err, sizeof(err)) < 0, "four do not");
	ok(strstr(err, "deeper than 3") != NULL, "the message names the depth: %s", err);
	ok(folded_tree_add(&t, "z", 1, 0, 1, err, sizeof(err)) < 0, "a fifth node passes the node limit");
	ok(strstr(err, "more than 4") != NULL, "the message names the limit: %s", err);
	folded_tree_release(&t);
}

/* --- span-tree input ------------------------------------------------------------ */

/* One trace: frames by path "svc/name>svc/name>...", each with its times in ms. */
struct span_in {
	const char *path[4][2]; /* (service, name) from the root down, NULL-ended */
	uint64_t total_ms, self_ms;
};

static void add_frames(struct folded_tree *t, const struct span_in *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t at = 0;
		for (size_t d = 0; d < 4 && in[i].path[d][0]; d++)
			at = folded_spans_frame(t, at, in[i].path[d][0], in[i].path[d][1]);
		folded_spans_count(t, at, in[i].total_ms * MS, in[i].self_ms * MS);
	}
}

static const uint8_t ID1[16] = {0xab, [15] = 1}, ID2[16] = {0xcd, [15] = 2};

/* Trace 0: GET /a over a query (and the query again), then trace 1: GET /a over a cache read. */
static void build_two_traces(struct folded_tree *t, int side)
{
	static const struct span_in t0[] = {
		{{{"api", "GET /a"}}, 100, 40},
		{{{"api", "GET /a"}, {"db", "SELECT x"}}, 30, 30},
		{{{"api", "GET /a"}, {"db", "SELECT x"}}, 30, 30},
	};
	static const struct span_in t1[] = {
		{{{"api", "GET /a"}}, 50, 45},
		{{{"api", "GET /a"}, {"cache", "GET k"}}, 5, 5},
	};
	folded_spans_begin_trace(t, side, 0, 3);
	add_frames(t, t0, 3);
	folded_spans_begin_trace(t, side, 1, 2);
	add_frames(t, t1, 2);
	folded_spans_name_trace(t, side, 0, ID1);
	folded_spans_name_trace(t, side, 1, ID2);
}

static void test_span_json(void)
{
	struct folded_tree t;
	struct buf b;
	folded_tree_init_spans(&t, 0);
	buf_init(&b, BUF_NO_LIMIT);
	build_two_traces(&t, 0);
	folded_spans_finish(&t);
	is_int(folded_spans_traces(&t, 0), 2, "two traces merged");
	is_int(folded_spans_count_spans(&t, 0), 5, "of five spans");
	folded_spans_write_json(&t, &b, "aggregate", 0);
	is_str(b.data,
	       "{\"mode\":\"aggregate\",\"traces\":2,\"spans\":5,\"root\":{\"name\":\"\",\"service\":\"\","
	       "\"value_us\":150000,\"self_us\":0,\"count\":2,\"children\":["
	       "{\"name\":\"GET /a\",\"service\":\"api\",\"value_us\":150000,\"self_us\":85000,\"count\":2,"
	       "\"example_trace_id\":\"cd000000000000000000000000000002\",\"children\":["
	       "{\"name\":\"SELECT x\",\"service\":\"db\",\"value_us\":60000,\"self_us\":60000,\"count\":1,"
	       "\"example_trace_id\":\"ab000000000000000000000000000001\",\"children\":[]},"
	       "{\"name\":\"GET k\",\"service\":\"cache\",\"value_us\":5000,\"self_us\":5000,\"count\":1,"
	       "\"example_trace_id\":\"cd000000000000000000000000000002\",\"children\":[]}]}]}}",
	       "JSON: times summed, a trace counted once per frame, its last trace as the example, children "
	       "as first met");
	folded_tree_release(&t);
	buf_release(&b);
}

static void test_span_diff(void)
{
	struct folded_tree t;
	struct buf b, f;
	folded_tree_init_spans(&t, 0);
	buf_init(&b, BUF_NO_LIMIT);
	buf_init(&f, BUF_NO_LIMIT);
	build_two_traces(&t, 0);
	static const struct span_in c0[] = {
		{{{"api", "GET /a"}}, 20, 10},
		{{{"api", "GET /a"}, {"queue", "publish"}}, 10, 10},
	};
	folded_spans_begin_trace(&t, 1, 0, 2);
	add_frames(&t, c0, 2);
	folded_spans_finish(&t);
	folded_spans_write_json(&t, &b, "diff", 1);
	ok(strstr(b.data, "\"base\":{\"traces\":2,\"spans\":5},\"compare\":{\"traces\":1,\"spans\":2}") !=
		   NULL,
	   "both sides' traces and spans: %.200s", b.data);
	ok(strstr(b.data,
		  "\"name\":\"publish\",\"service\":\"queue\",\"value_us\":0,\"self_us\":0,\"count\":0,"
		  "\"base\":{\"value_us\":0,\"self_us\":0,\"count\":0},\"compare\":{\"value_us\":10000,"
		  "\"self_us\":10000,\"count\":1}") != NULL,
	   "a frame of the compare side only: no base time, and no example trace (none named)");
	folded_spans_write_folded(&t, &f, 1);
	is_str(f.data,
	       "api: GET /a 85000 10000\napi: GET /a;cache: GET k 5000 0\napi: GET /a;db: SELECT x 60000 0\n"
	       "api: GET /a;queue: publish 0 10000\n",
	       "folded: base and compare microseconds per frame, sorted");
	folded_tree_release(&t);
	buf_release(&b);
	buf_release(&f);
}

/* Labels "svc: a;b" and "svc: a_b" are one stack: they merge in the stack view, not in JSON. */
static void test_span_stacks(void)
{
	struct folded_tree t, st;
	struct buf f, svg;
	char err[256];
	static const struct span_in in[] = {
		{{{"svc", "a;b"}}, 7, 3},
		{{{"svc", "a_b"}}, 9, 4},
		{{{"svc", "a\nb"}, {"db", "q"}}, 9, 0},
		{{{"svc", "a\nb"}, {"db", "q"}, {"db", "tiny"}}, 0, 0},
	};
	folded_tree_init_spans(&t, 0);
	buf_init(&f, BUF_NO_LIMIT);
	buf_init(&svg, BUF_NO_LIMIT);
	folded_spans_begin_trace(&t, 0, 0, 4);
	add_frames(&t, in, 4);
	folded_spans_finish(&t);
	is_int(t.n_nodes, 6, "JSON keeps the three names apart (root, 3 frames, q, tiny)");
	folded_spans_write_folded(&t, &f, 0);
	is_str(f.data, "svc: a_b 3000\nsvc: a_b 4000\n",
	       "folded: a line per frame with own time, separators made '_', frames without own time left "
	       "out");
	folded_tree_init(&st, NULL);
	ok(folded_spans_stacks(&t, 0, &st, err, sizeof(err)) == 0, "the stack view is made");
	ok(folded_tree_finish(&st, err, sizeof(err)) == 0, "and finishes");
	is_int(st.n_nodes, 2, "one stack for the two labels; none for the frames without own time");
	is_int(st.nodes[0].total[0], 7000, "their microseconds summed");
	is_int(st.sides, 1, "one side");
	struct flame_opts o;
	flame_opts_init(&o);
	ok(flamegraph_svg(&st, &o, append, &svg, err, sizeof(err)) == 0, "drawn: %s", err);
	ok(strstr(svg.data, "<title>svc: a_b (7,000 samples, 100.00%)</title>") != NULL,
	   "the merged frame drawn");
	folded_tree_release(&st);

	folded_tree_release(&t);

	/* a deeper span path than a stack may be */
	struct folded_limits lim = {.max_depth = 1};
	static const struct span_in deep[] = {{{{"s", "p"}, {"s", "c"}}, 5, 5}};
	folded_tree_init(&st, &lim);
	folded_tree_init_spans(&t, 0);
	folded_spans_begin_trace(&t, 0, 0, 1);
	add_frames(&t, deep, 1);
	folded_spans_finish(&t);
	err[0] = 0;
	ok(folded_spans_stacks(&t, 0, &st, err, sizeof(err)) < 0, "a stack deeper than the limit fails");
	ok(strstr(err, "deeper than 1") != NULL, "saying so: %s", err);
	folded_tree_release(&st);
	folded_tree_release(&t);
	buf_release(&f);
	buf_release(&svg);
}

/* Trees built apart (as merge threads do) and absorbed give the tree built in one. */
static void test_span_absorb(void)
{
	struct folded_tree one, a, b;
	struct buf x, y;
	static const struct span_in in[4][2] = {
		{{{{"api", "GET /a"}}, 10, 4}, {{{"api", "GET /a"}, {"db", "q"}}, 6, 6}},
		{{{{"api", "GET /b"}}, 20, 20}, {{{"api", "GET /b"}, {"db", "q"}}, 0, 0}},
		{{{{"api", "GET /b"}}, 8, 1}, {{{"api", "GET /b"}, {"cache", "get"}}, 7, 7}},
		{{{{"api", "GET /a"}}, 3, 3}, {{{"api", "GET /c"}}, 2, 2}},
	};
	folded_tree_init_spans(&one, 0);
	folded_tree_init_spans(&a, 0);
	folded_tree_init_spans(&b, 0);
	buf_init(&x, BUF_NO_LIMIT);
	buf_init(&y, BUF_NO_LIMIT);
	for (uint64_t k = 0; k < 4; k++) {
		struct folded_tree *part = k % 2 ? &b : &a;
		folded_spans_begin_trace(&one, 0, k, 2);
		add_frames(&one, in[k], 2);
		folded_spans_begin_trace(part, 0, k, 2);
		add_frames(part, in[k], 2);
	}
	folded_spans_absorb(&a, &b);
	for (uint64_t k = 0; k < 4; k++) {
		uint8_t id[16] = {(uint8_t)(k + 1)};
		folded_spans_name_trace(&one, 0, k, id);
		folded_spans_name_trace(&a, 0, k, id);
	}
	folded_spans_finish(&one);
	folded_spans_finish(&a);
	folded_spans_write_json(&one, &x, "aggregate", 0);
	folded_spans_write_json(&a, &y, "aggregate", 0);
	is_str(y.data, x.data, "the absorbed tree writes the same JSON");
	ok(strstr(x.data, "\"name\":\"GET "
			  "/a\",\"service\":\"api\",\"value_us\":13000,\"self_us\":7000,\"count\":2") != NULL,
	   "GET /a: two traces");
	ok(strstr(x.data, "GET /b") < strstr(x.data, "GET /c"), "children as first met, across the parts");
	folded_tree_release(&one);
	folded_tree_release(&a);
	folded_tree_release(&b);
	buf_release(&x);
	buf_release(&y);
}

/* Strings met again at a new address, or the same address with new text, find the right frame. */
static void test_span_strings(void)
{
	struct folded_tree t;
	char s1[8] = "svc", n1[8] = "op";
	char *s2 = strdup("svc"), *n2 = strdup("op");
	folded_tree_init_spans(&t, 0);
	folded_spans_begin_trace(&t, 0, 0, 2);
	uint32_t a = folded_spans_frame(&t, 0, s1, n1);
	is_int(folded_spans_frame(&t, 0, s2, n2), a, "the same text elsewhere is the same frame");
	folded_spans_forget(&t);
	memcpy(n1, "other", 6);
	ok(folded_spans_frame(&t, 0, s1, n1) != a, "after forgetting, reused memory is read again");
	is_str(folded_spans_name(&t, a), "op", "the tree kept its own copy");
	is_str(folded_spans_service(&t, a), "svc", "of both strings");
	free(s2);
	free(n2);
	folded_tree_release(&t);
}

static void test_span_limits(void)
{
	struct folded_tree t, big;
	folded_tree_init_spans(&t, 3); /* the root and two frames */
	folded_spans_begin_trace(&t, 0, 0, 3);
	uint32_t a = folded_spans_frame(&t, 0, "s", "a");
	uint32_t b = folded_spans_frame(&t, a, "s", "b");
	ok(!folded_spans_too_many(&t), "two frames fit");
	is_int(folded_spans_frame(&t, b, "s", "c"), b, "a third is not made: its parent stands in");
	ok(folded_spans_too_many(&t), "and the tree says it is incomplete");
	is_int(folded_spans_frame(&t, a, "s", "b"), b, "frames already there are still found");

	folded_tree_init_spans(&big, 0);
	folded_spans_begin_trace(&big, 0, 0, 3);
	folded_spans_frame(&big, 0, "s", "x");
	folded_spans_frame(&big, 0, "s", "y");
	folded_spans_frame(&big, 0, "s", "z");
	folded_tree_release(&t);
	folded_tree_init_spans(&t, 3);
	folded_spans_absorb(&t, &big);
	ok(folded_spans_too_many(&t), "absorbing past the limit says so too");
	is_int(t.n_nodes, 3, "and makes no more nodes");
	folded_tree_release(&t);
	folded_tree_release(&big);
}

int main(void)
{
	test_stacks();
	test_stack_json();
	test_stack_limits();
	test_span_json();
	test_span_diff();
	test_span_stacks();
	test_span_absorb();
	test_span_strings();
	test_span_limits();
	return tap_done();
}
