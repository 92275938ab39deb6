/*
 * test_scenario.c - the demo scenario: valid, well-formed trees, determinism,
 * and each deliberate problem present when on and absent when off
 * (docs/DEMO.md lists them).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "demo/scenario.h"
#include "tap.h"

/* 2025-01-15 08:00 UTC: the window runs up to the 14:00 peak. */
#define T0     (1736928000ull * 1000000000ull)
#define HOUR   (3600ull * 1000000000ull)
#define MINUTE (60ull * 1000000000ull)

static void generate(struct batch *b, unsigned problems, uint64_t seed, unsigned n, uint64_t from,
		     uint64_t to)
{
	struct scenario_config c;
	struct scenario sc;
	scenario_config_init(&c);
	c.seed = seed;
	c.problems = problems;
	scenario_init(&sc, &c);
	batch_init(b);
	scenario_generate(&sc, b, from, to, n);
	scenario_release(&sc); /* the batch must not need the scenario any more */
}

static const char *sattr(const struct span *s, const char *key)
{
	return attr_str(s->attrs, s->n_attrs, key);
}

static int is_child(const struct span *c, const struct span *p)
{
	return memcmp(c->trace_id, p->trace_id, 16) == 0 && memcmp(c->parent_span_id, p->span_id, 8) == 0;
}

static double dur_ms(const struct span *s)
{
	return (double)(s->end_ns - s->start_ns) / 1e6;
}

/* ---- structure ------------------------------------------------------------ */

static const struct batch *sort_batch;
static int cmp_trace(const void *a, const void *b)
{
	const struct span *x = &sort_batch->spans[*(const size_t *)a],
			  *y = &sort_batch->spans[*(const size_t *)b];
	int c = memcmp(x->trace_id, y->trace_id, 16);
	if (c)
		return c;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static void test_structure(unsigned problems)
{
	struct batch b;
	char err[128] = "";
	size_t invalid = 0, orphans = 0, outside = 0, no_resource = 0, bad_roots = 0, traces = 0;
	size_t small = 0, big = 0, attrs = 0, max_size = 0;

	printf("# structure with the problems %s\n", problems ? "on" : "off");
	generate(&b, problems, 7, 3000, T0, T0 + HOUR);
	ok(b.n_spans > 3000 * 5, "3000 requests give %zu spans", b.n_spans);
	for (size_t i = 0; i < b.n_spans; i++) {
		const struct span *s = &b.spans[i];
		if (span_validate(s, err, sizeof(err)) != 0 && invalid++ == 0)
			printf("# span %zu invalid: %s\n", i, err);
		if (!s->resource || !s->resource->service_name || !s->resource->service_version ||
		    !s->resource->environment || !s->resource->department || !s->resource->intent)
			no_resource++;
		attrs += s->n_attrs;
	}
	is_int(invalid, 0, "every span passes span_validate()");
	is_int(no_resource, 0, "every span has a resource with service, version, env, department, intent");

	size_t *idx = malloc(b.n_spans * sizeof(*idx));
	for (size_t i = 0; i < b.n_spans; i++)
		idx[i] = i;
	sort_batch = &b;
	qsort(idx, b.n_spans, sizeof(*idx), cmp_trace);
	for (size_t lo = 0, hi; lo < b.n_spans; lo = hi) {
		size_t roots = 0, n;
		for (hi = lo;
		     hi < b.n_spans && !memcmp(b.spans[idx[hi]].trace_id, b.spans[idx[lo]].trace_id, 16);
		     hi++)
			;
		n = hi - lo;
		traces++;
		max_size = n > max_size ? n : max_size;
		if (n < 5)
			small++;
		if (n > 40)
			big++;
		for (size_t k = lo; k < hi; k++) {
			const struct span *s = &b.spans[idx[k]], *p = NULL;
			static const uint8_t zero[8];
			if (!memcmp(s->parent_span_id, zero, 8)) {
				roots++;
				continue;
			}
			for (size_t m = lo; m < hi && !p; m++)
				if (!memcmp(b.spans[idx[m]].span_id, s->parent_span_id, 8))
					p = &b.spans[idx[m]];
			if (!p)
				orphans++;
			else if (s->start_ns < p->start_ns || s->end_ns > p->end_ns)
				outside++;
		}
		if (roots != 1)
			bad_roots++;
	}
	free(idx);
	is_int(orphans, 0, "every parent id exists in its trace");
	is_int(outside, 0, "every child lies inside its parent");
	is_int(bad_roots, 0, "every trace has exactly one root");
	ok(traces > 3000, "%zu traces (checkouts add a consumer trace)", traces);
	is_int(small, 0, "no trace has fewer than 5 spans");
	if (problems)
		ok(big > 0 && big < traces / 5, "%zu traces over 40 spans (the N+1 ones), largest %zu", big,
		   max_size);
	else
		ok(big < traces / 100, "%zu traces over 40 spans (long agent runs), largest %zu", big,
		   max_size);
	double avg = (double)attrs / (double)b.n_spans;
	ok(avg >= 8.5 && avg <= 12, "%.2f attributes per span on average", avg);
	batch_release(&b);
}

/* Every field that reaches the wire, compared deeply. */
static int attrs_equal(const struct attr *a, const struct attr *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (strcmp(a[i].key, b[i].key) || a[i].type != b[i].type)
			return 0;
		if (a[i].type == ATTR_STRING || a[i].type == ATTR_JSON) {
			if (strcmp(a[i].v.s, b[i].v.s))
				return 0;
		} else if (a[i].v.i != b[i].v.i) {
			return 0;
		}
	}
	return 1;
}

