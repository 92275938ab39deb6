/*
 * httppost.h - one HTTP/1.1 POST over plain TCP, for `hotpath agent`'s
 * http:// targets.
 *
 * The agent must stay small on the hosts it samples (docs/AGENT.md): libcurl
 * and the TLS, Kerberos and LDAP libraries it brings would be most of its
 * memory (core/curl_lazy.c opens libcurl only when something calls it), so
 * a plain http:// target is sent to by this module, and https:// ones
 * through libcurl.  One request a connection ("Connection: close"), no
 * redirects, no proxies, no chunked bodies; the answer is read only as far
 * as its status line.
 *
 * Ownership: a struct httppost_target is the caller's, filled by
 * httppost_parse_url(); nothing is kept between calls.
 */
#ifndef HOTPATH_CLI_HTTPPOST_H
#define HOTPATH_CLI_HTTPPOST_H

#include <stddef.h>

/* The bytes of an answer read at most while looking for its status line. */
#define HTTPPOST_HEAD_MAX 4096

struct httppost_target {
	char host[256]; /* a name or an address; an IPv6 address without brackets */
	char port[6];
	char path[1024]; /* "/v1/metrics" after the URL's own path, if any */
};

/*
 * Parse "http://HOST[:PORT][/PATH]" and append `suffix` to its path.  1 when
 * `url` is an http:// URL (filled), 0 when it is not (another scheme: use
 * libcurl), -1 with a message when it is malformed or too long.
 */
int httppost_parse_url(const char *url, const char *suffix, struct httppost_target *t, char *err,
		       size_t errlen);

/*
 * The status code of an answer that starts with `data` ("HTTP/1.1 200
 * OK\r\n..."): 100..599, 0 while the status line is incomplete, -1 when it
 * is no HTTP status line.
 */
int httppost_status(const char *data, size_t len);

/*
 * POST `body` (len bytes) to `t` with the header lines `headers` ("Name:
 * value", without line ends), waiting at most timeout_ms for each of
 * connecting, sending and the answer.  The answer's status, or 0 with a
 * message when there was none (refused, timed out, not HTTP).
 */
long httppost_send(const struct httppost_target *t, const char *const *headers, size_t n_headers,
		   const void *body, size_t len, int timeout_ms, char *err, size_t errlen);

#endif
