#!/usr/bin/env bash
# Starts one Apache Kafka broker (KRaft, a single combined broker+controller
# node) on loopback for quell's development and tests. Its jars come from
# Maven Central through Maven and are cached between runs; nothing but Java 17+,
# Maven and network to Maven Central is assumed.
#
#   deploy/local/kafka.sh start   # prints the bootstrap address on stdout
#   deploy/local/kafka.sh stop    # stops the broker this script started
#   deploy/local/kafka.sh reset   # stops it, deletes its topics and data, starts it afresh
#
# Environment:
#   QUELL_KAFKA_VERSION  Kafka release (default 4.0.0: the newest that kafka-go's CI runs against)
#   QUELL_KAFKA_CACHE    jars and Maven's repository
#                        (default ${XDG_CACHE_HOME:-$HOME/.cache}/quell/kafka)
#   QUELL_KAFKA_DIR      data, config, logs and pid file (default $QUELL_KAFKA_CACHE/run)
#   QUELL_KAFKA_ADDR     client listener, host:port (default 127.0.0.1:9092)
#   QUELL_KAFKA_CONTROLLER_PORT  KRaft controller port (default: client port + 1)
#   QUELL_KAFKA_HEAP     JVM heap (default 1g, as Kafka's own start script: at 512m
#                        the broker spent two thirds of its CPU collecting garbage
#                        under quell's sustained split-mode bench)
#   QUELL_KAFKA_WAIT     seconds to wait for the broker to be ready (default 90)
set -euo pipefail

version="${QUELL_KAFKA_VERSION:-4.0.0}"
# Kafka 4.0 logs through SLF4J 1.7 and manages levels with log4j2: this is the
# log4j2 release its own distribution ships.
log4j_version="2.24.3"
cache="${QUELL_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quell/kafka}"
dir="${QUELL_KAFKA_DIR:-$cache/run}"
addr="${QUELL_KAFKA_ADDR:-127.0.0.1:9092}"
host="${addr%:*}"
port="${addr##*:}"
cport="${QUELL_KAFKA_CONTROLLER_PORT:-$((port + 1))}"
heap="${QUELL_KAFKA_HEAP:-1g}"
wait_s="${QUELL_KAFKA_WAIT:-90}"
libs="$cache/$version/libs"
pidfile="$dir/kafka.pid"
props="$dir/server.properties"
jvm=(java -Xms128m -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true
	-Dlog4j2.configurationFile="$dir/log4j2.xml" -Dkafka.logs.dir="$dir/logs" -cp "$libs/*")

log() { echo "kafka.sh: $*" >&2; }
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# fetch puts the broker's jars in $libs, once per version.
fetch() {
	fetch_jars "$libs" "$cache/m2" "Kafka $version" "\
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$log4j_version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$log4j_version</version></dependency>"
}

write_config() {
	mkdir -p "$dir/data" "$dir/logs"
	cat >"$props" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$host:$cport
listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$cport
advertised.listeners=PLAINTEXT://$host:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
# One node: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer offsets partitions than the default 50: the first consumer group
# creates them all, and on a small machine that is seconds of waiting.
offsets.topic.num.partitions=8
# Groups form at once instead of waiting 3s for more members: tests join often.
group.initial.rebalance.delay.ms=0
# quell creates its topics with deliberate partition counts; a typo in a topic
# name must fail instead of creating a stray topic.
auto.create.topics.enable=false
EOF
	cat >"$dir/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration>
  <Appenders>
    <RollingFile name="server" fileName="$dir/logs/server.log" filePattern="$dir/logs/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <SizeBasedTriggeringPolicy size="50MB"/>
      <DefaultRolloverStrategy max="2"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="info"><AppenderRef ref="server"/></Root>
    <Logger name="state.change.logger" level="warn"/>
  </Loggers>
</Configuration>
EOF
}

# format prepares the data folder once; later starts reuse its topics.
format() {
	if [ -f "$dir/data/meta.properties" ]; then
		return
	fi
	# A cluster id is 16 random bytes in URL-safe base64 without padding. It
	# may start with "-": given as --cluster-id=ID, it is never taken for an option.
	local id
	id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
	log "formatting $dir/data (cluster id $id)"
	if ! "${jvm[@]}" kafka.tools.StorageTool format --cluster-id="$id" -c "$props" >"$dir/logs/format.log" 2>&1; then
		log "formatting the data folder failed; last lines of $dir/logs/format.log:"
		tail -n 20 "$dir/logs/format.log" >&2
		exit 1
	fi
}

# owned_pid PID: PID is the process this script started (see lib.sh).
owned_pid() {
	tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$props"
}

# ready: the broker logs "Kafka Server started" once its listeners serve
# requests; the port check guards against a line left from an earlier run.
ready() {
	listening "$port" && grep -q "Kafka Server started" "$dir/logs/server.log" 2>/dev/null
}

fail_start() {
	log "$1; the errors in $dir/logs/server.log:"
	grep -E ' (ERROR|FATAL) |^Caused by' "$dir/logs/server.log" 2>/dev/null | tail -n 10 >&2 || true
	log "and the last lines of its logs:"
	tail -n 20 "$dir/logs/stdout.log" "$dir/logs/server.log" >&2 2>/dev/null || true
	exit 1
}

start() {
	need java "install a Java 17+ runtime (Debian: apt-get install -y openjdk-17-jre-headless)"
	if started_already "$addr"; then
		return
	fi
	for p in "$port" "$cport"; do
		if listening "$p"; then
			log "port $p on $host is taken by a process this script did not start; stop it or set QUELL_KAFKA_ADDR / QUELL_KAFKA_CONTROLLER_PORT"
			exit 1
		fi
	done
	fetch
	write_config
	format
	# A new log per start, so readiness and failures read this run's lines.
	rm -f "$dir/logs/server.log"*
	log "starting Kafka $version on $addr (controller $host:$cport), data in $dir/data"
	# setsid: the broker outlives the shell that started it.
	setsid "${jvm[@]}" kafka.Kafka "$props" >"$dir/logs/stdout.log" 2>&1 </dev/null &
	echo $! >"$pidfile"
	await_start broker "$addr"
}

stop() { stop_started broker; }

# reset: an empty broker, for benches that compare runs (the topics of
# earlier runs cost the broker time: its log cleaner, its metadata).
reset() {
	stop
	log "deleting $dir/data"
	rm -rf "$dir/data"
	start
}

case "${1:-}" in
start) start ;;
stop) stop ;;
reset) reset ;;
*)
	echo "usage: $0 start|stop|reset" >&2
	exit 2
	;;
esac
