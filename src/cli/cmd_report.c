/*
 * cmd_report.c - `hotpath report`: a performance report of a running server
 * in Markdown (or plain text): KPIs against targets, the critical path and
 * bottlenecks, and the recommendations by priority.
 *
 * Like `hotpath top` it is a client of the API (summary, bottlenecks,
 * recommendations) and owns no figure: every number comes from an answer,
 * so the report says what the dashboard says, including which part of the
 * range the bottlenecks cover.  The layout follows the
 * performance report of the project's request documents.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/json_doc.h"
#include "core/json_field.h"

struct report_options {
	const char *server, *range, *service, *limit;
	int text; /* plain text instead of Markdown */
	double target_p95_ms, target_p99_ms, target_error_pct;
};

static int usage(FILE *out)
{
	fprintf(out,
		"usage: hotpath report [--server URL] [--range 6h] [--service S] [--format markdown|text]\n"
		"                      [--limit N] [--target-p95-ms MS] [--target-p99-ms MS]\n"
		"                      [--target-error-pct P]\n"
		"\n"
		"Write a performance report of a running hotpath server to stdout: KPIs\n"
		"against targets, the critical path and bottlenecks, and recommendations\n"
		"by priority with their evidence and estimated gains.\n"
		"\n"
		"  --server URL          the server (default http://127.0.0.1:4318)\n"
		"  --range R             time range ending now (default 6h)\n"
		"  --service S           only requests entering this service (KPIs, bottlenecks)\n"
		"  --format F            markdown (default) or text\n"
		"  --limit N             bottlenecks: read at most N requests (default: the\n"
		"                        server's, 10000); beyond it whole traces are sampled\n"
		"                        across the range, and the report says so\n"
		"  --target-p95-ms MS    p95 latency target (default 1000)\n"
		"  --target-p99-ms MS    p99 latency target (default 2500)\n"
		"  --target-error-pct P  error rate target in percent (default 1)\n"
		"  -h, --help            this text\n");
	return out == stdout ? 0 : 2;
}

static const char *str(const struct json *v, const char *fallback)
{
	const char *s = json_str(v);
	return s ? s : fallback;
}

/* GET PATH?range=..&service=..&limit=.. (service only when `with_service`,
 * limit only when given) into a parsed document.  Member names point into
 * `body`: one body per document. */
static int get(CURL *curl, const struct report_options *o, const char *path, int with_service,
	       const char *limit, struct buf *body, struct json_doc *d, char *err, size_t errlen)
{
	struct buf url;
	char perr[200];
	buf_init(&url, BUF_NO_LIMIT);
	buf_printf(&url, "%s%s?format=json", o->server, path);
	cli_url_param(&url, curl, "range", o->range);
	if (with_service)
		cli_url_param(&url, curl, "service", o->service);
	if (limit)
		cli_url_param(&url, curl, "limit", limit);
	int rc = cli_api_get(curl, url.data, body, err, errlen);
	buf_release(&url);
	memset(d, 0, sizeof(*d));
	if (rc == 0 && json_doc_parse(d, body->data, body->len, 0, perr, sizeof(perr)) < 0) {
		snprintf(err, errlen, "%s: not JSON: %s", path, perr);
		return -1;
	}
	return rc;
}

static void heading(const struct report_options *o, int level, const char *title)
{
	if (o->text)
		printf("\n%s\n%s\n", title, level == 1 ? "==================" : "------------------");
	else
		printf("\n%.*s %s\n\n", level, "###", title);
}

static void kpi_row(const struct report_options *o, const char *name, double value, double target,
		    const char *unit, int lower_is_better)
{
	const char *status = isnan(value)					     ? "no data"
			     : (lower_is_better ? value <= target : value >= target) ? "within target"
										     : "ABOVE TARGET";
	if (o->text)
		printf("  %-24s %10.1f %-3s target %8.1f %-3s  %s\n", name, value, unit, target, unit,
		       status);
	else
		printf("| %s | %.1f %s | %.1f %s | %s |\n", name, value, unit, target, unit,
		       !strcmp(status, "within target") ? "✅ within target"
		       : !strcmp(status, "no data")	? "no data"
							: "❌ above target");
}

