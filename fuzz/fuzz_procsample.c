/*
 * fuzz_procsample.c - the /proc parsers of `hotpath agent` (cli/procsample.h)
 * on arbitrary bytes: each file format reads the same input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "cli/procsample.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_dev(void *arg, const char *dev, uint64_t a, uint64_t b)
{
	(void)dev;
	*(uint64_t *)arg += a ^ b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t ticks[PROCSAMPLE_MAX_CPUS][PROCSAMPLE_CPU_STATES];
	const char *t = (const char *)data;
	uint64_t kb[4], a, b, c, sink = 0;
	char comm[64];
	procsample_parse_stat(t, size, ticks, PROCSAMPLE_MAX_CPUS);
	procsample_parse_meminfo(t, size, kb);
	procsample_parse_pid_stat(t, size, comm, sizeof(comm), &a, &b, &c);
	procsample_parse_status(t, size, &a, &b, &c);
	procsample_parse_net_dev(t, size, on_dev, &sink);
	procsample_parse_diskstats(t, size, on_dev, &sink);
	return 0;
}
