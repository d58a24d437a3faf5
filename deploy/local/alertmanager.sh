#!/usr/bin/env bash
# Builds the real Prometheus Alertmanager and amtool that quell's integration
# tests use as clients, and prints alertmanager's path on stdout (the value of
# QUELL_TEST_ALERTMANAGER; amtool lies beside it). The build is cached and
# reused; it needs Go and network to the Go module proxy the first time only.
#
#   QUELL_TEST_ALERTMANAGER="$(deploy/local/alertmanager.sh)"
#
# Environment:
#   QUELL_ALERTMANAGER_VERSION  module version (default v0.31.1: later versions'
#                               modules lack their web assets and do not build)
#   QUELL_ALERTMANAGER_BIN      folder the binary goes in
#                               (default ${XDG_CACHE_HOME:-$HOME/.cache}/quell/alertmanager/bin)
set -euo pipefail

version="${QUELL_ALERTMANAGER_VERSION:-v0.31.1}"
bindir="${QUELL_ALERTMANAGER_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/quell/alertmanager/bin}"
mod="github.com/prometheus/alertmanager"
bin="$bindir/alertmanager"

log() { echo "alertmanager.sh: $*" >&2; }

# built tells whether $1 is an alertmanager built from $version: go install
# leaves the binary's own --version empty, but Go records the module version.
built() {
	[ -x "$1" ] && go version -m "$1" 2>/dev/null |
		grep -qE "^[[:space:]]+mod[[:space:]]+github.com/prometheus/alertmanager[[:space:]]+$version([[:space:]]|$)"
}

if ! command -v go >/dev/null; then
	log "go not found: install Go (the version in quell's go.mod) and put it on PATH"
	exit 1
fi

if built "$bin" && built "$bindir/amtool"; then
	log "reusing $bin and amtool (alertmanager $version)"
	echo "$bin"
	exit 0
fi

mkdir -p "$bindir"
# Build into a fresh folder and move into place: an interrupted build or a
# concurrent run never leaves a half-written binary at $bin.
work="$(mktemp -d "$bindir/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "building alertmanager $version into $bindir (once; later runs reuse it)"
# Outside any module and workspace, with no inherited flags: the build is that
# of the pinned module alone, whatever folder this runs from.
if ! (cd "$work" && GOBIN="$work" GOWORK=off GOFLAGS=-buildvcs=false \
	go install "$mod/cmd/alertmanager@$version" "$mod/cmd/amtool@$version") >"$work/build.log" 2>&1; then
	log "go install $mod/cmd/{alertmanager,amtool}@$version failed; its output:"
	tail -n 30 "$work/build.log" >&2
	log "check the network to the Go module proxy ($(go env GOPROXY)) and QUELL_ALERTMANAGER_VERSION, then run again"
	exit 1
fi
for b in alertmanager amtool; do
	if ! built "$work/$b"; then
		log "go install finished but $work/$b is not from alertmanager $version; see $work/build.log"
		trap - EXIT
		exit 1
	fi
done
mv -f "$work/amtool" "$bindir/amtool"
mv -f "$work/alertmanager" "$bin"
log "built $bin and $bindir/amtool"
echo "$bin"
