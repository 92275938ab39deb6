/*
 * test_spanql.c - the span query language (src/analyze/spanql.c).
 *
 * Table-driven: each query is parsed and matched against four constructed
 * spans; the expected result is a bit set of the spans that match.  Then
 * the literal-regex fast path against regexec(), bad queries (each with
 * its column and a fragment of the message), the limits, spansets over
 * traces made of those spans, the per-span masks, attributes from a
 * context, and one compiled query shared by several threads.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/spanql.h"
#include "tap.h"

#define MS 1000000ull
#define T0 1700000000000000000ull

/* Bits of the expected-match sets. */
#define DB   1 /* client span of "checkout": SELECT, 750ms, ok */
#define HTTP 2 /* server span of "checkout": GET, 1.5s, error */
#define FAST 4 /* internal span of a resource without service.name, 120us */
#define ORPH 8 /* producer span without a resource, 0ns */
#define ALL  15

static struct attr checkout_attrs[] = {
	{.key = "service.name", .type = ATTR_STRING, .v.s = "checkout"},
	{.key = "deployment.environment", .type = ATTR_STRING, .v.s = "production"},
	{.key = "host.cpus", .type = ATTR_INT, .v.i = 8},
	{.key = "cloud.region", .type = ATTR_STRING, .v.s = "eu-west-1"},
	{.key = "tier", .type = ATTR_STRING, .v.s = "resource"},
};

static struct attr noname_attrs[] = {
	{.key = "team", .type = ATTR_STRING, .v.s = "payments"},
};

static struct attr db_attrs[] = {
	{.key = "db.system", .type = ATTR_STRING, .v.s = "postgresql"},
	{.key = "db.rows", .type = ATTR_INT, .v.i = 42},
	{.key = "performance.slow", .type = ATTR_BOOL, .v.i = 1},
	{.key = "ratio", .type = ATTR_DOUBLE, .v.d = 0.25},
	{.key = "tags", .type = ATTR_JSON, .v.s = "[\"a\"]"},
	{.key = "tier", .type = ATTR_STRING, .v.s = "span"},
	{.key = "latency_ns", .type = ATTR_INT, .v.i = 2000000},
	{.key = "performance.slowness_ratio", .type = ATTR_STRING, .v.s = "3.52"},
};

static struct attr http_attrs[] = {
	{.key = "http.response.status_code", .type = ATTR_INT, .v.i = 503},
	{.key = "http.route", .type = ATTR_STRING, .v.s = "/api/orders"},
	{.key = "performance.slow", .type = ATTR_BOOL, .v.i = 0},
	{.key = "ratio", .type = ATTR_DOUBLE, .v.d = 1.5},
	{.key = "odd key", .type = ATTR_INT, .v.i = 1},
	{.key = "quote", .type = ATTR_STRING, .v.s = "a\"b\\c\n\xc3\xa9"},
	{.key = "performance.slowness_ratio", .type = ATTR_STRING, .v.s = "-0.80"},
};

static struct attr fast_attrs[] = {
	{.key = "emoji", .type = ATTR_STRING, .v.s = "\xf0\x9f\x98\x80"},
	{.key = "k8s/pod-name", .type = ATTR_STRING, .v.s = "web-1"},
	{.key = "performance.slowness_ratio", .type = ATTR_STRING, .v.s = "3x"},
	{.key = "hex", .type = ATTR_STRING, .v.s = "0x10"},
};

static struct attr orphan_attrs[] = {
	{.key = "count", .type = ATTR_INT, .v.i = -5},
};

static struct resource checkout = {.attrs = checkout_attrs, .n_attrs = 5};
static struct resource noname = {.attrs = noname_attrs, .n_attrs = 1};

static struct span spans[4];

static void make_spans(void)
{
	resource_derive(&checkout);
	resource_derive(&noname);
	spans[0] = (struct span){.name = "SELECT orders",
				 .kind = SPAN_KIND_CLIENT,
				 .status = SPAN_STATUS_OK,
				 .start_ns = T0,
				 .end_ns = T0 + 750 * MS,
				 .resource = &checkout,
				 .scope_name = "pg",
				 .attrs = db_attrs,
				 .n_attrs = 8};
	spans[1] = (struct span){.name = "GET /api/orders",
				 .kind = SPAN_KIND_SERVER,
				 .status = SPAN_STATUS_ERROR,
				 .status_message = "upstream timeout",
				 .start_ns = T0,
				 .end_ns = T0 + 1500 * MS,
				 .resource = &checkout,
				 .attrs = http_attrs,
				 .n_attrs = 7};
	spans[2] = (struct span){.name = "cache.get",
				 .kind = SPAN_KIND_INTERNAL,
				 .start_ns = T0,
				 .end_ns = T0 + 120000,
				 .resource = &noname,
				 .attrs = fast_attrs,
				 .n_attrs = 4};
	spans[3] = (struct span){.name = "orphan",
				 .kind = SPAN_KIND_PRODUCER,
				 .start_ns = T0,
				 .end_ns = T0,
				 .attrs = orphan_attrs,
				 .n_attrs = 1};
}

