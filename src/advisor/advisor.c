/*
 * advisor.c - running the detectors over stored data and keeping the
 * recommendations' states (see advisor.h); naming the hot function of a
 * CPU finding from the service's stored profiles (merged as the profile
 * flame graph merges them, profile/folded.h).  The analyses the API and
 * the background share, and their job, are in analysis_job.c.
 */
#include "advisor/advisor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/latency.h"
#include "analyze/recommend.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/json_write.h"
#include "core/log.h"
#include "core/strmap.h"
#include "core/json_doc.h"
#include "profile/folded.h"
#include "profile/frame_name.h"
#include "advisor/detect_scan.h"

/* Profiles of a service read for the hot function of a finding: the newest of the window. */
#define HOT_MAX_PROFILES 50

static const char *const status_names[REC_STATUS_COUNT] = {"open", "applied", "dismissed", "verified"};

const char *rec_status_name(enum rec_status s)
{
	return (unsigned)s < REC_STATUS_COUNT ? status_names[s] : "open";
}

int rec_status_parse(const char *name)
{
	for (int i = 0; name && i < REC_STATUS_COUNT; i++)
		if (!strcmp(name, status_names[i]))
			return i;
	return -1;
}

/* ---- states ------------------------------------------------------------ */

void rec_state_members(struct json_w *w, const struct rec_state *st)
{
	jw_kstr(w, "id", st->id);
	jw_kstr(w, "status", rec_status_name(st->status));
	jw_kstr(w, "reason", st->reason);
	jw_kuint(w, "first_seen_ms", st->first_seen_ns / NS_PER_MS);
	jw_kuint(w, "last_seen_ms", st->last_seen_ns / NS_PER_MS);
	jw_kuint(w, "status_changed_ms", st->changed_ns / NS_PER_MS);
	jw_kbool(w, "active", st->active);
	jw_kbool(w, "persists", st->persists);
}

void rec_state_json(struct buf *b, const struct rec_state *st)
{
	struct json_w w;
	jw_init(&w, b);
	jw_obj_begin(&w);
	rec_state_members(&w, st);
	jw_obj_end(&w);
}

static uint64_t member_ms(const struct json *obj, const char *key)
{
	const struct json *m = json_get(obj, key);
	return m && m->type == JSON_NUMBER ? strtoull(m->s, NULL, 10) * NS_PER_MS : 0;
}

int rec_state_parse(struct rec_state *st, const char *json, struct arena *a)
{
	struct json_doc d;
	char err[128];
	int ret = -1;
	memset(st, 0, sizeof(*st));
	if (json_doc_parse(&d, json, strlen(json), 0, err, sizeof(err)) < 0 || !d.root ||
	    d.root->type != JSON_OBJECT)
		goto out;
	const struct json *id = json_get(d.root, "id"), *active = json_get(d.root, "active"),
			  *persists = json_get(d.root, "persists");
	const char *status = json_str(json_get(d.root, "status")),
		   *reason = json_str(json_get(d.root, "reason"));
	if (!id || id->type != JSON_STRING || id->len >= sizeof(st->id) || rec_status_parse(status) < 0)
		goto out;
	memcpy(st->id, id->s, id->len + 1);
	st->status = (enum rec_status)rec_status_parse(status);
	st->reason = reason ? arena_strdup(a, reason) : NULL;
	st->first_seen_ns = member_ms(d.root, "first_seen_ms");
	st->last_seen_ns = member_ms(d.root, "last_seen_ms");
	st->changed_ns = member_ms(d.root, "status_changed_ms");
	st->active = active && active->type == JSON_TRUE;
	st->persists = persists && persists->type == JSON_TRUE;
	ret = 0;
out:
	json_doc_release(&d);
	return ret;
}

