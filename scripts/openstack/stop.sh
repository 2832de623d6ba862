#!/usr/bin/env bash
# Stops the Keystone + Glance started by start.sh, by the PIDs it recorded (never by name).
#
#   OPENSTACK_SUITE_DIR   state directory (default <repo>/.tmp/openstack)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="${OPENSTACK_SUITE_DIR:-$repo/.tmp/openstack}"

dir="$(realpath -m "$dir")"

# Only numbers we wrote, and only while that process is still the service we started (its
# command line names our state dir), so a recycled PID is never signalled. Both get SIGTERM at
# once (each takes ~2 s to shut down), then SIGKILL after 5 s.
pids=()
for name in glance keystone; do
  pidfile="$dir/run/$name.pid"
  [ -f "$pidfile" ] || continue
  pid="$(cat "$pidfile")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/"; then
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  fi
done
for pid in "${pids[@]}"; do
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "openstack/stop: pid $pid ignored SIGTERM for 5 s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
done
rm -f "$dir/run/glance.pid" "$dir/run/keystone.pid"
echo "openstack/stop: stopped ${#pids[@]} service(s) from $dir" >&2
