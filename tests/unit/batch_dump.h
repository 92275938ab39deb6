/*
 * batch_dump.h - a decoded batch as stable text, and golden-file runs.
 *
 * The golden tests of the ingest decoders (tests/golden/<format>/NAME.<ext>
 * with NAME.expected beside it) decode each input, dump the batch with
 * batch_dump() and compare with the expected text.  Set HOTPATH_UPDATE_GOLDEN=1
 * to (re)write the .expected files instead; review the diff before
 * committing them.
 */
#ifndef HOTPATH_TESTS_BATCH_DUMP_H
#define HOTPATH_TESTS_BATCH_DUMP_H

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hex.h"
#include "ingest/batch.h"
#include "tap.h"

/* Random ids are shown as #1, #2, ... in order of first appearance. */
#define DUMP_LABEL_SPAN_IDS  1
#define DUMP_LABEL_TRACE_IDS 2

struct dump_labels {
	uint8_t ids[512][16];
	size_t lens[512];
	int n;
};

static void dump_id(struct buf *o, struct dump_labels *l, int label, const uint8_t *id, size_t n)
{
	if (hex_is_zero(id, n)) {
		buf_puts(o, "-");
		return;
	}
	if (!label) {
		buf_put_hex(o, id, n);
		return;
	}
	for (int i = 0; i < l->n; i++)
		if (l->lens[i] == n && memcmp(l->ids[i], id, n) == 0) {
			buf_printf(o, "#%d", i + 1);
			return;
		}
	if (l->n < 512) {
		memcpy(l->ids[l->n], id, n);
		l->lens[l->n] = n;
		l->n++;
	}
	buf_printf(o, "#%d", l->n);
}

static void dump_str(struct buf *o, const char *s)
{
	if (s)
		buf_put_json_str(o, s);
	else
		buf_puts(o, "null");
}

static void dump_attrs(struct buf *o, const char *indent, const struct attr *a, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		buf_printf(o, "%sattr ", indent);
		dump_str(o, a[i].key);
		switch (a[i].type) {
		case ATTR_STRING:
			buf_puts(o, " string ");
			dump_str(o, a[i].v.s);
			break;
		case ATTR_BOOL: buf_printf(o, " bool %s", a[i].v.i ? "true" : "false"); break;
		case ATTR_INT: buf_printf(o, " int %" PRId64, a[i].v.i); break;
		case ATTR_DOUBLE: buf_printf(o, " double %.17g", a[i].v.d); break;
		case ATTR_JSON: buf_printf(o, " json %s", a[i].v.s); break;
		default: buf_printf(o, " type %u?", a[i].type);
		}
		buf_putc(o, '\n');
	}
}

static void dump_resource(struct buf *o, const struct resource *r)
{
	if (!r) {
		buf_puts(o, "  resource null\n");
		return;
	}
	buf_puts(o, "  resource service=");
	dump_str(o, r->service_name);
	buf_puts(o, " version=");
	dump_str(o, r->service_version);
	buf_puts(o, " env=");
	dump_str(o, r->environment);
	buf_puts(o, " namespace=");
	dump_str(o, r->service_namespace);
	buf_puts(o, " department=");
	dump_str(o, r->department);
	buf_puts(o, " intent=");
	dump_str(o, r->intent);
	buf_putc(o, '\n');
	dump_attrs(o, "    ", r->attrs, r->n_attrs);
}

