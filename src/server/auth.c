/*
 * auth.c - API keys (hashed with libsodium's BLAKE2b), the live-key cache
 * and the dashboard sessions (see auth.h).
 */
#include "server/auth.h"
#include "core/json_write.h"

#include <ctype.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/hex.h"
#include "core/json_doc.h"
#include "core/log.h"

#define HASH_LEN   32
#define SECRET_LEN 32
#define CACHE_NS   1000000000ull
#define TOKEN_PFX  "hpk_"
#define KEYS_MAX   1024

static const char *const role_names[] = {"none", "ingest", "viewer", "admin"};

enum auth_role auth_role_parse(const char *s)
{
	for (int r = AUTH_INGEST; s && r <= AUTH_ADMIN; r++)
		if (!strcmp(s, role_names[r]))
			return (enum auth_role)r;
	return AUTH_NONE;
}

const char *auth_role_name(enum auth_role r)
{
	return r >= AUTH_NONE && r <= AUTH_ADMIN ? role_names[r] : "none";
}

int auth_role_allows(enum auth_role have, enum auth_role need)
{
	if (need == AUTH_NONE || have == AUTH_ADMIN)
		return 1;
	return have == need;
}

int auth_str_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return 0;
	return sodium_memcmp(a, b, la) == 0;
}

/* hex(BLAKE2b-256(token)) */
static void token_hash(const char *token, char out[2 * HASH_LEN + 1])
{
	uint8_t h[HASH_LEN];
	crypto_generichash(h, sizeof(h), (const unsigned char *)token, strlen(token), NULL, 0);
	hex_encode(out, h, sizeof(h));
	out[2 * HASH_LEN] = 0;
}

static int name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (!n || n > AUTH_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("-_.@", name[i]))
			return 0;
	return 1;
}

static int put_key(struct store *st, const char *id, const char *name, const char *role, const char *hash,
		   uint64_t created_ns, uint64_t revoked_ns, char *err, size_t errlen)
{
	struct buf b;
	buf_init(&b, 4096);
	struct json_w w;
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "name", name);
	jw_kstr(&w, "role", role);
	jw_kstr(&w, "hash", hash);
	jw_kuint(&w, "created_ns", created_ns);
	jw_kuint(&w, "revoked_ns", revoked_ns);
	jw_obj_end(&w);
	buf_putc(&b, 0);
	struct store_record rec = {
		.kind = AUTH_KEY_KIND, .id = id, .time_ns = clock_now_ns(), .json = b.data};
	int rc = store_put_doc(st, &rec, err, errlen);
	buf_release(&b);
	return rc;
}

int auth_key_create(struct store *st, const char *name, const char *role, char token[AUTH_TOKEN_MAX],
		    char id[AUTH_ID_LEN + 1], char *err, size_t errlen)
{
	uint8_t idb[AUTH_ID_LEN / 2], secret[SECRET_LEN];
	char secret_hex[2 * SECRET_LEN + 1], hash[2 * HASH_LEN + 1];
	if (sodium_init() < 0) {
		errf(err, errlen, "libsodium could not start");
		return ERR_INTERNAL;
	}
	if (!name_ok(name)) {
		errf(err, errlen, "a key name is 1 to %d letters, digits, '-', '_', '.' or '@'",
		     AUTH_NAME_MAX);
		return ERR_INVALID;
	}
	if (auth_role_parse(role) == AUTH_NONE) {
		errf(err, errlen, "unknown role '%s': use ingest, viewer or admin", role ? role : "");
		return ERR_INVALID;
	}
	randombytes_buf(idb, sizeof(idb));
	randombytes_buf(secret, sizeof(secret));
	hex_encode(id, idb, sizeof(idb));
	id[AUTH_ID_LEN] = 0;
	hex_encode(secret_hex, secret, sizeof(secret));
	secret_hex[2 * SECRET_LEN] = 0;
	snprintf(token, AUTH_TOKEN_MAX, TOKEN_PFX "%s_%s", id, secret_hex);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(secret_hex, sizeof(secret_hex));
	token_hash(token, hash);
	return put_key(st, id, name, role, hash, clock_now_ns(), 0, err, errlen) < 0 ? ERR_INTERNAL : 0;
}

/* One stored key, parsed; the strings point into d. */
struct key_doc {
	const char *id, *name, *role, *hash;
	uint64_t created_ns, revoked_ns;
};

