/*
 * detect.h - performance pattern detectors: from raw spans and metric points
 * to ranked findings (N+1 queries, calls that could run in parallel,
 * cacheable repeated calls, connection-pool exhaustion, slow statements,
 * large payloads, retry storms, timeouts, memory growth, CPU saturation,
 * version regressions, routes whose time is their own work).
 *
 * A detector is an accumulator: feed it traces (detect_trace) and metric
 * points (detect_points) in any order, then detect_finish() turns what it
 * saw into findings, each with the numbers it rests on, an estimate of the
 * gain and a priority.  docs/DETECTORS.md lists every threshold and formula;
 * docs/recommendations/<doc>.md explains each pattern to users.
 *
 * Not owned here: where the spans come from (store, ingest), slow-request
 * thresholds and bottleneck ranking, the words of a recommendation
 * (analyze/recommend.h), persistence and HTTP.
 *
 * Cost: detect_trace() is linear in the spans of the trace apart from small
 * sibling groups, allocates only when a scratch array or a table grows, and
 * copies nothing from the spans except the strings it keeps as keys
 * (interned once).  Memory is bounded: each table holds at most
 * DETECT_MAX_KEYS keys; what would need more is counted in
 * detect_stats.folded and left out.
 *
 * Ownership: the detector is opaque and the caller's (detect_new /
 * detect_free).  Inputs are borrowed for the duration of the call only.
 * The findings and every string they point to belong to the detector and
 * stay valid until the next detect_finish() or detect_free().
 * Not thread-safe: one detector per thread, merged with detect_merge().
 */
#ifndef HOTPATH_ANALYZE_DETECT_H
#define HOTPATH_ANALYZE_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/batch.h"

/* Most distinct keys per table (statements, endpoints, call arguments, ...). */
#define DETECT_MAX_KEYS 10000
/* Most example traces a finding carries. */
#define DETECT_MAX_EXAMPLES 5

enum finding_kind {
	FINDING_N_PLUS_ONE,
	FINDING_SEQUENTIAL,
	FINDING_CACHEABLE,
	FINDING_POOL_EXHAUSTION,
	FINDING_MISSING_INDEX,
	FINDING_LARGE_PAYLOAD,
	FINDING_RETRY_STORM,
	FINDING_TIMEOUTS,
	FINDING_MEMORY_GROWTH,
	FINDING_CPU_SATURATION,
	FINDING_VERSION_REGRESSION,
	FINDING_OWN_WORK,
	FINDING_KIND_COUNT
};

enum finding_priority { PRIORITY_LOW = 0, PRIORITY_MEDIUM = 1, PRIORITY_HIGH = 2 };

/*
 * Thresholds.  detect_config_init() sets the defaults documented in
 * docs/DETECTORS.md; a caller may change any of them before detect_new().
 */
struct detect_config {
	unsigned min_requests;	       /* affected requests a trace finding needs (20) */
	unsigned n_plus_one_min;       /* similar calls under one parent (5) */
	double n_plus_one_sequential;  /* share of consecutive pairs not overlapping (0.8) */
	double sequential_share;       /* share of the endpoint's requests showing the run (0.5) */
	double cache_ttl_s;	       /* the cache the estimate assumes (60 s) */
	double cache_min_per_hour;     /* identical calls an hour (30) */
	double pool_wait_ms;	       /* a connection wait counted as a wait (10 ms) */
	double pool_wait_share;	       /* waits among acquisitions (0.01) */
	double slow_query_factor;      /* statement p50 vs the database's other statements (5) */
	double slow_query_min_ms;      /* and at least (20 ms) */
	double large_payload_bytes;    /* a large body (1 MiB) */
	double large_payload_share;    /* share of the operation's spans (0.1) */
	unsigned retry_min_failures;   /* failing calls to one target under one parent (3) */
	double timeout_rate;	       /* timeouts among calls to a target (0.01) */
	unsigned timeout_min;	       /* and at least this many (10) */
	double memory_growth_per_hour; /* robust slope, share of the starting level (0.02) */
	double memory_max_drop;	       /* largest release allowed, share of the running peak (0.08) */
	double memory_min_hours;       /* observed window (1 h) */
	double cpu_high;	       /* utilisation counted as saturated (0.85) */
	double cpu_share;	       /* share of samples saturated (0.05) */
	double version_ratio;	       /* p50 and mean, slower / faster (1.2) */
	unsigned version_min_samples;  /* per version and environment (30) */
	double version_min_z;	       /* combined significance of the mean difference (4) */
	double own_work_share;	       /* a route's time outside any span but wrappers (0.5) */
	double own_work_min_ms;	       /* and at least this much a request, on average (20 ms) */
	double own_work_min_cpu;       /* the CPU its service used, share of what the work needed (0.8) */
};

void detect_config_init(struct detect_config *c);

struct finding {
	enum finding_kind kind;
	enum finding_priority priority;
	char id[17];	 /* hex FNV-1a of kind + subject: stable across data */
	const char *doc; /* slug of docs/recommendations/<doc>.md */

	/* Subject; NULL when it does not apply. */
	const char *service;
	const char *endpoint;	 /* the entry endpoint where the pattern occurs */
	const char *tool;	 /* gen_ai.tool.name */
	const char *detail;	 /* statement, target list, args hash, pool, versions, target */
	const char *environment; /* when the finding is about one environment */

