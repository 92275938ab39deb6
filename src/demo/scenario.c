/*
 * scenario.c - the demo world (see scenario.h and docs/DEMO.md).
 *
 * Owns the fleet's description (services, resources), the trace shapes of
 * every endpoint and the deliberate problems.  Each endpoint is a handler
 * that opens its SERVER span, calls its building blocks (database, cache,
 * HTTP, LLM, queue) one after another from a running clock, and returns when
 * its last child ended, so children always lie inside their parents.
 *
 * Generation is on the ingest benchmark's path: no printf, no hashing of
 * keys, one arena allocation per span for its attributes.
 */
#include "demo/scenario.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"

/* ---- the fleet ---------------------------------------------------------- */

enum env { ENV_PROD, ENV_STAGING, ENV_DEV, ENV_COUNT };
static const char *const env_names[ENV_COUNT] = {"production", "staging", "development"};
static const char *const env_short[ENV_COUNT] = {"prod", "stg", "dev"};
/* Traffic share and how much slower the smaller non-production machines are. */
static const double env_share[ENV_COUNT] = {0.70, 0.20, 0.10};
static const double env_slowdown[ENV_COUNT] = {1.0, 1.12, 1.3};

enum lang { LANG_GO, LANG_PYTHON, LANG_JAVA, LANG_NODE, LANG_COUNT };

/* Instrumentation scopes, by kind of span. */
enum scope { SC_APP, SC_HTTP_SERVER, SC_HTTP_CLIENT, SC_DB, SC_REDIS, SC_RPC, SC_MSG, SC_GENAI, SC_COUNT };

/* clang-format off */
static const struct lang_def {
	const char *name, *sdk_version, *lib_version;
	const char *scope[SC_COUNT]; /* NULL: the service's own tracer */
} langs[LANG_COUNT] = {
	[LANG_GO] = {
		.name = "go", .sdk_version = "1.35.0", .lib_version = "0.60.0",
		.scope = {
			[SC_HTTP_SERVER] = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
			[SC_HTTP_CLIENT] = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
			[SC_DB] = "github.com/exaring/otelpgx",
			[SC_REDIS] = "github.com/redis/go-redis/extra/redisotel",
			[SC_RPC] = "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc",
			[SC_MSG] = "github.com/IBM/sarama/otelsarama",
		},
	},
	[LANG_PYTHON] = {
		.name = "python", .sdk_version = "1.33.1", .lib_version = "0.54b1",
		.scope = {
			[SC_HTTP_SERVER] = "opentelemetry.instrumentation.fastapi",
			[SC_HTTP_CLIENT] = "opentelemetry.instrumentation.httpx",
			[SC_DB] = "opentelemetry.instrumentation.psycopg",
			[SC_REDIS] = "opentelemetry.instrumentation.redis",
			[SC_RPC] = "opentelemetry.instrumentation.grpc",
			[SC_MSG] = "opentelemetry.instrumentation.kafka",
			[SC_GENAI] = "opentelemetry.instrumentation.openai_v2",
		},
	},
	[LANG_JAVA] = {
		.name = "java", .sdk_version = "1.49.0", .lib_version = "2.15.0",
		.scope = {
			[SC_HTTP_SERVER] = "io.opentelemetry.spring-webmvc-6.0",
			[SC_HTTP_CLIENT] = "io.opentelemetry.java-http-client",
			[SC_DB] = "io.opentelemetry.jdbc",
			[SC_REDIS] = "io.opentelemetry.lettuce-5.1",
			[SC_RPC] = "io.opentelemetry.grpc-1.6",
			[SC_MSG] = "io.opentelemetry.kafka-clients-2.6",
		},
	},
	[LANG_NODE] = {
		.name = "nodejs", .sdk_version = "1.30.1", .lib_version = "0.57.2",
		.scope = {
			[SC_HTTP_SERVER] = "@opentelemetry/instrumentation-http",
			[SC_HTTP_CLIENT] = "@opentelemetry/instrumentation-undici",
			[SC_DB] = "@opentelemetry/instrumentation-pg",
			[SC_REDIS] = "@opentelemetry/instrumentation-ioredis",
			[SC_RPC] = "@opentelemetry/instrumentation-grpc",
			[SC_MSG] = "@opentelemetry/instrumentation-kafkajs",
		},
	},
};
/* clang-format on */

enum svc {
	SVC_GATEWAY,
	SVC_SUPPORT_AGENT,
	SVC_CODE_AGENT,
	SVC_RESEARCH_AGENT,
	SVC_SANDBOX,
	SVC_ORDER,
	SVC_CHECKOUT,
	SVC_INVENTORY,
	SVC_PRICING,
	SVC_SHIPPING,
	SVC_NOTIFY,
	SVC_COUNT
};

static const struct service_def {
	const char *name, *ns, *department, *intent;
	uint8_t lang;
	const char *version[2]; /* [1] is the newer one */
	double cpu;		/* production CPU utilisation at load 1 */
	double mem_mib;		/* resident memory baseline */
	const char *pool;	/* database connection pool, or NULL */
	int pool_max;
} services[SVC_COUNT] = {
	/* clang-format off */
	[SVC_GATEWAY] = { "api-gateway", "edge", "platform", "routing", LANG_GO,
			  { "3.4.1", "3.5.0" }, 0.35, 180, NULL, 0 },
	[SVC_SUPPORT_AGENT] = { "support-agent", "agents", "customer-success", "customer-support", LANG_PYTHON,
				{ "1.9.0", "2.0.0" }, 0.30, 640, "analytics-db", 20 },
	[SVC_CODE_AGENT] = { "code-agent", "agents", "developer-experience", "code-generation", LANG_PYTHON,
			     { "1.9.0", "2.0.0" }, 0.25, 380, NULL, 0 },
	[SVC_RESEARCH_AGENT] = { "research-agent", "agents", "data-science", "research", LANG_PYTHON,
				 { "1.9.0", "2.0.0" }, 0.28, 560, "analytics-db", 20 },
	[SVC_SANDBOX] = { "sandbox-runner", "agents", "platform", "code-generation", LANG_GO,
			  { "0.8.3", "0.9.0" }, 0.45, 900, NULL, 0 },
	[SVC_ORDER] = { "order-service", "commerce", "commerce", "transactions", LANG_JAVA,
			{ "4.2.0", "4.3.0" }, 0.40, 1100, "orders-db", 20 },
	[SVC_CHECKOUT] = { "checkout-service", "commerce", "commerce", "transactions", LANG_JAVA,
			   { "2.7.1", "2.8.0" }, 0.30, 950, "orders-db", 20 },
	[SVC_INVENTORY] = { "inventory-service", "commerce", "fulfillment", "transactions", LANG_GO,
			    { "1.12.0", "1.13.0" }, 0.38, 240, "inventory-db", 10 },
	[SVC_PRICING] = { "pricing-service", "commerce", "pricing", "transactions", LANG_GO,
			  { "2.4.0", "2.5.0" }, 0.33, 210, "pricing-db", 20 },
	[SVC_SHIPPING] = { "shipping-service", "commerce", "fulfillment", "fulfillment", LANG_NODE,
			   { "3.1.0", "3.2.0" }, 0.20, 310, NULL, 0 },
	[SVC_NOTIFY] = { "notification-worker", "commerce", "customer-success", "notifications", LANG_NODE,
			 { "1.4.2", "1.5.0" }, 0.15, 260, "notify-db", 5 },
	/* clang-format on */
};

_Static_assert(SVC_COUNT == SCENARIO_N_SERVICES, "scenario.h service count");

/* Static so that batches never point into the scenario. */
static const char *const peer_ips[16] = {
	"10.0.1.12", "10.0.1.37", "10.0.2.5",  "10.0.2.44",  "10.0.3.18", "10.0.3.61",
	"10.0.4.9",  "10.0.4.23", "10.0.5.30", "10.0.5.77",  "10.0.6.14", "10.0.6.52",
	"10.0.7.8",  "10.0.7.91", "10.0.8.26", "10.0.8.103",
};
static const char *const public_ips[16] = {
	"203.0.113.7",	 "203.0.113.45",   "203.0.113.88", "203.0.113.140", "198.51.100.3", "198.51.100.27",
	"198.51.100.99", "198.51.100.201", "192.0.2.14",   "192.0.2.66",    "192.0.2.130",  "192.0.2.250",
	"203.0.113.201", "198.51.100.150", "192.0.2.9",	   "203.0.113.19",
};
static const char *const user_agents[4] = {
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
	"Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 "
	"Safari/537.36",
	"python-httpx/0.27.0",
	"shop-ios/5.12.0 (iPhone; iOS 17.5)",
};
static const char *const tenants[6] = {"acme", "globex", "initech", "umbrella", "hooli", "stark"};
/* The Java agent adds the thread to every span. */
static const char *const java_threads[8] = {
	"http-nio-8080-exec-1", "http-nio-8080-exec-2", "http-nio-8080-exec-3", "http-nio-8080-exec-4",
	"http-nio-8080-exec-5", "http-nio-8080-exec-6", "http-nio-8080-exec-7", "http-nio-8080-exec-8",
};

/* ---- resources ---------------------------------------------------------- */

static size_t res_index(int svc, int ver, int env)
{
	return ((size_t)svc * 2 + (size_t)ver) * ENV_COUNT + (size_t)env;
}

static void attr_set_str(struct attr *a, const char *key, const char *v)
{
	a->key = key;
	a->type = ATTR_STRING;
	a->v.s = v;
}

static void resource_build(struct scenario *sc, int svc, int ver, int env)
{
	const struct service_def *d = &services[svc];
	struct resource *r = &sc->res[res_index(svc, ver, env)];
	char host[96];
	struct attr *a = arena_alloc(&sc->arena, 12 * sizeof(*a));
	uint32_t n = 0;

	snprintf(host, sizeof(host), "%s-%s-%c7f9c", d->name, env_short[env], ver ? 'b' : 'a');
	attr_set_str(&a[n++], "service.name", d->name);
	attr_set_str(&a[n++], "service.version", d->version[ver]);
	attr_set_str(&a[n++], "service.namespace", d->ns);
	attr_set_str(&a[n++], "deployment.environment.name", env_names[env]);
	attr_set_str(&a[n++], "department", d->department);
	attr_set_str(&a[n++], "intent.category", d->intent);
	attr_set_str(&a[n++], "host.name", arena_strdup(&sc->arena, host));
	attr_set_str(&a[n++], "service.instance.id", arena_strdup(&sc->arena, host));
	attr_set_str(&a[n++], "telemetry.sdk.name", "opentelemetry");
	attr_set_str(&a[n++], "telemetry.sdk.language", langs[d->lang].name);
	attr_set_str(&a[n++], "telemetry.sdk.version", langs[d->lang].sdk_version);
	attr_set_str(&a[n++], "cloud.region", "eu-west-1");
	r->attrs = a;
	r->n_attrs = n;
	resource_derive(r);
}

void scenario_config_init(struct scenario_config *c)
{
	memset(c, 0, sizeof(*c));
	c->seed = 1;
	c->problems = SCENARIO_ALL_PROBLEMS;
}

void scenario_init(struct scenario *sc, const struct scenario_config *c)
{
	memset(sc, 0, sizeof(*sc));
	sc->cfg = *c;
	rng_seed(&sc->rng, c->seed);
	arena_init(&sc->arena);
	for (int s = 0; s < SVC_COUNT; s++)
		for (int v = 0; v < 2; v++)
			for (int e = 0; e < ENV_COUNT; e++)
				resource_build(sc, s, v, e);
}

void scenario_release(struct scenario *sc)
{
	arena_release(&sc->arena);
	memset(sc, 0, sizeof(*sc));
}

/* ---- time of day -------------------------------------------------------- */

double scenario_load(uint64_t t_ns)
{
	double hour = (double)(t_ns % NS_PER_DAY) / (double)NS_PER_HOUR;
	return 1.0 + 0.6 * cos(6.283185307179586 * (hour - 14.0) / 24.0);
}

