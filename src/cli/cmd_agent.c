/*
 * cmd_agent.c - `hotpath agent`: for hosts without an OpenTelemetry SDK,
 * samples /proc every interval (cli/procsample.h) and sends the points as
 * OTLP/HTTP protobuf to a hotpath server (or any OTLP receiver).
 *
 * Sending: each sample is encoded once and queued; the queue is sent in
 * order after each sample.  A 2xx or a 4xx other than 429 takes a request
 * off the queue (a 4xx will not get better by retrying; it is reported);
 * a 429, a 5xx or no answer keeps it, and the queue is tried again at the
 * next sample.  The queue holds at most --buffer bytes: past it the oldest
 * samples are dropped and counted, so memory stays bounded while the server
 * is away.
 *
 * An http:// target is sent to over a plain socket (cli/httppost.h), so
 * libcurl and the libraries it brings are never loaded (core/curl_lazy.c)
 * and the agent stays within its memory bound; other schemes (https://) go
 * through libcurl.
 */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/httppost.h"
#include "cli/procsample.h"
#include "core/clock.h"
#include "ingest/otlp_pb.h"
#include "server/filters.h"

#define MAX_TARGETS 32

struct queued {
	char *data;
	size_t len;
};

struct agent {
	const char *target;
	uint64_t interval_ns;
	size_t buffer_max;
	long count; /* samples to take; 0: until stopped */
	int quiet;
	int pids[MAX_TARGETS];
	size_t n_pids;
	const char *names[MAX_TARGETS];
	size_t n_names;
	const char *service;
	struct queued *q;
	size_t n_q, cap_q, q_bytes;
	uint64_t sent, dropped, refused, failures;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int usage(FILE *out)
{
	fprintf(out,
		"usage: hotpath agent [--target URL] [--interval 10s] [--pid PID]... [--process NAME]...\n"
		"                     [--service NAME] [--buffer BYTES] [--count N] [--quiet]\n\n"
		"  --target URL      OTLP/HTTP receiver (default http://127.0.0.1:4318)\n"
		"  --interval D      sample every D: 500ms, 1s, 10s (default 10s)\n"
		"  --pid PID         also sample this process (repeatable)\n"
		"  --process NAME    also sample every process of this command name (repeatable)\n"
		"  --service NAME    service.name of the processes (default: their command name)\n"
		"  --buffer BYTES    samples kept while the server is away, at most (default 4194304)\n"
		"  --count N         take N samples, send what is queued, and exit\n");
	return out == stdout ? 0 : 2;
}

/* "500ms", "1s", "2m" (filters_parse_range), at least 100 ms. */
static int parse_interval(const char *s, uint64_t *ns)
{
	size_t n = strlen(s);
	if (n > 2 && !strcmp(s + n - 2, "ms")) {
		char *end;
		long ms = strtol(s, &end, 10);
		if (end != s + n - 2 || ms < 100 || ms > 86400000)
			return -1;
		*ns = (uint64_t)ms * NS_PER_MS;
		return 0;
	}
	return filters_parse_range(s, ns) < 0 || *ns < 100 * NS_PER_MS ? -1 : 0;
}

static int parse_args(struct agent *ag, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char name[32];
		const char *v;
		if (cli_long_option(argv[i], name, sizeof(name), &v) < 0)
			return -1;
		if (!strcmp(name, "help"))
			return 1;
		if (!strcmp(name, "quiet")) {
			ag->quiet = 1;
			continue;
		}
		if (!v && i + 1 < argc)
			v = argv[++i];
		if (!v)
			return -1;
		char *end;
		if (!strcmp(name, "target"))
			ag->target = v;
		else if (!strcmp(name, "interval")) {
			if (parse_interval(v, &ag->interval_ns) < 0)
				return -1;
		} else if (!strcmp(name, "pid") && ag->n_pids < MAX_TARGETS) {
			long pid = strtol(v, &end, 10);
			if (*end || pid <= 0)
				return -1;
			ag->pids[ag->n_pids++] = (int)pid;
		} else if (!strcmp(name, "process") && ag->n_names < MAX_TARGETS)
			ag->names[ag->n_names++] = v;
		else if (!strcmp(name, "service"))
			ag->service = v;
		else if (!strcmp(name, "buffer")) {
			ag->buffer_max = strtoull(v, &end, 10);
			if (*end || ag->buffer_max < 4096)
				return -1;
		} else if (!strcmp(name, "count")) {
			ag->count = strtol(v, &end, 10);
			if (*end || ag->count <= 0)
				return -1;
		} else
			return -1;
	}
	return 0;
}

/* Queue one encoded sample, dropping the oldest past the bound. */
static void enqueue(struct agent *ag, struct buf *body)
{
	size_t len;
	char *data = buf_detach(body, &len);
	while (ag->n_q && ag->q_bytes + len > ag->buffer_max) {
		ag->q_bytes -= ag->q[0].len;
		free(ag->q[0].data);
		memmove(ag->q, ag->q + 1, (ag->n_q - 1) * sizeof(*ag->q));
		ag->n_q--;
		ag->dropped++;
	}
	if (ag->n_q == ag->cap_q) {
		ag->cap_q = ag->cap_q ? ag->cap_q * 2 : 16;
		ag->q = realloc(ag->q, ag->cap_q * sizeof(*ag->q));
		if (!ag->q)
			abort();
	}
	ag->q[ag->n_q++] = (struct queued){data, len};
	ag->q_bytes += len;
}