static int spans_equal(const struct span *x, const struct span *y)
{
	if (memcmp(x->trace_id, y->trace_id, 16) || memcmp(x->span_id, y->span_id, 8) ||
	    memcmp(x->parent_span_id, y->parent_span_id, 8) || strcmp(x->name, y->name) ||
	    x->kind != y->kind || x->status != y->status || x->start_ns != y->start_ns ||
	    x->end_ns != y->end_ns || x->n_attrs != y->n_attrs || x->n_events != y->n_events ||
	    x->n_links != y->n_links || strcmp(x->resource->service_name, y->resource->service_name) ||
	    strcmp(x->resource->service_version, y->resource->service_version) ||
	    strcmp(x->resource->environment, y->resource->environment))
		return 0;
	if (!attrs_equal(x->attrs, y->attrs, x->n_attrs))
		return 0;
	for (uint32_t i = 0; i < x->n_events; i++)
		if (x->events[i].time_ns != y->events[i].time_ns ||
		    !attrs_equal(x->events[i].attrs, y->events[i].attrs, x->events[i].n_attrs))
			return 0;
	return 1;
}

static void test_determinism(void)
{
	struct batch a, b, c;
	size_t diff = 0;
	generate(&a, SCENARIO_ALL_PROBLEMS, 42, 500, T0, T0 + 10 * MINUTE);
	generate(&b, SCENARIO_ALL_PROBLEMS, 42, 500, T0, T0 + 10 * MINUTE);
	generate(&c, SCENARIO_ALL_PROBLEMS, 43, 500, T0, T0 + 10 * MINUTE);
	is_int(a.n_spans, b.n_spans, "same seed, same number of spans");
	for (size_t i = 0; i < a.n_spans && i < b.n_spans; i++)
		diff += !spans_equal(&a.spans[i], &b.spans[i]);
	is_int(diff, 0, "same seed, identical spans");
	ok(c.n_spans != a.n_spans || !spans_equal(&a.spans[0], &c.spans[0]), "another seed, other spans");

	struct scenario_config cfg;
	struct scenario s1, s2;
	struct batch m1, m2;
	scenario_config_init(&cfg);
	scenario_init(&s1, &cfg);
	scenario_init(&s2, &cfg);
	batch_init(&m1);
	batch_init(&m2);
	scenario_metrics(&s1, &m1, T0);
	scenario_metrics(&s2, &m2, T0);
	ok(m1.n_points == m2.n_points && m1.n_points > 0 &&
		   !memcmp(&m1.points[m1.n_points - 1].value, &m2.points[m2.n_points - 1].value,
			   sizeof(double)),
	   "same seed, identical metric points (%zu)", m1.n_points);
	scenario_release(&s1);
	scenario_release(&s2);
	batch_release(&m1);
	batch_release(&m2);
	batch_release(&a);
	batch_release(&b);
	batch_release(&c);
}