const char *rec_state_observe(struct rec_state *st, int found, uint64_t from_ns, uint64_t now_ns)
{
	/* changed before the window began: the whole window is "after" */
	int after_change = st->changed_ns && st->changed_ns <= from_ns;
	st->active = found;
	st->persists = 0;
	if (found) {
		if (!st->first_seen_ns)
			st->first_seen_ns = now_ns;
		st->last_seen_ns = now_ns;
		if (st->status == REC_APPLIED)
			st->persists = after_change;
		if (st->status == REC_VERIFIED) {
			st->status = REC_OPEN;
			st->changed_ns = now_ns;
			st->reason = "the pattern was found again after it had been verified as fixed";
			return st->reason;
		}
		return NULL;
	}
	if (st->status == REC_APPLIED && after_change) {
		st->status = REC_VERIFIED;
		st->changed_ns = now_ns;
		st->reason = "the pattern is absent from data that all came after the change was applied";
		return st->reason;
	}
	return NULL;
}

int rec_state_set(struct rec_state *st, enum rec_status to, const char *reason, uint64_t now_ns, char *err,
		  size_t errlen)
{
	if (to == REC_VERIFIED)
		return errf(err, errlen,
			    "'verified' is set by hotpath when new data no longer shows the pattern");
	if (to == REC_DISMISSED && (!reason || !*reason))
		return errf(err, errlen, "dismissing needs a reason");
	st->status = to;
	st->reason = reason && *reason ? reason : NULL;
	st->changed_ns = now_ns;
	st->persists = 0;
	return 0;
}

/* ---- persistence ------------------------------------------------------- */

static int put_state(struct store *s, const struct rec_state *st, uint64_t now_ns, char *err, size_t errlen)
{
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	rec_state_json(&b, st);
	struct store_record r = {ADVISOR_KIND_STATE, st->id, now_ns, b.data};
	int rc = store_put_doc(s, &r, err, errlen);
	buf_release(&b);
	return rc;
}

static int audit(struct store *s, const struct rec_state *st, enum rec_status from, const char *actor,
		 uint64_t now_ns, char *err, size_t errlen)
{
	struct buf b;
	struct json_w w;
	buf_init(&b, BUF_NO_LIMIT);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "from", rec_status_name(from));
	jw_kstr(&w, "to", rec_status_name(st->status));
	jw_kstr(&w, "reason", st->reason);
	jw_kstr(&w, "actor", actor);
	jw_obj_end(&w);
	struct store_record r = {ADVISOR_KIND_AUDIT, st->id, now_ns, b.data};
	int rc = store_add_event(s, &r, err, errlen);
	buf_release(&b);
	return rc;
}

/* ---- running the detectors --------------------------------------------- */

void advisor_options_init(struct advisor_options *o, uint64_t from_ns, uint64_t to_ns)
{
	memset(o, 0, sizeof(*o));
	o->from_ns = from_ns;
	o->to_ns = to_ns;
	o->max_traces = 200000;
	detect_config_init(&o->cfg);
}

struct points {
	struct detector *d;
	uint64_t n;
};

static int feed_point(void *arg, const struct metric_point *p)
{
	struct points *f = arg;
	f->n++;
	return detect_points(f->d, p, 1);
}

/* Requests stored in the window, from the rollups (cheap): by the minute
 * up to 6 h, else by the hour (whole buckets, as the latency summary). */
static uint64_t requests_in(struct store *s, uint64_t from_ns, uint64_t to_ns)
{
	struct store_query q;
	struct arena a;
	struct rollup_row *rows;
	size_t n;
	char err[256];
	uint64_t total = 0;
	store_query_init(&q);
	q.from_ns = from_ns;
	q.to_ns = to_ns;
	arena_init(&a);
	if (store_rollups(s, &q, latency_resolution(to_ns - from_ns), &a, &rows, &n, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < n; i++)
			total += rows[i].count;
		store_rollups_release(rows, n);
	}
	arena_release(&a);
	return total;
}

/* Counts found in a sample stand for 1 / rate as many. */
static void scale_finding(struct finding *f, double k)
{
	f->occurrences = (uint64_t)((double)f->occurrences * k + 0.5);
	f->affected_requests = (uint64_t)((double)f->affected_requests * k + 0.5);
	f->subject_requests = (uint64_t)((double)f->subject_requests * k + 0.5);
	f->total_requests = (uint64_t)((double)f->total_requests * k + 0.5);
	f->per_hour *= k;
	f->saved_s_per_hour *= k;
}