static void batch_dump(struct buf *o, const struct batch *b, int flags)
{
	struct dump_labels *l = calloc(1, sizeof(*l));
	for (size_t i = 0; i < b->n_spans; i++) {
		const struct span *s = &b->spans[i];
		buf_puts(o, "span ");
		dump_str(o, s->name);
		buf_puts(o, " trace=");
		dump_id(o, l, flags & DUMP_LABEL_TRACE_IDS, s->trace_id, 16);
		buf_puts(o, " span=");
		dump_id(o, l, flags & DUMP_LABEL_SPAN_IDS, s->span_id, 8);
		buf_puts(o, " parent=");
		dump_id(o, l, flags & DUMP_LABEL_SPAN_IDS, s->parent_span_id, 8);
		buf_printf(o, "\n  kind=%u status=%u message=", s->kind, s->status);
		dump_str(o, s->status_message);
		buf_printf(o, " start=%" PRIu64 " end=%" PRIu64 " scope=", s->start_ns, s->end_ns);
		dump_str(o, s->scope_name);
		buf_putc(o, '/');
		dump_str(o, s->scope_version);
		buf_putc(o, '\n');
		dump_resource(o, s->resource);
		dump_attrs(o, "  ", s->attrs, s->n_attrs);
		for (uint32_t e = 0; e < s->n_events; e++) {
			buf_printf(o, "  event time=%" PRIu64 " name=", s->events[e].time_ns);
			dump_str(o, s->events[e].name);
			buf_putc(o, '\n');
			dump_attrs(o, "    ", s->events[e].attrs, s->events[e].n_attrs);
		}
		for (uint32_t k = 0; k < s->n_links; k++) {
			buf_puts(o, "  link trace=");
			dump_id(o, l, flags & DUMP_LABEL_TRACE_IDS, s->links[k].trace_id, 16);
			buf_puts(o, " span=");
			dump_id(o, l, flags & DUMP_LABEL_SPAN_IDS, s->links[k].span_id, 8);
			buf_putc(o, '\n');
			dump_attrs(o, "    ", s->links[k].attrs, s->links[k].n_attrs);
		}
	}
	for (size_t i = 0; i < b->n_points; i++) {
		static const char *const types[] = {"?", "gauge", "sum", "histogram"};
		const struct metric_point *p = &b->points[i];
		buf_printf(o, "point %s ", types[p->type <= 3 ? p->type : 0]);
		dump_str(o, p->name);
		buf_puts(o, " unit=");
		dump_str(o, p->unit);
		buf_printf(o, " start=%" PRIu64 " time=%" PRIu64, p->start_ns, p->time_ns);
		if (p->type == METRIC_HISTOGRAM) {
			buf_printf(o, " count=%" PRIu64 " sum=%.17g bounds=[", p->count, p->sum);
			for (uint32_t k = 0; k < p->n_bounds; k++)
				buf_printf(o, "%s%.17g", k ? "," : "", p->bounds[k]);
			buf_puts(o, "] counts=[");
			for (uint32_t k = 0; k <= p->n_bounds; k++)
				buf_printf(o, "%s%" PRIu64, k ? "," : "", p->bucket_counts[k]);
			buf_putc(o, ']');
		} else {
			buf_printf(o, " value=%.17g", p->value);
		}
		buf_putc(o, '\n');
		dump_resource(o, p->resource);
		dump_attrs(o, "  ", p->attrs, p->n_attrs);
	}
	if (b->rejected) {
		buf_printf(o, "rejected %" PRIu64 " ", b->rejected);
		dump_str(o, b->reject_msg);
		buf_putc(o, '\n');
	}
	free(l);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[65536];
	size_t n;
	if (!f)
		return NULL;
	buf_init(&b, BUF_NO_LIMIT);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	return buf_detach(&b, len);
}

static int write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(data, 1, len, f);
	return fclose(f) == 0 && n == len ? 0 : -1;
}

/* Report the first line where `got` and `want` differ. */
static void golden_diff(const char *got, const char *want)
{
	int line = 1;
	while (*got && *got == *want) {
		if (*got == '\n')
			line++;
		got++;
		want++;
	}
	const char *ge = strchr(got, '\n'), *we = strchr(want, '\n');
	printf("#   first difference at line %d\n#   got:  %.*s\n#   want: %.*s\n", line,
	       (int)(ge ? ge - got : (long)strlen(got)), got, (int)(we ? we - want : (long)strlen(want)),
	       want);
}

static int golden_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * For every file in `dir` ending in one of `exts` (NULL-terminated), call
 * `run(name, data, len, out)` to produce the dump and compare it with the
 * .expected file beside the input.
 */
static void golden_run(const char *dir, const char *const *exts,
		       void (*run)(const char *name, const char *data, size_t len, struct buf *out))
{
	DIR *dh = opendir(dir);
	struct dirent *de;
	char *names[512];
	int n = 0, update = getenv("HOTPATH_UPDATE_GOLDEN") != NULL;
	if (!ok(dh != NULL, "golden directory %s exists (run from the repository root)", dir))
		return;
	while ((de = readdir(dh)) && n < 512) {
		size_t len = strlen(de->d_name);
		for (const char *const *e = exts; *e; e++) {
			size_t el = strlen(*e);
			if (len > el && strcmp(de->d_name + len - el, *e) == 0)
				names[n++] = strdup(de->d_name);
		}
	}
	closedir(dh);
	qsort(names, (size_t)n, sizeof(*names), golden_name_cmp);
	ok(n > 0, "%s has %d golden inputs", dir, n);
	for (int i = 0; i < n; i++) {
		char path[1024], exp_path[1024];
		size_t len, exp_len;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		snprintf(exp_path, sizeof(exp_path), "%.*s.expected", (int)(strrchr(path, '.') - path), path);
		char *data = read_file(path, &len);
		struct buf out;
		buf_init(&out, BUF_NO_LIMIT);
		run(names[i], data, len, &out);
		if (update) {
			ok(write_file(exp_path, out.data ? out.data : "", out.len) == 0, "wrote %s",
			   exp_path);
		} else {
			char *want = read_file(exp_path, &exp_len);
			const char *got = out.data ? out.data : "";
			if (!ok(want && strcmp(got, want) == 0, "golden %s", names[i])) {
				if (want)
					golden_diff(got, want);
				else
					printf("#   %s is missing\n", exp_path);
			}
			free(want);
		}
		buf_release(&out);
		free(data);
		free(names[i]);
	}
}

#endif
