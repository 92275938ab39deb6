/*
 * request_metrics.h - the metric points around request rows: what a
 * request's service reported near its start (a resource snapshot), and the
 * CPU utilisation of each service by minute over the rows' time span (the
 * bottleneck ranking's contention test, analyze/bottleneck.h).
 *
 * This module owns which points are read and how they are reduced; it does
 * not choose the rows (request_rows.h) nor print.
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
#include "core/strmap.h"
#include "store/store.h"

/* What a snapshot holds, in this order. */
enum request_metrics_snapshot_metric {
	REQUEST_METRICS_SNAPSHOT_CPU,	  /* process.cpu.utilization */
	REQUEST_METRICS_SNAPSHOT_MEMORY,  /* process.memory.usage, bytes */
	REQUEST_METRICS_SNAPSHOT_DB_USED, /* db.client.connection.count, state "used" */
	REQUEST_METRICS_SNAPSHOT_DB_MAX,  /* db.client.connection.max */
	REQUEST_METRICS_SNAPSHOT_METRICS
};

/* Points this close to the request's start count for its snapshot. */
#define REQUEST_METRICS_SNAPSHOT_NS (120ull * 1000000000ull)

struct request_metrics_snapshot {
	int found;	  /* some metric had a point in the window */
	uint64_t time_ns; /* of the point nearest the start, over all metrics */
	double value
		[REQUEST_METRICS_SNAPSHOT_METRICS]; /* per metric: the mean of its nearest points, NAN if none */
};

/*
 * The points of the row's service (its service name; none: "") nearest the
 * request's start within REQUEST_METRICS_SNAPSHOT_NS, per metric: the mean of the
 * points at the nearest time.  0, or -1 with a message (nothing found).
 */
int request_metrics_snapshot_read(struct store *st, const struct request_row *r,
				  struct request_metrics_snapshot *out, char *err, size_t errlen);
/*
 * The snapshots of rows[0 .. n) into out[0 .. n), read on two threads.  A
 * row whose read failed gets found = 0 (a snapshot is a hint); the number
 * that failed is returned.
 */
size_t request_metrics_snapshots_read(struct store *st, const struct request_row *rows, size_t n,
				      struct request_metrics_snapshot *out);

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
