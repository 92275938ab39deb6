/* lines.c - chunked input split into bounded lines (see lines.h). */
#include "core/lines.h"

#include <string.h>

void lines_init(struct lines *l, size_t max_line)
{
	buf_init(&l->carry, max_line);
	l->max_line = max_line;
}

void lines_release(struct lines *l)
{
	buf_release(&l->carry);
}

int lines_feed(struct lines *l, const char *data, size_t len, lines_fn fn, void *arg)
{
	const char *p = data, *end = data + len;
	int rc;
	if (l->carry.len && len) {
		const char *nl = memchr(p, '\n', len);
		size_t take = nl ? (size_t)(nl - p) : len;
		if (buf_append(&l->carry, p, take) < 0)
			return ERR_TOO_BIG;
		if (!nl)
			return 0;
		if ((rc = fn(arg, l->carry.data, l->carry.len)) < 0)
			return rc;
		buf_reset(&l->carry);
		p = nl + 1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return buf_append(&l->carry, p, (size_t)(end - p)) < 0 ? ERR_TOO_BIG : 0;
		if ((size_t)(nl - p) > l->max_line)
			return ERR_TOO_BIG;
		if ((rc = fn(arg, p, (size_t)(nl - p))) < 0)
			return rc;
		p = nl + 1;
	}
	return 0;
}

int lines_finish(struct lines *l, lines_fn fn, void *arg)
{
	if (!l->carry.len)
		return 0;
	int rc = fn(arg, l->carry.data, l->carry.len);
	buf_reset(&l->carry);
	return rc;
}
