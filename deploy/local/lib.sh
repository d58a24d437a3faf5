# Shared by the start|stop scripts here; sourced, not run. The sourcing
# script defines log, pidfile and `owned_pid PID` (true when PID is the
# process it started, judged by its command line).

# running: the pid file names a live process of ours.
running() {
	[ -f "$pidfile" ] || return 1
	local pid
	pid="$(cat "$pidfile")"
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
	owned_pid "$pid"
}

# alive: the process just started (pid file) has not exited. While starting,
# its command line may still be the forking shell's until setsid execs the
# server, so ownership is not judged here: this run wrote the pid file.
alive() {
	[ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
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