static const struct {
	const char *q;
	int want;
} matches[] = {
	/* empty query, braces, constants */
	{"", ALL},
	{" \t\n", ALL},
	{"{}", ALL},
	{"{ }", ALL},
	{"true", ALL},
	{"false", 0},
	{"{ true }", ALL},

	/* duration and its units */
	{"duration > 500ms", DB | HTTP},
	{"duration >= 750ms", DB | HTTP},
	{"duration > 750ms", HTTP},
	{"duration = 750ms", DB},
	{"duration != 750ms", HTTP | FAST | ORPH},
	{"duration < 1ms", FAST | ORPH},
	{"duration <= 120us", FAST | ORPH},
	{"duration = 120\xc2\xb5s", FAST},
	{"duration = 120\xce\xbcs", FAST},
	{"duration = 120000ns", FAST},
	{"duration = 0.12ms", FAST},
	{"duration = 0.75s", DB},
	{"duration = 1.5s", HTTP},
	{"duration > 0.0125m", HTTP},
	{"duration < 1h", ALL},
	{"duration >= 1s500ms", HTTP},
	{"duration = 1h30m", 0},
	{"duration = 0s", ORPH},
	{"span:duration > 1s", HTTP},

	/* name and regexes (anchored at both ends) */
	{"name = \"SELECT orders\"", DB},
	{"name != \"SELECT orders\"", HTTP | FAST | ORPH},
	{"name < \"a\"", DB | HTTP},
	{"name >= \"c\"", FAST | ORPH},
	{"name =~ \"SELECT.*\"", DB},
	{"name =~ \"SELECT\"", 0},
	{"name =~ `cache\\.get`", FAST},
	{"name =~ `cache\\.ge`", 0},
	{"name =~ \".*\"", ALL},
	{"name =~ \".*orders\"", DB | HTTP},
	{"name !~ \".*orders\"", FAST | ORPH},
	{"name =~ \"cache|orphan\"", ORPH},
	{"name =~ \"(cache.*|orphan)\"", FAST | ORPH},
	{"name =~ \"\"", 0},
	{"name =~ `[[:upper:]]+ .*`", DB | HTTP},
	{"name =~ \"[a-z]{5,6}\"", ORPH},
	{"name =~ \"[a-z{]+\\\\.[*+?]?[a-z]+\"", FAST},
	{"name =~ \"((o|r|p|h|a|n)+)+\"", ORPH},
	{"name =~ \"(o?r?p?h?a?n?){1}(x?)?\"", ORPH},
	{"name =~ \"((ca|or)(che|phan)?[.]?)+(get)?\"", FAST | ORPH},
	{"name =~ \"^c.*t$|^o.*\"", FAST | ORPH},
	{"span:name = \"orphan\"", ORPH},

	/* status, kind, statusMessage, instrumentation */
	{"status = error", HTTP},
	{"status = ok", DB},
	{"status = unset", FAST | ORPH},
	{"status != ok", HTTP | FAST | ORPH},
	{"status = \"error\"", HTTP},
	{"kind = server", HTTP},
	{"kind = client", DB},
	{"kind = internal", FAST},
	{"kind = producer", ORPH},
	{"kind != server", DB | FAST | ORPH},
	{"kind = consumer", 0},
	{"kind = unspecified", 0},
	{"span:kind = \"client\"", DB},
	{"statusMessage = \"upstream timeout\"", HTTP},
	{"statusMessage = \"\"", DB | FAST | ORPH},
	{"statusMessage =~ \".*timeout.*\"", HTTP},
	{"instrumentation:name = \"pg\"", DB},

	/* span attributes of each type */
	{"span.db.system = \"postgresql\"", DB},
	{"span.db.system != \"postgresql\"", 0},
	{"span.db.system != \"mysql\"", DB},
	{"span.db.system > \"p\"", DB},
	{"span.db.rows = 42", DB},
	{"span.db.rows > 41.5", DB},
	{"span.db.rows >= 42.0", DB},
	{"span.db.rows < 42", 0},
	{"span.ratio = 0.25", DB},
	{"span.ratio = 25e-2", DB},
	{"span.ratio > 1E0", HTTP},
	{"span.ratio < 1", DB},
	{"span.ratio = 1.5", HTTP},
	{"span.http.response.status_code >= 500", HTTP},
	{"{ span.http.response.status_code >= 500 } ", HTTP},
	{"span.count < 0", ORPH},
	{"span.count = -5", ORPH},
	{"span.performance.slow = true", DB},
	{"span.performance.slow = false", HTTP},
	{"span.performance.slow != true", HTTP},
	{"!(span.performance.slow = true)", HTTP | FAST | ORPH},
	{"span.latency_ns = 2ms", DB},
	{"span.latency_ns > 1ms", DB},
	{"span.ratio < 1ns", DB},
	{"span.http.route =~ \"/api/.*\"", HTTP},
	{"span.\"odd key\" = 1", HTTP},
	{"span.\"db.system\" = \"postgresql\"", DB},
	{"span.k8s/pod-name = \"web-1\"", FAST},
	{"span.quote = \"a\\\"b\\\\c\\n\\u00e9\"", HTTP},
	{"span.quote =~ `a\"b\\\\c.*`", HTTP},
	{"span.quote !~ \"x\"", HTTP},
	{"span.emoji = \"\\ud83d\\ude00\"", FAST},

	/* type mismatches and missing attributes are false, even for != */
	{"span.http.response.status_code = \"503\"", 0},
	{"span.http.response.status_code != \"503\"", 0},
	{"span.db.system = 5", 0},
	{"span.performance.slow = 1", 0},
	{"span.tags = \"[\\\"a\\\"]\"", 0},
	{"span.tags =~ \".*\"", 0},
	{"span.nope != \"x\"", 0},
	{"span.nope < 5", 0},

	/* nil tests presence */
	{"span.tags != nil", DB},
	{"span.tags = nil", HTTP | FAST | ORPH},
	{"span.db.system = nil", HTTP | FAST | ORPH},
	{"span.nope != nil", 0},
	{"resource.service.name != nil", DB | HTTP | FAST},

	/* resource attributes; service.name as the dashboard shows it */
	{"resource.service.name = \"checkout\"", DB | HTTP},
	{"resource.service.name = \"unknown_service\"", FAST},
	{"resource.service.name != \"checkout\"", FAST},
	{"resource.deployment.environment = \"production\"", DB | HTTP},
	{"resource.team = \"payments\"", FAST},
	{"resource.host.cpus >= 8", DB | HTTP},
	{"span.service.name = \"checkout\"", 0},
	{"resource.db.system = \"postgresql\"", 0},

	/* .key: the span's attribute first, then the resource's */
	{".tier = \"span\"", DB},
	{".tier = \"resource\"", HTTP},
	{".cloud.region = \"eu-west-1\"", DB | HTTP},
	{".db.system = \"postgresql\"", DB},
	{".service.name = \"checkout\"", DB | HTTP},
	{".\"team\" = \"payments\"", FAST},

	/* precedence: ! over && over || */
	{"status = ok || kind = server && status = unset", DB},
	{"(status = ok || kind = server) && status = unset", 0},
	{"kind = internal && status = unset || kind = client", FAST | DB},
	{"kind = client || kind = internal && status = error", DB},
	{"name =~ \"SELECT.*\" || (kind = server && status = error)", DB | HTTP},
	{"!kind = server", DB | FAST | ORPH},
	{"!!(kind = server)", HTTP},
	{"!(kind = server || kind = client)", FAST | ORPH},
	{"!true", 0},
	{"!(span.db.system = \"postgresql\")", HTTP | FAST | ORPH},
	{"((((kind = server))))", HTTP},
	{"true && false || true", ALL},
	{"false || span.count < 0 && true", ORPH},
	{"duration > 500ms && resource.service.name = \"checkout\" && span.db.system = \"postgresql\"", DB},
	{"span.tags != nil && name =~ \"S.*\" && duration > 1ms && status = ok", DB},

	/* a string holding a decimal number compares with numbers */
	{"span.performance.slowness_ratio > 3", DB},
	{"span.performance.slowness_ratio >= 3.52", DB},
	{"span.performance.slowness_ratio = 3.52", DB},
	{"span.performance.slowness_ratio < 0", HTTP},
	{"span.performance.slowness_ratio = -0.8", HTTP},
	{"span.performance.slowness_ratio > -100", DB | HTTP},
	{"span.performance.slowness_ratio = \"3.52\"", DB},
	{"span.performance.slowness_ratio = \"3x\"", FAST},
	{"span.hex > 0", 0},
	{"span.hex = \"0x10\"", FAST},
	{"span.quote > 0", 0},

	/* = * exists, != * does not */
	{"span.db.system = *", DB},
	{"span.db.system != *", HTTP | FAST | ORPH},
	{"span.tags = *", DB},
	{"resource.team = *", FAST},
	{".tier = *", DB | HTTP},
	{"span.nope = *", 0},

	/* AND and OR spell && and || */
	{"span.performance.slow = true AND span.db.system = *", DB},
	{"kind = server OR kind = client", DB | HTTP},
	{"kind = server or kind = client and status = ok", DB | HTTP},
	{"kind = server and status = error", HTTP},
	{"span.performance.slow = false AND span.http.route = *", HTTP},

	/* spansets on one span: a trace of that span alone */
	{"{ kind = server } && { status = error }", HTTP},
	{"{ kind = server } || { kind = client }", DB | HTTP},
	{"!{ kind = server }", DB | FAST | ORPH},
	{"{ kind = server } && !{ status = ok }", HTTP},
	{"({ kind = server } || { kind = client }) && { duration > 1s }", HTTP},
	{"{} && { kind = internal }", FAST},
	{"{ kind = server } AND { status = error }", HTTP},

	/* spelling */
	{"kind=server&&status=error", HTTP},
	{"\tkind = server\n", HTTP},
	{"{kind=server}", HTTP},
};

