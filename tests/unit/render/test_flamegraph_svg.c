/*
 * test_flamegraph_svg.c - folded-stack parsing and the SVG flame graph.
 *
 * Parsing: merge by path, totals, two-count lines, errors with line
 * numbers.  Drawing: a well-formed document (balanced tags, valid UTF-8),
 * a frame per node wide enough, titles with counts and shares, what
 * --reverse and --inverted change, differential colours, and the
 * speedscope export (checked with a small JSON grammar check).
 */
#include <stdlib.h>

#include "core/buf.h"
#include "profile/folded.h"
#include "render/flamegraph_svg.h"
#include "tap.h"

static int append(void *ctx, const char *data, size_t len)
{
	return buf_append(ctx, data, len);
}

/* Parse `text` (side 0) and optionally `text_b` (side 1) into a finished tree. */
static int load(struct folded_tree *t, const char *text, const char *text_b, unsigned flags, char *err,
		size_t errlen)
{
	folded_tree_init(t, NULL);
	if (folded_parse_buffer(t, text, strlen(text), flags, 0, err, errlen) < 0)
		return -1;
	if (text_b && folded_parse_buffer(t, text_b, strlen(text_b), flags, 1, err, errlen) < 0)
		return -1;
	return folded_tree_finish(t, err, errlen);
}

/* The SVG of `text` (and `text_b` for a differential graph); caller frees. */
static char *render(const char *text, const char *text_b, unsigned flags, const struct flame_opts *o)
{
	struct folded_tree t;
	struct buf out;
	char err[256] = "";
	buf_init(&out, BUF_NO_LIMIT);
	if (load(&t, text, text_b, flags, err, sizeof(err)) < 0 ||
	    flamegraph_svg(&t, o, append, &out, err, sizeof(err)) < 0) {
		printf("#   render failed: %s\n", err);
		buf_release(&out);
		folded_tree_release(&t);
		return strdup("");
	}
	folded_tree_release(&t);
	return out.data ? out.data : strdup("");
}

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/*
 * Tags balance: every <x> is closed by </x> in order, <x/> closes itself;
 * declarations, comments and CDATA are skipped.  Returns 0 or the offset
 * of the first problem + 1.
 */
static size_t unbalanced(const char *s)
{
	char stack[64][32];
	int depth = 0, seen_root = 0;
	const char *p = s;
	while ((p = strchr(p, '<')) != NULL) {
		const char *q;
		if (!strncmp(p, "<![CDATA[", 9))
			q = strstr(p, "]]>");
		else if (!strncmp(p, "<!--", 4))
			q = strstr(p, "-->");
		else if (p[1] == '?' || p[1] == '!')
			q = strchr(p, '>');
		else {
			int closing = p[1] == '/';
			const char *n = p + 1 + closing, *e = n;
			while (*e && *e != ' ' && *e != '>' && *e != '/' && *e != '\n')
				e++;
			char name[32];
			size_t len = (size_t)(e - n);
			if (!len || len >= sizeof(name))
				return (size_t)(p - s) + 1;
			memcpy(name, n, len);
			name[len] = 0;
			/* find the end of the tag, skipping quoted attribute values */
			q = e;
			while (*q && *q != '>') {
				if (*q == '"') {
					q = strchr(q + 1, '"');
					if (!q)
						return (size_t)(p - s) + 1;
				}
				q++;
			}
			if (!*q)
				return (size_t)(p - s) + 1;
			if (closing) {
				if (!depth || strcmp(stack[depth - 1], name) != 0)
					return (size_t)(p - s) + 1;
				depth--;
			} else if (q[-1] != '/') {
				if (depth == 64 || (!depth && seen_root))
					return (size_t)(p - s) + 1;
				memcpy(stack[depth++], name, len + 1);
				seen_root = 1;
			}
		}
		if (!q)
			return (size_t)(p - s) + 1;
		p = q + 1;
	}
	return depth == 0 && seen_root ? 0 : strlen(s) + 1;
}

