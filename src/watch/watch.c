/*
 * watch.c - the evaluation cycle and its thread (see watch.h).
 */
#include "watch/watch.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/ticker.h"
#include "watch/exact.h"
#include "watch/snapshot.h"

#define DEFAULTS_KIND "watch.defaults"
/* Exact counts nobody refreshed for this long are let go from memory. */
#define EXACT_IDLE_NS (2 * NS_PER_HOUR)

void watch_options_init(struct watch_options *o)
{
	memset(o, 0, sizeof(*o));
	o->interval_s = 30;
	o->group_s = 300;
}

/* Whether the SLO is counted exactly, and since when. */
static void exact_since(const struct slo *slo, uint64_t end, struct slo_status *out)
{
	struct slo_counts c;
	out->exact = slo_is_exact(slo);
	if (out->exact)
		exact_counts(&slo->scope, slo->threshold_ms, end, end, &c, &out->exact_since_ns);
}

int watch_slo_status(struct store *s, const struct slo *slo, uint64_t now_ns, struct slo_status *out,
		     char *err, size_t errlen)
{
	uint64_t end = slo_window_end(now_ns);
	struct slo_counts c;
	memset(out, 0, sizeof(*out));
	int rc = slo_count(s, slo, end - (uint64_t)slo->window_days * 86400 * NS_PER_S, end, &out->window,
			   err, errlen);
	for (size_t i = 0; rc == 0 && i < SLO_BURN_WINDOWS; i++) {
		rc = slo_count(s, slo, end - slo_burn_windows_s[i] * NS_PER_S, end, &c, err, errlen);
		out->burn.rate[i] = slo_burn_rate(c, slo->objective);
	}
	if (rc < 0)
		return rc;
	exact_since(slo, end, out);
	slo_budget_of(out->window, slo->objective, &out->budget);
	out->exhaustion_s =
		slo_exhaustion_s(&out->budget, out->burn.rate[2], (uint64_t)slo->window_days * 86400);
	for (size_t i = 0; i < SLO_ALERT_WINDOWS; i++)
		out->alert[i] = slo_alert_holds(&slo_alert_windows[i], &out->burn);
	return 0;
}

struct binning {
	const struct slo *slo;
	struct slo_burndown *b;
};

static void bin_row(void *arg, const struct rollup_row *r)
{
	struct binning *k = arg;
	size_t i = (size_t)((r->t_ns / NS_PER_HOUR * NS_PER_HOUR - k->b->first_ns) / NS_PER_HOUR);
	if (r->t_ns >= k->b->first_ns && i < k->b->n)
		slo_count_row(k->slo, r, &k->b->points[i]);
}

int watch_slo_burndown(struct store *s, const struct slo *slo, uint64_t now_ns, struct arena *a,
		       struct slo_burndown *out, char *err, size_t errlen)
{
	uint64_t end = slo_window_end(now_ns), from = end - (uint64_t)slo->window_days * NS_PER_DAY;
	out->first_ns = from / NS_PER_HOUR * NS_PER_HOUR;
	out->n = (size_t)((end - out->first_ns + NS_PER_HOUR - 1) / NS_PER_HOUR);
	out->points = arena_zalloc(a, out->n * sizeof(*out->points));
	struct binning k = {slo, out};
	if (!slo_is_exact(slo))
		return slo_rows(s, slo, from, end, bin_row, &k, err, errlen);
	for (size_t i = 0; i < out->n; i++) {
		uint64_t h0 = out->first_ns + i * NS_PER_HOUR, since;
		exact_counts(&slo->scope, slo->threshold_ms, h0 < from ? from : h0,
			     h0 + NS_PER_HOUR < end ? h0 + NS_PER_HOUR : end, &out->points[i], &since);
	}
	return 0;
}

