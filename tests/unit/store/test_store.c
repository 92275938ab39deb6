/*
 * test_store.c - the span block codec and the SQLite store: round trips,
 * corrupt blocks, group commit from several threads, search filters,
 * reopen (durability of committed writes) and schema versioning; edge
 * requests of traces whose services export separately, exact tier counts
 * in the rollups, the newest version of each service (version=latest),
 * the filter values of a range (from the rollups, with folded endpoints)
 * against a DISTINCT over the rows, and what a store of schema 3 answers
 * after migration.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/clock.h"
#include "core/hex.h"
#include "store/block.h"
#include "store/schema.h"
#include "store/store.h"
#include "tap.h"

static struct resource *make_resource(struct batch *b, const char *service, const char *env)
{
	struct resource *r = arena_zalloc(&b->arena, sizeof(*r));
	r->n_attrs = 3;
	r->attrs = arena_zalloc(&b->arena, 3 * sizeof(struct attr));
	r->attrs[0] = (struct attr){.key = "service.name", .type = ATTR_STRING, .v.s = service};
	r->attrs[1] = (struct attr){.key = "deployment.environment.name", .type = ATTR_STRING, .v.s = env};
	r->attrs[2] = (struct attr){.key = "service.version", .type = ATTR_STRING, .v.s = "1.2.3"};
	resource_derive(r);
	return r;
}

/* A trace of `n` spans: a SERVER root and children; trace id from `seed`. */
static void add_trace(struct batch *b, const struct resource *r, uint32_t seed, int n, uint64_t start,
		      uint64_t root_ms, int error)
{
	for (int i = 0; i < n; i++) {
		struct span *s = batch_add_span(b);
		memset(s->trace_id, 0, 16);
		memcpy(s->trace_id, &seed, 4);
		s->trace_id[15] = 1;
		s->span_id[0] = (uint8_t)(i + 1);
		s->span_id[7] = (uint8_t)seed;
		if (i) {
			s->parent_span_id[0] = 1;
			s->parent_span_id[7] = (uint8_t)seed;
		}
		s->name = i ? "SELECT orders" : "GET /api/orders";
		s->kind = i ? SPAN_KIND_CLIENT : SPAN_KIND_SERVER;
		s->status = (!i && error) ? SPAN_STATUS_ERROR : SPAN_STATUS_UNSET;
		s->status_message = (!i && error) ? "boom" : NULL;
		s->start_ns = start + (uint64_t)i * 1000;
		s->end_ns = i ? s->start_ns + 500 : start + root_ms * 1000000;
		s->resource = r;
		s->scope_name = "test";
		s->n_attrs = 4;
		s->attrs = arena_zalloc(&b->arena, 4 * sizeof(struct attr));
		s->attrs[0] = (struct attr){.key = "http.route", .type = ATTR_STRING, .v.s = "/api/orders"};
		s->attrs[1] = (struct attr){.key = "http.request.method", .type = ATTR_STRING, .v.s = "GET"};
		s->attrs[2] = (struct attr){.key = "n", .type = ATTR_INT, .v.i = -42 - i};
		s->attrs[3] = (struct attr){.key = "ratio", .type = ATTR_DOUBLE, .v.d = 0.25 * i};
		if (i == 1) {
			s->n_events = 1;
			s->events = arena_zalloc(&b->arena, sizeof(struct span_event));
			s->events[0].time_ns = s->start_ns + 7;
			s->events[0].name = "exception";
		}
	}
}

static int spans_equal(const struct span *a, const struct span *b)
{
	if (memcmp(a->trace_id, b->trace_id, 16) || memcmp(a->span_id, b->span_id, 8) ||
	    memcmp(a->parent_span_id, b->parent_span_id, 8) || strcmp(a->name, b->name) ||
	    a->kind != b->kind || a->status != b->status || a->start_ns != b->start_ns ||
	    a->end_ns != b->end_ns || a->n_attrs != b->n_attrs || a->n_events != b->n_events ||
	    strcmp(a->resource->service_name, b->resource->service_name))
		return 0;
	if (!a->status_message != !b->status_message ||
	    (a->status_message && strcmp(a->status_message, b->status_message)))
		return 0;
	for (uint32_t i = 0; i < a->n_attrs; i++) {
		const struct attr *x = &a->attrs[i], *y = &b->attrs[i];
		if (strcmp(x->key, y->key) || x->type != y->type)
			return 0;
		if (x->type == ATTR_STRING ? strcmp(x->v.s, y->v.s) != 0
					   : memcmp(&x->v, &y->v, sizeof(x->v)) != 0)
			return 0;
	}
	for (uint32_t i = 0; i < a->n_events; i++)
		if (a->events[i].time_ns != b->events[i].time_ns ||
		    strcmp(a->events[i].name, b->events[i].name))
			return 0;
	return 1;
}

static int is_route(const char *key)
{
	return !strcmp(key, "http.route");
}

struct trace_pick {
	const uint8_t *want;
	int asked;
};

static int pick_trace(void *arg, const uint8_t trace_id[16])
{
	struct trace_pick *p = arg;
	p->asked++;
	return !memcmp(trace_id, p->want, 16);
}

/* Parents are written as a distance back within the trace when the parent
 * is an earlier span of the same trace in the block, else as an id: a
 * parent that is absent, that starts after its child, or whose id is also
 * a span id of another trace. */
static void test_block_parents(void)
{
	struct batch in, out;
	struct buf enc;
	char err[256];
	batch_init(&in);
	batch_init(&out);
	buf_init(&enc, BUF_NO_LIMIT);
	struct resource *r = make_resource(&in, "orders", "production");
	for (uint8_t t = 1; t <= 2; t++) {
		/* spans 1 .. 6; 2, 3 under 1; 4 under an absent span; 5 under 6,
		 * which starts later; in trace 2, 3 is under 2 (trace 1 has a 2 too) */
		static const uint8_t parent[2][6] = {{0, 1, 1, 99, 6, 1}, {0, 1, 2, 2, 3, 0}};
		for (uint8_t i = 1; i <= 6; i++) {
			struct span *s = batch_add_span(&in);
			memset(s, 0, sizeof(*s));
			s->trace_id[0] = t;
			s->span_id[7] = i;
			s->parent_span_id[7] = parent[t - 1][i - 1];
			s->name = "op";
			s->start_ns = 1700000000000000000ull + i * 1000u + (i == 6 && t == 1 ? 9000u : 0);
			s->end_ns = s->start_ns + 10;
			s->resource = r;
		}
	}
	const struct span **ptrs = malloc(in.n_spans * sizeof(*ptrs));
	for (size_t i = 0; i < in.n_spans; i++)
		ptrs[i] = &in.spans[i];
	ok(block_encode(ptrs, in.n_spans, &enc) == 0, "a block of parents near and far encodes");
	long n = block_decode(enc.data, enc.len, NULL, &out, err, sizeof(err));
	int same = n == (long)in.n_spans;
	for (long i = 0; i < n && same; i++)
		same = spans_equal(ptrs[i], &out.spans[i]);
	ok(same, "every span keeps its own parent id (%ld spans)", n);
	batch_reset(&out);
	n = block_decode(enc.data, enc.len, &(struct block_filter){.trace_id = in.spans[6].trace_id}, &out,
			 err, sizeof(err));
	same = n == 6;
	for (long i = 0; i < n && same; i++)
		same = spans_equal(ptrs[6 + i], &out.spans[i]);
	ok(same, "and so when only the second trace is kept");
	free(ptrs);
	buf_release(&enc);
	batch_release(&in);
	batch_release(&out);
}

