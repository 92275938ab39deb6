/* filters.c - parse the common query filters (see filters.h, docs/API.md). */
#include "server/filters.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyze/spanql.h"
#include "core/log.h"
#include "core/clock.h"

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int mo)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return days[mo - 1] + (mo == 2 && leap);
}

int filters_parse_time(const char *s, uint64_t *ns)
{
	size_t n = strlen(s);
	if (n && strspn(s, "0123456789") == n) {
		if (n > 14)
			return -1;
		*ns = strtoull(s, NULL, 10) * NS_PER_MS;
		return *ns < FILTERS_TIME_MAX_NS ? 0 : -1;
	}
	/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
	struct tm tm = {0};
	int y, mo, d, h, mi, sec;
	if (n < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
	    digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || digits(s + 11, 2, &h) ||
	    s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60 || y < 1970 || y >= 2200 ||
	    d > days_in_month(y, mo))
		return -1; /* e.g. 2024-02-30 */
	const char *p = s + 19;
	uint64_t frac = 0, scale = 1000000000ull;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++)
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
	}
	long offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
			return -1;
		offset = (oh * 60L + om) * 60L * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm) - offset;
	if (t < 0)
		return -1;
	*ns = (uint64_t)t * NS_PER_S + frac;
	return *ns < FILTERS_TIME_MAX_NS ? 0 : -1;
}

int filters_parse_range(const char *s, uint64_t *ns)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || errno || !v || v > 1000000 || !*end || end[1] != 0) /* "202": no unit */
		return -1;
	switch (*end) {
	case 's': *ns = v * NS_PER_S; break;
	case 'm': *ns = v * 60000000000ull; break;
	case 'h': *ns = v * 3600000000000ull; break;
	case 'd': *ns = v * 86400000000000ull; break;
	default: return -1;
	}
	return *ns <= FILTERS_RANGE_MAX_NS ? 0 : -1;
}

int filters_parse_pyroscope_time(const char *s, uint64_t now_ns, uint64_t *ns)
{
	size_t n = strlen(s);
	if (!strncmp(s, "now", 3)) {
		uint64_t back = 0;
		if (s[3] && (s[3] != '-' || filters_parse_range(s + 4, &back) < 0))
			return -1;
		*ns = now_ns > back ? now_ns - back : 0;
		return 0;
	}
	if (n && n <= 20 && strspn(s, "0123456789") == n) {
		errno = 0;
		unsigned long long v = strtoull(s, NULL, 10);
		uint64_t unit = v < 100000000000ull	    ? NS_PER_S /* before 5138 in seconds */
				: v < 100000000000000ull    ? 1000000ull
				: v < 100000000000000000ull ? 1000ull
							    : 1;
		if (errno || v >= FILTERS_TIME_MAX_NS / unit) /* past the window, before overflowing */
			return -1;
		*ns = v * unit;
		return 0;
	}
	return filters_parse_time(s, ns);
}

static int parse_ms(const char *s, uint64_t *ns)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < 0 || v > 1e12)
		return -1;
	*ns = (uint64_t)llround(v * 1e6);
	return 0;
}

/* PREFIX+name, else the plain name (a prefixed side inherits the shared
 * filters); an empty value counts as absent. */
static const char *get(struct http_request *req, const char *prefix, const char *name)
{
	const char *v = NULL;
	if (*prefix) {
		char key[64];
		snprintf(key, sizeof(key), "%s%s", prefix, name);
		v = http_query(req, key);
	}
	if (!v)
		v = http_query(req, name);
	return v && *v ? v : NULL;
}

/*
 * version=latest: the newest version of each service (store.h,
 * store_latest_versions()), resolved once here so that every query of the
 * answer, and its echo, use the same versions.  The keyword wins over a
 * version literally named "latest", which it still matches where that is
 * its service's newest version.
 */
static int resolve_latest(struct http_request *req, struct store_query *q, const char *P, char *err,
			  size_t errlen)
{
	struct service_version *pairs;
	char msg[200];
	q->version = NULL;
	if (store_latest_versions(req->srv->store, q, &req->arena, &pairs, &q->n_latest, msg, sizeof(msg)) <
	    0)
		return errf(err, errlen, "%sversion=latest: %s", P, msg);
	q->latest = 1;
	q->latest_versions = pairs;
	return 0;
}

int filters_parse_prefixed(struct http_request *req, const char *prefix, unsigned max_limit,
			   struct store_query *q, uint64_t now_ns, char *err, size_t errlen)
{
	const char *v, *P = prefix;
	uint64_t range = NS_PER_HOUR;
	store_query_init(q);

	if ((v = get(req, P, "range")) && filters_parse_range(v, &range) < 0)
		return errf(err, errlen,
			    "invalid %srange '%s': use e.g. 15m, 1h, 6h, 24h, 7d, 30d (at most 3660d)", P, v);
	q->to_ns = now_ns;
	if ((v = get(req, P, "to")) && filters_parse_time(v, &q->to_ns) < 0)
		return errf(err, errlen,
			    "invalid %sto '%s': use unix milliseconds or an RFC 3339 date that exists, "
			    "before 2200",
			    P, v);
	q->from_ns = q->to_ns > range ? q->to_ns - range : 0;
	if ((v = get(req, P, "from")) && filters_parse_time(v, &q->from_ns) < 0)
		return errf(err, errlen,
			    "invalid %sfrom '%s': use unix milliseconds or an RFC 3339 date that exists, "
			    "before 2200",
			    P, v);
	if (q->from_ns >= q->to_ns)
		return errf(err, errlen, "%sfrom must be before %sto", P, P);

