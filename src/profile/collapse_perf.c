/*
 * collapse_perf.c - `perf script` text to folded stacks (see collapse_perf.h).
 *
 * The reference collapser is a loop of Perl regular expressions.  Each one
 * is reduced here to a direct scan that picks the same match Perl's
 * backtracking picks; the comment above each scan states the pattern and
 * why the scan is equivalent.  Perl's classes on byte strings are ASCII:
 * \s is [ \t\n\v\f\r], \d is [0-9], \w is [A-Za-z0-9_].
 *
 * Per line, in order (a line is the text before '\n'):
 *   - "#..." is a comment;
 *   - an empty line ends the sample: "pname;frames... PERIOD" is counted;
 *   - a sample header sets the process name and period, unless its event
 *     type differs from the first one seen (then the sample is skipped);
 *   - a frame line, inside a sample, adds its frame(s) below the others;
 *   - anything else is counted as unrecognized.
 *
 * Speed: lines are processed in place in the caller's chunk (only a line
 * that spans two chunks is copied), a stack is built back to front in one
 * buffer as its frames arrive leaf first, and distinct stacks live in an
 * open-addressing hash table with their bytes in an arena.
 */
#include "profile/collapse_perf.h"

#include <stdbool.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/lines.h"
#include "core/log.h"

#define DEFAULT_MAX_LINE   ((size_t)1 << 20)
#define DEFAULT_MAX_DEPTH  ((size_t)16384)
#define DEFAULT_MAX_STACK  ((size_t)4 << 20)
#define DEFAULT_MAX_MEMORY ((size_t)1 << 30)
#define STACK_INITIAL	   ((size_t)64 << 10)

struct entry {
	const char *key; /* NULL: empty slot */
	uint64_t hash;
	uint64_t count;
	size_t len;
};

struct collapse_perf {
	struct collapse_perf_opts o;
	struct collapse_perf_stats st;
	struct lines lines; /* the input split into lines */
	int failed;

	/* the sample being read */
	bool have_pname;
	bool comm_is_java;
	struct buf pname;
	uint64_t period;
	char *stk; /* the stack so far lives in stk[stk_pos, stk_cap) */
	size_t stk_pos, stk_cap, depth;
	struct buf scratch; /* one frame's text when it needs rewriting */
	struct buf unknown; /* "[module]" standing in for an unknown symbol */
	struct buf mod;	    /* the last module classified, and its class */
	bool mod_known, mod_kern, mod_jit;

	bool have_event;
	bool event_warned;
	struct buf event;

	/* distinct stacks */
	struct entry *tab;
	size_t tab_cap, tab_n, mem;
	struct arena keys;
};

/* --- character classes (Perl's, on bytes) -------------------------------- */

enum { C_WS = 1, C_DIGIT = 2, C_WORD = 4, C_LHEX = 8, C_REWRITE = 16 };

/* \s, \d, \w, [0-9a-f], and the bytes that make tidying rewrite a name */
/* clang-format off */
static const unsigned char cls[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 0, 16, 0, 0, 0, 0, 16, 16, 0, 0, 0, 0, 16, 0, 0,
	14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 0, 16, 0, 0, 0, 0,
	0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 4,
	0, 12, 12, 12, 12, 12, 12, 4, 4, 4, 4, 4, 4, 4, 4, 4,
	4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0,
};
/* clang-format on */

static inline bool is_ws(unsigned char c)
{
	return cls[c] & C_WS;
}

static inline bool is_digit(unsigned char c)
{
	return cls[c] & C_DIGIT;
}

static inline bool is_word(unsigned char c)
{
	return cls[c] & C_WORD;
}

static inline bool is_lhex(unsigned char c)
{
	return cls[c] & C_LHEX;
}

