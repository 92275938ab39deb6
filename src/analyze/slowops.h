/*
 * slowops.h - slow operations: what kind of operation a span is, the
 * threshold above which it counts as slow, where a request's time went by
 * phase, and when slow requests spike.
 *
 * Owns the thresholds (defaults, config file, environment, API override
 * and their precedence), the classification of spans by their semantic
 * conventions, the phase breakdown of one request's span tree, per-type
 * statistics, the spike rule, and the periodic spike check that turns a
 * spike into a stored "slow_spike" event.  It does not know about HTTP or
 * JSON answers (src/server/routes_slow.c) nor rank bottlenecks
 * (analyze/bottleneck.h).  docs/CONFIG.md documents the formats.
 *
 * Slowness is decided at read time with the current thresholds, so a
 * changed threshold applies to the stored history as well.
 *
 * Ownership: a struct slowops_config owns its rules (slowops_config_release);
 * class and stats arrays are the caller's.
 */
#ifndef HOTPATH_ANALYZE_SLOWOPS_H
#define HOTPATH_ANALYZE_SLOWOPS_H

#include <stddef.h>
#include <stdint.h>

#include "analyze/spantree.h"
#include "core/buf.h"
#include "core/strmap.h"
#include "ingest/batch.h"
#include "store/store.h"

/* ---- thresholds ---------------------------------------------------------- */

/* Built-in operation types; custom types are numbered from SLOWOPS_BUILTIN. */
enum slowops_type { SLOWOPS_HTTP, SLOWOPS_DATABASE, SLOWOPS_CACHE, SLOWOPS_EXTERNAL, SLOWOPS_BUILTIN };
#define SLOWOPS_NONE (-1) /* not an operation with a threshold (e.g. INTERNAL code) */

/* Where a value comes from, lowest precedence first. */
enum slowops_source {
	SLOWOPS_SRC_UNSET,
	SLOWOPS_SRC_DEFAULT,
	SLOWOPS_SRC_FILE,
	SLOWOPS_SRC_ENV,
	SLOWOPS_SRC_API
};

#define SLOWOPS_MAX_RULES	 64
#define SLOWOPS_MAX_THRESHOLD_MS 86400000.0 /* one day */

/* A custom type: spans whose name matches `name_glob` (fnmatch) and/or
 * whose attribute `attr_key` reads `attr_value`; NULL parts are not checked. */
struct slowops_rule {
	char *type;
	char *name_glob;
	char *attr_key, *attr_value;
	uint64_t threshold_ns;
};

/*
 * Thresholds, either complete (after slowops_config_init()) or one layer
 * of them (after slowops_config_init_layer(): every source UNSET), which
 * slowops_config_merge() lays over a complete one.
 */
struct slowops_config {
	uint64_t threshold_ns[SLOWOPS_BUILTIN];
	uint8_t source[SLOWOPS_BUILTIN]; /* enum slowops_source */
	struct slowops_rule *rules;	 /* tried in order, before the built-in types */
	size_t n_rules;
	uint8_t rules_source;
};

/* Defaults: http 1000 ms, database 500, cache 100, external 2000, no rules. */
void slowops_config_init(struct slowops_config *c);
/* An empty layer. */
void slowops_config_init_layer(struct slowops_config *c);
void slowops_config_release(struct slowops_config *c);
/* dst (initialised) becomes a deep copy of src. */
void slowops_config_copy(struct slowops_config *dst, const struct slowops_config *src);
/* Lay every value `layer` sets over `dst`; the rules are replaced as a whole. */
void slowops_config_merge(struct slowops_config *dst, const struct slowops_config *layer);

/*
 * Parse a thresholds object into a layer tagged `src`:
 *   {"http_ms": 1000, "database_ms": 500, "cache_ms": 100, "external_ms": 2000,
 *    "custom": [{"type": "llm", "span_name": "chat *", "threshold_ms": 5000},
 *               {"type": "payments", "attribute": "server.address=pay.example",
 *                "threshold_ms": 800}]}
 * Every member is optional.  -1 with a message starting with the field at
 * fault ("custom[1].threshold_ms: ...").
 */
int slowops_config_parse_json(struct slowops_config *layer, const char *text, size_t len,
			      enum slowops_source src, char *err, size_t errlen);
/* A config file: a JSON object whose "slow_operations" member is such an
 * object.  Messages start with the file name. */