static void test_block_roundtrip(void)
{
	struct batch in, out;
	struct buf enc;
	char err[256];
	batch_init(&in);
	batch_init(&out);
	buf_init(&enc, BUF_NO_LIMIT);
	struct resource *r1 = make_resource(&in, "orders", "production");
	struct resource *r2 = make_resource(&in, "billing", "staging");
	add_trace(&in, r1, 7, 5, 1700000000000000000ull, 120, 1);
	add_trace(&in, r2, 3, 3, 1700000000500000000ull, 30, 0);
	const struct span **ptrs = malloc(in.n_spans * sizeof(*ptrs));
	for (size_t i = 0; i < in.n_spans; i++)
		ptrs[i] = &in.spans[i];
	ok(block_encode(ptrs, in.n_spans, &enc) == 0, "block_encode succeeds");
	long n = block_decode(enc.data, enc.len, NULL, &out, err, sizeof(err));
	is_int(n, 8, "all spans decode");
	int same = n == 8;
	for (long i = 0; i < n && same; i++)
		same = spans_equal(ptrs[i], &out.spans[i]);
	ok(same, "decoded spans equal the encoded ones, field by field");

	/* a skeleton: the same spans without attributes, events and links,
	 * decoded into the reset batch (its memory reused) */
	batch_reset(&out);
	n = block_decode(enc.data, enc.len, &(struct block_filter){.skeleton = 1}, &out, err, sizeof(err));
	is_int(n, 8, "a skeleton has every span");
	same = n == 8;
	for (long i = 0; i < n && same; i++) {
		struct span want = *ptrs[i];
		want.attrs = NULL;
		want.events = NULL;
		want.links = NULL;
		want.n_attrs = want.n_events = want.n_links = 0;
		same = spans_equal(&want, &out.spans[i]) && out.spans[i].attrs == NULL;
	}
	ok(same, "skeleton spans equal the encoded ones but for attributes, events and links");
	/* only the attributes a reader asks for; resources keep theirs */
	batch_reset(&out);
	n = block_decode(enc.data, enc.len, &(struct block_filter){.keep_key = is_route}, &out, err,
			 sizeof(err));
	same = n == 8;
	for (long i = 0; i < n && same; i++)
		same = out.spans[i].n_attrs == 1 && !strcmp(out.spans[i].attrs[0].key, "http.route") &&
		       !strcmp(out.spans[i].attrs[0].v.s, "/api/orders") &&
		       out.spans[i].n_events == ptrs[i]->n_events;
	ok(same, "keep_key keeps only the attributes it accepts, and the events");
	same = n == 8;
	for (long i = 0; i < n && same; i++)
		same = out.spans[i].resource->n_attrs == ptrs[i]->resource->n_attrs &&
		       out.spans[i].resource->environment &&
		       !strcmp(out.spans[i].resource->environment, ptrs[i]->resource->environment);
	ok(same, "and the resources keep their attributes");

	int had_events = 0;
	for (size_t i = 0; i < in.n_spans; i++)
		had_events |= in.spans[i].n_events > 0;
	ok(had_events && in.spans[0].n_attrs > 0, "the test's spans had attributes and events to leave out");

	/* blocks written by earlier encoders, made from these spans: one
	 * frame ("HPB1"), and head and rest split but the head's span records
	 * whole ("HPB2"), still read */
	static const char *const fixtures[] = {"tests/fixtures/store/block_hpb1.bin",
					       "tests/fixtures/store/block_hpb2.bin"};
	for (size_t v = 0; v < 2; v++) {
		struct buf old;
		buf_init(&old, BUF_NO_LIMIT);
		FILE *fp = fopen(fixtures[v], "rb");
		char chunk[512];
		size_t got;
		while (fp && (got = fread(chunk, 1, sizeof(chunk), fp)) > 0)
			buf_append(&old, chunk, got);
		if (fp)
			fclose(fp);
		ok(old.len > 4 && old.len != enc.len,
		   "the v%zu block fixture is there, in another form (%zu bytes)", v + 1, old.len);
		const struct block_filter old_filters[] = {{0}, {.skeleton = 1}, {.keep_key = is_route}};
		for (size_t k = 0; k < sizeof(old_filters) / sizeof(old_filters[0]); k++) {
			struct batch now;
			batch_init(&now);
			batch_reset(&out);
			block_decode(enc.data, enc.len, &old_filters[k], &now, err, sizeof(err));
			n = block_decode(old.data, old.len, &old_filters[k], &out, err, sizeof(err));
			same = n == 8 && now.n_spans == 8;
			for (long i = 0; i < n && same; i++)
				same = spans_equal(&now.spans[i], &out.spans[i]);
			ok(same, "a v%zu block decodes as the current one does (filter %zu)", v + 1, k);
			batch_release(&now);
		}
		buf_release(&old);
	}

	/* only one trace */
	batch_release(&out);
	batch_init(&out);
	n = block_decode(enc.data, enc.len, &(struct block_filter){.trace_id = in.spans[0].trace_id}, &out,
			 err, sizeof(err));
	is_int(n, 5, "filtering by trace id keeps that trace's spans");
	ok(n == 5 && !memcmp(out.spans[4].trace_id, in.spans[0].trace_id, 16),
	   "kept spans have the trace id");
	is_str(n ? out.spans[0].resource->environment : NULL, "production", "resource attributes survive");

	/* only the traces a reader wants, asked once per trace */
	struct trace_pick pick = {.want = in.spans[5].trace_id};
	batch_reset(&out);
	n = block_decode(enc.data, enc.len,
			 &(struct block_filter){.keep_trace = pick_trace, .keep_trace_arg = &pick}, &out, err,
			 sizeof(err));
	is_int(n, 3, "keep_trace keeps the spans of the traces it accepts");
	is_int(pick.asked, 2, "asked once per trace of the block");
	same = n == 3;
	for (long i = 0; i < n && same; i++) {
		size_t k = 0;
		while (k < in.n_spans && (memcmp(ptrs[k]->trace_id, out.spans[i].trace_id, 16) ||
					  memcmp(ptrs[k]->span_id, out.spans[i].span_id, 8)))
			k++;
		same = k < in.n_spans && !memcmp(ptrs[k]->trace_id, pick.want, 16) &&
		       spans_equal(ptrs[k], &out.spans[i]);
	}
	ok(same, "and decodes them whole");

	/* corruption is detected, never crashes */
	int detected = 0;
	for (size_t cut = 1; cut < enc.len; cut += 7) {
		struct batch tmp;
		batch_init(&tmp);
		if (block_decode(enc.data, cut, NULL, &tmp, err, sizeof(err)) < 0)
			detected++;
		batch_release(&tmp);
	}
	ok(detected == (int)((enc.len - 2) / 7 + 1), "every truncated block is rejected (%d)", detected);
	enc.data[enc.len / 2] ^= 0x5a;
	batch_release(&out);
	batch_init(&out);
	n = block_decode(enc.data, enc.len, NULL, &out, err, sizeof(err));
	ok(n < 0 || n == 8, "a flipped byte gives an error or a parse, not a crash (%ld)", n);
	free(ptrs);
	buf_release(&enc);
	batch_release(&in);
	batch_release(&out);
}

static char tmpdir[64];

/* Remove the test's data directory (tmpdir) and what is in it. */
static void remove_tmpdir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
}

static struct store *open_store(void)
{
	struct store *s = NULL;
	char err[256];
	struct store_options o = {.dir = tmpdir};
	if (store_open(&s, &o, err, sizeof(err)) < 0)
		printf("# store_open: %s\n", err);
	return s;
}

struct writer_arg {
	struct store *s;
	int id, failures;
};

#define THREADS 4
#define WRITES	25

static void *writer(void *p)
{
	struct writer_arg *a = p;
	for (int i = 0; i < WRITES; i++) {
		struct batch b;
		batch_init(&b);
		struct resource *r = make_resource(&b, a->id % 2 ? "orders" : "billing", "production");
		add_trace(&b, r, (uint32_t)(1000 + a->id * 100 + i), 4,
			  1700000000000000000ull + (uint64_t)i * 1000000000ull, (uint64_t)(10 + i),
			  i % 5 == 0);
		if (store_write_sync(a->s, &b) != 0)
			a->failures++;
		batch_release(&b);
	}
	return NULL;
}

/* Totals of the rollups matching `q`: count, errors, and the merged sketch. */
static uint64_t rollup_totals(struct store *s, const struct store_query *q, unsigned res, struct arena *a,
			      uint64_t *errors, struct sketch *merged)
{
	struct rollup_row *rows;
	size_t n;
	char err[256];
	uint64_t count = 0;
	*errors = 0;
	if (store_rollups(s, q, res, a, &rows, &n, err, sizeof(err)) < 0) {
		printf("# store_rollups: %s\n", err);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		count += rows[i].count;
		if (rows[i].status != REQUEST_OK)
			*errors += rows[i].count;
		if (merged)
			rollup_row_merge(merged, &rows[i], err, sizeof(err));
	}
	store_rollups_release(rows, n);
	return count;
}

/* Every written request is rolled up once per resolution; durations were
 * (10 + i) ms for i in 0..WRITES-1 in each thread, every fifth an error. */
static void test_rollups(struct store *s, struct arena *a)
{
	struct store_query q;
	struct sketch sk;
	uint64_t errors;
	store_query_init(&q);
	q.from_ns = 1700000000000000000ull - 3600ull * 1000000000ull;
	q.to_ns = 1700000000000000000ull + 3600ull * 1000000000ull;
	sketch_init(&sk);
	is_int(rollup_totals(s, &q, 60, a, &errors, &sk), THREADS * WRITES,
	       "minute rollups count every request");
	is_int(errors, THREADS * 5, "minute rollups count the errors");
	double p50 = sketch_quantile(&sk, 0.5), want = (10 + 12) * 1e6; /* 50th of 100: i = 12 */
	ok(p50 >= want * 0.99 && p50 <= want * 1.01, "p50 from merged sketches %.0f within 1%% of %.0f", p50,
	   want);
	is_int(rollup_totals(s, &q, 3600, a, &errors, NULL), THREADS * WRITES,
	       "hour rollups count every request");
	q.service = "orders";
	is_int(rollup_totals(s, &q, 60, a, &errors, NULL), THREADS / 2 * WRITES,
	       "rollups filtered by service");
	q.service = NULL;
	q.status = REQUEST_ERROR;
	is_int(rollup_totals(s, &q, 60, a, &errors, NULL), THREADS * 5, "rollups filtered by status");
	q.status = -1;
	q.env = "nowhere";
	is_int(rollup_totals(s, &q, 60, a, &errors, NULL), 0, "an unknown value matches nothing");
	sketch_release(&sk);
}

static int count_trace(void *arg, const struct span *spans, size_t n)
{
	size_t *c = arg;
	int same = 1;
	for (size_t i = 1; i < n; i++)
		same &= !memcmp(spans[i].trace_id, spans[0].trace_id, 16) &&
			spans[i].start_ns >= spans[i - 1].start_ns;
	c[0]++;
	c[1] += n;
	c[2] += !same;
	return 0;
}

static int count_point(void *arg, const struct metric_point *p)
{
	size_t *c = arg;
	const char *pool = attr_str(p->attrs, p->n_attrs, "pool");
	c[0]++;
	c[1] += pool && !strcmp(pool, "db") && !strcmp(p->resource->service_name, "orders") &&
		p->value == 7.5;
	c[2] += attr_str(p->resource->attrs, p->resource->n_attrs, "telemetry.sdk.language") != NULL;
	return 0;
}