/* memmem for the short haystacks of one line: glibc's setup costs more. */
static const char *find_lit(const char *s, size_t n, const char *lit, size_t m)
{
	const char *end = s + n;
	while (n >= m && (s = memchr(s, lit[0], n - m + 1)) != NULL) {
		if (memcmp(s + 1, lit + 1, m - 1) == 0)
			return s;
		s++;
		n = (size_t)(end - s);
	}
	return NULL;
}

static bool contains(const char *s, size_t n, const char *lit)
{
	return find_lit(s, n, lit, strlen(lit)) != NULL;
}

/* --- the hash table of distinct stacks ------------------------------------ */

static inline uint64_t load64(const char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t mix(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

/* Eight bytes per step: stacks are long and share long prefixes. */
static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	while (n >= 8) {
		h = (h ^ load64(p)) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	uint64_t t = 0;
	memcpy(&t, p, n);
	h = (h ^ t) * 0xc4ceb9fe1a85ec53ull;
	return mix(h);
}

static void table_grow(struct collapse_perf *c)
{
	size_t cap = c->tab_cap ? c->tab_cap * 2 : 1024;
	struct entry *t = xcalloc(cap, sizeof(*t));
	for (size_t i = 0; i < c->tab_cap; i++) {
		struct entry *e = &c->tab[i];
		if (!e->key)
			continue;
		size_t j = e->hash & (cap - 1);
		while (t[j].key)
			j = (j + 1) & (cap - 1);
		t[j] = *e;
	}
	free(c->tab);
	c->mem += (cap - c->tab_cap) * sizeof(*t);
	c->tab = t;
	c->tab_cap = cap;
}

static int count_stack(struct collapse_perf *c, const char *key, size_t len, char *err, size_t errlen)
{
	uint64_t h = hash_bytes(key, len);
	size_t mask = c->tab_cap - 1, i = h & mask;
	for (;; i = (i + 1) & mask) {
		struct entry *e = &c->tab[i];
		if (!e->key)
			break;
		if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) {
			if (e->count > UINT64_MAX - c->period)
				return errf(err, errlen, "line %llu: sample count overflows 64 bits",
					    (unsigned long long)c->st.lines);
			e->count += c->period;
			return 0;
		}
	}
	size_t need = len + sizeof(struct entry) * 2;
	if (c->mem + need > c->o.max_memory)
		return errf(err, errlen,
			    "line %llu: distinct stacks need more than %zu bytes (the memory limit)",
			    (unsigned long long)c->st.lines, c->o.max_memory);
	c->mem += len;
	c->tab[i] = (struct entry){arena_strndup(&c->keys, key, len), h, c->period, len};
	if (++c->tab_n * 2 > c->tab_cap)
		table_grow(c);
	return 0;
}

/* --- the stack under construction, built back to front --------------------- */

/* Make room for `n` more bytes in front of the stack. */
static int stack_room(struct collapse_perf *c, size_t n, char *err, size_t errlen)
{
	if (c->stk_pos >= n)
		return 0;
	size_t used = c->stk_cap - c->stk_pos;
	if (used + n > c->o.max_stack + c->o.max_line)
		return errf(err, errlen, "line %llu: stack longer than %zu bytes",
			    (unsigned long long)c->st.lines, c->o.max_stack);
	size_t cap = c->stk_cap ? c->stk_cap : STACK_INITIAL;
	while (cap < used + n)
		cap *= 2;
	char *s = xmalloc(cap);
	if (used)
		memcpy(s + cap - used, c->stk + c->stk_pos, used);
	free(c->stk);
	c->stk = s;
	c->stk_cap = cap;
	c->stk_pos = cap - used;
	return 0;
}

static int end_sample(struct collapse_perf *c, char *err, size_t errlen)
{
	if (!c->have_pname)
		return 0;
	size_t plen = c->pname.len;
	if (stack_room(c, plen, err, errlen) < 0)
		return -1;
	c->stk_pos -= plen;
	memcpy(c->stk + c->stk_pos, c->pname.data, plen);
	if (count_stack(c, c->stk + c->stk_pos, c->stk_cap - c->stk_pos, err, errlen) < 0)
		return -1;
	c->st.samples++;
	c->stk_pos = c->stk_cap;
	c->depth = 0;
	c->have_pname = false;
	return 0;
}

/* --- sample header ------------------------------------------------------------ */

struct header {
	size_t comm_end;
	size_t pid, pid_end;
	size_t tid, tid_end; /* tid == tid_end: absent */
};

/*
 * After the process name: /\s+(\d+)[/]*(\d+)*\s+/ from the end `a` of a
 * whitespace run.  Shortening any greedy part leaves a digit or '/' where
 * the next part needs something else, so the greedy split is the only one.
 */
static bool header_ids(const char *p, size_t n, size_t a, struct header *h)
{
	size_t b = a, c, d;
	while (b < n && is_digit(p[b]))
		b++;
	if (b == a)
		return false;
	for (c = b; c < n && p[c] == '/'; c++)
		;
	for (d = c; d < n && is_digit(p[d]); d++)
		;
	if (d >= n || !is_ws(p[d]))
		return false;
	h->pid = a;
	h->pid_end = b;
	h->tid = c;
	h->tid_end = d;
	return true;
}

/*
 * /^(\S.+?)\s+(\d+)[/]*(\d+)*\s+/: the name is lazy, so it ends at the first
 * position e >= 2 where a whitespace run starts (or continues) and digits
 * follow the run.  Every e inside one run sees the same rest, so each run
 * is tried once, at its first admissible position.
 */
static bool match_header(const char *p, size_t n, struct header *h)
{
	if (n < 2 || is_ws(p[0]))
		return false;
	size_t i = 1;
	while (i < n) {
		if (!is_ws(p[i])) {
			i++;
			continue;
		}
		size_t s = i, a = i;
		while (a < n && is_ws(p[a]))
			a++;
		size_t e = s < 2 ? 2 : s;
		if (e < a && header_ids(p, n, a, h)) {
			h->comm_end = e;
			return true;
		}
		i = a;
	}
	return false;
}

/*
 * /:\s*(\d+)*\s+(\S+):\s*$/: the line, less trailing blanks, must end in a
 * token "EVENT:" that follows a blank; before that token only blanks and at
 * most one run of digits (the period) may stand back to a ':'.  That ':' is
 * the only candidate Perl's leftmost search can succeed at.
 */
static bool match_event(const char *p, size_t n, size_t *per, size_t *per_end, size_t *ev, size_t *ev_end)
{
	size_t e = n;
	while (e > 0 && is_ws(p[e - 1]))
		e--;
	if (e < 2 || p[e - 1] != ':')
		return false;
	size_t ts = e - 1;
	while (ts > 0 && !is_ws(p[ts - 1]))
		ts--;
	if (ts == 0 || ts == e - 1)
		return false;
	size_t q = ts;
	while (q > 0 && is_ws(p[q - 1]))
		q--;
	size_t dend = q;
	while (q > 0 && is_digit(p[q - 1]))
		q--;
	size_t dstart = q;
	while (q > 0 && is_ws(p[q - 1]))
		q--;
	if (q == 0 || p[q - 1] != ':')
		return false;
	*per = dstart;
	*per_end = dend;
	*ev = ts;
	*ev_end = e - 1;
	return true;
}

static void stat_copy(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

static int on_header(struct collapse_perf *c, const char *p, size_t n, const struct header *h, char *err,
		     size_t errlen)
{
	size_t per, per_end, ev, ev_end;
	uint64_t period = 1;

	if (match_event(p, n, &per, &per_end, &ev, &ev_end)) {
		size_t evlen = ev_end - ev;
		if (!c->have_event) {
			buf_reset(&c->event);
			if (buf_append(&c->event, p + ev, evlen) < 0)
				return errf(err, errlen, "line %llu: event name too long",
					    (unsigned long long)c->st.lines);
			c->have_event = true;
			stat_copy(c->st.kept_event, sizeof(c->st.kept_event), p + ev, evlen);
		} else if (evlen != c->event.len || memcmp(p + ev, c->event.data, evlen) != 0) {
			/* the reference skips the header alone: pname stays as it was */
			if (!c->event_warned) {
				c->event_warned = true;
				stat_copy(c->st.filtered_event, sizeof(c->st.filtered_event), p + ev, evlen);
			}
			c->st.filtered++;
			return 0;
		}
		/* Perl truth: "" and "0" mean no period; "00" is a true string worth 0 */
		if (per_end > per && !(per_end - per == 1 && p[per] == '0')) {
			period = 0;
			for (size_t i = per; i < per_end; i++) {
				unsigned d = (unsigned)(p[i] - '0');
				if (period > (UINT64_MAX - d) / 10)
					return errf(err, errlen, "line %llu: sample period too large",
						    (unsigned long long)c->st.lines);
				period = period * 10 + d;
			}
		}
	}

	const char *pid = p + h->pid, *tid = p + h->tid;
	size_t pidlen = h->pid_end - h->pid, tidlen = h->tid_end - h->tid;
	if (tidlen == 0 || (tidlen == 1 && tid[0] == '0')) {
		/* only one number: it is the thread id */
		tid = pid;
		tidlen = pidlen;
		pid = "?";
		pidlen = 1;
	}

	struct buf *b = &c->pname;
	buf_reset(b);
	/* the command, not the name with -PID/TID: Java is tidied under every option */
	c->comm_is_java = h->comm_end == 4 && memcmp(p, "java", 4) == 0;
	int r = buf_append(b, p, h->comm_end);
	if (c->o.flags & (COLLAPSE_PERF_TID | COLLAPSE_PERF_PID)) {
		r |= buf_putc(b, '-');
		r |= buf_append(b, pid, pidlen);
		if (c->o.flags & COLLAPSE_PERF_TID) {
			r |= buf_putc(b, '/');
			r |= buf_append(b, tid, tidlen);
		}
	}
	if (r < 0)
		return errf(err, errlen, "line %llu: process name too long", (unsigned long long)c->st.lines);
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] == ' ')
			b->data[i] = '_';
	c->have_pname = true;
	c->period = period;
	return 0;
}

