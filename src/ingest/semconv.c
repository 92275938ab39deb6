/*
 * semconv.c - what spans mean, read from OpenTelemetry semantic-convention
 * attributes (see semconv.h and docs/ATTRIBUTES.md).
 */
#include "ingest/semconv.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/hex.h"
#include "core/strmap.h"
#include "ingest/telemetry.h"

/* Path templates kept at most, all services together, before every new
 * derived path folds (bounds the guard's own memory). */
#define DERIVED_PATHS_TOTAL 100000

int span_is_connection_setup(const struct span *sp)
{
	static const char *const names[] = {"tcp.connect", "tls.connect", "ipc.connect", "net.connect", NULL};
	const char *n = sp->name ? sp->name : "";
	if (!strncmp(n, "dns.", 4))
		return 1;
	for (size_t i = 0; names[i]; i++)
		if (!strcmp(n, names[i]))
			return 1;
	return 0;
}

/* Instrumentations of web frameworks, and the attributes by which their spans say what they wrap. */
static const char *const framework_scopes[] = {
	"@opentelemetry/instrumentation-express",     "@fastify/otel",
	"@opentelemetry/instrumentation-fastify",     "@opentelemetry/instrumentation-koa",
	"@opentelemetry/instrumentation-hapi",	      "@opentelemetry/instrumentation-restify",
	"@opentelemetry/instrumentation-connect",     "@opentelemetry/instrumentation-router",
	"@opentelemetry/instrumentation-nestjs-core", NULL};
static const char *const framework_keys[] = {"express.type", "fastify.type",	"koa.type",
					     "hapi.type",    "restify.type",	"connect.type",
					     "nestjs.type",  "asgi.event.type", NULL};

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

int semconv_is_framework_key(const char *key)
{
	return key && in_list(key, framework_keys);
}

int span_is_framework_wrapper(const struct span *sp)
{
	if (sp->kind != SPAN_KIND_INTERNAL && sp->kind != SPAN_KIND_UNSPECIFIED)
		return 0;
	if (sp->scope_name && in_list(sp->scope_name, framework_scopes))
		return 1;
	for (size_t i = 0; i < sp->n_attrs; i++)
		if (sp->attrs[i].key && in_list(sp->attrs[i].key, framework_keys))
			return 1;
	return 0;
}

int span_is_entry(const struct span *sp)
{
	if (sp->kind == SPAN_KIND_SERVER || sp->kind == SPAN_KIND_CONSUMER)
		return 1;
	return hex_is_zero(sp->parent_span_id, 8) && !span_is_connection_setup(sp) &&
	       !telemetry_span_is_export(sp);
}

static int contains_timeout(const char *s)
{
	return s && (strcasestr(s, "timeout") || strcasestr(s, "timed out") || strcasestr(s, "deadline"));
}

enum request_status span_request_status(const struct span *sp)
{
	if (contains_timeout(attr_str(sp->attrs, sp->n_attrs, "error.type")))
		return REQUEST_TIMEOUT;
	if (sp->status != SPAN_STATUS_ERROR)
		return REQUEST_OK;
	return contains_timeout(sp->status_message) ? REQUEST_TIMEOUT : REQUEST_ERROR;
}

/* ---- path templates -------------------------------------------------------- */

static int all_of(const char *s, size_t n, int (*is)(int))
{
	for (size_t i = 0; i < n; i++)
		if (!is((unsigned char)s[i]))
			return 0;
	return n > 0;
}

static size_t count_of(const char *s, size_t n, int (*is)(int))
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += is((unsigned char)s[i]) != 0;
	return k;
}

/* 2024-01-02, alone or starting an RFC 3339 time. */
static int is_date(const char *s, size_t n)
{
	return n >= 10 && all_of(s, 4, isdigit) && s[4] == '-' && all_of(s + 5, 2, isdigit) && s[7] == '-' &&
	       all_of(s + 8, 2, isdigit) && (n == 10 || s[10] == 'T' || s[10] == 't');
}

static int is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int is_token_char(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '=' || c == '.' || c == '~' || c == '+';
}

/* A base64-like token: a run of 16+ letters and digits mixing both, or 20+
 * token characters mixing digits, capitals and small letters. */
static int is_token(const char *s, size_t n)
{
	if (!all_of(s, n, is_token_char))
		return 0;
	if (n >= 20 && count_of(s, n, isdigit) && count_of(s, n, isupper) && count_of(s, n, islower))
		return 1;
	for (size_t i = 0; i < n;) {
		size_t run = 0;
		while (i + run < n && isalnum((unsigned char)s[i + run]))
			run++;
		if (run >= 16 && count_of(s + i, run, isdigit) && count_of(s + i, run, isalpha))
			return 1;
		i += run ? run : 1;
	}
	return 0;
}

const char *semconv_id_placeholder(const char *s, size_t n)
{
	size_t digits = count_of(s, n, isdigit), alnum = count_of(s, n, isalnum);
	if (!n)
		return NULL;
	if (is_date(s, n))
		return "{date}";
	if (digits == n || is_uuid(s, n) || (n >= 8 && digits && all_of(s, n, isxdigit)))
		return "{id}";
	if (is_token(s, n))
		return "{token}";
	/* a code mostly of digits: ORD-12345, 12345.json (v2, item42, v1.2.3 stay) */
	if (n >= 6 && digits >= 4 && 2 * digits >= alnum && all_of(s, n, is_token_char))
		return "{id}";
	return NULL;
}

/* The path of a URL: after "scheme://host", else all of it. */
static const char *url_path(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p || strcspn(url, "/?#") < (size_t)(p - url))
		return url;
	p += 3;
	return p + strcspn(p, "/?#");
}

