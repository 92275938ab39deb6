/*
 * semconv_metrics.c - resource measures from metric names and attributes
 * (see semconv_metrics.h and docs/ATTRIBUTES.md).
 */
#include <stdlib.h>
#include <string.h>

#include "ingest/semconv_metrics.h"

const char *const resource_measure_names[MEASURE_COUNT] = {
	"",	     "cpu",	   "host_cpu",	   "memory",	"host_memory",
	"heap",	     "heap_limit", "loop_delay",   "gc_pause",	"pool_used",
	"pool_idle", "pool_max",   "pool_pending", "pool_wait", "heap_total",
};
const char *const resource_measure_units[MEASURE_COUNT] = {
	"",   "cores",	      "cores",	      "By",	      "By",	   "By", "By", "ms",
	"ms", "{connection}", "{connection}", "{connection}", "{request}", "ms", "By",
};

const char *const *semconv_measure_prefixes(enum resource_measure m)
{
	static const char *const cpu[] = {"process.cpu.utilization", NULL};
	static const char *const host_cpu[] = {"system.cpu.utilization", NULL};
	static const char *const memory[] = {"process.memory.usage", "process.runtime.cpython.memory", NULL};
	static const char *const host_memory[] = {"system.memory.usage", NULL};
	static const char *const heap[] = {"v8js.memory.heap.used", "jvm.memory.used", "go.memory.used",
					   NULL};
	static const char *const heap_limit[] = {"v8js.memory.heap.limit", "jvm.memory.limit",
						 "go.memory.limit", NULL};
	static const char *const heap_total[] = {"v8js.memory.heap.space.size", "jvm.memory.committed", NULL};
	static const char *const loop[] = {"nodejs.eventloop.delay.p99", NULL};
	static const char *const gc[] = {"v8js.gc.duration", "jvm.gc.duration",
					 "process.runtime.cpython.gc.duration", NULL};
	static const char *const pool[] = {"db.client.connection", NULL};
	static const char *const none[] = {NULL};
	switch (m) {
	case MEASURE_CPU: return cpu;
	case MEASURE_HOST_CPU: return host_cpu;
	case MEASURE_MEMORY: return memory;
	case MEASURE_HOST_MEMORY: return host_memory;
	case MEASURE_HEAP: return heap;
	case MEASURE_HEAP_LIMIT: return heap_limit;
	case MEASURE_LOOP_DELAY: return loop;
	case MEASURE_GC: return gc;
	case MEASURE_POOL_USED:
	case MEASURE_POOL_IDLE:
	case MEASURE_POOL_MAX:
	case MEASURE_POOL_PENDING:
	case MEASURE_POOL_WAIT: return pool;
	case MEASURE_HEAP_TOTAL: return heap_total;
	default: return none;
	}
}

enum resource_measure resource_measure_by_name(const char *name)
{
	for (int i = 1; name && i < MEASURE_COUNT; i++)
		if (!strcmp(name, resource_measure_names[i]))
			return (enum resource_measure)i;
	return MEASURE_NONE;
}

static double mean_of(const struct metric_point *p)
{
	if (p->type == METRIC_HISTOGRAM)
		return p->count ? p->sum / (double)p->count : 0;
	return p->value;
}

double semconv_duration_ms(double v, const char *unit)
{
	if (!unit || !*unit || !strcmp(unit, "s"))
		return v * 1e3;
	if (!strcmp(unit, "ms"))
		return v;
	if (!strcmp(unit, "us"))
		return v / 1e3;
	return !strcmp(unit, "ns") ? v / 1e6 : v * 1e3;
}

static const char *first_str(const struct metric_point *p, const char *const *keys)
{
	for (; *keys; keys++) {
		const char *v = attr_str(p->attrs, p->n_attrs, *keys);
		if (v)
			return v;
	}
	return NULL;
}

const char *semconv_pool_metric(const char *name)
{
	if (!strncmp(name, "db.client.connection.", 21))
		name += 21;
	else if (!strncmp(name, "db.client.connections.", 22))
		name += 22;
	else
		return NULL;
	if (!strcmp(name, "usage"))
		return "count";
	if (!strcmp(name, "max") || !strcmp(name, "count") || !strcmp(name, "pending_requests") ||
	    !strcmp(name, "wait_time"))
		return name;
	return NULL;
}

const char *semconv_pool_name(const struct metric_point *p)
{
	static const char *const keys[] = {"db.client.connection.pool.name", "pool.name", NULL};
	return first_str(p, keys);
}

const char *semconv_pool_state(const struct metric_point *p)
{
	static const char *const keys[] = {"db.client.connection.state", "state", NULL};
	return first_str(p, keys);
}

