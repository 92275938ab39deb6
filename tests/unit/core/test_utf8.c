/*
 * test_utf8.c - UTF-8 sequences: the valid ones of each length, the forms
 * RFC 3629 forbids (overlong, surrogates, above U+10FFFF, stray
 * continuation bytes), sequences cut by the length or a NUL, and encoding
 * that decodes back.
 */
#include <string.h>

#include "core/utf8.h"
#include "tap.h"

static size_t dec(const char *s, size_t n, uint32_t *cp)
{
	return utf8_decode((const unsigned char *)s, n, cp);
}

int main(void)
{
	uint32_t cp = 0;
	ok(dec("A", 1, &cp) == 1 && cp == 'A', "ASCII");
	ok(dec("\xc3\xa9", 2, &cp) == 2 && cp == 0xe9, "two bytes: U+00E9");
	ok(dec("\xe2\x82\xac", 3, &cp) == 3 && cp == 0x20ac, "three bytes: U+20AC");
	ok(dec("\xf0\x9f\x94\xa5", 4, &cp) == 4 && cp == 0x1f525, "four bytes: U+1F525");
	ok(dec("\xf4\x8f\xbf\xbf", 4, &cp) == 4 && cp == 0x10ffff, "the last code point");

	is_int(dec("\xc0\xaf", 2, NULL), 0, "overlong two bytes (C0)");
	is_int(dec("\xe0\x80\xaf", 3, NULL), 0, "overlong three bytes");
	is_int(dec("\xf0\x80\x80\xaf", 4, NULL), 0, "overlong four bytes");
	is_int(dec("\xed\xa0\x80", 3, NULL), 0, "a surrogate (U+D800)");
	is_int(dec("\xf4\x90\x80\x80", 4, NULL), 0, "above U+10FFFF");
	is_int(dec("\xf5\x80\x80\x80", 4, NULL), 0, "lead byte F5");
	is_int(dec("\x80", 1, NULL), 0, "a stray continuation byte");
	is_int(dec("\xe2\x82", 2, NULL), 0, "cut by the length");
	is_int(dec("\xe2\x82\xac", 2, NULL), 0, "cut by the length though the bytes go on");
	is_int(dec("\xe2\x00\xac", 4, NULL), 0, "cut by a NUL");
	is_int(dec("", 0, NULL), 0, "nothing to read");

	static const uint32_t cps[] = {0, 0x7f, 0x80, 0x7ff, 0x800, 0xffff, 0x10000, 0x10ffff};
	int round = 1;
	for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
		char buf[4];
		uint32_t back = ~0u;
		size_t n = utf8_encode(buf, cps[i]);
		round &= dec(buf, n, &back) == n && back == cps[i];
	}
	ok(round, "every length encodes and decodes back");
	return tap_done();
}
