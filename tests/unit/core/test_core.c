/*
 * test_core.c - the small foundations every layer stands on, at their
 * edges: a buffer's hard limit (an append that would pass it changes
 * nothing), JSON string escaping of controls and invalid UTF-8, the hash
 * map through growth and with keys holding NULs, hex of the wrong length,
 * lines split across chunks and past their limit, gzip's output limit
 * against a bomb, and JSON strings read back exactly as they were written.
 */
#include <math.h>
#include <string.h>
#include <zlib.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/gzip.h"
#include "core/hex.h"
#include "core/json_doc.h"
#include "core/lines.h"
#include "core/strmap.h"
#include "tap.h"

static void test_buf(void)
{
	struct buf b;
	buf_init(&b, 8);
	ok(buf_puts(&b, "12345") == 0 && b.len == 5, "buf: an append within the limit");
	ok(buf_puts(&b, "6789") < 0 && b.len == 5 && !memcmp(b.data, "12345", 5),
	   "buf: an append past the limit fails and leaves the contents");
	ok(buf_printf(&b, "%d", 678) == 0 && b.len == 8, "buf: up to the limit exactly");
	buf_release(&b);

	buf_init(&b, BUF_NO_LIMIT);
	buf_put_json_str(&b, "a\"b\\\n\x01\xff");
	buf_putc(&b, 0);
	is_str(b.data, "\"a\\\"b\\\\\\n\\u0001\xef\xbf\xbd\"",
	       "buf: a JSON string escapes quotes and controls, and replaces invalid UTF-8 with U+FFFD");
	buf_reset(&b);
	buf_put_json_member_str(&b, "a", "x\"");
	buf_put_json_member_str(&b, "b", NULL);
	buf_put_json_member_double(&b, "c", 0.5);
	buf_put_json_member_double(&b, "d", NAN);
	buf_putc(&b, 0);
	is_str(b.data, ",\"a\":\"x\\\"\",\"b\":null,\"c\":0.5,\"d\":null",
	       "buf: members as strings or null, numbers or null");
	buf_reset(&b);
	buf_put_varint(&b, 300);
	ok(b.len == 2 && (uint8_t)b.data[0] == 0xac && b.data[1] == 0x02, "buf: varint 300 is ac 02");
	buf_release(&b);
}

static void test_strmap(void)
{
	struct strmap m;
	struct arena a;
	int64_t v = 0;
	char key[16];
	strmap_init(&m);
	arena_init(&a);
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(key, sizeof(key), "k%d", i);
		strmap_put(&m, key, (size_t)n, i);
	}
	int all = 1;
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(key, sizeof(key), "k%d", i);
		all &= strmap_get(&m, key, (size_t)n, &v) == 0 && v == i;
	}
	ok(all && m.count == 5000, "strmap: 5000 keys through growth, each found with its value");
	ok(strmap_get(&m, "k5000", 5, &v) < 0, "strmap: a key never put is absent");
	strmap_put(&m, "a\0b", 3, 7);
	ok(strmap_get(&m, "a\0b", 3, &v) == 0 && v == 7 && strmap_get(&m, "a", 1, &v) < 0,
	   "strmap: keys are bytes, NULs included");
	const char *x = strmap_intern(&m, &a, "shop"), *y = strmap_intern(&m, &a, "shop");
	ok(x == y && !strcmp(x, "shop"), "strmap: interning gives one copy");
	strmap_release(&m);
	arena_release(&a);
}

static void test_hex(void)
{
	uint8_t out[4];
	char text[9];
	ok(hex_decode(out, 4, "deadBEEF", 8) == 0 && out[0] == 0xde && out[3] == 0xef,
	   "hex: decodes either case");
	ok(hex_decode(out, 4, "deadbee", 7) < 0, "hex: the wrong length is refused");
	ok(hex_decode(out, 4, "deadbeeg", 8) < 0, "hex: a non-hex digit is refused");
	hex_encode(text, out, 4);
	text[8] = 0;
	is_str(text, "deadbeef", "hex: encodes lower case");
	ok(hex_is_zero((const uint8_t *)"\0\0\0\0", 4) && !hex_is_zero(out, 4), "hex: all-zero ids");
}

static int collect(void *arg, const char *line, size_t len)
{
	struct buf *b = arg;
	buf_append(b, line, len);
	return buf_putc(b, '|');
}

static void test_lines(void)
{
	struct lines l;
	struct buf got;
	buf_init(&got, BUF_NO_LIMIT);
	lines_init(&l, 16);
	lines_feed(&l, "ab\ncd", 5, collect, &got);
	lines_feed(&l, "ef\n\ngh", 6, collect, &got);
	lines_finish(&l, collect, &got);
	buf_putc(&got, 0);
	is_str(got.data, "ab|cdef||gh|",
	       "lines: a line split across chunks is whole; the last needs no newline");
	lines_release(&l);
	lines_init(&l, 4);
	buf_reset(&got);
	ok(lines_feed(&l, "abc", 3, collect, &got) == 0 && lines_feed(&l, "defgh\n", 6, collect, &got) < 0,
	   "lines: a line past its limit stops the feed");
	lines_release(&l);
	buf_release(&got);
}

