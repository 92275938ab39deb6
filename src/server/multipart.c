/*
 * multipart.c - one part of a multipart/form-data body (see multipart.h).
 */
#include "server/multipart.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

static const char *find(const char *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle));
}

int multipart_part(const char *ctype, const char *body, size_t len, const char *name, const char **part,
		   size_t *part_len, char *err, size_t errlen)
{
	const char *b = strcasestr(ctype, "boundary=");
	char delim[128], want[96];
	if (!b)
		return errf(err, errlen, "multipart/form-data without a boundary");
	b += 9;
	size_t bl = *b == '"' ? strcspn(++b, "\"") : strcspn(b, "; \t");
	if (!bl || bl > 70)
		return errf(err, errlen, "invalid multipart boundary");
	snprintf(delim, sizeof(delim), "--%.*s", (int)bl, b);
	snprintf(want, sizeof(want), "name=\"%s\"", name);
	const char *p = find(body, len, delim);
	while (p) {
		p += strlen(delim);
		size_t left = len - (size_t)(p - body);
		if (left >= 2 && p[0] == '-' && p[1] == '-')
			return 1;
		const char *hdr_end = find(p, left, "\r\n\r\n");
		if (!hdr_end)
			return errf(err, errlen, "truncated multipart body: a part has no end of headers");
		const char *content = hdr_end + 4;
		size_t rest = len - (size_t)(content - body);
		const char *next = NULL;
		/* the closing delimiter is the boundary at the start of a line */
		for (const char *q = content; (q = find(q, rest - (size_t)(q - content), delim)); q++)
			if (q >= content + 2 && q[-2] == '\r' && q[-1] == '\n') {
				next = q;
				break;
			}
		if (!next)
			return errf(err, errlen, "truncated multipart body: a part has no closing boundary");
		if (memmem(p, (size_t)(hdr_end - p), want, strlen(want))) {
			*part = content;
			*part_len = (size_t)(next - 2 - content);
			return 0;
		}
		p = next;
	}
	return 1;
}
