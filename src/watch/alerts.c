/*
 * alerts.c - alert states, their storage, acknowledgement, silences and
 * the audit trail (see alerts.h for the state drawing).
 */
#include "watch/alerts.h"

#include <math.h>
#include <string.h>

#include "core/log.h"

const char *const alert_state_names[4] = {"inactive", "pending", "firing", "resolved"};

/* ---- the state machine ---------------------------------------------------- */

static enum alert_step step_holds(struct alert *a, uint64_t now_ns, uint64_t for_ns, uint64_t group_ns)
{
	switch (a->state) {
	case ALERT_FIRING:
		if (!a->clear_ns)
			return STEP_NONE;
		a->clear_ns = 0;
		return STEP_CHANGED;
	case ALERT_RESOLVED:
		if (now_ns < a->resolved_ns + group_ns) {
			a->state = ALERT_FIRING; /* the same incident again */
			a->resolved_ns = 0;
			return STEP_CHANGED;
		}
		/* a new incident */
		__attribute__((fallthrough));
	case ALERT_INACTIVE:
		a->state = ALERT_PENDING;
		a->since_ns = now_ns;
		a->fired_ns = a->resolved_ns = a->acked_ns = a->clear_ns = a->pages = a->paged_ns = 0;
		a->acked_by = NULL;
		if (for_ns)
			return STEP_CHANGED;
		__attribute__((fallthrough));
	case ALERT_PENDING:
		if (now_ns - a->since_ns < for_ns)
			return STEP_NONE;
		a->state = ALERT_FIRING;
		a->fired_ns = now_ns;
		return STEP_FIRE;
	}
	return STEP_NONE;
}

enum alert_step alert_step(struct alert *a, int holds, uint64_t now_ns, uint64_t for_ns, uint64_t group_ns)
{
	if (holds)
		return step_holds(a, now_ns, for_ns, group_ns);
	if (a->state == ALERT_PENDING) {
		a->state = ALERT_INACTIVE;
		return STEP_CHANGED;
	}
	if (a->state != ALERT_FIRING)
		return STEP_NONE;
	if (!a->clear_ns) {
		a->clear_ns = now_ns;
		if (for_ns)
			return STEP_CHANGED;
	}
	if (now_ns - a->clear_ns < for_ns)
		return STEP_NONE;
	a->state = ALERT_RESOLVED;
	a->resolved_ns = now_ns;
	a->clear_ns = 0;
	return STEP_RESOLVE;
}

int alert_may_page(const struct alert *a, uint64_t now_ns)
{
	return !a->acked_ns && now_ns >= a->silenced_until_ns && !a->pages;
}

int alert_may_remind(const struct alert *a, uint64_t now_ns)
{
	return a->state == ALERT_FIRING && !a->clear_ns && a->repeat_ns && a->pages && !a->acked_ns &&
	       now_ns >= a->silenced_until_ns && now_ns >= a->paged_ns + a->repeat_ns;
}

/* ---- JSON ----------------------------------------------------------------- */

/* the member: milliseconds, or null for 0 (not yet) */
static void put_ms(struct json_w *w, const char *key, uint64_t ns)
{
	if (ns)
		jw_kuint(w, key, ns / 1000000);
	else
		jw_knull(w, key);
}

static void put_alert(struct json_w *w, const struct alert *a)
{
	jw_obj_begin(w);
	jw_kstr(w, "id", a->id);
	jw_kstr(w, "name", a->name);
	jw_kstr(w, "source", a->source);
	jw_kstr(w, "source_id", a->source_id);
	jw_kstr(w, "severity", a->severity);
	jw_kstr(w, "state", alert_state_names[a->state]);
	put_ms(w, "since_ms", a->since_ns);
	put_ms(w, "fired_ms", a->fired_ns);
	put_ms(w, "clear_ms", a->clear_ns);
	put_ms(w, "resolved_ms", a->resolved_ns);
	put_ms(w, "acknowledged_ms", a->acked_ns);
	jw_kstr(w, "acknowledged_by", a->acked_by);
	put_ms(w, "silenced_until_ms", a->silenced_until_ns);
	jw_kuint(w, "pages", a->pages);
	put_ms(w, "paged_ms", a->paged_ns);
	jw_kdouble(w, "value", a->value); /* null when not finite */
	jw_kdouble(w, "limit", a->limit);
	jw_kstr(w, "message", a->message);
	watch_channels_put(w, a->channels, a->n_channels);
	jw_obj_end(w);
}

