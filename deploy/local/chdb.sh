#!/usr/bin/env bash
# Prepares a current ClickHouse for quell's schema tests without a server:
# chDB, ClickHouse's engine as a Python module (PyPI chdb-core), in a virtual
# environment of its own. Prints the environment's python on stdout (the
# value of QUELL_TEST_CHDB). Installed once, reused after; it needs Python
# 3.9+ and network to PyPI the first time only.
#
#   QUELL_TEST_CHDB="$(deploy/local/chdb.sh)"
#
# Environment:
#   QUELL_CHDB_VERSION  chdb-core release (default 26.9.0: ClickHouse 26.9)
#   QUELL_CHDB_DIR      the virtual environment
#                       (default ${XDG_CACHE_HOME:-$HOME/.cache}/quell/chdb)
set -euo pipefail

version="${QUELL_CHDB_VERSION:-26.9.0}"
dir="${QUELL_CHDB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/quell/chdb}"
py="$dir/bin/python"

log() { echo "chdb.sh: $*" >&2; }

installed() {
	[ -x "$py" ] && "$py" -c "import importlib.metadata as m, sys; sys.exit(m.version('chdb-core') != '$version')" 2>/dev/null
}

if installed; then
	log "reusing $dir (chdb-core $version)"
	echo "$py"
	exit 0
fi
if ! command -v python3 >/dev/null; then
	log "python3 not found: install Python 3.9+ (Debian: apt-get install -y python3 python3-venv)"
	exit 1
fi
log "installing chdb-core $version from PyPI into $dir (once; later runs reuse it)"
rm -rf "$dir"
python3 -m venv "$dir" >&2
if ! "$dir/bin/pip" install -q "chdb-core==$version" >&2; then
	log "pip could not install chdb-core $version; check the network to PyPI and QUELL_CHDB_VERSION"
	exit 1
fi
echo "$py"
