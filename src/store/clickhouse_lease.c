/*
 * clickhouse_lease.c - leases among the hotpath instances of one ClickHouse
 * database, without transactions: the background lease (one instance runs
 * the background jobs that write) and the writer slots (each writing
 * instance owns one of CH_SLOTS, the low bits of its block ids), renewed by
 * one thread per instance.  Also the block ids and the watermark of written
 * blocks built on the slots.
 *
 * A claim is a row (name, holder, term, expires, floor, at_ns) appended to
 * `leases`.  Among the rows of a name not expired, the holder whose claim
 * has the earliest term (then the smallest holder id) has the lease:
 *
 *   tick (every lease/3):                   state = valid rows of the name
 *     winner is another  ------------------> not held; write nothing
 *     winner is me       --renew-----------> append (me, my term, now + lease)
 *     no valid row       --claim-----------> append (me, term = now, ...),
 *                                            wait CH_LEASE_PAUSE_MS, read again:
 *                                            held only if I am the winner
 *   held until: start of the tick + lease - lease/3 (by my clock)
 *
 * Two instances that claim at once both see both rows after the pause (a
 * claim's insert follows its read by less than the pause: a claim whose
 * read and insert took longer is not taken) and pick the same winner.
 * Guarantees and the failure window: docs/SCALING.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "store/clickhouse_store.h"

#define NS_PER_MS 1000000ull

static void pause_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The winner among the valid claims of a name: the first row. */
struct winner {
	char holder[CH_HOLDER_LEN];
	uint64_t term;
	int got;
};

static int read_winner(void *arg, struct rb *r)
{
	struct winner *w = arg;
	size_t n;
	const char *h = rb_str(r, &n);
	uint64_t term = rb_u64(r);
	if (r->short_read)
		return 0;
	if (!w->got) {
		snprintf(w->holder, sizeof(w->holder), "%.*s", (int)n, h);
		w->term = term;
		w->got = 1;
	}
	return 1;
}

static int lease_winner(struct ch_store *s, const char *name, uint64_t now, struct winner *w, char *err,
			size_t errlen)
{
	struct buf q;
	buf_init(&q, BUF_NO_LIMIT);
	/* a holder's claim is valid while its latest row has not expired (a
	 * release is a row that expires at once); rows older than a lease
	 * cannot be anyone's latest valid one */
	buf_puts(&q, "SELECT holder, min(term) AS t FROM leases WHERE name = ");
	ch_quote(&q, name);
	buf_printf(&q,
		   " AND expires > %llu GROUP BY holder HAVING argMax(expires, at_ns) > %llu"
		   " ORDER BY t, holder LIMIT 1 FORMAT RowBinary",
		   (unsigned long long)(now > s->lease_ns ? now - s->lease_ns : 0), (unsigned long long)now);
	memset(w, 0, sizeof(*w));
	int rc = ch_stream(s->ch, q.data, read_winner, w, err, errlen);
	buf_release(&q);
	return rc;
}

static int lease_append(struct ch_store *s, const char *name, uint64_t term, uint64_t expires, uint64_t floor,
			char *err, size_t errlen)
{
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	rbw_str(&b, name);
	rbw_str(&b, s->instance);
	rbw_u64(&b, term);
	rbw_u64(&b, expires);
	rbw_u64(&b, floor);
	rbw_u64(&b, clock_now_ns());
	int rc = ch_exec(s->ch,
			 "INSERT INTO leases (name, holder, term, expires, floor, at_ns) FORMAT RowBinary",
			 b.data, b.len, NULL, err, errlen);
	buf_release(&b);
	return rc;
}