/* A pure function of (seed, key): the same minute always looks the same. */
static double hash_unit(uint64_t seed, uint64_t key)
{
	uint64_t x = seed ^ (key * 0xd1b54a32d192ed03ull);
	return (double)(rng_splitmix64(&x) >> 11) * 0x1.0p-53;
}

int scenario_pool_exhausted(const struct scenario *sc, uint64_t t_ns)
{
	if (!(sc->cfg.problems & SCENARIO_POOL_EXHAUSTION))
		return 0;
	/* 20% of minutes at mean load or below: the seed's "12 times/hour" at
	 * any hour (so the problem shows in a window taken at night too), more
	 * at peak. */
	double load = scenario_load(t_ns);
	return hash_unit(sc->cfg.seed ^ 0x9001, t_ns / NS_PER_MIN) < 0.2 * (load > 1 ? load : 1);
}

/* ---- the span builder --------------------------------------------------- */

#define NO_PARENT ((size_t)-1)
#define ATTR_CAP0 16

/* One scenario_generate() call: where spans go and the trace being built. */
struct gen {
	struct scenario *sc;
	struct rng *r;
	struct batch *b;
	unsigned problems;
	const struct resource *res[SCENARIO_N_RESOURCES]; /* copies in b's arena */
	uint8_t trace_id[16];
	int env;
	double slow; /* environment and load latency factor of this trace */
	/* A message a checkout published, consumed in a trace of its own. */
	struct {
		int pending;
		uint8_t trace_id[16], span_id[8];
		uint64_t sent_ns;
		const char *message_id, *order_id;
	} msg;
};

/* A service instance: the service and the version serving this call. */
struct hop {
	uint8_t svc, ver;
};

/* What a call returned. */
enum fail { FAIL_NONE, FAIL_ERROR, FAIL_TIMEOUT };
struct res {
	uint64_t end;
	int code; /* HTTP status */
	int fail; /* enum fail */
};

static const struct resource *resource_for(struct gen *g, struct hop h)
{
	size_t i = res_index(h.svc, h.ver, g->env);
	if (!g->res[i]) {
		const struct resource *src = &g->sc->res[i];
		struct resource *r = arena_alloc(&g->b->arena, sizeof(*r));
		struct attr *a = arena_alloc(&g->b->arena, src->n_attrs * sizeof(*a));
		for (uint32_t k = 0; k < src->n_attrs; k++) {
			a[k] = src->attrs[k];
			a[k].v.s = arena_strdup(&g->b->arena, src->attrs[k].v.s);
		}
		memset(r, 0, sizeof(*r));
		r->attrs = a;
		r->n_attrs = src->n_attrs;
		resource_derive(r);
		g->res[i] = r;
	}
	return g->res[i];
}

static struct hop hop_pick(struct gen *g, int svc)
{
	struct hop h = {(uint8_t)svc, (uint8_t)rng_chance(g->r, 0.5)};
	return h;
}

static uint64_t ns_of_ms(double ms)
{
	return ms <= 0 ? 0 : (uint64_t)(ms * (double)NS_PER_MS);
}

/* A log-normal duration scaled by the trace's environment and load. */
static uint64_t lat(struct gen *g, double median_ms, double sigma)
{
	return ns_of_ms(rng_lognormal(g->r, median_ms * g->slow, sigma));
}

static size_t span_begin(struct gen *g, size_t parent, struct hop h, int scope, const char *name, int kind,
			 uint64_t start)
{
	struct batch *b = g->b;
	size_t i = b->n_spans;
	struct span *s = batch_add_span(b);
	uint64_t id = rng_next(g->r) | 1; /* never the all-zero invalid id */
	const struct service_def *d = &services[h.svc];
	const char *lib = langs[d->lang].scope[scope];

	memcpy(s->trace_id, g->trace_id, sizeof(s->trace_id));
	memcpy(s->span_id, &id, sizeof(s->span_id));
	if (parent != NO_PARENT)
		memcpy(s->parent_span_id, b->spans[parent].span_id, sizeof(s->parent_span_id));
	s->name = name;
	s->kind = (uint8_t)kind;
	s->start_ns = s->end_ns = start;
	s->resource = resource_for(g, h);
	s->scope_name = lib ? lib : d->name;
	s->scope_version = lib ? langs[d->lang].lib_version : d->version[h.ver];
	s->attrs = arena_alloc(&b->arena, ATTR_CAP0 * sizeof(struct attr));
	if (d->lang == LANG_JAVA) {
		/* One request stays on one worker thread. */
		unsigned th = (unsigned)(g->trace_id[0] & 7);
		s->attrs[0] = (struct attr){.key = "thread.id", .type = ATTR_INT, .v.i = 41 + th};
		s->attrs[1] =
			(struct attr){.key = "thread.name", .type = ATTR_STRING, .v.s = java_threads[th]};
		s->n_attrs = 2;
	}
	return i;
}

static struct span *span_at(struct gen *g, size_t i)
{
	return &g->b->spans[i];
}

static void span_end(struct gen *g, size_t i, uint64_t end)
{
	struct span *s = span_at(g, i);
	s->end_ns = end > s->start_ns ? end : s->start_ns;
}

static struct attr *attr_add(struct gen *g, size_t i, const char *key)
{
	struct span *s = span_at(g, i);
	uint32_t n = s->n_attrs;
	/* Capacity is ATTR_CAP0, then doubles at every power of two. */
	if (n >= ATTR_CAP0 && (n & (n - 1)) == 0) {
		struct attr *a = arena_alloc(&g->b->arena, 2 * n * sizeof(*a));
		memcpy(a, s->attrs, n * sizeof(*a));
		s->attrs = a;
	}
	struct attr *a = &s->attrs[s->n_attrs++];
	a->key = key;
	return a;
}

static void set_s(struct gen *g, size_t i, const char *key, const char *v)
{
	struct attr *a = attr_add(g, i, key);
	a->type = ATTR_STRING;
	a->v.s = v;
}

static void set_json(struct gen *g, size_t i, const char *key, const char *v)
{
	struct attr *a = attr_add(g, i, key);
	a->type = ATTR_JSON;
	a->v.s = v;
}

static void set_i(struct gen *g, size_t i, const char *key, int64_t v)
{
	struct attr *a = attr_add(g, i, key);
	a->type = ATTR_INT;
	a->v.i = v;
}

static void set_d(struct gen *g, size_t i, const char *key, double v)
{
	struct attr *a = attr_add(g, i, key);
	a->type = ATTR_DOUBLE;
	a->v.d = v;
}

static void set_b(struct gen *g, size_t i, const char *key, int v)
{
	struct attr *a = attr_add(g, i, key);
	a->type = ATTR_BOOL;
	a->v.i = !!v;
}

/* ---- strings built per span --------------------------------------------- */

#define SB_MAX 480

struct sb {
	size_t n;
	char buf[SB_MAX];
};

static void sb_init(struct sb *s)
{
	s->n = 0;
}

static void sb_mem(struct sb *s, const char *p, size_t len)
{
	if (len > SB_MAX - 1 - s->n)
		len = SB_MAX - 1 - s->n;
	memcpy(s->buf + s->n, p, len);
	s->n += len;
}

static void sb_s(struct sb *s, const char *p)
{
	sb_mem(s, p, strlen(p));
}

static void sb_u(struct sb *s, uint64_t v)
{
	char t[20];
	int i = 20;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sb_mem(s, t + i, (size_t)(20 - i));
}

static void sb_hex(struct sb *s, uint64_t v, int digits)
{
	static const char hx[] = "0123456789abcdef";
	char t[16];
	for (int i = digits - 1; i >= 0; i--, v >>= 4)
		t[i] = hx[v & 15];
	sb_mem(s, t, (size_t)digits);
}

static const char *sb_str(struct gen *g, const struct sb *s)
{
	return arena_strndup(&g->b->arena, s->buf, s->n);
}

/* prefix + number + suffix, in the batch arena. */
static const char *str_num(struct gen *g, const char *prefix, uint64_t v, const char *suffix)
{
	struct sb s;
	sb_init(&s);
	sb_s(&s, prefix);
	sb_u(&s, v);
	if (suffix)
		sb_s(&s, suffix);
	return sb_str(g, &s);
}

static const char *str_hex(struct gen *g, const char *prefix, int digits)
{
	struct sb s;
	sb_init(&s);
	sb_s(&s, prefix);
	sb_hex(&s, rng_next(g->r), digits > 16 ? 16 : digits);
	if (digits > 16)
		sb_hex(&s, rng_next(g->r), digits - 16);
	return sb_str(g, &s);
}

static const char *code_str(int code)
{
	switch (code) {
	case 400: return "400";
	case 404: return "404";
	case 429: return "429";
	case 500: return "500";
	case 502: return "502";
	case 503: return "503";
	case 504: return "504";
	default: return "500";
	}
}

/* ---- errors ------------------------------------------------------------- */

struct exc {
	const char *type, *message, *stacktrace;
};

