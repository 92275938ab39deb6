/*
 * slo.c - SLO definitions, error budgets, burn rates and the counts of
 * good and total requests behind them (see slo.h).  Alert states and
 * notifications are watch.c's and alerts.c's.
 */
#include "watch/slo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_field.h"
#include "core/log.h"
#include "watch/exact.h"

#define SCOPE_VALUE_MAX 512

const struct slo_alert_window slo_alert_windows[SLO_ALERT_WINDOWS] = {
	{"page", 14.4, 3600, 300},
	{"page", 6.0, 6 * 3600, 1800},
	{"ticket", 1.0, 3 * 86400, 6 * 3600},
};

const uint64_t slo_burn_windows_s[SLO_BURN_WINDOWS] = {300, 1800, 3600, 6 * 3600, 3 * 86400};

/* ---- scope ---------------------------------------------------------------- */

static const char *const scope_names[] = {"service",	"endpoint", "tool",   "env",
					  "department", "intent",   "version"};

static const char **scope_field(struct watch_scope *s, size_t i)
{
	const char **f[] = {&s->service,    &s->endpoint, &s->tool,   &s->env,
			    &s->department, &s->intent,	  &s->version};
	return f[i];
}

int watch_scope_parse(const struct json *o, struct arena *a, struct watch_scope *out, char *err,
		      size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!o || o->type == JSON_NULL)
		return 0;
	if (o->type != JSON_OBJECT)
		return errf(err, errlen, "\"filters\" must be an object"), ERR_INVALID;
	for (const struct json *m = o->child; m; m = m->next) {
		size_t i = 0;
		while (i < sizeof(scope_names) / sizeof(scope_names[0]) && !json_key_is(m, scope_names[i]))
			i++;
		if (i == sizeof(scope_names) / sizeof(scope_names[0]))
			return errf(err, errlen,
				    "unknown filter \"%.*s\" (service, endpoint, tool, env, "
				    "department, intent or version)",
				    (int)(m->key_len > 60 ? 60 : m->key_len), m->key),
			       ERR_INVALID;
		if (m->type == JSON_NULL)
			continue;
		const char *v = json_str(m);
		if (!v || !*v || m->len > SCOPE_VALUE_MAX || strlen(v) != m->len)
			return errf(err, errlen,
				    "filter \"%s\" must be a non-empty string of at most %d bytes",
				    scope_names[i], SCOPE_VALUE_MAX),
			       ERR_INVALID;
		*scope_field(out, i) = arena_strdup(a, v);
	}
	return 0;
}

void watch_scope_put(struct json_w *w, const struct watch_scope *s)
{
	struct watch_scope c = *s;
	jw_obj_begin(w);
	for (size_t i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); i++) {
		const char *v = *scope_field(&c, i);
		if (v)
			jw_kstr(w, scope_names[i], v);
	}
	jw_obj_end(w);
}

void watch_scope_write(struct buf *b, const struct watch_scope *s)
{
	struct json_w w;
	jw_init(&w, b);
	watch_scope_put(&w, s);
}

void watch_scope_query(const struct watch_scope *s, uint64_t from_ns, uint64_t to_ns, struct store_query *q)
{
	store_query_init(q);
	q->from_ns = from_ns;
	q->to_ns = to_ns;
	q->service = s->service;
	q->endpoint = s->endpoint;
	q->tool = s->tool;
	q->env = s->env;
	q->department = s->department;
	q->intent = s->intent;
	q->version = s->version;
	q->edge_only = !s->service && !s->endpoint;
}

/* ---- definitions ---------------------------------------------------------- */

