/*
 * fuzz_clickhouse_rowbinary.c - the RowBinary reader of the ClickHouse
 * backend (store/clickhouse_http.h) on arbitrary bytes, as answers from a
 * server are untrusted.  The first byte chooses the row's column types, the
 * rest is read as rows of them until a row is not complete.  A read must
 * never pass the end, a string must lie inside the data, and a row read
 * whole must move the position forward.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "store/clickhouse_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t shape = data[0];
	struct rb r = {data + 1, data + size, 0};
	struct arena a;
	arena_init(&a);
	while (r.p < r.end) {
		const uint8_t *start = r.p;
		for (int col = 0; col < 4 && !r.short_read; col++) {
			switch ((shape >> (2 * col)) & 3) {
			case 0: (void)rb_u8(&r); break;
			case 1: (void)rb_u64(&r); break;
			case 2: {
				size_t n;
				const char *s = rb_str(&r, &n);
				if (!r.short_read &&
				    ((const uint8_t *)s < data || (const uint8_t *)s + n > data + size))
					abort();
				break;
			}
			default: (void)rb_strdup(&r, &a, col & 1); break;
			}
		}
		if (r.p > r.end)
			abort();
		if (r.short_read)
			break;
		if (r.p == start) /* a whole row reads at least four bytes */
			abort();
	}
	arena_release(&a);
	return 0;
}
