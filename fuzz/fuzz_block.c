/*
 * fuzz_block.c - the span block decoder on arbitrary bytes.
 *
 * The input is compressed first, so the fuzzer explores the block format
 * itself rather than zstd's frame checks.  Its first two bytes (little
 * endian) say how many of the following bytes are the head; the head and
 * the rest are compressed as two frames (a block as written now), and all
 * of it as one frame (a block from before the split).  The raw input is
 * decoded too.
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

/* Append data[0 .. size) compressed to z (of capacity cap) at *len. */
static int put_frame(uint8_t *z, size_t cap, size_t *len, const uint8_t *data, size_t size)
{
	size_t n = ZSTD_compress(z + *len, cap - *len, data, size, 1);
	if (ZSTD_isError(n))
		return -1;
	*len += n;
	return 0;
}

static void decode_all_ways(const uint8_t *z, size_t n, size_t size)
{
	char err[256];
	struct batch b;
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct batch b;
	batch_init(&b);
	block_decode(data, size, NULL, &b, err, sizeof(err));
	batch_release(&b);
	if (size < 2)
		return 0;

	size_t head = (size_t)(data[0] | data[1] << 8), body = size - 2;
	if (head > body)
		head = body;
	size_t cap = 2 * ZSTD_compressBound(body) + 64, len = 0;
	uint8_t *z = malloc(cap);
	if (put_frame(z, cap, &len, data + 2, head) == 0 &&
	    put_frame(z, cap, &len, data + 2 + head, body - head) == 0)
		decode_all_ways(z, len, size);
	len = 0;
	if (put_frame(z, cap, &len, data + 2, body) == 0)
		decode_all_ways(z, len, size);
	free(z);
	return 0;
}
