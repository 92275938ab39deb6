/*
 * fuzz_block.c - the span block decoder on arbitrary bytes.
 *
 * The input is compressed first, so the fuzzer explores the block format
 * itself rather than zstd's frame checks; the raw input is decoded too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <zstd.h>

#include "store/block.h"

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
		block_decode(z, n, size & 1 ? id : NULL, &b, err, sizeof(err));
		batch_release(&b);
	}
	free(z);
	return 0;
}
