/* fuzz_requests.c - libFuzzer target for the seeds' request model decoder. */
#include <stddef.h>
#include <stdint.h>

#include "ingest/requests.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct batch b;
	char err[256];
	batch_init(&b);
	requests_decode(&b, (const char *)data, size, 1700000000000000000ull, err, sizeof(err));
	batch_release(&b);
	return 0;
}
