/*
 * slowops.c - thresholds, classification, phases, per-type statistics and
 * spike detection of slow operations (see slowops.h, docs/CONFIG.md).
 */
#include "analyze/slowops.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analyze/critpath.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/ticker.h"
#include "core/json_doc.h"
#include "core/json_write.h"
#include "ingest/semconv.h"

#define MAX_TEXT 256 /* bytes of a type name, glob or attribute */
/* Slow requests one spike check reads at most. */
#define SPIKE_MAX_ROWS	200000
#define CONFIG_FILE_MAX (1u << 20)

static const char *const type_names[SLOWOPS_BUILTIN] = {"http", "database", "cache", "external"};
static const char *const type_keys[SLOWOPS_BUILTIN] = {"http_ms", "database_ms", "cache_ms", "external_ms"};
static const char *const env_names[SLOWOPS_BUILTIN] = {"HOTPATH_SLOW_HTTP_MS", "HOTPATH_SLOW_DB_MS",
						       "HOTPATH_SLOW_CACHE_MS", "HOTPATH_SLOW_EXTERNAL_MS"};
static const double default_ms[SLOWOPS_BUILTIN] = {1000, 500, 100, 2000};
static const char *const source_names[] = {"unset", "default", "file", "env", "api"};

/* ---- configs ----------------------------------------------------------------- */

void slowops_config_init_layer(struct slowops_config *c)
{
	memset(c, 0, sizeof(*c));
}

void slowops_config_init(struct slowops_config *c)
{
	slowops_config_init_layer(c);
	for (int i = 0; i < SLOWOPS_BUILTIN; i++) {
		c->threshold_ns[i] = (uint64_t)(default_ms[i] * NS_PER_MS);
		c->source[i] = SLOWOPS_SRC_DEFAULT;
	}
	c->rules_source = SLOWOPS_SRC_DEFAULT;
}

static void rules_free(struct slowops_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].type);
		free(r[i].name_glob);
		free(r[i].attr_key);
		free(r[i].attr_value);
	}
	free(r);
}

void slowops_config_release(struct slowops_config *c)
{
	rules_free(c->rules, c->n_rules);
	c->rules = NULL;
	c->n_rules = 0;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void rules_copy(struct slowops_config *dst, const struct slowops_config *src)
{
	rules_free(dst->rules, dst->n_rules);
	dst->rules = src->n_rules ? xcalloc(src->n_rules, sizeof(*dst->rules)) : NULL;
	dst->n_rules = src->n_rules;
	for (size_t i = 0; i < src->n_rules; i++) {
		const struct slowops_rule *r = &src->rules[i];
		dst->rules[i] = (struct slowops_rule){.type = xstrdup(r->type),
						      .name_glob = dup_or_null(r->name_glob),
						      .attr_key = dup_or_null(r->attr_key),
						      .attr_value = dup_or_null(r->attr_value),
						      .threshold_ns = r->threshold_ns};
	}
	dst->rules_source = src->rules_source;
}

void slowops_config_copy(struct slowops_config *dst, const struct slowops_config *src)
{
	memcpy(dst->threshold_ns, src->threshold_ns, sizeof(dst->threshold_ns));
	memcpy(dst->source, src->source, sizeof(dst->source));
	rules_copy(dst, src);
}

void slowops_config_merge(struct slowops_config *dst, const struct slowops_config *layer)
{
	for (int i = 0; i < SLOWOPS_BUILTIN; i++)
		if (layer->source[i] != SLOWOPS_SRC_UNSET) {
			dst->threshold_ns[i] = layer->threshold_ns[i];
			dst->source[i] = layer->source[i];
		}
	if (layer->rules_source != SLOWOPS_SRC_UNSET)
		rules_copy(dst, layer);
}

/* ---- parsing ------------------------------------------------------------------ */

static int parse_ms(const char *s, uint64_t *ns)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v <= 0 || v > SLOWOPS_MAX_THRESHOLD_MS)
		return -1;
	*ns = (uint64_t)llround(v * NS_PER_MS);
	return *ns ? 0 : -1;
}

static int json_ms(const struct json *v, uint64_t *ns)
{
	return v->type == JSON_NUMBER ? parse_ms(v->s, ns) : -1;
}

#define MS_RULE "want a number of milliseconds greater than 0 and at most 86400000"

static int valid_type_name(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]))
			return 0;
	for (int i = 0; i < SLOWOPS_BUILTIN; i++)
		if (!strcmp(s, type_names[i]))
			return 0;
	return 1;
}

static int text_member(const struct json *m, const char *field, char **out, char *err, size_t errlen)
{
	if (m->type != JSON_STRING || !m->len || m->len > MAX_TEXT || strlen(m->s) != m->len)
		return errf(err, errlen, "%s: want a non-empty string of at most %d bytes", field, MAX_TEXT);
	free(*out);
	*out = xstrdup(m->s);
	return 0;
}

