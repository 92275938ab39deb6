/*
 * telemetry.h - whether a span is the application's telemetry leaving it:
 * a trace, metric, log or profile export (OTLP over HTTP or gRPC,
 * Pyroscope, Jaeger, Zipkin) that an instrumented HTTP client recorded as
 * one of the application's own outgoing calls.  Such calls are not the
 * application's work: analyses leave them out of patterns and bottlenecks
 * and may show them apart, labelled.
 *
 * The endpoints recognised are one table in telemetry.c, listed in
 * docs/DETECTORS.md ("Telemetry's own traffic"); the attributes read are in
 * docs/ATTRIBUTES.md.
 *
 * Not owned here: what an analysis does with such a call.
 * Pure functions over borrowed strings; thread-safe.
 */
#ifndef HOTPATH_INGEST_TELEMETRY_H
#define HOTPATH_INGEST_TELEMETRY_H

#include "ingest/batch.h"

/*
 * Whether a URL or a path (url.full, url.path, http.target, http.url) is a
 * telemetry endpoint: the path (without query) is one of an exporter's,
 * e.g. "/v1/traces" or "/ingest".  NULL gives 0.
 */
int telemetry_url_is_export(const char *url);

/* Whether an RPC service (rpc.service) is a telemetry collector's, e.g.
 * "opentelemetry.proto.collector.trace.v1.TraceService".  NULL gives 0. */
int telemetry_rpc_is_export(const char *rpc_service);

/* Whether a user agent (user_agent.original) is an exporter's, e.g.
 * "OTel-OTLP-Exporter-JavaScript/0.52.0".  NULL gives 0. */
int telemetry_agent_is_export(const char *user_agent);

/*
 * Whether `sp` is a call to a telemetry endpoint: a CLIENT or PRODUCER
 * span whose url.full / url.path / http.target / http.url, rpc.service,
 * user_agent.original or name says so (the three tests above; a name such
 * as "POST /v1/traces" is read as a path).  Reads the span's attributes by
 * key: for an analysis that has not read them already.
 */
int telemetry_span_is_export(const struct span *sp);

#endif
