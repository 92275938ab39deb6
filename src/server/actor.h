/*
 * actor.h - who a request acts for, as the audit trail names them.
 *
 * The authenticated key's name; in open mode (no keys: loopback only) the
 * X-Hotpath-User header, or "api".  Every route that records an action
 * asks here.
 */
#ifndef HOTPATH_SERVER_ACTOR_H
#define HOTPATH_SERVER_ACTOR_H

#include "server/http.h"

/* The actor's name, valid for the request's lifetime (at most 128 bytes). */
const char *http_actor(struct http_request *req);

#endif
