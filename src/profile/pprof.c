/*
 * pprof.c - pprof profiles decoded into folded stacks (see pprof.h).
 *
 * protobuf-c unpacks the message (build/gen, from proto/perftools/) into a
 * scratch arena under a budget, as the OTLP decoder does; what this file
 * owns is the validation of the profile's cross references and the walk
 * from samples to stacks.  Each location's frames are joined once, root
 * first, and a sample's stack is the join of its locations' frames.
 */
#include "profile/pprof.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/gzip.h"
#include "core/log.h"
#include "core/strmap.h"
#include "profile/frame_name.h"
#include "perftools/profiles/profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Function pb_function;
typedef Perftools__Profiles__Mapping pb_mapping;
typedef Perftools__Profiles__Label pb_label;

#define DEFAULT_MAX_INPUT (64u << 20)
/* protobuf-c may allocate this many times the input, plus the slack: a
 * packed location id is one byte on the wire and eight in memory. */
#define UNPACK_EXPANSION 32
#define UNPACK_SLACK	 (1024 * 1024)
/* Bytes of one sample's stack text. */
#define STACK_MAX (4u << 20)
/* Bytes of all locations' frame text, and of all samples' stacks: a small
 * input naming a long function many times must not take unbounded work. */
#define NAMES_MAX  (256u << 20)
#define STACKS_MAX (1u << 30)

/* ---- unpacking under a budget -------------------------------------------- */

struct unpack {
	struct arena *arena;
	size_t budget;
	int too_big;
};

static void *unpack_alloc(void *data, size_t size)
{
	struct unpack *u = data;
	if (size > u->budget) {
		u->too_big = 1;
		return NULL;
	}
	u->budget -= size;
	return arena_alloc(u->arena, size);
}

static void unpack_free(void *data, void *ptr)
{
	/* arena memory dies with the decoder's arena */
}

/* ---- the decoder's state ------------------------------------------------- */

struct dec {
	const pb_profile *p;
	struct arena *scratch;
	struct strmap functions, locations, mappings; /* id (8 bytes) -> index */
	const char **fn_names;			      /* per function, sanitised */
	const char **loc_frames;		      /* per location: "caller;...;inlined" */
	size_t *loc_len;
	struct buf name, stack;
	size_t names_bytes, stacks_bytes;
	char *err;
	size_t errlen;
};

