#!/bin/sh
# agent_overhead.sh - what `hotpath agent` costs the host it samples: the
# agent at a 1 s interval for SECONDS samples (default 60), sampling the host
# and one process (a hotpath server it sends to), timed by /usr/bin/time:
# CPU time over wall time as a share of one core, and its peak RSS.
#   bench/agent_overhead.sh BUILD_DIR [SECONDS]
set -eu
build=${1:-build}
secs=${2:-60}
port=${BENCH_AGENT_PORT:-14319}
tmp=$(mktemp -d)
"$build/hotpath" serve --listen 127.0.0.1:$port --data "$tmp/data" 2>"$tmp/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
	sleep 0.1
done
/usr/bin/time -f "%U %S %e %M" -o "$tmp/agent.time" "$build/hotpath" agent --target "http://127.0.0.1:$port" \
	--interval 1s --count "$secs" --pid "$pid" --quiet
awk -v n="$secs" '{
	printf "agent_cpu_share %.2f %% of one core (%d samples at 1 s over %.0f s: host + 1 process)\n", ($1 + $2) / $3 * 100, n, $3
	printf "agent_peak_rss %.1f MB\n", $4 / 1024
}' "$tmp/agent.time"
