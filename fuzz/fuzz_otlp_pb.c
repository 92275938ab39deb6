/*
 * fuzz_otlp_pb.c - libFuzzer target for the OTLP protobuf decoders.
 *
 * Every input is decoded as traces and as metrics.  Whatever decodes must
 * survive the round trip: encoded again, it decodes to as many spans / points
 * with nothing rejected; otherwise the target aborts.  Seeds:
 * fuzz/corpus/fuzz_otlp_pb/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/buf.h"
#include "ingest/batch.h"
#include "ingest/otlp_pb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef int (*decode_fn)(struct batch *, const uint8_t *, size_t, char *, size_t);
typedef int (*encode_fn)(const struct batch *, struct buf *);

static void round_trip(decode_fn decode, encode_fn encode, int points, const uint8_t *data, size_t size)
{
	struct batch b, again;
	struct buf wire;
	char err[256];

	batch_init(&b);
	if (decode(&b, data, size, err, sizeof(err)) == 0) {
		buf_init(&wire, BUF_NO_LIMIT);
		batch_init(&again);
		if (encode(&b, &wire) < 0 ||
		    decode(&again, (const uint8_t *)wire.data, wire.len, err, sizeof(err)) < 0 ||
		    (points ? again.n_points != b.n_points : again.n_spans != b.n_spans) || again.rejected)
			abort();
		batch_release(&again);
		buf_release(&wire);
	}
	batch_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	round_trip(otlp_pb_decode_traces, otlp_pb_encode_traces, 0, data, size);
	round_trip(otlp_pb_decode_metrics, otlp_pb_encode_metrics, 1, data, size);
	return 0;
}