void alert_write(struct buf *b, const struct alert *a)
{
	struct json_w w;
	jw_init(&w, b);
	put_alert(&w, a);
}

static const char *get_s(const struct json *o, const char *key, struct arena *a)
{
	const char *s = json_str(json_get(o, key));
	return s ? arena_strdup(a, s) : NULL;
}

static uint64_t get_ns(const struct json *o, const char *key)
{
	uint64_t ms = 0;
	if (json_uint64(json_get(o, key), &ms) < 0)
		return 0;
	return ms * 1000000;
}

int alert_parse(const struct json *o, struct arena *a, struct alert *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!o || o->type != JSON_OBJECT || !(out->id = get_s(o, "id", a)))
		return errf(err, errlen, "a stored alert lacks its id"), ERR_INTERNAL;
	out->name = get_s(o, "name", a);
	out->source = get_s(o, "source", a);
	out->source_id = get_s(o, "source_id", a);
	out->severity = get_s(o, "severity", a);
	out->acked_by = get_s(o, "acknowledged_by", a);
	out->message = get_s(o, "message", a);
	const char *st = json_str(json_get(o, "state"));
	for (int i = 0; st && i < 4; i++)
		if (!strcmp(st, alert_state_names[i]))
			out->state = (enum alert_st)i;
	out->since_ns = get_ns(o, "since_ms");
	out->fired_ns = get_ns(o, "fired_ms");
	out->clear_ns = get_ns(o, "clear_ms");
	out->resolved_ns = get_ns(o, "resolved_ms");
	out->acked_ns = get_ns(o, "acknowledged_ms");
	out->silenced_until_ns = get_ns(o, "silenced_until_ms");
	out->paged_ns = get_ns(o, "paged_ms");
	json_uint64(json_get(o, "pages"), &out->pages);
	if (json_double(json_get(o, "value"), &out->value) < 0)
		out->value = NAN;
	if (json_double(json_get(o, "limit"), &out->limit) < 0)
		out->limit = NAN;
	const struct json *ch = json_get(o, "channels");
	if (ch && ch->type == JSON_ARRAY && ch->len) {
		out->channels = arena_zalloc(a, ch->len * sizeof(*out->channels));
		for (const struct json *c = ch->child; c; c = c->next)
			if (json_str(c))
				out->channels[out->n_channels++] = arena_strdup(a, json_str(c));
	}
	return 0;
}

/* ---- storage -------------------------------------------------------------- */

static int parse_alert(const struct json *o, const char *id, struct arena *a, void *out, char *err,
		       size_t errlen)
{
	return alert_parse(o, a, out, err, errlen);
}

int alerts_load(struct store *s, struct arena *a, struct alert **out, size_t *n, char *err, size_t errlen)
{
	return watch_load_docs(s, ALERT_KIND, sizeof(**out), parse_alert, a, (void **)out, n, err, errlen);
}

int alert_save(struct store *s, const struct alert *a, const char *what, const char *actor, uint64_t now_ns,
	       char *err, size_t errlen)
{
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	alert_write(&b, a);
	struct store_record r = {ALERT_KIND, a->id, now_ns, b.data};
	int rc = store_put_doc(s, &r, err, errlen);
	if (rc == 0 && what) {
		struct json_w w;
		buf_reset(&b);
		jw_init(&w, &b);
		jw_obj_begin(&w);
		jw_kstr(&w, "event", what);
		jw_kstr(&w, "actor", actor ? actor : "hotpath");
		jw_key(&w, "alert");
		put_alert(&w, a);
		jw_obj_end(&w);
		struct store_record h = {ALERT_HISTORY_KIND, a->id, now_ns, b.data};
		rc = store_add_event(s, &h, err, errlen);
	}
	buf_release(&b);
	return rc;
}

