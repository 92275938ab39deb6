/*
 * folded.c - folded stacks merged into a tree by path (see folded.h).
 *
 * Names are interned once; a node is found from (parent, name) in one hash
 * table, so a frame costs a name lookup and a node lookup, both prefetched
 * for a whole stack at once.  Most input is
 * sorted (collapsers sort their output), so consecutive stacks share long
 * prefixes: the parser remembers the previous stack and its path, and only
 * looks up the frames after the common prefix.
 *
 * A span tree (folded_tree_init_spans()) uses the same tables, a node's
 * name being "service\0name\0"; its per-node times live beside the nodes
 * (struct folded_spans), so a stack tree's nodes stay small.
 */
#include "profile/folded.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/json_write.h"
#include "core/lines.h"
#include "core/log.h"

#define DEFAULT_MAX_LINE  ((size_t)1 << 20)
#define DEFAULT_MAX_DEPTH ((size_t)16384)
#define DEFAULT_MAX_NODES ((size_t)16 << 20)
#define DEFAULT_MAX_BYTES ((size_t)1 << 30)
#define EMPTY_KEY	  UINT64_MAX

/* --- hashing ---------------------------------------------------------------- */

static inline uint64_t mix(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

/* The stack parser's inner loop inlines these; the span-tree callers must not make them calls. */
#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
	while (n >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	w = 0;
	memcpy(&w, p, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	return mix(h);
}

/* --- the tree ------------------------------------------------------------- */

/*
 * Hash table slots.  A name slot keeps 32 bits of the name's hash, so most
 * probes never touch the name itself.  A node slot is keyed by (parent,
 * name) but placed by the hash of the whole path from the root, which is
 * known from the bytes alone: every slot of a stack can be prefetched
 * before the first lookup, so cache misses overlap instead of queueing.
 */
struct folded_name_slot {
	uint32_t id; /* FOLDED_NONE: empty */
	uint32_t hash;
};

struct folded_node_slot {
	uint32_t node; /* FOLDED_NONE: empty */
	uint32_t hash; /* low bits of the path hash: the slot's home */
	uint32_t parent, name;
};

#define PATH_SEED 0x243f6a8885a308d3ull

static inline uint64_t path_hash(uint64_t parent_path, uint64_t name_hash)
{
	return mix((parent_path ^ name_hash) * 0x9e3779b97f4a7c15ull);
}

/*
 * Memory for a hash table, filled with 0xff (empty).  Big tables are read
 * at random: on 2 MiB pages, where the kernel allows, they cost far fewer
 * TLB misses.
 */
static void *table_alloc(size_t size)
{
	enum { HUGE = 2 << 20 };
	void *p = NULL;
	if (size >= HUGE && posix_memalign(&p, HUGE, size) == 0)
		madvise(p, size, MADV_HUGEPAGE);
	else
		p = xmalloc(size);
	return memset(p, 0xff, size);
}

static void name_tab_grow(struct folded_tree *t)
{
	size_t old = t->name_tab_cap, cap = old ? old * 2 : 1024;
	struct folded_name_slot *tab = table_alloc(cap * sizeof(*tab));
	for (size_t i = 0; i < old; i++) {
		struct folded_name_slot e = t->name_tab[i];
		if (e.id == FOLDED_NONE)
			continue;
		size_t j = e.hash & (cap - 1);
		while (tab[j].id != FOLDED_NONE)
			j = (j + 1) & (cap - 1);
		tab[j] = e;
	}
	free(t->name_tab);
	t->name_tab = tab;
	t->name_tab_cap = cap;
}

static void node_tab_grow(struct folded_tree *t)
{
	size_t old = t->node_tab_cap, cap = old ? old * 2 : 1024;
	struct folded_node_slot *tab = table_alloc(cap * sizeof(*tab));
	for (size_t i = 0; i < old; i++) {
		struct folded_node_slot e = t->node_tab[i];
		if (e.node == FOLDED_NONE)
			continue;
		size_t j = e.hash & (cap - 1);
		while (tab[j].node != FOLDED_NONE)
			j = (j + 1) & (cap - 1);
		tab[j] = e;
	}
	free(t->node_tab);
	t->node_tab = tab;
	t->node_tab_cap = cap;
}

/* The id of the name s[0..n) with hash h, added when new. */
static int intern(struct folded_tree *t, const char *s, size_t n, uint64_t h, uint32_t *id, char *err,
		  size_t errlen)
{
	uint32_t h32 = (uint32_t)h;
	size_t mask = t->name_tab_cap - 1, i = h32 & mask;
	for (;; i = (i + 1) & mask) {
		struct folded_name_slot e = t->name_tab[i];
		if (e.id == FOLDED_NONE)
			break;
		if (e.hash != h32)
			continue;
		const struct folded_name *nm = &t->names[e.id];
		if (nm->len == n && memcmp(t->pool + nm->off, s, n) == 0) {
			*id = e.id;
			return 0;
		}
	}
	if (n > UINT32_MAX || t->pool_len + n > t->lim.max_bytes)
		return errf(err, errlen, "frame names need more than %zu bytes (the limit)",
			    t->lim.max_bytes);
	if (t->pool_len + n > t->pool_cap) {
		size_t cap = t->pool_cap;
		while (cap < t->pool_len + n)
			cap *= 2;
		t->pool = xrealloc(t->pool, cap);
		t->pool_cap = cap;
	}
	memcpy(t->pool + t->pool_len, s, n);
	t->names = xgrow(t->names, &t->cap_names, t->n_names + 1, sizeof(*t->names));
	t->names[t->n_names] = (struct folded_name){t->pool_len, (uint32_t)n};
	t->pool_len += n;
	*id = (uint32_t)t->n_names;
	t->name_tab[i] = (struct folded_name_slot){*id, h32};
	if (++t->n_names * 2 > t->name_tab_cap)
		name_tab_grow(t);
	return 0;
}

/*
 * The child of `parent` named `name` whose path hashes to ph, created at
 * `depth` when missing.
 */
static ALWAYS_INLINE int child(struct folded_tree *t, uint32_t parent, uint32_t name, uint64_t ph,
			       uint32_t depth, uint32_t *out, char *err, size_t errlen)
{
	uint32_t h32 = (uint32_t)ph;
	size_t mask = t->node_tab_cap - 1, i = h32 & mask;
	for (;; i = (i + 1) & mask) {
		struct folded_node_slot e = t->node_tab[i];
		if (e.node == FOLDED_NONE)
			break;
		if (e.hash == h32 && e.parent == parent && e.name == name) {
			*out = e.node;
			return 0;
		}
	}
	if (t->n_nodes >= t->lim.max_nodes)
		return errf(err, errlen, "more than %zu distinct stack paths (the limit)", t->lim.max_nodes);
	t->nodes = xgrow(t->nodes, &t->cap_nodes, t->n_nodes + 1, sizeof(*t->nodes));
	struct folded_node *nd = &t->nodes[t->n_nodes];
	memset(nd, 0, sizeof(*nd));
	nd->name = name;
	nd->parent = parent;
	nd->depth = depth;
	if (nd->depth > t->max_depth)
		t->max_depth = nd->depth;
	*out = (uint32_t)t->n_nodes;
	t->node_tab[i] = (struct folded_node_slot){*out, h32, parent, name};
	if (++t->n_nodes * 2 > t->node_tab_cap)
		node_tab_grow(t);
	return 0;
}

static void folded_spans_free(struct folded_spans *sp);

void folded_tree_init(struct folded_tree *t, const struct folded_limits *lim)
{
	uint32_t root_name;
	memset(t, 0, sizeof(*t));
	if (lim)
		t->lim = *lim;
	if (!t->lim.max_line)
		t->lim.max_line = DEFAULT_MAX_LINE;
	if (!t->lim.max_depth)
		t->lim.max_depth = DEFAULT_MAX_DEPTH;
	if (!t->lim.max_nodes || t->lim.max_nodes > (size_t)INT32_MAX)
		t->lim.max_nodes = t->lim.max_nodes ? (size_t)INT32_MAX : DEFAULT_MAX_NODES;
	if (!t->lim.max_bytes)
		t->lim.max_bytes = DEFAULT_MAX_BYTES;
	t->sides = 1;
	t->pool_cap = 64 * 1024;
	t->pool = xmalloc(t->pool_cap);
	name_tab_grow(t);
	node_tab_grow(t);
	intern(t, "", 0, hash_bytes("", 0), &root_name, NULL, 0);
	t->nodes = xgrow(t->nodes, &t->cap_nodes, 1, sizeof(*t->nodes));
	memset(&t->nodes[0], 0, sizeof(t->nodes[0]));
	t->nodes[0].name = root_name;
	t->nodes[0].parent = FOLDED_NONE;
	t->n_nodes = 1;
}

void folded_tree_release(struct folded_tree *t)
{
	free(t->nodes);
	free(t->kids);
	free(t->pool);
	free(t->names);
	free(t->name_tab);
	free(t->node_tab);
	free(t->scan);
	folded_spans_free(t->spans);
	memset(t, 0, sizeof(*t));
}

static int add_count(struct folded_tree *t, uint32_t node, int side, uint64_t count, char *err, size_t errlen)
{
	uint64_t *s = &t->nodes[node].self[side];
	if (*s > UINT64_MAX - count)
		return errf(err, errlen, "count overflows 64 bits");
	*s += count;
	if (side == 1)
		t->sides = 2;
	return 0;
}

/*
 * Descend from `node` (whose path hash is `ph`) through the frames of
 * s[from..n), creating nodes.  When `path` is given, record each node, the
 * end of its frame and its path hash from index `depth` on.
 */
static int descend(struct folded_tree *t, const char *s, size_t n, size_t from, uint32_t node, uint64_t ph,
		   size_t depth, uint32_t *path, size_t *ends, uint64_t *phs, uint32_t *leaf,
		   size_t *depth_out, char *err, size_t errlen)
{
	struct frame_scan {
		size_t start, end;
		uint64_t name_hash, path_hash;
	};
	size_t k = 0, i = from;

	/* first the hashes, prefetching every slot the lookups will read */
	for (;;) {
		const char *semi = memchr(s + i, ';', n - i);
		size_t e = semi ? (size_t)(semi - s) : n;
		if (depth + k >= t->lim.max_depth)
			return errf(err, errlen, "stack deeper than %zu frames", t->lim.max_depth);
		t->scan = xgrow(t->scan, &t->scan_cap, k + 1, sizeof(struct frame_scan));
		struct frame_scan *f = (struct frame_scan *)t->scan + k++;
		f->start = i;
		f->end = e;
		f->name_hash = hash_bytes(s + i, e - i);
		f->path_hash = ph = path_hash(ph, f->name_hash);
		__builtin_prefetch(&t->name_tab[(uint32_t)f->name_hash & (t->name_tab_cap - 1)]);
		__builtin_prefetch(&t->node_tab[(uint32_t)ph & (t->node_tab_cap - 1)]);
		if (!semi)
			break;
		i = e + 1;
	}
	for (size_t j = 0; j < k; j++) {
		const struct frame_scan *f = (const struct frame_scan *)t->scan + j;
		uint32_t name;
		if (intern(t, s + f->start, f->end - f->start, f->name_hash, &name, err, errlen) < 0 ||
		    child(t, node, name, f->path_hash, (uint32_t)depth + 1, &node, err, errlen) < 0)
			return -1;
		if (path) {
			path[depth] = node;
			ends[depth] = f->end;
			phs[depth] = f->path_hash;
		}
		depth++;
	}
	*leaf = node;
	*depth_out = depth;
	return 0;
}

/* Perl's split drops trailing empty fields: "a;b;;" is "a;b". */
static size_t trim_semicolons(const char *s, size_t n)
{
	while (n && s[n - 1] == ';')
		n--;
	return n;
}

int folded_tree_add(struct folded_tree *t, const char *stack, size_t len, int side, uint64_t count, char *err,
		    size_t errlen)
{
	uint32_t leaf;
	size_t depth;
	len = trim_semicolons(stack, len);
	if (!len)
		return errf(err, errlen, "empty stack");
	if (descend(t, stack, len, 0, 0, PATH_SEED, 0, NULL, NULL, NULL, &leaf, &depth, err, errlen) < 0)
		return -1;
	t->lines++;
	return add_count(t, leaf, side, count, err, errlen);
}

/* --- finishing: totals and ordered children -------------------------------- */

static int name_cmp(const struct folded_tree *t, uint32_t a, uint32_t b)
{
	const struct folded_name *x = &t->names[t->nodes[a].name], *y = &t->names[t->nodes[b].name];
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(t->pool + x->off, t->pool + y->off, n);
	if (r)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int kid_cmp(const void *a, const void *b, void *ctx)
{
	return name_cmp(ctx, *(const uint32_t *)a, *(const uint32_t *)b);
}

static void sort_kids(struct folded_tree *t, uint32_t *v, size_t n)
{
	if (n > 12) {
		qsort_r(v, n, sizeof(*v), kid_cmp, t);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		uint32_t x = v[i];
		size_t j = i;
		while (j > 0 && name_cmp(t, v[j - 1], x) > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

/* List every node's children in t->kids (n_kids counted), in node order. */
static void link_kids(struct folded_tree *t)
{
	struct folded_node *nd = t->nodes;
	size_t n = t->n_nodes;
	free(t->kids);
	t->kids = xmalloc((n ? n : 1) * sizeof(*t->kids));
	uint32_t off = 0;
	for (size_t i = 0; i < n; i++) {
		nd[i].kids = off;
		off += nd[i].n_kids;
		nd[i].n_kids = 0;
	}
	for (size_t i = 1; i < n; i++) {
		struct folded_node *p = &nd[nd[i].parent];
		t->kids[p->kids + p->n_kids++] = (uint32_t)i;
	}
	t->finished = 1;
}

int folded_tree_finish(struct folded_tree *t, char *err, size_t errlen)
{
	struct folded_node *nd = t->nodes;
	size_t n = t->n_nodes;

	if (t->finished)
		return 0;
	for (size_t i = 0; i < n; i++) {
		nd[i].total[0] = nd[i].self[0];
		nd[i].total[1] = nd[i].self[1];
		nd[i].n_kids = 0;
	}
	/* children always come after their parent, so one backward pass sums */
	for (size_t i = n - 1; i > 0; i--) {
		struct folded_node *p = &nd[nd[i].parent];
		for (int s = 0; s < 2; s++) {
			if (p->total[s] > UINT64_MAX - nd[i].total[s])
				return errf(err, errlen, "total count overflows 64 bits");
			p->total[s] += nd[i].total[s];
		}
		p->n_kids++;
	}
	link_kids(t);
	for (size_t i = 0; i < n; i++)
		if (nd[i].n_kids > 1)
			sort_kids(t, t->kids + nd[i].kids, nd[i].n_kids);
	return 0;
}

/* --- the parser ------------------------------------------------------------ */

void folded_parser_init(struct folded_parser *p, struct folded_tree *t, unsigned flags, int side)
{
	memset(p, 0, sizeof(*p));
	p->tree = t;
	p->flags = flags;
	p->side = side;
	if (flags & FOLDED_TWO_COUNTS)
		p->counts = 2;
	else if (flags & FOLDED_ONE_COUNT)
		p->counts = 1;
	lines_init(&p->lines, t->lim.max_line);
	buf_init(&p->rev, t->lim.max_line);
	buf_init(&p->prev, t->lim.max_line);
}

void folded_parser_release(struct folded_parser *p)
{
	lines_release(&p->lines);
	buf_release(&p->rev);
	buf_release(&p->prev);
	free(p->path);
	free(p->ends);
	free(p->phs);
	memset(p, 0, sizeof(*p));
}

/* A count: the digits ending at s[n), after one blank.  *start gets the blank. */
static int trailing_count(const char *s, size_t n, uint64_t *v, size_t *start)
{
	size_t i = n;
	while (i > 0 && (unsigned)(s[i - 1] - '0') < 10)
		i--;
	if (i == n || i == 0 || (s[i - 1] != ' ' && s[i - 1] != '\t'))
		return -1;
	uint64_t x = 0;
	for (size_t k = i; k < n; k++) {
		unsigned d = (unsigned)(s[k] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -2;
		x = x * 10 + d;
	}
	*v = x;
	*start = i - 1;
	return 0;
}

/* "c;b;a" for "a;b;c", into p->rev. */
static int reverse_frames(struct folded_parser *p, const char *s, size_t n)
{
	struct buf *b = &p->rev;
	buf_reset(b);
	if (buf_reserve(b, n) < 0)
		return -1;
	size_t e = n;
	for (;;) {
		const char *semi = memrchr(s, ';', e);
		size_t st = semi ? (size_t)(semi - s) + 1 : 0;
		buf_append(b, s + st, e - st);
		if (!semi)
			break;
		buf_putc(b, ';');
		e = st - 1;
	}
	return 0;
}

static size_t common_prefix(const char *a, size_t na, const char *b, size_t nb)
{
	size_t n = na < nb ? na : nb, i = 0;
	while (i + 8 <= n) {
		uint64_t x, y;
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			break;
		i += 8;
	}
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* Insert a stack, reusing the part of the path it shares with the last one. */
static int insert(struct folded_parser *p, const char *s, size_t n, uint32_t *leaf, char *err, size_t errlen)
{
	struct folded_tree *t = p->tree;
	size_t l = common_prefix(s, n, p->prev.data ? p->prev.data : "", p->prev.len);
	size_t k = 0;
	while (k < p->path_len && (p->ends[k] < l || (p->ends[k] == l && (n == l || s[l] == ';'))))
		k++;
	if (k && p->ends[k - 1] == n) {
		*leaf = p->path[k - 1];
		p->path_len = k;
	} else {
		/* at most a frame per byte, and the depth limit */
		size_t need = n + 1 < t->lim.max_depth + 1 ? n + 1 : t->lim.max_depth + 1;
		if (need > p->path_cap) {
			size_t cap = p->path_cap;
			p->path = xgrow(p->path, &cap, need, sizeof(*p->path));
			p->ends = xrealloc(p->ends, cap * sizeof(*p->ends));
			p->phs = xrealloc(p->phs, cap * sizeof(*p->phs));
			p->path_cap = cap;
		}
		size_t depth;
		if (descend(t, s, n, k ? p->ends[k - 1] + 1 : 0, k ? p->path[k - 1] : 0,
			    k ? p->phs[k - 1] : PATH_SEED, k, p->path, p->ends, p->phs, leaf, &depth, err,
			    errlen) < 0)
			return -1;
		p->path_len = depth;
	}
	buf_reset(&p->prev);
	return buf_append(&p->prev, s, n);
}

static int parse_line(struct folded_parser *p, const char *s, size_t n, char *err, size_t errlen)
{
	struct folded_tree *t = p->tree;
	unsigned long long ln = (unsigned long long)++p->line;
	uint64_t c1 = 0, c2 = 0;
	size_t end, end2;
	char why[200];

	if (n && s[n - 1] == '\r')
		n--;
	size_t blank = 0;
	while (blank < n && (s[blank] == ' ' || s[blank] == '\t'))
		blank++;
	if (blank == n)
		return 0;
	int r = trailing_count(s, n, &c2, &end);
	if (r == -2)
		return errf(err, errlen, "line %llu: count too large", ln);
	if (r < 0)
		return errf(err, errlen,
			    "line %llu: expected \"STACK COUNT\" (a count after a space at the end)", ln);
	if (!p->counts)
		p->counts = trailing_count(s, end, &c1, &end2) == 0 ? 2 : 1;
	if (p->counts == 2) {
		r = trailing_count(s, end, &c1, &end2);
		if (r == -2)
			return errf(err, errlen, "line %llu: count too large", ln);
		if (r < 0)
			return errf(err, errlen,
				    "line %llu: expected \"STACK COUNT_A COUNT_B\" like the lines "
				    "before",
				    ln);
		end = end2;
	}
	n = trim_semicolons(s, end);
	if (!n)
		return errf(err, errlen, "line %llu: empty stack", ln);
	if (p->flags & FOLDED_REVERSE) {
		if (reverse_frames(p, s, n) < 0)
			return errf(err, errlen, "line %llu: too long", ln);
		s = p->rev.data;
		n = trim_semicolons(s, p->rev.len);
		if (!n)
			return errf(err, errlen, "line %llu: empty stack", ln);
	}
	uint32_t leaf;
	if (insert(p, s, n, &leaf, why, sizeof(why)) < 0)
		return errf(err, errlen, "line %llu: %s", ln, why);
	t->lines++;
	if (p->counts == 2) {
		if (add_count(t, leaf, 0, c1, why, sizeof(why)) < 0 ||
		    add_count(t, leaf, 1, c2, why, sizeof(why)) < 0)
			return errf(err, errlen, "line %llu: %s", ln, why);
		return 0;
	}
	if (add_count(t, leaf, p->side, c2, why, sizeof(why)) < 0)
		return errf(err, errlen, "line %llu: %s", ln, why);
	return 0;
}

/* lines_fn adapter: the error buffer travels with the parser. */
struct line_ctx {
	struct folded_parser *p;
	char *err;
	size_t errlen;
};

static int line_cb(void *arg, const char *line, size_t len)
{
	struct line_ctx *x = arg;
	return parse_line(x->p, line, len, x->err, x->errlen);
}

int folded_parser_feed(struct folded_parser *p, const char *data, size_t len, char *err, size_t errlen)
{
	struct line_ctx x = {p, err, errlen};
	if (p->failed)
		return errf(err, errlen, "folded: input after an error");
	int rc = lines_feed(&p->lines, data, len, line_cb, &x);
	if (rc == ERR_TOO_BIG)
		errf(err, errlen, "line %llu: longer than %zu bytes", (unsigned long long)p->line + 1,
		     p->lines.max_line);
	if (rc < 0)
		p->failed = 1;
	return rc < 0 ? -1 : 0;
}

int folded_parser_finish(struct folded_parser *p, char *err, size_t errlen)
{
	struct line_ctx x = {p, err, errlen};
	if (p->failed)
		return errf(err, errlen, "folded: finish after an error");
	if (lines_finish(&p->lines, line_cb, &x) < 0) {
		p->failed = 1;
		return -1;
	}
	return 0;
}

int folded_parse_buffer(struct folded_tree *t, const char *data, size_t len, unsigned flags, int side,
			char *err, size_t errlen)
{
	struct folded_parser p;
	folded_parser_init(&p, t, flags, side);
	int r = folded_parser_feed(&p, data, len, err, errlen);
	if (!r)
		r = folded_parser_finish(&p, err, errlen);
	folded_parser_release(&p);
	return r;
}

int folded_parse_file(struct folded_tree *t, const char *path, unsigned flags, int side, char *err,
		      size_t errlen)
{
	enum { CHUNK = 4 << 20 };
	bool is_stdin = !path || !strcmp(path, "-");
	const char *label = is_stdin ? "stdin" : path;
	struct folded_parser p;
	char why[256];
	int fd = 0, rc = -1;

	if (!is_stdin && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errf(err, errlen, "%s: %s", path, strerror(errno));
	char *chunk = xmalloc(CHUNK);
	folded_parser_init(&p, t, flags, side);
	for (;;) {
		ssize_t n = read(fd, chunk, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errf(err, errlen, "%s: %s", label, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (folded_parser_feed(&p, chunk, (size_t)n, why, sizeof(why)) < 0)
			goto bad;
	}
	if (folded_parser_finish(&p, why, sizeof(why)) < 0)
		goto bad;
	rc = 0;
	goto out;
bad:
	errf(err, errlen, "%s: %s", label, why);
out:
	folded_parser_release(&p);
	free(chunk);
	if (!is_stdin)
		close(fd);
	return rc;
}

/* --- walking and writing ---------------------------------------------------- */

int folded_tree_walk(const struct folded_tree *t,
		     int (*visit)(void *ctx, const uint32_t *path, size_t depth, uint32_t node), void *ctx)
{
	const struct folded_node *nd = t->nodes;
	uint32_t *path = xmalloc((t->max_depth + 1) * sizeof(*path));
	uint32_t *next = xmalloc((t->max_depth + 1) * sizeof(*next)); /* next kid index */
	size_t depth = 0;
	int r = 0;

	/* depth d of the walk is at node path[d - 1]; level 0 is the root */
	next[0] = 0;
	for (;;) {
		uint32_t at = depth ? path[depth - 1] : 0;
		if (next[depth] < nd[at].n_kids) {
			uint32_t c = t->kids[nd[at].kids + next[depth]++];
			path[depth++] = c;
			next[depth] = 0;
			if ((nd[c].self[0] || nd[c].self[1]) && (r = visit(ctx, path, depth, c)) != 0)
				break;
			continue;
		}
		if (!depth)
			break;
		depth--;
	}
	free(path);
	free(next);
	return r;
}

struct line {
	size_t off;   /* in writer.text */
	size_t stack; /* bytes of the stack */
	size_t len;   /* bytes of the whole line, '\n' included */
};

struct writer {
	const struct folded_tree *t;
	unsigned flags;
	struct buf text; /* every line, one after the other */
	struct line *lines;
	size_t n, cap;
	unsigned __int128 num, den; /* normalisation of side 0 */
};

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

static int collect_line(void *ctx, const uint32_t *path, size_t depth, uint32_t node)
{
	struct writer *w = ctx;
	const struct folded_tree *t = w->t;
	const struct folded_node *nd = &t->nodes[node];
	char num[48];
	size_t k = 0;

	if (w->flags & FOLDED_WRITE_TWO) {
		uint64_t a = nd->self[0];
		if (w->den)
			a = (uint64_t)(a * w->num / w->den);
		num[k++] = ' ';
		k += put_u64(num + k, a);
		num[k++] = ' ';
		k += put_u64(num + k, nd->self[1]);
	} else {
		uint64_t c = nd->self[t->sides == 2 ? 1 : 0];
		if (!c)
			return 0;
		num[k++] = ' ';
		k += put_u64(num + k, c);
	}
	num[k++] = '\n';
	size_t off = w->text.len;
	for (size_t i = 0; i < depth; i++) {
		size_t len;
		const char *s = folded_name(t, t->nodes[path[i]].name, &len);
		if ((i && buf_putc(&w->text, ';') < 0) || buf_append(&w->text, s, len) < 0)
			return -1;
	}
	size_t stack = w->text.len - off;
	if (buf_append(&w->text, num, k) < 0)
		return -1;
	w->lines = xgrow(w->lines, &w->cap, w->n + 1, sizeof(*w->lines));
	w->lines[w->n++] = (struct line){off, stack, stack + k};
	return 0;
}

static int line_cmp(const void *a, const void *b, void *ctx)
{
	const struct writer *w = ctx;
	const struct line *x = a, *y = b;
	size_t n = x->stack < y->stack ? x->stack : y->stack;
	int r = memcmp(w->text.data + x->off, w->text.data + y->off, n);
	if (r)
		return r;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

int folded_tree_write(const struct folded_tree *t, unsigned flags,
		      int (*emit)(void *ctx, const char *data, size_t len), void *ctx)
{
	enum { CHUNK = 256 * 1024 };
	struct writer w = {.t = t, .flags = flags};
	struct buf out;
	int r;

	buf_init(&w.text, BUF_NO_LIMIT);
	buf_init(&out, BUF_NO_LIMIT);
	if ((flags & FOLDED_WRITE_NORMALIZE) && (flags & FOLDED_WRITE_TWO) && t->nodes[0].total[0] &&
	    t->nodes[0].total[0] != t->nodes[0].total[1]) {
		w.num = t->nodes[0].total[1];
		w.den = t->nodes[0].total[0];
	}
	r = folded_tree_walk(t, collect_line, &w);
	if (!r && w.n)
		qsort_r(w.lines, w.n, sizeof(*w.lines), line_cmp, &w);
	for (size_t i = 0; i < w.n && !r; i++) {
		buf_append(&out, w.text.data + w.lines[i].off, w.lines[i].len);
		if (out.len >= CHUNK) {
			r = emit(ctx, out.data, out.len);
			buf_reset(&out);
		}
	}
	if (!r && out.len)
		r = emit(ctx, out.data, out.len);
	buf_release(&out);
	buf_release(&w.text);
	free(w.lines);
	return r;
}

/* --- stack tree JSON ------------------------------------------------------------ */

/* Lend `w` the levels that `t`, written with `above` levels open, nests
 * past the writer's own (an object and its children per frame); the
 * frames to free, or NULL. */
static uint8_t *lend_tree_depth(struct json_w *w, const struct folded_tree *t, size_t above)
{
	size_t need = above + 2 * ((size_t)t->max_depth + 1);
	if (need <= JW_MAX_DEPTH)
		return NULL;
	uint8_t *more = xmalloc(need - JW_MAX_DEPTH);
	jw_lend_frames(w, more, need - JW_MAX_DEPTH);
	return more;
}

static void put_stack_node_json(const struct folded_tree *t, struct json_w *w, struct buf *name, uint32_t id,
				int two, double scale)
{
	const struct folded_node *nd = &t->nodes[id];
	size_t len = 0;
	const char *s = id ? folded_name(t, nd->name, &len) : "";
	buf_reset(name); /* names in the tree are not NUL-terminated */
	buf_append(name, s, len);
	jw_obj_begin(w);
	jw_kstr(w, "name", name->data ? name->data : "");
	jw_kuint(w, "value", nd->total[0]);
	jw_kuint(w, "self", nd->self[0]);
	for (int i = 0; two && i < 2; i++) {
		jw_kobj_begin(w, i ? "compare" : "base");
		jw_kuint(w, "value", nd->total[i]);
		jw_kuint(w, "self", nd->self[i]);
		jw_obj_end(w);
	}
	if (two)
		jw_kdouble(w, "delta", (double)nd->total[1] - (double)nd->total[0] * scale);
	jw_karr_begin(w, "children");
	for (uint32_t k = 0; k < nd->n_kids; k++)
		put_stack_node_json(t, w, name, t->kids[nd->kids + k], two, scale);
	jw_arr_end(w);
	jw_obj_end(w);
}

void folded_tree_write_json(const struct folded_tree *t, struct buf *b, int two, double scale)
{
	struct buf name;
	struct json_w w;
	buf_init(&name, BUF_NO_LIMIT);
	jw_init(&w, b);
	uint8_t *more = lend_tree_depth(&w, t, 0);
	put_stack_node_json(t, &w, &name, 0, two, scale);
	free(more);
	buf_release(&name);
}

/* --- span-tree input ------------------------------------------------------------ */

#define SPAN_RECENT 4096 /* a power of two */

#define FIRST(side, trace, made) ((uint64_t)(side) << 62 | (uint64_t)(trace) << 32 | (uint32_t)(made))

struct folded_spans {
	struct folded_frame *f; /* per node */
	size_t cap;
	uint64_t traces[2], spans[2];
	uint8_t (*ids[2])[16]; /* per side, the id of trace number k */
	size_t n_ids[2], cap_ids[2];
	uint64_t trace_no; /* of the trace being merged */
	int side, too_many;
	struct buf key;
	/* Frames by the address of their strings: the spans being merged repeat
	 * the same name strings, so (parent, service pointer, name pointer)
	 * finds most frames without hashing text. */
	struct {
		const char *service, *name;
		uint32_t parent, id;
	} recent[SPAN_RECENT];
};

static void folded_spans_free(struct folded_spans *sp)
{
	if (!sp)
		return;
	free(sp->f);
	free(sp->ids[0]);
	free(sp->ids[1]);
	buf_release(&sp->key);
	free(sp);
}

void folded_tree_init_spans(struct folded_tree *t, size_t max_frames)
{
	struct folded_limits lim = {.max_nodes = max_frames};
	folded_tree_init(t, &lim);
	t->spans = xcalloc(1, sizeof(*t->spans));
	buf_init(&t->spans->key, BUF_NO_LIMIT);
	t->spans->f = xgrow(NULL, &t->spans->cap, 1, sizeof(*t->spans->f));
	memset(t->spans->f, 0, sizeof(*t->spans->f));
}

void folded_spans_begin_trace(struct folded_tree *t, int side, uint64_t no, size_t n_spans)
{
	struct folded_spans *sp = t->spans;
	sp->side = side;
	sp->trace_no = no;
	sp->traces[side]++;
	sp->spans[side] += n_spans;
}

/* The child of `parent` whose name is key[0..len) ("service\0name\0"); `parent` past the limit. */
static uint32_t spans_child(struct folded_tree *t, uint32_t parent, const char *key, size_t len)
{
	struct folded_spans *sp = t->spans;
	uint64_t h = hash_bytes(key, len);
	size_t had = t->n_nodes;
	uint32_t name, id = parent;
	if (intern(t, key, len, h, &name, NULL, 0) < 0 ||
	    child(t, parent, name, path_hash(PATH_SEED ^ parent, h), t->nodes[parent].depth + 1, &id, NULL,
		  0) < 0) {
		sp->too_many = 1;
		return parent;
	}
	if (t->n_nodes > had) {
		sp->f = xgrow(sp->f, &sp->cap, t->n_nodes, sizeof(*sp->f));
		memset(&sp->f[id], 0, sizeof(sp->f[id]));
		sp->f[id].first = FIRST(sp->side, sp->trace_no, id);
	}
	return id;
}

uint32_t folded_spans_frame(struct folded_tree *t, uint32_t parent, const char *service, const char *name)
{
	struct folded_spans *sp = t->spans;
	uintptr_t h = ((uintptr_t)service ^ (uintptr_t)name * 31) >> 4;
	size_t slot = (h ^ parent * 0x9e3779b1u) & (SPAN_RECENT - 1);
	if (sp->recent[slot].name == name && sp->recent[slot].service == service &&
	    sp->recent[slot].parent == parent)
		return sp->recent[slot].id;
	buf_reset(&sp->key);
	buf_append(&sp->key, service, strlen(service) + 1);
	buf_append(&sp->key, name, strlen(name) + 1);
	uint32_t id = spans_child(t, parent, sp->key.data, sp->key.len);
	if (!sp->too_many) {
		sp->recent[slot].service = service;
		sp->recent[slot].name = name;
		sp->recent[slot].parent = parent;
		sp->recent[slot].id = id;
	}
	return id;
}

void folded_spans_forget(struct folded_tree *t)
{
	memset(t->spans->recent, 0, sizeof(t->spans->recent));
}

void folded_spans_count(struct folded_tree *t, uint32_t node, uint64_t total_ns, uint64_t self_ns)
{
	struct folded_spans *sp = t->spans;
	struct folded_frame *f = &sp->f[node];
	int s = sp->side;
	f->total_ns[s] += total_ns;
	f->self_ns[s] += self_ns;
	if (f->last_trace[s] != sp->trace_no + 1) {
		f->last_trace[s] = sp->trace_no + 1;
		f->traces[s]++;
	}
}

void folded_spans_name_trace(struct folded_tree *t, int side, uint64_t no, const uint8_t id[16])
{
	struct folded_spans *sp = t->spans;
	if (no >= sp->n_ids[side]) {
		sp->ids[side] = xgrow(sp->ids[side], &sp->cap_ids[side], no + 1, sizeof(*sp->ids[side]));
		memset(sp->ids[side] + sp->n_ids[side], 0, (no + 1 - sp->n_ids[side]) * 16);
		sp->n_ids[side] = no + 1;
	}
	memcpy(sp->ids[side][no], id, 16);
}

void folded_spans_absorb(struct folded_tree *t, const struct folded_tree *from)
{
	struct folded_spans *sp = t->spans;
	const struct folded_spans *fr = from->spans;
	uint32_t *to = xmalloc(from->n_nodes * sizeof(*to));
	to[0] = 0;
	for (uint32_t id = 1; id < from->n_nodes; id++) { /* parents come before their children */
		const struct folded_name *nm = &from->names[from->nodes[id].name];
		const struct folded_frame *g = &fr->f[id];
		uint32_t parent = to[from->nodes[id].parent];
		size_t had = t->n_nodes;
		to[id] = spans_child(t, parent, from->pool + nm->off, nm->len);
		if (to[id] == parent) /* too many frames */
			continue;
		struct folded_frame *f = &sp->f[to[id]];
		if (t->n_nodes > had || g->first < f->first)
			f->first = g->first;
		for (int s = 0; s < 2; s++) {
			f->total_ns[s] += g->total_ns[s];
			f->self_ns[s] += g->self_ns[s];
			f->traces[s] += g->traces[s];
			if (g->last_trace[s] > f->last_trace[s])
				f->last_trace[s] = g->last_trace[s];
		}
	}
	for (int s = 0; s < 2; s++) {
		sp->traces[s] += fr->traces[s];
		sp->spans[s] += fr->spans[s];
	}
	sp->too_many |= fr->too_many;
	free(to);
}

const char *folded_spans_service(const struct folded_tree *t, uint32_t node)
{
	return node ? t->pool + t->names[t->nodes[node].name].off : "";
}

const char *folded_spans_name(const struct folded_tree *t, uint32_t node)
{
	const char *service = folded_spans_service(t, node);
	return node ? service + strlen(service) + 1 : "";
}

const struct folded_frame *folded_spans_at(const struct folded_tree *t, uint32_t node)
{
	return &t->spans->f[node];
}

uint64_t folded_spans_traces(const struct folded_tree *t, int side)
{
	return t->spans->traces[side];
}

uint64_t folded_spans_count_spans(const struct folded_tree *t, int side)
{
	return t->spans->spans[side];
}

int folded_spans_too_many(const struct folded_tree *t)
{
	return t->spans->too_many;
}

static int first_cmp(const void *a, const void *b, void *ctx)
{
	const struct folded_frame *f = ((const struct folded_tree *)ctx)->spans->f;
	uint64_t x = f[*(const uint32_t *)a].first, y = f[*(const uint32_t *)b].first;
	return (x > y) - (x < y);
}

void folded_spans_finish(struct folded_tree *t)
{
	struct folded_spans *sp = t->spans;
	struct folded_node *nd = t->nodes;
	if (t->finished)
		return;
	for (size_t i = 0; i < t->n_nodes; i++)
		nd[i].n_kids = 0;
	for (size_t i = 1; i < t->n_nodes; i++)
		nd[nd[i].parent].n_kids++;
	link_kids(t);
	for (size_t i = 0; i < t->n_nodes; i++)
		if (nd[i].n_kids > 1)
			qsort_r(t->kids + nd[i].kids, nd[i].n_kids, sizeof(*t->kids), first_cmp, t);
	for (int s = 0; s < 2; s++) {
		sp->f[0].total_ns[s] = 0;
		for (uint32_t k = 0; k < nd[0].n_kids; k++)
			sp->f[0].total_ns[s] += sp->f[t->kids[k]].total_ns[s];
		sp->f[0].traces[s] = sp->traces[s];
	}
}

/* --- span-tree output ------------------------------------------------------------ */

/* value, own time, traces, and the last trace that passed here */
static void put_side_json(struct json_w *w, const struct folded_spans *sp, const struct folded_frame *f,
			  int s)
{
	jw_kuint(w, "value_us", f->total_ns[s] / NS_PER_US);
	jw_kuint(w, "self_us", f->self_ns[s] / NS_PER_US);
	jw_kuint(w, "count", f->traces[s]);
	if (f->last_trace[s] && f->last_trace[s] <= sp->n_ids[s]) {
		const uint8_t *id = sp->ids[s][f->last_trace[s] - 1];
		jw_kid(w, "example_trace_id", id, 16);
	}
}

static void put_node_json(const struct folded_tree *t, struct json_w *w, uint32_t id, int two)
{
	const struct folded_frame *f = &t->spans->f[id];
	const struct folded_node *nd = &t->nodes[id];
	jw_obj_begin(w);
	jw_kstr(w, "name", folded_spans_name(t, id));
	jw_kstr(w, "service", folded_spans_service(t, id));
	put_side_json(w, t->spans, f, 0);
	for (int i = 0; two && i < 2; i++) {
		jw_kobj_begin(w, i ? "compare" : "base");
		put_side_json(w, t->spans, f, i);
		jw_obj_end(w);
	}
	jw_karr_begin(w, "children");
	for (uint32_t k = 0; k < nd->n_kids; k++)
		put_node_json(t, w, t->kids[nd->kids + k], two);
	jw_arr_end(w);
	jw_obj_end(w);
}

void folded_spans_write_json(const struct folded_tree *t, struct buf *b, const char *mode, int two)
{
	const struct folded_spans *sp = t->spans;
	struct json_w w;
	jw_init(&w, b);
	jw_obj_begin(&w);
	jw_kstr(&w, "mode", mode);
	jw_kuint(&w, "traces", sp->traces[0]);
	jw_kuint(&w, "spans", sp->spans[0]);
	for (int i = 0; two && i < 2; i++) {
		jw_kobj_begin(&w, i ? "compare" : "base");
		jw_kuint(&w, "traces", sp->traces[i]);
		jw_kuint(&w, "spans", sp->spans[i]);
		jw_obj_end(&w);
	}
	uint8_t *more = lend_tree_depth(&w, t, 1); /* it nests as deep as its stacks */
	jw_key(&w, "root");
	put_node_json(t, &w, 0, two);
	jw_obj_end(&w);
	free(more);
}

/* "service: name", with the folded format's separators made harmless. */
static void put_label(struct buf *b, const struct folded_tree *t, uint32_t id)
{
	size_t at = b->len;
	buf_puts(b, folded_spans_service(t, id));
	buf_puts(b, ": ");
	buf_puts(b, folded_spans_name(t, id));
	for (size_t i = at; i < b->len; i++)
		if (b->data[i] == ';' || b->data[i] == '\n' || b->data[i] == '\r')
			b->data[i] = '_';
}

/* The labels from the root's child down to `id`, joined by ';'. */
static void put_label_path(struct buf *b, const struct folded_tree *t, uint32_t id, uint32_t *up)
{
	size_t k = 0;
	for (uint32_t u = id; u; u = t->nodes[u].parent)
		up[k++] = u;
	while (k--) {
		put_label(b, t, up[k]);
		if (k)
			buf_putc(b, ';');
	}
}

/* Lines of writer.text, compared as strcmp() would (they hold no NUL). */
static int text_line_cmp(const void *a, const void *b, void *ctx)
{
	const char *text = ctx;
	const struct line *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(text + x->off, text + y->off, n);
	if (r)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

void folded_spans_write_folded(const struct folded_tree *t, struct buf *b, int two)
{
	const struct folded_frame *f = t->spans->f;
	struct buf text;
	struct line *lines = NULL;
	size_t n = 0, cap = 0;
	uint32_t *up = xmalloc((t->max_depth + 1) * sizeof(*up));
	buf_init(&text, BUF_NO_LIMIT);
	for (uint32_t id = 1; id < t->n_nodes; id++) {
		uint64_t a = f[id].self_ns[0] / NS_PER_US, c = f[id].self_ns[1] / NS_PER_US;
		if (!a && !(two && c))
			continue;
		size_t off = text.len;
		put_label_path(&text, t, id, up);
		if (two)
			buf_printf(&text, " %llu %llu\n", (unsigned long long)a, (unsigned long long)c);
		else
			buf_printf(&text, " %llu\n", (unsigned long long)a);
		lines = xgrow(lines, &cap, n + 1, sizeof(*lines));
		lines[n++] = (struct line){off, 0, text.len - off};
	}
	if (n)
		qsort_r(lines, n, sizeof(*lines), text_line_cmp, text.data);
	for (size_t i = 0; i < n; i++)
		buf_append(b, text.data + lines[i].off, lines[i].len);
	free(lines);
	free(up);
	buf_release(&text);
}

/* Place span node `id` of `t` in the stack tree `out` (proj[id]), with the ancestors not yet there. */
static int project(const struct folded_tree *t, uint32_t id, struct folded_tree *out, uint32_t *proj,
		   uint64_t *ph, uint32_t *up, struct buf *label, char *err, size_t errlen)
{
	size_t k = 0;
	for (uint32_t u = id; proj[u] == FOLDED_NONE; u = t->nodes[u].parent)
		up[k++] = u;
	while (k--) {
		uint32_t v = up[k], p = t->nodes[v].parent, name;
		if (t->nodes[v].depth > out->lim.max_depth)
			return errf(err, errlen, "stack deeper than %zu frames", out->lim.max_depth);
		buf_reset(label);
		put_label(label, t, v);
		uint64_t h = hash_bytes(label->data, label->len);
		ph[v] = path_hash(ph[p], h);
		if (intern(out, label->data, label->len, h, &name, err, errlen) < 0 ||
		    child(out, proj[p], name, ph[v], t->nodes[v].depth, &proj[v], err, errlen) < 0)
			return -1;
	}
	return 0;
}

int folded_spans_stacks(const struct folded_tree *t, int two, struct folded_tree *out, char *err,
			size_t errlen)
{
	const struct folded_frame *f = t->spans->f;
	uint32_t *proj = xmalloc(t->n_nodes * sizeof(*proj));
	uint64_t *ph = xmalloc(t->n_nodes * sizeof(*ph));
	uint32_t *up = xmalloc((t->max_depth + 1) * sizeof(*up));
	struct buf label;
	int r = 0;
	buf_init(&label, BUF_NO_LIMIT);
	memset(proj, 0xff, t->n_nodes * sizeof(*proj));
	proj[0] = 0;
	ph[0] = PATH_SEED;
	for (uint32_t id = 1; id < t->n_nodes && !r; id++) {
		uint64_t c[2] = {f[id].self_ns[0] / NS_PER_US, two ? f[id].self_ns[1] / NS_PER_US : 0};
		if (!c[0] && !c[1])
			continue;
		r = project(t, id, out, proj, ph, up, &label, err, errlen);
		for (int s = 0; s < 2 && !r; s++)
			if (c[s]) {
				out->lines++;
				r = add_count(out, proj[id], s, c[s], err, errlen);
			}
	}
	buf_release(&label);
	free(up);
	free(ph);
	free(proj);
	return r;
}
