/*
 * status.c - the table of status.h: a class of failure as HTTP, JSON and
 * OTLP answers say it.
 */
#include "server/status.h"

#include <stddef.h>

#include "core/error.h"

static const struct err_status table[] = {
	{ERR_INVALID, 400, "bad_request", "bad_request", RPC_INVALID_ARGUMENT, 0, NULL},
	{ERR_TOO_MUCH, 400, "bad_request", "bad_request", RPC_INVALID_ARGUMENT, 0, NULL},
	/* a body over its bound is refused as such: sending it again fails
	 * the same way */
	{ERR_TOO_BIG, 413, "too_large", "payload_too_large", RPC_INVALID_ARGUMENT, 0, NULL},
	{ERR_BUSY, 503, "busy", "busy", RPC_UNAVAILABLE, 1, "5"},
	{ERR_NOT_FOUND, 404, "not_found", "not_found", RPC_NOT_FOUND, 0, NULL},
	{ERR_UNSUPPORTED, 501, "unsupported", "unsupported", RPC_UNIMPLEMENTED, 0, NULL},
	/* 504, not 503: a 503 asks to send the same again (exporters and
	 * proxies retry it); a read over its time limit fails the same way
	 * until it is narrowed or the server is less loaded.  OTLP counts a
	 * 504 as retryable. */
	{ERR_TIMEOUT, 504, "timeout", "timeout", RPC_DEADLINE_EXCEEDED, 1, NULL},
	/* the store's server (ClickHouse) cannot be reached now */
	{ERR_UNAVAILABLE, 503, "store_unavailable", "store_unavailable", RPC_UNAVAILABLE, 1, "5"},
	/* last: the row of anything else */
	{ERR_INTERNAL, 500, "internal", "internal", RPC_INTERNAL, 0, NULL},
};

const struct err_status *err_status_of(int cls)
{
	size_t i = 0, n = sizeof(table) / sizeof(table[0]);
	while (i + 1 < n && table[i].cls != cls)
		i++;
	return &table[i];
}