static int valid_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		int n = *s < 0x80 ? 0 : *s >= 0xf0 ? 3 : *s >= 0xe0 ? 2 : *s >= 0xc2 ? 1 : -1;
		if (n < 0)
			return 0;
		for (int i = 1; i <= n; i++)
			if ((s[i] & 0xc0) != 0x80)
				return 0;
		s += n + 1;
	}
	return 1;
}

/* Fill and y of the frame whose title starts with `title`; 0 if found. */
static int frame(const char *svg, const char *title, int *r, int *g, int *b, double *y)
{
	char key[512];
	snprintf(key, sizeof(key), "<title>%s", title);
	const char *p = strstr(svg, key);
	if (!p)
		return -1;
	const char *ys = strstr(p, " y=\""), *fill = strstr(p, "fill=\"rgb(");
	if (!ys || !fill || sscanf(fill, "fill=\"rgb(%d,%d,%d)", r, g, b) != 3)
		return -1;
	*y = atof(ys + 4);
	return 0;
}

static const char simple[] = "a;b;c 3\n"
			     "a;b;d 1\n"
			     "a;e 4\n"
			     "f 2\n";

static void test_parse(void)
{
	struct folded_tree t;
	char err[256] = "";
	int r = load(&t, "a;b;c 3\nf 2\r\n\na;b;d 1\na;e 4\na;b;c 2\n", NULL, 0, err, sizeof(err));
	is_int(r, 0, "folded lines parse (%s)", err);
	is_int(t.n_nodes, 7, "seven nodes: the root and a b c d e f, merged by path");
	is_int(t.nodes[0].total[0], 12, "the root holds the grand total");
	is_int(t.max_depth, 3, "the deepest frame is at depth 3");
	/* a's children in name order: b then e */
	uint32_t a = t.kids[t.nodes[0].kids];
	size_t len;
	const char *name = folded_name(&t, t.nodes[a].name, &len);
	ok(len == 1 && name[0] == 'a' && t.nodes[a].total[0] == 10, "a comes first, with 10");
	const char *first = folded_name(&t, t.nodes[t.kids[t.nodes[a].kids]].name, &len);
	ok(len == 1 && first[0] == 'b', "a's children are sorted by name");
	struct buf out;
	buf_init(&out, BUF_NO_LIMIT);
	folded_tree_write(&t, 0, append, &out);
	is_str(out.data, "a;b;c 5\na;b;d 1\na;e 4\nf 2\n", "written back merged and sorted");
	buf_release(&out);
	folded_tree_release(&t);

	r = load(&t, "x;y 1 2\nx;z 3 0\n", NULL, 0, err, sizeof(err));
	ok(r == 0 && t.sides == 2 && t.nodes[0].total[0] == 4 && t.nodes[0].total[1] == 2,
	   "two counts per line fill both sides");
	folded_tree_release(&t);

	r = load(&t, "a;b 1\nc;b 2\n", NULL, FOLDED_REVERSE, err, sizeof(err));
	ok(r == 0 && t.n_nodes == 4 && t.nodes[t.kids[0]].total[0] == 3,
	   "--reverse merges from the leaf: b holds 3");
	folded_tree_release(&t);
}

static void expect_parse_error(const char *text, unsigned flags, const char *needle, const char *what)
{
	struct folded_tree t;
	char err[256] = "";
	int r = load(&t, text, NULL, flags, err, sizeof(err));
	if (!ok(r < 0 && strstr(err, needle), "%s: rejected with '%s'", what, needle))
		printf("#   returned %d, message \"%s\"\n", r, err);
	folded_tree_release(&t);
}

