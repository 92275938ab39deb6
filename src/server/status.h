/*
 * status.h - one table from a class of failure (core/error.h) to what each
 * kind of answer says about it: the HTTP status, the error code of a JSON
 * answer, the google.rpc.Code of an OTLP answer, whether an OTLP exporter
 * may send the same again, and the Retry-After a 503 carries when the
 * caller did not choose one.  http_error_class() (the API's answers) and
 * routes_ingest.c (OTLP and request ingest) both read it.
 *
 * A 415 (an unsupported Content-Type or Content-Encoding) is not a class:
 * it is said of the media, in routes_ingest.c.
 */
#ifndef HOTPATH_SERVER_STATUS_H
#define HOTPATH_SERVER_STATUS_H

/* google.rpc.Code values used in OTLP answers */
enum rpc_code {
	RPC_INVALID_ARGUMENT = 3,
	RPC_DEADLINE_EXCEEDED = 4,
	RPC_NOT_FOUND = 5,
	RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
};

struct err_status {
	int cls;		 /* enum err_class */
	int http;		 /* HTTP status */
	const char *code;	 /* "code" of {"error":{...}} in API answers */
	const char *ingest_code; /* the same in ingest answers (413 differs) */
	int rpc;		 /* google.rpc.Code of OTLP answers */
	/* 1: OTLP exporters retry it (OTLP/HTTP: 429, 502, 503, 504) */
	int retryable;
	/* Retry-After seconds when the caller set none, or NULL: none */
	const char *retry_after;
};

/* The row of a class; anything not in the table is ERR_INTERNAL's row.
 * Static storage: never freed. */
const struct err_status *err_status_of(int cls);

#endif
