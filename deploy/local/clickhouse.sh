#!/usr/bin/env bash
# Starts a ClickHouse server (Debian's 18.16 package) on loopback for quell's
# development and tests, with its own config and data under one folder.
#
#   deploy/local/clickhouse.sh start   # prints the native DSN on stdout
#   deploy/local/clickhouse.sh stop    # stops the server this script started
#
# Environment:
#   QUELL_CLICKHOUSE_DIR   data, config, logs and pid file
#                          (default ${XDG_CACHE_HOME:-$HOME/.cache}/quell/clickhouse)
#   QUELL_CLICKHOUSE_PORT  native protocol port (default 9000)
#   QUELL_CLICKHOUSE_WAIT  seconds to wait for the server to answer (default 60)
#   QUELL_CLICKHOUSE_CLUSTER  NAME=HOST:PORT,HOST:PORT...: declare a cluster of
#                          those servers, one shard each (remote_servers), for
#                          quell migrate --cluster; HOST:PORT|HOST:PORT is one
#                          shard of two replicas
#   QUELL_CLICKHOUSE_ZOOKEEPER  HOST:PORT of the keeper (deploy/local/zookeeper.sh)
#                          for replicated tables and ON CLUSTER DDL
#   QUELL_CLICKHOUSE_MACROS  SHARD/REPLICA: this server's {shard} and {replica}
#   QUELL_CLICKHOUSE_INTERSERVER_PORT  where replicas fetch parts from this
#                          server (default 9009)
set -euo pipefail

dir="${QUELL_CLICKHOUSE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/quell/clickhouse}"
port="${QUELL_CLICKHOUSE_PORT:-9000}"
wait_s="${QUELL_CLICKHOUSE_WAIT:-60}"
pidfile="$dir/clickhouse.pid"
dsn="clickhouse://127.0.0.1:$port/default"

log() { echo "clickhouse.sh: $*" >&2; }
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

install_server() {
	if command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null; then
		return
	fi
	local sudo=""
	if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
	log "installing clickhouse-server and clickhouse-client from Debian's packages"
	$sudo apt-get update >&2
	# The package's own service would take port 9000 with /etc/clickhouse-server:
	# a policy-rc.d that denies starts keeps it down during the install (Docker
	# images ship one already; leave theirs alone).
	local policy=/usr/sbin/policy-rc.d ours=""
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
		$sudo chmod +x "$policy"
		ours=1
	fi
	local rc=0
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y clickhouse-server clickhouse-client >&2 || rc=$?
	if [ -n "$ours" ]; then $sudo rm -f "$policy"; fi
	if [ "$rc" != 0 ]; then
		log "apt-get install failed (exit $rc); check the apt output above"
		exit "$rc"
	fi
}

# remote_servers: the cluster QUELL_CLICKHOUSE_CLUSTER names, if any.
remote_servers() {
	[ -n "${QUELL_CLICKHOUSE_CLUSTER:-}" ] || return 0
	local name="${QUELL_CLICKHOUSE_CLUSTER%%=*}" shards="${QUELL_CLICKHOUSE_CLUSTER#*=}" s r
	echo "    <remote_servers><$name>"
	for s in ${shards//,/ }; do
		# With replicas, a Distributed table writes to one of them and
		# replication copies to the others.
		local internal=false
		if [ -n "${QUELL_CLICKHOUSE_ZOOKEEPER:-}" ]; then internal=true; fi
		echo -n "        <shard><internal_replication>$internal</internal_replication>"
		for r in ${s//|/ }; do
			echo -n "<replica><host>${r%:*}</host><port>${r##*:}</port></replica>"
		done
		echo "</shard>"
	done
	echo "    </$name></remote_servers>"
}

# keeper: the keeper and this server's macros, if any.
keeper() {
	[ -n "${QUELL_CLICKHOUSE_ZOOKEEPER:-}" ] || return 0
	local zk="$QUELL_CLICKHOUSE_ZOOKEEPER" m="${QUELL_CLICKHOUSE_MACROS:-1/$port}"
	echo "    <zookeeper><node><host>${zk%:*}</host><port>${zk##*:}</port></node></zookeeper>"
	echo "    <macros><shard>${m%%/*}</shard><replica>${m#*/}</replica></macros>"
	echo "    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>"
	echo "    <interserver_http_host>127.0.0.1</interserver_http_host>"
	echo "    <interserver_http_port>${QUELL_CLICKHOUSE_INTERSERVER_PORT:-9009}</interserver_http_port>"
}

write_config() {
	mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas" "$dir/log"
	cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$dir/log/server.log</log>
        <errorlog>$dir/log/server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$port</tcp_port>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
    <timezone>UTC</timezone>
$(remote_servers)
$(keeper)
</yandex>
EOF
	cat >"$dir/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval><duration>3600</duration><queries>0</queries><errors>0</errors>
                <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
        </default>
    </quotas>
</yandex>
EOF
}

# owned_pid PID: PID is the process this script started (see lib.sh).
owned_pid() {
	tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$dir/config.xml"
}

# ready: the server answers a query.
ready() {
	clickhouse-client --host 127.0.0.1 --port "$port" --query 'SELECT 1' >/dev/null 2>&1
}

fail_start() {
	log "$1; the last lines of its logs:"
	tail -n 20 "$dir/log/stdout.log" "$dir/log/server.err.log" >&2 2>/dev/null || true
	exit 1
}

start() {
	install_server
	if running; then
		if ready; then
			log "already running (pid $(cat "$pidfile"))"
			echo "$dsn"
			return
		fi
	else
		write_config
		if ready; then
			log "port $port already answers ClickHouse queries, but not from a server this script started; stop it or set QUELL_CLICKHOUSE_PORT"
			exit 1
		fi
		log "starting on 127.0.0.1:$port, data in $dir"
		# setsid: the server outlives the shell that started it.
		setsid clickhouse-server --config-file="$dir/config.xml" \
			>"$dir/log/stdout.log" 2>&1 </dev/null &
		echo $! >"$pidfile"
	fi
	await_start server "$dsn"
}

stop() { stop_started server; }

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
