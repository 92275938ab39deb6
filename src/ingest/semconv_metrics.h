/*
 * semconv_metrics.h - which metric points tell of a process's resources,
 * by their semantic-convention names (and the older names still sent), and
 * their values in one unit per measure: CPU in cores (a fraction of one
 * core), memory in bytes, connections as counts, waits in milliseconds.
 *
 * One place, read by the resource views (query/metrics.h) and the
 * detectors' pool metrics (analyze/detect_metrics.c); the mapping is the
 * table of docs/ATTRIBUTES.md ("Resource measures").  It owns no state.
 */
#ifndef HOTPATH_INGEST_SEMCONV_METRICS_H
#define HOTPATH_INGEST_SEMCONV_METRICS_H

#include "ingest/batch.h"

enum resource_measure {
	MEASURE_NONE = 0,
	MEASURE_CPU,	      /* a process's CPU, cores; its states summed */
	MEASURE_HOST_CPU,     /* a host's busy CPU, cores: non-idle states summed over its CPUs */
	MEASURE_MEMORY,	      /* a process's resident memory, bytes */
	MEASURE_HOST_MEMORY,  /* a host's used memory, bytes */
	MEASURE_HEAP,	      /* a runtime's heap in use, bytes; its spaces / pools summed */
	MEASURE_HEAP_LIMIT,   /* the most the heap may use, bytes */
	MEASURE_LOOP_DELAY,   /* event-loop delay p99, ms */
	MEASURE_GC,	      /* garbage-collection pause, ms (mean per collection) */
	MEASURE_POOL_USED,    /* connections in use */
	MEASURE_POOL_IDLE,    /* connections open and idle */
	MEASURE_POOL_MAX,     /* the pool's maximum */
	MEASURE_POOL_PENDING, /* requests waiting for a connection */
	MEASURE_POOL_WAIT,    /* wait for a connection, ms (mean) */
	MEASURE_HEAP_TOTAL,   /* the heap's size (used and free), bytes; its spaces / pools summed */
	MEASURE_COUNT
};

/* "cpu", "host_cpu", "memory", ... (the API's names), and their units. */
extern const char *const resource_measure_names[MEASURE_COUNT];
extern const char *const resource_measure_units[MEASURE_COUNT];
/* The measure named `name`, MEASURE_NONE if none. */
enum resource_measure resource_measure_by_name(const char *name);

/*
 * What `p` measures, and its value in the measure's unit in *value; points
 * of a state that is not use (idle CPU, free memory) measure nothing.  A
 * process CPU utilisation is the share of the whole host (as the
 * host-metrics packages divide by the CPU count): the caller multiplies
 * by the host's CPUs when it knows them (semconv_metric_cpus).  Histogram
 * points give their mean.  Several points at one time of one producer add
 * up (CPU states, heap spaces).
 */
enum resource_measure semconv_resource_measure(const struct metric_point *p, double *value);
/* The metric name prefixes that may give measure `m` (NULL-terminated), to
 * narrow a scan; semconv_resource_measure() still decides each point. */
const char *const *semconv_measure_prefixes(enum resource_measure m);

/*
 * The pool measure of a db.client.connection.* or older
 * db.client.connections.* metric name: "max", "count" (its state says used
 * or idle; the older "usage"), "pending_requests", "wait_time", or NULL.
 */
const char *semconv_pool_metric(const char *name);
/* The pool a point is about: db.client.connection.pool.name, pool.name, or NULL. */
const char *semconv_pool_name(const struct metric_point *p);
/* The connection state: db.client.connection.state, state, or NULL. */
const char *semconv_pool_state(const struct metric_point *p);
/*
 * The logical CPUs a system.cpu.* point tells of: the count of
 * system.cpu.logical.count, or the point's CPU number + 1
 * (cpu.logical_number, system.cpu.logical_number, cpu: "3" or "cpu3");
 * 0 if none.
 */
double semconv_metric_cpus(const struct metric_point *p);
/* A duration `v` in `unit` ("s", "ms", "us", "ns"; seconds when none or
 * unknown, as the conventions say) in milliseconds. */
double semconv_duration_ms(double v, const char *unit);

#endif
