/* clickhouse_http.c - ClickHouse over HTTP with libcurl; RowBinary (see
 * clickhouse_http.h). */
#include "store/clickhouse_http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/deadline.h"
#include "core/error.h"
#include "core/log.h"

#define POOL_MAX	  8
#define CONNECT_TIMEOUT_S 2L
#define QUERY_TIMEOUT_S	  60L
#define STREAM_MAX_ROW	  (256u << 20) /* the largest row a stream buffers */

struct ch_client {
	char *base;   /* http://HOST:PORT/?database=DB */
	char *server; /* http://HOST:PORT/ */
	char *db, *user, *password;
	struct curl_slist *headers; /* "Expect:" off: no wait for a 100 Continue */
	pthread_mutex_t lock;
	CURL *pool[POOL_MAX];
	size_t n_pool;
	char where[320];	 /* "the ClickHouse store at HOST:PORT (database DB)" */
	_Atomic int unreachable; /* the last request found no server; cleared by any answer */
};

static int valid_name(const char *s, size_t n)
{
	if (!n || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);
	memcpy(d, s, n);
	d[n] = 0;
	return d;
}

static char *dup_env(const char *name)
{
	const char *v = getenv(name);
	return v ? xstrdup(v) : NULL;
}

/* clickhouse://[USER[:PASSWORD]@]HOST[:PORT]/DB */
static int parse_url(struct ch_client *c, const char *url, char *err, size_t errlen)
{
	const char *p = url + strlen("clickhouse://"), *slash = strchr(p, '/'), *at;
	if (!slash)
		return errf(err, errlen, "store %s: want clickhouse://HOST[:PORT]/DB", url);
	at = memchr(p, '@', (size_t)(slash - p));
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		c->user = dup_n(p, (size_t)((colon ? colon : at) - p));
		if (colon)
			c->password = dup_n(colon + 1, (size_t)(at - colon - 1));
		p = at + 1;
	}
	if (!c->user)
		c->user = dup_env("HOTPATH_CLICKHOUSE_USER");
	if (!c->password)
		c->password = dup_env("HOTPATH_CLICKHOUSE_PASSWORD");
	size_t host_len = (size_t)(slash - p);
	if (!host_len || host_len > 255 || memchr(p, '?', host_len))
		return errf(err, errlen, "store %s: no host", url);
	const char *db = slash + 1;
	if (!valid_name(db, strlen(db)))
		return errf(err, errlen, "store %s: the database name must be 1 to 64 letters, digits or '_'",
			    url);
	c->db = xstrdup(db);
	const char *colon = memchr(p, ':', host_len);
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	buf_printf(&b, "http://%.*s%s/", (int)host_len, p, colon ? "" : ":8123");
	c->server = xstrdup(b.data);
	buf_printf(&b, "?database=%s", db);
	c->base = buf_detach(&b, NULL);
	snprintf(c->where, sizeof(c->where), "the ClickHouse store at %.*s (database %s)", (int)host_len, p,
		 db);
	return 0;
}

/* curl_global_init() is not thread-safe in every libcurl: run it once. */
static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct ch_client *ch_client_new(const char *url, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, global_init);
	struct ch_client *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->headers = curl_slist_append(NULL, "Expect:");
	if (parse_url(c, url, err, errlen) < 0) {
		ch_client_free(c);
		return NULL;
	}
	return c;
}

void ch_client_free(struct ch_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_pool; i++)
		curl_easy_cleanup(c->pool[i]);
	pthread_mutex_destroy(&c->lock);
	curl_slist_free_all(c->headers);
	free(c->base);
	free(c->server);
	free(c->db);
	free(c->user);
	free(c->password);
	free(c);
}

const char *ch_client_db(const struct ch_client *c)
{
	return c->db;
}

int ch_client_unreachable(struct ch_client *c, char *why, size_t len)
{
	if (!atomic_load(&c->unreachable))
		return 0;
	snprintf(why, len, "%s is unreachable", c->where);
	return 1;
}

int ch_ping(struct ch_client *c, char *err, size_t errlen)
{
	return ch_exec(c, "SELECT 1", NULL, 0, NULL, err, errlen);
}

static _Thread_local uint64_t thread_deadline_ns;

void ch_thread_deadline(uint64_t at_ns)
{
	thread_deadline_ns = at_ns;
}

/* The time limit of a request of this thread starting now, in ms. */
static long timeout_ms(void)
{
	if (!thread_deadline_ns)
		return QUERY_TIMEOUT_S * 1000L;
	uint64_t now = clock_now_ns(), left = thread_deadline_ns > now ? thread_deadline_ns - now : 0;
	return left / 1000000u < QUERY_TIMEOUT_S * 1000u ? (long)(left / 1000000u) + 1
							 : QUERY_TIMEOUT_S * 1000L;
}

