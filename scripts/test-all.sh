#!/usr/bin/env bash
# npm run test:all: every test tier in turn (README, "Develop and test"), with real Keystone +
# Glance up once for all of them (scripts/openstack/with-openstack.sh starts them when needed,
# and stops them after). Runs every tier even when one fails, prints each tier's result and
# time, and exits 1 when any failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ -z "${TEST_ALL_WITH_OPENSTACK:-}" ]; then
  TEST_ALL_WITH_OPENSTACK=1 exec bash scripts/openstack/with-openstack.sh bash "${BASH_SOURCE[0]}" "$@"
fi

# Every test runs: a suite that finds its services or tools missing (Keystone + Glance, promtool,
# Prometheus) fails, as in CI, instead of reporting itself NOT RUN.
export CI="${CI:-true}"
vitest=node_modules/.bin/vitest
tiers=(
  "npm test|npm test"
  "test:process|$vitest run --project process"
  "test:pack|$vitest run --project pack"
  "test:openstack|$vitest run --project openstack"
)
summary=()
failed=0
for tier in "${tiers[@]}"; do
  name=${tier%%|*}
  cmd=${tier#*|}
  echo "=== $name: $cmd"
  start=$SECONDS
  if $cmd; then result=passed; else result=FAILED; failed=1; fi
  summary+=("$(printf '%-15s %-6s %4d s' "$name" "$result" $((SECONDS - start)))")
done
echo "=== test:all"
printf '  %s\n' "${summary[@]}"
exit "$failed"