static void test_matches(void)
{
	char err[256];

	for (size_t i = 0; i < sizeof(matches) / sizeof(matches[0]); i++) {
		struct spanql *q = NULL;
		int got = 0;
		err[0] = 0;
		if (spanql_parse(matches[i].q, &q, err, sizeof(err)) < 0) {
			ok(0, "parse %s", matches[i].q);
			printf("#   %s\n", err);
			continue;
		}
		for (int s = 0; s < 4; s++)
			if (spanql_match(q, &spans[s]))
				got |= 1 << s;
		is_int(got, matches[i].want, "%s", matches[i].q);
		spanql_free(q);
	}
}

/*
 * Literal patterns (`lit`, `lit.*`, `.*lit`, `.*lit.*`) skip regexec(); a
 * group defeats that, so `=~ "(P)"` must agree with `=~ "P"`.
 */
static void test_regex_fast_path(void)
{
	static const char *const patterns[] = {
		"SELECT orders",
		"SELECT.*",
		".*orders",
		".*/api/.*",
		".*",
		".*.*",
		"",
		"cache\\.get",
		"cache.get",
		".*\\..*",
		"orphan.*",
		".*n",
		".*upstream timeout.*",
		"GET /api/orders.*",
		".*e.*",
		"S.*",
		"x.*",
		".*x",
		".*x.*",
	};
	static const char *const fields[] = {"name", "statusMessage", "span.http.route", ".tier"};
	char a[128], b[128], err[256];

	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
			for (int neg = 0; neg < 2; neg++) {
				struct spanql *fast, *slow;
				int got = 0, want = 0;
				snprintf(a, sizeof(a), "%s %s `%s`", fields[f], neg ? "!~" : "=~",
					 patterns[i]);
				snprintf(b, sizeof(b), "%s %s `(%s)`", fields[f], neg ? "!~" : "=~",
					 patterns[i]);
				if (spanql_parse(a, &fast, err, sizeof(err)) < 0 ||
				    spanql_parse(b, &slow, err, sizeof(err)) < 0) {
					ok(0, "parse %s: %s", a, err);
					continue;
				}
				for (int k = 0; k < 4; k++) {
					got |= spanql_match(fast, &spans[k]) << k;
					want |= spanql_match(slow, &spans[k]) << k;
				}
				is_int(got, want, "%s agrees with regexec()", a);
				spanql_free(fast);
				spanql_free(slow);
			}
}