int pprof_is_gzip(const void *data, size_t len)
{
	const unsigned char *p = data;
	return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Append a frame name made safe for folded text and JSON; -1 past the buffer's limit. */
static int put_name(struct buf *b, const char *s)
{
	return frame_name_put(b, s, strlen(s));
}

/* A string-table index, checked.  NULL: out of range (the message is set). */
static const char *str_at(struct dec *d, int64_t i, const char *what)
{
	if (i < 0 || (uint64_t)i >= d->p->n_string_table) {
		errf(d->err, d->errlen,
		     "invalid pprof: %s refers to string %" PRId64 ", past the %zu strings", what, i,
		     d->p->n_string_table);
		return NULL;
	}
	return d->p->string_table[i] ? d->p->string_table[i] : "";
}

static int index_ids(struct dec *d, struct strmap *m, const char *what, size_t n,
		     uint64_t (*id_at)(const pb_profile *, size_t))
{
	for (size_t i = 0; i < n; i++) {
		uint64_t id = id_at(d->p, i);
		int64_t have;
		if (!id)
			return errf(d->err, d->errlen, "invalid pprof: %s %zu has id 0", what, i);
		if (strmap_get(m, &id, sizeof(id), &have) == 0)
			return errf(d->err, d->errlen, "invalid pprof: two %ss have id %" PRIu64, what, id);
		strmap_put(m, &id, sizeof(id), (int64_t)i);
	}
	return 0;
}

static uint64_t function_id(const pb_profile *p, size_t i)
{
	return p->function[i]->id;
}

static uint64_t location_id(const pb_profile *p, size_t i)
{
	return p->location[i]->id;
}

static uint64_t mapping_id(const pb_profile *p, size_t i)
{
	return p->mapping[i]->id;
}

static int lookup(struct dec *d, const struct strmap *m, uint64_t id, const char *what, const char *where,
		  size_t *index)
{
	int64_t i;
	if (strmap_get(m, &id, sizeof(id), &i) < 0)
		return errf(d->err, d->errlen,
			    "invalid pprof: %s refers to %s %" PRIu64 ", which is not in the profile", where,
			    what, id);
	*index = (size_t)i;
	return 0;
}

/* Every function's frame name, sanitised. */
static int name_functions(struct dec *d)
{
	const pb_profile *p = d->p;
	d->fn_names = arena_alloc(d->scratch, (p->n_function + 1) * sizeof(*d->fn_names));
	for (size_t i = 0; i < p->n_function; i++) {
		const pb_function *f = p->function[i];
		const char *name = str_at(d, f->name, "a function's name");
		const char *sys = str_at(d, f->system_name, "a function's system name");
		const char *file = str_at(d, f->filename, "a function's file name");
		if (!name || !sys || !file)
			return -1;
		const char *use = *name ? name : *sys ? sys : *file ? file : "[unknown]";
		buf_reset(&d->name);
		if (put_name(&d->name, use) < 0)
			return errf(d->err, d->errlen,
				    "invalid pprof: function %" PRIu64 " has a name over %u bytes", f->id,
				    STACK_MAX);
		d->fn_names[i] = arena_strndup(d->scratch, d->name.data, d->name.len);
	}
	return 0;
}

/* A location without line information: "file+0xOFFSET" or "0xADDRESS". */
static int name_by_address(struct dec *d, const pb_location *l)
{
	char num[40];
	if (l->mapping_id) {
		char where[64];
		size_t mi = 0;
		snprintf(where, sizeof(where), "location %" PRIu64, l->id);
		if (lookup(d, &d->mappings, l->mapping_id, "mapping", where, &mi) < 0)
			return -1;
		const pb_mapping *m = d->p->mapping[mi];
		const char *file = str_at(d, m->filename, "a mapping's file name");
		if (!file)
			return -1;
		if (*file) {
			const char *base = strrchr(file, '/');
			uint64_t off = l->address;
			if (l->address >= m->memory_start && l->address < m->memory_limit)
				off = l->address - m->memory_start + m->file_offset;
			snprintf(num, sizeof(num), "+0x%" PRIx64, off);
			if (put_name(&d->name, base && base[1] ? base + 1 : file) < 0 ||
			    buf_puts(&d->name, num) < 0)
				return errf(d->err, d->errlen,
					    "invalid pprof: mapping %" PRIu64
					    " has a file name over %u bytes",
					    m->id, STACK_MAX);
			return 0;
		}
	}
	if (l->address) {
		snprintf(num, sizeof(num), "0x%" PRIx64, l->address);
		buf_puts(&d->name, num);
	} else {
		buf_puts(&d->name, "[unknown]");
	}
	return 0;
}

/* Every location's frames, root first: the last line (the caller) first. */
static int name_locations(struct dec *d)
{
	const pb_profile *p = d->p;
	d->loc_frames = arena_alloc(d->scratch, (p->n_location + 1) * sizeof(*d->loc_frames));
	d->loc_len = arena_alloc(d->scratch, (p->n_location + 1) * sizeof(*d->loc_len));
	for (size_t i = 0; i < p->n_location; i++) {
		const pb_location *l = p->location[i];
		char where[64];
		snprintf(where, sizeof(where), "location %" PRIu64, l->id);
		buf_reset(&d->name);
		if (l->mapping_id) {
			size_t mi;
			if (lookup(d, &d->mappings, l->mapping_id, "mapping", where, &mi) < 0)
				return -1;
		}
		if (!l->n_line && name_by_address(d, l) < 0)
			return -1;
		for (size_t k = l->n_line; k-- > 0;) {
			uint64_t fid = l->line[k]->function_id;
			size_t fi = 0;
			if (fid && lookup(d, &d->functions, fid, "function", where, &fi) < 0)
				return -1;
			if ((k + 1 < l->n_line && buf_putc(&d->name, ';') < 0) ||
			    buf_puts(&d->name, fid ? d->fn_names[fi] : "[unknown]") < 0)
				return errf(d->err, d->errlen,
					    "invalid pprof: %s has more than %u bytes of names", where,
					    STACK_MAX);
		}
		d->names_bytes += d->name.len;
		if (d->names_bytes > NAMES_MAX)
			return errf(d->err, d->errlen,
				    "invalid pprof: the locations' names add up to more than %u bytes",
				    NAMES_MAX);
		d->loc_frames[i] = arena_strndup(d->scratch, d->name.data, d->name.len);
		d->loc_len[i] = d->name.len;
	}
	return 0;
}

/* Which sample type to read (see pprof.h).  -1 with a message if asked for one that is not there. */
static int choose_type(struct dec *d, const struct pprof_options *o, struct pprof_info *info, size_t *which)
{
	const pb_profile *p = d->p;
	const char **names = arena_alloc(d->scratch, (p->n_sample_type + 1) * sizeof(*names));
	struct buf list;
	if (!p->n_sample_type)
		return errf(d->err, d->errlen, "invalid pprof: the profile declares no sample type");
	info->types = arena_alloc(d->scratch, p->n_sample_type * sizeof(*info->types));
	info->n_types = p->n_sample_type;
	for (size_t i = 0; i < p->n_sample_type; i++) {
		const char *t = str_at(d, p->sample_type[i]->type, "a sample type");
		const char *u = str_at(d, p->sample_type[i]->unit, "a sample type's unit");
		if (!t || !u)
			return -1;
		names[i] = t;
		buf_init(&list, BUF_NO_LIMIT);
		buf_printf(&list, "%s/%s", t, u);
		info->types[i] = arena_strndup(d->scratch, list.data, list.len);
		buf_release(&list);
	}
	const char *def = str_at(d, p->default_sample_type, "default_sample_type");
	if (!def)
		return -1;
	const char *want[] = {o->sample_type, o->type_hint, def, "cpu", "wall"};
	for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
		if (!want[w] || !*want[w])
			continue;
		for (size_t i = 0; i < p->n_sample_type; i++)
			if (!strcmp(names[i], want[w])) {
				*which = i;
				return 0;
			}
		if (w == 0) {
			buf_init(&list, 1024);
			for (size_t i = 0; i < p->n_sample_type; i++)
				buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
			errf(d->err, d->errlen, "the profile has no sample type '%s' (it has %s)", want[w],
			     list.data);
			buf_release(&list);
			return -1;
		}
	}
	*which = p->n_sample_type - 1;
	return 0;
}

