/*
 * slowreqs.h - the slow requests (STORE_SLOW_NS or longer) of the newest
 * SLOWREQS_KEEP_NS, kept in memory in slowest-first order as they are
 * written: what a slowest-first selection of request rows reads instead of
 * the store's slow index (GET /api/v1/slow-requests counts up to 50,000 of
 * them in each answer).
 *
 * The rows are the store's own (store_slow_since(): every column, and the
 * number that breaks ties), so a selection answers exactly what
 * store_search() would.  They are read by number, each once: all of them
 * when the list is first filled (slowreqs_update() from the background job
 * of query/opstats.h), then the ones written since, and a selection first
 * reads those committed since the last update, so it covers every row
 * committed before it.
 *
 * Kept: the rows starting in the SLOWREQS_KEEP_NS before the newest start
 * seen; a range that starts earlier, or a selection the list cannot answer
 * (not slowest first, shorter than STORE_SLOW_NS, before the first fill, a
 * backend without write numbers), answers ERR_BUSY and the caller reads
 * the store.  Past SLOWREQS_MAX_ROWS rows, only the newest are kept (the
 * list then covers less than SLOWREQS_KEEP_NS).  Rows starting before the oldest request still stored are
 * left out of a selection: retention deleted them from the store.  About
 * 80 bytes a slow request.
 *
 * Thread-safe: one process-wide list, for the store of the last update.
 */
#ifndef HOTPATH_QUERY_SLOWREQS_H
#define HOTPATH_QUERY_SLOWREQS_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "store/store.h"

#define SLOWREQS_KEEP_NS (48ull * 3600ull * 1000000000ull)
/* Rows kept at most (80 bytes each: 160 MB): past it, only the newest. */
#define SLOWREQS_MAX_ROWS 2000000

/*
 * Read the slow rows written since the last update of `s` (all of them the
 * first time, or after another store).  0, ERR_UNSUPPORTED (the backend
 * has no write numbers: the list stays empty), or ERR_INTERNAL with a
 * message.
 */
int slowreqs_update(struct store *s, char *err, size_t errlen);

/* Forget the list. */
void slowreqs_reset(void);

/*
 * The rows of `s` matching `q` (every filter of struct store_query; order
 * STORE_SLOWEST, q->limit of them), as store_search() returns them: rows
 * and strings in `a`.  Reads the rows committed since the last update
 * first.  ERR_BUSY: not answerable from the list (see above); the caller
 * reads the store.  Other < 0: error with a message.
 */
int slowreqs_search(struct store *s, const struct store_query *q, struct arena *a, struct request_row **rows,
		    size_t *n, char *err, size_t errlen);

/* Keep at most `max_rows` rows (0: SLOWREQS_MAX_ROWS), the newest by
 * start, from the next rebuild on; a range starting before the rows kept
 * reads the store. */
void slowreqs_limit(size_t max_rows);

/* The slow rows kept, and the start the list covers from (0: not filled). */
void slowreqs_info(size_t *n, uint64_t *from_ns);

#endif