static const struct {
	const char *q;
	int column;
	const char *fragment;
} errors[] = {
	{"name = \"abc", 8, "unterminated string"},
	{"name = `abc", 8, "unterminated string"},
	{"duration == 1s", 10, "unknown operator '=='"},
	{"kind = server & status = ok", 15, "unknown operator '&'"},
	{"name = \"x\" | count() > 1", 12, "pipelines are not supported"},
	{"duration > && kind = server", 12, "expected a value after '>', found '&&'"},
	{"duration >", 11, "expected a value after '>', found end of query"},
	{"kind = server &&", 17, "expected a condition after '&&', found end of query"},
	{"&& kind = server", 1, "expected a condition"},
	{"()", 2, "expected a condition after '('"},
	{"kind", 5, "expected a comparison operator"},
	{"(kind = server", 15, "expected ')' to close the '(' at column 1"},
	{"((kind = server) || (kind = client)", 36, "expected ')' to close the '(' at column 1"},
	{"kind = server)", 14, "unexpected ')'"},
	{"name =~ \"(ab\"", 9, "bad regular expression"},
	{"name =~ \"*a\"", 9, "bad regular expression"},
	{"name =~ \"(a)\\\\1\"", 9, "back-references"},
	{"name =~ \"(a{100}){100}\"", 9, "too large"},
	{"name =~ \"(a{1000}){1000}\"", 9, "too large"},
	{"name =~ \"c++++++++++++++++++++++++++++++++++++++++\"", 9, "a repetition right after another one"},
	{"name =~ \"([[:alpha:]{}]{300}){4}\"", 9, "too large"},
	{"name =~ \"((((((((a?)+)+)+)+)+)+)+)+\"", 9, "can match the empty string"},
	{"name =~ \"^((a?)+(b?)+)+$\"", 9, "can match the empty string"},
	{"name =~ \"(a|)*\"", 9, "can match the empty string"},
	{"name =~ \"(x|(a*)(b?))+\"", 9, "can match the empty string"},
	{"name =~ \"(((.?){20,}){20,})\"", 9, "can match the empty string"},
	{"name =~ \"(.?){1,9}\"", 9, "can match the empty string"},
	{"name =~ \"a?+\"", 9, "a repetition right after another one"},
	{"name =~ \".*?\"", 9, "a repetition right after another one"},
	{"name =~ \"a{2}*\"", 9, "a repetition right after another one"},
	{"span.x =~ 5", 11, "expected a string (a regular expression)"},
	{"duration > 5d", 13, "unknown duration unit 'd'"},
	{"duration > 5mss", 13, "unknown duration unit 'mss'"},
	{"duration > 500", 12, "expected a duration such as 500ms"},
	{"duration > -1s", 12, "cannot be negative"},
	{"duration > 9999999999h", 12, "duration out of range"},
	{"duration =~ \"1.*\"", 10, "needs a string field"},
	{"kind = server foo", 15, "expected '&&', '||' or end of query, found 'foo'"},
	{"name = \"x\" \"y\"", 12, "expected '&&', '||' or end of query"},
	{"{ kind = server } && status = error", 22, "expected '{' after '&&', found 'status'"},
	{"kind = server && { status = error }", 18, "expected a condition after '&&', found '{'"},
	{"{ kind = server } { kind = client }", 19, "expected '&&', '||' or end of query"},
	{"({ kind = server }", 19, "expected ')' to close the '(' at column 1"},
	{"{ kind = server } && { status = error", 38, "expected '}' to close the '{' at column 22"},
	{"span.x > *", 8, "compares only with = and !="},
	{"duration = *", 12, "always exists"},
	{"span.x = * 1", 12, "expected '&&', '||' or end of query"},
	{"{ kind = server", 16, "expected '}' to close the '{' at column 1"},
	{"status > ok", 8, "only compares with = and !="},
	{"status = bad", 10, "expected unset, ok or error"},
	{"kind = slow", 8, "expected unspecified, internal, server"},
	{"kind =~ \"s.*\"", 6, "needs a string field"},
	{"name = 5", 8, "expected a string after '='"},
	{"foo = 1", 1, "unknown field 'foo'"},
	{"trace:duration > 1s", 1, "not supported"},
	{"rootServiceName = \"x\"", 1, "not supported"},
	{"event.name = \"x\"", 1, "'event.' attributes are not supported"},
	{"span. = 1", 6, "expected an attribute name after 'span.'"},
	{"span.\"\" = 1", 6, "expected an attribute name"},
	{"span.x = error", 10, "quote it"},
	{"span.x > true", 8, "only compares with = and !="},
	{"span.x < nil", 8, "only compares with = and !="},
	{"span.x = span.y", 10, "comparing two fields is not supported"},
	{"name @ \"x\"", 6, "unexpected character '@'"},
	{"span.x = 99999999999999999999", 10, "number out of range"},
	{"span.x = 1.5.3", 13, "unexpected character after the number"},
	{"span.x = 5.", 12, "expected a digit after '.'"},
	{"name = \"a\\d\"", 10, "unknown escape '\\d'"},
	{"name = \"\\ud800\"", 9, "unpaired surrogate"},
	{"name = \"\\u0000\"", 9, "not allowed"},
	{"name = \"\\u12\"", 9, "four hex digits"},
	/* columns count characters: two 'µ' are two columns, four bytes */
	{"name = \"\xc2\xb5\xc2\xb5\" && kund = 1", 16, "unknown field 'kund'"},
	{"span.x = \"\xff\" \xff", 14, "unexpected byte 0xff"},
};

