/*
 * bench_flame.c - throughput of the flame graph tools.
 *
 *   collapse: `perf script` text -> folded stacks, on the shared reference
 *             inputs ($HOTPATH_SHARED/testdata/flamegraph, default ../shared),
 *             each replicated so that together they pass 100 MiB.  Each input
 *             is collapsed on its own: concatenated, the reference rule "keep
 *             only the first event type" would drop most samples.
 *   svg:      folded text -> tree -> SVG, on generated folded data (a
 *             synthetic call tree), including a file of one million lines.
 *   spans:    traces -> span flame tree (as GET /api/v1/flamegraph merges
 *             them, on one thread), then its JSON, folded text and SVG, on
 *             generated traces.
 *
 * Every figure is the median of 5 runs, printed as "name value unit";
 * wall-clock figures, with the CPU-time figure beside them ("_cpu") because
 * shared machines are noisy.  Lines starting with '#' are comments.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/alloc.h"
#include "analyze/spanflame.h"
#include "core/buf.h"
#include "profile/collapse_perf.h"
#include "profile/folded.h"
#include "render/flamegraph_svg.h"

#define RUNS 5
#define MIB  (1024.0 * 1024.0)

struct timing {
	double wall, cpu;
};

static int discard(void *ctx, const char *data, size_t len)
{
	*(size_t *)ctx += len;
	return 0;
}

/* --- collapse ---------------------------------------------------------------- */

struct input {
	char name[256];
	struct buf text; /* the file replicated */
};

/* Collapse every input once, in 4 MiB feeds as the command does. */
static struct timing collapse_all(struct input *in, size_t n, unsigned flags)
{
	double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	for (size_t i = 0; i < n; i++) {
		struct collapse_perf_opts o = {.flags = flags};
		struct collapse_perf *c = collapse_perf_new(&o);
		char err[256];
		size_t out = 0;
		for (size_t off = 0; off < in[i].text.len; off += 4 << 20) {
			size_t len = in[i].text.len - off < (4u << 20) ? in[i].text.len - off : 4u << 20;
			if (collapse_perf_feed(c, in[i].text.data + off, len, err, sizeof(err)) < 0) {
				fprintf(stderr, "bench_flame: %s: %s\n", in[i].name, err);
				exit(1);
			}
		}
		collapse_perf_finish(c, err, sizeof(err));
		collapse_perf_write(c, discard, &out);
		collapse_perf_free(c);
	}
	return (struct timing){clock_s(CLOCK_MONOTONIC) - w0, clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0};
}

static void report(const char *name, double bytes, struct timing *t, int runs)
{
	double wall[RUNS], cpu[RUNS];
	for (int i = 0; i < runs; i++) {
		wall[i] = bytes / MIB / t[i].wall;
		cpu[i] = bytes / MIB / t[i].cpu;
	}
	printf("%s %.0f MiB/s\n%s_cpu %.0f MiB/s\n", name, median(wall, runs), name, median(cpu, runs));
	fflush(stdout);
}

static void bench_collapse(void)
{
	const char *shared = getenv("HOTPATH_SHARED");
	char dir[2048], path[4096];
	static struct input in[64];
	size_t n = 0, total = 0, want = (size_t)(101 * MIB);

	snprintf(dir, sizeof(dir), "%s/testdata/flamegraph", shared && *shared ? shared : "../shared");
	DIR *d = opendir(dir);
	if (!d) {
		printf("# no reference inputs in %s: collapse skipped\n", dir);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < 64) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".txt"))
			continue;
		snprintf(in[n].name, sizeof(in[n].name), "%s", e->d_name);
		buf_init(&in[n].text, BUF_NO_LIMIT);
		n++;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		struct buf one;
		buf_init(&one, BUF_NO_LIMIT);
		snprintf(path, sizeof(path), "%s/%.255s", dir, in[i].name);
		buf_read_file(&one, path);
		buf_putc(&one, '\n'); /* every copy ends its last sample */
		while (in[i].text.len < want / n)
			buf_append(&in[i].text, one.data, one.len);
		total += in[i].text.len;
		buf_release(&one);
	}
	printf("# collapse: %zu inputs from %s, replicated to %.1f MiB in all\n", n, dir,
	       (double)total / MIB);

	static const struct {
		const char *name;
		unsigned flags;
	} modes[] = {{"collapse_perf", 0}, {"collapse_perf_all", COLLAPSE_PERF_ALL}};
	for (size_t m = 0; m < 2; m++) {
		struct timing t[RUNS];
		for (int r = 0; r < RUNS; r++)
			t[r] = collapse_all(in, n, modes[m].flags);
		report(modes[m].name, (double)total, t, RUNS);
	}
	/* each input on its own, to show which shapes cost more */
	for (size_t i = 0; i < n; i++) {
		struct timing t[RUNS];
		char name[300];
		for (int r = 0; r < RUNS; r++)
			t[r] = collapse_all(&in[i], 1, 0);
		snprintf(name, sizeof(name), "collapse_perf[%.*s]", (int)strlen(in[i].name) - 4, in[i].name);
		report(name, (double)in[i].text.len, t, RUNS);
	}
	for (size_t i = 0; i < n; i++)
		buf_release(&in[i].text);
}