static void kpis(const struct report_options *o, const struct json *sum)
{
	heading(o, 2, "Key performance indicators");
	double count = json_num_or_nan(json_get(sum, "count")), rps = json_num_or_nan(json_get(sum, "rps"));
	printf("%s%.0f requests (entry spans) in the last %s, %.2f per second%s.\n\n", o->text ? "  " : "",
	       count, o->range, rps, o->service ? " for this service" : "");
	if (!o->text)
		printf("| Metric | Current | Target | Status |\n| --- | --- | --- | --- |\n");
	kpi_row(o, "Latency p50", json_num_or_nan(json_get(sum, "p50_ms")), o->target_p95_ms, "ms", 1);
	kpi_row(o, "Latency p95", json_num_or_nan(json_get(sum, "p95_ms")), o->target_p95_ms, "ms", 1);
	kpi_row(o, "Latency p99", json_num_or_nan(json_get(sum, "p99_ms")), o->target_p99_ms, "ms", 1);
	kpi_row(o, "Error rate", 100 * json_num_or_nan(json_get(sum, "error_rate")), o->target_error_pct, "%",
		1);
}

/* "2026-12-07 06:55 UTC" from milliseconds since the epoch; "?" for none. */
static void fmt_utc(char *out, size_t cap, double ms)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);
	if (isnan(ms) || !gmtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(out, cap, "?");
}

/* Which requests the ranking covers: all of the range, or a sample of it. */
static void coverage(const struct report_options *o, const struct json *root)
{
	char from[40], to[40];
	double analysed = json_num_or_nan(json_get(root, "requests")),
	       in_range = json_num_or_nan(json_get(root, "requests_in_range"));
	double skipped = json_num_or_nan(json_get(root, "skipped"));
	const struct json *sampled = json_get(root, "sampled");
	fmt_utc(from, sizeof(from), json_num_or_nan(json_get(root, "covered_from_ms")));
	fmt_utc(to, sizeof(to), json_num_or_nan(json_get(root, "covered_to_ms")));
	printf("%sComponents by their time on the critical path of %.0f requests, from %s to %s. ",
	       o->text ? "  " : "", analysed, from, to);
	if (sampled && sampled->type == JSON_TRUE)
		printf("A sample: %.0f of the %.0f requests in the last %s were read (limit %.0f), whole "
		       "traces "
		       "chosen by trace id across the range, so the shares stand for the range but the "
		       "totals do not; --limit reads more.",
		       json_num_or_nan(json_get(root, "matched")), in_range, o->range,
		       json_num_or_nan(json_get(root, "limit")));
	else
		printf("Every request of the last %s was read (%.0f, nested ones analysed as part of the "
		       "request that called them).",
		       o->range, in_range);
	if (skipped > 0)
		printf(" %.0f were connection set-up, not requests, and are left out.", skipped);
	printf(" Each moment is charged to one component, so the shares add up to 100%%.\n\n");
}

static void bottlenecks(const struct report_options *o, const struct json *root)
{
	const struct json *list = json_get(root, "bottlenecks");
	heading(o, 2, "Critical path and bottlenecks");
	if (!list || list->type != JSON_ARRAY || !list->len) {
		printf("No bottleneck stands out in the selected requests.\n");
		return;
	}
	coverage(o, root);
	if (!o->text)
		printf("| # | Component | Kind | Critical path share | Per request | Requests |\n"
		       "| --- | --- | --- | --- | --- | --- |\n");
	int i = 0;
	for (const struct json *b = list->child; b && i < 10; b = b->next, i++) {
		const char *comp = str(json_get(b, "component"), "?"), *kind = str(json_get(b, "kind"), "");
		double share = 100 * json_num_or_nan(json_get(b, "share")),
		       per = json_num_or_nan(json_get(b, "critical_ms_per_request"));
		double reqs = json_num_or_nan(json_get(b, "requests_affected"));
		if (o->text)
			printf("  %2d. %-50s %-20s %5.1f%% %9.1f ms/request %8.0f requests\n", i + 1, comp,
			       kind, share, per, reqs);
		else
			printf("| %d | %s | %s | %.1f%% | %.1f ms | %.0f |\n", i + 1, comp, kind, share, per,
			       reqs);
	}
}

static const char *const priorities[] = {"HIGH", "MEDIUM", "LOW"};

