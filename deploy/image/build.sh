#!/usr/bin/env bash
# Builds quell's container image with podman (or docker: CONTAINER_ENGINE):
# the binary built static (CGO off) and laid on an empty root with CA
# certificates and a passwd entry for its non-root user. Prints the tag.
#
#   deploy/image/build.sh [TAG]        # default localhost/quell:dev
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
tag="${1:-localhost/quell:dev}"
engine="${CONTAINER_ENGINE:-podman}"
certs=/etc/ssl/certs/ca-certificates.crt

log() { echo "image: $*" >&2; }

command -v "$engine" >/dev/null || { log "$engine not found: install it (Debian: apt-get install podman)"; exit 1; }
[ -r "$certs" ] || { log "$certs not found: install ca-certificates"; exit 1; }

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/var/lib/quell" "$ctx/rootfs/tmp"
(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$ctx/rootfs/quell" ./cmd/quell)
cp "$certs" "$ctx/rootfs/etc/ssl/certs/"
printf 'root:x:0:0:root:/:/sbin/nologin\nquell:x:65532:65532:quell:/var/lib/quell:/sbin/nologin\n' >"$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nquell:x:65532:\n' >"$ctx/rootfs/etc/group"
cp "$root/deploy/image/Containerfile" "$ctx/Containerfile"
# Docker's format keeps the HEALTHCHECK (the OCI format has none).
"$engine" build --quiet --format docker -f "$ctx/Containerfile" -t "$tag" "$ctx" >&2
log "built $tag"
echo "$tag"