/* Seconds from a number of seconds or "90s", "5m", "1h", "1d". */
int watch_duration_member(const struct json *o, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
			  char *err, size_t errlen)
{
	const struct json *v = json_get(o, key);
	uint64_t n = 0;
	if (!v || v->type == JSON_NULL)
		return 0;
	const char *s = json_str(v);
	if (s) {
		char unit = 0;
		int used = 0;
		unsigned long long x;
		if (sscanf(s, "%llu%c%n", &x, &unit, &used) != 2 || (size_t)used != strlen(s) ||
		    !strchr("smhd", unit))
			goto bad;
		n = x * (unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400);
	} else if (json_uint64(v, &n) < 0)
		goto bad;
	if (n < lo || n > hi)
		goto bad;
	*out = n;
	return 0;
bad:
	return errf(err, errlen, "\"%s\" must be a duration from %llus to %llus (seconds, or \"5m\", \"1h\")",
		    key, (unsigned long long)lo, (unsigned long long)hi),
	       ERR_INVALID;
}

int watch_channels_parse(const struct json *o, struct arena *a, const char ***out, size_t *n, char *err,
			 size_t errlen)
{
	const struct json *v = json_get(o, "channels");
	*out = NULL;
	*n = 0;
	if (!v || v->type == JSON_NULL)
		return 0;
	if (v->type != JSON_ARRAY || v->len > SLO_CHANNELS_MAX)
		return errf(err, errlen, "\"channels\" must be an array of at most %d channel ids",
			    SLO_CHANNELS_MAX),
		       ERR_INVALID;
	*out = arena_zalloc(a, (v->len + 1) * sizeof(**out));
	for (const struct json *c = v->child; c; c = c->next) {
		const char *s = json_str(c);
		if (!s || !*s || c->len > 64 || strlen(s) != c->len)
			return errf(err, errlen, "\"channels\" holds ids: strings of 1 to 64 bytes"),
			       ERR_INVALID;
		(*out)[(*n)++] = arena_strdup(a, s);
	}
	return 0;
}

static int parse_window(const struct json *o, unsigned *days, char *err, size_t errlen)
{
	const char *w = json_str(json_get(o, "window"));
	*days = 30;
	if (!json_get(o, "window"))
		return 0;
	if (w && !strcmp(w, "7d"))
		*days = 7;
	else if (w && !strcmp(w, "28d"))
		*days = 28;
	else if (!w || strcmp(w, "30d"))
		return errf(err, errlen, "\"window\" must be \"7d\", \"28d\" or \"30d\""), ERR_INVALID;
	return 0;
}

static int parse_objective(const struct slo *s, const struct json *o, struct slo *out, char *err,
			   size_t errlen)
{
	const struct json *th = json_get(o, "threshold_ms");
	if (json_double(json_get(o, "objective"), &out->objective) < 0 || !(out->objective > 0) ||
	    !(out->objective < 100))
		return errf(err, errlen, "\"objective\" must be a percentage between 0 and 100 (e.g. 99.5)"),
		       ERR_INVALID;
	if (s->kind == SLO_AVAILABILITY) {
		if (th)
			return errf(err, errlen, "an availability objective takes no \"threshold_ms\""),
			       ERR_INVALID;
		return 0;
	}
	uint64_t ms;
	if (json_uint64(th, &ms) < 0 || !ms || ms > EXACT_MAX_MS)
		return errf(err, errlen,
			    "a latency objective needs \"threshold_ms\": a whole number of milliseconds from "
			    "1 "
			    "to %llu",
			    (unsigned long long)EXACT_MAX_MS),
		       ERR_INVALID;
	out->threshold_ms = ms;
	return 0;
}

