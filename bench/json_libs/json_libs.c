/*
 * json_libs.c - which JSON library should decode OTLP/JSON?
 *
 * A stand-alone benchmark (not part of `make bench`; see README.md beside
 * this file).  It generates one realistic ExportTraceServiceRequest (1000
 * spans, 10 attributes each, hex ids, int64 timestamps as strings), then for
 * each candidate parses it and walks the result the way a decoder must:
 * ids hex-decoded, timestamps converted, every attribute's key and typed
 * value read.  Reports the median of several runs as MB/s and spans/s.
 *
 * Candidates (Debian packages): cJSON, jansson, json-c, yajl (its DOM,
 * yajl_tree, and its event API, yajl_parse).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_libs.h"

#define N_SPANS		   1000
#define SPANS_PER_RESOURCE 100
#define RUNS		   21

/* --- the input --------------------------------------------------------- */

struct text {
	char *p;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		t->cap = t->cap * 2 + (size_t)n;
		t->p = realloc(t->p, t->cap);
		if (!t->p)
			abort();
	}
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void put_hex(struct text *t, int bytes)
{
	put(t, "\"");
	for (int i = 0; i < bytes; i += 8)
		put(t, "%016llx", (unsigned long long)next_rand());
	t->len -= (size_t)(bytes < 8 ? 16 - 2 * bytes : 0);
	put(t, "\"");
}

static char *make_request(size_t *len)
{
	static const char *const routes[] = {"/tools/invoke", "/api/users/{id}", "/health", "/search"};
	static const char *const tools[] = {"database-query", "web-search", "file-read", "summarize"};
	struct text t = {malloc(1 << 16), 0, 1 << 16};
	uint64_t t0 = 1730000000000000000ull;
	put(&t, "{\"resourceSpans\":[");
	for (int r = 0; r < N_SPANS / SPANS_PER_RESOURCE; r++) {
		put(&t, "%s{\"resource\":{\"attributes\":[", r ? "," : "");
		put(&t, "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc-%d\"}},", r);
		put(&t, "{\"key\":\"service.version\",\"value\":{\"stringValue\":\"1.4.%d\"}},", r);
		put(&t, "{\"key\":\"deployment.environment.name\",\"value\":{\"stringValue\":\"prod\"}},");
		put(&t, "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"node-%d.example.internal\"}}",
		    r);
		put(&t, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"hotpath-bench\",\"version\":\"1.0.0\"},"
			"\"spans\":[");
		for (int i = 0; i < SPANS_PER_RESOURCE; i++) {
			uint64_t start = t0 + next_rand() % 1000000000000ull;
			uint64_t dur = next_rand() % 500000000ull;
			put(&t, "%s{\"traceId\":", i ? "," : "");
			put_hex(&t, 16);
			put(&t, ",\"spanId\":");
			put_hex(&t, 8);
			put(&t, ",\"parentSpanId\":");
			put_hex(&t, 8);
			put(&t, ",\"name\":\"POST %s\",\"kind\":%d,", routes[i % 4], i % 3 ? 1 : 2);
			put(&t, "\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\",",
			    (unsigned long long)start, (unsigned long long)(start + dur));
			put(&t,
			    "\"attributes\":["
			    "{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"POST\"}},"
			    "{\"key\":\"http.route\",\"value\":{\"stringValue\":\"%s\"}},"
			    "{\"key\":\"url.path\",\"value\":{\"stringValue\":\"%s\"}},"
			    "{\"key\":\"http.response.status_code\",\"value\":{\"intValue\":\"%d\"}},"
			    "{\"key\":\"gen_ai.tool.name\",\"value\":{\"stringValue\":\"%s\"}},"
			    "{\"key\":\"db.system.name\",\"value\":{\"stringValue\":\"postgresql\"}},"
			    "{\"key\":\"db.query.text\",\"value\":{\"stringValue\":"
			    "\"SELECT id, name FROM users WHERE id = $1\"}},"
			    "{\"key\":\"server.port\",\"value\":{\"intValue\":%d}},"
			    "{\"key\":\"sampling.ratio\",\"value\":{\"doubleValue\":0.25}},"
			    "{\"key\":\"cache.hit\",\"value\":{\"boolValue\":%s}}],",
			    routes[i % 4], routes[i % 4], i % 17 ? 200 : 500, tools[i % 4], 8080 + i % 3,
			    i % 2 ? "true" : "false");
			put(&t, "\"droppedAttributesCount\":0,\"status\":{\"code\":%d}}", i % 17 ? 1 : 2);
		}
		put(&t, "]}]}");
	}
	put(&t, "]}");
	*len = t.len;
	return t.p;
}

