/*
 * test_semconv.c - what spans mean: path templates, the endpoint of a
 * request without an http.route, which spans are entry spans and which
 * are a web framework's wrappers around the handler.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "ingest/semconv.h"
#include "tap.h"

/* A SERVER span of `service` named `name` with up to three string
 * attributes (key, value pairs; NULL keys are skipped). */
struct one_span {
	struct span sp;
	struct resource res;
	struct attr attrs[3];
};

static const struct span *server_span(struct one_span *o, const char *service, const char *name,
				      const char *k1, const char *v1, const char *k2, const char *v2,
				      const char *k3, const char *v3)
{
	const char *kv[3][2] = {{k1, v1}, {k2, v2}, {k3, v3}};
	memset(o, 0, sizeof(*o));
	o->res.service_name = service;
	o->sp.resource = &o->res;
	o->sp.name = name;
	o->sp.kind = SPAN_KIND_SERVER;
	o->sp.attrs = o->attrs;
	for (int i = 0; i < 3; i++)
		if (kv[i][0])
			o->attrs[o->sp.n_attrs++] =
				(struct attr){.key = kv[i][0], .type = ATTR_STRING, .v.s = kv[i][1]};
	return &o->sp;
}

static void test_placeholders(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"123", "{id}"},
		{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "{id}"},
		{"9f86d081884c7d659a2feaa0c55ad015", "{id}"},
		{"a1b2c3d4", "{id}"},
		{"ORD-12345", "{id}"},
		{"2024-01-02", "{date}"},
		{"2024-01-02T10:00:00Z", "{date}"},
		{"eyJhbGciOiJIUzI1NiJ9", "{token}"},
		{"dGhpcy1pcy1hLXNlY3JldC10b2tlbg2", "{token}"},
		{"v2", NULL},
		{"items", NULL},
		{"api", NULL},
		{"2fa", NULL},
		{"page-2", NULL},
		{"item42", NULL},
		{"v1.2.3", NULL},
		{"deadbeef", NULL},
		{"getUserProfileSettings", NULL},
		{"order-items-2024-archive", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_str(semconv_id_placeholder(cases[i].in, strlen(cases[i].in)), cases[i].want, "segment %s",
		       cases[i].in);
}

static void test_templates(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{"/users/123/profile", "/users/{id}/profile"},
		{"/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301/items", "/orders/{id}/items"},
		{"/blobs/9f86d081884c7d659a2feaa0c55ad015", "/blobs/{id}"},
		{"/v2/items", "/v2/items"},
		{"/api/orders/2024-01-02", "/api/orders/{date}"},
		{"/reset/eyJhbGciOiJIUzI1NiJ9/confirm", "/reset/{token}/confirm"},
		{"/search?q=shoes&page=2", "/search"},
		{"/a/1#frag", "/a/{id}"},
		{"https://shop.example:8443/carts/77?x=1", "/carts/{id}"},
		{"http://127.0.0.1:3001", "/"},
		{"", "/"},
		{"/redirect/http://x/1", "/redirect/http://x/{id}"},
	};
	char out[128];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		semconv_path_template(out, sizeof(out), cases[i].in);
		is_str(out, cases[i].want, "template of '%s'", cases[i].in);
	}
	size_t n = semconv_path_template(out, 10, "/users/123/profile");
	is_str(out, "/users/{i", "bounded output");
	is_int(n, 9, "its length");
}

static void test_endpoints(void)
{
	struct one_span o;
	struct arena a;
	arena_init(&a);
	const struct span *sp = server_span(&o, "shop", "GET", "http.request.method", "GET", "url.path",
					    "/users/123/profile", NULL, NULL);
	is_str(span_endpoint(&a, sp), "GET /users/{id}/profile", "url.path without a route");
	sp = server_span(&o, "shop", "GET", "http.request.method", "GET", "url.path", "/users/123/profile",
			 "http.route", "/users/:userId/profile");
	is_str(span_endpoint(&a, sp), "GET /users/:userId/profile", "a real route wins");
	sp = server_span(&o, "shop", "HTTP POST", "http.method", "POST", "http.target", "/carts/42?coupon=x",
			 NULL, NULL);
	is_str(span_endpoint(&a, sp), "POST /carts/{id}", "old conventions: http.method + http.target");
	sp = server_span(&o, "shop", "GET", "http.method", "GET", "http.url",
			 "http://shop:8080/orders/2024-01-02", NULL, NULL);
	is_str(span_endpoint(&a, sp), "GET /orders/{date}", "the path of http.url");
	sp = server_span(&o, "shop", "GET /legacy/items", "http.request.method", "GET", "url.path",
			 "/legacy/items/9", NULL, NULL);
	is_str(span_endpoint(&a, sp), "GET /legacy/items", "a span name with a path is kept");
	sp = server_span(&o, "shop", "checkout", NULL, NULL, "url.path", "/checkout/1", NULL, NULL);
	is_str(span_endpoint(&a, sp), "checkout", "no method: the span name");
	arena_release(&a);
}

/* Past SEMCONV_MAX_DERIVED_PATHS distinct paths a service's new ones fold;
 * those admitted before stay, and another service has its own budget. */
