/*
 * test_pprof.c - pprof decoding, profile uploads and Pyroscope names.
 *
 * Golden files: tests/fixtures/pprof/ holds profiles taken by a real
 * profiler (@datadog/pprof on a small Node program) and one built by hand,
 * each with the folded stacks and facts an independent decoder
 * (pprof-format) reads from it (generate.mjs makes them).  Then hand-made
 * broken profiles: every index the format has is checked.
 */
#include <stdlib.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/gzip.h"
#include "profile/folded.h"
#include "profile/frame_name.h"
#include "profile/pprof.h"
#include "profile/upload.h"
#include "tap.h"

#define FIXTURES "tests/fixtures/pprof/"

static int append(void *ctx, const char *d, size_t n)
{
	return buf_append(ctx, d, n);
}

/* Decode `data` with `o` into folded text; returns pprof_decode's result. */
static int decode_folded(const void *data, size_t len, const struct pprof_options *o, struct arena *a,
			 struct pprof_info *info, struct buf *folded, char *err, size_t errlen)
{
	struct folded_tree t;
	folded_tree_init(&t, NULL);
	int r = pprof_decode(data, len, o, &t, 0, a, info, err, errlen);
	if (r == 0 && folded_tree_finish(&t, err, errlen) == 0)
		folded_tree_write(&t, 0, append, folded);
	folded_tree_release(&t);
	return r;
}

/* The value of "key value" in the .meta text, or NULL. */
static const char *meta(const char *text, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ' ') {
			size_t n = strcspn(p + kl + 1, "\n");
			snprintf(out, outlen, "%.*s", (int)n, p + kl + 1);
			return out;
		}
	return NULL;
}

/* Profile NAME (file FILE) read as sample type TYPE (NULL: default) against NAME.folded/.meta. */
static void check_fixture(const char *name, const char *file, const char *type)
{
	char path[256], err[512], want_s[128], got_s[128];
	struct buf in, want, want_meta, got;
	struct arena a;
	struct pprof_info info;
	struct pprof_options o = {.sample_type = type};
	buf_init(&in, BUF_NO_LIMIT);
	buf_init(&want, BUF_NO_LIMIT);
	buf_init(&want_meta, BUF_NO_LIMIT);
	buf_init(&got, BUF_NO_LIMIT);
	arena_init(&a);
	snprintf(path, sizeof(path), FIXTURES "%s", file);
	ok(buf_read_file(&in, path) == 0, "%s: read %s", name, path);
	snprintf(path, sizeof(path), FIXTURES "%s.folded", name);
	buf_read_file(&want, path);
	snprintf(path, sizeof(path), FIXTURES "%s.meta", name);
	buf_read_file(&want_meta, path);
	int r = decode_folded(in.data, in.len, &o, &a, &info, &got, err, sizeof(err));
	if (!ok(r == 0, "%s: decodes", name))
		printf("#   %s\n", err);
	is_str(got.data ? got.data : "", want.data ? want.data : "(missing)",
	       "%s: stacks as pprof-format reads them", name);
	is_str(info.type, meta(want_meta.data, "type", want_s, sizeof(want_s)), "%s: sample type", name);
	is_str(info.unit, meta(want_meta.data, "unit", want_s, sizeof(want_s)), "%s: unit", name);
	static const char *const nums[] = {"samples", "total", "time_ns", "duration_ns"};
	uint64_t vals[] = {info.samples, info.total, info.time_ns, info.duration_ns};
	for (size_t i = 0; i < 4; i++) {
		snprintf(got_s, sizeof(got_s), "%llu", (unsigned long long)vals[i]);
		is_str(got_s, meta(want_meta.data, nums[i], want_s, sizeof(want_s)), "%s: %s", name, nums[i]);
	}
	struct buf labels;
	buf_init(&labels, BUF_NO_LIMIT);
	for (size_t i = 0; i < info.n_labels; i++)
		buf_printf(&labels, "label %s=%s\n", info.labels[i].key, info.labels[i].value);
	const char *wl = want_meta.data ? strstr(want_meta.data, "label ") : NULL;
	is_str(labels.data ? labels.data : "", wl ? wl : "", "%s: labels common to every sample", name);
	buf_release(&labels);
	buf_release(&in);
	buf_release(&want);
	buf_release(&want_meta);
	buf_release(&got);
	arena_release(&a);
}

