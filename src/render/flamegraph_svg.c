/*
 * flamegraph_svg.c - folded-stack tree to interactive SVG, and to
 * speedscope JSON (see flamegraph_svg.h).
 *
 * Two passes over the tree: the first finds what is wide enough to draw
 * (and, for a differential graph, the largest change, which sets the
 * colour scale); the second writes one <g> per drawn frame.  Frames are
 * laid out as flamegraph.pl does: children left to right in name order from
 * their parent's left edge, width proportional to the count.
 *
 * Frame names are untrusted bytes: they are written as valid UTF-8 XML
 * text (invalid sequences and control characters become U+FFFD), so the
 * SVG stays well-formed whatever the input.
 */
#include "render/flamegraph_svg.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json_write.h"
#include "core/log.h"
#include "core/utf8.h"

#define XPAD	   10
#define FLUSH_AT   (256 * 1024)
#define FONT_WIDTH 0.59 /* average glyph width relative to the font size */
#define NO_COLOUR  UINT32_MAX

/* --- output ------------------------------------------------------------------ */

struct out {
	struct buf b;
	int (*emit)(void *ctx, const char *data, size_t len);
	void *ctx;
	int rc;
};

static void out_flush(struct out *o)
{
	if (o->b.len && !o->rc)
		o->rc = o->emit(o->ctx, o->b.data, o->b.len);
	buf_reset(&o->b);
}

static inline void out_mem(struct out *o, const char *s, size_t n)
{
	buf_append(&o->b, s, n);
}

static inline void out_str(struct out *o, const char *s)
{
	buf_append(&o->b, s, strlen(s));
}

static void out_u64(struct out *o, uint64_t v)
{
	char tmp[24];
	size_t n = sizeof(tmp);
	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	out_mem(o, tmp + n, sizeof(tmp) - n);
}

/* 1234567 as "1,234,567". */
static void out_count(struct out *o, uint64_t v)
{
	char tmp[32];
	size_t n = sizeof(tmp), digits = 0;
	do {
		if (digits && digits % 3 == 0)
			tmp[--n] = ',';
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
		digits++;
	} while (v);
	out_mem(o, tmp + n, sizeof(tmp) - n);
}

/* A number with a fixed count of decimals (0..3), rounded. */
static void out_fixed(struct out *o, double v, int decimals)
{
	static const double scale[] = {1, 10, 100, 1000};
	if (!(v == v) || v > 1e15 || v < -1e15)
		v = 0; /* NaN or absurd: never produce "nan" in an attribute */
	if (v < 0) {
		buf_putc(&o->b, '-');
		v = -v;
	}
	uint64_t t = (uint64_t)llround(v * scale[decimals]);
	uint64_t whole = t / (uint64_t)scale[decimals], frac = t % (uint64_t)scale[decimals];
	out_u64(o, whole);
	if (decimals) {
		char d[4];
		for (int i = decimals - 1; i >= 0; i--) {
			d[i] = (char)('0' + frac % 10);
			frac /= 10;
		}
		buf_putc(&o->b, '.');
		out_mem(o, d, (size_t)decimals);
	}
}

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 when it is invalid
 * or a code point XML 1.0 does not allow (controls, surrogates, U+FFFE/F).
 */
static size_t utf8_ok(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len = utf8_decode(s, n, &cp);
	if (!len || (cp < 0x20 && cp != '\t') || cp == 0xfffe || cp == 0xffff)
		return 0;
	return len;
}

/*
 * Write at most `max_chars` characters of s as XML text; returns how many
 * characters s has in all.  Pass max_chars = SIZE_MAX for everything.
 */
static size_t out_xml(struct out *o, const char *str, size_t n, size_t max_chars)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, chars = 0;
	while (i < n) {
		size_t run = i;
		while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '&' && s[run] != '<' &&
		       s[run] != '>' && s[run] != '"' && chars + (run - i) < max_chars)
			run++;
		if (run > i) {
			out_mem(o, str + i, run - i);
			chars += run - i;
			i = run;
			continue;
		}
		size_t len = utf8_ok(s + i, n - i);
		if (chars < max_chars) {
			switch (len ? s[i] : 0) {
			case '&': out_str(o, "&amp;"); break;
			case '<': out_str(o, "&lt;"); break;
			case '>': out_str(o, "&gt;"); break;
			case '"': out_str(o, "&quot;"); break;
			case 0: out_str(o, "\xef\xbf\xbd"); break;
			default: out_mem(o, str + i, len);
			}
		}
		chars++;
		i += len ? len : 1;
	}
	return chars;
}

/* Characters of s, counting each invalid byte as one. */
static size_t utf8_chars(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, chars = 0;
	while (i < n) {
		if (s[i] < 0x80) {
			i++;
		} else {
			size_t len = utf8_ok(s + i, n - i);
			i += len ? len : 1;
		}
		chars++;
	}
	return chars;
}

/* A JSON string; invalid UTF-8 becomes U+FFFD.  '<' and '>' are escaped too,
 * so the text can sit inside a script's CDATA section. */
static void out_json(struct out *o, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	buf_putc(&o->b, '"');
	while (i < n) {
		unsigned c = s[i];
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>') {
			buf_putc(&o->b, (char)c);
			i++;
			continue;
		}
		if (c >= 0x80) {
			size_t len = utf8_ok(s + i, n - i);
			if (len)
				out_mem(o, str + i, len);
			else
				out_str(o, "\\ufffd");
			i += len ? len : 1;
			continue;
		}
		char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			out_mem(o, esc, 2);
		} else {
			out_mem(o, esc, 6);
		}
		i++;
	}
	buf_putc(&o->b, '"');
}

