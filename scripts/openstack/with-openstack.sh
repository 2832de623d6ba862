#!/usr/bin/env bash
# Runs one command with real Keystone + Glance up on 127.0.0.1, and returns its exit code:
#   bash scripts/openstack/with-openstack.sh npx vitest run test/openstack
# Installs the packages when missing, starts the services, runs the command, stops them. When
# the services were already running from the same state dir, they are used and left running.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export OPENSTACK_SUITE_DIR="$(realpath -m "${OPENSTACK_SUITE_DIR:-$repo/.tmp/openstack}")"

if [ "$#" -eq 0 ]; then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi

bash "$here/install.sh" || exit $?

was_running=true
for name in keystone glance; do
  pidfile="$OPENSTACK_SUITE_DIR/run/$name.pid"
  if ! { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }; then was_running=false; fi
done

if ! $was_running; then
  trap 'bash "$here/stop.sh"' EXIT
fi
bash "$here/start.sh" || exit $?

"$@"