static const struct exc exc_search_timeout = {
	"httpx.ReadTimeout",
	"timed out after 5.0s reading https://api.search.example.net/v1/search",
	"Traceback (most recent call last):\n"
	"  File \"/app/agent/tools/web_search.py\", line 88, in run\n"
	"    resp = await self.client.get(self.url, params=params, timeout=5.0)\n"
	"  File \"/usr/local/lib/python3.12/site-packages/httpx/_client.py\", line 1814, in get\n"
	"    return await self.request(\"GET\", url, params=params, timeout=timeout)\n"
	"  File \"/usr/local/lib/python3.12/site-packages/httpx/_transports/default.py\", line 371, in "
	"handle_async_request\n"
	"    raise mapped_exc(message) from exc\n"
	"httpx.ReadTimeout: timed out\n",
};
static const struct exc exc_search_503 = {
	"httpx.HTTPStatusError",
	"Server error '503 Service Unavailable' for url 'https://api.search.example.net/v1/search'",
	"Traceback (most recent call last):\n"
	"  File \"/app/agent/tools/web_search.py\", line 91, in run\n"
	"    resp.raise_for_status()\n"
	"  File \"/usr/local/lib/python3.12/site-packages/httpx/_models.py\", line 829, in raise_for_status\n"
	"    raise HTTPStatusError(message, request=request, response=self)\n"
	"httpx.HTTPStatusError: Server error '503 Service Unavailable'\n",
};
static const struct exc exc_llm_rate_limit[3] = {
	{"openai.RateLimitError",
	 "Error code: 429 - Rate limit reached for gpt-4o-mini on tokens per min (TPM)",
	 "Traceback (most recent call last):\n"
	 "  File \"/app/agent/llm.py\", line 142, in complete\n"
	 "    resp = await self.client.chat.completions.create(**req)\n"
	 "  File \"/usr/local/lib/python3.12/site-packages/openai/_base_client.py\", line 1634, in _request\n"
	 "    raise self._make_status_error_from_response(err.response) from None\n"
	 "openai.RateLimitError: Error code: 429\n"},
	{"anthropic.RateLimitError", "Error code: 429 - rate_limit_error: output tokens per minute exceeded",
	 "Traceback (most recent call last):\n"
	 "  File \"/app/agent/llm.py\", line 142, in complete\n"
	 "    resp = await self.client.messages.create(**req)\n"
	 "  File \"/usr/local/lib/python3.12/site-packages/anthropic/_base_client.py\", line 1058, in "
	 "_request\n"
	 "    raise self._make_status_error_from_response(err.response) from None\n"
	 "anthropic.RateLimitError: Error code: 429\n"},
	{"google.api_core.exceptions.ResourceExhausted",
	 "429 Resource has been exhausted (e.g. check quota).",
	 "Traceback (most recent call last):\n"
	 "  File \"/app/agent/llm.py\", line 142, in complete\n"
	 "    resp = await self.model.generate_content_async(contents)\n"
	 "  File \"/usr/local/lib/python3.12/site-packages/google/api_core/grpc_helpers_async.py\", line 88, "
	 "in __await__\n"
	 "    raise exceptions.from_grpc_error(rpc_error) from rpc_error\n"
	 "google.api_core.exceptions.ResourceExhausted: 429 Resource has been exhausted\n"},
};
static const struct exc exc_tool_validation = {
	"pydantic_core._pydantic_core.ValidationError",
	"1 validation error for ToolArguments: field required",
	"Traceback (most recent call last):\n"
	"  File \"/app/agent/tools/base.py\", line 54, in execute\n"
	"    args = self.Arguments.model_validate_json(raw)\n"
	"pydantic_core._pydantic_core.ValidationError: 1 validation error for ToolArguments\n",
};
static const struct exc exc_sandbox_exit = {
	"sandbox.ExitError",
	"user code exited with status 1: ZeroDivisionError: division by zero",
	"goroutine 412 [running]:\n"
	"sandbox-runner/internal/exec.(*Runner).Wait(0xc0003a2000)\n"
	"\t/src/internal/exec/runner.go:211 +0x1c5\n"
	"sandbox-runner/internal/server.(*Server).Execute(0xc000118000, {0x1a2b3c0, 0xc0004f6000})\n"
	"\t/src/internal/server/execute.go:87 +0x2a9\n",
};
static const struct exc exc_deadlock = {
	"*pgconn.PgError",
	"ERROR: deadlock detected (SQLSTATE 40P01)",
	"goroutine 1184 [running]:\n"
	"inventory-service/internal/store.(*Store).Reserve(0xc000220a80, {0x1b3f0e0, 0xc0005e4000}, "
	"{0xc0002c8000, 0x3, 0x4})\n"
	"\t/src/internal/store/reserve.go:142 +0x2f1\n"
	"inventory-service/internal/api.(*Handler).Reserve(0xc00011c150, {0x1b3a9a0, 0xc0004c41c0}, "
	"0xc0001f2000)\n"
	"\t/src/internal/api/reserve.go:58 +0x1a5\n",
};
static const struct exc exc_payment_502 = {
	"com.example.checkout.payments.PaymentGatewayException",
	"payment provider returned 502 Bad Gateway",
	"com.example.checkout.payments.PaymentGatewayException: payment provider returned 502 Bad Gateway\n"
	"\tat com.example.checkout.payments.PaymentClient.charge(PaymentClient.java:118)\n"
	"\tat com.example.checkout.CheckoutService.placeOrder(CheckoutService.java:204)\n"
	"\tat com.example.checkout.api.CheckoutController.checkout(CheckoutController.java:61)\n",
};
static const struct exc exc_payment_timeout = {
	"java.net.http.HttpTimeoutException",
	"request timed out",
	"java.net.http.HttpTimeoutException: request timed out\n"
	"\tat java.net.http/jdk.internal.net.http.HttpClientImpl.send(HttpClientImpl.java:951)\n"
	"\tat com.example.checkout.payments.PaymentClient.charge(PaymentClient.java:112)\n"
	"\tat com.example.checkout.CheckoutService.placeOrder(CheckoutService.java:204)\n",
};
static const struct exc exc_carrier_timeout = {
	"TimeoutError",
	"The operation was aborted due to timeout",
	"TimeoutError: The operation was aborted due to timeout\n"
	"    at new DOMException (node:internal/per_context/domexception:53:5)\n"
	"    at AbortSignal.timeout (node:internal/abort_controller:141:7)\n"
	"    at CarrierClient.rates (/app/src/carrier.js:44:18)\n",
};
static const struct exc exc_mailer_500 = {
	"FetchError",
	"request to https://api.mailer.example.com/v3/mail/send failed: 500 Internal Server Error",
	"FetchError: 500 Internal Server Error\n"
	"    at Mailer.send (/app/src/mailer.js:71:11)\n"
	"    at async handleOrderCreated (/app/src/handlers/order-created.js:29:3)\n",
};

static void span_exception(struct gen *g, size_t i, const struct exc *e, uint64_t t)
{
	struct span *s = span_at(g, i);
	struct span_event *ev = arena_alloc(&g->b->arena, sizeof(*ev));
	struct attr *a = arena_alloc(&g->b->arena, 3 * sizeof(*a));
	attr_set_str(&a[0], "exception.type", e->type);
	attr_set_str(&a[1], "exception.message", e->message);
	attr_set_str(&a[2], "exception.stacktrace", e->stacktrace);
	ev->time_ns = t;
	ev->name = "exception";
	ev->attrs = a;
	ev->n_attrs = 3;
	s->events = ev;
	s->n_events = 1;
}

/* Mark a span failed: status ERROR, error.type, and the exception if given. */
static void span_fail(struct gen *g, size_t i, const char *error_type, const struct exc *e, uint64_t t)
{
	struct span *s = span_at(g, i);
	s->status = SPAN_STATUS_ERROR;
	s->status_message = e ? e->message : NULL;
	set_s(g, i, "error.type", error_type);
	if (e)
		span_exception(g, i, e, t);
}

/* ---- building blocks ---------------------------------------------------- */

static void code_attrs(struct gen *g, size_t i, const char *function, const char *file, int line)
{
	set_s(g, i, "code.function.name", function);
	set_s(g, i, "code.file.path", file);
	set_i(g, i, "code.line.number", line);
}

/* A Redis command.  hit < 0: not a cache read. */
static uint64_t redis_cmd(struct gen *g, size_t parent, struct hop h, const char *op, const char *text,
			  const char *host, int hit, uint64_t start)
{
	size_t i = span_begin(g, parent, h, SC_REDIS, op, SPAN_KIND_CLIENT, start);
	set_s(g, i, "db.system", "redis");
	set_s(g, i, "db.system.name", "redis");
	set_s(g, i, "db.operation.name", op);
	set_s(g, i, "db.query.text", text);
	set_s(g, i, "db.namespace", "0");
	set_s(g, i, "server.address", host);
	set_i(g, i, "server.port", 6379);
	set_s(g, i, "network.peer.address", peer_ips[(h.svc + 9u) & 15]);
	set_i(g, i, "network.peer.port", 6379);
	set_s(g, i, "network.transport", "tcp");
	if (hit >= 0)
		set_b(g, i, "cache.hit", hit);
	uint64_t end = start + lat(g, 0.45, 0.45);
	span_end(g, i, end);
	return end;
}

struct sql {
	const char *summary; /* span name and db.query.summary */
	const char *op, *table, *text;
	const char *db, *host;
	const char *param; /* db.query.parameter.0, or NULL */
	int64_t rows;
};

/* A PostgreSQL query taking `dur` ns. */
static size_t pg_query(struct gen *g, size_t parent, struct hop h, const struct sql *q, uint64_t start,
		       uint64_t dur)
{
	size_t i = span_begin(g, parent, h, SC_DB, q->summary, SPAN_KIND_CLIENT, start);
	set_s(g, i, "db.system", "postgresql");
	set_s(g, i, "db.system.name", "postgresql");
	set_s(g, i, "db.namespace", q->db);
	set_s(g, i, "db.operation.name", q->op);
	set_s(g, i, "db.collection.name", q->table);
	set_s(g, i, "db.query.text", q->text);
	set_s(g, i, "db.query.summary", q->summary);
	set_s(g, i, "server.address", q->host);
	set_i(g, i, "server.port", 5432);
	set_i(g, i, "db.response.returned_rows", q->rows);
	if (q->param)
		set_s(g, i, "db.query.parameter.0", q->param);
	span_end(g, i, start + dur);
	return i;
}

/* The SERVER span of an internal HTTP service. */
static size_t http_server_begin(struct gen *g, size_t parent, struct hop h, const char *name,
				const char *method, const char *route, const char *path, uint64_t start)
{
	size_t i = span_begin(g, parent, h, SC_HTTP_SERVER, name, SPAN_KIND_SERVER, start);
	set_s(g, i, "http.request.method", method);
	set_s(g, i, "http.route", route);
	set_s(g, i, "url.path", path);
	set_s(g, i, "url.scheme", "http");
	set_s(g, i, "server.address", services[h.svc].name);
	set_i(g, i, "server.port", 8080);
	set_s(g, i, "client.address", peer_ips[rng_below(g->r, 16)]);
	set_s(g, i, "network.protocol.version", "1.1");
	set_s(g, i, "user_agent.original", "internal-client/1.0");
	return i;
}

/* Close a SERVER span: the status code, and ERROR for 5xx (4xx is the client's fault). */
static struct res http_server_end(struct gen *g, size_t i, uint64_t end, int code, int fail,
				  const struct exc *e)
{
	struct res r = {end, code, fail};
	set_i(g, i, "http.response.status_code", code);
	set_i(g, i, "http.response.body.size",
	      code < 300 ? rng_range(g->r, 180, 24000) : rng_range(g->r, 60, 400));
	if (code >= 500)
		span_fail(g, i, fail == FAIL_TIMEOUT ? "timeout" : code_str(code), e, end);
	span_end(g, i, end);
	return r;
}

/* What an internal service answers, and the status its caller passes on. */
typedef struct res (*handler_fn)(struct gen *g, size_t client, uint64_t start, const void *arg);

static int upstream_code(struct res r)
{
	if (r.fail == FAIL_TIMEOUT)
		return 504;
	return r.code >= 500 ? 502 : r.code;
}

/* An HTTP call from `from` to service `to`: CLIENT span, then the callee's SERVER span. */
static struct res http_call(struct gen *g, size_t parent, struct hop from, int to, const char *name,
			    const char *method, const char *tmpl, const char *path, handler_fn fn,
			    const void *arg, uint64_t start)
{
	struct sb url;
	size_t i = span_begin(g, parent, from, SC_HTTP_CLIENT, name, SPAN_KIND_CLIENT, start);
	sb_init(&url);
	sb_s(&url, "http://");
	sb_s(&url, services[to].name);
	sb_s(&url, ":8080");
	sb_s(&url, path);
	set_s(g, i, "http.request.method", method);
	set_s(g, i, "url.full", sb_str(g, &url));
	set_s(g, i, "url.template", tmpl);
	set_s(g, i, "server.address", services[to].name);
	set_i(g, i, "server.port", 8080);
	set_s(g, i, "network.protocol.version", "1.1");
	set_s(g, i, "network.peer.address", peer_ips[(to * 5u + 3) & 15]);

	struct res r = fn(g, i, start + lat(g, 0.3, 0.4), arg);
	r.end += lat(g, 0.25, 0.4);
	set_i(g, i, "http.response.status_code", r.code);
	if (r.code >= 500)
		span_fail(g, i, r.fail == FAIL_TIMEOUT ? "timeout" : code_str(r.code), NULL, r.end);
	span_end(g, i, r.end);
	return r;
}

/* An external HTTPS API. */
struct ext_api {
	const char *name, *method, *host, *tmpl;
	double median_ms, sigma;
	double p_error, p_timeout, timeout_ms;
	int error_code;
	const struct exc *on_error, *on_timeout;
};

static struct res http_external(struct gen *g, size_t parent, struct hop h, const struct ext_api *e,
				const char *url, uint64_t start)
{
	size_t i = span_begin(g, parent, h, SC_HTTP_CLIENT, e->name, SPAN_KIND_CLIENT, start);
	struct res r = {0, 200, FAIL_NONE};
	double u = rng_double(g->r);

	set_s(g, i, "http.request.method", e->method);
	set_s(g, i, "url.full", url);
	set_s(g, i, "url.template", e->tmpl);
	set_s(g, i, "server.address", e->host);
	set_i(g, i, "server.port", 443);
	set_s(g, i, "network.protocol.version", "2");
	if (u < e->p_timeout) {
		r.fail = FAIL_TIMEOUT;
		r.code = 504;
		r.end = start + ns_of_ms(e->timeout_ms) + lat(g, 0.2, 0.3);
		span_fail(g, i, "timeout", e->on_timeout, r.end);
	} else if (u < e->p_timeout + e->p_error) {
		r.fail = FAIL_ERROR;
		r.code = e->error_code;
		r.end = start + lat(g, e->median_ms * 0.3, e->sigma);
		set_i(g, i, "http.response.status_code", r.code);
		span_fail(g, i, code_str(r.code), e->on_error, r.end);
	} else {
		r.end = start + lat(g, e->median_ms, e->sigma);
		set_i(g, i, "http.response.status_code", 200);
	}
	span_end(g, i, r.end);
	return r;
}

