/*
 * opstats.c - per-minute operation statistics kept as blocks are
 * committed (opstats.h): the buckets, the block reader that fills them,
 * the background job and the read of a range.
 */
#include "query/opstats.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#include "analyze/spantree.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/strmap.h"
#include "core/ticker.h"
#include "ingest/semconv.h"
#include "query/slowreqs.h"

/* The longest key text kept apart (a service, an environment, or both). */
#define KEY_TEXT_MAX 520

/* Blocks the job reads at a time, so a read waits for at most one step. */
#define JOB_STEP_BLOCKS 64
/* During a long catch-up, what is built is stored this often, so that a
 * stop loses at most about twice this much of the work (a start goes on
 * from it): a save is left out when the rest of the catch-up should take
 * less than this, its end saving everything soon after.  On a store whose
 * writes each cover the whole range, a save rewrites nearly every row, and
 * one more than needed cost a quarter of the catch-up. */
#define JOB_SAVE_EVERY_NS (60ull * 1000000000ull)

/* A sketch in its compact binary form (sketch_encode()). */
struct blob {
	char *p;
	size_t len;
};

struct bucket {
	uint64_t minute;
	uint64_t requests, spans;
	struct sketch *t; /* one per slot, while a delta is built */
	struct blob *enc; /* one per slot once kept: a sketch holds a few
			   * kilobytes of counts, its encoding a few hundred bytes */
	uint8_t dirty;	  /* changed since last stored */
};

/* Buckets sorted by minute. */
struct buckets {
	struct bucket *b;
	size_t n, cap, n_slots;
	int encoded; /* buckets hold enc, not t */
	size_t last; /* the bucket found last: spans of a block mostly share it */
};

/* Rankings of bottlenecks per OPSTATS_BN_BUCKET_NS, sorted by slot. */
struct bn_bucket {
	uint64_t slot;
	struct bottleneck *bn; /* not finished */
	uint8_t dirty;
};
struct bn_buckets {
	struct bn_bucket *b;
	size_t n, cap, last;
};

/*
 * Per OPSTATS_BN_BUCKET_NS and key (a service or an environment): the
 * requests whose entry span is the top-most of that key in its trace part
 * (no entry span above it has the same service, or environment), each with
 * its descendants, as the span-read answer with service= or env= takes
 * them.  A span under requests of several keys counts for each.
 */
struct kbucket {
	uint64_t slot;
	uint32_t key;
	uint64_t requests, spans;
	struct sketch *t;      /* one per stats slot, while a delta is built */
	struct blob *enc;      /* one per stats slot once kept */
	struct bottleneck *bn; /* not finished, while a delta is built */
	struct blob bn_enc;    /* once kept: bottleneck_encode()d, compacted (a
				* ranking's live form is ten times its encoding) */
	uint8_t dirty;
};

/* Sorted by (slot, key). */
struct kbuckets {
	struct kbucket *b;
	size_t n, cap, last, n_slots;
	int encoded;
};

/* Keys: 'S' or 'E' and the service or environment, or 'P' and a pair of
 * them (pair_text()), numbered from 1.  At most OPSTATS_MAX_PAIRS pairs:
 * once one more was seen (`pairs_full`, kept with the state row), no pair
 * is added, and a pair without a number is read from the spans. */
static struct {
	pthread_mutex_t mu;
	struct strmap no;
	uint32_t n, n_pairs;
	int pairs_full;
	char **text; /* text[k - 1]: key k's */
	size_t cap;
} keys = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct {
	pthread_mutex_t mu;  /* everything below */
	pthread_mutex_t upd; /* one update at a time */
	struct store *store;
	uint64_t read_id; /* blocks with ids <= read_id are in */
	char *rules;	  /* the custom type rules the buckets were built with */
	uint64_t newest;  /* the newest minute seen */
	struct buckets kept;
	struct bn_buckets kept_bn;
	struct kbuckets kept_kb;
	int stopping;
	int loaded;	       /* the stored aggregates were looked for */
	int replace_all;       /* the stored ones are void: replace them at the next save */
	int no_save;	       /* the store keeps no aggregates */
	uint64_t covered_from; /* the first minute the stored rows cover; UINT64_MAX: not yet set */
	size_t loaded_rows;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .upd = PTHREAD_MUTEX_INITIALIZER};

static struct ticker job = TICKER_INIT;

/* ---- buckets ------------------------------------------------------------------- */

static void bucket_release(struct bucket *b, size_t n_slots)
{
	for (size_t k = 0; b->t && k < n_slots; k++)
		sketch_release(&b->t[k]);
	for (size_t k = 0; b->enc && k < n_slots; k++)
		free(b->enc[k].p);
	free(b->t);
	free(b->enc);
}

static void buckets_release(struct buckets *bs)
{
	int encoded = bs->encoded;
	for (size_t i = 0; i < bs->n; i++)
		bucket_release(&bs->b[i], bs->n_slots);
	free(bs->b);
	memset(bs, 0, sizeof(*bs));
	bs->encoded = encoded;
}

/* The bucket of `minute`, added (empty) when missing. */
static struct bucket *bucket_of(struct buckets *bs, uint64_t minute)
{
	if (bs->last < bs->n && bs->b[bs->last].minute == minute)
		return &bs->b[bs->last];
	size_t lo = 0, hi = bs->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (bs->b[mid].minute < minute)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == bs->n || bs->b[lo].minute != minute) {
		bs->b = xgrow(bs->b, &bs->cap, bs->n + 1, sizeof(*bs->b));
		memmove(&bs->b[lo + 1], &bs->b[lo], (bs->n - lo) * sizeof(*bs->b));
		bs->n++;
		struct bucket *nb = &bs->b[lo];
		memset(nb, 0, sizeof(*nb));
		nb->minute = minute;
		if (bs->encoded) {
			nb->enc = xcalloc(bs->n_slots ? bs->n_slots : 1, sizeof(*nb->enc));
		} else {
			nb->t = xcalloc(bs->n_slots ? bs->n_slots : 1, sizeof(*nb->t));
			for (size_t k = 0; k < bs->n_slots; k++)
				sketch_init(&nb->t[k]);
		}
	}
	bs->last = lo;
	return &bs->b[lo];
}

/* Drop the buckets before minute `first`. */
static void buckets_prune(struct buckets *bs, uint64_t first)
{
	size_t k = 0;
	while (k < bs->n && bs->b[k].minute < first)
		bucket_release(&bs->b[k++], bs->n_slots);
	if (!k)
		return;
	memmove(bs->b, bs->b + k, (bs->n - k) * sizeof(*bs->b));
	bs->n -= k;
	bs->last = 0;
}

static void bn_buckets_release(struct bn_buckets *bs)
{
	for (size_t i = 0; i < bs->n; i++) {
		bottleneck_release(bs->b[i].bn);
		free(bs->b[i].bn);
	}
	free(bs->b);
	memset(bs, 0, sizeof(*bs));
}

static struct bottleneck *bn_bucket_of(struct bn_buckets *bs, uint64_t slot)
{
	if (bs->last < bs->n && bs->b[bs->last].slot == slot)
		return bs->b[bs->last].bn;
	size_t lo = 0, hi = bs->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (bs->b[mid].slot < slot)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == bs->n || bs->b[lo].slot != slot) {
		bs->b = xgrow(bs->b, &bs->cap, bs->n + 1, sizeof(*bs->b));
		memmove(&bs->b[lo + 1], &bs->b[lo], (bs->n - lo) * sizeof(*bs->b));
		bs->n++;
		bs->b[lo].slot = slot;
		bs->b[lo].bn = xmalloc(sizeof(struct bottleneck));
		bottleneck_init(bs->b[lo].bn);
	}
	bs->last = lo;
	return bs->b[lo].bn;
}

