/*
 * slo.h - service level objectives: what an SLO is, its error budget and
 * burn rates, and the multiwindow, multi-burn-rate alerts of the Google
 * SRE Workbook (ch. 5).  The arithmetic here is pure; slo_count() reads
 * the store's rollups.
 *
 * Good requests are counted exactly, never estimated from a sketch:
 *  - availability: good = requests whose status is OK (rollup rows carry
 *    the status class), total = all requests in scope;
 *  - latency: good = requests faster than the threshold: for a tier bound
 *    (100, 500 or 2000 ms; store.h request_tier_lo_ns) the rollups' exact
 *    tier counts, for any other threshold the per-minute counts of
 *    watch/exact.h, kept from the request rows (slo_is_exact()).  "95 %
 *    under 500 ms" and "p95 < 500 ms" are the same objective.
 *
 * Windows are whole minutes: a window of length W ending at `end` covers
 * [end - W, end), `end` being the start of the minute after now, so the
 * current minute's requests count.
 */
#ifndef HOTPATH_WATCH_SLO_H
#define HOTPATH_WATCH_SLO_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json_doc.h"
#include "core/json_write.h"
#include "store/store.h"

/* What a deleted definition (SLO, rule, channel) is stored as. */
#define WATCH_TOMBSTONE "{\"deleted\":true}"

/* The common filters a watched thing is scoped by (NULL: any). */
struct watch_scope {
	const char *service, *endpoint, *tool, *env, *department, *intent, *version;
};

/* Read {"service": ..., ...} (NULL or absent: no filter).  Strings live in
 * `a`.  -ERR_INVALID with a message naming the member at fault. */
int watch_scope_parse(const struct json *o, struct arena *a, struct watch_scope *out, char *err,
		      size_t errlen);
/* {"service": ..., ...}: the filters that are set, as a value. */
void watch_scope_put(struct json_w *w, const struct watch_scope *s);
/* The same, appended to `b`. */
void watch_scope_write(struct buf *b, const struct watch_scope *s);
/* The member "channels": at most SLO_CHANNELS_MAX channel ids of 1 to 64
 * bytes (absent or null: none), in `a`.  ERR_INVALID with a message. */
int watch_channels_parse(const struct json *o, struct arena *a, const char ***out, size_t *n, char *err,
			 size_t errlen);
/* Member `key`: seconds, as a number or "90s", "5m", "1h", "1d", from lo
 * to hi (absent or null: *out unchanged).  ERR_INVALID with a message. */
int watch_duration_member(const struct json *o, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
			  char *err, size_t errlen);
/* "repeat": a firing alert not acknowledged pages again this often (0: never). */
#define WATCH_REPEAT_MAX_S (7ull * 86400)
/* the member "channels":[ids] */
void watch_channels_put(struct json_w *w, const char *const *ids, size_t n);

/* Parse one stored document (its id `id`) into `out`, an element of the
 * caller's array; strings live in `a`. */
typedef int (*watch_doc_parse_fn)(const struct json *o, const char *id, struct arena *a, void *out, char *err,
				  size_t errlen);
/*
 * Every current document of `kind` but the deleted ones (WATCH_TOMBSTONE),
 * parsed by `parse` into an array of `size`-byte elements in `a` (*out, *n);
 * a document that does not parse is logged and left out.  0, or the
 * store's error class with `err`.
 */
int watch_load_docs(struct store *s, const char *kind, size_t size, watch_doc_parse_fn parse, struct arena *a,
		    void **out, size_t *n, char *err, size_t errlen);
/* The store query of the scope over [from_ns, to_ns): the fleet counts
 * each trace once (edge requests) unless a service or endpoint is named,
 * as the API's answers do. */
void watch_scope_query(const struct watch_scope *s, uint64_t from_ns, uint64_t to_ns, struct store_query *q);

enum slo_kind { SLO_LATENCY, SLO_AVAILABILITY };

