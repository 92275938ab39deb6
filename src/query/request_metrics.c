/*
 * request_metrics.c - the metric points around request rows: a request's
 * resource snapshot, CPU utilisation by service and minute (see
 * request_metrics.h).
 */
#include <math.h>
#include <string.h>

#include "core/clock.h"
#include "core/parallel.h"
#include "query/request_metrics.h"

/* CPU samples this long before the rows' first start and after their last end count. */
#define CPU_MARGIN_NS (120 * NS_PER_S)

/* ---- snapshot ----------------------------------------------------------------- */

/* The metric points nearest a request's start, of its service. */
struct snapshot {
	const char *service;
	uint64_t t_ns;
	struct {
		const char *name, *state; /* metric, and the connection state wanted (or NULL) */
		uint64_t best_dt, time_ns;
		double sum;
		unsigned n;
	} m[REQUEST_METRICS_SNAPSHOT_METRICS];
};

static int snapshot_point(void *arg, const struct metric_point *p)
{
	struct snapshot *s = arg;
	if (!p->resource || !p->resource->service_name || strcmp(p->resource->service_name, s->service))
		return 0;
	for (int i = 0; i < REQUEST_METRICS_SNAPSHOT_METRICS; i++) {
		if (strcmp(p->name, s->m[i].name))
			continue;
		if (s->m[i].state) {
			const char *st = attr_str(p->attrs, p->n_attrs, "db.client.connection.state");
			if (!st || strcmp(st, s->m[i].state))
				continue;
		}
		uint64_t dt = p->time_ns > s->t_ns ? p->time_ns - s->t_ns : s->t_ns - p->time_ns;
		if (dt < s->m[i].best_dt) {
			s->m[i].best_dt = dt;
			s->m[i].time_ns = p->time_ns;
			s->m[i].sum = 0;
			s->m[i].n = 0;
		}
		if (dt == s->m[i].best_dt) {
			s->m[i].sum += p->value;
			s->m[i].n++;
		}
	}
	return 0;
}

int request_metrics_snapshot_read(struct store *st, const struct request_row *r,
				  struct request_metrics_snapshot *out, char *err, size_t errlen)
{
	static const char *const names[REQUEST_METRICS_SNAPSHOT_METRICS] = {
		"process.cpu.utilization", "process.memory.usage", "db.client.connection.count",
		"db.client.connection.max"};
	struct snapshot s = {.service = r->service ? r->service : "", .t_ns = r->start_ns};
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < REQUEST_METRICS_SNAPSHOT_METRICS; i++) {
		s.m[i].name = names[i];
		s.m[i].state = i == REQUEST_METRICS_SNAPSHOT_DB_USED ? "used" : NULL;
		s.m[i].best_dt = UINT64_MAX;
	}
	memset(out, 0, sizeof(*out));
	uint64_t lo =
		r->start_ns > REQUEST_METRICS_SNAPSHOT_NS ? r->start_ns - REQUEST_METRICS_SNAPSHOT_NS : 0;
	if (store_scan_points(st, lo, r->start_ns + REQUEST_METRICS_SNAPSHOT_NS, NULL, snapshot_point, &s,
			      err, errlen) < 0)
		return -1;
	for (int i = 0; i < REQUEST_METRICS_SNAPSHOT_METRICS; i++) {
		out->found |= s.m[i].n > 0;
		out->value[i] = s.m[i].n ? s.m[i].sum / s.m[i].n : NAN;
		if (s.m[i].n && s.m[i].best_dt < best) {
			best = s.m[i].best_dt;
			out->time_ns = s.m[i].time_ns;
		}
	}
	return 0;
}

/* Threads the snapshots of a page are read on. */
#define SNAPSHOT_THREADS 2

struct snapshot_part {
	struct store *st;
	const struct request_row *rows;
	struct request_metrics_snapshot *out;
	size_t n, first, failed;
};