static void test_parse_errors(void)
{
	expect_parse_error("a;b 1\nno count here\n", 0, "line 2:", "a line without a count");
	expect_parse_error("a;b 1\n\na;b x\n", 0, "line 3:", "a count that is not a number");
	expect_parse_error("a;b 1\n5\n", 0, "line 2:", "a count alone");
	expect_parse_error("a 1\n;; 5\n", 0, "line 2: empty stack", "an empty stack");
	expect_parse_error("a 99999999999999999999999\n", 0, "line 1: count too large",
			   "a count beyond 64 bits");
	expect_parse_error("a 1 2\nb 3\n", 0, "line 2:", "one count after two-count lines");
	expect_parse_error("a 18446744073709551615\na 1\n", 0, "line 2: count overflows",
			   "a sum beyond 64 bits");
	struct folded_tree t;
	char err[256] = "";
	struct folded_limits lim = {.max_depth = 3};
	folded_tree_init(&t, &lim);
	int r = folded_parse_buffer(&t, "a;b;c 1\na;b;c;d 1\n", 18, 0, 0, err, sizeof(err));
	ok(r < 0 && strstr(err, "line 2: stack deeper than 3"), "depth limit names the line (%s)", err);
	folded_tree_release(&t);
	lim = (struct folded_limits){.max_line = 8};
	folded_tree_init(&t, &lim);
	r = folded_parse_buffer(&t, "a;b 1\na;b;c;d;e 1\n", 18, 0, 0, err, sizeof(err));
	ok(r < 0 && strstr(err, "line 2: longer than 8"), "line limit names the line (%s)", err);
	folded_tree_release(&t);
}

static void test_svg_basics(void)
{
	struct flame_opts o;
	flame_opts_init(&o);
	char *svg = render(simple, NULL, 0, &o);
	is_int(unbalanced(svg), 0, "tags balance");
	ok(!strncmp(svg, "<?xml", 5) && strstr(svg, "</svg>\n"), "a complete SVG document");
	is_int(count(svg, "<g class=\"f"), 7, "a frame per node: all a b c d e f");
	ok(strstr(svg, "<title>all (10 samples, 100.00%)</title>") != NULL, "the root title");
	ok(strstr(svg, "<title>a (8 samples, 80.00%)</title>") != NULL, "a frame title with count "
									"and percentage");
	ok(strstr(svg, "<title>d (1 samples, 10.00%)</title>") != NULL, "a leaf title");
	ok(strstr(svg, ">Flame Graph</text>") != NULL, "the default title");
	ok(strstr(svg, "function zoom(") && strstr(svg, "function search(") && strstr(svg, "Reset Zoom") &&
		   strstr(svg, "Matched: "),
	   "the script zooms, resets and searches");
	free(svg);

	flame_opts_set(&o, "minwidth", "200", NULL, 0);
	svg = render(simple, NULL, 0, &o);
	is_int(count(svg, "<g class=\"f"), 6, "minwidth 200 px leaves out d (118 px)");
	free(svg);
	flame_opts_set(&o, "minwidth", "15%", NULL, 0);
	svg = render(simple, NULL, 0, &o);
	is_int(count(svg, "<g class=\"f"), 6, "minwidth 15%% leaves out d (10%%)");
	ok(strstr(svg, "<title>f (2 samples") != NULL, "and keeps f (20%%)");
	free(svg);

	flame_opts_init(&o);
	flame_opts_set(&o, "title", "CPU <&> \"time\"", NULL, 0);
	flame_opts_set(&o, "countname", "bytes", NULL, 0);
	svg = render("x 1234567\n", NULL, 0, &o);
	ok(strstr(svg, "<title>x (1,234,567 bytes, 100.00%)</title>") != NULL,
	   "counts with thousands separators and the count name");
	ok(strstr(svg, ">CPU &lt;&amp;&gt; &quot;time&quot;</text>") != NULL, "the title, escaped");
	free(svg);

	/* many frames below 0.1 px: only the wide ones are drawn */
	struct buf many;
	buf_init(&many, BUF_NO_LIMIT);
	buf_puts(&many, "main;big 10000000\n");
	for (int i = 0; i < 1000; i++)
		buf_printf(&many, "main;small%d 1\n", i);
	flame_opts_init(&o);
	svg = render(many.data, NULL, 0, &o);
	is_int(count(svg, "<g class=\"f"), 3, "frames under minwidth are left out");
	free(svg);
	buf_release(&many);
}

