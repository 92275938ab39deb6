#!/bin/sh
# ab_analysis.sh - what the background pattern analysis costs ingest: the
# same server with the analysis off and with it every SECONDS (default 5,
# 60x more often than the default of 300), runs alternating, the server on
# core 0 and the load on core 1.  The store holds HOURS (default 6) of
# history first, so each analysis reads as much as in production: over the
# 200,000-request cap it samples stored blocks.
#   bench/ab_analysis.sh [SECONDS]
# Prints one line a run: wall-clock spans/s and spans per server CPU-second.
every=${1:-5}
run() { # interval label seed
	d=$(mktemp -d)
	taskset -c 0 build/hotpath serve --listen 127.0.0.1:14991 --data $d --threads 2 \
		--analysis-interval $1 2>/dev/null &
	pid=$!
	sleep 0.7
	taskset -c 1 build/bench/bench_ingest --target http://127.0.0.1:14991 --spans 2000000 --hours 6 \
		--conns 8 --seed 9$3 >/dev/null
	a=$(awk '{print $14+$15}' /proc/$pid/stat)
	r=$(taskset -c 1 build/bench/bench_ingest --target http://127.0.0.1:14991 --spans 1000000 --hours 1 \
		--conns 8 --seed $3 | awk '$1=="spans_per_second"{print $2}')
	b=$(awk '{print $14+$15}' /proc/$pid/stat)
	kill -TERM $pid; wait $pid
	echo "$2 wall=$r cpu_rate=$((1000000 * 100 / (b - a)))"
	rm -rf $d
}
for i in 1 2 3; do
	run 0 off $i
	run "$every" "every_${every}s" $i
done
