#!/bin/sh
# clickhouse_pair.sh - two hotpath instances on one ClickHouse database
# against one, under the same load (run by bench/clickhouse.sh; figures in
# docs/PERFORMANCE.md).
#
#   bench/clickhouse_pair.sh BUILD_DIR
#
# A private clickhouse-server (bench/clickhouse_lib.sh) is started for the
# run and stopped after.  Each round sends BENCH_PAIR_SPANS spans from
# BENCH_CONNS connections (one bench_ingest: one clock) either all to one
# `serve`, or split between two `serve` on the same database (connection i
# to instance i mod 2), the two cases in turn and in alternating order,
# each on a fresh database.  Nothing is pinned: the instances, ClickHouse
# and the load generator share the machine's cores as the kernel places
# them.  Prints the median spans/s of each case, their ratio, and spans
# per CPU-second of the hotpath instances (together) and of ClickHouse.
set -eu
build=${1:-build}
bin=$build/hotpath
runs=${RUNS:-3}
spans=${BENCH_PAIR_SPANS:-${BENCH_SPANS:-1000000}}
conns=${BENCH_CONNS:-16}
port=${BENCH_PORT:-14318}
chport=${BENCH_CH_PORT:-18923}
. "$(dirname "$0")/clickhouse_lib.sh"
ports_free clickhouse_pair.sh $port $((port + 1)) $chport $((chport + 1))
chbin=${HOTPATH_CLICKHOUSE_SERVER:-/usr/sbin/clickhouse-server}
[ -x "$chbin" ] || { echo "clickhouse pair: skipped (no $chbin)"; exit 0; }
tmp=$(mktemp -d)
pid_a="" pid_b="" chpid=""
cleanup() {
	set +e
	for p in $pid_a $pid_b; do kill -9 "$p" 2>/dev/null; done
	clickhouse_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

clickhouse_start "$tmp/ch" "$chport" "$chbin"

# serve PORT DB: start an instance, wait until it answers; its pid in $last
serve() {
	hotpath_serve "" "$1" "$tmp/serve.log" "$bin" --store "clickhouse://127.0.0.1:$chport/$2"
}

stop() {
	for p in "$@"; do kill -TERM "$p"; done
	for p in "$@"; do wait "$p" || true; done
}

# one_case NAME ROUND: one round of a case, its figures appended to $tmp/NAME.*
one_case() {
	db=${1}_$2
	serve "$port" "$db"
	pid_a=$last
	also=""
	if [ "$1" = two ]; then
		serve $((port + 1)) "$db"
		pid_b=$last
		also="--also http://127.0.0.1:$((port + 1))"
	fi
	h0=$(ticks "$pid_a") c0=$(ticks "$chpid")
	[ -n "$pid_b" ] && h0=$((h0 + $(ticks "$pid_b")))
	# shellcheck disable=SC2086 # $also is two words or none
	"$build/bench/bench_ingest" --target "http://127.0.0.1:$port" $also --spans "$spans" \
		--conns "$conns" --seed "$2" >"$tmp/out"
	h1=$(ticks "$pid_a") c1=$(ticks "$chpid")
	[ -n "$pid_b" ] && h1=$((h1 + $(ticks "$pid_b")))
	stop $pid_a $pid_b
	pid_a="" pid_b=""
	sent=$(field spans_sent "$tmp/out")
	field spans_per_second "$tmp/out" >>"$tmp/$1.rate"
	per_cpu "$sent" $((h1 - h0)) >>"$tmp/$1.hp"
	per_cpu "$sent" $((c1 - c0)) >>"$tmp/$1.ch"
	echo "pair_round $2 $1 $(field spans_per_second "$tmp/out") spans/s (load average $(cut -d' ' -f1 /proc/loadavg))"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$runs"); do
	if [ $((r % 2)) = 1 ]; then
		one_case one "$r"
		one_case two "$r"
	else
		one_case two "$r"
		one_case one "$r"
	fi
done
one=$(median <"$tmp/one.rate") two=$(median <"$tmp/two.rate")
echo "pair_one_instance_spans_per_second $one spans/s (median of $runs, $spans spans, $conns connections)"
echo "pair_two_instances_spans_per_second $two spans/s (the same load split between two instances)"
echo "pair_ratio $(awk -v a="$two" -v b="$one" 'BEGIN {printf "%.2f", a / b}') x"
for c in one two; do
	echo "pair_${c}_spans_per_hotpath_cpu_second $(median <"$tmp/$c.hp") spans/s (all instances' CPU)"
	echo "pair_${c}_spans_per_clickhouse_cpu_second $(median <"$tmp/$c.ch") spans/s"
done
