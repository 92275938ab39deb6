/*
 * test_slowops.c - slow-operation thresholds (defaults, file, environment,
 * API and their precedence), classification of constructed spans, the
 * phase breakdown of a request, per-type statistics and the spike rule.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/slowops.h"
#include "analyze/spantree.h"
#include "tap.h"

#define MS 1000000ull

/* ---- a constructed trace ---- */

#define MAX_SPANS 16
#define MAX_ATTRS 4

struct trace {
	struct span spans[MAX_SPANS];
	struct attr attrs[MAX_SPANS][MAX_ATTRS];
	char keys[MAX_SPANS][MAX_ATTRS][64];
	struct resource res[MAX_SPANS];
	size_t n;
};

/* Span id k (1-based) under parent id (0: root), times in ms, then up to
 * MAX_ATTRS "key=value" string attributes, NULL-terminated. */
static struct span *add(struct trace *t, int id, int parent, const char *service, const char *name, int kind,
			uint64_t start_ms, uint64_t end_ms, ...)
{
	size_t i = t->n++;
	struct span *s = &t->spans[i];
	va_list ap;
	memset(s, 0, sizeof(*s));
	s->span_id[7] = (uint8_t)id;
	s->parent_span_id[7] = (uint8_t)parent;
	s->start_ns = start_ms * MS;
	s->end_ns = end_ms * MS;
	s->kind = (uint8_t)kind;
	s->name = name;
	t->res[i] = (struct resource){.service_name = service};
	s->resource = &t->res[i];
	s->attrs = t->attrs[i];
	va_start(ap, end_ms);
	for (const char *kv; (kv = va_arg(ap, const char *)) && s->n_attrs < MAX_ATTRS;) {
		char *key = t->keys[i][s->n_attrs];
		struct attr *a = &t->attrs[i][s->n_attrs++];
		const char *eq = strchr(kv, '=');
		snprintf(key, sizeof(t->keys[i][0]), "%.*s", (int)(eq - kv), kv);
		a->key = key;
		a->type = ATTR_STRING;
		a->v.s = eq + 1;
	}
	va_end(ap);
	return s;
}

static void classify_all(const struct slowops_config *c, struct trace *t, const struct strmap *services,
			 struct slowops_class *cls, struct spantree *tree)
{
	for (size_t i = 0; i < t->n; i++)
		slowops_classify(c, &t->spans[i], services, &cls[i]);
	spantree_build(tree, t->spans, t->n);
	slowops_resolve(tree, cls);
}

/* ---- thresholds ---- */

static const char *fake_env(const char *name)
{
	if (!strcmp(name, "HOTPATH_SLOW_DB_MS"))
		return "250";
	if (!strcmp(name, "HOTPATH_SLOW_CACHE_MS"))
		return "";
	return NULL;
}

static const char *bad_env(const char *name)
{
	return !strcmp(name, "HOTPATH_SLOW_CACHE_MS") ? "fast" : NULL;
}

static int parse_fails(const char *json, const char *want_prefix)
{
	struct slowops_config layer;
	char err[256] = "";
	slowops_config_init_layer(&layer);
	int r = slowops_config_parse_json(&layer, json, strlen(json), SLOWOPS_SRC_API, err, sizeof(err));
	slowops_config_release(&layer);
	int good = r < 0 && !strncmp(err, want_prefix, strlen(want_prefix));
	if (!good)
		printf("#   %s -> %d \"%s\"\n", json, r, err);
	return good;
}

/* Found by fuzz_thresholds: a repeated member leaked the earlier value
 * (the sanitizer build of this test catches a leak). */
static void test_repeated_member(void)
{
	struct slowops_config layer;
	char err[256];
	const char *json = "{\"custom\":[{\"type\":\"x\",\"attribute\":\"a=b\",\"attribute\":\"c=d\","
			   "\"type\":\"y\",\"threshold_ms\":5}]}";
	slowops_config_init_layer(&layer);
	is_int(slowops_config_parse_json(&layer, json, strlen(json), SLOWOPS_SRC_API, err, sizeof(err)), 0,
	       "a repeated member parses");
	ok(layer.n_rules == 1 && !strcmp(layer.rules[0].attr_key, "c") && !strcmp(layer.rules[0].type, "y"),
	   "and the last one counts");
	slowops_config_release(&layer);
}

