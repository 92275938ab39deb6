/*
 * cmd_gate.c - `hotpath gate`: the version gate of a running server for a
 * CI pipeline.  It asks GET /api/v1/versions/gate, prints the verdict and
 * its evidence in one line, and exits 0 on pass, 1 on fail, 3 when the
 * answer is inconclusive (too few requests) and 2 on a usage error or when
 * the server cannot answer.  It owns no figure: every number is the API's.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/json_doc.h"
#include "core/json_field.h"

static int usage(FILE *out)
{
	fprintf(out, "usage: hotpath gate --service S --candidate V --baseline V [--server URL]\n"
		     "                    [--max-p95-increase P] [--range 24h] [--env E] [--endpoint E]\n"
		     "\n"
		     "Ask a running hotpath server whether version V (candidate) of service S\n"
		     "may ship: it fails when the candidate's p95 rose by more than P and the\n"
		     "slowdown is significant (Mann-Whitney U at 5 %%, or the p95 change's\n"
		     "95 %% interval above 0).\n"
		     "Exit status: 0 pass, 1 fail, 3 inconclusive (too few requests), 2 error.\n"
		     "\n"
		     "  --server URL            the server (default http://127.0.0.1:4318)\n"
		     "  --service S             the service (required)\n"
		     "  --candidate V           the new version (required)\n"
		     "  --baseline V            the version to compare with (required)\n"
		     "  --max-p95-increase P    allowed p95 increase in percent (default 10)\n"
		     "  --range R               time range ending now (default 24h)\n"
		     "  --env E                 only this environment\n"
		     "  --endpoint E            only this endpoint\n"
		     "  -h, --help              this text\n");
	return 2;
}

struct gate_options {
	const char *server, *service, *candidate, *baseline, *max, *range, *env, *endpoint;
};

static int gate_parse(int argc, char **argv, struct gate_options *o)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'},
		{"service", required_argument, NULL, 'S'},
		{"candidate", required_argument, NULL, 'c'},
		{"baseline", required_argument, NULL, 'b'},
		{"max-p95-increase", required_argument, NULL, 'm'},
		{"range", required_argument, NULL, 'r'},
		{"env", required_argument, NULL, 'e'},
		{"endpoint", required_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': o->server = optarg; break;
		case 'S': o->service = optarg; break;
		case 'c': o->candidate = optarg; break;
		case 'b': o->baseline = optarg; break;
		case 'm': o->max = optarg; break;
		case 'r': o->range = optarg; break;
		case 'e': o->env = optarg; break;
		case 'E': o->endpoint = optarg; break;
		case 'h': usage(stdout); return 1;
		default: return -1;
		}
	}
	return optind < argc || !o->service || !o->candidate || !o->baseline ? -1 : 0;
}

int cmd_gate(int argc, char **argv)
{
	struct gate_options o = {.server = "http://127.0.0.1:4318", .max = "10", .range = "24h"};
	int p = gate_parse(argc, argv, &o);
	if (p)
		return p > 0 ? 0 : usage(stderr);
	char err[512], perr[200];
	int rc = 2;
	struct buf url, body;
	struct json_doc d = {0};
	buf_init(&url, BUF_NO_LIMIT);
	buf_init(&body, 16u << 20);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	CURL *curl = curl_easy_init();
	if (!curl) {
		fprintf(stderr, "hotpath gate: curl_easy_init failed\n");
		goto out;
	}
	buf_printf(&url, "%s/api/v1/versions/gate?range=", o.server);
	buf_puts(&url, o.range);
	cli_url_param(&url, curl, "service", o.service);
	cli_url_param(&url, curl, "candidate", o.candidate);
	cli_url_param(&url, curl, "baseline", o.baseline);
	cli_url_param(&url, curl, "max_p95_increase", o.max);
	cli_url_param(&url, curl, "env", o.env);
	cli_url_param(&url, curl, "endpoint", o.endpoint);
	if (cli_api_get(curl, url.data, &body, err, sizeof(err)) < 0) {
		fprintf(stderr, "hotpath gate: %s\n", err);
		goto out;
	}
	if (json_doc_parse(&d, body.data, body.len, 0, perr, sizeof(perr)) < 0 || !d.root) {
		fprintf(stderr, "hotpath gate: the answer is not JSON: %s\n", perr);
		goto out;
	}
	const char *status = json_str(json_get(d.root, "status"));
	const char *summary = json_str(json_get(d.root, "summary"));
	const char *reason = json_str(json_get(d.root, "reason"));
	const struct json *ch = json_get(d.root, "p95_change");
	printf("%s: %s\n  %s\n  p95 change %+.1f %% (95 %% interval %+.1f to %+.1f %%), allowed %+.1f %%\n",
	       status ? status : "?", reason ? reason : "", summary ? summary : "",
	       json_num_or_nan(json_get(ch, "estimate")) * 100, json_num_or_nan(json_get(ch, "lo")) * 100,
	       json_num_or_nan(json_get(ch, "hi")) * 100,
	       json_num_or_nan(json_get(d.root, "max_p95_increase")) * 100);
	rc = !status ? 2 : !strcmp(status, "pass") ? 0 : !strcmp(status, "fail") ? 1 : 3;
out:
	json_doc_release(&d);
	buf_release(&url);
	buf_release(&body);
	if (curl)
		curl_easy_cleanup(curl);
	curl_global_cleanup();
	return rc;
}
