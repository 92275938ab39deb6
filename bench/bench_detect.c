/*
 * bench_detect.c - throughput of the pattern detectors (analyze/detect.h).
 *
 * Demo traffic with every planted problem on (BENCH_REQUESTS requests,
 * default 50,000, ~1 million spans, over six simulated hours) is generated
 * in batches of 100 requests, and each batch is fed to the detector trace
 * by trace right away, as a reader decoding stored traces would: only the
 * detect_trace() and detect_points() calls are timed, on warm memory.  A
 * second figure ("cold") feeds the same traffic generated all at once, so
 * every trace comes from memory that left the cache long ago.
 *
 * Every figure is the median of 5 runs, printed as "name value unit"; the
 * CPU-time figure is beside the wall-clock one ("_cpu") because shared
 * machines are noisy.  Lines starting with '#' are comments.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "analyze/detect.h"
#include "demo/scenario.h"

#define RUNS 5

/* Detect the traces of one batch: the time of the detect_trace() calls. */
static double detect_batch(struct detector *d, const struct batch *b, size_t *n_traces)
{
	double t0 = clock_s(CLOCK_MONOTONIC);
	for (size_t i = 0, j; i < b->n_spans; i = j) {
		/* The scenario appends each trace's spans together. */
		for (j = i + 1; j < b->n_spans && !memcmp(b->spans[j].trace_id, b->spans[i].trace_id, 16);
		     j++)
			;
		detect_trace(d, b->spans + i, j - i);
		(*n_traces)++;
	}
	detect_points(d, b->points, b->n_points);
	return clock_s(CLOCK_MONOTONIC) - t0;
}

int main(void)
{
	const char *env = getenv("BENCH_REQUESTS");
	unsigned requests = env ? (unsigned)strtoul(env, NULL, 10) : 50000;
	uint64_t from = 1700000000ull * 1000000000ull, minute = 60ull * 1000000000ull;
	/* Six simulated hours in batches of 100 requests, as a store reader would hand them over. */
	unsigned chunks = requests / 100 ? requests / 100 : 1;
	uint64_t step = 6 * 60 * minute / chunks;
	double wall[RUNS], cold[RUNS], finish[RUNS];
	size_t n_traces = 0, n_spans = 0, nf = 0;

	for (int r = 0; r < RUNS; r++) {
		struct scenario_config cfg;
		struct scenario sc;
		struct detector *d = detect_new(NULL);
		const struct finding *f;
		scenario_config_init(&cfg);
		scenario_init(&sc, &cfg);
		wall[r] = 0;
		n_traces = n_spans = 0;
		for (unsigned c = 0; c < chunks; c++) {
			struct batch b;
			uint64_t t = from + c * step;
			batch_init(&b);
			scenario_generate(&sc, &b, t, t + step, 100);
			if (t / minute != (t + step) / minute)
				scenario_metrics(&sc, &b, (t + step) / minute * minute);
			n_spans += b.n_spans;
			wall[r] += detect_batch(d, &b, &n_traces);
			batch_release(&b);
		}
		double t0 = clock_s(CLOCK_MONOTONIC);
		detect_finish(d, &f, &nf);
		finish[r] = clock_s(CLOCK_MONOTONIC) - t0;
		detect_free(d);
		scenario_release(&sc);
	}

	/* The same traffic all generated first: every trace cold in memory. */
	{
		struct scenario_config cfg;
		struct scenario sc;
		struct batch b;
		size_t n = 0;
		scenario_config_init(&cfg);
		scenario_init(&sc, &cfg);
		batch_init(&b);
		scenario_generate(&sc, &b, from, from + 6 * 60 * minute, chunks * 100);
		for (int r = 0; r < RUNS; r++) {
			struct detector *d = detect_new(NULL);
			cold[r] = detect_batch(d, &b, &n);
			detect_free(d);
		}
		batch_release(&b);
		scenario_release(&sc);
	}

	double w = median(wall, RUNS), c = median(cold, RUNS);
	printf("# %zu traces, %zu spans (%.1f a trace), %zu findings\n", n_traces, n_spans,
	       (double)n_spans / (double)n_traces, nf);
	printf("detect_traces_per_s %.0f traces/s\n", (double)n_traces / w);
	printf("detect_spans_per_s %.0f spans/s\n", (double)n_spans / w);
	printf("detect_ns_per_span %.0f ns\n", w * 1e9 / (double)n_spans);
	printf("detect_cold_ns_per_span %.0f ns\n", c * 1e9 / (double)n_spans);
	printf("detect_finish %.1f ms\n", median(finish, RUNS) * 1e3);
	printf("# 1,000,000 traces of 20 spans: %.2f s of detection (%.2f s with cold memory)\n",
	       20e6 * w / (double)n_spans, 20e6 * c / (double)n_spans);
	return 0;
}