static void test_thresholds(void)
{
	struct slowops_config c, layer;
	char err[256], path[] = "/tmp/test_slowops_XXXXXX";
	struct buf b;

	slowops_config_init(&c);
	is_int(c.threshold_ns[SLOWOPS_HTTP], 1000 * MS, "default http threshold 1000 ms");
	is_int(c.threshold_ns[SLOWOPS_DATABASE], 500 * MS, "default database threshold 500 ms");
	is_int(c.threshold_ns[SLOWOPS_CACHE], 100 * MS, "default cache threshold 100 ms");
	is_int(c.threshold_ns[SLOWOPS_EXTERNAL], 2000 * MS, "default external threshold 2000 ms");

	/* file: http 900, database 300, one custom rule */
	int fd = mkstemp(path);
	const char *file =
		"{\"slow_operations\": {\"http_ms\": 900, \"database_ms\": 300,"
		" \"custom\": [{\"type\": \"llm\", \"span_name\": \"chat *\", \"threshold_ms\": 5000}]}}";
	ok(fd >= 0 && write(fd, file, strlen(file)) == (ssize_t)strlen(file), "config file written");
	close(fd);
	slowops_config_init_layer(&layer);
	is_int(slowops_config_load_file(&layer, path, err, sizeof(err)), 0, "config file loads: %s", err);
	slowops_config_merge(&c, &layer);
	slowops_config_release(&layer);

	/* environment: database 250 (an empty variable counts as unset) */
	slowops_config_init_layer(&layer);
	is_int(slowops_config_from_env(&layer, fake_env, err, sizeof(err)), 0, "environment reads");
	slowops_config_merge(&c, &layer);
	slowops_config_release(&layer);

	/* API: http 1500 */
	slowops_config_init_layer(&layer);
	const char *api = "{\"http_ms\": 1500}";
	is_int(slowops_config_parse_json(&layer, api, strlen(api), SLOWOPS_SRC_API, err, sizeof(err)), 0,
	       "API override parses");
	slowops_config_merge(&c, &layer);
	slowops_config_release(&layer);

	is_int(c.threshold_ns[SLOWOPS_HTTP], 1500 * MS, "API beats file for http");
	is_int(c.source[SLOWOPS_HTTP], SLOWOPS_SRC_API, "http comes from the API");
	is_int(c.threshold_ns[SLOWOPS_DATABASE], 250 * MS, "environment beats file for database");
	is_int(c.source[SLOWOPS_DATABASE], SLOWOPS_SRC_ENV, "database comes from the environment");
	is_int(c.threshold_ns[SLOWOPS_CACHE], 100 * MS, "cache keeps its default");
	is_int(c.source[SLOWOPS_CACHE], SLOWOPS_SRC_DEFAULT, "cache comes from the default");
	is_int(c.n_rules, 1, "the file's custom rule stays (no later layer sets custom)");
	is_int(c.rules_source, SLOWOPS_SRC_FILE, "custom rules come from the file");
	is_str(slowops_type_name(&c, SLOWOPS_BUILTIN), "llm", "custom type name");
	is_int(slowops_threshold_ns(&c, SLOWOPS_BUILTIN), 5000 * MS, "custom threshold");

	buf_init(&b, BUF_NO_LIMIT);
	slowops_config_to_json(&b, &c, 1);
	is_str(b.data,
	       "{\"http_ms\":1500,\"database_ms\":250,\"cache_ms\":100,\"external_ms\":2000,"
	       "\"custom\":[{\"type\":\"llm\",\"span_name\":\"chat *\",\"threshold_ms\":5000}],"
	       "\"sources\":{\"http_ms\":\"api\",\"database_ms\":\"env\",\"cache_ms\":\"default\","
	       "\"external_ms\":\"default\",\"custom\":\"file\"}}",
	       "effective thresholds as JSON");

	/* the JSON form reads back to the same values */
	struct slowops_config again;
	slowops_config_init_layer(&again);
	buf_reset(&b);
	slowops_config_to_json(&b, &c, 0);
	is_int(slowops_config_parse_json(&again, b.data, b.len, SLOWOPS_SRC_API, err, sizeof(err)), 0,
	       "round trip parses");
	ok(again.threshold_ns[SLOWOPS_DATABASE] == c.threshold_ns[SLOWOPS_DATABASE] && again.n_rules == 1 &&
		   !strcmp(again.rules[0].name_glob, "chat *"),
	   "round trip keeps values and rules");
	slowops_config_release(&again);
	buf_release(&b);
	unlink(path);

	/* errors name the field */
	ok(parse_fails("{\"database_ms\": -1}", "database_ms:"), "negative threshold names database_ms");
	ok(parse_fails("{\"http_ms\": \"1000\"}", "http_ms:"), "a string threshold names http_ms");
	ok(parse_fails("{\"bogus\": 1}", "bogus: unknown field"), "unknown field is named");
	ok(parse_fails("{\"custom\": [{\"type\": \"x\", \"threshold_ms\": 5}]}", "custom[0].span_name"),
	   "a rule without a pattern names span_name");
	ok(parse_fails("{\"custom\": [{\"type\": \"x\", \"span_name\": \"a\"}, {\"type\": \"http\", "
		       "\"span_name\": \"b\", \"threshold_ms\": 1}]}",
		       "custom[0].threshold_ms"),
	   "a rule without threshold_ms is named");
	ok(parse_fails("{\"custom\": [{\"type\": \"http\", \"span_name\": \"b\", \"threshold_ms\": 1}]}",
		       "custom[0].type"),
	   "a built-in type name is refused");
	ok(parse_fails("{\"custom\": [{\"type\": \"p\", \"attribute\": \"novalue\", \"threshold_ms\": 1}]}",
		       "custom[0].attribute"),
	   "an attribute without '=' is refused");
	ok(parse_fails("[1]", "thresholds:"), "not an object");
	ok(parse_fails("{", "body: invalid JSON"), "invalid JSON");

	slowops_config_init_layer(&layer);
	ok(slowops_config_from_env(&layer, bad_env, err, sizeof(err)) < 0 &&
		   strstr(err, "HOTPATH_SLOW_CACHE_MS"),
	   "a bad environment variable is named: %s", err);
	slowops_config_release(&layer);
	slowops_config_init_layer(&layer);
	ok(slowops_config_load_file(&layer, "/nonexistent/hotpath.json", err, sizeof(err)) < 0 &&
		   strstr(err, "/nonexistent/hotpath.json"),
	   "a missing file is named");
	slowops_config_release(&layer);
	slowops_config_release(&c);
}

