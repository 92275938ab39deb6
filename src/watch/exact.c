/*
 * exact.c - per-minute good and total counts of objectives whose latency
 * threshold the rollups cannot count (see exact.h).
 */
#include "watch/exact.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json_doc.h"
#include "core/log.h"
#include "watch/snapshot.h"

#define CAP_MIN	  (EXACT_KEEP_MIN + 1440) /* minutes an objective holds at most */
#define CHUNK_MAX 200000u		  /* request rows read at once, about */
#define NS_MIN	  NS_PER_MIN

struct cell {
	uint32_t good, total;
};

struct obj {
	char *key;
	char oid[24];
	uint64_t since_min; /* 0: not counted yet */
	uint64_t base_min;  /* m[0] counts this minute */
	size_t n;	    /* minutes held: [base_min, base_min + n) */
	struct cell *m;	    /* CAP_MIN cells */
	uint64_t refreshes, last_now_ns;
	int loaded, meta_dirty;
	uint64_t *dirty; /* hours changed since the last save */
	size_t n_dirty, cap_dirty;
};

static struct {
	pthread_mutex_t lock;	 /* the registry and every object's cells */
	pthread_mutex_t refresh; /* one refresh at a time */
	struct obj **v;
	size_t n, cap;
} reg = {.lock = PTHREAD_MUTEX_INITIALIZER, .refresh = PTHREAD_MUTEX_INITIALIZER};

int exact_needed(uint64_t threshold_ms)
{
	for (int t = 1; t < TIER_COUNT; t++)
		if (threshold_ms * 1000000ull == request_tier_lo_ns[t])
			return 0;
	return 1;
}

/* ---- the registry ------------------------------------------------------------ */

static char *key_of(const struct watch_scope *sc, uint64_t threshold_ms)
{
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	buf_printf(&b, "%llu|", (unsigned long long)threshold_ms);
	watch_scope_write(&b, sc);
	return buf_detach(&b, NULL);
}

/* Under reg.lock. */
static struct obj *find(const char *key)
{
	for (size_t i = 0; i < reg.n; i++)
		if (!strcmp(reg.v[i]->key, key))
			return reg.v[i];
	return NULL;
}

static struct obj *find_or_add(const struct watch_scope *sc, uint64_t threshold_ms)
{
	char *key = key_of(sc, threshold_ms);
	pthread_mutex_lock(&reg.lock);
	struct obj *o = find(key);
	if (o) {
		pthread_mutex_unlock(&reg.lock);
		free(key);
		return o;
	}
	o = xcalloc(1, sizeof(*o));
	o->key = key;
	o->m = xcalloc(CAP_MIN, sizeof(*o->m));
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	snprintf(o->oid, sizeof(o->oid), "x%016llx", (unsigned long long)h);
	reg.v = xgrow(reg.v, &reg.cap, reg.n + 1, sizeof(*reg.v));
	reg.v[reg.n++] = o;
	pthread_mutex_unlock(&reg.lock);
	return o;
}

static void obj_free(struct obj *o)
{
	free(o->key);
	free(o->m);
	free(o->dirty);
	free(o);
}

void exact_forget(void)
{
	pthread_mutex_lock(&reg.refresh);
	pthread_mutex_lock(&reg.lock);
	for (size_t i = 0; i < reg.n; i++)
		obj_free(reg.v[i]);
	free(reg.v);
	reg.v = NULL;
	reg.n = reg.cap = 0;
	pthread_mutex_unlock(&reg.lock);
	pthread_mutex_unlock(&reg.refresh);
}

size_t exact_prune(uint64_t now_ns, uint64_t idle_ns)
{
	size_t kept = 0, dropped = 0;
	pthread_mutex_lock(&reg.refresh);
	pthread_mutex_lock(&reg.lock);
	for (size_t i = 0; i < reg.n; i++)
		if (reg.v[i]->last_now_ns + idle_ns < now_ns && !reg.v[i]->n_dirty && !reg.v[i]->meta_dirty) {
			obj_free(reg.v[i]);
			dropped++;
		} else
			reg.v[kept++] = reg.v[i];
	reg.n = kept;
	pthread_mutex_unlock(&reg.lock);
	pthread_mutex_unlock(&reg.refresh);
	return dropped;
}

