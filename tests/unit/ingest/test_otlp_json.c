/*
 * test_otlp_json.c - the OTLP/JSON decoder and encoders (src/ingest/otlp_json.c).
 *
 * Golden files: tests/golden/otlp_json/NAME.json decoded (as metrics when
 * NAME starts with "metrics") and dumped, compared with NAME.expected.
 * Run from the repository root.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_doc.h"
#include "ingest/otlp_json.h"
#include "tap.h"
#include "unit/batch_dump.h"

static void run_golden(const char *name, const char *data, size_t len, struct buf *out)
{
	struct batch b;
	char err[512];
	int metrics = strncmp(name, "metrics", 7) == 0;
	batch_init(&b);
	int rc = metrics ? otlp_json_decode_metrics(&b, data, len, err, sizeof(err))
			 : otlp_json_decode_traces(&b, data, len, err, sizeof(err));
	if (rc < 0)
		buf_printf(out, "error: %s\n", err);
	else
		batch_dump(out, &b, 0);
	batch_release(&b);
}

static int decode_str(struct batch *b, const char *json, char *err, size_t errlen)
{
	return otlp_json_decode_traces(b, json, strlen(json), err, errlen);
}

#define SPAN_FMT                                                                                             \
	"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"%s\",\"spanId\":\"%s\","            \
	"\"name\":\"s\",\"startTimeUnixNano\":%s,\"endTimeUnixNano\":\"2\"}]}]}]}"

static void test_ids(void)
{
	struct batch b;
	char err[512], json[512];

	/* base64 (what a protobuf JSON mapper writes by default) fails the request */
	batch_init(&b);
	snprintf(json, sizeof(json), SPAN_FMT, "W47/95gDgQPSabYzgT/GDA==", "EEE19B7EC3C1B174", "1");
	is_int(decode_str(&b, json, err, sizeof(err)), -1, "base64 trace id: request error");
	ok(strstr(err, "invalid traceId \"W47/95gDgQPSabYzgT/GDA==\"") && strstr(err, "want 32 hex digits"),
	   "message names the field and value: %s", err);
	ok(strstr(err, "resourceSpans[0].scopeSpans[0].spans[0]") != NULL, "message says where: %s", err);
	is_int(b.n_spans, 0, "nothing kept");
	batch_release(&b);

	/* odd length is not hex either */
	batch_init(&b);
	snprintf(json, sizeof(json), SPAN_FMT, "5B8EFFF798038103D269B633813FC60C", "EEE19B7EC3C1B17", "1");
	is_int(decode_str(&b, json, err, sizeof(err)), -1, "odd-length span id: request error");
	ok(strstr(err, "invalid spanId") && strstr(err, "want 16 hex digits"), "message: %s", err);
	batch_release(&b);

	/* hex of the wrong length: that span is rejected, the request succeeds */
	batch_init(&b);
	snprintf(json, sizeof(json), SPAN_FMT, "5B8EFFF798038103D269", "EEE19B7EC3C1B174", "1");
	is_int(decode_str(&b, json, err, sizeof(err)), 0, "20 hex digits: decodes");
	is_int(b.n_spans, 0, "the span is dropped");
	is_int(b.rejected, 1, "and counted as rejected");
	ok(strstr(b.reject_msg, "traceId has 10 bytes, want 16") != NULL, "reject message: %s", b.reject_msg);
	batch_release(&b);

	/* a number where a hex string belongs */
	batch_init(&b);
	snprintf(json, sizeof(json),
		 "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":12,\"spanId\":\"01\"}]}]}]}");
	is_int(decode_str(&b, json, err, sizeof(err)), -1, "numeric trace id: request error");
	batch_release(&b);
}

static void test_errors(void)
{
	struct batch b;
	char err[512];

	batch_init(&b);
	is_int(decode_str(&b, "{\"resourceSpans\": [}", err, sizeof(err)), -1, "invalid JSON fails");
	ok(strstr(err, "line 1, column") && strstr(err, "byte"), "with a position: %s", err);
	is_int(decode_str(&b, "{\"resourceSpans\": []}\n{", err, sizeof(err)), -1, "trailing garbage fails");
	ok(strstr(err, "line 2") != NULL, "on line 2: %s", err);
	is_int(decode_str(&b, "[]", err, sizeof(err)), -1, "an array is not a request");
	ok(strstr(err, "want an ExportTraceServiceRequest object") != NULL, "message: %s", err);
	is_int(decode_str(&b, "{\"resourceSpans\": {}}", err, sizeof(err)), -1,
	       "resourceSpans must be an array");
	is_int(decode_str(&b, "\"\xff\"", err, sizeof(err)), -1, "invalid UTF-8 fails");
	is_int(otlp_json_decode_traces(&b, "", 0, err, sizeof(err)), 0, "empty body: success");
	is_int(decode_str(&b, "  \n", err, sizeof(err)), 0, "white space: success");
	is_int(decode_str(&b, "{}", err, sizeof(err)), 0, "{}: success");
	is_int(b.n_spans, 0, "no spans");

	/* deep nesting is refused, not recursed into */
	char deep[4096];
	size_t n = 0;
	n += (size_t)snprintf(deep, sizeof(deep), "{\"x\":");
	for (int i = 0; i < 1000; i++)
		deep[n++] = '[';
	deep[n] = 0;
	is_int(decode_str(&b, deep, err, sizeof(err)), -1, "1000 nested arrays fail");
	ok(strstr(err, "nested too deeply") != NULL, "message: %s", err);

	/* a failed request leaves the batch as it was */
	const char *good =
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
		"\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"name\":\"a\","
		"\"startTimeUnixNano\":\"1\",\"endTimeUnixNano\":\"2\"}]}]}]}";
	is_int(decode_str(&b, good, err, sizeof(err)), 0, "one good span");
	const char *bad =
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":"
		"\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"name\":\"a\"},"
		"{\"name\":7}]}]}]}";
	is_int(decode_str(&b, bad, err, sizeof(err)), -1, "second request fails on its second span");
	is_int(b.n_spans, 1, "the batch keeps only the first request's span");
	batch_release(&b);
}

