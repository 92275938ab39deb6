/*
 * request_metrics.c - the metric points around request rows: a resource
 * snapshot of a service at a moment and its JSON, CPU utilisation by
 * service and minute (see request_metrics.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ingest/semconv_metrics.h"
#include "query/request_metrics.h"

/* CPU samples this long before the rows' first start and after their last end count. */
#define CPU_MARGIN_NS (120 * NS_PER_S)

/* ---- snapshot ----------------------------------------------------------------- */

/* Instances told apart per measure, at most (more: left out). */
#define SNAPSHOT_INSTANCES 32

/* One instance's points nearest the moment, of one measure. */
struct inst_near {
	char id[64]; /* service.instance.id, else host.name, else "" */
	uint64_t best_dt, time_ns;
	double sum; /* of its points at time_ns */
};

/* The metric points nearest a moment, of one service (in one environment). */
struct snapshot {
	const char *service, *env;
	uint64_t t_ns;
	struct {
		struct inst_near inst[SNAPSHOT_INSTANCES];
		size_t n_inst;
	} m[REQUEST_METRICS_SNAPSHOT_METRICS];
};

static const char *instance_of(const struct resource *r)
{
	const char *id = attr_str(r->attrs, r->n_attrs, "service.instance.id");
	if (!id)
		id = attr_str(r->attrs, r->n_attrs, "host.name");
	return id ? id : "";
}

static struct inst_near *inst_for(struct snapshot *s, int i, const char *id)
{
	for (size_t k = 0; k < s->m[i].n_inst; k++)
		if (!strncmp(s->m[i].inst[k].id, id, sizeof(s->m[i].inst[k].id) - 1))
			return &s->m[i].inst[k];
	if (s->m[i].n_inst == SNAPSHOT_INSTANCES)
		return NULL;
	struct inst_near *in = &s->m[i].inst[s->m[i].n_inst++];
	snprintf(in->id, sizeof(in->id), "%s", id);
	in->best_dt = UINT64_MAX;
	return in;
}

/* The snapshot's measure of a point (ingest/semconv_metrics.h), or -1. */
static int snapshot_measure(const struct metric_point *p, double *v)
{
	switch (semconv_resource_measure(p, v)) {
	case MEASURE_CPU: return REQUEST_METRICS_SNAPSHOT_CPU;
	case MEASURE_MEMORY: return REQUEST_METRICS_SNAPSHOT_MEMORY;
	case MEASURE_POOL_USED: return REQUEST_METRICS_SNAPSHOT_DB_USED;
	case MEASURE_POOL_MAX: return REQUEST_METRICS_SNAPSHOT_DB_MAX;
	default: return -1;
	}
}

static int snapshot_point(void *arg, const struct metric_point *p)
{
	struct snapshot *s = arg;
	const struct resource *r = p->resource;
	double v;
	if (!r || !r->service_name || strcmp(r->service_name, s->service) ||
	    (s->env && (!r->environment || strcmp(r->environment, s->env))))
		return 0;
	int i = snapshot_measure(p, &v);
	struct inst_near *in = i < 0 ? NULL : inst_for(s, i, instance_of(r));
	if (!in)
		return 0;
	uint64_t dt = p->time_ns > s->t_ns ? p->time_ns - s->t_ns : s->t_ns - p->time_ns;
	if (dt < in->best_dt) {
		in->best_dt = dt;
		in->time_ns = p->time_ns;
		in->sum = 0;
	}
	if (dt == in->best_dt) /* one producer's points of one time add up: CPU states, pools */
		in->sum += v;
	return 0;
}

/* A measure's value: the mean over its instances of each one's sum at its
 * nearest time; and its nearest point's distance and time. */
static double snapshot_value(const struct snapshot *s, int i, uint64_t *best_dt, uint64_t *time_ns)
{
	double sum = 0;
	for (size_t k = 0; k < s->m[i].n_inst; k++) {
		const struct inst_near *in = &s->m[i].inst[k];
		sum += in->sum;
		if (in->best_dt < *best_dt) {
			*best_dt = in->best_dt;
			*time_ns = in->time_ns;
		}
	}
	return s->m[i].n_inst ? sum / (double)s->m[i].n_inst : NAN;
}

