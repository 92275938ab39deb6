#!/bin/sh
# clickhouse_reads.sh - the read-side figures of servers already running
# on loaded stores, side by side: GETs alternate between the servers so
# that the machine's load weighs on each alike.
#
#   bench/clickhouse_reads.sh CH_URL DB NAME=URL [NAME=URL ...]
#
# CH_URL/DB: a ClickHouse database of the data (the traces looked up are
# taken from its request rows: LOOKUPS of them, default 1000, the same for
# every server).  For each round (ROUNDS, default 3) and each server: the
# median of GETS (default 20) GETs of the 24 h summary and timeseries (step 1 h), without
# filters and with the service= and env= filters the dashboard sends
# (SERVICE, ENV: defaults from the data), then the median and p99 of the
# trace lookups.  Times in ms, from curl's time_total.
set -eu
ch=${1:?ClickHouse HTTP URL}
db=${2:?database}
shift 2
rounds=${ROUNDS:-3}
lookups=${LOOKUPS:-1000}
gets=${GETS:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/clickhouse_lib.sh"

q() { curl -fsS "$ch/?database=$db" --data-binary "$1"; }
p99() { sort -n | awk '{v[NR] = $1} END {i = int(NR * 0.99); if (i < 1) i = 1; print v[i]}'; }
# the median of $gets GETs of a URL, in ms
time_get() {
	for _ in $(seq "$gets"); do
		curl -s -o /dev/null -w '%{time_total}\n' "$1"
	done | awk '{print $1 * 1000}' | median
}

service=${SERVICE:-$(q "SELECT service FROM requests WHERE edge = 1 GROUP BY service ORDER BY count() DESC LIMIT 1")}
env=${ENV:-$(q "SELECT env FROM requests WHERE edge = 1 GROUP BY env ORDER BY count() DESC LIMIT 1")}
# trace ids: 16 bytes, the two signed 64-bit halves big-endian
q "SELECT trace_hi, trace_lo FROM requests GROUP BY trace_hi, trace_lo ORDER BY cityHash64(trace_hi, trace_lo)
	LIMIT $lookups FORMAT TSV" |
	while read -r hi lo; do printf '%016x%016x\n' "$hi" "$lo"; done >"$tmp/ids"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "data: $(q 'SELECT sum(n_spans) FROM blocks') spans, $(q 'SELECT count() FROM requests') request rows;" \
	"filters service=$service env=$env; $(wc -l <"$tmp/ids") trace ids"
for r in $(seq "$rounds"); do
	for s in "$@"; do
		name=${s%%=*} url=${s#*=}
		for f in "" "&service=$service" "&env=$env"; do
			sm=$(time_get "$url/api/v1/performance/summary?range=24h$f")
			tm=$(time_get "$url/api/v1/performance/timeseries?range=24h&step=3600$f")
			echo "round $r $name summary_24h${f:+ $f} $sm ms, timeseries_24h $tm ms (median of $gets)"
		done
		# one curl for all the lookups (one connection, kept alive)
		awk -v u="$url/api/v1/traces/" '{printf "url = \"%s%s\"\noutput = \"/dev/null\"\n", u, $1}' \
			"$tmp/ids" >"$tmp/cfg"
		curl -s -w '%{http_code} %{time_total}\n' -K "$tmp/cfg" >"$tmp/t"
		miss=$(awk '$1 != 200' "$tmp/t" | wc -l)
		echo "round $r $name trace_by_id median $(awk '{print $2 * 1000}' "$tmp/t" | median) ms," \
			"p99 $(awk '{print $2 * 1000}' "$tmp/t" | p99) ms ($(wc -l <"$tmp/t") lookups, $miss not 200)," \
			"load average $(cut -d' ' -f1 /proc/loadavg)"
	done
done