static int act_on(struct alert *a, const char *action, uint64_t until_ns, const char *actor, uint64_t now_ns,
		  char *err, size_t errlen)
{
	if (!strcmp(action, "acknowledge")) {
		if (a->state != ALERT_FIRING && a->state != ALERT_PENDING)
			return errf(err, errlen,
				    "alert %s is %s: only a pending or firing alert is acknowledged", a->id,
				    alert_state_names[a->state]),
			       ERR_INVALID;
		a->acked_ns = now_ns;
		a->acked_by = actor;
	} else if (!strcmp(action, "silence")) {
		if (until_ns <= now_ns)
			return errf(err, errlen, "silence needs \"until\" in the future"), ERR_INVALID;
		a->silenced_until_ns = until_ns;
	} else if (!strcmp(action, "resolve")) {
		if (a->state == ALERT_RESOLVED || a->state == ALERT_INACTIVE)
			return errf(err, errlen, "alert %s is %s already", a->id,
				    alert_state_names[a->state]),
			       ERR_INVALID;
		a->state = ALERT_RESOLVED;
		a->resolved_ns = now_ns;
		a->clear_ns = 0;
	} else
		return errf(err, errlen, "\"action\" must be acknowledge, silence or resolve"), ERR_INVALID;
	return 0;
}

int alert_act(struct store *s, const char *id, const char *action, uint64_t until_ns, const char *actor,
	      uint64_t now_ns, char *err, size_t errlen)
{
	struct arena a;
	struct store_record *docs;
	size_t n;
	struct json_doc d = {0};
	struct alert al;
	struct buf before;
	arena_init(&a);
	buf_init(&before, BUF_NO_LIMIT);
	int rc = store_docs(s, ALERT_KIND, id, &a, &docs, &n, err, errlen);
	if (rc == 0 && !n)
		rc = (errf(err, errlen, "no such alert: %.80s", id), ERR_NOT_FOUND);
	if (rc == 0 && (json_doc_parse(&d, docs[0].json, strlen(docs[0].json), 0, err, errlen) < 0 ||
			alert_parse(d.root, &a, &al, err, errlen) < 0))
		rc = ERR_INTERNAL;
	if (rc == 0) {
		buf_puts(&before, docs[0].json);
		rc = act_on(&al, action, until_ns, actor, now_ns, err, errlen);
	}
	if (rc == 0)
		rc = alert_save(s, &al, action, actor, now_ns, err, errlen);
	if (rc == 0) {
		struct buf after;
		buf_init(&after, BUF_NO_LIMIT);
		alert_write(&after, &al);
		rc = watch_audit(s, actor, action, "alert", id, before.data, after.data, now_ns, err, errlen);
		buf_release(&after);
	}
	json_doc_release(&d);
	buf_release(&before);
	arena_release(&a);
	return rc;
}

int watch_audit(struct store *s, const char *actor, const char *action, const char *object_kind,
		const char *object_id, const char *before, const char *after, uint64_t now_ns, char *err,
		size_t errlen)
{
	struct buf b;
	struct json_w w;
	buf_init(&b, BUF_NO_LIMIT);
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "actor", actor ? actor : "api");
	jw_kstr(&w, "action", action);
	jw_kstr(&w, "object", object_kind);
	jw_kstr(&w, "object_id", object_id ? object_id : "");
	jw_kraw(&w, "before", before && *before ? before : "null");
	jw_kraw(&w, "after", after && *after ? after : "null");
	jw_obj_end(&w);
	int sys = actor && !strcmp(actor, WATCH_ACTOR);
	struct store_record r = {sys ? AUDIT_SYSTEM_KIND : AUDIT_KIND, object_kind, now_ns, b.data};
	int rc = store_add_event(s, &r, err, errlen);
	buf_release(&b);
	return rc;
}
