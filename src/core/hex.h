/* hex.h - hex encoding of trace and span ids. */
#ifndef HOTPATH_CORE_HEX_H
#define HOTPATH_CORE_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Decode exactly `n` bytes from 2n hex digits (either case).  Returns 0, or
 * -1 when `hex` is not 2n hex digits. */
int hex_decode(uint8_t *out, size_t n, const char *hex, size_t hexlen);
/* Write 2n lower-case digits and a NUL into out (size 2n+1). */
void hex_encode(char *out, const uint8_t *p, size_t n);
int hex_is_zero(const uint8_t *p, size_t n);

#endif