static void test_svg_hostile_names(void)
{
	struct flame_opts o;
	flame_opts_init(&o);
	char *svg = render("<script>;a&b;\"q\";\xff\xfe bad;ok\x01\x02 5\n", NULL, 0, &o);
	is_int(unbalanced(svg), 0, "hostile names keep the tags balanced");
	ok(valid_utf8(svg), "invalid UTF-8 in names becomes valid UTF-8");
	ok(strstr(svg, "<title>&lt;script&gt;") && strstr(svg, "a&amp;b"), "markup is escaped");
	ok(!strchr(svg, '\x01'), "control characters are replaced");
	free(svg);
}

static void test_svg_reverse_inverted(void)
{
	struct flame_opts o;
	double y_all, y_leaf, y_all_i, y_leaf_i;
	int r, g, b;
	flame_opts_init(&o);
	const char *in = "a;b;c 3\nd;b;c 1\n";
	char *plain = render(in, NULL, 0, &o);
	char *rev = render(in, NULL, FOLDED_REVERSE, &o);
	ok(strstr(plain, "<title>c (3 samples") && strstr(plain, "<title>c (1 samples"),
	   "without --reverse c is two leaves");
	ok(strstr(rev, "<title>c (4 samples, 100.00%)</title>") && strstr(rev, "<title>a (3 samples"),
	   "with --reverse c is the base, a a leaf");
	flame_opts_set(&o, "inverted", NULL, NULL, 0);
	char *inv = render(in, NULL, 0, &o);
	ok(frame(plain, "all (", &r, &g, &b, &y_all) == 0 && frame(plain, "c (3", &r, &g, &b, &y_leaf) == 0 &&
		   y_all > y_leaf,
	   "a flame graph has its root at the bottom");
	ok(frame(inv, "all (", &r, &g, &b, &y_all_i) == 0 && frame(inv, "c (3", &r, &g, &b, &y_leaf_i) == 0 &&
		   y_all_i < y_leaf_i,
	   "an icicle graph has its root at the top");
	ok(strstr(inv, ">Icicle Graph</text>") != NULL, "and says so in its title");
	free(plain);
	free(rev);
	free(inv);
}

static void test_svg_colours(void)
{
	struct flame_opts o;
	int r1, g1, b1, r2, g2, b2;
	double y;
	flame_opts_init(&o);
	char *one = render("main;parse 5\nmain;other 1\n", NULL, 0, &o);
	char *two = render("x;y;parse 7\n", NULL, 0, &o);
	ok(frame(one, "parse (", &r1, &g1, &b1, &y) == 0 && frame(two, "parse (", &r2, &g2, &b2, &y) == 0 &&
		   r1 == r2 && g1 == g2 && b1 == b2,
	   "a name has the same colour in every graph");
	free(one);
	free(two);
	flame_opts_set(&o, "colors", "java", NULL, 0);
	one = render("java;start_thread;Ljava/lang/Thread:::run_[j];do_sys_open_[k] 5\n", NULL, 0, &o);
	ok(frame(one, "Ljava/lang/Thread:::run_[j] (", &r1, &g1, &b1, &y) == 0 && g1 > r1 && g1 > b1,
	   "--colors java: JIT frames are green");
	ok(frame(one, "do_sys_open_[k] (", &r1, &g1, &b1, &y) == 0 && r1 > g1 && g1 > b1,
	   "--colors java: kernel frames are orange");
	free(one);
	is_int(flame_opts_set(&o, "colors", "plaid", NULL, 0), -1, "an unknown palette is refused");
}

