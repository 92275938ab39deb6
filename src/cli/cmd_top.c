/*
 * cmd_top.c - `hotpath top`: a terminal table of endpoints by impact.
 *
 * Fetches GET /api/v1/performance/compare?by=endpoint from a running server
 * (libcurl), reads it with the project's JSON reader, and prints endpoints
 * sorted by impact (count x p95): the ones whose slowness costs the most
 * time in total.  On a terminal it redraws every 2 s like top(1); when
 * stdout is a pipe or file, or with --once, it prints once.  Owns no
 * figures of its own: every number comes from the server's answer.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/json_doc.h"
#include "core/json_field.h"

#define MAX_ANSWER (64u << 20)
#define REFRESH_S  2

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int usage(FILE *out)
{
	fprintf(out,
		"usage: hotpath top [--server URL] [--range 1h] [--service S] [--env E] [--rows N] [--once]\n"
		"\n"
		"Show the endpoints of a running hotpath server, sorted by impact (requests\n"
		"x p95 latency), with count, requests per second, p50/p95/p99 and error rate.\n"
		"Redraws every %d s when stdout is a terminal; prints once otherwise.\n"
		"\n"
		"  --server URL     the server (default http://127.0.0.1:4318)\n"
		"  --range R        time range ending now: 15m, 1h, 6h, 24h, 7d, 30d (default 1h)\n"
		"  --service S      only this service\n"
		"  --env E          only this environment\n"
		"  --rows N         at most N endpoints (default: what fits the terminal, or all)\n"
		"  --once           print once and exit, even on a terminal\n"
		"  -h, --help       this text\n",
		REFRESH_S);
	return out == stdout ? 0 : 2;
}

struct top_options {
	const char *server, *range, *service, *env;
	long rows;
	int once;
};

struct top_row {
	const char *endpoint; /* NULL: requests without one */
	int other;
	uint64_t count;
	double rps, p50, p95, p99, error_rate, impact;
};

struct top_answer {
	struct json_doc doc;
	struct top_row *rows;
	size_t n;
	uint64_t count;
	double range_s;
	const char *source;
};

/* GET the compare answer into `body`.  0, or -1 with a message. */
static int fetch(CURL *curl, const struct top_options *o, struct buf *body, char *err, size_t errlen)
{
	struct buf url;
	buf_init(&url, BUF_NO_LIMIT);
	buf_printf(&url, "%s/api/v1/performance/compare?by=endpoint&top=1000", o->server);
	cli_url_param(&url, curl, "range", o->range);
	cli_url_param(&url, curl, "service", o->service);
	cli_url_param(&url, curl, "env", o->env);
	int ret = cli_api_get(curl, url.data, body, err, errlen);
	buf_release(&url);
	return ret;
}

static int cmp_impact(const void *pa, const void *pb)
{
	const struct top_row *a = pa, *b = pb;
	double x = isnan(a->impact) ? -1 : a->impact, y = isnan(b->impact) ? -1 : b->impact;
	if (x != y)
		return x < y ? 1 : -1;
	return (a->count < b->count) - (a->count > b->count);
}

/* Read the answer's rows.  0, or -1 with a message. */
static int parse(struct top_answer *a, const struct buf *body, char *err, size_t errlen)
{
	char perr[200];
	memset(a, 0, sizeof(*a));
	if (!body->len) {
		snprintf(err, errlen, "the server's answer is empty");
		return -1;
	}
	if (json_doc_parse(&a->doc, body->data, body->len, 0, perr, sizeof(perr)) < 0) {
		snprintf(err, errlen, "the server's answer is not JSON: %s", perr);
		return -1;
	}
	const struct json *rows = json_get(a->doc.root, "rows");
	if (!rows || rows->type != JSON_ARRAY) {
		snprintf(err, errlen, "the server's answer has no \"rows\" array");
		return -1;
	}
	json_uint64(json_get(a->doc.root, "count"), &a->count);
	a->range_s = json_num_or_nan(json_get(a->doc.root, "range_s"));
	a->source = json_str(json_get(a->doc.root, "source"));
	a->rows = calloc(rows->len ? rows->len : 1, sizeof(*a->rows));
	if (!a->rows) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (const struct json *r = rows->child; r; r = r->next) {
		struct top_row *t = &a->rows[a->n++];
		const struct json *other = json_get(r, "other");
		t->endpoint = json_str(json_get(r, "key"));
		t->other = other && other->type == JSON_TRUE;
		json_uint64(json_get(r, "count"), &t->count);
		t->rps = json_num_or_nan(json_get(r, "rps"));
		t->p50 = json_num_or_nan(json_get(r, "p50_ms"));
		t->p95 = json_num_or_nan(json_get(r, "p95_ms"));
		t->p99 = json_num_or_nan(json_get(r, "p99_ms"));
		t->error_rate = json_num_or_nan(json_get(r, "error_rate"));
		t->impact = (double)t->count * t->p95;
	}
	qsort(a->rows, a->n, sizeof(*a->rows), cmp_impact);
	return 0;
}

static void answer_release(struct top_answer *a)
{
	free(a->rows);
	json_doc_release(&a->doc);
}

/* A latency in ms with precision to suit its size, or "-". */
static const char *fmt_ms(char *s, size_t n, double ms)
{
	if (isnan(ms))
		snprintf(s, n, "-");
	else if (ms < 10)
		snprintf(s, n, "%.2f", ms);
	else if (ms < 1000)
		snprintf(s, n, "%.1f", ms);
	else
		snprintf(s, n, "%.0f", ms);
	return s;
}

