/*
 * bottleneck.h - rank the components of many requests by their impact on
 * the requests' latency.
 *
 * A component is what a span did, in a service, by span kind: a service,
 * a kind (server, client, internal, ...) and a label.  The label says what
 * was done rather than how the span was named (bottleneck_describe()): a
 * database or cache call is its normalised statement (literals replaced),
 * else its operation and collection, and its target (address, port,
 * database), so two statements of one span name are two components; an
 * HTTP call named for its method alone gets its peer ("POST
 * api.payments.example.com:443"); an entry span is its endpoint; anything
 * else its span name with ids and numbers replaced ({id}, {n}).
 *
 * Every moment of a request's critical path (analyze/critpath.h) is
 * charged to exactly one component, so the shares add up to the whole:
 *
 *   - a span's own time on the path (children excluded) is its own, except
 *   - the answer to a call (a SERVER or CONSUMER span under a CLIENT or
 *     PRODUCER span) is charged to the call: the caller waits, and the
 *     component names the callee (its service, once traced) as target;
 *     so is a CLIENT span under a CLIENT span of its service (the call's
 *     transport: HTTP under an LLM client, undici under fetch);
 *   - a framework wrapper is charged to its parent: a span of a web
 *     framework's instrumentation (span_is_framework_wrapper() of
 *     ingest/semconv.h: express.type, fastify.type, ... attributes, or the
 *     instrumentation scope of express, fastify, koa, hapi, restify,
 *     connect, router, nestjs, or asgi.event.type), or an
 *     INTERNAL span whose children cover its time (own time at most a tenth
 *     of its duration, or at most the clock slack of 1 ms);
 *   - connection set-up (dns.*, tcp/tls/ipc/net.connect, a client's
 *     *.connect outside a pool) is charged to its parent: part of the call
 *     or the work it serves, never a component of its own.  A request whose
 *     entry span is set-up is no request: it is skipped.
 *
 * Charging goes up to the nearest span that is not charged to its parent,
 * so the work of express's `request handler - /x` counts as the own time
 * of the route's entry span.  A component's impact is its critical time
 * summed over the requests and divided by their number: what it adds to
 * the average request, the time a request would save on average if it
 * took none.  A step in the shadow of a longer one has none, and a rare
 * step counts for as often as it runs, so the ranking follows the shares
 * of the critical time (frequency is in the sum once, not twice).
 *
 * Each entry gets a kind: resource_contention (waiting for a pool, lock or
 * queue, including a pool checkout such as pg-pool.connect, or mostly on
 * the path while its service's CPU was saturated), dependency (a call out,
 * or a span of another service than the request's), else
 * slowest_component.
 *
 * Not owned here: loading spans (the caller), classification
 * (analyze/slowops.h), printing.  Ownership: a struct bottleneck owns its
 * entries and their strings until bottleneck_release().
 */
#ifndef HOTPATH_ANALYZE_BOTTLENECK_H
#define HOTPATH_ANALYZE_BOTTLENECK_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/slowops.h"
#include "analyze/spantree.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/sketch.h"
#include "core/strmap.h"

#define BOTTLENECK_EXAMPLES 5
/* CPU utilisation (0..1) at or above which a service counts as saturated. */
#define BOTTLENECK_CPU_SATURATED 0.85
/* An INTERNAL span with children is a wrapper when its own time is at most
 * this share of its duration, or at most the slack (timestamps of whole
 * milliseconds leave gaps that are no work). */
#define BOTTLENECK_WRAPPER_SHARE    0.1
#define BOTTLENECK_WRAPPER_SLACK_NS 1000000ull

enum bottleneck_kind { BOTTLENECK_SLOWEST, BOTTLENECK_CONTENTION, BOTTLENECK_DEPENDENCY };

/* How a span takes part in the ranking (bottleneck_describe()). */
enum bottleneck_role {
	BOTTLENECK_ROLE_WORK,	   /* a component of its own */
	BOTTLENECK_ROLE_POOL,	   /* the same, and a wait: a pool checkout */
	BOTTLENECK_ROLE_FRAMEWORK, /* a framework's wrapper: charged to its parent */
	BOTTLENECK_ROLE_SETUP,	   /* connection set-up: charged to its parent */
};

/* What the ranking reads of a span besides its times, kind and place in
 * the tree, so a reader of many traces (query/request_trees.h) can keep
 * this and drop the attributes. */
struct bottleneck_span {
	const char *label; /* what it did (see above); never NULL */
	const char *peer;  /* whom a call addressed: "host:port", "host:port/db"; else NULL */
	uint8_t role;	   /* enum bottleneck_role */
};

struct bottleneck_example {
	uint8_t trace_id[16];
	uint64_t critical_ns; /* the component's critical time in that request */
	uint64_t start_ns;    /* that request's start */
};

