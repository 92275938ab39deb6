/*
 * perfmarks.c - derive the performance.* attributes of a span (see
 * perfmarks.h): slow-operation marks from the thresholds, the heap from the
 * nearest earlier sample of the span's process.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "query/perfmarks.h"

#define NS_PER_MS 1000000.0
#define BYTES_MB  1048576.0

/* The marks, each with the names it answers to. */
enum mark { M_SLOW, M_RATIO, M_THRESHOLD, M_DURATION, M_TYPE, M_HEAP, M_COUNT };

#define PREFIX_LEN 12 /* "performance." */

static const char *const mark_names[M_COUNT][3] = {
	[M_SLOW] = {"performance.slow"},
	[M_RATIO] = {"performance.slowness_ratio", "performance.slow.ratio"},
	[M_THRESHOLD] = {"performance.threshold", "performance.threshold_ms",
			 "performance.slow.threshold_ms"},
	[M_DURATION] = {"performance.duration", "performance.duration_ms"},
	[M_TYPE] = {"performance.type"},
	[M_HEAP] = {"performance.memory.heap_used_mb"},
};

static const char *const heap_metrics[2] = {"v8js.memory.heap.used", "process.memory.usage"};

static int mark_of(const char *key)
{
	if (strncmp(key, "performance.", PREFIX_LEN))
		return -1;
	for (int m = 0; m < M_COUNT; m++)
		for (int i = 0; i < 3 && mark_names[m][i]; i++)
			if (!strcmp(key + PREFIX_LEN, mark_names[m][i] + PREFIX_LEN))
				return m;
	return -1;
}

/* The span's own value of mark `m` under any of its names, or NULL. */
static const struct attr *own_mark(const struct span *sp, int m)
{
	const struct attr *a;
	for (int i = 0; i < 3 && mark_names[m][i]; i++)
		if ((a = attr_find(sp->attrs, sp->n_attrs, mark_names[m][i])))
			return a;
	return NULL;
}

/* "service\0instance" of a resource into buf (both cut to fit); its length. */
static size_t process_key(const struct resource *r, char *buf, size_t size)
{
	const char *svc = r && r->service_name ? r->service_name : "";
	const char *inst = r ? attr_str(r->attrs, r->n_attrs, "service.instance.id") : NULL;
	size_t half = size / 2, a = strnlen(svc, half - 1), b = inst ? strnlen(inst, half) : 0;
	memcpy(buf, svc, a);
	buf[a] = 0;
	memcpy(buf + a + 1, inst ? inst : "", b);
	return a + 1 + b;
}

static int by_process_time(const void *a, const void *b)
{
	const struct perfmarks_sample *x = a, *y = b;
	if (x->process != y->process)
		return x->process < y->process ? -1 : 1;
	return x->time_ns < y->time_ns ? -1 : x->time_ns > y->time_ns;
}

/* The bytes of the last sample of `process` at or before t_ns, not older
 * than PERFMARKS_HEAP_MAX_AGE_NS, in s[0 .. n); -1 when none. */