/* The common labels so far: drop those the sample lacks or sets differently. */
static void keep_common_labels(struct dec *d, const pb_sample *s, struct pprof_info *info, int first)
{
	const pb_profile *p = d->p;
	if (first) {
		info->labels = arena_alloc(d->scratch, (s->n_label + 1) * sizeof(*info->labels));
		for (size_t i = 0; i < s->n_label; i++) {
			const pb_label *l = s->label[i];
			if (l->str <= 0 || l->key <= 0)
				continue;
			info->labels[info->n_labels++] =
				(struct pprof_label){p->string_table[l->key], p->string_table[l->str]};
		}
		return;
	}
	size_t kept = 0;
	for (size_t c = 0; c < info->n_labels; c++) {
		int found = 0;
		for (size_t i = 0; i < s->n_label && !found; i++) {
			const pb_label *l = s->label[i];
			found = l->str > 0 && l->key > 0 &&
				!strcmp(p->string_table[l->key], info->labels[c].key) &&
				!strcmp(p->string_table[l->str], info->labels[c].value);
		}
		if (found)
			info->labels[kept++] = info->labels[c];
	}
	info->n_labels = kept;
}

static int check_labels(struct dec *d, const pb_sample *s, size_t si)
{
	char where[64];
	snprintf(where, sizeof(where), "a label of sample %zu", si);
	for (size_t i = 0; i < s->n_label; i++)
		if (!str_at(d, s->label[i]->key, where) || !str_at(d, s->label[i]->str, where) ||
		    !str_at(d, s->label[i]->num_unit, where))
			return -1;
	return 0;
}