/* --- folded -> SVG ------------------------------------------------------------ */

static uint64_t rng_state = 0x853c49e6748fea9bull;

static uint32_t rng(void)
{
	/* xorshift64*: deterministic data from run to run */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * `lines` distinct folded stacks: the paths to the nodes of a random
 * recursive tree (node i hangs under a node chosen uniformly before it),
 * which gives paths ~ln(lines) + 1 frames deep that share prefixes the way
 * profiles do.  Frame names come from a vocabulary of C-, C++-, Java- and
 * Go-looking names, 17 bytes on average.  Sorted like a collapser's output,
 * or in tree order (unsorted).
 */
static void generate_folded(size_t lines, int sorted, struct buf *out)
{
	enum { VOCAB = 20000 };
	static const char *const shapes[] = {
		"fn_%u",
		"do_syscall_%u",
		"Handler::run%u",
		"java/util/Map:::get%u",
		"runtime.mallocgc%u",
		"std::vector<T>::push_back%u",
	};
	char(*vocab)[48] = xmalloc(VOCAB * sizeof(*vocab));
	for (unsigned i = 0; i < VOCAB; i++)
		snprintf(vocab[i], sizeof(vocab[i]), shapes[i % 6], i);

	uint32_t *parent = xmalloc((lines + 1) * sizeof(*parent));
	uint32_t *name = xmalloc((lines + 1) * sizeof(*name));
	uint32_t path[256];
	for (size_t i = 1; i <= lines; i++) {
		parent[i] = (uint32_t)(rng() % i);
		name[i] = rng() % VOCAB;
	}
	char **v = xmalloc(lines * sizeof(*v));
	struct buf line;
	buf_init(&line, BUF_NO_LIMIT);
	for (size_t i = 1; i <= lines; i++) {
		size_t depth = 0;
		for (uint32_t n = (uint32_t)i; n && depth < 256; n = parent[n])
			path[depth++] = n;
		buf_reset(&line);
		while (depth--) {
			buf_puts(&line, vocab[name[path[depth]]]);
			buf_putc(&line, depth ? ';' : ' ');
		}
		buf_printf(&line, "%u\n", 1 + rng() % 1000);
		v[i - 1] = xstrdup(line.data);
	}
	if (sorted)
		qsort(v, lines, sizeof(*v), cmp_line);
	for (size_t i = 0; i < lines; i++) {
		buf_puts(out, v[i]);
		free(v[i]);
	}
	free(v);
	free(parent);
	free(name);
	buf_release(&line);
	free(vocab);
}

/* Parse, finish and draw once; returns the bytes of SVG. */
static size_t folded_to_svg(const struct buf *text, size_t *nodes)
{
	struct folded_tree t;
	struct flame_opts o;
	char err[256];
	size_t out = 0;
	folded_tree_init(&t, NULL);
	flame_opts_init(&o);
	if (folded_parse_buffer(&t, text->data, text->len, 0, 0, err, sizeof(err)) < 0 ||
	    folded_tree_finish(&t, err, sizeof(err)) < 0 ||
	    flamegraph_svg(&t, &o, discard, &out, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_flame: svg: %s\n", err);
		exit(1);
	}
	*nodes = t.n_nodes;
	folded_tree_release(&t);
	return out;
}

static void bench_svg(const char *name, size_t lines, int sorted)
{
	struct buf text;
	struct timing t[RUNS];
	double secs[RUNS];
	size_t svg = 0, nodes = 0;

	buf_init(&text, BUF_NO_LIMIT);
	generate_folded(lines, sorted, &text);
	for (int r = 0; r < RUNS; r++) {
		double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
		svg = folded_to_svg(&text, &nodes);
		t[r] = (struct timing){clock_s(CLOCK_MONOTONIC) - w0, clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0};
		secs[r] = t[r].wall;
	}
	printf("# %s: %zu %s lines, %.1f MiB folded, %zu tree nodes, %.1f MiB of SVG\n", name, lines,
	       sorted ? "sorted" : "unsorted", (double)text.len / MIB, nodes, (double)svg / MIB);
	report(name, (double)text.len, t, RUNS);
	printf("%s_seconds %.3f s\n", name, median(secs, RUNS));
	fflush(stdout);
	buf_release(&text);
}

/* --- spans ------------------------------------------------------------------------- */

#define SPANS_PER_TRACE 20

/*
 * `n` traces of SPANS_PER_TRACE spans: an entry span of one of 20 routes,
 * each other span under one before it, named from 200 (service, name)
 * pairs, each within its parent's time.
 */
static struct span *generate_traces(size_t n, struct resource *res, char (*names)[32])
{
	struct span *v = xcalloc(n * SPANS_PER_TRACE, sizeof(*v));
	for (unsigned i = 0; i < 8; i++) {
		char *svc = xmalloc(16);
		snprintf(svc, 16, "service-%u", i);
		res[i] = (struct resource){.service_name = svc};
	}
	for (unsigned i = 0; i < 200; i++)
		snprintf(names[i], sizeof(names[i]), i < 20 ? "GET /route/%u" : "operation %u", i);
	for (size_t t = 0; t < n; t++) {
		struct span *tr = &v[t * SPANS_PER_TRACE];
		for (unsigned i = 0; i < SPANS_PER_TRACE; i++) {
			struct span *s = &tr[i];
			unsigned nm = i ? 20 + rng() % 180 : rng() % 20;
			memcpy(s->trace_id, &t, sizeof(t));
			s->span_id[7] = (uint8_t)(i + 1);
			s->name = names[nm];
			s->resource = &res[nm % 8];
			if (!i) {
				s->start_ns = t * 1000000000ull;
				s->end_ns = s->start_ns + 1000000 + rng() % 100000000;
				continue;
			}
			const struct span *p = &tr[rng() % i];
			uint64_t dur = p->end_ns - p->start_ns;
			s->parent_span_id[7] = p->span_id[7];
			s->start_ns = p->start_ns + rng() % (dur / 2 + 1);
			s->end_ns = s->start_ns + rng() % (p->end_ns - s->start_ns + 1);
		}
	}
	return v;
}

static void bench_spans(size_t n_traces)
{
	struct resource res[8];
	char(*names)[32] = xmalloc(200 * sizeof(*names));
	struct span *spans = generate_traces(n_traces, res, names);
	double merge[RUNS], json[RUNS], folded[RUNS], svg[RUNS];
	size_t nodes = 0, json_len = 0, svg_len = 0;
	for (int r = 0; r < RUNS; r++) {
		struct folded_tree t, st;
		struct buf b;
		struct flame_opts o;
		char err[256];
		buf_init(&b, BUF_NO_LIMIT);
		double w0 = clock_s(CLOCK_MONOTONIC);
		folded_tree_init_spans(&t, 1000000);
		for (size_t k = 0; k < n_traces; k++)
			spanflame_add_trace(&t, &spans[k * SPANS_PER_TRACE], SPANS_PER_TRACE, 0, k);
		folded_spans_finish(&t);
		double w1 = clock_s(CLOCK_MONOTONIC);
		folded_spans_write_json(&t, &b, "aggregate", 0);
		json_len = b.len;
		double w2 = clock_s(CLOCK_MONOTONIC);
		buf_reset(&b);
		folded_spans_write_folded(&t, &b, 0);
		double w3 = clock_s(CLOCK_MONOTONIC);
		folded_tree_init(&st, NULL);
		flame_opts_init(&o);
		svg_len = 0;
		if (folded_spans_stacks(&t, 0, &st, err, sizeof(err)) < 0 ||
		    folded_tree_finish(&st, err, sizeof(err)) < 0 ||
		    flamegraph_svg(&st, &o, discard, &svg_len, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_flame: spans: %s\n", err);
			exit(1);
		}
		double w4 = clock_s(CLOCK_MONOTONIC);
		merge[r] = w1 - w0;
		json[r] = w2 - w1;
		folded[r] = w3 - w2;
		svg[r] = w4 - w3;
		nodes = t.n_nodes;
		folded_tree_release(&st);
		folded_tree_release(&t);
		buf_release(&b);
	}
	printf("# span_tree: %zu traces of %d spans, %zu frames, %.1f MiB of JSON, %.1f MiB of SVG\n",
	       n_traces, SPANS_PER_TRACE, nodes, (double)json_len / MIB, (double)svg_len / MIB);
	printf("span_tree_merge %.2f Mspans/s\n",
	       (double)n_traces * SPANS_PER_TRACE / median(merge, RUNS) / 1e6);
	printf("span_tree_json_seconds %.3f s\n", median(json, RUNS));
	printf("span_tree_folded_seconds %.3f s\n", median(folded, RUNS));
	printf("span_tree_svg_seconds %.3f s\n", median(svg, RUNS));
	fflush(stdout);
	free(spans);
	free(names);
	for (unsigned i = 0; i < 8; i++)
		free((char *)res[i].service_name);
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--svg-only") != 0)
		bench_collapse();
	bench_svg("svg_200k_lines", 200000, 1);
	bench_svg("svg_1m_lines", 1000000, 1);
	bench_svg("svg_1m_lines_unsorted", 1000000, 0);
	bench_spans(50000);
	return 0;
}