/* ---- the hot function ---------------------------------------------------- */

/* Functions that are no code of the application: V8's pseudo-frames, and
 * the runtime's nodes @datadog/pprof (under @pyroscope/nodejs) puts in. */
static int is_runtime_frame(const char *s, size_t n)
{
	static const char *const names[] = {"(idle)",
					    "(program)",
					    "(garbage collector)",
					    "(root)",
					    "Garbage Collection",
					    "Non JS threads activity",
					    "(Non JS threads)",
					    NULL};
	for (size_t i = 0; names[i]; i++)
		if (strlen(names[i]) == n && !memcmp(names[i], s, n))
			return 1;
	return 0;
}

/*
 * Merge into `t` the newest HOT_MAX_PROFILES profiles of `type` of the
 * finding's service in [from_ns, to_ns) (of its environment, or of none
 * told), all in the unit of the newest; how many were merged.
 */
static size_t merge_profiles(struct store *s, const struct finding *f, const char *type, uint64_t from_ns,
			     uint64_t to_ns, struct folded_tree *t)
{
	struct profile_query q = {.from_ns = from_ns,
				  .to_ns = to_ns,
				  .service = f->service,
				  .type = type,
				  .limit = HOT_MAX_PROFILES,
				  .with_data = 1};
	struct profile_row *rows;
	size_t n = 0, merged = 0;
	const char *unit = NULL;
	struct arena a;
	char err[256];
	arena_init(&a);
	if (store_profiles(s, &q, &a, &rows, &n, err, sizeof(err)) < 0) {
		log_warn("recommendations: profiles of %s: %s", f->service, err);
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		const struct profile_row *r = &rows[i];
		if ((r->env && f->environment && strcmp(r->env, f->environment)) ||
		    (unit && strcmp(unit, r->unit)))
			continue;
		if (folded_parse_buffer(t, r->folded, r->folded_len, FOLDED_ONE_COUNT, 0, err, sizeof(err)) <
		    0)
			break; /* a limit of the tree: what was merged stands */
		unit = r->unit;
		merged++;
	}
	arena_release(&a);
	return merged;
}

/* Self samples of one function of a profile (all its frames: lines, call paths). */
struct fn_self {
	struct frame_parts p;
	uint64_t self;
};

/* The function with the most self samples of a finished tree, runtime frames left out. */
static void hottest_function(const struct folded_tree *t, struct finding *f, struct arena *a)
{
	struct fn_self *fns = xcalloc(t->n_names + 1, sizeof(*fns));
	uint64_t *self = xcalloc(t->n_names + 1, sizeof(*self)), total = 0;
	size_t n = 0, best = SIZE_MAX, len;
	struct strmap by_fn; /* "function\x1ffile" -> index in fns */
	strmap_init(&by_fn);
	for (size_t i = 1; i < t->n_nodes; i++)
		self[t->nodes[i].name] += t->nodes[i].self[0];
	for (size_t k = 0; k < t->n_names; k++) {
		struct frame_parts p;
		char key[512];
		int64_t at;
		if (!self[k])
			continue;
		const char *name = folded_name(t, (uint32_t)k, &len);
		frame_name_parts(name, len, &p);
		if (is_runtime_frame(p.fn, p.fn_len))
			continue;
		total += self[k];
		int kn = snprintf(key, sizeof(key), "%.*s\x1f%.*s", (int)p.fn_len, p.fn, (int)p.file_len,
				  p.file);
		size_t kl = kn < 0 ? 0 : (size_t)kn < sizeof(key) ? (size_t)kn : sizeof(key) - 1;
		if (strmap_get(&by_fn, key, kl, &at) < 0) {
			at = (int64_t)n;
			fns[n++].p = p;
			strmap_put(&by_fn, key, kl, at);
		}
		fns[at].self += self[k];
		if (best == SIZE_MAX || fns[at].self > fns[best].self)
			best = (size_t)at;
	}
	if (best != SIZE_MAX) {
		f->hot_function = arena_strndup(a, fns[best].p.fn, fns[best].p.fn_len);
		f->hot_function_file = fns[best].p.file_len
					       ? arena_strndup(a, fns[best].p.file, fns[best].p.file_len)
					       : NULL;
		f->hot_function_share = (double)fns[best].self / (double)total;
	}
	strmap_release(&by_fn);
	free(self);
	free(fns);
}

