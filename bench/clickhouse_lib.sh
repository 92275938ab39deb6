# clickhouse_lib.sh - sourced by the ClickHouse benchmarks: a private
# clickhouse-server on loopback, its data under a scratch directory.
#
#   ports_free NAME PORT...         exit, naming NAME, if something listens
#                                   on one of the PORTs
#   clickhouse_start DIR PORT BIN   start it on PORT (HTTP; PORT+1 native),
#                                   pinned to CPU 1; sets chpid; waits for /ping
#   clickhouse_stop                 stop it, if started
#   hotpath_serve CPUS PORT LOG BIN ARGS...
#                                   start `BIN serve` on 127.0.0.1:PORT with
#                                   ARGS, pinned to CPUS (not pinned if ""),
#                                   its stderr to LOG; sets last; waits for
#                                   /health, or prints LOG and exits
#
# and the figures' helpers: ticks PID (CPU ticks so far), median (of the
# numbers on stdin), field KEY FILE (the value after KEY), per_cpu N TICKS
# (N per CPU-second).

ports_free() {
	name=$1
	shift
	for p in "$@"; do
		rc=0
		curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$p/" 2>/dev/null || rc=$?
		if [ "$rc" -ne 7 ]; then # 7: nothing listens there
			echo "$name: port $p is taken (BENCH_PORT, BENCH_CH_PORT choose others)" >&2
			exit 1
		fi
	done
}

clickhouse_start() {
	mkdir -p "$1/data" "$1/log"
	cat >"$1/users.xml" <<XML
<?xml version="1.0"?>
<yandex><profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default></default></quotas></yandex>
XML
	cat >"$1/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$1/log/server.log</log><errorlog>$1/log/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host><http_port>$2</http_port><tcp_port>$(($2 + 1))</tcp_port>
  <path>$1/data/</path><tmp_path>$1/data/tmp/</tmp_path>
  <user_files_path>$1/data/user_files/</user_files_path>
  <format_schema_path>$1/data/format_schemas/</format_schema_path>
  <users_config>$1/users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
XML
	taskset -c 1 "$3" --config-file="$1/config.xml" >"$1/log/out" 2>&1 &
	chpid=$!
	for _ in $(seq 300); do
		curl -fs "http://127.0.0.1:$2/ping" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

clickhouse_stop() {
	[ -n "$chpid" ] || return 0
	kill -TERM "$chpid" 2>/dev/null
	wait "$chpid" 2>/dev/null
	chpid=""
}

hotpath_serve() {
	pin="" sport=$2 slog=$3 sbin=$4
	[ -n "$1" ] && pin="taskset -c $1"
	shift 4
	$pin "$sbin" serve --listen "127.0.0.1:$sport" --threads 2 --analysis-interval 0 "$@" 2>>"$slog" &
	last=$!
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$sport/health" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "server did not start:" >&2
	cat "$slog" >&2
	exit 1
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
per_cpu() { awk -v s="$1" -v t="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN {if (t > 0) printf "%.0f\n", s / (t / hz); else print "-"}'; }
