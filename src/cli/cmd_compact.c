/*
 * cmd_compact.c - `hotpath compact --data DIR`: rewrite a data directory's
 * store whole so that its file shrinks to its data and, from then on,
 * gives the pages retention frees back to the file system (a store made
 * before incremental vacuum).  Offline: with no server on the directory.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"
#include "core/log.h"
#include "store/store.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: hotpath compact [--data DIR]\n\n"
		     "  --data DIR   data directory of the store (default ./data)\n"
		     "Stop the server first.  Rewrites the store (VACUUM) with incremental vacuum\n"
		     "on; needs free room about twice the store's size, and reads and writes\n"
		     "the whole store once.\n");
}

int cmd_compact(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = "data";
	char err[512];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	uint64_t before = 0, after = 0;
	if (store_compact(dir, &before, &after, err, sizeof(err)) < 0) {
		log_error("hotpath compact: %s", err);
		return 1;
	}
	fprintf(stderr, "compacted %s: %llu bytes before, %llu after; incremental vacuum is on\n", dir,
		(unsigned long long)before, (unsigned long long)after);
	return 0;
}
