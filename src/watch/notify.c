/*
 * notify.c - webhook delivery and the channels' definitions (see
 * notify.h).  One thread takes messages from a bounded queue and posts
 * each with its retries; the queue drops the oldest message when full
 * (and counts it failed) rather than block the evaluation.
 */
#include "watch/notify.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/json_field.h"
#include "core/log.h"

#define QUEUE_MAX 1000

/* ---- channels ------------------------------------------------------------- */

/* "rate_limit": messages per "rate_window" (seconds, 60). */
static int parse_rate(const struct json *o, struct notify_channel *c, char *err, size_t errlen)
{
	const struct json *l = json_get(o, "rate_limit"), *w = json_get(o, "rate_window");
	uint64_t v;
	c->rate_window_s = 60;
	if (l && l->type != JSON_NULL) {
		if (json_uint64(l, &v) < 0 || !v || v > CHANNEL_RATE_MAX)
			return errf(err, errlen, "\"rate_limit\" must be a count of messages from 1 to %d",
				    CHANNEL_RATE_MAX),
			       ERR_INVALID;
		c->rate_limit = (unsigned)v;
	}
	if (w && w->type != JSON_NULL) {
		if (json_uint64(w, &v) < 0 || !v || v > 86400)
			return errf(err, errlen,
				    "\"rate_window\" must be a number of seconds from 1 to 86400"),
			       ERR_INVALID;
		c->rate_window_s = (unsigned)v;
	}
	return 0;
}

int channel_parse(const struct json *o, const char *id, const struct notify_channel *prev, struct arena *a,
		  struct notify_channel *c, char *err, size_t errlen)
{
	int rc;
	memset(c, 0, sizeof(*c));
	if (!o || o->type != JSON_OBJECT)
		return errf(err, errlen, "a channel is a JSON object"), ERR_INVALID;
	if ((rc = json_field_str(o, "id", 64, a, &c->id, err, errlen)) < 0 ||
	    (rc = json_field_str(o, "name", 200, a, &c->name, err, errlen)) < 0 ||
	    (rc = json_field_str(o, "url", CHANNEL_URL_MAX, a, &c->url, err, errlen)) < 0 ||
	    (rc = json_field_str(o, "secret", CHANNEL_SECRET_MAX, a, &c->secret, err, errlen)) < 0)
		return rc;
	if (prev && !json_get(o, "url"))
		c->url = prev->url;
	if (prev && !json_get(o, "secret"))
		c->secret = prev->secret;
	const char *type = json_str(json_get(o, "type")), *format = json_str(json_get(o, "format"));
	if (type && strcmp(type, "webhook"))
		return errf(err, errlen, "\"type\" must be \"webhook\""), ERR_INVALID;
	if (!c->url || (strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8)))
		return errf(err, errlen, "\"url\" must be an http:// or https:// address"), ERR_INVALID;
	if (format && strcmp(format, "json") && strcmp(format, "slack"))
		return errf(err, errlen, "\"format\" must be \"json\" or \"slack\""), ERR_INVALID;
	c->slack = format && !strcmp(format, "slack");
	if ((rc = parse_rate(o, c, err, errlen)) < 0)
		return rc;
	if (id)
		c->id = arena_strdup(a, id);
	if (!c->name)
		c->name = c->id ? c->id : "webhook";
	return 0;
}

/* "https://host:port/…": the address without its path, query or user. */
static void put_origin(struct json_w *w, const char *url)
{
	const char *host = strstr(url, "://");
	host = host ? host + 3 : url;
	const char *at = strchr(host, '@'), *end = host + strcspn(host, "/?#");
	if (at && at < end)
		host = at + 1;
	char shown[CHANNEL_URL_MAX + 8];
	snprintf(shown, sizeof(shown), "%.*s%.*s%s",
		 (int)(strstr(url, "://") ? strstr(url, "://") + 3 - url : 0), url, (int)(end - host), host,
		 *end ? "/…" : "");
	jw_str(w, shown);
}