/* --- frame lines ------------------------------------------------------------ */

struct frame {
	const char *pc, *func, *mod;
	size_t pclen, funclen, modlen;
};

/*
 * /^\s*(\w+)\s*(.+) \((.*)\)/.  (.*) ends at the last ')' of the line and
 * the greedy (.+) at the last " (" that leaves room for it: call that Q.
 * When (.+) cannot start where the greedy \w+\s* leaves it (Q too close),
 * Perl backtracks \s* and then \w+ one byte at a time, so the function
 * starts at min(end of blanks, Q - 1) provided the address keeps a byte.
 */
static bool match_frame(const char *p, size_t n, struct frame *f)
{
	size_t w0 = 0, w1, m, r, q;
	while (w0 < n && is_ws(p[w0]))
		w0++;
	for (w1 = w0; w1 < n && is_word(p[w1]); w1++)
		;
	if (w1 == w0)
		return false;
	for (m = w1; m < n && is_ws(p[m]); m++)
		;
	for (r = n; r > 0 && p[r - 1] != ')'; r--)
		;
	if (r < 3)
		return false;
	r--; /* index of the last ')' */
	/* the last '(' at index <= r - 1 that follows a space */
	for (size_t lim = r - 1;;) {
		const char *o = memrchr(p + 1, '(', lim);
		if (!o)
			return false;
		q = (size_t)(o - p) - 1;
		if (p[q] == ' ')
			break;
		lim = q;
	}
	if (q < w0 + 2)
		return false;
	size_t j = m < q - 1 ? m : q - 1;
	f->pc = p + w0;
	f->pclen = (j < w1 ? j : w1) - w0;
	f->func = p + j;
	f->funclen = q - j;
	f->mod = p + q + 2;
	f->modlen = r - (q + 2);
	return true;
}

