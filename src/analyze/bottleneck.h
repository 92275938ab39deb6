/*
 * bottleneck.h - rank the components of many requests by their impact on
 * the requests' latency.
 *
 * A component is a service and a normalised span name ("orders: SELECT
 * order_items", ids and numbers in names replaced by {id} and {n}; a call
 * named for its HTTP method alone gets its server.address: "POST
 * api.payments.example.com").  Its
 * impact is its time on the requests' critical paths (analyze/critpath.h),
 * summed over the requests, times its frequency (the share of requests in
 * whose critical path it appears): a step every request waits on outranks
 * a slower one that runs in parallel or only now and then.
 *
 * A call to another component (a CLIENT span: database, cache, external
 * API, another service of the fleet) is charged with the critical time of
 * everything under it, so a slow dependency shows as one entry even when
 * the time is spent in its own spans; those spans are ranked as well, so
 * the shares of nested entries overlap.  Every other span is charged with
 * its own critical time only.
 *
 * Each entry gets a kind: resource_contention (waiting for a pool, lock or
 * queue, or mostly on the path while its service's CPU was saturated),
 * dependency (a call out, or a span of another service than the
 * request's), else slowest_component.
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
#include "core/strmap.h"

#define BOTTLENECK_EXAMPLES 5
/* CPU utilisation (0..1) at or above which a service counts as saturated. */
#define BOTTLENECK_CPU_SATURATED 0.85

enum bottleneck_kind { BOTTLENECK_SLOWEST, BOTTLENECK_CONTENTION, BOTTLENECK_DEPENDENCY };

struct bottleneck_example {
	uint8_t trace_id[16];
	uint64_t critical_ns; /* the component's critical time in that request */
};

struct bottleneck_entry {
	const char *service, *name; /* name normalised */
	const char *target;	    /* of a call: the peer (service, db, host), else NULL */
	uint8_t kind;		    /* enum bottleneck_kind */
	uint8_t wait;		    /* its spans wait for a pool, lock or queue */
	uint8_t call;		    /* a call out (charged with its subtree) */
	uint8_t remote_service;	    /* a span of another service than the request's */
	uint64_t critical_ns;	    /* on the critical path, all requests */
	uint64_t requests;	    /* requests in whose critical path it appears */
	uint64_t spans;		    /* spans seen, on the path or not */
	uint64_t saturated_ns;	    /* of critical_ns, while its service's CPU was saturated */
	double impact_ns;	    /* critical_ns * requests / all requests */
	double self_avg_ns, self_p95_ns;
	uint64_t *self_ns; /* self time of every span, until bottleneck_finish() */
	size_t n_self, cap_self;
	struct bottleneck_example examples[BOTTLENECK_EXAMPLES]; /* largest critical_ns first */
	size_t n_examples;
	/* per request, internal */
	uint64_t cur_request, cur_ns;
};

/* CPU utilisation (0..1) of `service` around t_ns, or NaN when unknown. */
typedef double (*bottleneck_cpu_fn)(void *arg, const char *service, uint64_t t_ns);

struct bottleneck {
	struct arena arena;
	struct strmap index; /* service + '\0' + normalised name -> entry */
	struct bottleneck_entry *e;
	size_t n, cap;
	uint64_t requests;    /* requests added */
	uint64_t critical_ns; /* their durations (= critical path lengths) summed */
	bottleneck_cpu_fn cpu;
	void *cpu_arg;
	/* scratch */
	size_t *touched;
	size_t n_touched, cap_touched;
};

void bottleneck_init(struct bottleneck *b);
void bottleneck_release(struct bottleneck *b);

/*
 * Add one request: `t` holds its span and descendants (the request is the
 * longest root), `cls` their classes (slowops_classify + slowops_resolve),
 * `service` the request's service.
 */
void bottleneck_add(struct bottleneck *b, const struct spantree *t, const struct slowops_class *cls,
		    const char *service, const uint8_t trace_id[16]);
/* Compute impact, kinds and self-time figures; sort entries by impact,
 * largest first.  Nothing may be added afterwards. */
void bottleneck_finish(struct bottleneck *b);

/* "slowest_component", "resource_contention", "dependency". */
const char *bottleneck_kind_name(int kind);
/* Normalise a span name into `out` (at most outlen - 1 bytes). */
void bottleneck_normalize(const char *name, char *out, size_t outlen);

#endif
