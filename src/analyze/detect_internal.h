/*
 * detect_internal.h - what the detector's files share: its tables, the
 * per-trace scratch and the helpers that build findings.  Not an API:
 * callers use analyze/detect.h.
 *
 * detect.c owns the detector's lifecycle, the tables and the ranking;
 * detect_trace.c the trace detectors; detect_findings.c judging what they
 * accumulated; detect_metrics.c the metric detectors.
 */
#ifndef HOTPATH_ANALYZE_DETECT_INTERNAL_H
#define HOTPATH_ANALYZE_DETECT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/detect.h"
#include "core/sketch.h"
#include "core/arena.h"
#include "core/strmap.h"
#include "core/clock.h"

#define DNONE UINT32_MAX
/* Samples one metric series keeps; more are counted as folded. */
#define DETECT_MAX_SAMPLES 100000
/* Slots (log2) of the memos of attribute keys, interned strings, endpoints and statements (detect_trace.c). */
#define DETECT_KEY_MEMO_BITS	  8
#define DETECT_NAME_MEMO_BITS	  9
#define DETECT_ENDPOINT_MEMO_BITS 7
#define DETECT_TEXT_MEMO_BITS	  6
/* The own work of a route's affected requests is summed per tick of this many ns
 * (in the minute table, the tick for the minute): metric exports are often 10-60 s apart. */
#define DETECT_OWN_TICK_NS 10000000000ull
/* Entries of a minute table (pool exhaustion, CPU); more are folded. */
#define DETECT_MAX_MINUTES 1000000

/* A u64 -> u32 open-addressing map (linear probing). */
struct u64map {
	uint64_t *keys;
	uint32_t *vals; /* DNONE = empty */
	size_t cap, count;
};

void u64map_init(struct u64map *m);
void u64map_release(struct u64map *m);
uint32_t u64map_get(const struct u64map *m, uint64_t key);
/* The value slot of `key`, inserted as DNONE if absent. */
uint32_t *u64map_slot(struct u64map *m, uint64_t key);

enum acc_table {
	T_ENDPOINT, /* service + entry endpoint: requests, latency */
	T_NPLUS1,   /* service + endpoint + normalised call */
	T_SEQ,	    /* service + endpoint + targets in order */
	T_CACHE,    /* service + tool/operation + exact arguments (pruned, see acc_cache) */
	T_POOL,	    /* service + environment + pool: waits from spans */
	T_STMT,	    /* database + normalised statement */
	T_PAYLOAD,  /* service + operation */
	T_RETRY,    /* service + endpoint + target */
	T_TIMEOUT,  /* service + target */
	T_VERSION,  /* service + endpoint + environment + version */
	T_POOLM,    /* service + environment + pool: metric samples */
	T_MEM,	    /* one process.memory.usage series */
	T_CPU,	    /* service + environment: CPU samples; + instance: what is known of its host and runtime;
		  + endpoint: its own work (sum: outside calls, sum3: outside any span but wrappers) */
	T_TARGET,   /* callee service + target address: who answered calls to an address */
	T_COUNT
};

struct examples {
	uint8_t id[DETECT_MAX_EXAMPLES][16];
	double w[DETECT_MAX_EXAMPLES];
	unsigned n;
};

struct sample {
	uint64_t t;
	double v, v2;
};

/*
 * One key of a table and what was accumulated under it.  What a lookup and
 * a cacheable call read comes first, so that a key a trace touches costs
 * few cache lines.
 */
struct acc {
	uint64_t hash;
	uint32_t service, endpoint, tool, detail, env, version; /* name ids, 0 = none */
	uint32_t where; /* T_CACHE, T_POOL: the entry endpoint of the earliest call (not part of the key) */
	uint64_t n, n2, n3; /* counts, meaning per table */
	uint64_t err;	    /* T_CACHE: count possibly missed before the key was (re)admitted */
	uint64_t affected;  /* distinct traces */
	uint64_t last_seq;  /* the trace that last counted in `affected` */
	double lat;	    /* summed latency of the affected requests */
	double cur_w;	    /* weight of the trace `last_seq`, offered as an example when it is done */
	uint8_t cur_id[16];
	uint64_t where_ns;	/* start of the call `where` comes from */
	char *text;		/* T_CACHE: the arguments, once repeated */
	double sum, sum2, sum3; /* sums, meaning per table */
	double sumsq, sumsq2;
	double max;
	double waste;	 /* summed estimated waste */
	uint64_t tag;	 /* T_STMT: hash of the cacheable call it last ran inside; T_CACHE: of the N+1 */
	uint64_t tag_ns; /* start of the statement or call `tag` comes from */
	struct sketch *sk;
	struct examples ex;
	struct sample *samples;
	size_t n_samples, cap_samples;
};