/* ---- LLM calls ---------------------------------------------------------- */

struct llm {
	const char *provider, *model, *response_model, *span_name, *host;
	double ttft_ms, per_token_ms;
	double out_median;
	const struct exc *rate_limited;
};

/* clang-format off */
static const struct llm llms[3] = {
	{ .provider = "openai", .model = "gpt-4o-mini", .response_model = "gpt-4o-mini-2024-07-18",
	  .span_name = "chat gpt-4o-mini", .host = "api.openai.com",
	  .ttft_ms = 380, .per_token_ms = 9, .out_median = 160, .rate_limited = &exc_llm_rate_limit[0] },
	{ .provider = "anthropic", .model = "claude-sonnet-4-20250514", .response_model = "claude-sonnet-4-20250514",
	  .span_name = "chat claude-sonnet-4-20250514", .host = "api.anthropic.com",
	  .ttft_ms = 650, .per_token_ms = 16, .out_median = 420, .rate_limited = &exc_llm_rate_limit[1] },
	{ .provider = "gcp.gemini", .model = "gemini-2.5-pro", .response_model = "gemini-2.5-pro",
	  .span_name = "chat gemini-2.5-pro", .host = "generativelanguage.googleapis.com",
	  .ttft_ms = 900, .per_token_ms = 11, .out_median = 300, .rate_limited = &exc_llm_rate_limit[2] },
};
/* clang-format on */

static const struct llm *agent_llm(int svc)
{
	return svc == SVC_CODE_AGENT ? &llms[1] : svc == SVC_RESEARCH_AGENT ? &llms[2] : &llms[0];
}

/* One chat completion; `tool_call` when the model answers with a tool request. */
static struct res llm_chat(struct gen *g, size_t parent, struct hop h, const struct llm *m, int tool_call,
			   uint64_t start)
{
	size_t i = span_begin(g, parent, h, SC_GENAI, m->span_name, SPAN_KIND_CLIENT, start);
	struct res r = {0, 200, FAIL_NONE};
	int64_t in = (int64_t)rng_lognormal(g->r, 1400, 0.5) + 120;
	int64_t out = (int64_t)rng_lognormal(g->r, tool_call ? m->out_median * 0.3 : m->out_median, 0.6) + 8;

	set_s(g, i, "gen_ai.system", m->provider);
	set_s(g, i, "gen_ai.provider.name", m->provider);
	set_s(g, i, "gen_ai.operation.name", "chat");
	set_s(g, i, "gen_ai.request.model", m->model);
	set_i(g, i, "gen_ai.request.max_tokens", 2048);
	set_d(g, i, "gen_ai.request.temperature", 0.2);
	set_s(g, i, "server.address", m->host);
	set_i(g, i, "server.port", 443);
	if (rng_chance(g->r, 0.012)) {
		r.fail = FAIL_ERROR;
		r.code = 429;
		r.end = start + lat(g, 120, 0.4);
		set_i(g, i, "gen_ai.usage.input_tokens", in);
		span_fail(g, i, m->rate_limited->type, m->rate_limited, r.end);
	} else {
		set_s(g, i, "gen_ai.response.model", m->response_model);
		set_s(g, i, "gen_ai.response.id", str_hex(g, "chatcmpl-", 24));
		set_json(g, i, "gen_ai.response.finish_reasons",
			 tool_call ? "[\"tool_calls\"]" : "[\"stop\"]");
		set_i(g, i, "gen_ai.usage.input_tokens", in);
		set_i(g, i, "gen_ai.usage.output_tokens", out);
		r.end = start + lat(g, m->ttft_ms, 0.35) + ns_of_ms((double)out * m->per_token_ms);
	}
	span_end(g, i, r.end);
	return r;
}

/* ---- tools -------------------------------------------------------------- */

enum tool { TOOL_DB_QUERY, TOOL_WEB_SEARCH, TOOL_CODE, TOOL_COUNT };
static const char *const tool_names[TOOL_COUNT] = {"database-query", "web-search", "code-interpreter"};
static const char *const tool_paths[TOOL_COUNT] = {"/v1/tools/database-query/invoke",
						   "/v1/tools/web-search/invoke",
						   "/v1/tools/code-interpreter/invoke"};
static const char *const tool_span_names[TOOL_COUNT] = {
	"execute_tool database-query", "execute_tool web-search", "execute_tool code-interpreter"};

/* The dashboard query a support team's widget asks for again and again. */
#define REPEATED_SQL                                                                                         \
	"SELECT region, sum(amount_cents) AS revenue FROM sales WHERE day = current_date GROUP BY region "   \
	"ORDER BY revenue DESC"
static const char repeated_args[] = "{\"database\":\"analytics\",\"sql\":\"" REPEATED_SQL "\"}";

struct tool_call {
	int tool;
	int repeated; /* the cacheable, identical database-query */
	const char *args, *args_hash;
	uint64_t param; /* the random part of non-repeated arguments */
	int agent;	/* serving agent service */
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static const char *hash_str(struct gen *g, const char *args)
{
	struct sb s;
	sb_init(&s);
	sb_hex(&s, fnv1a(args), 16);
	return sb_str(g, &s);
}

static const char *const search_topics[8] = {
	"refund policy eu",   "gdpr data retention", "kubernetes hpa tuning", "postgres vacuum settings",
	"shipping delays q3", "llm prompt caching",  "competitor pricing",    "release notes 2.0",
};

static void tool_call_make(struct gen *g, struct tool_call *tc, int tool, int agent, int may_repeat)
{
	struct sb s;
	sb_init(&s);
	memset(tc, 0, sizeof(*tc));
	tc->tool = tool;
	tc->agent = agent;
	tc->param = rng_range(g->r, 1, 2000000);
	if (tool == TOOL_DB_QUERY && may_repeat && (g->problems & SCENARIO_REPEATED_TOOL) &&
	    rng_chance(g->r, 0.75)) {
		tc->repeated = 1;
		tc->args = repeated_args;
	} else if (tool == TOOL_DB_QUERY) {
		sb_s(&s, "{\"database\":\"analytics\",\"sql\":\"SELECT id, subject, status FROM tickets "
			 "WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20\",\"params\":[");
		sb_u(&s, tc->param);
		sb_s(&s, "]}");
		tc->args = sb_str(g, &s);
	} else if (tool == TOOL_WEB_SEARCH) {
		sb_s(&s, "{\"query\":\"");
		sb_s(&s, search_topics[tc->param & 7]);
		sb_s(&s, "\",\"max_results\":10,\"session\":");
		sb_u(&s, tc->param);
		sb_s(&s, "}");
		tc->args = sb_str(g, &s);
	} else {
		sb_s(&s, "{\"language\":\"python\",\"code_sha\":\"");
		sb_hex(&s, rng_next(g->r), 16);
		sb_s(&s, "\"}");
		tc->args = sb_str(g, &s);
	}
	tc->args_hash = hash_str(g, tc->args);
}

static uint64_t tool_database_query(struct gen *g, size_t parent, struct hop h, const struct tool_call *tc,
				    uint64_t t)
{
	struct sql q = {"SELECT tickets",	 "SELECT", "tickets", NULL, "analytics",
			"analytics-db.internal", NULL,	   0};
	uint64_t dur;
	if (tc->repeated) {
		/* A full scan of today's sales: ~400 ms every time, same answer. */
		q.summary = "SELECT sales";
		q.table = "sales";
		q.text = REPEATED_SQL;
		q.rows = 12;
		dur = lat(g, 360, 0.22);
	} else {
		q.text = "SELECT id, subject, status FROM tickets WHERE customer_id = $1 ORDER BY created_at "
			 "DESC LIMIT 20";
		q.param = str_num(g, "", tc->param, NULL);
		q.rows = (int64_t)rng_below(g->r, 21);
		dur = lat(g, 45, 0.7);
	}
	t += lat(g, 0.6, 0.5);
	size_t i = pg_query(g, parent, h, &q, t, dur);
	return span_at(g, i)->end_ns;
}

/* clang-format off */
static const struct ext_api search_api = {
	.name = "GET", .method = "GET", .host = "api.search.example.net", .tmpl = "/v1/search",
	.median_ms = 320, .sigma = 0.45,
	.p_error = 0.01, .error_code = 503, .on_error = &exc_search_503,
	.p_timeout = 0.03, .timeout_ms = 5000, .on_timeout = &exc_search_timeout,
};
/* clang-format on */

/* gRPC SERVER side of sandbox-runner: warm container, run the code. */
static struct res sandbox_execute(struct gen *g, size_t client, uint64_t start)
{
	struct hop h = hop_pick(g, SVC_SANDBOX);
	size_t s = span_begin(g, client, h, SC_RPC, "sandbox.v1.Sandbox/Execute", SPAN_KIND_SERVER, start);
	uint64_t t = start + lat(g, 0.4, 0.4);
	int cold = rng_chance(g->r, 0.05);

	set_s(g, s, "rpc.system", "grpc");
	set_s(g, s, "rpc.service", "sandbox.v1.Sandbox");
	set_s(g, s, "rpc.method", "Execute");
	set_s(g, s, "server.address", "sandbox-runner");
	set_i(g, s, "server.port", 50051);
	set_s(g, s, "client.address", peer_ips[rng_below(g->r, 16)]);
	set_s(g, s, "network.protocol.name", "http");
	set_s(g, s, "network.protocol.version", "2");

	size_t a = span_begin(g, s, h, SC_APP, "sandbox.acquire", SPAN_KIND_INTERNAL, t);
	set_b(g, a, "sandbox.cold_start", cold);
	set_s(g, a, "sandbox.image", "python:3.12-slim");
	code_attrs(g, a, "sandbox-runner/internal/pool.(*Pool).Acquire", "/src/internal/pool/pool.go", 97);
	t += cold ? lat(g, 650, 0.3) : lat(g, 3, 0.5);
	span_end(g, a, t);

	size_t x = span_begin(g, s, h, SC_APP, "sandbox.execute", SPAN_KIND_INTERNAL, t);
	set_s(g, x, "process.runtime.name", "cpython");
	set_s(g, x, "process.runtime.version", "3.12.4");
	set_i(g, x, "sandbox.memory_limit_mb", 512);
	code_attrs(g, x, "sandbox-runner/internal/exec.(*Runner).Run", "/src/internal/exec/runner.go", 164);
	t += lat(g, 180, 0.7);
	if (rng_chance(g->r, 0.03)) /* the user's code failed, the sandbox did not */
		span_fail(g, x, "sandbox.ExitError", &exc_sandbox_exit, t);
	span_end(g, x, t);

