#!/usr/bin/env bash
# Prints the path of podman, installing Debian's package first when it is
# missing (the image tests build quell's image with it: QUELL_TEST_PODMAN).
#
#   QUELL_TEST_PODMAN="$(deploy/local/podman.sh)"
set -euo pipefail

log() { echo "podman.sh: $*" >&2; }

if ! command -v podman >/dev/null; then
	command -v apt-get >/dev/null || { log "podman not found and no apt-get: install podman"; exit 1; }
	log "installing Debian's podman"
	if ! apt-get install -y -q podman >/dev/null 2>&1; then
		apt-get update -q >/dev/null && apt-get install -y -q podman >/dev/null
	fi
fi
log "using $(podman --version)"
command -v podman
