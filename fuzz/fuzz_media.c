/*
 * fuzz_media.c - libFuzzer target for the media-type parser of ingest
 * bodies (Content-Type) and the Host check against DNS rebinding.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "server/media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	enum media m = media_parse(s);
	if (m != M_UNKNOWN && m != M_JSON && m != M_NDJSON && m != M_PROTOBUF)
		abort();
	(void)auth_host_allowed(s, "hotpath.internal,a.b");
	free(s);
	return 0;
}