int slo_parse(const struct json *o, const char *id, struct arena *a, struct slo *out, char *err,
	      size_t errlen)
{
	int rc;
	memset(out, 0, sizeof(*out));
	if (!o || o->type != JSON_OBJECT)
		return errf(err, errlen, "an SLO is a JSON object"), ERR_INVALID;
	if ((rc = json_field_str(o, "id", 64, a, &out->id, err, errlen)) < 0 ||
	    (rc = json_field_str(o, "name", SLO_NAME_MAX, a, &out->name, err, errlen)) < 0)
		return rc;
	if (id)
		out->id = arena_strdup(a, id);
	const char *kind = json_str(json_get(o, "kind"));
	if (kind && !strcmp(kind, "latency"))
		out->kind = SLO_LATENCY;
	else if (kind && !strcmp(kind, "availability"))
		out->kind = SLO_AVAILABILITY;
	else
		return errf(err, errlen, "\"kind\" must be \"latency\" or \"availability\""), ERR_INVALID;
	if ((rc = parse_objective(out, o, out, err, errlen)) < 0 ||
	    (rc = parse_window(o, &out->window_days, err, errlen)) < 0 ||
	    (rc = watch_scope_parse(json_get(o, "filters"), a, &out->scope, err, errlen)) < 0 ||
	    (rc = watch_channels_parse(o, a, &out->channels, &out->n_channels, err, errlen)) < 0 ||
	    (rc = watch_duration_member(o, "repeat", 0, WATCH_REPEAT_MAX_S, &out->repeat_s, err, errlen)) < 0)
		return rc;
	if (!out->name)
		out->name = out->id ? out->id : "SLO";
	return 0;
}

void slo_write(struct buf *b, const struct slo *s)
{
	struct json_w w;
	char window[16];
	snprintf(window, sizeof(window), "%ud", s->window_days);
	jw_init(&w, b);
	jw_obj_begin(&w);
	if (s->id)
		jw_kstr(&w, "id", s->id);
	jw_kstr(&w, "name", s->name ? s->name : "");
	jw_kstr(&w, "kind", s->kind == SLO_LATENCY ? "latency" : "availability");
	jw_kdouble(&w, "objective", s->objective);
	if (s->kind == SLO_LATENCY)
		jw_kuint(&w, "threshold_ms", s->threshold_ms);
	jw_kstr(&w, "window", window);
	jw_key(&w, "filters");
	watch_scope_put(&w, &s->scope);
	watch_channels_put(&w, s->channels, s->n_channels);
	if (s->repeat_s)
		jw_kuint(&w, "repeat", s->repeat_s);
	jw_obj_end(&w);
}

void watch_channels_put(struct json_w *w, const char *const *ids, size_t n)
{
	jw_karr_begin(w, "channels");
	for (size_t i = 0; i < n; i++)
		jw_str(w, ids[i]);
	jw_arr_end(w);
}

/* ---- arithmetic ------------------------------------------------------------ */

double slo_burn_rate(struct slo_counts c, double objective_pct)
{
	if (!c.total)
		return 0;
	double bad = (double)(c.total - c.good) / (double)c.total;
	return bad / (1 - objective_pct / 100);
}

void slo_budget_of(struct slo_counts w, double objective_pct, struct slo_budget *b)
{
	b->consumed = w.total - w.good;
	b->total = (1 - objective_pct / 100) * (double)w.total;
	b->remaining = b->total - (double)b->consumed;
	b->compliance = w.total ? 100.0 * (double)w.good / (double)w.total : 100;
	b->remaining_ratio = b->total > 0 ? b->remaining / b->total : 1;
}

double slo_exhaustion_s(const struct slo_budget *b, double burn, uint64_t window_s)
{
	if (b->remaining_ratio <= 0)
		return 0;
	if (!(burn > 0))
		return -1;
	return b->remaining_ratio * (double)window_s / burn;
}

int slo_alert_holds(const struct slo_alert_window *w, const struct slo_burn *b)
{
	double lo = -1, sh = -1;
	for (size_t i = 0; i < SLO_BURN_WINDOWS; i++) {
		if (slo_burn_windows_s[i] == w->long_s)
			lo = b->rate[i];
		if (slo_burn_windows_s[i] == w->short_s)
			sh = b->rate[i];
	}
	return lo > w->rate && sh > w->rate;
}

/* ---- counting -------------------------------------------------------------- */

int slo_is_exact(const struct slo *s)
{
	return s->kind == SLO_LATENCY && exact_needed(s->threshold_ms);
}

uint64_t slo_window_end(uint64_t now_ns)
{
	return (now_ns / NS_PER_MIN + 1) * NS_PER_MIN;
}

