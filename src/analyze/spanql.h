/*
 * spanql.h - the span query language behind the API's `q=` parameter.
 *
 * A small filter language over one span and its resource, spelled like
 * Grafana Tempo's TraceQL where the two overlap:
 *
 *     { duration > 500ms && resource.service.name = "checkout" }
 *     name =~ "SELECT.*" || (kind = server && status = error)
 *
 * docs/QUERY.md is the user documentation (grammar, type rules, limits).
 * This module owns parsing a query into a compiled form and evaluating it
 * against one span; it does not know about the store, HTTP or trace-level
 * conditions (TraceQL spanset operators, pipelines, trace:* intrinsics).
 *
 * Ownership: spanql_parse() returns a query the caller owns and releases
 * with spanql_free().  The query keeps no pointer into `text`.  spanql_match()
 * only reads the span and the query, so one compiled query may be matched
 * from several threads at once (glibc's regexec() locks internally).
 */
#ifndef HOTPATH_ANALYZE_SPANQL_H
#define HOTPATH_ANALYZE_SPANQL_H

#include <stddef.h>

#include "ingest/batch.h"

/* Limits on untrusted query text. */
#define SPANQL_MAX_LEN	 4096 /* bytes */
#define SPANQL_MAX_DEPTH 64   /* nested '(', '!' and '{' */
#define SPANQL_MAX_NODES 256  /* conditions, '&&', '||', '!' */
#define SPANQL_MAX_REGEX 256  /* bytes of one regular expression */

struct spanql;

/*
 * Compile `text` (NUL-terminated).  An empty query, blank or `{}`, matches
 * every span.  Returns 0 and the query in *out, or -1 with *out = NULL and
 * a message naming the 1-based column (in characters) and what was
 * expected, e.g. "column 14: expected a value after '>'".
 */
int spanql_parse(const char *text, struct spanql **out, char *err, size_t errlen);

/* 1 when span `s` satisfies the query, else 0.  `s->resource` may be NULL. */
int spanql_match(const struct spanql *q, const struct span *s);

/* Release everything the query holds, and the query.  NULL is fine. */
void spanql_free(struct spanql *q);

#endif
