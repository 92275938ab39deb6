/*
 * cmd_serve.c - `hotpath serve`: open the store, listen, optionally feed
 * demo traffic to itself, and shut down gracefully on SIGINT/SIGTERM
 * (in-flight batches are committed and answered, then exit 0).
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/slowops.h"
#include "cli/cli.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/ticker.h"
#include "demo/demo.h"
#include "query/opstats.h"
#include "advisor/advisor.h"
#include "advisor/change_watch.h"
#include "server/http.h"
#include "store/store.h"
#include "watch/watch.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: hotpath serve [--listen ADDR] [--data DIR | --store URL] [--demo] [--threads N]\n"
		"                     [--max-body BYTES] [--max-queue BYTES] [--max-endpoints N]\n"
		"                     [--config FILE] [--analysis-interval SECONDS]\n"
		"                     [--spike-interval SECONDS] [--watch-interval SECONDS]\n"
		"                     [--change-interval SECONDS] [--retention-KIND DURATION]\n"
		"                     [--disk-budget BYTES] [--verbose]\n"
		"                     [--allowed-host NAMES] [--insecure-open] [--tls-cert PEM --tls-key "
		"PEM]\n"
		"                     [--max-connections N] [--max-connections-per-ip N]\n"
		"                     [--idle-timeout SECONDS] [--body-timeout SECONDS] [--max-inflight "
		"BYTES]\n"
		"                     [--query-timeout SECONDS] [--header-timeout SECONDS]\n"
		"                     [--job-timeout SECONDS]\n\n"
		"  --listen ADDR     HOST:PORT to listen on (default 127.0.0.1:4318, the OTLP/HTTP port)\n"
		"  --data DIR        data directory; the store is DIR/hotpath.db (default ./data)\n"
		"  --store URL       keep the data in ClickHouse instead:\n"
		"                    clickhouse://[USER[:PASSWORD]@]HOST[:PORT]/DB (docs/CONFIG.md)\n"
		"  --lease-seconds N with --store: how long the background lease among instances\n"
		"                    lasts, 3 to 3600 (default 30; docs/SCALING.md)\n"
		"  --demo            also generate demo traffic into this server (24 h of history first)\n"
		"  --threads N       HTTP worker threads (default: number of CPUs)\n"
		"  --max-body BYTES  request body limit, compressed and decompressed (default %u)\n"
		"  --max-queue BYTES batches waiting for the disk, at most; beyond it clients get\n"
		"                    503 with Retry-After (default 67108864)\n"
		"  --max-endpoints N endpoints per service kept apart in latency rollups; more are\n"
		"                    rolled up as \"other\" and counted in /metrics (default 500)\n"
		"  --config FILE     JSON configuration: slow-operation thresholds (docs/CONFIG.md);\n"
		"                    HOTPATH_SLOW_*_MS environment variables override it\n"
		"  --analysis-interval SECONDS\n"
		"                    run the pattern detectors over the last 6 h this often in the\n"
		"                    background (default 300; 0: only when the API asks)\n"
		"  --spike-interval SECONDS\n"
		"                    check for slow-request spikes this often in the background\n"
		"                    and store an alert for each (default 60)\n"
		"  --retention-spans, --retention-requests, --retention-points,\n"
		"  --retention-profiles, --retention-minute-rollups, --retention-hour-rollups,\n"
		"  --retention-metric-hours DURATION\n"
		"                    how long each kind of data is kept: N followed by s, m, h or d;\n"
		"                    0 keeps it for ever (defaults: 7d, 7d, 30d, 30d, 30d, 400d, 400d)\n"
		"  --disk-budget BYTES\n"
		"                    bytes the database may use (suffix K, M, G allowed); past it the\n"
		"                    oldest spans, request rows, metric points and profiles go first\n"
		"                    (default 0: no budget)\n"
		"  --watch-interval SECONDS\n"
		"                    evaluate SLOs and alert rules this often (default 30)\n"
		"  --change-interval SECONDS\n"
		"                    record detected deployments and flag new regressions of the\n"
		"                    last 6 h this often in the background (default 300; 0: never)\n"
		"  --verbose         also log debug lines (e.g. where an aggregated flame graph's\n"
		"                    time went)\n"
		"  --allowed-host NAMES  comma-separated host names accepted in the Host header\n"
		"                    (IP literals and localhost always are; see docs/CONFIG.md)\n"
		"  --insecure-open   listen beyond loopback with no API key (anyone may do anything)\n"
		"  --tls-cert PEM, --tls-key PEM  serve HTTPS with this certificate and key\n"
		"  --max-connections N         open connections at most (default %u)\n"
		"  --max-connections-per-ip N  per client address (default %u)\n"
		"  --idle-timeout SECONDS      close a connection silent this long (default %u)\n"
		"  --body-timeout SECONDS      close a request whose body takes longer (default %u)\n"
		"  --max-inflight BYTES        request bodies held in memory at once, over all\n"
		"                    requests; beyond it 503 with Retry-After (default %u)\n"
		"  --header-timeout SECONDS    close a connection whose request headers are not all\n"
		"                    in this long after it opened or was last answered (default %u)\n"
		"  --query-timeout SECONDS     time limit of one read of the API (fractions allowed);\n"
		"                    past it the read stops and answers 504 (default %g; 0: none)\n"
		"  --job-timeout SECONDS       time limit of one run of a background job (analysis,\n"
		"                    alert evaluation, change watch ...); past it the run stops and\n"
		"                    stores nothing, and the next runs as usual (default %g; 0: none)\n",
		HTTP_DEFAULT_MAX_BODY, HTTP_DEFAULT_MAX_CONNECTIONS, HTTP_DEFAULT_MAX_PER_IP,
		HTTP_DEFAULT_IDLE_TIMEOUT, HTTP_DEFAULT_BODY_TIMEOUT, HTTP_DEFAULT_MAX_INFLIGHT,
		HTTP_DEFAULT_HEADER_TIMEOUT, HTTP_DEFAULT_QUERY_MS / 1000.0,
		TICKER_DEFAULT_JOB_LIMIT_MS / 1000.0);
}

/* The retention flags, in enum store_kept order, and their defaults. */
static const char *const retention_flags[KEPT_COUNT] = {
	[KEPT_SPANS] = "retention-spans",
	[KEPT_REQUESTS] = "retention-requests",
	[KEPT_MINUTE_ROLLUPS] = "retention-minute-rollups",
	[KEPT_HOUR_ROLLUPS] = "retention-hour-rollups",
	[KEPT_POINTS] = "retention-points",
	[KEPT_PROFILES] = "retention-profiles",
	[KEPT_METRIC_HOURS] = "retention-metric-hours",
};
static const unsigned retention_default_days[KEPT_COUNT] = {
	[KEPT_SPANS] = 7,   [KEPT_REQUESTS] = 7,  [KEPT_MINUTE_ROLLUPS] = 30, [KEPT_HOUR_ROLLUPS] = 400,
	[KEPT_POINTS] = 30, [KEPT_PROFILES] = 30, [KEPT_METRIC_HOURS] = 400,
};
#define OPT_RETENTION	1000 /* + enum store_kept */
#define OPT_DISK_BUDGET 1100
#define OPT_LEASE	1101

