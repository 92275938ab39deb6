/*
 * bench_bigtrace.c - the cost of one big trace at ingest: one OTLP/JSON
 * request carrying N SERVER spans of a single trace (N requests in one
 * trace), decoded and prepared for the store (blocks, request rows) as the
 * ingest route does.  The cost should grow as N, not N².
 *
 *   bench_bigtrace [--spans N[,N...]] [--runs R]
 *
 * Prints `name value unit` lines for bench/run.sh: the median seconds of R
 * runs per N, the time per span, and the blocks the trace was cut into
 * (how many, and the spans of the largest).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/buf.h"
#include "ingest/batch.h"
#include "ingest/otlp_json.h"
#include "store/prepared.h"
#include "store/store.h"

/* One trace: a root SERVER span and n-1 SERVER children, as OTLP/JSON. */
static void make_trace(struct buf *b, size_t n)
{
	const unsigned long long t0 = 1700000000000000000ull;
	buf_puts(b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
		    "\"value\":{\"stringValue\":\"big\"}}]},\"scopeSpans\":[{\"spans\":[");
	for (size_t i = 0; i < n; i++) {
		buf_printf(b,
			   "%s{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"%016zx\","
			   "\"parentSpanId\":\"%s\",\"name\":\"GET /item\",\"kind\":2,"
			   "\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\","
			   "\"attributes\":[{\"key\":\"http.route\",\"value\":{\"stringValue\":\"/item\"}}]}",
			   i ? "," : "", i + 1, i ? "0000000000000001" : "", t0 + i * 1000,
			   t0 + i * 1000 + 500);
	}
	buf_puts(b, "]}]}]}");
}

static size_t n_blocks, largest_block;

static double one_run(const struct buf *body)
{
	struct batch b;
	char err[256];
	batch_init(&b);
	double t = clock_s(CLOCK_MONOTONIC);
	if (otlp_json_decode_traces(&b, body->data, body->len, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_bigtrace: %s\n", err);
		exit(1);
	}
	struct store_write *w = store_prepare(&b);
	t = clock_s(CLOCK_MONOTONIC) - t;
	n_blocks = w->n_blocks;
	largest_block = 0;
	for (size_t i = 0; i < w->n_blocks; i++)
		if (w->blocks[i].n_spans > largest_block)
			largest_block = w->blocks[i].n_spans;
	store_write_free(w);
	batch_release(&b);
	return t;
}

int main(int argc, char **argv)
{
	const char *sizes = "10000,20000,40000";
	int runs = 3, c;
	static const struct option longopts[] = {{"spans", required_argument, NULL, 's'},
						 {"runs", required_argument, NULL, 'r'},
						 {NULL, 0, NULL, 0}};
	while ((c = getopt_long(argc, argv, "s:r:", longopts, NULL)) != -1) {
		if (c == 's')
			sizes = optarg;
		else if (c == 'r')
			runs = atoi(optarg);
		else
			return 2;
	}
	if (runs < 1 || runs > 50)
		runs = 3;
	for (const char *p = sizes; *p;) {
		size_t n = strtoul(p, NULL, 10);
		p += strcspn(p, ",");
		p += *p == ',';
		if (!n)
			continue;
		struct buf body;
		double v[50];
		buf_init(&body, BUF_NO_LIMIT);
		make_trace(&body, n);
		for (int i = 0; i < runs; i++)
			v[i] = one_run(&body);
		double m = median(v, runs);
		printf("bigtrace_%zu_spans_s %.4f s\n", n, m);
		printf("bigtrace_%zu_us_per_span %.3f us\n", n, m * 1e6 / (double)n);
		printf("bigtrace_%zu_blocks %zu blocks\n", n, n_blocks);
		printf("bigtrace_%zu_largest_block %zu spans\n", n, largest_block);
		buf_release(&body);
	}
	return 0;
}
