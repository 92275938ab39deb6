/* main.c - command-line dispatch of the hotpath binary, nothing else. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
	{"serve", cmd_serve, "receive, store and serve performance data"},
	{"demo", cmd_demo, "send realistic demo traffic to a hotpath server"},
	{"collapse", cmd_collapse, "fold `perf script` output into stacks"},
	{"flamegraph", cmd_flamegraph, "render folded stacks as an interactive SVG"},
	{"diff", cmd_diff, "differential flame graph of two folded profiles"},
	{"top", cmd_top, "endpoints of a running server by impact, like top(1)"},
	{"report", cmd_report, "performance report of a running server (Markdown or text)"},
	{"slo", cmd_slo, "SLOs of a running server: compliance, error budget, burn rates"},
	{"alerts", cmd_alerts, "alerts of a running server; acknowledge, silence, resolve"},
	{"gate", cmd_gate, "pass or fail a new version against a baseline (for CI)"},
	{"agent", cmd_agent, "sample /proc and send host and process metrics over OTLP"},
	{"keys", cmd_keys, "create, list and revoke API keys of a data directory"},
	{"compact", cmd_compact, "rewrite a stopped store so its file shrinks and stays small"},
};

static int usage(FILE *out)
{
	fprintf(out, "usage: hotpath COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\n'hotpath COMMAND --help' describes a command.\n");
	return out == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return usage(stdout);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "hotpath: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
