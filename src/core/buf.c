/* buf.c - bounded growable buffer (see buf.h). */
#include "core/buf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/utf8.h"

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

int buf_reserve(struct buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return -1;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) < 0)
		return -1;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_putc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	char small[256];
	int n = vsnprintf(small, sizeof(small), fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return buf_append(b, small, (size_t)n);
	if (buf_reserve(b, (size_t)n) < 0)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int buf_put_varint(struct buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	return buf_append(b, tmp, n);
}

int buf_put_svarint(struct buf *b, int64_t v)
{
	return buf_put_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int buf_put_json_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	if (buf_putc(b, '"') < 0)
		return -1;
	while (*p) {
		const unsigned char *run = p;
		while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p > run && buf_append(b, run, (size_t)(p - run)) < 0)
			return -1;
		if (!*p)
			break;
		if (*p >= 0x80) { /* JSON text is UTF-8: an invalid byte becomes U+FFFD */
			size_t k = utf8_decode(p, 4, NULL);
			if (k ? buf_append(b, p, k) : buf_puts(b, "\xef\xbf\xbd"))
				return -1;
			p += k ? k : 1;
			continue;
		}
		char esc[6] = {'\\', 0};
		size_t n = 2;
		switch (*p) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			n = 6;
		}
		if (buf_append(b, esc, n) < 0)
			return -1;
		p++;
	}
	return buf_putc(b, '"');
}

int buf_put_json_double(struct buf *b, double d)
{
	char s[32];
	if (!isfinite(d))
		return buf_puts(b, "null");
	/* the shorter %.15g unless it does not read back as the same double */
	snprintf(s, sizeof(s), "%.15g", d);
	if (strtod(s, NULL) != d)
		snprintf(s, sizeof(s), "%.17g", d);
	return buf_puts(b, s);
}

int buf_put_json_member_str(struct buf *b, const char *key, const char *s)
{
	if (buf_printf(b, ",\"%s\":", key) < 0)
		return -1;
	return s ? buf_put_json_str(b, s) : buf_puts(b, "null");
}

int buf_put_json_member_double(struct buf *b, const char *key, double d)
{
	if (buf_printf(b, ",\"%s\":", key) < 0)
		return -1;
	return buf_put_json_double(b, d);
}

int buf_put_hex(struct buf *b, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (buf_reserve(b, n * 2) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		b->data[b->len++] = hex[p[i] >> 4];
		b->data[b->len++] = hex[p[i] & 15];
	}
	b->data[b->len] = 0;
	return 0;
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *d = b->data;
	if (len)
		*len = b->len;
	if (!d)
		d = xcalloc(1, 1);
	buf_init(b, b->max);
	return d;
}

int buf_read_file(struct buf *b, const char *path)
{
	char chunk[1 << 16];
	size_t got;
	int ret = 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	while (!ret && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(b, chunk, got) < 0) {
			errno = EFBIG;
			ret = -1;
		}
	if (!ret && ferror(f)) {
		errno = EIO;
		ret = -1;
	}
	fclose(f);
	return ret;
}