/* Traces a trace at a time, metric points, documents, events and profiles. */
static void test_scans_and_records(struct store *s, struct arena *a)
{
	char err[256];
	size_t c[3] = {0};
	ok(store_scan_traces(s, 0, 0, count_trace, c, err, sizeof(err)) == 0, "trace scan");
	is_int(c[0], THREADS * WRITES, "one call per trace");
	is_int(c[1], THREADS * WRITES * 4, "with every span");
	is_int(c[2], 0, "each call holds one trace by start time");

	struct batch b;
	batch_init(&b);
	struct resource *r = make_resource(&b, "orders", "prod"),
			*r2 = make_resource(&b, "orders", "staging");
	struct attr *ra = arena_zalloc(&b.arena, 4 * sizeof(*ra)); /* the runtime, which CPU judging needs */
	memcpy(ra, r->attrs, 3 * sizeof(*ra));
	ra[3] = (struct attr){.key = "telemetry.sdk.language", .type = ATTR_STRING, .v.s = "nodejs"};
	r->attrs = ra;
	r->n_attrs = 4;
	for (int i = 0; i < 4; i++) {
		struct metric_point *p = batch_add_point(&b);
		p->resource = i == 3 ? r2 : r; /* the first point's series and time, in another environment */
		p->name = i == 2 ? "process.memory.usage" : "db.client.connection.count";
		p->type = METRIC_GAUGE;
		p->time_ns = 1700000000000000000ull + (uint64_t)(i % 3) * 1000000000ull;
		p->value = 7.5;
		p->n_attrs = 1;
		p->attrs = arena_zalloc(&b.arena, sizeof(struct attr));
		p->attrs[0] = (struct attr){.key = "pool", .type = ATTR_STRING, .v.s = "db"};
	}
	ok(store_write_sync(s, &b) == 0, "metric points written");
	batch_release(&b);
	memset(c, 0, sizeof(c));
	ok(store_scan_points(s, 0, 0, "db.client.", count_point, c, err, sizeof(err)) == 0, "point scan");
	is_int(c[0], 3, "by name prefix, each environment its own series");
	is_int(c[1], 3, "with service, attributes and value");
	is_int(c[2], 2, "and the runtime of the resources that name it");

	struct store_record rec = {"rec", "a", 5, "{\"v\":1}"}, *rows;
	size_t n;
	ok(store_put_doc(s, &rec, err, sizeof(err)) == 0, "document put");
	rec.json = "{\"v\":2}";
	store_put_doc(s, &rec, err, sizeof(err));
	rec.id = "b";
	store_put_doc(s, &rec, err, sizeof(err));
	store_docs(s, "rec", NULL, a, &rows, &n, err, sizeof(err));
	ok(n == 2 && !strcmp(rows[0].id, "a") && !strcmp(rows[0].json, "{\"v\":2}"),
	   "a put replaces the document of the same id");
	store_docs(s, "rec", "b", a, &rows, &n, err, sizeof(err));
	is_int(n, 1, "one document by id");
	rec = (struct store_record){"other", "a", 5, "{}"};
	store_put_doc(s, &rec, err, sizeof(err));
	const char *gone[] = {"a", "nonesuch"};
	ok(store_delete_docs(s, "rec", gone, 2, err, sizeof(err)) == 0, "documents deleted (one never was)");
	store_docs(s, "rec", NULL, a, &rows, &n, err, sizeof(err));
	ok(n == 1 && !strcmp(rows[0].id, "b"), "the deleted one is gone, the other stays");
	store_docs(s, "other", "a", a, &rows, &n, err, sizeof(err));
	is_int(n, 1, "the same id of another kind stays");
	ok(store_delete_docs(s, "rec", gone, STORE_DELETE_MAX + 1, err, sizeof(err)) == ERR_TOO_MUCH,
	   "too many ids at once: refused");
	ok(store_delete_docs(s, "rec", gone, 0, err, sizeof(err)) == 0, "none: nothing to do");
	for (int i = 0; i < 3; i++) {
		rec = (struct store_record){"audit", i == 1 ? "b" : "a", 10 + (uint64_t)i, "{}"};
		store_add_event(s, &rec, err, sizeof(err));
	}
	store_events(s, "audit", "a", 0, 0, 0, a, &rows, &n, err, sizeof(err));
	ok(n == 2 && rows[0].time_ns == 12 && rows[1].time_ns == 10, "events of an id, newest first");
	store_events(s, "audit", NULL, 11, 0, 1, a, &rows, &n, err, sizeof(err));
	ok(n == 1 && rows[0].time_ns == 12, "events by time, limited");
	rec.json = NULL;
	ok(store_add_event(s, &rec, err, sizeof(err)) < 0, "an event without JSON is refused");

	struct profile_row p = {.service = "orders",
				.version = "1.0",
				.type = "cpu",
				.unit = "samples",
				.start_ns = 100,
				.end_ns = 200,
				.total = 5,
				.folded = "main;work 3\nmain 2\n"};
	p.folded_len = strlen(p.folded);
	int64_t id1 = 0, id2 = 0;
	ok(store_put_profile(s, &p, &id1, err, sizeof(err)) == 0 && id1 > 0, "profile kept");
	p.service = "billing";
	p.start_ns = 300;
	p.end_ns = 400;
	store_put_profile(s, &p, &id2, err, sizeof(err));
	struct profile_query pq = {.with_data = 1};
	struct profile_row *pr;
	store_profiles(s, &pq, a, &pr, &n, err, sizeof(err));
	ok(n == 2 && pr[0].id == id2 && pr[1].id == id1, "profiles newest first");
	ok(n == 2 && pr[1].folded_len == p.folded_len && !strcmp(pr[1].folded, p.folded) &&
		   !strcmp(pr[1].version, "1.0") && !pr[1].env,
	   "stacks and fields read back");
	pq = (struct profile_query){.service = "orders"};
	store_profiles(s, &pq, a, &pr, &n, err, sizeof(err));
	ok(n == 1 && pr[0].id == id1 && !pr[0].folded, "by service, without the stacks");
	pq = (struct profile_query){.from_ns = 250, .to_ns = 260};
	store_profiles(s, &pq, a, &pr, &n, err, sizeof(err));
	is_int(n, 0, "by time");
}

static void test_store(void)
{
	char err[256];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-test-store-XXXXXX");
	ok(mkdtemp(tmpdir) != NULL, "temp dir");
	struct store *s = open_store();
	ok(s != NULL, "store opens on a new directory");
	if (!s)
		return;

	pthread_t th[THREADS];
	struct writer_arg args[THREADS];
	for (int t = 0; t < THREADS; t++) {
		args[t] = (struct writer_arg){s, t, 0};
		pthread_create(&th[t], NULL, writer, &args[t]);
	}
	int failures = 0;
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		failures += args[t].failures;
	}
	is_int(failures, 0, "concurrent synchronous writes all commit");
	struct store_stats st;
	store_get_stats(s, &st);
	is_int(st.writes, THREADS * WRITES, "every write counted");
	is_int(st.spans, THREADS * WRITES * 4, "every span counted");
	ok(st.commits <= st.writes, "group commit: %llu commits for %llu writes",
	   (unsigned long long)st.commits, (unsigned long long)st.writes);

	struct store_query q;
	struct arena a;
	struct request_row *rows;
	size_t n;
	arena_init(&a);
	store_query_init(&q);
	q.limit = 1000;
	ok(store_search(s, &q, &a, &rows, &n, err, sizeof(err)) == 0, "search");
	is_int(n, THREADS * WRITES, "one request row per trace (root spans only)");
	ok(n && rows[0].endpoint && !strcmp(rows[0].endpoint, "GET /api/orders"), "endpoint is METHOD route");

	q.service = "orders";
	store_search(s, &q, &a, &rows, &n, err, sizeof(err));
	is_int(n, THREADS / 2 * WRITES, "filter by service");
	int all_orders = 1;
	for (size_t i = 0; i < n; i++)
		all_orders &= !strcmp(rows[i].service, "orders");
	ok(all_orders, "every row has that service");

	q.service = NULL;
	q.status = REQUEST_ERROR;
	store_search(s, &q, &a, &rows, &n, err, sizeof(err));
	is_int(n, THREADS * 5, "filter by error status");

	q.status = -1;
	q.order = STORE_SLOWEST;
	q.limit = 3;
	store_search(s, &q, &a, &rows, &n, err, sizeof(err));
	ok(n == 3 && rows[0].duration_ns >= rows[1].duration_ns && rows[1].duration_ns >= rows[2].duration_ns,
	   "slowest first");
	is_int(n ? rows[0].duration_ns : 0, (10 + WRITES - 1) * 1000000ull,
	       "the slowest is the longest written");

	q.order = STORE_NEWEST;
	q.limit = 1000;
	q.min_duration_ns = 20 * 1000000ull;
	q.max_duration_ns = 30 * 1000000ull;
	q.max_exclusive = 1;
	store_search(s, &q, &a, &rows, &n, err, sizeof(err));
	is_int(n, THREADS * 10, "duration range [20 ms, 30 ms)");

	q.min_duration_ns = q.max_duration_ns = 0;
	q.from_ns = 1700000000000000000ull + 10 * 1000000000ull;
	q.to_ns = 1700000000000000000ull + 20 * 1000000000ull;
	store_search(s, &q, &a, &rows, &n, err, sizeof(err));
	is_int(n, THREADS * 10, "time range");

	/* rollups reach the disk within a second of the last write */
	struct store_query all;
	uint64_t errs;
	store_query_init(&all);
	all.from_ns = 1600000000000000000ull;
	all.to_ns = 1800000000000000000ull;
	int waited = 0;
	while (rollup_totals(s, &all, 60, &a, &errs, NULL) < THREADS * WRITES && waited++ < 30)
		usleep(100 * 1000);
	ok(waited <= 20, "rollups flushed within 2 s of the last write (%d00 ms)", waited);
	test_rollups(s, &a);
	test_scans_and_records(s, &a);

	const char **values;
	store_values(s, DICT_SERVICE, 0, 0, &a, &values, &n, err, sizeof(err));
	ok(n == 2 && !strcmp(values[0], "billing") && !strcmp(values[1], "orders"), "service values");

	/* reopen: everything committed is there */
	store_close(s);
	s = open_store();
	ok(s != NULL, "store reopens");
	if (!s)
		return;
	uint8_t id[16] = {0};
	uint32_t seed = 1000 + 3 * 100 + 7;
	memcpy(id, &seed, 4);
	id[15] = 1;
	struct batch b;
	batch_init(&b);
	long got = store_get_trace(s, id, &b, err, sizeof(err));
	is_int(got, 4, "trace by id after reopen: all spans");
	ok(got == 4 && b.spans[0].start_ns <= b.spans[1].start_ns, "spans ordered by start time");
	ok(got == 4 && hex_is_zero(b.spans[0].parent_span_id, 8), "the root comes first");
	batch_release(&b);
	id[15] = 2;
	batch_init(&b);
	is_int(store_get_trace(s, id, &b, err, sizeof(err)), 0, "an unknown trace has no spans");
	batch_release(&b);
	arena_release(&a);
	store_close(s);

	/* lost rollups are rebuilt from the requests at open */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "sqlite3 %s/hotpath.db 'DELETE FROM rollups'", tmpdir);
	if (system(cmd) == 0) {
		s = open_store();
		uint64_t errors;
		store_query_init(&q);
		q.from_ns = 1600000000000000000ull;
		q.to_ns = 1800000000000000000ull;
		arena_init(&a);
		is_int(s ? rollup_totals(s, &q, 60, &a, &errors, NULL) : 0, THREADS * WRITES,
		       "rollups rebuilt from stored requests");
		is_int(errors, THREADS * 5, "rebuilt rollups keep the errors");
		arena_release(&a);
		store_close(s);
	}

	/* a database from the future is refused */
	snprintf(cmd, sizeof(cmd), "sqlite3 %s/hotpath.db 'PRAGMA user_version=999'", tmpdir);
	if (system(cmd) == 0) {
		s = open_store();
		ok(s == NULL, "a newer schema version is refused");
		store_close(s);
	}
	remove_tmpdir();
}

/* ---- edge requests and tier counts ---------------------------------------- */

#define T_EDGE 1700000000000000000ull

/* A span of trace `tr`: span id `id`, parent `parent` (0: none). */
static void edge_span(struct batch *b, const struct resource *r, uint8_t tr, uint8_t id, uint8_t parent,
		      enum span_kind kind, uint64_t start, uint64_t dur_ns)
{
	struct span *s = batch_add_span(b);
	s->trace_id[0] = 0xed;
	s->trace_id[15] = tr;
	s->span_id[7] = id;
	s->parent_span_id[7] = parent;
	s->name = kind == SPAN_KIND_SERVER ? "POST /chat" : "POST";
	s->kind = kind;
	s->start_ns = start;
	s->end_ns = start + dur_ns;
	s->resource = r;
}