/* Where samples go: a plain http:// target, else libcurl's handle. */
struct sender {
	const char *url;
	int plain;
	struct httppost_target t;
	CURL *curl;
};

static size_t discard(char *ptr, size_t size, size_t n, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * n;
}

/* POST one request through libcurl. */
static long post_curl(CURL *curl, const char *url, const struct queued *r)
{
	struct curl_slist *h =
		cli_auth_header(curl_slist_append(NULL, "Content-Type: application/x-protobuf"));
	long status = 0;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r->data);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)r->len);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "hotpath-agent/1.0");
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	return status;
}

/* POST one request: its HTTP status, or 0 when the server did not answer. */
static long post(struct sender *s, const struct queued *r)
{
	char auth[160], err[256];
	const char *h[3] = {"Content-Type: application/x-protobuf", "User-Agent: hotpath-agent/1.0", auth};
	if (!s->plain)
		return post_curl(s->curl, s->url, r);
	return httppost_send(&s->t, h, cli_auth_line(auth, sizeof(auth)) ? 3 : 2, r->data, r->len, 5000, err,
			     sizeof(err));
}

/* Send the queue in order until a request must be retried. */
static void flush(struct agent *ag, struct sender *s)
{
	const char *url = s->url;
	size_t done = 0;
	while (done < ag->n_q) {
		long st = post(s, &ag->q[done]);
		if (st == 0 || st == 429 || st >= 500) {
			ag->failures++;
			if (!ag->quiet)
				fprintf(stderr, "hotpath agent: %s: %s; %zu samples kept to retry\n", url,
					st ? "refused for now" : "no answer", ag->n_q - done);
			break;
		}
		if (st >= 300) {
			ag->refused++;
			fprintf(stderr, "hotpath agent: %s answered %ld: sample dropped\n", url, st);
		} else {
			ag->sent++;
		}
		ag->q_bytes -= ag->q[done].len;
		free(ag->q[done].data);
		done++;
	}
	memmove(ag->q, ag->q + done, (ag->n_q - done) * sizeof(*ag->q));
	ag->n_q -= done;
}

static void sleep_until(uint64_t t_ns)
{
	struct timespec ts = {(time_t)(t_ns / NS_PER_S), (long)(t_ns % NS_PER_S)};
	while (!stopping && clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) != 0)
		;
}

static int run(struct agent *ag, struct sender *s)
{
	struct procsample ps;
	struct batch b;
	struct buf body;
	char err[256];
	procsample_init(&ps, "/proc", ag->service);
	batch_init(&b);
	uint64_t next = clock_now_ns();
	for (long i = 0; !stopping && (!ag->count || i < ag->count); i++) {
		batch_reset(&b);
		if (procsample_collect(&ps, &b, ag->pids, ag->n_pids, ag->names, ag->n_names, clock_now_ns(),
				       err, sizeof(err)) < 0) {
			fprintf(stderr, "hotpath agent: %s\n", err);
			return 1;
		}
		buf_init(&body, BUF_NO_LIMIT);
		if (otlp_pb_encode_metrics(&b, &body) == 0 && body.len)
			enqueue(ag, &body);
		buf_release(&body);
		flush(ag, s);
		if (ag->count && i + 1 == ag->count)
			break;
		next += ag->interval_ns;
		sleep_until(next);
	}
	if (ag->n_q)
		flush(ag, s);
	batch_release(&b);
	procsample_release(&ps);
	if (!ag->quiet)
		fprintf(stderr, "hotpath agent: %llu samples sent, %llu dropped, %llu refused, %zu unsent\n",
			(unsigned long long)ag->sent, (unsigned long long)ag->dropped,
			(unsigned long long)ag->refused, ag->n_q);
	return 0;
}

/* Sample and send to the target: a plain http:// one, else through libcurl. */
static int send_to(struct agent *ag)
{
	struct buf url;
	struct sender s = {0};
	char err[256];
	int rc = 1;
	buf_init(&url, 4096);
	buf_printf(&url, "%s/v1/metrics", ag->target);
	s.url = url.data;
	s.plain = httppost_parse_url(ag->target, "/v1/metrics", &s.t, err, sizeof(err));
	if (s.plain < 0) {
		fprintf(stderr, "hotpath agent: %s\n", err);
		goto out;
	}
	if (s.plain) {
		rc = run(ag, &s);
		goto out;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	s.curl = curl_easy_init();
	if (s.curl)
		rc = run(ag, &s);
	else
		fprintf(stderr, "hotpath agent: %s\n", curl_easy_strerror(CURLE_FAILED_INIT));
	curl_easy_cleanup(s.curl);
	curl_global_cleanup();
out:
	buf_release(&url);
	return rc;
}

int cmd_agent(int argc, char **argv)
{
	struct agent ag = {
		.target = "http://127.0.0.1:4318", .interval_ns = 10 * NS_PER_S, .buffer_max = 4u << 20};
	int rc = parse_args(&ag, argc, argv);
	if (rc)
		return usage(rc > 0 ? stdout : stderr);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rc = send_to(&ag);
	for (size_t i = 0; i < ag.n_q; i++)
		free(ag.q[i].data);
	free(ag.q);
	return rc;
}
