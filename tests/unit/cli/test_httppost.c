/*
 * test_httppost.c - the agent's plain HTTP POST (src/cli/httppost.c): URLs,
 * status lines, and a POST to a real socket served by a thread here, which
 * checks what arrives and answers as it is told.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/httppost.h"
#include "tap.h"

static void test_urls(void)
{
	struct httppost_target t;
	char err[256];
	is_int(httppost_parse_url("http://127.0.0.1:4318", "/v1/metrics", &t, err, sizeof(err)), 1, "http");
	is_str(t.host, "127.0.0.1", "host");
	is_str(t.port, "4318", "port");
	is_str(t.path, "/v1/metrics", "path");
	is_int(httppost_parse_url("http://collector.example/otlp/", "/v1/metrics", &t, err, sizeof(err)), 1,
	       "a path");
	is_str(t.port, "80", "the default port");
	is_str(t.path, "/otlp/v1/metrics", "the URL's path first, its last slash dropped");
	is_int(httppost_parse_url("http://[::1]:9/", "/v1/metrics", &t, err, sizeof(err)), 1, "IPv6");
	is_str(t.host, "::1", "without brackets");
	is_int(httppost_parse_url("https://a.example", "/v1/metrics", &t, err, sizeof(err)), 0,
	       "https: not this module's");
	static const char *const bad[] = {
		"http://",     "http://:80",  "http://a:",    "http://a:123456", "http://a:80x",
		"http://[::1", "http://a b/", "http://a/x y", "http://a?x=1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		is_int(httppost_parse_url(bad[i], "/v1/metrics", &t, err, sizeof(err)), -1, "%s", bad[i]);
		ok(strstr(err, "malformed target") != NULL, "%s: %s", bad[i], err);
	}
}

static void test_status(void)
{
	static const struct {
		const char *s;
		int want;
	} cases[] = {
		{"HTTP/1.1 200 OK\r\n", 200},
		{"HTTP/1.0 503 Busy\r\n", 503},
		{"HTTP/1.1 429\r\n", 429},
		{"HTTP/1.1 20", 0},
		{"HTTP/1.1 200", 0},
		{"HTT", 0},
		{"", 0},
		{"SSH-2.0-OpenSSH\r\n", -1},
		{"HTTP/1.1 2000 x", -1},
		{"HTTP/1.1 099 x\r\n", -1},
		{"HTTP/1.2 200 OK\r\n", -1},
		{"HTTP/1.1 2x0 OK", -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(httppost_status(cases[i].s, strlen(cases[i].s)), cases[i].want,
		       "status line %zu: '%.*s'", i, (int)strcspn(cases[i].s, "\r"), cases[i].s);
}

/* One connection: read the request whole, keep it, answer `reply`. */
struct server {
	int fd;
	const char *reply;
	char got[8192];
	size_t n;
};

static void *serve_one(void *arg)
{
	struct server *s = arg;
	int c = accept(s->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	for (;;) {
		ssize_t n = recv(c, s->got + s->n, sizeof(s->got) - 1 - s->n, 0);
		if (n <= 0)
			break;
		s->n += (size_t)n;
		s->got[s->n] = 0;
		char *end = strstr(s->got, "\r\n\r\n");
		if (end && strlen(end + 4) >= 5) /* the test's bodies are 5 bytes */
			break;
	}
	if (send(c, s->reply, strlen(s->reply), MSG_NOSIGNAL) < 0)
		perror("send");
	close(c);
	return NULL;
}

static int listen_local(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static long post_to(struct server *s, int port, char *err, size_t errlen)
{
	struct httppost_target t;
	char url[64];
	pthread_t th;
	const char *h[] = {"Content-Type: application/x-protobuf", "Authorization: Bearer k"};
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	if (httppost_parse_url(url, "/v1/metrics", &t, err, errlen) != 1)
		return -1;
	pthread_create(&th, NULL, serve_one, s);
	long st = httppost_send(&t, h, 2, "hello", 5, 2000, err, errlen);
	pthread_join(th, NULL);
	return st;
}

static void test_send(void)
{
	int port = 0;
	char err[256] = "";
	struct server s = {.reply = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"};
	s.fd = listen_local(&port);
	ok(s.fd >= 0, "a local socket");
	if (s.fd < 0)
		return;
	is_int(post_to(&s, port, err, sizeof(err)), 201, "the server's status (%s)", err);
	ok(!strncmp(s.got, "POST /v1/metrics HTTP/1.1\r\n", 27), "the request line");
	char host[64];
	snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", port);
	ok(strstr(s.got, host) != NULL, "Host");
	ok(strstr(s.got, "\r\nContent-Length: 5\r\n") != NULL, "Content-Length");
	ok(strstr(s.got, "\r\nAuthorization: Bearer k\r\n") != NULL, "the caller's headers");
	ok(strstr(s.got, "\r\nConnection: close\r\n") != NULL, "one request a connection");
	ok(s.n > 5 && !strcmp(s.got + s.n - 9, "\r\n\r\nhello"), "the body after the head");

	struct server junk = {.fd = s.fd, .reply = "SSH-2.0-OpenSSH_9\r\n"};
	err[0] = 0;
	is_int(post_to(&junk, port, err, sizeof(err)), 0, "no HTTP answer: 0");
	ok(strstr(err, "not HTTP") != NULL, "and why: %s", err);
	struct server busy = {.fd = s.fd, .reply = "HTTP/1.1 503 Busy\r\nRetry-After: 1\r\n\r\n"};
	is_int(post_to(&busy, port, err, sizeof(err)), 503, "a 503 is an answer");
	close(s.fd);

	struct httppost_target t;
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port); /* closed now */
	httppost_parse_url(url, "/v1/metrics", &t, err, sizeof(err));
	err[0] = 0;
	is_int(httppost_send(&t, NULL, 0, "x", 1, 1000, err, sizeof(err)), 0, "refused: 0");
	ok(strstr(err, "refused") != NULL, "and why: %s", err);
}

int main(void)
{
	test_urls();
	test_status();
	test_send();
	return tap_done();
}