/* Sums of the rollups matching `q`: requests, and per tier. */
static uint64_t tier_totals(struct store *s, const struct store_query *q, struct arena *a,
			    uint64_t tiers[TIER_COUNT])
{
	struct rollup_row *rows;
	size_t n;
	char err[256];
	uint64_t count = 0;
	memset(tiers, 0, TIER_COUNT * sizeof(*tiers));
	if (store_rollups(s, q, 60, a, &rows, &n, err, sizeof(err)) < 0) {
		printf("# store_rollups: %s\n", err);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		count += rows[i].count;
		for (int t = 0; t < TIER_COUNT; t++)
			tiers[t] += rows[i].tiers[t];
	}
	store_rollups_release(rows, n);
	return count;
}

static size_t search_n(struct store *s, const struct store_query *q, struct arena *a,
		       struct request_row **rows)
{
	size_t n = 0;
	char err[256];
	if (store_search(s, q, a, rows, &n, err, sizeof(err)) < 0)
		printf("# store_search: %s\n", err);
	return n;
}

static void test_edges_and_tiers(void)
{
	/* durations just either side of each tier bound */
	static const uint64_t mix[] = {0,	  1,	      99999999,	  100000000,  499999999,
				       500000000, 1999999999, 2000000000, 2000000001, 5000000000};
	static const uint64_t want_tiers[TIER_COUNT] = {3, 2, 2, 3};
	struct store_query q;
	struct request_row *rows;
	struct arena a;
	uint64_t tiers[TIER_COUNT];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-test-edge-XXXXXX");
	ok(mkdtemp(tmpdir) != NULL, "edge: temp dir");
	struct store *s = open_store();
	if (!s)
		return;
	arena_init(&a);
	/* 10 traces gateway -> agent, each service exporting its own batch; for
	 * the odd ones the agent's spans arrive before the gateway's */
	for (uint8_t tr = 1; tr <= 10; tr++) {
		struct batch gw, ag;
		uint64_t t0 = T_EDGE + tr * 1000000000ull;
		batch_init(&gw);
		batch_init(&ag);
		struct resource *rg = make_resource(&gw, "gateway", "production");
		struct resource *ra = make_resource(&ag, "agent", "production");
		edge_span(&gw, rg, tr, 1, 0, SPAN_KIND_SERVER, t0, 50000000);
		edge_span(&gw, rg, tr, 2, 1, SPAN_KIND_CLIENT, t0 + 1000000, 48000000);
		edge_span(&ag, ra, tr, 3, 2, SPAN_KIND_SERVER, t0 + 2000000, 45000000);
		edge_span(&ag, ra, tr, 4, 3, SPAN_KIND_CLIENT, t0 + 3000000, 40000000);
		ok(store_write_sync(s, tr % 2 ? &ag : &gw) == 0 &&
			   store_write_sync(s, tr % 2 ? &gw : &ag) == 0,
		   "edge: trace %d written in two batches", tr);
		batch_release(&gw);
		batch_release(&ag);
	}
	/* an agent request whose caller is not traced here: it has a parent id */
	struct batch b;
	batch_init(&b);
	edge_span(&b, make_resource(&b, "agent", "production"), 30, 7, 9, SPAN_KIND_SERVER, T_EDGE, 1000000);
	/* the tier mix: one root SERVER span each */
	struct resource *rt = make_resource(&b, "tiers", "production");
	for (uint8_t i = 0; i < sizeof(mix) / sizeof(mix[0]); i++)
		edge_span(&b, rt, (uint8_t)(40 + i), 1, 0, SPAN_KIND_SERVER, T_EDGE + i * 1000000ull, mix[i]);
	ok(store_write_sync(s, &b) == 0, "edge: orphan and tier mix written");
	batch_release(&b);

	store_query_init(&q);
	q.limit = 1000;
	size_t n = search_n(s, &q, &a, &rows);
	is_int(n, 31, "edge: every entry span is a request row");
	size_t edges = 0, agent_edges = 0;
	for (size_t i = 0; i < n; i++) {
		edges += rows[i].edge;
		agent_edges += rows[i].edge && !strcmp(rows[i].service, "agent");
	}
	is_int(edges, 20, "edge: one edge per trace that has its root");
	is_int(agent_edges, 0, "edge: an entry span with a parent is never the edge");
	q.edge_only = 1;
	is_int(search_n(s, &q, &a, &rows), 20, "edge: edge_only lists each trace once");
	q.service = "agent";
	is_int(search_n(s, &q, &a, &rows), 0, "edge: edge_only with service agent: none");
	q.edge_only = 0;
	is_int(search_n(s, &q, &a, &rows), 11, "edge: the agent's entry spans");

	store_query_init(&q);
	q.from_ns = T_EDGE - 60000000000ull;
	q.to_ns = T_EDGE + 3600000000000ull;
	q.edge_only = 1;
	is_int(tier_totals(s, &q, &a, tiers), 20, "edge: fleet rollups count each trace once");
	q.edge_only = 0;
	q.service = "agent";
	is_int(tier_totals(s, &q, &a, tiers), 11, "edge: per-service rollups count its entry spans");
	q.service = "tiers";
	is_int(tier_totals(s, &q, &a, tiers), 10, "tiers: every request rolled up");
	for (int t = 0; t < TIER_COUNT; t++)
		is_int(tiers[t], want_tiers[t], "tiers: %s counted exactly", request_tier_names[t]);
	store_close(s);

	/* reopened with the rollups gone: rebuilt with the same flags and counts */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "sqlite3 %s/hotpath.db 'DELETE FROM rollups'", tmpdir);
	if (system(cmd) == 0 && (s = open_store())) {
		q.service = "tiers";
		tier_totals(s, &q, &a, tiers);
		is_int(tiers[TIER_CRITICAL], 3, "tiers: rebuilt rollups keep exact tier counts");
		q.service = NULL;
		q.edge_only = 1;
		is_int(tier_totals(s, &q, &a, tiers), 20, "edge: rebuilt rollups keep the edge flag");
		store_close(s);
	}
	arena_release(&a);
	remove_tmpdir();
}

/* ---- version=latest: the newest version of each service ------------------ */

#define T_VER	  1700000100000000000ull
#define MINUTE_NS 60000000000ull

/* One batch of `n` root SERVER requests of `service` at `version` (NULL:
 * none) in `env`, named `name`, starting at minute `minute` after T_VER. */
static int write_version(struct store *s, const char *service, const char *version, const char *env,
			 const char *name, int minute, int n)
{
	static uint16_t trace;
	struct batch b;
	batch_init(&b);
	struct resource *r = make_resource(&b, service, env);
	r->attrs[2].v.s = version ? version : "";
	r->n_attrs = version ? 3 : 2;
	resource_derive(r);
	for (int i = 0; i < n; i++) {
		struct span *sp = batch_add_span(&b);
		trace++;
		sp->trace_id[0] = 0x1a;
		memcpy(sp->trace_id + 8, &trace, sizeof(trace));
		sp->span_id[7] = 1;
		sp->name = name;
		sp->kind = SPAN_KIND_SERVER;
		sp->start_ns = T_VER + (uint64_t)minute * MINUTE_NS + (uint64_t)i * 1000000;
		sp->end_ns = sp->start_ns + 20000000;
		sp->resource = r;
	}
	int rc = store_write_sync(s, &b);
	batch_release(&b);
	return rc;
}

/* The resolved pairs as "service=version ..." (version "-" when none). */
static const char *latest_of(struct store *s, struct store_query *q, struct arena *a)
{
	static char out[256];
	struct service_version *pairs;
	char err[256];
	size_t len = 0;
	out[0] = 0;
	if (store_latest_versions(s, q, a, &pairs, &q->n_latest, err, sizeof(err)) < 0) {
		printf("# store_latest_versions: %s\n", err);
		return "error";
	}
	q->latest = 1;
	q->latest_versions = pairs;
	for (size_t i = 0; i < q->n_latest && len < sizeof(out); i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s=%s", i ? " " : "",
					pairs[i].service, pairs[i].version ? pairs[i].version : "-");
	return out;
}

static void test_latest_versions(void)
{
	struct store_query q;
	struct request_row *rows;
	struct arena a;
	uint64_t tiers[TIER_COUNT];
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-test-latest-XXXXXX");
	ok(mkdtemp(tmpdir) != NULL, "latest: temp dir");
	struct store *s = open_store();
	if (!s)
		return;
	arena_init(&a);
	/* stored in this order; admin's newest is not its highest version, the
	 * worker sends none, a release candidate of shop runs in staging only,
	 * and shop 2.4.0 serves again after 2.5.0 appeared */
	int rc = write_version(s, "shop", "2.4.0", "production", "GET /cart", 0, 3) |
		 write_version(s, "admin", "10.0", "production", "GET /users", 1, 2) |
		 write_version(s, "shop", "2.5.0", "production", "GET /cart", 10, 4) |
		 write_version(s, "admin", "9.9-hotfix", "production", "GET /users", 20, 1) |
		 write_version(s, "worker", NULL, "production", "POST /jobs", 21, 2) |
		 write_version(s, "shop", "2.6.0-rc", "staging", "GET /cart", 30, 1) |
		 write_version(s, "shop", "2.4.0", "production", "GET /cart", 31, 1);
	ok(rc == 0, "latest: requests of three services written");

	store_query_init(&q);
	q.from_ns = T_VER;
	q.to_ns = T_VER + 60 * MINUTE_NS;
	q.limit = 1000;
	q.env = "production";
	/* right after the writes the newest keys may not be rolled up yet:
	 * those pairs are the newest of their service */
	is_str(latest_of(s, &q, &a), "admin=9.9-hotfix shop=2.5.0 worker=-",
	       "latest: per service the version first seen last, not the highest (as soon as stored)");
	is_int(search_n(s, &q, &a, &rows), 7, "latest: search keeps those versions' requests only");
	int other = 0;
	for (size_t i = 0; i < 7; i++)
		other += !store_query_version_ok(&q, rows[i].service, rows[i].version);
	is_int(other, 0, "latest: every row found is of its service's newest version");
	is_int(tier_totals(s, &q, &a, tiers), 7, "latest: the rollups keep the same requests");
	is_str(latest_of(s, &q, &a), "admin=9.9-hotfix shop=2.5.0 worker=-",
	       "latest: the same once every key is rolled up");
	q.edge_only = 1;
	is_int(tier_totals(s, &q, &a, tiers), 7, "latest: fleet rollups (edge requests) too");
	q.edge_only = 0;

	ok(store_query_version_ok(&q, "admin", "9.9-hotfix") &&
		   !store_query_version_ok(&q, "admin", "10.0") &&
		   store_query_version_ok(&q, "worker", NULL) &&
		   !store_query_version_ok(&q, "worker", "1.0") &&
		   !store_query_version_ok(&q, "shop", NULL) && !store_query_version_ok(&q, "other", "2.5.0"),
	   "latest: version_ok tells each service's pair, no version for the worker, unknown services not");

	q.env = NULL;
	is_str(latest_of(s, &q, &a), "admin=9.9-hotfix shop=2.6.0-rc worker=-",
	       "latest: in every environment, the staging candidate is shop's newest");
	is_int(search_n(s, &q, &a, &rows), 4, "latest: and only its request of shop counts");

	q.env = "production";
	q.service = "shop";
	is_str(latest_of(s, &q, &a), "shop=2.5.0", "latest: a service filter lists that service only");
	is_int(search_n(s, &q, &a, &rows), 4, "latest: shop 2.5.0's requests");
	q.service = NULL;
	q.endpoint = "POST /jobs";
	is_str(latest_of(s, &q, &a), "worker=-", "latest: an endpoint filter lists the services serving it");
	q.endpoint = NULL;

	q.to_ns = T_VER + 10 * MINUTE_NS;
	is_str(latest_of(s, &q, &a), "admin=10.0 shop=2.4.0",
	       "latest: before 2.5.0 appeared, 2.4.0 is newest");
	is_int(search_n(s, &q, &a, &rows), 5, "latest: its requests and admin 10.0's");
	q.from_ns = T_VER + 40 * MINUTE_NS;
	q.to_ns = T_VER + 50 * MINUTE_NS;
	is_str(latest_of(s, &q, &a), "", "latest: a range without requests resolves to nothing");
	is_int(search_n(s, &q, &a, &rows), 0, "latest: and matches nothing");
	is_int(tier_totals(s, &q, &a, tiers), 0, "latest: in the rollups neither");

	store_query_init(&q);
	q.version = "10.0";
	ok(store_query_version_ok(&q, "admin", "10.0") && !store_query_version_ok(&q, "admin", "9.9-hotfix"),
	   "latest: a plain version filter is told as before");
	store_close(s);
	arena_release(&a);
	remove_tmpdir();
}

