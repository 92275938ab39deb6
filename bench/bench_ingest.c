/*
 * bench_ingest.c - ingest load generator for `make bench`.
 *
 * Generates realistic traces with the demo scenario (about 10 attributes a
 * span), encodes them as OTLP protobuf or JSON batches *before* the clock
 * starts, then sends them over loopback from several connections and
 * counts only acknowledged (200) batches.  Optionally looks up traces by id
 * afterwards and reports the median latency.
 *
 *   bench_ingest --target URL [--format pb|json] [--spans N] [--batch SPANS]
 *                [--conns C] [--seed S] [--lookups K] [--hours H] [--ordered]
 *                [--also URL]...
 *
 * --also adds a server to send to (up to 8 in all): connection i sends to
 * server i mod n, so the load is split evenly among instances that share
 * one store (bench/clickhouse_pair.sh); lookups go to --target.
 *
 * Trace start times spread over the last H hours (default 1): each batch
 * over all of them, or with --ordered each batch over its own slice, in
 * order, as exporters of a live service send them.
 *
 * A server with API keys: the key (role ingest) in HOTPATH_KEY.
 *
 * Prints `name value unit` lines for bench/run.sh.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/hex.h"
#include "demo/scenario.h"
#include "ingest/otlp_json.h"
#include "ingest/otlp_pb.h"

struct payload {
	char *data;
	size_t len, spans;
	uint8_t trace_id[16]; /* one trace of this payload, for lookups */
};

static struct payload *payloads;
static size_t n_payloads;
static _Atomic size_t next_payload;
static _Atomic uint64_t acked_spans, acked_bytes, failures;
static const char *target = "http://127.0.0.1:4318";
static const char *targets[8]; /* --target, then each --also */
static int n_targets = 1;
static _Atomic int next_sender;
static int json;
static unsigned hours = 1;
static int ordered;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(void *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

static void *sender(void *arg)
{
	CURL *c = curl_easy_init();
	char url[512];
	struct curl_slist *hdr = curl_slist_append(NULL, json ? "Content-Type: application/json"
							      : "Content-Type: application/x-protobuf");
	hdr = curl_slist_append(hdr, "Expect:");
	const char *key = getenv("HOTPATH_KEY"); /* a server with API keys */
	char auth[160];
	if (key && *key && strlen(key) < 120) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
		hdr = curl_slist_append(hdr, auth);
	}
	int me = atomic_fetch_add(&next_sender, 1);
	snprintf(url, sizeof(url), "%s/v1/traces", me % n_targets ? targets[me % n_targets] : target);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	for (;;) {
		size_t i = atomic_fetch_add(&next_payload, 1);
		if (i >= n_payloads)
			break;
		struct payload *p = &payloads[i];
		long status = 0;
		for (int attempt = 0; attempt < 50; attempt++) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, p->data);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
			if (curl_easy_perform(c) != CURLE_OK)
				break;
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
			if (status != 503 && status != 429)
				break;
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		if (status == 200) {
			atomic_fetch_add(&acked_spans, p->spans);
			atomic_fetch_add(&acked_bytes, p->len);
		} else {
			atomic_fetch_add(&failures, 1);
		}
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return NULL;
}

static void generate(size_t total, size_t per_batch, uint64_t seed)
{
	struct scenario_config cfg;
	struct scenario sc;
	scenario_config_init(&cfg);
	cfg.seed = seed;
	scenario_init(&sc, &cfg);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t to = (uint64_t)ts.tv_sec * 1000000000ull, from = to - hours * 3600ull * 1000000000ull;
	size_t cap = 0, made = 0;
	uint64_t slice = (to - from) / (total / per_batch + 1);
	while (made < total) {
		struct batch b;
		struct buf out;
		batch_init(&b);
		buf_init(&out, BUF_NO_LIMIT);
		uint64_t lo = ordered ? from + n_payloads * slice : from;
		uint64_t hi = ordered ? lo + slice : to;
		while (b.n_spans < per_batch)
			scenario_generate(&sc, &b, lo, hi, 8);
		int rc = json ? otlp_json_encode_traces(&b, &out) : otlp_pb_encode_traces(&b, &out);
		if (rc < 0) {
			fprintf(stderr, "bench_ingest: encoding failed\n");
			exit(1);
		}
		payloads = xgrow(payloads, &cap, n_payloads + 1, sizeof(*payloads));
		struct payload *p = &payloads[n_payloads++];
		p->data = buf_detach(&out, &p->len);
		p->spans = b.n_spans;
		memcpy(p->trace_id, b.spans[0].trace_id, 16);
		made += b.n_spans;
		batch_release(&b);
	}
	scenario_release(&sc);
}