static void test_fixtures(void)
{
	check_fixture("cpu", "cpu.pb.gz", NULL);
	check_fixture("cpu@wall", "cpu.pb.gz", "wall");
	check_fixture("heap", "heap.pb.gz", NULL);
	check_fixture("inline", "inline.pb", NULL);
	check_fixture("inline@alloc_space", "inline.pb", "alloc_space");
	check_fixture("inline@samples", "inline.pb", "samples");
}

/* ---- hand-made profiles --------------------------------------------------- */

static void pb_varint(struct buf *b, uint64_t v)
{
	buf_put_varint(b, v);
}

static void pb_uint(struct buf *b, unsigned field, uint64_t v)
{
	pb_varint(b, field << 3);
	pb_varint(b, v);
}

static void pb_bytes(struct buf *b, unsigned field, const void *p, size_t n)
{
	pb_varint(b, field << 3 | 2);
	pb_varint(b, n);
	buf_append(b, p, n);
}

static void pb_msg(struct buf *b, unsigned field, const struct buf *m)
{
	pb_bytes(b, field, m->data ? m->data : "", m->len);
}

/* What the tests break: a small valid profile, one field at a time. */
struct spec {
	int64_t fn_name;      /* string index of the function's name */
	uint64_t fn_id;	      /* function 1's id */
	uint64_t fn2_id;      /* function 2's id */
	uint64_t line_fn;     /* the function id location 1 refers to */
	uint64_t mapping;     /* location 1's mapping id */
	uint64_t sample_loc;  /* the location id sample 1 refers to */
	int values;	      /* values per sample */
	int64_t value;	      /* sample 1's value */
	int64_t type_index;   /* the sample type's name */
	int empty_first;      /* string 0 is "" */
	int64_t label_key;    /* sample 1's label key */
	const char *fn2_name; /* function 2's name */
};

static void spec_init(struct spec *s)
{
	*s = (struct spec){.fn_name = 3,
			   .fn_id = 1,
			   .fn2_id = 2,
			   .line_fn = 1,
			   .mapping = 0,
			   .sample_loc = 1,
			   .values = 1,
			   .value = 5,
			   .type_index = 1,
			   .empty_first = 1,
			   .label_key = 5,
			   .fn2_name = "main"};
}

/* strings: 0 "", 1 "cpu", 2 "nanoseconds", 3 "work", 4 fn2_name, 5 "region", 6 "eu" */
static void build(struct buf *out, const struct spec *s)
{
	struct buf m, sub;
	const char *strings[] = {
		s->empty_first ? "" : "x", "cpu", "nanoseconds", "work", s->fn2_name, "region", "eu"};
	buf_init(&m, BUF_NO_LIMIT);
	buf_init(&sub, BUF_NO_LIMIT);
	buf_reset(out);
	pb_uint(&m, 1, (uint64_t)s->type_index);
	pb_uint(&m, 2, 2);
	pb_msg(out, 1, &m);
	/* sample 1: work <- main; sample 2: main */
	buf_reset(&m);
	buf_reset(&sub);
	pb_varint(&sub, s->sample_loc);
	pb_varint(&sub, 2);
	pb_bytes(&m, 1, sub.data, sub.len);
	buf_reset(&sub);
	for (int i = 0; i < s->values; i++)
		buf_put_varint(&sub, (uint64_t)s->value);
	pb_bytes(&m, 2, sub.data ? sub.data : "", sub.len);
	buf_reset(&sub);
	pb_uint(&sub, 1, (uint64_t)s->label_key);
	pb_uint(&sub, 2, 6);
	pb_msg(&m, 3, &sub);
	pb_msg(out, 2, &m);
	buf_reset(&m);
	pb_uint(&m, 1, 2);
	pb_uint(&m, 2, 7);
	pb_msg(out, 2, &m);
	/* locations 1 (work) and 2 (main) */
	for (uint64_t id = 1; id <= 2; id++) {
		buf_reset(&m);
		buf_reset(&sub);
		pb_uint(&m, 1, id);
		if (id == 1 && s->mapping)
			pb_uint(&m, 2, s->mapping);
		pb_uint(&sub, 1, id == 1 ? s->line_fn : s->fn2_id);
		pb_msg(&m, 4, &sub);
		pb_msg(out, 4, &m);
	}
	buf_reset(&m);
	pb_uint(&m, 1, s->fn_id);
	pb_uint(&m, 2, (uint64_t)s->fn_name);
	pb_msg(out, 5, &m);
	buf_reset(&m);
	pb_uint(&m, 1, s->fn2_id);
	pb_uint(&m, 2, 4);
	pb_msg(out, 5, &m);
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		pb_bytes(out, 6, strings[i], strlen(strings[i]));
	buf_release(&m);
	buf_release(&sub);
}

