/*
 * notify.h - notifications: webhook channels (a JSON POST through
 * libcurl, signed with HMAC-SHA256 of the body under the channel's secret,
 * retried with backoff) and the server log.
 *
 * Anything that wants to tell people something (an alert of this module,
 * later a deployment or a regression) builds a `struct notify_event` and
 * calls notify_send(): the message is queued and delivered by one thread,
 * so the caller never waits on a receiver.  Secrets stay in this module:
 * no log line and no answer carries them.
 *
 * Durable: each message waiting for delivery is also a document of kind
 * "notify.outbox" (the channel's id, the body; never the address or the
 * secret, which are read from the channel when it is sent), removed once
 * delivered or given up.  A restart (or a crash) sends what was left, with
 * the channel's current address and secret.  A message is delivered at
 * least once: exactly once unless the server dies between a receiver's 2xx
 * and the removal.
 *
 * Rate limit: a channel with "rate_limit" N sends at most N messages per
 * "rate_window" (60 s); the others are held and, when the window ends, sent
 * as one summary message listing them (event "summary"): never dropped
 * silently, and counted (notify_stats.grouped).
 */
#ifndef HOTPATH_WATCH_NOTIFY_H
#define HOTPATH_WATCH_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/json_doc.h"
#include "store/store.h"
#include "watch/slo.h"

#define CHANNEL_KIND	   "alert.channel"
#define NOTIFY_SIG_HEADER  "X-Hotpath-Signature"
#define CHANNEL_SECRET_MAX 256
#define CHANNEL_URL_MAX	   2048
#define OUTBOX_KIND	   "notify.outbox"
#define CHANNEL_RATE_MAX   10000

struct notify_channel {
	const char *id, *name;
	const char *url;	/* http:// or https://; never shown whole */
	const char *secret;	/* NULL: unsigned */
	int slack;		/* 1: {"text": ...} (Slack incoming webhooks) */
	unsigned rate_limit;	/* messages per window; 0: no limit */
	unsigned rate_window_s; /* the window of the limit (60) */
};

/* Parse a definition; "url" and "secret" left out are taken from `prev`
 * (an update keeps them) when it is not NULL. */
int channel_parse(const struct json *o, const char *id, const struct notify_channel *prev, struct arena *a,
		  struct notify_channel *out, char *err, size_t errlen);
/* The stored form (with the secret): only for store_put_doc(). */
void channel_write_stored(struct buf *b, const struct notify_channel *c);
/* The public form: the secret is replaced by "secret_set": true/false, and
 * the URL shows only its origin ("https://hooks.example/…"): the path of a
 * webhook address often is a secret too (Slack's is). */
void channel_write_public(struct buf *b, const struct notify_channel *c);
/* Every stored channel, strings in `a`. */
int channels_load(struct store *s, struct arena *a, struct notify_channel **out, size_t *n, char *err,
		  size_t errlen);

/* One message: an alert firing or resolved, or anything else. */
struct notify_event {
	const char *event;    /* "firing", "resolved", "reminder" (still firing, not acknowledged) */
	const char *alert_id; /* groups the messages of one incident */
	const char *name, *severity, *source, *message;
	double value, limit;
	uint64_t time_ns;
};

/* The JSON body sent to a channel (its format). */
void notify_body(struct buf *b, const struct notify_channel *c, const struct notify_event *e);
/* "sha256=" and the hex HMAC-SHA256 of the body under `secret`. */
void notify_sign(const char *secret, const void *body, size_t len, char out[72]);

/* Delivery: attempts (first + retries) and the first backoff (doubling). */
struct notify_options {
	unsigned attempts;
	unsigned backoff_ms;
	unsigned timeout_ms;
};
/* Start the delivery thread.  With a store (not NULL), messages are kept in
 * its outbox, and those left by the last run are queued again. */
int notify_start(struct store *s, const struct notify_options *o, char *err, size_t errlen);
/* Stop: with a store, what is still queued stays in the outbox for the next
 * start (held messages are sent as their summary then); without, it gets
 * one attempt each (no retries).  Then the thread ends. */
void notify_stop(void);
/* Log the event, and queue it for each channel (copied). */
void notify_send(const struct notify_channel *chans, size_t n, const struct notify_event *e);
/* A message kept in the outbox (a document of kind OUTBOX_KIND), strings
 * in the caller's arena.  0, or -1 when it is not one. */
struct notify_kept {
	const char *channel, *alert_id, *event, *body;
	uint64_t time_ns;
};
int notify_outbox_parse(const char *json, size_t len, struct arena *a, struct notify_kept *out);
/* Counters for the API and tests. */
struct notify_stats {
	uint64_t sent, failed, retries, queued;
	uint64_t grouped;   /* held by a channel's rate limit, sent in a summary */
	uint64_t summaries; /* summary messages queued */
	uint64_t restored;  /* messages queued again from the outbox at start */
	uint64_t pending;   /* queued now */
};
void notify_get_stats(struct notify_stats *st);

#endif
