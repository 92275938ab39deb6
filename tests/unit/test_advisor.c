/*
 * test_advisor.c - the life of a recommendation: states moved by users and
 * by new evidence (verified, persists, reopened), their JSON form, and a
 * run over a store: stable identity across analyses, the audit trail.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo/scenario.h"
#include "report/advisor.h"
#include "tap.h"

#define S 1000000000ull

static void test_states(void)
{
	struct rec_state st = {.id = "0123456789abcdef"};
	char err[200];
	ok(rec_state_observe(&st, 1, 100 * S, 200 * S) == NULL, "a new finding opens quietly");
	ok(st.status == REC_OPEN && st.first_seen_ns == 200 * S && st.active, "open, first seen, active");

	ok(rec_state_set(&st, REC_DISMISSED, NULL, 210 * S, err, sizeof(err)) < 0,
	   "dismissing needs a reason");
	ok(rec_state_set(&st, REC_VERIFIED, NULL, 210 * S, err, sizeof(err)) < 0, "users cannot verify");
	ok(rec_state_set(&st, REC_APPLIED, "raised the pool to 25", 300 * S, err, sizeof(err)) == 0,
	   "applied");

	/* the window still holds data from before the change: no verdict */
	ok(rec_state_observe(&st, 0, 250 * S, 320 * S) == NULL && st.status == REC_APPLIED,
	   "absent from a window that began before the change: still applied");
	ok(rec_state_observe(&st, 1, 250 * S, 330 * S) == NULL && !st.persists,
	   "found in such a window: not yet said to persist");
	ok(rec_state_observe(&st, 1, 301 * S, 400 * S) == NULL && st.persists && st.status == REC_APPLIED,
	   "found in data all after the change: persists");
	ok(rec_state_observe(&st, 0, 302 * S, 500 * S) != NULL && st.status == REC_VERIFIED && !st.active,
	   "absent from data all after the change: verified");
	ok(rec_state_observe(&st, 1, 400 * S, 600 * S) != NULL && st.status == REC_OPEN,
	   "found again after verification: open again");

	struct buf b;
	struct arena a;
	struct rec_state back;
	buf_init(&b, BUF_NO_LIMIT);
	arena_init(&a);
	rec_state_set(&st, REC_DISMISSED, "won't fix: \"legacy\" endpoint", 700 * S, err, sizeof(err));
	rec_state_json(&b, &st);
	ok(rec_state_parse(&back, b.data, &a) == 0, "state JSON parses: %s", b.data);
	ok(!strcmp(back.id, st.id) && back.status == REC_DISMISSED && !strcmp(back.reason, st.reason) &&
		   back.changed_ns == 700 * S && back.first_seen_ns == 200 * S && back.active == st.active,
	   "and round-trips");
	ok(rec_state_parse(&back, "{\"id\":\"x\",\"status\":\"bogus\"}", &a) < 0,
	   "an unknown status is refused");
	ok(rec_state_parse(&back, "[1]", &a) < 0, "so is a non-object");
	buf_release(&b);
	arena_release(&a);
}

/* Demo traffic with every problem: the advisor records findings, and a
 * second run updates the same recommendations. */
static void test_run(void)
{
	char dir[] = "/tmp/hotpath-test-advisor-XXXXXX", err[256];
	ok(mkdtemp(dir) != NULL, "temp dir");
	struct store_options so = {.dir = dir};
	struct store *s;
	if (store_open(&s, &so, err, sizeof(err)) < 0) {
		ok(0, "store: %s", err);
		return;
	}
	struct scenario_config cfg;
	struct scenario sc;
	struct batch b;
	scenario_config_init(&cfg);
	scenario_init(&sc, &cfg);
	uint64_t t0 = 1763978400ull * S; /* a whole number of hours */
	for (int m = 0; m < 120; m++) {
		batch_init(&b);
		scenario_generate(&sc, &b, t0 + (uint64_t)m * 60 * S, t0 + (uint64_t)(m + 1) * 60 * S, 60);
		scenario_metrics(&sc, &b, t0 + (uint64_t)(m + 1) * 60 * S);
		store_write_sync(s, &b);
		batch_release(&b);
	}
	scenario_release(&sc);

	struct advisor_options o;
	struct advisor_result r1, r2;
	int rc;
	advisor_options_init(&o, t0, t0 + 7200 * S);
	rc = advisor_run(s, &o, &r1, err, sizeof(err));
	ok(rc == 0, "advisor runs: %s", rc ? err : "ok");
	ok(r1.traces > 7000 && r1.points > 0 && r1.findings > 0, "%llu traces, %llu points, %zu findings",
	   (unsigned long long)r1.traces, (unsigned long long)r1.points, r1.findings);
	is_int(r1.sample_rate == 1.0, 1, "all traces analysed");

	struct arena a;
	struct store_record *docs, *after;
	size_t n, n_after;
	arena_init(&a);
	store_docs(s, "recommendation", NULL, &a, &docs, &n, err, sizeof(err));
	is_int(n, r1.findings, "one recommendation per finding");
	ok(advisor_run(s, &o, &r2, err, sizeof(err)) == 0, "a second analysis");
	store_docs(s, "recommendation", NULL, &a, &after, &n_after, err, sizeof(err));
	is_int(n_after, n, "the same findings update the same recommendations");

	o.max_traces = 2000;
	rc = advisor_run(s, &o, &r2, err, sizeof(err));
	ok(rc == 0 && r2.sample_rate < 1 && r2.traces < r1.traces,
	   "over max_traces, a sample of blocks is analysed (rate %.3f, %llu traces)", r2.sample_rate,
	   (unsigned long long)r2.traces);

	if (n) {
		const char *id = docs[0].id;
		ok(advisor_set_status(s, id, "dismissed", "", "test", err, sizeof(err)) == -1,
		   "dismissing without a reason is refused");
		ok(advisor_set_status(s, "ffffffffffffffff", "applied", NULL, "test", err, sizeof(err)) == -2,
		   "an unknown id is told apart");
		ok(advisor_set_status(s, id, "applied", "done", "alice", err, sizeof(err)) == 0, "applied");
		struct store_record *ev;
		size_t n_ev;
		store_events(s, "recommendation.audit", id, 0, 0, 0, &a, &ev, &n_ev, err, sizeof(err));
		ok(n_ev == 1 && strstr(ev[0].json, "\"to\":\"applied\"") &&
			   strstr(ev[0].json, "\"actor\":\"alice\""),
		   "the audit trail records who changed what: %s", n_ev ? ev[0].json : "");
	}
	arena_release(&a);
	store_close(s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
}

int main(void)
{
	test_states();
	test_run();
	return tap_done();
}