static void test_svg_diff(void)
{
	struct flame_opts o;
	int r, g, b;
	double y;
	flame_opts_init(&o);
	const char *a = "main;grow 10\nmain;shrink 10\nmain;same 10\nmain;old 5\n";
	const char *bb = "main;grow 15\nmain;shrink 5\nmain;same 10\nmain;new 5\n";
	char *svg = render(a, bb, 0, &o);
	is_int(unbalanced(svg), 0, "the differential graph's tags balance");
	ok(frame(svg, "grow (", &r, &g, &b, &y) == 0 && r > g + 50 && r > b + 50, "a grown frame is red");
	ok(frame(svg, "shrink (", &r, &g, &b, &y) == 0 && b > r + 50 && b > g + 50, "a shrunk frame is blue");
	ok(frame(svg, "same (", &r, &g, &b, &y) == 0 && r == g && g == b, "an unchanged frame is grey");
	ok(strstr(svg, "<g class=\"f new\"><title>new (only in B: 5 samples") != NULL,
	   "a frame only in B is marked new");
	ok(strstr(svg, "<g class=\"f gone\"><title>old (only in A: 5 samples") != NULL,
	   "a frame only in A is marked gone");
	ok(strstr(svg, "colour: self change") && strstr(svg, "totals equal"),
	   "the subtitle says the colour shows self change");
	ok(strstr(svg, "<title>grow (A: 10 samples, 28.57%; B: 15 samples, 42.86%; self change "
		       "+14.29%)") != NULL,
	   "a changed frame's title gives both sides and the change");
	free(svg);

	svg = render(a, a, 0, &o);
	int neutral = 1;
	for (const char *p = svg; (p = strstr(p, "fill=\"rgb(")) != NULL; p++) {
		if (sscanf(p, "fill=\"rgb(%d,%d,%d)", &r, &g, &b) == 3 && !(r == g && g == b))
			neutral = 0;
	}
	ok(neutral, "identical profiles give only neutral colours");
	free(svg);

	/* B is A doubled: normalised there is no change; raw, everything grew */
	svg = render("m;x 10\nm;y 30\n", "m;x 20\nm;y 60\n", 0, &o);
	ok(frame(svg, "x (", &r, &g, &b, &y) == 0 && r == g && g == b,
	   "scaled to equal totals, a doubled profile shows no change");
	ok(strstr(svg, "A normalised x2 to B") != NULL, "the subtitle says A was scaled");
	free(svg);
	flame_opts_set(&o, "raw", NULL, NULL, 0);
	flame_opts_set(&o, "inclusive", NULL, NULL, 0);
	svg = render("m;x 10\nm;y 30\n", "m;x 20\nm;y 60\n", 0, &o);
	ok(frame(svg, "m (", &r, &g, &b, &y) == 0 && r > g + 50, "raw inclusive change: the parent grew too");
	ok(strstr(svg, "colour: inclusive change") && strstr(svg, "not normalised"),
	   "the subtitle says inclusive and not normalised");
	free(svg);

	/* the folded form of a diff, as difffolded.pl */
	struct folded_tree t;
	struct buf out;
	char err[256];
	buf_init(&out, BUF_NO_LIMIT);
	load(&t, "m;x 10\nm;y 30\n", "m;x 20\nm;z 60\n", 0, err, sizeof(err));
	folded_tree_write(&t, FOLDED_WRITE_TWO, append, &out);
	is_str(out.data, "m;x 10 20\nm;y 30 0\nm;z 0 60\n", "diff as folded: stack countA countB");
	buf_reset(&out);
	folded_tree_write(&t, FOLDED_WRITE_TWO | FOLDED_WRITE_NORMALIZE, append, &out);
	is_str(out.data, "m;x 20 20\nm;y 60 0\nm;z 0 60\n", "normalised: A scaled to B's total");
	buf_release(&out);
	folded_tree_release(&t);
}

/* A JSON value at *p (RFC 8259 grammar, no semantics); advances *p. */
static int json_value(const char **p);

static void json_ws(const char **p)
{
	while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r')
		(*p)++;
}

static int json_string(const char **p)
{
	if (**p != '"')
		return -1;
	for ((*p)++; **p != '"'; (*p)++) {
		if ((unsigned char)**p < 0x20)
			return -1;
		if (**p == '\\') {
			(*p)++;
			if (**p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", (*p)[i]) || !(*p)[i])
						return -1;
				*p += 4;
			} else if (!strchr("\"\\/bfnrt", **p) || !**p) {
				return -1;
			}
		}
	}
	(*p)++;
	return 0;
}