/* ---- classification ---- */

static void test_classify(void)
{
	struct slowops_config c;
	struct trace t = {0};
	struct slowops_class cls[MAX_SPANS];
	struct spantree tree;
	struct strmap services;
	char err[256];
	const char *rules =
		"{\"custom\": [{\"type\": \"llm\", \"span_name\": \"chat *\", \"threshold_ms\": 5000},"
		" {\"type\": \"payments\", \"attribute\": \"server.address=pay.example.com\","
		" \"threshold_ms\": 800},"
		" {\"type\": \"reports\", \"span_name\": \"SELECT report*\", \"threshold_ms\": 3000}]}";
	struct slowops_config layer;
	slowops_config_init(&c);
	slowops_config_init_layer(&layer);
	slowops_config_parse_json(&layer, rules, strlen(rules), SLOWOPS_SRC_API, err, sizeof(err));
	slowops_config_merge(&c, &layer);
	slowops_config_release(&layer);
	strmap_init(&services);
	strmap_put(&services, "orders", 6, 1);

	add(&t, 1, 0, "front", "GET /checkout", SPAN_KIND_SERVER, 0, 100, "http.request.method=GET",
	    "http.route=/checkout", NULL);
	add(&t, 2, 1, "front", "GET session:?", SPAN_KIND_CLIENT, 1, 2, "db.system.name=redis", NULL);
	add(&t, 3, 1, "front", "SELECT carts", SPAN_KIND_CLIENT, 2, 5, "db.system=postgresql", NULL);
	add(&t, 4, 1, "front", "POST /api/stock", SPAN_KIND_CLIENT, 5, 20, "http.request.method=POST",
	    "server.address=stock", NULL);
	add(&t, 5, 4, "stock", "POST /api/stock", SPAN_KIND_SERVER, 6, 19, "http.request.method=POST", NULL);
	add(&t, 6, 1, "front", "POST /v1/charges", SPAN_KIND_CLIENT, 20, 40, "http.request.method=POST",
	    "server.address=api.bank.example", NULL);
	add(&t, 7, 1, "front", "GET /orders/7", SPAN_KIND_CLIENT, 40, 50, "http.request.method=GET",
	    "server.address=orders", NULL);
	add(&t, 8, 1, "front", "chat gpt-4o", SPAN_KIND_CLIENT, 50, 60, "gen_ai.operation.name=chat",
	    "server.address=api.openai.com", NULL);
	add(&t, 9, 1, "front", "POST /charge", SPAN_KIND_CLIENT, 60, 70, "http.request.method=POST",
	    "server.address=pay.example.com", NULL);
	add(&t, 10, 1, "front", "SELECT report_rows", SPAN_KIND_CLIENT, 70, 80, "db.system.name=postgresql",
	    NULL);
	add(&t, 11, 1, "front", "compute_total", SPAN_KIND_INTERNAL, 80, 90, NULL);
	add(&t, 12, 1, "front", "pool.acquire", SPAN_KIND_INTERNAL, 90, 95, "db.system.name=postgresql",
	    "db.client.connection.wait_time_ms=4.5", NULL);
	classify_all(&c, &t, &services, cls, &tree);

	is_str(slowops_type_name(&c, cls[0].type), "http", "SERVER with http attributes: http");
	is_str(slowops_type_name(&c, cls[1].type), "cache", "db.system.name=redis: cache");
	is_str(slowops_type_name(&c, cls[2].type), "database", "db.system=postgresql: database");
	is_str(slowops_type_name(&c, cls[3].type), "http",
	       "CLIENT answered by a SERVER span in the trace: http");
	is_str(slowops_type_name(&c, cls[5].type), "external",
	       "CLIENT to an unknown host, unanswered: external");
	is_int(cls[5].phase, SLOWOPS_PHASE_EXTERNAL, "an external call is in the external phase");
	is_str(slowops_type_name(&c, cls[6].type), "http", "CLIENT to a known service of the fleet: http");
	is_int(cls[6].phase, SLOWOPS_PHASE_EXTERNAL, "unanswered in the trace: the external phase");
	is_int(cls[3].phase, SLOWOPS_PHASE_INHERIT, "answered: the callee's spans say where the time went");
	is_str(slowops_type_name(&c, cls[7].type), "llm", "custom rule by span name (glob)");
	is_int(cls[7].phase, SLOWOPS_PHASE_LLM, "gen_ai chat: llm phase");
	is_str(slowops_type_name(&c, cls[8].type), "payments", "custom rule by attribute key=value");
	is_str(slowops_type_name(&c, cls[9].type), "reports", "custom rules come before db.system");
	is_int(cls[10].type, SLOWOPS_NONE, "INTERNAL code: no operation type");
	ok(cls[11].flags & SLOWOPS_WAIT, "pool.acquire with wait_time_ms waits");
	ok(!(cls[2].flags & SLOWOPS_WAIT), "a query does not wait");
	is_int(slowops_threshold_ns(&c, cls[1].type), 100 * MS, "cache threshold applies to the redis span");
	is_int(slowops_type_slots(&c), SLOWOPS_BUILTIN + 3, "three custom slots");
	spantree_release(&tree);
	strmap_release(&services);
	slowops_config_release(&c);
}