static void channel_write(struct buf *b, const struct notify_channel *c, int with_secret)
{
	struct json_w w;
	jw_init(&w, b);
	jw_obj_begin(&w);
	jw_kstr(&w, "id", c->id ? c->id : "");
	jw_kstr(&w, "name", c->name ? c->name : "");
	jw_kstr(&w, "type", "webhook");
	jw_key(&w, "url");
	if (with_secret)
		jw_str(&w, c->url);
	else
		put_origin(&w, c->url);
	jw_kstr(&w, "format", c->slack ? "slack" : "json");
	if (c->rate_limit) {
		jw_kuint(&w, "rate_limit", c->rate_limit);
		jw_kuint(&w, "rate_window", c->rate_window_s);
	}
	if (with_secret && c->secret)
		jw_kstr(&w, "secret", c->secret);
	else if (!with_secret)
		jw_kbool(&w, "secret_set", c->secret != NULL);
	jw_obj_end(&w);
}

void channel_write_stored(struct buf *b, const struct notify_channel *c)
{
	channel_write(b, c, 1);
}

void channel_write_public(struct buf *b, const struct notify_channel *c)
{
	channel_write(b, c, 0);
}

static int parse_channel(const struct json *o, const char *id, struct arena *a, void *out, char *err,
			 size_t errlen)
{
	return channel_parse(o, id, NULL, a, out, err, errlen);
}

int channels_load(struct store *s, struct arena *a, struct notify_channel **out, size_t *n, char *err,
		  size_t errlen)
{
	return watch_load_docs(s, CHANNEL_KIND, sizeof(**out), parse_channel, a, (void **)out, n, err,
			       errlen);
}

/* ---- messages ------------------------------------------------------------- */

void notify_body(struct buf *b, const struct notify_channel *c, const struct notify_event *e)
{
	struct json_w w;
	jw_init(&w, b);
	if (c->slack) {
		char text[1024];
		snprintf(text, sizeof(text), "%s [%s] %s: %s",
			 !strcmp(e->event, "firing")	 ? ":red_circle:"
			 : !strcmp(e->event, "reminder") ? ":repeat: still firing:"
							 : ":white_check_mark:",
			 e->severity ? e->severity : "", e->name ? e->name : e->alert_id,
			 e->message ? e->message : e->event);
		jw_obj_begin(&w);
		jw_kstr(&w, "text", text);
		jw_obj_end(&w);
		return;
	}
	jw_obj_begin(&w);
	jw_kstr(&w, "event", e->event);
	jw_kobj_begin(&w, "alert");
	jw_kstr(&w, "id", e->alert_id);
	jw_kstr(&w, "name", e->name ? e->name : "");
	jw_kstr(&w, "severity", e->severity ? e->severity : "");
	jw_kstr(&w, "source", e->source ? e->source : "");
	jw_kstr(&w, "message", e->message ? e->message : "");
	jw_kdouble(&w, "value", e->value); /* null when not finite */
	jw_kdouble(&w, "limit", e->limit);
	jw_obj_end(&w);
	jw_kuint(&w, "time_ms", e->time_ns / 1000000);
	jw_obj_end(&w);
}

void notify_sign(const char *secret, const void *body, size_t len, char out[72])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(out, "sha256=", 7);
	sodium_bin2hex(out + 7, 65, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
}

/* ---- delivery ------------------------------------------------------------- */

#define OUTBOX_SLOTS (QUEUE_MAX + 64)
#define HELD_LISTED  50 /* alerts a summary names */

struct item {
	struct item *next;
	char *channel, *url, *secret, *body, *alert_id, *event;
	uint64_t time_ns;
	int slot; /* in the outbox; -1: not kept */
};