	t += lat(g, 0.5, 0.4);
	set_i(g, s, "rpc.grpc.status_code", 0);
	span_end(g, s, t);
	struct res r = {t, 200, FAIL_NONE};
	return r;
}

static uint64_t tool_code_interpreter(struct gen *g, size_t parent, struct hop h, uint64_t t)
{
	size_t c = span_begin(g, parent, h, SC_RPC, "sandbox.v1.Sandbox/Execute", SPAN_KIND_CLIENT, t);
	set_s(g, c, "rpc.system", "grpc");
	set_s(g, c, "rpc.service", "sandbox.v1.Sandbox");
	set_s(g, c, "rpc.method", "Execute");
	set_s(g, c, "server.address", "sandbox-runner");
	set_i(g, c, "server.port", 50051);
	set_s(g, c, "network.peer.address", peer_ips[(SVC_SANDBOX * 5u + 3) & 15]);
	struct res r = sandbox_execute(g, c, t + lat(g, 0.4, 0.4));
	set_i(g, c, "rpc.grpc.status_code", 0);
	uint64_t end = r.end + lat(g, 0.3, 0.4);
	span_end(g, c, end);
	return end;
}

/* "execute_tool X" in an agent: arguments, then the tool's own work. */
static struct res execute_tool(struct gen *g, size_t parent, struct hop h, const struct tool_call *tc,
			       int may_be_invalid, uint64_t start)
{
	size_t i = span_begin(g, parent, h, SC_APP, tool_span_names[tc->tool], SPAN_KIND_INTERNAL, start);
	struct res r = {0, 200, FAIL_NONE};
	uint64_t t = start + lat(g, 2.5, 0.4);

	set_s(g, i, "gen_ai.operation.name", "execute_tool");
	set_s(g, i, "gen_ai.tool.name", tool_names[tc->tool]);
	set_s(g, i, "gen_ai.tool.type", "function");
	set_s(g, i, "gen_ai.tool.call.id", str_hex(g, "call_", 24));
	set_s(g, i, "gen_ai.tool.call.arguments", tc->args);
	set_s(g, i, "tool.args_hash", tc->args_hash);
	set_s(g, i, "gen_ai.agent.name", services[tc->agent].name);
	if (may_be_invalid && rng_chance(g->r, 0.02)) {
		/* The model produced bad arguments: the agent re-plans, the request survives. */
		t += lat(g, 0.8, 0.3);
		span_fail(g, i, "ValidationError", &exc_tool_validation, t);
		span_end(g, i, t);
		r.end = t;
		return r;
	}
	if (tc->tool == TOOL_DB_QUERY) {
		t = tool_database_query(g, i, h, tc, t);
	} else if (tc->tool == TOOL_WEB_SEARCH) {
		/* Every search is different: only the database-query repeats (docs/DEMO.md). */
		const char *url = str_num(
			g, "https://api.search.example.net/v1/search?count=10&session=", tc->param, "&q=...");
		r = http_external(g, i, h, &search_api, url, t);
		t = r.end;
	} else {
		t = tool_code_interpreter(g, i, h, t);
	}
	t += lat(g, 4, 0.5); /* result post-processing */
	if (r.fail)
		span_fail(g, i, r.fail == FAIL_TIMEOUT ? "timeout" : "tool_error", NULL, t);
	span_end(g, i, t);
	r.end = t;
	return r;
}

/* ---- agents ------------------------------------------------------------- */

/* agent: POST /v1/tools/{tool}/invoke */
static struct res agent_tool_handler(struct gen *g, size_t client, uint64_t start, const void *arg)
{
	const struct tool_call *tc = arg;
	struct hop h = hop_pick(g, tc->agent);
	size_t s = http_server_begin(g, client, h, "POST /v1/tools/{tool}/invoke", "POST",
				     "/v1/tools/{tool}/invoke", tool_paths[tc->tool], start);
	uint64_t t = start + lat(g, 3, 0.4);

	set_s(g, s, "gen_ai.tool.name", tool_names[tc->tool]);
	if (rng_chance(g->r, 0.01)) /* malformed request: 400, not a server error */
		return http_server_end(g, s, t + lat(g, 0.5, 0.3), 400, FAIL_NONE, NULL);
	struct res r = execute_tool(g, s, h, tc, 0, t);
	t = r.end + lat(g, 1.2, 0.4);
	if (r.fail)
		return http_server_end(g, s, t, r.fail == FAIL_TIMEOUT ? 504 : 502, r.fail, NULL);
	return http_server_end(g, s, t, 200, FAIL_NONE, NULL);
}

/* Which agent serves a direct invocation of `tool`. */
static int tool_agent(struct gen *g, int tool)
{
	if (tool == TOOL_CODE)
		return SVC_CODE_AGENT;
	if (tool == TOOL_DB_QUERY)
		return rng_chance(g->r, 0.6) ? SVC_SUPPORT_AGENT : SVC_RESEARCH_AGENT;
	return rng_chance(g->r, 0.6) ? SVC_RESEARCH_AGENT : SVC_SUPPORT_AGENT;
}

static int agent_pick_tool(struct gen *g, int agent)
{
	double u = rng_double(g->r);
	switch (agent) {
	case SVC_SUPPORT_AGENT: return u < 0.5 ? TOOL_DB_QUERY : TOOL_WEB_SEARCH;
	case SVC_CODE_AGENT: return u < 0.7 ? TOOL_CODE : TOOL_WEB_SEARCH;
	default: return u < 0.35 ? TOOL_DB_QUERY : TOOL_WEB_SEARCH;
	}
}

/* agent: POST /v1/agents/{agent}/run -- plan with the LLM, call tools, answer. */
static struct res agent_run_handler(struct gen *g, size_t client, uint64_t start, const void *arg)
{
	int agent = *(const int *)arg;
	struct hop h = hop_pick(g, agent);
	const struct llm *m = agent_llm(agent);
	const char *path = agent == SVC_SUPPORT_AGENT ? "/v1/agents/support-agent/run"
			   : agent == SVC_CODE_AGENT  ? "/v1/agents/code-agent/run"
						      : "/v1/agents/research-agent/run";
	const char *inv_name = agent == SVC_SUPPORT_AGENT ? "invoke_agent support-agent"
			       : agent == SVC_CODE_AGENT  ? "invoke_agent code-agent"
							  : "invoke_agent research-agent";
	size_t s = http_server_begin(g, client, h, "POST /v1/agents/{agent}/run", "POST",
				     "/v1/agents/{agent}/run", path, start);
	uint64_t t = start + lat(g, 2, 0.4);
	size_t inv = span_begin(g, s, h, SC_APP, inv_name, SPAN_KIND_INTERNAL, t);
	int steps = (int)rng_range(g->r, 1, agent == SVC_CODE_AGENT ? 5 : 4);
	struct res r = {0, 200, FAIL_NONE};

	set_s(g, inv, "gen_ai.operation.name", "invoke_agent");
	set_s(g, inv, "gen_ai.agent.name", services[agent].name);
	set_s(g, inv, "gen_ai.agent.id", str_hex(g, "asst_", 12));
	set_s(g, inv, "gen_ai.conversation.id", str_hex(g, "conv_", 16));
	set_s(g, inv, "gen_ai.provider.name", m->provider);
	set_s(g, inv, "gen_ai.request.model", m->model);
	set_i(g, inv, "agent.steps", steps);
	t += lat(g, 6, 0.5); /* prompt assembly, memory lookup */
	for (int k = 0; k < steps && !r.fail; k++) {
		struct tool_call tc;
		r = llm_chat(g, inv, h, m, 1, t);
		t = r.end + lat(g, 0.8, 0.4);
		if (r.fail)
			break;
		tool_call_make(g, &tc, agent_pick_tool(g, agent), agent, 0);
		/* A failed tool is reported back to the model, not to the user. */
		t = execute_tool(g, inv, h, &tc, 1, t).end + lat(g, 0.8, 0.4);
	}
	if (!r.fail) {
		r = llm_chat(g, inv, h, m, 0, t);
		t = r.end;
	}
	t += lat(g, 1.5, 0.4);
	if (r.fail)
		span_fail(g, inv, m->rate_limited->type, NULL, t);
	span_end(g, inv, t);
	t += lat(g, 1, 0.4);
	if (r.fail)
		return http_server_end(g, s, t, 503, FAIL_ERROR, NULL);
	return http_server_end(g, s, t, 200, FAIL_NONE, NULL);
}

/* ---- commerce services -------------------------------------------------- */

/* order-service: GET /api/orders -- the customer's orders with their items. */
static struct res orders_list_handler(struct gen *g, size_t client, uint64_t start, const void *arg)
{
	struct hop h = hop_pick(g, SVC_ORDER);
	const char *customer = arg;
	size_t s = http_server_begin(g, client, h, "GET /api/orders", "GET", "/api/orders", "/api/orders",
				     start);
	uint64_t t = start + lat(g, 1.5, 0.4);
	int64_t n = rng_range(g->r, 20, 60);
	struct sql q = {"SELECT orders",
			"SELECT",
			"orders",
			"SELECT id, status, total_cents, created_at FROM orders WHERE customer_id = $1 "
			"ORDER BY created_at DESC LIMIT 60",
			"orders",
			"orders-db.internal",
			customer,
			n};

	set_s(g, s, "enduser.pseudo.id", customer);
	t = span_at(g, pg_query(g, s, h, &q, t, lat(g, 4, 0.4)))->end_ns;
	q.summary = "SELECT order_items";
	q.table = "order_items";
	if (g->problems & SCENARIO_N_PLUS_ONE) {
		/* The ORM loads each order's items lazily: one round trip per order. */
		uint64_t first = rng_range(g->r, 100000, 9000000);
		q.text = "SELECT sku, quantity, unit_price_cents FROM order_items WHERE order_id = $1";
		for (int64_t k = 0; k < n; k++) {
			q.param = str_num(g, "", first + (uint64_t)k * 7, NULL);
			q.rows = rng_range(g->r, 1, 6);
			t += lat(g, 0.15, 0.4);
			t = span_at(g, pg_query(g, s, h, &q, t, lat(g, 1.8, 0.35)))->end_ns;
		}
	} else {
		q.text = "SELECT order_id, sku, quantity, unit_price_cents FROM order_items WHERE order_id = "
			 "ANY($1)";
		q.param = NULL;
		q.rows = n * 3;
		t = span_at(g,
			    pg_query(g, s, h, &q, t + lat(g, 0.15, 0.4), lat(g, 4 + 0.06 * (double)n, 0.35)))
			    ->end_ns;
	}
	size_t v = span_begin(g, s, h, SC_APP, "orders.render", SPAN_KIND_INTERNAL, t);
	set_i(g, v, "orders.count", n);
	code_attrs(g, v, "com.example.orders.api.OrderController.render", "OrderController.java", 88);
	t += lat(g, 1.2 + 0.03 * (double)n, 0.3);
	span_end(g, v, t);
	return http_server_end(g, s, t + lat(g, 0.4, 0.3), 200, FAIL_NONE, NULL);
}

/* order-service: GET /api/orders/{id} -- cache first. */
static struct res order_get_handler(struct gen *g, size_t client, uint64_t start, const void *arg)
{
	struct hop h = hop_pick(g, SVC_ORDER);
	const char *id = ((const char *const *)arg)[0], *path = ((const char *const *)arg)[1];
	size_t s = http_server_begin(g, client, h, "GET /api/orders/{id}", "GET", "/api/orders/{id}", path,
				     start);
	uint64_t t = start + lat(g, 1.0, 0.4);
	int hit = rng_chance(g->r, 0.75);
	int code = 200;

	t = redis_cmd(g, s, h, "GET", "GET order:?", "orders-cache.internal", hit, t);
	if (!hit) {
		int found = rng_chance(g->r, 0.97);
		struct sql q = {"SELECT orders",
				"SELECT",
				"orders",
				"SELECT o.id, o.status, i.sku, i.quantity FROM orders o JOIN order_items i "
				"ON i.order_id = o.id WHERE o.id = $1",
				"orders",
				"orders-db.internal",
				id,
				found ? rng_range(g->r, 1, 6) : 0};
		t = span_at(g, pg_query(g, s, h, &q, t + lat(g, 0.2, 0.4), lat(g, 5, 0.45)))->end_ns;
		if (found)
			t = redis_cmd(g, s, h, "SETEX", "SETEX order:? 300 ?", "orders-cache.internal", -1,
				      t);
		else
			code = 404;
	}
	return http_server_end(g, s, t + lat(g, 0.8, 0.4), code, FAIL_NONE, NULL);
}

/* pricing-service: GET /api/prices/{sku}; version 2.5.0 is the slower one. */
static struct res price_get_handler(struct gen *g, size_t client, uint64_t start, const void *arg)
{
	struct hop h = hop_pick(g, SVC_PRICING);
	const char *sku = ((const char *const *)arg)[0], *path = ((const char *const *)arg)[1];
	double saved = g->slow;
	int hit = rng_chance(g->r, 0.6);

