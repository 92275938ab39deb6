/*
 * fuzz_thresholds.c - libFuzzer target for the slow-operation thresholds
 * parser (the body of PUT /api/v1/slow-operations/thresholds and the
 * config file's "slow_operations" object), and its JSON writer.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "analyze/slowops.h"
#include "core/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slowops_config c;
	char err[256];
	slowops_config_init(&c);
	if (slowops_config_parse_json(&c, (const char *)data, size, SLOWOPS_SRC_API, err, sizeof(err)) == 0) {
		struct buf b;
		buf_init(&b, BUF_NO_LIMIT);
		slowops_config_to_json(&b, &c, 1);
		buf_release(&b);
	}
	slowops_config_release(&c);
	return 0;
}
