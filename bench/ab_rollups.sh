#!/bin/sh
# ab_rollups.sh - A/B of ingest cost: a build without rollups (BASE, e.g. a
# worktree of the commit before them) against this one, runs alternating.
#   bench/ab_rollups.sh BASE_BINARY
# Prints one line a run: wall-clock spans/s and spans per server CPU-second.
run() { # bin label seed
	d=$(mktemp -d)
	taskset -c 0 $1 serve --listen 127.0.0.1:14990 --data $d --threads 2 2>/dev/null &
	pid=$!
	sleep 0.7
	a=$(awk '{print $14+$15}' /proc/$pid/stat)
	r=$(taskset -c 1 build/bench/bench_ingest --target http://127.0.0.1:14990 --spans 500000 --conns 8 --seed $3 | awk '$1=="spans_per_second"{print $2}')
	b=$(awk '{print $14+$15}' /proc/$pid/stat)
	kill -TERM $pid; wait $pid
	echo "$2 wall=$r cpu_rate=$((500000*100/(b-a)))"
	rm -rf $d
}
for i in 1 2 3 4; do
	run "$1" base $i
	run build/hotpath rollups $i
done
