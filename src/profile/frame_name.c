/* frame_name.c - frame names made safe, and their parts (see frame_name.h). */
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

void frame_name_parts(const char *s, size_t n, struct frame_parts *out)
{
	size_t end = n, colon;
	*out = (struct frame_parts){.fn = s, .fn_len = n, .file = s + n, .file_len = 0};
	while (end > 0 && s[end - 1] >= '0' && s[end - 1] <= '9')
		end--;
	if (end == n || end < 2 || s[end - 1] != ':')
		return; /* no ":<line>" */
	for (colon = end - 1; colon > 0 && s[colon - 1] != ':'; colon--)
		;
	if (!colon || colon == end - 1 || (colon >= 2 && s[colon - 2] == ':'))
		return; /* no "<file>:" before the function, no function, or a "::" scope */
	out->fn = s + colon;
	out->fn_len = end - 1 - colon;
	size_t file_end = colon - 1, file = file_end;
	while (file > 0 && s[file - 1] != '/' && s[file - 1] != '\\')
		file--;
	out->file = s + file;
	out->file_len = file_end - file;
}
