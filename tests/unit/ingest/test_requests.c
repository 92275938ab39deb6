/*
 * test_requests.c - the seeds' request model (src/ingest/requests.c).
 *
 * Golden files: tests/golden/requests/NAME.json and NAME.ndjson, decoded
 * with a fixed receive time and dumped, compared with NAME.expected.  Run
 * from the repository root.
 */
#include <stdlib.h>
#include <string.h>

#include "core/hex.h"
#include "ingest/requests.h"
#include "tap.h"
#include "unit/batch_dump.h"

#define NOW_NS 1700000000000000000ull

static void run_golden(const char *name, const char *data, size_t len, struct buf *out)
{
	struct batch b;
	char err[512];
	batch_init(&b);
	if (requests_decode(&b, data, len, NOW_NS, err, sizeof(err)) < 0)
		buf_printf(out, "error: %s\n", err);
	else
		batch_dump(out, &b, DUMP_LABEL_SPAN_IDS);
	batch_release(&b);
}

static int decode_str(struct batch *b, const char *s, char *err, size_t errlen)
{
	return requests_decode(b, s, strlen(s), NOW_NS, err, errlen);
}

static void test_generated_ids(void)
{
	struct batch b;
	char err[512];
	batch_init(&b);
	is_int(decode_str(&b,
			  "{\"request\": {\"method\": \"GET\", \"path\": \"/x\", \"duration_ms\": 100},"
			  " \"spans\": [{\"name\": \"a\", \"duration_ms\": 40}, {\"name\": \"b\", "
			  "\"duration_ms\": 60}]}",
			  err, sizeof(err)),
	       0, "a record without trace_id decodes");
	is_int(b.n_spans, 3, "root and two children");
	if (b.n_spans == 3) {
		const struct span *root = &b.spans[0], *a = &b.spans[1], *c = &b.spans[2];
		ok(!hex_is_zero(root->trace_id, 16), "a trace id was generated");
		ok(memcmp(root->trace_id, a->trace_id, 16) == 0 &&
			   memcmp(root->trace_id, c->trace_id, 16) == 0,
		   "the children share it");
		ok(memcmp(a->parent_span_id, root->span_id, 8) == 0 &&
			   memcmp(c->parent_span_id, root->span_id, 8) == 0,
		   "the root is their parent");
		ok(hex_is_zero(root->parent_span_id, 8), "the root has no parent");
		ok(memcmp(root->span_id, a->span_id, 8) && memcmp(a->span_id, c->span_id, 8),
		   "span ids differ");
		is_int(root->start_ns, NOW_NS - 100000000ull, "no timestamp: the request ended on receipt");
		is_int(a->start_ns, root->start_ns, "first child starts with the root");
		is_int(c->start_ns, a->end_ns, "second child starts when the first ends");
		is_int(c->end_ns, root->end_ns, "and ends with the root");
	}
	struct batch b2;
	batch_init(&b2);
	decode_str(&b2, "{\"request\": {\"duration_ms\": 1}}", err, sizeof(err));
	ok(b2.n_spans == 1 && b.n_spans && memcmp(b.spans[0].trace_id, b2.spans[0].trace_id, 16) != 0,
	   "two generated trace ids differ");
	batch_release(&b2);
	batch_release(&b);
}

static void test_all_or_nothing(void)
{
	struct batch b;
	char err[512];
	batch_init(&b);
	is_int(decode_str(&b, "{\"request\": {\"duration_ms\": 1}, \"resources\": {\"cpu_percent\": 5}}", err,
			  sizeof(err)),
	       0, "one good record");
	is_int(decode_str(&b,
			  "[{\"request\": {\"duration_ms\": 1}, \"resources\": {\"cpu_percent\": 5}},"
			  " {\"request\": {\"duration_ms\": -1}}]",
			  err, sizeof(err)),
	       -1, "a body with one bad record fails");
	is_str(err, "record 2: request.duration_ms must be a non-negative number",
	       "the message names record and field");
	is_int(b.n_spans, 1, "none of the failed body's spans are kept");
	is_int(b.n_points, 1, "nor its points");
	batch_release(&b);
}

static void test_limits(void)
{
	static const char rec[] = "{\"request\":{\"duration_ms\":1}},";
	size_t n = 100001, len = 1 + n * (sizeof(rec) - 1) + 1;
	char *body = malloc(len + 1), err[512];
	struct batch b;
	body[0] = '[';
	for (size_t i = 0; i < n; i++)
		memcpy(body + 1 + i * (sizeof(rec) - 1), rec, sizeof(rec) - 1);
	body[len - 1] = ']';
	body[len - 2] = ' '; /* the last comma */
	body[len] = 0;
	batch_init(&b);
	is_int(requests_decode(&b, body, len, NOW_NS, err, sizeof(err)), -1, "100001 records are refused");
	is_str(err, "100001 records in one body, at most 100000", "message");
	batch_release(&b);
	/* exactly the limit is fine */
	body[1 + 100000 * (sizeof(rec) - 1) - 1] = ']';
	body[1 + 100000 * (sizeof(rec) - 1)] = 0;
	batch_init(&b);
	is_int(requests_decode(&b, body, strlen(body), NOW_NS, err, sizeof(err)), 0, "100000 records decode");
	is_int(b.n_spans, 100000, "one span each");
	batch_release(&b);
	free(body);
}

int main(void)
{
	static const char *const exts[] = {".json", ".ndjson", NULL};
	golden_run("tests/golden/requests", exts, run_golden);
	test_generated_ids();
	test_all_or_nothing();
	test_limits();
	return tap_done();
}
