/* test_auth.c - API keys (create, check, revoke), roles, sessions, Host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/auth.h"
#include "store/store.h"
#include "tap.h"
#include "temp_store.h"

static void roles(void)
{
	ok(auth_role_parse("ingest") == AUTH_INGEST && auth_role_parse("admin") == AUTH_ADMIN,
	   "roles parse by name");
	ok(auth_role_parse("root") == AUTH_NONE && auth_role_parse(NULL) == AUTH_NONE,
	   "unknown roles do not");
	ok(auth_role_allows(AUTH_ADMIN, AUTH_INGEST) && auth_role_allows(AUTH_ADMIN, AUTH_VIEWER),
	   "admin may do everything");
	ok(!auth_role_allows(AUTH_INGEST, AUTH_VIEWER) && !auth_role_allows(AUTH_VIEWER, AUTH_INGEST),
	   "ingest may not read, viewer may not write");
	ok(!auth_role_allows(AUTH_VIEWER, AUTH_ADMIN), "viewer may not act");
}

static void hosts(void)
{
	ok(auth_host_allowed("127.0.0.1:4318", NULL) && auth_host_allowed("[::1]:4318", NULL),
	   "IP literals are served");
	ok(auth_host_allowed("localhost:4318", NULL) && auth_host_allowed("LOCALHOST", NULL),
	   "so is localhost");
	ok(!auth_host_allowed("evil.example:4318", NULL), "a name is not (DNS rebinding)");
	ok(!auth_host_allowed("localhost.evil.example", NULL), "nor one that starts like localhost");
	ok(auth_host_allowed("hotpath.internal:443", "a.b,hotpath.internal"), "unless allowed");
	ok(!auth_host_allowed("hotpath.internal.evil", "hotpath.internal"), "exactly");
	ok(!auth_host_allowed(NULL, NULL) && !auth_host_allowed("", NULL), "no Host: refused");
}

static void keys(struct store *st)
{
	char token[AUTH_TOKEN_MAX], id[AUTH_ID_LEN + 1], err[256], sid[65], csrf[65], csrf2[65];
	struct auth_principal p;
	struct auth *au = auth_new(st);
	ok(auth_live_keys(au) == 0, "a new store has no key");
	ok(auth_key_create(st, "bad name!", "admin", token, id, err, sizeof(err)) < 0, "a name is checked");
	ok(auth_key_create(st, "ci", "superuser", token, id, err, sizeof(err)) < 0, "a role is checked");
	ok(auth_key_create(st, "ci", "ingest", token, id, err, sizeof(err)) == 0, "a key is created");
	ok(strncmp(token, "hpk_", 4) == 0 && strlen(token) == 4 + 16 + 1 + 64, "its token: hpk_ID_SECRET");
	auth_changed(au);
	ok(auth_live_keys(au) == 1, "it is live");
	ok(auth_token_check(au, token, &p) == 0 && !strcmp(p.name, "ci") && p.role == AUTH_INGEST,
	   "its token names it and its role");
	char wrong[AUTH_TOKEN_MAX];
	snprintf(wrong, sizeof(wrong), "%s", token);
	wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == '0' ? '1' : '0';
	ok(auth_token_check(au, wrong, &p) < 0, "one wrong digit: refused");
	ok(auth_token_check(au, "hpk_", &p) < 0 && auth_token_check(au, "", &p) < 0, "garbage: refused");

	auth_session_new(au, &p, sid, csrf);
	ok(auth_session_find(au, sid, &p, csrf2) == 0 && !strcmp(csrf, csrf2), "a session finds its key");
	ok(auth_key_revoke(st, "nobody", err, sizeof(err)) < 0, "revoking an unknown key fails");
	ok(auth_key_revoke(st, "ci", err, sizeof(err)) == 0, "revoked by name");
	auth_changed(au);
	ok(auth_token_check(au, token, &p) < 0, "a revoked key is refused");
	ok(auth_session_find(au, sid, &p, csrf2) < 0, "and so are its sessions");
	struct arena a;
	struct auth_key *list;
	size_t n;
	arena_init(&a);
	ok(auth_keys_list(st, &a, &list, &n, err, sizeof(err)) == 0 && n == 1 && list[0].revoked_ns,
	   "the list keeps it, revoked");
	arena_release(&a);
	auth_free(au);
}

/* The stored sessions of `st`. */
static size_t stored_sessions(struct store *st)
{
	struct arena a;
	struct store_record *rows;
	size_t n = 0;
	char err[256];
	arena_init(&a);
	store_docs(st, AUTH_SESSION_KIND, NULL, &a, &rows, &n, err, sizeof(err));
	arena_release(&a);
	return n;
}

/* Ended sessions' documents are deleted at once, expired ones by the purge. */
static void session_docs(struct store *st)
{
	char token[AUTH_TOKEN_MAX], id[AUTH_ID_LEN + 1], err[256], sid[3][65], csrf[65];
	struct auth_principal p;
	struct auth *au = auth_new(st);
	size_t before = stored_sessions(st);
	auth_key_create(st, "ops", "viewer", token, id, err, sizeof(err));
	auth_changed(au);
	ok(auth_token_check(au, token, &p) == 0, "a key to sign in with");
	for (int i = 0; i < 3; i++)
		auth_session_new(au, &p, sid[i], csrf);
	is_int(stored_sessions(st), before + 3, "each session is stored");
	auth_session_end(au, sid[0]);
	is_int(stored_sessions(st), before + 2, "signing out deletes its document");
	/* an expired session and an old tombstone, as stored before */
	struct store_record old = {
		AUTH_SESSION_KIND, "expired", 1,
		"{\"key_id\":\"x\",\"name\":\"x\",\"role\":\"viewer\",\"csrf\":\"x\",\"expires_ns\":5}"};
	store_put_doc(st, &old, err, sizeof(err));
	old = (struct store_record){AUTH_SESSION_KIND, "tombstone", 1, "{\"deleted\":true}"};
	store_put_doc(st, &old, err, sizeof(err));
	is_int(auth_sessions_purge(st, 1, err, sizeof(err)), 1, "the purge deletes at most as many as asked");
	is_int(auth_sessions_purge(st, 100, err, sizeof(err)), 1, "then the rest of the expired");
	is_int(auth_sessions_purge(st, 100, err, sizeof(err)), 0, "live sessions stay");
	is_int(stored_sessions(st), before + 2, "both live sessions are still stored");
	ok(auth_key_revoke(st, "ops", err, sizeof(err)) == 0, "the key revoked");
	is_int(stored_sessions(st), before, "and its sessions' documents deleted");
	auth_free(au);
}

int main(void)
{
	char dir[] = "/tmp/hotpath-auth-XXXXXX";
	roles();
	hosts();
	struct store *st = temp_store_make(dir);
	if (!st)
		return 1;
	keys(st);
	session_docs(st);
	store_close(st);
	temp_dir_remove(dir);
	return tap_done();
}