static int parse_key(const struct store_record *r, struct json_doc *d, struct key_doc *k)
{
	char err[128];
	memset(k, 0, sizeof(*k));
	if (json_doc_parse(d, r->json, strlen(r->json), 0, err, sizeof(err)) < 0 || !d->root)
		return -1;
	k->id = r->id;
	k->name = json_str(json_get(d->root, "name"));
	k->role = json_str(json_get(d->root, "role"));
	k->hash = json_str(json_get(d->root, "hash"));
	json_uint64(json_get(d->root, "created_ns"), &k->created_ns);
	json_uint64(json_get(d->root, "revoked_ns"), &k->revoked_ns);
	return k->name && k->role && k->hash ? 0 : -1;
}

int auth_keys_list(struct store *st, struct arena *a, struct auth_key **keys, size_t *n, char *err,
		   size_t errlen)
{
	struct store_record *rows;
	size_t nr;
	*keys = NULL;
	*n = 0;
	if (store_docs(st, AUTH_KEY_KIND, NULL, a, &rows, &nr, err, errlen) < 0)
		return ERR_INTERNAL;
	*keys = arena_zalloc(a, (nr ? nr : 1) * sizeof(**keys));
	for (size_t i = 0; i < nr; i++) {
		struct json_doc d;
		struct key_doc k;
		if (parse_key(&rows[i], &d, &k) == 0) {
			struct auth_key *o = &(*keys)[(*n)++];
			o->id = arena_strdup(a, k.id);
			o->name = arena_strdup(a, k.name);
			o->role = arena_strdup(a, k.role);
			o->created_ns = k.created_ns;
			o->revoked_ns = k.revoked_ns;
		}
		json_doc_release(&d);
	}
	return 0;
}

/*
 * Delete stored sessions: those of key `key_id`, or with key_id NULL those
 * expired by `now` (and the tombstones that signed-out sessions were once
 * replaced by); at most `max` (up to STORE_DELETE_MAX) in one store write.
 * How many were deleted, or an error class.
 */
static long sessions_delete(struct store *st, const char *key_id, uint64_t now, unsigned max, char *err,
			    size_t errlen)
{
	struct arena a;
	struct store_record *rows;
	size_t nr, n = 0;
	arena_init(&a);
	if (max > STORE_DELETE_MAX)
		max = STORE_DELETE_MAX;
	if (store_docs(st, AUTH_SESSION_KIND, NULL, &a, &rows, &nr, err, errlen) < 0) {
		arena_release(&a);
		return ERR_INTERNAL;
	}
	const char **ids = arena_alloc(&a, (max ? max : 1) * sizeof(*ids));
	for (size_t i = 0; i < nr && n < max; i++) {
		struct json_doc d;
		char perr[128];
		uint64_t expires = 0;
		int drop = 1; /* what cannot be read is no session */
		if (json_doc_parse(&d, rows[i].json, strlen(rows[i].json), 0, perr, sizeof(perr)) == 0 &&
		    d.root) {
			const char *k = json_str(json_get(d.root, "key_id"));
			json_uint64(json_get(d.root, "expires_ns"), &expires);
			drop = key_id ? k && !strcmp(k, key_id) : expires <= now;
		}
		json_doc_release(&d);
		if (drop)
			ids[n++] = rows[i].id;
	}
	int rc = store_delete_docs(st, AUTH_SESSION_KIND, ids, n, err, errlen);
	arena_release(&a);
	return rc < 0 ? rc : (long)n;
}

long auth_sessions_purge(struct store *st, unsigned max, char *err, size_t errlen)
{
	return sessions_delete(st, NULL, clock_now_ns(), max, err, errlen);
}

/* Every stored session of a revoked key, deleted. */
static int sessions_of_key_delete(struct store *st, const char *key_id, char *err, size_t errlen)
{
	long n;
	while ((n = sessions_delete(st, key_id, 0, STORE_DELETE_MAX, err, errlen)) == STORE_DELETE_MAX)
		;
	return n < 0 ? (int)n : 0;
}

int auth_key_revoke(struct store *st, const char *id_or_name, char *err, size_t errlen)
{
	struct arena a;
	struct store_record *rows;
	size_t nr, done = 0;
	int rc = 0;
	arena_init(&a);
	if (store_docs(st, AUTH_KEY_KIND, NULL, &a, &rows, &nr, err, errlen) < 0) {
		arena_release(&a);
		return ERR_INTERNAL;
	}
	for (size_t i = 0; i < nr && rc == 0; i++) {
		struct json_doc d;
		struct key_doc k;
		if (parse_key(&rows[i], &d, &k) == 0 && !k.revoked_ns &&
		    (!strcmp(k.id, id_or_name) || !strcmp(k.name, id_or_name))) {
			rc = put_key(st, k.id, k.name, k.role, k.hash, k.created_ns, clock_now_ns(), err,
				     errlen);
			if (rc == 0)
				rc = sessions_of_key_delete(st, k.id, err, errlen);
			done++;
		}
		json_doc_release(&d);
	}
	arena_release(&a);
	if (rc < 0)
		return ERR_INTERNAL;
	if (!done) {
		errf(err, errlen, "no live key with id or name '%s'", id_or_name);
		return ERR_NOT_FOUND;
	}
	return 0;
}

