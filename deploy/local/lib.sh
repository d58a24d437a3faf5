# Shared by the start|stop scripts here; sourced, not run. The sourcing
# script defines log, pidfile and `owned_pid PID` (true when PID is the
# process it started, judged by its command line).

# need CMD HOW: fails, saying how to get it, unless CMD is installed.
need() {
	if ! command -v "$1" >/dev/null; then
		log "$1 not found: $2"
		exit 1
	fi
}

# fetch_jars LIBS M2 WHAT DEPENDENCIES: puts the jars of the Maven
# DEPENDENCIES (<dependency> elements) and theirs in LIBS, once, through a
# private Maven repository M2 that keeps the cache self-contained.
fetch_jars() {
	local libs="$1" m2="$2" what="$3" deps="$4"
	if [ -f "$libs/.complete" ]; then
		return
	fi
	need mvn "install Maven 3.8+ (Debian: apt-get install -y maven)"
	local work="$libs.fetch"
	rm -rf "$work"
	mkdir -p "$work"
	cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>quell.local</groupId>
  <artifactId>fetch</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$deps
  </dependencies>
</project>
EOF
	log "fetching $what jars from Maven Central into $libs (once; later starts reuse them)"
	# The plugin version is pinned so a fetch does the same on every machine.
	if ! mvn -B -q -f "$work/pom.xml" -Dmaven.repo.local="$m2" \
		org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$work/libs" >"$work/mvn.log" 2>&1; then
		log "Maven could not fetch $what; last lines of $work/mvn.log:"
		tail -n 30 "$work/mvn.log" >&2
		log "check the network to Maven Central and the version asked for, then run start again"
		exit 1
	fi
	touch "$work/libs/.complete"
	rm -rf "$libs"
	mv "$work/libs" "$libs"
	rm -rf "$work"
}

# running: the pid file names a live process of ours.
running() {
	[ -f "$pidfile" ] || return 1
	local pid
	pid="$(cat "$pidfile")"
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
	owned_pid "$pid"
}

# started_already VALUE: when a server this script started still runs,
# says so and prints VALUE (its address), for the caller to return.
started_already() {
	running || return 1
	log "already running (pid $(cat "$pidfile"), logs in $dir/logs)"
	echo "$1"
}

# listening PORT: something answers on $host:PORT.
listening() { (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; }

# alive: the process just started (pid file) has not exited. While starting,
# its command line may still be the forking shell's until setsid execs the
# server, so ownership is not judged here: this run wrote the pid file.
alive() {
	[ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# await_start WHAT VALUE: waits up to wait_s seconds for the process just
# started to be ready, then prints VALUE (its address). The sourcing script
# defines `ready` (true once it serves), `stop`, and `fail_start MESSAGE`
# (says why with the last lines of its logs, and exits 1).
await_start() {
	local i
	for ((i = 0; i < wait_s * 4; i++)); do
		if ready; then
			log "ready (pid $(cat "$pidfile"))"
			echo "$2"
			return
		fi
		if ! alive; then
			rm -f "$pidfile"
			fail_start "$1 exited while starting"
		fi
		sleep 0.25
	done
	stop
	fail_start "$1 was not ready on $2 within ${wait_s}s (is the machine slow? raise the script's _WAIT variable)"
}

# stop_started WHAT: stops the process the pid file names, only if it is
# ours: SIGTERM, up to 30 s to exit, then SIGKILL. Safe when none runs.
stop_started() {
	if ! running; then
		rm -f "$pidfile"
		log "not running"
		return
	fi
	local pid i
	pid="$(cat "$pidfile")"
	kill -TERM "$pid"
	for ((i = 0; i < 120; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$pidfile"
			log "stopped (pid $pid)"
			return
		fi
		sleep 0.25
	done
	log "$1 (pid $pid) ignored SIGTERM for 30s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$pidfile"
}
