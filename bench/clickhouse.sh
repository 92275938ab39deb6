#!/bin/sh
# clickhouse.sh - the ClickHouse store side by side with the embedded one,
# on the same generated data (`make bench` runs it when clickhouse-server is
# installed; figures in docs/PERFORMANCE.md).
#
#   bench/clickhouse.sh BUILD_DIR
#
# A private clickhouse-server (own data directory, configuration and
# loopback ports) is started for the run and stopped after.  hotpath is
# pinned to CPU 0; the load generator and ClickHouse share CPU 1.  For each
# store: ingest (median of RUNS runs of BENCH_SPANS spans from BENCH_CONNS
# connections, 4 by default: spans/s, and spans per CPU-second of hotpath
# and of ClickHouse), then a store of
# BENCH_CH_BIG_SPANS spans over 24 h: trace by id (1000 lookups), and the
# 24 h summary and timeseries (median of 20).  BENCH_CH_BIG_SPANS=0 skips
# the large store; BENCH_STORES=clickhouse skips the embedded one.
set -eu
build=${1:-build}
bin=$build/hotpath
runs=${RUNS:-3}
spans=${BENCH_SPANS:-1000000}
big=${BENCH_CH_BIG_SPANS:-10000000}
conns=${BENCH_CONNS:-4}
port=${BENCH_PORT:-14318}
chport=${BENCH_CH_PORT:-18923}
. "$(dirname "$0")/clickhouse_lib.sh"
ports_free clickhouse.sh $port $chport $((chport + 1))
url=http://127.0.0.1:$port
chbin=${HOTPATH_CLICKHOUSE_SERVER:-/usr/sbin/clickhouse-server}
tmp=$(mktemp -d)
pid="" chpid=""
cleanup() { # every step, whatever the one before did
	set +e
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	clickhouse_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

[ -x "$chbin" ] || { echo "clickhouse: skipped (no $chbin)"; exit 0; }

clickhouse_start "$tmp/ch" "$chport" "$chbin"

start_server() { # store args...
	hotpath_serve 0 "$port" "$tmp/serve.log" "$bin" "$@"
	pid=$last
}

stop_server() {
	kill -TERM "$pid"
	wait "$pid" || true
	pid=""
}

# the median over 20 GETs of a URL, in ms
time_get() {
	for _ in $(seq 20); do
		curl -s -o /dev/null -w '%{time_total}\n' "$1"
	done | awk '{print $1 * 1000}' | median
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "clickhouse: $(curl -s "http://127.0.0.1:$chport/" --data-binary 'SELECT version()')"

for store in ${BENCH_STORES:-embedded clickhouse}; do
	: >"$tmp/rates"; : >"$tmp/hp"; : >"$tmp/chcpu"
	for r in $(seq "$runs"); do
		if [ $store = clickhouse ]; then
			start_server --store "clickhouse://127.0.0.1:$chport/bench_$r"
		else
			start_server --data "$tmp/embedded-$r"
		fi
		h0=$(ticks "$pid") c0=$(ticks "$chpid")
		taskset -c 1 "$build/bench/bench_ingest" --target "$url" --spans "$spans" --conns "$conns" --seed "$r" \
			>"$tmp/out"
		h1=$(ticks "$pid") c1=$(ticks "$chpid")
		stop_server
		sent=$(field spans_sent "$tmp/out")
		field spans_per_second "$tmp/out" >>"$tmp/rates"
		per_cpu "$sent" $((h1 - h0)) >>"$tmp/hp"
		per_cpu "$sent" $((c1 - c0)) >>"$tmp/chcpu"
		rm -rf "$tmp/embedded-$r"
	done
	echo "${store}_ingest_spans_per_second $(median <"$tmp/rates") spans/s (median of $runs, $spans spans a run, $conns connections, hotpath on 1 core)"
	echo "${store}_ingest_spans_per_hotpath_cpu_second $(median <"$tmp/hp") spans/s"
	[ $store = clickhouse ] &&
		echo "${store}_ingest_spans_per_clickhouse_cpu_second $(median <"$tmp/chcpu") spans/s"

	# a large store over 24 h, sent in time order
	[ "$big" -gt 0 ] || continue
	if [ $store = clickhouse ]; then
		set -- --store "clickhouse://127.0.0.1:$chport/bench_big"
	else
		set -- --data "$tmp/embedded-big"
	fi
	start_server "$@"
	per=1000000
	[ "$big" -lt $per ] && per=$big
	rounds=$((big / per))
	for r in $(seq "$rounds"); do
		lk=0
		[ "$r" = "$rounds" ] && lk=1000
		taskset -c 1 "$build/bench/bench_ingest" --target "$url" --spans $per --seed $((100 + r)) \
			--hours 24 --ordered --lookups $lk >"$tmp/big.out"
	done
	echo "${store}_trace_by_id_median $(field trace_by_id_median "$tmp/big.out") ms ($((rounds * per)) spans over 24 h, 1000 lookups)"
	echo "${store}_trace_by_id_p99 $(field trace_by_id_p99 "$tmp/big.out") ms"
	echo "${store}_summary_24h_median $(time_get "$url/api/v1/performance/summary?range=24h") ms (20 GETs)"
	echo "${store}_timeseries_24h_median $(time_get "$url/api/v1/performance/timeseries?range=24h&step=3600") ms (20 GETs)"
	stop_server
	rm -rf "$tmp/embedded-big"
done