/* Decode the spec's profile: the result, and the message or the stacks in `out`. */
static int try_spec(const struct spec *s, struct buf *out)
{
	struct buf pb;
	struct arena a;
	struct pprof_info info;
	struct pprof_options o = {0};
	char err[512];
	buf_init(&pb, BUF_NO_LIMIT);
	arena_init(&a);
	build(&pb, s);
	buf_reset(out);
	int r = decode_folded(pb.data, pb.len, &o, &a, &info, out, err, sizeof(err));
	if (r != 0) {
		buf_reset(out);
		buf_puts(out, err);
	}
	arena_release(&a);
	buf_release(&pb);
	return r;
}

static void expect_error(const struct spec *s, const char *what, const char *want)
{
	struct buf out;
	buf_init(&out, BUF_NO_LIMIT);
	int r = try_spec(s, &out);
	ok(r < 0, "%s: refused", what);
	if (!ok(out.data && strstr(out.data, want), "%s: the message says '%s'", what, want))
		printf("#   got: %s\n", out.data ? out.data : "(none)");
	buf_release(&out);
}

static void test_validation(void)
{
	struct spec s;
	struct buf out;
	buf_init(&out, BUF_NO_LIMIT);
	spec_init(&s);
	is_int(try_spec(&s, &out), 0, "the hand-made profile decodes");
	is_str(out.data, "main 7\nmain;work 5\n", "its stacks, root first");

	spec_init(&s);
	s.fn_name = 99;
	expect_error(&s, "function name index past the table", "string 99");
	spec_init(&s);
	s.fn_name = -1;
	expect_error(&s, "negative string index", "string -1");
	spec_init(&s);
	s.type_index = 7;
	expect_error(&s, "sample type index past the table", "string 7");
	spec_init(&s);
	s.line_fn = 9;
	expect_error(&s, "line with an unknown function", "function 9");
	spec_init(&s);
	s.sample_loc = 42;
	expect_error(&s, "sample with an unknown location", "location 42");
	spec_init(&s);
	s.mapping = 3;
	expect_error(&s, "location with an unknown mapping", "mapping 3");
	spec_init(&s);
	s.fn2_id = 1;
	expect_error(&s, "two functions with one id", "two functions have id 1");
	spec_init(&s);
	s.fn_id = 0;
	expect_error(&s, "function id 0", "id 0");
	spec_init(&s);
	s.values = 2;
	expect_error(&s, "sample with too many values", "2 values for 1 sample types");
	spec_init(&s);
	s.values = 0;
	expect_error(&s, "sample without values", "0 values");
	spec_init(&s);
	s.value = -3;
	expect_error(&s, "negative value", "negative value");
	spec_init(&s);
	s.empty_first = 0;
	expect_error(&s, "string table not starting with \"\"", "must start with");
	spec_init(&s);
	s.label_key = 70;
	expect_error(&s, "label key past the table", "label of sample 0");

	spec_init(&s);
	s.fn2_name = "ma;in\n\xff";
	is_int(try_spec(&s, &out), 0, "odd bytes in names decode");
	is_str(out.data, "ma_in_? 7\nma_in_?;work 5\n", "';', line breaks and invalid UTF-8 are replaced");
	buf_release(&out);
}

