/*
 * demo.c - the demo traffic sender (see demo.h).
 *
 * Owns pacing (history first, then live ticks), OTLP encoding, compression
 * and the HTTP POSTs with their retries.  What the data looks like is
 * scenario.c's business; this file never builds a span itself.
 */
#include "demo/demo.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/clock.h"
#include "demo/scenario.h"
#include "ingest/otlp_pb.h"

#define MAX_BODY	      (64u << 20) /* one encoded POST, before compression */
#define MAX_ATTEMPTS	      6		  /* first try and five retries */
#define MAX_RETRY_WAIT_S      60	  /* a longer Retry-After is capped */
#define LIVE_TICK_NS	      NS_PER_S	  /* one POST of traces a second */
#define LIVE_METRICS_NS	      (10 * NS_PER_S)
#define LIVE_MAX_GAP_NS	      (600 * NS_PER_S)
#define BACKFILL_CHUNK_NS     (300 * NS_PER_S) /* simulated time per POST */
#define BACKFILL_METRICS_NS   (60 * NS_PER_S)
#define ERROR_BODY_MAX	      512
#define MAX_REQUESTS_PER_POST 2000 /* ~42k spans, ~19 MB of protobuf */

struct sender {
	const struct demo_options *o;
	volatile int *stop;
	uint64_t deadline_ns; /* monotonic; retries give up there too */
	CURL *curl;
	struct curl_slist *headers;
	char traces_url[512], metrics_url[512];
	struct buf pb, gz, resp;
	long retry_after_s; /* from the last response; -1 when absent */
	/* Progress. */
	const char *phase;
	double done; /* fraction of the backfill */
	uint64_t requests, spans, points, posts, failed, retried, bytes, attempts;
	uint64_t started_ns, last_progress_ns, live_from_ns, live_to_ns, live_requests;
	int warned; /* a failure was logged since the last progress line */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int stopped(const struct sender *s)
{
	return (s->stop && __atomic_load_n(s->stop, __ATOMIC_RELAXED)) || mono_ns() >= s->deadline_ns;
}

/* Sleep up to `ns`, waking every 100 ms to honour a stop request. */
static void nap(const struct sender *s, uint64_t ns)
{
	uint64_t until = mono_ns() + ns;
	while (!stopped(s)) {
		uint64_t now = mono_ns();
		if (now >= until)
			return;
		uint64_t d = until - now < 100000000ull ? until - now : 100000000ull;
		struct timespec ts = {(time_t)(d / NS_PER_S), (long)(d % NS_PER_S)};
		nanosleep(&ts, NULL);
	}
}

/* ---- HTTP ----------------------------------------------------------------- */

static int gzip_into(struct buf *out, const void *data, size_t len)
{
	z_stream z;
	int rc;
	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip wrapper rather than zlib's.  Speed over ratio: the
	 * sender may share a machine with the server it feeds. */
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	buf_reset(out);
	uLong bound = deflateBound(&z, (uLong)len);
	if (buf_reserve(out, bound) < 0) {
		deflateEnd(&z);
		return -1;
	}
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out->data;
	z.avail_out = (uInt)bound;
	rc = deflate(&z, Z_FINISH);
	out->len = z.total_out;
	deflateEnd(&z);
	return rc == Z_STREAM_END ? 0 : -1;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	struct sender *s = arg;
	size_t len = size * n;
	static const char key[] = "retry-after:";
	if (len > sizeof(key) - 1 && !strncasecmp(line, key, sizeof(key) - 1)) {
		char v[64];
		size_t vl = len - (sizeof(key) - 1);
		if (vl >= sizeof(v))
			vl = sizeof(v) - 1;
		memcpy(v, line + sizeof(key) - 1, vl);
		v[vl] = 0;
		char *end;
		long secs = strtol(v, &end, 10);
		if (end != v) {
			s->retry_after_s = secs < 0 ? 0 : secs;
		} else { /* an HTTP-date */
			time_t when = curl_getdate(v, NULL);
			time_t now = time(NULL);
			if (when != (time_t)-1)
				s->retry_after_s = when > now ? (long)(when - now) : 0;
		}
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct sender *s = arg;
	size_t len = size * n;
	if (s->resp.len < ERROR_BODY_MAX)
		buf_append(&s->resp, data,
			   len < ERROR_BODY_MAX - s->resp.len ? len : ERROR_BODY_MAX - s->resp.len);
	return len;
}

/* Abort a transfer in flight when asked to stop. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	return stopped(arg);
}

/* An error body for a log line: text as is, binary (a protobuf Status) as a note. */
static const char *printable(const struct buf *b)
{
	if (!b->data)
		return "";
	for (size_t i = 0; i < b->len; i++)
		if ((unsigned char)b->data[i] < 0x20 && b->data[i] != '\n' && b->data[i] != '\t')
			return "(binary body)";
	return b->data;
}

static int retryable(long code)
{
	/* The OTLP/HTTP specification's retryable statuses. */
	return code == 429 || code == 502 || code == 503 || code == 504;
}

static void warn_once(struct sender *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_once(struct sender *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (s->warned)
		return;
	s->warned = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("demo: %s", msg);
}

/* POST one body, retrying what OTLP says to retry.  Returns 0 or -1. */
static int post(struct sender *s, const char *url, const void *data, size_t len)
{
	for (int attempt = 0; attempt < MAX_ATTEMPTS && !stopped(s); attempt++) {
		long code = 0, wait_s;
		CURLcode rc;

		buf_reset(&s->resp);
		s->retry_after_s = -1;
		curl_easy_setopt(s->curl, CURLOPT_URL, url);
		curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		rc = curl_easy_perform(s->curl);
		s->attempts++;
		if (rc == CURLE_OK)
			curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
		if (rc == CURLE_OK && code >= 200 && code < 300) {
			s->posts++;
			s->bytes += len;
			return 0;
		}
		if (rc == CURLE_ABORTED_BY_CALLBACK)
			break;
		if (rc != CURLE_OK)
			warn_once(s, "POST %s: %s (will retry)", url, curl_easy_strerror(rc));
		else if (!retryable(code)) {
			warn_once(s, "POST %s: HTTP %ld %s (dropped)", url, code, printable(&s->resp));
			break;
		} else
			warn_once(s, "POST %s: HTTP %ld (will retry)", url, code);
		if (attempt + 1 == MAX_ATTEMPTS)
			break;
		wait_s = s->retry_after_s >= 0 ? s->retry_after_s : 1L << attempt;
		if (wait_s > MAX_RETRY_WAIT_S)
			wait_s = MAX_RETRY_WAIT_S;
		s->retried++;
		nap(s, (uint64_t)wait_s * NS_PER_S + (wait_s ? 0 : 100000000ull));
	}
	if (!stopped(s)) /* what a stop cuts short is not a failure */
		s->failed++;
	return -1;
}

static int post_encoded(struct sender *s, const char *url, struct buf *pb)
{
	if (!s->o->gzip)
		return post(s, url, pb->data, pb->len);
	if (gzip_into(&s->gz, pb->data, pb->len) < 0) {
		warn_once(s, "gzip failed");
		s->failed++;
		return -1;
	}
	return post(s, url, s->gz.data, s->gz.len);
}

/* Encode and send what the batch holds: spans, then metric points. */
static void send_batch(struct sender *s, const struct batch *b)
{
	if (b->n_spans) {
		buf_reset(&s->pb);
		if (otlp_pb_encode_traces(b, &s->pb) < 0) {
			warn_once(s, "could not encode %zu spans", b->n_spans);
			s->failed++;
		} else {
			post_encoded(s, s->traces_url, &s->pb);
		}
	}
	if (b->n_points && !stopped(s)) {
		buf_reset(&s->pb);
		if (otlp_pb_encode_metrics(b, &s->pb) < 0) {
			warn_once(s, "could not encode %zu metric points", b->n_points);
			s->failed++;
		} else {
			post_encoded(s, s->metrics_url, &s->pb);
		}
	}
}

/* curl_global_init() is not thread-safe in every libcurl: run it once. */
static void demo_curl_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int sender_init(struct sender *s, const struct demo_options *o, volatile int *stop)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const char *target = o->target && *o->target ? o->target : "http://127.0.0.1:4318";
	size_t tl = strlen(target);

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->stop = stop;
	s->deadline_ns = UINT64_MAX;
	while (tl > 0 && target[tl - 1] == '/')
		tl--;
	if (tl + sizeof("/v1/metrics") > sizeof(s->traces_url)) {
		log_error("demo: target URL too long");
		return -1;
	}
	snprintf(s->traces_url, sizeof(s->traces_url), "%.*s/v1/traces", (int)tl, target);
	snprintf(s->metrics_url, sizeof(s->metrics_url), "%.*s/v1/metrics", (int)tl, target);
	pthread_once(&once, demo_curl_global_init);
	s->curl = curl_easy_init();
	if (!s->curl) {
		log_error("demo: curl_easy_init failed");
		return -1;
	}
	buf_init(&s->pb, MAX_BODY);
	buf_init(&s->gz, MAX_BODY);
	buf_init(&s->resp, ERROR_BODY_MAX + 1);
	s->headers = curl_slist_append(s->headers, "Content-Type: application/x-protobuf");
	s->headers = curl_slist_append(s->headers, "Expect:");
	const char *key = getenv("HOTPATH_KEY"); /* a server with API keys wants one (role ingest) */
	if (key && *key && strlen(key) < 120) {
		char auth[160];
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
		s->headers = curl_slist_append(s->headers, auth);
	}
	if (o->gzip)
		s->headers = curl_slist_append(s->headers, "Content-Encoding: gzip");
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers);
	curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "hotpath-demo/1.0");
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, 60000L);
	curl_easy_setopt(s->curl, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(s->curl, CURLOPT_XFERINFODATA, s);
	curl_easy_setopt(s->curl, CURLOPT_NOPROGRESS, 0L);
	s->started_ns = s->last_progress_ns = mono_ns();
	return 0;
}