/* The cell of minute `min`, NULL outside what is held. */
static struct cell *cell_at(struct obj *o, uint64_t min)
{
	return min >= o->base_min && min < o->base_min + o->n ? &o->m[min - o->base_min] : NULL;
}

/* Hold [end - EXACT_KEEP_MIN, end) from a whole hour on (under reg.lock). */
static void cover(struct obj *o, uint64_t end_min)
{
	uint64_t base = (end_min - EXACT_KEEP_MIN) / 60 * 60;
	if (!o->n)
		o->base_min = base;
	if (base > o->base_min) {
		uint64_t shift = base - o->base_min;
		if (shift < o->n)
			memmove(o->m, o->m + shift, (o->n - shift) * sizeof(*o->m));
		size_t kept = shift < o->n ? o->n - (size_t)shift : 0;
		memset(o->m + kept, 0, (CAP_MIN - kept) * sizeof(*o->m));
		o->base_min = base;
		o->n = kept;
	}
	if (end_min > o->base_min + o->n)
		o->n = (size_t)(end_min - o->base_min);
}

static void mark_dirty(struct obj *o, uint64_t hour)
{
	for (size_t i = 0; i < o->n_dirty; i++)
		if (o->dirty[i] == hour)
			return;
	o->dirty = xgrow(o->dirty, &o->cap_dirty, o->n_dirty + 1, sizeof(*o->dirty));
	o->dirty[o->n_dirty++] = hour;
}

/* Take counted minutes [from, from + n): a count never goes down. */
static void apply(struct obj *o, uint64_t from, size_t n, const struct cell *got)
{
	pthread_mutex_lock(&reg.lock);
	for (size_t i = 0; i < n; i++) {
		struct cell *c = cell_at(o, from + i);
		if (!c || got[i].total < c->total || (got[i].total == c->total && got[i].good == c->good))
			continue;
		*c = got[i];
		mark_dirty(o, (from + i) / 60);
	}
	pthread_mutex_unlock(&reg.lock);
}

/* ---- counting ------------------------------------------------------------------ */

/* Rollup totals of the scope per unit (res_s 60: minutes, 3600: hours)
 * over minutes [from, to), into tot[(to - from) / unit]. */
static int rollup_totals(struct store *s, const struct watch_scope *sc, uint64_t from, uint64_t to,
			 unsigned res_s, uint64_t *tot, char *err, size_t errlen)
{
	struct store_query q;
	struct arena a;
	struct rollup_row *rows;
	size_t n, unit = res_s / 60, units = (size_t)((to - from) / unit);
	memset(tot, 0, units * sizeof(*tot));
	if (from >= to)
		return 0;
	watch_scope_query(sc, from * NS_MIN, to * NS_MIN, &q);
	arena_init(&a);
	int rc = store_rollups(s, &q, res_s, &a, &rows, &n, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		uint64_t m = rows[i].t_ns / NS_MIN;
		if (m >= from && m < to)
			tot[(m - from) / unit] += rows[i].count;
	}
	if (rc == 0)
		store_rollups_release(rows, n);
	arena_release(&a);
	return rc;
}

/* Count minutes [from, to) again from the request rows and apply them. */
static int recount(struct store *s, struct obj *o, const struct watch_scope *sc, uint64_t threshold_ms,
		   uint64_t from, uint64_t to, char *err, size_t errlen)
{
	struct store_query q;
	struct arena a;
	struct request_row *rows;
	size_t n;
	struct cell *got = xcalloc((size_t)(to - from), sizeof(*got));
	watch_scope_query(sc, from * NS_MIN, to * NS_MIN, &q);
	q.ids_only = 1;
	q.limit = UINT32_MAX;
	arena_init(&a);
	int rc = store_search(s, &q, &a, &rows, &n, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		uint64_t m = rows[i].start_ns / NS_MIN;
		if (m < from || m >= to)
			continue;
		got[m - from].total++;
		got[m - from].good += rows[i].duration_ns < threshold_ms * 1000000ull;
	}
	if (rc == 0)
		apply(o, from, (size_t)(to - from), got);
	arena_release(&a);
	free(got);
	return rc;
}