/* ---- phases ---- */

static uint64_t sum_phases(const uint64_t *p)
{
	uint64_t s = 0;
	for (int i = 0; i < SLOWOPS_PHASES; i++)
		s += p[i];
	return s;
}

static void test_phases(void)
{
	struct slowops_config c;
	struct trace t = {0};
	struct slowops_class cls[MAX_SPANS];
	struct spantree tree;
	uint64_t ph[SLOWOPS_PHASES];
	slowops_config_init(&c);

	/* the seed's request: gateway phases around a tool call */
	add(&t, 1, 0, "gw", "POST /tools/invoke", SPAN_KIND_SERVER, 0, 100, "http.request.method=POST", NULL);
	add(&t, 2, 1, "gw", "auth", SPAN_KIND_INTERNAL, 0, 10, NULL);
	add(&t, 3, 2, "gw", "GET session:?", SPAN_KIND_CLIENT, 2, 6, "db.system.name=redis", NULL);
	add(&t, 4, 1, "gw", "rate_limit_check", SPAN_KIND_INTERNAL, 10, 12, NULL);
	add(&t, 5, 1, "gw", "tool_execution", SPAN_KIND_INTERNAL, 12, 80, NULL);
	add(&t, 6, 5, "gw", "POST /v1/tools/q/invoke", SPAN_KIND_CLIENT, 14, 78, "http.request.method=POST",
	    NULL);
	add(&t, 7, 6, "agent", "POST /v1/tools/q/invoke", SPAN_KIND_SERVER, 15, 77,
	    "http.request.method=POST", NULL);
	add(&t, 8, 7, "agent", "SELECT sales", SPAN_KIND_CLIENT, 20, 60, "db.system.name=postgresql", NULL);
	add(&t, 9, 1, "gw", "response_serialize", SPAN_KIND_INTERNAL, 80, 90, NULL);
	classify_all(&c, &t, NULL, cls, &tree);
	slowops_phases(&tree, cls, ph);
	is_int(ph[SLOWOPS_PHASE_AUTH], 6 * MS, "auth: its own time, the redis lookup apart");
	is_int(ph[SLOWOPS_PHASE_DB], 44 * MS, "db: redis 4 + SELECT 40");
	is_int(ph[SLOWOPS_PHASE_RATE_LIMIT], 2 * MS, "rate limit 2");
	is_int(ph[SLOWOPS_PHASE_TOOL], 28 * MS, "tool execution: 68 less the query (inherited by the call)");
	is_int(ph[SLOWOPS_PHASE_SERIALIZATION], 10 * MS, "serialization 10");
	is_int(ph[SLOWOPS_PHASE_OTHER], 10 * MS, "the request's own time: other");
	is_int(sum_phases(ph), 100 * MS, "phases add up to the request's duration");
	spantree_release(&tree);

	/* parallel children: only the one the request waited for counts */
	memset(&t, 0, sizeof(t));
	add(&t, 1, 0, "a", "GET /x", SPAN_KIND_SERVER, 0, 100, "http.request.method=GET", NULL);
	add(&t, 2, 1, "a", "GET api.example", SPAN_KIND_CLIENT, 0, 60, "url.full=https://api.example/x",
	    NULL);
	add(&t, 3, 1, "a", "SELECT x", SPAN_KIND_CLIENT, 10, 50, "db.system=mysql", NULL);
	classify_all(&c, &t, NULL, cls, &tree);
	slowops_phases(&tree, cls, ph);
	is_int(ph[SLOWOPS_PHASE_EXTERNAL], 60 * MS, "the longer parallel call is on the path");
	is_int(ph[SLOWOPS_PHASE_DB], 0, "the query in its shadow is not");
	is_int(ph[SLOWOPS_PHASE_OTHER], 40 * MS, "the rest is the request's own");
	is_int(sum_phases(ph), 100 * MS, "parallel phases still add up");
	spantree_release(&tree);

	/* a call to a service of the fleet that timed out: no answer in the trace */
	memset(&t, 0, sizeof(t));
	struct strmap services;
	strmap_init(&services);
	strmap_put(&services, "stock", 5, 1);
	add(&t, 1, 0, "a", "GET /x", SPAN_KIND_SERVER, 0, 100, "http.request.method=GET", NULL);
	struct span *to = add(&t, 2, 1, "a", "GET", SPAN_KIND_CLIENT, 10, 90, "http.request.method=GET",
			      "server.address=stock", "error.type=ETIMEDOUT", NULL);
	to->status = SPAN_STATUS_ERROR;
	classify_all(&c, &t, &services, cls, &tree);
	slowops_phases(&tree, cls, ph);
	is_int(ph[SLOWOPS_PHASE_EXTERNAL], 80 * MS, "a timed-out call to a known service: external");
	is_int(ph[SLOWOPS_PHASE_OTHER], 20 * MS, "not other");
	spantree_release(&tree);

	/* the callee answered after the caller gave up (aborted at 60 ms) */
	memset(&t, 0, sizeof(t));
	add(&t, 1, 0, "a", "GET /x", SPAN_KIND_SERVER, 0, 70, "http.request.method=GET", NULL);
	add(&t, 2, 1, "a", "GET", SPAN_KIND_CLIENT, 10, 60, "http.request.method=GET", "server.address=stock",
	    NULL);
	add(&t, 3, 2, "stock", "GET /quote", SPAN_KIND_SERVER, 11, 400, "http.request.method=GET", NULL);
	classify_all(&c, &t, &services, cls, &tree);
	slowops_phases(&tree, cls, ph);
	is_int(ph[SLOWOPS_PHASE_EXTERNAL], 50 * MS, "an answer that came after the caller gave up: external");
	spantree_release(&tree);

	/* the caller timed out as the answer came: its status says so */
	memset(&t, 0, sizeof(t));
	add(&t, 1, 0, "a", "GET /x", SPAN_KIND_SERVER, 0, 70, "http.request.method=GET", NULL);
	add(&t, 2, 1, "a", "GET", SPAN_KIND_CLIENT, 10, 60, "http.request.method=GET", "server.address=stock",
	    NULL)
		->status_message = "The operation was aborted due to timeout";
	t.spans[1].status = SPAN_STATUS_ERROR;
	add(&t, 3, 2, "stock", "GET /quote", SPAN_KIND_SERVER, 11, 61, "http.request.method=GET", NULL);
	classify_all(&c, &t, &services, cls, &tree);
	slowops_phases(&tree, cls, ph);
	is_int(ph[SLOWOPS_PHASE_EXTERNAL], 50 * MS, "a call that timed out as the answer came: external");
	spantree_release(&tree);

	/* the same call answered in time (1 ms late on the callee's clock) */
	memset(&t, 0, sizeof(t));
	add(&t, 1, 0, "a", "GET /x", SPAN_KIND_SERVER, 0, 70, "http.request.method=GET", NULL);
	add(&t, 2, 1, "a", "GET", SPAN_KIND_CLIENT, 10, 60, "http.request.method=GET", "server.address=stock",
	    NULL);
	add(&t, 3, 2, "stock", "GET /quote", SPAN_KIND_SERVER, 11, 61, "http.request.method=GET", NULL);
	classify_all(&c, &t, &services, cls, &tree);
	slowops_phases(&tree, cls, ph);
	is_int(ph[SLOWOPS_PHASE_EXTERNAL], 0, "a call answered in time is not external");
	is_int(ph[SLOWOPS_PHASE_OTHER], 70 * MS, "its time is the fleet's own");
	spantree_release(&tree);

	/* express's middleware wrapper around the handler, and a plugin of the app */
	memset(&t, 0, sizeof(t));
	add(&t, 1, 0, "a", "GET /x", SPAN_KIND_SERVER, 0, 100, "http.request.method=GET", NULL);
	add(&t, 2, 1, "a", "middleware - patched", SPAN_KIND_INTERNAL, 0, 90, "express.type=middleware", NULL)
		->scope_name = "@opentelemetry/instrumentation-express";
	add(&t, 3, 2, "a", "GET", SPAN_KIND_CLIENT, 10, 70, "http.request.method=GET", "server.address=stock",
	    NULL);
	add(&t, 4, 1, "a", "plugin guardrails", SPAN_KIND_INTERNAL, 90, 100, NULL);
	classify_all(&c, &t, &services, cls, &tree);
	slowops_phases(&tree, cls, ph);
	is_int(ph[SLOWOPS_PHASE_PLUGINS], 10 * MS,
	       "a framework's middleware wrapper is no plugin; the app's plugin is");
	is_int(ph[SLOWOPS_PHASE_EXTERNAL], 60 * MS, "the call under the wrapper keeps its phase");
	spantree_release(&tree);
	strmap_release(&services);
	slowops_config_release(&c);
}