/* --- colours -------------------------------------------------------------- */

static uint64_t name_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static inline uint32_t rgb(double r, double g, double b)
{
	return (uint32_t)r << 16 | (uint32_t)g << 8 | (uint32_t)b;
}

static bool has(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	return n >= m && memmem(s, n, lit, m) != NULL;
}

static bool ends(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	return n >= m && memcmp(s + n - m, lit, m) == 0;
}

/* Java-ish frame: a package path, with or without the JVM's 'L'. */
static bool java_package(const char *s, size_t n)
{
	static const char *const pkgs[] = {"java/", "javax/", "jdk/", "net/", "org/", "com/", "io/", "sun/"};
	if (n && s[0] == 'L') {
		s++;
		n--;
	}
	for (size_t i = 0; i < sizeof(pkgs) / sizeof(pkgs[0]); i++)
		if (n >= strlen(pkgs[i]) && memcmp(s, pkgs[i], strlen(pkgs[i])) == 0)
			return true;
	return false;
}

/* The palette to use for this name under the language palettes. */
static enum flame_palette language_hue(enum flame_palette p, const char *s, size_t n)
{
	if (p == FLAME_JAVA) {
		if (ends(s, n, "_[j]"))
			return FLAME_GREEN;
		if (ends(s, n, "_[i]"))
			return FLAME_AQUA;
		if (java_package(s, n))
			return FLAME_GREEN;
		if (ends(s, n, "_[k]"))
			return FLAME_ORANGE;
		if (has(s, n, "::"))
			return FLAME_YELLOW;
		return FLAME_RED;
	}
	if (ends(s, n, "_[j]"))
		return memchr(s, '/', n) ? FLAME_GREEN : FLAME_AQUA;
	if (ends(s, n, "_[k]"))
		return FLAME_ORANGE;
	if (has(s, n, "::"))
		return FLAME_YELLOW;
	if (has(s, n, ".js") && memchr(s, '/', n))
		return FLAME_GREEN;
	if (memchr(s, ':', n))
		return FLAME_AQUA;
	return FLAME_RED;
}

static uint32_t palette_colour(enum flame_palette p, const char *s, size_t n)
{
	if (n == 1 && s[0] == '-')
		return rgb(200, 200, 200);
	if (n == 2 && s[0] == '-' && s[1] == '-')
		return rgb(160, 160, 160);
	uint64_t h = name_hash(s, n);
	double v1 = (double)(h & 0xffff) / 65536.0, v2 = (double)(h >> 16 & 0xffff) / 65536.0,
	       v3 = (double)(h >> 32 & 0xffff) / 65536.0;
	if (p == FLAME_JAVA || p == FLAME_JS)
		p = language_hue(p, s, n);
	switch (p) {
	case FLAME_MEM: return rgb(0, 190 + 50 * v2, 210 * v1);
	case FLAME_IO: return rgb(80 + 60 * v1, 80 + 60 * v1, 190 + 55 * v2);
	case FLAME_RED: return rgb(200 + 55 * v1, 50 + 80 * v1, 50 + 80 * v1);
	case FLAME_GREEN: return rgb(50 + 60 * v1, 200 + 55 * v1, 50 + 60 * v1);
	case FLAME_BLUE: return rgb(80 + 60 * v1, 80 + 60 * v1, 205 + 50 * v1);
	case FLAME_AQUA: return rgb(50 + 60 * v1, 165 + 55 * v1, 165 + 55 * v1);
	case FLAME_YELLOW: return rgb(175 + 55 * v1, 175 + 55 * v1, 50 + 20 * v1);
	case FLAME_PURPLE: return rgb(190 + 65 * v1, 80 + 60 * v1, 190 + 65 * v1);
	case FLAME_ORANGE: return rgb(190 + 65 * v1, 90 + 65 * v1, 0);
	case FLAME_HOT:
	default: return rgb(205 + 50 * v3, 230 * v1, 55 * v2);
	}
}

/* Red for growth, blue for shrinkage, grey for none; t in [0, 1] is the size. */
static uint32_t diff_colour(double delta, double t)
{
	if (delta == 0 || !(t > 0))
		return rgb(230, 230, 230);
	if (t > 1)
		t = 1;
	double c = 225 * (1 - t);
	return delta > 0 ? rgb(255, c, c) : rgb(c, c, 255);
}

static const struct {
	const char *name;
	enum flame_palette p;
} palettes[] = {
	{"hot", FLAME_HOT},   {"mem", FLAME_MEM},	{"io", FLAME_IO},	  {"java", FLAME_JAVA},
	{"js", FLAME_JS},     {"red", FLAME_RED},	{"green", FLAME_GREEN},	  {"blue", FLAME_BLUE},
	{"aqua", FLAME_AQUA}, {"yellow", FLAME_YELLOW}, {"purple", FLAME_PURPLE}, {"orange", FLAME_ORANGE},
};

int flame_palette_from_name(const char *name, enum flame_palette *p)
{
	for (size_t i = 0; i < sizeof(palettes) / sizeof(palettes[0]); i++) {
		if (!strcmp(name, palettes[i].name)) {
			*p = palettes[i].p;
			return 0;
		}
	}
	return -1;
}

void flame_opts_init(struct flame_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->countname = "samples";
	o->nametype = "Function:";
	o->width = 1200;
	o->frame_height = 16;
	o->font_size = 12;
	o->minwidth = 0.1;
	o->palette = FLAME_HOT;
}

static const char *const value_opts[] = {"title",  "subtitle", "countname", "nametype", "width",
					 "height", "fontsize", "minwidth",  "colors"};