struct live_key {
	char id[AUTH_ID_LEN + 1], name[AUTH_NAME_MAX + 1], hash[2 * HASH_LEN + 1];
	enum auth_role role;
};

struct session {
	char sid[65], csrf[65];
	struct auth_principal who;
	uint64_t expires_ns;
};

struct auth {
	struct store *store;
	pthread_mutex_t mu;
	struct live_key *keys;
	size_t n_keys;
	uint64_t loaded_ns; /* 0: reload at the next check */
	int loaded_once;    /* never read: not even "no keys" is known */
	struct session sessions[AUTH_SESSIONS_MAX];
};

struct auth *auth_new(struct store *st)
{
	if (sodium_init() < 0)
		return NULL;
	struct auth *au = xcalloc(1, sizeof(*au));
	au->store = st;
	pthread_mutex_init(&au->mu, NULL);
	return au;
}

void auth_free(struct auth *au)
{
	if (!au)
		return;
	sodium_memzero(au->sessions, sizeof(au->sessions));
	free(au->keys);
	pthread_mutex_destroy(&au->mu);
	free(au);
}

void auth_changed(struct auth *au)
{
	pthread_mutex_lock(&au->mu);
	au->loaded_ns = 0;
	pthread_mutex_unlock(&au->mu);
}

/* Reload the live keys if the cache is older than CACHE_NS; mu held.  A
 * failed read keeps the old cache. */
static void reload_locked(struct auth *au)
{
	uint64_t now = clock_now_ns();
	if (au->loaded_ns && now - au->loaded_ns < CACHE_NS)
		return;
	struct arena a;
	struct store_record *rows;
	size_t nr;
	char err[256];
	arena_init(&a);
	if (store_docs(au->store, AUTH_KEY_KIND, NULL, &a, &rows, &nr, err, sizeof(err)) < 0) {
		log_warn("auth: cannot read the keys (the last ones read stay in force): %s", err);
		arena_release(&a);
		return;
	}
	struct live_key *keys = xcalloc(nr ? nr : 1, sizeof(*keys));
	size_t n = 0;
	for (size_t i = 0; i < nr && n < KEYS_MAX; i++) {
		struct json_doc d;
		struct key_doc k;
		if (parse_key(&rows[i], &d, &k) == 0 && !k.revoked_ns &&
		    auth_role_parse(k.role) != AUTH_NONE) {
			snprintf(keys[n].id, sizeof(keys[n].id), "%s", k.id);
			snprintf(keys[n].name, sizeof(keys[n].name), "%s", k.name);
			snprintf(keys[n].hash, sizeof(keys[n].hash), "%s", k.hash);
			keys[n++].role = auth_role_parse(k.role);
		}
		json_doc_release(&d);
	}
	arena_release(&a);
	free(au->keys);
	au->keys = keys;
	au->n_keys = n;
	au->loaded_ns = now;
	au->loaded_once = 1;
}

size_t auth_live_keys(struct auth *au)
{
	pthread_mutex_lock(&au->mu);
	reload_locked(au);
	/* keys never read: closed (as if some existed, none known), not open */
	size_t n = au->loaded_once ? au->n_keys : 1;
	pthread_mutex_unlock(&au->mu);
	return n;
}

int auth_loaded(struct auth *au)
{
	pthread_mutex_lock(&au->mu);
	reload_locked(au);
	int ok = au->loaded_once;
	pthread_mutex_unlock(&au->mu);
	return ok;
}

static const struct live_key *find_key_locked(struct auth *au, const char *id)
{
	for (size_t i = 0; i < au->n_keys; i++)
		if (!strcmp(au->keys[i].id, id))
			return &au->keys[i];
	return NULL;
}

