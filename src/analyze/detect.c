/*
 * detect.c - the detector's lifecycle, its bounded tables, and turning
 * accumulated keys into ranked findings (see detect.h).
 *
 * The detectors themselves live in detect_trace.c (spans) and
 * detect_metrics.c (metric points); this file owns what they share.
 */
#include "analyze/detect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/detect_internal.h"
#include "core/alloc.h"

/* clang-format off */
static const struct {
	const char *slug, *name;
} kinds[FINDING_KIND_COUNT] = {
	[FINDING_N_PLUS_ONE] = {"n-plus-one", "N+1 queries"},
	[FINDING_SEQUENTIAL] = {"sequential-calls", "Sequential calls that could run in parallel"},
	[FINDING_CACHEABLE] = {"cacheable-calls", "Repeated identical calls"},
	[FINDING_POOL_EXHAUSTION] = {"pool-exhaustion", "Connection-pool exhaustion"},
	[FINDING_MISSING_INDEX] = {"missing-index", "Slow repeated query"},
	[FINDING_LARGE_PAYLOAD] = {"large-payloads", "Large payloads"},
	[FINDING_RETRY_STORM] = {"retry-storm", "Retry storm"},
	[FINDING_TIMEOUTS] = {"timeouts", "Timeouts"},
	[FINDING_MEMORY_GROWTH] = {"memory-growth", "Memory growing without release"},
	[FINDING_CPU_SATURATION] = {"cpu-saturation", "CPU saturation"},
	[FINDING_VERSION_REGRESSION] = {"version-regression", "Version regression"},
	[FINDING_OWN_WORK] = {"own-work", "Route time in its own code"},
};
/* clang-format on */

const char *detect_kind_slug(enum finding_kind k)
{
	return (unsigned)k < FINDING_KIND_COUNT ? kinds[k].slug : "unknown";
}

const char *detect_kind_name(enum finding_kind k)
{
	return (unsigned)k < FINDING_KIND_COUNT ? kinds[k].name : "unknown";
}

const char *detect_priority_name(enum finding_priority p)
{
	return p == PRIORITY_HIGH ? "high" : p == PRIORITY_MEDIUM ? "medium" : "low";
}

void detect_config_init(struct detect_config *c)
{
	memset(c, 0, sizeof(*c));
	c->min_requests = 20;
	c->n_plus_one_min = 5;
	c->n_plus_one_sequential = 0.8;
	c->sequential_share = 0.5;
	c->cache_ttl_s = 60;
	c->cache_min_per_hour = 30;
	c->pool_wait_ms = 10;
	c->pool_wait_share = 0.01;
	c->slow_query_factor = 5;
	c->slow_query_min_ms = 20;
	c->large_payload_bytes = 1048576;
	c->large_payload_share = 0.1;
	c->retry_min_failures = 3;
	c->timeout_rate = 0.01;
	c->timeout_min = 10;
	c->memory_growth_per_hour = 0.02;
	c->memory_max_drop = 0.08;
	c->memory_min_hours = 1;
	c->cpu_high = 0.85;
	c->cpu_share = 0.05;
	c->version_ratio = 1.2;
	c->version_min_samples = 30;
	c->version_min_z = 4;
	c->own_work_share = 0.5;
	c->own_work_min_ms = 20;
	c->own_work_min_cpu = 0.8;
}

/* ---- hashing and the u64 map ------------------------------------------------ */

/* Eight bytes a step: internal keys only, never stored or shown. */
uint64_t detect_hash(uint64_t h, const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t w;
	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w ^ (uint64_t)n << 59) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

/* FNV-1a: the documented hash of finding ids. */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

void u64map_init(struct u64map *m)
{
	memset(m, 0, sizeof(*m));
}

void u64map_release(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	u64map_init(m);
}

uint32_t u64map_get(const struct u64map *m, uint64_t key)
{
	if (!m->cap)
		return DNONE;
	for (size_t i = mix64(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->vals[i] == DNONE)
			return DNONE;
		if (m->keys[i] == key)
			return m->vals[i];
	}
}

