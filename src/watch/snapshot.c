/*
 * snapshot.c - per-key window counts for the SLOs of one cycle (see
 * snapshot.h).
 */
#include "watch/snapshot.h"

#include <string.h>

#include "core/log.h"

const uint64_t snapshot_windows_s[SNAP_WINDOWS] = {
	300, 1800, 3600, 6 * 3600, 3 * 86400, 7 * 86400, 28 * 86400, 30 * 86400,
};

#define SMALL_MAX_S (6 * 3600) /* windows read wholly from the minute rows */

enum part { PART_RECENT, PART_HOURS, PART_EDGE };

struct feed {
	struct slo_snapshot *sn;
	enum part part;
	int edge;
	size_t window; /* PART_EDGE: the window whose start edge this is */
};

static struct snap_key *key_of(struct slo_snapshot *sn, const struct rollup_row *r, int edge)
{
	const char *dims[7] = {r->service, r->endpoint,	  r->tool,  r->env,
			       r->version, r->department, r->intent};
	struct buf *b = &sn->key;
	buf_reset(b);
	buf_putc(b, (char)r->status);
	buf_putc(b, (char)edge);
	for (int i = 0; i < 7; i++) {
		buf_putc(b, dims[i] ? 1 : 0); /* NULL and "" apart */
		buf_append(b, dims[i] ? dims[i] : "", dims[i] ? strlen(dims[i]) + 1 : 1);
	}
	const char *buf = b->data;
	size_t len = b->len;
	int64_t at;
	if (strmap_get(&sn->index, buf, len, &at) == 0)
		return &sn->keys[at];
	sn->keys = arena_grow(&sn->a, sn->keys, &sn->cap, sn->n + 1, sizeof(*sn->keys));
	struct snap_key *k = &sn->keys[sn->n];
	memset(k, 0, sizeof(*k));
	for (int i = 0; i < 7; i++)
		k->dims[i] = strmap_intern(&sn->strings, &sn->a, dims[i]);
	k->status = r->status;
	k->edge = (uint8_t)edge;
	strmap_put(&sn->index, buf, len, (int64_t)sn->n);
	return &sn->keys[sn->n++];
}

static void add(struct snap_key *k, size_t w, const struct rollup_row *r)
{
	k->count[w] += r->count;
	for (int t = 0; t < TIER_COUNT; t++)
		k->tiers[w][t] += r->tiers[t];
}

/* Which windows a row counts in; see snapshot.h for the reads. */
static void feed_row(struct feed *f, const struct rollup_row *r)
{
	struct slo_snapshot *sn = f->sn;
	struct snap_key *k = key_of(sn, r, f->edge);
	uint64_t hour_end = sn->end_ns / NS_PER_HOUR * NS_PER_HOUR;
	if (f->part == PART_EDGE) {
		add(k, f->window, r);
		return;
	}
	uint64_t m = r->t_ns / NS_PER_MIN;
	if (f->part == PART_RECENT && m >= sn->minutes_from && m < sn->minutes_from + SNAP_MINUTES) {
		if (!k->minutes)
			k->minutes = arena_zalloc(&sn->a, SNAP_MINUTES * sizeof(*k->minutes));
		k->minutes[m - sn->minutes_from] += (uint32_t)r->count;
	}
	for (size_t w = 0; w < SNAP_WINDOWS; w++) {
		uint64_t from = sn->end_ns - snapshot_windows_s[w] * NS_PER_S;
		int small = snapshot_windows_s[w] <= SMALL_MAX_S;
		if (f->part == PART_RECENT && r->t_ns >= from && (small || r->t_ns >= hour_end))
			add(k, w, r);
		else if (f->part == PART_HOURS && !small &&
			 r->t_ns >= (from + NS_PER_HOUR - 1) / NS_PER_HOUR * NS_PER_HOUR)
			add(k, w, r);
	}
}

static int read_part(struct slo_snapshot *sn, struct store *st, struct feed *f, uint64_t from, uint64_t to,
		     unsigned res, char *err, size_t errlen)
{
	struct store_query q;
	struct arena a;
	struct rollup_row *rows;
	size_t n;
	if (from >= to)
		return 0;
	store_query_init(&q);
	q.from_ns = from;
	q.to_ns = to;
	q.edge_only = f->edge;
	arena_init(&a);
	int rc = store_rollups(st, &q, res, &a, &rows, &n, err, errlen);
	if (rc == 0) {
		for (size_t i = 0; i < n; i++)
			feed_row(f, &rows[i]);
		store_rollups_release(rows, n);
	}
	arena_release(&a);
	return rc;
}