void watch_slo_status_of(const struct slo_snapshot *sn, const struct slo *slo, struct slo_status *out)
{
	struct slo_counts c;
	uint64_t since, end = sn->end_ns, days = (uint64_t)slo->window_days * 86400;
	memset(out, 0, sizeof(*out));
	if (slo_is_exact(slo))
		exact_counts(&slo->scope, slo->threshold_ms, end - days * NS_PER_S, end, &out->window,
			     &since);
	else
		slo_snapshot_counts(sn, slo, days, &out->window);
	for (size_t i = 0; i < SLO_BURN_WINDOWS; i++) {
		if (slo_is_exact(slo))
			exact_counts(&slo->scope, slo->threshold_ms, end - slo_burn_windows_s[i] * NS_PER_S,
				     end, &c, &since);
		else
			slo_snapshot_counts(sn, slo, slo_burn_windows_s[i], &c);
		out->burn.rate[i] = slo_burn_rate(c, slo->objective);
	}
	exact_since(slo, end, out);
	slo_budget_of(out->window, slo->objective, &out->budget);
	out->exhaustion_s =
		slo_exhaustion_s(&out->budget, out->burn.rate[2], (uint64_t)slo->window_days * 86400);
	for (size_t i = 0; i < SLO_ALERT_WINDOWS; i++)
		out->alert[i] = slo_alert_holds(&slo_alert_windows[i], &out->burn);
}

/* ---- loading ---------------------------------------------------------------- */

static int parse_slo(const struct json *o, const char *id, struct arena *a, void *out, char *err,
		     size_t errlen)
{
	return slo_parse(o, id, a, out, err, errlen);
}

static int parse_rule(const struct json *o, const char *id, struct arena *a, void *out, char *err,
		      size_t errlen)
{
	return rule_parse(o, id, a, out, err, errlen);
}

int watch_load_slos(struct store *s, struct arena *a, struct slo **out, size_t *n, char *err, size_t errlen)
{
	return watch_load_docs(s, SLO_KIND, sizeof(**out), parse_slo, a, (void **)out, n, err, errlen);
}

int watch_load_rules(struct store *s, struct arena *a, struct alert_rule **out, size_t *n, char *err,
		     size_t errlen)
{
	return watch_load_docs(s, RULE_KIND, sizeof(**out), parse_rule, a, (void **)out, n, err, errlen);
}

/* ---- one cycle -------------------------------------------------------------- */

struct cycle {
	struct store *s;
	const struct watch_options *o;
	uint64_t now_ns;
	struct arena a;
	struct alert *alerts;
	size_t n_alerts, cap_alerts;
	struct notify_channel *chans;
	size_t n_chans;
	struct watch_report *r;
	struct rule_cache *cache;
	const struct slo_snapshot *sn; /* NULL without SLOs nor exact rules */
};

static struct alert *alert_for(struct cycle *c, const char *id)
{
	for (size_t i = 0; i < c->n_alerts; i++)
		if (!strcmp(c->alerts[i].id, id)) {
			c->alerts[i].seen = 1;
			return &c->alerts[i];
		}
	c->alerts = arena_grow(&c->a, c->alerts, &c->cap_alerts, c->n_alerts + 1, sizeof(*c->alerts));
	struct alert *al = &c->alerts[c->n_alerts++];
	memset(al, 0, sizeof(*al));
	al->id = arena_strdup(&c->a, id);
	al->value = al->limit = NAN;
	al->seen = 1;
	return al;
}

/* Notify the alert's channels (and the log), unless it is silenced. */
static void send(struct cycle *c, const struct alert *al, const char *event)
{
	if (c->now_ns < al->silenced_until_ns) {
		log_info("alert %s %s (silenced: nothing sent)", al->id, event);
		return;
	}
	struct notify_channel *to = arena_zalloc(&c->a, (al->n_channels + 1) * sizeof(*to));
	size_t n = 0;
	for (size_t i = 0; i < al->n_channels; i++)
		for (size_t j = 0; j < c->n_chans; j++)
			if (!strcmp(al->channels[i], c->chans[j].id))
				to[n++] = c->chans[j];
	struct notify_event e = {event,	      al->id,	 al->name,  al->severity, al->source,
				 al->message, al->value, al->limit, c->now_ns};
	notify_send(to, n, &e);
}