static void sender_release(struct sender *s)
{
	if (s->curl)
		curl_easy_cleanup(s->curl);
	curl_slist_free_all(s->headers);
	buf_release(&s->pb);
	buf_release(&s->gz);
	buf_release(&s->resp);
}

/* ---- pacing --------------------------------------------------------------- */

static void progress(struct sender *s, int force)
{
	uint64_t now = mono_ns();
	double every = s->o->progress_s;
	/* Without progress lines, warnings still re-arm every 10 s. */
	if (!force && ((double)(now - s->last_progress_ns) < (every > 0 ? every : 10) * 1e9 || stopped(s)))
		return;
	s->last_progress_ns = now;
	s->warned = 0;
	if (every <= 0 && !force)
		return;
	char extra[64] = "";
	if (!strcmp(s->phase, "backfill") && s->done < 1)
		snprintf(extra, sizeof(extra), " %.0f%% of history,", s->done * 100);
	else if (s->live_to_ns > s->live_from_ns)
		snprintf(extra, sizeof(extra), " %.1f requests/s,",
			 (double)s->live_requests / ((double)(s->live_to_ns - s->live_from_ns) / 1e9));
	log_info("demo %s:%s %llu requests, %llu spans, %llu points in %llu posts (%.1f MB); %llu failed, "
		 "%llu retried",
		 s->phase, extra, (unsigned long long)s->requests, (unsigned long long)s->spans,
		 (unsigned long long)s->points, (unsigned long long)s->posts, (double)s->bytes / 1e6,
		 (unsigned long long)s->failed, (unsigned long long)s->retried);
}