static const char *const switch_opts[] = {"inverted", "inclusive", "raw"};

static bool in_list(const char *const *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

#define IN(list, name) in_list(list, sizeof(list) / sizeof(list[0]), name)

int flame_opts_takes_value(const char *name)
{
	if (IN(value_opts, name))
		return 1;
	return IN(switch_opts, name) ? 0 : -1;
}

static int parse_uint(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	if (!v || !*v || *v == '-')
		return -1;
	unsigned long x = strtoul(v, &end, 10);
	if (*end || x < lo || x > hi)
		return -1;
	*out = (unsigned)x;
	return 0;
}

int flame_opts_set(struct flame_opts *o, const char *name, const char *value, char *err, size_t errlen)
{
	int takes = flame_opts_takes_value(name);
	if (takes < 0)
		return errf(err, errlen, "unknown option '%s'", name);
	if (takes == 0) {
		int on;
		if (!value || !strcmp(value, "1") || !strcmp(value, "true"))
			on = 1;
		else if (!strcmp(value, "0") || !strcmp(value, "false"))
			on = 0;
		else
			return errf(err, errlen, "option '%s' is a switch (1 or 0), not '%s'", name, value);
		if (!strcmp(name, "inverted"))
			o->inverted = on;
		else if (!strcmp(name, "inclusive"))
			o->diff_inclusive = on;
		else
			o->diff_raw = on;
		return 0;
	}
	if (!value)
		return errf(err, errlen, "option '%s' needs a value", name);
	if (!strcmp(name, "title"))
		o->title = value;
	else if (!strcmp(name, "subtitle"))
		o->subtitle = value;
	else if (!strcmp(name, "countname"))
		o->countname = value;
	else if (!strcmp(name, "nametype"))
		o->nametype = value;
	else if (!strcmp(name, "width")) {
		if (parse_uint(value, 2 * XPAD + 10, 1000000, &o->width) < 0)
			return errf(err, errlen, "width: expected pixels from %d to 1000000, not '%s'",
				    2 * XPAD + 10, value);
	} else if (!strcmp(name, "height")) {
		if (parse_uint(value, 1, 1000, &o->frame_height) < 0)
			return errf(err, errlen, "height: expected pixels from 1 to 1000, not '%s'", value);
	} else if (!strcmp(name, "fontsize")) {
		if (parse_uint(value, 1, 500, &o->font_size) < 0)
			return errf(err, errlen, "fontsize: expected 1 to 500, not '%s'", value);
	} else if (!strcmp(name, "minwidth")) {
		char *end;
		double v = strtod(value, &end);
		int pct = *end == '%';
		if (end == value || *(end + pct) || !(v >= 0) || v > (pct ? 100 : 1e6))
			return errf(err, errlen,
				    "minwidth: expected pixels (0.1) or a percentage (0.5%%), not '%s'",
				    value);
		o->minwidth = v;
		o->minwidth_percent = pct;
	} else if (flame_palette_from_name(value, &o->palette) < 0) {
		return errf(err, errlen,
			    "colors: unknown palette '%s' (hot, mem, io, java, js, red, green, "
			    "blue, aqua, yellow, purple, orange)",
			    value);
	}
	return 0;
}

/* --- layout ------------------------------------------------------------------ */

struct layout {
	const struct folded_tree *t;
	const struct flame_opts *o;
	bool diff;
	double scale_a;	    /* A's counts times this compare with B's */
	double grand;	    /* width of the root, in count units */
	double px_per_unit; /* pixels per count unit */
	double min_units;   /* narrower frames are left out */
	double max_delta;   /* largest |change| drawn, for the colour scale */
	uint32_t max_depth; /* deepest frame drawn */
	uint32_t *colour;   /* per name, NO_COLOUR until computed */
	unsigned height, ypad1, ypad2;
};

static double node_units(const struct layout *l, const struct folded_node *n)
{
	if (!l->diff)
		return (double)n->total[0];
	return ((double)n->total[0] * l->scale_a + (double)n->total[1]) / 2;
}

static double node_delta(const struct layout *l, const struct folded_node *n)
{
	if (l->o->diff_inclusive)
		return (double)n->total[1] - (double)n->total[0] * l->scale_a;
	return (double)n->self[1] - (double)n->self[0] * l->scale_a;
}

/*
 * Depth-first over the frames wide enough to draw, children in name order,
 * calling `fn` with each frame's left edge in count units.
 */
struct walk_entry {
	uint32_t node, next;
	double x; /* left edge of the next child */
};

static void walk_drawn(struct layout *l, void (*fn)(struct layout *l, uint32_t node, double x, void *ctx),
		       void *ctx)
{
	const struct folded_tree *t = l->t;
	struct walk_entry *stk = xmalloc((t->max_depth + 2) * sizeof(*stk));
	size_t top = 0;

	fn(l, 0, 0, ctx);
	stk[top++] = (struct walk_entry){0, 0, 0};
	while (top) {
		struct walk_entry *e = &stk[top - 1];
		const struct folded_node *n = &t->nodes[e->node];
		if (e->next >= n->n_kids) {
			top--;
			continue;
		}
		uint32_t c = t->kids[n->kids + e->next++];
		double x = e->x, w = node_units(l, &t->nodes[c]);
		e->x += w;
		if (w <= 0 || w < l->min_units)
			continue; /* its children are narrower still */
		fn(l, c, x, ctx);
		stk[top++] = (struct walk_entry){c, 0, x};
	}
	free(stk);
}

static void measure(struct layout *l, uint32_t node, double x, void *ctx)
{
	const struct folded_node *n = &l->t->nodes[node];
	if (n->depth > l->max_depth)
		l->max_depth = n->depth;
	if (l->diff && node) {
		double d = fabs(node_delta(l, n));
		if (d > l->max_delta)
			l->max_delta = d;
	}
}

/* --- the SVG document --------------------------------------------------------- */

static const char script[] =
	"\"use strict\";\n"
	"var gs = [], X = [], WD = [], DEPTH = [], NAMES = [], FILLS = [], CLS = [];\n"
	"var details, matched, searchBtn, unzoomBtn, zoomed = -1, searching = null;\n"
	"function init(evt) {\n"
	"\tdetails = document.getElementById(\"details\").firstChild;\n"
	"\tmatched = document.getElementById(\"matched\").firstChild;\n"
	"\tsearchBtn = document.getElementById(\"search\");\n"
	"\tunzoomBtn = document.getElementById(\"unzoom\");\n"
	"\tvar frames = document.getElementById(\"frames\");\n"
	"\tvar list = frames.getElementsByTagName(\"g\");\n"
	"\tfor (var i = 0; i < list.length; i++) {\n"
	"\t\tvar g = list[i], r = g.childNodes[1], t = g.firstChild.textContent;\n"
	"\t\tvar y = parseFloat(r.getAttribute(\"y\")), k = t.lastIndexOf(\" (\");\n"
	"\t\tg.hpIndex = i;\n"
	"\t\tgs.push(g);\n"
	"\t\tX.push(parseFloat(r.getAttribute(\"x\")));\n"
	"\t\tWD.push(parseFloat(r.getAttribute(\"width\")));\n"
	"\t\tDEPTH.push(CFG.inverted ? Math.round((y - CFG.ypad1) / CFG.fh)\n"
	"\t\t\t: Math.round((CFG.h - CFG.ypad2 - y) / CFG.fh) - 1);\n"
	"\t\tFILLS.push(r.getAttribute(\"fill\"));\n"
	"\t\tCLS.push(g.getAttribute(\"class\"));\n"
	"\t\tNAMES.push(k >= 0 ? t.substring(0, k) : t);\n"
	"\t}\n"
	"\tframes.addEventListener(\"mouseover\", function (e) {\n"
	"\t\tvar i = frameOf(e.target);\n"
	"\t\tif (i >= 0) details.nodeValue = CFG.nametype + \" \" + gs[i].firstChild.textContent;\n"
	"\t});\n"
	"\tframes.addEventListener(\"mouseout\", function () { details.nodeValue = \" \"; });\n"
	"\tframes.addEventListener(\"click\", function (e) {\n"
	"\t\tvar i = frameOf(e.target);\n"
	"\t\tif (i >= 0) zoom(i);\n"
	"\t});\n"
	"\tunzoomBtn.addEventListener(\"click\", unzoom);\n"
	"\tsearchBtn.addEventListener(\"click\", function () {\n"
	"\t\tif (searching) resetSearch(); else searchPrompt();\n"
	"\t});\n"
	"\twindow.addEventListener(\"keydown\", function (e) {\n"
	"\t\tif ((e.ctrlKey || e.metaKey) && (e.key === \"f\" || e.keyCode === 70)) {\n"
	"\t\t\te.preventDefault();\n"
	"\t\t\tsearchPrompt();\n"
	"\t\t} else if (e.key === \"Escape\") {\n"
	"\t\t\tresetSearch();\n"
	"\t\t\tunzoom();\n"
	"\t\t}\n"
	"\t});\n"
	"}\n"
	"function frameOf(el) {\n"
	"\twhile (el && el.hpIndex === undefined) el = el.parentNode;\n"
	"\treturn el ? el.hpIndex : -1;\n"
	"}\n"
	"function label(i, w) {\n"
	"\tvar name = NAMES[i], n = Math.floor((w - 6) / CFG.fontw);\n"
	"\tif (n < 3) return \"\";\n"
	"\treturn name.length <= n ? name : name.substring(0, n - 2) + \"..\";\n"
	"}\n"
	"function place(i, x, w) {\n"
	"\tvar g = gs[i], r = g.childNodes[1], t = g.childNodes[2];\n"
	"\tr.setAttribute(\"x\", x.toFixed(1));\n"
	"\tr.setAttribute(\"width\", w.toFixed(1));\n"
	"\tt.setAttribute(\"x\", (x + 3).toFixed(1));\n"
	"\tt.textContent = label(i, w);\n"
	"}\n"
	"function inside(j, x0, w0) {\n"
	"\treturn X[j] >= x0 - 0.05 && X[j] + WD[j] <= x0 + w0 + 0.05;\n"
	"}\n"
	"function zoom(i) {\n"
	"\tvar x0 = X[i], w0 = WD[i], d0 = DEPTH[i], full = CFG.w - 2 * CFG.xpad;\n"
	"\tvar ratio = full / w0;\n"
	"\tzoomed = i;\n"
	"\tunzoomBtn.setAttribute(\"class\", \"\");\n"
	"\tfor (var j = 0; j < gs.length; j++) {\n"
	"\t\tvar g = gs[j];\n"
	"\t\tif (DEPTH[j] >= d0 && inside(j, x0, w0)) {\n"
	"\t\t\tg.style.display = \"\";\n"
	"\t\t\tg.setAttribute(\"class\", CLS[j]);\n"
	"\t\t\tplace(j, CFG.xpad + (X[j] - x0) * ratio, WD[j] * ratio);\n"
	"\t\t} else if (DEPTH[j] < d0 && X[j] <= x0 + 0.05 && X[j] + WD[j] >= x0 + w0 - 0.05) {\n"
	"\t\t\tg.style.display = \"\";\n"
	"\t\t\tg.setAttribute(\"class\", CLS[j] + \" parent\");\n"
	"\t\t\tplace(j, CFG.xpad, full);\n"
	"\t\t} else {\n"
	"\t\t\tg.style.display = \"none\";\n"
	"\t\t}\n"
	"\t}\n"
	"\tif (searching) search(searching);\n"
	"}\n"
	"function unzoom() {\n"
	"\tif (zoomed < 0) return;\n"
	"\tzoomed = -1;\n"
	"\tunzoomBtn.setAttribute(\"class\", \"hide\");\n"
	"\tfor (var j = 0; j < gs.length; j++) {\n"
	"\t\tgs[j].style.display = \"\";\n"
	"\t\tgs[j].setAttribute(\"class\", CLS[j]);\n"
	"\t\tplace(j, X[j], WD[j]);\n"
	"\t}\n"
	"\tif (searching) search(searching);\n"
	"}\n"
	"function searchPrompt() {\n"
	"\tvar term = prompt(\"Search frames: a regular expression (prefix (?i) to ignore case)\",\n"
	"\t\tsearching ? searching.source : \"\");\n"
	"\tif (term === null || term === \"\") return;\n"
	"\tvar flags = \"\";\n"
	"\tif (term.indexOf(\"(?i)\") === 0) {\n"
	"\t\tflags = \"i\";\n"
	"\t\tterm = term.substring(4);\n"
	"\t}\n"
	"\ttry {\n"
	"\t\tsearch(new RegExp(term, flags));\n"
	"\t} catch (err) {\n"
	"\t\talert(\"Not a regular expression: \" + err.message);\n"
	"\t}\n"
	"}\n"
	"function search(re) {\n"
	"\tvar hits = [], x0 = X[0], w0 = WD[0], d0 = 0;\n"
	"\tif (zoomed >= 0) {\n"
	"\t\tx0 = X[zoomed];\n"
	"\t\tw0 = WD[zoomed];\n"
	"\t\td0 = DEPTH[zoomed];\n"
	"\t}\n"
	"\tsearching = re;\n"
	"\tfor (var j = 0; j < gs.length; j++) {\n"
	"\t\tvar r = gs[j].childNodes[1];\n"
	"\t\tif (re.test(NAMES[j])) {\n"
	"\t\t\tr.setAttribute(\"fill\", CFG.hl);\n"
	"\t\t\tif (DEPTH[j] >= d0 && inside(j, x0, w0)) hits.push(j);\n"
	"\t\t} else {\n"
	"\t\t\tr.setAttribute(\"fill\", FILLS[j]);\n"
	"\t\t}\n"
	"\t}\n"
	"\t/* frames nest or are disjoint: count a hit unless it lies in a counted one */\n"
	"\thits.sort(function (a, b) { return X[a] - X[b] || WD[b] - WD[a]; });\n"
	"\tvar covered = 0, end = -1;\n"
	"\tfor (var k = 0; k < hits.length; k++) {\n"
	"\t\tvar h = hits[k];\n"
	"\t\tif (X[h] + WD[h] / 2 >= end) {\n"
	"\t\t\tcovered += WD[h];\n"
	"\t\t\tend = X[h] + WD[h];\n"
	"\t\t}\n"
	"\t}\n"
	"\tmatched.nodeValue = \"Matched: \" + (w0 > 0 ? 100 * covered / w0 : 0).toFixed(2) + \"%\";\n"
	"\tsearchBtn.firstChild.nodeValue = \"Reset Search\";\n"
	"}\n"
	"function resetSearch() {\n"
	"\tif (!searching) return;\n"
	"\tsearching = null;\n"
	"\tfor (var j = 0; j < gs.length; j++) gs[j].childNodes[1].setAttribute(\"fill\", FILLS[j]);\n"
	"\tmatched.nodeValue = \" \";\n"
	"\tsearchBtn.firstChild.nodeValue = \"Search\";\n"
	"}\n";

static void write_header(struct layout *l, struct out *o, const char *title, const char *subtitle)
{
	const struct flame_opts *op = l->o;
	unsigned w = op->width, h = l->height, fs = op->font_size;
	const char *bg1 = "#eeeeee", *bg2 = "#eeeeb0";

	if (l->diff)
		bg2 = "#eeeeee";
	else if (op->palette == FLAME_MEM)
		bg2 = "#e0e0ff";
	else if (op->palette == FLAME_IO)
		bg1 = "#f8f8f8", bg2 = "#e8e8e8";

	out_str(o, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		   "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
		   "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
		   "<svg version=\"1.1\" width=\"");
	out_u64(o, w);
	out_str(o, "\" height=\"");
	out_u64(o, h);
	out_str(o, "\" onload=\"init(evt)\" viewBox=\"0 0 ");
	out_u64(o, w);
	buf_putc(&o->b, ' ');
	out_u64(o, h);
	out_str(o, "\" xmlns=\"http://www.w3.org/2000/svg\" "
		   "xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n"
		   "<!-- Flame graph by hotpath.  Hover for details, click to zoom. -->\n"
		   "<defs>\n<linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">\n"
		   "<stop stop-color=\"");
	out_str(o, bg1);
	out_str(o, "\" offset=\"5%\"/>\n<stop stop-color=\"");
	out_str(o, bg2);
	out_str(o, "\" offset=\"95%\"/>\n</linearGradient>\n</defs>\n"
		   "<style type=\"text/css\">\n"
		   "text { font-family: Verdana, sans-serif; font-size: ");
	out_u64(o, fs);
	out_str(o, "px; fill: rgb(0,0,0); }\n"
		   "#title { text-anchor: middle; font-size: ");
	out_u64(o, fs + 5);
	out_str(o, "px; }\n"
		   "#subtitle { text-anchor: middle; fill: rgb(80,80,80); }\n"
		   "#search, #matched { text-anchor: end; }\n"
		   "#search, #unzoom { cursor: pointer; opacity: 0.7; }\n"
		   "#search:hover, #unzoom:hover { opacity: 1; }\n"
		   ".hide { display: none; }\n"
		   "#frames text { pointer-events: none; }\n"
		   ".f { cursor: pointer; }\n"
		   ".f:hover rect { stroke: black; stroke-width: 0.5; }\n"
		   ".parent { opacity: 0.5; }\n"
		   ".new rect { stroke: rgb(170,0,0); stroke-width: 1; stroke-dasharray: 3 2; }\n"
		   ".gone rect { stroke: rgb(0,0,170); stroke-width: 1; stroke-dasharray: 3 2; }\n"
		   "</style>\n<script type=\"text/ecmascript\"><![CDATA[\n"
		   "var CFG = { w: ");
	out_u64(o, w);
	out_str(o, ", h: ");
	out_u64(o, h);
	out_str(o, ", xpad: 10, fh: ");
	out_u64(o, op->frame_height);
	out_str(o, ", ypad1: ");
	out_u64(o, l->ypad1);
	out_str(o, ", ypad2: ");
	out_u64(o, l->ypad2);
	out_str(o, ", fontw: ");
	out_fixed(o, fs * FONT_WIDTH, 3);
	out_str(o, ", inverted: ");
	out_str(o, op->inverted ? "true" : "false");
	out_str(o, ", hl: \"rgb(230,0,230)\", nametype: ");
	out_json(o, op->nametype, strlen(op->nametype));
	out_str(o, " };\n");
	out_str(o, script);
	out_str(o, "]]></script>\n<rect x=\"0\" y=\"0\" width=\"");
	out_u64(o, w);
	out_str(o, "\" height=\"");
	out_u64(o, h);
	out_str(o, "\" fill=\"url(#background)\"/>\n<text id=\"title\" x=\"");
	out_u64(o, w / 2);
	out_str(o, "\" y=\"");
	out_u64(o, fs * 2);
	out_str(o, "\">");
	out_xml(o, title, strlen(title), SIZE_MAX);
	out_str(o, "</text>\n");
	if (subtitle) {
		out_str(o, "<text id=\"subtitle\" x=\"");
		out_u64(o, w / 2);
		out_str(o, "\" y=\"");
		out_fixed(o, fs * 3.5, 1);
		out_str(o, "\">");
		out_xml(o, subtitle, strlen(subtitle), SIZE_MAX);
		out_str(o, "</text>\n");
	}
	out_str(o, "<text id=\"details\" x=\"10\" y=\"");
	out_u64(o, h - l->ypad2 / 2);
	out_str(o, "\"> </text>\n<text id=\"unzoom\" class=\"hide\" x=\"10\" y=\"");
	out_u64(o, fs * 2);
	out_str(o, "\">Reset Zoom</text>\n<text id=\"search\" x=\"");
	out_u64(o, w - XPAD);
	out_str(o, "\" y=\"");
	out_u64(o, fs * 2);
	out_str(o, "\">Search</text>\n<text id=\"matched\" x=\"");
	out_u64(o, w - XPAD);
	out_str(o, "\" y=\"");
	out_u64(o, h - l->ypad2 / 2);
	out_str(o, "\"> </text>\n<g id=\"frames\">\n");
}

/* The part of a frame's title after its name, in parentheses. */
static void write_counts(struct layout *l, struct out *o, const struct folded_node *n)
{
	const struct folded_node *root = &l->t->nodes[0];
	const char *cn = l->o->countname;

	buf_putc(&o->b, '(');
	if (!l->diff) {
		out_count(o, n->total[0]);
		buf_putc(&o->b, ' ');
		out_xml(o, cn, strlen(cn), SIZE_MAX);
		out_str(o, ", ");
		out_fixed(o, root->total[0] ? 100.0 * (double)n->total[0] / (double)root->total[0] : 0, 2);
		out_str(o, "%)");
		return;
	}
	for (int s = 0; s < 2; s++) {
		if (!n->total[s])
			continue;
		if (!n->total[!s])
			out_str(o, "only in ");
		else if (s == 1)
			out_str(o, "; ");
		out_str(o, s ? "B: " : "A: ");
		out_count(o, n->total[s]);
		buf_putc(&o->b, ' ');
		out_xml(o, cn, strlen(cn), SIZE_MAX);
		out_str(o, ", ");
		out_fixed(o, root->total[s] ? 100.0 * (double)n->total[s] / (double)root->total[s] : 0, 2);
		buf_putc(&o->b, '%');
	}
	if (n->total[0] && n->total[1]) {
		double d = node_delta(l, n), base = (double)root->total[1];
		out_str(o, l->o->diff_inclusive ? "; change " : "; self change ");
		if (d >= 0)
			buf_putc(&o->b, '+');
		out_fixed(o, base > 0 ? 100.0 * d / base : 0, 2);
		buf_putc(&o->b, '%');
	}
	buf_putc(&o->b, ')');
}

static void draw(struct layout *l, uint32_t node, double x, void *ctx)
{
	struct out *o = ctx;
	const struct folded_tree *t = l->t;
	const struct folded_node *n = &t->nodes[node];
	const struct flame_opts *op = l->o;
	size_t len;
	const char *name = folded_name(t, n->name, &len);
	double x1 = XPAD + x * l->px_per_unit, w = node_units(l, n) * l->px_per_unit;
	unsigned fh = op->frame_height;
	double y = op->inverted ? (double)l->ypad1 + (double)n->depth * fh
				: (double)l->height - l->ypad2 - (double)(n->depth + 1) * fh;
	uint32_t c;

	if (!node) {
		name = "all";
		len = 3;
	}
	if (l->diff) {
		double d = node ? node_delta(l, n) : 0;
		c = diff_colour(d, l->max_delta > 0 ? fabs(d) / l->max_delta : 0);
	} else {
		c = l->colour[n->name];
		if (c == NO_COLOUR)
			c = l->colour[n->name] = palette_colour(op->palette, name, len);
	}

	out_str(o, "<g class=\"f");
	if (l->diff && node && !n->total[0])
		out_str(o, " new");
	else if (l->diff && node && !n->total[1])
		out_str(o, " gone");
	out_str(o, "\"><title>");
	out_xml(o, name, len, SIZE_MAX);
	out_str(o, " ");
	write_counts(l, o, n);
	out_str(o, "</title><rect x=\"");
	out_fixed(o, x1, 1);
	out_str(o, "\" y=\"");
	out_fixed(o, y, 1);
	out_str(o, "\" width=\"");
	out_fixed(o, w, 1);
	out_str(o, "\" height=\"");
	out_u64(o, fh > 1 ? fh - 1 : 1);
	out_str(o, "\" fill=\"rgb(");
	out_u64(o, c >> 16);
	buf_putc(&o->b, ',');
	out_u64(o, c >> 8 & 0xff);
	buf_putc(&o->b, ',');
	out_u64(o, c & 0xff);
	out_str(o, ")\"/><text x=\"");
	out_fixed(o, x1 + 3, 1);
	out_str(o, "\" y=\"");
	out_fixed(o, y + fh / 2.0 + op->font_size / 3.0, 1);
	out_str(o, "\">");
	/* the label: as much of the name as fits, ".." marking a cut */
	double fit = (w - 6) / (op->font_size * FONT_WIDTH);
	if (fit >= 3) {
		size_t max = fit > 1e6 ? 1000000 : (size_t)fit;
		if (utf8_chars(name, len) <= max) {
			out_xml(o, name, len, SIZE_MAX);
		} else {
			out_xml(o, name, len, max - 2);
			out_str(o, "..");
		}
	}
	out_str(o, "</text></g>\n");
	if (o->b.len >= FLUSH_AT)
		out_flush(o);
}

static const char *default_title(const struct layout *l)
{
	if (l->diff)
		return l->o->inverted ? "Differential Icicle Graph" : "Differential Flame Graph";
	return l->o->inverted ? "Icicle Graph" : "Flame Graph";
}

/* The differential subtitle: what width and colour mean. */
static void diff_subtitle(const struct layout *l, struct buf *b)
{
	const struct folded_node *root = &l->t->nodes[0];
	if (l->o->subtitle)
		buf_printf(b, "%s; ", l->o->subtitle);
	buf_printf(b, "colour: %s change from A to B (red grew, blue shrank)",
		   l->o->diff_inclusive ? "inclusive" : "self");
	if (root->total[0] == root->total[1])
		buf_puts(b, "; totals equal");
	else if (l->o->diff_raw)
		buf_puts(b, "; not normalised");
	else
		buf_printf(b, "; A normalised x%.4g to B's total", l->scale_a);
	buf_puts(b, "; width: mean of A and B; dashed: in one profile only");
}

int flamegraph_svg(const struct folded_tree *t, const struct flame_opts *op,
		   int (*emit)(void *ctx, const char *data, size_t len), void *ctx, char *err, size_t errlen)
{
	struct flame_opts defaults;
	struct layout l;
	struct out o = {.emit = emit, .ctx = ctx};
	struct buf sub;
	const struct folded_node *root = &t->nodes[0];

	if (!op) {
		flame_opts_init(&defaults);
		op = &defaults;
	}
	memset(&l, 0, sizeof(l));
	l.t = t;
	l.o = op;
	l.diff = t->sides == 2;
	l.scale_a = 1;
	if (l.diff && !op->diff_raw && root->total[0] && root->total[0] != root->total[1])
		l.scale_a = (double)root->total[1] / (double)root->total[0];
	l.grand = node_units(&l, root);
	if (!t->finished || !(l.grand > 0))
		return errf(err, errlen, "no stack counts to draw");
	if (op->width < 2 * XPAD + 10 || op->width > 1000000 || !op->frame_height ||
	    op->frame_height > 1000 || !op->font_size || op->font_size > 500)
		return errf(err, errlen, "image size out of range");
	double avail = op->width - 2.0 * XPAD;
	l.px_per_unit = avail / l.grand;
	l.min_units = op->minwidth_percent ? l.grand * op->minwidth / 100 : op->minwidth / l.px_per_unit;
	l.colour = xmalloc((t->n_names ? t->n_names : 1) * sizeof(*l.colour));
	memset(l.colour, 0xff, (t->n_names ? t->n_names : 1) * sizeof(*l.colour));
	walk_drawn(&l, measure, NULL);

	buf_init(&sub, BUF_NO_LIMIT);
	if (l.diff)
		diff_subtitle(&l, &sub);
	else if (op->subtitle)
		buf_puts(&sub, op->subtitle);
	unsigned fs = op->font_size;
	l.ypad1 = sub.len ? fs * 9 / 2 : fs * 3;
	l.ypad2 = fs * 2 + 10;
	l.height = (l.max_depth + 1) * op->frame_height + l.ypad1 + l.ypad2;

	buf_init(&o.b, BUF_NO_LIMIT);
	write_header(&l, &o, op->title ? op->title : default_title(&l), sub.len ? sub.data : NULL);
	walk_drawn(&l, draw, &o);
	out_str(&o, "</g>\n</svg>\n");
	out_flush(&o);
	buf_release(&o.b);
	buf_release(&sub);
	free(l.colour);
	return o.rc;
}

/* --- speedscope ------------------------------------------------------------------ */

struct scope_ctx {
	const struct folded_tree *t;
	struct out *o;
	struct json_w *w; /* over o->b, flushed as it goes */
	int side;
	uint32_t *frame_of; /* name -> frame index */
	uint64_t *weights;
	size_t n_weights, cap_weights;
};

/* The member `key`: a name escaped as out_json escapes it. */
static void scope_str(struct scope_ctx *s, const char *key, const char *str, size_t n)
{
	jw_key(s->w, key);
	if (jw_value_buf(s->w))
		out_json(s->o, str, n);
}

static int scope_sample(void *ctx, const uint32_t *path, size_t depth, uint32_t node)
{
	struct scope_ctx *s = ctx;
	uint64_t w = s->t->nodes[node].self[s->side];
	if (!w)
		return 0;
	jw_arr_begin(s->w);
	for (size_t i = 0; i < depth; i++)
		jw_uint(s->w, s->frame_of[s->t->nodes[path[i]].name]);
	jw_arr_end(s->w);
	s->weights = xgrow(s->weights, &s->cap_weights, s->n_weights + 1, sizeof(*s->weights));
	s->weights[s->n_weights++] = w;
	if (s->o->b.len >= FLUSH_AT)
		out_flush(s->o);
	return s->o->rc;
}

/* "shared":{"frames":[...]}: the names used below the root, numbered in
 * order of first use. */
static void scope_frames(struct scope_ctx *s)
{
	const struct folded_tree *t = s->t;
	uint32_t n_frames = 0;
	s->frame_of = xmalloc(t->n_names * sizeof(*s->frame_of));
	memset(s->frame_of, 0xff, t->n_names * sizeof(*s->frame_of));
	jw_kobj_begin(s->w, "shared");
	jw_karr_begin(s->w, "frames");
	for (size_t i = 1; i < t->n_nodes; i++) {
		uint32_t nm = t->nodes[i].name;
		if (s->frame_of[nm] != FOLDED_NONE)
			continue;
		size_t len;
		const char *str = folded_name(t, nm, &len);
		jw_obj_begin(s->w);
		scope_str(s, "name", str, len);
		jw_obj_end(s->w);
		s->frame_of[nm] = n_frames++;
		if (s->o->b.len >= FLUSH_AT)
			out_flush(s->o);
	}
	jw_arr_end(s->w);
	jw_obj_end(s->w);
}

/* One sampled profile: side 0, or side 1 of a differential tree. */
static void scope_profile(struct scope_ctx *s, int side, const char *name, const char *unit)
{
	struct json_w *w = s->w;
	jw_obj_begin(w);
	jw_kstr(w, "type", "sampled");
	scope_str(s, "name", name, strlen(name));
	jw_kstr(w, "unit", unit);
	jw_kuint(w, "startValue", 0);
	jw_kuint(w, "endValue", s->t->nodes[0].total[side]);
	jw_karr_begin(w, "samples");
	s->side = side;
	s->n_weights = 0;
	folded_tree_walk(s->t, scope_sample, s);
	jw_arr_end(w);
	jw_karr_begin(w, "weights");
	for (size_t i = 0; i < s->n_weights; i++) {
		jw_uint(w, s->weights[i]);
		if (s->o->b.len >= FLUSH_AT)
			out_flush(s->o);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

int flamegraph_speedscope(const struct folded_tree *t, const char *name, const char *unit,
			  int (*emit)(void *ctx, const char *data, size_t len), void *ctx, char *err,
			  size_t errlen)
{
	static const char *const units[] = {"none",	    "nanoseconds", "microseconds",
					    "milliseconds", "seconds",	   "bytes"};
	struct out o = {.emit = emit, .ctx = ctx};
	struct json_w w;
	struct scope_ctx s = {.t = t, .o = &o, .w = &w};
	const char *u = "none", *title = name ? name : "flame graph";

	if (!t->finished || (!t->nodes[0].total[0] && !t->nodes[0].total[1]))
		return errf(err, errlen, "no stack counts to export");
	for (size_t i = 0; unit && i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(unit, units[i]))
			u = units[i];
	buf_init(&o.b, BUF_NO_LIMIT);
	jw_init(&w, &o.b);
	jw_obj_begin(&w);
	jw_kstr(&w, "$schema", "https://www.speedscope.app/file-format-schema.json");
	jw_kstr(&w, "exporter", "hotpath");
	scope_str(&s, "name", title, strlen(title));
	jw_kuint(&w, "activeProfileIndex", 0);
	scope_frames(&s);
	jw_karr_begin(&w, "profiles");
	for (int side = 0; side < t->sides; side++)
		scope_profile(&s, side, t->sides == 2 ? (side ? "B" : "A") : title, u);
	jw_arr_end(&w);
	jw_obj_end(&w);
	out_str(&o, "\n");
	out_flush(&o);
	buf_release(&o.b);
	free(s.frame_of);
	free(s.weights);
	return o.rc;
}