int slowops_config_load_file(struct slowops_config *layer, const char *path, char *err, size_t errlen);
/* HOTPATH_SLOW_HTTP_MS, HOTPATH_SLOW_DB_MS, HOTPATH_SLOW_CACHE_MS and
 * HOTPATH_SLOW_EXTERNAL_MS read through `get` (getenv, or a test's). */
typedef const char *(*slowops_getenv_fn)(const char *name);
int slowops_config_from_env(struct slowops_config *layer, slowops_getenv_fn get, char *err, size_t errlen);
/* The config as a thresholds object (the parse format); with sources, also
 * "sources": {"http_ms": "default|file|env|api", ..., "custom": ...}. */
void slowops_config_to_json(struct buf *b, const struct slowops_config *c, int with_sources);

/* "http", "database", "cache", "external", or the custom rule's type. */
const char *slowops_type_name(const struct slowops_config *c, int type);
uint64_t slowops_threshold_ns(const struct slowops_config *c, int type);
/* Types to report: SLOWOPS_BUILTIN + the distinct custom type names; the
 * stats slot of a type is slowops_type_slot(). */
size_t slowops_type_slots(const struct slowops_config *c);
size_t slowops_type_slot(const struct slowops_config *c, int type);
const char *slowops_slot_name(const struct slowops_config *c, size_t slot);

/*
 * The thresholds in effect: the base the server started with (defaults,
 * then the config file, then the environment; slowops_base_set()) under
 * the override last PUT through the API (a stored document).
 */
#define SLOWOPS_DOC_KIND "slow_operations.thresholds"
#define SLOWOPS_DOC_ID	 "api"
void slowops_base_set(const struct slowops_config *base);
/* `out` need not be initialised; release it in any case. */
int slowops_effective(struct store *s, struct slowops_config *out, char *err, size_t errlen);

/* ---- classification -------------------------------------------------------- */

enum slowops_phase {
	SLOWOPS_PHASE_AUTH,
	SLOWOPS_PHASE_RATE_LIMIT,
	SLOWOPS_PHASE_PLUGINS,
	SLOWOPS_PHASE_TOOL,
	SLOWOPS_PHASE_DB,
	SLOWOPS_PHASE_LLM,
	SLOWOPS_PHASE_SERIALIZATION,
	SLOWOPS_PHASE_EXTERNAL,
	SLOWOPS_PHASE_OTHER,
	SLOWOPS_PHASES,
	SLOWOPS_PHASE_INHERIT = 255 /* the phase of the nearest ancestor that has one */
};
/* "auth", "rate_limit", "plugins", "tool_execution", "db", "llm",
 * "serialization", "external", "other". */
const char *slowops_phase_name(int phase);

enum slowops_flag {
	SLOWOPS_REMOTE = 1,	/* a CLIENT call: http or external once resolved */
	SLOWOPS_KNOWN_PEER = 2, /* its server.address is a service of the fleet */
	SLOWOPS_WAIT = 4,	/* waits for a pool, a lock or a queue */
	SLOWOPS_GAVE_UP = 8,	/* a call that timed out (error.type or status message) */
};

struct slowops_class {
	int16_t type;  /* enum slowops_type, a custom type, or SLOWOPS_NONE */
	uint8_t phase; /* own phase or SLOWOPS_PHASE_INHERIT */
	uint8_t flags; /* enum slowops_flag */
};

/*
 * What one span is, from its own name and attributes.  `services` holds the
 * fleet's service names (value ignored); NULL when unknown.  Custom rules
 * come first; then db.system(.name) (a cache system such as redis or
 * memcached: cache, else database); a CLIENT call (http, rpc,
 * server.address, url.full, gen_ai): remote, resolved by
 * slowops_resolve(); a SERVER span with http or rpc attributes: http.
 */
void slowops_classify(const struct slowops_config *c, const struct span *sp, const struct strmap *services,
		      struct slowops_class *out);
/*
 * The type of one span from itself alone, for a reader without the rest of
 * its trace: slowops_classify()'s type, with a call addressed to a service
 * of the fleet taken as http (slowops_resolve() also calls http a call
 * answered in the trace).  Cheaper than slowops_classify(): no phase.
 */
int slowops_span_type(const struct slowops_config *c, const struct span *sp, const struct strmap *services);
/*
 * Settle the remote calls of a trace's tree: a call answered by a SERVER or
 * CONSUMER span in the trace, or addressed to a known service, is http;
 * any other is external.  A call not answered in the trace (it timed out,
 * was aborted, or went to an untraced callee) is in the external phase
 * unless it has one, even when addressed to a known service: its time is
 * a wait outside.  Custom types stay.
 */