/* A channel's rate limit: messages sent in the window, and those held. */
struct rate {
	char *channel, *url, *secret, *name;
	int slack;
	unsigned limit, window_s, sent, held;
	uint64_t start_ns;
	struct buf listed; /* the held ones: a JSON array, its "]" written by the summary */
	size_t n_listed;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	struct item *head, *tail;
	size_t len;
	int running, stop;
	struct notify_options opt;
	struct notify_stats st;
	struct store *store;
	uint8_t used[OUTBOX_SLOTS];
	struct rate *rates;
	size_t n_rates, cap_rates;
} q = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

static void item_free(struct item *it)
{
	if (!it)
		return;
	if (it->secret)
		sodium_memzero(it->secret, strlen(it->secret));
	free(it->channel);
	free(it->url);
	free(it->secret);
	free(it->body);
	free(it->alert_id);
	free(it->event);
	free(it);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* ---- the outbox ------------------------------------------------------------ */

/* Keep the message in the store (a free slot); it->slot -1 without room. */
static void outbox_put(struct item *it)
{
	char err[256], id[16];
	it->slot = -1;
	if (!q.store)
		return;
	pthread_mutex_lock(&q.lock);
	for (int i = 0; i < OUTBOX_SLOTS && it->slot < 0; i++)
		if (!q.used[i]) {
			q.used[i] = 1;
			it->slot = i;
		}
	pthread_mutex_unlock(&q.lock);
	if (it->slot < 0)
		return;
	struct buf b;
	struct json_w w;
	buf_init(&b, BUF_NO_LIMIT);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "channel", it->channel);
	jw_kstr(&w, "alert_id", it->alert_id);
	jw_kstr(&w, "event", it->event);
	jw_kuint(&w, "time_ms", it->time_ns / 1000000);
	jw_kstr(&w, "body", it->body);
	jw_obj_end(&w);
	snprintf(id, sizeof(id), "%d", it->slot);
	struct store_record r = {OUTBOX_KIND, id, it->time_ns, b.data};
	if (store_put_doc(q.store, &r, err, sizeof(err)) < 0)
		log_warn("notification for %s: not kept for a restart: %s", it->alert_id, err);
	buf_release(&b);
}

/* The message is delivered or given up: its slot is free again. */
static void outbox_done(const struct item *it)
{
	char err[256], id[16];
	if (!q.store || it->slot < 0)
		return;
	snprintf(id, sizeof(id), "%d", it->slot);
	struct store_record r = {OUTBOX_KIND, id, clock_now_ns(), WATCH_TOMBSTONE};
	if (store_put_doc(q.store, &r, err, sizeof(err)) < 0)
		log_warn("notification for %s: delivered, but still in the outbox: %s", it->alert_id, err);
	pthread_mutex_lock(&q.lock);
	q.used[it->slot] = 0;
	pthread_mutex_unlock(&q.lock);
}

/* ---- sending ------------------------------------------------------------------ */

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* One POST: 0 on a 2xx answer. */
static int post_once(const struct item *it, long *status, char *err, size_t errlen)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char sig[128], hdr[160];
	if (!c)
		return errf(err, errlen, "libcurl could not start");
	h = curl_slist_append(h, "Content-Type: application/json");
	if (it->secret) {
		notify_sign(it->secret, it->body, strlen(it->body), sig);
		snprintf(hdr, sizeof(hdr), NOTIFY_SIG_HEADER ": %s", sig);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, it->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, it->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(it->body));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)q.opt.timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	CURLcode rc = curl_easy_perform(c);
	*status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		return errf(err, errlen, "%s", curl_easy_strerror(rc));
	if (*status < 200 || *status > 299)
		return errf(err, errlen, "answered HTTP %ld", *status);
	return 0;
}

/* Wait `ms` unless stopping; 1 when stopping. */
static int backoff_wait(unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&q.lock);
	while (!q.stop && pthread_cond_timedwait(&q.wake, &q.lock, &ts) == 0)
		;
	int stop = q.stop;
	pthread_mutex_unlock(&q.lock);
	return stop;
}

static void count(uint64_t *counter)
{
	pthread_mutex_lock(&q.lock);
	(*counter)++;
	pthread_mutex_unlock(&q.lock);
}