static int add_samples(struct dec *d, size_t which, struct folded_tree *t, int side, struct pprof_info *info)
{
	const pb_profile *p = d->p;
	char where[64];
	for (size_t si = 0; si < p->n_sample; si++) {
		const pb_sample *s = p->sample[si];
		if (s->n_value != p->n_sample_type)
			return errf(d->err, d->errlen,
				    "invalid pprof: sample %zu has %zu values for %zu sample types", si,
				    s->n_value, p->n_sample_type);
		if (check_labels(d, s, si) < 0)
			return -1;
		snprintf(where, sizeof(where), "sample %zu", si);
		buf_reset(&d->stack);
		for (size_t k = s->n_location_id; k-- > 0;) {
			size_t li = 0;
			if (lookup(d, &d->locations, s->location_id[k], "location", where, &li) < 0)
				return -1;
			if ((d->stack.len && buf_putc(&d->stack, ';') < 0) ||
			    buf_append(&d->stack, d->loc_frames[li], d->loc_len[li]) < 0)
				return errf(d->err, d->errlen,
					    "invalid pprof: the stack of sample %zu is over %u bytes", si,
					    STACK_MAX);
		}
		d->stacks_bytes += d->stack.len;
		if (d->stacks_bytes > STACKS_MAX)
			return errf(d->err, d->errlen,
				    "invalid pprof: the samples' stacks add up to more than %u bytes",
				    STACKS_MAX);
		int64_t v = s->value[which];
		if (v < 0)
			return errf(d->err, d->errlen,
				    "invalid pprof: sample %zu has a negative value (%" PRId64 ")", si, v);
		if (!v)
			continue;
		if (info->total > UINT64_MAX - (uint64_t)v)
			return errf(d->err, d->errlen,
				    "invalid pprof: the values add up to more than 64 bits");
		if (!d->stack.len)
			buf_puts(&d->stack, "[unknown]");
		if (folded_tree_add(t, d->stack.data, d->stack.len, side, (uint64_t)v, d->err, d->errlen) <
		    0) {
			char msg[256];
			snprintf(msg, sizeof(msg), "%s", d->err);
			return errf(d->err, d->errlen, "pprof sample %zu: %s", si, msg);
		}
		keep_common_labels(d, s, info, info->samples == 0);
		info->samples++;
		info->total += (uint64_t)v;
	}
	return 0;
}

static int by_key(const void *a, const void *b)
{
	const struct pprof_label *x = a, *y = b;
	return strcmp(x->key, y->key);
}

/* Copy what the caller keeps from the scratch arena into its own. */
static void keep_info(struct pprof_info *info, struct arena *a)
{
	struct pprof_label *labels = arena_alloc(a, (info->n_labels + 1) * sizeof(*labels));
	for (size_t i = 0; i < info->n_labels; i++) {
		char *k = arena_strdup(a, info->labels[i].key), *v = arena_strdup(a, info->labels[i].value);
		frame_name_fix_utf8(k, strlen(k));
		frame_name_fix_utf8(v, strlen(v));
		labels[i] = (struct pprof_label){k, v};
	}
	qsort(labels, info->n_labels, sizeof(*labels), by_key);
	info->labels = labels;
	const char **types = arena_alloc(a, (info->n_types + 1) * sizeof(*types));
	for (size_t i = 0; i < info->n_types; i++) {
		char *t = arena_strdup(a, info->types[i]);
		frame_name_fix_utf8(t, strlen(t));
		types[i] = t;
	}
	info->types = types;
	char *type = arena_strdup(a, info->type), *unit = arena_strdup(a, info->unit);
	frame_name_fix_utf8(type, strlen(type));
	frame_name_fix_utf8(unit, strlen(unit));
	info->type = type;
	info->unit = unit;
}