/* The options of access and limits (docs/CONFIG.md), by their codes. */
enum {
	OPT_ALLOWED_HOST = 1200,
	OPT_INSECURE_OPEN,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_MAX_CONNECTIONS,
	OPT_MAX_PER_IP,
	OPT_IDLE_TIMEOUT,
	OPT_BODY_TIMEOUT,
	OPT_MAX_INFLIGHT,
	OPT_QUERY_TIMEOUT,
	OPT_HEADER_TIMEOUT,
	OPT_JOB_TIMEOUT,
};

/* --query-timeout or --job-timeout SECONDS: 0 to 3600, fractions to the
 * millisecond (a positive value at least 1 ms) into *ms. */
static int timeout_option(const char *flag, const char *arg, unsigned *ms)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (end == arg || *end || errno || !(v >= 0 && v <= 3600)) {
		fprintf(stderr, "hotpath serve: %s must be 0 to 3600 seconds, not '%s'\n", flag, arg);
		return -1;
	}
	*ms = (unsigned)(v * 1000 + 0.5);
	if (v > 0 && !*ms)
		*ms = 1;
	return 1;
}

/* --job-timeout: the limit of every background job's runs (core/ticker.h). */
static int job_timeout_option(const char *arg)
{
	unsigned ms;
	int rc = timeout_option("--job-timeout", arg, &ms);
	if (rc > 0)
		ticker_set_job_limit(ms);
	return rc;
}

