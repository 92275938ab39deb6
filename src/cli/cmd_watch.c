/*
 * cmd_watch.c - `hotpath slo` and `hotpath alerts`: SLOs with their error
 * budgets, and alerts, from a running server, and acting on alerts
 * (acknowledge, silence, resolve) from the terminal.  Every figure comes
 * from the server's answer (docs/API.md, "Watching").
 */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/json_doc.h"
#include "core/json_write.h"

#define MAX_ANSWER (16u << 20)

struct watch_cli {
	const char *server, *user, *state, *until, *for_;
	const char *verb, *id;
};

static int parse_args(int argc, char **argv, struct watch_cli *o, int (*usage)(FILE *))
{
	memset(o, 0, sizeof(*o));
	o->server = "http://127.0.0.1:4318";
	for (int i = 1; i < argc; i++) {
		char name[32];
		const char *v;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return usage(stdout) ? -2 : -1;
		if (cli_long_option(argv[i], name, sizeof(name), &v) == 0) {
			if (!v && i + 1 < argc)
				v = argv[++i];
			if (!v)
				return usage(stderr), -2;
			if (!strcmp(name, "server"))
				o->server = v;
			else if (!strcmp(name, "user"))
				o->user = v;
			else if (!strcmp(name, "state"))
				o->state = v;
			else if (!strcmp(name, "until"))
				o->until = v;
			else if (!strcmp(name, "for"))
				o->for_ = v;
			else
				return usage(stderr), -2;
		} else if (!o->verb)
			o->verb = argv[i];
		else if (!o->id)
			o->id = argv[i];
		else
			return usage(stderr), -2;
	}
	return 0;
}

static const struct json *get_json(CURL *c, const char *url, struct buf *body, struct json_doc *d)
{
	char err[512];
	if (cli_api_get(c, url, body, err, sizeof(err)) < 0 ||
	    json_doc_parse(d, body->data, body->len, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "hotpath: %s\n", err);
		return NULL;
	}
	return d->root;
}

static double num(const struct json *o, const char *key)
{
	double v;
	return json_double(json_get(o, key), &v) == 0 ? v : NAN;
}

static const char *str(const struct json *o, const char *key)
{
	const char *s = json_str(json_get(o, key));
	return s ? s : "-";
}

/* ---- hotpath slo --------------------------------------------------------------- */

static int slo_usage(FILE *out)
{
	fprintf(out, "usage: hotpath slo [list] [--server URL]\n"
		     "\n"
		     "The SLOs of a running hotpath server: objective, window, compliance, error\n"
		     "budget remaining, burn rates over 1 h and 6 h, and whether their page or\n"
		     "ticket alert holds.  SLOs are defined through the API (/api/v1/slos).\n"
		     "\n"
		     "  --server URL   the server (default http://127.0.0.1:4318)\n");
	return out == stdout ? 0 : 2;
}

static void slo_row(const struct json *s)
{
	const struct json *st = json_get(s, "status"), *burn = json_get(st, "burn_rates"),
			  *al = json_get(st, "alerts");
	char objective[48];
	if (!strcmp(str(s, "kind"), "latency"))
		snprintf(objective, sizeof(objective), "%g%% < %gms", num(s, "objective"),
			 num(s, "threshold_ms"));
	else
		snprintf(objective, sizeof(objective), "%g%% ok", num(s, "objective"));
	const char *alert = json_get(al, "page") && json_get(al, "page")->type == JSON_TRUE	  ? "PAGE"
			    : json_get(al, "ticket") && json_get(al, "ticket")->type == JSON_TRUE ? "ticket"
												  : "-";
	printf("%-24.24s %-16s %-4s %10.3f%% %9.1f%% %7.2fx %7.2fx  %s\n", str(s, "id"), objective,
	       str(s, "window"), num(st, "compliance"), num(json_get(st, "budget"), "remaining_pct"),
	       num(burn, "1h"), num(burn, "6h"), alert);
}

int cmd_slo(int argc, char **argv)
{
	struct watch_cli o;
	int rc = parse_args(argc, argv, &o, slo_usage);
	if (rc < 0)
		return rc == -1 ? 0 : 2;
	if (o.verb && strcmp(o.verb, "list"))
		return slo_usage(stderr);
	CURL *c = curl_easy_init();
	struct buf body, url;
	struct json_doc d = {0};
	buf_init(&body, MAX_ANSWER);
	buf_init(&url, 4096);
	buf_printf(&url, "%s/api/v1/slos", o.server);
	const struct json *root = c ? get_json(c, url.data, &body, &d) : NULL;
	rc = root ? 0 : 1;
	if (root) {
		printf("%-24s %-16s %-4s %11s %10s %8s %8s  %s\n", "SLO", "OBJECTIVE", "WIN", "COMPLIANCE",
		       "BUDGET", "BURN 1H", "BURN 6H", "ALERT");
		for (const struct json *s = json_get(root, "slos") ? json_get(root, "slos")->child : NULL; s;
		     s = s->next)
			slo_row(s);
	}
	json_doc_release(&d);
	buf_release(&body);
	buf_release(&url);
	if (c)
		curl_easy_cleanup(c);
	return rc;
}

