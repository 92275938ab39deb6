/*
 * prepared.h - a write as store_prepare() leaves it, for every backend:
 * the spans cut into encoded blocks by trace (block.h), one request row
 * per entry span, the metric points in the batch; or one record (a
 * document, event or profile).  Internal to src/store; the interface is
 * store.h.  Ownership: the write owns its batch, blocks and rows.
 */
#ifndef HOTPATH_STORE_PREPARED_H
#define HOTPATH_STORE_PREPARED_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/batch.h"
#include "store/store.h"

struct prepared_block {
	char *data;
	size_t len;
	size_t n_spans;
	uint64_t t_min, t_max;
	int64_t *traces; /* distinct trace keys */
	size_t n_traces;
};

struct prepared_request {
	struct request_row row;
	const char *error_type;
	size_t block; /* index into blocks */
};

/* A document, event or profile: written alone, by the store_put_*() calls. */
enum record_type { REC_DOC, REC_EVENT, REC_PROFILE, REC_AGGS, REC_DEL_DOCS };

struct record {
	enum record_type type;
	struct store_record r; /* REC_DOC, REC_EVENT */
	struct profile_row p;  /* REC_PROFILE; folded holds the compressed stacks */
	int64_t id;	       /* the profile's id, set by the writer */
	/* REC_AGGS: rows put in one transaction, after deleting all when replace_all */
	const struct store_agg *aggs;
	size_t n_aggs;
	int replace_all;
	/* REC_DEL_DOCS: the documents (r.kind, ids[i]) deleted */
	const char *const *ids;
	size_t n_ids;
};

struct store_write {
	struct batch batch; /* owns the strings the rows point to */
	struct record *rec; /* in the batch's arena, or NULL */
	struct prepared_block *blocks;
	size_t n_blocks;
	struct prepared_request *reqs;
	size_t n_reqs;
	size_t bytes; /* queue accounting */
	store_done_fn done;
	void *done_arg;
	struct store_write *next;
};

/* The first (or last) 8 bytes of an id as the big-endian integer the
 * trace index and request rows keep. */
static inline int64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

static inline void put_be64(uint8_t *p, int64_t sv)
{
	uint64_t v = (uint64_t)sv;
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

#endif
