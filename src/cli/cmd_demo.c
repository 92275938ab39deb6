/*
 * cmd_demo.c - `hotpath demo`: send realistic demo traffic to a server.
 *
 * Only argument parsing and signal handling; the sender is demo/demo.c and
 * the data demo/scenario.c (docs/DEMO.md describes it).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "demo/demo.h"

static volatile int stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&stop_requested, 1, __ATOMIC_RELAXED);
}

static int usage(FILE *out)
{
	fprintf(out,
		"usage: hotpath demo [--target URL] [--rate N] [--duration SECONDS] [--seed N]\n"
		"                    [--backfill HOURS] [--backfill-rate N] [--no-problems] [--no-gzip]\n"
		"                    [--quiet]\n"
		"\n"
		"Send realistic OpenTelemetry traces and metrics (OTLP/HTTP protobuf) of a\n"
		"simulated fleet -- an API gateway, LLM agents with tools, a shop's services --\n"
		"with deliberate performance problems for hotpath to find (docs/DEMO.md).\n"
		"\n"
		"  --target URL          OTLP/HTTP base URL (default http://127.0.0.1:4318);\n"
		"                        POSTs go to URL/v1/traces and URL/v1/metrics\n"
		"  --rate N              requests per second, averaged over a day; traffic\n"
		"                        follows a time-of-day curve (default 20)\n"
		"  --duration SECONDS    stop after this much live sending (default 0: until\n"
		"                        interrupted)\n"
		"  --seed N              random seed; the same seed sends the same data (default 1)\n"
		"  --backfill HOURS      first send this much history, timestamped in the past,\n"
		"                        as fast as the server accepts it (default 0)\n"
		"  --backfill-rate N     requests per second of history (default 2)\n"
		"  --no-problems         leave out the deliberate problems (N+1 queries, repeated\n"
		"                        tool calls, pool exhaustion, slow version, sequential\n"
		"                        calls, memory leak)\n"
		"  --no-gzip             send uncompressed bodies\n"
		"  --quiet               no progress lines, only warnings and the final summary\n"
		"  -h, --help            this text\n");
	return out == stdout ? 0 : 2;
}

/* A finite number in [lo, hi], or -1. */
static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int cmd_demo(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"target", required_argument, NULL, 't'},
		{"rate", required_argument, NULL, 'r'},
		{"duration", required_argument, NULL, 'd'},
		{"seed", required_argument, NULL, 's'},
		{"backfill", required_argument, NULL, 'b'},
		{"backfill-rate", required_argument, NULL, 'B'},
		{"no-problems", no_argument, NULL, 'P'},
		{"no-gzip", no_argument, NULL, 'Z'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct demo_options o;
	double seed;
	int c, li = 0;

	demo_options_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, &li)) != -1) {
		switch (c) {
		case 't': o.target = optarg; break;
		case 'r':
			if (parse_num(optarg, 0.001, 1e6, &o.rate) < 0)
				goto bad;
			break;
		case 'd':
			if (parse_num(optarg, 0, 1e9, &o.duration_s) < 0)
				goto bad;
			break;
		case 's':
			if (parse_num(optarg, 0, 9007199254740992.0, &seed) < 0 || seed != floor(seed))
				goto bad;
			o.seed = (uint64_t)seed;
			break;
		case 'b':
			if (parse_num(optarg, 0, 24 * 366, &o.backfill_hours) < 0)
				goto bad;
			break;
		case 'B':
			if (parse_num(optarg, 0.001, 1e6, &o.backfill_rate) < 0)
				goto bad;
			break;
		case 'P': o.problems = 0; break;
		case 'Z': o.gzip = 0; break;
		case 'q': o.progress_s = 0; break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hotpath demo: unexpected argument '%s'\n", argv[optind]);
		return usage(stderr);
	}

	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return demo_run(&o, &stop_requested) < 0 ? 1 : 0;

bad:
	fprintf(stderr, "hotpath demo: bad value '%s' for --%s\n", optarg, longopts[li].name);
	return usage(stderr);
}