/* What was named for the services already looked at in one analysis (each read once). */
#define HOT_MEMO 16
struct hot_memo {
	struct hot_seen {
		const char *service, *env, *fn, *file, *type;
		double share;
	} seen[HOT_MEMO];
	size_t n;
};

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/*
 * Name in an own-work or CPU-saturation finding the function with the most
 * self time in its service's CPU profiles of the window, else its
 * wall-clock ones (bounded: the window, HOT_MAX_PROFILES profiles, the
 * tree's limits, each service and environment read once).  Nothing when
 * the service sent no profiles.
 */
static void name_hot_function(struct store *s, struct finding *f, uint64_t from_ns, uint64_t to_ns,
			      struct hot_memo *m, struct arena *a)
{
	static const char *const types[] = {"cpu", "wall"};
	struct folded_limits lim = {.max_nodes = 1u << 20, .max_bytes = 64u << 20};
	char err[128];
	if ((f->kind != FINDING_OWN_WORK && f->kind != FINDING_CPU_SATURATION) || !f->service)
		return;
	for (size_t i = 0; i < m->n; i++) {
		const struct hot_seen *h = &m->seen[i];
		if (!strcmp(h->service, f->service) && same_str(h->env, f->environment)) {
			f->hot_function = h->fn;
			f->hot_function_file = h->file;
			f->hot_profile_type = h->type;
			f->hot_function_share = h->share;
			return;
		}
	}
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !f->hot_function; i++) {
		struct folded_tree t;
		folded_tree_init(&t, &lim);
		if (merge_profiles(s, f, types[i], from_ns, to_ns, &t) &&
		    folded_tree_finish(&t, err, sizeof(err)) == 0)
			hottest_function(&t, f, a);
		if (f->hot_function)
			f->hot_profile_type = types[i];
		folded_tree_release(&t);
	}
	if (m->n < HOT_MEMO)
		m->seen[m->n++] =
			(struct hot_seen){f->service,		f->environment,	     f->hot_function,
					  f->hot_function_file, f->hot_profile_type, f->hot_function_share};
}

/* ---- recording ------------------------------------------------------------ */

static int record_findings(struct store *s, const struct finding *fs, size_t n, double scale,
			   const struct advisor_options *o, uint64_t now_ns, char *err, size_t errlen)
{
	uint64_t from_ns = o->from_ns;
	struct arena a;
	struct store_record *docs;
	size_t n_docs;
	struct strmap known; /* id -> index into docs */
	struct hot_memo hot = {.n = 0};
	struct buf b;
	int ret = -1;
	arena_init(&a);
	strmap_init(&known);
	buf_init(&b, BUF_NO_LIMIT);
	if (store_docs(s, ADVISOR_KIND_STATE, NULL, &a, &docs, &n_docs, err, errlen) < 0)
		goto out;
	uint8_t *found = arena_zalloc(&a, n_docs + 1);
	for (size_t i = 0; i < n_docs; i++)
		strmap_put(&known, docs[i].id, strlen(docs[i].id), (int64_t)i);
	for (size_t i = 0; i < n; i++) {
		struct finding f = fs[i];
		struct rec_state st;
		int64_t at;
		if (scale != 1)
			scale_finding(&f, scale);
		name_hot_function(s, &f, o->from_ns, o->to_ns, &hot, &a);
		if (strmap_get(&known, f.id, strlen(f.id), &at) == 0 &&
		    rec_state_parse(&st, docs[at].json, &a) == 0) {
			found[at] = 1;
		} else {
			memset(&st, 0, sizeof(st));
			memcpy(st.id, f.id, sizeof(st.id));
		}
		enum rec_status before = st.status;
		const char *changed = rec_state_observe(&st, 1, from_ns, now_ns);
		buf_reset(&b);
		recommend_json(&b, &f, NULL);
		struct store_record r = {ADVISOR_KIND_FINDING, st.id, now_ns, b.data};
		if (store_put_doc(s, &r, err, errlen) < 0 || put_state(s, &st, now_ns, err, errlen) < 0 ||
		    (changed && audit(s, &st, before, "hotpath", now_ns, err, errlen) < 0))
			goto out;
	}
	/* what was recommended before and is gone now */
	for (size_t i = 0; i < n_docs; i++) {
		struct rec_state st;
		if (found[i] || rec_state_parse(&st, docs[i].json, &a) < 0)
			continue;
		enum rec_status before = st.status;
		int was_active = st.active;
		const char *changed = rec_state_observe(&st, 0, from_ns, now_ns);
		if ((changed || was_active) && put_state(s, &st, now_ns, err, errlen) < 0)
			goto out;
		if (changed && audit(s, &st, before, "hotpath", now_ns, err, errlen) < 0)
			goto out;
	}
	ret = 0;
out:
	buf_release(&b);
	strmap_release(&known);
	arena_release(&a);
	return ret;
}

