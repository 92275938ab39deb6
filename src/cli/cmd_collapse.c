/*
 * cmd_collapse.c - `hotpath collapse perf`: `perf script` text to folded
 * stacks on stdout, like stackcollapse-perf.pl.  The work is in
 * profile/collapse_perf.c; this file only handles arguments and I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "profile/collapse_perf.h"

#define READ_CHUNK ((size_t)4 << 20)

static int usage(FILE *out)
{
	fprintf(out, "usage: hotpath collapse perf [--pid|--tid|--kernel|--jit|--all|--addrs] [FILE]\n"
		     "\n"
		     "Folds the text of `perf script` (FILE, or stdin) into one line per\n"
		     "distinct stack, \"frame;frame;... COUNT\", sorted, on stdout.\n"
		     "\n"
		     "  --pid     append the process id to the process name (name-PID)\n"
		     "  --tid     append process and thread id (name-PID/TID)\n"
		     "  --kernel  mark kernel frames with _[k]\n"
		     "  --jit     mark JIT frames (/tmp/perf-PID.map) with _[j]\n"
		     "  --all     --kernel and --jit\n"
		     "  --addrs   keep the address of frames without a symbol\n");
	return out == stdout ? 0 : 2;
}

static const struct {
	const char *name;
	unsigned flag;
} options[] = {
	{"--pid", COLLAPSE_PERF_PID}, {"--tid", COLLAPSE_PERF_TID}, {"--kernel", COLLAPSE_PERF_KERNEL},
	{"--jit", COLLAPSE_PERF_JIT}, {"--all", COLLAPSE_PERF_ALL}, {"--addrs", COLLAPSE_PERF_ADDRS},
};

static int parse_args(int argc, char **argv, unsigned *flags, const char **file)
{
	int seen_format = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t k;
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return usage(stdout) - 1;
		for (k = 0; k < sizeof(options) / sizeof(options[0]); k++)
			if (!strcmp(a, options[k].name))
				break;
		if (k < sizeof(options) / sizeof(options[0])) {
			*flags |= options[k].flag;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "hotpath collapse: unknown option '%s'\n", a);
			return -2;
		} else if (!seen_format) {
			if (strcmp(a, "perf") != 0) {
				fprintf(stderr, "hotpath collapse: unknown input format '%s' (known: perf)\n",
					a);
				return -2;
			}
			seen_format = 1;
		} else if (!*file) {
			*file = a;
		} else {
			fprintf(stderr, "hotpath collapse: more than one input file\n");
			return -2;
		}
	}
	if (!seen_format) {
		usage(stderr);
		return -2;
	}
	return 0;
}

static void report_warnings(const struct collapse_perf_stats *st)
{
	if (st->filtered)
		fprintf(stderr,
			"hotpath collapse: kept events of type '%s'; skipped %llu samples of other "
			"types (first: '%s')\n",
			st->kept_event, (unsigned long long)st->filtered, st->filtered_event);
	if (st->unrecognized)
		fprintf(stderr, "hotpath collapse: %llu unrecognized lines (first: line %llu)\n",
			(unsigned long long)st->unrecognized, (unsigned long long)st->first_unrecognized);
}

int cmd_collapse(int argc, char **argv)
{
	unsigned flags = 0;
	const char *file = NULL;
	char err[256];
	int rc = 1, fd = 0;
	char *chunk = NULL;
	struct collapse_perf *c = NULL;

	int r = parse_args(argc, argv, &flags, &file);
	if (r == -1)
		return 0; /* --help */
	if (r < 0)
		return 2;
	if (file && strcmp(file, "-") != 0) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "hotpath collapse: %s: %s\n", file, strerror(errno));
			return 1;
		}
	}
	struct collapse_perf_opts opts = {.flags = flags};
	c = collapse_perf_new(&opts);
	chunk = xmalloc(READ_CHUNK);
	for (;;) {
		ssize_t n = read(fd, chunk, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "hotpath collapse: %s: %s\n", file ? file : "stdin", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (collapse_perf_feed(c, chunk, (size_t)n, err, sizeof(err)) < 0)
			goto bad_input;
	}
	if (collapse_perf_finish(c, err, sizeof(err)) < 0)
		goto bad_input;
	report_warnings(collapse_perf_stats(c));
	if (collapse_perf_write(c, cli_write_stdout, NULL) != 0 || fflush(stdout) != 0) {
		fprintf(stderr, "hotpath collapse: writing stdout: %s\n", strerror(errno));
		goto out;
	}
	rc = 0;
	goto out;
bad_input:
	fprintf(stderr, "hotpath collapse: %s: %s\n", file ? file : "stdin", err);
out:
	collapse_perf_free(c);
	free(chunk);
	if (fd > 0)
		close(fd);
	return rc;
}
