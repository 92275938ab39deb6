/*
 * spanset.c - the traces that satisfy a span query, from one pass over
 * their spans (see spanset.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/strmap.h"
#include "query/spanset.h"

#define IDS_FIRST 1024

void spanset_init(struct spanset *set, const struct spanql *q, const struct spanql_ctx *ctx, size_t max)
{
	memset(set, 0, sizeof(*set));
	set->q = q;
	set->ctx = ctx;
	set->max = max ? max : SPANSET_MAX_TRACES;
	idmap_init(&set->ids, IDS_FIRST);
}

int spanset_add(struct spanset *set, const struct span *sp)
{
	uint64_t mask;
	uint32_t *slot;
	if (!set->q || set->too_many)
		return set->too_many ? ERR_TOO_MUCH : 0;
	if (!(mask = spanql_span_mask(set->q, sp, set->ctx)))
		return 0; /* the same as a trace never met */
	if (!(slot = idmap_slot(&set->ids, sp->trace_id))) {
		idmap_grow(&set->ids, 2 * set->ids.max);
		slot = idmap_slot(&set->ids, sp->trace_id);
	}
	if (*slot == IDMAP_NONE) {
		if (set->n >= set->max) {
			set->too_many = 1;
			return ERR_TOO_MUCH;
		}
		set->masks = xgrow(set->masks, &set->cap, set->n + 1, sizeof(*set->masks));
		set->masks[set->n] = 0;
		*slot = (uint32_t)set->n++;
	}
	set->masks[*slot] |= mask;
	return 0;
}

int spanset_has(const struct spanset *set, const uint8_t trace_id[16])
{
	uint32_t i;
	if (!set->q)
		return 1;
	i = idmap_get(&set->ids, trace_id);
	return spanql_mask_match(set->q, i == IDMAP_NONE ? 0 : set->masks[i]);
}

void spanset_release(struct spanset *set)
{
	idmap_release(&set->ids);
	free(set->masks);
	memset(set, 0, sizeof(*set));
}

static int add_trace(void *arg, const struct span *spans, size_t n)
{
	struct spanset *set = arg;
	for (size_t i = 0; i < n; i++)
		if (spanset_add(set, &spans[i]) < 0)
			return 1;
	return 0;
}

int spanset_build(struct spanset *set, struct store *st, const struct spanset_scan *sc, char *err,
		  size_t errlen)
{
	struct store_scan ss = {.from_ns = sc->from_ns,
				.to_ns = sc->to_ns,
				.keep_trace = sc->keep_trace,
				.keep_trace_arg = sc->keep_trace_arg};
	if (!set->q)
		return 0;
	if (store_scan(st, &ss, add_trace, set, err, errlen) < 0)
		return -1;
	if (set->too_many) {
		errf(err, errlen, "more than %zu traces have a span the query selects", set->max);
		return ERR_TOO_MUCH;
	}
	return 0;
}

static int row_trace(void *arg, const uint8_t trace_id[16])
{
	int64_t v;
	return strmap_get(arg, trace_id, 16, &v) == 0;
}

int spanset_of_rows(struct spanset *set, struct store *st, const struct request_row *rows, size_t n,
		    char *err, size_t errlen)
{
	struct strmap traces;
	struct spanset_scan sc = {.from_ns = UINT64_MAX, .keep_trace = row_trace, .keep_trace_arg = &traces};
	int rc;
	if (!set->q || !n)
		return 0;
	strmap_init(&traces);
	for (size_t i = 0; i < n; i++) {
		uint64_t end = rows[i].start_ns + rows[i].duration_ns + 1;
		strmap_put(&traces, rows[i].trace_id, 16, 1);
		sc.from_ns = rows[i].start_ns < sc.from_ns ? rows[i].start_ns : sc.from_ns;
		sc.to_ns = end > sc.to_ns ? end : sc.to_ns;
	}
	rc = spanset_build(set, st, &sc, err, errlen);
	strmap_release(&traces);
	return rc;
}