/* The module names a kernel image: m/(^\[|vmlinux$)/ and not m/unknown/. */
static bool mod_is_kernel(const struct frame *f)
{
	if (!f->modlen)
		return false;
	bool k = f->mod[0] == '[' || (f->modlen >= 7 && memcmp(f->mod + f->modlen - 7, "vmlinux", 7) == 0);
	return k && !contains(f->mod, f->modlen, "unknown");
}

/* The module is a JIT symbol map: m:/tmp/perf-\d+\.map:. */
static bool mod_is_jit(const struct frame *f)
{
	const char *s = f->mod, *end = f->mod + f->modlen;
	while ((s = find_lit(s, (size_t)(end - s), "/tmp/perf-", 10)) != NULL) {
		const char *d = s + 10;
		while (d < end && is_digit((unsigned char)*d))
			d++;
		if (d > s + 10 && end - d >= 4 && memcmp(d, ".map", 4) == 0)
			return true;
		s++;
	}
	return false;
}

/*
 * Which annotation the frame's module earns.  Frames of one module come in
 * runs, so the last module's answer is kept.
 */
static void classify_module(struct collapse_perf *c, const struct frame *f, bool *kern, bool *jit)
{
	*kern = *jit = false;
	if (!(c->o.flags & COLLAPSE_PERF_ALL))
		return;
	if (c->mod_known && f->modlen == c->mod.len && memcmp(f->mod, c->mod.data, f->modlen) == 0) {
		*kern = c->mod_kern;
		*jit = c->mod_jit;
		return;
	}
	*kern = (c->o.flags & COLLAPSE_PERF_KERNEL) && mod_is_kernel(f);
	*jit = !*kern && (c->o.flags & COLLAPSE_PERF_JIT) && mod_is_jit(f);
	buf_reset(&c->mod);
	c->mod_known = buf_append(&c->mod, f->mod, f->modlen) == 0;
	c->mod_kern = *kern;
	c->mod_jit = *jit;
}