int advisor_run(struct store *s, const struct advisor_options *o, struct advisor_result *res, char *err,
		size_t errlen)
{
	uint64_t t0 = clock_now_ns();
	struct detector *d = detect_new(&o->cfg);
	struct detect_scan_stats st;
	struct points pts = {d, 0};
	const struct finding *fs;
	size_t n;
	int ret = -1;
	memset(res, 0, sizeof(*res));
	res->requests_in_window = requests_in(s, o->from_ns, o->to_ns);
	/* one block in `every`: entry spans outnumber traces, so this samples
	 * no more than needed, and skipped blocks cost nothing */
	size_t max = o->max_traces ? o->max_traces : 200000;
	unsigned every =
		res->requests_in_window > max ? (unsigned)((res->requests_in_window + max - 1) / max) : 1;
	res->sample_rate = 1.0 / every;
	if (detect_scan(s, o->cache, &o->cfg, o->from_ns, o->to_ns, every, d, &st, err, errlen) < 0 ||
	    store_scan_points(s, o->from_ns, o->to_ns, NULL, feed_point, &pts, err, errlen) < 0)
		goto out;
	detect_finish(d, &fs, &n);
	res->traces = st.traces;
	res->spans = st.spans;
	res->kept_traces = st.kept_traces;
	res->points = pts.n;
	res->findings = n;
	/* recommendation states are written by one instance: the lease holder,
	 * each write checking that it still is */
	if (store_lease_begin(s)) {
		int rc = record_findings(s, fs, n, 1 / res->sample_rate, o, clock_now_ns(), err, errlen);
		store_lease_end(s);
		if (rc < 0)
			goto out;
	}
	ret = 0;
out:
	detect_free(d);
	res->elapsed_ms = (double)(clock_now_ns() - t0) / 1e6;
	return ret;
}

int advisor_set_status(struct store *s, const char *id, const char *status, const char *reason,
		       const char *actor, char *err, size_t errlen)
{
	struct arena a;
	struct store_record *docs;
	struct rec_state st;
	size_t n;
	int ret = -1, to = rec_status_parse(status);
	uint64_t now = clock_now_ns();
	arena_init(&a);
	if (to < 0) {
		errf(err, errlen, "unknown status '%.32s': use open, applied or dismissed",
		     status ? status : "");
		ret = ERR_INVALID;
		goto out;
	}
	if (store_docs(s, ADVISOR_KIND_STATE, id, &a, &docs, &n, err, errlen) < 0)
		goto out;
	if (!n || rec_state_parse(&st, docs[0].json, &a) < 0) {
		errf(err, errlen, "no recommendation %.32s", id);
		ret = ERR_NOT_FOUND;
		goto out;
	}
	enum rec_status before = st.status;
	if (rec_state_set(&st, (enum rec_status)to, reason, now, err, errlen) < 0) {
		ret = ERR_INVALID; /* a change the state machine refuses */
		goto out;
	}
	if (put_state(s, &st, now, err, errlen) < 0 || audit(s, &st, before, actor, now, err, errlen) < 0)
		goto out;
	ret = 0;
out:
	arena_release(&a);
	return ret;
}