static void test_errors(void)
{
	char err[256], prefix[32];

	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		struct spanql *q = (struct spanql *)&err; /* must be reset to NULL */
		int rc = spanql_parse(errors[i].q, &q, err, sizeof(err));
		snprintf(prefix, sizeof(prefix), "column %d: ", errors[i].column);
		ok(rc == -1 && q == NULL && strncmp(err, prefix, strlen(prefix)) == 0 &&
			   strstr(err, errors[i].fragment),
		   "error for %s", errors[i].q);
		if (rc == 0) {
			printf("#   parsed, want \"%s...%s\"\n", prefix, errors[i].fragment);
			spanql_free(q);
		} else if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, errors[i].fragment)) {
			printf("#   got  \"%s\"\n#   want \"%s...%s...\"\n", err, prefix, errors[i].fragment);
		}
	}
}

/* Text repeated to build queries near the limits. */
static char *repeat(const char *head, const char *unit, int n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * (size_t)n + tl + 1), *o = s;
	memcpy(o, head, hl);
	o += hl;
	for (int i = 0; i < n; i++, o += ul)
		memcpy(o, unit, ul);
	memcpy(o, tail, tl + 1);
	return s;
}

static void test_limits(void)
{
	struct spanql *q;
	char err[256];
	char *s;

	s = repeat("", "(", 64, "kind = server");
	char *closed = repeat(s, ")", 64, "");
	ok(spanql_parse(closed, &q, err, sizeof(err)) == 0, "64 nested parentheses parse");
	ok(q && spanql_match(q, &spans[1]) && !spanql_match(q, &spans[0]), "and match");
	spanql_free(q);
	free(closed);
	free(s);

	s = repeat("", "(", 65, "kind = server");
	is_int(spanql_parse(s, &q, err, sizeof(err)), -1, "65 nested parentheses are refused");
	is_str(err, "column 65: nesting deeper than 64 levels", "at the 65th '('");
	free(s);

	s = repeat("{ kind = server }", " || {}", 63, "");
	ok(spanql_parse(s, &q, err, sizeof(err)) == 0 && spanql_n_sets(q) == 64, "64 spansets parse");
	ok(q && spanql_mask_match(q, UINT64_C(1) << 63) && !spanql_mask_match(q, 0), "the 64th is bit 63");
	spanql_free(q);
	free(s);
	s = repeat("{ kind = server }", " || {}", 64, "");
	is_int(spanql_parse(s, &q, err, sizeof(err)), -1, "65 spansets are refused");
	ok(strstr(err, "more than 64 spansets") != NULL, "with a message: %s", err);
	free(s);

	s = repeat("", "!", 65, "true");
	is_int(spanql_parse(s, &q, err, sizeof(err)), -1, "65 nested '!' are refused");
	is_str(err, "column 65: nesting deeper than 64 levels", "at the 65th '!'");
	free(s);

	s = repeat("", "!", 64, "true");
	ok(spanql_parse(s, &q, err, sizeof(err)) == 0 && spanql_match(q, &spans[0]),
	   "64 '!' parse: even, true");
	spanql_free(q);
	free(s);

	/* 255 'true' and one '||' node: the limit exactly */
	s = repeat("true", "||true", 254, "");
	ok(spanql_parse(s, &q, err, sizeof(err)) == 0, "256 nodes parse");
	spanql_free(q);
	free(s);
	s = repeat("true", "||true", 256, "");
	is_int(spanql_parse(s, &q, err, sizeof(err)), -1, "257 conditions are refused");
	is_str(err, "column 1537: the query has more than 256 conditions and operators", "at the 257th");
	free(s);

	s = repeat("name = \"", "x", 4096 - 9, "\"");
	ok(strlen(s) == 4096 && spanql_parse(s, &q, err, sizeof(err)) == 0, "a 4096-byte query parses");
	spanql_free(q);
	free(s);
	s = repeat("name = \"", "x", 4096 - 8, "\"");
	is_int(spanql_parse(s, &q, err, sizeof(err)), -1, "a 4097-byte query is refused");
	is_str(err, "column 4097: the query is longer than 4096 bytes", "with the limit");
	free(s);

	s = repeat("name =~ \"", "a", 257, "\"");
	is_int(spanql_parse(s, &q, err, sizeof(err)), -1, "a 257-byte regex is refused");
	ok(strstr(err, "longer than 256 bytes") != NULL, "%s", err);
	free(s);

	/* A tiny error buffer truncates, never overflows. */
	char tiny[8];
	is_int(spanql_parse("kind = ", &q, tiny, sizeof(tiny)), -1, "error into a tiny buffer");
	is_str(tiny, "column ", "truncated message");
	is_int(spanql_parse("kind = ", &q, NULL, 0), -1, "no error buffer at all");
}