/* m/\.\(.*\)\./: a Go method such as "net/http.(*Client).Do" keeps its parens. */
static bool go_method(const char *s, size_t n)
{
	const char *open = find_lit(s, n, ".(", 2);
	if (!open)
		return false;
	for (size_t i = n; i >= 2 && s + i - 2 >= open + 2; i--)
		if (s[i - 2] == ')' && s[i - 1] == '.')
			return true;
	return false;
}

/*
 * Append s, tidied as the reference does, to b: everything from the first
 * '(' that does not open "(anonymous namespace)" goes (unless the name is
 * a Go method), ';' becomes ':', and quotes go.  One pass over the bytes.
 */
static int tidy_append(struct buf *b, const char *s, size_t n)
{
	static const char anon[] = "anonymous namespace)";
	const char *open = memchr(s, '(', n), *end = s + n;
	size_t cut = n;
	if (open && !go_method(s, n)) {
		for (const char *q = open; q; q = memchr(q + 1, '(', (size_t)(end - q - 1))) {
			if ((size_t)(end - q - 1) < sizeof(anon) - 1 ||
			    memcmp(q + 1, anon, sizeof(anon) - 1) != 0) {
				cut = (size_t)(q - s);
				break;
			}
		}
	}
	if (buf_reserve(b, cut) < 0)
		return -1;
	char *d = b->data + b->len;
	for (size_t i = 0; i < cut; i++) {
		char c = s[i];
		if (c == ';')
			*d++ = ':';
		else if (c != '"' && c != '\'')
			*d++ = c;
	}
	b->len = (size_t)(d - b->data);
	b->data[b->len] = 0;
	return 0;
}

