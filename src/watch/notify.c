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
#include "core/json_field.h"
#include "core/log.h"

#define QUEUE_MAX 1000

/* ---- channels ------------------------------------------------------------- */

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
	if (id)
		c->id = arena_strdup(a, id);
	if (!c->name)
		c->name = c->id ? c->id : "webhook";
	return 0;
}

/* "https://host:port/…": the address without its path, query or user. */
static void put_origin(struct buf *b, const char *url)
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
	buf_put_json_str(b, shown);
}

static void channel_write(struct buf *b, const struct notify_channel *c, int with_secret)
{
	buf_puts(b, "{\"id\":");
	buf_put_json_str(b, c->id ? c->id : "");
	buf_puts(b, ",\"name\":");
	buf_put_json_str(b, c->name ? c->name : "");
	buf_puts(b, ",\"type\":\"webhook\",\"url\":");
	if (with_secret)
		buf_put_json_str(b, c->url);
	else
		put_origin(b, c->url);
	buf_printf(b, ",\"format\":\"%s\"", c->slack ? "slack" : "json");
	if (with_secret && c->secret) {
		buf_puts(b, ",\"secret\":");
		buf_put_json_str(b, c->secret);
	} else if (!with_secret)
		buf_printf(b, ",\"secret_set\":%s", c->secret ? "true" : "false");
	buf_putc(b, '}');
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

static void put_figure(struct buf *b, const char *key, double v)
{
	buf_printf(b, ",\"%s\":", key);
	if (isfinite(v))
		buf_put_json_double(b, v);
	else
		buf_puts(b, "null");
}

void notify_body(struct buf *b, const struct notify_channel *c, const struct notify_event *e)
{
	if (c->slack) {
		char text[1024];
		snprintf(text, sizeof(text), "%s [%s] %s: %s",
			 !strcmp(e->event, "firing") ? ":red_circle:" : ":white_check_mark:",
			 e->severity ? e->severity : "", e->name ? e->name : e->alert_id,
			 e->message ? e->message : e->event);
		buf_puts(b, "{\"text\":");
		buf_put_json_str(b, text);
		buf_putc(b, '}');
		return;
	}
	buf_puts(b, "{\"event\":");
	buf_put_json_str(b, e->event);
	buf_puts(b, ",\"alert\":{\"id\":");
	buf_put_json_str(b, e->alert_id);
	buf_puts(b, ",\"name\":");
	buf_put_json_str(b, e->name ? e->name : "");
	buf_puts(b, ",\"severity\":");
	buf_put_json_str(b, e->severity ? e->severity : "");
	buf_puts(b, ",\"source\":");
	buf_put_json_str(b, e->source ? e->source : "");
	buf_puts(b, ",\"message\":");
	buf_put_json_str(b, e->message ? e->message : "");
	put_figure(b, "value", e->value);
	put_figure(b, "limit", e->limit);
	buf_printf(b, "},\"time_ms\":%llu}", (unsigned long long)(e->time_ns / 1000000));
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

struct item {
	struct item *next;
	char *channel, *url, *secret, *body, *alert_id;
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
	free(it);
}

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

static void deliver(const struct item *it)
{
	char err[256];
	long status;
	unsigned wait = q.opt.backoff_ms;
	for (unsigned i = 0; i < q.opt.attempts; i++) {
		if (post_once(it, &status, err, sizeof(err)) == 0) {
			pthread_mutex_lock(&q.lock);
			q.st.sent++;
			pthread_mutex_unlock(&q.lock);
			log_info("notification for %s delivered to channel %s", it->alert_id, it->channel);
			return;
		}
		log_warn("notification for %s to channel %s failed (attempt %u of %u): %s", it->alert_id,
			 it->channel, i + 1, q.opt.attempts, err);
		if (i + 1 == q.opt.attempts || backoff_wait(wait))
			break;
		pthread_mutex_lock(&q.lock);
		q.st.retries++;
		pthread_mutex_unlock(&q.lock);
		wait *= 2;
	}
	pthread_mutex_lock(&q.lock);
	q.st.failed++;
	pthread_mutex_unlock(&q.lock);
}

static void *deliver_loop(void *arg)
{
	pthread_mutex_lock(&q.lock);
	for (;;) {
		while (!q.head && !q.stop)
			pthread_cond_wait(&q.wake, &q.lock);
		struct item *it = q.head;
		if (!it)
			break;
		q.head = it->next;
		if (!q.head)
			q.tail = NULL;
		q.len--;
		pthread_mutex_unlock(&q.lock);
		deliver(it);
		item_free(it);
		pthread_mutex_lock(&q.lock);
	}
	pthread_mutex_unlock(&q.lock);
	return NULL;
}

int notify_start(const struct notify_options *o, char *err, size_t errlen)
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
	pthread_mutex_unlock(&q.lock);
	if (was)
		return errf(err, errlen, "notifications run already");
	if (pthread_create(&q.thread, NULL, deliver_loop, NULL) != 0) {
		q.running = 0;
		return errf(err, errlen, "the notification thread could not start");
	}
	return 0;
}

void notify_stop(void)
{
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
	pthread_mutex_unlock(&q.lock);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void enqueue(struct item *it)
{
	pthread_mutex_lock(&q.lock);
	if (!q.running) {
		pthread_mutex_unlock(&q.lock);
		item_free(it);
		return;
	}
	if (q.len >= QUEUE_MAX) {
		struct item *old = q.head;
		q.head = old->next;
		q.len--;
		q.st.failed++;
		item_free(old);
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
}

void notify_send(const struct notify_channel *chans, size_t n, const struct notify_event *e)
{
	log_info("alert %s %s: [%s] %s%s%s", e->alert_id, e->event, e->severity ? e->severity : "",
		 e->name ? e->name : "", e->message ? ": " : "", e->message ? e->message : "");
	for (size_t i = 0; i < n; i++) {
		struct buf b;
		buf_init(&b, BUF_NO_LIMIT);
		notify_body(&b, &chans[i], e);
		struct item *it = xcalloc(1, sizeof(*it));
		it->channel = xstrdup(chans[i].id ? chans[i].id : "");
		it->url = xstrdup(chans[i].url);
		it->secret = dup_or_null(chans[i].secret);
		it->alert_id = xstrdup(e->alert_id);
		it->body = buf_detach(&b, NULL);
		enqueue(it);
	}
}

void notify_get_stats(struct notify_stats *st)
{
	pthread_mutex_lock(&q.lock);
	*st = q.st;
	pthread_mutex_unlock(&q.lock);
}