/* --- what every walk extracts ------------------------------------------ */

static int nib(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void sink_hex(struct sink *k, const char *s, size_t len)
{
	uint8_t out[16];
	if (!s || len > 32 || len % 2)
		return;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = nib(s[2 * i]), lo = nib(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	k->sum += out[0] + out[len / 2 - 1];
}

void sink_u64str(struct sink *k, const char *s)
{
	if (s)
		k->sum += strtoull(s, NULL, 10);
}

void sink_str(struct sink *k, const char *s)
{
	if (s)
		k->sum += (unsigned char)s[0] + strlen(s);
}

/* --- the harness ---------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct candidate {
	const char *name;
	int (*run)(const char *json, size_t len, struct sink *k);
};

int main(int argc, char **argv)
{
	static const struct candidate cands[] = {
		{"cJSON (DOM)", run_cjson},
		{"jansson (DOM)", run_jansson},
		{"json-c (DOM)", run_jsonc},
		{"yajl_tree (DOM)", run_yajl_tree},
		{"yajl_parse (events)", run_yajl_events},
		{"yajl_parse + hotpath json_doc (arena tree)", run_json_doc},
		{"hotpath otlp_json_decode_traces (full decode)", run_hotpath},
	};
	int runs = argc > 1 ? atoi(argv[1]) : RUNS;
	if (runs < 1)
		runs = 1;
	size_t len;
	char *json = make_request(&len);
	printf("cJSON %s, jansson %s, json-c %s, yajl %s\n", version_cjson(), version_jansson(),
	       version_jsonc(), version_yajl());
	printf("input: %zu bytes, %d spans, %zu bytes/span, median of %d runs\n\n", len, N_SPANS,
	       len / N_SPANS, runs);
	printf("| library | median ms | MB/s | spans/s | checksum |\n");
	printf("| --- | ---: | ---: | ---: | --- |\n");
	double *t = calloc((size_t)runs, sizeof(*t));
	for (size_t c = 0; c < sizeof(cands) / sizeof(cands[0]); c++) {
		if (argc > 2 && !strstr(cands[c].name, argv[2]))
			continue;
		struct sink k = {0};
		if (cands[c].run(json, len, &k) < 0 || k.spans != N_SPANS) { /* warm-up and check */
			printf("| %s | failed (%zu spans) | | | |\n", cands[c].name, k.spans);
			continue;
		}
		uint64_t check = k.sum;
		size_t n_attrs = k.attrs;
		for (int r = 0; r < runs; r++) {
			struct sink kk = {0};
			double t0 = now();
			cands[c].run(json, len, &kk);
			t[r] = now() - t0;
			if (kk.sum != check)
				printf("# %s: checksum differs between runs\n", cands[c].name);
		}
		qsort(t, (size_t)runs, sizeof(*t), cmp_double);
		double med = t[runs / 2];
		printf("| %s | %.3f | %.0f | %.0f | %016llx (%zu attrs) |\n", cands[c].name, med * 1e3,
		       (double)len / med / 1e6, N_SPANS / med, (unsigned long long)check, n_attrs);
	}
	free(t);
	free(json);
	return 0;
}
