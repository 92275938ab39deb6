/* cli.c - small helpers shared by the subcommands (see cli.h). */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_doc.h"

int cli_long_option(const char *arg, char *name, size_t namesz, const char **value)
{
	if (strncmp(arg, "--", 2) != 0)
		return -1;
	const char *eq = strchr(arg + 2, '=');
	size_t nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
	if (nlen >= namesz)
		return -1;
	memcpy(name, arg + 2, nlen);
	name[nlen] = 0;
	*value = eq ? eq + 1 : NULL;
	return 0;
}

int cli_write_stdout(void *ctx, const char *data, size_t len)
{
	return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	return buf_append(b, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

void cli_url_param(struct buf *url, CURL *curl, const char *key, const char *value)
{
	if (!value)
		return;
	char *esc = curl_easy_escape(curl, value, 0);
	buf_printf(url, "&%s=%s", key, esc ? esc : "");
	curl_free(esc);
}

int cli_auth_line(char *line, size_t cap)
{
	const char *key = getenv("HOTPATH_KEY");
	if (!key || !*key)
		return 0;
	snprintf(line, cap, "Authorization: Bearer %.120s", key);
	return 1;
}

struct curl_slist *cli_auth_header(struct curl_slist *h)
{
	char line[160];
	return cli_auth_line(line, sizeof(line)) ? curl_slist_append(h, line) : h;
}

int cli_api_get(CURL *curl, const char *url, struct buf *body, char *err, size_t errlen)
{
	long status = 0;
	buf_reset(body);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "hotpath-cli/1.0");
	struct curl_slist *hdrs = cli_auth_header(NULL);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	CURLcode rc = curl_easy_perform(curl);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "GET %s: %s", url, curl_easy_strerror(rc));
		return -1;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200)
		return 0;
	/* the API's {"error":{"message":...}}, else the start of the body */
	struct json_doc d;
	char perr[128];
	const char *msg = NULL;
	memset(&d, 0, sizeof(d));
	if (body->len && json_doc_parse(&d, body->data, body->len, 0, perr, sizeof(perr)) == 0)
		msg = json_str(json_get(json_get(d.root, "error"), "message"));
	snprintf(err, errlen, "GET %s: HTTP %ld: %.300s", url, status,
		 msg	      ? msg
		 : body->data ? body->data
			      : "");
	json_doc_release(&d);
	return -1;
}