static void bn_buckets_prune(struct bn_buckets *bs, uint64_t first)
{
	size_t k = 0;
	while (k < bs->n && bs->b[k].slot < first) {
		bottleneck_release(bs->b[k].bn);
		free(bs->b[k].bn);
		k++;
	}
	if (!k)
		return;
	memmove(bs->b, bs->b + k, (bs->n - k) * sizeof(*bs->b));
	bs->n -= k;
	bs->last = 0;
}

static void kbuckets_release(struct kbuckets *ks)
{
	for (size_t i = 0; i < ks->n; i++) {
		struct kbucket *k = &ks->b[i];
		for (size_t j = 0; k->t && j < ks->n_slots; j++)
			sketch_release(&k->t[j]);
		for (size_t j = 0; k->enc && j < ks->n_slots; j++)
			free(k->enc[j].p);
		free(k->t);
		free(k->enc);
		if (k->bn)
			bottleneck_release(k->bn);
		free(k->bn);
		free(k->bn_enc.p);
	}
	free(ks->b);
	size_t n_slots = ks->n_slots;
	int encoded = ks->encoded;
	memset(ks, 0, sizeof(*ks));
	ks->n_slots = n_slots;
	ks->encoded = encoded;
}

static int kb_before(const struct kbucket *b, uint64_t slot, uint32_t key)
{
	return b->slot < slot || (b->slot == slot && b->key < key);
}

/* The bucket of (slot, key), added (empty) when missing. */
static struct kbucket *kbucket_of(struct kbuckets *ks, uint64_t slot, uint32_t key)
{
	if (ks->last < ks->n && ks->b[ks->last].slot == slot && ks->b[ks->last].key == key)
		return &ks->b[ks->last];
	size_t lo = 0, hi = ks->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (kb_before(&ks->b[mid], slot, key))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == ks->n || ks->b[lo].slot != slot || ks->b[lo].key != key) {
		ks->b = xgrow(ks->b, &ks->cap, ks->n + 1, sizeof(*ks->b));
		memmove(&ks->b[lo + 1], &ks->b[lo], (ks->n - lo) * sizeof(*ks->b));
		ks->n++;
		struct kbucket *k = &ks->b[lo];
		memset(k, 0, sizeof(*k));
		k->slot = slot;
		k->key = key;
		size_t n = ks->n_slots ? ks->n_slots : 1;
		if (ks->encoded) {
			k->enc = xcalloc(n, sizeof(*k->enc));
		} else {
			k->t = xcalloc(n, sizeof(*k->t));
			for (size_t j = 0; j < ks->n_slots; j++)
				sketch_init(&k->t[j]);
		}
		if (!ks->encoded) {
			k->bn = xmalloc(sizeof(*k->bn));
			bottleneck_init(k->bn);
		}
	}
	ks->last = lo;
	return &ks->b[lo];
}

static void kbuckets_prune(struct kbuckets *ks, uint64_t first)
{
	struct kbuckets old = *ks;
	size_t k = 0;
	while (k < ks->n && ks->b[k].slot < first)
		k++;
	if (!k)
		return;
	old.n = k;
	old.b = xmalloc(k * sizeof(*old.b));
	memcpy(old.b, ks->b, k * sizeof(*old.b));
	kbuckets_release(&old);
	memmove(ks->b, ks->b + k, (ks->n - k) * sizeof(*ks->b));
	ks->n -= k;
	ks->last = 0;
}

/* The number of the key text `tmp` (len bytes); added when missing and
 * `add` (a pair only while fewer than OPSTATS_MAX_PAIRS are kept).  0:
 * none. */
static uint32_t key_lookup(const char *tmp, size_t len, int add)
{
	int64_t no = 0;
	pthread_mutex_lock(&keys.mu);
	if (!keys.n && !add) {
		pthread_mutex_unlock(&keys.mu);
		return 0;
	}
	if (!keys.n)
		strmap_init(&keys.no);
	if (strmap_get(&keys.no, tmp, len, &no) < 0 && add) {
		int pair = tmp[0] == 'P';
		if (pair && (keys.pairs_full || keys.n_pairs >= OPSTATS_MAX_PAIRS)) {
			keys.pairs_full = 1;
			pthread_mutex_unlock(&keys.mu);
			return 0;
		}
		keys.text = xgrow(keys.text, &keys.cap, keys.n + 1, sizeof(*keys.text));
		keys.text[keys.n] = xstrdup(tmp);
		no = ++keys.n;
		keys.n_pairs += pair;
		strmap_put(&keys.no, tmp, len, no);
	}
	pthread_mutex_unlock(&keys.mu);
	return (uint32_t)no;
}

/* The text of the key of a service and an environment (`env` NULL: a
 * service's, `svc` NULL: an environment's, both: their pair's, as
 * "P<length of svc>:<svc><env>").  Its length, or 0 when none or too long
 * for `cap` (such a name is not kept apart). */
static size_t key_text_of(char *tmp, size_t cap, const char *svc, const char *env)
{
	int len;
	if (svc && env)
		len = snprintf(tmp, cap, "P%zu:%s%s", strlen(svc), svc, env);
	else if (svc || env)
		len = snprintf(tmp, cap, "%c%s", svc ? 'S' : 'E', svc ? svc : env);
	else
		return 0;
	return len < 0 || (size_t)len >= cap ? 0 : (size_t)len;
}

/* The number of the key of `svc` and `env` (as key_text_of()); added when
 * missing and `add`.  0: none. */
static uint32_t key_number(const char *svc, const char *env, int add)
{
	char tmp[KEY_TEXT_MAX];
	size_t len = key_text_of(tmp, sizeof(tmp), svc, env);
	return len ? key_lookup(tmp, len, add) : 0;
}

/* ---- reading blocks ---------------------------------------------------------- */

/* The custom type rules as one string: buckets built with others are void. */
static char *rules_key(const struct slowops_config *c)
{
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	buf_printf(&b, "%zu", slowops_type_slots(c));
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct slowops_rule *r = &c->rules[i];
		buf_printf(&b, "\x1f%s\x1e%s\x1e%s\x1e%s", r->type, r->name_glob ? r->name_glob : "",
			   r->attr_key ? r->attr_key : "", r->attr_value ? r->attr_value : "");
	}
	size_t len;
	char *key = buf_detach(&b, &len);
	return key ? key : xstrdup("");
}

struct delta {
	const struct slowops_config *cfg;
	struct strmap services;
	struct arena arena, scratch;
	struct buckets bs;
	struct bn_buckets bn;
	struct slowops_class *cls;
	size_t cap;
	/* one request's spans, classes and descriptions */
	struct span *sub;
	struct slowops_class *sub_cls;
	struct bottleneck_span *sub_desc, *desc;
	size_t *order;
	uint8_t *in_request; /* per span of the trace part: under an entry root */
	size_t cap_sub, cap_desc, cap_order, cap_in;
	/* per service and environment */
	struct kbuckets kb;
	size_t *stack, *stack_keys; /* a walk of the part: span, keys above it */
	uint32_t *active;	    /* the keys of the requests above the span walked */
	size_t cap_stack, cap_stack_keys, cap_active;
};

static const uint8_t no_parent[8];