/* ---- filter values: from the rollups, equal to a DISTINCT over the rows ---- */

#define T_VAL 1700002800000000000ull /* a whole hour */

static int write_one(struct store *s, const char *service, const char *version, const char *env,
		     const char *name, uint64_t start_ns)
{
	static uint16_t trace;
	struct batch b;
	batch_init(&b);
	struct resource *r = make_resource(&b, service, env);
	r->attrs[2].v.s = version;
	resource_derive(r);
	struct span *sp = batch_add_span(&b);
	trace++;
	sp->trace_id[0] = 0x7a;
	memcpy(sp->trace_id + 8, &trace, sizeof(trace));
	sp->span_id[7] = 1;
	sp->name = name;
	sp->kind = SPAN_KIND_SERVER;
	sp->start_ns = start_ns;
	sp->end_ns = start_ns + 30000000;
	sp->resource = r;
	int rc = store_write_sync(s, &b);
	batch_release(&b);
	return rc;
}

/* What DISTINCT over the stored request rows says, as "a,b,c". */
static const char *brute_values(const char *col, uint64_t from, uint64_t to)
{
	static char out[1024];
	char path[128], sql[256];
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t len = 0;
	out[0] = 0;
	snprintf(path, sizeof(path), "%s/hotpath.db", tmpdir);
	snprintf(sql, sizeof(sql),
		 "SELECT DISTINCT d.value FROM requests r JOIN dict d ON d.id = r.%s"
		 " WHERE r.start_ns >= ?1 AND r.start_ns < ?2 ORDER BY 1",
		 col);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return "error";
	}
	sqlite3_bind_int64(st, 1, (int64_t)from);
	sqlite3_bind_int64(st, 2, to ? (int64_t)to : INT64_MAX);
	while (sqlite3_step(st) == SQLITE_ROW && len < sizeof(out))
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", len ? "," : "",
					(const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static const char *joined(const char **v, size_t n)
{
	static char out[1024];
	size_t len = 0;
	out[0] = 0;
	for (size_t i = 0; i < n && len < sizeof(out); i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? "," : "", v[i]);
	return out;
}

/* Every dimension of store_filter_values() over [from, to) against the brute force. */
static void check_values(struct store *s, struct arena *a, uint64_t from, uint64_t to, const char *what)
{
	static const char *const cols[DICT_KINDS] = {
		[DICT_SERVICE] = "service", [DICT_ENDPOINT] = "endpoint",     [DICT_ENV] = "env",
		[DICT_VERSION] = "version", [DICT_DEPARTMENT] = "department", [DICT_INTENT] = "intent",
		[DICT_TOOL] = "tool",	    [DICT_ERROR_TYPE] = "error_type",
	};
	struct store_dim_values v;
	char err[256], want[1024];
	unsigned all = 0;
	for (int k = DICT_SERVICE; k < DICT_KINDS; k++)
		all |= 1u << k;
	if (store_filter_values(s, from, to, all, a, &v, err, sizeof(err)) < 0) {
		ok(0, "values: %s: %s", what, err);
		return;
	}
	for (int k = DICT_SERVICE; k < DICT_KINDS; k++) {
		snprintf(want, sizeof(want), "%s", brute_values(cols[k], from, to));
		is_str(joined(v.values[k], v.n[k]), want, "values: %s: %s as DISTINCT over the rows", what,
		       cols[k]);
	}
}

static void test_values(void)
{
	static const char *const shop[] = {"GET /a", "GET /b", "GET /c", "GET /d", "GET /e", "GET /f"};
	struct arena a;
	struct store_query q;
	char err[256];
	int rc = 0;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-test-values-XXXXXX");
	ok(mkdtemp(tmpdir) != NULL, "values: temp dir");
	struct store *s = NULL;
	struct store_options o = {.dir = tmpdir, .max_endpoints = 3};
	if (store_open(&s, &o, err, sizeof(err)) < 0) {
		ok(0, "values: store_open: %s", err);
		return;
	}
	arena_init(&a);
	/* over three and a half hours: shop's six endpoints (three fold into
	 * "other" in the rollups), admin's real endpoint "other", versions and
	 * environments that change with time */
	for (int k = 0; k < 30; k++) {
		uint64_t t = T_VAL + (uint64_t)k * 7 * MINUTE_NS + (uint64_t)(k % 5) * 13000000000ull;
		rc |= write_one(s, "shop", k < 15 ? "1.0" : "2.0", "production", shop[k % 6], t);
		if (k % 4 == 0)
			rc |= write_one(s, "admin", "9", k < 20 ? "staging" : "production",
					k % 8 ? "other" : "GET /users", t + 5000000000ull);
	}
	ok(rc == 0, "values: requests written");
	struct store_stats stats;
	store_get_stats(s, &stats);
	ok(stats.rollup_folded > 0, "values: shop's endpoints past the third folded in the rollups (%llu)",
	   (unsigned long long)stats.rollup_folded);

	check_values(s, &a, T_VAL + 90 * 1000000000ull, T_VAL + 3 * 3600 * 1000000000ull + 17000000000ull,
		     "a range cutting minutes and hours");
	check_values(s, &a, T_VAL + 61 * MINUTE_NS + 5000000000ull, T_VAL + 64 * MINUTE_NS,
		     "whole minutes, no whole hour");
	check_values(s, &a, T_VAL + 7 * MINUTE_NS + 10000000000ull, T_VAL + 7 * MINUTE_NS + 30000000000ull,
		     "within one minute");
	check_values(s, &a, T_VAL + 84 * MINUTE_NS, T_VAL + 126 * MINUTE_NS + 1,
		     "minutes only, ends on a row");
	check_values(s, &a, 0, 0, "all time");
	check_values(s, &a, T_VAL - 24 * 3600 * 1000000000ull, T_VAL - 3600 * 1000000000ull, "no requests");

	/* read-your-writes: a value stored just now is listed at once */
	ok(write_one(s, "billing", "3.1", "eu", "POST /pay", T_VAL + 2 * 3600 * 1000000000ull + MINUTE_NS) ==
		   0,
	   "values: a new service written");
	check_values(s, &a, T_VAL, T_VAL + 4 * 3600 * 1000000000ull, "right after a write");

	/* version=latest selected by an endpoint that the rollups folded */
	store_query_init(&q);
	q.from_ns = T_VAL;
	q.to_ns = T_VAL + 4 * 3600 * 1000000000ull;
	q.endpoint = "GET /f";
	is_str(latest_of(s, &q, &a), "shop=2.0", "values: a folded endpoint still selects its service");
	q.endpoint = "other";
	is_str(latest_of(s, &q, &a), "admin=9",
	       "values: a real endpoint named other selects only its service");
	q.endpoint = "GET /nowhere";
	is_str(latest_of(s, &q, &a), "", "values: an endpoint never stored selects nothing");
	store_close(s);
	arena_release(&a);
	remove_tmpdir();
}

/* A store of schema 3 (no edge flags, no tier counts) opened by this one. */
static void test_migrate_3(void)
{
	char path[128], err[256];
	sqlite3 *db;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-test-mig-XXXXXX");
	ok(mkdtemp(tmpdir) != NULL, "migrate: temp dir");
	snprintf(path, sizeof(path), "%s/hotpath.db", tmpdir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return;
	int rc = schema_migrate_to(db, 3, err, sizeof(err));
	ok(rc == 0, "migrate: a schema 3 store made (%s)", rc ? err : "ok");
	/* trace 1: gateway then agent; trace 2: the agent alone; trace 3:
	 * gateway alone.  Durations: 2.5 s, 2.4 s, 150 ms, 99 ms. */
	rc = sqlite3_exec(
		db,
		"INSERT INTO dict(id, kind, value) VALUES(1, 1, 'gateway'), (2, 1, 'agent'), (3, 2, 'POST "
		"/chat');"
		"INSERT INTO requests(start_ns, duration_ns, trace_hi, trace_lo, span_id, status, service,"
		" endpoint, block) VALUES"
		" (1700000000100000000, 2500000000, 1, 1, 1, 0, 1, 3, 0),"
		" (1700000000105000000, 2400000000, 1, 1, 3, 0, 2, 3, 0),"
		" (1700000000200000000, 150000000, 1, 2, 3, 0, 2, 3, 0),"
		" (1700000000300000000, 99000000, 1, 3, 1, 0, 1, 3, 0);",
		NULL, NULL, NULL);
	ok(rc == SQLITE_OK, "migrate: schema 3 requests stored (%s)", sqlite3_errmsg(db));
	sqlite3_close(db);

	struct store *s = open_store();
	ok(s != NULL, "migrate: a schema 3 store opens");
	if (s) {
		struct store_query q;
		struct arena a;
		struct request_row *rows;
		uint64_t tiers[TIER_COUNT];
		arena_init(&a);
		store_query_init(&q);
		q.edge_only = 1;
		size_t n = search_n(s, &q, &a, &rows);
		is_int(n, 3, "migrate: the earliest entry span of each trace is its edge");
		int agent_alone = 0;
		for (size_t i = 0; i < n; i++)
			agent_alone += !strcmp(rows[i].service, "agent") && rows[i].duration_ns == 150000000;
		is_int(agent_alone, 1, "migrate: a trace without its root counts at its first entry span");
		q.from_ns = 1700000000000000000ull;
		q.to_ns = 1700000060000000000ull;
		is_int(tier_totals(s, &q, &a, tiers), 3, "migrate: fleet rollups rebuilt, each trace once");
		ok(tiers[TIER_CRITICAL] == 1 && tiers[TIER_NORMAL] == 1 && tiers[TIER_FAST] == 1,
		   "migrate: rebuilt rollups count tiers exactly");
		q.edge_only = 0;
		tier_totals(s, &q, &a, tiers);
		is_int(tiers[TIER_CRITICAL], 2, "migrate: per-service rollups count every entry span");
		/* a request written after the migration takes the next id */
		struct batch b;
		batch_init(&b);
		add_trace(&b, make_resource(&b, "gateway", "production"), 9, 2, 1700000000400000000ull, 30,
			  0);
		ok(store_write_sync(s, &b) == 0, "migrate: a request written after the migration");
		batch_release(&b);
		arena_release(&a);
		store_close(s);
	}
	/* schema 6: the rows in write order, their ids still counting in write order */
	if (sqlite3_open(path, &db) == SQLITE_OK) {
		sqlite3_stmt *st;
		int64_t v[3] = {-1, -1, -1};
		if (sqlite3_prepare_v2(db,
				       "SELECT count(DISTINCT id), max(id), (SELECT id FROM requests"
				       " WHERE start_ns = 1700000000400000000) FROM requests",
				       -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			for (int i = 0; i < 3; i++)
				v[i] = sqlite3_column_int64(st, i);
		sqlite3_finalize(st);
		ok(v[0] == 5 && v[1] == 5 && v[2] == 5,
		   "migrate: ids 1 .. 4 kept, the new row is 5 (%lld %lld %lld)", (long long)v[0],
		   (long long)v[1], (long long)v[2]);
		sqlite3_close(db);
	}
	remove_tmpdir();
}

/* Write `traces` traces of 4 spans starting at `start` (a second apart),
 * trace ids from `seed` on, one batch. */
static int write_traces(struct store *s, uint32_t seed, int traces, uint64_t start)
{
	struct batch b;
	batch_init(&b);
	struct resource *r = make_resource(&b, "orders", "production");
	for (int i = 0; i < traces; i++)
		add_trace(&b, r, seed + (uint32_t)i, 4, start + (uint64_t)i * 1000000000ull, 30, 0);
	int rc = store_write_sync(s, &b);
	batch_release(&b);
	return rc;
}

/* Metric points of `series` series at `t` (a second apart), and a profile
 * over [t, t + 10 s). */
static int write_points_profile(struct store *s, int series, uint64_t t)
{
	struct batch b;
	char err[256];
	int64_t id;
	batch_init(&b);
	struct resource *r = make_resource(&b, "orders", "production");
	static const char *const names[] = {"a.count", "b.count", "c.count"};
	for (int i = 0; i < series * 2; i++) {
		struct metric_point *p = batch_add_point(&b);
		p->resource = r;
		p->name = names[i % series];
		p->type = METRIC_GAUGE;
		p->time_ns = t + (uint64_t)(i / series) * NS_PER_S;
		p->value = i;
	}
	int rc = store_write_sync(s, &b);
	batch_release(&b);
	struct profile_row pr = {.service = "orders",
				 .type = "cpu",
				 .unit = "samples",
				 .start_ns = t,
				 .end_ns = t + 10 * NS_PER_S,
				 .total = 2,
				 .folded = "main;work 2\n"};
	pr.folded_len = strlen(pr.folded);
	return rc || store_put_profile(s, &pr, &id, err, sizeof(err));
}

/* A window's request rows as text: what must not change. */
static void window_text(struct store *s, uint64_t from, uint64_t to, struct buf *out)
{
	struct store_query q;
	struct arena a;
	struct request_row *rows;
	arena_init(&a);
	store_query_init(&q);
	q.from_ns = from;
	q.to_ns = to;
	q.limit = 1000;
	size_t n = search_n(s, &q, &a, &rows);
	buf_reset(out);
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "%llu %llu %02x%02x %s %s\n", (unsigned long long)rows[i].start_ns,
			   (unsigned long long)rows[i].duration_ns, rows[i].trace_id[0], rows[i].trace_id[1],
			   rows[i].service, rows[i].endpoint);
	arena_release(&a);
}

static int wait_retention(struct store *s, struct store_stats *st)
{
	for (int i = 0; i < 400; i++) {
		store_get_stats(s, st);
		if (st->retention_steps > 1 && !st->retention_pending)
			return 0;
		usleep(25000);
	}
	return -1;
}

/* Retention: a store with old data is trimmed in bounded steps while
 * writes go on; the kept window answers as before. */
static void test_retention(void)
{
	char err[256];
	uint64_t now = clock_now_ns(), old = now - 10 * NS_PER_DAY, kept = now - 2 * NS_PER_HOUR;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-test-ret-XXXXXX");
	ok(mkdtemp(tmpdir) != NULL, "retention: temp dir");
	struct store *s = open_store();
	int rc = 0;
	for (uint32_t w = 0; w < 6 && s; w++) /* 6 writes of 5 old traces: 6 blocks, 30 requests */
		rc |= write_traces(s, 100 + 10 * w, 5, old + w * NS_PER_MIN);
	rc |= s ? write_traces(s, 500, 3, kept) : -1;
	rc |= s ? write_points_profile(s, 3, old) | write_points_profile(s, 3, kept) : -1;
	ok(rc == 0, "retention: old and recent traces, metric points and profiles written");
	struct buf before, after;
	buf_init(&before, BUF_NO_LIMIT);
	buf_init(&after, BUF_NO_LIMIT);
	if (s)
		window_text(s, kept - NS_PER_MIN, kept + NS_PER_HOUR, &before);
	store_close(s);

	/* reopened with 7 days for spans and rows, 1 row a step: many steps */
	struct store_options o = {.dir = tmpdir};
	o.retention.keep_ns[KEPT_SPANS] = o.retention.keep_ns[KEPT_REQUESTS] = 7 * NS_PER_DAY;
	o.retention.keep_ns[KEPT_MINUTE_ROLLUPS] = o.retention.keep_ns[KEPT_HOUR_ROLLUPS] = 7 * NS_PER_DAY;
	o.retention.keep_ns[KEPT_POINTS] = o.retention.keep_ns[KEPT_PROFILES] = 7 * NS_PER_DAY;
	o.retention.keep_ns[KEPT_METRIC_HOURS] = 7 * NS_PER_DAY;
	o.retention.interval_ms = 50;
	o.retention.step_rows = 1;
	o.retention.step_chunks = 1;
	if (store_open(&s, &o, err, sizeof(err)) < 0) {
		printf("# store_open: %s\n", err);
		return;
	}
	int writes_ok = 1;
	for (uint32_t w = 0; w < 5; w++) /* ingest goes on while it deletes */
		writes_ok &= write_traces(s, 700 + w, 1, now - NS_PER_MIN + w) == 0;
	ok(writes_ok, "retention: writes commit while old data is deleted");
	struct store_stats st;
	int waited = wait_retention(s, &st);
	ok(waited == 0, "retention: done within 10 s");
	ok(st.retention_steps >= 30, "retention: in bounded steps (%llu)",
	   (unsigned long long)st.retention_steps);
	is_int((long)st.retention_deleted[KEPT_SPANS], 120, "retention: the old spans deleted, counted");
	is_int((long)st.retention_deleted[KEPT_REQUESTS], 30, "retention: the old request rows deleted");
	ok(st.retention_deleted[KEPT_MINUTE_ROLLUPS] >= 6 && st.retention_deleted[KEPT_HOUR_ROLLUPS] >= 1,
	   "retention: the old minute and hour rollups deleted (%llu, %llu)",
	   (unsigned long long)st.retention_deleted[KEPT_MINUTE_ROLLUPS],
	   (unsigned long long)st.retention_deleted[KEPT_HOUR_ROLLUPS]);
	is_int((long)st.retention_deleted[KEPT_POINTS], 6, "retention: the old metric points deleted");
	is_int((long)st.retention_deleted[KEPT_PROFILES], 1, "retention: the old profile deleted");
	ok(st.retention_deleted[KEPT_METRIC_HOURS] >= 1,
	   "retention: the old points' hourly aggregates deleted (%llu)",
	   (unsigned long long)st.retention_deleted[KEPT_METRIC_HOURS]);
	size_t n_points[3] = {0};
	store_scan_points(s, 0, 0, NULL, count_point, n_points, err, sizeof(err));
	is_int((long)n_points[0], 6, "retention: the recent points stay");
	struct arena pa;
	struct profile_row *prof;
	size_t n_prof = 0;
	arena_init(&pa);
	struct profile_query pq = {.limit = 10};
	store_profiles(s, &pq, &pa, &prof, &n_prof, err, sizeof(err));
	ok(n_prof == 1 && prof[0].start_ns == kept, "retention: the recent profile stays");
	arena_release(&pa);
	struct batch tr;
	batch_init(&tr);
	uint8_t id[16] = {0};
	uint32_t seed = 100;
	memcpy(id, &seed, 4);
	id[15] = 1;
	is_int(store_get_trace(s, id, &tr, err, sizeof(err)), 0, "retention: an old trace is gone");
	seed = 500;
	memcpy(id, &seed, 4);
	is_int(store_get_trace(s, id, &tr, err, sizeof(err)), 4, "retention: a kept trace is whole");
	batch_release(&tr);
	window_text(s, kept - NS_PER_MIN, kept + NS_PER_HOUR, &after);
	ok(before.len > 0 && before.len == after.len && !memcmp(before.data, after.data, before.len),
	   "retention: the kept window answers as before");
	window_text(s, old - NS_PER_HOUR, old + NS_PER_HOUR, &after);
	is_int((long)after.len, 0, "retention: the old window has no rows left");
	store_close(s);

	/* a disk budget below what is used: the oldest blocks go, and the
	 * request rows as old as they */
	memset(&o.retention, 0, sizeof(o.retention));
	o.retention.disk_budget = 1;
	o.retention.interval_ms = 50;
	if (store_open(&s, &o, err, sizeof(err)) < 0)
		return;
	waited = wait_retention(s, &st);
	ok(waited == 0, "budget: trimmed until nothing raw is left");
	struct store_blocks bi;
	store_blocks_info(s, 0, 0, &bi, err, sizeof(err));
	is_int((long)bi.count, 0, "budget: every block deleted, oldest first");
	window_text(s, 0, now + NS_PER_HOUR, &after);
	is_int((long)after.len, 0, "budget: and every request row as old as they");
	store_close(s);
	buf_release(&before);
	buf_release(&after);
	remove_tmpdir();
}

/* A profile at `t` whose stacks are ~`bytes` of text that compresses little. */
static int write_big_profile(struct store *s, uint64_t t, size_t bytes, uint32_t *rnd)
{
	char err[256];
	int64_t id;
	struct buf f;
	buf_init(&f, BUF_NO_LIMIT);
	while (f.len < bytes) {
		*rnd ^= *rnd << 13, *rnd ^= *rnd >> 17, *rnd ^= *rnd << 5; /* xorshift32 */
		uint32_t a = *rnd;
		*rnd ^= *rnd << 13, *rnd ^= *rnd >> 17, *rnd ^= *rnd << 5;
		buf_printf(&f, "main;f%08x;g%08x 1\n", a, *rnd);
	}
	struct profile_row pr = {.service = "orders",
				 .type = "cpu",
				 .unit = "samples",
				 .start_ns = t,
				 .end_ns = t + 10 * NS_PER_S,
				 .total = 1,
				 .folded = f.data,
				 .folded_len = f.len};
	int rc = store_put_profile(s, &pr, &id, err, sizeof(err));
	buf_release(&f);
	return rc;
}

static long long file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* The incremental vacuum: data deleted by retention gives its room back to
 * the file system; a store made without it still opens and works. */
static void test_vacuum(void)
{
	char err[256], db[128];
	uint64_t now = clock_now_ns(), old = now - 10 * NS_PER_DAY;
	uint32_t rnd = 2463534242u;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-test-vac-XXXXXX");
	ok(mkdtemp(tmpdir) != NULL, "vacuum: temp dir");
	snprintf(db, sizeof(db), "%s/hotpath.db", tmpdir);
	struct store *s = open_store();
	int rc = s ? 0 : -1;
	for (int i = 0; i < 40 && s; i++) /* ~26 MiB of old profiles, one recent */
		rc |= write_big_profile(s, old + (uint64_t)i * NS_PER_MIN, 3u << 19, &rnd);
	rc |= s ? write_big_profile(s, now - NS_PER_HOUR, 1u << 20, &rnd) : 0;
	ok(rc == 0, "vacuum: old and recent profiles written");
	store_close(s);
	long long full = file_size(db);
	ok(full > 20ll << 20, "vacuum: the file holds them (%lld bytes)", full);

	struct store_options o = {.dir = tmpdir};
	o.retention.keep_ns[KEPT_PROFILES] = 7 * NS_PER_DAY;
	o.retention.interval_ms = 50;
	if (store_open(&s, &o, err, sizeof(err)) < 0) {
		printf("# store_open: %s\n", err);
		return;
	}
	struct store_stats st;
	ok(wait_retention(s, &st) == 0, "vacuum: retention and vacuum done within 10 s");
	is_int((long)st.retention_deleted[KEPT_PROFILES], 40, "vacuum: the old profiles deleted");
	ok(st.vacuumed_pages > 4000, "vacuum: their pages given back (%lld)", (long long)st.vacuumed_pages);
	ok(st.free_bytes < (16u << 20), "vacuum: fewer free bytes than a step's threshold left (%llu)",
	   (unsigned long long)st.free_bytes);
	printf("# vacuum: %llu retention steps, the longest %.1f ms\n",
	       (unsigned long long)st.retention_steps, (double)st.retention_step_max_ns / 1e6);
	store_close(s);
	long long after = file_size(db);
	ok(after > 0 && after < full / 2, "vacuum: the file shrank from %lld to %lld bytes", full, after);

	/* a store made before: no auto_vacuum (VACUUM converts it back here) */
	sqlite3 *raw;
	rc = sqlite3_open(db, &raw) == SQLITE_OK ? 0 : -1;
	rc |= sqlite3_exec(raw, "PRAGMA auto_vacuum=NONE; VACUUM", NULL, NULL, NULL);
	sqlite3_stmt *q;
	int mode = -1;
	if (sqlite3_prepare_v2(raw, "PRAGMA auto_vacuum", -1, &q, NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		mode = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(raw);
	ok(rc == 0 && mode == 0, "vacuum: a store without auto_vacuum made");
	if (store_open(&s, &o, err, sizeof(err)) < 0) {
		ok(0, "vacuum: the older store opens: %s", err);
		return;
	}
	ok(write_big_profile(s, now, 4096, &rnd) == 0, "vacuum: the older store takes writes");
	struct arena pa;
	struct profile_row *prof;
	size_t n_prof = 0;
	arena_init(&pa);
	struct profile_query pq = {.limit = 10};
	store_profiles(s, &pq, &pa, &prof, &n_prof, err, sizeof(err));
	is_int((long)n_prof, 2, "vacuum: and reads back both profiles");
	arena_release(&pa);
	store_get_stats(s, &st);
	is_int((long)st.vacuumed_pages, -1, "vacuum: it says it has no incremental vacuum");
	store_close(s);
	uint64_t b0 = 0, b1 = 0;
	err[0] = 0;
	rc = store_compact(tmpdir, &b0, &b1, err, sizeof(err));
	/* already small: the rewrite adds only the vacuum's pointer-map pages */
	ok(rc == 0 && b0 > 0 && b1 > 0 && b1 < b0 + b0 / 20,
	   "vacuum: compact rewrites it (%llu -> %llu bytes) %s", (unsigned long long)b0,
	   (unsigned long long)b1, err);
	if (store_open(&s, &o, err, sizeof(err)) == 0) {
		store_get_stats(s, &st);
		is_int((long)st.vacuumed_pages, 0, "vacuum: after compact it has incremental vacuum");
		store_close(s);
	}
	ok(store_compact("/nonexistent-dir", &b0, &b1, err, sizeof(err)) < 0,
	   "vacuum: compact of no store fails");
	remove_tmpdir();
}

/* Retention keeps up with ingest: a step deletes blocks for as long as
 * its time allows, not one block a step (at 73,000 spans a second one
 * block a step fell behind and the store outgrew its budget). */
static void test_retention_keeps_up(void)
{
	enum { BLOCKS = 60 };
	char err[256];
	uint64_t old = clock_now_ns() - 10 * NS_PER_DAY;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-test-ret-XXXXXX");
	ok(mkdtemp(tmpdir) != NULL, "keeps up: temp dir");
	struct store *s = open_store();
	int rc = s ? 0 : -1;
	for (uint32_t w = 0; w < BLOCKS && s; w++) /* one block each */
		rc |= write_traces(s, 100 + 10 * w, 5, old + w * NS_PER_MIN);
	ok(rc == 0, "keeps up: %d old blocks written", BLOCKS);
	store_close(s);
	struct store_options o = {.dir = tmpdir};
	o.retention.keep_ns[KEPT_SPANS] = o.retention.keep_ns[KEPT_REQUESTS] = 7 * NS_PER_DAY;
	o.retention.interval_ms = 50;
	if (store_open(&s, &o, err, sizeof(err)) < 0) {
		printf("# store_open: %s\n", err);
		return;
	}
	struct store_stats st;
	ok(wait_retention(s, &st) == 0, "keeps up: done within 10 s");
	is_int((long)st.retention_deleted[KEPT_SPANS], BLOCKS * 20, "keeps up: every old span deleted");
	is_int((long)st.retention_deleted[KEPT_REQUESTS], BLOCKS * 5,
	       "keeps up: every old request row deleted");
	ok(st.retention_steps < BLOCKS, "keeps up: %d blocks in %llu steps", BLOCKS,
	   (unsigned long long)st.retention_steps);
	store_close(s);
	remove_tmpdir();
}

/* ---- a disk that fails on demand: a VFS over the default one whose
 * writes and syncs fail with an I/O error while `vfs_failing` is set ---- */

static sqlite3_vfs *vfs_real, vfs_shim;
static _Atomic int vfs_failing;

struct shim_file {
	sqlite3_file base;
	sqlite3_file *real; /* follows this struct, in the same allocation */
};

#define REAL(f) (((struct shim_file *)(f))->real)

static int shim_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}
static int shim_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
	return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int shim_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	return vfs_failing ? SQLITE_IOERR_WRITE : REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int shim_truncate(sqlite3_file *f, sqlite3_int64 n)
{
	return vfs_failing ? SQLITE_IOERR_TRUNCATE : REAL(f)->pMethods->xTruncate(REAL(f), n);
}
static int shim_sync(sqlite3_file *f, int flags)
{
	return vfs_failing ? SQLITE_IOERR_FSYNC : REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int shim_size(sqlite3_file *f, sqlite3_int64 *n)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), n);
}
static int shim_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int shim_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int shim_reserved(sqlite3_file *f, int *r)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r);
}
static int shim_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int shim_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int shim_device(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int shim_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int shim_shm_lock(sqlite3_file *f, int o, int n, int fl)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl);
}
static void shim_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int shim_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static const sqlite3_io_methods shim_methods = {
	2,	     shim_close,   shim_read,	  shim_write,	    shim_truncate,  shim_sync,
	shim_size,   shim_lock,	   shim_unlock,	  shim_reserved,    shim_control,   shim_sector,
	shim_device, shim_shm_map, shim_shm_lock, shim_shm_barrier, shim_shm_unmap, NULL,
	NULL,
};