/* ---- contents ------------------------------------------------------------- */

static void test_contents(void)
{
	struct batch b;
	size_t errors = 0, with_exception = 0, timeouts = 0, chats = 0, chats_ok = 0, links = 0, links_ok = 0;
	size_t env[3] = {0}, newer = 0, redis = 0, pg = 0, external = 0, rpc = 0, phases = 0;
	size_t roots = 0, root_intents = 0;
	const char *depts[16] = {0}, *intents[16] = {0};
	size_t n_depts = 0, n_intents = 0;

	generate(&b, SCENARIO_ALL_PROBLEMS, 3, 4000, T0, T0 + HOUR);
	for (size_t i = 0; i < b.n_spans; i++) {
		const struct span *s = &b.spans[i];
		const char *e = s->resource->environment, *v;
		env[0] += !strcmp(e, "production");
		env[1] += !strcmp(e, "staging");
		env[2] += !strcmp(e, "development");
		newer += s->resource->service_version && !strcmp(s->resource->service_version, "2.5.0");
		size_t k;
		for (k = 0; k < n_depts && strcmp(depts[k], s->resource->department); k++)
			;
		if (k == n_depts && n_depts < 16)
			depts[n_depts++] = s->resource->department;
		for (k = 0; k < n_intents && strcmp(intents[k], s->resource->intent); k++)
			;
		if (k == n_intents && n_intents < 16)
			intents[n_intents++] = s->resource->intent;
		if (s->status == SPAN_STATUS_ERROR) {
			errors++;
			if (s->n_events &&
			    attr_str(s->events[0].attrs, s->events[0].n_attrs, "exception.type") &&
			    attr_str(s->events[0].attrs, s->events[0].n_attrs, "exception.message") &&
			    attr_str(s->events[0].attrs, s->events[0].n_attrs, "exception.stacktrace"))
				with_exception++;
			v = sattr(s, "error.type");
			timeouts += v && !strcmp(v, "timeout");
		}
		if ((v = sattr(s, "gen_ai.operation.name")) && !strcmp(v, "chat")) {
			chats++;
			chats_ok += s->kind == SPAN_KIND_CLIENT && sattr(s, "gen_ai.system") &&
				    sattr(s, "gen_ai.request.model") &&
				    attr_find(s->attrs, s->n_attrs, "gen_ai.usage.input_tokens") != NULL;
		}
		if ((v = sattr(s, "db.system")) && !strcmp(v, "redis"))
			redis++;
		if ((v = sattr(s, "db.system")) && !strcmp(v, "postgresql"))
			pg += sattr(s, "db.query.text") && sattr(s, "db.operation.name") &&
			      sattr(s, "db.collection.name") && sattr(s, "server.address");
		if (s->kind == SPAN_KIND_CLIENT && (v = sattr(s, "url.full")) && !strncmp(v, "https://", 8))
			external++;
		rpc += sattr(s, "rpc.system") != NULL;
		phases += !strcmp(s->name, "rate_limit_check") || !strcmp(s->name, "plugin_pre_invoke");
		if (s->kind == SPAN_KIND_SERVER && !strcmp(s->resource->service_name, "api-gateway")) {
			roots++;
			root_intents += sattr(s, "intent.category") != NULL;
		}
		if (s->n_links) {
			links++;
			for (size_t j = 0; j < b.n_spans; j++)
				if (!memcmp(b.spans[j].span_id, s->links[0].span_id, 8) &&
				    !memcmp(b.spans[j].trace_id, s->links[0].trace_id, 16) &&
				    b.spans[j].kind == SPAN_KIND_PRODUCER && s->kind == SPAN_KIND_CONSUMER &&
				    !strcmp(sattr(&b.spans[j], "messaging.message.id"),
					    sattr(s, "messaging.message.id")))
					links_ok++;
		}
	}
	ok(env[0] > env[1] && env[1] > env[2] && env[2] > 0, "three environments: %zu/%zu/%zu spans", env[0],
	   env[1], env[2]);
	ok(newer > 0, "both versions appear");
	ok(n_depts >= 5 && n_intents >= 5, "%zu departments, %zu intent categories", n_depts, n_intents);
	ok(errors > 0 && with_exception > 0, "%zu error spans, %zu with an exception event", errors,
	   with_exception);
	ok(timeouts > 0, "%zu spans with error.type=timeout", timeouts);
	ok(chats > 0 && chats == chats_ok, "%zu LLM chat CLIENT spans with gen_ai attributes", chats);
	ok(redis > 0 && pg > 0 && external > 0 && rpc > 0, "cache %zu, postgres %zu, external %zu, rpc %zu",
	   redis, pg, external, rpc);
	ok(phases > 0, "the gateway phases of the seed");
	ok(root_intents == roots && roots > 0, "%zu of %zu entry spans carry intent.category", root_intents,
	   roots);
	ok(links > 0 && links == links_ok, "%zu consumer spans linked to their producer", links);
	batch_release(&b);
}

