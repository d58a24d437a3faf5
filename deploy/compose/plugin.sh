#!/usr/bin/env bash
# Builds quell's Grafana datasource plugin into deploy/compose/plugins/quell,
# which compose.yaml mounts as Grafana's plugins folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/deploy/compose/plugins/quell"
mkdir -p "$out"
(cd "$root" && CGO_ENABLED=0 go build -o "$out/gpx_quell_linux_amd64" ./dashboards/plugin)
cp "$root/dashboards/plugin/plugin.json" "$root/dashboards/plugin/module.js" "$out/"
echo "$out"
