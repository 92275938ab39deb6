/*
 * request_metrics.c - the metric points around request rows: a resource
 * snapshot of a service at a moment and its JSON, CPU utilisation by
 * service and minute (see request_metrics.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
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

int request_metrics_snapshot_at(struct store *st, const char *service, uint64_t t_ns,
				struct request_metrics_snapshot *out, char *err, size_t errlen)
{
	static const char *const names[REQUEST_METRICS_SNAPSHOT_METRICS] = {
		"process.cpu.utilization", "process.memory.usage", "db.client.connection.count",
		"db.client.connection.max"};
	struct snapshot s = {.service = service ? service : "", .t_ns = t_ns};
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < REQUEST_METRICS_SNAPSHOT_METRICS; i++) {
		s.m[i].name = names[i];
		s.m[i].state = i == REQUEST_METRICS_SNAPSHOT_DB_USED ? "used" : NULL;
		s.m[i].best_dt = UINT64_MAX;
	}
	memset(out, 0, sizeof(*out));
	uint64_t lo = t_ns > REQUEST_METRICS_SNAPSHOT_NS ? t_ns - REQUEST_METRICS_SNAPSHOT_NS : 0;
	if (store_scan_points(st, lo, t_ns + REQUEST_METRICS_SNAPSHOT_NS, NULL, snapshot_point, &s, err,
			      errlen) < 0)
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

int request_metrics_snapshot_read(struct store *st, const struct request_row *r,
				  struct request_metrics_snapshot *out, char *err, size_t errlen)
{
	return request_metrics_snapshot_at(st, r->service, r->start_ns, out, err, errlen);
}

int request_metrics_trace_time(struct store *st, const uint8_t trace_id[16], const char *service,
			       uint64_t *t_ns, char *err, size_t errlen)
{
	struct batch b;
	uint64_t mine = UINT64_MAX, any = UINT64_MAX;
	batch_init(&b);
	long n = store_get_trace(st, trace_id, &b, err, errlen);
	for (size_t i = 0; n > 0 && i < b.n_spans; i++) {
		const struct span *sp = &b.spans[i];
		const char *svc = sp->resource ? sp->resource->service_name : NULL;
		any = sp->start_ns < any ? sp->start_ns : any;
		if (service && svc && !strcmp(svc, service) && sp->start_ns < mine)
			mine = sp->start_ns;
	}
	batch_release(&b);
	if (n < 0)
		return ERR_INTERNAL;
	if (any == UINT64_MAX) {
		snprintf(err, errlen, "the trace is no longer stored");
		return ERR_NOT_FOUND;
	}
	*t_ns = mine != UINT64_MAX ? mine : any;
	return 0;
}

/* ---- the snapshot's JSON ------------------------------------------------------- */

void request_metrics_snapshot_put(struct buf *b, int rc, const struct request_metrics_snapshot *s,
				  const char *service, uint64_t at_ns, const char *err)
{
	static const char *const keys[REQUEST_METRICS_SNAPSHOT_METRICS] = {
		"cpu_utilization", "memory_bytes", "db_connections_used", "db_connections_max"};
	char why[512];
	buf_puts(b, ",\"resources\":");
	if (rc == 0 && s->found) {
		buf_printf(b, "{\"at_ms\":%llu,\"time_ms\":%llu", (unsigned long long)(at_ns / NS_PER_MS),
			   (unsigned long long)(s->time_ns / NS_PER_MS));
		for (int i = 0; i < REQUEST_METRICS_SNAPSHOT_METRICS; i++) {
			buf_printf(b, ",\"%s\":", keys[i]);
			buf_put_json_double(b, s->value[i]);
		}
		buf_putc(b, '}');
		return;
	}
	if (rc < 0)
		snprintf(why, sizeof(why), "the metric points could not be read: %s", err ? err : "");
	else if (!service || !*service)
		snprintf(why, sizeof(why), "no service to read resource metrics of");
	else
		snprintf(why, sizeof(why),
			 "no CPU, memory or connection pool metrics of service %.200s within %llu s of that "
			 "time",
			 service, (unsigned long long)(REQUEST_METRICS_SNAPSHOT_NS / NS_PER_S));
	buf_puts(b, "null,\"resources_reason\":");
	buf_put_json_str(b, why);
}

void request_metrics_snapshot_put_at(struct buf *b, struct store *st, const char *service, uint64_t at_ns,
				     const char *no_time)
{
	struct request_metrics_snapshot s;
	char err[256] = "";
	if (!at_ns) {
		buf_puts(b, ",\"resources\":null,\"resources_reason\":");
		buf_put_json_str(b, no_time ? no_time : "no moment to read the resources at");
		return;
	}
	int rc = request_metrics_snapshot_at(st, service, at_ns, &s, err, sizeof(err));
	request_metrics_snapshot_put(b, rc, &s, service, at_ns, err);
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
