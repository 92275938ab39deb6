/*
 * fuzz_watch_defs.c - libFuzzer target for the definitions the watching
 * API takes (the bodies of /api/v1/slos, /api/v1/alerts/rules and
 * /api/v1/alerts/channels) and the stored alerts: each parser on the same
 * JSON, and each writer on what parsed, read back again.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/json_doc.h"
#include "watch/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse `b` again with `parse` (what a writer wrote must read back). */
static void reread(struct buf *b, int (*again)(const struct json *, struct arena *))
{
	struct json_doc d;
	struct arena a;
	char err[256];
	arena_init(&a);
	if (json_doc_parse(&d, b->data, b->len, 0, err, sizeof(err)) == 0 && again(d.root, &a) < 0)
		__builtin_trap();
	json_doc_release(&d);
	arena_release(&a);
}

static int slo_again(const struct json *o, struct arena *a)
{
	struct slo s;
	char err[256];
	return slo_parse(o, NULL, a, &s, err, sizeof(err));
}

static int rule_again(const struct json *o, struct arena *a)
{
	struct alert_rule r;
	char err[256];
	return rule_parse(o, NULL, a, &r, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc d;
	struct arena a;
	struct buf b;
	char err[256];
	struct slo s;
	struct alert_rule r;
	struct notify_channel c;
	struct alert al;
	arena_init(&a);
	buf_init(&b, BUF_NO_LIMIT);
	if (json_doc_parse(&d, (const char *)data, size, 0, err, sizeof(err)) == 0) {
		if (slo_parse(d.root, NULL, &a, &s, err, sizeof(err)) == 0) {
			slo_write(&b, &s);
			reread(&b, slo_again);
		}
		buf_reset(&b);
		if (rule_parse(d.root, NULL, &a, &r, err, sizeof(err)) == 0) {
			rule_write(&b, &r);
			reread(&b, rule_again);
		}
		buf_reset(&b);
		if (channel_parse(d.root, NULL, NULL, &a, &c, err, sizeof(err)) == 0) {
			channel_write_public(&b, &c);
			if (c.secret && strstr(b.data, c.secret) && strlen(c.secret) > 12)
				__builtin_trap(); /* a secret in the public form */
		}
		buf_reset(&b);
		if (alert_parse(d.root, &a, &al, err, sizeof(err)) == 0)
			alert_write(&b, &al);
	}
	json_doc_release(&d);
	buf_release(&b);
	arena_release(&a);
	return 0;
}
