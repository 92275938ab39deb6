/*
 * test_clickhouse.c - the ClickHouse backend's client pieces that need no
 * server: the store URL, SQL string quoting, RowBinary both ways (round
 * trips, and every truncation of a row read as "not complete"), and the
 * error class of an unreachable server.  The backend against a real
 * ClickHouse is tested end to end (tests/e2e with HOTPATH_STORE=clickhouse).
 */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "store/clickhouse_http.h"
#include "tap.h"

static void test_url(void)
{
	char err[256];
	struct ch_client *c = ch_client_new("clickhouse://127.0.0.1:8123/hotpath", err, sizeof(err));
	ok(c != NULL, "host, port and database: %s", c ? "" : err);
	if (c)
		is_str(ch_client_db(c), "hotpath", "the database");
	ch_client_free(c);
	c = ch_client_new("clickhouse://user:secret@db.example:9000/hp_1", err, sizeof(err));
	ok(c != NULL, "user and password in the URL: %s", c ? "" : err);
	if (c)
		is_str(ch_client_db(c), "hp_1", "the database after credentials");
	ch_client_free(c);
	static const char *const bad[] = {"clickhouse://127.0.0.1:8123", "clickhouse:///db",
					  "clickhouse://h/db-name", "clickhouse://h/",
					  "clickhouse://h/a;DROP TABLE x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		c = ch_client_new(bad[i], err, sizeof(err));
		ok(c == NULL && strstr(err, bad[i]), "refused: %s (%s)", bad[i], err);
		ch_client_free(c);
	}
}

static void test_quote(void)
{
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	ch_quote(&b, "it's a \\ test");
	is_str(b.data, "'it\\'s a \\\\ test'", "quote and backslash escaped");
	buf_release(&b);
}

static void write_row(struct buf *b)
{
	rbw_u8(b, 7);
	rbw_u32(b, 0xdeadbeef);
	rbw_u64(b, 0x0102030405060708ull);
	rbw_f64(b, -2.5);
	rbw_str(b, "service-a");
	rbw_str(b, NULL);
	char big[300];
	memset(big, 'x', sizeof(big));
	rbw_bytes(b, big, sizeof(big)); /* a two-byte varint length */
}

/* 1: a whole row read back as written; 0: not complete. */
static int read_row(const void *p, size_t len, int check)
{
	struct rb r = {p, (const uint8_t *)p + len, 0};
	struct arena a;
	arena_init(&a);
	uint8_t u8 = rb_u8(&r);
	uint32_t u32 = rb_u32(&r);
	uint64_t u64 = rb_u64(&r);
	double d = rb_f64(&r);
	const char *s = rb_strdup(&r, &a, 0), *none = rb_strdup(&r, &a, 1);
	size_t n;
	const char *big = rb_str(&r, &n);
	int whole = !r.short_read;
	if (check) {
		ok(whole && r.p == r.end, "row read to its end");
		ok(u8 == 7 && u32 == 0xdeadbeef && u64 == 0x0102030405060708ull && d == -2.5,
		   "integers, double");
		ok(s && !strcmp(s, "service-a") && none == NULL, "string, and \"\" as none");
		ok(n == 300 && big[0] == 'x' && big[299] == 'x', "long string");
	}
	arena_release(&a);
	return whole;
}

static void test_rowbinary(void)
{
	struct buf b;
	buf_init(&b, BUF_NO_LIMIT);
	write_row(&b);
	read_row(b.data, b.len, 1);
	int short_ok = 1;
	for (size_t len = 0; len < b.len; len++)
		if (read_row(b.data, len, 0))
			short_ok = 0;
	ok(short_ok, "every truncation of the row is not complete (%zu prefixes)", b.len);
	/* a length that claims more than there is */
	struct buf lie;
	buf_init(&lie, BUF_NO_LIMIT);
	buf_put_varint(&lie, 1u << 30);
	buf_puts(&lie, "abc");
	struct rb r = {(const uint8_t *)lie.data, (const uint8_t *)lie.data + lie.len, 0};
	size_t n;
	rb_str(&r, &n);
	ok(r.short_read && n == 0, "a string longer than the data is not complete");
	buf_release(&lie);
	buf_release(&b);
}

static void test_unreachable(void)
{
	char err[256];
	/* port 1 on loopback: nobody listens there */
	struct ch_client *c = ch_client_new("clickhouse://127.0.0.1:1/hotpath", err, sizeof(err));
	char why[256] = "";
	ok(c && !ch_client_unreachable(c, why, sizeof(why)), "not unreachable before a request");
	int rc = c ? ch_exec(c, "SELECT 1", NULL, 0, NULL, err, sizeof(err)) : 0;
	is_int(rc, ERR_UNAVAILABLE, "an unreachable server is 'unavailable', to retry: %s", err);
	ok(strstr(err, "the ClickHouse store at 127.0.0.1:1 (database hotpath) is unreachable") != NULL,
	   "the message names the store: %s", err);
	ok(c && ch_client_unreachable(c, why, sizeof(why)) &&
		   strcmp(why, "the ClickHouse store at 127.0.0.1:1 (database hotpath) is unreachable") == 0,
	   "the client remembers it: %s", why);
	ch_client_free(c);
}

int main(void)
{
	test_url();
	test_quote();
	test_rowbinary();
	test_unreachable();
	return tap_done();
}
