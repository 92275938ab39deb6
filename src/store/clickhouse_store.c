/* clickhouse_store.c - the ClickHouse backend (placeholder). */
#include "core/log.h"
#include "store/backend.h"

static int ch_open(struct store **out, const struct store_options *o, char *err, size_t errlen)
{
	(void)out;
	errf(err, errlen, "store %s: the ClickHouse backend is not built yet", o->url);
	return ERR_UNSUPPORTED;
}

const struct store_backend clickhouse_backend = {.name = "clickhouse", .open = ch_open};
