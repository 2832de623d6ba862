#!/bin/sh
# Runs a command in a fresh hook context of the simulated unit in $FAKE_JUJU_DIR, the way the
# unit agent runs a hook, an action or a juju-exec command:
#   run-in-context.sh [VAR=value | -u VAR ...] -- <command> [args...]
# 1. waits for and holds the machine lock ($FAKE_JUJU_DIR/machine-lock, flock);
# 2. copies the committed relation data, charm state and ports (state/) into work/, which the
#    hook tools read and write; an action context (JUJU_ACTION_NAME set) gets fresh
#    action/results.json, logs.jsonl and failed (params.json is kept);
# 3. runs the command with cwd = JUJU_CHARM_DIR and ONLY this environment: unit.env, then
#    JUJU_CONTEXT_ID (fresh, unless assigned here), then the VAR=value / -u VAR arguments;
# 4. on exit 0 commits work/ into state/ (one rename per file), otherwise discards it;
# 5. exits with the command's exit code.
set -u
D=${FAKE_JUJU_DIR:-}
if [ -z "$D" ] || [ ! -f "$D/unit.env" ]; then
  echo "run-in-context.sh: FAKE_JUJU_DIR must name a simulated unit (with unit.env)" >&2
  exit 125
fi

ctx= hook= action=
for a do
  case $a in
    --) break ;;
    JUJU_CONTEXT_ID=*) ctx=${a#*=} ;;
    JUJU_HOOK_NAME=*) hook=${a#*=} ;;
    JUJU_ACTION_NAME=*) action=${a#*=} ;;
  esac
done
unit=$(. "$D/unit.env" && printf %s "${JUJU_UNIT_NAME:-}")
[ -n "$action" ] || action=$(. "$D/unit.env" && printf %s "${JUJU_ACTION_NAME:-}")
if [ -z "$ctx" ]; then
  rand=$(od -An -N8 -tu8 /dev/urandom | tr -d ' \n')
  ctx="$unit-${hook:-${action:-run-commands}}-$rand"
fi

# The machine lock: fd 9 stays open until this script exits; the command does not inherit it.
exec 9>>"$D/machine-lock"
flock 9

TX="relations.json charm-state.json opened-ports.json"
rm -rf "$D/work"
mkdir -p "$D/work" "$D/state"
for f in $TX; do
  if [ -f "$D/state/$f" ]; then cp "$D/state/$f" "$D/work/$f"; else printf '{}' > "$D/work/$f"; fi
done
printf '%s\n' "$ctx" > "$D/work/context-id"
if [ -n "$action" ]; then
  mkdir -p "$D/action"
  rm -f "$D/action/logs.jsonl" "$D/action/failed"
  # atomic: a test may still be reading the previous action's results (it reads after our exit)
  printf '{}' > "$D/action/results.json.new" && mv -f "$D/action/results.json.new" "$D/action/results.json"
fi

trap 'rm -rf "$D/work"; exit 143' TERM
trap 'rm -rf "$D/work"; exit 130' INT

env -i /bin/sh -c '
  set -a; . "$1"; set +a
  JUJU_CONTEXT_ID=$2; export JUJU_CONTEXT_ID
  shift 2
  while [ $# -gt 0 ]; do
    case $1 in
      --) shift; break ;;
      -u) unset "$2"; shift 2 ;;
      *=*) export "$1"; shift ;;
      *) echo "run-in-context.sh: expected VAR=value, -u VAR or --, got \"$1\"" >&2; exit 125 ;;
    esac
  done
  [ $# -gt 0 ] || { echo "run-in-context.sh: no command given" >&2; exit 125; }
  cd "${JUJU_CHARM_DIR:?JUJU_CHARM_DIR is not set in unit.env}" || exit 125
  exec "$@"
' run-in-context "$D/unit.env" "$ctx" "$@" 9>&-
rc=$?

if [ "$rc" -eq 0 ]; then
  for f in $TX; do mv -f "$D/work/$f" "$D/state/$f"; done
fi
rm -rf "$D/work"
exit "$rc"
