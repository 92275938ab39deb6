/*
 * utf8.h - UTF-8 sequences: checking one (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) and encoding a code point.
 */
#ifndef HOTPATH_CORE_UTF8_H
#define HOTPATH_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * The length (1..4) of the valid sequence at s, reading at most n bytes,
 * and its code point in *cp (when cp is not NULL); 0 when the sequence is
 * invalid or cut by n.  Reading stops at the first byte that cannot
 * continue the sequence, so a NUL-terminated string may pass n = 4.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Write the encoding of `cp` (at most U+10FFFF) at o; returns its length (1..4). */
size_t utf8_encode(char *o, uint32_t cp);

#endif
