/*
 * routes_change.h - the request helpers routes_change.c shares with
 * routes_fleet.c: a JSON body, its string members, percentages.  Each
 * returns -1 after setting the 4xx answer that names the problem.
 */
#ifndef HOTPATH_SERVER_ROUTES_CHANGE_H
#define HOTPATH_SERVER_ROUTES_CHANGE_H

#include <stddef.h>

#include "core/json_doc.h"
#include "server/http.h"

/* The body as a JSON object in `d` (release it in every case). */
int change_parse_body(struct http_request *req, struct json_doc *d);
/* A string member of at most `max` bytes (json_field_str), copied into the
 * request's arena; *out NULL when absent. */
int change_body_str(struct http_request *req, const struct json *o, const char *key, size_t max, int required,
		    const char **out);
/* A percentage parameter ("10%" or "10"; `def` percent when absent) as a
 * fraction. */
int change_parse_percent(struct http_request *req, const char *name, double def, double *out);

#endif