/* ---- the deliberate problems ------------------------------------------------ */

/* The largest number of same-query DB children under one parent. */
static size_t max_repeated_children(const struct batch *b)
{
	size_t best = 0;
	for (size_t i = 0; i < b->n_spans; i++) {
		const struct span *p = &b->spans[i];
		const char *text = NULL;
		size_t n = 0;
		if (p->kind != SPAN_KIND_SERVER)
			continue;
		/* Children follow their parent in the batch, within the same trace. */
		for (size_t j = i + 1; j < b->n_spans && !memcmp(b->spans[j].trace_id, p->trace_id, 16);
		     j++) {
			const struct span *c = &b->spans[j];
			const char *t = sattr(c, "db.query.text");
			if (!is_child(c, p) || !t)
				continue;
			if (text && !strcmp(text, t)) {
				n++;
			} else if (!text || n <= 1) {
				text = t;
				n = 1;
			}
		}
		best = n > best ? n : best;
	}
	return best;
}

/* A tool invocation request: its minute, its arguments, its duration. */
struct call {
	uint64_t minute;
	const char *hash;
	double request_ms;
};

static int cmp_call(const void *a, const void *b)
{
	const struct call *x = a, *y = b;
	if (x->minute != y->minute)
		return x->minute < y->minute ? -1 : 1;
	return strcmp(x->hash, y->hash);
}