/* ---- statistics ---- */

static void test_stats(void)
{
	struct slowops_config c;
	struct slowops_stats st;
	slowops_config_init(&c);
	slowops_stats_init(&st, &c);
	for (uint64_t ms = 1; ms <= 40; ms++) /* database: 1..40 ms, and 4 slow ones */
		slowops_stats_add(&st, &c, SLOWOPS_DATABASE, ms * MS);
	for (uint64_t ms = 500; ms < 1000; ms += 125)
		slowops_stats_add(&st, &c, SLOWOPS_DATABASE, ms * MS);
	slowops_stats_add(&st, &c, SLOWOPS_NONE, 5 * MS);
	slowops_stats_finish(&st);
	const struct slowops_type_stats *db = &st.t[SLOWOPS_DATABASE];
	is_int(db->n, 44, "44 database spans");
	is_int(db->slow, 4, "4 at or above 500 ms");
	is_int(db->p95_ns, 625 * MS, "p95 is the 42nd smallest (nearest rank)");
	is_int(db->dur_ns[0], 1 * MS, "min");
	is_int(db->dur_ns[43], 875 * MS, "max");
	is_int(db->sum_ns, (820 + 2750) * MS, "sum");
	is_int(st.t[SLOWOPS_HTTP].n, 0, "nothing else counted");
	slowops_stats_release(&st);
	slowops_config_release(&c);
}