/* One tick of a lease: 1 held, 0 not held, or an error class (not held). */
int ch_lease_tick(struct ch_store *s, struct ch_lease *l, uint64_t floor, char *err, size_t errlen)
{
	uint64_t t0 = clock_now_ns(), d = s->lease_ns;
	struct winner w;
	/* a failed request leaves the lease as it was: held until it expires */
	int rc = lease_winner(s, l->name, t0, &w, err, errlen);
	if (rc < 0)
		return rc;
	if (w.got && strcmp(w.holder, s->instance) != 0)
		goto lost; /* another holds it */
	int fresh = !w.got;
	uint64_t term = fresh ? t0 : w.term;
	if ((rc = lease_append(s, l->name, term, t0 + d, floor, err, errlen)) < 0)
		return fresh ? (atomic_store(&l->held_until, 0), rc) : rc;
	if (fresh && clock_now_ns() - t0 > CH_LEASE_PAUSE_MS * NS_PER_MS / 2) {
		rc = errf(err, errlen, "lease %s: the claim took longer than %u ms", l->name,
			  CH_LEASE_PAUSE_MS / 2);
		goto lost; /* a competitor's claim may have been missed */
	}
	if (fresh) { /* another may have claimed at once: both rows show after the pause */
		pause_ms(CH_LEASE_PAUSE_MS);
		if ((rc = lease_winner(s, l->name, clock_now_ns(), &w, err, errlen)) < 0)
			goto lost;
		if (!w.got || strcmp(w.holder, s->instance) != 0 || w.term != term)
			goto lost;
	}
	if (!atomic_load(&l->held_until))
		log_info("clickhouse: %s holds the lease %s", s->instance, l->name);
	atomic_store(&l->held_until, t0 + d - d / 3);
	return 1;
lost:
	if (atomic_exchange(&l->held_until, 0))
		log_info("clickhouse: %s no longer holds the lease %s", s->instance, l->name);
	return rc < 0 ? rc : 0;
}

int ch_lease_held(struct ch_lease *l)
{
	uint64_t until = atomic_load(&l->held_until);
	return until && clock_now_ns() < until;
}

/* ---- block ids: (sequence << CH_SLOT_BITS) | slot ---- */

static uint64_t id_of(uint64_t seq, unsigned slot)
{
	return seq << CH_SLOT_BITS | slot;
}

/* The floor of this instance's ids: every id it assigned below it is in
 * ClickHouse, and it assigns none below it from now on.  Under id_lock. */
static uint64_t floor_locked(struct ch_store *s)
{
	uint64_t f = id_of(s->seq, (unsigned)s->slot_no);
	for (int i = 0; i < CH_WRITERS; i++)
		if (s->inflight[i] && s->inflight[i] < f)
			f = s->inflight[i];
	return f;
}

/* Hold a writer slot: keep ours, or claim the first free one. */
static int slot_tick(struct ch_store *s, char *err, size_t errlen)
{
	pthread_mutex_lock(&s->id_lock);
	uint64_t floor = s->slot_no >= 0 ? floor_locked(s) : 0;
	pthread_mutex_unlock(&s->id_lock);
	if (s->slot_no >= 0) {
		int rc = ch_lease_tick(s, &s->slot, floor, err, errlen);
		if (rc != 0)
			return rc;
		pthread_mutex_lock(&s->id_lock);
		s->slot_no = -1; /* lost to another: claim one again */
		pthread_mutex_unlock(&s->id_lock);
	}
	for (int k = 0; k < CH_SLOTS; k++) {
		snprintf(s->slot.name, sizeof(s->slot.name), "writer/%d", k);
		pthread_mutex_lock(&s->id_lock);
		floor = id_of(s->seq, (unsigned)k); /* nothing in flight yet: the first id it would make */
		pthread_mutex_unlock(&s->id_lock);
		int rc = ch_lease_tick(s, &s->slot, floor, err, errlen);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			pthread_mutex_lock(&s->id_lock);
			s->slot_no = k;
			pthread_mutex_unlock(&s->id_lock);
			return 1;
		}
	}
	return errf(err, errlen, "every one of the %d writer slots is held by another instance", CH_SLOTS);
}

/* Keep this instance's ids ahead of every writer's floor and of the stored
 * blocks, so that ids keep step across instances and never repeat. */
static int seq_catch_up(struct ch_store *s, char *err, size_t errlen)
{
	char sql[256];
	uint64_t hi = 0;
	snprintf(
		sql, sizeof(sql),
		"SELECT greatest((SELECT max(id) FROM blocks), (SELECT max(floor) FROM leases WHERE name LIKE"
		" 'writer/%%' AND expires > %llu)) FORMAT TSV",
		(unsigned long long)clock_now_ns());
	struct buf out;
	buf_init(&out, 4096);
	int rc = ch_exec(s->ch, sql, NULL, 0, &out, err, errlen);
	if (rc == 0 && out.data)
		hi = strtoull(out.data, NULL, 10);
	buf_release(&out);
	pthread_mutex_lock(&s->id_lock);
	if ((hi >> CH_SLOT_BITS) + 1 > s->seq)
		s->seq = (hi >> CH_SLOT_BITS) + 1;
	pthread_mutex_unlock(&s->id_lock);
	return rc;
}