static void *snapshot_run(void *arg)
{
	struct snapshot_part *p = arg;
	char err[256];
	for (size_t i = p->first; i < p->n; i += SNAPSHOT_THREADS)
		if (request_metrics_snapshot_read(p->st, &p->rows[i], &p->out[i], err, sizeof(err)) < 0) {
			p->out[i].found = 0;
			p->failed++;
		}
	return NULL;
}

size_t request_metrics_snapshots_read(struct store *st, const struct request_row *rows, size_t n,
				      struct request_metrics_snapshot *out)
{
	struct snapshot_part parts[SNAPSHOT_THREADS];
	size_t failed = 0;
	for (size_t k = 0; k < SNAPSHOT_THREADS; k++)
		parts[k] = (struct snapshot_part){.st = st, .rows = rows, .out = out, .n = n, .first = k};
	parallel_run(snapshot_run, parts, sizeof(*parts),
		     n < SNAPSHOT_THREADS ? (unsigned)n : SNAPSHOT_THREADS);
	for (size_t k = 0; k < SNAPSHOT_THREADS; k++)
		failed += parts[k].failed;
	return failed;
}

/* ---- CPU by service and minute ------------------------------------------------ */

void request_metrics_cpu_init(struct request_metrics_cpu *cm)
{
	strmap_init(&cm->m);
	buf_init(&cm->key, BUF_NO_LIMIT);
}

void request_metrics_cpu_release(struct request_metrics_cpu *cm)
{
	buf_release(&cm->key);
	strmap_release(&cm->m);
}

static void cpu_key(struct buf *k, const char *service, uint64_t minute)
{
	buf_reset(k);
	buf_puts(k, service);
	buf_putc(k, 0);
	buf_append(k, &minute, sizeof(minute));
}

static int cpu_point(void *arg, const struct metric_point *p)
{
	struct request_metrics_cpu *cm = arg;
	int64_t have, v = (int64_t)llround(p->value * 1e6);
	if (!p->resource || !p->resource->service_name || strcmp(p->name, "process.cpu.utilization"))
		return 0;
	cpu_key(&cm->key, p->resource->service_name, p->time_ns / (60 * NS_PER_S));
	if (strmap_get(&cm->m, cm->key.data, cm->key.len, &have) < 0 || have < v)
		strmap_put(&cm->m, cm->key.data, cm->key.len, v);
	return 0;
}

int request_metrics_cpu_read(struct request_metrics_cpu *cm, struct store *st, const struct request_row *rows,
			     size_t n, char *err, size_t errlen)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		lo = rows[i].start_ns < lo ? rows[i].start_ns : lo;
		hi = rows[i].start_ns + rows[i].duration_ns > hi ? rows[i].start_ns + rows[i].duration_ns
								 : hi;
	}
	return store_scan_points(st, lo > CPU_MARGIN_NS ? lo - CPU_MARGIN_NS : 0, hi + CPU_MARGIN_NS,
				 "process.cpu.utilization", cpu_point, cm, err, errlen) < 0
		       ? -1
		       : 0;
}

int request_metrics_cpu_read_range(struct request_metrics_cpu *cm, struct store *st, uint64_t from_ns,
				   uint64_t to_ns, char *err, size_t errlen)
{
	return store_scan_points(st, from_ns > CPU_MARGIN_NS ? from_ns - CPU_MARGIN_NS : 0,
				 to_ns + CPU_MARGIN_NS, "process.cpu.utilization", cpu_point, cm, err,
				 errlen) < 0
		       ? -1
		       : 0;
}

int request_metrics_cpu_any(const struct request_metrics_cpu *cm)
{
	return cm->m.count > 0;
}

double request_metrics_cpu_at(void *arg, const char *service, uint64_t t_ns)
{
	struct request_metrics_cpu *cm = arg;
	uint64_t minute = t_ns / (60 * NS_PER_S);
	static const int tries[] = {0, -1, 1};
	for (size_t i = 0; i < 3; i++) {
		int64_t v;
		cpu_key(&cm->key, service, minute + (uint64_t)(int64_t)tries[i]);
		if (strmap_get(&cm->m, cm->key.data, cm->key.len, &v) == 0)
			return (double)v / 1e6;
	}
	return NAN;
}