static void test_roundtrip(void)
{
	struct batch a, b;
	struct buf enc, d1, d2;
	char err[512];
	size_t len;
	char *json = read_file("tests/golden/otlp_json/trace_any_values.json", &len);

	batch_init(&a);
	batch_init(&b);
	buf_init(&enc, BUF_NO_LIMIT);
	buf_init(&d1, BUF_NO_LIMIT);
	buf_init(&d2, BUF_NO_LIMIT);
	ok(json && otlp_json_decode_traces(&a, json, len, err, sizeof(err)) == 0, "decode a sample");
	is_int(otlp_json_encode_traces(&a, &enc), 0, "encode it");
	is_int(otlp_json_decode_traces(&b, enc.data, enc.len, err, sizeof(err)), 0, "decode the encoding");
	batch_dump(&d1, &a, 0);
	batch_dump(&d2, &b, 0);
	ok(d1.data && d2.data && strcmp(d1.data, d2.data) == 0, "decode(encode(x)) == x");
	if (d1.data && d2.data && strcmp(d1.data, d2.data) != 0)
		golden_diff(d2.data, d1.data);
	buf_release(&enc);
	buf_release(&d1);
	buf_release(&d2);
	batch_release(&a);
	batch_release(&b);
	free(json);
}

static void test_encoders(void)
{
	struct buf o;
	buf_init(&o, BUF_NO_LIMIT);
	otlp_json_encode_response(&o, 0, 0, NULL);
	is_str(o.data, "{}", "no rejections: {}");
	buf_reset(&o);
	otlp_json_encode_response(&o, 0, 3, "span \"x\": bad");
	is_str(o.data,
	       "{\"partialSuccess\":{\"rejectedSpans\":\"3\",\"errorMessage\":\"span \\\"x\\\": bad\"}}",
	       "trace partial success");
	buf_reset(&o);
	otlp_json_encode_response(&o, 1, 2, "m");
	is_str(o.data, "{\"partialSuccess\":{\"rejectedDataPoints\":\"2\",\"errorMessage\":\"m\"}}",
	       "metrics partial success");
	buf_reset(&o);
	otlp_json_encode_status(&o, 3, "invalid traceId");
	is_str(o.data, "{\"code\":3,\"message\":\"invalid traceId\"}", "google.rpc.Status");
	buf_release(&o);
}

static void test_numbers(void)
{
	struct json_doc d;
	char err[256];
	int64_t i;
	uint64_t u;
	double f;
	const char *json = "[\"18446744073709551615\", 18446744073709551615, \"-9223372036854775808\", "
			   "1e3, \"1.5\", 18446744073709551616, \"12a\", \" 1\", \"NaN\", -0.5, true]";
	ok(json_doc_parse(&d, json, strlen(json), 0, err, sizeof(err)) == 0, "parse numbers");
	const struct json *v = d.root->child;
	ok(json_uint64(v, &u) == 0 && u == UINT64_MAX, "uint64 max as string");
	v = v->next;
	ok(json_uint64(v, &u) == 0 && u == UINT64_MAX, "uint64 max as number, exact");
	v = v->next;
	ok(json_int64(v, &i) == 0 && i == INT64_MIN, "int64 min as string");
	v = v->next;
	ok(json_int64(v, &i) == 0 && i == 1000, "1e3 is an integer");
	v = v->next;
	ok(json_int64(v, &i) < 0, "1.5 is not");
	v = v->next;
	ok(json_uint64(v, &u) < 0, "2^64 overflows");
	v = v->next;
	ok(json_uint64(v, &u) < 0, "\"12a\" is not a number");
	v = v->next;
	ok(json_uint64(v, &u) < 0, "\" 1\" is not a number");
	v = v->next;
	ok(json_double(v, &f) == 0 && isnan(f), "\"NaN\" is a double");
	v = v->next;
	ok(json_uint64(v, &u) < 0 && json_double(v, &f) == 0 && f == -0.5, "-0.5");
	v = v->next;
	ok(json_int64(v, &i) < 0 && json_double(v, &f) < 0, "true is no number");
	json_doc_release(&d);
}

int main(void)
{
	static const char *const exts[] = {".json", NULL};
	golden_run("tests/golden/otlp_json", exts, run_golden);
	test_ids();
	test_errors();
	test_roundtrip();
	test_encoders();
	test_numbers();
	return tap_done();
}