static int shim_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct shim_file *sf = (struct shim_file *)f;
	sf->real = (sqlite3_file *)(sf + 1);
	int rc = vfs_real->xOpen(vfs_real, name, sf->real, flags, out);
	f->pMethods = rc == SQLITE_OK && sf->real->pMethods ? &shim_methods : NULL;
	return rc;
}

static void shim_install(void)
{
	vfs_real = sqlite3_vfs_find(NULL);
	vfs_shim = *vfs_real;
	vfs_shim.zName = "failing";
	vfs_shim.szOsFile = (int)sizeof(struct shim_file) + vfs_real->szOsFile;
	vfs_shim.xOpen = shim_open;
	vfs_shim.pAppData = NULL;
	sqlite3_vfs_register(&vfs_shim, 1); /* the default from now on */
}

static int wait_writer(struct store *s, int ready)
{
	struct store_stats st;
	for (int i = 0; i < 400; i++) {
		store_get_stats(s, &st);
		if (st.writer_ready == ready)
			return 0;
		usleep(25000);
	}
	return -1;
}

/* I/O errors: writes are refused "retry later" (ERR_BUSY: 503), the store
 * turns read-only and says why, reads go on, and writing resumes by itself
 * once the disk works again; nothing committed is lost. */
static void test_io_errors(void)
{
	char err[256];
	uint64_t now = clock_now_ns();
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-test-io-XXXXXX");
	ok(mkdtemp(tmpdir) != NULL, "io: temp dir");
	shim_install();
	struct store *s = open_store();
	if (!s)
		return;
	ok(write_traces(s, 900, 3, now) == 0, "io: written while the disk works");
	vfs_failing = 1;
	int rc = write_traces(s, 910, 3, now);
	is_int(rc, ERR_BUSY, "io: a write meeting an I/O error is refused as busy (503), not failed");
	struct store_stats st;
	store_get_stats(s, &st);
	ok(!st.writer_ready && st.disk_errors >= 1 && strstr(st.writer_error, "I/O") != NULL,
	   "io: the store is read-only and says why (%s)", st.writer_error);
	is_int(write_traces(s, 920, 1, now), ERR_BUSY, "io: later writes are refused at once");
	struct store_record rec = {"io", "a", 1, "{}"};
	is_int(store_put_doc(s, &rec, err, sizeof(err)), ERR_BUSY, "io: and documents too");
	struct batch tr;
	batch_init(&tr);
	uint8_t id[16] = {0};
	uint32_t seed = 900;
	memcpy(id, &seed, 4);
	id[15] = 1;
	is_int(store_get_trace(s, id, &tr, err, sizeof(err)), 4, "io: reads go on");
	vfs_failing = 0;
	ok(wait_writer(s, 1) == 0, "io: writing resumes once the disk works");
	ok(write_traces(s, 930, 3, now) == 0, "io: and the next write commits");
	store_close(s);
	s = open_store();
	batch_reset(&tr);
	is_int(s ? store_get_trace(s, id, &tr, err, sizeof(err)) : -1, 4, "io: what was committed is there");
	seed = 930;
	memcpy(id, &seed, 4);
	batch_reset(&tr);
	is_int(s ? store_get_trace(s, id, &tr, err, sizeof(err)) : -1, 4, "io: before and after the errors");
	seed = 910;
	memcpy(id, &seed, 4);
	batch_reset(&tr);
	is_int(s ? store_get_trace(s, id, &tr, err, sizeof(err)) : -1, 0, "io: and a refused write is not");
	batch_release(&tr);
	store_close(s);
	sqlite3 *db;
	char path[128], *res = NULL;
	snprintf(path, sizeof(path), "%s/hotpath.db", tmpdir);
	if (sqlite3_open(path, &db) == SQLITE_OK) {
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK &&
		    sqlite3_step(q) == SQLITE_ROW)
			res = strdup((const char *)sqlite3_column_text(q, 0));
		sqlite3_finalize(q);
		sqlite3_close(db);
	}
	is_str(res, "ok", "io: the file passes integrity_check");
	free(res);
	sqlite3_vfs_unregister(&vfs_shim);
	remove_tmpdir();
}

