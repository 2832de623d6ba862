# Sourced by the host stand-ins in ../host-bin after they set $prog. Provides:
#   fake_host_record [extra-json] -- argv...   append the call to $FAKE_HOST_DIR/calls.jsonl
#   fake_host_inject argv...                   obey $FAKE_HOST_DIR/fail/<prog>[.<first-arg>]
#   fake_host_user NAME                        set pw_name pw_uid pw_gid pw_home pw_shell, or fail
# FAKE_HOST_DIR comes from the environment; the per-unit wrappers that createUnit writes (see
# test/support/juju.ts) set it, because the charm runs host programs with a reduced environment.
if [ -z "${FAKE_HOST_DIR:-}" ] || [ ! -d "$FAKE_HOST_DIR" ]; then
  echo "$prog (stand-in): FAKE_HOST_DIR does not name a simulated host" >&2
  exit 127
fi
: "${CHARM_HOST_ROOT:=$FAKE_HOST_DIR/root}"
fake_host_bin=$(cd "$(dirname "$0")" && pwd)

fake_host_record() {
  fhr_extra=$1
  shift 2
  jq -n -c --arg prog "$prog" --arg cwd "$PWD" --argjson extra "$fhr_extra" '
    {prog: $prog, argv: $ARGS.positional, cwd: $cwd,
     env: ($ENV | with_entries(select(.key | IN("HOME", "http_proxy", "https_proxy", "no_proxy",
       "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "JUJU_CONTEXT_ID", "DEBIAN_FRONTEND",
       "OS_CLIENT_CONFIG_FILE", "PIPX_HOME", "PIPX_BIN_DIR"))))} + $extra' \
    --args -- "$@" >> "$FAKE_HOST_DIR/calls.jsonl"
}

# fail/<prog>.<first non-option argument> or fail/<prog>: first line = exit code or "hang",
# the rest goes to stderr.
fake_host_inject() {
  fhi_sub=
  for fhi_a do
    case $fhi_a in -*) ;; */*) break ;; *) fhi_sub=$fhi_a; break ;; esac
  done
  fhi_f=
  if [ -n "$fhi_sub" ] && [ -f "$FAKE_HOST_DIR/fail/$prog.$fhi_sub" ]; then fhi_f=$FAKE_HOST_DIR/fail/$prog.$fhi_sub
  elif [ -f "$FAKE_HOST_DIR/fail/$prog" ]; then fhi_f=$FAKE_HOST_DIR/fail/$prog
  fi
  [ -n "$fhi_f" ] || return 0
  fhi_code=
  { read -r fhi_code || :; } < "$fhi_f"
  tail -n +2 "$fhi_f" >&2
  case $fhi_code in
    hang) exec sleep 2147483647 ;;
    '' | *[!0-9]*) exit 1 ;;
    *) exit "$fhi_code" ;;
  esac
}

# Users come from $FAKE_HOST_DIR/passwd (passwd(5) lines), else root and ubuntu.
fake_host_passwd() {
  if [ -f "$FAKE_HOST_DIR/passwd" ]; then cat "$FAKE_HOST_DIR/passwd"
  else
    printf 'root:x:0:0:root:%s/root:/bin/bash\n' "$CHARM_HOST_ROOT"
    printf 'ubuntu:x:1000:1000:Ubuntu:%s/home/ubuntu:/bin/bash\n' "$CHARM_HOST_ROOT"
  fi
}

fake_host_user() {
  fhu_line=$(fake_host_passwd | awk -F: -v u="$1" '$1 == u || $3 == u { print; exit }')
  [ -n "$fhu_line" ] || return 1
  IFS=: read -r pw_name _ pw_uid pw_gid _ pw_home pw_shell <<EOT
$fhu_line
EOT
}
