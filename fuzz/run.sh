#!/bin/sh
# run.sh - run every libFuzzer binary in a directory for a while.
#
#   fuzz/run.sh DIR SECONDS
#
# Each executable DIR/NAME runs for SECONDS on a scratch copy of its seed
# corpus fuzz/corpus/NAME/ (so new inputs do not land in the repository).
# Crash inputs are kept in fuzz/crashes/NAME/.  Exits non-zero if any target
# crashes, leaks, times out or runs out of memory.
set -u
dir=${1:?usage: fuzz/run.sh DIR SECONDS}
secs=${2:-20}
here=$(cd "$(dirname "$0")" && pwd)
failed=""
ran=0

for bin in "$dir"/*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=$(basename "$bin")
	work=$(mktemp -d)
	if [ -d "$here/corpus/$name" ]; then
		cp -R "$here/corpus/$name/." "$work/"
	else
		echo "$name: no seed corpus in fuzz/corpus/$name/, starting empty" >&2
	fi
	mkdir -p "$here/crashes/$name"
	echo "== $name: ${secs}s"
	if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$here/crashes/$name/" "$work" >"$work.log" 2>&1; then
		grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^Done|DONE +cov' "$work.log" | sed 's/^/   /'
	else
		tail -n 40 "$work.log"
		failed="$failed $name"
	fi
	rmdir "$here/crashes/$name" 2>/dev/null
	rm -rf "$work" "$work.log"
	ran=$((ran + 1))
done

rmdir "$here/crashes" 2>/dev/null
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed (inputs in fuzz/crashes/)"
	exit 1
fi
echo "fuzz: $ran target(s) ran ${secs}s each without a crash"
