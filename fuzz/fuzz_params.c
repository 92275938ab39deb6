/*
 * fuzz_params.c - libFuzzer target for the query parameters' parsers:
 * times (unix ms, RFC 3339), ranges and profiles' times (Pyroscope's
 * forms), and what they accept must lie in the documented window.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/filters.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	uint64_t ns = 0;
	if (filters_parse_time(s, &ns) == 0 && ns >= FILTERS_TIME_MAX_NS)
		abort(); /* accepted outside the window */
	if (filters_parse_range(s, &ns) == 0 && (!ns || ns > FILTERS_RANGE_MAX_NS))
		abort();
	/* profiles' times: in the window, and "now-…" never after now */
	uint64_t now = 1750000000000000000ull;
	if (filters_parse_pyroscope_time(s, now, &ns) == 0 &&
	    (ns >= FILTERS_TIME_MAX_NS || (!strncmp(s, "now", 3) && ns > now)))
		abort();
	free(s);
	return 0;
}
