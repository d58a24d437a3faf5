#!/usr/bin/env bash
# Builds deploy/check (Helm's command line, strict Kubernetes decoding and
# the Compose loader in one tool, in a module of its own) and prints its
# path (the value of QUELL_TEST_DEPLOYCHECK). The build is cached by the
# hash of its sources; it needs Go and the Go module proxy the first time.
#
#   QUELL_TEST_DEPLOYCHECK="$(deploy/local/deploycheck.sh)"
set -euo pipefail

src="$(cd "$(dirname "$0")/../check" && pwd)"
hash="$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/quell/deploycheck"
bin="$dir/check-$hash"

log() { echo "deploycheck.sh: $*" >&2; }

if [ -x "$bin" ]; then
	log "reusing $bin"
	echo "$bin"
	exit 0
fi
mkdir -p "$dir"
log "building deploy/check into $dir (once per change of its sources; a few minutes the first time)"
if ! (cd "$src" && GOWORK=off GOFLAGS=-buildvcs=false go build -o "$bin.tmp" .) >"$dir/build.log" 2>&1; then
	log "go build failed; its output:"
	tail -n 30 "$dir/build.log" >&2
	exit 1
fi
mv -f "$bin.tmp" "$bin"
log "built $bin"
echo "$bin"