static double sample_before(const struct perfmarks_sample *s, size_t n, uint32_t process, uint64_t t_ns)
{
	size_t lo = 0, hi = n; /* first sample after (process, t_ns) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s[mid].process < process || (s[mid].process == process && s[mid].time_ns <= t_ns))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || s[lo - 1].process != process || t_ns - s[lo - 1].time_ns > PERFMARKS_HEAP_MAX_AGE_NS)
		return -1;
	return s[lo - 1].bytes;
}

static int heap_mb(const struct perfmarks *pm, const struct span *sp, double *mb)
{
	char key[512];
	int64_t process;
	size_t len = process_key(sp->resource, key, sizeof(key));
	if (strmap_get(&pm->processes, key, len, &process) < 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		double b = sample_before(pm->heap[i], pm->n_heap[i], (uint32_t)process, sp->end_ns);
		if (b >= 0) {
			*mb = b / BYTES_MB;
			return 1;
		}
	}
	return 0;
}

/* spanql_ctx.attr: `key` is one the span does not carry. */
static int derive(void *arg, const struct span *sp, const char *key, struct attr *out)
{
	const struct perfmarks *pm = arg;
	const struct attr *own;
	int m;
	if ((m = mark_of(key)) < 0)
		return 0;
	if ((own = own_mark(sp, m))) {
		*out = *own;
		return 1;
	}
	if (m == M_HEAP) {
		out->type = ATTR_DOUBLE;
		return heap_mb(pm, sp, &out->v.d);
	}
	int type = slowops_span_type(&pm->cfg, sp, &pm->services);
	uint64_t thr = type == SLOWOPS_NONE ? 0 : slowops_threshold_ns(&pm->cfg, type);
	uint64_t dur = sp->end_ns > sp->start_ns ? sp->end_ns - sp->start_ns : 0;
	out->type = ATTR_DOUBLE;
	switch (m) {
	case M_SLOW:
		out->type = ATTR_BOOL;
		out->v.i = thr && dur >= thr;
		return 1;
	case M_DURATION: out->v.d = (double)dur / NS_PER_MS; return 1;
	case M_TYPE:
		out->type = ATTR_STRING;
		out->v.s = slowops_type_name(&pm->cfg, type);
		return out->v.s != NULL;
	case M_THRESHOLD: out->v.d = (double)thr / NS_PER_MS; return thr > 0;
	case M_RATIO: out->v.d = thr ? (double)dur / (double)thr : 0; return thr > 0;
	}
	return 0;
}

void perfmarks_init(struct perfmarks *pm, const struct slowops_config *cfg, const char *const *services,
		    size_t n_services)
{
	memset(pm, 0, sizeof(*pm));
	slowops_config_init(&pm->cfg);
	if (cfg)
		slowops_config_copy(&pm->cfg, cfg);
	strmap_init(&pm->services);
	strmap_init(&pm->processes);
	for (size_t i = 0; i < n_services; i++)
		strmap_put(&pm->services, services[i], strlen(services[i]), 1);
	pm->ctx = (struct spanql_ctx){.attr = derive, .arg = pm};
}

void perfmarks_add_sample(struct perfmarks *pm, const char *metric, const struct resource *res,
			  uint64_t time_ns, double value)
{
	char key[512];
	int64_t process;
	int i = !strcmp(metric, heap_metrics[0]) ? 0 : !strcmp(metric, heap_metrics[1]) ? 1 : -1;
	size_t len = process_key(res, key, sizeof(key));
	if (i < 0 || value != value)
		return;
	if (strmap_get(&pm->processes, key, len, &process) < 0) {
		process = (int64_t)pm->processes.count;
		strmap_put(&pm->processes, key, len, process);
	}
	struct perfmarks_sample *last = pm->n_heap[i] ? &pm->heap[i][pm->n_heap[i] - 1] : NULL;
	if (i == 0 && last && last->process == (uint32_t)process && last->time_ns == time_ns) {
		last->bytes += value; /* another heap space of the same sample */
		return;
	}
	pm->heap[i] = xgrow(pm->heap[i], &pm->cap_heap[i], pm->n_heap[i] + 1, sizeof(*pm->heap[i]));
	pm->heap[i][pm->n_heap[i]++] = (struct perfmarks_sample){(uint32_t)process, time_ns, value};
}

/* Sort; samples of one process at one time add up (the heap spaces of
 * v8js.memory.heap.used) when `sum`, else the largest stays. */
static void sort_samples(struct perfmarks_sample *s, size_t *n, int sum)
{
	size_t k = 0;
	if (!*n)
		return;
	qsort(s, *n, sizeof(*s), by_process_time);
	for (size_t i = 0; i < *n; i++) {
		struct perfmarks_sample *last = k ? &s[k - 1] : NULL;
		if (!last || last->process != s[i].process || last->time_ns != s[i].time_ns)
			s[k++] = s[i];
		else if (sum)
			last->bytes += s[i].bytes;
		else if (s[i].bytes > last->bytes)
			last->bytes = s[i].bytes;
	}
	*n = k;
}

void perfmarks_sort(struct perfmarks *pm)
{
	for (int i = 0; i < 2; i++)
		sort_samples(pm->heap[i], &pm->n_heap[i], i == 0);
}

struct heap_scan {
	struct perfmarks *pm;
	size_t n;
};

static int heap_point(void *arg, const struct metric_point *p)
{
	struct heap_scan *hs = arg;
	if (p->type != METRIC_GAUGE && p->type != METRIC_SUM)
		return 0;
	if (++hs->n > PERFMARKS_MAX_SAMPLES)
		return 1;
	perfmarks_add_sample(hs->pm, p->name, p->resource, p->time_ns, p->value);
	return 0;
}

int perfmarks_open(struct perfmarks *pm, struct store *st, const struct spanql *q, uint64_t from_ns,
		   uint64_t to_ns, char *err, size_t errlen)
{
	struct slowops_config cfg;
	const char **services = NULL;
	size_t n_services = 0;
	struct arena a;
	int rc = -1;
	arena_init(&a);
	uint64_t day = 86400ull * 1000000000ull, age = PERFMARKS_HEAP_MAX_AGE_NS;
	if (!spanql_uses_key(q, "performance.")) { /* nothing to derive: no reads */
		slowops_config_init(&cfg);
		perfmarks_init(pm, NULL, NULL, 0);
		rc = 0;
		goto out;
	}
	if (slowops_effective(st, &cfg, err, errlen) < 0 ||
	    store_values(st, DICT_SERVICE, from_ns > day ? from_ns - day : 0, to_ns, &a, &services,
			 &n_services, err, errlen) < 0) {
		perfmarks_init(pm, NULL, NULL, 0);
		goto out;
	}
	perfmarks_init(pm, &cfg, services, n_services);
	rc = 0;
	if (!spanql_uses_key(q, "performance.memory."))
		goto out;
	struct heap_scan hs = {.pm = pm};
	for (int i = 0; i < 2 && rc == 0; i++)
		rc = store_scan_points(st, from_ns > age ? from_ns - age : 0, to_ns, heap_metrics[i],
				       heap_point, &hs, err, errlen);
	if (rc == 0 && hs.n > PERFMARKS_MAX_SAMPLES) {
		errf(err, errlen, "the range holds more than %d heap samples", PERFMARKS_MAX_SAMPLES);
		rc = ERR_TOO_MUCH;
	}
	perfmarks_sort(pm);
out:
	slowops_config_release(&cfg);
	arena_release(&a);
	return rc;
}

void perfmarks_release(struct perfmarks *pm)
{
	slowops_config_release(&pm->cfg);
	strmap_release(&pm->services);
	strmap_release(&pm->processes);
	free(pm->heap[0]);
	free(pm->heap[1]);
	memset(pm, 0, sizeof(*pm));
}

const struct spanql_ctx *perfmarks_ctx(const struct perfmarks *pm)
{
	return pm ? &pm->ctx : NULL;
}