enum delivery { DELIVERED, GIVEN_UP, INTERRUPTED };

static enum delivery deliver(const struct item *it)
{
	char err[256];
	long status;
	unsigned wait = q.opt.backoff_ms;
	for (unsigned i = 0; i < q.opt.attempts; i++) {
		if (post_once(it, &status, err, sizeof(err)) == 0) {
			count(&q.st.sent);
			log_info("notification for %s delivered to channel %s", it->alert_id, it->channel);
			return DELIVERED;
		}
		log_warn("notification for %s to channel %s failed (attempt %u of %u): %s", it->alert_id,
			 it->channel, i + 1, q.opt.attempts, err);
		if (i + 1 == q.opt.attempts)
			break;
		if (backoff_wait(wait)) {
			if (q.store)
				return INTERRUPTED; /* kept: the next start sends it */
			break;
		}
		count(&q.st.retries);
		wait *= 2;
	}
	count(&q.st.failed);
	return GIVEN_UP;
}

/* ---- queueing --------------------------------------------------------------- */

/* Queue `it` (kept in the outbox first unless `kept`). */
static void enqueue(struct item *it, int kept)
{
	struct item *old = NULL;
	if (!kept)
		outbox_put(it);
	pthread_mutex_lock(&q.lock);
	if (!q.running) {
		pthread_mutex_unlock(&q.lock);
		item_free(it);
		return;
	}
	if (q.len >= QUEUE_MAX) {
		old = q.head;
		q.head = old->next;
		q.len--;
		q.st.failed++;
		if (!q.head)
			q.tail = NULL;
	}
	if (q.tail)
		q.tail->next = it;
	else
		q.head = it;
	q.tail = it;
	q.len++;
	q.st.queued++;
	pthread_cond_signal(&q.wake);
	pthread_mutex_unlock(&q.lock);
	if (old) {
		log_warn("notification for %s to channel %s dropped: %d messages wait already", old->alert_id,
			 old->channel, QUEUE_MAX);
		outbox_done(old);
		item_free(old);
	}
}

static struct item *item_new(const struct notify_channel *c, const char *alert_id, const char *event,
			     uint64_t time_ns, char *body)
{
	struct item *it = xcalloc(1, sizeof(*it));
	it->channel = xstrdup(c->id ? c->id : "");
	it->url = xstrdup(c->url);
	it->secret = dup_or_null(c->secret);
	it->alert_id = xstrdup(alert_id);
	it->event = xstrdup(event);
	it->time_ns = time_ns;
	it->body = body;
	it->slot = -1;
	return it;
}

/* ---- rate limits ------------------------------------------------------------- */

static void rate_free(struct rate *r)
{
	if (r->secret)
		sodium_memzero(r->secret, strlen(r->secret));
	free(r->channel);
	free(r->url);
	free(r->secret);
	free(r->name);
	buf_release(&r->listed);
}

/* The channel's limit, made or updated from `c` (under q.lock). */
static struct rate *rate_of(const struct notify_channel *c)
{
	struct rate *r = NULL;
	for (size_t i = 0; i < q.n_rates && !r; i++)
		if (!strcmp(q.rates[i].channel, c->id ? c->id : ""))
			r = &q.rates[i];
	if (!r) {
		q.rates = xgrow(q.rates, &q.cap_rates, q.n_rates + 1, sizeof(*q.rates));
		r = &q.rates[q.n_rates++];
		memset(r, 0, sizeof(*r));
		r->channel = xstrdup(c->id ? c->id : "");
		buf_init(&r->listed, BUF_NO_LIMIT);
	}
	free(r->url);
	free(r->name);
	if (r->secret)
		sodium_memzero(r->secret, strlen(r->secret));
	free(r->secret);
	r->url = xstrdup(c->url);
	r->secret = dup_or_null(c->secret);
	r->name = xstrdup(c->name ? c->name : r->channel);
	r->slack = c->slack;
	r->limit = c->rate_limit;
	r->window_s = c->rate_window_s ? c->rate_window_s : 60;
	return r;
}

