/*
 * test_advisor.c - the life of a recommendation: states moved by users and
 * by new evidence (verified, persists, reopened), their JSON form, and a
 * run over a store: stable identity across analyses, the audit trail; the
 * hot function of a route's own work named from stored profiles; the
 * analysis job that requests ask (and wait for) instead of analysing and
 * storing themselves; a stale analysis answered at once and replaced by
 * the background refresh, and its summary read back after a restart.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "demo/scenario.h"
#include "profile/upload.h"
#include "advisor/advisor.h"
#include "scenario_fixture.h"
#include "span_fixture.h"
#include "tap.h"
#include "temp_store.h"

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

/* A store in `dir` and the demo's scenario with its default configuration
 * in *sc (the caller releases both); NULL, and a failed check saying
 * `what`, when the store cannot be made. */
static struct store *store_and_scenario(char *dir, const char *what, struct scenario *sc)
{
	struct store *s = temp_store_make(dir);
	if (!ok(s != NULL, "%s", what))
		return NULL;
	struct scenario_config cfg;
	scenario_config_init(&cfg);
	scenario_init(sc, &cfg);
	return s;
}

/* Demo traffic with every problem: the advisor records findings, and a
 * second run updates the same recommendations. */
static void test_run(void)
{
	char dir[] = "/tmp/hotpath-test-advisor-XXXXXX", err[256];
	struct scenario sc;
	struct store *s = store_and_scenario(dir, "store in a temporary directory", &sc);
	if (!s)
		return;
	uint64_t t0 = 1763978400ull * S; /* a whole number of hours */
	scenario_write_minutes(s, &sc, t0, 120, 60, 1);
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
		ok(advisor_set_status(s, id, "dismissed", "", "test", err, sizeof(err)) == ERR_INVALID,
		   "dismissing without a reason is refused");
		ok(advisor_set_status(s, "ffffffffffffffff", "applied", NULL, "test", err, sizeof(err)) ==
			   ERR_NOT_FOUND,
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
	temp_dir_remove(dir);
}

/* The analysis job: a request reads the last analysis, or asks the job
 * and waits; the job runs (and stores) the analysis in its own thread. */
static void test_job(void)
{
	char dir[] = "/tmp/hotpath-test-advisor-job-XXXXXX", err[256];
	struct scenario sc;
	struct store *s = store_and_scenario(dir, "job: store in a temporary directory", &sc);
	if (!s)
		return;
	uint64_t now = clock_now_ns() / (60 * S) * 60 * S;
	scenario_write_minutes(s, &sc, now - 30 * 60 * S, 30, 30, 0);
	scenario_release(&sc);

	const uint64_t range = 3600 * S;
	struct advisor_result r, last;
	uint64_t age = 0;
	struct arena a;
	struct store_record *docs;
	size_t n = 0;
	arena_init(&a);
	advisor_watch_keep(NULL, 0);
	ok(!advisor_last(s, range, 0, &last, &age), "job: no analysis of a fresh store");
	int rc = advisor_ask(s, range, 0, 0, 1, &r, err, sizeof(err));
	ok(rc == 0 && r.traces > 500 && r.findings > 0,
	   "job: an ask waits for the run: %llu traces, %zu findings", (unsigned long long)r.traces,
	   r.findings);
	store_docs(s, "recommendation", NULL, &a, &docs, &n, err, sizeof(err));
	is_int(n, r.findings, "job: the job stored one recommendation per finding");
	ok(advisor_last(s, range, 0, &last, &age) && last.traces == r.traces && age < 60 * S,
	   "job: the analysis is kept and read back (age %.1f s)", (double)age / 1e9);
	ok(!advisor_last(s, 2 * range, 0, &last, &age), "job: kept by range: another range has none");
	ok(advisor_ask(s, 2 * range, 0, 0, 0, &r, err, sizeof(err)) == 0, "job: an ask that does not wait");
	ok(advisor_ask(s, range, 0, 3600 * S, 1, &last, err, sizeof(err)) == 0 && last.traces == r.traces,
	   "job: a young analysis is not run again");
	int ran = 0;
	for (int i = 0; i < 600 && !(ran = advisor_last(s, 2 * range, 0, &last, &age)); i++)
		usleep(100000); /* an ask that waits runs first: this one may still be queued */
	ok(ran, "job: the ask that did not wait has run");

	advisor_watch_stop();
	ok(advisor_ask(s, range, 0, 0, 1, &r, err, sizeof(err)) == ERR_BUSY,
	   "job: stopped (the server shuts down), an ask is refused");
	ok(advisor_watch_start(s, 3600, range, err, sizeof(err)) == 0 &&
		   advisor_ask(s, range, 0, 0, 1, &r, err, sizeof(err)) == 0,
	   "job: started again, asks run");
	advisor_watch_stop();
	arena_release(&a);
	store_close(s);
	temp_dir_remove(dir);
}

/* ---- the hot function of own work ------------------------------------------------------------ */

#define T0 (1763978400ull * S)

/* Span `id` of request `trace`, [ms, ms + len) after T0. */
static struct span *add_span(struct batch *b, const struct resource *r, uint32_t trace, int id, int parent,
			     int kind, const char *name, double ms, double len)
{
	return fixture_span(b, r, trace, id, parent, kind, name, T0, ms, len);
}

/* 40 requests of `service` GET /recommend/:id, 80 ms each: express's request
 * handler around 60 ms of the handler's own code and a 20 ms query. */
static void write_own_work(struct store *s, const char *service, uint32_t first_trace)
{
	struct attr svc = {.key = "service.name", .type = ATTR_STRING, .v.s = service};
	static struct attr route = {.key = "http.route", .type = ATTR_STRING, .v.s = "/recommend/:id"};
	static struct attr type = {.key = "express.type", .type = ATTR_STRING, .v.s = "request_handler"};
	static struct attr sys = {.key = "db.system.name", .type = ATTR_STRING, .v.s = "postgresql"};
	struct batch b;
	batch_init(&b);
	struct resource *r = arena_zalloc(&b.arena, sizeof(*r));
	r->attrs = &svc;
	r->n_attrs = 1;
	resource_derive(r);
	for (uint32_t t = first_trace; t < first_trace + 40; t++) {
		double at = (t - first_trace + 1) * 1000.0;
		add_span(&b, r, t, 1, 0, SPAN_KIND_SERVER, "GET /recommend/:id", at, 80)->attrs = &route;
		b.spans[b.n_spans - 1].n_attrs = 1;
		struct span *w = add_span(&b, r, t, 2, 1, SPAN_KIND_INTERNAL,
					  "request handler - /recommend/:id", at, 79);
		w->scope_name = "@opentelemetry/instrumentation-express";
		w->attrs = &type;
		w->n_attrs = 1;
		add_span(&b, r, t, 3, 2, SPAN_KIND_CLIENT, "SELECT", at + 59, 20)->attrs = &sys;
		b.spans[b.n_spans - 1].n_attrs = 1;
	}
	store_write_sync(s, &b);
	batch_release(&b);
}

/* Keep `folded` as a profile of `service` and `type` over [from, from + 10 s). */
static void put_profile(struct store *s, const char *service, const char *type, const char *unit,
			uint64_t from, const char *folded, size_t len)
{
	struct profile_row row = {.service = service,
				  .type = type,
				  .unit = unit,
				  .start_ns = from,
				  .end_ns = from + 10 * S,
				  .total = 1,
				  .folded = folded,
				  .folded_len = len};
	int64_t id;
	char err[256];
	if (store_put_profile(s, &row, &id, err, sizeof(err)) < 0)
		ok(0, "put profile: %s", err);
}

/* The JSON of the own-work recommendation of `service` kept, or NULL. */
static const char *own_work_json(struct store *s, const char *service, struct arena *a)
{
	char subject[64];
	snprintf(subject, sizeof(subject), "\"service\":\"%s\"", service);
	struct store_record *docs;
	size_t n;
	char err[256];
	if (store_docs(s, ADVISOR_KIND_FINDING, NULL, a, &docs, &n, err, sizeof(err)) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strstr(docs[i].json, "\"kind\":\"own-work\"") && strstr(docs[i].json, subject))
			return docs[i].json;
	return NULL;
}

/* The share of `fn`'s self samples in folded text, runtime frames left out: what the advisor must say. */
static double self_share(const char *folded, const char *fn)
{
	static const char *const runtime[] = {"(idle)", "(program)",	      "(garbage collector)",
					      "(root)", "Garbage Collection", "Non JS threads activity"};
	double mine = 0, all = 0;
	for (const char *line = folded; line && *line;) {
		const char *end = strchr(line, '\n'), *sp = NULL;
		size_t n = end ? (size_t)(end - line) : strlen(line);
		for (size_t i = 0; i < n; i++)
			if (line[i] == ' ')
				sp = line + i;
		if (sp) {
			const char *leaf = line;
			for (const char *p = line; p < sp; p++)
				if (*p == ';')
					leaf = p + 1;
			size_t ll = (size_t)(sp - leaf);
			int skip = 0;
			for (size_t k = 0; k < sizeof(runtime) / sizeof(runtime[0]); k++)
				skip |= strlen(runtime[k]) == ll && !memcmp(runtime[k], leaf, ll);
			double v = strtod(sp + 1, NULL);
			if (!skip)
				all += v;
			if (strlen(fn) == ll && !memcmp(fn, leaf, ll))
				mine += v;
		}
		line = end ? end + 1 : NULL;
	}
	return all > 0 ? mine / all : 0;
}

static void test_hot_function(void)
{
	char dir[] = "/tmp/hotpath-test-advisor-hot-XXXXXX", err[512];
	struct store *s = temp_store_make(dir);
	if (!s) {
		ok(0, "store for the hot function");
		return;
	}
	write_own_work(s, "shop", 1);
	write_own_work(s, "recommender", 100);
	struct advisor_options o;
	struct advisor_result res;
	struct arena a;
	arena_init(&a);
	advisor_options_init(&o, T0, T0 + 3600 * S);
	ok(advisor_run(s, &o, &res, err, sizeof(err)) == 0, "hot function: the advisor runs");
	const char *json = own_work_json(s, "shop", &a);
	ok(json && strstr(json, "shop") && strstr(json, "GET /recommend/:id") &&
		   !strstr(json, "hot_function") && strstr(json, "POST /api/v1/profiles"),
	   "without profiles: found, and the change says how to send them (%s)", json ? json : "none");

	/* a CPU profile @datadog/pprof took, as @pyroscope/nodejs sends it */
	struct buf pb;
	struct upload_result up;
	buf_init(&pb, BUF_NO_LIMIT);
	ok(buf_read_file(&pb, "tests/fixtures/pprof/cpu.pb.gz") == 0, "read the pprof fixture");
	if (!ok(upload_decode(UPLOAD_PPROF, pb.data, pb.len, &(struct pprof_options){0}, 0, &a, &up, err,
			      sizeof(err)) == 0,
		"the pprof decodes"))
		printf("#   %s\n", err);
	put_profile(s, "shop", up.pprof.type, up.pprof.unit, T0 + 20 * S, up.folded, up.folded_len);
	/* what must not count: a wall profile, another service's, and one from before the window */
	static const char wall[] = "main;sleepy 900000000000\n", other[] = "main;otherHot 900000000000\n",
			  before[] = "main;longAgo 900000000000\n";
	put_profile(s, "shop", "wall", "nanoseconds", T0 + 20 * S, wall, sizeof(wall) - 1);
	put_profile(s, "users", "cpu", up.pprof.unit, T0 + 20 * S, other, sizeof(other) - 1);
	put_profile(s, "shop", "cpu", up.pprof.unit, T0 - 7200 * S, before, sizeof(before) - 1);

	ok(advisor_run(s, &o, &res, err, sizeof(err)) == 0, "hot function: the advisor runs again");
	json = own_work_json(s, "shop", &a);
	double want = self_share(up.folded, "busyHashing");
	char text[128];
	snprintf(text, sizeof(text), "`busyHashing` takes %.0f%% of the CPU samples of shop", 100 * want);
	ok(json && strstr(json, "\"hot_function\":\"busyHashing\"") &&
		   strstr(json, "\"hot_profile_type\":\"cpu\"") && strstr(json, text) &&
		   strstr(json, "Make `busyHashing` cheaper") && want > 0.5,
	   "named from the service's CPU profile of the window: %s (%s)", text, json ? json : "none");
	const char *h = json ? strstr(json, "\"hot_function_share\":") : NULL;
	double got = h ? strtod(h + strlen("\"hot_function_share\":"), NULL) : -1;
	ok(fabs(got - want) < 1e-9, "its share: its self samples of all but the runtime's frames (%g, %g)",
	   got, want);
	ok(json && !strstr(json, "sleepy") && !strstr(json, "otherHot") && !strstr(json, "longAgo"),
	   "not from wall profiles when CPU ones exist, another service or before the window");

	/* @pyroscope/nodejs's wall profile only: frames "<file>:<function>:<line>", a function's
	 * self time on two lines, the runtime's garbage collection the largest */
	static const char pyro[] = "./shop.mjs:handle:10 400\n"
				   "./shop.mjs:handle:10;./shop.mjs:scoreRecommendations:85 350\n"
				   "file:///app/shop.mjs:scoreRecommendations:86 350\n"
				   ":Node.js:0;:Garbage Collection:0 2000\n";
	put_profile(s, "recommender", "wall", "nanoseconds", T0 + 20 * S, pyro, sizeof(pyro) - 1);
	ok(advisor_run(s, &o, &res, err, sizeof(err)) == 0, "hot function: the advisor runs a third time");
	json = own_work_json(s, "recommender", &a);
	snprintf(text, sizeof(text),
		 "`scoreRecommendations` (shop.mjs) takes %.0f%% of the wall-clock samples",
		 100 * 700.0 / 1100);
	ok(json && strstr(json, "\"hot_function\":\"scoreRecommendations\"") &&
		   strstr(json, "\"hot_function_file\":\"shop.mjs\"") &&
		   strstr(json, "\"hot_profile_type\":\"wall\"") && strstr(json, text),
	   "Pyroscope's frames: the function of its lines summed, garbage collection left out, from wall "
	   "profiles when there are no CPU ones: %s (%s)",
	   text, json ? json : "none");
	buf_release(&pb);
	arena_release(&a);
	store_close(s);
	temp_dir_remove(dir);
}

/* The last analysis of `range` once it is newer than `after_ns` (0: any),
 * polling for up to a minute: 1, or 0 when none came. */
static int wait_analysis(struct store *s, uint64_t range, uint64_t after_ns, struct advisor_result *r)
{
	uint64_t age;
	for (int i = 0; i < 600; i++) {
		if (advisor_last(s, range, 0, r, &age) && r->analyzed_ns > after_ns)
			return 1;
		usleep(100000);
	}
	return 0;
}

/* A request answers from a stale analysis at once; the refresh it asks
 * for runs in the background and replaces it; the summary is stored, so a
 * restarted process answers from it too. */
static void test_stale(void)
{
	char dir[] = "/tmp/hotpath-test-advisor-stale-XXXXXX",
	     other_dir[] = "/tmp/hotpath-test-advisor-other-XXXXXX", err[256];
	struct scenario sc;
	struct store *s = store_and_scenario(dir, "stale: store in a temporary directory", &sc);
	if (!s)
		return;
	uint64_t now = clock_now_ns() / (60 * S) * 60 * S;
	scenario_write_minutes(s, &sc, now - 30 * 60 * S, 15, 30, 0);

	const uint64_t range = 3600 * S;
	struct advisor_result r1, r2, back;
	struct advisor_current cur;
	advisor_watch_keep(&range, 1);
	ok(advisor_watch_start(s, 3600, range, err, sizeof(err)) == 0, "stale: the watch starts");
	int got = wait_analysis(s, range, 0, &r1);
	ok(got && r1.traces > 0,
	   "stale: the watch analysed its kept range at its start, nobody asking (%llu traces)",
	   (unsigned long long)r1.traces);

	/* newer data, and an analysis older than the age asked (1 ns) */
	scenario_write_minutes(s, &sc, now - 15 * 60 * S, 10, 30, 0);
	scenario_release(&sc);
	uint64_t t0 = clock_now_ns();
	int rc = advisor_current(s, range, 0, 1, 0, &cur, err, sizeof(err));
	double took_ms = (double)(clock_now_ns() - t0) / 1e6;
	ok(rc == 0 && cur.res.analyzed_ns == r1.analyzed_ns && cur.res.traces == r1.traces,
	   "stale: answered from the stale analysis, not waiting for a new one (%.1f ms)", took_ms);
	ok(cur.refreshing && cur.age_ns > 0, "stale: a refresh was asked; age %.3f s",
	   (double)cur.age_ns / 1e9);
	got = wait_analysis(s, range, r1.analyzed_ns, &r2);
	ok(got && r2.traces > r1.traces,
	   "stale: replaced by the background refresh, which saw the new data (%llu > %llu traces)",
	   (unsigned long long)r2.traces, (unsigned long long)r1.traces);
	ok(advisor_current(s, range, 0, 3600 * S, 0, &cur, err, sizeof(err)) == 0 &&
		   cur.res.analyzed_ns == r2.analyzed_ns && !cur.refreshing,
	   "stale: the next request answers from the new one, asking nothing");
	ok(advisor_current(s, range, 0, 3600 * S, 1, &cur, err, sizeof(err)) == 0 &&
		   cur.res.analyzed_ns > r2.analyzed_ns,
	   "stale: refresh=1 waits for a run of its own");
	r2 = cur.res;
	advisor_watch_stop();

	/* a restart: another store's analysis clears what the process kept,
	 * then the first store, opened again, answers from its stored summary */
	struct store *other = temp_store_make(other_dir);
	store_close(s);
	uint64_t age = 0;
	ok(other && advisor_refresh(other, range, 0, 0, &back, err, sizeof(err)) == 0,
	   "stale: an analysis of another store");
	s = temp_store_open(dir);
	ok(s && advisor_last(s, range, 0, &back, &age) && back.analyzed_ns == r2.analyzed_ns &&
		   back.traces == r2.traces && back.findings == r2.findings && back.spans == r2.spans,
	   "stale: after a restart, the stored summary of the last analysis is read (age %.1f s)",
	   (double)age / 1e9);
	ok(s && !advisor_last(s, 2 * range, 0, &back, &age), "stale: and none for a range never analysed");
	advisor_watch_keep(NULL, 0);
	if (s)
		store_close(s);
	if (other)
		store_close(other);
	temp_dir_remove(dir);
	temp_dir_remove(other_dir);
}

int main(void)
{
	test_states();
	test_run();
	test_hot_function();
	test_job();
	test_stale();
	return tap_done();
}
