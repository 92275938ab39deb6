/*
 * otlp_json.h - OTLP/HTTP JSON: traces and metrics.
 *
 * Same contract as otlp_pb.h.  JSON follows the OTLP/HTTP rules: trace and
 * span ids are hex strings (base64 is an error), enums are integers, int64
 * values may be strings or numbers, unknown fields are ignored, and field
 * names are lowerCamelCase (snake_case is accepted too).
 */
#ifndef HOTPATH_INGEST_OTLP_JSON_H
#define HOTPATH_INGEST_OTLP_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "ingest/batch.h"

int otlp_json_decode_traces(struct batch *b, const char *data, size_t len, char *err, size_t errlen);
int otlp_json_decode_metrics(struct batch *b, const char *data, size_t len, char *err, size_t errlen);

/* Encode the spans of `b` as OTLP/JSON ExportTraceServiceRequest (bench, tests). */
int otlp_json_encode_traces(const struct batch *b, struct buf *out);

/* {"partialSuccess":{...}} or {} when nothing was rejected. */
int otlp_json_encode_response(struct buf *out, int metrics, uint64_t rejected, const char *message);
/* {"code":N,"message":"..."} (google.rpc.Status). */
int otlp_json_encode_status(struct buf *out, int code, const char *message);

#endif