/* Count again the minutes of [from, to) where want[] (their expected
 * totals) differs from the cells, in runs of at most about CHUNK_MAX rows. */
static int recount_differing(struct store *s, struct obj *o, const struct watch_scope *sc, uint64_t th,
			     uint64_t from, uint64_t to, const uint64_t *want, char *err, size_t errlen)
{
	uint64_t m = from;
	while (m < to) {
		struct cell *c = cell_at(o, m);
		if (!c || c->total == want[m - from]) {
			m++;
			continue;
		}
		uint64_t end = m, rows = 0;
		while (end < to && (c = cell_at(o, end)) && c->total != want[end - from] &&
		       (end == m || rows + want[end - from] <= CHUNK_MAX))
			rows += want[end++ - from];
		int rc = recount(s, o, sc, th, m, end, err, errlen);
		if (rc < 0)
			return rc;
		m = end;
	}
	return 0;
}

/* The minutes of [from, to) against the minute rollups (from the
 * snapshot when it has them). */
static int verify_minutes(struct store *s, const struct slo_snapshot *sn, struct obj *o,
			  const struct watch_scope *sc, uint64_t th, uint64_t from, uint64_t to, char *err,
			  size_t errlen)
{
	if (from >= to)
		return 0;
	uint64_t *want = xcalloc((size_t)(to - from), sizeof(*want));
	int rc = 0;
	if (!sn || slo_snapshot_minutes(sn, sc, from, to, want) < 0)
		rc = rollup_totals(s, sc, from, to, 60, want, err, errlen);
	if (rc == 0)
		rc = recount_differing(s, o, sc, th, from, to, want, err, errlen);
	free(want);
	return rc;
}

static uint64_t hour_total(struct obj *o, uint64_t hour)
{
	uint64_t t = 0;
	for (uint64_t m = hour * 60; m < hour * 60 + 60; m++) {
		struct cell *c = cell_at(o, m);
		t += c ? c->total : 0;
	}
	return t;
}

/*
 * The hours of minutes [from, to) (whole hours) against the hourly rollups;
 * an hour that differs is counted again.  *last_bad: the last hour that
 * still differs after it (0: none).
 */
static int verify_hours(struct store *s, struct obj *o, const struct watch_scope *sc, uint64_t th,
			uint64_t from, uint64_t to, uint64_t *last_bad, char *err, size_t errlen)
{
	size_t nh = from < to ? (size_t)((to - from) / 60) : 0;
	uint64_t *want = xcalloc(nh + 1, sizeof(*want));
	int rc = rollup_totals(s, sc, from, to, 3600, want, err, errlen);
	*last_bad = 0;
	for (size_t h = 0; rc == 0 && h < nh; h++) {
		uint64_t hour = from / 60 + h;
		if (hour_total(o, hour) == want[h])
			continue;
		/* in parts of about CHUNK_MAX requests, by whole minutes */
		uint64_t parts = want[h] / CHUNK_MAX + 1, step = parts >= 60 ? 1 : 60 / parts;
		for (uint64_t m = hour * 60; rc == 0 && m < hour * 60 + 60; m += step)
			rc = recount(s, o, sc, th, m, m + step < hour * 60 + 60 ? m + step : hour * 60 + 60,
				     err, errlen);
		if (rc == 0 && hour_total(o, hour) != want[h])
			*last_bad = hour;
	}
	free(want);
	return rc;
}

/* ---- storage ------------------------------------------------------------------- */

static void hours_kind(const struct obj *o, char *kind, size_t len)
{
	snprintf(kind, len, EXACT_KIND "/%s", o->oid);
}

