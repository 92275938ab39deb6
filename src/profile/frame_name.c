/* frame_name.c - frame names made safe (see frame_name.h). */
#include "profile/frame_name.h"
#include "core/utf8.h"

#include <stdint.h>

int frame_name_put(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	int r = 0;
	for (size_t i = 0; i < n && r == 0;) {
		size_t k = utf8_decode(p + i, n - i, NULL);
		if (!k) {
			r = buf_putc(b, '?');
			i++;
		} else if (k == 1) {
			char c = (char)p[i++];
			r = buf_putc(b, c == ';' || c == '\n' || c == '\r' ? '_' : c);
		} else {
			r = buf_append(b, p + i, k);
			i += k;
		}
	}
	return r;
}

void frame_name_fix_utf8(char *s, size_t n)
{
	unsigned char *p = (unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_decode(p + i, n - i, NULL);
		if (!k)
			p[i++] = '?';
		else
			i += k;
	}
}