/* Store the alert; a transition (`what`: the state reached) goes to its
 * history and to the audit trail, by actor "system", with the alert
 * before (`prev`) and after. */
static void save_alert(struct cycle *c, const struct alert *prev, const struct alert *al, const char *what)
{
	char err[256];
	int rc = alert_save(c->s, al, what, WATCH_ACTOR, c->now_ns, err, sizeof(err));
	if (rc == 0 && what) {
		struct buf before, after;
		buf_init(&before, BUF_NO_LIMIT);
		buf_init(&after, BUF_NO_LIMIT);
		alert_write(&before, prev);
		alert_write(&after, al);
		rc = watch_audit(c->s, WATCH_ACTOR, what, "alert", al->id, before.data, after.data, c->now_ns,
				 err, sizeof(err));
		buf_release(&before);
		buf_release(&after);
	}
	if (rc < 0)
		log_warn("alert %s: %s", al->id, err);
}

/* Advance one alert with the verdict; store and notify what changed.
 * `prev`: the alert as it was before this evaluation described it. */
static void advance(struct cycle *c, struct alert *al, const struct alert *prev, int holds, uint64_t for_s)
{
	enum alert_st was = al->state;
	enum alert_step st =
		alert_step(al, holds, c->now_ns, for_s * NS_PER_S, (uint64_t)c->o->group_s * NS_PER_S);
	const char *what = NULL;
	if (st == STEP_FIRE && alert_may_page(al, c->now_ns)) {
		al->pages++;
		al->paged_ns = c->now_ns;
		send(c, al, "firing");
	} else if (st == STEP_RESOLVE && al->pages)
		send(c, al, "resolved");
	else if (st == STEP_NONE && alert_may_remind(al, c->now_ns)) {
		al->pages++;
		al->paged_ns = c->now_ns;
		send(c, al, "reminder");
		st = STEP_CHANGED; /* stored, with no history entry */
	}
	if (st == STEP_FIRE)
		c->r->fired++;
	if (st == STEP_RESOLVE)
		c->r->resolved++;
	if (al->state != was)
		what = alert_state_names[al->state];
	if (st != STEP_NONE) {
		c->r->changed++;
		save_alert(c, prev, al, what);
	}
}

static void describe(struct cycle *c, struct alert *al, const char *source, const char *source_id,
		     const char *name, const char *severity, const char **chans, size_t n_chans,
		     uint64_t repeat_s)
{
	al->repeat_ns = repeat_s * NS_PER_S;
	al->source = source;
	al->source_id = source_id;
	al->name = name;
	al->severity = severity;
	al->channels = chans;
	al->n_channels = n_chans;
}

static void eval_slo(struct cycle *c, const struct slo_snapshot *sn, const struct slo *slo)
{
	struct slo_status st;
	char id[128], msg[256];
	watch_slo_status_of(sn, slo, &st);
	for (int k = 0; k < 2; k++) {
		const char *sev = k == 0 ? "page" : "ticket";
		int holds = k == 0 ? st.alert[0] || st.alert[1] : st.alert[2];
		snprintf(id, sizeof(id), "slo:%s:%s", slo->id, sev);
		struct alert *al = alert_for(c, id), prev = *al;
		if (!holds && al->state != ALERT_PENDING && al->state != ALERT_FIRING)
			continue;
		describe(c, al, "slo", slo->id, slo->name, sev, slo->channels, slo->n_channels,
			 k == 0 ? slo->repeat_s : 0);
		/* the window pair that holds (else the fastest of the severity) */
		int w = k == 0 ? (st.alert[0] || !st.alert[1] ? 0 : 1) : 2;
		double rate = st.burn.rate[w == 0 ? 2 : w == 1 ? 3 : 4];
		snprintf(msg, sizeof(msg),
			 "error budget burning at %.1fx over %s (alert above %gx); %.1f%% of the budget "
			 "remains",
			 rate,
			 w == 0	  ? "1 h"
			 : w == 1 ? "6 h"
				  : "3 d",
			 slo_alert_windows[w].rate, 100 * st.budget.remaining_ratio);
		al->message = arena_strdup(&c->a, msg);
		al->value = rate;
		al->limit = slo_alert_windows[w].rate;
		advance(c, al, &prev, holds, 0);
	}
}