/* One "->"-separated piece of a frame, appended to c->scratch. */
static int frame_piece(struct collapse_perf *c, const struct frame *f, const char *s, size_t n, bool inlined,
		       bool kern, bool jit)
{
	struct buf *b = &c->scratch;
	size_t start = b->len;
	int r = 0;
	if (n == 9 && memcmp(s, "[unknown]", 9) == 0) {
		/* the module's base name stands in for the symbol */
		struct buf *u = &c->unknown;
		const char *base = "unknown";
		size_t blen = 7;
		if (!(f->modlen == 9 && memcmp(f->mod, "[unknown]", 9) == 0)) {
			const char *slash = memrchr(f->mod, '/', f->modlen);
			base = slash ? slash + 1 : f->mod;
			blen = f->modlen - (size_t)(base - f->mod);
		}
		buf_reset(u);
		r |= buf_putc(u, '[');
		r |= buf_append(u, base, blen);
		if (c->o.flags & COLLAPSE_PERF_ADDRS) {
			r |= buf_append(u, " <", 2);
			r |= buf_append(u, f->pc, f->pclen);
			r |= buf_putc(u, '>');
		}
		r |= buf_putc(u, ']');
		if (r < 0)
			return -1;
		s = u->data;
		n = u->len;
	}
	if (tidy_append(b, s, n) < 0)
		return -1;
	char *t = b->data + start;
	size_t tl = b->len - start;
	if (c->comm_is_java && tl && t[0] == 'L' && memchr(t, '/', tl)) {
		memmove(t, t + 1, tl - 1);
		b->data[--b->len] = 0;
		tl--;
	}
	if (inlined) {
		if (!contains(t, tl, "_[i]"))
			r |= buf_append(b, "_[i]", 4);
	} else if (kern) {
		r |= buf_append(b, "_[k]", 4);
	} else if (jit && !contains(t, tl, "_[j]")) {
		r |= buf_append(b, "_[j]", 4);
	}
	return r;
}

/* Whether the reference would rewrite this name beyond stripping it. */
static bool needs_rewrite(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!(cls[(unsigned char)s[i]] & C_REWRITE))
			continue;
		if (s[i] != '-' || (i + 1 < n && s[i + 1] == '>'))
			return true;
	}
	return n == 9 && s[0] == '[';
}

/* Room for `n` bytes and `frames` frames more, within the limits. */
static int check_limits(struct collapse_perf *c, size_t n, size_t frames, char *err, size_t errlen)
{
	if (c->depth + frames > c->o.max_depth)
		return errf(err, errlen, "line %llu: stack deeper than %zu frames",
			    (unsigned long long)c->st.lines, c->o.max_depth);
	if (c->stk_cap - c->stk_pos + n > c->o.max_stack)
		return errf(err, errlen, "line %llu: stack longer than %zu bytes",
			    (unsigned long long)c->st.lines, c->o.max_stack);
	return stack_room(c, n, err, errlen);
}

static int push_block(struct collapse_perf *c, const char *s, size_t n, size_t frames, char *err,
		      size_t errlen)
{
	if (check_limits(c, n, frames, err, errlen) < 0)
		return -1;
	c->stk_pos -= n;
	memcpy(c->stk + c->stk_pos, s, n);
	c->depth += frames;
	return 0;
}

