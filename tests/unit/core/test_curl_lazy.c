/*
 * test_curl_lazy.c - libcurl opened on first use (src/core/curl_lazy.c):
 * not mapped before a call, mapped after, and each forwarded function
 * answers as libcurl does, options of every argument type included.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

/* Whether a mapping of this process names `lib`. */
static int mapped(const char *lib)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, lib) != NULL;
	fclose(f);
	return found;
}

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

int main(void)
{
	is_int(mapped("libcurl"), 0, "libcurl is not loaded at start");
	is_int(mapped("libcrypto"), 0, "nor the TLS library it brings");
	is_int(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK, "global init");
	is_int(mapped("libcurl"), 1, "loaded by the first call");
	CURL *c = curl_easy_init();
	ok(c != NULL, "a handle");
	is_int(curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L), CURLE_OK, "a long option");
	is_int(curl_easy_setopt(c, CURLOPT_URL, "http://127.0.0.1:9/"), CURLE_OK, "a string option");
	is_int(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink), CURLE_OK, "a function option");
	is_int(curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)3), CURLE_OK, "an off_t option");
	is_int(curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "nonsense-protocol"), CURLE_UNSUPPORTED_PROTOCOL,
	       "libcurl's own answer comes back");
	is_int(curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http"), CURLE_OK, "and its OK");
	is_int(curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 500L), CURLE_OK, "connect timeout");
	CURLcode rc = curl_easy_perform(c);
	is_int(rc, CURLE_COULDNT_CONNECT, "a closed port: libcurl's error");
	ok(strstr(curl_easy_strerror(rc), "connect") != NULL, "its message: %s", curl_easy_strerror(rc));
	long status = -1;
	is_int(curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status), CURLE_OK, "getinfo");
	is_int(status, 0, "no answer, no status");
	char *esc = curl_easy_escape(c, "a b&c", 0);
	is_str(esc, "a%20b%26c", "escape");
	curl_free(esc);
	struct curl_slist *h = curl_slist_append(NULL, "X-A: 1");
	h = curl_slist_append(h, "X-B: 2");
	ok(h && h->next && !strcmp(h->next->data, "X-B: 2"), "a header list");
	curl_slist_free_all(h);
	is_int(curl_getdate("Thu, 01 Jan 1970 00:01:40 GMT", NULL), 100, "getdate");
	curl_easy_reset(c);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	return tap_done();
}