static void test_damaged_input(void)
{
	struct buf in, gz, out;
	struct arena a;
	struct pprof_info info;
	struct pprof_options o = {0};
	char err[512];
	buf_init(&in, BUF_NO_LIMIT);
	buf_init(&gz, BUF_NO_LIMIT);
	buf_init(&out, BUF_NO_LIMIT);
	arena_init(&a);
	buf_read_file(&in, FIXTURES "inline.pb");
	buf_read_file(&gz, FIXTURES "cpu.pb.gz");

	int r = decode_folded(in.data, in.len - 3, &o, &a, &info, &out, err, sizeof(err));
	ok(r < 0 && strstr(err, "invalid pprof"), "a truncated profile is refused: %s", err);
	int refused = 0, crashed = 0;
	for (size_t n = 0; n < in.len; n++) {
		buf_reset(&out);
		r = decode_folded(in.data, n, &o, &a, &info, &out, err, sizeof(err));
		refused += r < 0;
		crashed += r > 0;
	}
	ok(refused > 0 && !crashed, "every prefix of a profile decodes or is refused (%d refused)", refused);

	gz.data[gz.len / 2] ^= 0x55;
	gz.data[gz.len / 2 + 1] ^= 0x55;
	r = decode_folded(gz.data, gz.len, &o, &a, &info, &out, err, sizeof(err));
	ok(r < 0 && strstr(err, "gzip"), "damaged gzip data is refused, naming gzip: %s", err);

	o.max_input = 100;
	r = decode_folded(in.data, in.len, &o, &a, &info, &out, err, sizeof(err));
	is_int(r, ERR_TOO_BIG, "input over max_input: too large (%s)", err);

	/* a small gzip member that inflates past the limit */
	struct buf zeros, bomb;
	buf_init(&zeros, BUF_NO_LIMIT);
	buf_init(&bomb, BUF_NO_LIMIT);
	for (int i = 0; i < 1 << 20; i++)
		buf_putc(&zeros, 0);
	FILE *p = popen("gzip -c > /tmp/test_pprof_bomb.gz", "w");
	if (p) {
		fwrite(zeros.data, 1, zeros.len, p);
		pclose(p);
		buf_read_file(&bomb, "/tmp/test_pprof_bomb.gz");
		remove("/tmp/test_pprof_bomb.gz");
	}
	o.max_input = 64 * 1024;
	r = decode_folded(bomb.data, bomb.len, &o, &a, &info, &out, err, sizeof(err));
	ok(bomb.len > 0 && bomb.len < o.max_input && r == ERR_TOO_BIG,
	   "%zu bytes of gzip inflating past the limit: too large (%s)", bomb.len, err);

	o = (struct pprof_options){.sample_type = "wall"};
	r = decode_folded(in.data, in.len, &o, &a, &info, &out, err, sizeof(err));
	ok(r < 0 && strstr(err, "no sample type 'wall'") && strstr(err, "samples, cpu, alloc_space"),
	   "an absent sample type is refused, listing those there are: %s", err);

	o = (struct pprof_options){.type_hint = "alloc_space"};
	r = decode_folded(in.data, in.len, &o, &a, &info, &out, err, sizeof(err));
	ok(r == 0 && !strcmp(info.type, "alloc_space"), "a type hint picks that sample type");

	buf_release(&zeros);
	buf_release(&bomb);
	buf_release(&in);
	buf_release(&gz);
	buf_release(&out);
	arena_release(&a);
}

/* ---- uploads in the text formats ------------------------------------------ */

static void test_upload(void)
{
	struct arena a;
	struct upload_result res;
	struct pprof_options po = {0};
	char err[256];
	arena_init(&a);

	const char *folded = "b;c 2\na;b 3\nb;c 4\n";
	is_int(upload_decode(UPLOAD_FOLDED, folded, strlen(folded), &po, 0, &a, &res, err, sizeof(err)), 0,
	       "folded text decodes");
	is_str(res.folded, "a;b 3\nb;c 6\n", "identical stacks are summed and sorted");
	is_int(res.total, 9, "total");
	is_int(res.stacks, 2, "stacks");

	const char *lines = "a;b\r\n\na;b\nc\n";
	is_int(upload_decode(UPLOAD_LINES, lines, strlen(lines), &po, 0, &a, &res, err, sizeof(err)), 0,
	       "Pyroscope's lines format decodes");
	is_str(res.folded, "a;b 2\nc 1\n", "each line counts one sample");

	const char *bad = "a;b 1\na;b x\n";
	ok(upload_decode(UPLOAD_FOLDED, bad, strlen(bad), &po, 0, &a, &res, err, sizeof(err)) < 0 &&
		   strstr(err, "line 2"),
	   "a bad folded line is refused, naming it: %s", err);
	const char *big = "a;b 1\nc;d 2\n";
	is_int(upload_decode(UPLOAD_FOLDED, big, strlen(big), &po, 8, &a, &res, err, sizeof(err)),
	       ERR_TOO_BIG, "folded text over max_bytes: too large");

	const char *perf = "prog 1 [000] 1.0: cycles:\n\tffff a (/bin/x)\n\tffff main (/bin/x)\n\n";
	is_int(upload_decode(UPLOAD_PERF, perf, strlen(perf), &po, 0, &a, &res, err, sizeof(err)), 0,
	       "perf script text decodes");
	is_str(res.folded, "prog;main;a 1\n", "perf script: collapsed as stackcollapse-perf.pl does");
	arena_release(&a);
}

