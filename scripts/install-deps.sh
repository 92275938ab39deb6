#!/bin/sh
# install-deps.sh - install the Debian packages hotpath's build and tests need,
# only those missing, and the pinned npm packages of the end-to-end tests.
set -eu

BUILD_PKGS="build-essential pkg-config libmicrohttpd-dev libsqlite3-dev libprotobuf-c-dev
protobuf-c-compiler zlib1g-dev libzstd-dev libcurl4-openssl-dev libyajl-dev libsodium-dev sqlite3"
TEST_PKGS="clang clang-format libclang-rt-14-dev chromium perl curl postgresql
clickhouse-server clickhouse-client"

missing=""
for p in $BUILD_PKGS $TEST_PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
command -v node >/dev/null 2>&1 || missing="$missing nodejs npm"

if [ -n "$missing" ]; then
	echo "installing:$missing"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -q
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi

# npm packages of the end-to-end and browser tests, pinned by package-lock.json.
dir=$(dirname "$0")/../tests
if [ -f "$dir/package-lock.json" ] &&
	{ [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; }; then
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
fi
exit 0