/* A trace of the spans whose bits are in `which`. */
static int match_trace(const struct spanql *q, int which)
{
	struct span t[4];
	size_t n = 0;
	for (int k = 0; k < 4; k++)
		if (which & (1 << k))
			t[n++] = spans[k];
	return spanql_match_trace(q, t, n, NULL);
}

static const struct {
	const char *q;
	int trace; /* the spans of the trace */
	int want;
} traces[] = {
	/* a query without braces: some span matches */
	{"kind = server", DB | HTTP, 1},
	{"kind = server", DB | FAST, 0},
	{"span.performance.slowness_ratio > 3", HTTP | DB | ORPH, 1},
	/* {a} && {b}: different spans may satisfy a and b */
	{"{ kind = client } && { kind = server }", DB | HTTP, 1},
	{"{ kind = client } && { kind = server }", DB | FAST, 0},
	{"{ kind = client } && { kind = server }", HTTP, 0},
	/* {a && b}: one span satisfies both */
	{"{ kind = client && kind = server }", DB | HTTP, 0},
	{"{ kind = client && status = ok }", DB | HTTP, 1},
	{"{ kind = server && status = ok }", DB | HTTP, 0},
	/* || */
	{"{ kind = client } || { kind = internal }", FAST | ORPH, 1},
	{"{ kind = client } || { kind = internal }", HTTP | ORPH, 0},
	/* !{a}: no span satisfies a; { !a }: some span does not */
	{"!{ status = error }", DB | FAST, 1},
	{"!{ status = error }", DB | HTTP, 0},
	{"{ !(status = error) }", DB | HTTP, 1},
	{"{ !(status = error) }", HTTP, 0},
	{"{ kind = server } && !{ span.db.system = * }", HTTP | FAST, 1},
	{"{ kind = server } && !{ span.db.system = * }", HTTP | DB, 0},
	/* grouping and the aliases */
	{"({ kind = server } AND { kind = client }) OR { kind = producer }", ORPH, 1},
	{"({ kind = server } AND { kind = client }) OR { kind = producer }", HTTP | DB, 1},
	{"({ kind = server } AND { kind = client }) OR { kind = producer }", HTTP | FAST, 0},
	/* the same spanset written twice is two sets, satisfied alike */
	{"{ kind = server } && { kind = server }", HTTP, 1},
	/* an empty trace satisfies no spanset */
	{"{}", 0, 0},
	{"!{ kind = server }", 0, 1},
};

