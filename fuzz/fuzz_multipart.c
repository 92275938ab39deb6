/*
 * fuzz_multipart.c - libFuzzer target for the multipart/form-data part
 * finder.  The input up to the first newline is the Content-Type header
 * value; the rest is the body.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nl = memchr(in, '\n', size);
	size_t hl = nl ? (size_t)(nl - in) : size;
	char *ctype = malloc(hl + 1);
	memcpy(ctype, in, hl);
	ctype[hl] = 0;
	/* the body in its own allocation, so reads past it are caught */
	size_t bl = nl ? size - hl - 1 : 0;
	char *body = malloc(bl ? bl : 1);
	memcpy(body, nl ? nl + 1 : "", bl);
	const char *part;
	size_t part_len;
	char err[256];
	if (multipart_part(ctype, body, bl, "profile", &part, &part_len, err, sizeof(err)) == 0 &&
	    (part < body || part + part_len > body + bl))
		abort();
	free(body);
	free(ctype);
	return 0;
}