/* The summary of what `r` held, as an item (NULL: nothing held); the
 * window starts again at `now_ns`.  Under q.lock. */
static struct item *rate_roll(struct rate *r, uint64_t now_ns)
{
	struct item *it = NULL;
	if (r->held) {
		struct buf b;
		struct json_w w;
		buf_init(&b, BUF_NO_LIMIT);
		jw_init(&w, &b);
		jw_obj_begin(&w);
		if (r->slack) {
			char text[512];
			snprintf(text, sizeof(text),
				 ":warning: %u more notifications for channel %s in the last %u s, "
				 "held by its rate limit of %u: see the alerts of hotpath",
				 r->held, r->name, r->window_s, r->limit);
			jw_kstr(&w, "text", text);
		} else {
			jw_kstr(&w, "event", "summary");
			jw_kstr(&w, "channel", r->channel);
			jw_kuint(&w, "held", r->held);
			jw_kuint(&w, "window_s", r->window_s);
			jw_kuint(&w, "rate_limit", r->limit);
			struct json_w lw; /* close the array rate_allows began */
			if (r->listed.len) {
				jw_init_inside(&lw, &r->listed, true, true);
				jw_arr_end(&lw);
			}
			jw_kraw(&w, "alerts", r->listed.len ? r->listed.data : "[]");
			jw_kuint(&w, "time_ms", now_ns / 1000000);
		}
		jw_obj_end(&w);
		struct notify_channel c = {.id = r->channel, .url = r->url, .secret = r->secret};
		it = item_new(&c, "summary", "summary", now_ns, buf_detach(&b, NULL));
		q.st.summaries++;
		log_info("channel %s: %u notifications held by its rate limit go as one summary", r->channel,
			 r->held);
	}
	r->start_ns = now_ns;
	r->sent = r->held = 0;
	buf_reset(&r->listed);
	r->n_listed = 0;
	return it;
}

/* Whether a message for channel `c` may go now; if not, it is held. */
static int rate_allows(const struct notify_channel *c, const struct notify_event *e, struct item **summary)
{
	uint64_t now = clock_now_ns();
	*summary = NULL;
	if (!c->rate_limit)
		return 1;
	pthread_mutex_lock(&q.lock);
	struct rate *r = rate_of(c);
	if (now >= r->start_ns + (uint64_t)r->window_s * NS_PER_S)
		*summary = rate_roll(r, now);
	int ok = r->sent < r->limit;
	if (ok)
		r->sent++;
	else {
		r->held++;
		q.st.grouped++;
		pthread_cond_signal(&q.wake); /* the thread flushes the summary when the window ends */
		if (r->n_listed++ < HELD_LISTED) {
			struct json_w w; /* one more element of the summary's array */
			if (r->listed.len) {
				jw_init_inside(&w, &r->listed, true, true);
			} else {
				jw_init(&w, &r->listed);
				jw_arr_begin(&w);
			}
			jw_obj_begin(&w);
			jw_kstr(&w, "id", e->alert_id);
			jw_kstr(&w, "event", e->event);
			jw_obj_end(&w);
		}
	}
	pthread_mutex_unlock(&q.lock);
	if (!ok)
		log_info("notification for %s to channel %s held by its rate limit (%u per %u s)",
			 e->alert_id, c->id ? c->id : "", c->rate_limit, c->rate_window_s);
	return ok;
}

/* Summaries of the windows that ended (all held ones when `all`). */
static void rate_flush(int all)
{
	uint64_t now = clock_now_ns();
	for (;;) {
		struct item *it = NULL;
		pthread_mutex_lock(&q.lock);
		for (size_t i = 0; i < q.n_rates && !it; i++)
			if (q.rates[i].held &&
			    (all || now >= q.rates[i].start_ns + (uint64_t)q.rates[i].window_s * NS_PER_S))
				it = rate_roll(&q.rates[i], now);
		pthread_mutex_unlock(&q.lock);
		if (!it)
			return;
		enqueue(it, 0);
	}
}

