/*
 * upload.c - profile uploads to canonical folded text, and Pyroscope's
 * application-name syntax (see upload.h).
 *
 * Every format goes through one folded-stack tree: it merges identical
 * stacks, enforces the depth and size limits, and writes the sorted text.
 */
#include "profile/upload.h"

#include <ctype.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "profile/collapse_perf.h"
#include "profile/folded.h"
#include "profile/frame_name.h"

#define DEFAULT_MAX_BYTES (256u << 20)

int upload_format_parse(const char *name, enum upload_format *f)
{
	static const struct {
		const char *name;
		enum upload_format f;
	} names[] = {
		{"folded", UPLOAD_FOLDED}, {"collapsed", UPLOAD_FOLDED}, {"lines", UPLOAD_LINES},
		{"perf", UPLOAD_PERF},	   {"pprof", UPLOAD_PPROF},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i].name)) {
			*f = names[i].f;
			return 0;
		}
	return -1;
}

/* Folded text with its names made valid UTF-8, into the tree. */
static int add_folded(struct folded_tree *t, const char *data, size_t len, char *err, size_t errlen)
{
	char *copy = xmalloc(len + 1);
	memcpy(copy, data, len);
	frame_name_fix_utf8(copy, len);
	int r = folded_parse_buffer(t, copy, len, FOLDED_ONE_COUNT, 0, err, errlen);
	free(copy);
	return r;
}

/* Pyroscope's "lines": every non-empty line is one sample's stack. */
static int add_lines(struct folded_tree *t, const char *data, size_t len, char *err, size_t errlen)
{
	struct buf line;
	uint64_t no = 0;
	int r = 0;
	buf_init(&line, BUF_NO_LIMIT);
	for (size_t at = 0; at < len && r == 0;) {
		const char *nl = memchr(data + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - data) : len, n = end - at;
		no++;
		if (n && data[at + n - 1] == '\r')
			n--;
		if (n) {
			buf_reset(&line);
			buf_append(&line, data + at, n);
			frame_name_fix_utf8(line.data, line.len);
			char msg[200];
			if (folded_tree_add(t, line.data, line.len, 0, 1, msg, sizeof(msg)) < 0)
				r = errf(err, errlen, "line %llu: %s", (unsigned long long)no, msg);
		}
		at = end + 1;
	}
	buf_release(&line);
	return r;
}

static int add_perf(struct folded_tree *t, const char *data, size_t len, size_t max, char *err, size_t errlen)
{
	struct collapse_perf_opts o = {0};
	struct buf folded;
	char msg[256];
	buf_init(&folded, max);
	int r = collapse_perf_buffer(data, len, &o, &folded, msg, sizeof(msg));
	if (r < 0)
		r = errf(err, errlen, "perf script: %s", msg);
	else
		r = add_folded(t, folded.data ? folded.data : "", folded.len, err, errlen);
	buf_release(&folded);
	return r;
}

struct writer {
	struct buf out;
	uint64_t lines;
};

static int emit(void *ctx, const char *data, size_t len)
{
	struct writer *w = ctx;
	for (size_t i = 0; i < len; i++)
		w->lines += data[i] == '\n';
	return buf_append(&w->out, data, len) < 0 ? ERR_TOO_BIG : 0;
}

int upload_decode(enum upload_format f, const char *data, size_t len, const struct pprof_options *po,
		  size_t max_bytes, struct arena *a, struct upload_result *out, char *err, size_t errlen)
{
	struct folded_tree t;
	struct writer w = {.lines = 0};
	size_t max = max_bytes ? max_bytes : DEFAULT_MAX_BYTES;
	int r;

	memset(out, 0, sizeof(*out));
	folded_tree_init(&t, NULL);
	buf_init(&w.out, max);
	switch (f) {
	case UPLOAD_FOLDED: r = add_folded(&t, data, len, err, errlen); break;
	case UPLOAD_LINES: r = add_lines(&t, data, len, err, errlen); break;
	case UPLOAD_PERF: r = add_perf(&t, data, len, max, err, errlen); break;
	default: {
		struct pprof_options o = *po;
		if (!o.max_input)
			o.max_input = max;
		r = pprof_decode(data, len, &o, &t, 0, a, &out->pprof, err, errlen);
		out->is_pprof = 1;
		if (r == ERR_TOO_BIG)
			r = ERR_TOO_BIG;
	}
	}
	if (r < 0 || (r = folded_tree_finish(&t, err, errlen)) < 0)
		goto out;
	r = folded_tree_write(&t, 0, emit, &w);
	if (r != 0) {
		errf(err, errlen, "the profile's folded stacks pass the limit of %zu bytes", max);
		r = ERR_TOO_BIG;
		goto out;
	}
	out->folded = arena_strndup(a, w.out.data ? w.out.data : "", w.out.len);
	out->folded_len = w.out.len;
	out->stacks = w.lines;
	out->total = t.nodes[0].total[0];
out:
	buf_release(&w.out);
	folded_tree_release(&t);
	return r;
}

