/*
 * fuzz_pprof.c - libFuzzer target for the pprof decoder (gzip-compressed or
 * raw profile.proto) and Pyroscope's application-name parser.
 *
 * The first byte picks what to exercise: bit 7 set parses the rest as an
 * application name; otherwise the rest is a profile, read with the sample
 * type chosen by default (bits 0-1 == 0), asked for by name ("cpu"), or
 * hinted ("alloc_space"), with a small input limit when bit 2 is set.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "profile/folded.h"
#include "profile/pprof.h"
#include "profile/upload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int append(void *ctx, const char *d, size_t n)
{
	return buf_append(ctx, d, n);
}

static void fuzz_name(const uint8_t *data, size_t size)
{
	struct arena a;
	struct upload_name n;
	char err[256];
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = 0;
	arena_init(&a);
	if (upload_parse_name(s, &a, &n, err, sizeof(err)) == 0 && (!n.app || !*n.app))
		abort();
	arena_release(&a);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned sel = data[0];
	if (sel & 0x80) {
		fuzz_name(data + 1, size - 1);
		return 0;
	}
	struct folded_limits lim = {
		.max_line = 4096, .max_depth = 256, .max_nodes = 20000, .max_bytes = 1 << 20};
	struct pprof_options o = {.max_input = sel & 4 ? 4096 : 0};
	struct folded_tree t;
	struct pprof_info info;
	struct arena a;
	char err[512];
	if ((sel & 3) == 1)
		o.sample_type = "cpu";
	else if ((sel & 3) == 2)
		o.type_hint = "alloc_space";
	arena_init(&a);
	folded_tree_init(&t, &lim);
	int r = pprof_decode(data + 1, size - 1, &o, &t, 0, &a, &info, err, sizeof(err));
	if (r == 0 && folded_tree_finish(&t, err, sizeof(err)) == 0) {
		struct buf out;
		buf_init(&out, BUF_NO_LIMIT);
		folded_tree_write(&t, 0, append, &out);
		if (t.nodes[0].total[0] != info.total)
			abort();
		buf_release(&out);
	}
	folded_tree_release(&t);
	arena_release(&a);
	return 0;
}
