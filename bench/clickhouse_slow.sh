#!/bin/sh
# clickhouse_slow.sh - GET /api/v1/slow-requests on the ClickHouse store,
# two builds side by side on the same data: BASE (a build without the
# slow_requests table: its answer reads the request rows) and BUILD.
#
#   bench/clickhouse_slow.sh BUILD_DIR BASE_BINARY
#
# A private clickhouse-server (own data directory, configuration, loopback
# ports; on CPU 1).  BASE_BINARY (on CPU 0) takes BENCH_SPANS spans
# (default 1M) over 24 h from bench_ingest in time order; its database is
# then copied table by table, and BUILD opens the copy (migrating it: the
# time it takes is printed).  Both servers run at once and the GETs
# alternate between them over the last hour and the last 24 h of the
# stored data (limit=100, group_by=endpoint): ROUNDS rounds (default 3)
# of 10 GETs each, each round's median in ms; then the two answers'
# `matched` and durations, which must agree.
set -eu
build=${1:-build}
base=${2:?the base build\'s hotpath binary}
new=$build/hotpath
spans=${BENCH_SPANS:-1000000}
rounds=${ROUNDS:-3}
port=${BENCH_PORT:-14338}
chport=${BENCH_CH_PORT:-18943}
chbin=${HOTPATH_CLICKHOUSE_SERVER:-/usr/sbin/clickhouse-server}
[ -x "$chbin" ] || { echo "clickhouse_slow: skipped (no $chbin)"; exit 0; }
. "$(dirname "$0")/clickhouse_lib.sh"
tmp=$(mktemp -d)
pids="" chpid=""
cleanup() {
	set +e
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	clickhouse_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

clickhouse_start "$tmp/ch" "$chport" "$chbin"

start_server() { # binary port db
	hotpath_serve 0 "$2" "$tmp/serve-$3.log" "$1" --store "clickhouse://127.0.0.1:$chport/$3"
	pids="$pids $last"
}

ms() { curl -s -o /dev/null -w '%{time_total}\n' "$1" | awk '{print $1 * 1000}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "clickhouse: $(curl -s "http://127.0.0.1:$chport/" --data-binary 'SELECT version()')"

start_server "$base" "$port" base
taskset -c 1 "$build/bench/bench_ingest" --target "http://127.0.0.1:$port" --spans "$spans" --seed 7 \
	--hours 24 --ordered >"$tmp/ingest.out"
q() { curl -s "http://127.0.0.1:$chport/" --data-binary "$1"; }
q 'CREATE DATABASE new'
# every table but the leases' rows: base's instance writes only to base,
# and its writer lease copied would hold the copy's slow-request list at
# the floor it had last published until that lease expired
for t in $(q "SELECT name FROM system.tables WHERE database = 'base'"); do
	q "CREATE TABLE new.$t AS base.$t"
	[ "$t" = leases ] || q "INSERT INTO new.$t SELECT * FROM base.$t"
done
t0=$(date +%s%N)
start_server "$new" $((port + 1)) new
echo "BUILD opened the copy (schema $(q 'SELECT max(version) FROM new.hotpath_schema')) in $((($(date +%s%N) - t0) / 1000000)) ms"
sleep 12 # the background job fills the list of slow requests (every 5 s)
echo "spans: $(q 'SELECT sum(n_spans) FROM base.blocks'); requests: $(q 'SELECT count() FROM base.requests')," \
	"of 1 s or more: $(q 'SELECT count() FROM new.slow_requests')"
to=$(($(q 'SELECT max(start_ns) FROM base.requests') / 1000000 + 1))
for range in 1h 24h; do
	span=3600000
	[ $range = 24h ] && span=86400000
	path="/api/v1/slow-requests?from=$((to - span))&to=$to&limit=100&group_by=endpoint"
	for r in $(seq "$rounds"); do
		: >"$tmp/base" && : >"$tmp/new"
		for _ in $(seq 10); do
			ms "http://127.0.0.1:$port$path" >>"$tmp/base"
			ms "http://127.0.0.1:$((port + 1))$path" >>"$tmp/new"
		done
		echo "slow_requests_${range} round $r: base $(median <"$tmp/base") ms, new $(median <"$tmp/new") ms (median of 10), load average $(cut -d' ' -f1 /proc/loadavg)"
	done
	for p in "$port" $((port + 1)); do
		curl -s "http://127.0.0.1:$p$path" >"$tmp/answer-$p"
	done
	if cmp -s "$tmp/answer-$port" "$tmp/answer-$((port + 1))"; then same=identical; else same=DIFFERENT; fi
	echo "slow_requests_${range}: the two answers are $same ($(grep -o '"matched":[0-9]*' "$tmp/answer-$port"))"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
