/*
 * request_trees.h - the span trees of request rows: the spans of the rows'
 * traces read from the store, and each request handed on as its own
 * subtree, ready for the analyses (slow-operation phases and statistics,
 * the bottleneck ranking).
 *
 * A load reads the traces of the rows (request_rows.h) in one scan of
 * their time span, from the earliest start to the latest end (or trace by
 * trace through store_get_trace() when there are few), so a trace whose
 * spans came in several writes is read whole.  Of each span it keeps a
 * slim copy: ids, kind, status, times, name, service and server.address
 * (strings interned once in the caller's arena), its slow-operation class
 * (analyze/slowops.h) and, when asked, its bottleneck description
 * (analyze/bottleneck.h), taken while the span's attributes are at hand.
 * Then, trace by trace, it builds the tree (analyze/spantree.h), settles
 * the remote calls (slowops_resolve()), and hands on every row's request
 * that is not nested in another row's request of the same trace (unless
 * `all_entries`) as the subtree under its entry span.
 *
 * With a span query (`ql`), only the traces it selects are handed on,
 * judged from the spans read (no scan of their own).
 *
 * This module owns reading the rows' spans and shaping them into trees; it
 * does not choose the rows (request_rows.h), nor analyse or print.
 *
 * Bounds: a load keeps at most `max_spans` spans (REQUEST_TREES_MAX_SPANS
 * by default) and fails past it, before calling anything.
 *
 * Ownership: struct request_trees is the caller's (request_trees_init(),
 * request_trees_release()).  The strings of the spans handed on (names,
 * services, peers, bottleneck labels) live in the arena given at init and
 * outlive the load; the spans, trees, classes and descriptions handed to
 * the callbacks live only during the call.  The store, thresholds, span
 * query and rows must outlive the load.
 *
 * Threading: a load runs in the caller's thread and calls the callbacks
 * there; one struct serves one load at a time.  Loads on separate structs
 * may run at once (the store's reads are concurrent).
 */
#ifndef HOTPATH_QUERY_REQUEST_TREES_H
#define HOTPATH_QUERY_REQUEST_TREES_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "analyze/bottleneck.h"
#include "analyze/slowops.h"
#include "analyze/spanql.h"
#include "analyze/spantree.h"
#include "core/arena.h"
#include "core/strmap.h"
#include "query/perfmarks.h"
#include "store/store.h"

/* A span's call to a service seen from this long before the range counts
 * as a call within the fleet. */
#define REQUEST_TREES_SERVICES_LOOKBACK_NS (86400ull * 1000000000ull)

/* Spans one load keeps at most, by default. */
#define REQUEST_TREES_MAX_SPANS 2000000

/* Errors of request_trees_load(), with a message in `err`. */

/*
 * A request handed on: `row` is rows[row_index]; `t` its subtree (the
 * request's entry span is the root, t->spans[0]); cls[i] the class of
 * t->spans[i], remote calls settled; desc[i] its description when the load
 * describes spans, else desc is NULL.  The spans carry their name, times,
 * kind, status, ids, a resource with the service name and, when the span
 * had one, the server.address attribute alone.
 */
typedef void (*request_trees_fn)(void *arg, const struct request_row *row, size_t row_index,
				 const struct spantree *t, const struct slowops_class *cls,
				 const struct bottleneck_span *desc);
/*
 * The entry span of rows[row_index] as stored, with all its attributes,
 * while it is read (before the trees are built, whether or not q= selects
 * its trace); `cls` its class before remote calls are settled.
 */
typedef void (*request_trees_entry_fn)(void *arg, size_t row_index, const struct span *sp,
				       const struct slowops_class *cls);

struct request_trees_span; /* a span kept (request_trees.c) */

struct request_trees {
	/* What to load: set after request_trees_init(), before the load. */
	const struct spanql *ql;	 /* only the traces it selects (NULL: all) */
	int describe;			 /* describe each span for the bottleneck ranking */
	int all_entries;		 /* also hand on requests nested in another row's */
	int per_trace;			 /* read trace by trace (few rows) instead of one scan */
	size_t max_spans;		 /* 0: REQUEST_TREES_MAX_SPANS */
	request_trees_entry_fn on_entry; /* NULL: none; called with the load's `arg` */

	/* What the load found. */
	size_t requests; /* handed on */
	size_t nested;	 /* rows whose request is nested in another row's */
	size_t matched;	 /* rows of the traces q= selects (all rows without q=) */

	/* Private. */
	struct store *store;
	const struct slowops_config *cfg;
	struct arena *arena;
	const struct request_row *rows;
	size_t n_rows;
	struct strmap services; /* known service names */
	struct strmap traces;	/* trace id -> number */
	struct strmap entries;	/* trace id + span id -> row */
	const uint8_t **trace_ids;
	size_t n_traces;
	struct strmap strs; /* interned strings, in `arena` */
	struct request_trees_span *kept;
	size_t n, cap;
	int too_many;
	void *arg;
	struct arena scratch;
	struct perfmarks marks;
	uint64_t *masks; /* with ql: per trace number, the spansets its spans satisfy */
};

/* Ready to load the requests of `st` with the thresholds `cfg` (read at the
 * load, so they may be filled in between); interned strings go to `a`. */
void request_trees_init(struct request_trees *rt, struct store *st, const struct slowops_config *cfg,
			struct arena *a);
/*
 * Load the requests of `rows` and hand each on to `fn` (see above), trace
 * by trace in the order the rows first name them, within a trace by the
 * start of the entry span.  A span's call to a service seen in [q->from_ns
 * - 1 day, q->to_ns) counts as a call within the fleet.  0, or a
 * REQUEST_TREES_E* code with a message (no request handed on then, though
 * on_entry may have been called).  Once per struct.
 */
int request_trees_load(struct request_trees *rt, const struct store_query *q, const struct request_row *rows,
		       size_t n_rows, request_trees_fn fn, void *arg, char *err, size_t errlen);
void request_trees_release(struct request_trees *rt);

#endif