static void eval_rule(struct cycle *c, const struct alert_rule *r)
{
	struct rule_verdict v;
	char err[256], id[128], msg[256];
	if (!r->enabled)
		return;
	snprintf(id, sizeof(id), "rule:%s", r->id);
	struct alert *al = alert_for(c, id), prev = *al; /* seen, even when its evaluation fails */
	if (rule_is_exact(r) &&
	    exact_refresh(c->s, &r->scope, r->slow_ms, c->now_ns, c->sn, err, sizeof(err)) < 0)
		log_warn("rule %s: exact counts: %s", r->id, err);
	if (rule_evaluate(c->s, c->cache, r, c->now_ns, &v, err, sizeof(err)) < 0) {
		log_warn("rule %s: %s", r->id, err);
		return;
	}
	if (!v.holds && al->state != ALERT_PENDING && al->state != ALERT_FIRING)
		return;
	describe(c, al, "rule", r->id, r->name, r->severity, r->channels, r->n_channels, r->repeat_s);
	const struct rule_metric *m = &r->metric;
	if (r->measure == RULE_METRIC)
		snprintf(msg, sizeof(msg), "%s of %.100s%s%.60s is %.4g (limit %.4g) over the last %llu s",
			 m->agg_name, m->name ? m->name : resource_measure_names[m->measure],
			 m->group_by ? ", worst " : "", m->group_by ? m->group_by : "", v.value, v.limit,
			 (unsigned long long)r->window_s);
	else
		snprintf(msg, sizeof(msg), "%s is %.4g (limit %.4g) over the last %llu s",
			 rule_measure_names[r->measure], v.value, v.limit, (unsigned long long)r->window_s);
	al->message = arena_strdup(&c->a, msg);
	al->value = v.value;
	al->limit = v.limit;
	advance(c, al, &prev, v.holds, r->for_s);
}

/* Every SLO from the cycle's snapshot of the rollups; the exact counts of
 * those whose threshold is not a tier bound first. */
static void eval_slos(struct cycle *c, const struct slo *slos, size_t n)
{
	char err[256];
	for (size_t i = 0; i < n; i++)
		if (slo_is_exact(&slos[i]) && exact_refresh(c->s, &slos[i].scope, slos[i].threshold_ms,
							    c->now_ns, c->sn, err, sizeof(err)) < 0)
			log_warn("SLO %s: exact counts: %s", slos[i].id, err);
	for (size_t i = 0; i < n; i++)
		eval_slo(c, c->sn, &slos[i]);
}

/* Alerts whose rule or SLO is gone or disabled end: a firing one resolves
 * (and says so where it paged), a pending one goes quiet. */
static void end_orphans(struct cycle *c)
{
	for (size_t i = 0; i < c->n_alerts; i++) {
		struct alert *al = &c->alerts[i], prev = *al;
		if (al->seen || (al->state != ALERT_PENDING && al->state != ALERT_FIRING))
			continue;
		int paged = al->state == ALERT_FIRING && al->pages;
		al->state = al->state == ALERT_FIRING ? ALERT_RESOLVED : ALERT_INACTIVE;
		al->resolved_ns = al->state == ALERT_RESOLVED ? c->now_ns : 0;
		al->clear_ns = 0;
		al->message = "its rule or SLO was deleted or disabled";
		if (paged)
			send(c, al, "resolved");
		c->r->resolved += al->state == ALERT_RESOLVED;
		save_alert(c, &prev, al, alert_state_names[al->state]);
	}
}