static int parse_rule(struct slowops_rule *r, const struct json *o, size_t idx, char *err, size_t errlen)
{
	char field[96];
	char *attr = NULL;
	int ret = -1, has_ms = 0;
	if (o->type != JSON_OBJECT)
		return errf(err, errlen, "custom[%zu]: want an object", idx);
	for (const struct json *m = o->child; m; m = m->next) {
		snprintf(field, sizeof(field), "custom[%zu].%.*s", idx,
			 (int)(m->key_len < 32 ? m->key_len : 32), m->key);
		if (json_key_is(m, "type")) {
			if (text_member(m, field, &r->type, err, errlen) < 0)
				goto out;
			if (!valid_type_name(r->type)) {
				errf(err, errlen,
				     "%s: want 1-64 letters, digits, '_', '.' or '-', not a built-in type "
				     "(http, "
				     "database, cache, external)",
				     field);
				goto out;
			}
		} else if (json_key_is(m, "span_name")) {
			if (text_member(m, field, &r->name_glob, err, errlen) < 0)
				goto out;
		} else if (json_key_is(m, "attribute")) {
			if (text_member(m, field, &attr, err, errlen) < 0)
				goto out;
			char *eq = strchr(attr, '=');
			if (!eq || eq == attr) {
				errf(err, errlen, "%s: want \"key=value\"", field);
				goto out;
			}
			*eq = 0;
			free(r->attr_key); /* a repeated member: the last one counts */
			free(r->attr_value);
			r->attr_key = xstrdup(attr);
			r->attr_value = xstrdup(eq + 1);
		} else if (json_key_is(m, "threshold_ms")) {
			if (json_ms(m, &r->threshold_ns) < 0) {
				errf(err, errlen, "%s: " MS_RULE, field);
				goto out;
			}
			has_ms = 1;
		} else {
			errf(err, errlen, "%s: unknown field (use type, span_name, attribute, threshold_ms)",
			     field);
			goto out;
		}
	}
	if (!r->type)
		errf(err, errlen, "custom[%zu].type: missing", idx);
	else if (!has_ms)
		errf(err, errlen, "custom[%zu].threshold_ms: missing", idx);
	else if (!r->name_glob && !r->attr_key)
		errf(err, errlen, "custom[%zu].span_name: give span_name, attribute or both", idx);
	else
		ret = 0;
out:
	free(attr);
	return ret;
}

static int parse_object(struct slowops_config *layer, const struct json *root, enum slowops_source src,
			char *err, size_t errlen)
{
	if (!root || root->type != JSON_OBJECT)
		return errf(err, errlen, "thresholds: want a JSON object");
	for (const struct json *m = root->child; m; m = m->next) {
		int i;
		for (i = 0; i < SLOWOPS_BUILTIN; i++)
			if (json_key_is(m, type_keys[i]))
				break;
		if (i < SLOWOPS_BUILTIN) {
			if (json_ms(m, &layer->threshold_ns[i]) < 0)
				return errf(err, errlen, "%s: " MS_RULE, type_keys[i]);
			layer->source[i] = (uint8_t)src;
			continue;
		}
		if (!json_key_is(m, "custom"))
			return errf(err, errlen,
				    "%.*s: unknown field (use http_ms, database_ms, cache_ms, external_ms, "
				    "custom)",
				    (int)(m->key_len < 64 ? m->key_len : 64), m->key);
		if (m->type != JSON_ARRAY)
			return errf(err, errlen, "custom: want an array of rules");
		if (m->len > SLOWOPS_MAX_RULES)
			return errf(err, errlen, "custom: at most %d rules", SLOWOPS_MAX_RULES);
		rules_free(layer->rules, layer->n_rules);
		layer->rules = m->len ? xcalloc(m->len, sizeof(*layer->rules)) : NULL;
		layer->n_rules = 0;
		layer->rules_source = (uint8_t)src;
		for (const struct json *r = m->child; r; r = r->next) {
			/* counted first, so a half-parsed rule is released too */
			struct slowops_rule *rule = &layer->rules[layer->n_rules++];
			if (parse_rule(rule, r, layer->n_rules - 1, err, errlen) < 0)
				return -1;
		}
	}
	return 0;
}

int slowops_config_parse_json(struct slowops_config *layer, const char *text, size_t len,
			      enum slowops_source src, char *err, size_t errlen)
{
	struct json_doc d;
	char msg[256];
	int ret;
	if (json_doc_parse(&d, text, len, 0, msg, sizeof(msg)) < 0)
		ret = errf(err, errlen, "body: invalid JSON: %s", msg);
	else
		ret = parse_object(layer, d.root, src, err, errlen);
	json_doc_release(&d);
	return ret;
}