struct table {
	struct acc *a;
	size_t n, cap;
	uint64_t *slots; /* index + 1 (0 = empty), the high half of the key's hash above */
	size_t n_slots;
	uint64_t pruned; /* T_CACHE: the highest count ever pruned */
	/* The key acc_get() last returned and its index + 1 (0 = none): calls in a loop repeat it. */
	uint32_t last_key[6];
	size_t last;
};

/* Per-span scratch of one detect_trace() call. */
struct tspan {
	const struct span *sp;
	uint64_t dur;
	uint32_t parent, kid_off, n_kids, entry;
	uint32_t svc, env, ver; /* name ids */
	uint32_t endpoint;	/* entry spans: name id of the endpoint */
	uint32_t tool_anc;	/* nearest tool call at or above, DNONE */
	uint32_t norm;		/* name id of the normalised call, 0 = not a call */
	uint32_t target;	/* name id of the callee's address, "host:port" (or db namespace) */
	const char *db_system, *db_text, *db_op, *db_ns;
	const char *url_full, *url_tmpl, *method, *route, *server, *rpc_service, *rpc_method;
	const char *tool, *args_hash, *args, *pool, *gen_op, *msg_system;
	const char *url_path, *user_agent;
	uint64_t param_hash; /* db.query.parameter.* */
	uint64_t nplus1_tag; /* the N+1 group it belongs to (nplus1_tag() of detect_trace.c), 0 = none */
	uint32_t port;	     /* server.port, else net.peer.port; 0 = not given */
	uint64_t text_hash;  /* of db_text, 0 until needed */
	double wait_ms, body_bytes;
	int64_t pool_max;
	const char *pool_conn; /* db.connection_string: names the pool of a pool connect span */
	uint64_t calls_ns;     /* entry spans: time of the outermost calls under them (CPU routes) */
	uint64_t covered_ns; /* entry spans: time of the outermost spans under them but wrappers (own work) */
	uint8_t has_wait, has_params, pool_exhausted, is_timeout, is_error, superseded, timeout_below;
	uint8_t cache_db;  /* db_system is a cache or key-value store */
	uint8_t telemetry; /* a call exporting telemetry (ingest/telemetry.h): left out */
	uint8_t covered;   /* inside a span below its entry that is no framework wrapper */
	uint8_t wrapper;   /* a framework's wrapper around the handler (ingest/semconv.h) */
	uint8_t ri;	   /* its resource in detector.res */
};

/* A resource seen in the current call: its interned dimensions. */
struct res_ids {
	const struct resource *r;
	uint32_t svc, env, ver, inst;
	uint8_t tflags;	 /* TIMERES_NOT_* of its spans' starts in this call */
	uint64_t res_ns; /* the resolution of those starts (analyze/timeres.h) */
};

struct detector {
	struct detect_config cfg;
	struct arena arena; /* interned names */
	struct strmap names;
	const char **name; /* by id; name[0] = NULL */
	size_t n_names, cap_names;

	struct table t[T_COUNT];
	struct u64map norm_memo; /* hash of a raw statement -> name id of its shape */
	struct u64map minutes;	 /* (acc index, table, minute) -> index into minute_v */
	struct minute_v {
		double a, b;
		uint64_t n;
	} * minute_v;
	size_t n_minute_v, cap_minute_v;

	uint64_t t_min, t_max; /* observed window, unix ns */
	uint64_t seq;	       /* detect_trace() calls */
	struct detect_stats st;

