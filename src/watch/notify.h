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

struct notify_channel {
	const char *id, *name;
	const char *url;    /* http:// or https://; never shown whole */
	const char *secret; /* NULL: unsigned */
	int slack;	    /* 1: {"text": ...} (Slack incoming webhooks) */
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
	const char *event;    /* "firing", "resolved" */
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
int notify_start(const struct notify_options *o, char *err, size_t errlen);
/* Stop: what is still queued gets one attempt each (no retries), then the
 * thread ends. */
void notify_stop(void);
/* Log the event, and queue it for each channel (copied). */
void notify_send(const struct notify_channel *chans, size_t n, const struct notify_event *e);
/* Counters for the API and tests. */
struct notify_stats {
	uint64_t sent, failed, retries, queued;
};
void notify_get_stats(struct notify_stats *st);

#endif
