/*
 * fuzz_block.c - the span block decoder on arbitrary bytes.
 *
 * The input is compressed first, so the fuzzer explores the block format
 * itself rather than zstd's frame checks; the raw input is decoded too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "store/block.h"

static int short_key(const char *key)
{
	return strlen(key) < 4;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct batch b;
	batch_init(&b);
	block_decode(data, size, NULL, &b, err, sizeof(err));
	batch_release(&b);

	size_t bound = ZSTD_compressBound(size);
	void *z = malloc(bound);
	size_t n = ZSTD_compress(z, bound, data, size, 1);
	if (!ZSTD_isError(n)) {
		uint8_t id[16] = {0};
		batch_init(&b);
		struct block_filter f = {.trace_id = size & 1 ? id : NULL,
					 .keep_key = size & 2 ? short_key : NULL,
					 .skeleton = (size & 4) != 0};
		block_decode(z, n, &f, &b, err, sizeof(err));
		/* decoding into a reset batch reuses its memory */
		batch_reset(&b);
		block_decode(z, n, NULL, &b, err, sizeof(err));
		batch_release(&b);
	}
	free(z);
	return 0;
}