void slowops_resolve(const struct spantree *t, struct slowops_class *cls);

/*
 * The phase breakdown of one request: `t` holds the request's span and its
 * descendants (the request is the tree's longest root).  Each span's time on
 * the critical path goes to its phase (inherited from its nearest ancestor
 * that has one; the request's own: other), so the phases add up to the
 * request's duration.  out_ns[SLOWOPS_PHASES] is overwritten.
 */
void slowops_phases(const struct spantree *t, const struct slowops_class *cls,
		    uint64_t out_ns[SLOWOPS_PHASES]);
/* The effective phase of every span of `t` (out[t->n]). */
void slowops_effective_phases(const struct spantree *t, const struct slowops_class *cls, uint8_t *out);

/* ---- per-type statistics -------------------------------------------------- */

struct slowops_type_stats {
	uint64_t *dur_ns; /* every duration, sorted by slowops_stats_finish() */
	size_t n, cap;
	uint64_t slow;
	uint64_t sum_ns;
	uint64_t p95_ns; /* nearest rank: the ceil(0.95 n)-th smallest */
};
struct slowops_stats {
	struct slowops_type_stats *t; /* one per slot (slowops_type_slots()) */
	size_t n;
};
void slowops_stats_init(struct slowops_stats *st, const struct slowops_config *c);
void slowops_stats_release(struct slowops_stats *st);
/* Count one span of `type` (not SLOWOPS_NONE) lasting dur_ns. */
void slowops_stats_add(struct slowops_stats *st, const struct slowops_config *c, int type, uint64_t dur_ns);
void slowops_stats_finish(struct slowops_stats *st);

/* ---- spikes -------------------------------------------------------------- */

/*
 * A spike: a rise of the slow share, not of the slow count (a traffic step
 * at a steady share is no spike).  The last window's slow requests number
 * at least `min_count` and its slow share is at least `factor` times the
 * baseline share: the median share of the `baseline_windows` windows before
 * it that had requests (0 when none had).  Defaults: 5 min windows, 12 of
 * them (the previous hour), factor 3, at least 5.
 */
struct slowops_spike_rule {
	uint64_t window_ns;
	unsigned baseline_windows;
	double factor;
	unsigned min_count;
};
void slowops_spike_rule_init(struct slowops_spike_rule *r);

/* What a scope's windows say. */
struct slowops_spike_stat {
	uint64_t slow, total;  /* requests of the last window: slow, all */
	double share;	       /* slow / total; 0 without requests */
	double baseline_share; /* the median share of the baseline windows */
	double expected;       /* baseline_share * total: the slow requests usual at this traffic */
};
/* slow[i] and total[i] for the windows 0 .. baseline_windows, oldest
 * first, the last one the current window.  1 for a spike, else 0; the
 * figures in *st. */
int slowops_spike_eval(const struct slowops_spike_rule *r, const uint64_t *slow, const uint64_t *total,
		       struct slowops_spike_stat *st);
/*
 * Hysteresis: a spike is a new one only when, since the last alert of its
 * scope, a whole window was quiet (not a spike against st's baseline), so
 * a rise that lasts raises one alert, not one per check.  `since`: the
 * first window starting at or after that alert (baseline_windows or more:
 * none whole yet).  1 when the scope may alert again.
 */
int slowops_spike_rearmed(const struct slowops_spike_rule *r, const uint64_t *slow, const uint64_t *total,
			  const struct slowops_spike_stat *st, size_t since);

#define SLOWOPS_EVENT_KIND "slow_spike"
/*
 * Count the requests (from the minute rollups) and those at or above the
 * http threshold in the windows ending at now_ns, each request in the
 * window of its minute, fleet-wide (event id "*") and per service (id: the
 * service), and store a "slow_spike" event for each scope that spikes,
 * unless an alert of that scope in the windows read is not yet rearmed
 * (slowops_spike_rearmed).  Serialised across threads.  The number of new
 * events in *added (may be NULL).
 */
int slowops_spike_check(struct store *s, const struct slowops_config *c, const struct slowops_spike_rule *r,
			uint64_t now_ns, unsigned *added, char *err, size_t errlen);

/* A background thread running slowops_spike_check() every `interval_s`
 * with the effective thresholds.  One per process. */
int slowops_watch_start(struct store *s, unsigned interval_s, char *err, size_t errlen);
void slowops_watch_stop(void);

#endif