	/* 2.5.0 switched to a rules engine that re-evaluates every rule: ~30% slower. */
	if (h.ver == 1 && (g->problems & SCENARIO_SLOW_VERSION))
		g->slow *= 1.3;
	size_t s = http_server_begin(g, client, h, "GET /api/prices/{sku}", "GET", "/api/prices/{sku}", path,
				     start);
	uint64_t t = start + lat(g, 1.2, 0.4);
	t = redis_cmd(g, s, h, "GET", "GET price:?", "pricing-cache.internal", hit, t);
	if (!hit) {
		struct sql q = {"SELECT prices",
				"SELECT",
				"prices",
				"SELECT list_price_cents, currency FROM prices WHERE sku = $1",
				"pricing",
				"pricing-db.internal",
				sku,
				1};
		t = span_at(g, pg_query(g, s, h, &q, t + lat(g, 0.2, 0.4), lat(g, 6, 0.4)))->end_ns;
		q.summary = "SELECT promotions";
		q.table = "promotions";
		q.text = "SELECT id, discount_pct FROM promotions WHERE sku = $1 AND now() BETWEEN starts_at "
			 "AND ends_at";
		q.rows = rng_range(g->r, 0, 3);
		t = span_at(g, pg_query(g, s, h, &q, t + lat(g, 0.2, 0.4), lat(g, 4, 0.4)))->end_ns;
		t = redis_cmd(g, s, h, "SETEX", "SETEX price:? 60 ?", "pricing-cache.internal", -1, t);
	}
	size_t e = span_begin(g, s, h, SC_APP, "pricing.apply_rules", SPAN_KIND_INTERNAL, t);
	set_i(g, e, "pricing.rules", 14);
	code_attrs(g, e, "pricing-service/internal/rules.(*Engine).Apply", "/src/internal/rules/engine.go",
		   73);
	t += lat(g, 6, 0.4);
	span_end(g, e, t);
	struct res r = http_server_end(g, s, t + lat(g, 0.5, 0.4), 200, FAIL_NONE, NULL);
	g->slow = saved;
	return r;
}

/* pricing-service: POST /api/prices/quote -- the cart's total with tax and promotions. */
static struct res price_quote_handler(struct gen *g, size_t client, uint64_t start, const void *arg)
{
	struct hop h = hop_pick(g, SVC_PRICING);
	size_t s = http_server_begin(g, client, h, "POST /api/prices/quote", "POST", "/api/prices/quote",
				     "/api/prices/quote", start);
	uint64_t t = start + lat(g, 1.5, 0.4);
	struct sql q = {"SELECT prices",
			"SELECT",
			"prices",
			"SELECT sku, list_price_cents, currency FROM prices WHERE sku = ANY($1)",
			"pricing",
			"pricing-db.internal",
			NULL,
			rng_range(g->r, 1, 8)};
	t = span_at(g, pg_query(g, s, h, &q, t, lat(g, 12, 0.4)))->end_ns;
	q.summary = "SELECT tax_rates";
	q.table = "tax_rates";
	q.text = "SELECT rate FROM tax_rates WHERE country = $1 AND category = ANY($2)";
	q.rows = 2;
	t = span_at(g, pg_query(g, s, h, &q, t + lat(g, 0.2, 0.4), lat(g, 8, 0.4)))->end_ns;
	size_t e = span_begin(g, s, h, SC_APP, "pricing.apply_rules", SPAN_KIND_INTERNAL, t);
	set_i(g, e, "pricing.rules", 14);
	code_attrs(g, e, "pricing-service/internal/rules.(*Engine).Apply", "/src/internal/rules/engine.go",
		   73);
	t += lat(g, 28, 0.4);
	span_end(g, e, t);
	return http_server_end(g, s, t + lat(g, 0.5, 0.4), 200, FAIL_NONE, NULL);
}

/* inventory-service: POST /api/inventory/reserve -- its pool of 10 runs dry at peaks. */
static struct res inventory_reserve_handler(struct gen *g, size_t client, uint64_t start, const void *arg)
{
	struct hop h = hop_pick(g, SVC_INVENTORY);
	size_t s = http_server_begin(g, client, h, "POST /api/inventory/reserve", "POST",
				     "/api/inventory/reserve", "/api/inventory/reserve", start);
	uint64_t t = start + lat(g, 1.0, 0.4);
	int exhausted = g->env == ENV_PROD && scenario_pool_exhausted(g->sc, start);
	double wait_ms = exhausted ? rng_lognormal(g->r, 112, 0.35) : rng_lognormal(g->r, 0.15, 0.5);
	int64_t used = exhausted ? 10 : rng_range(g->r, 2, 7);

	size_t p = span_begin(g, s, h, SC_DB, "pool.acquire", SPAN_KIND_INTERNAL, t);
	set_s(g, p, "db.system.name", "postgresql");
	set_s(g, p, "db.client.connection.pool.name", "inventory-db");
	set_d(g, p, "db.client.connection.wait_time_ms", wait_ms);
	set_i(g, p, "db.client.connection.max", 10);
	set_i(g, p, "db.client.connection.count", used);
	set_b(g, p, "db.client.connection.pool.exhausted", exhausted);
	t += ns_of_ms(wait_ms);
	span_end(g, p, t);

	struct sql q = {"SELECT inventory",
			"SELECT",
			"inventory",
			"SELECT sku, available FROM inventory WHERE sku = ANY($1) FOR UPDATE",
			"inventory",
			"inventory-db.internal",
			NULL,
			rng_range(g->r, 1, 8)};
	t = span_at(g, pg_query(g, s, h, &q, t + lat(g, 0.1, 0.3), lat(g, 8, 0.4)))->end_ns;
	size_t a = span_begin(g, s, h, SC_APP, "inventory.allocate", SPAN_KIND_INTERNAL, t);
	set_s(g, a, "inventory.strategy", "nearest-warehouse");
	code_attrs(g, a, "inventory-service/internal/alloc.Allocate", "/src/internal/alloc/allocate.go", 41);
	t += lat(g, 22, 0.4);
	span_end(g, a, t);

	q.summary = "UPDATE inventory";
	q.op = "UPDATE";
	q.text = "UPDATE inventory SET available = available - $2, reserved = reserved + $2 WHERE sku = $1";
	size_t u = pg_query(g, s, h, &q, t + lat(g, 0.1, 0.3), lat(g, 6, 0.4));
	t = span_at(g, u)->end_ns;
	if (rng_chance(g->r, 0.004)) {
		span_fail(g, u, "40P01", &exc_deadlock, t);
		return http_server_end(g, s, t + lat(g, 0.5, 0.3), 500, FAIL_ERROR, NULL);
	}
	return http_server_end(g, s, t + lat(g, 0.5, 0.3), 200, FAIL_NONE, NULL);
}

/* clang-format off */
static const struct ext_api carrier_api = {
	.name = "GET", .method = "GET", .host = "api.carrier.example.com", .tmpl = "/v2/rates",
	.median_ms = 140, .sigma = 0.4,
	.p_timeout = 0.01, .timeout_ms = 3000, .on_timeout = &exc_carrier_timeout,
};
/* clang-format on */

/* shipping-service: GET /api/shipping/estimate -- the carrier's rates, cached. */
static struct res shipping_estimate_handler(struct gen *g, size_t client, uint64_t start, const void *arg)
{
	struct hop h = hop_pick(g, SVC_SHIPPING);
	size_t s = http_server_begin(g, client, h, "GET /api/shipping/estimate", "GET",
				     "/api/shipping/estimate", "/api/shipping/estimate", start);
	uint64_t t = start + lat(g, 1.0, 0.4);
	int hit = rng_chance(g->r, 0.3);

	t = redis_cmd(g, s, h, "GET", "GET rates:?", "shipping-cache.internal", hit, t);
	if (!hit) {
		const char *url = str_num(g, "https://api.carrier.example.com/v2/rates?zip=",
					  rng_range(g->r, 10000, 99999), "&weight=2");
		struct res r = http_external(g, s, h, &carrier_api, url, t + lat(g, 0.2, 0.3));
		t = r.end;
		if (r.fail) { /* fall back to the flat-rate table */
			size_t f = span_begin(g, s, h, SC_APP, "shipping.fallback_estimate",
					      SPAN_KIND_INTERNAL, t);
			code_attrs(g, f, "estimateFallback", "/app/src/estimate.js", 112);
			t += lat(g, 0.6, 0.3);
			span_end(g, f, t);
		} else {
			t = redis_cmd(g, s, h, "SETEX", "SETEX rates:? 900 ?", "shipping-cache.internal", -1,
				      t);
		}
	}
	return http_server_end(g, s, t + lat(g, 0.5, 0.4), 200, FAIL_NONE, NULL);
}

/* clang-format off */
static const struct ext_api payments_api = {
	.name = "POST", .method = "POST", .host = "api.payments.example.com", .tmpl = "/v1/charges",
	.median_ms = 280, .sigma = 0.35,
	.p_error = 0.01, .error_code = 502, .on_error = &exc_payment_502,
	.p_timeout = 0.003, .timeout_ms = 8000, .on_timeout = &exc_payment_timeout,
};
/* clang-format on */

/* Kafka PRODUCER span; the message is consumed later in its own trace. */
static uint64_t publish_order_created(struct gen *g, size_t parent, struct hop h, const char *order_id,
				      uint64_t t)
{
	size_t i = span_begin(g, parent, h, SC_MSG, "send orders.created", SPAN_KIND_PRODUCER, t);
	const char *msg_id = str_hex(g, "", 32);
	set_s(g, i, "messaging.system", "kafka");
	set_s(g, i, "messaging.operation.type", "send");
	set_s(g, i, "messaging.operation.name", "send");
	set_s(g, i, "messaging.destination.name", "orders.created");
	set_s(g, i, "messaging.destination.partition.id", str_num(g, "", rng_below(g->r, 12), NULL));
	set_s(g, i, "messaging.message.id", msg_id);
	set_s(g, i, "messaging.kafka.message.key", order_id);
	set_s(g, i, "messaging.client.id", "checkout-service-producer");
	set_s(g, i, "server.address", "kafka-0.kafka.internal");
	set_i(g, i, "server.port", 9092);
	uint64_t end = t + lat(g, 1.6, 0.5);
	span_end(g, i, end);
	g->msg.pending = 1;
	memcpy(g->msg.trace_id, g->trace_id, 16);
	memcpy(g->msg.span_id, span_at(g, i)->span_id, 8);
	g->msg.sent_ns = end;
	g->msg.message_id = msg_id;
	g->msg.order_id = order_id;
	return end;
}

/* The three look-ups of a checkout need nothing from each other. */
static uint64_t checkout_lookups(struct gen *g, size_t s, struct hop h, uint64_t t, struct res *failed)
{
	static const struct {
		int svc;
		const char *name, *method, *tmpl, *path;
		handler_fn fn;
	} calls[3] = {
		{SVC_INVENTORY, "POST /api/inventory/reserve", "POST", "/api/inventory/reserve",
		 "/api/inventory/reserve", inventory_reserve_handler},
		{SVC_PRICING, "POST /api/prices/quote", "POST", "/api/prices/quote", "/api/prices/quote",
		 price_quote_handler},
		{SVC_SHIPPING, "GET /api/shipping/estimate", "GET", "/api/shipping/estimate",
		 "/api/shipping/estimate", shipping_estimate_handler},
	};
	int sequential = (g->problems & SCENARIO_SEQUENTIAL) != 0;
	uint64_t end = t;

	for (int k = 0; k < 3; k++) {
		uint64_t at = sequential ? end + (k ? lat(g, 0.3, 0.4) : 0) : t + (uint64_t)k * 40000;
		struct res r = http_call(g, s, h, calls[k].svc, calls[k].name, calls[k].method, calls[k].tmpl,
					 calls[k].path, calls[k].fn, NULL, at);
		end = r.end > end ? r.end : end;
		if (r.fail && !failed->fail) {
			*failed = r;
			if (sequential)
				break; /* the real code gives up at the first failure */
		}
	}
	return end;
}

/* checkout-service: POST /api/checkout */
static struct res checkout_handler(struct gen *g, size_t client, uint64_t start, const void *arg)
{
	struct hop h = hop_pick(g, SVC_CHECKOUT);
	size_t s = http_server_begin(g, client, h, "POST /api/checkout", "POST", "/api/checkout",
				     "/api/checkout", start);
	uint64_t t = start + lat(g, 1.5, 0.4);
	struct res failed = {0, 200, FAIL_NONE};