/* A handle from the pool (its connection kept alive), or a new one. */
static CURL *handle_get(struct ch_client *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->lock);
	if (c->n_pool)
		h = c->pool[--c->n_pool];
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_reset(h);
	else if (!(h = curl_easy_init()))
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms());
	if (c->user)
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
	if (c->password)
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	return h;
}

static void handle_put(struct ch_client *c, CURL *h)
{
	pthread_mutex_lock(&c->lock);
	if (c->n_pool < POOL_MAX) {
		c->pool[c->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_cleanup(h);
}

/* What a request's answer goes to: a buffer, or a row parser. */
struct sink {
	struct buf *out;
	struct buf pending; /* stream: bytes of rows not complete yet */
	ch_row_fn row;
	void *arg;
	long status; /* HTTP status, once known */
	CURL *h;
	struct buf errbody; /* the answer of a failed request */
	int stopped;	    /* the row parser stopped: 2 early, -1 error */
	char *err;
	size_t errlen;
};

static int feed_rows(struct sink *k)
{
	size_t used = 0;
	while (used < k->pending.len) {
		struct rb r = {(const uint8_t *)k->pending.data + used,
			       (const uint8_t *)k->pending.data + k->pending.len, 0};
		int rc = k->row(k->arg, &r);
		if (rc < 0 || rc == 2) {
			k->stopped = rc;
			return -1;
		}
		if (rc == 0 || r.short_read)
			break;
		used = (size_t)((const char *)r.p - k->pending.data);
	}
	memmove(k->pending.data, k->pending.data + used, k->pending.len - used);
	k->pending.len -= used;
	return 0;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *k = arg;
	size_t n = size * nmemb;
	if (!k->status)
		curl_easy_getinfo(k->h, CURLINFO_RESPONSE_CODE, &k->status);
	if (k->status != 200) {
		buf_append(&k->errbody, data, n); /* the start of an error is enough */
		return n;
	}
	if (k->row) {
		if (deadline_passed()) {
			k->stopped = deadline_error(k->err, k->errlen);
			return 0;
		}
		if (buf_append(&k->pending, data, n) < 0) {
			k->stopped = errf(k->err, k->errlen, "a row of the answer passes %u bytes",
					  STREAM_MAX_ROW);
			return 0;
		}
		return feed_rows(k) < 0 ? 0 : n;
	}
	if (k->out && buf_append(k->out, data, n) < 0) {
		k->stopped = errf(k->err, k->errlen, "the answer passes %zu bytes", k->out->max);
		return 0;
	}
	return n;
}

/* A read under a deadline (core/deadline.h) asks ClickHouse to stop it
 * there too: max_execution_time, whole seconds, at least 1. */
static void read_time_limit(struct buf *url, const char *base)
{
	uint64_t left = deadline_left_ns();
	if (left == UINT64_MAX)
		return;
	buf_printf(url, "%smax_execution_time=%llu", strchr(base, '?') ? "&" : "?",
		   (unsigned long long)(left / NS_PER_S + 1));
}

static int perform(struct ch_client *c, const char *base, const char *sql, const void *body, size_t len,
		   struct sink *k)
{
	CURL *h = handle_get(c);
	if (!h)
		return errf(k->err, k->errlen, "clickhouse: cannot make a request");
	struct buf url;
	buf_init(&url, BUF_NO_LIMIT);
	buf_puts(&url, base);
	if (body) { /* the rows are the body, the query goes in the URL */
		char *q = curl_easy_escape(h, sql, 0);
		buf_printf(&url, "%squery=%s", strchr(base, '?') ? "&" : "?", q);
		curl_free(q);
	} else {
		body = sql;
		len = strlen(sql);
		read_time_limit(&url, base);
	}
	k->h = h;
	curl_easy_setopt(h, CURLOPT_URL, url.data);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, k);
	CURLcode rc = curl_easy_perform(h);
	int ret = 0;
	if (!k->status)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &k->status);
	if (k->stopped == 2) {
		ret = 0;
	} else if (k->stopped < 0) {
		ret = k->stopped; /* -1, or ERR_TIMEOUT */
	} else if (rc != CURLE_OK && !k->status) {
		errf(k->err, k->errlen, "%s is unreachable (clickhouse unreachable: %s)", c->where,
		     curl_easy_strerror(rc));
		ret = ERR_UNAVAILABLE;
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		errf(k->err, k->errlen, "%s did not answer in %ld ms", c->where, timeout_ms());
		ret = ERR_UNAVAILABLE;
	} else if (deadline_passed() ||
		   (k->errbody.data && strstr(k->errbody.data, "TIMEOUT_EXCEEDED") && deadline_current())) {
		ret = deadline_error(k->err, k->errlen);
	} else if (k->status != 200 || rc != CURLE_OK) {
		errf(k->err, k->errlen, "clickhouse (HTTP %ld): %.300s", k->status,
		     k->errbody.data ? k->errbody.data : curl_easy_strerror(rc));
		ret = ERR_INTERNAL;
	} else if (k->row && k->pending.len) {
		ret = errf(k->err, k->errlen, "clickhouse: the answer ends inside a row");
	}
	atomic_store(&c->unreachable, ret == ERR_UNAVAILABLE);
	buf_release(&url);
	handle_put(c, h);
	return ret;
}