/* ---- Pyroscope's application names --------------------------------------- */

/* Suffixes Pyroscope clients append to the application name. */
static const char *const known_types[] = {
	"cpu",
	"wall",
	"itimer",
	"alloc_objects",
	"alloc_space",
	"inuse_objects",
	"inuse_space",
	"goroutines",
	"mutex_count",
	"mutex_duration",
	"block_count",
	"block_duration",
	"lock_count",
	"lock_duration",
	"exceptions",
	"alloc_in_new_tlab_objects",
	"alloc_in_new_tlab_bytes",
	"alloc_outside_tlab_objects",
	"alloc_outside_tlab_bytes",
};

static int app_char(int c)
{
	return isalnum(c) || c == '.' || c == '_' || c == '-' || c == '/' || c == ':';
}

static int key_char(int c)
{
	return isalnum(c) || c == '.' || c == '_' || c == '-';
}

static const char *trimmed(struct arena *a, const char *s, size_t n)
{
	while (n && *s == ' ')
		s++, n--;
	while (n && s[n - 1] == ' ')
		n--;
	return arena_strndup(a, s, n);
}

/* The labels inside the braces: "k=v,k=v" from s[*at], up to the '}'. */
static int parse_labels(const char *s, size_t *at, struct arena *a, struct upload_name *out, char *err,
			size_t errlen)
{
	size_t i = *at, cap = 0;
	while (s[i] != '}') {
		size_t k0 = i;
		while (s[i] == ' ')
			i++;
		size_t ks = i;
		while (key_char((unsigned char)s[i]))
			i++;
		size_t ke = i;
		while (s[i] == ' ')
			i++;
		if (ke == ks)
			return errf(err, errlen, "invalid name: a label key is expected at column %zu",
				    k0 + 1);
		if (s[i] != '=')
			return errf(err, errlen,
				    "invalid name: '=' expected after label key '%.*s' at column %zu",
				    (int)(ke - ks), s + ks, i + 1);
		size_t vs = ++i;
		while (s[i] && s[i] != ',' && s[i] != '}' && s[i] != '{' && (unsigned char)s[i] >= 0x20)
			i++;
		if (!s[i] || s[i] == '{' || (unsigned char)s[i] < 0x20)
			return errf(err, errlen, "invalid name: %s at column %zu",
				    s[i] ? "unexpected character in a label value" : "missing '}'", i + 1);
		out->labels = arena_grow(a, out->labels, &cap, out->n_labels + 1, sizeof(*out->labels));
		out->labels[out->n_labels++] =
			(struct upload_label){arena_strndup(a, s + ks, ke - ks), trimmed(a, s + vs, i - vs)};
		if (s[i] == ',')
			i++;
	}
	*at = i + 1;
	return 0;
}

int upload_parse_name(const char *s, struct arena *a, struct upload_name *out, char *err, size_t errlen)
{
	size_t i = 0;
	memset(out, 0, sizeof(*out));
	while (s[i] == ' ')
		i++;
	size_t start = i;
	while (app_char((unsigned char)s[i]))
		i++;
	size_t end = i;
	while (s[i] == ' ')
		i++;
	if (s[i] && s[i] != '{')
		return errf(err, errlen, "invalid name: unexpected character '%c' at column %zu", s[i],
			    i + 1);
	if (end == start)
		return errf(err, errlen, "invalid name: the application name is empty");
	for (size_t k = 0; k < sizeof(known_types) / sizeof(known_types[0]); k++) {
		size_t n = strlen(known_types[k]);
		if (end - start > n + 1 && s[end - n - 1] == '.' &&
		    !strncmp(s + end - n, known_types[k], n)) {
			out->type = known_types[k];
			end -= n + 1;
			break;
		}
	}
	out->app = arena_strndup(a, s + start, end - start);
	if (s[i] == '{') {
		i++;
		if (parse_labels(s, &i, a, out, err, errlen) < 0)
			return -1;
		while (s[i] == ' ')
			i++;
		if (s[i])
			return errf(err, errlen, "invalid name: unexpected text after '}' at column %zu",
				    i + 1);
	}
	return 0;
}