int auth_token_check(struct auth *au, const char *token, struct auth_principal *out)
{
	char id[AUTH_ID_LEN + 1], hash[2 * HASH_LEN + 1];
	size_t pl = strlen(TOKEN_PFX);
	if (strlen(token) >= AUTH_TOKEN_MAX || strncmp(token, TOKEN_PFX, pl) ||
	    strlen(token) < pl + AUTH_ID_LEN + 1 || token[pl + AUTH_ID_LEN] != '_')
		return -1;
	memcpy(id, token + pl, AUTH_ID_LEN);
	id[AUTH_ID_LEN] = 0;
	token_hash(token, hash);
	int rc = -1;
	pthread_mutex_lock(&au->mu);
	reload_locked(au);
	const struct live_key *k = find_key_locked(au, id);
	if (k && auth_str_equal(k->hash, hash)) {
		snprintf(out->name, sizeof(out->name), "%s", k->name);
		snprintf(out->key_id, sizeof(out->key_id), "%s", k->id);
		out->role = k->role;
		rc = 0;
	}
	pthread_mutex_unlock(&au->mu);
	return rc;
}

static void random_hex(char out[65])
{
	uint8_t r[32];
	randombytes_buf(r, sizeof(r));
	hex_encode(out, r, sizeof(r));
	out[64] = 0;
}

/* A free or expired slot, else the one expiring first; mu held. */
static struct session *slot_locked(struct auth *au, uint64_t now)
{
	size_t slot = 0;
	for (size_t i = 0; i < AUTH_SESSIONS_MAX; i++) {
		if (au->sessions[i].expires_ns <= now)
			return &au->sessions[i];
		if (au->sessions[i].expires_ns < au->sessions[slot].expires_ns)
			slot = i;
	}
	return &au->sessions[slot];
}

/*
 * Sessions are kept in the store too, so that a restart signs no one out:
 * a document of kind AUTH_SESSION_KIND whose id is the hash of the session
 * id (the id itself, the cookie's value, is never written), holding who,
 * the CSRF token and the expiry.  An ended session's document is deleted
 * at once (signed out, its key revoked), an expired one by
 * auth_sessions_purge().  A store that cannot write (read-only) leaves the
 * session in memory only, said in the log.
 */
static void session_put(struct auth *au, const char *sid, const struct session *s)
{
	char id[2 * HASH_LEN + 1], err[256];
	struct buf b;
	buf_init(&b, 4096);
	struct json_w w;
	jw_init(&w, &b);
	jw_obj_begin(&w);
	jw_kstr(&w, "key_id", s->who.key_id);
	jw_kstr(&w, "name", s->who.name);
	jw_kstr(&w, "role", auth_role_name(s->who.role));
	jw_kstr(&w, "csrf", s->csrf);
	jw_kuint(&w, "expires_ns", s->expires_ns);
	jw_obj_end(&w);
	buf_putc(&b, 0);
	token_hash(sid, id);
	struct store_record rec = {
		.kind = AUTH_SESSION_KIND, .id = id, .time_ns = clock_now_ns(), .json = b.data};
	if (store_put_doc(au->store, &rec, err, sizeof(err)) < 0)
		log_warn("auth: a session is kept in memory only (a restart ends it): %s", err);
	buf_release(&b);
}

/* The stored document of a signed-out session, deleted. */
static void session_drop(struct auth *au, const char *sid)
{
	char id[2 * HASH_LEN + 1], err[256];
	const char *ids[1] = {id};
	token_hash(sid, id);
	if (store_delete_docs(au->store, AUTH_SESSION_KIND, ids, 1, err, sizeof(err)) < 0)
		log_warn("auth: a signed-out session's document stays until it expires: %s", err);
}

/* The stored session of `sid` into *out: 0, or -1 when none is stored,
 * it ended or it expired. */
static int session_load(struct auth *au, const char *sid, struct session *out)
{
	char id[2 * HASH_LEN + 1], err[256];
	struct arena a;
	struct store_record *rows;
	size_t n = 0;
	int rc = -1;
	token_hash(sid, id);
	arena_init(&a);
	if (store_docs(au->store, AUTH_SESSION_KIND, id, &a, &rows, &n, err, sizeof(err)) < 0 || n != 1)
		goto out;
	struct json_doc d;
	if (json_doc_parse(&d, rows[0].json, strlen(rows[0].json), 0, err, sizeof(err)) == 0 && d.root) {
		const char *key_id = json_str(json_get(d.root, "key_id"));
		const char *name = json_str(json_get(d.root, "name"));
		const char *csrf = json_str(json_get(d.root, "csrf"));
		enum auth_role role = auth_role_parse(json_str(json_get(d.root, "role")));
		uint64_t expires = 0;
		json_uint64(json_get(d.root, "expires_ns"), &expires);
		if (key_id && name && csrf && strlen(csrf) == 64 && role != AUTH_NONE &&
		    expires > clock_now_ns()) {
			memset(out, 0, sizeof(*out));
			snprintf(out->sid, sizeof(out->sid), "%s", sid);
			snprintf(out->csrf, sizeof(out->csrf), "%s", csrf);
			snprintf(out->who.key_id, sizeof(out->who.key_id), "%s", key_id);
			snprintf(out->who.name, sizeof(out->who.name), "%s", name);
			out->who.role = role;
			out->expires_ns = expires;
			rc = 0;
		}
	}
	json_doc_release(&d);
out:
	arena_release(&a);
	return rc;
}