static int on_frame(struct collapse_perf *c, const struct frame *f, char *err, size_t errlen)
{
	const char *s = f->func;
	size_t n = f->funclen;

	/* s/\+0x[\da-f]+$//: the symbol offset perf prints since Linux 4.8 */
	size_t h = n;
	while (h > 0 && is_lhex((unsigned char)s[h - 1]))
		h--;
	if (h < n && h >= 3 && s[h - 1] == 'x' && s[h - 2] == '0' && s[h - 3] == '+')
		n = h - 3;
	if (n && s[0] == '(')
		return 0; /* a process name, not a frame */

	bool kern, jit;
	classify_module(c, f, &kern, &jit);
	bool java_l = c->comm_is_java && n && s[0] == 'L' && memchr(s, '/', n);

	if (!needs_rewrite(s, n) && !java_l && !jit) {
		/* the common case: the name is the frame, maybe with "_[k]" */
		if (n == 0)
			return 0; /* split() of an empty name yields no frame */
		size_t total = 1 + n + (kern ? 4 : 0);
		if (check_limits(c, total, 1, err, errlen) < 0)
			return -1;
		c->stk_pos -= total;
		char *d = c->stk + c->stk_pos;
		*d++ = ';';
		memcpy(d, s, n);
		if (kern)
			memcpy(d + n, "_[k]", 4);
		c->depth++;
		return 0;
	}

	/* split /->/, dropping trailing empty pieces as Perl's split does */
	size_t end = n;
	while (end >= 2 && s[end - 2] == '-' && s[end - 1] == '>')
		end -= 2;
	if (end == 0)
		return 0;
	buf_reset(&c->scratch);
	size_t pieces = 0, i = 0;
	for (;;) {
		const char *arrow = find_lit(s + i, end - i, "->", 2);
		size_t pe = arrow ? (size_t)(arrow - s) : end;
		if (buf_putc(&c->scratch, ';') < 0 ||
		    frame_piece(c, f, s + i, pe - i, pieces > 0, kern, jit) < 0)
			return errf(err, errlen, "line %llu: frame too long",
				    (unsigned long long)c->st.lines);
		pieces++;
		if (!arrow)
			break;
		i = pe + 2;
	}
	return push_block(c, c->scratch.data, c->scratch.len, pieces, err, errlen);
}

/* --- lines ---------------------------------------------------------------- */

static int process_line(struct collapse_perf *c, const char *p, size_t n, char *err, size_t errlen)
{
	struct header h;
	struct frame f;

	c->st.lines++;
	if (n == 0)
		return end_sample(c, err, errlen);
	if (p[0] == '#')
		return 0;
	if (match_header(p, n, &h))
		return on_header(c, p, n, &h, err, errlen);
	if (match_frame(p, n, &f))
		return c->have_pname ? on_frame(c, &f, err, errlen) : 0;
	if (!c->st.unrecognized++)
		c->st.first_unrecognized = c->st.lines;
	return 0;
}

static int line_too_long(struct collapse_perf *c, char *err, size_t errlen)
{
	return errf(err, errlen, "line %llu: longer than %zu bytes", (unsigned long long)c->st.lines + 1,
		    c->o.max_line);
}

/* lines_fn adapter: the error buffer travels with the parser. */
struct line_ctx {
	struct collapse_perf *c;
	char *err;
	size_t errlen;
};

static int line_cb(void *arg, const char *line, size_t len)
{
	struct line_ctx *x = arg;
	return process_line(x->c, line, len, x->err, x->errlen);
}

int collapse_perf_feed(struct collapse_perf *c, const char *data, size_t len, char *err, size_t errlen)
{
	struct line_ctx x = {c, err, errlen};
	if (c->failed)
		return errf(err, errlen, "collapse: input after an error");
	int rc = lines_feed(&c->lines, data, len, line_cb, &x);
	if (rc == ERR_TOO_BIG)
		line_too_long(c, err, errlen);
	if (rc < 0)
		c->failed = 1;
	return rc < 0 ? -1 : 0;
}

int collapse_perf_finish(struct collapse_perf *c, char *err, size_t errlen)
{
	struct line_ctx x = {c, err, errlen};
	if (c->failed)
		return errf(err, errlen, "collapse: finish after an error");
	if (lines_finish(&c->lines, line_cb, &x) < 0) {
		c->failed = 1;
		return -1;
	}
	return 0;
}

/* --- output ---------------------------------------------------------------- */

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a;
	const struct entry *y = *(const struct entry *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->key, y->key, n);
	if (r)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