/* Rank into each of bns[0 .. n_bns) the request whose entry span is span r
 * of `t`: it and its descendants (marked in_request when `mark`), its
 * subtree and critical path made once for all. */
static void rank_request(struct delta *d, const struct spantree *t, size_t r, struct bottleneck *const *bns,
			 size_t n_bns, int mark)
{
	size_t n = 0;
	d->order = xgrow(d->order, &d->cap_order, t->n, sizeof(*d->order));
	d->order[n++] = r;
	for (size_t h = 0; h < n; h++)
		for (size_t k = t->kid_off[d->order[h]]; k < t->kid_off[d->order[h] + 1]; k++)
			d->order[n++] = t->kids[k];
	for (size_t i = 0; i < n && mark; i++)
		d->in_request[d->order[i]] = 1;
	if (d->cap_sub < n) {
		d->cap_sub = n;
		d->sub = xrealloc(d->sub, n * sizeof(*d->sub));
		d->sub_cls = xrealloc(d->sub_cls, n * sizeof(*d->sub_cls));
		d->sub_desc = xrealloc(d->sub_desc, n * sizeof(*d->sub_desc));
	}
	for (size_t i = 0; i < n; i++) {
		d->sub[i] = t->spans[d->order[i]];
		d->sub_cls[i] = d->cls[d->order[i]];
		d->sub_desc[i] = d->desc[d->order[i]];
	}
	struct spantree sub;
	spantree_build(&sub, d->sub, n);
	const struct span *root = &t->spans[r];
	const char *svc =
		root->resource && root->resource->service_name ? root->resource->service_name : "unknown";
	bottleneck_add_many(bns, n_bns, &sub, d->sub_cls, d->sub_desc, svc, root->trace_id);
	spantree_release(&sub);
}

/* Before the walk of a trace part: its spans described, none yet under a
 * request of the fleet. */
static void describe_part(struct delta *d, const struct spantree *t)
{
	d->in_request = xgrow(d->in_request, &d->cap_in, t->n, 1);
	memset(d->in_request, 0, t->n);
	arena_reset(&d->scratch);
	d->desc = xgrow(d->desc, &d->cap_desc, t->n, sizeof(*d->desc));
	for (size_t i = 0; i < t->n; i++)
		bottleneck_describe(&t->spans[i], &d->scratch, &d->desc[i]);
}

/*
 * Entry span i of `t` starts the requests of the keys of its service and
 * environment that no request above it has (active[0 .. *n_active)), and,
 * when it is a root of the part without a parent (an entry span at the
 * fleet's edge, as the request rows are), a request of the fleet, with
 * its descendants (marked in_request).  All are ranked at once.
 */
static void start_requests(struct delta *d, const struct spantree *t, size_t i, size_t *n_active)
{
	const struct span *sp = &t->spans[i];
	const struct resource *r = sp->resource;
	const char *svc = r && r->service_name ? r->service_name : "unknown",
		   *env = r ? r->environment : NULL;
	uint32_t ks[3] = {key_number(svc, NULL, 1), key_number(NULL, env, 1),
			  env ? key_number(svc, env, 1) : 0};
	struct bottleneck *bns[4];
	size_t n_bns = 0;
	int fleet = t->parent[i] == SPANTREE_NONE && memcmp(sp->parent_span_id, no_parent, 8) == 0;
	if (fleet)
		bns[n_bns++] = bn_bucket_of(&d->bn, sp->start_ns / OPSTATS_BN_BUCKET_NS);
	for (int f = 0; f < 3; f++) {
		size_t j = 0;
		while (j < *n_active && d->active[j] != ks[f])
			j++;
		if (!ks[f] || j < *n_active)
			continue;
		d->active = xgrow(d->active, &d->cap_active, *n_active + 1, sizeof(*d->active));
		d->active[(*n_active)++] = ks[f];
		struct kbucket *kb = kbucket_of(&d->kb, sp->start_ns / OPSTATS_BN_BUCKET_NS, ks[f]);
		kb->requests++;
		bns[n_bns++] = kb->bn;
	}
	if (n_bns)
		rank_request(d, t, i, bns, n_bns, fleet);
}

/* Count span i for the requests of active[0 .. n_active). */
static void count_keyed(struct delta *d, const struct spantree *t, size_t i, size_t n_active)
{
	const struct span *sp = &t->spans[i];
	for (size_t j = 0; j < n_active; j++) {
		struct kbucket *kb = kbucket_of(&d->kb, sp->start_ns / OPSTATS_BN_BUCKET_NS, d->active[j]);
		kb->spans++;
		if (d->cls[i].type != SLOWOPS_NONE && sp->end_ns >= sp->start_ns)
			sketch_add(&kb->t[slowops_type_slot(d->cfg, d->cls[i].type)],
				   (double)(sp->end_ns - sp->start_ns));
	}
}

/* Walk the part from its roots, depth first, keeping the keys of the
 * requests above each span. */
static void add_keyed(struct delta *d, const struct spantree *t)
{
	size_t top = 0;
	d->stack = xgrow(d->stack, &d->cap_stack, t->n, sizeof(*d->stack));
	d->stack_keys = xgrow(d->stack_keys, &d->cap_stack_keys, t->n, sizeof(*d->stack_keys));
	for (size_t k = t->n_roots; k-- > 0;) {
		d->stack[top] = t->roots[k];
		d->stack_keys[top++] = 0;
	}
	while (top) {
		size_t i = d->stack[--top], n_active = d->stack_keys[top];
		if (span_is_entry(&t->spans[i]))
			start_requests(d, t, i, &n_active);
		count_keyed(d, t, i, n_active);
		for (size_t k = t->kid_off[i + 1]; k-- > t->kid_off[i];) {
			d->stack[top] = t->kids[k];
			d->stack_keys[top++] = n_active;
		}
	}
}

static int add_trace(void *arg, const struct span *spans, size_t n)
{
	struct delta *d = arg;
	struct spantree t;
	d->cls = xgrow(d->cls, &d->cap, n, sizeof(*d->cls));
	for (size_t i = 0; i < n; i++)
		slowops_classify(d->cfg, &spans[i], &d->services, &d->cls[i]);
	spantree_build(&t, spans, n);
	slowops_resolve(&t, d->cls);
	describe_part(d, &t);
	add_keyed(d, &t);
	spantree_release(&t);
	for (size_t i = 0; i < n; i++) {
		const struct span *sp = &spans[i];
		if (!d->in_request[i])
			continue;
		struct bucket *b = bucket_of(&d->bs, sp->start_ns / OPSTATS_BUCKET_NS);
		b->spans++;
		b->requests += memcmp(sp->parent_span_id, no_parent, 8) == 0;
		if (d->cls[i].type != SLOWOPS_NONE && sp->end_ns >= sp->start_ns)
			sketch_add(&b->t[slowops_type_slot(d->cfg, d->cls[i].type)],
				   (double)(sp->end_ns - sp->start_ns));
	}
	return 0;
}

