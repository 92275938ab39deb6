/*
 * cmd_keys.c - `hotpath keys create|list|revoke`: API keys in a data
 * directory's store (the API's /api/v1/keys does the same on a running
 * server).  A new key's token is printed once; only its hash is kept.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/log.h"
#include "server/auth.h"
#include "store/store.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: hotpath keys create --name NAME --role ingest|viewer|admin [--data DIR]\n"
		     "       hotpath keys list [--data DIR]\n"
		     "       hotpath keys revoke ID|NAME [--data DIR]\n\n"
		     "  --data DIR   data directory of the store (default ./data)\n"
		     "Roles: ingest writes telemetry only; viewer reads; admin does everything\n"
		     "(actions, settings, keys).  Once a key exists, every API call needs one.\n");
}

static int list(struct store *st)
{
	struct arena a;
	struct auth_key *keys;
	size_t n;
	char err[256];
	arena_init(&a);
	if (auth_keys_list(st, &a, &keys, &n, err, sizeof(err)) < 0) {
		log_error("hotpath keys: %s", err);
		arena_release(&a);
		return 1;
	}
	printf("%-16s  %-24s  %-6s  %-20s  %s\n", "ID", "NAME", "ROLE", "CREATED", "STATE");
	for (size_t i = 0; i < n; i++) {
		char when[32];
		time_t t = (time_t)(keys[i].created_ns / 1000000000ull);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		printf("%-16s  %-24s  %-6s  %-20s  %s\n", keys[i].id, keys[i].name, keys[i].role, when,
		       keys[i].revoked_ns ? "revoked" : "live");
	}
	arena_release(&a);
	return 0;
}

static int run(struct store *st, const char *verb, const char *name, const char *role, const char *target)
{
	char err[256], token[AUTH_TOKEN_MAX], id[AUTH_ID_LEN + 1];
	if (!strcmp(verb, "list"))
		return list(st);
	if (!strcmp(verb, "create")) {
		if (auth_key_create(st, name, role, token, id, err, sizeof(err)) < 0) {
			log_error("hotpath keys create: %s", err);
			return 2;
		}
		fprintf(stderr, "created key %s '%s' (role %s); its token, shown only now:\n", id, name,
			role);
		printf("%s\n", token);
		return 0;
	}
	if (!target) {
		usage(stderr);
		return 2;
	}
	if (auth_key_revoke(st, target, err, sizeof(err)) < 0) {
		log_error("hotpath keys revoke: %s", err);
		return 1;
	}
	fprintf(stderr, "revoked '%s' (a running server stops accepting it within a second)\n", target);
	return 0;
}

int cmd_keys(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"data", required_argument, NULL, 'd'},
		{"name", required_argument, NULL, 'n'},
		{"role", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct store_options sto = {.dir = "data"};
	const char *name = NULL, *role = NULL;
	char err[512];
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:n:r:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': sto.dir = optarg; break;
		case 'n': name = optarg; break;
		case 'r': role = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	const char *verb = optind < argc ? argv[optind] : NULL;
	const char *target = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (!verb || (strcmp(verb, "create") && strcmp(verb, "list") && strcmp(verb, "revoke"))) {
		usage(stderr);
		return 2;
	}
	struct store *st;
	if (store_open(&st, &sto, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return 1;
	}
	int rc = run(st, verb, name, role, target);
	store_close(st);
	return rc;
}