static int json_list(const char **p, char close, int members)
{
	(*p)++;
	json_ws(p);
	if (**p == close) {
		(*p)++;
		return 0;
	}
	for (;;) {
		if (members) {
			if (json_string(p) < 0)
				return -1;
			json_ws(p);
			if (*(*p)++ != ':')
				return -1;
		}
		if (json_value(p) < 0)
			return -1;
		json_ws(p);
		if (**p == close) {
			(*p)++;
			return 0;
		}
		if (*(*p)++ != ',')
			return -1;
	}
}

static int json_value(const char **p)
{
	json_ws(p);
	if (**p == '{')
		return json_list(p, '}', 1);
	if (**p == '[')
		return json_list(p, ']', 0);
	if (**p == '"')
		return json_string(p);
	if (**p == '-' || (**p >= '0' && **p <= '9')) {
		char *end;
		strtod(*p, &end);
		*p = end;
		return 0;
	}
	for (const char *const *w = (const char *const[]){"true", "false", "null", NULL}; *w; w++) {
		if (!strncmp(*p, *w, strlen(*w))) {
			*p += strlen(*w);
			return 0;
		}
	}
	return -1;
}

static int valid_json(const char *s)
{
	if (json_value(&s) < 0)
		return 0;
	json_ws(&s);
	return *s == 0;
}

static void test_speedscope(void)
{
	struct folded_tree t;
	struct buf out;
	char err[256] = "";
	buf_init(&out, BUF_NO_LIMIT);
	load(&t, simple, NULL, 0, err, sizeof(err));
	int r = flamegraph_speedscope(&t, "cpu \"x\"", "nanoseconds", append, &out, err, sizeof(err));
	ok(r == 0 && out.data && valid_json(out.data), "speedscope output is valid JSON");
	ok(strstr(out.data, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\"") ==
		   out.data,
	   "it names speedscope's schema");
	ok(strstr(out.data, "\"name\":\"cpu \\\"x\\\"\"") != NULL, "the name, escaped");
	ok(strstr(out.data, "\"shared\":{\"frames\":[{\"name\":\"a\"},{\"name\":\"b\"},"
			    "{\"name\":\"c\"},{\"name\":\"d\"},{\"name\":\"e\"},{\"name\":\"f\"}]}") != NULL,
	   "six distinct frame names");
	ok(strstr(out.data, "{\"type\":\"sampled\",\"name\":\"cpu \\\"x\\\"\",\"unit\":\"nanoseconds\","
			    "\"startValue\":0,\"endValue\":10,") != NULL,
	   "a sampled profile in nanoseconds that ends at the total");
	ok(strstr(out.data, "\"samples\":[[0,1,2],[0,1,3],[0,4],[5]],\"weights\":[3,1,4,2]") != NULL,
	   "a sample per distinct stack, root first, with its weight");
	buf_release(&out);
	folded_tree_release(&t);

	buf_init(&out, BUF_NO_LIMIT);
	load(&t, "a;\xff\x01 1\n", "a;b 2\n", 0, err, sizeof(err));
	r = flamegraph_speedscope(&t, NULL, "furlongs", append, &out, err, sizeof(err));
	ok(r == 0 && valid_json(out.data) && valid_utf8(out.data),
	   "hostile names still give valid JSON in UTF-8");
	ok(strstr(out.data, "\"name\":\"A\"") && strstr(out.data, "\"name\":\"B\"") &&
		   strstr(out.data, "\"unit\":\"none\""),
	   "two sides give profiles A and B; an unknown unit becomes none");
	buf_release(&out);
	folded_tree_release(&t);
}

int main(void)
{
	test_parse();
	test_parse_errors();
	test_svg_basics();
	test_svg_hostile_names();
	test_svg_reverse_inverted();
	test_svg_colours();
	test_svg_diff();
	test_speedscope();
	return tap_done();
}
