/*
 * fuzz_httppost.c - libFuzzer target for the agent's plain HTTP client
 * (src/cli/httppost.c): the status line of an answer, and a target URL.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/httppost.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httppost_target t;
	char err[256];
	int st = httppost_status((const char *)data, size);
	if (st != -1 && st != 0 && (st < 100 || st > 599))
		abort();
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	int rc = httppost_parse_url(s, "/v1/metrics", &t, err, sizeof(err));
	if (rc == 1 && (!t.host[0] || !t.port[0] || t.path[0] != '/' || strpbrk(t.path, " \r\n")))
		abort();
	free(s);
	return 0;
}
