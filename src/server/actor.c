/*
 * actor.c - who a request acts for (see actor.h).
 */
#include "server/actor.h"

#include <string.h>

const char *http_actor(struct http_request *req)
{
	if (strcmp(req->actor, "open") != 0)
		return req->actor; /* the authenticated key's name */
	/* open mode (no keys, anyone on loopback trusted): a header may name someone */
	const char *h = http_header(req, "X-Hotpath-User");
	if (!h || !*h)
		return "api";
	size_t n = strlen(h);
	return arena_strndup(&req->arena, h, n > 128 ? 128 : n);
}