/* ---- Pyroscope names ------------------------------------------------------ */

static void test_names(void)
{
	struct arena a;
	struct upload_name n;
	char err[256];
	arena_init(&a);

	is_int(upload_parse_name("shop.cpu{env=prod, version = 2.4.0,otel.scope.name=x/y}", &a, &n, err,
				 sizeof(err)),
	       0, "a full name parses");
	is_str(n.app, "shop", "app name");
	is_str(n.type, "cpu", "type suffix");
	is_int(n.n_labels, 3, "labels");
	is_str(n.labels[1].key, "version", "label key, spaces dropped");
	is_str(n.labels[1].value, "2.4.0", "label value, spaces dropped");
	is_str(n.labels[2].key, "otel.scope.name", "keys may hold dots");

	is_int(upload_parse_name("my.app.name", &a, &n, err, sizeof(err)), 0, "dots without a known suffix");
	is_str(n.app, "my.app.name", "the whole name is the app");
	ok(n.type == NULL, "no type");
	is_int(upload_parse_name("svc.alloc_objects{}", &a, &n, err, sizeof(err)), 0, "empty braces");
	is_str(n.type, "alloc_objects", "alloc_objects suffix");

	static const struct {
		const char *name, *msg;
	} bad[] = {
		{"", "empty"},
		{"{env=prod}", "empty"},
		{"app{env=prod", "missing '}'"},
		{"app{=prod}", "label key is expected at column 5"},
		{"app{env}", "'=' expected"},
		{"app{env=prod}x", "after '}'"},
		{"ap p", "unexpected character"},
		{"app{a=b{c}", "unexpected character in a label value"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = upload_parse_name(bad[i].name, &a, &n, err, sizeof(err));
		ok(r < 0 && strstr(err, bad[i].msg), "'%s' is refused: %s", bad[i].name,
		   r < 0 ? err : "(accepted)");
	}
	arena_release(&a);
}

/* The function and file of frame names, as profilers write them. */
static void test_frame_parts(void)
{
	static const struct {
		const char *frame, *fn, *file;
	} cases[] = {
		{"./shop.mjs:scoreRecommendations:85", "scoreRecommendations", "shop.mjs"},
		{"file:///app/src/shop.mjs:score:7", "score", "shop.mjs"},
		{"node_modules/express/lib/router.js:(anonymous):120", "(anonymous)", "router.js"},
		{":Garbage Collection:0", "Garbage Collection", ""},
		{"busyHashing", "busyHashing", ""},
		{"fib2", "fib2", ""},
		{"main:12", "main:12", ""},
		{"a::b:3", "a::b:3", ""},
		{"std::vector<int>::push_back", "std::vector<int>::push_back", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct frame_parts p;
		char fn[128], file[128];
		frame_name_parts(cases[i].frame, strlen(cases[i].frame), &p);
		snprintf(fn, sizeof(fn), "%.*s", (int)p.fn_len, p.fn);
		snprintf(file, sizeof(file), "%.*s", (int)p.file_len, p.file);
		ok(!strcmp(fn, cases[i].fn) && !strcmp(file, cases[i].file),
		   "frame \"%s\": function \"%s\", file \"%s\"", cases[i].frame, fn, file);
	}
}

int main(void)
{
	test_frame_parts();
	test_fixtures();
	test_validation();
	test_damaged_input();
	test_upload();
	test_names();
	return tap_done();
}