/* ---- the thread --------------------------------------------------------------- */

/* Wait for a message (or a second, while a channel holds some). */
static struct item *next_item(void)
{
	for (;;) {
		int held = 0;
		for (size_t i = 0; i < q.n_rates; i++)
			held |= q.rates[i].held > 0;
		if (q.head || q.stop)
			break;
		if (!held) {
			pthread_cond_wait(&q.wake, &q.lock);
			continue;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&q.wake, &q.lock, &ts);
		pthread_mutex_unlock(&q.lock);
		rate_flush(0);
		pthread_mutex_lock(&q.lock);
	}
	struct item *it = q.stop && q.store ? NULL : q.head;
	if (it) {
		q.head = it->next;
		if (!q.head)
			q.tail = NULL;
		q.len--;
	}
	return it;
}

static void *deliver_loop(void *arg)
{
	pthread_mutex_lock(&q.lock);
	for (;;) {
		struct item *it = next_item();
		if (!it)
			break;
		pthread_mutex_unlock(&q.lock);
		if (deliver(it) != INTERRUPTED)
			outbox_done(it);
		item_free(it);
		pthread_mutex_lock(&q.lock);
	}
	pthread_mutex_unlock(&q.lock);
	return NULL;
}
static int by_time(const void *x, const void *y)
{
	const struct item *a = *(struct item *const *)x, *b = *(struct item *const *)y;
	return a->time_ns < b->time_ns ? -1 : a->time_ns > b->time_ns;
}

int notify_outbox_parse(const char *json, size_t len, struct arena *a, struct notify_kept *out)
{
	struct json_doc d;
	char msg[128];
	uint64_t ms = 0;
	memset(out, 0, sizeof(*out));
	if (json_doc_parse(&d, json, len, 0, msg, sizeof(msg)) < 0) {
		json_doc_release(&d);
		return -1;
	}
	const char *ch = json_str(json_get(d.root, "channel")), *body = json_str(json_get(d.root, "body"));
	const char *aid = json_str(json_get(d.root, "alert_id")), *ev = json_str(json_get(d.root, "event"));
	int rc = ch && body ? 0 : -1;
	if (rc == 0) {
		out->channel = arena_strdup(a, ch);
		out->body = arena_strdup(a, body);
		out->alert_id = arena_strdup(a, aid ? aid : "");
		out->event = arena_strdup(a, ev ? ev : "");
		json_uint64(json_get(d.root, "time_ms"), &ms);
		out->time_ns = ms * 1000000;
	}
	json_doc_release(&d);
	return rc;
}

/* One kept message back as an item, with its channel's address and secret
 * now (NULL: unreadable, or its channel is gone). */
static struct item *restore_one(const struct store_record *r, const struct notify_channel *chans, size_t n,
				struct arena *a)
{
	struct notify_kept k;
	struct item *it = NULL;
	long slot = strtol(r->id, NULL, 10);
	if (slot < 0 || slot >= OUTBOX_SLOTS || notify_outbox_parse(r->json, strlen(r->json), a, &k) < 0)
		return NULL;
	for (size_t i = 0; i < n && !it; i++)
		if (!strcmp(chans[i].id, k.channel))
			it = item_new(&chans[i], k.alert_id, k.event, r->time_ns, xstrdup(k.body));
	if (it)
		it->slot = (int)slot;
	else
		log_warn("a kept notification for channel %s is dropped: the channel is gone", k.channel);
	return it;
}