static size_t put_u64(char *d, uint64_t v)
{
	char tmp[24];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		d[i] = tmp[n - 1 - i];
	return n;
}

int collapse_perf_write(struct collapse_perf *c, int (*emit)(void *ctx, const char *data, size_t len),
			void *ctx)
{
	enum { CHUNK = 256 * 1024 };
	struct entry **v = xmalloc((c->tab_n ? c->tab_n : 1) * sizeof(*v));
	size_t n = 0;
	int r = 0;
	char *out = xmalloc(CHUNK);
	size_t used = 0;

	for (size_t i = 0; i < c->tab_cap; i++)
		if (c->tab[i].key)
			v[n++] = &c->tab[i];
	qsort(v, n, sizeof(*v), entry_cmp);
	for (size_t i = 0; i < n && !r; i++) {
		const struct entry *e = v[i];
		if (used + e->len + 32 > CHUNK && used) {
			r = emit(ctx, out, used);
			used = 0;
			if (r)
				break;
		}
		if (e->len + 32 > CHUNK) {
			/* a stack longer than the chunk goes out on its own */
			char num[32];
			size_t k = 0;
			num[k++] = ' ';
			k += put_u64(num + k, e->count);
			num[k++] = '\n';
			r = emit(ctx, e->key, e->len);
			if (!r)
				r = emit(ctx, num, k);
			continue;
		}
		memcpy(out + used, e->key, e->len);
		used += e->len;
		out[used++] = ' ';
		used += put_u64(out + used, e->count);
		out[used++] = '\n';
	}
	if (!r && used)
		r = emit(ctx, out, used);
	free(out);
	free(v);
	return r;
}

const struct collapse_perf_stats *collapse_perf_stats(const struct collapse_perf *c)
{
	return &c->st;
}

/* --- lifecycle ---------------------------------------------------------------- */

struct collapse_perf *collapse_perf_new(const struct collapse_perf_opts *opts)
{
	struct collapse_perf *c = xcalloc(1, sizeof(*c));
	if (opts)
		c->o = *opts;
	if (!c->o.max_line)
		c->o.max_line = DEFAULT_MAX_LINE;
	if (!c->o.max_depth)
		c->o.max_depth = DEFAULT_MAX_DEPTH;
	if (!c->o.max_stack)
		c->o.max_stack = DEFAULT_MAX_STACK;
	if (!c->o.max_memory)
		c->o.max_memory = DEFAULT_MAX_MEMORY;
	lines_init(&c->lines, c->o.max_line);
	buf_init(&c->pname, c->o.max_line + 64);
	buf_init(&c->event, c->o.max_line);
	buf_init(&c->scratch, c->o.max_line * 2 + 64);
	buf_init(&c->unknown, c->o.max_line + 64);
	buf_init(&c->mod, 4096);
	arena_init(&c->keys);
	table_grow(c);
	return c;
}

void collapse_perf_free(struct collapse_perf *c)
{
	if (!c)
		return;
	lines_release(&c->lines);
	buf_release(&c->pname);
	buf_release(&c->event);
	buf_release(&c->scratch);
	buf_release(&c->unknown);
	buf_release(&c->mod);
	arena_release(&c->keys);
	free(c->stk);
	free(c->tab);
	free(c);
}

static int emit_buf(void *ctx, const char *data, size_t len)
{
	return buf_append(ctx, data, len);
}

int collapse_perf_buffer(const char *data, size_t len, const struct collapse_perf_opts *opts, struct buf *out,
			 char *err, size_t errlen)
{
	struct collapse_perf *c = collapse_perf_new(opts);
	int r = collapse_perf_feed(c, data, len, err, errlen);
	if (!r)
		r = collapse_perf_finish(c, err, errlen);
	if (!r && collapse_perf_write(c, emit_buf, out) != 0)
		r = errf(err, errlen, "collapse: output larger than its buffer allows");
	collapse_perf_free(c);
	return r;
}
