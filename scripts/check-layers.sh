#!/bin/sh
# check-layers.sh - the folders of src/ depend downward only (part of
# `make check-style`).
#
#   core < ingest < store, profile < analyze, render < query < advisor, demo, watch < server < cli
#
# A file may include headers of its own folder and of lower layers, and the
# generated protobuf headers.  SQLite is named only under src/store/, and
# no route under src/server/ reads the store's raw spans itself (the query
# layer does).
set -eu
cd "$(dirname "$0")/.."

rank() {
	case $1 in
	core) echo 0 ;;
	ingest) echo 1 ;;
	store | profile) echo 2 ;;
	analyze | render) echo 3 ;;
	query) echo 4 ;;
	advisor | demo | watch) echo 5 ;;
	server) echo 6 ;;
	cli) echo 7 ;;
	*) echo 99 ;;
	esac
}

bad=0
for f in $(find src -name '*.[ch]' | sort); do
	dir=$(echo "$f" | cut -d/ -f2)
	[ "$dir" = main.c ] && continue
	mine=$(rank "$dir")
	for inc in $(sed -n 's/^#include "\([a-z_]*\)\/.*/\1/p' "$f" | sort -u); do
		case $inc in google | opentelemetry | perftools) continue ;; esac
		[ "$inc" = "$dir" ] && continue
		if [ "$(rank "$inc")" -ge "$mine" ]; then
			echo "$f: includes a header of $inc/, which is not below $dir/" >&2
			bad=1
		fi
	done
done

for f in $(grep -rl 'sqlite3' src --include='*.[ch]' | grep -v '^src/store/' || true); do
	echo "$f: names SQLite outside src/store/" >&2
	bad=1
done

for f in $(grep -l 'store_scan' src/server/*.c || true); do
	echo "$f: scans the store itself; read through the query layer (src/query/)" >&2
	bad=1
done

exit $bad
