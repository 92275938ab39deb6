#!/bin/sh
# run.sh - runs hotpath's test programs and scripts, all speaking TAP, and
# ends with one line "N passed, N failed" (", N skipped" when tests skipped
# themselves: "ok N - name # SKIP reason", e.g. for want of the outside data
# in ../shared, which a clone of the project alone does not have).
#
#   tests/run.sh --build DIR [--san DIR] [--only unit|e2e|browser]
#
# unit:    DIR/tests/test_*          (C programs, from tests/unit/)
#          SAN/tests/test_*          (the same under the sanitizers)
# e2e:     tests/e2e/*.test.mjs      (node, against a real hotpath serve)
# browser: tests/browser/*.test.mjs  (node + playwright-core + chromium)
set -u
build=build san="" only=""
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--san) san=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	*) echo "usage: $0 --build DIR [--san DIR] [--only unit|e2e|browser]" >&2; exit 2 ;;
	esac
done
export HOTPATH_BIN="$PWD/$build/hotpath"
export HOTPATH_SHARED="${HOTPATH_SHARED:-$PWD/../shared}"

passed=0 failed=0 skipped=0 failed_names=""
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run_one() { # name, command...
	name=$1; shift
	"$@" >"$log" 2>&1
	rc=$?
	s=$(grep -c '^ok .*# SKIP' "$log")
	p=$(($(grep -c '^ok ' "$log") - s))
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$f" -gt 0 ]; then
		failed_names="$failed_names $name"
		printf '%-40s FAIL (%d ok, %d not ok, exit %d)\n' "$name" "$p" "$f" "$rc"
		grep -v '^ok ' "$log" | tail -n 40 | sed 's/^/    /'
	elif [ "$s" -gt 0 ]; then
		printf '%-40s ok (%d, %d skipped)\n' "$name" "$p" "$s"
		grep '^ok .*# SKIP' "$log" | sed 's/^/    /'
	else
		printf '%-40s ok (%d)\n' "$name" "$p"
	fi
}

want() { [ -z "$only" ] || [ "$only" = "$1" ]; }

if want unit; then
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
	done
	if [ -n "$san" ]; then
		for t in "$san"/tests/test_*; do
			[ -x "$t" ] && run_one "asan+ubsan/$(basename "$t")" "$t"
		done
	fi
fi
for kind in e2e browser; do
	want $kind || continue
	for t in tests/$kind/*.test.mjs; do
		[ -f "$t" ] && run_one "$kind/$(basename "$t" .test.mjs)" \
			node --test --test-reporter=tap --test-timeout=300000 "$t"
	done
done

# The API tests again against the ClickHouse store (a private clickhouse-server
# per test file, tests/e2e/lib/clickhouse.mjs), when it is installed.
ch_tests="analytics flamegraph slow slow_aggregates recommendations query_examples requests_model otel_sdk bad_input
backpressure durability media_types slo_exact notify_durable resources profiles"
if want e2e; then
	if [ -x /usr/sbin/clickhouse-server ] || [ -n "${HOTPATH_CLICKHOUSE_SERVER:-}" ]; then
		for n in $ch_tests; do
			run_one "e2e-clickhouse/$n" env HOTPATH_STORE=clickhouse \
				node --test --test-reporter=tap --test-timeout=300000 "tests/e2e/$n.test.mjs"
		done
	else
		echo "e2e-clickhouse                           skipped (no clickhouse-server)"
	fi
fi

[ -n "$failed_names" ] && echo "failed:$failed_names"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
