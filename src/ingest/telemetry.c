/*
 * telemetry.c - recognising the application's own telemetry exports among
 * its outgoing calls (see telemetry.h).  The endpoints are data: one table
 * of path endings, one of RPC service prefixes, one of user-agent prefixes.
 */
#include "ingest/telemetry.h"

#include <string.h>

/*
 * Paths of telemetry endpoints.  A path matches when it ends with `tail`
 * at a segment boundary (a proxy may put a prefix before it, as in
 * "/otlp/v1/traces"), and, when `query` is set, its query string has that
 * parameter (Pyroscope's "/ingest?name=app&from=..." — a bare "/ingest"
 * could be an application's own route).
 */
#define TAIL(s) s, sizeof(s) - 1
static const struct {
	const char *tail;
	size_t len;
	const char *param;
} export_paths[] = {
	{TAIL("/v1/traces"), NULL},		     /* OTLP/HTTP */
	{TAIL("/v1/metrics"), NULL},		     /* OTLP/HTTP */
	{TAIL("/v1/logs"), NULL},		     /* OTLP/HTTP */
	{TAIL("/v1development/profiles"), NULL},     /* OTLP/HTTP profiles */
	{TAIL("/v1experimental/profiles"), NULL},    /* OTLP/HTTP profiles, older */
	{TAIL("/ingest"), "name"},		     /* Pyroscope (also hotpath's own) */
	{TAIL("/push.v1.PusherService/Push"), NULL}, /* Pyroscope push API */
	{TAIL("/api/v1/profiles"), NULL},	     /* hotpath's profile upload */
	{TAIL("/api/traces"), NULL},		     /* Jaeger collector */
	{TAIL("/api/v2/spans"), NULL},		     /* Zipkin */
};

static const char *const export_rpc_prefixes[] = {
	"opentelemetry.proto.collector.", /* OTLP/gRPC: trace.v1.TraceService, ... */
	"push.v1.PusherService",	  /* Pyroscope */
	"jaeger.api_v2.CollectorService", /* Jaeger gRPC */
};

static const char *const export_agent_prefixes[] = {
	"OTel-OTLP-Exporter", /* every OpenTelemetry SDK's OTLP exporter */
	"pyroscope-",	      /* Pyroscope clients */
	"OTel Collector",     /* a collector forwarding */
};

static int has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

/* The path of a URL: after "scheme://host[:port]", or the whole string. */
static const char *path_of(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return url;
	p = strchr(p + 3, '/');
	return p ? p : "";
}

/* Whether the query string `q` (after '?') has the parameter `name`. */
static int has_param(const char *q, const char *name)
{
	size_t n = strlen(name);
	while (*q && *q != '#') {
		size_t k = strcspn(q, "&#"); /* one parameter */
		if (k >= n && !strncmp(q, name, n) && (k == n || q[n] == '='))
			return 1;
		q += k;
		if (*q == '&')
			q++;
	}
	return 0;
}

int telemetry_url_is_export(const char *url)
{
	if (!url)
		return 0;
	const char *path = path_of(url);
	size_t len = strcspn(path, "?#");
	const char *query = path[len] == '?' ? path + len + 1 : "";
	for (size_t i = 0; i < sizeof(export_paths) / sizeof(export_paths[0]); i++) {
		size_t lt = export_paths[i].len;
		/* the last letter first: most paths are none of these */
		if (len < lt || path[len - 1] != export_paths[i].tail[lt - 1] ||
		    memcmp(path + len - lt, export_paths[i].tail, lt))
			continue;
		if (!export_paths[i].param || has_param(query, export_paths[i].param))
			return 1;
	}
	return 0;
}

int telemetry_rpc_is_export(const char *rpc_service)
{
	if (!rpc_service)
		return 0;
	for (size_t i = 0; i < sizeof(export_rpc_prefixes) / sizeof(export_rpc_prefixes[0]); i++)
		if (has_prefix(rpc_service, export_rpc_prefixes[i]))
			return 1;
	return 0;
}

int telemetry_agent_is_export(const char *user_agent)
{
	if (!user_agent)
		return 0;
	for (size_t i = 0; i < sizeof(export_agent_prefixes) / sizeof(export_agent_prefixes[0]); i++)
		if (has_prefix(user_agent, export_agent_prefixes[i]))
			return 1;
	return 0;
}

int telemetry_span_is_export(const struct span *sp)
{
	static const char *const url_keys[] = {"url.full", "url.path", "http.target", "http.url"};
	if (sp->kind != SPAN_KIND_CLIENT && sp->kind != SPAN_KIND_PRODUCER)
		return 0;
	for (size_t i = 0; i < sizeof(url_keys) / sizeof(url_keys[0]); i++)
		if (telemetry_url_is_export(attr_str(sp->attrs, sp->n_attrs, url_keys[i])))
			return 1;
	if (telemetry_rpc_is_export(attr_str(sp->attrs, sp->n_attrs, "rpc.service")) ||
	    telemetry_agent_is_export(attr_str(sp->attrs, sp->n_attrs, "user_agent.original")))
		return 1;
	/* "POST /v1/traces": a name that carries the path */
	const char *sp_name = sp->name ? strchr(sp->name, ' ') : NULL;
	return sp_name && sp_name[1] == '/' && telemetry_url_is_export(sp_name + 1);
}
