/*
 * spanql.c - parse and evaluate span queries (see spanql.h, docs/QUERY.md).
 *
 * A hand-written lexer and recursive-descent parser compile the text into a
 * flat array of nodes: literals are decoded, regular expressions compiled
 * and attribute keys split off their scope once, so matching only walks the
 * array, scans attribute arrays and compares.  Two levels share the node
 * array: each spanset's expression over one span (its root in sets[]), and
 * the combination of the spansets, whose leaves (N_SET) read one bit of a
 * trace's mask.  This file does not own the span model (ingest/batch.h)
 * nor how the API applies a query.
 */
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/spanql.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/utf8.h"

/*
 * Cost bound for one regular expression: glibc expands bounded repetitions
 * by copying their operand, so `(a{100}){100}` becomes 10000 nodes that
 * regexec() walks for every byte of every attribute value.
 */
#define REGEX_MAX_COST 1000

/* --- compiled form ------------------------------------------------------ */

enum node_type { N_TRUE, N_FALSE, N_AND, N_OR, N_NOT, N_CMP, N_SET };

/* In token order, so that op = token - T_EQ. */
enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_RE, OP_NRE };

enum field {
	F_DURATION,
	F_NAME,
	F_STATUS,
	F_KIND,
	F_STATUS_MESSAGE,
	F_SCOPE_NAME,
	F_SCOPE_VERSION,
	F_SPAN_ATTR,	 /* span.<key> */
	F_RESOURCE_ATTR, /* resource.<key> */
	F_ANY_ATTR,	 /* .<key>: the span's, else the resource's */
};

enum lit { L_STRING, L_INT, L_FLOAT, L_BOOL, L_DURATION, L_NIL, L_STATUS, L_KIND, L_NONE };

/* Patterns that are a literal, with or without .* at either end, match
 * with string functions instead of regexec(). */
enum fast_regex { FAST_NONE, FAST_EXACT, FAST_PREFIX, FAST_SUFFIX, FAST_CONTAINS };

struct node {
	uint8_t type;	      /* enum node_type */
	uint8_t field;	      /* N_CMP: enum field */
	uint8_t op;	      /* N_CMP: enum op */
	uint8_t lit;	      /* N_CMP: enum lit, the type of the right-hand value */
	uint8_t service_name; /* the key is service.name: use resource->service_name */
	uint8_t fast;	      /* OP_RE, OP_NRE: enum fast_regex */
	uint16_t first;	      /* N_AND, N_OR: first index in kids; N_NOT: the operand; N_SET: the set */
	uint16_t count;	      /* N_AND, N_OR: number of operands */
	const char *key;      /* attribute key without its scope */
	const char *s;	      /* L_STRING */
	int64_t i;	      /* L_INT, L_DURATION (ns), L_BOOL, L_STATUS, L_KIND */
	double d;	      /* L_INT, L_FLOAT, L_DURATION as a double */
	regex_t *re;	      /* OP_RE, OP_NRE; NULL until compiled */
	size_t fixed_len;     /* FAST_*: the literal text of the pattern */
	const char *fixed;
};

struct spanql {
	struct arena arena; /* nodes, kids, strings and regex_t structs */
	const struct node *nodes;
	const uint16_t *kids;
	uint16_t n_nodes, root; /* root: the combination of the spansets, or ROOT_SET0 */
	uint16_t n_sets;
	uint16_t sets[SPANQL_MAX_SETS]; /* the root of each spanset's expression */
};

/* The root of a query without braces: its one spanset, without a node (so
 * the node limit stays the user's). */
#define ROOT_SET0 UINT16_MAX

/* --- evaluation --------------------------------------------------------- */

/* The outcome of comparing two values: -1, 0, 1, or CMP_UNORDERED (NaN). */
#define CMP_UNORDERED 2

static int holds(int op, int c)
{
	switch (op) {
	case OP_EQ: return c == 0;
	case OP_NE: return c != 0;
	case OP_LT: return c == -1;
	case OP_LE: return c == -1 || c == 0;
	case OP_GT: return c == 1;
	case OP_GE: return c == 1 || c == 0;
	}
	return 0;
}

