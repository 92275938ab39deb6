/*
 * cmd_flamegraph.c - `hotpath flamegraph`: folded stacks to an interactive
 * SVG flame graph (like flamegraph.pl) or to a speedscope JSON file.
 * Input with two counts per line ("stack A B", as `hotpath diff` writes)
 * gives a differential graph.  Parsing is profile/folded.c, drawing
 * render/flamegraph_svg.c; this file handles arguments and I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "profile/folded.h"
#include "render/flamegraph_svg.h"

static int usage(FILE *out)
{
	fprintf(out, "usage: hotpath flamegraph [OPTIONS] [FILE]\n"
		     "\n"
		     "Draws folded stacks (\"frame;frame;... COUNT\" lines, from FILE or stdin)\n"
		     "as an interactive SVG flame graph on stdout.  Lines with two counts\n"
		     "(\"... COUNT_A COUNT_B\", see `hotpath diff`) give a differential graph.\n"
		     "\n"
		     "  --title TEXT        title (default \"Flame Graph\")\n"
		     "  --subtitle TEXT     second line under the title\n"
		     "  --width PIXELS      image width (1200)\n"
		     "  --height PIXELS     frame height (16)\n"
		     "  --fontsize SIZE     font size (12)\n"
		     "  --minwidth W|P%%     leave out frames narrower than W pixels or P%% (0.1)\n"
		     "  --colors PALETTE    hot mem io java js red green blue aqua yellow purple orange\n"
		     "  --countname NAME    what the counts are (samples)\n"
		     "  --nametype NAME     what the frames are (Function:)\n"
		     "  --reverse           merge stacks from the leaf (stack reversal)\n"
		     "  --inverted          icicle graph: root at the top\n"
		     "  --inclusive         differential colour by inclusive, not self, change\n"
		     "  --raw               differential: do not scale A to B's total\n"
		     "  --format svg|speedscope   speedscope: JSON for https://www.speedscope.app\n");
	return out == stdout ? 0 : 2;
}

int cmd_flamegraph(int argc, char **argv)
{
	struct flame_opts opts;
	struct folded_tree tree;
	const char *file = NULL, *format = "svg";
	unsigned flags = 0;
	char err[256];
	int rc = 1;

	flame_opts_init(&opts);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return usage(stdout);
		if (a[0] != '-' || !a[1]) {
			if (file) {
				fprintf(stderr, "hotpath flamegraph: more than one input file\n");
				return 2;
			}
			file = a;
			continue;
		}
		/* --name VALUE or --name=VALUE */
		char name[32];
		const char *value;
		if (cli_long_option(a, name, sizeof(name), &value) < 0) {
			fprintf(stderr, "hotpath flamegraph: unknown option '%s'\n", a);
			return 2;
		}
		if (!strcmp(name, "color"))
			memcpy(name, "colors", sizeof("colors"));
		if (!strcmp(name, "reverse") && !value) {
			flags |= FOLDED_REVERSE;
			continue;
		}
		int takes = !strcmp(name, "format") ? 1 : flame_opts_takes_value(name);
		if (takes < 0) {
			fprintf(stderr, "hotpath flamegraph: unknown option '%s'\n", a);
			return 2;
		}
		if (!value && takes && i + 1 < argc)
			value = argv[++i];
		if (!strcmp(name, "format")) {
			if (!value || (strcmp(value, "svg") && strcmp(value, "speedscope"))) {
				fprintf(stderr, "hotpath flamegraph: --format is svg or speedscope\n");
				return 2;
			}
			format = value;
		} else if (flame_opts_set(&opts, name, value, err, sizeof(err)) < 0) {
			fprintf(stderr, "hotpath flamegraph: %s\n", err);
			return 2;
		}
	}

	folded_tree_init(&tree, NULL);
	err[0] = 0;
	if (folded_parse_file(&tree, file, flags, 0, err, sizeof(err)) < 0 ||
	    folded_tree_finish(&tree, err, sizeof(err)) < 0)
		goto fail;
	if (!strcmp(format, "speedscope")) {
		const char *name = opts.title ? opts.title : (file ? file : "stdin");
		const char *unit = opts.countname;
		if (flamegraph_speedscope(&tree, name, unit, cli_write_stdout, NULL, err, sizeof(err)) < 0)
			goto fail;
	} else if (flamegraph_svg(&tree, &opts, cli_write_stdout, NULL, err, sizeof(err)) < 0) {
		goto fail;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "hotpath flamegraph: writing stdout: %s\n", strerror(errno));
		goto out;
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "hotpath flamegraph: %s\n", err[0] ? err : "writing stdout failed");
out:
	folded_tree_release(&tree);
	return rc;
}
