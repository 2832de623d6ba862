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
# Each tier's output is also kept in .tmp/test-all/<tier>.log (npm-test.log, test:process.log,
# ...), and a failed tier's failures are printed again at the end: CI shows only the tail of a
# long run, and that tail must say what failed, not only that something did.
logs=.tmp/test-all
rm -rf "$logs" && mkdir -p "$logs"
summary=()
failed_tiers=()
for tier in "${tiers[@]}"; do
  name=${tier%%|*}
  cmd=${tier#*|}
  echo "=== $name: $cmd"
  start=$SECONDS
  if $cmd 2>&1 | tee "$logs/${name// /-}.log"; then result=passed; else result=FAILED; failed_tiers+=("$name"); fi
  summary+=("$(printf '%-15s %-6s %4d s' "$name" "$result" $((SECONDS - start)))")
done
for name in "${failed_tiers[@]}"; do
  log="$logs/${name// /-}.log"
  echo "=== $name FAILED: its failures again (whole output in $log)"
  # vitest's own failure block when it got that far; else (typecheck, lint, build) the last lines.
  plain=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
  if grep -q 'Failed Tests' <<<"$plain"; then
    sed -n '/Failed Tests/,/Test Files/p' <<<"$plain" | head -n 150
  else
    tail -n 60 <<<"$plain"
  fi
done
echo "=== test:all"
printf '  %s\n' "${summary[@]}"
[ "${#failed_tiers[@]}" -eq 0 ]