	/* scratch of one trace */
	struct tspan *ts;
	uint32_t *order, *kids, *stack;
	size_t cap_ts;
	uint32_t *htab;
	size_t cap_htab;
	struct res_ids res[32];
	unsigned n_res;
	uint8_t trace_id[16];
	double root_ns; /* latency of the request the part belongs to */
	struct key_memo {
		const char *key;
		uint64_t seq; /* the trace it was read in */
		uint8_t code; /* enum akey of detect_trace.c */
	} key_memo[1 << DETECT_KEY_MEMO_BITS];
	struct name_memo {
		const char *s; /* where the string was, in this or an earlier call */
		uint64_t seq;  /* the last call it was checked or interned in */
		uint32_t id;   /* its name id, never 0 */
	} name_memo[1 << DETECT_NAME_MEMO_BITS];
	struct endpoint_memo {
		const char *route; /* where the route was, in this or an earlier call */
		uint32_t id;	   /* the name id of "<method> <route>", never 0 */
	} endpoint_memo[1 << DETECT_ENDPOINT_MEMO_BITS];
	struct target_memo {
		const char *host; /* server.address, where it was in this or an earlier call */
		uint64_t seq;	  /* the last call it was checked or built in */
		uint32_t port, id;
	} target_memo[1 << DETECT_TEXT_MEMO_BITS];
	struct text_memo {
		const char *text;
		uint64_t seq; /* the trace it was hashed in */
		uint64_t hash;
		const char *sys; /* the database system of `norm` */
		uint32_t norm;	 /* its shape: a name id, 0 = not known */
	} text_memo[1 << DETECT_TEXT_MEMO_BITS];

	/* output */
	struct finding *f;
	size_t n_f, cap_f;
	struct arena out; /* strings built for findings */
};

/* Names. */
uint32_t detect_intern(struct detector *d, const char *s, size_t len);
static inline const char *detect_name(const struct detector *d, uint32_t id)
{
	return d->name[id];
}

/* Tables: the accumulator of a key, created if absent; NULL when the table is full. */
struct acc *acc_get(struct detector *d, enum acc_table t, uint32_t service, uint32_t endpoint, uint32_t tool,
		    uint32_t detail, uint32_t env, uint32_t version);
/* The accumulator of a key, or NULL; never creates one. */
struct acc *acc_find(struct detector *d, enum acc_table t, uint32_t service, uint32_t endpoint, uint32_t tool,
		     uint32_t detail, uint32_t env, uint32_t version);
/* T_CACHE: by hash of the arguments, pruning rare keys when full. */
struct acc *acc_cache(struct detector *d, uint64_t hash, uint32_t service, uint32_t tool);
/*
 * Count the current trace once in `affected` and add its latency; add
 * `weight` to its weight as an example.  A trace is offered as an example
 * once, with its whole weight, when the next trace touches the key or at
 * detect_finish() and detect_merge(), so the examples do not depend on the
 * order the traces came in.
 */
void acc_touch(struct detector *d, struct acc *a, double weight);
/* The same, with the latency of the request as the caller knows it (its
 * entry span's duration) rather than the trace's longest root. */
void acc_touch_at(struct detector *d, struct acc *a, double weight, double latency_ns);
/* Set `where` from a call starting at `start_ns`: the earliest call wins. */
void acc_where(struct detector *d, struct acc *a, uint32_t endpoint, uint64_t start_ns);
void acc_add_sample(struct detector *d, struct acc *a, uint64_t t, double v, double v2);
/* Minute table: the slot of (table, acc index, minute). */
struct minute_v *detect_minute(struct detector *d, enum acc_table t, size_t acc_index, uint64_t minute);
struct minute_v *detect_minute_get(const struct detector *d, enum acc_table t, size_t acc_index,
				   uint64_t minute);

uint64_t detect_hash(uint64_t h, const void *p, size_t n);
#define DETECT_HASH_INIT 0xcbf29ce484222325ull
/*
 * The process a resource stands for, as a number a sample can carry: 32 bits
 * of the hash of service.instance.id (else host.name), 0 when it has none.
 * Not a name id, so that it means the same in merged detectors.
 */
uint32_t detect_process_tag(const struct resource *r);

/* Findings. */
struct finding *detect_add_finding(struct detector *d, enum finding_kind k, const struct acc *a);
double detect_window_s(const struct detector *d);
/* Priority from the saving share and the affected share of all requests. */
void detect_rank(struct detector *d, struct finding *f);

/* Per-file entry points. */
void detect_trace_spans(struct detector *d, size_t n);
void detect_finish_traces(struct detector *d);
void detect_finish_metrics(struct detector *d);

#endif
