/*
 * clickhouse_guard.c - the endpoint cardinality guard of the ClickHouse
 * store's rollups, as the embedded store has it (rollup.c): past
 * --max-endpoints distinct endpoints of a service, the rollup rows of its
 * new endpoints are kept under the endpoint "other" (the request rows keep
 * the endpoint).  The endpoints known are loaded from the rollups when the
 * store opens, then kept per instance: instances that each meet new
 * endpoints at once may pass the limit together by what each let in.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "store/clickhouse_store.h"

#define OTHER "other"

static void pair_key(struct buf *k, const char *service, size_t ls, const char *endpoint, size_t le)
{
	buf_reset(k);
	buf_append(k, service, ls);
	buf_putc(k, 0);
	buf_append(k, endpoint, le);
}

/* Count a (service, endpoint) pair in.  Under the guard's lock. */
static void admit(struct ch_guard *g, const char *service, size_t ls, const char *endpoint, size_t le)
{
	int64_t n = 0;
	pair_key(&g->key, service, ls, endpoint, le);
	strmap_put(&g->pairs, g->key.data, g->key.len, 1);
	strmap_get(&g->per_service, service, ls, &n);
	strmap_put(&g->per_service, service, ls, n + 1);
}

static int read_pair(void *arg, struct rb *r)
{
	struct ch_guard *g = arg;
	size_t ls, le;
	const char *service = rb_str(r, &ls), *endpoint = rb_str(r, &le);
	if (r->short_read)
		return 0;
	if (!(le == strlen(OTHER) && memcmp(endpoint, OTHER, le) == 0))
		admit(g, service, ls, endpoint, le);
	return 1;
}

int ch_guard_open(struct ch_store *s, unsigned max_endpoints, char *err, size_t errlen)
{
	struct ch_guard *g = &s->guard;
	pthread_mutex_init(&g->lock, NULL);
	strmap_init(&g->pairs);
	strmap_init(&g->per_service);
	buf_init(&g->key, BUF_NO_LIMIT);
	g->max = max_endpoints ? max_endpoints : 500;
	strmap_init(&g->keys);
	return ch_stream(
		s->ch,
		"SELECT service, endpoint FROM rollup_keys GROUP BY service, endpoint FORMAT RowBinary",
		read_pair, g, err, errlen);
}

void ch_guard_close(struct ch_store *s)
{
	struct ch_guard *g = &s->guard;
	strmap_release(&g->pairs);
	strmap_release(&g->per_service);
	strmap_release(&g->keys);
	buf_release(&g->key);
	pthread_mutex_destroy(&g->lock);
}

const char *ch_guard_endpoint(struct ch_store *s, const char *service, const char *endpoint)
{
	struct ch_guard *g = &s->guard;
	const char *svc = service ? service : "", *ep = endpoint ? endpoint : "";
	size_t ls = strlen(svc), le = strlen(ep);
	int64_t seen, n = 0;
	pthread_mutex_lock(&g->lock);
	pair_key(&g->key, svc, ls, ep, le);
	if (strmap_get(&g->pairs, g->key.data, g->key.len, &seen) == 0 || strcmp(ep, OTHER) == 0) {
		pthread_mutex_unlock(&g->lock);
		return endpoint;
	}
	strmap_get(&g->per_service, svc, ls, &n);
	if (n >= (int64_t)g->max) {
		if (atomic_fetch_add(&g->folded, 1) == 0)
			log_warn("rollups: service %s has %lld endpoints; more fold into \"other\"", svc,
				 (long long)n);
		pthread_mutex_unlock(&g->lock);
		return OTHER;
	}
	admit(g, svc, ls, ep, le);
	pthread_mutex_unlock(&g->lock);
	return endpoint;
}

int ch_guard_new_key(struct ch_store *s, uint64_t key)
{
	struct ch_guard *g = &s->guard;
	int64_t seen;
	pthread_mutex_lock(&g->lock);
	int fresh = strmap_get(&g->keys, &key, sizeof(key), &seen) < 0;
	if (fresh)
		strmap_put(&g->keys, &key, sizeof(key), 1);
	pthread_mutex_unlock(&g->lock);
	return fresh;
}