static int save(struct store *s, struct obj *o, uint64_t now_ns, char *err, size_t errlen)
{
	char kind[64], id[24];
	struct buf b;
	int rc = 0;
	hours_kind(o, kind, sizeof(kind));
	buf_init(&b, BUF_NO_LIMIT);
	for (size_t i = 0; rc == 0 && i < o->n_dirty; i++) {
		uint64_t hour = o->dirty[i];
		struct json_w w;
		buf_reset(&b);
		jw_init(&w, &b);
		jw_obj_begin(&w);
		jw_kuint(&w, "hour_ms", hour * 3600000);
		jw_karr_begin(&w, "m");
		for (uint64_t m = hour * 60; m < hour * 60 + 60; m++) {
			struct cell *c = cell_at(o, m);
			if (!c || !c->total)
				continue;
			jw_arr_begin(&w); /* [minute of the hour, good, total] */
			jw_uint(&w, m - hour * 60);
			jw_uint(&w, c->good);
			jw_uint(&w, c->total);
			jw_arr_end(&w);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
		snprintf(id, sizeof(id), "%llu", (unsigned long long)(hour % EXACT_SLOTS));
		struct store_record r = {kind, id, now_ns, b.data};
		rc = store_put_doc(s, &r, err, errlen);
	}
	if (rc == 0)
		o->n_dirty = 0;
	if (rc == 0 && o->meta_dirty) {
		struct json_w w;
		buf_reset(&b);
		jw_init(&w, &b);
		jw_obj_begin(&w);
		jw_kstr(&w, "key", o->key);
		jw_kuint(&w, "since_ms", o->since_min * 60000);
		jw_obj_end(&w);
		struct store_record r = {EXACT_KIND, o->oid, now_ns, b.data};
		rc = store_put_doc(s, &r, err, errlen);
		o->meta_dirty = rc < 0;
	}
	buf_release(&b);
	return rc;
}

int exact_hour_parse(const char *json, size_t len, uint64_t *hour_ms, uint32_t good[60], uint32_t total[60])
{
	struct json_doc d;
	char msg[128];
	uint64_t v[3];
	memset(good, 0, 60 * sizeof(*good));
	memset(total, 0, 60 * sizeof(*total));
	if (json_doc_parse(&d, json, len, 0, msg, sizeof(msg)) < 0) {
		json_doc_release(&d);
		return -1;
	}
	const struct json *m = json_get(d.root, "m");
	int rc =
		json_uint64(json_get(d.root, "hour_ms"), hour_ms) == 0 && m && m->type == JSON_ARRAY ? 0 : -1;
	for (const struct json *e = rc == 0 ? m->child : NULL; e; e = e->next) {
		const struct json *x = e->type == JSON_ARRAY ? e->child : NULL;
		size_t k = 0;
		for (; x && k < 3 && json_uint64(x, &v[k]) == 0; x = x->next)
			k++;
		if (k == 3 && v[0] < 60 && v[1] <= v[2] && v[2] <= UINT32_MAX) {
			good[v[0]] = (uint32_t)v[1];
			total[v[0]] = (uint32_t)v[2];
		}
	}
	json_doc_release(&d);
	return rc;
}

/* One stored hour into the cells (under reg.lock). */
static void load_hour(struct obj *o, const char *json)
{
	uint64_t hour_ms;
	uint32_t good[60], total[60];
	if (exact_hour_parse(json, strlen(json), &hour_ms, good, total) < 0)
		return;
	for (unsigned i = 0; i < 60; i++) {
		struct cell *c = cell_at(o, hour_ms / 60000 + i);
		if (c && total[i])
			*c = (struct cell){good[i], total[i]};
	}
}

static int load(struct store *s, struct obj *o, char *err, size_t errlen)
{
	struct arena a;
	struct store_record *rows;
	size_t n;
	char kind[64];
	arena_init(&a);
	int rc = store_docs(s, EXACT_KIND, o->oid, &a, &rows, &n, err, errlen);
	struct json_doc d = {0};
	char msg[128];
	uint64_t since_ms = 0;
	if (rc == 0 && n &&
	    json_doc_parse(&d, rows[0].json, strlen(rows[0].json), 0, msg, sizeof(msg)) == 0) {
		const char *key = json_str(json_get(d.root, "key"));
		if (key && !strcmp(key, o->key))
			json_uint64(json_get(d.root, "since_ms"), &since_ms);
	}
	json_doc_release(&d);
	hours_kind(o, kind, sizeof(kind));
	if (rc == 0 && since_ms)
		rc = store_docs(s, kind, NULL, &a, &rows, &n, err, errlen);
	pthread_mutex_lock(&reg.lock);
	o->since_min = since_ms / 60000;
	for (size_t i = 0; rc == 0 && since_ms && i < n; i++)
		load_hour(o, rows[i].json);
	pthread_mutex_unlock(&reg.lock);
	arena_release(&a);
	return rc;
}

/* ---- refresh ------------------------------------------------------------------- */

/* The first count: every hour kept, from the request rows still there. */
static int backfill(struct store *s, struct obj *o, const struct watch_scope *sc, uint64_t th,
		    uint64_t recent_from, char *err, size_t errlen)
{
	uint64_t last_bad;
	int rc = verify_hours(s, o, sc, th, o->base_min, recent_from, &last_bad, err, errlen);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&reg.lock);
	o->since_min = last_bad ? (last_bad + 1) * 60 : o->base_min;
	o->meta_dirty = 1;
	pthread_mutex_unlock(&reg.lock);
	return 0;
}