void auth_session_new(struct auth *au, const struct auth_principal *p, char sid[65], char csrf[65])
{
	random_hex(sid);
	random_hex(csrf);
	uint64_t now = clock_now_ns();
	struct session copy;
	pthread_mutex_lock(&au->mu);
	struct session *s = slot_locked(au, now);
	memcpy(s->sid, sid, 65);
	memcpy(s->csrf, csrf, 65);
	s->who = *p;
	s->expires_ns = now + (uint64_t)AUTH_SESSION_TTL * 1000000000ull;
	copy = *s;
	pthread_mutex_unlock(&au->mu);
	session_put(au, sid, &copy);
	sodium_memzero(&copy, sizeof(copy));
}

static struct session *session_find_locked(struct auth *au, const char *sid)
{
	uint64_t now = clock_now_ns();
	if (strlen(sid) != 64)
		return NULL;
	for (size_t i = 0; i < AUTH_SESSIONS_MAX; i++)
		if (au->sessions[i].expires_ns > now && auth_str_equal(au->sessions[i].sid, sid))
			return &au->sessions[i];
	return NULL;
}

/* The session of `sid` in memory, else from the store (a session begun
 * before a restart) into a slot; mu held, released around the read. */
static struct session *session_get_locked(struct auth *au, const char *sid)
{
	struct session *s = session_find_locked(au, sid), loaded;
	if (s || strlen(sid) != 64)
		return s;
	pthread_mutex_unlock(&au->mu);
	int rc = session_load(au, sid, &loaded);
	pthread_mutex_lock(&au->mu);
	if (rc < 0)
		return NULL;
	if (!(s = session_find_locked(au, sid))) { /* no other thread loaded it meanwhile */
		s = slot_locked(au, clock_now_ns());
		*s = loaded;
	}
	sodium_memzero(&loaded, sizeof(loaded));
	return s;
}

int auth_session_find(struct auth *au, const char *sid, struct auth_principal *out, char csrf[65])
{
	int rc = -1;
	pthread_mutex_lock(&au->mu);
	reload_locked(au);
	struct session *s = session_get_locked(au, sid);
	if (s && !s->who.key_id[0]) {
		rc = 0; /* a session of the open mode */
	} else if (s) {
		const struct live_key *k = find_key_locked(au, s->who.key_id);
		if (k)
			rc = 0;
		else
			s->expires_ns = 0; /* its key was revoked */
	}
	if (rc == 0) {
		*out = s->who;
		memcpy(csrf, s->csrf, 65);
	}
	pthread_mutex_unlock(&au->mu);
	return rc;
}

void auth_session_end(struct auth *au, const char *sid)
{
	pthread_mutex_lock(&au->mu);
	struct session *s = session_get_locked(au, sid);
	if (s)
		sodium_memzero(s, sizeof(*s));
	pthread_mutex_unlock(&au->mu);
	if (s) /* only a live session's document: a made-up cookie writes nothing */
		session_drop(au, sid);
}

static int is_ip_literal(const char *h, size_t n)
{
	if (n && h[0] == '[')
		return h[n - 1] == ']';
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)h[i]) && h[i] != '.')
			return 0;
	return n > 0;
}

int auth_host_allowed(const char *host, const char *allowed_hosts)
{
	if (!host || !*host)
		return 0;
	size_t n = strlen(host);
	if (host[0] == '[') {
		const char *e = strchr(host, ']');
		n = e ? (size_t)(e - host) + 1 : n;
	} else {
		const char *c = strchr(host, ':');
		n = c ? (size_t)(c - host) : n;
	}
	if (is_ip_literal(host, n) || (n == 9 && !strncasecmp(host, "localhost", 9)))
		return 1;
	for (const char *p = allowed_hosts; p && *p;) {
		size_t m = strcspn(p, ",");
		if (m == n && !strncasecmp(p, host, n))
			return 1;
		p += m;
		p += *p == ',';
	}
	return 0;
}