/* ---- slowest first: the slow index or every request ------------------------------ */

static int by_slowest(const void *pa, const void *pb)
{
	const uint64_t *a = pa, *b = pb; /* duration, start */
	if (a[0] != b[0])
		return a[0] < b[0] ? 1 : -1;
	return a[1] < b[1] ? 1 : a[1] > b[1] ? -1 : 0;
}

/* The search's rows are the `want` slowest of the (duration, start) pairs
 * sorted slowest first, and named as written. */
static int slowest_match(const struct request_row *rows, size_t n, const uint64_t (*sorted)[2], size_t want)
{
	if (n != want)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (rows[i].duration_ns != sorted[i][0] || rows[i].start_ns != sorted[i][1] ||
		    !rows[i].service || strcmp(rows[i].service, "slowly") || !rows[i].env ||
		    strcmp(rows[i].env, "production"))
			return 0;
	return 1;
}

/* 200 requests over 200 s, a fifth of them of 1 s or more, some of equal
 * duration: each slowest-first search gives what sorting them all gives,
 * whether the slow index can answer it (the range is long, the limit met
 * by slow requests, or only slow requests asked for) or not. */
static void test_slowest(void)
{
	enum { N = 200 };
	uint64_t pairs[N][2];
	struct request_row *rows;
	struct store_query q;
	struct arena a;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-test-slowest-XXXXXX");
	ok(mkdtemp(tmpdir) != NULL, "slowest: temp dir");
	struct store *s = open_store();
	if (!s)
		return;
	arena_init(&a);
	struct batch b;
	batch_init(&b);
	struct resource *r = make_resource(&b, "slowly", "production");
	for (int i = 0; i < N; i++) {
		uint64_t dur = i % 5 == 0 ? 1000000000ull + (uint64_t)(i % 7) * 250000000ull
					  : 1000000ull * (uint64_t)(1 + (i * 37) % 900);
		uint64_t start = T_EDGE + (uint64_t)i * 1000000000ull;
		edge_span(&b, r, (uint8_t)(i + 1), 1, 0, SPAN_KIND_SERVER, start, dur);
		b.spans[b.n_spans - 1].trace_id[14] = (uint8_t)(i >> 8);
		pairs[i][0] = dur;
		pairs[i][1] = start;
	}
	ok(store_write_sync(s, &b) == 0, "slowest: %d requests written", N);
	batch_release(&b);
	qsort(pairs, N, sizeof(pairs[0]), by_slowest);

	store_query_init(&q);
	q.from_ns = T_EDGE;
	q.to_ns = T_EDGE + N * 1000000000ull;
	q.order = STORE_SLOWEST;
	q.limit = 10;
	ok(slowest_match(rows, search_n(s, &q, &a, &rows), pairs, 10), "slowest: 10 of the slow ones");
	q.limit = 100;
	ok(slowest_match(rows, search_n(s, &q, &a, &rows), pairs, 100),
	   "slowest: 100, more than the slow ones: every request read");
	q.limit = 1000;
	ok(slowest_match(rows, search_n(s, &q, &a, &rows), pairs, N), "slowest: all of them");
	q.min_duration_ns = 1000000000;
	ok(slowest_match(rows, search_n(s, &q, &a, &rows), pairs, N / 5),
	   "slowest: only the slow ones asked for, fewer than the limit");
	q.min_duration_ns = 500000000;
	size_t want = 0;
	while (want < N && pairs[want][0] >= q.min_duration_ns)
		want++;
	ok(want > N / 5 && slowest_match(rows, search_n(s, &q, &a, &rows), pairs, want),
	   "slowest: a bound under the index's: every request read (%zu)", want);
	q.min_duration_ns = 0;
	q.limit = 10;
	q.service = "nobody";
	ok(search_n(s, &q, &a, &rows) == 0, "slowest: a service's own index");
	arena_release(&a);
	store_close(s);
	remove_tmpdir();
}