static int decode_message(struct dec *d, const struct pprof_options *o, struct folded_tree *t, int side,
			  struct pprof_info *info)
{
	const pb_profile *p = d->p;
	size_t which = 0;
	if (!p->n_string_table || (p->string_table[0] && *p->string_table[0]))
		return errf(d->err, d->errlen, "invalid pprof: the string table must start with \"\"");
	if (index_ids(d, &d->functions, "function", p->n_function, function_id) < 0 ||
	    index_ids(d, &d->locations, "location", p->n_location, location_id) < 0 ||
	    index_ids(d, &d->mappings, "mapping", p->n_mapping, mapping_id) < 0)
		return -1;
	for (size_t i = 0; i < p->n_mapping; i++)
		if (!str_at(d, p->mapping[i]->filename, "a mapping's file name") ||
		    !str_at(d, p->mapping[i]->build_id, "a mapping's build id"))
			return -1;
	for (size_t i = 0; i < p->n_comment; i++)
		if (!str_at(d, p->comment[i], "a comment"))
			return -1;
	if (!str_at(d, p->drop_frames, "drop_frames") || !str_at(d, p->keep_frames, "keep_frames"))
		return -1;
	if (choose_type(d, o, info, &which) < 0 || name_functions(d) < 0 || name_locations(d) < 0)
		return -1;
	info->type = d->p->string_table[p->sample_type[which]->type];
	info->unit = d->p->string_table[p->sample_type[which]->unit];
	info->time_ns = p->time_nanos > 0 ? (uint64_t)p->time_nanos : 0;
	info->duration_ns = p->duration_nanos > 0 ? (uint64_t)p->duration_nanos : 0;
	info->period = p->period > 0 ? (uint64_t)p->period : 0;
	return add_samples(d, which, t, side, info);
}

int pprof_decode(const void *data, size_t len, const struct pprof_options *o, struct folded_tree *t, int side,
		 struct arena *a, struct pprof_info *info, char *err, size_t errlen)
{
	size_t max = o->max_input ? o->max_input : DEFAULT_MAX_INPUT;
	struct arena scratch;
	struct buf raw;
	struct dec d = {.err = err, .errlen = errlen};
	int ret = -1;

	memset(info, 0, sizeof(*info));
	arena_init(&scratch);
	buf_init(&raw, max);
	buf_init(&d.name, STACK_MAX);
	buf_init(&d.stack, STACK_MAX);
	strmap_init(&d.functions);
	strmap_init(&d.locations);
	strmap_init(&d.mappings);
	d.scratch = &scratch;
	if (len > max) {
		ret = ERR_TOO_BIG;
		errf(err, errlen, "the profile of %zu bytes is over the limit of %zu bytes", len, max);
		goto out;
	}
	if (pprof_is_gzip(data, len)) {
		char msg[256];
		int rc = gzip_inflate(data, len, &raw, msg, sizeof(msg));
		if (rc == ERR_TOO_BIG) {
			ret = ERR_TOO_BIG;
			errf(err, errlen, "the profile decompresses to more than %zu bytes", max);
			goto out;
		}
		if (rc < 0) {
			errf(err, errlen, "invalid pprof: bad gzip data: %s", msg);
			goto out;
		}
		data = raw.data ? raw.data : "";
		len = raw.len;
	}
	struct unpack u = {.arena = &scratch,
			   .budget = len > (SIZE_MAX - UNPACK_SLACK) / UNPACK_EXPANSION
					     ? SIZE_MAX
					     : len * UNPACK_EXPANSION + UNPACK_SLACK};
	ProtobufCAllocator alloc = {unpack_alloc, unpack_free, &u};
	d.p = perftools__profiles__profile__unpack(&alloc, len, data);
	if (!d.p) {
		if (u.too_big)
			errf(err, errlen,
			     "invalid pprof: the profile expands to more than %d times its %zu bytes",
			     UNPACK_EXPANSION, len);
		else
			errf(err, errlen,
			     "invalid pprof: not a profile.proto message (truncated or corrupt, %zu bytes)",
			     len);
		goto out;
	}
	if (decode_message(&d, o, t, side, info) < 0)
		goto out;
	keep_info(info, a);
	ret = 0;
out:
	if (ret < 0)
		memset(info, 0, sizeof(*info));
	strmap_release(&d.functions);
	strmap_release(&d.locations);
	strmap_release(&d.mappings);
	buf_release(&d.name);
	buf_release(&d.stack);
	buf_release(&raw);
	arena_release(&scratch);
	return ret;
}