/* Whether the cycle reads a snapshot: SLOs, or rules counted exactly. */
static int needs_snapshot(const struct slo *slos, size_t n_slos, const struct alert_rule *rules,
			  size_t n_rules)
{
	for (size_t i = 0; i < n_rules && !n_slos; i++)
		if (rules[i].enabled && rule_is_exact(&rules[i]))
			return 1;
	return n_slos > 0;
}

int watch_cycle(struct store *s, const struct watch_options *o, uint64_t now_ns, struct watch_report *r,
		char *err, size_t errlen)
{
	struct cycle c = {.s = s, .o = o, .now_ns = now_ns, .r = r};
	struct slo *slos;
	struct alert_rule *rules;
	struct slo_snapshot sn;
	size_t n_slos, n_rules;
	memset(r, 0, sizeof(*r));
	arena_init(&c.a);
	int rc = alerts_load(s, &c.a, &c.alerts, &c.n_alerts, err, errlen);
	c.cap_alerts = c.n_alerts;
	if (rc == 0)
		rc = channels_load(s, &c.a, &c.chans, &c.n_chans, err, errlen);
	if (rc == 0)
		rc = watch_load_slos(s, &c.a, &slos, &n_slos, err, errlen);
	if (rc == 0)
		rc = watch_load_rules(s, &c.a, &rules, &n_rules, err, errlen);
	int loaded = rc == 0, taken = loaded && needs_snapshot(slos, n_slos, rules, n_rules);
	if (taken && (rc = slo_snapshot_take(&sn, s, now_ns, err, errlen)) == 0)
		c.sn = &sn;
	if (loaded) {
		/* without the snapshot, the SLOs wait for the next cycle; the rules go on */
		r->slos = n_slos;
		r->rules = n_rules;
		if (rc == 0)
			eval_slos(&c, slos, n_slos);
		c.cache = rule_cache_new();
		for (size_t i = 0; i < n_rules; i++)
			eval_rule(&c, &rules[i]);
		rule_cache_free(c.cache);
		if (rc == 0)
			end_orphans(&c);
	}
	if (taken)
		slo_snapshot_release(&sn);
	if (rc == 0)
		exact_prune(now_ns, EXACT_IDLE_NS);
	arena_release(&c.a);
	return rc;
}

/* ---- defaults ----------------------------------------------------------------- */

/* The slow-request spike check as a rule: it alerts while a spike the
 * built-in check (analyze/slowops.c, every --spike-interval) found is
 * less than 5 minutes old, of any service. */
static const char default_spike_rule[] =
	"{\"id\":\"slow-spike\",\"name\":\"Slow request spike\",\"measure\":\"slow_spikes\","
	"\"comparison\":\">\",\"threshold\":0,\"window\":300,\"for\":0,"
	"\"min_requests\":0,\"severity\":\"warning\",\"enabled\":true,\"filters\":{},\"channels\":[]}";

/* The regressions the background change watch flags (advisor/change_watch.c,
 * every --change-interval) as a rule: it alerts while a flag of any service
 * is less than 10 minutes old (the watch runs every 5 minutes by default). */
static const char default_regression_rule[] =
	"{\"id\":\"regression\",\"name\":\"Regression flagged\",\"measure\":\"regressions\","
	"\"comparison\":\">\",\"threshold\":0,\"window\":600,\"for\":0,"
	"\"min_requests\":0,\"severity\":\"warning\",\"enabled\":true,\"filters\":{},\"channels\":[]}";

static const struct {
	const char *id, *json;
} default_rules[] = {{"slow-spike", default_spike_rule}, {"regression", default_regression_rule}};
#define N_DEFAULTS (sizeof(default_rules) / sizeof(default_rules[0]))

