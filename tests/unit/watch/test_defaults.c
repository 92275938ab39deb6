/*
 * test_defaults.c - the default alert rules (src/watch/watch.c) on a real
 * store: a new store gets "slow-spike" and "regression"; a deleted default
 * stays deleted; a store whose defaults record was written before
 * "regression" existed gets it once, and its deleted "slow-spike" stays
 * deleted; a rule made by hand under a default's id is left alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "tap.h"
#include "temp_store.h"
#include "watch/watch.h"

/* The stored rule `id`'s JSON, or NULL (in `a`). */
static const char *rule_json(struct store *s, const char *id, struct arena *a)
{
	struct store_record *rows;
	size_t n;
	char err[256];
	if (store_docs(s, RULE_KIND, id, a, &rows, &n, err, sizeof(err)) < 0 || !n)
		return NULL;
	return rows[0].json;
}

static int put(struct store *s, const char *kind, const char *id, const char *json)
{
	char err[256];
	struct store_record r = {kind, id, clock_now_ns(), json};
	return store_put_doc(s, &r, err, sizeof(err));
}

static void fresh(void)
{
	char dir[] = "/tmp/hotpath-test-defaults-XXXXXX", err[256];
	struct store *s = temp_store_make(dir);
	struct arena a;
	if (!ok(s != NULL, "a new store"))
		return;
	arena_init(&a);
	ok(watch_install_defaults(s, err, sizeof(err)) == 0, "defaults installed: %s", err);
	const char *spike = rule_json(s, "slow-spike", &a), *reg = rule_json(s, "regression", &a);
	ok(spike && strstr(spike, "\"slow_spikes\""), "slow-spike is there");
	ok(reg && strstr(reg, "\"measure\":\"regressions\""), "regression is there");
	put(s, RULE_KIND, "regression", WATCH_TOMBSTONE);
	ok(watch_install_defaults(s, err, sizeof(err)) == 0, "installed again (a restart)");
	reg = rule_json(s, "regression", &a);
	ok(reg && !strcmp(reg, WATCH_TOMBSTONE), "the deleted default stays deleted");
	struct alert_rule *rules;
	size_t n;
	watch_load_rules(s, &a, &rules, &n, err, sizeof(err));
	ok(n == 1 && !strcmp(rules[0].id, "slow-spike"), "one rule loads: slow-spike");
	arena_release(&a);
	store_close(s);
	temp_dir_remove(dir);
}

static void older(void)
{
	char dir[] = "/tmp/hotpath-test-defaults-XXXXXX", err[256];
	struct store *s = temp_store_make(dir);
	struct arena a;
	struct store_record *ev;
	size_t n_ev;
	if (!ok(s != NULL, "a store of an older release"))
		return;
	arena_init(&a);
	put(s, "watch.defaults", "rules", "{\"installed\":[\"slow-spike\"]}");
	put(s, RULE_KIND, "slow-spike", WATCH_TOMBSTONE);
	ok(watch_install_defaults(s, err, sizeof(err)) == 0, "defaults installed: %s", err);
	const char *reg = rule_json(s, "regression", &a);
	ok(reg && strstr(reg, "\"regressions\""), "the new default reaches it");
	ok(!strcmp(rule_json(s, "slow-spike", &a), WATCH_TOMBSTONE), "its deleted slow-spike stays deleted");
	store_events(s, AUDIT_KIND, NULL, 0, 0, 0, &a, &ev, &n_ev, err, sizeof(err));
	size_t audits = n_ev;
	ok(audits >= 1, "the creation is in the audit trail (%zu)", audits);
	watch_install_defaults(s, err, sizeof(err));
	store_events(s, AUDIT_KIND, NULL, 0, 0, 0, &a, &ev, &n_ev, err, sizeof(err));
	is_int(n_ev, audits, "once: a second start installs nothing");
	arena_release(&a);
	store_close(s);
	temp_dir_remove(dir);
}

static void by_hand(void)
{
	char dir[] = "/tmp/hotpath-test-defaults-XXXXXX", err[256];
	struct store *s = temp_store_make(dir);
	struct arena a;
	const char *mine = "{\"id\":\"regression\",\"measure\":\"regressions\",\"threshold\":2}";
	if (!ok(s != NULL, "a store with a rule of a default's id"))
		return;
	arena_init(&a);
	put(s, "watch.defaults", "rules", "{\"installed\":[\"slow-spike\"]}");
	put(s, RULE_KIND, "regression", mine);
	ok(watch_install_defaults(s, err, sizeof(err)) == 0, "defaults installed: %s", err);
	ok(!strcmp(rule_json(s, "regression", &a), mine), "the rule made by hand is kept");
	arena_release(&a);
	store_close(s);
	temp_dir_remove(dir);
}

int main(void)
{
	fresh();
	older();
	by_hand();
	return tap_done();
}