static int cmp_i64(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

static int cmp_f64(double a, double b)
{
	if (a != a || b != b)
		return CMP_UNORDERED;
	return (a > b) - (a < b);
}

static int match_regex(const struct node *n, const char *v)
{
	size_t len;

	switch (n->fast) {
	case FAST_EXACT: return strcmp(v, n->fixed) == 0;
	case FAST_PREFIX: return strncmp(v, n->fixed, n->fixed_len) == 0;
	case FAST_SUFFIX:
		len = strlen(v);
		return len >= n->fixed_len && memcmp(v + len - n->fixed_len, n->fixed, n->fixed_len) == 0;
	case FAST_CONTAINS: return strstr(v, n->fixed) != NULL;
	}
	return regexec(n->re, v, 0, NULL, 0) == 0;
}

static int match_string(const struct node *n, const char *v)
{
	if (n->op == OP_RE)
		return match_regex(n, v);
	if (n->op == OP_NRE)
		return !match_regex(n, v);
	int c = strcmp(v, n->s);
	return holds(n->op, (c > 0) - (c < 0));
}

/* A string that is a decimal number ("3.52", as SDKs write toFixed()) into *d. */
static int numeric_string(const char *v, double *d)
{
	const char *c = v;
	char *end;

	if (*c == '-' || *c == '+')
		c++;
	if (!((*c >= '0' && *c <= '9') || (*c == '.' && c[1] >= '0' && c[1] <= '9')))
		return 0;
	for (; *c; c++)
		if (!strchr("0123456789.eE+-", *c))
			return 0; /* no hex, inf or nan */
	errno = 0;
	*d = strtod(v, &end);
	return !*end && errno != ERANGE;
}

static const struct attr *find_attr(const struct attr *a, uint32_t n, const char *key)
{
	for (uint32_t i = 0; i < n; i++)
		if (a[i].key && a[i].key[0] == key[0] && strcmp(a[i].key, key) == 0)
			return &a[i];
	return NULL;
}

/* The attribute node `n` compares, or NULL; `tmp` holds a derived one. */
static const struct attr *lookup(const struct node *n, const struct span *s, struct attr *tmp,
				 const struct spanql_ctx *ctx)
{
	const struct resource *r = s->resource;
	const struct attr *a = NULL;

	if (n->field != F_RESOURCE_ATTR) {
		if ((a = find_attr(s->attrs, s->n_attrs, n->key)))
			return a;
		if (ctx && ctx->attr && ctx->attr(ctx->arg, s, n->key, tmp)) {
			tmp->key = n->key;
			return tmp;
		}
	}
	if (n->field == F_SPAN_ATTR || !r)
		return NULL;
	if (n->service_name && r->service_name) {
		tmp->key = n->key;
		tmp->type = ATTR_STRING;
		tmp->v.s = r->service_name;
		return tmp;
	}
	return find_attr(r->attrs, r->n_attrs, n->key);
}

static int match_attr(const struct node *n, const struct span *s, const struct spanql_ctx *ctx)
{
	struct attr tmp;
	const struct attr *a = lookup(n, s, &tmp, ctx);
	double d;

	if (!a)
		return n->lit == L_NIL && n->op == OP_EQ;
	if (n->lit == L_NIL)
		return n->op == OP_NE;
	switch (a->type) {
	case ATTR_STRING:
		if (n->lit == L_STRING)
			return match_string(n, a->v.s ? a->v.s : "");
		if (n->lit == L_INT || n->lit == L_DURATION || n->lit == L_FLOAT)
			return a->v.s && numeric_string(a->v.s, &d) && holds(n->op, cmp_f64(d, n->d));
		return 0;
	case ATTR_BOOL: return n->lit == L_BOOL && holds(n->op, (a->v.i != 0) != (n->i != 0));
	case ATTR_INT:
		if (n->lit == L_INT || n->lit == L_DURATION)
			return holds(n->op, cmp_i64(a->v.i, n->i));
		return n->lit == L_FLOAT && holds(n->op, cmp_f64((double)a->v.i, n->d));
	case ATTR_DOUBLE:
		if (n->lit == L_INT || n->lit == L_DURATION || n->lit == L_FLOAT)
			return holds(n->op, cmp_f64(a->v.d, n->d));
		return 0;
	}
	return 0; /* ATTR_JSON: arrays and maps compare with nothing */
}

static int64_t span_duration(const struct span *s)
{
	if (s->end_ns <= s->start_ns)
		return 0;
	uint64_t d = s->end_ns - s->start_ns;
	return d > INT64_MAX ? INT64_MAX : (int64_t)d;
}

static int match_cmp(const struct node *n, const struct span *s, const struct spanql_ctx *ctx)
{
	switch (n->field) {
	case F_DURATION: return holds(n->op, cmp_i64(span_duration(s), n->i));
	case F_NAME: return match_string(n, s->name ? s->name : "");
	case F_STATUS: return holds(n->op, s->status != n->i);
	case F_KIND: return holds(n->op, s->kind != n->i);
	case F_STATUS_MESSAGE: return match_string(n, s->status_message ? s->status_message : "");
	case F_SCOPE_NAME: return match_string(n, s->scope_name ? s->scope_name : "");
	case F_SCOPE_VERSION: return match_string(n, s->scope_version ? s->scope_version : "");
	}
	return match_attr(n, s, ctx);
}

/* Node `n` of a spanset's expression, for span `s`. */
static int eval(const struct spanql *q, const struct node *n, const struct span *s,
		const struct spanql_ctx *ctx)
{
	const uint16_t *k;

	switch (n->type) {
	case N_TRUE: return 1;
	case N_FALSE: return 0;
	case N_NOT: return !eval(q, &q->nodes[n->first], s, ctx);
	case N_AND:
		k = q->kids + n->first;
		for (uint16_t i = 0; i < n->count; i++)
			if (!eval(q, &q->nodes[k[i]], s, ctx))
				return 0;
		return 1;
	case N_OR:
		k = q->kids + n->first;
		for (uint16_t i = 0; i < n->count; i++)
			if (eval(q, &q->nodes[k[i]], s, ctx))
				return 1;
		return 0;
	}
	return match_cmp(n, s, ctx);
}

/* Node `n` of the combination, for a trace whose spans satisfy `mask`. */
static int eval_sets(const struct spanql *q, const struct node *n, uint64_t mask)
{
	const uint16_t *k = q->kids + n->first;

	switch (n->type) {
	case N_SET: return (mask >> n->first) & 1;
	case N_NOT: return !eval_sets(q, &q->nodes[n->first], mask);
	case N_AND:
		for (uint16_t i = 0; i < n->count; i++)
			if (!eval_sets(q, &q->nodes[k[i]], mask))
				return 0;
		return 1;
	case N_OR:
		for (uint16_t i = 0; i < n->count; i++)
			if (eval_sets(q, &q->nodes[k[i]], mask))
				return 1;
		return 0;
	}
	return n->type == N_TRUE;
}

unsigned spanql_n_sets(const struct spanql *q)
{
	return q ? q->n_sets : 1;
}

uint64_t spanql_span_mask(const struct spanql *q, const struct span *s, const struct spanql_ctx *ctx)
{
	uint64_t mask = 0;

	if (!q)
		return 1;
	for (uint16_t k = 0; k < q->n_sets; k++)
		if (eval(q, &q->nodes[q->sets[k]], s, ctx))
			mask |= UINT64_C(1) << k;
	return mask;
}

int spanql_mask_match(const struct spanql *q, uint64_t mask)
{
	if (!q || q->root == ROOT_SET0)
		return !q || (mask & 1);
	return eval_sets(q, &q->nodes[q->root], mask);
}

int spanql_match(const struct spanql *q, const struct span *s)
{
	if (q && q->n_sets == 1)
		return spanql_mask_match(q, (uint64_t)eval(q, &q->nodes[q->sets[0]], s, NULL));
	return spanql_mask_match(q, spanql_span_mask(q, s, NULL));
}

int spanql_match_trace(const struct spanql *q, const struct span *spans, size_t n,
		       const struct spanql_ctx *ctx)
{
	uint64_t mask = 0, all;

	if (!q)
		return 1;
	all = q->n_sets >= 64 ? UINT64_MAX : (UINT64_C(1) << q->n_sets) - 1;
	for (size_t i = 0; i < n && mask != all; i++)
		mask |= spanql_span_mask(q, &spans[i], ctx);
	return spanql_mask_match(q, mask);
}

int spanql_uses_key(const struct spanql *q, const char *prefix)
{
	size_t len = strlen(prefix);

	for (uint16_t i = 0; q && i < q->n_nodes; i++) {
		const struct node *n = &q->nodes[i];
		if (n->type == N_CMP && n->key && n->field != F_RESOURCE_ATTR &&
		    !strncmp(n->key, prefix, len))
			return 1;
	}
	return 0;
}

void spanql_free(struct spanql *q)
{
	if (!q)
		return;
	for (uint16_t i = 0; i < q->n_nodes; i++)
		if (q->nodes[i].re)
			regfree(q->nodes[i].re);
	arena_release(&q->arena);
	free(q);
}

/* --- lexer -------------------------------------------------------------- */

enum tok_type {
	T_START, /* before the first token */
	T_END,
	T_LPAREN,
	T_RPAREN,
	T_LBRACE,
	T_RBRACE,
	T_AND,
	T_OR,
	T_NOT,
	T_EQ, /* T_EQ .. T_NRE are the comparison operators, in enum op order */
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_RE,
	T_NRE,
	T_STRING,
	T_INT,
	T_FLOAT,
	T_DURATION,
	T_WORD, /* identifiers: intrinsics, true/false/nil, status and kind values */
	T_ATTR, /* span.<key>, resource.<key>, .<key> */
	T_STAR, /* '*' as a value: the attribute exists */
};

struct tok {
	int type;
	size_t off, len; /* bytes of the query text */
	int field;	 /* T_ATTR: F_SPAN_ATTR, F_RESOURCE_ATTR or F_ANY_ATTR */
	char *s;	 /* T_STRING: decoded text; T_ATTR: the key (arena) */
	int64_t i;	 /* T_INT, T_DURATION (ns) */
	double d;	 /* T_FLOAT */
};

struct parser {
	const char *text;
	size_t len, pos; /* pos: the first byte after the current token */
	struct tok tok, prev;
	int depth;
	char *err;
	size_t errlen;
	struct arena arena;
	struct node nodes[SPANQL_MAX_NODES];
	uint16_t n_nodes;
	uint16_t stack[SPANQL_MAX_NODES]; /* operands of the open && and || lists */
	uint16_t sp;
	uint16_t kids[SPANQL_MAX_NODES];
	uint16_t n_kids;
	int combo; /* parsing the combination of spansets, not a span's expression */
	uint16_t sets[SPANQL_MAX_SETS];
	uint16_t n_sets;
};

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_word_char(int c)
{
	return is_alpha(c) || is_digit(c) || c == '_';
}

/* Attribute keys: letters, digits, '_', '.', '-', '/' and any UTF-8. */
static int is_key_char(int c)
{
	return is_word_char(c) || c == '.' || c == '-' || c == '/' || c >= 0x80;
}

/* 'µ' (U+00B5) and 'μ' (U+03BC) in UTF-8, as in "µs". */
static size_t micro_len(const unsigned char *t)
{
	if ((t[0] == 0xc2 && t[1] == 0xb5) || (t[0] == 0xce && t[1] == 0xbc))
		return 2;
	return 0;
}

/* The 1-based column of byte `off`, counted in characters. */
static size_t column(const char *text, size_t off)
{
	size_t col = 1;
	for (size_t i = 0; i < off && text[i]; i++)
		if (((unsigned char)text[i] & 0xc0) != 0x80)
			col++;
	return col;
}

static int fail(struct parser *p, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct parser *p, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!p->err || !p->errlen)
		return -1;
	n = snprintf(p->err, p->errlen, "column %zu: ", column(p->text, off));
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* `text[off..off+len)` quoted for a message, printable ASCII only. */
static const char *quote(const char *text, size_t off, size_t len, char *buf, size_t size)
{
	size_t o = 0, max = size - 6;

	buf[o++] = '\'';
	for (size_t i = 0; i < len && o < max; i++) {
		unsigned char c = (unsigned char)text[off + i];
		buf[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (len > max - 1)
		o += (size_t)snprintf(buf + o, size - o, "...");
	buf[o++] = '\'';
	buf[o] = 0;
	return buf;
}

#define DESC_SIZE 40

/* A token for a message: 'text' or "end of query". */
static const char *desc(const struct parser *p, const struct tok *k, char *buf)
{
	if (k->type == T_END)
		return "end of query";
	return quote(p->text, k->off, k->len, buf, DESC_SIZE);
}

/* Four hex digits at t, or -1. */
static int32_t hex4(const char *t)
{
	int32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)t[i], x;
		if (is_digit(c))
			x = c - '0';
		else if (c >= 'a' && c <= 'f')
			x = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			x = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + x;
	}
	return v;
}

/* A \u escape at t[j] ('\\'); sets *cp and the bytes used, or fails. */
static int lex_unicode(struct parser *p, size_t j, uint32_t *cp, size_t *used)
{
	const char *t = p->text;
	int32_t hi = hex4(t + j + 2), lo;

	if (hi < 0)
		return fail(p, j, "expected four hex digits after '\\u'");
	*used = 6;
	*cp = (uint32_t)hi;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return fail(p, j, "unpaired surrogate in '\\u' escape");
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (t[j + 6] != '\\' || t[j + 7] != 'u' || (lo = hex4(t + j + 8)) < 0xdc00 || lo > 0xdfff)
			return fail(p, j, "unpaired surrogate in '\\u' escape");
		*cp = 0x10000 + (((uint32_t)hi - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
		*used = 12;
	}
	if (*cp == 0)
		return fail(p, j, "'\\u0000' is not allowed in a string");
	return 0;
}

/*
 * A "string" with escapes or a `raw string` starting at text[i]; the
 * decoded text goes to the arena.  Sets *end past the closing quote.
 */
static int lex_string(struct parser *p, size_t i, size_t *end, char **out)
{
	const char *t = p->text;
	char quote_char = t[i];
	size_t j = i + 1, raw = j;
	char *o;

	/* Decoding never lengthens: size the copy by the raw text. */
	while (t[raw] && t[raw] != quote_char)
		raw += t[raw] == '\\' && quote_char == '"' && t[raw + 1] ? 2 : 1;
	o = arena_alloc(&p->arena, raw - i);

	*out = o;
	for (;;) {
		char c = t[j];
		if (!c)
			return fail(p, i, "unterminated string (expected a closing %c)", quote_char);
		if (c == quote_char)
			break;
		if (c != '\\' || quote_char == '`') {
			*o++ = c;
			j++;
			continue;
		}
		uint32_t cp = 0;
		size_t used = 2;
		switch (t[j + 1]) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'u':
			if (lex_unicode(p, j, &cp, &used) < 0)
				return -1;
			o += utf8_encode(o, cp);
			break;
		case 0: return fail(p, i, "unterminated string (expected a closing %c)", quote_char);
		default: {
			char q[DESC_SIZE];
			return fail(p, j,
				    "unknown escape %s in a string (write '\\\\' for a backslash, or use a "
				    "`raw string` for regular expressions)",
				    quote(t, j, 2, q, sizeof(q)));
		}
		}
		j += used;
	}
	*o = 0;
	*end = j + 1;
	return 0;
}

struct unit {
	const char *name;
	int64_t ns;
};

static const struct unit units[] = {
	{"ns", 1},
	{"us", 1000},
	{"\xc2\xb5s", 1000}, /* µs */
	{"\xce\xbcs", 1000}, /* μs */
	{"ms", 1000000},
	{"s", 1000000000},
	{"m", 60 * INT64_C(1000000000)},
	{"h", 3600 * INT64_C(1000000000)},
};

/* The unit spelled by text[i..j), or NULL. */
static const struct unit *find_unit(const char *text, size_t i, size_t j)
{
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
		if (strlen(units[u].name) == j - i && memcmp(units[u].name, text + i, j - i) == 0)
			return &units[u];
	return NULL;
}

static size_t unit_char_len(const char *t)
{
	return is_alpha((unsigned char)*t) ? 1 : micro_len((const unsigned char *)t);
}

/*
 * A duration at text[i]: one or more <number><unit> (Go's spelling: 1.5s,
 * 500ms, 1h30m), in integer nanoseconds.
 */
static int lex_duration(struct parser *p, size_t i)
{
	const char *t = p->text;
	size_t j = i;
	int64_t total = 0;

	do {
		uint64_t ip = 0, frac = 0, den = 1;
		size_t num = j, u0;
		int64_t part;
		const struct unit *u;

		for (; is_digit(t[j]); j++)
			if (__builtin_mul_overflow(ip, 10, &ip) ||
			    __builtin_add_overflow(ip, t[j] - '0', &ip))
				return fail(p, num, "duration out of range");
		if (t[j] == '.' && is_digit(t[j + 1]))
			for (j++; is_digit(t[j]); j++)
				if (den < UINT64_C(1000000000000000000)) {
					frac = frac * 10 + (uint64_t)(t[j] - '0');
					den *= 10;
				}
		for (u0 = j; unit_char_len(t + j); j += unit_char_len(t + j))
			;
		u = find_unit(t, u0, j);
		if (!u) {
			char q[DESC_SIZE];
			if (u0 == j)
				return fail(
					p, j,
					"expected a duration unit (ns, us, ms, s, m or h) after the number");
			return fail(p, u0,
				    "unknown duration unit %s (expected ns, us, \xc2\xb5s, ms, s, m or h)",
				    quote(t, u0, j - u0, q, sizeof(q)));
		}
		if (ip > INT64_MAX || __builtin_mul_overflow((int64_t)ip, u->ns, &part) ||
		    __builtin_add_overflow(part, (int64_t)llround((double)frac * (double)u->ns / (double)den),
					   &part) ||
		    __builtin_add_overflow(total, part, &total))
			return fail(p, num, "duration out of range");
	} while (is_digit(t[j]));
	p->tok.type = T_DURATION;
	p->tok.i = total;
	p->pos = j;
	return 0;
}

/* An integer, a float or a duration at text[i]. */
static int lex_number(struct parser *p, size_t i)
{
	const char *t = p->text;
	size_t j = i, digits;
	int is_float = 0;
	char buf[64];

	if (t[j] == '-')
		j++;
	if (!is_digit(t[j]))
		return fail(p, i, "unexpected '-' (expected a number after it)");
	digits = j;
	while (is_digit(t[j]))
		j++;
	if (t[j] == '.') {
		if (!is_digit(t[j + 1]))
			return fail(p, j + 1, "expected a digit after '.' in a number");
		for (j++; is_digit(t[j]); j++)
			;
		is_float = 1;
	}
	if ((t[j] == 'e' || t[j] == 'E') &&
	    (is_digit(t[j + 1]) || ((t[j + 1] == '+' || t[j + 1] == '-') && is_digit(t[j + 2])))) {
		for (j += 2; is_digit(t[j]); j++)
			;
		is_float = 1;
	} else if (unit_char_len(t + j)) {
		if (t[i] == '-')
			return fail(p, i, "a duration cannot be negative");
		return lex_duration(p, digits);
	}
	if (is_word_char((unsigned char)t[j]) || t[j] == '.')
		return fail(p, j, "unexpected character after the number");
	if (j - i >= sizeof(buf))
		return fail(p, i, "number too long");
	memcpy(buf, t + i, j - i);
	buf[j - i] = 0;
	errno = 0; /* strtod() reads '.' as the point: hotpath never calls setlocale() */
	if (is_float) {
		p->tok.type = T_FLOAT;
		p->tok.d = strtod(buf, NULL);
	} else {
		p->tok.type = T_INT;
		p->tok.i = strtoll(buf, NULL, 10);
	}
	if (errno == ERANGE)
		return fail(p, i, "number out of range");
	p->pos = j;
	return 0;
}

/* The key after a scope's dot at text[i]: bare or "quoted". */
static int lex_key(struct parser *p, size_t i, size_t scope_off)
{
	const char *t = p->text;
	size_t j = i;

	if (t[j] == '"') {
		if (lex_string(p, j, &j, &p->tok.s) < 0)
			return -1;
	} else {
		while (is_key_char((unsigned char)t[j]))
			j++;
		p->tok.s = arena_strndup(&p->arena, t + i, j - i);
	}
	if (!p->tok.s[0]) {
		char q[DESC_SIZE];
		return fail(p, i, "expected an attribute name after %s",
			    quote(t, scope_off, i - scope_off, q, sizeof(q)));
	}
	p->tok.type = T_ATTR;
	p->pos = j;
	return 0;
}

/* intrinsics, true/false/nil, status and kind values, span./resource. */
static int lex_word(struct parser *p, size_t i)
{
	static const char *const unsupported_scopes[] = {"event", "link", "instrumentation", "parent",
							 "trace"};
	const char *t = p->text;
	size_t j = i, n;

	while (is_word_char((unsigned char)t[j]))
		j++;
	if (t[j] == ':' && is_alpha((unsigned char)t[j + 1]))
		for (j++; is_word_char((unsigned char)t[j]); j++)
			;
	n = j - i;
	if ((n == 3 && (!memcmp(t + i, "AND", 3) || !memcmp(t + i, "and", 3))) ||
	    (n == 2 && (!memcmp(t + i, "OR", 2) || !memcmp(t + i, "or", 2)))) {
		p->tok.type = n == 3 ? T_AND : T_OR; /* the spelling of SQL-minded users */
		p->pos = j;
		return 0;
	}
	if (t[j] == '.') {
		if (n == 4 && memcmp(t + i, "span", 4) == 0) {
			p->tok.field = F_SPAN_ATTR;
			return lex_key(p, j + 1, i);
		}
		if (n == 8 && memcmp(t + i, "resource", 8) == 0) {
			p->tok.field = F_RESOURCE_ATTR;
			return lex_key(p, j + 1, i);
		}
		for (size_t k = 0; k < sizeof(unsupported_scopes) / sizeof(unsupported_scopes[0]); k++)
			if (strlen(unsupported_scopes[k]) == n &&
			    memcmp(t + i, unsupported_scopes[k], n) == 0)
				return fail(p, i,
					    "'%s.' attributes are not supported "
					    "(expected span.<key>, resource.<key> or .<key>)",
					    unsupported_scopes[k]);
	}
	p->tok.type = T_WORD;
	p->pos = j;
	return 0;
}

static int lex_operator(struct parser *p, size_t i)
{
	static const struct {
		const char *s;
		int type;
	} ops[] = {
		{"=", T_EQ},  {"!=", T_NE}, {"<", T_LT},   {"<=", T_LE},  {">", T_GT},
		{">=", T_GE}, {"=~", T_RE}, {"!~", T_NRE}, {"&&", T_AND}, {"||", T_OR},
	};
	const char *t = p->text;
	size_t j = i + (t[i] == '!');
	char q[DESC_SIZE];

	while (t[j] && strchr("=<>~&|", t[j]))
		j++;
	if (j == i + 1 && t[i] == '!') {
		p->tok.type = T_NOT;
		p->pos = j;
		return 0;
	}
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (strlen(ops[k].s) == j - i && memcmp(ops[k].s, t + i, j - i) == 0) {
			p->tok.type = ops[k].type;
			p->pos = j;
			return 0;
		}
	return fail(p, i, "unknown operator %s (expected =, !=, <, <=, >, >=, =~, !~, && or ||%s)",
		    quote(t, i, j - i, q, sizeof(q)),
		    t[i] == '|' && j == i + 1 ? "; pipelines are not supported" : "");
}

/* Read the next token into p->tok; the current one becomes p->prev. */
static int lex(struct parser *p)
{
	const char *t = p->text;
	size_t i = p->pos;
	int c, rc = 0;

	p->prev = p->tok;
	while (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')
		i++;
	memset(&p->tok, 0, sizeof(p->tok));
	p->tok.off = i;
	p->pos = i + 1;
	c = (unsigned char)t[i];
	switch (c) {
	case 0:
		p->tok.type = T_END;
		p->pos = i;
		return 0;
	case '(': p->tok.type = T_LPAREN; break;
	case ')': p->tok.type = T_RPAREN; break;
	case '{': p->tok.type = T_LBRACE; break;
	case '}': p->tok.type = T_RBRACE; break;
	case '*': p->tok.type = T_STAR; break;
	case '"':
	case '`':
		rc = lex_string(p, i, &p->pos, &p->tok.s);
		p->tok.type = T_STRING;
		break;
	case '.':
		p->tok.field = F_ANY_ATTR;
		rc = lex_key(p, i + 1, i);
		break;
	case '!':
	case '=':
	case '<':
	case '>':
	case '~':
	case '&':
	case '|': rc = lex_operator(p, i); break;
	default:
		if (c == '-' || is_digit(c))
			rc = lex_number(p, i);
		else if (is_alpha(c) || c == '_')
			rc = lex_word(p, i);
		else if (c >= 0x20 && c < 0x7f)
			rc = fail(p, i, "unexpected character '%c'", c);
		else
			rc = fail(p, i, "unexpected byte 0x%02x", (unsigned)c);
		break;
	}
	if (rc < 0)
		return -1;
	p->tok.len = p->pos - i;
	return 0;
}

/* --- parser ------------------------------------------------------------- */

static int word_is(const struct parser *p, const struct tok *k, const char *w)
{
	return k->type == T_WORD && strlen(w) == k->len && memcmp(p->text + k->off, w, k->len) == 0;
}

static int new_node(struct parser *p, int type)
{
	struct node *n;

	if (p->n_nodes >= SPANQL_MAX_NODES)
		return fail(p, p->tok.off, "the query has more than %d conditions and operators",
			    SPANQL_MAX_NODES);
	n = &p->nodes[p->n_nodes];
	memset(n, 0, sizeof(*n));
	n->type = (uint8_t)type;
	return p->n_nodes++;
}

static int enter(struct parser *p)
{
	if (++p->depth > SPANQL_MAX_DEPTH)
		return fail(p, p->tok.off, "nesting deeper than %d levels", SPANQL_MAX_DEPTH);
	return 0;
}

/*
 * Evaluation order inside && and ||: cheap tests first, regexes last.  A
 * presence test (`= *`, `!= nil`) comes before a value comparison: it is
 * often the narrower one (`span.performance.slow = true && span.db.system
 * = *`), and a value a span lacks may have to be derived by the context.
 */
static int cost(const struct node *n)
{
	if (n->type == N_TRUE || n->type == N_FALSE)
		return 0;
	if (n->type != N_CMP)
		return 5;
	if (n->re && !n->fast)
		return 4;
	if (n->field < F_SPAN_ATTR)
		return 1;
	return n->lit == L_NIL ? 2 : 3;
}

/* Turn the operands pushed since `base` into one && or || node. */
static int close_list(struct parser *p, int type, uint16_t base)
{
	uint16_t count = (uint16_t)(p->sp - base), *k;
	int n;

	if (count == 1)
		return p->stack[--p->sp];
	if ((n = new_node(p, type)) < 0)
		return -1;
	k = p->kids + p->n_kids;
	memcpy(k, p->stack + base, count * sizeof(*k));
	for (uint16_t i = 1; i < count; i++) /* stable: keeps the user's order among equals */
		for (uint16_t j = i; j > 0 && cost(&p->nodes[k[j - 1]]) > cost(&p->nodes[k[j]]); j--) {
			uint16_t tmp = k[j];
			k[j] = k[j - 1];
			k[j - 1] = tmp;
		}
	p->nodes[n].first = p->n_kids;
	p->nodes[n].count = count;
	p->n_kids = (uint16_t)(p->n_kids + count);
	p->sp = base;
	return n;
}

static const struct {
	const char *name;
	uint8_t field;
} intrinsics[] = {
	{"duration", F_DURATION},
	{"span:duration", F_DURATION},
	{"name", F_NAME},
	{"span:name", F_NAME},
	{"status", F_STATUS},
	{"span:status", F_STATUS},
	{"kind", F_KIND},
	{"span:kind", F_KIND},
	{"statusMessage", F_STATUS_MESSAGE},
	{"span:statusMessage", F_STATUS_MESSAGE},
	{"instrumentation:name", F_SCOPE_NAME},
	{"instrumentation:version", F_SCOPE_VERSION},
};

static const char *const status_names[] = {"unset", "ok", "error"};
static const char *const kind_names[] = {"unspecified", "internal", "server",
					 "client",	"producer", "consumer"};

/* The index of `s` (length len) in names, or -1. */
static int name_index(const char *const *names, int n, const char *s, size_t len)
{
	for (int i = 0; i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return i;
	return -1;
}

static int resolve_field(struct parser *p, struct node *n)
{
	const struct tok *k = &p->tok;
	char q[DESC_SIZE];

	if (k->type == T_ATTR) {
		n->field = (uint8_t)k->field;
		n->key = k->s;
		n->service_name = k->field != F_SPAN_ATTR && strcmp(k->s, "service.name") == 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(intrinsics) / sizeof(intrinsics[0]); i++)
		if (word_is(p, k, intrinsics[i].name)) {
			n->field = intrinsics[i].field;
			return 0;
		}
	if (memchr(p->text + k->off, ':', k->len) || word_is(p, k, "traceDuration") ||
	    word_is(p, k, "rootName") || word_is(p, k, "rootServiceName"))
		return fail(p, k->off,
			    "%s is not supported (no trace-level intrinsics; spansets such as { a } && { b } "
			    "test several spans)",
			    desc(p, k, q));
	return fail(p, k->off,
		    "unknown field %s (expected duration, name, status, kind, statusMessage, span.<key>, "
		    "resource.<key> or .<key>)",
		    desc(p, k, q));
}

/* The literal in p->tok into n->lit and its value, or -1 if not a value. */
static int read_literal(struct parser *p, struct node *n)
{
	const struct tok *k = &p->tok;
	int e;

	n->lit = L_NONE;
	switch (k->type) {
	case T_STRING:
		n->lit = L_STRING;
		n->s = k->s;
		return 0;
	case T_INT:
		n->lit = L_INT;
		n->i = k->i;
		n->d = (double)k->i;
		return 0;
	case T_FLOAT:
		n->lit = L_FLOAT;
		n->d = k->d;
		return 0;
	case T_DURATION:
		n->lit = L_DURATION;
		n->i = k->i;
		n->d = (double)k->i;
		return 0;
	case T_WORD:
		if (word_is(p, k, "true") || word_is(p, k, "false")) {
			n->lit = L_BOOL;
			n->i = word_is(p, k, "true");
			return 0;
		}
		if (word_is(p, k, "nil")) {
			n->lit = L_NIL;
			return 0;
		}
		if ((e = name_index(status_names, 3, p->text + k->off, k->len)) >= 0) {
			n->lit = L_STATUS;
			n->i = e;
			return 0;
		}
		if ((e = name_index(kind_names, 6, p->text + k->off, k->len)) >= 0) {
			n->lit = L_KIND;
			n->i = e;
			return 0;
		}
	}
	return -1;
}

/* The ']' that closes the bracket expression opened at c, or the last byte. */
static const char *skip_bracket(const char *c)
{
	c++;
	if (*c == '^')
		c++;
	if (*c == ']')
		c++;
	while (*c && *c != ']') {
		if (*c == '[' && (c[1] == ':' || c[1] == '=' || c[1] == '.')) {
			char close = c[1];
			for (c += 2; *c && !(*c == close && c[1] == ']'); c++)
				;
			if (*c)
				c++;
		}
		if (*c)
			c++;
	}
	return *c ? c : c - 1;
}

#define COST_CAP (UINT64_C(1) << 40)

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b > COST_CAP ? COST_CAP : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	return b && a > COST_CAP / b ? COST_CAP : a * b;
}

/* One open group (or the whole pattern) in regex_scan(). */
struct re_group {
	uint64_t total, last;  /* expanded size of the group so far, and of its last atom */
	uint8_t has_last;      /* there is an atom for a repetition to apply to */
	uint8_t last_nullable; /* that atom can match the empty string */
	uint8_t pre_nullable;  /* so can the branch before it */
	uint8_t nullable;      /* so can an earlier branch of the group */
	uint8_t after_repeat;  /* the previous token was a repetition */
};

enum { RE_OK, RE_BACKREF, RE_STACKED, RE_EMPTY_LOOP, RE_TOO_BIG };

static const char *const regex_refusals[] = {
	[RE_BACKREF] = "back-references are not supported",
	[RE_STACKED] = "a repetition right after another one, as in 'a+*' or '.*?', is not supported",
	[RE_EMPTY_LOOP] = "repeating something that can match the empty string, as in '(a?)+' or '(a*)*', "
			  "is not supported (write 'a*')",
	[RE_TOO_BIG] = "the expression is too large (repetition counts multiply)",
};

/* Apply the repetition at *c to the last atom of `t`; sets *c to its end. */
static int regex_repeat(struct re_group *t, const char **c)
{
	uint64_t m = 0, n = 1, copies = 1;
	int open = 0;

	if (t->after_repeat)
		return RE_STACKED;
	t->after_repeat = 1;
	if (**c == '{') {
		const char *p = *c + 1;
		for (; is_digit(*p) && m < 100000; p++)
			m = m * 10 + (uint64_t)(*p - '0');
		n = m;
		if (*p == ',' && is_digit(p[1]))
			for (n = 0, p++; is_digit(*p) && n < 100000; p++)
				n = n * 10 + (uint64_t)(*p - '0');
		else if (*p == ',')
			open = 1;
		while (*p && *p != '}')
			p++;
		*c = *p ? p : p - 1;
		copies = open ? m + 1 : (n > m ? n : m); /* {m,} is m copies and a star */
	} else if (**c == '*') {
		open = 1;
	} else if (**c == '+') {
		m = 1;
		open = 1;
		copies = 2; /* a+ is a a* */
	}
	if (!t->has_last) /* '*' at the start of a group: regcomp() decides */
		return RE_OK;
	if (t->last_nullable && (open || n > 1))
		return RE_EMPTY_LOOP;
	if (copies == 0)
		copies = 1;
	t->total = sat_add(t->total, sat_mul(t->last, copies - 1));
	t->last = sat_mul(t->last, copies);
	if (m == 0)
		t->last_nullable = 1;
	return RE_OK;
}

/*
 * What regcomp() accepts but spanql refuses, because compiling or matching
 * it can take exponential time in glibc: back-references, repetitions of
 * repetitions, loops over something that matches the empty string (with an
 * anchor, `^((a?)+(b?)+)+$` takes glibc's regcomp() seconds), and patterns
 * that expand past REGEX_MAX_COST nodes: {m,n} copies its operand n times,
 * so `(a{100}){100}` is 10000.  Returns RE_OK or the reason.
 */
static int regex_scan(const char *pat)
{
	struct re_group g[SPANQL_MAX_REGEX + 1], *t;
	int d = 0, rc;

	memset(&g[0], 0, sizeof(g[0]));
	g[0].pre_nullable = 1;
	for (const char *c = pat; *c; c++) {
		uint64_t atom = 1;
		int nullable = 0;

		t = &g[d];
		if (*c == '*' || *c == '+' || *c == '?' ||
		    (*c == '{' && (is_digit((unsigned char)c[1]) || c[1] == ','))) {
			if ((rc = regex_repeat(t, &c)) != RE_OK)
				return rc;
			continue;
		}
		t->after_repeat = 0;
		switch (*c) {
		case '\\':
			if (!c[1])
				break;
			c++;
			if (is_digit((unsigned char)*c))
				return RE_BACKREF;
			nullable = strchr("bB<>`'", *c) != NULL; /* word and buffer boundaries */
			break;
		case '[': c = skip_bracket(c); break;
		case '^':
		case '$': nullable = 1; break;
		case '(':
			d++;
			memset(&g[d], 0, sizeof(g[d]));
			g[d].pre_nullable = 1;
			continue;
		case ')':
			if (d == 0)
				break; /* an unmatched ')' is an ordinary character */
			atom = t->total ? t->total : 1;
			nullable = t->nullable || (t->pre_nullable && (!t->has_last || t->last_nullable));
			t = &g[--d];
			break;
		case '|':
			t->nullable |= t->pre_nullable && (!t->has_last || t->last_nullable);
			t->pre_nullable = 1;
			t->has_last = 0;
			continue;
		}
		t->pre_nullable = t->pre_nullable && (!t->has_last || t->last_nullable);
		t->total = sat_add(t->total, atom);
		t->last = atom;
		t->has_last = 1;
		t->last_nullable = (uint8_t)nullable;
	}
	for (; d > 0; d--) /* unclosed groups: regcomp() reports them */
		g[d - 1].total = sat_add(g[d - 1].total, g[d].total);
	return g[0].total > REGEX_MAX_COST ? RE_TOO_BIG : RE_OK;
}

/*
 * Recognise `lit`, `lit.*`, `.*lit` and `.*lit.*` (lit: ordinary characters
 * and backslash-escaped special ones).  The pattern is anchored and '.'
 * matches any byte, newline included, so these are exact equivalents.
 */
static void regex_fast_path(struct parser *p, struct node *n)
{
	static const char special[] = ".[]()*+?{}|^$\\";
	const char *c = n->s;
	char *lit = arena_alloc(&p->arena, strlen(c) + 1), *o = lit;
	int lead = 0, trail = 0;

	if (c[0] == '.' && c[1] == '*') {
		lead = 1;
		c += 2;
	}
	while (*c) {
		if (c[0] == '.' && c[1] == '*' && !c[2]) {
			trail = 1;
			break;
		}
		if (c[0] == '\\' && c[1] && strchr(special, c[1])) {
			*o++ = c[1];
			c += 2;
		} else if (strchr(special, *c)) {
			return;
		} else {
			*o++ = *c++;
		}
		if (*c && strchr("*+?{", *c)) /* the literal's last character repeats */
			return;
	}
	*o = 0;
	n->fixed = lit;
	n->fixed_len = (size_t)(o - lit);
	n->fast = lead ? (trail ? FAST_CONTAINS : FAST_SUFFIX) : (trail ? FAST_PREFIX : FAST_EXACT);
}

/* Compile the regular expression in n->s, anchored at both ends. */
static int compile_regex(struct parser *p, struct node *n, size_t off)
{
	char anchored[SPANQL_MAX_REGEX + 8], msg[128];
	size_t len = strlen(n->s);
	regex_t *re;
	int rc;

	if (len > SPANQL_MAX_REGEX)
		return fail(p, off, "regular expression longer than %d bytes", SPANQL_MAX_REGEX);
	if ((rc = regex_scan(n->s)) != RE_OK)
		return fail(p, off, "bad regular expression: %s", regex_refusals[rc]);
	/* Compile as written first, so errors and meaning are the pattern's own. */
	re = arena_alloc(&p->arena, sizeof(*re));
	if ((rc = regcomp(re, n->s, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(rc, re, msg, sizeof(msg));
		regfree(re);
		return fail(p, off, "bad regular expression: %s", msg);
	}
	regfree(re);
	snprintf(anchored, sizeof(anchored), "^(%s)$", n->s);
	if ((rc = regcomp(re, anchored, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(rc, re, msg, sizeof(msg));
		regfree(re);
		return fail(p, off, "bad regular expression: %s", msg);
	}
	n->re = re;
	regex_fast_path(p, n);
	return 0;
}

/* Check the value in p->tok against field and operator; fill node n. */
static int parse_value(struct parser *p, struct node *n, const struct tok *field, const struct tok *op)
{
	const struct tok *v = &p->tok;
	char a[DESC_SIZE], b[DESC_SIZE], c[DESC_SIZE];
	int regex = n->op == OP_RE || n->op == OP_NRE;
	int equality = n->op == OP_EQ || n->op == OP_NE;
	int e;

	if (v->type == T_STAR) { /* `= *`: exists, `!= *`: does not */
		if (!equality)
			return fail(p, op->off, "'*' (the attribute exists) compares only with = and !=");
		if (n->field < F_SPAN_ATTR)
			return fail(p, v->off, "%s always exists: '= *' tests attributes", desc(p, field, a));
		n->lit = L_NIL;
		n->op = n->op == OP_EQ ? OP_NE : OP_EQ;
		return 0;
	}
	/* A bare word may be a misspelt status or kind: say what those take. */
	if (read_literal(p, n) < 0 &&
	    !(v->type == T_WORD && (n->field == F_STATUS || n->field == F_KIND || n->field == F_DURATION)))
		return fail(p, v->off, "expected a value after %s, found %s%s", desc(p, op, a), desc(p, v, b),
			    v->type == T_ATTR ? " (comparing two fields is not supported)" : "");
	if (regex &&
	    (n->lit != L_STRING || n->field == F_DURATION || n->field == F_STATUS || n->field == F_KIND))
		goto not_a_string;
	switch (n->field) {
	case F_DURATION:
		if (n->lit != L_DURATION)
			return fail(p, v->off, "expected a duration such as 500ms or 1.5s after %s, found %s",
				    desc(p, op, a), desc(p, v, b));
		break;
	case F_STATUS:
	case F_KIND: {
		int is_status = n->field == F_STATUS;
		if (!equality)
			return fail(p, op->off, "%s only compares with = and !=", desc(p, field, a));
		if (n->lit == L_STRING) {
			const char *const *names = is_status ? status_names : kind_names;
			if ((e = name_index(names, is_status ? 3 : 6, n->s, strlen(n->s))) >= 0) {
				n->lit = is_status ? L_STATUS : L_KIND;
				n->i = e;
			}
		}
		if (n->lit != (is_status ? L_STATUS : L_KIND))
			return fail(p, v->off, "expected %s after %s, found %s",
				    is_status ? "unset, ok or error"
					      : "unspecified, internal, server, client, producer or consumer",
				    desc(p, op, a), desc(p, v, b));
		break;
	}
	case F_NAME:
	case F_STATUS_MESSAGE:
	case F_SCOPE_NAME:
	case F_SCOPE_VERSION:
		if (n->lit != L_STRING)
			return fail(p, v->off, "expected a string after %s, found %s (%s is a string)",
				    desc(p, op, a), desc(p, v, b), desc(p, field, c));
		break;
	default:
		if (n->lit == L_STATUS || n->lit == L_KIND)
			return fail(
				p, v->off,
				"expected a value after %s, found %s (status and kind values compare with "
				"status and kind; quote it to compare a string)",
				desc(p, op, a), desc(p, v, b));
		if ((n->lit == L_NIL || n->lit == L_BOOL) && !equality)
			return fail(p, op->off, "%s only compares with = and !=", desc(p, v, a));
	}
	if (regex)
		return compile_regex(p, n, v->off);
	return 0;

not_a_string:
	if (n->field == F_DURATION || n->field == F_STATUS || n->field == F_KIND)
		return fail(p, op->off, "%s needs a string field, and %s is not one", desc(p, op, a),
			    desc(p, field, b));
	return fail(p, v->off, "expected a string (a regular expression) after %s, found %s", desc(p, op, a),
		    desc(p, v, b));
}

/* field op value */
static int parse_comparison(struct parser *p)
{
	struct tok field = p->tok, op;
	char a[DESC_SIZE], b[DESC_SIZE];
	struct node *n;
	int idx;

	if ((idx = new_node(p, N_CMP)) < 0)
		return -1;
	n = &p->nodes[idx];
	if (resolve_field(p, n) < 0 || lex(p) < 0)
		return -1;
	if (p->tok.type < T_EQ || p->tok.type > T_NRE)
		return fail(
			p, p->tok.off,
			"expected a comparison operator (=, !=, <, <=, >, >=, =~ or !~) after %s, found %s",
			desc(p, &field, a), desc(p, &p->tok, b));
	op = p->tok;
	n->op = (uint8_t)(op.type - T_EQ);
	if (lex(p) < 0 || parse_value(p, n, &field, &op) < 0 || lex(p) < 0)
		return -1;
	return idx;
}

static int parse_or(struct parser *p);

/* `{ [expr] }` in a combination: a new spanset, and the leaf that reads it. */
static int parse_spanset(struct parser *p)
{
	struct tok *k = &p->tok;
	char a[DESC_SIZE];
	size_t open = k->off;
	int root, n;

	if (p->n_sets >= SPANQL_MAX_SETS)
		return fail(p, k->off, "the query has more than %d spansets", SPANQL_MAX_SETS);
	if (enter(p) < 0 || lex(p) < 0)
		return -1;
	p->combo = 0;
	root = k->type == T_RBRACE ? new_node(p, N_TRUE) : parse_or(p);
	p->combo = 1;
	if (root < 0)
		return -1;
	if (k->type != T_RBRACE)
		return fail(p, k->off, "expected '}' to close the '{' at column %zu, found %s",
			    column(p->text, open), desc(p, k, a));
	p->depth--;
	if (lex(p) < 0 || (n = new_node(p, N_SET)) < 0)
		return -1;
	p->nodes[n].first = p->n_sets;
	p->sets[p->n_sets++] = (uint16_t)root;
	return n;
}

static int parse_primary(struct parser *p)
{
	struct tok *k = &p->tok;
	char a[DESC_SIZE], b[DESC_SIZE];
	size_t open;
	int n;

	if (p->combo && k->type == T_LBRACE)
		return parse_spanset(p);
	if (p->combo && k->type != T_LPAREN)
		return fail(p, k->off,
			    "expected '{' after %s, found %s (in a query with spansets, every condition is "
			    "inside { })",
			    desc(p, &p->prev, a), desc(p, k, b));
	switch (k->type) {
	case T_LPAREN:
		open = k->off;
		if (enter(p) < 0 || lex(p) < 0 || (n = parse_or(p)) < 0)
			return -1;
		if (k->type != T_RPAREN)
			return fail(p, k->off, "expected ')' to close the '(' at column %zu, found %s",
				    column(p->text, open), desc(p, k, a));
		p->depth--;
		return lex(p) < 0 ? -1 : n;
	case T_WORD:
		if (word_is(p, k, "true") || word_is(p, k, "false")) {
			if ((n = new_node(p, word_is(p, k, "true") ? N_TRUE : N_FALSE)) < 0 || lex(p) < 0)
				return -1;
			return n;
		}
		return parse_comparison(p);
	case T_ATTR: return parse_comparison(p);
	}
	if (p->prev.type == T_START)
		return fail(p, k->off, "expected a condition such as duration > 1s, found %s", desc(p, k, a));
	return fail(p, k->off, "expected a condition after %s, found %s", desc(p, &p->prev, a),
		    desc(p, k, b));
}

static int parse_unary(struct parser *p)
{
	int operand, n;

	if (p->tok.type != T_NOT)
		return parse_primary(p);
	if (enter(p) < 0 || lex(p) < 0 || (operand = parse_unary(p)) < 0)
		return -1;
	p->depth--;
	if ((n = new_node(p, N_NOT)) < 0)
		return -1;
	p->nodes[n].first = (uint16_t)operand;
	return n;
}

static int parse_and(struct parser *p)
{
	uint16_t base = p->sp;
	int c;

	for (;;) {
		if ((c = parse_unary(p)) < 0)
			return -1;
		p->stack[p->sp++] = (uint16_t)c;
		if (p->tok.type != T_AND)
			break;
		if (lex(p) < 0)
			return -1;
	}
	return close_list(p, N_AND, base);
}

static int parse_or(struct parser *p)
{
	uint16_t base = p->sp;
	int c;

	for (;;) {
		if ((c = parse_and(p)) < 0)
			return -1;
		p->stack[p->sp++] = (uint16_t)c;
		if (p->tok.type != T_OR)
			break;
		if (lex(p) < 0)
			return -1;
	}
	return close_list(p, N_OR, base);
}

/* Whether the query starts, after '(' and '!', with '{': a combination of
 * spansets rather than one span's expression. */
static int starts_with_spanset(const struct parser *p)
{
	const char *c = p->text + p->tok.off;

	while (*c == '(' || *c == '!' || *c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')
		c++;
	return *c == '{';
}

/* query = [ sets | expr ]; an expression alone is spanset 0. */
static int parse_query(struct parser *p)
{
	struct tok *k = &p->tok;
	char a[DESC_SIZE];
	int root;

	p->combo = starts_with_spanset(p);
	if (k->type == T_END)
		root = new_node(p, N_TRUE);
	else if ((root = parse_or(p)) >= 0 && k->type != T_END) {
		if (k->type == T_RPAREN)
			return fail(p, k->off, "unexpected ')' without a matching '('");
		return fail(p, k->off, "expected '&&', '||' or end of query, found %s", desc(p, k, a));
	}
	if (root < 0 || p->combo)
		return root;
	p->sets[p->n_sets++] = (uint16_t)root;
	return ROOT_SET0;
}

int spanql_parse(const char *text, struct spanql **out, char *err, size_t errlen)
{
	struct parser *p = xcalloc(1, sizeof(*p));
	struct spanql *q;
	int root = -1;

	*out = NULL;
	p->text = text;
	p->err = err;
	p->errlen = errlen;
	p->tok.type = T_START;
	arena_init(&p->arena);
	p->len = strnlen(text, SPANQL_MAX_LEN + 1);
	if (p->len > SPANQL_MAX_LEN)
		fail(p, SPANQL_MAX_LEN, "the query is longer than %d bytes", SPANQL_MAX_LEN);
	else if (lex(p) == 0)
		root = parse_query(p);
	if (root < 0) {
		for (uint16_t i = 0; i < p->n_nodes; i++)
			if (p->nodes[i].re)
				regfree(p->nodes[i].re);
		arena_release(&p->arena);
		goto out;
	}
	q = xmalloc(sizeof(*q));
	q->nodes = memcpy(arena_alloc(&p->arena, p->n_nodes * sizeof(struct node)), p->nodes,
			  p->n_nodes * sizeof(struct node));
	q->kids = memcpy(arena_alloc(&p->arena, (p->n_kids + 1u) * sizeof(uint16_t)), p->kids,
			 p->n_kids * sizeof(uint16_t));
	q->n_nodes = p->n_nodes;
	q->root = (uint16_t)root;
	q->n_sets = p->n_sets;
	memcpy(q->sets, p->sets, sizeof(q->sets));
	q->arena = p->arena;
	*out = q;
out:
	free(p);
	return root < 0 ? -1 : 0;
}
