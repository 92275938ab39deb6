/*
 * fuzz_folded.c - libFuzzer target for the folded-stack parser and the
 * renderers that read its tree (SVG flame graph, speedscope, folded).
 *
 * The first byte picks parser flags and drawing options; the rest is split
 * at the first NUL into profile A and, if present, profile B.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "profile/folded.h"
#include "render/flamegraph_svg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int append(void *ctx, const char *d, size_t n)
{
	return buf_append(ctx, d, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned sel = data[0];
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	const char *nul = memchr(in, 0, n);
	size_t na = nul ? (size_t)(nul - in) : n;
	struct folded_limits lim = {
		.max_line = 4096, .max_depth = 256, .max_nodes = 20000, .max_bytes = 1 << 20};
	struct folded_tree t;
	char err[256];
	unsigned flags = (sel & 1 ? FOLDED_REVERSE : 0) | (sel & 2 ? FOLDED_ONE_COUNT : 0);

	folded_tree_init(&t, &lim);
	int r = folded_parse_buffer(&t, in, na, flags, 0, err, sizeof(err));
	if (!r && nul)
		r = folded_parse_buffer(&t, nul + 1, n - na - 1, flags, 1, err, sizeof(err));
	if (!r)
		r = folded_tree_finish(&t, err, sizeof(err));
	if (!r) {
		struct flame_opts o;
		struct buf out;
		flame_opts_init(&o);
		o.inverted = sel >> 2 & 1;
		o.diff_inclusive = sel >> 3 & 1;
		o.diff_raw = sel >> 4 & 1;
		o.minwidth = sel >> 5 & 1 ? 0 : 0.1;
		o.palette = (enum flame_palette)((sel >> 5) % (FLAME_ORANGE + 1));
		buf_init(&out, BUF_NO_LIMIT);
		if (flamegraph_svg(&t, &o, append, &out, err, sizeof(err)) == 0 &&
		    (!out.data || !strstr(out.data, "</svg>")))
			abort();
		buf_reset(&out);
		flamegraph_speedscope(&t, "fuzz", "bytes", append, &out, err, sizeof(err));
		buf_reset(&out);
		folded_tree_write(&t, sel & 0x80 ? FOLDED_WRITE_TWO | FOLDED_WRITE_NORMALIZE : 0, append,
				  &out);
		buf_release(&out);
	}
	folded_tree_release(&t);
	return 0;
}