/* A CPU's number: integers, doubles and strings ("3", or "cpu3"); -1 when absent. */
static double attr_number(const struct metric_point *p, const char *key)
{
	const struct attr *a = attr_find(p->attrs, p->n_attrs, key);
	if (!a)
		return -1;
	if (a->type == ATTR_INT)
		return (double)a->v.i;
	if (a->type == ATTR_DOUBLE)
		return a->v.d;
	if (a->type != ATTR_STRING)
		return -1;
	const char *s = strncmp(a->v.s, "cpu", 3) ? a->v.s : a->v.s + 3;
	return *s >= '0' && *s <= '9' ? strtod(s, NULL) : -1;
}

double semconv_metric_cpus(const struct metric_point *p)
{
	static const char *const keys[] = {"cpu.logical_number", "system.cpu.logical_number", "cpu"};
	if (!strcmp(p->name, "system.cpu.logical.count"))
		return mean_of(p);
	if (strncmp(p->name, "system.cpu.", 11))
		return 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		double n = attr_number(p, keys[i]);
		if (n >= 0)
			return n + 1;
	}
	return 0;
}

static enum resource_measure pool_measure(const struct metric_point *p, const char *what, double *value)
{
	*value = mean_of(p);
	if (!strcmp(what, "max"))
		return MEASURE_POOL_MAX;
	if (!strcmp(what, "pending_requests"))
		return MEASURE_POOL_PENDING;
	if (!strcmp(what, "wait_time")) {
		/* db.client.connection.wait_time is in s; the older connections.wait_time in ms */
		*value = semconv_duration_ms(*value, p->unit && *p->unit ? p->unit
						     : strncmp(p->name, "db.client.connections.", 22) ? "s"
												      : "ms");
		return MEASURE_POOL_WAIT;
	}
	const char *state = semconv_pool_state(p);
	if (!state || !strcmp(state, "used"))
		return MEASURE_POOL_USED;
	return !strcmp(state, "idle") ? MEASURE_POOL_IDLE : MEASURE_NONE;
}

/* A CPU state that is not work: idle, and waiting for I/O. */
static int cpu_idle(const struct metric_point *p)
{
	static const char *const keys[] = {"cpu.mode", "process.cpu.state", "system.cpu.state", "state",
					   NULL};
	const char *s = first_str(p, keys);
	return s && (!strcmp(s, "idle") || !strcmp(s, "wait") || !strcmp(s, "iowait"));
}

static enum resource_measure memory_measure(const struct metric_point *p, double *value)
{
	static const char *const keys[] = {"system.memory.state", "state", NULL};
	const char *n = p->name;
	*value = mean_of(p);
	if (!strcmp(n, "process.memory.usage") || !strcmp(n, "process.runtime.cpython.memory")) {
		const char *t = attr_str(p->attrs, p->n_attrs, "type");
		return t && strcmp(t, "rss") ? MEASURE_NONE : MEASURE_MEMORY;
	}
	if (!strcmp(n, "system.memory.usage")) {
		const char *s = first_str(p, keys);
		return s && strcmp(s, "used") ? MEASURE_NONE : MEASURE_HOST_MEMORY;
	}
	if (!strcmp(n, "v8js.memory.heap.used") || !strcmp(n, "jvm.memory.used") ||
	    !strcmp(n, "go.memory.used"))
		return MEASURE_HEAP;
	if (!strcmp(n, "v8js.memory.heap.limit") || !strcmp(n, "jvm.memory.limit") ||
	    !strcmp(n, "go.memory.limit"))
		return MEASURE_HEAP_LIMIT;
	if (!strcmp(n, "v8js.memory.heap.space.size") || !strcmp(n, "jvm.memory.committed"))
		return MEASURE_HEAP_TOTAL;
	return MEASURE_NONE;
}

enum resource_measure semconv_resource_measure(const struct metric_point *p, double *value)
{
	const char *n = p->name, *what;
	*value = 0;
	if (!n)
		return MEASURE_NONE;
	if ((what = semconv_pool_metric(n)))
		return pool_measure(p, what, value);
	if (!strcmp(n, "process.cpu.utilization") || !strcmp(n, "system.cpu.utilization")) {
		*value = mean_of(p);
		if (cpu_idle(p))
			return MEASURE_NONE;
		return n[0] == 'p' ? MEASURE_CPU : MEASURE_HOST_CPU;
	}
	if (!strcmp(n, "nodejs.eventloop.delay.p99")) {
		*value = semconv_duration_ms(mean_of(p), p->unit);
		return MEASURE_LOOP_DELAY;
	}
	if (!strcmp(n, "v8js.gc.duration") || !strcmp(n, "jvm.gc.duration") ||
	    !strcmp(n, "process.runtime.cpython.gc.duration")) {
		*value = semconv_duration_ms(mean_of(p), p->unit);
		return MEASURE_GC;
	}
	return memory_measure(p, value);
}
