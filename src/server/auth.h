/*
 * auth.h - API keys, dashboard sessions and the access check of every
 * request (roles by route, Host and Origin, CSRF).
 *
 * A key is a random token "hpk_<id>_<secret>" (id: 16 hex digits, secret:
 * 64 hex digits, 256 random bits).  Only its BLAKE2b-256 hash is kept, in
 * the store's documents of kind AUTH_KEY_KIND (docs/DECISIONS.md says why
 * a fast hash is enough for a 256-bit random token).  A key has a name (the
 * audit trail's actor) and a role: ingest (write telemetry), viewer (read)
 * or admin (everything).  Revoking keeps the document, marked revoked, and
 * deletes the stored sessions signed in with the key.
 *
 * With no live key the server is open (anyone who reaches it acts as
 * admin): allowed only when it listens on loopback, or when forced.
 *
 * Threads: struct auth is shared by the HTTP workers; its functions lock
 * what they touch.  Strings returned in a struct auth_principal are copies.
 */
#ifndef HOTPATH_SERVER_AUTH_H
#define HOTPATH_SERVER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "store/store.h"

#define AUTH_KEY_KIND	  "api_key"
#define AUTH_SESSION_KIND "session" /* documents of the dashboard's sessions, by hashed id */
#define AUTH_TOKEN_MAX	  96
#define AUTH_NAME_MAX	  64
#define AUTH_ID_LEN	  16
#define AUTH_SESSION_TTL  (12 * 3600) /* seconds */
#define AUTH_SESSIONS_MAX 256

enum auth_role { AUTH_NONE = 0, AUTH_INGEST, AUTH_VIEWER, AUTH_ADMIN };

struct auth_principal {
	char name[AUTH_NAME_MAX + 1];
	char key_id[AUTH_ID_LEN + 1];
	enum auth_role role;
};

/* One key as listed (no secret, no hash). */
struct auth_key {
	const char *id, *name, *role;
	uint64_t created_ns, revoked_ns; /* revoked_ns 0: live */
};

struct auth;

/* "ingest" / "viewer" / "admin" -> role; AUTH_NONE for anything else. */
enum auth_role auth_role_parse(const char *s);
const char *auth_role_name(enum auth_role r);
/* Does a principal of role `have` satisfy a route that needs `need`? */
int auth_role_allows(enum auth_role have, enum auth_role need);

/* Keys in the store (used by the API and by `hotpath keys` on a data
 * directory).  create writes the new token (shown once) to token[]. */
int auth_key_create(struct store *st, const char *name, const char *role, char token[AUTH_TOKEN_MAX],
		    char id[AUTH_ID_LEN + 1], char *err, size_t errlen);
/* Revoke by id or by name (every live key of that name); ERR_NOT_FOUND if none. */
int auth_key_revoke(struct store *st, const char *id_or_name, char *err, size_t errlen);
/* All keys, live and revoked, in arena a. */
int auth_keys_list(struct store *st, struct arena *a, struct auth_key **keys, size_t *n, char *err,
		   size_t errlen);

/* The shared state of a server: a cache of the live keys (reloaded from
 * the store at most every second, and after any change made here), and
 * the sessions: in memory, and in the store under the hash of their id
 * (AUTH_SESSION_KIND), so that a restart keeps them until they expire. */
struct auth *auth_new(struct store *st);
void auth_free(struct auth *au);
/* Live keys now (reloads the cache); 1 while the keys could never be
 * read, so that a failed read never opens the server. */
size_t auth_live_keys(struct auth *au);
/* Were the keys read at least once? */
int auth_loaded(struct auth *au);
/* Forget the cache: the next check reloads the keys. */
void auth_changed(struct auth *au);
/* A presented token -> principal; 0 if it is a live key, -1 if not. */
int auth_token_check(struct auth *au, const char *token, struct auth_principal *out);
/* A new session for p: sid and csrf are 64 hex digits each. */
void auth_session_new(struct auth *au, const struct auth_principal *p, char sid[65], char csrf[65]);
/* The session sid -> principal and its CSRF token; -1 if none, expired,
 * ended, or its key was revoked.  A session not in memory is looked up in
 * the store (one begun before a restart). */
int auth_session_find(struct auth *au, const char *sid, struct auth_principal *out, char csrf[65]);
void auth_session_end(struct auth *au, const char *sid);
/* Delete at most `max` stored sessions that have expired (a background
 * job's bounded step; ended ones are deleted when they end): how many, or
 * an error class with a message. */
long auth_sessions_purge(struct store *st, unsigned max, char *err, size_t errlen);
/* Constant-time comparison of two NUL-terminated strings. */
int auth_str_equal(const char *a, const char *b);

/* Host header checks against DNS rebinding: an IP literal, "localhost",
 * or one of the comma-separated allowed names (any port). */
int auth_host_allowed(const char *host, const char *allowed_hosts);

#endif
