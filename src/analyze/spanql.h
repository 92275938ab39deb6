/*
 * spanql.h - the span query language behind the API's `q=` parameter.
 *
 * A filter language over the spans of a trace, spelled like Grafana
 * Tempo's TraceQL where the two overlap.  A query is a boolean combination
 * (&&, ||, !, parentheses; AND and OR as aliases) of spansets `{ expr }`,
 * each a condition on one span and its resource; a trace satisfies a
 * spanset when one of its spans does.  A query without braces is one
 * spanset:
 *
 *     { span.gen_ai.usage.input_tokens > 4000 } && { status = error }
 *     name =~ "SELECT.*" || (kind = server && status = error)
 *
 * docs/QUERY.md is the user documentation (grammar, type rules, limits).
 * This module owns parsing a query into a compiled form and evaluating it
 * against one span (which spansets it satisfies: a bit mask) and combining
 * the masks of a trace's spans.  It does not know about the store, HTTP or
 * where derived attributes come from: a caller that has some (the
 * performance.* marks of src/query/perfmarks.h) passes them through a
 * struct spanql_ctx.  Pipelines and trace:* intrinsics are not supported.
 *
 * Ownership: spanql_parse() returns a query the caller owns and releases
 * with spanql_free().  The query keeps no pointer into `text`.  Matching
 * only reads the span and the query, so one compiled query may be matched
 * from several threads at once (glibc's regexec() locks internally); the
 * context's callback must allow that too.
 */
#ifndef HOTPATH_ANALYZE_SPANQL_H
#define HOTPATH_ANALYZE_SPANQL_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/batch.h"

/* Limits on untrusted query text. */
#define SPANQL_MAX_LEN	 4096 /* bytes */
#define SPANQL_MAX_DEPTH 64   /* nested '(', '!' and '{' */
#define SPANQL_MAX_NODES 256  /* conditions, '&&', '||', '!' */
#define SPANQL_MAX_REGEX 256  /* bytes of one regular expression */
#define SPANQL_MAX_SETS	 64   /* spansets: the bits of a mask */

struct spanql;

/*
 * Compile `text` (NUL-terminated).  An empty query, blank or `{}`, matches
 * every span.  Returns 0 and the query in *out, or -1 with *out = NULL and
 * a message naming the 1-based column (in characters) and what was
 * expected, e.g. "column 14: expected a value after '>'".
 */
int spanql_parse(const char *text, struct spanql **out, char *err, size_t errlen);

/*
 * Attributes a span does not carry but a caller can derive.  `attr` is
 * asked for `key` (without its scope) only when the span has no attribute
 * of that name; it fills *out (key aside) and returns 1, or returns 0 when
 * the span has no such value either.  `.key` asks it before the resource.
 */
struct spanql_ctx {
	int (*attr)(void *arg, const struct span *s, const char *key, struct attr *out);
	void *arg;
};

/* 1 when the trace made of span `s` alone satisfies the query (for a query
 * without braces: when `s` does), else 0.  `s->resource` may be NULL. */
int spanql_match(const struct spanql *q, const struct span *s);

/* 1 when the trace of spans[0 .. n) satisfies the query.  `ctx` may be NULL. */
int spanql_match_trace(const struct spanql *q, const struct span *spans, size_t n,
		       const struct spanql_ctx *ctx);

/*
 * The building blocks of spanql_match_trace() for a reader that meets a
 * trace's spans one at a time (a store scan): OR the masks of its spans,
 * then ask spanql_mask_match() once the trace is complete.  Bit k of a mask
 * is spanset k (in the order of the text); a NULL query has one set that
 * every span satisfies.
 */
unsigned spanql_n_sets(const struct spanql *q);
uint64_t spanql_span_mask(const struct spanql *q, const struct span *s, const struct spanql_ctx *ctx);
int spanql_mask_match(const struct spanql *q, uint64_t mask);

/* Whether a comparison reads a span attribute (span.<key> or .<key>) whose
 * key starts with `prefix`: what a caller may need to prepare. */
int spanql_uses_key(const struct spanql *q, const char *prefix);

/* Release everything the query holds, and the query.  NULL is fine. */
void spanql_free(struct spanql *q);

#endif