static int read_all(struct slo_snapshot *sn, struct store *st, int edge, char *err, size_t errlen)
{
	uint64_t end = sn->end_ns, hour_end = end / NS_PER_HOUR * NS_PER_HOUR;
	uint64_t longest = end - snapshot_windows_s[SNAP_WINDOWS - 1] * NS_PER_S;
	struct feed f = {sn, PART_RECENT, edge, 0};
	int rc = read_part(sn, st, &f, sn->minutes_from * NS_PER_MIN, end, 60, err, errlen);
	f.part = PART_HOURS;
	if (rc == 0)
		rc = read_part(sn, st, &f, (longest + NS_PER_HOUR - 1) / NS_PER_HOUR * NS_PER_HOUR, hour_end,
			       3600, err, errlen);
	f.part = PART_EDGE;
	for (size_t w = 0; rc == 0 && w < SNAP_WINDOWS; w++) {
		uint64_t from = end - snapshot_windows_s[w] * NS_PER_S;
		if (snapshot_windows_s[w] <= SMALL_MAX_S)
			continue;
		f.window = w;
		rc = read_part(sn, st, &f, from, (from + NS_PER_HOUR - 1) / NS_PER_HOUR * NS_PER_HOUR, 60,
			       err, errlen);
	}
	return rc;
}

int slo_snapshot_take(struct slo_snapshot *sn, struct store *st, uint64_t now_ns, char *err, size_t errlen)
{
	memset(sn, 0, sizeof(*sn));
	arena_init(&sn->a);
	strmap_init(&sn->index);
	strmap_init(&sn->strings);
	buf_init(&sn->key, BUF_NO_LIMIT);
	sn->end_ns = slo_window_end(now_ns);
	sn->minutes_from = (sn->end_ns - SMALL_MAX_S * NS_PER_S) / NS_PER_HOUR * 60;
	int rc = read_all(sn, st, 0, err, errlen);
	if (rc == 0)
		rc = read_all(sn, st, 1, err, errlen);
	return rc;
}

void slo_snapshot_release(struct slo_snapshot *sn)
{
	strmap_release(&sn->index);
	strmap_release(&sn->strings);
	buf_release(&sn->key);
	arena_release(&sn->a);
	memset(sn, 0, sizeof(*sn));
}

static int key_matches(const struct snap_key *k, const struct watch_scope *s)
{
	const char *want[7] = {s->service, s->endpoint,	  s->tool,  s->env,
			       s->version, s->department, s->intent};
	for (int i = 0; i < 7; i++)
		if (want[i] && (!k->dims[i] || strcmp(want[i], k->dims[i])))
			return 0;
	return 1;
}

int slo_snapshot_counts(const struct slo_snapshot *sn, const struct slo *s, uint64_t window_s,
			struct slo_counts *out)
{
	size_t w = 0;
	int edge = !s->scope.service && !s->scope.endpoint;
	while (w < SNAP_WINDOWS && snapshot_windows_s[w] != window_s)
		w++;
	memset(out, 0, sizeof(*out));
	if (w == SNAP_WINDOWS)
		return -1;
	for (size_t i = 0; i < sn->n; i++) {
		const struct snap_key *k = &sn->keys[i];
		if (k->edge != edge || !key_matches(k, &s->scope))
			continue;
		struct rollup_row r = {.count = k->count[w], .status = k->status};
		memcpy(r.tiers, k->tiers[w], sizeof(r.tiers));
		slo_count_row(s, &r, out);
	}
	return 0;
}

int slo_snapshot_minutes(const struct slo_snapshot *sn, const struct watch_scope *sc, uint64_t from_min,
			 uint64_t to_min, uint64_t *tot)
{
	int edge = !sc->service && !sc->endpoint;
	if (from_min < sn->minutes_from || to_min > sn->minutes_from + SNAP_MINUTES || from_min > to_min)
		return -1;
	memset(tot, 0, (size_t)(to_min - from_min) * sizeof(*tot));
	for (size_t i = 0; i < sn->n; i++) {
		const struct snap_key *k = &sn->keys[i];
		if (!k->minutes || k->edge != edge || !key_matches(k, sc))
			continue;
		for (uint64_t m = from_min; m < to_min; m++)
			tot[m - from_min] += k->minutes[m - sn->minutes_from];
	}
	return 0;
}