/* ---- spikes ---- */

/* Steady traffic (100 requests a window): the share rule reads as the
 * count rule did. */
static void test_spike(void)
{
	struct slowops_spike_rule r;
	struct slowops_spike_stat st;
	uint64_t counts[13] = {2, 3, 1, 2, 2, 4, 2, 1, 2, 3, 2, 2, 6}, total[13];
	for (int i = 0; i < 13; i++)
		total[i] = 100;
	slowops_spike_rule_init(&r);
	is_int(r.baseline_windows, 12, "an hour of 5-minute windows");
	is_int(slowops_spike_eval(&r, counts, total, &st), 1, "6 against a median of 2: spike");
	ok(fabs(st.expected - 2.0) < 1e-9, "median 2 (got %g)", st.expected);
	counts[12] = 5;
	is_int(slowops_spike_eval(&r, counts, total, &st), 0, "5 against 2: below 3x");
	memset(counts, 0, sizeof(counts));
	counts[12] = 4;
	is_int(slowops_spike_eval(&r, counts, total, &st), 0, "4 from nothing: below the minimum of 5");
	counts[12] = 5;
	is_int(slowops_spike_eval(&r, counts, total, &st), 1, "5 from nothing: spike");
	for (int i = 0; i < 12; i++)
		counts[i] = i < 6 ? 1 : 4; /* median (1 + 4) / 2 */
	counts[12] = 7;
	is_int(slowops_spike_eval(&r, counts, total, &st), 0, "7 against a median of 2.5: below 3x");
	ok(fabs(st.expected - 2.5) < 1e-9, "even count: the mean of the middle two (got %g)", st.expected);
	counts[12] = 8;
	is_int(slowops_spike_eval(&r, counts, total, &st), 1, "8 against 2.5: spike");
}