int ch_ids_reserve(struct ch_store *s, size_t n, uint64_t *seq0, unsigned *slot)
{
	pthread_mutex_lock(&s->id_lock);
	while (s->slot_no < 0 || !ch_lease_held(&s->slot)) {
		if (s->lease_stop) {
			pthread_mutex_unlock(&s->id_lock);
			return -1;
		}
		pthread_mutex_unlock(&s->id_lock);
		pause_ms(100); /* the lease thread claims a slot again */
		pthread_mutex_lock(&s->id_lock);
	}
	int at = 0;
	while (at < CH_WRITERS - 1 && s->inflight[at])
		at++;
	*seq0 = s->seq;
	*slot = (unsigned)s->slot_no;
	s->inflight[at] = id_of(s->seq, *slot);
	s->seq += n ? n : 1;
	pthread_mutex_unlock(&s->id_lock);
	return at;
}

void ch_ids_release(struct ch_store *s, int at)
{
	pthread_mutex_lock(&s->id_lock);
	s->inflight[at] = 0;
	pthread_mutex_unlock(&s->id_lock);
}

uint64_t ch_block_id(uint64_t seq0, size_t k, unsigned slot)
{
	return id_of(seq0 + k, slot);
}

/* The watermark: the smallest floor among the live writers, less one:
 * this instance's floor now, the others' as they last published it (at
 * most lease/3 old; a floor only grows, so an old one is still true).
 * Every block with an id up to it is in ClickHouse (or will never be). */
int ch_last_block(struct store *st, uint64_t *id, char *err, size_t errlen)
{
	struct ch_store *s = ch_of(st);
	struct buf q, out;
	buf_init(&q, BUF_NO_LIMIT);
	buf_printf(&q,
		   "SELECT min(f), count() FROM (SELECT holder, max(floor) AS f FROM leases WHERE name LIKE"
		   " 'writer/%%' AND expires > %llu AND holder != ",
		   (unsigned long long)clock_now_ns());
	/* a writer stopped counts until its rows expire: its floor stays true */
	ch_quote(&q, s->instance);
	buf_puts(&q, " GROUP BY holder) FORMAT TSV");
	buf_init(&out, 4096);
	int rc = ch_exec(s->ch, q.data, NULL, 0, &out, err, errlen);
	uint64_t f = 0, n = 0;
	if (rc == 0 && out.data) {
		char *end;
		f = strtoull(out.data, &end, 10);
		n = strtoull(end, NULL, 10);
	}
	buf_release(&q);
	buf_release(&out);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->id_lock);
	uint64_t mine = s->slot_no >= 0 ? floor_locked(s) : 0;
	pthread_mutex_unlock(&s->id_lock);
	if (mine && (!n || mine < f))
		f = mine;
	if (f) {
		*id = f - 1;
		return 0;
	}
	buf_init(&out, 4096); /* no live writer: what is stored is all there is */
	rc = ch_exec(s->ch, "SELECT max(id) FROM blocks FORMAT TSV", NULL, 0, &out, err, errlen);
	*id = rc == 0 && out.data ? strtoull(out.data, NULL, 10) : 0;
	buf_release(&out);
	return rc;
}

/* ---- the thread ---- */

static void lease_round(struct ch_store *s)
{
	char err[512];
	if (seq_catch_up(s, err, sizeof(err)) < 0 || slot_tick(s, err, sizeof(err)) < 0)
		log_warn("clickhouse: writer slot: %s", err);
	pthread_mutex_lock(&s->bg_lock);
	int rc = ch_lease_tick(s, &s->background, 0, err, sizeof(err));
	pthread_mutex_unlock(&s->bg_lock);
	if (rc < 0)
		log_warn("clickhouse: background lease: %s", err);
	if (ch_lease_held(&s->background)) {
		ch_hours_step(s);
		ch_retention_step(s);
	}
}