/* 1 when `c` is an option of access and limits, set in `so`; 0 if not;
 * -1 for a bad value (said). */
static int access_option(int c, const char *arg, struct server_options *so)
{
	switch (c) {
	case OPT_ALLOWED_HOST: so->allowed_hosts = arg; return 1;
	case OPT_INSECURE_OPEN: so->insecure_open = 1; return 1;
	case OPT_TLS_CERT: so->tls_cert = arg; return 1;
	case OPT_TLS_KEY: so->tls_key = arg; return 1;
	case OPT_MAX_CONNECTIONS: so->max_connections = (unsigned)strtoul(arg, NULL, 10); return 1;
	case OPT_MAX_PER_IP: so->max_per_ip = (unsigned)strtoul(arg, NULL, 10); return 1;
	case OPT_IDLE_TIMEOUT: so->idle_timeout_s = (unsigned)strtoul(arg, NULL, 10); return 1;
	case OPT_BODY_TIMEOUT: so->body_timeout_s = (unsigned)strtoul(arg, NULL, 10); return 1;
	case OPT_MAX_INFLIGHT: so->max_inflight = (size_t)strtoull(arg, NULL, 10); return 1;
	case OPT_QUERY_TIMEOUT: return timeout_option("--query-timeout", arg, &so->query_timeout_ms);
	case OPT_JOB_TIMEOUT: return job_timeout_option(arg);
	case OPT_HEADER_TIMEOUT: so->header_timeout_s = (unsigned)strtoul(arg, NULL, 10); return 1;
	default: return 0;
	}
}

/* "N" followed by one of `units` (each a letter and its size); "0" alone too. */
static int parse_amount(const char *text, const char *units, const uint64_t *sizes, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (end == text || errno || text[0] == '-')
		return -1;
	if (!*end) {
		*out = v;
		return v == 0 || !units[0] ? 0 : -1; /* a duration needs its unit */
	}
	const char *u = end[1] ? NULL : strchr(units, *end);
	if (!u || !*end)
		return -1;
	uint64_t size = sizes[u - units];
	if (v > UINT64_MAX / size)
		return -1;
	*out = v * size;
	return 0;
}