static void u64map_grow(struct u64map *m)
{
	struct u64map g;
	g.cap = m->cap ? m->cap * 2 : 64;
	g.count = 0;
	g.keys = xmalloc(g.cap * sizeof(*g.keys));
	g.vals = xmalloc(g.cap * sizeof(*g.vals));
	memset(g.vals, 0xff, g.cap * sizeof(*g.vals));
	for (size_t i = 0; i < m->cap; i++)
		if (m->vals[i] != DNONE)
			*u64map_slot(&g, m->keys[i]) = m->vals[i];
	free(m->keys);
	free(m->vals);
	*m = g;
}

uint32_t *u64map_slot(struct u64map *m, uint64_t key)
{
	if ((m->count + 1) * 2 > m->cap)
		u64map_grow(m);
	size_t i = mix64(key) & (m->cap - 1);
	while (m->vals[i] != DNONE && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (m->vals[i] == DNONE) {
		m->keys[i] = key;
		m->count++;
	}
	return &m->vals[i];
}

/* ---- names ---------------------------------------------------------------- */

uint32_t detect_intern(struct detector *d, const char *s, size_t len)
{
	int64_t v;
	if (!s)
		return 0;
	if (strmap_get(&d->names, s, len, &v) == 0)
		return (uint32_t)v;
	if (d->n_names >= (size_t)DETECT_MAX_KEYS * 8) {
		d->st.folded++;
		return 0;
	}
	d->name = xgrow((void *)d->name, &d->cap_names, d->n_names + 1, sizeof(*d->name));
	d->name[d->n_names] = arena_strndup(&d->arena, s, len);
	strmap_put(&d->names, s, len, (int64_t)d->n_names);
	return (uint32_t)d->n_names++;
}

/* ---- tables --------------------------------------------------------------- */

static uint64_t key_hash(enum acc_table tb, const uint32_t k[6])
{
	uint64_t a = ((uint64_t)k[0] << 32 | k[1]) ^ (uint64_t)tb << 59;
	uint64_t b = (uint64_t)k[2] << 32 | k[3], c = (uint64_t)k[4] << 32 | k[5];
	/* Odd multipliers keep a change of b alone or c alone from cancelling out. */
	return mix64(a ^ b * 0x9e3779b97f4a7c15ull ^ c * 0xc2b2ae3d27d4eb4full);
}

static int acc_same(const struct acc *a, uint64_t h, const uint32_t k[6])
{
	return a->hash == h && a->service == k[0] && a->endpoint == k[1] && a->tool == k[2] &&
	       a->detail == k[3] && a->env == k[4] && a->version == k[5];
}

/* A slot of the accumulator at `index` whose key hashes to `h` (see struct table). */
static uint64_t slot_value(uint64_t h, size_t index)
{
	return (h & 0xffffffff00000000ull) | (uint64_t)(index + 1);
}

static void table_rehash(struct table *t, size_t n_slots)
{
	t->last = 0; /* pruning moves accumulators */
	free(t->slots);
	t->n_slots = n_slots;
	t->slots = xcalloc(n_slots, sizeof(*t->slots));
	for (size_t i = 0; i < t->n; i++) {
		size_t s = mix64(t->a[i].hash) & (n_slots - 1);
		while (t->slots[s])
			s = (s + 1) & (n_slots - 1);
		t->slots[s] = slot_value(t->a[i].hash, i);
	}
}

static struct acc *table_find(struct table *t, uint64_t h, const uint32_t k[6], size_t *slot)
{
	if (!t->n_slots)
		table_rehash(t, 64);
	size_t s = mix64(h) & (t->n_slots - 1);
	for (; t->slots[s]; s = (s + 1) & (t->n_slots - 1)) {
		if (t->slots[s] >> 32 != h >> 32)
			continue; /* another key: no need to read its accumulator */
		struct acc *a = &t->a[(uint32_t)t->slots[s] - 1];
		if (acc_same(a, h, k))
			return a;
	}
	*slot = s;
	return NULL;
}

static struct acc *table_insert(struct table *t, uint64_t h, const uint32_t k[6], size_t slot)
{
	t->a = xgrow(t->a, &t->cap, t->n + 1, sizeof(*t->a));
	struct acc *a = &t->a[t->n];
	memset(a, 0, sizeof(*a));
	a->hash = h;
	a->service = k[0];
	a->endpoint = k[1];
	a->tool = k[2];
	a->detail = k[3];
	a->env = k[4];
	a->version = k[5];
	a->last_seq = UINT64_MAX;
	t->slots[slot] = slot_value(h, t->n++);
	if (t->n * 2 > t->n_slots)
		table_rehash(t, t->n_slots * 2);
	return a;
}

struct acc *acc_get(struct detector *d, enum acc_table tb, uint32_t service, uint32_t endpoint, uint32_t tool,
		    uint32_t detail, uint32_t env, uint32_t version)
{
	struct table *t = &d->t[tb];
	const uint32_t k[6] = {service, endpoint, tool, detail, env, version};
	if (t->last && !memcmp(t->last_key, k, sizeof(k)))
		return &t->a[t->last - 1];
	uint64_t h = key_hash(tb, k);
	size_t slot = 0;
	struct acc *a = table_find(t, h, k, &slot);
	if (!a) {
		if (t->n >= DETECT_MAX_KEYS) {
			d->st.folded++;
			return NULL;
		}
		a = table_insert(t, h, k, slot);
	}
	memcpy(t->last_key, k, sizeof(k));
	t->last = (size_t)(a - t->a) + 1;
	return a;
}

struct acc *acc_find(struct detector *d, enum acc_table tb, uint32_t service, uint32_t endpoint,
		     uint32_t tool, uint32_t detail, uint32_t env, uint32_t version)
{
	const uint32_t k[6] = {service, endpoint, tool, detail, env, version};
	size_t slot = 0;
	return table_find(&d->t[tb], key_hash(tb, k), k, &slot);
}

static void acc_release(struct acc *a)
{
	if (a->sk) {
		sketch_release(a->sk);
		free(a->sk);
	}
	free(a->samples);
	free(a->text);
}

/*
 * Lossy counting: when the table is full, drop every key seen no more often
 * than the rarest one, and remember that count; a key admitted afterwards
 * may have been seen that many times before (acc.err), so n - err is a
 * lower bound of its true count and n an upper bound.
 */
static void cache_prune(struct detector *d, struct table *t)
{
	uint64_t min = UINT64_MAX;
	size_t k = 0;
	for (size_t i = 0; i < t->n; i++)
		if (t->a[i].n < min)
			min = t->a[i].n;
	for (size_t i = 0; i < t->n; i++) {
		if (t->a[i].n <= min) {
			acc_release(&t->a[i]);
			d->st.folded++;
			continue;
		}
		t->a[k++] = t->a[i];
	}
	t->n = k;
	if (min > t->pruned)
		t->pruned = min;
	table_rehash(t, t->n_slots);
}

struct acc *acc_cache(struct detector *d, uint64_t hash, uint32_t service, uint32_t tool)
{
	struct table *t = &d->t[T_CACHE];
	const uint32_t k[6] = {service, 0, tool, 0, 0, 0};
	size_t slot = 0;
	struct acc *a = table_find(t, hash, k, &slot);
	if (a)
		return a;
	if (t->n >= DETECT_MAX_KEYS) {
		cache_prune(d, t);
		table_find(t, hash, k, &slot);
	}
	a = table_insert(t, hash, k, slot);
	a->err = t->pruned;
	return a;
}

/* Example order: the heavier first; between equals, the smaller trace id. */
static int example_before(double wa, const uint8_t *ia, double wb, const uint8_t *ib)
{
	return wa > wb || (wa == wb && memcmp(ia, ib, 16) < 0);
}

static void examples_add(struct examples *ex, const uint8_t id[16], double w)
{
	unsigned i;
	for (i = 0; i < ex->n; i++) {
		if (!memcmp(ex->id[i], id, 16)) {
			ex->w[i] += w;
			goto sort;
		}
	}
	if (ex->n < DETECT_MAX_EXAMPLES) {
		i = ex->n++;
	} else {
		i = DETECT_MAX_EXAMPLES - 1;
		if (!example_before(w, id, ex->w[i], ex->id[i]))
			return;
	}
	memcpy(ex->id[i], id, 16);
	ex->w[i] = w;
sort:
	for (; i > 0 && example_before(ex->w[i], ex->id[i], ex->w[i - 1], ex->id[i - 1]); i--) {
		uint8_t tmp[16];
		double tw = ex->w[i];
		memcpy(tmp, ex->id[i], 16);
		memcpy(ex->id[i], ex->id[i - 1], 16);
		memcpy(ex->id[i - 1], tmp, 16);
		ex->w[i] = ex->w[i - 1];
		ex->w[i - 1] = tw;
	}
}

/* Offer the last trace that touched `a`, with its whole weight, as an example. */
static void acc_offer(struct acc *a)
{
	if (a->last_seq == UINT64_MAX)
		return;
	examples_add(&a->ex, a->cur_id, a->cur_w);
	a->last_seq = UINT64_MAX;
}

void acc_touch(struct detector *d, struct acc *a, double weight)
{
	acc_touch_at(d, a, weight, d->root_ns);
}

void acc_touch_at(struct detector *d, struct acc *a, double weight, double latency_ns)
{
	if (a->last_seq == d->seq) { /* this trace again */
		a->cur_w += weight;
		return;
	}
	acc_offer(a);
	a->last_seq = d->seq;
	a->affected++;
	a->lat += latency_ns;
	memcpy(a->cur_id, d->trace_id, 16);
	a->cur_w = weight;
}

void acc_where(struct detector *d, struct acc *a, uint32_t endpoint, uint64_t start_ns)
{
	if (!endpoint || (a->where && start_ns > a->where_ns))
		return;
	if (a->where && start_ns == a->where_ns &&
	    strcmp(detect_name(d, endpoint), detect_name(d, a->where)) >= 0)
		return;
	a->where = endpoint;
	a->where_ns = start_ns;
}

static void detect_offer_all(struct detector *d)
{
	for (int t = 0; t < T_COUNT; t++)
		for (size_t i = 0; i < d->t[t].n; i++)
			acc_offer(&d->t[t].a[i]);
}

void acc_add_sample(struct detector *d, struct acc *a, uint64_t t, double v, double v2)
{
	if (a->n_samples >= DETECT_MAX_SAMPLES) {
		d->st.folded++;
		return;
	}
	a->samples = xgrow(a->samples, &a->cap_samples, a->n_samples + 1, sizeof(*a->samples));
	a->samples[a->n_samples++] = (struct sample){t, v, v2};
}

static uint64_t minute_key(enum acc_table t, size_t acc_index, uint64_t minute)
{
	return ((uint64_t)t << 58) ^ ((uint64_t)acc_index << 32) ^ minute;
}

struct minute_v *detect_minute(struct detector *d, enum acc_table t, size_t acc_index, uint64_t minute)
{
	uint64_t key = minute_key(t, acc_index, minute);
	uint32_t v = u64map_get(&d->minutes, key);
	if (v != DNONE)
		return &d->minute_v[v];
	if (d->n_minute_v >= DETECT_MAX_MINUTES) {
		d->st.folded++;
		return NULL;
	}
	d->minute_v = xgrow(d->minute_v, &d->cap_minute_v, d->n_minute_v + 1, sizeof(*d->minute_v));
	memset(&d->minute_v[d->n_minute_v], 0, sizeof(*d->minute_v));
	*u64map_slot(&d->minutes, key) = (uint32_t)d->n_minute_v;
	return &d->minute_v[d->n_minute_v++];
}

struct minute_v *detect_minute_get(const struct detector *d, enum acc_table t, size_t acc_index,
				   uint64_t minute)
{
	uint32_t v = u64map_get(&d->minutes, minute_key(t, acc_index, minute));
	return v == DNONE ? NULL : &d->minute_v[v];
}

/* ---- merging ------------------------------------------------------------- */

/* Add what `s` (of another detector, names mapped by `map`) accumulated to `a`. */
static void acc_merge(struct detector *d, enum acc_table tb, struct acc *a, const struct acc *s,
		      const uint32_t *map)
{
	a->n += s->n;
	a->n2 += s->n2;
	a->n3 += s->n3;
	a->affected += s->affected;
	a->sum += s->sum;
	a->sum2 += s->sum2;
	a->sum3 += s->sum3;
	a->sumsq += s->sumsq;
	if (tb == T_POOL) /* the longest wait */
		a->sumsq2 = fmax(a->sumsq2, s->sumsq2);
	else
		a->sumsq2 += s->sumsq2;
	a->lat += s->lat;
	a->waste += s->waste;
	a->max = fmax(a->max, s->max);
	if (s->where)
		acc_where(d, a, map[s->where], s->where_ns);
	if (s->tag_ns > a->tag_ns || (s->tag_ns == a->tag_ns && s->tag > a->tag)) {
		a->tag = s->tag;
		a->tag_ns = s->tag_ns;
	}
	if (s->sk) {
		if (!a->sk) {
			a->sk = xmalloc(sizeof(*a->sk));
			sketch_init(a->sk);
		}
		sketch_merge(a->sk, s->sk);
	}
	for (unsigned i = 0; i < s->ex.n; i++)
		examples_add(&a->ex, s->ex.id[i], s->ex.w[i]);
	if (s->last_seq != UINT64_MAX)
		examples_add(&a->ex, s->cur_id, s->cur_w);
	for (size_t i = 0; i < s->n_samples; i++)
		acc_add_sample(d, a, s->samples[i].t, s->samples[i].v, s->samples[i].v2);
	if (!a->text && s->text)
		a->text = xstrdup(s->text);
}

/* The accumulator in `d` for the key of `s`; NULL when the table is full. */
static struct acc *acc_merge_key(struct detector *d, enum acc_table tb, const struct acc *s,
				 const uint32_t *map)
{
	if (tb != T_CACHE)
		return acc_get(d, tb, map[s->service], map[s->endpoint], map[s->tool], map[s->detail],
			       map[s->env], map[s->version]);
	/* keyed by the hash of the arguments: what acc_cache() does, plus what `s` may have missed */
	struct acc *a = acc_cache(d, s->hash, map[s->service], map[s->tool]);
	a->err += s->err;
	return a;
}

static void minutes_merge(struct detector *d, const struct detector *src, uint32_t *const *idx)
{
	for (size_t i = 0; i < src->minutes.cap; i++) {
		if (src->minutes.vals[i] == DNONE)
			continue;
		/* the parts of minute_key() */
		uint64_t key = src->minutes.keys[i];
		enum acc_table tb = (enum acc_table)(key >> 58);
		uint32_t at = idx[tb][(key >> 32) & 0x3ffffff];
		if (at == DNONE)
			continue;
		const struct minute_v *s = &src->minute_v[src->minutes.vals[i]];
		struct minute_v *m = detect_minute(d, tb, at, key & 0xffffffff);
		if (m) {
			m->a += s->a;
			m->b += s->b;
			m->n += s->n;
		}
	}
}

int detect_merge(struct detector *dst, const struct detector *src)
{
	uint32_t *map = xmalloc(src->n_names * sizeof(*map));
	uint32_t *idx[T_COUNT];
	map[0] = 0;
	for (size_t i = 1; i < src->n_names; i++)
		map[i] = detect_intern(dst, src->name[i], strlen(src->name[i]));
	detect_offer_all(dst);
	for (int tb = 0; tb < T_COUNT; tb++) {
		const struct table *t = &src->t[tb];
		idx[tb] = xmalloc((t->n + 1) * sizeof(*idx[tb]));
		for (size_t i = 0; i < t->n; i++) {
			struct acc *a = acc_merge_key(dst, (enum acc_table)tb, &t->a[i], map);
			idx[tb][i] = a ? (uint32_t)(a - dst->t[tb].a) : DNONE;
			if (a)
				acc_merge(dst, (enum acc_table)tb, a, &t->a[i], map);
		}
		if (t->pruned > dst->t[tb].pruned)
			dst->t[tb].pruned = t->pruned;
	}
	minutes_merge(dst, src, idx);
	if (src->t_min < dst->t_min)
		dst->t_min = src->t_min;
	if (src->t_max > dst->t_max)
		dst->t_max = src->t_max;
	dst->st.traces += src->st.traces;
	dst->st.spans += src->st.spans;
	dst->st.points += src->st.points;
	dst->st.requests += src->st.requests;
	dst->st.folded += src->st.folded;
	for (int tb = 0; tb < T_COUNT; tb++)
		free(idx[tb]);
	free(map);
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

struct detector *detect_new(const struct detect_config *cfg)
{
	struct detector *d = xcalloc(1, sizeof(*d));
	if (cfg)
		d->cfg = *cfg;
	else
		detect_config_init(&d->cfg);
	arena_init(&d->arena);
	arena_init(&d->out);
	strmap_init(&d->names);
	u64map_init(&d->minutes);
	u64map_init(&d->norm_memo);
	d->name = xgrow(NULL, &d->cap_names, 64, sizeof(*d->name));
	d->name[0] = NULL;
	d->n_names = 1;
	d->t_min = UINT64_MAX;
	return d;
}

void detect_free(struct detector *d)
{
	if (!d)
		return;
	for (int t = 0; t < T_COUNT; t++) {
		for (size_t i = 0; i < d->t[t].n; i++)
			acc_release(&d->t[t].a[i]);
		free(d->t[t].a);
		free(d->t[t].slots);
	}
	u64map_release(&d->minutes);
	u64map_release(&d->norm_memo);
	free(d->minute_v);
	free(d->ts);
	free(d->order);
	free(d->kids);
	free(d->stack);
	free(d->htab);
	free(d->f);
	free((void *)d->name);
	strmap_release(&d->names);
	arena_release(&d->arena);
	arena_release(&d->out);
	free(d);
}

void detect_compact(struct detector *d)
{
	for (int tb = 0; tb < T_COUNT; tb++) {
		struct table *t = &d->t[tb];
		if (t->cap <= t->n || !t->n)
			continue;
		t->a = xrealloc(t->a, t->n * sizeof(*t->a));
		t->cap = t->n;
		size_t n_slots = 64;
		while (n_slots < 2 * t->n)
			n_slots *= 2;
		if (n_slots < t->n_slots)
			table_rehash(t, n_slots);
	}
}

void detect_get_stats(const struct detector *d, struct detect_stats *st)
{
	*st = d->st;
}

double detect_window_s(const struct detector *d)
{
	if (d->t_min == UINT64_MAX || d->t_max <= d->t_min)
		return 0;
	return (double)(d->t_max - d->t_min) / NS_PER_S;
}

/* ---- findings ------------------------------------------------------------- */

static void finding_id(const struct detector *d, struct finding *f)
{
	const char *parts[] = {
		detect_kind_slug(f->kind), f->service, f->endpoint, f->tool, f->detail, f->environment};
	uint64_t h = DETECT_HASH_INIT;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (parts[i])
			h = fnv1a(h, parts[i], strlen(parts[i]));
		h = fnv1a(h, "\x1f", 1);
	}
	static const char hexd[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++)
		f->id[i] = hexd[(h >> (60 - 4 * i)) & 15];
	f->id[16] = 0;
	(void)d;
}

struct finding *detect_add_finding(struct detector *d, enum finding_kind k, const struct acc *a)
{
	d->f = xgrow(d->f, &d->cap_f, d->n_f + 1, sizeof(*d->f));
	struct finding *f = &d->f[d->n_f++];
	memset(f, 0, sizeof(*f));
	f->kind = k;
	f->doc = detect_kind_slug(k);
	f->total_requests = d->st.requests;
	f->window_s = detect_window_s(d);
	if (a) {
		f->service = detect_name(d, a->service);
		f->endpoint = detect_name(d, a->endpoint);
		f->tool = detect_name(d, a->tool);
		f->detail = detect_name(d, a->detail);
		f->environment = detect_name(d, a->env);
		f->affected_requests = a->affected;
		f->affected_latency_ns = a->affected ? a->lat / (double)a->affected : 0;
		f->n_examples = a->ex.n;
		memcpy(f->examples, a->ex.id, sizeof(f->examples));
	}
	return f;
}

/*
 * Request-time findings: p = saving share of the affected requests'
 * latency, s = affected share of all requests.
 *   HIGH    p >= 40% and s >= 2%
 *   MEDIUM  p >= 10% and s >= 0.5%, or p >= 40% and s >= 0.1%
 *   LOW     otherwise
 * Metric findings set their priority themselves (detect_metrics.c).
 */
void detect_rank(struct detector *d, struct finding *f)
{
	double p = f->saving_pct / 100.0;
	double s = f->total_requests ? (double)f->affected_requests / (double)f->total_requests : 0;
	double hours = f->window_s / 3600.0;
	(void)d;
	if (f->per_hour == 0 && hours > 0)
		f->per_hour = (double)f->occurrences / hours;
	if (p >= 0.4 && s >= 0.02)
		f->priority = PRIORITY_HIGH;
	else if ((p >= 0.1 && s >= 0.005) || (p >= 0.4 && s >= 0.001))
		f->priority = PRIORITY_MEDIUM;
	else
		f->priority = PRIORITY_LOW;
}

static int finding_cmp(const void *pa, const void *pb)
{
	const struct finding *a = pa, *b = pb;
	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	if (a->saved_s_per_hour != b->saved_s_per_hour)
		return a->saved_s_per_hour > b->saved_s_per_hour ? -1 : 1;
	return strcmp(a->id, b->id);
}

static int by_id(const void *pa, const void *pb, void *ctx)
{
	const struct finding *f = ctx;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	int c = strcmp(f[a].id, f[b].id);
	return c ? c : a < b ? -1 : a > b;
}

/*
 * One finding per subject: findings are ranked, so of those with one id
 * (the same kind and subject, e.g. two series of one service's memory) the
 * first stays and the others, restating it, go.  The titles of
 * analyze/recommend.c name every part of the id, so no two findings left
 * share a title.
 */
static void drop_restated(struct detector *d)
{
	size_t *idx = xmalloc((d->n_f + 1) * sizeof(*idx)), k = 0;
	uint8_t *gone = xcalloc(d->n_f + 1, 1);
	for (size_t i = 0; i < d->n_f; i++)
		idx[i] = i;
	qsort_r(idx, d->n_f, sizeof(*idx), by_id, d->f);
	for (size_t i = 1; i < d->n_f; i++)
		if (!strcmp(d->f[idx[i]].id, d->f[idx[i - 1]].id))
			gone[idx[i]] = 1;
	for (size_t i = 0; i < d->n_f; i++)
		if (!gone[i])
			d->f[k++] = d->f[i];
	d->n_f = k;
	free(gone);
	free(idx);
}

int detect_finish(struct detector *d, const struct finding **out, size_t *n)
{
	d->n_f = 0;
	arena_release(&d->out);
	detect_offer_all(d);
	detect_finish_traces(d);
	detect_finish_metrics(d);
	for (size_t i = 0; i < d->n_f; i++)
		finding_id(d, &d->f[i]);
	if (d->n_f)
		qsort(d->f, d->n_f, sizeof(*d->f), finding_cmp);
	drop_restated(d);
	*out = d->f;
	*n = d->n_f;
	return 0;
}