int request_metrics_snapshot_at(struct store *st, const char *service, const char *env, uint64_t t_ns,
				struct request_metrics_snapshot *out, char *err, size_t errlen)
{
	/* by the measures' names, so that the store decodes only their series */
	static const enum resource_measure scanned[] = {MEASURE_CPU, MEASURE_MEMORY, MEASURE_POOL_USED};
	struct snapshot *s = xcalloc(1, sizeof(*s));
	uint64_t best = UINT64_MAX,
		 lo = t_ns > REQUEST_METRICS_SNAPSHOT_NS ? t_ns - REQUEST_METRICS_SNAPSHOT_NS : 0;
	int rc = 0;
	s->service = service ? service : "";
	s->env = env;
	s->t_ns = t_ns;
	memset(out, 0, sizeof(*out));
	for (size_t k = 0; rc == 0 && k < sizeof(scanned) / sizeof(scanned[0]); k++)
		for (const char *const *pre = semconv_measure_prefixes(scanned[k]); rc == 0 && *pre; pre++)
			if (store_scan_points(st, lo, t_ns + REQUEST_METRICS_SNAPSHOT_NS, *pre,
					      snapshot_point, s, err, errlen) < 0)
				rc = -1;
	for (int i = 0; rc == 0 && i < REQUEST_METRICS_SNAPSHOT_METRICS; i++) {
		out->found |= s->m[i].n_inst > 0;
		out->value[i] = snapshot_value(s, i, &best, &out->time_ns);
		if (s->m[i].n_inst > out->instances)
			out->instances = s->m[i].n_inst;
	}
	free(s);
	return rc;
}

int request_metrics_snapshot_read(struct store *st, const struct request_row *r,
				  struct request_metrics_snapshot *out, char *err, size_t errlen)
{
	return request_metrics_snapshot_at(st, r->service, r->env, r->start_ns, out, err, errlen);
}

int request_metrics_trace_time(struct store *st, const uint8_t trace_id[16], const char *service,
			       uint64_t *t_ns, char *env, size_t env_cap, char *err, size_t errlen)
{
	struct batch b;
	uint64_t mine = UINT64_MAX, any = UINT64_MAX;
	batch_init(&b);
	long n = store_get_trace(st, trace_id, &b, err, errlen);
	if (env_cap)
		env[0] = 0;
	for (size_t i = 0; n > 0 && i < b.n_spans; i++) {
		const struct span *sp = &b.spans[i];
		const char *svc = sp->resource ? sp->resource->service_name : NULL;
		any = sp->start_ns < any ? sp->start_ns : any;
		if (!service || !svc || strcmp(svc, service) || sp->start_ns >= mine)
			continue;
		mine = sp->start_ns;
		if (env_cap)
			snprintf(env, env_cap, "%s",
				 sp->resource->environment ? sp->resource->environment : "");
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

void request_metrics_snapshot_put(struct json_w *w, int rc, const struct request_metrics_snapshot *s,
				  const char *service, const char *env, uint64_t at_ns, const char *err)
{
	static const char *const keys[REQUEST_METRICS_SNAPSHOT_METRICS] = {
		"cpu_utilization", "memory_bytes", "db_connections_used", "db_connections_max"};
	char why[512];
	if (rc == 0 && s->found) {
		jw_kobj_begin(w, "resources");
		jw_kuint(w, "at_ms", at_ns / NS_PER_MS);
		jw_kuint(w, "time_ms", s->time_ns / NS_PER_MS);
		jw_kuint(w, "instances", s->instances);
		for (int i = 0; i < REQUEST_METRICS_SNAPSHOT_METRICS; i++)
			jw_kdouble(w, keys[i], s->value[i]);
		jw_obj_end(w);
		return;
	}
	if (rc < 0)
		snprintf(why, sizeof(why), "the metric points could not be read: %s", err ? err : "");
	else if (!service || !*service)
		snprintf(why, sizeof(why), "no service to read resource metrics of");
	else
		snprintf(why, sizeof(why),
			 "no CPU, memory or connection pool metrics of service %.200s%s%.100s%s within %llu "
			 "s of "
			 "that time",
			 service, env ? " (environment " : "", env ? env : "", env ? ")" : "",
			 (unsigned long long)(REQUEST_METRICS_SNAPSHOT_NS / NS_PER_S));
	jw_knull(w, "resources");
	jw_kstr(w, "resources_reason", why);
}

void request_metrics_snapshot_put_at(struct json_w *w, struct store *st, const char *service, const char *env,
				     uint64_t at_ns, const char *no_time)
{
	struct request_metrics_snapshot s;
	char err[256] = "";
	if (!at_ns) {
		jw_knull(w, "resources");
		jw_kstr(w, "resources_reason", no_time ? no_time : "no moment to read the resources at");
		return;
	}
	int rc = request_metrics_snapshot_at(st, service, env, at_ns, &s, err, sizeof(err));
	request_metrics_snapshot_put(w, rc, &s, service, env, at_ns, err);
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
			p->out[i].failed = 1;
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