/* The fleet's services: a call addressed to one is http. */
static int read_services(struct store *s, struct delta *d, char *err, size_t errlen)
{
	const char **values;
	size_t n;
	if (store_values(s, DICT_SERVICE, 0, (uint64_t)INT64_MAX, &d->arena, &values, &n, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		strmap_put(&d->services, values[i], strlen(values[i]), 1);
	return 0;
}

/* Read blocks [first, last] into a delta. */
static int read_blocks(struct store *s, struct delta *d, uint64_t first, uint64_t last, char *err,
		       size_t errlen)
{
	if (read_services(s, d, err, errlen) < 0)
		return -1;
	struct store_scan sc = {.first_id = first, .last_id = last};
	return store_scan(s, &sc, add_trace, d, err, errlen);
}

/* dst's sketch with src's values added, encoded again. */
static void blob_merge(struct blob *dst, const struct sketch *src)
{
	struct sketch tmp;
	struct buf b;
	if (!sketch_count(src))
		return;
	sketch_init(&tmp);
	if (dst->len && sketch_merge_encoded(&tmp, dst->p, dst->len, NULL, 0) < 0)
		log_warn("operation statistics: a kept sketch does not decode");
	sketch_merge(&tmp, src);
	buf_init(&b, BUF_NO_LIMIT);
	sketch_encode(&tmp, &b);
	free(dst->p);
	dst->p = buf_detach(&b, &dst->len);
	sketch_release(&tmp);
}

/* dst's encoded ranking with src merged in, encoded again. */
static void bn_blob_merge(struct blob *dst, const struct bottleneck *src)
{
	struct bottleneck tmp;
	struct buf b;
	bottleneck_init(&tmp);
	if (dst->len && bottleneck_merge_encoded(&tmp, dst->p, dst->len, 0) < 0)
		log_warn("operation statistics: a kept ranking does not decode");
	bottleneck_merge(&tmp, src, 0);
	bottleneck_compact(&tmp);
	buf_init(&b, BUF_NO_LIMIT);
	bottleneck_encode(&tmp, &b);
	free(dst->p);
	dst->p = buf_detach(&b, &dst->len);
	bottleneck_release(&tmp);
}

/* Add the delta's buckets to the kept ones (g.mu held). */
static void merge_delta(struct delta *d)
{
	for (size_t i = 0; i < d->bs.n; i++)
		if (d->bs.b[i].minute > g.newest)
			g.newest = d->bs.b[i].minute;
	uint64_t keep = OPSTATS_KEEP_NS / OPSTATS_BUCKET_NS;
	uint64_t first = g.newest > keep ? g.newest - keep : 0;
	for (size_t i = 0; i < d->bs.n; i++) {
		const struct bucket *src = &d->bs.b[i];
		if (src->minute < first)
			continue;
		struct bucket *dst = bucket_of(&g.kept, src->minute);
		dst->dirty = 1;
		dst->requests += src->requests;
		dst->spans += src->spans;
		for (size_t k = 0; k < g.kept.n_slots; k++)
			blob_merge(&dst->enc[k], &src->t[k]);
	}
	buckets_prune(&g.kept, first);
	uint64_t per = OPSTATS_BN_BUCKET_NS / OPSTATS_BUCKET_NS, first_bn = first / per;
	for (size_t i = 0; i < d->bn.n; i++) {
		if (d->bn.b[i].slot < first_bn)
			continue;
		struct bottleneck *kept = bn_bucket_of(&g.kept_bn, d->bn.b[i].slot);
		g.kept_bn.b[g.kept_bn.last].dirty = 1;
		bottleneck_merge(kept, d->bn.b[i].bn, 0);
		bottleneck_compact(kept);
	}
	bn_buckets_prune(&g.kept_bn, first_bn);
	for (size_t i = 0; i < d->kb.n; i++) {
		const struct kbucket *src = &d->kb.b[i];
		if (src->slot < first_bn)
			continue;
		struct kbucket *dst = kbucket_of(&g.kept_kb, src->slot, src->key);
		dst->dirty = 1;
		dst->requests += src->requests;
		dst->spans += src->spans;
		for (size_t k = 0; k < g.kept_kb.n_slots; k++)
			blob_merge(&dst->enc[k], &src->t[k]);
		bn_blob_merge(&dst->bn_enc, src->bn);
	}
	kbuckets_prune(&g.kept_kb, first_bn);
}

/* Forget everything when the rules or the store changed (g.mu held). */
static void reset_if_changed(struct store *s, const struct slowops_config *c, const char *key)
{
	if (g.store == s && g.rules && strcmp(g.rules, key) == 0)
		return;
	g.replace_all = 1;
	g.covered_from = UINT64_MAX;
	buckets_release(&g.kept);
	bn_buckets_release(&g.kept_bn);
	kbuckets_release(&g.kept_kb);
	g.kept.n_slots = g.kept_kb.n_slots = slowops_type_slots(c);
	g.kept.encoded = g.kept_kb.encoded = 1;
	free(g.rules);
	g.rules = xstrdup(key);
	g.store = s;
	g.read_id = 0;
	g.newest = 0;
}

static void delta_release(struct delta *d)
{
	buckets_release(&d->bs);
	bn_buckets_release(&d->bn);
	free(d->cls);
	free(d->sub);
	free(d->sub_cls);
	free(d->sub_desc);
	free(d->desc);
	free(d->order);
	free(d->in_request);
	kbuckets_release(&d->kb);
	free(d->stack);
	free(d->stack_keys);
	free(d->active);
	strmap_release(&d->services);
	arena_release(&d->arena);
	arena_release(&d->scratch);
}

static void load_stored(struct store *s, const struct slowops_config *c, const char *key);

static int update_locked(struct store *s, const struct slowops_config *c, uint64_t max_blocks, uint64_t *left,
			 char *err, size_t errlen)
{
	uint64_t last;
	char *key = rules_key(c);
	if (store_last_block(s, &last, err, errlen) < 0) {
		free(key);
		return ERR_INTERNAL;
	}
	if (!g.loaded || g.store != s)
		load_stored(s, c, key);
	pthread_mutex_lock(&g.mu);
	reset_if_changed(s, c, key);
	uint64_t first = g.read_id + 1;
	pthread_mutex_unlock(&g.mu);
	free(key);
	uint64_t to =
		max_blocks && last >= first && last - first >= max_blocks ? first + max_blocks - 1 : last;
	*left = last - (to >= first ? to : first - 1);
	if (to < first)
		return 0;
	struct delta d = {.cfg = c};
	strmap_init(&d.services);
	arena_init(&d.arena);
	arena_init(&d.scratch);
	d.bs.n_slots = d.kb.n_slots = slowops_type_slots(c);
	int rc = read_blocks(s, &d, first, to, err, errlen);
	if (rc == 0) {
		pthread_mutex_lock(&g.mu);
		merge_delta(&d);
		g.read_id = to;
		pthread_mutex_unlock(&g.mu);
	}
	delta_release(&d);
	return rc < 0 ? ERR_INTERNAL : 0;
}

int opstats_update(struct store *s, const struct slowops_config *c, uint64_t max_blocks, uint64_t *left,
		   char *err, size_t errlen)
{
	pthread_mutex_lock(&g.upd);
	int rc = update_locked(s, c, max_blocks, left, err, errlen);
	pthread_mutex_unlock(&g.upd);
	return rc;
}

/* ---- stored aggregates ------------------------------------------------------ */

/* The state row's first word: rows of another version are built again
 * (version 2 added the pairs of a service and an environment). */
#define STATE_VERSION "2"

/* Row kinds of store_put_aggs(). */
enum { AGG_STATE, AGG_STATS, AGG_BN, AGG_KSTATS, AGG_KBN };

static void put_le(struct buf *b, uint64_t v, int bytes)
{
	uint8_t x[8];
	for (int i = 0; i < bytes; i++)
		x[i] = (uint8_t)(v >> (8 * i));
	buf_append(b, x, (size_t)bytes);
}

/* A stats bucket's row: requests, spans, then each slot's encoded sketch. */
static void encode_stats(struct buf *b, uint64_t requests, uint64_t spans, const struct blob *enc, size_t n)
{
	put_le(b, requests, 8);
	put_le(b, spans, 8);
	put_le(b, n, 4);
	for (size_t k = 0; k < n; k++) {
		put_le(b, enc[k].len, 4);
		buf_append(b, enc[k].p ? enc[k].p : "", enc[k].len);
	}
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int opstats_decode_stats(const void *data, size_t len, size_t n_slots, uint64_t *requests, uint64_t *spans,
			 struct opstats_blob_view *slots)
{
	const uint8_t *p = data, *end = p + len;
	if (len < 20 || get_le(p + 16, 4) != n_slots)
		return -1;
	*requests = get_le(p, 8);
	*spans = get_le(p + 8, 8);
	p += 20;
	for (size_t k = 0; k < n_slots; k++) {
		if (end - p < 4 || (uint64_t)(end - p - 4) < get_le(p, 4))
			return -1;
		slots[k].len = (size_t)get_le(p, 4);
		slots[k].p = p + 4;
		p += 4 + slots[k].len;
	}
	return p == end ? 0 : -1;
}

/* Largest decompressed stored ranking accepted. */
#define STORED_BN_MAX (64u << 20)

/* A ranking's row: bottleneck_encode(), compressed (its entries' strings
 * repeat from row to row: about a tenth of the bytes). */
static void put_compressed(struct buf *b, const void *raw, size_t len)
{
	size_t cap = ZSTD_compressBound(len);
	buf_reserve(b, cap);
	size_t n = ZSTD_compress(b->data + b->len, cap, raw ? raw : "", len, 3);
	if (ZSTD_isError(n))
		abort(); /* the bound was reserved: cannot fail */
	b->len += n;
}

static void encode_bn(struct buf *b, const struct bottleneck *bn)
{
	struct buf raw;
	buf_init(&raw, BUF_NO_LIMIT);
	bottleneck_encode(bn, &raw);
	put_compressed(b, raw.data, raw.len);
	buf_release(&raw);
}

/* A stored ranking's row, decompressed into *out (xmalloc'd).  0 or -1. */
static int bn_row_raw(const void *data, size_t len, void **out, size_t *n)
{
	unsigned long long raw = ZSTD_getFrameContentSize(data, len);
	*out = NULL;
	if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN || raw > STORED_BN_MAX)
		return -1;
	*out = xmalloc(raw ? (size_t)raw : 1);
	*n = ZSTD_decompress(*out, (size_t)raw, data, len);
	if (ZSTD_isError(*n) || *n != raw) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* Merge a ranking's row into `bn`.  0, or -1 when it does not decode. */
static int merge_bn_row(struct bottleneck *bn, const void *data, size_t len, uint64_t t_ns)
{
	void *raw;
	size_t n;
	if (bn_row_raw(data, len, &raw, &n) < 0)
		return -1;
	int rc = bottleneck_merge_encoded(bn, raw, n, t_ns);
	free(raw);
	return rc;
}

/* Rows being saved, their bytes in `b` (offsets until the end). */
struct saving {
	struct store_agg *rows;
	size_t n, cap;
	size_t *off;
	struct buf b;
};

static void save_row(struct saving *sv, uint32_t kind, uint64_t t_ns, const char *key, size_t from)
{
	sv->rows = xgrow(sv->rows, &sv->cap, sv->n + 1, sizeof(*sv->rows));
	size_t cap = sv->n;
	sv->off = xrealloc(sv->off, (cap + 1) * sizeof(*sv->off));
	sv->off[sv->n] = from;
	sv->rows[sv->n++] =
		(struct store_agg){.kind = kind, .t_ns = t_ns, .key = key, .len = sv->b.len - from};
}

static const char *key_text(uint32_t key)
{
	return key && key <= keys.n ? keys.text[key - 1] : "";
}

/* The changed buckets' rows and the state row (g.mu held). */
static void collect_dirty(struct saving *sv)
{
	for (size_t i = 0; i < g.kept.n; i++) {
		struct bucket *b = &g.kept.b[i];
		size_t at = sv->b.len;
		if (!b->dirty)
			continue;
		encode_stats(&sv->b, b->requests, b->spans, b->enc, g.kept.n_slots);
		save_row(sv, AGG_STATS, b->minute * OPSTATS_BUCKET_NS, "", at);
		b->dirty = 0;
	}
	for (size_t i = 0; i < g.kept_bn.n; i++) {
		struct bn_bucket *b = &g.kept_bn.b[i];
		size_t at = sv->b.len;
		if (!b->dirty)
			continue;
		encode_bn(&sv->b, b->bn);
		save_row(sv, AGG_BN, b->slot * OPSTATS_BN_BUCKET_NS, "", at);
		b->dirty = 0;
	}
	pthread_mutex_lock(&keys.mu);
	for (size_t i = 0; i < g.kept_kb.n; i++) {
		struct kbucket *b = &g.kept_kb.b[i];
		size_t at = sv->b.len;
		if (!b->dirty)
			continue;
		encode_stats(&sv->b, b->requests, b->spans, b->enc, g.kept_kb.n_slots);
		save_row(sv, AGG_KSTATS, b->slot * OPSTATS_BN_BUCKET_NS, key_text(b->key), at);
		at = sv->b.len;
		put_compressed(&sv->b, b->bn_enc.p, b->bn_enc.len);
		save_row(sv, AGG_KBN, b->slot * OPSTATS_BN_BUCKET_NS, key_text(b->key), at);
		b->dirty = 0;
	}
	pthread_mutex_unlock(&keys.mu);
	size_t at = sv->b.len;
	uint64_t keep = OPSTATS_KEEP_NS / OPSTATS_BUCKET_NS;
	if (g.covered_from == UINT64_MAX) /* built from the first block: from what is kept */
		g.covered_from = g.newest > keep ? g.newest - keep : 0;
	pthread_mutex_lock(&keys.mu);
	int pairs_full = keys.pairs_full;
	pthread_mutex_unlock(&keys.mu);
	buf_printf(&sv->b, STATE_VERSION " %llu %llu %llu %d\n%s", (unsigned long long)g.read_id,
		   (unsigned long long)g.newest, (unsigned long long)g.covered_from, pairs_full, g.rules);
	save_row(sv, AGG_STATE, UINT64_MAX, "", at);
}

/* After a failed save: everything again next time (g.mu held). */
static void mark_all_dirty(void)
{
	for (size_t i = 0; i < g.kept.n; i++)
		g.kept.b[i].dirty = 1;
	for (size_t i = 0; i < g.kept_bn.n; i++)
		g.kept_bn.b[i].dirty = 1;
	for (size_t i = 0; i < g.kept_kb.n; i++)
		g.kept_kb.b[i].dirty = 1;
	g.replace_all = 1;
}

void opstats_status(uint64_t *read_id, size_t *loaded_rows)
{
	pthread_mutex_lock(&g.mu);
	*read_id = g.read_id;
	*loaded_rows = g.loaded_rows;
	pthread_mutex_unlock(&g.mu);
}

static int save(struct store *s, char *err, size_t errlen)
{
	struct saving sv = {0};
	buf_init(&sv.b, BUF_NO_LIMIT);
	pthread_mutex_lock(&g.mu);
	if (g.store != s || !g.rules || g.no_save) {
		pthread_mutex_unlock(&g.mu);
		buf_release(&sv.b);
		return 0;
	}
	collect_dirty(&sv);
	int replace = g.replace_all;
	g.replace_all = 0;
	pthread_mutex_unlock(&g.mu);
	if (sv.n == 1 && !replace) { /* the state alone: nothing changed */
		free(sv.rows);
		free(sv.off);
		buf_release(&sv.b);
		return 0;
	}
	for (size_t i = 0; i < sv.n; i++)
		sv.rows[i].data = sv.b.data + sv.off[i];
	int rc = store_put_aggs(s, sv.rows, sv.n, replace, err, errlen);
	if (rc < 0) {
		pthread_mutex_lock(&g.mu);
		if (rc == ERR_UNSUPPORTED)
			g.no_save = 1; /* this store keeps none: rebuilt from the blocks after a start */
		else
			mark_all_dirty();
		pthread_mutex_unlock(&g.mu);
	}
	free(sv.rows);
	free(sv.off);
	buf_release(&sv.b);
	return rc == ERR_UNSUPPORTED ? 0 : rc < 0 ? ERR_INTERNAL : 0;
}

int opstats_save(struct store *s, char *err, size_t errlen)
{
	/* Instances sharing one ClickHouse store keep the same rows: the holder
	 * of the background lease saves them (the write checking that it still
	 * is); the others keep theirs dirty and save them all if the lease
	 * comes to them. */
	if (!store_lease_begin(s))
		return 0;
	int rc = save(s, err, errlen);
	store_lease_end(s);
	return rc;
}

/* What the state row says. */
struct loading {
	const char *rules; /* the current rules: rows of others are void */
	int match;
	uint64_t read_id, newest, covered_from;
	int pairs_full;
	int bad;
	size_t rows;
};

static int load_state(void *arg, const struct store_agg *r)
{
	struct loading *ld = arg;
	unsigned long long id, newest, covered;
	int used = 0, full = 0;
	if (r->kind != AGG_STATE)
		return 0;
	char *text = xmalloc(r->len + 1);
	memcpy(text, r->data, r->len);
	text[r->len] = 0;
	if (sscanf(text, STATE_VERSION " %llu %llu %llu %d\n%n", &id, &newest, &covered, &full, &used) == 4 &&
	    used > 0 && strcmp(text + used, ld->rules) == 0) {
		ld->match = 1;
		ld->pairs_full = full != 0;
		ld->read_id = id;
		ld->newest = newest;
		ld->covered_from = covered;
	}
	free(text);
	return 1;
}

/* One stored row into the kept buckets (g.mu held). */
static int load_row(void *arg, const struct store_agg *r)
{
	struct loading *ld = arg;
	struct opstats_blob_view v[64];
	uint64_t requests, spans;
	size_t n = g.kept.n_slots;
	int kstats = r->kind == AGG_KSTATS, kbn = r->kind == AGG_KBN;
	uint32_t key = (kstats || kbn) && r->key[0] ? key_lookup(r->key, strlen(r->key), 1) : 0;
	ld->rows++;
	if ((kstats || kbn) && !key)
		return ld->bad = 1;
	if (r->kind == AGG_STATS || kstats) {
		if (n > 64 || opstats_decode_stats(r->data, r->len, n, &requests, &spans, v) < 0)
			return ld->bad = 1;
		struct blob *enc;
		if (kstats) {
			struct kbucket *kb = kbucket_of(&g.kept_kb, r->t_ns / OPSTATS_BN_BUCKET_NS, key);
			kb->requests = requests, kb->spans = spans, enc = kb->enc;
		} else {
			struct bucket *b = bucket_of(&g.kept, r->t_ns / OPSTATS_BUCKET_NS);
			b->requests = requests, b->spans = spans, enc = b->enc;
		}
		for (size_t k = 0; k < n; k++) {
			free(enc[k].p);
			enc[k].p = v[k].len ? memcpy(xmalloc(v[k].len), v[k].p, v[k].len) : NULL;
			enc[k].len = v[k].len;
		}
	} else if (kbn) {
		struct kbucket *kb = kbucket_of(&g.kept_kb, r->t_ns / OPSTATS_BN_BUCKET_NS, key);
		struct bottleneck check;
		void *raw;
		size_t len;
		if (bn_row_raw(r->data, r->len, &raw, &len) < 0)
			return ld->bad = 1;
		bottleneck_init(&check); /* the bytes must be a ranking, as when read */
		int bad = bottleneck_merge_encoded(&check, raw, len, 0) < 0;
		bottleneck_release(&check);
		free(kb->bn_enc.p);
		kb->bn_enc.p = raw;
		kb->bn_enc.len = len;
		if (bad)
			return ld->bad = 1;
	} else if (r->kind == AGG_BN) {
		struct bottleneck *bn = bn_bucket_of(&g.kept_bn, r->t_ns / OPSTATS_BN_BUCKET_NS);
		if (merge_bn_row(bn, r->data, r->len, 0) < 0)
			return ld->bad = 1;
		bottleneck_compact(bn);
	}
	return 0;
}

/* Load what was stored for the rules `key`, once per store, before the first
 * block is read (g.upd held): every bucket of the newest OPSTATS_KEEP_NS,
 * and the block the stored ones reach. */
static void load_stored(struct store *s, const struct slowops_config *c, const char *key)
{
	struct loading ld = {.rules = key};
	char err[256];
	uint64_t t0 = clock_now_ns();
	pthread_mutex_lock(&g.mu);
	g.loaded = 1;
	pthread_mutex_unlock(&g.mu);
	if (store_aggs(s, AGG_STATE, UINT64_MAX, 0, load_state, &ld, err, sizeof(err)) < 0 || !ld.match) {
		pthread_mutex_lock(&g.mu);
		g.replace_all = 1; /* none, unreadable or of other rules */
		pthread_mutex_unlock(&g.mu);
		return;
	}
	uint64_t keep = OPSTATS_KEEP_NS / OPSTATS_BUCKET_NS;
	uint64_t first = ld.newest > keep ? ld.newest - keep : 0;
	pthread_mutex_lock(&g.mu);
	reset_if_changed(s, c, key);
	int rc = store_aggs(s, -1, first * OPSTATS_BUCKET_NS, 0, load_row, &ld, err, sizeof(err));
	if (rc < 0 || ld.bad) {
		log_warn("operation statistics: the stored aggregates do not read (%s): built again from the "
			 "blocks",
			 rc < 0 ? err : "a row does not decode");
		g.rules[0] = 0; /* reset at the update, which reads every block */
	} else {
		g.read_id = ld.read_id;
		g.newest = ld.newest;
		g.covered_from = ld.covered_from;
		g.loaded_rows = ld.rows;
		pthread_mutex_lock(&keys.mu);
		keys.pairs_full |= ld.pairs_full;
		pthread_mutex_unlock(&keys.mu);
		g.replace_all = 0;
		log_info("operation statistics: %zu stored rows loaded, up to block %llu, in %.1f s", ld.rows,
			 (unsigned long long)ld.read_id, (double)(clock_now_ns() - t0) / 1e9);
	}
	pthread_mutex_unlock(&g.mu);
}

/* ---- the job ------------------------------------------------------------------- */

/* Whether a catch-up that read `done` blocks in `elapsed` ns, `left` to
 * go, should store what it built now: not when it should end within one
 * more interval (it stores everything at its end). */
static int save_now(uint64_t done, uint64_t left, uint64_t elapsed)
{
	if (!done)
		return 1;
	double rest_ns = (double)left * (double)elapsed / (double)done;
	return rest_ns >= (double)JOB_SAVE_EVERY_NS;
}

/* During a long catch-up: store what is built (a stop goes on from it). */
static void save_part(struct store *s, uint64_t left)
{
	char err[256];
	uint64_t t0 = clock_now_ns();
	if (opstats_save(s, err, sizeof(err)) < 0)
		log_warn("operation statistics: %s", err);
	log_info("operation statistics: building from the blocks, %llu left (stored in %.1f s)",
		 (unsigned long long)left, (double)(clock_now_ns() - t0) / 1e9);
}

static void job_tick(void *arg)
{
	struct store *s = arg;
	struct slowops_config c;
	char err[256];
	uint64_t left = 1;
	if (slowreqs_update(s, err, sizeof(err)) == ERR_INTERNAL)
		log_warn("slow requests: %s", err);
	slowops_config_init(&c);
	if (slowops_effective(s, &c, err, sizeof(err)) < 0) {
		log_warn("operation statistics: %s", err);
		left = 0;
	}
	uint64_t t0 = clock_now_ns(), saved = t0, steps = 0, done = 0, done_at_save = 0;
	while (left) {
		pthread_mutex_lock(&g.mu);
		int stop = g.stopping;
		pthread_mutex_unlock(&g.mu);
		uint64_t before = left;
		if (stop || opstats_update(s, &c, JOB_STEP_BLOCKS, &left, err, sizeof(err)) < 0) {
			if (!stop)
				log_warn("operation statistics: %s", err);
			break;
		}
		steps++;
		done += steps == 1 ? JOB_STEP_BLOCKS : before - left; /* the first: left was not known */
		uint64_t now = clock_now_ns();
		if (left && now - saved >= JOB_SAVE_EVERY_NS &&
		    save_now(done - done_at_save, left,
			     now - saved)) { /* a long catch-up: keep what is done */
			save_part(s, left);
			saved = clock_now_ns();
			done_at_save = done;
		}
	}
	if (steps && opstats_save(s, err, sizeof(err)) < 0)
		log_warn("operation statistics: %s", err);
	if (steps > 1 && !left) { /* a catch-up, not the minute's few blocks */
		log_info("operation statistics: caught up with the stored blocks in %.1f s",
			 (double)(clock_now_ns() - t0) / 1e9);
		malloc_trim(0); /* what the blocks' reading freed goes back to the system */
	}
	slowops_config_release(&c);
}

int opstats_start(struct store *s, unsigned interval_s, char *err, size_t errlen)
{
	pthread_mutex_lock(&g.mu);
	g.store = s;
	g.stopping = 0;
	pthread_mutex_unlock(&g.mu);
	return ticker_start_job(&job, "operation_stats", interval_s ? interval_s : 5, job_tick, s, err,
				errlen);
}

void opstats_stop(void)
{
	pthread_mutex_lock(&g.mu);
	g.stopping = 1;
	pthread_mutex_unlock(&g.mu);
	ticker_stop(&job);
	pthread_mutex_lock(&g.upd);
	pthread_mutex_lock(&g.mu);
	buckets_release(&g.kept);
	bn_buckets_release(&g.kept_bn);
	kbuckets_release(&g.kept_kb);
	free(g.rules);
	g.rules = NULL;
	g.loaded = g.replace_all = g.no_save = 0;
	g.loaded_rows = 0;
	pthread_mutex_lock(&keys.mu);
	if (keys.n)
		strmap_release(&keys.no);
	for (uint32_t k = 0; k < keys.n; k++)
		free(keys.text[k]);
	free(keys.text);
	keys.text = NULL;
	keys.n = keys.n_pairs = 0;
	keys.pairs_full = 0;
	keys.cap = 0;
	pthread_mutex_unlock(&keys.mu);
	g.store = NULL;
	g.read_id = g.newest = 0;
	pthread_mutex_unlock(&g.mu);
	pthread_mutex_unlock(&g.upd);
	slowreqs_reset();
}

/* ---- reading a range -------------------------------------------------------------- */

void opstats_answer_release(struct opstats_answer *a)
{
	for (size_t k = 0; k < a->n; k++)
		sketch_release(&a->t[k]);
	free(a->t);
	memset(a, 0, sizeof(*a));
}

/* Whether the blocks not yet read are few enough for a read to take. */
static int current_enough(struct store *s, const struct slowops_config *c, char *err, size_t errlen)
{
	uint64_t last;
	if (store_last_block(s, &last, err, errlen) < 0)
		return ERR_INTERNAL;
	char *key = rules_key(c);
	pthread_mutex_lock(&g.mu);
	int bound = g.store == s;
	uint64_t done = g.rules && strcmp(g.rules, key) == 0 ? g.read_id : 0;
	pthread_mutex_unlock(&g.mu);
	free(key);
	return bound && last - (last < done ? last : done) <= OPSTATS_READ_BLOCKS ? 0 : ERR_BUSY;
}

/* Sum the kept buckets of [from, to) minutes (g.mu held). */
static void sum_buckets(uint64_t from, uint64_t to, struct opstats_answer *out)
{
	for (size_t i = 0; i < g.kept.n; i++) {
		const struct bucket *b = &g.kept.b[i];
		if (b->minute < from || b->minute >= to)
			continue;
		out->requests += b->requests;
		out->spans += b->spans;
		for (size_t k = 0; k < out->n && k < g.kept.n_slots; k++)
			if (b->enc[k].len &&
			    sketch_merge_encoded(&out->t[k], b->enc[k].p, b->enc[k].len, NULL, 0) < 0)
				log_warn("operation statistics: a kept sketch does not decode");
	}
}

/* Bring the aggregates up to date for a read of [from_ns, to_ns) in
 * buckets of `bucket_ns`: *from, *to the buckets.  0 with g.mu held, or
 * ERR_BUSY / an error without. */
static int read_start(struct store *s, const struct slowops_config *c, uint64_t from_ns, uint64_t to_ns,
		      uint64_t bucket_ns, uint64_t *from, uint64_t *to, uint64_t *stored_to, char *err,
		      size_t errlen)
{
	uint64_t left;
	int rc = current_enough(s, c, err, errlen);
	if (rc < 0 || (rc = opstats_update(s, c, 0, &left, err, errlen)) < 0)
		return rc;
	if (!to_ns)
		to_ns = clock_now_ns();
	*from = from_ns / bucket_ns;
	*to = (to_ns + bucket_ns - 1) / bucket_ns;
	uint64_t keep = OPSTATS_KEEP_NS / OPSTATS_BUCKET_NS;
	pthread_mutex_lock(&g.mu);
	/* the buckets kept start here; before, the stored rows answer */
	uint64_t first = g.newest > keep ? g.newest - keep : 0;
	uint64_t kept_from = first * OPSTATS_BUCKET_NS / bucket_ns;
	*stored_to = *from < kept_from ? kept_from : 0;
	int stored_ok = !g.no_save && !g.replace_all && g.loaded && g.covered_from != UINT64_MAX &&
			from_ns / OPSTATS_BUCKET_NS >= g.covered_from;
	if (g.store != s || g.kept.n_slots != slowops_type_slots(c) || (*stored_to && !stored_ok)) {
		pthread_mutex_unlock(&g.mu);
		return ERR_BUSY;
	}
	return 0;
}

/* A read of stored rows: the sums of a stats answer, or a ranking. */
struct stored_read {
	const char *key; /* the filter's key text; NULL: the fleet's rows */
	struct opstats_answer *out;
	struct bottleneck *into;
	uint64_t bucket_ns;
	int bad;
};

static int stored_row(void *arg, const struct store_agg *r)
{
	struct stored_read *sr = arg;
	struct opstats_blob_view v[64];
	uint64_t requests, spans;
	if (sr->key && strcmp(r->key, sr->key))
		return 0;
	if (sr->into) {
		sr->bad |= merge_bn_row(sr->into, r->data, r->len, r->t_ns + sr->bucket_ns / 2) < 0;
		return 0;
	}
	if (sr->out->n > 64 || opstats_decode_stats(r->data, r->len, sr->out->n, &requests, &spans, v) < 0) {
		sr->bad = 1;
		return 0;
	}
	sr->out->requests += requests;
	sr->out->spans += spans;
	for (size_t k = 0; k < sr->out->n; k++)
		if (v[k].len && sketch_merge_encoded(&sr->out->t[k], v[k].p, v[k].len, NULL, 0) < 0)
			sr->bad = 1;
	return 0;
}

/* Add the stored rows of `kind` (keyed by `f`'s key when keyed) of buckets
 * [from, to) of `bucket_ns`: the part of a range before the buckets kept. */
static int read_stored(struct store *s, int kind, const struct opstats_filter *f, int keyed, uint64_t from,
		       uint64_t to, uint64_t bucket_ns, struct stored_read *sr, char *err, size_t errlen)
{
	char key[KEY_TEXT_MAX] = "";
	if (keyed && !key_text_of(key, sizeof(key), f->service, f->env))
		return ERR_BUSY; /* not kept apart: filter_keyed() said so */
	sr->key = keyed ? key : NULL;
	sr->bucket_ns = bucket_ns;
	if (store_aggs(s, kind, from * bucket_ns, to * bucket_ns, stored_row, sr, err, errlen) < 0)
		return ERR_INTERNAL;
	return sr->bad ? errf(err, errlen, "a stored aggregate does not decode"), ERR_INTERNAL : 0;
}

/* Whether a filter reads a key: 1, or 0 for the whole fleet; -1: not
 * answerable (a name too long to be kept apart). */
static int filter_keyed(const struct opstats_filter *f)
{
	char tmp[KEY_TEXT_MAX];
	if (!f || (!f->service && !f->env))
		return 0;
	return key_text_of(tmp, sizeof(tmp), f->service, f->env) ? 1 : -1;
}

/* The key of a filter, once the blocks it reads are in (g.mu held): 0 with
 * *key 0 for a service, environment or pair never seen; ERR_BUSY for a pair
 * not kept apart (past OPSTATS_MAX_PAIRS). */
static int filter_key(const struct opstats_filter *f, uint32_t *key)
{
	*key = key_number(f->service, f->env, 0);
	if (*key || !f->service || !f->env)
		return 0;
	pthread_mutex_lock(&keys.mu);
	int full = keys.pairs_full;
	pthread_mutex_unlock(&keys.mu);
	return full ? ERR_BUSY : 0;
}

/* Sum the kept buckets of `key` in [from, to) slots (g.mu held). */
static void sum_keyed(uint64_t from, uint64_t to, uint32_t key, struct opstats_answer *out)
{
	for (size_t i = 0; key && i < g.kept_kb.n && g.kept_kb.b[i].slot < to; i++) {
		const struct kbucket *b = &g.kept_kb.b[i];
		if (b->slot < from || b->key != key)
			continue;
		out->requests += b->requests;
		out->spans += b->spans;
		for (size_t k = 0; k < out->n && k < g.kept_kb.n_slots; k++)
			if (b->enc[k].len &&
			    sketch_merge_encoded(&out->t[k], b->enc[k].p, b->enc[k].len, NULL, 0) < 0)
				log_warn("operation statistics: a kept sketch does not decode");
	}
}

int opstats_read(struct store *s, const struct slowops_config *c, const struct opstats_filter *f,
		 uint64_t from_ns, uint64_t to_ns, struct opstats_answer *out, char *err, size_t errlen)
{
	uint64_t from, to;
	memset(out, 0, sizeof(*out));
	int keyed = filter_keyed(f);
	if (keyed < 0)
		return ERR_BUSY;
	uint64_t bucket_ns = keyed ? OPSTATS_BN_BUCKET_NS : OPSTATS_BUCKET_NS, stored_to;
	uint32_t key = 0;
	int rc = read_start(s, c, from_ns, to_ns, bucket_ns, &from, &to, &stored_to, err, errlen);
	if (rc < 0)
		return rc;
	if (keyed && filter_key(f, &key) < 0) {
		pthread_mutex_unlock(&g.mu);
		return ERR_BUSY;
	}
	out->n = g.kept.n_slots;
	out->t = xcalloc(out->n ? out->n : 1, sizeof(*out->t));
	for (size_t k = 0; k < out->n; k++)
		sketch_init(&out->t[k]);
	if (keyed)
		sum_keyed(from, to, key, out);
	else
		sum_buckets(from, to, out);
	pthread_mutex_unlock(&g.mu);
	struct stored_read sr = {.out = out};
	if (stored_to &&
	    (rc = read_stored(s, keyed ? AGG_KSTATS : AGG_STATS, f, keyed, from,
			      stored_to < to ? stored_to : to, bucket_ns, &sr, err, errlen)) < 0) {
		opstats_answer_release(out);
		return rc;
	}
	out->bucket_ns = bucket_ns;
	out->from_ns = from * bucket_ns;
	out->to_ns = to * bucket_ns;
	return 0;
}

int opstats_bottlenecks(struct store *s, const struct slowops_config *c, const struct opstats_filter *f,
			uint64_t from_ns, uint64_t to_ns, struct bottleneck *into, uint64_t *bucket_from_ns,
			uint64_t *bucket_to_ns, char *err, size_t errlen)
{
	uint64_t from, to, stored_to;
	int keyed = filter_keyed(f);
	if (keyed < 0)
		return ERR_BUSY;
	uint32_t key = 0;
	int rc = read_start(s, c, from_ns, to_ns, OPSTATS_BN_BUCKET_NS, &from, &to, &stored_to, err, errlen);
	if (rc < 0)
		return rc;
	if (keyed && filter_key(f, &key) < 0) {
		pthread_mutex_unlock(&g.mu);
		return ERR_BUSY;
	}
	for (size_t i = 0; !keyed && i < g.kept_bn.n; i++) {
		const struct bn_bucket *b = &g.kept_bn.b[i];
		if (b->slot >= from && b->slot < to)
			bottleneck_merge(into, b->bn,
					 b->slot * OPSTATS_BN_BUCKET_NS + OPSTATS_BN_BUCKET_NS / 2);
	}
	for (size_t i = 0; keyed && key && i < g.kept_kb.n && g.kept_kb.b[i].slot < to; i++) {
		const struct kbucket *b = &g.kept_kb.b[i];
		if (b->slot >= from && b->key == key && b->bn_enc.len &&
		    bottleneck_merge_encoded(into, b->bn_enc.p, b->bn_enc.len,
					     b->slot * OPSTATS_BN_BUCKET_NS + OPSTATS_BN_BUCKET_NS / 2) < 0)
			log_warn("operation statistics: a kept ranking does not decode");
	}
	pthread_mutex_unlock(&g.mu);
	struct stored_read sr = {.into = into};
	if (stored_to &&
	    (rc = read_stored(s, keyed ? AGG_KBN : AGG_BN, f, keyed, from, stored_to < to ? stored_to : to,
			      OPSTATS_BN_BUCKET_NS, &sr, err, errlen)) < 0)
		return rc;
	*bucket_from_ns = from * OPSTATS_BN_BUCKET_NS;
	*bucket_to_ns = to * OPSTATS_BN_BUCKET_NS;
	return 0;
}