/* Requests due over [from, to) at `rate`, following the time-of-day curve. */
static unsigned due(double *carry, double rate, uint64_t from, uint64_t to)
{
	double n = *carry + rate * (double)(to - from) / 1e9 * scenario_load(from + (to - from) / 2);
	unsigned whole = n > 4e9 ? 4000000000u : (unsigned)n;
	*carry = n - whole;
	return whole;
}

/* Generate and send `n` requests starting in [from, to), in POSTs of bounded size. */
static void send_requests(struct sender *s, struct scenario *sc, uint64_t from, uint64_t to, unsigned n)
{
	unsigned parts = (n + MAX_REQUESTS_PER_POST - 1) / MAX_REQUESTS_PER_POST;
	for (unsigned k = 0; k < parts && !stopped(s); k++) {
		uint64_t a = from + (to - from) * k / parts, z = from + (to - from) * (k + 1) / parts;
		unsigned m = n / parts + (k < n % parts);
		struct batch b;
		batch_init(&b);
		s->spans += scenario_generate(sc, &b, a, z, m);
		s->requests += m;
		send_batch(s, &b);
		batch_release(&b);
	}
}

/* One POST of metric samples at from, from + step, ... before to. */
static void send_metrics(struct sender *s, struct scenario *sc, uint64_t from, uint64_t to, uint64_t step)
{
	struct batch b;
	batch_init(&b);
	s->points += scenario_metrics_range(sc, &b, from, to, step);
	send_batch(s, &b);
	batch_release(&b);
}

/* History over [from, to), a chunk of simulated time per POST, as fast as accepted. */
static void backfill(struct sender *s, struct scenario *sc, uint64_t from, uint64_t to)
{
	double carry = 0;
	s->phase = "backfill";
	for (uint64_t t = from; t < to && !stopped(s); t += BACKFILL_CHUNK_NS) {
		uint64_t end = t + BACKFILL_CHUNK_NS < to ? t + BACKFILL_CHUNK_NS : to;
		uint64_t m = (t + BACKFILL_METRICS_NS - 1) / BACKFILL_METRICS_NS * BACKFILL_METRICS_NS;
		send_requests(s, sc, t, end, due(&carry, s->o->backfill_rate, t, end));
		if (m < end && !stopped(s))
			send_metrics(s, sc, m, end, BACKFILL_METRICS_NS);
		s->done = (double)(end - from) / (double)(to - from);
		progress(s, 0);
	}
}