/* The most requests with the same tool.args_hash in any one minute, and their mean duration. */
static size_t max_same_args_per_minute(const struct batch *b, double *avg_ms, const char **hash)
{
	struct call *c = malloc((b->n_spans + 1) * sizeof(*c));
	size_t n = 0, best = 0, n_best = 0;
	const char *h_best = NULL;
	double sum = 0;

	for (size_t i = 0; i < b->n_spans; i++) {
		const struct span *s = &b->spans[i];
		const char *h = sattr(s, "tool.args_hash");
		if (h && s->kind == SPAN_KIND_SERVER && !strcmp(s->name, "POST /tools/invoke")) {
			c[n].minute = s->start_ns / MINUTE;
			c[n].hash = h;
			c[n++].request_ms = dur_ms(s);
		}
	}
	qsort(c, n, sizeof(*c), cmp_call);
	for (size_t lo = 0, hi; lo < n; lo = hi) {
		for (hi = lo; hi < n && !cmp_call(&c[lo], &c[hi]); hi++)
			;
		if (hi - lo > best) {
			best = hi - lo;
			h_best = c[lo].hash;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (h_best && !strcmp(c[i].hash, h_best)) {
			sum += c[i].request_ms;
			n_best++;
		}
	*avg_ms = n_best ? sum / (double)n_best : 0;
	*hash = h_best;
	free(c);
	return best;
}

static void pool_waits(const struct batch *b, size_t *long_waits, double *avg_long_ms)
{
	double sum = 0;
	*long_waits = 0;
	for (size_t i = 0; i < b->n_spans; i++) {
		const struct span *s = &b->spans[i];
		const struct attr *a = attr_find(s->attrs, s->n_attrs, "db.client.connection.wait_time_ms");
		if (a && a->v.d > 20) {
			(*long_waits)++;
			sum += a->v.d;
		}
	}
	*avg_long_ms = *long_waits ? sum / (double)*long_waits : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median duration of pricing GET /api/prices/{sku} SERVER spans of one version. */
static double price_median(const struct batch *b, const char *version)
{
	double *d = malloc(b->n_spans * sizeof(*d)), m;
	size_t n = 0;
	for (size_t i = 0; i < b->n_spans; i++) {
		const struct span *s = &b->spans[i];
		if (s->kind == SPAN_KIND_SERVER && !strcmp(s->name, "GET /api/prices/{sku}") &&
		    !strcmp(s->resource->service_name, "pricing-service") &&
		    !strcmp(s->resource->service_version, version))
			d[n++] = dur_ms(s);
	}
	qsort(d, n, sizeof(*d), cmp_double);
	m = n ? d[n / 2] : 0;
	free(d);
	return m;
}

/* Checkouts whose three downstream calls ran one after another / overlapped. */
static void checkout_calls(const struct batch *b, size_t *sequential, size_t *overlapping)
{
	*sequential = *overlapping = 0;
	for (size_t i = 0; i < b->n_spans; i++) {
		const struct span *p = &b->spans[i], *c[3];
		size_t n = 0;
		if (p->kind != SPAN_KIND_SERVER || strcmp(p->name, "POST /api/checkout"))
			continue;
		for (size_t j = i + 1;
		     j < b->n_spans && n < 3 && !memcmp(b->spans[j].trace_id, p->trace_id, 16); j++)
			if (is_child(&b->spans[j], p) && b->spans[j].kind == SPAN_KIND_CLIENT &&
			    sattr(&b->spans[j], "url.template") && !sattr(&b->spans[j], "db.system") &&
			    strncmp(sattr(&b->spans[j], "url.full"), "https://", 8))
				c[n++] = &b->spans[j];
		if (n < 3)
			continue;
		if (c[1]->start_ns >= c[0]->end_ns && c[2]->start_ns >= c[1]->end_ns)
			(*sequential)++;
		else
			(*overlapping)++;
	}
}

static double memory_mib(const struct batch *b, const char *service)
{
	for (size_t i = 0; i < b->n_points; i++) {
		const struct metric_point *p = &b->points[i];
		if (!strcmp(p->name, "process.memory.usage") && !strcmp(p->resource->service_name, service) &&
		    !strcmp(p->resource->environment, "production"))
			return p->value / 1048576.0;
	}
	return -1;
}

/* Minutes of the window in which the production inventory pool was full. */
static size_t pool_full_samples(unsigned problems, uint64_t from, uint64_t to)
{
	struct scenario_config c;
	struct scenario sc;
	size_t full = 0;
	scenario_config_init(&c);
	c.problems = problems;
	scenario_init(&sc, &c);
	for (uint64_t t = from; t < to; t += MINUTE) {
		struct batch b;
		batch_init(&b);
		scenario_metrics(&sc, &b, t);
		int is_full = 0;
		for (size_t i = 0; i < b.n_points; i++) {
			const struct metric_point *p = &b.points[i];
			const char *state = attr_str(p->attrs, p->n_attrs, "db.client.connection.state");
			if (!strcmp(p->name, "db.client.connection.count") && state &&
			    !strcmp(state, "used") &&
			    !strcmp(p->resource->service_name, "inventory-service") &&
			    !strcmp(p->resource->environment, "production") && p->value >= 10)
				is_full = 1;
		}
		full += is_full;
		batch_release(&b);
	}
	scenario_release(&sc);
	return full;
}

static void memory_growth(unsigned problems, double *leak_mib, double *other_mib)
{
	struct scenario_config c;
	struct scenario sc;
	struct batch a, z;
	scenario_config_init(&c);
	c.problems = problems;
	c.start_ns = T0;
	scenario_init(&sc, &c);
	batch_init(&a);
	batch_init(&z);
	scenario_metrics(&sc, &a, T0);
	scenario_metrics(&sc, &z, T0 + 24 * HOUR);
	*leak_mib = memory_mib(&z, "code-agent") - memory_mib(&a, "code-agent");
	*other_mib = memory_mib(&z, "order-service") - memory_mib(&a, "order-service");
	batch_release(&a);
	batch_release(&z);
	scenario_release(&sc);
}

static void test_problems(void)
{
	struct batch on, off;
	size_t waits, seq, par;
	double avg, avg_ms, leak, other;

	generate(&on, SCENARIO_ALL_PROBLEMS, 11, 12000, T0 + 4 * HOUR, T0 + 5 * HOUR);
	generate(&off, 0, 11, 12000, T0 + 4 * HOUR, T0 + 5 * HOUR);

	size_t n_on = max_repeated_children(&on), n_off = max_repeated_children(&off);
	ok(n_on >= 20, "N+1: %zu identical DB queries under one request when on", n_on);
	ok(n_off < 5, "N+1: at most %zu when off", n_off);

	const char *hash = NULL;
	size_t r_on = max_same_args_per_minute(&on, &avg_ms, &hash);
	ok(r_on >= 10 && avg_ms > 380 && avg_ms < 520,
	   "repeated tool: %zu identical database-query calls in a minute, "
	   "avg %.0f ms per request",
	   r_on, avg_ms);
	is_str(hash, "b41fd9b207dea436", "repeated tool: the arguments hash docs/DEMO.md names");
	size_t r_off = max_same_args_per_minute(&off, &avg, &hash);
	ok(r_off <= 2, "repeated tool: at most %zu identical calls a minute when off", r_off);

	pool_waits(&on, &waits, &avg);
	ok(waits > 20 && avg > 100 && avg < 140, "pool: %zu waits for a connection, avg %.0f ms", waits, avg);
	pool_waits(&off, &waits, &avg);
	is_int(waits, 0, "pool: no long waits when off");
	size_t full_on = pool_full_samples(SCENARIO_ALL_PROBLEMS, T0, T0 + 24 * HOUR);
	size_t full_off = pool_full_samples(0, T0, T0 + 24 * HOUR);
	ok(full_on > 24 * 12 / 2 && full_on < 24 * 12 * 2, "pool: full in %zu of 1440 minutes (~12 an hour)",
	   full_on);
	is_int(full_off, 0, "pool: never full when off");

	double old_on = price_median(&on, "2.4.0"), new_on = price_median(&on, "2.5.0");
	double old_off = price_median(&off, "2.4.0"), new_off = price_median(&off, "2.5.0");
	ok(new_on / old_on > 1.2 && new_on / old_on < 1.4,
	   "slow version: 2.5.0 p50 %.2f ms vs 2.4.0 %.2f ms (x%.2f)", new_on, old_on, new_on / old_on);
	ok(fabs(new_off / old_off - 1) < 0.08, "slow version: x%.2f when off", new_off / old_off);

	checkout_calls(&on, &seq, &par);
	ok(seq > 100 && par == 0, "sequential: %zu checkouts call 3 services one after another, %zu overlap",
	   seq, par);
	checkout_calls(&off, &seq, &par);
	ok(par > 100 && seq == 0, "sequential: %zu checkouts overlap when off, %zu in a row", par, seq);

	memory_growth(SCENARIO_ALL_PROBLEMS, &leak, &other);
	ok(leak > 900 && fabs(other) < 250, "memory: code-agent grows %.0f MiB in 24h, order-service %.0f",
	   leak, other);
	memory_growth(0, &leak, &other);
	ok(fabs(leak) < 100, "memory: code-agent changes %.0f MiB when off", leak);

	batch_release(&on);
	batch_release(&off);
}

/* Generation speed, reported, not asserted: sanitizer builds are slower. */
static void test_speed(void)
{
	struct scenario_config c;
	struct scenario sc;
	struct timespec a, z;
	size_t spans = 0;
	scenario_config_init(&c);
	scenario_init(&sc, &c);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int k = 0; k < 20; k++) {
		struct batch b;
		batch_init(&b);
		spans += scenario_generate(&sc, &b, T0, T0 + MINUTE, 1000);
		batch_release(&b);
	}
	clock_gettime(CLOCK_MONOTONIC, &z);
	double s = (double)(z.tv_sec - a.tv_sec) + (double)(z.tv_nsec - a.tv_nsec) / 1e9;
	ok(spans > 0, "generated %zu spans in %.3f s: %.2f M spans/s", spans, s, (double)spans / s / 1e6);
	scenario_release(&sc);
}

int main(void)
{
	test_structure(SCENARIO_ALL_PROBLEMS);
	test_structure(0);
	test_determinism();
	test_contents();
	test_problems();
	test_speed();
	return tap_done();
}