	static const struct {
		const char *name, *alias;
		size_t off;
	} dims[] = {
		{"service", NULL, offsetof(struct store_query, service)},
		{"endpoint", NULL, offsetof(struct store_query, endpoint)},
		{"env", "environment", offsetof(struct store_query, env)},
		{"version", NULL, offsetof(struct store_query, version)},
		{"department", "team", offsetof(struct store_query, department)},
		{"intent", NULL, offsetof(struct store_query, intent)},
		{"tool", NULL, offsetof(struct store_query, tool)},
	};
	for (size_t i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		v = get(req, P, dims[i].name);
		if (!v && dims[i].alias)
			v = get(req, P, dims[i].alias);
		if (!v || !*v)
			continue;
		/* env=all is no environment filter (as status=all and tier=all) */
		if (dims[i].off != offsetof(struct store_query, env) || strcmp(v, "all"))
			*(const char **)((char *)q + dims[i].off) = v;
	}

	if ((v = get(req, P, "status")) && *v && strcmp(v, "all")) {
		if (!strcmp(v, "success") || !strcmp(v, "ok"))
			q->status = REQUEST_OK;
		else if (!strcmp(v, "error") || !strcmp(v, "errors"))
			q->status = REQUEST_ERROR;
		else if (!strcmp(v, "timeout") || !strcmp(v, "timeouts"))
			q->status = REQUEST_TIMEOUT;
		else
			return errf(err, errlen, "invalid %sstatus '%s': use success, error or timeout", P,
				    v);
	}

	if ((v = get(req, P, "min_duration_ms")) && parse_ms(v, &q->min_duration_ns) < 0)
		return errf(err, errlen, "invalid %smin_duration_ms '%s': want a non-negative number", P, v);
	if ((v = get(req, P, "max_duration_ms")) && parse_ms(v, &q->max_duration_ns) < 0)
		return errf(err, errlen, "invalid %smax_duration_ms '%s': want a non-negative number", P, v);

	/* Tiers (store.h): fast < 100 ms <= normal < 500 ms <= slow < 2 s <= critical. */
	if ((v = get(req, P, "tier")) && *v && strcmp(v, "all")) {
		int t = 0;
		while (t < TIER_COUNT && strcmp(v, request_tier_names[t]))
			t++;
		if (t == TIER_COUNT)
			return errf(err, errlen, "invalid %stier '%s': use fast, normal, slow or critical", P,
				    v);
		uint64_t lo = request_tier_lo_ns[t], hi = t < TIER_CRITICAL ? request_tier_lo_ns[t + 1] : 0;
		if (lo > q->min_duration_ns)
			q->min_duration_ns = lo;
		if (hi && (!q->max_duration_ns || hi <= q->max_duration_ns)) {
			q->max_duration_ns = hi;
			q->max_exclusive = 1;
		}
	}

	if ((v = get(req, P, "limit"))) {
		char *end;
		long n = strtol(v, &end, 10);
		if (end == v || *end || n < 1 || n > (long)max_limit)
			return errf(err, errlen, "invalid %slimit '%s': want 1 to %u", P, v, max_limit);
		q->limit = (unsigned)n;
	}
	if ((v = get(req, P, "order")) || (v = get(req, P, "sort"))) {
		if (!strcmp(v, "newest"))
			q->order = STORE_NEWEST;
		else if (!strcmp(v, "slowest"))
			q->order = STORE_SLOWEST;
		else
			return errf(err, errlen, "invalid %sorder '%s': use newest or slowest", P, v);
	}
	/* last: the newest versions are those of the services the other
	 * filters select */
	if (q->version && !strcmp(q->version, "latest"))
		return resolve_latest(req, q, P, err, errlen);
	return 0;
}

int filters_parse(struct http_request *req, struct store_query *q, uint64_t now_ns, char *err, size_t errlen)
{
	return filters_parse_prefixed(req, "", FILTERS_MAX_LIMIT, q, now_ns, err, errlen);
}

void filters_count_requests(struct store_query *q, int per_component)
{
	q->edge_only = !q->service && !q->endpoint && !per_component;
}

int filters_parse_q(struct http_request *req, struct spanql **out, char *err, size_t errlen)
{
	const char *v = http_query(req, "q");
	char msg[200];
	*out = NULL;
	if (!v || !v[strspn(v, " \t\r\n")])
		return 0;
	if (spanql_parse(v, out, msg, sizeof(msg)) < 0)
		return errf(err, errlen, "invalid q: %s", msg);
	return 0;
}

int filters_int(struct http_request *req, const char *name, long lo, long hi, long def, long *out)
{
	const char *v = http_query(req, name);
	char *end;
	*out = def;
	if (!v || !*v)
		return 0;
	long n = strtol(v, &end, 10);
	if (end == v || *end || n < lo || n > hi) {
		http_error(req, 400, "bad_request", "invalid %s '%.64s': want an integer from %ld to %ld",
			   name, v, lo, hi);
		return -1;
	}
	*out = n;
	return 0;
}

int filters_parse_req(struct http_request *req, struct store_query *q)
{
	char err[320];
	if (filters_parse(req, q, clock_now_ns(), err, sizeof(err)) < 0) {
		http_error(req, 400, "bad_request", "%s", err);
		return -1;
	}
	return 0;
}
