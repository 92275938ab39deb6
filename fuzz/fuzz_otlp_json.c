/*
 * fuzz_otlp_json.c - libFuzzer target for the OTLP/JSON decoders.
 *
 * Each input is decoded as traces and as metrics; a decoded trace batch is
 * encoded again and the encoding must decode (the encoder writes valid
 * OTLP/JSON whatever the input was).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/buf.h"
#include "ingest/otlp_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct batch b, again;
	struct buf out;
	char err[256];

	batch_init(&b);
	if (otlp_json_decode_traces(&b, (const char *)data, size, err, sizeof(err)) == 0) {
		buf_init(&out, 64u << 20);
		batch_init(&again);
		if (otlp_json_encode_traces(&b, &out) == 0 &&
		    otlp_json_decode_traces(&again, out.data, out.len, err, sizeof(err)) < 0)
			abort();
		if (again.n_spans != b.n_spans)
			abort();
		batch_release(&again);
		buf_release(&out);
	}
	batch_release(&b);

	batch_init(&b);
	otlp_json_decode_metrics(&b, (const char *)data, size, err, sizeof(err));
	batch_release(&b);
	return 0;
}
