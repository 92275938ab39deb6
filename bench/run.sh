#!/bin/sh
# run.sh - hotpath's benchmarks (`make bench`).  Figures and how to read them
# are recorded in docs/PERFORMANCE.md.
#
#   bench/run.sh BUILD_DIR
#
# The ingest server is pinned to CPU 0 and the load generator to CPU 1, so
# "one core" means one core for the whole server (HTTP, decode, store).
# Each figure is the median of RUNS runs (default 3).  BENCH_SPANS scales
# the ingest runs (default 1,000,000 spans a run) and BENCH_BIG_SPANS the
# trace-by-id store (default 10,000,000 spans).
set -eu
build=${1:-build}
bin=$build/hotpath
runs=${RUNS:-3}
spans=${BENCH_SPANS:-1000000}
big=${BENCH_BIG_SPANS:-10000000}
port=${BENCH_PORT:-14318}
url=http://127.0.0.1:$port
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT

start_server() { # data dir [cpus]
	taskset -c "${2:-0}" "$bin" serve --listen 127.0.0.1:$port --data "$1" --threads 2 2>>"$1.log" &
	pid=$!
	for _ in $(seq 100); do
		curl -fs "$url/health" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "server did not start:" >&2
	cat "$1.log" >&2
	exit 1
}

stop_server() {
	kill -TERM "$pid"
	wait "$pid" || true
	pid=""
}

cpu_ticks() { awk '{print $14 + $15}' /proc/$pid/stat; }
hz=$(getconf CLK_TCK)

peak_rss_mb() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' /proc/$pid/status; }

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"

for format in pb json; do
	n=$spans
	[ $format = json ] && n=$((spans / 2))
	: >"$tmp/$format.rates"; : >"$tmp/$format.mbs"; : >"$tmp/$format.rss"; : >"$tmp/$format.disk"
	: >"$tmp/$format.cpu"
	for r in $(seq "$runs"); do
		d="$tmp/$format-$r"
		start_server "$d"
		t0=$(cpu_ticks)
		taskset -c 1 "$build/bench/bench_ingest" --target "$url" --format $format --spans $n \
			--seed "$r" >"$d.out"
		t1=$(cpu_ticks)
		# spans per second of server CPU time: robust against a noisy machine
		awk -v s="$(field spans_sent "$d.out")" -v t=$((t1 - t0)) -v hz="$hz" \
			'BEGIN {printf "%.0f\n", s / (t / hz)}' >>"$tmp/$format.cpu"
		peak_rss_mb >>"$tmp/$format.rss"
		echo >>"$tmp/$format.rss"
		stop_server
		field spans_per_second "$d.out" >>"$tmp/$format.rates"
		field megabytes_per_second "$d.out" >>"$tmp/$format.mbs"
		sent=$(field spans_sent "$d.out")
		db=$(stat -c %s "$d/hotpath.db")
		awk -v b="$db" -v s="$sent" 'BEGIN {printf "%.1f\n", b / s}' >>"$tmp/$format.disk"
		wire=$(field payload_bytes_per_span "$d.out")
		rm -rf "$d"
	done
	echo "ingest_${format}_spans_per_second $(median <"$tmp/$format.rates") spans/s (median of $runs, $n spans a run, server on 1 core)"
	echo "ingest_${format}_spans_per_cpu_second $(median <"$tmp/$format.cpu") spans/s (spans / server CPU time)"
	echo "ingest_${format}_megabytes_per_second $(median <"$tmp/$format.mbs") MB/s"
	echo "ingest_${format}_peak_rss $(median <"$tmp/$format.rss") MB"
	echo "ingest_${format}_disk_bytes_per_span $(median <"$tmp/$format.disk") bytes (wire: $wire bytes/span)"
done

# Trace by id on a large store: each round sends a day of traffic in time
# order, as live exporters do, so every stored block covers a short time.
d="$tmp/big"
start_server "$d"
per=1000000
[ "$big" -lt $per ] && per=$big
rounds=$((big / per))
for r in $(seq "$rounds"); do
	lk=0
	[ "$r" = "$rounds" ] && lk=1000
	taskset -c 1 "$build/bench/bench_ingest" --target "$url" --spans $per --seed $((100 + r)) \
		--hours 24 --ordered --lookups $lk >"$d.out"
done
echo "trace_by_id_median $(field trace_by_id_median "$d.out") ms (store of $((rounds * per)) spans over 24 h, 1000 lookups)"
echo "trace_by_id_p99 $(field trace_by_id_p99 "$d.out") ms"
# Queries over the same store, the server now on both cores (the
# aggregated flame graph and the detectors scan with two threads):
# rollups against exact quantiles, the flame graph, the detectors.
stop_server
start_server "$d" 0,1
taskset -c 1 "$build/bench/bench_query" --target "$url" --db "$d/hotpath.db" --hours 24
stop_server

# Alert evaluation over the same store (the server stopped): one cycle of
# 1,000 rules and 100 SLOs.
"$build/bench/bench_watch" --data "$d"
bench/agent_overhead.sh "$build"
# The ClickHouse store side by side with the embedded one (when installed).
"$(dirname "$0")/clickhouse.sh" "$build"
# Two instances on one ClickHouse against one, under the same load.
"$(dirname "$0")/clickhouse_pair.sh" "$build"

# Every other benchmark program prints its own `name value unit` lines.
for b in "$build"/bench/*; do
	case "$(basename "$b")" in bench_ingest | bench_query | bench_watch) continue ;; esac
	[ -x "$b" ] && "$b"
done