	/* Evidence. */
	uint64_t occurrences;	    /* calls, waits, samples: see docs/DETECTORS.md per kind */
	uint64_t affected_requests; /* requests (traces) showing the pattern */
	uint64_t subject_requests;  /* requests of the subject (service + endpoint, or tool) */
	uint64_t total_requests;    /* requests (root spans) seen by the detector */
	double window_s;	    /* observed window: first start to last end */
	double per_hour;	    /* occurrences per hour of window */
	double avg_ns, p50_ns;	    /* duration of the operation at issue */
	double baseline_ns;	    /* what it is compared with (kind specific, 0 if none) */
	double ratio;		    /* kind specific: see docs/DETECTORS.md */
	double per_request;	    /* occurrences per affected request */
	double affected_latency_ns; /* mean latency of the affected requests */
	/* Kind-specific figures (0 when they do not apply). */
	double pool_max, pool_peak_demand, pool_recommended;
	double episodes_per_hour;			/* pool: minutes with an exhausted pool, per hour */
	double growth_per_hour, start_value, end_value; /* memory: bytes */
	double rate;					/* hit ratio, timeout rate, saturated share */
	double bytes;					/* large payloads: mean size of the large bodies */
	double pool_waiters;	  /* pool: most acquisitions seen waiting at once in one process (spans) */
	int pool_metrics_ignored; /* pool: its metric series are impossible (negative, far above max) */
	double cpu_count;	  /* CPU: logical CPUs of the host, 0 = unknown */
	int single_threaded;	  /* CPU: judged against one core (Node.js, CPython, ...) */
	double loop_delay_ms;	  /* CPU: mean event-loop delay p99 in the saturated minutes, 0 = not sent */
	const char *cpu_endpoint; /* CPU: the endpoint whose own work (outside any call) took the most time */
	double cpu_own_ns; /* CPU: its own work per request (over the window); own work: outside any span */
	double cpu_own_share; /* CPU, own work: and as a share of its requests' time */
	/* CPU, own work: the function with the most self time in the service's profiles of the
	 * window (set by the caller that reads profiles, advisor/advisor.c; NULL = none found). */
	const char *hot_function;
	const char *hot_function_file; /* its file's name, when the profiles tell it; else NULL */
	const char *hot_profile_type;  /* "cpu", or "wall" when only wall-clock profiles were stored */
	double hot_function_share;     /* its self time, share of the profiles' samples but idle ones */
	uint64_t variants; /* cacheable: argument sets of the call shape folded into the finding */

	/* Estimate. */
	double saving_ns;	 /* per affected request */
	double saving_pct;	 /* of the affected requests' latency, 0..100 */
	double saved_s_per_hour; /* request time saved per hour of traffic like the observed */

	uint8_t examples[DETECT_MAX_EXAMPLES][16]; /* trace ids, the worst first */
	unsigned n_examples;
};

struct detect_stats {
	uint64_t traces, spans, points, requests;
	uint64_t folded;	    /* keys left out because a table was full */
	uint64_t unreliable_series; /* pool metric series left out as impossible (detect_finish) */
};

struct detector;

struct detector *detect_new(const struct detect_config *cfg);
void detect_free(struct detector *d);

/*
 * Feed the spans of one trace, or of a part of one (a span whose parent is
 * absent is treated as a root).  Parts of one trace fed separately each
 * count as a request for the "affected requests" figures.  Returns 0.
 */
int detect_trace(struct detector *d, const struct span *spans, size_t n);
/* Whether detect_trace() reads span attributes with this key: spans may be
 * fed without the others (a store scan then decodes less). */
int detect_reads_key(const char *key);
/* Feed metric points (any order, any resources).  Returns 0. */
int detect_points(struct detector *d, const struct metric_point *points, size_t n);

/*
 * Add everything `src` was fed to `dst`, as if `dst` had been fed it too:
 * how threads that each fed their own detector with a part of the traces
 * combine before detect_finish().  The findings are those of one detector
 * fed everything (the same keys, counts, sums, sketches and examples; sums
 * of fractions may differ in the last bits), as long as no table was full
 * and every trace went whole to one detector.  `src` is not changed.
 * Returns 0.
 */
int detect_merge(struct detector *dst, const struct detector *src);

/* Give back the room feeding left unused (tables that grew, then were
 * pruned): for a detector kept a long time.  It stays usable.  */
void detect_compact(struct detector *d);

/*
 * Evaluate everything fed so far.  *out points to the findings, highest
 * priority first, then by request time saved per hour, then by id.  The
 * detector may be fed more and finished again.  Returns 0.
 */
int detect_finish(struct detector *d, const struct finding **out, size_t *n);

void detect_get_stats(const struct detector *d, struct detect_stats *st);

/* "n-plus-one", "sequential-calls", ...: the doc slug of a kind. */
const char *detect_kind_slug(enum finding_kind k);
/* "N+1 queries", ...: a short human name of a kind. */
const char *detect_kind_name(enum finding_kind k);
const char *detect_priority_name(enum finding_priority p);

/*
 * Normalise a statement or URL for grouping: string and number literals,
 * $n placeholders and id-like path segments become "?", IN lists collapse
 * to one "?", runs of white space to one space; URL query values become
 * "?".  Writes at most cap - 1 bytes and a NUL; returns the length.
 */
size_t detect_normalize_sql(char *out, size_t cap, const char *s);
size_t detect_normalize_url(char *out, size_t cap, const char *s);

#endif
