/*
 * recommend.h - the words of a finding: a recommendation's title, the
 * evidence in numbers, the suggested change and the estimated gain, and the
 * JSON and Markdown forms the API and `hotpath report` share.
 *
 * Not owned here: detecting anything (analyze/detect.h), storing
 * recommendations or their status, HTTP.
 *
 * Ownership: recommend_build() puts its strings in the caller's arena; the
 * writers append to the caller's buffer and keep no pointer.
 */
#ifndef HOTPATH_ANALYZE_RECOMMEND_H
#define HOTPATH_ANALYZE_RECOMMEND_H

#include "analyze/detect.h"
#include "core/arena.h"
#include "core/buf.h"

/* Where the pattern pages are served (docs/recommendations/<slug>.md). */
#define RECOMMEND_DOC_PREFIX "/docs/recommendations/"

struct recommendation {
	const char *title;    /* "Cache the result of tool database-query" */
	const char *evidence; /* "172 identical calls an hour ..., avg 413 ms" */
	const char *change;   /* what to do */
	const char *gain;     /* "Saves ~306 ms a request (68% of ...), ..." */
	const char *doc;      /* RECOMMEND_DOC_PREFIX "<slug>.md" */
};

/* Fill `r` from `f`, strings in `a`.  Returns 0. */
int recommend_build(struct arena *a, const struct finding *f, struct recommendation *r);

/*
 * One finding and its recommendation as a JSON object:
 *   {"id", "kind", "kind_name", "priority", "doc",
 *    "subject": {service, endpoint, tool, detail, environment},
 *    "evidence": {occurrences, affected_requests, ...},
 *    "estimate": {saving_ms, saving_pct, saved_s_per_hour},
 *    "examples": [trace ids],
 *    "recommendation": {title, evidence, change, gain}}
 * docs/DETECTORS.md lists every field.  `r` may be NULL (it is then built).
 * Returns 0, or -1 when the buffer's limit is reached.
 */
int recommend_json(struct buf *b, const struct finding *f, const struct recommendation *r);

/* One Markdown list item for reports, ending in a newline:
 * "- **HIGH** Title: evidence. Change. Gain. ([how](doc))" */
int recommend_markdown(struct buf *b, const struct finding *f, const struct recommendation *r);

/* "450 ms", "1.2 s", "95 µs": a duration for people. */
void recommend_fmt_duration(char *out, size_t cap, double ns);
/* "48 MiB", "1.5 GiB", "640 B" */
void recommend_fmt_bytes(char *out, size_t cap, double bytes);
/* "45 s", "4.0 min", "25 min", "3.0 h": a window of time given in seconds. */
void recommend_fmt_window(char *out, size_t cap, double s);

/*
 * Figures per hour are quoted only over a window of at least this many
 * seconds; over a shorter one a text gives the count and the window
 * ("1479 requests in 2.5 min"), never a window rounded to "0.0 h" nor an
 * hourly rate extrapolated from a few minutes.
 */
#define RECOMMEND_RATE_MIN_WINDOW_S 600.0

#endif