static void test_cardinality(void)
{
	struct one_span o;
	struct arena a;
	char path[64], want[80];
	int folded = 0, kept = 0;
	arena_init(&a);
	/* words, not ids: every path templates to itself */
	for (int i = 0; i < SEMCONV_MAX_DERIVED_PATHS + 20; i++) {
		snprintf(path, sizeof(path), "/search/term%c%c", 'a' + i / 26 % 26, 'a' + i % 26);
		snprintf(want, sizeof(want), "GET %s", path);
		const char *ep = span_endpoint(&a, server_span(&o, "wiki", "GET", "http.request.method",
							       "GET", "url.path", path, NULL, NULL));
		kept += !strcmp(ep, want);
		folded += !strcmp(ep, "GET {other}");
	}
	is_int(kept, SEMCONV_MAX_DERIVED_PATHS, "the first %d paths stand apart", SEMCONV_MAX_DERIVED_PATHS);
	is_int(folded, 20, "the rest fold into one bucket");
	is_str(span_endpoint(&a, server_span(&o, "wiki", "GET", "http.request.method", "GET", "url.path",
					     "/search/termaa", NULL, NULL)),
	       "GET /search/termaa", "an admitted path stays");
	is_str(span_endpoint(&a, server_span(&o, "blog", "GET", "http.request.method", "GET", "url.path",
					     "/search/termzz", NULL, NULL)),
	       "GET /search/termzz", "another service has its own budget");
	is_str(span_endpoint(&a, server_span(&o, "wiki", "GET", "http.request.method", "GET", "http.route",
					     "/search/:term", NULL, NULL)),
	       "GET /search/:term", "real routes are not counted against it");
	arena_release(&a);
}

/* Node's dns and net instrumentations send connection set-ups as roots. */
static void test_entry_spans(void)
{
	struct one_span o;
	struct span *sp =
		(struct span *)server_span(&o, "shop", "dns.lookup", NULL, NULL, NULL, NULL, NULL, NULL);
	sp->kind = SPAN_KIND_CLIENT;
	ok(span_is_connection_setup(sp) && !span_is_entry(sp), "a root dns.lookup is no request");
	sp->name = "tcp.connect";
	sp->kind = SPAN_KIND_INTERNAL;
	ok(!span_is_entry(sp), "nor a root tcp.connect");
	sp->name = "nightly-export";
	ok(span_is_entry(sp), "another root span is a request");
	sp->name = "GET";
	sp->kind = SPAN_KIND_CLIENT;
	ok(span_is_entry(sp), "so is a root call out (a job's request)");
	struct attr url = {.key = "url.full",
			   .type = ATTR_STRING,
			   .v.s = "http://127.0.0.1:4318/ingest?name=shop&from=1&until=2"};
	sp->attrs = &url;
	sp->n_attrs = 1;
	sp->name = "POST";
	ok(!span_is_entry(sp), "but not a profiler's upload");
	url.v.s = "http://10.0.0.1:8080/api/ingest";
	ok(span_is_entry(sp), "a call to an application's own /ingest route is");
	sp->n_attrs = 0;
	sp->parent_span_id[0] = 1;
	ok(!span_is_entry(sp), "a call with a parent is not");
	sp->kind = SPAN_KIND_SERVER;
	ok(span_is_entry(sp), "a SERVER span with a parent is");
	sp->name = "dns.lookup";
	ok(!span_is_connection_setup(sp) || span_is_entry(sp), "the kind decides for SERVER spans");
	sp->name = "dnsx";
	ok(!span_is_connection_setup(sp), "only dns.* names");
}

static void test_framework_wrappers(void)
{
	struct one_span o;
	struct span *sp = (struct span *)server_span(&o, "shop", "request handler - /x", "express.name", "/x",
						     NULL, NULL, NULL, NULL);
	sp->kind = SPAN_KIND_INTERNAL;
	sp->scope_name = "@opentelemetry/instrumentation-express";
	ok(span_is_framework_wrapper(sp), "express's \"request handler - /x\" wraps the handler");
	sp->name = "middleware - query";
	ok(span_is_framework_wrapper(sp), "so does its \"middleware - query\"");
	sp->kind = SPAN_KIND_UNSPECIFIED;
	ok(span_is_framework_wrapper(sp), "also sent with no kind");

	sp = (struct span *)server_span(&o, "shop", "request handler - /x", "express.type", "request_handler",
					NULL, NULL, NULL, NULL);
	sp->kind = SPAN_KIND_INTERNAL;
	ok(span_is_framework_wrapper(sp), "an INTERNAL span with express.type, whatever its scope");
	ok(semconv_is_framework_key("express.type") && semconv_is_framework_key("fastify.type") &&
		   !semconv_is_framework_key("http.route") && !semconv_is_framework_key(NULL),
	   "the attributes it reads are told");

	sp = (struct span *)server_span(&o, "shop", "scoreRecommendations", "app.products", "6000", NULL,
					NULL, NULL, NULL);
	sp->kind = SPAN_KIND_INTERNAL;
	sp->scope_name = "shop";
	ok(!span_is_framework_wrapper(sp), "an application's own INTERNAL span is work");
	sp->scope_name = "@opentelemetry/instrumentation-express-extra";
	ok(!span_is_framework_wrapper(sp), "a scope is matched whole, not by its prefix");
	sp->scope_name = NULL;
	sp->name = "middleware - query";
	ok(!span_is_framework_wrapper(sp), "a name alone does not make a wrapper");

	sp = (struct span *)server_span(&o, "shop", "GET", "express.type", "request_handler", NULL, NULL,
					NULL, NULL);
	sp->kind = SPAN_KIND_CLIENT;
	sp->scope_name = "@opentelemetry/instrumentation-express";
	ok(!span_is_framework_wrapper(sp), "a CLIENT span is a call, never a wrapper");
	sp->kind = SPAN_KIND_SERVER;
	ok(!span_is_framework_wrapper(sp), "nor is a SERVER span");
}

int main(void)
{
	test_placeholders();
	test_templates();
	test_endpoints();
	test_cardinality();
	test_entry_spans();
	test_framework_wrappers();
	return tap_done();
}