void slo_count_row(const struct slo *s, const struct rollup_row *r, struct slo_counts *c)
{
	c->total += r->count;
	if (s->kind == SLO_AVAILABILITY) {
		if (r->status == REQUEST_OK)
			c->good += r->count;
		return;
	}
	for (int t = 0; t < TIER_COUNT - 1 && request_tier_lo_ns[t + 1] <= s->threshold_ms * 1000000ull; t++)
		c->good += r->tiers[t];
}

static int rows_res(struct store *st, const struct slo *s, uint64_t from_ns, uint64_t to_ns, unsigned res,
		    slo_row_fn fn, void *arg, char *err, size_t errlen)
{
	struct store_query q;
	struct arena a;
	struct rollup_row *rows;
	size_t n;
	if (from_ns >= to_ns)
		return 0;
	watch_scope_query(&s->scope, from_ns, to_ns, &q);
	arena_init(&a);
	int rc = store_rollups(st, &q, res, &a, &rows, &n, err, errlen);
	if (rc == 0) {
		for (size_t i = 0; i < n; i++)
			fn(arg, &rows[i]);
		store_rollups_release(rows, n);
	}
	arena_release(&a);
	return rc;
}

int slo_rows(struct store *st, const struct slo *s, uint64_t from_ns, uint64_t to_ns, slo_row_fn fn,
	     void *arg, char *err, size_t errlen)
{
	uint64_t h0 = (from_ns + NS_PER_HOUR - 1) / NS_PER_HOUR * NS_PER_HOUR,
		 h1 = to_ns / NS_PER_HOUR * NS_PER_HOUR;
	if (h0 >= h1)
		return rows_res(st, s, from_ns, to_ns, 60, fn, arg, err, errlen);
	int rc = rows_res(st, s, from_ns, h0, 60, fn, arg, err, errlen);
	if (rc == 0)
		rc = rows_res(st, s, h0, h1, 3600, fn, arg, err, errlen);
	if (rc == 0)
		rc = rows_res(st, s, h1, to_ns, 60, fn, arg, err, errlen);
	return rc;
}

struct counting {
	const struct slo *s;
	struct slo_counts *c;
};

static void count_one(void *arg, const struct rollup_row *r)
{
	struct counting *k = arg;
	slo_count_row(k->s, r, k->c);
}

int slo_count(struct store *st, const struct slo *s, uint64_t from_ns, uint64_t to_ns, struct slo_counts *out,
	      char *err, size_t errlen)
{
	struct counting k = {s, out};
	uint64_t since;
	memset(out, 0, sizeof(*out));
	if (slo_is_exact(s)) {
		exact_counts(&s->scope, s->threshold_ms, from_ns, to_ns, out, &since);
		return 0;
	}
	return slo_rows(st, s, from_ns, to_ns, count_one, &k, err, errlen);
}

/* ---- stored documents ------------------------------------------------------- */

int watch_load_docs(struct store *s, const char *kind, size_t size, watch_doc_parse_fn parse, struct arena *a,
		    void **out, size_t *n, char *err, size_t errlen)
{
	struct store_record *docs;
	size_t nd;
	*out = NULL;
	*n = 0;
	int rc = store_docs(s, kind, NULL, a, &docs, &nd, err, errlen);
	if (rc < 0)
		return rc;
	char *items = arena_zalloc(a, (nd ? nd : 1) * size);
	for (size_t i = 0; i < nd; i++) {
		struct json_doc d;
		char msg[256];
		if (!strcmp(docs[i].json, WATCH_TOMBSTONE))
			continue; /* deleted */
		if (json_doc_parse(&d, docs[i].json, strlen(docs[i].json), 0, msg, sizeof(msg)) == 0 &&
		    parse(d.root, docs[i].id, a, items + *n * size, msg, sizeof(msg)) == 0)
			(*n)++;
		else
			log_warn("stored %s %s is unreadable: %s", kind, docs[i].id, msg);
		json_doc_release(&d);
	}
	*out = items;
	return 0;
}
