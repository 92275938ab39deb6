/*
 * demo.h - the demo traffic sender: scenario data over OTLP/HTTP.
 *
 * Generates the demo scenario (scenario.h) tick by tick, encodes it as OTLP
 * protobuf and POSTs it to TARGET/v1/traces and TARGET/v1/metrics with
 * libcurl, the way an OpenTelemetry SDK exporter would: optional gzip,
 * retries on 429/503 honouring Retry-After.  Used by `hotpath demo` and by
 * `hotpath serve --demo` (in a background thread).  docs/DEMO.md describes
 * the data.
 */
#ifndef HOTPATH_DEMO_DEMO_H
#define HOTPATH_DEMO_DEMO_H

#include <stdint.h>

struct demo_options {
	const char *target;    /* base URL; default http://127.0.0.1:4318 */
	double rate;	       /* requests per second, mean over a day; default 20 */
	double duration_s;     /* live sending time; 0 = until stopped */
	uint64_t seed;	       /* default 1 */
	double backfill_hours; /* history sent first, as fast as accepted; default 0 */
	double backfill_rate;  /* requests per second of history; default 2 */
	unsigned problems;     /* enum scenario_problem bits; default all */
	int gzip;	       /* Content-Encoding: gzip; default 1 */
	double progress_s;     /* seconds between progress lines; 0 = none; default 10 */
};

/* Defaults, as above. */
void demo_options_init(struct demo_options *o);

/*
 * Send until `duration_s` has passed or *stop becomes non-zero (checked at
 * least every 100 ms).  Returns 0, or -1 when the target could not be
 * reached at all.  Failed sends are counted and reported, not fatal.
 */
int demo_run(const struct demo_options *o, volatile int *stop);

/*
 * Run demo_run() in a background thread.  `o` and its strings are copied.
 * Returns 0, or -1 if a demo is already running or the thread cannot start.
 */
int demo_start(const struct demo_options *o);
/* Stop the background demo and wait for it; a no-op when none runs. */
void demo_stop(void);

#endif
