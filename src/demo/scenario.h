/*
 * scenario.h - the demo world: services, traces, metrics and known problems.
 *
 * A scenario is a deterministic simulation of a small fleet (an API gateway,
 * three LLM agents with tools, a code sandbox, a shop's order, checkout,
 * inventory, pricing and shipping services and a notification worker, in
 * production, staging and development, two versions each).  It appends
 * realistic OpenTelemetry spans and resource metric points to a struct batch.
 * It does not encode or send anything (see demo.h) and keeps no history.
 *
 * The deliberate performance problems it plants (docs/DEMO.md lists each one,
 * where it lives, its size and the finding an analysis must report) are the
 * ground truth of the analysis tests; each sits behind a bit in
 * scenario_config.problems so a test can switch it off.
 *
 * Determinism: the same config and the same sequence of calls produce
 * byte-identical batches.
 *
 * Ownership: the caller owns the struct scenario (scenario_init /
 * scenario_release).  Everything appended to a batch -- strings, attribute
 * arrays, events, links and the resources spans point to -- lives in that
 * batch's arena or in static storage, so a batch stays valid after the
 * scenario is released.
 */
#ifndef HOTPATH_DEMO_SCENARIO_H
#define HOTPATH_DEMO_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "demo/rng.h"
#include "ingest/batch.h"

/* The deliberate problems, one bit each. */
enum scenario_problem {
	SCENARIO_N_PLUS_ONE = 1u << 0,	    /* order-service GET /api/orders */
	SCENARIO_REPEATED_TOOL = 1u << 1,   /* tool database-query, identical arguments */
	SCENARIO_POOL_EXHAUSTION = 1u << 2, /* inventory-service pool of 10 at peaks */
	SCENARIO_SLOW_VERSION = 1u << 3,    /* pricing-service 2.5.0 GET /api/prices/{sku} */
	SCENARIO_SEQUENTIAL = 1u << 4,	    /* checkout-service: 3 independent calls in a row */
	SCENARIO_MEMORY_LEAK = 1u << 5,	    /* code-agent memory grows without release */
	SCENARIO_ALL_PROBLEMS = (1u << 6) - 1,
};

struct scenario_config {
	uint64_t seed;
	/* Bit set of enum scenario_problem; default SCENARIO_ALL_PROBLEMS. */
	unsigned problems;
	/*
	 * When the simulated processes started (unix ns): the leaking service's
	 * memory grows from here.  0 = the first timestamp the scenario sees.
	 */
	uint64_t start_ns;
};

#define SCENARIO_N_SERVICES  11
#define SCENARIO_N_RESOURCES (SCENARIO_N_SERVICES * 2 * 3) /* versions x environments */

struct scenario {
	struct scenario_config cfg;
	struct rng rng;
	struct arena arena; /* the resources' attributes */
	struct resource res[SCENARIO_N_RESOURCES];
	/* Totals since scenario_init. */
	uint64_t n_traces, n_spans, n_points;
};

/* Defaults: seed 1, every problem on, start_ns 0. */
void scenario_config_init(struct scenario_config *c);

void scenario_init(struct scenario *sc, const struct scenario_config *c);
void scenario_release(struct scenario *sc);

/*
 * Append `n_requests` user requests whose traces start in [from_ns, to_ns)
 * (uniformly; spans may end after to_ns).  A checkout also appends the trace
 * of the queue consumer it triggers, so the number of traces can exceed
 * n_requests.  Returns the number of spans appended.
 */
size_t scenario_generate(struct scenario *sc, struct batch *b, uint64_t from_ns, uint64_t to_ns,
			 unsigned n_requests);

/*
 * Append one sample of every resource metric of every service instance at
 * `t_ns`: process.cpu.utilization, process.memory.usage and, for services
 * with a database pool, db.client.connection.{count,max,pending_requests}.
 * All are gauges.  Returns the number of points appended.
 */
size_t scenario_metrics(struct scenario *sc, struct batch *b, uint64_t t_ns);
/* The same at from_ns, from_ns + step_ns, ... before to_ns, sharing resources. */
size_t scenario_metrics_range(struct scenario *sc, struct batch *b, uint64_t from_ns, uint64_t to_ns,
			      uint64_t step_ns);

/*
 * The relative traffic at `t_ns`: a time-of-day curve with mean 1 over a
 * day, peak 1.6 at 14:00 UTC and trough 0.4 at 02:00 UTC.  The demo sender
 * multiplies its rate by it.
 */
double scenario_load(uint64_t t_ns);

/* Whether the inventory pool is exhausted during the minute holding t_ns. */
int scenario_pool_exhausted(const struct scenario *sc, uint64_t t_ns);

#endif
