/*
 * cmd_serve.c - `hotpath serve`: open the store, listen, optionally feed
 * demo traffic to itself, and shut down gracefully on SIGINT/SIGTERM
 * (in-flight batches are committed and answered, then exit 0).
 */
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/slowops.h"
#include "cli/cli.h"
#include "core/log.h"
#include "demo/demo.h"
#include "query/opstats.h"
#include "advisor/advisor.h"
#include "server/http.h"
#include "store/store.h"
#include "watch/watch.h"
#include "advisor/change_watch.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: hotpath serve [--listen ADDR] [--data DIR] [--demo] [--threads N]\n"
		"                     [--max-body BYTES] [--max-queue BYTES] [--max-endpoints N]\n"
		"                     [--config FILE] [--analysis-interval SECONDS]\n"
		"                     [--spike-interval SECONDS] [--watch-interval SECONDS]\n"
		"                     [--spike-interval SECONDS] [--change-interval SECONDS]\n"
		"                     [--verbose]\n\n"
		"  --listen ADDR     HOST:PORT to listen on (default 127.0.0.1:4318, the OTLP/HTTP port)\n"
		"  --data DIR        data directory; the store is DIR/hotpath.db (default ./data)\n"
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
		"  --watch-interval SECONDS\n"
		"                    evaluate SLOs and alert rules this often (default 30)\n"
		"  --change-interval SECONDS\n"
		"                    record detected deployments and flag new regressions of the\n"
		"                    last 6 h this often in the background (default 300; 0: never)\n"
		"  --verbose         also log debug lines (e.g. where an aggregated flame graph's\n"
		"                    time went)\n",
		HTTP_DEFAULT_MAX_BODY);
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

int cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"data", required_argument, NULL, 'd'},
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
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct server_options so = {.listen = "127.0.0.1:4318"};
	struct store_options sto = {.dir = "data"};
	const char *config = NULL;
	int demo = 0, c;
	long analysis_s = 300, spike_s = 60, watch_s = 30, change_s = 300;
	char err[512];

	optind = 1;
	while ((c = getopt_long(argc, argv, "l:d:t:m:e:q:c:a:s:w:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': so.listen = optarg; break;
		case 'd': sto.dir = optarg; break;
		case 'D': demo = 1; break;
		case 't': so.threads = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'm': so.max_body = (size_t)strtoull(optarg, NULL, 10); break;
		case 'e': sto.max_endpoints = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'q': sto.queue_max_bytes = (size_t)strtoull(optarg, NULL, 10); break;
		case 'c': config = optarg; break;
		case 'a': analysis_s = strtol(optarg, NULL, 10); break;
		case 's': spike_s = strtol(optarg, NULL, 10); break;
		case 'w': watch_s = strtol(optarg, NULL, 10); break;
		case 'C': change_s = strtol(optarg, NULL, 10); break;
		case 'v': log_min_level = LOG_DEBUG; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hotpath serve: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	if (spike_s < 1 || spike_s > 86400) {
		fprintf(stderr, "hotpath serve: --spike-interval must be 1 to 86400 seconds\n");
		return 2;
	}
	if (watch_s < 1 || watch_s > 3600) {
		fprintf(stderr, "hotpath serve: --watch-interval must be 1 to 3600 seconds\n");
		return 2;
	}
	if (change_s < 0 || change_s > 86400) {
		fprintf(stderr, "hotpath serve: --change-interval must be 0 to 86400 seconds\n");
		return 2;
	}
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
	log_info("listening on http://%s (port %u); dashboard at /dashboard/performance", so.listen,
		 srv.port);

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
