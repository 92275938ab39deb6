/*
 * clickhouse_profiles.c - profiles in ClickHouse: a row per profile with
 * its folded stacks zstd-compressed, as the embedded store keeps them
 * (store.h, "Profiles").  Ids are time-ordered and carry the writer slot
 * of the instance (clickhouse_lease.c), so instances never make the same.
 */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/clickhouse_store.h"

/* (ms since the epoch << CH_SLOT_BITS) | slot, increasing in this
 * instance: below 2^53, so JSON readers (JavaScript) keep it exact. */
static int64_t profile_id(struct ch_store *s)
{
	pthread_mutex_lock(&s->id_lock);
	uint64_t slot = s->slot_no >= 0 ? (uint64_t)s->slot_no : 0;
	uint64_t id = (clock_now_ns() / 1000000) << CH_SLOT_BITS | slot;
	if (id <= s->last_profile_id)
		id = s->last_profile_id + CH_SLOTS;
	s->last_profile_id = id;
	pthread_mutex_unlock(&s->id_lock);
	return (int64_t)id;
}

int ch_put_profile(struct store *st, const struct profile_row *p, int64_t *id, char *err, size_t errlen)
{
	struct ch_store *s = ch_of(st);
	void *z;
	size_t zlen;
	int rc = store_profile_pack(p, &z, &zlen, err, errlen);
	if (rc < 0)
		return rc;
	int64_t pid = profile_id(s);
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	rbw_u64(&b, (uint64_t)pid);
	rbw_u64(&b, p->start_ns);
	rbw_u64(&b, p->end_ns);
	const char *strs[] = {p->service, p->version, p->env, p->type, p->unit, p->labels};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		rbw_str(&b, strs[i]); /* NULL is "" */
	rbw_u64(&b, p->total);
	rbw_u64(&b, p->folded_len);
	rbw_bytes(&b, z, zlen);
	free(z);
	rc = ch_exec(s->ch,
		     "INSERT INTO profiles (id, start_ns, end_ns, service, version, env, type, unit, labels,"
		     " total, raw_len, data) FORMAT RowBinary",
		     b.data, b.len, NULL, err, errlen);
	buf_release(&b);
	if (rc == 0 && id)
		*id = pid;
	return rc;
}

struct profiles_read {
	struct arena *a;
	int with_data;
	struct profile_row *v;
	size_t n, cap;
	char *err;
	size_t errlen;
};

static const char *str_or_null(struct arena *a, const char *s, size_t n)
{
	return n ? arena_strndup(a, s, n) : NULL;
}

/* The stacks of a row, decompressed into the arena.  -1: corrupt. */
static int unpack(struct profiles_read *pr, struct profile_row *p, uint64_t raw, const void *z, size_t zlen)
{
	if (raw > PROFILE_MAX_RAW)
		return errf(pr->err, pr->errlen, "profile %lld: bad stored length", (long long)p->id);
	char *text = arena_alloc(pr->a, (size_t)raw + 1);
	size_t got = ZSTD_decompress(text, (size_t)raw, z, zlen);
	if (ZSTD_isError(got) || got != (size_t)raw)
		return errf(pr->err, pr->errlen, "profile %lld: corrupt stacks", (long long)p->id);
	text[raw] = '\0';
	p->folded = text;
	p->folded_len = (size_t)raw;
	return 0;
}

static int read_profile(void *arg, struct rb *r)
{
	struct profiles_read *pr = arg;
	struct profile_row p = {0};
	const char *f[6];
	size_t len[6];
	p.id = (int64_t)rb_u64(r);
	p.start_ns = rb_u64(r);
	p.end_ns = rb_u64(r);
	for (int i = 0; i < 6; i++) /* service, version, env, type, unit, labels */
		f[i] = rb_str(r, &len[i]);
	p.total = rb_u64(r);
	uint64_t raw = rb_u64(r);
	size_t zlen;
	const char *z = rb_str(r, &zlen);
	if (r->short_read)
		return 0;
	p.service = arena_strndup(pr->a, f[0], len[0]);
	p.version = str_or_null(pr->a, f[1], len[1]);
	p.env = str_or_null(pr->a, f[2], len[2]);
	p.type = arena_strndup(pr->a, f[3], len[3]);
	p.unit = arena_strndup(pr->a, f[4], len[4]);
	p.labels = str_or_null(pr->a, f[5], len[5]);
	if (pr->with_data && unpack(pr, &p, raw, z, zlen) < 0)
		return -1;
	pr->v = arena_grow(pr->a, pr->v, &pr->cap, pr->n + 1, sizeof(*pr->v));
	pr->v[pr->n++] = p;
	return 1;
}

static void where_eq(struct buf *q, const char *col, const char *v)
{
	if (!v)
		return;
	buf_printf(q, " AND %s = ", col);
	ch_quote(q, v);
}

int ch_profiles(struct store *st, const struct profile_query *q, struct arena *a, struct profile_row **rows,
		size_t *n, char *err, size_t errlen)
{
	struct buf sql;
	buf_init(&sql, BUF_NO_LIMIT);
	buf_printf(
		&sql,
		"SELECT id, start_ns, end_ns, service, version, env, type, unit, labels, total, raw_len, %s"
		" FROM profiles WHERE end_ns >= %llu AND start_ns < %llu",
		q->with_data ? "data" : "''", (unsigned long long)q->from_ns,
		(unsigned long long)(q->to_ns ? q->to_ns : INT64_MAX));
	where_eq(&sql, "service", q->service);
	where_eq(&sql, "version", q->version);
	where_eq(&sql, "env", q->env);
	where_eq(&sql, "type", q->type);
	if (q->id > 0)
		buf_printf(&sql, " AND id = %lld", (long long)q->id);
	buf_puts(&sql, " ORDER BY start_ns DESC, id DESC");
	if (q->limit)
		buf_printf(&sql, " LIMIT %u", q->limit);
	buf_puts(&sql, " FORMAT RowBinary");
	struct profiles_read pr = {.a = a, .with_data = q->with_data, .err = err, .errlen = errlen};
	int rc = ch_stream(ch_of(st)->ch, sql.data, read_profile, &pr, err, errlen);
	buf_release(&sql);
	*rows = pr.v;
	*n = rc == 0 ? pr.n : 0;
	return rc;
}