/* ---- hotpath alerts ------------------------------------------------------------ */

static int alerts_usage(FILE *out)
{
	fprintf(out,
		"usage: hotpath alerts [list] [--state pending|firing|resolved|all] [--server URL]\n"
		"       hotpath alerts ack ID [--user NAME] [--server URL]\n"
		"       hotpath alerts silence ID (--for 2h | --until TIME) [--user NAME] [--server URL]\n"
		"       hotpath alerts resolve ID [--user NAME] [--server URL]\n"
		"\n"
		"List the alerts of a running hotpath server (SLO burn-rate alerts and alert\n"
		"rules), or acknowledge, silence or resolve one.  --user names who acted in\n"
		"the audit trail.\n"
		"\n"
		"  --server URL   the server (default http://127.0.0.1:4318)\n");
	return out == stdout ? 0 : 2;
}

static void alert_row(const struct json *a)
{
	char when[32] = "-";
	double fired = num(a, "fired_ms");
	if (!isnan(fired)) {
		time_t t = (time_t)(fired / 1000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%SZ", &tm);
	}
	const char *ack = json_str(json_get(a, "acknowledged_by"));
	printf("%-32.32s %-9s %-9s %-21s %-10.10s %s\n", str(a, "id"), str(a, "state"), str(a, "severity"),
	       when, ack ? ack : "-", str(a, "message"));
}

static size_t on_answer(char *data, size_t size, size_t n, void *arg)
{
	return buf_append(arg, data, size * n) < 0 ? 0 : size * n;
}

/* POST the action; prints the alert's new state. */
static int act(CURL *c, const struct watch_cli *o, const char *action)
{
	struct buf url, body, ans;
	struct curl_slist *h = NULL;
	char hdr[200];
	long status = 0;
	int rc = 1;
	struct json_w w;
	buf_init(&url, 4096);
	buf_init(&body, 4096);
	buf_init(&ans, MAX_ANSWER);
	char *esc = curl_easy_escape(c, o->id, 0);
	buf_printf(&url, "%s/api/v1/alerts/%s", o->server, esc ? esc : "");
	curl_free(esc);
	jw_init(&w, &body);
	jw_obj_begin(&w);
	jw_kstr(&w, "action", action);
	if (o->until)
		jw_kstr(&w, "until", o->until);
	if (o->for_)
		jw_kstr(&w, "for", o->for_);
	jw_obj_end(&w);
	h = cli_auth_header(curl_slist_append(h, "Content-Type: application/json"));
	if (o->user) {
		snprintf(hdr, sizeof(hdr), "X-Hotpath-User: %.150s", o->user);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url.data);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
	CURLcode cr = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cr != CURLE_OK)
		fprintf(stderr, "hotpath: POST %s: %s\n", url.data, curl_easy_strerror(cr));
	else if (status != 200)
		fprintf(stderr, "hotpath: POST %s: HTTP %ld: %.*s\n", url.data, status, (int)ans.len,
			ans.data ? ans.data : "");
	else {
		struct json_doc d;
		char err[128];
		if (json_doc_parse(&d, ans.data, ans.len, 0, err, sizeof(err)) == 0)
			alert_row(d.root);
		json_doc_release(&d);
		rc = 0;
	}
	curl_slist_free_all(h);
	buf_release(&url);
	buf_release(&body);
	buf_release(&ans);
	return rc;
}

static int list_alerts(CURL *c, const struct watch_cli *o)
{
	struct buf body, url;
	struct json_doc d = {0};
	buf_init(&body, MAX_ANSWER);
	buf_init(&url, 4096);
	buf_printf(&url, "%s/api/v1/alerts?", o->server);
	cli_url_param(&url, c, "state", o->state);
	const struct json *root = get_json(c, url.data, &body, &d);
	if (root) {
		printf("%-32s %-9s %-9s %-21s %-10s %s\n", "ALERT", "STATE", "SEVERITY", "FIRED", "ACK BY",
		       "MESSAGE");
		for (const struct json *a = json_get(root, "alerts") ? json_get(root, "alerts")->child : NULL;
		     a; a = a->next)
			alert_row(a);
	}
	json_doc_release(&d);
	buf_release(&body);
	buf_release(&url);
	return root ? 0 : 1;
}

int cmd_alerts(int argc, char **argv)
{
	struct watch_cli o;
	int rc = parse_args(argc, argv, &o, alerts_usage);
	if (rc < 0)
		return rc == -1 ? 0 : 2;
	const char *action = NULL;
	if (o.verb && !strcmp(o.verb, "ack"))
		action = "acknowledge";
	else if (o.verb && (!strcmp(o.verb, "silence") || !strcmp(o.verb, "resolve")))
		action = o.verb;
	else if (o.verb && strcmp(o.verb, "list"))
		return alerts_usage(stderr);
	if ((action && !o.id) || (!action && o.id) ||
	    (action && !strcmp(action, "silence") && !o.until && !o.for_))
		return alerts_usage(stderr);
	CURL *c = curl_easy_init();
	if (!c)
		return 1;
	rc = action ? act(c, &o, action) : list_alerts(c, &o);
	curl_easy_cleanup(c);
	return rc;
}