int ch_exec(struct ch_client *c, const char *sql, const void *body, size_t len, struct buf *out, char *err,
	    size_t errlen)
{
	struct sink k = {.out = out, .err = err, .errlen = errlen};
	buf_init(&k.errbody, 4096);
	int rc = perform(c, c->base, sql, body, len, &k);
	buf_release(&k.errbody);
	return rc;
}

int ch_stream(struct ch_client *c, const char *sql, ch_row_fn row, void *arg, char *err, size_t errlen)
{
	struct sink k = {.row = row, .arg = arg, .err = err, .errlen = errlen};
	buf_init(&k.errbody, 4096);
	buf_init(&k.pending, STREAM_MAX_ROW);
	int rc = perform(c, c->base, sql, NULL, 0, &k);
	buf_release(&k.errbody);
	buf_release(&k.pending);
	return rc;
}

int ch_create_database(struct ch_client *c, char *err, size_t errlen)
{
	char sql[128];
	snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS %s", c->db);
	struct sink k = {.err = err, .errlen = errlen};
	buf_init(&k.errbody, 4096);
	int rc = perform(c, c->server, sql, NULL, 0, &k);
	buf_release(&k.errbody);
	return rc;
}

void ch_quote(struct buf *sql, const char *s)
{
	buf_putc(sql, '\'');
	for (; *s; s++) {
		if (*s == '\\' || *s == '\'')
			buf_putc(sql, '\\');
		buf_putc(sql, *s);
	}
	buf_putc(sql, '\'');
}

/* ---- RowBinary ---- */

static const uint8_t *take(struct rb *r, size_t n)
{
	if (r->short_read || (size_t)(r->end - r->p) < n) {
		r->short_read = 1;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	return p;
}

static uint64_t le(struct rb *r, size_t n)
{
	const uint8_t *p = take(r, n);
	uint64_t v = 0;
	for (size_t i = 0; p && i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint8_t rb_u8(struct rb *r)
{
	return (uint8_t)le(r, 1);
}

uint32_t rb_u32(struct rb *r)
{
	return (uint32_t)le(r, 4);
}

uint64_t rb_u64(struct rb *r)
{
	return le(r, 8);
}

double rb_f64(struct rb *r)
{
	uint64_t v = le(r, 8);
	double d;
	memcpy(&d, &v, sizeof(d));
	return d;
}

uint64_t rb_varint(struct rb *r)
{
	uint64_t n = 0;
	for (int shift = 0;; shift += 7) {
		const uint8_t *p = take(r, 1);
		if (!p || shift > 56) {
			r->short_read = 1;
			return 0;
		}
		n |= (uint64_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80))
			return n;
	}
}

const void *rb_bytes(struct rb *r, uint64_t n)
{
	return take(r, n);
}

const char *rb_str(struct rb *r, size_t *len)
{
	uint64_t n = rb_varint(r);
	const uint8_t *p = r->short_read ? NULL : take(r, n);
	*len = p ? (size_t)n : 0;
	return p ? (const char *)p : "";
}

const char *rb_strdup(struct rb *r, struct arena *a, int empty_null)
{
	size_t n;
	const char *s = rb_str(r, &n);
	if (r->short_read || (!n && empty_null))
		return NULL;
	return arena_strndup(a, s, n);
}

void rbw_u8(struct buf *b, uint8_t v)
{
	buf_append(b, &v, 1);
}

static void put_le(struct buf *b, uint64_t v, size_t n)
{
	uint8_t p[8];
	for (size_t i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t)v;
	buf_append(b, p, n);
}

void rbw_u32(struct buf *b, uint32_t v)
{
	put_le(b, v, 4);
}

void rbw_u64(struct buf *b, uint64_t v)
{
	put_le(b, v, 8);
}

void rbw_f64(struct buf *b, double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	put_le(b, u, 8);
}

void rbw_bytes(struct buf *b, const void *p, size_t n)
{
	buf_put_varint(b, n);
	buf_append(b, p, n);
}

void rbw_str(struct buf *b, const char *s)
{
	rbw_bytes(b, s ? s : "", s ? strlen(s) : 0);
}