static void lookups(int k)
{
	CURL *c = curl_easy_init();
	double *ms = xmalloc((size_t)k * sizeof(*ms));
	int n = 0, missing = 0;
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	for (int i = 0; i < k; i++) {
		const struct payload *p = &payloads[((size_t)i * 7919u) % n_payloads];
		char url[512], hex[33];
		long status = 0;
		hex_encode(hex, p->trace_id, 16);
		snprintf(url, sizeof(url), "%s/api/v1/traces/%s", target, hex);
		curl_easy_setopt(c, CURLOPT_URL, url);
		double t0 = now_s();
		if (curl_easy_perform(c) != CURLE_OK)
			continue;
		double t1 = now_s();
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200)
			missing++;
		ms[n++] = (t1 - t0) * 1000;
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	printf("trace_by_id_median %.3f ms\n", n ? ms[n / 2] : -1.0);
	printf("trace_by_id_p99 %.3f ms\n", n ? ms[n * 99 / 100] : -1.0);
	printf("trace_by_id_missing %d count\n", missing);
	free(ms);
	curl_easy_cleanup(c);
}

int main(int argc, char **argv)
{
	size_t total = 1000000, per_batch = 1000;
	int conns = 4, lookup_k = 0, c;
	uint64_t seed = 1;
	static const struct option opts[] = {
		{"target", required_argument, NULL, 't'},
		{"format", required_argument, NULL, 'f'},
		{"spans", required_argument, NULL, 's'},
		{"batch", required_argument, NULL, 'b'},
		{"conns", required_argument, NULL, 'c'},
		{"seed", required_argument, NULL, 'S'},
		{"lookups", required_argument, NULL, 'l'},
		{"hours", required_argument, NULL, 'H'},
		{"ordered", no_argument, NULL, 'o'},
		{"also", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': target = optarg; break;
		case 'f': json = !strcmp(optarg, "json"); break;
		case 's': total = strtoull(optarg, NULL, 10); break;
		case 'b': per_batch = strtoull(optarg, NULL, 10); break;
		case 'c': conns = atoi(optarg); break;
		case 'S': seed = strtoull(optarg, NULL, 10); break;
		case 'l': lookup_k = atoi(optarg); break;
		case 'o': ordered = 1; break;
		case 'a':
			if (n_targets < 8)
				targets[n_targets++] = optarg;
			break;
		case 'H': hours = (unsigned)atoi(optarg) ? (unsigned)atoi(optarg) : 1; break;
		default: fprintf(stderr, "usage: see bench/bench_ingest.c\n"); return 2;
		}
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	generate(total, per_batch, seed);
	size_t bytes = 0, spans = 0;
	for (size_t i = 0; i < n_payloads; i++) {
		bytes += payloads[i].len;
		spans += payloads[i].spans;
	}

	pthread_t th[64];
	if (conns < 1 || conns > 64)
		conns = 4;
	double t0 = now_s();
	for (int i = 0; i < conns; i++)
		pthread_create(&th[i], NULL, sender, NULL);
	for (int i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	double dt = now_s() - t0;

	printf("format %s -\n", json ? "json" : "protobuf");
	printf("spans_sent %zu count\n", spans);
	printf("payload_bytes_per_span %.1f bytes\n", (double)bytes / (double)spans);
	printf("spans_per_second %.0f spans/s\n", (double)atomic_load(&acked_spans) / dt);
	printf("megabytes_per_second %.1f MB/s\n", (double)atomic_load(&acked_bytes) / dt / 1e6);
	printf("failed_batches %llu count\n", (unsigned long long)atomic_load(&failures));
	if (lookup_k > 0)
		lookups(lookup_k);
	for (size_t i = 0; i < n_payloads; i++)
		free(payloads[i].data);
	free(payloads);
	curl_global_cleanup();
	return atomic_load(&failures) ? 1 : 0;
}
