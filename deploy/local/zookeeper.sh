#!/usr/bin/env bash
# Starts one Apache ZooKeeper server (standalone) on loopback: the keeper a
# ClickHouse cluster needs for replicated tables and ON CLUSTER DDL, for
# quell's development and tests. Its jars come from Maven Central through
# Maven and are cached between runs; nothing but Java 17+, Maven and network
# to Maven Central is assumed.
#
#   deploy/local/zookeeper.sh start   # prints host:port on stdout
#   deploy/local/zookeeper.sh stop    # stops the server this script started
#
# Environment:
#   QUELL_ZOOKEEPER_VERSION  ZooKeeper release (default 3.8.4)
#   QUELL_ZOOKEEPER_CACHE    jars and Maven's repository
#                            (default ${XDG_CACHE_HOME:-$HOME/.cache}/quell/zookeeper)
#   QUELL_ZOOKEEPER_DIR      data, logs and pid file (default $QUELL_ZOOKEEPER_CACHE/run)
#   QUELL_ZOOKEEPER_ADDR     client address, host:port (default 127.0.0.1:2181)
#   QUELL_ZOOKEEPER_WAIT     seconds to wait for it to serve (default 60)
set -euo pipefail

version="${QUELL_ZOOKEEPER_VERSION:-3.8.4}"
cache="${QUELL_ZOOKEEPER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quell/zookeeper}"
dir="${QUELL_ZOOKEEPER_DIR:-$cache/run}"
addr="${QUELL_ZOOKEEPER_ADDR:-127.0.0.1:2181}"
host="${addr%:*}"
port="${addr##*:}"
wait_s="${QUELL_ZOOKEEPER_WAIT:-60}"
libs="$cache/$version/libs"
pidfile="$dir/zookeeper.pid"
conf="$dir/zoo.cfg"

log() { echo "zookeeper.sh: $*" >&2; }
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# fetch puts the server's jars in $libs, once per version, with two the
# server needs that its POM leaves out and its distribution ships.
fetch() {
	fetch_jars "$libs" "$cache/m2" "ZooKeeper $version" "\
    <dependency><groupId>org.apache.zookeeper</groupId><artifactId>zookeeper</artifactId><version>$version</version></dependency>
    <dependency><groupId>io.dropwizard.metrics</groupId><artifactId>metrics-core</artifactId><version>4.1.12.1</version></dependency>
    <dependency><groupId>org.xerial.snappy</groupId><artifactId>snappy-java</artifactId><version>1.1.10.5</version></dependency>"
}

write_config() {
	mkdir -p "$dir/data" "$dir/logs"
	cat >"$conf" <<EOF
tickTime=2000
dataDir=$dir/data
clientPortAddress=$host
clientPort=$port
# Readiness asks "srvr".
4lw.commands.whitelist=srvr
admin.enableServer=false
EOF
}

# owned_pid PID: PID is the process this script started (see lib.sh).
owned_pid() {
	tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$conf"
}

# ready: "srvr" names the server's mode once it serves requests (before
# that, or after its start failed, it says it is not serving).
ready() {
	(exec 3<>"/dev/tcp/$host/$port" && printf srvr >&3 && timeout 2 cat <&3) 2>/dev/null | grep -q '^Mode: '
}

fail_start() {
	log "$1; the last lines of $dir/logs/stdout.log:"
	tail -n 20 "$dir/logs/stdout.log" >&2 || true
	exit 1
}

start() {
	need java "install a Java 17+ runtime (Debian: apt-get install -y openjdk-17-jre-headless)"
	if started_already "$addr"; then
		return
	fi
	if listening "$port"; then
		log "port $port on $host is taken by a process this script did not start; stop it or set QUELL_ZOOKEEPER_ADDR"
		exit 1
	fi
	fetch
	write_config
	log "starting ZooKeeper $version on $addr, data in $dir/data"
	setsid java -Xms32m -Xmx256m -Djava.awt.headless=true -Dzookeeper.log.dir="$dir/logs" -cp "$libs/*" \
		org.apache.zookeeper.server.quorum.QuorumPeerMain "$conf" >"$dir/logs/stdout.log" 2>&1 </dev/null &
	echo $! >"$pidfile"
	await_start ZooKeeper "$addr"
}

stop() { stop_started zookeeper; }

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