static void test_traces(void)
{
	char err[256];
	for (size_t i = 0; i < sizeof(traces) / sizeof(traces[0]); i++) {
		struct spanql *q = NULL;
		if (spanql_parse(traces[i].q, &q, err, sizeof(err)) < 0) {
			ok(0, "parse %s", traces[i].q);
			printf("#   %s\n", err);
			continue;
		}
		is_int(match_trace(q, traces[i].trace), traces[i].want, "trace %d: %s", traces[i].trace,
		       traces[i].q);
		spanql_free(q);
	}
}

/* The building blocks: one bit per spanset, OR-ed over a trace, combined. */
static void test_masks(void)
{
	struct spanql *q;
	char err[256];
	ok(spanql_parse("{ kind = client } && ({ kind = server } || !{ status = unset })", &q, err,
			sizeof(err)) == 0,
	   "parse three spansets");
	is_int(spanql_n_sets(q), 3, "three sets");
	is_int(spanql_span_mask(q, &spans[0], NULL), 1, "the client span satisfies set 0 only");
	is_int(spanql_span_mask(q, &spans[1], NULL), 2, "the server span satisfies set 1 only");
	is_int(spanql_span_mask(q, &spans[2], NULL), 4, "the internal span satisfies set 2 (status unset)");
	ok(spanql_mask_match(q, 1 | 2), "client and server spans: a match");
	ok(!spanql_mask_match(q, 1 | 4), "client and an unset span: no match");
	ok(spanql_mask_match(q, 1), "client alone: no span is unset, so a match");
	spanql_free(q);
	ok(spanql_parse("kind = server", &q, err, sizeof(err)) == 0, "parse a plain expression");
	is_int(spanql_n_sets(q), 1, "a plain expression is one set");
	ok(spanql_mask_match(q, 1) && !spanql_mask_match(q, 0), "its mask is its one bit");
	ok(spanql_uses_key(NULL, "x") == 0, "a NULL query reads no key");
	spanql_free(q);
	is_int(spanql_n_sets(NULL), 1, "a NULL query: one set");
	ok(spanql_mask_match(NULL, 0), "a NULL query matches every trace");
	ok(spanql_parse("resource.performance.x = 1 || { span.a = 1 } && { .performance.memory.y > 1 }", &q,
			err, sizeof(err)) < 0,
	   "a plain expression cannot hold a spanset");
	ok(spanql_parse("{ resource.performance.x = 1 } || { .performance.memory.y > 1 }", &q, err,
			sizeof(err)) == 0,
	   "parse keys");
	ok(spanql_uses_key(q, "performance.memory."), "reads performance.memory.*");
	ok(!spanql_uses_key(q, "performance.x"), "resource keys are not span keys");
	spanql_free(q);
}