/* A scan's block: its earliest span start, appended to a list. */
struct block_starts {
	uint64_t t[64];
	size_t n;
};

static int note_block(void *arg, uint64_t t_min)
{
	struct block_starts *b = arg;
	if (b->n < 64)
		b->t[b->n++] = t_min;
	return 0;
}

static int no_trace(void *arg, const struct span *spans, size_t n)
{
	(void)arg, (void)spans, (void)n;
	return 0;
}

/* The blocks of [from, to) read by a full pass over the table (no index),
 * their t_min in id order. */
static void brute_blocks(uint64_t from, uint64_t to, unsigned every, unsigned offset,
			 struct block_starts *out)
{
	char path[128];
	sqlite3 *db;
	sqlite3_stmt *st;
	out->n = 0;
	snprintf(path, sizeof(path), "%s/hotpath.db", tmpdir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT t_min FROM blocks NOT INDEXED WHERE t_max >= ?1 AND t_min < ?2"
			       " AND id % ?3 = ?4 ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return;
	}
	sqlite3_bind_int64(st, 1, (int64_t)from);
	sqlite3_bind_int64(st, 2, to ? (int64_t)to : INT64_MAX);
	sqlite3_bind_int64(st, 3, every);
	sqlite3_bind_int64(st, 4, offset);
	while (sqlite3_step(st) == SQLITE_ROW && out->n < 64)
		out->t[out->n++] = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* A scan by time finds its blocks through the time index; the blocks, in
 * write order, are those a pass over every block finds, also when a later
 * write holds older spans. */
static void test_scan_by_time(void)
{
	const uint64_t T = 1700000000000000000ull, SEC = 1000000000ull;
	/* writes: the start of each, 20 traces a second apart; the third is older than the second */
	static const uint64_t at_s[] = {0, 1000, 10, 2000, 5, 3000};
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hotpath-test-scantime-XXXXXX");
	ok(mkdtemp(tmpdir) != NULL, "scan by time: temp dir");
	struct store *s = open_store();
	if (!s)
		return;
	int fails = 0;
	for (size_t i = 0; i < sizeof(at_s) / sizeof(at_s[0]); i++)
		fails += write_traces(s, 1000 * (uint32_t)(i + 1), 20, T + at_s[i] * SEC) < 0;
	ok(!fails, "scan by time: six writes");
	static const uint64_t windows[][2] = {
		{0, 0}, {0, 15}, {15, 1000}, {1000, 1001}, {12, 2500}, {2019, 2999}, {2018, 2019}, {4000, 0},
	};
	char err[256];
	int same = 0, total = 0;
	for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++)
		for (unsigned every = 1; every <= 2; every++)
			for (unsigned off = 0; off < every; off++) {
				uint64_t from = T + windows[w][0] * SEC,
					 to = windows[w][1] ? T + windows[w][1] * SEC : 0;
				struct block_starts got = {{0}, 0}, want;
				struct store_scan sc = {.from_ns = from,
							.to_ns = to,
							.every = every,
							.offset = off,
							.skeleton = 1,
							.block = note_block};
				int rc = store_scan(s, &sc, no_trace, &got, err, sizeof(err));
				brute_blocks(from, to, every, off, &want);
				total++;
				same += rc == 0 && got.n == want.n &&
					!memcmp(got.t, want.t, got.n * sizeof(*got.t));
				if (rc != 0 || got.n != want.n)
					printf("# window %zu every %u offset %u: %zu blocks, a full pass %zu "
					       "(%s)\n",
					       w, every, off, got.n, want.n, rc ? err : "");
			}
	is_int(same, total, "scan by time: every window's blocks are those of a pass over the table");
	struct block_starts one = {{0}, 0};
	struct store_scan sc = {.from_ns = T, .to_ns = T + 15 * SEC, .skeleton = 1, .block = note_block};
	store_scan(s, &sc, no_trace, &one, err, sizeof(err));
	ok(one.n == 3 && one.t[0] == T && one.t[1] == T + 10 * SEC && one.t[2] == T + 5 * SEC,
	   "scan by time: [0 s, 15 s) holds the first, third and fifth writes, in write order (%zu)", one.n);
	store_close(s);
	remove_tmpdir();
}

int main(void)
{
	test_block_roundtrip();
	test_block_parents();
	test_store();
	test_edges_and_tiers();
	test_latest_versions();
	test_values();
	test_migrate_3();
	test_slowest();
	test_scan_by_time();
	test_retention();
	test_vacuum();
	test_retention_keeps_up();
	test_io_errors();
	return tap_done();
}