static void *lease_main(void *arg)
{
	struct ch_store *s = arg;
	pthread_mutex_lock(&s->id_lock);
	while (!s->lease_stop) {
		pthread_mutex_unlock(&s->id_lock);
		lease_round(s);
		pthread_mutex_lock(&s->id_lock);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		uint64_t ns = (uint64_t)until.tv_nsec + s->lease_ns / 3;
		until.tv_sec += (time_t)(ns / 1000000000ull);
		until.tv_nsec = (long)(ns % 1000000000ull);
		while (!s->lease_stop && pthread_cond_timedwait(&s->lease_wake, &s->id_lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&s->id_lock);
	return NULL;
}

int ch_lease_start(struct ch_store *s, uint64_t lease_ns, char *err, size_t errlen)
{
	char host[64] = "";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = 0;
	snprintf(s->instance, sizeof(s->instance), "%.40s/%ld/%08x", host, (long)getpid(),
		 (unsigned)(clock_now_ns() ^ ((uint64_t)getpid() << 20)) & 0xffffffffu);
	s->lease_ns = lease_ns;
	s->slot_no = -1;
	snprintf(s->background.name, sizeof(s->background.name), "background");
	pthread_mutex_init(&s->id_lock, NULL);
	pthread_mutex_init(&s->bg_lock, NULL);
	pthread_cond_init(&s->lease_wake, NULL);
	int rc;
	if ((rc = seq_catch_up(s, err, errlen)) < 0 || (rc = slot_tick(s, err, errlen)) < 0)
		return rc;
	if (pthread_create(&s->leaser, NULL, lease_main, s) != 0)
		return errf(err, errlen, "cannot start the lease thread");
	s->lease_started = 1;
	return 0;
}

/* Give up a held lease at once: a row that expires now, so that another
 * instance need not wait for the claim to run out. */
static void lease_release(struct ch_store *s, struct ch_lease *l, uint64_t floor)
{
	char err[256];
	if (!atomic_exchange(&l->held_until, 0))
		return;
	uint64_t now = clock_now_ns();
	if (lease_append(s, l->name, now, now, floor, err, sizeof(err)) < 0)
		log_warn("clickhouse: lease %s not released (it runs out by itself): %s", l->name, err);
}

void ch_lease_stop(struct ch_store *s)
{
	if (!s->instance[0])
		return; /* never started */
	pthread_mutex_lock(&s->id_lock);
	s->lease_stop = 1;
	pthread_cond_broadcast(&s->lease_wake);
	uint64_t floor = s->slot_no >= 0 ? floor_locked(s) : 0;
	pthread_mutex_unlock(&s->id_lock);
	if (!s->lease_started)
		return;
	pthread_join(s->leaser, NULL);
	lease_release(s, &s->background, 0);
	lease_release(s, &s->slot, floor);
}

int ch_lease_background(struct store *st)
{
	return ch_lease_held(&ch_of(st)->background);
}

/*
 * A write of a job of the background lease's holder may start while the
 * lease is held for at least a quarter of the lease more (by this clock),
 * and is given until then to finish: so it ends (or is given up) before
 * the holder's own end of the lease, a third of the lease before any other
 * instance may take it over.  Renewals every third of the lease keep the
 * held lease at least a third ahead, so a holder renewing on time checks
 * from memory; otherwise (the renewal failed, or this process stood still)
 * the lease is renewed here first, one round trip.
 */
int ch_lease_write_begin(struct store *st, char *err, size_t errlen)
{
	struct ch_store *s = ch_of(st);
	uint64_t need = s->lease_ns / 4, now = clock_now_ns();
	uint64_t until = atomic_load(&s->background.held_until);
	if (!until || now + need >= until) {
		char why[256] = "";
		pthread_mutex_lock(&s->bg_lock);
		if (ch_lease_tick(s, &s->background, 0, why, sizeof(why)) < 0)
			log_warn("clickhouse: background lease: %s", why);
		pthread_mutex_unlock(&s->bg_lock);
		now = clock_now_ns();
		until = atomic_load(&s->background.held_until);
		if (!until || now + need >= until) {
			errf(err, errlen,
			     "%s no longer holds the background lease (another instance took it over, or it"
			     " could not be renewed in time)",
			     s->instance);
			return ERR_BUSY;
		}
	}
	ch_thread_deadline(until);
	return 0;
}

void ch_lease_write_end(struct store *st)
{
	(void)st;
	ch_thread_deadline(0);
}

/*
 * A statement of the holder's own work on the lease thread (retention's
 * drops, the metric hours' inserts) under the same rule as a job's write:
 * sent only while the lease is held for a quarter of the lease more, and
 * given until the holder's end of the lease.  ERR_BUSY, not sent, when the
 * lease is not held long enough (renewed first when it is not fresh).
 */
int ch_holder_exec(struct ch_store *s, const char *sql, char *err, size_t errlen)
{
	struct store *st = (struct store *)(void *)s;
	int rc = ch_lease_write_begin(st, err, errlen);
	if (rc < 0)
		return rc;
	rc = ch_exec(s->ch, sql, NULL, 0, NULL, err, errlen);
	ch_lease_write_end(st);
	return rc;
}
