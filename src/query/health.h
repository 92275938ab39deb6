/*
 * health.h - the performance health of the fleet over the last minutes:
 * response time, error rate, resource usage and service performance, each
 * green, yellow or red against thresholds, and the status they make
 * (GET /health/performance).
 *
 * Owns the figures read for it (latency rollups of the window, resource
 * measures) and the judging; the thresholds are a stored document laid over
 * the defaults.  Results are the caller's structs; strings in its arena.
 */
#ifndef HOTPATH_QUERY_HEALTH_H
#define HOTPATH_QUERY_HEALTH_H

#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "store/store.h"

enum health_indicator_id {
	HEALTH_RESPONSE_TIME,
	HEALTH_ERROR_RATE,
	HEALTH_RESOURCES,
	HEALTH_SERVICES,
	HEALTH_N
};
enum health_level { HEALTH_GREEN, HEALTH_YELLOW, HEALTH_RED, HEALTH_NO_DATA };

extern const char *const
	health_indicator_names[HEALTH_N]; /* response_time, error_rate, resource_usage, agent_performance */
extern const char *const health_level_names[4]; /* green, yellow, red, no_data */

/* Each indicator turns yellow at yellow[i] and red at red[i] (values at or above). */
struct health_thresholds {
	double yellow[HEALTH_N], red[HEALTH_N];
	uint64_t window_ns;
};

/* Defaults: mean response 500 / 1000 ms, error rate 0.01 / 0.05, resource
 * usage 0.70 / 0.85, the slowest service's p95 5000 / 10000 ms, 5 minutes. */
void health_thresholds_init(struct health_thresholds *t);
/* Lay a JSON object over `t`: {"response_time_ms": [500, 1000], "error_rate":
 * [...], "resource_usage": [...], "service_p95_ms": [...], "window_s": 300}.
 * Every member optional.  -1 with a message naming the member at fault. */
int health_thresholds_parse(struct health_thresholds *t, const char *json, size_t len, char *err,
			    size_t errlen);
void health_thresholds_to_json(struct buf *b, const struct health_thresholds *t);
#define HEALTH_DOC_KIND "health.thresholds"
#define HEALTH_DOC_ID	"api"
/* The defaults under the stored document. */
int health_thresholds_effective(struct store *s, struct health_thresholds *t, char *err, size_t errlen);

struct health_report {
	uint64_t from_ns, to_ns;
	uint64_t requests;
	double avg_ms, p95_ms, error_rate;
	double resource_usage;			  /* the highest share in use: NAN if none */
	const char *resource_kind, *resource_key; /* "pool" / "heap" / "cpu", and which */
	double service_p95_ms;			  /* of the slowest service */
	const char *service;
	double value[HEALTH_N];
	enum health_level level[HEALTH_N];
	const char *status; /* healthy, degraded, unhealthy, or unknown (no data at all) */
};

/* The report of the window ending at now_ns. */
int health_compute(struct store *s, uint64_t now_ns, const struct health_thresholds *t, struct arena *a,
		   struct health_report *out, char *err, size_t errlen);

#endif