/*
 * The check as it runs every minute, on per-minute counts: at minute m the
 * windows are the 13 five-minute runs of minutes ending at m, and an alert
 * is stored when the last window spikes and the scope is rearmed since
 * its last alert.  Returns the alerts over `minutes`.
 */
#define SIM_MINUTES 240
static int simulate(const uint64_t *slow_min, const uint64_t *total_min, int minutes)
{
	struct slowops_spike_rule r;
	slowops_spike_rule_init(&r);
	int alerts = 0, last_alert = -1000;
	for (int m = 65; m <= minutes; m++) {
		uint64_t slow[13] = {0}, total[13] = {0};
		for (int w = 0; w < 13; w++)
			for (int k = 0; k < 5; k++) {
				slow[w] += slow_min[m - 65 + 5 * w + k];
				total[w] += total_min[m - 65 + 5 * w + k];
			}
		struct slowops_spike_stat st;
		if (!slowops_spike_eval(&r, slow, total, &st))
			continue;
		/* rearmed since the last alert, if that is in the windows read:
		 * from the first window starting at or after it */
		if (last_alert >= m - 65 &&
		    !slowops_spike_rearmed(&r, slow, total, &st, (size_t)(last_alert - (m - 65) + 4) / 5))
			continue;
		alerts++;
		last_alert = m;
	}
	return alerts;
}

/* The reported case: traffic steps up tenfold, 10 % of it slow before and
 * after.  Counting slow requests alerted a dozen times; the share never
 * moved. */