static int retention_option(struct store_retention *r, int opt, const char *arg)
{
	static const uint64_t dur[] = {NS_PER_S, NS_PER_MIN, NS_PER_HOUR, NS_PER_DAY};
	static const uint64_t bytes[] = {1, 1024, 1024 * 1024, 1024 * 1024 * 1024};
	if (opt == OPT_DISK_BUDGET) {
		if (parse_amount(arg, "BKMG", bytes, &r->disk_budget) == 0)
			return 0;
		fprintf(stderr, "hotpath serve: --disk-budget: '%s' is not a size (e.g. 500M, 20G)\n", arg);
		return -1;
	}
	int k = opt - OPT_RETENTION;
	if (parse_amount(arg, "smhd", dur, &r->keep_ns[k]) == 0)
		return 0;
	fprintf(stderr, "hotpath serve: --%s: '%s' is not a duration (e.g. 7d, 12h; 0: for ever)\n",
		retention_flags[k], arg);
	return -1;
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

/* Slow-operation thresholds: defaults, then the config file, then the
 * environment; the API's override is read from the store per query. */
static int slow_thresholds(const char *config)
{
	struct slowops_config base, layer;
	char err[512];
	int ret = -1;
	slowops_config_init(&base);
	slowops_config_init_layer(&layer);
	if (config && slowops_config_load_file(&layer, config, err, sizeof(err)) < 0)
		goto out;
	slowops_config_merge(&base, &layer);
	slowops_config_release(&layer);
	slowops_config_init_layer(&layer);
	if (slowops_config_from_env(&layer, env_get, err, sizeof(err)) < 0)
		goto out;
	slowops_config_merge(&base, &layer);
	slowops_base_set(&base);
	ret = 0;
out:
	if (ret < 0)
		log_error("hotpath serve: %s", err);
	slowops_config_release(&layer);
	slowops_config_release(&base);
	return ret;
}

/* Whether --NAME-interval lies in [lo, hi] seconds; says so when not. */
static int interval_ok(const char *name, long v, long lo, long hi)
{
	if (v >= lo && v <= hi)
		return 1;
	fprintf(stderr, "hotpath serve: --%s-interval must be %ld to %ld seconds\n", name, lo, hi);
	return 0;
}

struct serve_args {
	struct server_options so;
	struct store_options sto;
	const char *config;
	int demo;
	long analysis_s, spike_s, watch_s, change_s;
};

/* The command line into `a`: 0, 1 after --help, or 2 (a bad option, said). */
static int parse_args(int argc, char **argv, struct serve_args *a)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"data", required_argument, NULL, 'd'},
		{"store", required_argument, NULL, 'S'},
		{"demo", no_argument, NULL, 'D'},
		{"threads", required_argument, NULL, 't'},
		{"max-body", required_argument, NULL, 'm'},
		{"max-endpoints", required_argument, NULL, 'e'},
		{"max-queue", required_argument, NULL, 'q'},
		{"config", required_argument, NULL, 'c'},
		{"analysis-interval", required_argument, NULL, 'a'},
		{"spike-interval", required_argument, NULL, 's'},
		{"watch-interval", required_argument, NULL, 'w'},
		{"change-interval", required_argument, NULL, 'C'},
		{"retention-spans", required_argument, NULL, OPT_RETENTION + KEPT_SPANS},
		{"retention-requests", required_argument, NULL, OPT_RETENTION + KEPT_REQUESTS},
		{"retention-minute-rollups", required_argument, NULL, OPT_RETENTION + KEPT_MINUTE_ROLLUPS},
		{"retention-hour-rollups", required_argument, NULL, OPT_RETENTION + KEPT_HOUR_ROLLUPS},
		{"retention-points", required_argument, NULL, OPT_RETENTION + KEPT_POINTS},
		{"retention-profiles", required_argument, NULL, OPT_RETENTION + KEPT_PROFILES},
		{"retention-metric-hours", required_argument, NULL, OPT_RETENTION + KEPT_METRIC_HOURS},
		{"disk-budget", required_argument, NULL, OPT_DISK_BUDGET},
		{"lease-seconds", required_argument, NULL, OPT_LEASE},
		{"allowed-host", required_argument, NULL, OPT_ALLOWED_HOST},
		{"insecure-open", no_argument, NULL, OPT_INSECURE_OPEN},
		{"tls-cert", required_argument, NULL, OPT_TLS_CERT},
		{"tls-key", required_argument, NULL, OPT_TLS_KEY},
		{"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
		{"max-connections-per-ip", required_argument, NULL, OPT_MAX_PER_IP},
		{"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
		{"body-timeout", required_argument, NULL, OPT_BODY_TIMEOUT},
		{"max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT},
		{"query-timeout", required_argument, NULL, OPT_QUERY_TIMEOUT},
		{"header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT},
		{"job-timeout", required_argument, NULL, OPT_JOB_TIMEOUT},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc;
	for (int k = 0; k < KEPT_COUNT; k++)
		a->sto.retention.keep_ns[k] = retention_default_days[k] * NS_PER_DAY;
	optind = 1;
	while ((c = getopt_long(argc, argv, "l:d:S:t:m:e:q:c:a:s:w:C:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': a->so.listen = optarg; break;
		case 'd': a->sto.dir = optarg; break;
		case 'S': a->sto.url = optarg; break;
		case 'D': a->demo = 1; break;
		case 't': a->so.threads = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': a->so.max_body = (size_t)strtoull(optarg, NULL, 10); break;
		case 'e': a->sto.max_endpoints = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'q': a->sto.queue_max_bytes = (size_t)strtoull(optarg, NULL, 10); break;
		case 'c': a->config = optarg; break;
		case 'a': a->analysis_s = strtol(optarg, NULL, 10); break;
		case 's': a->spike_s = strtol(optarg, NULL, 10); break;
		case 'w': a->watch_s = strtol(optarg, NULL, 10); break;
		case 'C': a->change_s = strtol(optarg, NULL, 10); break;
		case 'v': log_min_level = LOG_DEBUG; break;
		case OPT_LEASE: {
			long v = strtol(optarg, NULL, 10);
			if (v < 3 || v > 3600) {
				fprintf(stderr, "hotpath serve: --lease-seconds must be 3 to 3600\n");
				return 2;
			}
			a->sto.lease_ns = (uint64_t)v * 1000000000ull;
			break;
		}
		case 'h': usage(stdout); return 1;
		case OPT_RETENTION + KEPT_SPANS:
		case OPT_RETENTION + KEPT_REQUESTS:
		case OPT_RETENTION + KEPT_MINUTE_ROLLUPS:
		case OPT_RETENTION + KEPT_HOUR_ROLLUPS:
		case OPT_RETENTION + KEPT_POINTS:
		case OPT_RETENTION + KEPT_PROFILES:
		case OPT_RETENTION + KEPT_METRIC_HOURS:
		case OPT_DISK_BUDGET:
			if (retention_option(&a->sto.retention, c, optarg) < 0)
				return 2;
			break;
		default:
			rc = access_option(c, optarg, &a->so);
			if (rc > 0)
				break;
			if (rc == 0)
				usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hotpath serve: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	struct serve_args a = {.so = {.listen = "127.0.0.1:4318", .query_timeout_ms = HTTP_DEFAULT_QUERY_MS},
			       .sto = {.dir = "data"},
			       .analysis_s = 300,
			       .spike_s = 60,
			       .watch_s = 30,
			       .change_s = 300};
	char err[512];
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc == 1 ? 0 : rc;
	struct server_options so = a.so;
	struct store_options sto = a.sto;
	const char *config = a.config;
	int demo = a.demo;
	long analysis_s = a.analysis_s, spike_s = a.spike_s, watch_s = a.watch_s, change_s = a.change_s;

	if (!interval_ok("spike", spike_s, 1, 86400) || !interval_ok("watch", watch_s, 1, 3600) ||
	    !interval_ok("change", change_s, 0, 86400))
		return 2;
	if (slow_thresholds(config) < 0)
		return 2;

	/* Request bodies and span blocks are often larger than glibc's mmap
	 * threshold; mapping and unmapping them per request costs page faults.
	 * Keep them in the heap instead. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 128 << 20);

	/* Signals go to this thread only, through sigwait(). */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct store *store;
	if (store_open(&store, &sto, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 1;
	}
	struct server srv;
	if (server_start(&srv, store, &so, err, sizeof(err)) < 0) {
		log_error("%s", err);
		store_close(store);
		return 1;
	}
	if (slowops_watch_start(store, (unsigned)spike_s, err, sizeof(err)) < 0)
		log_warn("%s", err);
	if (opstats_start(store, 0, err, sizeof(err)) < 0)
		log_warn("operation statistics are read from the spans: %s", err);
	struct watch_options wo;
	watch_options_init(&wo);
	wo.interval_s = (unsigned)watch_s;
	if (watch_start(store, &wo, err, sizeof(err)) < 0)
		log_warn("alert evaluation does not run: %s", err);
	if (analysis_s > 0 &&
	    advisor_watch_start(store, (unsigned)analysis_s, ADVISOR_DEFAULT_RANGE, err, sizeof(err)) < 0)
		log_warn("%s", err);
	if (change_s > 0 && change_watch_start(store, (unsigned)change_s, err, sizeof(err)) < 0)
		log_warn("%s", err);
	log_info("listening on %s://%s (port %u); dashboard at /dashboard/performance",
		 srv.tls ? "https" : "http", so.listen, srv.port);

	if (demo) {
		char target[64];
		snprintf(target, sizeof(target), "http://127.0.0.1:%u", srv.port);
		struct demo_options dopt;
		demo_options_init(&dopt);
		dopt.target = target;
		dopt.backfill_hours = 24;
		if (demo_start(&dopt) < 0)
			log_warn("demo traffic could not start");
		else
			log_info("demo traffic is flowing into %s (see docs/DEMO.md)", target);
	}

	int sig = 0;
	sigwait(&sigs, &sig);
	log_info("%s: shutting down: committing in-flight batches", sig == SIGINT ? "SIGINT" : "SIGTERM");
	if (demo)
		demo_stop();
	slowops_watch_stop();
	opstats_stop();
	watch_stop();
	advisor_watch_stop();
	change_watch_stop();
	server_stop(&srv);
	store_close(store);
	log_info("stopped cleanly");
	return 0;
}