static void terminal_size(int *cols, int *lines)
{
	struct winsize ws;
	*cols = 100;
	*lines = 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col) {
		*cols = ws.ws_col;
		*lines = ws.ws_row;
	}
}

static void print_table(FILE *out, const struct top_options *o, const struct top_answer *a, int tty)
{
	int cols, lines;
	char t[32], b50[16], b95[16], b99[16];
	time_t now = time(NULL);
	struct tm tm;
	terminal_size(&cols, &lines);
	strftime(t, sizeof(t), "%H:%M:%S", localtime_r(&now, &tm));
	fprintf(out, "hotpath top - %s - last %s%s%s%s%s - %llu requests", o->server, o->range,
		o->service ? " - service " : "", o->service ? o->service : "", o->env ? " - env " : "",
		o->env ? o->env : "", (unsigned long long)a->count);
	if (a->range_s > 0)
		fprintf(out, ", %.2f req/s", (double)a->count / a->range_s);
	fprintf(out, " - %s\n\n", t);

	/* ENDPOINT takes what the fixed columns leave */
	const int fixed = 9 + 9 + 10 + 10 + 10 + 8 + 11;
	int w = (tty ? cols : 100) - fixed;
	if (w < 20)
		w = 20;
	fprintf(out, "%-*s %8s %8s %9s %9s %9s %7s %10s\n", w, "ENDPOINT", "COUNT", "RPS", "P50 ms", "P95 ms",
		"P99 ms", "ERR %", "IMPACT s");
	size_t max = a->n;
	if (o->rows > 0 && (size_t)o->rows < max)
		max = (size_t)o->rows;
	if (tty && o->rows <= 0 && lines > 4 && (size_t)(lines - 4) < max)
		max = (size_t)(lines - 4);
	for (size_t i = 0; i < max; i++) {
		const struct top_row *r = &a->rows[i];
		const char *name = r->other ? "(other endpoints)" : r->endpoint ? r->endpoint : "(none)";
		int len = (int)strlen(name);
		char err[16];
		if (isnan(r->error_rate))
			snprintf(err, sizeof(err), "-");
		else
			snprintf(err, sizeof(err), "%.1f", r->error_rate * 100);
		if (len > w) /* keep the end: routes differ there */
			fprintf(out, "~%s", name + len - (w - 1));
		else
			fprintf(out, "%-*s", w, name);
		fprintf(out, " %8llu %8.2f %9s %9s %9s %7s %10.1f\n", (unsigned long long)r->count,
			isnan(r->rps) ? 0.0 : r->rps, fmt_ms(b50, sizeof(b50), r->p50),
			fmt_ms(b95, sizeof(b95), r->p95), fmt_ms(b99, sizeof(b99), r->p99), err,
			isnan(r->impact) ? 0.0 : r->impact / 1000);
	}
	if (max < a->n)
		fprintf(out, "... %zu more endpoints\n", a->n - max);
	if (!a->n)
		fprintf(out, "(no requests in this range)\n");
}

/* Sleep `s` seconds unless a signal asks us to stop. */
static void pause_s(int s)
{
	struct timespec ts = {.tv_sec = s, .tv_nsec = 0};
	while (!stop_requested && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cmd_top(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'},  {"range", required_argument, NULL, 'r'},
		{"service", required_argument, NULL, 'S'}, {"env", required_argument, NULL, 'e'},
		{"rows", required_argument, NULL, 'n'},	   {"once", no_argument, NULL, '1'},
		{"help", no_argument, NULL, 'h'},	   {NULL, 0, NULL, 0},
	};
	struct top_options o = {.server = "http://127.0.0.1:4318", .range = "1h"};
	struct buf body;
	char err[512], *end;
	int c, li = 0, ret = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, &li)) != -1) {
		switch (c) {
		case 's': o.server = optarg; break;
		case 'r': o.range = optarg; break;
		case 'S': o.service = optarg; break;
		case 'e': o.env = optarg; break;
		case 'n':
			o.rows = strtol(optarg, &end, 10);
			if (end == optarg || *end || o.rows < 1) {
				fprintf(stderr, "hotpath top: bad value '%s' for --rows\n", optarg);
				return usage(stderr);
			}
			break;
		case '1': o.once = 1; break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hotpath top: unexpected argument '%s'\n", argv[optind]);
		return usage(stderr);
	}
	size_t sl = strlen(o.server);
	char *server = strndup(o.server, sl && o.server[sl - 1] == '/' ? sl - 1 : sl);
	o.server = server;

	int tty = isatty(STDOUT_FILENO), live = tty && !o.once;
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *curl = curl_easy_init();
	buf_init(&body, MAX_ANSWER);
	if (!curl) {
		fprintf(stderr, "hotpath top: curl_easy_init failed\n");
		goto out;
	}
	do {
		struct top_answer a;
		memset(&a, 0, sizeof(a));
		int ok = fetch(curl, &o, &body, err, sizeof(err)) == 0 &&
			 parse(&a, &body, err, sizeof(err)) == 0;
		if (live)
			fputs("\033[H\033[2J", stdout); /* home, clear screen */
		if (ok) {
			print_table(stdout, &o, &a, tty);
			ret = 0;
		} else {
			fprintf(live ? stdout : stderr, "hotpath top: %s\n", err);
			ret = 1;
		}
		answer_release(&a);
		fflush(stdout);
		if (live)
			pause_s(REFRESH_S);
	} while (live && !stop_requested);
	if (live)
		ret = 0; /* interrupted by the user */
out:
	buf_release(&body);
	if (curl)
		curl_easy_cleanup(curl);
	curl_global_cleanup();
	free(server);
	return ret;
}