	set_s(g, s, "app.tenant.id", arg);
	size_t v = span_begin(g, s, h, SC_APP, "validate_cart", SPAN_KIND_INTERNAL, t);
	set_i(g, v, "app.cart.items", rng_range(g->r, 1, 8));
	code_attrs(g, v, "com.example.checkout.CartValidator.validate", "CartValidator.java", 47);
	t += lat(g, 2, 0.4);
	span_end(g, v, t);

	t = checkout_lookups(g, s, h, t + lat(g, 0.2, 0.3), &failed);
	if (failed.fail)
		return http_server_end(g, s, t + lat(g, 0.6, 0.3), upstream_code(failed), failed.fail, NULL);

	const char *url = str_hex(g, "https://api.payments.example.com/v1/charges?idempotency_key=", 16);
	struct res pay = http_external(g, s, h, &payments_api, url, t + lat(g, 0.2, 0.3));
	t = pay.end;
	if (pay.fail)
		return http_server_end(g, s, t + lat(g, 0.6, 0.3), upstream_code(pay), pay.fail,
				       pay.fail == FAIL_TIMEOUT ? &exc_payment_timeout : &exc_payment_502);

	const char *order_id = str_num(g, "", rng_range(g->r, 10000000, 99999999), NULL);
	struct sql q = {
		"INSERT orders",
		"INSERT",
		"orders",
		"INSERT INTO orders (id, customer_id, total_cents, status) VALUES ($1, $2, $3, 'paid')",
		"orders",
		"orders-db.internal",
		NULL,
		1};
	t = span_at(g, pg_query(g, s, h, &q, t + lat(g, 0.2, 0.3), lat(g, 4, 0.4)))->end_ns;
	t = publish_order_created(g, s, h, order_id, t + lat(g, 0.2, 0.3));
	return http_server_end(g, s, t + lat(g, 0.6, 0.3), 201, FAIL_NONE, NULL);
}

/* clang-format off */
static const struct ext_api mailer_api = {
	.name = "POST", .method = "POST", .host = "api.mailer.example.com", .tmpl = "/v3/mail/send",
	.median_ms = 130, .sigma = 0.4,
	.p_error = 0.005, .error_code = 500, .on_error = &exc_mailer_500,
};
/* clang-format on */

static void new_trace_id(struct gen *g)
{
	uint64_t a = rng_next(g->r), b = rng_next(g->r) | 1;
	memcpy(g->trace_id, &a, 8);
	memcpy(g->trace_id + 8, &b, 8);
}

/* notification-worker: its own trace per message, linked to the producer. */
static void trace_order_created_consumer(struct gen *g)
{
	struct hop h = hop_pick(g, SVC_NOTIFY);
	uint64_t t = g->msg.sent_ns + lat(g, 35, 0.8); /* queue lag */
	g->msg.pending = 0;
	new_trace_id(g);

	size_t c = span_begin(g, NO_PARENT, h, SC_MSG, "process orders.created", SPAN_KIND_CONSUMER, t);
	struct span_link *l = arena_zalloc(&g->b->arena, sizeof(*l));
	memcpy(l->trace_id, g->msg.trace_id, 16);
	memcpy(l->span_id, g->msg.span_id, 8);
	span_at(g, c)->links = l;
	span_at(g, c)->n_links = 1;
	set_s(g, c, "messaging.system", "kafka");
	set_s(g, c, "messaging.operation.type", "process");
	set_s(g, c, "messaging.operation.name", "process");
	set_s(g, c, "messaging.destination.name", "orders.created");
	set_s(g, c, "messaging.consumer.group.name", "notification-worker");
	set_s(g, c, "messaging.message.id", g->msg.message_id);
	set_s(g, c, "messaging.kafka.message.key", g->msg.order_id);
	set_i(g, c, "messaging.kafka.offset", (int64_t)rng_range(g->r, 1000000, 9000000));
	set_s(g, c, "server.address", "kafka-0.kafka.internal");
	set_i(g, c, "server.port", 9092);

	t += lat(g, 0.5, 0.4);
	t = redis_cmd(g, c, h, "SET", "SET notify:? ? NX EX 86400", "notify-cache.internal", -1, t);
	struct sql q = {"SELECT customers",
			"SELECT",
			"customers",
			"SELECT email, locale FROM customers WHERE id = $1",
			"notify",
			"notify-db.internal",
			NULL,
			1};
	t = span_at(g, pg_query(g, c, h, &q, t + lat(g, 0.2, 0.3), lat(g, 3, 0.4)))->end_ns;
	struct res r = http_external(g, c, h, &mailer_api, "https://api.mailer.example.com/v3/mail/send",
				     t + lat(g, 0.2, 0.3));
	t = r.end;
	q.summary = "INSERT notifications";
	q.op = "INSERT";
	q.table = "notifications";
	q.text = "INSERT INTO notifications (order_id, channel, status) VALUES ($1, 'email', $2)";
	t = span_at(g, pg_query(g, c, h, &q, t + lat(g, 0.2, 0.3), lat(g, 2.5, 0.4)))->end_ns;
	t += lat(g, 0.4, 0.3);
	if (r.fail)
		span_fail(g, c, "500", NULL, t);
	span_end(g, c, t);
}

/* ---- the gateway and the request mix ------------------------------------- */

/* The gateway's root span, with the seed's phases before and after the upstream call. */
struct gw {
	size_t root;
	struct hop h;
	uint64_t t;
};

static size_t gw_phase(struct gen *g, struct gw *w, const char *name, double median_ms, const char *function,
		       int line)
{
	size_t i = span_begin(g, w->root, w->h, SC_APP, name, SPAN_KIND_INTERNAL, w->t);
	code_attrs(g, i, function, "gateway/plugins/chain.go", line);
	set_s(g, i, "gateway.route.id", span_at(g, w->root)->name);
	w->t += lat(g, median_ms, 0.45);
	span_end(g, i, w->t);
	return i;
}

static void gw_plugins(struct gen *g, size_t i, const char *phase)
{
	set_s(g, i, "gateway.phase", phase);
	set_i(g, i, "gateway.plugin.count", 4);
	set_json(g, i, "gateway.plugin.names",
		 "[\"request-id\",\"cors\",\"schema-validate\",\"pii-redact\"]");
}

static void gw_begin(struct gen *g, struct gw *w, const char *name, const char *method, const char *route,
		     const char *path, uint64_t start)
{
	w->h = hop_pick(g, SVC_GATEWAY);
	const char *tenant = tenants[rng_below(g->r, 6)];
	w->root = span_begin(g, NO_PARENT, w->h, SC_HTTP_SERVER, name, SPAN_KIND_SERVER, start);
	size_t r = w->root;
	set_s(g, r, "http.request.method", method);
	set_s(g, r, "http.route", route);
	set_s(g, r, "url.path", path);
	set_s(g, r, "url.scheme", "https");
	set_s(g, r, "server.address", "api.shop.example.com");
	set_i(g, r, "server.port", 443);
	set_s(g, r, "client.address", public_ips[rng_below(g->r, 16)]);
	set_s(g, r, "user_agent.original", user_agents[rng_below(g->r, 4)]);
	set_s(g, r, "network.protocol.version", "2");
	set_s(g, r, "app.tenant.id", tenant);
	set_s(g, r, "http.request.id", str_hex(g, "req_", 16));
	w->t = start + lat(g, 0.2, 0.4);

	size_t a = span_begin(g, r, w->h, SC_APP, "auth", SPAN_KIND_INTERNAL, w->t);
	set_s(g, a, "auth.method", rng_chance(g->r, 0.7) ? "jwt" : "api_key");
	set_s(g, a, "user.id", str_num(g, "u-", rng_range(g->r, 1000, 99999), NULL));
	set_json(g, a, "auth.scopes", "[\"tools:invoke\",\"orders:read\",\"checkout:write\"]");
	set_b(g, a, "auth.cache_hit", 1);
	set_s(g, a, "app.tenant.id", tenant);
	code_attrs(g, a, "gateway/auth.(*Verifier).Verify", "gateway/auth/verify.go", 63);
	w->t = redis_cmd(g, a, w->h, "GET", "GET session:?", "gateway-cache.internal", 1,
			 w->t + lat(g, 0.8, 0.4)) +
	       lat(g, 2.5, 0.4);
	span_end(g, a, w->t);

	size_t l = span_begin(g, r, w->h, SC_APP, "rate_limit_check", SPAN_KIND_INTERNAL, w->t);
	set_i(g, l, "ratelimit.limit", 600);
	set_i(g, l, "ratelimit.remaining", rng_range(g->r, 50, 599));
	set_s(g, l, "ratelimit.policy", "tenant-per-minute");
	set_s(g, l, "ratelimit.key", tenant);
	set_b(g, l, "ratelimit.allowed", 1);
	code_attrs(g, l, "gateway/ratelimit.(*Limiter).Allow", "gateway/ratelimit/limiter.go", 38);
	w->t = redis_cmd(g, l, w->h, "INCR", "INCR ratelimit:?", "gateway-cache.internal", -1,
			 w->t + lat(g, 0.2, 0.4)) +
	       lat(g, 0.4, 0.4);
	span_end(g, l, w->t);

	gw_plugins(g, gw_phase(g, w, "plugin_pre_invoke", 12, "gateway/plugins.(*Chain).PreInvoke", 120),
		   "pre");
}

static void gw_end(struct gen *g, struct gw *w, struct res up)
{
	int code = upstream_code(up);
	gw_plugins(g, gw_phase(g, w, "plugin_post_invoke", 8, "gateway/plugins.(*Chain).PostInvoke", 151),
		   "post");
	size_t z = gw_phase(g, w, "response_serialize", 2.5, "gateway/codec.(*JSON).Encode", 29);
	set_s(g, z, "serialization.format", "json");
	set_i(g, z, "http.response.body.size", rng_range(g->r, 200, 40000));
	w->t += lat(g, 0.2, 0.4);
	set_i(g, w->root, "http.response.status_code", code);
	if (code >= 500)
		span_fail(g, w->root, up.fail == FAIL_TIMEOUT ? "timeout" : code_str(code), NULL, w->t);
	span_end(g, w->root, w->t);
}

/* POST /tools/invoke: the seed's request -- a tool run by an agent service. */
static void trace_tool_invoke(struct gen *g, uint64_t start)
{
	struct gw w;
	struct tool_call tc;
	double u = rng_double(g->r);
	int tool = u < 0.4 ? TOOL_DB_QUERY : u < 0.75 ? TOOL_WEB_SEARCH : TOOL_CODE;
	int agent = tool_agent(g, tool);

	tool_call_make(g, &tc, tool, agent, agent == SVC_SUPPORT_AGENT);
	gw_begin(g, &w, "POST /tools/invoke", "POST", "/tools/invoke", "/tools/invoke", start);
	set_s(g, w.root, "gen_ai.tool.name", tool_names[tool]);
	set_s(g, w.root, "tool.args_hash", tc.args_hash);
	set_s(g, w.root, "intent.category", services[agent].intent);

	/* The seed's phase: the gateway's wrapper around the call, not the tool itself. */
	size_t te = span_begin(g, w.root, w.h, SC_APP, "tool_execution", SPAN_KIND_INTERNAL, w.t);
	set_s(g, te, "service.peer.name", services[agent].name);
	set_i(g, te, "gateway.timeout_ms", 30000);
	code_attrs(g, te, "gateway/tools.(*Invoker).Invoke", "gateway/tools/invoke.go", 77);
	struct res r = http_call(g, te, w.h, agent, "POST /v1/tools/{tool}/invoke", "POST",
				 "/v1/tools/{tool}/invoke", tool_paths[tool], agent_tool_handler, &tc,
				 w.t + lat(g, 0.3, 0.4));
	w.t = r.end + lat(g, 0.3, 0.4);
	if (r.code >= 500)
		span_fail(g, te, r.fail == FAIL_TIMEOUT ? "timeout" : code_str(r.code), NULL, w.t);
	span_end(g, te, w.t);
	gw_end(g, &w, r);
}

/* POST /v1/agents/{agent}/run: a multi-step agent conversation turn. */
static void trace_agent_run(struct gen *g, uint64_t start)
{
	static const int agents[3] = {SVC_SUPPORT_AGENT, SVC_CODE_AGENT, SVC_RESEARCH_AGENT};
	static const char *const paths[3] = {"/v1/agents/support-agent/run", "/v1/agents/code-agent/run",
					     "/v1/agents/research-agent/run"};
	double u = rng_double(g->r);
	int k = u < 0.45 ? 0 : u < 0.75 ? 1 : 2;
	struct gw w;

	gw_begin(g, &w, "POST /v1/agents/{agent}/run", "POST", "/v1/agents/{agent}/run", paths[k], start);
	set_s(g, w.root, "intent.category", services[agents[k]].intent);
	size_t ae = span_begin(g, w.root, w.h, SC_APP, "agent_execution", SPAN_KIND_INTERNAL, w.t);
	set_s(g, ae, "service.peer.name", services[agents[k]].name);
	set_i(g, ae, "gateway.timeout_ms", 60000);
	code_attrs(g, ae, "gateway/agents.(*Runner).Run", "gateway/agents/run.go", 52);
	struct res r = http_call(g, ae, w.h, agents[k], "POST /v1/agents/{agent}/run", "POST",
				 "/v1/agents/{agent}/run", paths[k], agent_run_handler, &agents[k],
				 w.t + lat(g, 0.3, 0.4));
	w.t = r.end + lat(g, 0.3, 0.4);
	if (r.code >= 500)
		span_fail(g, ae, code_str(r.code), NULL, w.t);
	span_end(g, ae, w.t);
	gw_end(g, &w, r);
}

/* A proxied commerce API call: gateway phases around one upstream request. */
static void trace_proxied(struct gen *g, uint64_t start, const char *name, const char *method,
			  const char *route, const char *path, int svc, handler_fn fn, const void *arg)
{
	struct gw w;
	gw_begin(g, &w, name, method, route, path, start);
	/* The gateway's own resource says "routing"; the request's intent is its target's. */
	set_s(g, w.root, "intent.category", services[svc].intent);
	struct res r = http_call(g, w.root, w.h, svc, name, method, route, path, fn, arg, w.t);
	w.t = r.end;
	gw_end(g, &w, r);
}

static void trace_request(struct gen *g, uint64_t start)
{
	double u = rng_double(g->r);
	if (u < 0.30) {
		trace_tool_invoke(g, start);
	} else if (u < 0.42) {
		trace_agent_run(g, start);
	} else if (u < 0.54) {
		const char *customer = str_num(g, "cust-", rng_range(g->r, 1000, 250000), NULL);
		trace_proxied(g, start, "GET /api/orders", "GET", "/api/orders", "/api/orders", SVC_ORDER,
			      orders_list_handler, customer);
	} else if (u < 0.66) {
		uint64_t id = rng_range(g->r, 10000000, 99999999);
		const char *arg[2] = {str_num(g, "", id, NULL), str_num(g, "/api/orders/", id, NULL)};
		trace_proxied(g, start, "GET /api/orders/{id}", "GET", "/api/orders/{id}", arg[1], SVC_ORDER,
			      order_get_handler, arg);
	} else if (u < 0.76) {
		trace_proxied(g, start, "POST /api/checkout", "POST", "/api/checkout", "/api/checkout",
			      SVC_CHECKOUT, checkout_handler, tenants[rng_below(g->r, 6)]);
	} else {
		uint64_t sku = rng_range(g->r, 10000, 99999);
		const char *arg[2] = {str_num(g, "SKU-", sku, NULL),
				      str_num(g, "/api/prices/SKU-", sku, NULL)};
		trace_proxied(g, start, "GET /api/prices/{sku}", "GET", "/api/prices/{sku}", arg[1],
			      SVC_PRICING, price_get_handler, arg);
	}
}

static int env_pick(struct rng *r)
{
	double u = rng_double(r);
	return u < env_share[ENV_PROD]				  ? ENV_PROD
	       : u < env_share[ENV_PROD] + env_share[ENV_STAGING] ? ENV_STAGING
								  : ENV_DEV;
}

size_t scenario_generate(struct scenario *sc, struct batch *b, uint64_t from_ns, uint64_t to_ns,
			 unsigned n_requests)
{
	struct gen *g = xcalloc(1, sizeof(*g));
	size_t before = b->n_spans;
	uint64_t width = to_ns > from_ns ? to_ns - from_ns : 0;

	if (!sc->cfg.start_ns)
		sc->cfg.start_ns = from_ns;
	g->sc = sc;
	g->r = &sc->rng;
	g->b = b;
	g->problems = sc->cfg.problems;
	for (unsigned n = 0; n < n_requests; n++) {
		uint64_t start = from_ns + rng_below(g->r, width);
		g->env = env_pick(g->r);
		/* Busy hours are a little slower everywhere. */
		g->slow = env_slowdown[g->env] * (0.92 + 0.08 * scenario_load(start));
		new_trace_id(g);
		trace_request(g, start);
		sc->n_traces++;
		if (g->msg.pending) {
			trace_order_created_consumer(g);
			sc->n_traces++;
		}
	}
	free(g);
	sc->n_spans += b->n_spans - before;
	return b->n_spans - before;
}

/* ---- resource metrics ---------------------------------------------------- */

static struct attr *point_attrs(struct batch *b, struct metric_point *p, uint32_t n)
{
	p->attrs = arena_alloc(&b->arena, n * sizeof(struct attr));
	p->n_attrs = n;
	return p->attrs;
}

static struct metric_point *gauge(struct batch *b, const struct resource *r, const char *name,
				  const char *unit, uint64_t t_ns, double v)
{
	struct metric_point *p = batch_add_point(b);
	p->resource = r;
	p->name = name;
	p->unit = unit;
	p->type = METRIC_GAUGE;
	p->time_ns = t_ns;
	p->value = v;
	return p;
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void pool_points(struct gen *g, const struct resource *r, int svc, int env, uint64_t t_ns, double load,
			struct rng *mr)
{
	const struct service_def *d = &services[svc];
	double max = d->pool_max, used, pending = 0;
	static const double env_traffic[ENV_COUNT] = {1.0, 0.35, 0.15};

	if (svc == SVC_INVENTORY && env == ENV_PROD) {
		used = clamp(floor(3 + 5.5 * load + rng_normal(mr) * 0.8), 1, max - 1);
		if (!(g->problems & SCENARIO_POOL_EXHAUSTION))
			used = clamp(used, 1, 7);
		if (scenario_pool_exhausted(g->sc, t_ns)) {
			used = max;
			pending = (double)rng_range(mr, 3, 14);
		}
	} else {
		used = clamp(floor(max * (0.1 + 0.25 * load * env_traffic[env]) + rng_normal(mr)), 0,
			     max * 0.7);
	}
	struct metric_point *p = gauge(g->b, r, "db.client.connection.count", "{connection}", t_ns, used);
	struct attr *a = point_attrs(g->b, p, 2);
	attr_set_str(&a[0], "db.client.connection.pool.name", d->pool);
	attr_set_str(&a[1], "db.client.connection.state", "used");
	p = gauge(g->b, r, "db.client.connection.count", "{connection}", t_ns, max - used);
	a = point_attrs(g->b, p, 2);
	attr_set_str(&a[0], "db.client.connection.pool.name", d->pool);
	attr_set_str(&a[1], "db.client.connection.state", "idle");
	p = gauge(g->b, r, "db.client.connection.max", "{connection}", t_ns, max);
	attr_set_str(point_attrs(g->b, p, 1), "db.client.connection.pool.name", d->pool);
	p = gauge(g->b, r, "db.client.connection.pending_requests", "{request}", t_ns, pending);
	attr_set_str(point_attrs(g->b, p, 1), "db.client.connection.pool.name", d->pool);
}

/* Memory: a garbage-collected sawtooth, except for the leaking service. */
static double memory_bytes(const struct scenario *sc, int svc, int ver, int env, uint64_t t_ns,
			   struct rng *mr)
{
	const struct service_def *d = &services[svc];
	double mib = d->mem_mib * (env == ENV_PROD ? 1.0 : 0.7);
	if (svc == SVC_CODE_AGENT && (sc->cfg.problems & SCENARIO_MEMORY_LEAK)) {
		/* Conversation history is cached per session and never evicted. */
		double hours =
			t_ns > sc->cfg.start_ns ? (double)(t_ns - sc->cfg.start_ns) / (double)NS_PER_HOUR : 0;
		mib += 48.0 * hours * (env == ENV_PROD ? 1.0 : 0.3);
		mib *= 1 + 0.01 * rng_normal(mr);
	} else {
		uint64_t period = 15 * NS_PER_MIN;
		uint64_t phase = (uint64_t)(svc * 131 + ver * 37 + env * 11) * NS_PER_MIN;
		double saw = (double)((t_ns + phase) % period) / (double)period;
		mib *= 1 + 0.15 * saw + 0.01 * rng_normal(mr);
	}
	return floor(mib * 1048576.0);
}

/* One sample of every instance's metrics at t_ns. */
static void metrics_sample(struct gen *g, uint64_t t_ns)
{
	static const double env_cpu[ENV_COUNT] = {1.0, 0.45, 0.25};
	double load = scenario_load(t_ns);
	struct scenario *sc = g->sc;
	/* Metrics draw from their own stream: a pure function of (seed, time). */
	struct rng mr;

	rng_seed(&mr, sc->cfg.seed ^ (t_ns * 0x9e3779b97f4a7c15ull));
	for (int env = 0; env < ENV_COUNT; env++) {
		g->env = env;
		for (int svc = 0; svc < SVC_COUNT; svc++) {
			for (int ver = 0; ver < 2; ver++) {
				struct hop h = {(uint8_t)svc, (uint8_t)ver};
				const struct resource *r = resource_for(g, h);
				double cpu = services[svc].cpu * env_cpu[env] * (0.35 + 0.65 * load);
				if (svc == SVC_INVENTORY && env == ENV_PROD &&
				    scenario_pool_exhausted(sc, t_ns))
					cpu += 0.12;
				cpu = clamp(cpu + 0.03 * rng_normal(&mr), 0.005, 0.99);
				gauge(g->b, r, "process.cpu.utilization", "1", t_ns, cpu);
				gauge(g->b, r, "process.memory.usage", "By", t_ns,
				      memory_bytes(sc, svc, ver, env, t_ns, &mr));
				if (services[svc].pool)
					pool_points(g, r, svc, env, t_ns, load, &mr);
			}
		}
	}
}

size_t scenario_metrics_range(struct scenario *sc, struct batch *b, uint64_t from_ns, uint64_t to_ns,
			      uint64_t step_ns)
{
	struct gen *g = xcalloc(1, sizeof(*g));
	size_t before = b->n_points;

	if (!sc->cfg.start_ns)
		sc->cfg.start_ns = from_ns;
	g->sc = sc;
	g->b = b;
	g->problems = sc->cfg.problems;
	for (uint64_t t = from_ns; t < to_ns; t += step_ns ? step_ns : to_ns - from_ns)
		metrics_sample(g, t);
	free(g);
	sc->n_points += b->n_points - before;
	return b->n_points - before;
}

size_t scenario_metrics(struct scenario *sc, struct batch *b, uint64_t t_ns)
{
	return scenario_metrics_range(sc, b, t_ns, t_ns + 1, 1);
}
