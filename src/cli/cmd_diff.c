/*
 * cmd_diff.c - `hotpath diff A B`: compare two folded profiles.
 *
 * By default it draws the differential flame graph as SVG (what
 * difffolded.pl piped into flamegraph.pl gives: B's shape, red grew, blue
 * shrank); --folded (--format folded) prints the "stack countA countB"
 * lines of difffolded.pl instead, sorted; --format speedscope exports both
 * profiles.  The work is in profile/folded.c and render/flamegraph_svg.c,
 * the same tree and drawing as the server's differential graphs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "profile/folded.h"
#include "render/flamegraph_svg.h"

static int usage(FILE *out)
{
	fprintf(out, "usage: hotpath diff [OPTIONS] A B\n"
		     "\n"
		     "Compares two folded-stack files: A (before) and B (after).\n"
		     "\n"
		     "  --format svg        differential flame graph: red grew, blue shrank (default)\n"
		     "  --format folded     \"stack countA countB\" lines, sorted (also --folded)\n"
		     "  --format speedscope both profiles as a speedscope JSON file\n"
		     "  --normalize, -n     folded: scale A's counts to B's total\n"
		     "  --inclusive         svg: colour by inclusive instead of self change\n"
		     "  --raw               svg: do not scale A to B's total\n"
		     "  --reverse           merge stacks from the leaf\n"
		     "  and the drawing options of `hotpath flamegraph`: --title, --subtitle,\n"
		     "  --width, --height, --fontsize, --minwidth, --countname, --nametype,\n"
		     "  --inverted\n");
	return out == stdout ? 0 : 2;
}

int cmd_diff(int argc, char **argv)
{
	struct flame_opts opts;
	struct folded_tree tree;
	const char *files[2] = {NULL, NULL}, *format = "svg";
	unsigned flags = FOLDED_ONE_COUNT, wflags = FOLDED_WRITE_TWO;
	char err[512];
	int rc = 1, n_files = 0;

	flame_opts_init(&opts);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return usage(stdout);
		if (a[0] != '-' || !a[1]) {
			if (n_files == 2) {
				fprintf(stderr, "hotpath diff: more than two input files\n");
				return 2;
			}
			files[n_files++] = a;
			continue;
		}
		if (!strcmp(a, "-n") || !strcmp(a, "--normalize")) {
			wflags |= FOLDED_WRITE_NORMALIZE;
			continue;
		}
		if (!strcmp(a, "--folded")) {
			format = "folded";
			continue;
		}
		if (!strcmp(a, "--reverse")) {
			flags |= FOLDED_REVERSE;
			continue;
		}
		char name[32];
		const char *value;
		if (cli_long_option(a, name, sizeof(name), &value) < 0) {
			fprintf(stderr, "hotpath diff: unknown option '%s'\n", a);
			return 2;
		}
		int takes = !strcmp(name, "format") ? 1 : flame_opts_takes_value(name);
		if (takes < 0 || !strcmp(name, "colors")) {
			fprintf(stderr, "hotpath diff: unknown option '%s'\n", a);
			return 2;
		}
		if (!value && takes && i + 1 < argc)
			value = argv[++i];
		if (!strcmp(name, "format")) {
			if (!value || (strcmp(value, "svg") && strcmp(value, "folded") &&
				       strcmp(value, "speedscope"))) {
				fprintf(stderr, "hotpath diff: --format is svg, folded or speedscope\n");
				return 2;
			}
			format = value;
		} else if (flame_opts_set(&opts, name, value, err, sizeof(err)) < 0) {
			fprintf(stderr, "hotpath diff: %s\n", err);
			return 2;
		}
	}
	if (n_files != 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(files[0], "-") && !strcmp(files[1], "-")) {
		fprintf(stderr, "hotpath diff: only one of A and B can be stdin\n");
		return 2;
	}

	folded_tree_init(&tree, NULL);
	err[0] = 0;
	if (folded_parse_file(&tree, files[0], flags, 0, err, sizeof(err)) < 0 ||
	    folded_parse_file(&tree, files[1], flags, 1, err, sizeof(err)) < 0 ||
	    folded_tree_finish(&tree, err, sizeof(err)) < 0)
		goto fail;
	tree.sides = 2; /* even when B is empty: this is a comparison */
	int r;
	if (!strcmp(format, "svg"))
		r = flamegraph_svg(&tree, &opts, cli_write_stdout, NULL, err, sizeof(err));
	else if (!strcmp(format, "speedscope"))
		r = flamegraph_speedscope(&tree, opts.title, opts.countname, cli_write_stdout, NULL, err,
					  sizeof(err));
	else
		r = folded_tree_write(&tree, wflags, cli_write_stdout, NULL);
	if (r != 0)
		goto fail;
	if (fflush(stdout) != 0) {
		fprintf(stderr, "hotpath diff: writing stdout: %s\n", strerror(errno));
		goto out;
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "hotpath diff: %s\n", err[0] ? err : "writing stdout failed");
out:
	folded_tree_release(&tree);
	return rc;
}