int slowops_config_load_file(struct slowops_config *layer, const char *path, char *err, size_t errlen)
{
	struct buf text;
	struct json_doc d = {0};
	char msg[256];
	int ret = -1;
	buf_init(&text, CONFIG_FILE_MAX);
	if (buf_read_file(&text, path) < 0) {
		if (errno == EFBIG)
			errf(err, errlen, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
		else
			errf(err, errlen, "%s: %s", path, errno == EIO ? "read error" : strerror(errno));
		goto out;
	}
	if (json_doc_parse(&d, text.data, text.len, 0, msg, sizeof(msg)) < 0) {
		errf(err, errlen, "%s: invalid JSON: %s", path, msg);
		goto out;
	}
	if (!d.root || d.root->type != JSON_OBJECT) {
		errf(err, errlen, "%s: want a JSON object", path);
		goto out;
	}
	for (const struct json *m = d.root->child; m; m = m->next) {
		if (!json_key_is(m, "slow_operations")) {
			errf(err, errlen, "%s: %.*s: unknown section (use slow_operations)", path,
			     (int)(m->key_len < 64 ? m->key_len : 64), m->key);
			goto out;
		}
		if (parse_object(layer, m, SLOWOPS_SRC_FILE, msg, sizeof(msg)) < 0) {
			errf(err, errlen, "%s: slow_operations.%s", path, msg);
			goto out;
		}
	}
	ret = 0;
out:
	json_doc_release(&d);
	buf_release(&text);
	return ret;
}

int slowops_config_from_env(struct slowops_config *layer, slowops_getenv_fn get, char *err, size_t errlen)
{
	for (int i = 0; i < SLOWOPS_BUILTIN; i++) {
		const char *v = get(env_names[i]);
		if (!v || !*v)
			continue;
		if (parse_ms(v, &layer->threshold_ns[i]) < 0)
			return errf(err, errlen, "%s '%.64s': " MS_RULE, env_names[i], v);
		layer->source[i] = SLOWOPS_SRC_ENV;
	}
	return 0;
}

static void put_ms(struct json_w *w, const char *key, uint64_t ns)
{
	jw_kdouble(w, key, (double)ns / NS_PER_MS);
}

/* "custom": the span rules, as they are written in the configuration. */
static void put_rules(struct json_w *w, const struct slowops_config *c)
{
	jw_karr_begin(w, "custom");
	for (size_t i = 0; i < c->n_rules; i++) {
		const struct slowops_rule *r = &c->rules[i];
		jw_obj_begin(w);
		jw_kstr(w, "type", r->type);
		if (r->name_glob)
			jw_kstr(w, "span_name", r->name_glob);
		if (r->attr_key) {
			struct buf kv;
			buf_init(&kv, BUF_NO_LIMIT);
			buf_printf(&kv, "%s=%s", r->attr_key, r->attr_value);
			jw_kstr(w, "attribute", kv.data);
			buf_release(&kv);
		}
		put_ms(w, "threshold_ms", r->threshold_ns);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

void slowops_config_to_json(struct buf *b, const struct slowops_config *c, int with_sources)
{
	struct json_w w;
	jw_init(&w, b);
	jw_obj_begin(&w);
	for (int i = 0; i < SLOWOPS_BUILTIN; i++)
		if (c->source[i] != SLOWOPS_SRC_UNSET)
			put_ms(&w, type_keys[i], c->threshold_ns[i]);
	if (c->rules_source != SLOWOPS_SRC_UNSET)
		put_rules(&w, c);
	if (with_sources) {
		jw_kobj_begin(&w, "sources");
		for (int i = 0; i < SLOWOPS_BUILTIN; i++)
			jw_kstr(&w, type_keys[i], source_names[c->source[i]]);
		jw_kstr(&w, "custom", source_names[c->rules_source]);
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
}

/* ---- types ---------------------------------------------------------------------- */

const char *slowops_type_name(const struct slowops_config *c, int type)
{
	if (type >= 0 && type < SLOWOPS_BUILTIN)
		return type_names[type];
	if (type >= SLOWOPS_BUILTIN && (size_t)(type - SLOWOPS_BUILTIN) < c->n_rules)
		return c->rules[type - SLOWOPS_BUILTIN].type;
	return NULL;
}

uint64_t slowops_threshold_ns(const struct slowops_config *c, int type)
{
	if (type >= 0 && type < SLOWOPS_BUILTIN)
		return c->threshold_ns[type];
	if (type >= SLOWOPS_BUILTIN && (size_t)(type - SLOWOPS_BUILTIN) < c->n_rules)
		return c->rules[type - SLOWOPS_BUILTIN].threshold_ns;
	return 0;
}

/* Index among the distinct custom type names of the first rule named like rule i. */
static size_t custom_slot(const struct slowops_config *c, size_t rule)
{
	size_t slot = 0;
	for (size_t i = 0; i < rule; i++) {
		size_t j;
		for (j = 0; j < i; j++)
			if (!strcmp(c->rules[j].type, c->rules[i].type))
				break;
		if (j < i)
			continue; /* a repeated name: no slot of its own */
		if (!strcmp(c->rules[i].type, c->rules[rule].type))
			return slot;
		slot++;
	}
	return slot;
}

size_t slowops_type_slots(const struct slowops_config *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n_rules; i++)
		if (custom_slot(c, i) == n)
			n++;
	return SLOWOPS_BUILTIN + n;
}

size_t slowops_type_slot(const struct slowops_config *c, int type)
{
	if (type < SLOWOPS_BUILTIN)
		return (size_t)type;
	return SLOWOPS_BUILTIN + custom_slot(c, (size_t)(type - SLOWOPS_BUILTIN));
}

const char *slowops_slot_name(const struct slowops_config *c, size_t slot)
{
	if (slot < SLOWOPS_BUILTIN)
		return type_names[slot];
	for (size_t i = 0; i < c->n_rules; i++)
		if (SLOWOPS_BUILTIN + custom_slot(c, i) == slot)
			return c->rules[i].type;
	return NULL;
}

/* ---- the thresholds in effect --------------------------------------------------- */

static pthread_mutex_t base_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slowops_config base;
static int base_ready;

void slowops_base_set(const struct slowops_config *c)
{
	pthread_mutex_lock(&base_lock);
	if (!base_ready)
		slowops_config_init(&base);
	slowops_config_copy(&base, c);
	base_ready = 1;
	pthread_mutex_unlock(&base_lock);
}

int slowops_effective(struct store *s, struct slowops_config *out, char *err, size_t errlen)
{
	struct arena a;
	struct store_record *docs;
	size_t n;
	char msg[256];
	slowops_config_init(out);
	pthread_mutex_lock(&base_lock);
	if (base_ready)
		slowops_config_copy(out, &base);
	pthread_mutex_unlock(&base_lock);
	arena_init(&a);
	int ret = store_docs(s, SLOWOPS_DOC_KIND, SLOWOPS_DOC_ID, &a, &docs, &n, err, errlen);
	if (ret == 0 && n) {
		struct slowops_config layer;
		slowops_config_init_layer(&layer);
		if (slowops_config_parse_json(&layer, docs[0].json, strlen(docs[0].json), SLOWOPS_SRC_API,
					      msg, sizeof(msg)) < 0)
			log_warn("stored slow-operation thresholds ignored: %s", msg);
		else
			slowops_config_merge(out, &layer);
		slowops_config_release(&layer);
	}
	arena_release(&a);
	return ret;
}

/* ---- classification --------------------------------------------------------------- */

/* The attribute's value as text, in `tmp` for numbers. */
static const char *attr_text(const struct attr *a, char *tmp, size_t len)
{
	switch (a->type) {
	case ATTR_STRING:
	case ATTR_JSON: return a->v.s ? a->v.s : "";
	case ATTR_BOOL: return a->v.i ? "true" : "false";
	case ATTR_INT: snprintf(tmp, len, "%lld", (long long)a->v.i); return tmp;
	default: snprintf(tmp, len, "%.17g", a->v.d); return tmp;
	}
}

static int rule_matches(const struct slowops_rule *r, const struct span *sp)
{
	if (r->name_glob && fnmatch(r->name_glob, sp->name ? sp->name : "", 0) != 0)
		return 0;
	if (r->attr_key) {
		char tmp[64];
		const struct attr *a = attr_find(sp->attrs, sp->n_attrs, r->attr_key);
		if (!a || strcmp(attr_text(a, tmp, sizeof(tmp)), r->attr_value))
			return 0;
	}
	return 1;
}

static int has(const struct span *sp, const char *key)
{
	return attr_find(sp->attrs, sp->n_attrs, key) != NULL;
}

static int is_cache_system(const char *sys)
{
	static const char *const caches[] = {"redis", "memcached", "valkey", "hazelcast", "coherence"};
	for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++)
		if (!strcasecmp(sys, caches[i]))
			return 1;
	return 0;
}

static int name_has(const char *name, const char *const *words)
{
	for (; *words; words++)
		if (strcasestr(name, *words))
			return 1;
	return 0;
}

/* The phase a span's name or attributes give it on their own. */
static uint8_t own_phase(const struct span *sp, int is_db)
{
	static const char *const auth[] = {"auth", "login", "token_verify", NULL};
	static const char *const rate[] = {"rate_limit", "ratelimit", "rate-limit", "throttl", NULL};
	static const char *const plugin[] = {"plugin", "middleware", NULL};
	static const char *const tool[] = {"tool_execution", "execute_tool", "tool_call", NULL};
	static const char *const ser[] = {"serializ", "marshal", "encode", NULL};
	const char *name = sp->name ? sp->name : "";
	const char *op = attr_str(sp->attrs, sp->n_attrs, "gen_ai.operation.name");
	if (is_db)
		return SLOWOPS_PHASE_DB;
	if (op && !strcmp(op, "execute_tool"))
		return SLOWOPS_PHASE_TOOL;
	if ((op && (!strcmp(op, "chat") || !strcmp(op, "text_completion") ||
		    !strcmp(op, "generate_content") || !strcmp(op, "embeddings"))) ||
	    (sp->kind == SPAN_KIND_CLIENT && has(sp, "gen_ai.request.model")))
		return SLOWOPS_PHASE_LLM;
	if (name_has(name, tool))
		return SLOWOPS_PHASE_TOOL;
	if (name_has(name, auth))
		return SLOWOPS_PHASE_AUTH;
	if (name_has(name, rate))
		return SLOWOPS_PHASE_RATE_LIMIT;
	if (name_has(name, plugin) && !span_is_framework_wrapper(sp))
		return SLOWOPS_PHASE_PLUGINS; /* express's "middleware - query" is the app's own code */
	if (name_has(name, ser))
		return SLOWOPS_PHASE_SERIALIZATION;
	return SLOWOPS_PHASE_INHERIT;
}

static int is_wait(const struct span *sp)
{
	static const char *const waits[] = {"pool.acquire", "acquire", "lock", "wait", "queue", NULL};
	return has(sp, "db.client.connection.wait_time_ms") || has(sp, "messaging.kafka.consumer.lag") ||
	       name_has(sp->name ? sp->name : "", waits);
}

/* The peer of a CLIENT call: server.address, else the host of url.full. */
static int peer_known(const struct span *sp, const struct strmap *services)
{
	int64_t v;
	const char *peer = attr_str(sp->attrs, sp->n_attrs, "server.address");
	if (!peer)
		peer = attr_str(sp->attrs, sp->n_attrs, "net.peer.name");
	if (!services)
		return 0;
	if (peer)
		return strmap_get(services, peer, strlen(peer), &v) == 0;
	const char *url = attr_str(sp->attrs, sp->n_attrs, "url.full");
	const char *host = url ? strstr(url, "://") : NULL;
	if (!host)
		return 0;
	host += 3;
	return strmap_get(services, host, strcspn(host, ":/?#"), &v) == 0;
}

/* The type of `sp` (its database system `sys`, or NULL); a remote call
 * adds SLOWOPS_REMOTE, and SLOWOPS_KNOWN_PEER when addressed to a service
 * of the fleet, to *flags. */
static int type_of(const struct slowops_config *c, const struct span *sp, const struct strmap *services,
		   const char *sys, uint8_t *flags)
{
	for (size_t i = 0; i < c->n_rules; i++)
		if (rule_matches(&c->rules[i], sp))
			return SLOWOPS_BUILTIN + (int)i;
	if (sys)
		return is_cache_system(sys) ? SLOWOPS_CACHE : SLOWOPS_DATABASE;
	int http = has(sp, "http.request.method") || has(sp, "http.method") || has(sp, "rpc.system");
	if (sp->kind == SPAN_KIND_CLIENT && !has(sp, "messaging.system") &&
	    (http || has(sp, "server.address") || has(sp, "url.full") || has(sp, "gen_ai.system") ||
	     has(sp, "gen_ai.provider.name"))) {
		*flags |= SLOWOPS_REMOTE;
		if (span_request_status(sp) == REQUEST_TIMEOUT)
			*flags |= SLOWOPS_GAVE_UP;
		if (peer_known(sp, services))
			*flags |= SLOWOPS_KNOWN_PEER;
		return SLOWOPS_EXTERNAL; /* until slowops_resolve() finds who answered */
	}
	if (sp->kind == SPAN_KIND_SERVER && (http || has(sp, "http.route")))
		return SLOWOPS_HTTP;
	return SLOWOPS_NONE;
}

static const char *db_system(const struct span *sp)
{
	const char *sys = attr_str(sp->attrs, sp->n_attrs, "db.system.name");
	return sys ? sys : attr_str(sp->attrs, sp->n_attrs, "db.system");
}

void slowops_classify(const struct slowops_config *c, const struct span *sp, const struct strmap *services,
		      struct slowops_class *out)
{
	const char *sys = db_system(sp);
	out->flags = is_wait(sp) ? SLOWOPS_WAIT : 0;
	out->phase = own_phase(sp, sys != NULL);
	out->type = (int16_t)type_of(c, sp, services, sys, &out->flags);
}

int slowops_span_type(const struct slowops_config *c, const struct span *sp, const struct strmap *services)
{
	uint8_t flags = 0;
	int type = type_of(c, sp, services, db_system(sp), &flags);
	return type == SLOWOPS_EXTERNAL && (flags & SLOWOPS_KNOWN_PEER) ? SLOWOPS_HTTP : type;
}

/* A callee's answer may end a little after its caller's span: the two come
 * from different clocks, and the JS SDK starts spans on whole milliseconds. */
#define ANSWER_SLACK_NS 2000000ull

void slowops_resolve(const struct spantree *t, struct slowops_class *cls)
{
	for (size_t i = 0; i < t->n; i++) {
		if (!(cls[i].flags & SLOWOPS_REMOTE) || cls[i].type != SLOWOPS_EXTERNAL)
			continue;
		const struct span *call = &t->spans[i];
		int answered = 0, late = 0;
		for (size_t k = t->kid_off[i]; k < t->kid_off[i + 1]; k++) {
			const struct span *kid = &t->spans[t->kids[k]];
			if (kid->kind != SPAN_KIND_SERVER && kid->kind != SPAN_KIND_CONSUMER)
				continue;
			answered = 1;
			late |= kid->end_ns > call->end_ns + ANSWER_SLACK_NS;
		}
		if (answered || (cls[i].flags & SLOWOPS_KNOWN_PEER))
			cls[i].type = SLOWOPS_HTTP;
		/* No answer in the trace (a callee not traced), or the caller gave up
		 * before it came (timed out, aborted): the wait is outside. */
		int gave_up = late || (cls[i].flags & SLOWOPS_GAVE_UP);
		if ((!answered || gave_up) && cls[i].phase == SLOWOPS_PHASE_INHERIT)
			cls[i].phase = SLOWOPS_PHASE_EXTERNAL;
	}
}

/* ---- phases ------------------------------------------------------------------ */

static const char *const phase_names[SLOWOPS_PHASES] = {
	"auth", "rate_limit", "plugins", "tool_execution", "db", "llm", "serialization", "external", "other",
};

const char *slowops_phase_name(int phase)
{
	return phase >= 0 && phase < SLOWOPS_PHASES ? phase_names[phase] : NULL;
}

void slowops_effective_phases(const struct spantree *t, const struct slowops_class *cls, uint8_t *out)
{
	size_t *queue = xmalloc((t->n ? t->n : 1) * sizeof(*queue));
	size_t head = 0, tail = 0;
	for (size_t r = 0; r < t->n_roots; r++)
		queue[tail++] = t->roots[r];
	while (head < tail) { /* parents before their children */
		size_t i = queue[head++];
		if (cls[i].phase != SLOWOPS_PHASE_INHERIT)
			out[i] = cls[i].phase;
		else if (t->parent[i] == SPANTREE_NONE)
			out[i] = SLOWOPS_PHASE_OTHER;
		else
			out[i] = out[t->parent[i]];
		for (size_t k = t->kid_off[i]; k < t->kid_off[i + 1]; k++)
			queue[tail++] = t->kids[k];
	}
	free(queue);
}

void slowops_phases(const struct spantree *t, const struct slowops_class *cls,
		    uint64_t out_ns[SLOWOPS_PHASES])
{
	struct critpath_step *steps;
	size_t n;
	uint8_t *eff = xmalloc(t->n ? t->n : 1);
	memset(out_ns, 0, SLOWOPS_PHASES * sizeof(*out_ns));
	slowops_effective_phases(t, cls, eff);
	critpath_compute(t, &steps, &n);
	for (size_t i = 0; i < n; i++)
		out_ns[eff[steps[i].span]] += steps[i].contribution_ns;
	free(steps);
	free(eff);
}

/* ---- statistics --------------------------------------------------------------- */

void slowops_stats_init(struct slowops_stats *st, const struct slowops_config *c)
{
	st->n = slowops_type_slots(c);
	st->t = xcalloc(st->n, sizeof(*st->t));
}

void slowops_stats_release(struct slowops_stats *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->t[i].dur_ns);
	free(st->t);
	st->t = NULL;
	st->n = 0;
}

void slowops_stats_add(struct slowops_stats *st, const struct slowops_config *c, int type, uint64_t dur_ns)
{
	if (type == SLOWOPS_NONE)
		return;
	struct slowops_type_stats *t = &st->t[slowops_type_slot(c, type)];
	t->dur_ns = xgrow(t->dur_ns, &t->cap, t->n + 1, sizeof(*t->dur_ns));
	t->dur_ns[t->n++] = dur_ns;
	t->sum_ns += dur_ns;
	if (dur_ns >= slowops_threshold_ns(c, type))
		t->slow++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void slowops_stats_finish(struct slowops_stats *st)
{
	for (size_t i = 0; i < st->n; i++) {
		struct slowops_type_stats *t = &st->t[i];
		if (!t->n)
			continue;
		qsort(t->dur_ns, t->n, sizeof(*t->dur_ns), cmp_u64);
		size_t rank = (size_t)ceil(0.95 * (double)t->n);
		t->p95_ns = t->dur_ns[(rank ? rank : 1) - 1];
	}
}

/* ---- spikes ------------------------------------------------------------------- */

void slowops_spike_rule_init(struct slowops_spike_rule *r)
{
	r->window_ns = 5 * NS_PER_MIN;
	r->baseline_windows = 12;
	r->factor = 3.0;
	r->min_count = 5;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* `slow` of `total` is a spike against a baseline share ("at least":
 * exactly `factor` times counts, whatever the rounding of the shares). */
static int window_spikes(const struct slowops_spike_rule *r, uint64_t slow, uint64_t total, double base_share)
{
	return slow >= r->min_count && (double)slow * (1 + 1e-9) >= r->factor * base_share * (double)total;
}

int slowops_spike_eval(const struct slowops_spike_rule *r, const uint64_t *slow, const uint64_t *total,
		       struct slowops_spike_stat *st)
{
	size_t n = r->baseline_windows, k = 0;
	double *shares = xmalloc((n ? n : 1) * sizeof(*shares));
	for (size_t i = 0; i < n; i++)
		if (total[i])
			shares[k++] = (double)slow[i] / (double)total[i];
	qsort(shares, k, sizeof(*shares), cmp_double);
	st->baseline_share = !k ? 0 : k % 2 ? shares[k / 2] : (shares[k / 2 - 1] + shares[k / 2]) / 2.0;
	free(shares);
	st->slow = slow[n];
	st->total = total[n];
	st->share = st->total ? (double)st->slow / (double)st->total : 0;
	st->expected = st->baseline_share * (double)st->total;
	return window_spikes(r, st->slow, st->total, st->baseline_share);
}

int slowops_spike_rearmed(const struct slowops_spike_rule *r, const uint64_t *slow, const uint64_t *total,
			  const struct slowops_spike_stat *st, size_t since)
{
	for (size_t i = since; i < r->baseline_windows; i++)
		if (!window_spikes(r, slow[i], total[i], st->baseline_share))
			return 1;
	return 0;
}

struct scope_counts {
	const char *id; /* "*" or a service */
	uint64_t *slow, *total;
};

/* The windows of one check and the counts of every scope in them. */
struct spike_windows {
	const struct slowops_spike_rule *r;
	uint64_t from_ns, now_ns;
	size_t n; /* windows: baseline_windows + 1 */
	struct arena a;
	struct strmap index; /* service -> scope */
	struct scope_counts *scopes;
	size_t n_scopes, cap;
};

static void spike_windows_init(struct spike_windows *sw, const struct slowops_spike_rule *r, uint64_t now_ns)
{
	memset(sw, 0, sizeof(*sw));
	sw->r = r;
	sw->n = r->baseline_windows + 1;
	sw->now_ns = now_ns;
	sw->from_ns = now_ns - r->window_ns * sw->n;
	arena_init(&sw->a);
	strmap_init(&sw->index);
}

static void spike_windows_release(struct spike_windows *sw)
{
	free(sw->scopes);
	strmap_release(&sw->index);
	arena_release(&sw->a);
}

static size_t scope_of(struct spike_windows *sw, const char *id)
{
	int64_t k;
	if (strmap_get(&sw->index, id, strlen(id), &k) == 0)
		return (size_t)k;
	sw->scopes = xgrow(sw->scopes, &sw->cap, sw->n_scopes + 1, sizeof(*sw->scopes));
	sw->scopes[sw->n_scopes] = (struct scope_counts){
		.id = arena_strdup(&sw->a, id),
		.slow = arena_zalloc(&sw->a, sw->n * sizeof(uint64_t)),
		.total = arena_zalloc(&sw->a, sw->n * sizeof(uint64_t)),
	};
	strmap_put(&sw->index, id, strlen(id), (int64_t)sw->n_scopes);
	return sw->n_scopes++;
}

/* Add n requests starting at t_ns.  A request counts in the window of its
 * minute, as the rollups that give the totals do, so the shares of a
 * window are of one set of requests. */
static void spike_count(struct spike_windows *sw, const char *service, uint64_t t_ns, int slow, uint64_t n)
{
	uint64_t minute = t_ns - t_ns % NS_PER_MIN;
	if (minute < sw->from_ns || minute >= sw->now_ns)
		return;
	size_t win = (size_t)((minute - sw->from_ns) / sw->r->window_ns);
	size_t ids[2] = {scope_of(sw, "*"), scope_of(sw, service ? service : "unknown")};
	for (int i = 0; i < 2; i++)
		(slow ? sw->scopes[ids[i]].slow : sw->scopes[ids[i]].total)[win] += n;
}

static int count_slow(struct store *s, const struct slowops_config *c, struct spike_windows *sw, char *err,
		      size_t errlen)
{
	struct store_query q;
	struct request_row *rows;
	size_t n;
	store_query_init(&q);
	q.from_ns = sw->from_ns;
	q.to_ns = sw->now_ns;
	q.min_duration_ns = c->threshold_ns[SLOWOPS_HTTP];
	q.order = STORE_NEWEST;
	q.limit = SPIKE_MAX_ROWS;
	if (store_search(s, &q, &sw->a, &rows, &n, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		spike_count(sw, rows[i].service, rows[i].start_ns, 1, 1);
	return 0;
}

static int count_all(struct store *s, struct spike_windows *sw, char *err, size_t errlen)
{
	struct store_query q;
	struct rollup_row *rows;
	size_t n;
	store_query_init(&q);
	q.from_ns = sw->from_ns;
	q.to_ns = sw->now_ns;
	if (store_rollups(s, &q, 60, &sw->a, &rows, &n, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		spike_count(sw, rows[i].service, rows[i].t_ns, 0, rows[i].count);
	store_rollups_release(rows, n);
	return 0;
}

static void put_alert(struct buf *j, const struct slowops_config *c, const struct spike_windows *sw,
		      const struct scope_counts *sc, const struct slowops_spike_stat *st)
{
	const struct slowops_spike_rule *r = sw->r;
	struct json_w w;
	jw_init(&w, j);
	jw_obj_begin(&w);
	jw_kstr(&w, "scope", sc->id);
	jw_kstr(&w, "service", strcmp(sc->id, "*") ? sc->id : NULL);
	jw_kuint(&w, "window_start_ms", (sw->now_ns - r->window_ns) / NS_PER_MS);
	jw_kuint(&w, "window_end_ms", sw->now_ns / NS_PER_MS);
	jw_kuint(&w, "window_s", r->window_ns / NS_PER_S);
	jw_kuint(&w, "count", st->slow);
	jw_kuint(&w, "total", st->total);
	jw_kdouble(&w, "share", st->share);
	jw_kdouble(&w, "baseline_share", st->baseline_share);
	jw_kdouble(&w, "baseline", st->expected);
	jw_kdouble(&w, "ratio", st->expected > 0 ? (double)st->slow / st->expected : NAN);
	jw_kdouble(&w, "factor", r->factor);
	jw_kuint(&w, "min_count", r->min_count);
	put_ms(&w, "threshold_ms", c->threshold_ns[SLOWOPS_HTTP]);
	jw_obj_end(&w);
}

/* Whether the scope's last alert, if in the windows read, is rearmed. */
static int alert_due(struct store *s, const struct spike_windows *sw, const struct scope_counts *sc,
		     const struct slowops_spike_stat *st, char *err, size_t errlen)
{
	struct arena a;
	struct store_record *last;
	size_t n;
	int due;
	arena_init(&a);
	if (store_events(s, SLOWOPS_EVENT_KIND, sc->id, sw->from_ns, 0, 1, &a, &last, &n, err, errlen) < 0) {
		due = -1;
	} else if (!n) {
		due = 1;
	} else {
		uint64_t w = sw->r->window_ns, after = last->time_ns - sw->from_ns;
		due = slowops_spike_rearmed(sw->r, sc->slow, sc->total, st, (size_t)((after + w - 1) / w));
	}
	arena_release(&a);
	return due;
}

static int alert_one(struct store *s, const struct slowops_config *c, const struct spike_windows *sw,
		     const struct scope_counts *sc, unsigned *added, char *err, size_t errlen)
{
	struct slowops_spike_stat st;
	int due;
	if (!slowops_spike_eval(sw->r, sc->slow, sc->total, &st))
		return 0;
	if ((due = alert_due(s, sw, sc, &st, err, errlen)) <= 0)
		return due;
	struct buf j;
	buf_init(&j, BUF_NO_LIMIT);
	put_alert(&j, c, sw, sc, &st);
	struct store_record rec = {
		.kind = SLOWOPS_EVENT_KIND, .id = sc->id, .time_ns = sw->now_ns, .json = j.data};
	int ret = store_add_event(s, &rec, err, errlen);
	if (ret == 0 && added)
		(*added)++;
	if (ret == 0)
		log_info("slow request spike (%s): %llu of %llu requests slow in the last %llu s (%.1f%%) "
			 "against "
			 "a usual %.1f%%",
			 sc->id, (unsigned long long)st.slow, (unsigned long long)st.total,
			 (unsigned long long)(sw->r->window_ns / NS_PER_S), 100 * st.share,
			 100 * st.baseline_share);
	buf_release(&j);
	return ret;
}

static pthread_mutex_t spike_lock = PTHREAD_MUTEX_INITIALIZER;

int slowops_spike_check(struct store *s, const struct slowops_config *c, const struct slowops_spike_rule *r,
			uint64_t now_ns, unsigned *added, char *err, size_t errlen)
{
	struct spike_windows sw;
	int ret = -1;
	if (added)
		*added = 0;
	if (!r->window_ns || now_ns <= r->window_ns * (r->baseline_windows + 1))
		return 0;
	spike_windows_init(&sw, r, now_ns);
	pthread_mutex_lock(&spike_lock);
	scope_of(&sw, "*");
	if (count_all(s, &sw, err, errlen) < 0 || count_slow(s, c, &sw, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < sw.n_scopes; i++)
		if (alert_one(s, c, &sw, &sw.scopes[i], added, err, errlen) < 0)
			goto out;
	ret = 0;
out:
	pthread_mutex_unlock(&spike_lock);
	spike_windows_release(&sw);
	return ret;
}

/* ---- the background check ------------------------------------------------------ */

static struct ticker watch = TICKER_INIT;
static struct store *watch_store;

static void spike_tick(void *arg)
{
	struct slowops_spike_rule rule;
	struct slowops_config c;
	char err[256];
	(void)arg;
	if (!store_lease_begin(watch_store))
		return; /* another instance on the same store runs it */
	slowops_spike_rule_init(&rule);
	if (slowops_effective(watch_store, &c, err, sizeof(err)) < 0 ||
	    slowops_spike_check(watch_store, &c, &rule, clock_now_ns(), NULL, err, sizeof(err)) < 0)
		log_warn("slow request spike check: %s", err);
	slowops_config_release(&c);
	store_lease_end(watch_store);
}

int slowops_watch_start(struct store *s, unsigned interval_s, char *err, size_t errlen)
{
	watch_store = s;
	return ticker_start_job(&watch, "slow_spikes", interval_s ? interval_s : 60, spike_tick, NULL, err,
				errlen);
}

void slowops_watch_stop(void)
{
	ticker_stop(&watch);
}
