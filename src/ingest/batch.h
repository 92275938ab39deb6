/*
 * batch.h - the one decoded form of every ingest format.
 *
 * Each decoder (OTLP protobuf, OTLP JSON, the seeds' request model, ...)
 * turns untrusted bytes into a `struct batch`; the store consumes batches and
 * never sees wire formats.  Everything a batch points to (strings, attribute
 * arrays, resources) lives in its arena and dies with batch_release().
 * Strings are NUL-terminated UTF-8; NULL means "absent".
 */
#ifndef HOTPATH_INGEST_BATCH_H
#define HOTPATH_INGEST_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"

enum attr_type {
	ATTR_STRING,
	ATTR_BOOL,
	ATTR_INT,
	ATTR_DOUBLE,
	ATTR_JSON, /* arrays, key-value lists and bytes, kept as JSON text in `s` */
};

struct attr {
	const char *key;
	uint8_t type; /* enum attr_type */
	union {
		const char *s; /* ATTR_STRING, ATTR_JSON */
		int64_t i;     /* ATTR_INT, and ATTR_BOOL as 0/1 */
		double d;      /* ATTR_DOUBLE */
	} v;
};

/*
 * A producer of telemetry (OTLP Resource).  The fields before `attrs` are
 * derived from well-known resource attribute keys by resource_derive(); see
 * docs/ATTRIBUTES.md for the keys.  `attrs` keeps every attribute.
 */
struct resource {
	const char *service_name; /* never NULL after resource_derive() */
	const char *service_version;
	const char *environment;
	const char *service_namespace;
	const char *department; /* team / department */
	const char *intent;	/* intent category */
	struct attr *attrs;
	uint32_t n_attrs;
};

/* OTLP Span.SpanKind values. */
enum span_kind {
	SPAN_KIND_UNSPECIFIED = 0,
	SPAN_KIND_INTERNAL = 1,
	SPAN_KIND_SERVER = 2,
	SPAN_KIND_CLIENT = 3,
	SPAN_KIND_PRODUCER = 4,
	SPAN_KIND_CONSUMER = 5,
};

/* OTLP Status.StatusCode values. */
enum span_status { SPAN_STATUS_UNSET = 0, SPAN_STATUS_OK = 1, SPAN_STATUS_ERROR = 2 };

struct span_event {
	uint64_t time_ns;
	const char *name;
	struct attr *attrs;
	uint32_t n_attrs;
};

struct span_link {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	struct attr *attrs;
	uint32_t n_attrs;
};

struct span {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8]; /* all zero for a root span */
	const char *name;
	uint8_t kind;	/* enum span_kind */
	uint8_t status; /* enum span_status */
	const char *status_message;
	uint64_t start_ns, end_ns; /* unix epoch nanoseconds */
	const struct resource *resource;
	const char *scope_name, *scope_version;
	struct attr *attrs;
	uint32_t n_attrs;
	struct span_event *events;
	uint32_t n_events;
	struct span_link *links;
	uint32_t n_links;
};

enum metric_type { METRIC_GAUGE = 1, METRIC_SUM = 2, METRIC_HISTOGRAM = 3 };

/* One data point of a gauge, sum or (explicit-bucket) histogram. */
struct metric_point {
	const struct resource *resource;
	const char *name, *unit;
	uint8_t type; /* enum metric_type */
	/* A sum or histogram whose points each count only their own interval
	 * (OTLP DELTA temporality); 0: cumulative since start_ns. */
	uint8_t delta;
	uint64_t start_ns, time_ns;
	double value; /* gauge and sum */
	/* histogram only: */
	uint64_t count;
	double sum;
	uint32_t n_bounds; /* n_bounds + 1 bucket counts */
	double *bounds;
	uint64_t *bucket_counts;
	struct attr *attrs;
	uint32_t n_attrs;
};

struct batch {
	struct arena arena;
	struct span *spans;
	size_t n_spans, cap_spans;
	struct metric_point *points;
	size_t n_points, cap_points;
	/* Items dropped as invalid, and the first reason (OTLP partial_success). */
	uint64_t rejected;
	char reject_msg[256];
};

void batch_init(struct batch *b);
void batch_release(struct batch *b);
/* Empty the batch but keep its memory, to decode the next one into it. */
void batch_reset(struct batch *b);
/* Append a zeroed span / data point and return it. */
struct span *batch_add_span(struct batch *b);
struct metric_point *batch_add_point(struct batch *b);
/* Undo the last batch_add_span() (used when a span turns out invalid). */
void batch_drop_last_span(struct batch *b);
/* Count one rejected item; keep the first message. */
void batch_reject(struct batch *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fill the derived fields of `r` from its attributes. */
void resource_derive(struct resource *r);
/* Append attributes as a JSON object {"key": value, ...}; ATTR_JSON values
 * are inserted as the JSON text they hold. */
int attrs_to_json(struct buf *b, const struct attr *attrs, uint32_t n);
/* The attribute `key`, or NULL. */
const struct attr *attr_find(const struct attr *attrs, uint32_t n, const char *key);
/* The string value of attribute `key`, or NULL if absent or not a string. */
const char *attr_str(const struct attr *attrs, uint32_t n, const char *key);

/*
 * Deep copies into `a`, for a reader that keeps spans past the life of the
 * batch they came in.  span_copy() copies the strings, attributes, events
 * and links, and leaves the resource pointer as it is (resources are
 * shared by many spans: copy each once with resource_copy()).
 */
void span_copy(struct arena *a, struct span *dst, const struct span *src);
struct resource *resource_copy(struct arena *a, const struct resource *r);
/* Whether two resources hold the same attributes, in the same order. */
int resource_same(const struct resource *x, const struct resource *y);

/* The accepted window of a span's times: a start after 1970-01-01 and
 * before 2200-01-01, a duration of at most 30 days (docs/API.md). */
#define SPAN_TIME_MAX_NS     7258118400000000000ull
#define SPAN_DURATION_MAX_NS (30ull * 86400 * 1000000000)
/*
 * Semantic checks every decoder applies to a decoded span: ids present and
 * non-zero, times in the window above, end not before start.  Returns 0, or -1 with a message.
 */
int span_validate(const struct span *s, char *err, size_t errlen);

#endif
