/*
 * request_metrics.h - the metric points around request rows: what a
 * service reported near a moment (a resource snapshot: of a slow request at
 * its start, of a bottleneck or a recommendation at its worst example's),
 * and the CPU utilisation of each service by minute over the rows' time
 * span (the bottleneck ranking's contention test, analyze/bottleneck.h).
 *
 * This module owns which points are read, how they are reduced, and the
 * snapshot's one JSON form every answer shares; it does not choose the
 * rows (request_rows.h).
 *
 * Ownership: results are the caller's structs; a struct request_metrics_cpu owns
 * its map (request_metrics_cpu_release()).  Threading: a struct serves one thread;
 * reads on separate structs may run at once.
 */
#ifndef HOTPATH_QUERY_REQUEST_METRICS_H
#define HOTPATH_QUERY_REQUEST_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/json_write.h"
#include "core/strmap.h"
#include "store/store.h"

/* What a snapshot holds, in this order: resource measures as
 * ingest/semconv_metrics.h reads them (the names of docs/ATTRIBUTES.md), one
 * instance's points of one time added up (CPU states, pools). */
enum request_metrics_snapshot_metric {
	REQUEST_METRICS_SNAPSHOT_CPU, /* process.cpu.utilization as sent (a share of the host), idle states left out */
	REQUEST_METRICS_SNAPSHOT_MEMORY,  /* process.memory.usage, bytes */
	REQUEST_METRICS_SNAPSHOT_DB_USED, /* connections in use: db.client.connection.count, state "used" */
	REQUEST_METRICS_SNAPSHOT_DB_MAX,  /* db.client.connection.max */
	REQUEST_METRICS_SNAPSHOT_METRICS
};

/* Points this close to the request's start count for its snapshot. */
#define REQUEST_METRICS_SNAPSHOT_NS (120ull * 1000000000ull)

struct request_metrics_snapshot {
	int found;	  /* some metric had a point in the window */
	int failed;	  /* reading the points failed (request_metrics_snapshots_read) */
	size_t instances; /* the most instances a measure's value is the mean of */
	uint64_t time_ns; /* of the point nearest the start, over all metrics */
	double value
		[REQUEST_METRICS_SNAPSHOT_METRICS]; /* per metric: the mean of its nearest points, NAN if none */
};

/*
 * The points of `service` (NULL or "": points without a service name), of
 * the environment `env` (NULL: any), nearest t_ns within
 * REQUEST_METRICS_SNAPSHOT_NS, per measure: for each instance of the
 * service (service.instance.id, else host.name; at most 32) the sum of its
 * points at its nearest time, and the mean of those over the instances.  0
 * (out->found says whether any point was there), or -1 with a message (the
 * store failed).
 */
int request_metrics_snapshot_at(struct store *st, const char *service, const char *env, uint64_t t_ns,
				struct request_metrics_snapshot *out, char *err, size_t errlen);
/* The same for a request row: its service and environment at its start. */
int request_metrics_snapshot_read(struct store *st, const struct request_row *r,
				  struct request_metrics_snapshot *out, char *err, size_t errlen);
/*
 * The snapshots of rows[0 .. n) into out[0 .. n), read on two threads.  A
 * row whose read failed gets found = 0 and failed = 1 (a snapshot is a
 * hint); the number that failed is returned.
 */
size_t request_metrics_snapshots_read(struct store *st, const struct request_row *rows, size_t n,
				      struct request_metrics_snapshot *out);

/*
 * When `service` took part in the trace: the earliest start of its spans,
 * else of any span of the trace; and into `env` (env_cap bytes) that span's
 * environment ("" when none, or when the service is not in the trace).  0,
 * ERR_NOT_FOUND when the trace is no longer stored, or another error class
 * with a message.
 */
int request_metrics_trace_time(struct store *st, const uint8_t trace_id[16], const char *service,
			       uint64_t *t_ns, char *env, size_t env_cap, char *err, size_t errlen);

/*
 * Write the member "resources" of the object open in `w`: the snapshot
 * taken for the moment at_ns,
 *   {"at_ms", "time_ms", "instances", "cpu_utilization", "memory_bytes",
 *    "db_connections_used", "db_connections_max"}   (a measure without a
 *    point: null)
 * or, without a point (found == 0) or when reading failed (rc < 0, `err`
 * its message), null and a member "resources_reason" saying why,
 * naming `service` (and `env` unless NULL).  A snapshot is a hint: the
 * answer stands without it.
 */
void request_metrics_snapshot_put(struct json_w *w, int rc, const struct request_metrics_snapshot *s,
				  const char *service, const char *env, uint64_t at_ns, const char *err);
/*
 * Take and write the snapshot of `service` in `env` (NULL: any) at at_ns,
 * as above (at_ns 0: no moment known; `no_time` says why in the reason).
 */
void request_metrics_snapshot_put_at(struct json_w *w, struct store *st, const char *service, const char *env,
				     uint64_t at_ns, const char *no_time);

/* CPU utilisation per service and minute (the largest sample). */
struct request_metrics_cpu {
	struct strmap m;
	struct buf key;
};

void request_metrics_cpu_init(struct request_metrics_cpu *cm);
/*
 * Read process.cpu.utilization from 2 minutes before the earliest start of
 * `rows` to 2 minutes after their latest end (nothing without rows).  0, or
 * -1 with a message.
 */
int request_metrics_cpu_read(struct request_metrics_cpu *cm, struct store *st, const struct request_row *rows,
			     size_t n, char *err, size_t errlen);
/* The same over [from_ns, to_ns) and 2 minutes on either side. */
int request_metrics_cpu_read_range(struct request_metrics_cpu *cm, struct store *st, uint64_t from_ns,
				   uint64_t to_ns, char *err, size_t errlen);
/* Whether any sample was read. */
int request_metrics_cpu_any(const struct request_metrics_cpu *cm);
/* The utilisation of `service` in the minute of `t_ns`, else the minute
 * before, else the one after; NAN if none (a bottleneck_cpu_fn: `arg` is
 * the struct request_metrics_cpu). */
double request_metrics_cpu_at(void *arg, const char *service, uint64_t t_ns);
void request_metrics_cpu_release(struct request_metrics_cpu *cm);

#endif
