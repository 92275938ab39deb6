/* clickhouse_store.c - the ClickHouse backend's table of functions
 * (store/backend.h).  Profiles are not kept there yet: those calls answer
 * ERR_UNSUPPORTED. */
#include "store/clickhouse_store.h"

const struct store_backend clickhouse_backend = {
	.name = "clickhouse",
	.open = ch_open,
	.close = ch_close,
	.submit = ch_submit,
	.wait_space = ch_wait_space,
	.get_stats = ch_get_stats,
	.unreachable = ch_unreachable,
	.lease_held = ch_lease_background,
	.block_id_step = CH_SLOTS,
	.get_trace = ch_get_trace,
	.latest_versions = ch_latest_versions,
	.search = ch_search,
	.count = ch_count,
	.newest_requests = ch_newest_requests,
	.filter_values = ch_filter_values,
	.rollups = ch_rollups,
	.scan = ch_scan,
	.scan_spans = ch_scan_spans,
	.blocks_info = ch_blocks_info,
	.last_block = ch_last_block,
	.scan_points = ch_scan_points,
	.scan_series_points = ch_scan_series_points,
	.scan_series_hours = ch_scan_series_hours,
	.metric_series = ch_metric_series,
	.put_doc = ch_put_doc,
	.add_event = ch_add_event,
	.docs = ch_docs,
	.events = ch_events,
};