struct slo {
	const char *id, *name;
	enum slo_kind kind;
	double objective;      /* percent of good requests, 0 < x < 100 */
	uint64_t threshold_ms; /* latency: good is faster than this (1 ms .. 1 h) */
	unsigned window_days;  /* 7, 28 or 30 */
	struct watch_scope scope;
	const char **channels; /* channel ids notified by its alerts */
	size_t n_channels;
	uint64_t repeat_s; /* its page pages again while firing, not acknowledged (0: never) */
};

#define SLO_NAME_MAX	 200
#define SLO_CHANNELS_MAX 16

/* Parse a definition (the API's body, or a stored document); `id` is kept
 * when the body has none.  Strings live in `a`. */
int slo_parse(const struct json *o, const char *id, struct arena *a, struct slo *out, char *err,
	      size_t errlen);
/* The definition as JSON (what slo_parse() reads back). */
void slo_write(struct buf *b, const struct slo *s);

struct slo_counts {
	uint64_t good, total;
};

/* Bad requests over all, divided by the budgeted share (1 - objective):
 * 1 spends the budget exactly over the window.  0 without requests. */
double slo_burn_rate(struct slo_counts c, double objective_pct);

struct slo_budget {
	double compliance;	/* good / total in percent; 100 without requests */
	double total;		/* budgeted bad requests: (1 - objective) * total */
	uint64_t consumed;	/* bad requests */
	double remaining;	/* total - consumed (negative: overspent) */
	double remaining_ratio; /* remaining / total; 1 without requests */
};
void slo_budget_of(struct slo_counts window, double objective_pct, struct slo_budget *b);
/* Seconds until the remaining budget is spent at burn rate `burn` (the
 * budget of a window of `window_s` goes in window_s / burn): -1 when it
 * is not being spent, 0 when it is spent already. */
double slo_exhaustion_s(const struct slo_budget *b, double burn, uint64_t window_s);

/* A multiwindow alert: both windows burn faster than `rate`. */
struct slo_alert_window {
	const char *severity; /* "page" or "ticket" */
	double rate;
	uint64_t long_s, short_s;
};
/* page 14.4x over 1 h & 5 min, page 6x over 6 h & 30 min, ticket 1x over
 * 3 d & 6 h. */
#define SLO_ALERT_WINDOWS 3
extern const struct slo_alert_window slo_alert_windows[SLO_ALERT_WINDOWS];
/* The distinct window lengths the alerts read, in seconds, ascending. */
#define SLO_BURN_WINDOWS 5
extern const uint64_t slo_burn_windows_s[SLO_BURN_WINDOWS];

/* Burn rates over slo_burn_windows_s, in that order. */
struct slo_burn {
	double rate[SLO_BURN_WINDOWS];
};
/* Whether alert `w` holds: both its windows above its rate. */
int slo_alert_holds(const struct slo_alert_window *w, const struct slo_burn *b);

/* Whether the SLO's good requests are counted by watch/exact.h (a latency
 * threshold that is not a tier bound) rather than read from the rollups. */
int slo_is_exact(const struct slo *s);
/* The end of the windows evaluated at `now_ns`: the next whole minute. */
uint64_t slo_window_end(uint64_t now_ns);
/* Good and total requests of the SLO in [from_ns, to_ns) (whole minutes):
 * whole hours from the hourly rollups, the rest from the minute ones; an
 * exact SLO's from its counts as last refreshed (exact_counts()). */
int slo_count(struct store *st, const struct slo *s, uint64_t from_ns, uint64_t to_ns, struct slo_counts *out,
	      char *err, size_t errlen);
/* Every rollup row of the SLO's scope (not for an exact SLO) in [from_ns, to_ns) (whole minutes),
 * no request twice: hourly rows for the whole hours, minute rows at the
 * ends. */
typedef void (*slo_row_fn)(void *arg, const struct rollup_row *r);
int slo_rows(struct store *st, const struct slo *s, uint64_t from_ns, uint64_t to_ns, slo_row_fn fn,
	     void *arg, char *err, size_t errlen);
/* Good and total of one rollup row for the SLO. */
void slo_count_row(const struct slo *s, const struct rollup_row *r, struct slo_counts *c);

#endif
