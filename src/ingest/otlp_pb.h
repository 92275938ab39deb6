/*
 * otlp_pb.h - OTLP/HTTP binary protobuf: traces and metrics.
 *
 * Decoders append to a caller-initialised batch; every string they keep is
 * copied into the batch's arena.  They return 0, or -1 with a message in
 * `err` when the payload cannot be decoded at all (the server answers 400).
 * Spans that decode but are invalid (ids of the wrong length, see
 * span_validate()) are dropped and counted with batch_reject(): the server
 * answers 200 with partial_success.
 */
#ifndef HOTPATH_INGEST_OTLP_PB_H
#define HOTPATH_INGEST_OTLP_PB_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "ingest/batch.h"

int otlp_pb_decode_traces(struct batch *b, const uint8_t *data, size_t len, char *err, size_t errlen);
int otlp_pb_decode_metrics(struct batch *b, const uint8_t *data, size_t len, char *err, size_t errlen);

/* Encode the spans of `b` as an ExportTraceServiceRequest (demo, bench, tests). */
int otlp_pb_encode_traces(const struct batch *b, struct buf *out);

/*
 * Encode the data points of `b` as an ExportMetricsServiceRequest: gauges,
 * sums (cumulative, monotonic) and explicit-bucket histograms, one Metric per
 * (resource, name, unit, type).
 */
int otlp_pb_encode_metrics(const struct batch *b, struct buf *out);

/* Export{Trace,Metrics}ServiceResponse; partial_success is set when rejected > 0. */
int otlp_pb_encode_response(struct buf *out, int metrics, uint64_t rejected, const char *message);
/* google.rpc.Status{code, message}, the body of OTLP error responses. */
int otlp_pb_encode_status(struct buf *out, int code, const char *message);

#endif