static void recommendations(const struct report_options *o, const struct json *root)
{
	const struct json *list = json_get(root, "recommendations");
	heading(o, 2, "Recommendations");
	int shown = 0;
	for (int p = 0; p < 3; p++) {
		int n = 0;
		for (const struct json *r = list ? list->child : NULL; r; r = r->next) {
			const struct json *f = json_get(r, "finding");
			const char *prio = str(json_get(f, "priority"), "");
			const char *status = str(json_get(r, "status"), "open");
			const struct json *active = json_get(r, "active");
			if (strcasecmp(prio, priorities[p]) || !active || active->type != JSON_TRUE ||
			    !strcmp(status, "dismissed"))
				continue;
			if (!n++)
				heading(o, 3,
					p == 0	 ? "High priority"
					: p == 1 ? "Medium priority"
						 : "Low priority");
			shown++;
			const struct json *words = json_get(f, "recommendation");
			printf("%d. %s%s%s [%s]\n", shown, o->text ? "" : "**",
			       str(json_get(words, "title"), "?"), o->text ? "" : "**", status);
			printf("   - Evidence: %s\n", str(json_get(words, "evidence"), ""));
			printf("   - %s\n", str(json_get(words, "gain"), ""));
			printf("   - Change: %s\n", str(json_get(words, "change"), ""));
			printf("   - Learn more: %s%s\n", o->server, str(json_get(f, "doc"), ""));
		}
	}
	if (!shown)
		printf("No open recommendation: the detectors found none of the patterns they know in this "
		       "range.\n");
}

int cmd_report(int argc, char **argv)
{
	struct report_options o = {.server = "http://127.0.0.1:4318",
				   .range = "6h",
				   .target_p95_ms = 1000,
				   .target_p99_ms = 2500,
				   .target_error_pct = 1};
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'},
		{"range", required_argument, NULL, 'r'},
		{"service", required_argument, NULL, 'S'},
		{"format", required_argument, NULL, 'f'},
		{"limit", required_argument, NULL, 'l'},
		{"target-p95-ms", required_argument, NULL, '5'},
		{"target-p99-ms", required_argument, NULL, '9'},
		{"target-error-pct", required_argument, NULL, 'e'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': o.server = optarg; break;
		case 'r': o.range = optarg; break;
		case 'S': o.service = optarg; break;
		case 'l': o.limit = optarg; break;
		case 'f':
			if (strcmp(optarg, "markdown") && strcmp(optarg, "text"))
				return usage(stderr);
			o.text = !strcmp(optarg, "text");
			break;
		case '5': o.target_p95_ms = atof(optarg); break;
		case '9': o.target_p99_ms = atof(optarg); break;
		case 'e': o.target_error_pct = atof(optarg); break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (optind < argc)
		return usage(stderr);

	char err[512];
	int rc = 1;
	struct buf body[3];
	struct json_doc sum = {0}, bot = {0}, rec = {0};
	for (int i = 0; i < 3; i++)
		buf_init(&body[i], 256u << 20);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *curl = curl_easy_init();
	if (!curl ||
	    get(curl, &o, "/api/v1/performance/summary", 1, NULL, &body[0], &sum, err, sizeof(err)) < 0 ||
	    get(curl, &o, "/api/v1/bottlenecks", 1, o.limit, &body[1], &bot, err, sizeof(err)) < 0 ||
	    get(curl, &o, "/api/v1/recommendations", 0, NULL, &body[2], &rec, err, sizeof(err)) < 0) {
		fprintf(stderr, "hotpath report: %s\n", curl ? err : "curl_easy_init failed");
		goto out;
	}
	printf(o.text ? "Performance report: %s, last %s\n" : "# Performance report: %s, last %s\n",
	       o.service ? o.service : "all services", o.range);
	kpis(&o, sum.root);
	bottlenecks(&o, bot.root);
	recommendations(&o, rec.root);
	rc = 0;
out:
	json_doc_release(&sum);
	json_doc_release(&bot);
	json_doc_release(&rec);
	for (int i = 0; i < 3; i++)
		buf_release(&body[i]);
	if (curl)
		curl_easy_cleanup(curl);
	curl_global_cleanup();
	return rc;
}
