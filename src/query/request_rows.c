/*
 * request_rows.c - the request rows of a selection: filters, then q= on
 * the traces' spans (see request_rows.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "query/perfmarks.h"
#include "query/request_rows.h"
#include "query/slowreqs.h"
#include "query/spanset.h"

int request_rows_match(struct store *st, const struct spanql *ql, const struct request_row *rows, size_t n,
		       uint8_t *matched, char *err, size_t errlen)
{
	struct perfmarks marks;
	struct spanset set;
	uint64_t lo = UINT64_MAX, hi = 0;
	int rc;
	memset(matched, 0, n);
	for (size_t i = 0; i < n; i++) {
		uint64_t end = rows[i].start_ns + rows[i].duration_ns + 1;
		lo = rows[i].start_ns < lo ? rows[i].start_ns : lo;
		hi = end > hi ? end : hi;
	}
	if ((rc = perfmarks_open(&marks, st, ql, n ? lo : 0, hi, err, errlen)) == 0) {
		spanset_init(&set, ql, perfmarks_ctx(&marks), 0);
		if ((rc = spanset_of_rows(&set, st, rows, n, err, errlen)) == 0)
			for (size_t i = 0; i < n; i++)
				matched[i] = (uint8_t)spanset_has(&set, rows[i].trace_id);
		spanset_release(&set);
	}
	perfmarks_release(&marks);
	return rc == 0 ? 0 : rc == ERR_TOO_MUCH ? ERR_TOO_MUCH : ERR_INTERNAL;
}

/* Keep the rows of the traces `ql` selects, in order. */
static int filter_rows_q(struct store *st, const struct spanql *ql, struct request_row *rows, size_t *n,
			 char *err, size_t errlen)
{
	if (!ql || !*n)
		return 0;
	uint8_t *matched = xmalloc(*n);
	int rc = request_rows_match(st, ql, rows, *n, matched, err, errlen);
	if (rc == 0) {
		size_t k = 0;
		for (size_t i = 0; i < *n; i++)
			if (matched[i])
				rows[k++] = rows[i];
		*n = k;
	}
	free(matched);
	return rc;
}

int request_rows_select(struct store *st, const struct store_query *q, const struct spanql *ql,
			struct arena *a, struct request_row **rows, size_t *n, char *err, size_t errlen)
{
	int rc = slowreqs_search(st, q, a, rows, n, err, errlen);
	if (rc == ERR_BUSY) /* not from the kept slow requests: from the store */
		rc = store_search(st, q, a, rows, n, err, errlen);
	if (rc < 0)
		return ERR_INTERNAL;
	return filter_rows_q(st, ql, *rows, n, err, errlen);
}

/* Rows were read one past the limit: keep `limit`, less the last trace's
 * when the limit cuts through it (unless that is all there is). */
static void drop_cut_trace(const struct request_row *rows, size_t *n, unsigned limit)
{
	if (*n <= limit || !limit)
		return;
	const uint8_t *cut = rows[limit - 1].trace_id;
	size_t k = limit;
	if (!memcmp(rows[limit].trace_id, cut, 16))
		while (k > 0 && !memcmp(rows[k - 1].trace_id, cut, 16))
			k--;
	*n = k ? k : limit;
}

int request_rows_cover(struct store *st, struct store_query *q, struct arena *a, struct request_cover *cov,
		       struct request_row **rows, size_t *n, char *err, size_t errlen)
{
	if (store_count(st, q, &cov->in_range, err, errlen) < 0)
		return ERR_INTERNAL;
	cov->sampled = cov->in_range > q->limit;
	q->order = cov->sampled ? STORE_BY_TRACE : STORE_NEWEST;
	q->limit += cov->sampled;
	int rc = store_search(st, q, a, rows, n, err, errlen);
	q->limit -= cov->sampled;
	if (rc < 0)
		return ERR_INTERNAL;
	drop_cut_trace(*rows, n, q->limit);
	return 0;
}