/* Which defaults the record says were installed (installed[i]). */
static void installed_of(const char *json, int *installed)
{
	struct json_doc d;
	char msg[128];
	if (json_doc_parse(&d, json, strlen(json), 0, msg, sizeof(msg)) < 0)
		return;
	const struct json *list = json_get(d.root, "installed");
	for (const struct json *v = list && list->type == JSON_ARRAY ? list->child : NULL; v; v = v->next)
		for (size_t i = 0; i < N_DEFAULTS; i++)
			installed[i] |= json_str(v) && !strcmp(json_str(v), default_rules[i].id);
	json_doc_release(&d);
}

/* Install default i, unless a rule of its id exists (made by hand). */
static int install_one(struct store *s, size_t i, uint64_t now, struct arena *a, char *err, size_t errlen)
{
	struct store_record *rows;
	size_t n;
	int rc = store_docs(s, RULE_KIND, default_rules[i].id, a, &rows, &n, err, errlen);
	if (rc < 0 || n)
		return rc;
	struct store_record r = {RULE_KIND, default_rules[i].id, now, default_rules[i].json};
	rc = store_put_doc(s, &r, err, errlen);
	if (rc == 0)
		rc = watch_audit(s, "hotpath", "create", "rule", default_rules[i].id, NULL,
				 default_rules[i].json, now, err, errlen);
	return rc;
}

/* Each default not yet installed is installed once, and the record of the
 * installed ones grows: a default added later reaches a store that has the
 * record, and a deleted one (its id in the record) stays deleted. */
int watch_install_defaults(struct store *s, char *err, size_t errlen)
{
	struct arena a;
	struct store_record *rows;
	size_t n, added = 0;
	int installed[N_DEFAULTS] = {0};
	uint64_t now = clock_now_ns();
	arena_init(&a);
	int rc = store_docs(s, DEFAULTS_KIND, "rules", &a, &rows, &n, err, errlen);
	if (rc == 0 && n)
		installed_of(rows[0].json, installed);
	for (size_t i = 0; rc == 0 && i < N_DEFAULTS; i++)
		if (!installed[i]) {
			rc = install_one(s, i, now, &a, err, errlen);
			installed[i] = 1;
			added++;
		}
	if (rc == 0 && added) {
		struct buf j;
		struct json_w w;
		buf_init(&j, BUF_NO_LIMIT);
		jw_init(&w, &j);
		jw_obj_begin(&w);
		jw_karr_begin(&w, "installed");
		for (size_t i = 0; i < N_DEFAULTS; i++)
			jw_str(&w, default_rules[i].id);
		jw_arr_end(&w);
		jw_obj_end(&w);
		struct store_record d = {DEFAULTS_KIND, "rules", now, j.data};
		rc = store_put_doc(s, &d, err, errlen);
		buf_release(&j);
	}
	arena_release(&a);
	return rc;
}

/* ---- the thread --------------------------------------------------------------- */

static struct ticker watch_ticker = TICKER_INIT;
static struct store *watch_store;
static struct watch_options watch_opt;

static void tick(void *arg)
{
	struct watch_report r;
	char err[256];
	uint64_t t0 = clock_now_ns();
	if (!store_lease_begin(watch_store))
		return; /* another instance on the same store evaluates */
	if (watch_cycle(watch_store, &watch_opt, t0, &r, err, sizeof(err)) < 0)
		log_warn("alert evaluation: %s", err);
	else
		log_debug("alert evaluation: %zu SLOs, %zu rules, %zu fired, %zu resolved in %.1f ms", r.slos,
			  r.rules, r.fired, r.resolved, (double)(clock_now_ns() - t0) / 1e6);
	store_lease_end(watch_store);
}

int watch_start(struct store *s, const struct watch_options *o, char *err, size_t errlen)
{
	watch_store = s;
	watch_opt = *o;
	if (watch_install_defaults(s, err, errlen) < 0)
		return -1;
	if (notify_start(s, &o->notify, err, errlen) < 0)
		return -1;
	return ticker_start_job(&watch_ticker, "alert_evaluation", o->interval_s, tick, NULL, err, errlen);
}

void watch_stop(void)
{
	ticker_stop(&watch_ticker);
	notify_stop();
}