/* A context that knows `virtual.ratio` of every span: 2.5. */
static int ctx_attr(void *arg, const struct span *s, const char *key, struct attr *out)
{
	int *asked = arg;
	(*asked)++;
	if (strcmp(key, "virtual.ratio") && strcmp(key, "tier"))
		return 0;
	out->type = ATTR_DOUBLE;
	out->v.d = 2.5;
	return 1;
}

static void test_ctx(void)
{
	int asked = 0;
	struct spanql_ctx ctx = {.attr = ctx_attr, .arg = &asked};
	struct spanql *q;
	char err[256];
	ok(spanql_parse("span.virtual.ratio > 2", &q, err, sizeof(err)) == 0, "parse");
	ok(!spanql_match_trace(q, &spans[0], 1, NULL), "without the context the attribute is missing");
	ok(spanql_match_trace(q, &spans[0], 1, &ctx), "the context supplies it");
	spanql_free(q);
	/* the span's own attribute wins: DB has tier = "span" */
	ok(spanql_parse("span.tier = 2.5", &q, err, sizeof(err)) == 0, "parse");
	asked = 0;
	ok(!spanql_match_trace(q, &spans[0], 1, &ctx), "the span's own tier wins over the context's");
	is_int(asked, 0, "the context is not asked for an attribute the span has");
	ok(spanql_match_trace(q, &spans[2], 1, &ctx), "a span without it gets the context's");
	spanql_free(q);
	/* .key: span, then context, then resource; resource.key never asks */
	ok(spanql_parse(".tier = 2.5", &q, err, sizeof(err)) == 0, "parse");
	ok(spanql_match_trace(q, &spans[2], 1, &ctx), ".key asks the context before the resource");
	spanql_free(q);
	ok(spanql_parse("resource.virtual.ratio = *", &q, err, sizeof(err)) == 0, "parse");
	asked = 0;
	ok(!spanql_match_trace(q, &spans[0], 1, &ctx) && asked == 0, "resource.key does not ask the context");
	spanql_free(q);
}

static void test_api(void)
{
	spanql_free(NULL);
	ok(spanql_match(NULL, &spans[0]), "a NULL query matches everything");

	/* the compiled query keeps no pointer into the text */
	char text[] = "name =~ \"SELECT.*\" && span.db.system = \"postgresql\"";
	struct spanql *q;
	char err[128];
	ok(spanql_parse(text, &q, err, sizeof(err)) == 0, "parse");
	memset(text, 'x', sizeof(text) - 1);
	ok(spanql_match(q, &spans[0]) && !spanql_match(q, &spans[1]), "match after the text is overwritten");
	spanql_free(q);
}

struct shared {
	const struct spanql *q;
	int mismatches;
};

static void *match_many(void *arg)
{
	struct shared *sh = arg;
	for (int i = 0; i < 20000; i++) {
		int got = 0;
		for (int k = 0; k < 4; k++)
			got |= spanql_match(sh->q, &spans[k]) << k;
		sh->mismatches += got != (DB | HTTP);
	}
	return NULL;
}

static void test_threads(void)
{
	struct spanql *q;
	struct shared sh[4];
	pthread_t t[4];
	char err[128];
	int mismatches = 0;

	ok(spanql_parse("name =~ `[A-Z]+ .*` && (resource.service.name = \"checkout\" || .tier =~ `r.*e`)",
			&q, err, sizeof(err)) == 0,
	   "parse a query to share");
	for (int i = 0; i < 4; i++) {
		sh[i] = (struct shared){.q = q};
		pthread_create(&t[i], NULL, match_many, &sh[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		mismatches += sh[i].mismatches;
	}
	is_int(mismatches, 0, "4 threads matching one compiled query agree");
	spanql_free(q);
}

int main(void)
{
	make_spans();
	test_matches();
	test_regex_fast_path();
	test_errors();
	test_limits();
	test_api();
	test_traces();
	test_masks();
	test_ctx();
	test_threads();
	return tap_done();
}
