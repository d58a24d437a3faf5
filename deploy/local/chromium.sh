#!/usr/bin/env bash
# Prints the path of Chromium, installing Debian's package first when it is
# missing (the console's browser test drives it headless: QUELL_TEST_CHROMIUM).
#
#   QUELL_TEST_CHROMIUM="$(deploy/local/chromium.sh)"
set -euo pipefail

log() { echo "chromium.sh: $*" >&2; }

if ! command -v chromium >/dev/null; then
	command -v apt-get >/dev/null || { log "chromium not found and no apt-get: install Chromium"; exit 1; }
	log "installing Debian's chromium"
	if ! apt-get install -y -q chromium >/dev/null 2>&1; then
		apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null
	fi
fi
log "using $(chromium --version 2>/dev/null)"
command -v chromium