/* Queue again what the last run left in the outbox, oldest first. */
static int restore(char *err, size_t errlen)
{
	struct arena a;
	struct store_record *docs;
	struct notify_channel *chans;
	size_t nd, nc, n = 0;
	arena_init(&a);
	int rc = store_docs(q.store, OUTBOX_KIND, NULL, &a, &docs, &nd, err, errlen);
	if (rc == 0)
		rc = channels_load(q.store, &a, &chans, &nc, err, errlen);
	struct item **items = rc == 0 ? xcalloc(nd + 1, sizeof(*items)) : NULL;
	for (size_t i = 0; rc == 0 && i < nd; i++) {
		if (!strcmp(docs[i].json, WATCH_TOMBSTONE))
			continue;
		struct item *it = restore_one(&docs[i], chans, nc, &a);
		if (it) {
			q.used[it->slot] = 1;
			items[n++] = it;
		} else {
			struct store_record r = {OUTBOX_KIND, docs[i].id, clock_now_ns(), WATCH_TOMBSTONE};
			store_put_doc(q.store, &r, err, errlen);
		}
	}
	if (n)
		qsort(items, n, sizeof(*items), by_time);
	for (size_t i = 0; i < n; i++)
		enqueue(items[i], 1);
	if (n)
		log_info("%zu notifications left undelivered by the last run are queued again", n);
	q.st.restored += n;
	free(items);
	arena_release(&a);
	return rc;
}

int notify_start(struct store *s, const struct notify_options *o, char *err, size_t errlen)
{
	if (sodium_init() < 0)
		return errf(err, errlen, "libsodium could not start");
	pthread_mutex_lock(&q.lock);
	int was = q.running;
	q.opt = *o;
	if (!q.opt.attempts)
		q.opt.attempts = 4;
	if (!q.opt.backoff_ms)
		q.opt.backoff_ms = 1000;
	if (!q.opt.timeout_ms)
		q.opt.timeout_ms = 5000;
	q.stop = 0;
	q.running = 1;
	if (!was) {
		q.store = s;
		memset(q.used, 0, sizeof(q.used));
	}
	pthread_mutex_unlock(&q.lock);
	if (was)
		return errf(err, errlen, "notifications run already");
	if (s && restore(err, errlen) < 0)
		log_warn("notifications left by the last run could not be read: %s", err);
	if (pthread_create(&q.thread, NULL, deliver_loop, NULL) != 0) {
		q.running = 0;
		return errf(err, errlen, "the notification thread could not start");
	}
	return 0;
}

void notify_stop(void)
{
	if (q.store)
		rate_flush(1); /* held messages: their summary is kept for the next start */
	pthread_mutex_lock(&q.lock);
	int was = q.running;
	q.stop = 1;
	pthread_cond_broadcast(&q.wake);
	pthread_mutex_unlock(&q.lock);
	if (was)
		pthread_join(q.thread, NULL);
	pthread_mutex_lock(&q.lock);
	q.running = 0;
	while (q.head) {
		struct item *it = q.head;
		q.head = it->next;
		item_free(it);
	}
	q.tail = NULL;
	q.len = 0;
	for (size_t i = 0; i < q.n_rates; i++)
		rate_free(&q.rates[i]);
	free(q.rates);
	q.rates = NULL;
	q.n_rates = q.cap_rates = 0;
	pthread_mutex_unlock(&q.lock);
}

void notify_send(const struct notify_channel *chans, size_t n, const struct notify_event *e)
{
	log_info("alert %s %s: [%s] %s%s%s", e->alert_id, e->event, e->severity ? e->severity : "",
		 e->name ? e->name : "", e->message ? ": " : "", e->message ? e->message : "");
	for (size_t i = 0; i < n; i++) {
		struct item *summary;
		int ok = rate_allows(&chans[i], e, &summary);
		if (summary)
			enqueue(summary, 0);
		if (!ok)
			continue;
		struct buf b;
		buf_init(&b, BUF_NO_LIMIT);
		notify_body(&b, &chans[i], e);
		enqueue(item_new(&chans[i], e->alert_id, e->event, e->time_ns, buf_detach(&b, NULL)), 0);
	}
}

void notify_get_stats(struct notify_stats *st)
{
	pthread_mutex_lock(&q.lock);
	*st = q.st;
	st->pending = q.len;
	pthread_mutex_unlock(&q.lock);
}