static int refresh(struct store *s, const struct slo_snapshot *sn, struct obj *o,
		   const struct watch_scope *sc, uint64_t th, uint64_t now_ns, char *err, size_t errlen)
{
	uint64_t end = slo_window_end(now_ns) / NS_MIN, last_bad;
	uint64_t recent_from = (end - EXACT_RECENT_MIN) / 60 * 60;
	int rc = 0, verify = !o->loaded;
	pthread_mutex_lock(&reg.lock);
	cover(o, end);
	pthread_mutex_unlock(&reg.lock);
	if (!o->loaded && (rc = load(s, o, err, errlen)) < 0)
		return rc;
	o->loaded = 1;
	if (!o->since_min)
		rc = backfill(s, o, sc, th, recent_from, err, errlen);
	else if (verify || ++o->refreshes % EXACT_VERIFY_EVERY == 0) {
		uint64_t from = o->since_min > o->base_min ? o->since_min : o->base_min;
		rc = verify_hours(s, o, sc, th, from / 60 * 60, recent_from, &last_bad, err, errlen);
	}
	if (rc == 0) {
		uint64_t from = o->since_min > recent_from ? o->since_min : recent_from;
		rc = verify_minutes(s, sn, o, sc, th, from, end, err, errlen);
	}
	if (rc == 0)
		rc = save(s, o, now_ns, err, errlen);
	return rc;
}

int exact_refresh(struct store *s, const struct watch_scope *sc, uint64_t threshold_ms, uint64_t now_ns,
		  const struct slo_snapshot *sn, char *err, size_t errlen)
{
	struct obj *o = find_or_add(sc, threshold_ms);
	pthread_mutex_lock(&reg.refresh);
	int rc = 0;
	if (o->last_now_ns != now_ns) /* objectives shared by SLOs and rules: once a cycle */
		rc = refresh(s, sn && sn->end_ns == slo_window_end(now_ns) ? sn : NULL, o, sc, threshold_ms,
			     now_ns, err, errlen);
	if (rc == 0)
		o->last_now_ns = now_ns;
	pthread_mutex_unlock(&reg.refresh);
	return rc;
}

int exact_counts(const struct watch_scope *sc, uint64_t threshold_ms, uint64_t from_ns, uint64_t to_ns,
		 struct slo_counts *out, uint64_t *since_ns)
{
	char *key = key_of(sc, threshold_ms);
	memset(out, 0, sizeof(*out));
	*since_ns = 0;
	pthread_mutex_lock(&reg.lock);
	struct obj *o = find(key);
	int rc = o && o->since_min ? 0 : -1;
	if (rc == 0) {
		uint64_t from = from_ns / NS_MIN, to = to_ns / NS_MIN;
		if (from < o->since_min)
			from = o->since_min;
		for (uint64_t m = from; m < to; m++) {
			struct cell *c = cell_at(o, m);
			if (c) {
				out->good += c->good;
				out->total += c->total;
			}
		}
		*since_ns = o->since_min * NS_MIN;
	}
	pthread_mutex_unlock(&reg.lock);
	free(key);
	return rc;
}
