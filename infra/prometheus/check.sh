#!/usr/bin/env bash
# Checks prometheus.yml (and the alerts.yml it loads) with promtool and runs the rule tests in alerts.test.yml.
# promtool comes from the PATH, else from Debian's `prometheus` package, downloaded with apt-get (about 19 MB)
# and unpacked into $STACK_HOME/promtool (default infra/.local/promtool): nothing is installed, no service runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
promtool=$(command -v promtool || true)
if [ -z "$promtool" ]; then
  dir="${STACK_HOME:-$here/../.local}/promtool"
  promtool="$dir/usr/bin/promtool"
  if [ ! -x "$promtool" ]; then
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
      echo "promtool not found: put Prometheus' promtool on the PATH (https://prometheus.io/download/)" >&2
      exit 1
    fi
    mkdir -p "$dir"
    (cd "$dir" && apt-get download prometheus >/dev/null 2>&1 &&
      dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool && rm -f prometheus_*.deb)
  fi
fi
"$promtool" check config "$here/prometheus.yml"
"$promtool" test rules "$here/alerts.test.yml"