size_t semconv_path_template(char *out, size_t cap, const char *url)
{
	const char *s = url_path(url);
	size_t o = 0;
	if (!cap)
		return 0;
	if (*s != '/' && o + 1 < cap)
		out[o++] = '/';
	while (*s && *s != '?' && *s != '#' && o + 1 < cap) {
		if (*s == '/') {
			out[o++] = *s++;
			continue;
		}
		size_t n = strcspn(s, "/?#");
		const char *rep = semconv_id_placeholder(s, n);
		size_t len = rep ? strlen(rep) : n;
		if (len > cap - 1 - o)
			len = cap - 1 - o;
		memcpy(out + o, rep ? rep : s, len);
		o += len;
		s += n;
	}
	out[o] = 0;
	return o;
}

/* ---- endpoints ------------------------------------------------------------- */

/* The derived paths admitted so far: (service, endpoint) -> 1 and
 * service -> how many.  Process-wide, so every caller folds alike. */
static pthread_mutex_t derived_lock = PTHREAD_MUTEX_INITIALIZER;
static struct strmap derived_seen, derived_per_service;
static size_t derived_total;

/* 1 when `endpoint` may stand as its own endpoint of `service`. */
static int derived_admit(const char *service, const char *endpoint)
{
	size_t ls = strlen(service), le = strlen(endpoint);
	char key[512];
	int64_t n = 0, seen;
	int admit = 1;
	if (ls + 1 + le > sizeof(key))
		return 0;
	memcpy(key, service, ls);
	key[ls] = 0;
	memcpy(key + ls + 1, endpoint, le);
	pthread_mutex_lock(&derived_lock);
	if (strmap_get(&derived_seen, key, ls + 1 + le, &seen) == 0)
		goto out;
	strmap_get(&derived_per_service, service, ls, &n);
	if (n >= SEMCONV_MAX_DERIVED_PATHS || derived_total >= DERIVED_PATHS_TOTAL) {
		admit = 0;
		goto out;
	}
	strmap_put(&derived_seen, key, ls + 1 + le, 1);
	strmap_put(&derived_per_service, service, ls, n + 1);
	derived_total++;
out:
	pthread_mutex_unlock(&derived_lock);
	return admit;
}

static const char *join(struct arena *a, const char *x, const char *y)
{
	size_t lx = strlen(x), ly = strlen(y);
	char *s = arena_alloc(a, lx + ly + 2);
	memcpy(s, x, lx);
	s[lx] = ' ';
	memcpy(s + lx + 1, y, ly + 1);
	return s;
}

size_t semconv_derived_endpoint(char *out, size_t cap, const char *service, const char *method,
				const char *url)
{
	size_t lm = strlen(method);
	if (lm + 2 + sizeof("{other}") > cap)
		return 0;
	memcpy(out, method, lm);
	out[lm] = ' ';
	size_t room = cap - lm - 1 < 256 ? cap - lm - 1 : 256; /* paths are cut at 255 bytes */
	size_t n = lm + 1 + semconv_path_template(out + lm + 1, room, url);
	if (derived_admit(service ? service : "", out))
		return n;
	memcpy(out + lm + 1, "{other}", sizeof("{other}"));
	return lm + 1 + sizeof("{other}") - 1;
}

/* "GET /users/{id}" from the span's URL, or NULL without one. */
static const char *derived_endpoint(struct arena *a, const struct span *sp, const char *method)
{
	static const char *const keys[] = {"url.path", "http.target", "url.full", "http.url"};
	const char *url = NULL;
	char ep[300];
	for (size_t i = 0; !url && i < sizeof(keys) / sizeof(keys[0]); i++)
		url = attr_str(sp->attrs, sp->n_attrs, keys[i]);
	if (!url)
		return NULL;
	const char *service = sp->resource ? sp->resource->service_name : NULL;
	size_t n = semconv_derived_endpoint(ep, sizeof(ep), service, method, url);
	return n ? arena_strndup(a, ep, n) : NULL;
}

const char *span_endpoint(struct arena *a, const struct span *sp)
{
	const char *route = attr_str(sp->attrs, sp->n_attrs, "http.route");
	const char *method = attr_str(sp->attrs, sp->n_attrs, "http.request.method");
	const char *derived;
	if (!method)
		method = attr_str(sp->attrs, sp->n_attrs, "http.method");
	if (route && method)
		return join(a, method, route);
	if (method && (!sp->name || !strchr(sp->name, '/')) && (derived = derived_endpoint(a, sp, method)))
		return derived;
	return sp->name;
}

const char *span_error_type(struct arena *a, const struct span *sp, enum request_status st)
{
	if (st == REQUEST_OK)
		return NULL;
	if (st == REQUEST_TIMEOUT)
		return "timeout";
	const char *t = attr_str(sp->attrs, sp->n_attrs, "error.type");
	for (uint32_t i = 0; !t && i < sp->n_events; i++)
		if (sp->events[i].name && !strcmp(sp->events[i].name, "exception"))
			t = attr_str(sp->events[i].attrs, sp->events[i].n_attrs, "exception.type");
	const struct attr *code = attr_find(sp->attrs, sp->n_attrs, "http.response.status_code");
	if (!t && code && code->type == ATTR_INT) {
		char *s = arena_alloc(a, 24);
		snprintf(s, 24, "HTTP %lld", (long long)code->v.i);
		t = s;
	}
	return t ? t : "error";
}

const char *span_tool(const struct span *sp)
{
	const char *t = attr_str(sp->attrs, sp->n_attrs, "gen_ai.tool.name");
	return t ? t : attr_str(sp->attrs, sp->n_attrs, "tool.name");
}