struct bottleneck_entry {
	const char *service;
	const char *name;	/* the label: what was done */
	const char *span_name;	/* the normalised name of its first span */
	const char *target;	/* of a call: the answering service, else the peer; else NULL */
	uint8_t span_kind;	/* enum span_kind: part of the identity */
	uint8_t kind;		/* enum bottleneck_kind */
	uint8_t wait;		/* its spans wait for a pool, lock or queue */
	uint8_t call;		/* a call out (CLIENT) */
	uint8_t remote_service; /* a span of another service than the request's */
	uint8_t target_traced;	/* target is the service that answered */
	uint64_t critical_ns;	/* charged to it on the critical path, all requests */
	uint64_t requests;	/* requests in whose critical path it appears */
	uint64_t spans;		/* its spans, on the path or not */
	uint64_t saturated_ns;	/* of critical_ns, while its service's CPU was saturated */
	double impact_ns;	/* critical_ns / all requests: added to the average request */
	/* self time of its spans, each with the self time of the spans charged to it */
	double self_avg_ns, self_p95_ns;
	uint64_t *self_ns; /* every span's, until bottleneck_finish() */
	size_t n_self, cap_self;
	struct sketch self_sketch; /* merged in by bottleneck_merge() */
	char *self_enc;		   /* bottleneck_compact(): the self times encoded */
	size_t self_enc_len;
	const char *key; /* its identity in the index (bytes with NULs) */
	size_t key_len;
	struct bottleneck_example examples[BOTTLENECK_EXAMPLES]; /* largest critical_ns first */
	size_t n_examples;
	/* per request, internal */
	uint64_t cur_request, cur_ns;
};

/* CPU utilisation (0..1) of `service` around t_ns, or NaN when unknown. */
typedef double (*bottleneck_cpu_fn)(void *arg, const char *service, uint64_t t_ns);

struct bottleneck {
	struct arena arena;
	struct strmap index; /* service, kind, label, peer -> entry */
	struct bottleneck_entry *e;
	size_t n, cap;
	uint64_t requests;	    /* requests added */
	uint64_t skipped;	    /* requests left out: their entry span is connection set-up */
	uint64_t critical_ns;	    /* their durations (= critical path lengths) summed */
	uint64_t first_ns, last_ns; /* earliest start and latest end of the requests added */
	bottleneck_cpu_fn cpu;
	void *cpu_arg;
	/* scratch */
	struct arena scratch;
	struct buf key;
	size_t *touched;
	size_t n_touched, cap_touched;
};

void bottleneck_init(struct bottleneck *b);
void bottleneck_release(struct bottleneck *b);

/*
 * What `sp` did and its role, from its name, kind, scope and attributes.
 * Strings point into the span or into `a`.
 */
void bottleneck_describe(const struct span *sp, struct arena *a, struct bottleneck_span *out);

/*
 * Add one request: `t` holds its span and descendants (the request is the
 * longest root), `cls` their classes (slowops_classify + slowops_resolve),
 * `desc` their descriptions (bottleneck_describe; NULL: described here
 * from the spans' attributes), `service` the request's service.
 */
void bottleneck_add(struct bottleneck *b, const struct spantree *t, const struct slowops_class *cls,
		    const struct bottleneck_span *desc, const char *service, const uint8_t trace_id[16]);
/*
 * bottleneck_add() of one request to each of bs[0 .. n_bs), its critical
 * path and charges computed once: what adding it to each in turn gives,
 * for less.  A request without descriptions is described in bs[0]'s
 * scratch.
 */
void bottleneck_add_many(struct bottleneck *const *bs, size_t n_bs, const struct spantree *t,
			 const struct slowops_class *cls, const struct bottleneck_span *desc,
			 const char *service, const uint8_t trace_id[16]);
/*
 * Add what `src` (not finished) holds to `dst` (not finished): requests,
 * critical time, spans and examples per component; self times go into the
 * entries' sketches (self_p95 is then the sketch's, within SKETCH_ALPHA).
 * `src`'s requests are taken to lie around t_ns: when dst->cpu is set, an
 * entry's critical time counts as saturated when its service's CPU at t_ns
 * is (src's own saturated time is added as it is).  For rankings kept per
 * time bucket (query/opstats.h).
 */
void bottleneck_merge(struct bottleneck *dst, const struct bottleneck *src, uint64_t t_ns);
/* Keep every entry's self times encoded only (sketch_encode(): a few
 * hundred bytes instead of a sketch's kilobytes), for rankings kept long.
 * Merging from and into a compacted ranking works as before. */
void bottleneck_compact(struct bottleneck *b);
/*
 * The unfinished ranking `b` in a compact binary form, appended to `out`
 * (for rankings stored, query/opstats.h).  Its self times must be
 * compacted (bottleneck_compact()): only the encoded ones are written.
 */
void bottleneck_encode(const struct bottleneck *b, struct buf *out);
/*
 * Merge an encoded ranking into `dst`, as bottleneck_merge() would merge
 * the ranking it was encoded from.  0, or -1 for bytes that are not one
 * (what was read of them may have been merged).
 */
int bottleneck_merge_encoded(struct bottleneck *dst, const void *data, size_t len, uint64_t t_ns);
/* Compute impact, kinds and self-time figures; sort entries by impact,
 * largest first.  Nothing may be added afterwards. */
void bottleneck_finish(struct bottleneck *b);

/* "slowest_component", "resource_contention", "dependency". */
const char *bottleneck_kind_name(int kind);
/* "server", "client", "internal", "producer", "consumer", "unspecified". */
const char *bottleneck_span_kind_name(int span_kind);
/* Normalise a span name into `out` (at most outlen - 1 bytes). */
void bottleneck_normalize(const char *name, char *out, size_t outlen);

#endif