static void test_spike_traffic_step(void)
{
	uint64_t slow[SIM_MINUTES + 1], total[SIM_MINUTES + 1];
	for (int m = 0; m <= SIM_MINUTES; m++) {
		total[m] = m < 120 ? 20 : 200;
		slow[m] = total[m] / 10;
	}
	is_int(simulate(slow, total, SIM_MINUTES), 0,
	       "a 10x traffic step at a steady 10%% slow share: no alert");

	struct slowops_spike_rule r;
	struct slowops_spike_stat st;
	uint64_t s13[13], t13[13];
	slowops_spike_rule_init(&r);
	for (int i = 0; i < 13; i++) {
		t13[i] = i < 12 ? 100 : 1000;
		s13[i] = t13[i] / 10;
	}
	is_int(slowops_spike_eval(&r, s13, t13, &st), 0, "100 slow of 1000 against 10 of 100: no spike");
	ok(fabs(st.expected - 100.0) < 1e-9, "100 slow expected at this traffic (got %g)", st.expected);
	ok(fabs(st.share - 0.1) < 1e-12 && fabs(st.baseline_share - 0.1) < 1e-12, "share %g, baseline %g",
	   st.share, st.baseline_share);
}

/* A real rise of the share that lasts two hours: one alert, not one per
 * check; after a return to normal, a second rise alerts again. */
static void test_spike_share_rise(void)
{
	uint64_t slow[SIM_MINUTES + 1], total[SIM_MINUTES + 1];
	for (int m = 0; m <= SIM_MINUTES; m++) {
		total[m] = 100;
		slow[m] = m >= 100 && m < 220 ? 40 : 10;
	}
	is_int(simulate(slow, total, SIM_MINUTES), 1, "10%% -> 40%% slow for two hours: one alert");
	for (int m = 0; m <= SIM_MINUTES; m++)
		slow[m] = (m >= 100 && m < 115) || (m >= 160 && m < 175) ? 40 : 10;
	is_int(simulate(slow, total, SIM_MINUTES), 2, "two rises with normal minutes between: two alerts");

	struct slowops_spike_rule r;
	struct slowops_spike_stat st;
	uint64_t s13[13], t13[13];
	slowops_spike_rule_init(&r);
	for (int i = 0; i < 13; i++) {
		t13[i] = i < 12 ? 100 : 1000;
		s13[i] = i < 12 ? 10 : 300;
	}
	is_int(slowops_spike_eval(&r, s13, t13, &st), 1, "30%% slow against 10%%, with more traffic: spike");
	s13[12] = 290;
	is_int(slowops_spike_eval(&r, s13, t13, &st), 0, "29%% against 10%%: below 3x");
	/* rearm: the windows since the last alert all spiking keep it quiet */
	for (int i = 0; i < 13; i++)
		s13[i] = i < 8 ? 10 : 40, t13[i] = 100;
	ok(slowops_spike_eval(&r, s13, t13, &st), "40%% against a median of 10%%: spike");
	is_int(slowops_spike_rearmed(&r, s13, t13, &st, 9), 0,
	       "every window since the alert spiked: not rearmed");
	is_int(slowops_spike_rearmed(&r, s13, t13, &st, 12), 0,
	       "no whole window since the alert: not rearmed");
	is_int(slowops_spike_rearmed(&r, s13, t13, &st, 7), 1, "a quiet window since the alert: rearmed");
}

/* Few requests: a high share of a handful is not worth an alert. */
static void test_spike_low_traffic(void)
{
	struct slowops_spike_rule r;
	struct slowops_spike_stat st;
	uint64_t slow[13] = {0}, total[13];
	slowops_spike_rule_init(&r);
	for (int i = 0; i < 13; i++)
		total[i] = 5;
	slow[12] = 3;
	is_int(slowops_spike_eval(&r, slow, total, &st), 0, "3 slow of 5 from none: below the minimum count");
	ok(fabs(st.share - 0.6) < 1e-12, "its share is still reported (got %g)", st.share);
	memset(total, 0, sizeof(total));
	total[12] = 5;
	slow[12] = 5;
	is_int(slowops_spike_eval(&r, slow, total, &st), 1, "5 of 5 with no earlier traffic: spike");
	ok(st.baseline_share == 0 && st.expected == 0, "no baseline windows: baseline 0");
}

int main(void)
{
	test_repeated_member();
	test_thresholds();
	test_classify();
	test_phases();
	test_stats();
	test_spike();
	test_spike_traffic_step();
	test_spike_share_rise();
	test_spike_low_traffic();
	return tap_done();
}