/* Live traffic from `from` on: a POST of traces every tick, metrics every 10 s. */
static void live(struct sender *s, struct scenario *sc, uint64_t from)
{
	uint64_t cursor = from, next_metrics = from;
	double carry = 0;

	s->phase = "live";
	s->live_from_ns = s->live_to_ns = from;
	if (s->o->duration_s > 0)
		s->deadline_ns = mono_ns() + (uint64_t)(s->o->duration_s * 1e9);
	while (!stopped(s)) {
		uint64_t now = now_ns();
		if (now > cursor + LIVE_MAX_GAP_NS) /* a long backfill or a suspended machine */
			cursor = s->live_from_ns = now - LIVE_MAX_GAP_NS;
		if (now >= cursor + LIVE_TICK_NS) {
			unsigned n = due(&carry, s->o->rate, cursor, now);
			send_requests(s, sc, cursor, now, n);
			s->live_requests += n;
			if (now >= next_metrics && !stopped(s)) {
				send_metrics(s, sc, now, now + 1, 1);
				next_metrics = now + LIVE_METRICS_NS;
			}
			cursor = s->live_to_ns = now;
		}
		progress(s, 0);
		now = now_ns();
		nap(s, cursor + LIVE_TICK_NS > now ? cursor + LIVE_TICK_NS - now : 0);
	}
}

void demo_options_init(struct demo_options *o)
{
	memset(o, 0, sizeof(*o));
	o->target = "http://127.0.0.1:4318";
	o->rate = 20;
	o->seed = 1;
	o->backfill_rate = 2;
	o->problems = SCENARIO_ALL_PROBLEMS;
	o->gzip = 1;
	o->progress_s = 10;
}

int demo_run(const struct demo_options *o, volatile int *stop)
{
	struct sender s;
	struct scenario_config cfg;
	struct scenario sc;
	uint64_t now = now_ns();
	uint64_t history = o->backfill_hours > 0 ? (uint64_t)(o->backfill_hours * 3600 * 1e9) : 0;

	if (sender_init(&s, o, stop) < 0)
		return -1;
	scenario_config_init(&cfg);
	cfg.seed = o->seed;
	cfg.problems = o->problems;
	cfg.start_ns = now - history;
	scenario_init(&sc, &cfg);
	log_info("demo: sending to %.*s (%.0f requests/s%s%s)",
		 (int)(strlen(s.traces_url) - strlen("/v1/traces")), s.traces_url, o->rate,
		 history ? ", history first" : "", o->problems ? "" : ", no deliberate problems");
	if (history)
		backfill(&s, &sc, now - history, now);
	if (!stopped(&s))
		live(&s, &sc, history ? now : now - LIVE_TICK_NS);
	s.phase = "finished";
	progress(&s, 1);
	int rc = s.posts == 0 && s.attempts > 0 ? -1 : 0; /* tried, never delivered */
	scenario_release(&sc);
	sender_release(&s);
	return rc;
}

/* ---- the background sender of `hotpath serve --demo` ------------------------ */

static struct {
	pthread_mutex_t lock;
	pthread_t thread;
	int running;
	volatile int stop;
	struct demo_options opt;
	char *target;
} bg = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void *bg_main(void *arg)
{
	demo_run(&bg.opt, &bg.stop);
	return NULL;
}

int demo_start(const struct demo_options *o)
{
	int rc = -1;
	pthread_mutex_lock(&bg.lock);
	if (bg.running)
		goto out;
	bg.opt = *o;
	bg.target = xstrdup(o->target && *o->target ? o->target : "http://127.0.0.1:4318");
	bg.opt.target = bg.target;
	__atomic_store_n(&bg.stop, 0, __ATOMIC_RELAXED);
	if (pthread_create(&bg.thread, NULL, bg_main, NULL) != 0) {
		free(bg.target);
		bg.target = NULL;
		goto out;
	}
	bg.running = 1;
	rc = 0;
out:
	pthread_mutex_unlock(&bg.lock);
	return rc;
}

void demo_stop(void)
{
	pthread_mutex_lock(&bg.lock);
	if (bg.running) {
		__atomic_store_n(&bg.stop, 1, __ATOMIC_RELAXED);
		pthread_join(bg.thread, NULL);
		free(bg.target);
		bg.target = NULL;
		bg.running = 0;
	}
	pthread_mutex_unlock(&bg.lock);
}
