/*
 * httppost.c - one HTTP/1.1 POST over plain TCP (see httppost.h).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli/httppost.h"
#include "core/buf.h"

int httppost_parse_url(const char *url, const char *suffix, struct httppost_target *t, char *err,
		       size_t errlen)
{
	static const char scheme[] = "http://";
	if (strncmp(url, scheme, sizeof(scheme) - 1))
		return 0;
	const char *p = url + sizeof(scheme) - 1, *host = p, *host_end;
	if (*p == '[') { /* [IPv6]:port */
		host = ++p;
		host_end = strchr(p, ']');
		if (!host_end)
			goto bad;
		p = host_end + 1;
	} else {
		p += strcspn(p, ":/?#");
		host_end = p;
	}
	size_t host_len = (size_t)(host_end - host);
	if (!host_len || host_len >= sizeof(t->host))
		goto bad;
	for (const char *c = host; c < host_end; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '@' || *c == '[')
			goto bad;
	memcpy(t->host, host, host_len);
	t->host[host_len] = 0;
	snprintf(t->port, sizeof(t->port), "80");
	if (*p == ':') {
		size_t n = strspn(++p, "0123456789");
		if (!n || n >= sizeof(t->port))
			goto bad;
		memcpy(t->port, p, n);
		t->port[n] = 0;
		p += n;
	}
	if (*p && *p != '/')
		goto bad;
	size_t path_len = strlen(p);
	while (path_len && p[path_len - 1] == '/')
		path_len--;
	if (strcspn(p, " \r\n") < strlen(p) ||
	    snprintf(t->path, sizeof(t->path), "%.*s%s", (int)path_len, p, suffix) >= (int)sizeof(t->path))
		goto bad;
	return 1;
bad:
	snprintf(err, errlen, "malformed target '%.200s': use http://HOST[:PORT]", url);
	return -1;
}

int httppost_status(const char *data, size_t len)
{
	static const char proto[] = "HTTP/1.";
	size_t n = len < sizeof(proto) - 1 ? len : sizeof(proto) - 1;
	if (memcmp(data, proto, n))
		return -1;
	if (len < 12) /* "HTTP/1.1 200" */
		return 0;
	if ((data[7] != '0' && data[7] != '1') || data[8] != ' ')
		return -1;
	int code = 0;
	for (int i = 9; i < 12; i++) {
		if (data[i] < '0' || data[i] > '9')
			return -1;
		code = code * 10 + (data[i] - '0');
	}
	if (code < 100 || code > 599)
		return -1;
	if (len == 12)
		return 0; /* the code may go on */
	return data[12] == ' ' || data[12] == '\r' || data[12] == '\n' ? code : -1;
}

static int connect_to(const struct httppost_target *t, int timeout_ms, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	int rc = getaddrinfo(t->host, t->port, &hints, &res), fd = -1;
	if (rc) {
		snprintf(err, errlen, "%s: %s", t->host, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		/* Linux bounds connect() by the send timeout too */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			snprintf(err, errlen, "%s:%s: %s", t->host, t->port, strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until the status line is whole: the status, or 0. */
static long read_status(int fd, char *err, size_t errlen)
{
	char head[HTTPPOST_HEAD_MAX];
	size_t got = 0;
	int st = 0;
	while (got < sizeof(head) && st == 0) {
		ssize_t n = recv(fd, head + got, sizeof(head) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s", n < 0 ? strerror(errno) : "closed without an answer");
			return 0;
		}
		got += (size_t)n;
		st = httppost_status(head, got);
	}
	if (st <= 0)
		snprintf(err, errlen, "the answer is not HTTP");
	return st > 0 ? st : 0;
}

long httppost_send(const struct httppost_target *t, const char *const *headers, size_t n_headers,
		   const void *body, size_t len, int timeout_ms, char *err, size_t errlen)
{
	struct buf head;
	long status = 0;
	int fd = connect_to(t, timeout_ms, err, errlen);
	if (fd < 0)
		return 0;
	buf_init(&head, BUF_NO_LIMIT);
	buf_printf(&head,
		   "POST %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nContent-Length: %zu\r\nConnection: close\r\n",
		   t->path, strchr(t->host, ':') ? "[" : "", t->host, strchr(t->host, ':') ? "]" : "",
		   t->port, len);
	for (size_t i = 0; i < n_headers; i++)
		buf_printf(&head, "%s\r\n", headers[i]);
	buf_puts(&head, "\r\n");
	/* a server that answers before taking the whole body (413) is still heard */
	if (send_all(fd, head.data, head.len) < 0 || send_all(fd, body, len) < 0)
		snprintf(err, errlen, "sending: %s", strerror(errno));
	status = read_status(fd, err, errlen);
	buf_release(&head);
	close(fd);
	return status;
}
