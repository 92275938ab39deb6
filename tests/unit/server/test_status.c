/* test_status.c - the table of a class of failure as HTTP, JSON and OTLP
 * answers say it (server/status.c), and http_error_class() reading it. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "server/http.h"
#include "server/status.h"
#include "tap.h"

/* every class of core/error.h */
static const int classes[] = {ERR_INTERNAL,  ERR_INVALID,     ERR_TOO_MUCH, ERR_TOO_BIG,    ERR_BUSY,
			      ERR_NOT_FOUND, ERR_UNSUPPORTED, ERR_TIMEOUT,  ERR_UNAVAILABLE};
#define N_CLASSES (sizeof(classes) / sizeof(classes[0]))

static void every_class_has_its_row(void)
{
	size_t own = 0;
	for (size_t i = 0; i < N_CLASSES; i++)
		own += err_status_of(classes[i])->cls == classes[i];
	ok(own == N_CLASSES, "each class has a row of its own (%zu of %zu)", own, N_CLASSES);
	const struct err_status *other = err_status_of(-99), *zero = err_status_of(0);
	ok(other->cls == ERR_INTERNAL && other->http == 500 && zero->http == 500,
	   "anything else is internal: 500");
}

static void statuses(void)
{
	static const struct {
		int cls, http, rpc;
		const char *code;
	} want[] = {
		{ERR_INVALID, 400, RPC_INVALID_ARGUMENT, "bad_request"},
		{ERR_TOO_MUCH, 400, RPC_INVALID_ARGUMENT, "bad_request"},
		{ERR_TOO_BIG, 413, RPC_INVALID_ARGUMENT, "too_large"},
		{ERR_BUSY, 503, RPC_UNAVAILABLE, "busy"},
		{ERR_NOT_FOUND, 404, RPC_NOT_FOUND, "not_found"},
		{ERR_UNSUPPORTED, 501, RPC_UNIMPLEMENTED, "unsupported"},
		{ERR_TIMEOUT, 504, RPC_DEADLINE_EXCEEDED, "timeout"},
		{ERR_UNAVAILABLE, 503, RPC_UNAVAILABLE, "store_unavailable"},
		{ERR_INTERNAL, 500, RPC_INTERNAL, "internal"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct err_status *s = err_status_of(want[i].cls);
		ok(s->http == want[i].http && s->rpc == want[i].rpc && !strcmp(s->code, want[i].code),
		   "class %d: HTTP %d, rpc %d, %s", want[i].cls, s->http, s->rpc, s->code);
	}
	ok(!strcmp(err_status_of(ERR_TOO_BIG)->ingest_code, "payload_too_large"),
	   "ingest calls a body over its bound payload_too_large");
}

/* OTLP/HTTP: an exporter retries 429, 502, 503 and 504, nothing else; a
 * Retry-After goes only with a 503 (the caller may choose its own). */
static void retry_rules(void)
{
	size_t agree = 0, after_ok = 0;
	for (size_t i = 0; i < N_CLASSES; i++) {
		const struct err_status *s = err_status_of(classes[i]);
		int http_retries = s->http == 429 || s->http == 502 || s->http == 503 || s->http == 504;
		agree += s->retryable == http_retries;
		after_ok += !s->retry_after || s->http == 503;
		if (s->retryable != http_retries)
			printf("#   class %d: retryable %d, HTTP %d\n", classes[i], s->retryable, s->http);
	}
	ok(agree == N_CLASSES, "retryable exactly where OTLP/HTTP retries the status");
	ok(after_ok == N_CLASSES && err_status_of(ERR_BUSY)->retry_after,
	   "a Retry-After only on a 503, and busy has one");
}

/* http_error_class() answers from the table */
static void error_answers(void)
{
	struct http_request req;
	memset(&req, 0, sizeof(req));
	buf_init(&req.res.body, 1 << 16);
	http_error_class(&req, ERR_NOT_FOUND, "no trace %s", "ab");
	ok(req.res.status == 404 && !req.res.retry_after, "not found: 404, no Retry-After");
	ok(req.res.body.len && strstr(req.res.body.data,
				      "{\"error\":{\"code\":\"not_found\",\"message\":\"no trace ab\"}}"),
	   "its body names the code and the problem");
	http_error_class(&req, ERR_BUSY, "full");
	ok(req.res.status == 503 && req.res.retry_after && !strcmp(req.res.retry_after, "5"),
	   "busy: 503 with the table's Retry-After");
	req.res.retry_after = "30";
	http_error_class(&req, ERR_BUSY, "read-only");
	ok(!strcmp(req.res.retry_after, "30"), "a Retry-After the caller chose stays");
	http_error_class(&req, ERR_TIMEOUT, "slow");
	ok(req.res.status == 504, "timeout: 504");
	buf_release(&req.res.body);
}

int main(void)
{
	every_class_has_its_row();
	statuses();
	retry_rules();
	error_answers();
	return tap_done();
}