static void test_gzip(void)
{
	static char zeros[1 << 20];
	uLongf n = compressBound(sizeof(zeros));
	static Bytef packed[(1 << 20) + 1024];
	struct buf out;
	char err[128];
	int rc = compress(packed, &n, (const Bytef *)zeros, sizeof(zeros));
	ok(rc == Z_OK && n < 4096, "gzip: 1 MiB of zeros packs into %lu bytes", (unsigned long)n);
	buf_init(&out, 64 * 1024);
	is_int(gzip_inflate(packed, n, &out, err, sizeof(err)), ERR_TOO_BIG,
	       "gzip: inflating past the output limit stops there");
	ok(out.len <= 64 * 1024, "gzip: nothing past the limit was kept (%zu bytes)", out.len);
	buf_release(&out);
	buf_init(&out, 2 << 20);
	ok(gzip_inflate(packed, n, &out, err, sizeof(err)) == 0 && out.len == sizeof(zeros),
	   "gzip: within the limit, all of it");
	ok(gzip_inflate("not zlib", 8, &out, err, sizeof(err)) == -1 && err[0], "gzip: corrupt input: %s",
	   err);
	buf_release(&out);
}

/* A lone surrogate escape is read as U+FFFD, so writing the string and
 * reading it again gives the same bytes (the watching API's definitions
 * are stored that way, with length limits). */
static void test_json_roundtrip(void)
{
	const char in[] = "{\"s\":\"a\\udc00b\\ud800\"}";
	struct json_doc d, again;
	struct buf b;
	char err[128];
	buf_init(&b, BUF_NO_LIMIT);
	ok(json_doc_parse(&d, in, sizeof(in) - 1, 0, err, sizeof(err)) == 0, "json: lone surrogates parse");
	const char *s = json_str(json_get(d.root, "s"));
	ok(s && !strncmp(s, "a\xEF\xBF\xBD", 4), "json: a lone low surrogate reads as U+FFFD");
	buf_puts(&b, "{\"s\":");
	buf_put_json_str(&b, s ? s : "");
	buf_putc(&b, '}');
	ok(json_doc_parse(&again, b.data, b.len, 0, err, sizeof(err)) == 0, "json: written back, parses");
	const char *t = json_str(json_get(again.root, "s"));
	ok(s && t && !strcmp(s, t), "json: read back byte for byte (%zu and %zu bytes)", s ? strlen(s) : 0,
	   t ? strlen(t) : 0);
	json_doc_release(&again);
	json_doc_release(&d);
	buf_release(&b);
}

/* A parsed document printed back compact: numbers as they were read,
 * strings and keys escaped again, nesting kept. */
static void test_json_print(void)
{
	const char in[] =
		"{ \"a\" : [1, 1.50, -2e-7, true, false, null, {}], \"k\\\"q\": {\"s\": \"x\\ty\\u0001\"},"
		" \"e\": [], \"n\": [[[\"deep\"]]]}";
	struct json_doc d;
	struct buf b;
	char err[128];
	buf_init(&b, BUF_NO_LIMIT);
	ok(json_doc_parse(&d, in, sizeof(in) - 1, 0, err, sizeof(err)) == 0,
	   "json print: the document parses");
	is_int(json_write(&b, d.root), 0, "json print: written");
	is_str(b.data,
	       "{\"a\":[1,1.50,-2e-7,true,false,null,{}],\"k\\\"q\":{\"s\":\"x\\ty\\u0001\"},\"e\":[],"
	       "\"n\":[[[\"deep\"]]]}",
	       "json print: compact, numbers as read, strings and keys escaped");
	buf_reset(&b);
	is_int(json_write(&b, json_get(d.root, "k\"q")), 0, "json print: a member's value alone");
	is_str(b.data, "{\"s\":\"x\\ty\\u0001\"}", "json print: just that value");
	json_doc_release(&d);

	char key[200], doc[256];
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = 0;
	snprintf(doc, sizeof(doc), "{\"%s\":1}", key);
	buf_reset(&b);
	ok(json_doc_parse(&d, doc, strlen(doc), 0, err, sizeof(err)) == 0 && json_write(&b, d.root) == 0 &&
		   !strcmp(b.data, doc),
	   "json print: a member name longer than the small copy");
	json_doc_release(&d);
	buf_release(&b);
}

int main(void)
{
	test_buf();
	test_strmap();
	test_hex();
	test_lines();
	test_gzip();
	test_json_roundtrip();
	test_json_print();
	return tap_done();
}
